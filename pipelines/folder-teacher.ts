/**
 * Train a teacher on your own images (the first half of "distil your own model").
 *
 * A ResNet with batch norm learns the classes of an image folder (one sub-folder per class,
 * optionally under `train/`, `val/`, `test/`), decoded to 32×32 RGB and normalised with the
 * training split's per-channel statistics, with flips and padded crops. Export it with
 * `retort export runs/folder-teacher --model teacher` and hand it to `distil-folder.ts` — or
 * use a teacher you already have (a Keras model converted with tfjs-converter).
 *
 * Edit `path`, `classes` and `size` for your data (or `--set data.path=… --set
 * models.teacher.classes=5`).
 */
import { Augment, Loss, Model, Optimizer, Phase, Pipeline, Ramp, Step } from "../dsl/index.js"

export interface Options {
  readonly path?: string
  readonly classes?: number
  readonly size?: readonly [number, number]
  readonly epochs?: number
  readonly seed?: number
}

export const make = (o: Options = {}) => {
  const size = o.size ?? [32, 32]
  const classes = o.classes ?? 10
  const epochs = o.epochs ?? 30
  return Pipeline.make({
    name: "folder-teacher",
    description: `a ResNet teacher trained on the image folder ${o.path ?? "data/images"} (${size.join("×")} RGB)`,
    seed: o.seed ?? 1,
    data: Pipeline.folder(o.path ?? "data/images", {
      size,
      channels: 3,
      validation: 0.1,
      test: 0.1,
      normalize: "train",
    }),
    models: {
      teacher: Model.resnet({
        stem: { filters: 32 },
        blocks: [{ filters: 32 }, { filters: 64, stride: 2 }, { filters: 64 }, { filters: 128, stride: 2 }],
        batchNorm: true,
        classes,
        input: [size[0], size[1], 3],
      }),
    },
    phases: [
      Phase.make({
        name: "teacher",
        epochs,
        batchSize: 64,
        step: Step.start.pipe(
          Step.augment(Augment.flipX(), Augment.randomCrop({ pad: 4 })),
          Step.forward("teacher", { as: "t" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "t", smoothing: 0.1 }) }),
          Step.optimize(
            "teacher",
            Optimizer.adamw({ lr: Ramp.warmupCosine({ peak: 2e-3, warmup: 0.05 }), weightDecay: 5e-4 }),
          ),
        ),
        evaluate: Phase.evaluate({
          every: 5,
          models: ["teacher"],
          splits: [{ split: "validation" }, { split: "test" }],
        }),
      }),
    ],
  })
}

export default make()
