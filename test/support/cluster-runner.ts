/**
 * A sweep runner process for tests, with a deterministic fake run as its executor:
 *
 *     node --import tsx test/support/cluster-runner.ts --db URL --port P [--host H] [--concurrency N]
 *
 * The fake run sleeps `payload.ms` milliseconds, then gives `{ id, score }` where `score` depends
 * only on `payload.seed` and `payload.x` (or fails when `payload.fail` is set). Each start and
 * finish of a run is appended as a JSON line to the file named by `RETORT_CLUSTER_LOG` (when set),
 * so a test can count executions.
 *
 * With `--submit --sweep S --count N [--ms M]` it is a submitter instead: it submits
 * `fakeWork(S, N, M)`, prints `submitted`, then follows the sweep, printing `progress <k>` as
 * outcomes land and `done` at the end (so a test can kill it part-way).
 *
 * With `--exit-with-stdin` it shuts down when its standard input closes (its parent died).
 *
 * Importing this module (as the tests do, for `fakeRun` and `fakeWork`) starts nothing.
 */
import { appendFileSync } from "node:fs"
import { pathToFileURL } from "node:url"
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import * as Cluster from "../../src/sweep/Cluster.js"

/** The payload of a fake run. */
export interface FakePayload {
  readonly seed: number
  readonly x: number
  readonly ms: number
  readonly fail?: boolean
}

/** A deterministic score in [0, 1) from a seed and an input (integer hashing, exact in JSON). */
export const score = (seed: number, x: number): number => {
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(x, 0xc2b2ae35)) >>> 0
  for (let i = 0; i < 4; i++) {
    h ^= h >>> 16
    h = Math.imul(h, 0x7feb352d) >>> 0
    h ^= h >>> 15
    h = Math.imul(h, 0x846ca68b) >>> 0
  }
  return h / 2 ** 32
}

/** What the fake run of `work` gives (its value, or its error), computed without a cluster. */
export const fakeRun = (work: Cluster.Work): { readonly ok: boolean; readonly value: unknown } => {
  const p = work.payload as FakePayload
  return p.fail
    ? { ok: false, value: `fake run ${work.id} failed` }
    : { ok: true, value: { id: work.id, score: score(p.seed, p.x) } }
}

/** `n` fake runs of sweep `sweep`, each taking `ms` milliseconds; run 7 (when present) fails. */
export const fakeWork = (sweep: string, n: number, ms: number): ReadonlyArray<Cluster.Work> =>
  Array.from({ length: n }, (_, i) => ({
    sweep,
    id: `run-${String(i).padStart(2, "0")}`,
    payload: { seed: 1000 + i, x: i * 7 + 3, ms, ...(i === 7 ? { fail: true } : {}) } satisfies FakePayload,
  }))

/** One line of the execution log. */
export interface LogLine {
  readonly event: "start" | "finish"
  readonly sweep: string
  readonly id: string
  readonly runner: string
  readonly pid: number
  readonly t: number
}

const log = (line: Omit<LogLine, "pid" | "t">) => {
  const file = process.env.RETORT_CLUSTER_LOG
  if (file) appendFileSync(file, `${JSON.stringify({ ...line, pid: process.pid, t: Date.now() })}\n`)
}

/** The executor of the runner named `runner`. */
export const fakeExecutor =
  (runner: string): Cluster.Executor =>
  (work) =>
    Effect.gen(function* () {
      const p = work.payload as FakePayload
      log({ event: "start", sweep: work.sweep, id: work.id, runner })
      yield* Effect.sleep(p.ms)
      const r = fakeRun(work)
      log({ event: "finish", sweep: work.sweep, id: work.id, runner })
      return r.ok ? r.value : yield* Effect.fail(new Error(String(r.value)))
    })

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const main = () => {
  const db = arg("db")
  if (!db) throw new Error("--db URL is required")
  if (process.argv.includes("--submit")) {
    const sweep = arg("sweep") ?? "sweep"
    const work = fakeWork(sweep, Number(arg("count") ?? 12), Number(arg("ms") ?? 1000))
    return Effect.gen(function* () {
      yield* Cluster.submit({ db, sweep, work })
      console.log("submitted")
      yield* Cluster.follow({
        db,
        sweep,
        ids: work.map((w) => w.id),
        interval: "100 millis",
        onProgress: (done) => console.log(`progress ${done.length}`),
      })
      console.log("done")
    })
  }
  const host = arg("host") ?? "127.0.0.1"
  const port = Number(arg("port") ?? 34431)
  const concurrency = Number(arg("concurrency") ?? 4)
  return Cluster.runner({ db, host, port, concurrency, execute: fakeExecutor(`${host}:${port}`) })
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // with --exit-with-stdin, a parent that dies (closing our stdin) takes this process with it
  if (process.argv.includes("--exit-with-stdin")) {
    process.stdin.on("end", () => process.kill(process.pid, "SIGTERM"))
    process.stdin.resume()
  }
  NodeRuntime.runMain(main())
}
