import { Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { Codec, Model, Ramp } from "../../dsl/index.js"
import bnext, { make, temperature } from "../../pipelines/bnext.js"
import { expectFiniteLosses, observe, ofTag, shrink, tiny, useWasm, valid } from "./support.js"

describe("bnext recipe", () => {
  beforeAll(useWasm)

  it("validates and round-trips, with either weighting; the KD phase reads both frozen teachers", () => {
    valid(bnext)
    for (const weighting of ["softmax-loss", "mean"] as const) {
      const p = valid(make({ weighting, seed: 3 }))
      const back = Codec.fromJson(Codec.toJson(p))
      expect(Result.isSuccess(back) && back.success).toEqual(p)
    }
    expect(bnext.phases.map((p) => p.name)).toEqual([
      "teacher-cnn",
      "teacher-mlp",
      "binary-kd",
      "binary",
      "float",
    ])
    const kd = bnext.phases[2]!.step.stages
    expect(
      kd
        .filter((s) => s._tag === "Forward" && s.mode === "frozen")
        .map((s) => (s as { model: string }).model),
    ).toEqual(["teacherCnn", "teacherMlp"])
    expect(kd.find((s) => s._tag === "Loss")).toMatchObject({
      terms: { kd: { _tag: "MultiTeacher", weighting: "softmax-loss" } },
    })
    // the two binary students are binarised (weights and activations), the float twin is not
    expect(bnext.models.binaryKd).toMatchObject({ _tag: "Binary", binarizeActivations: true })
    expect(bnext.models.binary).toEqual(bnext.models.binaryKd)
    expect(bnext.models.float!._tag).toBe("Cnn")
  })

  it("the straight-through temperature falls ×0.9 per epoch (BNext), constant within an epoch", () => {
    const tau = temperature()
    const at = (epoch: number, step = 0) => Ramp.evaluate(tau, { step, epoch, progress: 0 })
    expect(at(0)).toBeCloseTo(1, 12)
    expect(at(0, 50)).toBeCloseTo(1, 12)
    expect(at(1)).toBeCloseTo(0.9, 12)
    expect(at(3)).toBeCloseTo(0.729, 12)
    expect(
      Ramp.evaluate(temperature({ binaryTemperature: 2, decay: 0.5 }), { step: 0, epoch: 2, progress: 0 }),
    ).toBeCloseTo(0.5, 12)
  })

  it("trains every phase end to end on tiny models; the multi-teacher term is the KD phase's whole loss", async () => {
    const student = Model.binary(tiny.cnn({ batchNorm: true }), {
      binarizeActivations: true,
      temperature: temperature(),
    })
    const p = shrink(make({ studentEpochs: 1, teacherEpochs: 1, limit: 64, cropPad: 2 }), {
      teacherCnn: tiny.cnn(),
      teacherMlp: tiny.mlp(),
      binaryKd: student,
      binary: student,
      float: tiny.cnn({ batchNorm: true }),
    })
    const o = await observe(valid(p), { maxSteps: 3 })
    expectFiniteLosses(o.events)
    const kdSteps = ofTag(o.events, "StepMetrics").filter((s) => s.phase === "binary-kd")
    expect(kdSteps.length).toBeGreaterThan(0)
    for (const s of kdSteps) {
      expect(Object.keys(s.terms)).toEqual(["loss.kd"])
      expect(s.loss).toBeCloseTo(s.terms["loss.kd"]!, 5)
      // a cross-entropy against soft targets over 10 classes: positive, and not absurd
      expect(s.loss).toBeGreaterThan(0)
      expect(s.loss).toBeLessThan(10)
    }
    expect(ofTag(o.events, "PhaseFinished").map((e) => e.phase)).toEqual([
      "teacher-cnn",
      "teacher-mlp",
      "binary-kd",
      "binary",
      "float",
    ])
    const m = o.phases.find((ph) => ph.phase === "binary-kd")!.metrics
    for (const k of ["accuracy", "nll"]) expect(Number.isFinite(m[`test/binaryKd/${k}`])).toBe(true)
  }, 60_000)
})
