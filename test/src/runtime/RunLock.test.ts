/**
 * One run per run directory: a second run on a directory that a live `retort run` process holds
 * refuses with a message naming that process, before it writes anything; after that process is
 * killed with SIGKILL (no clean-up), its lock is taken over with a note; a torn lock file is
 * taken over too; a finished run leaves no lock behind.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { describe, expect, it } from "vitest"
import { Codec, Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../../dsl/index.js"
import type * as Event from "../../../src/report/Event.js"
import { Reporter } from "../../../src/report/Reporter.js"
import { run } from "../../../src/runtime/Run.js"
import * as RunLock from "../../../src/runtime/RunLock.js"

const tiny = (steps: number) =>
  Pipeline.make({
    name: "locked",
    seed: 2,
    data: Pipeline.data("mnist"),
    models: { net: Model.mlp({ hidden: [8], classes: 10 }) },
    phases: [
      Phase.make({
        name: "train",
        steps,
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

const go = async (outDir: string, steps = 2) => {
  const events: Array<Event.Event> = []
  const result = await Effect.runPromise(
    Effect.result(run(tiny(steps), { backend: "cpu", outDir, reporter: Reporter.memory(events) })),
  )
  return { result, events }
}

const waitFor = async (check: () => boolean, ms: number) => {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) throw new Error("timed out")
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe("run directory lock", () => {
  it("refuses a second run while a live process holds the directory; takes over after kill -9", async () => {
    const root = mkdtempSync(join(tmpdir(), "retort-lock-"))
    const runs = join(root, "runs")
    const dir = join(runs, "locked")
    writeFileSync(join(root, "long.json"), Codec.toJson(tiny(1_000_000)))
    const child = spawn(
      process.execPath,
      ["bin/retort.js", "run", join(root, "long.json"), "--backend", "cpu", "--out", runs, "--quiet"],
      { cwd: join(import.meta.dirname, "../../.."), stdio: "ignore" },
    )
    const exited = new Promise<void>((r) => child.on("exit", () => r()))
    try {
      await waitFor(() => existsSync(RunLock.file(dir)) && existsSync(join(dir, "events.jsonl")), 90_000)
      const holder = JSON.parse(readFileSync(RunLock.file(dir), "utf8")) as RunLock.Holder
      expect(holder.pid).toBe(child.pid)
      const events = statSync(join(dir, "events.jsonl")).size
      const second = await go(runs)
      expect(Result.isFailure(second.result)).toBe(true)
      const e = (second.result as Result.Failure<unknown, { _tag: string; message: string }>).failure
      expect(e._tag).toBe("IoError")
      expect(e.message).toContain(`in use by process ${child.pid}`)
      expect(second.events).toEqual([])
      // the refused run wrote nothing into the holder's directory
      expect(statSync(join(dir, "events.jsonl")).size).toBeGreaterThanOrEqual(events)
      expect(existsSync(join(dir, "checkpoint.bin"))).toBe(false)
    } finally {
      child.kill("SIGKILL")
      await exited
    }
    // killed without a chance to clean up: the lock is still there, its holder is gone
    expect(existsSync(RunLock.file(dir))).toBe(true)
    const third = await go(runs)
    expect(Result.isSuccess(third.result)).toBe(true)
    const notes = third.events.filter((x): x is Event.Note => x._tag === "Note").map((x) => x.message)
    expect(notes.some((n) => n.includes(`took over the lock of ${dir} from process ${child.pid}`))).toBe(true)
    expect(existsSync(RunLock.file(dir))).toBe(false)
  }, 180_000)

  it("takes over a torn lock file, and leaves none after the run", async () => {
    const runs = mkdtempSync(join(tmpdir(), "retort-lock-"))
    const dir = join(runs, "locked")
    mkdirSync(dir, { recursive: true })
    writeFileSync(RunLock.file(dir), "{ not json")
    const r = await go(runs)
    expect(Result.isSuccess(r.result)).toBe(true)
    expect(existsSync(RunLock.file(dir))).toBe(false)
  })
})
