/**
 * Shared set-up for the recipe tests: tiny data and models, a run that keeps its events and a
 * snapshot of the whole training state after every step (through the checkpoints the run writes),
 * and helpers to drive a compiled step directly while observing every forward pass.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Layer, Result } from "effect"
import { expect } from "vitest"
import { Codec, Model, type Optimizer, type Phase, type Pipeline, Step } from "../../dsl/index.js"
import { make as makeBackend } from "../../src/backend/Backend.js"
import * as State from "../../src/compile/state.js"
import * as CompiledStep from "../../src/compile/step.js"
import * as Models from "../../src/models/index.js"
import type * as Event from "../../src/report/Event.js"
import { Reporter } from "../../src/report/Reporter.js"
import * as Checkpoint from "../../src/runtime/Checkpoint.js"
import { layer, type RunOptions, type RunResult, runWith } from "../../src/runtime/Run.js"
import { synthetic } from "../support/data.js"

/** 64 training and 32 test images of the synthetic band data set (28×28×1, 10 classes). */
export const data = synthetic({ train: 64, test: 32 })

/** Tiny models of each kind the recipes use (28×28×1 inputs, 10 classes). */
export const tiny = {
  mlp: (dropout?: number) =>
    Model.mlp({ hidden: [16], classes: 10, ...(dropout !== undefined ? { dropout } : {}) }),
  /** conv 4 → conv 4 → dense 8: taps conv0, conv1, flat, dense0, like the W2 CNN. */
  cnn: (options: { readonly batchNorm?: boolean } = {}) =>
    Model.cnn({ conv: [{ filters: 4 }, { filters: 4 }], dense: [8], classes: 10, ...options }),
  /** stem 4 (stride 2) → two blocks of 4, drop-path 0.2 / 0.3, optional exits. */
  resnet: (exits?: ReadonlyArray<Model.Exit>) =>
    Model.resnet({
      stem: { filters: 4, stride: 2 },
      blocks: [{ filters: 4 }, { filters: 4 }],
      dropPath: [0.2, 0.3],
      classes: 10,
      ...(exits !== undefined ? { exits } : {}),
    }),
  /** A one-block ViT on 7×7 patches with a distillation token. */
  vit: () =>
    Model.vit({
      patch: 7,
      dim: 8,
      depth: 1,
      heads: 2,
      mlpRatio: 2,
      classes: 10,
      distillToken: true,
      dropPath: 0.1,
    }),
}

/** The recipe with its models replaced (same names) and every phase's batch size set. */
export const shrink = (
  p: Pipeline.Pipeline,
  models: Readonly<Record<string, Model.Model>>,
  options: { readonly batchSize?: number } = {},
): Pipeline.Pipeline => ({
  ...p,
  models: { ...p.models, ...models },
  phases: p.phases.map((ph) => ({ ...ph, batchSize: options.batchSize ?? 16 })),
})

/** Asserts that a pipeline validates and returns it. */
export const valid = (p: Pipeline.Pipeline): Pipeline.Pipeline => {
  const r = Codec.validate(p)
  if (Result.isFailure(r)) throw new Error(JSON.stringify(r.failure.issues))
  // and round-trips through JSON
  const back = Codec.fromJson(Codec.toJson(p))
  expect(Result.isSuccess(back)).toBe(true)
  return p
}

/** The training state captured by a checkpoint: `model/<name>/params/<path>` → values. */
export type Tensors = ReadonlyMap<
  string,
  { readonly shape: ReadonlyArray<number>; readonly values: Float32Array }
>

/** A snapshot of the state after a step (or at the end of a phase). */
export interface Snapshot {
  readonly phase: string
  /** Steps done in the phase. */
  readonly step: number
  /** `true` for the checkpoint written when the phase finished (after its evaluation). */
  readonly phaseEnd: boolean
  readonly tensors: Tensors
}

/** What a run left behind for a test. */
export interface Observed<A> {
  readonly events: ReadonlyArray<Event.Event>
  readonly snapshots: ReadonlyArray<Snapshot>
  readonly phases: RunResult["phases"]
  /** What `inspect` returned (computed while the run's state was alive). */
  readonly inspected: A
  readonly seconds: number
}

/**
 * Runs a pipeline on the tiny data and keeps its events; with `snapshots`, a checkpoint is
 * written after every step and read back at once, so the test sees the parameters after each
 * step and at every phase end. `inspect` runs inside the run's scope, with the live state.
 */
export const observe = async <A = undefined>(
  pipeline: Pipeline.Pipeline,
  options: RunOptions & {
    readonly snapshots?: boolean
    readonly inspect?: (result: RunResult) => A | Promise<A>
  } = {},
): Promise<Observed<A>> => {
  const events: Array<Event.Event> = []
  const snapshots: Array<Snapshot> = []
  let phase = ""
  const phaseSteps = new Map<string, number>()
  const reporter = Layer.succeed(Reporter, {
    emit: (e: Event.Event) =>
      Effect.sync(() => {
        events.push(e)
        if (e._tag === "PhaseStarted") {
          phase = e.phase
          phaseSteps.set(e.phase, e.steps)
        }
        if (e._tag === "Checkpointed" && options.snapshots) {
          const snap = Effect.runSync(Checkpoint.load(e.path))
          const phaseEnd = snap.header.position.step === 0 && snap.header.position.phase > 0
          snapshots.push({ phase, step: e.step, phaseEnd, tensors: snap.tensors })
        }
      }),
    close: Effect.void,
  })
  const { snapshots: wantSnapshots, inspect, ...rest } = options
  const outDir = mkdtempSync(join(tmpdir(), "retort-recipe-"))
  const opts: RunOptions = {
    backend: "wasm",
    data,
    outDir,
    evalLimit: 32,
    logEvery: 1,
    ...rest,
    checkpointEvery: wantSnapshots ? 1 : 0,
    reporter,
  }
  const started = performance.now()
  const program = Effect.gen(function* () {
    const r = yield* runWith(pipeline, opts)
    const inspected = inspect ? yield* Effect.promise(async () => inspect(r)) : (undefined as A)
    return { phases: r.phases, inspected }
  })
  const out = await Effect.runPromise(Effect.scoped(program).pipe(Effect.provide(layer(opts)))).finally(() =>
    rmSync(outDir, { recursive: true, force: true }),
  )
  return { events, snapshots, ...out, seconds: (performance.now() - started) / 1000 }
}

/** Events of one kind. */
export const ofTag = <T extends Event.Event["_tag"]>(events: ReadonlyArray<Event.Event>, tag: T) =>
  events.filter((e): e is Extract<Event.Event, { _tag: T }> => e._tag === tag)

/** Every step's loss and its terms are finite. */
export const expectFiniteLosses = (events: ReadonlyArray<Event.Event>): void => {
  const steps = ofTag(events, "StepMetrics")
  expect(steps.length).toBeGreaterThan(0)
  for (const s of steps) {
    expect(Number.isFinite(s.loss)).toBe(true)
    for (const v of Object.values(s.terms)) expect(Number.isFinite(v)).toBe(true)
  }
}

/** The parameters (`params`) of a model in a snapshot, by path. */
export const paramsOf = (
  t: Tensors,
  model: string,
  kind: "params" | "state" = "params",
): Map<string, Float32Array> => {
  const prefix = `model/${model}/${kind}/`
  const out = new Map<string, Float32Array>()
  for (const [k, v] of t) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v.values)
  return out
}

/** Largest absolute difference between two parameter maps of the same shape. */
export const maxDiff = (
  a: ReadonlyMap<string, Float32Array>,
  b: ReadonlyMap<string, Float32Array>,
): number => {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort())
  let m = 0
  for (const [k, x] of a) {
    const y = b.get(k)!
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!))
  }
  return m
}

/** Selects the wasm backend with Retort's kernels (for driving compiled steps directly). */
export const useWasm = async (): Promise<void> => {
  await Effect.runPromise(Effect.scoped(makeBackend({ kind: "wasm" })))
}

/** One call of a model's `apply` seen by {@link watch}. */
export interface Call {
  readonly model: string
  readonly options: Models.ApplyOptions
  /** Random masks drawn, by name (`dropout/hidden0`, `dropPath/block1`, `channelDrop/conv0`), as arrays. */
  readonly masks: ReadonlyMap<
    string,
    { readonly shape: ReadonlyArray<number>; readonly values: Float32Array }
  >
  /** Every head's output, as arrays (`logits`, `exit0`, `dist`, …). */
  readonly heads: Readonly<Record<string, Float32Array>>
  /** The requested taps, as arrays. */
  readonly taps: Readonly<Record<string, Float32Array>>
}

/**
 * Builds the named models into a fresh training state, with each model's `apply` wrapped so
 * that every forward pass is recorded (options, masks, outputs).
 */
export const watchedState = (
  models: Readonly<Record<string, Model.Model>>,
  seed = 1,
): { readonly state: State.TrainState; readonly calls: Array<Call>; readonly dispose: () => void } => {
  const state = State.empty()
  const calls: Array<Call> = []
  let i = 0
  for (const [name, m] of Object.entries(models)) {
    const built = Effect.runSync(Models.build(m, { seed: seed + i++ }))
    const apply: Models.Built["apply"] = (params, x, options) => {
      const masks = new Map<string, { shape: ReadonlyArray<number>; values: Float32Array }>()
      const out = built.apply(params, x, {
        ...options,
        record: (k, mask) => {
          masks.set(k, { shape: mask.shape, values: mask.dataSync() as Float32Array })
          options.record?.(k, mask)
        },
      })
      const heads: Record<string, Float32Array> = {}
      for (const [h, t] of Object.entries(out.heads)) heads[h] = t.dataSync() as Float32Array
      const taps: Record<string, Float32Array> = {}
      for (const [h, t] of Object.entries(out.taps)) taps[h] = t.dataSync() as Float32Array
      calls.push({ model: name, options, masks, heads, taps })
      return out
    }
    state.models.set(name, { name, built: { ...built, apply }, params: built.params, state: built.state })
  }
  return {
    state,
    calls,
    dispose: () => {
      for (const slot of state.models.values()) slot.built.dispose()
      for (const o of state.optimizers.values())
        for (const list of Object.values(o.slots)) for (const v of list) v.dispose()
      for (const p of state.projections.values()) {
        p.kernel.dispose()
        p.bias.dispose()
      }
    },
  }
}

/**
 * The phase with only the named loss terms (weight 1 each) and its optimiser replaced: to see
 * where the gradient of one term goes (with plain SGD at lr 1, a parameter's change is minus
 * its gradient).
 */
export const onlyTerms = (
  phase: Phase.Phase,
  terms: ReadonlyArray<string>,
  optimizer: Optimizer.Optimizer,
): Phase.Phase => ({
  ...phase,
  step: Step.make(
    phase.step.stages.map((s) =>
      s._tag === "Loss"
        ? {
            ...s,
            terms: Object.fromEntries(terms.map((k) => [k, s.terms[k]!])),
            weights: Object.fromEntries(terms.map((k) => [k, 1])),
          }
        : s._tag === "Optimize"
          ? { ...s, optimizer }
          : s,
    ),
  ),
})

/** The first `n` training images and labels as a batch. */
export const batch = (n = 16, offset = 0): CompiledStep.Batch => ({
  x: tf.tensor4d(data.train.x.subarray(offset * 784, (offset + n) * 784), [n, 28, 28, 1]),
  labels: tf.tensor1d(data.train.y.subarray(offset, offset + n), "int32"),
})

/** Runs `steps` steps of a phase's compiled step on one batch; returns each step's losses as numbers. */
export const runSteps = (
  phase: Phase.Phase,
  state: State.TrainState,
  steps: number,
  options: { readonly total?: number; readonly batch?: CompiledStep.Batch } = {},
): Array<Record<string, number>> => {
  const compiled = CompiledStep.compile(phase, 0, state, 10)
  const b = options.batch ?? batch()
  const total = options.total ?? steps
  const out: Array<Record<string, number>> = []
  for (let i = 0; i < steps; i++) {
    const r = compiled.run(b, {
      clock: { step: i, epoch: 0, progress: i / total },
      seed: 100 + i,
      endOfEpoch: false,
      metrics: true,
    })
    const values: Record<string, number> = {}
    for (const [k, t] of Object.entries(r.losses)) values[k] = t.dataSync()[0]!
    for (const t of new Set(Object.values(r.losses))) t.dispose()
    out.push(values)
  }
  if (!options.batch) {
    b.x.dispose()
    b.labels.dispose()
  }
  return out
}

/** The values of a model's parameters now, by path. */
export const liveParams = (state: State.TrainState, model: string): Map<string, Float32Array> =>
  new Map(
    Object.entries(Models.Tree.flatten(state.models.get(model)!.params)).map(([k, v]) => [
      k,
      Float32Array.from(v.dataSync() as Float32Array),
    ]),
  )

/** Row-wise softmax of `[n, k]` logits stored flat. */
export const softmaxRows = (logits: Float32Array, k: number): Float64Array => {
  const out = new Float64Array(logits.length)
  for (let r = 0; r < logits.length / k; r++) {
    let m = Number.NEGATIVE_INFINITY
    for (let j = 0; j < k; j++) m = Math.max(m, logits[r * k + j]!)
    let s = 0
    for (let j = 0; j < k; j++) s += Math.exp(logits[r * k + j]! - m)
    for (let j = 0; j < k; j++) out[r * k + j] = Math.exp(logits[r * k + j]! - m) / s
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Float64 references of the losses
// ---------------------------------------------------------------------------------------------

/** `[n, k]` values stored flat, as rows. */
export const rows = (flat: ArrayLike<number>, k = 10): Array<Array<number>> =>
  Array.from({ length: flat.length / k }, (_, r) => Array.from({ length: k }, (_, j) => flat[r * k + j]!))

const sum = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a + b, 0)
const mean = (xs: ReadonlyArray<number>): number => sum(xs) / xs.length

/** log softmax of a row. */
export const logSoftmax = (r: ReadonlyArray<number>): Array<number> => {
  const m = Math.max(...r)
  const lse = m + Math.log(sum(r.map((x) => Math.exp(x - m))))
  return r.map((x) => x - lse)
}

/** softmax of a row. */
export const softmax = (r: ReadonlyArray<number>): Array<number> => logSoftmax(r).map(Math.exp)

/** index of the largest value. */
export const argmax = (r: ReadonlyArray<number>): number => r.indexOf(Math.max(...r))

/** Cross-entropy of logits rows against integer labels, batch mean. */
export const crossEntropy = (
  logits: ReadonlyArray<ReadonlyArray<number>>,
  labels: ArrayLike<number>,
): number => mean(logits.map((r, i) => -logSoftmax(r)[labels[i]!]!))

/** `T²·KL(softmax(t/T) ‖ softmax(s/T))` (forward) or the reverse, batch mean. */
export const kl = (
  teacher: ReadonlyArray<ReadonlyArray<number>>,
  student: ReadonlyArray<ReadonlyArray<number>>,
  T = 1,
  direction: "forward" | "reverse" = "forward",
): number =>
  T *
  T *
  mean(
    teacher.map((t, i) => {
      const lt = logSoftmax(t.map((v) => v / T))
      const ls = logSoftmax(student[i]!.map((v) => v / T))
      const [lp, lq] = direction === "forward" ? [lt, ls] : [ls, lt]
      return sum(lp.map((l, j) => Math.exp(l) * (l - lq[j]!)))
    }),
  )

/**
 * Where the gradient of a two-forward loss goes: with `student` and `teacher` the options of two
 * recorded forward passes of one model, the gradient of `loss(studentLogits, teacherLogits)`
 * with respect to the parameters, once with the teacher's output held constant (stop-gradient)
 * and once differentiated through both passes.
 */
export const twoPassGradients = (
  built: Models.Built,
  params: Models.Tree.Tree<tf.Variable>,
  x: tf.Tensor,
  student: Models.ApplyOptions,
  teacher: Models.ApplyOptions,
  loss: (s: tf.Tensor, t: tf.Tensor) => tf.Scalar,
): { readonly detached: Map<string, Float32Array>; readonly through: Map<string, Float32Array> } => {
  const flat = Models.Tree.flatten(params)
  const names = new Map(Object.entries(flat).map(([k, v]) => [v.name, k]))
  const plain = (o: Models.ApplyOptions): Models.ApplyOptions => {
    const { record: _record, ...rest } = o
    return { ...rest, updateStats: false }
  }
  const grads = (f: () => tf.Scalar): Map<string, Float32Array> => {
    const { value, grads: g } = tf.variableGrads(f, Object.values(flat))
    const out = new Map(
      Object.entries(g).map(([k, v]) => [names.get(k)!, Float32Array.from(v.dataSync() as Float32Array)]),
    )
    value.dispose()
    for (const t of Object.values(g)) t.dispose()
    return out
  }
  const fixed = tf.tidy(() => built.apply(params, x, plain(teacher)).logits)
  const detached = grads(() => loss(built.apply(params, x, plain(student)).logits, fixed))
  const through = grads(() =>
    loss(built.apply(params, x, plain(student)).logits, built.apply(params, x, plain(teacher)).logits),
  )
  fixed.dispose()
  return { detached, through }
}

/** `before − after` per parameter (with SGD at lr 1: the gradient that was applied). */
export const applied = (
  before: ReadonlyMap<string, Float32Array>,
  after: ReadonlyMap<string, Float32Array>,
) => new Map([...before].map(([k, v]) => [k, v.map((x, i) => x - after.get(k)![i]!)]))

/** Largest |a − b| relative to the largest |b| over every parameter (a missing one counts as zeros). */
export const relativeDiff = (
  a: ReadonlyMap<string, Float32Array>,
  b: ReadonlyMap<string, Float32Array>,
): number => {
  let num = 0
  let den = 0
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(k) ?? new Float32Array(b.get(k)!.length)
    const y = b.get(k) ?? new Float32Array(x.length)
    for (let i = 0; i < y.length; i++) {
      num = Math.max(num, Math.abs(x[i]! - y[i]!))
      den = Math.max(den, Math.abs(y[i]!))
    }
  }
  return num / Math.max(den, 1e-30)
}
