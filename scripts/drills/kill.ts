/**
 * The kill -9 drill, long version: a training job is killed with SIGKILL many times at seeded
 * random moments — while it trains and while it starts up or resumes — and each time continued
 * with `--resume`, until it completes. Its final state is compared with an uninterrupted run of
 * the same job, and the figures are printed and written as JSON.
 *
 * Targets:
 * - `run` (default): `retort run` of a three-phase pipeline (checkpoints every 10 steps), resumed
 *   with `retort run --resume DIR`; the final model and optimiser state must be bit-identical to
 *   the uninterrupted run's (on the cpu backend, where runs are deterministic; with `--backend
 *   wasm` the drill reports how far they differ).
 * - `seeds`: `retort seeds FILE --seeds 1,2,3`, resumed with `--resume`; the per-seed metrics must
 *   equal the uninterrupted series'.
 * - `experiment`: the experiment harness (`npm run experiment` … `--resume`) on a small two-arm,
 *   two-seed experiment (`scripts/drills/experiment-target.ts`); the values must be equal.
 *
 * `npx tsx scripts/drills/kill.ts [--target run|seeds|experiment] [--kills 20] [--seed 1]
 *   [--backend cpu] [--json FILE]`
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { Effect } from "effect"
import { Codec, Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../dsl/index.js"
import * as Rng from "../../src/data/Rng.js"
import * as Checkpoint from "../../src/runtime/Checkpoint.js"

const repo = join(import.meta.dirname, "../..")

export interface KillOptions {
  readonly target?: "run" | "seeds" | "experiment"
  readonly kills?: number
  readonly seed?: number
  readonly backend?: string
  /** Steps per phase (default 600 for `run`, 150 for the others). */
  readonly steps?: number
  /** The seeds of the `seeds` target (default 1, 2, 3). */
  readonly seeds?: ReadonlyArray<number>
  readonly log?: (line: string) => void
}

export interface KillReport {
  readonly target: string
  readonly backend: string
  readonly kills: number
  readonly killsDuringStartup: number
  /** Processes started in all (kills + the one that completed). */
  readonly starts: number
  /** Resumes that failed (a run directory that could not be continued). */
  readonly unresumable: number
  /** Resumed processes that continued from a checkpoint (rather than starting their run over). */
  readonly resumedFromCheckpoint: number
  /** Steps done before a kill that the resumed process did again (run target: exact, from the logs). */
  readonly stepsRedone: { readonly max: number; readonly mean: number } | undefined
  readonly checkpointEvery: number
  readonly identical: boolean
  /** What differs when not identical. */
  readonly difference: string
  readonly seconds: { readonly uninterrupted: number; readonly interrupted: number }
}

/** The drill's kill moments come from its seed. */
const random = (seed: number) => {
  const g = Rng.make(seed)
  return () => Rng.int(g, 0, 1 << 30) / (1 << 30)
}

const CHECKPOINT_EVERY = 10

const drillPipeline = (steps: number) =>
  Pipeline.make({
    name: "drill",
    seed: 5,
    data: Pipeline.data("mnist"),
    checkpointEvery: CHECKPOINT_EVERY,
    models: { net: Model.mlp({ hidden: [64], classes: 10 }) },
    phases: (
      [
        ["warm", 3e-3],
        ["main", 1e-3],
        ["tune", 3e-4],
      ] as const
    ).map(([name, lr]) =>
      Phase.make({
        name,
        steps,
        batchSize: 32,
        step: Step.start.pipe(
          Step.forward("net", { as: "o" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
          Step.optimize("net", Optimizer.adam({ lr })),
        ),
        evaluate: Phase.evaluate({ models: ["net"], splits: [{ split: "test", limit: 200 }] }),
      }),
    ),
  })

const node = (args: ReadonlyArray<string>): ChildProcess =>
  spawn(process.execPath, args, { cwd: repo, stdio: ["ignore", "ignore", "pipe"] })

const exit = (child: ChildProcess) =>
  new Promise<number | null>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) r(child.exitCode)
    else child.on("exit", (code) => r(code))
  })

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Lines of a JSON-lines file that parse (a torn last line is skipped). */
const lines = (file: string): Array<Record<string, unknown>> =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .flatMap((l) => {
          try {
            return l.trim() === "" ? [] : [JSON.parse(l) as Record<string, unknown>]
          } catch {
            return []
          }
        })
    : []

const count = (file: string, tag: string) => lines(file).filter((e) => e._tag === tag).length

/** Bitwise comparison of two checkpoints (position, tensors, finished metrics). */
const compare = async (a: string, b: string): Promise<{ identical: boolean; difference: string }> => {
  const [x, y] = await Promise.all([a, b].map((p) => Effect.runPromise(Checkpoint.load(p))))
  const diffs: Array<string> = []
  if (JSON.stringify(x!.header.position) !== JSON.stringify(y!.header.position)) diffs.push("position")
  let maxAbs = 0
  for (const [key, t] of x!.tensors) {
    const u = y!.tensors.get(key)
    if (!u || u.values.length !== t.values.length) {
      diffs.push(`tensor ${key} missing`)
      continue
    }
    if (!Buffer.from(t.values.buffer).equals(Buffer.from(u.values.buffer)))
      for (let i = 0; i < t.values.length; i++)
        maxAbs = Math.max(maxAbs, Math.abs(t.values[i]! - u.values[i]!))
  }
  if (maxAbs > 0) diffs.push(`tensors differ by up to ${maxAbs.toExponential(2)}`)
  if (JSON.stringify(x!.header.finished) !== JSON.stringify(y!.header.finished)) diffs.push("final metrics")
  return { identical: diffs.length === 0, difference: diffs.join("; ") }
}

/**
 * Runs the drill. Each kill waits for a moment drawn from the seed: four kills in five come while
 * the job trains (after it wrote at least one new checkpoint, then 0–400 ms), one in five while
 * it starts up or resumes (50–1,500 ms after the process started).
 */
export const kill = async (options: KillOptions = {}): Promise<KillReport> => {
  const target = options.target ?? "run"
  const kills = options.kills ?? 20
  const backend = options.backend ?? "cpu"
  const log = options.log ?? ((l: string) => console.log(l))
  const rand = random(options.seed ?? 1)
  const root = mkdtempSync(join(tmpdir(), `retort-kill-${target}-`))
  const backendArgs = ["--backend", backend, "--quiet"]

  // what to start, what to resume, where its progress shows, and what to compare at the end
  let start: (out: string) => ReadonlyArray<string>
  let resume: (out: string) => ReadonlyArray<string>
  let progress: (out: string) => string // an events.jsonl whose checkpoints mean progress
  let finalOf: (out: string) => string
  if (target === "run") {
    const file = join(root, "drill.json")
    writeFileSync(file, Codec.toJson(drillPipeline(options.steps ?? 600)))
    start = (out) => ["bin/retort.js", "run", file, "--out", out, "--log-every", "1", ...backendArgs]
    resume = (out) => [
      "bin/retort.js",
      "run",
      "--resume",
      join(out, "drill"),
      "--log-every",
      "1",
      ...backendArgs,
    ]
    progress = (out) => join(out, "drill", "events.jsonl")
    finalOf = (out) => join(out, "drill", "checkpoint.bin")
  } else if (target === "seeds") {
    const file = join(root, "drill.json")
    writeFileSync(file, Codec.toJson(drillPipeline(options.steps ?? 150)))
    const seeds = options.seeds ?? [1, 2, 3]
    start = (out) => [
      "bin/retort.js",
      "seeds",
      file,
      "--seeds",
      seeds.join(","),
      "--out",
      out,
      ...backendArgs,
    ]
    resume = (out) => [...start(out), "--resume"]
    progress = (out) => {
      // the seed in progress: the highest seed directory with an event log
      for (const s of [...seeds].reverse()) {
        const f = join(out, "drill", `seed${s}`, "events.jsonl")
        if (existsSync(f)) return f
      }
      return join(out, "drill", "seed1", "events.jsonl")
    }
    finalOf = (out) => join(out, "drill", "seeds.json")
  } else {
    const script = join(repo, "scripts/drills/experiment-target.ts")
    start = (out) => [
      "--import",
      "tsx",
      script,
      "--out",
      out,
      "--result",
      join(out, "result.json"),
      "--steps",
      "150",
    ]
    resume = (out) => [...start(out), "--resume"]
    progress = (out) => {
      for (const arm of ["lr0.0005", "lr0.002"])
        for (const s of [2, 1]) {
          const f = join(out, "drill", `${arm}-seed${s}`, "events.jsonl")
          if (existsSync(f)) return f
        }
      return join(out, "drill", "none")
    }
    finalOf = (out) => join(out, "result.json")
  }

  // the uninterrupted job
  const straight = join(root, "straight")
  mkdirSync(straight, { recursive: true })
  let t0 = performance.now()
  const code = await exit(node(start(straight)))
  if (code !== 0) throw new Error(`the uninterrupted ${target} failed with exit code ${code}`)
  const uninterrupted = (performance.now() - t0) / 1000
  log(`uninterrupted ${target}: ${uninterrupted.toFixed(1)} s`)

  // the killed one
  const killed = join(root, "killed")
  mkdirSync(killed, { recursive: true })
  t0 = performance.now()
  let done = 0
  let duringStartup = 0
  let starts = 0
  let unresumable = 0
  const redone: Array<number> = []
  let child = node(start(killed))
  starts++
  while (done < kills) {
    const startup = done % 5 === 4
    const spawned = performance.now()
    if (startup) await sleep(50 + rand() * 1450)
    else {
      // wait for a new checkpoint of the run in progress (when the job moves on to its next run,
      // wait for that one's first checkpoint)
      let file = progress(killed)
      let before = count(file, "Checkpointed")
      const until = Date.now() + 120_000
      while (child.exitCode === null && Date.now() < until) {
        const f = progress(killed)
        if (f !== file) {
          file = f
          before = 0
        }
        if (count(f, "Checkpointed") > before) break
        await sleep(20)
      }
      await sleep(rand() * 400)
    }
    if (child.exitCode !== null) {
      if (child.exitCode !== 0) {
        unresumable++
        log(`  start ${starts} exited with code ${child.exitCode} before its kill`)
      }
      if (child.exitCode === 0) break // it finished: fewer kills than asked
      child = node(resume(killed))
      starts++
      continue
    }
    child.kill("SIGKILL")
    await exit(child)
    done++
    if (startup) duringStartup++
    log(
      `  kill ${done}/${kills} after ${((performance.now() - spawned) / 1000).toFixed(2)} s (${startup ? "starting up" : "training"})`,
    )
    child = node(resume(killed))
    starts++
  }
  let last = await exit(child)
  while (last !== 0 && unresumable < 3) {
    unresumable++
    child = node(resume(killed))
    starts++
    last = await exit(child)
  }
  const interrupted = (performance.now() - t0) / 1000

  // steps redone per kill (run target): each process logs every step, so the steps a killed
  // process finished beyond the checkpoint the next one resumed from are in the log
  if (target === "run") {
    const events = lines(progress(killed))
    let reached = -1
    for (const e of events) {
      if (e._tag === "StepMetrics") reached = Number(e.step)
      if (e._tag === "RunStarted" && reached >= 0) {
        const resumedAt = events
          .slice(events.indexOf(e))
          .find((x) => x._tag === "Note" && String(x.message).startsWith("resuming from"))
        const m = /step (\d+)$/.exec(String(resumedAt?.message ?? ""))
        if (m) redone.push(Math.max(0, reached - Number(m[1])))
        reached = -1
      }
    }
  }
  // how many resumed processes continued from a checkpoint: the "resuming from" notes of every log
  const logs = (dir: string): Array<string> =>
    readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
      d.isDirectory() ? logs(join(dir, d.name)) : d.name === "events.jsonl" ? [join(dir, d.name)] : [],
    )
  const resumedFromCheckpoint = logs(killed)
    .flatMap(lines)
    .filter((e) => e._tag === "Note" && String(e.message).startsWith("resuming from")).length
  let verdict: { identical: boolean; difference: string }
  if (last !== 0) verdict = { identical: false, difference: `the job did not complete (exit ${last})` }
  else if (target === "run") verdict = await compare(finalOf(straight), finalOf(killed))
  else {
    const pick = (f: string) => {
      const v = JSON.parse(readFileSync(f, "utf8")) as Record<string, unknown>
      return JSON.stringify(
        target === "seeds"
          ? (v.runs as Array<{ seed: number; metrics: unknown }>).map((r) => [r.seed, r.metrics])
          : v,
      )
    }
    const same = pick(finalOf(straight)) === pick(finalOf(killed))
    verdict = {
      identical: same,
      difference: same ? "" : `${pick(finalOf(straight))} vs ${pick(finalOf(killed))}`,
    }
  }
  const report: KillReport = {
    target,
    backend,
    kills: done,
    killsDuringStartup: duringStartup,
    starts,
    unresumable,
    resumedFromCheckpoint,
    stepsRedone:
      redone.length > 0
        ? { max: Math.max(...redone), mean: redone.reduce((a, b) => a + b, 0) / redone.length }
        : undefined,
    checkpointEvery: CHECKPOINT_EVERY,
    ...verdict,
    seconds: { uninterrupted, interrupted },
  }
  log(
    `${target} on ${backend}: ${report.kills} kills survived (${duringStartup} while starting up), ${unresumable} unresumable, ${resumedFromCheckpoint} resumes from a checkpoint, ` +
      (report.stepsRedone
        ? `steps redone per kill max ${report.stepsRedone.max}, mean ${report.stepsRedone.mean.toFixed(1)} (checkpoint every ${CHECKPOINT_EVERY}); `
        : "") +
      `final state ${report.identical ? "bit-identical" : `NOT identical: ${report.difference}`}; ` +
      `${uninterrupted.toFixed(1)} s uninterrupted, ${interrupted.toFixed(1)} s with the kills`,
  )
  return report
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const flag = (name: string) => {
    const i = process.argv.indexOf(`--${name}`)
    return i < 0 ? undefined : process.argv[i + 1]
  }
  const report = await kill({
    target: (flag("target") ?? "run") as KillOptions["target"] & string,
    kills: Number(flag("kills") ?? 20),
    seed: Number(flag("seed") ?? 1),
    backend: flag("backend") ?? "cpu",
    ...(flag("steps") ? { steps: Number(flag("steps")) } : {}),
  })
  const json = flag("json")
  if (json) {
    mkdirSync(dirname(json), { recursive: true })
    writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`)
  }
  process.exitCode = report.identical && report.unresumable === 0 ? 0 : 1
}
