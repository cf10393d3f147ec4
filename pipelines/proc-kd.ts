/**
 * ProC-KD — "Prototype-guided Cross-task Knowledge Distillation for Large-scale Models" (Li et al.,
 * 2022): a teacher trained on one task guides a student on *another* task (a different label
 * space) through class prototypes of the teacher's features rather than through its logits, which
 * mean nothing for the student's classes.
 *
 * Fashion-MNIST is split into two tasks: the teacher (the W2 CNN) learns classes 0–4 (T-shirt,
 * trouser, pullover, dress, coat) on all their training images; the student learns classes 5–9
 * (sandal, shirt, sneaker, bag, ankle boot) from a small sample (`limit`, default 1,000 images) —
 * images of classes the teacher never saw.
 *
 * - teacher: CE on classes A.
 * - student: CE on classes B + λ·prototype loss: per class `k` of B, the prototype `μ_k` is the
 *   running mean of the frozen teacher's `tap` (default `flat`, its last conv block) over every
 *   student-task image of class `k` seen so far in the phase (the teacher's features of the new
 *   classes); the student's `studentTap` goes through a learned linear projection to the
 *   teacher's width and is pulled to its class prototype (`Loss.prototype`, MSE or cosine).
 * - baseline: the same student on the same images, CE only.
 * - random-teacher (with `control`, default on): the proc-kd phase with the prototypes built from
 *   an untrained copy of the teacher's architecture — whether a gain comes from what the teacher
 *   learned on its own classes or from the feature pull as a regulariser.
 *
 * Both students are evaluated on the test images of classes B only (`test@c5+6+7+8+9`); the
 * teacher on those of classes A. The classifiers keep all 10 outputs (the data set's classes); a
 * phase's other classes are never a training target.
 *
 * What is simplified: the paper's prototype-learning module (prototypes learned from the teacher's
 * local part features) and its task-adaptive feature augmentation (student features enhanced with
 * the prototypes) are reduced to per-class running means of one teacher tap and a feature-to-
 * prototype pull through a projection.
 */
import { Loss, Phase, Pipeline, Step } from "../dsl/index.js"
import { adam, cnn, smallCnn } from "./common.js"

export interface Options {
  readonly seed?: number
  readonly teacherEpochs?: number
  readonly studentEpochs?: number
  /** The teacher's classes (default 0–4). */
  readonly teacherClasses?: ReadonlyArray<number>
  /** The student's classes (default: the other ones of the 10). */
  readonly studentClasses?: ReadonlyArray<number>
  /** The student sees only the first `limit` images of its classes (default 1,000). */
  readonly limit?: number
  /** The prototype loss weight λ (default 1). */
  readonly lambda?: number
  /** The teacher tap the prototypes are built from (default `flat`). */
  readonly tap?: string
  /** The student tap that is pulled to the prototypes (default `dense0`). */
  readonly studentTap?: string
  readonly distance?: Loss.PrototypeDistance
  /** `small` (default: conv 8 → conv 16 → dense 32) or the W2 `cnn`. */
  readonly student?: "small" | "cnn"
  readonly batchSize?: number
  /** Add the random-teacher control phase (default true). */
  readonly control?: boolean
}

export const make = (o: Options = {}) => {
  const teacherClasses = o.teacherClasses ?? [0, 1, 2, 3, 4]
  const studentClasses =
    o.studentClasses ?? Array.from({ length: 10 }, (_, i) => i).filter((c) => !teacherClasses.includes(c))
  const studentEpochs = o.studentEpochs ?? 15
  const limit = o.limit ?? 1000
  const lambda = o.lambda ?? 1
  const tap = o.tap ?? "flat"
  const studentTap = o.studentTap ?? "dense0"
  const distance = o.distance ?? "mse"
  const studentModel = o.student === "cnn" ? cnn() : smallCnn()
  const batchSize = o.batchSize ?? 64
  const studentData = { classes: studentClasses, limit }
  const onStudentTask = (model: string) =>
    Phase.evaluate({ models: [model], splits: [{ split: "test", classes: studentClasses }] })
  const guided = (name: string, teacher: string, student: string) =>
    Phase.make({
      name,
      epochs: studentEpochs,
      batchSize,
      data: studentData,
      step: Step.start.pipe(
        Step.forward(teacher, { as: "t", mode: "frozen", taps: [tap] }),
        Step.forward(student, { as: "s", taps: [studentTap] }),
        Step.loss(
          {
            ce: Loss.crossEntropy({ logits: "s" }),
            proto: Loss.prototype({ student: `s.${studentTap}`, teacher: `t.${tap}`, distance }),
          },
          { weights: { proto: lambda } },
        ),
        Step.optimize(student, adam),
      ),
      evaluate: onStudentTask(student),
    })
  const control = o.control ?? true
  return Pipeline.make({
    name: "proc-kd",
    description: `ProC-KD: W2 CNN teacher on classes ${teacherClasses.join(", ")}; ${o.student ?? "small"} student on ${limit} images of classes ${studentClasses.join(", ")} with CE + ${lambda}·prototype(${studentTap} → μ(teacher.${tap}), ${distance}), and the same student on CE alone${control ? "; control: prototypes from an untrained teacher" : ""}`,
    seed: o.seed ?? 1,
    data: Pipeline.data("fashion-or-mnist"),
    models: {
      teacher: cnn(),
      student: studentModel,
      baseline: studentModel,
      ...(control ? { randomTeacher: cnn(), controlStudent: studentModel } : {}),
    },
    phases: [
      Phase.make({
        name: "teacher",
        epochs: o.teacherEpochs ?? 2,
        data: { classes: teacherClasses },
        step: Step.start.pipe(
          Step.forward("teacher", { as: "t" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "t" }) }),
          Step.optimize("teacher", adam),
        ),
        evaluate: Phase.evaluate({
          models: ["teacher"],
          splits: [{ split: "test", classes: teacherClasses }],
        }),
      }),
      guided("proc-kd", "teacher", "student"),
      Phase.make({
        name: "baseline",
        epochs: studentEpochs,
        batchSize,
        data: studentData,
        step: Step.start.pipe(
          Step.forward("baseline", { as: "s" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "s" }) }),
          Step.optimize("baseline", adam),
        ),
        evaluate: onStudentTask("baseline"),
      }),
      ...(control ? [guided("random-teacher", "randomTeacher", "controlStudent")] : []),
    ],
  })
}

export default make()
