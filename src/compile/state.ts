/**
 * The mutable training state a compiled pipeline works on: built models and their parameters,
 * averaged copies (EMA/SWA), optimiser states, learned loss projections. Scoped: everything is
 * disposed when the run's scope closes.
 *
 * @since 0.1.0
 */
import type * as tf from "@tensorflow/tfjs-core"
import type * as Models from "../models/index.js"
import type { LearnedSlot } from "./learned.js"
import type { PrototypeSlot } from "./losses.js"
import type * as Optimizers from "./optimizers.js"

/**
 * A model slot: the built architecture and its current parameters and batch-norm state.
 *
 * @since 0.1.0
 * @category models
 */
export interface ModelSlot {
  readonly name: string
  readonly built: Models.Built
  readonly params: Models.Tree.Tree<tf.Variable>
  readonly state: Models.Tree.Tree<tf.Variable>
  /** `undefined` for a declared model; for an EMA/SWA copy, its source and how many snapshots it averages. */
  readonly average?: { readonly source: string; readonly kind: "Ema" | "Swa"; count: number }
}

/**
 * The whole state of a run between steps.
 *
 * @since 0.1.0
 * @category models
 */
export interface TrainState {
  readonly models: Map<string, ModelSlot>
  /** Optimiser states by `phaseIndex/stageIndex`. */
  readonly optimizers: Map<string, Optimizers.OptimizerState>
  /** Learned projections of hint losses by `phaseIndex/stageIndex/term`. */
  readonly projections: Map<string, { readonly kernel: tf.Variable; readonly bias: tf.Variable }>
  /** Learned hyper-parameters (the pipeline's `params`) by name. */
  readonly learned: Map<string, LearnedSlot>
  /** Running class prototypes of prototype losses by `phaseIndex/stageIndex/term`. */
  readonly prototypes: Map<string, PrototypeSlot>
}

/**
 * An empty state.
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty = (): TrainState => ({
  models: new Map(),
  optimizers: new Map(),
  projections: new Map(),
  learned: new Map(),
  prototypes: new Map(),
})
