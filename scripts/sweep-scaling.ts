/**
 * Wall time of the 12-run test sweep (test/support/sweep.ts: 4 learning rates × 3 seeds of a small
 * MLP, real `retort run` processes on the cpu backend) on the local pool with 1 and 2 workers and
 * on 1, 2 and 3 `retort runner` processes over a throw-away PostgreSQL — all on this machine, in
 * one run. Prints a table for docs/scale-out.md.
 *
 * `npx tsx scripts/sweep-scaling.ts`
 */
import type { ChildProcess } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import * as Sweeps from "../src/sweep/Sweep.js"
import * as Postgres from "../test/support/postgres.js"
import { startRunners, sweep } from "../test/support/sweep.js"

const root = mkdtempSync(join(tmpdir(), "retort-sweep-scaling-"))
const plan = await Effect.runPromise(Sweeps.plan(sweep))
const rows: Array<[string, number, string]> = []
const spread = (r: Sweeps.SweepResult) => {
  const n = new Map<string, number>()
  for (const o of r.outcomes) n.set(o.runner, (n.get(o.runner) ?? 0) + 1)
  return [...n.values()].sort((a, b) => b - a).join("/")
}

for (const workers of [1, 2]) {
  const r = await Effect.runPromise(
    Sweeps.runLocal(plan, { outDir: join(root, `local${workers}`), workers, backend: "cpu" }),
  )
  rows.push([`local pool, ${workers} worker${workers > 1 ? "s" : ""}`, r.seconds, `${workers} at a time`])
  console.log(rows.at(-1))
}

const started = await Postgres.start()
if (started._tag === "Unavailable") throw new Error(started.reason)
const pg = started.server
const children: Array<ChildProcess> = []
try {
  for (const k of [1, 2, 3]) {
    const db = pg.createDatabase(`scaling${k}`)
    const runners = await startRunners(db, k, join(root, `cluster${k}`))
    children.push(...runners)
    await new Promise((r) => setTimeout(r, 3000)) // let the shards settle
    const r = await Effect.runPromise(
      Sweeps.runCluster(plan, { db, outDir: join(root, `cluster${k}`), timeout: "10 minutes" }),
    )
    rows.push([`${k} runner${k > 1 ? "s" : ""} (PostgreSQL)`, r.seconds, `runs per runner ${spread(r)}`])
    console.log(rows.at(-1))
    for (const c of runners) c.kill("SIGTERM")
    await new Promise((r) => setTimeout(r, 2000))
  }
} finally {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL")
  await pg.stop()
}
console.log(`\n12 runs (4 variants × 3 seeds), ${cpus().length} cores\n`)
console.log("| where | wall time | runs |\n| --- | --- | --- |")
for (const [w, s, n] of rows) console.log(`| ${w} | ${s.toFixed(1)} s | ${n} |`)
