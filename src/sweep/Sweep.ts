/**
 * Running a sweep: read it, check every variant before anything runs, execute every
 * (variant, seed) run — on a pool of worker processes on this machine (the embedded default) or
 * on a cluster of runners over PostgreSQL (`./Cluster.ts`) — and rank the variants.
 *
 * Each run is an ordinary `retort run` in its own process (`<sweep dir>/runs/v<k>-s<seed>`), so a
 * run that crashes does not take the sweep with it, Ctrl-C checkpoints every run in progress, and
 * a run on a cluster runner computes exactly what it computes here (runs are seeded). Finished
 * runs are journalled in `sweep.jsonl` as they end; `resume` skips them, and continues an
 * interrupted run from its checkpoint.
 *
 * Written at the end, in the sweep directory: `sweep.json` (variants, runs, ranking), `sweep.svg`
 * (the ranking metric per variant, mean ± std over seeds), `best.json` (the best variant as a
 * pipeline file for `retort run`), and the ranked table, printed.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Sweeps from "./src/sweep/Sweep.js"
 * const program = Effect.gen(function* () {
 *   const plan = yield* Sweeps.load("sweeps/kd-lr.json")
 *   const result = yield* Sweeps.runLocal(plan, { workers: 2, backend: "wasm", outDir: "runs" })
 *   console.log(Sweeps.table(result))
 * })
 * ```
 *
 * @since 0.1.0
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, hostname } from "node:os"
import { dirname, extname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { type Duration, Effect, Result } from "effect"
import * as Codec from "../../dsl/Codec.js"
import type * as Pipeline from "../../dsl/Pipeline.js"
import * as SweepDsl from "../../dsl/Sweep.js"
import { applyOverrides, loadPipeline } from "../cli/load.js"
import { IoError, ValidationError } from "../errors.js"
import * as Format from "../report/Format.js"
import * as Plot from "../report/Plot.js"
import * as Checkpoint from "../runtime/Checkpoint.js"
import { foreignFolder, Interrupted } from "../runtime/Run.js"
import * as Seeds from "../runtime/Seeds.js"
import * as Cluster from "./Cluster.js"

/**
 * A sweep ready to run: the sweep, the base pipeline, every variant as a checked pipeline, the
 * key of the ranking metric, and the runs (variant × seed).
 *
 * @since 0.1.0
 * @category models
 */
export interface Plan {
  readonly sweep: SweepDsl.Sweep
  readonly base: Pipeline.Pipeline
  readonly variants: ReadonlyArray<{
    readonly variant: SweepDsl.Variant
    readonly pipeline: Pipeline.Pipeline
  }>
  readonly key: string
  readonly runs: ReadonlyArray<RunSpec>
}

/**
 * One run of a sweep, JSON-serialisable (it is what a cluster runner receives).
 *
 * @since 0.1.0
 * @category models
 */
export interface RunSpec {
  readonly id: string
  readonly variant: number
  readonly label: string
  readonly seed: number
  /** The variant's pipeline, encoded. */
  readonly pipeline: unknown
}

/**
 * What one finished run gave: every final metric (`<phase>/<split>/<model>/<metric>`), or the
 * error that stopped it; how long it took and where it ran.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOutcome {
  readonly id: string
  readonly variant: number
  readonly seed: number
  readonly ok: boolean
  readonly metrics: Readonly<Record<string, number>>
  readonly error?: string
  readonly seconds: number
  readonly runner: string
}

/**
 * A variant's standing: the ranking metric's mean ± std over its seeds (and the same model's test
 * accuracy beside it when the pipeline measures it), its rank (1 = best), and failed runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Standing {
  readonly variant: SweepDsl.Variant
  readonly rank: number
  readonly metric: Seeds.Stat
  readonly test: Seeds.Stat | undefined
  readonly failed: number
}

/**
 * A finished sweep: the plan, every run's outcome, the variants ranked, and the directory.
 *
 * @since 0.1.0
 * @category models
 */
export interface SweepResult {
  readonly plan: Plan
  readonly dir: string
  readonly outcomes: ReadonlyArray<RunOutcome>
  readonly ranking: ReadonlyArray<Standing>
  readonly seconds: number
}

/**
 * Progress after each run: how many are done, running and failed, and an estimate of the time
 * left (from the mean duration of the finished runs and the number of workers).
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  readonly total: number
  readonly done: number
  /** Runs in progress (unknown on a cluster: the runners do not report it). */
  readonly running: number | undefined
  readonly failed: number
  readonly etaSeconds: number | undefined
  readonly last: RunOutcome | undefined
}

const fail = (issues: ReadonlyArray<{ path: string; message: string }>) =>
  Effect.fail(new ValidationError({ subject: "sweep", issues }))

/**
 * Reads a sweep file (JSON or YAML; a `.ts`/`.js` module exporting one as default or `sweep`),
 * then {@link plan}s it: the base pipeline file is read relative to the sweep file.
 *
 * @example
 * ```ts
 * import * as Sweeps from "./src/sweep/Sweep.js"
 * const plan = Sweeps.load("sweeps/kd-lr.yaml")
 * ```
 *
 * @since 0.1.0
 * @category loading
 */
export const load = (file: string): Effect.Effect<Plan, ValidationError | IoError> =>
  Effect.gen(function* () {
    const path = resolve(file)
    if (!existsSync(path))
      return yield* Effect.fail(new IoError({ path, message: `no such sweep file: ${file}` }))
    const ext = extname(path).toLowerCase()
    let decoded: Result.Result<SweepDsl.Sweep, ValidationError>
    if (ext === ".json" || ext === ".yaml" || ext === ".yml") {
      const text = yield* Effect.try({
        try: () => readFileSync(path, "utf8"),
        catch: (cause) => new IoError({ path, message: `cannot read ${file}: ${String(cause)}`, cause }),
      })
      decoded = ext === ".json" ? Codec.sweepFromJson(text) : Codec.sweepFromYaml(text)
    } else {
      const mod = yield* Effect.tryPromise({
        try: async () => {
          const { tsImport } = await import("tsx/esm/api")
          return (await tsImport(`file://${path}`, import.meta.url)) as Record<string, unknown>
        },
        catch: (cause) =>
          new IoError({
            path,
            message: `cannot load ${file}: ${cause instanceof Error ? cause.message : String(cause)}`,
            cause,
          }),
      })
      const value = [
        mod.default,
        mod.sweep,
        (mod.default as Record<string, unknown> | undefined)?.default,
      ].find((v) => typeof v === "object" && v !== null && (v as { _tag?: unknown })._tag === "Sweep")
      if (value === undefined)
        return yield* fail([
          { path: "", message: `${file} exports no sweep (export one as default or as "sweep")` },
        ])
      decoded = Codec.decodeSweep(SweepDsl.encode(value as SweepDsl.Sweep))
    }
    if (Result.isFailure(decoded)) return yield* Effect.fail(decoded.failure)
    return yield* plan(decoded.success, { baseDir: dirname(path) })
  })

/**
 * Checks a sweep against its pipeline before anything runs and lists its runs: the base pipeline
 * is read (a file relative to `baseDir`) or taken inline; every variant's overrides are applied
 * and the result validated; the ranking metric must be one the pipeline measures (its model
 * evaluated on its split in its phase). Every problem is reported at once, each with its path
 * (`variants[3] (lr=0.1) › phases[0]…`).
 *
 * @example
 * ```ts
 * import * as Sweep from "./dsl/Sweep.js"
 * import * as Sweeps from "./src/sweep/Sweep.js"
 * const s = Sweep.make({ name: "e", pipeline: "pipelines/json/kd.json", axes: [Sweep.values("seed", [1])], metric: { model: "student" } })
 * const plan = Sweeps.plan(s, { baseDir: "." })
 * ```
 *
 * @since 0.1.0
 * @category loading
 */
export const plan = (
  sweep: SweepDsl.Sweep,
  options: { readonly baseDir?: string } = {},
): Effect.Effect<Plan, ValidationError | IoError> =>
  Effect.gen(function* () {
    const shape = SweepDsl.check(sweep)
    if (shape.length > 0) return yield* fail(shape)
    const base =
      typeof sweep.pipeline === "string"
        ? yield* loadPipeline(resolve(options.baseDir ?? ".", sweep.pipeline)).pipe(
            Effect.mapError((e) =>
              e._tag === "ValidationError"
                ? new ValidationError({
                    subject: "sweep",
                    issues: e.issues.map((i) => ({ path: `pipeline › ${i.path}`, message: i.message })),
                  })
                : e,
            ),
          )
        : yield* Effect.fromResult(Codec.validate(sweep.pipeline))
    const issues: Array<{ path: string; message: string }> = []
    // the metric must be one the pipeline measures
    const phaseName = sweep.metric.phase ?? base.phases.at(-1)?.name
    const phase = base.phases.find((p) => p.name === phaseName)
    if (phase === undefined)
      issues.push({
        path: "metric.phase",
        message: `the pipeline has no phase "${phaseName}" (it has ${base.phases.map((p) => p.name).join(", ")})`,
      })
    else {
      const evaluated = phase.evaluate.targets.some(
        (t) => (t._tag === "Ensemble" ? t.name : t.model) === sweep.metric.model,
      )
      if (!evaluated)
        issues.push({
          path: "metric.model",
          message: `phase "${phase.name}" does not evaluate "${sweep.metric.model}" (it evaluates ${phase.evaluate.targets.map((t) => (t._tag === "Ensemble" ? t.name : t.model)).join(", ") || "nothing"})`,
        })
      if (!phase.evaluate.splits.some((s) => s.split === sweep.metric.split && s.corruption === undefined))
        issues.push({
          path: "metric.split",
          message: `phase "${phase.name}" does not evaluate on the ${sweep.metric.split} split; add { split: "${sweep.metric.split}" } to its evaluate.splits${sweep.metric.split === "validation" ? " and hold out validation images (data.validation)" : ""}`,
        })
      if (sweep.metric.split === "validation" && !(base.data.validation > 0))
        issues.push({
          path: "metric.split",
          message: "the pipeline holds out no validation images: set data.validation (e.g. 5000 or 0.1)",
        })
    }
    const variants: Array<{ variant: SweepDsl.Variant; pipeline: Pipeline.Pipeline }> = []
    for (const variant of SweepDsl.expand(sweep)) {
      const r = applyOverrides(
        base,
        Object.fromEntries(Object.entries(variant.overrides).map(([k, v]) => [k, JSON.stringify(v)])),
      )
      if (Result.isFailure(r))
        for (const i of r.failure.issues)
          issues.push({
            path: `variants[${variant.index}] (${variant.label}) › ${i.path.replace(/^--set /, "")}`,
            message: i.message.replace(/^--set [^:]+: /, ""),
          })
      else variants.push({ variant, pipeline: r.success })
    }
    if (issues.length > 0) return yield* fail(issues)
    const key = SweepDsl.metricKey(
      sweep.metric,
      base.phases.map((p) => p.name),
    )
    const runs = variants.flatMap(({ variant, pipeline }) =>
      sweep.seeds.map(
        (seed): RunSpec => ({
          id: `v${variant.index}-s${seed}`,
          variant: variant.index,
          label: variant.label,
          seed,
          pipeline: Codec.encode(pipeline),
        }),
      ),
    )
    return { sweep, base, variants, key, runs }
  })

// ---------------------------------------------------------------------------------------------
// Executing one run
// ---------------------------------------------------------------------------------------------

/** `bin/retort.js` of this package (from the sources or the build). */
const retortBin = (): string => {
  const here = dirname(fileURLToPath(import.meta.url))
  for (const up of ["../../bin/retort.js", "../../../bin/retort.js"]) {
    const p = resolve(here, up)
    if (existsSync(p)) return p
  }
  return resolve(here, "../../bin/retort.js")
}

/**
 * Options of a run's process: the backend, a step cap (smoke runs), the data directory, and
 * whether downloads are allowed.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunProcessOptions {
  readonly backend?: string
  readonly maxSteps?: number
  readonly dataDir?: string
  readonly download?: boolean
  readonly native?: boolean
  /** Called with the child process when it starts (e.g. to stop it on Ctrl-C). */
  readonly onStart?: (child: ChildProcess) => void
}

/**
 * Executes one run of a sweep as its own `retort run` process in `<root>/runs/<id>` and reads its
 * final metrics back from its checkpoint. A run that a kill interrupted (its directory holds a
 * checkpoint of the same pipeline and seed) continues from it. Interrupting the effect sends the
 * process SIGINT (it writes a checkpoint and stops) and waits for it. A run that fails is an
 * outcome with `ok: false` and the last lines it printed, not a failure of the effect.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Sweeps from "./src/sweep/Sweep.js"
 * declare const spec: Sweeps.RunSpec
 * const outcome = Effect.runPromise(Sweeps.executeRun(spec, "runs/kd-lr", { backend: "wasm" }))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const executeRun = (
  spec: RunSpec,
  root: string,
  options: RunProcessOptions = {},
  runner = "local",
): Effect.Effect<RunOutcome, IoError | Interrupted> =>
  Effect.gen(function* () {
    const decoded = Codec.decode(spec.pipeline)
    if (Result.isFailure(decoded))
      return yield* Effect.fail(
        new IoError({ path: spec.id, message: `run ${spec.id}: ${decoded.failure.message}` }),
      )
    const pipeline = decoded.success
    const runs = join(root, "runs")
    const dir = join(runs, spec.id)
    const file = join(root, "pipelines", `v${spec.variant}.json`)
    yield* Effect.try({
      try: () => {
        mkdirSync(dirname(file), { recursive: true })
        mkdirSync(runs, { recursive: true })
        writeFileSync(file, Codec.toJson(pipeline))
      },
      catch: (cause) => new IoError({ path: file, message: `cannot write ${file}: ${String(cause)}`, cause }),
    })
    const again = yield* Seeds.resumable(dir, pipeline, spec.seed).pipe(Effect.orElseSucceed(() => false))
    const common = [
      "--quiet",
      "--backend",
      options.backend ?? "auto",
      ...(options.maxSteps !== undefined ? ["--max-steps", String(options.maxSteps)] : []),
      ...(options.dataDir !== undefined ? ["--data-dir", options.dataDir] : []),
      ...(options.download === false ? ["--no-download"] : []),
      ...(options.native === false ? ["--no-native"] : []),
    ]
    const args = again
      ? ["run", "--resume", dir, ...common]
      : ["run", file, "--seed", String(spec.seed), "--out", runs, "--name", spec.id, ...common]
    const t0 = performance.now()
    const { code, tail } = yield* Effect.callback<{ code: number | null; tail: string }>((resume) => {
      // the run stops (after a checkpoint) if this process dies: no orphan goes on training
      const child = spawn(process.execPath, [retortBin(), ...args], {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, RETORT_PARENT_PID: String(process.pid) },
      })
      options.onStart?.(child)
      let tail = ""
      child.stderr?.on("data", (b: Buffer) => {
        tail = (tail + b.toString("utf8")).slice(-2000)
      })
      child.on("error", (e) => resume(Effect.succeed({ code: -1, tail: String(e) })))
      child.on("exit", (c) => resume(Effect.succeed({ code: c, tail })))
      return Effect.promise(
        () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done()
            child.once("exit", () => done())
            child.kill("SIGINT")
          }),
      )
    })
    const seconds = (performance.now() - t0) / 1000
    // 130: stopped by Ctrl-C after a checkpoint — not a failed run: --resume continues it
    if (code === 130)
      return yield* Effect.fail(
        new Interrupted({
          message: `run ${spec.id} was interrupted; continue the sweep with --resume`,
          checkpoint: dir,
        }),
      )
    if (code !== 0)
      return {
        id: spec.id,
        variant: spec.variant,
        seed: spec.seed,
        ok: false,
        metrics: {},
        error: tail.trim().split("\n").slice(-3).join("\n") || `exit code ${code}`,
        seconds,
        runner,
      } satisfies RunOutcome
    const snapshot = yield* Checkpoint.load(join(dir, "checkpoint.bin"))
    return {
      id: spec.id,
      variant: spec.variant,
      seed: spec.seed,
      ok: true,
      metrics: Seeds.finalMetrics(snapshot.header.finished),
      seconds,
      runner,
    } satisfies RunOutcome
  })

// ---------------------------------------------------------------------------------------------
// The local pool
// ---------------------------------------------------------------------------------------------

/**
 * Options of a sweep: where it goes (`<outDir>/<sweep name>`, default `runs`), workers (default:
 * one per core), `resume` (keep the runs in `sweep.jsonl`), `onProgress`, plus those of each
 * run's process.
 *
 * @since 0.1.0
 * @category models
 */
export interface SweepOptions extends RunProcessOptions {
  readonly outDir?: string
  readonly workers?: number
  readonly resume?: boolean
  readonly onProgress?: (p: Progress) => void
}

/** The sweep directory, claimed: never a folder of someone else's files. */
const claim = (p: Plan, outDir: string | undefined, resume: boolean): Effect.Effect<string, IoError> =>
  Effect.try({
    try: () => {
      const dir = resolve(outDir ?? "runs", p.sweep.name)
      mkdirSync(dir, { recursive: true })
      const foreign = foreignFolder(
        dir,
        (f) => f === ".retort-sweep",
        "sweep",
        "give the sweep another name or --out",
      )
      if (foreign) throw foreign
      writeFileSync(join(dir, ".retort-sweep"), "a Retort sweep directory (see sweep.json)\n")
      if (!resume) writeFileSync(join(dir, "sweep.jsonl"), "")
      return dir
    },
    catch: (cause) =>
      cause instanceof IoError
        ? cause
        : new IoError({ path: outDir ?? "runs", message: String(cause), cause }),
  })

/**
 * Runs a planned sweep on this machine: a pool of `workers` processes (default: one per core),
 * each taking the next run; every outcome is journalled as it lands; then the variants are ranked
 * and the results written (see the module documentation). With `resume`, runs already in the
 * journal are kept and an interrupted one continues from its checkpoint; without it the sweep
 * starts from scratch (its run directories of an earlier invocation are cleared). Interrupting it (Ctrl-C) stops every run in progress after its checkpoint.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Sweeps from "./src/sweep/Sweep.js"
 * declare const plan: Sweeps.Plan
 * const r = Effect.runPromise(Sweeps.runLocal(plan, { workers: 2, onProgress: (p) => console.log(p.done, "/", p.total) }))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const runLocal = (
  p: Plan,
  options: SweepOptions = {},
): Effect.Effect<SweepResult, IoError | Interrupted> =>
  Effect.gen(function* () {
    const t0 = performance.now()
    const dir = yield* claim(p, options.outDir, options.resume === true)
    // Without resume a sweep starts from scratch: the run directories of an earlier invocation
    // (perhaps capped by --max-steps) must not be continued as if they were this sweep's.
    if (options.resume !== true)
      yield* Effect.try({
        try: () => rmSync(join(dir, "runs"), { recursive: true, force: true }),
        catch: (cause) =>
          new IoError({
            path: join(dir, "runs"),
            message: `cannot clear ${join(dir, "runs")}: ${String(cause)}`,
            cause,
          }),
      })
    const journal = join(dir, "sweep.jsonl")
    const kept = options.resume ? journalled(journal, p) : []
    const todo = p.runs.filter((r) => !kept.some((o) => o.id === r.id))
    const workers = Math.max(1, Math.min(options.workers ?? cpus().length, todo.length || 1))
    const outcomes: Array<RunOutcome> = [...kept]
    let running = 0
    const report = (last: RunOutcome | undefined) => {
      const finished = outcomes.filter((o) => !kept.includes(o))
      const mean =
        finished.length > 0 ? finished.reduce((a, o) => a + o.seconds, 0) / finished.length : undefined
      const left = p.runs.length - outcomes.length
      options.onProgress?.({
        total: p.runs.length,
        done: outcomes.length,
        running,
        failed: outcomes.filter((o) => !o.ok).length,
        etaSeconds: mean === undefined ? undefined : (mean * left) / workers,
        last,
      })
    }
    report(undefined)
    yield* Effect.forEach(
      todo,
      (spec) =>
        Effect.gen(function* () {
          running++
          const outcome = yield* executeRun(spec, dir, options).pipe(
            Effect.ensuring(Effect.sync(() => running--)),
          )
          outcomes.push(outcome)
          yield* Effect.try({
            try: () => appendFileSync(journal, `${JSON.stringify(outcome)}\n`),
            catch: (cause) => new IoError({ path: journal, message: String(cause), cause }),
          })
          report(outcome)
        }),
      { concurrency: workers, discard: true },
    )
    return yield* finish(p, dir, outcomes, (performance.now() - t0) / 1000)
  })

/** The journal's outcomes that belong to this plan (same ids). */
const journalled = (file: string, p: Plan): Array<RunOutcome> => {
  const ids = new Set(p.runs.map((r) => r.id))
  const seen = new Set<string>()
  return Seeds.readJournal<RunOutcome>(file).filter((o) => ids.has(o.id) && !seen.has(o.id) && seen.add(o.id))
}

// ---------------------------------------------------------------------------------------------
// Ranking and results
// ---------------------------------------------------------------------------------------------

/**
 * Ranks the variants by the mean of the ranking metric over their seeds (best first; a variant
 * without a single finished run goes last).
 *
 * @example
 * ```ts
 * import * as Sweeps from "./src/sweep/Sweep.js"
 * declare const plan: Sweeps.Plan
 * declare const outcomes: ReadonlyArray<Sweeps.RunOutcome>
 * Sweeps.rank(plan, outcomes)[0]?.variant.label
 * ```
 *
 * @since 0.1.0
 * @category results
 */
export const rank = (p: Plan, outcomes: ReadonlyArray<RunOutcome>): ReadonlyArray<Standing> => {
  const testKey = p.key.replace(/\/(validation|train)\/([^/]+)\/[^/]+$/, "/test/$2/accuracy")
  const stat = (xs: ReadonlyArray<number>): Seeds.Stat => {
    const { mean, std } = Plot.meanStd([...xs])
    return { mean, std, n: xs.length, values: [...xs] }
  }
  const rows = p.variants.map(({ variant }) => {
    const mine = outcomes.filter((o) => o.variant === variant.index)
    const ok = mine.filter((o) => o.ok && Number.isFinite(o.metrics[p.key]))
    const tests = ok.map((o) => o.metrics[testKey]).filter((v): v is number => v !== undefined)
    return {
      variant,
      metric: stat(ok.map((o) => o.metrics[p.key]!)),
      test: tests.length > 0 && testKey !== p.key ? stat(tests) : undefined,
      failed: mine.filter((o) => !o.ok).length,
    }
  })
  const sign = p.sweep.metric.goal === "max" ? -1 : 1
  const order = [...rows].sort((a, b) => {
    if (a.metric.n === 0 || b.metric.n === 0) return b.metric.n - a.metric.n
    return sign * (a.metric.mean - b.metric.mean) || a.variant.index - b.variant.index
  })
  return order.map((r, i) => ({ ...r, rank: i + 1 }))
}

/**
 * The ranking as an aligned text table: rank, variant, the metric's mean ± std (n), test
 * accuracy beside it, failed runs.
 *
 * @example
 * ```ts
 * import * as Sweeps from "./src/sweep/Sweep.js"
 * declare const result: Sweeps.SweepResult
 * console.log(Sweeps.table(result))
 * ```
 *
 * @since 0.1.0
 * @category results
 */
export const table = (r: Pick<SweepResult, "plan" | "ranking">): string => {
  const pct = (s: Seeds.Stat | undefined, percent: boolean) =>
    s === undefined || s.n === 0
      ? "—"
      : percent
        ? `${(100 * s.mean).toFixed(2)} ± ${(100 * s.std).toFixed(2)}`
        : `${Format.number(s.mean)} ± ${Format.number(s.std)}`
  const percent = /accuracy|agreement/.test(r.plan.sweep.metric.name)
  const header = ["rank", "variant", `${r.plan.key} (mean ± std)`, "n", "test accuracy", "failed"]
  const rows = r.ranking.map((s) => [
    String(s.rank),
    s.variant.label,
    pct(s.metric, percent),
    String(s.metric.n),
    pct(s.test, true),
    String(s.failed),
  ])
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((row) => row[j]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, j) => (j === 1 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!)))
      .join("  ")
      .trimEnd()
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")
}

/**
 * The ranking metric per variant as a bar chart (mean ± std over seeds), best first.
 *
 * @example
 * ```ts
 * import * as Sweeps from "./src/sweep/Sweep.js"
 * declare const result: Sweeps.SweepResult
 * const svg = Sweeps.chart(result)
 * ```
 *
 * @since 0.1.0
 * @category results
 */
export const chart = (r: Pick<SweepResult, "plan" | "ranking">): string => {
  const percent = /accuracy|agreement/.test(r.plan.sweep.metric.name)
  const k = percent ? 100 : 1
  const done = r.ranking.filter((s) => s.metric.n > 0)
  const lo = Math.min(...done.map((s) => s.metric.mean - s.metric.std)) * k
  const hi = Math.max(...done.map((s) => s.metric.mean + s.metric.std)) * k
  const pad = Math.max((hi - lo) * 0.4, percent ? 0.5 : Math.abs(hi) * 0.01 + 1e-6)
  return Plot.barPlot({
    title: `${r.plan.sweep.name}: ${r.plan.key} over ${r.plan.sweep.seeds.length} seeds (mean ± std), best first`,
    yLabel: percent ? `${r.plan.sweep.metric.name} (%)` : r.plan.sweep.metric.name,
    categories: done.map((s) => s.variant.label),
    series: [
      {
        name: r.plan.sweep.metric.name,
        values: done.map((s) => ({ mean: s.metric.mean * k, std: s.metric.std * k })),
      },
    ],
    ...(done.length > 0
      ? {
          yRange: [
            percent ? Math.max(0, lo - pad) : lo - pad,
            percent ? Math.min(100, hi + pad) : hi + pad,
          ] as const,
        }
      : {}),
  })
}

/**
 * Ranks the outcomes and writes `sweep.json`, `sweep.svg` and `best.json` in the sweep
 * directory (used by the local pool and by the cluster submitter alike).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Sweeps from "./src/sweep/Sweep.js"
 * declare const plan: Sweeps.Plan
 * declare const outcomes: ReadonlyArray<Sweeps.RunOutcome>
 * const r = Effect.runPromise(Sweeps.finish(plan, "runs/kd-lr", outcomes, 120))
 * ```
 *
 * @since 0.1.0
 * @category results
 */
export const finish = (
  p: Plan,
  dir: string,
  outcomes: ReadonlyArray<RunOutcome>,
  seconds: number,
): Effect.Effect<SweepResult, IoError> =>
  Effect.try({
    try: () => {
      const ordered = p.runs.flatMap((r) => outcomes.filter((o) => o.id === r.id).slice(0, 1))
      const ranking = rank(p, ordered)
      const result: SweepResult = { plan: p, dir, outcomes: ordered, ranking, seconds }
      writeFileSync(
        join(dir, "sweep.json"),
        `${JSON.stringify(
          {
            sweep: SweepDsl.encode(p.sweep),
            metric: p.key,
            seconds,
            ranking: ranking.map((s) => ({
              rank: s.rank,
              variant: s.variant.index,
              label: s.variant.label,
              overrides: s.variant.overrides,
              metric: s.metric,
              test: s.test ?? null,
              failed: s.failed,
            })),
            runs: ordered,
          },
          null,
          2,
        )}\n`,
      )
      if (ranking.some((s) => s.metric.n > 0)) writeFileSync(join(dir, "sweep.svg"), chart(result))
      const best = ranking[0]
      const bestPipeline =
        best && best.metric.n > 0 ? p.variants.find((v) => v.variant.index === best.variant.index) : undefined
      if (bestPipeline) writeFileSync(join(dir, "best.json"), Codec.toJson(bestPipeline.pipeline))
      return result
    },
    catch: (cause) =>
      new IoError({ path: dir, message: `cannot write the sweep results: ${String(cause)}`, cause }),
  })

// ---------------------------------------------------------------------------------------------
// On a cluster
// ---------------------------------------------------------------------------------------------

/**
 * The sweep's id on a cluster: its name and a digest of its runs, so that resubmitting the same
 * sweep (a submitter that died and came back) follows the same runs, and an edited sweep is a new
 * one rather than a mix of old and new results.
 *
 * @example
 * ```ts
 * import * as Sweeps from "./src/sweep/Sweep.js"
 * declare const plan: Sweeps.Plan
 * Sweeps.clusterId(plan) // "kd-lr@3f9c0a1b2d4e"
 * ```
 *
 * @since 0.1.0
 * @category cluster
 */
export const clusterId = (p: Plan): string =>
  `${p.sweep.name}@${createHash("sha256").update(JSON.stringify(p.runs)).digest("hex").slice(0, 12)}`

/** What a cluster runner receives for one run. */
interface Payload {
  readonly spec: RunSpec
  readonly maxSteps?: number
}

/**
 * Runs a planned sweep on the runners of a cluster (`retort runner --db URL` on each machine):
 * submits every run (durably, in PostgreSQL; resubmitting is harmless), follows the outcomes as
 * they land, and ranks and writes the results here, like {@link runLocal}. The submitter may be
 * stopped and started again at any time: the runs go on without it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Sweeps from "./src/sweep/Sweep.js"
 * declare const plan: Sweeps.Plan
 * const r = Effect.runPromise(Sweeps.runCluster(plan, { db: "postgres://retort@db:5432/retort" }))
 * ```
 *
 * @since 0.1.0
 * @category cluster
 */
export const runCluster = (
  p: Plan,
  options: {
    readonly db: string
    readonly outDir?: string
    readonly onProgress?: (p: Progress) => void
    readonly run?: Pick<RunProcessOptions, "maxSteps">
    readonly timeout?: Duration.Input
  },
): Effect.Effect<SweepResult, IoError | Cluster.ClusterError> =>
  Effect.gen(function* () {
    const t0 = performance.now()
    const dir = yield* claim(p, options.outDir, true)
    const sweep = clusterId(p)
    const payload = (spec: RunSpec): Payload => ({
      spec,
      ...(options.run?.maxSteps !== undefined ? { maxSteps: options.run.maxSteps } : {}),
    })
    yield* Cluster.submit({
      db: options.db,
      sweep,
      work: p.runs.map((spec) => ({ sweep, id: spec.id, payload: payload(spec) })),
    })
    const asOutcome = (o: Cluster.Outcome): RunOutcome => {
      const spec = p.runs.find((r) => r.id === o.id)!
      const v = o.value as RunOutcome | string | null
      return o.ok && typeof v === "object" && v !== null
        ? { ...v, runner: o.runner }
        : {
            id: o.id,
            variant: spec.variant,
            seed: spec.seed,
            ok: false,
            metrics: {},
            error: typeof v === "string" ? v : JSON.stringify(v),
            seconds: 0,
            runner: o.runner,
          }
    }
    let seen = 0
    const t1 = performance.now()
    const done = yield* Cluster.follow({
      db: options.db,
      sweep,
      ids: p.runs.map((r) => r.id),
      ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
      onProgress: (list) => {
        const outs = list.map(asOutcome)
        if (seen === 0 && outs.length === 0)
          options.onProgress?.({
            total: p.runs.length,
            done: 0,
            running: undefined,
            failed: 0,
            etaSeconds: undefined,
            last: undefined,
          })
        for (const o of outs.slice(seen)) {
          const k = outs.indexOf(o) + 1
          const rate = (performance.now() - t1) / 1000 / Math.max(1, k)
          options.onProgress?.({
            total: p.runs.length,
            done: k,
            running: undefined,
            failed: outs.slice(0, k).filter((x) => !x.ok).length,
            etaSeconds: rate * (p.runs.length - k),
            last: o,
          })
        }
        seen = Math.max(seen, outs.length)
      },
    })
    const outcomes = done.map(asOutcome)
    yield* Effect.try({
      try: () =>
        writeFileSync(join(dir, "sweep.jsonl"), outcomes.map((o) => `${JSON.stringify(o)}\n`).join("")),
      catch: (cause) => new IoError({ path: join(dir, "sweep.jsonl"), message: String(cause), cause }),
    })
    return yield* finish(p, dir, outcomes, (performance.now() - t0) / 1000)
  })

/**
 * A cluster runner: joins the cluster on `db` and executes the sweep runs routed to it, each as a
 * `retort run` process under `<dir>/<sweep>`, until interrupted (its runs in progress are stopped
 * after a checkpoint and taken over by the other runners).
 *
 * @example
 * ```ts
 * import * as Sweeps from "./src/sweep/Sweep.js"
 * const program = Sweeps.runner({ db: "postgres://retort@db:5432/retort", dir: "runs/runner", run: { backend: "wasm" } })
 * ```
 *
 * @since 0.1.0
 * @category cluster
 */
export const runner = (options: {
  readonly db: string
  readonly dir: string
  readonly host?: string
  readonly port?: number
  readonly run?: Omit<RunProcessOptions, "maxSteps" | "onStart">
  readonly onEvent?: (line: string) => void
  readonly sharding?: Cluster.Sharding
}): Effect.Effect<never, Cluster.ClusterError> => {
  const label = `${options.host ?? hostname()}:${options.port ?? 34431}`
  options.onEvent?.(`runner ${label}: joining the cluster on ${options.db.replace(/\/\/[^@/]*@/, "//…@")}`)
  return Cluster.runner({
    db: options.db,
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.sharding !== undefined ? { sharding: options.sharding } : {}),
    execute: (work) => {
      const { spec, maxSteps } = work.payload as Payload
      options.onEvent?.(
        `runner ${label}: ${work.sweep} ${spec.id} (${spec.label}, seed ${spec.seed}) started`,
      )
      return executeRun(
        spec,
        join(options.dir, work.sweep.replace(/[^\w.@-]/g, "_")),
        { ...options.run, ...(maxSteps !== undefined ? { maxSteps } : {}) },
        label,
      ).pipe(
        Effect.tap((o) =>
          Effect.sync(() =>
            options.onEvent?.(
              `runner ${label}: ${work.sweep} ${spec.id} ${o.ok ? "finished" : `failed: ${o.error}`} (${o.seconds.toFixed(0)} s)`,
            ),
          ),
        ),
      )
    },
  })
}
