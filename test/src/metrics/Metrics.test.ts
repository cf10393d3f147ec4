import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { ShapeError } from "../../../src/errors.js"
import * as Metrics from "../../../src/metrics/Metrics.js"

const f32 = (...xs: Array<number>) => new Float32Array(xs)
const i32 = (...xs: Array<number>) => new Int32Array(xs)

describe("hand-computed values", () => {
  // 3 samples, 3 classes
  const logits = f32(2, 1, 0, 0, 0, 3, 1, 1, 1)
  const labels = i32(0, 1, 2)

  it("accuracy counts arg-max hits, first index on ties", () => {
    // row 0 → 0 (hit), row 1 → 2 (miss), row 2 → tie → 0 (miss)
    expect(Metrics.accuracy(logits, labels, 3)).toBeCloseTo(1 / 3, 12)
    expect(Array.from(Metrics.predictions(logits, 3))).toEqual([0, 2, 0])
  })

  it("nll is the mean of -log softmax[label]", () => {
    const lse = (xs: Array<number>) => Math.log(xs.reduce((s, x) => s + Math.exp(x), 0))
    const expected = (lse([2, 1, 0]) - 2 + (lse([0, 0, 3]) - 0) + (lse([1, 1, 1]) - 1)) / 3
    expect(Metrics.nll(logits, labels, 3)).toBeCloseTo(expected, 6)
    expect(Metrics.nll(f32(0, 0), i32(1), 2)).toBeCloseTo(Math.LN2, 12)
  })

  it("nll is stable for huge logits", () => {
    expect(Metrics.nll(new Float64Array([1e30, 0]), i32(1), 2)).toBe(1e30)
    expect(Metrics.nll(f32(1000, 0), i32(0), 2)).toBe(0)
  })

  it("ece with 15 bins matches a hand computation", () => {
    // confidences: row0 = e^2/(e^2+e+1) ≈ 0.6652 (bin 10, hit); row1 = e^3/(e^3+2) ≈ 0.9094 (bin 13, miss);
    // row2 = 1/3 (bin 4, miss)
    const c0 = Math.exp(2) / (Math.exp(2) + Math.exp(1) + 1)
    const c1 = Math.exp(3) / (Math.exp(3) + 2)
    const c2 = 1 / 3
    const expected = (Math.abs(1 - c0) + Math.abs(0 - c1) + Math.abs(0 - c2)) / 3
    expect(Metrics.ece(logits, labels, 3)).toBeCloseTo(expected, 6)
  })

  it("ece pools rows of one bin before taking the gap", () => {
    // two rows of confidence 0.7 (same bin), one right one wrong: |0.5 - 0.7| = 0.2
    const z = Math.log(0.7 / 0.3)
    expect(Metrics.ece(f32(0, z, 0, z), i32(1, 0), 2)).toBeCloseTo(0.2, 6)
    // with 1 bin everything pools: accuracy 0.5, mean confidence 0.7
    expect(Metrics.ece(f32(0, z, 0, z), i32(1, 0), 2, 1)).toBeCloseTo(0.2, 6)
  })

  it("agreement and confusion", () => {
    expect(Metrics.agreement(f32(1, 0, 0, 1), f32(5, 1, 3, 2), 2)).toBe(0.5)
    expect(Metrics.confusion(logits, labels, 3)).toEqual([
      [1, 0, 0],
      [0, 0, 1],
      [1, 0, 0],
    ])
  })

  it("perExit infers classes and keys results like the input", () => {
    const labels2 = i32(1, 0)
    expect(Metrics.perExit({ block1: f32(1, 0, 1, 0), final: f32(0, 1, 1, 0) }, labels2)).toEqual({
      block1: 0.5,
      final: 1,
    })
  })

  it("averageProbs and ensemble agree, and ensemble is usable as logits", () => {
    const a = f32(0, 0)
    const b = f32(0, 40)
    const p = Metrics.averageProbs([a, b], 2)
    expect(p[0]).toBeCloseTo(0.25, 6)
    expect(p[1]).toBeCloseTo(0.75, 6)
    const e = Metrics.ensemble([a, b], 2)
    const back = Metrics.softmax(e, 2)
    expect(back[0]).toBeCloseTo(0.25, 6)
    expect(Metrics.nll(e, i32(1), 2)).toBeCloseTo(-Math.log(0.75), 6)
    // very confident members do not underflow to -Infinity
    const sharp = Metrics.ensemble([f32(0, 200), f32(0, 300)], 2)
    expect(Number.isFinite(sharp[0]!)).toBe(true)
    expect(sharp[0]).toBeCloseTo(-200 + Math.log(0.5), 3)
  })

  it("softmax honours temperature", () => {
    const s = Metrics.softmax(f32(0, Math.log(4)), 2, 2)
    expect(s[1]).toBeCloseTo(2 / 3, 6)
  })

  it("empty inputs give NaN, not a throw", () => {
    expect(Metrics.accuracy(f32(), i32(), 10)).toBeNaN()
    expect(new Metrics.Accumulator(10).result()).toEqual({
      accuracy: Number.NaN,
      nll: Number.NaN,
      ece: Number.NaN,
      n: 0,
    })
  })

  it("rejects inconsistent shapes with a ShapeError", () => {
    expect(() => Metrics.accuracy(f32(1, 2, 3), i32(0), 2)).toThrow(ShapeError)
    expect(() => Metrics.accuracy(f32(1, 2), i32(0, 1), 2)).toThrow(/2 labels for 1 rows/)
    expect(() => Metrics.nll(f32(1, 2), i32(2), 2)).toThrow(/label 2 is not a class index/)
    expect(() => Metrics.agreement(f32(1, 2), f32(1, 2, 3, 4), 2)).toThrow(ShapeError)
    expect(() => Metrics.averageProbs([], 2)).toThrow(ShapeError)
    expect(() => Metrics.perExit({ a: f32(1, 2, 3) }, i32(0, 1))).toThrow(ShapeError)
    expect(() => new Metrics.Accumulator(0)).toThrow(ShapeError)
  })
})

// ---------------------------------------------------------------------------------------------
// properties

/** Logits on a 1/8 grid so that shifting by an integer is exact in float32. */
const batch = fc
  .record({ classes: fc.integer({ min: 2, max: 6 }), n: fc.integer({ min: 1, max: 40 }) })
  .chain(({ classes, n }) =>
    fc.record({
      classes: fc.constant(classes),
      logits: fc.array(fc.integer({ min: -160, max: 160 }), {
        minLength: n * classes,
        maxLength: n * classes,
      }),
      labels: fc.array(fc.integer({ min: 0, max: classes - 1 }), { minLength: n, maxLength: n }),
      shift: fc.integer({ min: -100, max: 100 }),
    }),
  )
  .map(({ classes, logits, labels, shift }) => ({
    classes,
    logits: Float32Array.from(logits, (v) => v / 8),
    labels: Int32Array.from(labels),
    shift,
  }))

const params = { seed: 20240601, numRuns: 200 }

describe("properties", () => {
  it("accuracy and ECE lie in [0, 1]; NLL is non-negative", () => {
    fc.assert(
      fc.property(batch, ({ classes, logits, labels }) => {
        const acc = Metrics.accuracy(logits, labels, classes)
        const e = Metrics.ece(logits, labels, classes)
        return acc >= 0 && acc <= 1 && e >= 0 && e <= 1 + 1e-12 && Metrics.nll(logits, labels, classes) >= 0
      }),
      params,
    )
  })

  it("all metrics are invariant to adding a constant to each row", () => {
    fc.assert(
      fc.property(batch, ({ classes, logits, labels, shift }) => {
        // a different shift per row
        const shifted = logits.map((v, j) => v + shift * (1 + (Math.floor(j / classes) % 3)))
        const a = new Metrics.Accumulator(classes).add(logits, labels).result()
        const b = new Metrics.Accumulator(classes).add(shifted, labels).result()
        expect(b.accuracy).toBe(a.accuracy)
        expect(b.ece).toBe(a.ece)
        expect(b.nll).toBeCloseTo(a.nll, 9)
        expect(Metrics.agreement(logits, shifted, classes)).toBe(1)
      }),
      params,
    )
  })

  it("ECE is 0 on perfectly calibrated constructed data", () => {
    // groups of m rows at confidence a/m (via 2..K classes), exactly a of them right
    const group = fc
      .integer({ min: 3, max: 12 })
      .chain((m) =>
        fc.record({ m: fc.constant(m), a: fc.integer({ min: Math.floor(m / 2) + 1, max: m - 1 }) }),
      )
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 5 }),
        fc.array(group, { minLength: 1, maxLength: 6 }),
        (classes, gs) => {
          const logits: Array<number> = []
          const labels: Array<number> = []
          for (const { m, a } of gs) {
            const p = a / m
            const rest = (1 - p) / (classes - 1)
            if (rest >= p) continue
            for (let r = 0; r < m; r++) {
              logits.push(Math.log(p), ...new Array<number>(classes - 1).fill(Math.log(rest)))
              labels.push(r < a ? 0 : 1)
            }
          }
          if (labels.length === 0) return
          expect(Metrics.ece(Float64Array.from(logits), labels, classes)).toBeLessThan(1e-9)
        },
      ),
      params,
    )
    // all right and (numerically) certain
    expect(Metrics.ece(f32(0, 100, 100, 0), i32(1, 0), 2)).toBe(0)
  })

  it("the Accumulator over batches equals the one-shot metrics", () => {
    fc.assert(
      fc.property(batch, fc.integer({ min: 1, max: 7 }), ({ classes, logits, labels }, cut) => {
        const n = labels.length
        const acc = new Metrics.Accumulator(classes)
        for (let i = 0; i < n; i += cut) {
          acc.add(logits.subarray(i * classes, (i + cut) * classes), labels.subarray(i, i + cut))
        }
        const r = acc.result()
        expect(r.n).toBe(n)
        expect(r.accuracy).toBe(Metrics.accuracy(logits, labels, classes))
        expect(r.nll).toBeCloseTo(Metrics.nll(logits, labels, classes), 9)
        expect(r.ece).toBeCloseTo(Metrics.ece(logits, labels, classes), 12)
      }),
      params,
    )
  })

  it("softmax rows sum to 1 and ensemble of one model is its log-softmax", () => {
    fc.assert(
      fc.property(batch, ({ classes, logits }) => {
        const p = Metrics.softmax(logits, classes)
        const e = Metrics.softmax(Metrics.ensemble([logits], classes), classes)
        for (let i = 0; i < p.length / classes; i++) {
          let s = 0
          for (let k = 0; k < classes; k++) {
            s += p[i * classes + k]!
            expect(e[i * classes + k]).toBeCloseTo(p[i * classes + k]!, 5)
          }
          expect(s).toBeCloseTo(1, 5)
        }
      }),
      { ...params, numRuns: 50 },
    )
  })
})
