import * as tf from "@tensorflow/tfjs-core"
import { beforeAll, describe, expect, it } from "vitest"
import deit, { make } from "../../pipelines/deit.js"
import {
  argmax,
  batch,
  crossEntropy,
  data,
  expectFiniteLosses,
  kl,
  observe,
  ofTag,
  rows,
  runSteps,
  shrink,
  softmax,
  tiny,
  useWasm,
  valid,
  watchedState,
} from "./support.js"

const small = (distillation: "hard" | "soft") =>
  shrink(make({ distillation, teacherEpochs: 1, studentEpochs: 1 }), {
    teacher: tiny.cnn(),
    student: tiny.vit(),
  })

describe("deit recipe", () => {
  beforeAll(useWasm)

  it("validates, hard and soft", () => {
    valid(deit)
    expect(deit.name).toBe("deit-hard")
    valid(make({ distillation: "soft", alpha: 0.3, temperature: 2 }))
  })

  it("trains end to end; student[logits+dist] is evaluated as the mean of the two heads' softmax", async () => {
    const n = 32
    const o = await observe(valid(small("hard")), {
      maxSteps: 3,
      evalLimit: n,
      inspect: ({ state }) =>
        tf.tidy(() => {
          const slot = state.models.get("student")!
          const x = tf.tensor4d(data.test.x.subarray(0, n * 784), [n, 28, 28, 1])
          const f = slot.built.apply(slot.params, x, { train: false, state: slot.state })
          return { cls: f.logits.dataSync(), dist: f.heads.dist!.dataSync() }
        }),
    })
    expectFiniteLosses(o.events)
    for (const s of ofTag(o.events, "StepMetrics").filter((e) => e.phase === "distil"))
      expect(Object.keys(s.terms).sort()).toEqual(["loss.cls", "loss.distil"])
    const m = o.phases[1]!.metrics
    for (const t of ["student", "student[dist]", "student[logits+dist]"])
      for (const k of ["accuracy", "nll", "ece"]) expect(Number.isFinite(m[`test/${t}/${k}`])).toBe(true)

    // recompute the averaged-heads metrics from the final weights
    const labels = data.test.y.subarray(0, n)
    const cls = rows(o.inspected.cls)
    const dist = rows(o.inspected.dist)
    const avg = cls.map((r, i) => softmax(r).map((p, j) => (p + softmax(dist[i]!)[j]!) / 2))
    const nll = avg.reduce((a, p, i) => a - Math.log(p[labels[i]!]!), 0) / n
    const acc = avg.reduce((a, p, i) => a + (argmax(p) === labels[i] ? 1 : 0), 0) / n
    expect(m["test/student[logits+dist]/nll"]).toBeCloseTo(nll, 4)
    expect(m["test/student[logits+dist]/accuracy"]).toBeCloseTo(acc, 6)
    // and the single heads are the heads alone
    expect(m["test/student/nll"]).toBeCloseTo(crossEntropy(cls, labels), 4)
    expect(m["test/student[dist]/nll"]).toBeCloseTo(crossEntropy(dist, labels), 4)
  })

  it("soft distillation trains too", async () => {
    const o = await observe(valid(small("soft")), { maxSteps: 2 })
    expectFiniteLosses(o.events)
  })

  it("hard: the class head learns the labels, the distillation head the teacher's argmax; soft: T²·KL on the distillation head", () => {
    for (const mode of ["hard", "soft"] as const) {
      const alpha = 0.5
      const p = make({ distillation: mode, alpha, temperature: 3 })
      const w = watchedState({ teacher: tiny.cnn(), student: tiny.vit() })
      const b = batch(16)
      const [losses] = runSteps(p.phases[1]!, w.state, 1, { batch: b })
      const t = w.calls.find((c) => c.model === "teacher")!
      const s = w.calls.find((c) => c.model === "student")!
      expect(t.options.train).toBe(false)
      const teacher = rows(t.heads.logits!)
      const clsHead = rows(s.heads.logits!)
      const distHead = rows(s.heads.dist!)
      const labels = b.labels.dataSync()
      const cls = crossEntropy(clsHead, labels)
      const distil = mode === "hard" ? crossEntropy(distHead, teacher.map(argmax)) : kl(teacher, distHead, 3)
      expect(losses!["loss.cls"]).toBeCloseTo(cls, 4)
      expect(losses!["loss.distil"]).toBeCloseTo(distil, 4)
      expect(losses!.loss).toBeCloseTo((1 - alpha) * cls + alpha * distil, 4)
      if (mode === "hard") {
        // the teacher's argmax is not the labels here (an untrained teacher), so the two targets differ
        expect(teacher.map(argmax)).not.toEqual([...labels])
        expect(Math.abs(distil - crossEntropy(distHead, labels))).toBeGreaterThan(1e-3)
      }
      b.x.dispose()
      b.labels.dispose()
      w.dispose()
    }
  })
})
