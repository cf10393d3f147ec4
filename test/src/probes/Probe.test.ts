import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Cause, Effect, Exit, Option } from "effect"
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest"
import { Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../../dsl/index.js"
import { main } from "../../../src/cli/main.js"
import { Data } from "../../../src/data/Data.js"
import * as Models from "../../../src/models/index.js"
import { Probe, RunDir } from "../../../src/probes/index.js"
import { Reporter } from "../../../src/report/Reporter.js"
import * as Checkpoint from "../../../src/runtime/Checkpoint.js"
import { run } from "../../../src/runtime/Run.js"
import { synthetic } from "../../support/data.js"

const data = synthetic({ train: 128, test: 64, seed: 2 })
const tmp = () => mkdtempSync(join(tmpdir(), "retort-probe-run-"))

/** Teacher trained in phase 1; the student, first built in phase 2, is trained (lr) or not (lr 0). */
const pipeline = (o: { seed: number; studentLr: number }) =>
  Pipeline.make({
    name: "probe-test",
    seed: o.seed,
    data: Pipeline.data("custom", { name: "synthetic", validation: 16 }),
    models: {
      teacher: Model.mlp({ hidden: [16], classes: 10 }),
      student: Model.mlp({ hidden: [8], classes: 10 }),
    },
    phases: [
      Phase.make({
        name: "teacher",
        steps: 12,
        batchSize: 32,
        step: Step.start.pipe(
          Step.forward("teacher", { as: "t" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "t" }) }),
          Step.optimize("teacher", Optimizer.adam({ lr: 3e-3 })),
        ),
      }),
      Phase.make({
        name: "student",
        steps: 8,
        batchSize: 32,
        step: Step.start.pipe(
          Step.forward("student", { as: "s" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "s" }) }),
          Step.optimize("student", Optimizer.sgd({ lr: o.studentLr })),
        ),
        evaluate: Phase.evaluate({ models: ["student"] }),
      }),
    ],
  })

const train = async (seed: number, studentLr: number) => {
  const out = tmp()
  const exit = await Effect.runPromiseExit(
    run(pipeline({ seed, studentLr }), {
      backend: "cpu",
      data,
      outDir: out,
      reporter: Reporter.memory([]),
      checkpointEvery: 0,
    }),
  )
  expect(Exit.isSuccess(exit)).toBe(true)
  return join(out, "probe-test")
}

let trained: string
let frozen: string
let another: string
beforeAll(async () => {
  trained = await train(5, 0.5)
  frozen = await train(5, 0)
  another = await train(6, 0.5)
})

const probe = (dir: string, options: Probe.Options) =>
  Effect.runPromise(Probe.probe(dir, { data, png: false, ...options }).pipe(Effect.provide(Data.layer)))

describe("RunDir", () => {
  it('"init" rebuilds the weights the run drew (a student trained with lr 0 still has them)', async () => {
    const snap = await Effect.runPromise(Checkpoint.load(join(frozen, "checkpoint.bin")))
    const init = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const opened = yield* RunDir.open(frozen, { model: "student", data })
          const point = yield* RunDir.other(opened, "init")
          return Object.entries(Models.Tree.flatten(point.params)).map(
            ([path, t]) => [path, Array.from(t.dataSync())] as const,
          )
        }),
      ).pipe(Effect.provide(Data.layer)),
    )
    expect(init.map(([path]) => path)).toEqual(["dense0/kernel", "dense0/bias", "head/kernel", "head/bias"])
    for (const [path, values] of init)
      expect(values).toEqual(Array.from(snap.tensors.get(`model/student/params/${path}`)!.values))
  })

  it("fails clearly: no such model, no data for a custom run, a foreign directory", async () => {
    const fail = async (dir: string, options: RunDir.OpenOptions) => {
      const exit = await Effect.runPromiseExit(
        Effect.scoped(RunDir.open(dir, options)).pipe(Effect.provide(Data.layer)),
      )
      return (Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined) as
        | { _tag: string; message: string; hint?: string }
        | undefined
    }
    expect((await fail(trained, { model: "nobody", data }))?.message).toMatch(
      /no model "nobody" \(models: teacher, student\)/,
    )
    const custom = await fail(trained, { model: "student" })
    expect(custom?._tag).toBe("DataError")
    expect(custom?.message).toMatch(/custom data "synthetic"/)
    expect(custom?.hint).toMatch(/--data mnist/)
    expect((await fail(tmp(), { model: "student" }))?.message).toMatch(/not a run directory/)
  })
})

describe("Probe.probe on a run directory", () => {
  it("sharpness, slice and interpolation (init, another model's run) are written under probes/", async () => {
    const s = await probe(trained, {
      model: "student",
      kind: "sharpness",
      samples: 64,
      iterations: 4,
      ascentSteps: 2,
    })
    expect(s.result._tag).toBe("Sharpness")
    expect(s.summary).toMatch(
      /^sharpness student: λmax [-\d.e]+ \((converged|not converged) after \d+ iterations\), ε = 0.001 rise/,
    )
    expect(s.files.map((f) => f.slice(trained.length))).toEqual([
      "/probes/sharpness-student.json",
      "/probes/sharpness-student.svg",
    ])
    expect(s.result.samples).toEqual({ n: 64, split: "train", seed: 0 })

    const slice = await probe(trained, {
      model: "teacher",
      kind: "slice",
      steps: 3,
      samples: 32,
      name: "t-slice",
    })
    expect(slice.files[0]).toBe(join(trained, "probes", "t-slice.json"))
    expect(JSON.parse(readFileSync(slice.files[0]!, "utf8")).kind).toBe("slice")

    const line = await probe(trained, { model: "student", kind: "interpolate", points: 5, samples: 32 })
    expect(line.result).toMatchObject({ kind: "interpolate", endpoints: ["init", "student"] })
    const untrained = (line.result as { points: ReadonlyArray<{ alpha: number; loss: number }> }).points
    // training lowered the loss from the initial weights
    expect(untrained.find((p) => p.alpha === 1)!.loss).toBeLessThan(
      untrained.find((p) => p.alpha === 0)!.loss,
    )

    const between = await probe(trained, {
      model: "student",
      kind: "interpolate",
      with: another,
      points: 3,
      samples: 32,
    })
    expect(between.result).toMatchObject({ endpoints: ["probe-test", "student"] })
    const bad = await Effect.runPromiseExit(
      Probe.probe(trained, {
        data,
        model: "student",
        kind: "interpolate",
        with: "teacher",
        write: false,
      }).pipe(Effect.provide(Data.layer)),
    )
    expect(String(bad)).toMatch(/"dense0\/kernel" is \[784, 16\] in the checkpoint, \[784, 8\] in the model/)
  })
})

describe("retort probe (CLI)", () => {
  let out = ""
  let err = ""
  beforeEach(() => {
    out = ""
    err = ""
    vi.spyOn(console, "log").mockImplementation((...a) => {
      out += `${a.join(" ")}\n`
    })
    vi.spyOn(console, "error").mockImplementation((...a) => {
      err += `${a.join(" ")}\n`
    })
    vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      err += String(chunk)
      return true
    })
  })
  afterEach(() => vi.restoreAllMocks())

  // the real command line, as `retort` runs it
  const retort = (argv: ReadonlyArray<string>) => main(argv)

  it("probes a run trained on custom data with --data mnist, and says why without it", async () => {
    const ok = await retort([
      "probe",
      trained,
      "--model",
      "student",
      "--kind",
      "slice",
      "--steps",
      "3",
      "--samples",
      "48",
      "--backend",
      "cpu",
      "--data",
      "mnist",
      "--no-png",
      "--name",
      "cli-slice",
    ])
    expect(ok).toBe(0)
    expect(out).toMatch(/^slice student: loss [\d.]+ at θ .*48 train samples/m)
    expect(out).toMatch(/wrote .*probes\/cli-slice\.json, .*probes\/cli-slice\.svg/)
    expect(existsSync(join(trained, "probes", "cli-slice.svg"))).toBe(true)

    const line = await retort([
      "probe",
      trained,
      "--model",
      "student",
      "--kind",
      "interpolate",
      "--points",
      "3",
      "--alpha-range=0,1",
      "--samples",
      "32",
      "--backend",
      "cpu",
      "--data",
      "mnist",
      "--no-png",
    ])
    expect(line).toBe(0)
    expect(out).toMatch(/interpolate student: init → student/)

    const missing = await retort(["probe", trained, "--model", "student", "--backend", "cpu"])
    expect(missing).toBe(1)
    expect(err).toMatch(/custom data/)
  })
})
