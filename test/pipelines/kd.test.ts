import { beforeAll, describe, expect, it } from "vitest"
import kd, { make } from "../../pipelines/kd.js"
import {
  batch,
  crossEntropy,
  expectFiniteLosses,
  kl,
  liveParams,
  maxDiff,
  observe,
  ofTag,
  paramsOf,
  rows,
  runSteps,
  shrink,
  tiny,
  useWasm,
  valid,
  watchedState,
} from "./support.js"

const small = (o: Parameters<typeof make>[0] = {}) =>
  shrink(make({ teacherEpochs: 1, studentEpochs: 1, ...o }), {
    teacher: tiny.cnn(),
    student: tiny.mlp(),
    baseline: tiny.mlp(),
  })

describe("kd recipe", () => {
  beforeAll(useWasm)

  it("validates, with its variants", () => {
    valid(kd)
    valid(make({ limit: 5000, student: "cnn", temperature: 2, alpha: 0.5, batchSize: 64 }))
  })

  it("trains end to end: teacher, distilled student, baseline; the teacher stays frozen while distilling", async () => {
    const o = await observe(valid(small()), { maxSteps: 3, snapshots: true })
    expectFiniteLosses(o.events)
    expect(o.phases.map((p) => p.phase)).toEqual(["teacher", "distil", "baseline"])
    const distil = ofTag(o.events, "StepMetrics").filter((e) => e.phase === "distil")
    expect(distil).toHaveLength(3)
    for (const s of distil) {
      expect(Object.keys(s.terms).sort()).toEqual(["loss.ce", "loss.kd"])
      // α = 0.9: L = 0.1·CE + 0.9·KD
      expect(s.loss).toBeCloseTo(0.1 * s.terms["loss.ce"]! + 0.9 * s.terms["loss.kd"]!, 5)
    }
    const m = o.phases[1]!.metrics
    for (const k of ["accuracy", "nll", "ece", "agreement"])
      expect(Number.isFinite(m[`test/student/${k}`])).toBe(true)
    expect(o.phases[2]!.metrics["test/baseline/accuracy"]).toBeGreaterThanOrEqual(0)

    // frozen teacher: its parameters after every distillation step are those it finished its own phase with
    const teacherEnd = o.snapshots.find((s) => s.phase === "teacher" && s.phaseEnd)!
    const during = o.snapshots.filter((s) => s.phase === "distil")
    expect(during.length).toBe(3)
    for (const s of during)
      expect(maxDiff(paramsOf(s.tensors, "teacher"), paramsOf(teacherEnd.tensors, "teacher"))).toBe(0)
    // … while the student moved
    const first = paramsOf(during[0]!.tensors, "student")
    const last = paramsOf(during.at(-1)!.tensors, "student")
    expect(maxDiff(first, last)).toBeGreaterThan(0)
  })

  it("the student's loss is (1−α)·CE(s, y) + α·T²·KL(softmax(t/T) ‖ softmax(s/T)) on the teacher's outputs", () => {
    for (const [alpha, T] of [
      [0.9, 4],
      [0.3, 2],
    ] as const) {
      const p = make({ alpha, temperature: T })
      const w = watchedState({ teacher: tiny.cnn(), student: tiny.mlp() })
      const b = batch(16)
      const teacherBefore = liveParams(w.state, "teacher")
      const [losses] = runSteps(p.phases[1]!, w.state, 1, { batch: b })
      const t = w.calls.find((c) => c.model === "teacher")!
      const s = w.calls.find((c) => c.model === "student")!
      expect(t.options.train).toBe(false) // frozen: evaluation mode
      expect(s.options.train).toBe(true)
      const labels = b.labels.dataSync()
      const ce = crossEntropy(rows(s.heads.logits!), labels)
      const kdValue = kl(rows(t.heads.logits!), rows(s.heads.logits!), T)
      expect(losses!["loss.ce"]).toBeCloseTo(ce, 4)
      expect(losses!["loss.kd"]).toBeCloseTo(kdValue, 4)
      expect(losses!.loss).toBeCloseTo((1 - alpha) * ce + alpha * kdValue, 4)
      // the teacher's parameters are not updated by the step
      expect(maxDiff(liveParams(w.state, "teacher"), teacherBefore)).toBe(0)
      b.x.dispose()
      b.labels.dispose()
      w.dispose()
    }
  })
})
