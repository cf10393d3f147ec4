/**
 * 32×32×3 (CIFAR-shaped, RGB folder-shaped) inputs through every built-in model, every
 * augmentation and every corruption, and one short distillation run through the real pipeline.
 *
 * Until CIFAR and image folders arrived every data set was 28×28×1, so a model or an image
 * primitive that silently assumed one channel (a reshape by h·w, a filter built for c = 1, a
 * per-pixel draw shared across channels …) would have gone unnoticed. Here each path is driven
 * with RGB batches and checked for shape, range, finiteness, gradients, export fidelity, and —
 * where it is meaningful — that the three channels are transformed alike.
 *
 * Runs on the wasm backend with Retort's kernels (as the recipe tests), small widths; the cpu
 * backend is used as the reference for the models' logits and gradients and for the augmentations
 * (where it takes the per-sample warp path).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import * as tfl from "@tensorflow/tfjs-layers"
import { Effect, Result } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Augment from "../../dsl/Augment.js"
import { Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../dsl/index.js"
import type * as Ramp from "../../dsl/Ramp.js"
import * as Augmentation from "../../src/augment/index.js"
import { make as makeBackend } from "../../src/backend/Backend.js"
import * as DataSpec from "../../src/data/DataSpec.js"
import * as Dataset from "../../src/data/Dataset.js"
import * as Models from "../../src/models/index.js"
import type * as Event from "../../src/report/Event.js"
import { Reporter } from "../../src/report/Reporter.js"
import { run } from "../../src/runtime/Run.js"

const H = 32
const W = 32
const C = 3
const input = [H, W, C] as const
const K = 7

let dir: string
beforeAll(async () => {
  await Effect.runPromise(Effect.scoped(makeBackend({ kind: "wasm" })))
  expect(tf.getBackend()).toBe("wasm")
  dir = mkdtempSync(join(tmpdir(), "retort-rgb-"))
})
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const images = (b: number, seed: number): tf.Tensor4D =>
  tf.randomUniform([b, H, W, C], 0, 1, "float32", seed) as tf.Tensor4D

const maxDiff = (a: tf.Tensor, b: tf.Tensor): number =>
  tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!)

const maxAbs = (t: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(t)).dataSync()[0]!)

const finite = (t: tf.Tensor): boolean => tf.tidy(() => tf.all(tf.isFinite(t)).dataSync()[0] === 1)

const range = (t: tf.Tensor): readonly [number, number] =>
  tf.tidy(() => [tf.min(t).dataSync()[0]!, tf.max(t).dataSync()[0]!] as const)

/** Channel `c` of `[b, h, w, 3]` images as `[b, h, w, 1]`. */
const channel = (x: tf.Tensor4D, c: number): tf.Tensor4D =>
  tf.slice(x, [0, 0, 0, c], [-1, -1, -1, 1]) as tf.Tensor4D

/** A one-channel batch repeated into three equal channels. */
const gray3 = (x: tf.Tensor4D): tf.Tensor4D => tf.tile(x, [1, 1, 1, 3]) as tf.Tensor4D

/** Largest difference between any two channels. */
const channelSpread = (x: tf.Tensor4D): number => tf.tidy(() => maxDiff(tf.max(x, 3), tf.min(x, 3)))

/** One constant colour per sample (every channel ≥ 0.3, so ratios are well defined). */
const colours = (b: number): ReadonlyArray<readonly [number, number, number]> =>
  Array.from({ length: b }, (_, i) => [0.9 - 0.05 * i, 0.3 + 0.1 * i, 0.55] as const)

const constantImages = (cs: ReadonlyArray<readonly [number, number, number]>): tf.Tensor4D =>
  tf.tidy(
    () =>
      tf.mul(
        tf.ones([cs.length, H, W, 1]),
        tf.reshape(tf.tensor2d(cs.map((c) => [...c])), [-1, 1, 1, 3]),
      ) as tf.Tensor4D,
  )

/**
 * For images that were constant colours `cs`: every output pixel must be `α·colour` with one
 * `α` for the three channels (a geometric warp with zero fill, or a zeroed box, scales a pixel
 * but cannot change its hue), and the pixels `keep(r, c)` must still be exactly the colour.
 * Returns a description of the first violation, or undefined.
 */
const hueProblem = (
  out: tf.Tensor4D,
  cs: ReadonlyArray<readonly [number, number, number]>,
  keep?: (r: number, c: number) => boolean,
): string | undefined => {
  const px = out.arraySync()
  for (let i = 0; i < px.length; i++) {
    const colour = cs[i]!
    for (let r = 0; r < H; r++)
      for (let c = 0; c < W; c++) {
        const v = px[i]![r]![c]!
        const alpha = v[0]! / colour[0]
        for (let k = 0; k < C; k++) {
          if (Math.abs(v[k]! - alpha * colour[k]!) > 1e-5)
            return `sample ${i} pixel (${r}, ${c}) is [${v.join(", ")}], not a multiple of [${colour.join(", ")}]`
          if (keep?.(r, c) && Math.abs(v[k]! - colour[k]!) > 1e-5)
            return `sample ${i} pixel (${r}, ${c}) is [${v.join(", ")}], should have kept [${colour.join(", ")}]`
        }
      }
  }
  return undefined
}

const centre = (H - 1) / 2
const disk = (radius: number) => (r: number, c: number) =>
  (r - centre) ** 2 + (c - centre) ** 2 <= radius ** 2
const inner = (margin: number) => (r: number, c: number) =>
  r >= margin && r < H - margin && c >= margin && c < W - margin

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

const models = {
  mlp: Model.mlp({ hidden: [16, 8], classes: K, dropout: 0.2, input }),
  mlpGelu: Model.mlp({ hidden: [8], classes: K, activation: "gelu", input }),
  cnn: Model.cnn({ conv: [{ filters: 4 }, { filters: 6 }], dense: [8], classes: K, dropout: 0.2, input }),
  cnnBn: Model.cnn({
    conv: [
      { filters: 4, kernel: 5, pool: 1 },
      { filters: 6, pool: 4 },
    ],
    dense: [],
    classes: K,
    batchNorm: true,
    input,
  }),
  resnet: Model.resnet({
    stem: { filters: 4, stride: 2 },
    blocks: [{ filters: 4 }, { filters: 8, stride: 2 }],
    dropPath: 0.2,
    batchNorm: true,
    exits: [{ after: "block0", hidden: 8 }, { after: "stem" }],
    classes: K,
    input,
  }),
  resnetPlain: Model.resnet({
    stem: { filters: 4 },
    blocks: [{ filters: 6, stride: 2 }],
    dropPath: [0.25],
    exits: [{ after: "stem" }],
    classes: K,
    input,
  }),
  vit4: Model.vit({
    patch: 4,
    dim: 8,
    depth: 1,
    heads: 2,
    classes: K,
    distillToken: true,
    dropPath: 0.1,
    input,
  }),
  vit8: Model.vit({ patch: 8, dim: 12, depth: 2, heads: 3, mlpRatio: 1.5, classes: K, dropPath: 0.2, input }),
  binaryMlp: Model.binary(Model.mlp({ hidden: [8, 8], classes: K, input }), {
    binarizeActivations: true,
    temperature: 0.5,
  }),
  binaryCnn: Model.binary(
    Model.cnn({ conv: [{ filters: 4 }, { filters: 4 }], dense: [8], classes: K, batchNorm: true, input }),
  ),
  binaryResnet: Model.binary(
    Model.resnet({ stem: { filters: 4, stride: 2 }, blocks: [{ filters: 4 }], classes: K, input }),
  ),
  binaryVit: Model.binary(
    Model.vit({ patch: 8, dim: 8, depth: 1, heads: 2, classes: K, distillToken: true, input }),
    { temperature: 1 },
  ),
} satisfies Record<string, Model.Model>

/** The models `Models.exportLayersModel` accepts (no vit, no binarised activations). */
const exportable = [
  "mlp",
  "mlpGelu",
  "cnn",
  "cnnBn",
  "resnet",
  "resnetPlain",
  "binaryCnn",
  "binaryResnet",
] as const satisfies ReadonlyArray<keyof typeof models>

const build = (m: Model.Model, seed = 1, normalize?: Model.Normalize): Models.Built =>
  Effect.runSync(Models.build(m, { seed, ...(normalize !== undefined ? { normalize } : {}) }))

/** Cross-entropy summed over every head, so that exit and distillation heads get gradients too. */
const lossOf = (f: Models.Forward, labels: tf.Tensor1D): tf.Scalar => {
  const y = tf.oneHot(labels, K)
  let total: tf.Scalar = tf.scalar(0)
  for (const logits of Object.values(f.heads)) total = tf.add(total, tf.losses.softmaxCrossEntropy(y, logits))
  return total
}

describe("every built-in model on [32, 32, 3]", () => {
  it("covers every model kind", () => {
    const kinds = new Set(
      Object.values(models).flatMap((m) => (m._tag === "Binary" ? [m._tag, m.inner._tag] : [m._tag])),
    )
    // every built-in kind (Custom and Load are not built-in architectures)
    expect([...kinds].sort()).toEqual(["Binary", "Cnn", "Mlp", "ResNet", "Vit"])
  })

  for (const [name, m] of Object.entries(models)) {
    it(`${name}: builds, forwards in train and eval mode with every tap and head, uses all three channels, has finite non-zero gradients`, () => {
      expect(Model.check(m)).toEqual([])
      const built = build(m)
      expect(built.input).toEqual([32, 32, 3])
      expect(built.classes).toBe(K)
      const x = images(4, 11)
      const labels = tf.tensor1d([0, 3, 6, 2], "int32")
      const taps = Model.taps(m)!
      const shapes = Model.tapShapes(m)!
      expect(built.taps).toEqual(taps)

      for (const train of [true, false]) {
        const problems = tf.tidy(() => {
          const f = built.apply(built.params, x, { train, seed: 5, taps, updateStats: false })
          const out: Array<string> = []
          if (f.logits.shape.join() !== [4, K].join()) out.push(`logits ${f.logits.shape}`)
          if (!finite(f.logits)) out.push("logits not finite")
          expect(Object.keys(f.heads)).toEqual(Model.heads(m))
          for (const [h, t] of Object.entries(f.heads)) {
            if (t.shape.join() !== [4, K].join()) out.push(`head ${h} ${t.shape}`)
            if (!finite(t)) out.push(`head ${h} not finite`)
          }
          expect(Object.keys(f.taps)).toEqual(taps)
          for (const [tap, shape] of Object.entries(shapes)) {
            const t = f.taps[tap]
            if (t === undefined) out.push(`tap ${tap} missing`)
            else if (t.shape.join() !== [4, ...shape].join())
              out.push(`tap ${tap}: [${t.shape}] vs Model.tapShapes [4, ${shape}]`)
            else if (!finite(t)) out.push(`tap ${tap} not finite`)
          }
          return out
        })
        expect(problems, `train: ${train}`).toEqual([])
      }

      // each colour channel reaches the logits: changing one channel alone changes them
      const base = tf.tidy(() => built.apply(built.params, x, { train: false }).logits)
      for (let c = 0; c < C; c++) {
        const moved = tf.tidy(() => {
          const inverted = tf.concat(
            [0, 1, 2].map((k) => (k === c ? tf.sub(1, channel(x, k)) : channel(x, k))),
            3,
          )
          return maxDiff(built.apply(built.params, inverted, { train: false }).logits, base)
        })
        expect(moved, `channel ${c}`).toBeGreaterThan(1e-6)
      }
      // evaluation is deterministic
      expect(
        maxDiff(
          tf.tidy(() => built.apply(built.params, x, { train: false }).logits),
          base,
        ),
      ).toBe(0)

      // gradients of every trainable parameter: finite and not all zero
      const flat = Models.Tree.flatten(built.params)
      const byName = new Map(Object.entries(flat).map(([path, v]) => [v.name, path]))
      const { value, grads } = tf.variableGrads(
        () => lossOf(built.apply(built.params, x, { train: true, seed: 5, updateStats: false }), labels),
        Object.values(flat),
      )
      expect(Number.isFinite(value.dataSync()[0])).toBe(true)
      const paths = Object.keys(grads).map((k) => byName.get(k)!)
      expect(paths.sort()).toEqual(Object.keys(flat).sort())
      const bad: Array<string> = []
      for (const [k, g] of Object.entries(grads)) {
        const path = byName.get(k)!
        if (g.shape.join() !== flat[path]!.shape.join()) bad.push(`${path}: shape`)
        else if (!finite(g)) bad.push(`${path}: not finite`)
        else if (!(maxAbs(g) > 0)) bad.push(`${path}: zero`)
      }
      expect(bad).toEqual([])
      tf.dispose([value, ...Object.values(grads), x, labels, base])
      built.dispose()
    })
  }
})

/** Logits (train and eval) and every parameter's gradient of a fresh build on the current backend. */
const reference = (m: Model.Model, xs: Array<Array<Array<Array<number>>>>) => {
  const built = build(m, 2)
  const x = tf.tensor4d(xs)
  const labels = tf.tensor1d([1, 4, 6, 0], "int32")
  const forward = (train: boolean) =>
    tf.tidy(() => built.apply(built.params, x, { train, seed: 3, updateStats: false }).logits.dataSync())
  const flat = Models.Tree.flatten(built.params)
  const byName = new Map(Object.entries(flat).map(([path, v]) => [v.name, path]))
  const { value, grads } = tf.variableGrads(
    () => lossOf(built.apply(built.params, x, { train: true, seed: 3, updateStats: false }), labels),
    Object.values(flat),
  )
  const out = {
    train: forward(true),
    eval: forward(false),
    grads: new Map(Object.entries(grads).map(([k, g]) => [byName.get(k)!, g.dataSync()])),
  }
  tf.dispose([value, ...Object.values(grads), x, labels])
  built.dispose()
  return out
}

/** max |a − b| / max(max |b|, 1e-3) */
const relative = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let num = 0
  let den = 1e-3
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!))
    den = Math.max(den, Math.abs(b[i]!))
  }
  return a.length === b.length ? num / den : Number.POSITIVE_INFINITY
}

describe("[32, 32, 3] models on wasm (Retort's kernels) agree with the cpu reference backend", () => {
  afterAll(async () => {
    await tf.setBackend("wasm")
  })
  for (const [name, m] of Object.entries(models)) {
    it(`${name}: logits in both modes and every gradient`, async () => {
      await tf.setBackend("wasm")
      const xs = tf.tidy(() => images(4, 61).arraySync())
      const wasm = reference(m, xs)
      await tf.setBackend("cpu")
      const cpu = reference(m, xs)
      await tf.setBackend("wasm")
      expect(relative(wasm.train, cpu.train), "train logits").toBeLessThan(1e-4)
      expect(relative(wasm.eval, cpu.eval), "eval logits").toBeLessThan(1e-4)
      expect([...wasm.grads.keys()].sort()).toEqual([...cpu.grads.keys()].sort())
      const bad = [...cpu.grads].flatMap(([path, g]) => {
        const r = relative(wasm.grads.get(path)!, g)
        return r < 1e-3 ? [] : [`${path}: ${r}`]
      })
      expect(bad).toEqual([])
    })
  }
})

describe("Layers export of [32, 32, 3] models", () => {
  const roundTrip = async (m: Model.Model, built: Models.Built): Promise<number> => {
    Models.recomputeBatchNorm(built, built.params, [images(16, 21)])
    const artifacts = await Effect.runPromise(Models.layersArtifacts(m, built, built.params))
    const layers = await tfl.loadLayersModel(tf.io.fromMemory(artifacts))
    const x = images(5, 22)
    const expected = tf.tidy(() => built.apply(built.params, x, { train: false }).logits)
    const predicted = layers.predict(x) as tf.Tensor
    expect(predicted.shape).toEqual([5, K])
    expect(layers.inputs[0]!.shape).toEqual([null, 32, 32, 3])
    const d = maxDiff(predicted, expected)
    layers.dispose()
    tf.dispose([x, expected, predicted])
    return d
  }

  for (const name of exportable) {
    it(`${name}: loads back with tfjs-layers and predicts like apply (train: false) within 1e-5`, async () => {
      const m = models[name]
      const built = build(m, 7)
      expect(await roundTrip(m, built)).toBeLessThan(1e-5)
      built.dispose()
    })
  }

  it("a per-channel (CIFAR) normalisation is baked into the export", async () => {
    const normalize = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.243, 0.261] }
    for (const name of ["mlp", "cnnBn", "resnet"] as const) {
      const m = models[name]
      const built = build(m, 3, normalize)
      expect(built.normalize).toEqual(normalize)
      expect(await roundTrip(m, built), name).toBeLessThan(1e-5)
      built.dispose()
    }
  })

  it("a vit is refused with a ValidationError", async () => {
    const built = build(models.vit4)
    const r = await Effect.runPromise(Effect.result(Models.layersArtifacts(models.vit4, built, built.params)))
    expect(Result.isFailure(r) && r.failure._tag).toBe("ValidationError")
    built.dispose()
  })
})

// ---------------------------------------------------------------------------------------------
// Augmentations
// ---------------------------------------------------------------------------------------------

type Case<A> = {
  readonly aug: A
  /**
   * Channels are transformed independently: channel `c` of the output of an RGB batch equals
   * channel `c` of the output of that channel repeated three times (same seed). False only for
   * operations that mix channels by design (contrast about the luminance, colour saturation).
   */
  readonly separable: boolean
  /** Equal channels stay equal (false for independent per-channel noise). */
  readonly keepsGray: boolean
  /** Geometric (or box-zeroing): a constant-colour image keeps its hue; `keep`: pixels that keep the colour. */
  readonly geometric?: { readonly keep?: (r: number, c: number) => boolean }
}

const RA = (op: Augment.RandAugmentOp) => Augment.randAugment({ n: 1, magnitude: 0.8, ops: [op] })

const raGeometric: Partial<
  Record<Augment.RandAugmentOp, { readonly keep?: (r: number, c: number) => boolean }>
> = {
  rotate: { keep: disk(13) },
  shearX: {},
  shearY: {},
  translateX: {},
  translateY: {},
}

/** At least one case of every augmentation tag (a new tag without a case is a type error). */
const augmentCases: {
  readonly [T in Augment.Augment["_tag"]]: ReadonlyArray<Case<Extract<Augment.Augment, { readonly _tag: T }>>>
} = {
  FlipX: [
    { aug: Augment.flipX({ p: 1 }), separable: true, keepsGray: true, geometric: { keep: () => true } },
    { aug: Augment.flipX({ p: 0.5 }), separable: true, keepsGray: true, geometric: { keep: () => true } },
  ],
  RandomCrop: [
    { aug: Augment.randomCrop({ pad: 4 }), separable: true, keepsGray: true, geometric: { keep: inner(4) } },
  ],
  Translate: [
    { aug: Augment.translate({ max: 3 }), separable: true, keepsGray: true, geometric: { keep: inner(3) } },
    {
      aug: Augment.translate({ max: 0.2, unit: "fraction" }),
      separable: true,
      keepsGray: true,
      geometric: { keep: inner(7) },
    },
  ],
  Rotate: [
    { aug: Augment.rotate({ degrees: 30 }), separable: true, keepsGray: true, geometric: { keep: disk(13) } },
  ],
  Noise: [{ aug: Augment.noise({ std: 0.1 }), separable: true, keepsGray: false }],
  Cutout: [{ aug: Augment.cutout({ size: 8, count: 2 }), separable: true, keepsGray: true, geometric: {} }],
  RandomErasing: [
    { aug: Augment.randomErasing({ area: [0.05, 0.3], p: 1 }), separable: true, keepsGray: false },
    {
      aug: Augment.randomErasing({ area: [0.05, 0.3], fill: "zero", p: 1 }),
      separable: true,
      keepsGray: true,
      geometric: {},
    },
  ],
  Mixup: [{ aug: Augment.mixup({ alpha: 0.4 }), separable: true, keepsGray: true }],
  Cutmix: [{ aug: Augment.cutmix({ alpha: 1 }), separable: true, keepsGray: true }],
  RandAugment: [
    { aug: Augment.randAugment({ n: 2, magnitude: 0.7 }), separable: false, keepsGray: true },
    ...Augment.randAugmentOps.map((op) => {
      const g = raGeometric[op]
      return {
        aug: RA(op),
        separable: op !== "contrast" && op !== "color",
        keepsGray: true,
        ...(g !== undefined ? { geometric: g } : {}),
      }
    }),
  ],
}

const cases: ReadonlyArray<Case<Augment.Augment>> = Object.values(augmentCases).flat()

/** The constructors of `dsl/Augment`, by the tag they make, and its other functions (and schemas). */
const augmentConstructors: Readonly<Record<string, Augment.Augment["_tag"]>> = {
  flipX: "FlipX",
  randomCrop: "RandomCrop",
  translate: "Translate",
  rotate: "Rotate",
  noise: "Noise",
  cutout: "Cutout",
  randomErasing: "RandomErasing",
  mixup: "Mixup",
  cutmix: "Cutmix",
  randAugment: "RandAugment",
}
const corruptionConstructors: Readonly<Record<string, Augment.Corruption["_tag"]>> = {
  rotation: "Rotation",
  gaussianNoise: "GaussianNoise",
  blur: "Blur",
  contrast: "Contrast",
}
const otherFunctions = [
  "corruption",
  "schema",
  "corruptionSchema",
  "validate",
  "validateCorruption",
  "isAugment",
  "isCorruption",
  "labelMixing",
  "corruptionKind",
  "describe",
  "name",
]

const clock: Ramp.Clock = { step: 3, epoch: 0, progress: 0.5 }
const B = 6
const targets = (): tf.Tensor2D =>
  tf.cast(tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5], "int32"), K), "float32") as tf.Tensor2D
const augment = (a: Augment.Augment, x: tf.Tensor4D, seed = 9) =>
  Augmentation.apply([a], { x, y: targets() }, { clock, seed })

describe("every augmentation on [6, 32, 32, 3]", () => {
  it("the cases cover every constructor and every RandAugment op of dsl/Augment", () => {
    const functions = Object.entries(Augment)
      .filter(([, v]) => typeof v === "function")
      .map(([k]) => k)
      .sort()
    // a new export must be classified here (and, if it makes an augmentation, get a case)
    expect(functions).toEqual(
      [...Object.keys(augmentConstructors), ...Object.keys(corruptionConstructors), ...otherFunctions].sort(),
    )
    const tags = new Set(cases.map((c) => c.aug._tag))
    for (const tag of Object.values(augmentConstructors)) expect(tags.has(tag), tag).toBe(true)
    for (const c of cases) expect(Augment.isAugment(c.aug)).toBe(true)
    const ops = new Set(
      cases.flatMap((c) => (c.aug._tag === "RandAugment" && c.aug.ops.length === 1 ? c.aug.ops : [])),
    )
    expect([...ops].sort()).toEqual([...Augment.randAugmentOps].sort())
    // every corruption constructor is a kind, and every kind is a constructor
    expect(Object.keys(corruptionConstructors).sort()).toEqual([...Augment.corruptionKinds].sort())
    for (const k of Augment.corruptionKinds)
      expect(Augment.corruption(k, 1)._tag).toBe(corruptionConstructors[k])
  })

  for (const c of cases) {
    const label = Augment.describe(c.aug)
    it(`${label}: keeps the shape, stays finite in [0, 1], changes the batch, treats the channels alike`, () => {
      const x = images(B, 31)
      const out = augment(c.aug, x)
      expect(out.x.shape).toEqual([B, H, W, C])
      expect(out.y.shape).toEqual([B, K])
      expect(out.x.dtype).toBe("float32")
      expect(finite(out.x)).toBe(true)
      const [lo, hi] = range(out.x)
      expect(lo).toBeGreaterThanOrEqual(0)
      expect(hi).toBeLessThanOrEqual(1)
      for (const s of tf.sum(out.y, 1).dataSync()) expect(s).toBeCloseTo(1, 5)
      const isIdentity = c.aug._tag === "RandAugment" && c.aug.ops.length === 1 && c.aug.ops[0] === "identity"
      if (!isIdentity) expect(maxDiff(out.x, x), "the batch is changed").toBeGreaterThan(0)

      if (c.separable)
        for (let k = 0; k < C; k++) {
          const alone = augment(c.aug, gray3(channel(x, k)))
          expect(maxDiff(channel(out.x, k), channel(alone.x, k)), `channel ${k}`).toBeLessThan(1e-6)
          expect(maxDiff(alone.y, out.y)).toBe(0)
        }

      const g = gray3(channel(x, 1))
      const grayOut = augment(c.aug, g).x
      if (c.keepsGray) expect(channelSpread(grayOut), "equal channels stay equal").toBeLessThan(1e-6)
      // the noise is drawn independently per channel
      else expect(channelSpread(grayOut), "independent noise per channel").toBeGreaterThan(1e-3)
      if (c.aug._tag === "RandomErasing" && c.aug.fill === "noise") {
        // noise fill: the erased box is the same in every channel (and only there do they differ)
        const changed = tf.cast(tf.greater(tf.abs(tf.sub(grayOut, g)), 0), "float32") as tf.Tensor4D
        expect(channelSpread(changed)).toBe(0)
      }

      if (c.geometric !== undefined) {
        const cs = colours(B)
        const problem = hueProblem(augment(c.aug, constantImages(cs)).x, cs, c.geometric.keep)
        expect(problem).toBeUndefined()
      }
    })
  }

  it("every augmentation and corruption gives the same RGB batch on cpu (per-sample warps) as on wasm", async () => {
    const xs = tf.tidy(() => images(B, 71).arraySync())
    const compute = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(xs)
        return [
          ...cases.map((c) => augment(c.aug, x, 13).x.dataSync()),
          ...Augment.corruptionKinds.map((k) =>
            Augmentation.corrupt(Augment.corruption(k, 4), x, 5).dataSync(),
          ),
        ]
      })
    await tf.setBackend("cpu")
    const cpu = compute()
    await tf.setBackend("wasm")
    const wasm = compute()
    const labels = [...cases.map((c) => Augment.describe(c.aug)), ...Augment.corruptionKinds]
    const bad = labels.flatMap((label, i) => {
      const a = wasm[i]!
      const b = cpu[i]!
      let d = 0
      for (let j = 0; j < b.length; j++) d = Math.max(d, Math.abs(a[j]! - b[j]!))
      return d < 1e-4 ? [] : [`${label}: ${d}`]
    })
    expect(bad).toEqual([])
  })

  it("a list of every augmentation in one step keeps RGB batches valid", () => {
    const x = images(B, 41)
    const out = Augmentation.apply(
      cases.map((c) => c.aug),
      { x, y: targets() },
      { clock, seed: 4 },
    )
    expect(out.x.shape).toEqual([B, H, W, C])
    expect(finite(out.x)).toBe(true)
    const [lo, hi] = range(out.x)
    expect(lo).toBeGreaterThanOrEqual(0)
    expect(hi).toBeLessThanOrEqual(1)
  })
})

// ---------------------------------------------------------------------------------------------
// Corruptions
// ---------------------------------------------------------------------------------------------

const severities = [1, 2, 3, 4, 5] as const

/** Smooth RGB images: per channel an off-centre gaussian blob (its own place per channel and sample) on a ramp. */
const blobImages = (b: number): tf.Tensor4D =>
  tf.tidy(() => {
    const r = tf.reshape(tf.range(0, H), [1, H, 1, 1])
    const c = tf.reshape(tf.range(0, W), [1, 1, W, 1])
    const channels = [0, 1, 2].map((k) => {
      const cy = tf.reshape(tf.linspace(H * (0.25 + 0.1 * k), H * (0.45 + 0.1 * k), b), [b, 1, 1, 1])
      const cx = tf.reshape(tf.linspace(W * (0.65 - 0.1 * k), W * (0.4 - 0.05 * k), b), [b, 1, 1, 1])
      const d2 = tf.add(tf.square(tf.sub(r, cy)), tf.square(tf.sub(c, cx)))
      const blob = tf.exp(tf.div(tf.neg(d2), 2 * (H / 7) ** 2))
      return tf.clipByValue(tf.add(blob, tf.mul(0.1 + 0.1 * k, tf.div(c, W))), 0, 1)
    })
    return tf.concat(channels, 3) as tf.Tensor4D
  })

describe("every corruption on [6, 32, 32, 3], severities 1…5", () => {
  for (const kind of Augment.corruptionKinds) {
    it(`${kind}: keeps the shape, stays finite in [0, 1], grows with severity, treats the channels alike`, () => {
      const x = tf.add(tf.mul(blobImages(B), 0.9), tf.mul(images(B, 51), 0.1)) as tf.Tensor4D
      const distances: Array<number> = []
      for (const s of severities) {
        const corruption = Augment.corruption(kind, s)
        const name = Augment.name(corruption)
        const out = Augmentation.corrupt(corruption, x, 2)
        expect(out.shape, name).toEqual([B, H, W, C])
        expect(finite(out), name).toBe(true)
        const [lo, hi] = range(out)
        expect(lo, name).toBeGreaterThanOrEqual(0)
        expect(hi, name).toBeLessThanOrEqual(1)
        distances.push(tf.tidy(() => tf.mean(tf.abs(tf.sub(out, x))).dataSync()[0]!))

        if (kind !== "contrast")
          // contrast is about the image's mean luminance (all channels); the rest act per channel
          for (let k = 0; k < C; k++) {
            const alone = Augmentation.corrupt(corruption, gray3(channel(x, k)), 2)
            expect(maxDiff(channel(out, k), channel(alone, k)), `${name} channel ${k}`).toBeLessThan(1e-6)
          }
        if (kind === "gaussianNoise")
          expect(
            channelSpread(Augmentation.corrupt(corruption, gray3(channel(x, 0)), 2)),
            `${name}: independent noise per channel`,
          ).toBeGreaterThan(1e-3)
        else
          expect(
            channelSpread(Augmentation.corrupt(corruption, gray3(channel(x, 0)), 2)),
            `${name}: equal channels stay equal`,
          ).toBeLessThan(1e-6)
        const cs = colours(B)
        if (kind === "rotation")
          expect(
            hueProblem(Augmentation.corrupt(corruption, constantImages(cs), 2), cs, disk(13)),
            name,
          ).toBeUndefined()
        if (kind === "blur")
          // normalised taps and reflected borders: a constant colour is left exactly as it is
          expect(
            hueProblem(Augmentation.corrupt(corruption, constantImages(cs), 2), cs, () => true),
            name,
          ).toBeUndefined()
      }
      expect(distances[0]!, kind).toBeGreaterThan(1e-3)
      for (let i = 1; i < distances.length; i++)
        expect(distances[i]!, `${kind}: ${distances.join(", ")}`).toBeGreaterThan(distances[i - 1]!)
    })
  }
})

// ---------------------------------------------------------------------------------------------
// A real run on 32×32×3 data
// ---------------------------------------------------------------------------------------------

/** Seeded RGB images whose class sets the colour of a band (learnable in a few steps). */
const rgbSplit = (n: number, seed: number): Dataset.Split => {
  let s = seed >>> 0
  const rand = () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
  const size = H * W * C
  const x = new Float32Array(n * size)
  const y = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const k = Math.floor(rand() * K)
    y[i] = k
    const band = 4 * k
    for (let r = 0; r < H; r++)
      for (let c = 0; c < W; c++)
        for (let ch = 0; ch < C; ch++) {
          const on = r >= band && r < band + 4 && ch === k % 3
          x[i * size + (r * W + c) * C + ch] = Math.min(
            1,
            Math.max(0, (on ? 0.85 : 0.15 + 0.1 * ch) + (rand() - 0.5) * 0.2),
          )
        }
  }
  return { x, y, n }
}

const kdPipeline = (data: Pipeline.Data) =>
  Pipeline.make({
    name: "rgb-kd",
    seed: 3,
    data,
    models: {
      teacher: Model.cnn({
        conv: [{ filters: 4 }, { filters: 4 }],
        dense: [8],
        classes: K,
        batchNorm: true,
        input,
      }),
      student: Model.mlp({ hidden: [16], classes: K, input }),
    },
    phases: [
      Phase.make({
        name: "teacher",
        epochs: 1,
        batchSize: 8,
        step: Step.start.pipe(
          Step.augment(Augment.flipX(), Augment.randomCrop({ pad: 2 })),
          Step.forward("teacher", { as: "o" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
          Step.optimize("teacher", Optimizer.adam({ lr: 1e-3 })),
        ),
        evaluate: Phase.evaluate({ models: ["teacher"] }),
      }),
      Phase.make({
        name: "distil",
        epochs: 1,
        batchSize: 8,
        step: Step.start.pipe(
          Step.augment(
            Augment.flipX(),
            Augment.randomCrop({ pad: 2 }),
            Augment.randAugment({ n: 1, magnitude: 0.5 }),
            Augment.cutout({ size: 6 }),
          ),
          Step.forward("teacher", { as: "t", mode: "frozen" }),
          Step.forward("student", { as: "s" }),
          Step.loss(
            {
              ce: Loss.crossEntropy({ logits: "s" }),
              kd: Loss.kl({ teacher: "t", student: "s", temperature: 4 }),
            },
            { weights: { ce: 0.1, kd: 0.9 } },
          ),
          Step.optimize("student", Optimizer.adam({ lr: 1e-3 })),
        ),
        evaluate: Phase.evaluate({
          models: ["student", "teacher"],
          splits: [{ split: "test" }, { split: "test", corruption: Augment.corruption("blur", 2) }],
          metrics: ["accuracy", "nll", "ece", "agreement"],
          reference: "teacher",
        }),
      }),
    ],
  })

const runKd = async (data: Pipeline.Data, spec: DataSpec.DataSpec | Dataset.Dataset, name: string) => {
  const events: Array<Event.Event> = []
  const result = await Effect.runPromise(
    run(kdPipeline(data), {
      backend: "wasm",
      data: spec,
      maxSteps: 3,
      quiet: true,
      outDir: dir,
      name,
      logEvery: 1,
      checkpointEvery: 0,
      evalLimit: 16,
      reporter: Reporter.memory(events),
    }),
  )
  const steps = events.filter((e): e is Event.StepMetrics => e._tag === "StepMetrics")
  expect(steps.map((s) => s.phase)).toEqual(["teacher", "teacher", "teacher", "distil", "distil", "distil"])
  for (const s of steps) {
    expect(Number.isFinite(s.loss), `${s.phase} step ${s.step}`).toBe(true)
    for (const v of Object.values(s.terms)) expect(Number.isFinite(v)).toBe(true)
  }
  for (const s of steps.filter((e) => e.phase === "distil"))
    expect(Object.keys(s.terms).sort()).toEqual(["loss.ce", "loss.kd"])
  const metrics = result.phases[1]!.metrics
  for (const key of [
    "test/student/accuracy",
    "test/student/nll",
    "test/student/agreement",
    "test:blur@2/student/accuracy",
    "test:blur@2/teacher/nll",
  ])
    expect(Number.isFinite(metrics[key]), `${key} in ${Object.keys(metrics).join(", ")}`).toBe(true)
  return { result, info: JSON.parse(readFileSync(join(result.dir, "data.json"), "utf8")) }
}

describe("a KD run on 32×32×3 data", () => {
  it("trains a frozen-teacher cnn → mlp distillation with augmentations, from a Dataset", async () => {
    const dataset: Dataset.Dataset = {
      name: "rgb",
      classes: K,
      shape: input,
      train: rgbSplit(48, 1),
      test: rgbSplit(16, 2),
    }
    const { result, info } = await runKd(Pipeline.data("custom", { name: "rgb" }), dataset, "plain")
    expect(result.dataset.shape).toEqual([32, 32, 3])
    expect(info.shape).toEqual([32, 32, 3])
    expect(info.normalize).toBeUndefined()
  })

  it("the same with per-channel normalisation from the training split, from DataSpec.arrays (bytes)", async () => {
    const train = rgbSplit(48, 3)
    const test = rgbSplit(16, 4)
    const bytes = (x: Float32Array) => Uint8Array.from(x, (v) => Math.round(v * 255))
    const spec = DataSpec.arrays({
      name: "rgb-bytes",
      x: bytes(train.x),
      y: train.y,
      test: { x: bytes(test.x), y: test.y },
      shape: input,
      classes: K,
    })
    const { result, info } = await runKd(
      Pipeline.data("custom", { name: "rgb-bytes", normalize: "train" }),
      spec,
      "normalised",
    )
    // one mean and one std per channel, those of the (decoded) training split
    const stats = Dataset.channelStats(result.dataset.train, 3)
    expect(info.normalize.mean).toHaveLength(3)
    expect(info.normalize.std).toHaveLength(3)
    for (let c = 0; c < 3; c++) {
      expect(info.normalize.mean[c]).toBeCloseTo(stats.mean[c]!, 6)
      expect(info.normalize.std[c]).toBeCloseTo(stats.std[c]!, 6)
    }
    // the channels really differ (0.15 / 0.25 / 0.35 backgrounds)
    expect(stats.mean[2]! - stats.mean[0]!).toBeGreaterThan(0.1)
  })
})
