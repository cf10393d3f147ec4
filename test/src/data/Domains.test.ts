import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { Domain } from "../../../dsl/index.js"
import * as Domains from "../../../src/data/Domains.js"
import { useWasm } from "../../pipelines/support.js"

/** An odd-sized image (centre exactly on a pixel) with one bright pixel `dx` right of centre. */
const S = 29
const C = 14
const dot = (dx: number) => {
  const x = new Float32Array(S * S)
  x[C * S + C + dx] = 1
  return x
}
/** The intensity-weighted centroid (row, col) of an image. */
const centroid = (img: Float32Array) => {
  let m = 0
  let r = 0
  let c = 0
  for (let i = 0; i < img.length; i++) {
    m += img[i]!
    r += img[i]! * Math.floor(i / S)
    c += img[i]! * (i % S)
  }
  return [r / m, c / m] as const
}

describe("Domains (Rotated MNIST construction)", () => {
  beforeAll(useWasm)

  it("assign deals the samples into disjoint, balanced domains, seeded", () => {
    const d = Domains.assign(600, 6, 7)
    const counts = Array.from({ length: 6 }, (_, k) => d.filter((v) => v === k).length)
    expect(counts).toEqual([100, 100, 100, 100, 100, 100])
    expect(Domains.assign(600, 6, 7)).toEqual(d)
    expect(Domains.assign(600, 6, 8)).not.toEqual(d)
  })

  it("rotates each image counter-clockwise by its domain's angle (0°, 15°, …, 75°)", () => {
    const angles = Domain.DOMAINBED_ANGLES
    const n = angles.length
    const x = new Float32Array(n * S * S)
    for (let i = 0; i < n; i++) x.set(dot(10), i * S * S)
    const split = { x, y: new Int32Array(n), n }
    const out = Domains.rotate(
      split,
      Int32Array.from(angles, (_, i) => i),
      angles,
      [S, S, 1],
    )
    angles.forEach((deg, i) => {
      const t = (deg * Math.PI) / 180
      // a point 10 px right of centre, turned counter-clockwise on screen (rows grow downwards)
      const [r, c] = centroid(out.x.subarray(i * S * S, (i + 1) * S * S))
      expect(r).toBeCloseTo(C - 10 * Math.sin(t), 0)
      expect(c).toBeCloseTo(C + 10 * Math.cos(t), 0)
      expect(Math.abs(r - (C - 10 * Math.sin(t)))).toBeLessThan(0.3)
      expect(Math.abs(c - (C + 10 * Math.cos(t)))).toBeLessThan(0.3)
    })
    // the 0° domain is untouched, the input is not modified
    expect(out.x.subarray(0, S * S)).toEqual(dot(10))
    expect(x.subarray(S * S, 2 * S * S)).toEqual(dot(10))
  })

  it("build labels every split, rotating each sample by its domain; select keeps some domains", () => {
    const n = 60
    const x = new Float32Array(n * S * S)
    for (let i = 0; i < n; i++) x.set(dot(10), i * S * S)
    const split = { x, y: Int32Array.from({ length: n }, (_, i) => i % 3), n }
    const ds = {
      name: "dots",
      classes: 3,
      shape: [S, S, 1] as const,
      train: split,
      validation: split,
      test: split,
    }
    const before = tf.memory().numTensors
    const built = Effect.runSync(Domains.build(ds, Domain.rotated([0, 90]), 3))
    expect(tf.memory().numTensors).toBe(before)
    for (const name of ["train", "validation", "test"] as const) {
      const d = built.domains[name]
      expect(d.length).toBe(n)
      expect(d.filter((v) => v === 1).length).toBe(30)
      const s = name === "validation" ? built.dataset.validation! : built.dataset[name]
      for (let i = 0; i < n; i++) {
        const [r, c] = centroid(s.x.subarray(i * S * S, (i + 1) * S * S))
        if (d[i] === 0) expect([r, c]).toEqual([C, C + 10])
        else expect([Math.round(r), Math.round(c)]).toEqual([C - 10, C])
      }
    }
    // the splits are dealt independently
    expect(built.domains.train).not.toEqual(built.domains.test)
    const held = Domains.select(built.dataset.test, built.domains.test, [1])
    expect(held.split.n).toBe(30)
    expect([...held.domains].every((v) => v === 1)).toBe(true)
    for (let i = 0; i < held.split.n; i++)
      expect(Math.round(centroid(held.split.x.subarray(i * S * S, (i + 1) * S * S))[0])).toBe(C - 10)
  })
})
