/**
 * Inference from the command line, on a trained run: `retort eval` (the evaluation metrics of
 * its models on a split, or on a folder of labelled images, without training), `retort
 * predict` (the top classes of image files, with class names) and `retort export` (the model
 * for deployment, optionally with a web page). All three open the run directory's
 * `pipeline.json`, `checkpoint.bin` and `data.json`.
 *
 * @example
 * ```ts
 * import { evalCommand, exportCommand, predictCommand } from "./src/cli/infer.js"
 * ```
 *
 * @since 0.1.0
 */
import { existsSync, statSync } from "node:fs"
import { resolve } from "node:path"
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as Pipeline from "../../dsl/Pipeline.js"
import { Backend } from "../backend/Backend.js"
import { Data } from "../data/Data.js"
import * as Dataset from "../data/Dataset.js"
import * as ImageFolder from "../data/ImageFolder.js"
import { DataError, IoError } from "../errors.js"
import { Metrics } from "../metrics/index.js"
import * as Models from "../models/index.js"
import * as RunDir from "../probes/RunDir.js"
import * as Checkpoint from "../runtime/Checkpoint.js"
import * as DataSource from "../runtime/DataSource.js"
import * as Deploy from "../runtime/Deploy.js"
import * as Flags from "./flags.js"

/** The models of a run that have parameters in its checkpoint. */
const trainedModels = (pipeline: Pipeline.Pipeline, snapshot: Checkpoint.Snapshot): ReadonlyArray<string> =>
  Pipeline.modelNames(pipeline).filter((m) =>
    [...snapshot.tensors.keys()].some((k) => k.startsWith(`model/${m}/`)),
  )

/** A labelled folder, decoded like the run's images and labelled with the run's class numbers. */
const folderSplit = (path: string, info: DataSource.Info) =>
  Effect.gen(function* () {
    const loaded = yield* ImageFolder.load({
      path,
      size: [info.shape[0], info.shape[1]],
      channels: info.shape[2] === 1 ? 1 : 3,
      ...(info.fit !== undefined ? { fit: info.fit } : {}),
    })
    const ds = loaded.dataset
    const names = info.classNames ?? Array.from({ length: info.classes }, (_, i) => String(i))
    const map = (ds.classNames ?? []).map((n) => names.indexOf(n))
    const unknown = (ds.classNames ?? []).filter((_, i) => map[i]! < 0)
    if (unknown.length > 0)
      return yield* Effect.fail(
        new DataError({
          message: `${path} has class folders the run does not know: ${unknown.join(", ")} (the run's classes: ${names.join(", ")})`,
        }),
      )
    const all = Dataset.concat([ds.train, ...(ds.validation ? [ds.validation] : []), ds.test])
    const y = Int32Array.from(all.y, (v) => map[v]!)
    return { split: { x: all.x, y, n: all.n }, notes: loaded.warnings }
  })

/**
 * `retort eval RUN_DIR [--model NAME] [--split test|validation|train|PATH]`: accuracy, NLL and
 * ECE of the run's trained models (or one of them), on a split of the run's data (with the run's
 * hold-out and normalisation) or on a folder of labelled images (one sub-folder per class,
 * named like the run's classes).
 *
 * @example
 * ```ts
 * import { evalCommand } from "./src/cli/infer.js"
 * evalCommand // retort eval runs/distil-folder --split test
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const evalCommand = Command.make(
  "eval",
  {
    run: Argument.String("run").pipe(Argument.withDescription("a run directory (with checkpoint.bin)")),
    model: Flag.String("model").pipe(Flag.withDescription("evaluate only this model"), Flag.optional),
    split: Flag.String("split").pipe(
      Flag.withDescription("test (default), validation, train, or a folder of labelled images"),
      Flag.withDefault("test"),
    ),
    json: Flag.Boolean("json").pipe(Flag.withDescription("print JSON"), Flag.withDefault(false)),
    backend: Flags.backend,
    dataDir: Flags.dataDir,
    noDownload: Flags.noDownload,
    noNative: Flags.noNative,
  },
  (o) =>
    Effect.gen(function* () {
      const program = Effect.gen(function* () {
        const pipeline = yield* RunDir.readPipeline(o.run)
        const snapshot = yield* Checkpoint.load(resolve(o.run, "checkpoint.bin"))
        const names = Option.isSome(o.model) ? [o.model.value] : trainedModels(pipeline, snapshot)
        const info = yield* DataSource.readInfo(o.run)
        const splitName = o.split === "val" ? "validation" : o.split
        let split: Dataset.Split
        let shape: readonly [number, number, number]
        const notes: Array<string> = []
        if (!["test", "validation", "train"].includes(splitName)) {
          const path = resolve(o.split)
          if (!existsSync(path) || !statSync(path).isDirectory())
            return yield* Effect.fail(
              new IoError({ path, message: `--split ${o.split}: not test, validation, train, nor a folder` }),
            )
          if (info === undefined)
            return yield* Effect.fail(
              new IoError({
                path: o.run,
                message: "the run has no data.json: it cannot say how to decode a folder",
              }),
            )
          const f = yield* folderSplit(path, info)
          split = f.split
          shape = info.shape
          notes.push(...f.notes)
        } else {
          const seed =
            typeof snapshot.header.options.seed === "number" ? snapshot.header.options.seed : pipeline.seed
          const prepared = yield* DataSource.prepare(pipeline.data, {
            seed,
            download: !o.noDownload,
            ...(Option.isSome(o.dataDir) ? { dataDir: o.dataDir.value } : {}),
          })
          const ds = prepared.dataset
          const chosen = splitName === "test" ? ds.test : splitName === "train" ? ds.train : ds.validation
          if (!chosen || chosen.n === 0)
            return yield* Effect.fail(
              new DataError({
                message: `the run's data has no ${splitName} images`,
                hint: "choose another --split",
              }),
            )
          split = chosen
          shape = ds.shape
          notes.push(...prepared.notes.map((n) => n.message))
        }
        const rows: Array<{
          model: string
          split: string
          n: number
          accuracy: number
          nll: number
          ece: number
        }> = []
        for (const name of names) {
          const m = yield* RunDir.openModel(o.run, name)
          const logits = yield* Models.Predict.logits(m.built, split, shape)
          const r = new Metrics.Accumulator(m.built.classes ?? info?.classes ?? 0)
            .add(logits, split.y)
            .result()
          rows.push({ model: name, split: splitName, n: r.n, accuracy: r.accuracy, nll: r.nll, ece: r.ece })
        }
        return { rows, notes }
      })
      const { rows, notes } = yield* Effect.scoped(program).pipe(
        Effect.provide(Flags.backendLayer(o)),
        Effect.provide(Data.layer),
      )
      if (o.json) return yield* Console.log(JSON.stringify(rows, null, 2))
      for (const n of notes) yield* Console.error(`note: ${n}`)
      const head = ["model", "split", "images", "accuracy", "nll", "ece"]
      const body = rows.map((r) => [
        r.model,
        r.split,
        String(r.n),
        `${(100 * r.accuracy).toFixed(2)} %`,
        r.nll.toFixed(4),
        r.ece.toFixed(4),
      ])
      const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)))
      const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ")
      yield* Console.log([line(head), ...body.map(line)].join("\n"))
    }),
).pipe(
  Command.withDescription(
    "accuracy, NLL and ECE of a trained run's models on a split or a folder, without training: retort eval runs/kd --split test",
  ),
)

/**
 * `retort predict RUN_DIR --model NAME FILES… [--top K] [--json]`: decodes each image like the
 * run's training images (size, channels, fit; with the run's normalisation) and prints its top-K
 * classes with their names and probabilities. An image that cannot be decoded is reported and
 * the others are still predicted (exit code 1 when any failed).
 *
 * @example
 * ```ts
 * import { predictCommand } from "./src/cli/infer.js"
 * predictCommand // retort predict runs/distil-folder --model student photo.jpg
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const predictCommand = Command.make(
  "predict",
  {
    run: Argument.String("run").pipe(Argument.withDescription("a run directory (with checkpoint.bin)")),
    files: Argument.String("files").pipe(
      Argument.withDescription("image files (PNG, JPEG, WebP)"),
      Argument.variadic({ min: 1 }),
    ),
    model: Flag.String("model").pipe(Flag.withDescription("which model of the run")),
    top: Flag.Int("top").pipe(
      Flag.withDescription("how many classes to list (default 5)"),
      Flag.withDefault(5),
    ),
    json: Flag.Boolean("json").pipe(Flag.withDescription("print JSON"), Flag.withDefault(false)),
    backend: Flags.backend,
    noNative: Flags.noNative,
  },
  (o) =>
    Effect.gen(function* () {
      const program = Effect.gen(function* () {
        const m = yield* RunDir.openModel(o.run, o.model)
        const info = m.info
        if (info === undefined)
          return yield* Effect.fail(
            new IoError({
              path: o.run,
              message:
                "the run has no data.json (it was trained by an older Retort): it cannot say how to decode images",
            }),
          )
        const files = o.files.map((f) => resolve(f))
        const decoded = yield* ImageFolder.decodeFiles(files, {
          size: [info.shape[0], info.shape[1]],
          channels: info.shape[2] === 1 ? 1 : 3,
          ...(info.fit !== undefined ? { fit: info.fit } : {}),
        })
        const failed = new Set(decoded.failed.map((f) => f.file))
        const ok = files.filter((f) => !failed.has(f))
        const logits = yield* Models.Predict.logits(
          m.built,
          { x: decoded.x, y: new Int32Array(decoded.n), n: decoded.n },
          info.shape,
        )
        const k = m.built.classes ?? info.classes
        const names = info.classNames ?? Array.from({ length: k }, (_, i) => String(i))
        const results = ok.map((file, r) => {
          const row = logits.subarray(r * k, (r + 1) * k)
          const max = Math.max(...row)
          const exp = Array.from(row, (v) => Math.exp(v - max))
          const sum = exp.reduce((a, b) => a + b, 0)
          const top = exp
            .map((v, i) => ({ class: names[i]!, index: i, probability: v / sum }))
            .sort((a, b) => b.probability - a.probability)
            .slice(0, Math.max(1, o.top))
          return { file, top }
        })
        return { results, failed: decoded.failed }
      })
      const { results, failed } = yield* Effect.scoped(program).pipe(Effect.provide(Flags.backendLayer(o)))
      if (o.json) yield* Console.log(JSON.stringify({ predictions: results, failed }, null, 2))
      else {
        for (const r of results)
          yield* Console.log(
            `${r.file}: ${r.top.map((t) => `${t.class} ${(100 * t.probability).toFixed(1)} %`).join(", ")}`,
          )
        for (const f of failed) yield* Console.error(`${f.file}: could not be decoded (${f.reason})`)
      }
      if (failed.length > 0)
        return yield* Effect.fail(
          new DataError({ message: `${failed.length} of ${o.files.length} images could not be decoded` }),
        )
    }),
).pipe(
  Command.withDescription(
    "top classes of image files with a trained model: retort predict runs/x --model student a.jpg",
  ),
)

/**
 * `retort export RUN_DIR --model NAME [--out DIR] [--page]`: the model in the TF.js LayersModel
 * format with `data.json` (class names, input size, fit), and with `--page` a web page that
 * classifies an image in the browser.
 *
 * @example
 * ```ts
 * import { exportCommand } from "./src/cli/infer.js"
 * exportCommand // retort export runs/kd --model student --page
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const exportCommand = Command.make(
  "export",
  {
    run: Argument.String("run").pipe(Argument.withDescription("a run directory (with checkpoint.bin)")),
    model: Flag.String("model").pipe(Flag.withDescription("which model of the run to export")),
    out: Flag.String("out").pipe(
      Flag.withDescription("output directory (default <run>/export/<model>)"),
      Flag.optional,
    ),
    page: Flag.Boolean("page").pipe(
      Flag.withDescription("also write index.html and the TF.js scripts: a page that classifies an image"),
      Flag.withDefault(false),
    ),
  },
  (o) =>
    Effect.gen(function* () {
      const exported = yield* Effect.scoped(
        Deploy.exportModel(o.run, o.model, {
          page: o.page,
          ...(Option.isSome(o.out) ? { out: o.out.value } : {}),
        }),
      ).pipe(Effect.provide(Backend.layer({ kind: "cpu", kernels: false })))
      yield* Console.log(
        `exported ${o.model} to ${exported.dir}/model.json (TF.js LayersModel format: tf.loadLayersModel("…/model.json"))` +
          (o.page ? `\n  web page: serve ${exported.dir} over HTTP and open index.html` : ""),
      )
    }),
).pipe(
  Command.withDescription(
    "export a trained model of a run to the TF.js LayersModel format (--page: with a web page)",
  ),
)
