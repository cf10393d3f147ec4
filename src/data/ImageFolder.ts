/**
 * Image-folder data sets, in torchvision's `ImageFolder` layout: one sub-folder per class
 * (`root/<class>/<image>`), or split sub-trees `root/train/<class>/…` with optional
 * `root/val/…` (also `valid/`, `validation/`) and `root/test/…`.
 *
 * Images (`.png`, `.jpg`, `.jpeg`, `.webp`) are decoded with `sharp` (libvips, on libuv's
 * thread pool, several at once): EXIF orientation applied, resized to `size` (centre crop,
 * stretch or letterbox), converted to RGB or grey, scaled to `[0, 1]`. The decoded pixels are
 * cached on disk under a key that hashes the decode settings and every file's path, byte size
 * and modification time, so loading an unchanged folder again decodes nothing; when a folder
 * changed, its new cache file replaces the old one (per decode settings). Seeded, stratified
 * validation and test hold-outs are taken after the cache.
 *
 * @example
 * ```ts
 * import * as ImageFolder from "./src/data/ImageFolder.js"
 * import { Effect } from "effect"
 * const { dataset, warnings } = await Effect.runPromise(
 *   ImageFolder.load({ path: "./flowers", size: [64, 64], validation: 0.1 }),
 * )
 * dataset.classNames // ["daisy", "rose", "tulip"]
 * ```
 *
 * @since 0.1.0
 */
import { createHash, randomBytes } from "node:crypto"
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises"
import { availableParallelism } from "node:os"
import { basename, join, resolve } from "node:path"
import { Effect } from "effect"
import sharp from "sharp"
import { DataError } from "../errors.js"
import * as Dataset from "./Dataset.js"
import { cacheRoot } from "./FashionMnist.js"
import * as Rng from "./Rng.js"

// --- models -------------------------------------------------------------------------------------

/**
 * How images are fitted to `size`: `"cover"` resizes so the image covers the target and crops
 * the centre (torchvision's `Resize` + `CenterCrop`), `"fill"` stretches to the exact size,
 * `"contain"` fits the whole image inside and pads with black (letterbox).
 *
 * @example
 * ```ts
 * import * as ImageFolder from "./src/data/ImageFolder.js"
 * const fit: ImageFolder.Fit = "contain"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Fit = "cover" | "contain" | "fill"

/**
 * What to load and how. `size` is `[height, width]` (omitted: every image must have the same
 * size, which is used); `channels` 3 (RGB, default; grey images are replicated) or 1 (grey);
 * `fit` defaults to `"cover"`. `validation` / `test` are a count or a fraction in `(0, 1)` of
 * the training images, held out per class with `seed` (default 0) — only when the folder has no
 * `val/` / `test/` tree. `cache` (default `true`) keeps decoded pixels in `cacheDir` (default
 * `<FashionMnist.cacheRoot()>/image-folders`). `strict` makes an undecodable image fail the
 * load instead of being skipped. `report` receives decoding progress (about every 1 %);
 * `concurrency` is how many images are decoded at once (default four per core, at most 32).
 *
 * @example
 * ```ts
 * import * as ImageFolder from "./src/data/ImageFolder.js"
 * const options: ImageFolder.Options = { path: "./digits", size: [28, 28], channels: 1, validation: 0.1 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly path: string
  readonly size?: readonly [height: number, width: number]
  readonly channels?: 1 | 3
  readonly fit?: Fit
  readonly validation?: number
  readonly test?: number
  readonly seed?: number
  readonly cache?: boolean
  readonly cacheDir?: string
  readonly strict?: boolean
  readonly report?: (p: { readonly decoded: number; readonly total: number }) => void
  readonly concurrency?: number
}

/**
 * The result of {@link load}: the data set, the images that could not be decoded (`file` is
 * the full path), warnings worth showing the user, whether the pixels came from the disk cache,
 * the cache key, and how many image files the folder holds.
 *
 * @example
 * ```ts
 * import * as ImageFolder from "./src/data/ImageFolder.js"
 * declare const loaded: ImageFolder.Loaded
 * if (!loaded.fromCache) console.log(`decoded ${loaded.files} images, skipped ${loaded.skipped.length}`)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Loaded {
  readonly dataset: Dataset.Dataset
  readonly skipped: ReadonlyArray<{ readonly file: string; readonly reason: string }>
  readonly warnings: ReadonlyArray<string>
  readonly fromCache: boolean
  readonly key: string
  readonly files: number
}

/**
 * Which tree of the folder an image comes from.
 *
 * @example
 * ```ts
 * import * as ImageFolder from "./src/data/ImageFolder.js"
 * const tree: ImageFolder.Tree = "validation"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Tree = "train" | "validation" | "test"

/**
 * One image file found by {@link scan}: its full `path`, its path `relative` to the root (with
 * `/`), its class `label` (index into the class names), its tree, its byte size and mtime.
 *
 * @example
 * ```ts
 * import * as ImageFolder from "./src/data/ImageFolder.js"
 * declare const file: ImageFolder.ImageFile
 * file.relative // "train/cat/0001.jpg"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ImageFile {
  readonly path: string
  readonly relative: string
  readonly label: number
  readonly tree: Tree
  readonly bytes: number
  readonly mtimeMs: number
}

/**
 * What {@link scan} found: the resolved root, the layout (`"flat"`: `root/<class>/…`;
 * `"split"`: `root/train/<class>/…` and friends), the class names, the folder of each tree,
 * the image files (ordered by tree, class, then path), the other files ignored (relative
 * paths), and warnings.
 *
 * @example
 * ```ts
 * import * as ImageFolder from "./src/data/ImageFolder.js"
 * declare const found: ImageFolder.Scan
 * const perClass = found.classNames.map((_, c) => found.files.filter((f) => f.label === c).length)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Scan {
  readonly root: string
  readonly layout: "flat" | "split"
  readonly classNames: ReadonlyArray<string>
  readonly trees: { readonly train: string; readonly validation?: string; readonly test?: string }
  readonly files: ReadonlyArray<ImageFile>
  readonly ignored: ReadonlyArray<string>
  readonly warnings: ReadonlyArray<string>
}

/**
 * How {@link decodeFiles} decodes: `size` `[height, width]`, `channels`, `fit` (default
 * `"cover"`).
 *
 * @example
 * ```ts
 * import * as ImageFolder from "./src/data/ImageFolder.js"
 * const settings: ImageFolder.DecodeSettings = { size: [224, 224], channels: 3, fit: "cover" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodeSettings {
  readonly size: readonly [number, number]
  readonly channels: 1 | 3
  readonly fit?: Fit
}

// --- constants ----------------------------------------------------------------------------------

/**
 * The file extensions read as images (compared case-insensitively).
 *
 * @example
 * ```ts
 * import * as ImageFolder from "./src/data/ImageFolder.js"
 * ImageFolder.extensions.includes(".png") // true
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const extensions: ReadonlyArray<string> = [".png", ".jpg", ".jpeg", ".webp"]

/**
 * The version of the cache format and of the decoding recipe; part of every cache key.
 *
 * @example
 * ```ts
 * import * as ImageFolder from "./src/data/ImageFolder.js"
 * ImageFolder.formatVersion // 1
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const formatVersion = 1

const MAGIC = Buffer.from("RTIMGFLD", "latin1")
const splitNames: Record<string, Tree> = {
  train: "train",
  val: "validation",
  valid: "validation",
  validation: "validation",
  test: "test",
}
const treeCodes: ReadonlyArray<Tree> = ["train", "validation", "test"]
const extensionList = extensions.join(", ")

// --- helpers ------------------------------------------------------------------------------------

const error = (message: string, hint?: string, cause?: unknown) =>
  new DataError({
    message,
    ...(hint !== undefined ? { hint } : {}),
    ...(cause !== undefined ? { cause } : {}),
  })

const reasonOf = (e: unknown): string => {
  const text = e instanceof Error ? e.message : String(e)
  return text.split("\n")[0]!.trim() || "unknown error"
}

/** Compares strings by Unicode code point (Python's `sorted`), not by UTF-16 unit. */
const byCodePoint = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a.charCodeAt(i) !== b.charCodeAt(i)) return a.codePointAt(i)! - b.codePointAt(i)!
  }
  return a.length - b.length
}

const isImage = (name: string) => {
  const lower = name.toLowerCase()
  return extensions.some((e) => lower.endsWith(e))
}

const list = (items: ReadonlyArray<string>, max = 5) =>
  items.length <= max ? items.join(", ") : `${items.slice(0, max).join(", ")}, … (${items.length - max} more)`

const defaultConcurrency = () => Math.max(2, Math.min(32, availableParallelism() * 4))

interface Entry {
  readonly name: string
  readonly path: string
  readonly dir: boolean
  readonly bytes: number
  readonly mtimeMs: number
}

/** The non-hidden entries of a directory, sorted by code point, following symbolic links. */
const entries = async (dir: string): Promise<Array<Entry>> => {
  const names = (await readdir(dir)).filter((n) => !n.startsWith(".")).sort(byCodePoint)
  const out = await Promise.all(
    names.map(async (name): Promise<Entry | undefined> => {
      const path = join(dir, name)
      const s = await stat(path).catch(() => undefined) // a dangling link: ignore it
      if (!s || (!s.isDirectory() && !s.isFile())) return undefined
      return { name, path, dir: s.isDirectory(), bytes: s.size, mtimeMs: s.mtimeMs }
    }),
  )
  return out.filter((e): e is Entry => e !== undefined)
}

/** Every non-hidden file under `dir` (recursively), as entries with names relative to `dir`. */
const walk = async (dir: string, prefix = "", seen = new Set<string>()): Promise<Array<Entry>> => {
  const s = await stat(dir)
  const id = `${s.dev}:${s.ino}`
  if (seen.has(id)) return [] // a link back up the tree
  seen.add(id)
  const out: Array<Entry> = []
  for (const e of await entries(dir)) {
    if (e.dir) out.push(...(await walk(e.path, `${prefix}${e.name}/`, seen)))
    else out.push({ ...e, name: `${prefix}${e.name}` })
  }
  return out
}

// --- scanning -----------------------------------------------------------------------------------

/**
 * Finds the layout, classes and image files of a folder, without decoding anything. The layout
 * is `"split"` when the root holds a `train/` folder (then only `train/`, `val/`, `valid/`,
 * `validation/` and `test/` may sit beside it), else `"flat"`; class folders may hold nested
 * folders of images. Class names
 * are the training tree's sub-folder names sorted by code point; hidden entries (`.name`) are
 * skipped; files that are not images are listed in `ignored`. Fails with a `DataError` when the
 * folder is missing, has no class folders, has an empty training class folder, or has a held-out
 * tree with a class the training tree lacks.
 *
 * @example
 * ```ts
 * import * as ImageFolder from "./src/data/ImageFolder.js"
 * import { Effect } from "effect"
 * const found = await Effect.runPromise(ImageFolder.scan("./flowers"))
 * found.classNames // ["daisy", "rose", "tulip"]
 * found.files.length // 120
 * ```
 *
 * @since 0.1.0
 * @category scanning
 */
export const scan = (path: string): Effect.Effect<Scan, DataError> =>
  Effect.tryPromise({
    try: () => scanFolder(path),
    catch: (e) =>
      e instanceof DataError
        ? e
        : error(`cannot read the image folder ${path}: ${reasonOf(e)}`, undefined, e),
  })

const scanFolder = async (path: string): Promise<Scan> => {
  const root = resolve(path)
  const rootStat = await stat(root).catch(() => undefined)
  if (!rootStat) throw error(`the image folder ${root} does not exist`)
  if (!rootStat.isDirectory()) throw error(`${root} is not a folder: expected one sub-folder per class`)
  const top = await entries(root)
  const warnings: Array<string> = []
  const ignored: Array<string> = []
  const looseImages = (where: string, files: ReadonlyArray<Entry>, prefix: string) => {
    const images = files.filter((f) => isImage(f.name))
    for (const f of files) if (!isImage(f.name)) ignored.push(`${prefix}${f.name}`)
    if (images.length > 0) {
      warnings.push(
        `ignored ${images.length} image${images.length > 1 ? "s" : ""} directly in ${where} ` +
          `(${list(
            images.map((f) => f.name),
            3,
          )}): images must be in class sub-folders`,
      )
    }
  }
  const trainDir = top.find((e) => e.dir && e.name === "train")
  const trees: { train: string; validation?: string; test?: string } = { train: root }
  let layout: "flat" | "split" = "flat"
  if (trainDir) {
    layout = "split"
    trees.train = trainDir.path
    for (const e of top) {
      if (!e.dir) continue
      const tree = splitNames[e.name]
      if (tree === undefined) {
        throw error(
          `${e.path}: unexpected folder next to ${trainDir.path}`,
          "with a train/ tree the root may hold only train/, val/ (or valid/, validation/) and test/, each with one sub-folder per class",
        )
      }
      if (tree === "train") continue
      const before = trees[tree]
      if (before !== undefined) throw error(`${root} holds two ${tree} trees: ${before} and ${e.path}`)
      trees[tree] = e.path
    }
    looseImages(
      root,
      top.filter((e) => !e.dir),
      "",
    )
  }
  // the class folders of each tree
  const treeClasses = async (tree: Tree, dir: string) => {
    const inside = tree === "train" && layout === "flat" ? top : await entries(dir)
    const prefix = dir === root ? "" : `${basename(dir)}/`
    if (dir !== root)
      looseImages(
        dir,
        inside.filter((e) => !e.dir),
        prefix,
      )
    return { dir, prefix, classes: inside.filter((e) => e.dir) }
  }
  const train = await treeClasses("train", trees.train)
  if (train.classes.length === 0) {
    const images = top.filter((e) => !e.dir && isImage(e.name)).length
    throw error(
      `no class folders in ${trees.train}: expected one sub-folder per class (${trees.train}/<class>/<image>), ` +
        `or train/ (with val/ and test/) sub-trees holding them` +
        (images > 0
          ? `; the ${images} image file${images > 1 ? "s" : ""} directly in ${trees.train} must be in class sub-folders`
          : ""),
    )
  }
  if (layout === "flat") {
    const rootFiles = top.filter((e) => !e.dir)
    looseImages(root, rootFiles, "")
  }
  const classNames = train.classes.map((c) => c.name)
  const files: Array<ImageFile> = []
  const collect = async (tree: Tree, t: { dir: string; prefix: string; classes: ReadonlyArray<Entry> }) => {
    for (const c of t.classes) {
      const label = classNames.indexOf(c.name)
      if (label < 0) {
        throw error(
          `${c.path}: class "${c.name}" is not in the training tree ${trees.train} (classes: ${list(classNames, 10)})`,
          "every class of a val/ or test/ tree must also be a class folder of the training tree",
        )
      }
      const inside = await walk(c.path)
      let count = 0
      for (const f of inside) {
        const relative = `${t.prefix}${c.name}/${f.name}`
        if (!isImage(f.name)) {
          ignored.push(relative)
          continue
        }
        files.push({ path: f.path, relative, label, tree, bytes: f.bytes, mtimeMs: f.mtimeMs })
        count++
      }
      if (count === 0 && tree === "train") {
        throw error(
          `the class folder ${c.path} holds no images (${extensionList})`,
          "add images or remove the folder",
        )
      }
    }
  }
  await collect("train", train)
  for (const tree of ["validation", "test"] as const) {
    const dir = trees[tree]
    if (dir !== undefined) await collect(tree, await treeClasses(tree, dir))
  }
  if (ignored.length > 0) {
    warnings.push(
      `ignored ${ignored.length} file${ignored.length > 1 ? "s" : ""} that ${ignored.length > 1 ? "are" : "is"} ` +
        `not ${extensionList} images: ${list(ignored)}`,
    )
  }
  return { root, layout, classNames, trees, files, ignored, warnings }
}

// --- decoding -----------------------------------------------------------------------------------

interface Resolved {
  readonly size: readonly [number, number] | undefined
  readonly channels: 1 | 3
  readonly fit: Fit
}

/** Decodes one encoded image to 8-bit raw pixels, `channels` per pixel, resized when `size` is set. */
const decodeBuffer = async (
  bytes: Buffer,
  settings: Resolved,
): Promise<{ readonly data: Buffer; readonly height: number; readonly width: number }> => {
  // "error": truncated or broken data fails; libpng-style warnings (an odd sRGB profile) do not
  let image = sharp(bytes, { failOn: "error", autoOrient: true })
  if (settings.size) {
    image = image.resize({
      height: settings.size[0],
      width: settings.size[1],
      fit: settings.fit,
      position: "centre",
      background: { r: 0, g: 0, b: 0, alpha: 1 },
      kernel: "linear", // torchvision's default (bilinear, antialiased when reducing)
    })
  }
  image = image.removeAlpha().toColourspace(settings.channels === 3 ? "srgb" : "b-w")
  const { data, info } = await image.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true })
  if (info.channels !== settings.channels || data.length !== info.width * info.height * settings.channels) {
    throw new Error(`decoded to ${info.channels} channels (${data.length} bytes), not ${settings.channels}`)
  }
  return { data, height: info.height, width: info.width }
}

const readAndDecode = async (file: string, settings: Resolved) => decodeBuffer(await readFile(file), settings)

/** The height and width of an image after EXIF orientation, from its header. */
const dimensions = async (file: string): Promise<readonly [number, number]> => {
  const meta = await sharp(await readFile(file), { failOn: "error" }).metadata()
  const { width, height } = meta.autoOrient ?? meta
  if (!width || !height) throw new Error("the image has no dimensions")
  return [height, width]
}

type Outcome<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly reason: string }

const attempt = <A>(f: () => Promise<A>): Effect.Effect<Outcome<A>> =>
  Effect.promise(() =>
    f().then(
      (value): Outcome<A> => ({ ok: true, value }),
      (e): Outcome<A> => ({ ok: false, reason: reasonOf(e) }),
    ),
  )

const progress = (total: number, report: Options["report"]) => {
  const step = Math.max(1, Math.floor(total / 100))
  let done = 0
  report?.({ decoded: 0, total })
  return () => {
    done++
    if (report && (done % step === 0 || done === total)) report({ decoded: done, total })
  }
}

interface Decoded {
  /** `files.length` images of `size`, those that failed left zero. */
  readonly pixels: Uint8Array
  /** 1 where the image decoded. */
  readonly ok: Uint8Array
  /** The indices that failed, ascending, with the reason. */
  readonly failed: ReadonlyArray<{ readonly index: number; readonly reason: string }>
}

/**
 * Decodes `files` into 8-bit pixels of `target` size (resized when `settings.size` is set),
 * several at once. Failures are returned per file,
 * or — with `failFast` — end the decoding with the first one.
 */
const decodeAll = (
  files: ReadonlyArray<string>,
  settings: Resolved,
  target: readonly [number, number],
  options: {
    readonly concurrency?: number | undefined
    readonly report?: Options["report"] | undefined
    readonly failFast?: ((file: string, reason: string) => DataError) | undefined
  },
): Effect.Effect<Decoded, DataError> =>
  Effect.suspend(() => {
    const [h, w] = target
    const sample = h * w * settings.channels
    const pixels = new Uint8Array(files.length * sample)
    const ok = new Uint8Array(files.length)
    const failed: Array<{ index: number; reason: string }> = []
    const tick = progress(files.length, options.report)
    const fail = (index: number, reason: string): Effect.Effect<void, DataError> => {
      if (options.failFast) return Effect.fail(options.failFast(files[index]!, reason))
      failed.push({ index, reason })
      return Effect.void
    }
    return Effect.forEach(
      files,
      (file, i) =>
        Effect.flatMap(
          attempt(() => readAndDecode(file, settings)),
          (r): Effect.Effect<void, DataError> => {
            tick()
            if (!r.ok) return fail(i, r.reason)
            const { data, height, width } = r.value
            if (height !== h || width !== w) return fail(i, `decoded to ${height}×${width}, not ${h}×${w}`)
            pixels.set(data, i * sample)
            ok[i] = 1
            return Effect.void
          },
        ),
      { concurrency: options.concurrency ?? defaultConcurrency(), discard: true },
    ).pipe(Effect.map(() => ({ pixels, ok, failed: failed.sort((a, b) => a.index - b.index) })))
  })

const checkSize = (size: readonly [number, number] | undefined, what = "size") => {
  if (size === undefined) return undefined
  if (size.length !== 2 || !size.every((d) => Number.isInteger(d) && d > 0 && d <= 65535)) {
    return error(`${what} must be [height, width] of positive integers, got [${size.join(", ")}]`)
  }
  return undefined
}

const checkSettings = (settings: {
  readonly size?: readonly [number, number] | undefined
  readonly channels?: number | undefined
  readonly fit?: string | undefined
  readonly concurrency?: number | undefined
}): DataError | Resolved => {
  const bad = checkSize(settings.size)
  if (bad) return bad
  const channels = settings.channels ?? 3
  if (channels !== 1 && channels !== 3) return error(`channels must be 1 or 3, got ${channels}`)
  const fit = settings.fit ?? "cover"
  if (fit !== "cover" && fit !== "contain" && fit !== "fill") {
    return error(`fit must be "cover", "contain" or "fill", got "${fit}"`)
  }
  const c = settings.concurrency
  if (c !== undefined && !(Number.isInteger(c) && c >= 1)) {
    return error(`concurrency must be a positive integer, got ${c}`)
  }
  return { size: settings.size, channels, fit }
}

/**
 * Decodes image files (any of {@link extensions}, or anything else `sharp` reads) to floats in
 * `[0, 1]`, `size` `[height, width]` × `channels`, NHWC — as {@link load} does, without caching
 * (the `predict` command uses it for single images). `x` holds the `n` images that decoded, in
 * the order given; `failed` names the others and why. Fails only for invalid settings.
 *
 * @example
 * ```ts
 * import * as ImageFolder from "./src/data/ImageFolder.js"
 * import { Effect } from "effect"
 * const { x, n, failed } = await Effect.runPromise(
 *   ImageFolder.decodeFiles(["cat.jpg"], { size: [32, 32], channels: 3 }),
 * )
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeFiles = (
  files: ReadonlyArray<string>,
  settings: DecodeSettings,
  options: {
    readonly concurrency?: number
    readonly report?: (p: { readonly decoded: number; readonly total: number }) => void
  } = {},
): Effect.Effect<
  {
    readonly x: Float32Array
    readonly n: number
    readonly failed: ReadonlyArray<{ readonly file: string; readonly reason: string }>
  },
  DataError
> =>
  Effect.gen(function* () {
    const resolved = checkSettings({ ...settings, concurrency: options.concurrency })
    if (resolved instanceof DataError) return yield* Effect.fail(resolved)
    const size = settings.size
    const r = yield* decodeAll(files, { ...resolved, size }, size, options)
    const sample = size[0] * size[1] * resolved.channels
    const n = files.length - r.failed.length
    const x = new Float32Array(n * sample)
    let row = 0
    for (let i = 0; i < files.length; i++) {
      if (!r.ok[i]) continue
      const from = i * sample
      for (let j = 0; j < sample; j++) x[row * sample + j] = r.pixels[from + j]! / 255
      row++
    }
    return { x, n, failed: r.failed.map((f) => ({ file: files[f.index]!, reason: f.reason })) }
  })

// --- the disk cache -----------------------------------------------------------------------------

/** Decoded pixels of a folder, as cached: `n` images in scan order, the undecodable ones left out. */
interface Pixels {
  readonly shape: Dataset.Shape
  readonly pixels: Uint8Array
  readonly labels: Int32Array
  /** Index into `treeCodes`, per image. */
  readonly trees: Uint8Array
  readonly relative: ReadonlyArray<string>
  readonly skipped: ReadonlyArray<{ readonly relative: string; readonly reason: string }>
}

interface Header {
  readonly format: "retort-image-folder"
  readonly version: number
  readonly key: string
  readonly classNames: ReadonlyArray<string>
  readonly shape: Dataset.Shape
  readonly files: ReadonlyArray<string>
  readonly labels: ReadonlyArray<number>
  readonly trees: ReadonlyArray<number>
  readonly skipped: ReadonlyArray<{ readonly relative: string; readonly reason: string }>
  readonly payload: { readonly bytes: number; readonly sha256: string }
  /** The folder and the decode settings it was written for: a newer cache of the same replaces it. */
  readonly root?: string
  readonly settings?: string
}

/**
 * The cache key of a folder under some decode settings: the SHA-256 (hex) of the format version,
 * the libvips and sharp versions, `size` (or "as found"), `channels` and `fit`, and every image
 * file's relative path, byte size and mtime. Hold-out settings are not part of it.
 *
 * @example
 * ```ts
 * import * as ImageFolder from "./src/data/ImageFolder.js"
 * declare const found: ImageFolder.Scan
 * const key = ImageFolder.cacheKey(found, { size: [32, 32], channels: 3, fit: "cover" })
 * ```
 *
 * @since 0.1.0
 * @category caching
 */
export const cacheKey = (
  found: Scan,
  settings: {
    readonly size?: readonly [number, number] | undefined
    readonly channels: 1 | 3
    readonly fit: Fit
  },
): string => {
  const hash = createHash("sha256")
  hash.update(
    JSON.stringify({
      format: "retort-image-folder",
      version: formatVersion,
      vips: sharp.versions.vips,
      sharp: sharp.versions.sharp ?? null,
      size: settings.size ?? null,
      channels: settings.channels,
      fit: settings.fit,
    }),
  )
  for (const f of found.files) hash.update(`\n${f.relative}\u0000${f.bytes}\u0000${f.mtimeMs}`)
  return hash.digest("hex")
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/**
 * Reads a cache file. `undefined` when there is none; `problem` when it exists but cannot be
 * trusted (truncated, damaged, written for other files).
 */
const readCache = async (
  file: string,
  key: string,
  found: Scan,
  size: readonly [number, number] | undefined,
  channels: 1 | 3,
): Promise<{ readonly pixels?: Pixels; readonly problem?: string } | undefined> => {
  try {
    return await readCacheFile(file, key, found, size, channels)
  } catch (e) {
    return { problem: `unreadable: ${reasonOf(e)}` }
  }
}

const readCacheFile = async (
  file: string,
  key: string,
  found: Scan,
  size: readonly [number, number] | undefined,
  channels: 1 | 3,
): Promise<{ readonly pixels?: Pixels; readonly problem?: string } | undefined> => {
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined
    return { problem: reasonOf(e) }
  }
  const prefix = MAGIC.length + 4
  if (bytes.length < prefix || !bytes.subarray(0, MAGIC.length).equals(MAGIC))
    return { problem: "not a cache file" }
  const headerBytes = bytes.readUInt32LE(MAGIC.length)
  if (bytes.length < prefix + headerBytes) return { problem: "truncated header" }
  let header: Header
  try {
    header = JSON.parse(bytes.subarray(prefix, prefix + headerBytes).toString("utf8")) as Header
  } catch {
    return { problem: "unreadable header" }
  }
  if (typeof header !== "object" || header === null) return { problem: "unreadable header" }
  const payload = bytes.subarray(prefix + headerBytes)
  const [h, w, c] = header.shape ?? []
  const n = header.files?.length ?? -1
  const sameClasses =
    Array.isArray(header.classNames) &&
    header.classNames.length === found.classNames.length &&
    header.classNames.every((name, i) => name === found.classNames[i])
  if (
    header.format !== "retort-image-folder" ||
    header.version !== formatVersion ||
    header.key !== key ||
    !sameClasses ||
    !Number.isInteger(h) ||
    !Number.isInteger(w) ||
    c !== channels ||
    (size !== undefined && (size[0] !== h || size[1] !== w)) ||
    header.labels?.length !== n ||
    header.trees?.length !== n ||
    !Array.isArray(header.skipped) ||
    n + header.skipped.length !== found.files.length
  ) {
    return { problem: "the header does not match the folder" }
  }
  if (payload.length !== header.payload?.bytes || payload.length !== n * h! * w! * c) {
    return { problem: `truncated: ${payload.length} bytes of pixels, expected ${n * h! * w! * c}` }
  }
  if (sha256(payload) !== header.payload.sha256) return { problem: "the pixels do not match their checksum" }
  const labels = Int32Array.from(header.labels)
  const trees = Uint8Array.from(header.trees)
  for (let i = 0; i < n; i++) {
    if (!(labels[i]! >= 0 && labels[i]! < found.classNames.length) || trees[i]! > 2) {
      return { problem: `bad label or tree for image ${i}` }
    }
  }
  return {
    pixels: {
      shape: [h!, w!, c],
      pixels: payload,
      labels,
      trees,
      relative: header.files,
      skipped: header.skipped,
    },
  }
}

/** Writes a cache file atomically: a temporary file in the same folder, renamed into place. */
const writeCache = async (
  file: string,
  dir: string,
  key: string,
  found: Scan,
  p: Pixels,
  settings: string,
) => {
  const header: Header = {
    root: found.root,
    settings,
    format: "retort-image-folder",
    version: formatVersion,
    key,
    classNames: found.classNames,
    shape: p.shape,
    files: p.relative,
    labels: Array.from(p.labels),
    trees: Array.from(p.trees),
    skipped: p.skipped,
    payload: { bytes: p.pixels.length, sha256: sha256(p.pixels) },
  }
  const json = Buffer.from(JSON.stringify(header), "utf8")
  const length = Buffer.alloc(4)
  length.writeUInt32LE(json.length)
  await mkdir(dir, { recursive: true })
  const temp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`
  try {
    const handle = await open(temp, "w")
    try {
      await handle.writeFile(Buffer.concat([MAGIC, length, json]))
      await handle.writeFile(p.pixels)
    } finally {
      await handle.close()
    }
    await rename(temp, file)
  } catch (e) {
    await rm(temp, { force: true })
    throw e
  }
  await pruneCache(dir, file, found.root, settings)
}

/**
 * Removes the cache files of an earlier state of the same folder under the same decode settings
 * (the folder changed, so they can never be read again); other folders' and other settings'
 * files stay. Only each file's header is read.
 */
const pruneCache = async (dir: string, keep: string, root: string, settings: string) => {
  const names = await readdir(dir).catch(() => [] as Array<string>)
  for (const name of names) {
    const file = join(dir, name)
    if (!name.endsWith(".bin") || file === keep) continue
    try {
      const handle = await open(file, "r")
      try {
        const prefix = Buffer.alloc(MAGIC.length + 4)
        await handle.read(prefix, 0, prefix.length, 0)
        if (!prefix.subarray(0, MAGIC.length).equals(MAGIC)) continue
        const length = prefix.readUInt32LE(MAGIC.length)
        if (length > 1 << 28) continue
        const json = Buffer.alloc(length)
        await handle.read(json, 0, length, prefix.length)
        const header = JSON.parse(json.toString("utf8")) as Partial<Header>
        if (header.root !== root || header.settings !== settings) continue
      } finally {
        await handle.close()
      }
      await rm(file, { force: true })
    } catch {
      // an unreadable file is not ours to judge: leave it
    }
  }
}

// --- hold-outs ----------------------------------------------------------------------------------

/** A count or fraction in (0, 1) of `n`, as a count; 0 or undefined: none. */
const holdOutCount = (what: string, v: number | undefined, n: number): number | DataError => {
  if (v === undefined || v === 0) return 0
  if (v > 0 && v < 1) return Math.max(1, Math.round(v * n))
  if (Number.isInteger(v) && v >= 1) return v
  return error(`${what} must be a count of images or a fraction in (0, 1), got ${v}`)
}

/**
 * Splits `k` among classes in proportion to `counts` (largest remainders), at most `caps[i]`
 * each; `undefined` when the caps hold fewer than `k`.
 */
const allocate = (
  k: number,
  counts: ReadonlyArray<number>,
  caps: ReadonlyArray<number>,
): Array<number> | undefined => {
  const total = counts.reduce((a, b) => a + b, 0)
  if (caps.reduce((a, b) => a + b, 0) < k) return undefined
  const quota = counts.map((c) => (total === 0 ? 0 : (k * c) / total))
  const out = quota.map((q, i) => Math.min(caps[i]!, Math.floor(q)))
  let sum = out.reduce((a, b) => a + b, 0)
  while (sum < k) {
    let best = -1
    for (let i = 0; i < out.length; i++) {
      if (out[i]! >= caps[i]!) continue
      if (best < 0 || quota[i]! - out[i]! > quota[best]! - out[best]!) best = i
    }
    out[best]!++
    sum++
  }
  return out
}

/**
 * Moves training images (tree code 0) to validation (1) / test (2), per class, by a seeded
 * shuffle of each class; a class never gives up its last training image.
 */
const holdOut = (
  labels: Int32Array,
  trees: Uint8Array,
  classNames: ReadonlyArray<string>,
  request: { readonly validation: number; readonly test: number },
  seed: number,
): DataError | undefined => {
  const byClass: Array<Array<number>> = classNames.map(() => [])
  for (let i = 0; i < labels.length; i++) if (trees[i] === 0) byClass[labels[i]!]!.push(i)
  const counts = byClass.map((c) => c.length)
  const n = counts.reduce((a, b) => a + b, 0)
  const taken: Array<number> = counts.map(() => 0)
  const plan: Array<[code: number, what: "test" | "validation", k: number]> = [
    [2, "test", request.test],
    [1, "validation", request.validation],
  ]
  const perClass: Record<number, Array<number>> = {}
  for (const [code, what, k] of plan) {
    if (k === 0) continue
    const left = counts.map((c, i) => c - taken[i]!)
    const caps = left.map((c) => Math.max(0, c - 1))
    const share = allocate(k, left, caps)
    if (!share) {
      const most = caps.reduce((a, b) => a + b, 0)
      return error(
        `cannot hold out ${k} ${what} images from ${n} training images` +
          (code === 1 && request.test > 0 ? ` (after ${request.test} for test)` : "") +
          `: every class keeps at least one training image, so at most ${most} can be held out`,
      )
    }
    share.forEach((s, i) => {
      taken[i]! += s
    })
    perClass[code] = share
  }
  byClass.forEach((members, label) => {
    const order = Rng.permutation(members.length, Rng.derive(seed, "image-folder", "hold-out", label))
    let at = 0
    for (const code of [2, 1]) {
      const s = perClass[code]?.[label] ?? 0
      for (let j = 0; j < s; j++) trees[members[order[at++]!]!] = code
    }
  })
  return undefined
}

// --- loading ------------------------------------------------------------------------------------

const buildSplit = (p: Pixels, assignment: Uint8Array, code: number): Dataset.Split => {
  const sample = Dataset.sampleSize(p.shape)
  let n = 0
  for (let i = 0; i < assignment.length; i++) if (assignment[i] === code) n++
  const x = new Float32Array(n * sample)
  const y = new Int32Array(n)
  let row = 0
  for (let i = 0; i < assignment.length; i++) {
    if (assignment[i] !== code) continue
    const from = i * sample
    const to = row * sample
    for (let j = 0; j < sample; j++) x[to + j] = p.pixels[from + j]! / 255
    y[row++] = p.labels[i]!
  }
  return { x, y, n }
}

/** Decodes the scanned folder (after a metadata pass when `size` is not given). */
const decodeFolder = (found: Scan, settings: Resolved, options: Options): Effect.Effect<Pixels, DataError> =>
  Effect.gen(function* () {
    const concurrency = options.concurrency ?? defaultConcurrency()
    const strictError = (file: string, reason: string) =>
      error(
        `cannot decode the image ${file}: ${reason}`,
        "fix or remove the file, or load without `strict` to skip undecodable images",
      )
    const skipped: Array<{ relative: string; reason: string }> = []
    let candidates = found.files.map((_, i) => i)
    let target = settings.size
    if (target === undefined) {
      const dims = yield* Effect.forEach(found.files, (f) => attempt(() => dimensions(f.path)), {
        concurrency,
      })
      let reference: { readonly index: number; readonly dims: readonly [number, number] } | undefined
      const kept: Array<number> = []
      for (let i = 0; i < dims.length; i++) {
        const d = dims[i]!
        const f = found.files[i]!
        if (!d.ok) {
          if (options.strict) return yield* Effect.fail(strictError(f.path, d.reason))
          skipped.push({ relative: f.relative, reason: d.reason })
          continue
        }
        kept.push(i)
        if (reference === undefined) {
          reference = { index: i, dims: d.value }
        } else if (reference.dims[0] !== d.value[0] || reference.dims[1] !== d.value[1]) {
          const [h, w] = reference.dims
          return yield* Effect.fail(
            error(
              `the images of ${found.root} differ in size: ${found.files[reference.index]!.path} is ` +
                `${h}×${w} but ${f.path} is ${d.value[0]}×${d.value[1]} (height×width)`,
              "set `size: [height, width]` to resize every image to one size",
            ),
          )
        }
      }
      candidates = kept
      target = reference?.dims ?? [1, 1]
    }
    const decoded = yield* decodeAll(
      candidates.map((i) => found.files[i]!.path),
      settings,
      target,
      {
        concurrency,
        report: options.report,
        failFast: options.strict ? strictError : undefined,
      },
    )
    for (const f of decoded.failed) {
      skipped.push({ relative: found.files[candidates[f.index]!]!.relative, reason: f.reason })
    }
    const order = new Map(found.files.map((f, i) => [f.relative, i]))
    skipped.sort((a, b) => order.get(a.relative)! - order.get(b.relative)!)
    const sample = target[0] * target[1] * settings.channels
    const n = candidates.length - decoded.failed.length
    const pixels = decoded.failed.length === 0 ? decoded.pixels : new Uint8Array(n * sample)
    const labels = new Int32Array(n)
    const trees = new Uint8Array(n)
    const relative: Array<string> = []
    let row = 0
    candidates.forEach((fileIndex, i) => {
      if (!decoded.ok[i]) return
      const f = found.files[fileIndex]!
      if (pixels !== decoded.pixels)
        pixels.set(decoded.pixels.subarray(i * sample, (i + 1) * sample), row * sample)
      labels[row] = f.label
      trees[row] = treeCodes.indexOf(f.tree)
      relative.push(f.relative)
      row++
    })
    return { shape: [target[0], target[1], settings.channels], pixels, labels, trees, relative, skipped }
  })

/**
 * Loads an image folder as a data set (see the module's description for the layout). The
 * decoded pixels come from the disk cache when the folder and the decode settings are
 * unchanged; otherwise every image is decoded with `sharp` and the cache is (re)written. Then the
 * `validation` / `test` hold-outs are taken (stratified by class, seeded) when the folder has no
 * such tree. Undecodable images are skipped with a warning (or fail the load with `strict`).
 * `report` is called while decoding (not on a cache hit). Fails with a `DataError` naming the
 * file or folder at fault.
 *
 * @example
 * ```ts
 * import * as ImageFolder from "./src/data/ImageFolder.js"
 * import { Effect } from "effect"
 * const loaded = await Effect.runPromise(
 *   ImageFolder.load({
 *     path: "./pets",
 *     size: [96, 96],
 *     fit: "cover",
 *     test: 0.2,
 *     seed: 7,
 *     report: ({ decoded, total }) => console.log(`${decoded}/${total}`),
 *   }),
 * )
 * for (const w of loaded.warnings) console.warn(w)
 * loaded.dataset.test.n
 * ```
 *
 * @since 0.1.0
 * @category loading
 */
export const load = (options: Options): Effect.Effect<Loaded, DataError> =>
  Effect.gen(function* () {
    const settings = checkSettings(options)
    if (settings instanceof DataError) return yield* Effect.fail(settings)
    const found = yield* scan(options.path)
    const warnings = [...found.warnings]
    const key = cacheKey(found, settings)
    const cacheDir = options.cacheDir ?? join(cacheRoot(), "image-folders")
    const cacheFile = join(cacheDir, `${key}.bin`)
    const useCache = options.cache !== false
    let pixels: Pixels | undefined
    if (useCache) {
      const cached = yield* Effect.promise(() =>
        readCache(cacheFile, key, found, settings.size, settings.channels),
      )
      if (cached?.pixels) pixels = cached.pixels
      else if (cached?.problem)
        warnings.push(`ignored the damaged cache file ${cacheFile} (${cached.problem})`)
    }
    const fromCache = pixels !== undefined
    if (pixels === undefined) pixels = yield* decodeFolder(found, settings, options)
    const p = pixels
    if (options.strict && p.skipped.length > 0) {
      const first = p.skipped[0]!
      return yield* Effect.fail(
        error(
          `cannot decode the image ${join(found.root, first.relative)}: ${first.reason}`,
          "fix or remove the file, or load without `strict` to skip undecodable images",
        ),
      )
    }
    // every class keeps training images
    const trainCounts = found.classNames.map(() => 0)
    for (let i = 0; i < p.labels.length; i++) if (p.trees[i] === 0) trainCounts[p.labels[i]!]!++
    const classDir = (name: string) => join(found.trees.train, name)
    for (let c = 0; c < trainCounts.length; c++) {
      if (trainCounts[c] === 0) {
        const name = found.classNames[c]!
        const bad = p.skipped.filter((s) => found.files.find((f) => f.relative === s.relative)?.label === c)
        return yield* Effect.fail(
          error(
            `the class folder ${classDir(name)} has no image that could be decoded ` +
              `(${bad.length} failed: ${list(
                bad.map((s) => `${s.relative} (${s.reason})`),
                3,
              )})`,
            "fix or replace the images, or remove the folder",
          ),
        )
      }
    }
    if (useCache && !fromCache) {
      const written = yield* Effect.promise(() =>
        writeCache(cacheFile, cacheDir, key, found, p, JSON.stringify(settings)).then(
          () => undefined,
          (e: unknown) => reasonOf(e),
        ),
      )
      if (written !== undefined) warnings.push(`could not write the cache file ${cacheFile}: ${written}`)
    }
    if (p.skipped.length > 0) {
      warnings.push(
        `skipped ${p.skipped.length} of ${found.files.length} images that could not be decoded: ` +
          list(p.skipped.map((s) => `${s.relative} (${s.reason})`)),
      )
    }
    const single = found.classNames.filter((_, c) => trainCounts[c] === 1)
    if (single.length > 0) {
      warnings.push(
        `class${single.length > 1 ? "es" : ""} ${list(
          single.map((s) => `"${s}"`),
          10,
        )} ` +
          `${single.length > 1 ? "have" : "has"} a single training image: it stays in training and ` +
          "cannot appear in a held-out split",
      )
    }
    // hold-outs
    const assignment = Uint8Array.from(p.trees)
    const nTrain = trainCounts.reduce((a, b) => a + b, 0)
    const request = { validation: 0, test: 0 }
    for (const what of ["validation", "test"] as const) {
      const asked = options[what]
      if (asked === undefined || asked === 0) continue
      if (found.trees[what] !== undefined) {
        warnings.push(
          `ignored the ${what} hold-out (${asked}): the folder has a ${what} tree ${found.trees[what]}`,
        )
        continue
      }
      const k = holdOutCount(what, asked, nTrain)
      if (k instanceof DataError) return yield* Effect.fail(k)
      request[what] = k
    }
    const problem = holdOut(p.labels, assignment, found.classNames, request, options.seed ?? 0)
    if (problem) return yield* Effect.fail(problem)
    const hasValidation = found.trees.validation !== undefined || request.validation > 0
    const dataset = yield* Dataset.make({
      name: basename(found.root),
      classes: found.classNames.length,
      shape: p.shape,
      classNames: found.classNames,
      train: buildSplit(p, assignment, 0),
      ...(hasValidation ? { validation: buildSplit(p, assignment, 1) } : {}),
      test: buildSplit(p, assignment, 2),
    })
    return {
      dataset,
      skipped: p.skipped.map((s) => ({ file: join(found.root, s.relative), reason: s.reason })),
      warnings,
      fromCache,
      key,
      files: found.files.length,
    }
  })
