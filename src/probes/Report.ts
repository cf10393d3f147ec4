/**
 * Probe results as files and lines: {@link plot} draws a result as SVG (a line plot for a 1-D
 * interpolation, a loss contour map and an accuracy heatmap for a 2-D slice, the power-iteration
 * and ascent traces for sharpness), {@link summary} says it in one line, and {@link write} puts
 * `probes/<name>.json`, `.svg` and `.png` into a run directory.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Report from "./src/probes/Report.js"
 * declare const result: Report.Result
 * const files = await Effect.runPromise(Report.write("runs/kd", result))
 * console.log(Report.summary(result))
 * ```
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { IoError } from "../errors.js"
import * as Plot from "../report/Plot.js"
import * as RunPlots from "../report/RunPlots.js"
import type * as Landscape from "./Landscape.js"
import type * as Sharpness from "./Sharpness.js"

/**
 * Any probe result.
 *
 * @example
 * ```ts
 * import * as Report from "./src/probes/Report.js"
 * declare const r: Report.Result
 * const kind = r.kind // "interpolate" | "slice" | "sharpness"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Result = Landscape.Interpolation | Landscape.Slice | Sharpness.Sharpness

const fmt = (v: number, digits = 4): string =>
  !Number.isFinite(v)
    ? String(v)
    : Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3)
      ? v.toExponential(2)
      : Number(v.toPrecision(digits)).toString()

const pct = (v: number) => `${(100 * v).toFixed(1)}%`

/**
 * The loss barrier of an interpolation between its ends: the largest excess of the loss over the
 * straight line joining `L(α = 0)` and `L(α = 1)`, for α in [0, 1] (0 when the path is convex or
 * below the chord; `NaN` when the range does not contain both ends).
 *
 * @example
 * ```ts
 * import * as Report from "./src/probes/Report.js"
 * declare const line: import("./src/probes/Landscape.js").Interpolation
 * Report.barrier(line) // e.g. 0.42
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const barrier = (r: Landscape.Interpolation): number => {
  const near = (a: number) => r.points.find((p) => Math.abs(p.alpha - a) < 1e-9)
  const a = near(0)
  const b = near(1)
  if (!a || !b) return Number.NaN
  let worst = 0
  for (const p of r.points)
    if (p.alpha >= 0 && p.alpha <= 1)
      worst = Math.max(worst, p.loss - ((1 - p.alpha) * a.loss + p.alpha * b.loss))
  return worst
}

/**
 * One line describing a result (what the CLI prints).
 *
 * @example
 * ```ts
 * import * as Report from "./src/probes/Report.js"
 * declare const result: Report.Result
 * console.log(Report.summary(result))
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const summary = (r: Result): string => {
  const on = `${r.samples.n} ${r.samples.split} samples, ${r.seconds.toFixed(1)} s`
  switch (r._tag) {
    case "Interpolation": {
      const first = r.points.find((p) => Math.abs(p.alpha) < 1e-9)
      const last = r.points.find((p) => Math.abs(p.alpha - 1) < 1e-9)
      const min = r.points.reduce((m, p) => (p.loss < m.loss ? p : m), r.points[0]!)
      const ends =
        first && last
          ? `loss ${fmt(first.loss)} → ${fmt(last.loss)}, accuracy ${pct(first.accuracy)} → ${pct(last.accuracy)}, barrier ${fmt(barrier(r))}, `
          : ""
      return `interpolate ${r.model}: ${r.endpoints[0]} → ${r.endpoints[1]}: ${ends}lowest loss ${fmt(min.loss)} at α = ${fmt(min.alpha, 3)} (${r.points.length} points over [${r.range.join(", ")}]; ${on})`
    }
    case "Slice": {
      const all = r.grid.loss.flat().filter(Number.isFinite)
      const mean = all.reduce((s, v) => s + v, 0) / Math.max(1, all.length)
      return `slice ${r.model}: loss ${fmt(r.center.loss)} at θ (accuracy ${pct(r.center.accuracy)}), mean ${fmt(mean)}, max ${fmt(Math.max(...all))} over [${r.ranges.x.join(", ")}]² (${r.x.length}×${r.y.length}, ${r.normalization} directions, seed ${r.seed}; ${on})`
    }
    case "Sharpness": {
      const parts: Array<string> = []
      if (r.hessian)
        parts.push(
          `λmax ${fmt(r.hessian.eigenvalue)} (${r.hessian.converged ? "converged" : "not converged"} after ${r.hessian.iterations} iterations)`,
        )
      if (r.epsilon)
        parts.push(
          `ε = ${fmt(r.epsilon.epsilon)} rise ${fmt(r.epsilon.rise)} (Keskar ${fmt(r.epsilon.keskar, 3)})`,
        )
      return `sharpness ${r.model}: ${parts.join(", ")}; loss ${fmt(r.base.loss)}, accuracy ${pct(r.base.accuracy)} (${on})`
    }
  }
}

/**
 * The result drawn as one SVG document.
 *
 * @example
 * ```ts
 * import * as Report from "./src/probes/Report.js"
 * declare const result: Report.Result
 * const svg = Report.plot(result)
 * ```
 *
 * @since 0.1.0
 * @category plots
 */
export const plot = (r: Result): string => {
  switch (r._tag) {
    case "Interpolation": {
      const markers = [
        { x: 0, label: r.endpoints[0] },
        { x: 1, label: r.endpoints[1] },
      ].filter((m) => m.x >= r.range[0] && m.x <= r.range[1])
      return Plot.stack([
        Plot.linePlot({
          title: `${r.model}: loss from ${r.endpoints[0]} (α = 0) to ${r.endpoints[1]} (α = 1)`,
          xLabel: "α",
          yLabel: "cross-entropy",
          series: [{ name: "loss", points: r.points.map((p) => [p.alpha, p.loss] as const) }],
          markers,
        }),
        Plot.linePlot({
          title: `${r.model}: accuracy`,
          xLabel: "α",
          yLabel: "accuracy",
          series: [{ name: "accuracy", points: r.points.map((p) => [p.alpha, p.accuracy] as const) }],
          markers,
          yRange: [0, 1],
        }),
      ])
    }
    case "Slice": {
      const positive = r.grid.loss.every((row) => row.every((v) => v > 0))
      const common = {
        x: [r.x[0]!, r.x.at(-1)!] as const,
        y: [r.y[0]!, r.y.at(-1)!] as const,
        xLabel: "direction 1",
        yLabel: "direction 2",
        points: [{ x: 0, y: 0, label: r.model }],
      }
      return Plot.stack([
        Plot.contour({
          ...common,
          title: `${r.model}: loss around θ (${r.normalization} directions, seed ${r.seed})`,
          grid: r.grid.loss,
          valueLabel: positive ? "loss (log colour)" : "loss",
          ...(positive ? { scale: "log" as const } : {}),
          contours: 12,
        }),
        Plot.heatmap({
          ...common,
          title: `${r.model}: accuracy around θ`,
          grid: r.grid.accuracy,
          valueLabel: "accuracy",
          colors: "magma",
          contours: 6,
        }),
      ])
    }
    case "Sharpness": {
      const plots: Array<string> = []
      if (r.hessian)
        plots.push(
          Plot.linePlot({
            title: `${r.model}: top Hessian eigenvalue by power iteration (${fmt(r.hessian.eigenvalue)})`,
            xLabel: "iteration",
            yLabel: "λmax estimate",
            series: [{ name: "λ", points: r.hessian.trace.map((v, i) => [i + 1, v] as const) }],
          }),
        )
      if (r.epsilon)
        plots.push(
          Plot.linePlot({
            title: `${r.model}: loss under ascent in the ball ‖δ‖ ≤ ${fmt(r.epsilon.epsilon)}·‖θ‖ (rise ${fmt(r.epsilon.rise)})`,
            xLabel: "ascent step",
            yLabel: "cross-entropy",
            series: [{ name: "loss", points: r.epsilon.trace.map((v, i) => [i, v] as const) }],
          }),
        )
      return Plot.stack(plots)
    }
  }
}

/**
 * A file name for a result: `slice-student`, `sharpness-student`, `interpolate-init-student`.
 *
 * @example
 * ```ts
 * import * as Report from "./src/probes/Report.js"
 * declare const result: Report.Result
 * Report.defaultName(result)
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const defaultName = (r: Result): string =>
  (r._tag === "Interpolation"
    ? `interpolate-${r.endpoints[0]}-${r.endpoints[1]}`
    : `${r.kind}-${r.model}`
  ).replace(/[^A-Za-z0-9._-]+/g, "_")

/**
 * Writes `probes/<name>.json` (the result), `probes/<name>.svg` ({@link plot}) and, unless
 * `png: false`, `probes/<name>.png` under `dir` (the run directory). A PNG that cannot be
 * rendered (no `@resvg/resvg-js`) is skipped, not an error. Returns the paths written.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Report from "./src/probes/Report.js"
 * declare const result: Report.Result
 * const paths = await Effect.runPromise(Report.write("runs/kd", result, { name: "slice-seed1", png: false }))
 * ```
 *
 * @since 0.1.0
 * @category io
 */
export const write = (
  dir: string,
  result: Result,
  options: { readonly name?: string; readonly png?: boolean } = {},
): Effect.Effect<ReadonlyArray<string>, IoError> =>
  Effect.gen(function* () {
    const out = path.join(dir, "probes")
    const name = options.name ?? defaultName(result)
    const written: Array<string> = []
    const put = (file: string, data: string | Uint8Array) =>
      Effect.try({
        try: () => {
          fs.mkdirSync(out, { recursive: true })
          fs.writeFileSync(file, data)
          written.push(file)
        },
        catch: (cause) =>
          new IoError({ path: file, message: `cannot write ${file}: ${String(cause)}`, cause }),
      })
    yield* put(path.join(out, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`)
    const svg = plot(result)
    yield* put(path.join(out, `${name}.svg`), svg)
    if (options.png !== false) {
      const png = yield* Effect.option(RunPlots.toPng(svg))
      if (png._tag === "Some") yield* put(path.join(out, `${name}.png`), png.value)
    }
    return written
  })
