/**
 * The ProC-KD experiment (recipe 17): a student on classes the teacher never saw, guided by class
 * prototypes of the teacher's features, against the same student on labels alone. One run per
 * seed trains the teacher on Fashion-MNIST classes 0–4 and both students on a small sample of
 * classes 5–9; both students are scored on the test images of classes 5–9 only.
 */
import * as procKd from "../pipelines/proc-kd.js"
import type { PhaseResult } from "../src/runtime/Run.js"
import type { Experiment } from "./lib.js"

const studentClasses = [5, 6, 7, 8, 9] as const
const teacherClasses = [0, 1, 2, 3, 4] as const

const accuracy = (
  ps: ReadonlyArray<PhaseResult>,
  phase: string,
  model: string,
  classes: ReadonlyArray<number>,
) => ps.find((p) => p.phase === phase)?.metrics[`test@c${classes.join("+")}/${model}/accuracy`] ?? Number.NaN

/** The settings of the experiment's runs (the recipe's defaults, written out). */
export const settings = {
  teacherEpochs: 2,
  studentEpochs: 15,
  limit: 1000,
  lambda: 1,
  tap: "flat",
  studentTap: "dense0",
  distance: "mse",
  student: "small",
  batchSize: 64,
} as const

/**
 * The accuracies of one finished run, `proto-points` = proc-kd − baseline and `points-vs-random-teacher` =
 * proc-kd − random-teacher (what the trained teacher adds over an untrained one), in points.
 */
export const metrics = (ps: ReadonlyArray<PhaseResult>): Readonly<Record<string, number>> => {
  const proc = accuracy(ps, "proc-kd", "student", studentClasses)
  const base = accuracy(ps, "baseline", "baseline", studentClasses)
  const control = accuracy(ps, "random-teacher", "controlStudent", studentClasses)
  return {
    "accuracy-proc-kd": proc,
    "accuracy-baseline": base,
    "accuracy-random-teacher": control,
    "teacher-own-classes": accuracy(ps, "teacher", "teacher", teacherClasses),
    "proto-points": 100 * (proc - base),
    "points-vs-random-teacher": 100 * (proc - control),
  }
}

export const experiment: Experiment = {
  name: "proc-kd",
  title: "ProC-KD: prototype guidance from a teacher trained on other classes vs the student on labels alone",
  claim:
    "class prototypes of a teacher's features help a student whose classes the teacher was never trained on (cross-task KD; Li et al., 2022).",
  setting: `Fashion-MNIST split in two tasks. Teacher: the W2 CNN on all training images of classes 0–4 (${settings.teacherEpochs} epochs, Adam 1e-3, batch 128). Students: the small CNN (conv 8 → conv 16 → dense 32) on the first ${settings.limit.toLocaleString("en")} training images of classes 5–9, ${settings.studentEpochs} epochs, Adam 1e-3, batch ${settings.batchSize}. *proc-kd*: L = CE + ${settings.lambda}·mean‖P(s.${settings.studentTap}) − μ_y‖², μ_k the running mean of the frozen teacher's \`${settings.tap}\` (3,136 features) over the student-task images of class k seen so far, P a learned linear projection 32 → 3,136; *baseline*: the same student on CE alone; *random-teacher* (control): proc-kd with the prototypes from an untrained W2 CNN. Accuracy on the 5,000 test images of classes 5–9 (argmax over all 10 outputs); proto-points = proc-kd − baseline, points-vs-random-teacher = proc-kd − random-teacher, in points.`,
  budget:
    "about 10 minutes on a quiet 2-core machine (3 runs, each a teacher on 30,000 images × 2 epochs and three students on 1,000 × 15)",
  seeds: [1, 2, 3],
  arms: [
    {
      name: "proc-kd",
      pipeline: (seed) => procKd.make({ seed, ...settings }),
      metrics,
    },
  ],
  method: ["proc-kd", "accuracy-proc-kd"],
  baseline: ["proc-kd", "accuracy-baseline"],
}
