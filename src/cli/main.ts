#!/usr/bin/env node
/**
 * The `retort` command line: `run`, `seeds`, `validate`, `describe`, `export`, `eval`, `predict`,
 * `probe`, `doctor` and `demo`.
 * A thin layer over the library's `run` and the DSL's codec.
 *
 * @since 0.1.0
 */
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { NodeServices } from "@effect/platform-node"
import { Cause, Console, Effect, Exit, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as Model from "../../dsl/Model.js"
import * as Pipeline from "../../dsl/Pipeline.js"
import { Backend, describeBackend } from "../backend/Backend.js"
import { IoError, ValidationError } from "../errors.js"
import * as Models from "../models/index.js"
import { Summary } from "../report/index.js"
import { Interrupted, type RunResult, run } from "../runtime/Run.js"
import * as Seeds from "../runtime/Seeds.js"
import { demo } from "./demo.js"
import * as Flags from "./flags.js"
import { evalCommand, exportCommand, predictCommand } from "./infer.js"
import { loadPipeline } from "./load.js"
import { probeCommand } from "./probe.js"
import { runnerCommand, sweepCommand } from "./sweep.js"
import { watermarkCommand } from "./watermark.js"

const version = "0.1.0"

/** Ctrl-C: the first one asks the run to checkpoint and stop; a second one exits at once. */
const interruptSignal = () => {
  const controller = new AbortController()
  let count = 0
  const handler = () => {
    count++
    if (count === 1) {
      process.stderr.write("\nstopping: writing a checkpoint (press Ctrl-C again to quit at once)\n")
      controller.abort()
    } else process.exit(130)
  }
  process.on("SIGINT", handler)
  return { signal: controller.signal, dispose: () => process.off("SIGINT", handler) }
}

/** The reporter prints the summary table; with --quiet the CLI prints it once at the end. */
const printResult = (r: Omit<RunResult, "state">, quiet: boolean) =>
  Console.log(
    `${quiet ? `${Summary.table(r.phases.map((p) => ({ phase: p.phase, metrics: p.metrics })))}\n` : ""}run directory: ${r.dir} (${r.seconds.toFixed(1)} s on ${r.backend})`,
  )

const runCommand = Command.make(
  "run",
  {
    pipeline: Argument.String("pipeline").pipe(
      Argument.withDescription("a pipeline file: .ts, .js, .json, .yaml (omit with --resume)"),
      Argument.optional,
    ),
    backend: Flags.backend,
    dataDir: Flags.dataDir,
    out: Flag.String("out").pipe(
      Flag.withDescription("parent of run directories (default runs)"),
      Flag.withDefault("runs"),
    ),
    name: Flag.String("name").pipe(
      Flag.withDescription("run name (default: the pipeline's name)"),
      Flag.optional,
    ),
    seed: Flag.Int("seed").pipe(Flag.withDescription("override the pipeline's seed"), Flag.optional),
    set: Flags.set,
    resume: Flag.String("resume").pipe(
      Flag.withDescription("continue the run in this directory"),
      Flag.optional,
    ),
    maxSteps: Flags.maxSteps,
    checkpointEvery: Flag.Int("checkpoint-every").pipe(
      Flag.withDescription(
        "write a checkpoint every N steps (default: the pipeline's checkpointEvery, else 500; 0: only at phase ends)",
      ),
      Flag.optional,
    ),
    logEvery: Flag.Int("log-every").pipe(
      Flag.withDescription("read the losses back and report them every N steps (default 20)"),
      Flag.optional,
    ),
    noDownload: Flags.noDownload,
    noNative: Flags.noNative,
    threads: Flags.threads,
    noTeacherCache: Flag.Boolean("no-teacher-cache").pipe(
      Flag.withDescription("run a frozen teacher at every step instead of caching its logits per sample"),
      Flag.withDefault(false),
    ),
    quiet: Flags.quiet,
  },
  (o) =>
    Effect.gen(function* () {
      if (Option.isNone(o.pipeline) && Option.isNone(o.resume))
        return yield* Effect.fail(
          new IoError({ path: "", message: "give a pipeline file, or --resume <run directory>" }),
        )
      const pipeline = Option.isSome(o.pipeline)
        ? yield* loadPipeline(
            o.pipeline.value,
            Option.getOrElse(o.set, () => ({})),
          )
        : // with --resume the pipeline comes from the checkpoint
          Pipeline.make({ name: "resume", models: {}, phases: [] })
      const sig = interruptSignal()
      const result = yield* run(pipeline, {
        backend: o.backend,
        outDir: o.out,
        quiet: o.quiet,
        download: !o.noDownload,
        ...(o.noNative ? { native: false } : {}),
        ...(Option.isSome(o.threads) ? { threads: o.threads.value } : {}),
        ...(o.noTeacherCache ? { teacherCache: false } : {}),
        signal: sig.signal,
        ...(Option.isSome(o.dataDir) ? { dataDir: o.dataDir.value } : {}),
        ...(Option.isSome(o.name) ? { name: o.name.value } : {}),
        ...(Option.isSome(o.seed) ? { seed: o.seed.value } : {}),
        ...(Option.isSome(o.resume) ? { resume: o.resume.value } : {}),
        ...(Option.isSome(o.maxSteps) ? { maxSteps: o.maxSteps.value } : {}),
        ...(Option.isSome(o.checkpointEvery) ? { checkpointEvery: o.checkpointEvery.value } : {}),
        ...(Option.isSome(o.logEvery) ? { logEvery: o.logEvery.value } : {}),
      }).pipe(Effect.ensuring(Effect.sync(sig.dispose)))
      yield* printResult(result, o.quiet)
    }),
).pipe(Command.withDescription("train a pipeline: retort run pipelines/kd.ts --backend wasm"))

const seedsCommand = Command.make(
  "seeds",
  {
    pipeline: Argument.String("pipeline").pipe(
      Argument.withDescription("a pipeline file: .ts, .js, .json, .yaml"),
    ),
    seeds: Flag.String("seeds").pipe(
      Flag.withDescription('the seeds, "1,2,3" or a range "1-5" (default 1,2,3)'),
      Flag.withDefault("1,2,3"),
    ),
    backend: Flags.backend,
    dataDir: Flags.dataDir,
    out: Flag.String("out").pipe(
      Flag.withDescription("parent of the series directory (default runs)"),
      Flag.withDefault("runs"),
    ),
    name: Flag.String("name").pipe(
      Flag.withDescription("series name (default: the pipeline's name)"),
      Flag.optional,
    ),
    set: Flags.set,
    maxSteps: Flags.maxSteps,
    resume: Flag.Boolean("resume").pipe(
      Flag.withDescription("keep the seeds already finished (seeds.jsonl) and run the others"),
      Flag.withDefault(false),
    ),
    noDownload: Flags.noDownload,
    noNative: Flags.noNative,
    quiet: Flags.quiet,
  },
  (o) =>
    Effect.gen(function* () {
      const seeds = yield* parseSeeds(o.seeds)
      const pipeline = yield* loadPipeline(
        o.pipeline,
        Option.getOrElse(o.set, () => ({})),
      )
      const sig = interruptSignal()
      const result = yield* Seeds.runSeeds(pipeline, {
        seeds,
        backend: o.backend,
        outDir: o.out,
        quiet: true,
        download: !o.noDownload,
        skipDone: o.resume,
        signal: sig.signal,
        ...(o.noNative ? { native: false } : {}),
        ...(Option.isSome(o.dataDir) ? { dataDir: o.dataDir.value } : {}),
        ...(Option.isSome(o.name) ? { name: o.name.value } : {}),
        ...(Option.isSome(o.maxSteps) ? { maxSteps: o.maxSteps.value } : {}),
        onRun: (r) => {
          if (!o.quiet)
            console.log(
              `seed ${r.seed}: ${Object.entries(r.metrics)
                .filter(([k]) => k.endsWith("/accuracy"))
                .map(([k, v]) => `${k} ${v.toFixed(4)}`)
                .join(" · ")} (${r.seconds.toFixed(0)} s, ${r.dir})`,
            )
        },
      }).pipe(Effect.ensuring(Effect.sync(sig.dispose)))
      yield* Console.log(
        `\n${Seeds.table(result.stats)}\n\n${seeds.length} seeds · ${result.dir} (seeds.json, seeds.svg, one run directory per seed)`,
      )
    }),
).pipe(
  Command.withDescription(
    "run a pipeline once per seed and report mean ± std of every final metric: retort seeds pipelines/kd.ts --seeds 1,2,3",
  ),
)

/** `"1,2,3"`, `"1-5"` or a mix (`"1-3,7"`) → distinct seeds in order. */
const parseSeeds = (text: string): Effect.Effect<ReadonlyArray<number>, ValidationError> => {
  const out: Array<number> = []
  for (const part of text
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part)
    if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1])))
      return Effect.fail(
        new ValidationError({
          issues: [{ path: "--seeds", message: `not a seed or range: "${part}" (e.g. 1,2,3 or 1-5)` }],
        }),
      )
    for (let s = Number(m[1]); s <= Number(m[2] ?? m[1]); s++) if (!out.includes(s)) out.push(s)
  }
  if (out.length === 0)
    return Effect.fail(new ValidationError({ issues: [{ path: "--seeds", message: "no seeds given" }] }))
  return Effect.succeed(out)
}

const validateCommand = Command.make(
  "validate",
  {
    pipeline: Argument.String("pipeline").pipe(
      Argument.withDescription("a pipeline file: .ts, .js, .json, .yaml"),
    ),
    set: Flag.KeyValuePair("set").pipe(
      Flag.withDescription("override a field before validating"),
      Flag.optional,
    ),
  },
  (o) =>
    Effect.gen(function* () {
      const p = yield* loadPipeline(
        o.pipeline,
        Option.getOrElse(o.set, () => ({})),
      )
      yield* Console.log(
        `${o.pipeline}: valid pipeline "${p.name}" (${p.phases.length} phases, ${Object.keys(p.models).length} models)`,
      )
    }),
).pipe(Command.withDescription("check a pipeline and report every problem with its path"))

/** Parameter counts, built on the cpu backend (cheap, no training). */
const parameterCounts = (p: Pipeline.Pipeline) =>
  Effect.gen(function* () {
    const lines: Array<string> = []
    for (const [name, m] of Object.entries(p.models)) {
      if (m._tag === "Custom") {
        lines.push(`  ${name}: custom "${m.name}" (built by the embedding program)`)
        continue
      }
      if (m._tag === "Load") {
        lines.push(`  ${name}: read from ${m.path} when the run starts`)
        continue
      }
      const built = yield* Models.build(m, { seed: 0 })
      lines.push(
        `  ${name}: ${built.paramCount.toLocaleString("en")} parameters · taps ${Model.taps(m)?.join(", ")} · heads ${Model.heads(m)?.join(", ")}`,
      )
      built.dispose()
    }
    return lines
  })

const describeCommand = Command.make(
  "describe",
  {
    pipeline: Argument.String("pipeline").pipe(
      Argument.withDescription("a pipeline file"),
      Argument.optional,
    ),
    backend: Flags.backend,
    showBackend: Flag.Boolean("show-backend").pipe(
      Flag.withDescription("also initialise the backend and say which kernels are active"),
      Flag.withDefault(false),
    ),
    noNative: Flags.noNative,
  },
  (o) =>
    Effect.gen(function* () {
      if (Option.isSome(o.pipeline)) {
        const p = yield* loadPipeline(o.pipeline.value)
        yield* Console.log(Pipeline.describe(p))
        const counts = yield* Effect.scoped(
          Effect.provide(parameterCounts(p), Backend.layer({ kind: "cpu", kernels: false })),
        )
        yield* Console.log(`parameters:\n${counts.join("\n")}`)
      }
      if (o.showBackend || Option.isNone(o.pipeline)) {
        const text = yield* Effect.provide(describeBackend, Flags.backendLayer(o))
        yield* Console.log(text)
      }
    }),
).pipe(
  Command.withDescription("print a pipeline's stage graph, models and parameter counts (and the backend)"),
)

const doctorCommand = Command.make(
  "doctor",
  { backend: Flags.backend, noNative: Flags.noNative, threads: Flags.threads },
  (o) =>
    Effect.gen(function* () {
      const text = yield* Effect.provide(
        describeBackend,
        Backend.layer({
          kind: o.backend,
          ...(o.noNative ? { native: false } : {}),
          ...(Option.isSome(o.threads) ? { threads: o.threads.value } : {}),
        }),
      )
      yield* Console.log(text)
    }),
).pipe(
  Command.withDescription(
    "say which backend and kernel path (native kernels or pure wasm) is active, and with how many threads",
  ),
)

const demoCommand = Command.make(
  "demo",
  {
    backend: Flags.backend,
    out: Flag.String("out").pipe(Flag.withDefault("runs")),
    quick: Flag.Boolean("quick").pipe(
      Flag.withDescription("a much shorter run, for a smoke test"),
      Flag.withDefault(false),
    ),
    quiet: Flags.quiet,
    noNative: Flags.noNative,
    threads: Flags.threads,
    dataDir: Flags.dataDir,
    noDownload: Flags.noDownload,
  },
  (o) =>
    Effect.gen(function* () {
      const sig = interruptSignal()
      yield* demo({
        ...(Option.isSome(o.threads) ? { threads: o.threads.value } : {}),
        backend: o.backend,
        out: o.out,
        quick: o.quick,
        quiet: o.quiet,
        noNative: o.noNative,
        noDownload: o.noDownload,
        signal: sig.signal,
        ...(Option.isSome(o.dataDir) ? { dataDir: o.dataDir.value } : {}),
      }).pipe(Effect.ensuring(Effect.sync(sig.dispose)))
    }),
).pipe(
  Command.withDescription(
    "train a CNN teacher, distil an MLP student from it, and train the same MLP on labels alone (Fashion-MNIST, falling back to MNIST)",
  ),
)

const retort = Command.make("retort").pipe(
  Command.withDescription(
    "Retort: training runs — knowledge distillation above all — as typed, composable values",
  ),
  Command.withSubcommands([
    runCommand,
    seedsCommand,
    validateCommand,
    describeCommand,
    exportCommand,
    evalCommand,
    predictCommand,
    probeCommand,
    sweepCommand,
    runnerCommand,
    doctorCommand,
    demoCommand,
    watermarkCommand,
  ]),
)

/**
 * Run the CLI on `argv` (without the node and script entries) and resolve with the exit code:
 * 0 on success, 130 when interrupted (after a checkpoint), 1 otherwise.
 *
 * @since 0.1.0
 * @category running
 */
export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  // a run started by a sweep (local pool or cluster runner) stops, after a checkpoint, when the
  // process that started it dies (kill -9 of a runner leaves no orphan training on)
  const parent = Number(process.env.RETORT_PARENT_PID)
  if (Number.isInteger(parent) && parent > 0) {
    const watch = setInterval(() => {
      if (process.ppid === parent) return
      clearInterval(watch)
      process.kill(process.pid, "SIGINT")
    }, 500)
    watch.unref()
  }
  const program = Command.runWith(retort, { version, renderErrors: false })(argv).pipe(
    Effect.provide(NodeServices.layer),
  )
  const exit = await Effect.runPromiseExit(program as Effect.Effect<void, unknown>)
  if (Exit.isSuccess(exit)) return 0
  const failure = Cause.findErrorOption(exit.cause)
  const error = Option.getOrUndefined(failure) as
    | { _tag?: string; message?: string; hint?: string }
    | undefined
  if (error instanceof Interrupted) {
    process.stderr.write(`${error.message}\n`)
    return 130
  }
  if (error && typeof error === "object" && "message" in error) {
    const tag =
      error._tag && !/^invalid (pipeline|sweep) \(/.test(String(error.message)) ? `${error._tag}: ` : ""
    process.stderr.write(`retort: ${tag}${error.message}${error.hint ? `\n  hint: ${error.hint}` : ""}\n`)
  } else if (!Cause.hasInterruptsOnly(exit.cause))
    process.stderr.write(`retort: ${Cause.pretty(exit.cause)}\n`)
  return 1
}

// Run when executed directly (`tsx src/cli/main.ts …`); `bin/retort.js` calls `main` itself.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href)
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code
  })
