/**
 * Data augmentations and evaluation-time corruptions, described as data.
 *
 * An {@link Augment} is a tagged, immutable, JSON-friendly description of a random transform of
 * a training batch `{ x, y }` (images `x: [b, h, w, c]` in [0, 1], soft targets `y: [b, classes]`).
 * Every strength and probability is a {@link Ramp.Num}: a number, or a schedule evaluated at the
 * training clock (augmentation strength rising over training, mixup switched off at the end …).
 * A probability of 0 or a strength of 0 makes any augmentation the identity. Each sample draws
 * its own randomness (its own crop offset, angle, decision).
 *
 * A {@link Corruption} is a fixed, named distribution shift applied to an evaluation split
 * (`"test:rotation@3"`), with five severities per kind.
 *
 * The interpreter (`src/augment`) runs them with TensorFlow.js; this module only describes them.
 *
 * @example
 * ```ts
 * import { Augment, Ramp } from "retort/dsl"
 * const augs = [
 *   Augment.randomCrop({ pad: 2 }),
 *   Augment.rotate({ degrees: Ramp.linear({ from: 0, to: 15 }) }),
 *   Augment.mixup({ alpha: 0.2, p: 0.5 }),
 * ]
 * const shifted = Augment.corruption("rotation", 3)
 * Augment.name(shifted, "test") // "test:rotation@3"
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type * as Result from "effect/Result"
import * as Ramp from "./Ramp.js"

type Num = Ramp.Num

// ---------------------------------------------------------------------------------------------
// Models: augmentations
// ---------------------------------------------------------------------------------------------

/**
 * Horizontal flip (mirror along the width axis) of each sample with probability `p`.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const a: Augment.FlipX = Augment.flipX({ p: 0.5 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface FlipX {
  readonly _tag: "FlipX"
  readonly p: Num
}

/**
 * Zero-pad by `pad` pixels on every side, then crop back to the original size at a random
 * integer offset: a random shift of up to `pad` pixels along each axis, the uncovered border
 * filled with 0. `pad` is rounded to an integer when evaluated.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const a: Augment.RandomCrop = Augment.randomCrop({ pad: 4 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RandomCrop {
  readonly _tag: "RandomCrop"
  readonly pad: Num
  readonly p: Num
}

/**
 * Random translation by a whole number of pixels, drawn uniformly in `[-max, max]` per axis and
 * per sample (rounded). `max` is in pixels, or a fraction of the image's height/width when `unit`
 * is `"fraction"`. The uncovered border is filled with 0.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const a: Augment.Translate = Augment.translate({ max: 0.1, unit: "fraction" })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Translate {
  readonly _tag: "Translate"
  readonly max: Num
  readonly unit: "pixels" | "fraction"
  readonly p: Num
}

/**
 * Random rotation about the image centre by an angle drawn uniformly in `[-degrees, degrees]`
 * per sample, bilinear, uncovered corners filled with 0.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const a: Augment.Rotate = Augment.rotate({ degrees: 10 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Rotate {
  readonly _tag: "Rotate"
  readonly degrees: Num
  readonly p: Num
}

/**
 * Additive gaussian noise of standard deviation `std`, the result clipped to [0, 1].
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const a: Augment.Noise = Augment.noise({ std: 0.05 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Noise {
  readonly _tag: "Noise"
  readonly std: Num
  readonly p: Num
}

/**
 * Cutout (DeVries & Taylor, 2017): `count` squares of side `size` pixels, centred at uniformly
 * random pixels (they may extend past the border), set to 0.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const a: Augment.Cutout = Augment.cutout({ size: 8, count: 2 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Cutout {
  readonly _tag: "Cutout"
  readonly size: Num
  readonly count: number
  readonly p: Num
}

/**
 * Random erasing (Zhong et al., 2020): one rectangle per sample covering a fraction of the
 * image area drawn in `area = [min, max]`, with aspect ratio (height / width) log-uniform in
 * `ratio`, placed inside the image and filled with uniform noise (`fill: "noise"`) or 0.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const a: Augment.RandomErasing = Augment.randomErasing({ area: [0.02, 0.25] })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RandomErasing {
  readonly _tag: "RandomErasing"
  readonly area: readonly [Num, Num]
  readonly ratio: readonly [number, number]
  readonly fill: "noise" | "zero"
  readonly p: Num
}

/**
 * Mixup (Zhang et al., 2018): each sample is blended with a partner from the same batch (a random
 * permutation), `λ·x + (1−λ)·x'` and `λ·y + (1−λ)·y'`, with `λ ~ Beta(alpha, alpha)` per sample.
 * Produces soft targets. With probability `1 − p` a sample is left alone (`λ = 1`).
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const a: Augment.Mixup = Augment.mixup({ alpha: 0.2 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Mixup {
  readonly _tag: "Mixup"
  readonly alpha: Num
  readonly p: Num
}

/**
 * CutMix (Yun et al., 2019): a rectangle of a partner image (random permutation of the batch) is
 * pasted into each sample; the box covers a fraction `1 − λ` of the image, `λ ~ Beta(alpha,
 * alpha)`, clipped at the border. The label weight of the partner is exactly the fraction of
 * pixels pasted. Produces soft targets.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const a: Augment.Cutmix = Augment.cutmix({ alpha: 1 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Cutmix {
  readonly _tag: "Cutmix"
  readonly alpha: Num
  readonly p: Num
}

/**
 * The image operations {@link RandAugment} chooses from. Geometric: `rotate` (≤ 30°), `shearX`,
 * `shearY` (≤ 0.3), `translateX`, `translateY` (≤ 45 % of the side); photometric: `brightness`,
 * `contrast`, `color` (saturation; identity on 1-channel images), `sharpness` (factor 1 ± 0.9),
 * `solarize` (invert above `1 − magnitude`), `posterize` (8 − 4·magnitude bits), `autoContrast`
 * (stretch each channel to [0, 1]; no magnitude), `identity`. Signed operations draw their sign
 * per sample. (Equalize from the paper is not included.)
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const geometric: ReadonlyArray<Augment.RandAugmentOp> = ["rotate", "shearX", "translateY"]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type RandAugmentOp =
  | "identity"
  | "autoContrast"
  | "rotate"
  | "shearX"
  | "shearY"
  | "translateX"
  | "translateY"
  | "brightness"
  | "contrast"
  | "color"
  | "sharpness"
  | "solarize"
  | "posterize"

/**
 * RandAugment (Cubuk et al., 2020): for each sample, `n` operations drawn uniformly (with
 * replacement) from `ops`, applied in sequence at a shared `magnitude` in [0, 1] (the paper's
 * `M` out of 10 is `M / 10`). A magnitude of 0 is the identity.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const a: Augment.RandAugment = Augment.randAugment({ n: 2, magnitude: 0.5 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RandAugment {
  readonly _tag: "RandAugment"
  readonly n: number
  readonly magnitude: Num
  readonly ops: ReadonlyArray<RandAugmentOp>
}

/**
 * Any augmentation.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const augs: ReadonlyArray<Augment.Augment> = [Augment.flipX(), Augment.cutmix({ alpha: 1 })]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Augment =
  | FlipX
  | RandomCrop
  | Translate
  | Rotate
  | Noise
  | Cutout
  | RandomErasing
  | Mixup
  | Cutmix
  | RandAugment

// ---------------------------------------------------------------------------------------------
// Models: corruptions
// ---------------------------------------------------------------------------------------------

/**
 * A corruption severity, 1 (mild) to 5 (strong), as in ImageNet-C.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const s: Augment.Severity = 3
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Severity = 1 | 2 | 3 | 4 | 5

/**
 * Rotation of every image by exactly `degrees` about its centre, clockwise or counter-clockwise
 * (a seeded sign per image), bilinear, corners filled with 0.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const r: Augment.Rotation = Augment.rotation({ degrees: 30 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Rotation {
  readonly _tag: "Rotation"
  readonly degrees: number
  readonly severity?: Severity
}

/**
 * Additive gaussian noise of standard deviation `std`, clipped to [0, 1].
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const n: Augment.GaussianNoise = Augment.gaussianNoise({ std: 0.18 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface GaussianNoise {
  readonly _tag: "GaussianNoise"
  readonly std: number
  readonly severity?: Severity
}

/**
 * Gaussian blur of standard deviation `sigma` pixels; the kernel is truncated at `radius` pixels
 * (default `ceil(3·sigma)`), borders reflected.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const b: Augment.Blur = Augment.blur({ sigma: 1, radius: 3 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Blur {
  readonly _tag: "Blur"
  readonly sigma: number
  readonly radius?: number
  readonly severity?: Severity
}

/**
 * Contrast change: `(x − mean)·factor + mean` per image, clipped to [0, 1]; `factor < 1` washes
 * the image out.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const c: Augment.Contrast = Augment.contrast({ factor: 0.2 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Contrast {
  readonly _tag: "Contrast"
  readonly factor: number
  readonly severity?: Severity
}

/**
 * Any corruption. Parameters are plain numbers: a shifted split is fixed, not scheduled.
 * `severity` is set by {@link corruption} and used by {@link name}.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const shifts: ReadonlyArray<Augment.Corruption> = [Augment.corruption("blur", 2), Augment.rotation({ degrees: 15 })]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Corruption = Rotation | GaussianNoise | Blur | Contrast

/**
 * The kinds of corruption, as named in split names.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * const k: Augment.CorruptionKind = Augment.corruptionKind(Augment.corruption("contrast", 1)) // "contrast"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type CorruptionKind = "rotation" | "gaussianNoise" | "blur" | "contrast"

// ---------------------------------------------------------------------------------------------
// Constructors: augmentations
// ---------------------------------------------------------------------------------------------

/**
 * Horizontal flip with probability `p` (default 0.5).
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.flipX() // { _tag: "FlipX", p: 0.5 }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const flipX = (options: { readonly p?: Num } = {}): FlipX =>
  Object.freeze({ _tag: "FlipX", p: options.p ?? 0.5 })

/**
 * Pad-and-crop: a random shift of up to `pad` pixels per axis (default `p` 1).
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.randomCrop({ pad: 2 }) // { _tag: "RandomCrop", pad: 2, p: 1 }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const randomCrop = (options: { readonly pad: Num; readonly p?: Num }): RandomCrop =>
  Object.freeze({ _tag: "RandomCrop", pad: options.pad, p: options.p ?? 1 })

/**
 * Random translation of up to `max` pixels (or a fraction of the side, `unit: "fraction"`) per
 * axis (defaults: `unit` "pixels", `p` 1).
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.translate({ max: 3 })
 * Augment.translate({ max: 0.1, unit: "fraction" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const translate = (options: {
  readonly max: Num
  readonly unit?: "pixels" | "fraction"
  readonly p?: Num
}): Translate =>
  Object.freeze({ _tag: "Translate", max: options.max, unit: options.unit ?? "pixels", p: options.p ?? 1 })

/**
 * Random rotation of up to `degrees` either way (default `p` 1).
 *
 * @example
 * ```ts
 * import { Augment, Ramp } from "retort/dsl"
 * Augment.rotate({ degrees: 15 })
 * Augment.rotate({ degrees: Ramp.linear({ from: 0, to: 15 }) }) // stronger over training
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const rotate = (options: { readonly degrees: Num; readonly p?: Num }): Rotate =>
  Object.freeze({ _tag: "Rotate", degrees: options.degrees, p: options.p ?? 1 })

/**
 * Additive gaussian noise, clipped to [0, 1] (default `p` 1).
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.noise({ std: 0.1, p: 0.5 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const noise = (options: { readonly std: Num; readonly p?: Num }): Noise =>
  Object.freeze({ _tag: "Noise", std: options.std, p: options.p ?? 1 })

/**
 * Cutout: `count` (default 1) zeroed squares of side `size` pixels (default `p` 1).
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.cutout({ size: 8 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const cutout = (options: { readonly size: Num; readonly count?: number; readonly p?: Num }): Cutout =>
  Object.freeze({ _tag: "Cutout", size: options.size, count: options.count ?? 1, p: options.p ?? 1 })

/**
 * Random erasing of one rectangle covering a fraction in `area` of the image (defaults: `ratio`
 * [0.3, 3.3], `fill` "noise", `p` 0.5 as in the paper).
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.randomErasing({ area: [0.02, 0.33] })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const randomErasing = (options: {
  readonly area: readonly [Num, Num]
  readonly ratio?: readonly [number, number]
  readonly fill?: "noise" | "zero"
  readonly p?: Num
}): RandomErasing =>
  Object.freeze({
    _tag: "RandomErasing",
    area: Object.freeze([options.area[0], options.area[1]] as const),
    ratio: Object.freeze([...(options.ratio ?? [0.3, 3.3])] as [number, number]),
    fill: options.fill ?? "noise",
    p: options.p ?? 0.5,
  })

/**
 * Mixup with `λ ~ Beta(alpha, alpha)` (default `p` 1). `alpha` 0 is the identity.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.mixup({ alpha: 0.2 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const mixup = (options: { readonly alpha: Num; readonly p?: Num }): Mixup =>
  Object.freeze({ _tag: "Mixup", alpha: options.alpha, p: options.p ?? 1 })

/**
 * CutMix with `λ ~ Beta(alpha, alpha)` (default `p` 1). `alpha` 0 is the identity.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.cutmix({ alpha: 1, p: 0.5 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const cutmix = (options: { readonly alpha: Num; readonly p?: Num }): Cutmix =>
  Object.freeze({ _tag: "Cutmix", alpha: options.alpha, p: options.p ?? 1 })

/**
 * All {@link RandAugmentOp}s, the default choice set of {@link randAugment}.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.randAugmentOps.length // 13
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const randAugmentOps: ReadonlyArray<RandAugmentOp> = Object.freeze([
  "identity",
  "autoContrast",
  "rotate",
  "shearX",
  "shearY",
  "translateX",
  "translateY",
  "brightness",
  "contrast",
  "color",
  "sharpness",
  "solarize",
  "posterize",
])

/**
 * RandAugment: `n` operations per sample from `ops` (default {@link randAugmentOps}) at a shared
 * `magnitude` in [0, 1].
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.randAugment({ n: 2, magnitude: 0.9 })
 * Augment.randAugment({ n: 1, magnitude: 0.3, ops: ["rotate", "translateX", "translateY"] })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const randAugment = (options: {
  readonly n: number
  readonly magnitude: Num
  readonly ops?: ReadonlyArray<RandAugmentOp>
}): RandAugment =>
  Object.freeze({
    _tag: "RandAugment",
    n: options.n,
    magnitude: options.magnitude,
    ops: Object.freeze([...(options.ops ?? randAugmentOps)]),
  })

// ---------------------------------------------------------------------------------------------
// Constructors: corruptions
// ---------------------------------------------------------------------------------------------

/**
 * Rotation of every image by exactly `degrees`.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.rotation({ degrees: 30 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const rotation = (options: { readonly degrees: number; readonly severity?: Severity }): Rotation =>
  Object.freeze(
    options.severity === undefined
      ? { _tag: "Rotation", degrees: options.degrees }
      : { _tag: "Rotation", degrees: options.degrees, severity: options.severity },
  )

/**
 * Additive gaussian noise of standard deviation `std`.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.gaussianNoise({ std: 0.2 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const gaussianNoise = (options: {
  readonly std: number
  readonly severity?: Severity
}): GaussianNoise =>
  Object.freeze(
    options.severity === undefined
      ? { _tag: "GaussianNoise", std: options.std }
      : { _tag: "GaussianNoise", std: options.std, severity: options.severity },
  )

/**
 * Gaussian blur of standard deviation `sigma` pixels, kernel truncated at `radius` (default
 * `ceil(3·sigma)`).
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.blur({ sigma: 1 })
 * Augment.blur({ sigma: 1, radius: 2 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const blur = (options: {
  readonly sigma: number
  readonly radius?: number
  readonly severity?: Severity
}): Blur => {
  const out: { _tag: "Blur"; sigma: number; radius?: number; severity?: Severity } = {
    _tag: "Blur",
    sigma: options.sigma,
  }
  if (options.radius !== undefined) out.radius = options.radius
  if (options.severity !== undefined) out.severity = options.severity
  return Object.freeze(out)
}

/**
 * Contrast scaled by `factor` about each image's mean.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.contrast({ factor: 0.3 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const contrast = (options: { readonly factor: number; readonly severity?: Severity }): Contrast =>
  Object.freeze(
    options.severity === undefined
      ? { _tag: "Contrast", factor: options.factor }
      : { _tag: "Contrast", factor: options.factor, severity: options.severity },
  )

/**
 * The strength of each corruption kind at severities 1..5: rotation in degrees, gaussian noise
 * standard deviation (ImageNet-C's), blur sigma in pixels (scaled for 28–32 px images), contrast
 * factor (ImageNet-C's). Severity `k` is entry `k − 1`; each row is monotone in strength.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.severities.rotation[2] // 30 (severity 3)
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const severities: {
  readonly [K in CorruptionKind]: readonly [number, number, number, number, number]
} = Object.freeze({
  rotation: Object.freeze([10, 20, 30, 45, 60] as const),
  gaussianNoise: Object.freeze([0.08, 0.12, 0.18, 0.26, 0.38] as const),
  blur: Object.freeze([0.5, 0.75, 1, 1.5, 2] as const),
  contrast: Object.freeze([0.4, 0.3, 0.2, 0.1, 0.05] as const),
})

/**
 * All corruption kinds.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.corruptionKinds.map((k) => Augment.corruption(k, 3))
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const corruptionKinds: ReadonlyArray<CorruptionKind> = Object.freeze([
  "rotation",
  "gaussianNoise",
  "blur",
  "contrast",
])

/**
 * The named corruption of a kind at a severity (1..5), with the strength from {@link severities}.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.corruption("rotation", 3) // { _tag: "Rotation", degrees: 30, severity: 3 }
 * Augment.corruption("contrast", 5) // { _tag: "Contrast", factor: 0.05, severity: 5 }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const corruption = (kind: CorruptionKind, severity: Severity): Corruption => {
  const v = severities[kind][severity - 1]
  if (v === undefined) throw new RangeError(`severity must be 1..5, got ${severity}`)
  switch (kind) {
    case "rotation":
      return rotation({ degrees: v, severity })
    case "gaussianNoise":
      return gaussianNoise({ std: v, severity })
    case "blur":
      return blur({ sigma: v, severity })
    case "contrast":
      return contrast({ factor: v, severity })
  }
}

// ---------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------

const Finite = Schema.Finite
const NonNegative = Finite.check(Schema.isGreaterThanOrEqualTo(0))
const Positive = Finite.check(Schema.isGreaterThan(0))
const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/** A Num whose plain-number form must lie in [min, max] (ramps are clamped at run time). */
const NumIn = (minimum: number, maximum: number): Schema.Codec<Num> =>
  Schema.Union([Finite.check(Schema.isBetween({ minimum, maximum })), Ramp.schema])
const Probability = NumIn(0, 1)
const NonNegativeNum: Schema.Codec<Num> = Schema.Union([NonNegative, Ramp.schema])

const plainNumber = (n: Num): number | undefined => (typeof n === "number" ? n : undefined)

const RandAugmentOpSchema = Schema.Literals([
  "identity",
  "autoContrast",
  "rotate",
  "shearX",
  "shearY",
  "translateX",
  "translateY",
  "brightness",
  "contrast",
  "color",
  "sharpness",
  "solarize",
  "posterize",
])

const FlipXSchema = Schema.TaggedStruct("FlipX", { p: Probability })
const RandomCropSchema = Schema.TaggedStruct("RandomCrop", { pad: NonNegativeNum, p: Probability })
const TranslateSchema = Schema.TaggedStruct("Translate", {
  max: NonNegativeNum,
  unit: Schema.Literals(["pixels", "fraction"]),
  p: Probability,
}).check(
  Schema.makeFilter((t) => {
    const m = plainNumber(t.max)
    return t.unit === "fraction" && m !== undefined && m > 1
      ? { path: ["max"], issue: `a fractional translation must be at most 1, got ${m}` }
      : undefined
  }),
)
const RotateSchema = Schema.TaggedStruct("Rotate", { degrees: NumIn(0, 180), p: Probability })
const NoiseSchema = Schema.TaggedStruct("Noise", { std: NonNegativeNum, p: Probability })
const CutoutSchema = Schema.TaggedStruct("Cutout", {
  size: NonNegativeNum,
  count: PositiveInt,
  p: Probability,
})
const RandomErasingSchema = Schema.TaggedStruct("RandomErasing", {
  area: Schema.Tuple([Probability, Probability]),
  ratio: Schema.Tuple([Positive, Positive]).check(
    Schema.makeFilter(
      (r) => r[0] <= r[1] || `ratio must be [min, max] with min ≤ max, got [${r[0]}, ${r[1]}]`,
    ),
  ),
  fill: Schema.Literals(["noise", "zero"]),
  p: Probability,
}).check(
  Schema.makeFilter((e) => {
    const lo = plainNumber(e.area[0])
    const hi = plainNumber(e.area[1])
    return lo !== undefined && hi !== undefined && lo > hi
      ? { path: ["area"], issue: `area must be [min, max] with min ≤ max, got [${lo}, ${hi}]` }
      : undefined
  }),
)
const MixupSchema = Schema.TaggedStruct("Mixup", { alpha: NonNegativeNum, p: Probability })
const CutmixSchema = Schema.TaggedStruct("Cutmix", { alpha: NonNegativeNum, p: Probability })
const RandAugmentSchema = Schema.TaggedStruct("RandAugment", {
  n: NonNegativeInt,
  magnitude: Probability,
  ops: Schema.Array(RandAugmentOpSchema).check(
    Schema.makeFilter((ops) => ops.length > 0 || "randAugment needs at least one op"),
  ),
})

/**
 * Codec of {@link Augment}. The encoded form is the value itself (plain JSON). Decoding
 * validates the plain numbers: probabilities and RandAugment's magnitude in [0, 1], strengths
 * ≥ 0, rotation ≤ 180°, fractional translation ≤ 1, `count ≥ 1` and `n ≥ 0` integers, ordered
 * `area`/`ratio` bounds, non-empty `ops`. (Ramps are validated as ramps; their values are clamped
 * into range when evaluated.)
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Augment } from "retort/dsl"
 * const a = Schema.decodeUnknownSync(Augment.schema)({ _tag: "RandomCrop", pad: 2, p: 1 })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema: Schema.Codec<Augment> = Schema.Union([
  FlipXSchema,
  RandomCropSchema,
  TranslateSchema,
  RotateSchema,
  NoiseSchema,
  CutoutSchema,
  RandomErasingSchema,
  MixupSchema,
  CutmixSchema,
  RandAugmentSchema,
])

const SeveritySchema = Schema.Literals([1, 2, 3, 4, 5])

/**
 * Codec of {@link Corruption}: rotation in [0, 180] degrees, `std ≥ 0`, `sigma > 0` with an
 * integer `radius ≥ 1`, `factor ≥ 0`, optional `severity` 1..5.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Augment } from "retort/dsl"
 * Schema.decodeUnknownSync(Augment.corruptionSchema)({ _tag: "Blur", sigma: 1 })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const corruptionSchema: Schema.Codec<Corruption> = Schema.Union([
  Schema.TaggedStruct("Rotation", {
    degrees: Finite.check(Schema.isBetween({ minimum: 0, maximum: 180 })),
    severity: Schema.optionalKey(SeveritySchema),
  }),
  Schema.TaggedStruct("GaussianNoise", { std: NonNegative, severity: Schema.optionalKey(SeveritySchema) }),
  Schema.TaggedStruct("Blur", {
    sigma: Positive,
    radius: Schema.optionalKey(PositiveInt),
    severity: Schema.optionalKey(SeveritySchema),
  }),
  Schema.TaggedStruct("Contrast", { factor: NonNegative, severity: Schema.optionalKey(SeveritySchema) }),
])

const decodeAugment = Schema.decodeUnknownResult(schema)
const decodeCorruption = Schema.decodeUnknownResult(corruptionSchema)

/**
 * Decodes and validates an unknown value as an {@link Augment} (constructors do not validate).
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { Augment } from "retort/dsl"
 * Result.isSuccess(Augment.validate(Augment.flipX())) // true
 * Result.isFailure(Augment.validate(Augment.flipX({ p: 2 }))) // true
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (u: unknown): Result.Result<Augment, Schema.SchemaError> => decodeAugment(u)

/**
 * Decodes and validates an unknown value as a {@link Corruption}.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { Augment } from "retort/dsl"
 * Result.isFailure(Augment.validateCorruption(Augment.blur({ sigma: 0 }))) // true
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const validateCorruption = (u: unknown): Result.Result<Corruption, Schema.SchemaError> =>
  decodeCorruption(u)

// ---------------------------------------------------------------------------------------------
// Guards and getters
// ---------------------------------------------------------------------------------------------

const augmentTags: ReadonlySet<string> = new Set<Augment["_tag"]>([
  "FlipX",
  "RandomCrop",
  "Translate",
  "Rotate",
  "Noise",
  "Cutout",
  "RandomErasing",
  "Mixup",
  "Cutmix",
  "RandAugment",
])
const corruptionTags: ReadonlySet<string> = new Set<Corruption["_tag"]>([
  "Rotation",
  "GaussianNoise",
  "Blur",
  "Contrast",
])

const hasTag = (u: unknown, tags: ReadonlySet<string>): boolean =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string" && tags.has(u._tag)

/**
 * Whether `u` is an augmentation node (checks the tag only; use {@link validate} for a full
 * check).
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.isAugment(Augment.flipX()) // true
 * Augment.isAugment(Augment.blur({ sigma: 1 })) // false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isAugment = (u: unknown): u is Augment => hasTag(u, augmentTags)

/**
 * Whether `u` is a corruption node (checks the tag only).
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.isCorruption(Augment.corruption("blur", 2)) // true
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isCorruption = (u: unknown): u is Corruption => hasTag(u, corruptionTags)

/**
 * Whether an augmentation changes the targets `y` into soft (mixed) targets: `Mixup` and
 * `Cutmix`. A pipeline whose loss needs hard labels (e.g. an argmax accuracy on the training
 * batch, a hard-label distillation) must not follow one of these.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.labelMixing(Augment.mixup({ alpha: 0.2 })) // true
 * Augment.labelMixing(Augment.flipX()) // false
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const labelMixing = (a: Augment): boolean => a._tag === "Mixup" || a._tag === "Cutmix"

/**
 * The kind of a corruption, as used in split names.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.corruptionKind(Augment.gaussianNoise({ std: 0.1 })) // "gaussianNoise"
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const corruptionKind = (c: Corruption): CorruptionKind => {
  switch (c._tag) {
    case "Rotation":
      return "rotation"
    case "GaussianNoise":
      return "gaussianNoise"
    case "Blur":
      return "blur"
    case "Contrast":
      return "contrast"
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

const show = Ramp.describe
const fmt = (x: number): string => Ramp.describe(x)

type Describers = { readonly [K in Augment["_tag"]]: (a: Extract<Augment, { readonly _tag: K }>) => string }

const call = (fn: string, args: ReadonlyArray<string>, p: Num, defaultP: number): string =>
  `${fn}(${(p === defaultP ? args : [...args, `p=${show(p)}`]).join(", ")})`

const describers: Describers = {
  FlipX: (a) => call("flipX", [], a.p, 0.5),
  RandomCrop: (a) => call("randomCrop", [`pad=${show(a.pad)}`], a.p, 1),
  Translate: (a) =>
    call("translate", [`max=${show(a.max)}${a.unit === "fraction" ? " (fraction)" : "px"}`], a.p, 1),
  Rotate: (a) => call("rotate", [`±${show(a.degrees)}°`], a.p, 1),
  Noise: (a) => call("noise", [`std=${show(a.std)}`], a.p, 1),
  Cutout: (a) =>
    call("cutout", [`size=${show(a.size)}`, ...(a.count === 1 ? [] : [`count=${a.count}`])], a.p, 1),
  RandomErasing: (a) =>
    call(
      "randomErasing",
      [
        `area=${show(a.area[0])}..${show(a.area[1])}`,
        `ratio=${fmt(a.ratio[0])}..${fmt(a.ratio[1])}`,
        ...(a.fill === "zero" ? ["fill=0"] : []),
      ],
      a.p,
      0.5,
    ),
  Mixup: (a) => call("mixup", [`α=${show(a.alpha)}`], a.p, 1),
  Cutmix: (a) => call("cutmix", [`α=${show(a.alpha)}`], a.p, 1),
  RandAugment: (a) =>
    call(
      "randAugment",
      [
        `n=${a.n}`,
        `magnitude=${show(a.magnitude)}`,
        ...(a.ops.length === randAugmentOps.length && randAugmentOps.every((o) => a.ops.includes(o))
          ? []
          : [`ops=[${a.ops.join(", ")}]`]),
      ],
      1,
      1,
    ),
}

/**
 * A short human-readable rendering, for logs, reports and validation messages. Default
 * probabilities are omitted; ramps are rendered by {@link Ramp.describe}.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.describe(Augment.randomCrop({ pad: 2 })) // "randomCrop(pad=2)"
 * Augment.describe(Augment.flipX({ p: 1 })) // "flipX(p=1)"
 * Augment.describe(Augment.mixup({ alpha: 0.2, p: 0.5 })) // "mixup(α=0.2, p=0.5)"
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const describe = (a: Augment): string => (describers[a._tag] as (a: Augment) => string)(a)

const corruptionParams = (c: Corruption): string => {
  switch (c._tag) {
    case "Rotation":
      return `degrees=${fmt(c.degrees)}`
    case "GaussianNoise":
      return `std=${fmt(c.std)}`
    case "Blur":
      return `sigma=${fmt(c.sigma)}${c.radius === undefined ? "" : `,radius=${c.radius}`}`
    case "Contrast":
      return `factor=${fmt(c.factor)}`
  }
}

/**
 * The name of a corruption for split naming: `kind@severity` when it was made by
 * {@link corruption}, otherwise `kind(param=value)`; prefixed with `split:` when a split is
 * given.
 *
 * @example
 * ```ts
 * import { Augment } from "retort/dsl"
 * Augment.name(Augment.corruption("rotation", 3), "test") // "test:rotation@3"
 * Augment.name(Augment.blur({ sigma: 1.2 })) // "blur(sigma=1.2)"
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const name = (c: Corruption, split?: string): string => {
  const base =
    c.severity === undefined
      ? `${corruptionKind(c)}(${corruptionParams(c)})`
      : `${corruptionKind(c)}@${c.severity}`
  return split === undefined ? base : `${split}:${base}`
}
