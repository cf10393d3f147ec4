/**
 * Multi-seed runs: the same pipeline once per seed, each in its own run directory
 * (`<out>/<name>/seed<k>`), then the mean ± standard deviation of every final metric. Each
 * finished seed is appended to `<out>/<name>/seeds.jsonl` at once, so an interrupted series
 * loses at most the seed in progress and continues with `skipDone`; the summary is written to
 * `seeds.json` and, for accuracies, drawn as `seeds.svg`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Seeds } from "retort"
 * import kd from "retort/pipelines/kd"
 * const r = await Effect.runPromise(Seeds.runSeeds(kd, { seeds: [1, 2, 3], backend: "wasm" }))
 * console.log(Seeds.table(r.stats))
 * ```
 *
 * @since 0.1.0
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { Effect } from "effect"
import * as Codec from "../../dsl/Codec.js"
import type * as Pipeline from "../../dsl/Pipeline.js"
import { IoError } from "../errors.js"
import * as Format from "../report/Format.js"
import * as Plot from "../report/Plot.js"
import * as Checkpoint from "./Checkpoint.js"
import { foreignFolder, type PhaseResult, type RunError, type RunOptions, run } from "./Run.js"

/**
 * One finished seed: its final metrics (`<phase>/<split>/<target>/<metric>`), wall time and run
 * directory.
 *
 * @example
 * ```ts
 * import type { Seeds } from "retort"
 * const r: Seeds.SeedRun = { seed: 1, metrics: { "distil/test/student/accuracy": 0.85 }, seconds: 60, dir: "runs/kd/seed1" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface SeedRun {
  readonly seed: number
  readonly metrics: Readonly<Record<string, number>>
  readonly seconds: number
  readonly dir: string
}

/**
 * A metric over the seeds: mean, sample standard deviation (0 for one seed), count and values in
 * seed order.
 *
 * @example
 * ```ts
 * import type { Seeds } from "retort"
 * const s: Seeds.Stat = { mean: 0.85, std: 0.01, n: 2, values: [0.84, 0.86] }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Stat {
  readonly mean: number
  readonly std: number
  readonly n: number
  readonly values: ReadonlyArray<number>
}

/**
 * The outcome of {@link runSeeds}: the series directory, every seed's run and the statistics.
 *
 * @example
 * ```ts
 * import type { Seeds } from "retort"
 * const r: Seeds.SeedsResult = { dir: "runs/kd", runs: [], stats: {} }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface SeedsResult {
  readonly dir: string
  readonly runs: ReadonlyArray<SeedRun>
  readonly stats: Readonly<Record<string, Stat>>
}

/**
 * Options of {@link runSeeds}: those of `run` (backend, data, output directory …) except the
 * seed and resume, plus the seeds, `skipDone` (keep the seeds already in `seeds.jsonl`) and
 * `onRun` (called after each seed, e.g. to print it).
 *
 * @example
 * ```ts
 * import type { Seeds } from "retort"
 * const o: Seeds.SeedsOptions = { seeds: [1, 2, 3], backend: "wasm", outDir: "runs" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface SeedsOptions extends Omit<RunOptions, "seed" | "resume"> {
  readonly seeds: ReadonlyArray<number>
  readonly skipDone?: boolean
  readonly onRun?: (run: SeedRun) => void
}

/**
 * The final metrics of a run, keyed `<phase>/<metric key>`.
 *
 * @example
 * ```ts
 * import { Seeds } from "retort"
 * Seeds.finalMetrics([{ phase: "distil", metrics: { "test/student/accuracy": 0.85 } }])
 * // { "distil/test/student/accuracy": 0.85 }
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const finalMetrics = (phases: ReadonlyArray<PhaseResult>): Record<string, number> =>
  Object.fromEntries(phases.flatMap((p) => Object.entries(p.metrics).map(([k, v]) => [`${p.phase}/${k}`, v])))

/**
 * Mean ± std of every metric over the runs (in the order the metrics first appear).
 *
 * @example
 * ```ts
 * import { Seeds } from "retort"
 * Seeds.statistics([
 *   { seed: 1, metrics: { acc: 0.8 }, seconds: 1, dir: "a" },
 *   { seed: 2, metrics: { acc: 0.9 }, seconds: 1, dir: "b" },
 * ]).acc // { mean: 0.85, std: ≈0.0707, n: 2, values: [0.8, 0.9] }
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const statistics = (runs: ReadonlyArray<SeedRun>): Record<string, Stat> => {
  const keys: Array<string> = []
  for (const r of runs) for (const k of Object.keys(r.metrics)) if (!keys.includes(k)) keys.push(k)
  return Object.fromEntries(
    keys.map((k) => {
      const values = runs.map((r) => r.metrics[k]).filter((v): v is number => v !== undefined)
      const { mean, std } = Plot.meanStd(values)
      return [k, { mean, std, n: values.length, values }]
    }),
  )
}

/**
 * The statistics as an aligned text table: metric, mean ± std, n, and the per-seed values.
 *
 * @example
 * ```ts
 * import { Seeds } from "retort"
 * Seeds.table({ "distil/test/student/accuracy": { mean: 0.85, std: 0.01, n: 2, values: [0.84, 0.86] } })
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const table = (stats: Readonly<Record<string, Stat>>): string => {
  const rows = Object.entries(stats).map(([k, s]) => [
    k,
    `${Format.number(s.mean)} ± ${Format.number(s.std)}`,
    String(s.n),
    s.values.map((v) => Format.number(v)).join(", "),
  ])
  const header = ["metric", "mean ± std", "n", "per seed"]
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, j) => (j === 1 || j === 2 ? c.padStart(widths[j]!) : c.padEnd(widths[j]!)))
      .join("  ")
      .trimEnd()
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")
}

/**
 * The accuracies over the seeds as a bar chart (mean ± std, in %), or `undefined` when the runs
 * report no accuracy.
 *
 * @example
 * ```ts
 * import { Seeds } from "retort"
 * Seeds.chart("kd", { "distil/test/student/accuracy": { mean: 0.85, std: 0.01, n: 2, values: [0.84, 0.86] } })
 * ```
 *
 * @since 0.1.0
 * @category plots
 */
export const chart = (title: string, stats: Readonly<Record<string, Stat>>): string | undefined => {
  const acc = Object.entries(stats).filter(([k, s]) => k.endsWith("/accuracy") && Number.isFinite(s.mean))
  if (acc.length === 0) return undefined
  const lo = Math.min(...acc.map(([, s]) => s.mean - s.std)) * 100
  const hi = Math.max(...acc.map(([, s]) => s.mean + s.std)) * 100
  const pad = Math.max((hi - lo) * 0.4, 0.5)
  return Plot.barPlot({
    title: `${title}: accuracy over ${Math.max(...acc.map(([, s]) => s.n))} seeds (mean ± std)`,
    yLabel: "accuracy (%)",
    categories: acc.map(([k]) => k.replace(/\/accuracy$/, "")),
    series: [{ name: "accuracy", values: acc.map(([, s]) => ({ mean: s.mean * 100, std: s.std * 100 })) }],
    yRange: [Math.max(0, lo - pad), Math.min(100, hi + pad)],
  })
}

/**
 * The entries of a JSON-lines journal (none when the file does not exist); a line that does not
 * parse — the torn last line of a crash — is skipped.
 *
 * @example
 * ```ts
 * import { Seeds } from "retort"
 * Seeds.readJournal<Seeds.SeedRun>("runs/kd/seeds.jsonl") // [] when there is none
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const readJournal = <A>(file: string): Array<A> =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as A]
          } catch {
            return []
          }
        })
    : []

/**
 * Whether the run directory `dir` holds a checkpoint of this very pipeline and seed — a run that a
 * crash or kill interrupted and that can be resumed instead of started over. A checkpoint of
 * another pipeline or seed (the file was edited since) is not (`false`: start over); a damaged
 * one fails naming the file, never a silent fresh start over it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Seeds } from "retort"
 * import kd from "retort/pipelines/kd"
 * const again = await Effect.runPromise(Seeds.resumable("runs/kd/seed1", kd, 1)) // true after a kill
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const resumable = (
  dir: string,
  pipeline: Pipeline.Pipeline,
  seed: number,
): Effect.Effect<boolean, IoError> =>
  Effect.gen(function* () {
    const path = join(dir, "checkpoint.bin")
    if (!existsSync(path)) return false
    const snapshot = yield* Checkpoint.load(path)
    return (
      snapshot.header.options.seed === seed &&
      JSON.stringify(snapshot.header.pipeline) === JSON.stringify(Codec.encode(pipeline))
    )
  })

const io = <A>(path: string, f: () => A) =>
  Effect.try({
    try: f,
    catch: (cause) =>
      cause instanceof IoError ? cause : new IoError({ path, message: String(cause), cause }),
  })

/**
 * Runs a pipeline once per seed (sequentially, each as `run` with that seed, in
 * `<out>/<name>/seed<k>`) and summarises the final metrics over the seeds. Writes
 * `seeds.jsonl` (one line per finished seed, as it finishes), `seeds.json` (runs and statistics)
 * and `seeds.svg` (accuracies) in `<out>/<name>`. Fails like `run` on the first seed that fails;
 * with `skipDone`, seeds already in `seeds.jsonl` are not run again and a seed that was
 * interrupted continues from its checkpoint ({@link resumable}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Seeds } from "retort"
 * import swa from "retort/pipelines/swa"
 * const r = await Effect.runPromise(Seeds.runSeeds(swa, { seeds: [1, 2, 3], outDir: "runs", onRun: (s) => console.log(s.seed, s.seconds) }))
 * r.stats["train/test/net_swa/accuracy"] // { mean, std, n: 3, values }
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const runSeeds = (
  pipeline: Pipeline.Pipeline,
  options: SeedsOptions,
): Effect.Effect<SeedsResult, RunError> =>
  Effect.gen(function* () {
    const { seeds, skipDone, onRun, ...runOptions } = options
    const name = options.name ?? pipeline.name
    const dir = resolve(join(options.outDir ?? "runs", name))
    const journal = join(dir, "seeds.jsonl")
    yield* io(dir, () => {
      mkdirSync(dir, { recursive: true })
      // a series directory is Retort's: never write into a folder of someone else's files
      const foreign = foreignFolder(
        dir,
        (f) => f === ".retort" || f === "seeds.jsonl" || f === "seeds.json" || /^seed\d+$/.test(f),
        "series",
        "give the series another --name or --out",
      )
      if (foreign) throw foreign
      writeFileSync(join(dir, ".retort"), "a Retort series directory (see seeds.json)\n")
    })
    const done = skipDone ? readJournal<SeedRun>(journal) : []
    // rewritten from the entries that parsed: a line torn by a crash cannot swallow the next one
    yield* io(journal, () => writeFileSync(journal, done.map((r) => `${JSON.stringify(r)}\n`).join("")))
    const runs: Array<SeedRun> = []
    for (const seed of seeds) {
      const previous = done.find((r) => r.seed === seed)
      if (previous) {
        runs.push(previous)
        onRun?.(previous)
        continue
      }
      // a seed that a kill interrupted continues from its checkpoint
      const seedDir = join(dir, `seed${seed}`)
      const again = skipDone ? yield* resumable(seedDir, pipeline, seed) : false
      const result = yield* run(
        pipeline,
        again ? { ...runOptions, resume: seedDir } : { ...runOptions, seed, name: join(name, `seed${seed}`) },
      )
      const r: SeedRun = {
        seed,
        metrics: finalMetrics(result.phases),
        seconds: result.seconds,
        dir: result.dir,
      }
      yield* io(journal, () => appendFileSync(journal, `${JSON.stringify(r)}\n`))
      runs.push(r)
      onRun?.(r)
    }
    const stats = statistics(runs)
    yield* io(dir, () => {
      writeFileSync(
        join(dir, "seeds.json"),
        `${JSON.stringify({ pipeline: pipeline.name, seeds, runs, stats }, null, 2)}\n`,
      )
      const svg = chart(name, stats)
      if (svg !== undefined) writeFileSync(join(dir, "seeds.svg"), svg)
    })
    return { dir, runs, stats }
  })
