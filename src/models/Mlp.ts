/**
 * The multi-layer perceptron of `Model.mlp`: flatten, hidden dense layers (He init for ReLU/GELU,
 * Glorot for tanh) each followed by dropout, a Glorot-initialised dense classifier.
 * Parameters: `dense0…`, `head`.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * import * as Mlp from "./src/models/Mlp.js"
 * const net = Mlp.make(Model.mlp({ hidden: [256, 256], classes: 10 }), 1)
 * Object.keys(net.params) // ["dense0", "dense1", "head"]
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import type * as Model from "../../dsl/Model.js"
import type { Net } from "./Built.js"
import * as Ops from "./Ops.js"

/**
 * Creates the variables (seeded) and the forward pass of an {@link Model.Mlp}.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * import * as Mlp from "./src/models/Mlp.js"
 * const net = Mlp.make(Model.mlp({ hidden: [32], classes: 10, activation: "tanh" }), 7)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (model: Model.Mlp, seed: number): Net => {
  const [h, w, c] = model.input ?? [28, 28, 1]
  const activation = model.activation ?? "relu"
  const init = new Ops.Init(seed)
  let fanIn = h * w * c
  model.hidden.forEach((units, i) => {
    init.dense(`dense${i}`, fanIn, units, activation === "tanh" ? "glorot" : "he")
    fanIn = units
  })
  init.dense("head", fanIn, model.classes, "glorot")
  return {
    params: init.params,
    state: init.state,
    forward: (run, x, rates, tap) => {
      let y: tf.Tensor = tf.reshape(x, [x.shape[0], h * w * c])
      for (let i = 0; i < model.hidden.length; i++) {
        y = Ops.dense(run, `dense${i}`, y, { activation, binarizable: i > 0 })
        y = tap(`hidden${i}`, y)
        y = Ops.dropout(run, `hidden${i}`, y, rates.dropout)
      }
      return { logits: Ops.dense(run, "head", y) as tf.Tensor2D, heads: {} }
    },
  }
}
