/**
 * The objective every probe measures: the mean cross-entropy (and the accuracy) of one output
 * head of a built model, with a given parameter point, over a fixed set of {@link Samples}, in
 * evaluation mode (no dropout, batch norm on its running statistics). {@link lossOn} is the
 * public measurement; {@link totals} and {@link gradient} are the synchronous kernels the other
 * probes loop over (inside `tf.tidy`, reading back only once per evaluation).
 *
 * Gradients are first-order only: tfjs 4.22 cannot differentiate twice through these models
 * (`logSoftmax` and the fused `matMul` are custom-gradient ops whose saved tensors are not on the
 * tape, `Max`'s gradient uses `Equal`, which has none, and `Conv2DBackpropFilter` has no gradient
 * at all), so curvature is measured by finite differences of gradients (see `Sharpness`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Objective from "./src/probes/Objective.js"
 * declare const built: import("./src/models/index.js").Built
 * declare const dataset: import("./src/data/Dataset.js").Dataset
 * const { loss, accuracy } = await Effect.runPromise(Objective.lossOn(built, built.params, dataset, { samples: 1000 }))
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import type * as Dataset from "../data/Dataset.js"
import { BackendError, type DataError, ShapeError } from "../errors.js"
import type * as Models from "../models/index.js"
import type * as Tree from "../models/Tree.js"
import * as Samples from "./Samples.js"
import * as Vector from "./Vector.js"

/**
 * What a probe evaluates: the model's default `logits`, or another head by name (`dist` of a
 * DeiT ViT, `exit0` of a ResNet with early exits); and the batch-norm statistics to use
 * (default: the built model's own `state`).
 *
 * @example
 * ```ts
 * import * as Objective from "./src/probes/Objective.js"
 * const o: Objective.ForwardOptions = { head: "dist" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ForwardOptions {
  readonly head?: string
  readonly state?: Tree.Tree
}

/**
 * How to take samples when a probe is given a whole data set instead of {@link Samples}: the
 * {@link Samples.Options} fields, with the selection seed named `sampleSeed` (so that it does
 * not clash with the seed of random directions).
 *
 * @example
 * ```ts
 * import * as Objective from "./src/probes/Objective.js"
 * const o: Objective.DataOptions = { samples: 1000, split: "train", sampleSeed: 0 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface DataOptions {
  readonly samples?: number
  readonly split?: Samples.SplitName
  readonly batchSize?: number
  readonly sampleSeed?: number
}

/**
 * What a probe runs on: samples already chosen, or a data set to choose them from.
 *
 * @example
 * ```ts
 * import * as Objective from "./src/probes/Objective.js"
 * declare const dataset: import("./src/data/Dataset.js").Dataset
 * const d: Objective.ProbeData = dataset
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ProbeData = Samples.Samples | Dataset.Dataset

/**
 * Loss and accuracy of one parameter point: mean cross-entropy (nats), fraction correct, and the
 * number of samples.
 *
 * @example
 * ```ts
 * import * as Objective from "./src/probes/Objective.js"
 * const v: Objective.Value = { loss: 0.31, accuracy: 0.91, n: 1000 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Value {
  readonly loss: number
  readonly accuracy: number
  readonly n: number
}

/**
 * The errors a probe can fail with: a parameter tree or head that does not fit the model
 * (`ShapeError`), missing data (`DataError`), a backend failure while computing
 * (`BackendError`).
 *
 * @example
 * ```ts
 * import * as Objective from "./src/probes/Objective.js"
 * declare const e: Objective.ProbeError
 * e._tag // "ShapeError" | "DataError" | "BackendError"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export type ProbeError = ShapeError | DataError | BackendError

const isSamples = (d: ProbeData): d is Samples.Samples => "_tag" in d && d._tag === "Samples"

/**
 * Runs `use` with {@link Samples}: the ones given, or fresh ones chosen from a data set (and
 * disposed afterwards).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Objective from "./src/probes/Objective.js"
 * declare const dataset: import("./src/data/Dataset.js").Dataset
 * const n = Objective.withSamples(dataset, { samples: 10 }, (s) => Effect.succeed(s.n))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withSamples = <A, E, R>(
  data: ProbeData,
  options: DataOptions,
  use: (samples: Samples.Samples) => Effect.Effect<A, E, R>,
): Effect.Effect<A, E | DataError, R> =>
  isSamples(data)
    ? use(data)
    : Effect.acquireUseRelease(
        Samples.make(data, {
          ...(options.samples !== undefined ? { samples: options.samples } : {}),
          ...(options.split !== undefined ? { split: options.split } : {}),
          ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
          ...(options.sampleSeed !== undefined ? { seed: options.sampleSeed } : {}),
        }),
        use,
        (s) => Effect.sync(s.dispose),
      )

/**
 * Runs synchronous tensor code as an Effect: a thrown `ShapeError` stays one; anything else
 * becomes a `BackendError` of the active backend.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Objective from "./src/probes/Objective.js"
 * const t = Objective.attempt(() => tf.tidy(() => tf.add(1, 2)))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const attempt = <A>(f: () => A): Effect.Effect<A, ShapeError | BackendError> =>
  Effect.try({
    try: f,
    catch: (cause) =>
      cause instanceof ShapeError
        ? cause
        : new BackendError({
            backend: tf.getBackend() ?? "unknown",
            message: `a probe failed while computing: ${cause instanceof Error ? cause.message : String(cause)}`,
            cause,
          }),
  })

/**
 * Checks that the model has the head (fails with a `ShapeError` listing the heads it has).
 *
 * @example
 * ```ts
 * import * as Objective from "./src/probes/Objective.js"
 * declare const built: import("./src/models/index.js").Built
 * const ok = Objective.checkHead(built, "logits")
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const checkHead = (built: Models.Built, head: string | undefined): Effect.Effect<void, ShapeError> =>
  head === undefined || head === "logits" || built.heads.includes(head)
    ? Effect.void
    : Effect.fail(
        new ShapeError({
          path: `head ${head}`,
          message: `the model has no head "${head}" (heads: ${built.heads.join(", ") || "logits"})`,
        }),
      )

const logitsOf = (
  built: Models.Built,
  params: Tree.Tree,
  x: tf.Tensor4D,
  options: ForwardOptions,
): tf.Tensor2D => {
  const f = built.apply(params, x, {
    train: false,
    ...(options.state !== undefined ? { state: options.state as Tree.Tree<tf.Variable> } : {}),
  })
  if (options.head === undefined || options.head === "logits") return f.logits
  const h = f.heads[options.head]
  if (h === undefined)
    throw new ShapeError({
      path: `head ${options.head}`,
      message: `the forward pass returned no head "${options.head}"`,
    })
  return h
}

/** Summed cross-entropy of one batch. */
const batchLossSum = (
  built: Models.Built,
  params: Tree.Tree,
  b: Samples.Batch,
  options: ForwardOptions,
): tf.Scalar =>
  tf.neg(tf.sum(tf.mul(b.oneHot, tf.logSoftmax(logitsOf(built, params, b.x, options))))) as tf.Scalar

const used = (samples: Samples.Samples, batches: number | undefined) =>
  batches === undefined ? samples.batches : samples.batches.slice(0, Math.max(1, batches))

/**
 * Synchronous: the summed cross-entropy and the number of correct predictions over the samples
 * (the first `batches` batches, when given), as one tensor `[lossSum, correct]` — one read per
 * evaluation. Call inside `tf.tidy`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Objective from "./src/probes/Objective.js"
 * declare const built: import("./src/models/index.js").Built
 * declare const samples: import("./src/probes/Samples.js").Samples
 * const [lossSum, correct] = tf.tidy(() => Objective.totals(built, built.params, samples, {}).dataSync())
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const totals = (
  built: Models.Built,
  params: Tree.Tree,
  samples: Samples.Samples,
  options: ForwardOptions & { readonly batches?: number },
): tf.Tensor1D =>
  tf.tidy(() => {
    const losses: Array<tf.Scalar> = []
    const correct: Array<tf.Scalar> = []
    for (const b of used(samples, options.batches)) {
      const logits = logitsOf(built, params, b.x, options)
      losses.push(tf.neg(tf.sum(tf.mul(b.oneHot, tf.logSoftmax(logits)))) as tf.Scalar)
      correct.push(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(b.labels, "int32")), "float32")))
    }
    return tf.stack([tf.addN(losses), tf.addN(correct)]) as tf.Tensor1D
  })

/**
 * The number of samples in the batches used (the first `batches`, or all).
 *
 * @example
 * ```ts
 * import * as Objective from "./src/probes/Objective.js"
 * declare const samples: import("./src/probes/Samples.js").Samples
 * Objective.count(samples) === samples.n // true
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const count = (samples: Samples.Samples, batches?: number): number =>
  used(samples, batches).reduce((n, b) => n + b.x.shape[0], 0)

/**
 * Reads a {@link totals} tensor back (asynchronously), disposes it, and divides by `n`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Effect } from "effect"
 * import * as Objective from "./src/probes/Objective.js"
 * const v = Effect.runPromise(Objective.read(tf.tensor1d([23, 9]), 10)) // { loss: 2.3, accuracy: 0.9, n: 10 }
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const read = (t: tf.Tensor, n: number): Effect.Effect<Value> =>
  Effect.promise(async () => {
    const v = await t.data()
    t.dispose()
    return { loss: v[0]! / n, accuracy: v[1]! / n, n }
  })

/**
 * Synchronous: the mean cross-entropy over the samples and its gradient with respect to every
 * tensor of `theta` (zeros for parameters the head does not depend on). Call inside `tf.tidy`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Objective from "./src/probes/Objective.js"
 * import * as Vector from "./src/probes/Vector.js"
 * declare const built: import("./src/models/index.js").Built
 * declare const samples: import("./src/probes/Samples.js").Samples
 * const gnorm = tf.tidy(() => Vector.norm(Objective.gradient(built, Vector.fromTree(built.params), samples, {}).grad).dataSync()[0])
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const gradient = (
  built: Models.Built,
  theta: Vector.Vector,
  samples: Samples.Samples,
  options: ForwardOptions & { readonly batches?: number },
): { readonly loss: tf.Scalar; readonly grad: Vector.Vector } => {
  const batches = used(samples, options.batches)
  const n = count(samples, options.batches)
  let loss: tf.Scalar | undefined
  let grads: Array<tf.Tensor> | undefined
  for (const b of batches) {
    const xs = theta.tensors as Array<tf.Tensor>
    const r = tf
      .engine()
      .gradients(
        () =>
          tf.div(
            batchLossSum(built, Vector.toTree({ paths: theta.paths, tensors: xs }), b, options),
            n,
          ) as tf.Scalar,
        xs,
        undefined,
        true,
      )
    const g = r.grads.map((gi, i) => gi ?? tf.zerosLike(xs[i]!))
    if (loss === undefined || grads === undefined) {
      loss = r.value as tf.Scalar
      grads = g
      continue
    }
    // accumulate, freeing the previous sums at once (the caller's tidy would free them only at its end)
    const sum = tf.add(loss, r.value) as tf.Scalar
    loss.dispose()
    r.value.dispose()
    loss = sum
    grads = grads.map((acc, i) => {
      const next = tf.add(acc, g[i]!)
      acc.dispose()
      g[i]!.dispose()
      return next
    })
  }
  return { loss: loss!, grad: { paths: theta.paths, tensors: grads! } }
}

/**
 * Mean cross-entropy and accuracy of a parameter tree on a fixed set of samples (or on samples
 * chosen from a data set by {@link DataOptions}: by default 1,000 training images, seed 0).
 * `batches` uses only the first batches of the samples; `batchSize` sets the batch size when
 * samples are chosen here.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Objective from "./src/probes/Objective.js"
 * declare const built: import("./src/models/index.js").Built
 * declare const dataset: import("./src/data/Dataset.js").Dataset
 * const v = await Effect.runPromise(Objective.lossOn(built, built.params, dataset, { samples: 500, batchSize: 250 }))
 * ```
 *
 * @since 0.1.0
 * @category probes
 */
export const lossOn = (
  built: Models.Built,
  params: Tree.Tree,
  data: ProbeData,
  options: ForwardOptions & DataOptions & { readonly batches?: number } = {},
): Effect.Effect<Value, ProbeError> =>
  Effect.flatMap(checkHead(built, options.head), () =>
    withSamples(data, options, (samples) =>
      Effect.flatMap(
        attempt(() => totals(built, params, samples, options)),
        (t) => read(t, count(samples, options.batches)),
      ),
    ),
  )
