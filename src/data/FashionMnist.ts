/**
 * Fashion-MNIST (Zalando Research): 60,000 training and 10,000 test images, 28×28 grey, 10
 * classes of clothing, stored as four IDX files.
 *
 * {@link load} looks for the files, in order, in: the `dataDir` option, `$RETORT_DATA`, the user
 * cache (`$XDG_CACHE_HOME/retort` or `~/.cache/retort`), and `/usr/share/datasets/fashion-mnist`
 * (Debian's `dataset-fashion-mnist` package). In each directory `d` it accepts the files in `d`
 * itself or in `d/fashion-mnist`, gzipped (`.gz`) or not. When nothing is found and `download`
 * is on, it downloads the four files from the official bucket into the user cache, verifying
 * each against the SHA-256 (from TensorFlow Datasets' checksum registry), the MD5 (from the
 * official README) and the byte size of the published file.
 *
 * @example
 * ```ts
 * import { FashionMnist } from "retort"
 * import { Effect } from "effect"
 * const ds = await Effect.runPromise(FashionMnist.load({ download: false }))
 * ds.train.n // 60000
 * ```
 *
 * @since 0.1.0
 */
import { access } from "node:fs/promises"
import { homedir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { DataError } from "../errors.js"
import * as Dataset from "./Dataset.js"
import * as Download from "./Download.js"
import * as Idx from "./Idx.js"

/**
 * The four files of the data set.
 *
 * @since 0.1.0
 * @category constants
 */
export const files = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const

/**
 * Which of the four files.
 *
 * @since 0.1.0
 * @category models
 */
export type Part = keyof typeof files

const parts: ReadonlyArray<Part> = ["trainImages", "trainLabels", "testImages", "testLabels"]

/**
 * The official download location (Zalando Research's S3 bucket, as linked from the project's
 * README).
 *
 * @since 0.1.0
 * @category constants
 */
export const officialBaseUrl = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

/**
 * The published `.gz` files: byte size and SHA-256 as recorded by TensorFlow Datasets
 * (`url_checksums/fashion_mnist.txt`), MD5 as listed in the official README.
 *
 * @since 0.1.0
 * @category constants
 */
export const checksums: Record<Part, Download.Expected> = {
  trainImages: {
    size: 26421880,
    sha256: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    md5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
  },
  trainLabels: {
    size: 29515,
    sha256: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    md5: "25c81989df183df01b3e8a0aad5dffbe",
  },
  testImages: {
    size: 4422102,
    sha256: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    md5: "bef4ecab320f06d8554ea6380940ec79",
  },
  testLabels: {
    size: 5148,
    sha256: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    md5: "bb300cfdad3c16e7a12a480ee83cd310",
  },
}

/**
 * The class names, by label.
 *
 * @since 0.1.0
 * @category constants
 */
export const classNames: ReadonlyArray<string> = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
]

/**
 * The Debian package directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const systemDir = "/usr/share/datasets/fashion-mnist"

/**
 * Where to look and how to download. `env` defaults to `process.env`, `systemDirs` to
 * {@link systemDir}, `cacheDir` to `$XDG_CACHE_HOME/retort` or `~/.cache/retort` (files go to
 * `<cacheDir>/fashion-mnist`), `baseUrl` to {@link officialBaseUrl}, `checksums` to
 * {@link checksums}; `download` defaults to `true`. `expectedCounts` defaults to 60,000/10,000
 * and may be changed for smaller files in IDX format (tests, custom subsets).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly dataDir?: string
  readonly download?: boolean
  readonly baseUrl?: string
  readonly cacheDir?: string
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly systemDirs?: ReadonlyArray<string>
  readonly checksums?: Record<Part, Download.Expected>
  readonly report?: (event: Download.Event) => void
  readonly timeoutMs?: number
  readonly expectedCounts?: { readonly train: number; readonly test: number }
}

/**
 * The user cache root: `$XDG_CACHE_HOME/retort`, else `~/.cache/retort`.
 *
 * @example
 * ```ts
 * import { FashionMnist } from "retort"
 * FashionMnist.cacheRoot({ XDG_CACHE_HOME: "/tmp/c" }) // "/tmp/c/retort"
 * ```
 *
 * @since 0.1.0
 * @category locating
 */
export const cacheRoot = (env: Readonly<Record<string, string | undefined>> = process.env): string =>
  env.XDG_CACHE_HOME ? join(env.XDG_CACHE_HOME, "retort") : join(env.HOME || homedir(), ".cache", "retort")

/**
 * The directories searched, in order (each also with `/fashion-mnist` appended).
 *
 * @example
 * ```ts
 * import { FashionMnist } from "retort"
 * FashionMnist.searchDirs({ dataDir: "./data" })
 * ```
 *
 * @since 0.1.0
 * @category locating
 */
export const searchDirs = (options: Options = {}): ReadonlyArray<string> => {
  const env = options.env ?? process.env
  const roots: Array<string> = []
  if (options.dataDir) roots.push(options.dataDir)
  if (env.RETORT_DATA) roots.push(env.RETORT_DATA)
  roots.push(options.cacheDir ?? cacheRoot(env))
  roots.push(...(options.systemDirs ?? [systemDir]))
  const dirs: Array<string> = []
  for (const root of roots) {
    for (const d of [root, join(root, "fashion-mnist")]) if (!dirs.includes(d)) dirs.push(d)
  }
  return dirs
}

/**
 * Paths to the four files found together in one directory.
 *
 * @since 0.1.0
 * @category models
 */
export type Found = { readonly dir: string } & Record<Part, string>

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  )

/**
 * Finds a directory holding all four files (each gzipped or not). Succeeds with `undefined` when
 * none does; `partial` lists directories that hold only some of them.
 *
 * @example
 * ```ts
 * import { FashionMnist } from "retort"
 * import { Effect } from "effect"
 * const where = await Effect.runPromise(FashionMnist.locate())
 * ```
 *
 * @since 0.1.0
 * @category locating
 */
export const locate = (
  options: Options = {},
): Effect.Effect<{ readonly found: Found | undefined; readonly partial: ReadonlyArray<string> }> =>
  Effect.promise(async () => {
    const partial: Array<string> = []
    for (const dir of searchDirs(options)) {
      const paths: Partial<Record<Part, string>> = {}
      for (const part of parts) {
        for (const candidate of [`${files[part]}.gz`, files[part]]) {
          const path = join(dir, candidate)
          if (await exists(path)) {
            paths[part] = path
            break
          }
        }
      }
      const n = Object.keys(paths).length
      if (n === parts.length) return { found: { dir, ...(paths as Record<Part, string>) }, partial }
      if (n > 0) partial.push(dir)
    }
    return { found: undefined, partial }
  })

/**
 * How to get the data set, for error hints.
 *
 * @since 0.1.0
 * @category constants
 */
export const hint =
  "install Debian's package (apt-get install dataset-fashion-mnist), or put the four IDX files " +
  `(${parts.map((p) => `${files[p]}.gz`).join(", ")}) in a directory named by RETORT_DATA, ` +
  `or download them from ${officialBaseUrl}`

/**
 * Reads and checks the four files: images `[n, 28, 28]` uint8, labels `[n]` uint8 in `0 … 9`,
 * matching counts.
 *
 * @example
 * ```ts
 * import { FashionMnist } from "retort"
 * import { Effect } from "effect"
 * const program = Effect.flatMap(FashionMnist.locate(), ({ found }) =>
 *   found ? FashionMnist.read(found) : Effect.die("not found"))
 * ```
 *
 * @since 0.1.0
 * @category loading
 */
export const read = (
  found: Found,
  expectedCounts: { readonly train: number; readonly test: number } = { train: 60000, test: 10000 },
): Effect.Effect<Dataset.Dataset, DataError> =>
  Effect.gen(function* () {
    const readSplit = (images: string, labels: string, count: number) =>
      Effect.gen(function* () {
        const x = yield* Idx.read(images)
        const y = yield* Idx.read(labels)
        const bad = (message: string) =>
          Effect.fail(
            new DataError({
              message: `${message}; Fashion-MNIST expects ${count} images of 28×28`,
              hint: `the files in ${found.dir} are not Fashion-MNIST or are damaged; ${hint}`,
            }),
          )
        if (
          x.type !== "uint8" ||
          x.dims.length !== 3 ||
          x.dims[1] !== 28 ||
          x.dims[2] !== 28 ||
          x.dims[0] !== count
        ) {
          return yield* bad(`${images} holds ${x.type} [${x.dims.join(", ")}]`)
        }
        if (y.type !== "uint8" || y.dims.length !== 1 || y.dims[0] !== count) {
          return yield* bad(`${labels} holds ${y.type} [${y.dims.join(", ")}]`)
        }
        const labelsOut = new Int32Array(count)
        for (let i = 0; i < count; i++) {
          const label = y.data[i]!
          if (label > 9) return yield* bad(`${labels}: label ${label} at ${i} is not in 0 … 9`)
          labelsOut[i] = label
        }
        return { x: Dataset.bytesToFloats(x.data), y: labelsOut, n: count } satisfies Dataset.Split
      })
    // both splits at once: inflating runs on libuv's thread pool, so the test set's overlaps
    // the train set's conversion to floats
    const [train, test] = yield* Effect.all(
      [
        readSplit(found.trainImages, found.trainLabels, expectedCounts.train),
        readSplit(found.testImages, found.testLabels, expectedCounts.test),
      ],
      { concurrency: 2 },
    )
    return { name: "fashion-mnist", classes: 10, shape: [28, 28, 1], classNames, train, test } as const
  })

/**
 * Downloads the four `.gz` files into `<cacheDir>/fashion-mnist` (skipping those already there),
 * verifying each; returns their paths.
 *
 * @example
 * ```ts
 * import { FashionMnist } from "retort"
 * const get = FashionMnist.download({ cacheDir: "/tmp/retort-cache" })
 * ```
 *
 * @since 0.1.0
 * @category loading
 */
export const download = (options: Options = {}): Effect.Effect<Found, DataError> =>
  Effect.gen(function* () {
    const dir = join(options.cacheDir ?? cacheRoot(options.env ?? process.env), "fashion-mnist")
    const base = (options.baseUrl ?? officialBaseUrl).replace(/\/?$/, "/")
    const table = options.checksums ?? checksums
    const paths: Partial<Record<Part, string>> = {}
    for (const part of parts) {
      const name = `${files[part]}.gz`
      const dest = join(dir, name)
      if (!(yield* Effect.promise(() => exists(dest)))) {
        yield* Download.file(base + name, dest, {
          expected: table[part],
          report: options.report ?? Download.consoleReporter(),
          ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        }).pipe(
          Effect.mapError(
            (e) =>
              new DataError({
                message: `Fashion-MNIST: ${e.message}`,
                hint: e.hint ? `${e.hint}; or ${hint}` : hint,
                cause: e,
              }),
          ),
        )
      }
      paths[part] = dest
    }
    return { dir, ...(paths as Record<Part, string>) }
  })

/**
 * Loads Fashion-MNIST: the first directory holding all four files (see {@link searchDirs}),
 * else — when `download` is not `false` — a verified download into the user cache. Fails with a
 * `DataError` carrying a `hint` when the files cannot be found or fetched, or are malformed.
 *
 * @example
 * ```ts
 * import { FashionMnist } from "retort"
 * import { Effect } from "effect"
 * const ds = await Effect.runPromise(FashionMnist.load({ dataDir: "./data" }))
 * ```
 *
 * @since 0.1.0
 * @category loading
 */
export const load = (options: Options = {}): Effect.Effect<Dataset.Dataset, DataError> =>
  Effect.gen(function* () {
    const { found, partial } = yield* locate(options)
    const counts = options.expectedCounts
    if (found) return yield* read(found, counts)
    const incomplete = partial.length > 0 ? ` (incomplete sets in ${partial.join(", ")})` : ""
    if (options.download === false) {
      return yield* Effect.fail(
        new DataError({
          message: `Fashion-MNIST not found in ${searchDirs(options).join(", ")}${incomplete}, and downloading is off`,
          hint,
        }),
      )
    }
    const downloaded = yield* download(options)
    return yield* read(downloaded, counts)
  })
