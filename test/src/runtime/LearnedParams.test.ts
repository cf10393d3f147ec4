import { beforeAll, describe, expect, it } from "vitest"
import { Learned, Loss, Model, Optimizer, Phase, Pipeline, Ramp, Step } from "../../../dsl/index.js"
import { ValidationError } from "../../../src/errors.js"
import { observe, useWasm } from "../../pipelines/support.js"

describe("learned hyper-parameters in a run", () => {
  beforeAll(useWasm)

  it("a pipeline with params is refused with a ValidationError naming each one, before any step", async () => {
    const p = Pipeline.make({
      name: "learned-t",
      models: {
        teacher: Model.mlp({ hidden: [16], classes: 10 }),
        student: Model.mlp({ hidden: [16], classes: 10 }),
      },
      params: { T: Learned.positive(4) },
      phases: [
        Phase.make({
          name: "distil",
          steps: 2,
          batchSize: 16,
          step: Step.start.pipe(
            Step.forward("teacher", { as: "t", mode: "frozen" }),
            Step.forward("student", { as: "s" }),
            Step.loss({ kd: Loss.kl({ teacher: "t", student: "s", temperature: Ramp.learned("T") }) }),
            Step.optimize("student", Optimizer.adam({ lr: 1e-3 }), {
              learn: Learned.lookahead("T", {
                optimizer: Optimizer.adam({ lr: 0.01 }),
                objective: Loss.crossEntropy({ logits: "s" }),
              }),
            }),
          ),
        }),
      ],
    })
    const error = await observe(p).then(
      () => undefined,
      (e: unknown) => e,
    )
    // observe runs the pipeline through Effect.runPromise: the typed failure arrives as the error
    expect(error).toBeInstanceOf(ValidationError)
    const issues = (error as ValidationError).issues
    expect(issues.map((i) => i.path)).toEqual(["params.T"])
    expect(issues[0]!.message).toMatch(/not supported by the runner yet/)
  })
})
