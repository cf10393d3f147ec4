/**
 * The reference workloads W1–W3 of PERFORMANCE.md, written directly in tfjs-core (no Retort
 * interpreter), with initial weights and data drawn from a seeded PRNG on the JS side so that the
 * same workload starts from bit-identical values on every backend.
 *
 * - W1: MLP 784-256-256-10, ReLU, cross-entropy, Adam 1e-3.
 * - W2: CNN conv3×3×32 → ReLU → maxpool2 → conv3×3×64 → ReLU → maxpool2 → dense 128 → ReLU → dense 10.
 * - W3: frozen W2 teacher forward + W1 student step,
 *   loss = 0.1·CE + 0.9·T²·KL(softmax(t/T) ‖ softmax(s/T)), T = 4.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Workloads from "./workloads.js"
 * const w = Workloads.make("W1", { batch: 8, seed: 1 })
 * const loss = w.step()
 * console.log(await loss.data())
 * loss.dispose()
 * w.dispose()
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64"
import { uniformInt } from "pure-rand/distribution/uniformInt"
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus"

/**
 * A workload name.
 *
 * @example
 * ```ts
 * import type * as Workloads from "./workloads.js"
 * const name: Workloads.Name = "W3"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Name = "W1" | "W2" | "W3"

/**
 * Every workload name, in order.
 *
 * @example
 * ```ts
 * import * as Workloads from "./workloads.js"
 * Workloads.names // ["W1", "W2", "W3"]
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const names: ReadonlyArray<Name> = ["W1", "W2", "W3"]

/**
 * A parameter's initial value: shape and row-major values.
 *
 * @example
 * ```ts
 * import type * as Workloads from "./workloads.js"
 * const p: Workloads.Init = { shape: [2], values: new Float32Array([0, 0]) }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Init {
  readonly shape: ReadonlyArray<number>
  readonly values: Float32Array
}

/**
 * A workload instantiated on the current tfjs backend. `step()` runs one training step and
 * returns the loss (a scalar the caller disposes); it never reads back. `trainable` are the
 * variables the step updates (the student's, for W3).
 *
 * @example
 * ```ts
 * import type * as Workloads from "./workloads.js"
 * const run = (w: Workloads.Workload, n: number) => { for (let i = 0; i < n; i++) w.step().dispose() }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Workload {
  readonly name: Name
  readonly batch: number
  readonly trainable: ReadonlyArray<tf.Variable>
  readonly step: () => tf.Scalar
  readonly dispose: () => void
}

type Rng = ReturnType<typeof xoroshiro128plus>

const uniform = (rng: Rng, n: number, limit: number): Float32Array => {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = (uniformFloat64(rng) * 2 - 1) * limit
  return out
}

const normal = (rng: Rng, n: number): Float32Array => {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i += 2) {
    const u = 1 - uniformFloat64(rng)
    const v = uniformFloat64(rng)
    const r = Math.sqrt(-2 * Math.log(u))
    out[i] = r * Math.cos(2 * Math.PI * v)
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v)
  }
  return out
}

const glorot = (rng: Rng, shape: ReadonlyArray<number>, fanIn: number, fanOut: number): Init => ({
  shape,
  values: uniform(
    rng,
    shape.reduce((a, b) => a * b, 1),
    Math.sqrt(6 / (fanIn + fanOut)),
  ),
})

const zeros = (shape: ReadonlyArray<number>): Init => ({
  shape,
  values: new Float32Array(shape.reduce((a, b) => a * b, 1)),
})

/**
 * Initial parameters of the W1 MLP (784-256-256-10; Glorot-uniform weights, zero biases).
 *
 * @example
 * ```ts
 * import * as Workloads from "./workloads.js"
 * Workloads.initMlp(1).length // 6
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const initMlp = (seed: number): ReadonlyArray<Init> => {
  const rng = xoroshiro128plus(seed)
  return [
    glorot(rng, [784, 256], 784, 256),
    zeros([256]),
    glorot(rng, [256, 256], 256, 256),
    zeros([256]),
    glorot(rng, [256, 10], 256, 10),
    zeros([10]),
  ]
}

/**
 * Initial parameters of the W2 CNN (Glorot-uniform kernels, zero biases).
 *
 * @example
 * ```ts
 * import * as Workloads from "./workloads.js"
 * Workloads.initCnn(1).length // 8
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const initCnn = (seed: number): ReadonlyArray<Init> => {
  const rng = xoroshiro128plus(seed)
  return [
    glorot(rng, [3, 3, 1, 32], 9, 9 * 32),
    zeros([32]),
    glorot(rng, [3, 3, 32, 64], 9 * 32, 9 * 64),
    zeros([64]),
    glorot(rng, [7 * 7 * 64, 128], 7 * 7 * 64, 128),
    zeros([128]),
    glorot(rng, [128, 10], 128, 10),
    zeros([10]),
  ]
}

/**
 * A batch of inputs `[batch, 28, 28, 1]` (standard normal) and labels in 0..9.
 *
 * @example
 * ```ts
 * import * as Workloads from "./workloads.js"
 * const { x, labels } = Workloads.batchData(4, 7)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const batchData = (
  batch: number,
  seed: number,
): { readonly x: Float32Array; readonly labels: Int32Array } => {
  const rng = xoroshiro128plus(seed)
  const x = normal(rng, batch * 784)
  const labels = new Int32Array(batch)
  for (let i = 0; i < batch; i++) labels[i] = uniformInt(rng, 0, 9)
  return { x, labels }
}

const toVariables = (inits: ReadonlyArray<Init>, trainable: boolean, prefix: string): Array<tf.Variable> =>
  inits.map((p, i) => {
    const initial = tf.tensor(p.values, [...p.shape], "float32")
    const v = tf.variable(initial, trainable, `${prefix}${i}_${variableId++}`)
    initial.dispose()
    return v
  })

let variableId = 0

/**
 * W1 forward: logits of the MLP.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Workloads from "./workloads.js"
 * const p = Workloads.initMlp(1).map((i) => tf.tensor(i.values, [...i.shape]))
 * Workloads.mlp(p, tf.zeros([2, 28, 28, 1])).shape // [2, 10]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const mlp = (p: ReadonlyArray<tf.Tensor>, x: tf.Tensor): tf.Tensor2D => {
  const [w1, b1, w2, b2, w3, b3] = p as [
    tf.Tensor2D,
    tf.Tensor1D,
    tf.Tensor2D,
    tf.Tensor1D,
    tf.Tensor2D,
    tf.Tensor1D,
  ]
  const h0 = tf.reshape(x, [x.shape[0]!, 784]) as tf.Tensor2D
  const h1 = tf.relu(tf.add(tf.matMul(h0, w1), b1)) as tf.Tensor2D
  const h2 = tf.relu(tf.add(tf.matMul(h1, w2), b2)) as tf.Tensor2D
  return tf.add(tf.matMul(h2, w3), b3) as tf.Tensor2D
}

/**
 * W2 forward: logits of the CNN (`x` is `[batch, 28, 28, 1]`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Workloads from "./workloads.js"
 * const p = Workloads.initCnn(1).map((i) => tf.tensor(i.values, [...i.shape]))
 * Workloads.cnn(p, tf.zeros([2, 28, 28, 1])).shape // [2, 10]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const cnn = (p: ReadonlyArray<tf.Tensor>, x: tf.Tensor): tf.Tensor2D => {
  const [k1, c1, k2, c2, w1, b1, w2, b2] = p as [
    tf.Tensor4D,
    tf.Tensor1D,
    tf.Tensor4D,
    tf.Tensor1D,
    tf.Tensor2D,
    tf.Tensor1D,
    tf.Tensor2D,
    tf.Tensor1D,
  ]
  const x4 = x as tf.Tensor4D
  const a1 = tf.maxPool(tf.relu(tf.add(tf.conv2d(x4, k1, 1, "same"), c1)) as tf.Tensor4D, 2, 2, "valid")
  const a2 = tf.maxPool(tf.relu(tf.add(tf.conv2d(a1, k2, 1, "same"), c2)) as tf.Tensor4D, 2, 2, "valid")
  const flat = tf.reshape(a2, [x.shape[0]!, 7 * 7 * 64]) as tf.Tensor2D
  const h = tf.relu(tf.add(tf.matMul(flat, w1), b1)) as tf.Tensor2D
  return tf.add(tf.matMul(h, w2), b2) as tf.Tensor2D
}

/**
 * Mean softmax cross-entropy of `logits` against one-hot `y`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Workloads from "./workloads.js"
 * Workloads.crossEntropy(tf.zeros([1, 10]), tf.oneHot([3], 10)) // ≈ ln 10
 * ```
 *
 * @since 0.1.0
 * @category losses
 */
export const crossEntropy = (logits: tf.Tensor2D, y: tf.Tensor): tf.Scalar =>
  tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1))) as tf.Scalar

/**
 * The W3 distillation loss: `0.1·CE(s, y) + 0.9·T²·KL(softmax(t/T) ‖ softmax(s/T))`, KL summed
 * over classes and averaged over the batch.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Workloads from "./workloads.js"
 * const s = tf.zeros([1, 10]) as tf.Tensor2D
 * Workloads.kdLoss(s, s, tf.oneHot([3], 10), 4) // 0.1·ln 10
 * ```
 *
 * @since 0.1.0
 * @category losses
 */
export const kdLoss = (s: tf.Tensor2D, t: tf.Tensor2D, y: tf.Tensor, temperature = 4): tf.Scalar => {
  const logPt = tf.logSoftmax(tf.div(t, temperature))
  const logPs = tf.logSoftmax(tf.div(s, temperature))
  const kl = tf.mean(tf.sum(tf.mul(tf.exp(logPt), tf.sub(logPt, logPs)), 1))
  return tf.add(tf.mul(0.1, crossEntropy(s, y)), tf.mul(0.9 * temperature * temperature, kl)) as tf.Scalar
}

/**
 * Instantiates a workload on the current backend. The same `seed` gives the same initial weights
 * and data on every backend.
 *
 * @example
 * ```ts
 * import * as Workloads from "./workloads.js"
 * const w = Workloads.make("W3", { batch: 16, seed: 3 })
 * w.step().dispose()
 * w.dispose()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (name: Name, options: { readonly batch: number; readonly seed: number }): Workload => {
  const { batch, seed } = options
  const data = batchData(batch, seed)
  const x = tf.tensor4d(data.x, [batch, 28, 28, 1])
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(data.labels, "int32"), 10))
  const optimizer = tf.train.adam(1e-3)
  const owned: Array<tf.Tensor> = [x, y]
  let trainable: Array<tf.Variable>
  let loss: () => tf.Scalar
  if (name === "W1") {
    trainable = toVariables(initMlp(seed + 1), true, "w1_")
    loss = () => crossEntropy(mlp(trainable, x), y)
  } else if (name === "W2") {
    trainable = toVariables(initCnn(seed + 2), true, "w2_")
    loss = () => crossEntropy(cnn(trainable, x), y)
  } else {
    const teacher = toVariables(initCnn(seed + 2), false, "w3t_")
    owned.push(...teacher)
    trainable = toVariables(initMlp(seed + 1), true, "w3s_")
    loss = () => {
      const t = cnn(teacher, x)
      return kdLoss(mlp(trainable, x), t, y, 4)
    }
  }
  return {
    name,
    batch,
    trainable,
    step: () => optimizer.minimize(loss, true, trainable) as tf.Scalar,
    dispose: () => {
      optimizer.dispose()
      tf.dispose([...owned, ...trainable])
    },
  }
}
