/**
 * Export to the standard TF.js LayersModel format (`model.json` + `weights.bin`), loadable with
 * `tf.loadLayersModel` in a browser or Node. The Keras functional topology is written by hand
 * from the description, and the weights are the given parameter tree (plus batch-norm
 * statistics).
 *
 * What can be exported: `mlp`, `cnn`, `resnet` (its `logits` output; auxiliary exits are
 * training-only and left out), and `binary` wrappers of those that binarise weights only (the
 * binarised kernels `α·sign(W)` are written as ordinary float weights). Dropout and drop-path
 * are identities at inference and need no layer. What cannot: `vit` (token concatenation,
 * position embeddings and multi-head attention have no stock Layers equivalent), `binary` with
 * binarised activations (stock Layers have no sign activation), and `custom` models. Those fail
 * with a `ValidationError` that says so.
 *
 * The exported model outputs logits (no softmax), exactly `apply(params, x, { train: false })`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Models from "./src/models/index.js"
 * const w2 = Model.cnn({ conv: [{ filters: 32 }, { filters: 64 }], dense: [128], classes: 10 })
 * const program = Effect.gen(function* () {
 *   const built = yield* Models.build(w2, { seed: 1 })
 *   yield* Models.exportLayersModel(w2, built, built.params, "/tmp/w2-model")
 * })
 * ```
 *
 * @since 0.1.0
 */
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import type * as Model from "../../dsl/Model.js"
import { IoError, ValidationError } from "../errors.js"
import type { Built } from "./Built.js"
import * as Ops from "./Ops.js"
import * as Tree from "./Tree.js"

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [k: string]: Json }

interface LayerJson {
  readonly class_name: string
  readonly name: string
  readonly config: { readonly [k: string]: Json }
  readonly inbound_nodes: Json
}

interface WeightRef {
  readonly name: string
  readonly source: "params" | "state" | "const"
  readonly path: string
  readonly binarize: boolean
  /** for `const`: the values written as they are */
  readonly value?: { readonly values: ReadonlyArray<number>; readonly shape: ReadonlyArray<number> }
}

/** A Keras functional graph under construction. */
class Graph {
  readonly layers: Array<LayerJson> = []
  readonly weights: Array<WeightRef> = []
  /** the name of the tensor the first layer reads: the input, or its normalisation */
  readonly start: string
  constructor(input: Model.Shape, normalize?: Built["normalize"]) {
    this.layers.push({
      class_name: "InputLayer",
      name: "input",
      config: { batch_input_shape: [null, ...input], dtype: "float32", sparse: false, name: "input" },
      inbound_nodes: [],
    })
    if (normalize === undefined) {
      this.start = "input"
      return
    }
    // (x − mean) / std per channel, as a 1×1 depthwise convolution: a stock layer, exact affine
    const c = input[2]
    const at = (a: ReadonlyArray<number>, i: number) => (a.length === 1 ? a[0]! : a[i]!)
    const scale = Array.from({ length: c }, (_, i) => 1 / at(normalize.std, i))
    const shift = Array.from({ length: c }, (_, i) => -at(normalize.mean, i) / at(normalize.std, i))
    this.layers.push({
      class_name: "DepthwiseConv2D",
      name: "normalize",
      config: {
        name: "normalize",
        trainable: false,
        dtype: "float32",
        kernel_size: [1, 1],
        strides: [1, 1],
        padding: "valid",
        depth_multiplier: 1,
        data_format: "channels_last",
        dilation_rate: [1, 1],
        activation: "linear",
        use_bias: true,
      },
      inbound_nodes: [[["input", 0, 0, {}]]],
    })
    this.weights.push(
      {
        name: "normalize/depthwise_kernel",
        source: "const",
        path: "",
        binarize: false,
        value: { values: scale, shape: [1, 1, c, 1] },
      },
      {
        name: "normalize/bias",
        source: "const",
        path: "",
        binarize: false,
        value: { values: shift, shape: [c] },
      },
    )
    this.start = "normalize"
  }

  add(
    className: string,
    name: string,
    config: { readonly [k: string]: Json },
    inputs: ReadonlyArray<string>,
    weights: ReadonlyArray<readonly [weight: string, source: "params" | "state", path: string]> = [],
    binarize = false,
  ): string {
    this.layers.push({
      class_name: className,
      name,
      config: { name, trainable: true, dtype: "float32", ...config },
      inbound_nodes: [inputs.map((i) => [i, 0, 0, {}])],
    })
    for (const [weight, source, path] of weights) {
      this.weights.push({
        name: `${name}/${weight}`,
        source,
        path,
        binarize: binarize && weight === "kernel",
      })
    }
    return name
  }

  dense(
    name: string,
    path: string,
    units: number,
    activation: string,
    input: string,
    binarize = false,
  ): string {
    return this.add(
      "Dense",
      name,
      { units, activation, use_bias: true },
      [input],
      [
        ["kernel", "params", `${path}/kernel`],
        ["bias", "params", `${path}/bias`],
      ],
      binarize,
    )
  }

  conv(
    name: string,
    path: string,
    options: { filters: number; kernel: number; stride: number; activation: string; bias: boolean },
    input: string,
    binarize = false,
  ): string {
    return this.add(
      "Conv2D",
      name,
      {
        filters: options.filters,
        kernel_size: [options.kernel, options.kernel],
        strides: [options.stride, options.stride],
        padding: "same",
        data_format: "channels_last",
        dilation_rate: [1, 1],
        activation: options.activation,
        use_bias: options.bias,
      },
      [input],
      [
        ["kernel", "params", `${path}/kernel`],
        ...(options.bias ? ([["bias", "params", `${path}/bias`]] as const) : []),
      ],
      binarize,
    )
  }

  batchNorm(name: string, path: string, input: string): string {
    return this.add(
      "BatchNormalization",
      name,
      { axis: -1, momentum: 0.99, epsilon: Ops.BN_EPSILON, center: true, scale: true },
      [input],
      [
        ["gamma", "params", `${path}/gamma`],
        ["beta", "params", `${path}/beta`],
        ["moving_mean", "state", `${path}/mean`],
        ["moving_variance", "state", `${path}/variance`],
      ],
    )
  }

  topology(output: string): { readonly [k: string]: Json } {
    return {
      class_name: "Model",
      config: {
        name: "retort",
        layers: this.layers as unknown as Json,
        input_layers: [["input", 0, 0]],
        output_layers: [[output, 0, 0]],
      },
      keras_version: "tfjs-layers 4.22.0",
      backend: "tensor_flow.js",
    }
  }
}

const unsupported = (message: string): ValidationError =>
  new ValidationError({ issues: [{ path: "model", message }] })

const graphOf = (
  model: Model.Model,
  normalize?: Built["normalize"],
): { readonly graph: Graph; readonly output: string } | ValidationError => {
  let binarize = false
  let m = model
  if (m._tag === "Binary") {
    if (m.binarizeActivations) {
      return unsupported(
        "a binary model with binarised activations cannot be exported as a TF.js LayersModel (no sign activation in stock Layers); export binarised weights only",
      )
    }
    binarize = true
    m = m.inner
  }
  switch (m._tag) {
    case "Binary":
      return unsupported("binary of a binary model cannot be exported")
    case "Custom":
      return unsupported(
        `custom model "${m.name}" cannot be exported as a TF.js LayersModel (its topology is unknown)`,
      )
    case "Load":
      return unsupported(
        `a model loaded from ${m.path} is exported with its own topology (Layers.toArtifacts), not rebuilt`,
      )
    case "Generator":
      return unsupported("a generator is not a classifier: export the student it trained instead")
    case "Augmenter":
      return unsupported("an augmenter is not a classifier: export the student it trained instead")
    case "Vit":
      return unsupported(
        "vit cannot be exported as a TF.js LayersModel: token concatenation, position embeddings and multi-head attention have no stock Layers equivalent",
      )
    case "Mlp": {
      const g = new Graph(m.input ?? [28, 28, 1], normalize)
      let x = g.add("Flatten", "flatten", { data_format: "channels_last" }, [g.start])
      const activation = m.activation ?? "relu"
      m.hidden.forEach((units, i) => {
        x = g.dense(`dense${i}`, `dense${i}`, units, activation, x, binarize && i > 0)
      })
      g.dense("head", "head", m.classes, "linear", x)
      return { graph: g, output: "head" }
    }
    case "Cnn": {
      const g = new Graph(m.input ?? [28, 28, 1], normalize)
      const bn = m.batchNorm ?? false
      let x = g.start
      m.conv.forEach((layer, i) => {
        x = g.conv(
          `conv${i}`,
          `conv${i}`,
          {
            filters: layer.filters,
            kernel: layer.kernel ?? 3,
            stride: 1,
            activation: bn ? "linear" : "relu",
            bias: !bn,
          },
          x,
          binarize && i > 0,
        )
        if (bn) {
          x = g.batchNorm(`norm${i}`, `norm${i}`, x)
          x = g.add("Activation", `relu${i}`, { activation: "relu" }, [x])
        }
        const pool = layer.pool ?? 2
        if (pool > 1) {
          x = g.add(
            "MaxPooling2D",
            `pool${i}`,
            {
              pool_size: [pool, pool],
              strides: [pool, pool],
              padding: "valid",
              data_format: "channels_last",
            },
            [x],
          )
        }
      })
      x = g.add("Flatten", "flatten", { data_format: "channels_last" }, [x])
      m.dense.forEach((units, i) => {
        x = g.dense(`dense${i}`, `dense${i}`, units, "relu", x, binarize)
      })
      g.dense("head", "head", m.classes, "linear", x)
      return { graph: g, output: "head" }
    }
    case "ResNet": {
      const g = new Graph(m.input ?? [28, 28, 1], normalize)
      const bn = m.batchNorm ?? false
      const convBn = (
        path: string,
        options: { filters: number; kernel: number; stride: number },
        norm: string,
        relu: boolean,
        input: string,
        binarizeConv: boolean,
      ): string => {
        const name = path.replace(/\//g, "_")
        let x = g.conv(
          name,
          path,
          { ...options, activation: relu && !bn ? "relu" : "linear", bias: !bn },
          input,
          binarizeConv,
        )
        if (bn) {
          x = g.batchNorm(norm.replace(/\//g, "_"), norm, x)
          if (relu) x = g.add("Activation", `${name}_relu`, { activation: "relu" }, [x])
        }
        return x
      }
      let x = convBn(
        "stem",
        { filters: m.stem.filters, kernel: 3, stride: m.stem.stride ?? 1 },
        "stemNorm",
        true,
        g.start,
        false,
      )
      let width = m.stem.filters
      m.blocks.forEach((b, i) => {
        const p = `block${i}`
        const stride = b.stride ?? 1
        const a = convBn(
          `${p}/conv0`,
          { filters: b.filters, kernel: 3, stride },
          `${p}/norm0`,
          true,
          x,
          binarize,
        )
        const r = convBn(
          `${p}/conv1`,
          { filters: b.filters, kernel: 3, stride: 1 },
          `${p}/norm1`,
          false,
          a,
          binarize,
        )
        const shortcut =
          stride !== 1 || b.filters !== width
            ? convBn(
                `${p}/shortcut`,
                { filters: b.filters, kernel: 1, stride },
                `${p}/shortcutNorm`,
                false,
                x,
                false,
              )
            : x
        const sum = g.add("Add", `${p}_add`, {}, [shortcut, r])
        x = g.add("Activation", `${p}_out`, { activation: "relu" }, [sum])
        width = b.filters
      })
      x = g.add("GlobalAveragePooling2D", "pool", { data_format: "channels_last" }, [x])
      g.dense("head", "head", m.classes, "linear", x)
      return { graph: g, output: "head" }
    }
  }
}

/**
 * The TF.js model artifacts of a built model — topology, weight specs and weight bytes — as
 * `tf.io.fromMemory` or `tf.loadLayersModel` accept them. Weights are read from `params` and
 * `state` (default: the built model's own state).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Models from "./src/models/index.js"
 * const mlp = Model.mlp({ hidden: [32], classes: 10 })
 * const artifacts = Effect.runPromise(
 *   Effect.flatMap(Models.build(mlp, { seed: 1 }), (b) => Models.layersArtifacts(mlp, b, b.params)),
 * )
 * // const model = await tfl.loadLayersModel(tf.io.fromMemory(await artifacts))
 * ```
 *
 * @since 0.1.0
 * @category export
 */
export const layersArtifacts = (
  model: Model.Model,
  built: Built,
  params: Tree.Tree,
  state: Tree.Tree = built.state,
): Effect.Effect<tf.io.ModelArtifacts, ValidationError> =>
  Effect.suspend(() => {
    const shape = graphOf(model, built.normalize)
    if (shape instanceof ValidationError) return Effect.fail(shape)
    const { graph, output } = shape
    const sources = { params, state }
    let tensors: Array<tf.Tensor>
    try {
      tensors = graph.weights.map((w) => {
        if (w.source === "const")
          return tf.tensor(w.value!.values as Array<number>, w.value!.shape as Array<number>, "float32")
        const t = Tree.get(sources[w.source], w.path)
        return w.binarize ? tf.tidy(() => Ops.binarizeKernel(t, undefined)) : tf.clone(t)
      })
    } catch (cause) {
      return Effect.fail(unsupported(`the parameters do not match the description: ${String(cause)}`))
    }
    return Effect.promise(async () => {
      try {
        const arrays = await Promise.all(tensors.map((t) => t.data<"float32">()))
        const total = arrays.reduce((n, a) => n + a.length, 0)
        const bytes = new Float32Array(total)
        let offset = 0
        for (const a of arrays) {
          bytes.set(a, offset)
          offset += a.length
        }
        const artifacts: tf.io.ModelArtifacts = {
          modelTopology: graph.topology(output) as {},
          format: "layers-model",
          generatedBy: "retort 0.1.0",
          convertedBy: null,
          weightSpecs: graph.weights.map((w, i) => ({
            name: w.name,
            shape: tensors[i]!.shape,
            dtype: "float32",
          })),
          weightData: bytes.buffer,
        }
        return artifacts
      } finally {
        for (const t of tensors) t.dispose()
      }
    })
  })

/**
 * Writes `dir/model.json` and `dir/weights.bin` (creating `dir`): a TF.js LayersModel that
 * `tf.loadLayersModel("…/model.json")` loads, computing `apply(params, x, { train: false }).logits`.
 * Fails with `ValidationError` for models that cannot be expressed as Layers (see the module
 * documentation) and `IoError` when writing fails.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Models from "./src/models/index.js"
 * const w1 = Model.mlp({ hidden: [256, 256], classes: 10 })
 * const program = Effect.flatMap(Models.build(w1, { seed: 1 }), (b) => Models.exportLayersModel(w1, b, b.params, "out/w1"))
 * ```
 *
 * @since 0.1.0
 * @category export
 */
export const exportLayersModel = (
  model: Model.Model,
  built: Built,
  params: Tree.Tree,
  dir: string,
  state: Tree.Tree = built.state,
): Effect.Effect<void, IoError | ValidationError> =>
  Effect.flatMap(layersArtifacts(model, built, params, state), (artifacts) =>
    Effect.tryPromise({
      try: async () => {
        const { weightData, weightSpecs, ...rest } = artifacts
        await mkdir(dir, { recursive: true })
        const json = {
          ...rest,
          weightsManifest: [{ paths: ["weights.bin"], weights: weightSpecs }],
        }
        await writeFile(join(dir, "model.json"), JSON.stringify(json))
        await writeFile(join(dir, "weights.bin"), new Uint8Array(weightData as ArrayBuffer))
      },
      catch: (cause) =>
        new IoError({ path: dir, message: `could not write the LayersModel: ${String(cause)}`, cause }),
    }),
  )
