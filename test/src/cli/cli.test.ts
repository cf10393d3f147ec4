import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { Codec, Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../../dsl/index.js"
import { recipes } from "../../../pipelines/index.js"
import { applyOverrides } from "../../../src/cli/load.js"
import { main } from "../../../src/cli/main.js"
import { captureOutput } from "../../support/output.js"

const tmp = () => mkdtempSync(join(tmpdir(), "retort-cli-"))

const io = captureOutput()

/** A tiny MNIST pipeline that trains in seconds on the cpu backend. */
const tiny = () =>
  Pipeline.make({
    name: "tiny",
    seed: 2,
    data: Pipeline.data("mnist"),
    models: { net: Model.mlp({ hidden: [16], classes: 10 }) },
    phases: [
      Phase.make({
        name: "train",
        steps: 10,
        batchSize: 32,
        step: Step.start.pipe(
          Step.forward("net", { as: "o" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
          Step.optimize("net", Optimizer.adam({ lr: 3e-3 })),
        ),
        evaluate: Phase.evaluate({ models: ["net"], splits: [{ split: "test", limit: 200 }] }),
      }),
    ],
  })

describe("retort CLI", () => {
  it("validate: a valid pipeline (TS module and JSON)", async () => {
    expect(await main(["validate", "pipelines/kd.ts"])).toBe(0)
    expect(io.out).toMatch(/valid pipeline "kd" \(3 phases, 3 models\)/)
    expect(await main(["validate", "pipelines/json/byot.json"])).toBe(0)
    expect(await main(["validate", "pipelines/json/cosub.yaml"])).toBe(0)
  })

  it("validate: every problem of an invalid file, with paths, and exit code 1", async () => {
    const dir = tmp()
    const bad = JSON.parse(Codec.toJson(recipes.kd!))
    bad.phases[1].step.stages[2].terms.kd.temperature = -2
    bad.phases[1].step.stages[0].model = "nobody"
    writeFileSync(join(dir, "bad.json"), JSON.stringify(bad))
    expect(await main(["validate", join(dir, "bad.json")])).toBe(1)
    expect(io.err).toMatch(
      /phases\[1\]\.step\.stages\[2\]\.terms\.kd\.temperature: a temperature must be > 0/,
    )
    expect(io.err).toMatch(/phases\[1\]\.step\.stages\[0\]\.model: unknown model "nobody"/)
  })

  it("validate: malformed JSON and YAML, and a missing file", async () => {
    const dir = tmp()
    writeFileSync(join(dir, "a.json"), "{ nope")
    writeFileSync(join(dir, "b.yaml"), "a: [1, 2\n")
    expect(await main(["validate", join(dir, "a.json")])).toBe(1)
    expect(io.err).toMatch(/malformed JSON at line 1/)
    expect(await main(["validate", join(dir, "b.yaml")])).toBe(1)
    expect(io.err).toMatch(/malformed YAML/)
    expect(await main(["validate", join(dir, "missing.json")])).toBe(1)
    expect(io.err).toMatch(/no such pipeline file/)
  })

  it("--set overrides fields by path, and reports a path that does not exist", () => {
    const p = Result.getOrThrow(
      applyOverrides(recipes.kd!, { "phases[1].epochs": "2", seed: "9", "phases.0.name": "t" }),
    )
    expect(p.phases[1]!.epochs).toBe(2)
    expect(p.seed).toBe(9)
    expect(p.phases[0]!.name).toBe("t")
    const bad = applyOverrides(recipes.kd!, { "phases[7].epochs": "2" })
    expect(Result.isFailure(bad)).toBe(true)
  })

  it("--set never reaches a prototype: __proto__, constructor, prototype and inherited keys are refused", () => {
    for (const path of [
      "__proto__.polluted",
      "constructor.prototype.polluted",
      "models.__proto__.polluted",
      "phases[0].constructor.polluted",
      "toString.polluted",
    ]) {
      const r = applyOverrides(recipes.kd!, { [path]: "1" })
      expect(Result.isFailure(r), path).toBe(true)
      expect(({} as Record<string, unknown>).polluted, path).toBeUndefined()
      expect((Object.prototype as unknown as Record<string, unknown>).polluted, path).toBeUndefined()
    }
    const r = applyOverrides(recipes.kd!, { "__proto__.polluted": "1" })
    expect(Result.isFailure(r) && r.failure.issues[0]!.message).toMatch(/not pipeline fields/)
  })

  it("describe: stage graph and parameter counts", async () => {
    expect(await main(["describe", "pipelines/kd.ts"])).toBe(0)
    expect(io.out).toMatch(/phase 2 distil/)
    expect(io.out).toMatch(/0\.9·kl\(t ‖ s, T=4\)/)
    expect(io.out).toMatch(/student: 269,322 parameters/)
  })

  it("doctor and an uninstalled backend", async () => {
    expect(await main(["doctor", "--backend", "cpu"])).toBe(0)
    expect(await main(["doctor", "--backend", "tensorflow-gpu"])).toBe(1)
    expect(io.err).toMatch(/npm install @tensorflow\/tfjs-node-gpu/)
  })

  it("run, then export the trained model to a LayersModel", async () => {
    const dir = tmp()
    writeFileSync(join(dir, "tiny.json"), Codec.toJson(tiny()))
    const code = await main([
      "run",
      join(dir, "tiny.json"),
      "--backend",
      "cpu",
      "--out",
      join(dir, "runs"),
      "--quiet",
      "--set",
      "phases[0].steps=6",
    ])
    expect(io.err).toBe("")
    expect(code).toBe(0)
    expect(io.out).toMatch(/test\/net\/accuracy/)
    const run = join(dir, "runs", "tiny")
    for (const f of ["checkpoint.bin", "events.jsonl", "pipeline.json"])
      expect(existsSync(join(run, f))).toBe(true)
    const events = readFileSync(join(run, "events.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
    expect(events.find((e) => e._tag === "PhaseStarted").steps).toBe(6)
    expect(await main(["export", run, "--model", "net"])).toBe(0)
    expect(existsSync(join(run, "export", "net", "model.json"))).toBe(true)
    expect(await main(["export", run, "--model", "ghost"])).toBe(1)
    expect(io.err).toMatch(/no model "ghost"/)
  })
})

describe("demo", () => {
  it("--quick trains teacher, distilled student and baseline end to end and prints the three accuracies", async () => {
    const dir = tmp()
    const code = await main([
      "demo",
      "--quick",
      "--quiet",
      "--no-download",
      "--backend",
      "wasm",
      "--out",
      dir,
    ])
    expect(io.err).toBe("")
    expect(code).toBe(0)
    for (const who of [
      "teacher \\(CNN\\)",
      "student \\(MLP, distilled\\)",
      "baseline \\(MLP, labels alone\\)",
    ])
      expect(io.out).toMatch(new RegExp(`${who}\\s+test accuracy \\d+\\.\\d\\d %`))
    expect(io.out).toMatch(/data: (fashion-mnist|mnist) · backend: wasm/)
    const events = readFileSync(join(dir, "demo-quick", "events.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
    expect(events.filter((e) => e._tag === "PhaseStarted").map((e) => e.phase)).toEqual([
      "teacher",
      "distil",
      "baseline",
    ])
  })
})

describe("the bin", () => {
  it("runs from a clone through tsx and prints help", () => {
    const r = spawnSync(process.execPath, ["bin/retort.js", "--help"], { encoding: "utf8", timeout: 60_000 })
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/SUBCOMMANDS/)
    expect(r.stdout).toMatch(/validate/)
  })
})

describe("Ctrl-C", () => {
  it("SIGINT writes a checkpoint, exits with 130, and --resume continues", async () => {
    const dir = tmp()
    const long = Result.getOrThrow(applyOverrides(tiny(), { "phases[0].steps": "100000" }))
    writeFileSync(join(dir, "long.json"), Codec.toJson(long))
    const { spawn } = await import("node:child_process")
    const child = spawn(
      process.execPath,
      [
        "bin/retort.js",
        "run",
        join(dir, "long.json"),
        "--backend",
        "cpu",
        "--out",
        join(dir, "runs"),
        "--quiet",
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    )
    let stderr = ""
    child.stderr.on("data", (d) => {
      stderr += String(d)
    })
    const events = join(dir, "runs", "tiny", "events.jsonl")
    const started = Date.now()
    while (Date.now() - started < 100_000) {
      if (existsSync(events) && readFileSync(events, "utf8").includes('"StepMetrics"')) break
      await new Promise((r) => setTimeout(r, 200))
    }
    child.kill("SIGINT")
    const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)))
    expect(code).toBe(130)
    expect(stderr).toMatch(/writing a checkpoint/)
    expect(stderr).toMatch(/resume with --resume/)
    expect(existsSync(join(dir, "runs", "tiny", "checkpoint.bin"))).toBe(true)
    const lines = readFileSync(events, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
    expect(lines.some((e) => e._tag === "Checkpointed")).toBe(true)
  }, 180_000)
})
