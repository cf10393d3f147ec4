/**
 * The checkpoint cadence is settable from the pipeline (`checkpointEvery`) and from the CLI /
 * run options (`--checkpoint-every`, which wins); 0 means only at phase ends. Nonsense values are
 * refused by the validator with their path.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { describe, expect, it } from "vitest"
import { Codec, Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../../dsl/index.js"
import type * as Event from "../../../src/report/Event.js"
import { Reporter } from "../../../src/report/Reporter.js"
import { run } from "../../../src/runtime/Run.js"

const pipeline = (checkpointEvery?: number) =>
  Pipeline.make({
    name: "cadence",
    data: Pipeline.data("mnist"),
    models: { net: Model.mlp({ hidden: [8], classes: 10 }) },
    ...(checkpointEvery !== undefined ? { checkpointEvery } : {}),
    phases: [
      Phase.make({
        name: "train",
        steps: 12,
        batchSize: 8,
        step: Step.start.pipe(
          Step.forward("net", { as: "o" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
          Step.optimize("net", Optimizer.adam({ lr: 1e-3 })),
        ),
        evaluate: Phase.evaluate({ models: ["net"], splits: [{ split: "test", limit: 10 }] }),
      }),
    ],
  })

const checkpointSteps = async (p: Pipeline.Pipeline, checkpointEvery?: number) => {
  const events: Array<Event.Event> = []
  const outDir = mkdtempSync(join(tmpdir(), "retort-cadence-"))
  await Effect.runPromise(
    run(p, {
      backend: "cpu",
      outDir,
      reporter: Reporter.memory(events),
      ...(checkpointEvery !== undefined ? { checkpointEvery } : {}),
    }),
  )
  return events.filter((e): e is Event.Checkpointed => e._tag === "Checkpointed").map((e) => e.step)
}

describe("checkpoint cadence", () => {
  it("comes from the pipeline, the run options override it, 0 is phase ends only", async () => {
    expect(await checkpointSteps(pipeline(4))).toEqual([4, 8, 12])
    expect(await checkpointSteps(pipeline(4), 6)).toEqual([6, 12])
    expect(await checkpointSteps(pipeline(0))).toEqual([12])
    expect(await checkpointSteps(pipeline())).toEqual([12]) // default 500 > 12 steps
  })

  it("survives the JSON round trip and refuses nonsense with its path", () => {
    const p = pipeline(250)
    const back = Codec.fromJson(Codec.toJson(p))
    expect(Result.isSuccess(back) && back.success.checkpointEvery).toBe(250)
    for (const bad of [-1, 1.5]) {
      const r = Codec.validate(pipeline(bad))
      expect(Result.isFailure(r)).toBe(true)
      const issues = (r as Result.Failure<unknown, { issues: ReadonlyArray<{ path: string }> }>).failure
        .issues
      expect(issues.map((i) => i.path)).toContain("checkpointEvery")
    }
  })
})
