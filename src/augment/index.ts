/**
 * The augmentation interpreter: runs `dsl/Augment` descriptions with tfjs-core ops.
 *
 * - {@link apply}: training augmentations on `{ x, y }` at a clock, with a per-step seed.
 * - {@link corrupt}: named corruptions of evaluation images.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Augment from "../../dsl/Augment.js"
 * import * as Augmentation from "./index.js"
 * const x = tf.randomUniform([4, 28, 28, 1]) as tf.Tensor4D
 * const y = tf.cast(tf.oneHot(tf.tensor1d([0, 1, 2, 3], "int32"), 10), "float32") as tf.Tensor2D
 * const out = Augmentation.apply([Augment.randomCrop({ pad: 2 })], { x, y }, { clock: { step: 0, epoch: 0, progress: 0 }, seed: 3 })
 * const shifted = Augmentation.corrupt(Augment.corruption("rotation", 3), x, 0)
 * ```
 *
 * @since 0.1.0
 */
export { apply, type Batch, type Options } from "./Augmentation.js"
export { corrupt } from "./Corruption.js"
