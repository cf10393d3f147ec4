/**
 * The sweep the sweep tests run: a small MLP on the MNIST digits (30 steps, 500 validation
 * images), four learning rates × three seeds = 12 runs.
 */
import { Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../dsl/index.js"
import * as Sweep from "../../dsl/Sweep.js"

export const sweepPipeline = Pipeline.make({
  name: "tiny",
  data: Pipeline.data("mnist", { validation: 500 }),
  models: { net: Model.mlp({ hidden: [16], classes: 10 }) },
  phases: [
    Phase.make({
      name: "train",
      steps: 30,
      batchSize: 32,
      step: Step.start.pipe(
        Step.forward("net", { as: "o" }),
        Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
        Step.optimize("net", Optimizer.adam({ lr: 1e-3 })),
      ),
      evaluate: Phase.evaluate({
        models: ["net"],
        splits: [{ split: "validation" }, { split: "test", limit: 300 }],
      }),
    }),
  ],
})

export const sweep = Sweep.make({
  name: "tiny-lr",
  pipeline: sweepPipeline,
  axes: [Sweep.values("phases[0].step.stages[2].optimizer.lr", [3e-4, 1e-3, 3e-3, 1e-2])],
  seeds: [1, 2, 3],
  metric: { model: "net" },
})
