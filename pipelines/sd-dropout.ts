/**
 * Self-distillation from dropout (SD-Dropout, Lee et al., 2022): two dropout samples a, b of one
 * network teach each other; no extra parameters.
 * L = CE(a, y) + β·½[KL(bᵈ ‖ a) + KL(aᵈ ‖ b)] (forward), the reverse direction, or both.
 */
import { Loss, Model, Phase, Pipeline, Step } from "../dsl/index.js"
import { adam } from "./common.js"

export interface Options {
  readonly seed?: number
  readonly epochs?: number
  readonly dropout?: number
  readonly beta?: number
  readonly temperature?: number
  readonly direction?: Loss.Direction
}

export const make = (o: Options = {}) => {
  const beta = o.beta ?? 1
  const T = o.temperature ?? 1
  const direction = o.direction ?? "forward"
  return Pipeline.make({
    name: `sd-dropout-${direction}`,
    description: `SD-Dropout: two dropout samples of one MLP, ${direction} KL between them`,
    seed: o.seed ?? 1,
    data: Pipeline.data("fashion-or-mnist"),
    models: { net: Model.mlp({ hidden: [256, 256], classes: 10, dropout: o.dropout ?? 0.3 }) },
    phases: [
      Phase.make({
        name: "train",
        epochs: o.epochs ?? 3,
        step: Step.start.pipe(
          Step.forward("net", { as: ["a", "b"] }),
          Step.loss(
            {
              ce: Loss.crossEntropy({ logits: "a" }),
              ab: Loss.kl({ teacher: Loss.detach("b"), student: "a", temperature: T, direction }),
              ba: Loss.kl({ teacher: Loss.detach("a"), student: "b", temperature: T, direction }),
            },
            { weights: { ce: 1, ab: beta / 2, ba: beta / 2 } },
          ),
          Step.optimize("net", adam),
        ),
        evaluate: Phase.evaluate({ models: ["net"], metrics: ["accuracy", "nll", "ece"] }),
      }),
    ],
  })
}

export default make()
