/**
 * `npm run bench`: the workloads W1–W4 (bench/kernels/workloads.ts) side by side in one run, through
 * (a) a Retort pipeline (the interpreter's compiled step, `bench/retort-worker.ts`), (b) a
 * hand-written tfjs loop on the same backend (`bench/kernels/worker.ts`), and (c) the PyTorch
 * peer (`bench/gpu/torch_peer.py --device cpu`) when `/usr/bin/python3 -c "import torch"` works,
 * at one thread and at every core (Retort is compared with the faster of the two). Retort runs
 * at `--threads` (default: every core) and at one thread, for the scaling. Achieved GFLOP/s per
 * workload (the products' and convolutions' multiply-adds, counted from one profiled step) are
 * set against the machine's fp32 peak, measured by the addon (`peak()`, `clock()`).
 * Each measurement runs in a fresh process; the configurations are
 * interleaved over `--rounds` rounds so that load changes on a shared machine hit them alike, and
 * the ratios are medians of per-round ratios. Then a 1,000-step run of W3 checks that the tensor
 * count stays flat and reports its peak RSS. Writes docs/performance.md.
 *
 *   npm run bench -- [--rounds 3] [--seconds 4] [--only W1,W2,W3,W4] [--threads N] [--pure]
 *
 * @since 0.1.0
 */
import { execFile } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { availableParallelism, cpus, totalmem } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs, promisify } from "node:util"
import * as Native from "../src/backend/kernels/Native.js"

const exec = promisify(execFile)
const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "..")
const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "4" },
    only: { type: "string", default: "W1,W2,W3,W4" },
    threads: { type: "string", default: String(availableParallelism()) },
    pure: { type: "boolean", default: false },
    "memory-steps": { type: "string", default: "1000" },
    out: { type: "string", default: path.join(root, "docs", "performance.md") },
  },
})
const workloads = values.only.split(",")
const rounds = Number(values.rounds)

type R = { ms_per_step?: number; error?: string; [k: string]: unknown }
const json = (stdout: string): R => {
  const line = stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .at(-1)
  return line ? (JSON.parse(line) as R) : { error: stdout.slice(-300) }
}
const node = async (
  script: string,
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
): Promise<R> => {
  try {
    const { stdout } = await exec(process.execPath, ["--import", "tsx", path.join(root, script), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      maxBuffer: 1 << 24,
      timeout: 600_000,
    })
    return json(stdout)
  } catch (e) {
    return { error: String((e as Error).message).slice(0, 300) }
  }
}
const nativeEnv = values.pure ? { RETORT_NATIVE: "0" } : {}
const retort = (w: string, threads = values.threads) =>
  node(
    "bench/retort-worker.ts",
    ["--workload", w, "--seconds", values.seconds, "--threads", threads, ...(values.pure ? ["--pure"] : [])],
    nativeEnv,
  )
const hand = (w: string) =>
  node(
    "bench/kernels/worker.ts",
    [
      "--workload",
      w,
      "--mode",
      values.pure ? "pure" : "native",
      "--seconds",
      values.seconds,
      "--threads",
      values.threads,
    ],
    nativeEnv,
  )
const torchVersion = await exec("/usr/bin/python3", ["-c", "import torch; print(torch.__version__)"]).then(
  (r) => String(r.stdout).trim(),
  () => undefined,
)
const torchAvailable = torchVersion !== undefined
const torch = async (w: string, threads = values.threads): Promise<R> => {
  if (!torchAvailable) return { error: "PyTorch not installed (apt-get install python3-torch)" }
  try {
    const { stdout } = await exec(
      "/usr/bin/python3",
      [
        path.join(root, "bench/gpu/torch_peer.py"),
        "--threads",
        threads,
        "--seconds",
        values.seconds,
        "--only",
        w,
        "--device",
        "cpu",
      ],
      { timeout: 600_000 },
    )
    return json(stdout)
  } catch (e) {
    return { error: String((e as Error).message).slice(0, 300) }
  }
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)]!
}
const compare = (w: string) =>
  node(
    "bench/retort-worker.ts",
    [
      "--workload",
      w,
      "--compare",
      "--seconds",
      values.seconds,
      "--threads",
      values.threads,
      ...(values.pure ? ["--pure"] : []),
    ],
    nativeEnv,
  )
const threads = Number(values.threads)
const many = threads > 1
// The machine's fp32 peak, measured by the addon (independent multiply-adds on every thread).
const addon = Native.load()
const peak =
  addon._tag === "Loaded"
    ? { one: addon.addon.peak(1, 1), all: addon.addon.peak(threads, 1), ghz: addon.addon.clock() }
    : undefined
if (peak)
  console.log(
    `fp32 peak: ${peak.one.toFixed(1)} GFLOP/s on 1 thread, ${peak.all.toFixed(1)} on ${threads}; clock ${peak.ghz.toFixed(2)} GHz`,
  )
// GFLOP per step of each workload (products and convolutions), from one profiled step.
const gflop: Record<string, number> = {}
for (const w of workloads) {
  const p = await node("bench/retort-worker.ts", ["--workload", w, "--profile", "--threads", "1"], nativeEnv)
  if (typeof p.gflop_per_step === "number") gflop[w] = p.gflop_per_step
}
const rows: Record<
  string,
  {
    retort: Array<number>
    one: Array<number>
    hand: Array<number>
    torch1: Array<number>
    torchN: Array<number>
    same: Array<number>
    errors: Array<string>
  }
> = {}
for (let r = 0; r < rounds; r++)
  for (const w of workloads) {
    const row = (rows[w] ??= { retort: [], one: [], hand: [], torch1: [], torchN: [], same: [], errors: [] })
    const a = await retort(w)
    const a1 = many ? await retort(w, "1") : a
    const b = await hand(w)
    const c1 = await torch(w, "1")
    const cN = many ? await torch(w) : c1
    const d = await compare(w)
    if (typeof d.ratio === "number") row.same.push(d.ratio)
    for (const [k, v] of [
      ["retort", a],
      ["one", a1],
      ["hand", b],
      ["torch1", c1],
      ["torchN", cN],
    ] as const) {
      if (v.ms_per_step !== undefined) row[k].push(v.ms_per_step)
      else if (v.error) row.errors.push(`${k}: ${v.error}`)
    }
    console.log(
      `round ${r + 1} ${w}: retort ${a.ms_per_step ?? a.error} (1 thread ${a1.ms_per_step ?? a1.error}) · hand-written ${b.ms_per_step ?? b.error} · torch 1 thread ${c1.ms_per_step ?? c1.error}, ${threads} ${cN.ms_per_step ?? cN.error} · retort/hand in one process ${d.ratio ?? d.error}`,
    )
  }

const ratio = (xs: ReadonlyArray<number>, ys: ReadonlyArray<number>) =>
  median(xs.map((x, i) => (ys[i] !== undefined ? x / ys[i]! : Number.NaN)))
const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "–")
// PyTorch's better setting per round (1 thread or every core), then the median.
const best = (r: (typeof rows)[string]) => r.torch1.map((t, i) => Math.min(t, r.torchN[i] ?? t))
const table = [
  `| workload | Retort, ${threads} thread(s) (ms/step) | Retort, 1 thread (ms/step) | speed-up from threads | hand-written tfjs (ms/step) | PyTorch, 1 thread (ms/step) | PyTorch, ${threads} threads (ms/step) | Retort / best PyTorch | Retort / hand-written (separate processes) | Retort / hand-written, same fused Adam (one process, interleaved) |`,
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ...workloads.map((w) => {
    const r = rows[w]!
    return `| ${w} | ${f(median(r.retort))} | ${f(median(r.one))} | ${f(ratio(r.one, r.retort), 2)}× | ${f(median(r.hand))} | ${f(median(r.torch1))} | ${many ? f(median(r.torchN)) : "–"} | ${f(ratio(r.retort, best(r)), 2)} | ${f(ratio(r.retort, r.hand), 2)} | ${f(median(r.same), 2)} |`
  }),
]
const flopsTable = [
  `| workload | GFLOP per step | Retort, ${threads} thread(s): GFLOP/s | % of the ${threads}-thread peak | Retort, 1 thread: GFLOP/s | % of the 1-thread peak | best PyTorch: GFLOP/s |`,
  "| --- | --- | --- | --- | --- | --- | --- |",
  ...workloads.map((w) => {
    const r = rows[w]!
    const g = gflop[w] ?? Number.NaN
    const rate = (ms: number) => g / (ms / 1000)
    return `| ${w} | ${f(g, 3)} | ${f(rate(median(r.retort)))} | ${peak ? f((100 * rate(median(r.retort))) / peak.all) : "–"} % | ${f(rate(median(r.one)))} | ${peak ? f((100 * rate(median(r.one))) / peak.one) : "–"} % | ${f(rate(median(best(r))))} |`
  }),
]
console.log(`\n${flopsTable.join("\n")}`)
console.log(`\n${table.join("\n")}`)

const mem = await node(
  "bench/retort-worker.ts",
  [
    "--workload",
    "W3",
    "--steps",
    values["memory-steps"],
    "--threads",
    values.threads,
    ...(values.pure ? ["--pure"] : []),
  ],
  nativeEnv,
)
console.log(
  `\nW3 × ${values["memory-steps"]} steps: tensors ${mem.tensors_before} → ${mem.tensors_after}, peak RSS ${mem.peak_rss_mib} MiB`,
)

// The teacher-output cache: the W3 distillation step with the frozen teacher run every step vs
// its logits read from the cache the runner builds per phase (interleaved rounds).
const cacheRows = { off: [] as Array<number>, on: [] as Array<number>, build: [] as Array<number> }
if (workloads.includes("W3"))
  for (let r = 0; r < rounds; r++) {
    const args = [
      "--workload",
      "W3",
      "--seconds",
      values.seconds,
      "--threads",
      values.threads,
      ...(values.pure ? ["--pure"] : []),
    ]
    const off = await node("bench/retort-worker.ts", args, nativeEnv)
    const on = await node("bench/retort-worker.ts", [...args, "--cache"], nativeEnv)
    if (off.ms_per_step !== undefined) cacheRows.off.push(off.ms_per_step)
    if (on.ms_per_step !== undefined) cacheRows.on.push(on.ms_per_step)
    if (typeof on.cache_build_ms === "number") cacheRows.build.push(on.cache_build_ms)
    console.log(
      `round ${r + 1} W3 teacher cache: off ${off.ms_per_step ?? off.error} · on ${on.ms_per_step ?? on.error} ms/step (table of 1,280 samples built in ${on.cache_build_ms ?? "–"} ms)`,
    )
  }
const cacheTable =
  cacheRows.on.length > 0
    ? [
        "| W3 distil step | ms/step | relative |",
        "| --- | --- | --- |",
        `| teacher run every step (\`--no-teacher-cache\`) | ${f(median(cacheRows.off))} | 1.00 |`,
        `| teacher logits from the cache (default) | ${f(median(cacheRows.on))} | ${f(ratio(cacheRows.on, cacheRows.off), 2)} |`,
      ].join("\n") +
      `\n\nBuilding the cache costs one evaluation-mode teacher pass over the phase's images: ${f(median(cacheRows.build), 0)} ms for 1,280 images here ` +
      `(≈ ${f(median(cacheRows.build) / 10, 0)} ms per 128, against ${f(median(cacheRows.off) - median(cacheRows.on))} ms saved per step of 128), so it pays from the second epoch on; ` +
      "the runner builds it only when a phase visits its images more than 1.5 times."
    : "(W3 not measured)"
console.log(`\n${cacheTable}`)

const cpu = cpus()[0]?.model ?? "unknown CPU"
const command = `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim()
const doc = `# Performance

Measured by \`${command}\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version},
the default backend (tfjs-wasm with Retort's kernels, ${values.pure ? "pure wasm/JS path (RETORT_NATIVE=0)" : `native path: ${addon._tag === "Loaded" ? addon.addon.info() : "not built"}`}).
Median ms per training step (batch 128) over ${rounds} interleaved rounds of ${values.seconds} s each; ratios are medians
of per-round ratios. These shared machines vary ±20–30 % from run to run: compare ratios taken in one run.

The workloads (\`bench/kernels/workloads.ts\`, the project's reference sizes): W1 MLP 784-256-256-10; W2 CNN conv32-pool-conv64-pool-dense128-dense10;
W3 frozen W2 teacher + W1 student, 0.1·CE + 0.9·T²·KL, T = 4; W4 ResNet (stem + 4 residual blocks of 32 channels,
per-sample drop-path 0.1–0.3) duplicated into two stochastic-depth submodels with mutual BCE (cosub). Adam 1e-3.

- *Retort pipeline*: the step described with the DSL and compiled by the interpreter (\`bench/retort-worker.ts\`).
- *hand-written tfjs*: the same model written directly with tfjs ops, \`tf.variableGrads\` and \`tf.train.adam\`, on the same
  backend and kernels (\`bench/kernels/worker.ts\`).
- The pipeline's Adam is one fused kernel per parameter (\`src/backend/kernels/Adam.ts\`); the hand-written loop of the
  middle columns uses stock \`tf.train.adam\` (a dozen element-wise kernels per parameter), as a user would write it.
- The last column times the pipeline and a hand-written loop with the same fused Adam step by step, alternating, in one
  process: both see the same load and do the same arithmetic, so it is the fairest measure of what the interpreter costs.
- *PyTorch*: \`bench/gpu/torch_peer.py --device cpu\` (Debian's python3-torch ${torchVersion ?? "— not installed on this machine"}) at \`--threads 1\` and
  \`--threads ${threads}\`; "Retort / best PyTorch" divides by the faster of the two in each round (below 1: Retort is faster).
- Retort runs at ${threads} thread(s) (the default, every core) and at 1 thread; "speed-up from threads" is the median of the
  per-round ratios.

${table.join("\n")}

### Against the machine's peak

The fp32 peak, measured by the addon's \`peak()\` (independent vector multiply-adds on every thread, the sgemm micro-kernel's
instruction mix without its loads): ${peak ? `**${f(peak.one)} GFLOP/s on 1 thread, ${f(peak.all)} GFLOP/s on ${threads}**; the core clock, timed over a chain of dependent additions, ${peak.ghz.toFixed(2)} GHz (${f(peak.one / peak.ghz)} FLOP per cycle per core)` : "not measured (no native addon)"}.
Achieved GFLOP/s count only the multiply-adds of the products and convolutions of a step (from the shapes of one profiled step,
\`bench/retort-worker.ts --profile\`); element-wise work, pooling and Adam are not counted, so these are lower bounds.

${flopsTable.join("\n")}

Memory: W3 through the Retort pipeline for ${values["memory-steps"]} steps: \`tf.memory().numTensors\` ${mem.tensors_before} before → ${mem.tensors_after} after;
peak RSS ${mem.peak_rss_mib} MiB.
${
  Object.values(rows).some((r) => r.errors.length > 0)
    ? `\nErrors: ${Object.entries(rows)
        .flatMap(([w, r]) => r.errors.map((e) => `${w} ${e}`))
        .join("; ")}\n`
    : ""
}
## The teacher-output cache (W3)

When a phase runs a frozen teacher on un-augmented images, the runner computes the teacher's logits once per training
image and the step reads them (\`src/runtime/TeacherCache.ts\`). Median ms per step over ${rounds} interleaved rounds:

${cacheTable}

## Where the time goes

See \`bench/kernels/README.md\` and \`npx tsx bench/kernels/micro.ts\` for the per-kernel figures (native sgemm and
convolutions run at 75–100 GFLOP/s against 2.5–37 GFLOP/s for stock tfjs-wasm). Stock tfjs-wasm cannot train W2 or W4
at all (no \`Conv2DBackpropFilter\`); Retort registers it. In W2 and W4 the convolutions take 50–85 % of a step and already run
near single-core sgemm peak; W1 is dominated by kernel-dispatch overhead (~110 kernels per step), so threads cannot help it
much. \`npx tsx bench/retort-worker.ts --workload W2 --profile --threads N\` prints where a step's time goes, kernel by kernel.
`
// The generated part sits between markers; what follows the end marker (notes written by hand)
// is kept when the bench is run again.
const begin = "<!-- bench:start -->"
const end = "<!-- bench:end -->"
const previous = existsSync(values.out) ? readFileSync(values.out, "utf8") : ""
const kept = previous.includes(end) ? previous.slice(previous.indexOf(end) + end.length) : "\n"
writeFileSync(
  values.out,
  `${doc.replace("# Performance\n", `# Performance\n\n${begin}`).trimEnd()}\n${end}${kept}`,
)
console.log(`\nwrote ${path.relative(root, values.out)}`)
