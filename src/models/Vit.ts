/**
 * The tiny Vision Transformer of `Model.vit` (ViT/DeiT): non-overlapping patches embedded by a
 * strided conv, a class token (and DeiT's distillation token), learned position embeddings,
 * pre-norm blocks `x + dropPath(attn(ln(x)))`, `x + dropPath(mlp(ln(x)))` (GELU MLP), a final
 * layer norm and linear heads on the tokens. With a distillation token, `logits` is the class
 * head while training and the mean of both heads in evaluation (DeiT's inference rule); the
 * `dist` head is always the distillation token's. Taps: `embed`, per block `block<i>/q`, `block<i>/k`,
 * `block<i>/v` (the attention's queries, keys and values `[b, tokens, dim]`, heads side by side in
 * the channels; sliced out only when asked for) and `block<i>`, then `cls`.
 *
 * Parameters: `embed`, `tokens/cls|dist|pos`, `block<i>/norm0|qkv|proj|norm1|fc0|fc1`, `norm`,
 * `head`, `headDist`. Tokens, positions and projections start from a truncated normal of std
 * 0.02 (as timm), the patch embedding He.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * import * as Vit from "./src/models/Vit.js"
 * const net = Vit.make(Model.vit({ patch: 7, dim: 32, depth: 2, heads: 2, classes: 10 }), 1)
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import type * as Model from "../../dsl/Model.js"
import type { Net } from "./Built.js"
import * as Ops from "./Ops.js"
import { get } from "./Tree.js"

/**
 * Creates the variables (seeded) and the forward pass of a {@link Model.Vit}.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * import * as Vit from "./src/models/Vit.js"
 * const deit = Vit.make(Model.vit({ patch: 4, dim: 16, depth: 1, heads: 2, classes: 10, distillToken: true }), 7)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (model: Model.Vit, seed: number): Net => {
  const [h, w, c] = model.input ?? [28, 28, 1]
  const { patch, dim, depth, heads } = model
  const patches = (h / patch) * (w / patch)
  const extra = model.distillToken ? 2 : 1
  const tokens = patches + extra
  const hidden = Math.round((model.mlpRatio ?? 2) * dim)
  const headDim = dim / heads
  const scale = 1 / Math.sqrt(headDim)
  const small = { std: 0.02 } as const

  const init = new Ops.Init(seed)
  init.conv("embed", patch, c, dim, "he")
  init.tensor("tokens/cls", [1, 1, dim], small)
  if (model.distillToken) init.tensor("tokens/dist", [1, 1, dim], small)
  init.tensor("tokens/pos", [1, tokens, dim], small)
  for (let i = 0; i < depth; i++) {
    const p = `block${i}`
    init.layerNorm(`${p}/norm0`, dim)
    init.dense(`${p}/qkv`, dim, 3 * dim, small)
    init.dense(`${p}/proj`, dim, dim, small)
    init.layerNorm(`${p}/norm1`, dim)
    init.dense(`${p}/fc0`, dim, hidden, small)
    init.dense(`${p}/fc1`, hidden, dim, small)
  }
  init.layerNorm("norm", dim)
  init.dense("head", dim, model.classes, "glorot")
  if (model.distillToken) init.dense("headDist", dim, model.classes, "glorot")

  const attention = (
    run: Ops.Run,
    p: string,
    x: tf.Tensor3D,
    tap: <T extends tf.Tensor>(name: string, t: T) => T,
    wants: (name: string) => boolean,
  ): tf.Tensor3D => {
    const b = x.shape[0]
    const qkv = Ops.dense(run, `${p}/qkv`, x, { binarizable: true })
    // [b, n, 3, heads, headDim] → [3, b, heads, n, headDim]
    const split = tf.transpose(tf.reshape(qkv, [b, tokens, 3, heads, headDim]), [2, 0, 3, 1, 4])
    let [q, k, v] = tf.unstack(split) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D]
    // the q/k/v taps `[b, n, dim]` (heads side by side); only sliced out when asked for
    const names = ["q", "k", "v"].map((n) => `${p}/${n}`)
    if (names.some(wants)) {
      const heads4 = (t: tf.Tensor3D) =>
        tf.transpose(tf.reshape(t, [b, tokens, heads, headDim]), [0, 2, 1, 3])
      ;[q, k, v] = names.map((name, i) =>
        heads4(tap(name, tf.slice(qkv, [0, 0, i * dim], [b, tokens, dim]) as tf.Tensor3D)),
      ) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D]
    }
    const weights = tf.softmax(tf.mul(tf.matMul(q, k, false, true), scale))
    const mixed = tf.reshape(tf.transpose(tf.matMul(weights, v), [0, 2, 1, 3]), [b, tokens, dim])
    return Ops.dense(run, `${p}/proj`, mixed, { binarizable: true }) as tf.Tensor3D
  }

  return {
    params: init.params,
    state: init.state,
    forward: (run, x, rates, tap, wants = () => false) => {
      const b = x.shape[0]
      const embedded = tf.reshape(Ops.conv2d(run, "embed", x, { stride: patch, pad: "valid" }), [
        b,
        patches,
        dim,
      ])
      const prefix = [get(run.params, "tokens/cls")]
      if (model.distillToken) prefix.push(get(run.params, "tokens/dist"))
      const lead = prefix.map((t) => tf.tile(t, [b, 1, 1]))
      let y = tap(
        "embed",
        tf.add(tf.concat([...lead, embedded], 1), get(run.params, "tokens/pos")) as tf.Tensor3D,
      )
      for (let i = 0; i < depth; i++) {
        const p = `block${i}`
        const rate = rates.dropPath[i] ?? 0
        const a = attention(run, p, Ops.layerNorm(run, `${p}/norm0`, y), tap, wants)
        y = tf.add(y, Ops.dropPath(run, `${p}/attn`, a, rate))
        const m = Ops.dense(run, `${p}/fc0`, Ops.layerNorm(run, `${p}/norm1`, y), {
          activation: "gelu",
          binarizable: true,
        })
        const f = Ops.dense(run, `${p}/fc1`, m, { binarizable: true }) as tf.Tensor3D
        y = tap(p, tf.add(y, Ops.dropPath(run, `${p}/mlp`, f, rate)) as tf.Tensor3D)
      }
      const normed = Ops.layerNorm(run, "norm", y)
      const cls = tap("cls", tf.reshape(tf.slice(normed, [0, 0, 0], [b, 1, dim]), [b, dim]) as tf.Tensor2D)
      const clsLogits = Ops.dense(run, "head", cls) as tf.Tensor2D
      if (!model.distillToken) return { logits: clsLogits, heads: {} }
      const dist = tf.reshape(tf.slice(normed, [0, 1, 0], [b, 1, dim]), [b, dim])
      const distLogits = Ops.dense(run, "headDist", dist) as tf.Tensor2D
      const logits = run.train ? clsLogits : (tf.mul(tf.add(clsLogits, distLogits), 0.5) as tf.Tensor2D)
      return { logits, heads: { dist: distLogits } }
    },
  }
}
