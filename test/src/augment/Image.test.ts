import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-backend-cpu"
import { beforeAll, describe, expect, it } from "vitest"
import * as Image from "../../../src/augment/Image.js"
import { maxDiff, pixels, randomImages } from "./fixtures.js"

beforeAll(async () => {
  await tf.setBackend("cpu")
  await tf.ready()
})

describe("Image.warp", () => {
  it("warps every image of a batch with its own map (cpu's batched Transform kernel only does the first)", () => {
    const x = randomImages(5, 7, 6, 2)
    const theta = tf.tensor1d([0.3, -0.5, 0.1, 1, 0])
    const out = Image.warp(x, Image.rotation(theta, 7, 6), "bilinear")
    const images = tf.split(x, 5, 0) as Array<tf.Tensor4D>
    const angles = theta.arraySync()
    images.forEach((img, i) => {
      const one = tf.image.transform(
        img,
        Image.rows(Image.rotation(tf.tensor1d([angles[i]!]), 7, 6), 1),
        "bilinear",
      )
      expect(maxDiff(tf.slice(out, [i, 0, 0, 0], [1, 7, 6, 2]), one)).toBe(0)
    })
    expect(Image.brokenTransform.has("cpu")).toBe(true)
  })

  it("translates by whole pixels with nearest sampling and zero fill", () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1])
    const right = Image.warp(x, Image.translation(1, 0), "nearest")
    expect(pixels(right)[0]!.map((r) => r.map((p) => p[0]))).toEqual([
      [0, 1, 2],
      [0, 4, 5],
      [0, 7, 8],
    ])
    const up = Image.warp(x, Image.translation(0, -1), "nearest")
    expect(pixels(up)[0]!.map((r) => r.map((p) => p[0]))).toEqual([
      [4, 5, 6],
      [7, 8, 9],
      [0, 0, 0],
    ])
  })

  it("the identity map and a zero rotation return the image exactly", () => {
    const x = randomImages(3, 5, 5, 1)
    expect(maxDiff(Image.warp(x, Image.identity, "bilinear"), x)).toBe(0)
    expect(maxDiff(Image.warp(x, Image.rotation(tf.zeros([3]) as tf.Tensor1D, 5, 5), "bilinear"), x)).toBe(0)
  })

  it("a quarter turn maps rows to columns about the centre", () => {
    const x = randomImages(1, 5, 5, 1)
    const out = Image.warp(x, Image.rotation(tf.tensor1d([Math.PI / 2]), 5, 5), "bilinear")
    const a = pixels(x)[0]!
    const o = pixels(out)[0]!
    // x_in = cos·(x−c) − sin·(y−c) + c = c − (y − c); y_in = sin·(x−c) + c = x
    for (let r = 0; r < 5; r++)
      for (let c = 0; c < 5; c++) expect(o[r]![c]![0]).toBeCloseTo(a[c]![4 - r]![0]!, 5)
  })

  it("shears about the middle row/column", () => {
    const x = randomImages(1, 5, 5, 1)
    const sx = pixels(Image.warp(x, Image.shearX(1, 5), "nearest"))[0]!
    const a = pixels(x)[0]!
    // x_in = x + (y − 2): row 2 unchanged, row 3 shifted left by one
    expect(sx[2]).toEqual(a[2])
    expect(sx[3]![0]).toEqual(a[3]![1])
    const sy = pixels(Image.warp(x, Image.shearY(1, 5), "nearest"))[0]!
    expect(sy.map((r) => r[2])).toEqual(a.map((r) => r[2]))
  })

  it("selectAffine picks per sample", () => {
    const x = randomImages(2, 4, 4, 1)
    const m = Image.selectAffine(
      tf.tensor1d([true, false], "bool"),
      Image.translation(1, 0),
      Image.identity,
      2,
    )
    const out = Image.warp(x, m, "nearest")
    expect(maxDiff(tf.slice(out, [1], [1]), tf.slice(x, [1], [1]))).toBe(0)
    expect(maxDiff(tf.slice(out, [0], [1]), tf.slice(x, [0], [1]))).toBeGreaterThan(0)
  })
})

describe("Image masks and selection", () => {
  it("boxMask marks half-open per-sample boxes, clipped to the image", () => {
    const m = Image.boxMask(
      4,
      5,
      tf.tensor1d([1, -2]),
      tf.tensor1d([3, 1]),
      tf.tensor1d([0, 3]),
      tf.tensor1d([2, 9]),
    )
    expect(m.shape).toEqual([2, 4, 5, 1])
    const p = pixels(m)
    expect(p[0]!.map((r) => r.map((v) => v[0]))).toEqual([
      [0, 0, 0, 0, 0],
      [1, 1, 0, 0, 0],
      [1, 1, 0, 0, 0],
      [0, 0, 0, 0, 0],
    ])
    expect(p[1]!.map((r) => r.map((v) => v[0]))).toEqual([
      [0, 0, 0, 1, 1],
      [0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0],
    ])
  })

  it("select and blend are exact at 0/1 masks", () => {
    const a = randomImages(3, 4, 4, 2, 1)
    const b = randomImages(3, 4, 4, 2, 2)
    const out = Image.select(tf.tensor1d([true, false, true], "bool"), a, b)
    expect(maxDiff(tf.slice(out, [0], [1]), tf.slice(a, [0], [1]))).toBe(0)
    expect(maxDiff(tf.slice(out, [1], [1]), tf.slice(b, [1], [1]))).toBe(0)
    expect(maxDiff(tf.slice(out, [2], [1]), tf.slice(a, [2], [1]))).toBe(0)
    expect(Image.select(null, a, b)).toBe(a)
  })
})

describe("Image pixel operations", () => {
  it("gaussianBlur keeps constant images, conserves the mean of a symmetric one, and smooths", () => {
    const flat = tf.fill([2, 6, 6, 3], 0.4) as tf.Tensor4D
    expect(maxDiff(Image.gaussianBlur(flat, 1.5), flat)).toBeLessThan(1e-6)
    const x = randomImages(2, 9, 9, 1)
    const blurred = Image.gaussianBlur(x, 1)
    expect(blurred.shape).toEqual(x.shape)
    const variance = (t: tf.Tensor) => tf.tidy(() => tf.moments(t).variance.dataSync()[0]!)
    expect(variance(blurred)).toBeLessThan(variance(x) / 2)
    expect(Image.gaussianBlur(x, 0)).toBe(x)
    // a radius larger than the image is clamped (reflection needs radius < side)
    expect(Image.gaussianBlur(randomImages(1, 3, 3, 1), 5).shape).toEqual([1, 3, 3, 1])
  })

  it("contrast scales about the image mean and clips", () => {
    const x = randomImages(2, 5, 5, 1)
    const gray = Image.contrast(x, 0)
    const means = tf.mean(x, [1, 2, 3]).arraySync() as Array<number>
    for (const [i, img] of pixels(gray).entries())
      for (const r of img) for (const p of r) expect(p[0]).toBeCloseTo(means[i]!, 5)
    expect(maxDiff(Image.contrast(x, 1), x)).toBeLessThan(1e-6)
    const strong = Image.contrast(x, 10)
    expect(tf.min(strong).dataSync()[0]).toBeGreaterThanOrEqual(0)
    expect(tf.max(strong).dataSync()[0]).toBeLessThanOrEqual(1)
  })

  it("grayscale uses luminance weights for RGB", () => {
    const rgb = tf.tensor4d([1, 0, 0, 0, 1, 0], [1, 1, 2, 3])
    expect(Array.from(Image.grayscale(rgb).dataSync()).map((v) => +v.toFixed(3))).toEqual([0.299, 0.587])
  })

  it("enhance interpolates towards (or away from) a degenerate image", () => {
    const x = tf.fill([1, 2, 2, 1], 0.5) as tf.Tensor4D
    const d = tf.zerosLike(x)
    expect(Array.from(Image.enhance(x, d, 0.5).dataSync())).toEqual([0.25, 0.25, 0.25, 0.25])
    expect(Array.from(Image.enhance(x, d, 3).dataSync())).toEqual([1, 1, 1, 1])
  })

  it("smooth keeps constant images", () => {
    const flat = tf.fill([1, 4, 4, 2], 0.7) as tf.Tensor4D
    expect(maxDiff(Image.smooth(flat), flat)).toBeLessThan(1e-6)
  })
})
