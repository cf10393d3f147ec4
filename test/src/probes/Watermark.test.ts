import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-backend-cpu"
import { beforeAll, describe, expect, it } from "vitest"
import * as WatermarkProbe from "../../../src/probes/Watermark.js"

beforeAll(async () => {
  tf.env().set("IS_TEST", false)
  await tf.setBackend("cpu")
})

/** A seeded uniform generator and a standard normal from it. */
const generator = (seed: number) => {
  let s = seed >>> 0 || 1
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return (s + 0.5) / 4294967296
  }
  return { u, n: () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()) }
}

const k = 8 * Math.PI

describe("watermark detector", () => {
  it("fires on a planted sinusoid at k buried in noise and a smooth trend", () => {
    const r = generator(1)
    const g = Array.from({ length: 500 }, () => r.u())
    const y = g.map((t) => 0.3 * Math.cos(k * t) + 2 * t * t + r.n())
    const d = WatermarkProbe.test(g, y, k)
    expect(d.pValue).toBeLessThan(1e-3)
    expect(d.score).toBeGreaterThan(5)
    expect(d.comparisons).toBe(WatermarkProbe.comparisonFrequencies(k).length)
    expect(d.spectrum.map((s) => s.frequency)).toContain(k)
    expect(d.queries).toBe(500)
  })

  it("the same sinusoid at another frequency does not fire at k", () => {
    const r = generator(2)
    const g = Array.from({ length: 500 }, () => r.u())
    const y = g.map((t) => 0.3 * Math.cos(14 * Math.PI * t) + r.n())
    expect(WatermarkProbe.test(g, y, k).pValue).toBeGreaterThan(0.01)
  })

  it("p-values are not small on noise: about uniform, ≤ 3% below 0.01 over 200 draws", () => {
    const ps: Array<number> = []
    for (let seed = 1; seed <= 200; seed++) {
      const r = generator(1000 + seed)
      const g = Array.from({ length: 300 }, () => r.u())
      // heavy-tailed, nearly-saturated "confidences": the normal scores make the null hold
      const y = g.map(() => 1 - r.u() ** 8)
      ps.push(WatermarkProbe.test(g, y, k).pValue)
    }
    expect(ps.filter((p) => p < 0.01).length).toBeLessThanOrEqual(6)
    expect(ps.filter((p) => p < 0.5).length).toBeGreaterThan(60)
    expect(ps.filter((p) => p < 0.5).length).toBeLessThan(140)
  })

  it("the permutation p-value agrees with the closed form: small on a planted signal, not on noise, seeded", () => {
    const r = generator(3)
    const g = Array.from({ length: 400 }, () => r.u())
    const signal = g.map((t) => 0.6 * Math.cos(k * t) + r.n())
    const found = WatermarkProbe.test(g, signal, k, { permutations: 199, seed: 4 })
    expect(found.permutations).toBe(199)
    // (almost) no shuffle reaches the planted score; 1/200 is the least 199 shuffles can give
    expect(found.permutationPValue).toBeLessThanOrEqual(2 / 200)
    expect(found.pValue).toBeLessThan(1e-4)
    // same seed, same answer; the closed-form part is unchanged by asking for permutations
    expect(WatermarkProbe.test(g, signal, k, { permutations: 199, seed: 4 })).toEqual(found)
    const plain = WatermarkProbe.test(g, signal, k)
    expect(plain.permutationPValue).toBeUndefined()
    expect(plain.score).toBe(found.score)

    // on noise the two p-values track each other (both estimate P(score ≥ observed))
    const pairs: Array<[number, number]> = []
    for (let seed = 1; seed <= 30; seed++) {
      const q = generator(500 + seed)
      const t = Array.from({ length: 300 }, () => q.u())
      const d = WatermarkProbe.test(
        t,
        t.map(() => q.n()),
        k,
        { permutations: 199, seed },
      )
      pairs.push([d.pValue, d.permutationPValue!])
    }
    for (const [closed, perm] of pairs) expect(Math.abs(closed - perm)).toBeLessThan(0.12)
    expect(pairs.filter(([, perm]) => perm < 0.5).length).toBeGreaterThan(5)
    expect(pairs.filter(([, perm]) => perm < 0.5).length).toBeLessThan(25)
  })

  it("the periodogram is normalised and peaks at the signal's frequency", () => {
    const t = Array.from({ length: 256 }, (_, i) => i / 256)
    const p = WatermarkProbe.periodogram(
      t,
      t.map((v) => Math.cos(10 * Math.PI * v)),
      [6 * Math.PI, 10 * Math.PI, 14 * Math.PI],
    )
    expect(p[1]).toBeGreaterThan(50 * p[0]!)
    expect(p[1]).toBeGreaterThan(50 * p[2]!)
    // a pure cosine: half the (n−1)-normalised variance sum lands at its own frequency
    expect(p[1]).toBeCloseTo(255 / 2, -1)
  })

  it("normal scores are monotone, centred and tie-aware; top probabilities are softmax maxima", () => {
    const s = WatermarkProbe.normalScores([0.99, 0.2, 0.999, 0.2])
    expect(s[1]).toBe(s[3])
    expect(s[2]).toBeGreaterThan(s[0]!)
    expect(s[0]).toBeGreaterThan(s[1]!)
    const untied = WatermarkProbe.normalScores([0.3, 0.1, 0.9, 0.5, 0.7])
    expect(untied.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 9)
    expect(untied[3]).toBeCloseTo(0, 9)
    const top = WatermarkProbe.topProbability(Float32Array.of(0, 0, 10, 0), 2)
    expect(top[0]).toBeCloseTo(0.5, 9)
    expect(top[1]).toBeCloseTo(1 / (1 + Math.exp(-10)), 6)
  })
})
