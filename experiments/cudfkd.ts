/**
 * The CuDFKD experiment (recipe 13): a student distilled from a batch-norm CNN teacher with zero
 * real training images — a generator learns (class balance + adversarial KL + one-hot CE + BN
 * statistics) and the student follows it with a curriculum-weighted KL — reported beside the
 * teacher, the same student on real labelled images for as many steps, and the same student
 * distilled on samples of a generator that never learns (the ablation). One run per seed trains
 * the teacher once and all three students.
 */
import * as cudfkd from "../pipelines/cudfkd.js"
import type { PhaseResult } from "../src/runtime/Run.js"
import type { Experiment } from "./lib.js"

const metric = (ps: ReadonlyArray<PhaseResult>, phase: string, key: string) =>
  ps.find((p) => p.phase === phase)?.metrics[key] ?? Number.NaN

/** The settings of the experiment's runs (the recipe's defaults, written out). */
export const settings = {
  teacherEpochs: 1,
  epochs: 3,
  samples: 6400,
  batchSize: 64,
  latent: 64,
  width: 16,
} as const

/**
 * The accuracies of one finished run: the data-free student, the teacher, the real-data student,
 * the untrained-generator ablation; the data-free student's agreement with the teacher, and the
 * share of the teacher's accuracy it reached.
 */
export const metrics = (ps: ReadonlyArray<PhaseResult>): Readonly<Record<string, number>> => {
  const dataFree = metric(ps, "data-free", "test/student/accuracy")
  const teacher = metric(ps, "teacher", "test/teacher/accuracy")
  return {
    "accuracy-data-free": dataFree,
    "accuracy-teacher": teacher,
    "accuracy-real": metric(ps, "real", "test/realStudent/accuracy"),
    "accuracy-untrained-generator": metric(ps, "untrained-generator", "test/noiseStudent/accuracy"),
    "agreement-data-free": metric(ps, "data-free", "test/student/agreement"),
    "teacher-share": dataFree / teacher,
  }
}

const steps = (settings.epochs * settings.samples) / settings.batchSize

export const experiment: Experiment = {
  name: "cudfkd",
  title: "CuDFKD: a student distilled with zero real images, beside the teacher and a real-data student",
  claim:
    "a student distilled from a frozen teacher through a learned generator, with a curriculum from easy to hard samples, reaches a non-trivial accuracy without a single real training image (Li et al., 2023, CuDFKD).",
  setting: `Teacher: the W2 CNN with batch norm, ${settings.teacherEpochs} epoch on all training images, Adam 1e-3. Student (every arm): conv 8 → conv 16 → dense 32. *data-free*: ${steps} steps of batch ${settings.batchSize} (${settings.epochs} × ${settings.samples.toLocaleString("en")} generated samples, no training image read); each step one generator update (Adam 1e-3; generator z${settings.latent} → 7×7 → 14×14 → 28×28, width ${settings.width}, batch norm) on L_G = 20·(log 10 − H(mean softmax(t/20))) + 0.5·(−mean mᵢ·9·KL(softmax(tᵢ/3) ‖ softmax(sᵢ/3))) + CE(t, argmax t) + Σ over the teacher's two batch norms of ‖μ − μ̂‖ + ‖σ² − σ̂²‖, teacher and student in evaluation mode but differentiable, mᵢ = [argmax tᵢ = argmax sᵢ]; then one student update (Adam 1e-3, cosine to 0) on fresh samples of the updated generator (frozen) with L_S = mean vᵢ·lᵢ, lᵢ = 9·KL(softmax(tᵢ/3) ‖ softmax(sᵢ/3)), vᵢ = (1 + e^{−λ}) / (1 + e^{lᵢ − λ}) held constant, λ linear 2 → 8 over the phase. *real*: the same student on the first ${settings.samples.toLocaleString("en")} real training images with labels (CE), as many steps and the same optimiser. *untrained-generator*: the same student distillation on samples of a generator frozen at its random initialisation (what the generator's training adds). teacher-share = data-free accuracy / teacher accuracy.`,
  budget:
    "about 12 minutes on a quiet 2-core machine (3 runs, each a teacher epoch on 60,000 images, 300 data-free steps, 300 real-data steps and 300 ablation steps)",
  seeds: [1, 2, 3],
  arms: [
    {
      name: "cudfkd",
      pipeline: (seed) => cudfkd.make({ seed, ...settings }),
      metrics,
    },
  ],
  method: ["cudfkd", "accuracy-data-free"],
  baseline: ["cudfkd", "accuracy-untrained-generator"],
}
