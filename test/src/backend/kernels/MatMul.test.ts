import * as tf from "@tensorflow/tfjs-core"
import * as fc from "fast-check"
import { beforeAll, describe, it } from "vitest"
import { agree, init, modes, tensor, use } from "./harness.js"

beforeAll(init)

const dim = fc.integer({ min: 1, max: 40 })

/** Batch shapes (outer dims of a and b) that tfjs broadcasts: equal, or one side of size 1. */
const batches = fc.oneof(
  fc.constant<{ a: Array<number>; b: Array<number> }>({ a: [], b: [] }),
  fc.integer({ min: 1, max: 3 }).map((n) => ({ a: [n], b: [n] })),
  fc.integer({ min: 2, max: 3 }).map((n) => ({ a: [n], b: [1] })),
  fc.integer({ min: 2, max: 3 }).map((n) => ({ a: [1], b: [n] })),
  fc.constant({ a: [3, 1], b: [1, 3] }),
  fc.constant({ a: [2, 3], b: [3] }),
)

const problem = fc.record({
  m: dim,
  n: dim,
  k: dim,
  transA: fc.boolean(),
  transB: fc.boolean(),
  batch: batches,
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
})

type Problem = typeof problem extends fc.Arbitrary<infer P> ? P : never

function operands(p: Problem): { a: tf.Tensor; b: tf.Tensor } {
  const aShape = [...p.batch.a, ...(p.transA ? [p.k, p.m] : [p.m, p.k])]
  const bShape = [...p.batch.b, ...(p.transB ? [p.n, p.k] : [p.k, p.n])]
  return { a: tensor(p.seed, aShape), b: tensor(p.seed + 1, bShape) }
}

describe.each(modes)("BatchMatMul / _FusedMatMul (%s)", (mode) => {
  it("BatchMatMul matches tfjs-cpu for any transposes, batches and odd sizes", async () => {
    use(mode)
    await fc.assert(
      fc.asyncProperty(problem, async (p) => {
        await agree(() => {
          const { a, b } = operands(p)
          return tf.matMul(a, b, p.transA, p.transB)
        })
      }),
      { numRuns: 40, seed: 11 },
    )
  })

  it("gradients of a matmul (transposed products) match tfjs-cpu", async () => {
    use(mode)
    // tfjs-core's BatchMatMul gradient does not reduce broadcast batches (on any backend).
    const unbroadcast = problem.filter((p) => p.batch.a.join() === p.batch.b.join())
    await fc.assert(
      fc.asyncProperty(unbroadcast, async (p) => {
        await agree(() => {
          const { a, b } = operands(p)
          const outShape = [...p.batch.a, p.m, p.n]
          const r = tensor(p.seed + 2, outShape)
          const g = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
            tf.sum(tf.mul(tf.matMul(x, y, p.transA, p.transB), r)),
          )
          return g([a, b])
        })
      }),
      { numRuns: 30, seed: 12 },
    )
  })

  it("_FusedMatMul with bias (vector, scalar, full) and activations matches tfjs-cpu, with gradients", async () => {
    use(mode)
    const fused = fc.record({
      p: problem.filter((p) => p.batch.a.length === 0),
      bias: fc.constantFrom("none", "vector", "row", "scalar", "full"),
      activation: fc.constantFrom("linear", "relu", "elu", "sigmoid"),
    })
    await fc.assert(
      fc.asyncProperty(fused, async ({ p, bias, activation }) => {
        const biasShape =
          bias === "vector"
            ? [p.n]
            : bias === "row"
              ? [1, p.n]
              : bias === "scalar"
                ? [1]
                : bias === "full"
                  ? [p.m, p.n]
                  : undefined
        await agree(() => {
          const { a, b } = operands(p)
          const bt = biasShape === undefined ? undefined : tensor(p.seed + 3, biasShape)
          const forward = tf.fused.matMul({
            a: a as tf.Tensor2D,
            b: b as tf.Tensor2D,
            transposeA: p.transA,
            transposeB: p.transB,
            ...(bt !== undefined ? { bias: bt } : {}),
            activation: activation as tf.fused.Activation,
          })
          if (activation !== "linear" && activation !== "relu") return forward
          const r = tensor(p.seed + 4, [p.m, p.n])
          const f = (x: tf.Tensor, y: tf.Tensor, z?: tf.Tensor) =>
            tf.sum(
              tf.mul(
                tf.fused.matMul({
                  a: x as tf.Tensor2D,
                  b: y as tf.Tensor2D,
                  transposeA: p.transA,
                  transposeB: p.transB,
                  ...(z !== undefined ? { bias: z } : {}),
                  activation: activation as tf.fused.Activation,
                }),
                r,
              ),
            )
          const grads =
            bt === undefined
              ? tf.grads((x: tf.Tensor, y: tf.Tensor) => f(x, y))([a, b])
              : tf.grads(f)([a, b, bt])
          return [forward, ...grads]
        })
      }),
      { numRuns: 40, seed: 13 },
    )
  })
})
