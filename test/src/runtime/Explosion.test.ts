/**
 * Numerical faults: a gradient explosion (after ten quiet steps the loss is scaled by 10²⁰, under
 * plain SGD at lr 1) drives
 * the loss to Inf/NaN and stops the run with a `TrainingError` naming the last good checkpoint;
 * the same run with gradient clipping configured (`clipNorm: 1`) trains through it.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { describe, expect, it } from "vitest"
import { Loss, Model, Optimizer, Phase, Pipeline, Ramp, Step } from "../../../dsl/index.js"
import type * as Event from "../../../src/report/Event.js"
import { Reporter } from "../../../src/report/Reporter.js"
import { run } from "../../../src/runtime/Run.js"

const pipeline = (clipNorm: number) =>
  Pipeline.make({
    name: clipNorm > 0 ? "clipped" : "exploding",
    seed: 4,
    data: Pipeline.data("mnist"),
    models: { net: Model.mlp({ hidden: [16], classes: 10 }) },
    phases: [
      Phase.make({
        name: "train",
        steps: 30,
        batchSize: 32,
        step: Step.start.pipe(
          Step.forward("net", { as: "o" }),
          Step.loss(
            { ce: Loss.crossEntropy({ logits: "o" }) },
            {
              // ten quiet steps (a checkpoint every two), then the loss is scaled by 10²⁰
              weights: {
                ce: Ramp.piecewise({
                  points: [
                    [0, 1],
                    [10, 1e20],
                  ],
                  unit: "step",
                  interpolate: "hold",
                }),
              },
            },
          ),
          Step.optimize("net", Optimizer.sgd({ lr: 1, clipNorm })),
        ),
        evaluate: Phase.evaluate({ models: ["net"], splits: [{ split: "test", limit: 50 }] }),
      }),
    ],
  })

const go = async (p: Pipeline.Pipeline) => {
  const events: Array<Event.Event> = []
  const result = await Effect.runPromise(
    Effect.result(
      run(p, {
        backend: "cpu",
        outDir: mkdtempSync(join(tmpdir(), "retort-explode-")),
        reporter: Reporter.memory(events),
        logEvery: 1,
        checkpointEvery: 2,
      }),
    ),
  )
  return { result, events }
}

describe("a gradient explosion", () => {
  it("without clipping stops the run naming the last good checkpoint; with clipping it trains through", async () => {
    const wild = await go(pipeline(0))
    expect(Result.isFailure(wild.result)).toBe(true)
    const e = (wild.result as unknown as { failure: { _tag: string; message: string; checkpoint?: string } })
      .failure
    expect(e._tag).toBe("TrainingError")
    expect(e.message).toMatch(/the loss became (NaN|Infinity|-Infinity)/)
    expect(e.message).toMatch(/enable clipping/)
    expect(e.checkpoint).toMatch(/exploding\/checkpoint\.bin$/)

    const tame = await go(pipeline(1))
    expect(Result.isSuccess(tame.result)).toBe(true)
    const steps = tame.events.filter((x): x is Event.StepMetrics => x._tag === "StepMetrics")
    expect(steps).toHaveLength(30)
    for (const s of steps) expect(Number.isFinite(s.loss)).toBe(true)
  })
})
