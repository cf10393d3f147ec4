/**
 * The TensorFlow.js side of learned hyper-parameters (see `dsl/Learned.ts`): their variables,
 * their constrained values as tensors, numbers-or-ramps resolved to tensors where they read a
 * learned value ({@link resolve}), and the look-ahead hyper-gradient ({@link hypergradient}).
 *
 * Everything is synchronous and allocates only transient tensors: call it inside the step's
 * `tf.tidy` (except {@link create}, whose variables live in the training state).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Learned from "./dsl/Learned.js"
 * import * as Ramp from "./dsl/Ramp.js"
 * import * as Learning from "./src/compile/learned.js"
 * const T = Learning.create(Learned.positive(4))
 * const clock = { step: 0, epoch: 0, progress: 0 }
 * const twice = tf.tidy(() => Learning.resolve(Ramp.scale(Ramp.learned("T"), 2), clock, () => Learning.currentValue(T)))
 * // a scalar tensor ≈ 8
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Learned from "../../dsl/Learned.js"
import * as Ramp from "../../dsl/Ramp.js"

/**
 * A learned parameter in the training state: its declaration and the unconstrained variable
 * the optimiser moves.
 *
 * @example
 * ```ts
 * import * as Learned from "./dsl/Learned.js"
 * import * as Learning from "./src/compile/learned.js"
 * const slot: Learning.LearnedSlot = Learning.create(Learned.positive(2))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface LearnedSlot {
  readonly param: Learned.Param
  readonly variable: tf.Variable
}

/**
 * A fresh variable for a parameter, at its initial value (`u = unconstrained(init)`).
 *
 * @example
 * ```ts
 * import * as Learned from "./dsl/Learned.js"
 * import * as Learning from "./src/compile/learned.js"
 * const slot = Learning.create(Learned.range(0.5, { min: 0, max: 1 }))
 * slot.variable.dataSync() // [0]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const create = (param: Learned.Param): LearnedSlot => {
  const init = tf.scalar(Learned.unconstrained(param, param.init))
  const variable = tf.variable(init, true)
  init.dispose()
  return { param, variable }
}

/** `log(1 + eᵘ)`, stable, with the exact gradient σ(u) everywhere (also at 0). */
const softplus = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const u = args[0] as tf.Tensor
  ;(args[1] as tf.GradSaveFunc)([u])
  return {
    value: tf.add(tf.relu(u), tf.log1p(tf.exp(tf.neg(tf.abs(u))))),
    gradFunc: (dy: tf.Tensor, saved: Array<tf.Tensor>) => tf.mul(dy, tf.sigmoid(saved[0]!)),
  }
})

/**
 * The constrained value of a parameter as a scalar tensor, differentiable in its variable.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Learned from "./dsl/Learned.js"
 * import * as Learning from "./src/compile/learned.js"
 * const T = Learning.create(Learned.positive(4))
 * tf.tidy(() => Learning.currentValue(T).dataSync()) // [4]
 * ```
 *
 * @since 0.1.0
 * @category evaluation
 */
export const currentValue = (slot: LearnedSlot): tf.Scalar => {
  const c = slot.param.constraint
  const u = slot.variable as tf.Scalar
  switch (c._tag) {
    case "Real":
      return tf.clone(u)
    case "Positive":
      return tf.add(softplus(u) as tf.Scalar, c.min)
    case "Range":
      return tf.add(tf.mul(tf.sigmoid(u), c.max - c.min), c.min)
  }
}

type Value = number | tf.Scalar

const toT = (v: Value): tf.Tensor => (typeof v === "number" ? tf.scalar(v) : v)

const lift2 = (
  a: Value,
  b: Value,
  n: (x: number, y: number) => number,
  t: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor,
): Value => (typeof a === "number" && typeof b === "number" ? n(a, b) : (t(toT(a), toT(b)) as tf.Scalar))

/**
 * A number or ramp at a clock: a plain number when it reads no learned value, else a scalar
 * tensor computed from `value(name)` through its arithmetic nodes (time-dependent parts are
 * evaluated on the host and enter as constants). Throws for a learned value inside a schedule
 * (`Warmup`, `Sequence`), which validation refuses.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Ramp from "./dsl/Ramp.js"
 * import * as Learning from "./src/compile/learned.js"
 * const clock = { step: 0, epoch: 0, progress: 0 }
 * Learning.resolve(0.5, clock, () => tf.scalar(1)) // 0.5
 * tf.tidy(() => (Learning.resolve(Ramp.add(Ramp.learned("w"), 1), clock, () => tf.scalar(2)) as tf.Scalar).dataSync()) // [3]
 * ```
 *
 * @since 0.1.0
 * @category evaluation
 */
export const resolve = (num: Ramp.Num, clock: Ramp.Clock, value: (name: string) => tf.Scalar): Value => {
  if (typeof num === "number") return num
  if (!Ramp.isLearned(num)) return Ramp.evaluate(num, clock)
  const r = (n: Ramp.Num) => resolve(n, clock, value)
  switch (num._tag) {
    case "Learned":
      return value(num.name)
    case "Add":
      return lift2(r(num.a), r(num.b), (a, b) => a + b, tf.add)
    case "Mul":
      return lift2(r(num.a), r(num.b), (a, b) => a * b, tf.mul)
    case "Min":
      return lift2(r(num.a), r(num.b), Math.min, tf.minimum)
    case "Max":
      return lift2(r(num.a), r(num.b), Math.max, tf.maximum)
    case "Scale":
      return lift2(r(num.ramp), num.k, (a, b) => a * b, tf.mul)
    case "Clamp": {
      let v = r(num.ramp)
      if (num.min !== undefined) v = lift2(v, num.min, Math.max, tf.maximum)
      if (num.max !== undefined) v = lift2(v, num.max, Math.min, tf.minimum)
      return v
    }
    default:
      throw new Error(
        `${Ramp.describe(num)}: a learned value inside a schedule cannot be computed as a tensor (combine it with add, mul, scale, clamp, min, max)`,
      )
  }
}

/**
 * The look-ahead hyper-gradient of `hyper` (DARTS' second-order approximation, Liu et al. 2019):
 *
 * 1. `g = ∇θ inner(θ, λ)`; `θ' = θ − lr·g` (a virtual SGD step, undone before returning);
 * 2. `value = outer(θ', λ)`, `v = ∇θ' outer`, `d = ∂outer/∂λ` (0 where outer does not read λ);
 * 3. `ε = epsilon / ‖v‖`; `h = d − lr·[∇λ inner(θ + εv, λ) − ∇λ inner(θ − εv, λ)] / 2ε`,
 *
 * which is `d outer(θ − lr·∇θ inner(θ, λ), λ) / dλ` up to `O(ε²)` (exact when `inner` is
 * quadratic in θ). The weights are restored exactly (assigned their saved values). Returns the
 * objective at `θ'` and `h` by variable name.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Learning from "./src/compile/learned.js"
 * // inner = ½(θ − λ)², outer = ½(θ − 3)²: dλ outer(θ − η(θ − λ)) = η·(θ' − 3)
 * const theta = tf.variable(tf.scalar(1))
 * const lambda = tf.variable(tf.scalar(2))
 * const h = tf.tidy(() => {
 *   const r = Learning.hypergradient({
 *     weights: [theta],
 *     hyper: [lambda],
 *     inner: () => tf.mul(tf.square(tf.sub(theta, lambda)), 0.5) as tf.Scalar,
 *     outer: () => tf.mul(tf.square(tf.sub(theta, 3)), 0.5) as tf.Scalar,
 *     lr: 0.5,
 *   })
 *   return r.grads[lambda.name]!.dataSync()[0] // 0.5·(1.5 − 3) = −0.75
 * })
 * ```
 *
 * @since 0.1.0
 * @category gradients
 */
export const hypergradient = (options: {
  readonly weights: ReadonlyArray<tf.Variable>
  readonly hyper: ReadonlyArray<tf.Variable>
  readonly inner: () => tf.Scalar
  readonly outer: () => tf.Scalar
  readonly lr: number
  readonly epsilon?: number
}): { readonly value: tf.Scalar; readonly grads: Readonly<Record<string, tf.Tensor>> } => {
  const { weights, hyper, inner, outer, lr } = options
  const r = options.epsilon ?? 0.01
  const saved = weights.map((w) => tf.clone(w))
  const restore = () => {
    weights.forEach((w, i) => {
      w.assign(saved[i]!)
    })
  }
  try {
    const g = tf.variableGrads(inner, [...weights]).grads
    weights.forEach((w, i) => {
      const gi = g[w.name]
      if (gi) w.assign(tf.sub(saved[i]!, tf.mul(gi, lr)))
    })
    const o = tf.variableGrads(outer, [...weights, ...hyper])
    const v = weights.map((w) => o.grads[w.name] ?? tf.zerosLike(w))
    const norm = tf.sqrt(tf.addN(v.map((x) => tf.sum(tf.square(x)))))
    const eps = tf.div(r, tf.add(norm, 1e-12)) as tf.Scalar
    const at = (sign: 1 | -1) => {
      weights.forEach((w, i) => {
        w.assign(tf.add(saved[i]!, tf.mul(v[i]!, sign === 1 ? eps : tf.neg(eps))))
      })
      return tf.variableGrads(inner, [...hyper]).grads
    }
    const plus = at(1)
    const minus = at(-1)
    const grads: Record<string, tf.Tensor> = {}
    const scale = tf.div(lr, tf.mul(eps, 2))
    for (const h of hyper) {
      const gp = plus[h.name] ?? tf.zerosLike(h)
      const gm = minus[h.name] ?? tf.zerosLike(h)
      const second = tf.mul(tf.sub(gp, gm), scale)
      const direct = o.grads[h.name]
      grads[h.name] = direct ? tf.sub(direct, second) : tf.neg(second)
    }
    return { value: o.value, grads }
  } finally {
    restore()
  }
}
