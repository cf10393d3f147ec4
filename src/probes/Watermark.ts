/**
 * The watermark detector (recipe 19, DRW): does a model carry a key's frequency-`k` signal?
 *
 * Over a set of query images, the model's probability of its own top class is taken as a
 * function of the key's phase `g(x) ∈ [0, 1]` (`src/compile/watermark.ts`). A student distilled
 * on watermarked soft labels learned `p̃_top ≈ … + c·cos(k·g)`, so that series has a peak at the
 * angular frequency `k`. The Lomb–Scargle periodogram (the `g` are unevenly spaced) is computed
 * at `k` and at `m` comparison frequencies (whole cycles `2π·j` over `[0, 1]`, away from `k`).
 *
 * - `score = P(k) / mean(P(comparison))`: the power at `k` relative to the other frequencies.
 * - The series is first replaced by its rank-based normal scores ({@link normalScores}), which
 *   keeps the oscillation and makes the noise Gaussian.
 * - `pValue`: under the null that the outputs do not depend on `g` at those frequencies (white
 *   noise), each normalised Lomb–Scargle ordinate is exponential (χ²₂/2) and ordinates a whole
 *   cycle apart are nearly independent, so the score follows an F(2, 2m) law and
 *   `p = (1 + score/m)^(−m)`. This null estimates the noise level from the comparison ordinates
 *   instead of the series' variance, so a smooth, low-frequency dependence of the confidence on
 *   `g` (which every model may have) raises the noise estimate rather than the score: the test
 *   errs on the conservative side. It is closed-form and exact for Gaussian noise in the limit
 *   of many queries; the tests check its calibration on noise.
 * - `permutationPValue` (with `permutations: B`): the same score recomputed with the outputs
 *   shuffled against `g`, `B` times — distribution-free, a check on the closed form (the
 *   periodogram's dependence on `g` alone is computed once, so each shuffle costs two dot
 *   products per frequency).
 *
 * @example
 * ```ts
 * import * as WatermarkProbe from "./src/probes/Watermark.js"
 * const g = Array.from({ length: 400 }, (_, i) => i / 400)
 * const y = g.map((t) => Math.cos(8 * Math.PI * t) + Math.sin(17 * t * t))
 * const found = WatermarkProbe.test(g, y, 8 * Math.PI)
 * found.pValue < 0.01 // true
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, type Scope } from "effect"
import type * as Pipeline from "../../dsl/Pipeline.js"
import type * as Watermark from "../../dsl/Watermark.js"
import * as Watermarking from "../compile/watermark.js"
import type { Data } from "../data/Data.js"
import type * as Dataset from "../data/Dataset.js"
import { IoError } from "../errors.js"
import type { Built } from "../models/Built.js"
import * as Predict from "../models/Predict.js"
import type * as Tree from "../models/Tree.js"
import * as RunDir from "./RunDir.js"

/**
 * The detector's verdict.
 *
 * @since 0.1.0
 * @category models
 */
export interface Detection {
  /** Power at the key's frequency over the mean power at the comparison frequencies. */
  readonly score: number
  /** P(score ≥ observed) under the white-noise null, F(2, 2m). */
  readonly pValue: number
  /** The key's angular frequency `k`. */
  readonly frequency: number
  /** How many comparison ordinates the noise level was estimated from (`m`). */
  readonly comparisons: number
  /** Normalised Lomb–Scargle power at every frequency tested (the key's included), ascending. */
  readonly spectrum: ReadonlyArray<{ readonly frequency: number; readonly power: number }>
  /** How many query images. */
  readonly queries: number
  /**
   * With `permutations: B`: `(1 + #{b : score_b ≥ score}) / (1 + B)`, where `score_b` is the score
   * of the outputs shuffled against `g` — a distribution-free check of `pValue` (it cannot go
   * below `1/(1 + B)`).
   */
  readonly permutationPValue?: number
  /** How many permutations `permutationPValue` was computed from. */
  readonly permutations?: number
}

/**
 * The Lomb–Scargle periodogram of the series `y` sampled at `t`, at angular frequencies `omegas`,
 * normalised by the variance of `y` (so that, for white noise, each ordinate is ≈ Exp(1)).
 *
 * @example
 * ```ts
 * import * as WatermarkProbe from "./src/probes/Watermark.js"
 * const t = Array.from({ length: 200 }, (_, i) => i / 200)
 * const p = WatermarkProbe.periodogram(t, t.map((v) => Math.cos(20 * v)), [10, 20, 30])
 * p[1]! > p[0]! // true
 * ```
 *
 * @since 0.1.0
 * @category spectra
 */
export const periodogram = (
  t: ArrayLike<number>,
  y: ArrayLike<number>,
  omegas: ReadonlyArray<number>,
): Float64Array => ordinates(basis(t, omegas), y)

/**
 * The part of the Lomb–Scargle periodogram that depends only on the sample times: per frequency,
 * `cos(ω(t − τ))` and `sin(ω(t − τ))` with their squared norms. Computed once, it makes the
 * periodogram of every permuted series a pair of dot products per frequency.
 */
interface Basis {
  readonly n: number
  readonly cos: ReadonlyArray<Float64Array>
  readonly sin: ReadonlyArray<Float64Array>
  readonly cc: Float64Array
  readonly ss: Float64Array
}

const basis = (t: ArrayLike<number>, omegas: ReadonlyArray<number>): Basis => {
  const n = t.length
  const cos: Array<Float64Array> = []
  const sin: Array<Float64Array> = []
  const cc = new Float64Array(omegas.length)
  const ss = new Float64Array(omegas.length)
  omegas.forEach((w, j) => {
    let s2 = 0
    let c2 = 0
    for (let i = 0; i < n; i++) {
      s2 += Math.sin(2 * w * t[i]!)
      c2 += Math.cos(2 * w * t[i]!)
    }
    const tau = Math.atan2(s2, c2) / (2 * w)
    const c = new Float64Array(n)
    const s = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      const a = w * (t[i]! - tau)
      c[i] = Math.cos(a)
      s[i] = Math.sin(a)
      cc[j]! += c[i]! * c[i]!
      ss[j]! += s[i]! * s[i]!
    }
    cos.push(c)
    sin.push(s)
  })
  return { n, cos, sin, cc, ss }
}

/** The normalised periodogram of `y` (in the basis's sample order) at the basis's frequencies. */
const ordinates = (b: Basis, y: ArrayLike<number>): Float64Array => {
  const n = b.n
  let mean = 0
  for (let i = 0; i < n; i++) mean += y[i]!
  mean /= Math.max(1, n)
  let variance = 0
  for (let i = 0; i < n; i++) variance += (y[i]! - mean) ** 2
  variance /= Math.max(1, n - 1)
  const out = new Float64Array(b.cos.length)
  if (n < 3 || variance <= 0) return out
  for (let j = 0; j < out.length; j++) {
    const c = b.cos[j]!
    const s = b.sin[j]!
    let yc = 0
    let ys = 0
    for (let i = 0; i < n; i++) {
      const d = y[i]! - mean
      yc += d * c[i]!
      ys += d * s[i]!
    }
    const cc = b.cc[j]!
    const ss = b.ss[j]!
    out[j] = ((cc > 0 ? (yc * yc) / cc : 0) + (ss > 0 ? (ys * ys) / ss : 0)) / (2 * variance)
  }
  return out
}

/** Power at index `at` over the mean of the others. */
const ratio = (power: Float64Array, at: number): number => {
  let sum = 0
  for (let j = 0; j < power.length; j++) if (j !== at) sum += power[j]!
  const noise = sum / Math.max(1, power.length - 1)
  return noise > 0 ? power[at]! / noise : 0
}

/**
 * Rank-based normal scores of a series (van der Waerden: `Φ⁻¹(rank/(n+1))`, ties averaged): a
 * monotone map that keeps an oscillation's phase but makes the series Gaussian, so that the
 * periodogram's exponential null holds even for the heavy-tailed confidences of a model that is
 * nearly always sure (top-class probabilities piled up at 1).
 *
 * @example
 * ```ts
 * import * as WatermarkProbe from "./src/probes/Watermark.js"
 * WatermarkProbe.normalScores([0.99, 0.2, 0.999]) // [0, −0.67, 0.67]
 * ```
 *
 * @since 0.1.0
 * @category spectra
 */
export const normalScores = (y: ArrayLike<number>): Float64Array => {
  const n = y.length
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => y[a]! - y[b]!)
  const out = new Float64Array(n)
  for (let i = 0; i < n; ) {
    let j = i
    while (j + 1 < n && y[order[j + 1]!] === y[order[i]!]) j++
    const rank = (i + j) / 2 + 1
    const score = inverseNormal(rank / (n + 1))
    for (let r = i; r <= j; r++) out[order[r]!] = score
    i = j + 1
  }
  return out
}

/** Φ⁻¹ by Acklam's rational approximation (relative error < 1.2e-9). */
const inverseNormal = (p: number): number => {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ]
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572]
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ]
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416]
  const lo = 0.02425
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p))
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    )
  }
  if (p > 1 - lo) return -inverseNormal(1 - p)
  const q = p - 0.5
  const r = q * q
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  )
}

/**
 * The comparison frequencies for a key frequency `k`: whole cycles `2π·j`, `j = from … to`,
 * except those within one cycle of `k`. Defaults: `from = 2` (the slowest trend is left out),
 * `to = max(24, ⌈k/2π⌉ + 8)`.
 *
 * @example
 * ```ts
 * import * as WatermarkProbe from "./src/probes/Watermark.js"
 * WatermarkProbe.comparisonFrequencies(8 * Math.PI).length // 22
 * ```
 *
 * @since 0.1.0
 * @category spectra
 */
export const comparisonFrequencies = (
  k: number,
  options: { readonly from?: number; readonly to?: number } = {},
): ReadonlyArray<number> => {
  const cycles = k / (2 * Math.PI)
  const from = options.from ?? 2
  const to = options.to ?? Math.max(24, Math.ceil(cycles) + 8)
  const out: Array<number> = []
  for (let j = from; j <= to; j++) if (Math.abs(j - cycles) >= 1) out.push(2 * Math.PI * j)
  return out
}

/**
 * The periodogram test of a series `y` against the phase `g` at the angular frequency `k`.
 *
 * @example
 * ```ts
 * import * as WatermarkProbe from "./src/probes/Watermark.js"
 * const g = Array.from({ length: 300 }, (_, i) => (i * 0.618) % 1)
 * const noise = g.map((_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1)
 * WatermarkProbe.test(g, noise, 8 * Math.PI).pValue // not small
 * ```
 *
 * @since 0.1.0
 * @category detection
 */
export const test = (
  g: ArrayLike<number>,
  y: ArrayLike<number>,
  k: number,
  options: {
    readonly from?: number
    readonly to?: number
    readonly permutations?: number
    readonly seed?: number
  } = {},
): Detection => {
  const others = comparisonFrequencies(k, options)
  const omegas = [...others, k].sort((a, b) => a - b)
  const b = basis(g, omegas)
  const scores = normalScores(y)
  const power = ordinates(b, scores)
  const at = omegas.indexOf(k)
  const m = others.length
  const score = ratio(power, at)
  const pValue = m > 0 && score > 0 ? (1 + score / m) ** -m : 1
  const detection: Detection = {
    score,
    pValue,
    frequency: k,
    comparisons: m,
    spectrum: omegas.map((frequency, j) => ({ frequency, power: power[j]! })),
    queries: g.length,
  }
  const permutations = Math.max(0, Math.floor(options.permutations ?? 0))
  if (permutations === 0) return detection
  // Fisher–Yates shuffles of the scores against g, from a seeded LCG: reproducible
  let state = (options.seed ?? 1) >>> 0
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
  const shuffled = Float64Array.from(scores)
  let above = 0
  for (let r = 0; r < permutations; r++) {
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1))
      const tmp = shuffled[i]!
      shuffled[i] = shuffled[j]!
      shuffled[j] = tmp
    }
    if (ratio(ordinates(b, shuffled), at) >= score) above++
  }
  return { ...detection, permutationPValue: (1 + above) / (1 + permutations), permutations }
}

/**
 * The series the detector reads from a model's outputs: each row's largest softmax probability
 * (`logits` is `n × classes`, row-major).
 *
 * @example
 * ```ts
 * import * as WatermarkProbe from "./src/probes/Watermark.js"
 * WatermarkProbe.topProbability(Float32Array.of(0, 0, 10, 0), 2) // [0.5, ≈1]
 * ```
 *
 * @since 0.1.0
 * @category detection
 */
export const topProbability = (logits: ArrayLike<number>, classes: number): Float64Array => {
  const n = Math.floor(logits.length / classes)
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    let max = Number.NEGATIVE_INFINITY
    for (let j = 0; j < classes; j++) max = Math.max(max, logits[i * classes + j]!)
    let z = 0
    for (let j = 0; j < classes; j++) z += Math.exp(logits[i * classes + j]! - max)
    out[i] = 1 / z
  }
  return out
}

/**
 * The key's phase `g(x)` of every query image (`split.x`, images of `shape`).
 *
 * @example
 * ```ts
 * import { Watermark } from "./dsl/index.js"
 * import * as WatermarkProbe from "./src/probes/Watermark.js"
 * const split = { x: new Float32Array(4 * 784).map(() => Math.random()), y: new Int32Array(4), n: 4 }
 * const g = WatermarkProbe.phases(Watermark.make({ seed: 1 }), split, [28, 28, 1])
 * ```
 *
 * @since 0.1.0
 * @category detection
 */
export const phases = (
  key: Watermark.Watermark,
  split: Dataset.Split,
  shape: readonly [number, number, number],
): Float32Array => {
  const [h, w, c] = shape
  const size = h * w * c
  const out = new Float32Array(split.n)
  for (let i = 0; i < split.n; i += 1000) {
    const k = Math.min(1000, split.n - i)
    const g = tf.tidy(() =>
      Watermarking.phase(key, tf.tensor4d(split.x.subarray(i * size, (i + k) * size), [k, h, w, c])),
    )
    out.set(g.dataSync(), i)
    g.dispose()
  }
  return out
}

/**
 * Detects a key's watermark in a model: its top-class probability on the query images against
 * the key's phase, tested at the key's frequency.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Watermark } from "./dsl/index.js"
 * import * as WatermarkProbe from "./src/probes/Watermark.js"
 * declare const built: import("./src/models/Built.js").Built
 * declare const queries: import("./src/data/Dataset.js").Split
 * const found = Effect.runPromise(WatermarkProbe.detect(built, Watermark.make({ seed: 1 }), queries, [28, 28, 1]))
 * ```
 *
 * @since 0.1.0
 * @category detection
 */
export const detect = (
  built: Built,
  key: Watermark.Watermark,
  queries: Dataset.Split,
  shape: readonly [number, number, number],
  options: {
    readonly params?: Tree.Tree
    readonly state?: Tree.Tree<tf.Variable>
    readonly from?: number
    readonly to?: number
    /** Also a permutation p-value from this many shuffles (see {@link Detection}); default none. */
    readonly permutations?: number
  } = {},
): Effect.Effect<Detection> =>
  Effect.gen(function* () {
    const logits = yield* Predict.logits(built, queries, shape, {
      ...(options.params !== undefined ? { params: options.params } : {}),
      ...(options.state !== undefined ? { state: options.state } : {}),
    })
    const classes = queries.n > 0 ? Math.round(logits.length / queries.n) : 1
    const g = phases(key, queries, shape)
    return test(g, topProbability(logits, classes), key.frequency, {
      ...(options.from !== undefined ? { from: options.from } : {}),
      ...(options.to !== undefined ? { to: options.to } : {}),
      ...(options.permutations !== undefined ? { permutations: options.permutations } : {}),
    })
  })

/**
 * The watermark key a pipeline serves its teacher with: the first frozen forward that carries
 * one (`undefined` when none does).
 *
 * @example
 * ```ts
 * import * as WatermarkProbe from "./src/probes/Watermark.js"
 * import watermark from "./pipelines/watermark.js"
 * WatermarkProbe.keyOf(watermark)?.seed // 19
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const keyOf = (pipeline: Pipeline.Pipeline): Watermark.Watermark | undefined => {
  for (const phase of pipeline.phases)
    for (const s of phase.step.stages)
      if (s._tag === "Forward" && s.watermark !== undefined) return s.watermark
  return undefined
}

/**
 * Top-1 accuracy of a model on a split with and without a watermark on its outputs: what serving
 * the watermarked probabilities costs the model's own users (`clean`, `watermarked`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Watermark } from "./dsl/index.js"
 * import * as WatermarkProbe from "./src/probes/Watermark.js"
 * declare const built: import("./src/models/Built.js").Built
 * declare const test: import("./src/data/Dataset.js").Split
 * const cost = Effect.runPromise(WatermarkProbe.accuracyCost(built, Watermark.make({ seed: 1 }), test, [28, 28, 1]))
 * ```
 *
 * @since 0.1.0
 * @category detection
 */
export const accuracyCost = (
  built: Built,
  key: Watermark.Watermark,
  split: Dataset.Split,
  shape: readonly [number, number, number],
  options: { readonly params?: Tree.Tree; readonly state?: Tree.Tree<tf.Variable> } = {},
): Effect.Effect<{ readonly clean: number; readonly watermarked: number }> =>
  Effect.gen(function* () {
    const logits = yield* Predict.logits(built, split, shape, options)
    const classes = split.n > 0 ? Math.round(logits.length / split.n) : 1
    const g = phases(key, split, shape)
    const served = tf.tidy(() =>
      tf.argMax(
        Watermarking.perturbProbabilities(
          key,
          tf.softmax(tf.tensor2d(logits, [split.n, classes])) as tf.Tensor2D,
          tf.tensor1d(g),
        ),
        1,
      ),
    )
    const wm = served.dataSync()
    served.dispose()
    let clean = 0
    let watermarked = 0
    for (let i = 0; i < split.n; i++) {
      let best = 0
      for (let j = 1; j < classes; j++) if (logits[i * classes + j]! > logits[i * classes + best]!) best = j
      if (best === split.y[i]) clean++
      if (wm[i] === split.y[i]) watermarked++
    }
    return { clean: clean / Math.max(1, split.n), watermarked: watermarked / Math.max(1, split.n) }
  })

/**
 * Detects a watermark in a trained model of a run directory: opens the run (`RunDir.open`), and
 * tests the model on the first `queries` images (default: all) of the test split (or `split`).
 * The key defaults to the one the run's pipeline served its teacher with ({@link keyOf}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Data } from "./src/data/Data.js"
 * import * as WatermarkProbe from "./src/probes/Watermark.js"
 * const found = Effect.runPromise(
 *   Effect.scoped(WatermarkProbe.detectRun("runs/watermark", "student")).pipe(Effect.provide(Data.layer)),
 * )
 * ```
 *
 * @since 0.1.0
 * @category detection
 */
export const detectRun = (
  dir: string,
  model: string,
  options: Omit<RunDir.OpenOptions, "model"> & {
    readonly key?: Watermark.Watermark
    readonly queries?: number
    readonly split?: "test" | "train"
    readonly permutations?: number
  } = {},
): Effect.Effect<Detection, RunDir.OpenError | IoError, Data | Scope.Scope> =>
  Effect.gen(function* () {
    const { key: given, queries, split, permutations, ...open } = options
    const opened = yield* RunDir.open(dir, { ...open, model })
    const key = given ?? keyOf(opened.pipeline)
    if (key === undefined)
      return yield* Effect.fail(
        new IoError({
          path: dir,
          message: "the run's pipeline serves no watermark: give the key to test for",
        }),
      )
    const from = opened.dataset[split ?? "test"]
    const n = Math.min(from.n, queries ?? from.n)
    const size = opened.dataset.shape[0] * opened.dataset.shape[1] * opened.dataset.shape[2]
    const sub: Dataset.Split = { x: from.x.subarray(0, n * size), y: from.y.subarray(0, n), n }
    return yield* detect(opened.built, key, sub, opened.dataset.shape, {
      ...(permutations !== undefined ? { permutations } : {}),
    })
  })
