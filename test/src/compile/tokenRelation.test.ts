import "@tensorflow/tfjs-backend-cpu"
import "@tensorflow/tfjs-core/dist/register_all_gradients.js"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Result, Schema } from "effect"
import * as fc from "fast-check"
import { beforeAll, describe, expect, expectTypeOf, it } from "vitest"
import { Codec, Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../../dsl/index.js"
import * as Tinymim from "../../../pipelines/tinymim.js"
import * as Losses from "../../../src/compile/losses.js"
import { ShapeError } from "../../../src/errors.js"
import * as Models from "../../../src/models/index.js"

fc.configureGlobal({ seed: 18_2023, numRuns: 30 })

beforeAll(async () => {
  tf.env().set("IS_TEST", false)
  await tf.setBackend("cpu")
})

// ---------------------------------------------------------------------------------------------
// Float64 reference: R = softmax(x_h·y_hᵀ/√d) per head, mean over b, h, i of KL(R_t ‖ R_s)
// ---------------------------------------------------------------------------------------------

/** `[batch][tokens][dim]` */
type T3 = Array<Array<Array<number>>>

const sum = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a + b, 0)
const logSoftmax = (r: ReadonlyArray<number>): Array<number> => {
  const m = Math.max(...r)
  const lse = m + Math.log(sum(r.map((v) => Math.exp(v - m))))
  return r.map((v) => v - lse)
}

/** log R `[b][h][i][j]` */
const relationRef = (x: T3, y: T3, heads: number): Array<Array<Array<Array<number>>>> =>
  x.map((xb, b) => {
    const d = xb[0]!.length / heads
    return Array.from({ length: heads }, (_, h) =>
      xb.map((xi) =>
        logSoftmax(
          y[b]!.map(
            (yj) => sum(Array.from({ length: d }, (_, c) => xi[h * d + c]! * yj[h * d + c]!)) / Math.sqrt(d),
          ),
        ),
      ),
    )
  })

const tokenRelationRef = (s: [T3, T3], t: [T3, T3], heads: number): number => {
  const ls = relationRef(s[0], s[1], heads)
  const lt = relationRef(t[0], t[1], heads)
  const rows: Array<number> = []
  lt.forEach((tb, b) => {
    tb.forEach((th, h) => {
      th.forEach((ti, i) => {
        const si = ls[b]![h]![i]!
        rows.push(sum(ti.map((l, j) => Math.exp(l) * (l - si[j]!))))
      })
    })
  })
  return sum(rows) / rows.length
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const context = (board: Readonly<Record<string, tf.Tensor>>): Losses.LossContext => ({
  get: (ref) => {
    const t = board[Loss.refName(ref)]
    if (t === undefined) throw new Error(`no ${Loss.refName(ref)}`)
    return Loss.isDetached(ref) ? Losses.detach(t) : t
  },
  y: tf.tensor2d([[1, 0]]),
  hyper: (num) => (typeof num === "number" ? num : 0),
  projection: () => {
    throw new Error("no projection")
  },
})

const tensors = (board: Readonly<Record<string, T3>>) =>
  Object.fromEntries(Object.entries(board).map(([k, v]) => [k, tf.tensor3d(v)]))

const lossValue = (loss: Loss.Loss, board: Readonly<Record<string, T3>>): number =>
  tf.tidy(() => Losses.compute(loss, context(tensors(board)), "rel").dataSync()[0]!)

const gradOf = (loss: Loss.Loss, board: Readonly<Record<string, T3>>, name: string): T3 =>
  tf.tidy(() => {
    const ts = tensors(board)
    return tf
      .grad((x: tf.Tensor) => Losses.compute(loss, context({ ...ts, [name]: x }), "rel"))(ts[name]!)
      .arraySync() as T3
  })

/** Central finite differences of `f` at `m`, entry by entry. */
const fdGrad = (f: (m: T3) => number, m: T3, h = 1e-5): T3 =>
  m.map((mb, b) =>
    mb.map((mi, i) =>
      mi.map((_, c) => {
        const at = (delta: number) => {
          const copy = m.map((r) => r.map((q) => [...q]))
          copy[b]![i]![c]! += delta
          return f(copy)
        }
        return (at(h) - at(-h)) / (2 * h)
      }),
    ),
  )

const closeAll = (actual: T3, expected: T3, rel = 2e-3, abs = 2e-4): void => {
  actual.flat(2).forEach((a, k) => {
    const e = expected.flat(2)[k]!
    expect(Math.abs(a - e)).toBeLessThanOrEqual(abs + rel * Math.abs(e))
  })
}

const f32 = (lo: number, hi: number) => fc.double({ min: lo, max: hi, noNaN: true }).map(Math.fround)
const tensor3 = (b: number, n: number, d: number): fc.Arbitrary<T3> =>
  fc.array(fc.array(fc.array(f32(-2, 2), { minLength: d, maxLength: d }), { minLength: n, maxLength: n }), {
    minLength: b,
    maxLength: b,
  })

/** Student q, k and teacher q, k with shared batch and tokens; widths multiples of `heads`. */
const relationCase = fc
  .record({
    b: fc.integer({ min: 1, max: 3 }),
    n: fc.integer({ min: 2, max: 5 }),
    heads: fc.integer({ min: 1, max: 3 }),
    ws: fc.integer({ min: 1, max: 3 }),
    wt: fc.integer({ min: 1, max: 3 }),
  })
  .chain(({ b, n, heads, ws, wt }) =>
    fc.record({
      heads: fc.constant(heads),
      sq: tensor3(b, n, heads * ws),
      sk: tensor3(b, n, heads * ws),
      tq: tensor3(b, n, heads * wt),
      tk: tensor3(b, n, heads * wt),
    }),
  )

const qk = (heads: number) =>
  Loss.tokenRelation({ student: ["sq", "sk"], teacher: [Loss.detach("tq"), "tk"], heads })

// ---------------------------------------------------------------------------------------------
// Values and gradients
// ---------------------------------------------------------------------------------------------

describe("token relation (TinyMIM) value", () => {
  it("matches the float64 reference for q·kᵀ, v·vᵀ, any widths and head counts", () => {
    fc.assert(
      fc.property(relationCase, ({ heads, sq, sk, tq, tk }) => {
        const board = { sq, sk, tq, tk }
        const expected = tokenRelationRef([sq, sk], [tq, tk], heads)
        expect(lossValue(qk(heads), board)).toBeCloseTo(expected, 4)
        // v·vᵀ: the same feature twice
        const vv = Loss.tokenRelation({ student: ["sq", "sq"], teacher: ["tk", "tk"], heads })
        expect(lossValue(vv, board)).toBeCloseTo(tokenRelationRef([sq, sq], [tk, tk], heads), 4)
      }),
    )
  })

  it("a hand computation: one sample, two tokens, one head", () => {
    // student: x·yᵀ = [[0, 0], [0, 0]] → uniform rows; teacher: q·kᵀ/√1 = [[ln 3, 0], [0, 0]]
    const board: Record<string, T3> = {
      sq: [[[0], [0]]],
      sk: [[[1], [2]]],
      tq: [[[1], [0]]],
      tk: [[[Math.log(3)], [0]]],
    }
    // row 0 of the teacher: softmax([ln 3, 0]) = [3/4, 1/4]; row 1: [1/2, 1/2] = the student's
    const row0 = 0.75 * Math.log(0.75 / 0.5) + 0.25 * Math.log(0.25 / 0.5)
    expect(lossValue(qk(1), board)).toBeCloseTo(row0 / 2, 6)
  })

  it("is zero when the relations agree, positive otherwise, and independent of the widths", () => {
    fc.assert(
      fc.property(relationCase, ({ heads, sq, sk, tq, tk }) => {
        // a teacher twice as wide, each head's channels duplicated and scaled by 2^(−1/4):
        // (a·x, a·x)·(a·y, a·y)ᵀ/√(2d) = 2a²·x·yᵀ/(√2·√d) = x·yᵀ/√d, the same relation
        const a = 2 ** -0.25
        const d = sq[0]![0]!.length / heads
        const widen = (m: T3) =>
          m.map((r) =>
            r.map((v) =>
              Array.from({ length: heads }, (_, h) => {
                const part = v.slice(h * d, (h + 1) * d).map((z) => z * a)
                return [...part, ...part]
              }).flat(),
            ),
          )
        const same = lossValue(qk(heads), { sq, sk, tq: widen(sq), tk: widen(sk) })
        expect(Math.abs(same)).toBeLessThan(1e-5)
        expect(lossValue(qk(heads), { sq, sk, tq, tk })).toBeGreaterThanOrEqual(-1e-6)
      }),
    )
  })
})

describe("token relation gradients", () => {
  it("match finite differences of the reference w.r.t. the student's x and y", () => {
    fc.assert(
      fc.property(relationCase, ({ heads, sq, sk, tq, tk }) => {
        const board = { sq, sk, tq, tk }
        closeAll(
          gradOf(qk(heads), board, "sq"),
          fdGrad((m) => tokenRelationRef([m, sk], [tq, tk], heads), sq),
        )
        closeAll(
          gradOf(qk(heads), board, "sk"),
          fdGrad((m) => tokenRelationRef([sq, m], [tq, tk], heads), sk),
        )
        // v·vᵀ: the feature is both operands, its gradient is the sum of both paths
        const vv = Loss.tokenRelation({ student: ["sq", "sq"], teacher: ["tq", "tq"], heads })
        closeAll(
          gradOf(vv, board, "sq"),
          fdGrad((m) => tokenRelationRef([m, m], [tq, tq], heads), sq),
        )
      }),
      { numRuns: 15 },
    )
  })

  it("a detached teacher operand gets a zero gradient", () => {
    const board = {
      sq: [
        [
          [0.3, -1],
          [1, 0.5],
          [0.2, 0.1],
        ],
      ],
      sk: [
        [
          [1, 0],
          [0, 1],
          [-1, 0.4],
        ],
      ],
      tq: [
        [
          [2, 1],
          [-1, 0],
          [0.5, 0.5],
        ],
      ],
      tk: [
        [
          [0, 1],
          [1, 1],
          [-0.3, 2],
        ],
      ],
    }
    expect(
      gradOf(qk(2), board, "tq")
        .flat(2)
        .every((g) => g === 0),
    ).toBe(true)
    expect(
      gradOf(qk(2), board, "tk")
        .flat(2)
        .some((g) => g !== 0),
    ).toBe(true)
  })

  it("computing it inside tidy leaks no tensor", () => {
    const ts = {
      sq: tf.randomNormal([2, 5, 4], 0, 1, "float32", 1),
      sk: tf.randomNormal([2, 5, 4], 0, 1, "float32", 2),
      tq: tf.randomNormal([2, 5, 6], 0, 1, "float32", 3),
      tk: tf.randomNormal([2, 5, 6], 0, 1, "float32", 4),
    }
    const before = tf.memory().numTensors
    for (let i = 0; i < 3; i++)
      tf.tidy(() => {
        tf.grad((x: tf.Tensor) => Losses.compute(qk(2), context({ ...ts, sq: x }), "rel"))(ts.sq)
      })
    expect(tf.memory().numTensors).toBe(before)
    tf.dispose(Object.values(ts))
  })
})

describe("token relation shape errors", () => {
  const throwsShape = (board: Record<string, tf.Tensor>, loss: Loss.Loss, message: RegExp) => {
    let caught: unknown
    try {
      tf.tidy(() => Losses.compute(loss, context(board), "rel"))
    } catch (e) {
      caught = e
    }
    expect(caught).toBeInstanceOf(ShapeError)
    expect((caught as ShapeError).path).toBe("loss.rel")
    expect((caught as ShapeError).message).toMatch(message)
    tf.dispose(Object.values(board))
  }
  it("names non-token features, mismatched tokens, widths and heads", () => {
    const z = (...shape: Array<number>) => tf.zeros(shape)
    throwsShape({ sq: z(2, 4), sk: z(2, 4), tq: z(2, 3, 4), tk: z(2, 3, 4) }, qk(1), /\[batch, tokens, dim\]/)
    throwsShape(
      { sq: z(2, 3, 4), sk: z(2, 3, 4), tq: z(2, 5, 4), tk: z(2, 5, 4) },
      qk(1),
      /\[batch, tokens\] differ/,
    )
    throwsShape({ sq: z(2, 3, 4), sk: z(2, 3, 6), tq: z(2, 3, 4), tk: z(2, 3, 4) }, qk(1), /student x and y/)
    throwsShape(
      { sq: z(2, 3, 4), sk: z(2, 3, 4), tq: z(2, 3, 6), tk: z(2, 3, 6) },
      qk(4),
      /not divisible by 4/,
    )
    throwsShape({ sq: z(2, 3, 4), sk: z(2, 3, 4), tq: z(2, 3, 4), tk: z(2, 3, 4) }, qk(0), /positive integer/)
  })
})

// ---------------------------------------------------------------------------------------------
// DSL: constructor, codec, description, operands
// ---------------------------------------------------------------------------------------------

describe("Loss.tokenRelation as data", () => {
  const term = Loss.tokenRelation({
    student: ["s.block1/q", "s.block1/k"],
    teacher: [Loss.detach("t.block2/q"), "t.block2/k"],
    heads: 2,
  })
  it("records what it reads, round-trips through JSON and describes itself", () => {
    expectTypeOf(term).toEqualTypeOf<
      Loss.TokenRelation<"s.block1/q" | "s.block1/k" | "t.block2/q" | "t.block2/k">
    >()
    expect(Loss.operands(term).map((o) => [o.role, Loss.refName(o.ref)])).toEqual([
      ["student.0", "s.block1/q"],
      ["student.1", "s.block1/k"],
      ["teacher.0", "t.block2/q"],
      ["teacher.1", "t.block2/k"],
    ])
    const decoded = Schema.decodeUnknownSync(Loss.schema)(JSON.parse(JSON.stringify(term)))
    expect(decoded).toEqual(term)
    expect(Loss.describe(term)).toBe(
      "tokenRelation(softmax(s.block1/q·s.block1/kᵀ) ≈ softmax(sg(t.block2/q)·t.block2/kᵀ), heads=2)",
    )
    expect(Loss.tokenRelation({ student: ["a", "b"], teacher: ["c", "d"] }).heads).toBe(1)
    expect(() => Schema.decodeUnknownSync(Loss.schema)({ ...term, student: ["s.block1/q"] })).toThrow()
  })
})

// ---------------------------------------------------------------------------------------------
// ViT q/k/v taps
// ---------------------------------------------------------------------------------------------

describe("ViT q/k/v taps", () => {
  const vit = Model.vit({ patch: 4, dim: 8, depth: 2, heads: 2, classes: 10, input: [8, 8, 1] })
  it("are listed before each block, shaped [batch, tokens, dim], and leave the forward unchanged", () => {
    expect(Model.taps(vit)).toEqual([
      "embed",
      "block0/q",
      "block0/k",
      "block0/v",
      "block0",
      "block1/q",
      "block1/k",
      "block1/v",
      "block1",
      "cls",
    ])
    expect(Model.tapShapes(vit)?.["block1/q"]).toEqual([5, 8])
    const built = Effect.runSync(Models.build(vit, { seed: 3 }))
    const x = tf.randomUniform([3, 8, 8, 1], 0, 1, "float32", 5)
    const out = tf.tidy(() => {
      const plain = built.apply(built.params, x, { train: false })
      const tapped = built.apply(built.params, x, {
        train: false,
        taps: ["block1/q", "block1/k", "block1/v"],
      })
      const q = tapped.taps["block1/q"]!
      const k = tapped.taps["block1/k"]!
      return {
        shapes: Object.values(tapped.taps).map((t) => t.shape),
        same: tf.max(tf.abs(tf.sub(plain.logits, tapped.logits))).dataSync()[0]!,
        qk: tf.max(tf.abs(tf.sub(q, k))).dataSync()[0]!,
      }
    })
    expect(out.shapes).toEqual([
      [3, 5, 8],
      [3, 5, 8],
      [3, 5, 8],
    ])
    expect(out.same).toBe(0)
    expect(out.qk).toBeGreaterThan(0)
    tf.dispose(x)
    built.dispose()
  })

  it("the relation loss reaches the student's attention parameters", () => {
    const student = Effect.runSync(Models.build(vit, { seed: 3 }))
    const teacher = Effect.runSync(
      Models.build(Model.vit({ patch: 4, dim: 12, depth: 1, heads: 3, classes: 10, input: [8, 8, 1] }), {
        seed: 4,
      }),
    )
    const x = tf.randomUniform([2, 8, 8, 1], 0, 1, "float32", 6)
    const kernel = student.params.block1 as unknown as Record<string, Record<string, tf.Variable>>
    const target = kernel.qkv!.kernel!
    const norms = tf.tidy(() => {
      const t = teacher.apply(teacher.params, x, { train: false, taps: ["block0/q", "block0/k"] }).taps
      const { grads } = tf.variableGrads(() => {
        const s = student.apply(student.params, x, {
          train: true,
          seed: 1,
          taps: ["block1/q", "block1/k"],
        }).taps
        return Losses.compute(
          Loss.tokenRelation({ student: ["sq", "sk"], teacher: ["tq", "tk"], heads: 1 }),
          context({ sq: s["block1/q"]!, sk: s["block1/k"]!, tq: t["block0/q"]!, tk: t["block0/k"]! }),
          "rel",
        )
      }, [target])
      return tf.sum(tf.abs(grads[target.name]!)).dataSync()[0]!
    })
    expect(norms).toBeGreaterThan(0)
    tf.dispose(x)
    student.dispose()
    teacher.dispose()
  })
})

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

describe("validation of token-relation terms", () => {
  const adam = Optimizer.adam({ lr: 1e-3 })
  const vitT = Model.vit({ patch: 7, dim: 16, depth: 2, heads: 2, classes: 10 })
  const pipelineOf = (
    studentModel: Model.Model,
    studentTaps: ReadonlyArray<string>,
    term: Loss.Loss,
  ): Pipeline.Pipeline =>
    Pipeline.make({
      name: "t",
      models: { teacher: vitT, student: studentModel },
      phases: [
        Phase.make({
          name: "p",
          epochs: 1,
          step: Step.start.pipe(
            Step.forward("teacher", { as: "t", mode: "frozen", taps: ["block1/q", "block1/k"] }),
            Step.forward("student", { as: "s", taps: studentTaps }),
            Step.loss({ rel: term as Loss.Loss<"s" | "t"> }),
            Step.optimize("student", adam),
          ) as unknown as Step.Step<"x" | "y", string>,
        }),
      ],
    })
  const issues = (p: Pipeline.Pipeline) => {
    const r = Codec.validate(p)
    return Result.isFailure(r) ? r.failure.issues.map((i) => `${i.path}: ${i.message}`) : []
  }
  const rel = (s: [string, string], heads = 2) =>
    Loss.tokenRelation({ student: s, teacher: ["t.block1/q", "t.block1/k"], heads })
  const vitS = Model.vit({ patch: 7, dim: 8, depth: 1, heads: 1, classes: 10 })

  it("accepts ViT q/k taps of different widths and head counts with the same tokens", () => {
    expect(issues(pipelineOf(vitS, ["block0/q", "block0/k"], rel(["s.block0/q", "s.block0/k"])))).toEqual([])
  })

  it("rejects unknown names, non-token (non-ViT) features, token mismatches and indivisible widths", () => {
    expect(
      issues(pipelineOf(vitS, ["block0/q", "block0/k"], rel(["s.block0/q", "s.block3/k"]))).join("\n"),
    ).toMatch(/block3\/k/)
    const mlp = Model.mlp({ hidden: [8], classes: 10 })
    expect(issues(pipelineOf(mlp, ["hidden0"], rel(["s.hidden0", "s.hidden0"]))).join("\n")).toMatch(
      /terms\.rel\["student\.0"\]: token relation needs token features \[tokens, dim\]/,
    )
    const patch4 = Model.vit({ patch: 4, dim: 8, depth: 1, heads: 1, classes: 10 })
    expect(
      issues(pipelineOf(patch4, ["block0/q", "block0/k"], rel(["s.block0/q", "s.block0/k"]))).join("\n"),
    ).toMatch(/token counts differ \(50, 50, 17, 17\)/)
    expect(
      issues(pipelineOf(vitS, ["block0/q", "block0/k"], rel(["s.block0/q", "s.block0/k"], 3))).join("\n"),
    ).toMatch(/not divisible by 3/)
    expect(
      issues(pipelineOf(vitS, ["block0/q", "block0/k"], rel(["s.block0/q", "s.block0/k"], 1.5))).join("\n"),
    ).toMatch(/positive integer/)
  })
})

// ---------------------------------------------------------------------------------------------
// The recipe
// ---------------------------------------------------------------------------------------------

describe("the tinymim recipe", () => {
  it("is valid, round-trips through JSON, and distils an intermediate teacher block", () => {
    const p = Tinymim.make({ seed: 2 })
    expect(issues(p)).toEqual([])
    expect(p.phases.map((ph) => ph.name)).toEqual([
      "teacher",
      "relation-distil",
      "relation",
      "feature-distil",
      "feature",
      "logit-distil",
      "logit",
      "labels",
    ])
    const back = Codec.fromJson(Codec.toJson(p))
    expect(Result.isSuccess(back) ? back.success : back.failure).toEqual(p)
    const terms = Tinymim.distillation().relation.terms
    expect(terms.qk.teacher).toEqual(["t.block2/q", "t.block2/k"])
    expect(terms.vv.student).toEqual(["s.block1/v", "s.block1/v"])
  })
  const issues = (p: Pipeline.Pipeline) => {
    const r = Codec.validate(p)
    return Result.isFailure(r) ? r.failure.issues.map((i) => `${i.path}: ${i.message}`) : []
  }
})
