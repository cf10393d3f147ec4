/**
 * The experiment harness: each experiment checks one paper's claim at small scale by running
 * arms (the method and its baselines) over several seeds through the real `run`, then writes
 * mean ± std and the exact command into `docs/results.md` (between markers, so re-running an
 * experiment replaces only its own section) and the raw numbers into `experiments/results/`.
 *
 * @since 0.1.0
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { Effect } from "effect"
import type { Pipeline } from "../dsl/index.js"
import type * as SweepDsl from "../dsl/Sweep.js"
import type * as Dataset from "../src/data/Dataset.js"
import * as Correlation from "../src/metrics/Correlation.js"
import * as Plot from "../src/report/Plot.js"
import { type PhaseResult, run } from "../src/runtime/Run.js"
import * as Seeds from "../src/runtime/Seeds.js"
import * as Sweeps from "../src/sweep/Sweep.js"

/** One arm of an experiment: a pipeline per seed and the metrics to read from its result. */
export interface Arm {
  readonly name: string
  readonly pipeline: (seed: number) => Pipeline.Pipeline
  /** Which numbers to keep, from the finished phases (e.g. the last phase's test accuracy). */
  readonly metrics: (
    phases: ReadonlyArray<PhaseResult>,
    /** The pipeline that ran, the training images its data had (after validation), its wall time. */
    run: { readonly pipeline: Pipeline.Pipeline; readonly trainImages: number; readonly seconds: number },
  ) => Readonly<Record<string, number>>
  /**
   * More numbers measured on the finished run's directory (its checkpoint), e.g. a watermark
   * detector on a trained student; merged into `metrics`.
   */
  readonly probe?: (dir: string, pipeline: Pipeline.Pipeline) => Promise<Readonly<Record<string, number>>>
}

/** An experiment: the claim, the arms, the seeds and the budget it was sized for. */
export interface Experiment {
  readonly name: string
  readonly title: string
  readonly claim: string
  /** Wall-clock budget on 2 cores, as a sentence (e.g. "about 25 minutes"). */
  readonly budget: string
  readonly setting: string
  readonly arms: ReadonlyArray<Arm>
  readonly seeds: ReadonlyArray<number>
  /**
   * What the verdict compares: `[arm, metric]` of the method and of its baseline (higher is better
   * unless `lowerIsBetter`). Required unless the claim is a `correlation`.
   */
  readonly method?: readonly [string, string]
  readonly baseline?: readonly [string, string]
  readonly lowerIsBetter?: boolean
  /**
   * A claim about a monotone relation between two measurements of every run rather than a
   * method beating a baseline (e.g. "flatter minima go with better held-out accuracy"): the
   * verdict is Spearman's ρ between metric `x` and metric `y` over the arms' means (`over:
   * "arms"`, the default — each arm is one configuration, its seeds averaged) or over every run
   * (`"runs"`), with a one-sided permutation p-value in the `expect`ed direction (9,999
   * shuffles, seed 0): reproduced when p < 0.05; `method` and `baseline` are not used. The chart adds a scatter plot of `y` against `x` (`logX` for a log
   * axis), a colour per arm.
   */
  readonly correlation?: {
    readonly x: string
    readonly y: string
    readonly expect: "negative" | "positive"
    readonly over?: "arms" | "runs"
    readonly logX?: boolean
  }
  /** Run once before the arms (e.g. calibrate a watermark key on the data the arms will use). */
  readonly prepare?: (data: Dataset.Dataset | undefined) => Promise<void>
  /**
   * `"better"` (default): the method must beat the baseline. `"atLeast"`: the claim is "at least
   * as good", so a method within the seed-to-seed spread of its baseline also reproduces it.
   */
  readonly kind?: "better" | "atLeast"
  /**
   * Arms whose hyper-parameters are chosen first: `sweep` runs (`retort sweep`'s engine, ranked on
   * its validation metric — never the test split) and `arms` receives the best variant and its
   * pipeline; the arms it returns run after the fixed ones, over the same seeds.
   */
  readonly tune?: {
    readonly sweep: SweepDsl.Sweep
    readonly arms: (best: {
      readonly variant: SweepDsl.Variant
      readonly pipeline: Pipeline.Pipeline
    }) => ReadonlyArray<Arm>
  }
}

/** What a tuning sweep found: its ranking as a table, the chosen variant, its minutes. */
export interface Tuning {
  readonly table: string
  readonly best: string
  readonly key: string
  readonly seconds: number
}

/** The arms of an experiment's results, in order: the declared ones, then any tuned ones. */
const armNames = (exp: Experiment, values: Record<string, unknown>): ReadonlyArray<string> => {
  const fixed = exp.arms.map((a) => a.name)
  return [...fixed, ...Object.keys(values).filter((k) => !fixed.includes(k))]
}

export const meanStd = (xs: ReadonlyArray<number>) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length
  const v = xs.length > 1 ? xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1) : 0
  return { mean: m, std: Math.sqrt(v) }
}

/** Metrics shown as percentages (accuracies and agreements). */
const isPercent = (metric: string) =>
  /accuracy|agreement|^gen\d|ensemble|^teacher|^clean|^shifted|^last|^swa|^ema|^exit|^cls|^dist|^validation/.test(
    metric,
  )

const fmt = (metric: string, { mean, std }: { mean: number; std: number }) =>
  isPercent(metric)
    ? `${(100 * mean).toFixed(2)} ± ${(100 * std).toFixed(2)}`
    : ((d) => `${mean.toFixed(d)} ± ${std.toFixed(d)}`)(
        Math.abs(mean) >= 100 ? 1 : Math.abs(mean) >= 1 ? 2 : 4,
      )

/** One finished run of an arm, as kept in the experiment's journal. */
export interface Entry {
  readonly arm: string
  readonly seed: number
  readonly metrics: Readonly<Record<string, number>>
  readonly seconds: number
  readonly data: string
}

/** The journal of an experiment: one JSON line per finished (arm, seed) run. */
export const journalPath = (name: string, outDir = join("runs", "experiments")) =>
  join(outDir, name, "journal.jsonl")

/** The entries of a journal (none when it does not exist); a torn last line is ignored. */
export const readJournal = (file: string): Array<Entry> => Seeds.readJournal<Entry>(file)

/**
 * Run every arm over every seed; returns `arm → metric → values`. Each finished run is appended
 * to the journal (`runs/experiments/NAME/journal.jsonl`) at once, and each run checkpoints as
 * usual (every 500 steps and at phase ends), so a crash or Ctrl-C loses at most the steps since
 * the running one's last checkpoint; with `resume`, runs already in the journal are not run again
 * and the interrupted one continues from its checkpoint.
 */
export const execute = async (
  exp: Experiment,
  options: {
    readonly backend?: string
    readonly quick?: boolean
    readonly seeds?: ReadonlyArray<number>
    /** Keep the journal and skip the (arm, seed) runs it already holds. */
    readonly resume?: boolean
    /** Where runs and the journal go (default `runs/experiments`). */
    readonly outDir?: string
    /** Data for every run (default: each pipeline's own, Fashion-MNIST or mnist). */
    readonly data?: Dataset.Dataset
    /** Called with each line of progress (default `console.log`). */
    readonly log?: (line: string) => void
  } = {},
) => {
  const seeds = options.seeds ?? exp.seeds
  if (exp.prepare) await exp.prepare(options.data)
  const outDir = options.outDir ?? join("runs", "experiments")
  const log = options.log ?? ((l: string) => console.log(l))
  const file = journalPath(exp.name, outDir)
  mkdirSync(dirname(file), { recursive: true })
  const done = options.resume && !options.quick ? readJournal(file) : []
  // rewritten from the entries that parsed, so a line torn by a crash does not swallow the next
  if (!options.quick) writeFileSync(file, done.map((e) => `${JSON.stringify(e)}\n`).join(""))
  const out: Record<string, Record<string, Array<number>>> = {}
  const data = new Set<string>()
  let seconds = 0
  const keep = (e: Entry) => {
    data.add(e.data)
    seconds += e.seconds
    for (const [k, v] of Object.entries(e.metrics)) ((out[e.arm] ??= {})[k] ??= []).push(v)
    log(
      `${exp.name} · ${e.arm} · seed ${e.seed}: ${Object.entries(e.metrics)
        .map(([k, v]) => `${k} ${v.toFixed(4)}`)
        .join(" · ")} (${e.seconds.toFixed(0)} s, data ${e.data})`,
    )
  }
  // Tuned arms: run the sweep first (resumable from its own journal), then add the arms built
  // from its best variant.
  let arms = exp.arms
  let tuning: Tuning | undefined
  if (exp.tune !== undefined) {
    const t0 = Date.now()
    const plan = await Effect.runPromise(Sweeps.plan(exp.tune.sweep))
    log(`${exp.name}: tuning sweep ${plan.sweep.name}, ${plan.runs.length} runs`)
    const result = await Effect.runPromise(
      Sweeps.runLocal(plan, {
        // a --quick smoke run's capped runs never land where the real sweep resumes from
        outDir: options.quick ? join(outDir, exp.name, "quick") : join(outDir, exp.name),
        resume: options.resume === true && !options.quick,
        backend: options.backend ?? "wasm",
        ...(options.quick ? { maxSteps: 20 } : {}),
        onProgress: (p) => log(`${exp.name}: sweep ${p.done}/${p.total} runs done`),
      }),
    )
    const best = result.ranking[0]
    if (best === undefined || best.metric.n === 0)
      throw new Error(`${exp.name}: every run of the tuning sweep failed`)
    const chosen = plan.variants.find((v) => v.variant.index === best.variant.index)!
    arms = [...exp.arms, ...exp.tune.arms(chosen)]
    tuning = {
      table: Sweeps.table(result),
      best: best.variant.label,
      key: plan.key,
      seconds: (Date.now() - t0) / 1000,
    }
    log(`${exp.name}: best variant ${best.variant.label}`)
  }
  for (const arm of arms)
    for (const seed of seeds) {
      const previous = done.find((e) => e.arm === arm.name && e.seed === seed)
      if (previous) {
        keep(previous)
        continue
      }
      const t0 = Date.now()
      const pipeline = arm.pipeline(seed)
      const runDir = join(outDir, exp.name, `${arm.name}-seed${seed}`)
      // with --resume, the run a kill interrupted continues from its last checkpoint
      const again =
        options.resume && !options.quick
          ? await Effect.runPromise(Seeds.resumable(runDir, pipeline, pipeline.seed))
          : false
      const result = await Effect.runPromise(
        run(pipeline, {
          backend: options.backend ?? "wasm",
          ...(again
            ? { resume: runDir }
            : { outDir: join(outDir, exp.name), name: `${arm.name}-seed${seed}` }),
          quiet: true,
          ...(options.data ? { data: options.data } : {}),
          ...(options.quick ? { maxSteps: 20, evalLimit: 500 } : {}),
        }),
      )
      const entry: Entry = {
        arm: arm.name,
        seed,
        metrics: {
          ...arm.metrics(result.phases, {
            pipeline,
            trainImages: result.dataset.train.n,
            seconds: result.seconds,
          }),
          ...(arm.probe ? await arm.probe(result.dir, pipeline) : {}),
        },
        seconds: (Date.now() - t0) / 1000,
        data: result.dataset.name,
      }
      if (!options.quick) appendFileSync(file, `${JSON.stringify(entry)}\n`)
      keep(entry)
    }
  return {
    values: out,
    seconds: seconds + (tuning?.seconds ?? 0),
    seeds,
    data: [...data].join(", "),
    ...(tuning ? { tuning } : {}),
  }
}

/**
 * The results as a picture: one bar panel per metric, a bar per arm at its mean with a ± std
 * error bar. The y axis is zoomed to the bars (it does not start at 0), so that differences of a
 * point are visible; the table gives the numbers.
 */
export const chart = (
  exp: Experiment,
  r: { values: Record<string, Record<string, Array<number>>> },
): string => {
  const metrics = [...new Set(Object.values(r.values).flatMap((m) => Object.keys(m)))]
  const panel = (
    title: string,
    yLabel: string,
    scale: number,
    bars: ReadonlyArray<[string, ReadonlyArray<number>]>,
  ) => {
    const values = bars.map(([, xs]) => {
      const { mean, std } = meanStd(xs)
      return { mean: mean * scale, std: std * scale }
    })
    const lo = Math.min(...values.map((b) => b.mean - b.std))
    const hi = Math.max(...values.map((b) => b.mean + b.std))
    const pad = Math.max((hi - lo) * 0.4, Math.abs(hi) * 0.01, 1e-6)
    return Plot.barPlot({
      title,
      yLabel: `${yLabel}${scale === 100 ? " (%)" : ""}, mean ± std`,
      categories: bars.map(([name]) => name),
      series: [{ name: yLabel, values }],
      yRange: [lo - pad, hi + pad],
      height: 240,
    })
  }
  const scatter = exp.correlation === undefined ? [] : [scatterOf(exp, exp.correlation, r.values)]
  const only = exp.arms.length === 1 ? exp.arms[0]!.name : undefined
  // one arm measured several ways (e.g. each generation): one panel, a bar per metric
  if (only !== undefined && metrics.every(isPercent))
    return Plot.stack([
      panel(
        `${exp.name}: ${only}`,
        "accuracy",
        100,
        metrics.map((k) => [k, r.values[only]![k]!]),
      ),
    ])
  const panels = metrics.map((k) =>
    panel(
      `${exp.name}: ${k}${exp.lowerIsBetter && k === exp.method?.[1] ? " (lower is better)" : ""}`,
      k,
      isPercent(k) ? 100 : 1,
      armNames(exp, r.values)
        .filter((a) => (r.values[a]?.[k]?.length ?? 0) > 0)
        .map((a) => [a, r.values[a]![k]!]),
    ),
  )
  // a correlation claim: its scatter above the bar panels
  return Plot.stack([...scatter, ...panels])
}

/** The verdict word of {@link verdictOf}. */
export type Verdict = "reproduced" | "reproduced (as good)" | "inconclusive" | "not reproduced" | "no data"

/** The `(x, y)` pairs of a correlation claim: per run, grouped by arm (runs missing either metric are left out). */
export const pairsOf = (
  c: NonNullable<Experiment["correlation"]>,
  values: Record<string, Record<string, Array<number>>>,
): ReadonlyArray<{ readonly arm: string; readonly points: ReadonlyArray<readonly [number, number]> }> =>
  Object.entries(values).flatMap(([arm, m]) => {
    const xs = m[c.x] ?? []
    const ys = m[c.y] ?? []
    const points = xs
      .map((x, i) => [x, ys[i] ?? Number.NaN] as const)
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!c.logX || x > 0))
    return points.length > 0 ? [{ arm, points }] : []
  })

/** Spearman's ρ of a correlation claim over the arms' means or over every run, with its one-sided p. */
export const rankTestOf = (
  c: NonNullable<Experiment["correlation"]>,
  values: Record<string, Record<string, Array<number>>>,
  over: "arms" | "runs" = c.over ?? "arms",
): Correlation.RankTest | undefined => {
  const groups = pairsOf(c, values)
  const points =
    over === "runs"
      ? groups.flatMap((g) => g.points)
      : groups.map(
          (g) => [meanStd(g.points.map((p) => p[0])).mean, meanStd(g.points.map((p) => p[1])).mean] as const,
        )
  if (points.length < 3) return undefined
  return Correlation.rankTest(
    points.map((p) => p[0]),
    points.map((p) => p[1]),
    { permutations: 9999, seed: 0, alternative: c.expect === "negative" ? "less" : "greater" },
  )
}

const rhoText = (t: Correlation.RankTest, unit: string) =>
  `ρ = ${t.rho.toFixed(2)} (one-sided p = ${t.pValue.toFixed(4)}, n = ${t.n} ${unit})`

const correlationVerdict = (
  c: NonNullable<Experiment["correlation"]>,
  values: Record<string, Record<string, Array<number>>>,
): { readonly verdict: Verdict; readonly text: string; readonly gap?: string } => {
  const over = c.over ?? "arms"
  const main = rankTestOf(c, values, over)
  if (main === undefined) return { verdict: "no data", text: "fewer than 3 points: no rank correlation" }
  const other = rankTestOf(c, values, over === "arms" ? "runs" : "arms")
  const unit = over === "arms" ? "arms (each the mean of its seeds)" : "runs"
  const gap = rhoText(main, over === "arms" ? "arms" : "runs")
  const also = other
    ? ` Over ${over === "arms" ? "every run" : "the arms' means"}: ${rhoText(other, over === "arms" ? "runs" : "arms")}.`
    : ""
  const sign = c.expect === "negative" ? main.rho < 0 : main.rho > 0
  const claim = `Spearman's ρ between ${c.x} and ${c.y} over the ${unit} is ${main.rho.toFixed(2)} (one-sided permutation p = ${main.pValue.toFixed(4)}, 9,999 shuffles; expected ${c.expect}).`
  const [verdict, text]: [Verdict, string] =
    sign && main.pValue < 0.05
      ? ["reproduced", claim]
      : sign
        ? ["inconclusive", `${claim} The sign is as claimed, but p ≥ 0.05.`]
        : ["not reproduced", `at this scale: ${claim}`]
  const sep = verdict === "not reproduced" ? " " : ": "
  return { verdict, text: `**${verdict}**${sep}${text}${also}`, gap }
}

const scatterOf = (
  exp: Experiment,
  c: NonNullable<Experiment["correlation"]>,
  values: Record<string, Record<string, Array<number>>>,
): string => {
  const t = rankTestOf(c, values)
  const runs = rankTestOf(c, values, (c.over ?? "arms") === "arms" ? "runs" : "arms")
  const scale = (k: string) => (isPercent(k) ? 100 : 1)
  return Plot.scatterPlot({
    title: `${exp.name}: ${c.y} against ${c.x}`,
    xLabel: `${c.x}${c.logX ? " (log scale)" : ""}`,
    yLabel: `${c.y}${isPercent(c.y) ? " (%)" : ""}`,
    ...(t
      ? {
          note: `Spearman ρ = ${t.rho.toFixed(2)}, p = ${t.pValue.toFixed(3)} over ${t.n} ${(c.over ?? "arms") === "arms" ? "arm means (ringed)" : "runs"}${runs ? `; ρ = ${runs.rho.toFixed(2)} over ${runs.n} ${(c.over ?? "arms") === "arms" ? "runs" : "arm means"}` : ""}`,
        }
      : {}),
    ...(c.logX ? { logX: true } : {}),
    groups: pairsOf(c, values).map((g) => ({
      name: g.arm,
      points: g.points.map(([x, y]) => [x * scale(c.x), y * scale(c.y)] as const),
    })),
  })
}

/**
 * Compare the method with its baseline over the seeds: the difference of the means against the
 * combined seed-to-seed standard deviation (see the introduction of docs/results.md).
 */
export const verdictOf = (
  exp: Experiment,
  values: Record<string, Record<string, Array<number>>>,
): { readonly verdict: Verdict; readonly text: string; readonly gap?: string } => {
  if (exp.correlation !== undefined) return correlationVerdict(exp.correlation, values)
  if (exp.method === undefined || exp.baseline === undefined)
    return {
      verdict: "no data",
      text: "the experiment names neither a method and baseline nor a correlation",
    }
  const [ma, mk] = exp.method
  const [ba, bk] = exp.baseline
  const m = values[ma]?.[mk]
  const b = values[ba]?.[bk]
  if (!m || !b) return { verdict: "no data", text: "not enough data for a verdict" }
  const dm = meanStd(m)
  const db = meanStd(b)
  const diff = (exp.lowerIsBetter ? -1 : 1) * (dm.mean - db.mean)
  const noise = Math.sqrt(dm.std ** 2 + db.std ** 2)
  const gap = fmt(mk, { mean: dm.mean - db.mean, std: noise })
  const method = `${ma} ${mk}`
  const baseline = `${ba} ${bk}`
  const [verdict, text]: [Verdict, string] =
    diff > noise
      ? [
          "reproduced",
          `${method} is better than ${baseline} (difference ${gap}, more than the combined seed-to-seed std).`,
        ]
      : exp.kind === "atLeast" && diff >= -noise
        ? [
            "reproduced (as good)",
            `${method} is within the seed-to-seed spread of ${baseline} (difference ${gap}), which is what an "at least as good" claim asks at this number of seeds.`,
          ]
        : diff > 0
          ? [
              "inconclusive",
              `${method} is ahead of ${baseline} by less than the seed-to-seed spread (difference ${gap}).`,
            ]
          : exp.kind === "atLeast"
            ? [
                "not reproduced",
                `at this scale: ${method} is worse than ${baseline} by more than the seed-to-seed spread (difference ${gap}).`,
              ]
            : [
                "not reproduced",
                `at this scale: ${method} is not better than ${baseline} (difference ${gap}).`,
              ]
  const sep = verdict === "not reproduced" ? " " : ": "
  return { verdict, text: `**${verdict}**${sep}${text}`, gap }
}

/**
 * The summary table at the top of docs/results.md: one row per experiment of the catalogue with
 * its verdict, the compared numbers and the minutes its runs took ("not run yet" without saved
 * results).
 */
export const summary = (
  experiments: ReadonlyArray<Experiment>,
  load: (
    name: string,
  ) => { values: Record<string, Record<string, Array<number>>>; seconds: number } | undefined,
): string => {
  const rows = experiments.map((e) => {
    const r = load(e.name)
    if (!r) return `| [${e.name}](#${e.name}) | ${e.claim} | not run yet | – | – |`
    const v = verdictOf(e, r.values)
    const compared = e.correlation
      ? `${e.correlation.x} vs ${e.correlation.y}`
      : `${e.method?.join(" ") ?? "?"} vs ${e.baseline?.join(" ") ?? "?"}`
    return `| [${e.name}](#${e.name}) | ${e.claim} | **${v.verdict}** | ${compared}: ${v.gap ?? "–"} | ${(r.seconds / 60).toFixed(1)} |`
  })
  // The tuned baseline beside the methods it is comparable with (the same student and images).
  const tuned = load("tuned-baseline")?.values
  const acc = (arm: string) => {
    const xs = tuned?.[arm]?.accuracy
    return xs && xs.length > 0 ? fmt("accuracy", meanStd(xs)) : undefined
  }
  const beside =
    tuned && acc("tuned") !== undefined
      ? [
          "",
          `Beside every method, the tuned small-data baseline ([tuned-baseline](#tuned-baseline): the W1 MLP on plain cross-entropy, its optimiser tuned on held-out validation images): **${acc("tuned")} %** test accuracy on 5,000 training images, against ${acc("default") ?? "–"} % untuned and ${acc("kd") ?? "–"} % for KD on the same images. The experiments on other models and data sizes have their own baseline arm in their section.`,
        ]
      : []
  return [
    "<!-- summary:start -->",
    "| experiment | claim | verdict | method − baseline (mean ± combined std) | minutes |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    ...beside,
    "<!-- summary:end -->",
  ].join("\n")
}

/** Render the markdown section of an experiment's results. */
export const section = (
  exp: Experiment,
  r: {
    values: Record<string, Record<string, Array<number>>>
    seconds: number
    seeds: ReadonlyArray<number>
    tuning?: Tuning
  },
  command: string,
  dataName: string,
) => {
  const metrics = [...new Set(Object.values(r.values).flatMap((m) => Object.keys(m)))]
  const rows = armNames(exp, r.values).map(
    (a) =>
      `| ${a} | ${metrics.map((k) => (r.values[a]?.[k] ? fmt(k, meanStd(r.values[a]![k]!)) : "–")).join(" | ")} |`,
  )
  const tuning =
    r.tuning === undefined
      ? []
      : [
          `Tuning: the sweep \`${exp.tune?.sweep.name ?? "?"}\` ranked its variants by \`${r.tuning.key}\` (mean over the seeds; the test accuracy beside it was not used to choose) and chose **${r.tuning.best}** (${(r.tuning.seconds / 60).toFixed(1)} minutes):`,
          "",
          "```text",
          r.tuning.table,
          "```",
          "",
        ]
  const verdict = verdictOf(exp, r.values).text
  return [
    `<!-- experiment:${exp.name}:start -->`,
    `<a id="${exp.name}"></a>`,
    "",
    `### ${exp.title}`,
    "",
    `Claim: ${exp.claim}`,
    "",
    `Setting: ${exp.setting} Data: ${dataName}. Seeds: ${r.seeds.join(", ")}. Budget: ${exp.budget}; its runs took ${(r.seconds / 60).toFixed(1)} minutes.`,
    "",
    ...tuning,
    `| arm | ${metrics.join(" | ")} |`,
    `| --- | ${metrics.map(() => "---").join(" | ")} |`,
    ...rows,
    "",
    `![${exp.name}: mean ± std per arm](results/${exp.name}.svg)`,
    "",
    `Verdict: ${verdict}`,
    "",
    `Command: \`${command}\``,
    `<!-- experiment:${exp.name}:end -->`,
  ].join("\n")
}

/** Replace (or append) an experiment's section in docs/results.md. */
export const record = (name: string, text: string, file = join("docs", "results.md")) =>
  replaceBlock(`<!-- experiment:${name}:start -->`, `<!-- experiment:${name}:end -->`, text, file)

/** Replace the summary table of docs/results.md (or insert it before the first section). */
export const recordSummary = (text: string, file = join("docs", "results.md")) => {
  const doc = existsSync(file) ? readFileSync(file, "utf8") : "# Results\n"
  if (doc.includes("<!-- summary:start -->"))
    replaceBlock("<!-- summary:start -->", "<!-- summary:end -->", text, file)
  else {
    const i = doc.indexOf("<!-- experiment:")
    writeFileSync(
      file,
      i >= 0 ? `${doc.slice(0, i)}${text}\n\n${doc.slice(i)}` : `${doc.trimEnd()}\n\n${text}\n`,
    )
  }
}

const replaceBlock = (start: string, end: string, text: string, file: string) => {
  const doc = existsSync(file) ? readFileSync(file, "utf8") : "# Results\n"
  const i = doc.indexOf(start)
  const j = doc.indexOf(end)
  const next =
    i >= 0 && j > i ? doc.slice(0, i) + text + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n${text}\n`
  writeFileSync(file, next)
}

/** Write the chart of an experiment's results to `docs/results/NAME.svg`. */
export const draw = (
  exp: Experiment,
  r: { values: Record<string, Record<string, Array<number>>> },
  dir = join("docs", "results"),
) => {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, `${exp.name}.svg`), chart(exp, r))
}

/** Save the raw per-seed values. */
export const save = (name: string, data: unknown) => {
  mkdirSync(join("experiments", "results"), { recursive: true })
  writeFileSync(join("experiments", "results", `${name}.json`), `${JSON.stringify(data, null, 2)}\n`)
}
