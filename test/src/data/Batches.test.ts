import { Effect } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Batches from "../../../src/data/Batches.js"
import type * as Dataset from "../../../src/data/Dataset.js"
import { DataError } from "../../../src/errors.js"

/** A split of n "images" of 3 values each; image i holds (i, i, i)/n and label i mod 10. */
const makeSplit = (n: number): Dataset.Split => {
  const x = new Float32Array(n * 3)
  const y = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    x.fill(i / n, 3 * i, 3 * i + 3)
    y[i] = i % 10
  }
  return { x, y, n }
}

const indicesOf = (batches: Iterable<Batches.Batch>) => Array.from(batches, (b) => Array.from(b.indices))

describe("Batches", () => {
  it("same seed and epoch give the same order; other epochs and seeds differ", () => {
    const a = Batches.plan(1000, { batchSize: 32, seed: 5, epoch: 2 }).map((b) => Array.from(b))
    const b = Batches.plan(1000, { batchSize: 32, seed: 5, epoch: 2 }).map((b) => Array.from(b))
    expect(a).toEqual(b)
    expect(Array.from(Batches.order(1000, { seed: 5, epoch: 3 }))).not.toEqual(a.flat())
    expect(Array.from(Batches.order(1000, { seed: 6, epoch: 2 }))).not.toEqual(a.flat())
  })

  it("every index appears exactly once per epoch (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer(),
        fc.nat(50),
        (n, batchSize, seed, epoch) => {
          const plan = Batches.plan(n, { batchSize, seed, epoch })
          const all = plan.flatMap((b) => Array.from(b)).sort((p, q) => p - q)
          return (
            plan.length === Math.ceil(n / batchSize) &&
            all.length === n &&
            all.every((v, i) => v === i) &&
            plan.slice(0, -1).every((b) => b.length === batchSize)
          )
        },
      ),
      { seed: 2, numRuns: 150 },
    )
  })

  it("dropLast skips the incomplete batch; shuffle: false keeps the split order", () => {
    const plan = Batches.plan(10, { batchSize: 4, seed: 1, epoch: 0, dropLast: true })
    expect(plan.map((b) => b.length)).toEqual([4, 4])
    const ordered = Batches.plan(10, { batchSize: 4, seed: 1, epoch: 0, shuffle: false })
    expect(ordered.map((b) => Array.from(b))).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ])
    expect(Batches.count(10, 4)).toBe(3)
    expect(Batches.count(10, 4, true)).toBe(2)
  })

  it("gather assembles images and labels in batch order, into fresh or given buffers", () => {
    const split = makeSplit(20)
    const { x, y, n } = Batches.gather(split, Int32Array.of(7, 3))
    expect(n).toBe(2)
    expect(Array.from(y)).toEqual([7, 3])
    expect(Array.from(x)).toEqual([7, 7, 7, 3, 3, 3].map((v) => Math.fround(v / 20)))
    const out = { x: new Float32Array(3 * 4), y: new Int32Array(4) }
    const into = Batches.gather(split, [1, 2], out)
    expect(into.x.buffer).toBe(out.x.buffer)
    expect(Array.from(into.y)).toEqual([1, 2])
    expect(() => Batches.gather(split, [1, 2, 3, 4, 5], out)).toThrow(DataError)
  })

  it("iterate yields the planned batches with positions, across epochs", () => {
    const split = makeSplit(50)
    const batches = Array.from(Batches.iterate(split, { batchSize: 16, seed: 3, epochs: 2 }))
    expect(batches.map((b) => b.position)).toEqual([
      { epoch: 0, batchIndex: 0 },
      { epoch: 0, batchIndex: 1 },
      { epoch: 0, batchIndex: 2 },
      { epoch: 0, batchIndex: 3 },
      { epoch: 1, batchIndex: 0 },
      { epoch: 1, batchIndex: 1 },
      { epoch: 1, batchIndex: 2 },
      { epoch: 1, batchIndex: 3 },
    ])
    const plan0 = Batches.plan(50, { batchSize: 16, seed: 3, epoch: 0 })
    expect(batches.slice(0, 4).map((b) => Array.from(b.indices))).toEqual(plan0.map((b) => Array.from(b)))
    for (const b of batches) {
      expect(Array.from(b.y)).toEqual(Array.from(b.indices, (i) => i % 10))
      expect(b.x[0]).toBe(Math.fround(b.indices[0]! / 50))
    }
  })

  it("a run resumed at a mid-epoch position continues exactly", () => {
    const split = makeSplit(103)
    const options = { batchSize: (epoch: number) => (epoch < 2 ? 10 : 25), seed: 11, epochs: 4 }
    const full = indicesOf(Batches.iterate(split, options))
    const all = Array.from(Batches.iterate(split, options))
    for (const k of [0, 5, 10, 11, 20, 23, all.length - 1]) {
      const from = all[k]!.position
      const resumed = indicesOf(Batches.iterate(split, { ...options, from }))
      expect(resumed).toEqual(full.slice(k))
    }
    // a position past the end of its epoch continues at the next one
    const past = indicesOf(Batches.iterate(split, { ...options, from: { epoch: 0, batchIndex: 99 } }))
    expect(past).toEqual(full.slice(11))
  })

  it("the batch size may change at epoch boundaries", () => {
    const split = makeSplit(40)
    const sizes = Array.from(
      Batches.iterate(split, { batchSize: (e) => [8, 20, 40][e]!, seed: 0, epochs: 3 }),
      (b) => `${b.position.epoch}:${b.n}`,
    )
    expect(sizes).toEqual(["0:8", "0:8", "0:8", "0:8", "0:8", "1:20", "1:20", "2:40"])
  })

  it("check reports invalid options as a typed DataError", () => {
    const split = makeSplit(10)
    const bad = (options: Batches.Options) => Effect.runSync(Effect.flip(Batches.check(split, options)))
    expect(bad({ batchSize: 0, seed: 0 }).message).toMatch(/positive integer, got 0/)
    expect(bad({ batchSize: 2.5, seed: 0 }).message).toMatch(/positive integer/)
    expect(bad({ batchSize: (e) => (e === 2 ? -1 : 4), seed: 0, epochs: 3 }).message).toMatch(/epoch 2/)
    expect(bad({ batchSize: 16, seed: 0, dropLast: true }).message).toMatch(/no batches/)
    expect(bad({ batchSize: 4, seed: 0, from: { epoch: -1, batchIndex: 0 } }).message).toMatch(/epoch/)
    expect(bad({ batchSize: 4, seed: 0, from: { epoch: 0, batchIndex: 0.5 } }).message).toMatch(/batchIndex/)
    Effect.runSync(Batches.check(split, { batchSize: 4, seed: 0, epochs: 3 }))
    expect(() => Batches.plan(10, { batchSize: 0, seed: 0, epoch: 0 })).toThrow(DataError)
  })

  it("next advances within and across epochs", () => {
    expect(Batches.next({ epoch: 0, batchIndex: 0 }, 3)).toEqual({ epoch: 0, batchIndex: 1 })
    expect(Batches.next({ epoch: 4, batchIndex: 2 }, 3)).toEqual({ epoch: 5, batchIndex: 0 })
  })
})
