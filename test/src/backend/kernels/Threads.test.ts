import * as tf from "@tensorflow/tfjs-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { registerWasmKernels } from "../../../../src/backend/kernels/index.js"
import * as Native from "../../../../src/backend/kernels/Native.js"
import { init, nativeLoad, tensor } from "./harness.js"

beforeAll(init)
afterAll(() => {
  registerWasmKernels({ native: false })
})

// Shapes big enough that every native kernel takes its threaded path (products over 4 MFLOP,
// element-wise work over 64k floats, several row chunks in the filter gradient).
const cases: ReadonlyArray<readonly [string, () => ReadonlyArray<tf.Tensor>]> = [
  [
    "conv 3×3 32→64 and both gradients (im2col path, several chunks)",
    () => {
      const x = tensor(1, [32, 14, 14, 32]) as tf.Tensor4D
      const w = tensor(2, [3, 3, 32, 64]) as tf.Tensor4D
      const r = tensor(3, [32, 14, 14, 64])
      const f = (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "same"), r))
      const [dx, dw] = tf.grads(f)([x, w])
      return [tf.conv2d(x, w, 1, "same"), dx!, dw!]
    },
  ],
  [
    "conv 3×3 1→32 stride 2 and its filter gradient (direct path)",
    () => {
      const x = tensor(4, [64, 28, 28, 1]) as tf.Tensor4D
      const w = tensor(5, [3, 3, 1, 32]) as tf.Tensor4D
      const r = tensor(6, [64, 14, 14, 32])
      const dw = tf.grad((b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, b as tf.Tensor4D, 2, "same"), r)))(w)
      return [tf.relu(tf.conv2d(x, w, 2, "same")), dw]
    },
  ],
  [
    "matmuls with every transpose, batched and not",
    () => {
      const a = tensor(7, [256, 512])
      const b = tensor(8, [512, 320])
      const c = tensor(9, [16, 64, 96])
      const d = tensor(10, [16, 96, 80])
      return [
        tf.matMul(a, b),
        tf.matMul(b, a, true, true),
        tf.matMul(a, a, true, false),
        tf.matMul(b, b, false, true),
        tf.matMul(c, d),
      ]
    },
  ],
  [
    "max pool, its gradient, a column sum, relu gradient and broadcasting",
    () => {
      const x = tensor(11, [64, 28, 28, 32]) as tf.Tensor4D
      const r = tensor(12, [64, 14, 14, 32])
      const dx = tf.grad((v: tf.Tensor) =>
        tf.sum(tf.mul(tf.maxPool(tf.relu(v) as tf.Tensor4D, 2, 2, "valid"), r)),
      )(x)
      const bias = tensor(13, [32])
      return [
        tf.maxPool(x, 2, 2, "same"),
        dx,
        tf.sum(x, [0, 1, 2]),
        tf.add(x, bias),
        tf.mul(x, tensor(14, [64, 1, 1, 1])),
      ]
    },
  ],
]

describe.skipIf(nativeLoad._tag !== "Loaded")("native kernels and threads", () => {
  it("give bit-identical results on 1, 2 and 3 threads", async () => {
    await tf.setBackend("wasm")
    const runs = [1, 2, 3].map((threads) => {
      const report = registerWasmKernels({ native: true, threads })
      expect(report.threads).toBe(threads)
      return cases.map(([, f]) => tf.tidy(() => f().map((t) => Float32Array.from(t.dataSync()))))
    })
    cases.forEach(([name], i) => {
      runs[0]![i]!.forEach((values, j) => {
        for (const other of [runs[1]!, runs[2]!]) {
          const got = other[i]![j]!
          expect(got.length, `${name}, output ${j}`).toBe(values.length)
          const first = got.findIndex((v, k) => !Object.is(v, values[k]))
          expect(first, `${name}, output ${j}: first differing element`).toBe(-1)
        }
      })
    })
  })

  it("measures the CPU: clock and fp32 multiply-add peak", () => {
    const loaded = Native.load()
    if (loaded._tag !== "Loaded") return
    expect(loaded.addon.info()).toMatch(/^retort-native \d+; sgemm /)
    const ghz = loaded.addon.clock()
    if (process.arch === "x64" || process.arch === "arm64") expect(ghz).toBeGreaterThan(0.3)
    const one = loaded.addon.peak(1, 0.05)
    expect(one).toBeGreaterThan(0.5)
    expect(Number.isFinite(loaded.addon.peak(2, 0.05))).toBe(true)
  })
})
