import { join } from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Exit, Result } from "effect"
import * as fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { Codec, Learned, Loss, Model, Optimizer, Phase, Pipeline, Ramp, Step } from "../../../dsl/index.js"
import * as Learning from "../../../src/compile/learned.js"
import type * as Event from "../../../src/report/Event.js"
import * as Checkpoint from "../../../src/runtime/Checkpoint.js"
import { Interrupted, type RunOptions } from "../../../src/runtime/Run.js"
import { synthetic } from "../../support/data.js"
import { failure, runner, tmp } from "../../support/run.js"

const data = synthetic({ train: 256, test: 128 })

/** A teacher trained briefly, then a student distilled at a learned temperature T (look-ahead meta-update). */
const learnedT = (o: { readonly steps?: number; readonly every?: number } = {}) =>
  Pipeline.make({
    name: "learned-t",
    seed: 4,
    data: Pipeline.data("custom", { name: "synthetic" }),
    models: {
      teacher: Model.mlp({ hidden: [32], classes: 10 }),
      student: Model.mlp({ hidden: [16], classes: 10 }),
    },
    params: { T: Learned.positive(4, { min: 0.5 }) },
    phases: [
      Phase.make({
        name: "teacher",
        steps: 10,
        batchSize: 32,
        step: Step.start.pipe(
          Step.forward("teacher", { as: "t" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "t" }) }),
          Step.optimize("teacher", Optimizer.adam({ lr: 3e-3 })),
        ),
      }),
      Phase.make({
        name: "distil",
        steps: o.steps ?? 12,
        batchSize: 32,
        step: Step.start.pipe(
          Step.forward("teacher", { as: "t", mode: "frozen" }),
          Step.forward("student", { as: "s" }),
          Step.loss({ kd: Loss.kl({ teacher: "t", student: "s", temperature: Ramp.learned("T") }) }),
          Step.optimize("student", Optimizer.adam({ lr: 3e-3 }), {
            learn: Learned.lookahead("T", {
              optimizer: Optimizer.adam({ lr: 0.05 }),
              objective: Loss.crossEntropy({ logits: "s" }),
              lr: 0.5,
              every: o.every ?? 1,
            }),
          }),
        ),
      }),
    ],
  })

const run1 = runner(data)
const go = (p: Pipeline.Pipeline, options: RunOptions = {}, events: Array<Event.Event> = []) =>
  run1(p, { logEvery: 1, ...options }, events)

describe("learned hyper-parameters", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu")
  })

  it("value ∘ unconstrained is the identity inside each constraint", () => {
    fc.assert(
      fc.property(fc.double({ min: -5, max: 5, noNaN: true }), (u) => {
        for (const p of [
          Learned.real(1),
          Learned.positive(1, { min: 0.5 }),
          Learned.range(0.5, { min: -1, max: 3 }),
        ]) {
          const v = Learned.value(p, u)
          expect(Learned.unconstrained(p, v)).toBeCloseTo(u, 6)
          if (p.constraint._tag === "Positive") expect(v).toBeGreaterThan(p.constraint.min)
          if (p.constraint._tag === "Range") {
            expect(v).toBeGreaterThan(p.constraint.min)
            expect(v).toBeLessThan(p.constraint.max)
          }
        }
      }),
      { seed: 5, numRuns: 100 },
    )
    // the tensor value the step reads equals the host value
    const slot = Learning.create(Learned.positive(4, { min: 0.5 }))
    expect(Learning.currentValue(slot).dataSync()[0]).toBeCloseTo(4, 5)
    slot.variable.dispose()
  })

  it("validation names an undeclared learned parameter and a look-ahead of one", () => {
    const p = learnedT()
    const undeclared = { ...p, params: {} }
    const r = Codec.validate(undeclared)
    expect(Result.isFailure(r)).toBe(true)
    const messages = Result.isFailure(r) ? r.failure.issues.map((i) => i.message).join("\n") : ""
    expect(messages).toMatch(/unknown learned parameter "T"/)
    expect(Result.isSuccess(Codec.validate(p))).toBe(true)
    const back = Codec.fromJson(Codec.toJson(p))
    expect(Result.isSuccess(back) && back.success.params).toEqual(p.params)
  })

  it("the hypergradient is the exact gradient through one virtual SGD step on a quadratic (by hand)", () => {
    // inner(w, h) = ½‖w − h·a‖², outer(w) = ½‖w − c‖²: w' = w − η(w − h·a) and
    // d outer(w')/dh = η·aᵀ(w' − c); the mixed second derivative is −aᵀ, exact for a quadratic
    const a = [1, -2, 0.5]
    const c = [0.3, 0.1, -0.4]
    const w0 = [0.2, 0.7, -1.1]
    const eta = 0.3
    for (const h0 of [0.5, 1.5, -2]) {
      const w = tf.variable(tf.tensor1d(w0), true, "w-q")
      const h = tf.variable(tf.scalar(h0), true, "h-q")
      const at = tf.tensor1d(a)
      const ct = tf.tensor1d(c)
      const { value, grads } = Learning.hypergradient({
        weights: [w],
        hyper: [h],
        inner: () => tf.mul(0.5, tf.sum(tf.square(tf.sub(w, tf.mul(h, at))))) as tf.Scalar,
        outer: () => tf.mul(0.5, tf.sum(tf.square(tf.sub(w, ct)))) as tf.Scalar,
        lr: eta,
      })
      const wp = w0.map((wi, i) => wi - eta * (wi - h0 * a[i]!))
      const want = eta * a.reduce((s, ai, i) => s + ai * (wp[i]! - c[i]!), 0)
      const outer = 0.5 * wp.reduce((s, wi, i) => s + (wi - c[i]!) ** 2, 0)
      expect(grads[h.name]!.dataSync()[0]).toBeCloseTo(want, 4)
      expect(value.dataSync()[0]).toBeCloseTo(outer, 5)
      // the real weights are back where they were
      expect([...w.dataSync()]).toEqual([...Float32Array.from(w0)])
      tf.dispose([w, h, at, ct, value, ...Object.values(grads)])
    }
  })

  it("on a softmax model with a temperature, it matches the finite-difference derivative of the looked-ahead objective", () => {
    // inner = CE(softmax(xW/T), y₁) (the temperature the meta-update learns), outer = CE(softmax(xW), y₂)
    const x = tf.tensor2d([
      [1, 0.5, -0.3],
      [0.2, -1, 0.8],
      [-0.6, 0.4, 1.2],
      [0.9, 0.9, -0.1],
    ])
    const y1 = tf.oneHot(tf.tensor1d([0, 1, 2, 0], "int32"), 3)
    const y2 = tf.oneHot(tf.tensor1d([0, 2, 2, 1], "int32"), 3)
    const W0 = [
      [0.3, -0.2, 0.1],
      [0.05, 0.4, -0.3],
      [-0.25, 0.1, 0.2],
    ]
    const ce = (logits: tf.Tensor, y: tf.Tensor) =>
      tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1))) as tf.Scalar
    const eta = 0.5
    // F(T) = outer(W − η∇_W inner(W, T)), differentiated numerically (double-sided, step 1e-2)
    const F = (T: number) =>
      tf.tidy(() => {
        const W = tf.tensor2d(W0)
        const g = tf.grad((v: tf.Tensor) => ce(tf.div(tf.matMul(x, v as tf.Tensor2D), T), y1))(W)
        return ce(tf.matMul(x, tf.sub(W, tf.mul(g, eta)) as tf.Tensor2D), y2).dataSync()[0]!
      })
    for (const T0 of [0.7, 2, 4]) {
      const W = tf.variable(tf.tensor2d(W0), true, `W-${T0}`)
      const T = tf.variable(tf.scalar(T0), true, `T-${T0}`)
      const { value, grads } = Learning.hypergradient({
        weights: [W],
        hyper: [T],
        inner: () => ce(tf.div(tf.matMul(x, W), T), y1),
        outer: () => ce(tf.matMul(x, W), y2),
        lr: eta,
      })
      const d = 1e-2
      const want = (F(T0 + d) - F(T0 - d)) / (2 * d)
      const got = grads[T.name]!.dataSync()[0]!
      expect(Math.abs(got - want)).toBeLessThan(0.05 * Math.abs(want) + 2e-4)
      expect(Math.abs(want)).toBeGreaterThan(1e-3) // the case is not degenerate
      expect(value.dataSync()[0]).toBeCloseTo(F(T0), 4)
      tf.dispose([W, T, value, ...Object.values(grads)])
    }
    tf.dispose([x, y1, y2])
  })

  it("a run creates, trains, reports and checkpoints them; resuming continues exactly", async () => {
    const events: Array<Event.Event> = []
    const straight = tmp()
    const exit = await go(learnedT(), { outDir: straight }, events)
    expect(Exit.isSuccess(exit)).toBe(true)
    if (!Exit.isSuccess(exit)) return
    const steps = events.filter((e): e is Event.StepMetrics => e._tag === "StepMetrics")
    // reported on every distillation step as learned.T, from its initial 4; it moves
    const ts = steps.filter((s) => s.phase === "distil").map((s) => s.hyper["learned.T"]!)
    expect(ts).toHaveLength(12)
    expect(ts.every(Number.isFinite)).toBe(true)
    expect(Math.abs(ts[0]! - 4)).toBeLessThan(0.2)
    expect(new Set(ts.map((t) => t.toFixed(6))).size).toBeGreaterThan(5)
    expect(ts.every((t) => t > 0.5)).toBe(true) // the constraint holds
    // the teacher phase leaves it where it started (nothing learns it there)
    const [teacher, distil] = exit.value.phases
    expect(teacher!.metrics["learned/T"]).toBeCloseTo(4, 5)
    expect(distil!.metrics["learned/T"]).toBeCloseTo(ts.at(-1)!, 5)
    const snap = await Effect.runPromise(Checkpoint.load(join(straight, "learned-t", "checkpoint.bin")))
    const u = snap.tensors.get("learned/T")!.values[0]!
    expect(Learned.value(Learned.positive(4, { min: 0.5 }), u)).toBeCloseTo(distil!.metrics["learned/T"]!, 5)
    expect([...snap.tensors.keys()].some((k) => k.startsWith("optimizer/1/") && k.includes("learn"))).toBe(
      true,
    )

    // stopped in the middle of the distillation and resumed: the same T and the same student
    const split = tmp()
    const first = await go(learnedT(), { outDir: split, stopAfter: 10 + 5 })
    expect(failure(first)).toBeInstanceOf(Interrupted)
    const second = await go(learnedT(), { resume: join(split, "learned-t") })
    expect(Exit.isSuccess(second)).toBe(true)
    const b = await Effect.runPromise(Checkpoint.load(join(split, "learned-t", "checkpoint.bin")))
    for (const key of ["learned/T", "model/student/params/dense0/kernel"])
      expect(Buffer.from(b.tensors.get(key)!.values.buffer)).toEqual(
        Buffer.from(snap.tensors.get(key)!.values.buffer),
      )
  }, 60_000)
})
