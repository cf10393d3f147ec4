import * as tf from "@tensorflow/tfjs-core"
import { Effect, Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import * as Model from "../../../dsl/Model.js"
import * as Ramp from "../../../dsl/Ramp.js"
import { ShapeError, ValidationError } from "../../../src/errors.js"
import * as Models from "../../../src/models/index.js"
import { build, images, init, lossOf, maxDiff, values } from "./setup.js"

beforeAll(init)

const tiny = {
  mlp: Model.mlp({ hidden: [16, 8], classes: 10, dropout: 0.25, input: [8, 8, 1] }),
  mlpGelu: Model.mlp({ hidden: [6], classes: 10, activation: "gelu", input: [4, 4, 2] }),
  mlpTanh: Model.mlp({ hidden: [6, 6], classes: 10, activation: "tanh", input: [4, 4, 1] }),
  cnn: Model.cnn({
    conv: [{ filters: 4 }, { filters: 6 }],
    dense: [12],
    classes: 10,
    dropout: 0.2,
    input: [8, 8, 1],
  }),
  cnnBn: Model.cnn({
    conv: [{ filters: 4, kernel: 5, pool: 1 }, { filters: 4 }],
    dense: [],
    classes: 10,
    batchNorm: true,
    input: [6, 6, 2],
  }),
  resnet: Model.resnet({
    stem: { filters: 4, stride: 2 },
    blocks: [{ filters: 4 }, { filters: 8, stride: 2 }],
    dropPath: 0.2,
    exits: [{ after: "block0", hidden: 8 }, { after: "stem" }],
    classes: 10,
    input: [8, 8, 1],
  }),
  resnetBn: Model.resnet({
    stem: { filters: 4 },
    blocks: [{ filters: 4 }, { filters: 6, stride: 2 }],
    batchNorm: true,
    dropPath: [0.1, 0.3],
    classes: 10,
    input: [6, 6, 1],
  }),
  vit: Model.vit({ patch: 4, dim: 8, depth: 2, heads: 2, classes: 10, dropPath: 0.1, input: [8, 8, 1] }),
  deit: Model.vit({
    patch: 4,
    dim: 8,
    depth: 1,
    heads: 2,
    mlpRatio: 1.5,
    classes: 10,
    distillToken: true,
    input: [8, 8, 1],
  }),
  binary: Model.binary(
    Model.cnn({ conv: [{ filters: 4 }, { filters: 4 }], dense: [8], classes: 10, input: [8, 8, 1] }),
    { binarizeActivations: true, temperature: 0.5 },
  ),
  binaryResnet: Model.binary(
    Model.resnet({ stem: { filters: 4 }, blocks: [{ filters: 4 }], classes: 10, input: [6, 6, 1] }),
  ),
} satisfies Record<string, Model.Model>

const W1 = Model.mlp({ hidden: [256, 256], classes: 10 })
const W2 = Model.cnn({ conv: [{ filters: 32 }, { filters: 64 }], dense: [128], classes: 10 })
const W4 = Model.resnet({
  stem: { filters: 32, stride: 2 },
  blocks: [{ filters: 32 }, { filters: 32 }, { filters: 32 }, { filters: 32 }],
  dropPath: [0.1, 0.16, 0.23, 0.3],
  classes: 10,
})

const batchOf = (m: Model.Model, n: number, seed = 3) => {
  const [h, w, c] = Model.inputShape(m)!
  return images([n, h, w, c], seed)
}

/** the kept value of a mask of keep-probability `keep`, in float32 */
const kept = (keep: number) => Math.fround(1 / Math.fround(keep))

/** masks recorded by one forward, read back as arrays */
const masksOf = (built: Models.Built, x: tf.Tensor, options: Models.ApplyOptions) => {
  const masks: Record<string, { shape: Array<number>; values: Array<number> }> = {}
  tf.tidy(() => {
    built.apply(built.params, x, {
      ...options,
      record: (name, mask) => {
        masks[name] = { shape: mask.shape, values: values(mask) }
      },
    })
  })
  return masks
}

describe("shapes", () => {
  for (const [name, m] of Object.entries(tiny)) {
    it(`${name}: logits, every head and every tap`, () => {
      const built = build(m)
      const x = batchOf(m, 3)
      const taps = Model.taps(m)!
      const shapes = tf.tidy(() => {
        const f = built.apply(built.params, x, { train: true, seed: 1, taps })
        return {
          logits: f.logits.shape,
          heads: Object.fromEntries(Object.entries(f.heads).map(([k, t]) => [k, t.shape])),
          taps: Object.fromEntries(Object.entries(f.taps).map(([k, t]) => [k, t.shape])),
        }
      })
      expect(shapes.logits).toEqual([3, 10])
      expect(Object.keys(shapes.heads)).toEqual(Model.heads(m))
      for (const h of Model.heads(m)!) expect(shapes.heads[h]).toEqual([3, 10])
      expect(Object.keys(shapes.taps)).toEqual(taps)
      for (const [tap, shape] of Object.entries(Model.tapShapes(m)!))
        expect(shapes.taps[tap]).toEqual([3, ...shape])
      expect(built.taps).toEqual(taps)
      expect(built.heads).toEqual(Model.heads(m))
      expect(built.input).toEqual(Model.inputShape(m))
      expect(built.classes).toBe(10)
      built.dispose()
    })
  }

  it("returns only the requested taps", () => {
    const built = build(tiny.resnet)
    const keys = tf.tidy(() =>
      Object.keys(
        built.apply(built.params, batchOf(tiny.resnet, 2), { train: false, taps: ["pool", "stem"] }).taps,
      ),
    )
    expect(keys.sort()).toEqual(["pool", "stem"])
    built.dispose()
  })
})

describe("parameter counts", () => {
  it("W1 = 784·256+256 + 256·256+256 + 256·10+10 = 269,322", () => {
    const built = build(W1)
    expect(built.paramCount).toBe(784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10)
    expect(built.paramCount).toBe(269_322)
    expect(Object.keys(Models.Tree.flatten(built.params))).toEqual([
      "dense0/kernel",
      "dense0/bias",
      "dense1/kernel",
      "dense1/bias",
      "head/kernel",
      "head/bias",
    ])
    built.dispose()
  })

  it("W2 (conv32, conv64, dense128, dense10) = 421,642", () => {
    const built = build(W2)
    expect(built.paramCount).toBe(9 * 32 + 32 + 9 * 32 * 64 + 64 + 3136 * 128 + 128 + 128 * 10 + 10)
    built.dispose()
  })

  it("W4 (stem + 4 blocks of two conv3×3×32 + dense) = 74,634", () => {
    const built = build(W4)
    expect(built.paramCount).toBe(9 * 32 + 32 + 4 * 2 * (9 * 32 * 32 + 32) + 32 * 10 + 10)
    expect(Models.Tree.size(built.state)).toBe(0)
    built.dispose()
  })

  it("a DeiT ViT has the parameters of its formula", () => {
    const built = build(tiny.deit)
    const dim = 8
    const hidden = 12
    const tokens = 4 + 2
    const block =
      2 * 2 * dim +
      (dim * 3 * dim + 3 * dim) +
      (dim * dim + dim) +
      (dim * hidden + hidden) +
      (hidden * dim + dim)
    const expected = 4 * 4 * 1 * dim + dim + 2 * dim + tokens * dim + block + 2 * dim + 2 * (dim * 10 + 10)
    expect(built.paramCount).toBe(expected)
    built.dispose()
  })

  it("batch norm keeps running statistics as non-trainable state", () => {
    const built = build(tiny.resnetBn)
    const state = Models.Tree.flatten(built.state)
    expect(Object.keys(state)).toContain("block1/shortcutNorm/mean")
    for (const v of Object.values(state)) expect(v.trainable).toBe(false)
    for (const v of Object.values(Models.Tree.flatten(built.params))) expect(v.trainable).toBe(true)
    built.dispose()
  })
})

describe("determinism", () => {
  it("the same seed gives identical parameters; another seed does not", () => {
    const a = build(tiny.resnet, 5)
    const b = build(tiny.resnet, 5)
    const c = build(tiny.resnet, 6)
    const fa = Models.Tree.flatten(a.params)
    const fb = Models.Tree.flatten(b.params)
    const fc = Models.Tree.flatten(c.params)
    for (const [path, t] of Object.entries(fa)) {
      expect(values(t), path).toEqual(values(fb[path]!))
      if (path.endsWith("kernel")) expect(values(t), path).not.toEqual(values(fc[path]!))
    }
    for (const b_ of [a, b, c]) b_.dispose()
  })

  it("initial weights have the He / Glorot scale", () => {
    const built = build(W1)
    const std = (t: tf.Tensor) => tf.tidy(() => Math.sqrt(tf.moments(t).variance.dataSync()[0]!))
    expect(std(Models.Tree.get(built.params, "dense0/kernel"))).toBeCloseTo(Math.sqrt(2 / 784), 3)
    const head = Models.Tree.get(built.params, "head/kernel")
    expect(std(head)).toBeCloseTo(Math.sqrt(6 / 266) / Math.sqrt(3), 2)
    expect(values(Models.Tree.get(built.params, "dense0/bias")).every((v) => v === 0)).toBe(true)
    built.dispose()
  })

  it("evaluation mode is deterministic and draws no mask", () => {
    for (const m of [tiny.mlp, tiny.resnet, tiny.vit]) {
      const built = build(m)
      const x = batchOf(m, 4)
      expect(masksOf(built, x, { train: false, seed: 1 })).toEqual({})
      const a = tf.tidy(() => values(built.apply(built.params, x, { train: false, seed: 1 }).logits))
      const b = tf.tidy(() => values(built.apply(built.params, x, { train: false, seed: 2 }).logits))
      expect(a).toEqual(b)
      built.dispose()
    }
  })

  it("training mode: the same seed redraws the same masks, another seed other masks", () => {
    const built = build(tiny.mlp)
    const x = batchOf(tiny.mlp, 16)
    const run = (seed: number) =>
      tf.tidy(() => values(built.apply(built.params, x, { train: true, seed }).logits))
    expect(run(1)).toEqual(run(1))
    expect(run(1)).not.toEqual(run(2))
    built.dispose()
  })
})

describe("random masks", () => {
  it("dropout masks are 0 or 1/(1−rate), named per layer, independent across seeds", () => {
    const built = build(tiny.mlp)
    const x = batchOf(tiny.mlp, 16)
    const a = masksOf(built, x, { train: true, seed: 1 })
    const b = masksOf(built, x, { train: true, seed: 2 })
    expect(Object.keys(a)).toEqual(["dropout/hidden0", "dropout/hidden1"])
    expect(a["dropout/hidden0"]!.shape).toEqual([16, 16])
    expect(new Set(a["dropout/hidden0"]!.values)).toEqual(new Set([0, kept(0.75)]))
    expect(a["dropout/hidden0"]!.values).not.toEqual(b["dropout/hidden0"]!.values)
    expect(a["dropout/hidden0"]!.values).not.toEqual(a["dropout/hidden1"]!.values.slice(0, 256))
    built.dispose()
  })

  it("drop-path is per sample: a duplicated batch gets independent masks for its two copies (cosub)", () => {
    const built = build(tiny.resnet)
    const x = batchOf(tiny.resnet, 32)
    const twice = tf.concat([x, x])
    const masks = masksOf(built, twice, { train: true, seed: 9 })
    expect(Object.keys(masks)).toEqual(["dropPath/block0", "dropPath/block1"])
    const m = masks["dropPath/block1"]!
    expect(m.shape).toEqual([64, 1, 1, 1])
    expect(m.values.slice(0, 32)).not.toEqual(m.values.slice(32))
    // rates spread linearly from the single maximum 0.2: block0 0.1, block1 0.2
    expect(new Set(masks["dropPath/block0"]!.values)).toEqual(new Set([0, kept(0.9)]))
    expect(new Set(m.values)).toEqual(new Set([0, kept(0.8)]))
    built.dispose()
  })

  it("a drop-path list in the description gives each block its rate", () => {
    const built = build(tiny.resnetBn)
    const masks = masksOf(built, batchOf(tiny.resnetBn, 64), { train: true, seed: 4 })
    expect(new Set(masks["dropPath/block0"]!.values)).toEqual(new Set([0, kept(0.9)]))
    expect(new Set(masks["dropPath/block1"]!.values)).toEqual(new Set([0, kept(0.7)]))
    built.dispose()
  })

  it("ViT drop-path masks are [batch, 1, 1] for the attention and MLP branches", () => {
    const built = build(tiny.vit)
    const masks = masksOf(built, batchOf(tiny.vit, 8), { train: true, seed: 4 })
    expect(Object.keys(masks)).toEqual([
      "dropPath/block0/attn",
      "dropPath/block0/mlp",
      "dropPath/block1/attn",
      "dropPath/block1/mlp",
    ])
    expect(masks["dropPath/block0/attn"]!.shape).toEqual([8, 1, 1])
    built.dispose()
  })

  it("options override the description's rates (a single drop-path is a new maximum)", () => {
    const built = build(tiny.resnet)
    const x = batchOf(tiny.resnet, 64)
    expect(masksOf(built, x, { train: true, seed: 1, dropPath: 0 })).toEqual({})
    const spread = masksOf(built, x, { train: true, seed: 1, dropPath: 0.5 })
    expect(new Set(spread["dropPath/block0"]!.values)).toEqual(new Set([0, kept(0.75)]))
    expect(new Set(spread["dropPath/block1"]!.values)).toEqual(new Set([0, kept(0.5)]))
    const list = masksOf(built, x, { train: true, seed: 1, dropPath: [0, 0.5] })
    expect(Object.keys(list)).toEqual(["dropPath/block1"])
    built.dispose()
    // a new maximum rescales a per-block profile of the description: [0.1, 0.3] → [0.2, 0.6]
    const profiled = build(tiny.resnetBn)
    const scaled = masksOf(profiled, batchOf(tiny.resnetBn, 64), { train: true, seed: 1, dropPath: 0.6 })
    expect(new Set(scaled["dropPath/block0"]!.values)).toEqual(new Set([0, kept(1 - (0.1 * 0.6) / 0.3)]))
    expect(new Set(scaled["dropPath/block1"]!.values)).toEqual(new Set([0, kept(1 - 0.6)]))
    profiled.dispose()
    // without drop-path in the description, a maximum is spread linearly
    const plain = build(Model.resnet({ ...tiny.resnetBn, dropPath: [0, 0] }))
    const spreadPlain = masksOf(plain, batchOf(tiny.resnetBn, 64), { train: true, seed: 1, dropPath: 0.4 })
    expect(new Set(spreadPlain["dropPath/block0"]!.values)).toEqual(new Set([0, kept(0.8)]))
    plain.dispose()
    const mlp = build(tiny.mlp)
    expect(masksOf(mlp, batchOf(tiny.mlp, 4), { train: true, seed: 1, dropout: 0 })).toEqual({})
    mlp.dispose()
  })

  it("ramps in the description are evaluated at the clock", () => {
    const m = Model.mlp({
      hidden: [8],
      classes: 10,
      dropout: Ramp.linear({ from: 0, to: 0.5 }),
      input: [4, 4, 1],
    })
    const built = build(m)
    const x = batchOf(m, 32)
    expect(masksOf(built, x, { train: true, seed: 1 })).toEqual({})
    expect(masksOf(built, x, { train: true, seed: 1, clock: { step: 0, epoch: 0, progress: 0 } })).toEqual({})
    const late = masksOf(built, x, { train: true, seed: 1, clock: { step: 100, epoch: 1, progress: 1 } })
    expect(new Set(late["dropout/hidden0"]!.values)).toEqual(new Set([0, kept(0.5)]))
    built.dispose()
  })

  it("channel drop zeroes whole channels per sample at the named tap", () => {
    const built = build(tiny.cnn)
    const x = batchOf(tiny.cnn, 16)
    const masks = masksOf(built, x, {
      train: true,
      seed: 2,
      dropout: 0,
      channelDrop: { rate: 0.5, layer: "conv1" },
    })
    expect(Object.keys(masks)).toEqual(["channelDrop/conv1"])
    expect(masks["channelDrop/conv1"]!.shape).toEqual([16, 1, 1, 6])
    const tapped = tf.tidy(() => {
      const f = built.apply(built.params, x, {
        train: true,
        seed: 2,
        dropout: 0,
        taps: ["conv1"],
        channelDrop: { rate: 0.5, layer: "conv1" },
      })
      // channels whose mask is 0 are exactly zero in the tap
      return values(tf.sum(tf.abs(f.taps.conv1!), [1, 2]))
    })
    masks["channelDrop/conv1"]!.values.forEach((v, i) => {
      if (v === 0) expect(tapped[i]).toBe(0)
    })
    expect(masksOf(built, x, { train: false, seed: 2, channelDrop: { rate: 0.5, layer: "conv1" } })).toEqual(
      {},
    )
    expect(() =>
      tf.tidy(() => built.apply(built.params, x, { train: true, channelDrop: { rate: 0.5, layer: "nope" } })),
    ).toThrow(ShapeError)
    built.dispose()
  })
})

describe("DeiT heads", () => {
  it("logits is the class head in training and the mean of both heads in evaluation", () => {
    const built = build(tiny.deit)
    const x = batchOf(tiny.deit, 3)
    tf.tidy(() => {
      const t = built.apply(built.params, x, { train: true, seed: 1 })
      const e = built.apply(built.params, x, { train: false })
      expect(maxDiff(t.logits, t.heads.dist!)).toBeGreaterThan(0)
      // no drop-path in this model: training and evaluation forwards agree head by head
      const cls = t.logits
      expect(maxDiff(e.logits, tf.mul(tf.add(cls, e.heads.dist!), 0.5))).toBeLessThan(1e-6)
    })
    built.dispose()
  })
})

describe("gradients", () => {
  for (const [name, m] of Object.entries(tiny)) {
    it(`${name}: every trainable parameter receives a non-zero gradient`, () => {
      const built = build(m)
      const x = batchOf(m, 6)
      const grads = tf.tidy(() => {
        const { grads } = tf.variableGrads(
          () => lossOf(built.apply(built.params, x, { train: true, seed: 3 }), [0, 1, 2, 3, 4, 5]),
          Object.values(Models.Tree.flatten(built.params)),
        )
        return Object.fromEntries(
          Object.entries(grads).map(([k, g]) => [k, tf.sum(tf.abs(g)).dataSync()[0]!]),
        )
      })
      const params = Models.Tree.flatten(built.params)
      expect(Object.keys(grads).length).toBe(Object.keys(params).length)
      for (const [path, v] of Object.entries(params)) expect(grads[v.name], path).toBeGreaterThan(0)
      built.dispose()
    })
  }
})

describe("binarisation", () => {
  it("sign with a straight-through estimator: clipped identity, or tanh(x/τ)'", () => {
    const x = tf.tensor1d([-2, -0.5, 0.5, 3])
    const plain = tf.grad((t: tf.Tensor) =>
      tf.sum(tf.mul(Models.Ops.signSte(t, undefined), tf.tensor1d([1, 2, 3, 4]))),
    )(x)
    expect(values(plain)).toEqual([0, 2, 3, 0])
    expect(values(Models.Ops.signSte(x, undefined))).toEqual([-1, -1, 1, 1])
    const tau = 0.5
    const soft = tf.grad((t: tf.Tensor) => tf.sum(Models.Ops.signSte(t, tau)))(x)
    const expected = [-2, -0.5, 0.5, 3].map((v) => (1 - Math.tanh(v / tau) ** 2) / tau)
    values(soft).forEach((g, i) => {
      expect(g).toBeCloseTo(expected[i]!, 5)
    })
  })

  it("binarised kernels are α·sign(W) with α the mean |W| per output unit", () => {
    const w = tf.tensor2d([
      [0.5, -1],
      [-0.5, 3],
    ])
    expect(values(Models.Ops.binarizeKernel(w, undefined))).toEqual([0.5, -2, -0.5, 2])
    const g = tf.grad((t: tf.Tensor) => tf.sum(Models.Ops.binarizeKernel(t, undefined)))(w)
    expect(values(g)).toEqual([1, 1, 1, 0])
  })

  it("a binary wrapper changes only the hidden layers of the same weights", () => {
    const float = Model.mlp({ hidden: [8, 8], classes: 10, input: [4, 4, 1] })
    const a = build(float, 3)
    const b = build(Model.binary(float), 3)
    const x = batchOf(float, 4)
    tf.tidy(() => {
      const fa = a.apply(a.params, x, { train: false, taps: ["hidden0", "hidden1"] })
      const fb = b.apply(a.params, x, { train: false, taps: ["hidden0", "hidden1"] })
      expect(maxDiff(fa.taps.hidden0!, fb.taps.hidden0!)).toBe(0) // first layer stays float
      expect(maxDiff(fa.taps.hidden1!, fb.taps.hidden1!)).toBeGreaterThan(0)
    })
    a.dispose()
    b.dispose()
  })

  it("with binarised activations, gradients flow; the temperature ramp is read at the clock or overridden", () => {
    const m = Model.binary(Model.mlp({ hidden: [8, 8, 8], classes: 10, input: [4, 4, 1] }), {
      binarizeActivations: true,
      temperature: Ramp.exponential({ from: 1, rate: 0.9, unit: "epoch" }),
    })
    const built = build(m)
    const x = batchOf(m, 4)
    const grad = (options: Models.ApplyOptions) =>
      tf.tidy(() => {
        const k = Models.Tree.get(built.params, "dense1/kernel")
        const { grads } = tf.variableGrads(
          () => lossOf(built.apply(built.params, x, options), [1, 2, 3, 4]),
          [k],
        )
        return values(grads[k.name]!)
      })
    const warm = grad({ train: true, clock: { step: 0, epoch: 0, progress: 0 } })
    const cold = grad({ train: true, temperature: 0.05 })
    expect(warm.some((g) => g !== 0)).toBe(true)
    expect(warm).not.toEqual(cold)
    built.dispose()
  })
})

describe("batch norm", () => {
  it("training updates the running statistics (unless told not to); evaluation reads them", () => {
    const built = build(tiny.cnnBn)
    const x = batchOf(tiny.cnnBn, 8)
    const mean = () => values(Models.Tree.get(built.state, "norm0/mean"))
    const before = mean()
    tf.tidy(() => built.apply(built.params, x, { train: true, updateStats: false }))
    expect(mean()).toEqual(before)
    tf.tidy(() => built.apply(built.params, x, { train: false }))
    expect(mean()).toEqual(before)
    tf.tidy(() => built.apply(built.params, x, { train: true }))
    expect(mean()).not.toEqual(before)
    built.dispose()
  })

  it("a separate state tree receives the statistics of an EMA copy", () => {
    const built = build(tiny.cnnBn)
    const x = batchOf(tiny.cnnBn, 8)
    const ema = Models.Tree.clone(built.params, false)
    const emaState = Models.Tree.clone(built.state, false)
    const own = values(Models.Tree.get(built.state, "norm0/mean"))
    tf.tidy(() => built.apply(ema, x, { train: true, state: emaState }))
    expect(values(Models.Tree.get(built.state, "norm0/mean"))).toEqual(own)
    expect(values(Models.Tree.get(emaState, "norm0/mean"))).not.toEqual(own)
    Models.Tree.dispose(ema)
    Models.Tree.dispose(emaState)
    built.dispose()
  })

  it("recomputeBatchNorm averages the per-batch statistics of the given weights", () => {
    const built = build(tiny.cnnBn)
    const b1 = batchOf(tiny.cnnBn, 8, 11)
    const b2 = batchOf(tiny.cnnBn, 8, 12)
    expect(Models.recomputeBatchNorm(built, built.params, [b1, b2])).toBe(2)
    const batchMean = (x: tf.Tensor4D) =>
      tf.tidy(() => {
        const run = Models.Ops.run({ params: built.params, state: built.state, train: false })
        return tf.mean(Models.Ops.conv2d(run, "conv0", x, { pad: "same" }), [0, 1, 2])
      })
    const expected = tf.tidy(() => tf.div(tf.add(batchMean(b1), batchMean(b2)), 2))
    expect(maxDiff(Models.Tree.get(built.state, "norm0/mean"), expected)).toBeLessThan(1e-5)
    // with one batch, evaluation on that batch equals training-mode normalisation of it
    Models.recomputeBatchNorm(built, built.params, [b1])
    const diff = tf.tidy(() =>
      maxDiff(
        built.apply(built.params, b1, { train: false }).logits,
        built.apply(built.params, b1, { train: true, updateStats: false }).logits,
      ),
    )
    expect(diff).toBeLessThan(1e-4)
    built.dispose()
    const plain = build(tiny.mlp)
    expect(Models.recomputeBatchNorm(plain, plain.params, [b1])).toBe(0)
    plain.dispose()
  })
})

describe("parameters as an argument", () => {
  it("apply reads whichever tree it is given (EMA / SWA copies)", () => {
    const built = build(tiny.resnet)
    const x = batchOf(tiny.resnet, 2)
    const copy = Models.Tree.clone(built.params, false)
    const same = tf.tidy(() =>
      maxDiff(
        built.apply(built.params, x, { train: false }).logits,
        built.apply(copy, x, { train: false }).logits,
      ),
    )
    expect(same).toBe(0)
    Models.Tree.assign(
      copy,
      Models.Tree.map(built.params, (t) => tf.mul(t, 0.5)),
    )
    const differs = tf.tidy(() =>
      maxDiff(
        built.apply(built.params, x, { train: false }).logits,
        built.apply(copy, x, { train: false }).logits,
      ),
    )
    expect(differs).toBeGreaterThan(0)
    Models.Tree.dispose(copy)
    built.dispose()
  })
})

describe("memory", () => {
  it("50 apply + gradient calls inside tidy leave the tensor count unchanged", () => {
    for (const m of [tiny.mlp, tiny.resnetBn]) {
      const built = build(m)
      const x = batchOf(m, 4)
      const vars = Object.values(Models.Tree.flatten(built.params))
      const step = (i: number) => {
        const grads = tf.tidy(() => {
          const ema = built.apply(built.params, x, { train: false, taps: Model.taps(m)!.slice(0, 1) })
          const { value, grads } = tf.variableGrads(
            () =>
              tf.add(
                lossOf(built.apply(built.params, x, { train: true, seed: i }), [1, 2, 3, 4]),
                tf.mul(tf.sum(ema.logits), 0),
              ),
            vars,
          )
          value.dataSync()
          return grads
        })
        tf.dispose(grads)
      }
      step(0)
      const before = tf.memory().numTensors
      for (let i = 1; i <= 50; i++) step(i)
      expect(tf.memory().numTensors).toBe(before)
      built.dispose()
    }
  })

  it("dispose frees every variable", () => {
    const before = tf.memory().numTensors
    build(tiny.resnetBn).dispose()
    build(tiny.deit).dispose()
    expect(tf.memory().numTensors).toBe(before)
  })
})

describe("errors", () => {
  it("a structurally wrong description fails with every issue", () => {
    const r = Effect.runSync(
      Effect.result(
        Models.build(Model.vit({ patch: 5, dim: 6, depth: 1, heads: 4, classes: 10 }), { seed: 1 }),
      ),
    )
    expect(Result.isFailure(r)).toBe(true)
    if (Result.isFailure(r)) {
      expect(r.failure).toBeInstanceOf(ValidationError)
      expect((r.failure as ValidationError).issues.map((i) => i.path)).toEqual(["patch", "heads"])
    }
  })

  it("apply rejects images of the wrong shape and unknown taps with a ShapeError", () => {
    const built = build(tiny.mlp)
    expect(() =>
      tf.tidy(() => built.apply(built.params, tf.zeros([2, 28, 28, 1]), { train: false })),
    ).toThrow(ShapeError)
    expect(() =>
      tf.tidy(() => built.apply(built.params, tf.zeros([2, 8, 8, 1]), { train: false, taps: ["conv9"] })),
    ).toThrow(/no tap "conv9"/)
    built.dispose()
  })

  it("scoped disposes the variables with the scope", () => {
    const before = tf.memory().numTensors
    const count = Effect.runSync(
      Effect.scoped(Effect.map(Models.scoped(tiny.cnn, { seed: 1 }), (b) => b.paramCount)),
    )
    expect(count).toBeGreaterThan(0)
    expect(tf.memory().numTensors).toBe(before)
  })
})

describe("custom builders", () => {
  const linear: Models.CustomBuilder = (options, { seed }) => {
    const width = typeof options.width === "number" ? options.width : 4
    const init = new Models.Ops.Init(seed)
    init.dense("hidden", 16, width, "he")
    init.dense("head", width, 10, "glorot")
    return {
      params: init.params,
      input: [4, 4, 1],
      classes: 10,
      taps: ["hidden"],
      apply: (params, x, o) => {
        const run = Models.Ops.runFor(params, o)
        const h = Models.Ops.dense(run, "hidden", tf.reshape(x, [x.shape[0], 16]), { activation: "relu" })
        const logits = Models.Ops.dense(run, "head", Models.Ops.dropout(run, "hidden", h, 0.5)) as tf.Tensor2D
        return { logits, heads: {}, taps: o.taps?.includes("hidden") ? { hidden: h } : {} }
      },
    }
  }

  it("builds with the registered builder, its options and the seed", () => {
    const m = Model.custom("linear", { width: 6 })
    const built = build(m, 2, { customBuilders: { linear } })
    expect(built.paramCount).toBe(16 * 6 + 6 + 6 * 10 + 10)
    expect(built.taps).toEqual(["hidden"])
    expect(built.heads).toEqual(["logits"])
    const x = images([3, 4, 4, 1])
    const masks = masksOf(built, x, { train: true, seed: 1 })
    expect(Object.keys(masks)).toEqual(["dropout/hidden"])
    const shape = tf.tidy(
      () => built.apply(built.params, x, { train: false, taps: ["hidden"] }).taps.hidden!.shape,
    )
    expect(shape).toEqual([3, 6])
    built.dispose()
  })

  it("fails with a ValidationError when no builder is registered", () => {
    const r = Effect.runSync(
      Effect.result(Models.build(Model.custom("nope"), { seed: 1, customBuilders: { linear } })),
    )
    expect(Result.isFailure(r) && r.failure._tag).toBe("ValidationError")
    if (Result.isFailure(r))
      expect(r.failure.message).toMatch(/no builder registered for custom model "nope" \(known: linear\)/)
  })

  it("fails with a ShapeError when the builder's forward disagrees with its declared classes", () => {
    const wrong: Models.CustomBuilder = (o, c) => ({ ...linear(o, c), classes: 7 })
    const before = tf.memory().numTensors
    const r = Effect.runSync(
      Effect.result(Models.build(Model.custom("wrong"), { seed: 1, customBuilders: { wrong } })),
    )
    expect(Result.isFailure(r) && r.failure._tag).toBe("ShapeError")
    expect(tf.memory().numTensors).toBe(before)
  })
})
