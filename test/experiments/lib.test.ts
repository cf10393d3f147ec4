import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Codec, Model, Optimizer, Phase, Pipeline } from "../../dsl/index.js"
import * as SweepDsl from "../../dsl/Sweep.js"
import {
  chart,
  type Experiment,
  execute,
  journalPath,
  meanStd,
  readJournal,
  record,
  section,
  summary,
  verdictOf,
} from "../../experiments/lib.js"
import { supervised } from "../../pipelines/common.js"
import * as Sweeps from "../../src/sweep/Sweep.js"
import { useWasm } from "../pipelines/support.js"
import { synthetic } from "../support/data.js"

const data = synthetic({ train: 64, test: 32 })
const tinyRun = (seed: number, lr: number) =>
  Pipeline.make({
    name: "tiny",
    seed,
    models: { net: Model.mlp({ hidden: [8], classes: 10 }) },
    phases: [supervised("net", { name: "train", epochs: 1, optimizer: Optimizer.adam({ lr }) })],
  })
const accuracy = (phases: ReadonlyArray<{ readonly metrics: Readonly<Record<string, number>> }>) => ({
  accuracy: phases[0]!.metrics["test/net/accuracy"]!,
})

describe("experiment harness", () => {
  const dir = mkdtempSync(join(tmpdir(), "retort-exp-"))
  beforeAll(useWasm)
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("journals each finished run, and --resume runs only what a crash left undone", async () => {
    let calls = 0
    let crash = true
    const exp: Experiment = {
      name: "tiny",
      title: "a tiny experiment",
      claim: "a larger learning rate learns faster in one epoch.",
      setting: "MLP 8, one epoch on 64 synthetic images.",
      budget: "seconds",
      seeds: [1, 2],
      arms: [
        {
          name: "fast",
          pipeline: (s) => {
            calls++
            return tinyRun(s, 1e-2)
          },
          metrics: accuracy,
        },
        {
          name: "slow",
          pipeline: (s) => {
            calls++
            if (s === 2 && crash) throw new Error("simulated crash")
            return tinyRun(s, 1e-4)
          },
          metrics: accuracy,
        },
      ],
      method: ["fast", "accuracy"],
      baseline: ["slow", "accuracy"],
    }
    const lines: Array<string> = []
    const options = { outDir: dir, data, backend: "wasm", log: (l: string) => lines.push(l) }
    await expect(execute(exp, options)).rejects.toThrow("simulated crash")
    const kept = readJournal(journalPath("tiny", dir))
    expect(kept.map((e) => [e.arm, e.seed])).toEqual([
      ["fast", 1],
      ["fast", 2],
      ["slow", 1],
    ])
    expect(kept.every((e) => e.data === "synthetic" && e.seconds > 0)).toBe(true)

    // a torn last line (a crash mid-write) is ignored
    writeFileSync(journalPath("tiny", dir), `${readFileSync(journalPath("tiny", dir), "utf8")}{"arm":"sl`)
    crash = false
    calls = 0
    lines.length = 0
    const r = await execute(exp, { ...options, resume: true })
    expect(calls).toBe(1)
    expect(r.values.fast!.accuracy).toEqual(kept.slice(0, 2).map((e) => e.metrics.accuracy))
    expect(r.values.slow!.accuracy![0]).toBe(kept[2]!.metrics.accuracy)
    expect(r.values.slow!.accuracy).toHaveLength(2)
    expect(lines).toHaveLength(4)
    expect(readJournal(journalPath("tiny", dir))).toHaveLength(4)

    // without --resume the journal starts again
    calls = 0
    await execute(exp, { ...options, seeds: [1] })
    expect(calls).toBe(2)
    expect(readJournal(journalPath("tiny", dir))).toHaveLength(2)
  })

  it("tunes an arm first: the sweep's best variant by validation accuracy becomes the tuned arm", async () => {
    const base = Pipeline.make({
      name: "tiny-tune",
      seed: 1,
      data: Pipeline.data("mnist", { validation: 500 }),
      models: { net: Model.mlp({ hidden: [8], classes: 10 }) },
      phases: [
        {
          ...supervised("net", {
            name: "train",
            epochs: 3,
            limit: 1000,
            optimizer: Optimizer.adam({ lr: 1e-3 }),
          }),
          evaluate: Phase.evaluate({
            models: ["net"],
            splits: [{ split: "validation" }, { split: "test" }],
            metrics: ["accuracy"],
          }),
        },
      ],
    })
    const sweep = SweepDsl.make({
      name: "tiny-tune",
      pipeline: base,
      axes: [SweepDsl.values("phases[0].step.stages[2].optimizer.lr", [1e-5, 1e-2])],
      seeds: [1],
      metric: { model: "net", phase: "train" },
    })
    const metrics = (ps: ReadonlyArray<{ readonly metrics: Readonly<Record<string, number>> }>) => ({
      accuracy: ps[0]!.metrics["test/net/accuracy"]!,
      validation: ps[0]!.metrics["validation/net/accuracy"]!,
    })
    let chosen: string | undefined
    const exp: Experiment = {
      name: "tiny-tune",
      title: "a tuned arm",
      claim: "tuning the learning rate on validation helps.",
      setting: "MLP 8, three epochs on 1,000 MNIST digits.",
      budget: "seconds",
      seeds: [1],
      arms: [{ name: "default", pipeline: (seed) => ({ ...base, seed }), metrics }],
      tune: {
        sweep,
        arms: ({ variant, pipeline }) => {
          chosen = variant.label
          return [{ name: "tuned", pipeline: (seed) => ({ ...pipeline, seed }), metrics }]
        },
      },
      method: ["tuned", "accuracy"],
      baseline: ["default", "accuracy"],
    }
    const r = await execute(exp, { outDir: dir, backend: "wasm", log: () => {} })
    // lr 1e-5 barely moves in 24 steps; 1e-2 learns: validation accuracy picks it
    expect(chosen).toBe("lr=0.01")
    expect(r.tuning?.best).toBe("lr=0.01")
    expect(r.values.tuned!.validation![0]).toBeGreaterThan(0.5)
    expect(r.values.tuned!.validation![0]).toBeGreaterThan(r.values.default!.validation![0]! + 0.1)
    const text = section(exp, r, "npm run experiment -- tiny-tune", "mnist")
    expect(text).toContain("chose **lr=0.01**")
    expect(text).toMatch(/\| tuned \| /)
  }, 120_000)

  it("writes a section with mean ± std, a verdict and the command, replacing only its own", () => {
    expect(meanStd([1, 2, 3])).toEqual({ mean: 2, std: 1 })
    const exp = {
      name: "x",
      title: "X",
      claim: "c",
      setting: "s.",
      budget: "1 minute",
      seeds: [1, 2],
      arms: [
        { name: "m", pipeline: () => tinyRun(1, 1), metrics: accuracy },
        { name: "b", pipeline: () => tinyRun(1, 1), metrics: accuracy },
      ],
      method: ["m", "accuracy"],
      baseline: ["b", "accuracy"],
    } satisfies Experiment
    const text = (m: Array<number>) =>
      section(
        exp,
        { values: { m: { accuracy: m }, b: { accuracy: [0.5, 0.52] } }, seconds: 60, seeds: [1, 2] },
        "npm run experiment -- x",
        "mnist",
      )
    expect(text([0.8, 0.82])).toContain("**reproduced**")
    expect(text([0.8, 0.82])).toContain("| m | 81.00 ± 1.41 |")
    expect(text([0.515, 0.52])).toContain("**inconclusive**")
    expect(text([0.4, 0.41])).toContain("**not reproduced**")
    // the summary table: a row per experiment, "not run yet" without saved results
    const table = summary([exp, { ...exp, name: "y" }], (n) =>
      n === "x"
        ? { values: { m: { accuracy: [0.8, 0.82] }, b: { accuracy: [0.5, 0.52] } }, seconds: 90 }
        : undefined,
    )
    expect(table).toContain("| [x](#x) | c | **reproduced** | m accuracy vs b accuracy: 30.00 ± 2.00 | 1.5 |")
    expect(table).toContain("| [y](#y) | c | not run yet | – | – |")
    // an "at least as good" claim: within the spread reproduces it, worse beyond it does not
    const atLeast = (m: Array<number>) =>
      section(
        { ...exp, kind: "atLeast" },
        { values: { m: { accuracy: m }, b: { accuracy: [0.5, 0.52] } }, seconds: 60, seeds: [1, 2] },
        "c",
        "mnist",
      )
    expect(atLeast([0.505, 0.515])).toContain("**reproduced (as good)**")
    expect(atLeast([0.8, 0.82])).toContain("**reproduced**: m accuracy is better")
    expect(atLeast([0.4, 0.41])).toContain("**not reproduced**")
    const file = join(dir, "results.md")
    writeFileSync(file, "# Results\n\nintro\n")
    record("x", text([0.4, 0.41]), file)
    record("y", "<!-- experiment:y:start -->\nY\n<!-- experiment:y:end -->", file)
    record("x", text([0.8, 0.82]), file)
    const doc = readFileSync(file, "utf8")
    expect(doc).toContain("intro")
    expect(doc).toContain("\nY\n")
    expect(doc).toContain("**reproduced**")
    expect(doc).not.toContain("not reproduced")
    expect(doc).toContain("Command: `npm run experiment -- x`")
    expect(doc).toContain("![x: mean ± std per arm](results/x.svg)")
    // the chart: a panel per metric, a bar per arm; one arm measured several ways is one panel
    const svg = chart(exp, {
      values: { m: { accuracy: [0.8, 0.82], ece: [0.1, 0.2] }, b: { accuracy: [0.5, 0.52] } },
    })
    expect(svg.match(/class="bar"/g)).toHaveLength(3)
    expect(svg.match(/class="error"/g)).toHaveLength(3)
    expect(svg).toContain("x: accuracy")
    expect(svg).toContain("x: ece")
    const one = chart(
      { ...exp, arms: [exp.arms[0]!] },
      { values: { m: { gen0: [0.8, 0.82], gen1: [0.81, 0.83] } } },
    )
    expect(one.match(/class="bar"/g)).toHaveLength(2)
    expect(one).toContain(">gen1<")
  })
})

describe("a correlation claim", () => {
  const arms = ["a", "b", "c", "d", "e", "f"].map((name) => ({
    name,
    pipeline: () => tinyRun(1, 1),
    metrics: accuracy,
  }))
  const exp = {
    name: "corr",
    title: "C",
    claim: "flatter goes with better",
    setting: "s.",
    budget: "1 minute",
    seeds: [1, 2],
    arms,
    correlation: { x: "sharpness", y: "heldout-accuracy", expect: "negative" as const },
  } satisfies Experiment
  // six arms, two seeds each: accuracy falls with sharpness (monotone in the means)
  const values = (sign: number) =>
    Object.fromEntries(
      arms.map((a, i) => [
        a.name,
        {
          sharpness: [0.1 * (i + 1), 0.1 * (i + 1) + 0.02],
          "heldout-accuracy": [0.9 - sign * 0.05 * i, 0.89 - sign * 0.05 * i],
        },
      ]),
    )

  it("is judged by Spearman's ρ over the arms' means with a one-sided permutation p", () => {
    const down = verdictOf(exp, values(1))
    expect(down.verdict).toBe("reproduced")
    // ρ = −1 over 6 means: the exact one-sided p is 1/720; 9,999 shuffles give about that
    expect(down.text).toMatch(
      /ρ between sharpness and heldout-accuracy over the arms \(each the mean of its seeds\) is -1\.00/,
    )
    expect(down.gap).toMatch(/^ρ = -1\.00 \(one-sided p = 0\.00\d+, n = 6 arms\)$/)
    expect(down.text).toContain("n = 12 runs")
    expect(verdictOf(exp, values(-1)).verdict).toBe("not reproduced")
    // right sign, too few arms for significance
    const three = Object.fromEntries(Object.entries(values(1)).slice(0, 3))
    expect(verdictOf(exp, three).verdict).toBe("inconclusive")
    expect(verdictOf(exp, Object.fromEntries(Object.entries(values(1)).slice(0, 2))).verdict).toBe("no data")
    // over every run instead: 12 points
    expect(verdictOf({ ...exp, correlation: { ...exp.correlation, over: "runs" } }, values(1)).gap).toContain(
      "n = 12 runs",
    )
    const table = summary([exp], () => ({ values: values(1), seconds: 60 }))
    expect(table).toContain(
      "| [corr](#corr) | flatter goes with better | **reproduced** | sharpness vs heldout-accuracy: ρ = -1.00",
    )
  })

  it("draws a scatter (a dot per run, a ringed mean per arm) above the bar panels", () => {
    const svg = chart(exp, { values: values(1) })
    expect(svg.match(/class="point"/g)).toHaveLength(12)
    expect(svg.match(/class="mean"/g)).toHaveLength(6)
    expect(svg).toContain("corr: heldout-accuracy against sharpness")
    expect(svg).toMatch(/Spearman ρ = -1\.00/)
    expect(svg.match(/class="bar"/g)).toHaveLength(12) // two metric panels, a bar per arm
  })
})

describe("the experiment catalogue", () => {
  it("every arm of every experiment is a valid pipeline, and the verdict's arms and metrics exist", async () => {
    const { experiments } = await import("../../experiments/catalogue.js")
    expect(experiments.map((e) => e.name).sort()).toEqual(
      [
        "bnext",
        "born-again",
        "cudfkd",
        "byot",
        "cosub",
        "cyclical",
        "deit",
        "fs-ban",
        "kd",
        "kd-vs-swa",
        "landscape-dg",
        "multi-view-dg",
        "multi-view-dg-tta",
        "place",
        "proc-kd",
        "rfs",
        "sd-dropout",
        "swa",
        "tinymim",
        "tst",
        "tuned-baseline",
        "watermark",
      ].sort(),
    )
    for (const e of experiments) {
      expect(e.seeds.length).toBeGreaterThanOrEqual(3)
      // a tuning sweep must plan (every variant valid, its metric on a validation split), and the
      // arms built from a variant of it are checked like the others
      const tuned =
        e.tune === undefined
          ? []
          : await Effect.runPromise(Sweeps.plan(e.tune.sweep)).then((plan) => {
              expect(plan.key, e.name).toMatch(/\/validation\//)
              return e.tune!.arms(plan.variants[0]!)
            })
      const arms = [...e.arms, ...tuned]
      for (const a of arms) {
        const r = Codec.validate(a.pipeline(1))
        expect(Result.isSuccess(r) ? [] : r.failure.issues, `${e.name}/${a.name}`).toEqual([])
      }
      if (e.correlation !== undefined) expect(arms.length, e.name).toBeGreaterThanOrEqual(3)
      else {
        expect(arms.map((a) => a.name)).toContain(e.method?.[0])
        expect(arms.map((a) => a.name)).toContain(e.baseline?.[0])
      }
    }
  })
})
