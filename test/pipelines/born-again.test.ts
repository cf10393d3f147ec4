import { beforeAll, describe, expect, it } from "vitest"
import bornAgain, { make } from "../../pipelines/born-again.js"
import {
  batch,
  crossEntropy,
  expectFiniteLosses,
  kl,
  maxDiff,
  observe,
  ofTag,
  paramsOf,
  rows,
  runSteps,
  shrink,
  tiny,
  useWasm,
  valid,
  watchedState,
} from "./support.js"

const K = 2
const small = () =>
  shrink(
    make({ generations: K, epochs: 1 }),
    Object.fromEntries(Array.from({ length: K + 1 }, (_, i) => [`gen${i}`, tiny.cnn()])),
  )

describe("born-again recipe", () => {
  beforeAll(useWasm)

  it("validates, with its variants", () => {
    valid(bornAgain)
    valid(make({ generations: 5, alpha: 0.5, temperature: 2, epochs: 1 }))
    expect(bornAgain.phases.map((p) => p.name)).toEqual(["gen0", "gen1", "gen2", "gen3"])
  })

  it("each generation is distilled from the previous one, which stays as it finished; each starts fresh; the ensemble is evaluated", async () => {
    const steps = 3
    const o = await observe(valid(small()), { maxSteps: steps, snapshots: true })
    expectFiniteLosses(o.events)
    expect(o.phases.map((p) => p.phase)).toEqual(["gen0", "gen1", "gen2"])
    for (const s of ofTag(o.events, "StepMetrics").filter((e) => e.phase !== "gen0"))
      expect(Object.keys(s.terms).sort()).toEqual(["loss.ce", "loss.kd"])

    const end = (g: number) => o.snapshots.find((s) => s.phase === `gen${g}` && s.phaseEnd)!
    const during = (g: number) => o.snapshots.filter((s) => s.phase === `gen${g}` && !s.phaseEnd)
    for (let g = 1; g <= K; g++) {
      const teacherFinal = paramsOf(end(g - 1).tensors, `gen${g - 1}`)
      // the teacher of generation g is generation g−1 exactly as it finished, unchanged through the phase
      expect(during(g)).toHaveLength(steps - 1)
      for (const s of [...during(g), end(g)])
        expect(maxDiff(paramsOf(s.tensors, `gen${g - 1}`), teacherFinal)).toBe(0)
      // generation g starts fresh: after one Adam step (lr 1e-3) it is far from both the teacher's
      // final weights and the teacher's own weights after its first step
      const first = paramsOf(during(g)[0]!.tensors, `gen${g}`)
      expect(maxDiff(first, teacherFinal)).toBeGreaterThan(0.05)
      expect(maxDiff(first, paramsOf(during(g - 1)[0]!.tensors, `gen${g - 1}`))).toBeGreaterThan(0.05)
    }
    // the last generation is evaluated with the ensemble of all generations, and agreement with its teacher
    const last = o.phases.at(-1)!.metrics
    for (const k of [
      "test/ensemble/accuracy",
      "test/ensemble/nll",
      "test/gen2/accuracy",
      "test/gen2/agreement",
    ])
      expect(Number.isFinite(last[k])).toBe(true)
    expect(o.phases[1]!.metrics["test/ensemble/accuracy"]).toBeUndefined()
  })

  it("a generation's loss is (1−α)·CE + α·T²·KL against the frozen previous generation", () => {
    const p = make({ generations: 2, alpha: 0.6, temperature: 2 })
    const w = watchedState({ gen0: tiny.cnn(), gen1: tiny.cnn() })
    const b = batch(16)
    const [losses] = runSteps(p.phases[1]!, w.state, 1, { batch: b })
    const t = w.calls.find((c) => c.model === "gen0")!
    const s = w.calls.find((c) => c.model === "gen1")!
    expect(t.options.train).toBe(false)
    const ce = crossEntropy(rows(s.heads.logits!), b.labels.dataSync())
    const kdValue = kl(rows(t.heads.logits!), rows(s.heads.logits!), 2)
    expect(losses!.loss).toBeCloseTo(0.4 * ce + 0.6 * kdValue, 4)
    b.x.dispose()
    b.labels.dispose()
    w.dispose()
  })
})
