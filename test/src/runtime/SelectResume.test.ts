import { join } from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../../dsl/index.js"
import * as Checkpoint from "../../../src/runtime/Checkpoint.js"
import { Interrupted } from "../../../src/runtime/Run.js"
import { synthetic } from "../../support/data.js"
import { failure, runner, tmp } from "../../support/run.js"

const go = runner(synthetic({ train: 320, test: 64 }))

/**
 * 4 epochs of 8 steps, evaluated every epoch, keeping the epoch with the *lowest* validation
 * accuracy — the first one, as accuracy rises — so that a selection forgotten across a resume
 * would choose a later epoch instead.
 */
const selecting = () =>
  Pipeline.make({
    name: "select-resume",
    seed: 5,
    data: Pipeline.data("custom", { name: "synthetic", validation: 64 }),
    models: { net: Model.mlp({ hidden: [16], classes: 10 }) },
    phases: [
      Phase.make({
        name: "train",
        epochs: 4,
        batchSize: 32,
        step: Step.start.pipe(
          Step.forward("net", { as: "o" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
          Step.optimize("net", Optimizer.adam({ lr: 3e-3 })),
        ),
        evaluate: Phase.evaluate({
          models: ["net"],
          splits: [{ split: "validation" }, { split: "test" }],
          select: { key: "validation/net/accuracy", mode: "min" },
        }),
      }),
    ],
  })

describe("model selection across a resume", () => {
  it("a run interrupted after the chosen epoch still restores it: same epoch, metrics and weights as without the interruption", async () => {
    const straight = tmp()
    const a = await go(selecting(), { outDir: straight })
    expect(Exit.isSuccess(a)).toBe(true)
    if (!Exit.isSuccess(a)) return
    const chosen = a.value.phases[0]!.metrics
    expect(chosen["selected/epoch"]).toBe(1)

    // stopped in the third epoch (after the first two evaluations), then resumed
    const split = tmp()
    const first = await go(selecting(), { outDir: split, stopAfter: 8 * 2 + 3 })
    expect(failure(first)).toBeInstanceOf(Interrupted)
    const dir = join(split, "select-resume")
    const saved = await Effect.runPromise(Checkpoint.load(join(dir, "checkpoint.bin")))
    expect(saved.header.selection).toMatchObject({ phase: 0, epoch: 1 })
    expect([...saved.tensors.keys()].filter((k) => k.startsWith("select/")).length).toBeGreaterThan(0)
    const b = await go(selecting(), { resume: dir })
    expect(Exit.isSuccess(b)).toBe(true)
    if (!Exit.isSuccess(b)) return
    const resumed = b.value.phases[0]!.metrics
    expect(resumed["selected/epoch"]).toBe(1)
    expect(resumed["validation/net/accuracy"]).toBe(chosen["validation/net/accuracy"])
    expect(resumed["test/net/accuracy"]).toBe(chosen["test/net/accuracy"])
    const x = await Effect.runPromise(Checkpoint.load(join(straight, "select-resume", "checkpoint.bin")))
    const y = await Effect.runPromise(Checkpoint.load(join(dir, "checkpoint.bin")))
    const key = "model/net/params/dense0/kernel"
    expect(Buffer.from(y.tensors.get(key)!.values.buffer)).toEqual(
      Buffer.from(x.tensors.get(key)!.values.buffer),
    )
  }, 60_000)
})
