import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-backend-cpu"
import { beforeAll, describe, expect, it } from "vitest"
import * as Augment from "../../../dsl/Augment.js"
import * as Augmentation from "../../../src/augment/index.js"
import { ShapeError } from "../../../src/errors.js"
import { blobImages, maxDiff, meanDiff, pixels, randomImages } from "./fixtures.js"

beforeAll(async () => {
  await tf.setBackend("cpu")
  await tf.ready()
})

const severities = [1, 2, 3, 4, 5] as const

describe("corrupt", () => {
  it("changes the images, stays in [0, 1] and keeps the shape, for every kind and severity", () => {
    const x = blobImages(4, 16, 16)
    for (const kind of Augment.corruptionKinds)
      for (const s of severities) {
        const out = Augmentation.corrupt(Augment.corruption(kind, s), x, 0)
        expect(out.shape).toEqual(x.shape)
        expect(meanDiff(out, x), `${kind}@${s}`).toBeGreaterThan(1e-3)
        expect(tf.min(out).dataSync()[0]).toBeGreaterThanOrEqual(0)
        expect(tf.max(out).dataSync()[0]).toBeLessThanOrEqual(1)
      }
  })

  it("moves images further from the clean ones as severity grows", () => {
    const x = blobImages(4, 16, 16)
    for (const kind of Augment.corruptionKinds) {
      const d = severities.map((s) => meanDiff(Augmentation.corrupt(Augment.corruption(kind, s), x, 3), x))
      for (let i = 1; i < d.length; i++) expect(d[i]!, `${kind}: ${d.join(", ")}`).toBeGreaterThan(d[i - 1]!)
    }
  })

  it("is deterministic for a seed; random kinds differ across seeds", () => {
    const x = randomImages(6, 10, 10, 1)
    for (const kind of Augment.corruptionKinds) {
      const c = Augment.corruption(kind, 3)
      expect(maxDiff(Augmentation.corrupt(c, x, 4), Augmentation.corrupt(c, x, 4))).toBe(0)
    }
    const noise = Augment.corruption("gaussianNoise", 3)
    expect(maxDiff(Augmentation.corrupt(noise, x, 4), Augmentation.corrupt(noise, x, 5))).toBeGreaterThan(0)
  })

  it("rotates each image by exactly ±degrees", () => {
    const x = randomImages(8, 5, 5, 1)
    const out = pixels(Augmentation.corrupt(Augment.rotation({ degrees: 90 }), x, 2))
    const xs = pixels(x)
    const directions = out.map((img, i) => {
      const a = xs[i]!
      let ccw = true
      let cw = true
      for (let r = 0; r < 5; r++)
        for (let c = 0; c < 5; c++) {
          if (Math.abs(img[r]![c]![0]! - a[c]![4 - r]![0]!) > 1e-5) ccw = false
          if (Math.abs(img[r]![c]![0]! - a[4 - c]![r]![0]!) > 1e-5) cw = false
        }
      expect(ccw || cw).toBe(true)
      return ccw ? "ccw" : "cw"
    })
    expect(new Set(directions).size).toBe(2)
  })

  it("is the identity at zero strength", () => {
    const x = randomImages(2, 6, 6, 1)
    expect(maxDiff(Augmentation.corrupt(Augment.rotation({ degrees: 0 }), x, 0), x)).toBe(0)
    expect(maxDiff(Augmentation.corrupt(Augment.gaussianNoise({ std: 0 }), x, 0), x)).toBe(0)
    expect(maxDiff(Augmentation.corrupt(Augment.contrast({ factor: 1 }), x, 0), x)).toBe(0)
  })

  it("blur honours an explicit radius", () => {
    const x = randomImages(2, 12, 12, 1)
    const wide = Augmentation.corrupt(Augment.blur({ sigma: 2 }), x, 0)
    const narrow = Augmentation.corrupt(Augment.blur({ sigma: 2, radius: 1 }), x, 0)
    expect(maxDiff(wide, narrow)).toBeGreaterThan(1e-3)
  })

  it("does not leak tensors and rejects non-image input", () => {
    const x = randomImages(2, 8, 8, 3)
    const cs = Augment.corruptionKinds.map((k) => Augment.corruption(k, 2))
    for (const c of cs) Augmentation.corrupt(c, x, 0).dispose()
    const before = tf.memory().numTensors
    for (let i = 0; i < 10; i++) for (const c of cs) Augmentation.corrupt(c, x, i).dispose()
    expect(tf.memory().numTensors).toBe(before)
    expect(() => Augmentation.corrupt(cs[0]!, tf.zeros([2, 8, 8]) as unknown as tf.Tensor4D, 0)).toThrow(
      ShapeError,
    )
  })
})
