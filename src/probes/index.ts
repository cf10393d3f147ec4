/**
 * Loss-landscape and sharpness probes for any trained model of any recipe (recipe 10 of the
 * method catalogue; also SWA's "flatter" claim): the loss on fixed samples, 1-D interpolations,
 * 2-D filter-normalised slices, the top Hessian eigenvalue and the ε-ball worst-case loss rise —
 * as JSON-serialisable records, plots, and a run-directory entry point used by `retort probe`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Landscape, Sharpness } from "./src/probes/index.js"
 * declare const built: import("./src/models/index.js").Built
 * declare const dataset: import("./src/data/Dataset.js").Dataset
 * const slice = Effect.runPromise(Landscape.slice2d(built, built.params, dataset, { steps: 11 }))
 * const sharp = Effect.runPromise(Sharpness.sharpness(built, built.params, dataset, { method: "hessian" }))
 * ```
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 * @category modules
 */
export * as Direction from "./Direction.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Landscape from "./Landscape.js"
/**
 * The probes by the names the task gives them.
 *
 * @since 0.1.0
 * @category probes
 */
export { interpolate1d, slice2d } from "./Landscape.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Objective from "./Objective.js"
/**
 * @since 0.1.0
 * @category probes
 */
export { lossOn } from "./Objective.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Probe from "./Probe.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Report from "./Report.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as RunDir from "./RunDir.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Samples from "./Samples.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Sharpness from "./Sharpness.js"
/**
 * @since 0.1.0
 * @category probes
 */
export { sharpness } from "./Sharpness.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Vector from "./Vector.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Watermark from "./Watermark.js"
