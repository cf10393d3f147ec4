/**
 * Model selection within a phase (`Phase.Evaluate.select`): after each evaluation, keep a copy
 * of the weights of the models the phase changes when the selection metric is the best so far;
 * at the end, restore the kept copy. DomainBed's "training-domain validation" selection, over the
 * evaluations of one run.
 *
 * @example
 * ```ts
 * import * as Select from "./src/runtime/Select.js"
 * const sel = Select.make({ key: "validation/net/accuracy", mode: "max" }, ["net"])
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import type * as Phase from "../../dsl/Phase.js"
import type * as State from "../compile/state.js"
import * as Models from "../models/index.js"

/**
 * A running selection: the best value, its epoch and metrics, and the weights kept then.
 *
 * @since 0.1.0
 * @category models
 */
export interface Selection {
  readonly select: Phase.Select
  readonly models: ReadonlyArray<string>
  best: number
  epoch: number
  metrics: Record<string, Record<string, number>> | undefined
  kept: Map<string, tf.Tensor> | undefined
}

/**
 * A new selection over the given models.
 *
 * @example
 * ```ts
 * import * as Select from "./src/runtime/Select.js"
 * Select.make({ key: "validation/net/nll", mode: "min" }, ["net"]).best // Infinity
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (select: Phase.Select, models: ReadonlyArray<string>): Selection => ({
  select,
  models,
  best: select.mode === "max" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY,
  epoch: -1,
  metrics: undefined,
  kept: undefined,
})

const variables = (state: State.TrainState, models: ReadonlyArray<string>) => {
  const out: Array<[string, tf.Variable]> = []
  for (const m of models) {
    const slot = state.models.get(m)
    if (!slot) continue
    for (const [k, v] of Object.entries(Models.Tree.flatten(slot.params))) out.push([`${m}/p/${k}`, v])
    for (const [k, v] of Object.entries(Models.Tree.flatten(slot.state))) out.push([`${m}/s/${k}`, v])
  }
  return out
}

/**
 * Offers one evaluation (split → metrics, as the runner holds them) at `epoch`; keeps the weights
 * when its metric is strictly better than the best so far. A missing or non-finite metric is
 * never selected. Returns whether it was kept.
 *
 * @example
 * ```ts
 * import * as Select from "./src/runtime/Select.js"
 * declare const sel: Select.Selection
 * declare const state: import("./src/compile/state.js").TrainState
 * Select.offer(sel, state, { validation: { "net/accuracy": 0.9 } }, 1)
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const offer = (
  sel: Selection,
  state: State.TrainState,
  evaluation: Record<string, Record<string, number>>,
  epoch: number,
): boolean => {
  const cut = sel.select.key.indexOf("/")
  const value = evaluation[sel.select.key.slice(0, cut)]?.[sel.select.key.slice(cut + 1)]
  if (value === undefined || !Number.isFinite(value)) return false
  if (sel.select.mode === "max" ? !(value > sel.best) : !(value < sel.best)) return false
  sel.best = value
  sel.epoch = epoch
  sel.metrics = evaluation
  for (const t of sel.kept?.values() ?? []) t.dispose()
  sel.kept = new Map(variables(state, sel.models).map(([k, v]) => [k, tf.keep(tf.clone(v))]))
  return true
}

/**
 * Restores the kept weights (when any) and frees them; returns the selected evaluation with
 * `selected/epoch` added, or `undefined` when nothing was selected.
 *
 * @example
 * ```ts
 * import * as Select from "./src/runtime/Select.js"
 * declare const sel: Select.Selection
 * declare const state: import("./src/compile/state.js").TrainState
 * const chosen = Select.restore(sel, state)
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const restore = (
  sel: Selection,
  state: State.TrainState,
): Record<string, Record<string, number>> | undefined => {
  if (!sel.kept || !sel.metrics) return undefined
  for (const [k, v] of variables(state, sel.models)) {
    const t = sel.kept.get(k)
    if (t) v.assign(t)
  }
  for (const t of sel.kept.values()) t.dispose()
  sel.kept = undefined
  return { ...sel.metrics, selected: { epoch: sel.epoch } }
}

/**
 * What a checkpoint keeps of a selection in progress (the phase it belongs to, the best value,
 * its epoch and evaluation; the kept weights go in as tensors `select/<model>/<p|s>/<path>`),
 * so that a resumed run still chooses among the evaluations before the interruption.
 *
 * @example
 * ```ts
 * import * as Select from "./src/runtime/Select.js"
 * const s: Select.Saved = { phase: 0, best: 0.91, epoch: 2, metrics: { validation: { "net/accuracy": 0.91 } } }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Saved {
  readonly phase: number
  readonly best: number
  readonly epoch: number
  readonly metrics: Record<string, Record<string, number>>
}

/**
 * The checkpoint's view of a selection of phase `phase`: its {@link Saved} header part and its
 * kept tensors by checkpoint key; `undefined` before any evaluation was kept.
 *
 * @example
 * ```ts
 * import * as Select from "./src/runtime/Select.js"
 * declare const sel: Select.Selection
 * const saved = Select.save(sel, 0)
 * ```
 *
 * @since 0.1.0
 * @category checkpoints
 */
export const save = (
  sel: Selection,
  phase: number,
): { readonly saved: Saved; readonly tensors: ReadonlyMap<string, tf.Tensor> } | undefined =>
  sel.kept && sel.metrics
    ? {
        saved: { phase, best: sel.best, epoch: sel.epoch, metrics: sel.metrics },
        tensors: new Map([...sel.kept].map(([k, t]) => [`select/${k}`, t])),
      }
    : undefined

/**
 * Continues a selection from a checkpoint: the best value, epoch and evaluation from `saved`, and
 * the kept weights from the checkpoint's `select/…` tensors.
 *
 * @example
 * ```ts
 * import * as Select from "./src/runtime/Select.js"
 * declare const sel: Select.Selection
 * declare const snap: import("./src/runtime/Checkpoint.js").Snapshot
 * if (snap.header.selection) Select.resume(sel, snap.header.selection, snap.tensors)
 * ```
 *
 * @since 0.1.0
 * @category checkpoints
 */
export const resume = (
  sel: Selection,
  saved: Saved,
  tensors: ReadonlyMap<string, { readonly shape: ReadonlyArray<number>; readonly values: Float32Array }>,
): void => {
  sel.best = saved.best
  sel.epoch = saved.epoch
  sel.metrics = saved.metrics
  for (const t of sel.kept?.values() ?? []) t.dispose()
  sel.kept = new Map()
  for (const [key, t] of tensors)
    if (key.startsWith("select/"))
      sel.kept.set(key.slice("select/".length), tf.tensor(t.values, [...t.shape], "float32"))
}
