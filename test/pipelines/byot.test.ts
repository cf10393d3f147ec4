import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { Optimizer } from "../../dsl/index.js"
import byot, { make } from "../../pipelines/byot.js"
import * as Models from "../../src/models/index.js"
import {
  batch,
  crossEntropy,
  data,
  expectFiniteLosses,
  kl,
  liveParams,
  observe,
  ofTag,
  onlyTerms,
  rows,
  runSteps,
  shrink,
  tiny,
  useWasm,
  valid,
  watchedState,
} from "./support.js"

// exits with a bottleneck as wide as the pooled features (4), so the hint compares equal widths
const net = () =>
  tiny.resnet([
    { after: "block0", hidden: 4 },
    { after: "block1", hidden: 4 },
  ])
const small = () => shrink(make({ epochs: 1, earlyExit: [0, 0.5, 1.01] }), { net: net() })

/** Parameters whose values changed, as a set of top-level groups (`stem`, `block1`, `exit0`, `head`…). */
const movedGroups = (before: Map<string, Float32Array>, after: Map<string, Float32Array>) => {
  const out = new Set<string>()
  for (const [k, v] of before) {
    const w = after.get(k)!
    if (v.some((x, i) => x !== w[i])) out.add(k.split("/")[0]!)
  }
  return out
}

describe("byot recipe", () => {
  beforeAll(useWasm)

  it("validates, with its variants", () => {
    valid(byot)
    valid(make({ alpha: 0.3, temperature: 2, beta: 0 }))
  })

  it("trains end to end; every exit is evaluated; early-exit inference at thresholds 0 and >1 gives the shallowest and the deepest head", async () => {
    const n = 32
    const o = await observe(valid(small()), {
      maxSteps: 3,
      evalLimit: n,
      inspect: ({ state }) => {
        const slot = state.models.get("net")!
        return Effect.runPromise(
          Models.evaluateEarlyExit(slot.built, slot.params, data.test, {
            thresholds: [0, 0.5, 1.01],
            limit: n,
            state: slot.state,
          }),
        )
      },
    })
    expectFiniteLosses(o.events)
    for (const s of ofTag(o.events, "StepMetrics")) {
      const t = s.terms
      expect(Object.keys(t).sort()).toEqual([
        "loss.ce0",
        "loss.ce1",
        "loss.deep",
        "loss.hint0",
        "loss.hint1",
        "loss.kl0",
        "loss.kl1",
      ])
      const expected =
        t["loss.deep"]! +
        0.9 * (t["loss.ce0"]! + t["loss.ce1"]!) +
        0.1 * (t["loss.kl0"]! + t["loss.kl1"]!) +
        1e-6 * (t["loss.hint0"]! + t["loss.hint1"]!)
      expect(s.loss).toBeCloseTo(expected, 4)
    }
    const m = o.phases[0]!.metrics
    for (const k of [
      "test/net/accuracy",
      "test/net/exit0/accuracy",
      "test/net/exit1/accuracy",
      "test/net/logits/accuracy",
      "test/net[exit0]/accuracy",
      "test/net[exit1]/accuracy",
      "test/net/ece",
    ])
      expect(Number.isFinite(m[k])).toBe(true)
    expect(m["test/net[exit0]/accuracy"]).toBe(m["test/net/exit0/accuracy"])

    const report = o.inspected
    expect(report.order).toEqual(["exit0", "exit1", "logits"])
    expect(report.heads.exit0).toBeCloseTo(m["test/net/exit0/accuracy"]!, 10)
    expect(report.heads.exit1).toBeCloseTo(m["test/net/exit1/accuracy"]!, 10)
    const [zero, mid, all] = report.thresholds
    expect(zero!.fractions.exit0).toBe(1)
    expect(zero!.accuracy).toBeCloseTo(m["test/net/exit0/accuracy"]!, 10)
    expect(all!.fractions.logits).toBe(1)
    expect(all!.accuracy).toBeCloseTo(m["test/net/accuracy"]!, 10)
    expect(mid!.meanExit).toBeGreaterThanOrEqual(0)
    expect(mid!.meanExit).toBeLessThanOrEqual(2)
    // the pipeline's own early-exit evaluation reports the same, per threshold
    for (const r of report.thresholds) {
      expect(m[`test/net@${r.threshold}/accuracy`]).toBe(r.accuracy)
      expect(m[`test/net@${r.threshold}/meanExit`]).toBe(r.meanExit)
      for (const h of report.order) expect(m[`test/net@${r.threshold}/${h}`]).toBe(r.fractions[h])
    }
    expect(m["test/net@1.01/meanExit"]).toBe(2)
    // only plain model targets: not the single-head views of the same network
    expect(
      Object.keys(m).filter((k) => k.includes("]@") || k.includes("]/exit") || k.includes("]/logits")),
    ).toEqual([])
  })

  it("each term is as the reference states it: CE per exit, T²·KL(deep ‖ exit), ‖F_exit − F_deep‖²", () => {
    const w = watchedState({ net: net() })
    const b = batch(16)
    const [losses] = runSteps(make({ temperature: 3 }).phases[0]!, w.state, 1, { batch: b })
    const c = w.calls[0]!
    expect(w.calls).toHaveLength(1)
    const labels = b.labels.dataSync()
    const deep = rows(c.heads.logits!)
    for (const i of [0, 1]) {
      const exit = rows(c.heads[`exit${i}`]!)
      expect(losses![`loss.ce${i}`]).toBeCloseTo(crossEntropy(exit, labels), 4)
      expect(losses![`loss.kl${i}`]).toBeCloseTo(kl(deep, exit, 3), 4)
      const f = c.taps[`exit${i}_features`]!
      const pool = c.taps.pool!
      const mse = f.reduce((a, v, j) => a + (v - pool[j]!) ** 2, 0) / f.length
      expect(losses![`loss.hint${i}`]).toBeCloseTo(mse, 5)
    }
    expect(losses!["loss.deep"]).toBeCloseTo(crossEntropy(deep, labels), 4)
    b.x.dispose()
    b.labels.dispose()
    w.dispose()
  })

  it("the deepest head only teaches: the KL and hint terms move the shallow exits, never the deep head", () => {
    const sgd = Optimizer.sgd({ lr: 1 })
    const phase = make().phases[0]!
    const cases: ReadonlyArray<[ReadonlyArray<string>, ReadonlyArray<string>, ReadonlyArray<string>]> = [
      // terms, groups that must move, groups that must not
      [["kl0"], ["exit0", "block0", "stem"], ["head", "block1", "exit1"]],
      [["kl1"], ["exit1", "block1", "block0", "stem"], ["head", "exit0"]],
      [["hint0"], ["exit0", "block0", "stem"], ["head", "block1", "exit1"]],
      [["deep"], ["head", "block1", "block0", "stem"], ["exit0", "exit1"]],
    ]
    for (const [terms, moves, stays] of cases) {
      const w = watchedState({ net: net() })
      const before = liveParams(w.state, "net")
      runSteps(onlyTerms(phase, terms, sgd), w.state, 1)
      const moved = movedGroups(before, liveParams(w.state, "net"))
      for (const g of moves) expect(moved, `${terms} moves ${g}`).toContain(g)
      for (const g of stays) expect(moved, `${terms} leaves ${g}`).not.toContain(g)
      w.dispose()
    }
  })
})
