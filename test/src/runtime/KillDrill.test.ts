/**
 * The kill -9 drill, fast version: a two-phase `retort run` process is killed with SIGKILL three
 * times at random moments (after it wrote at least two checkpoints), each time resumed with
 * `--resume` in a new process, and finally completes. On the cpu backend, where runs are
 * deterministic, its final parameters and optimiser state must be bit-identical to an
 * uninterrupted run's. (The stale `run.lock` each kill leaves is taken over, and a torn last line
 * of `events.jsonl` is cut before the resumed run appends: the log reads back whole.)
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Codec, Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../../dsl/index.js"
import * as Event from "../../../src/report/Event.js"
import * as Checkpoint from "../../../src/runtime/Checkpoint.js"

const repo = join(import.meta.dirname, "../../..")
const phase = (name: string, lr: number) =>
  Phase.make({
    name,
    steps: 60,
    batchSize: 32,
    step: Step.start.pipe(
      Step.forward("net", { as: "o" }),
      Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
      Step.optimize("net", Optimizer.adam({ lr })),
    ),
    evaluate: Phase.evaluate({ models: ["net"], splits: [{ split: "test", limit: 100 }] }),
  })
const pipeline = Pipeline.make({
  name: "drill",
  seed: 5,
  data: Pipeline.data("mnist"),
  models: { net: Model.mlp({ hidden: [32], classes: 10 }) },
  phases: [phase("first", 2e-3), phase("second", 1e-3)],
})

const retort = (args: ReadonlyArray<string>): ChildProcess =>
  spawn(
    process.execPath,
    ["bin/retort.js", ...args, "--backend", "cpu", "--checkpoint-every", "3", "--quiet"],
    {
      cwd: repo,
      stdio: "ignore",
    },
  )
const exit = (child: ChildProcess) =>
  new Promise<number | null>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) r(child.exitCode)
    else child.on("exit", (code) => r(code))
  })
const checkpoints = (events: string) =>
  existsSync(events) ? (readFileSync(events, "utf8").match(/"_tag":"Checkpointed"/g) ?? []).length : 0

describe("kill -9 drill", () => {
  it("three SIGKILLs, each resumed: the final state is bit-identical to an uninterrupted run", async () => {
    const root = mkdtempSync(join(tmpdir(), "retort-kill-"))
    const file = join(root, "drill.json")
    writeFileSync(file, Codec.toJson(pipeline))
    // the uninterrupted run
    expect(await exit(retort(["run", file, "--out", join(root, "straight")]))).toBe(0)
    const reference = await Effect.runPromise(
      Checkpoint.load(join(root, "straight", "drill", "checkpoint.bin")),
    )
    // the killed one
    const dir = join(root, "killed", "drill")
    const events = join(dir, "events.jsonl")
    const delays = [40, 170, 90] // ms after the second new checkpoint: seeded, not random per run
    let kills = 0
    let child = retort(["run", file, "--out", join(root, "killed")])
    for (const delay of delays) {
      const before = checkpoints(events)
      const until = Date.now() + 60_000
      while (checkpoints(events) < before + 2 && child.exitCode === null && Date.now() < until)
        await new Promise((r) => setTimeout(r, 25))
      await new Promise((r) => setTimeout(r, delay))
      if (child.exitCode !== null) break // it finished before the kill: fewer kills
      child.kill("SIGKILL")
      await exit(child)
      kills++
      child = retort(["run", "--resume", dir])
    }
    expect(await exit(child)).toBe(0)
    expect(kills).toBe(3)
    const final = await Effect.runPromise(Checkpoint.load(join(dir, "checkpoint.bin")))
    expect(final.header.position).toEqual(reference.header.position)
    expect([...final.tensors.keys()].sort()).toEqual([...reference.tensors.keys()].sort())
    for (const [key, t] of reference.tensors) {
      const got = final.tensors.get(key)!
      expect(Buffer.from(got.values.buffer).equals(Buffer.from(t.values.buffer)), key).toBe(true)
    }
    expect(final.header.finished.map((f) => f.metrics)).toEqual(
      reference.header.finished.map((f) => f.metrics),
    )
    // the event log of the killed-and-resumed run reads back whole (torn lines were cut on resume)
    const log = await Effect.runPromise(Event.readEvents(events))
    expect(log.filter((e) => e._tag === "RunFinished")).toHaveLength(1)
  }, 240_000)
})
