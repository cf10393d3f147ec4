/**
 * Classification metrics over typed arrays (accuracy, NLL, ECE, agreement, confusion, per-exit
 * accuracy, ensembles) and a streaming accumulator.
 *
 * @example
 * ```ts
 * import { Metrics } from "./index.js"
 * Metrics.accuracy(new Float32Array([2, 0, 0, 3]), new Int32Array([0, 0]), 2) // 0.5
 * ```
 *
 * @since 0.1.0
 */

/**
 * Rank correlation (Spearman's ρ with midranks) and its seeded permutation p-value.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Correlation from "./Correlation.js"
/**
 * Few-shot episodes and probes (RFS): seeded N-way K-shot sampling, logistic-regression and
 * nearest-centroid probes, the 95 % confidence interval.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Episodes from "./Episodes.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Metrics from "./Metrics.js"
