import * as tf from "@tensorflow/tfjs-core"
import { Effect, Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { Codec, Model, Step, Watermark } from "../../dsl/index.js"
import watermarkRecipe, { make } from "../../pipelines/watermark.js"
import * as CompiledStep from "../../src/compile/step.js"
import * as Watermarking from "../../src/compile/watermark.js"
import * as WatermarkProbe from "../../src/probes/Watermark.js"
import { synthetic } from "../support/data.js"
import {
  batch,
  expectFiniteLosses,
  observe,
  ofTag,
  shrink,
  tiny,
  useWasm,
  valid,
  watchedState,
} from "./support.js"

const data = synthetic({ train: 1024, test: 512, seed: 19 })
let key: Watermark.Watermark

describe("watermark recipe", () => {
  beforeAll(async () => {
    await useWasm()
    key = Watermarking.calibrate(
      Watermark.make({ seed: 5, frequency: 8 * Math.PI, epsilon: 0.1 }),
      data.train.x,
      [28, 28, 1],
    )
  })

  it("validates, exports and round-trips through JSON, with either control", () => {
    valid(watermarkRecipe)
    valid(make({ control: "labels", key }))
    const back = Codec.fromJson(Codec.toJson(make({ key })))
    expect(Result.isSuccess(back) && back.success).toEqual(make({ key }))
    const forward = make({ key }).phases[1]!.step.stages[0]!
    expect(forward).toMatchObject({ _tag: "Forward", mode: "frozen", watermark: key })
  })

  it("refuses a watermark on a trainable forward and bad key parameters, with paths", () => {
    const p = make({ key })
    const bad = {
      ...p,
      phases: [
        p.phases[0]!,
        {
          ...p.phases[1]!,
          step: Step.make([
            {
              ...(p.phases[1]!.step.stages[0] as Step.Forward),
              mode: "train" as const,
              watermark: { ...key, epsilon: 3 },
            },
            ...p.phases[1]!.step.stages.slice(1),
          ]),
        },
        p.phases[2]!,
      ],
    }
    const r = Codec.validate(bad)
    expect(Result.isFailure(r)).toBe(true)
    const messages = Result.isFailure(r) ? r.failure.issues.map((i) => `${i.path}: ${i.message}`) : []
    expect(messages.some((m) => m.includes("watermark") && m.includes('mode "frozen"'))).toBe(true)
    expect(messages.some((m) => m.includes("watermark.epsilon"))).toBe(true)
  })

  it("the watermark is applied to cached teacher logits too: the same KD loss with and without the cache", () => {
    const models = { teacher: tiny.mlp(), student: tiny.mlp() }
    const b = { ...batch(16), indices: Array.from({ length: 16 }, (_, i) => i) }
    const kdOf = (phase: ReturnType<typeof make>["phases"][number], cached: boolean) => {
      const w = watchedState(models)
      const t = w.state.models.get("teacher")!
      const logits = tf.tidy(
        () => t.built.apply(t.params, b.x, { train: false, state: t.state }).logits as tf.Tensor2D,
      )
      const cache: CompiledStep.TeacherCache = {
        logits: (stage) => (stage === 0 ? (tf.clone(logits) as tf.Tensor2D) : undefined),
      }
      const step = CompiledStep.compile(phase, 1, w.state, 10, cached ? cache : undefined)
      const r = step.run(b, {
        clock: { step: 0, epoch: 0, progress: 0 },
        seed: 7,
        endOfEpoch: false,
        metrics: true,
      })
      const kd = r.losses["loss.kd"]!.dataSync()[0]!
      for (const v of new Set(Object.values(r.losses))) v.dispose()
      logits.dispose()
      w.dispose()
      return kd
    }
    const marked = make({ key }).phases[1]!
    const clean = {
      ...marked,
      step: Step.make(
        marked.step.stages.map((st) => {
          if (st._tag !== "Forward") return st
          const { watermark: _, ...rest } = st
          return rest
        }),
      ),
    }
    const live = kdOf(marked, false)
    expect(kdOf(marked, true)).toBeCloseTo(live, 5)
    expect(Math.abs(kdOf(clean, false) - live)).toBeGreaterThan(1e-3)
    b.x.dispose()
    b.labels.dispose()
  })

  it("the detector fires on the student distilled from the watermarked teacher, not on the control", async () => {
    const pipeline = shrink(
      make({ key, teacherEpochs: 2, studentEpochs: 12, control: "labels" }),
      {
        teacher: tiny.mlp(),
        student: Model.mlp({ hidden: [64], classes: 10 }),
        control: Model.mlp({ hidden: [64], classes: 10 }),
      },
      { batchSize: 64 },
    )
    const o = await observe(valid(pipeline), {
      data,
      evalLimit: 512,
      logEvery: 50,
      teacherCache: true,
      inspect: (r) =>
        Effect.runPromise(
          Effect.all(
            ["student", "control"].map((m) => {
              const slot = r.state.models.get(m)!
              // queried on the attacker's transfer set (the training images): on 1,024 synthetic
              // images the student memorises the signal there rather than learning it as a
              // function of new images (held-out detection is what the experiment measures)
              return WatermarkProbe.detect(slot.built, key, data.train, [28, 28, 1], {
                params: slot.params,
                state: slot.state,
              })
            }),
          ),
        ),
    })
    expectFiniteLosses(o.events)
    const [student, control] = o.inspected
    expect(student!.pValue).toBeLessThan(1e-6)
    expect(control!.pValue).toBeGreaterThan(0.01)
    expect(student!.score).toBeGreaterThan(control!.score)
    // the teacher's logits were cached, and the watermark was applied after the cache
    expect(ofTag(o.events, "Note").some((n) => n.message.startsWith("teacher outputs cached: teacher"))).toBe(
      true,
    )
    expect(ofTag(o.events, "PhaseFinished").map((e) => e.phase)).toEqual(["teacher", "distil", "control"])
  }, 120_000)
})
