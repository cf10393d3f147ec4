import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-backend-cpu"
import { beforeAll, describe, expect, it } from "vitest"
import * as Augment from "../../../dsl/Augment.js"
import * as Ramp from "../../../dsl/Ramp.js"
import * as Augmentation from "../../../src/augment/index.js"
import { ShapeError } from "../../../src/errors.js"
import {
  clock0,
  clockEnd,
  distinctTargets,
  maxDiff,
  meanDiff,
  pixels,
  randomImages,
  strong,
  zeroProbability,
  zeroStrength,
} from "./fixtures.js"

beforeAll(async () => {
  await tf.setBackend("cpu")
  await tf.ready()
})

const B = 8
const run = (
  augs: ReadonlyArray<Augment.Augment>,
  x: tf.Tensor4D,
  y: tf.Tensor2D,
  seed = 7,
  clock = clock0,
) => Augmentation.apply(augs, { x, y }, { clock, seed })

const argmaxOther = (row: ReadonlyArray<number>, i: number): number => {
  let best = -1
  let j = i
  row.forEach((v, k) => {
    if (k !== i && v > best) {
      best = v
      j = k
    }
  })
  return best > 1e-6 ? j : i
}

/** The image shifted by (dy, dx) with zero fill, as nested arrays. */
const shifted = (img: Array<Array<Array<number>>>, dy: number, dx: number) =>
  img.map((row, r) => row.map((px, c) => img[r - dy]?.[c - dx] ?? px.map(() => 0)))

/** Coordinates of the pixels whose first channel is 0. */
const zeroPixels = (img: Array<Array<Array<number>>>): Array<[number, number]> => {
  const zeros: Array<[number, number]> = []
  img.forEach((row, r) => {
    row.forEach((px, c) => {
      if (px[0] === 0) zeros.push([r, c])
    })
  })
  return zeros
}

describe("apply: every augmentation", () => {
  it("keeps shapes, the [0, 1] range, and targets rows summing to 1", () => {
    const x = randomImages(B, 12, 10, 3)
    const y = distinctTargets(B, 10)
    for (const a of strong) {
      const out = run([a], x, y)
      expect(out.x.shape, a._tag).toEqual([B, 12, 10, 3])
      expect(out.y.shape).toEqual([B, 10])
      expect(out.x.dtype).toBe("float32")
      const [lo, hi] = tf.tidy(() => [tf.min(out.x).dataSync()[0]!, tf.max(out.x).dataSync()[0]!])
      expect(lo, a._tag).toBeGreaterThanOrEqual(0)
      expect(hi, a._tag).toBeLessThanOrEqual(1)
      for (const s of tf.sum(out.y, 1).dataSync()) expect(s).toBeCloseTo(1, 5)
    }
  })

  it("is deterministic by seed, and different seeds give different outputs", () => {
    const x = randomImages(B, 10, 10, 1)
    const y = distinctTargets(B)
    for (const a of strong) {
      const one = run([a], x, y, 11)
      const two = run([a], x, y, 11)
      const other = run([a], x, y, 12)
      expect(maxDiff(one.x, two.x), a._tag).toBe(0)
      expect(maxDiff(one.y, two.y), a._tag).toBe(0)
      if (a._tag !== "FlipX") expect(maxDiff(one.x, other.x), a._tag).toBeGreaterThan(0)
      expect(maxDiff(one.x, x), a._tag).toBeGreaterThan(0)
    }
  })

  it("is the identity (the very same tensors) at strength 0 or p = 0", () => {
    const x = randomImages(4, 8, 8, 1)
    const y = distinctTargets(4)
    for (const a of [...zeroStrength, ...zeroProbability]) {
      const out = run([a], x, y)
      expect(out.x, Augment.describe(a)).toBe(x)
      expect(out.y, Augment.describe(a)).toBe(y)
    }
    expect(run([], x, y).x).toBe(x)
  })

  it("evaluates ramped strengths and probabilities at the clock", () => {
    const x = randomImages(4, 8, 8, 1)
    const y = distinctTargets(4)
    const rising = Augment.rotate({ degrees: Ramp.linear({ from: 0, to: 30 }) })
    expect(run([rising], x, y, 1, clock0).x).toBe(x)
    expect(maxDiff(run([rising], x, y, 1, clockEnd).x, x)).toBeGreaterThan(0.01)
    const fading = Augment.mixup({ alpha: 1, p: Ramp.linear({ from: 1, to: 0 }) })
    expect(maxDiff(run([fading], x, y, 1, clock0).y, y)).toBeGreaterThan(0)
    expect(run([fading], x, y, 1, clockEnd).y).toBe(y)
  })

  it("draws per-sample randomness (each sample its own decision)", () => {
    const x = randomImages(16, 6, 6, 1)
    const y = distinctTargets(16)
    const out = run([Augment.flipX({ p: 0.5 })], x, y, 3)
    const xs = pixels(x)
    const os = pixels(out.x)
    const flippedX = pixels(tf.reverse(x, 2) as tf.Tensor4D)
    let flipped = 0
    let kept = 0
    os.forEach((img, i) => {
      if (JSON.stringify(img) === JSON.stringify(flippedX[i])) flipped++
      else if (JSON.stringify(img) === JSON.stringify(xs[i])) kept++
    })
    expect(flipped + kept).toBe(16)
    expect(flipped).toBeGreaterThan(0)
    expect(kept).toBeGreaterThan(0)
  })

  it("applies a list in order with an independent seed per position", () => {
    const x = randomImages(B, 8, 8, 1)
    const y = distinctTargets(B)
    const twice = run([Augment.noise({ std: 0.1 }), Augment.noise({ std: 0.1 })], x, y, 5)
    const once = run([Augment.noise({ std: 0.1 })], x, y, 5)
    const again = run([Augment.noise({ std: 0.1 })], once.x, y, 5)
    expect(maxDiff(twice.x, again.x)).toBeGreaterThan(0)
  })

  it("rejects batches of the wrong rank", () => {
    const y = distinctTargets(2)
    expect(() => run([Augment.flipX()], tf.zeros([2, 4, 4]) as unknown as tf.Tensor4D, y)).toThrow(ShapeError)
    expect(() => run([Augment.flipX()], randomImages(3, 4, 4, 1), y)).toThrow(ShapeError)
  })

  it("does not leak tensors over 50 applications (in and out of tidy)", () => {
    const x = randomImages(4, 6, 6, 3)
    const y = distinctTargets(4, 10)
    const everything = [...strong, Augment.randAugment({ n: 3, magnitude: 1, ops: Augment.randAugmentOps })]
    run(everything, x, y, 0) // warm up lazily created backend state
    const before = tf.memory().numTensors
    for (let i = 0; i < 50; i++) {
      const out = run(everything, x, y, i)
      tf.dispose([out.x, out.y])
    }
    expect(tf.memory().numTensors).toBe(before)
    tf.tidy(() => {
      for (let i = 0; i < 50; i++) run(everything, x, y, i)
    })
    expect(tf.memory().numTensors).toBe(before)
  })
})

describe("apply: geometry", () => {
  it("flipX with p = 1 mirrors the width axis; twice is the identity", () => {
    const x = randomImages(B, 6, 7, 2)
    const y = distinctTargets(B)
    const once = run([Augment.flipX({ p: 1 })], x, y)
    expect(maxDiff(once.x, tf.reverse(x, 2))).toBe(0)
    const twice = run([Augment.flipX({ p: 1 }), Augment.flipX({ p: 1 })], x, y)
    expect(maxDiff(twice.x, x)).toBe(0)
  })

  it("randomCrop shifts each image by its own integer offset within ±pad, zero-filled", () => {
    const pad = 2
    const x = randomImages(B, 9, 9, 1)
    const xs = pixels(x)
    const os = pixels(run([Augment.randomCrop({ pad })], x, distinctTargets(B), 21).x)
    const offsets = os.map((img, i) => {
      for (let dy = -pad; dy <= pad; dy++)
        for (let dx = -pad; dx <= pad; dx++)
          if (JSON.stringify(shifted(xs[i]!, dy, dx)) === JSON.stringify(img)) return `${dy},${dx}`
      return "none"
    })
    expect(offsets).not.toContain("none")
    expect(new Set(offsets).size).toBeGreaterThan(1)
  })

  it("translate moves by whole pixels within the (fractional) bound", () => {
    const x = randomImages(B, 10, 10, 1)
    const xs = pixels(x)
    const os = pixels(run([Augment.translate({ max: 0.2, unit: "fraction" })], x, distinctTargets(B), 4).x)
    os.forEach((img, i) => {
      let found = false
      for (let dy = -2; dy <= 2 && !found; dy++)
        for (let dx = -2; dx <= 2 && !found; dx++)
          found = JSON.stringify(shifted(xs[i]!, dy, dx)) === JSON.stringify(img)
      expect(found).toBe(true)
    })
  })

  it("rotate keeps the centre of an odd-sized image and blanks corners at large angles", () => {
    const x = tf.ones([B, 9, 9, 1]) as tf.Tensor4D
    const out = pixels(run([Augment.rotate({ degrees: 45 })], x, distinctTargets(B), 2).x)
    for (const img of out) expect(img[4]![4]![0]).toBeCloseTo(1, 5)
    // a rotation by ≥ ~10° moves some corner outside: at least one sample loses a corner
    expect(out.some((img) => img[0]![0]![0]! < 1 || img[0]![8]![0]! < 1)).toBe(true)
  })
})

describe("apply: pixels and occlusion", () => {
  it("noise is gaussian with the given std (before clipping)", () => {
    const x = tf.fill([16, 8, 8, 1], 0.5) as tf.Tensor4D
    const out = run([Augment.noise({ std: 0.05 })], x, distinctTargets(16))
    const d = tf.tidy(() => tf.sub(out.x, x))
    const std = tf.tidy(() => Math.sqrt(tf.mean(tf.square(d)).dataSync()[0]!))
    expect(std).toBeGreaterThan(0.045)
    expect(std).toBeLessThan(0.055)
  })

  it("cutout zeroes squares of the given size (clipped at the border)", () => {
    const x = tf.ones([B, 12, 12, 1]) as tf.Tensor4D
    const out = pixels(run([Augment.cutout({ size: 4 })], x, distinctTargets(B), 9).x)
    for (const img of out) {
      const zeros = zeroPixels(img)
      const rows = new Set(zeros.map((z) => z[0]))
      const cols = new Set(zeros.map((z) => z[1]))
      expect(zeros.length).toBeGreaterThanOrEqual(4) // centre inside: at least 2×2 survives clipping
      expect(zeros.length).toBe(rows.size * cols.size) // a rectangle
      expect(rows.size).toBeLessThanOrEqual(4)
      expect(cols.size).toBeLessThanOrEqual(4)
    }
  })

  it("randomErasing erases one in-image rectangle whose area is in range", () => {
    const x = tf.ones([B, 20, 20, 1]) as tf.Tensor4D
    const a = Augment.randomErasing({ area: [0.1, 0.3], ratio: [1, 1], fill: "zero", p: 1 })
    const out = pixels(run([a], x, distinctTargets(B), 13).x)
    const areas = out.map((img) => {
      const zeros = zeroPixels(img)
      const rows = new Set(zeros.map((z) => z[0]))
      const cols = new Set(zeros.map((z) => z[1]))
      expect(zeros.length).toBe(rows.size * cols.size)
      expect(rows.size).toBe(cols.size) // ratio 1: squares
      return zeros.length
    })
    for (const n of areas) {
      expect(n).toBeGreaterThanOrEqual(Math.round(Math.sqrt(0.1 * 400)) ** 2)
      expect(n).toBeLessThanOrEqual(Math.round(Math.sqrt(0.3 * 400)) ** 2)
    }
    expect(new Set(areas).size).toBeGreaterThan(1)
    // noise fill: erased pixels are random values, not 1
    const noisy = run(
      [Augment.randomErasing({ area: [0.2, 0.2], ratio: [1, 1], p: 1 })],
      x,
      distinctTargets(B),
      13,
    )
    expect(meanDiff(noisy.x, x)).toBeGreaterThan(0.05)
  })
})

describe("apply: label mixing", () => {
  it("mixup blends each sample with one partner by λ, in x and y alike", () => {
    const b = 10
    const x = randomImages(b, 5, 5, 2)
    const y = distinctTargets(b)
    const out = run([Augment.mixup({ alpha: 1 })], x, y, 31)
    const xs = pixels(x)
    const ox = pixels(out.x)
    const oy = out.y.arraySync()
    const partners = oy.map((row, i) => {
      expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5)
      const j = argmaxOther(row, i)
      const lambda = j === i ? 1 : row[i]!
      if (j !== i) expect(row[i]! + row[j]!).toBeCloseTo(1, 5)
      for (const [ri, r] of ox[i]!.entries())
        for (const [ci, px] of r.entries())
          for (const [ch, v] of px.entries())
            expect(v).toBeCloseTo(lambda * xs[i]![ri]![ci]![ch]! + (1 - lambda) * xs[j]![ri]![ci]![ch]!, 5)
      return j
    })
    expect(new Set(partners).size).toBe(b) // partners form a permutation
    expect(partners.some((j, i) => j !== i)).toBe(true)
  })

  it("cutmix pastes a partner's rectangle; the label weight is exactly the pasted fraction", () => {
    const b = 10
    const [h, w] = [12, 10]
    const x = randomImages(b, h, w, 3)
    const y = distinctTargets(b)
    const out = run([Augment.cutmix({ alpha: 1 })], x, y, 8)
    const xs = pixels(x)
    const ox = pixels(out.x)
    const oy = out.y.arraySync()
    let mixed = 0
    oy.forEach((row, i) => {
      expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5)
      const j = argmaxOther(row, i)
      const changed: Array<[number, number]> = []
      for (const [ri, r] of ox[i]!.entries())
        for (const [ci, px] of r.entries()) {
          const fromSelf = px.every((v, ch) => v === xs[i]![ri]![ci]![ch])
          const fromPartner = px.every((v, ch) => v === xs[j]![ri]![ci]![ch])
          expect(fromSelf || fromPartner).toBe(true)
          if (!fromSelf) changed.push([ri, ci])
        }
      const pasted = changed.length / (h * w)
      expect(1 - row[i]!).toBeCloseTo(pasted, 5)
      if (j !== i) expect(row[j]!).toBeCloseTo(pasted, 5)
      const rows = new Set(changed.map((c) => c[0]))
      const cols = new Set(changed.map((c) => c[1]))
      expect(changed.length).toBe(rows.size * cols.size) // a rectangle
      if (changed.length > 0) mixed++
    })
    expect(mixed).toBeGreaterThan(0)
  })

  it("mixup and cutmix with p < 1 leave some samples untouched", () => {
    const b = 16
    const x = randomImages(b, 6, 6, 1)
    const y = distinctTargets(b)
    for (const a of [Augment.mixup({ alpha: 1, p: 0.5 }), Augment.cutmix({ alpha: 1, p: 0.5 })]) {
      const oy = run([a], x, y, 2).y.arraySync()
      const untouched = oy.filter((row, i) => row[i] === 1).length
      expect(untouched).toBeGreaterThan(0)
      expect(untouched).toBeLessThan(b)
    }
  })
})

describe("apply: randAugment", () => {
  const x = randomImages(B, 10, 10, 3, 5)
  const y = distinctTargets(B)

  it("each operation changes the images at a positive magnitude; identity does not", () => {
    for (const op of Augment.randAugmentOps) {
      const out = run([Augment.randAugment({ n: 1, magnitude: 0.8, ops: [op] })], x, y, 6)
      if (op === "identity") expect(maxDiff(out.x, x)).toBe(0)
      else expect(maxDiff(out.x, x), op).toBeGreaterThan(1e-3)
    }
  })

  it("chooses an operation per sample", () => {
    const out = pixels(
      run([Augment.randAugment({ n: 1, magnitude: 0.9, ops: ["identity", "rotate"] })], x, y, 3).x,
    )
    const xs = pixels(x)
    const unchanged = out.filter((img, i) => JSON.stringify(img) === JSON.stringify(xs[i])).length
    expect(unchanged).toBeGreaterThan(0)
    expect(unchanged).toBeLessThan(B)
  })

  it("stronger magnitude moves images further", () => {
    const ops: ReadonlyArray<Augment.RandAugmentOp> = [
      "rotate",
      "shearX",
      "translateY",
      "contrast",
      "brightness",
    ]
    const d = [0.2, 0.5, 1].map((m) =>
      meanDiff(run([Augment.randAugment({ n: 2, magnitude: m, ops })], x, y, 4).x, x),
    )
    expect(d[1]!).toBeGreaterThan(d[0]!)
    expect(d[2]!).toBeGreaterThan(d[1]!)
  })

  it("color is the identity on single-channel images; posterize at 8 bits is the identity", () => {
    const g = randomImages(4, 6, 6, 1)
    const yy = distinctTargets(4)
    expect(maxDiff(run([Augment.randAugment({ n: 1, magnitude: 1, ops: ["color"] })], g, yy).x, g)).toBe(0)
    expect(
      maxDiff(run([Augment.randAugment({ n: 1, magnitude: 0.1, ops: ["posterize"] })], g, yy).x, g),
    ).toBe(0)
  })
})
