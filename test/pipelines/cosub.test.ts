import * as tf from "@tensorflow/tfjs-core"
import { beforeAll, describe, expect, it } from "vitest"
import { Optimizer } from "../../dsl/index.js"
import cosub, { make } from "../../pipelines/cosub.js"
import * as Models from "../../src/models/index.js"
import {
  applied,
  batch,
  expectFiniteLosses,
  liveParams,
  observe,
  ofTag,
  onlyTerms,
  relativeDiff,
  runSteps,
  shrink,
  tiny,
  twoPassGradients,
  useWasm,
  valid,
  watchedState,
} from "./support.js"

const bce = (logits: ArrayLike<number>, target: ArrayLike<number>): number => {
  let s = 0
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i]!
    s += Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))) - x * target[i]!
  }
  return s / logits.length
}
const sigmoid = (xs: ArrayLike<number>) => Array.from(xs, (x) => 1 / (1 + Math.exp(-x)))
const oneHot = (labels: ArrayLike<number>) =>
  Array.from({ length: labels.length * 10 }, (_, i) => (labels[Math.floor(i / 10)] === i % 10 ? 1 : 0))

describe("cosub recipe", () => {
  beforeAll(useWasm)

  it("validates", () => {
    valid(cosub)
    valid(make({ epochs: 1, seed: 4 }))
  })

  it("trains end to end with the four BCE terms, each weighted ¼", async () => {
    const o = await observe(valid(shrink(make({ epochs: 1 }), { net: tiny.resnet() })), { maxSteps: 3 })
    expectFiniteLosses(o.events)
    for (const s of ofTag(o.events, "StepMetrics")) {
      const t = s.terms
      expect(Object.keys(t).sort()).toEqual(["loss.m12", "loss.m21", "loss.y1", "loss.y2"])
      expect(s.loss).toBeCloseTo(0.25 * (t["loss.y1"]! + t["loss.y2"]! + t["loss.m12"]! + t["loss.m21"]!), 5)
    }
    expect(Number.isFinite(o.phases[0]!.metrics["test/net/accuracy"])).toBe(true)
  })

  it("the two submodels of one step draw different drop-path masks; the terms are BCE against labels and σ(other)", () => {
    const w = watchedState({ net: tiny.resnet() })
    const b = batch(16)
    const [losses] = runSteps(make().phases[0]!, w.state, 1, { batch: b })
    expect(w.calls).toHaveLength(2)
    const [o1, o2] = w.calls as [(typeof w.calls)[0], (typeof w.calls)[0]]
    expect(o1.options.train && o2.options.train).toBe(true)
    expect(o1.options.seed).not.toBe(o2.options.seed)
    expect([...o1.masks.keys()].sort()).toEqual(["dropPath/block0", "dropPath/block1"])
    let differ = 0
    for (const k of o1.masks.keys())
      if (o1.masks.get(k)!.values.some((v, i) => v !== o2.masks.get(k)!.values[i])) differ++
    expect(differ).toBeGreaterThan(0)
    // the drop masks are per sample, and some samples are dropped
    expect(o1.masks.get("dropPath/block1")!.shape).toEqual([16, 1, 1, 1])
    expect([...o1.masks.values()].some((m) => m.values.includes(0))).toBe(true)
    const y = oneHot(b.labels.dataSync())
    const l1 = o1.heads.logits!
    const l2 = o2.heads.logits!
    expect(losses!["loss.y1"]).toBeCloseTo(bce(l1, y), 5)
    expect(losses!["loss.y2"]).toBeCloseTo(bce(l2, y), 5)
    expect(losses!["loss.m12"]).toBeCloseTo(bce(l1, sigmoid(l2)), 5)
    expect(losses!["loss.m21"]).toBeCloseTo(bce(l2, sigmoid(l1)), 5)
    b.x.dispose()
    b.labels.dispose()
    w.dispose()
  })

  it("the mutual terms use detached targets: with only m12, the gradient flows through o₁ alone", () => {
    const w = watchedState({ net: tiny.resnet() })
    const b = batch(16)
    const slot = w.state.models.get("net")!
    const before = liveParams(w.state, "net")
    runSteps(onlyTerms(make().phases[0]!, ["m12"], Optimizer.sgd({ lr: 1 })), w.state, 1, { batch: b })
    const step = applied(before, liveParams(w.state, "net"))
    // recompute the two passes with the weights before the step
    const params = Object.fromEntries(
      [...before].map(([k, v]) => [k, tf.variable(tf.tensor(v, Models.Tree.get(slot.params, k).shape))]),
    )
    const tree = Models.Tree.unflatten(params)
    const [o1, o2] = w.calls as [(typeof w.calls)[0], (typeof w.calls)[0]]
    const g = twoPassGradients(slot.built, tree, b.x, o1.options, o2.options, (s, t) =>
      tf.mean(tf.sub(tf.add(tf.relu(s), tf.log1p(tf.exp(tf.neg(tf.abs(s))))), tf.mul(s, tf.sigmoid(t)))),
    )
    expect(relativeDiff(step, g.detached)).toBeLessThan(1e-3)
    // differentiating through the target too would have given a different step
    expect(relativeDiff(step, g.through)).toBeGreaterThan(1e-2)
    Models.Tree.dispose(tree)
    b.x.dispose()
    b.labels.dispose()
    w.dispose()
  })
})
