/**
 * Sweeps as data: expansion (grid order and size, range points, seeded random search), the
 * checks with their paths, and the codec round trip — the laws as fast-check properties.
 */
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Sweep from "../../dsl/Sweep.js"

const base = { name: "s", pipeline: "p.json", metric: { model: "net" } } as const

const axisArb: fc.Arbitrary<Sweep.Axis> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom("seed", "phases[0].epochs", "phases[1].batchSize", "models.net.hidden"),
      fc.array(fc.integer({ min: -5, max: 50 }), { minLength: 1, maxLength: 4 }),
    )
    .map(([path, values]) => Sweep.values(path, values)),
  fc
    .tuple(
      fc.constantFrom(
        "phases[0].step.stages[2].optimizer.lr",
        "phases[0].step.stages[1].terms.kd.temperature",
      ),
      fc.double({ min: 1e-4, max: 1, noNaN: true }),
      fc.double({ min: 1, max: 100, noNaN: true }),
      fc.constantFrom("linear" as const, "log" as const),
      fc.integer({ min: 1, max: 5 }),
      fc.boolean(),
    )
    .map(([path, min, max, scale, count, integer]) => Sweep.range(path, { min, max, scale, count, integer })),
)
/** Axes on distinct paths (a sweep may not sweep a path twice). */
const axesArb = fc
  .array(axisArb, { minLength: 1, maxLength: 3 })
  .map((axes) => axes.filter((a, i) => axes.findIndex((b) => b.path === a.path) === i))

describe("Sweep.expand", () => {
  it("a grid walks every combination, the last axis fastest", () => {
    const s = Sweep.make({
      ...base,
      axes: [Sweep.values("phases[0].epochs", [1, 2]), Sweep.values("seed", [7, 8, 9])],
    })
    const vs = Sweep.expand(s)
    expect(vs.map((v) => v.label)).toEqual([
      "epochs=1 · seed=7",
      "epochs=1 · seed=8",
      "epochs=1 · seed=9",
      "epochs=2 · seed=7",
      "epochs=2 · seed=8",
      "epochs=2 · seed=9",
    ])
    expect(vs[4]!.overrides).toEqual({ "phases[0].epochs": 2, seed: 8 })
    expect(vs.map((v) => v.index)).toEqual([0, 1, 2, 3, 4, 5])
  })

  it("law: a grid has as many variants as the product of its axes' (distinct) points, all distinct", () => {
    fc.assert(
      fc.property(axesArb, (axes) => {
        const vs = Sweep.expand(Sweep.make({ ...base, axes }))
        const sizes = axes.map((a) =>
          a._tag === "Values"
            ? a.values.length
            : new Set(Sweep.expand(Sweep.make({ ...base, axes: [a] })).map((v) => v.overrides[a.path])).size,
        )
        expect(vs.length).toBe(sizes.reduce((x, y) => x * y, 1))
        const valueLists = axes
          .filter((a) => a._tag === "Values")
          .every((a) => new Set(a.values).size === a.values.length)
        if (valueLists) expect(new Set(vs.map((v) => JSON.stringify(v.overrides))).size).toBe(vs.length)
      }),
    )
  })

  it("range points: both ends, log spacing, whole numbers", () => {
    const one = (a: Sweep.Axis) =>
      Sweep.expand(Sweep.make({ ...base, axes: [a] })).map((v) => v.overrides[a.path])
    expect(one(Sweep.range("lr", { min: 1e-4, max: 1e-2, scale: "log", count: 3 }))).toEqual([
      1e-4, 1e-3, 1e-2,
    ])
    expect(one(Sweep.range("t", { min: 1, max: 9, count: 5 }))).toEqual([1, 3, 5, 7, 9])
    expect(one(Sweep.range("n", { min: 1, max: 4, integer: true, count: 7 }))).toEqual([1, 2, 3, 4])
  })

  it("law: random search is reproducible from its seed, stays in range, and has `trials` variants", () => {
    fc.assert(
      fc.property(axesArb, fc.integer({ min: 1, max: 30 }), fc.integer(), (axes, trials, seed) => {
        const s = Sweep.make({ ...base, axes, search: Sweep.random({ trials, seed }) })
        const a = Sweep.expand(s)
        expect(a).toEqual(Sweep.expand(s))
        expect(a).toHaveLength(trials)
        for (const v of a)
          for (const axis of axes) {
            const x = v.overrides[axis.path]
            if (axis._tag === "Values") expect(axis.values).toContainEqual(x)
            else {
              expect(x as number).toBeGreaterThanOrEqual(
                axis.integer ? Math.round(axis.min) : axis.min * (1 - 1e-5),
              )
              expect(x as number).toBeLessThanOrEqual(
                axis.integer ? Math.round(axis.max) : axis.max * (1 + 1e-5),
              )
            }
          }
      }),
    )
    const s = (seed: number) =>
      Sweep.expand(
        Sweep.make({
          ...base,
          axes: [Sweep.range("lr", { min: 1e-4, max: 1, scale: "log" })],
          search: Sweep.random({ trials: 5, seed }),
        }),
      )
    expect(s(1)).not.toEqual(s(2))
  })
})

describe("Sweep.check and the codec", () => {
  it("every problem with its path", () => {
    const s = Sweep.make({
      name: "a/b",
      pipeline: "p.json",
      axes: [
        Sweep.values("phases[0].epochs", []),
        Sweep.values("__proto__.x", [1]),
        Sweep.range("lr", { min: 0, max: 1, scale: "log" }),
        Sweep.values("phases[0].epochs", [1]),
      ],
      seeds: [1, 1.5, 1],
      metric: { model: "" },
    })
    const paths = Sweep.check(s).map((i) => i.path)
    expect(paths).toEqual(
      expect.arrayContaining([
        "name",
        "axes[0].values",
        "axes[1].path",
        "axes[2].min",
        "axes[2].count",
        "axes[3].path",
        "seeds[1]",
        "seeds[2]",
        "metric.model",
      ]),
    )
    const huge = Sweep.make({
      ...base,
      axes: [0, 1, 2, 3, 4].map((i) => Sweep.values(`phases[${i}].epochs`, [1, 2, 3, 4, 5, 6, 7])),
    })
    expect(Sweep.check(huge).map((i) => i.path)).toEqual(["axes"])
  })

  it("law: decode ∘ encode is the identity on valid sweeps; nonsense fails with paths, never throws", () => {
    fc.assert(
      fc.property(axesArb, fc.boolean(), (axes, random) => {
        const s = Sweep.make({
          ...base,
          axes,
          ...(random ? { search: Sweep.random({ trials: 3, seed: 4 }) } : {}),
        })
        const back = Sweep.decode(JSON.parse(JSON.stringify(Sweep.encode(s))))
        expect(Result.isSuccess(back) && back.success).toEqual(s)
      }),
    )
    fc.assert(
      fc.property(fc.anything(), (junk) => {
        const r = Sweep.decode(junk)
        expect(Result.isFailure(r)).toBe(true)
        if (Result.isFailure(r)) for (const i of r.failure.issues) expect(typeof i.path).toBe("string")
      }),
    )
    const r = Sweep.decode({
      _tag: "Sweep",
      name: "s",
      pipeline: "p.json",
      axes: [{ _tag: "Values", path: "seed" }],
      search: { _tag: "Grid" },
      seeds: [1],
      metric: {},
    })
    expect(Result.isFailure(r) && r.failure.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(["axes[0].values", "metric.model"]),
    )
  })

  it("the metric key follows the run summary's naming", () => {
    const s = Sweep.make({
      ...base,
      axes: [Sweep.values("seed", [1])],
      metric: { model: "student", name: "nll" },
    })
    expect(s.metric.goal).toBe("min")
    expect(Sweep.metricKey(s.metric, ["teacher", "distil"])).toBe("distil/validation/student/nll")
  })
})
