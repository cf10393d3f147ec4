/**
 * Deploying a trained model of a run: `model.json` + `weights.bin` in the TF.js LayersModel
 * format (loadable with `tf.loadLayersModel` in a browser or Node), `data.json` beside it (class
 * names, input size and channels, how images were fitted, and a normalisation the page must
 * apply when it is not already inside the model), and optionally a self-contained web page —
 * `index.html` and the TF.js scripts it needs — that classifies an image chosen by the user.
 *
 * A model Retort built takes pixels in `[0, 1]`: the run's normalisation is written as the
 * model's first layer. A LayersModel that was loaded from disk (and perhaps fine-tuned) keeps its
 * own topology, with the current weights; its `normalize` is recorded in `data.json`.
 *
 * The page exposes `window.retort = { ready, predict(pixels, n) }` (logits for `n` images of
 * `[h, w, c]` floats in `[0, 1]`), which is what the browser test drives.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Deploy from "./src/runtime/Deploy.js"
 * const done = Effect.runPromise(Effect.scoped(Deploy.exportModel("runs/distil-folder", "student", { page: true })))
 * ```
 *
 * @since 0.1.0
 */
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  writeFileSync,
} from "node:fs"
import { createRequire } from "node:module"
import { dirname, isAbsolute, join, relative, resolve } from "node:path"
import { Effect, type Scope } from "effect"
import { IoError, type ShapeError, ValidationError } from "../errors.js"
import * as Models from "../models/index.js"
import * as RunDir from "../probes/RunDir.js"
import type * as DataSource from "./DataSource.js"

/**
 * Options of {@link exportModel}: `out` (default `<run>/export/<model>`), `page` (also write
 * `index.html` and the TF.js scripts), `models` (builders of custom models).
 *
 * @example
 * ```ts
 * import * as Deploy from "./src/runtime/Deploy.js"
 * const o: Deploy.Options = { out: "site/model", page: true }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly out?: string
  readonly page?: boolean
  readonly models?: Readonly<Record<string, Models.CustomBuilder>>
}

/**
 * What was written: the directory and its files.
 *
 * @example
 * ```ts
 * import * as Deploy from "./src/runtime/Deploy.js"
 * declare const e: Deploy.Exported
 * e.files // ["model.json", "weights.bin", "data.json", "index.html", …]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Exported {
  readonly dir: string
  readonly files: ReadonlyArray<string>
}

/** The TF.js UMD bundles the page loads (from the installed packages). */
const bundles = [
  ["@tensorflow/tfjs-core", "dist/tf-core.min.js"],
  ["@tensorflow/tfjs-backend-cpu", "dist/tf-backend-cpu.min.js"],
  ["@tensorflow/tfjs-layers", "dist/tf-layers.min.js"],
] as const

/**
 * The path of an installed TF.js bundle, e.g. `bundlePath("@tensorflow/tfjs-core", "dist/tf-core.min.js")`.
 *
 * @example
 * ```ts
 * import * as Deploy from "./src/runtime/Deploy.js"
 * Deploy.bundlePath("@tensorflow/tfjs-core", "dist/tf-core.min.js")
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const bundlePath = (pkg: string, file: string): string => {
  const require = createRequire(import.meta.url)
  return join(dirname(require.resolve(`${pkg}/package.json`)), file)
}

/** The names an export writes (the weights may be split into shards: `weights*.bin`). */
const OWN = /^(model\.json|weights[\w.-]*\.bin|group\d+-shard\d+of\d+\.bin|data\.json|index\.html|tfjs)$/

/**
 * Where an export may write. The default folder (`<run>/export/<model>`) must stay inside the run
 * directory, with no symbolic link on the way out of it. A folder given with `--out` may be new,
 * empty or an earlier export (its `data.json` says so); a folder of other files is refused, and
 * so is any file the export would write that is a symbolic link (writing would follow it).
 */
const checkTarget = (run: string, out: string, defaulted: boolean): Effect.Effect<void, IoError> =>
  Effect.try({
    try: () => {
      const fail = (message: string) => {
        throw new IoError({ path: out, message })
      }
      if (defaulted) {
        const base = realpathSync(run)
        const inside = relative(join(resolve(run), "export"), out)
        if (inside === "" || inside.startsWith("..") || isAbsolute(inside))
          fail(`the export folder ${out} would be outside the run directory ${run}: give --out`)
        // every existing folder between the run directory and the export must be a real folder in it
        for (let dir = out; dir !== resolve(run) && dir !== dirname(dir); dir = dirname(dir))
          if (existsSync(dir) || lstatExists(dir)) {
            if (lstatSync(dir).isSymbolicLink())
              fail(
                `${dir} is a symbolic link: an export is written inside the run directory only; give --out`,
              )
            const real = realpathSync(dir)
            if (relative(base, real).startsWith(".."))
              fail(`${dir} leads outside the run directory ${run}; give --out`)
          }
      }
      if (!existsSync(out)) return
      if (!statSync(out).isDirectory()) fail(`${out} is a file, not a folder: give another --out`)
      const entries = readdirSync(out)
      const earlier = entries.includes("data.json") && isExport(join(out, "data.json"))
      const foreign = entries.filter((f) => !OWN.test(f))
      if (entries.length > 0 && (!earlier || foreign.length > 0))
        fail(
          `${out} holds files that are not a Retort export (${(foreign.length > 0 ? foreign : entries).slice(0, 3).join(", ")}${entries.length > 3 ? ", …" : ""}); Retort never overwrites them: give an empty or new --out`,
        )
      for (const f of entries)
        if (lstatSync(join(out, f)).isSymbolicLink())
          fail(
            `${join(out, f)} is a symbolic link: writing the export would follow it; remove it or give another --out`,
          )
    },
    catch: (cause) =>
      cause instanceof IoError
        ? cause
        : new IoError({ path: out, message: `cannot check the export folder: ${String(cause)}`, cause }),
  })

const lstatExists = (path: string) => {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

/** A `data.json` written by an export (this version marks it; earlier ones have the input line). */
const isExport = (file: string) => {
  try {
    const v = JSON.parse(readFileSync(file, "utf8")) as { exporter?: unknown; input?: unknown }
    return v.exporter === "retort" || v.input === "pixels in [0, 1], NHWC"
  } catch {
    return false
  }
}

/**
 * Writes a run's model for deployment (see the module documentation). Fails with an `IoError`
 * for a missing run, model or unwritable directory, a `ValidationError` for a model that cannot
 * be expressed as a LayersModel (a ViT, a custom model, a GraphModel — whose own folder is
 * already deployable).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Deploy from "./src/runtime/Deploy.js"
 * const program = Effect.scoped(Deploy.exportModel("runs/kd", "student", { out: "site/student" }))
 * ```
 *
 * @since 0.1.0
 * @category export
 */
export const exportModel = (
  run: string,
  model: string,
  options: Options = {},
): Effect.Effect<Exported, IoError | ValidationError | ShapeError, Scope.Scope> =>
  Effect.gen(function* () {
    const opened = yield* RunDir.openModel(run, model, options.models ? { models: options.models } : {})
    const out = resolve(options.out ?? join(run, "export", model))
    yield* checkTarget(run, out, options.out === undefined)
    const desc = opened.description
    let normalizeInPage: DataSource.Info["normalize"]
    if (desc._tag === "Load") {
      const name = opened.architecture
      const art = opened.loaded.artifacts[name]
      if (art === undefined || art._tag !== "Layers")
        return yield* Effect.fail(
          new ValidationError({
            issues: [
              {
                path: `models.${name}`,
                message: `"${model}" is a GraphModel read from ${desc.path}: it was not trained here; deploy that folder as it is`,
              },
            ],
          }),
        )
      const artifacts = Models.Layers.toArtifacts(art.layers, opened.built.params, opened.built.state)
      yield* Models.Layers.write(out, artifacts)
      normalizeInPage = desc.normalize
    } else yield* Models.exportLayersModel(desc, opened.built, opened.built.params, out)
    const info = opened.info
    const data = {
      exporter: "retort",
      model,
      input: "pixels in [0, 1], NHWC",
      shape: info?.shape ?? opened.built.input ?? null,
      classes: info?.classes ?? opened.built.classes ?? null,
      classNames: info?.classNames ?? null,
      fit: info?.fit ?? "fill",
      ...(normalizeInPage !== undefined ? { normalize: normalizeInPage } : {}),
    }
    const files = ["model.json", "weights.bin", "data.json"]
    yield* Effect.try({
      try: () => {
        writeFileSync(join(out, "data.json"), `${JSON.stringify(data, null, 2)}\n`)
        if (options.page) {
          mkdirSync(join(out, "tfjs"), { recursive: true })
          for (const [pkg, file] of bundles) {
            const name = file.split("/").pop()!
            copyFileSync(bundlePath(pkg, file), join(out, "tfjs", name))
            files.push(`tfjs/${name}`)
          }
          writeFileSync(join(out, "index.html"), page(model))
          files.push("index.html")
        }
      },
      catch: (cause) =>
        new IoError({ path: out, message: `could not write the export: ${String(cause)}`, cause }),
    })
    return { dir: out, files }
  })

/**
 * The web page written by `retort export --page`: loads `model.json` and `data.json`, lets the
 * user pick an image, fits it to the model's input size like the training images were (cover:
 * centre crop; contain: letterbox; fill: stretch), and lists the top-5 classes.
 *
 * @example
 * ```ts
 * import * as Deploy from "./src/runtime/Deploy.js"
 * const html = Deploy.page("student")
 * ```
 *
 * @since 0.1.0
 * @category export
 */
export const page = (model: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${model} — Retort</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
  canvas { image-rendering: pixelated; width: 128px; height: 128px; border: 1px solid #ccc; }
  table { border-collapse: collapse; margin-top: 1rem; } td { padding: 0.2rem 0.8rem; }
  .bar { background: #4a7; height: 0.8rem; }
</style>
<script src="tfjs/tf-core.min.js"></script>
<script src="tfjs/tf-backend-cpu.min.js"></script>
<script src="tfjs/tf-layers.min.js"></script>
</head>
<body>
<h1>${model}</h1>
<p id="status">loading the model…</p>
<p><input type="file" id="file" accept="image/*"></p>
<canvas id="view"></canvas>
<table id="top"></table>
<script>
(() => {
  const status = document.getElementById("status")
  const ready = (async () => {
    await tf.setBackend("cpu")
    const data = await (await fetch("data.json")).json()
    const model = await tf.loadLayersModel("model.json")
    status.textContent = "ready: " + data.shape.join("×") + " input, " + data.classes + " classes (backend " + tf.getBackend() + ")"
    return { data, model }
  })()
  // logits for n images of [h, w, c] floats in [0, 1] (row-major, NHWC)
  const predict = async (pixels, n) => {
    const { data, model } = await ready
    const [h, w, c] = data.shape
    return tf.tidy(() => {
      let x = tf.tensor4d(Float32Array.from(pixels), [n, h, w, c])
      if (data.normalize) {
        const pick = (a) => Array.from({ length: c }, (_, i) => (a.length === 1 ? a[0] : a[i]))
        x = x.sub(tf.tensor1d(pick(data.normalize.mean))).div(tf.tensor1d(pick(data.normalize.std)))
      }
      return model.predict(x).arraySync()
    })
  }
  const pixelsOf = (img, data) => {
    const [h, w, c] = data.shape
    const canvas = document.getElementById("view")
    canvas.width = w
    canvas.height = h
    const ctx = canvas.getContext("2d")
    ctx.fillStyle = "#000"
    ctx.fillRect(0, 0, w, h)
    const s = data.fit === "cover" ? Math.max(w / img.width, h / img.height) : Math.min(w / img.width, h / img.height)
    if (data.fit === "fill") ctx.drawImage(img, 0, 0, w, h)
    else ctx.drawImage(img, (w - img.width * s) / 2, (h - img.height * s) / 2, img.width * s, img.height * s)
    const rgba = ctx.getImageData(0, 0, w, h).data
    const out = new Float32Array(h * w * c)
    for (let i = 0; i < h * w; i++) {
      const r = rgba[4 * i] / 255, g = rgba[4 * i + 1] / 255, b = rgba[4 * i + 2] / 255
      if (c === 1) out[i] = 0.2126 * r + 0.7152 * g + 0.0722 * b
      else { out[3 * i] = r; out[3 * i + 1] = g; out[3 * i + 2] = b }
    }
    return out
  }
  document.getElementById("file").addEventListener("change", async (e) => {
    const file = e.target.files[0]
    if (!file) return
    const { data } = await ready
    const img = await createImageBitmap(file)
    const logits = (await predict(pixelsOf(img, data), 1))[0]
    const max = Math.max(...logits)
    const exp = logits.map((v) => Math.exp(v - max))
    const sum = exp.reduce((a, b) => a + b, 0)
    const ranked = exp.map((v, i) => [v / sum, i]).sort((a, b) => b[0] - a[0]).slice(0, 5)
    document.getElementById("top").innerHTML = ranked
      .map(([p, i]) => "<tr><td>" + (data.classNames ? data.classNames[i] : i) + "</td><td>" + (100 * p).toFixed(1) +
        " %</td><td><div class=bar style='width:" + (200 * p).toFixed(0) + "px'></div></td></tr>")
      .join("")
  })
  window.retort = { ready: ready.then(() => true), predict }
  ready.catch((err) => { status.textContent = "could not load the model: " + err })
})()
</script>
</body>
</html>
`
