/**
 * Builds a model description (`dsl/Model`) into a functional {@link Built} network: seeded
 * variables plus a synchronous `apply`. The dispatch is a table keyed by the description's tag,
 * so a new model kind that is not handled here is a type error.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Build from "./src/models/Build.js"
 * const w4 = Model.resnet({
 *   stem: { filters: 32, stride: 2 },
 *   blocks: [{ filters: 32 }, { filters: 32 }, { filters: 32 }, { filters: 32 }],
 *   dropPath: [0.1, 0.16, 0.23, 0.3],
 *   classes: 10,
 * })
 * const program = Effect.gen(function* () {
 *   const net = yield* Build.scoped(w4, { seed: 42 })
 *   return tf.tidy(() => net.apply(net.params, tf.zeros([2, 28, 28, 1]), { train: true, seed: 1 }).logits.shape)
 * })
 * Effect.runSync(Effect.scoped(program)) // [2, 10]
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Result, type Scope } from "effect"
import * as Model from "../../dsl/Model.js"
import * as Ramp from "../../dsl/Ramp.js"
import { ShapeError, ValidationError } from "../errors.js"
import * as Augmenter from "./Augmenter.js"
import type { ApplyOptions, Built, CustomBuilder, Forward, Net, Rates } from "./Built.js"
import * as Cnn from "./Cnn.js"
import * as Generator from "./Generator.js"
import * as Mlp from "./Mlp.js"
import * as Ops from "./Ops.js"
import * as ResNet from "./ResNet.js"
import * as Tree from "./Tree.js"
import * as Vit from "./Vit.js"

/**
 * Options of {@link build}: the seed of the initial weights (same seed ⇒ identical parameters)
 * and the builders of `Model.custom` models, by name.
 *
 * @example
 * ```ts
 * import * as Build from "./src/models/Build.js"
 * const options: Build.BuildOptions = { seed: 42, customBuilders: {} }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface BuildOptions {
  readonly seed: number
  readonly customBuilders?: Readonly<Record<string, CustomBuilder>>
  /**
   * Builds `Model.load` models from what was read from disk (the runner reads the files first,
   * see `Loaded.reader`); without it a `Load` model fails to build with a `ValidationError`.
   */
  readonly loaded?: (model: Model.Load) => Result.Result<Built, ShapeError | ValidationError>
  /**
   * Per-channel input normalisation applied before the first layer of a built-in or custom
   * model (a `Load` model uses its own `normalize`); see {@link withNormalize}.
   */
  readonly normalize?: Model.Normalize
}

type Float = Exclude<
  Model.Model,
  Model.Binary | Model.Custom | Model.Load | Model.Generator | Model.Augmenter
>

const architectures: {
  readonly [K in Float["_tag"]]: (model: Extract<Float, { _tag: K }>, seed: number) => Net
} = {
  Mlp: Mlp.make,
  Cnn: Cnn.make,
  ResNet: ResNet.make,
  Vit: Vit.make,
}

const zeroClock: Ramp.Clock = { step: 0, epoch: 0, progress: 0 }

/** evaluates a Num once when it never changes, else at every call */
const resolver = (num: Ramp.Num | undefined): ((clock: Ramp.Clock | undefined) => number | undefined) => {
  if (num === undefined) return () => undefined
  if (Ramp.isConstant(num)) {
    const value = Ramp.evaluate(num, zeroClock)
    return () => value
  }
  return (clock) => Ramp.evaluate(num, clock ?? zeroClock)
}

/**
 * Per-block rates for a maximum `max`: the description's profile scaled so that its largest
 * rate becomes `max`, or (no profile) `max·(i+1)/n`.
 */
const rescale = (max: number, profile: ReadonlyArray<number>, n: number): ReadonlyArray<number> => {
  const top = profile.reduce((a, b) => Math.max(a, b), 0)
  return top > 0
    ? profile.map((r) => (r * max) / top)
    : Array.from({ length: n }, (_, i) => (max * (i + 1)) / n)
}

const shapeOf = (x: tf.Tensor): string => `[${x.shape.join(", ")}]`

const noTap = <T extends tf.Tensor>(_name: string, t: T): T => t

const fromNet = (description: Model.Model, float: Float, net: Net): Built => {
  const input = Model.inputShape(float)!
  const [h, w, c] = input
  const taps = Model.taps(float) ?? []
  const tapSet = new Set(taps)
  const heads = Model.heads(float) ?? ["logits"]
  const binary = description._tag === "Binary" ? description : undefined
  const dropout = resolver(float._tag === "Mlp" || float._tag === "Cnn" ? float.dropout : undefined)
  const dropPaths = Model.dropPathRates(float).map(resolver)
  const blocks = float._tag === "ResNet" ? float.blocks.length : float._tag === "Vit" ? float.depth : 0
  const temperature = resolver(binary?.temperature)
  const binarizeActivations = binary?.binarizeActivations ?? false

  const apply = (params: Tree.Tree, x: tf.Tensor, options: ApplyOptions): Forward => {
    if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
      throw new ShapeError({
        path: "x",
        message: `expected images [batch, ${h}, ${w}, ${c}], got ${shapeOf(x)}`,
      })
    }
    const wanted = options.taps ?? []
    for (const name of wanted) {
      if (!tapSet.has(name)) {
        throw new ShapeError({
          path: `taps.${name}`,
          message: `no tap "${name}" (one of ${taps.join(", ")})`,
        })
      }
    }
    const drop =
      options.train && options.channelDrop !== undefined && options.channelDrop.rate > 0
        ? options.channelDrop
        : undefined
    if (drop !== undefined && !tapSet.has(drop.layer)) {
      throw new ShapeError({
        path: "channelDrop.layer",
        message: `no tap "${drop.layer}" to drop channels at (one of ${taps.join(", ")})`,
      })
    }
    const clock = options.clock
    const dp = options.dropPath
    const rates: Rates = {
      dropout: options.dropout ?? dropout(clock) ?? 0,
      dropPath:
        typeof dp === "object"
          ? dp
          : dp === undefined
            ? dropPaths.map((r) => r(clock) ?? 0)
            : rescale(
                dp,
                dropPaths.map((r) => r(clock) ?? 0),
                blocks,
              ),
    }
    const run = Ops.run({
      params,
      state: options.state ?? net.state,
      train: options.train,
      seed: options.seed ?? 0,
      ...(options.updateStats === undefined ? {} : { updateStats: options.updateStats }),
      ...(options.statsMomentum === undefined ? {} : { momentum: options.statsMomentum }),
      ...(binary === undefined
        ? {}
        : {
            binarize: {
              activations: binarizeActivations,
              temperature: options.temperature ?? temperature(clock),
            },
          }),
      ...(options.record === undefined ? {} : { record: options.record }),
    })
    const collected: Record<string, tf.Tensor> = {}
    const tap =
      wanted.length === 0 && drop === undefined
        ? noTap
        : <T extends tf.Tensor>(name: string, t: T): T => {
            const out =
              drop !== undefined && drop.layer === name ? Ops.channelDrop(run, name, t, drop.rate) : t
            if (wanted.includes(name)) collected[name] = out
            return out
          }
    const out = net.forward(run, x as tf.Tensor4D, rates, tap, (name) => wanted.includes(name))
    return { logits: out.logits, heads: { logits: out.logits, ...out.heads }, taps: collected }
  }

  return {
    description,
    params: net.params,
    state: net.state,
    paramCount: Tree.size(net.params),
    taps,
    heads,
    input,
    classes: float.classes,
    apply,
    dispose: () => {
      Tree.dispose(net.params)
      Tree.dispose(net.state)
    },
  }
}

const fromCustom = (
  description: Model.Custom,
  options: BuildOptions,
): Result.Result<Built, ShapeError | ValidationError> => {
  const builder = options.customBuilders?.[description.name]
  if (builder === undefined) {
    const known = Object.keys(options.customBuilders ?? {})
    return Result.fail(
      new ValidationError({
        issues: [
          {
            path: "name",
            message: `no builder registered for custom model "${description.name}"${known.length > 0 ? ` (known: ${known.join(", ")})` : ""}`,
          },
        ],
      }),
    )
  }
  let model: ReturnType<CustomBuilder>
  try {
    model = builder(description.options ?? {}, { seed: options.seed })
  } catch (cause) {
    return Result.fail(
      new ValidationError({
        issues: [{ path: "name", message: `the builder of "${description.name}" failed: ${String(cause)}` }],
      }),
    )
  }
  const state = model.state ?? {}
  const heads = model.heads ?? ["logits"]
  const dispose =
    model.dispose ??
    (() => {
      Tree.dispose(model.params)
      Tree.dispose(state)
    })
  const apply = (params: Tree.Tree, x: tf.Tensor, o: ApplyOptions): Forward => {
    const out = model.apply(params, x as tf.Tensor4D, { ...o, state: o.state ?? state, seed: o.seed ?? 0 })
    if ("logits" in out && !("rank" in out)) {
      return { logits: out.logits, heads: { ...out.heads, logits: out.logits }, taps: out.taps }
    }
    const logits = out as tf.Tensor2D
    return { logits, heads: { logits }, taps: {} }
  }
  if (model.input !== undefined) {
    const input = model.input
    const problem = probe(apply, model.params, input, model.classes)
    if (problem !== undefined) {
      dispose()
      return Result.fail(new ShapeError({ path: `custom(${description.name})`, message: problem }))
    }
  }
  return Result.succeed({
    description,
    params: model.params,
    state,
    paramCount: Tree.size(model.params),
    taps: model.taps ?? [],
    heads,
    input: model.input,
    classes: model.classes,
    apply,
    dispose,
  })
}

/** one evaluation forward of zeros; a sentence when it fails or has the wrong shape */
const probe = (
  apply: Built["apply"],
  params: Tree.Tree,
  input: Model.Shape,
  classes: number | undefined,
): string | undefined => {
  try {
    const shape = tf.tidy(() => apply(params, tf.zeros([1, ...input]), { train: false }).logits.shape)
    if (shape.length !== 2 || (classes !== undefined && shape[1] !== classes)) {
      return `logits have shape [${shape.join(", ")}], expected [batch, ${classes ?? "classes"}]`
    }
    return undefined
  } catch (cause) {
    return `a forward pass on a zero batch of [1, ${input.join(", ")}] failed: ${String(cause)}`
  }
}

/**
 * Builds synchronously: `Result.succeed(built)`, or the first failure. For code that is already
 * synchronous (the interpreter's plan); {@link build} is the same as an Effect.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Build from "./src/models/Build.js"
 * const r = Build.make(Model.mlp({ hidden: [8], classes: 10 }), { seed: 1 })
 * if (Result.isSuccess(r)) r.success.dispose()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  model: Model.Model,
  options: BuildOptions,
): Result.Result<Built, ShapeError | ValidationError> => {
  if (model._tag === "Load") {
    if (options.loaded === undefined)
      return Result.fail(
        new ValidationError({
          issues: [{ path: "path", message: `the model file ${model.path} was not read before building` }],
        }),
      )
    return Result.map(options.loaded(model), (b) => withNormalize(b, model.normalize))
  }
  if (model._tag === "Custom")
    return Result.map(fromCustom(model, options), (b) => withNormalize(b, options.normalize))
  const issues = Model.check(model)
  if (issues.length > 0) return Result.fail(new ValidationError({ issues }))
  // a generator reads noise, not images: the data's normalisation is not applied to it
  if (model._tag === "Generator") return Result.succeed(Generator.build(model, options.seed))
  // an augmenter works on the raw pixels: the classifiers that read its output normalise them
  if (model._tag === "Augmenter") return Result.succeed(Augmenter.build(model, options.seed))
  const float = (model._tag === "Binary" ? model.inner : model) as Float
  const make = architectures[float._tag] as (m: Float, seed: number) => Net
  return Result.succeed(withNormalize(fromNet(model, float, make(float, options.seed)), options.normalize))
}

/**
 * A built model whose `apply` first normalises its input per channel, `(x − mean[c]) / std[c]`
 * (one value per channel, or one for all), and records the normalisation in `built.normalize`
 * (the Layers export writes it as the model's first layer, so the exported model takes pixels
 * in `[0, 1]`). Without a normalisation the model is returned as it is.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Build from "./src/models/Build.js"
 * const r = Build.make(Model.mlp({ hidden: [8], classes: 10 }), { seed: 1 })
 * if (Result.isSuccess(r)) {
 *   const normalised = Build.withNormalize(r.success, { mean: [0.286], std: [0.353] })
 *   normalised.normalize // { mean: [0.286], std: [0.353] }
 * }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const withNormalize = (built: Built, normalize: Model.Normalize | undefined): Built => {
  if (normalize === undefined) return built
  const mean = normalize.mean
  const std = normalize.std
  // the per-channel constants, made once (per channel count) and freed with the model
  let constants: { readonly c: number; readonly shift: tf.Tensor1D; readonly scale: tf.Tensor1D } | undefined
  const constantsFor = (c: number) => {
    if (constants?.c === c) return constants
    if (mean.length !== 1 && mean.length !== c)
      throw new ShapeError({
        path: "normalize",
        message: `the normalisation has ${mean.length} channels, the input ${c}`,
      })
    const at = (a: ReadonlyArray<number>, i: number) => (a.length === 1 ? a[0]! : a[i]!)
    constants?.shift.dispose()
    constants?.scale.dispose()
    constants = {
      c,
      shift: tf.keep(tf.tensor1d(Array.from({ length: c }, (_, i) => at(mean, i)))),
      scale: tf.keep(tf.tensor1d(Array.from({ length: c }, (_, i) => 1 / at(std, i)))),
    }
    return constants
  }
  const apply: Built["apply"] = (params, x, options) => {
    const { shift, scale } = constantsFor(x.shape[x.rank - 1] ?? 1)
    return built.apply(params, tf.mul(tf.sub(x, shift), scale), options)
  }
  const dispose = () => {
    constants?.shift.dispose()
    constants?.scale.dispose()
    constants = undefined
    built.dispose()
  }
  return { ...built, apply, dispose, normalize: { mean: [...mean], std: [...std] } }
}

/**
 * Builds a model description: checks it (`Model.check`; problems fail with a
 * `ValidationError` listing all of them), creates its seeded variables, and wraps the forward
 * pass. Custom models are built by `options.customBuilders[name]` (missing builder:
 * `ValidationError`; a custom model whose zero-batch forward fails or has the wrong logits
 * shape: `ShapeError`). The caller owns the variables: call `built.dispose()`, or use
 * {@link scoped}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Build from "./src/models/Build.js"
 * const built = Effect.runSync(Build.build(Model.mlp({ hidden: [256, 256], classes: 10 }), { seed: 1 }))
 * built.paramCount // 269322
 * built.dispose()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const build = (
  model: Model.Model,
  options: BuildOptions,
): Effect.Effect<Built, ShapeError | ValidationError> =>
  Effect.suspend(() => Effect.fromResult(make(model, options)))

/**
 * {@link build} whose variables are disposed when the scope closes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Build from "./src/models/Build.js"
 * const count = Effect.runSync(
 *   Effect.scoped(Effect.map(Build.scoped(Model.mlp({ hidden: [8], classes: 10 }), { seed: 1 }), (b) => b.paramCount)),
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const scoped = (
  model: Model.Model,
  options: BuildOptions,
): Effect.Effect<Built, ShapeError | ValidationError, Scope.Scope> =>
  Effect.acquireRelease(build(model, options), (built) => Effect.sync(() => built.dispose()))
