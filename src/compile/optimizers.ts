/**
 * The TensorFlow.js meaning of every {@link Optimizer.Optimizer}: SGD (momentum, Nesterov, coupled
 * L2), Adam (coupled L2) and AdamW (decoupled decay), each with global gradient-norm clipping,
 * with PyTorch's update rules. Hyper-parameters (numbers or ramps) are evaluated at every call.
 *
 * The update ({@link Compiled.apply}) is synchronous, reads nothing back to JS (the clipping
 * factor stays a tensor) and writes the parameters and moment buffers in place with
 * `Variable.assign`: call it inside the step's `tf.tidy`. Moment buffers are allocated once, by
 * {@link Compiled.init}; {@link stateToArrays} / {@link stateFromArrays} carry them through
 * checkpoints.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Optimizer from "./dsl/Optimizer.js"
 * import * as Ramp from "./dsl/Ramp.js"
 * import * as Optimizers from "./src/compile/optimizers.js"
 * const w = tf.variable(tf.tensor1d([1, -2]))
 * const params = [{ path: "w", variable: w }]
 * const adam = Optimizers.compile(Optimizer.adam({ lr: 1e-3 }))
 * const state = adam.init(params)
 * const hyper = (num: Ramp.Num) => Ramp.evaluate(num, { step: state.step, epoch: 0, progress: 0 })
 * tf.tidy(() => {
 *   const { grads } = tf.variableGrads(() => tf.sum(tf.square(w)), [w])
 *   adam.apply(state, params, { w: grads[w.name]! }, hyper)
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import * as Optimizer from "../../dsl/Optimizer.js"
import * as Ramp from "../../dsl/Ramp.js"
import * as AdamKernel from "../backend/kernels/Adam.js"
import { kernelReport } from "../backend/kernels/index.js"
import { ShapeError } from "../errors.js"

/**
 * A trainable parameter, addressed by its path in the parameter tree (`dense0/kernel`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import type * as Optimizers from "./src/compile/optimizers.js"
 * const p: Optimizers.Param = { path: "dense0/kernel", variable: tf.variable(tf.zeros([4, 2])) }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Param {
  readonly path: string
  readonly variable: tf.Variable
}

/**
 * Evaluates a number or ramp at the current clock.
 *
 * @example
 * ```ts
 * import * as Ramp from "./dsl/Ramp.js"
 * import type * as Optimizers from "./src/compile/optimizers.js"
 * const hyper: Optimizers.Hyper = (num) => Ramp.evaluate(num, { step: 0, epoch: 0, progress: 0 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Hyper = (num: Ramp.Num) => number

/**
 * An optimiser's state: per-parameter moment buffers keyed by the parameter's path (`[]` for
 * plain SGD, `[momentum]` for SGD with momentum, `[m, v]` for Adam/AdamW; non-trainable
 * variables), and the number of updates applied so far.
 *
 * @example
 * ```ts
 * import type * as Optimizers from "./src/compile/optimizers.js"
 * const empty: Optimizers.OptimizerState = { slots: {}, step: 0 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface OptimizerState {
  readonly slots: Record<string, Array<tf.Variable>>
  step: number
}

/**
 * A compiled optimiser.
 *
 * - `slotsPerParam`: how many moment buffers each parameter has.
 * - `init(params)`: allocates zeroed moment buffers (step 0).
 * - `apply(state, params, grads, hyper)`: one update of every parameter that has a gradient in
 *   `grads` (keyed by path; parameters without one are left alone), in place, synchronous;
 *   increments `state.step` first (Adam's bias correction uses the incremented step).
 * - `hyperValues(hyper)`: the evaluated hyper-parameters (`lr`, `weightDecay`, `clipNorm`, …),
 *   for reports.
 *
 * @example
 * ```ts
 * import * as Optimizer from "./dsl/Optimizer.js"
 * import * as Optimizers from "./src/compile/optimizers.js"
 * const c: Optimizers.Compiled = Optimizers.compile(Optimizer.sgd({ lr: 0.1, momentum: 0.9 }))
 * c.slotsPerParam // 1
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Compiled {
  readonly optimizer: Optimizer.Optimizer
  readonly slotsPerParam: number
  readonly init: (params: ReadonlyArray<Param>) => OptimizerState
  readonly apply: (
    state: OptimizerState,
    params: ReadonlyArray<Param>,
    grads: Readonly<Record<string, tf.Tensor>>,
    hyper: Hyper,
  ) => void
  readonly hyperValues: (hyper: Hyper) => Record<string, number>
}

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

const origin: Ramp.Clock = { step: 0, epoch: 0, progress: 0 }

/** A number or ramp that is 0 at every clock. */
const alwaysZero = (num: Ramp.Num): boolean => Ramp.isConstant(num) && Ramp.evaluate(num, origin) === 0

const zeroSlot = (v: tf.Variable): tf.Variable => {
  const zeros = tf.zerosLike(v)
  const slot = tf.variable(zeros, false)
  zeros.dispose()
  return slot
}

const initWith =
  (count: number) =>
  (params: ReadonlyArray<Param>): OptimizerState => {
    const slots: Record<string, Array<tf.Variable>> = {}
    for (const p of params) {
      if (slots[p.path] !== undefined) throw new Error(`duplicate parameter path "${p.path}"`)
      slots[p.path] = Array.from({ length: count }, () => zeroSlot(p.variable))
    }
    return { slots, step: 0 }
  }

const slotsOf = (state: OptimizerState, path: string, count: number): Array<tf.Variable> => {
  const s = state.slots[path]
  if (s === undefined || s.length !== count)
    throw new Error(
      `optimizer state has no ${count} moment buffer(s) for "${path}": was it initialised with it?`,
    )
  return s
}

/** The parameters that have a gradient, with it (scaled by the clipping factor when on). */
const gradients = (
  params: ReadonlyArray<Param>,
  grads: Readonly<Record<string, tf.Tensor>>,
  clipNorm: number,
): Array<readonly [Param, tf.Tensor]> => {
  const pairs: Array<readonly [Param, tf.Tensor]> = []
  for (const p of params) {
    const g = grads[p.path]
    if (g !== undefined) pairs.push([p, g])
  }
  if (!(clipNorm > 0) || pairs.length === 0) return pairs
  // PyTorch's clip_grad_norm_: g ← g · min(1, c / (‖g‖ + 1e-6)), ‖·‖ over all gradients.
  const squares = pairs.map(([, g]) => tf.sum(tf.square(g)))
  const norm = tf.sqrt(squares.length === 1 ? squares[0]! : tf.addN(squares))
  const factor = tf.minimum(tf.div(clipNorm, tf.add(norm, 1e-6)), 1)
  return pairs.map(([p, g]) => [p, tf.mul(g, factor)] as const)
}

const values = (opt: Optimizer.Optimizer, hyper: Hyper): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(Optimizer.hyperParameters(opt))) out[k] = hyper(v)
  return out
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

const sgd = (opt: Optimizer.Sgd): Compiled => {
  const slotsPerParam = alwaysZero(opt.momentum) ? 0 : 1
  return {
    optimizer: opt,
    slotsPerParam,
    init: initWith(slotsPerParam),
    hyperValues: (hyper) => values(opt, hyper),
    apply: (state, params, grads, hyper) => {
      state.step += 1
      const lr = hyper(opt.lr)
      const mu = slotsPerParam === 0 ? 0 : hyper(opt.momentum)
      const wd = hyper(opt.weightDecay)
      const clip = hyper(opt.clipNorm)
      tf.tidy(() => {
        const sLr = tf.scalar(lr)
        const sMu = tf.scalar(mu)
        const sWd = tf.scalar(wd)
        for (const [p, grad] of gradients(params, grads, clip)) {
          let g = wd === 0 ? grad : tf.add(grad, tf.mul(p.variable, sWd))
          if (slotsPerParam === 1) {
            const buf = slotsOf(state, p.path, 1)[0]!
            const b = tf.add(tf.mul(buf, sMu), g)
            buf.assign(b)
            g = opt.nesterov ? tf.add(g, tf.mul(b, sMu)) : b
          }
          p.variable.assign(tf.sub(p.variable, tf.mul(g, sLr)))
        }
      })
    },
  }
}

/**
 * Whether the fused Adam kernel is worth running: on the wasm backend with Retort's kernels and
 * the native addon (measured: its plain-JS fallback is slower than tfjs-wasm's element-wise ops,
 * 14.8 vs 8.5 ms per W1 step, so without the addon the stock ops are used).
 * `RETORT_FUSED_ADAM=0` turns it off.
 */
const fusedAvailable = (): boolean =>
  process.env.RETORT_FUSED_ADAM !== "0" &&
  tf.getBackend() === "wasm" &&
  kernelReport()?.native === true &&
  tf.getKernel(AdamKernel.kernelName, "wasm") !== undefined

const adam = (opt: Optimizer.Adam | Optimizer.AdamW): Compiled => {
  const decoupled = opt._tag === "AdamW"
  return {
    optimizer: opt,
    slotsPerParam: 2,
    init: initWith(2),
    hyperValues: (hyper) => values(opt, hyper),
    apply: (state, params, grads, hyper) => {
      state.step += 1
      const t = state.step
      const lr = hyper(opt.lr)
      const b1 = hyper(opt.beta1)
      const b2 = hyper(opt.beta2)
      const wd = hyper(opt.weightDecay)
      const clip = hyper(opt.clipNorm)
      const stepSize = lr / (1 - b1 ** t)
      const sqrtBc2 = Math.sqrt(1 - b2 ** t)
      if (fusedAvailable()) {
        // one kernel per parameter (moments and weights in a single pass) instead of ~12 ops
        const attrs = {
          learningRate: lr,
          beta1: b1,
          beta2: b2,
          epsilon: opt.epsilon,
          accBeta1: b1 ** t,
          accBeta2: b2 ** t,
        }
        tf.tidy(() => {
          const sWd = tf.scalar(wd)
          const sDecay = tf.scalar(1 - lr * wd)
          for (const [p, grad] of gradients(params, grads, clip)) {
            const [m, v] = slotsOf(state, p.path, 2) as [tf.Variable, tf.Variable]
            let theta: tf.Tensor = p.variable
            let g = grad
            if (wd !== 0) {
              if (decoupled) theta = tf.mul(theta, sDecay)
              else g = tf.add(g, tf.mul(theta, sWd))
            }
            const [p2, m2, v2] = tf
              .engine()
              .runKernel(
                AdamKernel.kernelName,
                { param: theta, grad: tf.cast(g, "float32"), m, v },
                attrs as unknown as tf.NamedAttrMap,
              ) as Array<tf.Tensor>
            m.assign(m2!)
            v.assign(v2!)
            p.variable.assign(p2!)
          }
        })
        return
      }
      tf.tidy(() => {
        const sB1 = tf.scalar(b1)
        const sB2 = tf.scalar(b2)
        const s1mB1 = tf.scalar(1 - b1)
        const s1mB2 = tf.scalar(1 - b2)
        const sInvBc2 = tf.scalar(1 / sqrtBc2)
        const sEps = tf.scalar(opt.epsilon)
        const sStep = tf.scalar(stepSize)
        const sWd = tf.scalar(wd)
        const sDecay = tf.scalar(1 - lr * wd)
        for (const [p, grad] of gradients(params, grads, clip)) {
          const [m, v] = slotsOf(state, p.path, 2) as [tf.Variable, tf.Variable]
          let theta: tf.Tensor = p.variable
          let g = grad
          if (wd !== 0) {
            if (decoupled) theta = tf.mul(theta, sDecay)
            else g = tf.add(g, tf.mul(theta, sWd))
          }
          const m1 = tf.add(tf.mul(m, sB1), tf.mul(g, s1mB1))
          const v1 = tf.add(tf.mul(v, sB2), tf.mul(tf.square(g), s1mB2))
          m.assign(m1)
          v.assign(v1)
          const denom = tf.add(tf.mul(tf.sqrt(v1), sInvBc2), sEps)
          p.variable.assign(tf.sub(theta, tf.mul(tf.div(m1, denom), sStep)))
        }
      })
    },
  }
}

type Compilers = {
  readonly [K in Optimizer.Optimizer["_tag"]]: (
    opt: Extract<Optimizer.Optimizer, { readonly _tag: K }>,
  ) => Compiled
}

const compilers: Compilers = { Sgd: sgd, Adam: adam, AdamW: adam }

/**
 * Compiles an optimiser description. Update rules, as PyTorch's:
 *
 * - clipping (`clipNorm > 0`): every gradient × `min(1, c / (‖g‖ + 1e-6))`, with ‖g‖ the norm
 *   of all of this optimiser's gradients together, before weight decay;
 * - `Sgd`: `g += wd·θ`; with momentum `b ← μ·b + g` and `g ← b` (Nesterov: `g ← g + μ·b`);
 *   `θ ← θ − lr·g`;
 * - `Adam`: `g += wd·θ`; `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`;
 *   `θ ← θ − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)`;
 * - `AdamW`: `θ ← θ·(1 − lr·wd)`, then the Adam update without L2 in the gradient.
 *
 * SGD allocates no momentum buffers when its momentum is the constant 0.
 *
 * @example
 * ```ts
 * import * as Optimizer from "./dsl/Optimizer.js"
 * import * as Optimizers from "./src/compile/optimizers.js"
 * const adamw = Optimizers.compile(Optimizer.adamw({ lr: 1e-3, weightDecay: 0.05, clipNorm: 1 }))
 * adamw.hyperValues((num) => (typeof num === "number" ? num : 0)) // { lr: 0.001, beta1: 0.9, beta2: 0.999, weightDecay: 0.05, clipNorm: 1 }
 * ```
 *
 * @since 0.1.0
 * @category compiling
 */
export const compile = (opt: Optimizer.Optimizer): Compiled =>
  (compilers[opt._tag] as (opt: Optimizer.Optimizer) => Compiled)(opt)

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

/**
 * An optimiser state as plain arrays, for checkpoints: the step count, and per parameter path
 * its moment buffers, flattened row-major.
 *
 * @example
 * ```ts
 * import type * as Optimizers from "./src/compile/optimizers.js"
 * const a: Optimizers.OptimizerArrays = { step: 3, slots: { w: [new Float32Array([0.1, 0.2])] } }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface OptimizerArrays {
  readonly step: number
  readonly slots: Readonly<Record<string, ReadonlyArray<Float32Array>>>
}

/**
 * Reads an optimiser state back to JS (asynchronously: one `data()` per buffer).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Optimizers from "./src/compile/optimizers.js"
 * const arrays = await Effect.runPromise(Optimizers.stateToArrays({ slots: {}, step: 0 }))
 * ```
 *
 * @since 0.1.0
 * @category serialisation
 */
export const stateToArrays = (state: OptimizerState): Effect.Effect<OptimizerArrays> =>
  Effect.promise(async () => {
    const slots: Record<string, Array<Float32Array>> = {}
    for (const [path, buffers] of Object.entries(state.slots))
      slots[path] = await Promise.all(buffers.map(async (b) => Float32Array.from(await b.data())))
    return { step: state.step, slots }
  })

/**
 * Rebuilds an optimiser state (new variables) from arrays, for the given parameters and number
 * of buffers per parameter (`compiled.slotsPerParam`). Fails with a {@link ShapeError} when a
 * parameter is missing or extra, or a buffer's length or count does not match.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Effect } from "effect"
 * import * as Optimizers from "./src/compile/optimizers.js"
 * const params = [{ path: "w", variable: tf.variable(tf.zeros([2])) }]
 * const state = Effect.runSync(Optimizers.stateFromArrays({ step: 3, slots: { w: [new Float32Array(2)] } }, params, 1))
 * ```
 *
 * @since 0.1.0
 * @category serialisation
 */
export const stateFromArrays = (
  arrays: OptimizerArrays,
  params: ReadonlyArray<Param>,
  slotsPerParam: number,
): Effect.Effect<OptimizerState, ShapeError> =>
  Effect.suspend(() => {
    const fail = (path: string, message: string) =>
      Effect.fail(new ShapeError({ path: `optimizer.${path}`, message }))
    const known = new Set(params.map((p) => p.path))
    for (const path of Object.keys(arrays.slots))
      if (!known.has(path))
        return fail(path, `the saved optimizer state has buffers for an unknown parameter "${path}"`)
    for (const p of params) {
      const buffers = arrays.slots[p.path]
      if (buffers === undefined)
        return fail(p.path, `the saved optimizer state has no buffers for "${p.path}"`)
      if (buffers.length !== slotsPerParam)
        return fail(
          p.path,
          `"${p.path}" has ${buffers.length} saved buffer(s), the optimizer needs ${slotsPerParam}`,
        )
      for (const b of buffers)
        if (b.length !== p.variable.size)
          return fail(
            p.path,
            `a saved buffer of "${p.path}" has ${b.length} values, the parameter ${p.variable.size}`,
          )
    }
    const slots: Record<string, Array<tf.Variable>> = {}
    for (const p of params)
      slots[p.path] = arrays.slots[p.path]!.map((b) =>
        tf.tidy(() => tf.variable(tf.tensor(b, p.variable.shape, "float32"), false)),
      )
    return Effect.succeed({ slots, step: arrays.step })
  })

/**
 * Frees an optimiser state's buffers.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Optimizer from "./dsl/Optimizer.js"
 * import * as Optimizers from "./src/compile/optimizers.js"
 * const state = Optimizers.compile(Optimizer.adam({ lr: 1e-3 })).init([{ path: "w", variable: tf.variable(tf.zeros([2])) }])
 * Optimizers.dispose(state)
 * ```
 *
 * @since 0.1.0
 * @category resources
 */
export const dispose = (state: OptimizerState): void => {
  for (const buffers of Object.values(state.slots)) for (const b of buffers) b.dispose()
}
