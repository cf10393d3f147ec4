/**
 * The data and loaded-model descriptions: image folders, CIFAR, normalisation, `Model.load` —
 * their codec round trip and the validator's checks — and which forwards the teacher-output
 * cache may hold.
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { Augment, Codec, Loss, Model, Optimizer, Phase, Pipeline, Step, Validate } from "../../dsl/index.js"
import { cacheableForwards } from "../../src/compile/step.js"

const distil = (extra?: "augment" | "taps" | "train-teacher") =>
  Phase.make({
    name: "distil",
    epochs: 2,
    step: (extra === "augment" ? Step.start.pipe(Step.augment(Augment.flipX())) : Step.start).pipe(
      Step.forward("teacher", {
        as: "t",
        mode: extra === "train-teacher" ? "train" : "frozen",
        ...(extra === "taps" ? { taps: ["block0"] } : {}),
      }),
      Step.forward("student", { as: "s" }),
      Step.loss({
        ce: Loss.crossEntropy({ logits: "s" }),
        kd: Loss.kl({ teacher: "t", student: "s", temperature: 4 }),
      }),
      Step.optimize(
        extra === "train-teacher" ? ["student", "teacher"] : "student",
        Optimizer.adam({ lr: 1e-3 }),
      ),
    ),
  })

const pipeline = (data: Pipeline.Data, teacher: Model.Model = Model.load({ path: "t/model.json" })) =>
  Pipeline.make({
    name: "byo",
    data,
    models: { teacher, student: Model.mlp({ hidden: [8], classes: 10, input: [32, 32, 3] }) },
    phases: [distil()],
  })

const problems = (p: Pipeline.Pipeline, options?: Validate.Options) =>
  Validate.pipeline(p, options).map((i) => `${i.path}: ${i.message}`)

describe("data descriptions", () => {
  it("a folder source with every field round-trips through JSON and YAML", () => {
    const p = pipeline(
      Pipeline.folder("data/flowers", {
        size: [32, 32],
        channels: 3,
        fit: "contain",
        validation: 0.1,
        test: 0.2,
        strict: true,
        normalize: "train",
      }),
    )
    expect(problems(p)).toEqual([])
    const json = Result.getOrThrow(Codec.fromJson(Codec.toJson(p)))
    expect(json).toEqual(p)
    expect(Result.getOrThrow(Codec.fromYaml(Codec.toYaml(p)))).toEqual(p)
    const cifar = pipeline(
      Pipeline.data("cifar100", {
        labels: "coarse",
        path: "./cifar",
        normalize: { mean: [0.5], std: [0.25] },
      }),
    )
    expect(Result.getOrThrow(Codec.fromJson(Codec.toJson(cifar)))).toEqual(cifar)
  })

  it("each field is checked against its source, with its path", () => {
    expect(problems(pipeline({ source: "folder", validation: 0 }))).toEqual([
      "data.path: a folder source needs the path of its image folder",
    ])
    expect(problems(pipeline(Pipeline.data("mnist", { size: [32, 32] })))).toEqual([
      'data.size: "size" applies to a folder source only (this one is mnist)',
    ])
    expect(problems(pipeline(Pipeline.data("cifar10", { labels: "fine" })))).toEqual([
      'data.labels: "labels" (fine or coarse) applies to cifar100 only (this one is cifar10)',
    ])
    expect(problems(pipeline(Pipeline.data("fashion-mnist", { path: "x" })))).toEqual([
      'data.path: "path" applies to folder and CIFAR sources only (this one is fashion-mnist)',
    ])
    expect(problems(pipeline(Pipeline.folder("d", { validation: 0.6, test: 0.5 })))).toEqual([
      "data: validation 0.6 + test 0.5 leave no training images",
    ])
    expect(problems(pipeline(Pipeline.folder("d", { test: -1 })))).toEqual([
      "data.test: must be a count or a fraction in [0, 1), got -1",
    ])
  })

  it("a given normalisation needs one value per channel and positive standard deviations", () => {
    expect(
      problems(pipeline(Pipeline.data("cifar10", { normalize: { mean: [0.5, 0.5], std: [0.2, 0.2] } }))),
    ).toEqual(["data.normalize: 2 means for 3-channel images (give 3 or one)"])
    expect(
      problems(pipeline(Pipeline.folder("d", { channels: 1, normalize: { mean: [0.5], std: [0] } }))),
    ).toEqual(["data.normalize.std[0]: a standard deviation must be > 0, got 0"])
    // unknown structure is a decoding error with its path
    const bad = JSON.parse(Codec.toJson(pipeline(Pipeline.folder("d"))))
    bad.data.channels = 4
    const r = Codec.decode(bad)
    expect(Result.isFailure(r) && r.failure.issues.some((i) => i.path === "data.channels")).toBe(true)
  })
})

describe("Model.load", () => {
  it("is a tagged value with a codec and a description; its shape is unknown until read", () => {
    const m = Model.load({
      path: "keras/model.json",
      output: "probabilities",
      normalize: { mean: [0], std: [1 / 255] },
    })
    expect(m._tag).toBe("Load")
    expect(Model.describe(m)).toBe(
      'load "keras/model.json" (probabilities) normalised mean [0] std [0.003922]',
    )
    expect(Model.classes(m)).toBeUndefined()
    expect(Model.taps(m)).toBeUndefined()
    expect(Model.inputShape(m)).toBeUndefined()
    const p = pipeline(Pipeline.folder("d"), m)
    expect(Result.getOrThrow(Codec.fromJson(Codec.toJson(p)))).toEqual(p)
  })

  it("cannot be binarised; its normalisation is checked", () => {
    expect(Model.check(Model.binary(Model.load({ path: "t" })))).toEqual([
      {
        path: "inner",
        message: 'a model loaded from "t" cannot be binarised (binarise a built-in model and distil into it)',
      },
    ])
    expect(Model.check(Model.load({ path: "t", normalize: { mean: [0, 0], std: [1] } }))[0]?.message).toMatch(
      /one value per channel/,
    )
  })

  it("once read, what is learned (classes, taps) is validated like a built-in model", () => {
    const p = pipeline(Pipeline.folder("d"))
    expect(problems(p)).toEqual([])
    expect(
      problems(p, { models: { teacher: { classes: 100, taps: ["dense"], heads: ["logits"] } } }),
    ).toEqual([
      'phases[0].step.stages[2].terms.kd: teacher "teacher" has 100 classes but student "student" has 10: Kl compares distributions over the same classes',
    ])
    const tapped = { ...p, phases: [distil("taps")] }
    expect(
      problems(tapped, { models: { teacher: { classes: 10, taps: ["conv1"], heads: ["logits"] } } }),
    ).toEqual(['phases[0].step.stages[0].taps[0]: model "teacher" has no tap "block0" (taps: conv1)'])
  })
})

describe("the teacher-output cache may hold", () => {
  it("a frozen forward of the un-augmented batch, asking for logits only, of a model the phase does not change", () => {
    expect(cacheableForwards(distil())).toEqual([{ index: 0, model: "teacher" }])
    expect(cacheableForwards(distil("augment"))).toEqual([])
    expect(cacheableForwards(distil("taps"))).toEqual([])
    expect(cacheableForwards(distil("train-teacher"))).toEqual([])
  })
})
