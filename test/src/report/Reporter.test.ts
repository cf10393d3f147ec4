import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, type Layer } from "effect"
import { afterAll, describe, expect, expectTypeOf, it } from "vitest"
import type { IoError } from "../../../src/errors.js"
import * as Event from "../../../src/report/Event.js"
import { emit, logLine, progressLine, Reporter, stepLine } from "../../../src/report/Reporter.js"
import { parseXml } from "./xml.js"

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "retort-reporter-"))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

/** A fake terminal: collected output and a clock the test moves. */
const fakeConsole = () => {
  const out: Array<string> = []
  const clock = { t: 0 }
  return {
    out,
    clock,
    options: { write: (s: string) => void out.push(s), now: () => clock.t, columns: () => 120 },
  }
}

const phase = Event.phaseStarted({
  phase: "student",
  index: 1,
  epochs: 2,
  steps: 100,
  models: ["teacher", "student"],
})
const step = (k: number) =>
  Event.stepMetrics({
    phase: "student",
    step: k,
    epoch: k > 50 ? 1 : 0,
    loss: 1 / k,
    terms: { ce: 0.5 / k, kd: 2 / k },
    lr: 1e-3,
    imagesPerSec: 4000,
    hyper: { "kd.weight": 0.9 },
  })

/** Runs `events` through a layer, moving the clock `dt` ms before each step. */
const drive = (
  layer: Layer.Layer<Reporter>,
  clock: { t: number },
  dt: number,
  events: ReadonlyArray<Event.Event>,
) =>
  Effect.runSync(
    Effect.provide(
      Effect.forEach(
        events,
        (e) =>
          Effect.suspend(() => {
            if (e._tag === "StepMetrics") clock.t += dt
            return emit(e)
          }),
        { discard: true },
      ),
      layer,
    ),
  )

const run = (steps: number): Array<Event.Event> => [
  Event.runStarted({
    run: "r",
    pipeline: "kd",
    backend: "wasm",
    seed: 7,
    dir: "runs/r",
    phases: ["teacher", "student"],
  }),
  phase,
  ...Array.from({ length: steps }, (_, i) => step(i + 1)),
  Event.evalResult({ phase: "student", split: "test", epoch: 2, step: steps, metrics: { accuracy: 0.97 } }),
  Event.phaseFinished({ phase: "student", seconds: 12.5, metrics: { "test.accuracy": 0.97 } }),
  Event.runFinished({ seconds: 20, summary: [{ phase: "student", metrics: { "test.accuracy": 0.97 } }] }),
]

describe("Reporter.plain", () => {
  const stepLines = (out: ReadonlyArray<string>) => out.filter((l) => l.startsWith("student ep"))

  it("prints a step line every tenth of the phase by default, and at the last step", () => {
    const { out, clock, options } = fakeConsole()
    drive(Reporter.plain(options), clock, 0, run(100))
    expect(stepLines(out).map((l) => l.match(/step (\d+)\//)![1])).toEqual([
      "10",
      "20",
      "30",
      "40",
      "50",
      "60",
      "70",
      "80",
      "90",
      "100",
    ])
  })

  it("follows everySteps", () => {
    const { out, clock, options } = fakeConsole()
    drive(Reporter.plain({ ...options, everySteps: 25 }), clock, 0, run(100))
    expect(stepLines(out).length).toBe(4)
  })

  it("prints every everySeconds of the injected clock when steps are slow", () => {
    const { out, clock, options } = fakeConsole()
    // 1 s per step, a line every 7 s, never by step count
    drive(Reporter.plain({ ...options, everySteps: 1000, everySeconds: 7 }), clock, 1000, run(30))
    // the phase has 100 steps, so step 30 is not its last: no extra line
    expect(stepLines(out).map((l) => Number(l.match(/step (\d+)\//)![1]))).toEqual([7, 14, 21, 28])
  })

  it("logs the other events, one line each, and the summary table", () => {
    const { out, clock, options } = fakeConsole()
    drive(Reporter.plain(options), clock, 0, run(10))
    const text = out.join("")
    expect(text).toContain("run r · pipeline kd · backend wasm · seed 7 · runs/r\n")
    expect(text).toContain("phase 2/2 student: 2 epochs, 100 steps · models teacher, student\n")
    expect(text).toContain("  student epoch 2 test: accuracy 0.97\n")
    expect(text).toContain("phase student done in 13s · test.accuracy 0.97\n")
    expect(text).toContain("phase    test.accuracy\n-------  -------------\nstudent           0.97")
    expect(text).not.toContain("\r")
  })
})

describe("Reporter.tty", () => {
  it("redraws the bar at most every redrawMs and at the last step, logging above it", () => {
    const { out, clock, options } = fakeConsole()
    drive(Reporter.tty({ ...options, redrawMs: 100 }), clock, 10, run(100))
    const draws = out.filter((s) => s.startsWith("\r\x1b[2Kstudent ep"))
    // at the phase start (t=0), then every 10 steps (100 ms), the last step, and at PhaseFinished
    expect(draws.length).toBe(1 + 10 + 1)
    const last = draws[draws.length - 1]!
    expect(last).toContain("100% 100/100")
    expect(last).toContain("4.00k img/s")
    // the eval line clears the bar, prints, and redraws it
    const evalWrite = out.find((s) => s.includes("test: accuracy"))!
    expect(evalWrite.startsWith("\r\x1b[2K")).toBe(true)
    expect(evalWrite).toMatch(/accuracy 0\.97\n.*student ep 2\/2/)
    expect(out.join("")).toContain("run finished in 20s")
  })

  it("ends an unfinished bar with a newline on close", () => {
    const { out, clock, options } = fakeConsole()
    drive(Reporter.tty(options), clock, 10, [phase, step(1)])
    expect(out[out.length - 1]).toBe("\n")
  })
})

describe("progressLine and stepLine", () => {
  const p = { phase, step: step(50), elapsed: 10 }

  it("shows phase, epoch, bar, progress, loss, terms, speed and ETA", () => {
    expect(progressLine(p, 140)).toBe(
      "student ep 1/2 [████████████░░░░░░░░░░░░] 50% 50/100 loss 0.02 ce 0.01 kd 0.04 lr 0.001 4.00k img/s ETA 10s",
    )
  })

  it("drops fields to fit narrow terminals", () => {
    for (const cols of [30, 60, 80, 100]) expect(progressLine(p, cols).length).toBeLessThan(cols)
    expect(progressLine(p, 80)).not.toContain("lr ")
    expect(progressLine(p, 80)).toContain("ETA")
  })

  it("stepLine", () => {
    expect(stepLine(p)).toBe(
      "student ep 1/2 step 50/100 (50%) loss 0.02 · ce 0.01 · kd 0.04 · lr 0.001 · 4.00k img/s · ETA 10s",
    )
    expect(logLine(Event.note({ level: "warn", message: "NaN loss" }), 1)).toBe("warning: NaN loss")
  })
})

describe("combine, memory, quiet, auto", () => {
  it("combine fans every event out in order and closes every reporter", () => {
    const a: Array<Event.Event> = []
    const b: Array<Event.Event> = []
    const { out, clock, options } = fakeConsole()
    drive(
      Reporter.combine(Reporter.memory(a), Reporter.memory(b), Reporter.tty(options), Reporter.quiet),
      clock,
      1,
      [phase, step(1)],
    )
    expect(a).toEqual([phase, step(1)])
    expect(b).toEqual(a)
    // the tty reporter was closed at the end of the scope
    expect(out[out.length - 1]).toBe("\n")
  })

  it("close is idempotent", () => {
    const { out, options } = fakeConsole()
    Effect.runSync(
      Effect.provide(
        Effect.gen(function* () {
          yield* emit(phase)
          const r = yield* Reporter
          yield* r.close
          yield* r.close
          yield* emit(step(1)) // ignored after close
        }),
        Reporter.tty(options),
      ),
    )
    expect(out.filter((s) => s === "\n").length).toBe(1)
  })

  it("auto writes events.jsonl and the plots into the run directory", async () => {
    const dir = path.join(tmp, "auto")
    const { out, clock, options } = fakeConsole()
    const events = run(20)
    await Effect.runPromise(
      Effect.provide(
        Effect.forEach(
          events,
          (e) =>
            Effect.suspend(() => {
              clock.t += 5
              return emit(e)
            }),
          { discard: true },
        ),
        Reporter.auto({ dir, tty: false, console: options }),
      ),
    )
    expect(await Effect.runPromise(Event.readEvents(path.join(dir, "events.jsonl")))).toEqual(events)
    for (const f of ["loss.svg", "eval.svg", "schedule.svg"])
      parseXml(fs.readFileSync(path.join(dir, f), "utf8"))
    expect(out.join("")).toContain("student ep 1/2 step 10/100")
  })

  it("auto with quiet and no directory is silent", () => {
    const { out, clock } = fakeConsole()
    drive(Reporter.auto({ quiet: true }) as Layer.Layer<Reporter>, clock, 1, run(3))
    expect(out).toEqual([])
  })
})

describe("types", () => {
  it("combine keeps the error of any layer that can fail", () => {
    expectTypeOf(Reporter.combine(Reporter.tty(), Reporter.quiet)).toEqualTypeOf<Layer.Layer<Reporter>>()
    expectTypeOf(Reporter.combine(Reporter.jsonl("x"), Reporter.tty())).toEqualTypeOf<
      Layer.Layer<Reporter, IoError>
    >()
    expectTypeOf(emit).returns.toEqualTypeOf<Effect.Effect<void, never, Reporter>>()
  })
})
