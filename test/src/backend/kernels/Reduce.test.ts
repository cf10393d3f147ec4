import * as tf from "@tensorflow/tfjs-core"
import * as fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { sumOuter } from "../../../../src/backend/kernels/Reduce.js"
import { agree, init, modes, tensor, use } from "./harness.js"

beforeAll(init)

const reduction = fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 4 }).chain((shape) =>
  fc.record({
    shape: fc.constant(shape),
    axes: fc.subarray(shape.map((_, i) => i)),
    keepDims: fc.boolean(),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
  }),
)

describe.each(modes)("Sum (%s)", (mode) => {
  it("matches tfjs-cpu for any axes (leading axes take the fast path) and keepDims", async () => {
    use(mode)
    await fc.assert(
      fc.asyncProperty(reduction, async (r) => {
        await agree(() => tf.sum(tensor(r.seed, r.shape), r.axes, r.keepDims))
      }),
      { numRuns: 80, seed: 41 },
    )
  })

  it("bias gradients of a batch-128 dense layer and a conv layer match tfjs-cpu", async () => {
    use(mode)
    await agree(() => [tf.sum(tensor(1, [128, 256]), 0), tf.sum(tensor(2, [16, 14, 14, 32]), [0, 1, 2])])
  })

  it("int32 sums use the stock kernel", async () => {
    use(mode)
    await agree(() => tf.cast(tf.sum(tf.tensor2d([1, 2, 3, 4], [2, 2], "int32"), 0), "float32"))
  })
})

describe("sumOuter", () => {
  it("sums rows", () => {
    const out = new Float32Array(2)
    sumOuter(new Float32Array([1, 2, 3, 4, 5, 6]), out, 3, 2)
    expect([...out]).toEqual([9, 12])
  })
})
