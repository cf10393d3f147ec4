/**
 * Directions in parameter space for loss-landscape slices, after Li et al., "Visualizing the
 * Loss Landscape of Neural Nets" (NeurIPS 2018): a seeded Gaussian direction, rescaled *filter by
 * filter* to the norms of the model's own filters, so that slices of networks with different
 * weight scales (scale-invariant ReLU/batch-norm layers) can be compared. In tfjs layout the last
 * axis of a kernel indexes its filters/neurons (dense `[in, out]`, conv `[k, k, in, out]`), so a
 * filter is one slice along the last axis. Tensors of rank ≤ 1 (biases, batch-norm and
 * layer-norm parameters) are zeroed by default, as in the paper's `ignore = "biasbn"`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Direction from "./src/probes/Direction.js"
 * import * as Vector from "./src/probes/Vector.js"
 * const theta = Vector.fromTree({ dense0: { kernel: tf.ones([4, 3]), bias: tf.ones([3]) } })
 * const d = Direction.make(theta, { seed: 1 }) // kernel columns of norm 2, bias zero
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Rng from "../data/Rng.js"
import * as Vector from "./Vector.js"

/**
 * How a random direction is rescaled to the model:
 *
 * - `filter` (default): each filter (slice along the last axis) to the norm of the same filter
 *   of θ;
 * - `layer`: each tensor to the norm of the same tensor of θ;
 * - `none`: left as drawn (unit-variance Gaussian).
 *
 * @example
 * ```ts
 * import * as Direction from "./src/probes/Direction.js"
 * const n: Direction.Normalization = "filter"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Normalization = "filter" | "layer" | "none"

/**
 * Options of {@link make}: the seed, the normalisation, and what to do with tensors of rank ≤ 1
 * (`"zero"`, the default, or `"copy"` θ's values into the direction, the paper's other choice).
 *
 * @example
 * ```ts
 * import * as Direction from "./src/probes/Direction.js"
 * const o: Direction.Options = { seed: 7, normalization: "filter", vectors: "zero" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly seed: number
  readonly normalization?: Normalization
  readonly vectors?: "zero" | "copy"
}

/**
 * A standard-normal direction shaped like θ, seeded per parameter path (the same seed and paths
 * give the same direction on every backend).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Direction from "./src/probes/Direction.js"
 * import * as Vector from "./src/probes/Vector.js"
 * const g = Direction.gaussian(Vector.fromTree({ w: tf.zeros([3, 2]) }), 5)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const gaussian = (theta: Vector.Vector, seed: number): Vector.Vector =>
  Vector.map(theta, (t, _i, path) =>
    tf.randomNormal(t.shape, 0, 1, "float32", Rng.derive(seed, "direction", path) >>> 0),
  )

/**
 * The norm of every filter of a tensor of rank ≥ 2: a vector over its last axis (each entry the
 * Euclidean norm over all other axes). A tensor of rank ≤ 1 gives its whole norm as one entry.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Direction from "./src/probes/Direction.js"
 * tf.tidy(() => Direction.filterNorms(tf.tensor2d([[3, 0], [4, 1]])).arraySync()) // [5, 1]
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const filterNorms = (t: tf.Tensor): tf.Tensor1D =>
  tf.tidy(() =>
    t.rank <= 1
      ? (tf.reshape(tf.norm(t), [1]) as tf.Tensor1D)
      : (tf.sqrt(
          tf.sum(
            tf.square(t),
            Array.from({ length: t.rank - 1 }, (_, i) => i),
          ),
        ) as tf.Tensor1D),
  )

/**
 * Rescales a direction to θ ({@link Normalization}); rank ≤ 1 tensors are zeroed or copied from
 * θ (`vectors`). The result is new tensors; the inputs are untouched.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Direction from "./src/probes/Direction.js"
 * import * as Vector from "./src/probes/Vector.js"
 * const theta = Vector.fromTree({ k: tf.ones([2, 2]) })
 * const d = Direction.normalize(Direction.gaussian(theta, 1), theta, "filter")
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const normalize = (
  direction: Vector.Vector,
  theta: Vector.Vector,
  normalization: Normalization = "filter",
  vectors: "zero" | "copy" = "zero",
): Vector.Vector => {
  const thetas = new Map(theta.paths.map((p, i) => [p, theta.tensors[i]!]))
  return Vector.map(direction, (d, _i, path) =>
    tf.tidy(() => {
      const w = thetas.get(path)
      if (w === undefined) throw new Error(`the direction has "${path}", which θ has not`)
      if (d.rank <= 1) return vectors === "zero" ? tf.zerosLike(d) : tf.clone(w)
      switch (normalization) {
        case "none":
          return tf.clone(d)
        case "layer":
          return tf.mul(d, tf.div(tf.norm(w), tf.add(tf.norm(d), 1e-10)))
        case "filter":
          // [out] ratios broadcast along the last axis
          return tf.mul(d, tf.div(filterNorms(w), tf.add(filterNorms(d), 1e-10)))
      }
    }),
  )
}

/**
 * A seeded random direction, normalised to θ (filter-wise by default, rank ≤ 1 tensors zeroed).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Direction from "./src/probes/Direction.js"
 * import * as Vector from "./src/probes/Vector.js"
 * const theta = Vector.fromTree({ conv: { kernel: tf.ones([3, 3, 1, 8]), bias: tf.zeros([8]) } })
 * const d = Direction.make(theta, { seed: 2 })
 * Vector.dispose(d)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (theta: Vector.Vector, options: Options): Vector.Vector => {
  const g = gaussian(theta, options.seed)
  const d = normalize(g, theta, options.normalization ?? "filter", options.vectors ?? "zero")
  Vector.dispose(g)
  return d
}
