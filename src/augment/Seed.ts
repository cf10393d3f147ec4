/**
 * Deterministic randomness for augmentations: one integer seed per step is split, by hashing,
 * into independent seeds per operation and per draw, and every draw is a seeded TensorFlow.js
 * random tensor (`tf.randomUniform`, `tf.randomNormal`, `tf.randomGamma` with an explicit seed).
 * Same seed ⇒ same tensors, on every backend (the generators run in JavaScript).
 *
 * All functions are synchronous and create tensors in the caller's `tf.tidy` scope.
 *
 * @example
 * ```ts
 * import * as Seed from "./Seed.js"
 * const s = Seed.derive(42, 3) // the seed of op #3 at step seed 42
 * const u = Seed.uniform([8], 0, 1, Seed.derive(s, 0))
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"

const fmix32 = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * A new 32-bit seed from a seed and a path of integer keys (murmur3-style mixing). Distinct
 * paths give unrelated seeds; the same path always gives the same seed. Any finite number is
 * accepted as the root seed (its integer part, all 53 bits, is used).
 *
 * @example
 * ```ts
 * import * as Seed from "./Seed.js"
 * Seed.derive(7, 0) === Seed.derive(7, 0) // true
 * Seed.derive(7, 0) !== Seed.derive(7, 1) // true
 * ```
 *
 * @since 0.1.0
 * @category seeds
 */
export const derive = (seed: number, ...keys: ReadonlyArray<number>): number => {
  const s = Number.isFinite(seed) ? Math.trunc(seed) : 0
  const lo = s >>> 0
  const hi = Math.floor(s / 4294967296) >>> 0
  let h = fmix32(lo ^ fmix32((hi + 0x9e3779b9) >>> 0))
  for (const k of keys) h = fmix32((h ^ Math.imul((k >>> 0) + 0x7f4a7c15, 0x9e3779b1)) >>> 0)
  return h
}

/**
 * Uniform float32 samples in `[lo, hi)`.
 *
 * @example
 * ```ts
 * import * as Seed from "./Seed.js"
 * const u = Seed.uniform([4], -1, 1, 123)
 * ```
 *
 * @since 0.1.0
 * @category draws
 */
export const uniform = (shape: ReadonlyArray<number>, lo: number, hi: number, seed: number): tf.Tensor =>
  tf.randomUniform([...shape], lo, hi, "float32", seed)

/**
 * Per-sample Bernoulli decisions: a `[b]` boolean tensor, each true with probability `p`.
 *
 * @example
 * ```ts
 * import * as Seed from "./Seed.js"
 * const apply = Seed.bernoulli(8, 0.5, 9)
 * ```
 *
 * @since 0.1.0
 * @category draws
 */
export const bernoulli = (b: number, p: number, seed: number): tf.Tensor1D =>
  tf.less(uniform([b], 0, 1, seed), p) as tf.Tensor1D

/**
 * Per-sample integers uniform in `{0, …, n − 1}` as float32 (`n` a number or a `[b]` tensor of
 * per-sample counts ≥ 1).
 *
 * @example
 * ```ts
 * import * as Seed from "./Seed.js"
 * const offsets = Seed.integers(8, 5, 11) // each in 0..4
 * ```
 *
 * @since 0.1.0
 * @category draws
 */
export const integers = (b: number, n: number | tf.Tensor, seed: number): tf.Tensor1D => {
  const k = tf.floor(tf.mul(uniform([b], 0, 1, seed), n))
  return tf.minimum(k, tf.sub(n, 1)) as tf.Tensor1D
}

/**
 * Per-sample random signs, −1 or +1 with equal probability.
 *
 * @example
 * ```ts
 * import * as Seed from "./Seed.js"
 * const s = Seed.signs(8, 3)
 * ```
 *
 * @since 0.1.0
 * @category draws
 */
export const signs = (b: number, seed: number): tf.Tensor1D =>
  tf.sub(tf.mul(tf.cast(bernoulli(b, 0.5, seed), "float32"), 2), 1) as tf.Tensor1D

/**
 * Per-sample `Beta(alpha, alpha)` samples as `G₁ / (G₁ + G₂)` with independent gammas; `0.5`
 * where both gammas underflow (tiny `alpha`).
 *
 * @example
 * ```ts
 * import * as Seed from "./Seed.js"
 * const lambda = Seed.beta(8, 0.2, 5)
 * ```
 *
 * @since 0.1.0
 * @category draws
 */
export const beta = (b: number, alpha: number, seed: number): tf.Tensor1D => {
  const g1 = tf.randomGamma([b], alpha, 1, "float32", derive(seed, 0))
  const g2 = tf.randomGamma([b], alpha, 1, "float32", derive(seed, 1))
  const sum = tf.add(g1, g2)
  const ok = tf.greater(sum, 0)
  return tf.where(ok, tf.div(g1, tf.where(ok, sum, tf.onesLike(sum))), tf.fill([b], 0.5)) as tf.Tensor1D
}

/**
 * A random permutation of `0 … b − 1` (int32), by ranking seeded uniform keys.
 *
 * @example
 * ```ts
 * import * as Seed from "./Seed.js"
 * const perm = Seed.permutation(8, 1) // e.g. [3, 0, 7, …]
 * ```
 *
 * @since 0.1.0
 * @category draws
 */
export const permutation = (b: number, seed: number): tf.Tensor1D =>
  tf.topk(uniform([b], 0, 1, seed), b).indices as tf.Tensor1D
