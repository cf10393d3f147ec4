import { readFileSync } from "node:fs"
import * as effect from "effect"
import { Arbitrary, Effect, Result, Schema } from "effect"
import * as fc from "fast-check"
import ts from "typescript"
import { describe, expect, it } from "vitest"
import * as Ramp from "../../dsl/Ramp.js"

fc.configureGlobal({ seed: 20240611, numRuns: 200 })

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const noNegZero = (x: number): number => (Object.is(x, -0) ? 0 : x)
/** Moderate finite doubles: wide enough to exercise the maths, small enough not to overflow. */
const real = fc.double({ min: -1e3, max: 1e3, noNaN: true, noDefaultInfinity: true }).map(noNegZero)
const pos = fc.double({ min: 1e-3, max: 1e3, noNaN: true, noDefaultInfinity: true })
const nonNeg = fc.double({ min: 0, max: 1e3, noNaN: true, noDefaultInfinity: true }).map(noNegZero)
const unit = fc.constantFrom<Ramp.Unit>("progress", "step", "epoch")
const sortedReals = (minLength: number) =>
  fc.array(real, { minLength, maxLength: 5 }).map((xs) => [...xs].sort((a, b) => a - b))

const leafArbs = {
  constant: real.map(Ramp.constant),
  linear: fc
    .record({ from: real, to: real, start: real, width: pos, unit })
    .map(({ width, start, ...r }) => Ramp.linear({ ...r, start, end: start + width })),
  cosine: fc
    .record({ from: real, to: real, start: real, width: pos, unit })
    .map(({ width, start, ...r }) => Ramp.cosine({ ...r, start, end: start + width })),
  exponential: fc.record({ from: real, rate: pos, every: pos, unit }).map(Ramp.exponential),
  stepDecay: fc.record({ from: real, factor: real, every: pos, unit }).map(Ramp.stepDecay),
  multiStep: fc.record({ from: real, factor: real, milestones: sortedReals(0), unit }).map(Ramp.multiStep),
  cyclical: fc
    .record({
      shape: fc.constantFrom<"triangle" | "cosine">("triangle", "cosine"),
      a: real,
      b: real,
      period: pos,
      phase: real,
      unit,
    })
    .map(({ a, b, ...r }) => Ramp.cyclical({ ...r, min: Math.min(a, b), max: Math.max(a, b) })),
  piecewise: fc
    .record({
      ts: sortedReals(1),
      vs: fc.array(real, { minLength: 5, maxLength: 5 }),
      unit,
      interpolate: fc.constantFrom<"linear" | "hold">("linear", "hold"),
    })
    .map(({ ts, vs, ...r }) => Ramp.piecewise({ ...r, points: ts.map((t, i) => [t, vs[i]!] as const) })),
  arctan: fc.record({ max: real, v: pos, unit }).map(Ramp.arctan),
}

const { num: numArb, ramp: rampArb } = fc.letrec<{ num: Ramp.Num; ramp: Ramp.Ramp }>((tie) => ({
  num: fc.oneof({ depthSize: "small", withCrossShrink: true }, real, tie("ramp")),
  ramp: fc.oneof(
    { depthSize: "small", maxDepth: 3, withCrossShrink: true },
    ...Object.values(leafArbs),
    fc
      .record({ from: real, length: pos, unit, to: tie("num") })
      .map(({ length, unit, ...r }) => Ramp.warmup({ ...r, length, unit })),
    fc
      .record({
        bounded: fc.array(fc.record({ ramp: tie("num"), gap: pos }), { maxLength: 3 }),
        last: tie("num"),
        unit,
      })
      .map(({ bounded, last, unit }) => {
        let until = 0
        const segments = bounded.map((s) => ({ ramp: s.ramp, until: (until += s.gap) }))
        return Ramp.sequence([...segments, { ramp: last }], { unit })
      }),
    fc.tuple(tie("num"), tie("num")).map(([a, b]) => Ramp.add(a, b)),
    fc.tuple(tie("num"), tie("num")).map(([a, b]) => Ramp.mul(a, b)),
    fc.tuple(tie("num"), real).map(([a, k]) => Ramp.scale(a, k)),
    fc
      .tuple(tie("num"), fc.option(real, { nil: undefined }), fc.option(real, { nil: undefined }))
      .map(([a, lo, hi]) => {
        const [min, max] = lo !== undefined && hi !== undefined && lo > hi ? [hi, lo] : [lo, hi]
        return Ramp.clamp(a, {
          ...(min === undefined ? {} : { min }),
          ...(max === undefined ? {} : { max }),
        })
      }),
    fc.tuple(tie("num"), tie("num")).map(([a, b]) => Ramp.min(a, b)),
    fc.tuple(tie("num"), tie("num")).map(([a, b]) => Ramp.max(a, b)),
  ),
}))

/** A consistent clock of some phase geometry. */
const clockArb = fc
  .record({
    spe: fc.integer({ min: 1, max: 1000 }),
    total: fc.integer({ min: 1, max: 100_000 }),
    f: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ spe, total, f }) =>
    Ramp.clock({ step: Math.round(f * total), stepsPerEpoch: spe, totalSteps: total }),
  )

/** A clock whose `unit` field reads `t` (other fields scaled consistently). */
const at = (unit: Ramp.Unit, t: number): Ramp.Clock => {
  // a fixed geometry: 100 steps per epoch, 10 000 steps in the phase
  const step = unit === "step" ? t : unit === "epoch" ? t * 100 : t * 10_000
  return { step, epoch: step / 100, progress: step / 10_000, [unit]: t }
}

const close = (a: number, b: number, rel = 1e-9): boolean =>
  Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b))

const ev = Ramp.evaluate

// ---------------------------------------------------------------------------------------------
// Laws
// ---------------------------------------------------------------------------------------------

describe("Ramp — numbers and constants", () => {
  it("a plain number evaluates to itself, at any clock", () => {
    fc.assert(
      fc.property(
        fc.double({ noNaN: true }),
        clockArb,
        (x, c) => Object.is(ev(x, c), x) && Object.is(ev(c)(x), x),
      ),
    )
  })

  it("constant(v) evaluates to v", () => {
    fc.assert(fc.property(real, clockArb, (v, c) => ev(Ramp.constant(v), c) === v))
  })

  it("evaluate is dual: evaluate(num, clock) = evaluate(clock)(num)", () => {
    fc.assert(fc.property(rampArb, clockArb, (r, c) => Object.is(ev(r, c), ev(c)(r))))
  })

  it("isConstant ⇒ the value does not depend on the clock", () => {
    fc.assert(
      fc.property(
        numArb,
        clockArb,
        clockArb,
        (n, c1, c2) => !Ramp.isConstant(n) || Object.is(ev(n, c1), ev(n, c2)),
      ),
    )
    expect(Ramp.isConstant(1)).toBe(true)
    expect(Ramp.isConstant(Ramp.constant(1))).toBe(true)
    expect(Ramp.isConstant(Ramp.add(1, Ramp.scale(Ramp.constant(2), 3)))).toBe(true)
    expect(Ramp.isConstant(Ramp.linear({ from: 0, to: 1 }))).toBe(false)
    expect(Ramp.isConstant(Ramp.add(1, Ramp.linear({ from: 0, to: 1 })))).toBe(false)
  })

  it("isRamp recognises ramps and nothing else", () => {
    fc.assert(fc.property(rampArb, (r) => Ramp.isRamp(r)))
    for (const u of [1, "x", null, undefined, {}, { _tag: "Nope" }, [1]]) expect(Ramp.isRamp(u)).toBe(false)
  })

  it("constructors return frozen values", () => {
    fc.assert(
      fc.property(rampArb, (r) => {
        expect(Object.isFrozen(r)).toBe(true)
        if (r._tag === "MultiStep") expect(Object.isFrozen(r.milestones)).toBe(true)
        if (r._tag === "Piecewise")
          expect(r.points.every(Object.isFrozen) && Object.isFrozen(r.points)).toBe(true)
        if (r._tag === "Sequence")
          expect(r.segments.every(Object.isFrozen) && Object.isFrozen(r.segments)).toBe(true)
      }),
    )
  })
})

describe("Ramp — endpoints and monotonicity", () => {
  const linLike = fc.record({ from: real, to: real, start: real, width: pos, unit })

  it("linear and cosine hit from at start (and before) and to at end (and after)", () => {
    fc.assert(
      fc.property(linLike, pos, ({ width, start, unit, from, to }, d) => {
        const end = start + width
        for (const make of [Ramp.linear, Ramp.cosine]) {
          const r = make({ from, to, start, end, unit })
          expect(ev(r, at(unit, start))).toBe(from)
          expect(ev(r, at(unit, start - d))).toBe(from)
          expect(ev(r, at(unit, end))).toBe(to)
          expect(ev(r, at(unit, end + d))).toBe(to)
        }
      }),
    )
  })

  it("linear and cosine are monotone between from and to, and stay within them", () => {
    fc.assert(
      fc.property(
        linLike,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        ({ width, start, unit, from, to }, p, q) => {
          const end = start + width
          const [t1, t2] = [start + Math.min(p, q) * width, start + Math.max(p, q) * width]
          for (const make of [Ramp.linear, Ramp.cosine]) {
            const r = make({ from, to, start, end, unit })
            const [v1, v2] = [ev(r, at(unit, t1)), ev(r, at(unit, t2))]
            const eps = 1e-9 * Math.max(1, Math.abs(from), Math.abs(to))
            if (to >= from) expect(v2).toBeGreaterThanOrEqual(v1 - eps)
            else expect(v2).toBeLessThanOrEqual(v1 + eps)
            expect(v1).toBeGreaterThanOrEqual(Math.min(from, to) - eps)
            expect(v1).toBeLessThanOrEqual(Math.max(from, to) + eps)
          }
        },
      ),
    )
  })

  it("linear is the straight line and cosine the half-cosine between the endpoints", () => {
    const c = { step: 0, epoch: 0, progress: 0.25 }
    expect(ev(Ramp.linear({ from: 1, to: 0 }), c)).toBeCloseTo(0.75, 12)
    expect(ev(Ramp.cosine({ from: 1, to: 0 }), c)).toBeCloseTo((1 + Math.cos(Math.PI / 4)) / 2, 12)
    expect(ev(Ramp.cosine({ from: 1, to: 0 }), { ...c, progress: 0.5 })).toBeCloseTo(0.5, 12)
  })

  it("exponential, stepDecay and multiStep start at from", () => {
    fc.assert(
      fc.property(real, pos, pos, real, sortedReals(0), unit, (from, rate, every, factor, ms, unit) => {
        const c0 = at(unit, 0)
        expect(ev(Ramp.exponential({ from, rate, every, unit }), c0)).toBe(from)
        expect(ev(Ramp.stepDecay({ from, factor, every, unit }), c0)).toBe(from)
        const positive = ms.filter((m) => m > 0)
        expect(ev(Ramp.multiStep({ from, factor, milestones: positive, unit }), c0)).toBe(from)
      }),
    )
  })

  it("exponential follows from·rate^(t/every); stepDecay and multiStep jump exactly at their boundaries", () => {
    expect(ev(Ramp.exponential({ from: 2, rate: 0.5, every: 10 }), at("step", 20))).toBeCloseTo(0.5, 12)
    const sd = Ramp.stepDecay({ from: 1, factor: 0.1, every: 30 })
    expect(ev(sd, at("epoch", 29.999))).toBe(1)
    expect(ev(sd, at("epoch", 30))).toBeCloseTo(0.1, 12)
    expect(ev(sd, at("epoch", 65))).toBeCloseTo(0.01, 12)
    const ms = Ramp.multiStep({ from: 1, factor: 0.5, milestones: [3, 7, 7] })
    expect([0, 2.99, 3, 6.9, 7, 100].map((e) => ev(ms, at("epoch", e)))).toEqual([
      1, 1, 0.5, 0.5, 0.125, 0.125,
    ])
  })

  it("decays are non-increasing for from > 0 and rate/factor in (0, 1)", () => {
    const shrink = fc.double({ min: 1e-3, max: 0.999, noNaN: true })
    fc.assert(
      fc.property(
        pos,
        shrink,
        pos,
        sortedReals(0),
        unit,
        nonNeg,
        nonNeg,
        (from, rate, every, ms, unit, a, b) => {
          const [t1, t2] = [Math.min(a, b), Math.max(a, b)]
          for (const r of [
            Ramp.exponential({ from, rate, every, unit }),
            Ramp.stepDecay({ from, factor: rate, every, unit }),
            Ramp.multiStep({ from, factor: rate, milestones: ms, unit }),
          ]) {
            expect(ev(r, at(unit, t2))).toBeLessThanOrEqual(ev(r, at(unit, t1)))
          }
        },
      ),
    )
  })

  it("arctan is 0 at 0, max/2 at v, rises monotonically and stays below max", () => {
    fc.assert(
      fc.property(pos, pos, unit, nonNeg, nonNeg, (max, v, unit, a, b) => {
        const r = Ramp.arctan({ max, v, unit })
        expect(ev(r, at(unit, 0))).toBe(0)
        expect(close(ev(r, at(unit, v)), max / 2)).toBe(true)
        const [t1, t2] = [Math.min(a, b), Math.max(a, b)]
        expect(ev(r, at(unit, t2))).toBeGreaterThanOrEqual(ev(r, at(unit, t1)))
        expect(ev(r, at(unit, t2))).toBeLessThanOrEqual(max)
      }),
    )
  })
})

describe("Ramp — warmup", () => {
  it("starts at from, reaches the target at its end, then is the target", () => {
    fc.assert(
      fc.property(real, pos, unit, numArb, pos, (from, length, unit, to, after) => {
        const r = Ramp.warmup({ from, length, unit, to })
        expect(ev(r, at(unit, 0))).toBe(from)
        expect(ev(r, at(unit, length))).toBe(ev(to, at(unit, length)))
        expect(Object.is(ev(r, at(unit, length + after)), ev(to, at(unit, length + after)))).toBe(true)
      }),
    )
  })

  it("is continuous at the boundary (towards a continuous target)", () => {
    fc.assert(
      fc.property(real, pos, unit, real, real, (from, length, unit, a, b) => {
        const to = Ramp.cosine({ from: a, to: b, start: 0, end: length * 3, unit })
        const r = Ramp.warmup({ from, length, unit, to })
        const eps = length * 1e-7
        const scale = Math.max(1, Math.abs(from), Math.abs(a), Math.abs(b))
        expect(Math.abs(ev(r, at(unit, length - eps)) - ev(r, at(unit, length)))).toBeLessThan(1e-5 * scale)
      }),
    )
  })

  it("rises linearly and monotonically towards a constant target above from", () => {
    fc.assert(
      fc.property(
        real,
        pos,
        pos,
        unit,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (from, gap, length, unit, p, q) => {
          const r = Ramp.warmup({ from, length, unit, to: from + gap })
          const [t1, t2] = [Math.min(p, q) * length, Math.max(p, q) * length]
          expect(ev(r, at(unit, t2))).toBeGreaterThanOrEqual(ev(r, at(unit, t1)))
          expect(close(ev(r, at(unit, t1)), from + gap * (t1 / length))).toBe(true)
        },
      ),
    )
  })

  it("aims at the target's value at the warmup end, even when the target reads another unit", () => {
    // 100 steps per epoch, 10 000 steps: warmup over 500 steps towards a cosine over progress
    const to = Ramp.cosine({ from: 1, to: 0 })
    const r = Ramp.warmup({ steps: 500, to })
    const target = ev(to, at("progress", 0.05))
    expect(ev(r, at("step", 250))).toBeCloseTo(target / 2, 12)
    expect(ev(r, at("step", 500))).toBe(target)
    expect(Ramp.warmup({ epochs: 2, to: 1 }).unit).toBe("epoch")
    expect(Ramp.warmup({ length: 0.1, to: 1 }).unit).toBe("progress")
    // biome-ignore lint/suspicious/noThenProperty: the `then` alias is part of the constructor's contract
    expect(Ramp.warmup({ steps: 10, then: 1 })).toEqual(Ramp.warmup({ steps: 10, to: 1 }))
  })

  it("warmupCosine: 0 at the start, peak at the end of warmup, end at the end", () => {
    fc.assert(
      fc.property(pos, fc.double({ min: 0.01, max: 0.5, noNaN: true }), real, (peak, w, end) => {
        const r = Ramp.warmupCosine({ peak, warmup: w, end })
        expect(ev(r, at("progress", 0))).toBe(0)
        expect(ev(r, at("progress", w))).toBe(peak)
        expect(ev(r, at("progress", 1))).toBe(end)
        expect(close(ev(r, at("progress", w / 2)), peak / 2)).toBe(true)
      }),
    )
  })
})

describe("Ramp — cyclical", () => {
  const cyc = fc.record({
    shape: fc.constantFrom<"triangle" | "cosine">("triangle", "cosine"),
    a: real,
    b: real,
    period: pos,
    phase: real,
    unit,
  })
  const make = ({
    a,
    b,
    ...r
  }: {
    a: number
    b: number
    shape: "triangle" | "cosine"
    period: number
    phase: number
    unit: Ramp.Unit
  }) => Ramp.cyclical({ ...r, min: Math.min(a, b), max: Math.max(a, b) })
  const tol = (r: Ramp.Cyclical) => 1e-6 * Math.max(1, Math.abs(r.min), Math.abs(r.max))

  it("is periodic: f(t + period) = f(t)", () => {
    fc.assert(
      fc.property(cyc, nonNeg, fc.integer({ min: 1, max: 5 }), (o, t, k) => {
        const r = make(o)
        expect(Math.abs(ev(r, at(r.unit, t + k * r.period)) - ev(r, at(r.unit, t)))).toBeLessThan(tol(r))
      }),
    )
  })

  it("stays within [min, max]", () => {
    fc.assert(
      fc.property(cyc, nonNeg, (o, t) => {
        const r = make(o)
        const v = ev(r, at(r.unit, t))
        expect(v).toBeGreaterThanOrEqual(r.min - tol(r))
        expect(v).toBeLessThanOrEqual(r.max + tol(r))
      }),
    )
  })

  it("phase shifts the cycle: f_phase(t) = f_0(t + phase)", () => {
    fc.assert(
      fc.property(cyc, nonNeg, (o, t) => {
        const r = make(o)
        const r0 = Ramp.cyclical({ ...r, phase: 0 })
        expect(Math.abs(ev(r, at(r.unit, t)) - ev(r0, at(r.unit, t + r.phase)))).toBeLessThan(tol(r))
      }),
    )
  })

  it("starts at min, peaks at max mid-period (both shapes)", () => {
    fc.assert(
      fc.property(cyc, (o) => {
        const r = Ramp.cyclical({ ...make(o), phase: 0 })
        expect(ev(r, at(r.unit, 0))).toBe(r.min)
        expect(Math.abs(ev(r, at(r.unit, r.period / 2)) - r.max)).toBeLessThan(tol(r))
      }),
    )
    const tri = Ramp.cyclical({ shape: "triangle", min: 0, max: 1, period: 8 })
    expect([0, 2, 4, 6, 8, 10].map((s) => ev(tri, at("step", s)))).toEqual([0, 0.5, 1, 0.5, 0, 0.5])
  })
})

describe("Ramp — piecewise, easyHardEasy, sequence", () => {
  it("piecewise passes through its points and holds beyond the ends", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(real, { minLength: 1, maxLength: 6 }),
        fc.array(real, { minLength: 6, maxLength: 6 }),
        unit,
        fc.constantFrom<"linear" | "hold">("linear", "hold"),
        pos,
        (ts, vs, unit, interpolate, d) => {
          const sorted = [...ts].sort((a, b) => a - b)
          const points = sorted.map((t, i) => [t, vs[i]!] as const)
          const r = Ramp.piecewise({ points, unit, interpolate })
          for (const [t, v] of points) expect(ev(r, at(unit, t))).toBe(v)
          expect(ev(r, at(unit, sorted[0]! - d))).toBe(points[0]![1])
          expect(ev(r, at(unit, sorted.at(-1)! + d))).toBe(points.at(-1)![1])
        },
      ),
    )
    const p = Ramp.piecewise({
      points: [
        [0, 0],
        [1, 10],
      ],
      unit: "epoch",
    })
    expect(ev(p, at("epoch", 0.3))).toBeCloseTo(3, 12)
    const h = Ramp.piecewise({
      points: [
        [0, 0],
        [1, 10],
      ],
      unit: "epoch",
      interpolate: "hold",
    })
    expect(ev(h, at("epoch", 0.999))).toBe(0)
  })

  it("easyHardEasy starts at low, is high in the middle, returns to low at the end", () => {
    fc.assert(
      fc.property(
        real,
        real,
        fc.double({ min: 0.01, max: 0.45, noNaN: true }),
        fc.double({ min: 0.01, max: 0.45, noNaN: true }),
        (low, high, fall, rise) => {
          const r = Ramp.easyHardEasy({ low, high, fall, rise })
          expect(ev(r, at("progress", 0))).toBe(low)
          expect(ev(r, at("progress", fall))).toBe(high)
          expect(ev(r, at("progress", 0.5))).toBe(high)
          expect(ev(r, at("progress", 1 - rise))).toBe(high)
          expect(ev(r, at("progress", 1))).toBe(low)
          // in between: (1 − η)·high + η·low with η falling linearly
          const t = fall / 2
          expect(close(ev(r, at("progress", t)), 0.5 * high + 0.5 * low)).toBe(true)
        },
      ),
    )
    // the CFL default (fc = 4): falls over the first quarter, rises over the rest
    const cfl = Ramp.easyHardEasy({ low: 0, high: 1 })
    expect([0, 0.25, 0.625, 1].map((p) => ev(cfl, at("progress", p)))).toEqual([0, 1, 0.5, 0])
  })

  it("sequence runs each segment on a local clock, the last one forever", () => {
    fc.assert(
      fc.property(numArb, numArb, pos, unit, nonNeg, (a, b, until, unit, t) => {
        const r = Ramp.sequence([{ ramp: a, until }, { ramp: b }], { unit })
        if (t < until) expect(Object.is(ev(r, at(unit, t)), ev(a, at(unit, t)))).toBe(true)
        const v = ev(r, at(unit, until + t))
        const w = ev(b, at(unit, t))
        expect(Object.is(v, w) || close(v, w, 1e-6)).toBe(true)
      }),
    )
  })

  it("sequence segments compose: a warmup segment then a cosine segment", () => {
    const r = Ramp.sequence(
      [
        { ramp: Ramp.linear({ from: 0, to: 1, end: 100, unit: "step" }), until: 100 },
        { ramp: Ramp.cosine({ from: 1, to: 0, end: 900, unit: "step" }), until: 1000 },
        { ramp: 0 },
      ],
      { unit: "step" },
    )
    expect(ev(r, at("step", 0))).toBe(0)
    expect(ev(r, at("step", 50))).toBeCloseTo(0.5, 12)
    expect(ev(r, at("step", 100))).toBe(1)
    expect(ev(r, at("step", 550))).toBeCloseTo(0.5, 12)
    expect(ev(r, at("step", 5000))).toBe(0)
    // all clock fields move together: a segment reading epochs sees local epochs
    const e = Ramp.sequence([
      { ramp: 1, until: 0.5 },
      { ramp: Ramp.linear({ from: 0, to: 1, end: 10, unit: "epoch" }) },
    ])
    expect(ev(e, at("progress", 0.5))).toBe(0)
    expect(ev(e, at("progress", 0.55))).toBeCloseTo(0.5, 9) // 0.05 progress = 5 epochs
  })
})

describe("Ramp — arithmetic", () => {
  it("add, mul, scale, min, max act pointwise", () => {
    fc.assert(
      fc.property(numArb, numArb, real, clockArb, (a, b, k, c) => {
        const [x, y] = [ev(a, c), ev(b, c)]
        expect(Object.is(ev(Ramp.add(a, b), c), x + y)).toBe(true)
        expect(Object.is(ev(Ramp.mul(a, b), c), x * y)).toBe(true)
        expect(Object.is(ev(Ramp.scale(a, k), c), x * k)).toBe(true)
        expect(Object.is(ev(Ramp.min(a, b), c), Math.min(x, y))).toBe(true)
        expect(Object.is(ev(Ramp.max(a, b), c), Math.max(x, y))).toBe(true)
      }),
    )
  })

  it("clamp stays within its bounds and is the identity inside them", () => {
    fc.assert(
      fc.property(numArb, real, real, clockArb, (a, p, q, c) => {
        const [lo, hi] = [Math.min(p, q), Math.max(p, q)]
        const x = ev(a, c)
        const v = ev(Ramp.clamp(a, { min: lo, max: hi }), c)
        if (Number.isNaN(x)) return
        expect(v).toBeGreaterThanOrEqual(lo)
        expect(v).toBeLessThanOrEqual(hi)
        if (x >= lo && x <= hi) expect(v === x).toBe(true) // (up to the sign of zero)
        expect(ev(Ramp.clamp(a, { min: lo }), c)).toBe(Math.max(x, lo))
        expect(ev(Ramp.clamp(a, { max: hi }), c)).toBe(Math.min(x, hi))
        expect(ev(Ramp.clamp(a, {}), c)).toBe(x)
      }),
    )
  })

  it("combinators are dual (data-last forms build the same value)", () => {
    const a = Ramp.linear({ from: 0, to: 1 })
    expect(Ramp.add(2)(a)).toEqual(Ramp.add(a, 2))
    expect(Ramp.mul(2)(a)).toEqual(Ramp.mul(a, 2))
    expect(Ramp.scale(2)(a)).toEqual(Ramp.scale(a, 2))
    expect(Ramp.clamp({ max: 1 })(a)).toEqual(Ramp.clamp(a, { max: 1 }))
    expect(Ramp.min(2)(a)).toEqual(Ramp.min(a, 2))
    expect(Ramp.max(2)(a)).toEqual(Ramp.max(a, 2))
  })
})

describe("Ramp — codec", () => {
  const decode = Schema.decodeUnknownSync(Ramp.schema)
  const encode = Schema.encodeSync(Ramp.schema)
  const decodeNum = Schema.decodeUnknownSync(Ramp.NumSchema)
  const encodeNum = Schema.encodeSync(Ramp.NumSchema)

  it("round-trips: decode(encode(r)) = r, also through JSON text", () => {
    fc.assert(
      fc.property(rampArb, (r) => {
        expect(decode(encode(r))).toEqual(r)
        expect(decode(JSON.parse(JSON.stringify(encode(r))))).toEqual(r)
      }),
    )
    fc.assert(
      fc.property(numArb, (n) => {
        expect(decodeNum(JSON.parse(JSON.stringify(encodeNum(n))))).toEqual(n)
      }),
    )
  })

  it("decoded ramps evaluate like the originals", () => {
    fc.assert(
      fc.property(rampArb, clockArb, (r, c) =>
        Object.is(ev(decode(JSON.parse(JSON.stringify(encode(r)))), c), ev(r, c)),
      ),
    )
  })

  it("every constructed ramp validates", () => {
    fc.assert(fc.property(numArb, (n) => Result.isSuccess(Ramp.validate(n))))
  })

  it("generates a JSON Schema with named, recursive definitions", () => {
    const doc = Schema.toJsonSchemaDocument(Ramp.NumSchema)
    expect(doc.schema).toEqual({ $ref: "#/$defs/Num" })
    expect(Object.keys(doc.definitions)).toEqual(expect.arrayContaining(["Num", "Ramp"]))
  })

  it("the schemas are also exported under the type names", () => {
    expect(Ramp.Ramp).toBe(Ramp.schema)
    expect(Ramp.Num).toBe(Ramp.NumSchema)
  })

  it("rejects invalid ramps with a readable message", () => {
    const bad: ReadonlyArray<readonly [unknown, RegExp]> = [
      [{ ...Ramp.linear({ from: 1, to: 0 }), end: 0 }, /end \(0\) must be greater than start \(0\)/],
      [{ ...Ramp.cosine({ from: 1, to: 0 }), start: 2 }, /must be greater than start/],
      [{ ...Ramp.cyclical({ shape: "triangle", min: 0, max: 1, period: 1 }), period: 0 }, /greater than 0/],
      [
        { ...Ramp.cyclical({ shape: "triangle", min: 0, max: 1, period: 1 }), min: 2 },
        /max \(1\) must be at least min \(2\)/,
      ],
      [
        { ...Ramp.cyclical({ shape: "triangle", min: 0, max: 1, period: 1 }), shape: "square" },
        /"triangle" \| "cosine"/,
      ],
      [Ramp.exponential({ from: 1, rate: 0.9, every: 0 }), /greater than 0/],
      [Ramp.stepDecay({ from: 1, factor: 0.9, every: -1 }), /greater than 0/],
      [Ramp.multiStep({ from: 1, factor: 0.1, milestones: [5, 3] }), /sorted/],
      [Ramp.piecewise({ points: [] }), /at least one point/],
      [
        Ramp.piecewise({
          points: [
            [1, 0],
            [0, 1],
          ],
        }),
        /sorted by time/,
      ],
      [Ramp.sequence([{ ramp: 1, until: 2 }, { ramp: 2, until: 1 }, { ramp: 3 }]), /strictly increasing/],
      [Ramp.clamp(1, { min: 2, max: 1 }), /must be at least min/],
      [Ramp.warmup({ steps: 0, to: 1 }), /greater than 0/],
      [Ramp.warmup({ steps: 10, to: Ramp.constant(Number.NaN) }), /finite|NaN/i],
      [Ramp.arctan({ max: 1, v: 0 }), /greater than 0/],
      [{ _tag: "Nope" }, /Expected a ramp: an object with _tag Constant \| Linear \|.* \| Arctan/],
      ["1e-3", /Expected a finite number or a ramp/],
      [{ _tag: "Add", a: 1 }, /b/],
      [Ramp.add(1, Ramp.scale(Ramp.constant(Number.POSITIVE_INFINITY), 2)), /finite|Infinity/i],
    ]
    for (const [u, message] of bad) {
      const r = Ramp.validate(u)
      expect(Result.isFailure(r), JSON.stringify(u)).toBe(true)
      if (Result.isFailure(r)) expect(r.failure.message).toMatch(message)
    }
  })

  it("a recipe written in JSON decodes to the same value as the TypeScript one", () => {
    const json = `{"_tag":"Warmup","from":0,"length":0.05,"unit":"progress",
      "to":{"_tag":"Cosine","from":0.001,"to":0,"start":0.05,"end":1,"unit":"progress"}}`
    expect(decode(JSON.parse(json))).toEqual(Ramp.warmupCosine({ peak: 1e-3, warmup: 0.05 }))
  })
})

describe("Ramp — describe and sample", () => {
  it("renders short human strings", () => {
    expect(Ramp.describe(Ramp.cosine({ from: 1e-3, to: 0 }))).toBe("cosine(1e-3→0 over progress)")
    expect(Ramp.describe(0.5)).toBe("0.5")
    expect(Ramp.describe(Ramp.linear({ from: 1, to: 0, start: 2, end: 10, unit: "epoch" }))).toBe(
      "linear(1→0 over epoch 2..10)",
    )
    expect(Ramp.describe(Ramp.warmupCosine({ peak: 1e-3, warmup: 0.05 }))).toBe(
      "warmup(0→· over 0.05 progress) then cosine(1e-3→0 over progress 0.05..1)",
    )
    expect(
      Ramp.describe(Ramp.clamp(Ramp.scale(Ramp.exponential({ from: 1, rate: 0.9 }), 2), { min: 0.1 })),
    ).toBe("clamp(2×exponential(1·0.9^(step)), 0.1..∞)")
    expect(Ramp.describe(Ramp.cyclical({ shape: "cosine", min: 0, max: 1, period: 100, phase: 25 }))).toBe(
      "cosine(0..1 every 100 step, phase 25)",
    )
  })

  it("describes every ramp without throwing", () => {
    fc.assert(fc.property(rampArb, (r) => Ramp.describe(r).length > 0))
  })

  it("sample evaluates at each clock; clock builds consistent clocks", () => {
    const clocks = [0, 250, 500, 1000].map((step) =>
      Ramp.clock({ step, stepsPerEpoch: 100, totalSteps: 1000 }),
    )
    expect(clocks[1]).toEqual({ step: 250, epoch: 2.5, progress: 0.25 })
    expect(Ramp.sample(Ramp.linear({ from: 0, to: 1 }), clocks)).toEqual([0, 0.25, 0.5, 1])
    expect(Ramp.sample(3, clocks)).toEqual([3, 3, 3, 3])
  })
})

describe("Ramp — schema-derived values (effect/Arbitrary)", () => {
  // Effect's Arbitrary derives values from the recursive schema itself, checks included, with
  // extreme doubles (subnormals, ±1.8e308) that the hand-written arbitrary above avoids.
  const arb = Arbitrary.schema(Ramp.schema)
  const encode = Schema.encodeSync(Ramp.schema)
  const decode = Schema.decodeUnknownSync(Ramp.schema)
  const check = (property: (r: Ramp.Ramp) => boolean) => {
    const result = Effect.runSync(Arbitrary.checkEffect(arb, property, { runs: 300, seed: 7 }))
    expect(Arbitrary.formatCheckFailure(result)).toBeUndefined()
    expect(result._tag).toBe("Passed")
  }
  const sameUpToZeroSign = (a: unknown, b: unknown): boolean =>
    typeof a === "number" && typeof b === "number"
      ? a === b || (Number.isNaN(a) && Number.isNaN(b))
      : Array.isArray(a) && Array.isArray(b)
        ? a.length === b.length && a.every((x, i) => sameUpToZeroSign(x, b[i]))
        : typeof a === "object" && a !== null && typeof b === "object" && b !== null
          ? Object.keys(a).length === Object.keys(b).length &&
            Object.entries(a).every(([k, v]) => sameUpToZeroSign(v, (b as Record<string, unknown>)[k]))
          : a === b

  it("round-trips through encode, JSON text and decode (JSON loses only the sign of zero)", () => {
    check((r) => sameUpToZeroSign(decode(JSON.parse(JSON.stringify(encode(r)))), r))
  })

  it("every schema-valid ramp evaluates to a number and describes itself", () => {
    const c = Ramp.clock({ step: 123, stepsPerEpoch: 50, totalSteps: 1000 })
    check((r) => typeof Ramp.evaluate(r, c) === "number" && Ramp.describe(r).length > 0 && Ramp.isRamp(r))
  })
})

describe("Ramp — documentation examples run and say the truth", () => {
  // Every `@example` block in dsl/Ramp.ts is transpiled and run; a line `expr // value` asserts
  // that `expr` evaluates to `value` (numbers up to 1e-12 relative).
  const source = readFileSync(new URL("../../dsl/Ramp.ts", import.meta.url), "utf8")
  const blocks = [...source.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) =>
    m[1]!
      .split("\n")
      .map((l) => l.replace(/^\s*\* ?/, ""))
      .join("\n"),
  )
  const assertLine = /^(?!const |let |import |\/\/)(.+?)\s*\/\/ (.+)$/
  const approx = (actual: unknown, expected: unknown): void => {
    if (typeof expected === "number" && typeof actual === "number")
      expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(expected)))
    else if (Array.isArray(expected) && Array.isArray(actual)) {
      expect(actual.length).toBe(expected.length)
      for (const [i, e] of expected.entries()) approx(actual[i], e)
    } else expect(actual).toEqual(expected)
  }

  const isAssertion = (l: string): boolean => assertLine.test(l) && !l.startsWith("import ")

  it("the examples assert their results", () => {
    expect(blocks.flatMap((b) => b.split("\n")).filter(isAssertion).length).toBeGreaterThanOrEqual(40)
  })

  it("has an example on every export", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(
      [...source.matchAll(/^export (const|type|interface) /gm)].length,
    )
  })

  const runExample = (block: string): void => {
    const body = block
      .split("\n")
      .filter((l) => !l.startsWith("import "))
      .map((l) => {
        const m = assertLine.exec(l)
        if (m === null) return l
        return `__check(${m[1]}, ${m[2]});`
      })
      .join("\n")
    const js = ts.transpileModule(body, {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
    }).outputText
    const run = new Function("Ramp", "Schema", "Result", "__check", js)
    run(Ramp, effect.Schema, effect.Result, approx)
  }

  it.each(blocks.map((b, i) => [i, b] as const))("example %i", (_, block) => runExample(block))

  it("a false claim in an example fails", () => {
    expect(() =>
      runExample("Ramp.evaluate(Ramp.constant(1), { step: 0, epoch: 0, progress: 0 }) // 2"),
    ).toThrow()
    expect(() => runExample('Ramp.describe(0.5) // "0.6"')).toThrow()
  })
})
