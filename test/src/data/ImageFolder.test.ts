import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { basename, dirname, join } from "node:path"
import { Effect } from "effect"
import sharp from "sharp"
import { afterAll, describe, expect, it } from "vitest"
import * as Dataset from "../../../src/data/Dataset.js"
import * as ImageFolder from "../../../src/data/ImageFolder.js"
import { DataError } from "../../../src/errors.js"

const root = mkdtempSync(join(tmpdir(), "retort-imagefolder-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let counter = 0
const fresh = (label: string) => {
  const d = join(root, `${label}-${counter++}`)
  mkdirSync(d, { recursive: true })
  return d
}
const cacheDir = () => fresh("cache")

type Pixels = ReadonlyArray<number>
const raw = (width: number, height: number, channels: 1 | 2 | 3 | 4, pixels: Pixels) => {
  expect(pixels.length).toBe(width * height * channels)
  return sharp(Buffer.from(pixels), { raw: { width, height, channels } })
}
const png = async (file: string, width: number, height: number, channels: 1 | 2 | 3 | 4, pixels: Pixels) => {
  mkdirSync(dirname(file), { recursive: true })
  await raw(width, height, channels, pixels).png().toFile(file)
}
const jpeg = async (file: string, width: number, height: number, pixels: Pixels, orientation?: number) => {
  mkdirSync(dirname(file), { recursive: true })
  const image = raw(width, height, 3, pixels).jpeg({ quality: 95, chromaSubsampling: "4:4:4" })
  await (orientation ? image.withMetadata({ orientation }) : image).toFile(file)
}
const solid = (width: number, height: number, rgb: readonly [number, number, number]) =>
  Array.from({ length: width * height }, () => rgb).flat()
/** A tiny grey PNG whose every pixel is `value`: identifies the image after a split. */
const tagged = (file: string, value: number) => png(file, 2, 2, 1, [value, value, value, value])

const run = <A>(effect: Effect.Effect<A, DataError>) => Effect.runPromise(effect)
const failure = (effect: Effect.Effect<unknown, DataError>) => Effect.runPromise(Effect.flip(effect))
/** The 8-bit values of image `i` of a split. */
const bytesOf = (split: Dataset.Split, i: number) => {
  const size = split.x.length / split.n
  return Array.from(split.x.subarray(i * size, (i + 1) * size), (v) => Math.round(v * 255))
}
const tags = (split: Dataset.Split) => Array.from({ length: split.n }, (_, i) => bytesOf(split, i)[0]!)

describe("ImageFolder.scan", () => {
  it("finds classes (code-point order), image files and ignored files, skipping hidden ones", async () => {
    const dir = fresh("scan")
    await tagged(join(dir, "a", "1.png"), 1)
    await tagged(join(dir, "a", "nested", "2.PNG"), 2)
    await tagged(join(dir, "B", "1.png"), 3)
    await tagged(join(dir, "é", "1.png"), 4)
    await tagged(join(dir, ".hidden", "1.png"), 5)
    await tagged(join(dir, "a", ".secret.png"), 6)
    writeFileSync(join(dir, "a", "notes.txt"), "not an image")
    const found = await run(ImageFolder.scan(dir))
    expect(found.layout).toBe("flat")
    expect(found.classNames).toEqual(["B", "a", "é"])
    expect(found.files.map((f) => [f.relative, f.label, f.tree])).toEqual([
      ["B/1.png", 0, "train"],
      ["a/1.png", 1, "train"],
      ["a/nested/2.PNG", 1, "train"],
      ["é/1.png", 2, "train"],
    ])
    expect(found.ignored).toEqual(["a/notes.txt"])
    expect(found.warnings.join("\n")).toContain("a/notes.txt")
  })
})

describe("ImageFolder.load: layouts and pixels", () => {
  it("loads a flat layout of 3 classes", async () => {
    const dir = join(fresh("flat"), "shapes")
    for (const [c, name] of ["circle", "square", "triangle"].entries()) {
      for (let i = 0; i < 3; i++) await tagged(join(dir, name, `${i}.png`), 10 * c + i)
    }
    writeFileSync(join(dir, "README.md"), "# shapes")
    const { dataset, warnings, files, skipped, fromCache } = await run(
      ImageFolder.load({ path: dir, cacheDir: cacheDir() }),
    )
    expect(dataset.name).toBe("shapes")
    expect(dataset.classNames).toEqual(["circle", "square", "triangle"])
    expect(dataset.classes).toBe(3)
    expect(dataset.shape).toEqual([2, 2, 3])
    expect(dataset.train.n).toBe(9)
    expect(Array.from(dataset.train.y)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2])
    expect(tags(dataset.train)).toEqual([0, 1, 2, 10, 11, 12, 20, 21, 22])
    expect(dataset.validation).toBeUndefined()
    expect(dataset.test.n).toBe(0)
    expect(files).toBe(9)
    expect(skipped).toEqual([])
    expect(fromCache).toBe(false)
    expect(warnings.join("\n")).toMatch(/ignored 1 file .*README\.md/)
  })

  it("decodes PNGs (and a lossless WebP) exactly: grey, RGB, RGBA (alpha dropped), to 3 or 1 channels", async () => {
    const dir = fresh("exact")
    const grey = [0, 17, 100, 128, 200, 255]
    const rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90]
    const rgba = [1, 2, 3, 0, 4, 5, 6, 50, 7, 8, 9, 100, 250, 251, 252, 255, 11, 22, 33, 128, 44, 55, 66, 7]
    await png(join(dir, "grey", "g.png"), 3, 2, 1, grey)
    await png(join(dir, "rgb", "c.png"), 3, 2, 3, rgb)
    await png(join(dir, "rgba", "a.png"), 3, 2, 4, rgba)
    await raw(3, 2, 3, rgb)
      .webp({ lossless: true })
      .toFile(join(dir, "rgb", "w.webp"))
    const dropAlpha = rgba.filter((_, i) => i % 4 !== 3)
    const three = await run(ImageFolder.load({ path: dir, cacheDir: cacheDir() }))
    expect(three.dataset.shape).toEqual([2, 3, 3])
    expect(bytesOf(three.dataset.train, 0)).toEqual(grey.flatMap((v) => [v, v, v]))
    expect(bytesOf(three.dataset.train, 1)).toEqual(rgb)
    expect(bytesOf(three.dataset.train, 2)).toEqual(rgb) // the lossless WebP
    expect(bytesOf(three.dataset.train, 3)).toEqual(dropAlpha)
    // the floats are the bytes divided by 255, exactly
    expect(three.dataset.train.x[3]).toBe(Math.fround(17 / 255))
    // an explicit size equal to the images' own changes nothing
    const sized = await run(ImageFolder.load({ path: dir, size: [2, 3], cacheDir: cacheDir() }))
    expect(Array.from(sized.dataset.train.x)).toEqual(Array.from(three.dataset.train.x))
    const one = await run(ImageFolder.load({ path: dir, channels: 1, cacheDir: cacheDir() }))
    expect(one.dataset.shape).toEqual([2, 3, 1])
    expect(bytesOf(one.dataset.train, 0)).toEqual(grey)
    // colour to grey: one channel, and pure red is neither black nor white
    expect(bytesOf(one.dataset.train, 1)).toHaveLength(6)
    expect(bytesOf(one.dataset.train, 1)[0]).toBeGreaterThan(40)
    expect(bytesOf(one.dataset.train, 1)[0]).toBeLessThan(200)
  })

  it("decodes JPEGs (approximately) and applies the EXIF orientation", async () => {
    const dir = fresh("jpeg")
    const w = 16
    const h = 8
    const gradient = Array.from({ length: w * h }, (_, i) => {
      const x = i % w
      const y = Math.floor(i / w)
      return [16 * x, 30 * y, 128]
    }).flat()
    await jpeg(join(dir, "a", "g.jpg"), w, h, gradient)
    await jpeg(join(dir, "b", "g.JPEG"), w, h, gradient)
    const { dataset } = await run(ImageFolder.load({ path: dir, cacheDir: cacheDir() }))
    expect(dataset.shape).toEqual([8, 16, 3])
    const got = bytesOf(dataset.train, 0)
    const worst = Math.max(...got.map((v, i) => Math.abs(v - gradient[i]!)))
    expect(worst).toBeLessThanOrEqual(12)
    expect(worst).toBeGreaterThan(0) // lossy, so not a PNG by mistake
    // orientation 6 (rotate 90° clockwise): a 16×8 image becomes 8 wide, 16 high
    const turned = fresh("exif")
    await jpeg(join(turned, "a", "r.jpg"), w, h, gradient, 6)
    const rotated = await run(ImageFolder.load({ path: turned, cacheDir: cacheDir() }))
    expect(rotated.dataset.shape).toEqual([16, 8, 3])
  })

  it("resizes images of different sizes to `size`; a constant colour stays that colour for every fit", async () => {
    const dir = fresh("sizes")
    const red = [200, 30, 40] as const
    const green = [20, 180, 60] as const
    const blue = [10, 20, 230] as const
    await png(join(dir, "red", "r.png"), 8, 8, 3, solid(8, 8, red))
    await png(join(dir, "green", "g.png"), 16, 8, 3, solid(16, 8, green)) // wide
    await jpeg(join(dir, "blue", "b.jpg"), 6, 14, solid(6, 14, blue)) // tall
    for (const fit of ["cover", "fill", "contain"] as const) {
      const { dataset } = await run(ImageFolder.load({ path: dir, size: [6, 6], fit, cacheDir: cacheDir() }))
      expect(dataset.shape).toEqual([6, 6, 3])
      const colours = [blue, green, red] // classes in code-point order
      for (let i = 0; i < 3; i++) {
        const px = bytesOf(dataset.train, i)
        const pixel = (y: number, x: number) => px.slice((y * 6 + x) * 3, (y * 6 + x) * 3 + 3)
        const near = (got: ReadonlyArray<number>, want: ReadonlyArray<number>) =>
          got.every((v, k) => Math.abs(v - want[k]!) <= 3)
        expect(near(pixel(3, 3), colours[i]!)).toBe(true)
        if (fit === "contain" && i < 2) {
          // letterboxed on black: wide → bars above and below, tall → left and right
          expect(pixel(0, 0)).toEqual([0, 0, 0])
          expect(i === 1 ? near(pixel(3, 0), green) : near(pixel(0, 3), blue)).toBe(true)
        } else {
          for (let y = 0; y < 6; y++)
            for (let x = 0; x < 6; x++) expect(near(pixel(y, x), colours[i]!)).toBe(true)
        }
      }
    }
    const e = await failure(ImageFolder.load({ path: dir, cacheDir: cacheDir() }))
    expect(e).toBeInstanceOf(DataError)
    expect(e.message).toContain(join(dir, "blue", "b.jpg"))
    expect(e.message).toContain(join(dir, "green", "g.png"))
    expect(e.message).toContain("14×6")
    expect(e.hint).toContain("size")
  })

  it("reads train/valid/test sub-trees; a held-out class the training tree lacks is an error", async () => {
    const dir = fresh("trees")
    await tagged(join(dir, "train", "ant", "1.png"), 1)
    await tagged(join(dir, "train", "ant", "2.png"), 2)
    await tagged(join(dir, "train", "bee", "1.png"), 3)
    await tagged(join(dir, "train", "bee", "2.png"), 4)
    await tagged(join(dir, "valid", "bee", "1.png"), 5)
    await tagged(join(dir, "test", "ant", "1.png"), 6)
    await tagged(join(dir, "test", "bee", "1.png"), 7)
    const found = await run(ImageFolder.scan(dir))
    expect(found.layout).toBe("split")
    expect(found.trees).toEqual({
      train: join(dir, "train"),
      validation: join(dir, "valid"),
      test: join(dir, "test"),
    })
    const { dataset, warnings } = await run(
      ImageFolder.load({ path: dir, validation: 0.5, cacheDir: cacheDir() }),
    )
    expect(dataset.classNames).toEqual(["ant", "bee"])
    expect(tags(dataset.train)).toEqual([1, 2, 3, 4])
    expect(tags(dataset.validation!)).toEqual([5])
    expect(Array.from(dataset.validation!.y)).toEqual([1])
    expect(tags(dataset.test)).toEqual([6, 7])
    expect(Array.from(dataset.test.y)).toEqual([0, 1])
    expect(warnings.join("\n")).toContain("ignored the validation hold-out")
    await tagged(join(dir, "test", "wasp", "1.png"), 8)
    const e = await failure(ImageFolder.load({ path: dir, cacheDir: cacheDir() }))
    expect(e.message).toContain(join(dir, "test", "wasp"))
    expect(e.message).toContain('"wasp" is not in the training tree')
  })
})

describe("ImageFolder.load: hold-outs", () => {
  const dir = join(root, "holdout")
  const prepare = async () => {
    if (existsSync(dir)) return
    const sizes = { a: 10, b: 6, c: 1 }
    let tag = 0
    for (const [name, n] of Object.entries(sizes)) {
      for (let i = 0; i < n; i++) await tagged(join(dir, name, `${String(i).padStart(2, "0")}.png`), ++tag)
    }
  }
  const cache = join(root, "holdout-cache")

  it("holds out a seeded, stratified validation split; every class keeps a training image", async () => {
    await prepare()
    const first = await run(ImageFolder.load({ path: dir, validation: 4, seed: 1, cacheDir: cache }))
    const v = first.dataset.validation!
    expect(v.n).toBe(4)
    expect(first.dataset.train.n).toBe(13)
    // 4 × (10, 6, 1) / 17 → (2.35, 1.41, 0.24): largest remainders give (2, 2, 0)
    expect(Array.from(Dataset.classCounts(v, 3))).toEqual([2, 2, 0])
    expect(Array.from(Dataset.classCounts(first.dataset.train, 3))).toEqual([8, 4, 1])
    expect(first.warnings.join("\n")).toMatch(/class "c" has a single training image/)
    // each split keeps the folder's order; together they are all images, once
    const all = [...tags(first.dataset.train), ...tags(v)].sort((a, b) => a - b)
    expect(all).toEqual(Array.from({ length: 17 }, (_, i) => i + 1))
    expect(tags(v)).toEqual([...tags(v)].sort((a, b) => a - b))
    // deterministic for a seed (and taken after the cache: nothing is decoded again)
    const again = await run(ImageFolder.load({ path: dir, validation: 4, seed: 1, cacheDir: cache }))
    expect(again.fromCache).toBe(true)
    expect(tags(again.dataset.validation!)).toEqual(tags(v))
    const other = await run(ImageFolder.load({ path: dir, validation: 4, seed: 2, cacheDir: cache }))
    expect(other.fromCache).toBe(true)
    expect(tags(other.dataset.validation!)).not.toEqual(tags(v))
  })

  it("takes a fraction for test and a count for validation together, without overlap", async () => {
    await prepare()
    const { dataset } = await run(ImageFolder.load({ path: dir, validation: 3, test: 0.25, cacheDir: cache }))
    expect(dataset.test.n).toBe(4) // round(0.25 × 17)
    expect(dataset.validation!.n).toBe(3)
    expect(dataset.train.n).toBe(10)
    const counts = Dataset.classCounts(dataset.train, 3)
    expect(Array.from(counts).every((c) => c >= 1)).toBe(true)
    const all = [...tags(dataset.train), ...tags(dataset.validation!), ...tags(dataset.test)].sort(
      (a, b) => a - b,
    )
    expect(all).toEqual(Array.from({ length: 17 }, (_, i) => i + 1))
    // the test split does not depend on whether a validation split is asked for too
    const testOnly = await run(ImageFolder.load({ path: dir, test: 0.25, cacheDir: cache }))
    expect(tags(testOnly.dataset.test)).toEqual(tags(dataset.test))
    expect(testOnly.dataset.validation).toBeUndefined()
  })

  it("fails when the hold-out would take a class's last training image, or is malformed", async () => {
    await prepare()
    const e = await failure(ImageFolder.load({ path: dir, validation: 15, cacheDir: cache }))
    expect(e.message).toContain("at most 14 can be held out")
    const bad = await failure(ImageFolder.load({ path: dir, test: 2.5, cacheDir: cache }))
    expect(bad.message).toContain("test must be a count")
  })
})

describe("ImageFolder.load: folders that are not right", () => {
  it("fails for a folder without class folders, naming the path", async () => {
    const dir = fresh("none")
    const e = await failure(ImageFolder.load({ path: dir, cacheDir: cacheDir() }))
    expect(e.message).toContain(`no class folders in ${dir}: expected one sub-folder per class`)
    expect(e.message).not.toContain("must be in class sub-folders")
    const missing = await failure(ImageFolder.load({ path: join(dir, "nope"), cacheDir: cacheDir() }))
    expect(missing.message).toContain(join(dir, "nope"))
  })

  it("says that images directly in the root must be in class sub-folders", async () => {
    const dir = fresh("loose")
    await tagged(join(dir, "1.png"), 1)
    await tagged(join(dir, "2.jpg.png"), 2)
    const e = await failure(ImageFolder.load({ path: dir, cacheDir: cacheDir() }))
    expect(e.message).toContain(`no class folders in ${dir}`)
    expect(e.message).toContain(`the 2 image files directly in ${dir} must be in class sub-folders`)
  })

  it("fails for an empty class folder, naming it", async () => {
    const dir = fresh("empty-class")
    await tagged(join(dir, "full", "1.png"), 1)
    mkdirSync(join(dir, "hollow"))
    writeFileSync(join(dir, "hollow", "readme.txt"), "no images here")
    const e = await failure(ImageFolder.load({ path: dir, cacheDir: cacheDir() }))
    expect(e.message).toContain(join(dir, "hollow"))
    expect(e.message).toContain("holds no images")
  })

  it("keeps a class with a single image and warns", async () => {
    const dir = fresh("single")
    await tagged(join(dir, "many", "1.png"), 1)
    await tagged(join(dir, "many", "2.png"), 2)
    await tagged(join(dir, "one", "1.png"), 3)
    const { dataset, warnings } = await run(
      ImageFolder.load({ path: dir, validation: 1, cacheDir: cacheDir() }),
    )
    expect(Array.from(dataset.train.y)).toEqual([0, 1])
    expect(Array.from(dataset.validation!.y)).toEqual([0])
    expect(warnings).toContain(
      'class "one" has a single training image: it stays in training and cannot appear in a held-out split',
    )
  })
})

describe("ImageFolder.load: undecodable images", () => {
  const make = async () => {
    const dir = fresh("corrupt")
    for (let i = 0; i < 3; i++) await tagged(join(dir, "a", `${i}.png`), i)
    await jpeg(join(dir, "b", "ok.jpg"), 2, 2, solid(2, 2, [9, 9, 9]))
    await jpeg(join(dir, "b", "t.jpg"), 32, 32, solid(32, 32, [50, 60, 70]))
    const whole = readFileSync(join(dir, "b", "t.jpg"))
    writeFileSync(join(dir, "b", "t.jpg"), whole.subarray(0, Math.floor(whole.length / 2)))
    let s = 12345
    writeFileSync(
      join(dir, "a", "x.png"),
      Buffer.from(Array.from({ length: 300 }, () => (s = (s * 1103515245 + 12345) >>> 0) >>> 24)),
    )
    return dir
  }

  it("skips a random-bytes PNG and a truncated JPEG with a warning naming them", async () => {
    const dir = await make()
    for (const size of [undefined, [2, 2] as const]) {
      const loaded = await run(
        ImageFolder.load({ path: dir, cacheDir: cacheDir(), ...(size ? { size } : {}) }),
      )
      expect(loaded.files).toBe(6)
      expect(loaded.dataset.train.n).toBe(4)
      expect(loaded.skipped.map((s) => s.file)).toEqual([join(dir, "a", "x.png"), join(dir, "b", "t.jpg")])
      expect(loaded.skipped.every((s) => s.reason.length > 0)).toBe(true)
      const line = loaded.warnings.find((w) => w.startsWith("skipped"))
      expect(line).toMatch(
        /^skipped 2 of 6 images that could not be decoded: a\/x\.png \(.+\), b\/t\.jpg \(.+\)$/,
      )
    }
  })

  it("fails with `strict`, naming the file", async () => {
    const dir = await make()
    rmSync(join(dir, "a", "x.png"))
    const e = await failure(ImageFolder.load({ path: dir, size: [2, 2], strict: true, cacheDir: cacheDir() }))
    expect(e.message).toContain(`cannot decode the image ${join(dir, "b", "t.jpg")}`)
    // from the cache of a lenient load, too
    const cache = cacheDir()
    await run(ImageFolder.load({ path: dir, size: [2, 2], cacheDir: cache }))
    const cached = await failure(ImageFolder.load({ path: dir, size: [2, 2], strict: true, cacheDir: cache }))
    expect(cached.message).toContain(join(dir, "b", "t.jpg"))
  })

  it("fails when every image of a class is undecodable, naming the class folder", async () => {
    const dir = await make()
    rmSync(join(dir, "b", "ok.jpg"))
    const e = await failure(ImageFolder.load({ path: dir, size: [2, 2], cacheDir: cacheDir() }))
    expect(e.message).toContain(`the class folder ${join(dir, "b")} has no image that could be decoded`)
  })
})

describe("ImageFolder.load: the disk cache", () => {
  const fixed = new Date("2024-01-02T03:04:05.678Z")
  const make = async () => {
    const dir = fresh("cached")
    for (let i = 0; i < 4; i++) {
      await png(join(dir, "p", `${i}.png`), 4, 4, 3, solid(4, 4, [i * 40, 100, 200 - i * 30]))
      await png(join(dir, "q", `${i}.png`), 4, 4, 1, Array(16).fill(i * 60))
    }
    for (const c of ["p", "q"])
      for (const f of readdirSync(join(dir, c))) utimesSync(join(dir, c, f), fixed, fixed)
    return dir
  }

  it("loads an unchanged folder from the cache without decoding; a changed file invalidates it", async () => {
    const dir = await make()
    const cache = cacheDir()
    const reports: Array<{ decoded: number; total: number }> = []
    const first = await run(ImageFolder.load({ path: dir, cacheDir: cache, report: (p) => reports.push(p) }))
    expect(first.fromCache).toBe(false)
    expect(readdirSync(cache)).toEqual([`${first.key}.bin`])
    expect(reports.at(-1)).toEqual({ decoded: 8, total: 8 })
    expect(reports.map((r) => r.decoded)).toEqual([...reports.map((r) => r.decoded)].sort((a, b) => a - b))
    // garbage of the same length and mtime: a decode would now skip the file, the cache does not look
    const victim = join(dir, "p", "1.png")
    writeFileSync(victim, Buffer.alloc(statSync(victim).size, 7))
    utimesSync(victim, fixed, fixed)
    const calls: Array<unknown> = []
    const second = await run(ImageFolder.load({ path: dir, cacheDir: cache, report: (p) => calls.push(p) }))
    expect(second.fromCache).toBe(true)
    expect(second.key).toBe(first.key)
    expect(calls).toEqual([])
    expect(second.skipped).toEqual([])
    expect(Array.from(second.dataset.train.x)).toEqual(Array.from(first.dataset.train.x))
    expect(Array.from(second.dataset.train.y)).toEqual(Array.from(first.dataset.train.y))
    expect(second.dataset.classNames).toEqual(first.dataset.classNames)
    // touching the file changes the key: it is decoded (and now skipped)
    utimesSync(victim, fixed, new Date(fixed.getTime() + 1000))
    const third = await run(ImageFolder.load({ path: dir, cacheDir: cache }))
    expect(third.fromCache).toBe(false)
    expect(third.key).not.toBe(first.key)
    expect(third.skipped.map((s) => s.file)).toEqual([victim])
    // other decode settings, a new file, a renamed file: other keys
    const keys = new Set([first.key, third.key])
    const grey = await run(ImageFolder.load({ path: dir, channels: 1, cacheDir: cache }))
    keys.add(grey.key)
    await png(join(dir, "q", "9.png"), 4, 4, 1, Array(16).fill(1))
    keys.add((await run(ImageFolder.load({ path: dir, cacheDir: cache }))).key)
    renameSync(join(dir, "q", "9.png"), join(dir, "q", "8.png"))
    const renamed = await run(ImageFolder.load({ path: dir, cacheDir: cache }))
    expect(renamed.fromCache).toBe(false)
    keys.add(renamed.key)
    expect(keys.size).toBe(5)
    // the stale caches of this folder are gone: one file per decode settings remains …
    expect(readdirSync(cache).sort()).toEqual([`${grey.key}.bin`, `${renamed.key}.bin`].sort())
    // … and another folder's cache is left alone
    const other = await make()
    const otherKey = (await run(ImageFolder.load({ path: other, cacheDir: cache }))).key
    await png(join(dir, "q", "7.png"), 4, 4, 1, Array(16).fill(2))
    const latest = await run(ImageFolder.load({ path: dir, cacheDir: cache }))
    expect(readdirSync(cache).sort()).toEqual(
      [`${grey.key}.bin`, `${latest.key}.bin`, `${otherKey}.bin`].sort(),
    )
  })

  it("ignores and rewrites a truncated cache file; writes nothing with `cache: false`", async () => {
    const dir = await make()
    const cache = cacheDir()
    const first = await run(ImageFolder.load({ path: dir, cacheDir: cache }))
    const file = join(cache, `${first.key}.bin`)
    const size = statSync(file).size
    truncateSync(file, size - 10)
    const second = await run(ImageFolder.load({ path: dir, cacheDir: cache }))
    expect(second.fromCache).toBe(false)
    expect(second.warnings.join("\n")).toContain(`ignored the damaged cache file ${file}`)
    expect(statSync(file).size).toBe(size)
    expect(Array.from(second.dataset.train.x)).toEqual(Array.from(first.dataset.train.x))
    // a flipped pixel byte fails the checksum
    const bytes = readFileSync(file)
    bytes[bytes.length - 1]! ^= 0xff
    writeFileSync(file, bytes)
    const third = await run(ImageFolder.load({ path: dir, cacheDir: cache }))
    expect(third.fromCache).toBe(false)
    expect(third.warnings.join("\n")).toContain("checksum")
    const fourth = await run(ImageFolder.load({ path: dir, cacheDir: cache }))
    expect(fourth.fromCache).toBe(true)
    const none = cacheDir()
    const off = await run(ImageFolder.load({ path: dir, cacheDir: none, cache: false }))
    expect(off.fromCache).toBe(false)
    expect(readdirSync(none)).toEqual([])
  })
})

describe("ImageFolder.decodeFiles", () => {
  it("decodes files to floats at a size, reporting the ones that fail", async () => {
    const dir = fresh("files")
    await png(join(dir, "a.png"), 5, 3, 3, solid(5, 3, [255, 0, 51]))
    writeFileSync(join(dir, "b.png"), "not a png")
    await png(join(dir, "c.png"), 2, 2, 1, [0, 0, 0, 0])
    const { x, n, failed } = await run(
      ImageFolder.decodeFiles([join(dir, "a.png"), join(dir, "b.png"), join(dir, "c.png")], {
        size: [4, 4],
        channels: 3,
        fit: "fill",
      }),
    )
    expect(n).toBe(2)
    expect(x.length).toBe(2 * 4 * 4 * 3)
    expect(Array.from(x.subarray(0, 3))).toEqual([1, 0, Math.fround(51 / 255)])
    expect(Array.from(x.subarray(48)).every((v) => v === 0)).toBe(true)
    expect(failed.map((f) => basename(f.file))).toEqual(["b.png"])
    const e = await failure(ImageFolder.decodeFiles([], { size: [0, 4], channels: 3 }))
    expect(e.message).toContain("size must be [height, width]")
  })
})
