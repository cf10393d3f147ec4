/**
 * What a run tells the outside world while it trains: a tagged union of events that the
 * interpreter emits and every {@link Reporter} consumes (progress bar, plain log lines, the JSONL
 * log in `runs/<name>/events.jsonl`, plots). Each event has an Effect Schema, so the JSONL log is
 * read back into the same values ({@link readEvents}), `NaN`/`Infinity` losses included.
 *
 * Conventions: `step` counts optimisation steps completed within the phase (`1..steps`); in
 * {@link StepMetrics} `epoch` is the 0-based index of the epoch in progress; in
 * {@link EvalResult} `epoch` is the number of epochs completed when evaluating (may be
 * fractional for mid-epoch evaluation).
 *
 * @example
 * ```ts
 * import * as Event from "./Event.js"
 * const e = Event.note({ level: "info", message: "teacher cached" })
 * Event.fromLine(Event.toLine(e)) // equal to e
 * ```
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { Effect, Schema } from "effect"
import { IoError } from "../errors.js"

const Numbers = Schema.Record(Schema.String, Schema.Number)

/**
 * The run begins: its name, the pipeline it runs, the backend, the seed, the run directory and
 * the names of the phases in order.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RunStarted = Schema.TaggedStruct("RunStarted", {
  run: Schema.String,
  pipeline: Schema.String,
  backend: Schema.String,
  seed: Schema.Number,
  dir: Schema.String,
  phases: Schema.Array(Schema.String),
})

/**
 * @since 0.1.0
 * @category models
 */
export type RunStarted = typeof RunStarted.Type

/**
 * A phase begins: its name and 0-based position, how many epochs and optimisation steps it will
 * run, and the models it trains or reads.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PhaseStarted = Schema.TaggedStruct("PhaseStarted", {
  phase: Schema.String,
  index: Schema.Number,
  epochs: Schema.Number,
  steps: Schema.Number,
  models: Schema.Array(Schema.String),
})

/**
 * @since 0.1.0
 * @category models
 */
export type PhaseStarted = typeof PhaseStarted.Type

/**
 * Training metrics read back after `step`: the total loss, each named loss term (unweighted
 * values as computed by the step), the learning rate, the throughput, and the evaluated value of
 * every scheduled hyper-parameter (`kd.weight`, `kd.temperature`, …).
 *
 * @since 0.1.0
 * @category schemas
 */
export const StepMetrics = Schema.TaggedStruct("StepMetrics", {
  phase: Schema.String,
  step: Schema.Number,
  epoch: Schema.Number,
  loss: Schema.Number,
  terms: Numbers,
  lr: Schema.optionalKey(Schema.Number),
  imagesPerSec: Schema.Number,
  hyper: Numbers,
})

/**
 * @since 0.1.0
 * @category models
 */
export type StepMetrics = typeof StepMetrics.Type

/**
 * An evaluation on a split (`"test"`, `"train"`, `"val"`, or a model-qualified name such as
 * `"test/teacher"`), with named metrics (`accuracy`, `nll`, `ece`, `agreement`, per-exit …).
 *
 * @since 0.1.0
 * @category schemas
 */
export const EvalResult = Schema.TaggedStruct("EvalResult", {
  phase: Schema.String,
  split: Schema.String,
  epoch: Schema.Number,
  step: Schema.Number,
  metrics: Numbers,
})

/**
 * @since 0.1.0
 * @category models
 */
export type EvalResult = typeof EvalResult.Type

/**
 * A checkpoint was written.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Checkpointed = Schema.TaggedStruct("Checkpointed", {
  path: Schema.String,
  step: Schema.Number,
})

/**
 * @since 0.1.0
 * @category models
 */
export type Checkpointed = typeof Checkpointed.Type

/**
 * A phase ended after `seconds`, with its final metrics (the row it contributes to the summary).
 *
 * @since 0.1.0
 * @category schemas
 */
export const PhaseFinished = Schema.TaggedStruct("PhaseFinished", {
  phase: Schema.String,
  seconds: Schema.Number,
  metrics: Numbers,
})

/**
 * @since 0.1.0
 * @category models
 */
export type PhaseFinished = typeof PhaseFinished.Type

/**
 * One row of the end-of-run summary: a phase and its final metrics.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SummaryRow = Schema.Struct({ phase: Schema.String, metrics: Numbers })

/**
 * @since 0.1.0
 * @category models
 */
export type SummaryRow = typeof SummaryRow.Type

/**
 * The run ended after `seconds`; `summary` holds one row per phase.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RunFinished = Schema.TaggedStruct("RunFinished", {
  seconds: Schema.Number,
  summary: Schema.Array(SummaryRow),
})

/**
 * @since 0.1.0
 * @category models
 */
export type RunFinished = typeof RunFinished.Type

/**
 * A human-readable remark (a cache was built, a backend fell back, a loss spiked).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Note = Schema.TaggedStruct("Note", {
  level: Schema.Literals(["info", "warn"]),
  message: Schema.String,
})

/**
 * @since 0.1.0
 * @category models
 */
export type Note = typeof Note.Type

/**
 * The schema of every event.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as Event from "./Event.js"
 * Schema.is(Event.Event)({ _tag: "Checkpointed", path: "runs/a/ckpt", step: 10 }) // true
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Event = Schema.Union([
  RunStarted,
  PhaseStarted,
  StepMetrics,
  EvalResult,
  Checkpointed,
  PhaseFinished,
  RunFinished,
  Note,
])

/**
 * Any run event.
 *
 * @since 0.1.0
 * @category models
 */
export type Event = typeof Event.Type

/**
 * The tag of an event.
 *
 * @since 0.1.0
 * @category models
 */
export type Tag = Event["_tag"]

type Fields<T> = { readonly [K in keyof T as K extends "_tag" ? never : K]: T[K] }

/**
 * @example
 * ```ts
 * import * as Event from "./Event.js"
 * Event.runStarted({ run: "kd", pipeline: "kd", backend: "wasm", seed: 1, dir: "runs/kd", phases: ["teacher", "student"] })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const runStarted = (fields: Fields<RunStarted>): RunStarted => ({ _tag: "RunStarted", ...fields })

/**
 * @example
 * ```ts
 * import * as Event from "./Event.js"
 * Event.phaseStarted({ phase: "teacher", index: 0, epochs: 2, steps: 938, models: ["teacher"] })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const phaseStarted = (fields: Fields<PhaseStarted>): PhaseStarted => ({
  _tag: "PhaseStarted",
  ...fields,
})

/**
 * @example
 * ```ts
 * import * as Event from "./Event.js"
 * Event.stepMetrics({ phase: "student", step: 100, epoch: 0, loss: 0.8, terms: { ce: 0.5, kd: 0.9 }, lr: 1e-3, imagesPerSec: 5000, hyper: { "kd.weight": 0.9 } })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const stepMetrics = (fields: Fields<StepMetrics>): StepMetrics => ({ _tag: "StepMetrics", ...fields })

/**
 * @example
 * ```ts
 * import * as Event from "./Event.js"
 * Event.evalResult({ phase: "student", split: "test", epoch: 1, step: 469, metrics: { accuracy: 0.97 } })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const evalResult = (fields: Fields<EvalResult>): EvalResult => ({ _tag: "EvalResult", ...fields })

/**
 * @example
 * ```ts
 * import * as Event from "./Event.js"
 * Event.checkpointed({ path: "runs/kd/ckpt-469", step: 469 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const checkpointed = (fields: Fields<Checkpointed>): Checkpointed => ({
  _tag: "Checkpointed",
  ...fields,
})

/**
 * @example
 * ```ts
 * import * as Event from "./Event.js"
 * Event.phaseFinished({ phase: "student", seconds: 61.2, metrics: { "test.accuracy": 0.97 } })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const phaseFinished = (fields: Fields<PhaseFinished>): PhaseFinished => ({
  _tag: "PhaseFinished",
  ...fields,
})

/**
 * @example
 * ```ts
 * import * as Event from "./Event.js"
 * Event.runFinished({ seconds: 120, summary: [{ phase: "student", metrics: { "test.accuracy": 0.97 } }] })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const runFinished = (fields: Fields<RunFinished>): RunFinished => ({ _tag: "RunFinished", ...fields })

/**
 * @example
 * ```ts
 * import * as Event from "./Event.js"
 * Event.note({ level: "warn", message: "loss spiked at step 120" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const note = (fields: Fields<Note>): Note => ({ _tag: "Note", ...fields })

const Json = Schema.toCodecJson(Event)
const encodeJson = Schema.encodeSync(Json)
const decodeJson = Schema.decodeUnknownSync(Json)

/**
 * One event as one line of JSON (no newline). Non-finite numbers are written as the strings
 * `"NaN"`, `"Infinity"`, `"-Infinity"`, so they survive the round trip.
 *
 * @example
 * ```ts
 * import * as Event from "./Event.js"
 * Event.toLine(Event.checkpointed({ path: "ckpt", step: 3 })) // '{"_tag":"Checkpointed","path":"ckpt","step":3}'
 * ```
 *
 * @since 0.1.0
 * @category codecs
 */
export const toLine = (event: Event): string => JSON.stringify(encodeJson(event))

/**
 * Parses one line written by {@link toLine}. Throws (a `SyntaxError` or a schema error) when the
 * line is not an event.
 *
 * @example
 * ```ts
 * import * as Event from "./Event.js"
 * Event.fromLine('{"_tag":"Note","level":"info","message":"hi"}') // { _tag: "Note", level: "info", message: "hi" }
 * ```
 *
 * @since 0.1.0
 * @category codecs
 */
export const fromLine = (line: string): Event => decodeJson(JSON.parse(line))

/**
 * Parses the text of a JSONL event log. Blank lines are skipped. A last line without its newline
 * that does not parse is taken as a write cut short by a crash and dropped; any other bad line is
 * an error naming its line number.
 *
 * @example
 * ```ts
 * import * as Event from "./Event.js"
 * Event.parseEvents('{"_tag":"Note","level":"info","message":"hi"}\n') // [{ _tag: "Note", … }]
 * ```
 *
 * @since 0.1.0
 * @category codecs
 */
export const parseEvents = (text: string, path = "<events>"): Effect.Effect<ReadonlyArray<Event>, IoError> =>
  Effect.suspend(() => {
    const lines = text.split("\n")
    const out: Array<Event> = []
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim()
      if (line === "") continue
      try {
        out.push(fromLine(line))
      } catch (cause) {
        if (i === lines.length - 1) break // truncated final write
        return Effect.fail(
          new IoError({ path, message: `line ${i + 1} is not a run event: ${String(cause)}`, cause }),
        )
      }
    }
    return Effect.succeed(out)
  })

/**
 * Reads a run's `events.jsonl` back into events (see {@link parseEvents}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Event from "./Event.js"
 * const events = Effect.runSync(Event.readEvents("runs/kd/events.jsonl"))
 * ```
 *
 * @since 0.1.0
 * @category io
 */
export const readEvents = (path: string): Effect.Effect<ReadonlyArray<Event>, IoError> =>
  Effect.try({
    try: () => fs.readFileSync(path, "utf8"),
    catch: (cause) => new IoError({ path, message: `cannot read event log: ${String(cause)}`, cause }),
  }).pipe(Effect.flatMap((text) => parseEvents(text, path)))
