import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-backend-cpu"
import "../../../src/backend/gradients.js"
import { Effect, Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Model from "../../../dsl/Model.js"
import * as Models from "../../../src/models/index.js"
import { Direction, Landscape, Objective, Report, Samples, Vector } from "../../../src/probes/index.js"
import { synthetic } from "../../support/data.js"

const data = synthetic({ train: 96, test: 32, seed: 4 })
let built: Models.Built
let other: Models.Built
let samples: Samples.Samples

beforeAll(async () => {
  tf.env().set("IS_TEST", false)
  await tf.setBackend("cpu")
  built = Effect.runSync(Models.build(Model.mlp({ hidden: [8], classes: 10 }), { seed: 1 }))
  other = Effect.runSync(Models.build(Model.mlp({ hidden: [8], classes: 10 }), { seed: 2 }))
  samples = Effect.runSync(Samples.make(data, { samples: 80, batchSize: 32 }))
})
afterAll(() => {
  samples.dispose()
  built.dispose()
  other.dispose()
})

const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)

describe("Samples", () => {
  it("a deterministic subset, in batches", () => {
    expect(samples.n).toBe(80)
    expect(samples.batches.map((b) => b.x.shape[0])).toEqual([32, 32, 16])
    const again = Effect.runSync(Samples.make(data, { samples: 80, batchSize: 32 }))
    expect(Array.from(again.batches[0]!.labels.dataSync())).toEqual(
      Array.from(samples.batches[0]!.labels.dataSync()),
    )
    const another = Effect.runSync(Samples.make(data, { samples: 80, batchSize: 32, seed: 9 }))
    expect(Array.from(another.batches[0]!.labels.dataSync())).not.toEqual(
      Array.from(samples.batches[0]!.labels.dataSync()),
    )
    again.dispose()
    another.dispose()
    expect(Samples.indices(5, 10, 0)).toEqual(Int32Array.of(0, 1, 2, 3, 4))
  })

  it("a missing split is a DataError", () => {
    const exit = Effect.runSyncExit(Samples.make(data, { split: "validation" }))
    expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(/no validation split/)
  })
})

describe("Vector and Direction", () => {
  it("combine, axpy, dot and norm work leaf by leaf", () => {
    const a = Vector.fromTree({
      w: tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
      b: tf.tensor1d([1, 0]),
    })
    const b = Vector.fromTree({
      b: tf.tensor1d([0, 1]),
      w: tf.tensor2d([
        [0, 0],
        [0, 1],
      ]),
    })
    tf.tidy(() => {
      expect(Vector.dot(a, b).dataSync()[0]).toBe(4)
      expect(Vector.norm(a).dataSync()[0]).toBeCloseTo(Math.sqrt(31), 5)
      const c = Vector.combine([
        [2, a],
        [-1, b],
      ])
      expect(c.paths).toEqual(["w", "b"])
      expect(Array.from(c.tensors[0]!.dataSync())).toEqual([2, 4, 6, 7])
      expect(Array.from(Vector.axpy(a, 3, b).tensors[1]!.dataSync())).toEqual([1, 3])
    })
    expect(() => Vector.checkSame(a, Vector.fromTree({ w: tf.zeros([2, 3]), b: tf.zeros([2]) }))).toThrow(
      /\[2, 2\] vs \[2, 3\]/,
    )
    Vector.dispose(a)
    Vector.dispose(b)
  })

  it("filter normalisation: each filter of the direction has the norm of θ's filter; vectors zeroed", () => {
    const theta = Vector.fromTree({
      conv: { kernel: tf.randomNormal([3, 3, 2, 5], 0, 0.3, "float32", 1), bias: tf.ones([5]) },
      dense: { kernel: tf.randomUniform([6, 4], -2, 2, "float32", 2), bias: tf.ones([4]) },
      ln: { gamma: tf.ones([4]) },
    })
    tf.tidy(() => {
      const d = Direction.make(theta, { seed: 5 })
      d.paths.forEach((_p, i) => {
        const t = d.tensors[i]!
        const w = theta.tensors[i]!
        if (t.rank <= 1) expect(Array.from(t.dataSync()).every((v) => v === 0)).toBe(true)
        else {
          const a = Array.from(Direction.filterNorms(t).dataSync())
          const b = Array.from(Direction.filterNorms(w).dataSync())
          expect(a.length).toBe(w.shape.at(-1))
          for (const [j, v] of a.entries()) expect(v).toBeCloseTo(b[j]!, 4)
        }
      })
      const layer = Direction.make(theta, { seed: 5, normalization: "layer", vectors: "copy" })
      expect(tf.norm(layer.tensors[0]!).dataSync()[0]).toBeCloseTo(
        tf.norm(theta.tensors[0]!).dataSync()[0]!,
        4,
      )
      expect(Array.from(layer.tensors[1]!.dataSync())).toEqual([1, 1, 1, 1, 1])
      // same seed, same direction; another seed, another
      expect(Array.from(Direction.make(theta, { seed: 5 }).tensors[0]!.dataSync())).toEqual(
        Array.from(d.tensors[0]!.dataSync()),
      )
      expect(Array.from(Direction.make(theta, { seed: 6 }).tensors[0]!.dataSync())).not.toEqual(
        Array.from(d.tensors[0]!.dataSync()),
      )
    })
    Vector.dispose(theta)
  })
})

describe("lossOn", () => {
  it("is the mean cross-entropy and accuracy over the samples", async () => {
    const v = await run(Objective.lossOn(built, built.params, samples))
    const expected = tf.tidy(() => {
      const xs = tf.concat(samples.batches.map((b) => b.x))
      const ys = tf.concat(samples.batches.map((b) => b.oneHot))
      const logits = built.apply(built.params, xs, { train: false }).logits
      const acc = tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(ys, 1)), "float32"))
      return [tf.losses.softmaxCrossEntropy(ys, logits).dataSync()[0]!, acc.dataSync()[0]!]
    })
    expect(v.n).toBe(80)
    expect(v.loss).toBeCloseTo(expected[0]!, 5)
    expect(v.accuracy).toBeCloseTo(expected[1]!, 6)
    const firstBatch = await run(Objective.lossOn(built, built.params, samples, { batches: 1 }))
    expect(firstBatch.n).toBe(32)
  })

  it("takes a data set too, and checks the head", async () => {
    const v = await run(Objective.lossOn(built, built.params, data, { samples: 80, batchSize: 32 }))
    expect(v.loss).toBeCloseTo((await run(Objective.lossOn(built, built.params, samples))).loss, 6)
    const bad = await Effect.runPromiseExit(Objective.lossOn(built, built.params, samples, { head: "dist" }))
    expect(Exit.isFailure(bad) && String(bad.cause)).toMatch(/no head "dist"/)
  })
})

describe("interpolate1d", () => {
  it("α = 0 and α = 1 are lossOn(θa) and lossOn(θb); the record is JSON data", async () => {
    const r = await run(
      Landscape.interpolate1d(built, other.params, built.params, samples, {
        endpoints: ["b2", "b1"],
        model: "mlp",
      }),
    )
    expect(r.points.map((p) => p.alpha)).toEqual(Landscape.linspace(-0.5, 1.5, 21))
    const a = await run(Objective.lossOn(built, other.params, samples))
    const b = await run(Objective.lossOn(built, built.params, samples))
    const at = (alpha: number) => r.points.find((p) => p.alpha === alpha)!
    expect(at(0).loss).toBeCloseTo(a.loss, 6)
    expect(at(1).loss).toBeCloseTo(b.loss, 6)
    expect(at(1).accuracy).toBe(b.accuracy)
    expect(JSON.parse(JSON.stringify(r))).toEqual(r)
    expect(r).toMatchObject({
      kind: "interpolate",
      model: "mlp",
      endpoints: ["b2", "b1"],
      range: [-0.5, 1.5],
    })
    expect(Report.barrier(r)).toBeGreaterThanOrEqual(0)
  })

  it("rejects trees of another shape", async () => {
    const small = Effect.runSync(Models.build(Model.mlp({ hidden: [4], classes: 10 }), { seed: 1 }))
    const exit = await Effect.runPromiseExit(
      Landscape.interpolate1d(built, small.params, built.params, samples),
    )
    expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(/ShapeError|parameter trees differ/)
    small.dispose()
  })
})

describe("slice2d", () => {
  it("the grid centre is the loss at θ; same seed same grid, another seed another", async () => {
    const s = await run(
      Landscape.slice2d(built, built.params, samples, { steps: 5, range: 0.5, seed: 3, model: "mlp" }),
    )
    const at = await run(Objective.lossOn(built, built.params, samples))
    expect(s.x).toEqual([-0.5, -0.25, 0, 0.25, 0.5])
    expect(s.grid.loss[2]![2]).toBeCloseTo(at.loss, 6)
    expect(s.center.loss).toBe(s.grid.loss[2]![2])
    expect(s.grid.loss.length).toBe(5)
    expect(s.grid.loss.every((row) => row.length === 5 && row.every(Number.isFinite))).toBe(true)
    // a minimum-free random init still rises away from θ somewhere
    expect(Math.max(...s.grid.loss.flat())).toBeGreaterThan(at.loss)
    const again = await run(
      Landscape.slice2d(built, built.params, samples, { steps: 5, range: 0.5, seed: 3 }),
    )
    expect(again.grid).toEqual(s.grid)
    const other = await run(
      Landscape.slice2d(built, built.params, samples, { steps: 5, range: 0.5, seed: 4 }),
    )
    expect(other.grid.loss).not.toEqual(s.grid.loss)
    expect(other.grid.loss[2]![2]).toBe(s.grid.loss[2]![2])
  })

  it("accepts its own directions", async () => {
    const d1 = Models.Tree.map(built.params, (t) => tf.zerosLike(t))
    const s = await run(Landscape.slice2d(built, built.params, samples, { steps: 3, directions: [d1, d1] }))
    const flat = s.grid.loss.flat()
    expect(flat.every((v) => v === flat[0])).toBe(true)
    expect(s.normalization).toBe("given")
    Models.Tree.dispose(d1)
  })
})

describe("memory and files", () => {
  it("no tensor leaks (samples given or chosen here)", async () => {
    await run(Landscape.slice2d(built, built.params, samples, { steps: 3 })) // warm-up
    const before = tf.memory().numTensors
    await run(Objective.lossOn(built, built.params, samples))
    await run(Objective.lossOn(built, built.params, data, { samples: 40 }))
    await run(
      Landscape.interpolate1d(built, other.params, built.params, samples, {
        points: 3,
        states: [other.state, built.state],
      }),
    )
    await run(Landscape.slice2d(built, built.params, samples, { steps: 3 }))
    await run(Landscape.slice2d(built, built.params, data, { steps: 3, samples: 40 }))
    await Effect.runPromiseExit(Objective.lossOn(built, built.params, samples, { head: "nope" }))
    expect(tf.memory().numTensors).toBe(before)
  })

  it("writes JSON, SVG and PNG under <dir>/probes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "retort-probe-"))
    const line = await run(
      Landscape.interpolate1d(built, other.params, built.params, samples, {
        points: 5,
        endpoints: ["init", "final"],
        model: "mlp",
      }),
    )
    const files = await run(Report.write(dir, line))
    expect(files.map((f) => f.slice(dir.length))).toEqual([
      "/probes/interpolate-init-final.json",
      "/probes/interpolate-init-final.svg",
      "/probes/interpolate-init-final.png",
    ])
    expect(JSON.parse(readFileSync(files[0]!, "utf8"))).toEqual(line)
    expect(readFileSync(files[1]!, "utf8")).toMatch(/^<svg[\s\S]*cross-entropy[\s\S]*<\/svg>$/)
    const slice = await run(Landscape.slice2d(built, built.params, samples, { steps: 3, model: "mlp" }))
    const more = await run(Report.write(dir, slice, { png: false }))
    expect(more.map((f) => f.slice(dir.length))).toEqual(["/probes/slice-mlp.json", "/probes/slice-mlp.svg"])
    expect(existsSync(join(dir, "probes", "slice-mlp.png"))).toBe(false)
    expect(Report.summary(slice)).toMatch(/^slice mlp: loss [\d.]+ at θ/)
    expect(Report.summary(line)).toMatch(/^interpolate mlp: init → final: loss/)
  })
})
