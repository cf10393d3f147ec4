import * as tf from "@tensorflow/tfjs-core"
import * as fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { agree, init, modes, run, tensor, use, wasmDataIds } from "./harness.js"

beforeAll(init)

/** A valid NHWC convolution: for "valid" padding the input covers the (dilated) filter. */
const conv = fc
  .record({
    n: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 11 }),
    w: fc.integer({ min: 1, max: 11 }),
    cin: fc.integer({ min: 1, max: 5 }),
    cout: fc.constantFrom(1, 2, 3, 5, 8, 16),
    kh: fc.integer({ min: 1, max: 4 }),
    kw: fc.integer({ min: 1, max: 4 }),
    stride: fc.constantFrom<[number, number] | number>(1, 2, [1, 2], [2, 1], 3),
    pad: fc.constantFrom<"same" | "valid" | number>("same", "valid", 1),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
  })
  .filter((c) => c.pad !== "valid" || (c.h >= c.kh && c.w >= c.kw))
  .filter((c) => typeof c.pad !== "number" || (c.h + 2 * c.pad >= c.kh && c.w + 2 * c.pad >= c.kw))

type Conv = typeof conv extends fc.Arbitrary<infer C> ? C : never

const operands = (c: Conv) => ({
  x: tensor(c.seed, [c.n, c.h, c.w, c.cin]) as tf.Tensor4D,
  f: tensor(c.seed + 1, [c.kh, c.kw, c.cin, c.cout]) as tf.Tensor4D,
})

describe.each(modes)("convolutions (%s)", (mode) => {
  it("Conv2D and its gradients (Conv2DBackpropInput, Conv2DBackpropFilter) match tfjs-cpu", async () => {
    use(mode)
    await fc.assert(
      fc.asyncProperty(conv, async (c) => {
        await agree(() => {
          const { x, f } = operands(c)
          const y = tf.conv2d(x, f, c.stride, c.pad)
          const r = tensor(c.seed + 2, y.shape)
          const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), r)),
          )([x, f])
          return [y, dx!, df!]
        })
      }),
      { numRuns: 50, seed: 21 },
    )
  })

  it("dilated Conv2D (forward) matches tfjs-cpu", async () => {
    use(mode)
    const dilated = fc
      .record({ c: conv, dilation: fc.constantFrom<[number, number] | number>(2, [1, 2], [3, 1]) })
      .map(({ c, dilation }) => ({ c: { ...c, stride: 1 as const }, dilation }))
    await fc.assert(
      fc.asyncProperty(dilated, async ({ c, dilation }) => {
        await agree(() => {
          const { x, f } = operands(c)
          return tf.conv2d(x, f, 1, "same", "NHWC", dilation)
        })
      }),
      { numRuns: 25, seed: 22 },
    )
  })

  it("FusedConv2D with bias (vector, scalar) and activations matches tfjs-cpu, with gradients", async () => {
    use(mode)
    const fused = fc.record({
      c: conv,
      bias: fc.constantFrom("none", "vector", "scalar"),
      activation: fc.constantFrom("linear", "relu", "relu6", "sigmoid"),
    })
    await fc.assert(
      fc.asyncProperty(fused, async ({ c, bias, activation }) => {
        await agree(() => {
          const { x, f } = operands(c)
          const b =
            bias === "vector"
              ? tensor(c.seed + 3, [c.cout])
              : bias === "scalar"
                ? tensor(c.seed + 3, [1])
                : undefined
          const apply = (a: tf.Tensor, k: tf.Tensor, z?: tf.Tensor) =>
            tf.fused.conv2d({
              x: a as tf.Tensor4D,
              filter: k as tf.Tensor4D,
              strides: c.stride,
              pad: c.pad,
              ...(z !== undefined ? { bias: z } : {}),
              activation: activation as tf.fused.Activation,
            })
          const y = apply(x, f, b)
          if (activation !== "linear" && activation !== "relu") return y
          const r = tensor(c.seed + 4, y.shape)
          const loss = (a: tf.Tensor, k: tf.Tensor, z?: tf.Tensor) => tf.sum(tf.mul(apply(a, k, z), r))
          const grads =
            b === undefined
              ? tf.grads((a: tf.Tensor, k: tf.Tensor) => loss(a, k))([x, f])
              : tf.grads(loss)([x, f, b])
          return [y, ...grads]
        })
      }),
      { numRuns: 40, seed: 23 },
    )
  })

  it("the W2/W4 layer shapes (batch 1) match tfjs-cpu, including the stride-2 stem", async () => {
    use(mode)
    const cases = [
      { x: [1, 14, 14, 32], f: [3, 3, 32, 64], stride: 1 },
      { x: [1, 28, 28, 1], f: [3, 3, 1, 32], stride: 2 },
      { x: [1, 14, 14, 32], f: [3, 3, 32, 32], stride: 1 },
      { x: [1, 14, 14, 32], f: [1, 1, 32, 16], stride: 1 },
    ] as const
    for (const [i, c] of cases.entries()) {
      await agree(() => {
        const x = tensor(100 + i, c.x) as tf.Tensor4D
        const f = tensor(200 + i, c.f) as tf.Tensor4D
        const y = tf.conv2d(x, f, c.stride, "same")
        const r = tensor(300 + i, y.shape)
        const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, "same"), r)),
        )([x, f])
        return [y, dx!, df!]
      })
    }
  })

  it("leaks no wasm memory (kernel intermediates are released)", async () => {
    use(mode)
    await run("wasm", () => tf.zeros([1]))
    const before = wasmDataIds()
    for (const stride of [1, 2]) {
      await run("wasm", () => {
        const x = tensor(1, [2, 9, 9, 3]) as tf.Tensor4D
        const f = tensor(2, [3, 3, 3, 4]) as tf.Tensor4D
        return tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, "valid")),
        )([x, f])
      })
    }
    expect(wasmDataIds()).toBe(before)
  })
})
