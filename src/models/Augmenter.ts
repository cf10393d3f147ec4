/**
 * The learned, differentiable augmenter of TST (`Model.augmenter`, see `dsl/Model.ts`): images in,
 * images out. Each op `i` has a learned magnitude logit `magnitude[i]` and a learned probability
 * logit `probability[i]`; per sample, a relaxed-Bernoulli gate
 * `g = σ((logit p + log u − log(1 − u)) / τ)` (u ~ U(0, 1) from the forward's seed, τ the
 * model's temperature, default 0.05 as in the reference) mixes the op in:
 * `x ← (1 − g)·x + g·op(x, m)`. Gradients reach both logits through the gate and the op.
 *
 * The ops act on the raw pixels (the data's normalisation is applied by the classifiers after):
 * - `brightness`: `x + 0.5·tanh(a)`;
 * - `contrast`: `x̄ + (1 + 0.8·tanh(a))·(x − x̄)`, `x̄` the image's mean;
 * - `noise`: `x + 0.3·σ(a)·ε`, ε ~ N(0, 1) from the forward's seed;
 * - `translateX` / `translateY`: a shift by `d = 3·tanh(a)` pixels (zero fill), fractional shifts
 *   as the linear blend of the two nearest whole shifts, so `d` is differentiable.
 *
 * The augmenter samples in both modes: it is a random augmentation by construction (its "frozen"
 * forward draws fresh gates, it only does not learn). With `init: "random"` the magnitude logits
 * start uniform in [−1.5, 1.5] (seeded) instead of at the identity.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * import * as Augmenter from "./src/models/Augmenter.js"
 * const built = Augmenter.build(Model.augmenter({}), 1)
 * built.paramCount // 10: a magnitude and a probability logit for each of the 5 ops
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

/** `x` shifted by a whole `k` pixels along `axis` (1: rows, 2: columns), zero fill. */
const shiftWhole = (x: tf.Tensor4D, k: number, axis: 1 | 2): tf.Tensor4D => {
  if (k === 0) return x
  const size = x.shape[axis]!
  const n = Math.min(Math.abs(k), size)
  const begin = [0, 0, 0, 0]
  const keep = [...x.shape] as [number, number, number, number]
  keep[axis] = size - n
  if (k < 0) begin[axis] = n
  const kept = tf.slice(x, begin, keep)
  const pad: Array<[number, number]> = [
    [0, 0],
    [0, 0],
    [0, 0],
    [0, 0],
  ]
  pad[axis] = k > 0 ? [n, 0] : [0, n]
  return tf.pad(kept, pad) as tf.Tensor4D
}

/**
 * `x` shifted by `d` pixels (a scalar tensor), the blend of the shifts by ⌊d⌋ and ⌊d⌋ + 1. ⌊d⌋ is
 * read on the host (one scalar read per shift op and forward): the all-device alternative,
 * Σ_k max(0, 1 − |d − k|)·shift(x, k) over all 7 whole shifts, measured 2.7× slower on wasm
 * (156 vs 57 ms per forward + backward of a 128-image batch).
 */
const shift = (x: tf.Tensor4D, d: tf.Scalar, axis: 1 | 2): tf.Tensor4D => {
  const lo = Math.floor(d.dataSync()[0]!)
  const frac = tf.sub(d, lo)
  return tf.add(
    tf.mul(shiftWhole(x, lo, axis), tf.sub(1, frac)),
    tf.mul(shiftWhole(x, lo + 1, axis), frac),
  ) as tf.Tensor4D
}

/**
 * The op `op` applied to a batch `x` `[b, h, w, c]` at raw magnitude logit `a` (a scalar tensor).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Augmenter from "./src/models/Augmenter.js"
 * const brighter = Augmenter.applyOp("brightness", tf.zeros([1, 2, 2, 1]), tf.scalar(10), 0) // ≈ +0.5
 * ```
 *
 * @since 0.1.0
 * @category ops
 */
export const applyOp = (op: Model.AugmenterOp, x: tf.Tensor4D, a: tf.Scalar, seed: number): tf.Tensor4D => {
  switch (op) {
    case "brightness":
      return tf.add(x, tf.mul(tf.tanh(a), 0.5)) as tf.Tensor4D
    case "contrast": {
      const mean = tf.mean(x, [1, 2, 3], true)
      return tf.add(mean, tf.mul(tf.sub(x, mean), tf.add(1, tf.mul(tf.tanh(a), 0.8)))) as tf.Tensor4D
    }
    case "noise":
      return tf.add(
        x,
        tf.mul(tf.randomNormal(x.shape, 0, 1, "float32", seed), tf.mul(tf.sigmoid(a), 0.3)),
      ) as tf.Tensor4D
    case "translateX":
      return shift(x, tf.mul(tf.tanh(a), 3) as tf.Scalar, 2)
    case "translateY":
      return shift(x, tf.mul(tf.tanh(a), 3) as tf.Scalar, 1)
  }
}

/** Initial logits: ops start as the identity (noise almost off), each applied with p = ½. */
const initialMagnitude = (op: Model.AugmenterOp): number => (op === "noise" ? -3 : 0)

/**
 * Builds an augmenter: parameters `magnitude` and `probability`, `[ops]` each.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * import * as Augmenter from "./src/models/Augmenter.js"
 * const built = Augmenter.build(Model.augmenter({ ops: ["brightness", "noise"] }), 7)
 * built.heads // ["images"]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const build = (model: Model.Augmenter, seed: number): Built => {
  const ops = Model.augmenterOps(model)
  const tau = model.temperature ?? 0.05
  const init = new Ops.Init(seed)
  const magnitude = init.tensor("magnitude", [ops.length], "zeros")
  tf.tidy(() =>
    magnitude.assign(
      model.init === "random"
        ? tf.randomUniform([ops.length], -1.5, 1.5, "float32", Ops.seedFor(seed, "magnitude"))
        : tf.tensor1d(ops.map(initialMagnitude)),
    ),
  )
  init.tensor("probability", [ops.length], "zeros")

  const apply = (params: Tree.Tree, x: tf.Tensor, options: ApplyOptions): Forward => {
    if (x.rank !== 4)
      throw new ShapeError({
        path: "input",
        message: `an augmenter reads images [batch, h, w, c], got [${x.shape.join(", ")}]`,
      })
    const m = (params as Record<string, tf.Tensor>).magnitude as tf.Tensor1D
    const p = (params as Record<string, tf.Tensor>).probability as tf.Tensor1D
    const b = x.shape[0]!
    const base = options.seed ?? 0
    let y = x as tf.Tensor4D
    ops.forEach((op, i) => {
      const s = Ops.seedFor(base, `augmenter/${i}`)
      const u = tf.randomUniform([b, 1, 1, 1], 1e-6, 1 - 1e-6, "float32", s)
      const logit = tf.reshape(tf.slice(p, [i], [1]), [])
      const g = tf.sigmoid(tf.div(tf.add(logit, tf.sub(tf.log(u), tf.log1p(tf.neg(u)))), tau))
      const a = tf.reshape(tf.slice(m, [i], [1]), []) as tf.Scalar
      const out = applyOp(op, y, a, Ops.seedFor(base, `augmenter/${i}/noise`))
      y = tf.add(tf.mul(tf.sub(1, g), y), tf.mul(g, out)) as tf.Tensor4D
    })
    const images = y as unknown as tf.Tensor2D
    return { logits: images, heads: { images }, taps: {} }
  }

  return {
    description: model,
    params: init.params,
    state: init.state,
    paramCount: Tree.size(init.params),
    taps: [],
    heads: ["images"],
    input: model.input ?? [28, 28, 1],
    classes: undefined,
    apply,
    dispose: () => {
      Tree.dispose(init.params)
      Tree.dispose(init.state)
    },
  }
}
