import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-backend-cpu"
import { Result, Schema } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { Codec, Step, Validate, Watermark } from "../../../dsl/index.js"
import * as Watermarking from "../../../src/compile/watermark.js"
import * as WatermarkProbe from "../../../src/probes/Watermark.js"

beforeAll(async () => {
  tf.env().set("IS_TEST", false)
  await tf.setBackend("cpu")
})

/** Deterministic pseudo-random images. */
const images = (n: number, seed: number) => {
  const out = new Float32Array(n * 784)
  let s = seed >>> 0 || 1
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = s / 4294967296
  }
  return out
}

describe("watermark transform", () => {
  it("the key vector is a deterministic unit vector", () => {
    const w = Watermarking.keyVector(11, 784)
    expect(w.reduce((s, v) => s + v * v, 0)).toBeCloseTo(1, 5)
    expect(Array.from(Watermarking.keyVector(11, 784))).toEqual(Array.from(w))
    expect(Watermarking.keyVector(12, 784)[0]).not.toBe(w[0])
  })

  it("probabilities still sum to 1 and stay in (0, 1); ε = 0 is the identity", () => {
    const key = Watermark.make({ seed: 3, epsilon: 0.1 })
    const x = tf.tensor4d(images(64, 1), [64, 28, 28, 1])
    const logits = tf.mul(tf.randomNormal([64, 10], 0, 1, "float32", 5), 3) as tf.Tensor2D
    const p = tf.exp(Watermarking.perturb(key, logits, x))
    const sums = tf.sum(p, 1).arraySync() as Array<number>
    for (const s of sums) expect(s).toBeCloseTo(1, 5)
    const v = p.dataSync()
    for (const q of v) {
      expect(q).toBeGreaterThan(0)
      expect(q).toBeLessThan(1)
    }
    const same = tf.exp(Watermarking.perturb(Watermark.make({ seed: 3, epsilon: 0 }), logits, x))
    expect(tf.max(tf.abs(tf.sub(same, tf.softmax(logits)))).dataSync()[0]).toBeLessThan(1e-6)
    tf.dispose([x, logits, p, same])
  })

  it("the top class stays top when its margin exceeds 2ε", () => {
    const key = Watermark.make({ seed: 4, epsilon: 0.02 })
    const x = tf.tensor4d(images(200, 2), [200, 28, 28, 1])
    const logits = tf.mul(tf.randomNormal([200, 10], 0, 1, "float32", 9), 4) as tf.Tensor2D
    const p = tf.softmax(logits)
    const pt = tf.exp(Watermarking.perturb(key, logits, x))
    const pr = p.arraySync() as Array<Array<number>>
    const before = tf.argMax(p, 1).dataSync()
    const after = tf.argMax(pt, 1).dataSync()
    let checked = 0
    pr.forEach((row, i) => {
      const sorted = [...row].sort((a, b) => b - a)
      if (sorted[0]! - sorted[1]! > 2 * key.epsilon) {
        expect(after[i]).toBe(before[i])
        checked++
      }
    })
    expect(checked).toBeGreaterThan(100)
    tf.dispose([x, logits, p, pt])
  })

  it("the perturbation oscillates at frequency k in g(x)", () => {
    const key = Watermark.make({ seed: 5, frequency: 6 * Math.PI, epsilon: 0.05 })
    const n = 400
    const g = tf.linspace(0, 1, n) as tf.Tensor1D
    // a fixed, confident teacher: the top class gains ε(1 + cos kg), normalised
    const p = tf.tile(tf.tensor2d([[0.82, ...Array(9).fill(0.02)]]), [n, 1]) as tf.Tensor2D
    const pt = Watermarking.perturbProbabilities(key, p, g)
    const top = Array.from(tf.slice(pt, [0, 0], [n, 1]).dataSync())
    const gs = Array.from(g.dataSync())
    const detection = WatermarkProbe.test(gs, top, key.frequency)
    expect(detection.pValue).toBeLessThan(1e-6)
    // the peak is at k, not at a neighbour
    const best = detection.spectrum.reduce((a, b) => (b.power > a.power ? b : a))
    expect(best.frequency).toBeCloseTo(key.frequency, 6)
    // monotone in cos(kg): maxima where kg ≡ 0 (mod 2π)
    const at = (t: number) => top[Math.round(t * (n - 1))]!
    expect(at(0)).toBeGreaterThan(at(1 / 6))
    expect(at(1 / 3)).toBeGreaterThan(at(1 / 6))
    tf.dispose([g, p, pt])
  })

  it("calibration centres the projection: g is spread over [0, 1] on the calibration data", () => {
    const data = images(500, 7)
    const key = Watermarking.calibrate(Watermark.make({ seed: 6 }), data, [28, 28, 1])
    const g = WatermarkProbe.phases(key, { x: data, y: new Int32Array(500), n: 500 }, [28, 28, 1])
    const mean = g.reduce((s, v) => s + v, 0) / g.length
    expect(mean).toBeCloseTo(0.5, 1)
    expect(g.filter((v) => v < 0.25).length).toBeGreaterThan(75)
    expect(g.filter((v) => v > 0.75).length).toBeGreaterThan(75)
  })

  it("is a serialisable, validated option of a frozen forward", () => {
    const key = Watermark.make({ seed: 2, epsilon: 0.1 })
    const step = Step.start.pipe(Step.forward("teacher", { as: "t", mode: "frozen", watermark: key }))
    expect(step.stages[0]).toMatchObject({ _tag: "Forward", watermark: key })
    const json = JSON.parse(JSON.stringify(Schema.encodeSync(Step.schema)(step)))
    expect(Schema.decodeUnknownSync(Step.schema)(json)).toEqual(step)
    expect(
      Watermark.problems(Watermark.make({ seed: 1.5, epsilon: 2, frequency: 0 })).map((p) => p.field),
    ).toEqual(["seed", "frequency", "epsilon"])
    expect(Step.describe(step)[0]).toContain("watermark(key 2")
    void Codec
    void Validate
    void Result
  })
})
