import * as tf from "@tensorflow/tfjs-core"
import * as fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { maxPoolBackward } from "../../../../src/backend/kernels/Pool.js"
import { agree, init, modes, tensor, use } from "./harness.js"

beforeAll(init)

const pool = fc
  .record({
    n: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 12 }),
    w: fc.integer({ min: 1, max: 12 }),
    c: fc.integer({ min: 1, max: 6 }),
    size: fc.constantFrom<[number, number] | number>(1, 2, 3, [2, 3]),
    stride: fc.constantFrom<[number, number] | number>(1, 2, 3, [1, 2]),
    pad: fc.constantFrom<"same" | "valid">("same", "valid"),
    ties: fc.boolean(),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
  })
  .filter((p) => {
    const [kh, kw] = typeof p.size === "number" ? [p.size, p.size] : p.size
    return p.pad === "same" || (p.h >= kh && p.w >= kw)
  })

describe.each(modes)("MaxPoolGrad (%s)", (mode) => {
  it("the max-pool gradient matches tfjs-cpu, ties (ReLU zeros) included", async () => {
    use(mode)
    await fc.assert(
      fc.asyncProperty(pool, async (p) => {
        await agree(() => {
          let x = tensor(p.seed, [p.n, p.h, p.w, p.c]) as tf.Tensor4D
          // Ties: after a ReLU most windows hold several zeros; the first one gets the gradient.
          if (p.ties) x = tf.relu(tf.sub(x, 0.5)) as tf.Tensor4D
          const y = tf.maxPool(x, p.size, p.stride, p.pad)
          const r = tensor(p.seed + 1, y.shape)
          const dx = tf.grad((v: tf.Tensor) =>
            tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, p.size, p.stride, p.pad), r)),
          )(x)
          return [y, dx]
        })
      }),
      { numRuns: 60, seed: 31 },
    )
  })
})

describe("maxPoolBackward", () => {
  it("routes each gradient to the first maximum of its window", () => {
    const dx = new Float32Array(4)
    maxPoolBackward(
      new Float32Array([0, 0, 0, 0]),
      new Float32Array([7]),
      dx,
      [1, 2, 2, 1, 1, 1, 2, 2, 2, 2, 1, 1, 0, 0],
    )
    expect([...dx]).toEqual([7, 0, 0, 0])
  })
})
