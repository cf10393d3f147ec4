/**
 * The BNext experiment (recipe 16): a binary student (weights + activations) distilled from two
 * float teachers with BNext's per-sample softmax-of-losses weighting, against the same binary
 * student on labels alone, with the float student on labels giving the float–binary gap. One run
 * per seed trains the teachers once and all the students; the metrics of each run include the
 * share of the gap that KD closed.
 */
import * as bnext from "../pipelines/bnext.js"
import type { PhaseResult } from "../src/runtime/Run.js"
import type { Experiment } from "./lib.js"

const accuracy = (ps: ReadonlyArray<PhaseResult>, phase: string, model: string) =>
  ps.find((p) => p.phase === phase)?.metrics[`test/${model}/accuracy`] ?? Number.NaN

/** The settings of the experiment's runs (the recipe's defaults, written out). */
export const settings = {
  teacherEpochs: 2,
  studentEpochs: 10,
  limit: 10000,
  cropPad: 2,
} as const

/**
 * The accuracies of one finished run, and the gap figures: `kd-points` = binary-kd − binary and
 * `gap-points` = float − binary (in points), `gap-closed` = their ratio.
 */
export const metrics = (ps: ReadonlyArray<PhaseResult>): Readonly<Record<string, number>> => {
  const kd = accuracy(ps, "binary-kd", "binaryKd")
  const bin = accuracy(ps, "binary", "binary")
  const float = accuracy(ps, "float", "float")
  return {
    "accuracy-binary-kd": kd,
    "accuracy-binary": bin,
    "accuracy-float": float,
    "teacher-cnn": accuracy(ps, "teacher-cnn", "teacherCnn"),
    "teacher-mlp": accuracy(ps, "teacher-mlp", "teacherMlp"),
    "kd-points": 100 * (kd - bin),
    "gap-points": 100 * (float - bin),
    "gap-closed": (kd - bin) / (float - bin),
  }
}

export const experiment: Experiment = {
  name: "bnext",
  title: "BNext-style binary student: multi-teacher KD vs labels alone, and the float–binary gap it closes",
  claim:
    "distillation from float teachers closes part of the gap between a binary student and its float twin (Guo et al., 2022).",
  setting: `Teachers on all training images: the W2 CNN (${settings.teacherEpochs} epochs) and the W1 MLP (${settings.teacherEpochs + 1}), Adam 1e-3. Students: the W2 CNN with batch norm, ${settings.studentEpochs} epochs on the first ${settings.limit.toLocaleString("en")} training images with a random crop (pad ${settings.cropPad}), Adam 1e-3 with a cosine decay to 0, batch 128. *binary-kd*: conv1 and dense0 binarised (weights α·sign(W), activations sign(x)), straight-through estimator d/dx tanh(x/τ) with τ = 0.9^⌊epoch⌋, trained on L = Σᵢ αᵢ·CE(s, softmax(tᵢ)) from both teachers with α = softmax of the detached per-teacher losses per sample (no label loss, as BNext); *binary*: the same binary student on labels (CE); *float*: the float architecture on labels. kd-points = binary-kd − binary and gap-points = float − binary, in points; gap-closed = kd-points / gap-points per seed.`,
  budget:
    "about 10 minutes on a quiet 2-core machine (3 runs, each two teachers on 60,000 images and three students on 10,000 × 10 epochs)",
  seeds: [1, 2, 3],
  arms: [
    {
      name: "bnext",
      pipeline: (seed) => bnext.make({ seed, ...settings }),
      metrics,
    },
  ],
  method: ["bnext", "accuracy-binary-kd"],
  baseline: ["bnext", "accuracy-binary"],
}
