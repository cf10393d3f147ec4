/**
 * `npx tsx bench/decode.ts`: decode throughput of `ImageFolder.load` (sharp) on generated
 * folders — (a) 32×32 PNGs loaded at their own size, with and without `size`, and (b) 640×480
 * JPEGs resized to 32×32 — with the cache off, then the time of a cached second load. Each
 * figure is the median of `--rounds` runs (wall clock, images per second).
 *
 *   npx tsx bench/decode.ts [--rounds 3] [--pngs 2000] [--jpegs 300] [--concurrency N]
 *
 * @since 0.1.0
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { availableParallelism, tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { parseArgs } from "node:util"
import { Effect } from "effect"
import sharp from "sharp"
import * as ImageFolder from "../src/data/ImageFolder.js"

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    pngs: { type: "string", default: "2000" },
    jpegs: { type: "string", default: "300" },
    concurrency: { type: "string" },
  },
})
const rounds = Number(values.rounds)
const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency)
const work = mkdtempSync(join(tmpdir(), "retort-bench-decode-"))

/** Seeded noise over a smooth gradient: compresses like a photo, not like a flat colour. */
const picture = (width: number, height: number, seed: number) => {
  const data = Buffer.alloc(width * height * 3)
  let s = seed >>> 0 || 1
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0
        const base = ((x * (c + 1) * 255) / width + (y * 255) / height + seed * 37) % 256
        data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, base + ((s >>> 24) % 32) - 16))
      }
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } })
}

const makeFolder = async (
  name: string,
  n: number,
  classes: number,
  write: (i: number, file: string) => Promise<unknown>,
  ext: string,
) => {
  const dir = join(work, name)
  for (let c = 0; c < classes; c++) mkdirSync(join(dir, `class-${c}`), { recursive: true })
  const queue = Array.from({ length: n }, (_, i) => i)
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        await write(i, join(dir, `class-${i % classes}`, `${String(i).padStart(5, "0")}.${ext}`))
      }
    }),
  )
  return dir
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const time = async (options: ImageFolder.Options) => {
  const start = performance.now()
  const loaded = await Effect.runPromise(ImageFolder.load(options))
  return { ms: performance.now() - start, loaded }
}

const row = (label: string, n: number, ms: number) =>
  console.log(
    `${label.padEnd(52)} ${ms.toFixed(0).padStart(7)} ms ${((n / ms) * 1000).toFixed(0).padStart(7)} img/s`,
  )

const main = async () => {
  const nPng = Number(values.pngs)
  const nJpeg = Number(values.jpegs)
  console.log(
    `sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), ${availableParallelism()} cores, ` +
      `UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? "4 (default)"}, concurrency ${concurrency ?? "default"}, ` +
      `median of ${rounds}`,
  )
  const pngDir = await makeFolder("png", nPng, 10, (i, f) => picture(32, 32, i).png().toFile(f), "png")
  const jpegDir = await makeFolder(
    "jpeg",
    nJpeg,
    3,
    (i, f) => picture(640, 480, i).jpeg({ quality: 90 }).toFile(f),
    "jpg",
  )
  const c = concurrency === undefined ? {} : { concurrency }
  const cases: ReadonlyArray<[string, number, ImageFolder.Options]> = [
    [`(a) ${nPng} PNG 32×32, size from the files`, nPng, { path: pngDir, cache: false, ...c }],
    [`(a) ${nPng} PNG 32×32, size [32, 32]`, nPng, { path: pngDir, size: [32, 32], cache: false, ...c }],
    [
      `(b) ${nJpeg} JPEG 640×480 → 32×32 (cover)`,
      nJpeg,
      { path: jpegDir, size: [32, 32], cache: false, ...c },
    ],
  ]
  for (const [label, n, options] of cases) {
    await time(options) // warm-up: page cache, libvips start-up
    const ms: Array<number> = []
    for (let r = 0; r < rounds; r++) ms.push((await time(options)).ms)
    row(label, n, median(ms))
  }
  for (const [label, n, dir, size] of [
    ["(a)", nPng, pngDir, [32, 32]],
    ["(b)", nJpeg, jpegDir, [32, 32]],
  ] as const) {
    const cacheDir = join(work, `cache-${label}`)
    const first = await time({ path: dir, size, cacheDir, ...c })
    const ms: Array<number> = []
    for (let r = 0; r < rounds; r++) {
      const again = await time({ path: dir, size, cacheDir, ...c })
      if (!again.loaded.fromCache) throw new Error("the second load did not come from the cache")
      ms.push(again.ms)
    }
    row(`${label} first load with the cache (decode + write)`, n, first.ms)
    row(`${label} second load, from the cache`, n, median(ms))
  }
}

main()
  .catch((e) => {
    console.error(e)
    process.exitCode = 1
  })
  .finally(() => rmSync(work, { recursive: true, force: true }))
