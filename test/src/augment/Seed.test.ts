import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-backend-cpu"
import * as fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import * as Seed from "../../../src/augment/Seed.js"

fc.configureGlobal({ seed: 20240613, numRuns: 200 })

beforeAll(async () => {
  await tf.setBackend("cpu")
  await tf.ready()
})

describe("Seed.derive", () => {
  it("is a deterministic 32-bit function of the seed and the key path", () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(fc.nat(1000), { maxLength: 3 }), (s, keys) => {
        const a = Seed.derive(s, ...keys)
        expect(a).toBe(Seed.derive(s, ...keys))
        expect(Number.isInteger(a) && a >= 0 && a < 2 ** 32).toBe(true)
      }),
    )
    expect(Seed.derive(Number.MAX_SAFE_INTEGER)).not.toBe(Seed.derive(Number.MAX_SAFE_INTEGER - 2 ** 32))
  })

  it("separates keys and seeds (no collisions over a grid)", () => {
    const seen = new Set<number>()
    for (let s = 0; s < 50; s++) for (let k = 0; k < 50; k++) seen.add(Seed.derive(s, k))
    expect(seen.size).toBe(2500)
    expect(Seed.derive(1, 2)).not.toBe(Seed.derive(2, 1))
    expect(Seed.derive(1, 0, 1)).not.toBe(Seed.derive(1, 1, 0))
  })
})

describe("Seed draws", () => {
  it("uniform, integers, bernoulli and signs are reproducible and in range", () => {
    const u = Seed.uniform([200], -2, 3, 9).arraySync() as Array<number>
    expect(Seed.uniform([200], -2, 3, 9).arraySync()).toEqual(u)
    expect(Seed.uniform([200], -2, 3, 10).arraySync()).not.toEqual(u)
    for (const v of u) expect(v >= -2 && v < 3).toBe(true)
    const k = Seed.integers(500, 7, 3).arraySync()
    expect(new Set(k)).toEqual(new Set([0, 1, 2, 3, 4, 5, 6]))
    const per = Seed.integers(3, tf.tensor1d([1, 2, 100]), 4).arraySync()
    expect(per[0]).toBe(0)
    expect(per[1]! >= 0 && per[1]! <= 1).toBe(true)
    const bern = Seed.bernoulli(2000, 0.3, 5).arraySync() as unknown as Array<number>
    const rate = bern.filter(Boolean).length / 2000
    expect(rate).toBeGreaterThan(0.25)
    expect(rate).toBeLessThan(0.35)
    expect(new Set(Seed.signs(100, 6).arraySync())).toEqual(new Set([-1, 1]))
  })

  it("beta samples lie in [0, 1] with mean 1/2 and shrink toward the ends for small alpha", () => {
    const big = Seed.beta(2000, 2, 1).arraySync()
    const mean = big.reduce((a, v) => a + v, 0) / big.length
    expect(mean).toBeGreaterThan(0.47)
    expect(mean).toBeLessThan(0.53)
    for (const v of big) expect(v >= 0 && v <= 1).toBe(true)
    const small = Seed.beta(2000, 0.05, 2).arraySync()
    for (const v of small) expect(Number.isFinite(v) && v >= 0 && v <= 1).toBe(true)
    const extreme = small.filter((v) => v < 0.05 || v > 0.95).length / small.length
    expect(extreme).toBeGreaterThan(0.7)
  })

  it("permutation is a permutation, reproducible by seed", () => {
    const p = Seed.permutation(64, 8).arraySync()
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 64 }, (_, i) => i))
    expect(Seed.permutation(64, 8).arraySync()).toEqual(p)
    expect(Seed.permutation(64, 9).arraySync()).not.toEqual(p)
    expect(Seed.permutation(64, 8).dtype).toBe("int32")
  })
})
