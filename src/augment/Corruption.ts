/**
 * Applies a {@link Augment.Corruption} to evaluation images: a fixed, deterministic (for a
 * seed) distribution shift for splits such as `"test:rotation@3"`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Augment from "../../dsl/Augment.js"
 * import * as Corruption from "./Corruption.js"
 * const x = tf.randomUniform([8, 28, 28, 1]) as tf.Tensor4D
 * const shifted = Corruption.corrupt(Augment.corruption("blur", 2), x, 0)
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import type * as Augment from "../../dsl/Augment.js"
import { ShapeError } from "../errors.js"
import * as Image from "./Image.js"
import * as Seed from "./Seed.js"

type Handlers = {
  readonly [K in Augment.Corruption["_tag"]]: (
    c: Extract<Augment.Corruption, { readonly _tag: K }>,
    x: tf.Tensor4D,
    seed: number,
  ) => tf.Tensor4D
}

const handlers: Handlers = {
  Rotation: (c, x, seed) => {
    const degrees = Math.min(180, Math.max(0, c.degrees))
    if (degrees === 0) return x
    const [b, h, w] = x.shape
    const theta = tf.mul(Seed.signs(b, Seed.derive(seed, 0)), (degrees * Math.PI) / 180) as tf.Tensor1D
    return Image.warp(x, Image.rotation(theta, h, w), "bilinear")
  },
  GaussianNoise: (c, x, seed) =>
    c.std > 0
      ? Image.clip01(tf.add(x, tf.randomNormal(x.shape, 0, c.std, "float32", Seed.derive(seed, 0))))
      : x,
  Blur: (c, x) => Image.gaussianBlur(x, c.sigma, c.radius),
  Contrast: (c, x) => (c.factor === 1 ? x : Image.contrast(x, Math.max(0, c.factor))),
}

/**
 * Corrupts a batch of images `[b, h, w, c]` in [0, 1]; the result stays in [0, 1]. Random
 * corruptions (rotation direction, noise) are drawn from `seed`: the same seed gives the same
 * images. Runs inside its own `tf.tidy`. Throws a {@link ShapeError} for non-4D input.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Augment from "../../dsl/Augment.js"
 * import * as Corruption from "./Corruption.js"
 * const x = tf.randomUniform([4, 28, 28, 1]) as tf.Tensor4D
 * const rotated = Corruption.corrupt(Augment.rotation({ degrees: 30 }), x, 1)
 * ```
 *
 * @since 0.1.0
 * @category corrupting
 */
export const corrupt = (corruption: Augment.Corruption, x: tf.Tensor4D, seed: number): tf.Tensor4D => {
  if (x.rank !== 4)
    throw new ShapeError({
      path: "corrupt.x",
      message: `images must be [b, h, w, c], got [${x.shape.join(", ")}]`,
    })
  const handler = handlers[corruption._tag] as (
    c: Augment.Corruption,
    x: tf.Tensor4D,
    seed: number,
  ) => tf.Tensor4D
  return tf.tidy(() => handler(corruption, x, seed))
}
