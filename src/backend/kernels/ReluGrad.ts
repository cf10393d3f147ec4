/**
 * `RetortReluGrad`: the ReLU gradient `dy · step(x)` as one kernel (one pass, one dispatch)
 * instead of tfjs-core's `Step` + `Cast` + `Multiply`. Registered for "wasm" only; the ReLU
 * gradient override in `Gradients.ts` uses it while the native path is on. It has a gradient
 * itself (`d/d(dy) = step(x)`), so second-order gradients still work.
 *
 * @example
 * ```ts
 * import * as ReluGrad from "./ReluGrad.js"
 * const out = new Float32Array(2)
 * ReluGrad.reluGradInto(new Float32Array([3, 4]), new Float32Array([-1, 2]), out) // [0, 4]
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import type * as Native from "./Native.js"
import * as Wasm from "./Wasm.js"

/**
 * The kernel's name.
 *
 * @example
 * ```ts
 * import * as ReluGrad from "./ReluGrad.js"
 * ReluGrad.kernelName // "RetortReluGrad"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const kernelName = "RetortReluGrad"

/**
 * `out = x > 0 ? dy : 0` (NaN where `x` is NaN, as `dy · step(x)`), on typed arrays.
 *
 * @example
 * ```ts
 * import * as ReluGrad from "./ReluGrad.js"
 * const out = new Float32Array(1)
 * ReluGrad.reluGradInto(new Float32Array([5]), new Float32Array([1]), out) // [5]
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export function reluGradInto(dy: Float32Array, x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) {
    const v = x[i]!
    out[i] = v > 0 ? dy[i]! : Number.isNaN(v) ? v : 0
  }
}

/**
 * The kernel config (inputs `{ dy, x }`, same shapes, float32).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as ReluGrad from "./ReluGrad.js"
 * tf.registerKernel(ReluGrad.config(() => undefined))
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export function config(native: () => Native.Addon | undefined): tf.KernelConfig {
  return {
    kernelName,
    backendName: "wasm",
    kernelFunc: (args) => {
      const backend = Wasm.backendOf(args.backend)
      const { dy, x } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo }
      const out = backend.makeOutput([...x.shape], "float32")
      const size = tf.util.sizeFromShape(x.shape)
      const addon = native()
      if (addon !== undefined) {
        addon.reluGrad(
          backend.wasm.HEAPU8,
          Wasm.offset(backend, dy),
          Wasm.offset(backend, x),
          Wasm.offset(backend, out),
          size,
        )
      } else {
        reluGradInto(Wasm.f32(backend, dy), Wasm.f32(backend, x), Wasm.f32(backend, out))
      }
      return out
    },
  }
}

/**
 * The kernel's own gradient: `d/d(dy) = reluGrad(ddy, x)`, `d/dx = 0`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as ReluGrad from "./ReluGrad.js"
 * tf.registerGradient(ReluGrad.gradient)
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const gradient: tf.GradConfig = {
  kernelName,
  inputsToSave: ["x"],
  gradFunc: (ddy, saved) => {
    const [x] = saved as [tf.Tensor]
    return {
      dy: () => tf.engine().runKernel(kernelName, { dy: ddy as tf.Tensor, x }) as tf.Tensor,
      x: () => tf.zerosLike(x),
    }
  },
}
