import { beforeAll, describe, expect, it } from "vitest"
import { Ramp } from "../../dsl/index.js"
import cyclical, { type Knob, make } from "../../pipelines/cyclical.js"
import * as CompiledStep from "../../src/compile/step.js"
import {
  batch,
  expectFiniteLosses,
  kl,
  observe,
  ofTag,
  rows,
  shrink,
  tiny,
  useWasm,
  valid,
  watchedState,
} from "./support.js"

const small = (which?: ReadonlyArray<Knob>) =>
  shrink(make({ teacherEpochs: 1, studentEpochs: 3, ...(which !== undefined ? { which } : {}) }), {
    teacher: tiny.cnn(),
    student: tiny.mlp(),
  })

const ramps = {
  weightDecay: Ramp.easyHardEasy({ low: 1e-5, high: 5e-4 }),
  "kd.temperature": Ramp.easyHardEasy({ low: 8, high: 2 }),
  clipNorm: Ramp.easyHardEasy({ low: 10, high: 1 }),
}

describe("cyclical recipe", () => {
  beforeAll(useWasm)

  it("validates, with each knob alone, all, or none", () => {
    valid(cyclical)
    expect(cyclical.name).toBe("cyclical-weightDecay+temperature+clip")
    for (const which of [[], ["weightDecay"], ["temperature"], ["clip"]] as const) valid(make({ which }))
    expect(make({ which: [] }).name).toBe("cyclical-constant")
  })

  it("weight decay, temperature and clip norm follow easy → hard → easy over the phase, as reported by the step events", async () => {
    const steps = 12
    const o = await observe(valid(small()), { maxSteps: steps })
    expectFiniteLosses(o.events)
    const distil = ofTag(o.events, "StepMetrics").filter((e) => e.phase === "distil")
    expect(distil).toHaveLength(steps)
    for (const [key, ramp] of Object.entries(ramps)) {
      const series = distil.map((e) => e.hyper[key]!)
      // each step reports its hyper-parameters at the clock it ran with: progress (step − 1)/steps
      distil.forEach((e, i) => {
        expect(e.hyper[key]).toBeCloseTo(Ramp.evaluate(ramp, { step: i, epoch: 0, progress: i / steps }), 10)
      })
      // CFL's shape (fc = 4): easy → hard over the first quarter, then back to easy over the rest
      const harder = (a: number, b: number) => (key === "weightDecay" ? a > b : a < b)
      const peak = steps / 4
      for (let i = 1; i <= peak; i++) expect(harder(series[i]!, series[i - 1]!)).toBe(true)
      for (let i = peak + 1; i < steps; i++) expect(harder(series[i - 1]!, series[i]!)).toBe(true)
      expect(series[peak]).toBe(key === "weightDecay" ? 5e-4 : key === "clipNorm" ? 1 : 2)
    }
    expect(distil[0]!.hyper.weightDecay).toBe(1e-5)
    expect(distil[0]!.hyper["kd.temperature"]).toBe(8)
    expect(distil[0]!.hyper.clipNorm).toBe(10)
  })

  it("with no knob the values are constant", async () => {
    const o = await observe(valid(small([])), { maxSteps: 4 })
    const distil = ofTag(o.events, "StepMetrics").filter((e) => e.phase === "distil")
    for (const e of distil) {
      expect(e.hyper.weightDecay).toBe(1e-4)
      expect(e.hyper.clipNorm).toBe(5)
      expect(e.hyper["kd.temperature"]).toBeUndefined() // constants are not reported as schedules
    }
  })

  it("the temperature in force is the one the KD term uses", () => {
    const phase = make({ which: ["temperature"] }).phases[1]!
    for (const progress of [0, 0.1, 0.5, 0.9]) {
      const w = watchedState({ teacher: tiny.cnn(), student: tiny.mlp() })
      const b = batch(8)
      const step = CompiledStep.compile(phase, 1, w.state, 10)
      const r = step.run(b, {
        clock: { step: 0, epoch: 0, progress },
        seed: 3,
        endOfEpoch: false,
        metrics: true,
      })
      const kd = r.losses["loss.kd"]!.dataSync()[0]!
      for (const t of new Set(Object.values(r.losses))) t.dispose()
      const T = Ramp.evaluate(ramps["kd.temperature"], { step: 0, epoch: 0, progress })
      expect(step.hyper({ step: 0, epoch: 0, progress })["kd.temperature"]).toBe(T)
      const t = w.calls.find((c) => c.model === "teacher")!
      const s = w.calls.find((c) => c.model === "student")!
      expect(kd).toBeCloseTo(kl(rows(t.heads.logits!), rows(s.heads.logits!), T), 4)
      b.x.dispose()
      b.labels.dispose()
      w.dispose()
    }
  })
})
