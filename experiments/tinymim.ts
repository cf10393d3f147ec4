/**
 * The TinyMIM experiment (recipe 18): a small ViT student distilled from the q·kᵀ and v·vᵀ token
 * relations of an intermediate block of a larger ViT teacher, then fine-tuned on labels, against
 * the same student distilled from that block's output (feature hint) or from the teacher's logits
 * (KD) and fine-tuned the same way, and against the student on labels alone. One run per seed
 * trains the teacher once and every student.
 */
import * as tinymim from "../pipelines/tinymim.js"
import type { PhaseResult } from "../src/runtime/Run.js"
import type { Experiment } from "./lib.js"

const accuracy = (ps: ReadonlyArray<PhaseResult>, model: string) =>
  ps.find((p) => p.phase === model)?.metrics[`test/${model}/accuracy`] ?? Number.NaN

/** The settings of the experiment's runs (the recipe's defaults, written out). */
export const settings = {
  teacherEpochs: 2,
  teacherLimit: 10000,
  distilEpochs: 2,
  finetuneEpochs: 2,
  limit: 5000,
  batchSize: 64,
  teacherBlock: 2,
  relationHeads: 2,
  kdTemperature: 4,
} as const

/**
 * The test accuracies of one finished run after fine-tuning, the teacher's, and the
 * differences in points: `relation-feature` = relation − feature, `relation-logit`,
 * `relation-labels`.
 */
export const metrics = (ps: ReadonlyArray<PhaseResult>): Readonly<Record<string, number>> => {
  const rel = accuracy(ps, "relation")
  const feat = accuracy(ps, "feature")
  const logit = accuracy(ps, "logit")
  const labels = accuracy(ps, "labels")
  return {
    "accuracy-relation": rel,
    "accuracy-feature": feat,
    "accuracy-logit": logit,
    "accuracy-labels": labels,
    "teacher-accuracy": accuracy(ps, "teacher"),
    "relation-feature": 100 * (rel - feat),
    "relation-logit": 100 * (rel - logit),
    "relation-labels": 100 * (rel - labels),
  }
}

export const experiment: Experiment = {
  name: "tinymim",
  title:
    "TinyMIM-style token-relation distillation from an intermediate ViT block vs feature and logit distillation",
  claim:
    "distilling the token relations (q·kᵀ, v·vᵀ) of an intermediate teacher layer gives a student at least as good as distilling its features (Ren et al., 2023, TinyMIM, report it better).",
  setting: `Teacher: ViT patch 7 (17 tokens), dim 64, depth 4, 4 heads, ${settings.teacherEpochs} epochs on ${settings.teacherLimit.toLocaleString("en")} training images, Adam 1e-3. Students: ViT patch 7, dim 32, depth 2, 2 heads, on the first ${settings.limit.toLocaleString("en")} training images, batch ${settings.batchSize}, Adam 1e-3 with a cosine decay to 0 per phase. Each distilled student first trains ${settings.distilEpochs} epochs on its distillation loss alone (no labels), then ${settings.finetuneEpochs} epochs on labels (CE). *relation*: KL(R_t ‖ R_s) of R = softmax(x·yᵀ/√d) per relation head (${settings.relationHeads} heads) for q·kᵀ plus v·vᵀ, student block 1 (its last) against teacher block ${settings.teacherBlock} (of 0–3); *feature*: MSE between student block 1 and teacher block ${settings.teacherBlock} outputs through a learned linear projection of the flattened student tokens; *logit*: KL at T = ${settings.kdTemperature} (×T²) on the teacher's logits; *labels*: the student on labels for ${settings.distilEpochs + settings.finetuneEpochs} epochs. Accuracies are on the test split after fine-tuning; relation-feature etc. are differences in points per seed.`,
  budget:
    "about 12 minutes on a quiet 2-core machine (3 runs, each one ViT teacher on 10,000 images × 2 epochs and four ViT students on 5,000 × 4 epochs; estimated from a short timing trial; 35 minutes measured on the shared machine at load ~14)",
  seeds: [1, 2, 3],
  arms: [
    {
      name: "tinymim",
      pipeline: (seed) => tinymim.make({ seed, ...settings }),
      metrics,
    },
  ],
  kind: "atLeast",
  method: ["tinymim", "accuracy-relation"],
  baseline: ["tinymim", "accuracy-feature"],
}
