/**
 * `retort watermark`: the detector on a finished run from the command line — its output line, the
 * JSON it writes, and the errors for a model the run lacks and a run that serves no watermark.
 * (Whether the detector fires on a distilled student is test/pipelines/watermark.test.ts's job.)
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { Codec, Model, Pipeline, Watermark } from "../../../dsl/index.js"
import { make } from "../../../pipelines/watermark.js"
import { main } from "../../../src/cli/main.js"
import { captureOutput } from "../../support/output.js"

const io = captureOutput()

const key = Watermark.make({ seed: 5, frequency: 8 * Math.PI, epsilon: 0.1 })

/** The recipe on MNIST with small MLPs, a few steps per phase; `marked: false` drops the key. */
const pipeline = (marked: boolean): Pipeline.Pipeline => {
  const p = make({ key, control: "labels", limit: 512 })
  const mlp = Model.mlp({ hidden: [16], classes: 10 })
  return {
    ...p,
    data: Pipeline.data("mnist"),
    models: { teacher: mlp, student: mlp, control: mlp },
    phases: p.phases.map((ph) => {
      const { epochs: _, ...rest } = ph as typeof ph & { epochs?: number }
      return {
        ...rest,
        steps: 8,
        batchSize: 32,
        evaluate: { ...ph.evaluate, splits: ph.evaluate.splits.map((s) => ({ ...s, limit: 200 })) },
        step: marked
          ? ph.step
          : {
              ...ph.step,
              stages: ph.step.stages.map((st) => {
                if (st._tag !== "Forward") return st
                const { watermark: _w, ...clean } = st
                return clean
              }),
            },
      }
    }),
  } as Pipeline.Pipeline
}

const train = async (marked: boolean): Promise<string> => {
  const dir = mkdtempSync(join(tmpdir(), "retort-watermark-cli-"))
  writeFileSync(join(dir, "p.json"), Codec.toJson(pipeline(marked)))
  const code = await main([
    "run",
    join(dir, "p.json"),
    "--backend",
    "cpu",
    "--out",
    join(dir, "runs"),
    "--quiet",
  ])
  expect(io.err).toBe("")
  expect(code).toBe(0)
  return join(dir, "runs", "watermark")
}

describe("retort watermark", () => {
  it("prints score, p-value and verdict for a run's model and writes probes/watermark-<model>-<split>.json", async () => {
    const run = await train(true)
    io.out = ""
    const code = await main(["watermark", run, "--model", "student", "--split", "train", "--queries", "300"])
    expect(io.err).toBe("")
    expect(code).toBe(0)
    expect(io.out).toMatch(
      /student: watermark (DETECTED|not detected) — score \d+\.\d\d .*p = \d\.\d\de[-+]\d+ \(permutation p = \d\.\d\de[-+]\d+, 999 shuffles\), 300 train queries/,
    )
    const file = join(run, "probes", "watermark-student-train.json")
    expect(existsSync(file)).toBe(true)
    const found = JSON.parse(readFileSync(file, "utf8"))
    expect(found.queries).toBe(300)
    expect(found.pValue).toBeGreaterThanOrEqual(0)
    expect(found.pValue).toBeLessThanOrEqual(1)
    expect(found.permutations).toBe(999)
    expect(found.permutationPValue).toBeGreaterThan(0)
    expect(found.score).toBeGreaterThan(0)
    expect(found.comparisons).toBeGreaterThan(0)

    // a model the run does not have: exit 1 and its name in the message
    io.err = ""
    expect(await main(["watermark", run, "--model", "ghost"])).toBe(1)
    expect(io.err).toMatch(/ghost/)
  }, 120_000)

  it("a run whose pipeline serves no watermark: exit 1 and says so", async () => {
    const run = await train(false)
    io.err = ""
    expect(await main(["watermark", run, "--model", "student", "--queries", "100"])).toBe(1)
    expect(io.err).toMatch(/serves no watermark/)
  }, 120_000)
})
