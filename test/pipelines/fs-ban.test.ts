import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { Step } from "../../dsl/index.js"
import { sweep, temperatures } from "../../experiments/fs-ban.js"
import fsBan, { make, type Options, temperaturePath } from "../../pipelines/fs-ban.js"
import * as Sweeps from "../../src/sweep/Sweep.js"
import {
  expectFiniteLosses,
  maxDiff,
  observe,
  ofTag,
  paramsOf,
  shrink,
  tiny,
  useWasm,
  valid,
} from "./support.js"

/** The recipe on tiny MLPs, 48 training and 16 validation images of the synthetic set. */
const small = (o: Options) => {
  const p = shrink(make({ teacherEpochs: 1, studentEpochs: 2, limit: 48, validation: 16, ...o }), {
    gen0: tiny.mlp(),
    gen1: tiny.mlp(),
  })
  return valid(p)
}

describe("fs-ban recipe", () => {
  beforeAll(useWasm)

  it("validates and round-trips in every variant; the generation loss is CE + 0.8 · symmetric KL at T", () => {
    valid(fsBan)
    for (const temperature of ["learned", 1, 4] as const)
      for (const mutual of [false, true]) valid(make({ temperature, mutual }))
    const d = (o: Options) => Step.describe(make(o).phases[1]!.step).join("\n")
    expect(d({ temperature: 2 })).toMatch(/1·ce\(s, y\) \[ce\] \+ 0\.8·kl\(t ‖ₛ s, T=2\) \[js\]/)
    expect(d({ temperature: 2 })).toMatch(/forward gen0 \(frozen\)/)
    expect(d({ temperature: 2 })).not.toMatch(/learn/)
    expect(d({ temperature: 2, mutual: true })).not.toMatch(/frozen/)
    expect(d({ temperature: 2, mutual: true })).toMatch(/optimize gen1, gen0/)
    expect(d({ temperature: "learned" })).toMatch(/T=learned\(T\)/)
    expect(d({ temperature: "learned" })).toMatch(/learn T by look-ahead/)
    expect(make({ temperature: "learned" }).params).toEqual({
      T: { _tag: "Param", init: 4, constraint: { _tag: "Positive", min: 0.5 } },
    })
    expect(make({ temperature: 4 }).params).toBeUndefined()
  })

  it("the temperature sweep sets the fixed T of the generation loss", async () => {
    const plan = await Effect.runPromise(Sweeps.plan(sweep))
    expect(plan.variants.map((v) => v.variant.overrides[temperaturePath])).toEqual([...temperatures])
    for (const v of plan.variants) {
      const term = (
        v.pipeline.phases[1]!.step.stages[2] as unknown as { terms: { js: { temperature: number } } }
      ).terms.js
      expect(term.temperature).toBe(v.variant.overrides[temperaturePath])
    }
    expect(plan.key).toMatch(/validation\/gen1\/accuracy/)
  })

  it("trains end to end: a learned T moves and is reported; mutual regularisation trains the teacher, else it stays put", async () => {
    for (const mutual of [false, true]) {
      const o = await observe(small({ temperature: "learned", mutual }), { snapshots: true })
      expectFiniteLosses(o.events)
      const steps = ofTag(o.events, "StepMetrics").filter((s) => s.phase === "gen1")
      const ts = steps.map((s) => s.hyper["learned.T"]!)
      expect(ts.every(Number.isFinite)).toBe(true)
      expect(new Set(ts.map((t) => t.toFixed(6))).size).toBeGreaterThan(1)
      const gen1 = o.phases.find((p) => p.phase === "gen1")!
      expect(gen1.metrics["learned/T"]).toBeCloseTo(ts.at(-1)!, 5)
      expect(gen1.metrics["validation/gen1/accuracy"]).toBeGreaterThanOrEqual(0)
      // the teacher's weights across gen1's steps: trained with mutual regularisation, else frozen
      const during = o.snapshots.filter((s) => s.phase === "gen1")
      const moved = maxDiff(paramsOf(during[0]!.tensors, "gen0"), paramsOf(during.at(-1)!.tensors, "gen0"))
      if (mutual) expect(moved).toBeGreaterThan(1e-6)
      else expect(moved).toBe(0)
    }
  }, 60_000)
})
