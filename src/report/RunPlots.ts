/**
 * The plots of a run, drawn from its events at the end: `loss.svg` (training loss and each loss
 * term against the step, one panel per phase), `eval.svg` (accuracy of each evaluated split
 * against the epoch, one panel per phase) and `schedule.svg` (learning rate, and every evaluated
 * hyper-parameter ramp, against the step: up to two panels per phase, when there are any). Optionally also as PNG, rendered
 * with `@resvg/resvg-js`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Event from "./Event.js"
 * import * as RunPlots from "./RunPlots.js"
 * const program = Event.readEvents("runs/kd/events.jsonl").pipe(
 *   Effect.flatMap((events) => RunPlots.writePlots("runs/kd", events)),
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { IoError } from "../errors.js"
import type * as Event from "./Event.js"
import * as Plot from "./Plot.js"

type Points = Array<readonly [number, number]>

interface PhaseData {
  readonly name: string
  readonly series: Map<string, Points>
  readonly lr: Map<string, Points>
  readonly schedules: Map<string, Points>
  readonly evals: Map<string, Points>
}

const phaseData = (events: Iterable<Event.Event>): Array<PhaseData> => {
  const phases: Array<PhaseData> = []
  const byName = new Map<string, PhaseData>()
  const get = (name: string): PhaseData => {
    let p = byName.get(name)
    if (!p) {
      p = { name, series: new Map(), lr: new Map(), schedules: new Map(), evals: new Map() }
      byName.set(name, p)
      phases.push(p)
    }
    return p
  }
  const push = (m: Map<string, Points>, key: string, point: readonly [number, number]) => {
    let pts = m.get(key)
    if (!pts) m.set(key, (pts = []))
    pts.push(point)
  }
  for (const e of events) {
    switch (e._tag) {
      case "PhaseStarted":
        get(e.phase)
        break
      case "StepMetrics": {
        const p = get(e.phase)
        push(p.series, "loss", [e.step, e.loss])
        for (const [k, v] of Object.entries(e.terms)) push(p.series, k, [e.step, v])
        if (e.lr !== undefined) push(p.lr, "lr", [e.step, e.lr])
        for (const [k, v] of Object.entries(e.hyper)) push(p.schedules, k, [e.step, v])
        break
      }
      case "EvalResult": {
        const p = get(e.phase)
        for (const [k, v] of Object.entries(e.metrics)) {
          if (!/accuracy/i.test(k)) continue
          push(p.evals, k === "accuracy" ? e.split : `${e.split} ${k}`, [e.epoch, v])
        }
        break
      }
      default:
        break
    }
  }
  return phases
}

interface Panel {
  readonly pick: (p: PhaseData) => Map<string, Points>
  readonly xLabel: string
  readonly yLabel: string
  readonly title: (phase: string) => string
}

/** One line-plot panel per phase and per kind of panel that has data, stacked; none: undefined. */
const panels = (phases: ReadonlyArray<PhaseData>, kinds: ReadonlyArray<Panel>): string | undefined => {
  const svgs = phases.flatMap((p) =>
    kinds
      .filter((k) => k.pick(p).size > 0)
      .map((k) =>
        Plot.linePlot({
          title: k.title(p.name),
          xLabel: k.xLabel,
          yLabel: k.yLabel,
          series: [...k.pick(p)].map(([name, points]) => ({ name, points })),
        }),
      ),
  )
  return svgs.length === 0 ? undefined : Plot.stack(svgs)
}

/**
 * The run's plots as SVG text, keyed by file name (`loss.svg`, `eval.svg`, `schedule.svg`); a
 * plot with nothing to show is left out.
 *
 * @example
 * ```ts
 * import * as Event from "./Event.js"
 * import * as RunPlots from "./RunPlots.js"
 * const files = RunPlots.render([
 *   Event.stepMetrics({ phase: "a", step: 1, epoch: 0, loss: 2.3, terms: {}, imagesPerSec: 1000, hyper: {} }),
 * ])
 * Object.keys(files) // ["loss.svg"]
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (events: Iterable<Event.Event>): Readonly<Record<string, string>> => {
  const phases = phaseData(events)
  const out: Record<string, string> = {}
  const files: ReadonlyArray<readonly [string, ReadonlyArray<Panel>]> = [
    [
      "loss.svg",
      [{ pick: (p) => p.series, xLabel: "step", yLabel: "loss", title: (n) => `${n}: training loss` }],
    ],
    [
      "eval.svg",
      [{ pick: (p) => p.evals, xLabel: "epoch", yLabel: "accuracy", title: (n) => `${n}: evaluation` }],
    ],
    [
      "schedule.svg",
      [
        { pick: (p) => p.lr, xLabel: "step", yLabel: "learning rate", title: (n) => `${n}: learning rate` },
        { pick: (p) => p.schedules, xLabel: "step", yLabel: "value", title: (n) => `${n}: hyper-parameters` },
      ],
    ],
  ]
  for (const [name, kinds] of files) {
    const svg = panels(phases, kinds)
    if (svg) out[name] = svg
  }
  return out
}

/**
 * Renders an SVG document to PNG with `@resvg/resvg-js` (system fonts), at `scale` × its size.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Plot from "./Plot.js"
 * import * as RunPlots from "./RunPlots.js"
 * const png = Effect.runPromise(RunPlots.toPng(Plot.linePlot({ series: [] })))
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const toPng = (
  svg: string,
  options: { readonly scale?: number } = {},
): Effect.Effect<Uint8Array, IoError> =>
  Effect.tryPromise({
    try: async () => {
      const { Resvg } = await import("@resvg/resvg-js")
      const resvg = new Resvg(svg, {
        fitTo: { mode: "zoom", value: options.scale ?? 1.5 },
        font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
        background: "#ffffff",
      })
      return new Uint8Array(resvg.render().asPng())
    },
    catch: (cause) => new IoError({ path: "<svg>", message: `cannot render PNG: ${String(cause)}`, cause }),
  })

/**
 * Writes the run's plots ({@link render}) into `dir`, creating it if needed, and also as PNG when
 * `png` is set. Returns the paths written.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as RunPlots from "./RunPlots.js"
 * Effect.runPromise(RunPlots.writePlots("runs/kd", [], { png: true })) // [] — nothing to draw
 * ```
 *
 * @since 0.1.0
 * @category io
 */
export const writePlots = (
  dir: string,
  events: Iterable<Event.Event>,
  options: { readonly png?: boolean } = {},
): Effect.Effect<ReadonlyArray<string>, IoError> =>
  Effect.gen(function* () {
    const files = render(events)
    const written: Array<string> = []
    const write = (file: string, data: string | Uint8Array) =>
      Effect.try({
        try: () => {
          fs.mkdirSync(dir, { recursive: true })
          fs.writeFileSync(file, data)
          written.push(file)
        },
        catch: (cause) => new IoError({ path: file, message: `cannot write plot: ${String(cause)}`, cause }),
      })
    for (const [name, svg] of Object.entries(files)) {
      yield* write(path.join(dir, name), svg)
      if (options.png) {
        const png = yield* toPng(svg).pipe(
          Effect.mapError((e) => new IoError({ ...e, path: path.join(dir, name) })),
        )
        yield* write(path.join(dir, name.replace(/\.svg$/, ".png")), png)
      }
    }
    return written
  })
