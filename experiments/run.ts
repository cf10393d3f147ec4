/**
 * `npm run experiment -- NAME [--quick] [--seeds 1,2,3] [--backend wasm] [--resume] [--replot]`: run one
 * experiment of the catalogue (or `list`), print per-seed results, and record mean ± std with the
 * exact command in docs/results.md. `--quick` is a smoke run (20 steps per phase) that writes
 * nothing to docs. Every finished run is journalled in runs/experiments/NAME/journal.jsonl;
 * `--resume` continues an interrupted experiment from there; `--replot` rewrites the section and
 * its chart (docs/results/NAME.svg) from experiments/results/NAME.json without training.
 */

import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { experiments } from "./catalogue.js"
import { draw, execute, journalPath, record, recordSummary, save, section, summary } from "./lib.js"

const args = process.argv.slice(2)
const name = args.find((a) => !a.startsWith("--"))
const flag = (f: string) => {
  const i = args.indexOf(f)
  return i >= 0 ? args[i + 1] : undefined
}
if (!name || name === "list") {
  console.log("experiments:")
  for (const e of experiments) console.log(`  ${e.name.padEnd(12)} ${e.title} (${e.budget})`)
  process.exit(name ? 0 : 1)
}
const exp = experiments.find((e) => e.name === name)
if (!exp) {
  console.error(`no experiment "${name}"; try: ${experiments.map((e) => e.name).join(", ")}`)
  process.exit(1)
}
/** Saved results of an experiment, if it has been run. */
const saved = (n: string) => {
  const file = join("experiments", "results", `${n}.json`)
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : undefined
}

if (args.includes("--replot")) {
  // rewrite the section and the chart from the saved numbers, without training
  const file = join("experiments", "results", `${exp.name}.json`)
  if (!existsSync(file)) {
    console.error(`no saved results for ${exp.name} (${file}); run the experiment first`)
    process.exit(1)
  }
  const r = JSON.parse(readFileSync(file, "utf8"))
  record(exp.name, section(exp, r, r.command, r.data))
  draw(exp, r)
  recordSummary(summary(experiments, saved))
  console.log(`redrawn docs/results/${exp.name}.svg and its section in docs/results.md`)
  process.exit(0)
}
const quick = args.includes("--quick")
const seeds = flag("--seeds")?.split(",").map(Number)
const backend = flag("--backend") ?? "wasm"
const resume = args.includes("--resume")
const r = await execute(exp, { backend, quick, resume, ...(seeds ? { seeds } : {}) }).catch((e: unknown) => {
  console.error(e)
  console.error(
    `\nexperiment ${exp.name} stopped; finished runs are kept in ${journalPath(exp.name)}.` +
      `\ncontinue with: npm run experiment -- ${[...args.filter((a) => a !== "--resume"), "--resume"].join(" ")}`,
  )
  process.exit(1)
})
const command = `npm run experiment -- ${args.filter((a) => a !== "--resume").join(" ")}`
const text = section(exp, r, command, r.data)
console.log(`\n${text}`)
if (!quick) {
  record(exp.name, text)
  draw(exp, r)
  save(exp.name, { ...r, command, date: new Date().toISOString() })
  recordSummary(summary(experiments, saved))
  console.log(
    `\nrecorded in docs/results.md, docs/results/${exp.name}.svg and experiments/results/${exp.name}.json`,
  )
}
