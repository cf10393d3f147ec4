/**
 * Full and read-only disks, on a real (small) tmpfs: a run whose disk fills up mid-run stops with
 * an error that says the disk is full and names the last good checkpoint, which survives intact
 * (no half-written file replaces it, no temporary file is left); once space is freed, `--resume`
 * finishes the run bit-identical to one that never stopped (cpu backend). On a read-only file
 * system a new run and a resume both refuse at once with a sentence saying so — no stack trace.
 * Needs root to mount (CI runs as root); skips with the reason elsewhere.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { Codec, Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../../dsl/index.js"
import * as Checkpoint from "../../../src/runtime/Checkpoint.js"
import * as Tmpfs from "../../support/tmpfs.js"

const repo = join(import.meta.dirname, "../../..")
const phase = (name: string, lr: number) =>
  Phase.make({
    name,
    steps: 30,
    batchSize: 16,
    step: Step.start.pipe(
      Step.forward("net", { as: "o" }),
      Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
      Step.optimize("net", Optimizer.adam({ lr })),
    ),
    evaluate: Phase.evaluate({ models: ["net"], splits: [{ split: "test", limit: 50 }] }),
  })
const pipeline = Pipeline.make({
  name: "disk",
  seed: 3,
  data: Pipeline.data("mnist"),
  models: { net: Model.mlp({ hidden: [32], classes: 10 }) },
  checkpointEvery: 3,
  phases: [phase("a", 2e-3), phase("b", 1e-3)],
})

const retort = (args: ReadonlyArray<string>) => {
  const r = spawnSync(process.execPath, ["bin/retort.js", ...args, "--backend", "cpu", "--quiet"], {
    cwd: repo,
    encoding: "utf8",
    timeout: 120_000,
  })
  return { code: r.status, out: `${r.stdout}${r.stderr}` }
}
const noStack = (text: string) => expect(text).not.toMatch(/^\s+at .+[:(]/m)

const skip = Tmpfs.probe()
if (skip) console.warn(`disk drills skipped: ${skip}`)
const mounts: Array<Tmpfs.Tmpfs> = []
afterAll(() => {
  for (const m of mounts) m.unmount()
})

describe.skipIf(skip !== undefined)("full and read-only disks", () => {
  const root = mkdtempSync(join(tmpdir(), "retort-disk-"))
  const file = join(root, "disk.json")
  writeFileSync(file, Codec.toJson(pipeline))

  it("a disk that fills up mid-run: a clear error, the last good checkpoint intact, then a bit-identical resume", async () => {
    expect(retort(["run", file, "--out", join(root, "ref")]).code).toBe(0)
    const refPath = join(root, "ref", "disk", "checkpoint.bin")
    const size = statSync(refPath).size
    const reference = await Effect.runPromise(Checkpoint.load(refPath))

    const fs = Tmpfs.mount(4 * 1024 * 1024)
    if (typeof fs === "string") throw new Error(fs)
    mounts.push(fs)
    // leave room for one checkpoint, the logs and plots, but not for a second checkpoint beside it
    const free = () => {
      const out = spawnSync("df", ["-B1", "--output=avail", fs.dir], { encoding: "utf8" }).stdout
      return Number(out.trim().split("\n").at(-1))
    }
    const filler = join(fs.dir, "filler")
    writeFileSync(filler, Buffer.alloc(free() - size - 160 * 1024))
    const failed = retort(["run", file, "--out", fs.dir])
    expect(failed.code).toBe(1)
    expect(failed.out).toContain("the disk is full (ENOSPC)")
    expect(failed.out).toMatch(
      /the last good checkpoint \((phase "[ab]", step \d+|the end of phase "a")\) is intact/,
    )
    expect(failed.out).toContain(`--resume ${join(fs.dir, "disk")}`)
    noStack(failed.out)
    const dir = join(fs.dir, "disk")
    // the checkpoint on disk is whole (its checksum holds) and no temporary file was left
    const survived = await Effect.runPromise(Checkpoint.load(join(dir, "checkpoint.bin")))
    expect(survived.header.position.phase + survived.header.position.step).toBeGreaterThan(0)
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([])

    rmSync(filler)
    expect(retort(["run", "--resume", dir]).code).toBe(0)
    const final = await Effect.runPromise(Checkpoint.load(join(dir, "checkpoint.bin")))
    expect(final.header.position).toEqual(reference.header.position)
    for (const [key, t] of reference.tensors)
      expect(
        Buffer.from(final.tensors.get(key)!.values.buffer).equals(Buffer.from(t.values.buffer)),
        key,
      ).toBe(true)
    expect(final.header.finished.map((f) => f.metrics)).toEqual(
      reference.header.finished.map((f) => f.metrics),
    )

    // read-only: a resume and a new run refuse at once, saying why
    fs.remount("ro")
    for (const args of [
      ["run", "--resume", dir],
      ["run", file, "--out", fs.dir, "--name", "other"],
    ]) {
      const r = retort(args)
      expect(r.code, args.join(" ")).toBe(1)
      expect(r.out).toContain("the file system is read-only (EROFS)")
      noStack(r.out)
    }
    expect(existsSync(join(fs.dir, "other"))).toBe(false)
  }, 180_000)
})
