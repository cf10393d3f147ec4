import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import * as Episodes from "../../../src/metrics/Episodes.js"

/** A seeded uniform generator for test data. */
const lcg = (seed: number) => {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}
const gauss = (rand: () => number) =>
  Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand())

/** 10 classes, 30 images each, labels interleaved. */
const labels = Int32Array.from({ length: 300 }, (_, i) => i % 10)
const novel = [5, 6, 7, 8, 9]
const draw = (o: Partial<Episodes.SampleOptions> = {}) =>
  Effect.runSync(
    Episodes.sample(labels, { classes: novel, ways: 5, shots: 5, queries: 15, episodes: 50, seed: 1, ...o }),
  )

describe("few-shot episodes", () => {
  it("are N-way K-shot with Q queries, disjoint support and query, only the few-shot classes", () => {
    for (const [ways, shots] of [
      [5, 1],
      [5, 5],
      [3, 2],
    ] as const) {
      const eps = draw({ ways, shots })
      expect(eps).toHaveLength(50)
      for (const e of eps) {
        expect(e.classes).toHaveLength(ways)
        expect(new Set(e.classes).size).toBe(ways)
        for (const c of e.classes) expect(novel).toContain(c)
        expect(e.support).toHaveLength(ways * shots)
        expect(e.query).toHaveLength(ways * 15)
        const s = new Set(e.support)
        expect(s.size).toBe(e.support.length)
        expect(new Set(e.query).size).toBe(e.query.length)
        for (const q of e.query) expect(s.has(q)).toBe(false)
        // the episode label j is the data class classes[j], for every image
        e.support.forEach((r, i) => {
          expect(labels[r]).toBe(e.classes[e.supportLabels[i]!])
        })
        e.query.forEach((r, i) => {
          expect(labels[r]).toBe(e.classes[e.queryLabels[i]!])
        })
        for (let j = 0; j < ways; j++) {
          expect(e.supportLabels.filter((y) => y === j)).toHaveLength(shots)
          expect(e.queryLabels.filter((y) => y === j)).toHaveLength(15)
        }
      }
    }
  })

  it("with fewer classes than ways, the drawn classes vary; with as many, all are used", () => {
    const three = draw({ ways: 3 })
    expect(new Set(three.map((e) => [...e.classes].sort().join())).size).toBeGreaterThan(3)
    for (const e of draw()) expect([...e.classes].sort()).toEqual(novel)
  })

  it("are reproducible from their seed and differ between seeds", () => {
    expect(draw({ seed: 7 })).toEqual(draw({ seed: 7 }))
    expect(draw({ seed: 7 })).not.toEqual(draw({ seed: 8 }))
    // images differ between episodes of one run
    const eps = draw({ shots: 1 })
    expect(new Set(eps.map((e) => [...e.support].join())).size).toBeGreaterThan(40)
  })

  it("fail when a class has fewer images than an episode takes, or there are too few classes", () => {
    expect(
      Exit.isFailure(
        Effect.runSyncExit(
          Episodes.sample(labels, { classes: novel, ways: 5, shots: 20, queries: 15, episodes: 1, seed: 1 }),
        ),
      ),
    ).toBe(true)
    expect(
      Exit.isFailure(
        Effect.runSyncExit(
          Episodes.sample(labels, { classes: [5, 6], ways: 3, shots: 1, queries: 1, episodes: 1, seed: 1 }),
        ),
      ),
    ).toBe(true)
  })
})

describe("few-shot probes", () => {
  /** n images per class, `ways` classes, dim features: class means `sep` apart plus unit noise. */
  const synthetic = (ways: number, per: number, dim: number, sep: number, seed: number) => {
    const rand = lcg(seed)
    const means = Array.from({ length: ways }, () => Array.from({ length: dim }, () => gauss(rand) * sep))
    const y = Int32Array.from({ length: ways * per }, (_, i) => i % ways)
    const x = new Float32Array(y.length * dim)
    y.forEach((c, i) => {
      for (let d = 0; d < dim; d++) x[i * dim + d] = means[c]![d]! + gauss(rand)
    })
    return { x: Episodes.normalize(x, dim), y }
  }

  it("reach ~100 % on linearly separable features", () => {
    const { x, y } = synthetic(5, 40, 32, 3, 1)
    const eps = Effect.runSync(
      Episodes.sample(y, {
        classes: [0, 1, 2, 3, 4],
        ways: 5,
        shots: 1,
        queries: 15,
        episodes: 100,
        seed: 2,
      }),
    )
    for (const probe of ["logistic", "centroid"] as const)
      expect(Episodes.score(x, 32, eps, probe).mean).toBeGreaterThan(0.98)
    const five = Effect.runSync(
      Episodes.sample(y, { classes: [0, 1, 2, 3, 4], ways: 5, shots: 5, queries: 15, episodes: 50, seed: 2 }),
    )
    expect(Episodes.score(x, 32, five, "logistic").mean).toBeGreaterThan(0.99)
  })

  it("are at chance on random features", () => {
    const rand = lcg(3)
    const dim = 32
    const y = Int32Array.from({ length: 500 }, (_, i) => i % 5)
    const x = Episodes.normalize(
      Float32Array.from({ length: 500 * dim }, () => gauss(rand)),
      dim,
    )
    const eps = Effect.runSync(
      Episodes.sample(y, {
        classes: [0, 1, 2, 3, 4],
        ways: 5,
        shots: 5,
        queries: 15,
        episodes: 300,
        seed: 4,
      }),
    )
    for (const probe of ["logistic", "centroid"] as const) {
      const r = Episodes.score(x, dim, eps, probe)
      expect(Math.abs(r.mean - 0.2)).toBeLessThan(0.03)
      expect(r.mean - r.ci95).toBeLessThan(0.2 + 0.01)
    }
  })

  it("logistic regression stops at the minimum of Σ CE + (λ/2)·‖W‖² (the gradient vanishes)", () => {
    const { x, y } = synthetic(4, 6, 8, 1, 5)
    const rows = Array.from({ length: 24 }, (_, i) => i)
    for (const l2 of [0.1, 1, 10]) {
      const w = Episodes.logistic(x, 8, rows, y, 4, { l2, iterations: 200 })
      expect(w.iterations).toBeLessThan(200)
      // the gradient, computed independently
      const gW = new Float64Array(32)
      const gb = new Float64Array(4)
      for (const i of rows) {
        const z = [0, 1, 2, 3].map(
          (c) =>
            w.bias[c]! + [...Array(8).keys()].reduce((s, d) => s + w.weights[c * 8 + d]! * x[i * 8 + d]!, 0),
        )
        const m = Math.max(...z)
        const e = z.map((v) => Math.exp(v - m))
        const sum = e.reduce((a, b) => a + b, 0)
        for (let c = 0; c < 4; c++) {
          const r = e[c]! / sum - (y[i] === c ? 1 : 0)
          gb[c] = gb[c]! + r
          for (let d = 0; d < 8; d++) gW[c * 8 + d] = gW[c * 8 + d]! + r * x[i * 8 + d]!
        }
      }
      for (let k = 0; k < 32; k++) expect(Math.abs(gW[k]! + l2 * w.weights[k]!)).toBeLessThan(1e-4)
      for (let c = 0; c < 4; c++) expect(Math.abs(gb[c]!)).toBeLessThan(1e-4)
    }
    // a stronger penalty gives smaller weights
    const norm = (l2: number) =>
      Episodes.logistic(x, 8, rows, y, 4, { l2, iterations: 200 }).weights.reduce((s, v) => s + v * v, 0)
    expect(norm(10)).toBeLessThan(norm(1))
  })

  it("nearest centroid picks the most cosine-similar class mean", () => {
    const x = Float32Array.of(1, 0, 0.8, 0.6, 0, 1, 0.3, 0.95)
    const c = Episodes.centroid(x, 2, [0, 1, 2], [0, 0, 1], 2)
    expect([...Episodes.predict(c, x, [3])]).toEqual([1])
    expect([...Episodes.predict(c, Float32Array.of(0.9, 0.1), [0])]).toEqual([0])
  })

  it("normalize scales rows to unit norm and leaves zero rows at zero", () => {
    const n = Episodes.normalize(Float32Array.of(3, 4, 0, 0, -1, 0), 2)
    expect([...n].map((v) => Math.round(v * 1e6) / 1e6)).toEqual([0.6, 0.8, 0, 0, -1, 0])
  })

  it("the confidence interval is 1.96·s/√n with the sample standard deviation", () => {
    const xs = [0.2, 0.4, 0.6, 0.8, 1]
    const m = 0.6
    const s = Math.sqrt(xs.reduce((a, v) => a + (v - m) ** 2, 0) / 4)
    const r = Episodes.confidence(xs)
    expect(r.mean).toBeCloseTo(m, 12)
    expect(r.ci95).toBeCloseTo((1.96 * s) / Math.sqrt(5), 12)
    expect(Episodes.confidence([0.5]).ci95).toBe(0)
    expect(Episodes.confidence(Array(600).fill(0.7)).ci95).toBeCloseTo(0, 12)
  })
})
