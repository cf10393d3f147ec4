/**
 * The layer primitives every built model is made of — and that custom builders may use too:
 * seeded initialisation ({@link Init}), functional layers reading their parameters from a tree
 * ({@link dense}, {@link conv2d}, {@link batchNorm}, {@link layerNorm}), seeded stochastic
 * regularisers ({@link dropout}, per-sample {@link dropPath}) and binarisation with a
 * straight-through estimator ({@link signSte}, {@link binarizeKernel}).
 *
 * Everything here is synchronous and allocation-only (no reads back to JS): call it inside the
 * caller's `tf.tidy`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Ops from "./src/models/Ops.js"
 * const init = new Ops.Init(42)
 * init.dense("dense0", 784, 10, "glorot")
 * const run = Ops.run({ params: init.params, state: init.state, train: false })
 * const logits = tf.tidy(() => Ops.dense(run, "dense0", tf.zeros([2, 784])))
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Rng from "../data/Rng.js"
import type * as Tree from "./Tree.js"
import { get } from "./Tree.js"

// ---------------------------------------------------------------------------------------------
// Seeds and initialisation
// ---------------------------------------------------------------------------------------------

/**
 * A non-zero 32-bit seed derived from `seed` and a name (tfjs treats a seed of 0 as "random").
 *
 * @example
 * ```ts
 * import * as Ops from "./src/models/Ops.js"
 * Ops.seedFor(1, "dense0/kernel") === Ops.seedFor(1, "dense0/kernel") // true
 * ```
 *
 * @since 0.1.0
 * @category seeds
 */
export const seedFor = (seed: number, name: string): number => Rng.derive(seed, name) >>> 0 || 1

/**
 * How a parameter starts:
 * - `"he"`: normal, std `√(2/fanIn)` (ReLU/GELU layers);
 * - `"glorot"`: uniform on `±√(6/(fanIn+fanOut))` (classifiers, tanh layers);
 * - `{ std }`: normal truncated at 2 std (ViT tokens and projections use 0.02);
 * - `"zeros"`, `"ones"`.
 *
 * @example
 * ```ts
 * import * as Ops from "./src/models/Ops.js"
 * const i: Ops.Initializer = { std: 0.02 }
 * ```
 *
 * @since 0.1.0
 * @category initialisation
 */
export type Initializer = "he" | "glorot" | "zeros" | "ones" | { readonly std: number }

type Mutable = { [name: string]: tf.Variable | Mutable }

const place = (root: Mutable, path: string, v: tf.Variable): void => {
  const parts = path.split("/")
  let node = root
  for (const part of parts.slice(0, -1)) {
    const next = node[part]
    if (next === undefined) node = node[part] = {}
    else if (next instanceof tf.Tensor) throw new Error(`parameter path "${path}" goes through a leaf`)
    else node = next
  }
  const leaf = parts.at(-1)!
  if (node[leaf] !== undefined) throw new Error(`duplicate parameter "${path}"`)
  node[leaf] = v
}

/**
 * Collects a model's variables while it is being built: every tensor is created from a seed
 * derived from the model seed and the parameter's path, so the same seed gives identical
 * parameters, independently of creation order. Variables get tfjs's unique automatic names (a
 * model can be built many times); their tree path is their name in Retort.
 *
 * @example
 * ```ts
 * import * as Ops from "./src/models/Ops.js"
 * const init = new Ops.Init(7)
 * init.conv("conv0", 3, 1, 32, "he")
 * init.batchNorm("norm0", 32)
 * Object.keys(init.params) // ["conv0", "norm0"]
 * ```
 *
 * @since 0.1.0
 * @category initialisation
 */
export class Init {
  /** trainable variables, as a tree */
  readonly params: Tree.Tree<tf.Variable> = {}
  /** non-trainable variables (batch-norm running statistics), as a tree */
  readonly state: Tree.Tree<tf.Variable> = {}
  constructor(readonly seed: number) {}

  /** A variable of `shape` at `path`, initialised by `init` with the given fans. */
  tensor(
    path: string,
    shape: ReadonlyArray<number>,
    init: Initializer,
    fans: { readonly fanIn: number; readonly fanOut: number } = { fanIn: 1, fanOut: 1 },
    trainable = true,
  ): tf.Variable {
    const s = [...shape]
    const seed = seedFor(this.seed, path)
    const v = tf.tidy(() => {
      const value =
        init === "zeros"
          ? tf.zeros(s)
          : init === "ones"
            ? tf.ones(s)
            : init === "he"
              ? tf.randomNormal(s, 0, Math.sqrt(2 / fans.fanIn), "float32", seed)
              : init === "glorot"
                ? tf.randomUniform(
                    s,
                    -Math.sqrt(6 / (fans.fanIn + fans.fanOut)),
                    Math.sqrt(6 / (fans.fanIn + fans.fanOut)),
                    "float32",
                    seed,
                  )
                : tf.truncatedNormal(s, 0, init.std, "float32", seed)
      return tf.variable(value, trainable)
    })
    place((trainable ? this.params : this.state) as Mutable, path, v)
    return v
  }

  /** `path/kernel` `[fanIn, units]` and (unless `bias: false`) `path/bias` `[units]`. */
  dense(path: string, fanIn: number, units: number, init: Initializer, bias = true): void {
    this.tensor(`${path}/kernel`, [fanIn, units], init, { fanIn, fanOut: units })
    if (bias) this.tensor(`${path}/bias`, [units], "zeros")
  }

  /** `path/kernel` `[k, k, cin, cout]` and (unless `bias: false`) `path/bias` `[cout]`. */
  conv(path: string, k: number, cin: number, cout: number, init: Initializer, bias = true): void {
    this.tensor(`${path}/kernel`, [k, k, cin, cout], init, { fanIn: k * k * cin, fanOut: k * k * cout })
    if (bias) this.tensor(`${path}/bias`, [cout], "zeros")
  }

  /** `path/gamma`, `path/beta` (trainable) and `path/mean`, `path/variance` (state). */
  batchNorm(path: string, channels: number): void {
    this.tensor(`${path}/gamma`, [channels], "ones")
    this.tensor(`${path}/beta`, [channels], "zeros")
    this.tensor(`${path}/mean`, [channels], "zeros", undefined, false)
    this.tensor(`${path}/variance`, [channels], "ones", undefined, false)
  }

  /** `path/gamma`, `path/beta`. */
  layerNorm(path: string, dim: number): void {
    this.tensor(`${path}/gamma`, [dim], "ones")
    this.tensor(`${path}/beta`, [dim], "zeros")
  }
}

// ---------------------------------------------------------------------------------------------
// The forward context
// ---------------------------------------------------------------------------------------------

/**
 * Binarisation in effect during a forward pass (see `Model.binary`): activations too or weights
 * only, and the straight-through estimator's temperature (`undefined`: clipped identity).
 *
 * @example
 * ```ts
 * import * as Ops from "./src/models/Ops.js"
 * const b: Ops.Binarize = { activations: true, temperature: 0.5 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Binarize {
  readonly activations: boolean
  readonly temperature: number | undefined
}

/**
 * Everything a layer needs during one forward pass: the parameters and state to read, the mode,
 * the seed of its random masks, batch-norm statistics policy, binarisation, and an optional
 * observer of the masks drawn.
 *
 * @example
 * ```ts
 * import * as Ops from "./src/models/Ops.js"
 * const r: Ops.Run = Ops.run({ params: {}, state: {}, train: true, seed: 3 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Run {
  readonly params: Tree.Tree
  readonly state: Tree.Tree<tf.Variable>
  readonly train: boolean
  readonly seed: number
  /** update batch-norm running statistics (training mode only) */
  readonly updateStats: boolean
  /** weight of the new batch in the running statistics (0.1, as in PyTorch) */
  readonly momentum: number
  readonly binarize: Binarize | undefined
  readonly record: ((name: string, mask: tf.Tensor) => void) | undefined
}

/**
 * A {@link Run} with defaults: seed 0, `updateStats` = `train`, momentum 0.1, no binarisation.
 *
 * @example
 * ```ts
 * import * as Ops from "./src/models/Ops.js"
 * const r = Ops.run({ params: {}, state: {}, train: false })
 * r.updateStats // false
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (options: {
  readonly params: Tree.Tree
  readonly state: Tree.Tree<tf.Variable>
  readonly train: boolean
  readonly seed?: number
  readonly updateStats?: boolean
  readonly momentum?: number
  readonly binarize?: Binarize
  readonly record?: (name: string, mask: tf.Tensor) => void
}): Run => ({
  params: options.params,
  state: options.state,
  train: options.train,
  seed: options.seed ?? 0,
  updateStats: options.train && (options.updateStats ?? true),
  momentum: options.momentum ?? 0.1,
  binarize: options.binarize,
  record: options.record,
})

/**
 * The {@link Run} for one call of a custom model's `apply`: its params, and the options' mode,
 * seed, statistics policy, state and mask observer.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Ops from "./src/models/Ops.js"
 * const apply = (params: Record<string, never>, x: tf.Tensor4D, options: { train: boolean; seed: number; state: {} }) => {
 *   const r = Ops.runFor(params, options)
 *   return Ops.dropout(r, "input", x, 0.1)
 * }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const runFor = (
  params: Tree.Tree,
  options: {
    readonly train: boolean
    readonly seed?: number
    readonly state?: Tree.Tree<tf.Variable>
    readonly updateStats?: boolean
    readonly statsMomentum?: number
    readonly record?: (name: string, mask: tf.Tensor) => void
  },
): Run =>
  run({
    params,
    state: options.state ?? {},
    train: options.train,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.updateStats === undefined ? {} : { updateStats: options.updateStats }),
    ...(options.statsMomentum === undefined ? {} : { momentum: options.statsMomentum }),
    ...(options.record === undefined ? {} : { record: options.record }),
  })

// ---------------------------------------------------------------------------------------------
// Activations and binarisation
// ---------------------------------------------------------------------------------------------

/**
 * Element-wise non-linearities of the built models.
 *
 * @example
 * ```ts
 * import * as Ops from "./src/models/Ops.js"
 * const a: Ops.ActivationName = "linear"
 * ```
 *
 * @since 0.1.0
 * @category activations
 */
export type ActivationName = "linear" | "relu" | "gelu" | "tanh"

const SQRT1_2 = Math.SQRT1_2

/**
 * Applies an activation; `"gelu"` is the exact `x·Φ(x)` (erf form, as Keras' `gelu`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Ops from "./src/models/Ops.js"
 * Ops.activate(tf.tensor1d([-1, 2]), "relu") // [0, 2]
 * ```
 *
 * @since 0.1.0
 * @category activations
 */
export const activate = (x: tf.Tensor, activation: ActivationName): tf.Tensor => {
  switch (activation) {
    case "linear":
      return x
    case "relu":
      return tf.relu(x)
    case "tanh":
      return tf.tanh(x)
    case "gelu":
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, SQRT1_2)), 1))
  }
}

/** d/dx of the straight-through surrogate: clipped identity, or tanh(x/τ) */
const surrogate = (x: tf.Tensor, temperature: number | undefined): tf.Tensor => {
  if (temperature === undefined) return tf.cast(tf.lessEqual(tf.abs(x), 1), "float32")
  const t = tf.tanh(tf.div(x, temperature))
  return tf.div(tf.sub(1, tf.square(t)), temperature)
}

/**
 * `sign(x)` forward; backward, the straight-through estimator: the incoming gradient times
 * `1{|x| ≤ 1}` (no temperature), or times `d/dx tanh(x/τ)` with temperature τ.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Ops from "./src/models/Ops.js"
 * const g = tf.grad((x: tf.Tensor) => tf.sum(Ops.signSte(x, undefined)))(tf.tensor1d([-2, 0.5])) // [0, 1]
 * ```
 *
 * @since 0.1.0
 * @category binarisation
 */
export const signSte = (x: tf.Tensor, temperature: number | undefined): tf.Tensor =>
  straightThrough(x, temperature, (input) => tf.sign(input))

/**
 * Binarised weights `α·sign(W)`, with `α` the mean of `|W|` over every axis but the last (one
 * scale per output unit, as XNOR-Net); backward, the straight-through estimator of
 * {@link signSte} (`α` is treated as a constant).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Ops from "./src/models/Ops.js"
 * Ops.binarizeKernel(tf.tensor2d([[0.5, -1], [-0.5, 3]]), undefined) // [[0.5, -2], [-0.5, 2]]
 * ```
 *
 * @since 0.1.0
 * @category binarisation
 */
export const binarizeKernel = (w: tf.Tensor, temperature: number | undefined): tf.Tensor =>
  straightThrough(w, temperature, (input) => {
    const axes = Array.from({ length: input.rank - 1 }, (_, i) => i)
    return tf.mul(tf.sign(input), tf.mean(tf.abs(input), axes, true))
  })

/** `forward(x)` with the straight-through gradient `dy · surrogate'(x)` */
const straightThrough = (
  x: tf.Tensor,
  temperature: number | undefined,
  forward: (input: tf.Tensor) => tf.Tensor,
): tf.Tensor =>
  tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor
    ;(args[1] as tf.GradSaveFunc)([input])
    return {
      value: forward(input),
      gradFunc: (dy: tf.Tensor, saved: Array<tf.Tensor>) => tf.mul(dy, surrogate(saved[0]!, temperature)),
    }
  })(x)

// ---------------------------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------------------------

const fusable = (a: ActivationName): a is "linear" | "relu" => a === "linear" || a === "relu"

/**
 * Gradients for the fused kernels `FusedConv2D` and `_FusedMatMul` with a bias and ReLU, so that
 * a training step runs `relu(product + bias)` as one kernel: tfjs-core's `tf.fused.*` ops fall
 * back to product → `Add` → `Relu` (three passes over the output) while a gradient is being
 * taken and the activation is not linear. The gradient is tfjs-core's own fused one:
 * `dyᵣ = dy·step(y)` (through the registered ReLU gradient, with `y` for `x`: `y > 0` exactly
 * when `x > 0`), the product's gradients of `dyᵣ`, and `Σ dyᵣ` for the bias — the last three lazily
 * (tfjs-core calls only those of inputs on the gradient's path), so the gradient of a network's
 * input images is never computed. (`dyᵣ` is computed up front: each thunk runs in its own tidy.)
 */
const fusedGradients = (): void => {
  if (tf.getGradient(tf.FusedConv2D) !== undefined) return
  const reluGrad = (dy: tf.Tensor, y: tf.Tensor): tf.Tensor =>
    tf.getGradient(tf.Relu)!.gradFunc(dy, [y], {}).x!() as tf.Tensor
  const biasGrad = (dyr: tf.Tensor, bias: tf.Tensor): tf.Tensor => {
    const axes = Array.from({ length: dyr.rank - bias.rank }, (_, i) => i)
    return tf.reshape(axes.length === 0 ? dyr : tf.sum(dyr, axes), bias.shape)
  }
  const relu = (kernel: string, attrs: tf.NamedAttrMap): void => {
    if (attrs.activation !== "relu")
      throw new Error(`${kernel} gradient: activation ${String(attrs.activation)} (only relu is taped)`)
  }
  tf.registerGradient({
    kernelName: tf.FusedConv2D,
    inputsToSave: ["x", "filter", "bias"],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      relu(tf.FusedConv2D, attrs)
      const [x, filter, bias, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor, tf.Tensor4D]
      const { strides, pad } = attrs as { strides: [number, number]; pad: "same" | "valid" }
      const dyr = reluGrad(dy as tf.Tensor, y) as tf.Tensor4D
      return {
        x: () => tf.conv2dTranspose(dyr, filter, x.shape, strides, pad),
        filter: () =>
          tf
            .engine()
            .runKernel(
              tf.Conv2DBackpropFilter,
              { x, dy: dyr },
              { strides, pad, dataFormat: "NHWC", filterShape: filter.shape },
            ) as tf.Tensor,
        bias: () => biasGrad(dyr, bias),
      }
    },
  })
  tf.registerGradient({
    kernelName: tf._FusedMatMul,
    inputsToSave: ["a", "b", "bias"],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      relu(tf._FusedMatMul, attrs)
      if (attrs.transposeA || attrs.transposeB)
        throw new Error("_FusedMatMul gradient: transposes are not taped")
      const [a, b, bias, y] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor, tf.Tensor2D]
      const dyr = reluGrad(dy as tf.Tensor, y) as tf.Tensor2D
      return {
        a: () => tf.matMul(dyr, b, false, true),
        b: () => tf.matMul(a, dyr, true, false),
        bias: () => biasGrad(dyr, bias),
      }
    },
  })
}

/**
 * `relu(product + bias)` through the fused kernel while a gradient is being taken (see
 * {@link fusedGradients}); `undefined` when tfjs-core's fused op fuses by itself (no gradient)
 * or there is no bias.
 */
const fusedRelu = (
  kernel: string,
  inputs: tf.NamedTensorMap,
  attrs: tf.NamedAttrMap,
  bias: tf.Tensor | undefined,
): tf.Tensor | undefined => {
  if (bias === undefined || (tf.engine().state as { gradientDepth: number }).gradientDepth === 0)
    return undefined
  fusedGradients()
  return tf.engine().runKernel(kernel, { ...inputs, bias }, { ...attrs, activation: "relu" }) as tf.Tensor
}

/**
 * A dense layer on the last axis: `activation(x·kernel + bias)`, reading `path/kernel` and (if
 * present) `path/bias`. Inputs of any rank ≥ 2. With `binarizable` and a binarising run, the
 * kernel (and, for activation binarisation, the input) go through {@link binarizeKernel} /
 * {@link signSte}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Ops from "./src/models/Ops.js"
 * const init = new Ops.Init(1)
 * init.dense("fc", 4, 3, "he")
 * const y = Ops.dense(Ops.run({ params: init.params, state: {}, train: false }), "fc", tf.ones([2, 4]), { activation: "relu" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const dense = (
  run: Run,
  path: string,
  x: tf.Tensor,
  options: { readonly activation?: ActivationName; readonly binarizable?: boolean } = {},
): tf.Tensor => {
  const activation = options.activation ?? "linear"
  let kernel = get(run.params, `${path}/kernel`) as tf.Tensor2D
  const bias = optional(run.params, `${path}/bias`)
  if (options.binarizable && run.binarize !== undefined) {
    kernel = binarizeKernel(kernel, run.binarize.temperature) as tf.Tensor2D
    if (run.binarize.activations) x = signSte(x, run.binarize.temperature)
  }
  const shape = x.shape
  const x2 = x.rank === 2 ? x : tf.reshape(x, [-1, shape[shape.length - 1]!])
  const fused =
    activation === "relu"
      ? fusedRelu(tf._FusedMatMul, { a: x2, b: kernel }, { transposeA: false, transposeB: false }, bias)
      : undefined
  const y =
    fused ??
    tf.fused.matMul({
      a: x2 as tf.Tensor2D,
      b: kernel,
      ...(bias === undefined ? {} : { bias }),
      activation: fusable(activation) ? activation : "linear",
    })
  const out = fusable(activation) ? y : activate(y, activation)
  return x.rank === 2 ? out : tf.reshape(out, [...shape.slice(0, -1), kernel.shape[1]])
}

const optional = (tree: Tree.Tree, path: string): tf.Tensor | undefined => {
  const slash = path.lastIndexOf("/")
  let node: unknown = tree
  for (const part of path.slice(0, slash).split("/"))
    node = (node as Record<string, unknown> | undefined)?.[part]
  const leaf = (node as Record<string, unknown> | undefined)?.[path.slice(slash + 1)]
  return leaf instanceof tf.Tensor ? leaf : undefined
}

/**
 * A 2-D convolution (NHWC, square kernel) `activation(conv(x, kernel) + bias)` reading
 * `path/kernel` `[k, k, cin, cout]` and, if present, `path/bias`; binarisation as {@link dense}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Ops from "./src/models/Ops.js"
 * const init = new Ops.Init(1)
 * init.conv("conv0", 3, 1, 8, "he")
 * const r = Ops.run({ params: init.params, state: {}, train: false })
 * Ops.conv2d(r, "conv0", tf.zeros([1, 28, 28, 1]), { stride: 2 }).shape // [1, 14, 14, 8]
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const conv2d = (
  run: Run,
  path: string,
  x: tf.Tensor4D,
  options: {
    readonly stride?: number
    readonly pad?: "same" | "valid"
    readonly activation?: ActivationName
    readonly binarizable?: boolean
  } = {},
): tf.Tensor4D => {
  const activation = options.activation ?? "linear"
  let kernel = get(run.params, `${path}/kernel`) as tf.Tensor4D
  const bias = optional(run.params, `${path}/bias`)
  if (options.binarizable && run.binarize !== undefined) {
    kernel = binarizeKernel(kernel, run.binarize.temperature) as tf.Tensor4D
    if (run.binarize.activations) x = signSte(x, run.binarize.temperature) as tf.Tensor4D
  }
  const stride = options.stride ?? 1
  const pad = options.pad ?? "same"
  const fused =
    activation === "relu"
      ? fusedRelu(
          tf.FusedConv2D,
          { x, filter: kernel },
          { strides: [stride, stride], pad, dataFormat: "NHWC", dilations: [1, 1] },
          bias,
        )
      : undefined
  if (fused !== undefined) return fused as tf.Tensor4D
  const y = tf.fused.conv2d({
    x,
    filter: kernel,
    strides: [stride, stride],
    pad,
    ...(bias === undefined ? {} : { bias }),
    activation: fusable(activation) ? activation : "linear",
  })
  return fusable(activation) ? y : (activate(y, activation) as tf.Tensor4D)
}

/**
 * Batch normalisation over every axis but the last (ε = 1e-5). Training: normalises with the
 * batch's statistics and, when the run updates statistics, moves `state[path]/mean|variance`
 * towards them by `momentum`. Evaluation: uses the running statistics.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Ops from "./src/models/Ops.js"
 * const init = new Ops.Init(1)
 * init.batchNorm("norm0", 4)
 * const r = Ops.run({ params: init.params, state: init.state, train: true })
 * Ops.batchNorm(r, "norm0", tf.randomNormal([8, 4]))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const batchNorm = <T extends tf.Tensor>(run: Run, path: string, x: T): T => {
  const gamma = get(run.params, `${path}/gamma`)
  const beta = get(run.params, `${path}/beta`)
  const runningMean = get(run.state, `${path}/mean`)
  const runningVariance = get(run.state, `${path}/variance`)
  if (!run.train) return tf.batchNorm(x, runningMean, runningVariance, beta, gamma, BN_EPSILON) as T
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i)
  const { mean, variance } = tf.moments(x, axes)
  if (run.updateStats) {
    const m = run.momentum
    runningMean.assign(tf.add(tf.mul(runningMean, 1 - m), tf.mul(mean, m)))
    runningVariance.assign(tf.add(tf.mul(runningVariance, 1 - m), tf.mul(variance, m)))
  }
  return tf.batchNorm(x, mean, variance, beta, gamma, BN_EPSILON) as T
}

/**
 * How far a batch's statistics are from a batch-norm layer's running ones — what DeepInversion
 * and data-free distillation match on a frozen teacher: `[2, channels]`, row 0 `μ_batch −
 * μ_running`, row 1 `σ²_batch − σ²_running` (biased batch variance, over every axis but the
 * last), for the input `x` of the normalisation at `path`. In any mode; the running statistics
 * are read before this batch updates them. Gradients flow into `x` (not into the statistics).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Ops from "./src/models/Ops.js"
 * const init = new Ops.Init(1)
 * init.batchNorm("norm0", 4)
 * const gap = Ops.batchNormGap(Ops.run({ params: init.params, state: init.state, train: false }), "norm0", tf.randomNormal([8, 3, 3, 4]))
 * gap.shape // [2, 4]
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const batchNormGap = (run: Run, path: string, x: tf.Tensor): tf.Tensor2D => {
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i)
  const { mean, variance } = tf.moments(x, axes)
  const runningMean = get(run.state, `${path}/mean`)
  const runningVariance = get(run.state, `${path}/variance`)
  return tf.stack([tf.sub(mean, runningMean), tf.sub(variance, runningVariance)]) as tf.Tensor2D
}

/**
 * The batch-norm ε (1e-5, PyTorch's default); exported so the Layers export uses the same.
 *
 * @example
 * ```ts
 * import * as Ops from "./src/models/Ops.js"
 * Ops.BN_EPSILON // 1e-5
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const BN_EPSILON = 1e-5

/**
 * Layer normalisation over the last axis (ε = 1e-6), reading `path/gamma`, `path/beta`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Ops from "./src/models/Ops.js"
 * const init = new Ops.Init(1)
 * init.layerNorm("norm", 8)
 * Ops.layerNorm(Ops.run({ params: init.params, state: {}, train: false }), "norm", tf.randomNormal([2, 5, 8]))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNorm = <T extends tf.Tensor>(run: Run, path: string, x: T): T => {
  const { mean, variance } = tf.moments(x, -1, true)
  const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-6)))
  return tf.add(tf.mul(normed, get(run.params, `${path}/gamma`)), get(run.params, `${path}/beta`)) as T
}

// ---------------------------------------------------------------------------------------------
// Stochastic regularisers
// ---------------------------------------------------------------------------------------------

/**
 * A keep-mask of `shape` with values `0` or `1/(1−rate)`, drawn from a seed derived from the
 * run's seed and `name` (so distinct names, or distinct run seeds, give independent masks),
 * and reported to `run.record`.
 *
 * @example
 * ```ts
 * import * as Ops from "./src/models/Ops.js"
 * const r = Ops.run({ params: {}, state: {}, train: true, seed: 5 })
 * Ops.keepMask(r, "dropout/hidden0", [4, 8], 0.5) // 0 or 2 everywhere
 * ```
 *
 * @since 0.1.0
 * @category regularisers
 */
export const keepMask = (run: Run, name: string, shape: ReadonlyArray<number>, rate: number): tf.Tensor => {
  const keep = 1 - rate
  const u = tf.randomUniform([...shape], 0, 1, "float32", seedFor(run.seed, name))
  const mask = tf.div(tf.floor(tf.add(u, keep)), keep)
  run.record?.(name, mask)
  return mask
}

/**
 * Inverted dropout in training mode (identity otherwise or when `rate` is 0); the mask is named
 * `dropout/<name>`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Ops from "./src/models/Ops.js"
 * Ops.dropout(Ops.run({ params: {}, state: {}, train: true, seed: 1 }), "hidden0", tf.ones([2, 4]), 0.5)
 * ```
 *
 * @since 0.1.0
 * @category regularisers
 */
export const dropout = <T extends tf.Tensor>(run: Run, name: string, x: T, rate: number): T =>
  !run.train || rate <= 0 ? x : (tf.mul(x, keepMask(run, `dropout/${name}`, x.shape, rate)) as T)

/**
 * Per-sample drop-path (stochastic depth) of a residual branch in training mode: each sample's
 * branch is zeroed with probability `rate` and scaled by `1/(1−rate)` otherwise (mask shape
 * `[batch, 1, …]`, named `dropPath/<name>`). Identity in evaluation or when `rate` is 0.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Ops from "./src/models/Ops.js"
 * Ops.dropPath(Ops.run({ params: {}, state: {}, train: true, seed: 1 }), "block0", tf.ones([4, 2, 2, 3]), 0.25)
 * ```
 *
 * @since 0.1.0
 * @category regularisers
 */
export const dropPath = <T extends tf.Tensor>(run: Run, name: string, x: T, rate: number): T => {
  if (!run.train || rate <= 0) return x
  const shape = x.shape.map((d, i) => (i === 0 ? d : 1))
  return tf.mul(x, keepMask(run, `dropPath/${name}`, shape, rate)) as T
}

/**
 * Channel dropout in training mode (the PLACE "progressive random dropout" move): for each
 * sample, whole channels (the last axis) are zeroed with probability `rate` and the others
 * scaled by `1/(1−rate)` (mask `[batch, 1, …, channels]`, named `channelDrop/<name>`). Identity
 * in evaluation or when `rate` is 0.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Ops from "./src/models/Ops.js"
 * Ops.channelDrop(Ops.run({ params: {}, state: {}, train: true, seed: 1 }), "conv1", tf.ones([4, 7, 7, 64]), 0.3)
 * ```
 *
 * @since 0.1.0
 * @category regularisers
 */
export const channelDrop = <T extends tf.Tensor>(run: Run, name: string, x: T, rate: number): T => {
  if (!run.train || rate <= 0) return x
  const last = x.rank - 1
  const shape = x.shape.map((d, i) => (i === 0 || i === last ? d : 1))
  return tf.mul(x, keepMask(run, `channelDrop/${name}`, shape, rate)) as T
}
