/**
 * The multi-teacher distillation loss (BNext): per-sample weights that are the softmax of the
 * detached per-teacher cross-entropies, checked against a float64 hand computation — values,
 * weights, and a gradient through which nothing flows into the weights.
 */
import "@tensorflow/tfjs-backend-cpu"
import "@tensorflow/tfjs-core/dist/register_all_gradients.js"
import * as tf from "@tensorflow/tfjs-core"
import { Result, Schema } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { Codec, Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../../dsl/index.js"
import * as Losses from "../../../src/compile/losses.js"
import { ShapeError } from "../../../src/errors.js"

beforeAll(async () => {
  await tf.setBackend("cpu")
})

type M = Array<Array<number>>
const sum = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a + b, 0)
const logSoftmax = (r: ReadonlyArray<number>): Array<number> => {
  const m = Math.max(...r)
  const lse = m + Math.log(sum(r.map((x) => Math.exp(x - m))))
  return r.map((x) => x - lse)
}
const softmax = (r: ReadonlyArray<number>): Array<number> => logSoftmax(r).map(Math.exp)

/** float64 reference: per-sample costs c[b][i], weights α[b][i] and the total T²·mean_b Σ α·c. */
const reference = (s: M, teachers: ReadonlyArray<M>, T: number, weighting: Loss.TeacherWeighting) => {
  const costs = s.map((row, b) => {
    const ls = logSoftmax(row.map((v) => v / T))
    return teachers.map((t) => -sum(softmax(t[b]!.map((v) => v / T)).map((p, k) => p * ls[k]!)))
  })
  const weights = costs.map((c) => (weighting === "mean" ? c.map(() => 1 / c.length) : softmax(c)))
  const total = (T * T * sum(costs.map((c, b) => sum(c.map((v, i) => weights[b]![i]! * v))))) / s.length
  return { costs, weights, total }
}

const S: M = [
  [1.5, -0.3, 0.2],
  [-1, 0.4, 2.1],
]
const T1: M = [
  [2, 0, -1],
  [0.5, 0.5, 1],
]
const T2: M = [
  [-0.5, 1.8, 0],
  [0, -2, 3],
]

const context = (board: Readonly<Record<string, tf.Tensor>>): Losses.LossContext => ({
  get: (ref) => {
    const t = board[Loss.refName(ref)]!
    return Loss.isDetached(ref) ? Losses.detach(t) : t
  },
  y: tf.tensor2d([
    [1, 0, 0],
    [0, 1, 0],
  ]),
  hyper: (num) => (typeof num === "number" ? num : Number.NaN),
  projection: () => {
    throw new Error("unused")
  },
})

const closeTo = (actual: ArrayLike<number>, expected: ReadonlyArray<number>, digits = 5) => {
  expect(actual.length).toBe(expected.length)
  expected.forEach((e, i) => {
    expect(actual[i]).toBeCloseTo(e, digits)
  })
}

describe("Loss.multiTeacher", () => {
  it("defaults to BNext's weighting at T = 1, reads the student and every teacher", () => {
    const mt = Loss.multiTeacher({ student: "s", teachers: ["t1", Loss.detach("t2")] })
    expect(mt).toEqual({
      _tag: "MultiTeacher",
      student: "s",
      teachers: ["t1", { _tag: "Detach", name: "t2" }],
      weighting: "softmax-loss",
      temperature: 1,
    })
    expect(Loss.operands(mt).map((o) => Loss.refName(o.ref))).toEqual(["s", "t1", "t2"])
    expect(Loss.describe(mt)).toBe("multiTeacher(t1, sg(t2) → s, softmax-loss, T=1)")
    const back = Schema.decodeUnknownSync(Loss.schema)(JSON.parse(JSON.stringify(mt)))
    expect(back).toEqual(mt)
  })

  for (const [weighting, T] of [
    ["softmax-loss", 1],
    ["softmax-loss", 2.5],
    ["mean", 1],
    ["mean", 3],
  ] as const)
    it(`${weighting}, T = ${T}: costs, weights and total match a float64 hand computation`, () => {
      const ref = reference(S, [T1, T2], T, weighting)
      const board = { s: tf.tensor2d(S), t1: tf.tensor2d(T1), t2: tf.tensor2d(T2) }
      const loss = Loss.multiTeacher({ student: "s", teachers: ["t1", "t2"], weighting, temperature: T })
      const parts = tf.tidy(() => {
        const r = Losses.multiTeacherTerms(loss, context(board), "mt")
        return { costs: r.costs.dataSync(), weights: r.weights.dataSync(), total: r.total.dataSync()[0]! }
      })
      closeTo(parts.costs, ref.costs.flat())
      closeTo(parts.weights, ref.weights.flat())
      for (let b = 0; b < S.length; b++)
        expect(parts.weights[2 * b]! + parts.weights[2 * b + 1]!).toBeCloseTo(1, 6)
      expect(parts.total).toBeCloseTo(ref.total, 5)
      // and through the handler table, as a step computes it
      const viaTable = tf.tidy(() => Losses.compute(loss, context(board), "mt").dataSync()[0]!)
      expect(viaTable).toBeCloseTo(ref.total, 5)
    })

  it("softmax-loss puts more weight on the teacher the student is further from", () => {
    const ref = reference(S, [T1, T2], 1, "softmax-loss")
    for (let b = 0; b < S.length; b++) {
      const [c1, c2] = ref.costs[b]!
      const [a1, a2] = ref.weights[b]!
      expect(Math.sign(a1! - a2!)).toBe(Math.sign(c1! - c2!))
    }
  })

  it("no gradient flows through the weights: ∂L/∂s = T/B·(softmax(s/T) − Σᵢ αᵢ·softmax(tᵢ/T)), α held constant", () => {
    for (const T of [1, 2]) {
      const ref = reference(S, [T1, T2], T, "softmax-loss")
      // the hand gradient with α constant: ∂cᵢ/∂s = (softmax(s/T) − pᵢ)/T, total = T²/B·Σ α·c
      const expected = S.map((row, b) => {
        const q = softmax(row.map((v) => v / T))
        const p1 = softmax(T1[b]!.map((v) => v / T))
        const p2 = softmax(T2[b]!.map((v) => v / T))
        const [a1, a2] = ref.weights[b]!
        return q.map((qk, k) => (T / S.length) * (qk - a1! * p1[k]! - a2! * p2[k]!))
      })
      const loss = Loss.multiTeacher({ student: "s", teachers: ["t1", "t2"], temperature: T })
      const t1 = tf.tensor2d(T1)
      const t2 = tf.tensor2d(T2)
      const grad = tf.tidy(() =>
        tf
          .grad((s: tf.Tensor) => Losses.compute(loss, context({ s, t1, t2 }), "mt"))(tf.tensor2d(S))
          .dataSync(),
      )
      closeTo(grad, expected.flat())

      // the gradient of the same total with α differentiated too (central differences of the
      // float64 reference) is different: the weights really are detached
      const h = 1e-5
      const full = S.flatMap((row, b) =>
        row.map((_, k) => {
          const bump = (d: number) => S.map((r, i) => r.map((v, j) => (i === b && j === k ? v + d : v)))
          return (
            (reference(bump(h), [T1, T2], T, "softmax-loss").total -
              reference(bump(-h), [T1, T2], T, "softmax-loss").total) /
            (2 * h)
          )
        }),
      )
      const gap = Math.max(...full.map((f, i) => Math.abs(f - grad[i]!)))
      expect(gap).toBeGreaterThan(1e-3)
      // and no gradient reaches the teachers' logits through the weights or the targets when detached
      const gt = tf.tidy(() =>
        tf
          .grad((t: tf.Tensor) =>
            Losses.compute(
              Loss.multiTeacher({
                student: "s",
                teachers: [Loss.detach("t1"), Loss.detach("t2")],
                temperature: T,
              }),
              context({ s: tf.tensor2d(S), t1: t, t2 }),
              "mt",
            ),
          )(t1)
          .dataSync(),
      )
      expect(Math.max(...Array.from(gt, Math.abs))).toBe(0)
      t1.dispose()
      t2.dispose()
    }
  })

  it("one teacher is plain soft-target cross-entropy, whatever the weighting", () => {
    const board = { s: tf.tensor2d(S), t1: tf.tensor2d(T1) }
    const [a, b, ce] = tf.tidy(() => [
      Losses.compute(
        Loss.multiTeacher({ student: "s", teachers: ["t1"] }),
        context(board),
        "a",
      ).dataSync()[0]!,
      Losses.compute(
        Loss.multiTeacher({ student: "s", teachers: ["t1"], weighting: "mean" }),
        context(board),
        "b",
      ).dataSync()[0]!,
      Losses.compute(Loss.crossEntropy({ logits: "s", labels: "t1" }), context(board), "ce").dataSync()[0]!,
    ])
    expect(a).toBeCloseTo(ce!, 6)
    expect(b).toBeCloseTo(ce!, 6)
  })

  it("throws a ShapeError for mismatched shapes or no teacher", () => {
    const board = { s: tf.tensor2d(S), t: tf.zeros([2, 4]) }
    expect(() =>
      Losses.compute(Loss.multiTeacher({ student: "s", teachers: ["t"] }), context(board), "mt"),
    ).toThrow(ShapeError)
    expect(() =>
      Losses.compute(Loss.multiTeacher({ student: "s", teachers: [] }), context(board), "mt"),
    ).toThrow(ShapeError)
  })

  const pipeline = (teachers: ReadonlyArray<string>, classes = 10): Pipeline.Pipeline => {
    const p = Pipeline.make({
      name: "mt",
      models: {
        a: Model.mlp({ hidden: [8], classes }),
        b: Model.mlp({ hidden: [8], classes: 10 }),
        s: Model.mlp({ hidden: [8], classes: 10 }),
      },
      phases: [
        Phase.make({
          name: "distil",
          epochs: 1,
          step: Step.start.pipe(
            Step.forward("a", { as: "ta", mode: "frozen" }),
            Step.forward("b", { as: "tb", mode: "frozen" }),
            Step.forward("s", { as: "o" }),
            Step.loss({ kd: Loss.multiTeacher({ student: "o", teachers: ["ta", "tb"] }) }),
            Step.optimize("s", Optimizer.adam({ lr: 1e-3 })),
          ),
        }),
      ],
    })
    // the same step with other teacher names (past the type-level check, as a decoded file could)
    const stages = p.phases[0]!.step.stages.map((st) =>
      st._tag === "Loss" ? { ...st, terms: { kd: Loss.multiTeacher({ student: "o", teachers }) } } : st,
    )
    return { ...p, phases: [{ ...p.phases[0]!, step: Step.make(stages) }] }
  }

  it("validates: teachers must exist, have the student's classes, and there must be one", () => {
    expect(Result.isSuccess(Codec.validate(pipeline(["ta", "tb"])))).toBe(true)
    const messages = (p: Pipeline.Pipeline) => {
      const r = Codec.validate(p)
      return Result.isFailure(r) ? r.failure.issues.map((i) => i.message).join("\n") : ""
    }
    expect(messages(pipeline(["ta", "nobody"]))).toMatch(/nobody/)
    expect(messages(pipeline(["ta", "tb"], 7))).toMatch(/7 classes/)
    expect(messages(pipeline([]))).toMatch(/at least one teacher/)
  })

  it("reading a name no stage wrote is a type error", () => {
    Step.start.pipe(
      Step.forward("t", { as: "t1", mode: "frozen" }),
      Step.forward("s", { as: "s" }),
      Step.loss({ kd: Loss.multiTeacher({ student: "s", teachers: ["t1"] }) }),
    )
    Step.start.pipe(
      Step.forward("t", { as: "t1", mode: "frozen" }),
      Step.forward("s", { as: "s" }),
      // @ts-expect-error — nothing wrote "t2"
      Step.loss({ kd: Loss.multiTeacher({ student: "s", teachers: ["t1", "t2"] }) }),
    )
  })
})
