/**
 * Semantic validation of a pipeline, beyond its types: unknown model, tap and head names,
 * reads of unwritten names, optimising a frozen model, temperatures ≤ 0, negative weights,
 * probabilities outside [0, 1], empty phases, teacher/student class-count mismatches, copies
 * between different architectures. Returns **every** problem, each with its JSON path and a
 * plain sentence.
 *
 * Ramps are checked by sampling them across the phase (21 points of its progress, with steps
 * and epochs estimated from its length), so a schedule that dips below zero is caught too.
 *
 * @example
 * ```ts
 * import { Validate } from "retort/dsl"
 * declare const pipeline: import("retort/dsl").Pipeline.Pipeline
 * for (const issue of Validate.pipeline(pipeline)) console.log(`${issue.path}: ${issue.message}`)
 * ```
 *
 * @since 0.1.0
 */
import * as Domain from "./Domain.js"
import * as Episodic from "./Episodic.js"
import * as FewShot from "./FewShot.js"
import * as Issue from "./Issue.js"
import * as Learned from "./Learned.js"
import * as Loss from "./Loss.js"
import * as Model from "./Model.js"
import type * as Phase from "./Phase.js"
import type * as Pipeline from "./Pipeline.js"
import * as Ramp from "./Ramp.js"
import type * as Step from "./Step.js"
import * as Tta from "./Tta.js"
import * as Watermark from "./Watermark.js"

type Path = ReadonlyArray<string | number>

/**
 * What is known of a model once it is built or read (a model loaded from disk, a custom model):
 * its classes, taps, tap shapes and heads. The runner passes these to {@link pipeline} before
 * the first step, so the same checks apply to models whose description does not say.
 *
 * @example
 * ```ts
 * import { Validate } from "retort/dsl"
 * const teacher: Validate.Resolved = { classes: 10, taps: ["conv1", "dense"], heads: ["logits"] }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Resolved {
  readonly classes?: number
  readonly taps?: ReadonlyArray<string>
  readonly heads?: ReadonlyArray<string>
  readonly tapShapes?: Readonly<Record<string, ReadonlyArray<number>>>
}

/**
 * Options of {@link pipeline}: `models`, what is known of models by name (see {@link Resolved}).
 *
 * @example
 * ```ts
 * import { Validate } from "retort/dsl"
 * const o: Validate.Options = { models: { teacher: { classes: 100 } } }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly models?: Readonly<Record<string, Resolved>>
}

/** The model queries the checks use: the description's, or what the caller resolved. */
interface Info {
  readonly classes: (name: string) => number | undefined
  readonly taps: (name: string) => ReadonlyArray<string> | undefined
  readonly heads: (name: string) => ReadonlyArray<string> | undefined
  readonly tapShapes: (name: string) => Readonly<Record<string, ReadonlyArray<number>>> | undefined
}

/**
 * An own entry of a record: a name such as `toString` or `constructor` is not a model (or tap)
 * just because every object inherits it.
 */
const own = <A>(record: Readonly<Record<string, A>> | undefined, key: string): A | undefined =>
  record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined

/** No model that can be built has anywhere near this many layers (blocks, hidden layers, exits). */
const MAX_LAYERS = 1_000

/** How many layers a description lists (a ViT's depth is a number: its taps are listed one by one). */
const layers = (m: Model.Model): number => {
  switch (m._tag) {
    case "Mlp":
      return m.hidden.length
    case "Cnn":
      return m.conv.length + m.dense.length
    case "ResNet":
      return m.blocks.length + (m.exits?.length ?? 0)
    case "Vit":
      return m.depth
    case "Binary":
      return layers(m.inner)
    default:
      return 0
  }
}

/** Lists of names in messages: the first few, each cut short, and how many there are. */
const list = (names: Iterable<string>): string => {
  const all = [...names]
  const shown = all.slice(0, 12).map((n) => clip(n, 60))
  return all.length > shown.length ? `${shown.join(", ")}, … (${all.length} in all)` : shown.join(", ")
}

/** A name quoted in a message, cut to a readable length. */
const clip = (s: string, n = 200): string => (s.length > n ? `${s.slice(0, n)}… (${s.length} characters)` : s)

const infoFor = (p: Pipeline.Pipeline, options: Options): Info => {
  // every query is asked once per model: a forward stage repeats them, and they walk the layers
  const cache = new Map<string, unknown>()
  const get = <K extends keyof Resolved>(
    name: string,
    key: K,
    fallback: (m: Model.Model) => Resolved[K] | undefined,
  ): Resolved[K] | undefined => {
    const id = `${key}:${name}`
    if (cache.has(id)) return cache.get(id) as Resolved[K] | undefined
    let r = own(options.models, name)?.[key]
    if (r === undefined) {
      const m = own(p.models, name)
      // an oversized description is reported, not queried
      r = m !== undefined && layers(m) <= MAX_LAYERS ? fallback(m) : undefined
    }
    cache.set(id, r)
    return r
  }
  return {
    classes: (n) => get(n, "classes", Model.classes),
    taps: (n) => get(n, "taps", Model.taps),
    heads: (n) => get(n, "heads", Model.heads),
    tapShapes: (n) => get(n, "tapShapes", Model.tapShapes),
  }
}

/** A nominal number of steps per epoch, to place step- and epoch-based ramps when sampling. */
const NOMINAL_STEPS_PER_EPOCH = 100

const sampleClocks = (phase: Phase.Phase): ReadonlyArray<Ramp.Clock> => {
  const steps = phase.steps ?? (phase.epochs ?? 1) * NOMINAL_STEPS_PER_EPOCH
  const epochs = phase.epochs ?? steps / NOMINAL_STEPS_PER_EPOCH
  return Array.from({ length: 21 }, (_, i) => {
    const progress = i / 20
    return { step: Math.round(progress * steps), epoch: progress * epochs, progress }
  })
}

/** The range of a number or ramp over the phase. */
const range = (
  num: Ramp.Num,
  clocks: ReadonlyArray<Ramp.Clock>,
): { min: number; max: number; finite: boolean } => {
  if (typeof num === "number") return { min: num, max: num, finite: Number.isFinite(num) }
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  let finite = true
  for (const c of clocks) {
    const v = Ramp.evaluate(num, c)
    if (!Number.isFinite(v)) finite = false
    if (v < min) min = v
    if (v > max) max = v
  }
  return { min, max, finite }
}

const fmt = (num: Ramp.Num) => (typeof num === "number" ? String(num) : Ramp.describe(num))

interface Checker {
  readonly info: Info
  readonly issues: Array<Issue.Issue>
  readonly add: (path: Path, message: string) => void
  readonly clocks: ReadonlyArray<Ramp.Clock>
}

const checkNum = (
  c: Checker,
  path: Path,
  num: Ramp.Num,
  what: string,
  rule: { min?: number; max?: number; exclusiveMin?: boolean; exclusiveMax?: boolean },
) => {
  // a learned value has no host range; where it may appear and what it names: Learned.check
  if (Ramp.isLearned(num)) return
  const r = range(num, c.clocks)
  const ramp =
    typeof num === "number"
      ? ""
      : ` (the ramp ${fmt(num)} reaches ${r.min < (rule.min ?? -Infinity) ? r.min : r.max})`
  if (!r.finite) return c.add(path, `${what} must be a finite number${ramp}`)
  if (rule.min !== undefined && (rule.exclusiveMin ? r.min <= rule.min : r.min < rule.min)) {
    const bound = rule.exclusiveMin ? `> ${rule.min}` : `>= ${rule.min}`
    return c.add(path, `${what} must be ${bound}, got ${typeof num === "number" ? num : r.min}${ramp}`)
  }
  if (rule.max !== undefined && (rule.exclusiveMax ? r.max >= rule.max : r.max > rule.max)) {
    const bound = rule.exclusiveMax ? `< ${rule.max}` : `<= ${rule.max}`
    return c.add(path, `${what} must be ${bound}, got ${typeof num === "number" ? num : r.max}${ramp}`)
  }
}

const probability = { min: 0, max: 1 }

/** Walk a description and check every field named `p` (a probability) lies in [0, 1]. */
const checkProbabilities = (c: Checker, path: Path, value: unknown): void => {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      checkProbabilities(c, [...path, i], v)
    })
    return
  }
  if (typeof value !== "object" || value === null || Ramp.isRamp(value)) return
  for (const [k, v] of Object.entries(value)) {
    if ((k === "p" || k === "probability") && (typeof v === "number" || Ramp.isRamp(v)))
      checkNum(c, [...path, k], v as Ramp.Num, "a probability", probability)
    else checkProbabilities(c, [...path, k], v)
  }
}

/** What a blackboard name holds: the logits or a head of a model, a tap, a loss, or the batch. */
type Slot =
  | { readonly kind: "batch" }
  | { readonly kind: "logits"; readonly model: string }
  | { readonly kind: "tap"; readonly model: string; readonly tap: string }
  | { readonly kind: "loss" }
  | { readonly kind: "noise"; readonly dim: number }

const checkStep = (
  c: Checker,
  pipeline: Pipeline.Pipeline,
  phase: Phase.Phase,
  path: Path,
  known: ReadonlySet<string>,
  averaged: ReadonlyMap<string, string>,
) => {
  const step: Step.Any = phase.step
  const stagesPath = [...path, "stages"]
  if (step.stages.length === 0)
    c.add(stagesPath, "the step is empty: a phase needs at least a forward, a loss and an optimise stage")
  const slots = new Map<string, Slot>([
    ["x", { kind: "batch" }],
    ["y", { kind: "batch" }],
  ])
  const trained = new Set<string>()
  const forwarded = new Map<string, Set<Step.Mode>>()
  let optimizes = 0
  const describeWritten = () => list(slots.keys())
  const sourceOf = (name: string): string => averaged.get(name) ?? name
  const classesOf = (ref: Loss.Ref): { model: string; classes: number | undefined } | undefined => {
    const slot = slots.get(Loss.refName(ref))
    if (slot?.kind !== "logits") return undefined
    return { model: slot.model, classes: c.info.classes(sourceOf(slot.model)) }
  }

  step.stages.forEach((stage, i) => {
    const sp: Path = [...stagesPath, i]
    const read = (name: string, p: Path) => {
      if (!slots.has(name))
        c.add(
          p,
          `reads "${clip(name)}", which no earlier stage writes (written so far: ${describeWritten()})`,
        )
    }
    switch (stage._tag) {
      case "Augment": {
        stage.augments.forEach((a, j) => {
          checkProbabilities(c, [...sp, "augments", j], a)
        })
        break
      }
      case "Forward": {
        read(stage.input, [...sp, "input"])
        // a generator maps noise to images; every other model reads images
        const declared = own(pipeline.models, sourceOf(stage.model))
        const input = slots.get(stage.input)
        if (declared && Model.isGenerator(declared)) {
          if (input !== undefined && input.kind !== "noise")
            c.add(
              [...sp, "input"],
              `"${stage.model}" is a generator: its input must be noise (Step.noise), not "${clip(stage.input)}"`,
            )
          else if (input?.kind === "noise" && input.dim !== declared.latent)
            c.add(
              [...sp, "input"],
              `"${stage.model}" takes noise of ${declared.latent} values but "${clip(stage.input)}" has ${input.dim}`,
            )
        } else if (declared && input?.kind === "noise")
          c.add(
            [...sp, "input"],
            `"${clip(stage.input)}" is noise: only a generator reads it (run "${stage.model}" on the generator's output)`,
          )
        if (!known.has(stage.model))
          c.add([...sp, "model"], `unknown model "${clip(stage.model)}" (models: ${list(known) || "none"})`)
        if (averaged.has(stage.model) && stage.mode === "train")
          c.add(
            [...sp, "mode"],
            `"${stage.model}" is an averaged copy of "${averaged.get(stage.model)}": run it with mode "frozen"`,
          )
        if (stage.as.length === 0) c.add([...sp, "as"], "a forward must name its output")
        if (stage.as.length > 1 && stage.mode === "frozen")
          c.add(
            [...sp, "as"],
            'several samples of a frozen forward are identical (no dropout in evaluation mode); use one name or mode "train"',
          )
        const taps = c.info.taps(sourceOf(stage.model))
        const heads = c.info.heads(sourceOf(stage.model))
        if (taps)
          stage.taps.forEach((t, j) => {
            if (!taps.includes(t))
              c.add(
                [...sp, "taps", j],
                `model "${stage.model}" has no tap "${clip(t)}" (taps: ${list(taps)})`,
              )
          })
        if (heads)
          stage.heads.forEach((h, j) => {
            if (!heads.includes(h))
              c.add(
                [...sp, "heads", j],
                `model "${stage.model}" has no head "${clip(h)}" (heads: ${list(heads)})`,
              )
          })
        if (stage.dropout !== undefined)
          checkNum(c, [...sp, "dropout"], stage.dropout, "a dropout rate", {
            min: 0,
            max: 1,
            exclusiveMax: true,
          })
        if (stage.dropPath !== undefined)
          checkNum(c, [...sp, "dropPath"], stage.dropPath, "a drop-path rate", {
            min: 0,
            max: 1,
            exclusiveMax: true,
          })
        if (stage.channelDrop) {
          checkNum(c, [...sp, "channelDrop", "rate"], stage.channelDrop.rate, "a channel-drop rate", {
            min: 0,
            max: 1,
            exclusiveMax: true,
          })
          if (stage.channelDrop.layers.length === 0)
            c.add(
              [...sp, "channelDrop", "layers"],
              "channel drop needs at least one layer (tap) to choose from",
            )
          if (taps)
            stage.channelDrop.layers.forEach((t, j) => {
              if (!taps.includes(t))
                c.add([...sp, "channelDrop", "layers", j], `model "${stage.model}" has no tap "${clip(t)}"`)
            })
        }
        if (stage.watermark) {
          if (stage.mode !== "frozen")
            c.add([...sp, "watermark"], 'a watermark perturbs a served teacher\'s outputs: use mode "frozen"')
          for (const p of Watermark.problems(stage.watermark)) c.add([...sp, "watermark", p.field], p.message)
        }
        const modes = forwarded.get(stage.model) ?? new Set()
        modes.add(stage.mode)
        forwarded.set(stage.model, modes)
        for (const a of stage.as) {
          slots.set(a, { kind: "logits", model: stage.model })
          for (const t of stage.taps) slots.set(`${a}.${t}`, { kind: "tap", model: stage.model, tap: t })
          for (const h of stage.heads) slots.set(`${a}.${h}`, { kind: "logits", model: stage.model })
        }
        break
      }
      case "Loss": {
        const termNames = Object.keys(stage.terms)
        if (termNames.length === 0) c.add([...sp, "terms"], "a loss stage needs at least one term")
        for (const k of Object.keys(stage.weights))
          if (!termNames.includes(k)) c.add([...sp, "weights", k], `a weight for "${k}", which is not a term`)
        for (const [k, w] of Object.entries(stage.weights))
          if (termNames.includes(k)) checkNum(c, [...sp, "weights", k], w, "a loss weight", { min: 0 })
        for (const [k, term] of Object.entries(stage.terms)) {
          const tp: Path = [...sp, "terms", k]
          for (const o of Loss.operands(term)) {
            const name = Loss.refName(o.ref)
            read(name, [...tp, o.role])
            const slot = slots.get(name)
            const wantsLogits =
              term._tag !== "Hint" &&
              term._tag !== "Relation" &&
              term._tag !== "TokenRelation" &&
              term._tag !== "BnStatistics" &&
              term._tag !== "Prototype" &&
              o.role !== "labels"
            if (slot && wantsLogits && slot.kind !== "logits")
              c.add(
                [...tp, o.role],
                `${term._tag} needs logits for its ${o.role}, but "${name}" is ${slot.kind === "tap" ? `the feature tap "${slot.tap}"` : slot.kind === "batch" ? "the batch" : "a loss"}`,
              )
            if (o.role === "labels" && slot && slot.kind !== "batch" && slot.kind !== "logits")
              c.add([...tp, o.role], `labels must be "y" or logits, got "${name}"`)
          }
          const hp = Loss.hyperParameters(term)
          if (hp.temperature !== undefined)
            checkNum(c, [...tp, "temperature"], hp.temperature, "a temperature", {
              min: 0,
              exclusiveMin: true,
            })
          if (hp.smoothing !== undefined)
            checkNum(c, [...tp, "smoothing"], hp.smoothing, "label smoothing", {
              min: 0,
              max: 1,
              exclusiveMax: true,
            })
          if (hp.gamma !== undefined) checkNum(c, [...tp, "gamma"], hp.gamma, "focal γ", { min: 0 })
          if (
            term._tag === "Kl" ||
            term._tag === "HardDistill" ||
            term._tag === "Tst" ||
            (term._tag === "Bce" && term.target._tag === "Logits")
          ) {
            const t = classesOf(term._tag === "Bce" ? term.target.ref : term.teacher)
            const s = classesOf(term._tag === "Bce" ? term.logits : term.student)
            if (t?.classes !== undefined && s?.classes !== undefined && t.classes !== s.classes)
              c.add(
                tp,
                `teacher "${t.model}" has ${t.classes} classes but student "${s.model}" has ${s.classes}: ${term._tag} compares distributions over the same classes`,
              )
          }
          if (term._tag === "MultiTeacher") {
            if (term.teachers.length === 0)
              c.add([...tp, "teachers"], "a multi-teacher loss needs at least one teacher")
            const s = classesOf(term.student)
            term.teachers.forEach((ref, i) => {
              const t = classesOf(ref)
              if (t?.classes !== undefined && s?.classes !== undefined && t.classes !== s.classes)
                c.add(
                  [...tp, "teachers", i],
                  `teacher "${t.model}" has ${t.classes} classes but student "${s.model}" has ${s.classes}: MultiTeacher compares distributions over the same classes`,
                )
            })
          }
          if (term._tag === "TokenRelation") {
            const wholeHeads = Number.isInteger(term.heads) && term.heads >= 1
            if (!wholeHeads)
              c.add([...tp, "heads"], `relation heads must be a positive integer, got ${term.heads}`)
            // per-sample shapes of the four token features: [tokens, dim] each (a ViT's q/k/v taps)
            const shapes = Loss.operands(term).map((o) => {
              const sl = slots.get(Loss.refName(o.ref))
              if (sl?.kind !== "tap") return undefined
              const shape = own(c.info.tapShapes(sourceOf(sl.model)), sl.tap)
              if (shape !== undefined && shape.length !== 2) {
                c.add(
                  [...tp, o.role],
                  `token relation needs token features [tokens, dim] (a ViT's block<i>/q|k|v taps), but tap "${sl.tap}" of "${sl.model}" is [${shape.join(", ")}]`,
                )
                return undefined
              }
              return shape
            })
            const tokens = shapes.map((sh) => sh?.[0])
            const counts = tokens.filter((n): n is number => n !== undefined)
            if (counts.some((n) => n !== counts[0]))
              c.add(
                tp,
                `token relation compares token × token maps: token counts differ (${tokens.map((n) => n ?? "?").join(", ")})`,
              )
            shapes.forEach((sh, i) => {
              if (sh !== undefined && wholeHeads && sh[1]! % term.heads !== 0)
                c.add(
                  [...tp, Loss.operands(term)[i]!.role],
                  `width ${sh[1]} is not divisible by ${term.heads} relation heads`,
                )
            })
            for (const [a, b, side] of [
              [0, 1, "student"],
              [2, 3, "teacher"],
            ] as const) {
              const wa = shapes[a]?.[1]
              const wb = shapes[b]?.[1]
              if (wa !== undefined && wb !== undefined && wa !== wb)
                c.add(tp, `the ${side}'s two token features differ in width (${wa} vs ${wb})`)
            }
          }
          if ((term._tag === "Hint" || term._tag === "Prototype") && !term.projection) {
            const a = slots.get(Loss.refName(term.student))
            const b = slots.get(Loss.refName(term.teacher))
            const size = (sl: Slot | undefined) => {
              if (sl?.kind !== "tap") return undefined
              const shape = own(c.info.tapShapes(sourceOf(sl.model)), sl.tap)
              return shape?.reduce((x, y) => x * y, 1)
            }
            const sa = size(a)
            const sb = size(b)
            if (sa !== undefined && sb !== undefined && sa !== sb)
              c.add(
                tp,
                `${term._tag === "Hint" ? "hint" : "prototype"} compares features of different sizes (${sa} vs ${sb}); set projection: true to learn a projection`,
              )
          }
        }
        slots.set(stage.as, { kind: "loss" })
        for (const k of termNames) slots.set(`${stage.as}.${k}`, { kind: "loss" })
        break
      }
      case "Optimize": {
        optimizes++
        read(stage.loss, [...sp, "loss"])
        if (stage.learn)
          for (const o of Loss.operands(stage.learn.objective))
            read(Loss.refName(o.ref), [...sp, "learn", "objective", o.role])
        if (slots.has(stage.loss) && slots.get(stage.loss)?.kind !== "loss")
          c.add([...sp, "loss"], `"${stage.loss}" is not a loss`)
        if (stage.models.length === 0) c.add([...sp, "models"], "optimise which model? the list is empty")
        stage.models.forEach((m, j) => {
          const mp: Path = [...sp, "models", j]
          if (averaged.has(m))
            c.add(
              mp,
              `"${m}" is an averaged copy of "${averaged.get(m)}"; it is updated by its EMA/SWA stage, not optimised`,
            )
          else if (!known.has(m)) c.add(mp, `unknown model "${clip(m)}"`)
          else if (!forwarded.get(m)?.has("train"))
            c.add(
              mp,
              forwarded.has(m)
                ? `optimising a frozen model: "${m}" is only run frozen in this step, so no gradient reaches it (use mode "train")`
                : `optimising "${m}", which no earlier stage of this step runs, so no gradient reaches it`,
            )
          trained.add(m)
        })
        const op: Path = [...sp, "optimizer"]
        const o = stage.optimizer
        checkNum(c, [...op, "lr"], o.lr, "a learning rate", { min: 0 })
        checkNum(c, [...op, "weightDecay"], o.weightDecay, "weight decay", { min: 0 })
        checkNum(c, [...op, "clipNorm"], o.clipNorm, "a clip norm (0 = off)", { min: 0 })
        if (o._tag === "Sgd")
          checkNum(c, [...op, "momentum"], o.momentum, "momentum", { min: 0, max: 1, exclusiveMax: true })
        else {
          checkNum(c, [...op, "beta1"], o.beta1, "β₁", { min: 0, max: 1, exclusiveMax: true })
          checkNum(c, [...op, "beta2"], o.beta2, "β₂", { min: 0, max: 1, exclusiveMax: true })
        }
        if (stage.episodic !== undefined) {
          const ep: Path = [...sp, "episodic"]
          const e = stage.episodic
          checkNum(c, [...ep, "innerLr"], e.innerLr, "an inner learning rate", { min: 0 })
          checkNum(c, [...ep, "beta"], e.beta, "the meta-test weight β", { min: 0 })
          c.issues.push(...Episodic.check(e, ep).filter((i) => i.path.endsWith("metaTest")))
          const domains = phase.data.domains?.length ?? pipeline.data.domains?.angles.length
          if (pipeline.data.domains === undefined)
            c.add(
              ep,
              "an episodic (MLDG) update needs data with domains (set data.domains, e.g. Domain.rotated())",
            )
          else if (domains !== undefined && domains < 2)
            c.add(ep, `an episodic (MLDG) update needs at least 2 training domains, the phase has ${domains}`)
          if (phase.data.classes !== undefined)
            c.add(ep, "an episodic (MLDG) update cannot be combined with data.classes")
        }
        break
      }
      case "Noise": {
        if (!(Number.isInteger(stage.dim) && stage.dim > 0))
          c.add([...sp, "dim"], `must be a positive integer, got ${stage.dim}`)
        if (stage.as === "x" || stage.as === "y")
          c.add([...sp, "as"], `"${stage.as}" is the batch: name the noise differently`)
        slots.set(stage.as, { kind: "noise", dim: stage.dim })
        break
      }
      case "Ema":
      case "Swa": {
        if (!known.has(stage.model) || averaged.has(stage.model))
          c.add([...sp, "model"], `unknown model "${clip(stage.model)}" to average`)
        if (own(pipeline.models, stage.as) !== undefined)
          c.add([...sp, "as"], `"${stage.as}" is already a declared model; name the average differently`)
        if (stage._tag === "Ema") checkNum(c, [...sp, "decay"], stage.decay, "an EMA decay", probability)
        else {
          if (!(stage.every > 0)) c.add([...sp, "every"], `must be > 0, got ${stage.every}`)
          if (!(stage.start >= 0)) c.add([...sp, "start"], `must be >= 0, got ${stage.start}`)
        }
        if (stage._tag === "Ema" && !(stage.every >= 1 && Number.isInteger(stage.every)))
          c.add([...sp, "every"], `must be a positive integer number of steps, got ${stage.every}`)
        break
      }
    }
  })
  if (step.stages.length > 0 && optimizes === 0)
    c.add(stagesPath, "the step never optimises anything: add an optimise stage")
  return trained
}

/**
 * All problems of a pipeline (empty when it is valid).
 *
 * @example
 * ```ts
 * import { Validate } from "retort/dsl"
 * declare const p: import("retort/dsl").Pipeline.Pipeline
 * const problems = Validate.pipeline(p)
 * if (problems.length > 0) console.error(problems)
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const pipeline = (p: Pipeline.Pipeline, options: Options = {}): ReadonlyArray<Issue.Issue> => {
  const issues: Array<Issue.Issue> = []
  const info = infoFor(p, options)
  // a message quoting a huge name is cut (the file said it once; the report need not repeat it)
  const add = (path: Path, message: string) =>
    issues.push({ path: Issue.path(path), message: message.length > 1000 ? clip(message, 1000) : message })
  const averaged = new Map<string, string>()
  for (const ph of p.phases)
    for (const s of ph.step.stages) if (s._tag === "Ema" || s._tag === "Swa") averaged.set(s.as, s.model)
  const known = new Set([...Object.keys(p.models), ...averaged.keys()])

  if (p.name.trim() === "") add(["name"], "a pipeline needs a name")
  if (!Number.isInteger(p.seed)) add(["seed"], `the seed must be an integer, got ${p.seed}`)
  if (p.checkpointEvery !== undefined && !(Number.isInteger(p.checkpointEvery) && p.checkpointEvery >= 0))
    add(
      ["checkpointEvery"],
      `must be a whole number of steps >= 0 (0: only at phase ends), got ${p.checkpointEvery}`,
    )
  if (p.data.validation < 0) add(["data", "validation"], `must be >= 0, got ${p.data.validation}`)
  if (p.data.source === "custom" && !p.data.name) add(["data", "name"], "a custom data source needs a name")
  checkData(p.data, add)
  if (p.data.domains !== undefined) issues.push(...Domain.check(p.data.domains, ["data", "domains"]))
  if (Object.keys(p.models).length === 0) add(["models"], "a pipeline needs at least one model")
  for (const [name, m] of Object.entries(p.models)) {
    const base = Issue.path(["models", name])
    const n = layers(m)
    if (n > MAX_LAYERS) {
      add(["models", name], `${n} layers: at most ${MAX_LAYERS} (no model that can be built has that many)`)
      continue
    }
    for (const mi of Model.check(m))
      issues.push({
        path: mi.path === "" ? base : mi.path.startsWith("[") ? base + mi.path : `${base}.${mi.path}`,
        message: mi.message,
      })
  }
  if (p.phases.length === 0) add(["phases"], "a pipeline needs at least one phase")
  issues.push(...Learned.check(p))

  const names = new Set<string>()
  p.phases.forEach((ph, i) => {
    const pp: Path = ["phases", i]
    const c: Checker = { info, issues, add, clocks: sampleClocks(ph) }
    if (names.has(ph.name)) add([...pp, "name"], `two phases are named "${ph.name}"`)
    names.add(ph.name)
    if ((ph.epochs === undefined) === (ph.steps === undefined)) add(pp, "give exactly one of epochs or steps")
    if (ph.epochs !== undefined && !(ph.epochs > 0)) add([...pp, "epochs"], `must be > 0, got ${ph.epochs}`)
    if (ph.steps !== undefined && !(Number.isInteger(ph.steps) && ph.steps > 0))
      add([...pp, "steps"], `must be a positive integer, got ${ph.steps}`)
    checkNum(c, [...pp, "batchSize"], ph.batchSize, "the batch size", { min: 1 })
    if (ph.data.limit !== undefined && !(Number.isInteger(ph.data.limit) && ph.data.limit > 0))
      add([...pp, "data", "limit"], `must be a positive integer, got ${ph.data.limit}`)
    if (ph.data.classes !== undefined)
      issues.push(
        ...FewShot.checkClasses(ph.data.classes, FewShot.sourceClasses(p.data), [...pp, "data", "classes"]),
      )
    if (ph.data.domains !== undefined)
      issues.push(...Domain.checkIds(ph.data.domains, p.data.domains, [...pp, "data", "domains"]))
    for (const [m, init] of Object.entries(ph.init)) {
      const ip: Path = [...pp, "init", m]
      if (own(p.models, m) === undefined) add(ip, `unknown model "${clip(m)}"`)
      if (init._tag === "Copy") {
        const from = own(p.models, init.from)
        const to = own(p.models, m)
        if (from === undefined) add([...ip, "from"], `unknown model "${clip(init.from)}"`)
        else if (to !== undefined && JSON.stringify(stripDropout(from)) !== JSON.stringify(stripDropout(to)))
          add(ip, `cannot copy "${init.from}" into "${m}": they have different architectures`)
      }
    }
    checkStep(c, p, ph, [...pp, "step"], known, averaged)
    const ev = ph.evaluate
    const ep: Path = [...pp, "evaluate"]
    if (!(ev.every > 0)) add([...ep, "every"], `must be > 0, got ${ev.every}`)
    ev.splits.forEach((s, j) => {
      if (s.limit !== undefined && !(s.limit > 0))
        add([...ep, "splits", j, "limit"], `must be > 0, got ${s.limit}`)
      // a folder may bring its own val/ tree: known only once it is read
      if (s.split === "validation" && p.data.validation === 0 && p.data.source !== "folder")
        add([...ep, "splits", j], "evaluates on the validation split, but data.validation is 0")
      if (s.domains !== undefined)
        issues.push(...Domain.checkIds(s.domains, p.data.domains, [...ep, "splits", j, "domains"]))
    })
    if (ev.perDomain && p.data.domains === undefined)
      add([...ep, "perDomain"], "per-domain metrics need data with domains (set data.domains)")
    if (ev.tta !== undefined) issues.push(...Tta.check(ev.tta, [...ep, "tta"]))
    if (ev.select !== undefined && !/^[^/]+\/.+\/[^/]+$/.test(ev.select.key))
      add(
        [...ep, "select", "key"],
        `must be a metric key "<split>/<target>/<metric>", got "${clip(ev.select.key)}"`,
      )
    ev.targets.forEach((t, j) => {
      const tp: Path = [...ep, "targets", j]
      const ms = t._tag === "Model" ? [t.model] : t.models
      ms.forEach((m) => {
        if (!known.has(m)) add(tp, `unknown model "${clip(m)}"`)
      })
      if (t._tag === "Model") {
        const heads = info.heads(averaged.get(t.model) ?? t.model)
        if (heads)
          t.heads.forEach((h, k) => {
            if (!heads.includes(h))
              add([...tp, "heads", k], `model "${t.model}" has no head "${clip(h)}" (heads: ${list(heads)})`)
          })
      }
      if (t._tag === "Ensemble" && t.models.length === 0) add(tp, "an ensemble needs models")
    })
    if (ev.earlyExit !== undefined) {
      ev.earlyExit.forEach((t, j) => {
        if (!Number.isFinite(t)) add([...ep, "earlyExit", j], `a threshold must be a finite number, got ${t}`)
      })
      const multi = ev.targets.some((t) => {
        const name =
          t._tag === "Model" && t.heads.length === 0 ? (averaged.get(t.model) ?? t.model) : undefined
        // a custom or loaded model's heads are unknown before it is built: let it through
        return name !== undefined && own(p.models, name) !== undefined && (info.heads(name)?.length ?? 2) > 1
      })
      if (ev.earlyExit.length > 0 && !multi)
        add([...ep, "earlyExit"], "early exit needs a model target with several heads (a ResNet with exits)")
    }
    if (ev.fewShot !== undefined)
      issues.push(
        ...FewShot.check(ev.fewShot, [...ep, "fewShot"], {
          classes: FewShot.sourceClasses(p.data),
          hasValidation: p.data.validation > 0 || p.data.source === "folder",
          known,
          defaults: ev.targets.flatMap((t) => (t._tag === "Model" && t.heads.length === 0 ? [t.model] : [])),
          taps: (m) => info.taps(averaged.get(m) ?? m),
          trained: p.phases
            .slice(0, i + 1)
            .map((q) => ({ phase: q.name, ...(q.data.classes ? { classes: q.data.classes } : {}) })),
        }),
      )
    if (ev.metrics.includes("agreement")) {
      if (ev.reference === undefined)
        add([...ep, "reference"], "the agreement metric needs a reference model")
      else if (!known.has(ev.reference)) add([...ep, "reference"], `unknown model "${clip(ev.reference)}"`)
    }
  })
  return issues
}

const folderOnly = ["size", "channels", "fit", "test", "strict"] as const

/** The data fields each source uses, their ranges, and the normalisation's channel count. */
const checkData = (d: Pipeline.Data, add: (path: Path, message: string) => void) => {
  const src = d.source
  if (src === "folder") {
    if (d.path === undefined || d.path.trim() === "")
      add(["data", "path"], "a folder source needs the path of its image folder")
  } else {
    for (const k of folderOnly)
      if (d[k] !== undefined) add(["data", k], `"${k}" applies to a folder source only (this one is ${src})`)
    if (d.path !== undefined && src !== "cifar10" && src !== "cifar100")
      add(["data", "path"], `"path" applies to folder and CIFAR sources only (this one is ${src})`)
  }
  if (d.labels !== undefined && src !== "cifar100")
    add(["data", "labels"], `"labels" (fine or coarse) applies to cifar100 only (this one is ${src})`)
  if (d.name !== undefined && src !== "custom")
    add(["data", "name"], `"name" applies to a custom source only (this one is ${src})`)
  if (d.test !== undefined && !(d.test >= 0 && (d.test < 1 || Number.isInteger(d.test))))
    add(["data", "test"], `must be a count or a fraction in [0, 1), got ${d.test}`)
  if (d.validation > 0 && !(d.validation < 1 || Number.isInteger(d.validation)))
    add(["data", "validation"], `must be a count or a fraction in (0, 1), got ${d.validation}`)
  if (
    d.test !== undefined &&
    d.test > 0 &&
    d.test < 1 &&
    d.validation > 0 &&
    d.validation < 1 &&
    d.test + d.validation >= 1
  )
    add(["data"], `validation ${d.validation} + test ${d.test} leave no training images`)
  if (typeof d.normalize === "object") {
    const issues: Array<Model.Issue> = []
    Model.checkNormalize(issues, "normalize", d.normalize)
    for (const i of issues)
      add(
        [
          "data",
          ...i.path
            .split(/[.[\]]/)
            .filter((seg) => seg !== "")
            .map((seg) => (/^\d+$/.test(seg) ? Number(seg) : seg)),
        ],
        i.message,
      )
    const channels =
      src === "mnist" || src === "fashion-mnist" || src === "fashion-or-mnist"
        ? 1
        : src === "folder"
          ? (d.channels ?? 3)
          : src === "custom"
            ? undefined
            : 3
    if (channels !== undefined && d.normalize.mean.length !== 1 && d.normalize.mean.length !== channels)
      add(
        ["data", "normalize"],
        `${d.normalize.mean.length} means for ${channels}-channel images (give ${channels === 1 ? "one" : `${channels} or one`})`,
      )
  }
}

/** Architecture only: dropout and drop-path rates do not change parameter shapes. */
const stripDropout = (m: Model.Model): unknown =>
  JSON.parse(JSON.stringify(m, (k, v) => (k === "dropout" || k === "dropPath" ? undefined : v)))
