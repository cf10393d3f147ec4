/**
 * Multi-view domain generalisation (recipe 15): leave-one-domain-out training on Rotated MNIST /
 * Rotated Fashion-MNIST (DomainBed's domains 0°, 15°, 30°, 45°, 60°, 75°, each a disjoint subset
 * of the images rotated by its angle), with an episodic multi-domain update (MLDG, Li et al.
 * 2018: an inner SGD step on the meta-train domains, the meta-test domain's loss at the
 * inner-updated weights, both gradients applied; first-order as in DomainBed), model selection
 * on a training-domain validation split, per-domain accuracy, and test-time augmentation (mean of
 * the probabilities of several rotated/translated views) reported beside the single view.
 */
import { Augment, Domain, Episodic, Loss, Phase, Pipeline, Step, Tta } from "../dsl/index.js"
import { adam, cnn } from "./common.js"

export interface Options {
  readonly seed?: number
  readonly epochs?: number
  /** The held-out domain ids (default `[5]`: 75°). */
  readonly heldOut?: ReadonlyArray<number>
  /** Use the episodic (MLDG) update (default true); false: plain ERM on the pooled domains. */
  readonly mldg?: boolean
  /** MLDG's inner SGD rate α (default 0.1) and meta-test weight β (default 1). */
  readonly innerLr?: number
  readonly beta?: number
  /** Training images per phase (all domains together), default all. */
  readonly limit?: number
  /** TTA views, including the identity view (default 8). */
  readonly views?: number
  readonly source?: "mnist" | "fashion-mnist" | "fashion-or-mnist"
  readonly batchSize?: number
}

/** The TTA views: the identity, then random rotations up to ±15° with shifts up to 2 pixels. */
export const views = (n = 8) =>
  Tta.repeat(n, [Augment.rotate({ degrees: 15 }), Augment.translate({ max: 2 })])

export const make = (o: Options = {}) => {
  const domains = Domain.rotated()
  const heldOut = o.heldOut ?? [5]
  const train = Domain.others(domains, heldOut)
  const validation: Phase.EvalSplit = { split: "validation", domains: train }
  return Pipeline.make({
    name: o.mldg === false ? "multi-view-dg-erm" : "multi-view-dg",
    description:
      "leave-one-rotation-out (Rotated MNIST domains) with an MLDG episodic update, training-domain validation selection and TTA",
    seed: o.seed ?? 1,
    data: Pipeline.data(o.source ?? "fashion-or-mnist", { validation: 6000, domains }),
    models: { net: cnn() },
    phases: [
      Phase.make({
        name: "train",
        epochs: o.epochs ?? 3,
        batchSize: o.batchSize ?? 128,
        data: { domains: train, ...(o.limit !== undefined ? { limit: o.limit } : {}) },
        step: Step.start.pipe(
          Step.forward("net", { as: "o" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
          Step.optimize(
            "net",
            adam,
            o.mldg === false
              ? {}
              : { episodic: Episodic.mldg({ innerLr: o.innerLr ?? 0.1, beta: o.beta ?? 1 }) },
          ),
        ),
        evaluate: Phase.evaluate({
          models: ["net"],
          splits: [validation, { split: "test", domains: heldOut }, { split: "test" }],
          metrics: ["accuracy", "nll"],
          perDomain: true,
          tta: views(o.views ?? 8),
          select: { key: `validation@d${train.join("+")}/net/accuracy`, mode: "max" },
        }),
      }),
    ],
  })
}

export default make()
