/**
 * The soft-label watermark of a frozen forward (`dsl/Watermark.ts`), compiled: the keyed
 * projection `g(x)` and the perturbation `p ↦ p̃`, as tensor functions that run inside the step's
 * `tf.tidy`, plus the calibration of a key's `center`/`scale` over a set of images. The detector
 * (`src/probes/Watermark.ts`) uses the same projection.
 *
 * - `w`: a unit vector of `d = h·w·c` standard normal draws, from the key's seed alone.
 * - `z(x) = w·x̂`, with `x̂` the image's pixels standardised to mean 0 and variance 1 (so
 *   `‖x̂‖² = d` and, over random keys, `z ~ N(0, 1)`).
 * - `g(x) = Φ((z − center)/scale) ∈ [0, 1]`.
 * - `p̃ᵢ = (pᵢ + ε(1 + cos(k·g + φᵢ))) / (1 + Σⱼ ε(1 + cos(k·g + φⱼ)))`, `φ = 0` for the top
 *   class of `p` and `π` for the others; the forward writes `log p̃`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Watermark } from "./dsl/index.js"
 * import * as Watermarking from "./src/compile/watermark.js"
 * const key = Watermark.make({ seed: 1 })
 * const x = tf.randomUniform([4, 28, 28, 1]) as tf.Tensor4D
 * const logP = Watermarking.perturb(key, tf.randomNormal([4, 10]) as tf.Tensor2D, x)
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import type * as Watermark from "../../dsl/Watermark.js"
import * as Rng from "../data/Rng.js"

const vectors = new Map<string, Float32Array>()

/**
 * The key's secret unit vector in `d` dimensions (deterministic in the seed; memoised).
 *
 * @example
 * ```ts
 * import * as Watermarking from "./src/compile/watermark.js"
 * const w = Watermarking.keyVector(7, 784)
 * w.reduce((s, v) => s + v * v, 0) // ≈ 1
 * ```
 *
 * @since 0.1.0
 * @category keys
 */
export const keyVector = (seed: number, d: number): Float32Array => {
  const id = `${seed}/${d}`
  const hit = vectors.get(id)
  if (hit) return hit
  const out = new Float32Array(d)
  let norm = 0
  for (let i = 0; i < d; i++) {
    // Box–Muller on two hashed uniforms in (0, 1)
    const u1 = ((Rng.derive(seed, "watermark", i, 0) >>> 0) + 0.5) / 4294967296
    const u2 = ((Rng.derive(seed, "watermark", i, 1) >>> 0) + 0.5) / 4294967296
    const v = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
    out[i] = v
    norm += v * v
  }
  const s = 1 / Math.sqrt(norm)
  for (let i = 0; i < d; i++) out[i]! *= s
  vectors.set(id, out)
  return out
}

/**
 * The raw projection `z(x) = w·x̂` of a batch of images, `[b]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Watermarking from "./src/compile/watermark.js"
 * const z = Watermarking.project(3, tf.randomUniform([8, 28, 28, 1]) as tf.Tensor4D)
 * ```
 *
 * @since 0.1.0
 * @category keys
 */
export const project = (seed: number, x: tf.Tensor4D): tf.Tensor1D =>
  tf.tidy(() => {
    const [b, h, w, c] = x.shape
    const d = h * w * c
    const flat = tf.reshape(x, [b, d])
    const { mean, variance } = tf.moments(flat, 1, true)
    const xhat = tf.div(tf.sub(flat, mean), tf.sqrt(tf.add(variance, 1e-8)))
    const key = tf.tensor2d(keyVector(seed, d), [d, 1])
    return tf.reshape(tf.matMul(xhat, key), [b]) as tf.Tensor1D
  })

/**
 * The key's phase variable `g(x) = Φ((z − center)/scale) ∈ [0, 1]`, `[b]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Watermark } from "./dsl/index.js"
 * import * as Watermarking from "./src/compile/watermark.js"
 * const g = Watermarking.phase(Watermark.make({ seed: 3 }), tf.randomUniform([8, 28, 28, 1]) as tf.Tensor4D)
 * ```
 *
 * @since 0.1.0
 * @category keys
 */
export const phase = (key: Watermark.Watermark, x: tf.Tensor4D): tf.Tensor1D =>
  tf.tidy(() => {
    const u = tf.div(tf.sub(project(key.seed, x), key.center), key.scale * Math.SQRT2)
    return tf.mul(0.5, tf.add(1, tf.erf(u))) as tf.Tensor1D
  })

/**
 * The watermarked probabilities `p̃` of a batch, given the clean probabilities `p` `[b, K]` and
 * the phase `g` `[b]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Watermark } from "./dsl/index.js"
 * import * as Watermarking from "./src/compile/watermark.js"
 * const p = tf.softmax(tf.randomNormal([4, 10])) as tf.Tensor2D
 * const pt = Watermarking.perturbProbabilities(Watermark.make({ seed: 1, epsilon: 0.1 }), p, tf.linspace(0, 1, 4) as tf.Tensor1D)
 * ```
 *
 * @since 0.1.0
 * @category transforms
 */
export const perturbProbabilities = (key: Watermark.Watermark, p: tf.Tensor2D, g: tf.Tensor1D): tf.Tensor2D =>
  tf.tidy(() => {
    const [, k] = p.shape
    const top = tf.cast(tf.oneHot(tf.argMax(p, 1), k), "float32")
    const sign = tf.sub(tf.mul(top, 2), 1) // +1 for the top class (φ = 0), −1 for the others (φ = π)
    const cosine = tf.reshape(tf.cos(tf.mul(g, key.frequency)), [-1, 1])
    const add = tf.mul(key.epsilon, tf.add(1, tf.mul(sign, cosine)))
    const raw = tf.add(p, add)
    return tf.div(raw, tf.sum(raw, 1, true)) as tf.Tensor2D
  })

/**
 * What a watermarked frozen forward writes: `log p̃` for the teacher's logits on images `x`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Watermark } from "./dsl/index.js"
 * import * as Watermarking from "./src/compile/watermark.js"
 * const x = tf.randomUniform([2, 28, 28, 1]) as tf.Tensor4D
 * const logP = Watermarking.perturb(Watermark.make({ seed: 5 }), tf.zeros([2, 10]) as tf.Tensor2D, x)
 * ```
 *
 * @since 0.1.0
 * @category transforms
 */
export const perturb = (key: Watermark.Watermark, logits: tf.Tensor2D, x: tf.Tensor4D): tf.Tensor2D =>
  tf.tidy(
    () => tf.log(perturbProbabilities(key, tf.softmax(logits) as tf.Tensor2D, phase(key, x))) as tf.Tensor2D,
  )

/**
 * Calibrates a key over images (`n` images of `shape`, flattened row by row): `center` and
 * `scale` become the mean and standard deviation of `z` over them, so that `g` is close to
 * uniform on `[0, 1]` over that data.
 *
 * @example
 * ```ts
 * import { Watermark } from "./dsl/index.js"
 * import * as Watermarking from "./src/compile/watermark.js"
 * const images = new Float32Array(16 * 784).map(() => Math.random())
 * const key = Watermarking.calibrate(Watermark.make({ seed: 2 }), images, [28, 28, 1])
 * ```
 *
 * @since 0.1.0
 * @category keys
 */
export const calibrate = (
  key: Watermark.Watermark,
  images: Float32Array,
  shape: readonly [number, number, number],
): Watermark.Watermark => {
  const z = projectAll(key.seed, images, shape)
  let mean = 0
  for (const v of z) mean += v
  mean /= Math.max(1, z.length)
  let variance = 0
  for (const v of z) variance += (v - mean) ** 2
  variance /= Math.max(1, z.length - 1)
  const scale = Math.sqrt(variance)
  return { ...key, center: mean, scale: scale > 0 ? scale : 1 }
}

/**
 * `z` of every image in a flat array (in batches; synchronous read-back).
 *
 * @example
 * ```ts
 * import * as Watermarking from "./src/compile/watermark.js"
 * const z = Watermarking.projectAll(1, new Float32Array(2 * 784).fill(0.5), [28, 28, 1])
 * ```
 *
 * @since 0.1.0
 * @category keys
 */
export const projectAll = (seed: number, images: Float32Array, shape: readonly [number, number, number]) => {
  const [h, w, c] = shape
  const size = h * w * c
  const n = Math.floor(images.length / size)
  const out = new Float32Array(n)
  const batch = 1000
  for (let i = 0; i < n; i += batch) {
    const k = Math.min(batch, n - i)
    const z = tf.tidy(() =>
      project(seed, tf.tensor4d(images.subarray(i * size, (i + k) * size), [k, h, w, c])),
    )
    out.set(z.dataSync(), i)
    z.dispose()
  }
  return out
}
