/**
 * The runner's data-free path: a phase whose step starts from noise (`Step.readsBatch` false)
 * never reads a training image or label — the training split is instrumented to count every read
 * of its images or labels, per phase — while its student still trains and is evaluated on the
 * real test split. Its epoch is `data.limit` generated samples (default: the training split's size).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Layer } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../../dsl/index.js"
import type * as Dataset from "../../../src/data/Dataset.js"
import type * as Event from "../../../src/report/Event.js"
import { Reporter } from "../../../src/report/Reporter.js"
import { layer, type RunOptions, runWith } from "../../../src/runtime/Run.js"
import { useWasm } from "../../pipelines/support.js"
import { synthetic } from "../../support/data.js"

const base = synthetic({ train: 64, test: 32 })

/** The synthetic data with a training split that counts reads of `x` and `y` by the phase running. */
const instrumented = () => {
  const reads = new Map<string, number>()
  let phase = "(before training)"
  const count = () => reads.set(phase, (reads.get(phase) ?? 0) + 1)
  const train: Dataset.Split = {
    n: base.train.n,
    get x() {
      count()
      return base.train.x
    },
    get y() {
      count()
      return base.train.y
    },
  }
  const data: Dataset.Dataset = { ...base, train }
  return { data, reads, enter: (p: string) => (phase = p) }
}

const teacherCnn = Model.cnn({
  conv: [{ filters: 4 }, { filters: 4 }],
  dense: [8],
  classes: 10,
  batchNorm: true,
})
const studentCnn = Model.cnn({ conv: [{ filters: 4 }], dense: [8], classes: 10 })

const dataFreeStep = Step.start.pipe(
  Step.noise({ as: "z", dim: 8 }),
  Step.forward("generator", { as: "xg", input: "z" }),
  Step.forward("teacher", { as: "tg", mode: "eval", input: "xg", taps: ["bn0", "bn1"] }),
  Step.forward("student", { as: "sg", mode: "eval", input: "xg" }),
  Step.loss(
    {
      adv: Loss.adversarial({ teacher: "tg", student: "sg" }),
      bn: Loss.bnStatistics({ taps: ["tg.bn0", "tg.bn1"] }),
    },
    { as: "lossG" },
  ),
  Step.optimize("generator", Optimizer.adam({ lr: 1e-3 }), { loss: "lossG" }),
  Step.noise({ as: "zs", dim: 8 }),
  Step.forward("generator", { as: "xs", input: "zs", mode: "frozen" }),
  Step.forward("teacher", { as: "t", mode: "frozen", input: "xs" }),
  Step.forward("student", { as: "s", input: "xs" }),
  Step.loss({ kd: Loss.kl({ teacher: "t", student: "s", temperature: 2 }) }),
  Step.optimize("student", Optimizer.adam({ lr: 1e-2 })),
)

const pipeline = (data: Phase.DataSlice = {}, epochs = 1) =>
  Pipeline.make({
    name: "data-free-test",
    seed: 5,
    data: Pipeline.data("custom", { name: "synthetic" }),
    models: {
      teacher: teacherCnn,
      student: studentCnn,
      generator: Model.generator({ latent: 8, width: 4 }),
    },
    phases: [
      Phase.make({
        name: "teacher",
        epochs: 1,
        batchSize: 16,
        step: Step.start.pipe(
          Step.forward("teacher", { as: "o" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
          Step.optimize("teacher", Optimizer.adam({ lr: 1e-3 })),
        ),
        evaluate: Phase.evaluate({ models: ["teacher"] }),
      }),
      Phase.make({
        name: "data-free",
        epochs,
        batchSize: 16,
        data,
        step: dataFreeStep,
        evaluate: Phase.evaluate({
          models: ["student"],
          metrics: ["accuracy", "agreement"],
          reference: "teacher",
        }),
      }),
    ],
  })

const runIt = async (p: Pipeline.Pipeline) => {
  const { data, reads, enter } = instrumented()
  const events: Array<Event.Event> = []
  const reporter = Layer.succeed(Reporter, {
    emit: (e: Event.Event) =>
      Effect.sync(() => {
        if (e._tag === "PhaseStarted") enter(e.phase)
        if (e._tag === "PhaseFinished") enter(`(after ${e.phase})`)
        events.push(e)
      }),
    close: Effect.void,
  })
  const outDir = mkdtempSync(join(tmpdir(), "retort-datafree-"))
  const opts: RunOptions = { backend: "wasm", data, outDir, logEvery: 1, checkpointEvery: 0, reporter }
  const exit = await Effect.runPromiseExit(
    Effect.scoped(runWith(p, opts)).pipe(Effect.provide(layer(opts))),
  ).finally(() => rmSync(outDir, { recursive: true, force: true }))
  return { exit, events, reads }
}

describe("data-free phases", () => {
  beforeAll(useWasm)

  it("draw no training images, while the student trains and is evaluated on the test split", async () => {
    const { exit, events, reads } = await runIt(pipeline({ limit: 40 }))
    expect(Exit.isSuccess(exit)).toBe(true)
    // the instrument works: the supervised teacher phase did read its training images
    expect(reads.get("teacher") ?? 0).toBeGreaterThan(0)
    // the data-free phase (and its evaluation) never did
    expect(reads.get("data-free") ?? 0).toBe(0)
    expect(reads.get("(after data-free)") ?? 0).toBe(0)
    // 40 generated samples per epoch at batch 16: three steps (the last one of 8)
    const started = events.find((e) => e._tag === "PhaseStarted" && e.phase === "data-free")
    expect(started).toMatchObject({ steps: 3 })
    const steps = events.filter((e) => e._tag === "StepMetrics" && e.phase === "data-free")
    expect(steps.length).toBe(3)
    for (const s of steps)
      if (s._tag === "StepMetrics") {
        expect(Number.isFinite(s.loss)).toBe(true)
        expect(Number.isFinite(s.terms.lossG)).toBe(true)
      }
    // the student's distillation loss is reported on every step
    for (const s of steps)
      if (s._tag === "StepMetrics") expect(Number.isFinite(s.terms["loss.kd"])).toBe(true)
    const finished = events.find((e) => e._tag === "PhaseFinished" && e.phase === "data-free")
    expect(
      finished?._tag === "PhaseFinished" && finished.metrics["test/student/accuracy"],
    ).toBeGreaterThanOrEqual(0)
    expect(
      finished?._tag === "PhaseFinished" && Number.isFinite(finished.metrics["test/student/agreement"]),
    ).toBe(true)
  }, 120_000)

  it("without a limit, an epoch has as many generated samples as the training split has images", async () => {
    const { exit, events, reads } = await runIt(pipeline({}, 2))
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(reads.get("data-free") ?? 0).toBe(0)
    // 64 training images at batch 16: four steps per epoch, two epochs
    expect(events.find((e) => e._tag === "PhaseStarted" && e.phase === "data-free")).toMatchObject({
      steps: 8,
      epochs: 2,
    })
  }, 120_000)

  it("reject a class or domain selection, which would select images the phase never reads", async () => {
    const { exit, reads } = await runIt(pipeline({ classes: [0, 1] }))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain("data-free")
    expect(reads.get("data-free") ?? 0).toBe(0)
  }, 120_000)
})
