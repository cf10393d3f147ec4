import "@tensorflow/tfjs-backend-cpu"
import "@tensorflow/tfjs-core/dist/register_all_gradients.js"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import * as fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Optimizer from "../../../dsl/Optimizer.js"
import * as Ramp from "../../../dsl/Ramp.js"
import { make as makeBackend } from "../../../src/backend/Backend.js"
import * as AdamKernel from "../../../src/backend/kernels/Adam.js"
import { kernelReport } from "../../../src/backend/kernels/index.js"
import * as Optimizers from "../../../src/compile/optimizers.js"
import { ShapeError } from "../../../src/errors.js"

fc.configureGlobal({ seed: 5_0202_4, numRuns: 40 })

beforeAll(async () => {
  await tf.setBackend("cpu")
})

// ---------------------------------------------------------------------------------------------
// Plain-JS (float64) reference, after PyTorch's SGD / Adam / AdamW and clip_grad_norm_
// ---------------------------------------------------------------------------------------------

type Vec = Array<number>

interface RefState {
  readonly params: Array<Vec>
  readonly slots: Array<Array<Vec>>
}

const clockAt = (step: number): Ramp.Clock => ({ step, epoch: step / 10, progress: step / 20 })

const referenceRun = (
  opt: Optimizer.Optimizer,
  init: ReadonlyArray<Vec>,
  grads: ReadonlyArray<ReadonlyArray<Vec>>,
): RefState => {
  const params = init.map((p) => [...p])
  const slots = init.map((p) => [p.map(() => 0), p.map(() => 0)])
  grads.forEach((stepGrads, i) => {
    const h = (num: Ramp.Num) => Ramp.evaluate(num, clockAt(i))
    const t = i + 1
    let gs = stepGrads.map((g) => [...g])
    const clip = h(opt.clipNorm)
    if (clip > 0) {
      const norm = Math.sqrt(gs.reduce((a, g) => a + g.reduce((b, x) => b + x * x, 0), 0))
      const f = Math.min(1, clip / (norm + 1e-6))
      gs = gs.map((g) => g.map((x) => x * f))
    }
    const lr = h(opt.lr)
    const wd = h(opt.weightDecay)
    gs.forEach((g0, k) => {
      const p = params[k]!
      const [s0, s1] = slots[k] as [Vec, Vec]
      if (opt._tag === "Sgd") {
        const mu = h(opt.momentum)
        p.forEach((theta, j) => {
          let g = g0[j]! + wd * theta
          const b = mu * s0[j]! + g
          s0[j] = b
          g = opt.nesterov ? g + mu * b : b
          p[j] = theta - lr * g
        })
      } else {
        const b1 = h(opt.beta1)
        const b2 = h(opt.beta2)
        const bc1 = 1 - b1 ** t
        const bc2 = 1 - b2 ** t
        p.forEach((theta0, j) => {
          let theta = theta0
          let g = g0[j]!
          if (opt._tag === "AdamW") theta = theta * (1 - lr * wd)
          else g = g + wd * theta
          s0[j] = b1 * s0[j]! + (1 - b1) * g
          s1[j] = b2 * s1[j]! + (1 - b2) * g * g
          const denom = Math.sqrt(s1[j]!) / Math.sqrt(bc2) + opt.epsilon
          p[j] = theta - (lr / bc1) * (s0[j]! / denom)
        })
      }
    })
  })
  return { params, slots }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const shapes: ReadonlyArray<ReadonlyArray<number>> = [[3, 2], [4], [1]]
const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1))
const STEPS = 5

const f32 = (lo: number, hi: number) => fc.double({ min: lo, max: hi, noNaN: true }).map(Math.fround)
const vec = (n: number, lo = -1, hi = 1) => fc.array(f32(lo, hi), { minLength: n, maxLength: n })
const paramsArb = fc.tuple(...sizes.map((n) => vec(n, -2, 2)))
const gradsArb = fc.array(fc.tuple(...sizes.map((n) => vec(n))), { minLength: STEPS, maxLength: STEPS })

/** A learning rate: a number, or a ramp that changes at every step. */
const lrArb = fc.oneof(
  f32(1e-3, 0.3),
  fc
    .record({ from: f32(1e-3, 0.3), to: f32(1e-3, 0.3) })
    .map(({ from, to }) => Ramp.linear({ from, to, unit: "step", start: 0, end: STEPS - 1 })),
)
const wdArb = fc.oneof(fc.constant(0), f32(0, 0.2))
/** Clipping off, surely active (small) or surely inactive (huge), or a ramp. */
const clipArb = fc.oneof(
  fc.constant(0),
  f32(0.05, 0.5),
  fc.constant(1e6),
  fc.constant(Ramp.linear({ from: 0.2, to: 3, unit: "step", start: 0, end: STEPS - 1 })),
)

const sgdArb = fc
  .record({
    lr: lrArb,
    momentum: fc.oneof(
      fc.constant(0),
      f32(0, 0.95),
      fc.constant(Ramp.linear({ from: 0.5, to: 0.9, unit: "step", start: 0, end: 4 })),
    ),
    nesterov: fc.boolean(),
    weightDecay: wdArb,
    clipNorm: clipArb,
  })
  .map((o) => Optimizer.sgd(o))

const adamOptions = fc.record({
  lr: lrArb,
  beta1: f32(0.5, 0.95),
  beta2: fc.oneof(
    f32(0.9, 0.9999),
    fc.constant(Ramp.linear({ from: 0.99, to: 0.999, unit: "step", start: 0, end: 4 })),
  ),
  weightDecay: wdArb,
  clipNorm: clipArb,
})
const adamArb = adamOptions.map((o) => Optimizer.adam(o))
const adamwArb = adamOptions.map((o) => Optimizer.adamw(o))

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

const makeParams = (values: ReadonlyArray<Vec>): Array<Optimizers.Param> =>
  values.map((v, k) => ({ path: `layer${k}/w`, variable: tf.variable(tf.tensor(v, [...shapes[k]!])) }))

const runTf = (
  opt: Optimizer.Optimizer,
  init: ReadonlyArray<Vec>,
  grads: ReadonlyArray<ReadonlyArray<Vec>>,
) => {
  const compiled = Optimizers.compile(opt)
  const params = makeParams(init)
  const state = compiled.init(params)
  grads.forEach((stepGrads, i) => {
    tf.tidy(() => {
      const g: Record<string, tf.Tensor> = {}
      params.forEach((p, k) => {
        g[p.path] = tf.tensor(stepGrads[k]!, [...shapes[k]!])
      })
      compiled.apply(state, params, g, (num) => Ramp.evaluate(num, clockAt(i)))
    })
  })
  const out = {
    params: params.map((p) => Array.from(p.variable.dataSync())),
    slots: params.map((p) => state.slots[p.path]!.map((s) => Array.from(s.dataSync()))),
    step: state.step,
  }
  Optimizers.dispose(state)
  for (const p of params) p.variable.dispose()
  return out
}

const closeVec = (actual: ReadonlyArray<number>, expected: ReadonlyArray<number>, tol = 1e-5): void => {
  expect(actual.length).toBe(expected.length)
  actual.forEach((a, j) => {
    const e = expected[j]!
    if (!(Math.abs(a - e) <= tol * (1 + Math.abs(e)))) throw new Error(`at ${j}: expected ${e}, got ${a}`)
  })
}

const agrees = (
  opt: Optimizer.Optimizer,
  init: ReadonlyArray<Vec>,
  grads: ReadonlyArray<ReadonlyArray<Vec>>,
) => {
  const got = runTf(opt, init, grads)
  const want = referenceRun(opt, init, grads)
  expect(got.step).toBe(grads.length)
  got.params.forEach((p, k) => {
    closeVec(p, want.params[k]!)
  })
  got.slots.forEach((slots, k) => {
    slots.forEach((s, i) => {
      closeVec(s, want.slots[k]![i]!)
    })
  })
}

// ---------------------------------------------------------------------------------------------
// Updates against the reference
// ---------------------------------------------------------------------------------------------

describe("updates match plain-JS references over several steps", () => {
  it("SGD: momentum, Nesterov, weight decay, clipping, ramped lr", () => {
    fc.assert(fc.property(sgdArb, paramsArb, gradsArb, (opt, init, grads) => agrees(opt, init, grads)))
  })

  it("Adam: coupled L2, clipping, ramped lr and β₂", () => {
    fc.assert(fc.property(adamArb, paramsArb, gradsArb, (opt, init, grads) => agrees(opt, init, grads)))
  })

  it("AdamW: decoupled weight decay", () => {
    fc.assert(fc.property(adamwArb, paramsArb, gradsArb, (opt, init, grads) => agrees(opt, init, grads)))
  })

  it("hand-checked first steps", () => {
    // SGD, momentum 0.9, lr 0.1: θ = 1, g = 1, 1 → b = 1, 1.9 → θ = 0.9, 0.71
    expect(
      runTf(
        Optimizer.sgd({ lr: 0.1, momentum: 0.9 }),
        [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1], [1]],
        [
          [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1], [1]],
          [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1], [1]],
        ],
      ).params[2]![0],
    ).toBeCloseTo(0.71, 6)
    // Adam's first step moves every coordinate by lr·sign(g) (bias-corrected m/√v = ±1)
    const first = runTf(
      Optimizer.adam({ lr: 0.01 }),
      [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0], [0]],
      [[[3, -2, 1, -0.5, 0.1, -7], [1, 1, 1, 1], [-4]]],
    )
    closeVec(first.params[0]!, [-0.01, 0.01, -0.01, 0.01, -0.01, 0.01])
    closeVec(first.params[2]!, [0.01])
  })

  it("clipping scales by the global norm across parameters, and only when it exceeds the limit", () => {
    // gradients [3] and [4] (norm 5), clip 1 → [0.6], [0.8]; SGD lr 1 from 0
    const compiled = Optimizers.compile(Optimizer.sgd({ lr: 1, clipNorm: 1 }))
    const a = tf.variable(tf.tensor1d([0]))
    const b = tf.variable(tf.tensor1d([0]))
    const params = [
      { path: "a", variable: a },
      { path: "b", variable: b },
    ]
    const state = compiled.init(params)
    const hyper = (num: Ramp.Num) => Ramp.evaluate(num, clockAt(0))
    tf.tidy(() => compiled.apply(state, params, { a: tf.tensor1d([3]), b: tf.tensor1d([4]) }, hyper))
    closeVec([a.dataSync()[0]!, b.dataSync()[0]!], [-3 / (5 + 1e-6), -4 / (5 + 1e-6)])
    tf.tidy(() => compiled.apply(state, params, { a: tf.tensor1d([0.3]), b: tf.tensor1d([0.4]) }, hyper))
    closeVec([a.dataSync()[0]!, b.dataSync()[0]!], [-0.6 - 0.3, -0.8 - 0.4])
    tf.dispose([a, b])
  })

  it("parameters without a gradient are left alone", () => {
    const compiled = Optimizers.compile(Optimizer.adamw({ lr: 0.1, weightDecay: 0.5 }))
    const params = makeParams([[1, 1, 1, 1, 1, 1], [2, 2, 2, 2], [3]])
    const state = compiled.init(params)
    tf.tidy(() =>
      compiled.apply(state, params, { "layer2/w": tf.tensor([1], [1]) }, (n) => Ramp.evaluate(n, clockAt(0))),
    )
    expect(Array.from(params[0]!.variable.dataSync())).toEqual([1, 1, 1, 1, 1, 1])
    expect(Array.from(params[1]!.variable.dataSync())).toEqual([2, 2, 2, 2])
    expect(params[2]!.variable.dataSync()[0]).not.toBe(3)
    Optimizers.dispose(state)
    tf.dispose(params.map((p) => p.variable))
  })
})

// ---------------------------------------------------------------------------------------------
// Slots, hyper-parameters, serialisation, memory
// ---------------------------------------------------------------------------------------------

describe("state", () => {
  it("allocates only the buffers it needs, as non-trainable variables", () => {
    const params = makeParams([[1, 1, 1, 1, 1, 1], [2, 2, 2, 2], [3]])
    const counts = [
      [Optimizer.sgd({ lr: 1 }), 0],
      [Optimizer.sgd({ lr: 1, momentum: Ramp.constant(0) }), 0],
      [Optimizer.sgd({ lr: 1, momentum: 0.9 }), 1],
      [Optimizer.sgd({ lr: 1, momentum: Ramp.linear({ from: 0, to: 0.9 }) }), 1],
      [Optimizer.adam({ lr: 1 }), 2],
      [Optimizer.adamw({ lr: 1 }), 2],
    ] as const
    for (const [opt, n] of counts) {
      const compiled = Optimizers.compile(opt)
      expect(compiled.slotsPerParam).toBe(n)
      const state = compiled.init(params)
      expect(state.step).toBe(0)
      for (const p of params) {
        expect(state.slots[p.path]).toHaveLength(n)
        for (const s of state.slots[p.path]!) {
          expect(s.trainable).toBe(false)
          expect(s.shape).toEqual(p.variable.shape)
        }
      }
      Optimizers.dispose(state)
    }
    tf.dispose(params.map((p) => p.variable))
  })

  it("hyperValues evaluates every scheduled hyper-parameter", () => {
    const opt = Optimizer.adamw({
      lr: Ramp.linear({ from: 1, to: 0, unit: "step", start: 0, end: 10 }),
      clipNorm: 2,
    })
    expect(Optimizers.compile(opt).hyperValues((n) => Ramp.evaluate(n, clockAt(5)))).toEqual({
      lr: 0.5,
      beta1: 0.9,
      beta2: 0.999,
      weightDecay: 0.01,
      clipNorm: 2,
    })
    expect(
      Optimizers.compile(Optimizer.sgd({ lr: 0.1, momentum: 0.9 })).hyperValues((n) =>
        Ramp.evaluate(n, clockAt(0)),
      ),
    ).toEqual({
      lr: 0.1,
      momentum: 0.9,
      weightDecay: 0,
      clipNorm: 0,
    })
  })

  it("serialises and restores its state: training continues identically", async () => {
    const opt = Optimizer.adam({ lr: 0.05, weightDecay: 0.01, clipNorm: 1 })
    const compiled = Optimizers.compile(opt)
    const init = [[1, -1, 0.5, 2, -0.3, 0.7], [0.1, 0.2, 0.3, 0.4], [-1]]
    const params = makeParams(init)
    const state = compiled.init(params)
    const grad = (i: number): Record<string, tf.Tensor> =>
      Object.fromEntries(params.map((p, k) => [p.path, tf.fill([...shapes[k]!], Math.sin(i + k))]))
    const hyper = (n: Ramp.Num) => Ramp.evaluate(n, clockAt(0))
    for (let i = 0; i < 3; i++) tf.tidy(() => compiled.apply(state, params, grad(i), hyper))

    const arrays = await Effect.runPromise(Optimizers.stateToArrays(state))
    expect(arrays.step).toBe(3)
    expect(Object.keys(arrays.slots)).toEqual(params.map((p) => p.path))
    const twinParams = params.map((p) => ({ path: p.path, variable: tf.variable(p.variable.clone()) }))
    const restored = await Effect.runPromise(
      Optimizers.stateFromArrays(arrays, twinParams, compiled.slotsPerParam),
    )
    expect(await Effect.runPromise(Optimizers.stateToArrays(restored))).toEqual(arrays)

    for (let i = 3; i < 6; i++) {
      tf.tidy(() => compiled.apply(state, params, grad(i), hyper))
      tf.tidy(() => compiled.apply(restored, twinParams, grad(i), hyper))
    }
    expect(restored.step).toBe(6)
    params.forEach((p, k) => {
      expect(Array.from(twinParams[k]!.variable.dataSync())).toEqual(Array.from(p.variable.dataSync()))
    })
    Optimizers.dispose(state)
    Optimizers.dispose(restored)
    tf.dispose([...params, ...twinParams].map((p) => p.variable))
  })

  it("refuses a saved state that does not fit, with a ShapeError", async () => {
    const params = makeParams([[1, 1, 1, 1, 1, 1], [2, 2, 2, 2], [3]])
    const state = Optimizers.compile(Optimizer.sgd({ lr: 1, momentum: 0.9 })).init(params)
    const arrays = await Effect.runPromise(Optimizers.stateToArrays(state))
    const failure = async (a: Optimizers.OptimizerArrays, slots: number, fragment: string) => {
      const result = await Effect.runPromise(Effect.result(Optimizers.stateFromArrays(a, params, slots)))
      if (result._tag !== "Failure") throw new Error("expected a failure")
      expect(result.failure).toBeInstanceOf(ShapeError)
      expect(result.failure.message).toContain(fragment)
    }
    await failure(arrays, 2, "needs 2")
    await failure({ step: 1, slots: { ...arrays.slots, extra: [] } }, 1, "unknown parameter")
    const { "layer1/w": _, ...missing } = arrays.slots
    await failure({ step: 1, slots: missing }, 1, "no buffers")
    await failure({ step: 1, slots: { ...arrays.slots, "layer2/w": [new Float32Array(5)] } }, 1, "5 values")
    Optimizers.dispose(state)
    tf.dispose(params.map((p) => p.variable))
  })

  it("100 updates inside tidy leak no tensor", () => {
    // a small least-squares problem: the loss must also go down
    const x = tf.randomNormal([16, 3], 0, 1, "float32", 11)
    const yTrue = tf.matMul(x, tf.tensor2d([[1], [-2], [0.5]]))
    const w = tf.variable(tf.zeros([3, 1]))
    const b = tf.variable(tf.zeros([1]))
    const params = [
      { path: "w", variable: w },
      { path: "b", variable: b },
    ]
    for (const opt of [
      Optimizer.adam({ lr: 0.05, clipNorm: 1 }),
      Optimizer.adamw({ lr: Ramp.cosine({ from: 0.1, to: 0 }), weightDecay: 0.01 }),
      Optimizer.sgd({ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-4, clipNorm: 5 }),
    ]) {
      tf.tidy(() => {
        w.assign(tf.zeros([3, 1]))
        b.assign(tf.zeros([1]))
      })
      const compiled = Optimizers.compile(opt)
      const state = compiled.init(params)
      const lossOf = () => tf.mean(tf.squaredDifference(tf.add(tf.matMul(x, w), b), yTrue)) as tf.Scalar
      const first = tf.tidy(() => lossOf().dataSync()[0]!)
      const before = tf.memory().numTensors
      for (let i = 0; i < 100; i++)
        tf.tidy(() => {
          const { grads } = tf.variableGrads(lossOf, [w, b])
          compiled.apply(state, params, { w: grads[w.name]!, b: grads[b.name]! }, (n) =>
            Ramp.evaluate(n, { step: i, epoch: i / 10, progress: i / 100 }),
          )
        })
      expect(tf.memory().numTensors).toBe(before)
      expect(tf.tidy(() => lossOf().dataSync()[0]!)).toBeLessThan(first / 10)
      Optimizers.dispose(state)
    }
    tf.dispose([x, yTrue, w, b])
  })
})

describe("on wasm, Adam and AdamW run as one fused kernel per parameter, with the same updates", () => {
  beforeAll(async () => {
    await Effect.runPromise(Effect.scoped(makeBackend({ kind: "wasm" })))
    expect(tf.getKernel(AdamKernel.kernelName, "wasm")).toBeDefined()
  })
  afterAll(async () => {
    await tf.setBackend("cpu")
  })

  it("Adam and AdamW agree with the reference (coupled L2, decoupled decay, clipping, ramps)", () => {
    fc.assert(
      fc.property(adamArb, paramsArb, gradsArb, (opt, init, grads) => agrees(opt, init, grads)),
      { numRuns: 40 },
    )
    fc.assert(
      fc.property(adamwArb, paramsArb, gradsArb, (opt, init, grads) => agrees(opt, init, grads)),
      { numRuns: 40 },
    )
  })

  it("with the native addon the fused kernel is what runs (one RetortAdam per parameter); without it, the element-wise ops", async () => {
    const compiled = Optimizers.compile(Optimizer.adamw({ lr: 1e-2, weightDecay: 0.1 }))
    const params = makeParams([
      [1, 2, 3, 4, 5, 6],
      [0.5, -0.5, 1, -1],
    ])
    const state = compiled.init(params)
    const profile = await tf.profile(() => {
      tf.tidy(() => {
        const g: Record<string, tf.Tensor> = {}
        for (const p of params) g[p.path] = tf.onesLike(p.variable)
        compiled.apply(state, params, g, (num) => Ramp.evaluate(num, clockAt(0)))
      })
    })
    const names = profile.kernels.map((k) => k.name)
    if (kernelReport()?.native) {
      expect(names.filter((n) => n === AdamKernel.kernelName)).toHaveLength(2)
      expect(names).not.toContain("Sqrt")
      expect(names).not.toContain("RealDiv")
    } else {
      // without the native addon the element-wise ops are faster than the kernel's JS fallback
      expect(names).not.toContain(AdamKernel.kernelName)
      expect(names).toContain("Sqrt")
    }
    Optimizers.dispose(state)
    for (const p of params) p.variable.dispose()
  })
})
