import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Rng from "../../../src/data/Rng.js"

const isPermutation = (p: Int32Array, n: number) => {
  if (p.length !== n) return false
  const seen = new Uint8Array(n)
  for (const v of p) {
    if (v < 0 || v >= n || seen[v]) return false
    seen[v] = 1
  }
  return true
}

describe("Rng", () => {
  it("derive is deterministic and separates salts", () => {
    expect(Rng.derive(42, "epoch", 3)).toBe(Rng.derive(42, "epoch", 3))
    const seeds = new Set<number>()
    for (let e = 0; e < 1000; e++) seeds.add(Rng.derive(42, "epoch", e))
    expect(seeds.size).toBe(1000)
    expect(Rng.derive(42, "a", 1)).not.toBe(Rng.derive(42, 97, 1))
    expect(Rng.derive(1)).not.toBe(Rng.derive(2))
    // seeds beyond 32 bits are not truncated
    expect(Rng.derive(2 ** 40)).not.toBe(Rng.derive(0))
    expect(Number.isInteger(Rng.derive(7, "x"))).toBe(true)
  })

  it("permutation is a permutation, reproducible, and seed-dependent", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 500 }), fc.integer(), (n, seed) => {
        const p = Rng.permutation(n, seed)
        const again = Rng.permutation(n, seed)
        return isPermutation(p, n) && p.every((v, i) => v === again[i])
      }),
      { seed: 1, numRuns: 100 },
    )
    expect(Array.from(Rng.permutation(100, 1))).not.toEqual(Array.from(Rng.permutation(100, 2)))
  })

  it("shuffle is roughly uniform over positions", () => {
    const n = 5
    const counts = Array.from({ length: n }, () => new Array<number>(n).fill(0))
    const g = Rng.make(123)
    const runs = 20000
    for (let r = 0; r < runs; r++) {
      const p = Rng.shuffle(Rng.identity(n), g)
      p.forEach((v, i) => {
        counts[v]![i]!++
      })
    }
    for (const row of counts) for (const c of row) expect(Math.abs(c / runs - 1 / n)).toBeLessThan(0.02)
  })

  it("int draws inside the closed range", () => {
    const g = Rng.make(9)
    for (let i = 0; i < 1000; i++) {
      const v = Rng.int(g, 3, 6)
      expect(v >= 3 && v <= 6).toBe(true)
    }
  })
})
