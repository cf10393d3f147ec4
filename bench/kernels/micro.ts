/**
 * Per-kernel micro-benchmarks on the reference workloads' hottest shapes: stock wasm vs Retort's
 * pure overrides vs the native addon, each kernel called through tfjs (`tf.engine().runKernel`),
 * so the numbers include tfjs's dispatch. Prints a table of median ms per call and GFLOP/s.
 *
 *   npx tsx bench/kernels/micro.ts [--threads 1] [--reps 7] [--only conv]
 *
 * @since 0.1.0
 */
import { createRequire } from "node:module"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm"
import * as tf from "@tensorflow/tfjs-core"
import { originalKernel, registerWasmKernels } from "../../src/backend/kernels/index.js"

const { values } = parseArgs({
  options: {
    threads: { type: "string" },
    reps: { type: "string", default: "7" },
    only: { type: "string" },
  },
})

const dir = path.dirname(createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm"))
setWasmPaths(`${dir}/`)
tf.env().set("IS_TEST", false)
await tf.setBackend("wasm")
const report = registerWasmKernels(values.threads !== undefined ? { threads: Number(values.threads) } : {})

interface Case {
  readonly name: string
  readonly kernel: string
  readonly flops: number
  readonly inputs: () => tf.NamedTensorMap
  readonly attrs: tf.NamedAttrMap
}

const r = (shape: Array<number>) => tf.randomUniform(shape, -1, 1, "float32", 7)
const B = 128

const cases: Array<Case> = [
  {
    name: "W1 fc1 dW = xᵀ·dy [784×128]·[128×256]",
    kernel: "BatchMatMul",
    flops: 2 * 784 * 128 * 256,
    inputs: () => ({ a: r([1, B, 784]), b: r([1, B, 256]) }),
    attrs: { transposeA: true, transposeB: false },
  },
  {
    name: "W1 fc2 dx = dy·Wᵀ [128×256]·[256×256]",
    kernel: "BatchMatMul",
    flops: 2 * B * 256 * 256,
    inputs: () => ({ a: r([1, B, 256]), b: r([1, 256, 256]) }),
    attrs: { transposeA: false, transposeB: true },
  },
  {
    name: "W2 fc1 fwd [128×3136]·[3136×128]",
    kernel: "BatchMatMul",
    flops: 2 * B * 3136 * 128,
    inputs: () => ({ a: r([1, B, 3136]), b: r([1, 3136, 128]) }),
    attrs: { transposeA: false, transposeB: false },
  },
  {
    name: "W2 fc1 dW = xᵀ·dy [3136×128]·[128×128]",
    kernel: "BatchMatMul",
    flops: 2 * B * 3136 * 128,
    inputs: () => ({ a: r([1, B, 3136]), b: r([1, B, 128]) }),
    attrs: { transposeA: true, transposeB: false },
  },
  ...(
    [
      ["W2 conv1 28²×1→32", [B, 28, 28, 1], [3, 3, 1, 32], 1],
      ["W2 conv2 14²×32→64", [B, 14, 14, 32], [3, 3, 32, 64], 1],
      ["W4 stem s2 28²×1→32 (×2 batch)", [2 * B, 28, 28, 1], [3, 3, 1, 32], 2],
      ["W4 block 14²×32→32 (×2 batch)", [2 * B, 14, 14, 32], [3, 3, 32, 32], 1],
    ] as const
  ).flatMap(([label, xs, fs, s]) => {
    const oh = Math.ceil(xs[1] / s)
    const flops = 2 * xs[0] * oh * oh * fs[0] * fs[1] * fs[2] * fs[3]
    const dyShape = [xs[0], oh, oh, fs[3]]
    const common = {
      strides: s,
      pad: "same",
      dataFormat: "NHWC",
      dimRoundingMode: undefined as unknown as string,
    }
    return [
      {
        name: `${label} fwd`,
        kernel: "Conv2D",
        flops,
        inputs: () => ({ x: r([...xs]), filter: r([...fs]) }),
        attrs: { ...common, dilations: 1 },
      },
      {
        name: `${label} dW`,
        kernel: "Conv2DBackpropFilter",
        flops,
        inputs: () => ({ x: r([...xs]), dy: r(dyShape) }),
        attrs: { ...common, filterShape: [...fs] },
      },
      ...(fs[2] > 1
        ? [
            {
              name: `${label} dx`,
              kernel: "Conv2DBackpropInput",
              flops,
              inputs: () => ({ dy: r(dyShape), filter: r([...fs]) }),
              attrs: { ...common, inputShape: [...xs] },
            },
          ]
        : []),
    ]
  }),
  {
    name: "W2 maxpool1 grad 28²×32",
    kernel: "MaxPoolGrad",
    flops: 0,
    inputs: () => {
      const input = r([B, 28, 28, 32])
      return { dy: r([B, 14, 14, 32]), input, output: tf.maxPool(input as tf.Tensor4D, 2, 2, "valid") }
    },
    attrs: { filterSize: 2, strides: 2, pad: "valid" },
  },
  {
    name: "W2 conv1 bias grad Σ[0,1,2] 28²×32",
    kernel: "Sum",
    flops: 0,
    inputs: () => ({ x: r([B, 28, 28, 32]) }),
    attrs: { axis: [0, 1, 2], keepDims: false },
  },
]

const reps = Number(values.reps)

function time(kernel: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap): number | string {
  try {
    const ms: Array<number> = []
    for (let i = 0; i < reps + 1; i++) {
      const t0 = performance.now()
      // wasm kernels are synchronous; reading the result back would time a heap copy instead.
      const out = tf.engine().runKernel(kernel, inputs, attrs) as tf.Tensor
      const t = performance.now() - t0
      out.dispose()
      if (i > 0) ms.push(t)
    }
    ms.sort((a, b) => a - b)
    return ms[Math.floor(ms.length / 2)]!
  } catch (error) {
    return `fails (${String(error instanceof Error ? error.message : error).slice(0, 40)})`
  }
}

/** Runs a case with the stock wasm kernel by swapping it in for the duration. */
function stock(c: Case, inputs: tf.NamedTensorMap): number | string {
  const original = originalKernel(c.kernel)
  if (original === undefined) return "missing"
  const current = tf.getKernel(c.kernel, "wasm")
  tf.unregisterKernel(c.kernel, "wasm")
  tf.registerKernel(original)
  try {
    return time(c.kernel, inputs, c.attrs)
  } finally {
    tf.unregisterKernel(c.kernel, "wasm")
    tf.registerKernel(current)
  }
}

const fmt = (v: number | string, flops: number): string =>
  typeof v === "string"
    ? v
    : flops > 0
      ? `${v.toFixed(2)} ms (${(flops / v / 1e6).toFixed(1)} GF/s)`
      : `${v.toFixed(2)} ms`

console.log(`native: ${report.native ? `yes, ${report.threads} thread(s)` : `no (${report.nativeReason})`}`)
const rows: Array<Array<string>> = [["kernel / shape", "stock wasm", "pure overrides", "native"]]
for (const c of cases) {
  if (values.only !== undefined && !c.name.toLowerCase().includes(values.only.toLowerCase())) continue
  const inputs = c.inputs()
  const s = stock(c, inputs)
  registerWasmKernels({ native: false })
  const p = time(c.kernel, inputs, c.attrs)
  let n: number | string = "n/a"
  if (report.native) {
    registerWasmKernels(values.threads !== undefined ? { threads: Number(values.threads) } : {})
    n = time(c.kernel, inputs, c.attrs)
  }
  tf.dispose(Object.values(inputs))
  rows.push([c.name, fmt(s, c.flops), fmt(p, c.flops), fmt(n, c.flops)])
  console.error(`  ${c.name} done`)
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join(" | "))
