/**
 * The runner's side of few-shot evaluation (RFS) and of base/novel class splits: restrict a
 * training split to a phase's `data.classes`, read a tap's features for the few-shot classes of
 * an evaluation split, and score every episode with the probes of `FewShot` (the description)
 * through `Episodes` (the arithmetic).
 *
 * Features are read once per model and evaluation (batches of 500, eval mode), L2-normalised,
 * and shared by every shot setting and probe. The episodes depend only on the few-shot seed
 * (default: derived from the run's seed) and the split's labels, so every phase and generation
 * of a run is scored on the same episodes: generation differences are paired. `evalLimit` does
 * not apply (an episode needs `shots + queries` images of every class).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FewShotRun } from "retort"
 * const train = { x: new Float32Array(4), y: Int32Array.of(0, 1, 2, 1), n: 4 }
 * Effect.runSync(FewShotRun.onlyClasses(train, [1], 3, "phases[0].data.classes")).n // 2
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import * as FewShotDsl from "../../dsl/FewShot.js"
import type * as Phase from "../../dsl/Phase.js"
import type * as State from "../compile/state.js"
import * as Dataset from "../data/Dataset.js"
import * as Rng from "../data/Rng.js"
import { ValidationError } from "../errors.js"
import * as Episodes from "../metrics/Episodes.js"

/**
 * The images of `split` whose label is one of `classes` (copied, in their order). Fails with a
 * `ValidationError` at `path` when a class id is not one of the data set's `total` classes, or
 * when no image is left.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FewShotRun } from "retort"
 * const s = { x: Float32Array.of(0.1, 0.2, 0.3), y: Int32Array.of(0, 1, 0), n: 3 }
 * Effect.runSync(FewShotRun.onlyClasses(s, [0], 2, "data.classes")).y // Int32Array [0, 0]
 * ```
 *
 * @since 0.1.0
 * @category data
 */
export const onlyClasses = (
  split: Dataset.Split,
  classes: ReadonlyArray<number>,
  total: number,
  path: string,
): Effect.Effect<Dataset.Split, ValidationError> =>
  Effect.suspend(() => {
    const bad = classes.find((c) => !(Number.isInteger(c) && c >= 0 && c < total))
    if (bad !== undefined)
      return Effect.fail(
        new ValidationError({
          issues: [
            { path, message: `class ${bad} does not exist: the data has ${total} classes (0–${total - 1})` },
          ],
        }),
      )
    const keep = new Set(classes)
    const rows: Array<number> = []
    for (let i = 0; i < split.n; i++) if (keep.has(split.y[i]!)) rows.push(i)
    if (rows.length === 0)
      return Effect.fail(
        new ValidationError({
          issues: [{ path, message: `no training image has one of the classes ${classes.join(", ")}` }],
        }),
      )
    return Effect.succeed(Dataset.take(split, rows))
  })

/**
 * The features of tap `tap` of a model for the images `rows` of `split`, flattened to
 * `rows.length × dim` (eval mode, batches of 500).
 *
 * @since 0.1.0
 * @category features
 */
export const features = (
  slot: State.ModelSlot,
  split: Dataset.Split,
  rows: ArrayLike<number>,
  shape: Dataset.Shape,
  tap: string,
): Effect.Effect<{ readonly values: Float32Array; readonly dim: number }> =>
  Effect.gen(function* () {
    const [h, w, c] = shape
    const size = h * w * c
    const parts: Array<Float32Array> = []
    let dim = 0
    const BATCH = 500
    for (let i = 0; i < rows.length; i += BATCH) {
      const k = Math.min(BATCH, rows.length - i)
      const x = new Float32Array(k * size)
      for (let j = 0; j < k; j++) {
        const r = rows[i + j]!
        x.set(split.x.subarray(r * size, (r + 1) * size), j * size)
      }
      const t = tf.tidy(() => {
        const f = slot.built.apply(slot.params, tf.tensor4d(x, [k, h, w, c]), {
          train: false,
          state: slot.state,
          taps: [tap],
        })
        return tf.reshape(f.taps[tap]!, [k, -1])
      })
      dim = t.shape[1]!
      parts.push((yield* Effect.promise(() => t.data())) as Float32Array)
      t.dispose()
    }
    const values = new Float32Array(rows.length * dim)
    let o = 0
    for (const p of parts) {
      values.set(p, o)
      o += p.length
    }
    return { values, dim }
  })

/**
 * The seed of the episodes of one shot count: from the evaluation's `seed`, else from the run's
 * seed — never from the phase, so every phase of a run draws the same episodes.
 *
 * @example
 * ```ts
 * import { FewShot } from "retort/dsl"
 * import { FewShotRun } from "retort"
 * const fs = FewShot.make({ classes: [5, 6, 7, 8, 9], tap: "dense0" })
 * FewShotRun.episodeSeed(fs, 1, 5) === FewShotRun.episodeSeed(fs, 1, 5) // true
 * ```
 *
 * @since 0.1.0
 * @category evaluation
 */
export const episodeSeed = (fs: FewShotDsl.FewShot, runSeed: number, shots: number): number =>
  Rng.derive(fs.seed ?? Rng.derive(runSeed, "fewshot") >>> 0, "shots", shots) >>> 0

/**
 * Run a phase's few-shot evaluation: `<model>/<fewshot-NwKs[-probe]>/accuracy` and `/ci95` for
 * every evaluated model, shot count and probe, under the split's key (`test`).
 *
 * @since 0.1.0
 * @category evaluation
 */
export const evaluate = (
  fs: FewShotDsl.FewShot,
  phase: Phase.Phase,
  phaseIndex: number,
  state: State.TrainState,
  dataset: Dataset.Dataset,
  seed: number,
): Effect.Effect<Record<string, Record<string, number>>, ValidationError> =>
  Effect.gen(function* () {
    const path = `phases[${phaseIndex}].evaluate.fewShot`
    const fail = (message: string) => Effect.fail(new ValidationError({ issues: [{ path, message }] }))
    const data =
      fs.split === "test" ? dataset.test : fs.split === "validation" ? dataset.validation : dataset.train
    if (!data || data.n === 0) return yield* fail(`the ${fs.split} split is empty`)
    const bad = fs.classes.find((c) => !(Number.isInteger(c) && c >= 0 && c < dataset.classes))
    if (bad !== undefined)
      return yield* fail(`class ${bad} does not exist: ${dataset.name} has ${dataset.classes} classes`)
    const novel = new Set(fs.classes)
    const rows: Array<number> = []
    for (let i = 0; i < data.n; i++) if (novel.has(data.y[i]!)) rows.push(i)
    const labels = Int32Array.from(rows, (r) => data.y[r]!)
    const models =
      fs.models ??
      phase.evaluate.targets.flatMap((t) => (t._tag === "Model" && t.heads.length === 0 ? [t.model] : []))
    const episodes = new Map<number, ReadonlyArray<Episodes.Episode>>()
    for (const k of fs.shots) {
      const drawn = yield* Effect.result(
        Episodes.sample(labels, {
          classes: fs.classes,
          ways: fs.ways,
          shots: k,
          queries: fs.queries,
          episodes: fs.episodes,
          seed: episodeSeed(fs, seed, k),
        }),
      )
      if (drawn._tag === "Failure") return yield* fail(`${fs.split} split: ${drawn.failure.message}`)
      episodes.set(k, drawn.success)
    }
    const metrics: Record<string, number> = {}
    for (const m of models) {
      const slot = state.models.get(m)
      if (!slot) return yield* fail(`model "${m}" is not built in this phase`)
      if (!slot.built.taps.includes(fs.tap))
        return yield* fail(`model "${m}" has no tap "${fs.tap}" (taps: ${slot.built.taps.join(", ")})`)
      const f = yield* features(slot, data, rows, dataset.shape, fs.tap)
      const x = Episodes.normalize(f.values, f.dim)
      for (const k of fs.shots)
        for (const probe of fs.probes) {
          const r = Episodes.score(x, f.dim, episodes.get(k)!, probe, {
            l2: fs.l2,
            iterations: fs.iterations,
          })
          const name = FewShotDsl.metricName(fs, k, probe)
          metrics[`${m}/${name}/accuracy`] = r.mean
          metrics[`${m}/${name}/ci95`] = r.ci95
        }
    }
    return { [fs.split]: metrics }
  })
