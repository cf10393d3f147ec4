/**
 * A training step as a typed blackboard.
 *
 * A step starts with the batch `{ x, y }` and each stage adds named values: a forward of model
 * `"student"` as `"s"` adds `"s"` (its logits), `"s.block2"` for each requested tap and
 * `"s.exit0"` for each requested head; a loss stage adds `"loss"` and `"loss.<term>"`. The type
 * `Step<R, W>` tracks the names a step needs from before it (`R`) and the names available after
 * it (`W`), so a stage that reads a name nobody wrote does not compile:
 *
 * @example
 * ```ts
 * import { Augment, Loss, Optimizer, Ramp, Step } from "retort/dsl"
 *
 * const kd = Step.start.pipe(
 *   Step.augment(Augment.randomCrop({ pad: 2 }), Augment.flipX()),
 *   Step.forward("teacher", { as: "t", mode: "frozen" }),
 *   Step.forward("student", { as: "s", taps: ["hidden1"] }),
 *   Step.loss(
 *     {
 *       ce: Loss.crossEntropy({ logits: "s" }),
 *       kd: Loss.kl({ teacher: "t", student: "s", temperature: 4 }),
 *     },
 *     { weights: { ce: 0.1, kd: Ramp.cosine({ from: 0.9, to: 0.5 }) } },
 *   ),
 *   Step.optimize("student", Optimizer.adam({ lr: 1e-3 })),
 * )
 * // Step.loss({ kd: Loss.kl({ teacher: "t2", student: "s" }) }) here would not compile: nothing wrote "t2".
 * ```
 *
 * Steps compose: {@link andThen} concatenates stages (associative, with {@link identity} as
 * unit), and {@link needs} opens a fragment that expects names from an earlier fragment.
 *
 * @since 0.1.0
 */
import { Schema, SchemaGetter } from "effect"
import { dual } from "effect/Function"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Augment from "./Augment.js"
import * as Episodic from "./Episodic.js"
import * as Learned from "./Learned.js"
import * as Loss from "./Loss.js"
import * as Optimizer from "./Optimizer.js"
import * as Ramp from "./Ramp.js"
import * as Watermark from "./Watermark.js"

type Num = Ramp.Num

// ---------------------------------------------------------------------------------------------
// Stages
// ---------------------------------------------------------------------------------------------

/**
 * Apply augmentations to the batch (`x`, and `y` for label-mixing ones such as mixup).
 *
 * @since 0.1.0
 * @category models
 */
export interface AugmentStage {
  readonly _tag: "Augment"
  readonly augments: ReadonlyArray<Augment.Augment>
}

/**
 * How a forward runs its model.
 *
 * - `train`: training mode (dropout, drop-path and batch-norm statistics active); gradients
 *   flow into the model's parameters.
 * - `frozen`: evaluation mode, no gradient (a teacher, or an averaged copy).
 * - `eval`: evaluation mode and never optimised, but not detached: gradients flow back through
 *   the model into its input (a frozen teacher that a generator learns through, data-free KD).
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = "train" | "frozen" | "eval"

/**
 * Progressive random channel dropout (PLACE): at each step one of `layers` (taps) is chosen at
 * random and a random fraction `rate` of its channels is dropped.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChannelDrop {
  readonly rate: Num
  readonly layers: ReadonlyArray<string>
}

/**
 * Run a model on an input name and write its outputs. With several names in `as`, the model is
 * sampled once per name with independent dropout / drop-path masks (cosub, SD-Dropout).
 *
 * @since 0.1.0
 * @category models
 */
export interface Forward {
  readonly _tag: "Forward"
  readonly model: string
  readonly as: ReadonlyArray<string>
  readonly mode: Mode
  readonly input: string
  readonly taps: ReadonlyArray<string>
  readonly heads: ReadonlyArray<string>
  /** Overrides the model's dropout rate for this forward (a ramp for progressive dropout). */
  readonly dropout?: Num
  /** Overrides the model's maximal drop-path rate for this forward. */
  readonly dropPath?: Num
  readonly channelDrop?: ChannelDrop
  /** A keyed soft-label watermark on a frozen forward's outputs: it writes `log p̃` (see `Watermark`). */
  readonly watermark?: Watermark.Watermark
}

/**
 * A weighted mix of loss terms, written as `as` (default `"loss"`) and `as.<term>`.
 *
 * @since 0.1.0
 * @category models
 */
export interface LossStage {
  readonly _tag: "Loss"
  readonly terms: Readonly<Record<string, Loss.Loss>>
  readonly weights: Readonly<Record<string, Num>>
  readonly as: string
}

/**
 * Take an optimiser step on the parameters of one or more models, minimising a loss name.
 *
 * @since 0.1.0
 * @category models
 */
export interface Optimize {
  readonly _tag: "Optimize"
  readonly models: ReadonlyArray<string>
  readonly optimizer: Optimizer.Optimizer
  readonly loss: string
  /** An episodic multi-domain update (MLDG, see `Episodic`) instead of a plain step. */
  readonly episodic?: Episodic.Episodic
  /** A look-ahead meta-update of learned hyper-parameters before this update (see `Learned`). */
  readonly learn?: Learned.Lookahead
}

/**
 * Keep an exponential moving average of a model's parameters as a new model named `as`:
 * `θ_avg ← decay·θ_avg + (1 − decay)·θ` every `every` steps.
 *
 * @since 0.1.0
 * @category models
 */
export interface Ema {
  readonly _tag: "Ema"
  readonly model: string
  readonly as: string
  readonly decay: Num
  readonly every: number
}

/**
 * Stochastic weight averaging: from `start` on (in `unit`), add the model's parameters to an
 * equal-weight running mean named `as` every `every` units. Batch-norm statistics of the
 * average are recomputed before it is evaluated.
 *
 * @since 0.1.0
 * @category models
 */
export interface Swa {
  readonly _tag: "Swa"
  readonly model: string
  readonly as: string
  readonly start: number
  readonly every: number
  readonly unit: "epoch" | "step"
}

/**
 * One stage of a step.
 *
 * @since 0.1.0
 * @category models
 */
export type Stage = AugmentStage | Forward | LossStage | Optimize | Ema | Swa | Noise

/**
 * Sample noise `[batch, dim]` (standard normal, or uniform on `[−1, 1]`) as `as`: the input of a
 * generator in data-free distillation. Seeded by the step's seed and the stage's index; the
 * batch size is the phase's. A step that reads neither `x` nor `y` never draws a training batch.
 *
 * @since 0.1.0
 * @category models
 */
export interface Noise {
  readonly _tag: "Noise"
  readonly as: string
  readonly dim: number
  readonly distribution: "normal" | "uniform"
}

// ---------------------------------------------------------------------------------------------
// Step
// ---------------------------------------------------------------------------------------------

/**
 * A step: a sequence of stages. `R` is what it needs from before it, `W` what is available after
 * it. Both are phantom: at run time a step is only `{ _tag: "Step", stages }`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Step<out R extends string = string, out W extends string = string> extends Pipeable {
  readonly _tag: "Step"
  readonly stages: ReadonlyArray<Stage>
  readonly "~needs"?: R
  readonly "~writes"?: W
}

/**
 * Any step, whatever it reads and writes.
 *
 * @since 0.1.0
 * @category models
 */
export type Any = Step<string, string>

const StepProto = {
  pipe() {
    // biome-ignore lint/complexity/noArguments: pipeArguments reads the call's arguments
    return pipeArguments(this, arguments)
  },
}

/**
 * Build a step from stages (no type-level checking: prefer the stage constructors).
 *
 * @example
 * ```ts
 * import { Step } from "retort/dsl"
 * const same = Step.make(Step.start.stages)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <R extends string = string, W extends string = string>(
  stages: ReadonlyArray<Stage>,
): Step<R, W> => {
  const step = Object.create(StepProto)
  step._tag = "Step"
  step.stages = stages
  return Object.freeze(step)
}

/**
 * The empty step that starts every training step: the batch `x` (images) and `y` (labels) are
 * on the blackboard.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start: Step<never, "x" | "y"> = make([])

/**
 * The identity of composition: no stages, needs nothing, writes nothing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const identity: Step<never, never> = make([])

/**
 * Open a fragment that expects `names` from an earlier fragment; compose it with
 * {@link andThen}.
 *
 * @example
 * ```ts
 * import { Loss, Optimizer, Step } from "retort/dsl"
 * const tail = Step.needs("s", "y").pipe(
 *   Step.loss({ ce: Loss.crossEntropy({ logits: "s" }) }),
 *   Step.optimize("student", Optimizer.adam({ lr: 1e-3 })),
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const needs = <const N extends ReadonlyArray<string>>(..._names: N): Step<N[number], N[number]> =>
  make([])

/**
 * Sequential composition: the stages of `self`, then those of `that`. Associative, with
 * {@link identity} as unit. What `that` needs and `self` does not write is still needed.
 *
 * @example
 * ```ts
 * import { Loss, Step } from "retort/dsl"
 * const head = Step.start.pipe(Step.forward("student", { as: "s" }))
 * const tail = Step.needs("s", "y").pipe(Step.loss({ ce: Loss.crossEntropy({ logits: "s" }) }))
 * const whole = Step.andThen(head, tail)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const andThen: {
  <R2 extends string, W2 extends string>(
    that: Step<R2, W2>,
  ): <R1 extends string, W1 extends string>(self: Step<R1, W1>) => Step<R1 | Exclude<R2, W1>, W1 | W2>
  <R1 extends string, W1 extends string, R2 extends string, W2 extends string>(
    self: Step<R1, W1>,
    that: Step<R2, W2>,
  ): Step<R1 | Exclude<R2, W1>, W1 | W2>
} = dual(2, (self: Any, that: Any): Any => make([...self.stages, ...that.stages]))

// ---------------------------------------------------------------------------------------------
// Type-level checking of reads
// ---------------------------------------------------------------------------------------------

/**
 * The error a stage reports when it reads a name that no earlier stage wrote: the property
 * `"~unwritten"` names the culprits.
 *
 * @since 0.1.0
 * @category type-level
 */
export interface Unwritten<N extends string> {
  readonly "~unwritten": N
}

/**
 * `unknown` when every name in `Reads` is in `W`, else {@link Unwritten} of the missing ones.
 *
 * @since 0.1.0
 * @category type-level
 */
export type CheckReads<Reads extends string, W extends string> = [Exclude<Reads, W>] extends [never]
  ? unknown
  : Unwritten<Exclude<Reads, W>>

type Names<As> = As extends ReadonlyArray<infer N extends string> ? N : As extends string ? As : never

/**
 * What a forward writes: each sample name, plus `name.tap` / `name.head` for requested taps and heads.
 *
 * @since 0.1.0
 * @category type-level
 */
export type ForwardWrites<As, Taps extends ReadonlyArray<string>, Heads extends ReadonlyArray<string>> =
  | Names<As>
  | `${Names<As>}.${Taps[number] | Heads[number]}`

/**
 * Apply augmentations to the batch, in order.
 *
 * @example
 * ```ts
 * import { Augment, Step } from "retort/dsl"
 * const step = Step.start.pipe(Step.augment(Augment.flipX(), Augment.mixup({ alpha: 0.2 })))
 * ```
 *
 * @since 0.1.0
 * @category stages
 */
export const augment =
  (...augments: ReadonlyArray<Augment.Augment>) =>
  <R extends string, W extends string>(self: Step<R, W> & CheckReads<"x" | "y", W>): Step<R, W> =>
    make([...self.stages, { _tag: "Augment", augments }])

/**
 * Run a model. `as` names its output (or several names: one independent stochastic sample
 * each); `taps` and `heads` add `as.tap` / `as.head`; `mode` is `"train"` (default) or
 * `"frozen"`; `input` defaults to `"x"`.
 *
 * @example
 * ```ts
 * import { Step } from "retort/dsl"
 * const step = Step.start.pipe(
 *   Step.forward("teacher", { as: "t", mode: "frozen", taps: ["flat"] }),
 *   Step.forward("student", { as: ["a", "b"] }), // two dropout samples
 * )
 * ```
 *
 * @since 0.1.0
 * @category stages
 */
export const forward =
  <
    const As extends string | ReadonlyArray<string>,
    const Taps extends ReadonlyArray<string> = [],
    const Heads extends ReadonlyArray<string> = [],
    const In extends string = "x",
  >(
    model: string,
    options: {
      readonly as: As
      readonly mode?: Mode
      readonly taps?: Taps
      readonly heads?: Heads
      readonly input?: In
      readonly dropout?: Num
      readonly dropPath?: Num
      readonly channelDrop?: ChannelDrop
      readonly watermark?: Watermark.Watermark
    },
  ) =>
  <R extends string, W extends string>(
    self: Step<R, W> & CheckReads<In, W>,
  ): Step<R, W | ForwardWrites<As, Taps, Heads>> => {
    const stage: Forward = {
      _tag: "Forward",
      model,
      as: typeof options.as === "string" ? [options.as] : [...(options.as as ReadonlyArray<string>)],
      mode: options.mode ?? "train",
      input: options.input ?? "x",
      taps: options.taps ?? [],
      heads: options.heads ?? [],
      ...(options.dropout !== undefined ? { dropout: options.dropout } : {}),
      ...(options.dropPath !== undefined ? { dropPath: options.dropPath } : {}),
      ...(options.channelDrop !== undefined ? { channelDrop: options.channelDrop } : {}),
      ...(options.watermark !== undefined ? { watermark: options.watermark } : {}),
    }
    return make([...self.stages, stage])
  }

/**
 * Mix loss terms with weights (numbers or ramps; default 1) into `as` (default `"loss"`), also
 * writing each term as `as.<term>`. Every name a term reads must have been written.
 *
 * @example
 * ```ts
 * import { Loss, Ramp, Step } from "retort/dsl"
 * const step = Step.start.pipe(
 *   Step.forward("student", { as: "s" }),
 *   Step.loss({ ce: Loss.crossEntropy({ logits: "s", smoothing: 0.1 }) }, { weights: { ce: Ramp.constant(1) } }),
 * )
 * ```
 *
 * @since 0.1.0
 * @category stages
 */
export const loss =
  <const T extends Readonly<Record<string, Loss.Loss<any>>>, const As extends string = "loss">(
    terms: T,
    options?: { readonly weights?: { readonly [K in keyof T]?: Num }; readonly as?: As },
  ) =>
  <R extends string, W extends string>(
    self: Step<R, W> & CheckReads<Loss.ReadsOf<T[keyof T]>, W>,
  ): Step<R, W | As | `${As}.${keyof T & string}`> => {
    const weights: Record<string, Num> = {}
    for (const k of Object.keys(terms))
      weights[k] = (options?.weights as Record<string, Num> | undefined)?.[k] ?? 1
    return make([...self.stages, { _tag: "Loss", terms, weights, as: options?.as ?? "loss" }])
  }

/**
 * Take an optimiser step on one or more models' parameters, minimising `loss` (default `"loss"`).
 *
 * @example
 * ```ts
 * import { Loss, Optimizer, Step } from "retort/dsl"
 * const step = Step.start.pipe(
 *   Step.forward("student", { as: "s" }),
 *   Step.loss({ ce: Loss.crossEntropy({ logits: "s" }) }),
 *   Step.optimize("student", Optimizer.sgd({ lr: 0.1, momentum: 0.9 })),
 * )
 * ```
 *
 * @since 0.1.0
 * @category stages
 */
export const optimize =
  <const L extends string = "loss">(
    models: string | ReadonlyArray<string>,
    optimizer: Optimizer.Optimizer,
    options?: {
      readonly loss?: L
      readonly episodic?: Episodic.Episodic
      readonly learn?: Learned.Lookahead
    },
  ) =>
  <R extends string, W extends string>(self: Step<R, W> & CheckReads<L, W>): Step<R, W> =>
    make([
      ...self.stages,
      {
        _tag: "Optimize",
        models: typeof models === "string" ? [models] : [...models],
        optimizer,
        loss: options?.loss ?? "loss",
        ...(options?.episodic !== undefined ? { episodic: options.episodic } : {}),
        ...(options?.learn !== undefined ? { learn: options.learn } : {}),
      },
    ])

/**
 * Maintain an exponential moving average of `model` as a new model `as` (usable as a frozen
 * teacher in later stages or steps, and evaluated like any model).
 *
 * @example
 * ```ts
 * import { Step } from "retort/dsl"
 * const update = Step.ema("student", { as: "student_ema", decay: 0.999 })
 * ```
 *
 * @since 0.1.0
 * @category stages
 */
export const ema =
  (model: string, options: { readonly as: string; readonly decay: Num; readonly every?: number }) =>
  <R extends string, W extends string>(self: Step<R, W>): Step<R, W> =>
    make([
      ...self.stages,
      { _tag: "Ema", model, as: options.as, decay: options.decay, every: options.every ?? 1 },
    ])

/**
 * Stochastic weight averaging of `model` into a new model `as`, from `start` every `every`
 * `unit`s (default: from epoch 0, every epoch).
 *
 * @example
 * ```ts
 * import { Step } from "retort/dsl"
 * const average = Step.swa("student", { as: "student_swa", start: 3, every: 1, unit: "epoch" })
 * ```
 *
 * @since 0.1.0
 * @category stages
 */
export const swa =
  (
    model: string,
    options: {
      readonly as: string
      readonly start?: number
      readonly every?: number
      readonly unit?: "epoch" | "step"
    },
  ) =>
  <R extends string, W extends string>(self: Step<R, W>): Step<R, W> =>
    make([
      ...self.stages,
      {
        _tag: "Swa",
        model,
        as: options.as,
        start: options.start ?? 0,
        every: options.every ?? 1,
        unit: options.unit ?? "epoch",
      },
    ])

/**
 * Sample noise `[batch, dim]` as `as` (data-free distillation: a generator's input).
 *
 * @example
 * ```ts
 * import { Step } from "retort/dsl"
 * const step = Step.start.pipe(
 *   Step.noise({ as: "z", dim: 64 }),
 *   Step.forward("generator", { as: "xg", input: "z" }),
 *   Step.forward("teacher", { as: "t", mode: "eval", input: "xg" }),
 * )
 * ```
 *
 * @since 0.1.0
 * @category stages
 */
export const noise =
  <const As extends string>(options: {
    readonly as: As
    readonly dim: number
    readonly distribution?: "normal" | "uniform"
  }) =>
  <R extends string, W extends string>(self: Step<R, W>): Step<R, W | As> =>
    make([
      ...self.stages,
      { _tag: "Noise", as: options.as, dim: options.dim, distribution: options.distribution ?? "normal" },
    ])

/**
 * Whether a step reads the training batch (`x` or `y`, directly or through an augmentation). A
 * step that does not (it starts from {@link noise}) is data-free: the runner draws no training
 * batches for its phase.
 *
 * @example
 * ```ts
 * import { Step } from "retort/dsl"
 * Step.readsBatch(Step.start.pipe(Step.forward("student", { as: "s" }))) // true
 * Step.readsBatch(Step.start.pipe(Step.noise({ as: "z", dim: 8 }))) // false
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const readsBatch = (step: Any): boolean =>
  analyze(step, []).unwritten.some((u) => u.name === "x" || u.name === "y")

// ---------------------------------------------------------------------------------------------
// Analysis
// ---------------------------------------------------------------------------------------------

/**
 * The names a stage reads and writes, the models it touches, and whether it is an update (an
 * optimiser or averaging stage changes parameters, so it never commutes with a stage that
 * uses those models).
 *
 * @since 0.1.0
 * @category models
 */
export interface Footprint {
  readonly reads: ReadonlyArray<string>
  readonly writes: ReadonlyArray<string>
  readonly uses: ReadonlyArray<string>
  readonly updates: ReadonlyArray<string>
}

/**
 * The footprint of a stage.
 *
 * @example
 * ```ts
 * import { Step } from "retort/dsl"
 * const [stage] = Step.start.pipe(Step.forward("student", { as: "s", taps: ["hidden0"] })).stages
 * Step.footprint(stage!) // { reads: ["x"], writes: ["s", "s.hidden0"], uses: ["student"], updates: [] }
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const footprint = (stage: Stage): Footprint => {
  switch (stage._tag) {
    case "Augment":
      return { reads: ["x", "y"], writes: ["x", "y"], uses: [], updates: [] }
    case "Forward":
      return {
        reads: [stage.input],
        writes: stage.as.flatMap((a) => [
          a,
          ...stage.taps.map((t) => `${a}.${t}`),
          ...stage.heads.map((h) => `${a}.${h}`),
        ]),
        uses: [stage.model],
        updates: [],
      }
    case "Loss":
      return {
        reads: [
          ...new Set(
            Object.values(stage.terms).flatMap((t) => Loss.operands(t).map((o) => Loss.refName(o.ref))),
          ),
        ],
        writes: [stage.as, ...Object.keys(stage.terms).map((k) => `${stage.as}.${k}`)],
        uses: [],
        updates: [],
      }
    case "Optimize":
      return { reads: [stage.loss], writes: [], uses: stage.models, updates: stage.models }
    case "Ema":
    case "Swa":
      return { reads: [], writes: [], uses: [stage.model], updates: [stage.as] }
    case "Noise":
      return { reads: [], writes: [stage.as], uses: [], updates: [] }
  }
}

/**
 * Whether two stages touch disjoint names and models, so that swapping them cannot change
 * what a step computes.
 *
 * @example
 * ```ts
 * import { Step } from "retort/dsl"
 * const [a, b] = Step.start.pipe(Step.forward("t1", { as: "a", mode: "frozen" }), Step.forward("t2", { as: "b", mode: "frozen" })).stages
 * Step.independent(a!, b!) // true
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const independent = (a: Stage, b: Stage): boolean => {
  const fa = footprint(a)
  const fb = footprint(b)
  const meet = (xs: ReadonlyArray<string>, ys: ReadonlyArray<string>) => xs.some((x) => ys.includes(x))
  return (
    !meet(fa.writes, [...fb.reads, ...fb.writes]) &&
    !meet(fb.writes, fa.reads) &&
    !meet(fa.updates, [...fb.uses, ...fb.updates]) &&
    !meet(fb.updates, fa.uses)
  )
}

/**
 * Walk a step's stages from the initial names (`x`, `y` by default) and return the names
 * written by the end, with every read of an unwritten name (its stage index and name).
 *
 * @example
 * ```ts
 * import { Step } from "retort/dsl"
 * const { written, unwritten } = Step.analyze(Step.start.pipe(Step.forward("student", { as: "s" })))
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const analyze = (
  step: Any,
  initial: ReadonlyArray<string> = ["x", "y"],
): {
  readonly written: ReadonlyArray<string>
  readonly unwritten: ReadonlyArray<{ readonly stage: number; readonly name: string }>
} => {
  const written = new Set(initial)
  const unwritten: Array<{ stage: number; name: string }> = []
  step.stages.forEach((stage, i) => {
    const fp = footprint(stage)
    for (const r of fp.reads) if (!written.has(r)) unwritten.push({ stage: i, name: r })
    for (const w of fp.writes) written.add(w)
  })
  return { written: [...written], unwritten }
}

/**
 * A one-line description per stage.
 *
 * @since 0.1.0
 * @category formatting
 */
export const describe = (step: Any): ReadonlyArray<string> =>
  // biome-ignore lint/suspicious/useIterableCallbackReturn: the switch is exhaustive (checked by tsc)
  step.stages.map((s): string => {
    switch (s._tag) {
      case "Augment":
        return `augment ${s.augments.map(Augment.describe).join(", ")}`
      case "Forward":
        return `forward ${s.model}${s.mode === "train" ? "" : ` (${s.mode})`}${s.watermark ? ` + ${Watermark.describe(s.watermark)}` : ""} → ${footprint(s).writes.join(", ")}`
      case "Loss":
        return `${s.as} = ${Object.entries(s.terms)
          .map(([k, t]) => `${Ramp.describe(s.weights[k] ?? 1)}·${Loss.describe(t)} [${k}]`)
          .join(" + ")}`
      case "Optimize":
        return `optimize ${s.models.join(", ")} on ${s.loss} with ${Optimizer.describe(s.optimizer)}${s.episodic ? ` (MLDG: inner lr ${Ramp.describe(s.episodic.innerLr)}, β ${Ramp.describe(s.episodic.beta)}, ${s.episodic.metaTest} meta-test domain${s.episodic.metaTest === 1 ? "" : "s"})` : ""}${s.learn ? `; ${Learned.describeLookahead(s.learn)}` : ""}`
      case "Ema":
        return `ema ${s.model} → ${s.as} (decay ${Ramp.describe(s.decay)})`
      case "Noise":
        return `noise ${s.as} ~ ${s.distribution === "normal" ? "N(0, 1)" : "U(−1, 1)"}^${s.dim}`
      case "Swa":
        return `swa ${s.model} → ${s.as} (from ${s.unit} ${s.start}, every ${s.every})`
    }
  })

// ---------------------------------------------------------------------------------------------
// Codec
// ---------------------------------------------------------------------------------------------

const Num = Ramp.NumSchema

const ChannelDropSchema = Schema.Struct({ rate: Num, layers: Schema.Array(Schema.String) })

/**
 * Schema of a stage.
 *
 * @since 0.1.0
 * @category schemas
 */
export const StageSchema: Schema.Codec<Stage> = Schema.Union([
  Schema.Struct({ _tag: Schema.Literal("Augment"), augments: Schema.Array(Augment.schema) }),
  Schema.Struct({
    _tag: Schema.Literal("Forward"),
    model: Schema.String,
    as: Schema.Array(Schema.String),
    mode: Schema.Literals(["train", "frozen", "eval"]),
    input: Schema.String,
    taps: Schema.Array(Schema.String),
    heads: Schema.Array(Schema.String),
    dropout: Schema.optionalKey(Num),
    dropPath: Schema.optionalKey(Num),
    channelDrop: Schema.optionalKey(ChannelDropSchema),
    watermark: Schema.optionalKey(Watermark.schema),
  }),
  Schema.Struct({
    _tag: Schema.Literal("Loss"),
    terms: Schema.Record(Schema.String, Loss.schema),
    weights: Schema.Record(Schema.String, Num),
    as: Schema.String,
  }),
  Schema.Struct({
    _tag: Schema.Literal("Optimize"),
    models: Schema.Array(Schema.String),
    optimizer: Optimizer.schema,
    loss: Schema.String,
    episodic: Schema.optionalKey(Episodic.schema),
    learn: Schema.optionalKey(Learned.lookaheadSchema),
  }),
  Schema.Struct({
    _tag: Schema.Literal("Ema"),
    model: Schema.String,
    as: Schema.String,
    decay: Num,
    every: Schema.Finite,
  }),
  Schema.Struct({
    _tag: Schema.Literal("Swa"),
    model: Schema.String,
    as: Schema.String,
    start: Schema.Finite,
    every: Schema.Finite,
    unit: Schema.Literals(["epoch", "step"]),
  }),
  Schema.Struct({
    _tag: Schema.Literal("Noise"),
    as: Schema.String,
    dim: Schema.Int.check(Schema.isGreaterThan(0)),
    distribution: Schema.Literals(["normal", "uniform"]),
  }),
])

/**
 * Schema of a step as a plain `{ _tag: "Step", stages }` record (no `pipe` method): for
 * schema-derived arbitraries and tools that want the raw encoded form.
 *
 * @since 0.1.0
 * @category schemas
 */
export const plainSchema = Schema.Struct({ _tag: Schema.Literal("Step"), stages: Schema.Array(StageSchema) })
const StepStruct = plainSchema

/**
 * Schema of a step: decodes `{ _tag: "Step", stages }` JSON into a pipeable {@link Step} equal
 * to the one built with the constructors.
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema: Schema.Codec<Any, { readonly _tag: "Step"; readonly stages: ReadonlyArray<unknown> }> =
  StepStruct.pipe(
    Schema.decodeTo(
      Schema.declare((u: unknown): u is Any => isStep(u)),
      {
        decode: SchemaGetter.transform((s: { readonly stages: ReadonlyArray<Stage> }) => make(s.stages)),
        encode: SchemaGetter.transform((s: Any) => ({ _tag: "Step" as const, stages: s.stages })),
      },
    ),
  ) as any

/**
 * Whether a value is a step.
 *
 * @since 0.1.0
 * @category guards
 */
export const isStep = (u: unknown): u is Any =>
  typeof u === "object" &&
  u !== null &&
  (u as { _tag?: unknown })._tag === "Step" &&
  Array.isArray((u as Any).stages)
