import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Correlation from "../../../src/metrics/Correlation.js"

/** Midranks, written out independently of the library. */
const midranks = (v: ReadonlyArray<number>) =>
  v.map((a) => {
    const below = v.filter((b) => b < a).length
    const equal = v.filter((b) => b === a).length
    return below + (equal - 1) / 2
  })
/** Pearson's correlation of the midranks in float64: Spearman's ρ by its definition. */
const reference = (x: ReadonlyArray<number>, y: ReadonlyArray<number>) => {
  const rx = midranks(x)
  const ry = midranks(y)
  const n = x.length
  const mx = rx.reduce((a, b) => a + b, 0) / n
  const my = ry.reduce((a, b) => a + b, 0) / n
  let sxy = 0
  let sxx = 0
  let syy = 0
  for (let i = 0; i < n; i++) {
    sxy += (rx[i]! - mx) * (ry[i]! - my)
    sxx += (rx[i]! - mx) ** 2
    syy += (ry[i]! - my) ** 2
  }
  return sxy / Math.sqrt(sxx * syy)
}
/** Every ordering of `y` against `x`: the exact permutation p-value. */
const exact = (x: ReadonlyArray<number>, y: ReadonlyArray<number>, alternative: Correlation.Alternative) => {
  const rho = reference(x, y)
  let count = 0
  let total = 0
  const go = (rest: Array<number>, taken: Array<number>) => {
    if (rest.length === 0) {
      const r = reference(x, taken)
      total++
      const e =
        alternative === "less"
          ? r <= rho + 1e-12
          : alternative === "greater"
            ? r >= rho - 1e-12
            : Math.abs(r) >= Math.abs(rho) - 1e-12
      if (e) count++
      return
    }
    for (let i = 0; i < rest.length; i++)
      go([...rest.slice(0, i), ...rest.slice(i + 1)], [...taken, rest[i]!])
  }
  go([...y], [])
  return count / total
}

describe("Correlation.spearman", () => {
  it("is ±1 on monotone pairs and 1 − 6Σd²/(n(n²−1)) without ties", () => {
    expect(Correlation.spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1, 12)
    expect(Correlation.spearman([1, 2, 3, 4], [0.4, 0.3, 0.2, 0.1])).toBeCloseTo(-1, 12)
    // d = (1, −1, 1, −1, 1, −1): 1 − 36/210
    expect(Correlation.spearman([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5])).toBeCloseTo(1 - 36 / 210, 12)
  })

  it("equals Pearson's correlation of the midranks, ties included, and ignores order and monotone maps", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 })), {
          minLength: 3,
          maxLength: 12,
        }),
        (pairs) => {
          const x = pairs.map((p) => p[0])
          const y = pairs.map((p) => p[1])
          const want = reference(x, y)
          if (!Number.isFinite(want)) return
          expect(Correlation.spearman(x, y)).toBeCloseTo(want, 10)
          // reversed order of the pairs, and a strictly increasing map of x
          expect(Correlation.spearman([...x].reverse(), [...y].reverse())).toBeCloseTo(want, 10)
          expect(
            Correlation.spearman(
              x.map((v) => Math.exp(v)),
              y,
            ),
          ).toBeCloseTo(want, 10)
          expect(
            Correlation.spearman(
              x.map((v) => -v),
              y,
            ),
          ).toBeCloseTo(-want, 10)
        },
      ),
      { seed: 11, numRuns: 200 },
    )
  })

  it("refuses unequal lengths, fewer than 3 pairs and values that are not finite", () => {
    expect(() => Correlation.spearman([1, 2, 3], [1, 2])).toThrow(/3 against 2/)
    expect(() => Correlation.spearman([1, 2], [1, 2])).toThrow(/at least 3/)
    expect(() => Correlation.spearman([1, 2, Number.NaN], [1, 2, 3])).toThrow(/not finite/)
  })
})

describe("Correlation.rankTest", () => {
  it("matches the exact permutation p-value (every ordering) within Monte-Carlo error", () => {
    const cases: Array<[Array<number>, Array<number>]> = [
      [
        [1, 2, 3, 4, 5, 6],
        [2, 1, 4, 3, 6, 5],
      ],
      [
        [0.1, 0.4, 0.2, 0.8, 0.5, 0.3],
        [0.9, 0.6, 0.85, 0.5, 0.55, 0.7],
      ],
      [
        [3, 1, 4, 1, 5, 9, 2],
        [2, 7, 1, 8, 2, 8, 1],
      ],
    ]
    for (const [x, y] of cases)
      for (const alternative of ["two-sided", "less", "greater"] as const) {
        const want = exact(x, y, alternative)
        const t = Correlation.rankTest(x, y, { permutations: 9999, seed: 3, alternative })
        // binomial sd of a proportion from 9,999 draws is at most 0.005
        expect(Math.abs(t.pValue - want)).toBeLessThan(0.02)
        expect(t.n).toBe(x.length)
        expect(t.alternative).toBe(alternative)
      }
    // 42 of the 720 orderings of the first case are as extreme as ρ = 0.829
    expect(exact([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5], "two-sided")).toBeCloseTo(42 / 720, 12)
  })

  it("finds a planted monotone relation and not an absent one; the same seed gives the same p", () => {
    const x = Array.from({ length: 24 }, (_, i) => i)
    const planted = x.map((v) => -v + 3 * Math.sin(7 * v))
    const t = Correlation.rankTest(x, planted, { permutations: 999, seed: 1, alternative: "less" })
    expect(t.rho).toBeLessThan(-0.8)
    expect(t.pValue).toBe(1 / 1000) // the floor: no shuffle is as extreme
    const noise = x.map(
      (v) => Math.sin(12.9898 * v) * 43758.5453 - Math.floor(Math.sin(12.9898 * v) * 43758.5453),
    )
    const u = Correlation.rankTest(x, noise, { permutations: 999, seed: 1 })
    expect(u.pValue).toBeGreaterThan(0.05)
    expect(Correlation.rankTest(x, noise, { permutations: 999, seed: 1 })).toEqual(u)
    expect(Correlation.rankTest(x, noise, { permutations: 999, seed: 2 }).pValue).not.toBe(u.pValue)
  })

  it("gives ρ = NaN and p = 1 when one side is constant", () => {
    const t = Correlation.rankTest([1, 2, 3, 4], [5, 5, 5, 5])
    expect(t.rho).toBeNaN()
    expect(t.pValue).toBe(1)
  })
})
