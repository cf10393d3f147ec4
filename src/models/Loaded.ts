/**
 * Models read from disk (`Model.load`), whatever their format: a TF.js LayersModel (run by
 * Retort's interpreter of the Keras topology, `Layers`) or a GraphModel (a frozen graph run by
 * tfjs-converter, `Graph`). {@link prepare} reads every loaded model of a pipeline once, before
 * any training, and checks it against the data and the rest of the pipeline — input shape,
 * class count, the taps and losses that use it — so that a wrong file fails with its path before
 * the first step; its `builder` then builds them as the phases need them.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Loaded from "./src/models/Loaded.js"
 * const art = Effect.runPromise(Loaded.read("teachers/cnn/model.json"))
 * ```
 *
 * @since 0.1.0
 */
import { resolve } from "node:path"
import { Effect, Result } from "effect"
import type * as Model from "../../dsl/Model.js"
import type * as Pipeline from "../../dsl/Pipeline.js"
import * as Validate from "../../dsl/Validate.js"
import { type IoError, type ShapeError, ValidationError } from "../errors.js"
import type { Built } from "./Built.js"
import * as Graph from "./Graph.js"
import * as Layers from "./Layers.js"

/**
 * What was read from a `model.json`: a LayersModel or a GraphModel.
 *
 * @example
 * ```ts
 * import * as Loaded from "./src/models/Loaded.js"
 * declare const a: Loaded.Artifacts
 * a._tag // "Layers" | "Graph"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Artifacts =
  | { readonly _tag: "Layers"; readonly file: string; readonly layers: Layers.Artifacts }
  | { readonly _tag: "Graph"; readonly file: string; readonly graph: Graph.Artifacts }

/**
 * Reads a `model.json` (or the folder holding one) and its weights: a LayersModel or a
 * GraphModel, told apart by its `format` (and topology). Fails with an `IoError` naming the file
 * for a missing, unreadable or short file, a `ValidationError` for content Retort cannot run.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Loaded from "./src/models/Loaded.js"
 * const kind = Effect.map(Loaded.read("runs/teacher/export/teacher"), (a) => a._tag)
 * ```
 *
 * @since 0.1.0
 * @category reading
 */
export const read = (path: string): Effect.Effect<Artifacts, IoError | ValidationError> =>
  Effect.gen(function* () {
    const json = yield* Layers.readModelJson(path)
    if (json.kind === "graph") {
      const graph = yield* Graph.read(path)
      return { _tag: "Graph" as const, file: json.file, graph }
    }
    const layers = yield* Layers.read(path)
    return { _tag: "Layers" as const, file: json.file, layers }
  })

/**
 * Builds what was read into a functional model. `trainable`: the model is optimised (a
 * LayersModel student fine-tuned from its weights); a GraphModel cannot be (it fails with a
 * `ValidationError` saying so).
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * import * as Loaded from "./src/models/Loaded.js"
 * declare const a: Loaded.Artifacts
 * const built = Loaded.build(a, { trainable: false, description: Model.load({ path: "t/model.json" }) })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const build = (
  artifacts: Artifacts,
  options: { readonly trainable: boolean; readonly description: Model.Load },
): Result.Result<Built, ValidationError | ShapeError> => {
  const o = {
    trainable: options.trainable,
    description: options.description,
    ...(options.description.output !== undefined ? { output: options.description.output } : {}),
  }
  return artifacts._tag === "Layers" ? Layers.build(artifacts.layers, o) : Graph.build(artifacts.graph, o)
}

/**
 * The input shape a loaded model declares, without the batch axis (`[h, w, c]`, or `[d]` for a
 * model on flat vectors; `null` for a free dimension).
 *
 * @example
 * ```ts
 * import * as Loaded from "./src/models/Loaded.js"
 * declare const a: Loaded.Artifacts
 * Loaded.inputShape(a) // [32, 32, 3]
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const inputShape = (artifacts: Artifacts): ReadonlyArray<number | null> =>
  artifacts._tag === "Layers" ? Layers.inputShape(artifacts.layers) : Graph.inputShape(artifacts.graph)

/**
 * The models of a pipeline read from disk, checked: `builder(name)` gives the `loaded` build
 * option for that model (undefined for models that are not loaded), `resolved` what is known of
 * them (for `Validate.pipeline`), `files` the file each name was read from.
 *
 * @example
 * ```ts
 * import * as Loaded from "./src/models/Loaded.js"
 * declare const p: Loaded.Prepared
 * p.files.teacher // "/home/me/teachers/cnn/model.json"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Prepared {
  readonly builder: (
    name: string,
  ) => ((m: Model.Load) => Result.Result<Built, ValidationError | ShapeError>) | undefined
  readonly resolved: Readonly<Record<string, Validate.Resolved>>
  readonly files: Readonly<Record<string, string>>
  readonly artifacts: Readonly<Record<string, Artifacts>>
}

/** The declared models some phase optimises. */
const optimised = (p: Pipeline.Pipeline): ReadonlySet<string> =>
  new Set(p.phases.flatMap((ph) => ph.step.stages.flatMap((s) => (s._tag === "Optimize" ? s.models : []))))

const sameShape = (
  declared: ReadonlyArray<number | null>,
  data: readonly [number, number, number],
): boolean => {
  if (declared.length === 1) return declared[0] === null || declared[0] === data[0] * data[1] * data[2]
  return declared.length === 3 && declared.every((d, i) => d === null || d === data[i])
}

/**
 * Reads every `Model.load` model of a pipeline (relative paths against the working directory),
 * builds each once to learn its classes and taps, and checks — before any training — that its
 * input shape matches the data's images, its classes the data's classes, and (through
 * `Validate.pipeline` with what was learned) that the losses and taps that use it make sense:
 * a teacher with 100 classes distilled into a 10-class student fails here, naming the file. A
 * GraphModel that a phase optimises fails too (it can only be a frozen teacher). Every problem
 * is reported at once in one `ValidationError`. `validate: false` skips the pipeline-wide checks
 * (for opening one model of a finished run).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Loaded from "./src/models/Loaded.js"
 * declare const pipeline: import("./dsl/Pipeline.js").Pipeline
 * const prepared = Loaded.prepare(pipeline, { shape: [32, 32, 3], classes: 10, name: "flowers" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const prepare = (
  pipeline: Pipeline.Pipeline,
  data: {
    readonly shape: readonly [number, number, number]
    readonly classes: number
    readonly name: string
  },
  options: { readonly validate?: boolean } = {},
): Effect.Effect<Prepared, IoError | ValidationError> =>
  Effect.gen(function* () {
    const trained = optimised(pipeline)
    const artifacts: Record<string, Artifacts> = {}
    const files: Record<string, string> = {}
    const resolved: Record<string, Validate.Resolved> = {}
    const issues: Array<{ path: string; message: string }> = []
    const byPath = new Map<string, Artifacts>()
    for (const [name, m] of Object.entries(pipeline.models)) {
      if (m._tag !== "Load") continue
      const path = resolve(m.path)
      const art = byPath.get(path) ?? (yield* read(path))
      byPath.set(path, art)
      artifacts[name] = art
      files[name] = art.file
      const declared = inputShape(art)
      if (!sameShape(declared, data.shape))
        issues.push({
          path: `models.${name}`,
          message: `${art.file} takes inputs of shape [${declared.map((d) => d ?? "any").join(", ")}] but ${data.name} has ${data.shape.join("×")} images`,
        })
      const built = build(art, { trainable: trained.has(name), description: m })
      if (Result.isFailure(built)) {
        const e = built.failure
        if (e._tag === "ValidationError")
          for (const i of e.issues)
            issues.push({ path: `models.${name}${i.path ? `.${i.path}` : ""}`, message: i.message })
        else issues.push({ path: `models.${name}`, message: `${art.file}: ${e.message}` })
        continue
      }
      const b = built.success
      try {
        if (b.classes !== undefined && b.classes !== data.classes)
          issues.push({
            path: `models.${name}`,
            message: `${art.file} has ${b.classes} classes but ${data.name} has ${data.classes}`,
          })
        resolved[name] = {
          ...(b.classes !== undefined ? { classes: b.classes } : {}),
          taps: b.taps,
          heads: b.heads,
        }
      } finally {
        b.dispose()
      }
    }
    if (issues.length === 0 && Object.keys(resolved).length > 0 && options.validate !== false)
      for (const i of Validate.pipeline(pipeline, { models: resolved })) issues.push(i)
    if (issues.length > 0) return yield* Effect.fail(new ValidationError({ issues }))
    return {
      builder: (name: string) => {
        const art = artifacts[name]
        if (art === undefined) return undefined
        return (m: Model.Load) => build(art, { trainable: trained.has(name), description: m })
      },
      resolved,
      files,
      artifacts,
    }
  })

/**
 * Whether a description is a model loaded from disk.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * import * as Loaded from "./src/models/Loaded.js"
 * Loaded.isLoad(Model.load({ path: "t" })) // true
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isLoad = (m: Model.Model): m is Model.Load => m._tag === "Load"
