/**
 * The tuned small-data baseline (recipe 20 of the method catalogue): the W1 MLP trained on labels
 * alone with plain cross-entropy on the first 5,000 training images — the scarce-label regime in
 * which the KD recipe is compared — with its optimiser tuned on 5,000 *held-out validation*
 * images: Adam's learning rate × coupled L2 weight decay × epochs, 3 seeds each, ranked by
 * validation accuracy (the test split is reported beside it and never used to choose).
 *
 * `npx retort sweep pipelines/sweeps/tuned-baseline.ts` (or the JSON / YAML form beside it).
 * `npm run experiment -- tuned-baseline` runs this sweep and then sets the best variant beside
 * the untuned baseline and KD on the same training images (`docs/results.md`).
 *
 * @example
 * ```ts
 * import sweep from "./pipelines/sweeps/tuned-baseline.js"
 * sweep.axes.length // 3
 * ```
 *
 * @since 0.1.0
 */
import { Optimizer, Phase, Pipeline } from "../../dsl/index.js"
import * as Sweep from "../../dsl/Sweep.js"
import { mlp, supervised } from "../common.js"

/** Training images the baseline sees (as in the KD experiment) and images held out to tune on. */
export const LIMIT = 5000
export const VALIDATION = 5000

/** The untuned baseline: Adam 1e-3, no weight decay, 15 epochs — the KD experiment's settings. */
export const base: Pipeline.Pipeline = Pipeline.make({
  name: "small-data-baseline",
  description: `W1 MLP on labels alone, the first ${LIMIT} training images, ${VALIDATION} held out for validation`,
  seed: 1,
  data: Pipeline.data("fashion-or-mnist", { validation: VALIDATION }),
  models: { net: mlp() },
  phases: [
    {
      ...supervised("net", {
        name: "train",
        epochs: 15,
        limit: LIMIT,
        optimizer: Optimizer.adam({ lr: 1e-3, weightDecay: 0 }),
      }),
      evaluate: Phase.evaluate({ models: ["net"], splits: [{ split: "validation" }, { split: "test" }] }),
    },
  ],
})

/** The optimiser's paths in {@link base}, for `--set` and the axes below. */
export const paths = {
  lr: "phases[0].step.stages[2].optimizer.lr",
  weightDecay: "phases[0].step.stages[2].optimizer.weightDecay",
  epochs: "phases[0].epochs",
} as const

export default Sweep.make({
  name: "tuned-baseline",
  description:
    "plain CE on 5,000 images: lr × weight decay × epochs, 3 seeds each, ranked by validation accuracy",
  pipeline: base,
  axes: [
    Sweep.values(paths.lr, [3e-4, 1e-3, 3e-3]),
    Sweep.values(paths.weightDecay, [0, 1e-4, 1e-3]),
    Sweep.values(paths.epochs, [15, 30]),
  ],
  seeds: [1, 2, 3],
  metric: { model: "net", phase: "train" },
})
