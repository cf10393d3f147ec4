/**
 * Shared set-up for the kernel tests: the cpu and wasm backends side by side, gradients
 * registered, Retort's overrides on wasm, and helpers to run the same computation on both and
 * compare within an abs+rel tolerance.
 */
import { createRequire } from "node:module"
import * as path from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-backend-cpu"
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm"
import { expect } from "vitest"
import { registerWasmKernels } from "../../../../src/backend/kernels/index.js"
import * as Native from "../../../../src/backend/kernels/Native.js"

/** The kernel paths under test: always "pure"; "native" when the addon is built. */
export type Mode = "pure" | "native"

export const nativeLoad = Native.load()

export const modes: ReadonlyArray<Mode> = nativeLoad._tag === "Loaded" ? ["pure", "native"] : ["pure"]

if (nativeLoad._tag === "Unavailable") {
  console.warn(`[kernels] native tests skipped: ${nativeLoad.reason}`)
}

let ready: Promise<void> | undefined

/** Initialises both backends once per test file. */
export function init(): Promise<void> {
  ready ??= (async () => {
    tf.env().set("IS_TEST", false)
    if (tf.getGradient("Relu") === undefined) {
      try {
        await import("@tensorflow/tfjs-core/dist/register_all_gradients.js")
      } catch {
        await import("@tensorflow/tfjs-layers")
      }
    }
    const dir = path.dirname(createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm"))
    setWasmPaths(`${dir}/`)
    await tf.setBackend("cpu")
    await tf.setBackend("wasm")
    registerWasmKernels({ native: false })
  })()
  return ready
}

/** Switches Retort's kernels to `mode` (registration is idempotent; this flips the path). */
export function use(mode: Mode): void {
  const report = registerWasmKernels({ native: mode === "native" })
  expect(report.native).toBe(mode === "native")
}

/** Runs `f` on `backend` inside a tidy and returns every output's values. */
export async function run(
  backend: "cpu" | "wasm",
  f: () => tf.Tensor | ReadonlyArray<tf.Tensor>,
): Promise<Array<Float32Array>> {
  await tf.setBackend(backend)
  const outs = tf.tidy(() => {
    const r = f()
    return Array.isArray(r) ? [...(r as ReadonlyArray<tf.Tensor>)] : [r as tf.Tensor]
  })
  const values = outs.map((t) => Float32Array.from(t.dataSync()))
  tf.dispose(outs)
  return values
}

/** Runs `f` on cpu (the reference) and on wasm, and checks they agree. */
export async function agree(f: () => tf.Tensor | ReadonlyArray<tf.Tensor>, rtol = 1e-5): Promise<void> {
  const expected = await run("cpu", f)
  const actual = await run("wasm", f)
  expect(actual.length).toBe(expected.length)
  expected.forEach((e, i) => {
    close(actual[i]!, e, rtol, `output ${i}`)
  })
}

/**
 * `|a − e| ≤ rtol·|e| + rtol·max|e|`: relative where values are large, absolute (scaled to the
 * output's magnitude) where float32 summation order makes tiny values differ. NaN matches NaN,
 * ±∞ must match exactly.
 */
export function close(actual: Float32Array, expected: Float32Array, rtol: number, what: string): void {
  expect(actual.length, `${what} length`).toBe(expected.length)
  let scale = 0
  for (const v of expected) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v))
  const atol = rtol * Math.max(scale, 1e-6)
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!
    const a = actual[i]!
    if (Number.isNaN(e) && Number.isNaN(a)) continue
    if (!(a === e || Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      expect.fail(`${what}[${i}]: wasm ${a} vs cpu ${e} (tolerance ${atol + rtol * Math.abs(e)})`)
    }
  }
}

/** Deterministic values in [-1, 1) from a seed (mulberry32). */
export function values(seed: number, size: number): Float32Array {
  let s = seed >>> 0
  const out = new Float32Array(size)
  for (let i = 0; i < size; i++) {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1
  }
  return out
}

/** A tensor of seeded values (created on the current backend). */
export function tensor(seed: number, shape: ReadonlyArray<number>): tf.Tensor {
  return tf.tensor(values(seed, tf.util.sizeFromShape([...shape])), [...shape])
}

/** The wasm backend's live data ids (kernel intermediates must not leak). */
export function wasmDataIds(): number {
  return (tf.findBackend("wasm") as unknown as { numDataIds(): number }).numDataIds()
}
