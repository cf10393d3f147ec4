/**
 * The TST experiment (recipe 12): a student distilled with TST's learned augmenter (half KD on the
 * batch, half on images the augmenter makes hard for the student and easy for the teacher)
 * against the same student with vanilla KD from the same teacher, at equal student steps. One run
 * per seed trains the teacher once and both students.
 */
import * as tst from "../pipelines/tst.js"
import type { PhaseResult } from "../src/runtime/Run.js"
import type { Experiment } from "./lib.js"

/** The settings of the experiment's runs. */
export const settings = { teacherEpochs: 2, studentEpochs: 15, limit: 5000 } as const

const at = (ps: ReadonlyArray<PhaseResult>, phase: string, key: string) =>
  ps.find((p) => p.phase === phase)?.metrics[key] ?? Number.NaN

/** Both students' test accuracy and ECE, and the teacher's accuracy. */
export const metrics = (ps: ReadonlyArray<PhaseResult>): Readonly<Record<string, number>> => ({
  "tst-accuracy": at(ps, "tst", "test/tstStudent/accuracy"),
  "kd-accuracy": at(ps, "kd", "test/kdStudent/accuracy"),
  "tst-ece": at(ps, "tst", "test/tstStudent/ece"),
  "kd-ece": at(ps, "kd", "test/kdStudent/ece"),
  "random-aug-accuracy": at(ps, "random-aug", "test/randomStudent/accuracy"),
  teacher: at(ps, "teacher", "test/teacher/accuracy"),
})

export const experiment: Experiment = {
  name: "tst",
  title: "TST: distillation on learned hard augmentations vs vanilla KD at equal student steps",
  claim:
    "a student distilled with TST's learned augmenter is at least as good as with vanilla KD at equal student steps (Shao et al., 2023).",
  setting: `Fashion-MNIST. Teacher: the W2 CNN, ${settings.teacherEpochs} epochs on all training images. Students: the W1 MLP, ${settings.studentEpochs} epochs on the first ${settings.limit.toLocaleString("en")} training images, Adam 1e-3, batch 128, T = 4, α = 0.9. *kd*: (1 − α)·CE + α·T²KL(t ‖ s). *tst*: per step, first the augmenter (brightness, contrast, noise, x/y shift; a learned magnitude and probability each, relaxed-Bernoulli gates at τ = 0.05) takes an SGD step (0.05) on −log p_t(y | g(x)) − log(1 − p_s(y | g(x))) through evaluation-mode forwards of both models; then the student takes the same number of steps as kd on (1 − α)·CE + α·½[T²KL(t ‖ s) + T²KL(t(g(x)) ‖ s(g(x)))] with fresh augmented images. *random-aug* (control): the student half of the TST step on an augmenter whose magnitude logits are drawn uniformly from [−1.5, 1.5] and never trained (p = ½ per op): augmentation without the learning. The students see the same images in the same order.`,
  budget: "about 12 minutes on a quiet 2-core machine (3 runs: the teacher and the three students)",
  seeds: [1, 2, 3],
  arms: [{ name: "tst", pipeline: (seed) => tst.make({ seed, ...settings }), metrics }],
  kind: "atLeast",
  method: ["tst", "tst-accuracy"],
  baseline: ["tst", "kd-accuracy"],
}
