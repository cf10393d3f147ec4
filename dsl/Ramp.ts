/**
 * Hyper-parameter schedules as data.
 *
 * A `Ramp` is a tagged, immutable, JSON-friendly description of how a number changes over a
 * training phase (learning rate, loss weight, temperature, weight decay, dropout rate …). It is
 * evaluated at a {@link Clock} by {@link evaluate}; every numeric hyper-parameter in the DSL is a
 * {@link Num}: a plain number or a ramp.
 *
 * Time axes: every ramp that depends on time reads one field of the clock, its `unit`
 * (`"progress"` ∈ [0, 1], `"step"`, or fractional `"epoch"`).
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const lr = Ramp.warmupCosine({ peak: 1e-3, warmup: 0.05 })
 * Ramp.evaluate(lr, Ramp.clock({ step: 0, stepsPerEpoch: 100, totalSteps: 1000 })) // 0
 * Ramp.evaluate(lr, Ramp.clock({ step: 50, stepsPerEpoch: 100, totalSteps: 1000 })) // 0.001
 * Ramp.describe(lr) // "warmup(0→· over 0.05 progress) then cosine(1e-3→0 over progress 0.05..1)"
 * ```
 *
 * @since 0.1.0
 */
import { dual } from "effect/Function"
import type * as Result from "effect/Result"
import * as Schema from "effect/Schema"

// ---------------------------------------------------------------------------------------------
// Clock
// ---------------------------------------------------------------------------------------------

/**
 * Where training stands. The three fields are proportional to one another within a phase
 * (`epoch = step / stepsPerEpoch`, `progress = step / totalSteps`); ramps rely on that to move
 * along time (warmup targets, sequence segments) in any unit.
 *
 * - `step`: optimiser step within the phase, 0-based.
 * - `epoch`: fractional epochs elapsed (`step / stepsPerEpoch`).
 * - `progress`: `step / totalSteps`, in [0, 1].
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const c: Ramp.Clock = { step: 10, epoch: 0.1, progress: 0.01 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Clock {
  readonly step: number
  readonly epoch: number
  readonly progress: number
  /**
   * Current values of learned hyper-parameters by name (see {@link learned}), where the host
   * needs them as numbers (reports). Absent: a {@link Learned} node evaluates to `NaN`.
   */
  readonly learned?: Readonly<Record<string, number>>
}

/**
 * Builds a consistent {@link Clock} from a step and the phase's geometry.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * Ramp.clock({ step: 150, stepsPerEpoch: 100, totalSteps: 1000 })
 * // { step: 150, epoch: 1.5, progress: 0.15 }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const clock = (options: {
  readonly step: number
  readonly stepsPerEpoch: number
  readonly totalSteps: number
}): Clock => ({
  step: options.step,
  epoch: options.stepsPerEpoch > 0 ? options.step / options.stepsPerEpoch : 0,
  progress: options.totalSteps > 0 ? Math.min(1, options.step / options.totalSteps) : 0,
})

/**
 * Which clock field a ramp's time axis reads.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const u: Ramp.Unit = "epoch"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Unit = "progress" | "step" | "epoch"

// ---------------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------------

/**
 * A fixed value.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const c: Ramp.Constant = Ramp.constant(4)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Constant {
  readonly _tag: "Constant"
  readonly value: number
}

/**
 * Linear interpolation from `from` (at `start`) to `to` (at `end`), held outside `[start, end]`.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const l: Ramp.Linear = Ramp.linear({ from: 1, to: 0 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Linear {
  readonly _tag: "Linear"
  readonly from: number
  readonly to: number
  readonly start: number
  readonly end: number
  readonly unit: Unit
}

/**
 * Half-cosine annealing from `from` (at `start`) to `to` (at `end`), held outside `[start, end]`.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const c: Ramp.Cosine = Ramp.cosine({ from: 1e-3, to: 0 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Cosine {
  readonly _tag: "Cosine"
  readonly from: number
  readonly to: number
  readonly start: number
  readonly end: number
  readonly unit: Unit
}

/**
 * `from · rate^(t / every)`.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const e: Ramp.Exponential = Ramp.exponential({ from: 1, rate: 0.99 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Exponential {
  readonly _tag: "Exponential"
  readonly from: number
  readonly rate: number
  readonly every: number
  readonly unit: Unit
}

/**
 * `from · factor^⌊t / every⌋`.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const s: Ramp.StepDecay = Ramp.stepDecay({ from: 0.1, factor: 0.1, every: 30 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface StepDecay {
  readonly _tag: "StepDecay"
  readonly from: number
  readonly factor: number
  readonly every: number
  readonly unit: Unit
}

/**
 * `from · factor^(number of milestones ≤ t)`.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const m: Ramp.MultiStep = Ramp.multiStep({ from: 0.1, factor: 0.1, milestones: [30, 60] })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface MultiStep {
  readonly _tag: "MultiStep"
  readonly from: number
  readonly factor: number
  readonly milestones: ReadonlyArray<number>
  readonly unit: Unit
}

/**
 * Linear warmup from `from` to the value `to` has at time `length`, then `to` itself.
 * `to` reads the same (global) clock, so the result is continuous at the boundary.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const w: Ramp.Warmup = Ramp.warmup({ steps: 500, to: 1e-3 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Warmup {
  readonly _tag: "Warmup"
  readonly from: number
  readonly length: number
  readonly unit: Unit
  readonly to: Num
}

/**
 * A periodic wave between `min` and `max` with the given `period`; `phase` (same unit) shifts the
 * cycle left: `f(t) = wave((t + phase) / period)`. Both shapes start at `min` and peak at `max`
 * in the middle of the period.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const c: Ramp.Cyclical = Ramp.cyclical({ shape: "triangle", min: 1e-4, max: 1e-2, period: 2000 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Cyclical {
  readonly _tag: "Cyclical"
  readonly shape: "triangle" | "cosine"
  readonly min: number
  readonly max: number
  readonly period: number
  readonly phase: number
  readonly unit: Unit
}

/**
 * A function through `[t, v]` points (sorted by `t`), interpolated linearly or held (step
 * function, right-continuous), constant beyond the first and last points.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const p: Ramp.Piecewise = Ramp.piecewise({ points: [[0, 0], [0.3, 1], [1, 0]] })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Piecewise {
  readonly _tag: "Piecewise"
  readonly points: ReadonlyArray<readonly [number, number]>
  readonly unit: Unit
  readonly interpolate: "linear" | "hold"
}

/**
 * One bounded segment of a {@link Sequence}: `ramp` is used until the sequence's time reaches
 * `until` (a boundary on the sequence's own axis).
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const s: Ramp.Segment = { ramp: Ramp.linear({ from: 0, to: 1, end: 10, unit: "step" }), until: 10 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Segment {
  readonly ramp: Num
  readonly until: number
}

/**
 * Ramps one after another. Segment `i` runs while `until[i-1] ≤ t < until[i]` and sees a *local*
 * clock that starts at 0 at its start (so any ramp can be dropped in as a segment); `last` runs
 * forever after the last boundary.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const s: Ramp.Sequence = Ramp.sequence([{ ramp: 0.1, until: 5 }, { ramp: 0.01 }], { unit: "epoch" })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Sequence {
  readonly _tag: "Sequence"
  readonly segments: ReadonlyArray<Segment>
  readonly last: Num
  readonly unit: Unit
}

/**
 * `a + b`.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const a: Ramp.Add = Ramp.add(Ramp.linear({ from: 0, to: 1 }), 0.5)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Add {
  readonly _tag: "Add"
  readonly a: Num
  readonly b: Num
}

/**
 * `a · b`.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const m: Ramp.Mul = Ramp.mul(Ramp.linear({ from: 0, to: 1 }), Ramp.cosine({ from: 1, to: 0 }))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Mul {
  readonly _tag: "Mul"
  readonly a: Num
  readonly b: Num
}

/**
 * `ramp · k` for a constant `k`.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const s: Ramp.Scale = Ramp.scale(Ramp.cosine({ from: 1, to: 0 }), 1e-3)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Scale {
  readonly _tag: "Scale"
  readonly ramp: Num
  readonly k: number
}

/**
 * `ramp` clamped into `[min, max]` (either bound optional).
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const c: Ramp.Clamp = Ramp.clamp(Ramp.exponential({ from: 1, rate: 0.9 }), { min: 0.01 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Clamp {
  readonly _tag: "Clamp"
  readonly ramp: Num
  readonly min?: number
  readonly max?: number
}

/**
 * `min(a, b)` pointwise.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const m: Ramp.Min = Ramp.min(Ramp.linear({ from: 0, to: 2 }), 1)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Min {
  readonly _tag: "Min"
  readonly a: Num
  readonly b: Num
}

/**
 * `max(a, b)` pointwise.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const m: Ramp.Max = Ramp.max(Ramp.exponential({ from: 1, rate: 0.5 }), 0.01)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Max {
  readonly _tag: "Max"
  readonly a: Num
  readonly b: Num
}

/**
 * `max · (2/π) · arctan(t / v)`: rises from 0 towards `max`, reaching `max / 2` at `t = v`
 * (PLACE's progressive dropout).
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const a: Ramp.Arctan = Ramp.arctan({ max: 0.5, v: 1000 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Arctan {
  readonly _tag: "Arctan"
  readonly max: number
  readonly v: number
  readonly unit: Unit
}

/**
 * The current value of a learned hyper-parameter, declared in the pipeline's `params` (see
 * `Learned`). Inside a training step the compiler reads it as a tensor, so gradients reach the
 * parameter; only loss weights and KD / relation temperatures may read one (validated), alone
 * or through arithmetic nodes (`Add`, `Mul`, `Scale`, `Clamp`, `Min`, `Max`). On the host it
 * evaluates to `clock.learned[name]` (`NaN` when the clock does not carry it).
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const t: Ramp.Learned = Ramp.learned("T")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Learned {
  readonly _tag: "Learned"
  readonly name: string
}

/**
 * A schedule: one of the tagged nodes above.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const r: Ramp.Ramp = Ramp.cosine({ from: 1e-3, to: 0 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Ramp =
  | Constant
  | Linear
  | Cosine
  | Exponential
  | StepDecay
  | MultiStep
  | Warmup
  | Cyclical
  | Piecewise
  | Sequence
  | Add
  | Mul
  | Scale
  | Clamp
  | Min
  | Max
  | Arctan
  | Learned

/**
 * A numeric hyper-parameter: a plain number or a {@link Ramp}.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const lr: Ramp.Num = 1e-3
 * const kdWeight: Ramp.Num = Ramp.cosine({ from: 0.9, to: 0.5 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Num = number | Ramp

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

/** Every tag once; `satisfies` + the exhaustive handler tables below keep it complete. */
const tagNames = [
  "Constant",
  "Linear",
  "Cosine",
  "Exponential",
  "StepDecay",
  "MultiStep",
  "Warmup",
  "Cyclical",
  "Piecewise",
  "Sequence",
  "Add",
  "Mul",
  "Scale",
  "Clamp",
  "Min",
  "Max",
  "Arctan",
  "Learned",
] as const satisfies ReadonlyArray<Ramp["_tag"]>

const UnitSchema = Schema.Literals(["progress", "step", "epoch"])
const Finite = Schema.Finite
const Positive = Schema.Finite.check(Schema.isGreaterThan(0))
const NonNegative = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))
const NumRef: Schema.Codec<Num> = Schema.suspend((): Schema.Codec<Num> => NumSchema)

const isSorted = (xs: ReadonlyArray<number>, strict: boolean): boolean => {
  for (let i = 1; i < xs.length; i++) {
    const prev = xs[i - 1]!
    const cur = xs[i]!
    if (strict ? cur <= prev : cur < prev) return false
  }
  return true
}

const startBeforeEnd = Schema.makeFilter<{ readonly start: number; readonly end: number }>((r) =>
  r.end > r.start
    ? undefined
    : { path: ["end"], issue: `end (${r.end}) must be greater than start (${r.start})` },
)

const minAtMostMax = Schema.makeFilter<{ readonly min?: number; readonly max?: number }>((r) =>
  r.min === undefined || r.max === undefined || r.min <= r.max
    ? undefined
    : { path: ["max"], issue: `max (${r.max}) must be at least min (${r.min})` },
)

const ConstantSchema = Schema.TaggedStruct("Constant", { value: Finite })
const LinearSchema = Schema.TaggedStruct("Linear", {
  from: Finite,
  to: Finite,
  start: Finite,
  end: Finite,
  unit: UnitSchema,
}).check(startBeforeEnd)
const CosineSchema = Schema.TaggedStruct("Cosine", {
  from: Finite,
  to: Finite,
  start: Finite,
  end: Finite,
  unit: UnitSchema,
}).check(startBeforeEnd)
const ExponentialSchema = Schema.TaggedStruct("Exponential", {
  from: Finite,
  rate: Positive,
  every: Positive,
  unit: UnitSchema,
})
const StepDecaySchema = Schema.TaggedStruct("StepDecay", {
  from: Finite,
  factor: Finite,
  every: Positive,
  unit: UnitSchema,
})
const MultiStepSchema = Schema.TaggedStruct("MultiStep", {
  from: Finite,
  factor: Finite,
  milestones: Schema.Array(Finite).check(
    Schema.makeFilter((ms) => isSorted(ms, false) || "milestones must be sorted in ascending order"),
  ),
  unit: UnitSchema,
})
const WarmupSchema = Schema.TaggedStruct("Warmup", {
  from: Finite,
  length: Positive,
  unit: UnitSchema,
  to: NumRef,
})
const CyclicalSchema = Schema.TaggedStruct("Cyclical", {
  shape: Schema.Literals(["triangle", "cosine"]),
  min: Finite,
  max: Finite,
  period: Positive,
  phase: Finite,
  unit: UnitSchema,
}).check(minAtMostMax)
const PiecewiseSchema = Schema.TaggedStruct("Piecewise", {
  points: Schema.Array(Schema.Tuple([Finite, Finite])).check(
    Schema.makeFilter((ps) =>
      ps.length === 0
        ? "piecewise needs at least one point"
        : isSorted(
            ps.map((p) => p[0]),
            false,
          ) || "points must be sorted by time",
    ),
  ),
  unit: UnitSchema,
  interpolate: Schema.Literals(["linear", "hold"]),
})
const SegmentSchema = Schema.Struct({ ramp: NumRef, until: NonNegative })
const SequenceSchema = Schema.TaggedStruct("Sequence", {
  segments: Schema.Array(SegmentSchema).check(
    Schema.makeFilter(
      (ss) =>
        isSorted(
          ss.map((s) => s.until),
          true,
        ) || "segment boundaries (until) must be strictly increasing",
    ),
  ),
  last: NumRef,
  unit: UnitSchema,
})
const AddSchema = Schema.TaggedStruct("Add", { a: NumRef, b: NumRef })
const MulSchema = Schema.TaggedStruct("Mul", { a: NumRef, b: NumRef })
const ScaleSchema = Schema.TaggedStruct("Scale", { ramp: NumRef, k: Finite })
const ClampSchema = Schema.TaggedStruct("Clamp", {
  ramp: NumRef,
  min: Schema.optionalKey(Finite),
  max: Schema.optionalKey(Finite),
}).check(minAtMostMax)
const MinSchema = Schema.TaggedStruct("Min", { a: NumRef, b: NumRef })
const MaxSchema = Schema.TaggedStruct("Max", { a: NumRef, b: NumRef })
const ArctanSchema = Schema.TaggedStruct("Arctan", { max: Finite, v: Positive, unit: UnitSchema })
const LearnedSchema = Schema.TaggedStruct("Learned", { name: Schema.String })

/**
 * Codec of {@link Ramp} (recursive). The encoded form is the value itself: plain JSON objects
 * with numbers, strings and arrays. Decoding validates (`period > 0`, `every > 0`, `end > start`,
 * sorted milestones/points/boundaries, `min ≤ max`, finite numbers).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as Ramp from "./dsl/Ramp.js"
 * const r = Schema.decodeUnknownSync(Ramp.schema)({ _tag: "Constant", value: 2 })
 * Ramp.evaluate(r, { step: 0, epoch: 0, progress: 0 }) // 2
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema: Schema.Codec<Ramp> = Schema.Union([
  ConstantSchema,
  LinearSchema,
  CosineSchema,
  ExponentialSchema,
  StepDecaySchema,
  MultiStepSchema,
  WarmupSchema,
  CyclicalSchema,
  PiecewiseSchema,
  SequenceSchema,
  AddSchema,
  MulSchema,
  ScaleSchema,
  ClampSchema,
  MinSchema,
  MaxSchema,
  ArctanSchema,
  LearnedSchema,
]).annotate({
  identifier: "Ramp",
  description: "A hyper-parameter schedule (dsl/Ramp.ts)",
  message: `Expected a ramp: an object with _tag ${tagNames.join(" | ")}`,
})

/**
 * Codec of {@link Num}: a finite number or a {@link Ramp}.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as Ramp from "./dsl/Ramp.js"
 * Schema.decodeUnknownSync(Ramp.NumSchema)(0.5) // 0.5
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const NumSchema: Schema.Codec<Num> = Schema.Union([Finite, schema]).annotate({
  identifier: "Num",
  description: "A number or a hyper-parameter schedule",
  message: "Expected a finite number or a ramp",
})

/**
 * Same as {@link schema}, under the name of the type (`Ramp.Ramp` is both the type and its codec).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as Ramp from "./dsl/Ramp.js"
 * Schema.is(Ramp.Ramp)(Ramp.constant(1)) // true
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Ramp: Schema.Codec<Ramp> = schema

/**
 * Same as {@link NumSchema}, under the name of the type.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as Ramp from "./dsl/Ramp.js"
 * Schema.is(Ramp.Num)(3) // true
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Num: Schema.Codec<Num> = NumSchema

const decodeNum = Schema.decodeUnknownResult(NumSchema)

/**
 * Decodes and validates an unknown value as a {@link Num} (what the interpreter runs before
 * training; constructors do not validate).
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import * as Ramp from "./dsl/Ramp.js"
 * Result.isSuccess(Ramp.validate(Ramp.linear({ from: 1, to: 0 }))) // true
 * Result.isFailure(Ramp.validate(Ramp.cyclical({ shape: "triangle", min: 0, max: 1, period: 0 }))) // true
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (u: unknown): Result.Result<Num, Schema.SchemaError> => decodeNum(u)

// ---------------------------------------------------------------------------------------------
// Guards
// ---------------------------------------------------------------------------------------------

const tags: ReadonlySet<string> = new Set<string>(tagNames)

/**
 * Whether `u` is a ramp node (checks the tag only; use {@link validate} for a full check).
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * Ramp.isRamp(Ramp.constant(1)) // true
 * Ramp.isRamp(1) // false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isRamp = (u: unknown): u is Ramp =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string" && tags.has(u._tag)

/**
 * Whether a {@link Num} never changes over time: a plain number, a `Constant`, or arithmetic
 * (`Add`, `Mul`, `Scale`, `Clamp`, `Min`, `Max`) over such. Lets the interpreter evaluate it once.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * Ramp.isConstant(3) // true
 * Ramp.isConstant(Ramp.scale(Ramp.constant(2), 3)) // true
 * Ramp.isConstant(Ramp.linear({ from: 0, to: 1 })) // false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isConstant = (num: Num): boolean => {
  if (typeof num === "number") return true
  switch (num._tag) {
    case "Constant":
      return true
    case "Add":
    case "Mul":
    case "Min":
    case "Max":
      return isConstant(num.a) && isConstant(num.b)
    case "Scale":
    case "Clamp":
      return isConstant(num.ramp)
    default:
      return false
  }
}

// ---------------------------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------------------------

/**
 * A fixed value.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * Ramp.evaluate(Ramp.constant(4), { step: 9, epoch: 1, progress: 0.5 }) // 4
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const constant = (value: number): Constant => Object.freeze({ _tag: "Constant", value })

/**
 * Options of a ramp that goes from `from` at `start` to `to` at `end` (defaults: the whole phase
 * in `progress`).
 *
 * @since 0.1.0
 * @category models
 */
export interface IntervalOptions {
  readonly from: number
  readonly to: number
  readonly start?: number
  readonly end?: number
  readonly unit?: Unit
}

const interval =
  <T extends "Linear" | "Cosine">(_tag: T) =>
  (options: IntervalOptions) =>
    Object.freeze({
      _tag,
      from: options.from,
      to: options.to,
      start: options.start ?? 0,
      end: options.end ?? 1,
      unit: options.unit ?? "progress",
    })

/**
 * Linear from `from` at `start` to `to` at `end` (defaults: the whole phase in `progress`), held
 * constant outside.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * Ramp.evaluate(Ramp.linear({ from: 1, to: 0 }), { step: 5, epoch: 0.5, progress: 0.25 }) // 0.75
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const linear: (options: IntervalOptions) => Linear = interval("Linear")

/**
 * Half-cosine from `from` at `start` to `to` at `end` (defaults: the whole phase in `progress`),
 * held constant outside.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * Ramp.evaluate(Ramp.cosine({ from: 1, to: 0 }), { step: 5, epoch: 0.5, progress: 0.5 }) // 0.5
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const cosine: (options: IntervalOptions) => Cosine = interval("Cosine")

/**
 * `from · rate^(t / every)` (default `every = 1`, unit `step`).
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * Ramp.evaluate(Ramp.exponential({ from: 1, rate: 0.5 }), { step: 2, epoch: 0, progress: 0 }) // 0.25
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const exponential = (options: {
  readonly from: number
  readonly rate: number
  readonly every?: number
  readonly unit?: Unit
}): Exponential =>
  Object.freeze({
    _tag: "Exponential",
    from: options.from,
    rate: options.rate,
    every: options.every ?? 1,
    unit: options.unit ?? "step",
  })

/**
 * `from · factor^⌊t / every⌋` (default unit `epoch`).
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const r = Ramp.stepDecay({ from: 0.1, factor: 0.5, every: 10 })
 * Ramp.evaluate(r, { step: 0, epoch: 25, progress: 0 }) // 0.025
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const stepDecay = (options: {
  readonly from: number
  readonly factor: number
  readonly every: number
  readonly unit?: Unit
}): StepDecay =>
  Object.freeze({
    _tag: "StepDecay",
    from: options.from,
    factor: options.factor,
    every: options.every,
    unit: options.unit ?? "epoch",
  })

/**
 * `from · factor^k` where `k` is the number of milestones already reached (default unit `epoch`).
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const r = Ramp.multiStep({ from: 1, factor: 0.1, milestones: [3, 6] })
 * Ramp.evaluate(r, { step: 0, epoch: 4, progress: 0 }) // 0.1
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const multiStep = (options: {
  readonly from: number
  readonly factor: number
  readonly milestones: ReadonlyArray<number>
  readonly unit?: Unit
}): MultiStep =>
  Object.freeze({
    _tag: "MultiStep",
    from: options.from,
    factor: options.factor,
    milestones: Object.freeze([...options.milestones]),
    unit: options.unit ?? "epoch",
  })

/**
 * Linear warmup from `from` (default 0) to the value the target `to` has when the warmup ends,
 * then `to` itself. Give the length as `steps`, `epochs`, or `length` with a `unit` (default
 * `progress`). `to` reads the global clock (it is not shifted), so `warmup` overrides the start
 * of `to` and is continuous at the boundary. `then` is accepted as an alias of `to` (but an
 * object literal with a `then` key trips biome's `noThenProperty`, so prefer `to`).
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const r = Ramp.warmup({ steps: 100, to: 1e-3 })
 * Ramp.evaluate(r, { step: 50, epoch: 0, progress: 0 }) // 0.0005
 * Ramp.evaluate(r, { step: 500, epoch: 0, progress: 0 }) // 0.001
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const warmup = (
  options: { readonly from?: number } & ({ readonly to: Num } | { readonly then: Num }) &
    (
      | { readonly steps: number }
      | { readonly epochs: number }
      | { readonly length: number; readonly unit?: Unit }
    ),
): Warmup => {
  const [length, unit]: readonly [number, Unit] =
    "steps" in options
      ? [options.steps, "step"]
      : "epochs" in options
        ? [options.epochs, "epoch"]
        : [options.length, options.unit ?? "progress"]
  const to = "to" in options ? options.to : options.then
  return Object.freeze({ _tag: "Warmup", from: options.from ?? 0, length, unit, to })
}

/**
 * The usual LR recipe: linear warmup from 0 to `peak` over the first `warmup` fraction of the
 * phase, then cosine decay from `peak` to `end` (default 0) over the rest.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const r = Ramp.warmupCosine({ peak: 1e-3, warmup: 0.1 })
 * Ramp.evaluate(r, { step: 0, epoch: 0, progress: 0.1 }) // 0.001
 * Ramp.evaluate(r, { step: 0, epoch: 0, progress: 1 }) // 0
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const warmupCosine = (options: {
  readonly peak: number
  readonly warmup: number
  readonly end?: number
}): Warmup =>
  warmup({
    length: options.warmup,
    unit: "progress",
    to: cosine({ from: options.peak, to: options.end ?? 0, start: options.warmup, end: 1 }),
  })

/**
 * A periodic wave between `min` and `max` (cyclical learning rates, cyclical temperature …).
 * `triangle` rises linearly from `min` to `max` at mid-period and falls back; `cosine` does the
 * same smoothly. `phase` shifts the cycle: `f(t) = f₀(t + phase)`. Default unit `step`.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const r = Ramp.cyclical({ shape: "triangle", min: 0, max: 1, period: 10 })
 * Ramp.evaluate(r, { step: 5, epoch: 0, progress: 0 }) // 1
 * Ramp.evaluate(r, { step: 10, epoch: 0, progress: 0 }) // 0
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const cyclical = (options: {
  readonly shape: "triangle" | "cosine"
  readonly min: number
  readonly max: number
  readonly period: number
  readonly phase?: number
  readonly unit?: Unit
}): Cyclical =>
  Object.freeze({
    _tag: "Cyclical",
    shape: options.shape,
    min: options.min,
    max: options.max,
    period: options.period,
    phase: options.phase ?? 0,
    unit: options.unit ?? "step",
  })

/**
 * A function through `[t, v]` points sorted by `t` (default unit `progress`, linear
 * interpolation; `"hold"` keeps each value until the next point). Constant beyond the ends.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const r = Ramp.piecewise({ points: [[0, 0], [0.5, 1], [1, 0]] })
 * Ramp.evaluate(r, { step: 0, epoch: 0, progress: 0.25 }) // 0.5
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const piecewise = (options: {
  readonly points: ReadonlyArray<readonly [number, number]>
  readonly unit?: Unit
  readonly interpolate?: "linear" | "hold"
}): Piecewise =>
  Object.freeze({
    _tag: "Piecewise",
    points: Object.freeze(options.points.map((p) => Object.freeze([p[0], p[1]] as const))),
    unit: options.unit ?? "progress",
    interpolate: options.interpolate ?? "linear",
  })

/**
 * Ramps one after another. Every segment but the last ends at `until` (a boundary on the
 * sequence's time axis, default unit `progress`); the last one runs forever (an `until` on it is
 * ignored). Each segment's ramp
 * sees a local clock that restarts at 0 where the segment begins (all clock fields are shifted
 * together), so ramps compose as segments.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const r = Ramp.sequence(
 *   [{ ramp: Ramp.linear({ from: 0, to: 1, end: 10, unit: "step" }), until: 10 }, { ramp: 1 }],
 *   { unit: "step" },
 * )
 * Ramp.evaluate(r, { step: 5, epoch: 0, progress: 0.05 }) // 0.5
 * Ramp.evaluate(r, { step: 50, epoch: 0, progress: 0.5 }) // 1
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const sequence = (
  segments: readonly [...ReadonlyArray<Segment>, { readonly ramp: Num; readonly until?: number }],
  options?: { readonly unit?: Unit },
): Sequence => {
  const bounded = segments.slice(0, -1) as ReadonlyArray<Segment>
  const last = segments[segments.length - 1]!
  return Object.freeze({
    _tag: "Sequence",
    segments: Object.freeze(bounded.map((s) => Object.freeze({ ramp: s.ramp, until: s.until }))),
    last: last.ramp,
    unit: options?.unit ?? "progress",
  })
}

/**
 * `a + b`, pointwise. Dual: `add(a, b)` or `add(b)(a)`.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * Ramp.evaluate(Ramp.add(Ramp.constant(1), 2), { step: 0, epoch: 0, progress: 0 }) // 3
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const add: {
  (b: Num): (a: Num) => Add
  (a: Num, b: Num): Add
} = dual(2, (a: Num, b: Num): Add => Object.freeze({ _tag: "Add", a, b }))

/**
 * `a · b`, pointwise. Dual.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * Ramp.evaluate(Ramp.mul(Ramp.constant(3), 2), { step: 0, epoch: 0, progress: 0 }) // 6
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const mul: {
  (b: Num): (a: Num) => Mul
  (a: Num, b: Num): Mul
} = dual(2, (a: Num, b: Num): Mul => Object.freeze({ _tag: "Mul", a, b }))

/**
 * `ramp · k` for a number `k`. Dual.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * Ramp.evaluate(Ramp.scale(Ramp.linear({ from: 0, to: 1 }), 10), { step: 0, epoch: 0, progress: 0.5 }) // 5
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const scale: {
  (k: number): (ramp: Num) => Scale
  (ramp: Num, k: number): Scale
} = dual(2, (ramp: Num, k: number): Scale => Object.freeze({ _tag: "Scale", ramp, k }))

/**
 * Clamps into `[min, max]` (either bound optional). Dual.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const r = Ramp.clamp(Ramp.linear({ from: -1, to: 2 }), { min: 0, max: 1 })
 * Ramp.evaluate(r, { step: 0, epoch: 0, progress: 0 }) // 0
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const clamp: {
  (bounds: { readonly min?: number; readonly max?: number }): (ramp: Num) => Clamp
  (ramp: Num, bounds: { readonly min?: number; readonly max?: number }): Clamp
} = dual(
  2,
  (ramp: Num, bounds: { readonly min?: number; readonly max?: number }): Clamp =>
    Object.freeze({
      _tag: "Clamp",
      ramp,
      ...(bounds.min === undefined ? {} : { min: bounds.min }),
      ...(bounds.max === undefined ? {} : { max: bounds.max }),
    }),
)

/**
 * Pointwise minimum. Dual.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * Ramp.evaluate(Ramp.min(Ramp.linear({ from: 0, to: 2 }), 1), { step: 0, epoch: 0, progress: 1 }) // 1
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const min: {
  (b: Num): (a: Num) => Min
  (a: Num, b: Num): Min
} = dual(2, (a: Num, b: Num): Min => Object.freeze({ _tag: "Min", a, b }))

/**
 * Pointwise maximum. Dual.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * Ramp.evaluate(Ramp.max(Ramp.linear({ from: 0, to: 2 }), 1), { step: 0, epoch: 0, progress: 0 }) // 1
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const max: {
  (b: Num): (a: Num) => Max
  (a: Num, b: Num): Max
} = dual(2, (a: Num, b: Num): Max => Object.freeze({ _tag: "Max", a, b }))

/**
 * The easy–hard–easy shape of cyclical training (Smith's cyclical focal loss, cyclical weight
 * decay / temperature / clipping): a factor η falls linearly from 1 to 0 over `[0, fall]`, stays
 * at 0, and rises back to 1 over `[end − rise, end]`; the value is `(1 − η)·high + η·low`, so it
 * starts at `low`, is `high` in the middle, and returns to `low` at `end`. Defaults (`fall` 0.25,
 * `rise` 0.75, `end` 1, unit `progress`) are CFL's `fc = 4` (no flat part). Builds a
 * {@link Piecewise}.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const r = Ramp.easyHardEasy({ low: 0, high: 4, fall: 0.25, rise: 0.25 })
 * Ramp.evaluate(r, { step: 0, epoch: 0, progress: 0 }) // 0
 * Ramp.evaluate(r, { step: 0, epoch: 0, progress: 0.5 }) // 4
 * Ramp.evaluate(r, { step: 0, epoch: 0, progress: 1 }) // 0
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const easyHardEasy = (options: {
  readonly low: number
  readonly high: number
  readonly fall?: number
  readonly rise?: number
  readonly end?: number
  readonly unit?: Unit
}): Piecewise => {
  const end = options.end ?? 1
  const fall = options.fall ?? 0.25 * end
  const rise = options.rise ?? end - fall
  return piecewise({
    points: [
      [0, options.low],
      [fall, options.high],
      [end - rise, options.high],
      [end, options.low],
    ],
    unit: options.unit ?? "progress",
    interpolate: "linear",
  })
}

/**
 * `max · (2/π) · arctan(t / v)` (default unit `step`): PLACE's progressive dropout rate.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * Ramp.evaluate(Ramp.arctan({ max: 0.5, v: 100 }), { step: 100, epoch: 0, progress: 0 }) // 0.25
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const arctan = (options: { readonly max: number; readonly v: number; readonly unit?: Unit }): Arctan =>
  Object.freeze({ _tag: "Arctan", max: options.max, v: options.v, unit: options.unit ?? "step" })

/**
 * The current value of the learned hyper-parameter `name` (declared in the pipeline's `params`):
 * a tensor inside the step, so that its optimiser's gradient reaches it. Combine it with
 * arithmetic nodes (`Ramp.scale(Ramp.learned("T"), 2)`).
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const T = Ramp.learned("T")
 * Ramp.evaluate(T, { step: 0, epoch: 0, progress: 0, learned: { T: 3.5 } }) // 3.5
 * Ramp.describe(Ramp.scale(T, 2)) // "2×learned(T)"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const learned = (name: string): Learned => Object.freeze({ _tag: "Learned", name })

/** Children of a node, with whether the node reads them as plain arithmetic (tensor-friendly). */
const children = (r: Ramp): ReadonlyArray<{ readonly num: Num; readonly arithmetic: boolean }> => {
  switch (r._tag) {
    case "Add":
    case "Mul":
    case "Min":
    case "Max":
      return [
        { num: r.a, arithmetic: true },
        { num: r.b, arithmetic: true },
      ]
    case "Scale":
    case "Clamp":
      return [{ num: r.ramp, arithmetic: true }]
    case "Warmup":
      return [{ num: r.to, arithmetic: false }]
    case "Sequence":
      return [
        ...r.segments.map((s) => ({ num: s.ramp, arithmetic: false })),
        { num: r.last, arithmetic: false },
      ]
    default:
      return []
  }
}

/**
 * The learned hyper-parameters a number or ramp reads, each with whether it is reached through
 * arithmetic nodes only (`direct`): only then can the step compute it as a tensor.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * Ramp.learnedNames(Ramp.add(Ramp.learned("T"), 1)) // [{ name: "T", direct: true }]
 * Ramp.learnedNames(0.5) // []
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const learnedNames = (
  num: Num,
): ReadonlyArray<{ readonly name: string; readonly direct: boolean }> => {
  const out: Array<{ name: string; direct: boolean }> = []
  const walk = (n: Num, direct: boolean) => {
    if (typeof n === "number") return
    if (n._tag === "Learned") out.push({ name: n.name, direct })
    else for (const c of children(n)) walk(c.num, direct && c.arithmetic)
  }
  walk(num, true)
  return out
}

/**
 * Whether a number or ramp reads a learned hyper-parameter.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * Ramp.isLearned(Ramp.scale(Ramp.learned("T"), 2)) // true
 * Ramp.isLearned(Ramp.constant(4)) // false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isLearned = (num: Num): boolean => learnedNames(num).length > 0

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

const ZERO: Clock = Object.freeze({ step: 0, epoch: 0, progress: 0 })

/** The clock at which the `unit` field reads `target`, given that it reads `t` now. */
const moveTo = (c: Clock, t: number, target: number): Clock => {
  if (target === 0) return ZERO
  if (target === t) return c
  const f = target / t
  return { step: c.step * f, epoch: c.epoch * f, progress: c.progress * f }
}

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x))

type Handlers = { readonly [K in Ramp["_tag"]]: (r: Extract<Ramp, { readonly _tag: K }>, c: Clock) => number }

const handlers: Handlers = {
  Constant: (r) => r.value,
  Linear: (r, c) => {
    const p = clamp01((c[r.unit] - r.start) / (r.end - r.start))
    return (1 - p) * r.from + p * r.to // exact at both ends
  },
  Cosine: (r, c) => {
    const w = (1 + Math.cos(Math.PI * clamp01((c[r.unit] - r.start) / (r.end - r.start)))) / 2
    return w * r.from + (1 - w) * r.to // exact at both ends (cos π = −1)
  },
  Exponential: (r, c) => r.from * r.rate ** (c[r.unit] / r.every),
  StepDecay: (r, c) => r.from * r.factor ** Math.floor(c[r.unit] / r.every),
  MultiStep: (r, c) => {
    const t = c[r.unit]
    let k = 0
    for (const m of r.milestones) if (m <= t) k++
    return r.from * r.factor ** k
  },
  Warmup: (r, c) => {
    const t = c[r.unit]
    if (t >= r.length) return evalNum(r.to, c)
    if (t <= 0) return r.from
    const target = evalNum(r.to, moveTo(c, t, r.length))
    return r.from + ((target - r.from) * t) / r.length
  },
  Cyclical: (r, c) => {
    const x = (c[r.unit] + r.phase) / r.period
    const u = x - Math.floor(x)
    const w = r.shape === "triangle" ? 1 - Math.abs(2 * u - 1) : (1 - Math.cos(2 * Math.PI * u)) / 2
    return r.min + (r.max - r.min) * w
  },
  Piecewise: (r, c) => {
    const t = c[r.unit]
    const ps = r.points
    const first = ps[0]!
    if (t < first[0]) return first[1]
    let i = 0
    while (i + 1 < ps.length && ps[i + 1]![0] <= t) i++
    const p = ps[i]!
    const q = ps[i + 1]
    if (q === undefined || r.interpolate === "hold") return p[1]
    return p[1] + ((q[1] - p[1]) * (t - p[0])) / (q[0] - p[0])
  },
  Sequence: (r, c) => {
    const t = c[r.unit]
    let offset = 0
    for (const s of r.segments) {
      if (t < s.until) return evalNum(s.ramp, offset === 0 ? c : moveTo(c, t, t - offset))
      offset = s.until
    }
    return evalNum(r.last, offset === 0 ? c : moveTo(c, t, t - offset))
  },
  Add: (r, c) => evalNum(r.a, c) + evalNum(r.b, c),
  Mul: (r, c) => evalNum(r.a, c) * evalNum(r.b, c),
  Scale: (r, c) => evalNum(r.ramp, c) * r.k,
  Clamp: (r, c) => {
    let v = evalNum(r.ramp, c)
    if (r.min !== undefined) v = Math.max(v, r.min)
    if (r.max !== undefined) v = Math.min(v, r.max)
    return v
  },
  Min: (r, c) => Math.min(evalNum(r.a, c), evalNum(r.b, c)),
  Max: (r, c) => Math.max(evalNum(r.a, c), evalNum(r.b, c)),
  Arctan: (r, c) => ((r.max * 2) / Math.PI) * Math.atan(c[r.unit] / r.v),
  Learned: (r, c) => c.learned?.[r.name] ?? Number.NaN,
}

const evalNum = (num: Num, c: Clock): number =>
  typeof num === "number" ? num : (handlers[num._tag] as (r: Ramp, c: Clock) => number)(num, c)

/**
 * The value of a {@link Num} at a {@link Clock}; a plain number is itself. Cheap (a table
 * dispatch on `_tag`, no allocation except inside `Warmup`/`Sequence`), meant to be called every
 * step. Dual: `evaluate(num, clock)` or `evaluate(clock)(num)`.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const c = { step: 50, epoch: 0.5, progress: 0.5 }
 * Ramp.evaluate(Ramp.cosine({ from: 1, to: 0 }), c) // 0.5
 * Ramp.evaluate(c)(0.1) // 0.1
 * ```
 *
 * @since 0.1.0
 * @category evaluation
 */
export const evaluate: {
  (clock: Clock): (num: Num) => number
  (num: Num, clock: Clock): number
} = dual(2, evalNum)

/**
 * Evaluates at each clock (for plots and reports).
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * const clocks = [0, 5, 10].map((step) => Ramp.clock({ step, stepsPerEpoch: 10, totalSteps: 10 }))
 * Ramp.sample(Ramp.linear({ from: 0, to: 1 }), clocks) // [0, 0.5, 1]
 * ```
 *
 * @since 0.1.0
 * @category evaluation
 */
export const sample = (num: Num, clocks: Iterable<Clock>): Array<number> => {
  const out: Array<number> = []
  for (const c of clocks) out.push(evalNum(num, c))
  return out
}

// ---------------------------------------------------------------------------------------------
// Describe
// ---------------------------------------------------------------------------------------------

const fmt = (x: number): string => {
  if (x === 0 || !Number.isFinite(x)) return String(x)
  const a = Math.abs(x)
  if (a < 1e-2 || a >= 1e5)
    return x
      .toExponential()
      .replace(/\.?0+e/, "e")
      .replace("e+", "e")
  return String(Number(x.toPrecision(6)))
}

const span = (r: { readonly start: number; readonly end: number; readonly unit: Unit }): string =>
  r.unit === "progress" && r.start === 0 && r.end === 1
    ? "progress"
    : `${r.unit} ${fmt(r.start)}..${fmt(r.end)}`

type Describers = { readonly [K in Ramp["_tag"]]: (r: Extract<Ramp, { readonly _tag: K }>) => string }

const describers: Describers = {
  Constant: (r) => fmt(r.value),
  Linear: (r) => `linear(${fmt(r.from)}→${fmt(r.to)} over ${span(r)})`,
  Cosine: (r) => `cosine(${fmt(r.from)}→${fmt(r.to)} over ${span(r)})`,
  Exponential: (r) =>
    `exponential(${fmt(r.from)}·${fmt(r.rate)}^(${r.unit}${r.every === 1 ? "" : `/${fmt(r.every)}`}))`,
  StepDecay: (r) => `stepDecay(${fmt(r.from)}·${fmt(r.factor)} every ${fmt(r.every)} ${r.unit})`,
  MultiStep: (r) =>
    `multiStep(${fmt(r.from)}·${fmt(r.factor)} at ${r.unit} [${r.milestones.map(fmt).join(", ")}])`,
  Warmup: (r) => `warmup(${fmt(r.from)}→· over ${fmt(r.length)} ${r.unit}) then ${describe(r.to)}`,
  Cyclical: (r) =>
    `${r.shape}(${fmt(r.min)}..${fmt(r.max)} every ${fmt(r.period)} ${r.unit}${r.phase === 0 ? "" : `, phase ${fmt(r.phase)}`})`,
  Piecewise: (r) =>
    `piecewise${r.interpolate === "hold" ? "/hold" : ""}(${r.unit}: ${r.points.map((p) => `${fmt(p[0])}→${fmt(p[1])}`).join(", ")})`,
  Sequence: (r) =>
    `sequence(${r.unit}: ${[...r.segments.map((s) => `${describe(s.ramp)} until ${fmt(s.until)}`), describe(r.last)].join("; ")})`,
  Add: (r) => `(${describe(r.a)} + ${describe(r.b)})`,
  Mul: (r) => `(${describe(r.a)} × ${describe(r.b)})`,
  Scale: (r) => `${fmt(r.k)}×${describe(r.ramp)}`,
  Clamp: (r) =>
    `clamp(${describe(r.ramp)}, ${r.min === undefined ? "-∞" : fmt(r.min)}..${r.max === undefined ? "∞" : fmt(r.max)})`,
  Min: (r) => `min(${describe(r.a)}, ${describe(r.b)})`,
  Max: (r) => `max(${describe(r.a)}, ${describe(r.b)})`,
  Arctan: (r) => `arctan(${fmt(r.max)}·2/π·atan(${r.unit}/${fmt(r.v)}))`,
  Learned: (r) => `learned(${r.name})`,
}

/**
 * A short human-readable rendering, for logs and reports.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * Ramp.describe(Ramp.cosine({ from: 1e-3, to: 0 })) // "cosine(1e-3→0 over progress)"
 * Ramp.describe(0.5) // "0.5"
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const describe = (num: Num): string =>
  typeof num === "number" ? fmt(num) : (describers[num._tag] as (r: Ramp) => string)(num)
