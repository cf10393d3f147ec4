import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import { afterEach, beforeAll, describe, expect, it } from "vitest"
import {
  kernelReport,
  originalKernel,
  registerWasmKernels,
  unregisterWasmKernels,
} from "../../../../src/backend/kernels/index.js"
import * as Native from "../../../../src/backend/kernels/Native.js"
import { agree, init, modes, nativeLoad, run, tensor, use, wasmDataIds } from "./harness.js"

beforeAll(init)

const env = { ...process.env }
afterEach(() => {
  process.env.RETORT_NATIVE = env.RETORT_NATIVE
  process.env.RETORT_NATIVE_PATH = env.RETORT_NATIVE_PATH
  if (env.RETORT_NATIVE === undefined) delete process.env.RETORT_NATIVE
  if (env.RETORT_NATIVE_PATH === undefined) delete process.env.RETORT_NATIVE_PATH
})

const expected = [
  "BatchMatMul",
  "_FusedMatMul",
  "Conv2D",
  "FusedConv2D",
  "Conv2DBackpropFilter",
  "Conv2DBackpropInput",
  "MaxPoolGrad",
  "MaxPool",
  "Sum",
  "Add",
  "Sub",
  "Multiply",
  "RealDiv",
  "Identity",
  "Cast",
  "Tile",
  "gradient:Mean",
  "gradient:Sum",
  "gradient:Relu",
]

describe("registerWasmKernels", () => {
  it("overrides the hot training kernels, keeps the originals, and is idempotent", () => {
    const first = registerWasmKernels({ native: false })
    expect(first.overridden).toEqual(expected)
    const conv = tf.getKernel("Conv2DBackpropFilter", "wasm")
    expect(conv).toBeDefined()
    const again = registerWasmKernels({ native: false })
    expect(tf.getKernel("Conv2DBackpropFilter", "wasm")).toBe(conv)
    expect(again).toEqual(first)
    expect(kernelReport()).toBe(again)
    expect(originalKernel("Conv2DBackpropFilter")).toBeUndefined()
    expect(originalKernel("BatchMatMul")?.kernelFunc).toBeTypeOf("function")
    expect(originalKernel("BatchMatMul")).not.toBe(tf.getKernel("BatchMatMul", "wasm"))
  })

  it("unregisterWasmKernels restores stock wasm (no Conv2DBackpropFilter) and the tfjs gradients", () => {
    registerWasmKernels({ native: false })
    const stockMatMul = originalKernel("BatchMatMul")
    unregisterWasmKernels()
    expect(kernelReport()).toBeUndefined()
    expect(tf.getKernel("Conv2DBackpropFilter", "wasm")).toBeUndefined()
    expect(tf.getKernel("BatchMatMul", "wasm")).toBe(stockMatMul)
    expect((tf.getGradient("Mean") as { retort?: boolean }).retort).toBeUndefined()
    expect(registerWasmKernels({ native: false }).overridden).toEqual(expected)
    expect((tf.getGradient("Mean") as { retort?: boolean }).retort).toBe(true)
  })

  it("re-registers an override that a later import of stock kernels replaced", () => {
    registerWasmKernels({ native: false })
    const ours = tf.getKernel("BatchMatMul", "wasm")
    const stock = originalKernel("BatchMatMul")!
    tf.unregisterKernel("BatchMatMul", "wasm")
    tf.registerKernel(stock)
    registerWasmKernels({ native: false })
    expect(tf.getKernel("BatchMatMul", "wasm")).not.toBe(stock)
    expect(tf.getKernel("BatchMatMul", "wasm")).not.toBe(ours)
    expect(originalKernel("BatchMatMul")).toBe(stock)
  })

  it("native: false forces the pure path and says why", () => {
    const report = registerWasmKernels({ native: false })
    expect(report).toMatchObject({ native: false, threads: 1 })
    expect(report.nativeReason).toMatch(/native: false/)
  })

  it("RETORT_NATIVE=0 forces the pure path", () => {
    process.env.RETORT_NATIVE = "0"
    const report = registerWasmKernels()
    expect(report.native).toBe(false)
    expect(report.nativeReason).toMatch(/RETORT_NATIVE=0/)
  })

  it("a missing or broken addon file falls back to pure wasm with the reason", () => {
    process.env.RETORT_NATIVE_PATH = "/nonexistent/retort_native.node"
    const report = registerWasmKernels()
    expect(report.native).toBe(false)
    expect(report.nativeReason).toMatch(/failed to load \/nonexistent\/retort_native.node/)
  })

  it("lists the build CPU's instruction-set flags that this CPU lacks", () => {
    expect(Native.missingCpuFeatures("fpu sse2 avx2 avx512f avx512bw hypervisor", "fpu sse2 avx2")).toEqual([
      "avx512f",
      "avx512bw",
    ])
    expect(Native.missingCpuFeatures("fp asimd sve", "fp asimd sve i8mm")).toEqual([])
  })

  it.skipIf(!existsSync("/proc/cpuinfo"))(
    "refuses an addon built for a CPU with instructions this one lacks, and says to rebuild",
    () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "retort-cpu-"))
      writeFileSync(path.join(dir, "retort_native.node"), "not loaded")
      writeFileSync(path.join(dir, "retort_native.cpu"), "fpu sse2 avx9000f\n")
      process.env.RETORT_NATIVE_PATH = path.join(dir, "retort_native.node")
      const report = registerWasmKernels()
      expect(report.native).toBe(false)
      expect(report.nativeReason).toMatch(/built for a CPU with avx9000f, which this one lacks; rebuild/)
      rmSync(dir, { recursive: true })
    },
  )

  it.skipIf(nativeLoad._tag !== "Loaded")(
    "uses the native addon when it is built, with the requested threads",
    () => {
      const report = registerWasmKernels({ threads: 1 })
      expect(report).toMatchObject({ native: true, threads: 1 })
      expect(report.nativeReason).toBeUndefined()
      expect(registerWasmKernels({ threads: 2 }).threads).toBe(2)
      expect(Native.defaultThreads()).toBeGreaterThanOrEqual(1)
    },
  )
})

/** A small CNN (conv, ReLU, max-pool, residual, drop mask, GAP, dense) in one loss. */
function loss(p: Record<string, tf.Variable>, x: tf.Tensor4D, y: tf.Tensor2D, mask: tf.Tensor4D): tf.Scalar {
  const c1 = tf.relu(tf.add(tf.conv2d(x, p.c1 as tf.Tensor4D, 1, "same"), p.b1!)) as tf.Tensor4D
  const p1 = tf.maxPool(c1, 2, 2, "valid")
  const c2 = tf.fused.conv2d({
    x: p1,
    filter: p.c2 as tf.Tensor4D,
    bias: p.b2 as tf.Tensor,
    strides: 1,
    pad: "same",
  })
  const res = tf.relu(tf.add(p1, tf.mul(c2, mask))) as tf.Tensor4D
  const s2 = tf.conv2d(res, p.c3 as tf.Tensor4D, 2, "same")
  const gap = tf.mean(s2, [1, 2]) as tf.Tensor2D
  const h = tf.relu(
    tf.fused.matMul({
      a: tf.reshape(p1, [x.shape[0], -1]) as tf.Tensor2D,
      b: p.d1 as tf.Tensor2D,
      bias: p.e1 as tf.Tensor,
    }),
  )
  const logits = tf.add(tf.matMul(h, p.d2 as tf.Tensor2D), tf.matMul(gap, p.d3 as tf.Tensor2D)) as tf.Tensor2D
  return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar
}

describe.each(modes)("a small training step (%s)", (mode) => {
  it("parameter gradients match tfjs-cpu, and no tensors or wasm buffers leak", async () => {
    use(mode)
    const shapes: Record<string, Array<number>> = {
      c1: [3, 3, 1, 4],
      b1: [4],
      c2: [3, 3, 4, 4],
      b2: [4],
      c3: [3, 3, 4, 5],
      d1: [4 * 5 * 4, 6],
      e1: [6],
      d2: [6, 3],
      d3: [5, 3],
    }
    const grads = () => {
      const p = Object.fromEntries(
        Object.entries(shapes).map(([k, s], i) => [
          k,
          tf.variable(tf.mul(tensor(10 + i, s), 0.5), true, `${mode}-${k}-${Math.random()}`),
        ]),
      )
      const x = tensor(1, [3, 10, 8, 1]) as tf.Tensor4D
      const y = tf.oneHot(tf.tensor1d([0, 2, 1], "int32"), 3) as tf.Tensor2D
      const mask = tf.tensor4d([1, 0, 1.25], [3, 1, 1, 1])
      const { value, grads: g } = tf.variableGrads(() =>
        loss(p, x, tf.cast(y, "float32") as tf.Tensor2D, mask),
      )
      const out = [
        value,
        ...Object.keys(shapes).map((k) => g[Object.values(p).find((v) => v.name.includes(`-${k}-`))!.name]!),
      ]
      tf.dispose(Object.values(p))
      return out
    }
    await agree(grads)
    await run("wasm", () => tf.zeros([1]))
    const tensors = tf.memory().numTensors
    const ids = wasmDataIds()
    await run("wasm", grads)
    expect(tf.memory().numTensors).toBe(tensors)
    expect(wasmDataIds()).toBe(ids)
  })
})
