/**
 * Early-exit inference for models with several heads — BYOT's shallow classifiers on a ResNet
 * (`Model.resnet({ exits })`): heads are consulted from the shallowest to the deepest, and a
 * sample leaves at the first head whose largest softmax probability reaches a threshold, or at
 * the deepest head when none does. Threshold 0 sends every sample out of the first head; a
 * threshold above 1 keeps every sample to the deepest head (the plain logits).
 *
 * The forward pass is the model's ordinary `apply` (every head computed in one pass); the
 * outcome says which head each sample would leave at, so the saving of depth-wise inference can
 * be read from the fraction of samples per exit.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Models from "./src/models/index.js"
 * const net = Model.resnet({
 *   stem: { filters: 8, stride: 2 },
 *   blocks: [{ filters: 8 }, { filters: 8 }],
 *   exits: [{ after: "block0" }],
 *   classes: 10,
 * })
 * const built = Effect.runSync(Models.build(net, { seed: 1 }))
 * const out = Models.earlyExit(built, built.params, tf.zeros([4, 28, 28, 1]), { threshold: 0.9 })
 * out.order // ["exit0", "logits"]
 * out.exits // which head each sample left at (0 = exit0, 1 = logits)
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import type * as Model from "../../dsl/Model.js"
import type * as Dataset from "../data/Dataset.js"
import { ShapeError, ValidationError } from "../errors.js"
import type { Built } from "./Built.js"
import type * as Tree from "./Tree.js"

/**
 * Options of {@link earlyExit}.
 *
 * - `threshold`: a sample leaves at the first head whose largest softmax probability is at
 *   least this (any finite number; ≤ 0: the first head, > 1: the deepest).
 * - `order`: the heads to consult, shallow → deep (default {@link exitOrder}); the last one is
 *   where the remaining samples leave.
 * - `state`: batch-norm statistics to evaluate with (default: the built model's own).
 *
 * @example
 * ```ts
 * import * as Models from "./src/models/index.js"
 * const o: Models.EarlyExitOptions = { threshold: 0.8, order: ["exit0", "exit1", "logits"] }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface EarlyExitOptions {
  readonly threshold: number
  readonly order?: ReadonlyArray<string>
  readonly state?: Tree.Tree<tf.Variable>
}

/**
 * Per-sample outcome of early-exit inference: the predicted class, the index into `order` of the
 * head the sample left at, and that head's largest softmax probability.
 *
 * @example
 * ```ts
 * import * as Models from "./src/models/index.js"
 * const r: Models.EarlyExit = {
 *   order: ["exit0", "logits"],
 *   predictions: Int32Array.from([3, 1]),
 *   exits: Int32Array.from([0, 1]),
 *   confidence: Float32Array.from([0.97, 0.4]),
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface EarlyExit {
  readonly order: ReadonlyArray<string>
  readonly predictions: Int32Array
  readonly exits: Int32Array
  readonly confidence: Float32Array
}

/**
 * The outcome of one threshold over a split: accuracy of the early-exit predictions, the mean
 * index of the head used (0 = the first head of `order`), and the fraction of samples that left
 * at each head.
 *
 * @example
 * ```ts
 * import * as Models from "./src/models/index.js"
 * const t: Models.ThresholdResult = { threshold: 0.9, accuracy: 0.91, meanExit: 0.7, fractions: { exit0: 0.5, exit1: 0.3, logits: 0.2 } }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ThresholdResult {
  readonly threshold: number
  readonly accuracy: number
  readonly meanExit: number
  readonly fractions: Readonly<Record<string, number>>
}

/**
 * The report of {@link evaluateEarlyExit}: the heads in order, the number of samples, each
 * head's accuracy alone, and one {@link ThresholdResult} per threshold (in the order given).
 *
 * @example
 * ```ts
 * import * as Models from "./src/models/index.js"
 * const r: Models.EarlyExitReport = { order: ["exit0", "logits"], n: 100, heads: { exit0: 0.8, logits: 0.9 }, thresholds: [] }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface EarlyExitReport {
  readonly order: ReadonlyArray<string>
  readonly n: number
  readonly heads: Readonly<Record<string, number>>
  readonly thresholds: ReadonlyArray<ThresholdResult>
}

/** The architecture under a `binary` wrapper. */
const base = (m: Model.Model): Model.Model => (m._tag === "Binary" ? base(m.inner) : m)

/** Depth of a ResNet exit's attachment point: `stem` 0, `block<i>` i + 1. */
const depthOf = (after: string): number => {
  if (after === "stem") return 0
  const m = /^block(\d+)$/.exec(after)
  return m ? Number(m[1]) + 1 : Number.POSITIVE_INFINITY
}

/**
 * The default consultation order of a model's heads, shallow → deep: for a ResNet its exits by
 * the depth they are attached at (ties in declaration order), then `logits`; for other models
 * every head but `logits` in the order the model lists them, then `logits`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Models from "./src/models/index.js"
 * const built = Effect.runSync(Models.build(Model.resnet({
 *   stem: { filters: 4 }, blocks: [{ filters: 4 }, { filters: 4 }],
 *   exits: [{ after: "block1" }, { after: "stem" }], classes: 10,
 * }), { seed: 1 }))
 * Models.exitOrder(built) // ["exit1", "exit0", "logits"]
 * ```
 *
 * @since 0.1.0
 * @category early exit
 */
export const exitOrder = (built: Built): ReadonlyArray<string> => {
  const m = base(built.description)
  if (m._tag === "ResNet") {
    const exits = (m.exits ?? []).map((e, i) => ({ name: `exit${i}`, depth: depthOf(e.after), i }))
    exits.sort((a, b) => a.depth - b.depth || a.i - b.i)
    return [...exits.map((e) => e.name), "logits"]
  }
  return [...built.heads.filter((h) => h !== "logits"), "logits"]
}

const checkOrder = (built: Built, order: ReadonlyArray<string>): void => {
  if (order.length === 0)
    throw new ValidationError({ issues: [{ path: "order", message: "early exit needs at least one head" }] })
  const seen = new Set<string>()
  order.forEach((h, i) => {
    if (!built.heads.includes(h))
      throw new ShapeError({
        path: `order[${i}]`,
        message: `no head "${h}" (one of ${built.heads.join(", ")})`,
      })
    if (seen.has(h))
      throw new ValidationError({ issues: [{ path: `order[${i}]`, message: `head "${h}" is listed twice` }] })
    seen.add(h)
  })
}

const checkThreshold = (threshold: number, path: string): void => {
  if (!Number.isFinite(threshold))
    throw new ValidationError({
      issues: [{ path, message: `a threshold must be a finite number, got ${threshold}` }],
    })
}

/** One evaluation-mode forward: per head (in `order`), the largest probability and its class, `[heads, batch]`. */
const confidences = (
  built: Built,
  params: Tree.Tree,
  x: tf.Tensor,
  order: ReadonlyArray<string>,
  state: Tree.Tree<tf.Variable> | undefined,
): { readonly max: tf.Tensor2D; readonly arg: tf.Tensor2D } =>
  tf.tidy(() => {
    const f = built.apply(params, x, { train: false, ...(state !== undefined ? { state } : {}) })
    const probs = tf.stack(order.map((h) => tf.softmax(f.heads[h] ?? f.logits))) as tf.Tensor3D
    return { max: tf.max(probs, -1) as tf.Tensor2D, arg: tf.argMax(probs, -1) as tf.Tensor2D }
  })

/** The exit decision for one threshold, from `[heads × n]` confidences and predictions. */
const decide = (
  max: ArrayLike<number>,
  arg: ArrayLike<number>,
  heads: number,
  n: number,
  threshold: number,
) => {
  const predictions = new Int32Array(n)
  const exits = new Int32Array(n)
  const confidence = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    let h = 0
    while (h < heads - 1 && !(max[h * n + i]! >= threshold)) h++
    exits[i] = h
    predictions[i] = arg[h * n + i]!
    confidence[i] = max[h * n + i]!
  }
  return { predictions, exits, confidence }
}

/**
 * Early-exit inference on a batch: for each sample, the prediction of the first head (in
 * `order`, shallow → deep) whose largest softmax probability is at least `threshold`, else of the
 * deepest head; with the index of the head used and its confidence. Synchronous (reads the
 * results back); throws a `ShapeError` for a head the model does not have and a
 * `ValidationError` for an empty order, a repeated head or a non-finite threshold.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Models from "./src/models/index.js"
 * const built = Effect.runSync(Models.build(Model.resnet({
 *   stem: { filters: 4, stride: 2 }, blocks: [{ filters: 4 }], exits: [{ after: "stem" }], classes: 10,
 * }), { seed: 2 }))
 * const all = Models.earlyExit(built, built.params, tf.zeros([2, 28, 28, 1]), { threshold: 0 })
 * all.exits // Int32Array [0, 0]: everything leaves at exit0
 * ```
 *
 * @since 0.1.0
 * @category early exit
 */
export const earlyExit = (
  built: Built,
  params: Tree.Tree,
  x: tf.Tensor,
  options: EarlyExitOptions,
): EarlyExit => {
  const order = options.order ?? exitOrder(built)
  checkOrder(built, order)
  checkThreshold(options.threshold, "threshold")
  const n = x.shape[0] ?? 0
  const { max, arg } = confidences(built, params, x, order, options.state)
  const maxValues = max.dataSync()
  const argValues = arg.dataSync()
  max.dispose()
  arg.dispose()
  return { order, ...decide(maxValues, argValues, order.length, n, options.threshold) }
}

/**
 * `earlyExit` that reads the results back asynchronously, for backends where a synchronous read
 * stalls or is not allowed (WebGPU); same result, same errors (as a rejected promise).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Models from "./src/models/index.js"
 * const built = Effect.runSync(Models.build(Model.resnet({
 *   stem: { filters: 4, stride: 2 }, blocks: [{ filters: 4 }], exits: [{ after: "stem" }], classes: 10,
 * }), { seed: 2 }))
 * const deep = await Models.earlyExitAsync(built, built.params, tf.zeros([2, 28, 28, 1]), { threshold: 2 })
 * deep.exits // Int32Array [1, 1]: no softmax reaches 2, so everything goes to the deepest head
 * ```
 *
 * @since 0.1.0
 * @category early exit
 */
export const earlyExitAsync = async (
  built: Built,
  params: Tree.Tree,
  x: tf.Tensor,
  options: EarlyExitOptions,
): Promise<EarlyExit> => {
  const order = options.order ?? exitOrder(built)
  checkOrder(built, order)
  checkThreshold(options.threshold, "threshold")
  const n = x.shape[0] ?? 0
  const { max, arg } = confidences(built, params, x, order, options.state)
  try {
    const [maxValues, argValues] = await Promise.all([max.data(), arg.data()])
    return { order, ...decide(maxValues, argValues, order.length, n, options.threshold) }
  } finally {
    max.dispose()
    arg.dispose()
  }
}

/**
 * Evaluates early-exit inference over a split for several thresholds at once (one forward pass
 * per batch): accuracy, mean exit index and fraction of samples per head for each threshold,
 * and every head's accuracy alone. `shape` is the image shape `[h, w, c]` (default: the model's
 * input); `limit` evaluates the first samples only; `batchSize` defaults to 500.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Models from "./src/models/index.js"
 * declare const test: import("./src/data/Dataset.js").Split
 * const built = Effect.runSync(Models.build(Model.resnet({
 *   stem: { filters: 4, stride: 2 }, blocks: [{ filters: 4 }, { filters: 4 }],
 *   exits: [{ after: "block0" }], classes: 10,
 * }), { seed: 1 }))
 * const report = Effect.runPromise(Models.evaluateEarlyExit(built, built.params, test, { thresholds: [0.5, 0.9, 0.99] }))
 * ```
 *
 * @since 0.1.0
 * @category early exit
 */
export const evaluateEarlyExit = (
  built: Built,
  params: Tree.Tree,
  split: Dataset.Split,
  options: {
    readonly thresholds: ReadonlyArray<number>
    readonly order?: ReadonlyArray<string>
    readonly state?: Tree.Tree<tf.Variable>
    readonly shape?: Model.Shape
    readonly limit?: number
    readonly batchSize?: number
  },
): Effect.Effect<EarlyExitReport, ShapeError | ValidationError> =>
  Effect.gen(function* () {
    const order = options.order ?? exitOrder(built)
    yield* Effect.try({
      try: () => {
        checkOrder(built, order)
        options.thresholds.forEach((t, i) => {
          checkThreshold(t, `thresholds[${i}]`)
        })
      },
      catch: (e) => e as ShapeError | ValidationError,
    })
    const shape = options.shape ?? built.input
    if (shape === undefined)
      return yield* Effect.fail(
        new ValidationError({
          issues: [{ path: "shape", message: "the model does not say its input shape: pass shape" }],
        }),
      )
    const [h, w, c] = shape
    const size = h * w * c
    if (split.x.length < split.n * size)
      return yield* Effect.fail(
        new ShapeError({
          path: "split.x",
          message: `${split.x.length} values for ${split.n} images of ${h}×${w}×${c}`,
        }),
      )
    const n = Math.min(split.n, options.limit ?? Number.POSITIVE_INFINITY)
    const batchSize = Math.max(1, options.batchSize ?? 500)
    const H = order.length
    const headCorrect = new Array<number>(H).fill(0)
    const correct = options.thresholds.map(() => 0)
    const exitSum = options.thresholds.map(() => 0)
    const perExit = options.thresholds.map(() => new Array<number>(H).fill(0))
    for (let start = 0; start < n; start += batchSize) {
      const k = Math.min(batchSize, n - start)
      const x = tf.tensor4d(split.x.subarray(start * size, (start + k) * size), [k, h, w, c])
      const { max, arg } = yield* Effect.try({
        try: () => confidences(built, params, x, order, options.state),
        catch: (e) => (e instanceof ShapeError ? e : new ShapeError({ path: "apply", message: String(e) })),
      }).pipe(Effect.ensuring(Effect.sync(() => x.dispose())))
      const maxValues = yield* Effect.promise(() => max.data())
      const argValues = yield* Effect.promise(() => arg.data())
      max.dispose()
      arg.dispose()
      const labels = split.y.subarray(start, start + k)
      for (let hd = 0; hd < H; hd++)
        for (let i = 0; i < k; i++) if (argValues[hd * k + i] === labels[i]) headCorrect[hd]!++
      options.thresholds.forEach((threshold, t) => {
        const d = decide(maxValues, argValues, H, k, threshold)
        for (let i = 0; i < k; i++) {
          if (d.predictions[i] === labels[i]) correct[t]!++
          exitSum[t]! += d.exits[i]!
          perExit[t]![d.exits[i]!]!++
        }
      })
    }
    const div = (a: number) => (n > 0 ? a / n : Number.NaN)
    return {
      order,
      n,
      heads: Object.fromEntries(order.map((hd, i) => [hd, div(headCorrect[i]!)])),
      thresholds: options.thresholds.map((threshold, t) => ({
        threshold,
        accuracy: div(correct[t]!),
        meanExit: div(exitSum[t]!),
        fractions: Object.fromEntries(order.map((hd, i) => [hd, div(perExit[t]![i]!)])),
      })),
    }
  })
