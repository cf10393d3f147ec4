/**
 * Pure SVG plot generators, no dependencies: line plots (training curves), heatmaps with
 * optional contour lines (2-D loss-landscape slices), grouped bar plots with error bars
 * (mean ± std across seeds), and {@link stack} to put several plots in one file. Every function
 * returns a standalone SVG document as a string. Non-finite values are skipped (lines break
 * across them, cells are drawn grey), and empty input yields an empty frame saying "no data".
 *
 * @example
 * ```ts
 * import * as Plot from "./Plot.js"
 * const svg = Plot.linePlot({
 *   title: "loss",
 *   xLabel: "step",
 *   yLabel: "loss",
 *   series: [{ name: "train", points: [[0, 2.3], [100, 0.4], [200, 0.2]] }],
 * })
 * ```
 *
 * @since 0.1.0
 */

/**
 * A named polyline of `[x, y]` points.
 *
 * @since 0.1.0
 * @category models
 */
export interface Series {
  readonly name: string
  readonly points: ReadonlyArray<readonly [number, number]>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface LinePlotOptions {
  readonly title?: string
  readonly xLabel?: string
  readonly yLabel?: string
  readonly series: ReadonlyArray<Series>
  /** Vertical dashed rules with a label (phase boundaries, LR restarts). */
  readonly markers?: ReadonlyArray<{ readonly x: number; readonly label: string }>
  /** Fixed y range; points outside are clamped to it. Default: fitted to the data. */
  readonly yRange?: readonly [number, number]
  readonly width?: number
  readonly height?: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface HeatmapOptions {
  readonly title?: string
  readonly xLabel?: string
  readonly yLabel?: string
  /** `grid[i][j]` is the value at `y_i, x_j`; row 0 is drawn at the bottom (`y[0]`). */
  readonly grid: ReadonlyArray<ReadonlyArray<number>>
  /** The x coordinates of the first and last column. */
  readonly x: readonly [number, number]
  /** The y coordinates of the first and last row. */
  readonly y: readonly [number, number]
  /** Colour scale. Default `"viridis"`. */
  readonly colors?: ColorScale
  /** Map values to colour linearly or by their logarithm (positive values only). Default linear. */
  readonly scale?: "linear" | "log"
  /** Contour lines: a number of evenly spaced levels, or the levels themselves. Default none. */
  readonly contours?: number | ReadonlyArray<number>
  /** Paint the cells (default true); `false` draws contour lines only. */
  readonly fill?: boolean
  /** Label of the colour bar. */
  readonly valueLabel?: string
  /** Points to mark on top (e.g. the trained weights at the origin, other minima). */
  readonly points?: ReadonlyArray<{ readonly x: number; readonly y: number; readonly label?: string }>
  readonly width?: number
  readonly height?: number
}

/**
 * A bar value: a number, or a mean with its standard deviation (drawn as an error bar).
 *
 * @since 0.1.0
 * @category models
 */
export type BarValue = number | { readonly mean: number; readonly std?: number }

/**
 * @since 0.1.0
 * @category models
 */
export interface BarPlotOptions {
  readonly title?: string
  readonly xLabel?: string
  readonly yLabel?: string
  /** The groups along the x axis. */
  readonly categories: ReadonlyArray<string>
  /** One bar per category for each series; `values[k]` belongs to `categories[k]`. */
  readonly series: ReadonlyArray<{ readonly name: string; readonly values: ReadonlyArray<BarValue> }>
  readonly yRange?: readonly [number, number]
  readonly width?: number
  readonly height?: number
}

/**
 * Colour scales for heatmaps: perceptually uniform `viridis` and `magma`, and diverging
 * `coolwarm`.
 *
 * @since 0.1.0
 * @category models
 */
export type ColorScale = "viridis" | "magma" | "coolwarm"

/**
 * Tableau's ten categorical colours, used for series in order.
 *
 * @since 0.1.0
 * @category constants
 */
export const palette: ReadonlyArray<string> = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
]

const stops: Record<ColorScale, ReadonlyArray<string>> = {
  viridis: [
    "#440154",
    "#482878",
    "#3e4989",
    "#31688e",
    "#26828e",
    "#1f9e89",
    "#35b779",
    "#6ece58",
    "#b5de2b",
    "#fde725",
  ],
  magma: [
    "#000004",
    "#180f3d",
    "#440f76",
    "#721f81",
    "#9e2f7f",
    "#cd4071",
    "#f1605d",
    "#fd9668",
    "#feca8d",
    "#fcfdbf",
  ],
  coolwarm: ["#3b4cc0", "#6788ee", "#9abbff", "#c9d7f0", "#edd1c2", "#f7a889", "#e26952", "#b40426"],
}

const hex = (c: string): [number, number, number] => [
  Number.parseInt(c.slice(1, 3), 16),
  Number.parseInt(c.slice(3, 5), 16),
  Number.parseInt(c.slice(5, 7), 16),
]

/**
 * The colour of `t ∈ [0, 1]` on a scale, as `#rrggbb` (clamped; `NaN` gives grey).
 *
 * @example
 * ```ts
 * import * as Plot from "./Plot.js"
 * Plot.color("viridis", 0) // "#440154"
 * ```
 *
 * @since 0.1.0
 * @category colours
 */
export const color = (scale: ColorScale, t: number): string => {
  if (Number.isNaN(t)) return "#cccccc"
  const s = stops[scale]
  const u = Math.min(1, Math.max(0, t)) * (s.length - 1)
  const i = Math.min(s.length - 2, Math.floor(u))
  const f = u - i
  const a = hex(s[i]!)
  const b = hex(s[i + 1]!)
  return `#${a
    .map((v, k) =>
      Math.round(v + (b[k]! - v) * f)
        .toString(16)
        .padStart(2, "0"),
    )
    .join("")}`
}

/**
 * Escapes text for SVG/XML content and attribute values.
 *
 * @example
 * ```ts
 * import * as Plot from "./Plot.js"
 * Plot.escapeXml("a < b & c") // "a &lt; b &amp; c"
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const escapeXml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  )

/**
 * "Nice" axis ticks covering `[lo, hi]` with about `count` intervals: steps of 1, 2 or 5 × 10ᵏ.
 * Returns the ticks and the step; the first and last tick enclose the range.
 *
 * @example
 * ```ts
 * import * as Plot from "./Plot.js"
 * Plot.ticks(0.03, 0.96, 5).values // [0, 0.2, 0.4, 0.6, 0.8, 1]
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const ticks = (
  lo: number,
  hi: number,
  count = 5,
): { readonly values: ReadonlyArray<number>; readonly step: number } => {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return ticks(0, 1, count)
  if (!(hi > lo)) {
    const pad = Math.abs(lo) > 1e-300 ? Math.abs(lo) * 0.1 : 1
    return lo + pad > lo ? ticks(lo - pad, lo + pad, count) : ticks(0, 1, count)
  }
  const raw = (hi - lo) / Math.max(1, count)
  const mag = 10 ** Math.floor(Math.log10(raw))
  const f = raw / mag
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag
  const first = Math.floor(lo / step + 1e-9)
  const last = Math.ceil(hi / step - 1e-9)
  // a span below float resolution of its magnitude cannot be ticked evenly: show the ends
  if (!(last - first >= 1 && last - first <= 4 * Math.max(1, count)))
    return { values: [lo, hi], step: hi - lo }
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9))
  const values: Array<number> = []
  for (let k = first; k <= last; k++) values.push(Number((k * step).toFixed(Math.min(20, decimals))))
  return { values, step }
}

const tickLabel = (v: number, step: number): string => {
  if (v === 0) return "0"
  if (step < 1e-3 || step >= 1e5) return v.toExponential(Math.abs(v / step) >= 10 ? 1 : 0).replace("e+", "e")
  return v.toFixed(Math.max(0, -Math.floor(Math.log10(step) + 1e-9)))
}

const n2 = (v: number): string => String(Math.round(v * 100) / 100)

const CHAR = 6.6 // approximate advance of a 12px sans-serif character

interface Frame {
  readonly left: number
  readonly top: number
  readonly right: number
  readonly bottom: number
}

const open = (width: number, height: number): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
  `font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">` +
  `<rect width="${width}" height="${height}" fill="#ffffff"/>`

const labels = (
  frame: Frame,
  width: number,
  height: number,
  o: { readonly title?: string; readonly xLabel?: string; readonly yLabel?: string },
): string => {
  let out = ""
  if (o.title) {
    out += `<text class="title" x="${n2(width / 2)}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(o.title)}</text>`
  }
  if (o.xLabel) {
    out += `<text class="x-label" x="${n2((frame.left + frame.right) / 2)}" y="${n2(height - 8)}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`
  }
  if (o.yLabel) {
    const cy = (frame.top + frame.bottom) / 2
    out += `<text class="y-label" x="14" y="${n2(cy)}" text-anchor="middle" transform="rotate(-90 14 ${n2(cy)})">${escapeXml(o.yLabel)}</text>`
  }
  return out
}

/** A linear map from a data interval onto a pixel interval. */
const linear =
  (d0: number, d1: number, p0: number, p1: number) =>
  (v: number): number =>
    p0 + ((v - d0) / (d1 - d0 || 1)) * (p1 - p0)

const axes = (
  frame: Frame,
  xt: { readonly values: ReadonlyArray<number>; readonly step: number },
  yt: { readonly values: ReadonlyArray<number>; readonly step: number },
  sx: (v: number) => number,
  sy: (v: number) => number,
  grid: boolean,
  xFormat?: (v: number) => string,
): string => {
  let out = `<g class="axes" stroke="#333333" fill="none">`
  out += `<path d="M${n2(frame.left)} ${n2(frame.top)}V${n2(frame.bottom)}H${n2(frame.right)}"/></g>`
  out += `<g class="ticks" font-size="11" fill="#333333">`
  for (const v of xt.values) {
    const x = sx(v)
    if (grid)
      out += `<line x1="${n2(x)}" y1="${n2(frame.top)}" x2="${n2(x)}" y2="${n2(frame.bottom)}" stroke="#e6e6e6"/>`
    out += `<line x1="${n2(x)}" y1="${n2(frame.bottom)}" x2="${n2(x)}" y2="${n2(frame.bottom + 5)}" stroke="#333333"/>`
    out += `<text x="${n2(x)}" y="${n2(frame.bottom + 18)}" text-anchor="middle">${escapeXml(xFormat ? xFormat(v) : tickLabel(v, xt.step))}</text>`
  }
  for (const v of yt.values) {
    const y = sy(v)
    if (grid)
      out += `<line x1="${n2(frame.left)}" y1="${n2(y)}" x2="${n2(frame.right)}" y2="${n2(y)}" stroke="#e6e6e6"/>`
    out += `<line x1="${n2(frame.left - 5)}" y1="${n2(y)}" x2="${n2(frame.left)}" y2="${n2(y)}" stroke="#333333"/>`
    out += `<text x="${n2(frame.left - 8)}" y="${n2(y + 4)}" text-anchor="end">${escapeXml(tickLabel(v, yt.step))}</text>`
  }
  return out + `</g>`
}

const legend = (x: number, y: number, entries: ReadonlyArray<{ name: string; color: string }>): string => {
  let out = `<g class="legend" font-size="11">`
  entries.forEach((e, i) => {
    const cy = y + i * 16
    out += `<rect x="${n2(x)}" y="${n2(cy - 8)}" width="14" height="10" fill="${e.color}"/>`
    out += `<text x="${n2(x + 20)}" y="${n2(cy + 1)}">${escapeXml(e.name)}</text>`
  })
  return out + `</g>`
}

const legendWidth = (names: ReadonlyArray<string>): number =>
  names.length === 0 ? 0 : Math.min(240, 34 + Math.max(...names.map((s) => s.length)) * CHAR * 0.92)

const extent = (values: Iterable<number>): readonly [number, number] | undefined => {
  let lo = Number.POSITIVE_INFINITY
  let hi = Number.NEGATIVE_INFINITY
  for (const v of values) {
    if (!Number.isFinite(v)) continue
    if (v < lo) lo = v
    if (v > hi) hi = v
  }
  return lo <= hi ? [lo, hi] : undefined
}

const noData = (frame: Frame): string =>
  `<text class="no-data" x="${n2((frame.left + frame.right) / 2)}" y="${n2((frame.top + frame.bottom) / 2)}" text-anchor="middle" fill="#888888">no data</text>`

/**
 * A line plot: axes with nice ticks and light grid lines, one coloured line per series (broken
 * where a point is not finite, with dots when a series has few points), optional vertical
 * markers, and a legend on the right. Each series is a `<g class="series">`.
 *
 * @example
 * ```ts
 * import * as Plot from "./Plot.js"
 * Plot.linePlot({ title: "accuracy", xLabel: "epoch", yLabel: "accuracy", series: [
 *   { name: "test", points: [[1, 0.91], [2, 0.95], [3, 0.97]] },
 * ] })
 * ```
 *
 * @since 0.1.0
 * @category plots
 */
export const linePlot = (o: LinePlotOptions): string => {
  const width = o.width ?? 640
  const height = o.height ?? 380
  const names = o.series.map((s) => s.name)
  const frame: Frame = {
    left: 70,
    top: o.title ? 34 : 14,
    right: width - 16 - legendWidth(names),
    bottom: height - (o.xLabel ? 44 : 30),
  }
  const finite = o.series.flatMap((s) =>
    s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)),
  )
  const xr = extent([...finite.map((p) => p[0]), ...(o.markers ?? []).map((m) => m.x)]) ?? [0, 1]
  const yr = o.yRange ?? extent(finite.map((p) => p[1])) ?? [0, 1]
  const xt = ticks(xr[0], xr[1], Math.max(2, Math.round((frame.right - frame.left) / 90)))
  const yt = o.yRange ? ticks(yr[0], yr[1], 5) : ticks(yr[0], yr[1], 5)
  const x0 = xt.values[0]!
  const x1 = xt.values[xt.values.length - 1]!
  const y0 = o.yRange ? yr[0] : yt.values[0]!
  const y1 = o.yRange ? yr[1] : yt.values[yt.values.length - 1]!
  const yTicks = { values: yt.values.filter((v) => v >= y0 - 1e-12 && v <= y1 + 1e-12), step: yt.step }
  const sx = linear(x0, x1, frame.left, frame.right)
  const sy = linear(y0, y1, frame.bottom, frame.top)
  const clampY = (v: number) => Math.min(y1, Math.max(y0, v))
  let out = open(width, height) + labels(frame, width, height, o) + axes(frame, xt, yTicks, sx, sy, true)
  for (const m of o.markers ?? []) {
    if (!Number.isFinite(m.x)) continue
    const x = sx(m.x)
    out += `<g class="marker"><line x1="${n2(x)}" y1="${n2(frame.top)}" x2="${n2(x)}" y2="${n2(frame.bottom)}" stroke="#888888" stroke-dasharray="4 3"/>`
    out += `<text x="${n2(x + 3)}" y="${n2(frame.top + 11)}" font-size="10" fill="#555555">${escapeXml(m.label)}</text></g>`
  }
  o.series.forEach((s, i) => {
    const c = palette[i % palette.length]!
    let d = ""
    let pen = false
    let count = 0
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        pen = false
        continue
      }
      d += `${pen ? "L" : "M"}${n2(sx(x))} ${n2(sy(clampY(y)))}`
      pen = true
      count++
    }
    out += `<g class="series" data-name="${escapeXml(s.name)}">`
    if (d.includes("L"))
      out += `<path class="line" d="${d}" fill="none" stroke="${c}" stroke-width="1.8" stroke-linejoin="round"/>`
    if (count > 0 && count <= 40) {
      for (const [x, y] of s.points) {
        if (Number.isFinite(x) && Number.isFinite(y)) {
          out += `<circle cx="${n2(sx(x))}" cy="${n2(sy(clampY(y)))}" r="2.6" fill="${c}"/>`
        }
      }
    }
    out += `</g>`
  })
  if (finite.length === 0) out += noData(frame)
  out += legend(
    frame.right + 14,
    frame.top + 8,
    o.series.map((s, i) => ({ name: s.name, color: palette[i % palette.length]! })),
  )
  return out + `</svg>`
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ScatterPlotOptions {
  readonly title?: string
  readonly xLabel?: string
  readonly yLabel?: string
  /** One colour per group (e.g. a configuration), each point drawn as a dot. */
  readonly groups: ReadonlyArray<{
    readonly name: string
    readonly points: ReadonlyArray<readonly [number, number]>
    /** Draw the group's mean point as a larger ringed dot (default true when it has 2+ points). */
    readonly mean?: boolean
  }>
  /** A line of text under the title (e.g. the rank correlation and its p-value). */
  readonly note?: string
  /** Draw the x axis on a log10 scale (non-positive x are left out). */
  readonly logX?: boolean
  readonly width?: number
  readonly height?: number
}

/**
 * A scatter plot: axes with nice ticks and light grid lines, one colour per group with a dot per
 * point and a ringed dot at the group's mean, an optional note under the title (a correlation),
 * an optional log10 x axis, and a legend on the right. Each group is a `<g class="group">`;
 * non-finite points are left out.
 *
 * @example
 * ```ts
 * import * as Plot from "./Plot.js"
 * Plot.scatterPlot({
 *   title: "sharpness vs held-out accuracy", xLabel: "ε-sharpness", yLabel: "accuracy",
 *   note: "Spearman ρ = −0.71, p = 0.02",
 *   groups: [{ name: "cnn", points: [[0.5, 0.81], [0.6, 0.8]] }, { name: "mlp", points: [[2.1, 0.7]] }],
 * })
 * ```
 *
 * @since 0.1.0
 * @category plots
 */
export const scatterPlot = (o: ScatterPlotOptions): string => {
  const width = o.width ?? 640
  const height = o.height ?? 400
  const names = o.groups.map((g) => g.name)
  const fx = (x: number) => (o.logX ? (x > 0 ? Math.log10(x) : Number.NaN) : x)
  const groups = o.groups.map((g) => ({
    ...g,
    finite: g.points
      .map(([x, y]) => [fx(x), y] as const)
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)),
  }))
  const top = (o.title ? 34 : 14) + (o.note ? 16 : 0)
  const frame: Frame = {
    left: 70,
    top,
    right: width - 16 - legendWidth(names),
    bottom: height - (o.xLabel ? 44 : 30),
  }
  const all = groups.flatMap((g) => g.finite)
  const xr = extent(all.map((p) => p[0])) ?? [0, 1]
  const yr = extent(all.map((p) => p[1])) ?? [0, 1]
  const xt = ticks(xr[0], xr[1], Math.max(2, Math.round((frame.right - frame.left) / 90)))
  const yt = ticks(yr[0], yr[1], 5)
  const x0 = xt.values[0]!
  const x1 = xt.values[xt.values.length - 1]!
  const y0 = yt.values[0]!
  const y1 = yt.values[yt.values.length - 1]!
  const sx = linear(x0, x1, frame.left, frame.right)
  const sy = linear(y0, y1, frame.bottom, frame.top)
  let out = open(width, height) + labels(frame, width, height, o)
  if (o.note)
    out += `<text class="note" x="${n2(width / 2)}" y="${o.title ? 38 : 22}" text-anchor="middle" font-size="12" fill="#333333">${escapeXml(o.note)}</text>`
  // on a log axis the ticks are of log10(x); they are labelled with x itself
  out += axes(
    frame,
    xt,
    yt,
    sx,
    sy,
    true,
    o.logX ? (v) => Number((10 ** v).toPrecision(2)).toString() : undefined,
  )
  groups.forEach((g, i) => {
    const c = palette[i % palette.length]!
    out += `<g class="group" data-name="${escapeXml(g.name)}">`
    for (const [x, y] of g.finite)
      out += `<circle class="point" cx="${n2(sx(x))}" cy="${n2(sy(y))}" r="3.2" fill="${c}" fill-opacity="0.75"/>`
    if ((g.mean ?? g.finite.length >= 2) && g.finite.length > 0) {
      const mx = g.finite.reduce((a, p) => a + p[0], 0) / g.finite.length
      const my = g.finite.reduce((a, p) => a + p[1], 0) / g.finite.length
      out += `<circle class="mean" cx="${n2(sx(mx))}" cy="${n2(sy(my))}" r="6" fill="${c}" stroke="#222222" stroke-width="1.4"/>`
    }
    out += `</g>`
  })
  if (all.length === 0) out += noData(frame)
  out += legend(
    frame.right + 14,
    frame.top + 8,
    o.groups.map((g, i) => ({ name: g.name, color: palette[i % palette.length]! })),
  )
  return out + `</svg>`
}

/** Evenly spaced contour levels strictly inside the value range. */
const levelsOf = (spec: number | ReadonlyArray<number>, lo: number, hi: number): ReadonlyArray<number> => {
  if (typeof spec !== "number") return spec
  const out: Array<number> = []
  for (let k = 1; k <= spec; k++) out.push(lo + ((hi - lo) * k) / (spec + 1))
  return out
}

/**
 * Marching squares: the segments of the iso-line `level` through a grid sampled at integer
 * coordinates `(column, row)`. Cells with a non-finite corner are skipped; saddles are resolved
 * by the cell's mean.
 *
 * @example
 * ```ts
 * import * as Plot from "./Plot.js"
 * Plot.isoline([[0, 0], [1, 1]], 0.5) // [[[0, 0.5], [1, 0.5]]]
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const isoline = (
  grid: ReadonlyArray<ReadonlyArray<number>>,
  level: number,
): Array<readonly [readonly [number, number], readonly [number, number]]> => {
  const segs: Array<readonly [readonly [number, number], readonly [number, number]]> = []
  const ny = grid.length
  for (let i = 0; i + 1 < ny; i++) {
    const r0 = grid[i]!
    const r1 = grid[i + 1]!
    const nx = Math.min(r0.length, r1.length)
    for (let j = 0; j + 1 < nx; j++) {
      // corners: a=(j,i) b=(j+1,i) c=(j+1,i+1) d=(j,i+1)
      const a = r0[j]!
      const b = r0[j + 1]!
      const c = r1[j + 1]!
      const d = r1[j]!
      if (!(Number.isFinite(a) && Number.isFinite(b) && Number.isFinite(c) && Number.isFinite(d))) continue
      const idx = (a >= level ? 1 : 0) | (b >= level ? 2 : 0) | (c >= level ? 4 : 0) | (d >= level ? 8 : 0)
      if (idx === 0 || idx === 15) continue
      const t = (u: number, v: number) => (u === v ? 0.5 : (level - u) / (v - u))
      const bottom = [j + t(a, b), i] as const // a–b
      const right = [j + 1, i + t(b, c)] as const // b–c
      const top = [j + t(d, c), i + 1] as const // d–c
      const left = [j, i + t(a, d)] as const // a–d
      const center = (a + b + c + d) / 4 >= level
      switch (idx) {
        case 1:
        case 14:
          segs.push([left, bottom])
          break
        case 2:
        case 13:
          segs.push([bottom, right])
          break
        case 3:
        case 12:
          segs.push([left, right])
          break
        case 4:
        case 11:
          segs.push([right, top])
          break
        case 6:
        case 9:
          segs.push([bottom, top])
          break
        case 7:
        case 8:
          segs.push([left, top])
          break
        case 5: // a and c high
          if (center) segs.push([left, top], [bottom, right])
          else segs.push([left, bottom], [right, top])
          break
        case 10: // b and d high
          if (center) segs.push([left, bottom], [right, top])
          else segs.push([left, top], [bottom, right])
          break
      }
    }
  }
  return segs
}

/**
 * A heatmap of a 2-D grid (a loss-landscape slice, a confusion matrix) with a colour bar, and
 * optionally contour lines (`contours`: a count of levels or the levels) and marked points.
 * Cells that are not finite are grey. Each contour level is one `<path class="contour">`.
 *
 * @example
 * ```ts
 * import * as Plot from "./Plot.js"
 * const grid = Array.from({ length: 21 }, (_, i) => Array.from({ length: 21 }, (_, j) => (i - 10) ** 2 + (j - 10) ** 2))
 * Plot.heatmap({ title: "loss", grid, x: [-1, 1], y: [-1, 1], contours: 8 })
 * ```
 *
 * @since 0.1.0
 * @category plots
 */
export const heatmap = (o: HeatmapOptions): string => {
  const width = o.width ?? 560
  const height = o.height ?? 480
  const scaleName = o.colors ?? "viridis"
  const ny = o.grid.length
  const nx = Math.max(0, ...o.grid.map((r) => r.length))
  const tf = o.scale === "log" ? (v: number) => (v > 0 ? Math.log10(v) : Number.NaN) : (v: number) => v
  const vr = extent(o.grid.flatMap((r) => r.map(tf)))
  const frame: Frame = {
    left: 70,
    top: o.title ? 34 : 14,
    right: width - 96,
    bottom: height - (o.xLabel ? 44 : 30),
  }
  // the axis extends half a cell beyond the first and last sample
  const dx = nx > 1 ? (o.x[1] - o.x[0]) / (nx - 1) : o.x[1] - o.x[0] || 1
  const dy = ny > 1 ? (o.y[1] - o.y[0]) / (ny - 1) : o.y[1] - o.y[0] || 1
  const xd: readonly [number, number] = [o.x[0] - dx / 2, o.x[1] + dx / 2]
  const yd: readonly [number, number] = [o.y[0] - dy / 2, o.y[1] + dy / 2]
  const sx = linear(xd[0], xd[1], frame.left, frame.right)
  const sy = linear(yd[0], yd[1], frame.bottom, frame.top)
  const inside = (r: readonly [number, number]) => (v: number) =>
    v >= Math.min(r[0], r[1]) - 1e-9 && v <= Math.max(r[0], r[1]) + 1e-9
  const xtAll = ticks(Math.min(...o.x), Math.max(...o.x), 5)
  const ytAll = ticks(Math.min(...o.y), Math.max(...o.y), 5)
  const xt = { values: xtAll.values.filter(inside(xd)), step: xtAll.step }
  const yt = { values: ytAll.values.filter(inside(yd)), step: ytAll.step }
  const [lo, hi] = vr ?? [0, 1]
  const norm = (v: number) => (hi > lo ? (v - lo) / (hi - lo) : 0.5)
  let out = open(width, height) + labels(frame, width, height, o)
  if (o.fill !== false) {
    out += `<g class="cells" shape-rendering="crispEdges">`
    for (let i = 0; i < ny; i++) {
      const row = o.grid[i]!
      const yc = o.y[0] + i * dy
      const ya = sy(yc + dy / 2)
      const yb = sy(yc - dy / 2)
      for (let j = 0; j < row.length; j++) {
        const xc = o.x[0] + j * dx
        const xa = sx(xc - dx / 2)
        const xb = sx(xc + dx / 2)
        const v = tf(row[j]!)
        out += `<rect x="${n2(Math.min(xa, xb))}" y="${n2(Math.min(ya, yb))}" width="${n2(Math.abs(xb - xa) + 0.5)}" height="${n2(Math.abs(yb - ya) + 0.5)}" fill="${color(scaleName, Number.isFinite(v) ? norm(v) : Number.NaN)}"/>`
      }
    }
    out += `</g>`
  }
  if (o.contours !== undefined && vr) {
    const px = (p: readonly [number, number]) => `${n2(sx(o.x[0] + p[0] * dx))} ${n2(sy(o.y[0] + p[1] * dy))}`
    const tgrid = o.grid.map((r) => r.map(tf))
    out += `<g class="contours" fill="none" stroke-width="1">`
    for (const level of levelsOf(o.contours, lo, hi)) {
      const segs = isoline(tgrid, level)
      if (segs.length === 0) continue
      const stroke = o.fill === false ? color(scaleName, norm(level)) : "#ffffff"
      const d = segs.map(([p, q]) => `M${px(p)}L${px(q)}`).join("")
      const shown = o.scale === "log" ? 10 ** level : level
      out += `<path class="contour" data-level="${Number(shown.toPrecision(4))}" d="${d}" stroke="${stroke}" stroke-opacity="0.8"/>`
    }
    out += `</g>`
  }
  for (const p of o.points ?? []) {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) continue
    out += `<g class="point"><circle cx="${n2(sx(p.x))}" cy="${n2(sy(p.y))}" r="4" fill="#ffffff" stroke="#000000" stroke-width="1.5"/>`
    if (p.label)
      out += `<text x="${n2(sx(p.x) + 7)}" y="${n2(sy(p.y) - 6)}" font-size="11" fill="#000000" stroke="#ffffff" stroke-width="3" paint-order="stroke">${escapeXml(p.label)}</text>`
    out += `</g>`
  }
  out += axes(frame, xt, yt, sx, sy, false)
  if (!vr) out += noData(frame)
  // colour bar
  const bx = frame.right + 18
  const bh = frame.bottom - frame.top
  const steps = 48
  out += `<g class="colorbar">`
  for (let k = 0; k < steps; k++) {
    const y = frame.bottom - ((k + 1) * bh) / steps
    out += `<rect x="${n2(bx)}" y="${n2(y)}" width="14" height="${n2(bh / steps + 0.5)}" fill="${color(scaleName, (k + 0.5) / steps)}"/>`
  }
  if (vr) {
    const vt = ticks(lo, hi, 5)
    for (const v of vt.values) {
      if (v < lo - 1e-12 || v > hi + 1e-12) continue
      const y = linear(lo, hi, frame.bottom, frame.top)(v)
      const shown = o.scale === "log" ? 10 ** v : v
      const text = o.scale === "log" ? shown.toPrecision(2) : tickLabel(v, vt.step)
      out += `<line x1="${n2(bx + 14)}" y1="${n2(y)}" x2="${n2(bx + 18)}" y2="${n2(y)}" stroke="#333333"/>`
      out += `<text x="${n2(bx + 21)}" y="${n2(y + 4)}" font-size="10">${escapeXml(text)}</text>`
    }
  }
  if (o.valueLabel) {
    const cy = (frame.top + frame.bottom) / 2
    out += `<text x="${n2(width - 8)}" y="${n2(cy)}" text-anchor="middle" font-size="11" transform="rotate(-90 ${n2(width - 8)} ${n2(cy)})">${escapeXml(o.valueLabel)}</text>`
  }
  return out + `</g></svg>`
}

/**
 * A heatmap with contour lines: {@link heatmap} with `contours` defaulting to 10 levels.
 *
 * @example
 * ```ts
 * import * as Plot from "./Plot.js"
 * const grid = [[3, 2, 3], [2, 1, 2], [3, 2, 3]]
 * Plot.contour({ grid, x: [-1, 1], y: [-1, 1], fill: false })
 * ```
 *
 * @since 0.1.0
 * @category plots
 */
export const contour = (o: HeatmapOptions): string => heatmap({ ...o, contours: o.contours ?? 10 })

const barParts = (v: BarValue): { mean: number; std: number } =>
  typeof v === "number" ? { mean: v, std: 0 } : { mean: v.mean, std: v.std ?? 0 }

/**
 * Mean and sample standard deviation (n − 1; 0 for a single value) of the finite values: the
 * usual summary across seeds. `NaN`s for no finite value.
 *
 * @example
 * ```ts
 * import * as Plot from "./Plot.js"
 * Plot.meanStd([0.97, 0.98, 0.99]) // { mean: 0.98, std: ≈0.01 }
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const meanStd = (values: ReadonlyArray<number>): { readonly mean: number; readonly std: number } => {
  const xs = values.filter(Number.isFinite)
  if (xs.length === 0) return { mean: Number.NaN, std: Number.NaN }
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length
  const v = xs.length > 1 ? xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1) : 0
  return { mean, std: Math.sqrt(v) }
}

/**
 * A grouped bar plot with error bars (mean ± std): one group per category, one bar per series in
 * each group, a legend when there is more than one series. The y axis includes 0 unless
 * `yRange` is given. Each bar is a `<rect class="bar">`, each error bar a `<path class="error">`.
 *
 * @example
 * ```ts
 * import * as Plot from "./Plot.js"
 * Plot.barPlot({ title: "test accuracy", yLabel: "accuracy", categories: ["teacher", "KD", "BAN"],
 *   series: [{ name: "MNIST", values: [Plot.meanStd([0.991, 0.992]), 0.985, { mean: 0.988, std: 0.001 }] }] })
 * ```
 *
 * @since 0.1.0
 * @category plots
 */
export const barPlot = (o: BarPlotOptions): string => {
  const width = o.width ?? 640
  const height = o.height ?? 380
  const names = o.series.length > 1 ? o.series.map((s) => s.name) : []
  const groupCount = Math.max(1, o.categories.length)
  const frame0: Frame = {
    left: 70,
    top: o.title ? 34 : 14,
    right: width - 16 - legendWidth(names),
    bottom: 0,
  }
  const groupWidth = (frame0.right - frame0.left) / groupCount
  const rotate = o.categories.some((c) => c.length * CHAR > groupWidth - 4)
  const labelRoom = rotate
    ? Math.min(90, 12 + Math.max(0, ...o.categories.map((c) => c.length)) * CHAR * 0.72)
    : 22
  const frame: Frame = { ...frame0, bottom: height - labelRoom - (o.xLabel ? 24 : 8) }
  const parts = o.series.map((s) => o.categories.map((_, k) => barParts(s.values[k] ?? Number.NaN)))
  const all = parts.flat().filter((p) => Number.isFinite(p.mean))
  const span = extent([
    0,
    ...all.flatMap((p) => [
      p.mean - (Number.isFinite(p.std) ? p.std : 0),
      p.mean + (Number.isFinite(p.std) ? p.std : 0),
    ]),
  ])!
  const yt = ticks(o.yRange ? o.yRange[0] : span[0], o.yRange ? o.yRange[1] : span[1], 5)
  const y0 = o.yRange ? o.yRange[0] : yt.values[0]!
  const y1 = o.yRange ? o.yRange[1] : yt.values[yt.values.length - 1]!
  const sy = linear(y0, y1, frame.bottom, frame.top)
  const clampY = (v: number) => Math.min(y1, Math.max(y0, v))
  const yTicks = { values: yt.values.filter((v) => v >= y0 - 1e-12 && v <= y1 + 1e-12), step: yt.step }
  let out = open(width, height) + labels(frame, width, height, o)
  // y axis, horizontal grid, x axis at the baseline
  out += axes(frame, { values: [], step: 1 }, yTicks, (v) => v, sy, true)
  const nS = Math.max(1, o.series.length)
  const barWidth = (groupWidth * 0.8) / nS
  o.categories.forEach((cat, k) => {
    const gx = frame.left + k * groupWidth
    const cx = gx + groupWidth / 2
    out += rotate
      ? `<text class="category" x="${n2(cx)}" y="${n2(frame.bottom + 14)}" text-anchor="end" font-size="11" transform="rotate(-35 ${n2(cx)} ${n2(frame.bottom + 14)})">${escapeXml(cat)}</text>`
      : `<text class="category" x="${n2(cx)}" y="${n2(frame.bottom + 17)}" text-anchor="middle" font-size="11">${escapeXml(cat)}</text>`
  })
  const base = sy(clampY(0))
  o.series.forEach((s, i) => {
    const c = palette[i % palette.length]!
    out += `<g class="series" data-name="${escapeXml(s.name)}">`
    parts[i]!.forEach((p, k) => {
      if (!Number.isFinite(p.mean)) return
      const x = frame.left + k * groupWidth + groupWidth * 0.1 + i * barWidth
      const top = sy(clampY(p.mean))
      out += `<rect class="bar" x="${n2(x + 1)}" y="${n2(Math.min(top, base))}" width="${n2(Math.max(1, barWidth - 2))}" height="${n2(Math.abs(base - top))}" fill="${c}"/>`
      if (p.std > 0 && Number.isFinite(p.std)) {
        const cx = x + barWidth / 2
        const ya = sy(clampY(p.mean - p.std))
        const yb = sy(clampY(p.mean + p.std))
        const cap = Math.min(6, barWidth / 4)
        out += `<path class="error" d="M${n2(cx)} ${n2(ya)}V${n2(yb)}M${n2(cx - cap)} ${n2(ya)}H${n2(cx + cap)}M${n2(cx - cap)} ${n2(yb)}H${n2(cx + cap)}" stroke="#222222" stroke-width="1.2" fill="none"/>`
      }
    })
    out += `</g>`
  })
  out += `<line x1="${n2(frame.left)}" y1="${n2(base)}" x2="${n2(frame.right)}" y2="${n2(base)}" stroke="#333333"/>`
  if (all.length === 0) out += noData(frame)
  if (names.length > 0) {
    out += legend(
      frame.right + 14,
      frame.top + 8,
      names.map((name, i) => ({ name, color: palette[i % palette.length]! })),
    )
  }
  return out + `</svg>`
}

const size = (svg: string): { width: number; height: number } => {
  const head = svg.slice(0, svg.indexOf(">"))
  const w = /\bwidth="([\d.]+)"/.exec(head)
  const h = /\bheight="([\d.]+)"/.exec(head)
  return { width: w ? Number(w[1]) : 0, height: h ? Number(h[1]) : 0 }
}

/**
 * Stacks SVG documents from this module vertically into one document (nested `<svg>`s), e.g.
 * one training-curve panel per phase.
 *
 * @example
 * ```ts
 * import * as Plot from "./Plot.js"
 * const a = Plot.linePlot({ title: "teacher", series: [] })
 * const b = Plot.linePlot({ title: "student", series: [] })
 * Plot.stack([a, b]) // one 640 × 760 document
 * ```
 *
 * @since 0.1.0
 * @category plots
 */
export const stack = (svgs: ReadonlyArray<string>): string => {
  const sizes = svgs.map(size)
  const width = Math.max(1, ...sizes.map((s) => s.width))
  const height = Math.max(
    1,
    sizes.reduce((h, s) => h + s.height, 0),
  )
  let y = 0
  let out = open(width, height)
  svgs.forEach((svg, i) => {
    out += svg.replace(/^<svg /, `<svg x="0" y="${n2(y)}" `)
    y += sizes[i]!.height
  })
  return out + `</svg>`
}
