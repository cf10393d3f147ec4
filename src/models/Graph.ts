/**
 * Pretrained TF.js GraphModels (`format: "graph-model"`, what `tensorflowjs_converter` makes
 * of a SavedModel or frozen graph) as frozen teachers. {@link read} reads the `model.json` and
 * its weight shards from disk (through `Layers.readModelJson`); {@link build} loads them with
 * `@tensorflow/tfjs-converter`'s `loadGraphModelSync` and wraps the graph into a {@link Built}
 * whose `apply` runs `model.execute` synchronously. A GraphModel's weights are constants of the
 * graph: it cannot be trained, its `params` and `state` are empty, and any parameter tree given
 * to `apply` is ignored.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Graph from "./src/models/Graph.js"
 * const program = Effect.gen(function* () {
 *   const artifacts = yield* Graph.read("teacher-graph/model.json")
 *   const teacher = yield* Effect.fromResult(
 *     Graph.build(artifacts, { trainable: false, description: Model.custom("teacher") }),
 *   )
 *   return tf.tidy(() => teacher.apply({}, tf.zeros([1, 28, 28, 1]), { train: false }).logits.shape)
 * })
 * ```
 *
 * @since 0.1.0
 */

import { loadGraphModelSync } from "@tensorflow/tfjs-converter"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Result } from "effect"
import type * as Model from "../../dsl/Model.js"
import { type IoError, ShapeError, ValidationError } from "../errors.js"
import type { ApplyOptions, Built, Forward } from "./Built.js"
import { checkTaps, fitInput, type Json, readModelJson, shapeText } from "./Layers.js"

/**
 * One node of the graph: its name, op and inputs (as written in the GraphDef: `name`,
 * `name:1`, control inputs `^name`).
 *
 * @example
 * ```ts
 * import type * as Graph from "./src/models/Graph.js"
 * const n: Graph.Node = { name: "dense/MatMul", op: "MatMul", inputs: ["x", "dense/kernel"] }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Node {
  readonly name: string
  readonly op: string
  readonly inputs: ReadonlyArray<string>
}

/**
 * What {@link read} gives: the `model.json` path, the model artifacts as `tf.io` describes them
 * (topology, weight specs, the weight bytes still quantised as on disk) and the graph's nodes.
 *
 * @example
 * ```ts
 * import * as Graph from "./src/models/Graph.js"
 * declare const a: Graph.Artifacts
 * const ops = new Set(a.nodes.map((n) => n.op))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Artifacts {
  readonly file: string
  readonly artifacts: tf.io.ModelArtifacts
  readonly nodes: ReadonlyArray<Node>
}

const validation = (path: string, message: string): ValidationError =>
  new ValidationError({ issues: [{ path, message }] })

const errorText = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

const isObject = (u: unknown): u is { readonly [k: string]: Json } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Reads a TF.js GraphModel from a `model.json` (or a directory holding one) and its weight
 * shards. A missing file or shard, malformed JSON or a short shard fail with an `IoError`
 * naming the file; a LayersModel fails with a `ValidationError` saying to use `Layers.read`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Graph from "./src/models/Graph.js"
 * const nodes = Effect.map(Graph.read("teacher-graph"), (a) => a.nodes.length)
 * ```
 *
 * @since 0.1.0
 * @category reading
 */
export const read = (path: string): Effect.Effect<Artifacts, IoError | ValidationError> =>
  Effect.flatMap(readModelJson(path), (m) => {
    if (m.kind === "layers") {
      return Effect.fail(
        validation(m.file, `${m.file} is a TF.js LayersModel, not a GraphModel: load it with Layers.read`),
      )
    }
    const rawNodes = m.modelTopology.node
    if (!Array.isArray(rawNodes))
      return Effect.fail(validation(m.file, `${m.file}: the GraphDef has no node list`))
    const nodes: Array<Node> = []
    for (const n of rawNodes as ReadonlyArray<Json>) {
      if (!isObject(n) || typeof n.name !== "string" || typeof n.op !== "string") {
        return Effect.fail(validation(m.file, `${m.file}: every GraphDef node needs a name and an op`))
      }
      const inputs = Array.isArray(n.input)
        ? (n.input as ReadonlyArray<Json>).filter((i) => typeof i === "string")
        : []
      nodes.push({ name: n.name, op: n.op, inputs: inputs as ReadonlyArray<string> })
    }
    const artifacts = tf.io.getModelArtifactsForJSONSync(
      m.json as unknown as tf.io.ModelJSON,
      [...m.specs],
      m.weightData,
    )
    return Effect.succeed({ file: m.file, artifacts, nodes })
  })

/**
 * Options of {@link build}, as for `Layers.build`: `trainable` must be `false` (a GraphModel is
 * frozen), `output` says how to read the output, `description` is what the `Built` carries.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * import type * as Graph from "./src/models/Graph.js"
 * const o: Graph.BuildOptions = { trainable: false, description: Model.custom("teacher") }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface BuildOptions {
  readonly trainable: boolean
  readonly output?: "auto" | "logits" | "probabilities"
  readonly description: Model.Model
}

const PROBABILITY_EPSILON = 1e-7

/** the node a graph input such as `name:0` or `^name` refers to */
const nodeName = (input: string): string => input.replace(/^\^/, "").replace(/:\d+$/, "")

/** ops whose graphs `execute` refuses (control flow, dynamic shapes, hash tables) */
const ASYNC_OPS = new Set([
  "Enter",
  "Exit",
  "Merge",
  "Switch",
  "NextIteration",
  "LoopCond",
  "If",
  "StatelessIf",
  "While",
  "StatelessWhile",
  "TensorArrayV3",
  "TensorListReserve",
  "NonMaxSuppressionV2",
  "NonMaxSuppressionV3",
  "NonMaxSuppressionV4",
  "NonMaxSuppressionV5",
  "Where",
  "ListDiff",
  "HashTable",
  "HashTableV2",
  "LookupTableImport",
  "LookupTableImportV2",
  "LookupTableFind",
  "LookupTableFindV2",
])

/**
 * The graph input's shape without the batch axis (`null` for unknown dimensions), from its
 * Placeholder's `shape` attribute; `[]` when the graph does not declare one (unknown rank).
 *
 * @example
 * ```ts
 * import * as Graph from "./src/models/Graph.js"
 * declare const a: Graph.Artifacts
 * const shape = Graph.inputShape(a) // e.g. [28, 28, 1]
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const inputShape = (artifacts: Artifacts): ReadonlyArray<number | null> => {
  const topology = artifacts.artifacts.modelTopology as { readonly node?: ReadonlyArray<unknown> } | undefined
  const placeholder = topology?.node?.find((n) => isObject(n) && n.op === "Placeholder")
  if (!isObject(placeholder) || !isObject(placeholder.attr)) return []
  const shape = placeholder.attr.shape
  const inner = isObject(shape) && isObject(shape.shape) ? shape.shape : undefined
  if (inner === undefined || inner.unknownRank === true || !Array.isArray(inner.dim)) return []
  const dims = (inner.dim as ReadonlyArray<Json>).map((d) => {
    const size = isObject(d) ? Number(d.size ?? -1) : -1
    return Number.isFinite(size) && size >= 0 ? size : null
  })
  return dims.slice(1)
}

/**
 * Wraps a GraphModel into a {@link Built} (a frozen teacher):
 *
 * - `trainable: true` fails with a `ValidationError`: a GraphModel's weights are graph
 *   constants; fine-tune a LayersModel instead. `params` and `state` are empty trees.
 * - `apply(_, x, options)` runs `model.execute(x, outputs)` synchronously (training mode
 *   changes nothing: the graph is an inference graph). `x` is checked against the Placeholder's
 *   shape; a non-image input (`[d]`) is reshaped from images of the same size.
 * - `logits`: when the output node is a `Softmax` and `output` is `"auto"` (default) or
 *   `"logits"`, its input (the pre-softmax values); otherwise the output; `"probabilities"`
 *   gives `log(max(p, 1e-7))` of the output.
 * - `taps`: every node but Placeholders and Consts, by name (fetched in the same `execute`).
 * - `input`: `[h, w, c]` from a rank-4 Placeholder; `classes`: from one probe forward of a zero
 *   batch (or the output's declared shape).
 *
 * A graph that needs `executeAsync` (control flow, dynamic ops) fails with a `ValidationError`
 * naming the op; a graph the converter cannot load, with a `ValidationError` carrying its
 * message.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Result } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Graph from "./src/models/Graph.js"
 * declare const artifacts: Graph.Artifacts
 * const r = Graph.build(artifacts, { trainable: false, description: Model.custom("teacher") })
 * if (Result.isSuccess(r)) tf.tidy(() => r.success.apply({}, tf.zeros([2, 28, 28, 1]), { train: false }).logits)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const build = (
  artifacts: Artifacts,
  options: BuildOptions,
): Result.Result<Built, ValidationError | ShapeError> => {
  const { file, nodes } = artifacts
  if (options.trainable) {
    return Result.fail(
      validation(
        file,
        `${file} is a TF.js GraphModel: its weights are graph constants, so it can only be a frozen teacher (trainable: false); to fine-tune a pretrained model, export it as a LayersModel`,
      ),
    )
  }
  const dynamic = nodes.find((n) => ASYNC_OPS.has(n.op))
  if (dynamic !== undefined) {
    return Result.fail(
      validation(
        file,
        `${file}: the node ${dynamic.name} has the op ${dynamic.op} (control flow or dynamic shapes), which needs executeAsync; Retort runs models synchronously`,
      ),
    )
  }
  let model: ReturnType<typeof loadGraphModelSync>
  try {
    model = loadGraphModelSync(artifacts.artifacts)
  } catch (cause) {
    return Result.fail(validation(file, `${file}: the GraphModel cannot be loaded: ${errorText(cause)}`))
  }
  const fail = (e: ValidationError | ShapeError) => {
    model.dispose()
    return Result.fail(e)
  }
  if (model.inputs.length !== 1)
    return fail(
      validation(file, `${file}: the graph has ${model.inputs.length} inputs; exactly one is supported`),
    )
  if (model.outputs.length !== 1)
    return fail(
      validation(file, `${file}: the graph has ${model.outputs.length} outputs; exactly one is supported`),
    )
  const byName = new Map(nodes.map((n) => [n.name, n]))
  const outputName = model.outputNodes[0]!
  const outputNode = byName.get(nodeName(outputName))
  const output = options.output ?? "auto"
  const softmaxInput = outputNode?.op === "Softmax" ? outputNode.inputs[0] : undefined
  const fetch = output !== "probabilities" && softmaxInput !== undefined ? softmaxInput : outputName
  const taps = nodes.filter((n) => n.op !== "Placeholder" && n.op !== "Const").map((n) => n.name)
  const tapSet = new Set(taps)
  const declared = inputShape(artifacts)
  const shape =
    declared.length > 0 && declared.every((d) => d !== null) ? (declared as ReadonlyArray<number>) : undefined
  const image = shape !== undefined && shape.length === 3 ? (shape as unknown as Model.Shape) : undefined

  const apply = (_params: unknown, input: tf.Tensor, o: ApplyOptions): Forward => {
    const x = shape !== undefined ? fitInput(file, input, image, shape) : input
    const wanted = o.taps ?? []
    checkTaps(file, wanted, tapSet)
    let outs: Array<tf.Tensor>
    try {
      const result = model.execute(x, [fetch, ...wanted])
      outs = Array.isArray(result) ? result : [result]
    } catch (cause) {
      throw new ShapeError({
        path: file,
        message: `${file}: the GraphModel failed on ${shapeText(x.shape)}: ${errorText(cause)}`,
      })
    }
    const y = outs[0]!
    const logits = (
      output === "probabilities" ? tf.log(tf.maximum(y, PROBABILITY_EPSILON)) : y
    ) as tf.Tensor2D
    if (logits.rank !== 2) {
      throw new ShapeError({
        path: "logits",
        message: `${file}: the output ${fetch} has shape ${shapeText(logits.shape)}; expected [batch, classes]`,
      })
    }
    const collected: Record<string, tf.Tensor> = {}
    wanted.forEach((name, i) => {
      collected[name] = outs[i + 1]!
    })
    return { logits, heads: { logits }, taps: collected }
  }

  let classes: number | undefined
  if (shape !== undefined) {
    try {
      classes = tf.tidy(() => apply({}, tf.zeros([1, ...shape]), { train: false }).logits.shape[1])
    } catch (cause) {
      if (cause instanceof ShapeError && /executeAsync/.test(cause.message)) {
        return fail(
          validation(
            file,
            `${file}: the graph needs executeAsync, which Retort cannot run synchronously: ${cause.message}`,
          ),
        )
      }
      return fail(
        cause instanceof ShapeError ? cause : new ShapeError({ path: file, message: errorText(cause) }),
      )
    }
  } else {
    const last = model.outputs[0]?.shape?.at(-1)
    classes = last !== undefined && last > 0 ? last : undefined
  }
  return Result.succeed({
    description: options.description,
    params: {},
    state: {},
    paramCount: 0,
    taps,
    heads: ["logits"],
    input: image,
    classes,
    apply,
    dispose: () => model.dispose(),
  })
}
