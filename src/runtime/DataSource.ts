/**
 * From a pipeline's `data` description to the data set a run trains on: the source is loaded
 * (the embedded digits, Fashion-MNIST, CIFAR, an image folder, or data the program passes), the
 * validation images are held out (seeded), and the normalisation is resolved — given, or the
 * per-channel statistics of the training split. Runs, probes and `retort eval` share this, so
 * they all see the same images, split and normalisation.
 *
 * What a run learned about its data (class names, image shape, the resolved normalisation, how
 * a folder was decoded) is written to `data.json` in the run directory and next to an exported
 * model, so that `retort predict` and a web page can prepare new images the same way without
 * reading the training set again.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Pipeline } from "retort/dsl"
 * import { Data } from "./src/data/Data.js"
 * import * as DataSource from "./src/runtime/DataSource.js"
 * const prepared = Effect.runPromise(
 *   DataSource.prepare(Pipeline.data("mnist", { normalize: "train" }), { seed: 1 }).pipe(Effect.provide(Data.layer)),
 * )
 * ```
 *
 * @since 0.1.0
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { Effect } from "effect"
import type * as ModelDsl from "../../dsl/Model.js"
import type * as Pipeline from "../../dsl/Pipeline.js"
import { Data } from "../data/Data.js"
import * as DataSpec from "../data/DataSpec.js"
import * as Dataset from "../data/Dataset.js"
import { DataError, IoError } from "../errors.js"

/**
 * Where data may come from besides the description: a directory to search first for
 * Fashion-MNIST and CIFAR (`dataDir`), whether downloads are allowed, data handed in by the
 * program (required for `custom` sources), the seed of the validation hold-out, and a callback
 * for notes and decoding progress.
 *
 * @example
 * ```ts
 * import * as DataSource from "./src/runtime/DataSource.js"
 * const o: DataSource.Options = { seed: 1, download: false, dataDir: "./data" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly seed: number
  readonly dataDir?: string
  readonly download?: boolean
  readonly data?: DataSpec.DataSpec | Dataset.Dataset
  /** Progress while an image folder is decoded. */
  readonly progress?: (p: { readonly decoded: number; readonly total: number }) => void
}

/**
 * A prepared data set: the images (validation held out), the notes for the user (a fallback
 * data set, skipped images, single-image classes), and the resolved normalisation.
 *
 * @example
 * ```ts
 * import * as DataSource from "./src/runtime/DataSource.js"
 * declare const p: DataSource.Prepared
 * p.dataset.train.n
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Prepared {
  readonly dataset: Dataset.Dataset
  readonly notes: ReadonlyArray<{ readonly level: "info" | "warn"; readonly message: string }>
  readonly normalize: ModelDsl.Normalize | undefined
}

/** The class names, the first 20 of them when there are more. */
const classList = (names: ReadonlyArray<string>): string =>
  names.length <= 20 ? names.join(", ") : `${names.slice(0, 20).join(", ")}, … (${names.length - 20} more)`

const loadSource = (
  data: Pipeline.Data,
  options: Options,
): Effect.Effect<
  {
    readonly dataset: Dataset.Dataset
    readonly notes: ReadonlyArray<{ readonly level: "info" | "warn"; readonly message: string }>
  },
  DataError,
  Data
> =>
  Effect.gen(function* () {
    const service = yield* Data
    if (options.data !== undefined) {
      if ("_tag" in options.data) return { dataset: yield* service.load(options.data), notes: [] }
      return { dataset: yield* Dataset.make(options.data), notes: [] }
    }
    const fashion = {
      ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
      ...(options.download !== undefined ? { download: options.download } : {}),
    }
    switch (data.source) {
      case "mnist":
        return { dataset: yield* service.load(DataSpec.mnist()), notes: [] }
      case "fashion-mnist":
        return { dataset: yield* service.load(DataSpec.fashionMnist(fashion)), notes: [] }
      case "fashion-or-mnist": {
        const loaded = yield* service.fashionOrMnist(fashion)
        return {
          dataset: loaded.dataset,
          notes: loaded.note !== undefined ? [{ level: "info" as const, message: loaded.note }] : [],
        }
      }
      case "cifar10":
      case "cifar100": {
        const path = data.path ?? options.dataDir
        const dataset = yield* service.load(
          DataSpec.cifar({
            variant: data.source,
            ...(path !== undefined ? { path: resolve(path) } : {}),
            ...(options.download !== undefined ? { download: options.download } : {}),
            ...(data.labels !== undefined ? { labels: data.labels } : {}),
          }),
        )
        return { dataset, notes: [] }
      }
      case "folder": {
        const loaded = yield* service.folder({
          path: resolve(data.path ?? "."),
          seed: options.seed,
          ...(data.size !== undefined ? { size: data.size } : {}),
          ...(data.channels !== undefined ? { channels: data.channels } : {}),
          ...(data.fit !== undefined ? { fit: data.fit } : {}),
          ...(data.validation > 0 ? { validation: data.validation } : {}),
          ...(data.test !== undefined && data.test > 0 ? { test: data.test } : {}),
          ...(data.strict !== undefined ? { strict: data.strict } : {}),
          ...(options.progress !== undefined ? { report: options.progress } : {}),
        })
        const notes: Array<{ level: "info" | "warn"; message: string }> = loaded.warnings.map((message) => ({
          level: "warn",
          message,
        }))
        notes.unshift({
          level: "info",
          message: `${data.path}: ${loaded.files} images of ${loaded.dataset.classes} classes (${loaded.dataset.train.n} train, ${loaded.dataset.validation?.n ?? 0} validation, ${loaded.dataset.test.n} test), ${loaded.fromCache ? "decoded images read from the cache" : "decoded"}; classes: ${classList(loaded.dataset.classNames ?? [])}`,
        })
        return { dataset: loaded.dataset, notes }
      }
      case "custom":
        return yield* Effect.fail(
          new DataError({
            message: `the pipeline uses custom data "${data.name}", but no data was given`,
            hint: "pass `data` to run() (arrays, an async iterable or an Effect Stream of batches)",
          }),
        )
    }
  })

/**
 * Loads the data a pipeline describes, holds out its validation images (seeded; a folder does
 * that per class while it loads, or brings a `val/` tree), and resolves its normalisation
 * (`"train"`: per-channel mean and std of the training split).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Pipeline } from "retort/dsl"
 * import { Data } from "./src/data/Data.js"
 * import * as DataSource from "./src/runtime/DataSource.js"
 * const p = DataSource.prepare(Pipeline.data("mnist", { validation: 1000 }), { seed: 3 }).pipe(Effect.provide(Data.layer))
 * ```
 *
 * @since 0.1.0
 * @category loading
 */
export const prepare = (data: Pipeline.Data, options: Options): Effect.Effect<Prepared, DataError, Data> =>
  Effect.gen(function* () {
    const { dataset: loaded, notes } = yield* loadSource(data, options)
    const dataset =
      data.validation > 0 && loaded.validation === undefined
        ? yield* Dataset.split(loaded, { validation: data.validation, seed: options.seed })
        : loaded
    const normalize =
      data.normalize === "train"
        ? Dataset.channelStats(dataset.train, dataset.shape[2])
        : data.normalize === undefined
          ? undefined
          : data.normalize
    return { dataset, notes, normalize }
  })

/**
 * What `data.json` records: the data set's name, classes, class names and image shape, the
 * resolved normalisation, and how a folder's images were decoded (size, channels, fit) — all a
 * program needs to prepare a new image the way the model was trained.
 *
 * @example
 * ```ts
 * import * as DataSource from "./src/runtime/DataSource.js"
 * const info: DataSource.Info = { name: "flowers", classes: 2, classNames: ["daisy", "rose"], shape: [32, 32, 3], fit: "cover" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Info {
  readonly name: string
  readonly classes: number
  readonly classNames?: ReadonlyArray<string>
  readonly shape: readonly [number, number, number]
  readonly normalize?: ModelDsl.Normalize
  readonly fit?: Pipeline.Fit
  readonly source?: Pipeline.Source
}

/**
 * The {@link Info} of a prepared data set.
 *
 * @example
 * ```ts
 * import * as DataSource from "./src/runtime/DataSource.js"
 * declare const p: DataSource.Prepared
 * const info = DataSource.info(p, { source: "mnist", validation: 0 })
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const info = (prepared: Prepared, data: Pipeline.Data): Info => ({
  name: prepared.dataset.name,
  classes: prepared.dataset.classes,
  ...(prepared.dataset.classNames !== undefined ? { classNames: prepared.dataset.classNames } : {}),
  shape: [...prepared.dataset.shape] as [number, number, number],
  ...(prepared.normalize !== undefined ? { normalize: prepared.normalize } : {}),
  ...(data.source === "folder" ? { fit: data.fit ?? "cover" } : {}),
  source: data.source,
})

/**
 * Writes `dir/data.json`.
 *
 * @example
 * ```ts
 * import * as DataSource from "./src/runtime/DataSource.js"
 * declare const info: DataSource.Info
 * DataSource.writeInfo("runs/kd", info)
 * ```
 *
 * @since 0.1.0
 * @category io
 */
export const writeInfo = (dir: string, value: Info): Effect.Effect<void, IoError> =>
  Effect.try({
    try: () => writeFileSync(join(dir, "data.json"), `${JSON.stringify(value, null, 2)}\n`),
    catch: (cause) =>
      new IoError({ path: join(dir, "data.json"), message: `cannot write: ${String(cause)}`, cause }),
  })

/**
 * Reads `dir/data.json` (or the file itself); `undefined` when there is none (a run from
 * before it existed).
 *
 * @example
 * ```ts
 * import * as DataSource from "./src/runtime/DataSource.js"
 * const info = DataSource.readInfo("runs/kd")
 * ```
 *
 * @since 0.1.0
 * @category io
 */
export const readInfo = (location: string): Effect.Effect<Info | undefined, IoError> =>
  Effect.try({
    try: () => {
      const file = location.endsWith(".json") ? location : join(location, "data.json")
      if (!existsSync(file)) return undefined
      const parsed = JSON.parse(readFileSync(file, "utf8")) as Info
      if (
        typeof parsed !== "object" ||
        parsed === null ||
        !Array.isArray(parsed.shape) ||
        typeof parsed.classes !== "number"
      )
        throw new Error("not a data.json written by Retort")
      return parsed
    },
    catch: (cause) =>
      new IoError({
        path: location,
        message: `cannot read data.json: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause,
      }),
  })
