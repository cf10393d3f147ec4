/**
 * `npm run experiment -- NAME [--quick] [--seeds 1,2,3] [--backend wasm] [--resume]`: run one
 * experiment of the catalogue (or `list`), print per-seed results, and record mean ± std with the
 * exact command in docs/results.md. `--quick` is a smoke run (20 steps per phase) that writes
 * nothing to docs. Every finished run is journalled in runs/experiments/NAME/journal.jsonl;
 * `--resume` continues an interrupted experiment from there.
 */
import { experiments } from "./catalogue.js"
import { execute, journalPath, record, save, section } from "./lib.js"

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
  save(exp.name, { ...r, command, date: new Date().toISOString() })
  console.log(`\nrecorded in docs/results.md and experiments/results/${exp.name}.json`)
}
