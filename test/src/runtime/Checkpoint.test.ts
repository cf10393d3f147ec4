/**
 * Corrupted state on `--resume`: a truncated, bit-flipped (tensors or header), zero-byte,
 * missing or foreign checkpoint is refused with a sentence naming the file, and no training
 * step runs — never a silent resume from garbage. An intact checkpoint still resumes, and a
 * checkpoint written before checksums existed still loads (lengths are checked).
 */
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../../dsl/index.js"
import type * as Event from "../../../src/report/Event.js"
import { Reporter } from "../../../src/report/Reporter.js"
import * as Checkpoint from "../../../src/runtime/Checkpoint.js"
import { run } from "../../../src/runtime/Run.js"

const pipeline = Pipeline.make({
  name: "ckpt",
  seed: 3,
  data: Pipeline.data("mnist"),
  models: { net: Model.mlp({ hidden: [8], classes: 10 }) },
  phases: [
    Phase.make({
      name: "train",
      steps: 6,
      batchSize: 16,
      step: Step.start.pipe(
        Step.forward("net", { as: "o" }),
        Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
        Step.optimize("net", Optimizer.adam({ lr: 1e-3 })),
      ),
      evaluate: Phase.evaluate({ models: ["net"], splits: [{ split: "test", limit: 50 }] }),
    }),
  ],
})

const root = mkdtempSync(join(tmpdir(), "retort-ckpt-"))
let good = ""

const go = async (options: { resume?: string; stopAfter?: number; name?: string }) => {
  const events: Array<Event.Event> = []
  const result = await Effect.runPromise(
    Effect.result(
      run(pipeline, { backend: "cpu", outDir: root, reporter: Reporter.memory(events), ...options }),
    ),
  )
  return { result, events }
}

/** A run directory holding a copy of the good checkpoint, damaged by `damage`. */
const damaged = (name: string, damage: (file: string) => void) => {
  const dir = join(root, name)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const file = join(dir, "checkpoint.bin")
  copyFileSync(good, file)
  damage(file)
  return { dir, file }
}

const refused = async (dir: string, file: string, pattern: RegExp) => {
  const { result, events } = await go({ resume: dir })
  expect(Result.isFailure(result)).toBe(true)
  const e = (result as unknown as { failure: { _tag: string; message: string; path: string } }).failure
  expect(e._tag).toBe("IoError")
  expect(e.path).toBe(file)
  expect(e.message).toMatch(pattern)
  expect(events.some((x) => x._tag === "StepMetrics")).toBe(false)
}

beforeAll(async () => {
  const stopped = await go({ name: "source", stopAfter: 3 })
  expect(Result.isFailure(stopped.result)).toBe(true)
  good = join(root, "source", "checkpoint.bin")
})

describe("resuming from damaged state", () => {
  it("an intact checkpoint resumes and finishes", async () => {
    const { dir } = damaged("intact", () => {})
    const { result } = await go({ resume: dir })
    expect(Result.isSuccess(result)).toBe(true)
  })

  it("a truncated checkpoint is refused, naming it", async () => {
    const { dir, file } = damaged("truncated", (f) => truncateSync(f, readFileSync(f).length - 100))
    await refused(dir, file, /truncated: .* bytes of tensors, .* expected/)
    const { dir: d2, file: f2 } = damaged("truncated-header", (f) => truncateSync(f, 40))
    await refused(d2, f2, /truncated: 40 bytes, its header alone needs/)
  })

  it("a flipped bit in the tensors fails the checksum; one in the header breaks it", async () => {
    const { dir, file } = damaged("flipped", (f) => {
      const b = readFileSync(f)
      b[b.length - 7]! ^= 0x10
      writeFileSync(f, b)
    })
    await refused(dir, file, /checksum does not match: the file is damaged/)
    const { dir: d2, file: f2 } = damaged("flipped-header", (f) => {
      const b = readFileSync(f)
      const at = b.indexOf(Buffer.from('"position"'))
      b[at + 1] = 0x7b // "{" inside a key
      writeFileSync(f, b)
    })
    await refused(d2, f2, /header is damaged/)
  })

  it("a zero-byte, a missing and a foreign file are refused, naming them", async () => {
    const empty = damaged("empty", (f) => writeFileSync(f, ""))
    await refused(empty.dir, empty.file, /the file is empty/)
    const foreign = damaged("foreign", (f) =>
      writeFileSync(f, Buffer.from("\x89PNG\r\n\x1a\n not a checkpoint at all")),
    )
    await refused(foreign.dir, foreign.file, /not a Retort checkpoint/)
    const missing = damaged("missing", (f) => rmSync(f))
    await refused(missing.dir, missing.file, /there is no checkpoint/)
  })

  it("a checkpoint from before checksums still loads (its lengths are checked)", async () => {
    const snap = await Effect.runPromise(Checkpoint.load(good))
    expect(snap.header.payload?.sha256).toMatch(/^[0-9a-f]{64}$/)
    // rewrite it without the payload record, as the earlier format did
    const { file } = damaged("old-format", () => {})
    const b = readFileSync(file)
    const len = b.readUInt32LE(20)
    const header = JSON.parse(b.subarray(24, 24 + len).toString())
    delete header.payload
    const h = Buffer.from(JSON.stringify(header))
    const l = Buffer.alloc(4)
    l.writeUInt32LE(h.length)
    writeFileSync(file, Buffer.concat([b.subarray(0, 20), l, h, b.subarray(24 + len)]))
    const old = await Effect.runPromise(Checkpoint.load(file))
    expect([...old.tensors.keys()]).toEqual([...snap.tensors.keys()])
  })
})
