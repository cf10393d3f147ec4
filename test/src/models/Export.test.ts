import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import * as tfl from "@tensorflow/tfjs-layers"
import { Effect, Result } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Model from "../../../dsl/Model.js"
import * as Models from "../../../src/models/index.js"
import { build, images, init, maxDiff } from "./setup.js"

let dir: string
beforeAll(async () => {
  await init()
  dir = await mkdtemp(join(tmpdir(), "retort-export-"))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** Loads `model.json` + `weights.bin` from a directory through a custom IOHandler (Node). */
const load = async (path: string): Promise<tfl.LayersModel> => {
  const json = JSON.parse(await readFile(join(path, "model.json"), "utf8"))
  const bin = await readFile(join(path, "weights.bin"))
  return tfl.loadLayersModel({
    load: async () => ({
      modelTopology: json.modelTopology,
      format: json.format,
      generatedBy: json.generatedBy,
      weightSpecs: json.weightsManifest.flatMap(
        (g: { weights: Array<tf.io.WeightsManifestEntry> }) => g.weights,
      ),
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
    }),
  })
}

const exportable = {
  mlp: Model.mlp({ hidden: [16, 8], classes: 10, dropout: 0.3, input: [8, 8, 1] }),
  mlpGelu: Model.mlp({ hidden: [12], classes: 10, activation: "gelu", input: [6, 6, 2] }),
  mlpTanh: Model.mlp({ hidden: [12, 12], classes: 4, activation: "tanh", input: [4, 4, 1] }),
  cnn: Model.cnn({ conv: [{ filters: 4 }, { filters: 6 }], dense: [12], classes: 10, input: [8, 8, 1] }),
  cnnBn: Model.cnn({
    conv: [
      { filters: 4, kernel: 5, pool: 1 },
      { filters: 6, pool: 3 },
    ],
    dense: [],
    classes: 10,
    batchNorm: true,
    input: [9, 9, 3],
  }),
  resnet: Model.resnet({
    stem: { filters: 4, stride: 2 },
    blocks: [{ filters: 4 }, { filters: 8, stride: 2 }],
    dropPath: 0.3,
    exits: [{ after: "block0", hidden: 8 }],
    classes: 10,
    input: [9, 9, 1],
  }),
  resnetBn: Model.resnet({
    stem: { filters: 4 },
    blocks: [{ filters: 6 }, { filters: 6, stride: 2 }],
    batchNorm: true,
    classes: 10,
    input: [8, 8, 1],
  }),
  binaryWeights: Model.binary(
    Model.resnet({ stem: { filters: 4 }, blocks: [{ filters: 4 }], classes: 10, input: [6, 6, 1] }),
  ),
} satisfies Record<string, Model.Model>

describe("exportLayersModel", () => {
  for (const [name, m] of Object.entries(exportable)) {
    it(`${name}: loads back with tf.loadLayersModel and predicts like apply (train: false) within 1e-5`, async () => {
      const built = build(m, 7)
      const [h, w, c] = Model.inputShape(m)!
      // non-trivial batch-norm statistics
      Models.recomputeBatchNorm(built, built.params, [images([16, h, w, c], 21)])
      const out = join(dir, name)
      await Effect.runPromise(Models.exportLayersModel(m, built, built.params, out))
      const manifest = JSON.parse(await readFile(join(out, "model.json"), "utf8"))
      expect(manifest.format).toBe("layers-model")
      expect(manifest.weightsManifest[0].paths).toEqual(["weights.bin"])
      const model = await load(out)
      const x = images([5, h, w, c], 22)
      const expected = tf.tidy(() => built.apply(built.params, x, { train: false }).logits)
      const predicted = model.predict(x) as tf.Tensor
      expect(predicted.shape).toEqual([5, Model.classes(m)!])
      expect(maxDiff(predicted, expected)).toBeLessThan(1e-5)
      model.dispose()
      tf.dispose([expected, predicted, x])
      built.dispose()
    })
  }

  it("exports another parameter tree than the live one (an SWA average)", async () => {
    const m = exportable.mlp
    const built = build(m, 1)
    const average = Models.Tree.map(built.params, (t) => tf.mul(t, 0.5))
    const out = join(dir, "average")
    await Effect.runPromise(Models.exportLayersModel(m, built, average, out))
    const model = await load(out)
    const x = images([3, 8, 8, 1], 2)
    const expected = tf.tidy(() => built.apply(average, x, { train: false }).logits)
    expect(maxDiff(model.predict(x) as tf.Tensor, expected)).toBeLessThan(1e-5)
    model.dispose()
    built.dispose()
  })

  it("artifacts in memory load with tf.io.fromMemory", async () => {
    const m = exportable.cnn
    const built = build(m, 3)
    const artifacts = await Effect.runPromise(Models.layersArtifacts(m, built, built.params))
    const model = await tfl.loadLayersModel(tf.io.fromMemory(artifacts))
    const x = images([2, 8, 8, 1], 4)
    const expected = tf.tidy(() => built.apply(built.params, x, { train: false }).logits)
    expect(maxDiff(model.predict(x) as tf.Tensor, expected)).toBeLessThan(1e-5)
    model.dispose()
    built.dispose()
  })

  const refused = {
    vit: [
      Model.vit({ patch: 4, dim: 8, depth: 1, heads: 2, classes: 10, input: [8, 8, 1] }),
      /vit cannot be exported/,
    ],
    binaryActivations: [
      Model.binary(Model.mlp({ hidden: [8, 8], classes: 10, input: [4, 4, 1] }), {
        binarizeActivations: true,
      }),
      /binarised activations cannot be exported/,
    ],
  } as const

  for (const [name, [m, message]] of Object.entries(refused)) {
    it(`${name}: fails with a ValidationError that says why`, async () => {
      const built = build(m)
      const r = await Effect.runPromise(
        Effect.result(Models.exportLayersModel(m, built, built.params, join(dir, name))),
      )
      expect(Result.isFailure(r)).toBe(true)
      if (Result.isFailure(r)) {
        expect(r.failure._tag).toBe("ValidationError")
        expect(r.failure.message).toMatch(message)
      }
      built.dispose()
    })
  }

  it("a custom model cannot be exported", async () => {
    const r = await Effect.runPromise(
      Effect.result(
        Effect.flatMap(Models.build(exportable.mlp, { seed: 1 }), (b) =>
          Models.layersArtifacts(Model.custom("mine"), b, b.params).pipe(
            Effect.ensuring(Effect.sync(() => b.dispose())),
          ),
        ),
      ),
    )
    expect(Result.isFailure(r) && r.failure.message).toMatch(/custom model "mine" cannot be exported/)
  })

  it("fails with an IoError when the directory cannot be written", async () => {
    const file = join(dir, "a-file")
    await writeFile(file, "")
    const built = build(exportable.mlp)
    const r = await Effect.runPromise(
      Effect.result(Models.exportLayersModel(exportable.mlp, built, built.params, join(file, "model"))),
    )
    expect(Result.isFailure(r) && r.failure._tag).toBe("IoError")
    built.dispose()
  })

  it("releases the temporary weight copies", async () => {
    const built = build(exportable.resnetBn)
    const before = tf.memory().numTensors
    await Effect.runPromise(Models.layersArtifacts(exportable.resnetBn, built, built.params))
    expect(tf.memory().numTensors).toBe(before)
    built.dispose()
  })
})
