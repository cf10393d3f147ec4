/**
 * The TensorFlow.js meaning of every {@link Loss.Loss} term: a table of handlers keyed by `_tag`
 * (a forgotten kind is a compile error), a stop-gradient ({@link detach}) and the weighted mix of
 * terms ({@link mix}, {@link mixLosses}).
 *
 * Everything here is synchronous and allocates only transient tensors: call it inside the
 * step's `tf.tidy`. Every loss is a batch mean, so that a loss's scale does not depend on the
 * batch size. Shapes that cannot agree throw a {@link ShapeError} (synchronously).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Loss from "./dsl/Loss.js"
 * import * as Ramp from "./dsl/Ramp.js"
 * import * as Losses from "./src/compile/losses.js"
 * const board: Record<string, tf.Tensor> = { s: tf.tensor2d([[2, 0, -1]]), t: tf.tensor2d([[1, 1, 0]]) }
 * const clock = { step: 0, epoch: 0, progress: 0 }
 * const ctx: Losses.LossContext = {
 *   get: (ref) => (Loss.isDetached(ref) ? Losses.detach(board[Loss.refName(ref)]!) : board[Loss.refName(ref)]!),
 *   y: tf.tensor2d([[1, 0, 0]]),
 *   hyper: (num) => Ramp.evaluate(num, clock),
 *   projection: () => { throw new Error("no projections here") },
 * }
 * const kd = tf.tidy(() => Losses.compute(Loss.kl({ teacher: "t", student: "s", temperature: 4 }), ctx, "kd"))
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Loss from "../../dsl/Loss.js"
import * as Ramp from "../../dsl/Ramp.js"
import { ShapeError } from "../errors.js"

// ---------------------------------------------------------------------------------------------
// Context
// ---------------------------------------------------------------------------------------------

/**
 * What a loss handler may read during a step.
 *
 * - `get(ref)`: a blackboard value; for a `Detach` ref, a stop-gradient copy ({@link detach}).
 * - `y`: the label targets `[batch, classes]`, float32 rows summing to 1 (soft after mixup).
 * - `hyper(num)`: a number or ramp evaluated at the current clock.
 * - `projection(term, inDim, outDim)`: the learned projection of a {@link Loss.Hint} term
 *   (`kernel [inDim, outDim]`, `bias [outDim]`), created once by the caller and keyed by the
 *   term's name; train it with the model that produced the student feature.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Loss from "./dsl/Loss.js"
 * import * as Losses from "./src/compile/losses.js"
 * const ctx: Losses.LossContext = {
 *   get: (ref) => tf.zeros([2, 3]),
 *   y: tf.tensor2d([[1, 0, 0], [0, 1, 0]]),
 *   hyper: (num) => (typeof num === "number" ? num : 0),
 *   projection: (_term, inDim, outDim) => ({ kernel: tf.variable(tf.zeros([inDim, outDim])), bias: tf.variable(tf.zeros([outDim])) }),
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface LossContext {
  readonly get: (ref: Loss.Ref) => tf.Tensor
  readonly y: tf.Tensor2D
  readonly hyper: (num: Ramp.Num) => number
  readonly projection: (term: string, inDim: number, outDim: number) => Projection
  /**
   * A number or ramp that reads a learned hyper-parameter (`Ramp.learned`), as a scalar tensor
   * through which the gradient reaches it; temperatures use it when present.
   */
  readonly value?: (num: Ramp.Num) => number | tf.Scalar
  /**
   * The running class prototypes of a {@link Loss.Prototype} term (`sum [classes, dim]`,
   * `count [classes]`), created once by the caller and keyed by the term's name; absent where a
   * context keeps no training state.
   */
  readonly prototypes?: (term: string, classes: number, dim: number) => PrototypeSlot
  /** The training step, so that a prototype term updates its prototypes once per step. */
  readonly step?: number
}

/**
 * The running class prototypes of a {@link Loss.Prototype} term: per class `k`, the sum of the
 * teacher features `sum[k] = Σᵢ yᵢₖ·tᵢ` and the total weight `count[k] = Σᵢ yᵢₖ` of every sample
 * seen so far, so that `μ_k = sum[k] / count[k]` is the running mean (the full-pass mean once
 * every sample has been seen). Not trained (no gradient); `updatedAt` is the step of the last
 * update (−1: none).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import type * as Losses from "./src/compile/losses.js"
 * const slot: Losses.PrototypeSlot = {
 *   sum: tf.variable(tf.zeros([10, 128]), false),
 *   count: tf.variable(tf.zeros([10]), false),
 *   updatedAt: -1,
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface PrototypeSlot {
  readonly sum: tf.Variable
  readonly count: tf.Variable
  updatedAt: number
}

/**
 * Adds a batch of (teacher) features `[batch, dim]` with class weights `y` (`[batch, classes]`,
 * one-hot or soft) to running prototypes, once per `step` (a second call at the same step is a
 * no-op, so a segment run twice in a step counts its batch once), and returns the prototype
 * means `[classes, dim]` (zero for a class never seen). No gradient flows through them.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Losses from "./src/compile/losses.js"
 * const slot = { sum: tf.variable(tf.zeros([2, 1]), false), count: tf.variable(tf.zeros([2]), false), updatedAt: -1 }
 * Losses.updatePrototypes(slot, tf.tensor2d([[1], [3]]), tf.tensor2d([[1, 0], [1, 0]]), 0) // [[2], [0]]
 * ```
 *
 * @since 0.1.0
 * @category handlers
 */
export const updatePrototypes = (
  slot: PrototypeSlot,
  features: tf.Tensor2D,
  y: tf.Tensor2D,
  step: number,
): tf.Tensor2D => {
  if (slot.updatedAt !== step) {
    const f = detach(features) as tf.Tensor2D
    const w = detach(y) as tf.Tensor2D
    slot.sum.assign(tf.add(slot.sum, tf.matMul(w, f, true, false)))
    slot.count.assign(tf.add(slot.count, tf.sum(w, 0)))
    slot.updatedAt = step
  }
  return prototypeMeans(slot)
}

/**
 * The prototype means `sum[k] / count[k]` of running prototypes, `[classes, dim]` (zero rows for
 * classes never seen).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Losses from "./src/compile/losses.js"
 * const slot = { sum: tf.variable(tf.tensor2d([[4], [0]]), false), count: tf.variable(tf.tensor1d([2, 0]), false), updatedAt: 0 }
 * Losses.prototypeMeans(slot) // [[2], [0]]
 * ```
 *
 * @since 0.1.0
 * @category handlers
 */
export const prototypeMeans = (slot: PrototypeSlot): tf.Tensor2D =>
  tf.div(slot.sum, tf.expandDims(tf.maximum(slot.count, 1e-12), 1)) as tf.Tensor2D

/**
 * The parameters of a learned linear projection `x·kernel + bias`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import type * as Losses from "./src/compile/losses.js"
 * const p: Losses.Projection = { kernel: tf.variable(tf.zeros([8, 4])), bias: tf.variable(tf.zeros([4])) }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Projection {
  readonly kernel: tf.Variable
  readonly bias: tf.Variable
}

/**
 * Computes one kind of loss term as a scalar tensor. `term` is the term's name (the key of
 * projection parameters and of error messages).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import type * as Loss from "./dsl/Loss.js"
 * import type * as Losses from "./src/compile/losses.js"
 * const zero: Losses.LossHandler<Loss.Hint> = () => tf.scalar(0)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type LossHandler<L> = (loss: L, ctx: LossContext, term: string) => tf.Scalar

/**
 * One handler per loss kind, keyed by `_tag`.
 *
 * @example
 * ```ts
 * import type * as Losses from "./src/compile/losses.js"
 * type Kinds = keyof Losses.Handlers // "CrossEntropy" | "Focal" | …
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Handlers = {
  readonly [K in Loss.Loss["_tag"]]: LossHandler<Extract<Loss.Loss, { readonly _tag: K }>>
}

// ---------------------------------------------------------------------------------------------
// Stop-gradient
// ---------------------------------------------------------------------------------------------

const stopGradient = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
  value: tf.clone(args[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
}))

/**
 * Stop-gradient: the same values (a copy sharing the data, no copying of the buffer), through
 * which no gradient flows (its gradient is zero).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Losses from "./src/compile/losses.js"
 * const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(Losses.detach(x), x)))(tf.tensor1d([3]))
 * // [3]: d/dx (sg(x)·x) = sg(x)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const detach = (t: tf.Tensor): tf.Tensor => stopGradient(t)

/**
 * `[batch]` 1 where the argmaxes of two `[batch, k]` logits agree, else 0: a constant of its
 * inputs (computed inside a custom op with a zero gradient, since tfjs has no gradient for the
 * comparison; the adversarial term's mask).
 */
const agreement = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b] = args as [tf.Tensor, tf.Tensor]
  return {
    value: tf.cast(tf.equal(tf.argMax(a, -1), tf.argMax(b, -1)), "float32"),
    gradFunc: () => [tf.zerosLike(a), tf.zerosLike(b)],
  }
})

/** `[batch]` 1 where `l < λ`, else 0, as a constant of `l` (the hard curriculum weight). */
const below = (l: tf.Tensor, lambda: number): tf.Tensor =>
  tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x = args[0] as tf.Tensor
    return { value: tf.cast(tf.less(x, lambda), "float32"), gradFunc: () => tf.zerosLike(x) }
  })(l)

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

const shapeError = (term: string, message: string): ShapeError =>
  new ShapeError({ path: `loss.${term}`, message })

const sameShape = (term: string, what: string, a: tf.Tensor, b: tf.Tensor): void => {
  if (a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i]))
    throw shapeError(term, `${what}: shapes [${a.shape.join(", ")}] and [${b.shape.join(", ")}] differ`)
}

/** `[batch, …]` → `[batch, features]` */
const flatten = (t: tf.Tensor): tf.Tensor2D =>
  t.rank === 2 ? (t as tf.Tensor2D) : tf.reshape(t, [t.shape[0] ?? 1, t.size / (t.shape[0] || 1)])

/** Mean over every axis but the last, of the sum over the last. */
const meanOfRowSums = (t: tf.Tensor): tf.Scalar => tf.mean(tf.sum(t, -1))

/** Per-row KL(P ‖ Q) from log-probabilities (last axis), shape without the last axis. */
const klRows = (logP: tf.Tensor, logQ: tf.Tensor): tf.Tensor =>
  tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)), -1)

/** Cross-entropy of logits against target distributions, batch mean. */
const softCrossEntropy = (logits: tf.Tensor, targets: tf.Tensor): tf.Scalar =>
  tf.neg(meanOfRowSums(tf.mul(targets, tf.logSoftmax(logits))))

/** `x / max(‖x‖₂, 1e-12)` per row (as PyTorch's `F.normalize`), with a finite gradient at 0. */
const l2Normalize = (x: tf.Tensor2D): tf.Tensor2D =>
  tf.mul(x, tf.rsqrt(tf.maximum(tf.sum(tf.square(x), -1, true), 1e-24)))

/** `log(1 + eˣ)`, stable for large |x|, with the exact gradient σ(x) everywhere (also at 0). */
const softplus = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0] as tf.Tensor
  ;(args[1] as tf.GradSaveFunc)([x])
  return {
    value: tf.add(tf.relu(x), tf.log1p(tf.exp(tf.neg(tf.abs(x))))),
    gradFunc: (dy: tf.Tensor, saved: Array<tf.Tensor>) => tf.mul(dy, tf.sigmoid(saved[0]!)),
  }
})

/** The label targets a `labels` operand names: `y` itself, or the softmax of a logits name. */
const targetsOf = (ref: Loss.Ref, ctx: LossContext): tf.Tensor =>
  Loss.refName(ref) === "y" ? ctx.y : tf.softmax(ctx.get(ref))

/** A temperature that may be learned: a scalar tensor then (positive by its declared constraint). */
const learnableTemperature = (num: Ramp.Num, ctx: LossContext, term: string): number | tf.Scalar =>
  ctx.value !== undefined && Ramp.isLearned(num) ? ctx.value(num) : temperatureOf(num, ctx, term)

const temperatureOf = (num: Ramp.Num, ctx: LossContext, term: string): number => {
  const t = ctx.hyper(num)
  if (!(t > 0)) throw shapeError(term, `temperature must be positive, got ${t}`)
  return t
}

const scaled = (logits: tf.Tensor, t: number | tf.Scalar): tf.Tensor => (t === 1 ? logits : tf.div(logits, t))

/** Batch relation map of L2-normalised flattened features: `F·Fᵀ`, `[batch, batch]`. */
const relationMap = (features: tf.Tensor, normalize = true): tf.Tensor2D => {
  const f = normalize ? l2Normalize(flatten(features)) : flatten(features)
  return tf.matMul(f, f, false, true)
}

/**
 * Per-head token relation log-map `log softmax(x_h·y_hᵀ/√d_h)` of token features `x`, `y`
 * (`[batch, tokens, dim]`, heads in consecutive channel groups): `[batch, heads, tokens, tokens]`.
 */
const tokenRelationLogits = (x: tf.Tensor, y: tf.Tensor, heads: number): tf.Tensor4D => {
  const [b, n, dim] = x.shape as [number, number, number]
  const d = dim / heads
  const split = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [b, n, heads, d]), [0, 2, 1, 3]) as tf.Tensor4D
  return tf.logSoftmax(tf.mul(tf.matMul(split(x), split(y), false, true), 1 / Math.sqrt(d))) as tf.Tensor4D
}

const tokenFeatures = (term: string, side: string, x: tf.Tensor, y: tf.Tensor, heads: number): void => {
  if (x.rank !== 3 || y.rank !== 3)
    throw shapeError(
      term,
      `${side} token relation needs token features [batch, tokens, dim] (a ViT's block<i>/q|k|v taps), got [${x.shape.join(", ")}] and [${y.shape.join(", ")}]`,
    )
  sameShape(term, `${side} x and y`, x, y)
  if (x.shape[2]! % heads !== 0)
    throw shapeError(term, `${side} width ${x.shape[2]} is not divisible by ${heads} relation heads`)
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

/**
 * The loss table. Semantics (every term a batch mean):
 *
 * - `CrossEntropy`: `−Σ y′·log softmax(s)` with `y′ = (1−ε)·y + ε/K`; a `labels` operand other
 *   than `"y"` names logits, whose softmax is the target.
 * - `Focal`: `−Σ y·(1−p)^γ·log p` (γ = 0 is cross-entropy; `1−p` is floored at 1e-12).
 * - `Bce`: binary cross-entropy with logits, mean over every element; target the labels, or
 *   `σ(teacher logits)`.
 * - `Kl`: `T²·KL(p_t ‖ p_s)` (forward), `T²·KL(p_s ‖ p_t)` (reverse), their mean (symmetric),
 *   with `p = softmax(logits / T)`, via log-softmax.
 * - `HardDistill`: cross-entropy of the student against the one-hot argmax of the teacher.
 * - `Tst`: `−Σ y·log softmax(t) − Σ y·log(1 − softmax(s))` (`1 − p` floored at 1e-7), TST's
 *   augmenter objective.
 * - `Hint`: mean squared error between flattened features (student through `x·kernel + bias`
 *   with `projection`; both L2-normalised per sample with `normalize`, after projecting).
 * - `Relation`: `G = F·Fᵀ` of per-sample L2-normalised flattened features (raw ones with
 *   `normalize: false`); `gram` is the mean
 *   squared error of `G_s` and `G_t`, `softmax` the row-wise `KL(softmax(G_t/τ) ‖ softmax(G_s/τ))`.
 * - `TokenRelation`: per head `h` (channel group of `d = dim/heads`), `R = softmax(x_h·y_hᵀ/√d)`
 *   over tokens for the student and the teacher pair; the mean over batch, heads and query
 *   tokens of the row-wise `KL(R_t ‖ R_s)` (TinyMIM's relation loss).
 * - `MultiTeacher`: per sample, `cᵢ = −Σ softmax(tᵢ/T)·log softmax(s/T)` for each teacher and
 *   `T²·Σᵢ αᵢ·cᵢ` with `α = softmax(sg(c))` (`softmax-loss`) or `1/n` (`mean`) — see
 *   {@link multiTeacherWeights}.
 * - `Prototype`: the running class means `μ` of the (detached) teacher feature are updated with
 *   the batch ({@link updatePrototypes}); then `mean((P(s) − y·μ)²)` (`mse`) or
 *   `mean(1 − cos(P(s), y·μ))` (`cosine`), with `P` the learned projection (`projection`).
 *
 * @example
 * ```ts
 * import * as Losses from "./src/compile/losses.js"
 * Object.keys(Losses.handlers) // ["CrossEntropy", "Focal", "Bce", "Kl", "HardDistill", "Hint", "Relation", "MultiTeacher"]
 * ```
 *
 * @since 0.1.0
 * @category handlers
 */
export const handlers: Handlers = {
  CrossEntropy: (loss, ctx, term) => {
    const logits = ctx.get(loss.logits)
    let targets = targetsOf(loss.labels, ctx)
    sameShape(term, "logits and labels", logits, targets)
    const eps = ctx.hyper(loss.smoothing)
    if (eps !== 0) {
      const k = logits.shape[logits.rank - 1] ?? 1
      targets = tf.add(tf.mul(targets, 1 - eps), eps / k)
    }
    return softCrossEntropy(logits, targets)
  },

  Focal: (loss, ctx, term) => {
    const logits = ctx.get(loss.logits)
    const targets = targetsOf(loss.labels, ctx)
    sameShape(term, "logits and labels", logits, targets)
    const gamma = ctx.hyper(loss.gamma)
    const logp = tf.logSoftmax(logits)
    const weights =
      gamma === 0 ? targets : tf.mul(targets, tf.pow(tf.maximum(tf.sub(1, tf.exp(logp)), 1e-12), gamma))
    return tf.neg(meanOfRowSums(tf.mul(weights, logp)))
  },

  Bce: (loss, ctx, term) => {
    const logits = ctx.get(loss.logits)
    const target =
      loss.target._tag === "Labels" ? targetsOf(loss.target.ref, ctx) : tf.sigmoid(ctx.get(loss.target.ref))
    sameShape(term, "logits and target", logits, target)
    return tf.mean(tf.sub(softplus(logits), tf.mul(logits, target)))
  },

  Kl: (loss, ctx, term) => {
    const teacher = ctx.get(loss.teacher)
    const student = ctx.get(loss.student)
    sameShape(term, "teacher and student", teacher, student)
    const t = learnableTemperature(loss.temperature, ctx, term)
    const lt = tf.logSoftmax(scaled(teacher, t))
    const ls = tf.logSoftmax(scaled(student, t))
    const kl =
      loss.direction === "forward"
        ? tf.mean(klRows(lt, ls))
        : loss.direction === "reverse"
          ? tf.mean(klRows(ls, lt))
          : tf.mul(tf.add(tf.mean(klRows(lt, ls)), tf.mean(klRows(ls, lt))), 0.5)
    return tf.mul(kl, typeof t === "number" ? t * t : tf.square(t))
  },

  HardDistill: (loss, ctx, term) => {
    const teacher = ctx.get(loss.teacher)
    const student = ctx.get(loss.student)
    sameShape(term, "teacher and student", teacher, student)
    const k = teacher.shape[teacher.rank - 1] ?? 1
    // int32 one-hot, then cast: tfjs-backend-wasm's OneHot ignores a float32 dtype
    return softCrossEntropy(student, tf.cast(tf.oneHot(tf.argMax(teacher, -1), k), "float32"))
  },

  Tst: (loss, ctx, term) => {
    const teacher = ctx.get(loss.teacher)
    const student = ctx.get(loss.student)
    sameShape(term, "teacher and student", teacher, student)
    const targets = targetsOf(loss.labels, ctx)
    sameShape(term, "logits and labels", student, targets)
    const right = tf.neg(meanOfRowSums(tf.mul(targets, tf.logSoftmax(teacher))))
    const wrong = tf.neg(
      meanOfRowSums(tf.mul(targets, tf.log(tf.maximum(tf.sub(1, tf.softmax(student)), 1e-7)))),
    )
    return tf.add(right, wrong)
  },

  Hint: (loss, ctx, term) => {
    let s = flatten(ctx.get(loss.student))
    let t = flatten(ctx.get(loss.teacher))
    if (s.shape[0] !== t.shape[0])
      throw shapeError(term, `student and teacher batches differ: ${s.shape[0]} and ${t.shape[0]}`)
    if (loss.projection) {
      const p = ctx.projection(term, s.shape[1], t.shape[1])
      s = tf.add(tf.matMul(s, p.kernel as tf.Tensor2D), p.bias)
    } else if (s.shape[1] !== t.shape[1]) {
      throw shapeError(
        term,
        `hint features have ${s.shape[1]} and ${t.shape[1]} values per sample: use projection: true`,
      )
    }
    if (loss.normalize) {
      s = l2Normalize(s)
      t = l2Normalize(t)
    }
    return tf.mean(tf.squaredDifference(s, t))
  },

  Relation: (loss, ctx, term) => {
    const s = ctx.get(loss.student)
    const t = ctx.get(loss.teacher)
    if (s.shape[0] !== t.shape[0])
      throw shapeError(term, `student and teacher batches differ: ${s.shape[0]} and ${t.shape[0]}`)
    const normalize = loss.normalize !== false
    const gs = relationMap(s, normalize)
    const gt = relationMap(t, normalize)
    if (loss.kind === "gram") return tf.mean(tf.squaredDifference(gs, gt))
    const tau = learnableTemperature(loss.temperature, ctx, term)
    return tf.mean(klRows(tf.logSoftmax(scaled(gt, tau)), tf.logSoftmax(scaled(gs, tau))))
  },

  TokenRelation: (loss, ctx, term) => {
    const heads = loss.heads
    if (!(Number.isInteger(heads) && heads >= 1))
      throw shapeError(term, `relation heads must be a positive integer, got ${heads}`)
    const [sx, sy] = [ctx.get(loss.student[0]), ctx.get(loss.student[1])]
    const [tx, ty] = [ctx.get(loss.teacher[0]), ctx.get(loss.teacher[1])]
    tokenFeatures(term, "student", sx, sy, heads)
    tokenFeatures(term, "teacher", tx, ty, heads)
    if (sx.shape[0] !== tx.shape[0] || sx.shape[1] !== tx.shape[1])
      throw shapeError(
        term,
        `student and teacher [batch, tokens] differ: [${sx.shape.slice(0, 2).join(", ")}] and [${tx.shape.slice(0, 2).join(", ")}]`,
      )
    return tf.mean(klRows(tokenRelationLogits(tx, ty, heads), tokenRelationLogits(sx, sy, heads)))
  },

  MultiTeacher: (loss, ctx, term) => {
    const { total } = multiTeacherTerms(loss, ctx, term)
    return total
  },
  ClassBalance: (loss, ctx, term) => {
    const logits = ctx.get(loss.logits)
    const k = logits.shape[logits.rank - 1]!
    const mean = tf.mean(tf.softmax(scaled(logits, temperatureOf(loss.temperature, ctx, term))), 0)
    const entropy = tf.neg(tf.sum(tf.mul(mean, tf.log(tf.add(mean, 1e-12)))))
    return tf.sub(Math.log(k), entropy) as tf.Scalar
  },
  Adversarial: (loss, ctx, term) => {
    const t = ctx.get(loss.teacher)
    const s = ctx.get(loss.student)
    sameShape(term, "teacher and student", t, s)
    const temp = temperatureOf(loss.temperature, ctx, term)
    const d =
      loss.distance === "kl"
        ? tf.mul(klRows(tf.logSoftmax(scaled(t, temp)), tf.logSoftmax(scaled(s, temp))), temp * temp)
        : tf.mean(tf.abs(tf.sub(t, s)), -1)
    const weighted = loss.mask === "agree" ? tf.mul(d, agreement(t, s)) : d
    return tf.neg(tf.mean(weighted)) as tf.Scalar
  },
  BnStatistics: (loss, ctx) => {
    const parts = loss.taps.map((ref) => {
      // the tap repeats the batch statistic [2, C] on every row ([batch, 2, C]): take it once
      const tapped = ctx.get(ref)
      const gap = tapped.rank === 3 ? tf.mean(tapped, 0) : tapped
      const rows = tf.sum(tf.square(gap), -1)
      return tf.sum(loss.norm === "squared" ? rows : tf.sqrt(tf.add(rows, 1e-12)))
    })
    return (parts.length === 0 ? tf.scalar(0) : tf.addN(parts)) as tf.Scalar
  },
  Curriculum: (loss, ctx, term) => {
    const temp = temperatureOf(loss.temperature, ctx, term)
    const t = ctx.get(loss.teacher)
    const s = ctx.get(loss.student)
    sameShape(term, "teacher and student", t, s)
    const l = tf.mul(klRows(tf.logSoftmax(scaled(t, temp)), tf.logSoftmax(scaled(s, temp))), temp * temp)
    const lambda = ctx.hyper(loss.lambda)
    const ld = detach(l)
    const v =
      loss.weighting === "hard"
        ? below(ld, lambda)
        : loss.weighting === "soft"
          ? tf.relu(tf.sub(1, tf.div(ld, Math.max(lambda, 1e-12))))
          : tf.div(1 + Math.exp(-lambda), tf.add(1, tf.exp(tf.sub(ld, lambda))))
    return tf.mean(tf.mul(v, l)) as tf.Scalar
  },
  Prototype: (loss, ctx, term) => {
    let s = flatten(ctx.get(loss.student))
    const t = flatten(detach(ctx.get(loss.teacher)))
    const y = targetsOf(loss.labels, ctx) as tf.Tensor2D
    if (s.shape[0] !== t.shape[0] || y.shape[0] !== s.shape[0])
      throw shapeError(
        term,
        `student, teacher and labels batches differ: ${s.shape[0]}, ${t.shape[0]} and ${y.shape[0]}`,
      )
    if (ctx.prototypes === undefined)
      throw shapeError(
        term,
        "a prototype loss needs running prototypes: this context keeps no training state",
      )
    const classes = y.shape[1]
    const dim = t.shape[1]
    const means = updatePrototypes(ctx.prototypes(term, classes, dim), t, y, ctx.step ?? 0)
    if (loss.projection) {
      const p = ctx.projection(term, s.shape[1], dim)
      s = tf.add(tf.matMul(s, p.kernel as tf.Tensor2D), p.bias)
    } else if (s.shape[1] !== dim) {
      throw shapeError(
        term,
        `prototype features have ${s.shape[1]} and ${dim} values per sample: use projection: true`,
      )
    }
    // each sample's target: the prototype of its class (a mix of prototypes for soft labels)
    const target = tf.matMul(detach(y) as tf.Tensor2D, means)
    if (loss.distance === "mse") return tf.mean(tf.squaredDifference(s, target))
    return tf.mean(
      tf.sub(1, tf.sum(tf.mul(l2Normalize(s), l2Normalize(target as tf.Tensor2D)), -1)),
    ) as tf.Scalar
  },
}

/**
 * The per-teacher weights of a {@link Loss.MultiTeacher} term from its per-sample, per-teacher
 * cross-entropies `c` (`[batch, teachers]`): `softmax(sg(c))` along the teachers
 * (`softmax-loss`), or `1/n` everywhere (`mean`). Detached either way: no gradient flows through
 * the weights.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Losses from "./src/compile/losses.js"
 * const a = Losses.multiTeacherWeights(tf.tensor2d([[0, Math.log(3)]]), "softmax-loss") // [[0.25, 0.75]]
 * ```
 *
 * @since 0.1.0
 * @category handlers
 */
export const multiTeacherWeights = (costs: tf.Tensor2D, weighting: Loss.TeacherWeighting): tf.Tensor2D =>
  weighting === "mean"
    ? (tf.fill(costs.shape, 1 / (costs.shape[1] || 1)) as tf.Tensor2D)
    : (tf.softmax(detach(costs) as tf.Tensor2D, -1) as tf.Tensor2D)

/**
 * A {@link Loss.MultiTeacher} term with its parts: the per-sample, per-teacher cross-entropies
 * `costs` (`[batch, teachers]`, at temperature T, not scaled by T²), the detached `weights` of
 * the same shape ({@link multiTeacherWeights}) and the `total` `T²·mean_b Σᵢ αᵢ·cᵢ`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Loss from "./dsl/Loss.js"
 * import * as Losses from "./src/compile/losses.js"
 * const board: Record<string, tf.Tensor> = {
 *   s: tf.tensor2d([[1, 0]]), t1: tf.tensor2d([[2, 0]]), t2: tf.tensor2d([[0, 2]]),
 * }
 * const ctx: Losses.LossContext = {
 *   get: (ref) => board[Loss.refName(ref)]!,
 *   y: tf.tensor2d([[1, 0]]),
 *   hyper: (num) => (typeof num === "number" ? num : 1),
 *   projection: () => { throw new Error("unused") },
 * }
 * const { weights } = Losses.multiTeacherTerms(Loss.multiTeacher({ student: "s", teachers: ["t1", "t2"] }), ctx, "mt")
 * // the student is further from t2: t2 weighs more
 * ```
 *
 * @since 0.1.0
 * @category handlers
 */
export const multiTeacherTerms = (
  loss: Loss.MultiTeacher,
  ctx: LossContext,
  term: string,
): { readonly costs: tf.Tensor2D; readonly weights: tf.Tensor2D; readonly total: tf.Scalar } => {
  if (loss.teachers.length === 0) throw shapeError(term, "a multi-teacher loss needs at least one teacher")
  const student = ctx.get(loss.student)
  const t = temperatureOf(loss.temperature, ctx, term)
  const logS = tf.logSoftmax(scaled(student, t))
  const columns = loss.teachers.map((ref, i) => {
    const teacher = ctx.get(ref)
    sameShape(term, `teacher ${i} and student`, teacher, student)
    // [batch]: the cross-entropy of each sample against this teacher's softened distribution
    return tf.neg(tf.sum(tf.mul(tf.softmax(scaled(teacher, t)), logS), -1))
  })
  const costs = tf.stack(columns, 1) as tf.Tensor2D
  const weights = multiTeacherWeights(costs, loss.weighting)
  const total = tf.mul(tf.mean(tf.sum(tf.mul(weights, costs), -1)), t * t) as tf.Scalar
  return { costs, weights, total }
}

/**
 * Computes one loss term (a scalar tensor, batch mean) through {@link handlers}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Loss from "./dsl/Loss.js"
 * import * as Losses from "./src/compile/losses.js"
 * const ctx: Losses.LossContext = {
 *   get: () => tf.tensor2d([[0, 0]]),
 *   y: tf.tensor2d([[1, 0]]),
 *   hyper: (num) => (typeof num === "number" ? num : 0),
 *   projection: () => { throw new Error("unused") },
 * }
 * Losses.compute(Loss.crossEntropy({ logits: "s" }), ctx, "ce") // ln 2
 * ```
 *
 * @since 0.1.0
 * @category handlers
 */
export const compute = (loss: Loss.Loss, ctx: LossContext, term: string): tf.Scalar =>
  (handlers[loss._tag] as LossHandler<Loss.Loss>)(loss, ctx, term)

// ---------------------------------------------------------------------------------------------
// Mixing
// ---------------------------------------------------------------------------------------------

/**
 * The weighted sum `Σ wᵢ·termᵢ` of loss terms (a missing weight is 1). Weights may be tensors,
 * so that the mix is differentiable in them.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Losses from "./src/compile/losses.js"
 * Losses.mix({ ce: tf.scalar(2), kd: tf.scalar(4) }, { ce: 0.1, kd: 0.9 }) // 3.8
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const mix = (
  terms: Readonly<Record<string, tf.Scalar>>,
  weights: Readonly<Record<string, number | tf.Scalar>>,
): tf.Scalar => {
  const parts: Array<tf.Tensor> = []
  for (const [name, value] of Object.entries(terms)) {
    const w = weights[name] ?? 1
    parts.push(w === 1 ? value : tf.mul(value, w))
  }
  if (parts.length === 0) return tf.scalar(0)
  return (parts.length === 1 ? parts[0]! : tf.addN(parts)) as tf.Scalar
}

/**
 * Computes every term of a `Step.loss` stage and their mix, with weights (numbers or ramps,
 * missing = 1) evaluated by `ctx.hyper`. Each term is computed under its own name (the key of
 * its projection, if any). `terms` holds the unweighted values, for reporting.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Loss from "./dsl/Loss.js"
 * import * as Losses from "./src/compile/losses.js"
 * const ctx: Losses.LossContext = {
 *   get: () => tf.tensor2d([[0, 0]]),
 *   y: tf.tensor2d([[1, 0]]),
 *   hyper: (num) => (typeof num === "number" ? num : 0),
 *   projection: () => { throw new Error("unused") },
 * }
 * const { total, terms } = Losses.mixLosses({ ce: Loss.crossEntropy({ logits: "s" }) }, { ce: 0.5 }, ctx)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const mixLosses = (
  losses: Readonly<Record<string, Loss.Loss>>,
  weights: Readonly<Record<string, Ramp.Num>>,
  ctx: LossContext,
): { readonly total: tf.Scalar; readonly terms: Record<string, tf.Scalar> } => {
  const terms: Record<string, tf.Scalar> = {}
  const w: Record<string, number> = {}
  for (const [name, loss] of Object.entries(losses)) {
    terms[name] = compute(loss, ctx, name)
    const weight = weights[name]
    w[name] = weight === undefined ? 1 : ctx.hyper(weight)
  }
  return { total: mix(terms, w), terms }
}

// ---------------------------------------------------------------------------------------------
// Planning
// ---------------------------------------------------------------------------------------------

/**
 * The `[inDim, outDim]` of a hint's learned projection, from the per-sample shapes (without the
 * batch axis, as `Model.tapShapes` gives them) of its student and teacher features; `undefined`
 * when the hint has no projection.
 *
 * @example
 * ```ts
 * import * as Loss from "./dsl/Loss.js"
 * import * as Losses from "./src/compile/losses.js"
 * const hint = Loss.hint({ student: "s.hidden0", teacher: "t.conv1", projection: true })
 * Losses.projectionShape(hint, [256], [7, 7, 64]) // [256, 3136]
 * ```
 *
 * @since 0.1.0
 * @category planning
 */
export const projectionShape = (
  loss: Loss.Hint | Loss.Prototype,
  studentShape: ReadonlyArray<number>,
  teacherShape: ReadonlyArray<number>,
): [inDim: number, outDim: number] | undefined =>
  loss.projection
    ? [studentShape.reduce((a, b) => a * b, 1), teacherShape.reduce((a, b) => a * b, 1)]
    : undefined
