/**
 * "Distil your own model", end to end on real files: an image folder of PNGs, a teacher trained
 * on it and exported to the TF.js LayersModel format, that teacher read back from disk as the
 * frozen teacher of `distil-folder`, the teacher-output cache, the CLI's eval/predict/export, and
 * the errors a user meets before the first step (a teacher with the wrong class count, a
 * GraphModel asked to train, a corrupt image).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { beforeAll, describe, expect, it, vi } from "vitest"
import { Codec, Loss, Model, Optimizer, Phase, type Pipeline, Step } from "../../dsl/index.js"
import distilFolder, { make as makeDistil } from "../../pipelines/distil-folder.js"
import folderTeacher, { make as makeTeacher } from "../../pipelines/folder-teacher.js"
import { main } from "../../src/cli/main.js"
import { ValidationError } from "../../src/errors.js"
import type * as Event from "../../src/report/Event.js"
import { Reporter } from "../../src/report/Reporter.js"
import * as Deploy from "../../src/runtime/Deploy.js"
import { type RunOptions, run } from "../../src/runtime/Run.js"
import { classNames, corrupt, makeFolder } from "../support/folder.js"
import { useWasm } from "./support.js"

const root = mkdtempSync(join(tmpdir(), "retort-distil-folder-"))
// the decoded-image cache goes to a temporary directory, not the user's
process.env.XDG_CACHE_HOME = join(root, "cache")
const images = join(root, "images")

const tinyTeacher = (classes: number) =>
  Model.resnet({
    stem: { filters: 8 },
    blocks: [
      { filters: 8, stride: 2 },
      { filters: 16, stride: 2 },
    ],
    batchNorm: true,
    classes,
    input: [32, 32, 3],
  })
const tinyStudent = (classes: number) =>
  Model.cnn({
    conv: [{ filters: 4 }, { filters: 8 }],
    dense: [16],
    classes,
    batchNorm: true,
    input: [32, 32, 3],
  })

const withModels = (
  p: Pipeline.Pipeline,
  models: Record<string, Model.Model>,
  batchSize = 16,
): Pipeline.Pipeline => ({
  ...p,
  models: { ...p.models, ...models },
  phases: p.phases.map((ph) => ({ ...ph, batchSize })),
})

const go = async (p: Pipeline.Pipeline, options: RunOptions = {}) => {
  const events: Array<Event.Event> = []
  const result = await Effect.runPromise(
    Effect.result(
      run(p, {
        backend: "wasm",
        outDir: join(root, "runs"),
        reporter: Reporter.memory(events),
        logEvery: 1,
        ...options,
      }),
    ),
  )
  return { result, events }
}

const failure = <A, E>(r: Result.Result<A, E>): E => {
  if (Result.isSuccess(r)) throw new Error("expected a failure")
  return r.failure
}

const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw r.failure
  return r.success
}

let teacherRun: string
let teacherExport: string
let teacherTest: number

beforeAll(async () => {
  await useWasm()
  await makeFolder(images, { classes: 3, perClass: 20 })
  const trained = await go(
    withModels(makeTeacher({ path: images, classes: 3, epochs: 4 }), { teacher: tinyTeacher(3) }),
    { name: "teacher" },
  )
  const r = ok(trained.result)
  teacherRun = r.dir
  teacherTest = r.phases[0]!.metrics["test/teacher/accuracy"]!
  const exported = await Effect.runPromise(Effect.scoped(Deploy.exportModel(teacherRun, "teacher")))
  teacherExport = join(exported.dir, "model.json")
}, 300_000)

describe("distil-folder and folder-teacher recipes", () => {
  it("are valid pipelines that round-trip through JSON", () => {
    for (const p of [distilFolder, folderTeacher]) {
      const back = ok(Codec.fromJson(Codec.toJson(p)))
      expect(back).toEqual(p)
    }
    expect(distilFolder.models.teacher?._tag).toBe("Load")
    expect(distilFolder.data).toMatchObject({ source: "folder", size: [32, 32], normalize: "train" })
  })

  it("the teacher run records its data: class names, shape, the training split's normalisation", () => {
    const info = JSON.parse(readFileSync(join(teacherRun, "data.json"), "utf8"))
    expect(info.classNames).toEqual(classNames.slice(0, 3))
    expect(info.shape).toEqual([32, 32, 3])
    expect(info.normalize.mean).toHaveLength(3)
    expect(info.normalize.std.every((s: number) => s > 0)).toBe(true)
    const exported = JSON.parse(readFileSync(join(teacherRun, "export", "teacher", "data.json"), "utf8"))
    expect(exported.classNames).toEqual(classNames.slice(0, 3))
    // the normalisation is inside the exported model, not left to the page
    expect(exported.normalize).toBeUndefined()
    const model = JSON.parse(readFileSync(teacherExport, "utf8"))
    expect(model.modelTopology.config.layers[1].name).toBe("normalize")
  })

  it("distils the exported teacher read from disk: same teacher accuracy, frozen, cached, student learns", async () => {
    const p = withModels(makeDistil({ path: images, teacher: teacherExport, classes: 3, epochs: 3 }), {
      student: tinyStudent(3),
    })
    const { result, events } = await go(p, { name: "distil" })
    const r = ok(result)
    const m = r.phases[0]!.metrics
    // the loaded teacher (normalisation baked in) computes what it computed in its own run
    expect(m["test/teacher/accuracy"]).toBeCloseTo(teacherTest, 6)
    expect(Number.isFinite(m["test/student/accuracy"])).toBe(true)
    expect(Number.isFinite(m["validation/student/agreement"])).toBe(true)
    const notes = events.filter((e): e is Event.Note => e._tag === "Note").map((e) => e.message)
    expect(notes.some((n) => n.startsWith("teacher outputs cached: teacher on"))).toBe(true)
    expect(
      notes.some((n) => n.includes("images of 3 classes") && n.endsWith("classes: apple, berry, cloud")),
    ).toBe(true)
    const steps = events.filter((e): e is Event.StepMetrics => e._tag === "StepMetrics")
    expect(steps.length).toBeGreaterThan(3)
    for (const s of steps) expect(Number.isFinite(s.loss)).toBe(true)

    // the same run without the cache: the same losses up to float rounding
    const off = await go(p, { name: "distil-nocache", teacherCache: false })
    const offSteps = off.events.filter((e): e is Event.StepMetrics => e._tag === "StepMetrics")
    const offNotes = off.events.filter((e): e is Event.Note => e._tag === "Note").map((e) => e.message)
    expect(offNotes.some((n) => n.startsWith("teacher outputs cached"))).toBe(false)
    expect(offSteps.length).toBe(steps.length)
    offSteps.forEach((s, i) => {
      expect(Math.abs(s.loss - steps[i]!.loss)).toBeLessThan(1e-3 * Math.max(1, Math.abs(s.loss)))
    })

    // retort eval reproduces the run's final test metrics, without training
    const log = vi.spyOn(console, "log").mockImplementation(() => {})
    try {
      expect(await main(["eval", r.dir, "--split", "test", "--json"])).toBe(0)
      const rows = JSON.parse(String(log.mock.calls.at(-1)![0])) as Array<{ model: string; accuracy: number }>
      const student = rows.find((x) => x.model === "student")!
      expect(student.accuracy).toBeCloseTo(m["test/student/accuracy"]!, 6)
      expect(rows.find((x) => x.model === "teacher")!.accuracy).toBeCloseTo(teacherTest, 6)
      // … and on a folder of labelled images
      expect(await main(["eval", r.dir, "--model", "student", "--split", images, "--json"])).toBe(0)
      const folderRows = JSON.parse(String(log.mock.calls.at(-1)![0])) as Array<{ n: number }>
      expect(folderRows[0]!.n).toBe(60)
      // predict: class names and probabilities per file
      const files = [join(images, "apple", "000.png"), join(images, "cloud", "003.png")]
      expect(await main(["predict", r.dir, "--model", "student", ...files, "--top", "2", "--json"])).toBe(0)
      const out = JSON.parse(String(log.mock.calls.at(-1)![0])) as {
        predictions: Array<{ file: string; top: Array<{ class: string; probability: number }> }>
      }
      expect(out.predictions.map((x) => x.file)).toEqual(files)
      for (const x of out.predictions) {
        expect(x.top).toHaveLength(2)
        expect(classNames).toContain(x.top[0]!.class as (typeof classNames)[number])
        expect(x.top[0]!.probability).toBeGreaterThanOrEqual(x.top[1]!.probability)
      }
      // export with a page
      expect(await main(["export", r.dir, "--model", "student", "--page"])).toBe(0)
      for (const f of ["model.json", "weights.bin", "data.json", "index.html", "tfjs/tf-core.min.js"])
        expect(existsSync(join(r.dir, "export", "student", f))).toBe(true)
    } finally {
      log.mockRestore()
    }
  })

  it("a run with a loaded teacher stops, resumes from its checkpoint and ends where an uninterrupted run ends", async () => {
    const p = withModels(makeDistil({ path: images, teacher: teacherExport, classes: 3, epochs: 2 }), {
      student: tinyStudent(3),
    })
    const straight = ok((await go(p, { name: "straight" })).result)
    const stopped = await go(p, { name: "stopped", stopAfter: 5 })
    expect(Result.isFailure(stopped.result)).toBe(true)
    const resumed = ok((await go(p, { resume: join(root, "runs", "stopped") })).result)
    expect(resumed.phases[0]!.metrics).toEqual(straight.phases[0]!.metrics)
  })

  it("a loaded LayersModel fine-tunes as a student, with a hint on one of its layers, and re-exports with its new weights", async () => {
    const layers = JSON.parse(readFileSync(teacherExport, "utf8")).modelTopology.config.layers as Array<{
      name: string
      class_name: string
    }>
    const tap = layers.find((l) => l.class_name === "GlobalAveragePooling2D")!.name
    const base = makeTeacher({ path: images, classes: 3, epochs: 1 })
    const p: Pipeline.Pipeline = {
      ...base,
      name: "fine-tune",
      models: {
        student: Model.load({ path: teacherExport }),
        reference: Model.load({ path: teacherExport }),
      },
      phases: [
        {
          ...base.phases[0]!,
          name: "fine-tune",
          batchSize: 16,
          step: Step.start.pipe(
            Step.forward("reference", { as: "r", mode: "frozen", taps: [tap] }),
            Step.forward("student", { as: "s", taps: [tap] }),
            Step.loss(
              {
                ce: Loss.crossEntropy({ logits: "s" }),
                hint: Loss.hint({ student: `s.${tap}`, teacher: `r.${tap}` }),
              },
              { weights: { ce: 1, hint: 0.5 } },
            ),
            Step.optimize("student", Optimizer.adam({ lr: 1e-3 })),
          ),
          evaluate: Phase.evaluate({ models: ["student", "reference"] }),
        },
      ],
    }
    const { result, events } = await go(p, { name: "fine-tune", maxSteps: 3 })
    const r = ok(result)
    const steps = events.filter((e): e is Event.StepMetrics => e._tag === "StepMetrics")
    expect(steps).toHaveLength(3)
    for (const s of steps) expect(Number.isFinite(s.terms["loss.hint"])).toBe(true)
    // the student starts as a copy of the reference: their features differ only by batch norm's
    // batch statistics (train mode) against the running ones (frozen)
    expect(steps[0]!.terms["loss.hint"]).toBeLessThan(1)
    const m = r.phases[0]!.metrics
    expect(m["test/reference/accuracy"]).toBeCloseTo(teacherTest, 6)
    // re-exported with the fine-tuned weights: the same topology, other values
    const again = await Effect.runPromise(Effect.scoped(Deploy.exportModel(r.dir, "student")))
    const before = readFileSync(join(teacherRun, "export", "teacher", "weights.bin"))
    const after = readFileSync(join(again.dir, "weights.bin"))
    expect(after.length).toBe(before.length)
    expect(after.equals(before)).toBe(false)
    const log = vi.spyOn(console, "log").mockImplementation(() => {})
    try {
      expect(await main(["eval", r.dir, "--model", "student", "--json"])).toBe(0)
      const rows = JSON.parse(String(log.mock.calls.at(-1)![0])) as Array<{ accuracy: number }>
      expect(rows[0]!.accuracy).toBeCloseTo(m["test/student/accuracy"]!, 6)
    } finally {
      log.mockRestore()
    }
  })

  it("a teacher whose class count differs from the data fails before the first step, naming the file", async () => {
    const two = join(root, "two-classes")
    await makeFolder(two, { classes: 2, perClass: 6 })
    const p = withModels(makeDistil({ path: two, teacher: teacherExport, classes: 2, epochs: 1 }), {
      student: tinyStudent(2),
    })
    const { result, events } = await go(p, { name: "mismatch" })
    expect(Result.isFailure(result)).toBe(true)
    const e = failure(result)
    expect(e).toBeInstanceOf(ValidationError)
    expect(e.message).toContain(teacherExport)
    expect(e.message).toMatch(/has 3 classes but two-classes has 2/)
    expect(events.some((x) => x._tag === "StepMetrics")).toBe(false)
  })

  it("a GraphModel asked to train is refused before the first step", async () => {
    const dir = join(root, "graph")
    mkdirSync(dir, { recursive: true })
    const d = 32 * 32 * 3
    const dims = (s: ReadonlyArray<number>) => ({ dim: s.map((v) => ({ size: String(v) })) })
    writeFileSync(join(dir, "weights.bin"), Buffer.from(new Float32Array(d * 3 + 3).buffer))
    writeFileSync(
      join(dir, "model.json"),
      JSON.stringify({
        format: "graph-model",
        modelTopology: {
          node: [
            {
              name: "x",
              op: "Placeholder",
              attr: { dtype: { type: "DT_FLOAT" }, shape: { shape: dims([-1, d]) } },
            },
            {
              name: "w",
              op: "Const",
              attr: {
                dtype: { type: "DT_FLOAT" },
                value: { tensor: { dtype: "DT_FLOAT", tensorShape: dims([d, 3]) } },
              },
            },
            {
              name: "b",
              op: "Const",
              attr: {
                dtype: { type: "DT_FLOAT" },
                value: { tensor: { dtype: "DT_FLOAT", tensorShape: dims([3]) } },
              },
            },
            {
              name: "mm",
              op: "MatMul",
              input: ["x", "w"],
              attr: { T: { type: "DT_FLOAT" }, transpose_a: { b: false }, transpose_b: { b: false } },
            },
            { name: "out", op: "BiasAdd", input: ["mm", "b"], attr: { T: { type: "DT_FLOAT" } } },
          ],
          versions: { producer: 1 },
        },
        weightsManifest: [
          {
            paths: ["weights.bin"],
            weights: [
              { name: "w", shape: [d, 3], dtype: "float32" },
              { name: "b", shape: [3], dtype: "float32" },
            ],
          },
        ],
      }),
    )
    // as a frozen teacher it is fine …
    const teacherOnly = withModels(makeDistil({ path: images, teacher: dir, classes: 3, epochs: 1 }), {
      student: tinyStudent(3),
    })
    const fine = await go(teacherOnly, { name: "graph-teacher", maxSteps: 2 })
    expect(Result.isSuccess(fine.result)).toBe(true)
    // … as a trained student it is not
    const student = withModels(makeTeacher({ path: images, classes: 3, epochs: 1 }), {
      teacher: Model.load({ path: dir }),
    })
    const { result, events } = await go(student, { name: "graph-student" })
    expect(Result.isFailure(result)).toBe(true)
    const message = String(failure(result).message)
    expect(message).toMatch(/GraphModel/)
    expect(message).toMatch(/frozen teacher/)
    expect(events.some((x) => x._tag === "StepMetrics")).toBe(false)
  })

  it("a corrupt image is skipped with a counted warning naming the file; strict makes it fail", async () => {
    const dirty = join(root, "dirty")
    await makeFolder(dirty, { classes: 3, perClass: 5 })
    corrupt(join(dirty, "berry", "broken.png"))
    const p = withModels(makeTeacher({ path: dirty, classes: 3, epochs: 1 }), { teacher: tinyTeacher(3) })
    const { result, events } = await go(p, { name: "dirty", maxSteps: 1 })
    expect(Result.isSuccess(result)).toBe(true)
    const warnings = events.filter((e): e is Event.Note => e._tag === "Note" && e.level === "warn")
    expect(
      warnings.some((w) => /skipped 1 of 16 images/.test(w.message) && w.message.includes("broken.png")),
    ).toBe(true)
    const strict = await go(
      { ...p, data: { ...p.data, strict: true } },
      { name: "dirty-strict", maxSteps: 1 },
    )
    expect(Result.isFailure(strict.result)).toBe(true)
    expect(String(failure(strict.result).message)).toContain("broken.png")
  })
})
