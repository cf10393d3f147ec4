import { Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { Codec, Model, Step } from "../../dsl/index.js"
import cudfkd, { dataFreeStep, make } from "../../pipelines/cudfkd.js"
import {
  expectFiniteLosses,
  maxDiff,
  observe,
  ofTag,
  paramsOf,
  shrink,
  tiny,
  useWasm,
  valid,
} from "./support.js"

describe("cudfkd recipe", () => {
  beforeAll(useWasm)

  it("validates and round-trips through JSON and YAML; the data-free step reads no batch", () => {
    valid(cudfkd)
    const p = valid(make({ seed: 3, epochs: 2, samples: 1000, lambda: { from: 1, to: 5 } }))
    const back = Codec.fromJson(Codec.toJson(p))
    expect(Result.isSuccess(back) && back.success).toEqual(p)
    const yaml = Codec.fromYaml(Codec.toYaml(p))
    expect(Result.isSuccess(yaml) && yaml.success).toEqual(p)
    expect(cudfkd.phases.map((ph) => ph.name)).toEqual([
      "teacher",
      "data-free",
      "real",
      "untrained-generator",
    ])
    expect(make({ ablation: false }).phases.map((ph) => ph.name)).toEqual(["teacher", "data-free", "real"])
    expect(Step.readsBatch(cudfkd.phases[3]!.step)).toBe(false)
    // the ablation's generator is never optimised
    expect(
      cudfkd.phases.flatMap((ph) => ph.step.stages.flatMap((s) => (s._tag === "Optimize" ? s.models : []))),
    ).toEqual(["teacher", "generator", "student", "realStudent", "noiseStudent"])
    expect(Step.readsBatch(dataFreeStep())).toBe(false)
    expect(Step.readsBatch(cudfkd.phases[0]!.step)).toBe(true)
    expect(Step.readsBatch(cudfkd.phases[2]!.step)).toBe(true)
    const stages = cudfkd.phases[1]!.step.stages
    // the generator update sees teacher and student differentiable; the student update does not
    const opt = stages.flatMap((s, i) => (s._tag === "Optimize" ? [{ i, models: s.models }] : []))
    expect(opt.map((o) => o.models)).toEqual([["generator"], ["student"]])
    const modes = (from: number, to: number) =>
      stages.slice(from, to).flatMap((s) => (s._tag === "Forward" ? [`${s.model}:${s.mode}`] : []))
    expect(modes(0, opt[0]!.i)).toEqual(["generator:train", "teacher:eval", "student:eval"])
    expect(modes(opt[0]!.i, opt[1]!.i)).toEqual(["generator:frozen", "teacher:frozen", "student:train"])
    expect(cudfkd.models.teacher).toMatchObject({ _tag: "Cnn", batchNorm: true })
  })

  it("trains every phase on tiny models: the generator and the student both move, the teacher does not", async () => {
    const p = shrink(make({ epochs: 1, samples: 32, teacherEpochs: 1, latent: 8, width: 4 }), {
      teacher: tiny.cnn({ batchNorm: true }),
      student: tiny.cnn(),
      realStudent: tiny.cnn(),
      noiseStudent: tiny.cnn(),
      generator: Model.generator({ latent: 8, width: 4, output: [28, 28, 1] }),
      untrainedGenerator: Model.generator({ latent: 8, width: 4, output: [28, 28, 1] }),
    })
    const o = await observe(valid(p), { snapshots: true })
    expectFiniteLosses(o.events)
    const steps = ofTag(o.events, "StepMetrics").filter((s) => s.phase === "data-free")
    // 32 generated samples per epoch at batch 16: two steps
    expect(steps.length).toBe(2)
    for (const s of steps) {
      expect(Object.keys(s.terms).sort()).toEqual(
        ["loss.kd", "lossG", "lossG.adversarial", "lossG.balance", "lossG.bn", "lossG.oneHot"].sort(),
      )
      expect(s.terms["lossG.balance"]!).toBeGreaterThanOrEqual(-1e-6)
      expect(s.terms["lossG.adversarial"]!).toBeLessThanOrEqual(1e-6)
      expect(s.terms["lossG.bn"]!).toBeGreaterThan(0)
    }
    const ends = o.snapshots.filter((s) => s.phaseEnd)
    const afterTeacher = ends[0]!.tensors
    const df = o.snapshots.filter((s) => s.phase === "data-free" && !s.phaseEnd)
    // a checkpoint after step 1; the last step's state is the phase-end checkpoint's
    expect(df.map((s) => s.step)).toEqual([1])
    const [first, second] = [df[0]!.tensors, ends[1]!.tensors]
    // the teacher (parameters and batch-norm statistics) is untouched by the data-free phase
    expect(maxDiff(paramsOf(afterTeacher, "teacher"), paramsOf(second, "teacher"))).toBe(0)
    expect(maxDiff(paramsOf(afterTeacher, "teacher", "state"), paramsOf(second, "teacher", "state"))).toBe(0)
    // the generator and the student each take a step
    expect(maxDiff(paramsOf(first, "generator"), paramsOf(second, "generator"))).toBeGreaterThan(0)
    expect(maxDiff(paramsOf(first, "student"), paramsOf(second, "student"))).toBeGreaterThan(0)
    const m = o.phases.find((ph) => ph.phase === "data-free")!.metrics
    for (const k of ["accuracy", "nll", "agreement"])
      expect(Number.isFinite(m[`test/student/${k}`])).toBe(true)
    expect(
      Number.isFinite(o.phases.find((ph) => ph.phase === "real")!.metrics["test/realStudent/accuracy"]),
    ).toBe(true)
  }, 120_000)
})
