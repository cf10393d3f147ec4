/**
 * The bias + activation tail of `_FusedMatMul` and `FusedConv2D`. The native addon fuses a
 * per-channel or scalar bias and ReLU; stock wasm fuses a rank-1, per-channel bias and all
 * tfjs activations. Whatever neither covers (a scalar or full-shape bias on stock wasm,
 * `elu`/`sigmoid`/… after a native product) is applied here with the stock wasm kernels.
 *
 * @example
 * ```ts
 * import * as Epilogue from "./Epilogue.js"
 * Epilogue.activationCode("relu") // 1
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Wasm from "./Wasm.js"

/**
 * Native bias mode: 0 none, 1 per channel (last dimension `n`), 2 scalar; `undefined` for any
 * other broadcast.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Epilogue from "./Epilogue.js"
 * Epilogue.biasMode(tf.zeros([1, 8]), 8) // 1
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export function biasMode(bias: tf.TensorInfo | undefined, n: number): 0 | 1 | 2 | undefined {
  if (bias === undefined) return 0
  const size = tf.util.sizeFromShape(bias.shape)
  if (size === 1) return 2
  if (size === n && bias.shape[bias.shape.length - 1] === n) return 1
  return undefined
}

/**
 * Whether stock wasm's fused kernels handle this bias correctly (rank 1, one per channel).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Epilogue from "./Epilogue.js"
 * Epilogue.stockBias(tf.zeros([8]), 8) // true
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export function stockBias(bias: tf.TensorInfo | undefined, n: number): boolean {
  return bias === undefined || (bias.shape.length === 1 && bias.shape[0] === n)
}

/**
 * Native activation code: 0 linear, 1 relu; `undefined` for activations applied afterwards.
 *
 * @example
 * ```ts
 * import * as Epilogue from "./Epilogue.js"
 * Epilogue.activationCode("elu") // undefined
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export function activationCode(activation: unknown): 0 | 1 | undefined {
  if (activation === undefined || activation === null || activation === "linear") return 0
  if (activation === "relu") return 1
  return undefined
}

/**
 * Adds `bias` (any broadcastable shape) with the wasm `Add` kernel; releases `x`.
 *
 * @example
 * ```ts
 * // const y = Epilogue.addBias(backend, y0, bias)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export function addBias(backend: Wasm.Backend, x: tf.TensorInfo, bias: tf.TensorInfo): tf.TensorInfo {
  try {
    return Wasm.call(tf.getKernel(tf.Add, "wasm"), backend, { a: x, b: bias }, {})
  } finally {
    Wasm.release(backend, x)
  }
}

/**
 * Applies a tfjs fused activation with the wasm kernels; releases `x` (unless linear).
 *
 * @example
 * ```ts
 * // const y = Epilogue.activate(backend, y0, "elu", undefined, undefined)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export function activate(
  backend: Wasm.Backend,
  x: tf.TensorInfo,
  activation: unknown,
  prelu: tf.TensorInfo | undefined,
  leakyreluAlpha: unknown,
): tf.TensorInfo {
  if (activation === undefined || activation === null || activation === "linear") return x
  const run = (name: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}) =>
    Wasm.call(tf.getKernel(name, "wasm"), backend, inputs, attrs)
  try {
    switch (activation) {
      case "relu":
        return run(tf.Relu, { x })
      case "relu6":
        return run(tf.Relu6, { x })
      case "elu":
        return run(tf.Elu, { x })
      case "sigmoid":
        return run(tf.Sigmoid, { x })
      case "leakyrelu":
        return run(tf.LeakyRelu, { x }, { alpha: typeof leakyreluAlpha === "number" ? leakyreluAlpha : 0.2 })
      case "prelu":
        if (prelu === undefined) throw new Error("retort kernels: prelu activation without weights")
        return run(tf.Prelu, { x, alpha: prelu })
      default:
        throw new Error(`retort kernels: unknown fused activation ${String(activation)}`)
    }
  } finally {
    Wasm.release(backend, x)
  }
}
