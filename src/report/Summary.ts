/**
 * The end-of-run summary: one row per phase, one column per metric, printed as an aligned text
 * table.
 *
 * @example
 * ```ts
 * import * as Summary from "./Summary.js"
 * console.log(Summary.table([
 *   { phase: "teacher", metrics: { "test.accuracy": 0.9812, seconds: 61.2 } },
 *   { phase: "student", metrics: { "test.accuracy": 0.9701, seconds: 33 } },
 * ]))
 * ```
 *
 * @since 0.1.0
 */
import type * as Event from "./Event.js"
import * as Format from "./Format.js"

/**
 * The summary rows of a run from its events: the `summary` of its `RunFinished` event when there
 * is one, otherwise one row per `PhaseFinished` (its metrics plus `seconds`), so an interrupted run
 * still has a summary.
 *
 * @example
 * ```ts
 * import * as Event from "./Event.js"
 * import * as Summary from "./Summary.js"
 * Summary.fromEvents([Event.phaseFinished({ phase: "a", seconds: 3, metrics: { acc: 0.5 } })])
 * // [{ phase: "a", metrics: { acc: 0.5, seconds: 3 } }]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromEvents = (events: Iterable<Event.Event>): ReadonlyArray<Event.SummaryRow> => {
  const phases: Array<Event.SummaryRow> = []
  let finished: ReadonlyArray<Event.SummaryRow> | undefined
  for (const e of events) {
    if (e._tag === "PhaseFinished")
      phases.push({ phase: e.phase, metrics: { ...e.metrics, seconds: e.seconds } })
    else if (e._tag === "RunFinished") finished = e.summary
  }
  return finished ?? phases
}

/**
 * Renders rows as an aligned table: a `phase` column (left-aligned) and one right-aligned column
 * per metric, in order of first appearance; `-` where a phase lacks a metric. When that table
 * would be wider than `width` characters (default 120), it is printed the other way round — one
 * row per metric, one column per phase — so that a run with many metrics (per-exit accuracies,
 * early-exit thresholds, shifted splits) stays readable. Returns `""` for no rows.
 *
 * @example
 * ```ts
 * import * as Summary from "./Summary.js"
 * Summary.table([{ phase: "student", metrics: { accuracy: 0.97 } }])
 * // "phase    accuracy\n-------  --------\nstudent      0.97"
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const table = (
  rows: ReadonlyArray<Event.SummaryRow>,
  options: { readonly width?: number } = {},
): string => {
  if (rows.length === 0) return ""
  const columns: Array<string> = []
  for (const r of rows) for (const k of Object.keys(r.metrics)) if (!columns.includes(k)) columns.push(k)
  const cell = (r: Event.SummaryRow, c: string) => {
    const v = r.metrics[c]
    return v === undefined ? "-" : Format.number(v)
  }
  const wide = render(
    ["phase", ...columns],
    rows.map((r) => [r.phase, ...columns.map((c) => cell(r, c))]),
  )
  if (columns.length === 0 || wide.split("\n")[0]!.length <= (options.width ?? 120)) return wide
  return render(
    ["metric", ...rows.map((r) => r.phase)],
    columns.map((c) => [c, ...rows.map((r) => cell(r, c))]),
  )
}

/** An aligned text table: the first column left-aligned, the others right-aligned. */
const render = (header: ReadonlyArray<string>, body: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, j) => Math.max(h.length, ...body.map((cells) => cells[j]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!)))
      .join("  ")
      .trimEnd()
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n")
}
