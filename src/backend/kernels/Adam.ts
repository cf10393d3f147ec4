/**
 * A fused Adam update for the wasm backend. `tf.train.adam` spends ~14 kernels and as many
 * passes over memory per variable and step; here one kernel (`RetortAdam`, native or a
 * typed-array loop) computes the new parameter and both moments in one pass, with tfjs-core's
 * exact formula. {@link FusedAdamOptimizer} is a drop-in `tf.AdamOptimizer` (same state,
 * weights and serialisation) that uses the kernel on wasm and the stock update elsewhere.
 *
 * @example
 * ```ts
 * import * as Adam from "./Adam.js"
 * const opt = Adam.fusedAdam(1e-3)
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import type * as Native from "./Native.js"
import * as Wasm from "./Wasm.js"

/**
 * The kernel's name (registered for "wasm" only, by `registerWasmKernels`).
 *
 * @example
 * ```ts
 * import * as Adam from "./Adam.js"
 * Adam.kernelName // "RetortAdam"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const kernelName = "RetortAdam"

/**
 * One Adam step on typed arrays, exactly as tfjs-core's `AdamOptimizer` (float32 rounding at
 * each step): `m' = β1·m + (1−β1)·g`, `v' = β2·v + (1−β2)·g²`,
 * `p' = p − lr · (m'/(1−β1ᵗ)) / (√(v'/(1−β2ᵗ)) + ε)`.
 *
 * @example
 * ```ts
 * import * as Adam from "./Adam.js"
 * const p = new Float32Array([1]), m = new Float32Array(1), v = new Float32Array(1)
 * Adam.step(p, new Float32Array([0.5]), m, v, p, m, v, { learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, accBeta1: 0.9, accBeta2: 0.999 })
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export function step(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  pOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
  h: Hyper,
): void {
  const f = Math.fround
  const b1 = f(h.beta1)
  const b2 = f(h.beta2)
  const ob1 = f(1 - h.beta1)
  const ob2 = f(1 - h.beta2)
  const c1 = f(1 - h.accBeta1)
  const c2 = f(1 - h.accBeta2)
  const lr = f(-h.learningRate)
  const eps = f(h.epsilon)
  for (let i = 0; i < p.length; i++) {
    const gi = g[i]!
    const mi = f(f(m[i]! * b1) + f(gi * ob1))
    const vi = f(f(v[i]! * b2) + f(f(gi * gi) * ob2))
    mOut[i] = mi
    vOut[i] = vi
    pOut[i] = f(f(f(f(mi / c1) / f(f(Math.sqrt(f(vi / c2))) + eps)) * lr) + p[i]!)
  }
}

/**
 * Adam's hyper-parameters for one step; `accBeta1`/`accBeta2` are `β1ᵗ`, `β2ᵗ` before the step.
 *
 * @example
 * ```ts
 * import type * as Adam from "./Adam.js"
 * const h: Adam.Hyper = { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, accBeta1: 0.9, accBeta2: 0.999 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Hyper {
  readonly learningRate: number
  readonly beta1: number
  readonly beta2: number
  readonly epsilon: number
  readonly accBeta1: number
  readonly accBeta2: number
}

/**
 * The `RetortAdam` kernel config: inputs `{ param, grad, m, v }`, attrs {@link Hyper}, outputs
 * `[param', m', v']`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Adam from "./Adam.js"
 * tf.registerKernel(Adam.config(() => undefined))
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
      const { param, grad, m, v } = args.inputs as Record<"param" | "grad" | "m" | "v", tf.TensorInfo>
      const h = args.attrs as unknown as Hyper
      const size = tf.util.sizeFromShape(param.shape)
      const outs = [param, m, v].map((t) => backend.makeOutput([...t.shape], "float32"))
      const [po, mo, vo] = outs as [tf.TensorInfo, tf.TensorInfo, tf.TensorInfo]
      const addon = native()
      if (addon !== undefined) {
        const off = (t: tf.TensorInfo) => Wasm.offset(backend, t)
        addon.adam(
          backend.wasm.HEAPU8,
          off(param),
          off(grad),
          off(m),
          off(v),
          off(po),
          off(mo),
          off(vo),
          size,
          h.learningRate,
          h.beta1,
          h.beta2,
          h.epsilon,
          h.accBeta1,
          h.accBeta2,
        )
      } else {
        const a = (t: tf.TensorInfo) => Wasm.f32(backend, t)
        step(a(param), a(grad), a(m), a(v), a(po), a(mo), a(vo), h)
      }
      return outs
    },
  }
}

interface AdamState {
  accBeta1: tf.Variable
  accBeta2: tf.Variable
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>
  learningRate: number
  beta1: number
  beta2: number
  epsilon: number
}

/**
 * `tf.AdamOptimizer` whose update is one fused kernel per variable on the wasm backend (when
 * `registerWasmKernels` has run); elsewhere it is the stock optimizer. Same moments, weights,
 * `getWeights`/`setWeights` and serialisation as `tf.train.adam`.
 *
 * @example
 * ```ts
 * import * as Adam from "./Adam.js"
 * const opt = new Adam.FusedAdamOptimizer(1e-3, 0.9, 0.999)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer["applyGradients"]>[0]): void {
    if (tf.getBackend() !== "wasm" || tf.getKernel(kernelName, "wasm") === undefined) {
      super.applyGradients(variableGradients)
      return
    }
    const self = this as unknown as AdamState
    const list = Array.isArray(variableGradients)
      ? variableGradients.map((g) => ({ name: g.name, tensor: g.tensor }))
      : Object.keys(variableGradients).map((name) => ({
          name,
          tensor: (variableGradients as tf.NamedTensorMap)[name],
        }))
    const hyper: Hyper = {
      learningRate: self.learningRate,
      beta1: self.beta1,
      beta2: self.beta2,
      epsilon: self.epsilon,
      accBeta1: self.accBeta1.dataSync()[0]!,
      accBeta2: self.accBeta2.dataSync()[0]!,
    }
    tf.tidy(() => {
      list.forEach(({ name, tensor: gradient }, i) => {
        const value = tf.engine().registeredVariables[name]
        if (value === undefined) throw new Error(`FusedAdamOptimizer: no variable named ${name}`)
        self.accumulatedFirstMoment[i] ??= {
          originalName: `${name}/m`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        }
        self.accumulatedSecondMoment[i] ??= {
          originalName: `${name}/v`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        }
        if (gradient == null) return
        const m = self.accumulatedFirstMoment[i]!.variable
        const v = self.accumulatedSecondMoment[i]!.variable
        const [p2, m2, v2] = tf
          .engine()
          .runKernel(
            kernelName,
            { param: value, grad: tf.cast(gradient, "float32"), m, v },
            hyper as unknown as tf.NamedAttrMap,
          ) as Array<tf.Tensor>
        m.assign(m2!)
        v.assign(v2!)
        value.assign(p2!)
      })
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1))
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2))
    })
    this.incrementIterations()
  }
}

/**
 * Like `tf.train.adam`, with the fused update on wasm.
 *
 * @example
 * ```ts
 * import * as Adam from "./Adam.js"
 * const opt = Adam.fusedAdam(1e-3)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export function fusedAdam(
  learningRate = 0.001,
  beta1 = 0.9,
  beta2 = 0.999,
  epsilon?: number,
): FusedAdamOptimizer {
  return new FusedAdamOptimizer(learningRate, beta1, beta2, epsilon)
}
