import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { Augment, Codec, Loss, Model, Optimizer, Phase, Pipeline, Ramp, Step } from "../../dsl/index.js"
import { recipes } from "../../pipelines/index.js"

const adam = Optimizer.adam({ lr: 1e-3 })
const mlp = Model.mlp({ hidden: [32], classes: 10 })
const cnn = Model.cnn({ conv: [{ filters: 4 }], dense: [8], classes: 10 })

const problems = (p: Pipeline.Pipeline) => {
  const r = Codec.validate(p)
  return Result.isFailure(r) ? r.failure.issues : []
}
const one = (
  models: Record<string, Model.Model>,
  step: Step.Any,
  extra: Partial<Parameters<typeof Phase.make>[0]> = {},
) =>
  Pipeline.make({
    name: "t",
    models,
    phases: [Phase.make({ name: "p", epochs: 1, step: step as Step.Step<"x" | "y", string>, ...extra })],
  })

describe("Validate", () => {
  it("unknown model, tap and head names", () => {
    const is = problems(
      one(
        { student: mlp },
        Step.start.pipe(
          Step.forward("teacher", { as: "t", mode: "frozen" }),
          Step.forward("student", { as: "s", taps: ["block9"], heads: ["dist"] }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "s" }) }),
          Step.optimize("student", adam),
        ),
      ),
    )
    expect(is).toContainEqual({
      path: "phases[0].step.stages[0].model",
      message: expect.stringMatching(/unknown model "teacher"/),
    })
    expect(is).toContainEqual({
      path: "phases[0].step.stages[1].taps[0]",
      message: expect.stringMatching(/no tap "block9".*hidden0/),
    })
    expect(is).toContainEqual({
      path: "phases[0].step.stages[1].heads[0]",
      message: expect.stringMatching(/no head "dist"/),
    })
  })

  it("reading an unwritten name (a JSON pipeline cannot rely on the type checker)", () => {
    const step = Step.make([
      { _tag: "Forward", model: "student", as: ["s"], mode: "train", input: "x", taps: [], heads: [] },
      {
        _tag: "Loss",
        terms: { kd: Loss.kl({ teacher: "t2", student: "s" }) },
        weights: { kd: 1 },
        as: "loss",
      },
      { _tag: "Optimize", models: ["student"], optimizer: adam, loss: "loss" },
    ])
    const is = problems(one({ student: mlp }, step))
    expect(is).toEqual([
      {
        path: "phases[0].step.stages[1].terms.kd.teacher",
        message: 'reads "t2", which no earlier stage writes (written so far: x, y, s)',
      },
    ])
  })

  it("optimising a frozen model", () => {
    const is = problems(
      one(
        { teacher: cnn, student: mlp },
        Step.start.pipe(
          Step.forward("teacher", { as: "t", mode: "frozen" }),
          Step.forward("student", { as: "s" }),
          Step.loss({ kd: Loss.kl({ teacher: "t", student: "s" }) }),
          Step.optimize(["student", "teacher"], adam),
        ),
      ),
    )
    expect(is).toEqual([
      {
        path: "phases[0].step.stages[3].models[1]",
        message: expect.stringMatching(/optimising a frozen model: "teacher"/),
      },
    ])
  })

  it("temperature <= 0 (also when a ramp reaches it), negative weights, probabilities outside [0, 1]", () => {
    const is = problems(
      one(
        { teacher: cnn, student: mlp },
        Step.start.pipe(
          Step.augment(Augment.flipX({ p: 1.5 })),
          Step.forward("teacher", { as: "t", mode: "frozen" }),
          Step.forward("student", { as: "s" }),
          Step.loss(
            {
              a: Loss.kl({ teacher: "t", student: "s", temperature: 0 }),
              b: Loss.kl({ teacher: "t", student: "s", temperature: Ramp.linear({ from: 4, to: -1 }) }),
              c: Loss.crossEntropy({ logits: "s" }),
            },
            { weights: { c: -0.5 } },
          ),
          Step.optimize("student", adam),
        ),
      ),
    )
    const paths = is.map((i) => i.path)
    expect(paths).toContain("phases[0].step.stages[3].terms.a.temperature")
    expect(paths).toContain("phases[0].step.stages[3].terms.b.temperature")
    expect(paths).toContain("phases[0].step.stages[3].weights.c")
    expect(paths).toContain("phases[0].step.stages[0].augments[0].p")
    expect(is.find((i) => i.path.endsWith("terms.b.temperature"))!.message).toMatch(/the ramp .* reaches/)
  })

  it("empty pipelines and phases", () => {
    expect(problems(Pipeline.make({ name: "e", models: { m: mlp }, phases: [] }))).toContainEqual({
      path: "phases",
      message: "a pipeline needs at least one phase",
    })
    const is = problems(one({ m: mlp }, Step.start))
    expect(is.map((i) => i.path)).toContain("phases[0].step.stages")
  })

  it("teacher and student with different class counts", () => {
    const is = problems(
      one(
        { teacher: Model.cnn({ conv: [{ filters: 4 }], dense: [8], classes: 100 }), student: mlp },
        Step.start.pipe(
          Step.forward("teacher", { as: "t", mode: "frozen" }),
          Step.forward("student", { as: "s" }),
          Step.loss({ kd: Loss.kl({ teacher: "t", student: "s" }) }),
          Step.optimize("student", adam),
        ),
      ),
    )
    expect(is).toEqual([
      { path: "phases[0].step.stages[2].terms.kd", message: expect.stringMatching(/100 classes .* 10/) },
    ])
  })

  it("hint between features of different sizes without a projection; copy between architectures", () => {
    const p = Pipeline.make({
      name: "t",
      models: { teacher: cnn, student: mlp },
      phases: [
        Phase.make({
          name: "p",
          epochs: 1,
          init: { student: Phase.copy("teacher") },
          step: Step.start.pipe(
            Step.forward("teacher", { as: "t", mode: "frozen", taps: ["flat"] }),
            Step.forward("student", { as: "s", taps: ["hidden0"] }),
            Step.loss({ h: Loss.hint({ student: "s.hidden0", teacher: "t.flat" }) }),
            Step.optimize("student", adam),
          ),
        }),
      ],
    })
    const paths = problems(p).map((i) => i.path)
    expect(paths).toContain("phases[0].step.stages[2].terms.h")
    expect(paths).toContain("phases[0].init.student")
  })

  it("early exit: finite thresholds, and a model target with several heads", () => {
    const train = (m: string) =>
      Step.start.pipe(
        Step.forward(m, { as: "s" }),
        Step.loss({ ce: Loss.crossEntropy({ logits: "s" }) }),
        Step.optimize(m, adam),
      )
    const resnet = Model.resnet({
      stem: { filters: 4 },
      blocks: [{ filters: 4 }],
      exits: [{ after: "stem" }],
      classes: 10,
    })
    expect(
      problems(
        one({ net: resnet }, train("net"), {
          evaluate: Phase.evaluate({ models: ["net"], earlyExit: [0.5, 0.9] }),
        }),
      ),
    ).toEqual([])
    expect(
      problems(
        one({ net: resnet }, train("net"), {
          evaluate: Phase.evaluate({ models: ["net"], earlyExit: [Number.NaN] }),
        }),
      ),
    ).toContainEqual({
      path: "phases[0].evaluate.earlyExit[0]",
      message: expect.stringMatching(/finite/),
    })
    expect(
      problems(
        one({ net: mlp }, train("net"), { evaluate: Phase.evaluate({ models: ["net"], earlyExit: [0.9] }) }),
      ),
    ).toContainEqual({
      path: "phases[0].evaluate.earlyExit",
      message: expect.stringMatching(/several heads/),
    })
  })

  it("reports all problems of one pipeline together", () => {
    const bad = JSON.parse(Codec.toJson(recipes.kd!))
    bad.phases[1].step.stages[2].terms.kd.temperature = -1
    bad.phases[1].step.stages[2].weights.ce = -1
    bad.phases[1].epochs = 0
    bad.phases[0].step.stages[0].model = "nobody"
    const r = Codec.decode(bad)
    expect(Result.isFailure(r)).toBe(true)
    if (Result.isFailure(r)) {
      expect(r.failure.issues.length).toBeGreaterThanOrEqual(4)
      expect(r.failure.message).toMatch(/invalid pipeline \(\d+ problems\)/)
    }
  })
})
