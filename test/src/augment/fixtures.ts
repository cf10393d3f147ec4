/** Shared inputs for the augmentation tests (tiny, deterministic). */
import * as tf from "@tensorflow/tfjs-core"
import * as Augment from "../../../dsl/Augment.js"
import type * as Ramp from "../../../dsl/Ramp.js"

export const clock0: Ramp.Clock = { step: 0, epoch: 0, progress: 0 }
export const clockEnd: Ramp.Clock = { step: 100, epoch: 1, progress: 1 }

/** Uniform random images in [0, 1] (every pixel distinct with probability 1). */
export const randomImages = (b: number, h: number, w: number, c: number, seed = 1): tf.Tensor4D =>
  tf.randomUniform([b, h, w, c], 0, 1, "float32", seed) as tf.Tensor4D

/** Smooth "digit-like" images: an off-centre gaussian blob (a different place per sample) plus a ramp. */
export const blobImages = (b: number, h: number, w: number): tf.Tensor4D =>
  tf.tidy(() => {
    const r = tf.reshape(tf.range(0, h), [1, h, 1, 1])
    const c = tf.reshape(tf.range(0, w), [1, 1, w, 1])
    const cy = tf.reshape(tf.linspace(h * 0.3, h * 0.6, b), [b, 1, 1, 1])
    const cx = tf.reshape(tf.linspace(w * 0.35, w * 0.55, b), [b, 1, 1, 1])
    const d2 = tf.add(tf.square(tf.sub(r, cy)), tf.square(tf.sub(c, cx)))
    const blob = tf.exp(tf.div(tf.neg(d2), 2 * (h / 6) ** 2))
    return tf.clipByValue(tf.add(blob, tf.mul(0.3, tf.div(c, w))), 0, 1) as tf.Tensor4D
  })

/** One-hot targets `[b, classes]` for labels 0..b−1 (so every sample has its own class). */
export const distinctTargets = (b: number, classes = b): tf.Tensor2D =>
  tf.tidy(
    () => tf.cast(tf.oneHot(tf.range(0, b, 1, "int32") as tf.Tensor1D, classes), "float32") as tf.Tensor2D,
  )

/** One strong configuration of every augmentation kind (each changes a random batch). */
export const strong: ReadonlyArray<Augment.Augment> = [
  Augment.flipX({ p: 1 }),
  Augment.randomCrop({ pad: 2 }),
  Augment.translate({ max: 0.25, unit: "fraction" }),
  Augment.rotate({ degrees: 30 }),
  Augment.noise({ std: 0.2 }),
  Augment.cutout({ size: 3, count: 2 }),
  Augment.randomErasing({ area: [0.1, 0.3], p: 1 }),
  Augment.mixup({ alpha: 1 }),
  Augment.cutmix({ alpha: 1 }),
  Augment.randAugment({ n: 2, magnitude: 0.8 }),
]

/** Each kind made the identity by a zero strength. */
export const zeroStrength: ReadonlyArray<Augment.Augment> = [
  Augment.randomCrop({ pad: 0 }),
  Augment.randomCrop({ pad: 0.4 }),
  Augment.translate({ max: 0 }),
  Augment.rotate({ degrees: 0 }),
  Augment.noise({ std: 0 }),
  Augment.cutout({ size: 0 }),
  Augment.randomErasing({ area: [0, 0], p: 1 }),
  Augment.mixup({ alpha: 0 }),
  Augment.cutmix({ alpha: 0 }),
  Augment.randAugment({ n: 2, magnitude: 0 }),
  Augment.randAugment({ n: 0, magnitude: 1 }),
]

/** Each kind made the identity by a zero probability. */
export const zeroProbability: ReadonlyArray<Augment.Augment> = [
  Augment.flipX({ p: 0 }),
  Augment.randomCrop({ pad: 2, p: 0 }),
  Augment.translate({ max: 3, p: 0 }),
  Augment.rotate({ degrees: 30, p: 0 }),
  Augment.noise({ std: 0.2, p: 0 }),
  Augment.cutout({ size: 3, p: 0 }),
  Augment.randomErasing({ area: [0.1, 0.3], p: 0 }),
  Augment.mixup({ alpha: 1, p: 0 }),
  Augment.cutmix({ alpha: 1, p: 0 }),
]

/** Reads a tensor as nested arrays [b][h][w][c]. */
export const pixels = (x: tf.Tensor4D): Array<Array<Array<Array<number>>>> => x.arraySync()

/** Largest absolute difference. */
export const maxDiff = (a: tf.Tensor, b: tf.Tensor): number =>
  tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!)

/** Mean absolute difference. */
export const meanDiff = (a: tf.Tensor, b: tf.Tensor): number =>
  tf.tidy(() => tf.mean(tf.abs(tf.sub(a, b))).dataSync()[0]!)
