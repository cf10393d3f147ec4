import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result, Schema } from "effect"
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest"
import { Codec, Loss, type Pipeline, Step } from "../../dsl/index.js"
import procKd, { make } from "../../pipelines/proc-kd.js"
import { Reporter } from "../../src/report/Reporter.js"
import { run } from "../../src/runtime/Run.js"
import { synthetic } from "../support/data.js"
import { expectFiniteLosses, observe, ofTag, shrink, tiny, useWasm, valid } from "./support.js"

/** The labels of every training batch the runner gathers, in order. */
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

const A = [0, 1, 2, 3, 4]
const B = [5, 6, 7, 8, 9]
const inA = (c: number) => A.includes(c)

/** The band data set: 160 training images of all 10 classes, 200 test images. */
const bands = () => synthetic({ train: 160, test: 200, seed: 3 })

const small = (o: Parameters<typeof make>[0] = {}) =>
  shrink(make({ teacherEpochs: 1, studentEpochs: 1, limit: 40, ...o }), {
    teacher: tiny.cnn(),
    student: tiny.cnn(),
    baseline: tiny.cnn(),
    randomTeacher: tiny.cnn(),
    controlStudent: tiny.cnn(),
  })

describe("proc-kd recipe", () => {
  beforeAll(useWasm)
  beforeEach(() => {
    gathered.length = 0
  })

  it("validates and round-trips; the teacher and the students see disjoint classes", () => {
    valid(procKd)
    for (const distance of ["mse", "cosine"] as const) {
      const p = valid(make({ distance, seed: 2, lambda: 0.5, tap: "dense0", student: "cnn" }))
      const back = Codec.fromJson(Codec.toJson(p))
      expect(Result.isSuccess(back) && back.success).toEqual(p)
    }
    expect(procKd.phases.map((p) => p.name)).toEqual(["teacher", "proc-kd", "baseline", "random-teacher"])
    expect(make({ control: false }).phases.map((p) => p.name)).toEqual(["teacher", "proc-kd", "baseline"])
    const [teacher, student, baseline, control] = procKd.phases
    expect(teacher!.data.classes).toEqual(A)
    expect(student!.data).toEqual({ classes: B, limit: 1000 })
    expect(baseline!.data).toEqual(student!.data)
    // the students are scored on their own classes only, the teacher on its own
    expect(student!.evaluate.splits).toEqual([{ split: "test", classes: B }])
    expect(teacher!.evaluate.splits).toEqual([{ split: "test", classes: A }])
    const stages = student!.step.stages
    expect(stages.find((s) => s._tag === "Forward" && s.model === "teacher")).toMatchObject({
      mode: "frozen",
      taps: ["flat"],
    })
    expect(stages.find((s) => s._tag === "Loss")).toMatchObject({
      terms: {
        proto: { _tag: "Prototype", student: "s.dense0", teacher: "t.flat", labels: "y", projection: true },
      },
      weights: { proto: 1 },
    })
    // the control: the same guided phase, from a never-trained teacher of the same architecture
    expect(control!.step.stages.find((s) => s._tag === "Forward" && s.mode === "frozen")).toMatchObject({
      model: "randomTeacher",
    })
    expect(procKd.models.randomTeacher).toEqual(procKd.models.teacher)
    expect(
      procKd.phases.some((ph) =>
        ph.step.stages.some((s) => s._tag === "Optimize" && s.models.includes("randomTeacher")),
      ),
    ).toBe(false)
    // the baseline reads no teacher
    expect(baseline!.step.stages.some((s) => s._tag === "Forward" && s.model === "teacher")).toBe(false)
  })

  it("the prototype term: defaults, describe, codec round trip", () => {
    const p = Loss.prototype({ student: "s.dense0", teacher: Loss.detach("t.flat") })
    expect(p).toEqual({
      _tag: "Prototype",
      student: "s.dense0",
      teacher: { _tag: "Detach", name: "t.flat" },
      labels: "y",
      distance: "mse",
      projection: true,
    })
    expect(Loss.describe(p)).toBe("prototype(s.dense0 (proj) → μ_y(sg(t.flat)), mse)")
    const c = Loss.prototype({
      student: "s",
      teacher: "t",
      distance: "cosine",
      projection: false,
      labels: "yy",
    })
    expect(Loss.describe(c)).toBe("prototype(s → μ_yy(t), cosine)")
    expect(Loss.operands(c).map((o) => o.role)).toEqual(["student", "teacher", "labels"])
    for (const term of [p, c]) {
      const json = JSON.parse(JSON.stringify(Schema.encodeSync(Loss.schema)(term)))
      expect(Schema.decodeUnknownSync(Loss.schema)(json)).toEqual(term)
    }
    expect(() => Schema.decodeUnknownSync(Loss.schema)({ ...p, teacher: "t.flat", distance: "l1" })).toThrow()
  })

  it("a prototype term reading a name no stage wrote is a type error", () => {
    const base = Step.start.pipe(
      Step.forward("teacher", { as: "t", mode: "frozen", taps: ["flat"] }),
      Step.forward("student", { as: "s", taps: ["dense0"] }),
    )
    const ok = base.pipe(Step.loss({ proto: Loss.prototype({ student: "s.dense0", teacher: "t.flat" }) }))
    expect(ok.stages).toHaveLength(3)
    // @ts-expect-error "t.dense0" is unwritten: the teacher's forward tapped only "flat"
    base.pipe(Step.loss({ proto: Loss.prototype({ student: "s.dense0", teacher: "t.dense0" }) }))
    const soft = Loss.prototype({ student: "s.dense0", teacher: "t.flat", labels: "soft" })
    // @ts-expect-error "soft" is unwritten
    base.pipe(Step.loss({ proto: soft }))
  })

  it("validation refuses unknown operands and different widths without a projection", () => {
    const withTerm = (term: Loss.Loss) => {
      const p = small()
      const ph = p.phases[1]!
      const step = Step.make(
        ph.step.stages.map((s) => (s._tag === "Loss" ? { ...s, terms: { proto: term }, weights: {} } : s)),
      )
      return { ...p, phases: [p.phases[0]!, { ...ph, step }, p.phases[2]!] } as Pipeline.Pipeline
    }
    const issues = (p: Pipeline.Pipeline) => {
      const r = Codec.validate(p)
      return Result.isFailure(r) ? r.failure.issues.map((i) => `${i.path}: ${i.message}`) : []
    }
    expect(issues(withTerm(Loss.prototype({ student: "s.dense0", teacher: "t.flat" })))).toEqual([])
    const unknown = issues(withTerm(Loss.prototype({ student: "s.dense0", teacher: "t.nope" })))
    expect(unknown.some((m) => m.includes("terms.proto.teacher") && m.includes("t.nope"))).toBe(true)
    // tiny CNN: dense0 is 8 wide, flat is 7·7·4 = 196
    const widths = issues(
      withTerm(Loss.prototype({ student: "s.dense0", teacher: "t.flat", projection: false })),
    )
    expect(widths).toEqual([
      "phases[1].step.stages[2].terms.proto: prototype compares features of different sizes (8 vs 196); set projection: true to learn a projection",
    ])
    expect(
      issues(
        withTerm(
          Loss.prototype({ student: "s.dense0", teacher: Loss.detach("s.dense0"), projection: false }),
        ),
      ),
    ).toEqual([])
  })

  it("trains every phase on tiny models; the teacher sees only classes A, the students only B; the prototypes count B's images", async () => {
    const d = bands()
    const nA = [...d.train.y].filter(inA).length
    const nB = Math.min(40, [...d.train.y].filter((c) => !inA(c)).length)
    const o = await observe(valid(small()), { data: d, snapshots: true })
    expectFiniteLosses(o.events)
    // batches in phase order: the teacher's nA images of A, then 3 × nB of B (one epoch each)
    expect(gathered).toHaveLength(nA + 3 * nB)
    expect(gathered.slice(0, nA).every(inA)).toBe(true)
    expect(gathered.slice(nA).some(inA)).toBe(false)
    expect(new Set(gathered.slice(nA))).toEqual(new Set(B))
    const steps = ofTag(o.events, "StepMetrics")
    for (const s of steps.filter((e) => e.phase === "proc-kd")) {
      expect(Object.keys(s.terms).sort()).toEqual(["loss.ce", "loss.proto"])
      expect(s.terms["loss.proto"]!).toBeGreaterThan(0)
    }
    for (const s of steps.filter((e) => e.phase === "baseline"))
      expect(Object.keys(s.terms)).toEqual(["loss.ce"])
    // the running prototypes (checkpointed): every student image counted once, in its class
    const last = o.snapshots.filter((s) => s.phase === "proc-kd").at(-1)!
    const count = last.tensors.get("prototype/1/2/proto/count")!
    const sum = last.tensors.get("prototype/1/2/proto/sum")!
    expect(count.shape).toEqual([10])
    expect(sum.shape).toEqual([10, 196])
    const seen = Array.from(
      { length: 10 },
      (_, c) => gathered.slice(nA, nA + nB).filter((y) => y === c).length,
    )
    expect(Array.from(count.values)).toEqual(seen)
    for (const c of A) expect(sum.values.subarray(c * 196, (c + 1) * 196).every((v) => v === 0)).toBe(true)
    // the projection 8 → 196 is trained with the student
    expect(last.tensors.get("projection/1/2/proto/kernel")!.shape).toEqual([8, 196])
    // students scored on B's test images, the teacher on A's
    const acc = (i: number, key: string) => o.phases[i]!.metrics[key]!
    for (const [i, key] of [
      [0, "test@c0+1+2+3+4/teacher/accuracy"],
      [1, "test@c5+6+7+8+9/student/accuracy"],
      [2, "test@c5+6+7+8+9/baseline/accuracy"],
      [3, "test@c5+6+7+8+9/controlStudent/accuracy"],
    ] as const) {
      expect(acc(i, key)).toBeGreaterThanOrEqual(0)
      expect(acc(i, key)).toBeLessThanOrEqual(1)
    }
  }, 120_000)

  it("a run stopped inside the proc-kd phase resumes (prototypes restored) to the uninterrupted numbers", async () => {
    const d = bands()
    const p = valid(small())
    const root = mkdtempSync(join(tmpdir(), "proc-kd-resume-"))
    const go = (options: { readonly name?: string; readonly stopAfter?: number; readonly resume?: string }) =>
      Effect.runPromise(
        Effect.result(
          run(p, {
            backend: "wasm",
            data: d,
            outDir: root,
            evalLimit: 32,
            reporter: Reporter.memory([]),
            ...options,
          }),
        ),
      )
    try {
      const whole = await go({ name: "whole" })
      expect(Result.isSuccess(whole)).toBe(true)
      // two steps into the proc-kd phase: the prototypes hold two batches when the run stops
      const teacherSteps = Math.ceil([...d.train.y].filter(inA).length / 16)
      const stopped = await go({ name: "stopped", stopAfter: teacherSteps + 2 })
      expect(Result.isFailure(stopped)).toBe(true)
      const resumed = await go({ resume: join(root, "stopped") })
      expect(Result.isSuccess(resumed)).toBe(true)
      const metrics = (r: typeof whole) =>
        Result.isSuccess(r) ? r.success.phases.map((ph) => ph.metrics) : []
      expect(metrics(resumed)).toEqual(metrics(whole))
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  }, 120_000)
})
