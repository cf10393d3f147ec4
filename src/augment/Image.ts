/**
 * Batched image primitives for augmentations and corruptions, written with tfjs-core ops that
 * every backend has (cpu, wasm, webgl, webgpu, tensorflow): per-sample affine warps, box masks,
 * per-sample selection, gaussian blur, contrast. Images are `[b, h, w, c]` float32 in [0, 1].
 *
 * All functions are synchronous and create tensors in the caller's `tf.tidy` scope.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Image from "./Image.js"
 * const x = tf.zeros([2, 8, 8, 1]) as tf.Tensor4D
 * const shifted = Image.warp(x, Image.translation(tf.tensor1d([1, -1]), tf.tensor1d([0, 2])), "nearest")
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"

/**
 * A per-sample coefficient: one number for the whole batch, or a `[b]` tensor.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import type * as Image from "./Image.js"
 * const shared: Image.Coefficient = 0.5
 * const perSample: Image.Coefficient = tf.tensor1d([0.1, -0.2])
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Coefficient = number | tf.Tensor1D

/**
 * A per-sample affine map from an **output** pixel `(x, y)` (column, row) to the **input**
 * point it samples: `x_in = a0·x + a1·y + a2`, `y_in = b0·x + b1·y + b2` (the convention of
 * `tf.image.transform`).
 *
 * @example
 * ```ts
 * import * as Image from "./Image.js"
 * const identity: Image.Affine = { a0: 1, a1: 0, a2: 0, b0: 0, b1: 1, b2: 0 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Affine {
  readonly a0: Coefficient
  readonly a1: Coefficient
  readonly a2: Coefficient
  readonly b0: Coefficient
  readonly b1: Coefficient
  readonly b2: Coefficient
}

/**
 * Translation of the content by `(dx, dy)` pixels (positive: right, down).
 *
 * @example
 * ```ts
 * import * as Image from "./Image.js"
 * Image.translation(2, -1)
 * ```
 *
 * @since 0.1.0
 * @category affine
 */
export const translation = (dx: Coefficient, dy: Coefficient): Affine => ({
  a0: 1,
  a1: 0,
  a2: neg(dx),
  b0: 0,
  b1: 1,
  b2: neg(dy),
})

/**
 * Rotation of the content by `theta` radians about the centre of an `h × w` image.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Image from "./Image.js"
 * Image.rotation(tf.tensor1d([0.1, -0.2]), 28, 28)
 * ```
 *
 * @since 0.1.0
 * @category affine
 */
export const rotation = (theta: tf.Tensor1D, h: number, w: number): Affine => {
  const cx = (w - 1) / 2
  const cy = (h - 1) / 2
  const cos = tf.cos(theta) as tf.Tensor1D
  const sin = tf.sin(theta) as tf.Tensor1D
  return {
    a0: cos,
    a1: tf.neg(sin) as tf.Tensor1D,
    a2: tf.add(tf.sub(cx, tf.mul(cos, cx)), tf.mul(sin, cy)) as tf.Tensor1D,
    b0: sin,
    b1: cos,
    b2: tf.sub(tf.sub(cy, tf.mul(sin, cx)), tf.mul(cos, cy)) as tf.Tensor1D,
  }
}

/**
 * Horizontal shear by `s` about the middle row (`x_in = x + s·(y − cy)`).
 *
 * @example
 * ```ts
 * import * as Image from "./Image.js"
 * Image.shearX(0.2, 28)
 * ```
 *
 * @since 0.1.0
 * @category affine
 */
export const shearX = (s: Coefficient, h: number): Affine => ({
  a0: 1,
  a1: s,
  a2: scale(s, -(h - 1) / 2),
  b0: 0,
  b1: 1,
  b2: 0,
})

/**
 * Vertical shear by `s` about the middle column (`y_in = y + s·(x − cx)`).
 *
 * @example
 * ```ts
 * import * as Image from "./Image.js"
 * Image.shearY(0.2, 28)
 * ```
 *
 * @since 0.1.0
 * @category affine
 */
export const shearY = (s: Coefficient, w: number): Affine => ({
  a0: 1,
  a1: 0,
  a2: 0,
  b0: s,
  b1: 1,
  b2: scale(s, -(w - 1) / 2),
})

const neg = (c: Coefficient): Coefficient => (typeof c === "number" ? -c : (tf.neg(c) as tf.Tensor1D))
const scale = (c: Coefficient, k: number): Coefficient =>
  typeof c === "number" ? c * k : (tf.mul(c, k) as tf.Tensor1D)

const column = (c: Coefficient, b: number): tf.Tensor1D =>
  typeof c === "number" ? (tf.fill([b], c) as tf.Tensor1D) : c

/**
 * Per-sample choice between two affine maps: `a` where the `[b]` boolean `mask` is true, else
 * `b`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Image from "./Image.js"
 * const m = Image.selectAffine(tf.tensor1d([true, false], "bool"), Image.translation(1, 0), Image.translation(0, 0), 2)
 * ```
 *
 * @since 0.1.0
 * @category affine
 */
export const selectAffine = (mask: tf.Tensor1D, a: Affine, b: Affine, batch: number): Affine => {
  const pick = (u: Coefficient, v: Coefficient): tf.Tensor1D =>
    tf.where(mask, column(u, batch), column(v, batch)) as tf.Tensor1D
  return {
    a0: pick(a.a0, b.a0),
    a1: pick(a.a1, b.a1),
    a2: pick(a.a2, b.a2),
    b0: pick(a.b0, b.b0),
    b1: pick(a.b1, b.b1),
    b2: pick(a.b2, b.b2),
  }
}

/**
 * The identity map.
 *
 * @example
 * ```ts
 * import * as Image from "./Image.js"
 * Image.identity.a0 // 1
 * ```
 *
 * @since 0.1.0
 * @category affine
 */
export const identity: Affine = { a0: 1, a1: 0, a2: 0, b0: 0, b1: 1, b2: 0 }

/**
 * The `[b, 8]` transform rows `tf.image.transform` expects.
 *
 * @example
 * ```ts
 * import * as Image from "./Image.js"
 * const rows = Image.rows(Image.translation(1, 0), 4) // [4, 8]
 * ```
 *
 * @since 0.1.0
 * @category affine
 */
export const rows = (m: Affine, b: number): tf.Tensor2D =>
  tf.stack(
    [m.a0, m.a1, m.a2, m.b0, m.b1, m.b2, 0, 0].map((c) => column(c, b)),
    1,
  ) as tf.Tensor2D

/**
 * Backends whose `Transform` kernel is wrong for batches: `@tensorflow/tfjs-backend-cpu` 4.22
 * returns after the first image (every other image comes back filled with 0). {@link warp}
 * uses {@link warpPerSample} there.
 *
 * @example
 * ```ts
 * import * as Image from "./Image.js"
 * Image.brokenTransform.has("cpu") // true
 * ```
 *
 * @since 0.1.0
 * @category warp
 */
export const brokenTransform: ReadonlySet<string> = new Set(["cpu"])

/**
 * Applies a per-sample affine map, sampling `nearest` or `bilinear`, points outside the input
 * read as 0. One `Transform` kernel call for the batch (`tf.image.transform`) where the
 * backend's kernel is correct, {@link warpPerSample} on {@link brokenTransform} backends.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Image from "./Image.js"
 * const x = tf.ones([2, 4, 4, 1]) as tf.Tensor4D
 * const y = Image.warp(x, Image.translation(1, 0), "nearest") // first column 0
 * ```
 *
 * @since 0.1.0
 * @category warp
 */
export const warp = (x: tf.Tensor4D, m: Affine, interpolation: "nearest" | "bilinear"): tf.Tensor4D =>
  brokenTransform.has(tf.getBackend())
    ? warpPerSample(x, m, interpolation)
    : tf.image.transform(x, rows(m, x.shape[0]), interpolation, "constant", 0)

/**
 * The same warp as {@link warp}, one `Transform` call per image (the workaround for backends
 * whose kernel only handles a batch of one; on the cpu backend this is ~50× faster than an
 * equivalent gather-based warp).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Image from "./Image.js"
 * const x = tf.ones([2, 4, 4, 1]) as tf.Tensor4D
 * const y = Image.warpPerSample(x, Image.translation(0, 1), "bilinear")
 * ```
 *
 * @since 0.1.0
 * @category warp
 */
export const warpPerSample = (
  x: tf.Tensor4D,
  m: Affine,
  interpolation: "nearest" | "bilinear",
): tf.Tensor4D => {
  const b = x.shape[0]
  if (b === 1) return tf.image.transform(x, rows(m, 1), interpolation, "constant", 0)
  const images = tf.split(x, b, 0) as Array<tf.Tensor4D>
  const maps = tf.split(rows(m, b), b, 0) as Array<tf.Tensor2D>
  return tf.concat(
    images.map((image, i) => tf.image.transform(image, maps[i]!, interpolation, "constant", 0)),
    0,
  ) as tf.Tensor4D
}

/**
 * A `[b, h, w, 1]` float32 mask, 1 inside the per-sample boxes `y0 ≤ row < y1`,
 * `x0 ≤ col < x1` and 0 elsewhere (bounds are `[b]` float tensors; boxes may extend past the
 * image). Built as the product of a row mask and a column mask (one broadcast multiply, fast on
 * every backend).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Image from "./Image.js"
 * const m = Image.boxMask(8, 8, tf.tensor1d([0]), tf.tensor1d([4]), tf.tensor1d([2]), tf.tensor1d([6]))
 * ```
 *
 * @since 0.1.0
 * @category masks
 */
export const boxMask = (
  h: number,
  w: number,
  y0: tf.Tensor1D,
  y1: tf.Tensor1D,
  x0: tf.Tensor1D,
  x1: tf.Tensor1D,
): tf.Tensor4D => {
  const r = tf.reshape(tf.range(0, h, 1, "float32"), [1, h, 1, 1])
  const c = tf.reshape(tf.range(0, w, 1, "float32"), [1, 1, w, 1])
  const col = (t: tf.Tensor1D) => tf.reshape(t, [-1, 1, 1, 1])
  const within = (i: tf.Tensor, lo: tf.Tensor1D, hi: tf.Tensor1D) =>
    tf.mul(tf.cast(tf.greaterEqual(i, col(lo)), "float32"), tf.cast(tf.less(i, col(hi)), "float32"))
  return tf.mul(within(r, y0, y1), within(c, x0, x1)) as tf.Tensor4D
}

/**
 * Per-sample choice: `a` where the `[b]` mask (boolean, or float 0/1) is set, else `b`, as
 * `a·m + b·(1 − m)` (exact for finite inputs, and fast on every backend, unlike a broadcast
 * `where`). A `null` mask means "every sample" (returns `a`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Image from "./Image.js"
 * const x = tf.zeros([2, 2, 2, 1]) as tf.Tensor4D
 * Image.select(tf.tensor1d([true, false], "bool"), tf.onesLike(x), x) // first image 1, second 0
 * ```
 *
 * @since 0.1.0
 * @category masks
 */
export const select = <T extends tf.Tensor>(mask: tf.Tensor1D | null, a: T, b: T): T => {
  if (mask === null) return a
  const m = tf.reshape(tf.cast(mask, "float32"), [-1, ...a.shape.slice(1).map(() => 1)])
  return blend(m, a, b)
}

/**
 * `a·m + b·(1 − m)` for a float mask `m` broadcastable to `a` (exactly `a` where `m` is 1 and
 * exactly `b` where it is 0, for finite inputs).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Image from "./Image.js"
 * Image.blend(tf.tensor1d([1, 0]), tf.tensor1d([5, 5]), tf.tensor1d([7, 7])) // [5, 7]
 * ```
 *
 * @since 0.1.0
 * @category masks
 */
export const blend = <T extends tf.Tensor>(m: tf.Tensor, a: T, b: T): T =>
  tf.add(tf.mul(a, m), tf.mul(b, tf.sub(1, m))) as T

/**
 * Clips to [0, 1].
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Image from "./Image.js"
 * Image.clip01(tf.tensor1d([-1, 0.5, 2])) // [0, 0.5, 1]
 * ```
 *
 * @since 0.1.0
 * @category pixels
 */
export const clip01 = <T extends tf.Tensor>(x: T): T => tf.clipByValue(x, 0, 1) as T

/**
 * Luminance `[b, h, w, 1]` (ITU-R 601 weights for 3 channels, the channel mean otherwise).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Image from "./Image.js"
 * Image.grayscale(tf.ones([1, 2, 2, 3]) as tf.Tensor4D) // ≈ 1 everywhere, shape [1, 2, 2, 1]
 * ```
 *
 * @since 0.1.0
 * @category pixels
 */
export const grayscale = (x: tf.Tensor4D): tf.Tensor4D => {
  const c = x.shape[3]
  if (c === 1) return x
  if (c === 3) return tf.sum(tf.mul(x, tf.tensor1d([0.299, 0.587, 0.114])), 3, true) as tf.Tensor4D
  return tf.mean(x, 3, true) as tf.Tensor4D
}

/**
 * Contrast change about each image's mean luminance: `clip((x − μ)·factor + μ)`; `factor` a
 * number or `[b]` per-sample factors.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Image from "./Image.js"
 * const x = tf.randomUniform([2, 4, 4, 1]) as tf.Tensor4D
 * const washed = Image.contrast(x, 0.3)
 * ```
 *
 * @since 0.1.0
 * @category pixels
 */
export const contrast = (x: tf.Tensor4D, factor: Coefficient): tf.Tensor4D => {
  const mu = tf.mean(grayscale(x), [1, 2, 3], true)
  const f = typeof factor === "number" ? factor : tf.reshape(factor, [-1, 1, 1, 1])
  return clip01(tf.add(tf.mul(tf.sub(x, mu), f), mu)) as tf.Tensor4D
}

/**
 * Blends each image with a degenerate version: `clip(d + factor·(x − d))` (PIL's
 * `ImageEnhance`: `factor` 1 is the identity, 0 gives `d`, > 1 extrapolates away from it).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Image from "./Image.js"
 * const x = tf.randomUniform([2, 4, 4, 1]) as tf.Tensor4D
 * const darker = Image.enhance(x, tf.zerosLike(x), 0.5)
 * ```
 *
 * @since 0.1.0
 * @category pixels
 */
export const enhance = (x: tf.Tensor4D, degenerate: tf.Tensor, factor: Coefficient): tf.Tensor4D => {
  const f = typeof factor === "number" ? factor : tf.reshape(factor, [-1, 1, 1, 1])
  return clip01(tf.add(degenerate, tf.mul(tf.sub(x, degenerate), f))) as tf.Tensor4D
}

const depthwise1d = (x: tf.Tensor4D, taps: ReadonlyArray<number>, axis: 1 | 2): tf.Tensor4D => {
  const c = x.shape[3]
  const k = taps.length
  const r = (k - 1) / 2
  const values = new Float32Array(k * c)
  for (let i = 0; i < k; i++) for (let j = 0; j < c; j++) values[i * c + j] = taps[i]!
  const filter = tf.tensor4d(values, axis === 2 ? [1, k, c, 1] : [k, 1, c, 1])
  const pad: Array<[number, number]> = [
    [0, 0],
    axis === 1 ? [r, r] : [0, 0],
    axis === 2 ? [r, r] : [0, 0],
    [0, 0],
  ]
  return tf.depthwiseConv2d(tf.mirrorPad(x, pad, "reflect"), filter, 1, "valid")
}

/**
 * Separable gaussian blur of standard deviation `sigma` pixels, truncated at `radius` pixels
 * (default `ceil(3·sigma)`; at most the side − 1 so that borders can be reflected).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Image from "./Image.js"
 * const x = tf.randomUniform([2, 8, 8, 1]) as tf.Tensor4D
 * const blurred = Image.gaussianBlur(x, 1)
 * ```
 *
 * @since 0.1.0
 * @category pixels
 */
export const gaussianBlur = (x: tf.Tensor4D, sigma: number, radius?: number): tf.Tensor4D => {
  if (!(sigma > 0)) return x
  const [, h, w] = x.shape
  const taps = (r: number): Array<number> => {
    const t: Array<number> = []
    for (let i = -r; i <= r; i++) t.push(Math.exp(-(i * i) / (2 * sigma * sigma)))
    const s = t.reduce((a, v) => a + v, 0)
    return t.map((v) => v / s)
  }
  const r = Math.max(0, Math.round(radius ?? Math.ceil(3 * sigma)))
  const rh = Math.min(r, h - 1)
  const rw = Math.min(r, w - 1)
  let out = x
  if (rw > 0) out = depthwise1d(out, taps(rw), 2)
  if (rh > 0) out = depthwise1d(out, taps(rh), 1)
  return out
}

/**
 * PIL's `SMOOTH` filter (3×3, centre weight 5, the rest 1, over 13), borders reflected: the
 * degenerate image of a sharpness change.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Image from "./Image.js"
 * const soft = Image.smooth(tf.randomUniform([1, 8, 8, 1]) as tf.Tensor4D)
 * ```
 *
 * @since 0.1.0
 * @category pixels
 */
export const smooth = (x: tf.Tensor4D): tf.Tensor4D => {
  const [, h, w, c] = x.shape
  if (h < 2 || w < 2) return x
  const values = new Float32Array(9 * c)
  for (let i = 0; i < 9; i++) for (let j = 0; j < c; j++) values[i * c + j] = (i === 4 ? 5 : 1) / 13
  const filter = tf.tensor4d(values, [3, 3, c, 1])
  const padded = tf.mirrorPad(
    x,
    [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ],
    "reflect",
  )
  return tf.depthwiseConv2d(padded, filter, 1, "valid")
}
