/**
 * Learned hyper-parameters: scalars owned by the pipeline (its `params`), with an initial value
 * and a constraint, optimised by an optimise stage's {@link Lookahead} meta-update, and read
 * wherever the step computes a hyper-parameter as a tensor through `Ramp.learned(name)` — loss
 * weights and KD / relation temperatures.
 *
 * Why a meta-update: minimising the training loss itself with respect to a KD temperature is
 * degenerate (the KD term `T²·KL(p_t^T ‖ p_s^T)` is driven to 0 by any `T` that flattens both
 * distributions, or by `T → 0` — nothing in it says which `T` teaches best). A {@link Lookahead}
 * asks instead how the temperature changes the *student after its update*: it takes a virtual
 * SGD step `θ' = θ − η·∇θ L_train(θ, λ)` on some rows of the batch and moves `λ` to lower an
 * objective (the student's cross-entropy) on the other, held-out rows at `θ'`:
 *
 * `dL_val(θ')/dλ = ∂L_val/∂λ − η · ∇²_{λθ} L_train(θ, λ) · ∇θ' L_val(θ')`
 *
 * The mixed second derivative is a Hessian-vector product, computed by a central finite
 * difference along `v = ∇θ' L_val(θ')` (the second-order approximation of DARTS, Liu et al.
 * 2019): `∇²_{λθ}L·v ≈ [∇λ L_train(θ + εv, λ) − ∇λ L_train(θ − εv, λ)] / 2ε`, `ε = r/‖v‖`.
 * The first-order shortcut (drop that term) gives a KD temperature no gradient at all, since the
 * held-out cross-entropy does not read it. Cost per meta-update: one forward + backward on the
 * training rows, one on the held-out rows, two forwards with cheap backwards (only through the
 * loss head) — set `every` to amortise it.
 *
 * @example
 * ```ts
 * import { Learned, Loss, Model, Optimizer, Phase, Pipeline, Ramp, Step } from "retort/dsl"
 * const p = Pipeline.make({
 *   name: "learned-t",
 *   models: { teacher: Model.mlp({ hidden: [64], classes: 10 }), student: Model.mlp({ hidden: [64], classes: 10 }) },
 *   params: { T: Learned.positive(4) },
 *   phases: [
 *     Phase.make({
 *       name: "distil",
 *       step: Step.start.pipe(
 *         Step.forward("teacher", { as: "t", mode: "frozen" }),
 *         Step.forward("student", { as: "s" }),
 *         Step.loss({ kd: Loss.kl({ teacher: "t", student: "s", temperature: Ramp.learned("T") }) }),
 *         Step.optimize("student", Optimizer.adam({ lr: 1e-3 }), {
 *           learn: Learned.lookahead("T", {
 *             optimizer: Optimizer.adam({ lr: 0.01 }),
 *             objective: Loss.crossEntropy({ logits: "s" }),
 *           }),
 *         }),
 *       ),
 *     }),
 *   ],
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Issue from "./Issue.js"
import * as Loss from "./Loss.js"
import * as Optimizer from "./Optimizer.js"
import * as Ramp from "./Ramp.js"

type Num = Ramp.Num

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

/**
 * How the unconstrained variable `u` (what the optimiser moves) maps to the value:
 *
 * - `Real`: `u`.
 * - `Positive`: `min + softplus(u)` (`> min`; a temperature).
 * - `Range`: `min + (max − min)·σ(u)` (in `(min, max)`; a loss weight in (0, 1)).
 *
 * @example
 * ```ts
 * import { Learned } from "retort/dsl"
 * const c: Learned.Constraint = { _tag: "Range", min: 0, max: 1 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Constraint =
  | { readonly _tag: "Real" }
  | { readonly _tag: "Positive"; readonly min: number }
  | { readonly _tag: "Range"; readonly min: number; readonly max: number }

/**
 * A learned scalar hyper-parameter: its initial value and its constraint.
 *
 * @example
 * ```ts
 * import { Learned } from "retort/dsl"
 * const T: Learned.Param = Learned.positive(4)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Param {
  readonly _tag: "Param"
  readonly init: number
  readonly constraint: Constraint
}

/**
 * A positive parameter, `min + softplus(u)` (default `min` 0): a temperature.
 *
 * @example
 * ```ts
 * import { Learned } from "retort/dsl"
 * const T = Learned.positive(4, { min: 0.5 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const positive = (init: number, options?: { readonly min?: number }): Param => ({
  _tag: "Param",
  init,
  constraint: { _tag: "Positive", min: options?.min ?? 0 },
})

/**
 * A parameter in `(min, max)`, `min + (max − min)·σ(u)`: a loss weight.
 *
 * @example
 * ```ts
 * import { Learned } from "retort/dsl"
 * const alpha = Learned.range(0.5, { min: 0, max: 1 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const range = (init: number, options: { readonly min: number; readonly max: number }): Param => ({
  _tag: "Param",
  init,
  constraint: { _tag: "Range", min: options.min, max: options.max },
})

/**
 * An unconstrained parameter.
 *
 * @example
 * ```ts
 * import { Learned } from "retort/dsl"
 * const bias = Learned.real(0)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const real = (init: number): Param => ({ _tag: "Param", init, constraint: { _tag: "Real" } })

const softplus = (u: number): number => Math.max(u, 0) + Math.log1p(Math.exp(-Math.abs(u)))
const sigmoid = (u: number): number => 1 / (1 + Math.exp(-u))

/**
 * The value of a parameter whose unconstrained variable is `u` (host arithmetic, the same map the
 * step computes on tensors).
 *
 * @example
 * ```ts
 * import { Learned } from "retort/dsl"
 * Learned.value(Learned.range(0.5, { min: 0, max: 1 }), 0) // 0.5
 * ```
 *
 * @since 0.1.0
 * @category evaluation
 */
export const value = (param: Param, u: number): number => {
  const c = param.constraint
  switch (c._tag) {
    case "Real":
      return u
    case "Positive":
      return c.min + softplus(u)
    case "Range":
      return c.min + (c.max - c.min) * sigmoid(u)
  }
}

/**
 * The unconstrained variable that gives a value (the inverse of {@link value}); the variable
 * starts at `unconstrained(param, param.init)`.
 *
 * @example
 * ```ts
 * import { Learned } from "retort/dsl"
 * const T = Learned.positive(4)
 * Learned.value(T, Learned.unconstrained(T, 4)) // 4 (up to rounding)
 * ```
 *
 * @since 0.1.0
 * @category evaluation
 */
export const unconstrained = (param: Param, v: number): number => {
  const c = param.constraint
  switch (c._tag) {
    case "Real":
      return v
    case "Positive": {
      const d = v - c.min
      // softplus⁻¹(d) = log(eᵈ − 1) = d + log(1 − e⁻ᵈ)
      return d > 20 ? d : d + Math.log(-Math.expm1(-d))
    }
    case "Range": {
      const p = (v - c.min) / (c.max - c.min)
      return Math.log(p / (1 - p))
    }
  }
}

/**
 * A one-line description.
 *
 * @example
 * ```ts
 * import { Learned } from "retort/dsl"
 * Learned.describe(Learned.positive(4)) // "positive, init 4"
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const describe = (param: Param): string => {
  const c = param.constraint
  const kind =
    c._tag === "Real"
      ? "real"
      : c._tag === "Positive"
        ? c.min === 0
          ? "positive"
          : `> ${c.min}`
        : `in (${c.min}, ${c.max})`
  return `${kind}, init ${param.init}`
}

// ---------------------------------------------------------------------------------------------
// The meta-update
// ---------------------------------------------------------------------------------------------

/**
 * A look-ahead meta-update of learned parameters, attached to an optimise stage (its `learn`):
 * every `every` steps, before the models' own update, the batch is split into training rows and
 * `holdout` held-out rows; a virtual SGD step of the stage's models with learning rate `lr` on
 * the training rows' loss is taken, and `params` move (with their own `optimizer`) to lower
 * `objective` on the held-out rows at the looked-ahead weights. See the module documentation for
 * the hyper-gradient; `epsilon` is the finite-difference radius `r` (`ε = r/‖v‖`).
 *
 * @example
 * ```ts
 * import { Learned, Loss, Optimizer } from "retort/dsl"
 * const update: Learned.Lookahead = Learned.lookahead("T", {
 *   optimizer: Optimizer.adam({ lr: 0.02 }),
 *   objective: Loss.crossEntropy({ logits: "s" }),
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Lookahead {
  readonly _tag: "Lookahead"
  readonly params: ReadonlyArray<string>
  readonly optimizer: Optimizer.Optimizer
  readonly objective: Loss.Loss
  readonly lr: Num
  readonly holdout: number
  readonly every: number
  readonly epsilon: number
}

/**
 * A look-ahead meta-update of `params` (defaults: virtual step `lr` 0.1, half the batch held
 * out, every step, `epsilon` 0.01).
 *
 * @example
 * ```ts
 * import { Learned, Loss, Optimizer } from "retort/dsl"
 * const update = Learned.lookahead(["T", "alpha"], {
 *   optimizer: Optimizer.adam({ lr: 0.01 }),
 *   objective: Loss.crossEntropy({ logits: "s" }),
 *   lr: 0.05,
 *   every: 2,
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const lookahead = (
  params: string | ReadonlyArray<string>,
  options: {
    readonly optimizer: Optimizer.Optimizer
    readonly objective: Loss.Loss
    readonly lr?: Num
    readonly holdout?: number
    readonly every?: number
    readonly epsilon?: number
  },
): Lookahead => ({
  _tag: "Lookahead",
  params: typeof params === "string" ? [params] : [...params],
  optimizer: options.optimizer,
  objective: options.objective,
  lr: options.lr ?? 0.1,
  holdout: options.holdout ?? 0.5,
  every: options.every ?? 1,
  epsilon: options.epsilon ?? 0.01,
})

/**
 * A one-line description of a meta-update.
 *
 * @example
 * ```ts
 * import { Learned, Loss, Optimizer } from "retort/dsl"
 * Learned.describeLookahead(Learned.lookahead("T", { optimizer: Optimizer.adam({ lr: 0.01 }), objective: Loss.crossEntropy({ logits: "s" }) }))
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const describeLookahead = (l: Lookahead): string =>
  `learn ${l.params.join(", ")} by look-ahead (virtual lr ${Ramp.describe(l.lr)}, ${l.holdout} held out, every ${l.every}) on ${Loss.describe(l.objective)} with ${Optimizer.describe(l.optimizer)}`

// ---------------------------------------------------------------------------------------------
// Codec
// ---------------------------------------------------------------------------------------------

const ConstraintSchema: Schema.Codec<Constraint> = Schema.Union([
  Schema.Struct({ _tag: Schema.Literal("Real") }),
  Schema.Struct({ _tag: Schema.Literal("Positive"), min: Schema.Finite }),
  Schema.Struct({ _tag: Schema.Literal("Range"), min: Schema.Finite, max: Schema.Finite }),
])

/**
 * Schema of a {@link Param}.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Learned } from "retort/dsl"
 * Schema.decodeUnknownSync(Learned.paramSchema)({ _tag: "Param", init: 4, constraint: { _tag: "Positive", min: 0 } })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const paramSchema: Schema.Codec<Param> = Schema.Struct({
  _tag: Schema.Literal("Param"),
  init: Schema.Finite,
  constraint: ConstraintSchema,
})

/**
 * Schema of a {@link Lookahead}.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Learned, Loss, Optimizer } from "retort/dsl"
 * const l = Learned.lookahead("T", { optimizer: Optimizer.adam({ lr: 0.01 }), objective: Loss.crossEntropy({ logits: "s" }) })
 * Schema.decodeUnknownSync(Learned.lookaheadSchema)(Schema.encodeSync(Learned.lookaheadSchema)(l))
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const lookaheadSchema: Schema.Codec<Lookahead> = Schema.Struct({
  _tag: Schema.Literal("Lookahead"),
  params: Schema.Array(Schema.String),
  optimizer: Optimizer.schema,
  objective: Loss.schema,
  lr: Ramp.NumSchema,
  holdout: Schema.Finite,
  every: Schema.Finite,
  epsilon: Schema.Finite,
})

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

type Path = ReadonlyArray<string | number>

/** The loss terms whose temperature the step computes as a tensor. */
const tensorTemperature = new Set(["Kl", "Relation"])

/** The minimal shape of a pipeline this module checks (structural, to keep `dsl/` acyclic). */
interface Checked {
  readonly params?: Readonly<Record<string, Param>>
  readonly phases: ReadonlyArray<{
    readonly step: {
      readonly stages: ReadonlyArray<{
        readonly _tag: string
        readonly as?: unknown
        readonly terms?: Readonly<Record<string, Loss.Loss>>
        readonly weights?: Readonly<Record<string, Num>>
        readonly loss?: string
        readonly learn?: Lookahead
      }>
    }
  }>
}

/** Where a ramp may read a learned value: a loss stage's weight, a KL/relation temperature. */
const allowedAt = (p: Checked, path: Path): boolean => {
  if (path[0] !== "phases" || path[2] !== "step" || path[3] !== "stages") return false
  const stage = p.phases[path[1] as number]?.step.stages[path[4] as number]
  if (stage?._tag !== "Loss") return false
  if (path.length === 7 && path[5] === "weights") return true
  if (path.length === 8 && path[5] === "terms" && path[7] === "temperature") {
    const term = stage.terms?.[path[6] as string]
    return term !== undefined && tensorTemperature.has(term._tag)
  }
  return false
}

/** Every ramp (a number-or-ramp root) in a description, with its path. */
const ramps = (value: unknown, path: Path, out: Array<{ path: Path; ramp: Ramp.Ramp }>): void => {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      ramps(v, [...path, i], out)
    })
    return
  }
  if (typeof value !== "object" || value === null) return
  if (Ramp.isRamp(value)) {
    out.push({ path, ramp: value })
    return
  }
  for (const [k, v] of Object.entries(value)) ramps(v, [...path, k], out)
}

const checkParam = (name: string, p: Param, add: (path: Path, message: string) => void) => {
  const at: Path = ["params", name]
  const c = p.constraint
  if (!Number.isFinite(p.init)) return add([...at, "init"], `must be a finite number, got ${p.init}`)
  if (c._tag === "Positive" && !(p.init > c.min))
    add([...at, "init"], `a positive parameter starts above its minimum ${c.min}, got ${p.init}`)
  if (c._tag === "Range") {
    if (!(c.max > c.min))
      add([...at, "constraint", "max"], `must be greater than min (${c.min}), got ${c.max}`)
    else if (!(p.init > c.min && p.init < c.max))
      add([...at, "init"], `must lie strictly inside (${c.min}, ${c.max}), got ${p.init}`)
  }
}

/**
 * The problems with a pipeline's learned parameters: every `Ramp.learned` names a declared
 * parameter, sits where the step reads it as a tensor (a loss weight, a KL / relation
 * temperature) and is reached through arithmetic nodes only; every declared parameter is
 * optimised by some look-ahead update; each update names declared parameters that the loss it
 * optimises reads, with sane settings; initial values satisfy their constraints.
 *
 * @example
 * ```ts
 * import { Learned, Loss, Model, Optimizer, Phase, Pipeline, Ramp, Step } from "retort/dsl"
 * const p = Pipeline.make({
 *   name: "bad",
 *   models: { net: Model.mlp({ hidden: [8], classes: 10 }) },
 *   phases: [
 *     Phase.make({
 *       name: "train",
 *       step: Step.start.pipe(
 *         Step.forward("net", { as: "o" }),
 *         Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
 *         Step.optimize("net", Optimizer.adam({ lr: Ramp.learned("lr") })),
 *       ),
 *     }),
 *   ],
 * })
 * Learned.check(p) // [{ path: "phases[0].step.stages[2].optimizer.lr", message: "… cannot be learned here …" }, …]
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const check = (p: Checked): ReadonlyArray<Issue.Issue> => {
  const issues: Array<Issue.Issue> = []
  const add = (path: Path, message: string) => issues.push({ path: Issue.path(path), message })
  const declared = p.params ?? {}
  const names = Object.keys(declared)
  const known = (n: string) => Object.hasOwn(declared, n)
  const listed = names.length > 0 ? names.join(", ") : "none declared"
  for (const [n, param] of Object.entries(declared)) checkParam(n, param, add)

  const found: Array<{ path: Path; ramp: Ramp.Ramp }> = []
  ramps(p.phases, ["phases"], found)
  for (const { path, ramp } of found) {
    const reads = Ramp.learnedNames(ramp)
    if (reads.length === 0) continue
    const allowed = allowedAt(p, path)
    if (!allowed)
      add(
        path,
        `${Ramp.describe(ramp)} cannot be learned here: the step computes only loss weights and KL / relation temperatures as tensors, so no gradient would reach a learned value anywhere else`,
      )
    for (const r of reads) {
      if (!known(r.name)) add(path, `unknown learned parameter "${r.name}" (params: ${listed})`)
      else if (allowed && !r.direct)
        add(
          path,
          `learned(${r.name}) sits inside a schedule (warmup / sequence): combine a learned value only with add, mul, scale, clamp, min and max`,
        )
    }
  }

  const optimised = new Set<string>()
  p.phases.forEach((ph, i) => {
    const stages = ph.step.stages
    stages.forEach((s, j) => {
      if (s._tag !== "Optimize" || s.learn === undefined) return
      const lp: Path = ["phases", i, "step", "stages", j, "learn"]
      const l = s.learn
      if (l.params.length === 0) add([...lp, "params"], "learn which parameter? the list is empty")
      // the loss stage this optimise stage minimises: the last one before it that writes it
      let reads: ReadonlySet<string> | undefined
      for (let k = j - 1; k >= 0; k--) {
        const w = stages[k]!
        if (w._tag !== "Loss" || typeof w.as !== "string") continue
        const as = w.as
        if (s.loss !== as && !Object.keys(w.terms ?? {}).some((t) => s.loss === `${as}.${t}`)) continue
        const terms = Object.entries(w.terms ?? {}).filter(([t]) => s.loss === as || s.loss === `${as}.${t}`)
        const nums: Array<Num> = []
        for (const [t, term] of terms) {
          nums.push(w.weights?.[t] ?? 1)
          nums.push(...Object.values(Loss.hyperParameters(term)))
        }
        reads = new Set(nums.flatMap((n) => Ramp.learnedNames(n).map((r) => r.name)))
        break
      }
      l.params.forEach((n, k) => {
        optimised.add(n)
        if (!known(n)) add([...lp, "params", k], `unknown learned parameter "${n}" (params: ${listed})`)
        else if (reads !== undefined && !reads.has(n))
          add(
            [...lp, "params", k],
            `the loss "${s.loss ?? "loss"}" does not read learned(${n}), so its hyper-gradient is zero: use Ramp.learned("${n}") in one of its weights or temperatures`,
          )
      })
      if (!(Number.isInteger(l.every) && l.every >= 1))
        add([...lp, "every"], `must be a positive whole number of steps, got ${l.every}`)
      if (!(l.holdout > 0 && l.holdout < 1))
        add([...lp, "holdout"], `the held-out fraction of the batch must lie in (0, 1), got ${l.holdout}`)
      if (!(l.epsilon > 0)) add([...lp, "epsilon"], `must be > 0, got ${l.epsilon}`)
      if (typeof l.lr === "number" && !(l.lr > 0))
        add([...lp, "lr"], `the virtual step's learning rate must be > 0, got ${l.lr}`)
      if (Loss.operands(l.objective).length === 0) add([...lp, "objective"], "the objective reads nothing")
    })
  })
  for (const n of names)
    if (!optimised.has(n))
      add(
        ["params", n],
        `nobody optimises the learned parameter "${n}": give an optimise stage learn: Learned.lookahead("${n}", …)`,
      )
  return issues
}
