/**
 * `npm run bench:scaling`: how W2 and W4 scale with threads, Retort beside PyTorch, in one run.
 * For each thread count (default 1, 2, 4, 8, 16, capped at the machine's cores) and round, one
 * fresh process each for the Retort pipeline (`bench/retort-worker.ts --threads N`) and the
 * PyTorch peer (`bench/gpu/torch_peer.py --threads N`, when `/usr/bin/python3 -c "import torch"`
 * works), interleaved so that load changes hit both alike. Prints a table of median ms/step and
 * the speed-up over 1 thread, and writes it (with the raw per-round figures) to `--out`
 * (default `bench/scaling.json` and `bench/scaling.md`) — one script to run on a bigger machine.
 *
 *   npm run bench:scaling -- [--threads 1,2,4,8,16] [--only W2,W4] [--rounds 3] [--seconds 4]
 *
 * @since 0.1.0
 */
import { execFile } from "node:child_process"
import { writeFileSync } from "node:fs"
import { availableParallelism, cpus } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs, promisify } from "node:util"

const exec = promisify(execFile)
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "1,2,4,8,16" },
    only: { type: "string", default: "W2,W4" },
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "4" },
    out: { type: "string", default: path.join(root, "bench", "scaling") },
  },
})
const cores = availableParallelism()
const counts = values.threads
  .split(",")
  .map(Number)
  .filter((t) => Number.isInteger(t) && t >= 1 && t <= cores)
const workloads = values.only.split(",")
const rounds = Number(values.rounds)
if (counts.length === 0) throw new Error(`--threads ${values.threads}: no count between 1 and ${cores} cores`)

const lastJson = (stdout: string): { ms_per_step?: number } => {
  const line = stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .at(-1)
  return line ? JSON.parse(line) : {}
}
const time = async (file: string, args: ReadonlyArray<string>): Promise<number | undefined> => {
  try {
    const { stdout } = await exec(file, args, { cwd: root, maxBuffer: 1 << 24, timeout: 900_000 })
    return lastJson(String(stdout)).ms_per_step
  } catch (e) {
    console.error(`${path.basename(args[0] ?? file)}: ${String((e as Error).message).slice(0, 200)}`)
    return undefined
  }
}
const torch = await exec("/usr/bin/python3", ["-c", "import torch; print(torch.__version__)"]).then(
  (r) => String(r.stdout).trim(),
  () => undefined,
)
const retort = (w: string, t: number) =>
  time(process.execPath, [
    "--import",
    "tsx",
    path.join(root, "bench/retort-worker.ts"),
    "--workload",
    w,
    "--threads",
    String(t),
    "--seconds",
    values.seconds,
  ])
const pytorch = (w: string, t: number) =>
  torch === undefined
    ? Promise.resolve(undefined)
    : time("/usr/bin/python3", [
        path.join(root, "bench/gpu/torch_peer.py"),
        "--device",
        "cpu",
        "--threads",
        String(t),
        "--seconds",
        values.seconds,
        "--only",
        w,
      ])

type Cell = { retort: Array<number>; torch: Array<number> }
const cells: Record<string, Record<number, Cell>> = {}
for (let r = 0; r < rounds; r++)
  for (const w of workloads)
    for (const t of counts) {
      const cell = ((cells[w] ??= {})[t] ??= { retort: [], torch: [] })
      const a = await retort(w, t)
      const b = await pytorch(w, t)
      if (a !== undefined) cell.retort.push(a)
      if (b !== undefined) cell.torch.push(b)
      console.log(`round ${r + 1} ${w} ${t} thread(s): Retort ${a ?? "–"} · PyTorch ${b ?? "–"} ms/step`)
    }

const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "–")
const lines = [
  `Measured by \`npm run bench:scaling -- ${process.argv.slice(2).join(" ")}\` on ${new Date().toISOString().slice(0, 10)}: ${cores} × ${cpus()[0]?.model ?? "CPU"}, Node ${process.version}, PyTorch ${torch ?? "not installed"}.`,
  `Median ms per step over ${rounds} interleaved rounds of ${values.seconds} s; speed-up over the same implementation at 1 thread.`,
  "",
  "| workload | threads | Retort (ms/step) | speed-up | PyTorch (ms/step) | speed-up | Retort / PyTorch |",
  "| --- | --- | --- | --- | --- | --- | --- |",
]
for (const w of workloads) {
  const one = cells[w]?.[counts[0]!]
  for (const t of counts) {
    const c = cells[w]?.[t]
    if (c === undefined) continue
    const [a, b] = [median(c.retort), median(c.torch)]
    lines.push(
      `| ${w} | ${t} | ${f(a)} | ${f(median(one?.retort ?? []) / a, 2)} | ${f(b)} | ${f(median(one?.torch ?? []) / b, 2)} | ${f(a / b, 2)} |`,
    )
  }
}
const table = lines.join("\n")
console.log(`\n${table}`)
writeFileSync(`${values.out}.json`, `${JSON.stringify({ cores, torch, counts, rounds, cells }, null, 2)}\n`)
writeFileSync(`${values.out}.md`, `${table}\n`)
console.log(`\nwrote ${path.relative(root, values.out)}.json and .md`)
