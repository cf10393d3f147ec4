/**
 * Pretrained TF.js LayersModels from disk, run functionally. {@link read} parses a `model.json`
 * (Keras functional or Sequential topology, as tfjs-layers or tfjs-converter write it) and its
 * weight shards; {@link build} turns it into a {@link Built}: an interpreter of the topology
 * over tfjs-core ops whose weights are a parameter tree, so that `apply` computes with any tree
 * of the same shape (the live weights, an EMA or SWA copy), draws seeded dropout masks, and
 * reads and updates batch-norm statistics in the given state tree — what a black-box
 * `tf.LayersModel` (layers owning their variables, unseeded dropout, self-updating batch norm)
 * cannot do. {@link toArtifacts} / {@link write} export the same topology with new weights.
 *
 * {@link readModelJson} is shared with `Graph.ts`: it tells a LayersModel (`kind: "layers"`)
 * from a GraphModel (`kind: "graph"`) so that a caller can route a file to the right loader.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Effect, Result } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Layers from "./src/models/Layers.js"
 * const program = Effect.gen(function* () {
 *   const artifacts = yield* Layers.read("teacher/model.json")
 *   const built = yield* Effect.fromResult(
 *     Layers.build(artifacts, { trainable: false, description: Model.custom("teacher") }),
 *   )
 *   return tf.tidy(() => built.apply(built.params, tf.zeros([1, 28, 28, 1]), { train: false }).logits.shape)
 * })
 * ```
 *
 * @since 0.1.0
 */
import { mkdir, readFile, stat, writeFile } from "node:fs/promises"
import { dirname, join, resolve } from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Result } from "effect"
import type * as Model from "../../dsl/Model.js"
import { IoError, ShapeError, ValidationError } from "../errors.js"
import type { ApplyOptions, Built, Forward } from "./Built.js"
import * as Ops from "./Ops.js"
import * as Tree from "./Tree.js"

/**
 * A JSON value, as read from a `model.json`.
 *
 * @example
 * ```ts
 * import type * as Layers from "./src/models/Layers.js"
 * const j: Layers.Json = { class_name: "Dense", config: { units: 10 } }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [k: string]: Json }

type JsonObject = { readonly [k: string]: Json }

const isObject = (u: unknown): u is JsonObject => typeof u === "object" && u !== null && !Array.isArray(u)

// ---------------------------------------------------------------------------------------------
// model.json and weight shards
// ---------------------------------------------------------------------------------------------

/**
 * A parsed `model.json` with its weight bytes: `kind` says whether it is a LayersModel
 * (`format: "layers-model"`, or no format and a Keras topology) or a GraphModel
 * (`format: "graph-model"`, or a topology with `node`); `file` is the absolute path of the
 * `model.json`; `specs` are the weight specs of every `weightsManifest` group in order and
 * `weightData` the concatenated bytes of their shards (still quantised, as on disk).
 *
 * @example
 * ```ts
 * import * as Layers from "./src/models/Layers.js"
 * declare const m: Layers.ModelJson
 * const isGraph = m.kind === "graph"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ModelJson {
  readonly kind: "layers" | "graph"
  readonly file: string
  readonly json: { readonly [k: string]: Json }
  readonly modelTopology: { readonly [k: string]: Json }
  readonly specs: ReadonlyArray<tf.io.WeightsManifestEntry>
  readonly weightData: ArrayBuffer
}

const validation = (path: string, message: string): ValidationError =>
  new ValidationError({ issues: [{ path, message }] })

const errorText = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

const KERAS_CLASSES = new Set(["Model", "Functional", "Sequential"])

/** the Keras topology inside a LayersModel's `modelTopology` (tfjs-converter wraps it in `model_config`) */
const kerasTopology = (modelTopology: JsonObject): JsonObject =>
  isObject(modelTopology.model_config) ? modelTopology.model_config : modelTopology

const QUANTIZED_BYTES: Readonly<Record<string, number>> = { uint8: 1, uint16: 2, float16: 2 }
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  float32: 4,
  int32: 4,
  bool: 1,
  uint8: 1,
  complex64: 8,
}

const elements = (shape: ReadonlyArray<number>): number => shape.reduce((a, b) => a * b, 1)

/** bytes a spec occupies in its group's buffer; `undefined` for strings (variable length) */
const specBytes = (spec: tf.io.WeightsManifestEntry): number | undefined => {
  const q = spec.quantization?.dtype
  const per = q !== undefined ? QUANTIZED_BYTES[q] : DTYPE_BYTES[spec.dtype as string]
  return per === undefined ? undefined : elements(spec.shape) * per
}

const resolveModelJson = async (path: string): Promise<string> => {
  const absolute = resolve(path)
  const s = await stat(absolute).catch(() => undefined)
  if (s === undefined) throw new IoError({ path: absolute, message: `no model.json at ${absolute}` })
  if (!s.isDirectory()) return absolute
  const file = join(absolute, "model.json")
  const inner = await stat(file).catch(() => undefined)
  if (inner === undefined) {
    throw new IoError({
      path: file,
      message: `the directory ${absolute} has no model.json (looked for ${file})`,
    })
  }
  return file
}

const kindOf = (
  file: string,
  json: JsonObject,
  topology: JsonObject,
): "layers" | "graph" | ValidationError => {
  const format = json.format
  if (format === "graph-model") return "graph"
  if (format === "layers-model") return "layers"
  if (format !== undefined && format !== null) {
    return validation(
      file,
      `${file} has format ${JSON.stringify(format)}; expected "layers-model" or "graph-model"`,
    )
  }
  if (Array.isArray(topology.node)) return "graph"
  const keras = kerasTopology(topology)
  if (typeof keras.class_name === "string" && KERAS_CLASSES.has(keras.class_name)) return "layers"
  return validation(
    file,
    `${file} is neither a TF.js LayersModel (no Keras Model/Functional/Sequential topology) nor a GraphModel (no node list)`,
  )
}

const readShards = async (
  file: string,
  manifest: Json | undefined,
): Promise<{ specs: Array<tf.io.WeightsManifestEntry>; data: ArrayBuffer }> => {
  if (manifest === undefined || manifest === null) return { specs: [], data: new ArrayBuffer(0) }
  if (!Array.isArray(manifest)) {
    throw validation(file, `${file}: weightsManifest must be an array of { paths, weights } groups`)
  }
  const specs: Array<tf.io.WeightsManifestEntry> = []
  const parts: Array<Uint8Array> = []
  for (const [g, group] of (manifest as ReadonlyArray<Json>).entries()) {
    if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw validation(file, `${file}: weightsManifest[${g}] must have "paths" and "weights" arrays`)
    }
    const groupSpecs = group.weights as unknown as ReadonlyArray<tf.io.WeightsManifestEntry>
    for (const [i, spec] of groupSpecs.entries()) {
      if (
        !isObject(spec) ||
        typeof spec.name !== "string" ||
        !Array.isArray(spec.shape) ||
        typeof spec.dtype !== "string"
      ) {
        throw validation(
          file,
          `${file}: weightsManifest[${g}].weights[${i}] needs a name, a shape and a dtype`,
        )
      }
      const q = spec.quantization?.dtype
      if (q !== undefined && QUANTIZED_BYTES[q] === undefined) {
        throw validation(
          file,
          `${file}: weight ${spec.name} has the unsupported quantization ${q} (supported: uint8, uint16, float16)`,
        )
      }
    }
    const shards: Array<Uint8Array> = []
    let last = file
    for (const p of group.paths) {
      if (typeof p !== "string")
        throw validation(file, `${file}: weightsManifest[${g}].paths must be strings`)
      const shard = join(dirname(file), p)
      last = shard
      const bytes = await readFile(shard).catch((cause) => {
        throw new IoError({
          path: shard,
          message: `the weights shard ${shard} listed in ${file} cannot be read (${errorText(cause)})`,
          cause,
        })
      })
      shards.push(bytes)
    }
    const have = shards.reduce((n, s) => n + s.byteLength, 0)
    const sizes = groupSpecs.map(specBytes)
    if (sizes.every((s) => s !== undefined)) {
      const need = sizes.reduce<number>((n, s) => n + s!, 0)
      if (have !== need) {
        throw new IoError({
          path: last,
          message: `the weights shards of ${file} (${group.paths.join(", ")}) hold ${have} bytes, but its weightsManifest needs ${need}${have < need ? " (a shard is too short)" : ""}`,
        })
      }
    }
    specs.push(...groupSpecs)
    parts.push(...shards)
  }
  const total = parts.reduce((n, p) => n + p.byteLength, 0)
  const data = new Uint8Array(total)
  let offset = 0
  for (const p of parts) {
    data.set(p, offset)
    offset += p.byteLength
  }
  return { specs, data: data.buffer }
}

/**
 * Reads a `model.json` (or the `model.json` inside a directory) and every weight shard of its
 * `weightsManifest` (paths relative to the `model.json`), checking that each shard exists and
 * that each group's bytes are exactly what its specs need. Says whether the file is a
 * LayersModel or a GraphModel (see {@link ModelJson}). A missing file or shard, malformed JSON
 * or a short shard fail with an `IoError` naming the file; content that is neither kind of
 * model, or a malformed manifest, with a `ValidationError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Layers from "./src/models/Layers.js"
 * const kind = Effect.map(Layers.readModelJson("teacher"), (m) => m.kind) // "layers" | "graph"
 * ```
 *
 * @since 0.1.0
 * @category reading
 */
export const readModelJson = (path: string): Effect.Effect<ModelJson, IoError | ValidationError> =>
  Effect.tryPromise({
    try: async (): Promise<ModelJson> => {
      const file = await resolveModelJson(path)
      const text = await readFile(file, "utf8").catch((cause) => {
        throw new IoError({ path: file, message: `cannot read ${file} (${errorText(cause)})`, cause })
      })
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch (cause) {
        throw new IoError({ path: file, message: `${file} is not valid JSON: ${errorText(cause)}`, cause })
      }
      if (!isObject(json)) throw validation(file, `${file} must hold a JSON object`)
      const modelTopology = json.modelTopology
      if (!isObject(modelTopology)) throw validation(file, `${file} has no modelTopology object`)
      const kind = kindOf(file, json, modelTopology)
      if (kind instanceof ValidationError) throw kind
      const { specs, data } = await readShards(file, json.weightsManifest)
      return { kind, file, json, modelTopology, specs, weightData: data }
    },
    catch: (cause) =>
      cause instanceof IoError || cause instanceof ValidationError
        ? cause
        : new IoError({ path, message: `cannot read the model at ${path}: ${errorText(cause)}`, cause }),
  })

const float16 = (bits: number): number => {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >> 10) & 0x1f
  const fraction = bits & 0x3ff
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024)
  if (exponent === 0x1f) return fraction === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024)
}

/** every spec decoded (dequantised) to float32, in manifest order */
const decodeWeights = (m: ModelJson): Array<Weight> => {
  const out: Array<Weight> = []
  let offset = 0
  for (const spec of m.specs) {
    const bytes = specBytes(spec)
    if (bytes === undefined) {
      throw validation(
        m.file,
        `${m.file}: weight ${spec.name} has dtype ${spec.dtype}, unsupported in a LayersModel`,
      )
    }
    const n = elements(spec.shape)
    const slice = m.weightData.slice(offset, offset + bytes)
    offset += bytes
    const values = new Float32Array(n)
    const q = spec.quantization
    if (q !== undefined) {
      if (q.dtype === "float16") {
        const raw = new Uint16Array(slice)
        for (let i = 0; i < n; i++) values[i] = float16(raw[i]!)
      } else {
        if (q.scale === undefined || q.min === undefined) {
          throw validation(
            m.file,
            `${m.file}: weight ${spec.name} is quantised to ${q.dtype} without scale and min`,
          )
        }
        const raw = q.dtype === "uint8" ? new Uint8Array(slice) : new Uint16Array(slice)
        for (let i = 0; i < n; i++) values[i] = raw[i]! * q.scale + q.min
      }
    } else {
      const dtype = spec.dtype as string
      const raw =
        dtype === "float32"
          ? new Float32Array(slice)
          : dtype === "int32"
            ? new Int32Array(slice)
            : dtype === "uint8" || dtype === "bool"
              ? new Uint8Array(slice)
              : undefined
      if (raw === undefined) {
        throw validation(
          m.file,
          `${m.file}: weight ${spec.name} has dtype ${dtype}, unsupported in a LayersModel`,
        )
      }
      values.set(raw)
    }
    out.push({ name: spec.name, shape: [...spec.shape], values })
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// The topology
// ---------------------------------------------------------------------------------------------

/**
 * One weight of a loaded model, dequantised: its manifest name (`conv1/kernel`), shape and
 * float32 values.
 *
 * @example
 * ```ts
 * import type * as Layers from "./src/models/Layers.js"
 * const w: Layers.Weight = { name: "dense/bias", shape: [2], values: new Float32Array(2) }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Weight {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  readonly values: Float32Array
}

/**
 * One layer of the topology: name, Keras class, config, the names of the layers it reads
 * (in order) and whether Keras trains it.
 *
 * @example
 * ```ts
 * import type * as Layers from "./src/models/Layers.js"
 * const l: Layers.Layer = { name: "add", className: "Add", config: {}, inputs: ["a", "b"], trainable: true }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Layer {
  readonly name: string
  readonly className: string
  readonly config: { readonly [k: string]: Json }
  readonly inputs: ReadonlyArray<string>
  readonly trainable: boolean
}

/**
 * A single-input, single-output layer graph: the input layer's name and shape (without the
 * batch axis), the layers that lead to the output in topological order (the input excluded),
 * and the output layer's name.
 *
 * @example
 * ```ts
 * import type * as Layers from "./src/models/Layers.js"
 * const t: Layers.Topology = { input: { name: "x", shape: [4] }, layers: [], output: "x" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Topology {
  readonly input: { readonly name: string; readonly shape: ReadonlyArray<number | null> }
  readonly layers: ReadonlyArray<Layer>
  readonly output: string
}

/**
 * What {@link read} gives: the `model.json` path, its raw `modelTopology` (re-exported as is by
 * {@link toArtifacts}), the parsed {@link Topology}, and the weights in manifest order.
 *
 * @example
 * ```ts
 * import * as Layers from "./src/models/Layers.js"
 * declare const a: Layers.Artifacts
 * const names = a.topology.layers.map((l) => `${l.name} (${l.className})`)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Artifacts {
  readonly file: string
  readonly modelTopology: { readonly [k: string]: Json }
  readonly topology: Topology
  readonly weights: ReadonlyArray<Weight>
}

/**
 * The Keras layer classes the interpreter runs.
 *
 * @example
 * ```ts
 * import * as Layers from "./src/models/Layers.js"
 * Layers.supportedClasses.includes("Conv2D") // true
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const supportedClasses: ReadonlyArray<string> = [
  "InputLayer",
  "Dense",
  "Conv2D",
  "DepthwiseConv2D",
  "SeparableConv2D",
  "BatchNormalization",
  "Activation",
  "ReLU",
  "LeakyReLU",
  "Softmax",
  "ELU",
  "Dropout",
  "SpatialDropout2D",
  "GaussianNoise",
  "GaussianDropout",
  "Flatten",
  "Reshape",
  "MaxPooling2D",
  "AveragePooling2D",
  "GlobalAveragePooling2D",
  "GlobalMaxPooling2D",
  "ZeroPadding2D",
  "Add",
  "Subtract",
  "Multiply",
  "Average",
  "Maximum",
  "Minimum",
  "Concatenate",
  "Rescaling",
]

const SUPPORTED = new Set(supportedClasses)

/** the names of the layers a Keras 2 (`[[name, node, tensor, kwargs], …]`) or Keras 3 node reads */
const nodeInputs = (node: Json): Array<readonly [string, number, number]> => {
  if (Array.isArray(node)) {
    return (node as ReadonlyArray<Json>).flatMap((ref) =>
      Array.isArray(ref) && typeof ref[0] === "string"
        ? [[ref[0], Number(ref[1] ?? 0), Number(ref[2] ?? 0)] as const]
        : [],
    )
  }
  const found: Array<readonly [string, number, number]> = []
  const visit = (j: Json): void => {
    if (Array.isArray(j)) for (const e of j as ReadonlyArray<Json>) visit(e)
    else if (isObject(j)) {
      const history = isObject(j.config) ? j.config.keras_history : undefined
      if (Array.isArray(history) && typeof history[0] === "string") {
        found.push([history[0], Number(history[1] ?? 0), Number(history[2] ?? 0)])
      } else for (const v of Object.values(j)) visit(v)
    }
  }
  if (isObject(node)) visit(node.args ?? [])
  return found
}

/** `[[name, 0, 0], …]` or Keras 3's single `[name, 0, 0]` */
const endpoints = (j: Json | undefined): Array<string> => {
  if (!Array.isArray(j)) return []
  const list = j as ReadonlyArray<Json>
  if (typeof list[0] === "string") return [list[0]]
  return list.flatMap((e) => (Array.isArray(e) && typeof e[0] === "string" ? [e[0]] : []))
}

const batchShapeOf = (config: JsonObject): ReadonlyArray<number | null> | undefined => {
  const shape = config.batch_input_shape ?? config.batch_shape
  if (Array.isArray(shape))
    return (shape as ReadonlyArray<Json>).map((d) => (typeof d === "number" ? d : null))
  if (Array.isArray(config.input_shape)) {
    return [
      null,
      ...(config.input_shape as ReadonlyArray<Json>).map((d) => (typeof d === "number" ? d : null)),
    ]
  }
  return undefined
}

const ACTIVATIONS: Readonly<Record<string, (x: tf.Tensor) => tf.Tensor>> = {
  linear: (x) => x,
  relu: (x) => tf.relu(x),
  relu6: (x) => tf.relu6(x),
  elu: (x) => tf.elu(x),
  selu: (x) => tf.selu(x),
  sigmoid: (x) => tf.sigmoid(x),
  hardsigmoid: (x) => tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1),
  tanh: (x) => tf.tanh(x),
  softmax: (x) => tf.softmax(x),
  logsoftmax: (x) => tf.logSoftmax(x),
  softplus: (x) => tf.softplus(x),
  softsign: (x) => tf.div(x, tf.add(tf.abs(x), 1)),
  swish: (x) => tf.mul(x, tf.sigmoid(x)),
  silu: (x) => tf.mul(x, tf.sigmoid(x)),
  gelu: (x) => Ops.activate(x, "gelu"),
  gelunew: (x) =>
    tf.mul(
      tf.mul(x, 0.5),
      tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))),
    ),
  mish: (x) => tf.mul(x, tf.tanh(tf.softplus(x))),
}

/** `hard_sigmoid`, `hardSigmoid` → `hardsigmoid`; `undefined`/`null` → linear */
const activationKey = (a: Json | undefined): string | undefined =>
  a === undefined || a === null
    ? "linear"
    : typeof a === "string"
      ? a.replace(/_/g, "").toLowerCase()
      : undefined

const ACTIVATED = new Set(["Dense", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Activation"])

/** a sentence when the layer's config is something the interpreter does not run */
const configProblem = (layer: Layer): string | undefined => {
  const c = layer.config
  if (ACTIVATED.has(layer.className)) {
    const key = activationKey(c.activation)
    if (key === undefined || ACTIVATIONS[key] === undefined) {
      return `activation ${JSON.stringify(c.activation)} is not supported (supported: linear, relu, relu6, elu, selu, sigmoid, hard_sigmoid, tanh, softmax, log_softmax, softplus, softsign, swish/silu, gelu, gelu_new, mish)`
    }
  }
  if (c.data_format === "channels_first")
    return "data_format channels_first is not supported (channels_last only)"
  if (c.padding === "causal") return "padding causal is not supported (same or valid only)"
  return undefined
}

/**
 * Parses the Keras topology of a LayersModel `modelTopology` (functional `Model`/`Functional`
 * with Keras 2 or Keras 3 inbound nodes, or `Sequential`) into a {@link Topology}. Fails with a
 * `ValidationError` (paths start with `file`) listing every unsupported layer class (with the
 * supported ones), shared layers, multiple inputs/outputs and unusable configs.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import * as Layers from "./src/models/Layers.js"
 * declare const modelTopology: { readonly [k: string]: Layers.Json }
 * const t = Layers.parseTopology("model.json", modelTopology)
 * if (Result.isSuccess(t)) t.success.layers.length
 * ```
 *
 * @since 0.1.0
 * @category reading
 */
export const parseTopology = (
  file: string,
  modelTopology: { readonly [k: string]: Json },
): Result.Result<Topology, ValidationError> => {
  const keras = kerasTopology(modelTopology)
  const className = keras.class_name
  const fail = (message: string) => Result.fail(validation(file, `${file}: ${message}`))
  if (typeof className !== "string" || !KERAS_CLASSES.has(className)) {
    return fail(
      `the topology's class_name is ${JSON.stringify(className)}; expected Model, Functional or Sequential`,
    )
  }
  const config = keras.config
  const rawLayers = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined
  if (!Array.isArray(rawLayers)) return fail("the topology has no layer list")
  const all: Array<Layer & { readonly batchShape: ReadonlyArray<number | null> | undefined }> = []
  let inputName: string | undefined
  let outputName: string | undefined
  const issues: Array<{ path: string; message: string }> = []
  const entries = (rawLayers as ReadonlyArray<Json>).filter(isObject)
  entries.forEach((raw, i) => {
    const cfg = isObject(raw.config) ? raw.config : {}
    const name =
      typeof raw.name === "string" ? raw.name : typeof cfg.name === "string" ? cfg.name : `layer${i}`
    const cls = typeof raw.class_name === "string" ? raw.class_name : "<no class_name>"
    let inputs: Array<string> = []
    if (className === "Sequential") {
      const previous = all.at(-1)
      inputs = previous === undefined ? [] : [previous.name]
    } else {
      const nodes = Array.isArray(raw.inbound_nodes) ? (raw.inbound_nodes as ReadonlyArray<Json>) : []
      if (nodes.length > 1) {
        issues.push({
          path: file,
          message: `${file}: layer ${name} (${cls}) is shared (called ${nodes.length} times); shared layers are not supported`,
        })
      }
      const refs = nodes[0] === undefined ? [] : nodeInputs(nodes[0])
      if (refs.some(([, node, tensor]) => node !== 0 || tensor !== 0)) {
        issues.push({
          path: file,
          message: `${file}: layer ${name} (${cls}) reads a second call or a second output of a layer; not supported`,
        })
      }
      inputs = refs.map(([n]) => n)
    }
    all.push({
      name,
      className: cls,
      config: cfg,
      inputs,
      trainable: cfg.trainable !== false,
      batchShape: batchShapeOf(cfg),
    })
  })
  if (className === "Sequential") {
    const first = all[0]
    if (first === undefined) return fail("the Sequential model has no layers")
    if (first.className === "InputLayer") {
      inputName = first.name
    } else {
      if (first.batchShape === undefined) {
        return fail(`the first layer ${first.name} has no batch_input_shape; the input shape is unknown`)
      }
      inputName = `${first.name}_input`
      all.unshift({
        name: inputName,
        className: "InputLayer",
        config: {},
        inputs: [],
        trainable: false,
        batchShape: first.batchShape,
      })
      all[1] = { ...first, inputs: [inputName] }
    }
    outputName = all.at(-1)!.name
  } else {
    const cfg = config as JsonObject
    const ins = endpoints(cfg.input_layers)
    const outs = endpoints(cfg.output_layers)
    if (ins.length !== 1) return fail(`the model has ${ins.length} inputs; exactly one is supported`)
    if (outs.length !== 1) return fail(`the model has ${outs.length} outputs; exactly one is supported`)
    inputName = ins[0]!
    outputName = outs[0]!
  }
  const byName = new Map(all.map((l) => [l.name, l]))
  const input = byName.get(inputName)
  if (input === undefined) return fail(`the input layer ${inputName} is not in the layer list`)
  if (!byName.has(outputName)) return fail(`the output layer ${outputName} is not in the layer list`)
  // the ancestors of the output
  const needed = new Set<string>()
  const stack = [outputName]
  while (stack.length > 0) {
    const n = stack.pop()!
    if (needed.has(n)) continue
    const layer = byName.get(n)
    if (layer === undefined) {
      issues.push({ path: file, message: `${file}: a layer reads ${n}, which is not in the layer list` })
      continue
    }
    needed.add(n)
    stack.push(...layer.inputs)
  }
  if (!needed.has(inputName))
    return fail(`the output ${outputName} does not depend on the input ${inputName}`)
  for (const l of all) {
    if (!needed.has(l.name)) continue
    if (l.className === "InputLayer" && l.name !== inputName) {
      issues.push({
        path: file,
        message: `${file}: a second input layer ${l.name}; exactly one input is supported`,
      })
    } else if (!SUPPORTED.has(l.className)) {
      issues.push({
        path: file,
        message: `${file}: layer ${l.name} has the unsupported class ${l.className} (supported: ${supportedClasses.join(", ")})`,
      })
    } else {
      const problem = configProblem(l)
      if (problem !== undefined)
        issues.push({ path: file, message: `${file}: layer ${l.name} (${l.className}): ${problem}` })
    }
  }
  if (issues.length > 0) return Result.fail(new ValidationError({ issues }))
  // a stable topological order (the file's order where it allows)
  const done = new Set([inputName])
  const order: Array<Layer> = []
  const pending = all.filter((l) => needed.has(l.name) && l.name !== inputName)
  while (pending.length > 0) {
    const i = pending.findIndex((l) => l.inputs.every((n) => done.has(n)))
    if (i < 0) return fail(`the layers ${pending.map((l) => l.name).join(", ")} form a cycle`)
    const [l] = pending.splice(i, 1)
    const { batchShape: _, ...layer } = l!
    order.push(layer)
    done.add(layer.name)
  }
  const batchShape = input.batchShape
  if (batchShape === undefined || batchShape.length < 2) {
    return fail(`the input layer ${inputName} has no batch_input_shape`)
  }
  const shape = batchShape.slice(1)
  if (shape.some((d) => d === null)) {
    return fail(
      `the input layer ${inputName} has the shape [${shape.map((d) => d ?? "null").join(", ")}]; a fixed input shape is needed`,
    )
  }
  return Result.succeed({ input: { name: inputName, shape }, layers: order, output: outputName })
}

// ---------------------------------------------------------------------------------------------
// Weights of each layer
// ---------------------------------------------------------------------------------------------

const biasNames = (c: JsonObject): Array<string> => (c.use_bias === false ? [] : ["bias"])

const weightNamesOf = (layer: Layer): Array<string> => {
  const c = layer.config
  switch (layer.className) {
    case "Dense":
    case "Conv2D":
      return ["kernel", ...biasNames(c)]
    case "DepthwiseConv2D":
      return ["depthwise_kernel", ...biasNames(c)]
    case "SeparableConv2D":
      return ["depthwise_kernel", "pointwise_kernel", ...biasNames(c)]
    case "BatchNormalization":
      return [
        ...(c.scale === false ? [] : ["gamma"]),
        ...(c.center === false ? [] : ["beta"]),
        "moving_mean",
        "moving_variance",
      ]
    default:
      return []
  }
}

interface Binding {
  /** tree path `<layer>/<weight>` */
  readonly path: string
  readonly source: "params" | "state"
  readonly weight: Weight
}

/** every layer weight matched with a manifest entry (`layer/w`, `…/layer/w`, with or without `:0`) */
const bind = (
  file: string,
  topology: Topology,
  weights: ReadonlyArray<Weight>,
): Result.Result<Array<Binding>, ValidationError> => {
  const normalized = weights.map((w) => ({ key: w.name.replace(/:\d+$/, ""), weight: w }))
  const used = new Set<Weight>()
  const bindings: Array<Binding> = []
  const issues: Array<{ path: string; message: string }> = []
  for (const layer of topology.layers) {
    for (const w of weightNamesOf(layer)) {
      const wanted = `${layer.name}/${w}`
      const found =
        normalized.find((n) => n.key === wanted && !used.has(n.weight)) ??
        normalized.find((n) => n.key.endsWith(`/${wanted}`) && !used.has(n.weight))
      if (found === undefined) {
        issues.push({
          path: file,
          message: `${file}: layer ${layer.name} (${layer.className}) needs the weight ${wanted}, which its weightsManifest lacks`,
        })
        continue
      }
      used.add(found.weight)
      const stat = w === "moving_mean" || w === "moving_variance"
      bindings.push({
        path: wanted,
        source: stat || !layer.trainable ? "state" : "params",
        weight: found.weight,
      })
    }
  }
  return issues.length > 0 ? Result.fail(new ValidationError({ issues })) : Result.succeed(bindings)
}

/**
 * Reads a TF.js LayersModel: {@link readModelJson}, then its topology ({@link parseTopology})
 * and its weights, dequantised to float32 (uint8/uint16 affine, float16; int32/uint8 weights
 * are converted). A GraphModel fails with a `ValidationError` saying to use `Graph.read`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Layers from "./src/models/Layers.js"
 * const layers = Effect.map(Layers.read("teacher/model.json"), (a) => a.topology.layers.length)
 * ```
 *
 * @since 0.1.0
 * @category reading
 */
export const read = (path: string): Effect.Effect<Artifacts, IoError | ValidationError> =>
  Effect.flatMap(readModelJson(path), (m) => {
    if (m.kind === "graph") {
      return Effect.fail(
        validation(
          m.file,
          `${m.file} is a TF.js GraphModel, not a LayersModel: load it with Graph.read (a frozen teacher)`,
        ),
      )
    }
    return Effect.try({
      try: () => {
        const weights = decodeWeights(m)
        const topology = parseTopology(m.file, m.modelTopology)
        if (Result.isFailure(topology)) throw topology.failure
        const bound = bind(m.file, topology.success, weights)
        if (Result.isFailure(bound)) throw bound.failure
        return { file: m.file, modelTopology: m.modelTopology, topology: topology.success, weights }
      },
      catch: (cause) =>
        cause instanceof ValidationError ? cause : validation(m.file, `${m.file}: ${errorText(cause)}`),
    })
  })

/**
 * The model's input shape without the batch axis (`[h, w, c]` for images, `[d]` for a flat
 * MLP input).
 *
 * @example
 * ```ts
 * import * as Layers from "./src/models/Layers.js"
 * declare const a: Layers.Artifacts
 * const flat = Layers.inputShape(a).length === 1
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const inputShape = (artifacts: Artifacts): ReadonlyArray<number | null> =>
  artifacts.topology.input.shape

// ---------------------------------------------------------------------------------------------
// The interpreter
// ---------------------------------------------------------------------------------------------

/**
 * Options of {@link build}: whether the weights are trainable variables (a student to
 * fine-tune) or not (a frozen teacher), how to read the output (see {@link build}), and the
 * model description the `Built` carries.
 *
 * @example
 * ```ts
 * import * as Model from "./dsl/Model.js"
 * import type * as Layers from "./src/models/Layers.js"
 * const o: Layers.BuildOptions = { trainable: false, output: "auto", description: Model.custom("teacher") }
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

/** log(p) of probabilities clipped at this */
const PROBABILITY_EPSILON = 1e-7

const pair = (j: Json | undefined, fallback: number): [number, number] => {
  if (typeof j === "number") return [j, j]
  if (Array.isArray(j)) {
    const a = typeof j[0] === "number" ? j[0] : fallback
    const b = typeof j[1] === "number" ? j[1] : a
    return [a, b]
  }
  return [fallback, fallback]
}

const paddingOf = (c: JsonObject): "same" | "valid" => (c.padding === "same" ? "same" : "valid")

const num = (j: Json | undefined, fallback: number): number => (typeof j === "number" ? j : fallback)

/** the normalised axis (Keras 3 writes `[3]`) */
const axisOf = (j: Json | undefined, fallback: number): number =>
  typeof j === "number" ? j : Array.isArray(j) && typeof j[0] === "number" && j.length === 1 ? j[0] : fallback

const lastAxis = (axis: number, rank: number): boolean => axis === -1 || axis === rank - 1

const zeroPadding = (j: Json | undefined): [[number, number], [number, number]] => {
  if (typeof j === "number") {
    return [
      [j, j],
      [j, j],
    ]
  }
  if (Array.isArray(j)) {
    const rows = j[0]
    const cols = j[1]
    if (typeof rows === "number" && typeof cols === "number") {
      return [
        [rows, rows],
        [cols, cols],
      ]
    }
    return [pair(rows, 0), pair(cols, 0)]
  }
  return [
    [1, 1],
    [1, 1],
  ]
}

interface Context {
  readonly run: Ops.Run
  readonly statsMomentum: number | undefined
  readonly read: (layer: string, weight: string) => tf.Tensor | undefined
}

/** a layer's output, and the value before its softmax when it ends in one */
interface Step {
  readonly value: tf.Tensor
  readonly preSoftmax?: tf.Tensor
}

const activated = (c: JsonObject, z: tf.Tensor): Step => {
  const key = activationKey(c.activation) ?? "linear"
  return key === "softmax" ? { value: tf.softmax(z), preSoftmax: z } : { value: ACTIVATIONS[key]!(z) }
}

const withBias = (z: tf.Tensor, bias: tf.Tensor | undefined): tf.Tensor =>
  bias === undefined ? z : tf.add(z, bias)

const step = (layer: Layer, inputs: ReadonlyArray<tf.Tensor>, ctx: Context): Step => {
  const c = layer.config
  const x = inputs[0]!
  const w = (name: string): tf.Tensor => {
    const t = ctx.read(layer.name, name)
    if (t === undefined) throw new Error(`no parameter ${layer.name}/${name} in the tree`)
    return t
  }
  const optionalW = (name: string): tf.Tensor | undefined => ctx.read(layer.name, name)
  const run = ctx.run
  switch (layer.className) {
    case "InputLayer":
      return { value: x }
    case "Dense": {
      const kernel = w("kernel") as tf.Tensor2D
      const x2 =
        x.rank === 2 ? (x as tf.Tensor2D) : (tf.reshape(x, [-1, x.shape[x.rank - 1]!]) as tf.Tensor2D)
      let z: tf.Tensor = withBias(tf.matMul(x2, kernel), optionalW("bias"))
      if (x.rank !== 2) z = tf.reshape(z, [...x.shape.slice(0, -1), kernel.shape[1]])
      return activated(c, z)
    }
    case "Conv2D": {
      const z = tf.conv2d(
        x as tf.Tensor4D,
        w("kernel") as tf.Tensor4D,
        pair(c.strides, 1),
        paddingOf(c),
        "NHWC",
        pair(c.dilation_rate, 1),
      )
      return activated(c, withBias(z, optionalW("bias")))
    }
    case "DepthwiseConv2D": {
      const z = tf.depthwiseConv2d(
        x as tf.Tensor4D,
        w("depthwise_kernel") as tf.Tensor4D,
        pair(c.strides, 1),
        paddingOf(c),
        "NHWC",
        pair(c.dilation_rate, 1),
      )
      return activated(c, withBias(z, optionalW("bias")))
    }
    case "SeparableConv2D": {
      const z = tf.separableConv2d(
        x as tf.Tensor4D,
        w("depthwise_kernel") as tf.Tensor4D,
        w("pointwise_kernel") as tf.Tensor4D,
        pair(c.strides, 1),
        paddingOf(c),
        pair(c.dilation_rate, 1),
        "NHWC",
      )
      return activated(c, withBias(z, optionalW("bias")))
    }
    case "BatchNormalization": {
      const axis = axisOf(c.axis, -1)
      if (!lastAxis(axis, x.rank))
        throw new Error(`batch normalization on axis ${axis} (only the last axis is supported)`)
      const epsilon = num(c.epsilon, 1e-3)
      const gamma = optionalW("gamma")
      const beta = optionalW("beta")
      const movingMean = w("moving_mean")
      const movingVariance = w("moving_variance")
      // Keras ≥ 2.1: a frozen batch norm runs in inference mode even while training
      if (!run.train || !layer.trainable) {
        return { value: tf.batchNorm(x, movingMean, movingVariance, beta, gamma, epsilon) }
      }
      const axes = Array.from({ length: x.rank - 1 }, (_, i) => i)
      const { mean, variance } = tf.moments(x, axes)
      if (run.updateStats) {
        const m = ctx.statsMomentum ?? 1 - num(c.momentum, 0.99)
        ;(movingMean as tf.Variable).assign(tf.add(tf.mul(movingMean, 1 - m), tf.mul(mean, m)))
        ;(movingVariance as tf.Variable).assign(tf.add(tf.mul(movingVariance, 1 - m), tf.mul(variance, m)))
      }
      return { value: tf.batchNorm(x, mean, variance, beta, gamma, epsilon) }
    }
    case "Activation":
      return activated(c, x)
    case "ReLU": {
      const maxValue = typeof c.max_value === "number" ? c.max_value : undefined
      const slope = num(c.negative_slope, 0)
      const threshold = num(c.threshold, 0)
      let y =
        slope === 0 && threshold === 0
          ? tf.relu(x)
          : tf.where(tf.greaterEqual(x, threshold), x, tf.mul(tf.sub(x, threshold), slope))
      if (maxValue !== undefined) y = tf.minimum(y, maxValue)
      return { value: y }
    }
    case "LeakyReLU":
      return { value: tf.leakyRelu(x, num(c.alpha ?? c.negative_slope, 0.3)) }
    case "ELU": {
      const alpha = num(c.alpha, 1)
      return {
        value: alpha === 1 ? tf.elu(x) : tf.where(tf.greater(x, 0), x, tf.mul(tf.sub(tf.exp(x), 1), alpha)),
      }
    }
    case "Softmax": {
      const axis = axisOf(c.axis, -1)
      if (!lastAxis(axis, x.rank))
        throw new Error(`softmax on axis ${axis} (only the last axis is supported)`)
      return { value: tf.softmax(x), preSoftmax: x }
    }
    case "Dropout":
      return { value: Ops.dropout(run, layer.name, x, num(c.rate, 0)) }
    case "SpatialDropout2D": {
      const rate = num(c.rate, 0)
      if (!run.train || rate <= 0) return { value: x }
      const shape = [x.shape[0]!, 1, 1, x.shape[3]!]
      return { value: tf.mul(x, Ops.keepMask(run, `dropout/${layer.name}`, shape, rate)) }
    }
    case "GaussianNoise": {
      const std = num(c.stddev, 0)
      if (!run.train || std <= 0) return { value: x }
      return {
        value: tf.add(
          x,
          tf.randomNormal(x.shape, 0, std, "float32", Ops.seedFor(run.seed, `noise/${layer.name}`)),
        ),
      }
    }
    case "GaussianDropout": {
      const rate = num(c.rate, 0)
      if (!run.train || rate <= 0) return { value: x }
      const std = Math.sqrt(rate / (1 - rate))
      return {
        value: tf.mul(
          x,
          tf.randomNormal(x.shape, 1, std, "float32", Ops.seedFor(run.seed, `noise/${layer.name}`)),
        ),
      }
    }
    case "Flatten":
      return { value: tf.reshape(x, [x.shape[0]!, -1]) }
    case "Reshape": {
      const target = Array.isArray(c.target_shape) ? (c.target_shape as ReadonlyArray<number>) : []
      return { value: tf.reshape(x, [x.shape[0]!, ...target]) }
    }
    case "MaxPooling2D":
    case "AveragePooling2D": {
      const size = pair(c.pool_size, 2)
      const strides = c.strides === null || c.strides === undefined ? size : pair(c.strides, 1)
      const pool = layer.className === "MaxPooling2D" ? tf.maxPool : tf.avgPool
      return { value: pool(x as tf.Tensor4D, size, strides, paddingOf(c)) }
    }
    case "GlobalAveragePooling2D":
      return { value: tf.mean(x, [1, 2], c.keepdims === true) }
    case "GlobalMaxPooling2D":
      return { value: tf.max(x, [1, 2], c.keepdims === true) }
    case "ZeroPadding2D": {
      const [rows, cols] = zeroPadding(c.padding)
      return {
        value: tf.pad(x, [[0, 0], rows, cols, [0, 0]]),
      }
    }
    case "Add":
      return { value: inputs.slice(1).reduce((a, b) => tf.add(a, b), x) }
    case "Subtract":
      if (inputs.length !== 2) throw new Error(`Subtract needs exactly 2 inputs, got ${inputs.length}`)
      return { value: tf.sub(x, inputs[1]!) }
    case "Multiply":
      return { value: inputs.slice(1).reduce((a, b) => tf.mul(a, b), x) }
    case "Average":
      return {
        value: tf.div(
          inputs.slice(1).reduce((a, b) => tf.add(a, b), x),
          inputs.length,
        ),
      }
    case "Maximum":
      return { value: inputs.slice(1).reduce((a, b) => tf.maximum(a, b), x) }
    case "Minimum":
      return { value: inputs.slice(1).reduce((a, b) => tf.minimum(a, b), x) }
    case "Concatenate":
      return { value: tf.concat([...inputs], axisOf(c.axis, -1)) }
    case "Rescaling":
      return { value: tf.add(tf.mul(x, num(c.scale, 1)), num(c.offset, 0)) }
    default:
      throw new Error(`unsupported layer class ${layer.className}`)
  }
}

/**
 * A shape for messages: `[32, 32, 3]`, free dimensions as `null`.
 *
 * @example
 * ```ts
 * import * as Layers from "./src/models/Layers.js"
 * Layers.shapeText([null, 784]) // "[null, 784]"
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const shapeText = (shape: ReadonlyArray<number | null>): string =>
  `[${shape.map((d) => d ?? "null").join(", ")}]`

/**
 * The batch `x` as a model read from `file` takes it: images `[batch, h, w, c]` must match
 * `image`; for a model on other inputs (`shape`, without the batch axis, e.g. `[784]`), any
 * batch with the same number of values per example is reshaped to it. Throws a `ShapeError`
 * naming the file otherwise. Shared by the LayersModel interpreter and the GraphModel wrapper.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Layers from "./src/models/Layers.js"
 * const x = Layers.fitInput("mlp/model.json", tf.zeros([2, 28, 28, 1]), undefined, [784]) // [2, 784]
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const fitInput = (
  file: string,
  x: tf.Tensor,
  image: Model.Shape | undefined,
  shape: ReadonlyArray<number>,
): tf.Tensor => {
  const batch = x.shape[0] ?? 0
  if (image !== undefined) {
    if (x.rank !== 4 || x.shape[1] !== image[0] || x.shape[2] !== image[1] || x.shape[3] !== image[2])
      throw new ShapeError({
        path: "x",
        message: `${file} expects images [batch, ${image.join(", ")}], got ${shapeText(x.shape)}`,
      })
    return x
  }
  const size = elements(shape)
  if (x.size !== batch * size)
    throw new ShapeError({
      path: "x",
      message: `${file} expects inputs [batch, ${shape.join(", ")}] (${size} values per example), got ${shapeText(x.shape)}`,
    })
  return x.rank !== shape.length + 1 || x.shape.slice(1).some((d, i) => d !== shape[i])
    ? tf.reshape(x, [batch, ...shape])
    : x
}

/**
 * Throws a `ShapeError` naming `file` for a requested tap the model does not have.
 *
 * @example
 * ```ts
 * import * as Layers from "./src/models/Layers.js"
 * Layers.checkTaps("t/model.json", ["dense"], new Set(["dense", "conv"]))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const checkTaps = (file: string, wanted: ReadonlyArray<string>, taps: ReadonlySet<string>): void => {
  for (const name of wanted)
    if (!taps.has(name))
      throw new ShapeError({
        path: `taps.${name}`,
        message: `no tap "${name}" in ${file} (one of ${[...taps].join(", ")})`,
      })
}

/**
 * Builds a loaded LayersModel into a {@link Built} whose `apply` interprets the topology over
 * tfjs-core ops, reading every weight from the `params`/`state` trees it is given.
 *
 * - Parameters: `params` holds the trainable weights at `<layer>/<weight>` (`dense_1/kernel`,
 *   `bn/gamma`); `state` the BatchNormalization `moving_mean`/`moving_variance` and every
 *   weight of a layer with `trainable: false`. Params are trainable variables only when
 *   `options.trainable`.
 * - `input`: `[h, w, c]` for a rank-4 input. Otherwise (an MLP on flat vectors, `[d]`) `input`
 *   is `undefined` and `apply` reshapes `x` to `[batch, …shape]` when the sizes agree (else a
 *   `ShapeError`); {@link inputShape} gives the shape. `classes`: the output width.
 * - `taps`: every layer but the input, in topological order (each layer's output).
 * - Output: when the model ends in softmax (a last layer with `activation: "softmax"`, or a
 *   final `Softmax`/`Activation("softmax")` layer) and `output` is `"auto"` (default) or
 *   `"logits"`, `logits` is the value before that softmax (so `softmax(logits)` is the model's
 *   output). Otherwise `"auto"`/`"logits"` take the output as logits. `"probabilities"` takes
 *   the output as probabilities and gives `log(max(p, 1e-7))`.
 * - Training mode: Dropout (mask `dropout/<layer>`, as `Ops.dropout`), SpatialDropout2D
 *   (per-channel mask), GaussianNoise/GaussianDropout draw seeded noise from `options.seed`;
 *   BatchNormalization uses the batch statistics and, when `updateStats`, assigns to the
 *   running statistics of the given state `new = (1−m)·old + m·batch` with
 *   `m = options.statsMomentum` if given, else `1 − momentum` of the layer's Keras config
 *   (Keras's momentum weighs the old value). A BatchNormalization with `trainable: false` stays
 *   on its running statistics (as Keras ≥ 2.1). In evaluation every one is the identity /
 *   running statistics with the layer's epsilon. `channelDrop` applies at the named layer.
 *
 * The build runs one evaluation forward of a zero batch; a layer that cannot compute fails with
 * a `ShapeError` naming it. Bad content fails with a `ValidationError`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Result } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Layers from "./src/models/Layers.js"
 * declare const artifacts: Layers.Artifacts
 * const r = Layers.build(artifacts, { trainable: true, description: Model.custom("student") })
 * if (Result.isSuccess(r)) {
 *   const b = r.success
 *   const grads = tf.variableGrads(() => tf.mean(b.apply(b.params, tf.ones([2, 28, 28, 1]), { train: true, seed: 1 }).logits) as tf.Scalar)
 * }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const build = (
  artifacts: Artifacts,
  options: BuildOptions,
): Result.Result<Built, ValidationError | ShapeError> => {
  const { file, topology } = artifacts
  const bound = bind(file, topology, artifacts.weights)
  if (Result.isFailure(bound)) return Result.fail(bound.failure)
  const flatParams: Record<string, tf.Variable> = {}
  const flatState: Record<string, tf.Variable> = {}
  for (const b of bound.success) {
    const trainable = b.source === "params" && options.trainable
    const v = tf.tidy(() =>
      tf.variable(tf.tensor(b.weight.values, [...b.weight.shape], "float32"), trainable),
    )
    ;(b.source === "params" ? flatParams : flatState)[b.path] = v
  }
  const params = Tree.unflatten(flatParams)
  const state = Tree.unflatten(flatState)
  const sources = new Map(bound.success.map((b) => [b.path, b.source]))
  const dispose = () => {
    Tree.dispose(params)
    Tree.dispose(state)
  }

  const shape = topology.input.shape as ReadonlyArray<number>
  const image = shape.length === 3 ? (shape as unknown as Model.Shape) : undefined
  const taps = topology.layers.map((l) => l.name)
  const tapSet = new Set(taps)
  const output = options.output ?? "auto"

  const apply = (p: Tree.Tree, input: tf.Tensor, o: ApplyOptions): Forward => {
    const x = fitInput(file, input, image, shape)
    const wanted = o.taps ?? []
    checkTaps(file, wanted, tapSet)
    const drop = o.train && o.channelDrop !== undefined && o.channelDrop.rate > 0 ? o.channelDrop : undefined
    if (drop !== undefined && !tapSet.has(drop.layer)) {
      throw new ShapeError({
        path: "channelDrop.layer",
        message: `no tap "${drop.layer}" in ${file} to drop channels at (one of ${taps.join(", ")})`,
      })
    }
    const stateTree = o.state ?? state
    const run = Ops.runFor(p, { ...o, state: stateTree })
    const ctx: Context = {
      run,
      statsMomentum: o.statsMomentum,
      read: (layer, weight) => {
        const path = `${layer}/${weight}`
        const source = sources.get(path)
        if (source === undefined) return undefined
        return Tree.get(source === "params" ? p : stateTree, path)
      },
    }
    const values = new Map<string, tf.Tensor>([[topology.input.name, x]])
    let pre: tf.Tensor | undefined
    for (const layer of topology.layers) {
      const inputs = layer.inputs.map((n) => values.get(n)!)
      let out: Step
      try {
        out = step(layer, inputs, ctx)
      } catch (cause) {
        if (cause instanceof ShapeError) throw cause
        throw new ShapeError({
          path: `layers.${layer.name}`,
          message: `${file}: layer ${layer.name} (${layer.className}) failed on ${inputs.map((t) => shapeText(t.shape)).join(" and ")}: ${errorText(cause)}`,
        })
      }
      let value = out.value
      if (drop !== undefined && drop.layer === layer.name)
        value = Ops.channelDrop(run, layer.name, value, drop.rate)
      values.set(layer.name, value)
      if (layer.name === topology.output) pre = out.preSoftmax
    }
    const y = values.get(topology.output)!
    const logits = (
      output === "probabilities" ? tf.log(tf.maximum(y, PROBABILITY_EPSILON)) : (pre ?? y)
    ) as tf.Tensor2D
    if (logits.rank !== 2) {
      throw new ShapeError({
        path: "logits",
        message: `${file}: the output ${topology.output} has shape ${shapeText(logits.shape)}; expected [batch, classes]`,
      })
    }
    const collected: Record<string, tf.Tensor> = {}
    for (const name of wanted) collected[name] = values.get(name)!
    return { logits, heads: { logits }, taps: collected }
  }

  let classes: number
  try {
    classes = tf.tidy(() => apply(params, tf.zeros([1, ...shape]), { train: false }).logits.shape[1]!)
  } catch (cause) {
    dispose()
    if (cause instanceof ShapeError) return Result.fail(cause)
    return Result.fail(
      new ShapeError({ path: file, message: `${file}: a forward pass failed: ${errorText(cause)}` }),
    )
  }
  return Result.succeed({
    description: options.description,
    params,
    state,
    paramCount: Tree.size(params),
    taps,
    heads: ["logits"],
    input: image,
    classes,
    apply,
    dispose,
  })
}

// ---------------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------------

/**
 * The same topology with the given weights, as TF.js model artifacts (`tf.io.fromMemory` and
 * `tf.loadLayersModel` accept them): every manifest weight, in the original order and names,
 * as float32; weights the model uses are read from `params` / `state` at their tree paths (a
 * missing one throws: the trees must be the built model's shape), the others are kept as read.
 *
 * @example
 * ```ts
 * import * as Layers from "./src/models/Layers.js"
 * import type * as Models from "./src/models/index.js"
 * declare const artifacts: Layers.Artifacts
 * declare const student: Models.Built
 * const fineTuned = Layers.toArtifacts(artifacts, student.params, student.state)
 * ```
 *
 * @since 0.1.0
 * @category export
 */
export const toArtifacts = (
  artifacts: Artifacts,
  params: Tree.Tree,
  state: Tree.Tree,
): tf.io.ModelArtifacts => {
  const bound = bind(artifacts.file, artifacts.topology, artifacts.weights)
  if (Result.isFailure(bound)) throw bound.failure
  const byWeight = new Map(bound.success.map((b) => [b.weight, b]))
  const total = artifacts.weights.reduce((n, w) => n + w.values.length, 0)
  const data = new Float32Array(total)
  let offset = 0
  for (const w of artifacts.weights) {
    const b = byWeight.get(w)
    const values =
      b === undefined ? w.values : Tree.get(b.source === "params" ? params : state, b.path).dataSync()
    if (values.length !== w.values.length) {
      throw new Error(
        `toArtifacts: ${b?.path ?? w.name} has ${values.length} values, expected ${w.values.length}`,
      )
    }
    data.set(values, offset)
    offset += values.length
  }
  return {
    modelTopology: artifacts.modelTopology as {},
    format: "layers-model",
    generatedBy: "retort 0.1.0",
    convertedBy: null,
    weightSpecs: artifacts.weights.map((w) => ({
      name: w.name,
      shape: [...w.shape],
      dtype: "float32" as const,
    })),
    weightData: data.buffer,
  }
}

/**
 * Writes artifacts as `dir/model.json` (with a `weightsManifest` naming `weights.bin`) and
 * `dir/weights.bin`, creating `dir`; fails with an `IoError` naming `dir`.
 *
 * @example
 * ```ts
 * import * as Layers from "./src/models/Layers.js"
 * import type * as tf from "@tensorflow/tfjs-core"
 * declare const artifacts: tf.io.ModelArtifacts
 * const program = Layers.write("out/student", artifacts)
 * ```
 *
 * @since 0.1.0
 * @category export
 */
export const write = (dir: string, artifacts: tf.io.ModelArtifacts): Effect.Effect<void, IoError> =>
  Effect.tryPromise({
    try: async () => {
      const { weightData, weightSpecs, ...rest } = artifacts
      await mkdir(dir, { recursive: true })
      const json = { ...rest, weightsManifest: [{ paths: ["weights.bin"], weights: weightSpecs ?? [] }] }
      await writeFile(join(dir, "model.json"), JSON.stringify(json))
      const bytes =
        weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(weightData)
      await writeFile(join(dir, "weights.bin"), new Uint8Array(bytes))
    },
    catch: (cause) =>
      new IoError({ path: dir, message: `cannot write the model to ${dir}: ${errorText(cause)}`, cause }),
  })
