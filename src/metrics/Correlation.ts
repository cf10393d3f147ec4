/**
 * Rank correlation with a seeded permutation test: Spearman's ρ (Pearson's correlation of the
 * midranks, so ties get the average of the ranks they span — `simple-statistics`'
 * `sampleRankCorrelation`) and its p-value from `B` shuffles of one variable against the other,
 * `(1 + #{shuffles at least as extreme}) / (1 + B)` — distribution-free, exact in the limit, and
 * reproducible from its seed. Used by the experiments that claim a monotone relation between two
 * measurements (e.g. sharpness against held-out-domain accuracy).
 *
 * @example
 * ```ts
 * import { Correlation } from "./src/metrics/index.js"
 * const t = Correlation.rankTest([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5], { permutations: 999, seed: 1 })
 * t.rho // 0.829
 * t.pValue // ≈ 0.058 (exactly 42 of the 720 orderings are as extreme)
 * ```
 *
 * @since 0.1.0
 */
import { sampleRankCorrelation } from "simple-statistics"
import * as Rng from "../data/Rng.js"

/**
 * Which departure from "no relation" the p-value counts: `"two-sided"` (|ρ|, the default),
 * `"less"` (ρ < 0, e.g. "sharper goes with worse") or `"greater"`.
 *
 * @example
 * ```ts
 * import { Correlation } from "./src/metrics/index.js"
 * const a: Correlation.Alternative = "less"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Alternative = "two-sided" | "less" | "greater"

/**
 * The outcome of {@link rankTest}: Spearman's ρ, its permutation p-value, the number of shuffles
 * and of pairs, and the alternative the p-value is for.
 *
 * @example
 * ```ts
 * import { Correlation } from "./src/metrics/index.js"
 * declare const t: Correlation.RankTest
 * console.log(`ρ = ${t.rho.toFixed(2)}, p = ${t.pValue.toFixed(3)} (n = ${t.n})`)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RankTest {
  readonly rho: number
  readonly pValue: number
  readonly permutations: number
  readonly n: number
  readonly alternative: Alternative
}

const check = (x: ReadonlyArray<number>, y: ReadonlyArray<number>) => {
  if (x.length !== y.length)
    throw new RangeError(`rank correlation of ${x.length} against ${y.length} values`)
  if (x.length < 3) throw new RangeError(`rank correlation needs at least 3 pairs, got ${x.length}`)
  if (![...x, ...y].every(Number.isFinite))
    throw new RangeError("rank correlation of a value that is not finite")
}

/**
 * Spearman's rank correlation ρ ∈ [−1, 1] of paired values (midranks for ties); `NaN` when one
 * side is constant. Throws a `RangeError` for unequal lengths, fewer than 3 pairs or a value that
 * is not finite.
 *
 * @example
 * ```ts
 * import { Correlation } from "./src/metrics/index.js"
 * Correlation.spearman([1, 2, 3, 4], [10, 20, 30, 40]) // 1
 * Correlation.spearman([1, 2, 3, 4], [4, 3, 2, 1]) // -1
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const spearman = (x: ReadonlyArray<number>, y: ReadonlyArray<number>): number => {
  check(x, y)
  return sampleRankCorrelation([...x], [...y])
}

/**
 * Spearman's ρ and its permutation p-value: `y` is shuffled against `x` `permutations` times
 * (default 9,999; Fisher–Yates from `seed`, default 0) and the p-value is
 * `(1 + #{ρ_shuffled at least as extreme as ρ}) / (1 + B)` for the chosen `alternative`
 * (default two-sided). Its floor is `1 / (1 + B)`. A constant side gives ρ = NaN and p = 1.
 *
 * @example
 * ```ts
 * import { Correlation } from "./src/metrics/index.js"
 * const t = Correlation.rankTest([0.1, 0.4, 0.2, 0.8, 0.5], [0.9, 0.6, 0.85, 0.5, 0.55], { alternative: "less" })
 * t.rho // -1 (the sharper, the worse)
 * t.pValue // ≈ 1/120, the one ordering of 5 that is as extreme
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const rankTest = (
  x: ReadonlyArray<number>,
  y: ReadonlyArray<number>,
  options: {
    readonly permutations?: number
    readonly seed?: number
    readonly alternative?: Alternative
  } = {},
): RankTest => {
  const rho = spearman(x, y)
  const permutations = Math.max(1, Math.floor(options.permutations ?? 9999))
  const alternative = options.alternative ?? "two-sided"
  if (Number.isNaN(rho)) return { rho, pValue: 1, permutations, n: x.length, alternative }
  // a shuffled ρ within rounding of the observed one counts as "as extreme" (ties of ranks)
  const tol = 1e-12
  const extreme = (r: number) =>
    alternative === "less"
      ? r <= rho + tol
      : alternative === "greater"
        ? r >= rho - tol
        : Math.abs(r) >= Math.abs(rho) - tol
  const g = Rng.make(options.seed ?? 0)
  const xs = [...x]
  const shuffled = Float64Array.from(y)
  let count = 0
  for (let b = 0; b < permutations; b++) {
    Rng.shuffle(shuffled, g)
    if (extreme(sampleRankCorrelation(xs, [...shuffled]))) count++
  }
  return { rho, pValue: (1 + count) / (1 + permutations), permutations, n: x.length, alternative }
}
