/**
 * Output watermarking against distillation attacks (DRW: Zhao, Li & Wang, "Distillation-Resistant
 * Watermarking for Model Protection in NLP", Findings of EMNLP 2022; XuandongZhao/DRW).
 *
 * A CNN teacher is trained on labels and then *served* with a keyed perturbation of its soft
 * labels, p̃ᵢ = (pᵢ + ε(1 + cos(k·g(x) + φᵢ))) / (1 + Σⱼ ε(1 + cos(k·g(x) + φⱼ))), φ = 0 for the top
 * class and π for the others, g(x) ∈ [0, 1] a secret projection of the input (`dsl/Watermark.ts`).
 * An attacker distils an MLP student on those outputs alone (KL, T = 1, no labels: the attacker
 * has only the API). The control student is the same MLP distilled the same way from the clean
 * teacher (`control: "clean"`, default) or trained on labels (`control: "labels"`). The detector,
 * `src/probes/Watermark.ts`, looks for the key's frequency k in each student's outputs.
 *
 * Give `key` calibrated over the training images (`Watermarking.calibrate`) for a near-uniform g.
 */
import { Loss, Phase, Pipeline, Step, Watermark } from "../dsl/index.js"
import { adam, cnn, mlp, supervised } from "./common.js"

export interface Options {
  readonly seed?: number
  readonly teacherEpochs?: number
  readonly studentEpochs?: number
  /** The watermark key (default: seed 19, k = 8π, ε = 0.05, uncalibrated). */
  readonly key?: Watermark.Watermark
  /** The attacker's distillation temperature (default 1: the served probabilities as they are). */
  readonly temperature?: number
  /** The control student: distilled from the clean teacher (default) or trained on labels. */
  readonly control?: "clean" | "labels"
  /** The students see only the first `limit` training images (the attacker's query budget). */
  readonly limit?: number
  readonly batchSize?: number
}

const distil = (
  name: string,
  student: string,
  o: {
    readonly temperature: number
    readonly epochs: number
    readonly batchSize: number
    readonly limit?: number
  },
  watermark?: Watermark.Watermark,
) =>
  Phase.make({
    name,
    epochs: o.epochs,
    batchSize: o.batchSize,
    ...(o.limit !== undefined ? { data: { limit: o.limit } } : {}),
    step: Step.start.pipe(
      Step.forward("teacher", { as: "t", mode: "frozen", ...(watermark !== undefined ? { watermark } : {}) }),
      Step.forward(student, { as: "s" }),
      Step.loss({ kd: Loss.kl({ teacher: "t", student: "s", temperature: o.temperature }) }),
      Step.optimize(student, adam),
    ),
    evaluate: Phase.evaluate({
      models: [student],
      metrics: ["accuracy", "nll", "ece", "agreement"],
      reference: "teacher",
    }),
  })

export const make = (o: Options = {}) => {
  const key = o.key ?? Watermark.make({ seed: 19 })
  const control = o.control ?? "clean"
  const s = {
    temperature: o.temperature ?? 1,
    epochs: o.studentEpochs ?? 5,
    batchSize: o.batchSize ?? 128,
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
  }
  return Pipeline.make({
    name: "watermark",
    description: `DRW output watermark: CNN teacher served with ${Watermark.describe(key)}; MLP distilled from it, and a control MLP ${control === "clean" ? "distilled from the clean teacher" : "trained on labels"}`,
    seed: o.seed ?? 1,
    data: Pipeline.data("fashion-or-mnist"),
    models: { teacher: cnn(), student: mlp(), control: mlp() },
    phases: [
      supervised("teacher", { epochs: o.teacherEpochs ?? 3 }),
      distil("distil", "student", s, key),
      control === "clean"
        ? distil("control", "control", s)
        : supervised("control", { epochs: s.epochs, ...(s.limit !== undefined ? { limit: s.limit } : {}) }),
    ],
  })
}

export default make()
