/**
 * Loss terms: what a step minimises, described as data.
 *
 * Every loss reads named values from the step's blackboard (`"s"`, `"t"`, `"s.block2"`, `"y"`)
 * and records, in its type, which names it reads — so that `Step.loss` can refuse, at compile
 * time, a term that reads a name no earlier stage wrote. Any operand can be wrapped in
 * {@link detach} (stop-gradient). Terms are mixed by `Step.loss` with weights that are numbers or
 * ramps.
 *
 * @example
 * ```ts
 * import { Loss, Ramp } from "retort/dsl"
 * const ce = Loss.crossEntropy({ logits: "s" })
 * const kd = Loss.kl({ teacher: "t", student: "s", temperature: 4 })
 * const hint = Loss.hint({ student: "s.block1", teacher: Loss.detach("t.block3") })
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Ramp from "./Ramp.js"

type Num = Ramp.Num

/**
 * A stop-gradient wrapper around a blackboard name.
 *
 * @since 0.1.0
 * @category models
 */
export interface Detach<N extends string = string> {
  readonly _tag: "Detach"
  readonly name: N
}

/**
 * An operand of a loss: a blackboard name, or a detached one.
 *
 * @since 0.1.0
 * @category models
 */
export type Ref<N extends string = string> = N | Detach<N>

/**
 * The name an operand reads.
 *
 * @since 0.1.0
 * @category type-level
 */
export type NameOf<R> = R extends Detach<infer N> ? N : R extends string ? R : never

/**
 * Stop the gradient through an operand: the value is used, but no gradient flows back into
 * the model that produced it.
 *
 * @example
 * ```ts
 * import { Loss } from "retort/dsl"
 * // cosub: each submodel is the other's soft target, with stop-gradient
 * const term = Loss.bce({ logits: "o1", teacher: Loss.detach("o2") })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const detach = <const N extends string>(name: N | Detach<N>): Detach<N> =>
  typeof name === "string" ? { _tag: "Detach", name } : name

/**
 * The name behind an operand.
 *
 * @example
 * ```ts
 * import { Loss } from "retort/dsl"
 * Loss.refName(Loss.detach("t")) // "t"
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const refName = (ref: Ref): string => (typeof ref === "string" ? ref : ref.name)

/**
 * Whether an operand is detached.
 *
 * @since 0.1.0
 * @category getters
 */
export const isDetached = (ref: Ref): boolean => typeof ref !== "string"

/** Phantom marker: the names a loss reads. Never present at run time. */
interface Reads<R extends string> {
  readonly "~reads"?: R
}

/**
 * Cross-entropy of logits against the labels (hard or soft, e.g. after mixup), with optional
 * label smoothing.
 *
 * @since 0.1.0
 * @category models
 */
export interface CrossEntropy<R extends string = string> extends Reads<R> {
  readonly _tag: "CrossEntropy"
  readonly logits: Ref
  readonly labels: Ref
  readonly smoothing: Num
}

/**
 * Focal loss: cross-entropy down-weighted on confident samples by `(1 − p)^γ`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Focal<R extends string = string> extends Reads<R> {
  readonly _tag: "Focal"
  readonly logits: Ref
  readonly labels: Ref
  readonly gamma: Num
}

/**
 * Binary cross-entropy with soft targets, per class (as cosub and DeiT III use). The target is
 * either the labels (`labels`) or the sigmoid of another model's logits (`teacher`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Bce<R extends string = string> extends Reads<R> {
  readonly _tag: "Bce"
  readonly logits: Ref
  readonly target:
    | { readonly _tag: "Labels"; readonly ref: Ref }
    | { readonly _tag: "Logits"; readonly ref: Ref }
}

/**
 * Direction of a KL divergence between teacher `p_t` and student `p_s`: `forward` is
 * KL(p_t ‖ p_s) (Hinton), `reverse` is KL(p_s ‖ p_t), `symmetric` is their mean.
 *
 * @since 0.1.0
 * @category models
 */
export type Direction = "forward" | "reverse" | "symmetric"

/**
 * KL divergence between temperature-softened distributions, scaled by T².
 *
 * @since 0.1.0
 * @category models
 */
export interface Kl<R extends string = string> extends Reads<R> {
  readonly _tag: "Kl"
  readonly teacher: Ref
  readonly student: Ref
  readonly temperature: Num
  readonly direction: Direction
}

/**
 * Hard-label distillation: cross-entropy of the student against the teacher's argmax (DeiT).
 *
 * @since 0.1.0
 * @category models
 */
export interface HardDistill<R extends string = string> extends Reads<R> {
  readonly _tag: "HardDistill"
  readonly teacher: Ref
  readonly student: Ref
}

/**
 * TST's augmenter objective (Teach what the Teacher should Teach): on augmented images, the
 * teacher should stay right and the student be wrong,
 * `L = mean_b[−Σ_k y_k·log p_t,k − Σ_k y_k·log(1 − p_s,k)]` with `p = softmax(logits)` — minimised
 * by the augmenter that produces the images (through evaluation-mode forwards of both models).
 *
 * @since 0.1.0
 * @category models
 */
export interface Tst<R extends string = string> extends Reads<R> {
  readonly _tag: "Tst"
  readonly teacher: Ref
  readonly student: Ref
  readonly labels: Ref
}

/**
 * Feature (hint) distillation: mean squared distance between a student tap and a teacher tap,
 * optionally through a learned linear projection of the student feature (FitNets). The
 * projection's parameters are trained with the model that produced the student tap.
 *
 * @since 0.1.0
 * @category models
 */
export interface Hint<R extends string = string> extends Reads<R> {
  readonly _tag: "Hint"
  readonly student: Ref
  readonly teacher: Ref
  readonly projection: boolean
  readonly normalize: boolean
}

/**
 * Relation distillation: match the batch Gram matrices of L2-normalised student and teacher
 * features (`gram`, mean squared error), or the row-softmax of those relation maps with KL
 * (`softmax`, TinyMIM-style). Feature widths may differ: relations are batch × batch. With
 * `normalize: false` the features are not L2-normalised first: `gram` is then the plain
 * Gram-matrix MSE `mean((F_s·F_sᵀ − F_t·F_tᵀ)²)` of the reference implementations.
 *
 * @since 0.1.0
 * @category models
 */
export interface Relation<R extends string = string> extends Reads<R> {
  readonly _tag: "Relation"
  readonly student: Ref
  readonly teacher: Ref
  readonly kind: "gram" | "softmax"
  readonly temperature: Num
  /** `false`: relations of the raw features (default: L2-normalised per sample). */
  readonly normalize?: boolean
}

/**
 * Token-relation distillation (TinyMIM): per sample and per relation head `h`, the token × token
 * map `R = softmax(x_h·y_hᵀ/√d_h)` of two token features (`[batch, tokens, dim]`, e.g. a ViT
 * block's `q` and `k` taps for the q·kᵀ relation, `v` twice for v·vᵀ), split into `heads` groups
 * of `d_h = dim/heads` channels (the channel layout of the block's heads);
 * `L = mean_{b,h,i} KL(R_t[b,h,i,:] ‖ R_s[b,h,i,:])`. The maps are `[tokens, tokens]` whatever
 * the widths, so teacher and student may differ in width and head count (both widths divisible
 * by `heads`); their token counts must agree.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenRelation<R extends string = string> extends Reads<R> {
  readonly _tag: "TokenRelation"
  /** `[x, y]`: the student's relation is `softmax(x·yᵀ/√d)` */
  readonly student: readonly [Ref, Ref]
  /** `[x, y]`: the teacher's relation, the target */
  readonly teacher: readonly [Ref, Ref]
  /** the number of relation heads (TinyMIM's `Ms`) */
  readonly heads: number
}

/**
 * How {@link MultiTeacher} weighs its teachers: `softmax-loss` (BNext) gives teacher i the weight
 * `αᵢ = softmax_j(L_j)ᵢ` of the per-teacher losses, per sample and detached (the teacher the
 * student is furthest from counts most); `mean` gives every teacher `1/n`.
 *
 * @since 0.1.0
 * @category models
 */
export type TeacherWeighting = "softmax-loss" | "mean"

/**
 * Multi-teacher distillation (BNext's `train_assistant_group_amp.py`): per sample,
 * `L = T²·Σᵢ αᵢ·cᵢ` with `cᵢ = −Σ_k softmax(tᵢ/T)_k·log softmax(s/T)_k` the cross-entropy of the
 * student against teacher i's softened distribution and `α` the detached
 * {@link TeacherWeighting} of the `cᵢ`; the batch mean of that.
 *
 * @since 0.1.0
 * @category models
 */
export interface MultiTeacher<R extends string = string> extends Reads<R> {
  readonly _tag: "MultiTeacher"
  readonly student: Ref
  readonly teachers: ReadonlyArray<Ref>
  readonly weighting: TeacherWeighting
  readonly temperature: Num
}

/**
 * Class balance of a batch (data-free distillation): `log K − H(p̄)` with `p̄` the batch mean of
 * `softmax(logits/T)` over `K` classes — the KL divergence of the mean prediction from uniform,
 * ≥ 0, zero when the batch covers every class equally. A generator minimises it (CuDFKD's
 * entropy term: the reference adds `−λ·H(p̄)`; the gradient is the same).
 *
 * @since 0.1.0
 * @category models
 */
export interface ClassBalance<R extends string = string> extends Reads<R> {
  readonly _tag: "ClassBalance"
  readonly logits: Ref
  readonly temperature: Num
}

/**
 * The adversarial term of data-free distillation: minus the teacher–student disagreement,
 * `−mean_i mᵢ·Dᵢ`, with `Dᵢ = T²·KL(softmax(tᵢ/T) ‖ softmax(sᵢ/T))` (`distance: "kl"`) or
 * `Dᵢ = mean_k |tᵢₖ − sᵢₖ|` on logits (`"l1"`, DFAD), and `mᵢ = 1` where the two argmaxes agree
 * (`mask: "agree"`, CuDFKD's `adv_type kl`) or always (`"all"`). A generator minimising it
 * makes samples on which the student departs from the teacher.
 *
 * @since 0.1.0
 * @category models
 */
export interface Adversarial<R extends string = string> extends Reads<R> {
  readonly _tag: "Adversarial"
  readonly teacher: Ref
  readonly student: Ref
  readonly temperature: Num
  readonly distance: "kl" | "l1"
  readonly mask: "agree" | "all"
}

/**
 * Batch-norm statistics matching (DeepInversion): `Σ_layers ‖μ_batch − μ_running‖ᵖ +
 * ‖σ²_batch − σ²_running‖ᵖ` over batch-norm gap taps (`"t.bn0"`, … of a `Model.cnn` with
 * `batchNorm`), with `p = 2` (`norm: "squared"`) or the plain L2 norm (`"l2"`, as the
 * reference's `DeepInversionHook`).
 *
 * @since 0.1.0
 * @category models
 */
export interface BnStatistics<R extends string = string> extends Reads<R> {
  readonly _tag: "BnStatistics"
  readonly taps: ReadonlyArray<Ref>
  readonly norm: "squared" | "l2"
}

/**
 * Self-paced (curriculum) distillation, CuDFKD: per sample `lᵢ = T²·KL(softmax(tᵢ/T) ‖
 * softmax(sᵢ/T))`, weighted by `vᵢ(λ)` (detached) and averaged over the batch. `hard`: `vᵢ =
 * [lᵢ < λ]`; `soft`: `vᵢ = max(0, 1 − lᵢ/λ)`; `log`: `vᵢ = (1 + e^{−λ}) / (1 + e^{lᵢ − λ})`. With
 * `λ` a ramp that grows, the student learns the easy samples first, the hard ones later.
 *
 * @since 0.1.0
 * @category models
 */
export interface Curriculum<R extends string = string> extends Reads<R> {
  readonly _tag: "Curriculum"
  readonly teacher: Ref
  readonly student: Ref
  readonly temperature: Num
  readonly lambda: Num
  readonly weighting: "hard" | "soft" | "log"
}

/**
 * How a {@link Prototype} term compares a projected student feature with its class prototype:
 * `mse` is the mean squared difference, `cosine` is `1 − cos`.
 *
 * @since 0.1.0
 * @category models
 */
export type PrototypeDistance = "mse" | "cosine"

/**
 * Prototype guidance (ProC-KD, cross-task): class prototypes `μ_k` are the running means of a
 * (frozen) teacher's feature over every sample of class `k` seen so far in the phase — the
 * teacher's features of the *student's* classes, which the teacher itself may never have been
 * trained on — and each sample's student feature, through a learned projection, is pulled to the
 * prototype of its label: `L = mean_i d(P(sᵢ), Σ_k yᵢₖ·μ_k)` with `d` a {@link PrototypeDistance}.
 * The teacher's logits are never read, so teacher and student label spaces may differ. The
 * prototypes are training state (updated once per step from the current batch before use, kept
 * across steps and in checkpoints) and carry no gradient.
 *
 * @since 0.1.0
 * @category models
 */
export interface Prototype<R extends string = string> extends Reads<R> {
  readonly _tag: "Prototype"
  readonly student: Ref
  readonly teacher: Ref
  readonly labels: Ref
  readonly distance: PrototypeDistance
  readonly projection: boolean
}

/**
 * A loss term.
 *
 * @since 0.1.0
 * @category models
 */
export type Loss<R extends string = string> =
  | CrossEntropy<R>
  | Focal<R>
  | Bce<R>
  | Kl<R>
  | HardDistill<R>
  | Tst<R>
  | Hint<R>
  | Relation<R>
  | TokenRelation<R>
  | MultiTeacher<R>
  | ClassBalance<R>
  | Adversarial<R>
  | BnStatistics<R>
  | Curriculum<R>
  | Prototype<R>

/**
 * The names a loss (or a record of losses) reads, at the type level.
 *
 * @since 0.1.0
 * @category type-level
 */
export type ReadsOf<L> = L extends Reads<infer R> ? R : never

/**
 * Cross-entropy against the labels `y` (or another label name), with optional label smoothing.
 *
 * @example
 * ```ts
 * import { Loss } from "retort/dsl"
 * const ce = Loss.crossEntropy({ logits: "s", smoothing: 0.1 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const crossEntropy: {
  <const L extends Ref, const Y extends Ref>(options: {
    readonly logits: L
    readonly labels: Y
    readonly smoothing?: Num
  }): CrossEntropy<NameOf<L> | NameOf<Y>>
  <const L extends Ref>(options: {
    readonly logits: L
    readonly smoothing?: Num
  }): CrossEntropy<NameOf<L> | "y">
} = (options: {
  readonly logits: Ref
  readonly labels?: Ref
  readonly smoothing?: Num
}): CrossEntropy<any> => ({
  _tag: "CrossEntropy",
  logits: options.logits,
  labels: options.labels ?? "y",
  smoothing: options.smoothing ?? 0,
})

/**
 * Focal loss with focusing parameter γ (a number or a ramp; γ = 0 is cross-entropy).
 *
 * @example
 * ```ts
 * import { Loss, Ramp } from "retort/dsl"
 * const focal = Loss.focal({ logits: "s", gamma: Ramp.linear({ from: 0, to: 2 }) })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const focal: {
  <const L extends Ref, const Y extends Ref>(options: {
    readonly logits: L
    readonly labels: Y
    readonly gamma?: Num
  }): Focal<NameOf<L> | NameOf<Y>>
  <const L extends Ref>(options: { readonly logits: L; readonly gamma?: Num }): Focal<NameOf<L> | "y">
} = (options: { readonly logits: Ref; readonly labels?: Ref; readonly gamma?: Num }): Focal<any> => ({
  _tag: "Focal",
  logits: options.logits,
  labels: options.labels ?? "y",
  gamma: options.gamma ?? 2,
})

/**
 * Binary cross-entropy per class. Give `labels` (default `"y"`) for label targets, or
 * `teacher` for the sigmoid of another output as a soft target (usually detached).
 *
 * @example
 * ```ts
 * import { Loss } from "retort/dsl"
 * const onLabels = Loss.bce({ logits: "o1" })
 * const mutual = Loss.bce({ logits: "o1", teacher: Loss.detach("o2") })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const bce: {
  <const L extends Ref, const T extends Ref>(options: {
    readonly logits: L
    readonly teacher: T
  }): Bce<NameOf<L> | NameOf<T>>
  <const L extends Ref, const Y extends Ref>(options: {
    readonly logits: L
    readonly labels: Y
  }): Bce<NameOf<L> | NameOf<Y>>
  <const L extends Ref>(options: { readonly logits: L }): Bce<NameOf<L> | "y">
} = (options: { readonly logits: Ref; readonly labels?: Ref; readonly teacher?: Ref }): Bce<any> => ({
  _tag: "Bce",
  logits: options.logits,
  target:
    options.teacher !== undefined
      ? { _tag: "Logits", ref: options.teacher }
      : { _tag: "Labels", ref: options.labels ?? "y" },
})

/**
 * Temperature-scaled KL divergence between teacher and student outputs, times T² (Hinton et
 * al.). The teacher operand is usually a frozen model's output; detach it when it is not.
 *
 * @example
 * ```ts
 * import { Loss, Ramp } from "retort/dsl"
 * const kd = Loss.kl({ teacher: "t", student: "s", temperature: 4 })
 * const sd = Loss.kl({ teacher: Loss.detach("b"), student: "a", direction: "reverse" })
 * const warm = Loss.kl({ teacher: "t", student: "s", temperature: Ramp.linear({ from: 8, to: 2 }) })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const kl = <const T extends Ref, const S extends Ref>(options: {
  readonly teacher: T
  readonly student: S
  readonly temperature?: Num
  readonly direction?: Direction
}): Kl<NameOf<T> | NameOf<S>> => ({
  _tag: "Kl",
  teacher: options.teacher,
  student: options.student,
  temperature: options.temperature ?? 1,
  direction: options.direction ?? "forward",
})

/**
 * Hard-label distillation: the student is trained with cross-entropy on the teacher's argmax.
 *
 * @example
 * ```ts
 * import { Loss } from "retort/dsl"
 * const hard = Loss.hardDistill({ teacher: "t", student: "s.dist" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const hardDistill = <const T extends Ref, const S extends Ref>(options: {
  readonly teacher: T
  readonly student: S
}): HardDistill<NameOf<T> | NameOf<S>> => ({
  _tag: "HardDistill",
  teacher: options.teacher,
  student: options.student,
})

/**
 * TST's augmenter objective: `−log p_t(y) − log(1 − p_s(y))` per sample, averaged — small where
 * the teacher is right and the student wrong on the augmented image (labels `"y"` by default).
 *
 * @example
 * ```ts
 * import { Loss } from "retort/dsl"
 * const hard = Loss.tst({ teacher: "ta", student: "sa" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const tst = <const T extends Ref, const S extends Ref>(options: {
  readonly teacher: T
  readonly student: S
}): Tst<NameOf<T> | NameOf<S> | "y"> => ({
  _tag: "Tst",
  teacher: options.teacher,
  student: options.student,
  labels: "y",
})

/**
 * Feature hint: mean squared error between a student tap and a teacher tap, with an optional
 * learned projection (needed when the widths differ) and optional L2 normalisation.
 *
 * @example
 * ```ts
 * import { Loss } from "retort/dsl"
 * const hint = Loss.hint({ student: "s.hidden0", teacher: Loss.detach("t.dense0"), projection: true })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const hint = <const S extends Ref, const T extends Ref>(options: {
  readonly student: S
  readonly teacher: T
  readonly projection?: boolean
  readonly normalize?: boolean
}): Hint<NameOf<S> | NameOf<T>> => ({
  _tag: "Hint",
  student: options.student,
  teacher: options.teacher,
  projection: options.projection ?? false,
  normalize: options.normalize ?? false,
})

/**
 * Relation distillation between batch relation maps of two features.
 *
 * @example
 * ```ts
 * import { Loss } from "retort/dsl"
 * const rel = Loss.relation({ student: "s.hidden1", teacher: "t.flat", kind: "softmax", temperature: 0.1 })
 * const plainGram = Loss.relation({ student: "s.hidden1", teacher: "t.flat", normalize: false })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const relation = <const S extends Ref, const T extends Ref>(options: {
  readonly student: S
  readonly teacher: T
  readonly kind?: "gram" | "softmax"
  readonly temperature?: Num
  readonly normalize?: boolean
}): Relation<NameOf<S> | NameOf<T>> => ({
  _tag: "Relation",
  student: options.student,
  teacher: options.teacher,
  kind: options.kind ?? "gram",
  temperature: options.temperature ?? 1,
  ...(options.normalize === false ? { normalize: false } : {}),
})

/**
 * Token-relation distillation (TinyMIM) between two pairs of token features: `[x, y]` of the
 * student and of the teacher, each `[batch, tokens, dim]`, compared through `heads` per-head
 * `softmax(x·yᵀ/√d)` maps with KL(teacher ‖ student). `heads` defaults to 1.
 *
 * @example
 * ```ts
 * import { Loss } from "retort/dsl"
 * // q·kᵀ and v·vᵀ relations of the student's last block against the teacher's block 1
 * const qk = Loss.tokenRelation({ student: ["s.block1/q", "s.block1/k"], teacher: ["t.block1/q", "t.block1/k"], heads: 2 })
 * const vv = Loss.tokenRelation({ student: ["s.block1/v", "s.block1/v"], teacher: ["t.block1/v", "t.block1/v"], heads: 2 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const tokenRelation = <
  const SX extends Ref,
  const SY extends Ref,
  const TX extends Ref,
  const TY extends Ref,
>(options: {
  readonly student: readonly [SX, SY]
  readonly teacher: readonly [TX, TY]
  readonly heads?: number
}): TokenRelation<NameOf<SX> | NameOf<SY> | NameOf<TX> | NameOf<TY>> => ({
  _tag: "TokenRelation",
  student: [options.student[0], options.student[1]],
  teacher: [options.teacher[0], options.teacher[1]],
  heads: options.heads ?? 1,
})

/**
 * Distillation from several teachers at once, weighted per sample by how far the student is from
 * each (`weighting: "softmax-loss"`, BNext's default) or equally (`"mean"`). Each teacher's term is
 * the cross-entropy of the student against that teacher's softmax (at temperature T, times T²);
 * the weights are detached, so no gradient flows through them.
 *
 * @example
 * ```ts
 * import { Loss } from "retort/dsl"
 * const mt = Loss.multiTeacher({ student: "s", teachers: ["t1", "t2"] })
 * const equal = Loss.multiTeacher({ student: "s", teachers: ["t1", "t2"], weighting: "mean", temperature: 2 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const multiTeacher = <const S extends Ref, const T extends ReadonlyArray<Ref>>(options: {
  readonly student: S
  readonly teachers: T
  readonly weighting?: TeacherWeighting
  readonly temperature?: Num
}): MultiTeacher<NameOf<S> | NameOf<T[number]>> => ({
  _tag: "MultiTeacher",
  student: options.student,
  teachers: [...options.teachers],
  weighting: options.weighting ?? "softmax-loss",
  temperature: options.temperature ?? 1,
})

/**
 * Class balance `log K − H(mean softmax(logits/T))` (data-free distillation's entropy term).
 *
 * @example
 * ```ts
 * import { Loss } from "retort/dsl"
 * const balance = Loss.classBalance({ logits: "tg", temperature: 20 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const classBalance = <const L extends Ref>(options: {
  readonly logits: L
  readonly temperature?: Num
}): ClassBalance<NameOf<L>> => ({
  _tag: "ClassBalance",
  logits: options.logits,
  temperature: options.temperature ?? 1,
})

/**
 * Minus the teacher–student disagreement (a generator's adversarial term). Defaults: KL at T = 3,
 * masked to the samples whose argmaxes agree (CuDFKD).
 *
 * @example
 * ```ts
 * import { Loss } from "retort/dsl"
 * const adv = Loss.adversarial({ teacher: "tg", student: "sg" })
 * const dfad = Loss.adversarial({ teacher: "tg", student: "sg", distance: "l1", mask: "all" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const adversarial = <const T extends Ref, const S extends Ref>(options: {
  readonly teacher: T
  readonly student: S
  readonly temperature?: Num
  readonly distance?: "kl" | "l1"
  readonly mask?: "agree" | "all"
}): Adversarial<NameOf<T> | NameOf<S>> => ({
  _tag: "Adversarial",
  teacher: options.teacher,
  student: options.student,
  temperature: options.temperature ?? 3,
  distance: options.distance ?? "kl",
  mask: options.mask ?? "agree",
})

/**
 * Batch-norm statistics matching on gap taps (`Model.cnn` with `batchNorm`: `bn0`, `bn1`, …).
 *
 * @example
 * ```ts
 * import { Loss } from "retort/dsl"
 * const bn = Loss.bnStatistics({ taps: ["tg.bn0", "tg.bn1"], norm: "l2" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const bnStatistics = <const T extends ReadonlyArray<Ref>>(options: {
  readonly taps: T
  readonly norm?: "squared" | "l2"
}): BnStatistics<NameOf<T[number]>> => ({
  _tag: "BnStatistics",
  taps: [...options.taps],
  norm: options.norm ?? "squared",
})

/**
 * Self-paced curriculum distillation with threshold `λ` (a number or a growing ramp).
 *
 * @example
 * ```ts
 * import { Loss, Ramp } from "retort/dsl"
 * const cur = Loss.curriculum({ teacher: "t", student: "s", lambda: Ramp.linear({ from: 0.5, to: 4 }) })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const curriculum = <const T extends Ref, const S extends Ref>(options: {
  readonly teacher: T
  readonly student: S
  readonly lambda: Num
  readonly temperature?: Num
  readonly weighting?: "hard" | "soft" | "log"
}): Curriculum<NameOf<T> | NameOf<S>> => ({
  _tag: "Curriculum",
  teacher: options.teacher,
  student: options.student,
  temperature: options.temperature ?? 1,
  lambda: options.lambda,
  weighting: options.weighting ?? "log",
})

/**
 * Prototype guidance from a teacher's tap (ProC-KD): the student tap, through a learned projection
 * (default on: the widths usually differ), is pulled to the running per-class mean of the teacher
 * tap over the samples of its label (`labels`, default `"y"`). Distance `mse` (default) or
 * `cosine`.
 *
 * @example
 * ```ts
 * import { Loss } from "retort/dsl"
 * const proto = Loss.prototype({ student: "s.dense0", teacher: "t.dense0" })
 * const cos = Loss.prototype({ student: "s.flat", teacher: "t.dense0", distance: "cosine" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const prototype: {
  <const S extends Ref, const T extends Ref, const Y extends Ref>(options: {
    readonly student: S
    readonly teacher: T
    readonly labels: Y
    readonly distance?: PrototypeDistance
    readonly projection?: boolean
  }): Prototype<NameOf<S> | NameOf<T> | NameOf<Y>>
  <const S extends Ref, const T extends Ref>(options: {
    readonly student: S
    readonly teacher: T
    readonly distance?: PrototypeDistance
    readonly projection?: boolean
  }): Prototype<NameOf<S> | NameOf<T> | "y">
} = (options: {
  readonly student: Ref
  readonly teacher: Ref
  readonly labels?: Ref
  readonly distance?: PrototypeDistance
  readonly projection?: boolean
}): Prototype<any> => ({
  _tag: "Prototype",
  student: options.student,
  teacher: options.teacher,
  labels: options.labels ?? "y",
  distance: options.distance ?? "mse",
  projection: options.projection ?? true,
})

/**
 * Every operand a loss reads, in order (with detach flags).
 *
 * @example
 * ```ts
 * import { Loss } from "retort/dsl"
 * Loss.operands(Loss.kl({ teacher: "t", student: "s" })) // [{ role: "teacher", ref: "t" }, { role: "student", ref: "s" }]
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const operands = (loss: Loss): ReadonlyArray<{ readonly role: string; readonly ref: Ref }> => {
  switch (loss._tag) {
    case "CrossEntropy":
    case "Focal":
      return [
        { role: "logits", ref: loss.logits },
        { role: "labels", ref: loss.labels },
      ]
    case "Bce":
      return [
        { role: "logits", ref: loss.logits },
        { role: loss.target._tag === "Labels" ? "labels" : "teacher", ref: loss.target.ref },
      ]
    case "Kl":
    case "HardDistill":
      return [
        { role: "teacher", ref: loss.teacher },
        { role: "student", ref: loss.student },
      ]
    case "Tst":
      return [
        { role: "teacher", ref: loss.teacher },
        { role: "student", ref: loss.student },
        { role: "labels", ref: loss.labels },
      ]
    case "Hint":
    case "Relation":
      return [
        { role: "student", ref: loss.student },
        { role: "teacher", ref: loss.teacher },
      ]
    case "TokenRelation":
      return [
        { role: "student.0", ref: loss.student[0] },
        { role: "student.1", ref: loss.student[1] },
        { role: "teacher.0", ref: loss.teacher[0] },
        { role: "teacher.1", ref: loss.teacher[1] },
      ]
    case "MultiTeacher":
      return [
        { role: "student", ref: loss.student },
        ...loss.teachers.map((ref, i) => ({ role: `teachers.${i}`, ref })),
      ]
    case "ClassBalance":
      return [{ role: "logits", ref: loss.logits }]
    case "Adversarial":
    case "Curriculum":
      return [
        { role: "teacher", ref: loss.teacher },
        { role: "student", ref: loss.student },
      ]
    case "BnStatistics":
      return loss.taps.map((ref, i) => ({ role: `taps.${i}`, ref }))
    case "Prototype":
      return [
        { role: "student", ref: loss.student },
        { role: "teacher", ref: loss.teacher },
        { role: "labels", ref: loss.labels },
      ]
  }
}

/**
 * The numeric hyper-parameters of a loss (for validation and reporting).
 *
 * @since 0.1.0
 * @category getters
 */
export const hyperParameters = (loss: Loss): Readonly<Record<string, Num>> => {
  switch (loss._tag) {
    case "CrossEntropy":
      return { smoothing: loss.smoothing }
    case "Focal":
      return { gamma: loss.gamma }
    case "Kl":
      return { temperature: loss.temperature }
    case "Relation":
    case "MultiTeacher":
    case "ClassBalance":
    case "Adversarial":
      return { temperature: loss.temperature }
    case "Curriculum":
      return { temperature: loss.temperature, lambda: loss.lambda }
    case "BnStatistics":
      return {}
    case "Bce":
    case "HardDistill":
    case "Hint":
    case "TokenRelation":
    case "Prototype":
    case "Tst":
      return {}
  }
}

/**
 * A one-line human description.
 *
 * @example
 * ```ts
 * import { Loss } from "retort/dsl"
 * Loss.describe(Loss.kl({ teacher: "t", student: "s", temperature: 4 })) // "kl(t ‖ s, T=4)"
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const describe = (loss: Loss): string => {
  const r = (ref: Ref) => (typeof ref === "string" ? ref : `sg(${ref.name})`)
  const n = (num: Num) => Ramp.describe(num)
  switch (loss._tag) {
    case "CrossEntropy":
      return `ce(${r(loss.logits)}, ${r(loss.labels)}${loss.smoothing === 0 ? "" : `, smoothing=${n(loss.smoothing)}`})`
    case "Focal":
      return `focal(${r(loss.logits)}, ${r(loss.labels)}, γ=${n(loss.gamma)})`
    case "Bce":
      return `bce(${r(loss.logits)}, ${loss.target._tag === "Labels" ? r(loss.target.ref) : `σ(${r(loss.target.ref)})`})`
    case "Kl": {
      const arrow = loss.direction === "forward" ? "‖" : loss.direction === "reverse" ? "‖ᵣ" : "‖ₛ"
      return `kl(${r(loss.teacher)} ${arrow} ${r(loss.student)}, T=${n(loss.temperature)})`
    }
    case "HardDistill":
      return `hard(${r(loss.teacher)} → ${r(loss.student)})`
    case "Tst":
      return `tst(${r(loss.teacher)} right, ${r(loss.student)} wrong on ${r(loss.labels)})`
    case "Hint":
      return `hint(${r(loss.student)} ≈ ${r(loss.teacher)}${loss.projection ? ", proj" : ""})`
    case "Relation":
      return `relation(${r(loss.student)} ≈ ${r(loss.teacher)}, ${loss.kind}${loss.normalize === false ? ", unnormalised" : ""})`
    case "TokenRelation":
      return `tokenRelation(softmax(${r(loss.student[0])}·${r(loss.student[1])}ᵀ) ≈ softmax(${r(loss.teacher[0])}·${r(loss.teacher[1])}ᵀ), heads=${loss.heads})`
    case "ClassBalance":
      return `classBalance(${r(loss.logits)}, T=${n(loss.temperature)})`
    case "Adversarial":
      return `−${loss.distance}(${r(loss.teacher)}, ${r(loss.student)}, T=${n(loss.temperature)}${loss.mask === "agree" ? ", where argmax agrees" : ""})`
    case "BnStatistics":
      return `bnStatistics(${loss.taps.map(r).join(", ")}, ${loss.norm})`
    case "Curriculum":
      return `curriculum(${r(loss.teacher)} ‖ ${r(loss.student)}, T=${n(loss.temperature)}, λ=${n(loss.lambda)}, ${loss.weighting})`
    case "MultiTeacher":
      return `multiTeacher(${loss.teachers.map(r).join(", ")} → ${r(loss.student)}, ${loss.weighting}, T=${n(loss.temperature)})`
    case "Prototype":
      return `prototype(${r(loss.student)}${loss.projection ? " (proj)" : ""} → μ_${r(loss.labels)}(${r(loss.teacher)}), ${loss.distance})`
  }
}

// ---------------------------------------------------------------------------------------------
// Codec
// ---------------------------------------------------------------------------------------------

const DetachSchema = Schema.Struct({ _tag: Schema.Literal("Detach"), name: Schema.String })
/**
 * Schema of an operand.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RefSchema: Schema.Codec<Ref> = Schema.Union([Schema.String, DetachSchema])

const Num = Ramp.NumSchema

/**
 * Schema of every loss term (JSON-friendly).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Loss } from "retort/dsl"
 * const decoded = Schema.decodeUnknownSync(Loss.schema)({ _tag: "Kl", teacher: "t", student: "s", temperature: 4, direction: "forward" })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema: Schema.Codec<Loss> = Schema.Union([
  Schema.Struct({
    _tag: Schema.Literal("CrossEntropy"),
    logits: RefSchema,
    labels: RefSchema,
    smoothing: Num,
  }),
  Schema.Struct({ _tag: Schema.Literal("Focal"), logits: RefSchema, labels: RefSchema, gamma: Num }),
  Schema.Struct({
    _tag: Schema.Literal("Bce"),
    logits: RefSchema,
    target: Schema.Union([
      Schema.Struct({ _tag: Schema.Literal("Labels"), ref: RefSchema }),
      Schema.Struct({ _tag: Schema.Literal("Logits"), ref: RefSchema }),
    ]),
  }),
  Schema.Struct({
    _tag: Schema.Literal("Kl"),
    teacher: RefSchema,
    student: RefSchema,
    temperature: Num,
    direction: Schema.Literals(["forward", "reverse", "symmetric"]),
  }),
  Schema.Struct({ _tag: Schema.Literal("HardDistill"), teacher: RefSchema, student: RefSchema }),
  Schema.Struct({ _tag: Schema.Literal("Tst"), teacher: RefSchema, student: RefSchema, labels: RefSchema }),
  Schema.Struct({
    _tag: Schema.Literal("Hint"),
    student: RefSchema,
    teacher: RefSchema,
    projection: Schema.Boolean,
    normalize: Schema.Boolean,
  }),
  Schema.Struct({
    _tag: Schema.Literal("Relation"),
    student: RefSchema,
    teacher: RefSchema,
    kind: Schema.Literals(["gram", "softmax"]),
    temperature: Num,
    normalize: Schema.optionalKey(Schema.Boolean),
  }),
  Schema.Struct({
    _tag: Schema.Literal("TokenRelation"),
    student: Schema.Tuple([RefSchema, RefSchema]),
    teacher: Schema.Tuple([RefSchema, RefSchema]),
    heads: Schema.Finite,
  }),
  Schema.Struct({
    _tag: Schema.Literal("MultiTeacher"),
    student: RefSchema,
    teachers: Schema.Array(RefSchema),
    weighting: Schema.Literals(["softmax-loss", "mean"]),
    temperature: Num,
  }),
  Schema.Struct({ _tag: Schema.Literal("ClassBalance"), logits: RefSchema, temperature: Num }),
  Schema.Struct({
    _tag: Schema.Literal("Adversarial"),
    teacher: RefSchema,
    student: RefSchema,
    temperature: Num,
    distance: Schema.Literals(["kl", "l1"]),
    mask: Schema.Literals(["agree", "all"]),
  }),
  Schema.Struct({
    _tag: Schema.Literal("BnStatistics"),
    taps: Schema.Array(RefSchema),
    norm: Schema.Literals(["squared", "l2"]),
  }),
  Schema.Struct({
    _tag: Schema.Literal("Curriculum"),
    teacher: RefSchema,
    student: RefSchema,
    temperature: Num,
    lambda: Num,
    weighting: Schema.Literals(["hard", "soft", "log"]),
  }),
  Schema.Struct({
    _tag: Schema.Literal("Prototype"),
    student: RefSchema,
    teacher: RefSchema,
    labels: RefSchema,
    distance: Schema.Literals(["mse", "cosine"]),
    projection: Schema.Boolean,
  }),
])
