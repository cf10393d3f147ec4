/**
 * The experiments of the method catalogue: each recipe's claim (`docs/methods.md`), sized
 * to run in about 30 minutes or less on 2 cores on the default (wasm) backend, over 3 seeds.
 */
import type { Pipeline } from "../dsl/index.js"
import { Compute, Model, Phase } from "../dsl/index.js"
import * as bornAgain from "../pipelines/born-again.js"
import * as byot from "../pipelines/byot.js"
import * as cosub from "../pipelines/cosub.js"
import * as cyclical from "../pipelines/cyclical.js"
import * as deit from "../pipelines/deit.js"
import * as kd from "../pipelines/kd.js"
import * as kdVsSwa from "../pipelines/kd-vs-swa.js"
import * as multiViewDg from "../pipelines/multi-view-dg.js"
import * as place from "../pipelines/place.js"
import * as rfs from "../pipelines/rfs.js"
import * as sdDropout from "../pipelines/sd-dropout.js"
import * as swa from "../pipelines/swa.js"
import tunedBaselineSweep, * as tunedBaseline from "../pipelines/sweeps/tuned-baseline.js"
import type { PhaseResult } from "../src/runtime/Run.js"
import { experiment as bnextExperiment } from "./bnext.js"
import { experiment as cudfkdExperiment } from "./cudfkd.js"
import { experiment as fsBanExperiment } from "./fs-ban.js"
import { experiment as landscapeDgExperiment } from "./landscape-dg.js"
import type { Arm, Experiment } from "./lib.js"
import { experiment as procKdExperiment } from "./proc-kd.js"
import { experiment as tinymimExperiment } from "./tinymim.js"
import { experiment as tstExperiment } from "./tst.js"
import { experiment as watermarkExperiment } from "./watermark.js"

const seeds = [1, 2, 3]

const phases = (p: Pipeline.Pipeline, keep: (ph: Phase.Phase) => boolean): Pipeline.Pipeline => ({
  ...p,
  phases: p.phases.filter(keep),
})
const limitAll = (p: Pipeline.Pipeline, limit: number): Pipeline.Pipeline => ({
  ...p,
  phases: p.phases.map((ph) => ({
    ...ph,
    data: { ...ph.data, limit: Math.min(ph.data.limit ?? limit, limit) },
  })),
})
const metric = (phase: string, key: string) => (ps: ReadonlyArray<PhaseResult>) =>
  ps.find((p) => p.phase === phase)?.metrics[key] ?? Number.NaN
const pick =
  (entries: Readonly<Record<string, (ps: ReadonlyArray<PhaseResult>) => number>>) =>
  (ps: ReadonlyArray<PhaseResult>) =>
    Object.fromEntries(Object.entries(entries).map(([k, f]) => [k, f(ps)]))
/** What a run cost: forward + backward passes (thousands, `Compute`) and wall seconds. */
const cost = (run: Parameters<Arm["metrics"]>[1]) => ({
  kpasses: Compute.total(Compute.pipeline(run.pipeline, run.trainImages)) / 1000,
  seconds: run.seconds,
})
const arm = (name: string, pipeline: (seed: number) => Pipeline.Pipeline, metrics: Arm["metrics"]): Arm => ({
  name,
  pipeline,
  metrics,
})

/** RFS: each generation's 5-way 1- and 5-shot accuracy (logistic probe, its CI, and nearest centroid). */
const fewShotMetrics = pick(
  Object.fromEntries(
    (["gen0", "gen1"] as const).flatMap((g) =>
      ([1, 5] as const).flatMap((k) => [
        [`${g}-${k}shot`, metric(g, `test/${g}/fewshot-5w${k}s/accuracy`)],
        [`${g}-${k}shot-ci95`, metric(g, `test/${g}/fewshot-5w${k}s/ci95`)],
        [`${g}-${k}shot-centroid`, metric(g, `test/${g}/fewshot-5w${k}s-centroid/accuracy`)],
      ]),
    ),
  ),
)

/** Multi-view DG: the validation and all-domain test splits capped at 3,000 images (the held-out split whole). */
const dgRecipe = (p: Pipeline.Pipeline): Pipeline.Pipeline => ({
  ...p,
  phases: p.phases.map((ph) => ({
    ...ph,
    evaluate: {
      ...ph.evaluate,
      splits: ph.evaluate.splits.map((s) => (s.domains?.length === 1 ? s : { ...s, limit: 3000 })),
    },
  })),
})
/** Multi-view DG: held-out accuracy (single view and TTA), training-domain validation and test accuracy. */
const dgMetrics =
  (heldOut: ReadonlyArray<number>): Arm["metrics"] =>
  (ps) => {
    const m = ps.find((p) => p.phase === "train")?.metrics ?? {}
    const train = [0, 1, 2, 3, 4, 5].filter((d) => !heldOut.includes(d))
    const angles = [0, 15, 30, 45, 60, 75]
    const seen = train.map((d) => m[`test/net/rot${angles[d]}/accuracy`] ?? Number.NaN)
    const h = `test@d${heldOut.join("+")}/net`
    return {
      "heldout-accuracy": m[`${h}/accuracy`] ?? Number.NaN,
      "heldout-tta-accuracy": m[`${h}/tta/accuracy`] ?? Number.NaN,
      validation: m[`validation@d${train.join("+")}/net/accuracy`] ?? Number.NaN,
      "seen-accuracy": seen.reduce((a, v) => a + v, 0) / seen.length,
      "selected-epoch": m["selected/epoch"] ?? Number.NaN,
    }
  }

export const experiments: ReadonlyArray<Experiment> = [
  {
    name: "kd",
    title: "Vanilla KD: a distilled MLP beats the same MLP trained on labels alone (scarce labels)",
    claim: "distilled small net beats the same net trained on labels alone (Hinton et al., 2015).",
    setting:
      "W2 CNN teacher, 2 epochs on all training images; W1 MLP students, 15 epochs on the first 5,000 training images, Adam 1e-3, batch 128; KD with T = 4, α = 0.9.",
    budget: "about 10 minutes",
    seeds,
    arms: [
      arm(
        "kd",
        (seed) =>
          phases(
            kd.make({ seed, teacherEpochs: 2, studentEpochs: 15, limit: 5000 }),
            (ph) => ph.name !== "baseline",
          ),
        pick({
          accuracy: metric("distil", "test/student/accuracy"),
          ece: metric("distil", "test/student/ece"),
          teacher: metric("teacher", "test/teacher/accuracy"),
        }),
      ),
      arm(
        "labels",
        (seed) => phases(kd.make({ seed, studentEpochs: 15, limit: 5000 }), (ph) => ph.name === "baseline"),
        pick({
          accuracy: metric("baseline", "test/baseline/accuracy"),
          ece: metric("baseline", "test/baseline/ece"),
        }),
      ),
    ],
    method: ["kd", "accuracy"],
    baseline: ["labels", "accuracy"],
  },
  {
    name: "born-again",
    kind: "atLeast",
    title: "Born-again networks: generation 2 vs generation 0 (same CNN), and their ensemble",
    claim: "a student of the same size as its teacher matches or beats it (Furlanello et al., 2018).",
    setting:
      "W2 CNN, 3 generations (gen0 on labels, gen1 and gen2 by KD with α = 0.5, T = 2), 1 epoch each on 20,000 images.",
    budget: "about 5 minutes",
    seeds,
    arms: [
      arm(
        "ban",
        (seed) =>
          limitAll(bornAgain.make({ seed, generations: 2, epochs: 1, alpha: 0.5, temperature: 2 }), 20000),
        pick({
          gen0: metric("gen0", "test/gen0/accuracy"),
          gen1: metric("gen1", "test/gen1/accuracy"),
          gen2: metric("gen2", "test/gen2/accuracy"),
          ensemble: metric("gen2", "test/ensemble/accuracy"),
        }),
      ),
    ],
    method: ["ban", "gen2"],
    baseline: ["ban", "gen0"],
  },
  {
    name: "deit",
    kind: "atLeast",
    title: "DeiT: hard-label distillation through a distillation token vs soft distillation",
    claim:
      "hard distillation is at least as good as soft distillation at equal budget (Touvron et al., 2021).",
    setting:
      "W2 CNN teacher 2 epochs on 20,000 images; tiny ViT student (patch 7, dim 64, depth 4), 3 epochs on 20,000 images; α = 0.5.",
    budget: "about 30 minutes",
    seeds,
    arms: (["hard", "soft"] as const).map((mode) =>
      arm(
        mode,
        (seed) =>
          limitAll(deit.make({ seed, distillation: mode, teacherEpochs: 2, studentEpochs: 3 }), 20000),
        pick({
          accuracy: metric("distil", "test/student[logits+dist]/accuracy"),
          cls: metric("distil", "test/student/accuracy"),
          dist: metric("distil", "test/student[dist]/accuracy"),
        }),
      ),
    ),
    method: ["hard", "accuracy"],
    baseline: ["soft", "accuracy"],
  },
  {
    name: "byot",
    kind: "atLeast",
    title: "BYOT: the deepest exit vs the same ResNet trained plainly; shallow exits alone",
    claim:
      "the deepest exit is at least as good as the plain network, and the shallow exits are usable alone (Zhang et al., 2019).",
    setting:
      "W4 ResNet with exits after blocks 0 and 1, 3 epochs on 20,000 images, Adam 1e-3; exit@0.9 is early-exit inference at confidence 0.9 (meanExit@0.9: mean index of the head used, 0 = exit0, 2 = the deepest).",
    budget: "about 15 minutes",
    seeds,
    arms: [
      arm(
        "byot",
        (seed) => limitAll(byot.make({ seed, epochs: 3 }), 20000),
        pick({
          accuracy: metric("train", "test/net/accuracy"),
          exit0: metric("train", "test/net[exit0]/accuracy"),
          exit1: metric("train", "test/net[exit1]/accuracy"),
          "exit@0.9": metric("train", "test/net@0.9/accuracy"),
          "meanExit@0.9": metric("train", "test/net@0.9/meanExit"),
        }),
      ),
      arm(
        "plain",
        (seed) => {
          const p = limitAll(byot.make({ seed, epochs: 3 }), 20000)
          const ph = p.phases[0]!
          const stages = ph.step.stages.map((s) =>
            s._tag === "Forward"
              ? { ...s, heads: [], taps: [] }
              : s._tag === "Loss"
                ? { ...s, terms: { deep: s.terms.deep! }, weights: { deep: 1 } }
                : s,
          )
          return {
            ...p,
            name: "byot-plain",
            models: { net: Model.resnet({ ...(p.models.net as Model.ResNet), exits: [] }) },
            phases: [
              {
                ...ph,
                step: { ...ph.step, stages },
                // the plain network has one head: no per-exit or early-exit evaluation
                evaluate: Phase.evaluate({ targets: [ph.evaluate.targets[0]!], metrics: ["accuracy"] }),
              } as Phase.Phase,
            ],
          }
        },
        pick({ accuracy: metric("train", "test/net/accuracy") }),
      ),
    ],
    method: ["byot", "accuracy"],
    baseline: ["plain", "accuracy"],
  },
  {
    name: "sd-dropout",
    title: "SD-Dropout: calibration (ECE) of self-distillation between dropout samples",
    claim: "better calibration (lower ECE) than the plain dropout network (Lee et al., 2022).",
    setting: "W1 MLP with dropout 0.3, 3 epochs on all training images, Adam 1e-3; forward KL, β = 1.",
    budget: "about 5 minutes",
    seeds,
    arms: [
      arm(
        "sd-dropout",
        (seed) => sdDropout.make({ seed, epochs: 3 }),
        pick({ ece: metric("train", "test/net/ece"), accuracy: metric("train", "test/net/accuracy") }),
      ),
      arm(
        "dropout",
        (seed) => sdDropout.make({ seed, epochs: 3, beta: 0 }),
        pick({ ece: metric("train", "test/net/ece"), accuracy: metric("train", "test/net/accuracy") }),
      ),
    ],
    method: ["sd-dropout", "ece"],
    baseline: ["dropout", "ece"],
    lowerIsBetter: true,
  },
  {
    name: "cosub",
    title: "cosub: two drop-path submodels teaching each other vs drop-path alone",
    claim:
      "co-training of submodels beats the same network with stochastic depth alone (Touvron et al., 2022).",
    setting: "W4 ResNet, per-sample drop-path 0.1–0.3, 2 epochs on 20,000 images, BCE losses.",
    budget: "about 15 minutes",
    seeds,
    arms: [
      arm(
        "cosub",
        (seed) => limitAll(cosub.make({ seed, epochs: 2 }), 20000),
        pick({ accuracy: metric("train", "test/net/accuracy") }),
      ),
      arm(
        "drop-path",
        (seed) => {
          const p = limitAll(cosub.make({ seed, epochs: 2 }), 20000)
          const ph = p.phases[0]!
          const stages = ph.step.stages.map((s) =>
            s._tag === "Forward"
              ? { ...s, as: ["o1"] }
              : s._tag === "Loss"
                ? { ...s, terms: { y1: s.terms.y1! }, weights: { y1: 1 } }
                : s,
          )
          return {
            ...p,
            name: "cosub-baseline",
            phases: [{ ...ph, step: { ...ph.step, stages } } as Phase.Phase],
          }
        },
        pick({ accuracy: metric("train", "test/net/accuracy") }),
      ),
    ],
    method: ["cosub", "accuracy"],
    baseline: ["drop-path", "accuracy"],
  },
  {
    name: "cyclical",
    kind: "atLeast",
    title: "Cyclical training: easy→hard→easy weight decay, temperature and clipping vs constants",
    claim:
      "cyclical weight decay / temperature is at least as good as constant values (Smith, cyclical training).",
    setting:
      "W2 CNN teacher 2 epochs on 10,000 images; W1 MLP student by KD, 10 epochs on the first 5,000 images, AdamW.",
    budget: "about 10 minutes",
    seeds,
    arms: (
      [
        ["constant", []],
        ["all", ["weightDecay", "temperature", "clip"]],
        ["weight-decay", ["weightDecay"]],
        ["temperature", ["temperature"]],
        ["clip", ["clip"]],
      ] as const
    ).map(([name, which]) =>
      arm(
        name,
        (seed) => {
          const p = cyclical.make({ seed, which, teacherEpochs: 2, studentEpochs: 10, limit: 5000 })
          return {
            ...p,
            phases: p.phases.map((ph) => (ph.name === "teacher" ? { ...ph, data: { limit: 10000 } } : ph)),
          }
        },
        pick({ accuracy: metric("distil", "test/student/accuracy") }),
      ),
    ),
    method: ["all", "accuracy"],
    baseline: ["constant", "accuracy"],
  },
  {
    name: "swa",
    kind: "atLeast",
    title: "SWA: the averaged weights vs the last iterate (and EMA)",
    claim: "the SWA average is at least as good as the last iterate (Izmailov et al., 2018).",
    setting:
      "W2 CNN with batch norm, 2 epochs Adam on 20,000 images, then 3 epochs SGD (lr 0.01, momentum 0.9) with an average per epoch.",
    budget: "about 10 minutes",
    seeds,
    arms: [
      arm(
        "swa",
        (seed) => limitAll(swa.make({ seed, epochs: 2, swaEpochs: 3 }), 20000),
        pick({
          last: metric("swa", "test/net/accuracy"),
          swa: metric("swa", "test/net_swa/accuracy"),
          ema: metric("swa", "test/net_ema/accuracy"),
        }),
      ),
    ],
    method: ["swa", "swa"],
    baseline: ["swa", "last"],
  },
  {
    name: "place",
    title: "Progressive random dropout (PLACE): accuracy on shifted test splits",
    claim: "better accuracy on a shifted test split (rotation, noise, blur, contrast corruptions).",
    setting:
      "W2 CNN with crop/flip augmentation, 2 epochs on 20,000 images; channel drop at a random layer with p(t) = 0.33·(2/π)·arctan(t/500).",
    budget: "about 5 minutes",
    seeds,
    arms: [false, true].map((baseline) =>
      arm(
        baseline ? "baseline" : "place",
        (seed) => limitAll(place.make({ seed, epochs: 2, baseline }), 20000),
        (ps) => {
          const m = ps.find((p) => p.phase === "train")?.metrics ?? {}
          const shifted = Object.entries(m).filter(([k]) => k.startsWith("test:") && k.endsWith("/accuracy"))
          return {
            clean: m["test/net/accuracy"] ?? Number.NaN,
            shifted: shifted.reduce((a, [, v]) => a + v, 0) / Math.max(1, shifted.length),
          }
        },
      ),
    ),
    method: ["place", "shifted"],
    baseline: ["baseline", "shifted"],
  },
  {
    name: "kd-vs-swa",
    title: "KD vs SWA at equal compute: two ways to improve the same compact student",
    claim:
      "compared at the same number of forward + backward passes, KD (whose passes include training and running its teacher) and SWA on the student alone: one table.",
    setting:
      "W1 MLP students on the first 5,000 training images, batch 128. *kd*: W2 CNN teacher 2 epochs on all training images, then 15 student epochs of KD (T = 4, α = 0.9). *swa*: 15 epochs of Adam on labels, then SGD (lr 0.01, momentum 0.9) with the weights averaged each epoch for as many steps as make its forward + backward passes equal KD's (`Compute.matchSteps`); *last* is that run's last iterate, *labels* the 15 Adam epochs alone (a third of the passes). kpasses: forward + backward passes in thousands; seconds: wall time of the run on this machine.",
    budget: "about 10 minutes",
    seeds,
    arms: [
      arm(
        "kd",
        (seed) => kdVsSwa.kd({ seed }),
        (ps, run) => ({ accuracy: metric("distil", "test/student/accuracy")(ps), ...cost(run) }),
      ),
      arm(
        "swa",
        (seed) => kdVsSwa.make({ seed }),
        (ps, run) => ({
          accuracy: metric("swa", "test/student_swa/accuracy")(ps),
          last: metric("swa", "test/student/accuracy")(ps),
          ...cost(run),
        }),
      ),
      arm(
        "labels",
        (seed) => phases(kdVsSwa.make({ seed }), (ph) => ph.name === "train"),
        (ps, run) => ({ accuracy: metric("train", "test/student/accuracy")(ps), ...cost(run) }),
      ),
    ],
    kind: "atLeast",
    method: ["kd", "accuracy"],
    baseline: ["swa", "accuracy"],
  },
  {
    name: "tuned-baseline",
    title: "The tuned small-data baseline: plain CE tuned on validation, beside KD on the same images",
    claim:
      "plain cross-entropy with its hyper-parameters tuned on a held-out validation split is a strong baseline: report it beside every method.",
    setting: `W1 MLP on the first ${tunedBaseline.LIMIT.toLocaleString("en")} training images (${tunedBaseline.VALIDATION.toLocaleString("en")} more held out for validation), batch 128. *default*: Adam 1e-3, no weight decay, 15 epochs (the KD experiment's baseline); *tuned*: the best of Adam lr ∈ {3e-4, 1e-3, 3e-3} × L2 weight decay ∈ {0, 1e-4, 1e-3} × {15, 30} epochs by mean validation accuracy over 3 seeds (\`pipelines/sweeps/tuned-baseline.ts\`); *kd*: the KD recipe (W2 teacher 2 epochs on all training images, T = 4, α = 0.9, 15 student epochs) on the same training images.`,
    budget: "about 15 minutes (54 sweep runs, then 9)",
    seeds,
    arms: [
      arm(
        "default",
        (seed) => ({ ...tunedBaseline.base, seed }),
        pick({
          accuracy: metric("train", "test/net/accuracy"),
          validation: metric("train", "validation/net/accuracy"),
          ece: metric("train", "test/net/ece"),
        }),
      ),
      arm(
        "kd",
        (seed) => {
          const p = phases(
            kd.make({ seed, teacherEpochs: 2, studentEpochs: 15, limit: tunedBaseline.LIMIT }),
            (ph) => ph.name !== "baseline",
          )
          return { ...p, data: { ...p.data, validation: tunedBaseline.VALIDATION } }
        },
        pick({
          accuracy: metric("distil", "test/student/accuracy"),
          ece: metric("distil", "test/student/ece"),
        }),
      ),
    ],
    tune: {
      sweep: tunedBaselineSweep,
      arms: ({ pipeline }) => [
        arm(
          "tuned",
          (seed) => ({ ...pipeline, seed }),
          pick({
            accuracy: metric("train", "test/net/accuracy"),
            validation: metric("train", "validation/net/accuracy"),
            ece: metric("train", "test/net/ece"),
          }),
        ),
      ],
    },
    kind: "atLeast",
    method: ["tuned", "accuracy"],
    baseline: ["default", "accuracy"],
  },
  {
    name: "rfs",
    kind: "atLeast",
    title: "RFS: few-shot accuracy on novel classes of a plain vs a born-again (self-distilled) embedding",
    claim:
      "a self-distilled embedding is at least as good a few-shot learner as the plain one (Tian et al., 2020).",
    setting:
      "Fashion-MNIST classes 0–4 as base (30,000 training images), 5–9 as novel (test split only, never trained on); W2 CNN, gen0 3 epochs of CE, gen1 3 epochs of ½ CE + ½ T²·KL from gen0 (T = 4), Adam 1e-3, batch 128; 600 5-way episodes per shot count (15 queries per class, the same episodes for both generations), logistic-regression probe (L-BFGS, λ = 1) and nearest centroid on the L2-normalised dense0 features (arm rfs; the verdict) or on the 3,136 conv features of the flat tap (arm rfs-flat, same training). With 5 novel classes every episode uses all of them.",
    budget:
      "about 11 minutes on a quiet 2-core machine (6 runs: ~1 minute per rfs run, ~3 per rfs-flat run, whose logistic probe fits 5 × 3,137 parameters per episode)",
    seeds,
    arms: [
      arm("rfs", (seed) => rfs.make({ seed, epochs: 3 }), fewShotMetrics),
      arm("rfs-flat", (seed) => rfs.make({ seed, epochs: 3, tap: "flat" }), fewShotMetrics),
    ],
    method: ["rfs", "gen1-5shot"],
    baseline: ["rfs", "gen0-5shot"],
  },
  {
    name: "multi-view-dg",
    title:
      "Multi-view DG: leave-75°-out Rotated Fashion-MNIST with and without the MLDG episodic update, TTA beside",
    claim:
      "an episodic multi-domain (MLDG) update generalises better to an unseen rotation than pooled ERM (Li et al., 2018); TTA fusion ≥ single view.",
    setting:
      "Rotated Fashion-MNIST, DomainBed's domains 0°–75° (each a disjoint sixth of each split); train on 0°–60° (15,000 training images), held out: 75°. W2 CNN, 3 epochs, Adam 1e-3, batch 64; mldg: first-order MLDG, one meta-test domain per step, inner SGD α = 0.1, β = 1 (the verdict's arm, fixed before the run); mldg-a0.01: the same with α = 0.01, added afterwards as a sensitivity check (not used for the verdict). The weights kept are those of the epoch with the best training-domain validation accuracy (3,000 validation images of 0°–60°). TTA: identity + 7 views rotated up to ±15° and shifted up to 2 px, mean of probabilities. heldout-accuracy = test accuracy on the 75° test images (single view), heldout-tta-accuracy with TTA; seen-accuracy = test accuracy on the training domains' test images (3,000).",
    budget:
      "about 6 minutes on a quiet 2-core machine (9 runs of ~40 s; up to ~100 s each when the machine is shared)",
    seeds,
    arms: [
      ...[false, true].map((mldg) =>
        arm(
          mldg ? "mldg" : "erm",
          (seed) => dgRecipe(multiViewDg.make({ seed, epochs: 3, limit: 15000, mldg, batchSize: 64 })),
          dgMetrics([5]),
        ),
      ),
      arm(
        "mldg-a0.01",
        (seed) => dgRecipe(multiViewDg.make({ seed, epochs: 3, limit: 15000, innerLr: 0.01, batchSize: 64 })),
        dgMetrics([5]),
      ),
    ],
    method: ["mldg", "heldout-accuracy"],
    baseline: ["erm", "heldout-accuracy"],
  },
  {
    name: "multi-view-dg-tta",
    kind: "atLeast",
    title:
      "Multi-view DG: test-time augmentation (mean of 8 views) vs a single view on the held-out 0° domain",
    claim: "TTA fusion of several augmented views ≥ single-view accuracy (the multi-view DG recipe).",
    setting:
      "Rotated Fashion-MNIST as in multi-view-dg, but the held-out domain is 0° (train on 15°–75°, 15,000 images); pooled ERM, W2 CNN, 3 epochs, Adam 1e-3, batch 64, training-domain validation selection. The same runs give both numbers: heldout-accuracy (single view) and heldout-tta-accuracy (identity + 7 views rotated up to ±15° and shifted up to 2 px, mean of probabilities).",
    budget: "about 2 minutes on a quiet 2-core machine (3 runs of ~35 s)",
    seeds,
    arms: [
      arm(
        "erm",
        (seed) =>
          dgRecipe(
            multiViewDg.make({ seed, epochs: 3, limit: 15000, mldg: false, batchSize: 64, heldOut: [0] }),
          ),
        dgMetrics([0]),
      ),
    ],
    method: ["erm", "heldout-tta-accuracy"],
    baseline: ["erm", "heldout-accuracy"],
  },
  watermarkExperiment,
  bnextExperiment,
  cudfkdExperiment,
  procKdExperiment,
  tinymimExperiment,
  landscapeDgExperiment,
  fsBanExperiment,
  tstExperiment,
]
