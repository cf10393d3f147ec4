/**
 * RFS — "Rethinking Few-Shot Image Classification: a Good Embedding Is All You Need?" (Tian et
 * al., 2020; WangYueFt/rfs): a plain supervised embedding plus a linear probe per episode is a
 * strong few-shot learner, and a born-again (self-distilled) embedding is better still.
 *
 * Fashion-MNIST's classes 0–4 (T-shirt, trouser, pullover, dress, coat) are the *base* classes:
 * both generations train only on their images (`data.classes`). Classes 5–9 (sandal, shirt,
 * sneaker, bag, ankle boot) are *novel*: never seen in training, they are used only by the
 * few-shot evaluation on the test split — 5-way 1-shot and 5-shot episodes (600 each, 15 queries
 * per class), a logistic-regression probe (and nearest-centroid) on the L2-normalised `dense0`
 * features (the W2 CNN's penultimate layer, 128 wide). With only 5 novel classes, a 5-way episode
 * always uses all of them; episodes differ in their images.
 *
 * - gen0: CE on the base classes.
 * - gen1: same architecture, re-initialised, L = ½·CE(s, y) + ½·T²·KL(softmax(t/T) ‖ softmax(s/T))
 *   against the frozen gen0, T = 4 (RFS's `train_distillation.py`: γ = α = 0.5, `kd_T` = 4).
 *
 * The classifier keeps all 10 outputs (the data set's classes); the novel ones are never a
 * training target.
 */
import { FewShot, Loss, Phase, Pipeline, Step } from "../dsl/index.js"
import { adam, cnn } from "./common.js"

export interface Options {
  readonly seed?: number
  readonly epochs?: number
  /** Base classes (default 0–4); the few-shot classes are the others of the 10. */
  readonly base?: ReadonlyArray<number>
  readonly temperature?: number
  /** Episodes per shot setting (default 600). */
  readonly episodes?: number
  /** Train on at most this many base-class images per generation. */
  readonly limit?: number
  /** The tap the embedding is read from (default `dense0`; `flat` is the last conv block's 3136 features). */
  readonly tap?: string
}

export const make = (o: Options = {}) => {
  const epochs = o.epochs ?? 3
  const base = o.base ?? [0, 1, 2, 3, 4]
  const novel = Array.from({ length: 10 }, (_, i) => i).filter((c) => !base.includes(c))
  const T = o.temperature ?? 4
  const data = { classes: base, ...(o.limit !== undefined ? { limit: o.limit } : {}) }
  const fewShot = FewShot.make({
    classes: novel,
    tap: o.tap ?? "dense0",
    ways: 5,
    shots: [1, 5],
    queries: 15,
    episodes: o.episodes ?? 600,
    probes: ["logistic", "centroid"],
  })
  const evaluate = (model: string) =>
    Phase.evaluate({ models: [model], splits: [], metrics: [], every: epochs, fewShot })
  return Pipeline.make({
    name: "rfs",
    description: `RFS: W2 CNN embedding trained on classes ${base.join(", ")}, born-again once, few-shot probed on classes ${novel.join(", ")}`,
    seed: o.seed ?? 1,
    data: Pipeline.data("fashion-or-mnist"),
    models: { gen0: cnn(), gen1: cnn() },
    phases: [
      Phase.make({
        name: "gen0",
        epochs,
        data,
        step: Step.start.pipe(
          Step.forward("gen0", { as: "s" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "s" }) }),
          Step.optimize("gen0", adam),
        ),
        evaluate: evaluate("gen0"),
      }),
      Phase.make({
        name: "gen1",
        epochs,
        data,
        init: { gen1: Phase.fresh },
        step: Step.start.pipe(
          Step.forward("gen0", { as: "t", mode: "frozen" }),
          Step.forward("gen1", { as: "s" }),
          Step.loss(
            {
              ce: Loss.crossEntropy({ logits: "s" }),
              kd: Loss.kl({ teacher: "t", student: "s", temperature: T }),
            },
            { weights: { ce: 0.5, kd: 0.5 } },
          ),
          Step.optimize("gen1", adam),
        ),
        evaluate: evaluate("gen1"),
      }),
    ],
  })
}

export default make()
