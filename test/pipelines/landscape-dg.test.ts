import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Step } from "../../dsl/index.js"
import { metrics, probe } from "../../experiments/landscape-dg.js"
import { type Experiment, execute, verdictOf } from "../../experiments/lib.js"
import landscapeDg, { type Configuration, configurations, make } from "../../pipelines/landscape-dg.js"
import { useWasm, valid } from "./support.js"

describe("landscape-dg recipe", () => {
  const dir = mkdtempSync(join(tmpdir(), "retort-landscape-dg-"))
  beforeAll(useWasm)
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("every configuration validates and round-trips, trains on 0°–60° and evaluates on 75°", () => {
    valid(landscapeDg)
    const names = Object.keys(configurations) as Array<Configuration>
    expect(names.length).toBeGreaterThanOrEqual(8)
    for (const name of names) {
      const p = valid(make({ configuration: name }))
      expect(p.name).toBe(`landscape-dg-${name}`)
      const ph = p.phases[0]!
      expect(ph.data.domains).toEqual([0, 1, 2, 3, 4])
      expect(ph.evaluate.splits.map((s) => s.domains)).toEqual([[5], [0, 1, 2, 3, 4]])
    }
    // each regulariser is in the step or the model it names, and nowhere else
    const step = (c: Configuration) => Step.describe(make({ configuration: c }).phases[0]!.step).join("\n")
    expect(step("cnn-smoothing")).toMatch(/smoothing=0\.1/)
    expect(step("cnn")).not.toMatch(/smoothing/)
    expect(step("cnn-augment")).toMatch(/rotate/)
    expect(step("cnn")).not.toMatch(/rotate/)
    const opt = (c: Configuration) => make({ configuration: c }).phases[0]!.step.stages.at(-1)!
    expect(JSON.stringify(opt("cnn-wd"))).toContain('"weightDecay":0.001')
    expect(JSON.stringify(opt("cnn-lr3e-3"))).toContain('"lr":0.003')
    expect(make({ configuration: "cnn-bn" }).models.net).toMatchObject({ batchNorm: true })
    expect(make({ configuration: "mlp-dropout" }).models.net).toMatchObject({ _tag: "Mlp", dropout: 0.3 })
  })

  it("trains tiny runs, probes each minimum's sharpness from its run directory, and judges the rank correlation", async () => {
    const arm = (name: Configuration) => ({
      name,
      pipeline: (seed: number) => make({ configuration: name, seed, source: "mnist", epochs: 1, limit: 400 }),
      metrics,
      probe,
    })
    const exp: Experiment = {
      name: "landscape-dg-tiny",
      title: "t",
      claim: "c",
      setting: "s.",
      budget: "b",
      seeds: [1],
      arms: [arm("mlp"), arm("mlp-dropout"), arm("cnn-augment")],
      correlation: { x: "eps-sharpness", y: "heldout-accuracy", expect: "negative", logX: true },
    }
    const r = await execute(exp, { outDir: dir, backend: "wasm", quick: true, log: () => {} })
    for (const a of ["mlp", "mlp-dropout", "cnn-augment"]) {
      const m = r.values[a]!
      expect(m["heldout-accuracy"]![0]).toBeGreaterThanOrEqual(0)
      expect(m["heldout-accuracy"]![0]).toBeLessThanOrEqual(1)
      expect(m["seen-accuracy"]![0]).toBeGreaterThan(0.1) // above chance after 20 steps
      expect(m.lambdaMax![0]).toBeGreaterThan(0)
      expect(m["eps-sharpness"]![0]).toBeGreaterThanOrEqual(0)
      expect(Number.isFinite(m["train-loss"]![0])).toBe(true)
    }
    // the probe reads the checkpoint: the same run directory gives the same numbers
    const again = await probe(join(dir, "landscape-dg-tiny", "mlp-seed1"))
    expect(again.lambdaMax).toBeCloseTo(r.values.mlp!.lambdaMax![0]!, 4)
    expect(again["train-loss"]).toBeCloseTo(r.values.mlp!["train-loss"]![0]!, 6)
    expect(verdictOf(exp, r.values).gap).toMatch(/^ρ = -?\d\.\d\d \(one-sided p = [\d.]+, n = 3 arms\)$/)
  }, 240_000)
})
