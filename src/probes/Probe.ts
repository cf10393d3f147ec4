/**
 * Probing a run end to end — what `retort probe` does: open the run directory
 * (`RunDir.open`), choose the samples, run one probe (an interpolation, a 2-D slice, or the
 * sharpness measures), write `probes/<name>.json`/`.svg`/`.png` into the run directory, and say
 * it in one line.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Data } from "./src/data/Data.js"
 * import * as Probe from "./src/probes/Probe.js"
 * const outcome = await Effect.runPromise(
 *   Probe.probe("runs/kd", { model: "student", kind: "sharpness", samples: 1000 }).pipe(Effect.provide(Data.layer)),
 * )
 * console.log(outcome.summary)
 * ```
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Data } from "../data/Data.js"
import type { IoError } from "../errors.js"
import type * as Direction from "./Direction.js"
import * as Landscape from "./Landscape.js"
import type * as Objective from "./Objective.js"
import * as Report from "./Report.js"
import * as RunDir from "./RunDir.js"
import * as Samples from "./Samples.js"
import * as Sharpness from "./Sharpness.js"

/**
 * The probes.
 *
 * @example
 * ```ts
 * import * as Probe from "./src/probes/Probe.js"
 * const k: Probe.Kind = "slice"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = "interpolate" | "slice" | "sharpness"

/**
 * The probe kinds, for command lines.
 *
 * @example
 * ```ts
 * import * as Probe from "./src/probes/Probe.js"
 * Probe.kinds.includes("sharpness") // true
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const kinds: ReadonlyArray<Kind> = ["interpolate", "slice", "sharpness"]

/**
 * Options of {@link probe}: where the model and data come from ({@link RunDir.OpenOptions}), the
 * samples (default 1,000 training images, `sampleSeed` 0), the head, which probe (`kind`,
 * default `"slice"`) and its settings, and the output (`name`, default
 * `Report.defaultName`; `png`, default true; `write: false` to write nothing).
 *
 * - interpolate: `with` — the point at α = 0, the model being at α = 1: `"init"` (default),
 *   another model of the run, or another run/checkpoint (see `RunDir.other`); `points`,
 *   `alphaRange`.
 * - slice: `steps`, `range` (half-width), `seed`, `normalization`.
 * - sharpness: `method`, `iterations`, `tolerance`, `step`, `epsilon`, `ascentSteps`, `seed`.
 *
 * @example
 * ```ts
 * import * as Probe from "./src/probes/Probe.js"
 * const o: Probe.Options = { model: "student", kind: "interpolate", with: "teacher", points: 31 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends RunDir.OpenOptions, Objective.DataOptions {
  readonly kind?: Kind
  readonly head?: string
  readonly with?: string
  readonly points?: number
  readonly alphaRange?: readonly [number, number]
  readonly steps?: number
  readonly range?: number
  readonly seed?: number
  readonly normalization?: Direction.Normalization
  readonly method?: Sharpness.Method
  readonly iterations?: number
  readonly tolerance?: number
  readonly step?: number
  readonly epsilon?: number
  readonly ascentSteps?: number
  readonly name?: string
  readonly png?: boolean
  readonly write?: boolean
}

/**
 * What {@link probe} did: the result, the files written, the one-line summary, and a note when
 * the data set is not the one the run named.
 *
 * @example
 * ```ts
 * import * as Probe from "./src/probes/Probe.js"
 * declare const o: Probe.Outcome
 * console.log(o.summary, o.files)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome {
  readonly result: Report.Result
  readonly files: ReadonlyArray<string>
  readonly summary: string
  readonly note?: string
}

const defined = <T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>
  }

/**
 * Probes a model of a run directory (see {@link Options}) and writes the result into
 * `<dir>/probes/`. Needs the `Data` service (and a tfjs backend already set, e.g. by
 * `Backend.layer`).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Backend } from "./src/backend/Backend.js"
 * import { Data } from "./src/data/Data.js"
 * import * as Probe from "./src/probes/Probe.js"
 * const program = Probe.probe("runs/kd", { model: "student", kind: "slice", steps: 21 }).pipe(
 *   Effect.provide(Layer.mergeAll(Backend.layer({ kind: "wasm" }), Data.layer)),
 * )
 * ```
 *
 * @since 0.1.0
 * @category probes
 */
export const probe = (
  dir: string,
  options: Options,
): Effect.Effect<Outcome, RunDir.OpenError | Objective.ProbeError | IoError, Data> =>
  Effect.scoped(
    Effect.gen(function* () {
      const opened = yield* RunDir.open(dir, options)
      const samples = yield* Samples.scoped(
        opened.dataset,
        defined({
          samples: options.samples,
          split: options.split,
          batchSize: options.batchSize,
          seed: options.sampleSeed,
        }),
      )
      const common = defined({ model: opened.model, head: options.head })
      const kind = options.kind ?? "slice"
      let result: Report.Result
      if (kind === "interpolate") {
        const from = yield* RunDir.other(opened, options.with ?? "init", defined({ models: options.models }))
        result = yield* Landscape.interpolate1d(opened.built, from.params, opened.built.params, samples, {
          ...common,
          endpoints: [from.label, opened.model],
          states: [from.state, opened.built.state],
          ...defined({ points: options.points, range: options.alphaRange }),
        })
      } else if (kind === "slice")
        result = yield* Landscape.slice2d(opened.built, opened.built.params, samples, {
          ...common,
          ...defined({
            steps: options.steps,
            range: options.range,
            seed: options.seed,
            normalization: options.normalization,
          }),
        })
      else
        result = yield* Sharpness.sharpness(opened.built, opened.built.params, samples, {
          ...common,
          ...defined({
            method: options.method,
            iterations: options.iterations,
            tolerance: options.tolerance,
            step: options.step,
            epsilon: options.epsilon,
            ascentSteps: options.ascentSteps,
            seed: options.seed,
          }),
        })
      const files =
        options.write === false
          ? []
          : yield* Report.write(dir, result, defined({ name: options.name, png: options.png }))
      return {
        result,
        files,
        summary: Report.summary(result),
        ...(opened.note !== undefined ? { note: opened.note } : {}),
      }
    }),
  )
