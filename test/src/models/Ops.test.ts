import * as tf from "@tensorflow/tfjs-core"
import { beforeAll, describe, expect, it } from "vitest"
import * as Ops from "../../../src/models/Ops.js"
import { init, maxDiff } from "./setup.js"

beforeAll(init)

/** A conv layer and a dense layer with bias and ReLU, their parameters and a batch. */
const layers = () => {
  const x = tf.randomNormal([3, 6, 6, 2], 0, 1, "float32", 5) as tf.Tensor4D
  const params = {
    conv0: {
      kernel: tf.randomNormal([3, 3, 2, 4], 0, 0.5, "float32", 6),
      bias: tf.randomNormal([4], 0, 0.5, "float32", 7),
    },
    dense0: {
      kernel: tf.randomNormal([36, 5], 0, 0.3, "float32", 8),
      bias: tf.randomNormal([5], 0, 0.3, "float32", 9),
    },
  }
  return { x, params }
}

/** The same two layers from unfused tfjs ops: conv → add → relu, matMul → add → relu. */
const reference = (x: tf.Tensor4D, p: ReturnType<typeof layers>["params"], stride: number) => {
  const h = tf.relu(tf.add(tf.conv2d(x, p.conv0.kernel as tf.Tensor4D, stride, "same"), p.conv0.bias))
  const flat = tf.reshape(tf.slice(h, [0, 0, 0, 0], [-1, 3, 3, -1]), [x.shape[0], 36])
  return tf.relu(tf.add(tf.matMul(flat, p.dense0.kernel as tf.Tensor2D), p.dense0.bias))
}

const viaOps = (x: tf.Tensor4D, p: ReturnType<typeof layers>["params"], stride: number) => {
  const run = Ops.run({ params: p, state: {}, train: true })
  const h = Ops.conv2d(run, "conv0", x, { stride, activation: "relu" })
  const flat = tf.reshape(tf.slice(h, [0, 0, 0, 0], [-1, 3, 3, -1]), [x.shape[0], 36])
  return Ops.dense(run, "dense0", flat, { activation: "relu" })
}

describe("fused bias + ReLU under a gradient", () => {
  it.each([1, 2])(
    "conv2d and dense (stride %i) give tfjs-core's unfused values and gradients, input gradient included",
    (stride) => {
      const { x, params } = layers()
      const loss =
        (f: typeof viaOps) => (xs: tf.Tensor4D, ck: tf.Tensor, cb: tf.Tensor, dk: tf.Tensor, db: tf.Tensor) =>
          tf.sum(
            tf.square(f(xs, { conv0: { kernel: ck, bias: cb }, dense0: { kernel: dk, bias: db } }, stride)),
          )
      const args = [
        x,
        params.conv0.kernel,
        params.conv0.bias,
        params.dense0.kernel,
        params.dense0.bias,
      ] as const
      const ours = tf.grads(loss(viaOps) as (...a: Array<tf.Tensor>) => tf.Tensor)([...args])
      const theirs = tf.grads(loss(reference) as (...a: Array<tf.Tensor>) => tf.Tensor)([...args])
      expect(ours).toHaveLength(5)
      for (let i = 0; i < 5; i++) {
        expect(ours[i]!.shape).toEqual(theirs[i]!.shape)
        expect(maxDiff(ours[i]!, theirs[i]!)).toBeLessThan(1e-4)
      }
      // Some units are dead, so the ReLU mask matters to the check.
      const h = tf.add(tf.conv2d(x, params.conv0.kernel as tf.Tensor4D, stride, "same"), params.conv0.bias)
      expect(tf.any(tf.less(h, 0)).dataSync()[0]).toBe(1)
      // Forward values too, inside and outside a gradient.
      expect(maxDiff(viaOps(x, params, stride), reference(x, params, stride))).toBeLessThan(1e-5)
    },
  )

  it("does not leak tensors, and second-order gradients through it match the reference", () => {
    const { x, params } = layers()
    const before = tf.memory().numTensors
    const g = tf.grads((k: tf.Tensor, b: tf.Tensor) =>
      tf.sum(viaOps(x, { ...params, conv0: { kernel: k, bias: b } }, 1)),
    )([params.conv0.kernel, params.conv0.bias])
    for (const t of g) t.dispose()
    expect(tf.memory().numTensors).toBe(before)
    // d/dx of ‖∂L/∂x‖² — the gradient of a gradient through the fused kernels.
    const outer = (f: typeof viaOps) =>
      tf.grad((xs: tf.Tensor) =>
        tf.sum(tf.square(tf.grad((z: tf.Tensor) => tf.sum(tf.square(f(z as tf.Tensor4D, params, 1))))(xs))),
      )
    expect(maxDiff(outer(viaOps)(x), outer(reference)(x))).toBeLessThan(1e-3)
  })
})
