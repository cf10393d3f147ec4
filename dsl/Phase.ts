/**
 * A phase: one stretch of training with its own step, data slice, length, batch size and
 * evaluation — "train the teacher", "distil the student", "born-again generation 2",
 * "fine-tune with SWA". Models live at the pipeline level and carry over from phase to phase;
 * {@link Init} says how a phase (re)initialises them: keep, start fresh, or copy another
 * model's weights (the born-again hand-off).
 *
 * @example
 * ```ts
 * import { Loss, Optimizer, Phase, Step } from "retort/dsl"
 * const teacher = Phase.make({
 *   name: "teacher",
 *   epochs: 3,
 *   batchSize: 128,
 *   step: Step.start.pipe(
 *     Step.forward("teacher", { as: "t" }),
 *     Step.loss({ ce: Loss.crossEntropy({ logits: "t" }) }),
 *     Step.optimize("teacher", Optimizer.adam({ lr: 1e-3 })),
 *   ),
 *   evaluate: Phase.evaluate({ models: ["teacher"] }),
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Augment from "./Augment.js"
import * as FewShot from "./FewShot.js"
import * as Ramp from "./Ramp.js"
import * as Step from "./Step.js"
import * as Tta from "./Tta.js"

type Num = Ramp.Num

/**
 * How a model is initialised at the start of a phase.
 *
 * - `Keep`: carry its parameters from the previous phase (fresh if it was never built).
 * - `Fresh`: re-initialise it (a new seed per phase and model).
 * - `Copy`: copy the parameters of model `from` (same architecture) — born-again's hand-off.
 *
 * @since 0.1.0
 * @category models
 */
export type Init =
  | { readonly _tag: "Keep" }
  | { readonly _tag: "Fresh" }
  | { readonly _tag: "Copy"; readonly from: string }

/**
 * @since 0.1.0
 * @category constructors
 */
export const keep: Init = { _tag: "Keep" }
/**
 * @since 0.1.0
 * @category constructors
 */
export const fresh: Init = { _tag: "Fresh" }
/**
 * Initialise from another model's current parameters.
 *
 * @example
 * ```ts
 * import { Phase } from "retort/dsl"
 * const init = { teacher: Phase.copy("student"), student: Phase.fresh }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const copy = (from: string): Init => ({ _tag: "Copy", from })

/**
 * The slice of the training data a phase sees.
 *
 * @since 0.1.0
 * @category models
 */
export interface DataSlice {
  /**
   * Use only the first `limit` training images (after the validation split). A data-free phase
   * (its step starts from `Step.noise` and reads neither `x` nor `y`, see `Step.readsBatch`)
   * draws no training images at all: there `limit` is the number of generated samples per epoch
   * (default: as many as the training split has images), so `epochs × limit / batchSize` steps.
   */
  readonly limit?: number
  /**
   * Train only on images of these classes (ids of the data set, e.g. the *base* classes of a
   * few-shot split; the others are never seen by the phase). Applied before `limit`.
   */
  readonly classes?: ReadonlyArray<number>
  /**
   * Train only on samples of these domains (ids into `Pipeline.Data.domains`; the others are
   * never seen by the phase — leave-one-domain-out). Applied before `limit`.
   */
  readonly domains?: ReadonlyArray<number>
}

/**
 * What an evaluation measures on: a split, optionally corrupted (a shifted split).
 *
 * @since 0.1.0
 * @category models
 */
export interface EvalSplit {
  readonly split: "train" | "validation" | "test"
  readonly corruption?: Augment.Corruption
  /** Evaluate on at most this many samples (the first ones). */
  readonly limit?: number
  /**
   * Keep only samples of these domains (ids into `Pipeline.Data.domains`), e.g. the held-out
   * domain on `test`, the training domains on `validation` (model selection). Applied before
   * `limit`. The metric key gets `@d<ids>`: `test@d5`.
   */
  readonly domains?: ReadonlyArray<number>
  /**
   * Keep only samples of these classes (ids of the data set), e.g. a cross-task student's own
   * label space; the argmax still ranges over every output. Applied before `limit`. The metric
   * key gets `@c<ids>`: `test@c5+6+7+8+9`.
   */
  readonly classes?: ReadonlyArray<number>
}

/**
 * What is evaluated: a model's default output, a model with several heads averaged (DeiT), or
 * an ensemble of models (mean of their softmaxes, born-again).
 *
 * @since 0.1.0
 * @category models
 */
export type EvalTarget =
  | { readonly _tag: "Model"; readonly model: string; readonly heads: ReadonlyArray<string> }
  | { readonly _tag: "Ensemble"; readonly name: string; readonly models: ReadonlyArray<string> }

/**
 * Metrics to compute on each evaluated target: `accuracy`, `nll`, `ece` (15-bin expected
 * calibration error), `agreement` (top-1 agreement with `Evaluate.reference`) and `exits` (the
 * accuracy of each head of a plain model target alone: `test/net/exit0/accuracy`).
 *
 * @since 0.1.0
 * @category models
 */
export type Metric = "accuracy" | "nll" | "ece" | "agreement" | "exits"

/**
 * Evaluation settings of a phase.
 *
 * @since 0.1.0
 * @category models
 */
export interface Evaluate {
  /** Evaluate after every `every` epochs (and always at the end of the phase). */
  readonly every: number
  readonly splits: ReadonlyArray<EvalSplit>
  readonly targets: ReadonlyArray<EvalTarget>
  readonly metrics: ReadonlyArray<Metric>
  /** For `agreement`: the reference model (usually the teacher). */
  readonly reference?: string
  /**
   * Early-exit inference (BYOT): for each threshold, every plain model target (no `heads`) whose
   * model has several heads (a ResNet with exits) is also evaluated leaving each sample at the first head, shallow →
   * deep, whose largest softmax probability reaches the threshold. Gives
   * `<target>@<threshold>/accuracy`, `/meanExit` (index of the head used, 0 = first) and
   * `/<head>` (the fraction of samples that left there). Uncorrupted splits only.
   */
  readonly earlyExit?: ReadonlyArray<number>
  /**
   * Few-shot evaluation (RFS): N-way K-shot episodes on novel classes, a probe on the
   * L2-normalised features of a tap (see `FewShot`). Gives `<split>/<model>/fewshot-5w1s/accuracy`
   * and `/ci95`.
   */
  readonly fewShot?: FewShot.FewShot
  /**
   * Per-domain accuracy (data with `domains`): each split is also evaluated on every domain it
   * holds alone, giving `<split>/<target>/<domain>/accuracy` (`test/net/rot75/accuracy`).
   */
  readonly perDomain?: boolean
  /**
   * Test-time augmentation (see `Tta`): also `<split>/<target>/tta/accuracy` (and `/nll`, `/ece`),
   * the mean of the views' probabilities.
   */
  readonly tta?: Tta.Tta
  /**
   * Model selection: after each evaluation the optimised models' weights are kept when the
   * metric `key` (a flattened key, `validation@d0+1+2+3+4/net/accuracy`: a training-domain
   * validation split) is the best so far (`max`, or `min` for a loss); at the end of the phase the
   * kept weights are restored, and the phase's metrics are those of the selected evaluation, with
   * `selected/epoch`.
   */
  readonly select?: Select
}

/**
 * Model selection on an evaluated metric (see {@link Evaluate.select}).
 *
 * @since 0.1.0
 * @category models
 */
export interface Select {
  readonly key: string
  readonly mode: "max" | "min"
}

/**
 * A phase.
 *
 * @since 0.1.0
 * @category models
 */
export interface Phase {
  readonly _tag: "Phase"
  readonly name: string
  readonly step: Step.Any
  /** Length in epochs (exactly one of `epochs`, `steps`). */
  readonly epochs?: number
  /** Length in optimiser steps. */
  readonly steps?: number
  /** Batch size, a number or a ramp evaluated at each epoch boundary. */
  readonly batchSize: Num
  readonly data: DataSlice
  readonly init: Readonly<Record<string, Init>>
  readonly evaluate: Evaluate
}

/**
 * Evaluation settings. Defaults: every epoch, on the test split, accuracy + NLL + ECE.
 * `earlyExit` adds early-exit inference at the given confidence thresholds (see {@link Evaluate}).
 *
 * @example
 * ```ts
 * import { Augment, Phase } from "retort/dsl"
 * const ev = Phase.evaluate({
 *   models: ["student"],
 *   splits: [{ split: "test" }, { split: "test", corruption: Augment.corruption("rotation", 3) }],
 *   metrics: ["accuracy", "ece"],
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const evaluate = (options: {
  readonly models?: ReadonlyArray<string>
  readonly targets?: ReadonlyArray<EvalTarget>
  readonly splits?: ReadonlyArray<EvalSplit>
  readonly metrics?: ReadonlyArray<Metric>
  readonly every?: number
  readonly reference?: string
  readonly earlyExit?: ReadonlyArray<number>
  readonly fewShot?: FewShot.FewShot
  readonly perDomain?: boolean
  readonly tta?: Tta.Tta
  readonly select?: Select
}): Evaluate => ({
  every: options.every ?? 1,
  splits: options.splits ?? [{ split: "test" }],
  targets: [...(options.models ?? []).map((m) => target(m)), ...(options.targets ?? [])],
  metrics: options.metrics ?? ["accuracy", "nll", "ece"],
  ...(options.reference !== undefined ? { reference: options.reference } : {}),
  ...(options.earlyExit !== undefined ? { earlyExit: options.earlyExit } : {}),
  ...(options.fewShot !== undefined ? { fewShot: options.fewShot } : {}),
  ...(options.perDomain !== undefined ? { perDomain: options.perDomain } : {}),
  ...(options.tta !== undefined ? { tta: options.tta } : {}),
  ...(options.select !== undefined ? { select: options.select } : {}),
})

/**
 * Evaluate a model, optionally averaging the softmax of several of its heads.
 *
 * @example
 * ```ts
 * import { Phase } from "retort/dsl"
 * const deit = Phase.target("student", ["logits", "dist"])
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const target = (model: string, heads: ReadonlyArray<string> = []): EvalTarget => ({
  _tag: "Model",
  model,
  heads,
})

/**
 * Evaluate the ensemble (mean softmax) of several models.
 *
 * @example
 * ```ts
 * import { Phase } from "retort/dsl"
 * const ban = Phase.ensemble("generations", ["gen1", "gen2", "gen3"])
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const ensemble = (name: string, models: ReadonlyArray<string>): EvalTarget => ({
  _tag: "Ensemble",
  name,
  models,
})

/**
 * The models a step optimises.
 *
 * @since 0.1.0
 * @category getters
 */
export const optimized = (step: Step.Any): ReadonlyArray<string> => [
  ...new Set(step.stages.flatMap((s) => (s._tag === "Optimize" ? s.models : []))),
]

/**
 * Build a phase. Defaults: batch size 128, all training data, models kept from the previous
 * phase, evaluation of the optimised models on the test split every epoch.
 *
 * @example
 * ```ts
 * import { Loss, Optimizer, Phase, Step } from "retort/dsl"
 * const p = Phase.make({
 *   name: "plain",
 *   epochs: 1,
 *   step: Step.start.pipe(
 *     Step.forward("net", { as: "o" }),
 *     Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
 *     Step.optimize("net", Optimizer.adam({ lr: 1e-3 })),
 *   ),
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly name: string
  readonly step: Step.Step<"x" | "y", string>
  readonly epochs?: number
  readonly steps?: number
  readonly batchSize?: Num
  readonly data?: DataSlice
  readonly init?: Readonly<Record<string, Init>>
  readonly evaluate?: Evaluate
}): Phase => ({
  _tag: "Phase",
  name: options.name,
  step: options.step,
  ...(options.steps !== undefined ? { steps: options.steps } : { epochs: options.epochs ?? 1 }),
  batchSize: options.batchSize ?? 128,
  data: options.data ?? {},
  init: options.init ?? {},
  evaluate: options.evaluate ?? evaluate({ models: optimized(options.step) }),
})

// ---------------------------------------------------------------------------------------------
// Codec
// ---------------------------------------------------------------------------------------------

const InitSchema: Schema.Codec<Init> = Schema.Union([
  Schema.Struct({ _tag: Schema.Literal("Keep") }),
  Schema.Struct({ _tag: Schema.Literal("Fresh") }),
  Schema.Struct({ _tag: Schema.Literal("Copy"), from: Schema.String }),
])

const EvalSplitSchema: Schema.Codec<EvalSplit> = Schema.Struct({
  split: Schema.Literals(["train", "validation", "test"]),
  corruption: Schema.optionalKey(Augment.corruptionSchema),
  limit: Schema.optionalKey(Schema.Finite),
  domains: Schema.optionalKey(Schema.Array(Schema.Finite)),
  classes: Schema.optionalKey(Schema.Array(Schema.Finite)),
})

const EvalTargetSchema: Schema.Codec<EvalTarget> = Schema.Union([
  Schema.Struct({ _tag: Schema.Literal("Model"), model: Schema.String, heads: Schema.Array(Schema.String) }),
  Schema.Struct({
    _tag: Schema.Literal("Ensemble"),
    name: Schema.String,
    models: Schema.Array(Schema.String),
  }),
])

const EvaluateSchema: Schema.Codec<Evaluate> = Schema.Struct({
  every: Schema.Finite,
  splits: Schema.Array(EvalSplitSchema),
  targets: Schema.Array(EvalTargetSchema),
  metrics: Schema.Array(Schema.Literals(["accuracy", "nll", "ece", "agreement", "exits"])),
  reference: Schema.optionalKey(Schema.String),
  earlyExit: Schema.optionalKey(Schema.Array(Schema.Finite)),
  fewShot: Schema.optionalKey(FewShot.schema),
  perDomain: Schema.optionalKey(Schema.Boolean),
  tta: Schema.optionalKey(Tta.schema),
  select: Schema.optionalKey(Schema.Struct({ key: Schema.String, mode: Schema.Literals(["max", "min"]) })),
})

/**
 * The phase schema with a given step schema (the default {@link schema} uses `Step.schema`;
 * `Step.plainSchema` gives plain `{ _tag, stages }` records, which is what schema-derived
 * arbitraries need).
 *
 * @since 0.1.0
 * @category schemas
 */
export const schemaWith = <S extends Schema.Top>(step: S) =>
  Schema.Struct({
    _tag: Schema.Literal("Phase"),
    name: Schema.String,
    step,
    epochs: Schema.optionalKey(Schema.Finite),
    steps: Schema.optionalKey(Schema.Finite),
    batchSize: Ramp.NumSchema,
    data: Schema.Struct({
      limit: Schema.optionalKey(Schema.Finite),
      classes: Schema.optionalKey(Schema.Array(Schema.Finite)),
      domains: Schema.optionalKey(Schema.Array(Schema.Finite)),
    }),
    init: Schema.Record(Schema.String, InitSchema),
    evaluate: EvaluateSchema,
  })

/**
 * Schema of a phase (JSON-friendly).
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema: Schema.Codec<Phase, unknown> = schemaWith(Step.schema) as any
