import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Compute, Loss, Model, Optimizer, Phase, Pipeline, Ramp, Step } from "../../dsl/index.js"
import * as kd from "../../pipelines/kd.js"

const train = (
  name: string,
  model: string,
  o: { epochs?: number; steps?: number; batchSize?: number; limit?: number },
) =>
  Phase.make({
    name,
    ...(o.epochs !== undefined ? { epochs: o.epochs } : {}),
    ...(o.steps !== undefined ? { steps: o.steps } : {}),
    batchSize: o.batchSize ?? 100,
    ...(o.limit !== undefined ? { data: { limit: o.limit } } : {}),
    step: Step.start.pipe(
      Step.forward(model, { as: "o" }),
      Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
      Step.optimize(model, Optimizer.adam({ lr: 1e-3 })),
    ),
  })
const models = { net: Model.mlp({ hidden: [8], classes: 10 }) }

describe("Compute: passes", () => {
  it("counts a forward per name written and a backward per trained, optimised forward", () => {
    const distil = kd.make({ limit: 5000 }).phases[1]!
    expect(Compute.perSample(distil.step)).toEqual({ forward: 2, backward: 1 })
    const twice = Step.start.pipe(
      Step.forward("net", { as: ["a", "b"] }),
      Step.forward("other", { as: "c" }),
      Step.loss({ ce: Loss.crossEntropy({ logits: "a" }) }),
      Step.optimize("net", Optimizer.adam({ lr: 1e-3 })),
    )
    // "other" runs in train mode but nothing updates it: no backward
    expect(Compute.perSample(twice)).toEqual({ forward: 3, backward: 2 })
    expect(Compute.perSample(Step.start)).toEqual({ forward: 0, backward: 0 })
  })

  it("a phase spends per-sample passes × batch size × steps, after its limit, as the runner plans it", () => {
    expect(Compute.phase(train("a", "net", { epochs: 2, batchSize: 100 }), 1000)).toEqual({
      forward: 2000,
      backward: 2000,
    })
    expect(Compute.phase(train("a", "net", { epochs: 3, limit: 500 }), 60000)).toEqual({
      forward: 1500,
      backward: 1500,
    })
    expect(Compute.phase(train("a", "net", { steps: 7, batchSize: 32 }), 1000)).toEqual({
      forward: 224,
      backward: 224,
    })
    // the KD recipe: the teacher's 2 epochs on 60,000 images, then 15 student epochs on 5,000
    const p = kd.make({ teacherEpochs: 2, studentEpochs: 15, limit: 5000 })
    const distil = { ...p, phases: p.phases.filter((ph) => ph.name !== "baseline") }
    const teacher = Math.ceil(60000 / 128) * 128 * 2
    const student = Math.ceil(5000 / 128) * 128 * 15
    expect(Compute.pipeline(distil, 60000)).toEqual({
      forward: teacher + 2 * student,
      backward: teacher + student,
    })
    // per-phase image counts (e.g. a phase on half of the classes)
    const halves = Pipeline.make({
      name: "h",
      models,
      phases: [train("a", "net", { epochs: 1 }), train("b", "net", { epochs: 1 })],
    })
    expect(Compute.pipeline(halves, (ph) => (ph.name === "a" ? 1000 : 500))).toEqual({
      forward: 1500,
      backward: 1500,
    })
    const ramp = Phase.make({
      name: "r",
      epochs: 4,
      batchSize: Ramp.linear({ from: 32, to: 128 }),
      step: Step.start,
    })
    expect(Compute.plan(ramp, 1000).perEpoch.map((e) => e.batchSize)).toEqual([32, 56, 80, 104])
  })

  it("matchSteps gives a phase the passes that make the pipelines equal, to within one step", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 16, max: 256 }),
        fc.integer({ min: 300, max: 5000 }),
        (refEpochs, otherEpochs, batchSize, n) => {
          const reference = Pipeline.make({
            name: "ref",
            models,
            phases: [train("a", "net", { epochs: refEpochs + otherEpochs })],
          })
          const p = Pipeline.make({
            name: "p",
            models,
            phases: [
              ...(otherEpochs > 0 ? [train("first", "net", { epochs: otherEpochs })] : []),
              train("b", "net", { epochs: 1, batchSize }),
            ],
          })
          const matched = Compute.matchSteps(p, "b", reference, n)
          expect(matched).toBeDefined()
          expect(matched!.phases.at(-1)!.epochs).toBeUndefined()
          const want = Compute.total(Compute.pipeline(reference, n))
          const got = Compute.total(Compute.pipeline(matched!, n))
          expect(got).toBeLessThanOrEqual(want)
          expect(want - got).toBeLessThan(2 * Math.min(batchSize, n))
        },
      ),
    )
  })

  it("matchSteps refuses what it cannot equalise", () => {
    const small = Pipeline.make({ name: "s", models, phases: [train("a", "net", { epochs: 1 })] })
    const big = Pipeline.make({
      name: "b",
      models,
      phases: [train("a", "net", { epochs: 5 }), train("b", "net", { epochs: 1 })],
    })
    expect(Compute.matchSteps(big, "b", small, 1000)).toBeUndefined() // already over budget
    expect(Compute.matchSteps(big, "nowhere", small, 1000)).toBeUndefined()
    const ramped = Pipeline.make({
      name: "r",
      models,
      phases: [{ ...train("b", "net", { epochs: 1 }), batchSize: Ramp.linear({ from: 32, to: 64 }) }],
    })
    expect(Compute.matchSteps(ramped, "b", big, 1000)).toBeUndefined()
  })
})
