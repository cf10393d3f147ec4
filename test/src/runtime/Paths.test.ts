/**
 * Hostile run names: a pipeline file named "../escape" (or `--name ../../x`, or ".") must not put its run directory — checkpoints, logs, plots — outside the output
 * directory; such a run fails before writing anything. Nested names inside it (what
 * `retort seeds` uses: `kd/seed1`) are fine.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { describe, expect, it } from "vitest"
import { Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../../dsl/index.js"
import { Reporter } from "../../../src/report/Reporter.js"
import { run } from "../../../src/runtime/Run.js"

const pipeline = (name: string) =>
  Pipeline.make({
    name,
    data: Pipeline.data("mnist"),
    models: { net: Model.mlp({ hidden: [8], classes: 10 }) },
    phases: [
      Phase.make({
        name: "train",
        steps: 1,
        batchSize: 8,
        step: Step.start.pipe(
          Step.forward("net", { as: "o" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
          Step.optimize("net", Optimizer.adam({ lr: 1e-3 })),
        ),
        evaluate: Phase.evaluate({ models: ["net"], splits: [{ split: "test", limit: 10 }] }),
      }),
    ],
  })

const go = (p: Pipeline.Pipeline, outDir: string, name?: string) =>
  Effect.runPromise(
    Effect.result(
      run(p, { backend: "cpu", outDir, reporter: Reporter.quiet, ...(name !== undefined ? { name } : {}) }),
    ),
  )

describe("run names", () => {
  it("a name that would leave the output directory is refused before anything is written", async () => {
    const root = mkdtempSync(join(tmpdir(), "retort-paths-"))
    const out = join(root, "runs")
    for (const [p, name, escaped] of [
      [pipeline("../escape"), undefined, join(root, "escape")],
      [pipeline("kd"), "../../elsewhere", join(root, "..", "elsewhere")],
      [pipeline("kd"), ".", out],
    ] as const) {
      const r = await go(p, out, name)
      expect(Result.isFailure(r), String(name ?? p.name)).toBe(true)
      const e = (r as unknown as { failure: { _tag: string; message: string } }).failure
      expect(e._tag).toBe("IoError")
      expect(e.message).toMatch(/outside the output directory|a run name is a folder name inside it/)
      expect(existsSync(join(escaped, "checkpoint.bin"))).toBe(false)
      expect(existsSync(join(escaped, "pipeline.json"))).toBe(false)
    }
    // a nested name stays inside: fine
    const nested = await go(pipeline("kd"), out, "kd/seed1")
    expect(Result.isSuccess(nested)).toBe(true)
    expect(existsSync(join(out, "kd", "seed1", "checkpoint.bin"))).toBe(true)
  })

  it("a folder of someone else's files is never written into; a run directory is reused", async () => {
    const out = mkdtempSync(join(tmpdir(), "retort-paths-"))
    const theirs = join(out, "kd")
    mkdirSync(theirs)
    const files = { "pipeline.json": '{"mine": true}', "notes.txt": "keep me", "loss.svg": "<svg/>" }
    for (const [f, text] of Object.entries(files)) writeFileSync(join(theirs, f), text)
    // the default reporter (event log and plots in the run directory), as `retort run` has it
    const r = await Effect.runPromise(
      Effect.result(run(pipeline("kd"), { backend: "cpu", outDir: out, quiet: true })),
    )
    expect(Result.isFailure(r)).toBe(true)
    const e = (r as unknown as { failure: { _tag: string; message: string } }).failure
    expect(e._tag).toBe("IoError")
    expect(e.message).toContain("that no Retort run wrote")
    expect(e.message).toContain("another --name or --out")
    // untouched: the same files with the same contents, nothing added (no event log, no lock)
    expect(readdirSync(theirs).sort()).toEqual(Object.keys(files).sort())
    for (const [f, text] of Object.entries(files)) expect(readFileSync(join(theirs, f), "utf8")).toBe(text)
    // a run directory (one a run wrote before) is reused
    const first = await Effect.runPromise(
      Effect.result(run(pipeline("mine"), { backend: "cpu", outDir: out, quiet: true })),
    )
    expect(Result.isSuccess(first)).toBe(true)
    const again = await Effect.runPromise(
      Effect.result(run(pipeline("mine"), { backend: "cpu", outDir: out, quiet: true })),
    )
    expect(Result.isSuccess(again)).toBe(true)
    expect(existsSync(join(out, "mine", ".retort"))).toBe(true)
  })
})
