import "@tensorflow/tfjs-backend-cpu"
import "@tensorflow/tfjs-core/dist/register_all_gradients.js"
import { createRequire } from "node:module"
import * as path from "node:path"
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm"
import * as tf from "@tensorflow/tfjs-core"
import * as fc from "fast-check"
import { beforeAll, describe, expect, expectTypeOf, it } from "vitest"
import * as Loss from "../../../dsl/Loss.js"
import * as Ramp from "../../../dsl/Ramp.js"
import * as Losses from "../../../src/compile/losses.js"
import { ShapeError } from "../../../src/errors.js"

fc.configureGlobal({ seed: 8_151_2024, numRuns: 40 })

beforeAll(async () => {
  await tf.setBackend("cpu")
})

// ---------------------------------------------------------------------------------------------
// Plain-JS (float64) references
// ---------------------------------------------------------------------------------------------

type M = Array<Array<number>>

const sum = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a + b, 0)
const mean = (xs: ReadonlyArray<number>): number => sum(xs) / xs.length
const logSoftmax = (r: ReadonlyArray<number>): Array<number> => {
  const m = Math.max(...r)
  const lse = m + Math.log(sum(r.map((x) => Math.exp(x - m))))
  return r.map((x) => x - lse)
}
const softmax = (r: ReadonlyArray<number>): Array<number> => logSoftmax(r).map(Math.exp)
const argmax = (r: ReadonlyArray<number>): number => r.indexOf(Math.max(...r))
const oneHot = (i: number, k: number): Array<number> => Array.from({ length: k }, (_, j) => (j === i ? 1 : 0))
const klRow = (lp: ReadonlyArray<number>, lq: ReadonlyArray<number>): number =>
  sum(lp.map((l, j) => Math.exp(l) * (l - lq[j]!)))
const l2n = (r: ReadonlyArray<number>): Array<number> => {
  const n = Math.sqrt(Math.max(sum(r.map((x) => x * x)), 1e-24))
  return r.map((x) => x / n)
}
const dot = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => sum(a.map((x, i) => x * b[i]!))
const matmul = (a: M, b: M): M => a.map((r) => b[0]!.map((_, j) => sum(r.map((x, i) => x * b[i]![j]!))))

const ref = {
  ce: (logits: M, targets: M, eps = 0): number =>
    mean(
      logits.map((r, i) => {
        const k = r.length
        return -sum(logSoftmax(r).map((l, j) => ((1 - eps) * targets[i]![j]! + eps / k) * l))
      }),
    ),
  focal: (logits: M, targets: M, gamma: number): number =>
    mean(
      logits.map((r, i) => {
        const lp = logSoftmax(r)
        return -sum(lp.map((l, j) => targets[i]![j]! * Math.max(1 - Math.exp(l), 1e-12) ** gamma * l))
      }),
    ),
  bce: (x: M, z: M): number =>
    mean(
      x.flatMap((r, i) =>
        r.map((v, j) => Math.max(v, 0) - v * z[i]![j]! + Math.log1p(Math.exp(-Math.abs(v)))),
      ),
    ),
  kl: (t: M, s: M, temperature: number, direction: Loss.Direction): number => {
    const lt = t.map((r) => logSoftmax(r.map((x) => x / temperature)))
    const ls = s.map((r) => logSoftmax(r.map((x) => x / temperature)))
    const fwd = mean(lt.map((r, i) => klRow(r, ls[i]!)))
    const rev = mean(ls.map((r, i) => klRow(r, lt[i]!)))
    const kl = direction === "forward" ? fwd : direction === "reverse" ? rev : (fwd + rev) / 2
    return temperature * temperature * kl
  },
  hard: (t: M, s: M): number =>
    ref.ce(
      s,
      t.map((r) => oneHot(argmax(r), r.length)),
    ),
  hint: (s: M, t: M, normalize: boolean, proj?: { kernel: M; bias: Array<number> }): number => {
    let ss = proj ? matmul(s, proj.kernel).map((r) => r.map((x, j) => x + proj.bias[j]!)) : s
    let tt = t
    if (normalize) {
      ss = ss.map(l2n)
      tt = tt.map(l2n)
    }
    return mean(ss.flatMap((r, i) => r.map((x, j) => (x - tt[i]![j]!) ** 2)))
  },
  gram: (f: M, normalize = true): M => {
    const n = normalize ? f.map(l2n) : f
    return n.map((a) => n.map((b) => dot(a, b)))
  },
  relation: (s: M, t: M, kind: "gram" | "softmax", tau: number, normalize = true): number => {
    const gs = ref.gram(s, normalize)
    const gt = ref.gram(t, normalize)
    if (kind === "gram") return mean(gs.flatMap((r, i) => r.map((x, j) => (x - gt[i]![j]!) ** 2)))
    return mean(
      gt.map((r, i) => klRow(logSoftmax(r.map((x) => x / tau)), logSoftmax(gs[i]!.map((x) => x / tau)))),
    )
  },
}

/** Central differences of a float64 function of a matrix. */
const fdGrad = (f: (m: M) => number, m: M, h = 1e-5): M =>
  m.map((r, i) =>
    r.map((_, j) => {
      const at = (d: number) => f(m.map((rr, ii) => rr.map((x, jj) => (ii === i && jj === j ? x + d : x))))
      return (at(h) - at(-h)) / (2 * h)
    }),
  )

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

const close = (actual: number, expected: number, rel = 1e-4, abs = 1e-5): void => {
  if (!(Math.abs(actual - expected) <= abs + rel * Math.abs(expected)))
    throw new Error(`expected ${expected}, got ${actual} (|Δ| = ${Math.abs(actual - expected)})`)
}
const closeAll = (actual: M, expected: M, rel = 2e-3, abs = 1e-4): void =>
  actual.forEach((r, i) => {
    r.forEach((x, j) => {
      close(x, expected[i]![j]!, rel, abs)
    })
  })

const clock0: Ramp.Clock = { step: 0, epoch: 0, progress: 0 }
const noProjection = (): Losses.Projection => {
  throw new Error("no projection expected")
}

const context = (
  board: Readonly<Record<string, tf.Tensor>>,
  y: M,
  projection: Losses.LossContext["projection"] = noProjection,
  clock: Ramp.Clock = clock0,
): Losses.LossContext => ({
  get: (r) => {
    const t = board[Loss.refName(r)]
    if (t === undefined) throw new Error(`no ${Loss.refName(r)} on the board`)
    return Loss.isDetached(r) ? Losses.detach(t) : t
  },
  y: tf.tensor2d(y),
  hyper: (num) => Ramp.evaluate(num, clock),
  projection,
})

/** The value of one loss term on a board of plain matrices (or shaped features). */
const value = (
  loss: Loss.Loss,
  board: Readonly<Record<string, M | { readonly data: M; readonly shape: Array<number> }>>,
  y: M,
  projection?: Losses.LossContext["projection"],
): number =>
  tf.tidy(() => {
    const tensors: Record<string, tf.Tensor> = {}
    for (const [k, v] of Object.entries(board))
      tensors[k] = Array.isArray(v) ? tf.tensor2d(v as M) : tf.tensor(v.data.flat(), v.shape)
    return Losses.compute(loss, context(tensors, y, projection), "term").dataSync()[0]!
  })

/** d loss / d board[name], by tf.grad. */
const gradient = (loss: Loss.Loss, board: Readonly<Record<string, M>>, y: M, name: string): M =>
  tf.tidy(() => {
    const tensors: Record<string, tf.Tensor> = {}
    for (const [k, v] of Object.entries(board)) tensors[k] = tf.tensor2d(v)
    const g = tf.grad((x: tf.Tensor) => Losses.compute(loss, context({ ...tensors, [name]: x }, y), "term"))(
      tensors[name]!,
    )
    return g.arraySync() as M
  })

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const f32 = (lo: number, hi: number) => fc.double({ min: lo, max: hi, noNaN: true }).map(Math.fround)
const matrix = (b: number, k: number, lo = -4, hi = 4): fc.Arbitrary<M> =>
  fc.array(fc.array(f32(lo, hi), { minLength: k, maxLength: k }), { minLength: b, maxLength: b })
const softRows = (b: number, k: number): fc.Arbitrary<M> =>
  matrix(b, k, 0, 1).map((m) =>
    m.map((r) => {
      const s = sum(r) + 0.01 * k
      return r.map((x) => Math.fround((x + 0.01) / s))
    }),
  )
const hardRows = (b: number, k: number): fc.Arbitrary<M> =>
  fc.array(
    fc.integer({ min: 0, max: k - 1 }).map((i) => oneHot(i, k)),
    { minLength: b, maxLength: b },
  )

/** Student logits, teacher logits and (soft or hard) labels, `[b, k]` each. */
const logitsCase = fc
  .record({ b: fc.integer({ min: 1, max: 5 }), k: fc.integer({ min: 2, max: 6 }), soft: fc.boolean() })
  .chain(({ b, k, soft }) =>
    fc.record({ s: matrix(b, k), t: matrix(b, k), y: soft ? softRows(b, k) : hardRows(b, k) }),
  )

/** Student and teacher features `[b, ds]`, `[b, dt]`. */
const featureCase = (sameWidth: boolean) =>
  fc
    .record({
      b: fc.integer({ min: 1, max: 5 }),
      ds: fc.integer({ min: 1, max: 6 }),
      dt: fc.integer({ min: 1, max: 6 }),
    })
    .chain(({ b, ds, dt }) =>
      fc.record({ s: matrix(b, ds, -2, 2), t: matrix(b, sameWidth ? ds : dt, -2, 2), y: hardRows(b, 2) }),
    )

const awayFromZero = ({ s, t }: { readonly s: M; readonly t: M }): boolean =>
  [...s, ...t].every((r) => Math.sqrt(sum(r.map((x) => x * x))) > 0.1)

const temperature = f32(0.5, 6)
const direction = fc.constantFrom<Loss.Direction>("forward", "reverse", "symmetric")

// ---------------------------------------------------------------------------------------------
// Values against the references
// ---------------------------------------------------------------------------------------------

describe("values match plain-JS references", () => {
  it("cross-entropy with soft targets and label smoothing", () => {
    fc.assert(
      fc.property(logitsCase, f32(0, 0.5), ({ s, y }, eps) => {
        close(value(Loss.crossEntropy({ logits: "s", smoothing: eps }), { s }, y), ref.ce(s, y, eps))
      }),
    )
  })

  it("cross-entropy against another output's softmax when labels name logits", () => {
    fc.assert(
      fc.property(logitsCase, ({ s, t, y }) => {
        close(
          value(Loss.crossEntropy({ logits: "s", labels: "t" }), { s, t }, y),
          ref.ce(
            s,
            t.map((r) => softmax(r)),
          ),
        )
      }),
    )
  })

  it("label smoothing follows a ramp", () => {
    const loss = Loss.crossEntropy({
      logits: "s",
      smoothing: Ramp.linear({ from: 0, to: 0.4, unit: "step", start: 0, end: 10 }),
    })
    const s = [[1, -2, 0.5]]
    const y = [[0, 1, 0]]
    const at = (step: number) =>
      tf.tidy(
        () =>
          Losses.compute(
            loss,
            context({ s: tf.tensor2d(s) }, y, noProjection, { step, epoch: 0, progress: 0 }),
            "ce",
          ).dataSync()[0]!,
      )
    close(at(0), ref.ce(s, y, 0))
    close(at(5), ref.ce(s, y, 0.2))
    close(at(10), ref.ce(s, y, 0.4))
  })

  it("focal loss", () => {
    fc.assert(
      fc.property(logitsCase, f32(0, 4), ({ s, y }, gamma) => {
        close(value(Loss.focal({ logits: "s", gamma }), { s }, y), ref.focal(s, y, gamma))
      }),
    )
  })

  it("binary cross-entropy against labels and against σ(teacher)", () => {
    fc.assert(
      fc.property(logitsCase, ({ s, t, y }) => {
        close(value(Loss.bce({ logits: "s" }), { s }, y), ref.bce(s, y))
        close(
          value(Loss.bce({ logits: "s", teacher: Loss.detach("t") }), { s, t }, y),
          ref.bce(
            s,
            t.map((r) => r.map((x) => 1 / (1 + Math.exp(-x)))),
          ),
        )
      }),
    )
  })

  it("KL with temperature, T² scaling and every direction", () => {
    fc.assert(
      fc.property(logitsCase, temperature, direction, ({ s, t, y }, T, dir) => {
        close(
          value(Loss.kl({ teacher: "t", student: "s", temperature: T, direction: dir }), { s, t }, y),
          ref.kl(t, s, T, dir),
        )
      }),
    )
  })

  it("hard distillation", () => {
    fc.assert(
      fc.property(logitsCase, ({ s, t, y }) => {
        close(value(Loss.hardDistill({ teacher: "t", student: "s" }), { s, t }, y), ref.hard(t, s))
      }),
    )
  })

  it("hint, plain and normalised, on flattened rank-4 features", () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 4 })
          .chain((b) => fc.record({ s: matrix(b, 12, -2, 2), t: matrix(b, 12, -2, 2) })),
        fc.boolean(),
        ({ s, t }, normalize) => {
          const shape = [s.length, 2, 3, 2]
          close(
            value(
              Loss.hint({ student: "s", teacher: "t", normalize }),
              { s: { data: s, shape }, t: { data: t, shape } },
              [[1, 0]],
            ),
            ref.hint(s, t, normalize),
          )
        },
      ),
    )
  })

  it("hint through a learned projection", () => {
    fc.assert(
      fc.property(
        featureCase(false).chain((c) =>
          fc.record({
            c: fc.constant(c),
            kernel: matrix(c.s[0]!.length, c.t[0]!.length, -1, 1),
            bias: fc.array(f32(-1, 1), { minLength: c.t[0]!.length, maxLength: c.t[0]!.length }),
          }),
        ),
        fc.boolean(),
        ({ c: { s, t, y }, kernel, bias }, normalize) => {
          const asked: Array<[string, number, number]> = []
          const projection = (term: string, inDim: number, outDim: number) => {
            asked.push([term, inDim, outDim])
            return { kernel: tf.variable(tf.tensor2d(kernel)), bias: tf.variable(tf.tensor1d(bias)) }
          }
          const got = value(
            Loss.hint({ student: "s", teacher: "t", projection: true, normalize }),
            { s, t },
            y,
            projection,
          )
          close(got, ref.hint(s, t, normalize, { kernel, bias }))
          expect(asked).toEqual([["term", s[0]!.length, t[0]!.length]])
        },
      ),
      { numRuns: 15 },
    )
  })

  it("relation: gram and softmax, of L2-normalised or raw features", () => {
    fc.assert(
      fc.property(
        featureCase(false),
        f32(0.1, 2),
        fc.constantFrom<"gram" | "softmax">("gram", "softmax"),
        fc.boolean(),
        ({ s, t, y }, tau, kind, normalize) => {
          close(
            value(
              Loss.relation({ student: "s", teacher: "t", kind, temperature: tau, normalize }),
              { s, t },
              y,
            ),
            ref.relation(s, t, kind, tau, normalize),
          )
        },
      ),
    )
  })

  it("relation with normalize: false is the plain Gram-matrix MSE (a hand computation)", () => {
    // F_s = [[1, 2], [0, 1]] → G_s = [[5, 2], [2, 1]]; F_t = [[1], [1]] → G_t = [[1, 1], [1, 1]]
    // mean((G_s − G_t)²) = (16 + 1 + 1 + 0) / 4 = 4.5; normalised it would be different
    const board = {
      s: [
        [1, 2],
        [0, 1],
      ],
      t: [[1], [1]],
    }
    const y = [
      [1, 0],
      [0, 1],
    ]
    close(value(Loss.relation({ student: "s", teacher: "t", normalize: false }), board, y), 4.5)
    expect(Math.abs(value(Loss.relation({ student: "s", teacher: "t" }), board, y) - 4.5)).toBeGreaterThan(1)
    // the option is serialised only when it departs from the default
    expect(Loss.relation({ student: "s", teacher: "t" })).not.toHaveProperty("normalize")
    expect(Loss.relation({ student: "s", teacher: "t", normalize: false }).normalize).toBe(false)
  })
})

// ---------------------------------------------------------------------------------------------
// Identities
// ---------------------------------------------------------------------------------------------

describe("identities", () => {
  it("KL(p ‖ p) = 0 in every direction", () => {
    fc.assert(
      fc.property(logitsCase, temperature, direction, ({ s, y }, T, dir) => {
        close(
          value(Loss.kl({ teacher: "a", student: "b", temperature: T, direction: dir }), { a: s, b: s }, y),
          0,
          0,
          1e-6,
        )
      }),
    )
  })

  it("symmetric KL is the mean of forward and reverse", () => {
    fc.assert(
      fc.property(logitsCase, temperature, ({ s, t, y }, T) => {
        const kl = (direction: Loss.Direction) =>
          value(Loss.kl({ teacher: "t", student: "s", temperature: T, direction }), { s, t }, y)
        close(kl("symmetric"), (kl("forward") + kl("reverse")) / 2)
      }),
    )
  })

  it("focal with γ = 0 is cross-entropy", () => {
    fc.assert(
      fc.property(logitsCase, ({ s, y }) => {
        close(
          value(Loss.focal({ logits: "s", gamma: 0 }), { s }, y),
          value(Loss.crossEntropy({ logits: "s" }), { s }, y),
        )
      }),
    )
  })

  it("hard distillation is cross-entropy on the teacher's argmax", () => {
    fc.assert(
      fc.property(logitsCase, ({ s, t }) => {
        const argmaxLabels = t.map((r) => oneHot(argmax(r), r.length))
        close(
          value(Loss.hardDistill({ teacher: "t", student: "s" }), { s, t }, argmaxLabels),
          value(Loss.crossEntropy({ logits: "s" }), { s }, argmaxLabels),
        )
      }),
    )
  })

  it("KL and hard distillation are stable for huge logits", () => {
    const s = [[1000, -1000, 0]]
    const t = [[-1000, 1000, 0]]
    const kd = value(Loss.kl({ teacher: "t", student: "s", direction: "symmetric" }), { s, t }, [[1, 0, 0]])
    expect(Number.isFinite(kd)).toBe(true)
    close(kd, 2000, 1e-4)
    close(value(Loss.crossEntropy({ logits: "s" }), { s }, [[0, 1, 0]]), 2000, 1e-4)
    expect(Number.isFinite(value(Loss.bce({ logits: "s" }), { s }, [[0, 1, 0]]))).toBe(true)
  })
})

// ---------------------------------------------------------------------------------------------
// Gradients
// ---------------------------------------------------------------------------------------------

describe("gradients match finite differences of the references", () => {
  const runs = { numRuns: 12 }

  it("cross-entropy (with smoothing) and focal", () => {
    fc.assert(
      fc.property(logitsCase, f32(0, 0.3), f32(0.5, 3), ({ s, y }, eps, gamma) => {
        closeAll(
          gradient(Loss.crossEntropy({ logits: "s", smoothing: eps }), { s }, y, "s"),
          fdGrad((m) => ref.ce(m, y, eps), s),
        )
        closeAll(
          gradient(Loss.focal({ logits: "s", gamma }), { s }, y, "s"),
          fdGrad((m) => ref.focal(m, y, gamma), s),
        )
      }),
      runs,
    )
  })

  it("binary cross-entropy, also at exactly zero logits", () => {
    fc.assert(
      fc.property(logitsCase, ({ s, t, y }) => {
        closeAll(
          gradient(Loss.bce({ logits: "s" }), { s }, y, "s"),
          fdGrad((m) => ref.bce(m, y), s),
        )
        const zt = t.map((r) => r.map((x) => 1 / (1 + Math.exp(-x))))
        closeAll(
          gradient(Loss.bce({ logits: "s", teacher: "t" }), { s, t }, y, "s"),
          fdGrad((m) => ref.bce(m, zt), s),
        )
      }),
      runs,
    )
    const zeros = [[0, 0, 0]]
    const y = [[0, 1, 0]]
    // d/dx mean(softplus(x) − x·z) at x = 0 is (σ(0) − z) / n
    closeAll(
      gradient(Loss.bce({ logits: "s" }), { s: zeros }, y, "s"),
      [[0.5 / 3, -0.5 / 3, 0.5 / 3]],
      1e-6,
      1e-7,
    )
  })

  it("KL in every direction, w.r.t. the student (and the teacher when not detached)", () => {
    fc.assert(
      fc.property(logitsCase, temperature, direction, ({ s, t, y }, T, dir) => {
        const loss = Loss.kl({ teacher: "t", student: "s", temperature: T, direction: dir })
        closeAll(
          gradient(loss, { s, t }, y, "s"),
          fdGrad((m) => ref.kl(t, m, T, dir), s),
        )
        closeAll(
          gradient(loss, { s, t }, y, "t"),
          fdGrad((m) => ref.kl(m, s, T, dir), t),
        )
      }),
      runs,
    )
  })

  it("hard distillation", () => {
    fc.assert(
      fc.property(logitsCase, ({ s, t, y }) => {
        closeAll(
          gradient(Loss.hardDistill({ teacher: "t", student: "s" }), { s, t }, y, "s"),
          fdGrad((m) => ref.hard(t, m), s),
        )
      }),
      runs,
    )
  })

  it("hint and relation", () => {
    fc.assert(
      // away from the kink of L2 normalisation at a zero feature vector
      fc.property(
        featureCase(true).filter(awayFromZero),
        fc.boolean(),
        f32(0.2, 2),
        ({ s, t, y }, normalize, tau) => {
          closeAll(
            gradient(Loss.hint({ student: "s", teacher: "t", normalize }), { s, t }, y, "s"),
            fdGrad((m) => ref.hint(m, t, normalize), s),
          )
          for (const kind of ["gram", "softmax"] as const)
            closeAll(
              gradient(
                Loss.relation({ student: "s", teacher: "t", kind, temperature: tau, normalize }),
                { s, t },
                y,
                "s",
              ),
              fdGrad((m) => ref.relation(m, t, kind, tau, normalize), s),
            )
        },
      ),
      runs,
    )
  })

  it("the hint projection receives the gradients of its kernel and bias", () => {
    const s = [
      [0.5, -1, 2],
      [1.5, 0.25, -0.5],
    ]
    const t = [
      [1, 0],
      [0, -1],
    ]
    const kernel = [
      [0.1, -0.2],
      [0.3, 0.05],
      [-0.4, 0.2],
    ]
    const bias = [0.1, -0.1]
    const k = tf.variable(tf.tensor2d(kernel))
    const b = tf.variable(tf.tensor1d(bias))
    const loss = Loss.hint({ student: "s", teacher: Loss.detach("t"), projection: true })
    const { value: v, grads } = tf.variableGrads(
      () =>
        Losses.compute(
          loss,
          context({ s: tf.tensor2d(s), t: tf.tensor2d(t) }, [[1, 0]], () => ({ kernel: k, bias: b })),
          "hint",
        ),
      [k, b],
    )
    close(v.dataSync()[0]!, ref.hint(s, t, false, { kernel, bias }))
    closeAll(
      grads[k.name]!.arraySync() as M,
      fdGrad((m) => ref.hint(s, t, false, { kernel: m, bias }), kernel),
    )
    closeAll(
      [Array.from(grads[b.name]!.dataSync())],
      fdGrad((m) => ref.hint(s, t, false, { kernel, bias: m[0]! }), [bias]),
    )
    tf.dispose([k, b, v, ...Object.values(grads)])
  })
})

describe("detach", () => {
  it("keeps the value and stops the gradient", () => {
    const x = tf.tensor1d([1, -2, 3])
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(Losses.detach(v), v)))(x)
    expect(Array.from(g.dataSync())).toEqual([1, -2, 3])
    expect(Array.from(Losses.detach(x).dataSync())).toEqual([1, -2, 3])
    tf.dispose([x, g])
  })

  it("a detached teacher gets a zero gradient, the value unchanged", () => {
    fc.assert(
      fc.property(logitsCase, temperature, ({ s, t, y }, T) => {
        const attached = Loss.kl({ teacher: "t", student: "s", temperature: T })
        const detached = Loss.kl({ teacher: Loss.detach("t"), student: "s", temperature: T })
        close(value(detached, { s, t }, y), value(attached, { s, t }, y), 1e-6, 1e-7)
        for (const row of gradient(detached, { s, t }, y, "t")) for (const x of row) expect(x).toBe(0)
        closeAll(gradient(detached, { s, t }, y, "s"), gradient(attached, { s, t }, y, "s"), 1e-6, 1e-7)
        const cosub = Loss.bce({ logits: "s", teacher: Loss.detach("t") })
        for (const row of gradient(cosub, { s, t }, y, "t")) for (const x of row) expect(x).toBe(0)
      }),
      { numRuns: 10 },
    )
  })
})

// ---------------------------------------------------------------------------------------------
// Mixing: linear in the weights
// ---------------------------------------------------------------------------------------------

describe("a loss mix is linear in its weights", () => {
  const terms = {
    ce: Loss.crossEntropy({ logits: "s", smoothing: 0.1 }),
    kd: Loss.kl({ teacher: "t", student: "s", temperature: 3 }),
    focal: Loss.focal({ logits: "s" }),
    bce: Loss.bce({ logits: "s", teacher: Loss.detach("t") }),
  }

  it("Σ wᵢ·termᵢ, and d/dwᵢ = termᵢ", () => {
    fc.assert(
      fc.property(
        logitsCase,
        fc.record({ ce: f32(-2, 2), kd: f32(-2, 2), focal: f32(-2, 2), bce: f32(-2, 2) }),
        ({ s, t, y }, w) => {
          const reference = {
            ce: ref.ce(s, y, 0.1),
            kd: ref.kl(t, s, 3, "forward"),
            focal: ref.focal(s, y, 2),
            bce: ref.bce(
              s,
              t.map((r) => r.map((x) => 1 / (1 + Math.exp(-x)))),
            ),
          }
          const names = Object.keys(terms) as Array<keyof typeof terms>
          tf.tidy(() => {
            const ctx = context({ s: tf.tensor2d(s), t: tf.tensor2d(t) }, y)
            const values: Record<string, tf.Scalar> = {}
            for (const n of names) values[n] = Losses.compute(terms[n], ctx, n)
            close(
              Losses.mix(values, w).dataSync()[0]!,
              sum(names.map((n) => w[n] * reference[n])),
              1e-4,
              1e-4,
            )
            const ws = names.map((n) => tf.scalar(w[n]))
            const dw = tf.grads((...xs: Array<tf.Tensor>) =>
              Losses.mix(values, Object.fromEntries(names.map((n, i) => [n, xs[i] as tf.Scalar]))),
            )(ws)
            names.forEach((n, i) => {
              close(dw[i]!.dataSync()[0]!, reference[n])
            })
          })
        },
      ),
      { numRuns: 20 },
    )
  })

  it("mixLosses evaluates ramp weights (missing = 1) and reports the unweighted terms", () => {
    const s = [[1, 0, -1]]
    const t = [[0, 2, 0]]
    const y = [[1, 0, 0]]
    const weights = { ce: Ramp.linear({ from: 1, to: 0, unit: "step", start: 0, end: 10 }) }
    tf.tidy(() => {
      const ctx = context({ s: tf.tensor2d(s), t: tf.tensor2d(t) }, y, noProjection, {
        step: 5,
        epoch: 0,
        progress: 0.5,
      })
      const { total, terms: values } = Losses.mixLosses({ ce: terms.ce, kd: terms.kd }, weights, ctx)
      close(values.ce!.dataSync()[0]!, ref.ce(s, y, 0.1))
      close(values.kd!.dataSync()[0]!, ref.kl(t, s, 3, "forward"))
      close(total.dataSync()[0]!, 0.5 * ref.ce(s, y, 0.1) + ref.kl(t, s, 3, "forward"))
    })
    expect(tf.tidy(() => Losses.mix({}, {}).dataSync()[0])).toBe(0)
  })
})

// ---------------------------------------------------------------------------------------------
// Shapes, planning, memory, types
// ---------------------------------------------------------------------------------------------

describe("shapes and planning", () => {
  const throwsShape = (f: () => unknown, fragment: string) => {
    try {
      tf.tidy(() => {
        f()
      })
    } catch (e) {
      expect(e).toBeInstanceOf(ShapeError)
      expect((e as ShapeError).path).toBe("loss.term")
      expect((e as ShapeError).message).toContain(fragment)
      return
    }
    throw new Error("expected a ShapeError")
  }

  it("mismatched operands fail with a ShapeError naming the term", () => {
    const ctx = () =>
      context({ s: tf.zeros([2, 3]), t: tf.zeros([2, 4]), u: tf.zeros([3, 3]) }, [
        [1, 0, 0],
        [0, 1, 0],
      ])
    throwsShape(() => Losses.compute(Loss.kl({ teacher: "t", student: "s" }), ctx(), "term"), "differ")
    throwsShape(() => Losses.compute(Loss.hint({ student: "s", teacher: "t" }), ctx(), "term"), "projection")
    throwsShape(() => Losses.compute(Loss.relation({ student: "s", teacher: "u" }), ctx(), "term"), "batches")
    throwsShape(() => Losses.compute(Loss.crossEntropy({ logits: "t" }), ctx(), "term"), "labels")
    throwsShape(
      () => Losses.compute(Loss.kl({ teacher: "s", student: "s", temperature: 0 }), ctx(), "term"),
      "temperature",
    )
  })

  it("projectionShape multiplies out per-sample shapes", () => {
    expect(
      Losses.projectionShape(Loss.hint({ student: "a", teacher: "b", projection: true }), [256], [7, 7, 64]),
    ).toEqual([256, 3136])
    expect(Losses.projectionShape(Loss.hint({ student: "a", teacher: "b" }), [256], [256])).toBeUndefined()
  })

  it("computing every kind inside tidy leaks no tensor", () => {
    const s = tf.randomNormal([4, 5], 0, 1, "float32", 1)
    const t = tf.randomNormal([4, 5], 0, 1, "float32", 2)
    const k = tf.variable(tf.randomNormal([5, 5], 0, 1, "float32", 3))
    const b = tf.variable(tf.zeros([5]))
    const ctx = context(
      { s, t },
      [
        [1, 0, 0, 0, 0],
        [0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 0, 1, 0],
      ],
      () => ({
        kernel: k,
        bias: b,
      }),
    )
    const all: Array<Loss.Loss> = [
      Loss.crossEntropy({ logits: "s", smoothing: 0.1 }),
      Loss.focal({ logits: "s" }),
      Loss.bce({ logits: "s", teacher: Loss.detach("t") }),
      Loss.kl({ teacher: "t", student: "s", direction: "symmetric" }),
      Loss.hardDistill({ teacher: "t", student: "s" }),
      Loss.hint({ student: "s", teacher: "t", projection: true, normalize: true }),
      Loss.relation({ student: "s", teacher: "t", kind: "softmax" }),
    ]
    const before = tf.memory().numTensors
    for (let i = 0; i < 5; i++)
      tf.tidy(() => {
        const { grads } = tf.variableGrads(
          () =>
            Losses.mix(Object.fromEntries(all.map((l, j) => [`t${j}`, Losses.compute(l, ctx, `t${j}`)])), {}),
          [k, b],
        )
        expect(Object.keys(grads)).toHaveLength(2)
      })
    expect(tf.memory().numTensors).toBe(before)
    tf.dispose([s, t, k, b, ctx.y])
  })

  it("cpu and wasm agree on every kind, values and gradients (wasm's OneHot ignores float32)", async () => {
    setWasmPaths(`${path.dirname(createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm"))}/`)
    const all: Array<Loss.Loss> = [
      Loss.crossEntropy({ logits: "s", smoothing: 0.1 }),
      Loss.focal({ logits: "s" }),
      Loss.bce({ logits: "s", teacher: Loss.detach("t") }),
      Loss.kl({ teacher: "t", student: "s", temperature: 4, direction: "symmetric" }),
      Loss.hardDistill({ teacher: "t", student: "s" }),
      Loss.hint({ student: "s", teacher: Loss.detach("t"), projection: true, normalize: true }),
      Loss.relation({ student: "s", teacher: "t", kind: "softmax", temperature: 0.5 }),
      Loss.relation({ student: "s", teacher: "t" }),
    ]
    const y = Array.from({ length: 6 }, (_, i) => oneHot(i % 5, 5))
    const runOn = async (backend: "cpu" | "wasm"): Promise<Array<number>> => {
      await tf.setBackend(backend)
      const s = tf.variable(tf.randomNormal([6, 5], 0, 1, "float32", 1))
      const t = tf.variable(tf.randomNormal([6, 5], 0, 1, "float32", 2))
      const k = tf.variable(tf.randomNormal([5, 5], 0, 0.5, "float32", 3))
      const b = tf.variable(tf.zeros([5]))
      const out = tf.tidy(() => {
        const ctx = context({ s, t }, y, () => ({ kernel: k, bias: b }))
        return all.flatMap((l, i) => {
          const { value: v, grads } = tf.variableGrads(() => Losses.compute(l, ctx, `t${i}`), [s, t, k, b])
          return [v.dataSync()[0]!, ...[s, t, k, b].map((x) => grads[x.name]?.dataSync() ?? [])].flatMap(
            (a) => (typeof a === "number" ? [a] : Array.from(a)),
          )
        })
      })
      tf.dispose([s, t, k, b])
      return out
    }
    const cpu = await runOn("cpu")
    const wasm = await runOn("wasm")
    await tf.setBackend("cpu")
    expect(wasm).toHaveLength(cpu.length)
    cpu.forEach((x, i) => {
      close(wasm[i]!, x, 1e-4, 1e-6)
    })
  })

  it("the handler table covers every loss kind", () => {
    expectTypeOf<keyof Losses.Handlers>().toEqualTypeOf<Loss.Loss["_tag"]>()
    expect(Object.keys(Losses.handlers).sort()).toEqual(
      [
        "Adversarial",
        "Bce",
        "BnStatistics",
        "ClassBalance",
        "CrossEntropy",
        "Curriculum",
        "Focal",
        "HardDistill",
        "Hint",
        "Kl",
        "MultiTeacher",
        "Prototype",
        "Relation",
        "TokenRelation",
        "Tst",
      ].sort(),
    )
  })
})
