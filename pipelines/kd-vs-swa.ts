/**
 * Knowledge distillation vs stochastic weight averaging **at equal compute** (recipe 21 of the
 * method catalogue): two ways to improve the same compact student on scarce labels.
 *
 * - `kd`: the KD recipe — a W2 CNN teacher trained on all training images, then the W1 MLP
 *   student distilled from it on the first `limit` images (T = 4, α = 0.9). Its passes include
 *   the teacher's training and its forward on every student sample.
 * - `swa`: the same W1 MLP on the same `limit` images, trained on labels with Adam for the
 *   student's epochs, then fine-tuned with SGD at a constant rate while its weights are averaged
 *   once per epoch — for as many steps as make its forward + backward passes equal KD's
 *   (`Compute.matchSteps`), on `trainImages` training images (Fashion-MNIST's 60,000 by default;
 *   pass the number your data has).
 *
 * `make()` is the SWA side (the recipe file of `pipelines/json/`); `kd()` the KD side.
 *
 * @example
 * ```ts
 * import { Compute } from "./dsl/index.js"
 * import * as KdVsSwa from "./pipelines/kd-vs-swa.js"
 * const kd = Compute.total(Compute.pipeline(KdVsSwa.kd(), 60000))
 * const swa = Compute.total(Compute.pipeline(KdVsSwa.make(), 60000))
 * kd - swa < 2 * 128 // true: equal to within one step
 * ```
 *
 * @since 0.1.0
 */
import { Compute, Loss, Optimizer, Phase, Pipeline, Step } from "../dsl/index.js"
import { mlp, supervised } from "./common.js"
import * as Kd from "./kd.js"

export interface Options {
  readonly seed?: number
  /** Training images the students see (default 5,000: where distillation pays). */
  readonly limit?: number
  readonly teacherEpochs?: number
  readonly studentEpochs?: number
  /** SGD's constant learning rate while averaging (default 0.01). */
  readonly swaLr?: number
  /** Training images of the data (after validation), for the pass count (default 60,000). */
  readonly trainImages?: number
}

/** The KD side: teacher, then the distilled student (the KD recipe without its baseline phase). */
export const kd = (o: Options = {}): Pipeline.Pipeline => {
  const p = Kd.make({
    seed: o.seed ?? 1,
    teacherEpochs: o.teacherEpochs ?? 2,
    studentEpochs: o.studentEpochs ?? 15,
    limit: o.limit ?? 5000,
  })
  return { ...p, name: "kd-vs-swa-kd", phases: p.phases.filter((ph) => ph.name !== "baseline") }
}

/** The SWA side, its averaging phase as long as makes its passes equal {@link kd}'s. */
export const make = (o: Options = {}): Pipeline.Pipeline => {
  const limit = o.limit ?? 5000
  const epochs = o.studentEpochs ?? 15
  const unmatched = Pipeline.make({
    name: "kd-vs-swa-swa",
    description: "W1 MLP on labels, then SWA fine-tuning, at the forward + backward passes of the KD recipe",
    seed: o.seed ?? 1,
    data: Pipeline.data("fashion-or-mnist"),
    models: { student: mlp() },
    phases: [
      supervised("student", { name: "train", epochs, limit }),
      Phase.make({
        name: "swa",
        epochs: 1,
        batchSize: 128,
        data: { limit },
        step: Step.start.pipe(
          Step.forward("student", { as: "o" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
          Step.optimize("student", Optimizer.sgd({ lr: o.swaLr ?? 0.01, momentum: 0.9 })),
          Step.swa("student", { as: "student_swa", start: 0, every: 1, unit: "epoch" }),
        ),
        evaluate: Phase.evaluate({ models: ["student", "student_swa"] }),
      }),
    ],
  })
  const matched = Compute.matchSteps(unmatched, "swa", kd(o), o.trainImages ?? 60000)
  if (matched === undefined)
    throw new Error("kd-vs-swa: the SWA pipeline's training phase alone already spends more passes than KD")
  return matched
}

/** The SWA side at KD's passes on Fashion-MNIST (what `retort run pipelines/kd-vs-swa.ts` trains). */
export default make()
