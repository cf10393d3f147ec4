/**
 * Run events, reporters (progress bar, plain lines, JSONL log, plots), the summary table and the
 * SVG plot generators.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { emit, Event, Reporter } from "./index.js"
 * const program = emit(Event.note({ level: "info", message: "hello" }))
 * Effect.runSync(Effect.provide(program, Reporter.plain()))
 * ```
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 * @category modules
 */
export * as Event from "./Event.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Format from "./Format.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Plot from "./Plot.js"
/**
 * @since 0.1.0
 * @category services
 */
export {
  type AutoOptions,
  type ConsoleOptions,
  emit,
  type PlainOptions,
  type Progress,
  progressLine,
  Reporter,
  type ReporterShape,
  stepLine,
  type TtyOptions,
} from "./Reporter.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as RunPlots from "./RunPlots.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Summary from "./Summary.js"
