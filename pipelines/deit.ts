/**
 * DeiT's distillation token (Touvron et al., 2021): a tiny ViT student with a class head and a
 * distillation head. L = (1−α)·CE(cls, y) + α·[CE(dist, argmax t)] (hard) or
 * α·T²·KL(t ‖ dist) (soft), from a CNN teacher; at inference the two heads' softmaxes are averaged.
 */
import { Loss, Model, Phase, Pipeline, Step } from "../dsl/index.js"
import { adam, cnn, supervised } from "./common.js"

export interface Options {
  readonly seed?: number
  readonly distillation?: "hard" | "soft"
  readonly teacherEpochs?: number
  readonly studentEpochs?: number
  readonly alpha?: number
  readonly temperature?: number
}

export const student = () =>
  Model.vit({
    patch: 7,
    dim: 64,
    depth: 4,
    heads: 4,
    mlpRatio: 2,
    classes: 10,
    distillToken: true,
    dropPath: 0.1,
  })

export const make = (o: Options = {}) => {
  const mode = o.distillation ?? "hard"
  const alpha = o.alpha ?? 0.5
  const distil =
    mode === "hard"
      ? Loss.hardDistill({ teacher: "t", student: "s.dist" })
      : Loss.kl({ teacher: "t", student: "s.dist", temperature: o.temperature ?? 3 })
  return Pipeline.make({
    name: `deit-${mode}`,
    description: `DeiT ${mode} distillation through a distillation token, CNN teacher → tiny ViT`,
    seed: o.seed ?? 1,
    data: Pipeline.data("fashion-or-mnist"),
    models: { teacher: cnn(), student: student() },
    phases: [
      supervised("teacher", { epochs: o.teacherEpochs ?? 3 }),
      Phase.make({
        name: "distil",
        epochs: o.studentEpochs ?? 5,
        step: Step.start.pipe(
          Step.forward("teacher", { as: "t", mode: "frozen" }),
          Step.forward("student", { as: "s", heads: ["dist"] }),
          Step.loss(
            { cls: Loss.crossEntropy({ logits: "s" }), distil },
            { weights: { cls: 1 - alpha, distil: alpha } },
          ),
          Step.optimize("student", adam),
        ),
        evaluate: Phase.evaluate({
          targets: [
            Phase.target("student"),
            Phase.target("student", ["dist"]),
            Phase.target("student", ["logits", "dist"]),
          ],
        }),
      }),
    ],
  })
}

export default make()
