/**
 * TinyMIM-style relation distillation (Ren et al., 2023, "TinyMIM: An Empirical Study of
 * Distilling MIM Pre-trained Models"; OliverRensu/TinyMIM): a small ViT student learns the token
 * relations of an **intermediate** block of a larger ViT teacher — per relation head the maps
 * `R_qk = softmax(q·kᵀ/√d)` and `R_vv = softmax(v·vᵀ/√d)` over tokens, matched with
 * `KL(R_t ‖ R_s)` (`Loss.tokenRelation` on the `block<i>/q|k|v` taps) — and is then fine-tuned on
 * labels. Beside it, the same student distilled from the same teacher block by a feature hint
 * (MSE of the block outputs through a learned projection, FitNets), by logit KD (KL at T = 4), and
 * trained on labels alone.
 *
 * Phases: `teacher` (ViT dim 64, depth 4, 4 heads, on labels), then for each of `relation`,
 * `feature`, `logit` a distillation phase without labels (`<arm>-distil`) and a fine-tuning phase
 * on labels (`<arm>`), and `labels` (the student on labels for the distillation and fine-tuning
 * epochs together). Every student phase sees the first `limit` training images.
 *
 * @example
 * ```ts
 * import * as Tinymim from "./pipelines/tinymim.js"
 * const p = Tinymim.make({ seed: 2, distilEpochs: 1, finetuneEpochs: 1 })
 * p.phases.map((ph) => ph.name)
 * // ["teacher", "relation-distil", "relation", "feature-distil", "feature", "logit-distil", "logit", "labels"]
 * ```
 *
 * @since 0.1.0
 */
import { Loss, Model, Optimizer, Phase, Pipeline, Ramp, Step } from "../dsl/index.js"
import { supervised } from "./common.js"

export interface Options {
  readonly seed?: number
  /** Teacher epochs on labels (default 2). */
  readonly teacherEpochs?: number
  /** Images the teacher trains on (default 10,000). */
  readonly teacherLimit?: number
  /** Epochs of each distillation phase, without labels (default 2). */
  readonly distilEpochs?: number
  /** Epochs of each fine-tuning phase on labels (default 2). */
  readonly finetuneEpochs?: number
  /** The students see only the first `limit` training images (default 5,000). */
  readonly limit?: number
  /** The teacher block the students learn from (default 2 of 0…3: intermediate, as TinyMIM). */
  readonly teacherBlock?: number
  /** Relation heads of the token-relation loss (default 2, the student's head count). */
  readonly relationHeads?: number
  /** Temperature of the logit KD arm (default 4). */
  readonly kdTemperature?: number
  /** Batch size of the student phases (default 64). */
  readonly batchSize?: number
}

/** The teacher: ViT patch 7 (16 patches + class token), dim 64, depth 4, 4 heads. */
export const teacher = () => Model.vit({ patch: 7, dim: 64, depth: 4, heads: 4, mlpRatio: 2, classes: 10 })

/** The student: ViT patch 7, dim 32, depth 2, 2 heads (the same 17 tokens as the teacher). */
export const student = () => Model.vit({ patch: 7, dim: 32, depth: 2, heads: 2, mlpRatio: 2, classes: 10 })

/** The student block that is distilled: its last (block1). */
export const studentBlock = "block1"

const adam = Optimizer.adam({ lr: Ramp.cosine({ from: 1e-3, to: 0 }) })

/** The three distillation terms, by arm, reading the student `s` and the teacher `t`. */
export const distillation = (o: Options = {}) => {
  const tb = `block${o.teacherBlock ?? 2}`
  const heads = o.relationHeads ?? 2
  const sb = studentBlock
  return {
    relation: {
      taps: { student: [`${sb}/q`, `${sb}/k`, `${sb}/v`], teacher: [`${tb}/q`, `${tb}/k`, `${tb}/v`] },
      terms: {
        qk: Loss.tokenRelation({
          student: [`s.${sb}/q`, `s.${sb}/k`],
          teacher: [`t.${tb}/q`, `t.${tb}/k`],
          heads,
        }),
        vv: Loss.tokenRelation({
          student: [`s.${sb}/v`, `s.${sb}/v`],
          teacher: [`t.${tb}/v`, `t.${tb}/v`],
          heads,
        }),
      },
    },
    feature: {
      taps: { student: [sb], teacher: [tb] },
      terms: { hint: Loss.hint({ student: `s.${sb}`, teacher: `t.${tb}`, projection: true }) },
    },
    logit: {
      taps: { student: [], teacher: [] },
      terms: { kd: Loss.kl({ teacher: "t", student: "s", temperature: o.kdTemperature ?? 4 }) },
    },
  } as const
}

/** The distilled arms. */
export const arms = ["relation", "feature", "logit"] as const

export const make = (o: Options = {}): Pipeline.Pipeline => {
  const limit = o.limit ?? 5000
  const batchSize = o.batchSize ?? 64
  const distilEpochs = o.distilEpochs ?? 2
  const finetuneEpochs = o.finetuneEpochs ?? 2
  const terms = distillation(o)
  const finetune = (model: string, epochs: number) =>
    Phase.make({
      name: model,
      epochs,
      batchSize,
      data: { limit },
      step: Step.start.pipe(
        Step.forward(model, { as: "s" }),
        Step.loss({ ce: Loss.crossEntropy({ logits: "s" }) }),
        Step.optimize(model, adam),
      ),
      evaluate: Phase.evaluate({ models: [model] }),
    })
  const distil = (arm: (typeof arms)[number]) => {
    const d = terms[arm]
    return Phase.make({
      name: `${arm}-distil`,
      epochs: distilEpochs,
      batchSize,
      data: { limit },
      step: Step.start.pipe(
        Step.forward("teacher", { as: "t", mode: "frozen", taps: d.taps.teacher }),
        Step.forward(arm, { as: "s", taps: d.taps.student }),
        Step.loss(d.terms),
        Step.optimize(arm, adam),
      ),
    })
  }
  return Pipeline.make({
    name: "tinymim",
    description: `TinyMIM-style relation distillation (q·kᵀ and v·vᵀ token relations of teacher block ${o.teacherBlock ?? 2}) vs feature and logit distillation, then fine-tuning, beside labels alone`,
    seed: o.seed ?? 1,
    data: Pipeline.data("fashion-or-mnist"),
    models: {
      teacher: teacher(),
      relation: student(),
      feature: student(),
      logit: student(),
      labels: student(),
    },
    phases: [
      supervised("teacher", {
        epochs: o.teacherEpochs ?? 2,
        limit: o.teacherLimit ?? 10000,
        optimizer: Optimizer.adam({ lr: 1e-3 }),
      }),
      ...arms.flatMap((arm) => [distil(arm), finetune(arm, finetuneEpochs)]),
      finetune("labels", distilEpochs + finetuneEpochs),
    ],
  })
}

export default make()
