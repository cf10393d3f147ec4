import * as tf from "@tensorflow/tfjs-core"
import * as fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { FusedAdamOptimizer, fusedAdam } from "../../../../src/backend/kernels/index.js"
import { close, init, modes, tensor, use } from "./harness.js"

beforeAll(init)

let unique = 0

/** Three Adam steps on a random quadratic; returns the parameters and both moments. */
async function train(
  backend: "cpu" | "wasm",
  fused: boolean,
  p: { shapes: Array<Array<number>>; lr: number; beta1: number; beta2: number; seed: number },
): Promise<Array<Float32Array>> {
  await tf.setBackend(backend)
  const vars = p.shapes.map((s, i) => tf.variable(tensor(p.seed + i, s), true, `adam-${unique++}`))
  const targets = p.shapes.map((s, i) => tensor(p.seed + 100 + i, s))
  const opt = fused ? new FusedAdamOptimizer(p.lr, p.beta1, p.beta2) : tf.train.adam(p.lr, p.beta1, p.beta2)
  for (let k = 0; k < 3; k++) {
    tf.tidy(() => {
      const { grads } = tf.variableGrads(
        () => tf.addN(vars.map((v, i) => tf.sum(tf.square(tf.sub(v, targets[i]!))))) as tf.Scalar,
        vars,
      )
      opt.applyGradients(grads as tf.NamedTensorMap as Parameters<typeof opt.applyGradients>[0])
    })
  }
  const weights = await opt.getWeights()
  const out = [...vars, ...weights.slice(1).map((w) => w.tensor)].map((t) => Float32Array.from(t.dataSync()))
  opt.dispose()
  tf.dispose([...vars, ...targets])
  return out
}

const problem = fc.record({
  shapes: fc.array(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }), {
    minLength: 1,
    maxLength: 3,
  }),
  lr: fc.constantFrom(1e-3, 0.01, 0.1),
  beta1: fc.constantFrom(0.9, 0.5),
  beta2: fc.constantFrom(0.999, 0.9),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
})

describe.each(modes)("FusedAdamOptimizer (%s)", (mode) => {
  it("follows tf.train.adam on tfjs-cpu: parameters and moments after three steps", async () => {
    use(mode)
    await fc.assert(
      fc.asyncProperty(problem, async (p) => {
        const expected = await train("cpu", false, p)
        const actual = await train("wasm", true, p)
        expect(actual.length).toBe(expected.length)
        expected.forEach((e, i) => {
          close(actual[i]!, e, 1e-5, `weight ${i}`)
        })
      }),
      { numRuns: 20, seed: 71 },
    )
  })

  it("leaks no tensors and counts iterations", async () => {
    use(mode)
    await tf.setBackend("wasm")
    const v = tf.variable(tf.ones([4]), true, `adam-${unique++}`)
    const opt = fusedAdam(0.1)
    const step = () =>
      tf.tidy(() =>
        opt.applyGradients(
          tf.variableGrads(() => tf.sum(tf.square(v)) as tf.Scalar, [v]).grads as Parameters<
            typeof opt.applyGradients
          >[0],
        ),
      )
    step()
    const before = tf.memory().numTensors
    step()
    step()
    expect(tf.memory().numTensors).toBe(before)
    expect(opt.iterations).toBe(3)
    opt.dispose()
    v.dispose()
  })
})

describe("FusedAdamOptimizer off wasm", () => {
  it("is the stock optimizer on other backends", async () => {
    const p = { shapes: [[3, 2]], lr: 0.01, beta1: 0.9, beta2: 0.999, seed: 5 }
    const stock = await train("cpu", false, p)
    const fused = await train("cpu", true, p)
    stock.forEach((e, i) => {
      expect([...fused[i]!]).toEqual([...e])
    })
  })
})
