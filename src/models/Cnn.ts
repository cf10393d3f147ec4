/**
 * The convolutional network of `Model.cnn`: conv stages ("same" padding, ReLU, optional batch
 * norm before the ReLU, max-pooling), flatten, ReLU dense layers with dropout, a dense
 * classifier. Parameters: `conv0…` (`norm0…` with batch norm), `dense0…`, `head`. With batch
 * norm, the taps `bn0…` are each normalisation's statistics gap (see `Ops.batchNormGap`).
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * import * as Cnn from "./src/models/Cnn.js"
 * const net = Cnn.make(Model.cnn({ conv: [{ filters: 32 }, { filters: 64 }], dense: [128], classes: 10 }), 1)
 * Object.keys(net.params) // ["conv0", "conv1", "dense0", "head"]
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import type * as Model from "../../dsl/Model.js"
import type { Net } from "./Built.js"
import * as Ops from "./Ops.js"

/**
 * Creates the variables (seeded, He init; Glorot for the classifier) and the forward pass of a
 * {@link Model.Cnn}.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * import * as Cnn from "./src/models/Cnn.js"
 * const net = Cnn.make(Model.cnn({ conv: [{ filters: 8, kernel: 5, pool: 1 }], dense: [], classes: 10, batchNorm: true }), 7)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (model: Model.Cnn, seed: number): Net => {
  let [h, w, c] = model.input ?? [28, 28, 1]
  const bn = model.batchNorm ?? false
  const init = new Ops.Init(seed)
  model.conv.forEach((layer, i) => {
    init.conv(`conv${i}`, layer.kernel ?? 3, c, layer.filters, "he", !bn)
    if (bn) init.batchNorm(`norm${i}`, layer.filters)
    const pool = layer.pool ?? 2
    h = Math.floor(h / pool)
    w = Math.floor(w / pool)
    c = layer.filters
  })
  const flat = h * w * c
  let fanIn = flat
  model.dense.forEach((units, i) => {
    init.dense(`dense${i}`, fanIn, units, "he")
    fanIn = units
  })
  init.dense("head", fanIn, model.classes, "glorot")
  return {
    params: init.params,
    state: init.state,
    forward: (run, x, rates, tap, wants) => {
      let y: tf.Tensor4D = x
      model.conv.forEach((layer, i) => {
        y = Ops.conv2d(run, `conv${i}`, y, { activation: bn ? "linear" : "relu", binarizable: i > 0 })
        // data-free KD reads how far this batch's statistics are from the running ones
        // (the batch statistic repeated on every row, so that a tap is [batch, ...shape] like the others)
        if (bn && wants?.(`bn${i}`)) {
          const gap = Ops.batchNormGap(run, `norm${i}`, y)
          tap(`bn${i}`, tf.broadcastTo(tf.expandDims(gap, 0), [y.shape[0], ...gap.shape]))
        }
        if (bn) y = tf.relu(Ops.batchNorm(run, `norm${i}`, y))
        const pool = layer.pool ?? 2
        if (pool > 1) y = tf.maxPool(y, pool, pool, "valid")
        y = tap(`conv${i}`, y)
      })
      let z: tf.Tensor = tf.reshape(y, [y.shape[0], flat])
      z = tap("flat", z)
      for (let i = 0; i < model.dense.length; i++) {
        z = Ops.dense(run, `dense${i}`, z, { activation: "relu", binarizable: true })
        z = tap(`dense${i}`, z)
        z = Ops.dropout(run, `dense${i}`, z, rates.dropout)
      }
      return { logits: Ops.dense(run, "head", z) as tf.Tensor2D, heads: {} }
    },
  }
}
