/**
 * The residual network of `Model.resnet`. Stem: conv3×3 (stride), [batch norm], ReLU. Block `i`:
 * `relu(shortcut(x) + dropPath(conv1(relu(conv0(x)))))` with optional batch norm after each conv
 * and a 1×1 projection shortcut when the stride or width changes. Head: global average pool,
 * dense. Exits (BYOT): global average pool of their tap, optional ReLU bottleneck, dense.
 *
 * Parameters: `stem` (`stemNorm`), `block<i>/conv0|conv1|shortcut` (`norm0|norm1|shortcutNorm`),
 * `head`, `exit<i>/hidden|head`. Convs are He-initialised, classifiers Glorot.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * import * as ResNet from "./src/models/ResNet.js"
 * const net = ResNet.make(Model.resnet({ stem: { filters: 32, stride: 2 }, blocks: [{ filters: 32 }], classes: 10 }), 1)
 * Object.keys(net.params) // ["stem", "block0", "head"]
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import type * as Model from "../../dsl/Model.js"
import type { Net } from "./Built.js"
import * as Ops from "./Ops.js"

/**
 * Creates the variables (seeded) and the forward pass of a {@link Model.ResNet}.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * import * as ResNet from "./src/models/ResNet.js"
 * const net = ResNet.make(
 *   Model.resnet({ stem: { filters: 8 }, blocks: [{ filters: 16, stride: 2 }], batchNorm: true, exits: [{ after: "stem" }], classes: 10 }),
 *   7,
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (model: Model.ResNet, seed: number): Net => {
  const [, , c] = model.input ?? [28, 28, 1]
  const bn = model.batchNorm ?? false
  const init = new Ops.Init(seed)
  init.conv("stem", 3, c, model.stem.filters, "he", !bn)
  if (bn) init.batchNorm("stemNorm", model.stem.filters)
  const widths: Record<string, number> = { stem: model.stem.filters }
  let width = model.stem.filters
  const projections = model.blocks.map((b, i) => {
    const p = `block${i}`
    init.conv(`${p}/conv0`, 3, width, b.filters, "he", !bn)
    if (bn) init.batchNorm(`${p}/norm0`, b.filters)
    init.conv(`${p}/conv1`, 3, b.filters, b.filters, "he", !bn)
    if (bn) init.batchNorm(`${p}/norm1`, b.filters)
    const project = (b.stride ?? 1) !== 1 || b.filters !== width
    if (project) {
      init.conv(`${p}/shortcut`, 1, width, b.filters, "he", !bn)
      if (bn) init.batchNorm(`${p}/shortcutNorm`, b.filters)
    }
    width = b.filters
    widths[p] = width
    return project
  })
  init.dense("head", width, model.classes, "glorot")
  const exits = model.exits ?? []
  exits.forEach((e, i) => {
    let fanIn = widths[e.after] ?? 0
    if (e.hidden !== undefined) {
      init.dense(`exit${i}/hidden`, fanIn, e.hidden, "he")
      fanIn = e.hidden
    }
    init.dense(`exit${i}/head`, fanIn, model.classes, "glorot")
  })

  const convBn = (
    run: Ops.Run,
    conv: string,
    norm: string,
    x: tf.Tensor4D,
    stride: number,
    relu: boolean,
    binarizable: boolean,
  ): tf.Tensor4D => {
    if (!bn) return Ops.conv2d(run, conv, x, { stride, activation: relu ? "relu" : "linear", binarizable })
    const y = Ops.batchNorm(run, norm, Ops.conv2d(run, conv, x, { stride, binarizable }))
    return relu ? tf.relu(y) : y
  }

  return {
    params: init.params,
    state: init.state,
    forward: (run, x, rates, tap) => {
      const features: Record<string, tf.Tensor4D> = {}
      let y = tap("stem", convBn(run, "stem", "stemNorm", x, model.stem.stride ?? 1, true, false))
      features.stem = y
      model.blocks.forEach((b, i) => {
        const p = `block${i}`
        const stride = b.stride ?? 1
        const a = convBn(run, `${p}/conv0`, `${p}/norm0`, y, stride, true, true)
        let r = convBn(run, `${p}/conv1`, `${p}/norm1`, a, 1, false, true)
        r = Ops.dropPath(run, p, r, rates.dropPath[i] ?? 0)
        const shortcut = projections[i]
          ? convBn(run, `${p}/shortcut`, `${p}/shortcutNorm`, y, stride, false, false)
          : y
        y = tap(p, tf.relu(tf.add(shortcut, r)) as tf.Tensor4D)
        features[p] = y
      })
      const pooled = tap("pool", tf.mean(y, [1, 2]) as tf.Tensor2D)
      const heads: Record<string, tf.Tensor2D> = {}
      exits.forEach((e, i) => {
        let f: tf.Tensor = tf.mean(features[e.after]!, [1, 2])
        if (e.hidden !== undefined) f = Ops.dense(run, `exit${i}/hidden`, f, { activation: "relu" })
        f = tap(`exit${i}_features`, f)
        heads[`exit${i}`] = Ops.dense(run, `exit${i}/head`, f) as tf.Tensor2D
      })
      return { logits: Ops.dense(run, "head", pooled) as tf.Tensor2D, heads }
    },
  }
}
