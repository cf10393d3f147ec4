/**
 * The fixed set of samples a probe evaluates on: a seeded, deterministic subset of one split of a
 * data set, uploaded once as batches of tensors (images, labels, one-hot labels) so that the
 * probes' hot loops run synchronously over them without copying. Every probe of a comparison
 * should use the same `Samples` (same split, size and seed), so that their numbers are comparable.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Samples from "./src/probes/Samples.js"
 * declare const dataset: import("./src/data/Dataset.js").Dataset
 * const samples = Effect.runSync(Samples.make(dataset, { samples: 1000, split: "train", seed: 0 }))
 * samples.n // 1000
 * samples.dispose()
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import * as Batches from "../data/Batches.js"
import type * as Dataset from "../data/Dataset.js"
import * as Rng from "../data/Rng.js"
import { DataError } from "../errors.js"

/**
 * Which split of the data set to take samples from.
 *
 * @example
 * ```ts
 * import * as Samples from "./src/probes/Samples.js"
 * const split: Samples.SplitName = "test"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type SplitName = "train" | "validation" | "test"

/**
 * How to choose the samples: `samples` images (default 1,000, capped at the split's size) of
 * `split` (default `"train"`: loss landscapes and sharpness are properties of the training
 * objective), chosen by a permutation seeded with `seed` (default 0), in batches of `batchSize`
 * (default 500).
 *
 * @example
 * ```ts
 * import * as Samples from "./src/probes/Samples.js"
 * const o: Samples.Options = { samples: 2000, split: "test", batchSize: 250, seed: 1 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly samples?: number
  readonly split?: SplitName
  readonly batchSize?: number
  readonly seed?: number
}

/**
 * One uploaded batch: NHWC images, integer labels and their one-hot form.
 *
 * @example
 * ```ts
 * import * as Samples from "./src/probes/Samples.js"
 * declare const s: Samples.Samples
 * const first: Samples.Batch = s.batches[0]!
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Batch {
  readonly x: tf.Tensor4D
  readonly labels: tf.Tensor1D
  readonly oneHot: tf.Tensor2D
}

/**
 * A fixed evaluation set: `n` samples in `batches`, `classes` classes, and where they came from.
 * Owns its tensors: call `dispose` when done.
 *
 * @example
 * ```ts
 * import * as Samples from "./src/probes/Samples.js"
 * const s: Samples.Samples = Samples.fromArrays({ x: new Float32Array(4), y: Int32Array.of(1), shape: [2, 2, 1], classes: 2 })
 * s.dispose()
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Samples {
  readonly _tag: "Samples"
  readonly n: number
  readonly classes: number
  readonly split: SplitName
  readonly seed: number
  readonly batches: ReadonlyArray<Batch>
  readonly dispose: () => void
}

/**
 * The indices a `Samples` of `n` out of `total` takes with `seed`: the first `n` entries of a
 * seeded permutation (all of them, in order, when `n ≥ total`).
 *
 * @example
 * ```ts
 * import * as Samples from "./src/probes/Samples.js"
 * Samples.indices(10, 3, 0).length // 3
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const indices = (total: number, n: number, seed: number): Int32Array =>
  n >= total ? Rng.identity(total) : Rng.permutation(total, Rng.derive(seed, "probe-samples")).slice(0, n)

/**
 * Uploads images and labels (already chosen) as batches.
 *
 * @example
 * ```ts
 * import * as Samples from "./src/probes/Samples.js"
 * const s = Samples.fromArrays({ x: new Float32Array(2 * 4), y: Int32Array.of(0, 1), shape: [2, 2, 1], classes: 2 })
 * s.n // 2
 * s.dispose()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromArrays = (options: {
  readonly x: Float32Array
  readonly y: Int32Array
  readonly shape: Dataset.Shape
  readonly classes: number
  readonly batchSize?: number
  readonly split?: SplitName
  readonly seed?: number
}): Samples => {
  const [h, w, c] = options.shape
  const size = h * w * c
  const n = options.y.length
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? 500))
  const batches: Array<Batch> = []
  for (let i = 0; i < n; i += batchSize) {
    const k = Math.min(batchSize, n - i)
    const labels = tf.tensor1d(options.y.slice(i, i + k), "int32")
    batches.push({
      x: tf.tensor4d(options.x.slice(i * size, (i + k) * size), [k, h, w, c]),
      labels,
      oneHot: tf.tidy(() => tf.cast(tf.oneHot(labels, options.classes), "float32") as tf.Tensor2D),
    })
  }
  let disposed = false
  return {
    _tag: "Samples",
    n,
    classes: options.classes,
    split: options.split ?? "train",
    seed: options.seed ?? 0,
    batches,
    dispose: () => {
      if (disposed) return
      disposed = true
      for (const b of batches) {
        b.x.dispose()
        b.labels.dispose()
        b.oneHot.dispose()
      }
    },
  }
}

/**
 * Chooses and uploads the samples of a data set ({@link Options}). Fails with a `DataError` when
 * the split is missing or empty.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Samples from "./src/probes/Samples.js"
 * declare const dataset: import("./src/data/Dataset.js").Dataset
 * const s = Effect.runSync(Samples.make(dataset, { samples: 500 }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (dataset: Dataset.Dataset, options: Options = {}): Effect.Effect<Samples, DataError> =>
  Effect.suspend(() => {
    const name = options.split ?? "train"
    const split = dataset[name]
    if (split === undefined || split.n === 0)
      return Effect.fail(
        new DataError({
          message: `${dataset.name} has no ${name} split to probe on`,
          ...(name === "validation" ? { hint: "probe the train or test split" } : {}),
        }),
      )
    const wanted = options.samples ?? 1000
    if (!Number.isInteger(wanted) || wanted < 1)
      return Effect.fail(new DataError({ message: `samples must be a positive integer, got ${wanted}` }))
    const seed = options.seed ?? 0
    const chosen = Batches.gather(split, indices(split.n, Math.min(wanted, split.n), seed))
    return Effect.succeed(
      fromArrays({
        x: chosen.x,
        y: chosen.y,
        shape: dataset.shape,
        classes: dataset.classes,
        split: name,
        seed,
        ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
      }),
    )
  })

/**
 * {@link make} whose tensors are disposed when the scope closes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Samples from "./src/probes/Samples.js"
 * declare const dataset: import("./src/data/Dataset.js").Dataset
 * const n = Effect.runSync(Effect.scoped(Effect.map(Samples.scoped(dataset), (s) => s.n)))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const scoped = (dataset: Dataset.Dataset, options: Options = {}) =>
  Effect.acquireRelease(make(dataset, options), (s) => Effect.sync(s.dispose))
