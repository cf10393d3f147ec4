/**
 * The generator of `Model.generator` (data-free distillation): noise `z` `[batch, latent]` →
 * dense → `(h/4)×(w/4)×2·width` → batch norm + ReLU → (×2 nearest upsampling → 3×3 conv → batch
 * norm + ReLU) twice (`2·width`, then `width` channels) → 3×3 conv to the image channels →
 * sigmoid, so the images lie in `[0, 1]` like the data every classifier reads. Parameters:
 * `project`, `norm0…2`, `conv0`, `conv1`, `out`.
 *
 * A generator is built straight into a {@link Built} (not through `Build.fromNet`): its input is
 * a noise matrix, not images, and its output (`logits` of the forward, also the head `images`)
 * is a batch of images `[batch, h, w, c]`. The data's input normalisation is never applied to it
 * (the classifiers that read its images normalise them themselves).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Model from "./dsl/Model.js"
 * import * as Generator from "./src/models/Generator.js"
 * const g = Generator.build(Model.generator({ latent: 16, width: 8 }), 1)
 * const shape = tf.tidy(() => g.apply(g.params, tf.randomNormal([2, 16]), { train: true }).logits.shape) // [2, 28, 28, 1]
 * g.dispose()
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Model from "../../dsl/Model.js"
import { ShapeError } from "../errors.js"
import type { ApplyOptions, Built, Forward } from "./Built.js"
import * as Ops from "./Ops.js"
import * as Tree from "./Tree.js"

/**
 * ×2 nearest-neighbour upsampling of NHWC images by broadcasting (its gradient is a sum over
 * each 2×2 block, on every backend).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Generator from "./src/models/Generator.js"
 * Generator.upsample2(tf.zeros([1, 7, 7, 4])).shape // [1, 14, 14, 4]
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const upsample2 = (x: tf.Tensor4D): tf.Tensor4D => {
  const [b, h, w, c] = x.shape
  // two rank-4 broadcasts (tfjs differentiates a tile only up to rank 4): columns, then rows
  const cols = tf.broadcastTo(tf.reshape(x, [b * h, w, 1, c]), [b * h, w, 2, c])
  const rows = tf.broadcastTo(tf.reshape(cols, [b, h, 1, 2 * w * c]), [b, h, 2, 2 * w * c])
  return tf.reshape(rows, [b, 2 * h, 2 * w, c]) as tf.Tensor4D
}

/**
 * Builds a {@link Model.Generator}: seeded variables (He init; Glorot for the last conv) and its
 * forward pass. Training mode normalises with the batch's statistics (and updates the running
 * ones); evaluation mode (`mode: "frozen"`) uses the running statistics.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * import * as Generator from "./src/models/Generator.js"
 * const g = Generator.build(Model.generator({ latent: 32 }), 7)
 * g.paramCount
 * g.dispose()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const build = (model: Model.Generator, seed: number): Built => {
  const [h, w, c] = Model.generatedShape(model)!
  const width = model.width ?? 32
  const h0 = h / 4
  const w0 = w / 4
  const init = new Ops.Init(seed)
  init.dense("project", model.latent, h0 * w0 * 2 * width, "he", false)
  init.batchNorm("norm0", 2 * width)
  init.conv("conv0", 3, 2 * width, 2 * width, "he", false)
  init.batchNorm("norm1", 2 * width)
  init.conv("conv1", 3, 2 * width, width, "he", false)
  init.batchNorm("norm2", width)
  init.conv("out", 3, width, c, "glorot")

  const apply = (params: Tree.Tree, z: tf.Tensor, options: ApplyOptions): Forward => {
    if (z.rank !== 2 || z.shape[1] !== model.latent)
      throw new ShapeError({
        path: "input",
        message: `a generator reads noise [batch, ${model.latent}], got [${z.shape.join(", ")}]`,
      })
    const run = Ops.run({
      params,
      state: options.state ?? init.state,
      train: options.train,
      seed: options.seed ?? 0,
      ...(options.updateStats === undefined ? {} : { updateStats: options.updateStats }),
      ...(options.statsMomentum === undefined ? {} : { momentum: options.statsMomentum }),
    })
    const b = z.shape[0]!
    const projected = Ops.dense(run, "project", z)
    let y = tf.reshape(projected, [b, h0, w0, 2 * width]) as tf.Tensor4D
    y = tf.relu(Ops.batchNorm(run, "norm0", y))
    y = upsample2(y)
    y = tf.relu(Ops.batchNorm(run, "norm1", Ops.conv2d(run, "conv0", y)))
    y = upsample2(y)
    y = tf.relu(Ops.batchNorm(run, "norm2", Ops.conv2d(run, "conv1", y)))
    const images = tf.sigmoid(Ops.conv2d(run, "out", y)) as unknown as tf.Tensor2D
    return { logits: images, heads: { images }, taps: {} }
  }

  return {
    description: model,
    params: init.params,
    state: init.state,
    paramCount: Tree.size(init.params),
    taps: [],
    heads: ["images"],
    input: undefined,
    classes: undefined,
    apply,
    dispose: () => {
      Tree.dispose(init.params)
      Tree.dispose(init.state)
    },
  }
}
