/**
 * The experiment harness: each experiment checks one paper's claim at small scale by running
 * arms (the method and its baselines) over several seeds through the real `run`, then writes
 * mean ± std and the exact command into `docs/results.md` (between markers, so re-running an
 * experiment replaces only its own section) and the raw numbers into `experiments/results/`.
 *
 * @since 0.1.0
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import type { Pipeline } from "../dsl/index.js"
import { type PhaseResult, run } from "../src/runtime/Run.js"

/** One arm of an experiment: a pipeline per seed and the metrics to read from its result. */
export interface Arm {
  readonly name: string
  readonly pipeline: (seed: number) => Pipeline.Pipeline
  /** Which numbers to keep, from the finished phases (e.g. the last phase's test accuracy). */
  readonly metrics: (phases: ReadonlyArray<PhaseResult>) => Readonly<Record<string, number>>
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
   * unless `lowerIsBetter`).
   */
  readonly method: readonly [string, string]
  readonly baseline: readonly [string, string]
  readonly lowerIsBetter?: boolean
}

export const meanStd = (xs: ReadonlyArray<number>) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length
  const v = xs.length > 1 ? xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1) : 0
  return { mean: m, std: Math.sqrt(v) }
}

const fmt = (metric: string, { mean, std }: { mean: number; std: number }) =>
  /accuracy|agreement|^gen\d|ensemble|^teacher|^clean|^shifted|^last|^swa|^ema|^exit|^cls|^dist/.test(metric)
    ? `${(100 * mean).toFixed(2)} ± ${(100 * std).toFixed(2)}`
    : `${mean.toFixed(4)} ± ${std.toFixed(4)}`

/** Run every arm over every seed; returns `arm → metric → values`. */
export const execute = async (
  exp: Experiment,
  options: { readonly backend?: string; readonly quick?: boolean; readonly seeds?: ReadonlyArray<number> },
) => {
  const seeds = options.seeds ?? exp.seeds
  const out: Record<string, Record<string, Array<number>>> = {}
  const started = Date.now()
  const data = new Set<string>()
  for (const arm of exp.arms)
    for (const seed of seeds) {
      const t0 = Date.now()
      const result = await Effect.runPromise(
        run(arm.pipeline(seed), {
          backend: options.backend ?? "wasm",
          outDir: join("runs", "experiments", exp.name),
          name: `${arm.name}-seed${seed}`,
          quiet: true,
          checkpointEvery: 0,
          ...(options.quick ? { maxSteps: 20, evalLimit: 500 } : {}),
        }),
      )
      data.add(result.dataset.name)
      const m = arm.metrics(result.phases)
      for (const [k, v] of Object.entries(m)) ((out[arm.name] ??= {})[k] ??= []).push(v)
      console.log(
        `${exp.name} · ${arm.name} · seed ${seed}: ${Object.entries(m)
          .map(([k, v]) => `${k} ${v.toFixed(4)}`)
          .join(" · ")} (${((Date.now() - t0) / 1000).toFixed(0)} s, data ${result.dataset.name})`,
      )
    }
  return { values: out, seconds: (Date.now() - started) / 1000, seeds, data: [...data].join(", ") }
}

/** Render the markdown section of an experiment's results. */
export const section = (
  exp: Experiment,
  r: { values: Record<string, Record<string, Array<number>>>; seconds: number; seeds: ReadonlyArray<number> },
  command: string,
  dataName: string,
) => {
  const metrics = [...new Set(Object.values(r.values).flatMap((m) => Object.keys(m)))]
  const rows = exp.arms.map(
    (a) =>
      `| ${a.name} | ${metrics.map((k) => (r.values[a.name]?.[k] ? fmt(k, meanStd(r.values[a.name]![k]!)) : "–")).join(" | ")} |`,
  )
  const [ma, mk] = exp.method
  const [ba, bk] = exp.baseline
  const m = r.values[ma]?.[mk]
  const b = r.values[ba]?.[bk]
  const label = (arm: string, metric: string) => `${arm} ${metric}`
  let verdict = "not enough data for a verdict"
  if (m && b) {
    const dm = meanStd(m)
    const db = meanStd(b)
    const diff = (exp.lowerIsBetter ? -1 : 1) * (dm.mean - db.mean)
    const noise = Math.sqrt(dm.std ** 2 + db.std ** 2)
    const gap = fmt(mk, { mean: dm.mean - db.mean, std: noise })
    verdict =
      diff > noise
        ? `**reproduced**: ${label(ma, mk)} is better than ${label(ba, bk)} (difference ${gap}, more than the combined seed-to-seed std).`
        : diff > 0
          ? `**inconclusive**: ${label(ma, mk)} is ahead of ${label(ba, bk)} by less than the seed-to-seed spread (difference ${gap}).`
          : `**not reproduced** at this scale: ${label(ma, mk)} is not better than ${label(ba, bk)} (difference ${gap}).`
  }
  return [
    `<!-- experiment:${exp.name}:start -->`,
    `### ${exp.title}`,
    "",
    `Claim: ${exp.claim}`,
    "",
    `Setting: ${exp.setting} Data: ${dataName}. Seeds: ${r.seeds.join(", ")}. Budget: ${exp.budget}; this run took ${(r.seconds / 60).toFixed(1)} minutes.`,
    "",
    `| arm | ${metrics.join(" | ")} |`,
    `| --- | ${metrics.map(() => "---").join(" | ")} |`,
    ...rows,
    "",
    `Verdict: ${verdict}`,
    "",
    `Command: \`${command}\``,
    `<!-- experiment:${exp.name}:end -->`,
  ].join("\n")
}

/** Replace (or append) an experiment's section in docs/results.md. */
export const record = (name: string, text: string, file = join("docs", "results.md")) => {
  const start = `<!-- experiment:${name}:start -->`
  const end = `<!-- experiment:${name}:end -->`
  const doc = existsSync(file) ? readFileSync(file, "utf8") : "# Results\n"
  const i = doc.indexOf(start)
  const j = doc.indexOf(end)
  const next =
    i >= 0 && j > i ? doc.slice(0, i) + text + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n${text}\n`
  writeFileSync(file, next)
}

/** Save the raw per-seed values. */
export const save = (name: string, data: unknown) => {
  mkdirSync(join("experiments", "results"), { recursive: true })
  writeFileSync(join("experiments", "results", `${name}.json`), `${JSON.stringify(data, null, 2)}\n`)
}
