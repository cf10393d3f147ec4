/**
 * What building a model description gives: a functional network. Parameters live in a tree of
 * variables; `apply(params, x, options)` is a pure, synchronous forward pass that reads any tree
 * of the same shape (the live weights, an EMA copy, an SWA average), so distillation recipes
 * can run a model several times per step with different weights, different random masks, and
 * ask for intermediate features.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Models from "./src/models/index.js"
 * const built = Effect.runSync(Models.build(Model.mlp({ hidden: [256, 256], classes: 10 }), { seed: 1 }))
 * const out = tf.tidy(() => built.apply(built.params, tf.zeros([2, 28, 28, 1]), { train: false, taps: ["hidden1"] }).taps.hidden1!.shape)
 * built.paramCount // 269322
 * built.dispose()
 * ```
 *
 * @since 0.1.0
 */
import type * as tf from "@tensorflow/tfjs-core"
import type { Schema } from "effect"
import type * as Model from "../../dsl/Model.js"
import type * as Ramp from "../../dsl/Ramp.js"
import type * as Ops from "./Ops.js"
import type * as Tree from "./Tree.js"

/**
 * Options of one forward pass.
 *
 * - `train`: training mode (dropout and drop-path active, batch norm on batch statistics).
 * - `seed`: seed of this pass's random masks (default 0); each mask's own seed is derived from
 *   it and the mask's name, so two passes with different seeds draw independent masks and the
 *   same seed redraws the same ones.
 * - `taps`: intermediate features to return (names from `Model.taps`); unknown names throw a
 *   `ShapeError`.
 * - `dropout`, `dropPath`, `temperature`: values overriding the description's (typically the
 *   interpreter's evaluation of the description's ramps). `dropPath` is one rate per block, or a
 *   new maximum: the description's per-block profile is scaled so that its largest rate becomes
 *   that maximum (without drop-path in the description: block `i` of `n` gets `p·(i+1)/n`).
 * - `clock`: where training stands; the description's ramps not overridden are evaluated there
 *   (at step 0 when no clock is given).
 * - `updateStats`: update batch-norm running statistics (default: `train`); `statsMomentum`: the
 *   new batch's weight (default 0.1); `state`: the statistics to read and update (default: the
 *   built model's own `state`; pass another tree for an EMA/SWA copy).
 * - `channelDrop`: progressive random dropout (PLACE): in training, at the tap `layer`, whole
 *   channels (the last axis; per sample) are zeroed with probability `rate` and the rest scaled
 *   by `1/(1−rate)`; what follows the tap sees the dropped tensor (so does the tap itself).
 * - `record`: called with each random mask drawn (`dropout/hidden0`, `dropPath/block2`,
 *   `channelDrop/conv1`, …), inside the caller's tidy.
 *
 * @example
 * ```ts
 * import * as Models from "./src/models/index.js"
 * const opts: Models.ApplyOptions = { train: true, seed: 7, taps: ["block1"], dropPath: 0.3 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ApplyOptions {
  readonly train: boolean
  readonly seed?: number
  readonly taps?: ReadonlyArray<string>
  readonly dropout?: number
  readonly dropPath?: number | ReadonlyArray<number>
  readonly temperature?: number
  readonly clock?: Ramp.Clock
  readonly updateStats?: boolean
  readonly statsMomentum?: number
  readonly state?: Tree.Tree<tf.Variable>
  readonly channelDrop?: { readonly rate: number; readonly layer: string }
  readonly record?: (name: string, mask: tf.Tensor) => void
}

/**
 * The result of a forward pass: the default output `logits` `[batch, classes]`, every head by
 * name (`logits` included; `exit0…` for ResNet exits, `dist` for a DeiT ViT), and the requested
 * taps. (A type alias, so that `tf.tidy(() => built.apply(…))` may return it whole.)
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Models from "./src/models/index.js"
 * const f: Models.Forward = { logits: tf.zeros([1, 10]), heads: {}, taps: {} }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Forward = {
  readonly logits: tf.Tensor2D
  readonly heads: Readonly<Record<string, tf.Tensor2D>>
  readonly taps: Readonly<Record<string, tf.Tensor>>
}

/**
 * A built model.
 *
 * - `params`: trainable variables as a tree (`dense0/kernel`, `block1/conv0/bias`, …);
 *   `paramCount` scalars in all.
 * - `state`: non-trainable variables (batch-norm `…/mean`, `…/variance`); `{}` without batch norm.
 * - `taps`, `heads`: the names `apply` knows (for built-in models, `Model.taps` / `Model.heads`).
 * - `apply(params, x, options)`: the forward pass on NHWC images `[batch, h, w, c]` in [0, 1];
 *   synchronous, allocates only tensors (call it inside `tf.tidy`), safe to call many times per
 *   step with different `params` trees of the same shape.
 * - `dispose()`: frees the variables.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Models from "./src/models/index.js"
 * const b: Models.Built = Effect.runSync(Models.build(Model.cnn({ conv: [{ filters: 8 }], dense: [], classes: 10 }), { seed: 3 }))
 * const grads = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(tf.oneHot([3], 10), b.apply(b.params, tf.ones([1, 28, 28, 1]), { train: true }).logits) as tf.Scalar)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Built {
  readonly description: Model.Model
  readonly params: Tree.Tree<tf.Variable>
  readonly state: Tree.Tree<tf.Variable>
  readonly paramCount: number
  readonly taps: ReadonlyArray<string>
  readonly heads: ReadonlyArray<string>
  /** input shape `[h, w, c]`, when known */
  readonly input: Model.Shape | undefined
  /** classes of `logits`, when known */
  readonly classes: number | undefined
  /** the per-channel input normalisation `apply` performs first, if any (see `Build.withNormalize`) */
  readonly normalize?: { readonly mean: ReadonlyArray<number>; readonly std: ReadonlyArray<number> }
  readonly apply: (params: Tree.Tree, x: tf.Tensor, options: ApplyOptions) => Forward
  readonly dispose: () => void
}

/**
 * What a user's builder returns for `Model.custom(name, options)`: its variables, and a forward
 * pass with the {@link Built} contract (it receives the same {@link ApplyOptions}, with `state`
 * always set and `seed` defaulted). It may return only the logits tensor. `taps`/`heads` list
 * what it can return (default: none / `["logits"]`); `input` and `classes`, when given, are
 * checked by one evaluation-mode forward of a zero batch at build time. `dispose` defaults to
 * disposing `params` and `state`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Models from "./src/models/index.js"
 * const linear: Models.CustomBuilder = (options, { seed }) => {
 *   const init = new Models.Ops.Init(seed)
 *   init.dense("head", 784, 10, "glorot")
 *   return {
 *     params: init.params,
 *     input: [28, 28, 1],
 *     classes: 10,
 *     apply: (params, x) =>
 *       Models.Ops.dense(Models.Ops.run({ params, state: {}, train: false }), "head", tf.reshape(x, [x.shape[0]!, 784])),
 *   }
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface CustomModel {
  readonly params: Tree.Tree<tf.Variable>
  readonly state?: Tree.Tree<tf.Variable>
  readonly taps?: ReadonlyArray<string>
  readonly heads?: ReadonlyArray<string>
  readonly input?: Model.Shape
  readonly classes?: number
  readonly apply: (
    params: Tree.Tree,
    x: tf.Tensor4D,
    options: ApplyOptions & { readonly state: Tree.Tree<tf.Variable>; readonly seed: number },
  ) => Forward | tf.Tensor
  readonly dispose?: () => void
}

/**
 * A user-supplied builder, registered by name in `BuildOptions.customBuilders` and used for
 * `Model.custom(name, options)`: it receives the description's JSON options and the seed.
 * {@link Ops} has the primitives the built-in models use (seeded `Init`, `dense`, `conv2d`,
 * `batchNorm`, `dropout`, `dropPath`, …).
 *
 * @example
 * ```ts
 * import * as Models from "./src/models/index.js"
 * const builders: Record<string, Models.CustomBuilder> = {}
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type CustomBuilder = (
  options: { readonly [key: string]: Schema.Json },
  context: { readonly seed: number },
) => CustomModel

/**
 * Hyper-parameter values of one forward pass, already evaluated: the dropout rate and one
 * drop-path rate per block.
 *
 * @example
 * ```ts
 * import * as Models from "./src/models/index.js"
 * const r: Models.Rates = { dropout: 0.1, dropPath: [0.1, 0.2] }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Rates {
  readonly dropout: number
  readonly dropPath: ReadonlyArray<number>
}

/**
 * A built-in architecture before it is wrapped into a {@link Built}: its variables and a forward
 * pass that passes every tap through `tap(name, tensor)` and continues with what it returns
 * (the tensor itself, or a channel-dropped one).
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * import * as Models from "./src/models/index.js"
 * const net: Models.Net = Models.Mlp.make(Model.mlp({ hidden: [8], classes: 10 }), 1)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Net {
  readonly params: Tree.Tree<tf.Variable>
  readonly state: Tree.Tree<tf.Variable>
  readonly forward: (
    run: Ops.Run,
    x: tf.Tensor4D,
    rates: Rates,
    tap: <T extends tf.Tensor>(name: string, t: T) => T,
    /** whether the caller asked for a tap (for taps that cost work to make, e.g. batch-norm statistics) */
    wants?: (name: string) => boolean,
  ) => { readonly logits: tf.Tensor2D; readonly heads: Readonly<Record<string, tf.Tensor2D>> }
}
