/**
 * Distil your own teacher into a small student on your own images, for the browser.
 *
 * The teacher is read from disk (`Model.load`: a TF.js LayersModel — written by `retort export`
 * or converted from Keras with tfjs-converter — or a GraphModel) and stays frozen; the student is
 * a small CNN trained on L = (1−α)·CE(s, y) + α·T²·KL(softmax(t/T) ‖ softmax(s/T)) over an image
 * folder (one sub-folder per class), decoded to 32×32 RGB and normalised with the training
 * split's statistics. As the teacher sees the un-augmented images, its logits are computed once
 * per image and reused every epoch (the teacher-output cache). The student is then evaluated
 * beside the teacher and exported with `retort export runs/distil-folder --model student --page`.
 *
 * Edit `path` (the images), `models.teacher.path` (the teacher), `classes` and `input` for your
 * data, or override them: `--set data.path=… --set models.teacher.path=… --set models.student.classes=5`.
 */
import { Augment, Loss, Model, Optimizer, Phase, Pipeline, Ramp, Step } from "../dsl/index.js"

export interface Options {
  readonly path?: string
  readonly teacher?: string
  readonly classes?: number
  readonly size?: readonly [number, number]
  readonly epochs?: number
  readonly temperature?: number
  readonly alpha?: number
  /** Flip and crop the student's (and so the teacher's) images: better students, no teacher cache. */
  readonly augment?: boolean
  /** The teacher's own input normalisation, for a teacher trained elsewhere (Keras: often `[0, 255]`). */
  readonly teacherNormalize?: Model.Normalize
  readonly seed?: number
}

export const make = (o: Options = {}) => {
  const size = o.size ?? [32, 32]
  const classes = o.classes ?? 10
  const T = o.temperature ?? 4
  const alpha = o.alpha ?? 0.9
  return Pipeline.make({
    name: "distil-folder",
    description: `a teacher read from disk distilled into a small CNN on an image folder (T=${T}, α=${alpha})`,
    seed: o.seed ?? 1,
    data: Pipeline.folder(o.path ?? "data/images", {
      size,
      channels: 3,
      validation: 0.1,
      test: 0.1,
      normalize: "train",
    }),
    models: {
      teacher: Model.load({
        path: o.teacher ?? "runs/folder-teacher/export/teacher/model.json",
        ...(o.teacherNormalize !== undefined ? { normalize: o.teacherNormalize } : {}),
      }),
      student: Model.cnn({
        conv: [{ filters: 16 }, { filters: 32 }, { filters: 64 }],
        dense: [64],
        classes,
        batchNorm: true,
        input: [size[0], size[1], 3],
      }),
    },
    phases: [
      Phase.make({
        name: "distil",
        epochs: o.epochs ?? 30,
        batchSize: 64,
        step: (o.augment
          ? Step.start.pipe(Step.augment(Augment.flipX(), Augment.randomCrop({ pad: 4 })))
          : Step.start
        ).pipe(
          Step.forward("teacher", { as: "t", mode: "frozen" }),
          Step.forward("student", { as: "s" }),
          Step.loss(
            {
              ce: Loss.crossEntropy({ logits: "s" }),
              kd: Loss.kl({ teacher: "t", student: "s", temperature: T }),
            },
            { weights: { ce: 1 - alpha, kd: alpha } },
          ),
          Step.optimize("student", Optimizer.adam({ lr: Ramp.warmupCosine({ peak: 2e-3, warmup: 0.05 }) })),
        ),
        evaluate: Phase.evaluate({
          every: 5,
          models: ["student", "teacher"],
          splits: [{ split: "validation" }, { split: "test" }],
          metrics: ["accuracy", "nll", "ece", "agreement"],
          reference: "teacher",
        }),
      }),
    ],
  })
}

export default make()
