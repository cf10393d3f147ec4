/**
 * Loss-landscape probes around trained weights:
 *
 * - {@link interpolate1d}: loss and accuracy along the line `(1 − α)·θa + α·θb` (Goodfellow et
 *   al., 2015): between initial and final weights, two checkpoints, two generations of
 *   born-again students, a model and its SWA average. Barriers between two minima, and how far
 *   the loss stays flat beyond either end, are read off the curve.
 * - {@link slice2d}: loss on the plane `θ + a·d₁ + b·d₂` spanned by two seeded random directions
 *   normalised filter by filter (Li et al., 2018), so that the width of the basin can be compared
 *   between models of different weight scales.
 *
 * Both are data: JSON-serialisable records (`Report` writes and plots them). Every evaluation is
 * a synchronous loop inside one `tf.tidy`, with one asynchronous read at its end.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Landscape from "./src/probes/Landscape.js"
 * declare const built: import("./src/models/index.js").Built
 * declare const dataset: import("./src/data/Dataset.js").Dataset
 * const slice = await Effect.runPromise(Landscape.slice2d(built, built.params, dataset, { steps: 11, range: 1, seed: 0 }))
 * slice.center.loss // the loss at θ
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import * as Rng from "../data/Rng.js"
import { ShapeError } from "../errors.js"
import type * as Models from "../models/index.js"
import type * as Tree from "../models/Tree.js"
import * as Direction from "./Direction.js"
import * as Objective from "./Objective.js"
import type * as Samples from "./Samples.js"
import * as Vector from "./Vector.js"

/**
 * Where the samples of a probe came from (for the record).
 *
 * @example
 * ```ts
 * import * as Landscape from "./src/probes/Landscape.js"
 * const s: Landscape.SampleInfo = { n: 1000, split: "train", seed: 0 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface SampleInfo {
  readonly n: number
  readonly split: Samples.SplitName
  readonly seed: number
}

/**
 * One point of a 1-D interpolation.
 *
 * @example
 * ```ts
 * import * as Landscape from "./src/probes/Landscape.js"
 * const p: Landscape.Point = { alpha: 0.5, loss: 0.4, accuracy: 0.88 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Point {
  readonly alpha: number
  readonly loss: number
  readonly accuracy: number
}

/**
 * The result of {@link interpolate1d}: `points` at `alpha` evenly spaced over `range` (α = 0 is
 * `endpoints[0]`, α = 1 is `endpoints[1]`).
 *
 * @example
 * ```ts
 * import * as Landscape from "./src/probes/Landscape.js"
 * declare const line: Landscape.Interpolation
 * line.points.map((p) => [p.alpha, p.loss])
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Interpolation {
  readonly _tag: "Interpolation"
  readonly kind: "interpolate"
  readonly model: string
  readonly endpoints: readonly [string, string]
  readonly head: string
  readonly range: readonly [number, number]
  readonly points: ReadonlyArray<Point>
  readonly samples: SampleInfo
  readonly seconds: number
}

/**
 * The result of {@link slice2d}: `grid.loss[i][j]` (and `grid.accuracy[i][j]`) at
 * `θ + x[j]·d₁ + y[i]·d₂`; row `i` follows the second direction. `center` is the value at θ.
 *
 * @example
 * ```ts
 * import * as Landscape from "./src/probes/Landscape.js"
 * declare const s: Landscape.Slice
 * s.grid.loss[0]![0] // the loss at (x[0], y[0])
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Slice {
  readonly _tag: "Slice"
  readonly kind: "slice"
  readonly model: string
  readonly head: string
  readonly seed: number
  readonly normalization: Direction.Normalization | "given"
  readonly ranges: { readonly x: readonly [number, number]; readonly y: readonly [number, number] }
  readonly x: ReadonlyArray<number>
  readonly y: ReadonlyArray<number>
  readonly grid: {
    readonly loss: ReadonlyArray<ReadonlyArray<number>>
    readonly accuracy: ReadonlyArray<ReadonlyArray<number>>
  }
  readonly center: { readonly loss: number; readonly accuracy: number }
  readonly samples: SampleInfo
  readonly seconds: number
}

/**
 * Options shared by the landscape probes: which head, which batch-norm statistics, how samples
 * are chosen from a data set, and the model's name for the record.
 *
 * @example
 * ```ts
 * import * as Landscape from "./src/probes/Landscape.js"
 * const o: Landscape.CommonOptions = { model: "student", head: "logits", samples: 2000 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface CommonOptions extends Objective.ForwardOptions, Objective.DataOptions {
  readonly model?: string
}

/**
 * Options of {@link interpolate1d}: `points` (default 21) values of α evenly spaced over `range`
 * (default `[-0.5, 1.5]`); names of the two ends for the record (`endpoints`, default
 * `["a", "b"]`); and `states`: the batch-norm statistics of the two ends, interpolated with the
 * same α (default: `state`, or the built model's own, fixed).
 *
 * @example
 * ```ts
 * import * as Landscape from "./src/probes/Landscape.js"
 * const o: Landscape.InterpolateOptions = { points: 41, range: [-1, 2], endpoints: ["init", "final"] }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface InterpolateOptions extends CommonOptions {
  readonly points?: number
  readonly range?: readonly [number, number]
  readonly endpoints?: readonly [string, string]
  readonly states?: readonly [Tree.Tree, Tree.Tree]
}

/**
 * Options of {@link slice2d}: a `steps × steps` grid (default 11; odd, so that θ is a grid point)
 * over `range` (a half-width `r` for `[−r, r]` on both axes, default 1, or `[lo, hi]`); the seed
 * and {@link Direction.Normalization} of the two random directions (default 0 and `"filter"`),
 * or the two `directions` themselves (e.g. `θb − θa` and a random one).
 *
 * @example
 * ```ts
 * import * as Landscape from "./src/probes/Landscape.js"
 * const o: Landscape.SliceOptions = { steps: 21, range: 0.5, seed: 3 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface SliceOptions extends CommonOptions {
  readonly steps?: number
  readonly range?: number | readonly [number, number]
  readonly seed?: number
  readonly normalization?: Direction.Normalization
  readonly directions?: readonly [Tree.Tree, Tree.Tree]
}

/**
 * `n` evenly spaced values from `lo` to `hi` (both included; `[lo]` when `n = 1`). Computed as
 * `lo + (hi − lo)·i/(n − 1)`, so a symmetric range with odd `n` has exactly 0 in the middle.
 *
 * @example
 * ```ts
 * import * as Landscape from "./src/probes/Landscape.js"
 * Landscape.linspace(-0.5, 1.5, 5) // [-0.5, 0, 0.5, 1, 1.5]
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const linspace = (lo: number, hi: number, n: number): Array<number> =>
  n <= 1 ? [lo] : Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1))

const sampleInfo = (s: Samples.Samples): SampleInfo => ({ n: s.n, split: s.split, seed: s.seed })

const checkTrees = (a: Tree.Tree, b: Tree.Tree, what: string): Effect.Effect<void, ShapeError> =>
  Effect.try({
    try: () => Vector.checkSame(Vector.fromTree(a), Vector.fromTree(b)),
    catch: (e) => new ShapeError({ path: what, message: e instanceof Error ? e.message : String(e) }),
  })

const checkCount = (name: string, n: number, min: number) =>
  Number.isInteger(n) && n >= min
    ? Effect.void
    : Effect.fail(new ShapeError({ path: name, message: `${name} must be an integer ≥ ${min}, got ${n}` }))

/**
 * Loss and accuracy along `(1 − α)·θa + α·θb` for `points` values of α over `range` (see
 * {@link InterpolateOptions}). The two trees must have the same paths and shapes (else a
 * `ShapeError`); at α = 0 and α = 1 the parameters are exactly θa and θb.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Landscape from "./src/probes/Landscape.js"
 * declare const built: import("./src/models/index.js").Built
 * declare const initial: import("./src/models/Tree.js").Tree
 * declare const dataset: import("./src/data/Dataset.js").Dataset
 * const line = await Effect.runPromise(
 *   Landscape.interpolate1d(built, initial, built.params, dataset, { points: 21, range: [-0.5, 1.5], endpoints: ["init", "final"] }),
 * )
 * ```
 *
 * @since 0.1.0
 * @category probes
 */
export const interpolate1d = (
  built: Models.Built,
  a: Tree.Tree,
  b: Tree.Tree,
  data: Objective.ProbeData,
  options: InterpolateOptions = {},
): Effect.Effect<Interpolation, Objective.ProbeError> =>
  Effect.gen(function* () {
    const started = performance.now()
    const points = options.points ?? 21
    const range = options.range ?? ([-0.5, 1.5] as const)
    yield* checkCount("points", points, 1)
    yield* Objective.checkHead(built, options.head)
    yield* checkTrees(a, b, "interpolate1d")
    if (options.states) yield* checkTrees(options.states[0], options.states[1], "interpolate1d states")
    const va = Vector.fromTree(a)
    const vb = Vector.fromTree(b)
    const sa = options.states ? Vector.fromTree(options.states[0]) : undefined
    const sb = options.states ? Vector.fromTree(options.states[1]) : undefined
    return yield* Objective.withSamples(data, options, (samples) =>
      Effect.gen(function* () {
        const out: Array<Point> = []
        for (const alpha of linspace(range[0], range[1], points)) {
          const t = yield* Objective.attempt(() =>
            tf.tidy(() => {
              const theta = Vector.toTree(
                Vector.combine([
                  [1 - alpha, va],
                  [alpha, vb],
                ]),
              )
              const state =
                sa && sb
                  ? Vector.toTree(
                      Vector.combine([
                        [1 - alpha, sa],
                        [alpha, sb],
                      ]),
                    )
                  : options.state
              return Objective.totals(built, theta, samples, { ...options, ...(state ? { state } : {}) })
            }),
          )
          const v = yield* Objective.read(t, samples.n)
          out.push({ alpha, loss: v.loss, accuracy: v.accuracy })
        }
        return {
          _tag: "Interpolation" as const,
          kind: "interpolate" as const,
          model: options.model ?? "model",
          endpoints: options.endpoints ?? (["a", "b"] as const),
          head: options.head ?? "logits",
          range: [range[0], range[1]] as const,
          points: out,
          samples: sampleInfo(samples),
          seconds: (performance.now() - started) / 1000,
        }
      }),
    )
  })

/**
 * Loss and accuracy on the plane `θ + a·d₁ + b·d₂` over a `steps × steps` grid (see
 * {@link SliceOptions}); `d₁`, `d₂` are seeded Gaussian directions normalised filter-wise to θ
 * (Li et al., 2018) unless given. The grid's centre (with odd `steps` and a symmetric range) is
 * exactly θ.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Landscape from "./src/probes/Landscape.js"
 * declare const built: import("./src/models/index.js").Built
 * declare const dataset: import("./src/data/Dataset.js").Dataset
 * const s = await Effect.runPromise(Landscape.slice2d(built, built.params, dataset, { steps: 11, range: 1, seed: 0 }))
 * s.grid.loss[5]![5] === s.center.loss // true
 * ```
 *
 * @since 0.1.0
 * @category probes
 */
export const slice2d = (
  built: Models.Built,
  theta: Tree.Tree,
  data: Objective.ProbeData,
  options: SliceOptions = {},
): Effect.Effect<Slice, Objective.ProbeError> =>
  Effect.gen(function* () {
    const started = performance.now()
    const steps = options.steps ?? 11
    yield* checkCount("steps", steps, 1)
    yield* Objective.checkHead(built, options.head)
    const r = options.range ?? 1
    const range: readonly [number, number] = typeof r === "number" ? [-r, r] : [r[0], r[1]]
    const seed = options.seed ?? 0
    const normalization = options.normalization ?? "filter"
    if (options.directions) {
      yield* checkTrees(theta, options.directions[0], "slice2d directions[0]")
      yield* checkTrees(theta, options.directions[1], "slice2d directions[1]")
    }
    const vt = Vector.fromTree(theta)
    const axis = linspace(range[0], range[1], steps)
    const make = Effect.sync(() =>
      options.directions
        ? ([Vector.fromTree(options.directions[0]), Vector.fromTree(options.directions[1])] as const)
        : ([
            Vector.tidy(() => Direction.make(vt, { seed: Rng.derive(seed, "slice", 1), normalization })),
            Vector.tidy(() => Direction.make(vt, { seed: Rng.derive(seed, "slice", 2), normalization })),
          ] as const),
    )
    const release = (ds: readonly [Vector.Vector, Vector.Vector]) =>
      Effect.sync(() => {
        if (options.directions) return
        Vector.dispose(ds[0])
        Vector.dispose(ds[1])
      })
    return yield* Effect.acquireUseRelease(
      make,
      ([d1, d2]) =>
        Objective.withSamples(data, options, (samples) =>
          Effect.gen(function* () {
            const loss: Array<Array<number>> = []
            const accuracy: Array<Array<number>> = []
            for (const b of axis) {
              const lossRow: Array<number> = []
              const accRow: Array<number> = []
              for (const a of axis) {
                const t = yield* Objective.attempt(() =>
                  tf.tidy(() =>
                    Objective.totals(
                      built,
                      Vector.toTree(
                        Vector.combine([
                          [1, vt],
                          [a, d1],
                          [b, d2],
                        ]),
                      ),
                      samples,
                      options,
                    ),
                  ),
                )
                const v = yield* Objective.read(t, samples.n)
                lossRow.push(v.loss)
                accRow.push(v.accuracy)
              }
              loss.push(lossRow)
              accuracy.push(accRow)
            }
            const mid = axis.indexOf(0)
            const center =
              mid >= 0
                ? { loss: loss[mid]![mid]!, accuracy: accuracy[mid]![mid]! }
                : yield* Effect.map(Objective.lossOn(built, theta, samples, options), (v) => ({
                    loss: v.loss,
                    accuracy: v.accuracy,
                  }))
            return {
              _tag: "Slice" as const,
              kind: "slice" as const,
              model: options.model ?? "model",
              head: options.head ?? "logits",
              seed,
              normalization: options.directions ? ("given" as const) : normalization,
              ranges: { x: range, y: range },
              x: axis,
              y: axis,
              grid: { loss, accuracy },
              center,
              samples: sampleInfo(samples),
              seconds: (performance.now() - started) / 1000,
            }
          }),
        ),
      release,
    )
  })
