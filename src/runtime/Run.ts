/**
 * Run a pipeline end to end: validate, load data, build models, train each phase with its
 * compiled step, evaluate, report, checkpoint. The hot path is the compiled step (one
 * synchronous function inside one `tf.tidy`); this module is the Effect layer around it:
 * epochs, evaluation, events, checkpoints, interruption and resources.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { run } from "retort"
 * import kd from "retort/pipelines/kd"
 * const result = await Effect.runPromise(run(kd, { backend: "wasm", outDir: "runs" }))
 * console.log(result.dir, result.phases)
 * ```
 *
 * @since 0.1.0
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { dirname, isAbsolute, join, relative, resolve } from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Layer, Result, type Scope } from "effect"
import * as AugmentDsl from "../../dsl/Augment.js"
import * as Codec from "../../dsl/Codec.js"
import * as Compute from "../../dsl/Compute.js"
import * as DomainDsl from "../../dsl/Domain.js"
import * as Learned from "../../dsl/Learned.js"
import * as ModelDsl from "../../dsl/Model.js"
import type * as Phase from "../../dsl/Phase.js"
import * as Pipeline from "../../dsl/Pipeline.js"
import type * as Ramp from "../../dsl/Ramp.js"
import * as StepDsl from "../../dsl/Step.js"
import * as Augmentation from "../augment/index.js"
import { Backend } from "../backend/Backend.js"
import * as Learning from "../compile/learned.js"
import * as State from "../compile/state.js"
import * as CompiledStep from "../compile/step.js"
import * as Batches from "../data/Batches.js"
import { Data } from "../data/Data.js"
import type * as DataSpec from "../data/DataSpec.js"
import * as Dataset from "../data/Dataset.js"
import * as Domains from "../data/Domains.js"
import * as Rng from "../data/Rng.js"
import {
  type BackendError,
  type DataError,
  describeFsError,
  IoError,
  type ShapeError,
  TrainingError,
  ValidationError,
} from "../errors.js"
import { Metrics } from "../metrics/index.js"
import * as Models from "../models/index.js"
import * as Event from "../report/Event.js"
import { Reporter } from "../report/Reporter.js"
import * as Checkpoint from "./Checkpoint.js"
import * as DataSource from "./DataSource.js"
import * as FewShotRun from "./FewShot.js"
import * as RunLock from "./RunLock.js"
import * as Select from "./Select.js"
import * as TeacherCache from "./TeacherCache.js"

/**
 * Options of a run. Everything is optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /** `auto` (default: tfjs-node-gpu, then tfjs-node, else wasm), `wasm`, `cpu`, `tensorflow`, `tensorflow-gpu`, `webgpu`. */
  readonly backend?: string
  /** Use the native kernels when built (default true; `RETORT_NATIVE=0` also disables). */
  readonly native?: boolean
  /** Threads for the native kernels (default `RETORT_THREADS`, else every core). */
  readonly threads?: number
  /** Where to look for Fashion-MNIST first. */
  readonly dataDir?: string
  /** Allow downloading Fashion-MNIST when it is not found locally (default true). */
  readonly download?: boolean
  /** Parent directory of run directories (default `runs`). */
  readonly outDir?: string
  /** Run name: the directory `outDir/name` (default: the pipeline's name). */
  readonly name?: string
  /** Override the pipeline's seed. */
  readonly seed?: number
  /** No console output (the JSONL log and plots are still written). */
  readonly quiet?: boolean
  /** Replace the console/JSONL/plots reporter (e.g. `Reporter.memory(events)` in tests). */
  readonly reporter?: Layer.Layer<Reporter, IoError>
  /** Continue the run in this directory from its checkpoint. */
  readonly resume?: string
  /** Write a checkpoint every this many steps (default: the pipeline's `checkpointEvery`, else 500; 0 = only at phase ends). */
  readonly checkpointEvery?: number
  /** Read losses back and report every this many steps (default 20). */
  readonly logEvery?: number
  /** Data to use instead of the pipeline's source (required for `custom` sources). */
  readonly data?: DataSpec.DataSpec | Dataset.Dataset
  /** Builders for `Model.custom(name)` models. */
  readonly models?: Readonly<Record<string, Models.CustomBuilder>>
  /** Cap every phase at this many steps (smoke runs). */
  readonly maxSteps?: number
  /** Stop the run after this many steps in total, writing a checkpoint (used to test resuming). */
  readonly stopAfter?: number
  /** Evaluate on at most this many samples per split. */
  readonly evalLimit?: number
  /** When aborted, the run writes a checkpoint at the next step boundary and fails with `Interrupted`. */
  readonly signal?: AbortSignal
  /**
   * Compute a frozen teacher's logits once per training sample and reuse them across epochs,
   * when its input is not augmented (default true; see `TeacherCache`). `false` runs the
   * teacher at every step.
   */
  readonly teacherCache?: boolean
}

/**
 * The outcome of one phase: its final evaluation, `split/target/metric → value`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PhaseResult {
  readonly phase: string
  readonly metrics: Readonly<Record<string, number>>
}

/**
 * The outcome of a run.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunResult {
  readonly dir: string
  readonly backend: string
  readonly phases: ReadonlyArray<PhaseResult>
  readonly seconds: number
  /** The training state, still alive inside the caller's scope (for export or probes). */
  readonly state: State.TrainState
  readonly dataset: Dataset.Dataset
}

/**
 * A run stopped by a signal (Ctrl-C) after writing a checkpoint.
 *
 * @since 0.1.0
 * @category errors
 */
export class Interrupted extends TrainingError {}

/**
 * Every error a run can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type RunError = ValidationError | ShapeError | BackendError | DataError | TrainingError | IoError

/** The file that marks a directory as a Retort run directory (written when a run claims it). */
const MARKER = ".retort"
/** Files only a Retort run writes: a directory holding one of them is a run directory. */
const RUN_FILES = [MARKER, "events.jsonl", "checkpoint.bin", "run.lock"]

/**
 * When `dir` is not empty and none of its entries is one of ours (`ours`), the error that says
 * so: Retort never writes into a folder of someone else's files (`retry` says what to change).
 * Used for run, series and sweep directories alike.
 */
export const foreignFolder = (
  dir: string,
  ours: (name: string) => boolean,
  what: string,
  retry: string,
): IoError | undefined => {
  const entries = readdirSync(dir).filter((f) => !f.startsWith(".write-test-"))
  if (entries.length === 0 || entries.some(ours)) return undefined
  const shown = entries.slice(0, 3).join(", ") + (entries.length > 3 ? ", …" : "")
  return new IoError({
    path: dir,
    message: `${dir} already holds ${entries.length} file${entries.length === 1 ? "" : "s"} that no Retort ${what} wrote (${shown}); Retort does not write into a folder of other files: ${retry}`,
  })
}

/**
 * The run directory must be writable, and a new run never writes into a folder of someone else's
 * files: a directory that exists, is not empty and holds none of Retort's own files is refused.
 */
const checkOutDir = (dir: string, resuming: boolean): Effect.Effect<void, IoError> =>
  Effect.try({
    try: () => {
      if (resuming) {
        if (!existsSync(dir))
          throw new IoError({ path: dir, message: `there is no run directory ${dir} to resume` })
      } else {
        if (!existsSync(dir)) {
          // a recursive mkdir on a read-only file system says ENOENT: ask the nearest parent
          let parent = dirname(dir)
          while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent)
          accessSync(parent, constants.W_OK)
        }
        mkdirSync(dir, { recursive: true })
        const foreign = foreignFolder(
          dir,
          (f) => RUN_FILES.includes(f),
          "run",
          "give the run another --name or --out",
        )
        if (foreign) throw foreign
      }
      accessSync(dir, constants.W_OK)
      const probe = join(dir, `.write-test-${process.pid}`)
      writeFileSync(probe, "")
      rmSync(probe, { force: true })
    },
    catch: (cause) =>
      cause instanceof IoError
        ? cause
        : new IoError({
            path: dir,
            message: `the output directory is not writable: ${describeFsError(cause)}`,
            cause,
          }),
  })

/** What {@link claimDir} holds: the run directory, locked for this run, and a stale lock it took over. */
interface Claim {
  readonly dir: string
  readonly stale: RunLock.Holder | undefined
}

/**
 * Claims the run directory before anything is written to it (the event log included): the run
 * name must stay inside the output directory, the directory must be writable and not a folder of
 * unrelated files, and the run takes its lock (released when the scope closes).
 */
const claimDir = (
  input: Pipeline.Pipeline,
  options: RunOptions,
): Effect.Effect<Claim, IoError, Scope.Scope> =>
  Effect.gen(function* () {
    const dir = resolve(options.resume ?? join(options.outDir ?? "runs", options.name ?? input.name))
    if (options.resume === undefined) {
      // a run name (from the pipeline file or --name) names a folder inside the output directory
      const base = resolve(options.outDir ?? "runs")
      const inside = relative(base, dir)
      if (inside === "" || inside.startsWith("..") || isAbsolute(inside))
        return yield* Effect.fail(
          new IoError({
            path: dir,
            message: `the run name "${options.name ?? input.name}" would put the run directory at ${dir}, outside the output directory ${base}; a run name is a folder name inside it`,
          }),
        )
    }
    yield* checkOutDir(dir, options.resume !== undefined)
    // one run per directory: a second one refuses, a dead one's lock is taken over
    const lock = yield* RunLock.acquire(dir)
    yield* Effect.try({
      try: () => writeFileSync(join(dir, MARKER), "a Retort run directory (see events.jsonl)\n"),
      catch: (cause) => new IoError({ path: join(dir, MARKER), message: describeFsError(cause), cause }),
    })
    return { dir, stale: lock.stale }
  })

/** Decoding an image folder can take minutes the first time: a progress line on stderr. */
const decodeProgress = () => {
  const tty = process.stderr.isTTY === true
  let last = 0
  let started = 0
  return (p: { readonly decoded: number; readonly total: number }) => {
    const now = performance.now()
    if (started === 0) {
      started = now
      if (!tty) process.stderr.write(`decoding ${p.total.toLocaleString("en")} images …\n`)
    }
    const done = p.decoded >= p.total
    if (tty && (now - last > 100 || done)) {
      last = now
      const rate = p.decoded / Math.max(1e-3, (now - started) / 1000)
      process.stderr.write(
        `\rdecoding images ${p.decoded}/${p.total} (${rate.toFixed(0)}/s)${done ? "\n" : ""}`,
      )
    } else if (!tty && done)
      process.stderr.write(
        `decoded ${p.total.toLocaleString("en")} images in ${((now - started) / 1000).toFixed(1)} s\n`,
      )
  }
}

/**
 * The models a phase needs: forwarded, optimised, averaged, evaluated, initialised (with the
 * sources of their averages).
 *
 * @since 0.1.0
 * @category planning
 */
export const modelsOf = (pipeline: Pipeline.Pipeline, phase: Phase.Phase): ReadonlySet<string> => {
  const out = new Set<string>()
  for (const s of phase.step.stages) {
    if (s._tag === "Forward") out.add(s.model)
    if (s._tag === "Optimize") for (const m of s.models) out.add(m)
    if (s._tag === "Ema" || s._tag === "Swa") {
      out.add(s.model)
      out.add(s.as)
    }
  }
  for (const t of phase.evaluate.targets)
    for (const m of t._tag === "Model" ? [t.model] : t.models) out.add(m)
  if (phase.evaluate.reference) out.add(phase.evaluate.reference)
  for (const m of Object.keys(phase.init)) out.add(m)
  const averages = new Map(Pipeline.averages(pipeline).map((a) => [a.as, a.model]))
  for (const m of [...out]) if (averages.has(m)) out.add(averages.get(m)!)
  return out
}

/**
 * The seed a phase initialises a model with: one per (run seed, phase, model).
 *
 * @since 0.1.0
 * @category planning
 */
export const initSeed = (seed: number, phaseIndex: number, model: string): number =>
  Rng.derive(seed, "init", phaseIndex, model) >>> 0

/** How models are built in a run: custom builders, loaded files, the data's normalisation. */
export interface BuildContext {
  readonly options: RunOptions
  readonly normalize: ModelDsl.Normalize | undefined
  readonly loaded: (name: string) => Models.BuildOptions["loaded"]
}

const buildSlot = (
  name: string,
  description: ModelDsl.Model,
  seed: number,
  context: BuildContext,
): Effect.Effect<State.ModelSlot, ValidationError | ShapeError> => {
  const loaded = context.loaded(name)
  return Effect.map(
    Models.build(description, {
      seed,
      ...(context.options.models ? { customBuilders: context.options.models } : {}),
      ...(context.normalize !== undefined ? { normalize: context.normalize } : {}),
      ...(loaded !== undefined ? { loaded } : {}),
    }),
    (built) => ({ name, built, params: built.params, state: built.state }),
  )
}

const cloneSlot = (name: string, source: State.ModelSlot, kind: "Ema" | "Swa"): State.ModelSlot => ({
  name,
  built: source.built,
  params: Models.Tree.clone(source.params, false),
  state: Models.Tree.clone(source.state, false),
  average: { source: source.name, kind, count: 0 },
})

const disposeSlot = (slot: State.ModelSlot) => {
  if (slot.average) {
    Models.Tree.dispose(slot.params)
    Models.Tree.dispose(slot.state)
  } else slot.built.dispose()
}

/** Prepare the models of a phase according to its `init`. */
const prepareModels = (
  pipeline: Pipeline.Pipeline,
  phase: Phase.Phase,
  phaseIndex: number,
  state: State.TrainState,
  seed: number,
  options: BuildContext,
): Effect.Effect<void, ValidationError | ShapeError> =>
  Effect.gen(function* () {
    const averages = new Map(Pipeline.averages(pipeline).map((a) => [a.as, a]))
    const needed = modelsOf(pipeline, phase)
    const declared = [...needed].filter((m) => pipeline.models[m] !== undefined)
    for (const m of declared) {
      const init = phase.init[m] ?? { _tag: "Keep" as const }
      const existing = state.models.get(m)
      if (init._tag === "Keep" && existing) continue
      if (init._tag === "Copy") continue
      if (existing) disposeSlot(existing)
      state.models.set(m, yield* buildSlot(m, pipeline.models[m]!, initSeed(seed, phaseIndex, m), options))
    }
    for (const m of declared) {
      const init = phase.init[m]
      if (init?._tag !== "Copy") continue
      const source = state.models.get(init.from)
      if (!source) {
        // copying from a model that was never trained: build it fresh first
        state.models.set(
          init.from,
          yield* buildSlot(
            init.from,
            pipeline.models[init.from]!,
            initSeed(seed, phaseIndex, init.from),
            options,
          ),
        )
      }
      let target = state.models.get(m)
      if (!target) {
        target = yield* buildSlot(m, pipeline.models[m]!, initSeed(seed, phaseIndex, m), options)
        state.models.set(m, target)
      }
      Models.Tree.assign(target.params, state.models.get(init.from)!.params)
      Models.Tree.assign(target.state, state.models.get(init.from)!.state)
    }
    for (const m of needed) {
      const avg = averages.get(m)
      if (!avg || state.models.has(m)) continue
      state.models.set(m, cloneSlot(m, state.models.get(avg.model)!, avg.kind))
    }
  })

const hyperClock = (step: number, total: number, stepsPerEpoch: number): Ramp.Clock => ({
  step,
  epoch: step / Math.max(1, stepsPerEpoch),
  progress: total > 0 ? step / total : 0,
})

const metricKey = (split: Phase.EvalSplit) =>
  split.corruption ? AugmentDsl.name(split.corruption, split.split) : split.split

const targetName = (t: Phase.EvalTarget) =>
  t._tag === "Ensemble" ? t.name : t.heads.length === 0 ? t.model : `${t.model}[${t.heads.join("+")}]`

const EVAL_BATCH = 500

/** Adds each row of a batch's logits to the accumulator of its domain. */
const addPerDomain = (
  accs: ReadonlyArray<Metrics.Accumulator>,
  logits: Float32Array,
  labels: Int32Array,
  domains: Int32Array,
  classes: number,
) => {
  for (let d = 0; d < accs.length; d++) {
    const rows: Array<number> = []
    for (let q = 0; q < labels.length; q++) if (domains[q] === d) rows.push(q)
    if (rows.length === 0) continue
    const l = new Float32Array(rows.length * classes)
    for (let r = 0; r < rows.length; r++)
      l.set(logits.subarray(rows[r]! * classes, (rows[r]! + 1) * classes), r * classes)
    accs[d]!.add(
      l,
      Int32Array.from(rows, (q) => labels[q]!),
    )
  }
}

/** Evaluate a phase's targets on its splits. Returns `split/target/metric → value`. */
const evaluate = (
  phase: Phase.Phase,
  state: State.TrainState,
  dataset: Dataset.Dataset,
  options: RunOptions,
  seed: number,
  phaseIndex = 0,
  labelled?: Domains.Labelled,
): Effect.Effect<Record<string, Record<string, number>>, ShapeError | ValidationError> =>
  Effect.gen(function* () {
    const ev = phase.evaluate
    const out: Record<string, Record<string, number>> = {}
    const [h, w, c] = dataset.shape
    const size = h * w * c
    // SWA averages with batch norm: recompute the statistics for the averaged weights first.
    for (const t of ev.targets)
      for (const m of t._tag === "Model" ? [t.model] : t.models) {
        const slot = state.models.get(m)
        if (slot?.average?.kind === "Swa" && Models.Tree.size(slot.state) > 0) {
          const batches = function* () {
            const n = Math.min(dataset.train.n, 20 * 128)
            for (let i = 0; i < n; i += 128) {
              const k = Math.min(128, n - i)
              yield tf.tensor4d(dataset.train.x.subarray(i * size, (i + k) * size), [k, h, w, c])
            }
          }
          const list = [...batches()]
          Models.recomputeBatchNorm(slot.built, slot.params, list, slot.state)
          for (const t of list) t.dispose()
        }
      }
    for (const split of ev.splits) {
      const whole =
        split.split === "test"
          ? dataset.test
          : split.split === "validation"
            ? dataset.validation
            : dataset.train
      if (!whole || whole.n === 0) continue
      // domain generalisation: keep only some domains (held-out / training-domain validation)
      const chosen =
        labelled && split.domains !== undefined
          ? Domains.select(whole, Domains.of(labelled, split.split), split.domains)
          : undefined
      // cross-task: keep only the images of some classes (a student's own label space)
      const data =
        split.classes !== undefined
          ? yield* FewShotRun.onlyClasses(
              chosen?.split ?? whole,
              split.classes,
              dataset.classes,
              `phases[${phaseIndex}].evaluate.splits.classes`,
            )
          : (chosen?.split ?? whole)
      // a class filter drops rows: no per-sample domains then
      const sampleDomains =
        split.classes !== undefined
          ? undefined
          : (chosen?.domains ?? (labelled ? Domains.of(labelled, split.split) : undefined))
      if (data.n === 0) continue
      const perDomain = ev.perDomain && labelled && sampleDomains ? labelled.spec.angles.length : 0
      const domainAccs = ev.targets.map(() =>
        Array.from({ length: perDomain }, () => new Metrics.Accumulator(dataset.classes)),
      )
      const tta = ev.tta
      const ttaAccs = ev.targets.map(() => new Metrics.Accumulator(dataset.classes))
      const n = Math.min(
        data.n,
        split.limit ?? Number.POSITIVE_INFINITY,
        options.evalLimit ?? Number.POSITIVE_INFINITY,
      )
      const classes = dataset.classes
      const accs = ev.targets.map(() => new Metrics.Accumulator(classes))
      const agree = ev.targets.map(() => ({ same: 0, n: 0 }))
      const exits: Array<Record<string, { correct: number; n: number }>> = ev.targets.map(() => ({}))
      for (let i = 0; i < n; i += EVAL_BATCH) {
        const k = Math.min(EVAL_BATCH, n - i)
        const labels = data.y.subarray(i, i + k)
        const results = tf.tidy(() => {
          let x = tf.tensor4d(data.x.subarray(i * size, (i + k) * size), [k, h, w, c])
          if (split.corruption)
            x = Augmentation.corrupt(split.corruption, x, Rng.derive(seed, "corrupt", i) >>> 0 || 1)
          const forwardsOn = (input: tf.Tensor4D) => {
            const cache = new Map<string, Models.Forward>()
            return (m: string) => {
              let f = cache.get(m)
              if (!f) {
                const slot = state.models.get(m)!
                f = slot.built.apply(slot.params, input, { train: false, state: slot.state })
                cache.set(m, f)
              }
              return f
            }
          }
          const fwd0 = forwardsOn(x)
          let fwd = fwd0
          const logitsOf = (t: Phase.EvalTarget): tf.Tensor2D => {
            if (t._tag === "Ensemble")
              return tf.log(
                tf.add(
                  tf.div(tf.addN(t.models.map((m) => tf.softmax(fwd(m).logits))), t.models.length),
                  1e-12,
                ),
              ) as tf.Tensor2D
            if (t.heads.length === 0) return fwd(t.model).logits
            const f = fwd(t.model)
            const probs = t.heads.map((hd) => tf.softmax(hd === "logits" ? f.logits : f.heads[hd]!))
            return tf.log(tf.add(tf.div(tf.addN(probs), probs.length), 1e-12)) as tf.Tensor2D
          }
          const targets = ev.targets.map(logitsOf)
          // test-time augmentation: mean of the views' probabilities (view [] is x itself)
          const fused = tta
            ? (() => {
                const none = tf.zeros([k, classes]) as tf.Tensor2D
                const probs = tta.views.map((view, v) => {
                  const xv =
                    view.length === 0
                      ? x
                      : Augmentation.apply(
                          view,
                          { x, y: none },
                          {
                            clock: { step: 0, epoch: 0, progress: 1 },
                            seed: Rng.derive(seed, "tta", v, i) >>> 0 || 1,
                          },
                        ).x
                  fwd = xv === x ? fwd0 : forwardsOn(xv)
                  return ev.targets.map((t) => tf.softmax(logitsOf(t)))
                })
                fwd = fwd0
                return ev.targets.map((_, j) =>
                  tf.keep(
                    tf.log(
                      tf.add(tf.div(tf.addN(probs.map((p) => p[j]!)), probs.length), 1e-12),
                    ) as tf.Tensor2D,
                  ),
                )
              })()
            : undefined
          const ref =
            ev.reference && ev.metrics.includes("agreement")
              ? tf.argMax(fwd(ev.reference).logits, 1)
              : undefined
          const heads = ev.targets.map((t) =>
            ev.metrics.includes("exits") && t._tag === "Model" && t.heads.length === 0
              ? fwd(t.model).heads
              : ({} as Record<string, tf.Tensor2D>),
          )
          return {
            fused,
            targets: targets.map((t) => tf.keep(t)),
            agreement: ref
              ? targets.map((t) => tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(t, 1), ref), "int32"))))
              : undefined,
            exits: heads.map((hs) =>
              Object.fromEntries(Object.entries(hs).map(([name, t]) => [name, tf.keep(tf.argMax(t, 1))])),
            ),
          }
        })
        for (let j = 0; j < results.targets.length; j++) {
          const logits = (yield* Effect.promise(() => results.targets[j]!.data())) as Float32Array
          accs[j]!.add(logits, labels)
          results.targets[j]!.dispose()
          if (perDomain > 0)
            addPerDomain(domainAccs[j]!, logits, labels, sampleDomains!.subarray(i, i + k), classes)
          if (results.fused) {
            ttaAccs[j]!.add((yield* Effect.promise(() => results.fused![j]!.data())) as Float32Array, labels)
            results.fused[j]!.dispose()
          }
          if (results.agreement) {
            agree[j]!.same += (yield* Effect.promise(() => results.agreement![j]!.data()))[0]!
            agree[j]!.n += k
            results.agreement[j]!.dispose()
          }
          for (const [name, t] of Object.entries(results.exits[j]!)) {
            const pred = yield* Effect.promise(() => t.data())
            let correct = 0
            for (let q = 0; q < k; q++) if (pred[q] === labels[q]) correct++
            const e = (exits[j]![name] ??= { correct: 0, n: 0 })
            e.correct += correct
            e.n += k
            t.dispose()
          }
        }
      }
      const metrics: Record<string, number> = {}
      ev.targets.forEach((t, j) => {
        const r = accs[j]!.result()
        const name = targetName(t)
        if (ev.metrics.includes("accuracy")) metrics[`${name}/accuracy`] = r.accuracy
        if (ev.metrics.includes("nll")) metrics[`${name}/nll`] = r.nll
        if (ev.metrics.includes("ece")) metrics[`${name}/ece`] = r.ece
        if (ev.metrics.includes("agreement") && agree[j]!.n > 0)
          metrics[`${name}/agreement`] = agree[j]!.same / agree[j]!.n
        for (const [head, e] of Object.entries(exits[j]!))
          metrics[`${name}/${head}/accuracy`] = e.correct / e.n
        if (tta) {
          const f = ttaAccs[j]!.result()
          if (ev.metrics.includes("accuracy")) metrics[`${name}/tta/accuracy`] = f.accuracy
          if (ev.metrics.includes("nll")) metrics[`${name}/tta/nll`] = f.nll
          if (ev.metrics.includes("ece")) metrics[`${name}/tta/ece`] = f.ece
        }
        for (let d = 0; d < perDomain; d++) {
          const r = domainAccs[j]![d]!.result()
          if (r.n > 0) metrics[`${name}/${DomainDsl.name(labelled!.spec, d)}/accuracy`] = r.accuracy
        }
      })
      // early-exit inference (uncorrupted splits): one more forward pass per multi-head model
      if (ev.earlyExit && ev.earlyExit.length > 0 && !split.corruption)
        for (const t of ev.targets) {
          if (t._tag !== "Model" || t.heads.length > 0) continue
          const slot = state.models.get(t.model)!
          if (slot.built.heads.length < 2) continue
          const report = yield* Models.evaluateEarlyExit(slot.built, slot.params, data, {
            thresholds: ev.earlyExit,
            state: slot.state,
            shape: [h, w, c],
            limit: n,
            batchSize: EVAL_BATCH,
          })
          for (const r of report.thresholds) {
            const key = `${targetName(t)}@${r.threshold}`
            metrics[`${key}/accuracy`] = r.accuracy
            metrics[`${key}/meanExit`] = r.meanExit
            for (const [head, f] of Object.entries(r.fractions)) metrics[`${key}/${head}`] = f
          }
        }
      out[
        metricKey(split) +
          (split.domains !== undefined ? `@d${split.domains.join("+")}` : "") +
          (split.classes !== undefined ? `@c${split.classes.join("+")}` : "")
      ] = metrics
    }
    // few-shot episodes on novel classes (RFS): see FewShot.ts
    if (ev.fewShot)
      for (const [key, m] of Object.entries(
        yield* FewShotRun.evaluate(ev.fewShot, phase, phaseIndex, state, dataset, seed),
      ))
        out[key] = { ...out[key], ...m }
    return out
  })

const flattenMetrics = (m: Record<string, Record<string, number>>) => {
  const out: Record<string, number> = {}
  for (const [split, values] of Object.entries(m))
    for (const [k, v] of Object.entries(values)) out[`${split}/${k}`] = v
  return out
}

/**
 * Run a pipeline with the services already provided (Backend, Data, Reporter). Most callers
 * use {@link run}, which provides them from the options.
 *
 * @since 0.1.0
 * @category running
 */
export const runWith = (
  input: Pipeline.Pipeline,
  options: RunOptions = {},
): Effect.Effect<RunResult, RunError, Backend | Data | Reporter | Scope.Scope> => runClaimed(input, options)

const runClaimed = (
  input: Pipeline.Pipeline,
  options: RunOptions,
  claim?: Claim,
): Effect.Effect<RunResult, RunError, Backend | Data | Reporter | Scope.Scope> =>
  Effect.gen(function* () {
    const started = performance.now()
    const backend = yield* Backend
    const reporter = yield* Reporter
    const emit = (e: Event.Event) => reporter.emit(e)

    // Resume: the pipeline and position come from the checkpoint.
    let snapshot: Checkpoint.Snapshot | undefined
    let pipeline = input
    if (options.resume !== undefined) {
      snapshot = yield* Checkpoint.load(join(options.resume, "checkpoint.bin"))
      const decoded = Codec.decode(snapshot.header.pipeline)
      if (Result.isFailure(decoded)) return yield* Effect.fail(decoded.failure)
      pipeline = decoded.success
    }
    const checked = Codec.validate(pipeline)
    if (Result.isFailure(checked)) return yield* Effect.fail(checked.failure)
    const seed = options.seed ?? (snapshot?.header.options.seed as number | undefined) ?? pipeline.seed
    const { dir, stale } = claim ?? (yield* claimDir(input, options))
    const ckptPath = join(dir, "checkpoint.bin")
    writeFileSync(join(dir, "pipeline.json"), Codec.toJson(pipeline))

    const prepared = yield* DataSource.prepare(pipeline.data, {
      seed,
      ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
      ...(options.download !== undefined ? { download: options.download } : {}),
      ...(options.data !== undefined ? { data: options.data } : {}),
      ...(options.quiet ? {} : { progress: decodeProgress() }),
    })
    // domain generalisation: build the declared domains (Rotated MNIST …) on every split
    const labelled = pipeline.data.domains
      ? yield* Domains.build(prepared.dataset, pipeline.data.domains, Rng.derive(seed, "domains") >>> 0)
      : undefined
    const dataset = labelled?.dataset ?? prepared.dataset
    yield* DataSource.writeInfo(dir, DataSource.info(prepared, pipeline.data))
    const loadedModels = yield* Models.Loaded.prepare(pipeline, dataset)
    const build: BuildContext = { options, normalize: prepared.normalize, loaded: loadedModels.builder }
    // Shapes and class counts must agree with the data before any training (loaded models are
    // checked by Loaded.prepare, custom ones when they are built).
    for (const [name, m] of Object.entries(pipeline.models)) {
      const k = ModelDsl.classes(m)
      const shape = ModelDsl.inputShape(m)
      if (k !== undefined && k !== dataset.classes)
        return yield* Effect.fail(
          new ValidationError({
            issues: [
              {
                path: `models.${name}.classes`,
                message: `the model has ${k} classes but ${dataset.name} has ${dataset.classes}`,
              },
            ],
          }),
        )
      if (shape !== undefined && shape.join("x") !== dataset.shape.join("x"))
        return yield* Effect.fail(
          new ValidationError({
            issues: [
              {
                path: `models.${name}.input`,
                message: `the model takes ${shape.join("×")} images but ${dataset.name} has ${dataset.shape.join("×")}`,
              },
            ],
          }),
        )
    }

    const state = State.empty()
    // the pipeline's learned hyper-parameters (params), at their initial values; a resumed run
    // overwrites them from the checkpoint
    for (const [name, param] of Object.entries(pipeline.params ?? {}))
      state.learned.set(name, Learning.create(param))
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const slot of state.learned.values()) slot.variable.dispose()
        for (const slot of state.models.values()) disposeSlot(slot)
        for (const o of state.optimizers.values())
          for (const list of Object.values(o.slots)) for (const v of list) v.dispose()
        for (const p of state.projections.values()) {
          p.kernel.dispose()
          p.bias.dispose()
        }
        for (const p of state.prototypes.values()) {
          p.sum.dispose()
          p.count.dispose()
        }
      }),
    )

    yield* emit(
      Event.runStarted({
        run: pipeline.name,
        pipeline: pipeline.name,
        backend: backend.name,
        seed,
        dir,
        phases: pipeline.phases.map((p) => p.name),
      }),
    )
    if (stale)
      yield* emit(
        Event.note({
          level: "warn",
          message: `took over the lock of ${dir} from process ${stale.pid}, which no longer runs (started ${stale.started})`,
        }),
      )
    const kernels = backend.kind === "wasm" ? backend.info.kernels : undefined
    if (kernels !== undefined)
      yield* emit(
        kernels.native
          ? Event.note({
              level: "info",
              message: `kernels: native (${kernels.build?.match(/sgemm [^;]+/)?.[0] ?? "C++ addon"}), ${kernels.threads} thread${kernels.threads === 1 ? "" : "s"}`,
            })
          : Event.note({
              level: "warn",
              message: `kernels: pure wasm, several times slower than the native ones (${kernels.nativeReason ?? "not built"})`,
            }),
      )
    for (const n of prepared.notes) yield* emit(Event.note(n))
    if (snapshot)
      yield* emit(
        Event.note({
          level: "info",
          message: `resuming from ${ckptPath} at phase ${snapshot.header.position.phase + 1}, step ${snapshot.header.position.step}`,
        }),
      )

    const finished: Array<PhaseResult> = [...(snapshot?.header.finished ?? [])]
    const start = snapshot?.header.position ?? { phase: 0, epoch: 0, batchIndex: 0, step: 0 }
    let totalSteps = 0
    const [h, w, c] = dataset.shape

    const where = (p: Checkpoint.Position) =>
      p.step === 0 && p.epoch === 0 && p.batchIndex === 0 && p.phase > 0
        ? `the end of phase "${pipeline.phases[p.phase - 1]?.name}"`
        : `phase "${pipeline.phases[p.phase]?.name}", step ${p.step}`
    let lastGood: string | undefined = snapshot ? where(snapshot.header.position) : undefined
    // the model selection of the running phase, if any: checkpointed with it, so that a resumed
    // run still chooses among the evaluations before the interruption
    let selecting: { readonly phase: number; readonly selection: Select.Selection } | undefined
    const writeCheckpoint = (position: Checkpoint.Position, done: number = position.step) =>
      Effect.gen(function* () {
        const kept =
          selecting && selecting.phase === position.phase
            ? Select.save(selecting.selection, selecting.phase)
            : undefined
        const snap = yield* Effect.promise(() =>
          Checkpoint.capture(
            state,
            {
              pipeline: Codec.encode(pipeline),
              options: { seed },
              position,
              finished,
              ...(kept ? { selection: kept.saved } : {}),
            },
            kept?.tensors,
          ),
        )
        yield* Checkpoint.save(ckptPath, snap).pipe(
          Effect.mapError(
            (e) =>
              new IoError({
                ...e,
                message:
                  `could not write the checkpoint: ${describeFsError(e.cause)}; ` +
                  (lastGood === undefined
                    ? "no checkpoint of this run was written yet"
                    : `the last good checkpoint (${lastGood}) is intact: free some space and continue with --resume ${dir}`),
              }),
          ),
        )
        lastGood = where(position)
        yield* emit(Event.checkpointed({ path: ckptPath, step: done }))
      })

    for (let pi = start.phase; pi < pipeline.phases.length; pi++) {
      const phase = pipeline.phases[pi]!
      const phaseStarted = performance.now()
      const resumingHere = snapshot !== undefined && pi === start.phase
      // On resume, build the models the run had built so far, then overwrite them from the checkpoint.
      if (resumingHere) {
        for (let pj = 0; pj <= pi; pj++)
          yield* prepareModels(pipeline, pipeline.phases[pj]!, pj, state, seed, build)
        yield* prepareProjections(pipeline, pi, state, dataset, snapshot!)
        Checkpoint.restore(state, snapshot!)
      } else yield* prepareModels(pipeline, phase, pi, state, seed, build)

      // a data-free phase (its step starts from noise, never reading x or y) draws no training
      // images: its epoch is `data.limit` generated samples (default: as many as the training split)
      const dataFree = !StepDsl.readsBatch(phase.step)
      if (dataFree && (phase.data.classes !== undefined || phase.data.domains !== undefined))
        return yield* Effect.fail(
          new ValidationError({
            issues: [
              {
                path: `phases[${pi}].data`,
                message:
                  "the phase is data-free (its step reads neither x nor y): data.classes and data.domains select training images it never reads; remove them (data.limit sets the samples per epoch)",
              },
            ],
          }),
        )
      // a phase restricted to some domains (leave-one-domain-out) sees only their samples
      const domainSel =
        !dataFree && labelled && phase.data.domains !== undefined
          ? Domains.select(dataset.train, labelled.domains.train, phase.data.domains)
          : labelled
            ? { split: dataset.train, domains: labelled.domains.train }
            : undefined
      const domainPool = domainSel?.split ?? dataset.train
      // a phase restricted to some classes (few-shot base classes) sees only their images
      const pool =
        !dataFree && phase.data.classes !== undefined
          ? yield* FewShotRun.onlyClasses(
              domainPool,
              phase.data.classes,
              dataset.classes,
              `phases[${pi}].data.classes`,
            )
          : domainPool
      const train =
        !dataFree && phase.data.limit !== undefined
          ? yield* Dataset.subset(pool, Math.min(phase.data.limit, pool.n))
          : pool
      // the samples an epoch visits: the training images, or a data-free phase's generated ones
      const epochSize = dataFree ? (phase.data.limit ?? pool.n) : train.n
      // the domain of each training sample (a class filter reorders them: no labels then)
      const trainDomains =
        domainSel && phase.data.classes === undefined ? domainSel.domains.subarray(0, train.n) : undefined
      const plan = Compute.plan(phase, epochSize, options.maxSteps)
      const visits = plan.perEpoch.reduce((n, e) => n + e.steps * e.batchSize, 0)
      const cache =
        !dataFree && options.teacherCache !== false && visits > 1.5 * train.n
          ? yield* TeacherCache.make(phase, state, train, dataset.shape, dataset.classes)
          : undefined
      if (cache?.note) yield* emit(Event.note({ level: "info", message: cache.note }))
      const compiled = CompiledStep.compile(phase, pi, state, dataset.classes, cache?.cache)
      yield* emit(
        Event.phaseStarted({
          phase: phase.name,
          index: pi,
          epochs: plan.perEpoch.length,
          steps: plan.total,
          models: [...modelsOf(pipeline, phase)],
        }),
      )
      let step = resumingHere ? start.step : 0
      let lastEval: Record<string, Record<string, number>> | undefined
      const logEvery = Math.max(1, options.logEvery ?? 20)
      const ckptEvery = options.checkpointEvery ?? pipeline.checkpointEvery ?? 500
      let windowStart = performance.now()
      let lastBreath = performance.now()
      let windowImages = 0
      const dataSeed = Rng.derive(seed, "data", pi) >>> 0
      const selection = phase.evaluate.select
        ? Select.make(phase.evaluate.select, [...modelsOf(pipeline, phase)])
        : undefined
      if (selection && resumingHere && snapshot!.header.selection?.phase === pi)
        Select.resume(selection, snapshot!.header.selection, snapshot!.tensors)
      selecting = selection ? { phase: pi, selection } : undefined
      for (let e = resumingHere ? start.epoch : 0; e < plan.perEpoch.length; e++) {
        const { batchSize, steps: epochSteps } = plan.perEpoch[e]!
        const order = dataFree ? undefined : Batches.plan(train.n, { batchSize, seed: dataSeed, epoch: e })
        const firstBatch = resumingHere && e === start.epoch ? start.batchIndex : 0
        for (let b = firstBatch; b < epochSteps; b++) {
          // a data-free step gets an image-less batch of the planned size (the last one may be short)
          const batch: CompiledStep.Batch = order
            ? (() => {
                const indices = order[b]!
                const gathered = Batches.gather(train, indices)
                const k = indices.length
                return {
                  x: tf.tensor4d(gathered.x, [k, h, w, c]),
                  labels: tf.tensor1d(gathered.y, "int32"),
                  indices,
                  ...(trainDomains ? { domains: Int32Array.from(indices, (q) => trainDomains[q]!) } : {}),
                }
              })()
            : CompiledStep.emptyBatch(Math.min(batchSize, epochSize - b * batchSize))
          const { x, labels } = batch
          const k = labels.shape[0]
          const clock = hyperClock(step, plan.total, plan.stepsPerEpoch)
          const isLast = step + 1 === plan.total
          const wantMetrics = (step + 1) % logEvery === 0 || isLast
          const result = compiled.run(batch, {
            clock,
            seed: Rng.derive(seed, "step", pi, step) >>> 0 || 1,
            endOfEpoch: b === epochSteps - 1,
            epochIndex: e,
            metrics: wantMetrics,
          })
          x.dispose()
          labels.dispose()
          step++
          totalSteps++
          windowImages += k
          if (wantMetrics) {
            const values: Record<string, number> = {}
            for (const [name, t] of Object.entries(result.losses))
              values[name] = yield* Effect.promise(() => backend.readScalar(t))
            for (const t of new Set(Object.values(result.losses))) t.dispose()
            const loss = values.loss ?? Object.values(values)[0] ?? Number.NaN
            if (!Number.isFinite(loss))
              return yield* Effect.fail(
                new TrainingError({
                  message: `the loss became ${loss} at phase "${phase.name}", step ${step}; stopping. ${existsSync(ckptPath) ? `The last good checkpoint is ${ckptPath}.` : "No checkpoint was written yet."} Lower the learning rate or enable clipping (clipNorm).`,
                  ...(existsSync(ckptPath) ? { checkpoint: ckptPath } : {}),
                }),
              )
            const now = performance.now()
            // learned hyper-parameters (their constrained values) are reported as learned.<name>
            const hyper: Record<string, number> = { ...compiled.hyper(clock) }
            for (const [name, t] of Object.entries(result.learned ?? {})) {
              hyper[`learned.${name}`] = yield* Effect.promise(() => backend.readScalar(t))
              t.dispose()
            }
            yield* emit(
              Event.stepMetrics({
                phase: phase.name,
                step,
                epoch: e,
                loss,
                terms: Object.fromEntries(Object.entries(values).filter(([n]) => n !== "loss")),
                ...(hyper.lr !== undefined ? { lr: hyper.lr } : {}),
                imagesPerSec: (windowImages * 1000) / Math.max(1e-3, now - windowStart),
                hyper,
              }),
            )
            windowStart = now
            windowImages = 0
          } else {
            for (const t of new Set(Object.values(result.losses))) t.dispose()
            for (const t of Object.values(result.learned ?? {})) t.dispose()
          }
          const position = () =>
            b + 1 < epochSteps
              ? { phase: pi, epoch: e, batchIndex: b + 1, step }
              : { phase: pi, epoch: e + 1, batchIndex: 0, step }
          // Let the event loop breathe every ~50 ms: signal handlers (Ctrl-C), timers and I/O only
          // run between macrotasks, and a synchronous step loop would otherwise starve them.
          if (performance.now() - lastBreath > 50) {
            yield* Effect.promise(() => new Promise<void>((r) => setImmediate(r)))
            lastBreath = performance.now()
          }
          if (options.signal?.aborted) {
            yield* writeCheckpoint(position())
            return yield* Effect.fail(
              new Interrupted({
                message: `interrupted at phase "${phase.name}", step ${step}; resume with --resume ${dir}`,
                checkpoint: ckptPath,
              }),
            )
          }
          if (options.stopAfter !== undefined && totalSteps >= options.stopAfter) {
            yield* writeCheckpoint(position())
            return yield* Effect.fail(
              new Interrupted({
                message: `stopped after ${totalSteps} steps (stopAfter)`,
                checkpoint: ckptPath,
              }),
            )
          }
          if (ckptEvery > 0 && step % ckptEvery === 0 && !isLast) yield* writeCheckpoint(position())
        }
        const epochsDone = e + 1
        if (
          epochsDone % Math.max(1, Math.round(phase.evaluate.every)) === 0 ||
          epochsDone === plan.perEpoch.length
        ) {
          lastEval = yield* evaluate(phase, state, dataset, options, seed, pi, labelled)
          for (const [split, metrics] of Object.entries(lastEval))
            yield* emit(Event.evalResult({ phase: phase.name, split, epoch: epochsDone, step, metrics }))
          if (selection) Select.offer(selection, state, lastEval, epochsDone)
        }
      }
      cache?.dispose()
      if (!lastEval) lastEval = yield* evaluate(phase, state, dataset, options, seed, pi, labelled)
      // model selection (e.g. on a training-domain validation split): restore the chosen weights
      if (selection) {
        Select.offer(selection, state, lastEval, plan.perEpoch.length)
        lastEval = Select.restore(selection, state) ?? lastEval
        selecting = undefined
      }
      const metrics: Record<string, number> = { ...flattenMetrics(lastEval) }
      // the learned hyper-parameters where the phase left them
      for (const [name, slot] of state.learned) {
        const [u] = yield* Effect.promise(() => slot.variable.data())
        metrics[`learned/${name}`] = Learned.value(slot.param, u!)
      }
      finished.push({ phase: phase.name, metrics })
      yield* emit(
        Event.phaseFinished({
          phase: phase.name,
          seconds: (performance.now() - phaseStarted) / 1000,
          metrics,
        }),
      )
      yield* writeCheckpoint({ phase: pi + 1, epoch: 0, batchIndex: 0, step: 0 }, step)
    }
    const seconds = (performance.now() - started) / 1000
    yield* emit(
      Event.runFinished({ seconds, summary: finished.map((f) => ({ phase: f.phase, metrics: f.metrics })) }),
    )
    return { dir, backend: backend.name, phases: finished, seconds, state, dataset }
  })

/** On resume, hint projections must exist before restoring them: create them with the checkpoint's shapes. */
const prepareProjections = (
  _pipeline: Pipeline.Pipeline,
  _phase: number,
  state: State.TrainState,
  _dataset: Dataset.Dataset,
  snapshot: Checkpoint.Snapshot,
) =>
  Effect.sync(() => {
    for (const [key, t] of snapshot.tensors) {
      const m = /^projection\/(.+)\/kernel$/.exec(key)
      if (!m || state.projections.has(m[1]!)) continue
      const bias = snapshot.tensors.get(`projection/${m[1]}/bias`)!
      state.projections.set(m[1]!, {
        kernel: tf.variable(tf.zeros([...t.shape]), true),
        bias: tf.variable(tf.zeros([...bias.shape]), true),
      })
    }
    // running class prototypes of prototype losses, likewise
    for (const [key, t] of snapshot.tensors) {
      const m = /^prototype\/(.+)\/sum$/.exec(key)
      if (!m || state.prototypes.has(m[1]!)) continue
      const count = snapshot.tensors.get(`prototype/${m[1]}/count`)!
      state.prototypes.set(m[1]!, {
        sum: tf.variable(tf.zeros([...t.shape]), false),
        count: tf.variable(tf.zeros([...count.shape]), false),
        updatedAt: -1,
      })
    }
  })

/**
 * The services a run needs, from its options: the backend, the data loader and the reporter
 * (console + `events.jsonl` + plots in the run directory, unless replaced).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: RunOptions & { readonly dir?: string },
): Layer.Layer<Backend | Data | Reporter, BackendError | IoError> =>
  Layer.mergeAll(
    Backend.layer({
      kind: options.backend ?? "auto",
      ...(options.native !== undefined ? { native: options.native } : {}),
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
    }),
    Data.layer,
    options.reporter ??
      Reporter.auto({
        ...(options.dir !== undefined ? { dir: options.dir } : {}),
        quiet: options.quiet ?? false,
      }),
  )

/**
 * Run a pipeline: validate it, then train and evaluate every phase, reporting progress and
 * writing `runs/<name>/` (events.jsonl, plots, checkpoint.bin, pipeline.json). Fails with a typed
 * error — before training starts whenever the problem can be seen then.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { run } from "retort"
 * declare const pipeline: import("retort/dsl").Pipeline.Pipeline
 * const result = await Effect.runPromise(run(pipeline, { backend: "wasm", maxSteps: 10, quiet: true }))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  pipeline: Pipeline.Pipeline,
  options: RunOptions = {},
): Effect.Effect<Omit<RunResult, "state">, RunError> => {
  // the directory is claimed (checked and locked) before the reporter opens its event log there
  return Effect.scoped(
    Effect.gen(function* () {
      const claim = yield* claimDir(pipeline, options)
      // the run's own resources are released before its services (the backend), the lock last
      const { state: _state, ...rest } = yield* Effect.scoped(runClaimed(pipeline, options, claim)).pipe(
        Effect.provide(layer({ ...options, dir: claim.dir })),
      )
      return rest
    }),
  )
}
