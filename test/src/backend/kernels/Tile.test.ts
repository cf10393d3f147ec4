import * as tf from "@tensorflow/tfjs-core"
import * as fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { tileInto } from "../../../../src/backend/kernels/Tile.js"
import { agree, init, modes, tensor, use } from "./harness.js"

beforeAll(init)

const tiling = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }).chain((shape) =>
  fc.record({
    shape: fc.constant(shape),
    reps: fc.tuple(...shape.map(() => fc.integer({ min: 1, max: 3 }))),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
  }),
)

describe.each(modes)("Tile / broadcastTo (%s)", (mode) => {
  it("tf.tile matches tfjs-cpu, with its gradient", async () => {
    use(mode)
    await fc.assert(
      fc.asyncProperty(tiling, async (t) => {
        await agree(() => {
          const x = tensor(t.seed, t.shape)
          const y = tf.tile(x, t.reps)
          const r = tensor(t.seed + 1, y.shape)
          return [y, tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.tile(v, t.reps), r)))(x)]
        })
      }),
      { numRuns: 50, seed: 61 },
    )
  })

  it("broadcastTo of a GAP gradient shape matches tfjs-cpu", async () => {
    use(mode)
    await agree(() => tf.broadcastTo(tensor(5, [3, 1, 1, 4]), [3, 6, 5, 4]))
  })
})

describe("tileInto", () => {
  it("repeats along every axis", () => {
    const out = new Float32Array(8)
    tileInto(new Float32Array([1, 2]), [2, 1], [2, 2], out)
    expect([...out]).toEqual([1, 1, 2, 2, 1, 1, 2, 2])
  })
})
