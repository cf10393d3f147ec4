/**
 * Deployment proven in a real browser: a model trained on an image folder (with the training
 * split's normalisation) is exported with `--page`, served with the TF.js scripts from
 * 127.0.0.1, loaded in headless Chromium (Debian's `chromium`, driven by playwright-core — no
 * browser download), and the page's logits must equal Node's within 1e-5 on real images; then a
 * user's click: an image chosen in the file input is classified with the class names.
 *
 * Without Chromium the test says so and skips (`.ci/run` installs it, so CI runs it).
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { extname, join, normalize } from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Model } from "../../dsl/index.js"
import { make as makeTeacher } from "../../pipelines/folder-teacher.js"
import { make as makeBackend } from "../../src/backend/Backend.js"
import * as ImageFolder from "../../src/data/ImageFolder.js"
import * as RunDir from "../../src/probes/RunDir.js"
import { Reporter } from "../../src/report/Reporter.js"
import * as Deploy from "../../src/runtime/Deploy.js"
import { run } from "../../src/runtime/Run.js"
import { classNames, makeFolder } from "../support/folder.js"

const chromium = process.env.RETORT_CHROMIUM ?? "/usr/bin/chromium"
const haveChromium = existsSync(chromium)
if (!haveChromium)
  console.warn(
    `browser test skipped: no Chromium at ${chromium} (apt-get install chromium, or set RETORT_CHROMIUM)`,
  )

const root = mkdtempSync(join(tmpdir(), "retort-browser-"))
process.env.XDG_CACHE_HOME = join(root, "cache")

const types: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".json": "application/json",
  ".bin": "application/octet-stream",
}

let server: http.Server
let base = ""
let exportDir = ""
let runDir = ""
const files = [0, 1, 2].flatMap((c) =>
  [0, 7].map((i) => join(root, "images", classNames[c]!, `${String(i).padStart(3, "0")}.png`)),
)

beforeAll(async () => {
  if (!haveChromium) return
  await Effect.runPromise(Effect.scoped(makeBackend({ kind: "cpu" })))
  await makeFolder(join(root, "images"), { classes: 3, perClass: 8 })
  const p = makeTeacher({ path: join(root, "images"), classes: 3, epochs: 1 })
  const pipeline = {
    ...p,
    models: {
      teacher: Model.resnet({
        stem: { filters: 4 },
        blocks: [
          { filters: 4, stride: 2 },
          { filters: 8, stride: 2 },
        ],
        batchNorm: true,
        classes: 3,
        input: [32, 32, 3] as const,
      }),
    },
    phases: p.phases.map((ph) => ({ ...ph, batchSize: 8 })),
  }
  const result = await Effect.runPromise(
    run(pipeline, { backend: "cpu", outDir: join(root, "runs"), reporter: Reporter.quiet, maxSteps: 3 }),
  )
  runDir = result.dir
  exportDir = (await Effect.runPromise(Effect.scoped(Deploy.exportModel(runDir, "teacher", { page: true }))))
    .dir
  server = http.createServer((req, res) => {
    const path = normalize(join(exportDir, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)))
    if (!path.startsWith(exportDir) || !existsSync(path)) {
      res.writeHead(404)
      res.end()
      return
    }
    res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" })
    res.end(readFileSync(path))
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}, 300_000)

afterAll(async () => {
  if (server) await new Promise<void>((r) => server.close(() => r()))
})

describe.skipIf(!haveChromium)("an exported model in headless Chromium", () => {
  it("predicts what Node predicts (within 1e-5), and classifies a chosen image with its class name", async () => {
    const { chromium: browserType } = await import("playwright-core")
    const decoded = await Effect.runPromise(
      ImageFolder.decodeFiles(files, { size: [32, 32], channels: 3, fit: "cover" }),
    )
    expect(decoded.n).toBe(files.length)
    // Node: the run's model with its checkpoint, through Retort's own forward
    const node = await Effect.runPromise(
      Effect.scoped(
        Effect.map(RunDir.openModel(runDir, "teacher"), (m) =>
          tf.tidy(() =>
            m.built
              .apply(m.built.params, tf.tensor4d(decoded.x, [decoded.n, 32, 32, 3]), {
                train: false,
                state: m.built.state,
              })
              .logits.arraySync(),
          ),
        ),
      ),
    )
    const browser = await browserType.launch({
      executablePath: chromium,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    })
    try {
      const page = await browser.newPage()
      const errors: Array<string> = []
      page.on("pageerror", (e) => errors.push(String(e)))
      await page.goto(`${base}/index.html`)
      await page.waitForFunction(() => (window as unknown as { retort?: unknown }).retort !== undefined)
      await page.evaluate(() => (window as unknown as { retort: { ready: Promise<boolean> } }).retort.ready)
      expect(await page.textContent("#status")).toMatch(/^ready: 32×32×3 input, 3 classes/)
      const inBrowser = (await page.evaluate(
        ([pixels, n]) =>
          (
            window as unknown as {
              retort: { predict: (p: ReadonlyArray<number>, n: number) => Promise<unknown> }
            }
          ).retort.predict(pixels as ReadonlyArray<number>, n as number),
        [Array.from(decoded.x), decoded.n] as const,
      )) as Array<Array<number>>
      expect(inBrowser).toHaveLength(files.length)
      let max = 0
      inBrowser.forEach((row, i) => {
        row.forEach((v, j) => {
          max = Math.max(max, Math.abs(v - node[i]![j]!))
        })
      })
      expect(max).toBeLessThan(1e-5)
      // a user picks a file: the page lists the top classes by name
      await page.setInputFiles("#file", files[0]!)
      await page.waitForSelector("#top tr")
      const first = await page.textContent("#top tr td")
      expect(classNames.slice(0, 3)).toContain(first as (typeof classNames)[number])
      expect(errors).toEqual([])
    } finally {
      await browser.close()
    }
  })
})
