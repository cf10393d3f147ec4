import * as tf from "@tensorflow/tfjs-core"
import * as fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { reluGradInto } from "../../../../src/backend/kernels/ReluGrad.js"
import { agree, init, modes, tensor, use } from "./harness.js"

beforeAll(init)

describe.each(modes)("ReLU gradient (%s)", (mode) => {
  it("matches tfjs-cpu, zeros and NaNs included", async () => {
    use(mode)
    const shapes = fc.record({
      shape: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }),
      seed: fc.integer({ min: 0, max: 2 ** 30 }),
    })
    await fc.assert(
      fc.asyncProperty(shapes, async ({ shape, seed }) => {
        await agree(() => {
          // Round to a coarse grid so that exact zeros occur; one NaN.
          const x = tf.div(tf.round(tf.mul(tensor(seed, shape), 4)), 4)
          const r = tensor(seed + 1, shape)
          return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), r)))(x)
        })
      }),
      { numRuns: 40, seed: 81 },
    )
    await agree(() => tf.grad((v: tf.Tensor) => tf.sum(tf.relu(v)))(tf.tensor1d([Number.NaN, -1, 0, 2])))
  })

  it("second-order gradients through ReLU still work", async () => {
    use(mode)
    await agree(() => {
      const x = tensor(9, [3, 4])
      const w = tensor(10, [3, 4])
      // d/dw of sum(d/dx sum(relu(x * w)) ) exercises the gradient of the ReLU gradient.
      const inner = (v: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.sum(tf.relu(tf.mul(u, v))))(x)
      return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(inner(v), w)))(w)
    })
  })
})

describe("reluGradInto", () => {
  it("passes dy where x > 0", () => {
    const out = new Float32Array(3)
    reluGradInto(new Float32Array([1, 2, 3]), new Float32Array([-1, 0, 5]), out)
    expect([...out]).toEqual([0, 0, 3])
  })
})
