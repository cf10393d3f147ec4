/**
 * Be Your Own Teacher (Zhang et al., 2019): a ResNet with shallow exits after blocks 0 and 1
 * (three classifiers in all); the deepest head teaches the shallow ones:
 * L = CE(q_deep, y) + Σᵢ (1−α)·CE(qᵢ, y) + α·T²·KL(q_deep ‖ qᵢ) + β·‖Fᵢ − F_deepᵈ‖²,
 * with α = 0.1, T = 3, β = 1e-6 (reference re-implementation). Each exit is evaluated alone, and
 * the network with early exits at confidence thresholds 0.5, 0.9 and 0.99.
 */
import { Loss, Optimizer, Phase, Pipeline, Step } from "../dsl/index.js"
import { resnet } from "./common.js"

export interface Options {
  readonly seed?: number
  readonly epochs?: number
  readonly alpha?: number
  readonly temperature?: number
  readonly beta?: number
  /** Confidence thresholds of the early-exit evaluation (default 0.5, 0.9, 0.99). */
  readonly earlyExit?: ReadonlyArray<number>
}

export const make = (o: Options = {}) => {
  const alpha = o.alpha ?? 0.1
  const T = o.temperature ?? 3
  const beta = o.beta ?? 1e-6
  const net = resnet({
    exits: [
      { after: "block0", hidden: 32 },
      { after: "block1", hidden: 32 },
    ],
  })
  return Pipeline.make({
    name: "byot",
    description: "BYOT: 3 exits on a ResNet, deepest exit teaching the shallow ones (KL + feature hint)",
    seed: o.seed ?? 1,
    data: Pipeline.data("fashion-or-mnist"),
    models: { net },
    phases: [
      Phase.make({
        name: "train",
        epochs: o.epochs ?? 3,
        step: Step.start.pipe(
          Step.forward("net", {
            as: "o",
            heads: ["exit0", "exit1"],
            taps: ["pool", "exit0_features", "exit1_features"],
          }),
          Step.loss(
            {
              deep: Loss.crossEntropy({ logits: "o" }),
              ce0: Loss.crossEntropy({ logits: "o.exit0" }),
              ce1: Loss.crossEntropy({ logits: "o.exit1" }),
              kl0: Loss.kl({ teacher: Loss.detach("o"), student: "o.exit0", temperature: T }),
              kl1: Loss.kl({ teacher: Loss.detach("o"), student: "o.exit1", temperature: T }),
              hint0: Loss.hint({ student: "o.exit0_features", teacher: Loss.detach("o.pool") }),
              hint1: Loss.hint({ student: "o.exit1_features", teacher: Loss.detach("o.pool") }),
            },
            {
              weights: {
                deep: 1,
                ce0: 1 - alpha,
                ce1: 1 - alpha,
                kl0: alpha,
                kl1: alpha,
                hint0: beta,
                hint1: beta,
              },
            },
          ),
          Step.optimize("net", Optimizer.adam({ lr: 1e-3 })),
        ),
        evaluate: Phase.evaluate({
          targets: [Phase.target("net"), Phase.target("net", ["exit0"]), Phase.target("net", ["exit1"])],
          metrics: ["accuracy", "nll", "ece", "exits"],
          earlyExit: o.earlyExit ?? [0.5, 0.9, 0.99],
        }),
      }),
    ],
  })
}

export default make()
