import * as tf from "@tensorflow/tfjs-core"
import * as fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { pattern } from "../../../../src/backend/kernels/Binary.js"
import { agree, init, modes, run, tensor, use, wasmDataIds } from "./harness.js"

beforeAll(init)

/** A full shape and a broadcast partner: a suffix, a prefix, a middle broadcast or a scalar. */
const operands = fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }).chain((shape) =>
  fc.record({
    shape: fc.constant(shape),
    small: fc.oneof(
      fc.integer({ min: 0, max: shape.length }).map((k) => shape.slice(k)),
      fc.integer({ min: 0, max: shape.length }).map((k) => shape.map((d, i) => (i < k ? d : 1))),
      fc.constant(shape.map((d, i) => (i === 0 || i === shape.length - 1 ? d : 1))),
      fc.constant<Array<number>>([1]),
    ),
    smallFirst: fc.boolean(),
    op: fc.constantFrom("add", "sub", "mul", "div"),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
  }),
)

describe("pattern", () => {
  it("recognises suffix and prefix broadcasts", () => {
    expect(pattern([128, 14, 14, 32], [32])).toEqual({ smallFirst: false, inner: 32, prefix: false })
    expect(pattern([8, 1, 1, 1], [8, 5, 5, 3])).toEqual({ smallFirst: true, inner: 75, prefix: true })
    expect(pattern([4, 3], [4, 3])).toBeUndefined()
    expect(pattern([4, 1, 3], [4, 5, 3])).toBeUndefined()
    expect(pattern([4, 1], [1, 3])).toBeUndefined()
  })
})

describe.each(modes)("broadcasting Add/Sub/Multiply/RealDiv (%s)", (mode) => {
  it("match tfjs-cpu, with gradients", async () => {
    use(mode)
    await fc.assert(
      fc.asyncProperty(operands, async (o) => {
        await agree(() => {
          const big = tensor(o.seed, o.shape)
          // Keep divisors away from zero.
          const small = tf.add(tf.abs(tensor(o.seed + 1, o.small)), 0.5)
          const f = { add: tf.add, sub: tf.sub, mul: tf.mul, div: tf.div }[o.op as "add"]
          const apply = (x: tf.Tensor, y: tf.Tensor) => (o.smallFirst ? f(y, x) : f(x, y))
          const r = tensor(o.seed + 2, tf.backend_util.assertAndGetBroadcastShape(o.shape, [...o.small]))
          const grads = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(apply(x, y), r)))([big, small])
          return [apply(big, small), ...grads]
        })
      }),
      { numRuns: 60, seed: 51 },
    )
  })

  it("Identity and no-op Cast alias the input; real casts convert", async () => {
    use(mode)
    await agree(() => {
      const x = tensor(3, [4, 5])
      return [tf.clone(x), tf.cast(x, "float32"), tf.cast(tf.cast(tf.mul(x, 10), "int32"), "float32")]
    })
    await run("wasm", () => tf.zeros([1]))
    const ids = wasmDataIds()
    await run("wasm", () => tf.clone(tf.cast(tensor(4, [3]), "float32")))
    expect(wasmDataIds()).toBe(ids)
  })

  it("Mean and Sum gradients (global average pooling) match tfjs-cpu", async () => {
    use(mode)
    const reduction = fc.record({
      shape: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }),
      seed: fc.integer({ min: 0, max: 2 ** 30 }),
      keepDims: fc.boolean(),
      mean: fc.boolean(),
    })
    await fc.assert(
      fc.asyncProperty(reduction, async (p) => {
        const axes = p.shape.length > 2 ? [1, 2] : [0]
        await agree(() => {
          const x = tensor(p.seed, p.shape)
          const f = (v: tf.Tensor) => (p.mean ? tf.mean(v, axes, p.keepDims) : tf.sum(v, axes, p.keepDims))
          const y = f(x)
          const r = tensor(p.seed + 1, y.shape)
          return [y, tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v), r)))(x)]
        })
      }),
      { numRuns: 40, seed: 52 },
    )
  })
})
