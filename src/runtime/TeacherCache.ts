/**
 * The teacher-output cache: when a phase runs a frozen model on the un-augmented batch (the
 * teacher of plain distillation), its logits depend only on the sample, so they are computed
 * once per training sample at the start of the phase — in large evaluation batches, read back
 * asynchronously — and each step gathers its batch's rows instead of running the teacher.
 *
 * It is an optimisation behind `TeacherCache` (`src/compile/step.ts`): which forwards qualify is
 * decided by `cacheableForwards`, the runner builds a cache only when the phase visits its
 * samples more than 1.5 times (otherwise computing the table costs as much as it saves), and
 * `run(…, { teacherCache: false })` / `retort run --no-teacher-cache` turns it off. The cached
 * logits equal the step's own up to float rounding (a different batch size may sum in another
 * order); a run with and without the cache is seeded identically otherwise.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as TeacherCache from "./src/runtime/TeacherCache.js"
 * declare const phase: import("./dsl/Phase.js").Phase
 * declare const state: import("./src/compile/state.js").TrainState
 * declare const train: import("./src/data/Dataset.js").Split
 * const made = Effect.runPromise(TeacherCache.make(phase, state, train, [28, 28, 1], 10))
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import type * as Phase from "../../dsl/Phase.js"
import type { TrainState } from "../compile/state.js"
import { cacheableForwards, type TeacherCache } from "../compile/step.js"
import type * as Dataset from "../data/Dataset.js"
import * as Predict from "../models/Predict.js"

/**
 * A built cache: the interface the compiled step reads, a note for the user (what was cached,
 * how big, how long it took), and `dispose`.
 *
 * @example
 * ```ts
 * import * as TeacherCache from "./src/runtime/TeacherCache.js"
 * declare const made: TeacherCache.Made
 * made.note // "teacher outputs cached: teacher on 5,000 samples (0.2 MB, 1.1 s)"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Made {
  readonly cache: TeacherCache
  readonly note: string | undefined
  readonly dispose: () => void
}

/** Above this many cached floats per phase (≈ 400 MB) the cache is not built. */
const MAX_VALUES = 100_000_000
const BATCH = 500

/**
 * Builds the cache of a phase over its training split `train` (the images the phase's batches
 * index into): one table of logits per cacheable model. `undefined` when nothing qualifies.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as TeacherCache from "./src/runtime/TeacherCache.js"
 * declare const phase: import("./dsl/Phase.js").Phase
 * declare const state: import("./src/compile/state.js").TrainState
 * declare const train: import("./src/data/Dataset.js").Split
 * const program = Effect.map(TeacherCache.make(phase, state, train, [32, 32, 3], 10), (m) => m?.note)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  phase: Phase.Phase,
  state: TrainState,
  train: Dataset.Split,
  shape: readonly [number, number, number],
  classes: number,
): Effect.Effect<Made | undefined> =>
  Effect.gen(function* () {
    const forwards = cacheableForwards(phase)
    if (forwards.length === 0 || train.n === 0) return undefined
    const models = [...new Set(forwards.map((f) => f.model))]
    if (train.n * classes * models.length > MAX_VALUES) return undefined
    const started = performance.now()
    const tables = new Map<string, Float32Array>()
    for (const m of models) {
      const slot = state.models.get(m)
      if (!slot) return undefined
      const table = yield* Predict.logits(slot.built, train, shape, {
        params: slot.params,
        state: slot.state,
        batch: BATCH,
      })
      // a model whose outputs are not `classes` wide is not a teacher of this phase's student
      if (table.length !== train.n * classes) return undefined
      tables.set(m, table)
    }
    const byStage = new Map(forwards.map((f) => [f.index, tables.get(f.model)!]))
    const cache: TeacherCache = {
      logits: (stageIndex, indices) => {
        const table = byStage.get(stageIndex)
        if (table === undefined) return undefined
        const out = new Float32Array(indices.length * classes)
        for (let r = 0; r < indices.length; r++) {
          const j = indices[r]!
          out.set(table.subarray(j * classes, (j + 1) * classes), r * classes)
        }
        return tf.tensor2d(out, [indices.length, classes])
      },
    }
    const seconds = (performance.now() - started) / 1000
    const mb = (train.n * classes * models.length * 4) / 1e6
    return {
      cache,
      note: `teacher outputs cached: ${models.join(", ")} on ${train.n.toLocaleString("en")} samples (${mb.toFixed(1)} MB, ${seconds.toFixed(1)} s); --no-teacher-cache turns this off`,
      dispose: () => tables.clear(),
    }
  })
