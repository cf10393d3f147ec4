/**
 * The `Data` service: loads a data set from a {@link DataSpec.DataSpec} — the embedded MNIST
 * digits, Fashion-MNIST (local files or a verified download), or user arrays and batch streams —
 * as an in-memory `Dataset`. `Data.layer` is the Node implementation (`node:fs`, `node:http(s)`).
 * Built-in data sets are loaded once per layer and shared.
 *
 * @example
 * ```ts
 * import { Data, DataSpec } from "retort"
 * import { Effect } from "effect"
 * const program = Effect.gen(function* () {
 *   const data = yield* Data
 *   const ds = yield* data.load(DataSpec.mnist())
 *   return ds.train.n
 * })
 * Effect.runPromise(program.pipe(Effect.provide(Data.layer)))
 * ```
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import type { DataError } from "../errors.js"
import * as Cifar from "./Cifar.js"
import type * as DataSpec from "./DataSpec.js"
import * as Dataset from "./Dataset.js"
import * as FashionMnist from "./FashionMnist.js"
import * as ImageFolder from "./ImageFolder.js"
import * as Mnist from "./Mnist.js"

/**
 * A loaded data set, with a note for the user when it is not the one asked for first.
 *
 * @since 0.1.0
 * @category models
 */
export interface Loaded {
  readonly dataset: Dataset.Dataset
  readonly note?: string
}

/**
 * Service-wide settings: where the user cache is, which environment to read (`RETORT_DATA`,
 * `XDG_CACHE_HOME`), which system directories to search, the checksum table, the download
 * reporter and timeout. All have working defaults; tests override them.
 *
 * @since 0.1.0
 * @category models
 */
export type Options = Omit<FashionMnist.Options, "dataDir" | "download" | "baseUrl">

/**
 * What the `Data` service does.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Loads the data set a spec names; fails with a `DataError` (with a `hint` when useful). */
  readonly load: (spec: DataSpec.DataSpec) => Effect.Effect<Dataset.Dataset, DataError>
  /**
   * Fashion-MNIST if it can be had — local files first, then (unless `download: false`) a
   * download — else the embedded MNIST digits, with a `note` saying why and how to get
   * Fashion-MNIST.
   */
  readonly fashionOrMnist: (options?: Omit<DataSpec.FashionMnist, "_tag">) => Effect.Effect<Loaded, DataError>
  /** An image folder, with what was skipped and the warnings (see `ImageFolder.load`). */
  readonly folder: (options: ImageFolder.Options) => Effect.Effect<ImageFolder.Loaded, DataError>
}

/**
 * The Node implementation of the service.
 *
 * @example
 * ```ts
 * import { make } from "./src/data/Data.js"
 * const service = make({ cacheDir: "/tmp/retort-cache" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Service => {
  const cache = new Map<string, Dataset.Dataset>()
  const memo = (key: string, load: Effect.Effect<Dataset.Dataset, DataError>) =>
    Effect.suspend(() => {
      const hit = cache.get(key)
      return hit ? Effect.succeed(hit) : Effect.tap(load, (ds) => Effect.sync(() => cache.set(key, ds)))
    })
  const fashion = (spec: Omit<DataSpec.FashionMnist, "_tag">) =>
    memo(
      `fashion:${spec.dataDir ?? ""}`,
      FashionMnist.load({
        ...options,
        ...(spec.dataDir === undefined ? {} : { dataDir: spec.dataDir }),
        ...(spec.download === undefined ? {} : { download: spec.download }),
        ...(spec.baseUrl === undefined ? {} : { baseUrl: spec.baseUrl }),
      }),
    )
  const mnist = memo("mnist", Mnist.load())
  const folder = (spec: ImageFolder.Options) =>
    ImageFolder.load({
      ...(options.cacheDir !== undefined ? { cacheDir: `${options.cacheDir}/image-folders` } : {}),
      ...spec,
    })
  const handlers: {
    readonly [K in DataSpec.DataSpec["_tag"]]: (
      spec: Extract<DataSpec.DataSpec, { _tag: K }>,
    ) => Effect.Effect<Dataset.Dataset, DataError>
  } = {
    Mnist: () => mnist,
    FashionMnist: fashion,
    Cifar: ({ _tag: _, ...spec }) =>
      memo(
        `cifar:${spec.variant}:${spec.labels ?? ""}:${spec.path ?? ""}`,
        Cifar.load({
          ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
          ...(options.env !== undefined ? { env: options.env } : {}),
          ...(options.report !== undefined ? { report: options.report } : {}),
          ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
          ...spec,
        }),
      ),
    Folder: ({ _tag: _, ...spec }) => Effect.map(folder(spec), (l) => l.dataset),
    Arrays: (spec) => Dataset.fromArrays(spec),
    Batches: (spec) => Dataset.fromBatches(spec),
  }
  const load = (spec: DataSpec.DataSpec) =>
    (handlers[spec._tag] as (s: DataSpec.DataSpec) => Effect.Effect<Dataset.Dataset, DataError>)(spec)
  const fashionOrMnist = (spec: Omit<DataSpec.FashionMnist, "_tag"> = {}) =>
    Effect.gen(function* () {
      // files that are there but damaged are an error, never a quiet switch to other data
      const { found } = yield* FashionMnist.locate({
        ...options,
        ...(spec.dataDir === undefined ? {} : { dataDir: spec.dataDir }),
      })
      if (found !== undefined) return yield* Effect.map(fashion(spec), (dataset): Loaded => ({ dataset }))
      return yield* fashion(spec).pipe(
        Effect.map((dataset): Loaded => ({ dataset })),
        Effect.catch((e: DataError) =>
          Effect.map(
            mnist,
            (dataset): Loaded => ({
              dataset,
              note:
                `Fashion-MNIST is not available (${e.message}); using the embedded MNIST digits ` +
                `(8,000 train / 2,000 test) instead. To use Fashion-MNIST: ${e.hint ?? FashionMnist.hint}.`,
            }),
          ),
        ),
      )
    })
  return { load, fashionOrMnist, folder }
}

/**
 * The data service tag. Provide it with {@link Data.layer} (defaults) or {@link Data.layerWith}.
 *
 * @example
 * ```ts
 * import { Data, DataSpec } from "retort"
 * import { Effect } from "effect"
 * const ds = Effect.gen(function* () {
 *   const data = yield* Data
 *   return yield* data.load(DataSpec.fashionMnist())
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Data extends Context.Service<Data, Service>()("retort/Data") {
  /**
   * The Node implementation with default settings.
   *
   * @since 0.1.0
   */
  static readonly layer: Layer.Layer<Data> = Layer.sync(Data, () => make())

  /**
   * The Node implementation with custom settings (cache directory, environment, reporter …).
   *
   * @since 0.1.0
   */
  static readonly layerWith = (options: Options): Layer.Layer<Data> => Layer.sync(Data, () => make(options))
}
