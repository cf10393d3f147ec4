/**
 * RandAugment (Cubuk et al., 2020), vectorised over the batch: in each of `n` rounds every
 * sample draws one operation from the list and a sign; all geometric choices of a round are
 * merged into one per-sample affine warp (one kernel call), and each photometric operation is
 * computed once for the batch, each sample then taking its own result with one gather.
 *
 * Strengths at magnitude `m ∈ [0, 1]`: rotate ±30°·m, shear ±0.3·m, translate ±0.45·m of the
 * side, brightness/contrast/color/sharpness factor 1 ± 0.9·m, solarize above 1 − m, posterize
 * to round(8 − 4·m) bits (8 bits: unchanged), autoContrast (no magnitude), identity.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as RandAugment from "./RandAugment.js"
 * const x = tf.randomUniform([4, 16, 16, 1]) as tf.Tensor4D
 * const out = tf.tidy(() => RandAugment.run(x, ["rotate", "contrast", "solarize"], 2, 0.5, 7))
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import type * as Augment from "../../dsl/Augment.js"
import * as Image from "./Image.js"
import * as Seed from "./Seed.js"

type Op = Augment.RandAugmentOp

/** Geometric ops: the per-sample affine map at magnitude m with per-sample signs. */
const geometric: {
  readonly [K in Op]?: (sign: tf.Tensor1D, m: number, h: number, w: number) => Image.Affine
} = {
  rotate: (sign, m, h, w) => Image.rotation(tf.mul(sign, (m * 30 * Math.PI) / 180) as tf.Tensor1D, h, w),
  shearX: (sign, m, h) => Image.shearX(tf.mul(sign, m * 0.3) as tf.Tensor1D, h),
  shearY: (sign, m, _h, w) => Image.shearY(tf.mul(sign, m * 0.3) as tf.Tensor1D, w),
  translateX: (sign, m, _h, w) => Image.translation(tf.mul(sign, m * 0.45 * w) as tf.Tensor1D, 0),
  translateY: (sign, m, h) => Image.translation(0, tf.mul(sign, m * 0.45 * h) as tf.Tensor1D),
}

const factor = (sign: tf.Tensor1D, m: number): tf.Tensor1D => tf.add(1, tf.mul(sign, 0.9 * m)) as tf.Tensor1D

/** Photometric ops on the whole batch; `null` when the op is the identity at this magnitude/shape. */
const photometric: {
  readonly [K in Op]?: (x: tf.Tensor4D, sign: tf.Tensor1D, m: number) => tf.Tensor4D | null
} = {
  identity: () => null,
  brightness: (x, sign, m) => Image.enhance(x, tf.zerosLike(x), factor(sign, m)),
  contrast: (x, sign, m) => Image.contrast(x, factor(sign, m)),
  color: (x, sign, m) => (x.shape[3] === 3 ? Image.enhance(x, Image.grayscale(x), factor(sign, m)) : null),
  sharpness: (x, sign, m) => Image.enhance(x, Image.smooth(x), factor(sign, m)),
  solarize: (x, _sign, m) => tf.where(tf.greater(x, 1 - m), tf.sub(1, x), x) as tf.Tensor4D,
  posterize: (x, _sign, m) => {
    const bits = Math.round(8 - 4 * m)
    if (bits >= 8) return null
    const step = 2 ** (8 - bits)
    const q = tf.floor(tf.add(tf.mul(x, 255), 0.5))
    return tf.div(tf.mul(tf.floor(tf.div(q, step)), step), 255) as tf.Tensor4D
  },
  autoContrast: (x) => {
    // Per image and channel: (x − lo) / (hi − lo); a flat channel is left as it is.
    const lo = tf.min(x, [1, 2], true)
    const range = tf.sub(tf.max(x, [1, 2], true), lo)
    const ok = tf.greater(range, 0)
    const offset = tf.mul(lo, tf.cast(ok, "float32"))
    const gain = tf.where(ok, tf.div(1, tf.where(ok, range, tf.onesLike(range))), tf.onesLike(range))
    return tf.mul(tf.sub(x, offset), gain) as tf.Tensor4D
  },
}

/**
 * Runs `n` rounds of RandAugment over `ops` at magnitude `m ∈ [0, 1]` with per-sample choices
 * drawn from `seed`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as RandAugment from "./RandAugment.js"
 * const x = tf.randomUniform([2, 8, 8, 3]) as tf.Tensor4D
 * const out = RandAugment.run(x, ["color", "shearX"], 1, 0.9, 3)
 * ```
 *
 * @since 0.1.0
 * @category augmenting
 */
export const run = (
  x: tf.Tensor4D,
  ops: ReadonlyArray<Op>,
  n: number,
  m: number,
  seed: number,
): tf.Tensor4D => {
  const [b, h, w] = x.shape
  const k = ops.length
  let out = x
  for (let r = 0; r < n; r++) {
    const choice = Seed.integers(b, k, Seed.derive(seed, r, 0))
    const sign = Seed.signs(b, Seed.derive(seed, r, 1))
    const chosen = (i: number): tf.Tensor1D => tf.equal(choice, i) as tf.Tensor1D
    // Geometric: one merged warp for every sample that drew a geometric op.
    let affine: Image.Affine | null = null
    let moved: tf.Tensor1D | null = null
    ops.forEach((op, i) => {
      const make = geometric[op]
      if (make === undefined) return
      const mask = chosen(i)
      affine = Image.selectAffine(mask, make(sign, m, h, w), affine ?? Image.identity, b)
      moved = moved === null ? mask : (tf.logicalOr(moved, mask) as tf.Tensor1D)
    })
    if (affine !== null && moved !== null) out = Image.select(moved, Image.warp(out, affine, "bilinear"), out)
    // Photometric: each computed once for the batch; every sample then takes its own
    // candidate with one gather (candidate 0: unchanged by this round's photometric ops).
    const current = out
    const candidates: Array<tf.Tensor4D> = [current]
    const position = ops.map((op) => {
      const result = photometric[op]?.(current, sign, m) ?? null
      if (result === null) return 0
      candidates.push(result)
      return candidates.length - 1
    })
    if (candidates.length > 1) {
      const pos = tf.gather(tf.tensor1d(position, "int32"), tf.cast(choice, "int32"))
      const index = tf.add(tf.mul(pos, tf.scalar(b, "int32")), tf.range(0, b, 1, "int32"))
      out = tf.gather(tf.concat(candidates, 0), index) as tf.Tensor4D
    }
  }
  return out
}
