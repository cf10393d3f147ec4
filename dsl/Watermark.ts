/**
 * Output watermarks: a keyed perturbation of a teacher's soft labels that survives distillation
 * (DRW, Zhao et al., "Distillation-Resistant Watermarking for Model Protection in NLP", 2022).
 *
 * The served probabilities `p` of an input `x` become
 *
 *   p̃ᵢ = (pᵢ + εᵢ·(1 + cos(k·g(x) + φᵢ))) / (1 + Σⱼ εⱼ·(1 + cos(k·g(x) + φⱼ)))
 *
 * (the denominator makes `p̃` sum to 1 exactly; with two classes it is the paper's `1 + 2ε`)
 * with `φ = 0` for the top class and `π` for every other class, `εᵢ = ε`, and `g(x) ∈ [0, 1]` a
 * keyed projection of the input: `z = w·x̂` for a seeded random unit vector `w` and the
 * per-image standardised pixels `x̂`, mapped through the normal CDF, `g = Φ((z − center)/scale)`
 * (`center`/`scale` default to 0/1; calibrating them over the data makes `g` near-uniform). A
 * student distilled on `p̃` learns the frequency-`k` oscillation; the detector
 * (`src/probes/Watermark.ts`) finds it in a periodogram of the student's outputs against `g`.
 *
 * A watermark is attached to a frozen forward (`Step.forward("teacher", { mode: "frozen",
 * watermark })`): the forward then writes `log p̃` in place of the logits, so every loss that reads
 * the teacher (KL at any temperature, hard distillation) sees what a served, watermarked teacher
 * would return.
 *
 * @example
 * ```ts
 * import { Step, Watermark } from "retort/dsl"
 * const key = Watermark.make({ seed: 7, frequency: 8 * Math.PI, epsilon: 0.05 })
 * const step = Step.start.pipe(Step.forward("teacher", { as: "t", mode: "frozen", watermark: key }))
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A keyed cosine soft-label watermark.
 *
 * @since 0.1.0
 * @category models
 */
export interface Watermark {
  readonly _tag: "Watermark"
  /** Seed of the secret projection vector `w`. */
  readonly seed: number
  /** Angular frequency `k` of the signal in `g(x)` (radians per unit of `g`; `2π` is one cycle). */
  readonly frequency: number
  /** Per-class amplitude `ε` (0 leaves the probabilities unchanged). */
  readonly epsilon: number
  /** `g = Φ((z − center)/scale)`: the projection's centre over the data. */
  readonly center: number
  /** … and its spread over the data. */
  readonly scale: number
}

/**
 * A watermark key. `frequency` defaults to `8π` (four cycles over `g ∈ [0, 1]`), `epsilon` to
 * 0.05, `center`/`scale` to 0/1.
 *
 * @example
 * ```ts
 * import { Watermark } from "retort/dsl"
 * const key = Watermark.make({ seed: 1 })
 * key.frequency // 8π
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly seed: number
  readonly frequency?: number
  readonly epsilon?: number
  readonly center?: number
  readonly scale?: number
}): Watermark => ({
  _tag: "Watermark",
  seed: options.seed,
  frequency: options.frequency ?? 8 * Math.PI,
  epsilon: options.epsilon ?? 0.05,
  center: options.center ?? 0,
  scale: options.scale ?? 1,
})

/**
 * What is wrong with a watermark's parameters, one sentence per problem (empty when valid).
 *
 * @example
 * ```ts
 * import { Watermark } from "retort/dsl"
 * Watermark.problems(Watermark.make({ seed: 1, epsilon: -1 })) // [{ field: "epsilon", … }]
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (
  w: Watermark,
): ReadonlyArray<{ readonly field: string; readonly message: string }> => {
  const out: Array<{ field: string; message: string }> = []
  if (!Number.isInteger(w.seed))
    out.push({ field: "seed", message: `the key seed must be an integer (got ${w.seed})` })
  if (!(Number.isFinite(w.frequency) && w.frequency > 0))
    out.push({
      field: "frequency",
      message: `the frequency k must be a positive number (got ${w.frequency})`,
    })
  if (!(Number.isFinite(w.epsilon) && w.epsilon >= 0 && w.epsilon <= 1))
    out.push({ field: "epsilon", message: `ε must be in [0, 1] (got ${w.epsilon})` })
  if (!Number.isFinite(w.center))
    out.push({ field: "center", message: `the centre must be finite (got ${w.center})` })
  if (!(Number.isFinite(w.scale) && w.scale > 0))
    out.push({ field: "scale", message: `the scale must be positive (got ${w.scale})` })
  return out
}

/**
 * A one-line human description.
 *
 * @example
 * ```ts
 * import { Watermark } from "retort/dsl"
 * Watermark.describe(Watermark.make({ seed: 3, epsilon: 0.1 })) // "watermark(key 3, k=25.13, ε=0.1)"
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const describe = (w: Watermark): string =>
  `watermark(key ${w.seed}, k=${Number(w.frequency.toFixed(2))}, ε=${w.epsilon})`

/**
 * Schema of a watermark (JSON-friendly).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Watermark } from "retort/dsl"
 * const key = Schema.decodeUnknownSync(Watermark.schema)({ _tag: "Watermark", seed: 1, frequency: 25, epsilon: 0.05, center: 0, scale: 1 })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema: Schema.Codec<Watermark> = Schema.Struct({
  _tag: Schema.Literal("Watermark"),
  seed: Schema.Finite,
  frequency: Schema.Finite,
  epsilon: Schema.Finite,
  center: Schema.Finite,
  scale: Schema.Finite,
})
