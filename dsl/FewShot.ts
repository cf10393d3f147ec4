/**
 * Few-shot evaluation (RFS, Tian et al., 2020): a trained network is used as a frozen embedding —
 * the features of a named tap, L2-normalised — and judged on N-way K-shot *episodes* drawn from
 * classes it never trained on. Each episode samples `ways` of the novel classes, `shots` support
 * and `queries` query images per class (support and query disjoint), fits a probe on the support
 * features and scores it on the queries; the metric is the mean episode accuracy with a 95 %
 * confidence interval, `1.96·std/√episodes` (sample std over episodes).
 *
 * Probes: `logistic` — multinomial logistic regression, the RFS probe (scikit-learn's
 * `LogisticRegression`, L-BFGS, C = 1): minimise Σ CE + (λ/2)·‖W‖² (bias unpenalised) with at most
 * `iterations` L-BFGS steps; `centroid` — nearest class mean by cosine similarity.
 *
 * The companion data-slice option `Phase.DataSlice.classes` restricts a phase's training images
 * to the *base* classes; the validator rejects a few-shot class that any phase up to the
 * evaluating one trains on, so the novel classes are never seen in training.
 *
 * @example
 * ```ts
 * import { FewShot, Phase } from "retort/dsl"
 * const fs = FewShot.make({ classes: [5, 6, 7, 8, 9], tap: "dense0", shots: [1, 5] })
 * const ev = Phase.evaluate({ models: ["net"], splits: [], fewShot: fs })
 * FewShot.metricName(fs, 1, "logistic") // "fewshot-5w1s"
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Issue from "./Issue.js"

/**
 * The per-episode classifier: `logistic` (multinomial logistic regression, L-BFGS) or
 * `centroid` (nearest class mean, cosine similarity).
 *
 * @since 0.1.0
 * @category models
 */
export type Probe = "logistic" | "centroid"

/**
 * A few-shot evaluation.
 *
 * @since 0.1.0
 * @category models
 */
export interface FewShot {
  readonly _tag: "FewShot"
  /** The novel classes episodes are drawn from (class ids of the data set). */
  readonly classes: ReadonlyArray<number>
  /** The tap whose output is the embedding (e.g. `dense0`, the W2 CNN's penultimate layer). */
  readonly tap: string
  /** N: classes per episode. */
  readonly ways: number
  /** K: support images per class; one set of episodes (and metrics) per entry. */
  readonly shots: ReadonlyArray<number>
  /** Query images per class and episode. */
  readonly queries: number
  /** Episodes per shot setting. */
  readonly episodes: number
  /** The split the episodes are drawn from. */
  readonly split: "train" | "validation" | "test"
  readonly probes: ReadonlyArray<Probe>
  /** Models to evaluate (default: every plain model target of the evaluation). */
  readonly models?: ReadonlyArray<string>
  /** Seed of the episodes (default: derived from the run's seed, the same in every phase). */
  readonly seed?: number
  /** λ of the logistic probe's L2 penalty (λ/2)·‖W‖² on the summed CE (1 = scikit-learn's C = 1). */
  readonly l2: number
  /** At most this many L-BFGS iterations per episode for the logistic probe. */
  readonly iterations: number
}

/**
 * A few-shot evaluation. Defaults: 5-way, 1- and 5-shot, 15 queries per class, 600 episodes,
 * test split, the logistic probe with λ = 1 and at most 100 L-BFGS iterations.
 *
 * @example
 * ```ts
 * import { FewShot } from "retort/dsl"
 * const fs = FewShot.make({ classes: [5, 6, 7, 8, 9], tap: "dense0", probes: ["logistic", "centroid"] })
 * fs.episodes // 600
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly classes: ReadonlyArray<number>
  readonly tap: string
  readonly ways?: number
  readonly shots?: ReadonlyArray<number>
  readonly queries?: number
  readonly episodes?: number
  readonly split?: "train" | "validation" | "test"
  readonly probes?: ReadonlyArray<Probe>
  readonly models?: ReadonlyArray<string>
  readonly seed?: number
  readonly l2?: number
  readonly iterations?: number
}): FewShot => ({
  _tag: "FewShot",
  classes: options.classes,
  tap: options.tap,
  ways: options.ways ?? 5,
  shots: options.shots ?? [1, 5],
  queries: options.queries ?? 15,
  episodes: options.episodes ?? 600,
  split: options.split ?? "test",
  probes: options.probes ?? ["logistic"],
  ...(options.models !== undefined ? { models: options.models } : {}),
  ...(options.seed !== undefined ? { seed: options.seed } : {}),
  l2: options.l2 ?? 1,
  iterations: options.iterations ?? 100,
})

/**
 * The metric name of one shot setting and probe: `fewshot-5w1s` for the logistic probe,
 * `fewshot-5w1s-centroid` for nearest-centroid. The run reports `<split>/<model>/<name>/accuracy`
 * and `/ci95`.
 *
 * @example
 * ```ts
 * import { FewShot } from "retort/dsl"
 * const fs = FewShot.make({ classes: [5, 6, 7, 8, 9], tap: "dense0" })
 * FewShot.metricName(fs, 5, "centroid") // "fewshot-5w5s-centroid"
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const metricName = (fs: FewShot, shots: number, probe: Probe): string =>
  `fewshot-${fs.ways}w${shots}s${probe === "logistic" ? "" : `-${probe}`}`

/**
 * The schema of a few-shot evaluation (JSON-friendly).
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema: Schema.Codec<FewShot> = Schema.Struct({
  _tag: Schema.Literal("FewShot"),
  classes: Schema.Array(Schema.Finite),
  tap: Schema.String,
  ways: Schema.Finite,
  shots: Schema.Array(Schema.Finite),
  queries: Schema.Finite,
  episodes: Schema.Finite,
  split: Schema.Literals(["train", "validation", "test"]),
  probes: Schema.Array(Schema.Literals(["logistic", "centroid"])),
  models: Schema.optionalKey(Schema.Array(Schema.String)),
  seed: Schema.optionalKey(Schema.Finite),
  l2: Schema.Finite,
  iterations: Schema.Finite,
})

/** Caps that keep a (possibly hostile) description cheap to validate and to run. */
const MAX_EPISODES = 100_000
const MAX_ITERATIONS = 10_000
const MAX_LIST = 64

/**
 * Problems of a class list (a data slice's or a few-shot evaluation's): not empty, distinct
 * integer class ids in `[0, classes)` when the class count is known. `path` is where the list is.
 *
 * @example
 * ```ts
 * import { FewShot } from "retort/dsl"
 * FewShot.checkClasses([0, 1, 12], 10, ["phases", 0, "data", "classes"]) // one issue: 12 out of range
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const checkClasses = (
  list: ReadonlyArray<number>,
  classes: number | undefined,
  path: ReadonlyArray<string | number>,
): ReadonlyArray<Issue.Issue> => {
  const out: Array<Issue.Issue> = []
  const add = (p: ReadonlyArray<string | number>, message: string) =>
    out.push({ path: Issue.path(p), message })
  if (list.length === 0) add(path, "the class list is empty: name at least one class")
  const seen = new Set<number>()
  for (let i = 0; i < list.length && out.length < 10; i++) {
    const c = list[i]!
    if (!Number.isInteger(c) || c < 0) add([...path, i], `a class id must be an integer >= 0, got ${c}`)
    else if (classes !== undefined && c >= classes)
      add([...path, i], `class ${c} does not exist: the data has ${classes} classes (0–${classes - 1})`)
    else if (seen.has(c)) add([...path, i], `class ${c} is listed twice`)
    seen.add(c)
  }
  return out
}

/**
 * The class count a data source is known to have before it is read (10 for MNIST,
 * Fashion-MNIST and CIFAR-10; 100 or 20 for CIFAR-100), `undefined` for folders and custom data.
 *
 * @example
 * ```ts
 * import { FewShot } from "retort/dsl"
 * FewShot.sourceClasses({ source: "cifar100", labels: "coarse" }) // 20
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const sourceClasses = (data: {
  readonly source: string
  readonly labels?: "fine" | "coarse"
}): number | undefined => {
  switch (data.source) {
    case "mnist":
    case "fashion-mnist":
    case "fashion-or-mnist":
    case "cifar10":
      return 10
    case "cifar100":
      return data.labels === "coarse" ? 20 : 100
    default:
      return undefined
  }
}

/** What {@link check} needs to know about the pipeline around the evaluation. */
export interface Context {
  /** The data set's class count, when known before it is read. */
  readonly classes: number | undefined
  /** Whether the pipeline holds out a validation split (or may: a folder). */
  readonly hasValidation: boolean
  /** The models the evaluation may name. */
  readonly known: ReadonlySet<string>
  /** The models evaluated when `models` is not given. */
  readonly defaults: ReadonlyArray<string>
  /** A model's taps (`undefined`: unknown before it is built). */
  readonly taps: (model: string) => ReadonlyArray<string> | undefined
  /**
   * The class lists the phases so far (this one included) train on: `undefined` for a phase
   * that sees every class. With their phase names.
   */
  readonly trained: ReadonlyArray<{ readonly phase: string; readonly classes?: ReadonlyArray<number> }>
}

/**
 * Every problem of a few-shot evaluation at `path`: ranges, the tap, the models, and novel
 * classes that a phase up to this one trains on.
 *
 * @example
 * ```ts
 * import { FewShot } from "retort/dsl"
 * const fs = FewShot.make({ classes: [5, 6, 7, 8, 9], tap: "dense0" })
 * const issues = FewShot.check(fs, ["phases", 0, "evaluate", "fewShot"], {
 *   classes: 10, hasValidation: false, known: new Set(["net"]), defaults: ["net"],
 *   taps: () => ["dense0"], trained: [{ phase: "base", classes: [0, 1, 2, 3, 4] }],
 * })
 * issues.length // 0
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const check = (
  fs: FewShot,
  path: ReadonlyArray<string | number>,
  ctx: Context,
): ReadonlyArray<Issue.Issue> => {
  const out: Array<Issue.Issue> = [...checkClasses(fs.classes, ctx.classes, [...path, "classes"])]
  const add = (p: ReadonlyArray<string | number>, message: string) =>
    out.push({ path: Issue.path([...path, ...p]), message })
  const int = (v: number, lo: number, hi: number) => Number.isInteger(v) && v >= lo && v <= hi
  if (fs.classes.length > 1024) add(["classes"], `at most 1024 classes, got ${fs.classes.length}`)
  if (!int(fs.ways, 2, Math.max(2, fs.classes.length)))
    add(
      ["ways"],
      `must be an integer from 2 to the number of few-shot classes (${fs.classes.length}), got ${fs.ways}`,
    )
  if (fs.shots.length === 0) add(["shots"], "give at least one shot count")
  if (fs.shots.length > MAX_LIST) add(["shots"], `at most ${MAX_LIST} shot counts, got ${fs.shots.length}`)
  else
    fs.shots.forEach((k, i) => {
      if (!int(k, 1, 10_000)) add(["shots", i], `must be a positive integer, got ${k}`)
    })
  if (!int(fs.queries, 1, 10_000)) add(["queries"], `must be a positive integer, got ${fs.queries}`)
  if (!int(fs.episodes, 1, MAX_EPISODES))
    add(["episodes"], `must be an integer from 1 to ${MAX_EPISODES}, got ${fs.episodes}`)
  if (fs.probes.length === 0) add(["probes"], "give at least one probe (logistic, centroid)")
  if (new Set(fs.probes).size !== fs.probes.length) add(["probes"], "a probe is listed twice")
  if (!(Number.isFinite(fs.l2) && fs.l2 > 0)) add(["l2"], `must be a finite number > 0, got ${fs.l2}`)
  if (!int(fs.iterations, 1, MAX_ITERATIONS))
    add(["iterations"], `must be an integer from 1 to ${MAX_ITERATIONS}, got ${fs.iterations}`)
  if (fs.seed !== undefined && !Number.isInteger(fs.seed))
    add(["seed"], `the seed must be an integer, got ${fs.seed}`)
  if (fs.split === "validation" && !ctx.hasValidation)
    add(["split"], "draws episodes from the validation split, but data.validation is 0")
  const models = fs.models ?? ctx.defaults
  if (models.length === 0) add(["models"], "no model to evaluate: name one, or add a model target")
  if (fs.models !== undefined && fs.models.length > MAX_LIST)
    add(["models"], `at most ${MAX_LIST} models, got ${fs.models.length}`)
  else
    models.forEach((m, i) => {
      const mp = fs.models !== undefined ? ["models", i] : ["models"]
      if (!ctx.known.has(m)) add(mp, `unknown model "${m.slice(0, 200)}"`)
      else {
        const taps = ctx.taps(m)
        if (taps !== undefined && !taps.includes(fs.tap))
          add(["tap"], `model "${m}" has no tap "${fs.tap.slice(0, 200)}" (taps: ${taps.join(", ")})`)
      }
    })
  // the novel classes must never have been trained on
  const novel = new Set(fs.classes)
  for (const t of ctx.trained) {
    if (t.classes === undefined) {
      add(
        ["classes"],
        `phase "${t.phase}" trains on every class, so the few-shot classes are not novel: give it data.classes (the base classes)`,
      )
      break
    }
    const seen = t.classes.filter((c) => novel.has(c))
    if (seen.length > 0) {
      add(
        ["classes"],
        `phase "${t.phase}" trains on ${seen.length === 1 ? "class" : "classes"} ${seen.slice(0, 10).join(", ")}, which the few-shot evaluation treats as novel`,
      )
      break
    }
  }
  return out
}
