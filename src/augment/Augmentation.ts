/**
 * Runs {@link Augment.Augment} descriptions on a training batch with TensorFlow.js.
 *
 * `apply` is synchronous and meant for the interpreter's one `tf.tidy` per step (it also wraps
 * itself in a `tf.tidy`, so no intermediate tensor outlives the call). Randomness is per sample
 * (each image its own decision, offset, angle, box, partner) and derived from the step's seed:
 * the same seed gives the same output. Strengths and probabilities are evaluated at the clock;
 * a probability or strength of 0 returns the input tensors themselves.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Augment from "../../dsl/Augment.js"
 * import * as Augmentation from "./Augmentation.js"
 * const x = tf.randomUniform([8, 28, 28, 1]) as tf.Tensor4D
 * const y = tf.cast(tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], "int32"), 10), "float32") as tf.Tensor2D
 * const out = tf.tidy(() =>
 *   Augmentation.apply([Augment.randomCrop({ pad: 2 }), Augment.mixup({ alpha: 0.2 })], { x, y }, {
 *     clock: { step: 0, epoch: 0, progress: 0 },
 *     seed: 17,
 *   }),
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import type * as Augment from "../../dsl/Augment.js"
import * as Ramp from "../../dsl/Ramp.js"
import { ShapeError } from "../errors.js"
import * as Image from "./Image.js"
import * as RandAugment from "./RandAugment.js"
import * as Seed from "./Seed.js"

/**
 * A training batch: images `x: [b, h, w, c]` float32 in [0, 1] and (soft) one-hot targets
 * `y: [b, classes]`. A type alias (not an interface) so that it is a `tf.TensorContainer`:
 * `tf.tidy(() => Augmentation.apply(...))` type-checks.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import type * as Augmentation from "./Augmentation.js"
 * const batch: Augmentation.Batch = { x: tf.zeros([2, 28, 28, 1]) as tf.Tensor4D, y: tf.zeros([2, 10]) as tf.Tensor2D }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Batch = {
  readonly x: tf.Tensor4D
  readonly y: tf.Tensor2D
}

/**
 * Where training stands (to evaluate ramped strengths) and the step's integer seed.
 *
 * @example
 * ```ts
 * import type * as Augmentation from "./Augmentation.js"
 * const options: Augmentation.Options = { clock: { step: 120, epoch: 1.2, progress: 0.1 }, seed: 987654 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly clock: Ramp.Clock
  readonly seed: number
}

interface Context {
  /** Evaluates a Num at the clock (NaN → 0). */
  readonly num: (n: Ramp.Num) => number
  /** This op's seed. */
  readonly seed: number
}

const probability = (ctx: Context, p: Ramp.Num): number => Math.min(1, Math.max(0, ctx.num(p)))
const strength = (ctx: Context, s: Ramp.Num): number => Math.max(0, ctx.num(s))

/** Per-sample decisions for probability p (null: every sample). */
const decide = (b: number, p: number, seed: number): tf.Tensor1D | null =>
  p >= 1 ? null : Seed.bernoulli(b, p, seed)

/** A `[b, h, w, 1]` float mask restricted to the chosen samples. */
const onlyChosen = (mask: tf.Tensor, chosen: tf.Tensor1D | null): tf.Tensor =>
  chosen === null ? mask : tf.mul(mask, tf.reshape(tf.cast(chosen, "float32"), [-1, 1, 1, 1]))

type Handlers = {
  readonly [K in Augment.Augment["_tag"]]: (
    a: Extract<Augment.Augment, { readonly _tag: K }>,
    batch: Batch,
    ctx: Context,
  ) => Batch
}

const shift = (batch: Batch, ctx: Context, p: number, maxY: number, maxX: number, pixels: boolean): Batch => {
  const { x } = batch
  const b = x.shape[0]
  const s = ctx.seed
  // pixels: integer offsets uniform in {-max, …, max}; otherwise continuous uniform, rounded.
  const offset = (max: number, k: number): tf.Tensor1D =>
    pixels
      ? (tf.sub(Seed.integers(b, 2 * max + 1, Seed.derive(s, k)), max) as tf.Tensor1D)
      : (tf.round(Seed.uniform([b], -max, max, Seed.derive(s, k))) as tf.Tensor1D)
  const moved = Image.warp(x, Image.translation(offset(maxX, 1), offset(maxY, 2)), "nearest")
  return { x: Image.select(decide(b, p, Seed.derive(s, 0)), moved, x), y: batch.y }
}

const handlers: Handlers = {
  FlipX: (a, batch, ctx) => {
    const p = probability(ctx, a.p)
    if (p <= 0) return batch
    const { x } = batch
    return { x: Image.select(decide(x.shape[0], p, ctx.seed), tf.image.flipLeftRight(x), x), y: batch.y }
  },
  RandomCrop: (a, batch, ctx) => {
    const p = probability(ctx, a.p)
    const pad = Math.round(strength(ctx, a.pad))
    if (p <= 0 || pad <= 0) return batch
    return shift(batch, ctx, p, pad, pad, true)
  },
  Translate: (a, batch, ctx) => {
    const p = probability(ctx, a.p)
    const max = strength(ctx, a.max)
    if (p <= 0 || max <= 0) return batch
    const [, h, w] = batch.x.shape
    const my = a.unit === "fraction" ? Math.min(max, 1) * h : max
    const mx = a.unit === "fraction" ? Math.min(max, 1) * w : max
    return shift(batch, ctx, p, my, mx, false)
  },
  Rotate: (a, batch, ctx) => {
    const p = probability(ctx, a.p)
    const degrees = Math.min(180, strength(ctx, a.degrees))
    if (p <= 0 || degrees <= 0) return batch
    const { x } = batch
    const [b, h, w] = x.shape
    const theta = Seed.uniform(
      [b],
      (-degrees * Math.PI) / 180,
      (degrees * Math.PI) / 180,
      Seed.derive(ctx.seed, 1),
    )
    const rotated = Image.warp(x, Image.rotation(theta as tf.Tensor1D, h, w), "bilinear")
    return { x: Image.select(decide(b, p, Seed.derive(ctx.seed, 0)), rotated, x), y: batch.y }
  },
  Noise: (a, batch, ctx) => {
    const p = probability(ctx, a.p)
    const std = strength(ctx, a.std)
    if (p <= 0 || std <= 0) return batch
    const { x } = batch
    const noise = tf.randomNormal(x.shape, 0, std, "float32", Seed.derive(ctx.seed, 1))
    const noisy = Image.clip01(tf.add(x, noise) as tf.Tensor4D)
    return { x: Image.select(decide(x.shape[0], p, Seed.derive(ctx.seed, 0)), noisy, x), y: batch.y }
  },
  Cutout: (a, batch, ctx) => {
    const p = probability(ctx, a.p)
    const size = Math.round(strength(ctx, a.size))
    const count = Math.max(0, Math.floor(a.count))
    if (p <= 0 || size <= 0 || count <= 0) return batch
    const { x } = batch
    const [b, h, w] = x.shape
    const half = Math.floor(size / 2)
    let mask: tf.Tensor | null = null
    for (let k = 0; k < count; k++) {
      const y0 = tf.sub(Seed.integers(b, h, Seed.derive(ctx.seed, 1, k)), half) as tf.Tensor1D
      const x0 = tf.sub(Seed.integers(b, w, Seed.derive(ctx.seed, 2, k)), half) as tf.Tensor1D
      const box = Image.boxMask(h, w, y0, tf.add(y0, size), x0, tf.add(x0, size))
      mask = mask === null ? box : tf.maximum(mask, box)
    }
    const m = onlyChosen(mask!, decide(b, p, Seed.derive(ctx.seed, 0)))
    return { x: tf.mul(x, tf.sub(1, m)) as tf.Tensor4D, y: batch.y }
  },
  RandomErasing: (a, batch, ctx) => {
    const p = probability(ctx, a.p)
    const lo = probability(ctx, a.area[0])
    const hi = Math.max(lo, probability(ctx, a.area[1]))
    if (p <= 0 || hi <= 0) return batch
    const { x } = batch
    const [b, h, w] = x.shape
    const s = ctx.seed
    const area = tf.mul(Seed.uniform([b], lo, hi, Seed.derive(s, 1)), h * w)
    const r0 = Math.max(1e-6, Math.min(a.ratio[0], a.ratio[1]))
    const r1 = Math.max(r0, a.ratio[0], a.ratio[1])
    const ratio = tf.exp(Seed.uniform([b], Math.log(r0), Math.log(r1), Seed.derive(s, 2)))
    const eh = tf.clipByValue(tf.round(tf.sqrt(tf.mul(area, ratio))), 0, h) as tf.Tensor1D
    const ew = tf.clipByValue(tf.round(tf.sqrt(tf.div(area, ratio))), 0, w) as tf.Tensor1D
    const y0 = Seed.integers(b, tf.add(tf.sub(h, eh), 1), Seed.derive(s, 3))
    const x0 = Seed.integers(b, tf.add(tf.sub(w, ew), 1), Seed.derive(s, 4))
    const box = Image.boxMask(h, w, y0, tf.add(y0, eh) as tf.Tensor1D, x0, tf.add(x0, ew) as tf.Tensor1D)
    const m = onlyChosen(box, decide(b, p, Seed.derive(s, 0)))
    const kept = tf.mul(x, tf.sub(1, m)) as tf.Tensor4D
    return {
      x:
        a.fill === "noise"
          ? (tf.add(kept, tf.mul(Seed.uniform(x.shape, 0, 1, Seed.derive(s, 5)), m)) as tf.Tensor4D)
          : kept,
      y: batch.y,
    }
  },
  Mixup: (a, batch, ctx) => {
    const p = probability(ctx, a.p)
    const alpha = strength(ctx, a.alpha)
    const { x, y } = batch
    const b = x.shape[0]
    if (p <= 0 || alpha <= 0 || b < 2) return batch
    const s = ctx.seed
    let lambda: tf.Tensor1D = Seed.beta(b, alpha, Seed.derive(s, 1))
    const chosen = decide(b, p, Seed.derive(s, 0))
    if (chosen !== null) lambda = tf.where(chosen, lambda, tf.onesLike(lambda)) as tf.Tensor1D
    const perm = Seed.permutation(b, Seed.derive(s, 2))
    const mix = <T extends tf.Tensor>(t: T): T => {
      const l = tf.reshape(lambda, [b, ...t.shape.slice(1).map(() => 1)])
      return tf.add(tf.mul(t, l), tf.mul(tf.gather(t, perm), tf.sub(1, l))) as T
    }
    return { x: mix(x), y: mix(y) }
  },
  Cutmix: (a, batch, ctx) => {
    const p = probability(ctx, a.p)
    const alpha = strength(ctx, a.alpha)
    const { x, y } = batch
    const [b, h, w] = x.shape
    if (p <= 0 || alpha <= 0 || b < 2) return batch
    const s = ctx.seed
    const cut = tf.sqrt(tf.sub(1, Seed.beta(b, alpha, Seed.derive(s, 1))))
    const bh = tf.floor(tf.mul(cut, h))
    const bw = tf.floor(tf.mul(cut, w))
    const cy = Seed.integers(b, h, Seed.derive(s, 2))
    const cx = Seed.integers(b, w, Seed.derive(s, 3))
    const y0 = tf.clipByValue(tf.sub(cy, tf.floor(tf.div(bh, 2))), 0, h) as tf.Tensor1D
    const x0 = tf.clipByValue(tf.sub(cx, tf.floor(tf.div(bw, 2))), 0, w) as tf.Tensor1D
    const y1 = tf.clipByValue(tf.add(y0, bh), 0, h) as tf.Tensor1D
    const x1 = tf.clipByValue(tf.add(x0, bw), 0, w) as tf.Tensor1D
    const box = Image.boxMask(h, w, y0, y1, x0, x1)
    const m = onlyChosen(box, decide(b, p, Seed.derive(s, 0)))
    const perm = Seed.permutation(b, Seed.derive(s, 4))
    // The partner's label weight is exactly the fraction of pixels pasted.
    const pasted = tf.reshape(tf.mean(m, [1, 2, 3]), [b, 1])
    return {
      x: Image.blend(m, tf.gather(x, perm), x),
      y: tf.add(tf.mul(y, tf.sub(1, pasted)), tf.mul(tf.gather(y, perm), pasted)) as tf.Tensor2D,
    }
  },
  RandAugment: (a, batch, ctx) => {
    const magnitude = probability(ctx, a.magnitude)
    const n = Math.max(0, Math.floor(a.n))
    if (magnitude <= 0 || n === 0 || a.ops.length === 0) return batch
    return { x: RandAugment.run(batch.x, a.ops, n, magnitude, ctx.seed), y: batch.y }
  },
}

/**
 * Applies augmentations in order to a batch. Each augmentation `i` draws from
 * `Seed.derive(seed, i)`, so a list is reproducible from the step seed alone. `Mixup` and
 * `Cutmix` mix `y` into soft targets (rows still sum to 1); the others leave `y` as it is.
 * Throws a {@link ShapeError} when `x` is not `[b, h, w, c]` or `y` not `[b, classes]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Augment from "../../dsl/Augment.js"
 * import * as Augmentation from "./Augmentation.js"
 * const x = tf.randomUniform([4, 8, 8, 1]) as tf.Tensor4D
 * const y = tf.cast(tf.oneHot(tf.tensor1d([0, 1, 2, 3], "int32"), 4), "float32") as tf.Tensor2D
 * const clock = { step: 10, epoch: 0.1, progress: 0.01 }
 * const out = Augmentation.apply([Augment.flipX(), Augment.cutout({ size: 3 })], { x, y }, { clock, seed: 1 })
 * ```
 *
 * @since 0.1.0
 * @category augmenting
 */
export const apply = (augs: ReadonlyArray<Augment.Augment>, batch: Batch, options: Options): Batch => {
  const { x, y } = batch
  if (x.rank !== 4)
    throw new ShapeError({
      path: "augment.x",
      message: `images must be [b, h, w, c], got [${x.shape.join(", ")}]`,
    })
  if (y.rank !== 2 || y.shape[0] !== x.shape[0])
    throw new ShapeError({
      path: "augment.y",
      message: `targets must be [${x.shape[0]}, classes], got [${y.shape.join(", ")}]`,
    })
  if (augs.length === 0) return batch
  const num = (n: Ramp.Num): number => {
    const v = Ramp.evaluate(n, options.clock)
    return Number.isNaN(v) ? 0 : v
  }
  return tf.tidy(() => {
    let out: Batch = batch
    augs.forEach((a, i) => {
      const handler = handlers[a._tag] as (a: Augment.Augment, batch: Batch, ctx: Context) => Batch
      out = handler(a, out, { num, seed: Seed.derive(options.seed, i) })
    })
    return { x: out.x, y: out.y }
  })
}
