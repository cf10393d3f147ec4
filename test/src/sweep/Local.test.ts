/**
 * `retort sweep` on the local pool: a 12-run sweep (4 variants × 3 seeds) of a small pipeline in
 * worker processes; every run finishes once with the metrics a plain `retort run` of that variant
 * and seed gives; the ranking follows the metric; the results (sweep.json, sweep.svg, best.json)
 * are written; `--resume` keeps the finished runs; a malformed sweep is refused with every
 * problem and its path before anything runs.
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { describe, expect, it } from "vitest"
import { Codec } from "../../../dsl/index.js"
import * as Sweep from "../../../dsl/Sweep.js"
import kdTemperature from "../../../pipelines/sweeps/kd-temperature.js"
import tunedBaseline from "../../../pipelines/sweeps/tuned-baseline.js"
import * as Sweeps from "../../../src/sweep/Sweep.js"
import { inProcess, sweep, sweepPipeline } from "../../support/sweep.js"

describe("sweeps on the local pool", () => {
  it("12 runs in worker processes: each once, as retort run gives it, ranked, written, resumable", async () => {
    const out = mkdtempSync(join(tmpdir(), "retort-sweep-"))
    const plan = await Effect.runPromise(Sweeps.plan(sweep))
    expect(plan.runs).toHaveLength(12)
    expect(plan.key).toBe("train/validation/net/accuracy")
    const progress: Array<Sweeps.Progress> = []
    const r = await Effect.runPromise(
      Sweeps.runLocal(plan, { outDir: out, workers: 2, backend: "cpu", onProgress: (p) => progress.push(p) }),
    )
    expect(r.outcomes.map((o) => o.id)).toEqual(plan.runs.map((s) => s.id))
    expect(r.outcomes.every((o) => o.ok)).toBe(true)
    expect(progress.at(-1)).toMatchObject({ total: 12, done: 12, failed: 0 })
    expect(progress.filter((p) => p.last !== undefined)).toHaveLength(12)
    // run for run, the metrics of the same variant and seed run in this process
    const plain = await inProcess(plan, out)
    for (const o of r.outcomes) expect(o.metrics, o.id).toEqual(plain[o.id])
    // ranked by the validation accuracy's mean, best first
    const means = r.ranking.map((s) => s.metric.mean)
    expect([...means].sort((a, b) => b - a)).toEqual(means)
    expect(r.ranking.every((s) => s.metric.n === 3 && s.test?.n === 3)).toBe(true)
    const dir = join(out, "tiny-lr")
    const written = JSON.parse(readFileSync(join(dir, "sweep.json"), "utf8"))
    expect(written.ranking[0].label).toBe(r.ranking[0]!.variant.label)
    expect(readFileSync(join(dir, "sweep.svg"), "utf8")).toContain("<svg")
    const best = Codec.fromJson(readFileSync(join(dir, "best.json"), "utf8"))
    expect(Result.isSuccess(best) && best.success).toEqual(
      plan.variants[r.ranking[0]!.variant.index]!.pipeline,
    )
    expect(Sweeps.table(r)).toContain(r.ranking[0]!.variant.label)

    // --resume keeps every finished run: nothing runs again
    const journal = readFileSync(join(dir, "sweep.jsonl"), "utf8")
    const again = await Effect.runPromise(
      Sweeps.runLocal(plan, { outDir: out, workers: 2, backend: "cpu", resume: true }),
    )
    expect(again.outcomes).toEqual(r.outcomes)
    expect(readFileSync(join(dir, "sweep.jsonl"), "utf8")).toBe(journal)

    // without --resume a sweep starts from scratch: a run capped by --max-steps before is not
    // continued as if it were this sweep's (it was: its final checkpoint "resumed" at once)
    const one = { ...plan, runs: plan.runs.slice(0, 1) }
    const capped = await Effect.runPromise(Sweeps.runLocal(one, { outDir: out, backend: "cpu", maxSteps: 1 }))
    const full = await Effect.runPromise(Sweeps.runLocal(one, { outDir: out, backend: "cpu" }))
    expect(capped.outcomes[0]!.metrics).not.toEqual(r.outcomes[0]!.metrics)
    expect(full.outcomes[0]!.metrics).toEqual(r.outcomes[0]!.metrics)
  }, 240_000)

  it("a malformed sweep: every problem with its path, before anything runs", async () => {
    const out = mkdtempSync(join(tmpdir(), "retort-sweep-"))
    const bad = Sweep.make({
      name: "bad",
      pipeline: sweepPipeline,
      axes: [
        Sweep.values("phases[0].step.stages[2].optimizer.lr", [1e-3, -1]),
        Sweep.values("phases[0].batchSize", [0]),
        Sweep.range("phases[0].steps", { min: 8, max: 64 }),
      ],
      metric: { model: "teacher", split: "validation" },
    })
    const r = await Effect.runPromise(Effect.result(Sweeps.plan(bad)))
    expect(Result.isFailure(r)).toBe(true)
    const paths = (
      r as Result.Failure<unknown, { issues: ReadonlyArray<{ path: string }> }>
    ).failure.issues.map((i) => i.path)
    // the grid over a range without count is seen first (without the pipeline)
    expect(paths).toEqual(["axes[2].count"])
    const fixed = { ...bad, axes: bad.axes.slice(0, 2) }
    const r2 = await Effect.runPromise(Effect.result(Sweeps.plan(fixed)))
    const paths2 = (
      r2 as Result.Failure<unknown, { issues: ReadonlyArray<{ path: string }> }>
    ).failure.issues.map((i) => i.path)
    expect(paths2).toEqual(
      expect.arrayContaining([
        "metric.model",
        expect.stringMatching(/^variants\[1\] \(lr=-1 · batchSize=0\) › .*lr/),
        expect.stringMatching(/^variants\[1\] \(lr=-1 · batchSize=0\) › phases\[0\]\.batchSize/),
        expect.stringMatching(/^variants\[0\] \(lr=0.001 · batchSize=0\) › phases\[0\]\.batchSize/),
      ]),
    )
    expect(existsSync(join(out, "bad"))).toBe(false)
  })

  it("a run started by a sweep stops, after a checkpoint, when the process that started it dies", async () => {
    const out = mkdtempSync(join(tmpdir(), "retort-orphan-"))
    const file = join(out, "long.json")
    const long = { ...sweepPipeline, phases: [{ ...sweepPipeline.phases[0]!, steps: 1_000_000 }] }
    writeFileSync(file, Codec.toJson(long))
    // a parent shell that starts the run (as a sweep worker would) and is then killed with -9
    const shell = spawn(
      "sh",
      [
        "-c",
        `RETORT_PARENT_PID=$$ "${process.execPath}" bin/retort.js run ${file} --backend cpu --quiet --checkpoint-every 0 --out ${out} & echo $!; wait`,
      ],
      { cwd: join(import.meta.dirname, "../../.."), stdio: ["ignore", "pipe", "ignore"] },
    )
    const pid = Number(
      await new Promise<string>((r) => shell.stdout!.once("data", (b: Buffer) => r(b.toString().trim()))),
    )
    const events = join(out, "tiny", "events.jsonl")
    const until = Date.now() + 60_000
    while (!(existsSync(events) && readFileSync(events, "utf8").includes('"StepMetrics"'))) {
      if (Date.now() > until) throw new Error("the run did not start")
      await new Promise((r) => setTimeout(r, 100))
    }
    shell.kill("SIGKILL")
    const t0 = Date.now()
    while (Date.now() - t0 < 20_000) {
      try {
        process.kill(pid, 0)
      } catch {
        break
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(() => process.kill(pid, 0), "the orphaned run is still training").toThrow()
    // it stopped the way Ctrl-C stops a run: with a checkpoint to resume from (with
    // --checkpoint-every 0 only the interruption writes one in the middle of a phase)
    expect(existsSync(join(out, "tiny", "checkpoint.bin"))).toBe(true)
    expect(readFileSync(events, "utf8")).toContain('"_tag":"Checkpointed"')
  }, 120_000)

  it.each([
    { name: "kd-temperature", sweep: kdTemperature, runs: 12, key: "distil/validation/student/accuracy" },
    { name: "tuned-baseline", sweep: tunedBaseline, runs: 54, key: "train/validation/net/accuracy" },
  ])(
    "the example sweep $name: TS, JSON and YAML are the same value and plan to $runs valid runs",
    async (c) => {
      const dir = join(import.meta.dirname, "../../../pipelines/sweeps")
      const plans = await Promise.all(
        [`${c.name}.ts`, `${c.name}.json`, `${c.name}.yaml`].map((f) =>
          Effect.runPromise(Sweeps.load(join(dir, f))),
        ),
      )
      for (const p of plans) {
        expect(p.runs).toHaveLength(c.runs)
        expect(p.key).toBe(c.key)
        expect(p.sweep).toEqual(plans[0]!.sweep)
      }
      expect(readFileSync(join(dir, `${c.name}.json`), "utf8")).toBe(Codec.sweepToJson(c.sweep))
    },
  )

  it("the tuned-baseline sweep's variants change only the optimiser and the epochs", async () => {
    const plan = await Effect.runPromise(Sweeps.plan(tunedBaseline))
    const last = plan.variants.at(-1)!.pipeline
    expect(last.phases[0]!.epochs).toBe(30)
    expect(JSON.stringify(last.phases[0]!.step.stages[2])).toContain('"lr":0.003')
    expect(JSON.stringify(last.phases[0]!.step.stages[2])).toContain('"weightDecay":0.001')
  })

  it("retort sweep on a malformed file: every problem with its path, exit 1, no stack trace, nothing run", () => {
    const out = mkdtempSync(join(tmpdir(), "retort-sweep-cli-"))
    const file = join(out, "bad.yaml")
    writeFileSync(
      file,
      [
        "_tag: Sweep",
        "name: bad",
        "pipeline: ../nowhere.json",
        "axes:",
        "  - { _tag: Values, path: seed, values: [] }",
        "  - { _tag: Range, path: __proto__.x, min: 0, max: 1, scale: log }",
        "search: { _tag: Grid }",
        "seeds: [1, 1]",
        "metric: { model: net, name: accuracy, split: validation, goal: max }",
      ].join("\n"),
    )
    const r = spawnSync(process.execPath, ["bin/retort.js", "sweep", file, "--out", out], {
      cwd: join(import.meta.dirname, "../../.."),
      encoding: "utf8",
    })
    expect(r.status).toBe(1)
    for (const path of ["axes[0].values", "axes[1].path", "axes[1].min", "axes[1].count", "seeds[1]"])
      expect(r.stderr).toContain(path)
    expect(r.stderr).not.toMatch(/^\s+at .+[:(]/m)
    expect(existsSync(join(out, "bad"))).toBe(false)
  })
})
