import * as tf from "@tensorflow/tfjs-core"
import { Cause, Effect, Exit, Option } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import * as Model from "../../../dsl/Model.js"
import { ShapeError, ValidationError } from "../../../src/errors.js"
import * as Models from "../../../src/models/index.js"
import { build, images, init, values } from "./setup.js"

beforeAll(init)

// exits declared deep-first, to check that the default order sorts them by depth
const net = Model.resnet({
  stem: { filters: 4, stride: 2 },
  blocks: [{ filters: 4 }, { filters: 6, stride: 2 }],
  exits: [{ after: "block0", hidden: 8 }, { after: "stem" }],
  batchNorm: true,
  classes: 10,
  input: [8, 8, 1],
})

const argmaxRows = (t: tf.Tensor): Array<number> => values(tf.tidy(() => tf.argMax(t, 1)))
const maxProbRows = (t: tf.Tensor): Array<number> => values(tf.tidy(() => tf.max(tf.softmax(t), 1)))

describe("exitOrder", () => {
  it("ResNet exits by the depth they are attached at, then logits; other models their extra heads, then logits", () => {
    const b = build(net)
    expect(Models.exitOrder(b)).toEqual(["exit1", "exit0", "logits"])
    b.dispose()
    const v = build(
      Model.vit({ patch: 4, dim: 8, depth: 1, heads: 2, classes: 10, distillToken: true, input: [8, 8, 1] }),
    )
    expect(Models.exitOrder(v)).toEqual(["dist", "logits"])
    v.dispose()
    const m = build(Model.mlp({ hidden: [4], classes: 10, input: [8, 8, 1] }))
    expect(Models.exitOrder(m)).toEqual(["logits"])
    m.dispose()
    const bin = build(Model.binary(net))
    expect(Models.exitOrder(bin)).toEqual(["exit1", "exit0", "logits"])
    bin.dispose()
  })
})

describe("earlyExit", () => {
  it("threshold 0: every sample leaves at the first head, with its prediction", () => {
    const b = build(net, 3)
    const x = images([12, 8, 8, 1])
    const r = Models.earlyExit(b, b.params, x, { threshold: 0 })
    expect(r.order).toEqual(["exit1", "exit0", "logits"])
    expect([...r.exits]).toEqual(new Array(12).fill(0))
    const f = tf.tidy(() => b.apply(b.params, x, { train: false }).heads.exit1!)
    expect([...r.predictions]).toEqual(argmaxRows(f))
    for (const [i, p] of maxProbRows(f).entries()) expect(r.confidence[i]).toBeCloseTo(p, 6)
    f.dispose()
    x.dispose()
    b.dispose()
  })

  it("threshold > 1: every sample reaches the deepest head and the predictions are the plain logits'", () => {
    const b = build(net, 4)
    const x = images([12, 8, 8, 1], 5)
    const r = Models.earlyExit(b, b.params, x, { threshold: 1.01 })
    expect([...r.exits]).toEqual(new Array(12).fill(2))
    const logits = tf.tidy(() => b.apply(b.params, x, { train: false }).logits)
    expect([...r.predictions]).toEqual(argmaxRows(logits))
    logits.dispose()
    x.dispose()
    b.dispose()
  })

  it("in between: each sample leaves at the first head (in order) confident enough", async () => {
    const b = build(net, 5)
    const x = images([32, 8, 8, 1], 6)
    const heads = tf.tidy(() => b.apply(b.params, x, { train: false }).heads)
    const order = ["exit1", "exit0", "logits"]
    const conf = order.map((h) => maxProbRows(heads[h]!))
    const pred = order.map((h) => argmaxRows(heads[h]!))
    // a threshold that splits the first head's samples
    const threshold = [...conf[0]!].sort((a, c) => a - c)[16]!
    const r = Models.earlyExit(b, b.params, x, { threshold })
    for (let i = 0; i < 32; i++) {
      let e = 0
      while (e < 2 && conf[e]![i]! < threshold) e++
      expect(r.exits[i]).toBe(e)
      expect(r.predictions[i]).toBe(pred[e]![i])
    }
    expect(new Set(r.exits).size).toBeGreaterThan(1)
    // the asynchronous read gives the same answer, and rejects as the synchronous one throws
    const before = tf.memory().numTensors
    const a = await Models.earlyExitAsync(b, b.params, x, { threshold, order })
    expect(tf.memory().numTensors).toBe(before)
    expect([...a.exits]).toEqual([...r.exits])
    expect([...a.predictions]).toEqual([...r.predictions])
    expect([...a.confidence]).toEqual([...r.confidence])
    await expect(Models.earlyExitAsync(b, b.params, x, { threshold: 0.5, order: ["exit7"] })).rejects.toThrow(
      ShapeError,
    )
    // an explicit order is followed
    const only = Models.earlyExit(b, b.params, x, { threshold: 0, order: ["logits", "exit0"] })
    expect([...only.predictions]).toEqual(pred[2])
    for (const t of Object.values(heads)) t.dispose()
    x.dispose()
    b.dispose()
  })

  it("rejects a head the model lacks, a repeated head, an empty order and a non-finite threshold", () => {
    const b = build(net)
    const x = images([2, 8, 8, 1])
    expect(() => Models.earlyExit(b, b.params, x, { threshold: 0.5, order: ["exit7"] })).toThrow(ShapeError)
    expect(() => Models.earlyExit(b, b.params, x, { threshold: 0.5, order: ["exit0", "exit0"] })).toThrow(
      ValidationError,
    )
    expect(() => Models.earlyExit(b, b.params, x, { threshold: 0.5, order: [] })).toThrow(ValidationError)
    expect(() => Models.earlyExit(b, b.params, x, { threshold: Number.NaN })).toThrow(ValidationError)
    x.dispose()
    b.dispose()
  })
})

describe("evaluateEarlyExit", () => {
  const split = () => {
    const n = 40
    const x = values(images([n, 8, 8, 1], 9))
    const y = Int32Array.from({ length: n }, (_, i) => (i * 7) % 10)
    return { x: Float32Array.from(x), y, n }
  }

  it("accuracy, mean exit and fractions per threshold; thresholds 0 and >1 give the first and the deepest head's accuracy", async () => {
    const b = build(net, 7)
    const s = split()
    const before = tf.memory().numTensors
    const r = await Effect.runPromise(
      Models.evaluateEarlyExit(b, b.params, s, { thresholds: [0, 0.15, 2], batchSize: 16 }),
    )
    expect(tf.memory().numTensors).toBe(before)
    expect(r.order).toEqual(["exit1", "exit0", "logits"])
    expect(r.n).toBe(40)
    const [zero, mid, all] = r.thresholds
    expect(zero!.accuracy).toBe(r.heads.exit1)
    expect(zero!.meanExit).toBe(0)
    expect(zero!.fractions).toEqual({ exit1: 1, exit0: 0, logits: 0 })
    expect(all!.accuracy).toBe(r.heads.logits)
    expect(all!.meanExit).toBe(2)
    expect(all!.fractions.logits).toBe(1)
    expect(Object.values(mid!.fractions).reduce((a, c) => a + c, 0)).toBeCloseTo(1, 10)
    // the same as earlyExit on the whole split, and independent of the batch size
    const x = tf.tensor4d(s.x, [40, 8, 8, 1])
    const direct = Models.earlyExit(b, b.params, x, { threshold: 0.15 })
    x.dispose()
    const acc = direct.predictions.reduce((a, p, i) => a + (p === s.y[i] ? 1 : 0), 0) / 40
    expect(mid!.accuracy).toBeCloseTo(acc, 10)
    expect(mid!.meanExit).toBeCloseTo(direct.exits.reduce((a, e) => a + e, 0) / 40, 10)
    const one = await Effect.runPromise(
      Models.evaluateEarlyExit(b, b.params, s, { thresholds: [0, 0.15, 2], batchSize: 500 }),
    )
    expect(one).toEqual(r)
    // a limit evaluates the first samples only
    const limited = await Effect.runPromise(
      Models.evaluateEarlyExit(b, b.params, s, { thresholds: [2], limit: 10 }),
    )
    expect(limited.n).toBe(10)
    b.dispose()
  })

  it("evaluates with the given batch-norm statistics", async () => {
    const b = build(net, 8)
    const s = split()
    const other = Models.Tree.clone(b.state, false)
    const xs = [tf.tensor4d(s.x, [40, 8, 8, 1])]
    Models.recomputeBatchNorm(b, b.params, xs, other)
    const withOwn = await Effect.runPromise(Models.evaluateEarlyExit(b, b.params, s, { thresholds: [2] }))
    const withOther = await Effect.runPromise(
      Models.evaluateEarlyExit(b, b.params, s, { thresholds: [2], state: other }),
    )
    const logits = tf.tidy(() => b.apply(b.params, xs[0]!, { train: false, state: other }).logits)
    const acc = argmaxRows(logits).reduce((a, p, i) => a + (p === s.y[i] ? 1 : 0), 0) / 40
    expect(withOther.thresholds[0]!.accuracy).toBeCloseTo(acc, 10)
    expect(withOther.heads).not.toEqual(withOwn.heads)
    logits.dispose()
    xs[0]!.dispose()
    Models.Tree.dispose(other)
    b.dispose()
  })

  it("fails with typed errors", async () => {
    const b = build(net)
    const s = split()
    const bad = await Effect.runPromiseExit(
      Models.evaluateEarlyExit(b, b.params, s, { thresholds: [Number.POSITIVE_INFINITY] }),
    )
    expect(Exit.isFailure(bad)).toBe(true)
    const err = <E>(e: Exit.Exit<unknown, E>) =>
      Exit.isFailure(e) ? Option.getOrUndefined(Cause.findErrorOption(e.cause)) : undefined
    expect(err(bad)).toBeInstanceOf(ValidationError)
    const head = await Effect.runPromiseExit(
      Models.evaluateEarlyExit(b, b.params, s, { thresholds: [0.5], order: ["nope"] }),
    )
    expect(err(head)).toBeInstanceOf(ShapeError)
    const short = await Effect.runPromiseExit(
      Models.evaluateEarlyExit(b, b.params, { ...s, n: 41 }, { thresholds: [0.5] }),
    )
    expect(err(short)).toBeInstanceOf(ShapeError)
    b.dispose()
  })
})
