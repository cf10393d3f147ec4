import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Result } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Model from "../../../dsl/Model.js"
import * as Graph from "../../../src/models/Graph.js"
import * as Layers from "../../../src/models/Layers.js"
import { init, maxDiff } from "./setup.js"

let dir: string
beforeAll(async () => {
  await init()
  dir = mkdtempSync(join(tmpdir(), "retort-graph-"))
})
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

const description = Model.custom("teacher")
const b64 = (s: string) => Buffer.from(s).toString("base64")
const dims = (shape: ReadonlyArray<number>) => ({ dim: shape.map((d) => ({ size: String(d) })) })
const FLOAT = { type: "DT_FLOAT" }

const placeholder = (name: string, shape: ReadonlyArray<number>) => ({
  name,
  op: "Placeholder",
  attr: { dtype: FLOAT, shape: { shape: dims(shape) } },
})
const constant = (name: string, shape: ReadonlyArray<number>, dtype = "DT_FLOAT") => ({
  name,
  op: "Const",
  attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: dims(shape) } } },
})
const op = (name: string, kind: string, input: ReadonlyArray<string>, attr: object = {}) => ({
  name,
  op: kind,
  input,
  attr: { T: FLOAT, ...attr },
})

interface Const {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  readonly values: ReadonlyArray<number>
  readonly dtype?: "float32" | "int32"
}

/** writes model.json + weights.bin of a GraphDef whose Consts are `consts` */
const writeGraph = (name: string, node: ReadonlyArray<object>, consts: ReadonlyArray<Const>): string => {
  const out = join(dir, name)
  mkdirSync(out, { recursive: true })
  const buffers = consts.map((c) =>
    Buffer.from(c.dtype === "int32" ? new Int32Array(c.values).buffer : new Float32Array(c.values).buffer),
  )
  writeFileSync(join(out, "weights.bin"), Buffer.concat(buffers))
  const json = {
    format: "graph-model",
    generatedBy: "hand",
    convertedBy: "hand",
    modelTopology: { node, library: {}, versions: { producer: 1 } },
    weightsManifest: [
      {
        paths: ["weights.bin"],
        weights: consts.map((c) => ({ name: c.name, shape: c.shape, dtype: c.dtype ?? "float32" })),
      },
    ],
  }
  writeFileSync(join(out, "model.json"), JSON.stringify(json))
  return out
}

const seeded = (n: number, seed: number): Array<number> =>
  Array.from(tf.randomNormal([n], 0, 1, "float32", seed).dataSync())

// x [-1, 4] → MatMul w1 [4, 3] → BiasAdd b1 → Relu → MatMul w2 [3, 2] → BiasAdd b2 → Softmax
const w1 = { name: "w1", shape: [4, 3], values: seeded(12, 1) }
const b1 = { name: "b1", shape: [3], values: seeded(3, 2) }
const w2 = { name: "w2", shape: [3, 2], values: seeded(6, 3) }
const b2 = { name: "b2", shape: [2], values: seeded(2, 4) }
const mlpNodes = [
  placeholder("x", [-1, 4]),
  constant("w1", [4, 3]),
  constant("b1", [3]),
  constant("w2", [3, 2]),
  constant("b2", [2]),
  op("dense/MatMul", "MatMul", ["x", "w1"], { transpose_a: { b: false }, transpose_b: { b: false } }),
  op("dense/BiasAdd", "BiasAdd", ["dense/MatMul", "b1"], { data_format: { s: b64("NHWC") } }),
  op("dense/Relu", "Relu", ["dense/BiasAdd"]),
  op("head/MatMul", "MatMul", ["dense/Relu", "w2"], { transpose_a: { b: false }, transpose_b: { b: false } }),
  op("head/BiasAdd", "BiasAdd", ["head/MatMul", "b2"], { data_format: { s: b64("NHWC") } }),
  op("probs", "Softmax", ["head/BiasAdd"]),
]

const t = (c: Const) => tf.tensor(c.values as Array<number>, [...c.shape])
const handMlp = (x: tf.Tensor2D) => {
  const hidden = tf.relu(tf.add(tf.matMul(x, t(w1) as tf.Tensor2D), t(b1)))
  return { hidden, logits: tf.add(tf.matMul(hidden as tf.Tensor2D, t(w2) as tf.Tensor2D), t(b2)) }
}

const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw r.failure
  return r.success
}

describe("Graph: a hand-written GraphModel", () => {
  it("logits are the pre-softmax values; taps at intermediate nodes; probabilities → log p", async () => {
    const path = writeGraph("mlp", mlpNodes, [w1, b1, w2, b2])
    const artifacts = await Effect.runPromise(Graph.read(path))
    expect(Graph.inputShape(artifacts)).toEqual([4])
    const teacher = ok(Graph.build(artifacts, { trainable: false, description }))
    expect(teacher.classes).toBe(2)
    expect(teacher.input).toBeUndefined()
    expect(teacher.taps).toContain("dense/Relu")
    expect(teacher.paramCount).toBe(0)
    const x = tf.randomNormal([5, 4], 0, 1, "float32", 9) as tf.Tensor2D
    const expected = handMlp(x)
    const f = teacher.apply({}, x, { train: false, taps: ["dense/Relu", "probs"] })
    expect(maxDiff(f.logits, expected.logits)).toBeLessThan(1e-5)
    expect(maxDiff(f.taps["dense/Relu"]!, expected.hidden)).toBeLessThan(1e-5)
    expect(maxDiff(f.taps.probs!, tf.softmax(expected.logits))).toBeLessThan(1e-5)
    // images of the same size are flattened
    expect(
      maxDiff(teacher.apply({}, tf.reshape(x, [5, 2, 2, 1]), { train: true }).logits, expected.logits),
    ).toBeLessThan(1e-5)
    expect(() => teacher.apply({}, tf.zeros([1, 3]), { train: false })).toThrow(/4 values per example/)
    expect(() => teacher.apply({}, x, { train: false, taps: ["nope"] })).toThrow(/no tap "nope"/)
    const probs = ok(Graph.build(artifacts, { trainable: false, output: "probabilities", description }))
    expect(maxDiff(probs.apply({}, x, { train: false }).logits, tf.logSoftmax(expected.logits))).toBeLessThan(
      1e-5,
    )
    // nothing leaks
    const before = tf.memory().numTensors
    tf.tidy(() => {
      teacher.apply({}, x, { train: false, taps: ["dense/Relu"] })
    })
    expect(tf.memory().numTensors).toBe(before)
    probs.dispose()
    teacher.dispose()
  })

  it("a convolutional graph: Conv2D, Relu, Reshape; input [h, w, c]", async () => {
    const kernel = { name: "k", shape: [3, 3, 2, 4], values: seeded(72, 5) }
    const bias = { name: "kb", shape: [4], values: seeded(4, 6) }
    const shape = { name: "flat_shape", shape: [2], values: [-1, 36], dtype: "int32" as const }
    const w = { name: "w", shape: [36, 3], values: seeded(108, 7) }
    const nodes = [
      placeholder("image", [-1, 5, 5, 2]),
      constant("k", [3, 3, 2, 4]),
      constant("kb", [4]),
      constant("flat_shape", [2], "DT_INT32"),
      constant("w", [36, 3]),
      op("conv/Conv2D", "Conv2D", ["image", "k"], {
        strides: { list: { i: ["1", "1", "1", "1"] } },
        padding: { s: b64("VALID") },
        data_format: { s: b64("NHWC") },
        dilations: { list: { i: ["1", "1", "1", "1"] } },
      }),
      op("conv/BiasAdd", "BiasAdd", ["conv/Conv2D", "kb"], { data_format: { s: b64("NHWC") } }),
      op("conv/Relu", "Relu", ["conv/BiasAdd"]),
      op("flatten", "Reshape", ["conv/Relu", "flat_shape"], { Tshape: { type: "DT_INT32" } }),
      op("head", "MatMul", ["flatten", "w"], { transpose_a: { b: false }, transpose_b: { b: false } }),
    ]
    const artifacts = await Effect.runPromise(Graph.read(writeGraph("conv", nodes, [kernel, bias, shape, w])))
    const teacher = ok(Graph.build(artifacts, { trainable: false, description }))
    expect(teacher.input).toEqual([5, 5, 2])
    expect(teacher.classes).toBe(3)
    const x = tf.randomUniform([3, 5, 5, 2], 0, 1, "float32", 8) as tf.Tensor4D
    const conv = tf.relu(tf.add(tf.conv2d(x, t(kernel) as tf.Tensor4D, 1, "valid"), t(bias)))
    const expected = tf.matMul(tf.reshape(conv, [3, 36]) as tf.Tensor2D, t(w) as tf.Tensor2D)
    const f = teacher.apply({}, x, { train: false, taps: ["conv/Relu"] })
    expect(maxDiff(f.logits, expected)).toBeLessThan(1e-5)
    expect(maxDiff(f.taps["conv/Relu"]!, conv)).toBeLessThan(1e-5)
    expect(() => teacher.apply({}, tf.zeros([1, 4, 4, 2]), { train: false })).toThrow(
      /expects images \[batch, 5, 5, 2\]/,
    )
    teacher.dispose()
  })

  it("trainable: true fails: a GraphModel can only be a frozen teacher", async () => {
    const artifacts = await Effect.runPromise(Graph.read(writeGraph("frozen", mlpNodes, [w1, b1, w2, b2])))
    const r = Graph.build(artifacts, { trainable: true, description })
    expect(Result.isFailure(r)).toBe(true)
    if (Result.isFailure(r)) {
      expect(r.failure._tag).toBe("ValidationError")
      expect(r.failure.message).toMatch(/can only be a frozen teacher/)
      expect(r.failure.message).toMatch(/LayersModel/)
    }
  })

  it("a missing weights file is an IoError naming it", async () => {
    const path = writeGraph("no-weights", mlpNodes, [w1, b1, w2, b2])
    unlinkSync(join(path, "weights.bin"))
    const r = await Effect.runPromise(Effect.result(Graph.read(path)))
    expect(Result.isFailure(r)).toBe(true)
    if (Result.isFailure(r)) {
      expect(r.failure._tag).toBe("IoError")
      expect(r.failure.message).toContain(join(path, "weights.bin"))
    }
  })

  it("control flow is refused with the op's name", async () => {
    const nodes = [...mlpNodes.slice(0, -1), op("loop", "LoopCond", ["head/BiasAdd"])]
    const artifacts = await Effect.runPromise(Graph.read(writeGraph("loop", nodes, [w1, b1, w2, b2])))
    const r = Graph.build(artifacts, { trainable: false, description })
    expect(Result.isFailure(r) && r.failure.message).toMatch(/LoopCond.*executeAsync/)
  })

  it("Layers.read and Graph.read route each other's files", async () => {
    const path = writeGraph("route", mlpNodes, [w1, b1, w2, b2])
    const m = await Effect.runPromise(Layers.readModelJson(path))
    expect(m.kind).toBe("graph")
    const r = await Effect.runPromise(Effect.result(Layers.read(path)))
    expect(Result.isFailure(r) && r.failure.message).toMatch(/GraphModel.*Graph\.read/)
  })
})
