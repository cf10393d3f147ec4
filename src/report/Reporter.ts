/**
 * Where run events go. The interpreter only calls `Reporter.emit(event)`; layers decide what that
 * means: a live progress bar on a terminal ({@link Reporter.tty}), periodic lines in a log or CI
 * ({@link Reporter.plain}), an append-only JSONL log ({@link Reporter.jsonl}), plots at the end
 * ({@link Reporter.plots}), nothing ({@link Reporter.quiet}), several at once
 * ({@link Reporter.combine}), or the usual choice ({@link Reporter.auto}). Every layer closes
 * its reporter when its scope ends, so a bar is finished and a log flushed even on interruption.
 *
 * The terminal renderer is written here rather than taken from `cli-progress`: it must interleave
 * log lines (evaluations, checkpoints, warnings) above a single live bar, fit the bar to the
 * terminal width by dropping fields, and take an injected clock and writer so its cadence is
 * testable — a few dozen lines on `\r` and `ESC[2K` do that without a dependency.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Event from "./Event.js"
 * import { Reporter, emit } from "./Reporter.js"
 * const program = emit(Event.note({ level: "info", message: "hello" }))
 * Effect.runPromise(Effect.provide(program, Reporter.auto({ dir: "runs/demo" })))
 * ```
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Context, Effect, Layer } from "effect"
import { IoError } from "../errors.js"
import * as Event from "./Event.js"
import * as Format from "./Format.js"
import * as RunPlots from "./RunPlots.js"
import * as Summary from "./Summary.js"

/**
 * The reporter interface: `emit` never fails and never blocks training for long; `close`
 * finishes output (idempotent).
 *
 * @since 0.1.0
 * @category models
 */
export interface ReporterShape {
  readonly emit: (event: Event.Event) => Effect.Effect<void>
  readonly close: Effect.Effect<void>
}

/**
 * Where console reporters write, and their clock (milliseconds). Defaults: `process.stderr`, its
 * width (100 columns when unknown) and `performance.now()`. Inject them in tests.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConsoleOptions {
  readonly write?: (text: string) => void
  readonly columns?: () => number
  readonly now?: () => number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface TtyOptions extends ConsoleOptions {
  /** Least time between two redraws of the bar, in ms (default 100). */
  readonly redrawMs?: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PlainOptions extends ConsoleOptions {
  /** Print a step line every this many steps (default: a tenth of the phase, at least 1). */
  readonly everySteps?: number
  /** …or when this many seconds have passed since the last one (default 30). */
  readonly everySeconds?: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface AutoOptions {
  /** The run directory: `events.jsonl` and the plots are written there. None: console only. */
  readonly dir?: string
  /** No console output at all (the JSONL log and plots are still written). */
  readonly quiet?: boolean
  /** Force the live bar (`true`) or plain lines (`false`); default `process.stderr.isTTY`. */
  readonly tty?: boolean
  /** Also write the plots as PNG. Default false. */
  readonly png?: boolean
  readonly console?: PlainOptions & TtyOptions
}

/** A synchronous reporter body; `close` may be effectful (plots render asynchronously). */
interface Sink {
  readonly emit: (event: Event.Event) => void
  readonly close: Effect.Effect<void>
}

const defaults = (o: ConsoleOptions) => ({
  write: o.write ?? ((text: string) => void process.stderr.write(text)),
  columns: o.columns ?? (() => process.stderr.columns || 100),
  now: o.now ?? (() => performance.now()),
})

const metricList = (metrics: Readonly<Record<string, number>>): string =>
  Object.entries(metrics)
    .map(([k, v]) => `${k} ${Format.number(v)}`)
    .join(" · ")

/**
 * The one-line rendering of an event that is logged rather than drawn (everything but
 * `StepMetrics`), shared by the tty and plain reporters. `undefined` for step metrics.
 *
 * @example
 * ```ts
 * import * as Event from "./Event.js"
 * import { logLine } from "./Reporter.js"
 * logLine(Event.checkpointed({ path: "runs/a/ckpt", step: 10 }), 1) // "  checkpoint runs/a/ckpt (step 10)"
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const logLine = (event: Event.Event, phaseCount: number): string | undefined => {
  switch (event._tag) {
    case "RunStarted":
      return `run ${event.run} · pipeline ${event.pipeline} · backend ${event.backend} · seed ${event.seed} · ${event.dir}`
    case "PhaseStarted":
      return (
        `phase ${event.index + 1}/${Math.max(phaseCount, event.index + 1)} ${event.phase}: ` +
        `${event.epochs} epoch${event.epochs === 1 ? "" : "s"}, ${event.steps} steps` +
        (event.models.length > 0 ? ` · models ${event.models.join(", ")}` : "")
      )
    case "StepMetrics":
      return undefined
    case "EvalResult":
      return `  ${event.phase} epoch ${Format.number(event.epoch)} ${event.split}: ${metricList(event.metrics)}`
    case "Checkpointed":
      return `  checkpoint ${event.path} (step ${event.step})`
    case "PhaseFinished":
      return (
        `phase ${event.phase} done in ${Format.duration(event.seconds)}` +
        (Object.keys(event.metrics).length > 0 ? ` · ${metricList(event.metrics)}` : "")
      )
    case "RunFinished": {
      const table = Summary.table(event.summary)
      return `run finished in ${Format.duration(event.seconds)}${table ? `\n\n${table}\n` : ""}`
    }
    case "Note":
      return `${event.level === "warn" ? "warning" : "note"}: ${event.message}`
  }
}

interface PhaseState {
  readonly event: Event.PhaseStarted
  readonly startedAt: number
}

/**
 * What the progress line shows: a phase, its clock and the latest step metrics.
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  readonly phase: Event.PhaseStarted
  readonly step: Event.StepMetrics | undefined
  /** Seconds since the phase started. */
  readonly elapsed: number
}

const eta = (p: Progress): number => {
  const done = p.step?.step ?? 0
  return done > 0 ? (p.elapsed / done) * Math.max(0, p.phase.steps - done) : Number.NaN
}

/**
 * The progress line for a terminal `columns` wide: phase, epoch, a bar, percent, step/total,
 * loss (and its terms while they fit), images/s and ETA. Fields are dropped from the least useful
 * (terms, then learning rate) until the line fits; the bar shrinks down to 8 cells; the line is
 * cut at `columns - 1`.
 *
 * @example
 * ```ts
 * import * as Event from "./Event.js"
 * import { progressLine } from "./Reporter.js"
 * progressLine({
 *   phase: Event.phaseStarted({ phase: "kd", index: 0, epochs: 2, steps: 100, models: [] }),
 *   step: Event.stepMetrics({ phase: "kd", step: 50, epoch: 1, loss: 0.5, terms: {}, imagesPerSec: 3000, hyper: {} }),
 *   elapsed: 10,
 * }, 100) // "kd ep 2/2 [████████████░░░░░░░░░░░░] 50% 50/100 loss 0.5 3.00k img/s ETA 10s"
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const progressLine = (p: Progress, columns: number): string => {
  const steps = p.phase.steps
  const done = p.step?.step ?? 0
  const frac = steps > 0 ? Math.min(1, Math.max(0, done / steps)) : 0
  const epoch = p.step ? `ep ${p.step.epoch + 1}/${p.phase.epochs}` : `ep 1/${p.phase.epochs}`
  const head = `${p.phase.phase} ${epoch}`
  const stats = `${Math.floor(frac * 100)}% ${done}/${steps}`
  const loss = p.step ? `loss ${Format.number(p.step.loss)}` : ""
  const terms = p.step ? Object.entries(p.step.terms).map(([k, v]) => `${k} ${Format.number(v)}`) : []
  const lr = p.step?.lr !== undefined ? `lr ${Format.number(p.step.lr)}` : ""
  const speed = p.step ? `${Format.rate(p.step.imagesPerSec)} img/s` : ""
  const left = done >= steps && steps > 0 ? `${Format.duration(p.elapsed)}` : `ETA ${Format.duration(eta(p))}`
  const width = Math.max(20, columns - 1)
  const compose = (termList: ReadonlyArray<string>, withLr: boolean, barCells: number) => {
    const filled = Math.round(frac * barCells)
    const bar = `[${"█".repeat(filled)}${"░".repeat(barCells - filled)}]`
    return [head, bar, stats, loss, ...termList, withLr ? lr : "", speed, left]
      .filter((s) => s !== "")
      .join(" ")
  }
  const candidates: Array<[ReadonlyArray<string>, boolean]> = [
    [terms, true],
    [terms, false],
    [terms.slice(0, 2), false],
    [[], false],
  ]
  for (const [t, withLr] of candidates) {
    const fixed = compose(t, withLr, 0).length
    const cells = Math.min(24, width - fixed)
    if (cells >= 8) return compose(t, withLr, cells)
  }
  return compose([], false, 8).slice(0, width)
}

const ttySink = (options: TtyOptions): Sink => {
  const { write, columns, now } = defaults(options)
  const redrawMs = options.redrawMs ?? 100
  let phaseCount = 0
  let phase: PhaseState | undefined
  let step: Event.StepMetrics | undefined
  let bar = "" // the bar currently on screen, "" when none
  let lastDraw = Number.NEGATIVE_INFINITY
  let closed = false
  const CLEAR = "\r\x1b[2K"
  const draw = () => {
    if (!phase) return
    bar = progressLine({ phase: phase.event, step, elapsed: (now() - phase.startedAt) / 1000 }, columns())
    write(CLEAR + bar)
    lastDraw = now()
  }
  const log = (text: string) => {
    write(`${bar ? CLEAR : ""}${text}\n${bar}`)
  }
  const endBar = () => {
    if (bar) write("\n")
    bar = ""
  }
  return {
    emit: (event) => {
      if (closed) return
      switch (event._tag) {
        case "RunStarted":
          phaseCount = event.phases.length
          log(logLine(event, phaseCount)!)
          return
        case "PhaseStarted":
          endBar()
          log(logLine(event, phaseCount)!)
          phase = { event, startedAt: now() }
          step = undefined
          draw()
          return
        case "StepMetrics":
          step = event
          if (phase && (now() - lastDraw >= redrawMs || event.step >= phase.event.steps)) draw()
          return
        case "PhaseFinished":
          if (phase) draw()
          endBar()
          phase = undefined
          log(logLine(event, phaseCount)!)
          return
        case "RunFinished":
          endBar()
          log(logLine(event, phaseCount)!)
          return
        default:
          log(logLine(event, phaseCount)!)
      }
    },
    close: Effect.sync(() => {
      if (closed) return
      closed = true
      endBar()
    }),
  }
}

/**
 * The periodic step line printed by {@link Reporter.plain}.
 *
 * @example
 * ```ts
 * import * as Event from "./Event.js"
 * import { stepLine } from "./Reporter.js"
 * stepLine({
 *   phase: Event.phaseStarted({ phase: "kd", index: 0, epochs: 2, steps: 100, models: [] }),
 *   step: Event.stepMetrics({ phase: "kd", step: 50, epoch: 1, loss: 0.5, terms: { ce: 0.2 }, imagesPerSec: 3000, hyper: {} }),
 *   elapsed: 10,
 * }) // "kd ep 2/2 step 50/100 (50%) loss 0.5 · ce 0.2 · 3.00k img/s · ETA 10s"
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const stepLine = (p: Progress): string => {
  const s = p.step
  if (!s) return `${p.phase.phase} step 0/${p.phase.steps}`
  const pct = p.phase.steps > 0 ? Math.floor((100 * s.step) / p.phase.steps) : 0
  const parts = [
    `loss ${Format.number(s.loss)}`,
    ...Object.entries(s.terms).map(([k, v]) => `${k} ${Format.number(v)}`),
    ...(s.lr !== undefined ? [`lr ${Format.number(s.lr)}`] : []),
    `${Format.rate(s.imagesPerSec)} img/s`,
    s.step >= p.phase.steps ? `${Format.duration(p.elapsed)}` : `ETA ${Format.duration(eta(p))}`,
  ]
  return `${p.phase.phase} ep ${s.epoch + 1}/${p.phase.epochs} step ${s.step}/${p.phase.steps} (${pct}%) ${parts.join(" · ")}`
}

const plainSink = (options: PlainOptions): Sink => {
  const { write, now } = defaults(options)
  const everySeconds = options.everySeconds ?? 30
  let phaseCount = 0
  let phase: PhaseState | undefined
  let lastStep = 0
  let lastAt = 0
  let closed = false
  const line = (text: string) => write(`${text}\n`)
  return {
    emit: (event) => {
      if (closed) return
      switch (event._tag) {
        case "RunStarted":
          phaseCount = event.phases.length
          break
        case "PhaseStarted":
          phase = { event, startedAt: now() }
          lastStep = 0
          lastAt = now()
          break
        case "StepMetrics": {
          if (!phase) return
          const every = options.everySteps ?? Math.max(1, Math.ceil(phase.event.steps / 10))
          const t = now()
          if (
            event.step >= phase.event.steps ||
            event.step - lastStep >= every ||
            t - lastAt >= everySeconds * 1000
          ) {
            line(stepLine({ phase: phase.event, step: event, elapsed: (t - phase.startedAt) / 1000 }))
            lastStep = event.step
            lastAt = t
          }
          return
        }
        case "PhaseFinished":
          phase = undefined
          break
        default:
          break
      }
      line(logLine(event, phaseCount)!)
    },
    close: Effect.sync(() => {
      closed = true
    }),
  }
}

/**
 * A process killed in the middle of a write (kill -9, a crash) may leave the log ending in half
 * a line; appending after it would bury that fragment in the middle of the file, where readers
 * rightly refuse it. Cut the fragment (it was never a whole event) before appending.
 */
const repairTornTail = (file: string): void => {
  let fd: number
  try {
    fd = fs.openSync(file, "r+")
  } catch {
    return // no log yet
  }
  try {
    const size = fs.fstatSync(fd).size
    if (size === 0) return
    const last = Buffer.alloc(1)
    fs.readSync(fd, last, 0, 1, size - 1)
    if (last[0] === 0x0a) return
    const chunk = Math.min(size, 1 << 20)
    const tail = Buffer.alloc(chunk)
    fs.readSync(fd, tail, 0, chunk, size - chunk)
    const newline = tail.lastIndexOf(0x0a)
    const keep = newline < 0 ? (chunk === size ? 0 : size - chunk) : size - chunk + newline + 1
    fs.ftruncateSync(fd, keep)
    process.stderr.write(
      `note: ${file} ended in a torn line (an interrupted write); it was cut (${size - keep} bytes)\n`,
    )
  } finally {
    fs.closeSync(fd)
  }
}

const jsonlSink = (file: string): Effect.Effect<Sink, IoError> =>
  Effect.try({
    try: () => {
      fs.mkdirSync(path.dirname(file), { recursive: true })
      repairTornTail(file)
      return fs.openSync(file, "a")
    },
    catch: (cause) => new IoError({ path: file, message: `cannot open event log: ${String(cause)}`, cause }),
  }).pipe(
    Effect.map((fd): Sink => {
      let open = true
      let lost = 0
      const sync = () => {
        try {
          fs.fsyncSync(fd)
        } catch {
          // fsync is best effort (some file systems refuse it); the data is already written
        }
      }
      return {
        emit: (event) => {
          if (!open) return
          try {
            // one unbuffered write per event: a crash loses at most the event being written
            fs.writeSync(fd, `${Event.toLine(event)}\n`)
            if (
              event._tag === "PhaseFinished" ||
              event._tag === "RunFinished" ||
              event._tag === "Checkpointed"
            ) {
              sync()
            }
          } catch (cause) {
            if (lost++ === 0) process.stderr.write(`warning: cannot write ${file}: ${String(cause)}\n`)
          }
        },
        close: Effect.sync(() => {
          if (!open) return
          open = false
          if (lost > 0) process.stderr.write(`warning: ${lost} event(s) could not be written to ${file}\n`)
          sync()
          fs.closeSync(fd)
        }),
      }
    }),
  )

const plotsSink = (dir: string, options: { readonly png?: boolean }): Sink => {
  const events: Array<Event.Event> = []
  let done = false
  return {
    emit: (event) => {
      // only what the plots read, so a long run does not hold every event
      if (event._tag === "StepMetrics" || event._tag === "EvalResult" || event._tag === "PhaseStarted") {
        events.push(event)
      }
    },
    close: Effect.suspend(() => {
      if (done) return Effect.void
      done = true
      return RunPlots.writePlots(dir, events, options).pipe(
        Effect.asVoid,
        Effect.catch((e) => Effect.sync(() => void process.stderr.write(`warning: ${e.message}\n`))),
      )
    }),
  }
}

const fromSink = (sink: Sink): ReporterShape => ({
  emit: (event) => Effect.sync(() => sink.emit(event)),
  close: sink.close,
})

const scoped = <E, R>(make: Effect.Effect<ReporterShape, E, R>): Layer.Layer<Reporter, E, R> =>
  Layer.effect(
    Reporter,
    Effect.acquireRelease(make, (r) => r.close),
  )

/**
 * The reporter service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Event from "./Event.js"
 * import { Reporter } from "./Reporter.js"
 * const program = Reporter.use((r) => r.emit(Event.note({ level: "info", message: "hi" })))
 * Effect.runSync(Effect.provide(program, Reporter.plain()))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Reporter extends Context.Service<Reporter, ReporterShape>()("retort/Reporter") {
  /**
   * Drops every event.
   *
   * @since 0.1.0
   */
  static readonly quiet: Layer.Layer<Reporter> = Layer.succeed(Reporter, {
    emit: () => Effect.void,
    close: Effect.void,
  })

  /**
   * A live progress line on a terminal (phase, epoch, bar, step/total, loss and terms, images/s,
   * ETA), redrawn at most every `redrawMs`, with evaluations, checkpoints and notes logged above
   * it and the summary table at the end.
   *
   * @since 0.1.0
   */
  static tty(options: TtyOptions = {}): Layer.Layer<Reporter> {
    return scoped(Effect.sync(() => fromSink(ttySink(options))))
  }

  /**
   * Plain lines for logs and CI: every event but steps as one line, and a step line every
   * `everySteps` steps or `everySeconds` seconds, whichever comes first, and at the last step of
   * a phase.
   *
   * @since 0.1.0
   */
  static plain(options: PlainOptions = {}): Layer.Layer<Reporter> {
    return scoped(Effect.sync(() => fromSink(plainSink(options))))
  }

  /**
   * Appends each event as one JSON line to `file` (its directory is created), one unbuffered
   * write per event and an `fsync` at checkpoints and phase ends, so a crash loses nothing
   * already emitted. Read it back with `Event.readEvents`.
   *
   * @since 0.1.0
   */
  static jsonl(file: string): Layer.Layer<Reporter, IoError> {
    return scoped(Effect.map(jsonlSink(file), fromSink))
  }

  /**
   * Keeps the step and evaluation events and, on close, writes `loss.svg`, `eval.svg` and
   * `schedule.svg` (and PNGs when `png`) into `dir`. A failure to write is a warning on stderr.
   *
   * @since 0.1.0
   */
  static plots(dir: string, options: { readonly png?: boolean } = {}): Layer.Layer<Reporter> {
    return scoped(Effect.sync(() => fromSink(plotsSink(dir, options))))
  }

  /**
   * Appends every event to `into` (for tests and for programs that inspect a run).
   *
   * @since 0.1.0
   */
  static memory(into: Array<Event.Event>): Layer.Layer<Reporter> {
    return Layer.succeed(Reporter, {
      emit: (event) => Effect.sync(() => void into.push(event)),
      close: Effect.void,
    })
  }

  /**
   * One reporter that sends every event to each of the given ones, in order, and closes them
   * all.
   *
   * @since 0.1.0
   */
  static combine<E, R>(...layers: ReadonlyArray<Layer.Layer<Reporter, E, R>>): Layer.Layer<Reporter, E, R> {
    return Layer.effect(
      Reporter,
      Effect.gen(function* () {
        const all: Array<ReporterShape> = []
        for (const layer of layers) all.push(Context.get(yield* Layer.build(layer), Reporter))
        return {
          emit: (event: Event.Event) => Effect.forEach(all, (r) => r.emit(event), { discard: true }),
          close: Effect.forEach(all, (r) => r.close, { discard: true }),
        }
      }),
    )
  }

  /**
   * The usual reporter: the live bar when stderr is a terminal, plain lines otherwise (nothing
   * when `quiet`), plus the JSONL log `<dir>/events.jsonl` and the plots in `dir` when a run
   * directory is given.
   *
   * @since 0.1.0
   */
  static auto(options: AutoOptions = {}): Layer.Layer<Reporter, IoError> {
    const layers: Array<Layer.Layer<Reporter, IoError>> = []
    if (!options.quiet) {
      const tty = options.tty ?? process.stderr.isTTY === true
      layers.push(tty ? Reporter.tty(options.console) : Reporter.plain(options.console))
    }
    if (options.dir !== undefined) {
      layers.push(Reporter.jsonl(path.join(options.dir, "events.jsonl")))
      layers.push(Reporter.plots(options.dir, options.png ? { png: true } : {}))
    }
    return layers.length === 0 ? Reporter.quiet : Reporter.combine(...layers)
  }
}

/**
 * Emits one event to the current {@link Reporter}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Event from "./Event.js"
 * import { Reporter, emit } from "./Reporter.js"
 * Effect.runSync(Effect.provide(emit(Event.note({ level: "info", message: "hi" })), Reporter.quiet))
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const emit = (event: Event.Event): Effect.Effect<void, never, Reporter> =>
  Reporter.use((r) => r.emit(event))
