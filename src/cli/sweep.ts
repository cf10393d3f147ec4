/**
 * Sweeps from the command line: `retort sweep SWEEP_FILE` runs every (variant, seed) on a pool of
 * worker processes on this machine — or, with `--db URL`, submits them to runners on other
 * machines and follows them — and prints the ranked table; `retort runner --db URL` is one such
 * runner.
 *
 * @example
 * ```ts
 * import { runnerCommand, sweepCommand } from "./src/cli/sweep.js"
 * ```
 *
 * @since 0.1.0
 */
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import type { IoError } from "../errors.js"
import { Interrupted } from "../runtime/Run.js"
import type * as Cluster from "../sweep/Cluster.js"
import * as Sweeps from "../sweep/Sweep.js"
import * as Flags from "./flags.js"

const clock = (s: number) =>
  s < 90 ? `${s.toFixed(0)} s` : s < 5400 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`

/** One line per finished run: where the sweep stands, then the run. */
const progressLine = (plan: Sweeps.Plan) => (p: Sweeps.Progress) => {
  const head = `[${p.done}/${p.total} done ${p.running !== undefined ? `· ${p.running} running ` : ""}· ${p.failed} failed${p.etaSeconds !== undefined && p.done < p.total ? ` · ETA ${clock(p.etaSeconds)}` : ""}]`
  if (p.last === undefined) {
    process.stderr.write(
      `${head} ${plan.variants.length} variants × ${plan.sweep.seeds.length} seeds, ranked by ${plan.key}\n`,
    )
    return
  }
  const o = p.last
  const label = plan.variants.find((v) => v.variant.index === o.variant)?.variant.label ?? `v${o.variant}`
  const value = o.metrics[plan.key]
  process.stderr.write(
    `${head} ${o.id} (${label}): ${o.ok ? `${plan.key} ${value === undefined ? "missing" : value.toFixed(4)}` : `FAILED: ${o.error?.split("\n").at(-1) ?? ""}`} (${o.seconds.toFixed(0)} s${o.runner !== "local" ? ` on ${o.runner}` : ""})\n`,
  )
}

const summary = (r: Sweeps.SweepResult) =>
  Console.log(
    `\n${Sweeps.table(r)}\n\n${r.plan.runs.length} runs in ${clock(r.seconds)} · ${r.dir} (sweep.json, sweep.svg, best.json: the best variant, ready for retort run)`,
  )

/**
 * `retort sweep SWEEP_FILE [--workers N] [--resume] [--db URL]`: every variant × seed, then the
 * variants ranked by the sweep's metric (validation split by default).
 *
 * @example
 * ```ts
 * import { sweepCommand } from "./src/cli/sweep.js"
 * sweepCommand // retort sweep pipelines/sweeps/kd-lr.json --workers 2
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const sweepCommand = Command.make(
  "sweep",
  {
    file: Argument.String("sweep").pipe(Argument.withDescription("a sweep file: .json, .yaml, .ts")),
    workers: Flag.Int("workers").pipe(
      Flag.withDescription("runs at a time on this machine (default: one per core)"),
      Flag.optional,
    ),
    out: Flag.String("out").pipe(
      Flag.withDescription("parent of the sweep directory (default runs)"),
      Flag.withDefault("runs"),
    ),
    resume: Flag.Boolean("resume").pipe(
      Flag.withDescription("keep the runs already finished (sweep.jsonl) and continue interrupted ones"),
      Flag.withDefault(false),
    ),
    db: Flag.String("db").pipe(
      Flag.withDescription("PostgreSQL URL: submit the runs to `retort runner`s and follow them"),
      Flag.optional,
    ),
    backend: Flags.backend,
    dataDir: Flags.dataDir,
    maxSteps: Flags.maxSteps,
    noDownload: Flags.noDownload,
    noNative: Flags.noNative,
  },
  (o) =>
    Effect.gen(function* () {
      const plan = yield* Sweeps.load(o.file)
      const run = {
        backend: o.backend,
        ...(Option.isSome(o.maxSteps) ? { maxSteps: o.maxSteps.value } : {}),
        ...(Option.isSome(o.dataDir) ? { dataDir: o.dataDir.value } : {}),
        ...(o.noDownload ? { download: false } : {}),
        ...(o.noNative ? { native: false } : {}),
      }
      const onProgress = progressLine(plan)
      const work: Effect.Effect<Sweeps.SweepResult, IoError | Interrupted | Cluster.ClusterError> =
        Option.isSome(o.db)
          ? Sweeps.runCluster(plan, { db: o.db.value, outDir: o.out, onProgress, run })
          : Sweeps.runLocal(plan, {
              ...run,
              outDir: o.out,
              resume: o.resume,
              onProgress,
              ...(Option.isSome(o.workers) ? { workers: o.workers.value } : {}),
            })
      // Ctrl-C: the runs in progress write a checkpoint and stop (a second one quits at once)
      const stop = Effect.callback<never, Interrupted>((resume) => {
        let count = 0
        const handler = () => {
          if (++count > 1) process.exit(130)
          process.stderr.write(
            "\nstopping: the runs in progress write a checkpoint (Ctrl-C again to quit at once)\n",
          )
          resume(
            Effect.fail(
              new Interrupted({
                message: `sweep interrupted; continue it with: retort sweep ${o.file}${Option.isSome(o.db) ? ` --db ${o.db.value}` : " --resume"}`,
              }),
            ),
          )
        }
        process.on("SIGINT", handler)
        return Effect.sync(() => process.off("SIGINT", handler))
      })
      const result = yield* Effect.raceFirst(work, stop)
      yield* summary(result)
    }),
).pipe(
  Command.withDescription(
    "run a pipeline's variants × seeds and rank them: retort sweep sweeps/kd-lr.json (--db URL: on runners)",
  ),
)

/**
 * `retort runner --db URL [--port P] [--host H] [--dir DIR]`: joins the sweep cluster on that
 * database and executes the runs routed to it, one at a time, until stopped.
 *
 * @example
 * ```ts
 * import { runnerCommand } from "./src/cli/sweep.js"
 * runnerCommand // retort runner --db postgres://retort@db:5432/retort
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const runnerCommand = Command.make(
  "runner",
  {
    db: Flag.String("db").pipe(Flag.withDescription("PostgreSQL URL of the sweep cluster")),
    host: Flag.String("host").pipe(
      Flag.withDescription("address other runners reach this one at (default: this host's name)"),
      Flag.optional,
    ),
    port: Flag.Int("port").pipe(Flag.withDescription("TCP port to listen on (default 34431)"), Flag.optional),
    dir: Flag.String("dir").pipe(
      Flag.withDescription("where this runner keeps its run directories (default runs/runner)"),
      Flag.withDefault("runs/runner"),
    ),
    backend: Flags.backend,
    dataDir: Flags.dataDir,
    noDownload: Flags.noDownload,
    noNative: Flags.noNative,
  },
  (o) =>
    Sweeps.runner({
      db: o.db,
      dir: o.dir,
      ...(Option.isSome(o.host) ? { host: o.host.value } : {}),
      ...(Option.isSome(o.port) ? { port: o.port.value } : {}),
      run: {
        backend: o.backend,
        ...(Option.isSome(o.dataDir) ? { dataDir: o.dataDir.value } : {}),
        ...(o.noDownload ? { download: false } : {}),
        ...(o.noNative ? { native: false } : {}),
      },
      onEvent: (line) => process.stderr.write(`${line}\n`),
    }),
).pipe(Command.withDescription("execute sweep runs for a cluster on PostgreSQL: retort runner --db URL"))
