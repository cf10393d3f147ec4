/**
 * `retort sweep --db` against a real PostgreSQL and three real `retort runner` processes: the
 * 12-run sweep of test/support/sweep.ts gives, run for run, exactly the metrics of the same runs
 * made in this process (runs are seeded; the local pool is checked against the same in-process
 * runs by Local.test.ts); `kill -9` of one runner mid-sweep leaves every run recorded exactly
 * once and no orphan `retort run` of the dead runner training on; the ranking and results are
 * written like the local pool's. Skipped, with the reason, when PostgreSQL cannot start.
 */
import { type ChildProcess, execSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import * as Sweeps from "../../../src/sweep/Sweep.js"
import * as Postgres from "../../support/postgres.js"
import { inProcess, startRunners, sweep } from "../../support/sweep.js"

const started = await Postgres.start()
if (started._tag === "Unavailable") console.warn(`sweep cluster test skipped: ${started.reason}`)
const pg = started._tag === "Started" ? started.server : undefined

const children: Array<ChildProcess> = []
process.once("exit", () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL")
})
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL")
  await pg?.stop()
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const runsOf = (pid: number) => {
  try {
    return execSync(`pgrep -P ${pid} -f "retort.js run"`, { encoding: "utf8" })
      .trim()
      .split("\n")
      .filter(Boolean)
  } catch {
    return []
  }
}

describe.skipIf(pg === undefined)("retort sweep on 3 retort runners (PostgreSQL)", () => {
  it("12 runs: the same metrics as in-process runs; kill -9 of a runner loses nothing and duplicates nothing", async () => {
    const db = pg!.createDatabase("retort")
    const root = mkdtempSync(join(tmpdir(), "retort-sweep-cluster-"))
    const runners = await startRunners(db, 3, root)
    children.push(...runners)
    const plan = await Effect.runPromise(Sweeps.plan(sweep))
    // kill -9 the runner of the first run that lands, while the others go on
    let victim: ChildProcess | undefined
    let orphans: Array<string> = []
    const result = await Effect.runPromise(
      Sweeps.runCluster(plan, {
        db,
        outDir: join(root, "submitter"),
        timeout: "4 minutes",
        onProgress: (p) => {
          if (victim === undefined && p.last !== undefined) {
            victim = runners.find((c) => runsOf(c.pid!).length > 0) ?? runners[0]!
            orphans = runsOf(victim.pid!)
            victim.kill("SIGKILL")
          }
        },
      }),
    )
    expect(victim).toBeDefined()
    expect(orphans.length).toBeGreaterThan(0)
    // every run recorded exactly once, all of them ok
    expect(result.outcomes.map((o) => o.id)).toEqual(plan.runs.map((r) => r.id))
    expect(result.outcomes.every((o) => o.ok)).toBe(true)
    const rows = pg!.psql(
      `SELECT count(*) || ' ' || count(DISTINCT id) FROM retort_sweep_outcomes WHERE sweep = '${Sweeps.clusterId(plan)}'`,
      db,
    )
    expect(rows).toBe("12 12")
    expect(new Set(result.outcomes.map((o) => o.runner)).size).toBeGreaterThanOrEqual(2)
    // run for run, the metrics of the same variant and seed run in this process
    const plain = await inProcess(plan, root)
    for (const o of result.outcomes) expect(o.metrics, o.id).toEqual(plain[o.id])
    // the dead runner's runs stopped on their own (they watch their parent)
    await sleep(3000)
    for (const pid of orphans) expect(() => process.kill(Number(pid), 0), `orphan ${pid}`).toThrow()
    expect(Sweeps.table(result)).toContain(result.ranking[0]!.variant.label)
  }, 300_000)
})
