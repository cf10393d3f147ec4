import { Arbitrary, Effect, Schema } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Augment, Codec, Loss, Optimizer, Phase, Pipeline, Step } from "../../dsl/index.js"

fc.configureGlobal({ seed: 424242, numRuns: 150 })

// Stages built with the constructors, over a small alphabet of names so that overlaps happen.
const name = fc.constantFrom("a", "b", "c", "t", "s", "x", "y")
const model = fc.constantFrom("m1", "m2", "m3")
const stage: fc.Arbitrary<Step.Stage> = fc.oneof(
  fc
    .record({ model, as: fc.array(name, { minLength: 1, maxLength: 2 }), input: name, frozen: fc.boolean() })
    .map(
      (r): Step.Stage => ({
        _tag: "Forward",
        model: r.model,
        as: r.as,
        mode: r.frozen ? "frozen" : "train",
        input: r.input,
        taps: [],
        heads: [],
      }),
    ),
  fc.record({ t: name, s: name, as: fc.constantFrom("loss", "l2") }).map(
    (r): Step.Stage => ({
      _tag: "Loss",
      terms: { kd: Loss.kl({ teacher: r.t, student: r.s }) },
      weights: { kd: 1 },
      as: r.as,
    }),
  ),
  fc.record({ m: model, loss: fc.constantFrom("loss", "l2") }).map(
    (r): Step.Stage => ({
      _tag: "Optimize",
      models: [r.m],
      optimizer: Optimizer.adam({ lr: 1e-3 }),
      loss: r.loss,
    }),
  ),
  fc
    .record({ m: model, as: fc.constantFrom("avg1", "m3") })
    .map((r): Step.Stage => ({ _tag: "Ema", model: r.m, as: r.as, decay: 0.99, every: 1 })),
  fc.constant<Step.Stage>({ _tag: "Augment", augments: [Augment.flipX()] }),
)
const step = fc.array(stage, { maxLength: 6 }).map((stages) => Step.make(stages))

describe("Step laws", () => {
  it("composition is associative", () => {
    fc.assert(
      fc.property(step, step, step, (f, g, h) => {
        expect(Step.andThen(Step.andThen(f, g), h)).toEqual(Step.andThen(f, Step.andThen(g, h)))
      }),
    )
  })

  it("identity is a unit on both sides", () => {
    fc.assert(
      fc.property(step, (f) => {
        expect(Step.andThen(Step.identity, f)).toEqual(f)
        expect(Step.andThen(f, Step.identity)).toEqual(f)
      }),
    )
  })

  it("the data-first and data-last forms agree", () => {
    fc.assert(
      fc.property(step, step, (f, g) => {
        expect(f.pipe(Step.andThen(g))).toEqual(Step.andThen(f, g))
      }),
    )
  })

  it("stages that touch disjoint names and models commute: same names written, same unmet reads", () => {
    fc.assert(
      fc.property(step, stage, stage, step, (pre, a, b, post) => {
        fc.pre(Step.independent(a, b))
        const ab = Step.andThen(Step.andThen(pre, Step.make([a, b])), post)
        const ba = Step.andThen(Step.andThen(pre, Step.make([b, a])), post)
        const x = Step.analyze(ab)
        const y = Step.analyze(ba)
        expect(new Set(x.written)).toEqual(new Set(y.written))
        expect(new Set(x.unwritten.map((u) => u.name))).toEqual(new Set(y.unwritten.map((u) => u.name)))
      }),
    )
  })

  it("independence is symmetric and a stage that writes what another reads is not independent of it", () => {
    fc.assert(
      fc.property(stage, stage, (a, b) => {
        expect(Step.independent(a, b)).toBe(Step.independent(b, a))
        const wa = Step.footprint(a).writes
        if (Step.footprint(b).reads.some((r) => wa.includes(r))) expect(Step.independent(a, b)).toBe(false)
      }),
    )
  })

  it("composition writes the union of what its parts write", () => {
    fc.assert(
      fc.property(step, step, (f, g) => {
        const w = new Set(Step.analyze(Step.andThen(f, g)).written)
        for (const n of [...Step.analyze(f).written, ...Step.analyze(g).written]) expect(w.has(n)).toBe(true)
      }),
    )
  })
})

describe("Codec laws", () => {
  it("a step round-trips through its schema (schema-derived stages)", () => {
    const stages = Arbitrary.schema(Schema.Array(Step.StageSchema))
    const encode = Schema.encodeSync(Step.schema)
    const decode = Schema.decodeUnknownSync(Step.schema)
    const result = Effect.runSync(
      Arbitrary.checkEffect(
        stages,
        (ss) => {
          const s = Step.make(ss)
          const back = decode(JSON.parse(JSON.stringify(encode(s))))
          return JSON.stringify(encode(back)) === JSON.stringify(encode(s)) && Step.isStep(back)
        },
        { runs: 100, seed: 11 },
      ),
    )
    expect(Arbitrary.formatCheckFailure(result)).toBeUndefined()
  })

  it("arbitrary pipelines (schema-derived) round-trip: decode ∘ encode = id", () => {
    // Derived from the same schemas, with steps as plain records, then hydrated into values.
    const plain = Pipeline.schemaWith(Phase.schemaWith(Step.plainSchema))
    const arb = Arbitrary.schema(plain).pipe(
      Arbitrary.map(
        (p): Pipeline.Pipeline =>
          ({
            ...p,
            phases: p.phases.map((ph) => ({ ...ph, step: Step.make(ph.step.stages) })),
          }) as Pipeline.Pipeline,
      ),
    )
    const encode = Schema.encodeSync(Pipeline.schema)
    const decode = Schema.decodeUnknownSync(Pipeline.schema)
    const result = Effect.runSync(
      Arbitrary.checkEffect(
        arb,
        (p) => {
          const once = JSON.stringify(encode(p))
          return JSON.stringify(encode(decode(JSON.parse(once)))) === once
        },
        { runs: 60, seed: 3 },
      ),
    )
    expect(Arbitrary.formatCheckFailure(result)).toBeUndefined()
  })

  it("valid pipelines round-trip through Codec.toJson / fromJson to equal values", () => {
    const arbPipeline = fc
      .record({
        seed: fc.integer({ min: 0, max: 1000 }),
        T: fc.double({ min: 0.5, max: 10, noNaN: true }),
        alpha: fc.double({ min: 0, max: 1, noNaN: true }),
      })
      .map(async ({ seed, T, alpha }) =>
        (await import("../../pipelines/kd.js")).make({ seed, temperature: T, alpha }),
      )
    return fc.assert(
      fc.asyncProperty(arbPipeline, async (pp) => {
        const p = await pp
        const back = Codec.fromJson(Codec.toJson(p))
        expect(back._tag).toBe("Success")
        if (back._tag === "Success") expect(back.success).toEqual(p)
      }),
      { numRuns: 30 },
    )
  })
})
