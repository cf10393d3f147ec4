/**
 * Optimisers as data. Learning rate, weight decay, momentum and gradient-norm clipping each
 * take a number or a {@link Ramp}, evaluated at every step.
 *
 * @example
 * ```ts
 * import { Optimizer, Ramp } from "retort/dsl"
 * const adam = Optimizer.adam({ lr: Ramp.warmupCosine({ peak: 1e-3, warmup: 0.05 }) })
 * const sgd = Optimizer.sgd({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4, clipNorm: 1 })
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Ramp from "./Ramp.js"

type Num = Ramp.Num

/**
 * Stochastic gradient descent with optional (Nesterov) momentum and coupled L2 weight decay.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sgd {
  readonly _tag: "Sgd"
  readonly lr: Num
  readonly momentum: Num
  readonly nesterov: boolean
  readonly weightDecay: Num
  /** Clip the global gradient norm to this value; 0 = no clipping. */
  readonly clipNorm: Num
}

/**
 * Adam (Kingma & Ba) with coupled L2 weight decay (`weightDecay` is added to the gradient).
 *
 * @since 0.1.0
 * @category models
 */
export interface Adam {
  readonly _tag: "Adam"
  readonly lr: Num
  readonly beta1: Num
  readonly beta2: Num
  readonly epsilon: number
  readonly weightDecay: Num
  readonly clipNorm: Num
}

/**
 * AdamW (Loshchilov & Hutter): Adam with decoupled weight decay (`θ ← θ − lr·wd·θ`).
 *
 * @since 0.1.0
 * @category models
 */
export interface AdamW {
  readonly _tag: "AdamW"
  readonly lr: Num
  readonly beta1: Num
  readonly beta2: Num
  readonly epsilon: number
  readonly weightDecay: Num
  readonly clipNorm: Num
}

/**
 * An optimiser description.
 *
 * @since 0.1.0
 * @category models
 */
export type Optimizer = Sgd | Adam | AdamW

/**
 * SGD. Defaults: momentum 0, no Nesterov, no weight decay, no clipping.
 *
 * @example
 * ```ts
 * import { Optimizer, Ramp } from "retort/dsl"
 * const opt = Optimizer.sgd({ lr: Ramp.cosine({ from: 0.1, to: 0 }), momentum: 0.9 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const sgd = (options: {
  readonly lr: Num
  readonly momentum?: Num
  readonly nesterov?: boolean
  readonly weightDecay?: Num
  readonly clipNorm?: Num
}): Sgd => ({
  _tag: "Sgd",
  lr: options.lr,
  momentum: options.momentum ?? 0,
  nesterov: options.nesterov ?? false,
  weightDecay: options.weightDecay ?? 0,
  clipNorm: options.clipNorm ?? 0,
})

/**
 * Options of the Adam family.
 *
 * @since 0.1.0
 * @category models
 */
export interface AdamOptions {
  readonly lr: Num
  readonly beta1?: Num
  readonly beta2?: Num
  readonly epsilon?: number
  readonly weightDecay?: Num
  readonly clipNorm?: Num
}

const adamFamily =
  <T extends "Adam" | "AdamW">(_tag: T, weightDecay: number) =>
  (options: AdamOptions) => ({
    _tag,
    lr: options.lr,
    beta1: options.beta1 ?? 0.9,
    beta2: options.beta2 ?? 0.999,
    epsilon: options.epsilon ?? 1e-8,
    weightDecay: options.weightDecay ?? weightDecay,
    clipNorm: options.clipNorm ?? 0,
  })

/**
 * Adam. Defaults: β₁ 0.9, β₂ 0.999, ε 1e-8 (as PyTorch), no weight decay, no clipping.
 *
 * @example
 * ```ts
 * import { Optimizer } from "retort/dsl"
 * const opt = Optimizer.adam({ lr: 1e-3 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const adam: (options: AdamOptions) => Adam = adamFamily("Adam", 0)

/**
 * AdamW with decoupled weight decay (default 0.01, as PyTorch).
 *
 * @example
 * ```ts
 * import { Optimizer, Ramp } from "retort/dsl"
 * const opt = Optimizer.adamw({ lr: 1e-3, weightDecay: Ramp.easyHardEasy({ low: 5e-5, high: 5e-4 }) })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const adamw: (options: AdamOptions) => AdamW = adamFamily("AdamW", 0.01)

/**
 * The scheduled hyper-parameters of an optimiser, by name.
 *
 * @example
 * ```ts
 * import { Optimizer } from "retort/dsl"
 * Object.keys(Optimizer.hyperParameters(Optimizer.adam({ lr: 1e-3 }))) // ["lr", "beta1", "beta2", "weightDecay", "clipNorm"]
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const hyperParameters = (opt: Optimizer): Readonly<Record<string, Num>> => {
  switch (opt._tag) {
    case "Sgd":
      return { lr: opt.lr, momentum: opt.momentum, weightDecay: opt.weightDecay, clipNorm: opt.clipNorm }
    case "Adam":
    case "AdamW":
      return {
        lr: opt.lr,
        beta1: opt.beta1,
        beta2: opt.beta2,
        weightDecay: opt.weightDecay,
        clipNorm: opt.clipNorm,
      }
  }
}

/**
 * A one-line description.
 *
 * @since 0.1.0
 * @category formatting
 */
export const describe = (opt: Optimizer): string =>
  `${opt._tag.toLowerCase()}(${Object.entries(hyperParameters(opt))
    .filter(([k, v]) => k === "lr" || v !== 0)
    .map(([k, v]) => `${k}=${Ramp.describe(v)}`)
    .join(", ")})`

const Num = Ramp.NumSchema

const adamSchema = <T extends "Adam" | "AdamW">(tag: T) =>
  Schema.Struct({
    _tag: Schema.Literal(tag),
    lr: Num,
    beta1: Num,
    beta2: Num,
    epsilon: Schema.Finite,
    weightDecay: Num,
    clipNorm: Num,
  })

/**
 * Schema of an optimiser (JSON-friendly).
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema: Schema.Codec<Optimizer> = Schema.Union([
  Schema.Struct({
    _tag: Schema.Literal("Sgd"),
    lr: Num,
    momentum: Num,
    nesterov: Schema.Boolean,
    weightDecay: Num,
    clipNorm: Num,
  }),
  adamSchema("Adam"),
  adamSchema("AdamW"),
])
