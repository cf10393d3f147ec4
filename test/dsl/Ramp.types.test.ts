// Type-level tests: checked by `tsc --noEmit -p tsconfig.json` (vitest runs them as no-ops).
import type { Schema } from "effect"
import { describe, expectTypeOf, it } from "vitest"
import * as Ramp from "../../dsl/Ramp.js"

const c: Ramp.Clock = { step: 0, epoch: 0, progress: 0 }
/** Holds statements that must not type-check (and would throw if run): never called. */
const typeOnly = (_f: () => void): void => {}

describe("Ramp types", () => {
  it("evaluate: Num × Clock → number, both argument orders", () => {
    expectTypeOf(Ramp.evaluate(1, c)).toEqualTypeOf<number>()
    expectTypeOf(Ramp.evaluate(Ramp.constant(1), c)).toEqualTypeOf<number>()
    expectTypeOf(Ramp.evaluate(c)).toEqualTypeOf<(num: Ramp.Num) => number>()
    typeOnly(() => {
      // @ts-expect-error a string is not a Num
      Ramp.evaluate("1e-3", c)
      // @ts-expect-error a clock needs all three fields
      Ramp.evaluate(1, { step: 0 })
    })
  })

  it("Num is number | Ramp, and the codecs carry exactly those types", () => {
    expectTypeOf<Ramp.Num>().toEqualTypeOf<number | Ramp.Ramp>()
    expectTypeOf<Schema.Schema.Type<typeof Ramp.schema>>().toEqualTypeOf<Ramp.Ramp>()
    expectTypeOf<(typeof Ramp.schema)["Encoded"]>().toEqualTypeOf<Ramp.Ramp>()
    expectTypeOf<Schema.Schema.Type<typeof Ramp.NumSchema>>().toEqualTypeOf<Ramp.Num>()
  })

  it("the tag union is closed", () => {
    expectTypeOf<Ramp.Ramp["_tag"]>().toEqualTypeOf<
      | "Constant"
      | "Linear"
      | "Cosine"
      | "Exponential"
      | "StepDecay"
      | "MultiStep"
      | "Warmup"
      | "Cyclical"
      | "Piecewise"
      | "Sequence"
      | "Add"
      | "Mul"
      | "Scale"
      | "Clamp"
      | "Min"
      | "Max"
      | "Arctan"
      | "Learned"
    >()
  })

  it("constructors return their precise node types", () => {
    expectTypeOf(Ramp.constant(1)).toEqualTypeOf<Ramp.Constant>()
    expectTypeOf(Ramp.linear({ from: 1, to: 0 })).toEqualTypeOf<Ramp.Linear>()
    expectTypeOf(Ramp.cosine({ from: 1, to: 0 })).toEqualTypeOf<Ramp.Cosine>()
    expectTypeOf(Ramp.warmupCosine({ peak: 1, warmup: 0.1 })).toEqualTypeOf<Ramp.Warmup>()
    expectTypeOf(Ramp.easyHardEasy({ low: 0, high: 1 })).toEqualTypeOf<Ramp.Piecewise>()
    expectTypeOf(Ramp.scale(2)).toEqualTypeOf<(ramp: Ramp.Num) => Ramp.Scale>()
    expectTypeOf(Ramp.add(Ramp.constant(1), 2)).toEqualTypeOf<Ramp.Add>()
  })

  it("values are immutable", () => {
    const l = Ramp.linear({ from: 1, to: 0 })
    const m = Ramp.multiStep({ from: 1, factor: 0.1, milestones: [1, 2] })
    typeOnly(() => {
      // @ts-expect-error readonly field
      l.from = 2
      // @ts-expect-error readonly array
      m.milestones.push(3)
    })
  })

  it("constructor options are checked", () => {
    Ramp.sequence([{ ramp: 1, until: 0.5 }, { ramp: 2 }])
    Ramp.sequence([{ ramp: 1 }])
    // @ts-expect-error every segment but the last needs `until`
    Ramp.sequence([{ ramp: 1 }, { ramp: 2 }])
    Ramp.warmup({ steps: 10, to: 1 })
    Ramp.warmup({ length: 0.1, unit: "progress", to: Ramp.cosine({ from: 1, to: 0 }) })
    // @ts-expect-error warmup needs a length (steps, epochs or length)
    Ramp.warmup({ to: 1 })
    // @ts-expect-error warmup needs a target
    Ramp.warmup({ steps: 10 })
    // @ts-expect-error no such shape
    Ramp.cyclical({ shape: "square", min: 0, max: 1, period: 10 })
    // @ts-expect-error no such unit
    Ramp.linear({ from: 1, to: 0, unit: "minute" })
    // @ts-expect-error exactOptionalPropertyTypes: pass a bound or leave it out
    Ramp.clamp(1, { min: undefined })
  })
})
