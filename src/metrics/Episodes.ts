/**
 * Few-shot evaluation over plain typed arrays (RFS, Tian et al., 2020): seeded N-way K-shot
 * episodes, L2 normalisation of features, the two per-episode probes and the 95 % confidence
 * interval of the mean episode accuracy. Nothing here touches tfjs: the runner reads a tap's
 * features back once per evaluation and hands them here.
 *
 * - {@link sample}: episodes drawn from a label array — per episode, `ways` distinct classes of
 *   the few-shot class list (a seeded shuffle), then per class `shots + queries` distinct images
 *   (a seeded partial Fisher–Yates): the first `shots` are the support set, the rest the queries,
 *   so support and query never share an image. Episode labels are `0 … ways−1` in the order the
 *   classes were drawn.
 * - {@link logistic}: multinomial logistic regression, minimising Σᵢ CE(W·xᵢ + b, yᵢ) + (λ/2)·‖W‖²
 *   (bias unpenalised) — scikit-learn's `LogisticRegression(C = 1/λ)` objective, which RFS uses —
 *   by L-BFGS (memory 10, Armijo backtracking) for at most `iterations` steps or until the largest
 *   gradient entry is below 1e-5. The problem is smooth and strictly convex, so L-BFGS converges to
 *   the unique minimum in a few dozen steps on 5–25 support points; a fixed cap keeps the cost of
 *   600 episodes bounded and the result deterministic.
 * - {@link centroid}: nearest class mean by cosine similarity (the class means of the
 *   L2-normalised support features, compared by dot product after normalising them too).
 * - {@link confidence}: mean and `1.96·s/√n` with `s` the sample standard deviation (n − 1).
 *
 * @example
 * ```ts
 * import { Episodes } from "retort"
 * import { Effect } from "effect"
 * const labels = Int32Array.from({ length: 100 }, (_, i) => i % 5)
 * const eps = Effect.runSync(Episodes.sample(labels, { classes: [0, 1, 2, 3, 4], ways: 5, shots: 1, queries: 5, episodes: 10, seed: 1 }))
 * eps[0]!.support.length // 5
 * ```
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as Rng from "../data/Rng.js"
import { DataError } from "../errors.js"

/**
 * One N-way K-shot episode: indices into the label array the episodes were drawn from, and the
 * episode's own labels (`0 … ways−1`; `classes[j]` is the data set's class of episode label `j`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Episode {
  readonly classes: Int32Array
  readonly support: Int32Array
  readonly supportLabels: Int32Array
  readonly query: Int32Array
  readonly queryLabels: Int32Array
}

/**
 * How episodes are drawn.
 *
 * @since 0.1.0
 * @category models
 */
export interface SampleOptions {
  readonly classes: ReadonlyArray<number>
  readonly ways: number
  readonly shots: number
  readonly queries: number
  readonly episodes: number
  readonly seed: number
}

/**
 * Draw seeded episodes from `labels` (see the module's description). Fails when fewer than
 * `ways` classes are given or a class has fewer than `shots + queries` images.
 *
 * @example
 * ```ts
 * import { Episodes } from "retort"
 * import { Effect } from "effect"
 * const labels = Int32Array.from({ length: 60 }, (_, i) => i % 3)
 * const [e] = Effect.runSync(Episodes.sample(labels, { classes: [0, 1, 2], ways: 2, shots: 5, queries: 3, episodes: 1, seed: 7 }))
 * e!.query.length // 6
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const sample = (
  labels: ArrayLike<number>,
  options: SampleOptions,
): Effect.Effect<ReadonlyArray<Episode>, DataError> =>
  Effect.suspend(() => {
    const { ways, shots, queries } = options
    const per = shots + queries
    const classes = [...new Set(options.classes)]
    if (classes.length < ways)
      return Effect.fail(
        new DataError({
          message: `a ${ways}-way episode needs ${ways} classes, but only ${classes.length} are given`,
        }),
      )
    const pools = new Map<number, Array<number>>(classes.map((c) => [c, []]))
    for (let i = 0; i < labels.length; i++) pools.get(labels[i]!)?.push(i)
    for (const c of classes) {
      const n = pools.get(c)!.length
      if (n < per)
        return Effect.fail(
          new DataError({
            message: `class ${c} has ${n} image${n === 1 ? "" : "s"}, fewer than the ${per} an episode takes from it (${shots} support + ${queries} queries)`,
          }),
        )
    }
    const rng = Rng.make(options.seed)
    const out: Array<Episode> = []
    const order = Int32Array.from(classes)
    for (let e = 0; e < options.episodes; e++) {
      Rng.shuffle(order, rng)
      const chosen = order.slice(0, ways)
      const support = new Int32Array(ways * shots)
      const supportLabels = new Int32Array(ways * shots)
      const query = new Int32Array(ways * queries)
      const queryLabels = new Int32Array(ways * queries)
      for (let j = 0; j < ways; j++) {
        const pool = pools.get(chosen[j]!)!
        const take = pool.slice()
        // partial Fisher–Yates: the first `per` entries become a uniform sample without replacement
        for (let i = 0; i < per; i++) {
          const k = Rng.int(rng, i, take.length - 1)
          const t = take[i]!
          take[i] = take[k]!
          take[k] = t
        }
        for (let i = 0; i < shots; i++) {
          support[j * shots + i] = take[i]!
          supportLabels[j * shots + i] = j
        }
        for (let i = 0; i < queries; i++) {
          query[j * queries + i] = take[shots + i]!
          queryLabels[j * queries + i] = j
        }
      }
      out.push({ classes: chosen, support, supportLabels, query, queryLabels })
    }
    return Effect.succeed(out)
  })

/**
 * Rows of `features` (`n × dim`, row-major) scaled to unit L2 norm, as a new array (an all-zero
 * row stays zero).
 *
 * @example
 * ```ts
 * import { Episodes } from "retort"
 * Episodes.normalize(Float32Array.of(3, 4, 0, 0), 2) // [0.6, 0.8, 0, 0]
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const normalize = (features: ArrayLike<number>, dim: number): Float32Array => {
  const n = dim > 0 ? Math.floor(features.length / dim) : 0
  const out = new Float32Array(n * dim)
  for (let i = 0; i < n; i++) {
    let s = 0
    for (let d = 0; d < dim; d++) s += features[i * dim + d]! ** 2
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0
    for (let d = 0; d < dim; d++) out[i * dim + d] = features[i * dim + d]! * inv
  }
  return out
}

/**
 * A linear classifier over `dim` features: `scores = W·x + b`, `W` row-major `ways × dim`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Linear {
  readonly ways: number
  readonly dim: number
  readonly weights: Float64Array
  readonly bias: Float64Array
  /** L-BFGS iterations taken (0 for a centroid classifier). */
  readonly iterations: number
}

/** Rows `rows` of `features` as one dense float64 matrix. */
const gather = (features: ArrayLike<number>, dim: number, rows: ArrayLike<number>): Float64Array => {
  const out = new Float64Array(rows.length * dim)
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!
    for (let d = 0; d < dim; d++) out[i * dim + d] = features[r * dim + d]!
  }
  return out
}

/** Objective and gradient of the penalised multinomial logistic loss at θ = [W, b]. */
const objective = (
  theta: Float64Array,
  x: Float64Array,
  y: ArrayLike<number>,
  ways: number,
  dim: number,
  l2: number,
  grad: Float64Array,
): number => {
  const n = y.length
  const wb = ways * dim
  grad.fill(0)
  let f = 0
  const z = new Float64Array(ways)
  for (let i = 0; i < n; i++) {
    let max = Number.NEGATIVE_INFINITY
    for (let c = 0; c < ways; c++) {
      let s = theta[wb + c]!
      for (let d = 0; d < dim; d++) s += theta[c * dim + d]! * x[i * dim + d]!
      z[c] = s
      if (s > max) max = s
    }
    let sum = 0
    for (let c = 0; c < ways; c++) sum += Math.exp(z[c]! - max)
    const lse = max + Math.log(sum)
    f += lse - z[y[i]!]!
    for (let c = 0; c < ways; c++) {
      const r = Math.exp(z[c]! - lse) - (c === y[i] ? 1 : 0)
      grad[wb + c] = grad[wb + c]! + r
      for (let d = 0; d < dim; d++) grad[c * dim + d] = grad[c * dim + d]! + r * x[i * dim + d]!
    }
  }
  for (let k = 0; k < wb; k++) {
    f += 0.5 * l2 * theta[k]! ** 2
    grad[k] = grad[k]! + l2 * theta[k]!
  }
  return f
}

const dot = (a: Float64Array, b: Float64Array) => {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!
  return s
}

/**
 * Fit multinomial logistic regression on rows `rows` of `features` with labels `labels`
 * (`0 … ways−1`) by L-BFGS (see the module's description): at most `iterations` steps, λ = `l2`.
 *
 * @example
 * ```ts
 * import { Episodes } from "retort"
 * const x = Float32Array.of(1, 0, 0, 1)
 * const w = Episodes.logistic(x, 2, [0, 1], [0, 1], 2, { l2: 1, iterations: 50 })
 * Episodes.predict(w, x, [0, 1]) // Int32Array [0, 1]
 * ```
 *
 * @since 0.1.0
 * @category probes
 */
export const logistic = (
  features: ArrayLike<number>,
  dim: number,
  rows: ArrayLike<number>,
  labels: ArrayLike<number>,
  ways: number,
  options: { readonly l2: number; readonly iterations: number },
): Linear => {
  const x = gather(features, dim, rows)
  const P = ways * (dim + 1)
  const m = 10
  let theta = new Float64Array(P)
  let g = new Float64Array(P)
  let f = objective(theta, x, labels, ways, dim, options.l2, g)
  const S: Array<Float64Array> = []
  const Y: Array<Float64Array> = []
  const rho: Array<number> = []
  const alpha = new Float64Array(m)
  const next = new Float64Array(P)
  const gNext = new Float64Array(P)
  let it = 0
  for (; it < options.iterations; it++) {
    let gmax = 0
    for (let k = 0; k < P; k++) gmax = Math.max(gmax, Math.abs(g[k]!))
    if (gmax < 1e-5) break
    // two-loop recursion: dir = −H·g
    const q = Float64Array.from(g)
    for (let j = S.length - 1; j >= 0; j--) {
      alpha[j] = rho[j]! * dot(S[j]!, q)
      const yj = Y[j]!
      for (let k = 0; k < P; k++) q[k] = q[k]! - alpha[j]! * yj[k]!
    }
    const gamma = S.length > 0 ? dot(S.at(-1)!, Y.at(-1)!) / dot(Y.at(-1)!, Y.at(-1)!) : 1 / Math.max(1, gmax)
    for (let k = 0; k < P; k++) q[k] = q[k]! * gamma
    for (let j = 0; j < S.length; j++) {
      const beta = rho[j]! * dot(Y[j]!, q)
      const sj = S[j]!
      for (let k = 0; k < P; k++) q[k] = q[k]! + sj[k]! * (alpha[j]! - beta)
    }
    for (let k = 0; k < P; k++) q[k] = -q[k]!
    let slope = dot(q, g)
    if (!(slope < 0)) {
      // not a descent direction (numerical trouble): restart from steepest descent
      S.length = 0
      Y.length = 0
      rho.length = 0
      for (let k = 0; k < P; k++) q[k] = -g[k]! / Math.max(1, gmax)
      slope = dot(q, g)
    }
    // Armijo backtracking
    let step = 1
    let fNext = f
    let accepted = false
    for (let tries = 0; tries < 40; tries++) {
      for (let k = 0; k < P; k++) next[k] = theta[k]! + step * q[k]!
      fNext = objective(next, x, labels, ways, dim, options.l2, gNext)
      if (fNext <= f + 1e-4 * step * slope) {
        accepted = true
        break
      }
      step *= 0.5
    }
    if (!accepted) break
    const s = new Float64Array(P)
    const yv = new Float64Array(P)
    for (let k = 0; k < P; k++) {
      s[k] = next[k]! - theta[k]!
      yv[k] = gNext[k]! - g[k]!
    }
    const sy = dot(s, yv)
    if (sy > 1e-12) {
      if (S.length === m) {
        S.shift()
        Y.shift()
        rho.shift()
      }
      S.push(s)
      Y.push(yv)
      rho.push(1 / sy)
    }
    theta = Float64Array.from(next)
    g = Float64Array.from(gNext)
    f = fNext
  }
  return {
    ways,
    dim,
    weights: theta.slice(0, ways * dim),
    bias: theta.slice(ways * dim),
    iterations: it,
  }
}

/**
 * The nearest-centroid classifier of rows `rows` (labels `0 … ways−1`): each class's mean
 * feature, L2-normalised, as a row of `W` (bias 0), so `argmax W·x` is the class mean most
 * cosine-similar to an L2-normalised `x`.
 *
 * @example
 * ```ts
 * import { Episodes } from "retort"
 * const x = Float32Array.of(1, 0, 0.9, 0.1, 0, 1)
 * const c = Episodes.centroid(x, 2, [0, 1, 2], [0, 0, 1], 2)
 * Episodes.predict(c, Float32Array.of(0.2, 0.9), [0]) // Int32Array [1]
 * ```
 *
 * @since 0.1.0
 * @category probes
 */
export const centroid = (
  features: ArrayLike<number>,
  dim: number,
  rows: ArrayLike<number>,
  labels: ArrayLike<number>,
  ways: number,
): Linear => {
  const w = new Float64Array(ways * dim)
  for (let i = 0; i < rows.length; i++) {
    const c = labels[i]!
    for (let d = 0; d < dim; d++) w[c * dim + d] = w[c * dim + d]! + features[rows[i]! * dim + d]!
  }
  for (let c = 0; c < ways; c++) {
    let s = 0
    for (let d = 0; d < dim; d++) s += w[c * dim + d]! ** 2
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0
    for (let d = 0; d < dim; d++) w[c * dim + d] = w[c * dim + d]! * inv
  }
  return { ways, dim, weights: w, bias: new Float64Array(ways), iterations: 0 }
}

/**
 * The class (`0 … ways−1`) a linear classifier gives each of rows `rows` of `features`.
 *
 * @example
 * ```ts
 * import { Episodes } from "retort"
 * const c = Episodes.centroid(Float32Array.of(1, 0, 0, 1), 2, [0, 1], [0, 1], 2)
 * Episodes.predict(c, Float32Array.of(0, 1), [0]) // Int32Array [1]
 * ```
 *
 * @since 0.1.0
 * @category probes
 */
export const predict = (w: Linear, features: ArrayLike<number>, rows: ArrayLike<number>): Int32Array => {
  const out = new Int32Array(rows.length)
  const { ways, dim } = w
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!
    let best = 0
    let bestScore = Number.NEGATIVE_INFINITY
    for (let c = 0; c < ways; c++) {
      let s = w.bias[c]!
      for (let d = 0; d < dim; d++) s += w.weights[c * dim + d]! * features[r * dim + d]!
      if (s > bestScore) {
        bestScore = s
        best = c
      }
    }
    out[i] = best
  }
  return out
}

/**
 * Mean and 95 % confidence half-width `1.96·s/√n` (s: sample standard deviation, n − 1) of
 * per-episode accuracies; the half-width is 0 for a single episode.
 *
 * @example
 * ```ts
 * import { Episodes } from "retort"
 * Episodes.confidence([0.5, 0.7]) // { mean: 0.6, ci95: 1.96 * Math.SQRT2 * 0.1 / Math.SQRT2 }
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const confidence = (xs: ArrayLike<number>): { readonly mean: number; readonly ci95: number } => {
  const n = xs.length
  if (n === 0) return { mean: Number.NaN, ci95: Number.NaN }
  let m = 0
  for (let i = 0; i < n; i++) m += xs[i]!
  m /= n
  let v = 0
  for (let i = 0; i < n; i++) v += (xs[i]! - m) ** 2
  const s = n > 1 ? Math.sqrt(v / (n - 1)) : 0
  return { mean: m, ci95: (1.96 * s) / Math.sqrt(n) }
}

/**
 * Score a probe on episodes: fit it on each episode's support rows of `features` (already
 * L2-normalised, `dim` wide, indexed like the labels the episodes were drawn from), predict the
 * queries; returns every episode's accuracy and their {@link confidence}.
 *
 * @example
 * ```ts
 * import { Episodes } from "retort"
 * import { Effect } from "effect"
 * const labels = Int32Array.from({ length: 40 }, (_, i) => i % 2)
 * const features = Episodes.normalize(Float32Array.from({ length: 80 }, (_, i) => (i % 2 === (i >> 1) % 2 ? 1 : 0)), 2)
 * const eps = Effect.runSync(Episodes.sample(labels, { classes: [0, 1], ways: 2, shots: 1, queries: 5, episodes: 4, seed: 3 }))
 * Episodes.score(features, 2, eps, "centroid").mean // 1
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const score = (
  features: ArrayLike<number>,
  dim: number,
  episodes: ReadonlyArray<Episode>,
  probe: "logistic" | "centroid",
  options: { readonly l2?: number; readonly iterations?: number } = {},
): { readonly accuracies: Float64Array; readonly mean: number; readonly ci95: number } => {
  const accuracies = new Float64Array(episodes.length)
  episodes.forEach((e, i) => {
    const ways = e.classes.length
    const w =
      probe === "logistic"
        ? logistic(features, dim, e.support, e.supportLabels, ways, {
            l2: options.l2 ?? 1,
            iterations: options.iterations ?? 100,
          })
        : centroid(features, dim, e.support, e.supportLabels, ways)
    const pred = predict(w, features, e.query)
    let correct = 0
    for (let q = 0; q < pred.length; q++) if (pred[q] === e.queryLabels[q]) correct++
    accuracies[i] = correct / Math.max(1, pred.length)
  })
  return { accuracies, ...confidence(accuracies) }
}
