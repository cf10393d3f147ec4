/**
 * Measures one workload in one kernel configuration, in a fresh process (kernel registration
 * is global, so each configuration gets its own). Prints one JSON line.
 *
 *   npx tsx bench/kernels/worker.ts --mode native --workload W2 [--seconds 4] [--threads 2] [--profile]
 *
 * Modes: `stock` (tfjs-backend-wasm as shipped), `pure` (Retort overrides, no addon),
 * `native` (Retort overrides on its native addon), `fused` (native + Retort's fused Adam).
 *
 * @since 0.1.0
 */
import { createRequire } from "node:module"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm"
import * as tf from "@tensorflow/tfjs-core"
import { registerWasmKernels } from "../../src/backend/kernels/index.js"
import * as Workloads from "./workloads.js"

const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "native" },
    workload: { type: "string", default: "W1" },
    seconds: { type: "string", default: "4" },
    threads: { type: "string" },
    profile: { type: "boolean", default: false },
    warmup: { type: "string", default: "3" },
  },
})

const mode = values.mode as "stock" | "pure" | "native" | "fused"
const name = values.workload as Workloads.Name
const seconds = Number(values.seconds)

// tfjs-core's ESM build cannot be imported by plain Node (directory imports); tfjs-layers'
// CommonJS bundle registers the same gradients into the shared registry.
if (tf.getGradient("Relu") === undefined) await import("@tensorflow/tfjs-layers")

const wasmDir = path.dirname(createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm"))
setWasmPaths(`${wasmDir}/`)
tf.env().set("IS_TEST", false)
await tf.setBackend("wasm")
let threads = 1
let native = false
if (mode !== "stock") {
  const report = registerWasmKernels({
    native: mode === "native" || mode === "fused",
    ...(values.threads !== undefined ? { threads: Number(values.threads) } : {}),
  })
  threads = report.threads
  native = report.native
  if ((mode === "native" || mode === "fused") && !report.native) {
    console.log(JSON.stringify({ workload: name, mode, error: report.nativeReason }))
    process.exit(0)
  }
}

const w = Workloads.make(name, 1, { fusedAdam: mode === "fused" })
const out: Record<string, unknown> = { workload: name, mode, threads, native }
try {
  const warmup = Number(values.warmup)
  for (let i = 0; i < warmup; i++) {
    const l = w.step()
    l.dataSync()
    l.dispose()
  }
  if (values.profile) {
    const info = await tf.profile(() => {
      const l = w.step()
      l.dataSync()
      return l
    })
    const byKernel = new Map<string, { ms: number; n: number }>()
    for (const k of info.kernels) {
      const e = byKernel.get(k.name) ?? { ms: 0, n: 0 }
      e.ms += Number(k.kernelTimeMs)
      e.n += 1
      byKernel.set(k.name, e)
    }
    out.profile = [...byKernel.entries()]
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([k, e]) => ({ kernel: k, ms: Math.round(e.ms * 100) / 100, calls: e.n }))
  }
  const times: Array<number> = []
  const t0 = performance.now()
  let loss = Number.NaN
  while (times.length < 5 || performance.now() - t0 < seconds * 1000) {
    const s = performance.now()
    const l = w.step()
    loss = l.dataSync()[0]!
    l.dispose()
    times.push(performance.now() - s)
  }
  times.sort((a, b) => a - b)
  out.ms_per_step = Math.round(times[Math.floor(times.length / 2)]! * 1000) / 1000
  out.mean_ms = Math.round((times.reduce((a, b) => a + b, 0) / times.length) * 1000) / 1000
  out.steps = times.length
  out.loss = loss
  out.tensors = tf.memory().numTensors
} catch (error) {
  out.error = String(error instanceof Error ? error.message : error).slice(0, 200)
}
w.dispose()
console.log(JSON.stringify(out))
