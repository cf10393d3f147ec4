/**
 * BNext-style binary student (Guo et al., 2022, "Join the High Accuracy Club on ImageNet with A
 * Binary Neural Network Ticket"): a network whose hidden conv/dense layers compute with binary
 * weights `α·sign(W)` on binary activations `sign(x)`, trained with a straight-through estimator
 * whose temperature falls ×0.9 per epoch, and distilled from several float teachers at once with
 * BNext's weighting (`train_assistant_group_amp.py`):
 *
 *   L = Σᵢ αᵢ·CE(s, softmax(tᵢ)),  α = softmax(sg(CE(s, softmax(t₁)), …, CE(s, softmax(tₙ)))) per sample.
 *
 * Phases: two float teachers on labels (the W2 CNN and the W1 MLP, all training images), then
 * three students of one architecture (the W2 CNN with batch norm) on the first `limit` training
 * images with a light random crop: `binaryKd` (binary, multi-teacher KD, no labels — as BNext),
 * `binary` (binary, labels alone) and `float` (the same architecture in float, labels alone).
 * The float–binary gap closed by KD is `(binaryKd − binary) / (float − binary)`.
 *
 * @example
 * ```ts
 * import { Codec } from "./dsl/index.js"
 * import * as Bnext from "./pipelines/bnext.js"
 * const p = Bnext.make({ seed: 2, studentEpochs: 4, weighting: "mean" })
 * p.phases.map((ph) => ph.name) // ["teacher-cnn", "teacher-mlp", "binary-kd", "binary", "float"]
 * ```
 *
 * @since 0.1.0
 */
import { Augment, Loss, Model, Optimizer, Phase, Pipeline, Ramp, Step } from "../dsl/index.js"
import { cnn, mlp, supervised } from "./common.js"

export interface Options {
  readonly seed?: number
  /** Epochs of each teacher on all training images (default 2 for the CNN; the MLP gets one more). */
  readonly teacherEpochs?: number
  /** Epochs of each student (default 10). */
  readonly studentEpochs?: number
  /** The students see only the first `limit` training images (default 10,000). */
  readonly limit?: number
  /** Teacher weighting of the KD student (default BNext's `softmax-loss`). */
  readonly weighting?: Loss.TeacherWeighting
  /** Softmax temperature of the distillation (default 1, as BNext). */
  readonly kdTemperature?: number
  /** Initial straight-through temperature τ₀ (default 1); τ = τ₀·decay^⌊epoch⌋. */
  readonly binaryTemperature?: number
  /** Per-epoch factor of the straight-through temperature (default 0.9, as BNext). */
  readonly decay?: number
  /** Random-crop padding of the students' images, in pixels (default 2; 0: no augmentation). */
  readonly cropPad?: number
  /** Students' batch size (default 128). */
  readonly batchSize?: number
}

/** The students' float architecture: the W2 CNN with batch norm (conv0 and the head stay float). */
export const architecture = () => cnn({ batchNorm: true })

/** The straight-through temperature: τ₀·decay^⌊epoch⌋ (BNext multiplies it by 0.9 after each epoch). */
export const temperature = (o: Options = {}): Ramp.Ramp =>
  Ramp.stepDecay({ from: o.binaryTemperature ?? 1, factor: o.decay ?? 0.9, every: 1, unit: "epoch" })

/** The binary student: weights and activations of the hidden layers binarised. */
export const binaryStudent = (o: Options = {}) =>
  Model.binary(architecture(), { binarizeActivations: true, temperature: temperature(o) })

/** Adam 1e-3 with a cosine decay to 0 over each student phase. */
const studentOptimizer = Optimizer.adam({ lr: Ramp.cosine({ from: 1e-3, to: 0 }) })

export const make = (o: Options = {}): Pipeline.Pipeline => {
  const pad = o.cropPad ?? 2
  const begin = pad > 0 ? Step.start.pipe(Step.augment(Augment.randomCrop({ pad }))) : Step.start
  const limit = o.limit ?? 10000
  const epochs = o.studentEpochs ?? 10
  const batchSize = o.batchSize ?? 128
  const teacherEpochs = o.teacherEpochs ?? 2
  const weighting = o.weighting ?? "softmax-loss"
  const onLabels = (model: "binary" | "float") =>
    Phase.make({
      name: model,
      epochs,
      batchSize,
      data: { limit },
      step: begin.pipe(
        Step.forward(model, { as: "s" }),
        Step.loss({ ce: Loss.crossEntropy({ logits: "s" }) }),
        Step.optimize(model, studentOptimizer),
      ),
      evaluate: Phase.evaluate({ models: [model] }),
    })
  return Pipeline.make({
    name: "bnext",
    description: `BNext-style binary student (weights + activations, STE τ×${o.decay ?? 0.9}/epoch) distilled from a CNN and an MLP teacher (${weighting}), beside the binary and float students on labels`,
    seed: o.seed ?? 1,
    data: Pipeline.data("fashion-or-mnist"),
    models: {
      teacherCnn: cnn(),
      teacherMlp: mlp(),
      binaryKd: binaryStudent(o),
      binary: binaryStudent(o),
      float: architecture(),
    },
    phases: [
      supervised("teacherCnn", { name: "teacher-cnn", epochs: teacherEpochs }),
      supervised("teacherMlp", { name: "teacher-mlp", epochs: teacherEpochs + 1 }),
      Phase.make({
        name: "binary-kd",
        epochs,
        batchSize,
        data: { limit },
        step: begin.pipe(
          Step.forward("teacherCnn", { as: "t1", mode: "frozen" }),
          Step.forward("teacherMlp", { as: "t2", mode: "frozen" }),
          Step.forward("binaryKd", { as: "s" }),
          Step.loss({
            kd: Loss.multiTeacher({
              student: "s",
              teachers: ["t1", "t2"],
              weighting,
              temperature: o.kdTemperature ?? 1,
            }),
          }),
          Step.optimize("binaryKd", studentOptimizer),
        ),
        evaluate: Phase.evaluate({
          models: ["binaryKd"],
          metrics: ["accuracy", "nll", "agreement"],
          reference: "teacherCnn",
        }),
      }),
      onLabels("binary"),
      onLabels("float"),
    ],
  })
}

export default make()
