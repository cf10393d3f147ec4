/**
 * `npm run drills -- [NAME …] [--quick]`: the reliability drills, long versions (the fast ones are
 * in `npm test`). Each writes its figures to `runs/drills/NAME.json` and prints them.
 *
 * - `kill`: 20 SIGKILLs each during `retort run` (cpu, then wasm), `retort seeds --resume` and the
 *   experiment harness's `--resume` (`scripts/drills/kill.ts`).
 * - `fuzz`: 10,000 mutated pipeline files through the decoder, 200 through `retort validate`
 *   (`scripts/drills/fuzz.ts`).
 * - `tests`: the fast drills of `npm test` on their own (kill -9, disk full / read-only, damaged
 *   checkpoints, data and event logs, locks, hostile paths and overrides, fuzzing, explosions).
 *
 * No name runs all three. `--quick` shrinks them (5 kills, 1,000 files) to check the scripts.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fuzz } from "./fuzz.js"
import { kill } from "./kill.js"

const repo = join(import.meta.dirname, "../..")
const args = process.argv.slice(2)
const quick = args.includes("--quick")
const names = args.filter((a) => !a.startsWith("--"))
const chosen = names.length > 0 ? names : ["kill", "fuzz", "tests"]
const out = join(repo, "runs", "drills")
mkdirSync(out, { recursive: true })
const save = (name: string, value: unknown) => {
  writeFileSync(join(out, `${name}.json`), `${JSON.stringify(value, null, 2)}\n`)
  console.log(`  → runs/drills/${name}.json`)
}

const fastDrills = [
  "test/src/runtime/KillDrill.test.ts",
  "test/src/runtime/SeriesKill.test.ts",
  "test/src/runtime/DiskDrill.test.ts",
  "test/src/runtime/Checkpoint.test.ts",
  "test/src/runtime/RunLock.test.ts",
  "test/src/runtime/Paths.test.ts",
  "test/src/runtime/ExportPaths.test.ts",
  "test/src/runtime/Explosion.test.ts",
  "test/src/runtime/Cadence.test.ts",
  "test/src/data/DataDirDrill.test.ts",
  "test/src/report/Event.test.ts",
  "test/dsl/Fuzz.test.ts",
  "test/src/cli/cli.test.ts",
]

let failed = 0
for (const name of chosen) {
  console.log(`\n== drill: ${name}`)
  if (name === "kill") {
    const reports = []
    for (const [target, backend] of [
      ["run", "cpu"],
      ["run", "wasm"],
      ["seeds", "cpu"],
      ["experiment", "cpu"],
    ] as const) {
      const r = await kill({ target, backend, kills: quick ? 5 : 20, seed: 1 })
      if (!r.identical || r.unresumable > 0) failed++
      reports.push(r)
    }
    save("kill", reports)
  } else if (name === "fuzz") {
    const r = await fuzz(quick ? { count: 1000, validateSample: 20 } : { count: 10_000, validateSample: 200 })
    if (!r.ok) failed++
    save("fuzz", r)
  } else if (name === "tests") {
    const t0 = performance.now()
    const r = spawnSync("npx", ["vitest", "run", ...fastDrills], { cwd: repo, stdio: "inherit" })
    if (r.status !== 0) failed++
    save("tests", { files: fastDrills, exitCode: r.status, seconds: (performance.now() - t0) / 1000 })
  } else {
    console.error(`unknown drill "${name}": kill, fuzz or tests`)
    failed++
  }
}
console.log(failed === 0 ? "\nall drills passed" : `\n${failed} drill(s) failed`)
process.exitCode = failed === 0 ? 0 : 1
