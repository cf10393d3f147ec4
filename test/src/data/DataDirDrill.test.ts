/**
 * Damaged data files under `--data-dir`, through the real CLI: a truncated, bit-flipped, empty or
 * foreign Fashion-MNIST file stops `retort run` before training with a sentence naming the file —
 * no stack trace, no silent fall-back to another copy, no training on garbage. Uses the Debian
 * package's files as the intact copy (skips without them).
 */
import { spawnSync } from "node:child_process"
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import { describe, expect, it } from "vitest"
import { Codec, Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../../dsl/index.js"

const system = "/usr/share/datasets/fashion-mnist"
const files = [
  "train-images-idx3-ubyte.gz",
  "train-labels-idx1-ubyte.gz",
  "t10k-images-idx3-ubyte.gz",
  "t10k-labels-idx1-ubyte.gz",
]
const have = files.every((f) => existsSync(join(system, f)))
if (!have)
  console.warn(
    `data-dir drill skipped: no Fashion-MNIST in ${system} (apt-get install dataset-fashion-mnist)`,
  )

const repo = join(import.meta.dirname, "../../..")
const pipeline = (source: "fashion-mnist" | "fashion-or-mnist") =>
  Pipeline.make({
    name: "datadrill",
    data: Pipeline.data(source),
    models: { net: Model.mlp({ hidden: [8], classes: 10 }) },
    phases: [
      Phase.make({
        name: "train",
        steps: 1,
        batchSize: 8,
        step: Step.start.pipe(
          Step.forward("net", { as: "o" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
          Step.optimize("net", Optimizer.adam({ lr: 1e-3 })),
        ),
      }),
    ],
  })

type Damage = (bytes: Buffer) => Buffer
const damages: ReadonlyArray<readonly [string, string, Damage]> = [
  ["truncated", "train-images-idx3-ubyte.gz", (b) => b.subarray(0, Math.floor(b.length / 2))],
  [
    "bit-flipped",
    "train-images-idx3-ubyte.gz",
    (b) => {
      const c = Buffer.from(b)
      c[Math.floor(c.length / 3)]! ^= 0x10
      return c
    },
  ],
  ["zero-byte", "t10k-labels-idx1-ubyte.gz", () => Buffer.alloc(0)],
  ["foreign", "train-labels-idx1-ubyte.gz", () => Buffer.from("<html>404 not found</html>\n")],
  ["truncated, uncompressed", "t10k-images-idx3-ubyte.gz", (b) => gunzipSync(b).subarray(0, 5000)],
]

describe.skipIf(!have)("damaged data under --data-dir", () => {
  const root = mkdtempSync(join(tmpdir(), "retort-datadrill-"))
  for (const source of ["fashion-mnist", "fashion-or-mnist"] as const)
    for (const [kind, name, damage] of source === "fashion-mnist" ? damages : damages.slice(0, 1))
      it(`${source}: ${kind} ${name}: refused before training, the file named${source === "fashion-or-mnist" ? " (no quiet switch to MNIST)" : ""}`, () => {
        const file = join(root, `${source}.json`)
        writeFileSync(file, Codec.toJson(pipeline(source)))
        const dir = mkdtempSync(join(root, "data-"))
        for (const f of files) copyFileSync(join(system, f), join(dir, f))
        const damaged = kind.includes("uncompressed") ? name.replace(/\.gz$/, "") : name
        writeFileSync(join(dir, damaged), damage(readFileSync(join(system, name))))
        if (damaged !== name) spawnSync("rm", [join(dir, name)])
        const r = spawnSync(
          process.execPath,
          [
            "bin/retort.js",
            "run",
            file,
            "--data-dir",
            dir,
            "--no-download",
            "--backend",
            "cpu",
            "--quiet",
            "--out",
            join(root, "runs"),
          ],
          { cwd: repo, encoding: "utf8", timeout: 120_000 },
        )
        const out = `${r.stdout}${r.stderr}`
        expect(r.status, out).toBe(1)
        expect(out).toContain(join(dir, damaged))
        expect(out).not.toMatch(/^\s+at .+[:(]/m)
        expect(existsSync(join(root, "runs", "datadrill", "checkpoint.bin"))).toBe(false)
      }, 60_000)
})
