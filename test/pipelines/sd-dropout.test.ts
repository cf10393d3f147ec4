import * as tf from "@tensorflow/tfjs-core"
import { beforeAll, describe, expect, it } from "vitest"
import { Optimizer } from "../../dsl/index.js"
import sdDropout, { make } from "../../pipelines/sd-dropout.js"
import * as Models from "../../src/models/index.js"
import {
  applied,
  batch,
  crossEntropy,
  expectFiniteLosses,
  kl,
  liveParams,
  observe,
  ofTag,
  onlyTerms,
  relativeDiff,
  rows,
  runSteps,
  shrink,
  tiny,
  twoPassGradients,
  useWasm,
  valid,
  watchedState,
} from "./support.js"

const directions = ["forward", "reverse", "symmetric"] as const

describe("sd-dropout recipe", () => {
  beforeAll(useWasm)

  it("validates in every direction", () => {
    valid(sdDropout)
    for (const direction of directions)
      expect(valid(make({ direction, beta: 0.5, temperature: 2 })).name).toBe(`sd-dropout-${direction}`)
  })

  it("forward, reverse and both directions train end to end; ECE is reported", async () => {
    for (const direction of directions) {
      const o = await observe(
        valid(shrink(make({ direction, epochs: 1, beta: 0.5 }), { net: tiny.mlp(0.3) })),
        { maxSteps: 2 },
      )
      expectFiniteLosses(o.events)
      for (const s of ofTag(o.events, "StepMetrics")) {
        const t = s.terms
        expect(Object.keys(t).sort()).toEqual(["loss.ab", "loss.ba", "loss.ce"])
        // L = CE(a) + β·½[KL(b‖a) + KL(a‖b)], β = 0.5
        expect(s.loss).toBeCloseTo(t["loss.ce"]! + 0.25 * (t["loss.ab"]! + t["loss.ba"]!), 5)
      }
      const m = o.phases[0]!.metrics
      for (const k of ["accuracy", "nll", "ece"]) expect(Number.isFinite(m[`test/net/${k}`])).toBe(true)
    }
  })

  it("the two samples a and b get different dropout masks; the KL terms follow the direction", () => {
    for (const direction of directions) {
      const w = watchedState({ net: tiny.mlp(0.3) })
      const b = batch(16)
      const [losses] = runSteps(make({ direction, temperature: 2 }).phases[0]!, w.state, 1, { batch: b })
      expect(w.calls).toHaveLength(2)
      const [a, bb] = w.calls as [(typeof w.calls)[0], (typeof w.calls)[0]]
      expect(a.options.seed).not.toBe(bb.options.seed)
      const ma = a.masks.get("dropout/hidden0")!.values
      const mb = bb.masks.get("dropout/hidden0")!.values
      expect(ma.length).toBe(16 * 16)
      expect(ma.some((v, i) => v !== mb[i])).toBe(true)
      // about 30% of the units are dropped, the rest scaled by 1/(1−p)
      const dropped = ma.filter((v) => v === 0).length / ma.length
      expect(dropped).toBeGreaterThan(0.15)
      expect(dropped).toBeLessThan(0.45)
      for (const v of ma) if (v !== 0) expect(v).toBeCloseTo(1 / 0.7, 5)
      const la = rows(a.heads.logits!)
      const lb = rows(bb.heads.logits!)
      const klOf = (t: typeof la, s: typeof la) =>
        direction === "symmetric" ? (kl(t, s, 2) + kl(t, s, 2, "reverse")) / 2 : kl(t, s, 2, direction)
      expect(losses!["loss.ce"]).toBeCloseTo(crossEntropy(la, b.labels.dataSync()), 4)
      expect(losses!["loss.ab"]).toBeCloseTo(klOf(lb, la), 4)
      expect(losses!["loss.ba"]).toBeCloseTo(klOf(la, lb), 4)
      b.x.dispose()
      b.labels.dispose()
      w.dispose()
    }
  })

  it("the teacher sample is detached: with only KL(bᵈ ‖ a), the gradient flows through a alone", () => {
    const w = watchedState({ net: tiny.mlp(0.3) })
    const b = batch(16)
    const slot = w.state.models.get("net")!
    const before = liveParams(w.state, "net")
    runSteps(onlyTerms(make().phases[0]!, ["ab"], Optimizer.sgd({ lr: 1 })), w.state, 1, { batch: b })
    const step = applied(before, liveParams(w.state, "net"))
    const tree = Models.Tree.unflatten(
      Object.fromEntries(
        [...before].map(([k, v]) => [k, tf.variable(tf.tensor(v, Models.Tree.get(slot.params, k).shape))]),
      ),
    )
    const [a, bb] = w.calls as [(typeof w.calls)[0], (typeof w.calls)[0]]
    const g = twoPassGradients(slot.built, tree, b.x, a.options, bb.options, (s, t) => {
      const lt = tf.logSoftmax(t)
      return tf.mean(tf.sum(tf.mul(tf.exp(lt), tf.sub(lt, tf.logSoftmax(s))), -1))
    })
    expect(relativeDiff(step, g.detached)).toBeLessThan(1e-3)
    expect(relativeDiff(step, g.through)).toBeGreaterThan(1e-2)
    Models.Tree.dispose(tree)
    b.x.dispose()
    b.labels.dispose()
    w.dispose()
  })
})
