import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { Codec, Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../../dsl/index.js"
import { main } from "../../../src/cli/main.js"
import * as Seeds from "../../../src/runtime/Seeds.js"
import { synthetic } from "../../support/data.js"

const data = synthetic({ train: 96, test: 48 })
const tiny = Pipeline.make({
  name: "tiny",
  seed: 5,
  data: Pipeline.data("mnist"),
  models: { net: Model.mlp({ hidden: [8], classes: 10, dropout: 0.2 }) },
  phases: [
    Phase.make({
      name: "train",
      steps: 6,
      batchSize: 16,
      step: Step.start.pipe(
        Step.forward("net", { as: "o" }),
        Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
        Step.optimize("net", Optimizer.adam({ lr: 1e-2 })),
      ),
      evaluate: Phase.evaluate({ models: ["net"], metrics: ["accuracy", "nll"] }),
    }),
  ],
})
const tmp = () => mkdtempSync(join(tmpdir(), "retort-seeds-"))

describe("Seeds.runSeeds", () => {
  it("runs once per seed in its own directory and reports mean ± std of every final metric", async () => {
    const out = tmp()
    const seen: Array<number> = []
    const r = await Effect.runPromise(
      Seeds.runSeeds(tiny, {
        seeds: [1, 2, 3],
        backend: "cpu",
        outDir: out,
        data,
        quiet: true,
        onRun: (s) => seen.push(s.seed),
      }),
    )
    expect(seen).toEqual([1, 2, 3])
    expect(r.runs.map((x) => x.dir)).toEqual([1, 2, 3].map((s) => join(out, "tiny", `seed${s}`)))
    for (const x of r.runs) expect(existsSync(join(x.dir, "checkpoint.bin"))).toBe(true)
    // different seeds train differently; the statistics are those of the per-seed values
    const nll = r.runs.map((x) => x.metrics["train/test/net/nll"]!)
    expect(new Set(nll).size).toBe(3)
    const s = r.stats["train/test/net/nll"]!
    const mean = (nll[0]! + nll[1]! + nll[2]!) / 3
    expect(s.mean).toBeCloseTo(mean, 12)
    expect(s.std).toBeCloseTo(Math.sqrt(nll.reduce((a, v) => a + (v - mean) ** 2, 0) / 2), 12)
    expect(s.values).toEqual(nll)
    expect(Seeds.table(r.stats)).toMatch(/train\/test\/net\/nll\s+[\d.]+ ± [\d.]+\s+3/)
    const saved = JSON.parse(readFileSync(join(out, "tiny", "seeds.json"), "utf8"))
    expect(saved.stats["train/test/net/accuracy"].n).toBe(3)
    expect(readFileSync(join(out, "tiny", "seeds.svg"), "utf8")).toMatch(/^<svg/)

    // the same seed again gives the same numbers: a series is reproducible
    const again = await Effect.runPromise(
      Seeds.runSeeds(tiny, { seeds: [2], backend: "cpu", outDir: out, name: "again", data, quiet: true }),
    )
    expect(again.runs[0]!.metrics).toEqual(r.runs[1]!.metrics)
  })

  it("skipDone keeps the seeds already in seeds.jsonl (a torn last line is ignored) and runs the rest", async () => {
    const out = tmp()
    const first = await Effect.runPromise(
      Seeds.runSeeds(tiny, { seeds: [1], backend: "cpu", outDir: out, data, quiet: true }),
    )
    const journal = join(out, "tiny", "seeds.jsonl")
    writeFileSync(journal, `${readFileSync(journal, "utf8")}{"seed":2,"metr`)
    const ran: Array<number> = []
    const r = await Effect.runPromise(
      Seeds.runSeeds(tiny, {
        seeds: [1, 2],
        backend: "cpu",
        outDir: out,
        data,
        quiet: true,
        skipDone: true,
        onRun: (s) => ran.push(s.seconds),
      }),
    )
    expect(r.runs[0]).toEqual(first.runs[0])
    expect(r.runs).toHaveLength(2)
    expect(readFileSync(journal, "utf8").trim().split("\n")).toHaveLength(2)
    // a failing seed fails the series like run does
    const bad = await Effect.runPromiseExit(
      Seeds.runSeeds({ ...tiny, models: {} }, { seeds: [1], backend: "cpu", outDir: out, name: "bad", data }),
    )
    expect(Exit.isFailure(bad)).toBe(true)
  })
})

describe("retort seeds (CLI)", () => {
  let out = ""
  let err = ""
  beforeEach(() => {
    out = ""
    err = ""
    vi.spyOn(console, "log").mockImplementation((...a) => {
      out += `${a.join(" ")}\n`
    })
    vi.spyOn(process.stdout, "write").mockImplementation((s) => {
      out += String(s)
      return true
    })
    vi.spyOn(process.stderr, "write").mockImplementation((s) => {
      err += String(s)
      return true
    })
  })
  afterEach(() => vi.restoreAllMocks())

  it("runs the seeds of a range and prints the table; rejects a malformed --seeds", async () => {
    const dir = tmp()
    const file = join(dir, "tiny.json")
    // MNIST digits (shipped with the `mnist` package), evaluated on 200 test images
    writeFileSync(
      file,
      Codec.toJson({
        ...tiny,
        phases: [
          {
            ...tiny.phases[0]!,
            evaluate: { ...tiny.phases[0]!.evaluate, splits: [{ split: "test", limit: 200 }] },
          },
        ],
      }),
    )
    const code = await main(["seeds", file, "--seeds", "1-2", "--backend", "cpu", "--out", dir])
    expect(err).toBe("")
    expect(code).toBe(0)
    expect(out).toMatch(/^seed 1: train\/test\/net\/accuracy 0\.\d{4}/m)
    expect(out).toMatch(/^seed 2: /m)
    expect(out).toMatch(/train\/test\/net\/accuracy\s+[\d.]+ ± [\d.]+\s+2/)
    expect(existsSync(join(dir, "tiny", "seeds.json"))).toBe(true)
    expect(await main(["seeds", file, "--seeds", "3-1", "--backend", "cpu", "--out", dir])).toBe(1)
    expect(err).toMatch(/not a seed or range: "3-1"/)
  })
})
