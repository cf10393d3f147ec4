/**
 * Retort's kernel overrides for the tfjs "wasm" backend: fast transposed matmuls, the missing
 * `Conv2DBackpropFilter`, faster `Conv2DBackpropInput`, `MaxPoolGrad` and bias-gradient
 * `Sum`, optionally on Retort's native addon (its own sgemm and thread pool) that works in place on the wasm heap.
 *
 * The stock kernels are kept (`tf.getKernel` before overriding) and used for whatever an
 * override does not cover (other dtypes, NCHW, unusual broadcasts or activations).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import "@tensorflow/tfjs-backend-wasm"
 * import { registerWasmKernels } from "./index.js"
 * await tf.setBackend("wasm")
 * const report = registerWasmKernels()
 * console.log(report.native ? `native, ${report.threads} threads` : report.nativeReason)
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Adam from "./Adam.js"
import * as Alias from "./Alias.js"
import * as Binary from "./Binary.js"
import * as Conv from "./Conv.js"
import * as Gradients from "./Gradients.js"
import * as MatMul from "./MatMul.js"
import * as Native from "./Native.js"
import type * as Override from "./Override.js"
import * as Pool from "./Pool.js"
import * as Reduce from "./Reduce.js"
import * as ReluGrad from "./ReluGrad.js"
import * as Tile from "./Tile.js"

/**
 * What {@link registerWasmKernels} did: whether the native kernel addon is in use (and why
 * not, when it is not), which kernels were overridden (gradient overrides appear as
 * `"gradient:Mean"`), the kernel thread count (1 on the pure path: tfjs-wasm runs
 * single-threaded under Node), and the addon's build (`Addon.info()`).
 *
 * @example
 * ```ts
 * import { kernelReport } from "./index.js"
 * console.log(kernelReport()?.overridden)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface KernelReport {
  readonly native: boolean
  readonly nativeReason?: string
  readonly overridden: ReadonlyArray<string>
  readonly threads: number
  readonly build?: string
}

/**
 * All overrides, in registration order.
 *
 * @example
 * ```ts
 * import { overrides } from "./index.js"
 * overrides.map((o) => o.kernelName)
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const overrides: ReadonlyArray<Override.Override> = [
  MatMul.batchMatMul,
  MatMul.fusedMatMul,
  Conv.conv2D,
  Conv.fusedConv2D,
  Conv.conv2DBackpropFilter,
  Conv.conv2DBackpropInput,
  Pool.maxPoolGrad,
  Pool.maxPool,
  Reduce.sum,
  Binary.add,
  Binary.sub,
  Binary.multiply,
  Binary.realDiv,
  Alias.identity,
  Alias.cast,
  Tile.tile,
]

export {
  /**
   * `tf.AdamOptimizer` with a fused one-pass update on wasm (see `Adam.ts`).
   *
   * @example
   * ```ts
   * import { FusedAdamOptimizer } from "./index.js"
   * const opt = new FusedAdamOptimizer(1e-3, 0.9, 0.999)
   * ```
   *
   * @since 0.1.0
   * @category optimizers
   */
  FusedAdamOptimizer,
  /**
   * Like `tf.train.adam`, with the fused update on wasm.
   *
   * @example
   * ```ts
   * import { fusedAdam } from "./index.js"
   * const opt = fusedAdam(1e-3)
   * ```
   *
   * @since 0.1.0
   * @category optimizers
   */
  fusedAdam,
} from "./Adam.js"

const BACKEND = "wasm"

interface State {
  registered: boolean
  gradients: ReadonlyArray<string>
  originals: Map<string, tf.KernelConfig | undefined>
  addon: Native.Addon | undefined
  report: KernelReport | undefined
}

const state: State = {
  registered: false,
  gradients: [],
  originals: new Map(),
  addon: undefined,
  report: undefined,
}

function lookup(name: string): tf.KernelConfig | undefined {
  try {
    return tf.getKernel(name, BACKEND)
  } catch {
    return undefined
  }
}

/** The stock wasm kernel: the saved original where Retort overrides it, else the registered one. */
function stock(name: string): tf.KernelConfig | undefined {
  return state.originals.has(name) ? state.originals.get(name) : lookup(name)
}

/** Our registered configs, to tell them from a stock kernel registered (again) after ours. */
const ours = new Map<string, tf.KernelConfig>()

/**
 * Registers every override whose kernel is not ours right now: on the first call, and again if
 * a later import of tfjs-backend-wasm re-registered the stock kernels over ours.
 */
function registerAll(): void {
  const stale = overrides.filter((o) => {
    const current = lookup(o.kernelName)
    return current === undefined || current !== ours.get(o.kernelName)
  })
  // Capture the originals first, so overrides can reach each other's stock kernels.
  for (const o of stale) state.originals.set(o.kernelName, lookup(o.kernelName))
  for (const o of stale) {
    const original = state.originals.get(o.kernelName)
    const kernelFunc = o.make({ original, stock, native: () => state.addon })
    if (original !== undefined) tf.unregisterKernel(o.kernelName, BACKEND)
    const config: tf.KernelConfig = { kernelName: o.kernelName, backendName: BACKEND, kernelFunc }
    if (original?.setupFunc !== undefined) config.setupFunc = original.setupFunc
    if (original?.disposeFunc !== undefined) config.disposeFunc = original.disposeFunc
    tf.registerKernel(config)
    ours.set(o.kernelName, config)
  }
  if (lookup(Adam.kernelName) === undefined) tf.registerKernel(Adam.config(() => state.addon))
  if (lookup(ReluGrad.kernelName) === undefined) tf.registerKernel(ReluGrad.config(() => state.addon))
  state.registered = true
}

/**
 * Registers Retort's kernel overrides on the "wasm" backend (idempotent). Call after
 * `tf.setBackend("wasm")` resolved. `native: false` forces pure wasm/JS paths; calling again
 * with another `native` or `threads` switches paths without re-registering. The native addon
 * is also off when `RETORT_NATIVE=0`; `threads` (the native kernels' threads, the calling thread
 * included) defaults to `RETORT_THREADS` or every core ({@link Native.defaultThreads}).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import "@tensorflow/tfjs-backend-wasm"
 * import { registerWasmKernels } from "./index.js"
 * await tf.setBackend("wasm")
 * registerWasmKernels({ native: false }).overridden // ["BatchMatMul", ...]
 * ```
 *
 * @since 0.1.0
 * @category registration
 */
export function registerWasmKernels(options?: { native?: boolean; threads?: number }): KernelReport {
  registerAll()
  // Every call: gradients may have been registered (or re-registered) since the last one.
  state.gradients = Gradients.register(() => state.addon !== undefined).map((k) => `gradient:${k}`)
  const overridden = [...overrides.map((o) => o.kernelName), ...state.gradients]
  if (options?.native === false) {
    state.addon = undefined
    state.report = { native: false, nativeReason: "disabled by option native: false", overridden, threads: 1 }
    return state.report
  }
  const loaded = Native.load()
  if (loaded._tag === "Unavailable") {
    state.addon = undefined
    state.report = { native: false, nativeReason: loaded.reason, overridden, threads: 1 }
    return state.report
  }
  const threads = Math.max(1, Math.floor(options?.threads ?? Native.defaultThreads()))
  loaded.addon.setThreads(threads)
  state.addon = loaded.addon
  state.report = { native: true, overridden, threads: loaded.addon.getThreads(), build: loaded.addon.info() }
  return state.report
}

/**
 * Puts the stock wasm kernels and tfjs gradients back (the inverse of
 * {@link registerWasmKernels}; a later `registerWasmKernels` registers again). For comparisons
 * with stock tfjs in one process, and for a backend configured without Retort's kernels.
 *
 * @example
 * ```ts
 * import { registerWasmKernels, unregisterWasmKernels } from "./index.js"
 * registerWasmKernels()
 * unregisterWasmKernels()
 * ```
 *
 * @since 0.1.0
 * @category registration
 */
export function unregisterWasmKernels(): void {
  if (!state.registered) return
  for (const o of overrides) {
    if (lookup(o.kernelName) !== undefined) tf.unregisterKernel(o.kernelName, BACKEND)
    const original = state.originals.get(o.kernelName)
    if (original !== undefined) tf.registerKernel(original)
  }
  if (lookup(Adam.kernelName) !== undefined) tf.unregisterKernel(Adam.kernelName, BACKEND)
  if (lookup(ReluGrad.kernelName) !== undefined) tf.unregisterKernel(ReluGrad.kernelName, BACKEND)
  Gradients.unregister()
  ours.clear()
  state.originals.clear()
  state.gradients = []
  state.addon = undefined
  state.report = undefined
  state.registered = false
}

/**
 * The report of the last {@link registerWasmKernels} call, or `undefined` before the first.
 *
 * @example
 * ```ts
 * import { kernelReport } from "./index.js"
 * kernelReport()?.native
 * ```
 *
 * @since 0.1.0
 * @category registration
 */
export function kernelReport(): KernelReport | undefined {
  return state.report
}

/**
 * The stock wasm kernel Retort replaced (for comparisons and benchmarks), if there was one.
 *
 * @example
 * ```ts
 * import { originalKernel } from "./index.js"
 * originalKernel("Conv2DBackpropFilter") // undefined: stock wasm has none
 * ```
 *
 * @since 0.1.0
 * @category registration
 */
export function originalKernel(name: string): tf.KernelConfig | undefined {
  return state.originals.get(name)
}
