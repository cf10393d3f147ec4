import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../../dsl/index.js"
import * as Loader from "../../../src/backend/loader.js"
import * as WebGpu from "../../../src/backend/webgpu/WebGpu.js"
import type * as Event from "../../../src/report/Event.js"
import { Reporter } from "../../../src/report/Reporter.js"
import { run } from "../../../src/runtime/Run.js"
import { synthetic } from "../../support/data.js"

// The interpreter's compiled step is backend-agnostic: the same KD pipeline trains through
// `run` on webgpu (a real GPU, or Mesa's software adapter on CI) and on cpu, with the same losses
// within float tolerance. Skipped, saying why, when no WebGPU adapter exists.
const probe = await Effect.runPromise(Effect.result(WebGpu.probe(Loader.dynamicImport)))
const because =
  probe._tag === "Failure" ? ` [skipped: ${probe.failure.message}]` : ` [${probe.success.label}]`

const pipeline = Pipeline.make({
  name: "kd-webgpu",
  seed: 4,
  data: Pipeline.data("custom", { name: "synthetic" }),
  models: {
    teacher: Model.cnn({ conv: [{ filters: 4 }], dense: [16], classes: 10 }),
    student: Model.mlp({ hidden: [32], classes: 10 }),
  },
  phases: [
    Phase.make({
      name: "teacher",
      steps: 4,
      batchSize: 16,
      step: Step.start.pipe(
        Step.forward("teacher", { as: "t" }),
        Step.loss({ ce: Loss.crossEntropy({ logits: "t" }) }),
        Step.optimize("teacher", Optimizer.adam({ lr: 1e-3 })),
      ),
    }),
    Phase.make({
      name: "distil",
      steps: 4,
      batchSize: 16,
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
        Step.optimize("student", Optimizer.adam({ lr: 1e-3 })),
      ),
    }),
  ],
})

const losses = async (backend: string) => {
  const events: Array<Event.Event> = []
  const exit = await Effect.runPromiseExit(
    run(pipeline, {
      backend,
      data: synthetic({ train: 64, test: 32 }),
      outDir: mkdtempSync(join(tmpdir(), "retort-webgpu-")),
      reporter: Reporter.memory(events),
      logEvery: 1,
      checkpointEvery: 0,
    }),
  )
  expect(Exit.isSuccess(exit)).toBe(true)
  return events.filter((e): e is Event.StepMetrics => e._tag === "StepMetrics").map((e) => e.loss)
}

describe.skipIf(probe._tag === "Failure")(`a pipeline on webgpu${because}`, () => {
  it("trains through run() and matches the cpu backend's losses", async () => {
    const gpu = await losses("webgpu")
    const cpu = await losses("cpu")
    expect(gpu).toHaveLength(8)
    for (let i = 0; i < cpu.length; i++)
      expect(Math.abs(gpu[i]! - cpu[i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(cpu[i]!)))
  })
})
