import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-backend-cpu"
import "../../../src/backend/gradients.js"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Model from "../../../dsl/Model.js"
import * as Models from "../../../src/models/index.js"
import { Samples, Sharpness, Vector } from "../../../src/probes/index.js"

/** A 4 → 3 linear softmax classifier on 2×2 images: 15 parameters, Hessian known in closed form. */
const linear = Model.mlp({ hidden: [], classes: 3, input: [2, 2, 1] })
const N = 48
let built: Models.Built
let samples: Samples.Samples
let xs: Float32Array

beforeAll(async () => {
  tf.env().set("IS_TEST", false)
  await tf.setBackend("cpu")
  built = Effect.runSync(Models.build(linear, { seed: 3 }))
  let s = 7
  const rand = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32
  xs = Float32Array.from({ length: N * 4 }, rand)
  const ys = Int32Array.from({ length: N }, (_, i) =>
    xs[i * 4]! + xs[i * 4 + 1]! > 1 ? 0 : xs[i * 4 + 2]! > 0.5 ? 1 : 2,
  )
  samples = Samples.fromArrays({ x: xs, y: ys, shape: [2, 2, 1], classes: 3, batchSize: 20 })
})
afterAll(() => {
  samples.dispose()
  built.dispose()
})

/** H = mean_i (x̃ x̃ᵀ) ⊗ (diag p − p pᵀ), indexed k·3 + c with x̃ = [x, 1] (kernel rows, then the bias). */
const analyticHessian = (): Array<Array<number>> => {
  const flat = Models.Tree.flatten(built.params)
  expect(Object.keys(flat)).toEqual(["head/kernel", "head/bias"])
  const W = Array.from(flat["head/kernel"]!.dataSync())
  const b = Array.from(flat["head/bias"]!.dataSync())
  const P = 15
  const H = Array.from({ length: P }, () => new Array<number>(P).fill(0))
  for (let i = 0; i < N; i++) {
    const x = [...xs.subarray(i * 4, i * 4 + 4), 1]
    const z = [0, 1, 2].map((c) => b[c]! + [0, 1, 2, 3].reduce((sum, k) => sum + x[k]! * W[k * 3 + c]!, 0))
    const m = Math.max(...z)
    const e = z.map((v) => Math.exp(v - m))
    const p = e.map((v) => v / e.reduce((a, c) => a + c, 0))
    for (let k = 0; k < 5; k++)
      for (let l = 0; l < 5; l++)
        for (let c = 0; c < 3; c++)
          for (let d = 0; d < 3; d++)
            H[k * 3 + c]![l * 3 + d]! += (x[k]! * x[l]! * ((c === d ? p[c]! : 0) - p[c]! * p[d]!)) / N
  }
  return H
}

/** Eigenvalues of a symmetric matrix by cyclic Jacobi rotations. */
const eigenvalues = (input: Array<Array<number>>): Array<number> => {
  const a = input.map((r) => [...r])
  const n = a.length
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p]![q]! ** 2
    if (off < 1e-24) break
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p]![q]!) < 1e-300) continue
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * a[p]![q]!)
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1))
        const c = 1 / Math.sqrt(t * t + 1)
        const s = t * c
        for (let k = 0; k < n; k++) {
          const akp = a[k]![p]!
          const akq = a[k]![q]!
          a[k]![p] = c * akp - s * akq
          a[k]![q] = s * akp + c * akq
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p]![k]!
          const aqk = a[q]![k]!
          a[p]![k] = c * apk - s * aqk
          a[q]![k] = s * apk + c * aqk
        }
      }
  }
  return a.map((r, i) => r[i]!).sort((x, y) => y - x)
}

describe("Hessian (linear softmax classifier, closed form)", () => {
  it("finite-difference Hessian-vector products match H·v", () => {
    const H = analyticHessian()
    const theta = Vector.fromTree(built.params)
    const v = [0.3, -1, 0.5, 0.2, 0.9, -0.4, 0.1, 0.7, -0.6, 0.05, 0.8, -0.2, 0.4, -0.9, 0.6]
    const hv = tf.tidy(() => {
      const vec = {
        paths: theta.paths,
        tensors: [tf.tensor2d(v.slice(0, 12), [4, 3]), tf.tensor1d(v.slice(12))],
      }
      const r = Sharpness.hessianVectorProduct(built, theta, vec, samples, { h: 1e-3 })
      return r.tensors.flatMap((t) => Array.from(t.dataSync()))
    })
    const expected = H.map((row) => row.reduce((s, h, j) => s + h * v[j]!, 0))
    const err = Math.hypot(...hv.map((x, i) => x - expected[i]!)) / Math.hypot(...expected)
    if (process.env.PROBE_VERBOSE) console.log("HVP relative error", err)
    expect(err).toBeLessThan(1e-3)
  })

  it("power iteration finds the top eigenvalue within 0.5 %", async () => {
    const top = eigenvalues(analyticHessian())[0]!
    const r = await Effect.runPromise(
      Sharpness.topEigenvalue(built, built.params, samples, { iterations: 300, tolerance: 1e-6, seed: 1 }),
    )
    if (process.env.PROBE_VERBOSE)
      console.log("λmax", r.eigenvalue, "exact", top, "iterations", r.iterations, r.converged)
    expect(r.hvp).toBe("finite-difference")
    expect(Math.abs(r.eigenvalue - top) / top).toBeLessThan(0.005)
    expect(r.trace.length).toBe(r.iterations)
    expect(r.step).toBeGreaterThan(0)
  })

  it("is deterministic by seed", async () => {
    const go = (seed: number) =>
      Effect.runPromise(
        Sharpness.topEigenvalue(built, built.params, samples, { iterations: 4, tolerance: 0, seed }),
      )
    const a = await go(2)
    expect((await go(2)).trace).toEqual(a.trace)
    expect((await go(3)).trace).not.toEqual(a.trace)
  })
})

describe("ε-ball sharpness", () => {
  it("the rise is ≥ 0 and grows with ε", async () => {
    const rises: Array<number> = []
    for (const epsilon of [1e-3, 1e-2, 5e-2]) {
      const e = await Effect.runPromise(
        Sharpness.epsilonRise(built, built.params, samples, { epsilon, ascentSteps: 3 }),
      )
      expect(e.rise).toBeGreaterThanOrEqual(0)
      expect(e.trace.length).toBe(4)
      expect(e.worst).toBe(Math.max(...e.trace))
      expect(e.keskar).toBeCloseTo((100 * e.rise) / (1 + e.base), 10)
      rises.push(e.rise)
    }
    expect(rises[0]).toBeGreaterThan(0)
    expect(rises[1]).toBeGreaterThan(rises[0]!)
    expect(rises[2]).toBeGreaterThan(rises[1]!)
  })

  it("to first order, a small ball's rise is ρ‖∇L‖", async () => {
    const g = tf.tidy(() => {
      const r = tf
        .engine()
        .gradients(
          () =>
            tf.losses.softmaxCrossEntropy(
              tf.concat(samples.batches.map((b) => b.oneHot)),
              built.apply(built.params, tf.concat(samples.batches.map((b) => b.x)), { train: false }).logits,
            ) as tf.Scalar,
          Object.values(Models.Tree.flatten(built.params)),
        )
      return Math.hypot(...r.grads.flatMap((t) => Array.from(t.dataSync())))
    })
    const e = await Effect.runPromise(
      Sharpness.epsilonRise(built, built.params, samples, { epsilon: 1e-4, ascentSteps: 1 }),
    )
    expect(e.rise / (e.radius * g)).toBeGreaterThan(0.97)
    expect(e.rise / (e.radius * g)).toBeLessThan(1.03)
  })
})

describe("sharpness", () => {
  it("reports both measures as numbers and leaks nothing", async () => {
    await Effect.runPromise(Sharpness.sharpness(built, built.params, samples, { iterations: 2 }))
    const before = tf.memory().numTensors
    const s = await Effect.runPromise(
      Sharpness.sharpness(built, built.params, samples, { iterations: 5, epsilon: 0.01, model: "linear" }),
    )
    expect(tf.memory().numTensors).toBe(before)
    expect(s).toMatchObject({ _tag: "Sharpness", kind: "sharpness", model: "linear", head: "logits" })
    expect(typeof s.hessian?.eigenvalue).toBe("number")
    expect(s.epsilon?.rise).toBeGreaterThan(0)
    expect(s.base.loss).toBeCloseTo(s.epsilon!.base, 5)
    expect(JSON.parse(JSON.stringify(s))).toEqual(s)
    const only = await Effect.runPromise(
      Sharpness.sharpness(built, built.params, samples, { method: "hessian", iterations: 2 }),
    )
    expect(only.epsilon).toBeUndefined()
    expect(tf.memory().numTensors).toBe(before)
  })
})

describe("any model", () => {
  it("a ResNet with batch norm, drop-path and an early exit: probes of the exit head, with unused parameters", async () => {
    const resnet = Effect.runSync(
      Models.build(
        Model.resnet({
          stem: { filters: 4 },
          blocks: [{ filters: 4 }, { filters: 4, stride: 2 }],
          exits: [{ after: "block0" }],
          batchNorm: true,
          dropPath: 0.2,
          classes: 3,
          input: [6, 6, 1],
        }),
        { seed: 1 },
      ),
    )
    const x = Float32Array.from({ length: 24 * 36 }, (_, i) =>
      Math.abs((Math.sin(i * 12.9898) * 43758.5453) % 1),
    )
    const data = Samples.fromArrays({
      x,
      y: Int32Array.from({ length: 24 }, (_, i) => i % 3),
      shape: [6, 6, 1],
      classes: 3,
      batchSize: 10,
    })
    const before = tf.memory().numTensors
    const s = await Effect.runPromise(
      Sharpness.sharpness(resnet, resnet.params, data, {
        head: "exit0",
        iterations: 3,
        ascentSteps: 2,
        epsilon: 0.01,
      }),
    )
    expect(s.head).toBe("exit0")
    expect(Number.isFinite(s.hessian!.eigenvalue)).toBe(true)
    expect(s.epsilon!.rise).toBeGreaterThan(0)
    expect(tf.memory().numTensors).toBe(before)
    data.dispose()
    resnet.dispose()
  })
})
