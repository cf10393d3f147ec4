import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Exit } from "effect"
import * as fc from "fast-check"
import { afterAll, describe, expect, it, vi } from "vitest"
import { IoError } from "../../../src/errors.js"
import * as Event from "../../../src/report/Event.js"
import { emit, Reporter } from "../../../src/report/Reporter.js"

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "retort-event-"))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

const num = fc
  .oneof(
    fc.double(),
    fc.integer(),
    fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
  )
  .map((x) => (Object.is(x, -0) ? 0 : x))
const numbers = fc.dictionary(fc.string({ maxLength: 12 }), num, { maxKeys: 4 })
const str = fc.string({ maxLength: 20 })

const anyEvent: fc.Arbitrary<Event.Event> = fc.oneof(
  fc
    .record({
      run: str,
      pipeline: str,
      backend: str,
      seed: num,
      dir: str,
      phases: fc.array(str, { maxLength: 3 }),
    })
    .map(Event.runStarted),
  fc
    .record({
      phase: str,
      index: fc.nat(),
      epochs: fc.nat(),
      steps: fc.nat(),
      models: fc.array(str, { maxLength: 3 }),
    })
    .map(Event.phaseStarted),
  fc
    .record(
      {
        phase: str,
        step: fc.nat(),
        epoch: fc.nat(),
        loss: num,
        terms: numbers,
        lr: num,
        imagesPerSec: num,
        hyper: numbers,
      },
      { requiredKeys: ["phase", "step", "epoch", "loss", "terms", "imagesPerSec", "hyper"] },
    )
    .map(Event.stepMetrics),
  fc.record({ phase: str, split: str, epoch: num, step: fc.nat(), metrics: numbers }).map(Event.evalResult),
  fc.record({ path: str, step: fc.nat() }).map(Event.checkpointed),
  fc.record({ phase: str, seconds: num, metrics: numbers }).map(Event.phaseFinished),
  fc
    .record({
      seconds: num,
      summary: fc.array(fc.record({ phase: str, metrics: numbers }), { maxLength: 3 }),
    })
    .map(Event.runFinished),
  fc.record({ level: fc.constantFrom("info" as const, "warn" as const), message: str }).map(Event.note),
)

describe("codec", () => {
  it("every event survives toLine/fromLine, non-finite numbers included", () => {
    fc.assert(
      fc.property(anyEvent, (e) => {
        const line = Event.toLine(e)
        expect(line).not.toContain("\n")
        expect(Event.fromLine(line)).toEqual(e)
      }),
      { seed: 3, numRuns: 300 },
    )
  })

  it("writes NaN as a string and rejects malformed events", () => {
    const line = Event.toLine(
      Event.stepMetrics({
        phase: "p",
        step: 1,
        epoch: 0,
        loss: Number.NaN,
        terms: {},
        imagesPerSec: 1,
        hyper: {},
      }),
    )
    expect(JSON.parse(line).loss).toBe("NaN")
    expect(() => Event.fromLine('{"_tag":"Checkpointed","path":"x"}')).toThrow()
    expect(() => Event.fromLine('{"_tag":"Nope"}')).toThrow()
  })
})

describe("JSONL log", () => {
  it("what Reporter.jsonl writes, readEvents reads back equal", async () => {
    const file = path.join(tmp, "run-a", "events.jsonl")
    const events = fc.sample(anyEvent, { seed: 42, numRuns: 60 })
    await Effect.runPromise(
      Effect.provide(Effect.forEach(events, emit, { discard: true }), Reporter.jsonl(file)),
    )
    const text = fs.readFileSync(file, "utf8")
    expect(text.split("\n").length).toBe(events.length + 1)
    expect(await Effect.runPromise(Event.readEvents(file))).toEqual(events)
  })

  it("appends across runs and each line is on disk as soon as it is emitted", async () => {
    const file = path.join(tmp, "run-b", "events.jsonl")
    const a = Event.note({ level: "info", message: "first" })
    const b = Event.checkpointed({ path: "ckpt", step: 3 })
    await Effect.runPromise(Effect.provide(emit(a), Reporter.jsonl(file)))
    await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          yield* emit(b)
          // still inside the layer's scope: not closed yet, but already readable
          expect(yield* Event.readEvents(file)).toEqual([a, b])
        }),
        Reporter.jsonl(file),
      ),
    )
  })

  it("a log left with a torn last line (a killed process) is repaired before the next run appends", async () => {
    const file = path.join(tmp, "run-torn", "events.jsonl")
    const a = Event.note({ level: "info", message: "before the kill" })
    await Effect.runPromise(Effect.provide(emit(a), Reporter.jsonl(file)))
    fs.appendFileSync(file, '{"_tag":"StepMetrics","phase":"tea') // kill -9 in the middle of a write
    const b = Event.checkpointed({ path: "ckpt", step: 9 })
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true)
    try {
      await Effect.runPromise(Effect.provide(emit(b), Reporter.jsonl(file)))
      expect(String(err.mock.calls[0]?.[0])).toMatch(/ended in a torn line/)
    } finally {
      err.mockRestore()
    }
    expect(await Effect.runPromise(Event.readEvents(file))).toEqual([a, b])
    // a log that is only a fragment is emptied
    const only = path.join(tmp, "run-torn", "fragment.jsonl")
    fs.writeFileSync(only, '{"_tag":"No')
    const quiet = vi.spyOn(process.stderr, "write").mockImplementation(() => true)
    try {
      await Effect.runPromise(Effect.provide(emit(b), Reporter.jsonl(only)))
    } finally {
      quiet.mockRestore()
    }
    expect(await Effect.runPromise(Event.readEvents(only))).toEqual([b])
  })

  it("drops a truncated last line, fails on a bad line in the middle", async () => {
    const good = Event.toLine(Event.note({ level: "warn", message: "x" }))
    const ok = await Effect.runPromise(Event.parseEvents(`${good}\n\n${good}\n{"_tag":"No`))
    expect(ok.length).toBe(2)
    const bad = await Effect.runPromiseExit(Event.parseEvents(`${good}\n{oops}\n${good}\n`, "log"))
    expect(Exit.isFailure(bad)).toBe(true)
    const err = await Effect.runPromise(Effect.flip(Event.parseEvents(`${good}\n{oops}\n${good}\n`, "log")))
    expect(err).toBeInstanceOf(IoError)
    expect(err.message).toContain("line 2")
  })

  it("a missing file or an unwritable directory is an IoError", async () => {
    const missing = await Effect.runPromise(Effect.flip(Event.readEvents(path.join(tmp, "nope.jsonl"))))
    expect(missing._tag).toBe("IoError")
    const blocker = path.join(tmp, "blocker")
    fs.writeFileSync(blocker, "")
    const open = await Effect.runPromise(
      Effect.flip(
        Effect.provide(
          emit(Event.note({ level: "info", message: "x" })),
          Reporter.jsonl(path.join(blocker, "e.jsonl")),
        ),
      ),
    )
    expect(open._tag).toBe("IoError")
  })
})
