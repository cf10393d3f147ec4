import { Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { Codec, Model } from "../../dsl/index.js"
import tinymim, { make } from "../../pipelines/tinymim.js"
import { expectFiniteLosses, observe, ofTag, shrink, useWasm, valid } from "./support.js"

const phases = [
  "teacher",
  "relation-distil",
  "relation",
  "feature-distil",
  "feature",
  "logit-distil",
  "logit",
  "labels",
]

describe("tinymim recipe", () => {
  beforeAll(useWasm)

  it("validates and round-trips; each distillation phase reads the frozen teacher's intermediate block", () => {
    valid(tinymim)
    const p = valid(make({ seed: 3, teacherBlock: 1, relationHeads: 1 }))
    const back = Codec.fromJson(Codec.toJson(p))
    expect(Result.isSuccess(back) && back.success).toEqual(p)
    expect(tinymim.phases.map((ph) => ph.name)).toEqual(phases)
    const stages = (name: string) => tinymim.phases.find((ph) => ph.name === name)!.step.stages
    expect(stages("relation-distil")[0]).toMatchObject({
      _tag: "Forward",
      model: "teacher",
      mode: "frozen",
      taps: ["block2/q", "block2/k", "block2/v"],
    })
    expect(stages("relation-distil").find((s) => s._tag === "Loss")).toMatchObject({
      terms: {
        qk: {
          _tag: "TokenRelation",
          student: ["s.block1/q", "s.block1/k"],
          teacher: ["t.block2/q", "t.block2/k"],
        },
        vv: {
          _tag: "TokenRelation",
          student: ["s.block1/v", "s.block1/v"],
          teacher: ["t.block2/v", "t.block2/v"],
        },
      },
    })
    expect(stages("feature-distil").find((s) => s._tag === "Loss")).toMatchObject({
      terms: { hint: { _tag: "Hint", student: "s.block1", teacher: "t.block2", projection: true } },
    })
    // no label term in any distillation phase
    for (const arm of ["relation", "feature", "logit"])
      expect(JSON.stringify(stages(`${arm}-distil`))).not.toContain("CrossEntropy")
    // a teacher block the teacher does not have is a validation error
    expect(Result.isFailure(Codec.validate(make({ teacherBlock: 7 })))).toBe(true)
  })

  it("trains every phase end to end on tiny ViTs; the relation phase's loss is exactly qk + vv", async () => {
    const student = Model.vit({ patch: 7, dim: 8, depth: 2, heads: 2, classes: 10 })
    const p = shrink(
      make({ distilEpochs: 1, finetuneEpochs: 1, teacherEpochs: 1, limit: 64, teacherLimit: 64 }),
      {
        teacher: Model.vit({ patch: 7, dim: 12, depth: 3, heads: 2, classes: 10 }),
        relation: student,
        feature: student,
        logit: student,
        labels: student,
      },
    )
    const o = await observe(valid(p), { maxSteps: 3 })
    expectFiniteLosses(o.events)
    const steps = ofTag(o.events, "StepMetrics").filter((s) => s.phase === "relation-distil")
    expect(steps.length).toBeGreaterThan(0)
    for (const s of steps) {
      expect(Object.keys(s.terms).sort()).toEqual(["loss.qk", "loss.vv"])
      expect(s.loss).toBeCloseTo(s.terms["loss.qk"]! + s.terms["loss.vv"]!, 5)
      expect(s.terms["loss.qk"]!).toBeGreaterThanOrEqual(0)
    }
    expect(ofTag(o.events, "PhaseFinished").map((e) => e.phase)).toEqual(phases)
  })
})
