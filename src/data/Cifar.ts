/**
 * CIFAR-10 and CIFAR-100 (Krizhevsky, 2009): 50,000 training and 10,000 test colour images of
 * 32×32, in 10 classes, or in 100 fine classes grouped into 20 coarse ones, read from the
 * official "binary version" archives (`cifar-10-binary.tar.gz`, `cifar-100-binary.tar.gz`).
 *
 * {@link load} looks, in order, in the `path` option, `$RETORT_DATA` and the user cache
 * (`<cache>/<variant>`, the cache being `$XDG_CACHE_HOME/retort` or `~/.cache/retort`), each
 * also with `/<variant>` appended (see {@link searchDirs}). In each place it accepts the archive
 * itself, the archive inside the directory, the extracted folder (`cifar-10-batches-bin/`,
 * `cifar-100-binary/`) inside it, or the directory being that folder; local copies are read
 * without any network access. When nothing is found and `download` is not `false`, it downloads
 * the archive into the cache, verified against its size, SHA-256 and MD5 (see
 * {@link checksums}), and reads it in place: gunzipped as a stream, the members picked out with
 * node-tar's parser, nothing extracted to disk.
 *
 * Records are converted from the files' planar layout (1024 red, 1024 green, 1024 blue bytes,
 * each plane 32×32 row-major) to NHWC floats in `[0, 1]`.
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * import { Effect } from "effect"
 * const ds = await Effect.runPromise(Cifar.load({ variant: "cifar10", download: false }))
 * ds.train.n // 50000
 * ds.shape // [32, 32, 3]
 * ```
 *
 * @since 0.1.0
 */
import { createReadStream } from "node:fs"
import { readFile, stat } from "node:fs/promises"
import { join } from "node:path"
import { createGunzip } from "node:zlib"
import { Effect } from "effect"
import { Parser, type ReadEntry } from "tar"
import { DataError } from "../errors.js"
import * as Dataset from "./Dataset.js"
import * as Download from "./Download.js"
import { cacheRoot } from "./FashionMnist.js"

/**
 * Which data set: CIFAR-10 or CIFAR-100.
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * const variant: Cifar.Variant = "cifar100"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Variant = "cifar10" | "cifar100"

/**
 * Which labels of CIFAR-100 to use: the 100 fine classes or the 20 coarse superclasses.
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * const labels: Cifar.Labels = "coarse"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Labels = "fine" | "coarse"

const variants: ReadonlyArray<Variant> = ["cifar10", "cifar100"]

/**
 * The archive's file name, by variant (the binary version, not the Python or MATLAB one).
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * Cifar.archives.cifar10 // "cifar-10-binary.tar.gz"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const archives: Record<Variant, string> = {
  cifar10: "cifar-10-binary.tar.gz",
  cifar100: "cifar-100-binary.tar.gz",
}

/**
 * The folder the archive extracts to, by variant.
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * Cifar.folders.cifar100 // "cifar-100-binary"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const folders: Record<Variant, string> = {
  cifar10: "cifar-10-batches-bin",
  cifar100: "cifar-100-binary",
}

/**
 * The files of the extracted folder, by variant: the training batches (concatenated in this
 * order), the test batch and the class-name files (one name a line).
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * Cifar.files.cifar10.train.length // 5
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const files: Record<
  Variant,
  {
    readonly train: ReadonlyArray<string>
    readonly test: ReadonlyArray<string>
    readonly names: ReadonlyArray<string>
  }
> = {
  cifar10: {
    train: [
      "data_batch_1.bin",
      "data_batch_2.bin",
      "data_batch_3.bin",
      "data_batch_4.bin",
      "data_batch_5.bin",
    ],
    test: ["test_batch.bin"],
    names: ["batches.meta.txt"],
  },
  cifar100: {
    train: ["train.bin"],
    test: ["test.bin"],
    names: ["fine_label_names.txt", "coarse_label_names.txt"],
  },
}

const allFiles = (variant: Variant): ReadonlyArray<string> => [
  ...files[variant].train,
  ...files[variant].test,
  ...files[variant].names,
]

/**
 * Bytes per record: CIFAR-10 has one label byte, CIFAR-100 a coarse and a fine label byte,
 * followed by the 3072 pixel bytes.
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * Cifar.recordSize.cifar100 // 3074
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const recordSize: Record<Variant, number> = { cifar10: 3073, cifar100: 3074 }

const PIXELS = 32 * 32
const IMAGE = PIXELS * 3

/**
 * The official download location, the CIFAR page of the University of Toronto.
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * const url = Cifar.officialBaseUrl + Cifar.archives.cifar10
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const officialBaseUrl = "https://www.cs.toronto.edu/~kriz/"

/**
 * The published archives. MD5: as listed on the CIFAR page
 * (https://www.cs.toronto.edu/~kriz/cifar.html). Byte size and SHA-256: as recorded by
 * TensorFlow Datasets (`tensorflow_datasets/url_checksums/cifar10.txt` and `cifar100.txt`,
 * for the URLs `https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz` and
 * `…/cifar-100-binary.tar.gz`).
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * Cifar.checksums.cifar10.md5 // "c32a1d4ab5d03f1284b67883e8d87530"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const checksums: Record<Variant, Download.Expected> = {
  cifar10: {
    // TensorFlow Datasets, url_checksums/cifar10.txt
    size: 170052171,
    sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
    // the CIFAR page
    md5: "c32a1d4ab5d03f1284b67883e8d87530",
  },
  cifar100: {
    // TensorFlow Datasets, url_checksums/cifar100.txt
    size: 168513733,
    sha256: "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec",
    // the CIFAR page
    md5: "03b5dce01913d631647c71ecec9e9cb8",
  },
}

/**
 * Where to look and how to download. `path` may name the archive, the extracted folder or a
 * directory holding either; `env` defaults to `process.env`; `cacheDir` to
 * `$XDG_CACHE_HOME/retort` or `~/.cache/retort` (the archive goes to `<cacheDir>/<variant>/`);
 * `baseUrl` to {@link officialBaseUrl}; `checksums` to {@link checksums}; `download` to `true`;
 * `labels` (CIFAR-100 only) to `"fine"`. `expectedCounts` defaults to 50,000/10,000 and may be
 * changed for smaller files in the same format (tests, custom subsets).
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * const options: Cifar.Options = { variant: "cifar10", path: "./data", download: false }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly variant: Variant
  readonly path?: string
  readonly download?: boolean
  readonly baseUrl?: string
  readonly labels?: Labels
  readonly cacheDir?: string
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly checksums?: Record<Variant, Download.Expected>
  readonly report?: (e: Download.Event) => void
  readonly timeoutMs?: number
  readonly expectedCounts?: { readonly train: number; readonly test: number }
}

/**
 * The read options: which labels and how many records to expect.
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * const options: Cifar.ReadOptions = { labels: "fine", expectedCounts: { train: 100, test: 20 } }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ReadOptions = Pick<Options, "labels" | "expectedCounts">

/**
 * A located copy: an archive, or an extracted folder holding every file of {@link files}.
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * const found: Cifar.Found = { _tag: "Archive", variant: "cifar10", archive: "./cifar-10-binary.tar.gz" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Found =
  | { readonly _tag: "Archive"; readonly variant: Variant; readonly archive: string }
  | { readonly _tag: "Folder"; readonly variant: Variant; readonly dir: string }

const label = (variant: Variant) => (variant === "cifar10" ? "CIFAR-10" : "CIFAR-100")

/**
 * The directory the download goes to: `<cacheDir>/<variant>`, the cache defaulting to
 * `$XDG_CACHE_HOME/retort` or `~/.cache/retort`.
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * Cifar.cacheDir({ variant: "cifar10", env: { XDG_CACHE_HOME: "/tmp/c" } }) // "/tmp/c/retort/cifar10"
 * ```
 *
 * @since 0.1.0
 * @category locating
 */
export const cacheDir = (options: Options): string =>
  join(options.cacheDir ?? cacheRoot(options.env ?? process.env), options.variant)

/**
 * The places searched, in order: `path` and `path/<variant>`, `$RETORT_DATA` and
 * `$RETORT_DATA/<variant>`, then {@link cacheDir}.
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * Cifar.searchDirs({ variant: "cifar100", path: "./data", env: {} })
 * ```
 *
 * @since 0.1.0
 * @category locating
 */
export const searchDirs = (options: Options): ReadonlyArray<string> => {
  const env = options.env ?? process.env
  const dirs: Array<string> = []
  const add = (d: string) => {
    if (!dirs.includes(d)) dirs.push(d)
  }
  for (const root of [options.path, env.RETORT_DATA]) {
    if (root) {
      add(root)
      add(join(root, options.variant))
    }
  }
  add(cacheDir(options))
  return dirs
}

const kind = (path: string): Promise<"file" | "dir" | undefined> =>
  stat(path).then(
    (s) => (s.isFile() ? "file" : s.isDirectory() ? "dir" : undefined),
    () => undefined,
  )

/**
 * Finds a copy of the data set: in each of {@link searchDirs}, the place itself when it is a
 * file (taken as the archive) or the extracted folder, then the extracted folder inside it, then
 * the archive inside it. Succeeds with `found: undefined` when there is none; `partial` lists
 * extracted folders that lack some files.
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * import { Effect } from "effect"
 * const { found } = await Effect.runPromise(Cifar.locate({ variant: "cifar10", path: "./data" }))
 * ```
 *
 * @since 0.1.0
 * @category locating
 */
export const locate = (
  options: Options,
): Effect.Effect<{ readonly found: Found | undefined; readonly partial: ReadonlyArray<string> }> =>
  Effect.promise(async () => {
    const variant = options.variant
    const partial: Array<string> = []
    // the extracted folder's files all present, some present (partial), or none
    const folder = async (dir: string): Promise<boolean> => {
      const present = await Promise.all(allFiles(variant).map((f) => kind(join(dir, f))))
      const n = present.filter((k) => k === "file").length
      if (n === present.length) return true
      if (n > 0 && !partial.includes(dir)) partial.push(dir)
      return false
    }
    for (const place of searchDirs(options)) {
      const what = await kind(place)
      if (what === "file") return { found: { _tag: "Archive", variant, archive: place }, partial }
      if (what !== "dir") continue
      if (await folder(place)) return { found: { _tag: "Folder", variant, dir: place }, partial }
      const inner = join(place, folders[variant])
      if ((await kind(inner)) === "dir" && (await folder(inner))) {
        return { found: { _tag: "Folder", variant, dir: inner }, partial }
      }
      const archive = join(place, archives[variant])
      if ((await kind(archive)) === "file") return { found: { _tag: "Archive", variant, archive }, partial }
    }
    return { found: undefined, partial }
  })

/**
 * How to get the data set, for error hints.
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * Cifar.hint("cifar100")
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const hint = (variant: Variant): string =>
  `put ${archives[variant]} or its extracted folder ${folders[variant]}/ in a directory named by ` +
  `RETORT_DATA (or pass it as the path option), or download it from ${officialBaseUrl}${archives[variant]}`

// --- reading -----------------------------------------------------------------------------------

/** The needed files' bytes, by file name, and how to name each in messages. */
interface Contents {
  readonly bytes: ReadonlyMap<string, Uint8Array>
  readonly describe: (file: string) => string
  readonly where: string
}

const message = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

const readFolder = (variant: Variant, dir: string): Effect.Effect<Contents, DataError> =>
  Effect.tryPromise({
    try: async () => {
      const names = allFiles(variant)
      const contents = await Promise.all(names.map((f) => readFile(join(dir, f))))
      return new Map(names.map((f, i) => [f, new Uint8Array(contents[i]!) as Uint8Array]))
    },
    catch: (cause) =>
      new DataError({
        message: `cannot read the ${label(variant)} folder ${dir}: ${message(cause)}`,
        hint: hint(variant),
        cause,
      }),
  }).pipe(Effect.map((bytes) => ({ bytes, describe: (f: string) => join(dir, f), where: dir })))

class ArchiveProblem extends Error {
  constructor(
    readonly stage: "read" | "gzip" | "tar",
    cause: unknown,
  ) {
    super(message(cause), { cause })
  }
}

/**
 * Streams `archive` through gunzip into node-tar's parser and keeps the regular-file members
 * named in `wanted` (paths as in the archive, a leading `./` ignored).
 */
const members = (archive: string, wanted: ReadonlySet<string>): Promise<Map<string, Uint8Array>> =>
  new Promise((resolve, reject) => {
    const got = new Map<string, Uint8Array>()
    const source = createReadStream(archive)
    const gunzip = createGunzip()
    let failed = false
    const fail = (stage: ArchiveProblem["stage"]) => (cause: unknown) => {
      if (failed) return
      failed = true
      source.destroy()
      gunzip.destroy()
      reject(new ArchiveProblem(stage, cause))
    }
    const parser = new Parser({
      // warnings (a truncated member, a bad header) fail the read instead of being skipped
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const path = entry.path.replace(/^(\.\/)+/, "")
        if ((entry.type !== "File" && entry.type !== "OldFile") || !wanted.has(path)) {
          entry.resume()
          return
        }
        const buffer = new Uint8Array(entry.size)
        let at = 0
        entry.on("data", (chunk: Buffer) => {
          buffer.set(chunk, at)
          at += chunk.length
        })
        entry.on("end", () => got.set(path, at === buffer.length ? buffer : buffer.subarray(0, at)))
      },
    })
    source.on("error", fail("read"))
    gunzip.on("error", fail("gzip"))
    parser.on("error", fail("tar"))
    parser.on("end", () => {
      if (!failed) resolve(got)
    })
    gunzip.on("data", (chunk: Buffer) => {
      if (!parser.write(chunk)) {
        gunzip.pause()
        parser.once("drain", () => gunzip.resume())
      }
    })
    gunzip.on("end", () => parser.end())
    source.pipe(gunzip)
  })

const readArchive = (variant: Variant, archive: string): Effect.Effect<Contents, DataError> =>
  Effect.gen(function* () {
    const prefix = `${folders[variant]}/`
    const names = allFiles(variant)
    const wanted = new Set(names.map((f) => prefix + f))
    const got = yield* Effect.tryPromise({
      try: () => members(archive, wanted),
      catch: (cause) => {
        const stage = cause instanceof ArchiveProblem ? cause.stage : "read"
        const detail = message(cause)
        return new DataError({
          message:
            stage === "gzip"
              ? `${archive} is not a valid gzip file (${detail}); the ${label(variant)} archive is damaged or incomplete`
              : stage === "tar"
                ? `${archive} is not a valid tar archive (${detail})`
                : `cannot read ${archive}: ${detail}`,
          hint: `delete ${archive} and download it again, or ${hint(variant)}`,
          cause: cause instanceof ArchiveProblem ? cause.cause : cause,
        })
      },
    })
    const missing = names.filter((f) => !got.has(prefix + f))
    if (missing.length > 0) {
      return yield* Effect.fail(
        new DataError({
          message: `${archive} lacks ${missing.map((f) => prefix + f).join(", ")}; it is not the ${label(variant)} binary archive (${archives[variant]})`,
          hint: hint(variant),
        }),
      )
    }
    const bytes = new Map(names.map((f) => [f, got.get(prefix + f)!]))
    return { bytes, describe: (f: string) => `${prefix}${f} in ${archive}`, where: archive }
  })

const names = (text: Uint8Array): Array<string> =>
  new TextDecoder()
    .decode(text)
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0)

/** 1/255 · byte, as the float stored. */
const SCALE = Float32Array.from({ length: 256 }, (_, i) => i / 255)

/**
 * Decodes the records of one split (the files in order) into NHWC floats and labels.
 * `labelAt` is the offset of the label byte used (0, or 1 for CIFAR-100's fine labels).
 */
const decode = (
  variant: Variant,
  contents: Contents,
  split: "train" | "test",
  expected: number,
  labelAt: number,
): Effect.Effect<Dataset.Split, DataError> =>
  Effect.suspend(() => {
    const size = recordSize[variant]
    const offset = size - IMAGE
    const parts = files[variant][split]
    const bad = (text: string) =>
      Effect.fail(
        new DataError({
          message: text,
          hint: `the ${label(variant)} files in ${contents.where} are damaged or not the binary version; ${hint(variant)}`,
        }),
      )
    let n = 0
    for (const f of parts) {
      const bytes = contents.bytes.get(f)!
      if (bytes.length % size !== 0) {
        return bad(
          `${contents.describe(f)} holds ${bytes.length} bytes, not a whole number of ${size}-byte ${label(variant)} records`,
        )
      }
      n += bytes.length / size
    }
    if (n !== expected) {
      return bad(
        `${parts.length > 1 ? `${parts.join(", ")} in ${contents.where} hold` : `${contents.describe(parts[0]!)} holds`} ` +
          `${n} records; ` +
          `${label(variant)} ${split} expects ${expected}`,
      )
    }
    // label byte offset → number of classes it indexes
    const ranges = variant === "cifar10" ? [10] : [20, 100]
    const x = new Float32Array(n * IMAGE)
    const y = new Int32Array(n)
    let i = 0
    for (const f of parts) {
      const bytes = contents.bytes.get(f)!
      const count = bytes.length / size
      for (let r = 0; r < count; r++, i++) {
        const at = r * size
        for (let k = 0; k < ranges.length; k++) {
          const value = bytes[at + k]!
          if (value >= ranges[k]!) {
            const which = variant === "cifar10" ? "label" : k === 0 ? "coarse label" : "fine label"
            return bad(
              `${contents.describe(f)}: ${which} ${value} of record ${r} is not in 0 … ${ranges[k]! - 1}`,
            )
          }
        }
        y[i] = bytes[at + labelAt]!
        // planar (R plane, G plane, B plane) → interleaved HWC
        const base = at + offset
        const out = i * IMAGE
        for (let p = 0; p < PIXELS; p++) {
          const o = out + p * 3
          x[o] = SCALE[bytes[base + p]!]!
          x[o + 1] = SCALE[bytes[base + PIXELS + p]!]!
          x[o + 2] = SCALE[bytes[base + 2 * PIXELS + p]!]!
        }
      }
    }
    return Effect.succeed({ x, y, n })
  })

/**
 * Reads a located copy (see {@link locate}): the archive gunzipped and parsed in place, or the
 * extracted folder's files. Checks that every file holds whole records, that the record counts
 * match `expectedCounts` (default 50,000/10,000), that labels are in range and that the class
 * names file lists one name per class; each failure is a `DataError` naming the file.
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * import { Effect } from "effect"
 * const program = Effect.flatMap(Cifar.locate({ variant: "cifar100" }), ({ found }) =>
 *   found ? Cifar.read(found, { labels: "coarse" }) : Effect.die("not found"))
 * ```
 *
 * @since 0.1.0
 * @category loading
 */
export const read = (found: Found, options: ReadOptions = {}): Effect.Effect<Dataset.Dataset, DataError> =>
  Effect.gen(function* () {
    const variant = found.variant
    const labels = options.labels ?? "fine"
    if (variant === "cifar10" && labels !== "fine") {
      return yield* Effect.fail(
        new DataError({
          message: `labels: "${labels}" applies only to CIFAR-100; CIFAR-10 has one set of 10 labels`,
        }),
      )
    }
    const counts = options.expectedCounts ?? { train: 50000, test: 10000 }
    const contents =
      found._tag === "Folder"
        ? yield* readFolder(variant, found.dir)
        : yield* readArchive(variant, found.archive)
    const coarse = labels === "coarse"
    const classes = variant === "cifar10" ? 10 : coarse ? 20 : 100
    const namesFile =
      variant === "cifar10" ? "batches.meta.txt" : coarse ? "coarse_label_names.txt" : "fine_label_names.txt"
    const classNames = names(contents.bytes.get(namesFile)!)
    if (classNames.length !== classes) {
      return yield* Effect.fail(
        new DataError({
          message: `${contents.describe(namesFile)} lists ${classNames.length} class names; ${label(variant)} has ${classes}`,
          hint: hint(variant),
        }),
      )
    }
    const labelAt = variant === "cifar100" && !coarse ? 1 : 0
    const train = yield* decode(variant, contents, "train", counts.train, labelAt)
    const test = yield* decode(variant, contents, "test", counts.test, labelAt)
    return yield* Dataset.make({
      name: variant === "cifar10" ? "cifar10" : coarse ? "cifar100-coarse" : "cifar100",
      classes,
      shape: [32, 32, 3],
      classNames,
      train,
      test,
    })
  })

/**
 * Downloads the archive into {@link cacheDir} (unless it is already there), verified against
 * `options.checksums` (default {@link checksums}); the file only appears once verified.
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * const get = Cifar.download({ variant: "cifar10", cacheDir: "/tmp/retort-cache" })
 * ```
 *
 * @since 0.1.0
 * @category loading
 */
export const download = (options: Options): Effect.Effect<Found, DataError> =>
  Effect.gen(function* () {
    const variant = options.variant
    const name = archives[variant]
    const dest = join(cacheDir(options), name)
    if ((yield* Effect.promise(() => kind(dest))) !== "file") {
      const base = (options.baseUrl ?? officialBaseUrl).replace(/\/?$/, "/")
      yield* Download.file(base + name, dest, {
        expected: (options.checksums ?? checksums)[variant],
        report: options.report ?? Download.consoleReporter(),
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      }).pipe(
        Effect.mapError(
          (e) =>
            new DataError({
              message: `${label(variant)}: ${e.message}`,
              hint: e.hint ? `${e.hint}; or ${hint(variant)}` : hint(variant),
              cause: e,
            }),
        ),
      )
    }
    return { _tag: "Archive", variant, archive: dest } as const
  })

/**
 * Loads CIFAR-10 or CIFAR-100: the first copy {@link locate} finds, else — when `download` is not
 * `false` — a verified download into the user cache. Fails with a `DataError` carrying a `hint`
 * when the data cannot be found or fetched, or is malformed.
 *
 * @example
 * ```ts
 * import * as Cifar from "./src/data/Cifar.js"
 * import { Effect } from "effect"
 * const ds = await Effect.runPromise(Cifar.load({ variant: "cifar100", labels: "coarse" }))
 * ds.classes // 20
 * ```
 *
 * @since 0.1.0
 * @category loading
 */
export const load = (options: Options): Effect.Effect<Dataset.Dataset, DataError> =>
  Effect.gen(function* () {
    if (!variants.includes(options.variant)) {
      return yield* Effect.fail(
        new DataError({
          message: `unknown CIFAR variant "${String(options.variant)}"; expected one of ${variants.join(", ")}`,
        }),
      )
    }
    const readOptions: ReadOptions = {
      ...(options.labels === undefined ? {} : { labels: options.labels }),
      ...(options.expectedCounts === undefined ? {} : { expectedCounts: options.expectedCounts }),
    }
    const { found, partial } = yield* locate(options)
    if (found) return yield* read(found, readOptions)
    if (options.download === false) {
      const incomplete =
        partial.length > 0 ? ` (incomplete ${folders[options.variant]} folders: ${partial.join(", ")})` : ""
      return yield* Effect.fail(
        new DataError({
          message:
            `${label(options.variant)} not found in ${searchDirs(options).join(", ")}${incomplete}, ` +
            `and downloading is off`,
          hint: hint(options.variant),
        }),
      )
    }
    return yield* read(yield* download(options), readOptions)
  })
