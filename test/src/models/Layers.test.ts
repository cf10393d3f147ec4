import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import * as tfl from "@tensorflow/tfjs-layers"
import { Effect, Result } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Model from "../../../dsl/Model.js"
import type { Built } from "../../../src/models/Built.js"
import * as Models from "../../../src/models/index.js"
import * as Layers from "../../../src/models/Layers.js"
import * as Tree from "../../../src/models/Tree.js"
import { build, images, init, maxDiff } from "./setup.js"

let dir: string
beforeAll(async () => {
  await init()
  dir = mkdtempSync(join(tmpdir(), "retort-layers-"))
})
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

const description = Model.custom("loaded")

/** model.json + weights split over two shards, as tfjs-converter writes them */
const save = async (model: tfl.LayersModel, out: string, shards = 2): Promise<string> => {
  mkdirSync(out, { recursive: true })
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const bytes = new Uint8Array(a.weightData as ArrayBuffer)
      const cut = shards === 1 ? bytes.length : Math.floor(bytes.length / 2)
      const paths = shards === 1 ? ["weights.bin"] : ["group1-shard1of2.bin", "group1-shard2of2.bin"]
      writeFileSync(join(out, paths[0]!), bytes.slice(0, cut))
      if (shards > 1) writeFileSync(join(out, paths[1]!), bytes.slice(cut))
      const json = {
        modelTopology: a.modelTopology,
        format: a.format,
        generatedBy: a.generatedBy,
        convertedBy: null,
        weightsManifest: [{ paths, weights: a.weightSpecs }],
      }
      writeFileSync(join(out, "model.json"), JSON.stringify(json))
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } }
    }),
  )
  return out
}

/** every weight random (seeded), batch-norm variances positive */
const randomise = (model: tfl.LayersModel, seed: number): void => {
  const values = model.weights.map((w, i) =>
    w.originalName.includes("moving_variance")
      ? tf.randomUniform(w.shape as Array<number>, 0.5, 2, "float32", seed + i)
      : tf.randomNormal(w.shape as Array<number>, 0, 0.4, "float32", seed + i),
  )
  model.setWeights(values)
  tf.dispose(values)
}

/** a functional CNN with a residual Add, Concatenate, every conv kind, BN and pooling */
const cnn = (seed: number): tfl.LayersModel => {
  const L = tfl.layers
  const inp = tfl.input({ shape: [8, 8, 3], name: "img" })
  const scaled = L.rescaling({ scale: 2, offset: -1, name: "rescale" }).apply(inp) as tfl.SymbolicTensor
  const c1 = L.conv2d({ filters: 6, kernelSize: 3, padding: "same", useBias: false, name: "c1" }).apply(
    scaled,
  )
  const bn1 = L.batchNormalization({ name: "bn1" }).apply(c1)
  const r1 = L.reLU({ maxValue: 1.5, name: "relu1" }).apply(bn1) as tfl.SymbolicTensor
  const zp = L.zeroPadding2d({ padding: 1, name: "zp" }).apply(r1)
  const dw = L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, name: "dw", activation: "relu6" }).apply(
    zp,
  )
  const sep = L.separableConv2d({
    filters: 6,
    kernelSize: 3,
    padding: "same",
    name: "sep",
    activation: "swish",
  }).apply(dw)
  const add = L.add({ name: "add" }).apply([sep, r1] as Array<tfl.SymbolicTensor>) as tfl.SymbolicTensor
  const mp = L.maxPooling2d({ poolSize: 2, name: "mp" }).apply(add)
  const ap = L.averagePooling2d({ poolSize: 2, name: "ap" }).apply(add)
  const cat = L.concatenate({ name: "cat" }).apply([mp, ap] as Array<tfl.SymbolicTensor>)
  const c2 = L.conv2d({
    filters: 8,
    kernelSize: 3,
    strides: 2,
    padding: "same",
    activation: "elu",
    name: "c2",
  }).apply(cat)
  const bn2 = L.batchNormalization({ name: "bn2", epsilon: 0.01 }).apply(c2)
  const gap = L.globalAveragePooling2d({ name: "gap" }).apply(bn2)
  const gmp = L.globalMaxPooling2d({ name: "gmp" }).apply(c2)
  const cat2 = L.concatenate({ name: "cat2" }).apply([gap, gmp] as Array<tfl.SymbolicTensor>)
  const drop = L.dropout({ rate: 0.3, name: "drop" }).apply(cat2)
  const lr = L.leakyReLU({ alpha: 0.2, name: "lrelu" }).apply(drop)
  const out = L.dense({ units: 5, activation: "softmax", name: "out" }).apply(lr) as tfl.SymbolicTensor
  const model = tfl.model({ inputs: inp, outputs: out, name: "cnn" })
  randomise(model, seed)
  return model
}

/** a Sequential MLP on flat vectors [12], ending in a Softmax layer */
const mlp = (seed: number): tfl.LayersModel => {
  const L = tfl.layers
  const model = tfl.sequential({
    name: "mlp",
    layers: [
      L.dense({ inputShape: [12], units: 16, activation: "relu", name: "dense0" }),
      L.batchNormalization({ name: "bn" }),
      L.gaussianNoise({ stddev: 0.5, name: "noise" }),
      L.activation({ activation: "selu", name: "selu" }),
      L.dense({ units: 8, activation: "tanh", name: "dense1" }),
      L.gaussianDropout({ rate: 0.2, name: "gdrop" }),
      L.activation({ activation: "softplus", name: "softplus" }),
      L.dense({ units: 8, activation: "hardSigmoid", name: "dense2" }),
      L.dense({ units: 8, activation: "gelu", name: "dense3" }),
      L.elu({ name: "elu" }),
      L.dense({ units: 4, name: "head" }),
      L.softmax({ name: "probs" }),
    ],
  })
  randomise(model, seed)
  return model
}

const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw r.failure
  return r.success
}

const load = async (path: string, options: Partial<Layers.BuildOptions> = {}): Promise<Built> => {
  const artifacts = await Effect.runPromise(Layers.read(path))
  return ok(Layers.build(artifacts, { trainable: false, description, ...options }))
}

const failure = async (path: string) => {
  const r = await Effect.runPromise(Effect.result(Layers.read(path)))
  if (Result.isSuccess(r)) throw new Error("read succeeded")
  return r.failure
}

/** the values of an intermediate layer of a tfjs-layers model */
const layerOutput = (model: tfl.LayersModel, name: string, x: tf.Tensor): tf.Tensor => {
  const sub = tfl.model({ inputs: model.inputs, outputs: model.getLayer(name).output as tfl.SymbolicTensor })
  return sub.predict(x) as tf.Tensor
}

describe("Layers.read + build: a tfjs-layers functional CNN", () => {
  it("predicts like model.predict, logits are the pre-softmax Dense output, every tap matches", async () => {
    const model = cnn(1)
    const path = await save(model, join(dir, "cnn"))
    const built = await load(path)
    expect(built.input).toEqual([8, 8, 3])
    expect(built.classes).toBe(5)
    expect(built.heads).toEqual(["logits"])
    expect(built.taps).toEqual(model.layers.slice(1).map((l) => l.name))
    expect(Object.keys(Tree.flatten(built.params)).sort()).toContain("bn1/gamma")
    expect(Object.keys(Tree.flatten(built.state)).sort()).toEqual([
      "bn1/moving_mean",
      "bn1/moving_variance",
      "bn2/moving_mean",
      "bn2/moving_variance",
    ])
    const x = images([4, 8, 8, 3], 5)
    const f = built.apply(built.params, x, { train: false, taps: built.taps })
    const predicted = model.predict(x) as tf.Tensor
    expect(maxDiff(tf.softmax(f.logits), predicted)).toBeLessThan(1e-5)
    // the pre-softmax value of the head
    const hidden = layerOutput(model, "lrelu", x)
    const [kernel, bias] = model.getLayer("out").getWeights()
    expect(
      maxDiff(f.logits, tf.add(tf.matMul(hidden as tf.Tensor2D, kernel as tf.Tensor2D), bias!)),
    ).toBeLessThan(1e-5)
    for (const name of built.taps) {
      const expected = layerOutput(model, name, x)
      expect(f.taps[name]!.shape, name).toEqual(expected.shape)
      expect(maxDiff(f.taps[name]!, expected), name).toBeLessThan(1e-5)
    }
    // the batch-norm statistics matter (a model with default statistics would differ)
    expect(maxDiff(f.taps.bn1!, layerOutput(model, "c1", x))).toBeGreaterThan(0.01)
    built.dispose()
    model.dispose()
  })

  it('output "probabilities" gives log(p) as logits', async () => {
    const model = cnn(2)
    const path = await save(model, join(dir, "cnn-prob"), 1)
    const built = await load(path, { output: "probabilities" })
    const x = images([3, 8, 8, 3], 6)
    const logits = built.apply(built.params, x, { train: false }).logits
    expect(maxDiff(tf.exp(logits), model.predict(x) as tf.Tensor)).toBeLessThan(1e-5)
    built.dispose()
    model.dispose()
  })

  it("gradients of a trainable build are finite and non-zero for every weight", async () => {
    const model = cnn(3)
    const built = await load(await save(model, join(dir, "cnn-grad")), { trainable: true })
    const vars = Object.values(Tree.flatten(built.params))
    expect(vars.every((v) => v.trainable)).toBe(true)
    const x = images([6, 8, 8, 3], 7)
    const { grads } = tf.variableGrads(
      () =>
        tf.losses.softmaxCrossEntropy(
          tf.oneHot([0, 1, 2, 3, 4, 0], 5),
          built.apply(built.params, x, { train: true, seed: 1 }).logits,
        ) as tf.Scalar,
      vars,
    )
    const names = Object.keys(Tree.flatten(built.params))
    expect(Object.keys(grads).length).toBe(names.length)
    for (const v of vars) {
      const g = grads[v.name]!
      const values = Array.from(g.dataSync())
      expect(values.every(Number.isFinite), v.name).toBe(true)
      expect(Math.max(...values.map(Math.abs)), v.name).toBeGreaterThan(0)
    }
    built.dispose()
    model.dispose()
  })

  it("computes with another parameter tree (all weights × 0.5) like a model with those weights", async () => {
    const model = cnn(4)
    const built = await load(await save(model, join(dir, "cnn-half")))
    const half = Tree.map(built.params, (t) => tf.mul(t, 0.5))
    const x = images([3, 8, 8, 3], 8)
    const original = built.apply(built.params, x, { train: false }).logits
    const halved = built.apply(half, x, { train: false }).logits
    expect(maxDiff(original, halved)).toBeGreaterThan(1e-3)
    const scaled = model.weights.map((w) =>
      w.originalName.includes("moving_") ? w.read() : tf.mul(w.read(), 0.5),
    )
    model.setWeights(scaled)
    expect(maxDiff(tf.softmax(halved), model.predict(x) as tf.Tensor)).toBeLessThan(1e-5)
    built.dispose()
    model.dispose()
  })

  it("trainable: false creates non-trainable variables; repeated applies in tidy leak nothing", async () => {
    const model = cnn(5)
    const built = await load(await save(model, join(dir, "cnn-frozen")))
    expect(Object.values(Tree.flatten(built.params)).every((v) => !v.trainable)).toBe(true)
    expect(Object.values(Tree.flatten(built.state)).every((v) => !v.trainable)).toBe(true)
    const x = images([2, 8, 8, 3], 9)
    tf.tidy(() => {
      built.apply(built.params, x, { train: true, seed: 2 })
    })
    const before = tf.memory().numTensors
    for (let i = 0; i < 3; i++) {
      tf.tidy(() => {
        built.apply(built.params, x, { train: i % 2 === 0, seed: i, taps: ["add", "gap"] })
      })
    }
    expect(tf.memory().numTensors).toBe(before)
    built.dispose()
    model.dispose()
  })

  it("reads the same model with Keras 3-style inbound nodes", async () => {
    const model = cnn(6)
    const path = await save(model, join(dir, "cnn-k3"))
    const json = JSON.parse(readFileSync(join(path, "model.json"), "utf8"))
    const tensor = (ref: Array<unknown>) => ({
      class_name: "__keras_tensor__",
      config: { shape: null, dtype: "float32", keras_history: [ref[0], ref[1], ref[2]] },
    })
    for (const layer of json.modelTopology.config.layers) {
      layer.inbound_nodes = layer.inbound_nodes.map((node: Array<Array<unknown>>) => ({
        args: node.length === 1 ? [tensor(node[0]!)] : [node.map(tensor)],
        kwargs: {},
      }))
    }
    json.modelTopology.class_name = "Functional"
    json.modelTopology.config.input_layers = json.modelTopology.config.input_layers[0]
    writeFileSync(join(path, "model.json"), JSON.stringify(json))
    const built = await load(path)
    const x = images([2, 8, 8, 3], 10)
    expect(
      maxDiff(
        tf.softmax(built.apply(built.params, x, { train: false }).logits),
        model.predict(x) as tf.Tensor,
      ),
    ).toBeLessThan(1e-5)
    built.dispose()
    model.dispose()
  })
})

describe("Layers: a Sequential MLP on flat inputs", () => {
  it("flattens images of the right size, ends in a Softmax layer, has no image input", async () => {
    const model = mlp(11)
    const path = await save(model, join(dir, "mlp"))
    const artifacts = await Effect.runPromise(Layers.read(join(path, "model.json")))
    expect(Layers.inputShape(artifacts)).toEqual([12])
    const built = ok(Layers.build(artifacts, { trainable: false, description }))
    expect(built.input).toBeUndefined()
    expect(built.classes).toBe(4)
    const flat = tf.randomNormal([5, 12], 0, 1, "float32", 3)
    const f = built.apply(built.params, tf.reshape(flat, [5, 2, 2, 3]), {
      train: false,
      taps: ["head", "probs"],
    })
    const predicted = model.predict(flat) as tf.Tensor
    expect(maxDiff(tf.softmax(f.logits), predicted)).toBeLessThan(1e-5)
    expect(maxDiff(f.logits, layerOutput(model, "head", flat))).toBeLessThan(1e-5)
    expect(maxDiff(f.taps.probs!, predicted)).toBeLessThan(1e-5)
    expect(maxDiff(built.apply(built.params, flat, { train: false }).logits, f.logits)).toBeLessThan(1e-6)
    expect(() => built.apply(built.params, tf.zeros([2, 3, 3, 1]), { train: false })).toThrow(
      /12 values per example/,
    )
    built.dispose()
    model.dispose()
  })

  it("train mode: batch statistics, running statistics updated with momentum 1 − keras momentum", async () => {
    const model = mlp(12)
    const built = await load(await save(model, join(dir, "mlp-train")), { trainable: true })
    const x = tf.randomNormal([16, 12], 0, 1, "float32", 4)
    const mean0 = Tree.get(built.state, "bn/moving_mean").clone()
    const var0 = Tree.get(built.state, "bn/moving_variance").clone()
    const h = built.apply(built.params, x, { train: false, taps: ["dense0"] }).taps.dense0!
    const { mean, variance } = tf.moments(h, 0)
    const f = built.apply(built.params, x, { train: true, seed: 1, taps: ["bn"] })
    const gamma = Tree.get(built.params, "bn/gamma")
    const beta = Tree.get(built.params, "bn/beta")
    expect(maxDiff(f.taps.bn!, tf.batchNorm(h, mean, variance, beta, gamma, 1e-3))).toBeLessThan(1e-5)
    expect(
      maxDiff(Tree.get(built.state, "bn/moving_mean"), tf.add(tf.mul(mean0, 0.99), tf.mul(mean, 0.01))),
    ).toBeLessThan(1e-6)
    expect(
      maxDiff(
        Tree.get(built.state, "bn/moving_variance"),
        tf.add(tf.mul(var0, 0.99), tf.mul(variance, 0.01)),
      ),
    ).toBeLessThan(1e-6)
    // statsMomentum overrides; updateStats: false and another state tree leave the own state alone
    const copy = Tree.clone(built.state, false)
    const own = Tree.get(built.state, "bn/moving_mean").clone()
    built.apply(built.params, x, { train: true, state: copy, statsMomentum: 0.5 })
    expect(maxDiff(Tree.get(built.state, "bn/moving_mean"), own)).toBe(0)
    expect(
      maxDiff(Tree.get(copy, "bn/moving_mean"), tf.add(tf.mul(own, 0.5), tf.mul(mean, 0.5))),
    ).toBeLessThan(1e-6)
    built.apply(built.params, x, { train: true, updateStats: false })
    expect(maxDiff(Tree.get(built.state, "bn/moving_mean"), own)).toBe(0)
    // the noise layers are seeded: same seed, same output; another seed, another
    const a = built.apply(built.params, x, { train: true, seed: 3, updateStats: false }).logits
    const b = built.apply(built.params, x, { train: true, seed: 3, updateStats: false }).logits
    const c = built.apply(built.params, x, { train: true, seed: 4, updateStats: false }).logits
    expect(maxDiff(a, b)).toBe(0)
    expect(maxDiff(a, c)).toBeGreaterThan(1e-4)
    Tree.dispose(copy)
    built.dispose()
    model.dispose()
  })

  it("dropout masks are seeded and reported as dropout/<layer>", async () => {
    const model = cnn(13)
    const built = await load(await save(model, join(dir, "cnn-drop")))
    const x = images([4, 8, 8, 3], 11)
    const names: Array<string> = []
    const a = built.apply(built.params, x, {
      train: true,
      seed: 5,
      updateStats: false,
      record: (n) => names.push(n),
    })
    const b = built.apply(built.params, x, { train: true, seed: 5, updateStats: false })
    const c = built.apply(built.params, x, { train: true, seed: 6, updateStats: false })
    expect(names).toEqual(["dropout/drop"])
    expect(maxDiff(a.logits, b.logits)).toBe(0)
    expect(maxDiff(a.logits, c.logits)).toBeGreaterThan(1e-4)
    built.dispose()
    model.dispose()
  })
})

describe("Layers: models exported by Retort", () => {
  const exported = {
    mlp: Model.mlp({ hidden: [16, 8], classes: 10, input: [6, 6, 1] }),
    cnn: Model.cnn({
      conv: [{ filters: 4 }, { filters: 6 }],
      dense: [12],
      classes: 10,
      batchNorm: true,
      input: [8, 8, 1],
    }),
    resnet: Model.resnet({
      stem: { filters: 4 },
      blocks: [{ filters: 4 }, { filters: 6, stride: 2 }],
      batchNorm: true,
      classes: 10,
      input: [8, 8, 1],
    }),
  } satisfies Record<string, Model.Model>
  for (const [name, m] of Object.entries(exported)) {
    it(`${name}: loads and equals the original apply within 1e-5`, async () => {
      const original = build(m, 7)
      const [h, w, c] = Model.inputShape(m)!
      Models.recomputeBatchNorm(original, original.params, [images([16, h, w, c], 21)])
      const out = join(dir, `retort-${name}`)
      await Effect.runPromise(Models.exportLayersModel(m, original, original.params, out))
      const loaded = await load(out)
      expect(loaded.input).toEqual([h, w, c])
      expect(loaded.classes).toBe(10)
      const x = images([5, h, w, c], 22)
      const expected = original.apply(original.params, x, { train: false }).logits
      expect(maxDiff(loaded.apply(loaded.params, x, { train: false }).logits, expected)).toBeLessThan(1e-5)
      loaded.dispose()
      original.dispose()
    })
  }
})

describe("Layers.toArtifacts / write", () => {
  it("re-exports a changed parameter tree that tf.loadLayersModel reads back", async () => {
    const model = cnn(14)
    const path = await save(model, join(dir, "cnn-export"))
    const artifacts = await Effect.runPromise(Layers.read(path))
    const built = ok(Layers.build(artifacts, { trainable: true, description }))
    const half = Tree.map(built.params, (t) => tf.mul(t, 0.5))
    const out = join(dir, "cnn-reexport")
    await Effect.runPromise(Layers.write(out, Layers.toArtifacts(artifacts, half, built.state)))
    const json = JSON.parse(readFileSync(join(out, "model.json"), "utf8"))
    const bin = readFileSync(join(out, "weights.bin"))
    const reloaded = await tfl.loadLayersModel({
      load: async () => ({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      }),
    })
    const x = images([3, 8, 8, 3], 12)
    const expected = tf.softmax(built.apply(half, x, { train: false }).logits)
    expect(maxDiff(reloaded.predict(x) as tf.Tensor, expected)).toBeLessThan(1e-5)
    // and Layers.read of the re-export computes the same
    const again = await load(out)
    expect(
      maxDiff(
        again.apply(again.params, x, { train: false }).logits,
        built.apply(half, x, { train: false }).logits,
      ),
    ).toBeLessThan(1e-5)
    again.dispose()
    reloaded.dispose()
    built.dispose()
    model.dispose()
  })
})

describe("Layers.read: quantised weights and hand-written topologies", () => {
  it("dequantises float16, uint8 and uint16 weights", async () => {
    const out = join(dir, "quantised")
    mkdirSync(out, { recursive: true })
    const json = {
      format: "layers-model",
      modelTopology: {
        class_name: "Sequential",
        config: {
          name: "q",
          layers: [
            {
              class_name: "Dense",
              config: { name: "d", units: 2, activation: "linear", batch_input_shape: [null, 2] },
            },
            { class_name: "Dense", config: { name: "e", units: 1, activation: "linear", use_bias: true } },
          ],
        },
      },
      weightsManifest: [
        {
          paths: ["q.bin"],
          weights: [
            { name: "d/kernel", shape: [2, 2], dtype: "float32", quantization: { dtype: "float16" } },
            {
              name: "d/bias",
              shape: [2],
              dtype: "float32",
              quantization: { dtype: "uint8", scale: 0.5, min: -1 },
            },
            {
              name: "e/kernel",
              shape: [2, 1],
              dtype: "float32",
              quantization: { dtype: "uint16", scale: 0.25, min: -8 },
            },
            { name: "e/bias", shape: [1], dtype: "float32" },
          ],
        },
      ],
    }
    const bytes = Buffer.concat([
      Buffer.from(new Uint16Array([0x3c00, 0xc000, 0x3800, 0x3400]).buffer),
      Buffer.from(new Uint8Array([0, 6])),
      Buffer.from(new Uint16Array([32, 40]).buffer),
      Buffer.from(new Float32Array([0.5]).buffer),
    ])
    writeFileSync(join(out, "model.json"), JSON.stringify(json))
    writeFileSync(join(out, "q.bin"), bytes)
    const artifacts = await Effect.runPromise(Layers.read(out))
    expect(artifacts.weights.map((w) => Array.from(w.values))).toEqual([
      [1, -2, 0.5, 0.25],
      [-1, 2],
      [0, 2],
      [0.5],
    ])
    const built = ok(Layers.build(artifacts, { trainable: false, description }))
    // d: [1, 1]·K + b = [1.5, −1.75] + [−1, 2] = [0.5, 0.25]; e: 0.5·0 + 0.25·2 + 0.5 = 1
    expect(
      Array.from(built.apply(built.params, tf.ones([1, 2]), { train: false }).logits.dataSync()),
    ).toEqual([1])
    built.dispose()
  })
})

describe("Layers.read: errors name the file or layer", () => {
  let good: string
  beforeAll(async () => {
    const model = mlp(20)
    good = await save(model, join(dir, "errors-good"), 1)
    model.dispose()
  })
  const copy = (name: string): string => {
    const out = join(dir, name)
    mkdirSync(out, { recursive: true })
    copyFileSync(join(good, "model.json"), join(out, "model.json"))
    copyFileSync(join(good, "weights.bin"), join(out, "weights.bin"))
    return out
  }

  it("a directory without model.json", async () => {
    const empty = join(dir, "empty")
    mkdirSync(empty, { recursive: true })
    const e = await failure(empty)
    expect(e._tag).toBe("IoError")
    expect(e.message).toContain(join(empty, "model.json"))
    const missing = await failure(join(dir, "nowhere", "model.json"))
    expect(missing._tag).toBe("IoError")
    expect(missing.message).toContain("nowhere")
  })

  it("a missing shard", async () => {
    const out = copy("no-shard")
    unlinkSync(join(out, "weights.bin"))
    const e = await failure(out)
    expect(e._tag).toBe("IoError")
    expect(e.message).toContain(join(out, "weights.bin"))
  })

  it("a short shard", async () => {
    const out = copy("short-shard")
    truncateSync(join(out, "weights.bin"), 100)
    const e = await failure(out)
    expect(e._tag).toBe("IoError")
    expect(e.message).toMatch(/too short/)
    expect(e.message).toContain(join(out, "model.json"))
  })

  it("malformed JSON", async () => {
    const out = copy("bad-json")
    writeFileSync(join(out, "model.json"), '{ "modelTopology": ')
    const e = await failure(out)
    expect(e._tag).toBe("IoError")
    expect(e.message).toMatch(/not valid JSON/)
    expect(e.message).toContain(join(out, "model.json"))
  })

  it("an unsupported layer class", async () => {
    const out = copy("unsupported")
    const json = JSON.parse(readFileSync(join(out, "model.json"), "utf8"))
    json.modelTopology.config.layers[3].class_name = "LSTM"
    writeFileSync(join(out, "model.json"), JSON.stringify(json))
    const e = await failure(out)
    expect(e._tag).toBe("ValidationError")
    expect(e.message).toContain("layer selu has the unsupported class LSTM")
    expect(e.message).toContain(join(out, "model.json"))
    expect(e.message).toContain("supported: InputLayer, Dense, Conv2D")
  })

  it("a weight the manifest lacks", async () => {
    const out = copy("no-weight")
    const json = JSON.parse(readFileSync(join(out, "model.json"), "utf8"))
    json.weightsManifest[0].weights[0].name = "other/kernel"
    writeFileSync(join(out, "model.json"), JSON.stringify(json))
    const e = await failure(out)
    expect(e._tag).toBe("ValidationError")
    expect(e.message).toContain("layer dense0 (Dense) needs the weight dense0/kernel")
  })
})
