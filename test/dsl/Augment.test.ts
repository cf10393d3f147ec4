import { Result, Schema } from "effect"
import * as fc from "fast-check"
import { describe, expect, expectTypeOf, it } from "vitest"
import * as Augment from "../../dsl/Augment.js"
import * as Ramp from "../../dsl/Ramp.js"

fc.configureGlobal({ seed: 20240612, numRuns: 200 })

const noNegZero = (x: number): number => (Object.is(x, -0) ? 0 : x)
const between = (min: number, max: number) =>
  fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map(noNegZero)
const unit = fc.constantFrom<Ramp.Unit>("progress", "step", "epoch")

/** Valid ramps (as the Ramp codec accepts them) with values in [lo, hi]. */
const rampIn = (lo: number, hi: number): fc.Arbitrary<Ramp.Ramp> =>
  fc.oneof(
    between(lo, hi).map(Ramp.constant),
    fc.record({ from: between(lo, hi), to: between(lo, hi) }).map(Ramp.linear),
    fc.record({ from: between(lo, hi), to: between(lo, hi) }).map(Ramp.cosine),
    fc
      .record({ min: between(lo, hi), max: between(lo, hi), period: between(0.01, 10), unit })
      .map(({ min, max, period, unit }) =>
        Ramp.cyclical({ shape: "triangle", min: Math.min(min, max), max: Math.max(min, max), period, unit }),
      ),
  )
const numIn = (lo: number, hi: number): fc.Arbitrary<Ramp.Num> => fc.oneof(between(lo, hi), rampIn(lo, hi))
const prob = numIn(0, 1)
const opt = <A>(arb: fc.Arbitrary<A>) => fc.option(arb, { nil: undefined })

const ops = fc.uniqueArray(fc.constantFrom(...Augment.randAugmentOps), { minLength: 1, maxLength: 13 })

const augmentArb: fc.Arbitrary<Augment.Augment> = fc.oneof(
  fc.record({ p: opt(prob) }).map(({ p }) => Augment.flipX(p === undefined ? {} : { p })),
  fc.record({ pad: numIn(0, 8), p: prob }).map(Augment.randomCrop),
  fc
    .record({ max: numIn(0, 1), unit: fc.constantFrom<"pixels" | "fraction">("pixels", "fraction"), p: prob })
    .map(Augment.translate),
  fc.record({ degrees: numIn(0, 180), p: prob }).map(Augment.rotate),
  fc.record({ std: numIn(0, 1), p: prob }).map(Augment.noise),
  fc.record({ size: numIn(0, 16), count: fc.integer({ min: 1, max: 4 }), p: prob }).map(Augment.cutout),
  fc
    .record({
      area: fc.tuple(between(0, 1), between(0, 1)),
      ratio: fc.tuple(between(0.1, 10), between(0.1, 10)),
      fill: fc.constantFrom<"noise" | "zero">("noise", "zero"),
      p: prob,
    })
    .map(({ area, ratio, fill, p }) =>
      Augment.randomErasing({
        area: [Math.min(...area), Math.max(...area)],
        ratio: [Math.min(...ratio), Math.max(...ratio)],
        fill,
        p,
      }),
    ),
  fc.record({ lo: prob, hi: rampIn(0, 1) }).map(({ lo, hi }) => Augment.randomErasing({ area: [lo, hi] })),
  fc.record({ alpha: numIn(0, 5), p: prob }).map(Augment.mixup),
  fc.record({ alpha: numIn(0, 5), p: prob }).map(Augment.cutmix),
  fc.record({ n: fc.integer({ min: 0, max: 4 }), magnitude: prob, ops }).map(Augment.randAugment),
)

const severity = fc.constantFrom<Augment.Severity>(1, 2, 3, 4, 5)
const corruptionArb: fc.Arbitrary<Augment.Corruption> = fc.oneof(
  fc
    .record({ degrees: between(0, 180), severity: opt(severity) })
    .map(({ degrees, severity }) =>
      Augment.rotation(severity === undefined ? { degrees } : { degrees, severity }),
    ),
  fc.record({ std: between(0, 2) }).map(Augment.gaussianNoise),
  fc
    .record({ sigma: between(0.01, 5), radius: opt(fc.integer({ min: 1, max: 10 })) })
    .map(({ sigma, radius }) => Augment.blur(radius === undefined ? { sigma } : { sigma, radius })),
  fc.record({ factor: between(0, 3) }).map(Augment.contrast),
  fc.tuple(fc.constantFrom(...Augment.corruptionKinds), severity).map(([k, s]) => Augment.corruption(k, s)),
)

const roundTrip = <A>(schema: Schema.Codec<A>, a: A): A =>
  Schema.decodeUnknownSync(schema)(JSON.parse(JSON.stringify(Schema.encodeSync(schema)(a))))

const failurePaths = (r: Result.Result<unknown, Schema.SchemaError>): string =>
  Result.isFailure(r) ? String(r.failure) : "<success>"

describe("Augment constructors", () => {
  it("fill in documented defaults", () => {
    expect(Augment.flipX()).toEqual({ _tag: "FlipX", p: 0.5 })
    expect(Augment.randomCrop({ pad: 2 })).toEqual({ _tag: "RandomCrop", pad: 2, p: 1 })
    expect(Augment.translate({ max: 3 })).toEqual({ _tag: "Translate", max: 3, unit: "pixels", p: 1 })
    expect(Augment.rotate({ degrees: 10 })).toEqual({ _tag: "Rotate", degrees: 10, p: 1 })
    expect(Augment.noise({ std: 0.1 })).toEqual({ _tag: "Noise", std: 0.1, p: 1 })
    expect(Augment.cutout({ size: 8 })).toEqual({ _tag: "Cutout", size: 8, count: 1, p: 1 })
    expect(Augment.randomErasing({ area: [0.02, 0.33] })).toEqual({
      _tag: "RandomErasing",
      area: [0.02, 0.33],
      ratio: [0.3, 3.3],
      fill: "noise",
      p: 0.5,
    })
    expect(Augment.mixup({ alpha: 0.2 })).toEqual({ _tag: "Mixup", alpha: 0.2, p: 1 })
    expect(Augment.cutmix({ alpha: 1 })).toEqual({ _tag: "Cutmix", alpha: 1, p: 1 })
    expect(Augment.randAugment({ n: 2, magnitude: 0.5 })).toEqual({
      _tag: "RandAugment",
      n: 2,
      magnitude: 0.5,
      ops: [...Augment.randAugmentOps],
    })
  })

  it("build frozen values", () => {
    const a = Augment.randomErasing({ area: [0.1, 0.2] })
    expect(Object.isFrozen(a)).toBe(true)
    expect(Object.isFrozen(a.area)).toBe(true)
    expect(Object.isFrozen(Augment.randAugment({ n: 1, magnitude: 1 }).ops)).toBe(true)
    expect(Object.isFrozen(Augment.blur({ sigma: 1 }))).toBe(true)
  })

  it("accept ramps wherever a strength or probability goes (types)", () => {
    expectTypeOf(Augment.rotate).parameter(0).toHaveProperty("degrees").toEqualTypeOf<Ramp.Num>()
    Augment.mixup({ alpha: Ramp.cosine({ from: 0.4, to: 0 }), p: Ramp.linear({ from: 1, to: 0 }) })
    // @ts-expect-error corruptions are fixed numbers, not schedules
    Augment.rotation({ degrees: Ramp.constant(3) })
    // @ts-expect-error severity is 1..5
    expect(() => Augment.corruption("blur", 6)).toThrow(RangeError)
  })
})

describe("Augment codec", () => {
  it("round-trips every augmentation through JSON (law)", () => {
    fc.assert(
      fc.property(augmentArb, (a) => {
        expect(roundTrip(Augment.schema, a)).toEqual(a)
      }),
    )
  })

  it("round-trips every corruption through JSON (law)", () => {
    fc.assert(
      fc.property(corruptionArb, (c) => {
        expect(roundTrip(Augment.corruptionSchema, c)).toEqual(c)
      }),
    )
  })

  it("accepts every generated value as valid", () => {
    fc.assert(
      fc.property(augmentArb, corruptionArb, (a, c) => {
        expect(Result.isSuccess(Augment.validate(a))).toBe(true)
        expect(Result.isSuccess(Augment.validateCorruption(c))).toBe(true)
      }),
    )
  })

  it("decodes plain JSON a user writes", () => {
    const a = Schema.decodeUnknownSync(Augment.schema)({
      _tag: "Rotate",
      degrees: { _tag: "Linear", from: 0, to: 15, start: 0, end: 1, unit: "progress" },
      p: 0.5,
    })
    expect(a).toEqual(Augment.rotate({ degrees: Ramp.linear({ from: 0, to: 15 }), p: 0.5 }))
  })

  it("rejects out-of-range plain numbers, naming the field", () => {
    const bad: ReadonlyArray<[unknown, string]> = [
      [Augment.flipX({ p: 1.5 }), "p"],
      [Augment.flipX({ p: -0.1 }), "p"],
      [Augment.randomCrop({ pad: -1 }), "pad"],
      [Augment.translate({ max: 2, unit: "fraction" }), "max"],
      [Augment.rotate({ degrees: 270 }), "degrees"],
      [Augment.noise({ std: -0.1 }), "std"],
      [Augment.cutout({ size: 4, count: 0 }), "count"],
      [Augment.cutout({ size: 4, count: 1.5 }), "count"],
      [Augment.randomErasing({ area: [0.5, 0.1] }), "area"],
      [Augment.randomErasing({ area: [0.1, 1.5] }), "area"],
      [Augment.randomErasing({ area: [0.1, 0.2], ratio: [3, 0.3] }), "ratio"],
      [Augment.mixup({ alpha: -1 }), "alpha"],
      [Augment.cutmix({ alpha: Number.NaN }), "alpha"],
      [Augment.randAugment({ n: -1, magnitude: 0.5 }), "n"],
      [Augment.randAugment({ n: 1, magnitude: 3 }), "magnitude"],
      [Augment.randAugment({ n: 1, magnitude: 0.5, ops: [] }), "ops"],
      [{ _tag: "RandAugment", n: 1, magnitude: 0.5, ops: ["equalize"] }, "ops"],
      [{ _tag: "Nope" }, ""],
    ]
    for (const [value, field] of bad) {
      const r = Augment.validate(value)
      expect(Result.isFailure(r), JSON.stringify(value)).toBe(true)
      if (field !== "") expect(failurePaths(r)).toContain(`"${field}"`)
    }
  })

  it("rejects invalid corruptions", () => {
    const bad: ReadonlyArray<unknown> = [
      Augment.rotation({ degrees: -5 }),
      Augment.gaussianNoise({ std: -1 }),
      Augment.blur({ sigma: 0 }),
      Augment.blur({ sigma: 1, radius: 0.5 }),
      Augment.contrast({ factor: -0.5 }),
      { _tag: "Rotation", degrees: 10, severity: 6 },
      Augment.flipX(),
    ]
    for (const value of bad) expect(Result.isFailure(Augment.validateCorruption(value))).toBe(true)
  })
})

describe("Augment guards and helpers", () => {
  it("tell augmentations and corruptions apart", () => {
    fc.assert(
      fc.property(augmentArb, corruptionArb, (a, c) => {
        expect(Augment.isAugment(a) && !Augment.isCorruption(a)).toBe(true)
        expect(Augment.isCorruption(c) && !Augment.isAugment(c)).toBe(true)
      }),
    )
    expect(Augment.isAugment(Ramp.constant(1))).toBe(false)
    expect(Augment.isAugment(null)).toBe(false)
    expect(Augment.isAugment("FlipX")).toBe(false)
  })

  it("labelMixing is exactly mixup and cutmix", () => {
    fc.assert(
      fc.property(augmentArb, (a) => Augment.labelMixing(a) === (a._tag === "Mixup" || a._tag === "Cutmix")),
    )
    expect(Augment.labelMixing(Augment.mixup({ alpha: 0.2 }))).toBe(true)
    expect(Augment.labelMixing(Augment.cutmix({ alpha: 1 }))).toBe(true)
    expect(Augment.labelMixing(Augment.randAugment({ n: 2, magnitude: 0.5 }))).toBe(false)
  })

  it("describe renders each kind, omitting default probabilities", () => {
    expect(Augment.describe(Augment.flipX())).toBe("flipX()")
    expect(Augment.describe(Augment.flipX({ p: 1 }))).toBe("flipX(p=1)")
    expect(Augment.describe(Augment.randomCrop({ pad: 2 }))).toBe("randomCrop(pad=2)")
    expect(Augment.describe(Augment.translate({ max: 0.1, unit: "fraction" }))).toBe(
      "translate(max=0.1 (fraction))",
    )
    expect(Augment.describe(Augment.translate({ max: 3, p: 0.5 }))).toBe("translate(max=3px, p=0.5)")
    expect(Augment.describe(Augment.rotate({ degrees: Ramp.linear({ from: 0, to: 15 }) }))).toBe(
      "rotate(±linear(0→15 over progress)°)",
    )
    expect(Augment.describe(Augment.noise({ std: 0.1, p: 0.5 }))).toBe("noise(std=0.1, p=0.5)")
    expect(Augment.describe(Augment.cutout({ size: 8, count: 2 }))).toBe("cutout(size=8, count=2)")
    expect(Augment.describe(Augment.randomErasing({ area: [0.02, 0.3], fill: "zero" }))).toBe(
      "randomErasing(area=0.02..0.3, ratio=0.3..3.3, fill=0)",
    )
    expect(Augment.describe(Augment.mixup({ alpha: 0.2 }))).toBe("mixup(α=0.2)")
    expect(Augment.describe(Augment.cutmix({ alpha: 1, p: 0.5 }))).toBe("cutmix(α=1, p=0.5)")
    expect(Augment.describe(Augment.randAugment({ n: 2, magnitude: 0.9 }))).toBe(
      "randAugment(n=2, magnitude=0.9)",
    )
    expect(Augment.describe(Augment.randAugment({ n: 1, magnitude: 0.5, ops: ["rotate", "solarize"] }))).toBe(
      "randAugment(n=1, magnitude=0.5, ops=[rotate, solarize])",
    )
    fc.assert(fc.property(augmentArb, (a) => Augment.describe(a).length > 0))
  })

  it("names corruptions for split naming", () => {
    expect(Augment.name(Augment.corruption("rotation", 3), "test")).toBe("test:rotation@3")
    expect(Augment.name(Augment.corruption("gaussianNoise", 1))).toBe("gaussianNoise@1")
    expect(Augment.name(Augment.blur({ sigma: 1.2 }))).toBe("blur(sigma=1.2)")
    expect(Augment.name(Augment.blur({ sigma: 1, radius: 2 }), "val")).toBe("val:blur(sigma=1,radius=2)")
    expect(Augment.name(Augment.contrast({ factor: 0.3 }))).toBe("contrast(factor=0.3)")
    expect(Augment.name(Augment.rotation({ degrees: 15 }))).toBe("rotation(degrees=15)")
    // distinct corruptions get distinct names
    const all = Augment.corruptionKinds.flatMap((k) =>
      ([1, 2, 3, 4, 5] as const).map((s) => Augment.corruption(k, s)),
    )
    expect(new Set(all.map((c) => Augment.name(c))).size).toBe(all.length)
  })

  it("severity maps to the table, and each kind gets stronger with severity", () => {
    expect(Augment.corruption("rotation", 3)).toEqual({ _tag: "Rotation", degrees: 30, severity: 3 })
    expect(Augment.corruption("contrast", 5)).toEqual({ _tag: "Contrast", factor: 0.05, severity: 5 })
    expect(Augment.corruption("blur", 1)).toEqual({ _tag: "Blur", sigma: 0.5, severity: 1 })
    expect(Augment.corruption("gaussianNoise", 2)).toEqual({ _tag: "GaussianNoise", std: 0.12, severity: 2 })
    for (const kind of Augment.corruptionKinds) {
      const row = Augment.severities[kind]
      const strength = kind === "contrast" ? row.map((f) => 1 - f) : [...row]
      for (let i = 1; i < 5; i++) expect(strength[i]!).toBeGreaterThan(strength[i - 1]!)
      for (const s of [1, 2, 3, 4, 5] as const) {
        const c = Augment.corruption(kind, s)
        expect(Augment.corruptionKind(c)).toBe(kind)
        expect(Result.isSuccess(Augment.validateCorruption(c))).toBe(true)
      }
    }
    expect(() => Augment.corruption("blur", 0 as Augment.Severity)).toThrow(RangeError)
  })
})
