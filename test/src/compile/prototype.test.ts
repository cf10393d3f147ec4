/**
 * The prototype loss (ProC-KD): running class prototypes against float64 means, the loss value
 * and gradient on hand cases, the learned projection, shape errors, and no leaked tensors.
 */
import "@tensorflow/tfjs-backend-cpu"
import "@tensorflow/tfjs-core/dist/register_all_gradients.js"
import * as tf from "@tensorflow/tfjs-core"
import * as fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import * as Loss from "../../../dsl/Loss.js"
import * as Losses from "../../../src/compile/losses.js"
import { ShapeError } from "../../../src/errors.js"

fc.configureGlobal({ seed: 17_2022, numRuns: 30 })

beforeAll(async () => {
  await tf.setBackend("cpu")
})

type M = Array<Array<number>>

const emptySlot = (classes: number, dim: number): Losses.PrototypeSlot => ({
  sum: tf.variable(tf.zeros([classes, dim]), false),
  count: tf.variable(tf.zeros([classes]), false),
  updatedAt: -1,
})
const disposeSlot = (s: Losses.PrototypeSlot) => {
  s.sum.dispose()
  s.count.dispose()
}
const oneHot = (labels: ReadonlyArray<number>, k: number): M =>
  labels.map((c) => Array.from({ length: k }, (_, j) => (j === c ? 1 : 0)))

/** A loss context over a board, with one prototype slot and one projection per term. */
const context = (
  board: Record<string, tf.Tensor>,
  y: M,
  step: number,
  slots: Map<string, Losses.PrototypeSlot>,
  projections: Map<string, Losses.Projection> = new Map(),
): Losses.LossContext => ({
  get: (r) => (Loss.isDetached(r) ? Losses.detach(board[Loss.refName(r)]!) : board[Loss.refName(r)]!),
  y: tf.tensor2d(y),
  hyper: (n) => (typeof n === "number" ? n : 0),
  projection: (term, inDim, outDim) => {
    let p = projections.get(term)
    if (!p) {
      p = {
        kernel: tf.variable(tf.eye(inDim, outDim), true),
        bias: tf.variable(tf.zeros([outDim]), true),
      }
      projections.set(term, p)
    }
    return p
  },
  prototypes: (term, classes, dim) => {
    let s = slots.get(term)
    if (!s) {
      s = emptySlot(classes, dim)
      slots.set(term, s)
    }
    return s
  },
  step,
})

describe("running prototypes", () => {
  it("equal the float64 per-class means of every feature seen, batch after batch", () => {
    const k = 4
    const d = 3
    const feature = fc.double({ min: -5, max: 5, noNaN: true }).map(Math.fround)
    const row = fc.record({
      label: fc.integer({ min: 0, max: k - 1 }),
      f: fc.array(feature, { minLength: d, maxLength: d }),
    })
    const batches = fc.array(fc.array(row, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 })
    fc.assert(
      fc.property(batches, (bs) => {
        const slot = emptySlot(k, d)
        const sums: M = Array.from({ length: k }, () => Array(d).fill(0))
        const counts = Array(k).fill(0)
        let means: Float32Array = new Float32Array(0)
        bs.forEach((batch, step) => {
          for (const r of batch) {
            counts[r.label]++
            r.f.forEach((v, j) => {
              sums[r.label]![j]! += v
            })
          }
          means = tf
            .tidy(() =>
              Losses.updatePrototypes(
                slot,
                tf.tensor2d(batch.map((r) => r.f)),
                tf.tensor2d(
                  oneHot(
                    batch.map((r) => r.label),
                    k,
                  ),
                ),
                step,
              ),
            )
            .dataSync() as Float32Array
        })
        for (let c = 0; c < k; c++)
          for (let j = 0; j < d; j++) {
            const want = counts[c] === 0 ? 0 : sums[c]![j]! / counts[c]
            expect(Math.abs(means[c * d + j]! - want)).toBeLessThan(1e-4 * (1 + Math.abs(want)))
          }
        expect(Array.from(slot.count.dataSync())).toEqual(counts)
        disposeSlot(slot)
      }),
    )
  })

  it("count a batch once per step, and weigh soft labels", () => {
    const slot = emptySlot(2, 1)
    const f = tf.tensor2d([[2], [4]])
    const y = tf.tensor2d([
      [1, 0],
      [0.5, 0.5],
    ])
    Losses.updatePrototypes(slot, f, y, 0).dispose()
    // the same step again (a segment run twice): no change
    const again = Losses.updatePrototypes(slot, f, y, 0)
    expect(Array.from(slot.count.dataSync())).toEqual([1.5, 0.5])
    // class 0: (1·2 + 0.5·4)/1.5; class 1: (0.5·4)/0.5
    const m = again.dataSync()
    expect(m[0]).toBeCloseTo(4 / 1.5, 5)
    expect(m[1]).toBeCloseTo(4, 5)
    Losses.updatePrototypes(slot, f, y, 1).dispose()
    expect(Array.from(slot.count.dataSync())).toEqual([3, 1])
    for (const t of [f, y, again]) t.dispose()
    disposeSlot(slot)
  })
})

describe("prototype loss", () => {
  // batch of 3 over 3 classes; teacher features 2-wide
  const teacher: M = [
    [1, 2],
    [3, 6],
    [-2, 0],
  ]
  const labels = [0, 0, 2]
  const student: M = [
    [0, 0],
    [1, 1],
    [2, -1],
  ]
  // prototypes after this batch: class 0 = mean([1,2],[3,6]) = [2,4]; class 2 = [-2,0]
  const targets: M = [
    [2, 4],
    [2, 4],
    [-2, 0],
  ]

  it("MSE: the value and the gradient 2(s − μ_y)/(B·D) by hand; no gradient reaches the teacher", () => {
    const slots = new Map<string, Losses.PrototypeSlot>()
    const s = tf.tensor2d(student)
    const t = tf.tensor2d(teacher)
    const term = Loss.prototype({ student: "s", teacher: "t", projection: false })
    const ctx = context({ s, t }, oneHot(labels, 3), 0, slots)
    let want = 0
    student.forEach((r, i) => {
      r.forEach((v, j) => {
        want += (v - targets[i]![j]!) ** 2
      })
    })
    want /= 6
    const value = tf.tidy(() => Losses.compute(term, ctx, "proto"))
    expect(value.dataSync()[0]).toBeCloseTo(want, 5)
    value.dispose()
    // fresh prototypes, so that the update (from the teacher feature) runs under the gradient too
    const fresh = new Map<string, Losses.PrototypeSlot>()
    const sv = tf.variable(s, true)
    const tv = tf.variable(t, true)
    const { value: v2, grads: all } = tf.variableGrads(
      () => Losses.compute(term, context({ s: sv, t: tv }, oneHot(labels, 3), 0, fresh), "proto"),
      [sv, tv],
    )
    const gs = all[sv.name]
    const gt = all[tv.name] ?? tf.zeros([3, 2])
    expect(v2.dataSync()[0]).toBeCloseTo(want, 5)
    const g = gs!.arraySync() as M
    student.forEach((r, i) => {
      r.forEach((v, j) => {
        expect(g[i]![j]!).toBeCloseTo((2 * (v - targets[i]![j]!)) / 6, 5)
      })
    })
    expect(Math.max(...Array.from(gt.dataSync()).map(Math.abs))).toBe(0)
    // the batch was counted once although the term ran twice at step 0
    expect(Array.from(slots.get("proto")!.count.dataSync())).toEqual([2, 0, 1])
    for (const x of [s, t, sv, tv, v2, gs!, gt]) x.dispose()
    for (const sl of [...slots.values(), ...fresh.values()]) disposeSlot(sl)
  })

  it("cosine: mean(1 − cos(s, μ_y)) by hand", () => {
    const slots = new Map<string, Losses.PrototypeSlot>()
    const s = tf.tensor2d(student.map((r, i) => (i === 0 ? [1, 0] : r)))
    const t = tf.tensor2d(teacher)
    const term = Loss.prototype({ student: "s", teacher: "t", projection: false, distance: "cosine" })
    const cos = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) =>
      (a[0]! * b[0]! + a[1]! * b[1]!) / (Math.hypot(a[0]!, a[1]!) * Math.hypot(b[0]!, b[1]!))
    const rows = [[1, 0], student[1]!, student[2]!]
    const want = rows.reduce((acc, r, i) => acc + (1 - cos(r, targets[i]!)), 0) / 3
    const v = tf.tidy(() => Losses.compute(term, context({ s, t }, oneHot(labels, 3), 0, slots), "proto"))
    expect(v.dataSync()[0]).toBeCloseTo(want, 5)
    for (const x of [s, t, v]) x.dispose()
    for (const sl of slots.values()) disposeSlot(sl)
  })

  it("projects the student feature to the teacher's width (identity kernel: the plain MSE)", () => {
    const slots = new Map<string, Losses.PrototypeSlot>()
    const projections = new Map<string, Losses.Projection>()
    // 3-wide student, identity-like 3×2 kernel keeps the first two columns
    const s = tf.tensor2d(student.map((r) => [...r, 7]))
    const t = tf.tensor2d(teacher)
    const term = Loss.prototype({ student: "s", teacher: "t" })
    const v = tf.tidy(() =>
      Losses.compute(term, context({ s, t }, oneHot(labels, 3), 0, slots, projections), "proto"),
    )
    let want = 0
    student.forEach((r, i) => {
      r.forEach((x, j) => {
        want += (x - targets[i]![j]!) ** 2
      })
    })
    expect(v.dataSync()[0]).toBeCloseTo(want / 6, 5)
    expect(projections.get("proto")!.kernel.shape).toEqual([3, 2])
    for (const x of [s, t, v]) x.dispose()
    for (const p of projections.values()) {
      p.kernel.dispose()
      p.bias.dispose()
    }
    for (const sl of slots.values()) disposeSlot(sl)
  })

  it("fails with a ShapeError on widths without a projection, batches that differ, or no state", () => {
    const slots = new Map<string, Losses.PrototypeSlot>()
    const s = tf.zeros([3, 5])
    const t = tf.tensor2d(teacher)
    const y = oneHot(labels, 3)
    expect(() =>
      Losses.compute(
        Loss.prototype({ student: "s", teacher: "t", projection: false }),
        context({ s, t }, y, 0, slots),
        "proto",
      ),
    ).toThrow(ShapeError)
    const short = tf.zeros([2, 2])
    expect(() =>
      Losses.compute(
        Loss.prototype({ student: "s", teacher: "t", projection: false }),
        context({ s: short, t }, y, 0, slots),
        "proto",
      ),
    ).toThrow(/batches differ/)
    const { prototypes: _p, ...stateless } = context({ s: t, t }, y, 0, slots)
    expect(() =>
      Losses.compute(Loss.prototype({ student: "s", teacher: "t", projection: false }), stateless, "proto"),
    ).toThrow(/running prototypes/)
    for (const x of [s, t, short]) x.dispose()
    for (const sl of slots.values()) disposeSlot(sl)
  })

  it("allocates nothing that outlives the step", () => {
    const slots = new Map<string, Losses.PrototypeSlot>()
    const s = tf.tensor2d(student)
    const t = tf.tensor2d(teacher)
    const term = Loss.prototype({ student: "s", teacher: "t", projection: false })
    // create the slot first, then count
    tf.tidy(() => Losses.compute(term, context({ s, t }, oneHot(labels, 3), 0, slots), "proto")).dispose()
    const before = tf.memory().numTensors
    for (let step = 1; step < 4; step++)
      tf.tidy(() =>
        Losses.compute(term, context({ s, t }, oneHot(labels, 3), step, slots), "proto"),
      ).dispose()
    expect(tf.memory().numTensors).toBe(before)
    for (const x of [s, t]) x.dispose()
    for (const sl of slots.values()) disposeSlot(sl)
  })
})
