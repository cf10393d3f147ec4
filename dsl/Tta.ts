/**
 * Test-time augmentation (TTA): each test image is seen through several augmented *views*
 * (each view a list of `Augment`s applied in order; `[]` is the identity view), and the
 * predictions are fused by the mean of the views' probabilities. Set on an evaluation
 * (`Phase.evaluate({ tta })`); every plain-model and ensemble target then also reports
 * `<target>/tta/accuracy` (and `/nll`, `/ece` when those metrics are on) beside its single-view
 * metrics. Random augmentations draw from the run seed, per view and batch, so TTA is
 * reproducible.
 *
 * @example
 * ```ts
 * import { Augment, Tta } from "retort/dsl"
 * const tta = Tta.make({
 *   views: [[], [Augment.rotate({ degrees: 10 })], [Augment.translate({ max: 2 })]],
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Augment from "./Augment.js"
import * as Issue from "./Issue.js"

/**
 * A TTA setting: the views, fused by the mean of probabilities.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tta {
  readonly _tag: "Tta"
  readonly views: ReadonlyArray<ReadonlyArray<Augment.Augment>>
}

/**
 * Build a TTA setting from its views.
 *
 * @example
 * ```ts
 * import { Augment, Tta } from "retort/dsl"
 * const flips = Tta.make({ views: [[], [Augment.flipX({ p: 1 })]] })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: { readonly views: ReadonlyArray<ReadonlyArray<Augment.Augment>> }): Tta => ({
  _tag: "Tta",
  views: options.views.map((v) => [...v]),
})

/**
 * The identity view plus `n − 1` random views of the same augmentation list — the usual
 * "n crops" TTA.
 *
 * @example
 * ```ts
 * import { Augment, Tta } from "retort/dsl"
 * const eight = Tta.repeat(8, [Augment.rotate({ degrees: 10 }), Augment.translate({ max: 2 })])
 * eight.views.length // 8
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const repeat = (n: number, augments: ReadonlyArray<Augment.Augment>): Tta =>
  make({ views: Array.from({ length: Math.max(1, n) }, (_, i) => (i === 0 ? [] : augments)) })

/**
 * Schema of a TTA setting.
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema: Schema.Codec<Tta> = Schema.Struct({
  _tag: Schema.Literal("Tta"),
  views: Schema.Array(Schema.Array(Augment.schema)),
})

/**
 * Checks a TTA setting: 1 to 64 views, no label-mixing augmentation (mixup, cutmix) in a view.
 *
 * @example
 * ```ts
 * import { Augment, Tta } from "retort/dsl"
 * Tta.check(Tta.make({ views: [[Augment.mixup({ alpha: 1 })]] }), ["tta"]) // one issue
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const check = (t: Tta, path: ReadonlyArray<string | number>): ReadonlyArray<Issue.Issue> => {
  const out: Array<Issue.Issue> = []
  const add = (p: ReadonlyArray<string | number>, message: string) =>
    out.push({ path: Issue.path(p), message })
  if (t.views.length < 1 || t.views.length > 64)
    add([...path, "views"], `give 1 to 64 views, got ${t.views.length}`)
  t.views.forEach((v, i) => {
    v.forEach((a, j) => {
      if (Augment.labelMixing(a))
        add([...path, "views", i, j], `${a._tag} mixes labels: it cannot be a test-time view`)
    })
  })
  return out
}
