/**
 * The watermark experiment (recipe 19, DRW): its key, calibrated once on the data the runs use,
 * and the probe that reads each finished run's checkpoint — the detector on both students and the
 * teacher's accuracy with and without the perturbation.
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { Watermark } from "../dsl/index.js"
import * as watermark from "../pipelines/watermark.js"
import * as Watermarking from "../src/compile/watermark.js"
import { Data } from "../src/data/Data.js"
import type * as Dataset from "../src/data/Dataset.js"
import * as RunDir from "../src/probes/RunDir.js"
import * as WatermarkProbe from "../src/probes/Watermark.js"
import type { PhaseResult } from "../src/runtime/Run.js"
import type { Experiment } from "./lib.js"

/** The key before calibration: k = 8π (four cycles over g), ε = 0.1. */
export const rawKey = Watermark.make({ seed: 19, frequency: 8 * Math.PI, epsilon: 0.1 })
let key: Watermark.Watermark = rawKey

const loadData = (data: Dataset.Dataset | undefined) =>
  data !== undefined
    ? Promise.resolve(data)
    : Effect.runPromise(
        Effect.gen(function* () {
          const d = yield* Data
          return (yield* d.fashionOrMnist()).dataset
        }).pipe(Effect.provide(Data.layer)),
      )

/** Calibrates the key's `center`/`scale` over the training images. */
const prepare = async (data: Dataset.Dataset | undefined) => {
  const ds = await loadData(data)
  await tf.ready()
  key = Watermarking.calibrate(rawKey, ds.train.x, ds.shape)
}

const opened = <A>(dir: string, model: string, f: (o: RunDir.Opened) => Effect.Effect<A>) =>
  Effect.runPromise(
    Effect.scoped(Effect.flatMap(RunDir.open(dir, { model }), f)).pipe(Effect.provide(Data.layer)),
  )

/** The first `n` images of a split. */
const head = (split: Dataset.Split, n: number, size: number): Dataset.Split => {
  const k = Math.min(n, split.n)
  return { x: split.x.subarray(0, k * size), y: split.y.subarray(0, k), n: k }
}

/**
 * Detection (p < 0.01 counts as detected) on every test image — fresh queries no model saw — and
 * on the first 10,000 training images, which are in the attacker's transfer set (queries an API
 * owner has in its logs); and the teacher's accuracy cost.
 */
const probe = async (dir: string): Promise<Record<string, number>> => {
  const out: Record<string, number> = {}
  for (const model of ["student", "control"])
    for (const where of ["test", "transfer"] as const) {
      const d = await opened(dir, model, (o) => {
        const size = o.dataset.shape[0] * o.dataset.shape[1] * o.dataset.shape[2]
        const queries = where === "test" ? o.dataset.test : head(o.dataset.train, 10000, size)
        return WatermarkProbe.detect(o.built, key, queries, o.dataset.shape, { permutations: 999 })
      })
      const tag = where === "test" ? model : `${model}-transfer`
      out[`${tag}-detected`] = d.pValue < 0.01 ? 1 : 0
      out[`${tag}-score`] = d.score
      out[`${tag}-log10p`] = Math.log10(Math.max(d.pValue, 1e-300))
      out[`${tag}-log10p-perm`] = Math.log10(d.permutationPValue ?? Number.NaN)
    }
  const cost = await opened(dir, "teacher", (o) =>
    WatermarkProbe.accuracyCost(o.built, key, o.dataset.test, o.dataset.shape),
  )
  out["teacher-clean"] = cost.clean
  out["teacher-watermarked"] = cost.watermarked
  return out
}

export const experiment: Experiment = {
  name: "watermark",
  title:
    "DRW output watermark: detected in a student distilled from the watermarked teacher, not in a control",
  claim:
    "a keyed soft-label perturbation is detectable in a student distilled from the teacher's outputs, at a small accuracy cost (Zhao et al., 2022).",
  setting:
    "Fashion-MNIST; W2 CNN teacher, 2 epochs of CE on all 60,000 training images; served with the DRW perturbation (k = 8π, ε = 0.1, key seed 19, g calibrated on the training images). Attacker: W1 MLP distilled on the watermarked outputs alone (KL, T = 1, no labels), 3 epochs on the first 20,000 training images, Adam 1e-3, batch 128; control (arm watermark): the same MLP distilled the same way from the clean teacher; in arm labels-control the control is the same MLP trained on labels (CE, 3 epochs on the same 20,000 images), a second false-positive check on a model that never saw any teacher output (its student is the same attack again, a fresh replicate). Detector on all 10,000 test images (never seen by any model; the verdict) and on the first 10,000 training images (in the attacker's transfer set: *-transfer): Lomb–Scargle periodogram of the top-class probability (normal scores) against g at k vs 22 comparison frequencies, F(2, 44) p-value (and *-log10p-perm: the permutation p-value from 999 shuffles of the outputs against g, floor 10^−3); detected = p < 0.01. teacher-clean / teacher-watermarked: the teacher's test accuracy from its raw and from its served (perturbed) probabilities.",
  budget:
    "about 14 minutes on a quiet 2-core machine (6 runs of ~2 minutes, each training the teacher and both students)",
  seeds: [1, 2, 3],
  prepare,
  arms: (["clean", "labels"] as const).map((control) => ({
    name: control === "clean" ? "watermark" : "labels-control",
    pipeline: (seed: number) =>
      watermark.make({ seed, key, teacherEpochs: 2, studentEpochs: 3, limit: 20000, control }),
    metrics: (ps: ReadonlyArray<PhaseResult>) => ({
      "student-accuracy":
        ps.find((p) => p.phase === "distil")?.metrics["test/student/accuracy"] ?? Number.NaN,
      "control-accuracy":
        ps.find((p) => p.phase === "control")?.metrics["test/control/accuracy"] ?? Number.NaN,
    }),
    probe,
  })),
  method: ["watermark", "student-detected"],
  baseline: ["watermark", "control-detected"],
}
