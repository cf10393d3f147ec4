/**
 * Episodic multi-domain updates (MLDG, Li et al. 2018, "Learning to Generalize: Meta-Learning for
 * Domain Generalization"), as a mode of the optimise stage: `Step.optimize(model, optimizer,
 * { episodic: Episodic.mldg({ innerLr, beta }) })`.
 *
 * At every step the batch's domains (the data must declare `domains`) are split at random into
 * meta-train domains and `metaTest` meta-test domains. The segment of the step before the
 * optimise stage (augment, forwards, loss) runs on the meta-train samples at the weights θ,
 * giving L_tr and g_tr = ∇L_tr(θ); an inner SGD step gives θ' = θ − α·g_tr; the segment runs again
 * on the meta-test samples at θ', giving L_te and g_te = ∇L_te(θ'). The optimiser then applies
 * g_tr + β·g_te at θ, minimising L_tr(θ) + β·L_te(θ − α·∇L_tr(θ)). As in DomainBed's `MLDG`, the
 * meta-test gradient is first-order (the Hessian term of ∂θ'/∂θ is dropped). A batch holding a
 * single domain takes a plain step on it.
 *
 * @example
 * ```ts
 * import { Episodic, Loss, Optimizer, Step } from "retort/dsl"
 * const step = Step.start.pipe(
 *   Step.forward("net", { as: "o" }),
 *   Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
 *   Step.optimize("net", Optimizer.adam({ lr: 1e-3 }), { episodic: Episodic.mldg({ innerLr: 0.1, beta: 1 }) }),
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Issue from "./Issue.js"
import * as Ramp from "./Ramp.js"

type Num = Ramp.Num

/**
 * MLDG settings: inner SGD rate α, meta-test weight β, meta-test domains per step.
 *
 * @since 0.1.0
 * @category models
 */
export interface Mldg {
  readonly _tag: "Mldg"
  readonly innerLr: Num
  readonly beta: Num
  readonly metaTest: number
}

/**
 * An episodic update (one kind today: {@link Mldg}).
 *
 * @since 0.1.0
 * @category models
 */
export type Episodic = Mldg

/**
 * MLDG. Defaults: inner rate α = 0.1, β = 1 (DomainBed's `mldg_beta`), one meta-test domain
 * per step.
 *
 * @example
 * ```ts
 * import { Episodic, Ramp } from "retort/dsl"
 * const e = Episodic.mldg({ innerLr: 0.05, beta: Ramp.linear({ from: 0, to: 1 }) })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const mldg = (
  options: { readonly innerLr?: Num; readonly beta?: Num; readonly metaTest?: number } = {},
): Mldg => ({
  _tag: "Mldg",
  innerLr: options.innerLr ?? 0.1,
  beta: options.beta ?? 1,
  metaTest: options.metaTest ?? 1,
})

/**
 * Schema of an episodic update.
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema: Schema.Codec<Episodic> = Schema.Struct({
  _tag: Schema.Literal("Mldg"),
  innerLr: Ramp.NumSchema,
  beta: Ramp.NumSchema,
  metaTest: Schema.Finite,
})

/**
 * Checks the constant parts of an episodic update (ramps are checked with the other ramps of
 * the step): α ≥ 0, β ≥ 0, `metaTest` a positive integer.
 *
 * @example
 * ```ts
 * import { Episodic } from "retort/dsl"
 * Episodic.check(Episodic.mldg({ metaTest: 0 }), ["episodic"]) // one issue
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const check = (e: Episodic, path: ReadonlyArray<string | number>): ReadonlyArray<Issue.Issue> => {
  const out: Array<Issue.Issue> = []
  const add = (p: ReadonlyArray<string | number>, message: string) =>
    out.push({ path: Issue.path(p), message })
  if (typeof e.innerLr === "number" && !(e.innerLr >= 0))
    add([...path, "innerLr"], `must be >= 0, got ${e.innerLr}`)
  if (typeof e.beta === "number" && !(e.beta >= 0)) add([...path, "beta"], `must be >= 0, got ${e.beta}`)
  if (!(Number.isInteger(e.metaTest) && e.metaTest >= 1 && e.metaTest <= 63))
    add([...path, "metaTest"], `must be an integer from 1 to 63, got ${e.metaTest}`)
  return out
}

/**
 * Splits the domains present in a batch into meta-train and meta-test domains: `metaTest` of
 * them (at most all but one) chosen by a seeded shuffle. Fewer than two domains: all meta-train.
 *
 * @example
 * ```ts
 * import { Episodic } from "retort/dsl"
 * const { train, test } = Episodic.split([0, 1, 2, 3, 4], 1, 42) // test: one of them
 * ```
 *
 * @since 0.1.0
 * @category episodes
 */
export const split = (
  present: ReadonlyArray<number>,
  metaTest: number,
  seed: number,
): { readonly train: ReadonlyArray<number>; readonly test: ReadonlyArray<number> } => {
  const ds = [...new Set(present)].sort((a, b) => a - b)
  if (ds.length < 2) return { train: ds, test: [] }
  // a small seeded Fisher–Yates (mulberry32): dsl/ has no access to src/data/Rng
  let s = seed >>> 0 || 1
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
  for (let i = ds.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1))
    ;[ds[i], ds[j]] = [ds[j]!, ds[i]!]
  }
  const k = Math.min(metaTest, ds.length - 1)
  return { test: ds.slice(0, k).sort((a, b) => a - b), train: ds.slice(k).sort((a, b) => a - b) }
}
