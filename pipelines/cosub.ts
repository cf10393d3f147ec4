/**
 * cosub — co-training of submodels (Touvron et al., 2022; facebookresearch/deit engine.py):
 * stochastic depth samples two submodels o₁, o₂ of one weight set per sample; each is the
 * other's soft target with stop-gradient:
 * L = ¼[BCE(o₁, y) + BCE(o₂, y) + BCE(o₁, σ(o₂)ᵈ) + BCE(o₂, σ(o₁)ᵈ)].
 */
import { Loss, Phase, Pipeline, Step } from "../dsl/index.js"
import { adam, resnet } from "./common.js"

export interface Options {
  readonly seed?: number
  readonly epochs?: number
}

export const make = (o: Options = {}) =>
  Pipeline.make({
    name: "cosub",
    description: "cosub: two drop-path submodels of the W4 ResNet, mutual BCE with stop-gradient",
    seed: o.seed ?? 1,
    data: Pipeline.data("fashion-or-mnist"),
    models: { net: resnet() },
    phases: [
      Phase.make({
        name: "train",
        epochs: o.epochs ?? 3,
        step: Step.start.pipe(
          Step.forward("net", { as: ["o1", "o2"] }),
          Step.loss(
            {
              y1: Loss.bce({ logits: "o1" }),
              y2: Loss.bce({ logits: "o2" }),
              m12: Loss.bce({ logits: "o1", teacher: Loss.detach("o2") }),
              m21: Loss.bce({ logits: "o2", teacher: Loss.detach("o1") }),
            },
            { weights: { y1: 0.25, y2: 0.25, m12: 0.25, m21: 0.25 } },
          ),
          Step.optimize("net", adam),
        ),
      }),
    ],
  })

export default make()
