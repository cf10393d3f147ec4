import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import * as Event from "../../../src/report/Event.js"
import * as RunPlots from "../../../src/report/RunPlots.js"
import { count, parseXml } from "./xml.js"

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "retort-plots-"))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

const events: Array<Event.Event> = [
  Event.phaseStarted({ phase: "teacher", index: 0, epochs: 2, steps: 20, models: ["teacher"] }),
  ...Array.from({ length: 20 }, (_, i) =>
    Event.stepMetrics({
      phase: "teacher",
      step: i + 1,
      epoch: i < 10 ? 0 : 1,
      loss: 2 / (i + 1),
      terms: { ce: 2 / (i + 1) },
      lr: 1e-3,
      imagesPerSec: 1e3,
      hyper: {},
    }),
  ),
  Event.evalResult({
    phase: "teacher",
    split: "test",
    epoch: 1,
    step: 10,
    metrics: { accuracy: 0.9, nll: 0.3 },
  }),
  Event.evalResult({
    phase: "teacher",
    split: "test",
    epoch: 2,
    step: 20,
    metrics: { accuracy: 0.95, nll: 0.2 },
  }),
  Event.phaseStarted({ phase: "student", index: 1, epochs: 1, steps: 10, models: ["teacher", "student"] }),
  ...Array.from({ length: 10 }, (_, i) =>
    Event.stepMetrics({
      phase: "student",
      step: i + 1,
      epoch: 0,
      loss: 1 / (i + 1),
      terms: { ce: 0.5, kd: Number.NaN },
      imagesPerSec: 1e3,
      hyper: { "kd.weight": 0.9 - i * 0.01 },
    }),
  ),
  Event.evalResult({
    phase: "student",
    split: "test",
    epoch: 1,
    step: 10,
    metrics: { accuracy: 0.93, "accuracy.block1": 0.8 },
  }),
]

describe("RunPlots", () => {
  it("renders one panel per phase with the loss and its terms", () => {
    const files = RunPlots.render(events)
    expect(Object.keys(files).sort()).toEqual(["eval.svg", "loss.svg", "schedule.svg"])
    const loss = files["loss.svg"]!
    parseXml(loss)
    expect(count(loss, "svg")).toBe(3) // the stack and two panels
    expect(count(loss, "g", "series")).toBe(2 + 3) // teacher: loss, ce; student: loss, ce, kd
    expect(count(loss, "path", "line")).toBe(4) // kd is all NaN: no line
    const ev = files["eval.svg"]!
    expect(count(ev, "g", "series")).toBe(1 + 2) // teacher: test; student: test, test accuracy.block1
    const sched = files["schedule.svg"]!
    expect(count(sched, "svg")).toBe(1 + 2) // teacher lr, student hyper-parameters
  })

  it("renders nothing for a run without steps or evaluations", () => {
    expect(RunPlots.render([Event.note({ level: "info", message: "x" })])).toEqual({})
  })

  it("writePlots writes SVG and PNG files", async () => {
    const dir = path.join(tmp, "run")
    const written = await Effect.runPromise(RunPlots.writePlots(dir, events.slice(0, 23), { png: true }))
    expect(written.map((f) => path.basename(f)).sort()).toEqual([
      "eval.png",
      "eval.svg",
      "loss.png",
      "loss.svg",
      "schedule.png",
      "schedule.svg",
    ])
    const png = fs.readFileSync(path.join(dir, "loss.png"))
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  })

  it("writePlots fails with an IoError when the directory cannot be made", async () => {
    const blocker = path.join(tmp, "file")
    fs.writeFileSync(blocker, "")
    const err = await Effect.runPromise(Effect.flip(RunPlots.writePlots(path.join(blocker, "x"), events)))
    expect(err._tag).toBe("IoError")
  })
})
