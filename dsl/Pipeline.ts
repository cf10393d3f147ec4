/**
 * A pipeline: the whole training run as one value — named models, a data set, one seed, and a
 * list of phases. Models carry over from phase to phase; phases say how to initialise them.
 *
 * @example
 * ```ts
 * import { Loss, Model, Optimizer, Phase, Pipeline, Step } from "retort/dsl"
 *
 * const kd = Pipeline.make({
 *   name: "kd",
 *   seed: 1,
 *   data: Pipeline.data("fashion-or-mnist"),
 *   models: {
 *     teacher: Model.cnn({ conv: [{ filters: 32 }, { filters: 64 }], dense: [128], classes: 10 }),
 *     student: Model.mlp({ hidden: [256, 256], classes: 10 }),
 *   },
 *   phases: [
 *     Phase.make({
 *       name: "teacher",
 *       epochs: 3,
 *       step: Step.start.pipe(
 *         Step.forward("teacher", { as: "t" }),
 *         Step.loss({ ce: Loss.crossEntropy({ logits: "t" }) }),
 *         Step.optimize("teacher", Optimizer.adam({ lr: 1e-3 })),
 *       ),
 *     }),
 *     Phase.make({
 *       name: "distil",
 *       epochs: 5,
 *       step: Step.start.pipe(
 *         Step.forward("teacher", { as: "t", mode: "frozen" }),
 *         Step.forward("student", { as: "s" }),
 *         Step.loss(
 *           { ce: Loss.crossEntropy({ logits: "s" }), kd: Loss.kl({ teacher: "t", student: "s", temperature: 4 }) },
 *           { weights: { ce: 0.1, kd: 0.9 } },
 *         ),
 *         Step.optimize("student", Optimizer.adam({ lr: 1e-3 })),
 *       ),
 *     }),
 *   ],
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Model from "./Model.js"
import * as Phase from "./Phase.js"
import * as Step from "./Step.js"

/**
 * Which data a pipeline trains on. `fashion-or-mnist` uses Fashion-MNIST when it can be found
 * or downloaded and falls back to the embedded `mnist` digits; `custom` names a data set the
 * embedding program provides at run time.
 *
 * @since 0.1.0
 * @category models
 */
export interface Data {
  readonly source: "mnist" | "fashion-mnist" | "fashion-or-mnist" | "custom"
  /** For `custom`: the name the program registers its data under. */
  readonly name?: string
  /** Training images held out for validation (a count, or a fraction < 1). */
  readonly validation: number
}

/**
 * A data description.
 *
 * @example
 * ```ts
 * import { Pipeline } from "retort/dsl"
 * const d = Pipeline.data("fashion-mnist", { validation: 5000 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const data = (
  source: Data["source"],
  options?: { readonly validation?: number; readonly name?: string },
): Data => ({
  source,
  validation: options?.validation ?? 0,
  ...(options?.name !== undefined ? { name: options.name } : {}),
})

/**
 * A pipeline.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pipeline {
  readonly _tag: "Pipeline"
  readonly name: string
  readonly description?: string
  readonly seed: number
  readonly data: Data
  readonly models: Readonly<Record<string, Model.Model>>
  readonly phases: ReadonlyArray<Phase.Phase>
}

/**
 * Build a pipeline.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly name: string
  readonly description?: string
  readonly seed?: number
  readonly data?: Data
  readonly models: Readonly<Record<string, Model.Model>>
  readonly phases: ReadonlyArray<Phase.Phase>
}): Pipeline => ({
  _tag: "Pipeline",
  name: options.name,
  ...(options.description !== undefined ? { description: options.description } : {}),
  seed: options.seed ?? 0,
  data: options.data ?? data("fashion-or-mnist"),
  models: options.models,
  phases: options.phases,
})

/**
 * Unroll `k` generations: `phase(i)` builds generation `i` (1-based). A pure helper — the
 * result is an ordinary list of phases.
 *
 * @example
 * ```ts
 * import { Phase, Pipeline } from "retort/dsl"
 * declare const distil: (i: number) => Phase.Phase
 * const phases = Pipeline.generations(3, distil)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const generations = (k: number, phase: (i: number) => Phase.Phase): ReadonlyArray<Phase.Phase> =>
  Array.from({ length: k }, (_, i) => phase(i + 1))

/**
 * Every model name a pipeline can refer to: declared models plus averaged copies created by
 * EMA/SWA stages.
 *
 * @since 0.1.0
 * @category getters
 */
export const modelNames = (p: Pipeline): ReadonlyArray<string> => [
  ...Object.keys(p.models),
  ...averages(p).map((a) => a.as),
]

/**
 * The averaged models (EMA/SWA) a pipeline defines: their name, source model and kind.
 *
 * @since 0.1.0
 * @category getters
 */
export const averages = (
  p: Pipeline,
): ReadonlyArray<{ readonly as: string; readonly model: string; readonly kind: "Ema" | "Swa" }> => {
  const out = new Map<string, { as: string; model: string; kind: "Ema" | "Swa" }>()
  for (const ph of p.phases)
    for (const s of ph.step.stages)
      if (s._tag === "Ema" || s._tag === "Swa") out.set(s.as, { as: s.as, model: s.model, kind: s._tag })
  return [...out.values()]
}

/**
 * A one-paragraph description (phases, models, steps) for `retort describe`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const describe = (p: Pipeline): string => {
  const lines = [`pipeline ${p.name} (seed ${p.seed}, data ${p.data.source})`]
  if (p.description) lines.push(`  ${p.description}`)
  lines.push("models:")
  for (const [name, m] of Object.entries(p.models)) lines.push(`  ${name}: ${Model.describe(m)}`)
  for (const a of averages(p)) lines.push(`  ${a.as}: ${a.kind.toLowerCase()} of ${a.model}`)
  p.phases.forEach((ph, i) => {
    const len = ph.steps !== undefined ? `${ph.steps} steps` : `${ph.epochs} epochs`
    lines.push(`phase ${i + 1} ${ph.name} (${len})`)
    for (const [m, init] of Object.entries(ph.init))
      lines.push(`  init ${m}: ${init._tag === "Copy" ? `copy of ${init.from}` : init._tag.toLowerCase()}`)
    for (const d of Step.describe(ph.step)) lines.push(`  ${d}`)
  })
  return lines.join("\n")
}

const DataSchema: Schema.Codec<Data> = Schema.Struct({
  source: Schema.Literals(["mnist", "fashion-mnist", "fashion-or-mnist", "custom"]),
  name: Schema.optionalKey(Schema.String),
  validation: Schema.Finite,
})

/**
 * The pipeline schema with a given phase schema (see `Phase.schemaWith`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const schemaWith = <S extends Schema.Top>(phase: S) =>
  Schema.Struct({
    _tag: Schema.Literal("Pipeline"),
    name: Schema.String,
    description: Schema.optionalKey(Schema.String),
    seed: Schema.Finite,
    data: DataSchema,
    models: Schema.Record(Schema.String, Model.schema),
    phases: Schema.Array(phase),
  })

/**
 * Schema of a pipeline (JSON-friendly). Structural only: `Codec` adds the semantic checks
 * (names, taps, ranges, class counts) and reports every problem at once.
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema: Schema.Codec<Pipeline, unknown> = schemaWith(Phase.schema) as any
