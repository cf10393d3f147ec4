import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { Codec, FewShot, Phase, type Pipeline, Validate } from "../../dsl/index.js"
import rfs, { make } from "../../pipelines/rfs.js"

const issues = (p: Pipeline.Pipeline) => Validate.pipeline(p)
const withPhase = (
  p: Pipeline.Pipeline,
  i: number,
  f: (ph: Phase.Phase) => Phase.Phase,
): Pipeline.Pipeline => ({
  ...p,
  phases: p.phases.map((ph, j) => (j === i ? f(ph) : ph)),
})
const withFewShot = (p: Pipeline.Pipeline, i: number, fs: Partial<FewShot.FewShot>) =>
  withPhase(p, i, (ph) => ({
    ...ph,
    evaluate: { ...ph.evaluate, fewShot: { ...ph.evaluate.fewShot!, ...fs } },
  }))

describe("base/novel class split and few-shot evaluation (description)", () => {
  it("the RFS recipe is valid and round-trips through JSON and YAML", () => {
    expect(issues(rfs)).toEqual([])
    expect(issues(make({ epochs: 1, base: [0, 2, 4, 6, 8], episodes: 10 }))).toEqual([])
    expect(Result.getOrThrow(Codec.fromJson(Codec.toJson(rfs)))).toEqual(rfs)
    expect(Result.getOrThrow(Codec.fromYaml(Codec.toYaml(rfs)))).toEqual(rfs)
    expect(rfs.phases.map((p) => p.data.classes)).toEqual([
      [0, 1, 2, 3, 4],
      [0, 1, 2, 3, 4],
    ])
    expect(rfs.phases[0]!.evaluate.fewShot).toMatchObject({
      classes: [5, 6, 7, 8, 9],
      ways: 5,
      shots: [1, 5],
      queries: 15,
      episodes: 600,
      tap: "dense0",
    })
  })

  it("data.classes must be distinct class ids of the data set, and not empty", () => {
    const at = (classes: ReadonlyArray<number>) =>
      issues(withPhase(rfs, 0, (ph) => ({ ...ph, data: { classes } }))).filter((i) =>
        i.path.startsWith("phases[0].data"),
      )
    expect(at([])).toHaveLength(1)
    expect(at([0, 10])[0]).toMatchObject({ path: "phases[0].data.classes[1]" })
    expect(at([0, 10])[0]!.message).toMatch(/10 classes/)
    expect(at([-1, 1.5])).toHaveLength(2)
    expect(at([2, 2])[0]!.message).toMatch(/twice/)
    expect(at([0, 1])).toEqual([])
  })

  it("a few-shot class that a phase up to the evaluating one trains on is rejected", () => {
    const seen = withPhase(rfs, 0, (ph) => ({ ...ph, data: { classes: [0, 1, 2, 3, 4, 5] } }))
    const found = issues(seen)
    expect(found.map((i) => i.path)).toContain("phases[0].evaluate.fewShot.classes")
    expect(found.find((i) => i.path === "phases[1].evaluate.fewShot.classes")!.message).toMatch(
      /gen0.*class 5/,
    )
    const all = withPhase(rfs, 1, (ph) => ({ ...ph, data: {} }))
    expect(issues(all).map((i) => i.path)).toEqual(["phases[1].evaluate.fewShot.classes"])
    expect(issues(all)[0]!.message).toMatch(/every class/)
  })

  it("ranges, the tap, the models, the split and the probes are checked", () => {
    const paths = (fs: Partial<FewShot.FewShot>) => issues(withFewShot(rfs, 0, fs)).map((i) => i.path)
    expect(paths({ ways: 6 })).toEqual(["phases[0].evaluate.fewShot.ways"])
    expect(paths({ ways: 1 })).toEqual(["phases[0].evaluate.fewShot.ways"])
    expect(paths({ shots: [] })).toEqual(["phases[0].evaluate.fewShot.shots"])
    expect(paths({ shots: [1, 0] })).toEqual(["phases[0].evaluate.fewShot.shots[1]"])
    expect(paths({ queries: 0.5 })).toEqual(["phases[0].evaluate.fewShot.queries"])
    expect(paths({ episodes: 0 })).toEqual(["phases[0].evaluate.fewShot.episodes"])
    expect(paths({ l2: 0 })).toEqual(["phases[0].evaluate.fewShot.l2"])
    expect(paths({ iterations: 0 })).toEqual(["phases[0].evaluate.fewShot.iterations"])
    expect(paths({ probes: [] })).toEqual(["phases[0].evaluate.fewShot.probes"])
    expect(paths({ split: "validation" })).toEqual(["phases[0].evaluate.fewShot.split"])
    expect(paths({ tap: "nope" })).toEqual(["phases[0].evaluate.fewShot.tap"])
    expect(paths({ models: ["ghost"] })).toEqual(["phases[0].evaluate.fewShot.models[0]"])
    expect(paths({ classes: [5, 6, 7, 8, 12] })).toContain("phases[0].evaluate.fewShot.classes[4]")
    // no model target and no models: nothing to evaluate
    const none = withPhase(rfs, 0, (ph) => ({ ...ph, evaluate: { ...ph.evaluate, targets: [] } }))
    expect(issues(none).map((i) => i.path)).toEqual(["phases[0].evaluate.fewShot.models"])
  })

  it("metric names follow N-way K-shot and the probe", () => {
    const fs = FewShot.make({ classes: [5, 6, 7, 8, 9], tap: "dense0", ways: 3 })
    expect(FewShot.metricName(fs, 1, "logistic")).toBe("fewshot-3w1s")
    expect(FewShot.metricName(fs, 5, "centroid")).toBe("fewshot-3w5s-centroid")
    const ev = Phase.evaluate({ models: ["net"], fewShot: fs })
    expect(ev.fewShot).toBe(fs)
    expect(Phase.evaluate({ models: ["net"] }).fewShot).toBeUndefined()
  })
})
