/**
 * The sweep engine against a real PostgreSQL (a throw-away server, see test/support/postgres.ts)
 * and three real runner processes (test/support/cluster-runner.ts, whose executor is a
 * deterministic fake run that logs every start and finish):
 *
 * 1. 12 runs on 3 runners: one outcome per id, equal (to the JSON text) to the fake run computed in
 *    this process.
 * 2. A run whose outcome is recorded is not executed again when its message comes back (as after
 *    Effect Cluster's message retention forgot it).
 * 3. A submitter killed with `kill -9` mid-sweep: submitting the same work again stores and runs
 *    nothing twice, and `follow` from a fresh start returns the same outcomes.
 * 4. `kill -9` of a runner while it holds runs in progress: every run still completes, exactly
 *    once in the results, within a bounded time (measured and printed).
 * 5. A wrong or unreachable database, or a taken runner port, gives a ClusterError quickly.
 *
 * The whole file is skipped, with the reason printed, when PostgreSQL cannot be started here.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import * as Cluster from "../../../src/sweep/Cluster.js"
import { fakeRun, fakeWork, type LogLine } from "../../support/cluster-runner.js"
import * as Postgres from "../../support/postgres.js"

const root = join(import.meta.dirname, "..", "..", "..")
const script = join(root, "test", "support", "cluster-runner.ts")

const started = await Postgres.start()
if (started._tag === "Unavailable") console.warn(`Cluster tests skipped: ${started.reason}`)
const pg = started._tag === "Started" ? started.server : undefined

const run = <A>(effect: Effect.Effect<A, Cluster.ClusterError>) => Effect.runPromise(effect)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Proc {
  readonly child: ChildProcess
  readonly name: string
  readonly exited: Promise<void>
  output: string
}

// made in beforeAll, so that a skipped file leaves nothing behind
let tmp = ""
let execLog = ""
const procs: Array<Proc> = []
// should this process die without afterAll, take the children with it
process.once("exit", () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill("SIGKILL")
})

const spawnNode = (name: string, args: ReadonlyArray<string>): Proc => {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args, "--exit-with-stdin"], {
    cwd: root,
    env: { ...process.env, RETORT_CLUSTER_LOG: execLog },
    stdio: ["pipe", "pipe", "pipe"],
  })
  const proc: Proc = {
    child,
    name,
    output: "",
    exited: new Promise((resolve) => child.once("exit", () => resolve())),
  }
  const take = (d: Buffer) => {
    proc.output += d.toString()
  }
  child.stdout?.on("data", take)
  child.stderr?.on("data", take)
  procs.push(proc)
  return proc
}

const lines = (): Array<LogLine> =>
  existsSync(execLog)
    ? readFileSync(execLog, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as LogLine)
    : []

const until = async (what: string, ok: () => boolean | Promise<boolean>, ms: number) => {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await ok()) return
    await sleep(100)
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`)
}

/** The fake run's outcome as the test computes it, without a cluster. */
const expected = (work: ReadonlyArray<Cluster.Work>) =>
  Object.fromEntries(work.map((w) => [w.id, fakeRun(w)]))

const recorded = (db: string, sweep: string) =>
  pg!.psql(`SELECT id || ' ' || count(*) FROM retort_sweep_outcomes WHERE sweep = '${sweep}' GROUP BY id`, db)

describe.skipIf(pg === undefined)("Cluster (PostgreSQL, 3 runner processes)", () => {
  let db = ""
  const runners: Array<{ readonly proc: Proc; readonly address: string }> = []

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "retort-cluster-test-"))
    execLog = join(tmp, "exec.log")
    db = pg!.createDatabase("sweeps")
    for (let i = 0; i < 3; i++) {
      const port = await Postgres.freePort()
      const proc = spawnNode(`runner-${i}`, ["--db", db, "--host", "127.0.0.1", "--port", String(port)])
      runners.push({ proc, address: `127.0.0.1:${port}` })
    }
    const t0 = Date.now()
    await until(
      "3 registered runners",
      async () =>
        (await Effect.runPromise(Cluster.runners({ db }).pipe(Effect.orElseSucceed(() => [])))).length === 3,
      40_000,
    )
    // settled: all 300 shards locked (advisory locks of Effect Cluster), by 3 runner sessions
    await until(
      "the shards to settle on 3 runners",
      () =>
        pg!.psql(
          "SELECT count(*) || ' ' || count(DISTINCT pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2",
          db,
        ) === "300 3",
      40_000,
    )
    console.log(`3 runners up, all shards held, in ${Date.now() - t0} ms`)
  })

  afterEach((ctx) => {
    // on failure, what the runners and the submitter said
    if (ctx.task.result?.state !== "fail") return
    for (const p of procs)
      console.log(`--- ${p.name} (last lines)\n${p.output.split("\n").slice(-25).join("\n")}`)
  })

  afterAll(async () => {
    for (const p of procs)
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGTERM")
    await Promise.race([Promise.all(procs.map((p) => p.exited)), sleep(15_000)])
    for (const p of procs)
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL")
    await pg?.stop()
    if (tmp) rmSync(tmp, { recursive: true, force: true })
  })

  it("runs 12 seeded runs on 3 runners, each once, with the values of a local run", async () => {
    const work = fakeWork("s1", 12, 300)
    const t0 = Date.now()
    await run(Cluster.submit({ db, sweep: "s1", work }))
    const got = await run(
      Cluster.follow({ db, sweep: "s1", ids: work.map((w) => w.id), timeout: "60 seconds" }),
    )
    console.log(`12 runs of 300 ms on 3 runners (4 slots each): ${Date.now() - t0} ms`)
    expect(got.map((o) => o.id)).toEqual(work.map((w) => w.id))
    const want = expected(work)
    for (const o of got) expect({ ok: o.ok, value: o.value }).toEqual(want[o.id])
    // identical down to the JSON text (key order, every digit of the scores)
    for (const o of got) expect(JSON.stringify(o.value)).toBe(JSON.stringify(want[o.id]?.value))
    expect(got.filter((o) => !o.ok).map((o) => o.id)).toEqual(["run-07"])
    for (const o of got) expect(runners.map((r) => r.address)).toContain(o.runner)
    expect(recorded(db, "s1").split("\n").sort()).toEqual(work.map((w) => `${w.id} 1`))
    const all = await run(Cluster.outcomes({ db, sweep: "s1" }))
    expect(all.map((o) => o.id).sort()).toEqual(work.map((w) => w.id))
    const perRunner = new Map<string, number>()
    for (const o of got) perRunner.set(o.runner, (perRunner.get(o.runner) ?? 0) + 1)
    console.log(`runs per runner: ${JSON.stringify(Object.fromEntries(perRunner))}`)
  })

  it("a recorded run is not executed again, even once the cluster has forgotten its message", async () => {
    const work = fakeWork("s4", 6, 200)
    await run(Cluster.submit({ db, sweep: "s4", work }))
    const before = await run(Cluster.follow({ db, sweep: "s4", timeout: "60 seconds" }))
    const starts = () => lines().filter((l) => l.sweep === "s4" && l.event === "start").length
    expect(starts()).toBe(6)
    // what message retention does after its delay: the processed messages of s4 are gone
    pg!.psql(
      `DELETE FROM cluster_replies WHERE request_id IN (SELECT id FROM cluster_messages WHERE entity_id LIKE 's4/%');
       DELETE FROM cluster_messages WHERE entity_id LIKE 's4/%'`,
      db,
    )
    await run(Cluster.submit({ db, sweep: "s4", work }))
    await until(
      "the new messages to be processed",
      () =>
        pg!.psql(`SELECT count(*) FROM cluster_messages WHERE entity_id LIKE 's4/%' AND processed`, db) ===
        "6",
      30_000,
    )
    expect(starts()).toBe(6)
    expect(await run(Cluster.follow({ db, sweep: "s4" }))).toEqual(before)
  })

  it("a submitter killed mid-sweep and started again: nothing duplicated, same outcomes", async () => {
    const work = fakeWork("s3", 12, 1_500)
    const submitter = spawnNode("submitter", [
      "--submit",
      "--db",
      db,
      "--sweep",
      "s3",
      "--count",
      "12",
      "--ms",
      "1500",
    ])
    await until("the submitter to submit", () => /progress 0/.test(submitter.output), 30_000)
    submitter.child.kill("SIGKILL")
    await submitter.exited
    expect(submitter.output).not.toMatch(/done/)
    // the restarted submitter: the same work again, then follow from scratch
    await run(Cluster.submit({ db, sweep: "s3", work }))
    const got = await run(Cluster.follow({ db, sweep: "s3", timeout: "60 seconds" }))
    expect(got.map((o) => o.id).sort()).toEqual(work.map((w) => w.id))
    const want = expected(work)
    for (const o of got) expect({ ok: o.ok, value: o.value }).toEqual(want[o.id])
    expect(recorded(db, "s3").split("\n").sort()).toEqual(work.map((w) => `${w.id} 1`))
    // Effect Cluster's message storage kept one message per run (deduplicated by primary key) …
    expect(
      pg!.psql(
        `SELECT count(*) FROM cluster_messages WHERE entity_type = 'RetortSweepRun' AND entity_id LIKE 's3/%'`,
        db,
      ),
    ).toBe("12")
    // … and each run was executed exactly once, though it was submitted twice
    const s3 = lines().filter((l) => l.sweep === "s3")
    for (const w of work) {
      expect(s3.filter((l) => l.id === w.id && l.event === "start")).toHaveLength(1)
      expect(s3.filter((l) => l.id === w.id && l.event === "finish")).toHaveLength(1)
    }
    // a third follower sees the same
    const again = await run(Cluster.follow({ db, sweep: "s3", ids: work.map((w) => w.id) }))
    expect([...again].sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      [...got].sort((a, b) => a.id.localeCompare(b.id)),
    )
  })

  it("kill -9 of a runner holding runs: all 12 complete, exactly once, within a bounded time", async () => {
    const work = fakeWork("s2", 12, 3_000)
    await run(Cluster.submit({ db, sweep: "s2", work }))
    // the runner with the most runs in progress
    let victim: (typeof runners)[number] | undefined
    await until(
      "runs in progress",
      () => {
        const s2 = lines().filter((l) => l.sweep === "s2" && l.event === "start")
        const busiest = runners
          .map((r) => ({ r, n: s2.filter((l) => l.runner === r.address).length }))
          .sort((a, b) => b.n - a.n)[0]
        if (busiest && busiest.n > 0) victim = busiest.r
        return victim !== undefined
      },
      30_000,
    )
    await sleep(300) // let the runner start whatever else it was about to start
    const v = victim!
    const heldAtKill = new Set(
      lines()
        .filter((l) => l.sweep === "s2" && l.event === "start" && l.runner === v.address)
        .map((l) => l.id),
    )
    const killedAt = Date.now()
    v.proc.child.kill("SIGKILL")
    await v.proc.exited
    const got = await run(
      Cluster.follow({ db, sweep: "s2", ids: work.map((w) => w.id), timeout: "60 seconds" }),
    )
    const doneAfterKill = Date.now() - killedAt
    const s2 = lines().filter((l) => l.sweep === "s2")
    const restartedAt = Math.min(
      ...s2
        .filter((l) => l.event === "start" && heldAtKill.has(l.id) && l.runner !== v.address)
        .map((l) => l.t),
    )
    console.log(
      `kill -9 of ${v.address} holding ${heldAtKill.size} runs: first of them restarted ${restartedAt - killedAt} ms after the kill, all 12 done ${doneAfterKill} ms after it`,
    )
    expect(heldAtKill.size).toBeGreaterThan(0)
    expect(got.map((o) => o.id)).toEqual(work.map((w) => w.id))
    const want = expected(work)
    for (const o of got) expect({ ok: o.ok, value: o.value }).toEqual(want[o.id])
    expect(recorded(db, "s2").split("\n").sort()).toEqual(work.map((w) => `${w.id} 1`))
    // the killed runner finished nothing; its runs were started again by survivors and finished once
    for (const id of heldAtKill) {
      expect(got.find((o) => o.id === id)?.runner).not.toBe(v.address)
      expect(s2.filter((l) => l.id === id && l.event === "finish")).toHaveLength(1)
    }
    for (const w of work) expect(s2.filter((l) => l.id === w.id && l.event === "finish")).toHaveLength(1)
    expect(doneAfterKill).toBeLessThan(30_000)
  })

  it("a wrong or unreachable database (or a taken port) fails quickly with a ClusterError", async () => {
    // a server that accepts connections and never answers: a database host that hangs
    const silent = createServer(() => {})
    const busy = createServer()
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r))
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r))
    const portOf = (s: typeof silent) => (s.address() as { port: number }).port
    try {
      const work = fakeWork("x", 1, 10)
      const cases: Array<[Effect.Effect<unknown, Cluster.ClusterError>, RegExp, number]> = [
        [
          Cluster.submit({ db: "postgres://postgres@127.0.0.1:1/retort", sweep: "x", work }),
          /ECONNREFUSED/,
          3_000,
        ],
        [
          Cluster.outcomes({ db: "postgres://postgres@127.0.0.1:1/retort", sweep: "x" }),
          /ECONNREFUSED/,
          3_000,
        ],
        [
          Cluster.follow({ db: pg!.urlOf("no_such_db"), sweep: "x", ids: ["run-00"] }),
          /"no_such_db" does not exist/,
          3_000,
        ],
        [
          Cluster.runner({
            db: pg!.urlOf("no_such_db"),
            host: "127.0.0.1",
            port: 1,
            execute: () => Effect.void,
          }),
          /"no_such_db" does not exist/,
          3_000,
        ],
        [Cluster.submit({ db: "not a url", sweep: "x", work }), /Invalid connection URL/, 3_000],
        [
          Cluster.follow({ db: `postgres://postgres@127.0.0.1:${portOf(silent)}/x`, sweep: "x", ids: [] }),
          /timed out/,
          8_000,
        ],
        [
          Cluster.runner({ db, host: "127.0.0.1", port: portOf(busy), execute: () => Effect.void }),
          /EADDRINUSE/,
          5_000,
        ],
      ]
      for (const [effect, message, within] of cases) {
        const t0 = Date.now()
        const error = await Effect.runPromise(Effect.flip(effect.pipe(Effect.timeout("20 seconds"))))
        expect(error).toBeInstanceOf(Cluster.ClusterError)
        expect(error.message).toMatch(message)
        expect(Date.now() - t0).toBeLessThan(within)
      }
    } finally {
      silent.close()
      busy.close()
    }
  })
})
