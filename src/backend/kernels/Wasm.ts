/**
 * The small slice of tfjs-backend-wasm's internals Retort's kernels work with: tensors live in
 * the wasm heap at `dataIdMap.get(dataId).memoryOffset`; outputs are allocated with
 * `makeOutput`; intermediates a kernel creates for itself are released with `disposeData`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Wasm from "./Wasm.js"
 * const backend = Wasm.backendOf(tf.findBackend("wasm"))
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"

/**
 * The parts of `BackendWasm` used here (a structural view, so no private tfjs types leak).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import type * as Wasm from "./Wasm.js"
 * const backend = tf.findBackend("wasm") as unknown as Wasm.Backend
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Backend {
  readonly wasm: { readonly HEAPU8: Uint8Array; readonly HEAPF32: Float32Array }
  readonly dataIdMap: {
    get(dataId: tf.DataId): { readonly id: number; readonly memoryOffset: number } | undefined
  }
  makeOutput(shape: Array<number>, dtype: tf.DataType): tf.TensorInfo
  disposeData(dataId: tf.DataId, force?: boolean): boolean
}

/**
 * Views a kernel's `backend` argument as the wasm backend, or fails if it is not one.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Wasm from "./Wasm.js"
 * Wasm.backendOf(tf.findBackend("wasm"))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export function backendOf(backend: unknown): Backend {
  const b = backend as Partial<Backend> | undefined
  if (b?.wasm?.HEAPU8 === undefined || b.dataIdMap === undefined || typeof b.makeOutput !== "function") {
    throw new Error("retort kernels: expected the tfjs wasm backend")
  }
  return b as Backend
}

/**
 * Byte offset of a tensor's data in the wasm heap.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Wasm from "./Wasm.js"
 * const t = tf.zeros([2])
 * Wasm.offset(Wasm.backendOf(tf.backend()), t)
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export function offset(backend: Backend, t: tf.TensorInfo): number {
  const data = backend.dataIdMap.get(t.dataId)
  if (data === undefined) throw new Error("retort kernels: tensor is not on the wasm backend")
  return data.memoryOffset
}

/**
 * A `Float32Array` view (no copy) of a float32 tensor's data. Take it *after* every allocation
 * of the kernel: a heap growth detaches earlier views.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Wasm from "./Wasm.js"
 * const t = tf.ones([3])
 * Wasm.f32(Wasm.backendOf(tf.backend()), t)[0] // 1
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export function f32(backend: Backend, t: tf.TensorInfo): Float32Array {
  return new Float32Array(backend.wasm.HEAPU8.buffer, offset(backend, t), tf.util.sizeFromShape(t.shape))
}

/**
 * A tensor info with the same data and another shape (a free reshape for kernel inputs).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Wasm from "./Wasm.js"
 * Wasm.view(tf.zeros([2, 3]), [6])
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export function view(t: tf.TensorInfo, shape: ReadonlyArray<number>): tf.TensorInfo {
  return { dataId: t.dataId, shape: [...shape], dtype: t.dtype }
}

/**
 * Releases intermediates a kernel allocated for itself (never its inputs or its output).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Wasm from "./Wasm.js"
 * const b = Wasm.backendOf(tf.backend())
 * Wasm.release(b, b.makeOutput([4], "float32"))
 * ```
 *
 * @since 0.1.0
 * @category destructors
 */
export function release(backend: Backend, ...infos: ReadonlyArray<tf.TensorInfo | undefined>): void {
  for (const t of infos) if (t !== undefined) backend.disposeData(t.dataId)
}

/**
 * Runs a registered kernel implementation directly (no engine bookkeeping); the result is an
 * intermediate the caller owns.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Wasm from "./Wasm.js"
 * const b = Wasm.backendOf(tf.backend())
 * const t = Wasm.call(tf.getKernel("Transpose", "wasm"), b, { x: tf.zeros([2, 3]) }, { perm: [1, 0] })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export function call(
  config: tf.KernelConfig | undefined,
  backend: Backend,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo {
  if (config === undefined) throw new Error("retort kernels: missing wasm kernel")
  const out = config.kernelFunc({ inputs, backend: backend as unknown as tf.KernelBackend, attrs })
  if (Array.isArray(out)) {
    const [first] = out
    if (first === undefined) throw new Error(`retort kernels: ${config.kernelName} returned nothing`)
    return first
  }
  return out as tf.TensorInfo
}

/**
 * Materialises `x` transposed by `perm` with the wasm `Transpose` kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Wasm from "./Wasm.js"
 * const b = Wasm.backendOf(tf.backend())
 * Wasm.transpose(b, tf.zeros([2, 3]), [1, 0]).shape // [3, 2]
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export function transpose(backend: Backend, x: tf.TensorInfo, perm: ReadonlyArray<number>): tf.TensorInfo {
  return call(tf.getKernel(tf.Transpose, "wasm"), backend, { x }, { perm: [...perm] })
}
