import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Exit } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { Loss, Model, Optimizer, Phase, Pipeline, Ramp, Step } from "../../../dsl/index.js"
import * as State from "../../../src/compile/state.js"
import * as CompiledStep from "../../../src/compile/step.js"
import * as Models from "../../../src/models/index.js"
import type * as Event from "../../../src/report/Event.js"
import { Reporter } from "../../../src/report/Reporter.js"
import * as Checkpoint from "../../../src/runtime/Checkpoint.js"
import { Interrupted, run } from "../../../src/runtime/Run.js"
import { synthetic } from "../../support/data.js"
import { failure, runner, tmp } from "../../support/run.js"

const data = synthetic({ train: 256, test: 128 })

const mlp = (hidden = 32) => Model.mlp({ hidden: [hidden], classes: 10 })
const tinyCnn = Model.cnn({ conv: [{ filters: 4 }], dense: [16], classes: 10 })

const kdPipeline = (o: { seed?: number; steps?: number; lr?: Ramp.Num } = {}) =>
  Pipeline.make({
    name: "kd-test",
    seed: o.seed ?? 3,
    data: Pipeline.data("custom", { name: "synthetic" }),
    models: { teacher: mlp(64), student: mlp(16) },
    phases: [
      Phase.make({
        name: "teacher",
        steps: o.steps ?? 16,
        batchSize: 32,
        step: Step.start.pipe(
          Step.forward("teacher", { as: "t" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "t" }) }),
          Step.optimize("teacher", Optimizer.adam({ lr: o.lr ?? 3e-3 })),
        ),
      }),
      Phase.make({
        name: "distil",
        steps: o.steps ?? 16,
        batchSize: 32,
        step: Step.start.pipe(
          Step.forward("teacher", { as: "t", mode: "frozen" }),
          Step.forward("student", { as: "s" }),
          Step.loss(
            {
              ce: Loss.crossEntropy({ logits: "s" }),
              kd: Loss.kl({ teacher: "t", student: "s", temperature: 4 }),
            },
            { weights: { ce: 0.1, kd: 0.9 } },
          ),
          Step.optimize("student", Optimizer.adam({ lr: o.lr ?? 3e-3 })),
        ),
        evaluate: Phase.evaluate({
          models: ["student"],
          metrics: ["accuracy", "agreement"],
          reference: "teacher",
        }),
      }),
    ],
  })

const go = runner(data)

describe("run (cpu backend)", () => {
  it("trains a two-phase distillation pipeline and reports events", async () => {
    const events: Array<Event.Event> = []
    const exit = await go(kdPipeline({ steps: 40 }), { logEvery: 10 }, events)
    expect(Exit.isSuccess(exit)).toBe(true)
    if (!Exit.isSuccess(exit)) return
    const r = exit.value
    expect(r.phases.map((p) => p.phase)).toEqual(["teacher", "distil"])
    expect(r.phases[0]!.metrics["test/teacher/accuracy"]).toBeGreaterThan(0.5)
    expect(r.phases[1]!.metrics["test/student/accuracy"]).toBeGreaterThan(0.3)
    expect(r.phases[1]!.metrics["test/student/agreement"]).toBeGreaterThan(0.3)
    const tags = new Set(events.map((e) => e._tag))
    for (const t of [
      "RunStarted",
      "PhaseStarted",
      "StepMetrics",
      "EvalResult",
      "PhaseFinished",
      "Checkpointed",
      "RunFinished",
    ])
      expect(tags).toContain(t)
    const steps = events.filter(
      (e): e is Event.StepMetrics => e._tag === "StepMetrics" && e.phase === "teacher",
    )
    expect(steps.at(-1)!.loss).toBeLessThan(steps[0]!.loss)
    expect(existsSync(join(r.dir, "events.jsonl"))).toBe(false) // memory reporter replaces the JSONL one
    expect(existsSync(join(r.dir, "checkpoint.bin"))).toBe(true)
    expect(JSON.parse(readFileSync(join(r.dir, "pipeline.json"), "utf8")).name).toBe("kd-test")
  })

  it("the same seed gives the same run; another seed another", async () => {
    const params = async (seed: number) => {
      const out = tmp()
      const exit = await go(kdPipeline({ seed, steps: 8 }), { outDir: out })
      expect(Exit.isSuccess(exit)).toBe(true)
      const snap = await Effect.runPromise(Checkpoint.load(join(out, "kd-test", "checkpoint.bin")))
      return [...snap.tensors.get("model/student/params/dense0/kernel")!.values]
    }
    const a = await params(5)
    const b = await params(5)
    const c = await params(6)
    expect(a).toEqual(b)
    expect(a).not.toEqual(c)
  })

  it("resuming continues exactly: 2k steps straight = k + resume + k (bitwise on cpu)", async () => {
    const k = 12
    const straight = tmp()
    expect(Exit.isSuccess(await go(kdPipeline({ steps: k }), { outDir: straight }))).toBe(true)
    const split = tmp()
    const first = await go(kdPipeline({ steps: k }), { outDir: split, stopAfter: k + 5 })
    expect(failure(first)).toBeInstanceOf(Interrupted)
    const dir = join(split, "kd-test")
    const second = await go(kdPipeline({ steps: 1 }), { resume: dir })
    expect(Exit.isSuccess(second)).toBe(true)
    const a = await Effect.runPromise(Checkpoint.load(join(straight, "kd-test", "checkpoint.bin")))
    const b = await Effect.runPromise(Checkpoint.load(join(dir, "checkpoint.bin")))
    const keys = [...a.tensors.keys()].filter((t) => t.startsWith("model/") || t.startsWith("optimizer/"))
    expect(keys.length).toBeGreaterThan(10)
    expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort())
    for (const key of keys)
      expect(Buffer.from(b.tensors.get(key)!.values.buffer)).toEqual(
        Buffer.from(a.tensors.get(key)!.values.buffer),
      )
  })

  it("an aborted signal writes a checkpoint and fails with Interrupted", async () => {
    const controller = new AbortController()
    controller.abort()
    const out = tmp()
    const exit = await go(kdPipeline(), { outDir: out, signal: controller.signal })
    const e = failure(exit)
    expect(e).toBeInstanceOf(Interrupted)
    expect(existsSync(join(out, "kd-test", "checkpoint.bin"))).toBe(true)
  })

  it("a NaN loss stops the run with a clear error naming the last good checkpoint", async () => {
    const p = kdPipeline({
      steps: 40,
      lr: Ramp.piecewise({
        points: [
          [0, 1e-3],
          [0.5, 1e-3],
          [0.5001, 1e30],
        ],
        unit: "progress",
        interpolate: "hold",
      }),
    })
    const out = tmp()
    const exit = await go(p, { outDir: out, logEvery: 1, checkpointEvery: 10 })
    const e = failure(exit) as { _tag: string; message: string; checkpoint?: string }
    expect(e?._tag).toBe("TrainingError")
    expect(e.message).toMatch(/the loss became (NaN|Infinity|-Infinity)/)
    expect(e.checkpoint).toBe(join(out, "kd-test", "checkpoint.bin"))
    expect(existsSync(e.checkpoint!)).toBe(true)
  })
})

describe("errors before training", () => {
  const noSteps = (events: Array<Event.Event>) => events.filter((e) => e._tag === "StepMetrics").length
  it("an unknown backend", async () => {
    const events: Array<Event.Event> = []
    const e = failure(await go(kdPipeline(), { backend: "quantum" }, events)) as {
      _tag: string
      message: string
    }
    expect(e._tag).toBe("BackendError")
    expect(e.message).toMatch(/wasm/)
    expect(noSteps(events)).toBe(0)
  })
  it("custom data that was not given", async () => {
    const events: Array<Event.Event> = []
    const exit = await Effect.runPromiseExit(
      run(kdPipeline(), { backend: "cpu", outDir: tmp(), reporter: Reporter.memory(events) }),
    )
    const e = failure(exit) as { _tag: string; message: string; hint?: string }
    expect(e._tag).toBe("DataError")
    expect(e.hint).toMatch(/data/)
    expect(noSteps(events)).toBe(0)
  })
  it("a class-count mismatch between models and data", async () => {
    const p = {
      ...kdPipeline(),
      models: {
        teacher: Model.mlp({ hidden: [8], classes: 7 }),
        student: Model.mlp({ hidden: [8], classes: 7 }),
      },
    }
    const e = failure(await go(p)) as {
      _tag: string
      issues: ReadonlyArray<{ path: string; message: string }>
    }
    expect(e._tag).toBe("ValidationError")
    expect(e.issues[0]!.message).toMatch(/7 classes but synthetic has 10/)
  })
  it("an unwritable output directory", async () => {
    // A path under a regular file cannot be created, even by root (CI runs as root).
    const file = join(tmp(), "a-file")
    writeFileSync(file, "")
    const e = failure(await go(kdPipeline(), { outDir: join(file, "runs") })) as {
      _tag: string
      message: string
    }
    expect(e._tag).toBe("IoError")
    expect(e.message).toMatch(/not writable/)
  })
  it("an invalid pipeline, with every problem", async () => {
    const p = kdPipeline()
    const bad = {
      ...p,
      phases: [{ ...p.phases[1]!, epochs: -1, steps: undefined } as unknown as Phase.Phase],
    }
    const e = failure(await go(bad)) as { _tag: string; issues: ReadonlyArray<unknown> }
    expect(e._tag).toBe("ValidationError")
  })
})

describe("compiled step", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu")
  })
  const build = (state: State.TrainState, name: string, m: Model.Model, seed: number) => {
    const built = Effect.runSync(Models.build(m, { seed }))
    state.models.set(name, { name, built, params: built.params, state: built.state })
  }
  const batch = () => {
    const n = 16
    return {
      x: tf.tensor4d(data.train.x.subarray(0, n * 784), [n, 28, 28, 1]),
      labels: tf.tensor1d(data.train.y.subarray(0, n), "int32"),
    }
  }

  it("200 KD steps leave tf.memory().numTensors unchanged", () => {
    const state = State.empty()
    build(state, "teacher", tinyCnn, 1)
    build(state, "student", mlp(16), 2)
    const p = kdPipeline().phases[1]!
    const step = CompiledStep.compile(p, 0, state, 10)
    const b = batch()
    const ctx = (i: number) => ({
      clock: { step: i, epoch: i / 10, progress: i / 200 },
      seed: i + 1,
      endOfEpoch: false,
      metrics: i % 10 === 0,
    })
    const first = step.run(b, ctx(0)) // creates the optimiser state
    for (const t of Object.values(first.losses)) t.dispose()
    const before = tf.memory().numTensors
    for (let i = 1; i <= 200; i++) {
      const r = step.run(b, ctx(i))
      for (const t of new Set(Object.values(r.losses))) t.dispose()
    }
    expect(tf.memory().numTensors).toBe(before)
    b.x.dispose()
    b.labels.dispose()
  })

  it("stages on disjoint names commute: swapping two frozen forwards gives the same loss", async () => {
    const make = (order: "ab" | "ba") => {
      const fa = Step.forward("t1", { as: "a", mode: "frozen" })
      const fb = Step.forward("t2", { as: "b", mode: "frozen" })
      const head = order === "ab" ? Step.start.pipe(fa, fb) : Step.start.pipe(fb, fa)
      return Phase.make({
        name: "p",
        steps: 1,
        step: head.pipe(
          Step.forward("s", { as: "s" }),
          Step.loss({
            ka: Loss.kl({ teacher: "a", student: "s" }),
            kb: Loss.kl({ teacher: "b", student: "s", temperature: 2 }),
          }),
          Step.optimize("s", Optimizer.sgd({ lr: 0.1 })),
        ),
      })
    }
    const losses: Array<number> = []
    for (const order of ["ab", "ba"] as const) {
      const state = State.empty()
      build(state, "t1", mlp(8), 1)
      build(state, "t2", mlp(8), 2)
      build(state, "s", mlp(8), 3)
      const b = batch()
      const r = CompiledStep.compile(make(order), 0, state, 10).run(b, {
        clock: { step: 0, epoch: 0, progress: 0 },
        seed: 9,
        endOfEpoch: false,
        metrics: true,
      })
      losses.push((await r.losses.loss!.data())[0]!)
      const w = await Models.Tree.flatten(state.models.get("s")!.params)["dense0/kernel"]!.data()
      losses.push(w[0]!)
    }
    expect(losses[0]).toBe(losses[2])
    expect(losses[1]).toBe(losses[3])
  })
})
