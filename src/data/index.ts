/**
 * Data sets for Retort: the `Data` service and the modules behind it.
 *
 * @example
 * ```ts
 * import { Data, DataSpec, Dataset, Batches } from "retort"
 * ```
 *
 * @since 0.1.0
 */

/**
 * Mini-batches over a split: seeded per-epoch order, resumable positions.
 *
 * @since 0.1.0
 */
export * as Batches from "./Batches.js"

/**
 * CIFAR-10 and CIFAR-100 in their standard binary format: locating, downloading, reading.
 *
 * @since 0.1.0
 */
export * as Cifar from "./Cifar.js"

/**
 * The `Data` service and its Node layer.
 *
 * @since 0.1.0
 */
export { Data, type Loaded } from "./Data.js"
/**
 * Which data set to load.
 *
 * @since 0.1.0
 */
export * as DataSpec from "./DataSpec.js"
/**
 * In-memory data sets and splits.
 *
 * @since 0.1.0
 */
export * as Dataset from "./Dataset.js"
/**
 * Synthetic domains (Rotated MNIST / Fashion-MNIST) and selection by domain.
 *
 * @since 0.1.0
 */
export * as Domains from "./Domains.js"

/**
 * Verified, atomic downloads.
 *
 * @since 0.1.0
 */
export * as Download from "./Download.js"

/**
 * Fashion-MNIST: locating, downloading, reading.
 *
 * @since 0.1.0
 */
export * as FashionMnist from "./FashionMnist.js"
/**
 * The IDX file format.
 *
 * @since 0.1.0
 */
export * as Idx from "./Idx.js"
/**
 * Image folders (one sub-folder per class), decoded with sharp and cached by content.
 *
 * @since 0.1.0
 */
export * as ImageFolder from "./ImageFolder.js"

/**
 * The embedded MNIST digits.
 *
 * @since 0.1.0
 */
export * as Mnist from "./Mnist.js"

/**
 * Seeded randomness for shuffles and splits.
 *
 * @since 0.1.0
 */
export * as Rng from "./Rng.js"
