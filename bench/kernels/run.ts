/**
 * W1–W4 training steps as hand-written tfjs loops on (a) stock wasm, (b) wasm + Retort's pure
 * overrides, (c) wasm + the native addon, (d) = (c) + Retort's fused Adam — side by side with the PyTorch peer
 * (bench/gpu/torch_peer.py, Debian python3-torch) at the same thread count, in one run.
 * Each measurement runs in a fresh process; workloads are interleaved so that load changes on a
 * shared machine hit all configurations alike. Prints a table of median ms/step and ratios.
 *
 *   npx tsx bench/kernels/run.ts [--threads 1[,2]] [--seconds 4] [--only W1,W2] [--modes stock,pure,native,fused]
 *     [--rounds 3] [--torch bench/gpu/torch_peer.py] [--json out.json]
 *
 * With `--rounds N` everything is measured N times; cells show the median ms/step and ratios
 * the median of the per-round ratios (each taken between runs made at the same moment).
 *
 * @since 0.1.0
 */
import { execFile } from "node:child_process"
import { existsSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs, promisify } from "node:util"

const run = promisify(execFile)
const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "../..")

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "1" },
    seconds: { type: "string", default: "4" },
    only: { type: "string", default: "W1,W2,W3,W4" },
    modes: { type: "string", default: "stock,pure,native,fused" },
    torch: { type: "string", default: path.resolve(root, "bench/gpu/torch_peer.py") },
    python: { type: "string", default: "/usr/bin/python3" },
    json: { type: "string" },
    rounds: { type: "string", default: "1" },
  },
})

type Result = { ms_per_step?: number; error?: string; steps?: number }

const workloads = values.only.split(",")
const modes = values.modes.split(",")
const threadCounts = values.threads.split(",")

async function tfjs(workload: string, mode: string, threads: string): Promise<Result> {
  // Stock wasm W2/W4 fail fast (no Conv2DBackpropFilter); a stock step can take seconds.
  const seconds = mode === "stock" ? String(Math.min(Number(values.seconds), 3)) : values.seconds
  try {
    const { stdout } = await run(
      process.execPath,
      [
        "--import",
        "tsx",
        path.join(here, "worker.ts"),
        "--mode",
        mode,
        "--workload",
        workload,
        "--seconds",
        seconds,
        "--threads",
        threads,
        ...(mode === "stock" ? ["--warmup", "1"] : []),
      ],
      { cwd: root, maxBuffer: 1 << 24, timeout: 600_000, env: { ...process.env, RETORT_THREADS: threads } },
    )
    const line = stdout
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .pop()
    return line === undefined ? { error: "no output" } : (JSON.parse(line) as Result)
  } catch (error) {
    return {
      error: String(error instanceof Error ? error.message : error)
        .split("\n")[0]!
        .slice(0, 80),
    }
  }
}

async function torch(workload: string, threads: string): Promise<Result> {
  if (!existsSync(values.torch) || !existsSync(values.python)) return { error: "torch peer not found" }
  try {
    const { stdout } = await run(
      values.python,
      [values.torch, "--threads", threads, "--seconds", values.seconds, "--only", workload],
      { timeout: 600_000 },
    )
    return JSON.parse(stdout.trim().split("\n").pop()!) as Result
  } catch (error) {
    return {
      error: String(error instanceof Error ? error.message : error)
        .split("\n")[0]!
        .slice(0, 80),
    }
  }
}

const rounds = Math.max(1, Number(values.rounds))
const results: Record<string, Array<Record<string, Result>>> = {}
for (let round = 0; round < rounds; round++) {
  for (const w of workloads) {
    for (const t of threadCounts) {
      const key = `${w}@${t}`
      const r: Record<string, Result> = { torch: await torch(w, t) }
      for (const m of modes) r[m] = await tfjs(w, m, t)
      ;(results[key] ??= []).push(r)
      console.error(`round ${round + 1} ${key}: ${JSON.stringify(r)}`)
    }
  }
}

const median = (xs: ReadonlyArray<number>): number | undefined => {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}
const ms = (rs: ReadonlyArray<Record<string, Result>>, m: string): Array<number> =>
  rs.flatMap((r) => (r[m]?.ms_per_step !== undefined ? [r[m]!.ms_per_step!] : []))
const cell = (rs: ReadonlyArray<Record<string, Result>>, m: string): string => {
  const v = median(ms(rs, m))
  if (v !== undefined)
    return rounds > 1
      ? `${v.toFixed(1)} (${Math.min(...ms(rs, m)).toFixed(1)}–${Math.max(...ms(rs, m)).toFixed(1)})`
      : v.toFixed(1)
  return `fails: ${rs[0]?.[m]?.error ?? "?"}`.slice(0, 40)
}
const ratio = (rs: ReadonlyArray<Record<string, Result>>, m: string): string => {
  const v = median(
    rs.flatMap((r) =>
      r[m]?.ms_per_step !== undefined && r.torch?.ms_per_step !== undefined
        ? [r[m]!.ms_per_step! / r.torch.ms_per_step!]
        : [],
    ),
  )
  return v === undefined ? "-" : v.toFixed(2)
}

const fast = modes.filter((m) => m !== "stock")
const header = ["workload", "threads", "torch", ...modes, ...fast.map((m) => `${m}/torch`)]
const rows = [header]
for (const [key, rs] of Object.entries(results)) {
  const [w, t] = key.split("@") as [string, string]
  rows.push([w, t, cell(rs, "torch"), ...modes.map((m) => cell(rs, m)), ...fast.map((m) => ratio(rs, m))])
}
const widths = header.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
console.log(
  `ms per training step (median${rounds > 1 ? ` of ${rounds} rounds, range` : ""}), batch 128, Adam; native threads = torch threads`,
)
for (const row of rows) console.log(`| ${row.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`)
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(results, null, 2))
