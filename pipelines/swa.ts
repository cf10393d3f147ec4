/**
 * Stochastic weight averaging (Izmailov et al., 2018; timgaripov/swa): train normally, then
 * fine-tune at a constant or cyclical learning rate while averaging the weights once per epoch
 * (or per cycle); batch-norm statistics are recomputed for the average. EMA is kept alongside.
 */
import { Loss, Optimizer, Phase, Pipeline, Ramp, Step } from "../dsl/index.js"
import { cnn, supervised } from "./common.js"

export interface Options {
  readonly seed?: number
  readonly epochs?: number
  readonly swaEpochs?: number
  readonly schedule?: "constant" | "cyclical"
  readonly swaLr?: number
}

export const make = (o: Options = {}) => {
  const swaLr = o.swaLr ?? 0.01
  const lr =
    o.schedule === "cyclical"
      ? Ramp.cyclical({
          shape: "triangle",
          min: swaLr / 10,
          max: swaLr,
          period: 1,
          phase: 0.5,
          unit: "epoch",
        })
      : swaLr
  return Pipeline.make({
    name: `swa-${o.schedule ?? "constant"}`,
    description: "SWA fine-tuning of a batch-norm CNN, with an EMA copy beside it",
    seed: o.seed ?? 1,
    data: Pipeline.data("fashion-or-mnist"),
    models: { net: cnn({ batchNorm: true }) },
    phases: [
      supervised("net", { name: "train", epochs: o.epochs ?? 3 }),
      Phase.make({
        name: "swa",
        epochs: o.swaEpochs ?? 3,
        step: Step.start.pipe(
          Step.forward("net", { as: "o" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
          Step.optimize("net", Optimizer.sgd({ lr, momentum: 0.9, weightDecay: 5e-4 })),
          Step.swa("net", { as: "net_swa", start: 0, every: 1, unit: "epoch" }),
          Step.ema("net", { as: "net_ema", decay: 0.999 }),
        ),
        evaluate: Phase.evaluate({ models: ["net", "net_swa", "net_ema"] }),
      }),
    ],
  })
}

export default make()
