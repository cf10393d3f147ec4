/**
 * Classification metrics over plain typed arrays: the interpreter reads logits back from the
 * backend (asynchronously, every N steps or at evaluation) and hands them here. Nothing in this
 * module touches tfjs.
 *
 * Logits are row-major `[n, classes]` in one `Float32Array`; labels are class indices in an
 * `Int32Array` of length `n`. All sums are taken in float64 and every softmax goes through a
 * max-shifted log-sum-exp, so the results are invariant to adding a constant to a row of logits
 * and never overflow.
 *
 * @example
 * ```ts
 * import * as Metrics from "./Metrics.js"
 * const logits = new Float32Array([2, 0, 0, 3]) // two samples, two classes
 * const labels = new Int32Array([0, 0])
 * Metrics.accuracy(logits, labels, 2) // 0.5
 * ```
 *
 * @since 0.1.0
 */
import { ShapeError } from "../errors.js"

/**
 * Anything indexable that holds logits: a `Float32Array` read back from a tensor, or a
 * `Float64Array` / plain array built by hand.
 *
 * @since 0.1.0
 * @category models
 */
export type Logits = ArrayLike<number>

/**
 * Class indices, one per sample.
 *
 * @since 0.1.0
 * @category models
 */
export type Labels = ArrayLike<number>

/**
 * The number of samples in `logits`, after checking that `classes` is a positive integer and
 * `logits` holds a whole number of rows. Throws a {@link ShapeError} otherwise (a bug in the
 * caller, not a user error).
 *
 * @example
 * ```ts
 * import * as Metrics from "./Metrics.js"
 * Metrics.rows(new Float32Array(30), 10) // 3
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const rows = (logits: Logits, classes: number): number => {
  if (!Number.isInteger(classes) || classes < 1) {
    throw new ShapeError({ path: "classes", message: `classes must be a positive integer, got ${classes}` })
  }
  if (logits.length % classes !== 0) {
    throw new ShapeError({
      path: "logits",
      message: `logits hold ${logits.length} values, not a multiple of ${classes} classes`,
    })
  }
  return logits.length / classes
}

const checked = (logits: Logits, labels: Labels, classes: number): number => {
  const n = rows(logits, classes)
  if (labels.length !== n) {
    throw new ShapeError({
      path: "labels",
      message: `${labels.length} labels for ${n} rows of logits (${classes} classes)`,
    })
  }
  for (let i = 0; i < n; i++) {
    const y = labels[i]!
    if (!Number.isInteger(y) || y < 0 || y >= classes) {
      throw new ShapeError({
        path: `labels[${i}]`,
        message: `label ${y} is not a class index in [0, ${classes})`,
      })
    }
  }
  return n
}

/** Index of the largest value in row `i` (first one on ties; NaN never wins). */
const argmaxRow = (logits: Logits, i: number, classes: number): number => {
  const off = i * classes
  let best = 0
  let bestValue = logits[off]!
  for (let k = 1; k < classes; k++) {
    const v = logits[off + k]!
    if (v > bestValue || (Number.isNaN(bestValue) && !Number.isNaN(v))) {
      bestValue = v
      best = k
    }
  }
  return best
}

/** `log Σ exp(row - max)`: the log-sum-exp of row `i` less its maximum `max`. */
const shiftedLse = (logits: Logits, i: number, classes: number, max: number): number => {
  const off = i * classes
  let sum = 0
  for (let k = 0; k < classes; k++) sum += Math.exp(logits[off + k]! - max)
  return Math.log(sum)
}

/**
 * The predicted class (arg-max, first index on ties) of each row.
 *
 * @example
 * ```ts
 * import * as Metrics from "./Metrics.js"
 * Metrics.predictions(new Float32Array([0, 1, 5, 2]), 2) // Int32Array [1, 0]
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const predictions = (logits: Logits, classes: number): Int32Array => {
  const n = rows(logits, classes)
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) out[i] = argmaxRow(logits, i, classes)
  return out
}

/**
 * Row-wise softmax at `temperature` (default 1), computed stably.
 *
 * @example
 * ```ts
 * import * as Metrics from "./Metrics.js"
 * Metrics.softmax(new Float32Array([0, 0]), 2) // Float32Array [0.5, 0.5]
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const softmax = (logits: Logits, classes: number, temperature = 1): Float32Array => {
  const n = rows(logits, classes)
  const out = new Float32Array(logits.length)
  const t = 1 / temperature
  for (let i = 0; i < n; i++) {
    const off = i * classes
    let max = Number.NEGATIVE_INFINITY
    for (let k = 0; k < classes; k++) max = Math.max(max, logits[off + k]! * t)
    let sum = 0
    for (let k = 0; k < classes; k++) sum += Math.exp(logits[off + k]! * t - max)
    for (let k = 0; k < classes; k++) out[off + k] = Math.exp(logits[off + k]! * t - max) / sum
  }
  return out
}

/**
 * Top-1 accuracy: the fraction of rows whose arg-max is the label. `NaN` for no rows.
 *
 * @example
 * ```ts
 * import * as Metrics from "./Metrics.js"
 * Metrics.accuracy(new Float32Array([2, 0, 0, 3]), new Int32Array([0, 0]), 2) // 0.5
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const accuracy = (logits: Logits, labels: Labels, classes: number): number => {
  const n = checked(logits, labels, classes)
  let correct = 0
  for (let i = 0; i < n; i++) if (argmaxRow(logits, i, classes) === labels[i]) correct++
  return correct / n
}

/**
 * Mean negative log-likelihood of the labels under `softmax(logits)` (natural log), through a
 * stable log-softmax. `NaN` for no rows.
 *
 * @example
 * ```ts
 * import * as Metrics from "./Metrics.js"
 * Metrics.nll(new Float32Array([0, 0]), new Int32Array([1]), 2) // Math.LN2
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const nll = (logits: Logits, labels: Labels, classes: number): number => {
  const n = checked(logits, labels, classes)
  let sum = 0
  for (let i = 0; i < n; i++) {
    const max = logits[i * classes + argmaxRow(logits, i, classes)]!
    sum += max - logits[i * classes + labels[i]!]! + shiftedLse(logits, i, classes, max)
  }
  return sum / n
}

/**
 * Expected calibration error (Guo et al., 2017): rows are put in `bins` equal-width bins of
 * confidence (the top softmax probability), bin `m` holding confidences in `((m-1)/bins, m/bins]`,
 * and ECE = Σₘ |Bₘ|/n · |accuracy(Bₘ) − mean confidence(Bₘ)|. In `[0, 1]`; `NaN` for no rows.
 *
 * @example
 * ```ts
 * import * as Metrics from "./Metrics.js"
 * // one confident mistake: confidence ≈ 1, accuracy 0
 * Metrics.ece(new Float32Array([0, 40]), new Int32Array([0]), 2) // 1
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const ece = (logits: Logits, labels: Labels, classes: number, bins = 15): number =>
  new Accumulator(classes, { bins }).add(logits, labels).result().ece

/**
 * Top-1 agreement between two models on the same rows (teacher–student fidelity): the fraction of
 * rows where both arg-maxes coincide. `NaN` for no rows.
 *
 * @example
 * ```ts
 * import * as Metrics from "./Metrics.js"
 * Metrics.agreement(new Float32Array([1, 0, 0, 1]), new Float32Array([5, 1, 3, 2]), 2) // 0.5
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const agreement = (a: Logits, b: Logits, classes: number): number => {
  const n = rows(a, classes)
  if (b.length !== a.length) {
    throw new ShapeError({ path: "b", message: `${b.length / classes} rows against ${n} rows` })
  }
  let same = 0
  for (let i = 0; i < n; i++) if (argmaxRow(a, i, classes) === argmaxRow(b, i, classes)) same++
  return same / n
}

/**
 * Confusion matrix: `counts[truth][predicted]`, a `classes × classes` array of counts.
 *
 * @example
 * ```ts
 * import * as Metrics from "./Metrics.js"
 * Metrics.confusion(new Float32Array([2, 0, 0, 3]), new Int32Array([0, 0]), 2) // [[1, 1], [0, 0]]
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const confusion = (logits: Logits, labels: Labels, classes: number): Array<Array<number>> => {
  const n = checked(logits, labels, classes)
  const counts = Array.from({ length: classes }, () => new Array<number>(classes).fill(0))
  for (let i = 0; i < n; i++) counts[labels[i]!]![argmaxRow(logits, i, classes)]!++
  return counts
}

/**
 * Top-1 accuracy of each exit of a multi-exit model (BYOT heads, DeiT class and distillation
 * tokens, cosub submodels), keyed like the input. `classes` defaults to `logits.length / n`.
 *
 * @example
 * ```ts
 * import * as Metrics from "./Metrics.js"
 * const labels = new Int32Array([1])
 * Metrics.perExit({ block1: new Float32Array([1, 0]), final: new Float32Array([0, 1]) }, labels)
 * // { block1: 0, final: 1 }
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const perExit = <K extends string>(
  exits: Readonly<Record<K, Logits>>,
  labels: Labels,
  classes?: number,
): Record<K, number> => {
  const out = {} as Record<K, number>
  for (const key of Object.keys(exits) as Array<K>) {
    const logits = exits[key]
    const c = classes ?? (labels.length === 0 ? 1 : logits.length / labels.length)
    if (!Number.isInteger(c)) {
      throw new ShapeError({
        path: `exits.${key}`,
        message: `${logits.length} logits do not split into ${labels.length} rows`,
      })
    }
    out[key] = accuracy(logits, labels, c)
  }
  return out
}

const checkSameShape = (list: ReadonlyArray<Logits>, classes: number): number => {
  if (list.length === 0) throw new ShapeError({ path: "logits", message: "no models to average" })
  const n = rows(list[0]!, classes)
  list.forEach((l, j) => {
    if (l.length !== list[0]!.length) {
      throw new ShapeError({ path: `logits[${j}]`, message: `${l.length} values against ${list[0]!.length}` })
    }
  })
  return n
}

/**
 * Mean of the softmaxes of several models' logits on the same rows: the prediction of an
 * ensemble (born-again networks) or of DeiT's averaged class and distillation heads. Returns
 * probabilities; use {@link ensemble} for log-probabilities that every metric here accepts as
 * logits.
 *
 * @example
 * ```ts
 * import * as Metrics from "./Metrics.js"
 * Metrics.averageProbs([new Float32Array([0, 0]), new Float32Array([0, 40])], 2) // ≈ [0.25, 0.75]
 * ```
 *
 * @since 0.1.0
 * @category ensembles
 */
export const averageProbs = (list: ReadonlyArray<Logits>, classes: number): Float32Array => {
  const n = checkSameShape(list, classes)
  const acc = new Float64Array(n * classes)
  for (const logits of list) {
    const p = softmax(logits, classes)
    for (let j = 0; j < acc.length; j++) acc[j]! += p[j]!
  }
  const out = new Float32Array(acc.length)
  for (let j = 0; j < acc.length; j++) out[j] = acc[j]! / list.length
  return out
}

/**
 * Log of the ensemble's mean probability, `log(mean_j softmax(logits_j))`, computed with
 * log-sum-exp so it never underflows to `-Infinity` where a model is merely very confident. Being
 * log-probabilities, the result can be fed as logits to {@link accuracy}, {@link nll},
 * {@link ece} or an {@link Accumulator}: `softmax(ensemble(xs)) = averageProbs(xs)`.
 *
 * @example
 * ```ts
 * import * as Metrics from "./Metrics.js"
 * const labels = new Int32Array([1])
 * Metrics.nll(Metrics.ensemble([new Float32Array([0, 0]), new Float32Array([0, 40])], 2), labels, 2)
 * // -log(0.75)
 * ```
 *
 * @since 0.1.0
 * @category ensembles
 */
export const ensemble = (list: ReadonlyArray<Logits>, classes: number): Float32Array => {
  const n = checkSameShape(list, classes)
  const m = list.length
  // log-softmax of every model, row by row, then log-mean-exp across models per entry
  const logp = list.map((logits) => {
    const out = new Float64Array(n * classes)
    for (let i = 0; i < n; i++) {
      const max = logits[i * classes + argmaxRow(logits, i, classes)]!
      const lse = max + shiftedLse(logits, i, classes, max)
      for (let k = 0; k < classes; k++) out[i * classes + k] = logits[i * classes + k]! - lse
    }
    return out
  })
  const out = new Float32Array(n * classes)
  for (let j = 0; j < out.length; j++) {
    let max = Number.NEGATIVE_INFINITY
    for (let s = 0; s < m; s++) max = Math.max(max, logp[s]![j]!)
    let sum = 0
    for (let s = 0; s < m; s++) sum += Math.exp(logp[s]![j]! - max)
    out[j] = max + Math.log(sum / m)
  }
  return out
}

/**
 * What an {@link Accumulator} yields: accuracy, mean NLL and ECE over the `n` rows seen.
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  readonly accuracy: number
  readonly nll: number
  readonly ece: number
  readonly n: number
}

/**
 * Streams evaluation over batches without keeping logits: `add` each batch, read `result()` at
 * the end. Keeps only counts, sums and the per-bin calibration statistics, so memory does not
 * grow with the data set. Equal to {@link accuracy}, {@link nll} and {@link ece} on the
 * concatenated batches.
 *
 * @example
 * ```ts
 * import * as Metrics from "./Metrics.js"
 * const acc = new Metrics.Accumulator(2)
 * acc.add(new Float32Array([2, 0]), new Int32Array([0]))
 * acc.add(new Float32Array([0, 3]), new Int32Array([0]))
 * acc.result() // { accuracy: 0.5, nll: …, ece: …, n: 2 }
 * ```
 *
 * @since 0.1.0
 * @category accumulators
 */
export class Accumulator {
  /** Number of confidence bins used for ECE. */
  readonly bins: number
  private n = 0
  private correct = 0
  private nllSum = 0
  private readonly binCount: Float64Array
  private readonly binConfidence: Float64Array
  private readonly binCorrect: Float64Array

  constructor(
    readonly classes: number,
    options: { readonly bins?: number } = {},
  ) {
    rows([], classes)
    this.bins = options.bins ?? 15
    if (!Number.isInteger(this.bins) || this.bins < 1) {
      throw new ShapeError({ path: "bins", message: `bins must be a positive integer, got ${this.bins}` })
    }
    this.binCount = new Float64Array(this.bins)
    this.binConfidence = new Float64Array(this.bins)
    this.binCorrect = new Float64Array(this.bins)
  }

  /** Adds one batch of logits and labels; returns `this` for chaining. */
  add(logits: Logits, labels: Labels): this {
    const classes = this.classes
    const n = checked(logits, labels, classes)
    for (let i = 0; i < n; i++) {
      const top = argmaxRow(logits, i, classes)
      const max = logits[i * classes + top]!
      const lse = shiftedLse(logits, i, classes, max)
      const y = labels[i]!
      const hit = top === y ? 1 : 0
      this.correct += hit
      this.nllSum += max - logits[i * classes + y]! + lse
      const confidence = Math.exp(-lse)
      const bin = Math.min(this.bins - 1, Math.max(0, Math.ceil(confidence * this.bins) - 1))
      this.binCount[bin]! += 1
      this.binConfidence[bin]! += confidence
      this.binCorrect[bin]! += hit
    }
    this.n += n
    return this
  }

  /** Accuracy, mean NLL and ECE of everything added so far (`NaN`s when nothing was added). */
  result(): Summary {
    const n = this.n
    let ece = 0
    for (let b = 0; b < this.bins; b++) {
      ece += Math.abs(this.binCorrect[b]! - this.binConfidence[b]!)
    }
    return { accuracy: this.correct / n, nll: this.nllSum / n, ece: ece / n, n }
  }
}
