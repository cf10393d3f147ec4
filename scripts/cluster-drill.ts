/**
 * Measures the sweep engine (src/sweep/Cluster.ts) with the fake runner of the tests: the wall
 * time of `--count` runs of `--ms` milliseconds each on 1, 2, … runner processes (each running
 * `--concurrency` runs at a time), and the failover drill (`kill -9` of the busiest of 3 runners
 * while it holds runs; time until its runs start again elsewhere and until the sweep is done).
 *
 *     npx tsx scripts/cluster-drill.ts [--runners 1,2,3] [--count 12] [--ms 2000] [--concurrency 1]
 *                                      [--failovers 3] [--victims 41001,41002,41003] [--signal SIGKILL]
 *                                      [--freeze-db 0] [--db postgres://…]
 *
 * `--signal SIGTERM` stops the victim gracefully instead of killing it. `--freeze-db S` (needs the
 * throw-away server) adds a drill where the database is frozen (SIGSTOP) for S seconds while 3
 * runners hold runs of 10 s each, then thawed.
 *
 * Without `--db` it starts a throw-away PostgreSQL (test/support/postgres.ts); with `--db`, give it
 * an empty database of its own. Every measurement
 * uses a fresh database and fresh runners on fixed ports (41001, …), so shard placement — and with
 * it how the runs spread over the runners — is the same from one invocation to the next.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import * as Cluster from "../src/sweep/Cluster.js"
import { fakeWork, type LogLine } from "../test/support/cluster-runner.js"
import * as Postgres from "../test/support/postgres.js"

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback
}
const runnerCounts = arg("runners", "1,2,3")
  .split(",")
  .filter((r) => r !== "")
  .map(Number)
const count = Number(arg("count", "12"))
const ms = Number(arg("ms", "2000"))
const concurrency = Number(arg("concurrency", "1"))
const failovers = Number(arg("failovers", "3"))
// ports of the runners to kill, one per failover in turn (default: the busiest runner)
const signal = arg("signal", "SIGKILL") as NodeJS.Signals
const freezeSeconds = Number(arg("freeze-db", "0"))
const victims = arg("victims", "")
  .split(",")
  .filter((p) => p !== "")
  .map((p) => `127.0.0.1:${p}`)

const root = join(import.meta.dirname, "..")
const script = join(root, "test", "support", "cluster-runner.ts")
const tmp = mkdtempSync(join(tmpdir(), "retort-drill-"))
const sleep = (t: number) => new Promise((r) => setTimeout(r, t))
const run = <A>(e: Effect.Effect<A, Cluster.ClusterError>) => Effect.runPromise(e)

const until = async (what: string, ok: () => boolean | Promise<boolean>, within: number) => {
  const deadline = Date.now() + within
  while (Date.now() < deadline) {
    if (await ok()) return
    await sleep(200)
  }
  throw new Error(`timed out waiting for ${what}`)
}

interface Runner {
  readonly child: ChildProcess
  readonly address: string
  readonly exited: Promise<void>
}

const startRunners = (db: string, n: number, log: string, slots: number): Array<Runner> =>
  Array.from({ length: n }, (_, i) => {
    const port = 41001 + i
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        script,
        "--db",
        db,
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--concurrency",
        String(slots),
        "--exit-with-stdin",
      ],
      { cwd: root, env: { ...process.env, RETORT_CLUSTER_LOG: log }, stdio: ["pipe", "ignore", "ignore"] },
    )
    return {
      child,
      address: `127.0.0.1:${port}`,
      exited: new Promise<void>((r) => child.once("exit", () => r())),
    }
  })

const stopRunners = async (runners: ReadonlyArray<Runner>) => {
  for (const r of runners)
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGTERM")
  await Promise.race([Promise.all(runners.map((r) => r.exited)), sleep(20_000)])
  for (const r of runners)
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL")
}

const lines = (log: string): Array<LogLine> =>
  existsSync(log)
    ? readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as LogLine)
    : []

const main = async () => {
  const given = process.argv.includes("--db") ? arg("db", "") : undefined
  let server: Postgres.Postgres | undefined
  if (!given) {
    const started = await Postgres.start()
    if (started._tag === "Unavailable") throw new Error(started.reason)
    server = started.server
  }
  let n = 0
  const freshDb = (name: string) => {
    n++
    if (server) return server.createDatabase(`${name}_${n}`)
    return given!
  }
  const settled = async (db: string, runners: number) => {
    await until(
      `${runners} runners`,
      async () => (await run(Cluster.runners({ db }))).length === runners,
      60_000,
    )
    if (server) {
      await until(
        "the shards to settle",
        () =>
          server!.psql(
            "SELECT count(*) || ' ' || count(DISTINCT pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2",
            db.split("/").pop(),
          ) === `300 ${runners}`,
        60_000,
      )
    } else await sleep(5_000)
  }
  try {
    console.log(`${count} runs of ${ms} ms, ${concurrency} at a time per runner`)
    for (const r of runnerCounts) {
      const db = freshDb("drill")
      const log = join(tmp, `wall-${r}.log`)
      const runners = startRunners(db, r, log, concurrency)
      try {
        await settled(db, r)
        const sweep = `wall-${r}`
        const work = fakeWork(sweep, count, ms)
        const t0 = Date.now()
        await run(Cluster.submit({ db, sweep, work }))
        const got = await run(
          Cluster.follow({ db, sweep, ids: work.map((w) => w.id), interval: "100 millis" }),
        )
        const wall = Date.now() - t0
        const per = new Map<string, number>()
        for (const o of got) per.set(o.runner, (per.get(o.runner) ?? 0) + 1)
        const starts = lines(log).filter((l) => l.event === "start").length
        console.log(
          `${r} runner(s): ${(wall / 1000).toFixed(1)} s wall; runs per runner ${[...per.values()].sort((a, b) => b - a).join("/")}; ${starts} executions`,
        )
      } finally {
        await stopRunners(runners)
      }
    }
    for (let k = 0; k < failovers; k++) {
      const db = freshDb("failover")
      const log = join(tmp, `failover-${k}.log`)
      const runners = startRunners(db, 3, log, 4)
      try {
        await settled(db, 3)
        const sweep = `failover-${k}`
        const work = fakeWork(sweep, 12, 3_000)
        await run(Cluster.submit({ db, sweep, work }))
        let victim: Runner | undefined
        await until(
          "runs in progress",
          () => {
            const starts = lines(log).filter((l) => l.event === "start")
            const wanted = victims[k % Math.max(1, victims.length)]
            if (wanted !== undefined) {
              victim = runners.find((r) => r.address === wanted)
              return starts.some((l) => l.runner === wanted)
            }
            const busiest = runners
              .map((r) => ({ r, n: starts.filter((l) => l.runner === r.address).length }))
              .sort((a, b) => b.n - a.n)[0]
            if (busiest && busiest.n > 0) victim = busiest.r
            return victim !== undefined
          },
          30_000,
        )
        await sleep(300)
        const v = victim!
        const held = new Set(
          lines(log)
            .filter((l) => l.event === "start" && l.runner === v.address)
            .map((l) => l.id),
        )
        const killed = Date.now()
        v.child.kill(signal)
        await run(Cluster.follow({ db, sweep, ids: work.map((w) => w.id), interval: "100 millis" }))
        const done = Date.now() - killed
        const all = lines(log)
        const restarted = Math.min(
          ...all
            .filter((l) => l.event === "start" && held.has(l.id) && l.runner !== v.address)
            .map((l) => l.t),
        )
        const finishes = all.filter((l) => l.event === "finish").length
        const recorded = (await run(Cluster.outcomes({ db, sweep }))).length
        console.log(
          `failover ${k + 1}: ${signal} to ${v.address} holding ${held.size} runs; restarted after ${((restarted - killed) / 1000).toFixed(1)} s, sweep done ${(done / 1000).toFixed(1)} s after the kill; ${finishes} finishes, ${recorded} outcomes`,
        )
      } finally {
        await stopRunners(runners)
      }
    }
    if (freezeSeconds > 0 && server) {
      const db = freshDb("freeze")
      const log = join(tmp, "freeze.log")
      const runners = startRunners(db, 3, log, 4)
      try {
        await settled(db, 3)
        const sweep = "freeze"
        const work = fakeWork(sweep, 12, 10_000)
        await run(Cluster.submit({ db, sweep, work }))
        await until("runs in progress", () => lines(log).length > 0, 30_000)
        await sleep(2_000)
        const frozen = Date.now()
        server.signal("SIGSTOP")
        await sleep(freezeSeconds * 1000)
        server.signal("SIGCONT")
        const thawed = Date.now()
        await run(Cluster.follow({ db, sweep, ids: work.map((w) => w.id), interval: "200 millis" }))
        const all = lines(log)
        const before = all.filter((l) => l.event === "start" && l.t < frozen).length
        const firstAfter = Math.min(...all.filter((l) => l.event === "start" && l.t > thawed).map((l) => l.t))
        const recorded = (await run(Cluster.outcomes({ db, sweep }))).length
        console.log(
          `database frozen ${freezeSeconds} s with ${before} runs in progress: runs started again ${((firstAfter - thawed) / 1000).toFixed(1)} s after the thaw; sweep done ${((Date.now() - thawed) / 1000).toFixed(1)} s after it; ${all.filter((l) => l.event === "start").length} starts, ${all.filter((l) => l.event === "finish").length} finishes, ${recorded} outcomes`,
        )
      } finally {
        await stopRunners(runners)
      }
    }
  } finally {
    await server?.stop()
    rmSync(tmp, { recursive: true, force: true })
  }
}

await main()
