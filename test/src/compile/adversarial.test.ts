/**
 * The data-free adversarial step (CuDFKD) on tiny linear models, against a float64 hand
 * computation of both updates: the generator's gradient flows through the (evaluation-mode)
 * teacher *and* student, but only the generator moves; the student then learns on fresh samples
 * of the *updated* generator with the curriculum weights held constant (stop-gradient on vᵢ).
 */
import "@tensorflow/tfjs-backend-cpu"
import * as tf from "@tensorflow/tfjs-core"
import * as fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { Loss, Model, Optimizer, Phase, Step } from "../../../dsl/index.js"
import * as State from "../../../src/compile/state.js"
import * as CompiledStep from "../../../src/compile/step.js"
import type * as Models from "../../../src/models/index.js"

fc.configureGlobal({ seed: 20_261_207, numRuns: 12 })

beforeAll(async () => {
  await tf.setBackend("cpu")
})

type M = Array<Array<number>>

const B = 6 // batch
const D = 3 // latent
const F = 4 // generated features
const K = 3 // classes

const matmul = (a: M, b: M): M =>
  a.map((r) => b[0]!.map((_, j) => r.reduce((s, v, i) => s + v * b[i]![j]!, 0)))
const transpose = (a: M): M => a[0]!.map((_, j) => a.map((r) => r[j]!))
const sub = (a: M, b: M): M => a.map((r, i) => r.map((v, j) => v - b[i]![j]!))
const scale = (a: M, c: number): M => a.map((r) => r.map((v) => v * c))
const add = (a: M, b: M): M => a.map((r, i) => r.map((v, j) => v + b[i]![j]!))
const logSoftmax = (r: ReadonlyArray<number>): Array<number> => {
  const m = Math.max(...r)
  const lse = m + Math.log(r.reduce((s, x) => s + Math.exp(x - m), 0))
  return r.map((x) => x - lse)
}
const argmax = (r: ReadonlyArray<number>) => r.indexOf(Math.max(...r))
/** The values rounded to float32, as the variables hold them. */
const f32 = (a: M): M => a.map((r) => r.map(Math.fround))
const maxAbs = (a: M): number => Math.max(...a.flat().map(Math.abs))
const toM = (flat: ArrayLike<number>, cols: number): M =>
  Array.from({ length: flat.length / cols }, (_, i) =>
    Array.from({ length: cols }, (_, j) => flat[i * cols + j]!),
  )

/** Per row at temperature T: p, q, log p − log q and KL(p ‖ q). */
const kls = (t: M, s: M, T: number) =>
  t.map((tr, i) => {
    const lp = logSoftmax(tr.map((v) => v / T))
    const lq = logSoftmax(s[i]!.map((v) => v / T))
    const p = lp.map(Math.exp)
    const q = lq.map(Math.exp)
    const diff = lp.map((l, k) => l - lq[k]!)
    const kl = p.reduce((acc, pk, k) => acc + pk * diff[k]!, 0)
    return { p, q, diff, kl }
  })

/**
 * The float64 updates of one step. `variant` breaks one rule on purpose, to show the test can
 * tell: `teacherDetached` drops the gradient through the teacher in the generator's update,
 * `weightsDifferentiated` lets the gradient flow through the curriculum weights, `staleSamples`
 * trains the student on the generator before its update.
 */
const expected = (
  w: { A: M; Wt: M; Ws: M },
  z: M,
  zs: M,
  o: { T: number; lambda: number; eta: number },
  variant?: "teacherDetached" | "weightsDifferentiated" | "staleSamples",
) => {
  const { T, lambda, eta } = o
  // generator: L = −mean mᵢ·T²·KL(pᵢ ‖ qᵢ), mᵢ = [argmax t = argmax s]
  const xg = matmul(z, w.A)
  const t = matmul(xg, w.Wt)
  const s = matmul(xg, w.Ws)
  const rows = kls(t, s, T)
  const mask = t.map((r, i) => (argmax(r) === argmax(s[i]!) ? 1 : 0))
  // ∂KL/∂t = p⊙(log p − log q − KL)/T, ∂KL/∂s = (q − p)/T
  const dt = rows.map((r, i) => r.p.map((pk, k) => ((-mask[i]! * T) / B) * pk * (r.diff[k]! - r.kl)))
  const ds = rows.map((r, i) => r.q.map((qk, k) => ((-mask[i]! * T) / B) * (qk - r.p[k]!)))
  const dxThroughTeacher = matmul(dt, transpose(w.Wt))
  const dxThroughStudent = matmul(ds, transpose(w.Ws))
  const dx = variant === "teacherDetached" ? dxThroughStudent : add(dxThroughTeacher, dxThroughStudent)
  const A2 = sub(w.A, scale(matmul(transpose(z), dx), eta))
  // student: L = mean sg(vᵢ)·lᵢ, lᵢ = T²·KL, vᵢ = max(0, 1 − lᵢ/λ) (soft), on xs = zs·A′
  const xs = matmul(zs, variant === "staleSamples" ? w.A : A2)
  const t2 = matmul(xs, w.Wt)
  const s2 = matmul(xs, w.Ws)
  const rows2 = kls(t2, s2, T)
  const dS = rows2.map((r) => {
    const l = T * T * r.kl
    const v = Math.max(0, 1 - l / lambda)
    // d(v·l)/dl = v with v held constant; v + l·dv/dl = 1 − 2l/λ (where v > 0) otherwise
    const factor = variant === "weightsDifferentiated" ? (v > 0 ? 1 - (2 * l) / lambda : 0) : v
    return r.q.map((qk, k) => ((factor * T) / B) * (qk - r.p[k]!))
  })
  const Ws2 = sub(w.Ws, scale(matmul(transpose(xs), dS), eta))
  return { A: A2, Ws: Ws2, maskSum: mask.reduce((a: number, b) => a + b, 0) }
}

let counter = 0

/** A linear model `x ↦ x·W` as a training-state slot, recording each input and mode. */
const linear = (
  name: string,
  w: M,
  calls: Array<{ model: string; train: boolean; input: Float32Array }>,
): State.ModelSlot => {
  const v = tf.variable(tf.tensor2d(w), true, `adv-test-${name}-${counter++}`)
  const params = { w: v }
  const built: Models.Built = {
    description: Model.mlp({ hidden: [], classes: w[0]!.length }),
    params,
    state: {},
    paramCount: w.length * w[0]!.length,
    taps: [],
    heads: ["logits"],
    input: undefined,
    classes: w[0]!.length,
    apply: (ps, x, options) => {
      calls.push({ model: name, train: options.train, input: Float32Array.from(x.dataSync()) })
      return { logits: tf.matMul(x as tf.Tensor2D, ps.w as tf.Tensor2D), heads: {}, taps: {} }
    },
    dispose: () => v.dispose(),
  }
  return { name, built, params, state: {} }
}

const step = (o: { T: number; lambda: number; eta: number }) =>
  Step.start.pipe(
    Step.noise({ as: "z", dim: D }),
    Step.forward("generator", { as: "xg", input: "z" }),
    Step.forward("teacher", { as: "tg", mode: "eval", input: "xg" }),
    Step.forward("student", { as: "sg", mode: "eval", input: "xg" }),
    Step.loss(
      { adversarial: Loss.adversarial({ teacher: "tg", student: "sg", temperature: o.T, mask: "agree" }) },
      { as: "lossG" },
    ),
    Step.optimize("generator", Optimizer.sgd({ lr: o.eta }), { loss: "lossG" }),
    Step.noise({ as: "zs", dim: D }),
    Step.forward("generator", { as: "xs", input: "zs", mode: "frozen" }),
    Step.forward("teacher", { as: "t", mode: "frozen", input: "xs" }),
    Step.forward("student", { as: "s", input: "xs" }),
    Step.loss({
      kd: Loss.curriculum({
        teacher: "t",
        student: "s",
        temperature: o.T,
        lambda: o.lambda,
        weighting: "soft",
      }),
    }),
    Step.optimize("student", Optimizer.sgd({ lr: o.eta })),
  )

/** Runs one compiled step on the three linear models; returns the weights after it and the noise drawn. */
const runOnce = (w: { A: M; Wt: M; Ws: M }, o: { T: number; lambda: number; eta: number }, seed: number) => {
  const calls: Array<{ model: string; train: boolean; input: Float32Array }> = []
  const state = State.empty()
  state.models.set("generator", linear("generator", w.A, calls))
  state.models.set("teacher", linear("teacher", w.Wt, calls))
  state.models.set("student", linear("student", w.Ws, calls))
  const phase = Phase.make({ name: "data-free", epochs: 1, batchSize: B, step: step(o) })
  const compiled = CompiledStep.compile(phase, 0, state, K)
  const batch = CompiledStep.emptyBatch(B)
  const before = tf.memory().numTensors
  const r = compiled.run(batch, {
    clock: { step: 0, epoch: 0, progress: 0 },
    seed,
    endOfEpoch: false,
    metrics: false,
  })
  for (const t of Object.values(r.losses)) t.dispose()
  const leaked = tf.memory().numTensors - before
  batch.x.dispose()
  batch.labels.dispose()
  const read = (name: string) => {
    const v = state.models.get(name)!.params.w as tf.Variable
    return toM(v.dataSync(), v.shape[1]!)
  }
  const out = { A: read("generator"), Wt: read("teacher"), Ws: read("student") }
  for (const slot of state.models.values()) slot.built.dispose()
  return { out, calls, leaked }
}

const matrix = (rows: number, cols: number, range: number) =>
  fc.array(
    fc.array(
      fc.integer({ min: -1000, max: 1000 }).map((v) => Math.fround((v / 1000) * range)),
      { minLength: cols, maxLength: cols },
    ),
    {
      minLength: rows,
      maxLength: rows,
    },
  )

describe("the data-free adversarial step", () => {
  it("updates the generator through teacher and student, then the student on the updated generator's samples", () => {
    fc.assert(
      fc.property(
        matrix(D, F, 1),
        matrix(F, K, 1.5),
        matrix(F, K, 0.5),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.double({ min: 1, max: 3, noNaN: true }),
        (A, Wt, noise, seed, T) => {
          // the student starts near the teacher, so that most argmaxes agree (the mask is not empty)
          const w = { A, Wt, Ws: f32(add(Wt, noise)) }
          const o = { T, lambda: 4, eta: 0.5 }
          const { out, calls, leaked } = runOnce(w, o, seed)
          // the generator ran twice: trained on z, then frozen (evaluation mode) on fresh noise zs
          const gen = calls.filter((c) => c.model === "generator")
          expect(gen.map((c) => c.train)).toEqual([true, false])
          expect(calls.filter((c) => c.model === "teacher").map((c) => c.train)).toEqual([false, false])
          expect(calls.filter((c) => c.model === "student").map((c) => c.train)).toEqual([false, true])
          const z = toM(gen[0]!.input, D)
          const zs = toM(gen[1]!.input, D)
          expect(maxAbs(sub(z, zs))).toBeGreaterThan(0)
          const want = expected(w, z, zs, o)
          const tol = 2e-5 * (1 + maxAbs(w.A) + maxAbs(w.Ws))
          expect(maxAbs(sub(out.A, want.A))).toBeLessThan(tol)
          expect(maxAbs(sub(out.Ws, want.Ws))).toBeLessThan(tol)
          // the teacher never moves
          expect(maxAbs(sub(out.Wt, w.Wt))).toBe(0)
          expect(leaked).toBeLessThanOrEqual(0)
        },
      ),
    )
  })

  it("would fail without each stop-gradient and ordering rule (the hand computation tells them apart)", () => {
    const A = [
      [0.9, -0.4, 0.3, 0.7],
      [-0.2, 0.8, -0.6, 0.1],
      [0.5, 0.3, 0.9, -0.8],
    ]
    const Wt = [
      [1.2, -0.7, 0.3],
      [-0.4, 1.1, -0.9],
      [0.8, 0.2, -1.3],
      [-1.0, 0.6, 0.9],
    ]
    const Ws = add(Wt, [
      [0.3, -0.2, 0.1],
      [-0.1, 0.25, -0.3],
      [0.2, 0.1, -0.15],
      [-0.25, 0.05, 0.2],
    ])
    const w = { A: f32(A), Wt: f32(Wt), Ws: f32(Ws) }
    // λ of the order of the per-sample losses, so that the curriculum weights are neither all 1 nor all 0
    const o = { T: 2, lambda: 0.3, eta: 0.5 }
    const { out, calls } = runOnce(w, o, 1234)
    const gen = calls.filter((c) => c.model === "generator")
    const z = toM(gen[0]!.input, D)
    const zs = toM(gen[1]!.input, D)
    const right = expected(w, z, zs, o)
    expect(right.maskSum).toBeGreaterThan(0)
    const tol = 1e-5
    expect(maxAbs(sub(out.A, right.A))).toBeLessThan(tol)
    expect(maxAbs(sub(out.Ws, right.Ws))).toBeLessThan(tol)
    // each broken rule moves the result by far more than the tolerance
    const teacherDetached = expected(w, z, zs, o, "teacherDetached")
    expect(maxAbs(sub(out.A, teacherDetached.A))).toBeGreaterThan(100 * tol)
    const differentiated = expected(w, z, zs, o, "weightsDifferentiated")
    expect(maxAbs(sub(out.Ws, differentiated.Ws))).toBeGreaterThan(100 * tol)
    const stale = expected(w, z, zs, o, "staleSamples")
    expect(maxAbs(sub(out.Ws, stale.Ws))).toBeGreaterThan(10 * tol)
  })
})
