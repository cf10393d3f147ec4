/**
 * Hostile export paths: `retort export` writes inside the run directory by default and never
 * follows a symbolic link out of it; a `--out` folder of someone else's files is never written
 * into (an earlier export is); a file of the export that is a symbolic link is refused (writing
 * would follow it); a model name that is a path is refused before anything is written.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../../dsl/index.js"
import { Reporter } from "../../../src/report/Reporter.js"
import * as Deploy from "../../../src/runtime/Deploy.js"
import { run } from "../../../src/runtime/Run.js"

const pipeline = Pipeline.make({
  name: "exp",
  data: Pipeline.data("mnist"),
  models: { student: Model.mlp({ hidden: [8], classes: 10 }) },
  phases: [
    Phase.make({
      name: "train",
      steps: 2,
      batchSize: 8,
      step: Step.start.pipe(
        Step.forward("student", { as: "o" }),
        Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
        Step.optimize("student", Optimizer.adam({ lr: 1e-3 })),
      ),
    }),
  ],
})

const exportTo = (dir: string, model: string, out?: string) =>
  Effect.runPromise(
    Effect.result(Effect.scoped(Deploy.exportModel(dir, model, out !== undefined ? { out } : {}))),
  )
const message = (r: Result.Result<unknown, { message: string }>) =>
  Result.isFailure(r) ? r.failure.message : "(it succeeded)"

let root = ""
let runDir = ""
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "retort-export-"))
  const r = await Effect.runPromise(
    run(pipeline, { backend: "cpu", outDir: join(root, "runs"), reporter: Reporter.quiet }),
  )
  runDir = r.dir
}, 60_000)

describe("export paths", () => {
  it("never follows a symbolic link out of the run directory", async () => {
    const elsewhere = join(root, "elsewhere")
    mkdirSync(elsewhere)
    symlinkSync(elsewhere, join(runDir, "export"))
    const r = await exportTo(runDir, "student")
    expect(message(r)).toContain("is a symbolic link")
    expect(readdirSync(elsewhere)).toEqual([])
  })

  it("a --out folder of other files is left alone; an earlier export is replaced", async () => {
    const theirs = join(root, "site")
    mkdirSync(theirs)
    writeFileSync(join(theirs, "index.html"), "<h1>my site</h1>")
    writeFileSync(join(theirs, "model.json"), "{}")
    const r = await exportTo(runDir, "student", theirs)
    expect(message(r)).toContain("not a Retort export")
    expect(readFileSync(join(theirs, "index.html"), "utf8")).toBe("<h1>my site</h1>")
    expect(readFileSync(join(theirs, "model.json"), "utf8")).toBe("{}")
    // a new folder, then the same folder again (an earlier export): fine
    const mine = join(root, "deploy")
    expect(Result.isSuccess(await exportTo(runDir, "student", mine))).toBe(true)
    expect(Result.isSuccess(await exportTo(runDir, "student", mine))).toBe(true)
    expect(JSON.parse(readFileSync(join(mine, "data.json"), "utf8")).exporter).toBe("retort")
  })

  it("refuses to write through a symbolic link inside an earlier export", async () => {
    const mine = join(root, "linked")
    expect(Result.isSuccess(await exportTo(runDir, "student", mine))).toBe(true)
    const victim = join(root, "victim.txt")
    const precious = '{"exporter": "retort", "mine": "precious"}'
    writeFileSync(victim, precious)
    rmSync(join(mine, "data.json"))
    symlinkSync(victim, join(mine, "data.json"))
    const r = await exportTo(runDir, "student", mine)
    expect(message(r)).toContain("is a symbolic link")
    expect(readFileSync(victim, "utf8")).toBe(precious)
  })

  it("a model name that is a path is refused before anything is written", async () => {
    const r = await exportTo(runDir, "../../escaped")
    expect(Result.isFailure(r)).toBe(true)
    expect(existsSync(join(runDir, "..", "..", "escaped"))).toBe(false)
  })
})
