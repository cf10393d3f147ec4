/**
 * FS-BAN (recipe 3): born-again distillation with FS-BAN's two objectives for the generation
 * step (Zhao et al., "Born-Again Networks for Domain Generalization Few-Shot Classification",
 * `fsban/methods/meta_distill.py`):
 *
 * - a **meta-controlled temperature**: T is a learned hyper-parameter (`Learned.positive`), moved
 *   by a look-ahead meta-update — a virtual SGD step of the student on part of the batch, then
 *   the gradient of the student's cross-entropy on the held-out rows after that step, with
 *   respect to T (`Learned.lookahead`);
 * - **mutual regularisation**: the generation-0 teacher is not frozen but trained on the same
 *   symmetric KL, so teacher and student pull towards each other (the reference steps the
 *   teacher's optimiser on the distillation loss too).
 *
 * The student's loss is the reference's: L = CE(s, y) + 0.8 · ½[KL_T(t ‖ s) + KL_T(s ‖ t)].
 * With `temperature` a number, T is fixed (the baseline the claim is about). The reference's
 * third objective, a teacher from a mismatched domain, is not part of this recipe.
 *
 * @example
 * ```ts
 * import * as FsBan from "./pipelines/fs-ban.js"
 * const learned = FsBan.make({ temperature: "learned", mutual: true, seed: 2 })
 * const fixed = FsBan.make({ temperature: 4 })
 * learned.params // { T: … }
 * ```
 *
 * @since 0.1.0
 */
import { Learned, Loss, Optimizer, Phase, Pipeline, Ramp, Step } from "../dsl/index.js"
import { adam, mlp } from "./common.js"

export interface Options {
  readonly seed?: number
  /** A fixed temperature, or `"learned"` (initial value `init`, default 4). */
  readonly temperature?: number | "learned"
  readonly init?: number
  /** Train the teacher on the symmetric KL too (default false). */
  readonly mutual?: boolean
  /** Weight of the symmetric KL (default 0.8, as the reference). */
  readonly alpha?: number
  readonly teacherEpochs?: number
  readonly studentEpochs?: number
  /** Training images (default 5,000). */
  readonly limit?: number
  /** Held-out validation images (default 5,000), for choosing a fixed temperature. */
  readonly validation?: number
  /** The meta-update: Adam's rate on T's unconstrained value (default 0.02) and the virtual SGD rate (default 0.1). */
  readonly metaLr?: number
  readonly virtualLr?: number
  readonly batchSize?: number
}

/** Where the fixed temperature sits in {@link make}'s pipeline, for sweeps and `--set`. */
export const temperaturePath = "phases[1].step.stages[2].terms.js.temperature"

/**
 * The pipeline: gen0 (the W1 MLP on labels), then gen1 (a fresh W1 MLP) distilled from gen0 with
 * CE + α·symmetric KL at T; T fixed or learned, gen0 frozen or trained with it (mutual). Both
 * phases are evaluated on the validation and test splits; gen1's metrics include `learned/T`
 * when T is learned.
 */
export const make = (o: Options = {}) => {
  const learned = o.temperature === "learned"
  const T: Ramp.Num = learned ? Ramp.learned("T") : (o.temperature ?? 4)
  const mutual = o.mutual ?? false
  const limit = o.limit ?? 5000
  const splits: ReadonlyArray<Phase.EvalSplit> = [{ split: "validation" }, { split: "test" }]
  return Pipeline.make({
    name: `fs-ban${learned ? "-learned-t" : `-t${T}`}${mutual ? "-mutual" : ""}`,
    description: `FS-BAN born-again generation: CE + ${o.alpha ?? 0.8}·symmetric KL at ${learned ? "a learned temperature (look-ahead meta-update)" : `T = ${T}`}${mutual ? ", teacher trained with the student (mutual regularisation)" : ", frozen teacher"}`,
    seed: o.seed ?? 1,
    data: Pipeline.data("fashion-or-mnist", { validation: o.validation ?? 5000 }),
    models: { gen0: mlp(), gen1: mlp() },
    ...(learned ? { params: { T: Learned.positive(o.init ?? 4, { min: 0.5 }) } } : {}),
    phases: [
      Phase.make({
        name: "gen0",
        epochs: o.teacherEpochs ?? 10,
        batchSize: o.batchSize ?? 128,
        data: { limit },
        step: Step.start.pipe(
          Step.forward("gen0", { as: "t" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "t" }) }),
          Step.optimize("gen0", adam),
        ),
        evaluate: Phase.evaluate({ models: ["gen0"], splits }),
      }),
      Phase.make({
        name: "gen1",
        epochs: o.studentEpochs ?? 10,
        batchSize: o.batchSize ?? 128,
        data: { limit },
        init: { gen1: Phase.fresh },
        step: Step.start.pipe(
          Step.forward("gen0", { as: "t", ...(mutual ? {} : { mode: "frozen" as const }) }),
          Step.forward("gen1", { as: "s" }),
          Step.loss(
            {
              ce: Loss.crossEntropy({ logits: "s" }),
              js: Loss.kl({ teacher: "t", student: "s", temperature: T, direction: "symmetric" }),
            },
            { weights: { ce: 1, js: o.alpha ?? 0.8 } },
          ),
          Step.optimize(mutual ? ["gen1", "gen0"] : "gen1", adam, {
            ...(learned
              ? {
                  learn: Learned.lookahead("T", {
                    optimizer: Optimizer.adam({ lr: o.metaLr ?? 0.02 }),
                    objective: Loss.crossEntropy({ logits: "s" }),
                    lr: o.virtualLr ?? 0.1,
                  }),
                }
              : {}),
          }),
        ),
        evaluate: Phase.evaluate({ models: ["gen1", "gen0"], splits }),
      }),
    ],
  })
}

export default make({ temperature: "learned", mutual: true })
