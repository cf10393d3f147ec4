/**
 * Progressive random dropout for domain generalisation (PLACE; lingeringlight/PLACEdropout):
 * at every step a random layer is picked and a random subset of its channels dropped, with a
 * rate rising as p(t) = p_max·(2/π)·arctan(t/v); evaluated on shifted test splits (rotation,
 * noise, blur, contrast corruptions) beside the clean one.
 */
import { Augment, Loss, Phase, Pipeline, Ramp, Step } from "../dsl/index.js"
import { adam, cnn } from "./common.js"

export interface Options {
  readonly seed?: number
  readonly epochs?: number
  readonly maxRate?: number
  /** Steps at which the rate reaches half its maximum. */
  readonly v?: number
  /** Train the same net without channel drop (the baseline). */
  readonly baseline?: boolean
}

export const shifted: ReadonlyArray<Phase.EvalSplit> = [
  { split: "test" },
  ...Augment.corruptionKinds.map((k) => ({ split: "test" as const, corruption: Augment.corruption(k, 3) })),
]

export const make = (o: Options = {}) =>
  Pipeline.make({
    name: o.baseline ? "place-baseline" : "place",
    description: "progressive random channel dropout (arctan ramp), evaluated on corrupted test splits",
    seed: o.seed ?? 1,
    data: Pipeline.data("fashion-or-mnist"),
    models: { net: cnn() },
    phases: [
      Phase.make({
        name: "train",
        epochs: o.epochs ?? 3,
        step: Step.start.pipe(
          Step.augment(Augment.randomCrop({ pad: 2 }), Augment.flipX()),
          Step.forward(
            "net",
            o.baseline
              ? { as: "o" }
              : {
                  as: "o",
                  channelDrop: {
                    rate: Ramp.arctan({ max: o.maxRate ?? 0.33, v: o.v ?? 500 }),
                    layers: ["conv0", "conv1", "dense0"],
                  },
                },
          ),
          Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
          Step.optimize("net", adam),
        ),
        evaluate: Phase.evaluate({ models: ["net"], splits: shifted, metrics: ["accuracy", "nll"] }),
      }),
    ],
  })

export default make()
