/**
 * The reference workloads W1–W4 (the project's reference sizes) as hand-written tfjs training steps:
 * `tf.variableGrads` + `tf.train.adam(1e-3)` (or Retort's fused Adam), batch 128, 28×28×1 inputs, 10 classes. Same
 * shapes, losses and optimiser as bench/gpu/torch_peer.py, so ms/step compare directly.
 *
 * @example
 * ```ts
 * import * as Workloads from "./workloads.js"
 * const w = Workloads.make("W1", 0)
 * w.step()
 * w.dispose()
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import { fusedAdam } from "../../src/backend/kernels/index.js"

/**
 * A workload name.
 *
 * @since 0.1.0
 * @category models
 */
export type Name = "W1" | "W2" | "W3" | "W4"

/**
 * All workload names.
 *
 * @since 0.1.0
 * @category constants
 */
export const names: ReadonlyArray<Name> = ["W1", "W2", "W3", "W4"]

/**
 * A ready-to-run training step and its cleanup.
 *
 * @since 0.1.0
 * @category models
 */
export interface Workload {
  readonly name: Name
  /** One training step; returns the loss (a scalar tensor the caller disposes). */
  readonly step: () => tf.Scalar
  readonly dispose: () => void
}

const BATCH = 128

type Params = Record<string, tf.Variable>

/** He-uniform-ish init from a seeded generator. */
function param(shape: Array<number>, fanIn: number, seed: number, name: string): tf.Variable {
  const bound = Math.sqrt(1 / fanIn)
  return tf.variable(tf.randomUniform(shape, -bound, bound, "float32", seed), true, name)
}

function zeros(shape: Array<number>, name: string): tf.Variable {
  return tf.variable(tf.zeros(shape), true, name)
}

let uid = 0

function dense(x: tf.Tensor2D, w: tf.Variable, b: tf.Variable, relu: boolean): tf.Tensor2D {
  return tf.fused.matMul({
    a: x,
    b: w as tf.Tensor2D,
    bias: b as tf.Tensor,
    activation: relu ? "relu" : "linear",
  }) as tf.Tensor2D
}

function conv(x: tf.Tensor4D, w: tf.Variable, b: tf.Variable, stride: number, relu: boolean): tf.Tensor4D {
  return tf.fused.conv2d({
    x,
    filter: w as tf.Tensor4D,
    bias: b,
    strides: stride,
    pad: "same",
    activation: relu ? "relu" : "linear",
  })
}

function mlpParams(seed: number): Params {
  const p = `mlp${uid++}`
  return {
    w1: param([784, 256], 784, seed + 1, `${p}/w1`),
    b1: zeros([256], `${p}/b1`),
    w2: param([256, 256], 256, seed + 2, `${p}/w2`),
    b2: zeros([256], `${p}/b2`),
    w3: param([256, 10], 256, seed + 3, `${p}/w3`),
    b3: zeros([10], `${p}/b3`),
  }
}

function mlp(p: Params, x: tf.Tensor4D): tf.Tensor2D {
  const h0 = tf.reshape(x, [x.shape[0], 784]) as tf.Tensor2D
  const h1 = dense(h0, p.w1!, p.b1!, true)
  const h2 = dense(h1, p.w2!, p.b2!, true)
  return dense(h2, p.w3!, p.b3!, false)
}

function cnnParams(seed: number, trainable = true): Params {
  const p = `cnn${uid++}`
  const mk = (shape: Array<number>, fanIn: number, s: number, n: string) =>
    tf.variable(
      tf.randomUniform(shape, -Math.sqrt(1 / fanIn), Math.sqrt(1 / fanIn), "float32", s),
      trainable,
      `${p}/${n}`,
    )
  return {
    c1: mk([3, 3, 1, 32], 9, seed + 1, "c1"),
    cb1: tf.variable(tf.zeros([32]), trainable, `${p}/cb1`),
    c2: mk([3, 3, 32, 64], 288, seed + 2, "c2"),
    cb2: tf.variable(tf.zeros([64]), trainable, `${p}/cb2`),
    f1: mk([3136, 128], 3136, seed + 3, "f1"),
    fb1: tf.variable(tf.zeros([128]), trainable, `${p}/fb1`),
    f2: mk([128, 10], 128, seed + 4, "f2"),
    fb2: tf.variable(tf.zeros([10]), trainable, `${p}/fb2`),
  }
}

function cnn(p: Params, x: tf.Tensor4D): tf.Tensor2D {
  const a1 = tf.maxPool(conv(x, p.c1!, p.cb1!, 1, true), 2, 2, "valid")
  const a2 = tf.maxPool(conv(a1, p.c2!, p.cb2!, 1, true), 2, 2, "valid")
  const flat = tf.reshape(a2, [a2.shape[0], 3136]) as tf.Tensor2D
  return dense(dense(flat, p.f1!, p.fb1!, true), p.f2!, p.fb2!, false)
}

const DROPS = [0.1, 0.16, 0.23, 0.3]

function resnetParams(seed: number): Params {
  const p = `res${uid++}`
  const out: Params = {
    stem: param([3, 3, 1, 32], 9, seed + 1, `${p}/stem`),
    stemB: zeros([32], `${p}/stemB`),
    head: param([32, 10], 32, seed + 2, `${p}/head`),
    headB: zeros([10], `${p}/headB`),
  }
  DROPS.forEach((_, i) => {
    out[`a${i}`] = param([3, 3, 32, 32], 288, seed + 10 + 2 * i, `${p}/a${i}`)
    out[`ab${i}`] = zeros([32], `${p}/ab${i}`)
    out[`b${i}`] = param([3, 3, 32, 32], 288, seed + 11 + 2 * i, `${p}/b${i}`)
    out[`bb${i}`] = zeros([32], `${p}/bb${i}`)
  })
  return out
}

function resnet(p: Params, x: tf.Tensor4D, masks: ReadonlyArray<tf.Tensor4D>): tf.Tensor2D {
  let h = conv(x, p.stem!, p.stemB!, 2, true)
  DROPS.forEach((_, i) => {
    const r = conv(conv(h, p[`a${i}`]!, p[`ab${i}`]!, 1, true), p[`b${i}`]!, p[`bb${i}`]!, 1, false)
    h = tf.relu(tf.add(h, tf.mul(r, masks[i]!))) as tf.Tensor4D
  })
  const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D
  return dense(pooled, p.head!, p.headB!, false)
}

/** Identity forward, zero gradient (PyTorch's `.detach()`). */
const detach = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([])
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) }
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor

function ce(logits: tf.Tensor2D, onehot: tf.Tensor2D): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(onehot, logits) as tf.Scalar
}

function kd(s: tf.Tensor2D, t: tf.Tensor2D, onehot: tf.Tensor2D, T = 4, alpha = 0.9): tf.Scalar {
  const logPs = tf.logSoftmax(tf.div(s, T))
  const logPt = tf.logSoftmax(tf.div(t, T))
  const kl = tf.div(tf.sum(tf.mul(tf.exp(logPt), tf.sub(logPt, logPs))), s.shape[0])
  return tf.add(tf.mul(1 - alpha, ce(s, onehot)), tf.mul(alpha * T * T, kl)) as tf.Scalar
}

/**
 * Builds workload `name` with seeded parameters and data.
 *
 * @example
 * ```ts
 * import * as Workloads from "./workloads.js"
 * const w = Workloads.make("W2", 1)
 * w.step().dispose()
 * w.dispose()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export function make(name: Name, seed: number, options: { readonly fusedAdam?: boolean } = {}): Workload {
  const x = tf.randomNormal([BATCH, 28, 28, 1], 0, 1, "float32", seed) as tf.Tensor4D
  const labels = tf.tidy(() =>
    tf.cast(tf.mul(tf.randomUniform([BATCH], 0, 1, "float32", seed + 7), 10), "int32"),
  )
  const onehot = tf.tidy(() => tf.cast(tf.oneHot(labels as tf.Tensor1D, 10), "float32")) as tf.Tensor2D
  labels.dispose()
  const opt = options.fusedAdam === true ? fusedAdam(1e-3) : tf.train.adam(1e-3)
  const owned: Array<tf.Tensor> = [x, onehot]
  let loss: () => tf.Scalar
  let vars: Array<tf.Variable>
  let teacher: Params | undefined
  let stepSeed = seed * 1000
  if (name === "W1") {
    const p = mlpParams(seed)
    vars = Object.values(p)
    loss = () => ce(mlp(p, x), onehot)
  } else if (name === "W2") {
    const p = cnnParams(seed)
    vars = Object.values(p)
    loss = () => ce(cnn(p, x), onehot)
  } else if (name === "W3") {
    const p = mlpParams(seed)
    teacher = cnnParams(seed + 100, false)
    const tp = teacher
    vars = Object.values(p)
    let t: tf.Tensor2D | undefined
    loss = () => kd(mlp(p, x), t!, onehot)
    const inner = loss
    loss = () => {
      t = cnn(tp, x)
      return inner()
    }
  } else {
    const p = resnetParams(seed)
    vars = Object.values(p)
    const x2 = tf.concat([x, x]) as tf.Tensor4D
    const y2 = onehot
    owned.push(x2)
    loss = () => {
      const masks = DROPS.map((d) =>
        tf.div(
          tf.cast(
            tf.greaterEqual(tf.randomUniform([2 * BATCH, 1, 1, 1], 0, 1, "float32", stepSeed++), d),
            "float32",
          ),
          1 - d,
        ),
      ) as Array<tf.Tensor4D>
      const o = resnet(p, x2, masks)
      const o1 = tf.slice(o, [0, 0], [BATCH, 10])
      const o2 = tf.slice(o, [BATCH, 0], [BATCH, 10])
      const bce = (logits: tf.Tensor, target: tf.Tensor) => tf.losses.sigmoidCrossEntropy(target, logits)
      const terms = tf.addN([
        bce(o1, y2),
        bce(o2, y2),
        bce(o1, detach(tf.sigmoid(o2))),
        bce(o2, detach(tf.sigmoid(o1))),
      ])
      return tf.mul(0.25, terms) as tf.Scalar
    }
  }
  const step = (): tf.Scalar =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(loss, vars)
      opt.applyGradients(grads as Parameters<typeof opt.applyGradients>[0])
      return value
    })
  return {
    name,
    step,
    dispose: () => {
      opt.dispose()
      tf.dispose(vars)
      if (teacher !== undefined) tf.dispose(Object.values(teacher))
      tf.dispose(owned)
    },
  }
}
