/**
 * Model descriptions: what network to build, as data.
 *
 * A model is a tagged, immutable, JSON-friendly value — `Mlp`, `Cnn`, `ResNet`, `Vit`, `Binary`
 * (a binarising wrapper) or `Custom` (a user builder looked up by name). The interpreter builds
 * it into parameters plus a functional `apply` (`src/models`); this module only describes it and
 * answers, purely, what the compiler needs to validate a pipeline: which intermediate features
 * ({@link taps}) and outputs ({@link heads}) exist, their shapes ({@link tapShapes}), the input
 * shape and class count, whether a forward is random ({@link stochastic}), and what is wrong with
 * a description ({@link check}).
 *
 * Defaults are not stored: a constructor keeps exactly the fields given, so a model written in
 * TypeScript and the same model decoded from JSON are equal values. Defaults are applied by the
 * helpers (`inputShape`, …) and by the builder: input `[28, 28, 1]`, activation `"relu"`, conv
 * `kernel` 3 and `pool` 2, block `stride` 1, ViT `mlpRatio` 2.
 *
 * Every hyper-parameter that may change over training (dropout, drop-path, binarisation
 * temperature) is a {@link Ramp.Num}: a number or a schedule.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const w1 = Model.mlp({ hidden: [256, 256], classes: 10 })
 * const w2 = Model.cnn({ conv: [{ filters: 32 }, { filters: 64 }], dense: [128], classes: 10 })
 * Model.taps(w2) // ["conv0", "conv1", "flat", "dense0"]
 * Model.describe(w1) // "mlp 784→256→256→10 relu"
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Ramp from "./Ramp.js"

type Num = Ramp.Num

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

/**
 * Hidden-layer non-linearity of an MLP. `"gelu"` is the exact (erf) GELU.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const a: Model.Activation = "gelu"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Activation = "relu" | "gelu" | "tanh"

/**
 * An image shape without the batch axis: `[height, width, channels]` (NHWC).
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const mnist: Model.Shape = [28, 28, 1]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Shape = readonly [number, number, number]

/**
 * Multi-layer perceptron: flatten the image, `hidden` dense layers with `activation` (and
 * `dropout` after each), then a dense layer to `classes` logits.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const m: Model.Mlp = Model.mlp({ hidden: [256, 256], classes: 10, dropout: 0.3 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Mlp {
  readonly _tag: "Mlp"
  readonly hidden: ReadonlyArray<number>
  readonly classes: number
  readonly activation?: Activation
  readonly dropout?: Num
  readonly input?: Shape
}

/**
 * One convolution stage of a {@link Cnn}: `kernel×kernel` conv with `filters` outputs ("same"
 * padding, stride 1), optional batch norm, ReLU, then `pool×pool` max-pooling ("valid"; `pool: 1`
 * means none).
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const c: Model.ConvLayer = { filters: 32, kernel: 5, pool: 1 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ConvLayer {
  readonly filters: number
  readonly kernel?: number
  readonly pool?: number
}

/**
 * Plain convolutional network: `conv` stages, flatten, `dense` ReLU layers (with `dropout` after
 * each), a dense layer to `classes`. With `batchNorm`, each conv is followed by batch
 * normalisation (and has no bias).
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * // W2: conv3×3×32 → ReLU → pool2 → conv3×3×64 → ReLU → pool2 → dense128 → ReLU → dense10
 * const w2: Model.Cnn = Model.cnn({ conv: [{ filters: 32 }, { filters: 64 }], dense: [128], classes: 10 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Cnn {
  readonly _tag: "Cnn"
  readonly conv: ReadonlyArray<ConvLayer>
  readonly dense: ReadonlyArray<number>
  readonly classes: number
  readonly dropout?: Num
  readonly batchNorm?: boolean
  readonly input?: Shape
}

/**
 * The first convolution of a {@link ResNet}: 3×3, `filters` outputs, `stride` (default 1), "same"
 * padding, ReLU.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const stem: Model.Stem = { filters: 32, stride: 2 } // 28×28 → 14×14×32
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Stem {
  readonly filters: number
  readonly stride?: number
}

/**
 * A basic residual block: `relu(x + dropPath(conv3×3(relu(conv3×3(x)))))`, the first conv
 * strided by `stride` (default 1). When `stride ≠ 1` or the width changes, the shortcut is a
 * 1×1 projection conv.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const b: Model.Block = { filters: 64, stride: 2 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Block {
  readonly filters: number
  readonly stride?: number
}

/**
 * An auxiliary classifier (BYOT "shallow exit") reading the tap `after` (`"stem"` or
 * `"blockK"`): global average pool, an optional ReLU dense bottleneck of `hidden` units, then a
 * dense layer to the model's classes. Exit `i` adds the head `exit<i>` and the tap
 * `exit<i>_features` (the vector the classifier reads: pooled, or the bottleneck's output). Set
 * `hidden` to the last block's width to make `exit<i>_features` comparable with the deep
 * `pool` tap (BYOT's feature hint).
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const e: Model.Exit = { after: "block1", hidden: 32 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Exit {
  readonly after: string
  readonly hidden?: number
}

/**
 * Residual network: a {@link Stem}, {@link Block}s with per-sample drop-path, global average
 * pooling, a dense layer to `classes`; optional batch norm after every conv, optional
 * auxiliary {@link Exit}s.
 *
 * `dropPath` is either one rate per block, or a single maximum rate `p` spread linearly over
 * depth as in the stochastic-depth paper: block `i` of `n` drops with `p·(i+1)/n`.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * // W4 (cosub): stem to 14×14×32, 4 blocks of two conv3×3×32, drop-path 0.1 … 0.3
 * const w4: Model.ResNet = Model.resnet({
 *   stem: { filters: 32, stride: 2 },
 *   blocks: [{ filters: 32 }, { filters: 32 }, { filters: 32 }, { filters: 32 }],
 *   dropPath: [0.1, 0.16, 0.23, 0.3],
 *   classes: 10,
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ResNet {
  readonly _tag: "ResNet"
  readonly stem: Stem
  readonly blocks: ReadonlyArray<Block>
  readonly classes: number
  readonly dropPath?: Num | ReadonlyArray<Num>
  readonly batchNorm?: boolean
  readonly exits?: ReadonlyArray<Exit>
  readonly input?: Shape
}

/**
 * A tiny Vision Transformer: `patch×patch` patches embedded to `dim`, a class token (and, with
 * `distillToken`, DeiT's distillation token), learned position embeddings, `depth` pre-norm
 * blocks (multi-head self-attention with `heads` heads, GELU MLP of `mlpRatio·dim`), drop-path
 * spread linearly over depth, final layer norm, linear head(s).
 *
 * With `distillToken` the model has a second head `dist` (on the distillation token). The
 * default output `logits` follows DeiT: in training it is the class-token head; in evaluation
 * it is the mean of the two heads.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const deit: Model.Vit = Model.vit({ patch: 7, dim: 64, depth: 4, heads: 4, classes: 10, distillToken: true })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Vit {
  readonly _tag: "Vit"
  readonly patch: number
  readonly dim: number
  readonly depth: number
  readonly heads: number
  readonly classes: number
  readonly mlpRatio?: number
  readonly distillToken?: boolean
  readonly dropPath?: Num
  readonly input?: Shape
}

/**
 * A binarised version of `inner` (BNext-style): the weights of every conv/dense layer except the
 * first (reading the image) and the classifiers are replaced, in the forward pass, by
 * `α·sign(W)` (α = mean |W| per output unit); with `binarizeActivations`, those layers' inputs
 * become `sign(x)` too (after ReLU that is {0, 1}, the step of the pre-activation). Gradients
 * pass by a straight-through estimator: the clipped identity (`|x| ≤ 1`) or, with
 * `temperature` τ, the derivative of `tanh(x/τ)` — lower τ, closer to the true sign.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * import * as Ramp from "./dsl/Ramp.js"
 * const bnn = Model.binary(Model.mlp({ hidden: [512, 512], classes: 10 }), {
 *   binarizeActivations: true,
 *   temperature: Ramp.exponential({ from: 1, rate: 0.9, unit: "epoch" }),
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Binary {
  readonly _tag: "Binary"
  readonly inner: Model
  readonly binarizeActivations?: boolean
  readonly temperature?: Num
}

/**
 * A model made by a user-supplied builder registered under `name`; `options` (JSON) are handed
 * to it. Its taps, heads and shapes are unknown to the description (the helpers return
 * `undefined` and the validator skips them).
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const m: Model.Custom = Model.custom("lenet5", { width: 2 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Custom {
  readonly _tag: "Custom"
  readonly name: string
  readonly options?: { readonly [key: string]: Schema.Json }
}

/**
 * Per-channel input normalisation: the model sees `(x − mean[c]) / std[c]` for a pixel `x` in
 * `[0, 1]` of channel `c` (one value per channel, or one value for all). `{ mean: [0], std:
 * [1 / 255] }` feeds a model that expects `[0, 255]`; `{ mean: [0.5], std: [0.5] }` one that
 * expects `[−1, 1]`; ImageNet models take `{ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }`.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const keras255: Model.Normalize = { mean: [0], std: [1 / 255] }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Normalize {
  readonly mean: ReadonlyArray<number>
  readonly std: ReadonlyArray<number>
}

/**
 * A trained model read from disk: a TF.js **LayersModel** (`model.json` + weight shards, as
 * written by `tfjs-converter` from Keras or by `retort export`) or a TF.js **GraphModel**
 * (`format: "graph-model"`). `path` is the `model.json` or its folder (relative paths are
 * resolved against the working directory).
 *
 * A LayersModel runs functionally inside Retort (its layers are interpreted with the same ops as
 * the built-in models), so it can be a frozen teacher, a trainable student initialised from its
 * weights (fine-tuning), and its named layers are taps for hint and relation losses. A GraphModel
 * is a frozen inference graph: a teacher only (its nodes are taps).
 *
 * - `output`: what the model's output is. `auto` (default): when the last layer is a softmax,
 *   its input is taken as the logits (softmax(logits) is exactly the model's output); otherwise
 *   the output is the logits. `probabilities`: the output is a distribution, and `log p` is used
 *   as logits. `logits`: as `auto`.
 * - `normalize`: the input preprocessing the model was trained with (see {@link Normalize});
 *   default none: the model receives pixels in `[0, 1]` (what `retort export` writes expects).
 *
 * Its input shape, classes and taps are known only once the file is read: the run checks them
 * against the data and the other models before the first step.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const teacher: Model.Load = Model.load({ path: "teachers/resnet/model.json" })
 * const keras: Model.Load = Model.load({ path: "keras-export", normalize: { mean: [0], std: [1 / 255] } })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Load {
  readonly _tag: "Load"
  readonly path: string
  readonly output?: "auto" | "logits" | "probabilities"
  readonly normalize?: Normalize
}

/**
 * A generator (data-free distillation): a network from noise `z` `[batch, latent]` to images of
 * `output` (default `[28, 28, 1]`) in `[0, 1]` — the pixel range every model reads. A dense
 * layer projects `z` to `(h/4)×(w/4)×2·width` features, then two stages of ×2 nearest-neighbour
 * upsampling, a 3×3 convolution and batch norm + ReLU (`2·width` then `width` channels), and a
 * final 3×3 convolution to the image channels through a sigmoid (the DCGAN-style generator of
 * DFAD and CMI). `h` and `w` must be divisible by 4. Its output (the forward's `as`) is images,
 * not logits: read it as another forward's `input`.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const g: Model.Generator = Model.generator({ latent: 64, width: 32 })
 * Model.describe(g) // "generator z64 → 7×7×64 → 14×14×64 → 28×28×32 → 28×28×1, batch-norm"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Generator {
  readonly _tag: "Generator"
  readonly latent: number
  readonly width?: number
  readonly output?: Shape
}

/**
 * An op of an {@link Augmenter}: a photometric change (`brightness`, `contrast`, `noise`) or a
 * fractional shift (`translateX`, `translateY`), each with a learned magnitude.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const op: Model.AugmenterOp = "contrast"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type AugmenterOp = "brightness" | "contrast" | "noise" | "translateX" | "translateY"

/**
 * A learned, differentiable augmenter (TST): images in, images out of the same shape. Each op
 * has a learned magnitude and a learned probability, applied per sample through a
 * relaxed-Bernoulli gate at `temperature` (default 0.05), so that a loss on the teacher's and the
 * student's outputs of the augmented images trains it (see `src/models/Augmenter.ts`).
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const a: Model.Augmenter = Model.augmenter({ ops: ["brightness", "translateX", "translateY"] })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Augmenter {
  readonly _tag: "Augmenter"
  readonly ops?: ReadonlyArray<AugmenterOp>
  readonly temperature?: number
  readonly input?: Shape
  /**
   * The starting magnitudes: `"identity"` (default; every op starts as no change, noise almost
   * off) or `"random"` (magnitude logits drawn uniformly from [−1.5, 1.5] with the model's seed —
   * an unlearned random policy when the augmenter is never trained).
   */
  readonly init?: "identity" | "random"
}

/**
 * Any model description.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const models: ReadonlyArray<Model.Model> = [Model.mlp({ hidden: [64], classes: 10 }), Model.custom("mine")]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Model = Mlp | Cnn | ResNet | Vit | Binary | Custom | Load | Generator | Augmenter

// ---------------------------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------------------------

const freeze = <A>(a: A): A => Object.freeze(a)

/** keeps only the keys whose value is not undefined (exactOptionalPropertyTypes-friendly) */
const defined = <A extends object>(a: { readonly [K in keyof A]?: A[K] | undefined }): A => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(a)) if (v !== undefined) out[k] = v
  return out as A
}

/**
 * An {@link Mlp}. W1 is `mlp({ hidden: [256, 256], classes: 10 })` (269,322 parameters).
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const w1 = Model.mlp({ hidden: [256, 256], classes: 10 })
 * Model.taps(w1) // ["hidden0", "hidden1"]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const mlp = (options: {
  readonly hidden: ReadonlyArray<number>
  readonly classes: number
  readonly activation?: Activation
  readonly dropout?: Num
  readonly input?: Shape
}): Mlp => freeze(defined<Mlp>({ _tag: "Mlp", ...options, hidden: freeze([...options.hidden]) }))

/**
 * A {@link Cnn}.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const w2 = Model.cnn({ conv: [{ filters: 32 }, { filters: 64 }], dense: [128], classes: 10 })
 * Model.tapShapes(w2)?.flat // [3136]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const cnn = (options: {
  readonly conv: ReadonlyArray<ConvLayer>
  readonly dense: ReadonlyArray<number>
  readonly classes: number
  readonly dropout?: Num
  readonly batchNorm?: boolean
  readonly input?: Shape
}): Cnn =>
  freeze(
    defined<Cnn>({
      _tag: "Cnn",
      ...options,
      conv: freeze(options.conv.map((c) => freeze(defined<ConvLayer>({ ...c })))),
      dense: freeze([...options.dense]),
    }),
  )

/**
 * A {@link ResNet}.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const byot = Model.resnet({
 *   stem: { filters: 16 },
 *   blocks: [{ filters: 16 }, { filters: 32, stride: 2 }, { filters: 32 }],
 *   exits: [{ after: "block0", hidden: 32 }, { after: "block1" }],
 *   classes: 10,
 * })
 * Model.heads(byot) // ["logits", "exit0", "exit1"]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const resnet = (options: {
  readonly stem: Stem
  readonly blocks: ReadonlyArray<Block>
  readonly classes: number
  readonly dropPath?: Num | ReadonlyArray<Num>
  readonly batchNorm?: boolean
  readonly exits?: ReadonlyArray<Exit>
  readonly input?: Shape
}): ResNet =>
  freeze(
    defined<ResNet>({
      _tag: "ResNet",
      ...options,
      stem: freeze(defined<Stem>({ ...options.stem })),
      blocks: freeze(options.blocks.map((b) => freeze(defined<Block>({ ...b })))),
      dropPath: Array.isArray(options.dropPath) ? freeze([...options.dropPath]) : options.dropPath,
      exits:
        options.exits === undefined
          ? undefined
          : freeze(options.exits.map((e) => freeze(defined<Exit>({ ...e })))),
    }),
  )

/**
 * A {@link Vit}.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const v = Model.vit({ patch: 7, dim: 32, depth: 2, heads: 2, classes: 10, distillToken: true })
 * Model.heads(v) // ["logits", "dist"]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const vit = (options: {
  readonly patch: number
  readonly dim: number
  readonly depth: number
  readonly heads: number
  readonly classes: number
  readonly mlpRatio?: number
  readonly distillToken?: boolean
  readonly dropPath?: Num
  readonly input?: Shape
}): Vit => freeze(defined<Vit>({ _tag: "Vit", ...options }))

/**
 * A {@link Binary} wrapper around a float model.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const b = Model.binary(Model.mlp({ hidden: [256, 256], classes: 10 }), { binarizeActivations: true })
 * Model.describe(b) // "binary(weights+activations) mlp 784→256→256→10 relu"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const binary = (
  inner: Model,
  options: { readonly binarizeActivations?: boolean; readonly temperature?: Num } = {},
): Binary => freeze(defined<Binary>({ _tag: "Binary", inner, ...options }))

/**
 * A {@link Custom} model, built by the builder registered under `name`.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const m = Model.custom("lenet5", { width: 2 })
 * Model.taps(m) // undefined
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const custom = (name: string, options?: { readonly [key: string]: Schema.Json }): Custom =>
  freeze(defined<Custom>({ _tag: "Custom", name, options }))

/**
 * A {@link Load} model: a TF.js LayersModel or GraphModel read from `path`.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const teacher = Model.load({ path: "runs/teacher/export/teacher/model.json" })
 * Model.describe(teacher) // 'load "runs/teacher/export/teacher/model.json"'
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const load = (options: {
  readonly path: string
  readonly output?: "auto" | "logits" | "probabilities"
  readonly normalize?: Normalize
}): Load =>
  freeze(
    defined<Load>({
      _tag: "Load",
      ...options,
      normalize:
        options.normalize === undefined
          ? undefined
          : freeze({ mean: freeze([...options.normalize.mean]), std: freeze([...options.normalize.std]) }),
    }),
  )

/**
 * A {@link Generator} of images of `output` (default `[28, 28, 1]`) from `latent`-dimensional
 * noise, `width` (default 32) channels in its last stage.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const g = Model.generator({ latent: 64, width: 32, output: [28, 28, 1] })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const generator = (options: {
  readonly latent: number
  readonly width?: number
  readonly output?: Shape
}): Generator => freeze(defined<Generator>({ _tag: "Generator", ...options }))

/**
 * Whether a description is a {@link Generator} (noise in, images out) rather than a classifier.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * Model.isGenerator(Model.generator({ latent: 16 })) // true
 * Model.isGenerator(Model.mlp({ hidden: [], classes: 10 })) // false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isGenerator = (model: Model): model is Generator => model._tag === "Generator"

/**
 * An {@link Augmenter} of images of `input` (default `[28, 28, 1]`) with `ops` (default all five:
 * brightness, contrast, noise, translateX, translateY) and gate `temperature` (default 0.05).
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const a = Model.augmenter({ temperature: 0.1 })
 * Model.augmenterOps(a) // ["brightness", "contrast", "noise", "translateX", "translateY"]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const augmenter = (options: {
  readonly ops?: ReadonlyArray<AugmenterOp>
  readonly temperature?: number
  readonly input?: Shape
  readonly init?: "identity" | "random"
}): Augmenter =>
  freeze(
    defined<Augmenter>({
      _tag: "Augmenter",
      ...options,
      ...(options.ops !== undefined ? { ops: [...options.ops] } : {}),
    }),
  )

/** Every {@link AugmenterOp}, in the default order. */
const allAugmenterOps: ReadonlyArray<AugmenterOp> = [
  "brightness",
  "contrast",
  "noise",
  "translateX",
  "translateY",
]

/**
 * The ops of an {@link Augmenter} (its `ops`, or all five).
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * Model.augmenterOps(Model.augmenter({ ops: ["noise"] })) // ["noise"]
 * ```
 *
 * @since 0.1.0
 * @category queries
 */
export const augmenterOps = (model: Augmenter): ReadonlyArray<AugmenterOp> => model.ops ?? allAugmenterOps

/**
 * Whether a description is an {@link Augmenter} (images in, images out) rather than a classifier.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * Model.isAugmenter(Model.augmenter({})) // true
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isAugmenter = (model: Model): model is Augmenter => model._tag === "Augmenter"

/**
 * The image shape a {@link Generator} produces (default `[28, 28, 1]`); `undefined` for
 * classifiers.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * Model.generatedShape(Model.generator({ latent: 16, output: [32, 32, 3] })) // [32, 32, 3]
 * ```
 *
 * @since 0.1.0
 * @category queries
 */
export const generatedShape = (model: Model): Shape | undefined =>
  model._tag === "Generator" ? (model.output ?? defaultInput) : undefined

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const ShapeSchema = Schema.Tuple([PositiveInt, PositiveInt, PositiveInt])
const Num = Ramp.NumSchema

const MlpSchema = Schema.TaggedStruct("Mlp", {
  hidden: Schema.Array(PositiveInt),
  classes: PositiveInt,
  activation: Schema.optionalKey(Schema.Literals(["relu", "gelu", "tanh"])),
  dropout: Schema.optionalKey(Num),
  input: Schema.optionalKey(ShapeSchema),
})

const CnnSchema = Schema.TaggedStruct("Cnn", {
  conv: Schema.Array(
    Schema.Struct({
      filters: PositiveInt,
      kernel: Schema.optionalKey(PositiveInt),
      pool: Schema.optionalKey(PositiveInt),
    }),
  ),
  dense: Schema.Array(PositiveInt),
  classes: PositiveInt,
  dropout: Schema.optionalKey(Num),
  batchNorm: Schema.optionalKey(Schema.Boolean),
  input: Schema.optionalKey(ShapeSchema),
})

const ResNetSchema = Schema.TaggedStruct("ResNet", {
  stem: Schema.Struct({ filters: PositiveInt, stride: Schema.optionalKey(PositiveInt) }),
  blocks: Schema.Array(Schema.Struct({ filters: PositiveInt, stride: Schema.optionalKey(PositiveInt) })),
  classes: PositiveInt,
  dropPath: Schema.optionalKey(Schema.Union([Num, Schema.Array(Num)])),
  batchNorm: Schema.optionalKey(Schema.Boolean),
  exits: Schema.optionalKey(
    Schema.Array(Schema.Struct({ after: Schema.String, hidden: Schema.optionalKey(PositiveInt) })),
  ),
  input: Schema.optionalKey(ShapeSchema),
})

const VitSchema = Schema.TaggedStruct("Vit", {
  patch: PositiveInt,
  dim: PositiveInt,
  depth: PositiveInt,
  heads: PositiveInt,
  classes: PositiveInt,
  mlpRatio: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThan(0))),
  distillToken: Schema.optionalKey(Schema.Boolean),
  dropPath: Schema.optionalKey(Num),
  input: Schema.optionalKey(ShapeSchema),
})

const ModelRef: Schema.Codec<Model> = Schema.suspend((): Schema.Codec<Model> => schema)

const BinarySchema = Schema.TaggedStruct("Binary", {
  inner: ModelRef,
  binarizeActivations: Schema.optionalKey(Schema.Boolean),
  temperature: Schema.optionalKey(Num),
})

/**
 * Schema of {@link Normalize}.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as Model from "./dsl/Model.js"
 * Schema.decodeUnknownSync(Model.normalizeSchema)({ mean: [0.5], std: [0.5] })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const normalizeSchema: Schema.Codec<Normalize> = Schema.Struct({
  mean: Schema.Array(Schema.Finite),
  std: Schema.Array(Schema.Finite),
})

const LoadSchema = Schema.TaggedStruct("Load", {
  path: Schema.String.check(Schema.isNonEmpty()),
  output: Schema.optionalKey(Schema.Literals(["auto", "logits", "probabilities"])),
  normalize: Schema.optionalKey(normalizeSchema),
})

const GeneratorSchema = Schema.TaggedStruct("Generator", {
  latent: PositiveInt,
  width: Schema.optionalKey(PositiveInt),
  output: Schema.optionalKey(ShapeSchema),
})

const AugmenterSchema = Schema.TaggedStruct("Augmenter", {
  ops: Schema.optionalKey(
    Schema.Array(Schema.Literals(["brightness", "contrast", "noise", "translateX", "translateY"])),
  ),
  temperature: Schema.optionalKey(Schema.Finite),
  input: Schema.optionalKey(ShapeSchema),
  init: Schema.optionalKey(Schema.Literals(["identity", "random"])),
})

const CustomSchema = Schema.TaggedStruct("Custom", {
  name: Schema.String.check(Schema.isNonEmpty()),
  options: Schema.optionalKey(Schema.Record(Schema.String, Schema.Json)),
})

/**
 * Codec of {@link Model} (recursive through `Binary`). The encoded form is the value itself:
 * plain JSON. Decoding checks field types and positivity; structural problems (a patch that
 * does not divide the image, pooling below one pixel …) are reported by {@link check}.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as Model from "./dsl/Model.js"
 * const m = Schema.decodeUnknownSync(Model.schema)({ _tag: "Mlp", hidden: [256, 256], classes: 10 })
 * Schema.encodeSync(Model.schema)(m) // { _tag: "Mlp", hidden: [256, 256], classes: 10 }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema: Schema.Codec<Model> = Schema.Union([
  MlpSchema,
  CnnSchema,
  ResNetSchema,
  VitSchema,
  BinarySchema,
  CustomSchema,
  LoadSchema,
  GeneratorSchema,
  AugmenterSchema,
])

/**
 * Whether a value is a model description (by its tag; use {@link schema} to validate fields).
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * Model.isModel(Model.custom("x")) // true
 * Model.isModel({ _tag: "Linear" }) // false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isModel = (u: unknown): u is Model =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string" && u._tag in tags

const tags: Record<Model["_tag"], true> = {
  Mlp: true,
  Cnn: true,
  ResNet: true,
  Vit: true,
  Binary: true,
  Custom: true,
  Load: true,
  Generator: true,
  Augmenter: true,
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

/** The float model under any number of `Binary` wrappers. */
const base = (model: Model): Exclude<Model, Binary> => (model._tag === "Binary" ? base(model.inner) : model)

/**
 * The input image shape `[h, w, c]` (default `[28, 28, 1]`); `undefined` for custom models.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * Model.inputShape(Model.mlp({ hidden: [], classes: 10 })) // [28, 28, 1]
 * Model.inputShape(Model.mlp({ hidden: [], classes: 10, input: [32, 32, 3] })) // [32, 32, 3]
 * ```
 *
 * @since 0.1.0
 * @category queries
 */
export const inputShape = (model: Model): Shape | undefined => {
  const m = base(model)
  return m._tag === "Custom" || m._tag === "Load" || m._tag === "Generator"
    ? undefined
    : (m.input ?? defaultInput)
}

const defaultInput: Shape = Object.freeze([28, 28, 1] as const)

/**
 * The number of classes of the default output; `undefined` for custom models.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * Model.classes(Model.vit({ patch: 7, dim: 32, depth: 1, heads: 2, classes: 10 })) // 10
 * ```
 *
 * @since 0.1.0
 * @category queries
 */
export const classes = (model: Model): number | undefined => {
  const m = base(model)
  return m._tag === "Custom" || m._tag === "Load" || m._tag === "Generator" || m._tag === "Augmenter"
    ? undefined
    : m.classes
}

/**
 * The per-block drop-path rates of a `ResNet` or `Vit` (one {@link Ramp.Num} per block; a single
 * maximum `p` becomes `p·(i+1)/n` for block `i` of `n`); `[]` for other models or without
 * drop-path.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const r = Model.resnet({ stem: { filters: 8 }, blocks: [{ filters: 8 }, { filters: 8 }], dropPath: 0.2, classes: 10 })
 * Model.dropPathRates(r) // [0.1, 0.2]
 * ```
 *
 * @since 0.1.0
 * @category queries
 */
export const dropPathRates = (model: Model): ReadonlyArray<Num> => {
  const m = base(model)
  if (m._tag !== "ResNet" && m._tag !== "Vit") return []
  const n = m._tag === "ResNet" ? m.blocks.length : m.depth
  const p = m.dropPath
  if (p === undefined) return []
  if (isNumArray(p)) return p
  return Array.from({ length: n }, (_, i) => spread(p, (i + 1) / n))
}

const isNumArray = (p: Num | ReadonlyArray<Num>): p is ReadonlyArray<Num> => Array.isArray(p)

const spread = (p: Num, k: number): Num => (typeof p === "number" ? p * k : k === 1 ? p : Ramp.scale(p, k))

/**
 * Names of the intermediate features `apply` can return (in forward order); `undefined` for
 * custom models (and binary wrappers of them).
 *
 * - mlp: `hidden0, hidden1, …` (after the activation, before dropout)
 * - cnn: `conv0, conv1, …` (after ReLU and pooling), `flat`, `dense0, …`
 * - resnet: `stem, block0, block1, …, pool` (the pooled deep feature), and `exit<i>_features`
 * - vit: `embed` (tokens with positions), `block0, …` (`[tokens, dim]`), `cls` (the normed class token);
 *   before each `block<i>`, its attention's `block<i>/q`, `block<i>/k`, `block<i>/v` (`[tokens, dim]`,
 *   the heads side by side in the channels)
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * Model.taps(Model.mlp({ hidden: [256, 256], classes: 10 })) // ["hidden0", "hidden1"]
 * ```
 *
 * @since 0.1.0
 * @category queries
 */
export const taps = (model: Model): ReadonlyArray<string> | undefined => {
  const shapes = tapShapes(model)
  return shapes === undefined ? undefined : Object.keys(shapes)
}

/**
 * Shapes (without the batch axis) of every tap, in forward order; `undefined` for custom models.
 * Lets the validator check that a feature hint compares tensors of equal size.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const w2 = Model.cnn({ conv: [{ filters: 32 }, { filters: 64 }], dense: [128], classes: 10 })
 * Model.tapShapes(w2) // { conv0: [14, 14, 32], conv1: [7, 7, 64], flat: [3136], dense0: [128] }
 * ```
 *
 * @since 0.1.0
 * @category queries
 */
export const tapShapes = (model: Model): Readonly<Record<string, ReadonlyArray<number>>> | undefined => {
  const m = base(model)
  const out: Record<string, ReadonlyArray<number>> = {}
  switch (m._tag) {
    case "Custom":
    case "Load":
      return undefined
    case "Generator":
    case "Augmenter":
      return out
    case "Mlp":
      m.hidden.forEach((h, i) => {
        out[`hidden${i}`] = [h]
      })
      return out
    case "Cnn": {
      let [h, w] = m.input ?? defaultInput
      let c = 0
      m.conv.forEach((l, i) => {
        const pool = l.pool ?? 2
        h = Math.floor(h / pool)
        w = Math.floor(w / pool)
        c = l.filters
        // the batch-norm statistics gap [μ_batch − μ_running; σ²_batch − σ²_running] (data-free KD),
        // listed where the forward writes it: before the stage's output tap
        if (m.batchNorm) out[`bn${i}`] = [2, l.filters]
        out[`conv${i}`] = [h, w, c]
      })
      out.flat = [h * w * c]
      m.dense.forEach((d, i) => {
        out[`dense${i}`] = [d]
      })
      return out
    }
    case "ResNet": {
      let [h, w] = m.input ?? defaultInput
      const s = m.stem.stride ?? 1
      h = Math.ceil(h / s)
      w = Math.ceil(w / s)
      out.stem = [h, w, m.stem.filters]
      m.blocks.forEach((b, i) => {
        const bs = b.stride ?? 1
        h = Math.ceil(h / bs)
        w = Math.ceil(w / bs)
        out[`block${i}`] = [h, w, b.filters]
      })
      out.pool = [m.blocks.at(-1)?.filters ?? m.stem.filters]
      ;(m.exits ?? []).forEach((e, i) => {
        const from = out[e.after]
        out[`exit${i}_features`] = [e.hidden ?? from?.[2] ?? 0]
      })
      return out
    }
    case "Vit": {
      const [h, w] = m.input ?? defaultInput
      const tokens = Math.floor(h / m.patch) * Math.floor(w / m.patch) + (m.distillToken ? 2 : 1)
      out.embed = [tokens, m.dim]
      for (let i = 0; i < m.depth; i++) {
        // the attention's queries, keys and values, heads side by side in the channels (head h is
        // channels h·dim/heads … (h+1)·dim/heads − 1): token-relation (TinyMIM) distillation
        for (const x of ["q", "k", "v"]) out[`block${i}/${x}`] = [tokens, m.dim]
        out[`block${i}`] = [tokens, m.dim]
      }
      out.cls = [m.dim]
      return out
    }
  }
}

/**
 * Names of the model's outputs; the first, `logits`, is the default output. ResNet exits add
 * `exit0, exit1, …`; a ViT with a distillation token adds `dist`. `undefined` for custom models.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * Model.heads(Model.mlp({ hidden: [8], classes: 10 })) // ["logits"]
 * ```
 *
 * @since 0.1.0
 * @category queries
 */
export const heads = (model: Model): ReadonlyArray<string> | undefined => {
  const m = base(model)
  switch (m._tag) {
    case "Custom":
    case "Load":
      return undefined
    case "Generator":
    case "Augmenter":
      return ["images"]
    case "ResNet":
      return ["logits", ...(m.exits ?? []).map((_, i) => `exit${i}`)]
    case "Vit":
      return m.distillToken ? ["logits", "dist"] : ["logits"]
    default:
      return ["logits"]
  }
}

const isZero = (n: Num | undefined): boolean => n === undefined || n === 0

/**
 * Whether a training-mode forward is random (dropout or drop-path that is not the constant 0),
 * so that two forwards of one batch differ — what SD-Dropout and cosub rely on. Custom models
 * answer `false` (unknown).
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * Model.stochastic(Model.mlp({ hidden: [8], classes: 10 })) // false
 * Model.stochastic(Model.mlp({ hidden: [8], classes: 10, dropout: 0.3 })) // true
 * ```
 *
 * @since 0.1.0
 * @category queries
 */
export const stochastic = (model: Model): boolean => {
  const m = base(model)
  switch (m._tag) {
    case "Mlp":
    case "Cnn":
      return !isZero(m.dropout)
    case "ResNet":
    case "Vit":
      return dropPathRates(m).some((r) => !isZero(r))
    case "Augmenter":
      return true
    case "Custom":
    case "Load":
    case "Generator":
      return false
  }
}

/**
 * The number of conv/dense layers a `Binary` wrapper binarises (all but the first and the
 * classifiers; a ResNet keeps its 1×1 projection shortcuts and exit bottlenecks float too, a ViT
 * binarises its attention and MLP projections); for float models, how many it would binarise.
 * `undefined` for custom models.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * Model.binarizable(Model.mlp({ hidden: [256, 256], classes: 10 })) // 1
 * ```
 *
 * @since 0.1.0
 * @category queries
 */
export const binarizable = (model: Model): number | undefined => {
  const m = base(model)
  switch (m._tag) {
    case "Custom":
    case "Load":
    case "Generator":
    case "Augmenter":
      return undefined
    case "Mlp":
      return Math.max(0, m.hidden.length - 1)
    case "Cnn":
      return Math.max(0, m.conv.length + m.dense.length - 1)
    case "ResNet":
      return 2 * m.blocks.length
    case "Vit":
      return 4 * m.depth
  }
}

const fmt = (n: number): string => String(Number(n.toPrecision(4)))
const fmtNum = (n: Num): string => (typeof n === "number" ? fmt(n) : Ramp.describe(n))

/**
 * A one-line human-readable summary, for logs and reports.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * Model.describe(Model.cnn({ conv: [{ filters: 32 }, { filters: 64 }], dense: [128], classes: 10 }))
 * // "cnn 28×28×1 conv3×3×32/2 conv3×3×64/2 dense128 →10"
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const describe = (model: Model): string => {
  switch (model._tag) {
    case "Mlp": {
      const [h, w, c] = model.input ?? defaultInput
      const sizes = [h * w * c, ...model.hidden, model.classes].join("→")
      const drop = isZero(model.dropout) ? "" : `, dropout ${fmtNum(model.dropout!)}`
      return `mlp ${sizes} ${model.activation ?? "relu"}${drop}`
    }
    case "Cnn": {
      const [h, w, c] = model.input ?? defaultInput
      const convs = model.conv.map((l) => {
        const k = l.kernel ?? 3
        const p = l.pool ?? 2
        return `conv${k}×${k}×${l.filters}${p === 1 ? "" : `/${p}`}`
      })
      const parts = [
        `cnn ${h}×${w}×${c}`,
        ...convs,
        ...model.dense.map((d) => `dense${d}`),
        `→${model.classes}`,
      ]
      const extra = [
        model.batchNorm ? "batch-norm" : "",
        isZero(model.dropout) ? "" : `dropout ${fmtNum(model.dropout!)}`,
      ].filter((s) => s !== "")
      return parts.join(" ") + (extra.length > 0 ? `, ${extra.join(", ")}` : "")
    }
    case "ResNet": {
      const [h, w, c] = model.input ?? defaultInput
      const blocks = model.blocks.map((b) => `${b.filters}${(b.stride ?? 1) === 1 ? "" : `/${b.stride}`}`)
      const rates = dropPathRates(model)
      const extra = [
        model.batchNorm ? "batch-norm" : "",
        rates.length > 0 && rates.some((r) => !isZero(r))
          ? `drop-path [${rates.map(fmtNum).join(", ")}]`
          : "",
        (model.exits ?? []).length > 0
          ? `exits after ${(model.exits ?? []).map((e) => e.after).join(", ")}`
          : "",
      ].filter((s) => s !== "")
      const stride = (model.stem.stride ?? 1) === 1 ? "" : `/${model.stem.stride}`
      return (
        `resnet ${h}×${w}×${c} stem ${model.stem.filters}${stride} blocks [${blocks.join(", ")}] →${model.classes}` +
        (extra.length > 0 ? `, ${extra.join(", ")}` : "")
      )
    }
    case "Vit": {
      const [h, w, c] = model.input ?? defaultInput
      const drop = isZero(model.dropPath) ? "" : `, drop-path ${fmtNum(model.dropPath!)}`
      return (
        `vit ${h}×${w}×${c} patch ${model.patch} dim ${model.dim} depth ${model.depth} heads ${model.heads}` +
        ` mlp×${fmt(model.mlpRatio ?? 2)}${model.distillToken ? " +dist token" : ""} →${model.classes}${drop}`
      )
    }
    case "Binary": {
      const what = model.binarizeActivations ? "weights+activations" : "weights"
      const t = model.temperature === undefined ? "" : `, T=${fmtNum(model.temperature)}`
      return `binary(${what}${t}) ${describe(model.inner)}`
    }
    case "Augmenter": {
      const [h, w, c] = model.input ?? defaultInput
      return `augmenter ${h}×${w}×${c} [${augmenterOps(model).join(", ")}], relaxed-Bernoulli gates τ=${fmtNum(model.temperature ?? 0.05)}${model.init === "random" ? ", random start" : ""}`
    }
    case "Generator": {
      const [h, w, c] = model.output ?? defaultInput
      const width = model.width ?? 32
      return `generator z${model.latent} → ${h / 4}×${w / 4}×${2 * width} → ${h / 2}×${w / 2}×${2 * width} → ${h}×${w}×${width} → ${h}×${w}×${c}, batch-norm`
    }
    case "Custom":
      return `custom "${model.name}"${model.options === undefined ? "" : ` ${JSON.stringify(model.options)}`}`
    case "Load":
      return `load "${model.path}"${model.output && model.output !== "auto" ? ` (${model.output})` : ""}${model.normalize ? ` normalised mean [${model.normalize.mean.map(fmt).join(", ")}] std [${model.normalize.std.map(fmt).join(", ")}]` : ""}`
  }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/**
 * One structural problem of a description: a path relative to the model (`blocks[2].stride`)
 * and a sentence.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const issue: Model.Issue = { path: "patch", message: "7 does not divide the 32×32 input" }
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export interface Issue {
  readonly path: string
  readonly message: string
}

/**
 * Problems of a normalisation: `mean` and `std` of one length (1 or the channel count), finite,
 * `std` > 0.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * const issues: Array<Model.Issue> = []
 * Model.checkNormalize(issues, "normalize", { mean: [0.5], std: [0] }) // one issue: std must be > 0
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const checkNormalize = (issues: Array<Issue>, path: string, n: Normalize | undefined): void => {
  if (n === undefined) return
  if (n.mean.length === 0 || n.mean.length !== n.std.length)
    issues.push({
      path,
      message: `mean and std need one value per channel (or one for all), got ${n.mean.length} and ${n.std.length}`,
    })
  n.std.forEach((v, i) => {
    if (!(v > 0))
      issues.push({ path: `${path}.std[${i}]`, message: `a standard deviation must be > 0, got ${v}` })
  })
  n.mean.forEach((v, i) => {
    if (!Number.isFinite(v)) issues.push({ path: `${path}.mean[${i}]`, message: `must be finite, got ${v}` })
  })
}

const checkRate = (issues: Array<Issue>, path: string, n: Num | undefined): void => {
  if (typeof n === "number" && !(n >= 0 && n < 1)) {
    issues.push({ path, message: `a rate must be in [0, 1), got ${n}` })
  }
}

/**
 * Every structural problem of a description that field types cannot express: an image pooled
 * below one pixel, a patch that does not divide the input, `dim` not divisible by `heads`, a
 * drop-path list of the wrong length, an exit after a tap that does not exist, rates outside
 * [0, 1), a binary wrapper with nothing to binarise … `[]` when the model can be built.
 * (Ramps are checked at their values by the interpreter.)
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * Model.check(Model.vit({ patch: 5, dim: 30, depth: 1, heads: 4, classes: 10 }))
 * // [{ path: "patch", … }, { path: "heads", … }]
 * Model.check(Model.mlp({ hidden: [256, 256], classes: 10 })) // []
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const check = (model: Model): ReadonlyArray<Issue> => {
  const issues: Array<Issue> = []
  switch (model._tag) {
    case "Mlp":
      checkRate(issues, "dropout", model.dropout)
      break
    case "Cnn": {
      if (model.conv.length === 0)
        issues.push({ path: "conv", message: "a cnn needs at least one conv layer" })
      let [h, w] = model.input ?? defaultInput
      model.conv.forEach((l, i) => {
        const pool = l.pool ?? 2
        h = Math.floor(h / pool)
        w = Math.floor(w / pool)
        if (h < 1 || w < 1) {
          issues.push({
            path: `conv[${i}].pool`,
            message: `pooling by ${pool} leaves an empty ${h}×${w} feature map`,
          })
        }
      })
      checkRate(issues, "dropout", model.dropout)
      break
    }
    case "ResNet": {
      if (model.blocks.length === 0)
        issues.push({ path: "blocks", message: "a resnet needs at least one block" })
      const p = model.dropPath
      if (p !== undefined && isNumArray(p)) {
        if (p.length !== model.blocks.length) {
          issues.push({
            path: "dropPath",
            message: `${p.length} drop-path rates for ${model.blocks.length} blocks (give one per block, or a single maximum)`,
          })
        }
        p.forEach((r, i) => {
          checkRate(issues, `dropPath[${i}]`, r)
        })
      } else {
        checkRate(issues, "dropPath", p)
      }
      const names = new Set(["stem", ...model.blocks.map((_, i) => `block${i}`)])
      ;(model.exits ?? []).forEach((e, i) => {
        if (!names.has(e.after)) {
          issues.push({
            path: `exits[${i}].after`,
            message: `no tap "${e.after}" to attach an exit to (one of ${[...names].join(", ")})`,
          })
        }
      })
      break
    }
    case "Vit": {
      const [h, w] = model.input ?? defaultInput
      if (h % model.patch !== 0 || w % model.patch !== 0) {
        issues.push({ path: "patch", message: `patch ${model.patch} does not divide the ${h}×${w} input` })
      }
      if (model.dim % model.heads !== 0) {
        issues.push({ path: "heads", message: `dim ${model.dim} is not divisible by ${model.heads} heads` })
      }
      if (model.mlpRatio !== undefined && Math.round(model.mlpRatio * model.dim) < 1) {
        issues.push({ path: "mlpRatio", message: "the MLP hidden width mlpRatio·dim rounds to 0" })
      }
      checkRate(issues, "dropPath", model.dropPath)
      break
    }
    case "Binary": {
      const inner = model.inner
      if (inner._tag === "Binary") {
        issues.push({ path: "inner", message: "binary of a binary model: wrap the float model once" })
      } else if (inner._tag === "Load") {
        issues.push({
          path: "inner",
          message: `a model loaded from "${inner.path}" cannot be binarised (binarise a built-in model and distil into it)`,
        })
      } else if (inner._tag === "Generator" || inner._tag === "Augmenter") {
        issues.push({
          path: "inner",
          message: `${inner._tag === "Generator" ? "a generator" : "an augmenter"} cannot be binarised (it is not a classifier)`,
        })
      } else if (inner._tag === "Custom") {
        issues.push({
          path: "inner",
          message: `custom model "${inner.name}" cannot be binarised (its layers are unknown)`,
        })
      } else {
        for (const i of check(inner)) issues.push({ path: `inner.${i.path}`, message: i.message })
        if (binarizable(inner) === 0) {
          issues.push({
            path: "inner",
            message: "nothing to binarise: the first layer and the classifier stay float, add hidden layers",
          })
        }
      }
      if (typeof model.temperature === "number" && !(model.temperature > 0)) {
        issues.push({ path: "temperature", message: `the temperature must be > 0, got ${model.temperature}` })
      }
      break
    }
    case "Custom":
      break
    case "Load":
      checkNormalize(issues, "normalize", model.normalize)
      break
    case "Augmenter": {
      const ops = model.ops ?? []
      if (model.ops !== undefined && ops.length === 0)
        issues.push({ path: "ops", message: "an augmenter needs at least one op" })
      ops.forEach((op, i) => {
        if (ops.indexOf(op) !== i) issues.push({ path: `ops[${i}]`, message: `op "${op}" is listed twice` })
      })
      if (model.temperature !== undefined && !(model.temperature > 0))
        issues.push({
          path: "temperature",
          message: `the gate temperature must be > 0, got ${model.temperature}`,
        })
      break
    }
    case "Generator": {
      const [h, w] = model.output ?? defaultInput
      if (h % 4 !== 0 || w % 4 !== 0)
        issues.push({
          path: "output",
          message: `a generator upsamples ×4 from (h/4)×(w/4): ${h}×${w} is not divisible by 4`,
        })
      break
    }
  }
  return issues
}
