/**
 * The step compiler: a `Step` description becomes one synchronous function that runs a whole
 * training step inside a single `tf.tidy` — no Effect machinery, no `await`, no `dataSync`.
 *
 * Stages are compiled by a handler table keyed by `_tag` (a stage kind without a handler does not
 * compile). Each handler turns its stage into a closure once, at compile time; the step function
 * is then a loop over closures.
 *
 * Gradients: every optimise stage differentiates its loss through the forward/loss/augment stages
 * since the previous update (its *segment*). Names written in an earlier segment are constants
 * in a later one. Two optimise stages in a row each recompute their segment (with the same random
 * masks), so the second sees the parameters the first one updated.
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Episodic from "../../dsl/Episodic.js"
import type * as Learned from "../../dsl/Learned.js"
import * as Loss from "../../dsl/Loss.js"
import type * as Phase from "../../dsl/Phase.js"
import * as Ramp from "../../dsl/Ramp.js"
import type * as Step from "../../dsl/Step.js"
import * as Augmentation from "../augment/index.js"
import "../backend/gradients.js"
import * as Rng from "../data/Rng.js"
import { ShapeError } from "../errors.js"
import * as Models from "../models/index.js"
import * as Learning from "./learned.js"
import * as Losses from "./losses.js"
import * as Noise from "./noise.js"
import * as Optimizers from "./optimizers.js"
import type { ModelSlot, TrainState } from "./state.js"
import * as Watermarking from "./watermark.js"

/**
 * One training batch as tensors: images `[b, h, w, c]` and integer labels `[b]`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Batch {
  readonly x: tf.Tensor4D
  readonly labels: tf.Tensor1D
  /** The batch's sample indices in the phase's training split (lets a {@link TeacherCache} answer). */
  readonly indices?: ArrayLike<number>
  /** The domain id of each sample (data with `domains`); an episodic (MLDG) update needs them. */
  readonly domains?: ArrayLike<number>
}

/**
 * The batch of a data-free step (`Step.readsBatch` false: it starts from `Step.noise`): no
 * images, only a size — `x` is `[size, 0, 0, 0]` and the labels are zeros, which such a step
 * never reads. The runner passes one per step of a data-free phase instead of drawing training
 * images; the caller disposes it like any batch.
 *
 * @example
 * ```ts
 * import { emptyBatch } from "./src/compile/step.js"
 * const b = emptyBatch(32)
 * b.x.shape // [32, 0, 0, 0]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const emptyBatch = (size: number): Batch => ({
  x: tf.zeros([size, 0, 0, 0]) as tf.Tensor4D,
  labels: tf.zeros([size], "int32") as tf.Tensor1D,
})

/**
 * Outputs of frozen forwards computed ahead of time, per training sample: when a frozen model
 * reads the un-augmented batch, its logits depend only on the sample, so the runner may compute
 * them once per phase and the step reads them instead of running the model. An optimisation
 * behind this interface — a step compiled without a cache (or whose cache answers `undefined`)
 * runs every forward.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import type { TeacherCache } from "./src/compile/step.js"
 * const none: TeacherCache = { logits: () => undefined }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface TeacherCache {
  /** The logits of the forward stage at `stageIndex` for the samples `indices`, or `undefined`. */
  readonly logits: (stageIndex: number, indices: ArrayLike<number>) => tf.Tensor2D | undefined
}

/**
 * The forward stages of a phase whose outputs a {@link TeacherCache} may hold: frozen, reading
 * the un-augmented batch `x` (no augment stage before them), asking for logits only (no taps or
 * heads), of a model the phase neither optimises nor averages into.
 *
 * @example
 * ```ts
 * import { cacheableForwards } from "./src/compile/step.js"
 * declare const phase: import("./dsl/Phase.js").Phase
 * cacheableForwards(phase) // [{ index: 0, model: "teacher" }]
 * ```
 *
 * @since 0.1.0
 * @category planning
 */
export const cacheableForwards = (
  phase: Phase.Phase,
): ReadonlyArray<{ readonly index: number; readonly model: string }> => {
  const stages = phase.step.stages
  const changing = new Set<string>()
  for (const s of stages) {
    if (s._tag === "Optimize") for (const m of s.models) changing.add(m)
    if (s._tag === "Ema" || s._tag === "Swa") changing.add(s.as)
  }
  const out: Array<{ index: number; model: string }> = []
  let augmented = false
  stages.forEach((s, index) => {
    if (s._tag === "Augment") augmented = true
    if (
      s._tag === "Forward" &&
      !augmented &&
      s.mode === "frozen" &&
      s.input === "x" &&
      s.taps.length === 0 &&
      s.heads.length === 0 &&
      s.as.length === 1 &&
      !changing.has(s.model)
    )
      out.push({ index, model: s.model })
  })
  return out
}

/**
 * Where the step runs: the clock (for ramps), its integer seed, and whether this step closes an
 * epoch (SWA snapshots are taken at epoch ends).
 *
 * @since 0.1.0
 * @category models
 */
export interface StepContext {
  readonly clock: Ramp.Clock
  readonly seed: number
  readonly endOfEpoch: boolean
  /** The 0-based index of the epoch this step belongs to (when the caller knows it). */
  readonly epochIndex?: number
  /** Keep and return the loss values (the caller reads them back asynchronously and disposes them). */
  readonly metrics: boolean
}

/**
 * What a step returns when metrics are requested: every loss and loss term by name, as kept
 * scalars the caller must dispose.
 *
 * @since 0.1.0
 * @category models
 */
export interface StepResult {
  readonly losses: Readonly<Record<string, tf.Scalar>>
  /** With metrics: the current value of every learned hyper-parameter (kept scalars to dispose). */
  readonly learned?: Readonly<Record<string, tf.Scalar>>
}

/**
 * A compiled step.
 *
 * @since 0.1.0
 * @category models
 */
export interface CompiledStep {
  readonly run: (batch: Batch, ctx: StepContext) => StepResult
  /** The evaluated scheduled hyper-parameters at a clock (for reporting). */
  readonly hyper: (clock: Ramp.Clock) => Record<string, number>
}

/** The per-step working set of stage closures. */
interface Frame {
  readonly board: Map<string, tf.Tensor>
  readonly ctx: StepContext
  indices: ArrayLike<number> | undefined
  readonly num: (n: Ramp.Num) => number
  /** A number or ramp as the step computes it: a tensor where it reads a learned value. */
  readonly value: (n: Ramp.Num) => number | tf.Scalar
  y: tf.Tensor2D
}

type Exec = (frame: Frame) => void

interface Env {
  readonly cache: TeacherCache | undefined
  readonly state: TrainState
  readonly phaseIndex: number
  readonly classes: number
  readonly slot: (name: string) => ModelSlot
}

type StageCompiler<S extends Step.Stage> = (stage: S, index: number, env: Env) => Exec

const stageSeed = (seed: number, index: number, sample: number) =>
  Rng.derive(seed, "stage", index, sample) >>> 0 || 1

const compileAugment: StageCompiler<Step.AugmentStage> = (stage, index) => (frame) => {
  const x = frame.board.get("x") as tf.Tensor4D
  const out = Augmentation.apply(
    stage.augments,
    { x, y: frame.y },
    {
      clock: frame.ctx.clock,
      seed: stageSeed(frame.ctx.seed, index, 0),
    },
  )
  frame.board.set("x", out.x)
  frame.y = out.y
  frame.board.set("y", out.y)
}

const compileForward: StageCompiler<Step.Forward> = (stage, index, env) => {
  const train = stage.mode === "train"
  const taps = [...stage.taps, ...(stage.channelDrop?.layers ?? [])]
  // a watermarked (served) teacher writes log p̃; applied after the cache too, which holds raw logits
  const served = (logits: tf.Tensor, input: tf.Tensor): tf.Tensor =>
    stage.watermark === undefined
      ? logits
      : Watermarking.perturb(stage.watermark, logits as tf.Tensor2D, input as tf.Tensor4D)
  return (frame) => {
    // the cache holds only the forwards `cacheableForwards` allows; it answers undefined for others
    if (env.cache !== undefined && frame.indices !== undefined) {
      const cached = env.cache.logits(index, frame.indices)
      if (cached !== undefined) {
        const out = served(cached, frame.board.get(stage.input)!)
        for (const name of stage.as) frame.board.set(name, out)
        return
      }
    }
    const slot = env.slot(stage.model)
    const input = frame.board.get(stage.input)!
    const dropout = stage.dropout !== undefined ? frame.num(stage.dropout) : undefined
    const dropPath = stage.dropPath !== undefined ? frame.num(stage.dropPath) : undefined
    const channelDrop =
      train && stage.channelDrop !== undefined
        ? {
            rate: frame.num(stage.channelDrop.rate),
            layer:
              stage.channelDrop.layers[
                (Rng.derive(frame.ctx.seed, "channelDrop", index) >>> 0) % stage.channelDrop.layers.length
              ]!,
          }
        : undefined
    stage.as.forEach((name, k) => {
      const out = slot.built.apply(slot.params, input, {
        train,
        seed: stageSeed(frame.ctx.seed, index, k),
        taps,
        clock: frame.ctx.clock,
        state: slot.state,
        updateStats: train,
        ...(dropout !== undefined ? { dropout } : {}),
        ...(dropPath !== undefined ? { dropPath } : {}),
        ...(channelDrop !== undefined && channelDrop.rate > 0 ? { channelDrop } : {}),
      })
      // "eval" runs like "frozen" but stays differentiable (a generator learns through it)
      const keep = (t: tf.Tensor) => (stage.mode === "frozen" ? Losses.detach(t) : t)
      frame.board.set(name, keep(served(out.logits, input)))
      for (const t of stage.taps) frame.board.set(`${name}.${t}`, keep(out.taps[t]!))
      for (const h of stage.heads) frame.board.set(`${name}.${h}`, keep(out.heads[h]!))
    })
  }
}

/** A loss operand from the blackboard: its tensor, behind a stop-gradient when the ref is detached. */
const reader =
  (board: ReadonlyMap<string, tf.Tensor>) =>
  (ref: Loss.Ref): tf.Tensor => {
    const t = board.get(Loss.refName(ref))!
    return Loss.isDetached(ref) ? Losses.detach(t) : t
  }

const compileLoss: StageCompiler<Step.LossStage> = (stage, index, env) => {
  const entries = Object.entries(stage.terms)
  return (frame) => {
    const ctx: Losses.LossContext = {
      get: reader(frame.board),
      y: frame.y,
      hyper: frame.num,
      value: frame.value,
      projection: (term, inDim, outDim) =>
        projection(env, `${env.phaseIndex}/${index}/${term}`, inDim, outDim),
      prototypes: (term, classes, dim) => prototypes(env, `${env.phaseIndex}/${index}/${term}`, classes, dim),
      step: frame.ctx.clock.step,
    }
    let total: tf.Scalar | undefined
    for (const [k, term] of entries) {
      const value = Losses.compute(term, ctx, k)
      frame.board.set(`${stage.as}.${k}`, value)
      const w = frame.value(stage.weights[k] ?? 1)
      const weighted = w === 1 ? value : tf.mul(value, w)
      total = (total === undefined ? weighted : tf.add(total, weighted)) as tf.Scalar
    }
    frame.board.set(stage.as, total ?? tf.scalar(0))
  }
}

/** A learned projection for a hint loss, created on first use (seeded by its key). */
const projection = (env: Env, key: string, inDim: number, outDim: number) => {
  const existing = env.state.projections.get(key)
  if (existing) return existing
  const seed = Rng.derive(env.phaseIndex, "projection", key) >>> 0 || 1
  const p = tf.tidy(() => ({
    kernel: tf.variable(tf.randomNormal([inDim, outDim], 0, Math.sqrt(1 / inDim), "float32", seed), true),
    bias: tf.variable(tf.zeros([outDim]), true),
  }))
  env.state.projections.set(key, p)
  return p
}

/** The running class prototypes of a prototype loss, created (empty) on first use. */
const prototypes = (env: Env, key: string, classes: number, dim: number): Losses.PrototypeSlot => {
  const existing = env.state.prototypes.get(key)
  if (existing) return existing
  const slot: Losses.PrototypeSlot = {
    sum: tf.variable(tf.zeros([classes, dim]), false),
    count: tf.variable(tf.zeros([classes]), false),
    updatedAt: -1,
  }
  env.state.prototypes.set(key, slot)
  return slot
}

/** Names of everything trainable an optimise stage updates: model params and the projections of its hints. */
const trainables = (
  env: Env,
  models: ReadonlyArray<string>,
  loss: Step.LossStage | undefined,
  lossIndex: number,
) => {
  const out: Array<{ path: string; variable: tf.Variable }> = []
  for (const m of models)
    for (const [path, variable] of Object.entries(Models.Tree.flatten(env.slot(m).params)))
      out.push({ path: `${m}/${path}`, variable })
  if (loss)
    for (const term of Object.keys(loss.terms)) {
      const p = env.state.projections.get(`${env.phaseIndex}/${lossIndex}/${term}`)
      if (p) {
        out.push({ path: `projection/${lossIndex}/${term}/kernel`, variable: p.kernel })
        out.push({ path: `projection/${lossIndex}/${term}/bias`, variable: p.bias })
      }
    }
  return out
}

const averageInto = (target: ModelSlot, source: ModelSlot, weightOfNew: number) => {
  const a = Models.Tree.flatten(target.params)
  const b = Models.Tree.flatten(source.params)
  for (const [k, v] of Object.entries(a))
    v.assign(tf.add(tf.mul(v, 1 - weightOfNew), tf.mul(b[k]!, weightOfNew)))
  const sa = Models.Tree.flatten(target.state)
  const sb = Models.Tree.flatten(source.state)
  for (const [k, v] of Object.entries(sa))
    v.assign(tf.add(tf.mul(v, 1 - weightOfNew), tf.mul(sb[k]!, weightOfNew)))
}

const compileEma: StageCompiler<Step.Ema> = (stage, _index, env) => (frame) => {
  if (frame.ctx.clock.step % stage.every !== 0) return
  const avg = env.slot(stage.as)
  const src = env.slot(stage.model)
  const decay = frame.num(stage.decay)
  // The first update copies (bias-free start), then exponential averaging.
  averageInto(avg, src, avg.average!.count === 0 ? 1 : 1 - decay)
  avg.average!.count++
}

const compileSwa: StageCompiler<Step.Swa> = (stage, _index, env) => (frame) => {
  const { clock, endOfEpoch } = frame.ctx
  let due: boolean
  if (stage.unit === "epoch") {
    if (!endOfEpoch) return
    // epochs completed after this step
    const done = frame.ctx.epochIndex !== undefined ? frame.ctx.epochIndex + 1 : Math.floor(clock.epoch) + 1
    due = done > stage.start && (done - stage.start) % stage.every === 0
  } else {
    const done = clock.step + 1
    due = done > stage.start && (done - stage.start) % stage.every === 0
  }
  if (!due) return
  const avg = env.slot(stage.as)
  const n = avg.average!.count
  averageInto(avg, env.slot(stage.model), 1 / (n + 1))
  avg.average!.count = n + 1
}

const handlers: { readonly [K in Step.Stage["_tag"]]: StageCompiler<Extract<Step.Stage, { _tag: K }>> } = {
  Augment: compileAugment,
  Forward: compileForward,
  Loss: compileLoss,
  Ema: compileEma,
  Swa: compileSwa,
  Noise: (stage, index) => (frame) => {
    const size = (frame.board.get("x") ?? frame.y).shape[0]!
    frame.board.set(stage.as, Noise.sample(stage, size, stageSeed(frame.ctx.seed, index, 0)))
  },
  // Optimise stages are compiled by `compile` itself: they close a segment.
  Optimize: () => () => {
    throw new Error("unreachable: optimise stages are compiled with their segment")
  },
}

const compileStage = (stage: Step.Stage, index: number, env: Env): Exec =>
  (handlers[stage._tag] as StageCompiler<Step.Stage>)(stage, index, env)

/**
 * Compile a phase's step against the training state.
 *
 * @example
 * ```ts
 * import { compileStep } from "retort"
 * declare const phase: import("retort/dsl").Phase.Phase
 * declare const state: import("retort").TrainState
 * const step = compileStep(phase, 0, state, 10)
 * ```
 *
 * @since 0.1.0
 * @category compiling
 */
export const compile = (
  phase: Phase.Phase,
  phaseIndex: number,
  state: TrainState,
  classes: number,
  cache?: TeacherCache,
): CompiledStep => {
  const env: Env = {
    cache,
    state,
    phaseIndex,
    classes,
    slot: (name) => {
      const s = state.models.get(name)
      if (!s) throw new Error(`model "${name}" is not built`)
      return s
    },
  }
  const stages = phase.step.stages
  type Op =
    | { readonly kind: "exec"; readonly exec: Exec }
    | {
        readonly kind: "update"
        readonly segment: ReadonlyArray<Exec>
        readonly stage: Step.Optimize
        readonly index: number
        readonly optimizer: Optimizers.Compiled
        readonly lossStage: Step.LossStage | undefined
        readonly lossIndex: number
        /** The optimiser of its look-ahead meta-update of learned parameters, if any. */
        readonly learnOptimizer: Optimizers.Compiled | undefined
      }
  const ops: Array<Op> = []
  let segment: Array<Exec> = []
  let closed = false
  const lossWriters = new Map<string, { stage: Step.LossStage; index: number }>()
  stages.forEach((stage, index) => {
    if (stage._tag === "Optimize") {
      const writer = lossWriters.get(stage.loss)
      ops.push({
        kind: "update",
        segment: [...segment],
        stage,
        index,
        optimizer: Optimizers.compile(stage.optimizer),
        lossStage: writer?.stage,
        lossIndex: writer?.index ?? -1,
        learnOptimizer: stage.learn ? Optimizers.compile(stage.learn.optimizer) : undefined,
      })
      closed = true
      return
    }
    if (stage._tag === "Loss") {
      lossWriters.set(stage.as, { stage, index })
      for (const k of Object.keys(stage.terms)) lossWriters.set(`${stage.as}.${k}`, { stage, index })
    }
    const exec = compileStage(stage, index, env)
    if (stage._tag === "Ema" || stage._tag === "Swa") {
      ops.push({ kind: "exec", exec })
      return
    }
    if (closed) {
      segment = []
      closed = false
    }
    segment.push(exec)
  })
  // Stages after the last update (e.g. a forward for monitoring) still run.
  if (!closed) for (const exec of segment) ops.push({ kind: "exec", exec })

  const updates = ops.filter((o) => o.kind === "update")
  const lossNames = stages.flatMap((s) =>
    s._tag === "Loss" ? [s.as, ...Object.keys(s.terms).map((k) => `${s.as}.${k}`)] : [],
  )

  const run = (batch: Batch, ctx: StepContext): StepResult => {
    // Tensors created inside a gradient computation are disposed when it returns; those the
    // blackboard still needs (later segments, metrics) are kept here and disposed at the end.
    const kept = new Set<tf.Tensor>()
    const keepBoard = (board: Map<string, tf.Tensor>) => {
      for (const t of board.values())
        if (t !== batch.x && !kept.has(t)) {
          kept.add(tf.keep(t))
        }
    }
    const result = tf.tidy(() => {
      const num = (n: Ramp.Num) => (typeof n === "number" ? n : Ramp.evaluate(n, ctx.clock))
      const learnedValue = (name: string): tf.Scalar => {
        const slot = state.learned.get(name)
        if (!slot) throw new Error(`learned parameter "${name}" is not created`)
        return Learning.currentValue(slot)
      }
      const value = (n: Ramp.Num) =>
        typeof n !== "number" && Ramp.isLearned(n) ? Learning.resolve(n, ctx.clock, learnedValue) : num(n)
      const metaValues: Record<string, tf.Scalar> = {}
      const y = tf.cast(tf.oneHot(tf.cast(batch.labels, "int32"), classes), "float32") as tf.Tensor2D
      const frame: Frame = {
        board: new Map<string, tf.Tensor>([
          ["x", batch.x],
          ["y", y],
        ]),
        ctx,
        indices: batch.indices,
        num,
        value,
        y,
      }
      for (const op of ops) {
        if (op.kind === "exec") {
          op.exec(frame)
          continue
        }
        const f = () => {
          for (const exec of op.segment) exec(frame)
          keepBoard(frame.board)
          return frame.board.get(op.stage.loss) as tf.Scalar
        }
        if (
          op.lossStage &&
          hasProjection(op.lossStage) &&
          !projectionsReady(env, op.lossStage, op.lossIndex)
        ) {
          // First step: run the segment once outside the tape to create the learned projections.
          tf.tidy(() => {
            for (const exec of op.segment) exec(frame)
          })
        }
        const list = trainables(env, op.stage.models, op.lossStage, op.lossIndex)
        const learn = op.stage.learn
        if (learn && op.learnOptimizer && ctx.clock.step % learn.every === 0) {
          const meta = lookahead(learn, op.learnOptimizer, `${phaseIndex}/${op.index}/learn`, {
            segment: op.segment,
            loss: op.stage.loss,
            frame,
            batch,
            weights: list.map((v) => v.variable),
            state,
          })
          if (meta) metaValues[`meta.${learn.params.join("+")}`] = meta
        }
        const byPath: Record<string, tf.Tensor> = {}
        const episode = op.stage.episodic ? episodeOf(op.stage.episodic, batch, ctx, op.index) : undefined
        if (op.stage.episodic && episode) {
          // MLDG (first-order, as DomainBed): g = ∇L_tr(θ) + β·∇L_te(θ − α·∇L_tr(θ))
          const e = op.stage.episodic
          const y0 = frame.y
          const tr = tf.variableGrads(
            () => {
              restrict(frame, batch, y0, episode.train)
              return f()
            },
            list.map((v) => v.variable),
          )
          const alpha = num(e.innerLr)
          const beta = num(e.beta)
          const saved = list.map((v) => tf.keep(tf.clone(v.variable)))
          for (const v of list) {
            const g = tr.grads[v.variable.name]
            if (g) v.variable.assign(tf.sub(v.variable, tf.mul(g, alpha)))
          }
          const te = tf.variableGrads(
            () => {
              restrict(frame, batch, y0, episode.test)
              return f()
            },
            list.map((v) => v.variable),
          )
          list.forEach((v, j) => {
            v.variable.assign(saved[j]!)
            saved[j]!.dispose()
          })
          for (const v of list) {
            const a = tr.grads[v.variable.name]
            const b = te.grads[v.variable.name]
            if (a && b) byPath[v.path] = tf.add(a, tf.mul(b, beta))
            else if (a ?? b) byPath[v.path] = a ?? tf.mul(b!, beta)
          }
          frame.board.set(op.stage.loss, tf.add(tr.value, tf.mul(te.value, beta)) as tf.Scalar)
          restrict(frame, batch, y0, undefined)
        } else {
          const { value, grads } = tf.variableGrads(
            f,
            list.map((v) => v.variable),
          )
          frame.board.set(op.stage.loss, value)
          for (const v of list) {
            const g = grads[v.variable.name]
            if (g) byPath[v.path] = g
          }
        }
        const key = `${phaseIndex}/${op.index}`
        let st = state.optimizers.get(key)
        if (!st) {
          st = op.optimizer.init(list)
          state.optimizers.set(key, st)
        }
        op.optimizer.apply(st, list, byPath, num)
      }
      const losses: Record<string, tf.Scalar> = {}
      if (ctx.metrics)
        for (const n of lossNames) {
          const t = frame.board.get(n)
          if (t) losses[n] = tf.keep(tf.clone(t as tf.Scalar))
        }
      if (ctx.metrics) for (const [n, t] of Object.entries(metaValues)) losses[n] = tf.keep(t)
      if (ctx.metrics && state.learned.size > 0) {
        const learned: Record<string, tf.Scalar> = {}
        for (const [n, slot] of state.learned) learned[n] = tf.keep(Learning.currentValue(slot))
        return { losses, learned }
      }
      return { losses }
    })
    for (const t of kept) t.dispose()
    return result
  }

  const hyper = (clock: Ramp.Clock): Record<string, number> => {
    const out: Record<string, number> = {}
    const num = (n: Ramp.Num) => (typeof n === "number" ? n : Ramp.evaluate(n, clock))
    for (const op of updates)
      if (op.kind === "update")
        for (const [k, v] of Object.entries(op.optimizer.hyperValues(num)))
          out[updates.length > 1 ? `${op.stage.models.join("+")}.${k}` : k] = v
    stages.forEach((s) => {
      if (s._tag === "Loss") {
        // a learned value is reported as learned.<name> by the runner (it lives on the device)
        for (const [k, w] of Object.entries(s.weights))
          if (!Ramp.isConstant(w) && !Ramp.isLearned(w)) out[`w.${k}`] = num(w)
        for (const [k, t] of Object.entries(s.terms))
          for (const [h, v] of Object.entries(Loss.hyperParameters(t)))
            if (!Ramp.isConstant(v) && !Ramp.isLearned(v)) out[`${k}.${h}`] = num(v)
      }
      if (s._tag === "Forward") {
        if (s.dropout !== undefined && !Ramp.isConstant(s.dropout)) out[`${s.model}.dropout`] = num(s.dropout)
        if (s.channelDrop && !Ramp.isConstant(s.channelDrop.rate))
          out[`${s.model}.channelDrop`] = num(s.channelDrop.rate)
      }
    })
    return out
  }
  return { run, hyper }
}

/** The meta-train and meta-test rows of a batch for an episodic update (undefined: one domain). */
const episodeOf = (
  e: Episodic.Episodic,
  batch: Batch,
  ctx: StepContext,
  index: number,
): { readonly train: ReadonlyArray<number>; readonly test: ReadonlyArray<number> } | undefined => {
  const domains = batch.domains
  if (domains === undefined)
    throw new ShapeError({
      path: "step.optimize.episodic",
      message: "an episodic (MLDG) update needs the domain of each sample: declare data.domains",
    })
  const present = new Set<number>()
  for (let i = 0; i < domains.length; i++) present.add(domains[i]!)
  const split = Episodic.split([...present], e.metaTest, Rng.derive(ctx.seed, "episode", index) >>> 0)
  if (split.test.length === 0) return undefined
  const rows = (ds: ReadonlyArray<number>) => {
    const keep = new Set(ds)
    const out: Array<number> = []
    for (let i = 0; i < domains.length; i++) if (keep.has(domains[i]!)) out.push(i)
    return out
  }
  return { train: rows(split.train), test: rows(split.test) }
}

/**
 * Points the frame's `x`, `y` and sample indices at some rows of the batch (`x`, the targets `y0`
 * the step started with), or back at all of it (`rows` undefined).
 */
const restrict = (frame: Frame, batch: Batch, y0: tf.Tensor2D, rows: ReadonlyArray<number> | undefined) => {
  if (rows === undefined) {
    frame.board.set("x", batch.x)
    frame.board.set("y", y0)
    frame.y = y0
    frame.indices = batch.indices
    return
  }
  const idx = tf.tensor1d(Int32Array.from(rows), "int32")
  const ys = tf.gather(y0, idx) as tf.Tensor2D
  frame.board.set("x", tf.gather(batch.x, idx))
  frame.board.set("y", ys)
  frame.y = ys
  frame.indices = batch.indices === undefined ? undefined : rows.map((r) => batch.indices![r]!)
}

const learnsProjection = (t: Loss.Loss) => (t._tag === "Hint" || t._tag === "Prototype") && t.projection

const hasProjection = (stage: Step.LossStage) => Object.values(stage.terms).some(learnsProjection)

const projectionsReady = (env: Env, stage: Step.LossStage, index: number) =>
  Object.entries(stage.terms).every(
    ([k, t]) => !learnsProjection(t) || env.state.projections.has(`${env.phaseIndex}/${index}/${k}`),
  )

/**
 * A look-ahead meta-update of learned parameters (see `dsl/Learned.ts`): the batch's last
 * `holdout` rows are held out; the hyper-gradient of the objective on them after a virtual SGD
 * step on the other rows moves the parameters with their own optimiser (state under `key`).
 * Returns the objective at the looked-ahead weights, or `undefined` for a batch too small to split.
 */
const lookahead = (
  learn: Learned.Lookahead,
  optimizer: Optimizers.Compiled,
  key: string,
  on: {
    readonly segment: ReadonlyArray<Exec>
    readonly loss: string
    readonly frame: Frame
    readonly batch: Batch
    readonly weights: ReadonlyArray<tf.Variable>
    readonly state: TrainState
  },
): tf.Scalar | undefined => {
  const { segment, frame, batch, state } = on
  const b = batch.labels.shape[0]
  if (b < 2) return undefined
  const held = Math.min(b - 1, Math.max(1, Math.round(learn.holdout * b)))
  const trainRows = Array.from({ length: b - held }, (_, i) => i)
  const heldRows = Array.from({ length: held }, (_, i) => b - held + i)
  const y0 = frame.y
  const params = learn.params.map((name) => {
    const slot = state.learned.get(name)
    if (!slot) throw new Error(`learned parameter "${name}" is not created`)
    return { path: name, variable: slot.variable }
  })
  const objectiveCtx = (): Losses.LossContext => ({
    get: reader(frame.board),
    y: frame.y,
    hyper: frame.num,
    value: frame.value,
    projection: () => {
      throw new ShapeError({
        path: "step.optimize.learn.objective",
        message: "a look-ahead objective cannot learn a projection",
      })
    },
  })
  const run = (rows: ReadonlyArray<number>) => {
    restrict(frame, batch, y0, rows)
    for (const exec of segment) exec(frame)
  }
  const { value, grads } = Learning.hypergradient({
    weights: on.weights,
    hyper: params.map((p) => p.variable),
    inner: () => {
      run(trainRows)
      return frame.board.get(on.loss) as tf.Scalar
    },
    outer: () => {
      run(heldRows)
      return Losses.compute(learn.objective, objectiveCtx(), "objective")
    },
    lr: frame.num(learn.lr),
    epsilon: learn.epsilon,
  })
  restrict(frame, batch, y0, undefined)
  let st = state.optimizers.get(key)
  if (!st) {
    st = optimizer.init(params)
    state.optimizers.set(key, st)
  }
  const byPath: Record<string, tf.Tensor> = {}
  for (const p of params) {
    const g = grads[p.variable.name]
    if (g) byPath[p.path] = g
  }
  optimizer.apply(st, params, byPath, frame.num)
  return value
}
