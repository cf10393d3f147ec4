/**
 * What a pipeline costs, in forward and backward passes — so that methods can be compared at
 * **equal compute**: knowledge distillation pays for its teacher's forwards (and for training the
 * teacher), weight averaging does not, and "KD vs SWA" only means something when both spent the
 * same number of passes.
 *
 * A pass is one sample through one model, forward or backward, whatever the model's size (the
 * convention of "the same number of forward/backward passes"; wall time is the other measure and
 * the experiments report it beside). Per sample of a step: every `Step.forward` is one forward
 * per name it writes (two for a forward sampled twice, as in cosub), and a forward of a model in
 * `train` mode that an optimise stage updates is also one backward. Per phase: that times the
 * samples the phase visits (batch size × steps, from the same plan the runner follows).
 *
 * Everything here is pure (no tfjs): the number of training images is an argument — a number, or
 * a function giving each phase's (for pipelines whose phases see different subsets, e.g. only some
 * classes with `data.classes`; a plain number counts such a phase on all `n` images). A phase's
 * `limit` is applied on top.
 *
 * @example
 * ```ts
 * import { Compute, Loss, Optimizer, Step } from "retort/dsl"
 * const kd = Step.start.pipe(
 *   Step.forward("teacher", { as: "t", mode: "frozen" }),
 *   Step.forward("student", { as: "s" }),
 *   Step.loss({ kd: Loss.kl({ teacher: "t", student: "s", temperature: 4 }) }),
 *   Step.optimize("student", Optimizer.adam({ lr: 1e-3 })),
 * )
 * Compute.perSample(kd) // { forward: 2, backward: 1 }
 * ```
 *
 * @since 0.1.0
 */
import type * as Phase from "./Phase.js"
import type * as Pipeline from "./Pipeline.js"
import * as Ramp from "./Ramp.js"
import * as Step from "./Step.js"

/**
 * Forward and backward passes (samples × models).
 *
 * @since 0.1.0
 * @category models
 */
export interface Passes {
  readonly forward: number
  readonly backward: number
}

/**
 * Forward + backward passes.
 *
 * @example
 * ```ts
 * import { Compute } from "retort/dsl"
 * Compute.total({ forward: 2, backward: 1 }) // 3
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const total = (p: Passes): number => p.forward + p.backward

/**
 * Passes per training sample of one step (see the module documentation for the counting rule).
 *
 * @example
 * ```ts
 * import { Compute, Loss, Optimizer, Step } from "retort/dsl"
 * const cosub = Step.start.pipe(
 *   Step.forward("net", { as: ["a", "b"] }),
 *   Step.loss({ ce: Loss.crossEntropy({ logits: "a" }) }),
 *   Step.optimize("net", Optimizer.adam({ lr: 1e-3 })),
 * )
 * Compute.perSample(cosub) // { forward: 2, backward: 2 }
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const perSample = (step: Step.Any): Passes => {
  const optimised = new Set(step.stages.flatMap((s) => (s._tag === "Optimize" ? s.models : [])))
  let forward = 0
  let backward = 0
  for (const s of step.stages)
    if (s._tag === "Forward") {
      forward += s.as.length
      if (s.mode === "train" && optimised.has(s.model)) backward += s.as.length
    }
  return { forward, backward }
}

/**
 * How a phase runs over `n` training images: the batch size and steps of each epoch and the total
 * — the plan the runner follows (batch-size ramps are evaluated at epoch boundaries; a fractional
 * last epoch runs that fraction of its steps; `steps` and `maxSteps` cap the total).
 *
 * @example
 * ```ts
 * import { Compute, Phase, Step } from "retort/dsl"
 * const p = Phase.make({ name: "p", epochs: 2, batchSize: 100, step: Step.start })
 * Compute.plan(p, 1000).total // 20
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const plan = (
  phase: Phase.Phase,
  n: number,
  maxSteps?: number,
): {
  readonly perEpoch: ReadonlyArray<{ readonly batchSize: number; readonly steps: number }>
  readonly total: number
  readonly stepsPerEpoch: number
} => {
  const epochsWanted = phase.epochs ?? Number.POSITIVE_INFINITY
  const perEpoch: Array<{ batchSize: number; steps: number }> = []
  let total = 0
  const cap = Math.min(phase.steps ?? Number.POSITIVE_INFINITY, maxSteps ?? Number.POSITIVE_INFINITY)
  for (let e = 0; total < cap && e < Math.ceil(epochsWanted); e++) {
    const bs = Math.min(batchSizeAt(phase, e, Number.isFinite(epochsWanted) ? epochsWanted : 1), n)
    const full = Math.ceil(n / bs)
    const frac = epochsWanted - e
    let steps = frac < 1 ? Math.max(1, Math.round(frac * full)) : full
    steps = Math.min(steps, cap - total)
    perEpoch.push({ batchSize: bs, steps })
    total += steps
    if (!Number.isFinite(epochsWanted) && perEpoch.length > 1e6) break
  }
  return { perEpoch, total, stepsPerEpoch: perEpoch[0] ? Math.ceil(n / perEpoch[0].batchSize) : 1 }
}

/**
 * The batch size of epoch `epoch` of a phase of `epochs` epochs (a ramp is evaluated at the
 * epoch boundary, rounded, at least 1).
 *
 * @example
 * ```ts
 * import { Compute, Phase, Ramp, Step } from "retort/dsl"
 * const p = Phase.make({ name: "p", epochs: 4, batchSize: Ramp.linear({ from: 32, to: 128 }), step: Step.start })
 * Compute.batchSizeAt(p, 2, 4) // 80
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const batchSizeAt = (phase: Phase.Phase, epoch: number, epochs: number): number =>
  Math.max(
    1,
    Math.round(
      typeof phase.batchSize === "number"
        ? phase.batchSize
        : Ramp.evaluate(phase.batchSize, { step: 0, epoch, progress: epochs > 0 ? epoch / epochs : 0 }),
    ),
  )

/**
 * Training images: all of them, or per phase (the images the phase draws from, before its `limit`).
 *
 * @since 0.1.0
 * @category models
 */
export type Images = number | ((phase: Phase.Phase) => number)

/**
 * The training images a phase sees: its `limit` of those available to it; a data-free phase
 * (see `Step.readsBatch`) sees `limit` generated samples per epoch (default: `n`), as the runner.
 */
const imagesOf = (phase: Phase.Phase, n: Images): number => {
  const all = typeof n === "number" ? n : n(phase)
  if (!Step.readsBatch(phase.step)) return phase.data.limit ?? all
  return Math.min(all, phase.data.limit ?? all)
}

/**
 * The passes a phase spends on `n` training images (the pipeline's, before the phase's `limit`).
 *
 * @example
 * ```ts
 * import { Compute, Loss, Optimizer, Phase, Step } from "retort/dsl"
 * const p = Phase.make({
 *   name: "p", epochs: 1, batchSize: 100,
 *   step: Step.start.pipe(
 *     Step.forward("net", { as: "o" }),
 *     Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
 *     Step.optimize("net", Optimizer.adam({ lr: 1e-3 })),
 *   ),
 * })
 * Compute.phase(p, 1000) // { forward: 1000, backward: 1000 }
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const phase = (p: Phase.Phase, n: Images): Passes => {
  const samples = plan(p, imagesOf(p, n)).perEpoch.reduce((a, e) => a + e.steps * e.batchSize, 0)
  const per = perSample(p.step)
  return { forward: per.forward * samples, backward: per.backward * samples }
}

/**
 * The passes a whole pipeline spends when its data has `n` training images (after the
 * validation split): the sum over its phases.
 *
 * @example
 * ```ts
 * import { Compute, Model, Phase, Pipeline, Step } from "retort/dsl"
 * const p = Pipeline.make({ name: "p", models: { net: Model.mlp({ hidden: [8], classes: 10 }) }, phases: [] })
 * Compute.pipeline(p, 60000) // { forward: 0, backward: 0 }
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const pipeline = (p: Pipeline.Pipeline, n: Images): Passes =>
  p.phases.reduce<Passes>(
    (acc, ph) => {
      const c = phase(ph, n)
      return { forward: acc.forward + c.forward, backward: acc.backward + c.backward }
    },
    { forward: 0, backward: 0 },
  )

/**
 * `p` with the length of its phase `phaseName` set in steps (its `epochs` dropped) so that the
 * whole pipeline spends as many passes as `reference` — forward + backward, rounded down to whole
 * steps, at least one — on `n` training images. This is how "at equal compute" is said: e.g. give
 * an SWA fine-tuning phase the passes that a KD pipeline spends on training and running its
 * teacher. Fails (returns `undefined`) when the other phases of `p` already spend more than
 * `reference`, or the phase has a batch-size ramp (its cost per step would not be constant).
 *
 * @example
 * ```ts
 * import { Compute, Loss, Model, Optimizer, Phase, Pipeline, Step } from "retort/dsl"
 * const train = (name: string, epochs: number) =>
 *   Phase.make({
 *     name, epochs, batchSize: 100,
 *     step: Step.start.pipe(
 *       Step.forward("net", { as: "o" }),
 *       Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
 *       Step.optimize("net", Optimizer.adam({ lr: 1e-3 })),
 *     ),
 *   })
 * const models = { net: Model.mlp({ hidden: [8], classes: 10 }) }
 * const long = Pipeline.make({ name: "long", models, phases: [train("a", 3)] })
 * const short = Pipeline.make({ name: "short", models, phases: [train("a", 1), train("b", 1)] })
 * Compute.matchSteps(short, "b", long, 1000)?.phases[1]?.steps // 20
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const matchSteps = (
  p: Pipeline.Pipeline,
  phaseName: string,
  reference: Pipeline.Pipeline,
  n: Images,
): Pipeline.Pipeline | undefined => {
  const index = p.phases.findIndex((ph) => ph.name === phaseName)
  const target = p.phases[index]
  if (target === undefined || typeof target.batchSize !== "number") return undefined
  const others = p.phases.reduce((a, ph, i) => (i === index ? a : a + total(phase(ph, n))), 0)
  const left = total(pipeline(reference, n)) - others
  const perStep = total(perSample(target.step)) * Math.min(target.batchSize, imagesOf(target, n))
  if (left < perStep || perStep === 0) return undefined
  const { epochs: _epochs, ...rest } = target
  const phases = p.phases.map((ph, i) => (i === index ? { ...rest, steps: Math.floor(left / perStep) } : ph))
  return { ...p, phases }
}
