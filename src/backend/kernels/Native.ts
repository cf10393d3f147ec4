/**
 * Loading of the native kernel addon (`native/build/Release/retort_native.node`, built from the
 * C++ sources in `native/` by `npm install`, or by `npm run build:native`; no BLAS library).
 * Its functions work in place on the wasm heap: they receive `HEAPU8` and byte offsets. When the
 * file is missing, fails to load, or `RETORT_NATIVE=0` is set, loading reports why and Retort
 * stays on pure wasm kernels.
 *
 * @example
 * ```ts
 * import * as Native from "./Native.js"
 * const loaded = Native.load()
 * console.log(loaded._tag === "Loaded" ? loaded.path : loaded.reason)
 * ```
 *
 * @since 0.1.0
 */
import { existsSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type * as Im2col from "./Im2col.js"

/**
 * The addon's functions. Offsets are byte offsets into `heap`; strides are in floats.
 * `biasMode`: 0 none, 1 per output channel/column, 2 scalar. `act`: 0 linear, 1 relu.
 *
 * @example
 * ```ts
 * import * as Native from "./Native.js"
 * const loaded = Native.load()
 * if (loaded._tag === "Loaded") loaded.addon.setThreads(1)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Addon {
  gemm(
    heap: Uint8Array,
    batch: number,
    m: number,
    n: number,
    k: number,
    transA: number,
    transB: number,
    aOff: number,
    aStride: number,
    bOff: number,
    bStride: number,
    cOff: number,
    biasOff: number,
    biasMode: number,
    act: number,
  ): void
  conv2d(
    heap: Uint8Array,
    xOff: number,
    wOff: number,
    yOff: number,
    biasOff: number,
    biasMode: number,
    act: number,
    ...geometry: ConvGeometry
  ): void
  conv2dBackpropFilter(
    heap: Uint8Array,
    xOff: number,
    dyOff: number,
    dwOff: number,
    ...geometry: ConvGeometry
  ): void
  conv2dBackpropInput(
    heap: Uint8Array,
    dyOff: number,
    wOff: number,
    dxOff: number,
    ...geometry: ConvGeometry
  ): void
  maxPoolGrad(heap: Uint8Array, xOff: number, dyOff: number, dxOff: number, ...geometry: PoolGeometry): void
  maxPool(heap: Uint8Array, xOff: number, yOff: number, ...geometry: PoolGeometry): void
  broadcast(
    heap: Uint8Array,
    op: number,
    bigOff: number,
    smallOff: number,
    outOff: number,
    total: number,
    inner: number,
    prefix: number,
    smallFirst: number,
  ): void
  tile(heap: Uint8Array, xOff: number, outOff: number, rank: number, ...shapeThenReps: Array<number>): void
  reluGrad(heap: Uint8Array, dyOff: number, xOff: number, outOff: number, size: number): void
  sumOuter(heap: Uint8Array, xOff: number, outOff: number, outer: number, inner: number): void
  adam(
    heap: Uint8Array,
    pOff: number,
    gOff: number,
    mOff: number,
    vOff: number,
    pOut: number,
    mOut: number,
    vOut: number,
    size: number,
    lr: number,
    beta1: number,
    beta2: number,
    epsilon: number,
    accBeta1: number,
    accBeta2: number,
  ): void
  /** Threads for the kernels (the caller included); work is split so results do not depend on it. */
  setThreads(n: number): void
  getThreads(): number
  /** The build: `retort-native <version>; sgemm <micro-kernel>; <compiler>; <flags>`. */
  info(): string
  /** Measured fp32 multiply-add throughput of `threads` threads over about `seconds`, GFLOP/s. */
  peak(threads: number, seconds: number): number
  /** Measured core clock in GHz (a chain of dependent integer additions); 0 where unknown. */
  clock(): number
}

/**
 * `[n, h, w, cin, kh, kw, cout, oh, ow, strideH, strideW, dilationH, dilationW, padTop, padLeft]`.
 *
 * @example
 * ```ts
 * import type * as Native from "./Native.js"
 * const g: Native.ConvGeometry = [1, 5, 5, 1, 3, 3, 2, 5, 5, 1, 1, 1, 1, 1, 1]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ConvGeometry = Im2col.Geometry

/**
 * `[n, h, w, c, oh, ow, kh, kw, strideH, strideW, dilationH, dilationW, padTop, padLeft]`.
 *
 * @example
 * ```ts
 * import type * as Native from "./Native.js"
 * const g: Native.PoolGeometry = [1, 4, 4, 1, 2, 2, 2, 2, 2, 2, 1, 1, 0, 0]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type PoolGeometry = [
  n: number,
  h: number,
  w: number,
  c: number,
  oh: number,
  ow: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  dh: number,
  dw: number,
  pt: number,
  pl: number,
]

/**
 * The outcome of loading the addon.
 *
 * @example
 * ```ts
 * import * as Native from "./Native.js"
 * const l: Native.Load = Native.load()
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Load =
  | { readonly _tag: "Loaded"; readonly addon: Addon; readonly path: string }
  | { readonly _tag: "Unavailable"; readonly reason: string }

const FILE = path.join("native", "build", "Release", "retort_native.node")

/**
 * Where the addon is looked for: `RETORT_NATIVE_PATH` if set, else `native/build/Release/` in
 * the first ancestor directory of this module that has one (works from `src/` and `dist/src/`).
 *
 * @example
 * ```ts
 * import * as Native from "./Native.js"
 * Native.locate()
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export function locate(): string | undefined {
  const explicit = process.env.RETORT_NATIVE_PATH
  if (explicit !== undefined && explicit !== "") return explicit
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, FILE)
    if (existsSync(candidate)) return candidate
    const parent = path.dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  return undefined
}

let cached: Extract<Load, { _tag: "Loaded" }> | undefined

const readIfExists = (file: string): string | undefined => {
  try {
    return readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/** Instruction-set extensions a compiler may use under `-march=native` (x86 and Arm names). */
const SIMD =
  /^(sse|ssse|avx|fma|f16c|bmi|amx|popcnt|movbe|lzcnt|abm|vpclmul|vaes|gfni|sha|asimd|sve|fp16|i8mm|bf16|dotprod)/

/**
 * The instruction-set flags of the CPU the addon was built on (`built`, a `/proc/cpuinfo` flags
 * line recorded by `scripts/build-native.sh`) that the `current` CPU's flags line lacks. The addon
 * is compiled with `-march=native`; loading it on a CPU without one of these would die of an
 * illegal instruction, so {@link load} refuses and says to rebuild.
 *
 * @example
 * ```ts
 * import * as Native from "./Native.js"
 * Native.missingCpuFeatures("fpu sse2 avx2 avx512f hypervisor", "fpu sse2 avx2") // ["avx512f"]
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export function missingCpuFeatures(built: string, current: string): ReadonlyArray<string> {
  const have = new Set(current.trim().split(/\s+/))
  return built
    .trim()
    .split(/\s+/)
    .filter((flag) => SIMD.test(flag) && !have.has(flag))
}

/**
 * Loads the addon (a successful load is cached). Honours `RETORT_NATIVE=0` (forces pure wasm).
 *
 * @example
 * ```ts
 * import * as Native from "./Native.js"
 * if (Native.load()._tag === "Unavailable") console.log("pure wasm kernels")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export function load(): Load {
  if (process.env.RETORT_NATIVE === "0") return { _tag: "Unavailable", reason: "disabled by RETORT_NATIVE=0" }
  const file = locate()
  if (cached !== undefined && cached.path === file) return cached
  if (file === undefined) {
    return {
      _tag: "Unavailable",
      reason: `native kernels not built (${FILE} not found; run \`npm run build:native\`, which needs a C++ compiler, make and python3)`,
    }
  }
  const built = readIfExists(file.replace(/\.node$/, ".cpu"))
  const current = readIfExists("/proc/cpuinfo")
  if (built !== undefined && current !== undefined) {
    const flags = /^(?:flags|Features)\s*:(.*)$/m.exec(current)?.[1] ?? ""
    const missing = missingCpuFeatures(built, flags)
    if (missing.length > 0)
      return {
        _tag: "Unavailable",
        reason: `${file} was built for a CPU with ${missing.join(", ")}, which this one lacks; rebuild it here with \`npm run build:native\``,
      }
  }
  try {
    const addon = createRequire(import.meta.url)(file) as Addon
    if (typeof addon.gemm !== "function" || typeof addon.conv2d !== "function") {
      return { _tag: "Unavailable", reason: `${file} is not Retort's native addon` }
    }
    cached = { _tag: "Loaded", addon, path: file }
    return cached
  } catch (error) {
    return {
      _tag: "Unavailable",
      reason: `failed to load ${file}: ${error instanceof Error ? error.message : String(error)}`,
    }
  }
}

/**
 * The default kernel thread count: `RETORT_THREADS` if set, else every core this process may use
 * (`os.availableParallelism()`). The kernels split each large product, convolution and
 * element-wise step over the threads (the JavaScript thread is one of them), with results that
 * do not depend on the count.
 *
 * @example
 * ```ts
 * import * as Native from "./Native.js"
 * Native.defaultThreads() // 2 on a 2-core machine
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export function defaultThreads(): number {
  const env = Number.parseInt(process.env.RETORT_THREADS ?? "", 10)
  if (Number.isFinite(env) && env > 0) return env
  return Math.max(1, os.availableParallelism())
}
