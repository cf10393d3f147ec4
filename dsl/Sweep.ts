/**
 * Sweeps as data: many variants of one pipeline × several seeds, and the metric that ranks them.
 *
 * A sweep names a base pipeline (a file, or the pipeline itself), **axes** over `--set`-style
 * paths into it (`phases[0].step.stages[2].optimizer.lr`), how to combine them (the full
 * **grid**, or seeded **random** search), the **seeds** every variant runs with, and the
 * **metric** to rank by — on the validation split by default, so that choosing a variant never
 * looks at the test set. {@link expand} turns a sweep into its variants: pure, deterministic, the
 * same list for the same sweep.
 *
 * @example
 * ```ts
 * import * as Sweep from "./dsl/Sweep.js"
 * const s = Sweep.make({
 *   name: "kd-lr",
 *   pipeline: "pipelines/json/kd.json",
 *   axes: [
 *     Sweep.values("phases[1].step.stages[3].optimizer.lr", [1e-3, 3e-3]),
 *     Sweep.range("phases[1].step.stages[2].terms.kd.temperature", { min: 1, max: 8, scale: "log", count: 3 }),
 *   ],
 *   seeds: [1, 2, 3],
 *   metric: { model: "student" },
 * })
 * Sweep.expand(s).length // 6 variants (2 × 3), each run with 3 seeds
 * ```
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import type * as Issue from "./Issue.js"
import * as IssueModule from "./Issue.js"
import * as Pipeline from "./Pipeline.js"

/** A JSON value, as an axis may set it. */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [k: string]: Json }

/**
 * An axis: one place in the pipeline and the values it takes.
 * - `Values`: the listed values (a grid walks all of them; random search picks one).
 * - `Range`: numbers between `min` and `max`, on a linear or log scale, optionally whole numbers;
 *   a grid takes `count` evenly spaced points (both ends included), random search draws.
 *
 * @since 0.1.0
 * @category models
 */
export type Axis =
  | { readonly _tag: "Values"; readonly path: string; readonly values: ReadonlyArray<Json> }
  | {
      readonly _tag: "Range"
      readonly path: string
      readonly min: number
      readonly max: number
      readonly scale: "linear" | "log"
      readonly integer?: boolean
      readonly count?: number
    }

/**
 * How axes combine: every combination (`Grid`), or `trials` seeded random draws (`Random`).
 *
 * @since 0.1.0
 * @category models
 */
export type Search =
  | { readonly _tag: "Grid" }
  | { readonly _tag: "Random"; readonly trials: number; readonly seed: number }

/**
 * What ranks the variants: a model's metric (`accuracy` by default) on a split (`validation` by
 * default) at the end of a phase (the last by default); `max` or `min` is better (`max` by
 * default, `min` for `nll` and `ece`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Metric {
  readonly model: string
  readonly name: string
  readonly split: "validation" | "test" | "train"
  readonly phase?: string
  readonly goal: "max" | "min"
}

/**
 * A sweep.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sweep {
  readonly _tag: "Sweep"
  readonly name: string
  readonly description?: string
  /** The base pipeline: a file (relative to the sweep file) or the pipeline itself. */
  readonly pipeline: string | Pipeline.Pipeline
  readonly axes: ReadonlyArray<Axis>
  readonly search: Search
  readonly seeds: ReadonlyArray<number>
  readonly metric: Metric
}

/**
 * One variant: its index, a short label (`lr=0.003 · temperature=4`) and the overrides it
 * applies to the base pipeline (path → value).
 *
 * @since 0.1.0
 * @category models
 */
export interface Variant {
  readonly index: number
  readonly label: string
  readonly overrides: Readonly<Record<string, Json>>
}

/**
 * An axis over listed values.
 *
 * @example
 * ```ts
 * import * as Sweep from "./dsl/Sweep.js"
 * Sweep.values("phases[0].epochs", [1, 2, 4])
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const values = (path: string, values: ReadonlyArray<Json>): Axis => ({ _tag: "Values", path, values })

/**
 * An axis over a numeric range.
 *
 * @example
 * ```ts
 * import * as Sweep from "./dsl/Sweep.js"
 * Sweep.range("phases[0].step.stages[2].optimizer.lr", { min: 1e-4, max: 1e-2, scale: "log", count: 5 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const range = (
  path: string,
  options: {
    readonly min: number
    readonly max: number
    readonly scale?: "linear" | "log"
    readonly integer?: boolean
    readonly count?: number
  },
): Axis => ({
  _tag: "Range",
  path,
  min: options.min,
  max: options.max,
  scale: options.scale ?? "linear",
  ...(options.integer !== undefined ? { integer: options.integer } : {}),
  ...(options.count !== undefined ? { count: options.count } : {}),
})

/**
 * The full grid of the axes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const grid: Search = { _tag: "Grid" }

/**
 * `trials` random draws from the axes, reproducible from `seed`.
 *
 * @example
 * ```ts
 * import * as Sweep from "./dsl/Sweep.js"
 * Sweep.random({ trials: 20, seed: 1 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const random = (options: { readonly trials: number; readonly seed?: number }): Search => ({
  _tag: "Random",
  trials: options.trials,
  seed: options.seed ?? 0,
})

/**
 * Build a sweep. Defaults: grid search, seeds `[1, 2, 3]`, the metric `accuracy` of the named
 * model on the validation split at the end of the last phase, higher is better (lower for `nll`
 * and `ece`).
 *
 * @example
 * ```ts
 * import * as Sweep from "./dsl/Sweep.js"
 * const s = Sweep.make({ name: "wd", pipeline: "kd.json", axes: [Sweep.values("phases[0].epochs", [1, 2])], metric: { model: "net" } })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly name: string
  readonly description?: string
  readonly pipeline: string | Pipeline.Pipeline
  readonly axes: ReadonlyArray<Axis>
  readonly search?: Search
  readonly seeds?: ReadonlyArray<number>
  readonly metric: Partial<Metric> & { readonly model: string }
}): Sweep => {
  const name = options.metric.name ?? "accuracy"
  return {
    _tag: "Sweep",
    name: options.name,
    ...(options.description !== undefined ? { description: options.description } : {}),
    pipeline: options.pipeline,
    axes: options.axes,
    search: options.search ?? grid,
    seeds: options.seeds ?? [1, 2, 3],
    metric: {
      model: options.metric.model,
      name,
      split: options.metric.split ?? "validation",
      ...(options.metric.phase !== undefined ? { phase: options.metric.phase } : {}),
      goal: options.metric.goal ?? (name === "nll" || name === "ece" ? "min" : "max"),
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

const JsonSchema: Schema.Codec<Json> = Schema.Union([
  Schema.Null,
  Schema.Boolean,
  Schema.Finite,
  Schema.String,
  Schema.Array(Schema.suspend((): Schema.Codec<Json> => JsonSchema)),
  Schema.Record(
    Schema.String,
    Schema.suspend((): Schema.Codec<Json> => JsonSchema),
  ),
]) as unknown as Schema.Codec<Json>

const AxisSchema: Schema.Codec<Axis> = Schema.Union([
  Schema.TaggedStruct("Values", { path: Schema.String, values: Schema.Array(JsonSchema) }),
  Schema.TaggedStruct("Range", {
    path: Schema.String,
    min: Schema.Finite,
    max: Schema.Finite,
    scale: Schema.Literals(["linear", "log"]),
    integer: Schema.optionalKey(Schema.Boolean),
    count: Schema.optionalKey(Schema.Finite),
  }),
]) as unknown as Schema.Codec<Axis>

const SearchSchema: Schema.Codec<Search> = Schema.Union([
  Schema.TaggedStruct("Grid", {}),
  Schema.TaggedStruct("Random", { trials: Schema.Finite, seed: Schema.Finite }),
]) as unknown as Schema.Codec<Search>

/**
 * Schema of a sweep (JSON-friendly). Structural only: {@link check} adds the meaning.
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema: Schema.Codec<Sweep, unknown> = Schema.Struct({
  _tag: Schema.Literal("Sweep"),
  name: Schema.String,
  description: Schema.optionalKey(Schema.String),
  pipeline: Schema.Union([Schema.String, Pipeline.schema]),
  axes: Schema.Array(AxisSchema),
  search: SearchSchema,
  seeds: Schema.Array(Schema.Finite),
  metric: Schema.Struct({
    model: Schema.String,
    name: Schema.String,
    split: Schema.Literals(["validation", "test", "train"]),
    phase: Schema.optionalKey(Schema.String),
    goal: Schema.Literals(["max", "min"]),
  }),
}) as unknown as Schema.Codec<Sweep, unknown>

// ---------------------------------------------------------------------------------------------
// Meaning
// ---------------------------------------------------------------------------------------------

/** A grid or a random search may not expand to more variants than this. */
export const MAX_VARIANTS = 10_000

/** Paths must be `--set` paths: names and indices, no prototype keys. */
const PATH = /^[A-Za-z_$][\w$]*(?:\[\d+\]|\.[A-Za-z_$][\w$]*|\.\d+)*$/
const FORBIDDEN = /(^|\.)(__proto__|constructor|prototype)(\.|\[|$)/

/**
 * The problems of a sweep that can be seen without its pipeline, each with its path: empty or
 * duplicated axes, bad ranges, a grid over a range without `count`, too many variants, no seeds or
 * repeated seeds. (Whether each variant is a valid pipeline is checked when the pipeline is read.)
 *
 * @example
 * ```ts
 * import * as Sweep from "./dsl/Sweep.js"
 * Sweep.check(Sweep.make({ name: "x", pipeline: "p.json", axes: [], seeds: [], metric: { model: "m" } })) // 2 issues
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const check = (s: Sweep): ReadonlyArray<Issue.Issue> => {
  const issues: Array<Issue.Issue> = []
  const add = (path: string, message: string) => issues.push({ path, message })
  if (s.name.trim() === "" || /[/\\]|^\.\.?$/.test(s.name))
    add("name", `a sweep needs a name that is a folder name (no slashes), got "${s.name}"`)
  if (s.axes.length === 0) add("axes", "a sweep needs at least one axis")
  const seen = new Map<string, number>()
  s.axes.forEach((a, i) => {
    const at = `axes[${i}]`
    if (!PATH.test(a.path) || FORBIDDEN.test(a.path))
      add(`${at}.path`, `not a pipeline path like phases[0].epochs: "${a.path}"`)
    const before = seen.get(a.path)
    if (before !== undefined) add(`${at}.path`, `${a.path} is already swept by axes[${before}]`)
    else seen.set(a.path, i)
    if (a._tag === "Values") {
      if (a.values.length === 0) add(`${at}.values`, "an axis needs at least one value")
    } else {
      if (!(a.min <= a.max)) add(`${at}.min`, `min (${a.min}) must not exceed max (${a.max})`)
      if (a.scale === "log" && !(a.min > 0)) add(`${at}.min`, `a log scale needs min > 0, got ${a.min}`)
      if (a.count !== undefined && !(Number.isInteger(a.count) && a.count >= 1))
        add(`${at}.count`, `must be a whole number >= 1, got ${a.count}`)
      if (s.search._tag === "Grid" && a.count === undefined)
        add(`${at}.count`, "a grid over a range needs count (how many points), or use random search")
    }
  })
  if (s.search._tag === "Random") {
    if (!(Number.isInteger(s.search.trials) && s.search.trials >= 1))
      add("search.trials", `must be a whole number >= 1, got ${s.search.trials}`)
    else if (s.search.trials > MAX_VARIANTS) add("search.trials", `at most ${MAX_VARIANTS} trials`)
    if (!Number.isInteger(s.search.seed)) add("search.seed", `must be an integer, got ${s.search.seed}`)
  } else if (issues.length === 0) {
    const n = s.axes.reduce((k, a) => k * (a._tag === "Values" ? a.values.length : (a.count ?? 1)), 1)
    if (n > MAX_VARIANTS)
      add("axes", `the grid has ${n} variants, more than ${MAX_VARIANTS}: use random search`)
  }
  if (s.seeds.length === 0) add("seeds", "a sweep needs at least one seed")
  s.seeds.forEach((seed, i) => {
    if (!Number.isInteger(seed)) add(`seeds[${i}]`, `a seed must be an integer, got ${seed}`)
    if (s.seeds.indexOf(seed) !== i) add(`seeds[${i}]`, `seed ${seed} is listed twice`)
  })
  if (s.metric.model.trim() === "") add("metric.model", "name the model whose metric ranks the variants")
  return issues
}

/** mulberry32: random search's draws, reproducible from the search seed. */
const rng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A number as a short label (`0.003`, `1e-4`, `12`). */
const short = (v: Json): string =>
  typeof v === "number"
    ? Math.abs(v) !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)
      ? v.toExponential(2).replace(/\.?0+e/, "e")
      : String(Number(v.toPrecision(4)))
    : JSON.stringify(v)

const leaf = (path: string) =>
  path
    .replace(/\[\d+\]/g, "")
    .split(".")
    .at(-1) ?? path

/** The points of a range on a grid: `count` evenly spaced (log-spaced) values, both ends included. */
const points = (a: Extract<Axis, { _tag: "Range" }>): Array<number> => {
  const n = a.count ?? 1
  const at = (t: number) =>
    a.scale === "log"
      ? Math.exp(Math.log(a.min) + t * (Math.log(a.max) - Math.log(a.min)))
      : a.min + t * (a.max - a.min)
  const xs = n === 1 ? [at(0.5)] : Array.from({ length: n }, (_, i) => at(i / (n - 1)))
  const rounded = xs.map((x) => (a.integer ? Math.round(x) : Number(x.toPrecision(6))))
  return rounded.filter((x, i) => rounded.indexOf(x) === i)
}

/**
 * The variants of a sweep, in a fixed order: for a grid, every combination (the last axis
 * varying fastest); for random search, `trials` draws from the search seed (a value list is
 * picked from uniformly, a range drawn uniformly on its scale). Labels name each axis by the last
 * field of its path (the whole path where two would read the same).
 *
 * @example
 * ```ts
 * import * as Sweep from "./dsl/Sweep.js"
 * const s = Sweep.make({ name: "e", pipeline: "p.json", axes: [Sweep.values("phases[0].epochs", [1, 2])], metric: { model: "net" } })
 * Sweep.expand(s).map((v) => v.label) // ["epochs=1", "epochs=2"]
 * ```
 *
 * @since 0.1.0
 * @category expanding
 */
export const expand = (s: Sweep): ReadonlyArray<Variant> => {
  const names = s.axes.map((a) => leaf(a.path))
  const label = (values: ReadonlyArray<Json>) =>
    values
      .map(
        (v, i) =>
          `${names.filter((n) => n === names[i]).length > 1 ? s.axes[i]!.path : names[i]}=${short(v)}`,
      )
      .join(" · ")
  const make = (index: number, values: ReadonlyArray<Json>): Variant => ({
    index,
    label: label(values),
    overrides: Object.fromEntries(s.axes.map((a, i) => [a.path, values[i]!])),
  })
  if (s.search._tag === "Grid") {
    const choices = s.axes.map((a) => (a._tag === "Values" ? [...a.values] : points(a)))
    const out: Array<Variant> = []
    const walk = (i: number, acc: Array<Json>) => {
      if (i === choices.length) {
        out.push(make(out.length, acc))
        return
      }
      for (const v of choices[i]!) walk(i + 1, [...acc, v])
    }
    if (choices.every((c) => c.length > 0)) walk(0, [])
    return out
  }
  const next = rng(s.search.seed)
  return Array.from({ length: s.search.trials }, (_, t) =>
    make(
      t,
      s.axes.map((a) => {
        const u = next()
        if (a._tag === "Values")
          return a.values[Math.min(a.values.length - 1, Math.floor(u * a.values.length))]!
        const x =
          a.scale === "log"
            ? Math.exp(Math.log(a.min) + u * (Math.log(a.max) - Math.log(a.min)))
            : a.min + u * (a.max - a.min)
        return a.integer ? Math.round(x) : Number(x.toPrecision(6))
      }),
    ),
  )
}

/**
 * The key of the ranking metric in a run's final metrics (`<phase>/<split>/<model>/<name>`, as
 * `retort seeds` and the run summary write them), given the pipeline's phase names.
 *
 * @example
 * ```ts
 * import * as Sweep from "./dsl/Sweep.js"
 * Sweep.metricKey({ model: "student", name: "accuracy", split: "validation", goal: "max" }, ["teach", "distil"])
 * // "distil/validation/student/accuracy"
 * ```
 *
 * @since 0.1.0
 * @category expanding
 */
export const metricKey = (m: Metric, phases: ReadonlyArray<string>): string =>
  `${m.phase ?? phases.at(-1) ?? ""}/${m.split}/${m.model}/${m.name}`

/**
 * Decode an unknown value (parsed JSON or YAML) as a sweep: its structure (every problem with its
 * path) and then {@link check}. Never throws. An inline pipeline is decoded and validated like a
 * pipeline file. Text is parsed by `Codec.sweepFromJson` / `Codec.sweepFromYaml`, which add the
 * guards pipeline files have (size, depth, prototype keys, duplicate keys).
 *
 * @example
 * ```ts
 * import * as Sweep from "./dsl/Sweep.js"
 * const r = Sweep.decode({ _tag: "Sweep", name: "s" }) // Failure listing the missing fields
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (input: unknown): Result.Result<Sweep, IssueModule.ValidationError> => {
  let r: Result.Result<Sweep, Schema.SchemaError>
  try {
    r = Schema.decodeUnknownResult(schema)(input, { errors: "all" }) as Result.Result<
      Sweep,
      Schema.SchemaError
    >
  } catch (e) {
    return Result.fail(
      new IssueModule.ValidationError({
        subject: "sweep",
        issues: [
          { path: "", message: `could not be decoded: ${e instanceof Error ? e.message : String(e)}` },
        ],
      }),
    )
  }
  if (Result.isFailure(r)) {
    const issues = SchemaIssue.makeFormatterStandardSchemaV1()(r.failure.issue).issues.map((i) => ({
      path: (i.path ?? [])
        .map((p) => (typeof p === "object" && p !== null ? (p as { key: PropertyKey }).key : p))
        .reduce<string>(
          (acc, k) =>
            typeof k === "number" ? `${acc}[${k}]` : acc === "" ? String(k) : `${acc}.${String(k)}`,
          "",
        ),
      message: i.message,
    }))
    return Result.fail(new IssueModule.ValidationError({ subject: "sweep", issues }))
  }
  const issues = check(r.success)
  return issues.length > 0
    ? Result.fail(new IssueModule.ValidationError({ subject: "sweep", issues }))
    : Result.succeed(r.success)
}

/**
 * Encode a sweep as plain JSON-compatible data (an inline pipeline encoded like a pipeline file).
 *
 * @example
 * ```ts
 * import * as Sweep from "./dsl/Sweep.js"
 * const s = Sweep.make({ name: "e", pipeline: "p.json", axes: [Sweep.values("phases[0].epochs", [1, 2])], metric: { model: "net" } })
 * JSON.stringify(Sweep.encode(s))
 * ```
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (s: Sweep): unknown => Schema.encodeSync(schema)(s)
