/**
 * The loss-landscape/domain-generalisation experiment (recipe 10, its domain half): every
 * configuration of `pipelines/landscape-dg.ts` (backbones × regularisers) trained by ERM on
 * Rotated Fashion-MNIST's 0°–60° domains; for each finished run, the sharpness of its minimum on
 * 1,000 of its training images (top Hessian eigenvalue by power iteration, and Keskar's
 * ε-sharpness) beside its accuracy on the held-out 75° domain. The verdict is Spearman's ρ between
 * ε-sharpness and held-out accuracy over the configurations (the arms' means), one-sided (the
 * claim: flatter ↔ better), with the same over every run and for λmax in the table.
 */
import { Effect } from "effect"
import * as LandscapeDg from "../pipelines/landscape-dg.js"
import { Data } from "../src/data/Data.js"
import * as Domains from "../src/data/Domains.js"
import * as Rng from "../src/data/Rng.js"
import * as RunDir from "../src/probes/RunDir.js"
import * as Sharpness from "../src/probes/Sharpness.js"
import type { PhaseResult } from "../src/runtime/Run.js"
import type { Arm, Experiment } from "./lib.js"

/** The settings of every run. */
export const settings = { epochs: 3, limit: 12000, batchSize: 64, samples: 1000, iterations: 12 } as const

const heldOut = [5]
const trainDomains = [0, 1, 2, 3, 4]

/** Held-out (75°) and seen-domain test accuracy of a finished run. */
export const metrics = (ps: ReadonlyArray<PhaseResult>): Readonly<Record<string, number>> => {
  const m = ps.find((p) => p.phase === "train")?.metrics ?? {}
  return {
    "heldout-accuracy": m[`test@d${heldOut.join("+")}/net/accuracy`] ?? Number.NaN,
    "seen-accuracy": m[`test@d${trainDomains.join("+")}/net/accuracy`] ?? Number.NaN,
  }
}

/**
 * The sharpness of a finished run's `net` on 1,000 of the training-domain training images it
 * trained on (the same rotations, seeded draw): λmax (12 power iterations of finite-difference
 * Hessian-vector products), the ε-ball rise (ε = 1e-3·‖θ‖, 5 ascent steps) and Keskar's
 * 100·rise/(1 + L), and the training loss there.
 */
export const probe = (dir: string): Promise<Record<string, number>> =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const o = yield* RunDir.open(dir, { model: "net" })
        const spec = o.pipeline.data.domains!
        const labelled = yield* Domains.build(o.dataset, spec, Rng.derive(o.pipeline.seed, "domains") >>> 0)
        const seen = Domains.select(labelled.dataset.train, labelled.domains.train, trainDomains)
        const data = { ...labelled.dataset, train: seen.split }
        const s = yield* Sharpness.sharpness(o.built, o.built.params, data, {
          model: "net",
          samples: settings.samples,
          split: "train",
          sampleSeed: 0,
          iterations: settings.iterations,
          seed: 0,
        })
        return {
          lambdaMax: s.hessian?.eigenvalue ?? Number.NaN,
          "eps-sharpness": s.epsilon?.keskar ?? Number.NaN,
          "train-loss": s.base.loss,
        }
      }),
    ).pipe(Effect.provide(Data.layer)),
  )

const arm = (name: LandscapeDg.Configuration): Arm => ({
  name,
  pipeline: (seed) =>
    LandscapeDg.make({
      configuration: name,
      seed,
      epochs: settings.epochs,
      limit: settings.limit,
      batchSize: settings.batchSize,
    }),
  metrics,
  probe,
})

export const experiment: Experiment = {
  name: "landscape-dg",
  title:
    "Loss landscape and domain generalisation: sharpness of the minimum against held-out-rotation accuracy",
  claim:
    "across backbones and regularisers, flatter minima go with better accuracy on a held-out domain (the loss-landscape view of generalisation; Keskar et al. 2017, Cha et al. 2021).",
  setting: `Rotated Fashion-MNIST, DomainBed's domains 0°–75° (each a disjoint sixth of each split); ERM on 0°–60° (${settings.limit.toLocaleString("en")} training images), held out: 75°. ${Object.keys(LandscapeDg.configurations).length} configurations, one arm each: ${Object.entries(
    LandscapeDg.configurations,
  )
    .map(([k, c]) => `${k} (${c.note})`)
    .join(
      "; ",
    )}. Each ${settings.epochs} epochs, Adam 1e-3 unless stated, batch ${settings.batchSize}, the last epoch's weights. heldout-accuracy: test accuracy on the 75° test images; seen-accuracy: on the training domains' test images. Sharpness of each run's minimum on ${settings.samples.toLocaleString("en")} of its training images (seeded draw, the training rotations): lambdaMax = top Hessian eigenvalue of the cross-entropy (${settings.iterations} power iterations, finite-difference Hessian-vector products, h = 1e-3·‖θ‖); eps-sharpness = Keskar's 100·max L(θ+δ) − L(θ) over ‖δ‖ ≤ 1e-3·‖θ‖ / (1 + L(θ)) (5 steps of projected normalised ascent); train-loss = L(θ) there. Verdict: Spearman's ρ between eps-sharpness and heldout-accuracy over the configurations (each the mean of its seeds; chosen before the run), one-sided permutation p (9,999 shuffles).`,
  budget: "about 20 minutes on a quiet 2-core machine (27 runs of 15–60 s, each with its sharpness probe)",
  seeds: [1, 2, 3],
  arms: (Object.keys(LandscapeDg.configurations) as Array<LandscapeDg.Configuration>).map(arm),
  correlation: { x: "eps-sharpness", y: "heldout-accuracy", expect: "negative", logX: true },
}
