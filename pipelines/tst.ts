/**
 * TST, "Teaching What You Should Teach" (recipe 12; Shao et al., IJCAI 2023, shaoshitong/TST): a
 * learned, differentiable augmenter searches for images that the teacher still gets right and the
 * student gets wrong, and the student is distilled on those beside the original ones.
 *
 * One distillation phase holds two updates per step:
 * 1. the augmenter's: `xa = g(x)`; teacher and student in evaluation mode (differentiable, not
 *    updated) on `xa`; `L_g = −log p_t(y | xa) − log(1 − p_s(y | xa))` (`Loss.tst`), minimised
 *    for the augmenter's magnitudes and probabilities (SGD, as the reference);
 * 2. the student's: fresh augmented images `xb = g(x)` (augmenter frozen), frozen teacher,
 *   `L = (1 − α)·CE(s, y) + α·½[T²KL(t ‖ s) + T²KL(t_b ‖ s_b)]` — half KD on the original
 *   batch, half on the augmented one.
 *
 * The reference alternates the augmenter's epochs with the student's; here both updates run in
 * every step (one augmenter step, then one student step). The baseline phase `kd` trains the same
 * student from the same teacher with vanilla KD, `(1 − α)·CE + α·T²KL(t ‖ s)`, for the same number
 * of student steps, and the control phase `random-aug` trains a third on the student half of the
 * TST step with an augmenter whose magnitudes are random and never trained.
 *
 * @example
 * ```ts
 * import * as Tst from "./pipelines/tst.js"
 * const p = Tst.make({ seed: 2, studentEpochs: 5, limit: 5000 })
 * p.phases.map((ph) => ph.name) // ["teacher", "tst", "kd", "random-aug"]
 * ```
 *
 * @since 0.1.0
 */
import { Loss, Model, Optimizer, Phase, Pipeline, Step } from "../dsl/index.js"
import { adam, cnn, kdStep, mlp, supervised } from "./common.js"

export interface Options {
  readonly seed?: number
  readonly teacherEpochs?: number
  readonly studentEpochs?: number
  /** Training images of the student phases (default all). */
  readonly limit?: number
  readonly temperature?: number
  readonly alpha?: number
  /** The augmenter's SGD rate (default 0.05). */
  readonly augmenterLr?: number
  readonly batchSize?: number
  /**
   * Add the control phase `random-aug` (default true): the same student half on an augmenter
   * with random, never-trained magnitudes — augmentation without the learning.
   */
  readonly control?: boolean
}

/**
 * The student's half of a TST step: fresh augmented images `xb` from `augmenter` (frozen), a frozen
 * teacher on both, and `(1 − α)·CE + α·½[T²KL(t ‖ s) + T²KL(t_b ‖ s_b)]` for `student`.
 */
const distilOnBoth = (augmenter: string, student: string, o: Options) => {
  const T = o.temperature ?? 4
  const alpha = o.alpha ?? 0.9
  return [
    Step.forward(augmenter, { as: "xb", mode: "frozen" }),
    Step.forward("teacher", { as: "t", mode: "frozen" }),
    Step.forward("teacher", { as: "tb", mode: "frozen", input: "xb" }),
    Step.forward(student, { as: "s" }),
    Step.forward(student, { as: "sb", input: "xb" }),
    Step.loss(
      {
        ce: Loss.crossEntropy({ logits: "s" }),
        kd: Loss.kl({ teacher: "t", student: "s", temperature: T }),
        kdAug: Loss.kl({ teacher: "tb", student: "sb", temperature: T }),
      },
      { weights: { ce: 1 - alpha, kd: alpha / 2, kdAug: alpha / 2 } },
    ),
    Step.optimize(student, adam),
  ] as const
}

/** The TST step: the augmenter's update, then the student's on original and augmented images. */
export const tstStep = (o: Options = {}) => {
  const [xb, t, tb, s, sb, loss, optimize] = distilOnBoth("augmenter", "tstStudent", o)
  return Step.start.pipe(
    // 1. the augmenter: the teacher should stay right, the student be wrong, on g(x)
    Step.forward("augmenter", { as: "xa" }),
    Step.forward("teacher", { as: "ta", mode: "eval", input: "xa" }),
    Step.forward("tstStudent", { as: "sa", mode: "eval", input: "xa" }),
    Step.loss({ tst: Loss.tst({ teacher: "ta", student: "sa" }) }, { as: "lossG" }),
    Step.optimize("augmenter", Optimizer.sgd({ lr: o.augmenterLr ?? 0.05 }), { loss: "lossG" }),
    // 2. the student: half KD on the batch, half on fresh augmented images
    xb,
    t,
    tb,
    s,
    sb,
    loss,
    optimize,
  )
}

/**
 * The control's step: the student half of {@link tstStep} on an augmenter that is never trained
 * (`randomAugmenter`, `init: "random"`: a fixed random policy), student `randomStudent`.
 */
export const randomStep = (o: Options = {}) => {
  const [xb, t, tb, s, sb, loss, optimize] = distilOnBoth("randomAugmenter", "randomStudent", o)
  return Step.start.pipe(xb, t, tb, s, sb, loss, optimize)
}

/**
 * The pipeline: the W2 CNN teacher on labels; the W1 MLP student with TST (`tst`, models
 * `tstStudent` and `augmenter`); the same student with vanilla KD (`kd`, model `kdStudent`); and
 * (unless `control: false`) the random-augmentation control (`random-aug`, models
 * `randomStudent` and `randomAugmenter`).
 */
export const make = (o: Options = {}) => {
  const T = o.temperature ?? 4
  const alpha = o.alpha ?? 0.9
  const epochs = o.studentEpochs ?? 15
  const data = o.limit !== undefined ? { data: { limit: o.limit } } : {}
  const evaluate = (model: string) =>
    Phase.evaluate({
      models: [model],
      metrics: ["accuracy", "nll", "ece", "agreement"],
      reference: "teacher",
    })
  return Pipeline.make({
    name: "tst",
    description: `TST: a learned augmenter finds images the CNN teacher gets right and the MLP student wrong; the student distils on them and on the originals (T=${T}, α=${alpha}), beside vanilla KD`,
    seed: o.seed ?? 1,
    data: Pipeline.data("fashion-or-mnist"),
    models: {
      teacher: cnn(),
      tstStudent: mlp(),
      kdStudent: mlp(),
      augmenter: Model.augmenter({}),
      ...(o.control === false
        ? {}
        : { randomStudent: mlp(), randomAugmenter: Model.augmenter({ init: "random" }) }),
    },
    phases: [
      supervised("teacher", { epochs: o.teacherEpochs ?? 2 }),
      Phase.make({
        name: "tst",
        epochs,
        batchSize: o.batchSize ?? 128,
        ...data,
        step: tstStep(o),
        evaluate: evaluate("tstStudent"),
      }),
      Phase.make({
        name: "kd",
        epochs,
        batchSize: o.batchSize ?? 128,
        ...data,
        step: kdStep("teacher", "kdStudent", { temperature: T, alpha }),
        evaluate: evaluate("kdStudent"),
      }),
      ...(o.control === false
        ? []
        : [
            Phase.make({
              name: "random-aug",
              epochs,
              batchSize: o.batchSize ?? 128,
              ...data,
              step: randomStep(o),
              evaluate: evaluate("randomStudent"),
            }),
          ]),
    ],
  })
}

export default make()
