/**
 * Opening a finished (or checkpointed) run for probing: its `pipeline.json` and `checkpoint.bin`
 * give a built model with the trained parameters and batch-norm statistics; its data source
 * gives the same data set (with the same validation hold-out) the run trained on. Also the
 * second point of an interpolation: another model of the run, another run's checkpoint, or the
 * model's initial weights as the run drew them.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Data } from "./src/data/Data.js"
 * import * as RunDir from "./src/probes/RunDir.js"
 * const opened = Effect.scoped(RunDir.open("runs/kd", { model: "student" })).pipe(Effect.provide(Data.layer))
 * ```
 *
 * @since 0.1.0
 */
import { existsSync, readFileSync, statSync } from "node:fs"
import { basename, join, resolve } from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, type Scope } from "effect"
import * as Codec from "../../dsl/Codec.js"
import * as ModelDsl from "../../dsl/Model.js"
import * as Pipeline from "../../dsl/Pipeline.js"
import type { Data } from "../data/Data.js"
import type * as DataSpec from "../data/DataSpec.js"
import type * as Dataset from "../data/Dataset.js"
import { DataError, IoError, type ShapeError, type ValidationError } from "../errors.js"
import * as Models from "../models/index.js"
import * as Checkpoint from "../runtime/Checkpoint.js"
import * as DataSource from "../runtime/DataSource.js"
import { initSeed, modelsOf } from "../runtime/Run.js"

/**
 * A built-in data source to use when the run's pipeline has `custom` data (or to override it).
 *
 * @example
 * ```ts
 * import * as RunDir from "./src/probes/RunDir.js"
 * const s: RunDir.Source = "fashion-or-mnist"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Source = "mnist" | "fashion-mnist" | "fashion-or-mnist"

/**
 * Options of {@link open}:
 *
 * - `model`: the model to probe (a declared model or an EMA/SWA average of the run);
 * - `data`: the data to use instead of the pipeline's source (required for `custom` data unless
 *   `source` is given) — a data set, or a spec for the `Data` service;
 * - `source`: a built-in source instead of the pipeline's (`--data mnist`);
 * - `dataDir`, `download`: where to look for Fashion-MNIST, and whether to download it;
 * - `models`: builders of `Model.custom` models.
 *
 * @example
 * ```ts
 * import * as RunDir from "./src/probes/RunDir.js"
 * const o: RunDir.OpenOptions = { model: "student", source: "mnist" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface OpenOptions {
  readonly model: string
  readonly data?: Dataset.Dataset | DataSpec.DataSpec
  readonly source?: Source
  readonly dataDir?: string
  readonly download?: boolean
  readonly models?: Readonly<Record<string, Models.CustomBuilder>>
}

/**
 * A model of a run, ready to probe: the built architecture with the checkpoint's parameters and
 * batch-norm statistics, the pipeline, the seed the run used, and the data set (with the run's
 * validation hold-out). Its variables are freed when the scope closes.
 *
 * @example
 * ```ts
 * import * as RunDir from "./src/probes/RunDir.js"
 * declare const opened: RunDir.Opened
 * opened.built.paramCount
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Opened {
  readonly dir: string
  readonly pipeline: Pipeline.Pipeline
  readonly snapshot: Checkpoint.Snapshot
  readonly seed: number
  readonly model: string
  readonly description: ModelDsl.Model
  readonly built: Models.Built
  readonly dataset: Dataset.Dataset
  /** Said when the data set is not the one the pipeline names (e.g. MNIST for Fashion-MNIST). */
  readonly note?: string
}

/**
 * A parameter point of the same architecture (the other end of an interpolation), with its
 * batch-norm statistics and a label for plots.
 *
 * @example
 * ```ts
 * import * as RunDir from "./src/probes/RunDir.js"
 * declare const p: RunDir.Point
 * p.label // "init"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Point {
  readonly label: string
  readonly params: Models.Tree.Tree<tf.Variable>
  readonly state: Models.Tree.Tree<tf.Variable>
}

/**
 * Every error opening a run can fail with.
 *
 * @example
 * ```ts
 * import * as RunDir from "./src/probes/RunDir.js"
 * declare const e: RunDir.OpenError
 * e._tag // "IoError" | "ValidationError" | "ShapeError" | "DataError"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export type OpenError = IoError | ValidationError | ShapeError | DataError

/**
 * The pipeline of a run directory (its `pipeline.json`), decoded and validated.
 *
 * @example
 * ```ts
 * import * as RunDir from "./src/probes/RunDir.js"
 * const p = RunDir.readPipeline("runs/kd")
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const readPipeline = (dir: string): Effect.Effect<Pipeline.Pipeline, IoError | ValidationError> =>
  Effect.gen(function* () {
    const file = join(dir, "pipeline.json")
    if (!existsSync(file))
      return yield* Effect.fail(
        new IoError({ path: file, message: `${dir} is not a run directory: no pipeline.json` }),
      )
    const text = yield* Effect.try({
      try: () => readFileSync(file, "utf8"),
      catch: (cause) => new IoError({ path: file, message: `cannot read ${file}: ${String(cause)}`, cause }),
    })
    return yield* Effect.fromResult(Codec.fromJson(text))
  })

const checkpointPath = (location: string): string => {
  if (existsSync(location) && statSync(location).isDirectory()) return join(location, "checkpoint.bin")
  return location
}

/** The declared model an EMA/SWA average copies (the model itself otherwise). */
const architectureOf = (p: Pipeline.Pipeline, model: string): string =>
  new Map(Pipeline.averages(p).map((a) => [a.as, a.model])).get(model) ?? model

const restoreInto = (
  snapshot: Checkpoint.Snapshot,
  model: string,
  built: Models.Built,
  where: string,
): Effect.Effect<void, IoError> =>
  Effect.try({
    try: () => {
      for (const [tree, kind] of [
        [built.params, "params"],
        [built.state, "state"],
      ] as const)
        for (const [path, v] of Object.entries(Models.Tree.flatten(tree))) {
          const t = snapshot.tensors.get(`model/${model}/${kind}/${path}`)
          if (!t) throw new Error(`the checkpoint has no ${kind} "${path}" for model "${model}"`)
          if (t.shape.join("x") !== v.shape.join("x"))
            throw new Error(
              `"${model}" ${kind} "${path}" is [${t.shape.join(", ")}] in the checkpoint, [${v.shape.join(", ")}] in the model`,
            )
          v.assign(tf.tensor(t.values, v.shape, "float32"))
        }
    },
    catch: (cause) =>
      new IoError({ path: where, message: cause instanceof Error ? cause.message : String(cause), cause }),
  })

const loadData = (
  pipeline: Pipeline.Pipeline,
  seed: number,
  options: OpenOptions,
): Effect.Effect<
  { dataset: Dataset.Dataset; note?: string; normalize?: ModelDsl.Normalize },
  DataError,
  Data
> =>
  Effect.gen(function* () {
    const source = options.source ?? (options.data === undefined ? pipeline.data.source : undefined)
    if (options.data === undefined && source === "custom")
      return yield* Effect.fail(
        new DataError({
          message: `the run used custom data "${pipeline.data.name ?? "custom"}", which it does not store`,
          hint: "give the data again: --data mnist | fashion-mnist | fashion-or-mnist, or `data` in the API",
        }),
      )
    const data: Pipeline.Data =
      options.source !== undefined
        ? {
            source: options.source,
            validation: pipeline.data.validation,
            ...(pipeline.data.normalize !== undefined ? { normalize: pipeline.data.normalize } : {}),
          }
        : pipeline.data
    // the same hold-out and normalisation as the run, so that "train" means the images it trained on
    const prepared = yield* DataSource.prepare(data, {
      seed,
      ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
      ...(options.download !== undefined ? { download: options.download } : {}),
      ...(options.data !== undefined ? { data: options.data } : {}),
    })
    const note = prepared.notes.map((n) => n.message).join("; ")
    return {
      dataset: prepared.dataset,
      ...(note !== "" ? { note } : {}),
      ...(prepared.normalize !== undefined ? { normalize: prepared.normalize } : {}),
    }
  })

/** A run's pipeline and checkpoint, after checking that it has one and that `model` is one of its models. */
const runWithModel = (dir: string, model: string) =>
  Effect.gen(function* () {
    const pipeline = yield* readPipeline(dir)
    const ckpt = join(dir, "checkpoint.bin")
    if (!existsSync(ckpt))
      return yield* Effect.fail(
        new IoError({
          path: ckpt,
          message: `${dir} has no checkpoint.bin (the run has not written one yet)`,
        }),
      )
    const snapshot = yield* Checkpoint.load(ckpt)
    const names = Pipeline.modelNames(pipeline)
    if (!names.includes(model))
      return yield* Effect.fail(
        new IoError({ path: dir, message: `the run has no model "${model}" (models: ${names.join(", ")})` }),
      )
    return { pipeline, snapshot, ckpt }
  })

/**
 * A trained model of a run, without its data: the built architecture with the checkpoint's
 * parameters and batch-norm statistics (and the run's input normalisation, from `data.json`),
 * the pipeline, and what the run recorded about its data. What `retort eval`, `retort predict`
 * and `retort export` start from. Its variables are freed when the scope closes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as RunDir from "./src/probes/RunDir.js"
 * const classes = Effect.scoped(Effect.map(RunDir.openModel("runs/kd", "student"), (m) => m.info?.classNames))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const openModel = (
  dir: string,
  model: string,
  options: Pick<OpenOptions, "models"> & { readonly normalize?: ModelDsl.Normalize } = {},
): Effect.Effect<
  {
    readonly pipeline: Pipeline.Pipeline
    readonly snapshot: Checkpoint.Snapshot
    /** the declared model whose architecture it is (itself, or the source of an EMA/SWA average) */
    readonly architecture: string
    readonly description: ModelDsl.Model
    readonly built: Models.Built
    readonly info: DataSource.Info | undefined
    readonly loaded: Models.Loaded.Prepared
  },
  IoError | ValidationError | ShapeError,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const { pipeline, snapshot, ckpt } = yield* runWithModel(dir, model)
    const info = yield* DataSource.readInfo(dir)
    const arch = architectureOf(pipeline, model)
    const description = pipeline.models[arch]!
    const loaded = yield* Models.Loaded.prepare(
      { ...pipeline, models: { [arch]: description } },
      info ?? {
        shape: ModelDsl.inputShape(description) ?? [28, 28, 1],
        classes: ModelDsl.classes(description) ?? 0,
        name: "the run's data",
      },
      { validate: false },
    ).pipe(
      Effect.catchTag("ValidationError", (e) =>
        info === undefined ? Effect.succeed(undefined) : Effect.fail(e),
      ),
    )
    const normalize = options.normalize ?? info?.normalize
    const loader = loaded?.builder(arch)
    const built = yield* Models.scoped(description, {
      seed: 0,
      ...(options.models ? { customBuilders: options.models } : {}),
      ...(normalize !== undefined ? { normalize } : {}),
      ...(loader !== undefined ? { loaded: loader } : {}),
    })
    yield* restoreInto(snapshot, model, built, ckpt)
    return {
      pipeline,
      snapshot,
      architecture: arch,
      description,
      built,
      info,
      loaded: loaded ?? { builder: () => undefined, resolved: {}, files: {}, artifacts: {} },
    }
  })

/**
 * Opens a run directory for probing (see {@link OpenOptions}): reads `pipeline.json` and
 * `checkpoint.bin`, builds `model` with the checkpoint's values, and loads the run's data. Fails
 * with an `IoError` for a missing or foreign directory or model, a `DataError` when the data
 * cannot be had (a `custom` source without `data`/`source`), a `ValidationError`/`ShapeError`
 * when the data does not fit the model.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Data } from "./src/data/Data.js"
 * import * as RunDir from "./src/probes/RunDir.js"
 * const n = await Effect.runPromise(
 *   Effect.scoped(Effect.map(RunDir.open("runs/kd", { model: "student" }), (o) => o.built.paramCount)).pipe(Effect.provide(Data.layer)),
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const open = (
  dir: string,
  options: OpenOptions,
): Effect.Effect<Opened, OpenError, Data | Scope.Scope> =>
  Effect.gen(function* () {
    const { pipeline, snapshot, ckpt } = yield* runWithModel(dir, options.model)
    const description = pipeline.models[architectureOf(pipeline, options.model)]!
    const seed =
      typeof snapshot.header.options.seed === "number" ? snapshot.header.options.seed : pipeline.seed
    const { dataset, note, normalize } = yield* loadData(pipeline, seed, options)
    const loaded = yield* Models.Loaded.prepare(
      { ...pipeline, models: { [architectureOf(pipeline, options.model)]: description } },
      dataset,
      { validate: false },
    )
    const loader = loaded.builder(architectureOf(pipeline, options.model))
    const built = yield* Models.scoped(description, {
      seed: 0,
      ...(options.models ? { customBuilders: options.models } : {}),
      ...(normalize !== undefined ? { normalize } : {}),
      ...(loader !== undefined ? { loaded: loader } : {}),
    })
    yield* checkFits(built, dataset, options.model)
    yield* restoreInto(snapshot, options.model, built, ckpt)
    return {
      dir,
      pipeline,
      snapshot,
      seed,
      model: options.model,
      description,
      built,
      dataset,
      ...(note !== undefined ? { note } : {}),
    }
  })

const checkFits = (
  built: Models.Built,
  dataset: Dataset.Dataset,
  model: string,
): Effect.Effect<void, DataError> => {
  const problems: Array<string> = []
  if (built.classes !== undefined && built.classes !== dataset.classes)
    problems.push(`"${model}" has ${built.classes} classes but ${dataset.name} has ${dataset.classes}`)
  if (built.input !== undefined && built.input.join("x") !== dataset.shape.join("x"))
    problems.push(
      `"${model}" takes ${built.input.join("×")} images but ${dataset.name} has ${dataset.shape.join("×")}`,
    )
  return problems.length === 0
    ? Effect.void
    : Effect.fail(
        new DataError({ message: problems.join("; "), hint: "probe with the data the run was trained on" }),
      )
}

/** The models a phase builds or reads (mirrors the run loop's own list). */
/**
 * How the run initialised a declared model last: the seed `Rng.derive(seed, "init", phase, model)`
 * of the last phase that built it fresh, or `copy` when its last start was a copy of another
 * model (whose weights at that moment a checkpoint does not keep), or `none` when no phase used it.
 *
 * @example
 * ```ts
 * import * as RunDir from "./src/probes/RunDir.js"
 * declare const pipeline: import("./dsl/Pipeline.js").Pipeline
 * RunDir.initialSeed(pipeline, "student", 3) // { _tag: "Seed", seed: …, phase: 1 }
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const initialSeed = (
  p: Pipeline.Pipeline,
  model: string,
  seed: number,
):
  | { readonly _tag: "Seed"; readonly seed: number; readonly phase: number }
  | { readonly _tag: "Copy"; readonly from: string; readonly phase: number }
  | { readonly _tag: "None" } => {
  let last: ReturnType<typeof initialSeed> = { _tag: "None" }
  const built = new Set<string>()
  p.phases.forEach((phase, pi) => {
    const needed = [...modelsOf(p, phase)].filter((m) => p.models[m] !== undefined)
    const fresh = (m: string) => {
      built.add(m)
      if (m === model) last = { _tag: "Seed", seed: initSeed(seed, pi, m), phase: pi }
    }
    for (const m of needed) {
      const init = phase.init[m] ?? { _tag: "Keep" as const }
      if (init._tag === "Copy") continue
      if (init._tag === "Keep" && built.has(m)) continue
      fresh(m)
    }
    for (const m of needed) {
      const init = phase.init[m]
      if (init?._tag !== "Copy") continue
      if (!built.has(init.from)) fresh(init.from)
      built.add(m)
      if (m === model) last = { _tag: "Copy", from: init.from, phase: pi }
    }
  })
  return last
}

/**
 * The other end of an interpolation, from a spec:
 *
 * - `init`: the model's initial weights, rebuilt with the seed the run drew them with
 *   ({@link initialSeed}; fails for a model that started as a copy, or an EMA/SWA average);
 * - the name of another model of the run with the same architecture (`teacher` of a born-again
 *   run, the `swa` average of `student`);
 * - a path to another run directory or `checkpoint.bin` (its model of the same name; or
 *   `path#model` for another name).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as RunDir from "./src/probes/RunDir.js"
 * declare const opened: RunDir.Opened
 * const init = Effect.scoped(RunDir.other(opened, "init"))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const other = (
  opened: Opened,
  spec: string,
  options: Pick<OpenOptions, "models"> = {},
): Effect.Effect<Point, IoError | ValidationError | ShapeError, Scope.Scope> =>
  Effect.gen(function* () {
    const build = (seed: number) =>
      Models.scoped(opened.description, {
        seed,
        ...(options.models ? { customBuilders: options.models } : {}),
      })
    if (spec === "init") {
      if (architectureOf(opened.pipeline, opened.model) !== opened.model)
        return yield* Effect.fail(
          new IoError({
            path: opened.dir,
            message: `"${opened.model}" is an average; its initial weights are not defined`,
          }),
        )
      const init = initialSeed(opened.pipeline, opened.model, opened.seed)
      if (init._tag !== "Seed")
        return yield* Effect.fail(
          new IoError({
            path: opened.dir,
            message:
              init._tag === "Copy"
                ? `"${opened.model}" started as a copy of "${init.from}" in phase ${init.phase + 1}; give that run's checkpoint instead of init`
                : `no phase of the run uses "${opened.model}"`,
          }),
        )
      const built = yield* build(init.seed)
      return { label: "init", params: built.params, state: built.state }
    }
    const names = Pipeline.modelNames(opened.pipeline)
    const hash = spec.lastIndexOf("#")
    const location = hash > 0 ? spec.slice(0, hash) : spec
    const model = hash > 0 ? spec.slice(hash + 1) : opened.model
    const isModel = hash < 0 && names.includes(spec) && !existsSync(spec)
    if (!isModel && !existsSync(checkpointPath(location)))
      return yield* Effect.fail(
        new IoError({
          path: spec,
          message: `"${spec}" is neither a model of the run (${names.join(", ")}), "init", nor a checkpoint`,
        }),
      )
    const snapshot = isModel ? opened.snapshot : yield* Checkpoint.load(checkpointPath(location))
    const name = isModel ? spec : model
    const built = yield* build(0)
    yield* restoreInto(snapshot, name, built, isModel ? opened.dir : checkpointPath(location))
    const label = isModel ? name : `${basename(resolve(location))}${hash > 0 ? `#${model}` : ""}`
    return { label, params: built.params, state: built.state }
  })
