/**
 * `Identity` and same-dtype `Cast` as aliases: the output shares the input's wasm buffer
 * (reference counted, as tfjs-cpu does), instead of stock wasm's full copy. tfjs tensors are
 * immutable, so sharing is safe; it removes a pass over memory from every ReLU gradient
 * (`cast(step(x), "float32")`) and every `tf.clone`.
 *
 * @example
 * ```ts
 * import * as Alias from "./Alias.js"
 * Alias.identity.kernelName // "Identity"
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Override from "./Override.js"

interface RefCounted {
  incRef(dataId: tf.DataId): void
}

function alias(backend: unknown, x: tf.TensorInfo): tf.TensorInfo {
  ;(backend as RefCounted).incRef(x.dataId)
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype }
}

/**
 * `Identity` override (strings keep the stock copy).
 *
 * @example
 * ```ts
 * import * as Alias from "./Alias.js"
 * Alias.identity.kernelName // "Identity"
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const identity: Override.Override = {
  kernelName: tf.Identity,
  make: (ctx) => (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo }
    if (x.dtype === "string") return Override.original(ctx, tf.Identity).kernelFunc(args)
    return alias(args.backend, x)
  },
}

/**
 * `Cast` override: a no-op cast is an alias; real conversions use the stock kernel.
 *
 * @example
 * ```ts
 * import * as Alias from "./Alias.js"
 * Alias.cast.kernelName // "Cast"
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const cast: Override.Override = {
  kernelName: tf.Cast,
  make: (ctx) => (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo }
    if (x.dtype === "string" || args.attrs?.dtype !== x.dtype)
      return Override.original(ctx, tf.Cast).kernelFunc(args)
    return alias(args.backend, x)
  },
}
