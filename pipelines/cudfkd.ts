/**
 * CuDFKD, curriculum data-free knowledge distillation (Li et al., "Dynamic data-free knowledge
 * distillation by easy-to-hard learning strategy", 2023; ljrprocc/DataFree `cudfkd.py`): a student
 * learns from a frozen teacher **without a single real training image**. A generator turns noise
 * into images; each step first moves the generator, then the student:
 *
 *   generator:  L_G = w_ent·(log K − H(p̄_T)) + w_adv·(−mean mᵢ·T²·KL(T ‖ S)) + w_oh·CE(T, argmax T) + w_bn·Σ_l ‖μ_l − μ̂_l‖ + ‖σ²_l − σ̂²_l‖
 *   student:    L_S = mean vᵢ(λ)·lᵢ,  lᵢ = T²·KL(softmax(tᵢ/T) ‖ softmax(sᵢ/T)),  vᵢ = (1 + e^{−λ}) / (1 + e^{lᵢ − λ})
 *
 * with `p̄_T` the batch-mean teacher prediction at temperature 20 (the class-balance/entropy term),
 * `mᵢ` = 1 where teacher and student agree (the reference's `adv_type kl`), the batch-norm gaps
 * of the teacher's normalisation layers (DeepInversion), and `λ` growing linearly over the phase so
 * that the student learns the easy samples (small `lᵢ`) first and the hard ones later.
 *
 * Gradient routing, as the reference: in the generator's update both teacher and student run in
 * evaluation mode and stay differentiable (`mode: "eval"`), but only the generator is optimised;
 * the student's update reads fresh samples of the just-updated generator in evaluation mode,
 * detached (`mode: "frozen"`, as `sample()` under `torch.no_grad()`), and a frozen teacher.
 *
 * Phases: `teacher` (the W2 CNN with batch norm, on labels: the BN statistics are what the
 * generator matches), `data-free` (generator + student, no training images: `Step.readsBatch` is
 * false, so the runner draws none; `samples` generated images per epoch), `real` (the same
 * student architecture on the first `samples` real images with labels, as many steps: what real
 * data would have given) and the ablation `untrained-generator` (the same student distillation
 * on samples of a generator that never learns; `ablation: false` drops it).
 *
 * @example
 * ```ts
 * import * as Cudfkd from "./pipelines/cudfkd.js"
 * const p = Cudfkd.make({ seed: 2, epochs: 2, samples: 3200 })
 * p.phases.map((ph) => ph.name) // ["teacher", "data-free", "real", "untrained-generator"]
 * ```
 *
 * @since 0.1.0
 */
import { Loss, Model, Optimizer, Phase, Pipeline, Ramp, Step } from "../dsl/index.js"
import { cnn, smallCnn, supervised } from "./common.js"

export interface Options {
  readonly seed?: number
  /** Epochs of the teacher on all training images (default 1). */
  readonly teacherEpochs?: number
  /** Epochs of the data-free phase, of the real-data student and of the ablation (default 3). */
  readonly epochs?: number
  /** Generated samples per data-free epoch, and real images of the real-data student (default 6,400). */
  readonly samples?: number
  /** Batch size of the data-free, real-data and ablation phases (default 64). */
  readonly batchSize?: number
  /** Latent size of the generator (default 64). */
  readonly latent?: number
  /** Channels of the generator's last block (default 16; the first blocks have twice as many). */
  readonly width?: number
  /** Learning rate of the generator (default 1e-3, the reference's `lr_g`). */
  readonly generatorLr?: number
  /** Learning rate of the student (default 1e-3, cosine to 0 over the phase). */
  readonly studentLr?: number
  /** Weights of the generator's terms (defaults: the reference's CIFAR-10 script, with adv 0.5). */
  readonly weights?: {
    readonly balance?: number
    readonly adversarial?: number
    readonly oneHot?: number
    readonly bn?: number
  }
  /** Curriculum threshold λ: linear from `from` to `to` over the phase (default 2 → 8; reference λ₀ = 2). */
  readonly lambda?: { readonly from: number; readonly to: number }
  /** Distillation temperature of the student and of the adversarial term (default 3). */
  readonly temperature?: number
  /**
   * Add the ablation phase `untrained-generator` (default true): the same student distilled the
   * same way, for as many steps, on samples of a generator that never learns (its random
   * initialisation) — what the generator's training adds.
   */
  readonly ablation?: boolean
}

/** The teacher: the W2 CNN with batch norm (its normalisation statistics guide the generator). */
export const teacher = () => cnn({ batchNorm: true })

/** The student (data-free and real-data alike): conv 8 → conv 16 → dense 32. */
export const student = () => smallCnn()

/** The generator: noise → 7×7 → 14×14 → 28×28×1 through a sigmoid. */
export const generator = (o: Options = {}) =>
  Model.generator({ latent: o.latent ?? 64, width: o.width ?? 16, output: [28, 28, 1] })

/**
 * The student's half of a data-free step: fresh noise through `generator` (frozen), a frozen
 * teacher and `student` on those images, the curriculum-weighted KL (λ linear from
 * `lambda.from` to `lambda.to`), and the student's Adam step (cosine to 0).
 */
const studentHalf = (generator: string, student: string, o: Options) => {
  const lambda = o.lambda ?? { from: 2, to: 8 }
  return [
    Step.noise({ as: "zs", dim: o.latent ?? 64 }),
    Step.forward(generator, { as: "xs", input: "zs", mode: "frozen" }),
    Step.forward("teacher", { as: "t", mode: "frozen", input: "xs" }),
    Step.forward(student, { as: "s", input: "xs" }),
    Step.loss({
      kd: Loss.curriculum({
        teacher: "t",
        student: "s",
        temperature: o.temperature ?? 3,
        lambda: Ramp.linear({ from: lambda.from, to: lambda.to }),
        weighting: "log",
      }),
    }),
    Step.optimize(student, Optimizer.adam({ lr: Ramp.cosine({ from: o.studentLr ?? 1e-3, to: 0 }) })),
  ] as const
}

/**
 * The data-free step: one generator update (maximising the teacher–student disagreement under
 * the class-balance, one-hot and BN-statistics priors), then one student update on fresh samples.
 *
 * @example
 * ```ts
 * import { Step } from "./dsl/index.js"
 * import { dataFreeStep } from "./pipelines/cudfkd.js"
 * Step.readsBatch(dataFreeStep()) // false
 * ```
 */
export const dataFreeStep = (o: Options = {}) => {
  const latent = o.latent ?? 64
  const T = o.temperature ?? 3
  const w = o.weights ?? {}
  return Step.start.pipe(
    // 1. the generator's update: teacher and student in evaluation mode, differentiable
    Step.noise({ as: "z", dim: latent }),
    Step.forward("generator", { as: "xg", input: "z" }),
    Step.forward("teacher", { as: "tg", mode: "eval", input: "xg", taps: ["bn0", "bn1"] }),
    Step.forward("student", { as: "sg", mode: "eval", input: "xg" }),
    Step.loss(
      {
        balance: Loss.classBalance({ logits: "tg", temperature: 20 }),
        adversarial: Loss.adversarial({ teacher: "tg", student: "sg", temperature: T, mask: "agree" }),
        oneHot: Loss.hardDistill({ teacher: "tg", student: "tg" }),
        bn: Loss.bnStatistics({ taps: ["tg.bn0", "tg.bn1"], norm: "l2" }),
      },
      {
        as: "lossG",
        weights: {
          balance: w.balance ?? 20,
          adversarial: w.adversarial ?? 0.5,
          oneHot: w.oneHot ?? 1,
          bn: w.bn ?? 1,
        },
      },
    ),
    Step.optimize("generator", Optimizer.adam({ lr: o.generatorLr ?? 1e-3 }), { loss: "lossG" }),
    // 2. the student's update: fresh samples of the updated generator, detached; frozen teacher
    ...studentHalf("generator", "student", o),
  )
}

/**
 * The ablation's step: the student half of {@link dataFreeStep} on a generator that is never
 * trained (`untrainedGenerator`, frozen at its random initialisation), student `noiseStudent`.
 *
 * @example
 * ```ts
 * import { Step } from "./dsl/index.js"
 * import { untrainedStep } from "./pipelines/cudfkd.js"
 * Step.readsBatch(untrainedStep()) // false
 * ```
 */
export const untrainedStep = (o: Options = {}) =>
  Step.start.pipe(...studentHalf("untrainedGenerator", "noiseStudent", o))

/**
 * The recipe: the teacher on labels, the data-free student, the real-data student and (unless
 * `ablation: false`) the untrained-generator ablation.
 *
 * @example
 * ```ts
 * import { make } from "./pipelines/cudfkd.js"
 * const small = make({ epochs: 1, samples: 1280, ablation: false })
 * small.phases[1]!.data.limit // 1280 generated samples per epoch
 * ```
 */
export const make = (o: Options = {}): Pipeline.Pipeline => {
  const epochs = o.epochs ?? 3
  const samples = o.samples ?? 6400
  const batchSize = o.batchSize ?? 64
  const ablation = o.ablation ?? true
  return Pipeline.make({
    name: "cudfkd",
    description: `CuDFKD: a student distilled from a batch-norm CNN teacher with zero real images (generator: class balance + adversarial KL + one-hot CE + BN statistics; student: curriculum KL), beside the same student on ${samples.toLocaleString("en")} real images`,
    seed: o.seed ?? 1,
    data: Pipeline.data("fashion-or-mnist"),
    models: {
      teacher: teacher(),
      generator: generator(o),
      student: student(),
      realStudent: student(),
      ...(ablation ? { untrainedGenerator: generator(o), noiseStudent: student() } : {}),
    },
    phases: [
      supervised("teacher", { name: "teacher", epochs: o.teacherEpochs ?? 1 }),
      Phase.make({
        name: "data-free",
        epochs,
        batchSize,
        data: { limit: samples },
        step: dataFreeStep(o),
        evaluate: Phase.evaluate({
          models: ["student"],
          metrics: ["accuracy", "nll", "agreement"],
          reference: "teacher",
        }),
      }),
      Phase.make({
        name: "real",
        epochs,
        batchSize,
        data: { limit: samples },
        step: Step.start.pipe(
          Step.forward("realStudent", { as: "s" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "s" }) }),
          Step.optimize(
            "realStudent",
            Optimizer.adam({ lr: Ramp.cosine({ from: o.studentLr ?? 1e-3, to: 0 }) }),
          ),
        ),
        evaluate: Phase.evaluate({ models: ["realStudent"] }),
      }),
      ...(ablation
        ? [
            Phase.make({
              name: "untrained-generator",
              epochs,
              batchSize,
              data: { limit: samples },
              step: untrainedStep(o),
              evaluate: Phase.evaluate({
                models: ["noiseStudent"],
                metrics: ["accuracy", "nll", "agreement"],
                reference: "teacher",
              }),
            }),
          ]
        : []),
    ],
  })
}

export default make()
