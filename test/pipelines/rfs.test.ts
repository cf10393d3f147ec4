import { Effect } from "effect"
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest"
import { FewShot, Optimizer, Phase, Step } from "../../dsl/index.js"
import rfs, { make } from "../../pipelines/rfs.js"
import * as FewShotRun from "../../src/runtime/FewShot.js"
import { synthetic } from "../support/data.js"
import { expectFiniteLosses, observe, ofTag, shrink, tiny, useWasm, valid } from "./support.js"

/** The labels of every training batch the runner gathers (and of the teacher cache's batches). */
const gathered = vi.hoisted(() => [] as Array<number>)
vi.mock("../../src/data/Batches.js", async (importOriginal) => {
  const mod = await importOriginal<typeof import("../../src/data/Batches.js")>()
  return {
    ...mod,
    gather: (...args: Parameters<typeof mod.gather>) => {
      const g = mod.gather(...args)
      gathered.push(...g.y)
      return g
    },
  }
})

const base = [0, 1, 2, 3, 4]
const isBase = (c: number) => base.includes(c)

/** The band data set: 160 training images of all 10 classes, 200 test images (~20 per class). */
const bands = () => synthetic({ train: 160, test: 200, seed: 3 })

const small = () => {
  const p = shrink(make({ epochs: 1 }), { gen0: tiny.cnn(), gen1: tiny.cnn() })
  const fs = FewShot.make({
    classes: [5, 6, 7, 8, 9],
    tap: "dense0",
    shots: [1, 2],
    queries: 3,
    episodes: 20,
    probes: ["logistic", "centroid"],
  })
  return { ...p, phases: p.phases.map((ph) => ({ ...ph, evaluate: { ...ph.evaluate, fewShot: fs } })) }
}

describe("RFS recipe", () => {
  beforeAll(useWasm)
  beforeEach(() => {
    gathered.length = 0
  })

  it("validates, with its variants", () => {
    valid(rfs)
    valid(make({ epochs: 1, base: [1, 3, 5, 7, 9], temperature: 2, episodes: 50, limit: 1000 }))
    expect(rfs.phases.map((p) => p.name)).toEqual(["gen0", "gen1"])
    expect(rfs.phases[1]!.init).toEqual({ gen1: { _tag: "Fresh" } })
  })

  it("the base-class slice holds only base-class images, all of them, in order", () => {
    const d = bands()
    const s = Effect.runSync(FewShotRun.onlyClasses(d.train, base, 10, "p"))
    const expected = [...d.train.y].filter(isBase)
    expect([...s.y]).toEqual(expected)
    expect(s.n).toBe(expected.length)
    const first = [...d.train.y].findIndex(isBase)
    expect([...s.x.subarray(0, 784)]).toEqual([...d.train.x.subarray(first * 784, (first + 1) * 784)])
    expect(Effect.runSyncExit(FewShotRun.onlyClasses(d.train, [10], 10, "p"))._tag).toBe("Failure")
  })

  it("trains both generations on the base classes only and reports few-shot accuracy with its CI on the novel ones", async () => {
    const d = bands()
    const nBase = [...d.train.y].filter(isBase).length
    const o = await observe(valid(small()), { data: d })
    expectFiniteLosses(o.events)
    // no batch ever held a novel-class label …
    expect(gathered.length).toBeGreaterThanOrEqual(2 * nBase)
    expect(gathered.filter((y) => !isBase(y))).toEqual([])
    expect(new Set(gathered)).toEqual(new Set(base))
    // … and each phase ran over exactly the base-class images (batch 16, one epoch)
    for (const s of ofTag(o.events, "PhaseStarted")) expect(s.steps).toBe(Math.ceil(nBase / 16))
    for (const s of ofTag(o.events, "StepMetrics").filter((e) => e.phase === "gen1"))
      expect(Object.keys(s.terms).sort()).toEqual(["loss.ce", "loss.kd"])
    for (const [i, g] of ["gen0", "gen1"].entries()) {
      const m = o.phases[i]!.metrics
      for (const name of ["fewshot-5w1s", "fewshot-5w2s", "fewshot-5w1s-centroid", "fewshot-5w2s-centroid"]) {
        const acc = m[`test/${g}/${name}/accuracy`]!
        const ci = m[`test/${g}/${name}/ci95`]!
        expect(acc).toBeGreaterThanOrEqual(0)
        expect(acc).toBeLessThanOrEqual(1)
        expect(ci).toBeGreaterThan(0)
        expect(ci).toBeLessThan(0.5)
      }
      // only few-shot metrics: the recipe evaluates no split of all classes
      expect(Object.keys(m).every((k) => k.includes("/fewshot-"))).toBe(true)
    }
  })

  it("every phase is scored on the same episodes: an unchanged copy of gen0 gets gen0's numbers", async () => {
    const p = small()
    const copyPhase = {
      ...p.phases[1]!,
      init: { gen1: Phase.copy("gen0") },
      // lr 0: gen1 stays the exact copy of gen0
      step: Step.make(
        p.phases[1]!.step.stages.map((st) =>
          st._tag === "Optimize" ? { ...st, optimizer: Optimizer.adam({ lr: 0 }) } : st,
        ),
      ),
    }
    const o = await observe(valid({ ...p, phases: [p.phases[0]!, copyPhase] }), { data: bands() })
    const [g0, g1] = [o.phases[0]!.metrics, o.phases[1]!.metrics]
    // 2 shot counts × 2 probes × (accuracy, ci95)
    expect(Object.keys(g0)).toHaveLength(8)
    for (const k of Object.keys(g0)) expect(g1[k.replace("/gen0/", "/gen1/")]).toBe(g0[k])
  })

  it("fails with a ValidationError when a novel class has too few test images for an episode", async () => {
    const d = bands()
    const p = small()
    const big = {
      ...p,
      phases: p.phases.map((ph) => ({
        ...ph,
        evaluate: { ...ph.evaluate, fewShot: { ...ph.evaluate.fewShot!, queries: 200 } },
      })),
    }
    await expect(observe(big, { data: d, maxSteps: 1 })).rejects.toMatchObject({ _tag: "ValidationError" })
  })
})
