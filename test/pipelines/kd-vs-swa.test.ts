import { beforeAll, describe, expect, it } from "vitest"
import { Compute, type Pipeline } from "../../dsl/index.js"
import kdVsSwa, { kd, make } from "../../pipelines/kd-vs-swa.js"
import { expectFiniteLosses, observe, ofTag, tiny, useWasm, valid } from "./support.js"

/** The recipe with the tiny models of the tests (batch sizes kept: they are part of the count). */
const small = (p: Pipeline.Pipeline): Pipeline.Pipeline => ({
  ...p,
  models: Object.fromEntries(
    Object.keys(p.models).map((k) => [k, k === "teacher" ? tiny.cnn() : tiny.mlp()]),
  ),
})

describe("kd-vs-swa recipe", () => {
  beforeAll(useWasm)

  it("validates; the SWA side spends KD's forward + backward passes to within one step", () => {
    valid(kdVsSwa)
    valid(kd())
    for (const n of [60000, 8000, 64]) {
      const o = { trainImages: n, limit: Math.min(5000, n / 2) }
      const a = Compute.total(Compute.pipeline(kd(o), n))
      const b = Compute.total(Compute.pipeline(make(o), n))
      const perStep = 2 * Math.min(128, o.limit)
      expect(a - b, `n = ${n}`).toBeGreaterThanOrEqual(0)
      expect(a - b, `n = ${n}`).toBeLessThan(perStep)
    }
    // on Fashion-MNIST: the teacher's 2 epochs on 60,000 and its forward on every student sample
    // are what the SWA phase gets to spend beyond the 15 Adam epochs
    const swaPhase = kdVsSwa.phases[1]!
    expect(swaPhase.epochs).toBeUndefined()
    expect(swaPhase.steps).toBe(
      Math.floor((Compute.total(Compute.pipeline(kd(), 60000)) - 40 * 128 * 15 * 2) / 256),
    )
  })

  it("trains both sides on real steps; the runner runs the steps the pass count assumes", async () => {
    const o = { trainImages: 64, limit: 32, teacherEpochs: 1, studentEpochs: 1 }
    for (const p of [kd(o), make(o)]) {
      const run = await observe(valid(small(p)))
      expectFiniteLosses(run.events)
      const started = ofTag(run.events, "PhaseStarted")
      expect(started.map((e) => e.steps)).toEqual(
        p.phases.map((ph) => Compute.plan(ph, Math.min(64, ph.data.limit ?? 64)).total),
      )
    }
    const swa = await observe(valid(small(make(o))))
    // the SWA side's averaging phase really is longer than its labels phase: KD's teacher costs
    const [train, average] = ofTag(swa.events, "PhaseStarted")
    expect(average!.steps).toBeGreaterThan(train!.steps)
    expect(Number.isFinite(swa.phases[1]!.metrics["test/student_swa/accuracy"])).toBe(true)
  })
})
