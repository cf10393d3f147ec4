import { beforeAll, describe, expect, it } from "vitest"
import { Augment, type Phase, type Pipeline, Ramp, Step } from "../../dsl/index.js"
import place, { make, shifted } from "../../pipelines/place.js"
import {
  expectFiniteLosses,
  observe,
  ofTag,
  runSteps,
  shrink,
  tiny,
  useWasm,
  valid,
  watchedState,
} from "./support.js"

const layers = ["conv0", "conv1", "dense0"]

/*
 * The tap to drop channels at is chosen per step from `layers` with an unsigned hash of the step
 * seed (a signed hash once made the index negative half the time; these tests guard that).
 */

/** The recipe with channel drop restricted to one tap. */
const oneTap = (p: Pipeline.Pipeline, layer: string): Pipeline.Pipeline => ({
  ...p,
  phases: p.phases.map((ph) => oneTapPhase(ph, layer)),
})
const oneTapPhase = (ph: Phase.Phase, layer: string): Phase.Phase => ({
  ...ph,
  step: Step.make(
    ph.step.stages.map((s) =>
      s._tag === "Forward" && s.channelDrop
        ? { ...s, channelDrop: { ...s.channelDrop, layers: [layer] } }
        : s,
    ),
  ),
})

describe("place recipe", () => {
  beforeAll(useWasm)

  it("validates, with its baseline", () => {
    valid(place)
    expect(valid(make({ baseline: true })).name).toBe("place-baseline")
    expect(shifted.map((s) => (s.corruption ? Augment.name(s.corruption, s.split) : s.split))).toEqual([
      "test",
      "test:rotation@3",
      "test:gaussianNoise@3",
      "test:blur@3",
      "test:contrast@3",
    ])
  })

  const endToEnd = async (p: Pipeline.Pipeline) => {
    const steps = 4
    const o = await observe(valid(p), { maxSteps: steps })
    expectFiniteLosses(o.events)
    const rate = Ramp.arctan({ max: 0.4, v: 2 })
    ofTag(o.events, "StepMetrics").forEach((e, i) => {
      expect(e.hyper["net.channelDrop"]).toBeCloseTo(
        Ramp.evaluate(rate, { step: i, epoch: 0, progress: i / steps }),
        10,
      )
    })
    const m = o.phases[0]!.metrics
    for (const split of ["test", "test:rotation@3", "test:gaussianNoise@3", "test:blur@3", "test:contrast@3"])
      for (const k of ["accuracy", "nll"]) expect(Number.isFinite(m[`${split}/net/${k}`])).toBe(true)
    expect(new Set(ofTag(o.events, "EvalResult").map((e) => e.split))).toEqual(
      new Set(["test", "test:rotation@3", "test:gaussianNoise@3", "test:blur@3", "test:contrast@3"]),
    )
  }
  const recipe = () => shrink(make({ epochs: 1, maxRate: 0.4, v: 2 }), { net: tiny.cnn() })

  it("trains end to end with the ramped rate reported, evaluated on the clean and shifted test splits", () =>
    endToEnd(recipe()))

  it("one-tap variant: trains end to end with the ramped rate reported, evaluated on the clean and shifted test splits", () =>
    endToEnd(oneTap(recipe(), "conv1")))

  it("the baseline trains end to end and is evaluated on the shifted splits", async () => {
    const base = await observe(valid(shrink(make({ epochs: 1, baseline: true }), { net: tiny.cnn() })), {
      maxSteps: 2,
    })
    expectFiniteLosses(base.events)
    expect(Number.isFinite(base.phases[0]!.metrics["test:rotation@3/net/accuracy"])).toBe(true)
  })

  /** Runs 10 steps and checks every step's channel drop; returns the taps chosen. */
  const dropsAt = (phase: Phase.Phase, allowed: ReadonlyArray<string>): Set<string> => {
    const steps = 10
    const w = watchedState({ net: tiny.cnn() })
    runSteps(phase, w.state, steps)
    expect(w.calls).toHaveLength(steps)
    const chosen = new Set<string>()
    w.calls.forEach((c, t) => {
      const expected = 0.5 * (2 / Math.PI) * Math.atan(t / 3)
      if (t === 0) {
        // p(0) = 0: nothing dropped
        expect(c.options.channelDrop).toBeUndefined()
        expect([...c.masks.keys()].filter((k) => k.startsWith("channelDrop"))).toEqual([])
        return
      }
      const drop = c.options.channelDrop!
      expect(drop.rate).toBeCloseTo(expected, 10)
      expect(allowed).toContain(drop.layer)
      chosen.add(drop.layer)
      // one mask, at the chosen tap, per sample and channel, with values 0 or 1/(1−p)
      expect([...c.masks.keys()]).toEqual([`channelDrop/${drop.layer}`])
      const mask = c.masks.get(`channelDrop/${drop.layer}`)!
      const channels = mask.shape.at(-1)!
      expect(mask.shape[0]).toBe(16)
      expect(mask.shape.slice(1, -1).every((d) => d === 1)).toBe(true)
      expect(mask.values.every((v) => v === 0 || Math.abs(v - 1 / (1 - drop.rate)) < 1e-5)).toBe(true)
      // the features after the tap have those channels zeroed
      const features = c.taps[drop.layer]!
      const perSample = features.length / 16
      let leaked = 0
      for (let s = 0; s < 16; s++)
        for (let j = 0; j < perSample; j++)
          if (mask.values[s * channels + (j % channels)] === 0 && features[s * perSample + j] !== 0) leaked++
      expect(leaked).toBe(0)
    })
    // some channels were dropped in all
    expect(w.calls.some((c) => [...c.masks.values()].some((m) => m.values.includes(0)))).toBe(true)
    w.dispose()
    return chosen
  }

  it("each step drops whole channels at one randomly chosen tap, at the rate p(t) = p_max·(2/π)·arctan(t/v)", () => {
    const chosen = dropsAt(make({ maxRate: 0.5, v: 3 }).phases[0]!, layers)
    // different steps pick different taps
    expect(chosen.size).toBeGreaterThan(1)
  })

  it("one-tap variant: each step drops whole channels at the tap, at the rate p(t) = p_max·(2/π)·arctan(t/v)", () => {
    for (const layer of layers)
      expect(dropsAt(oneTapPhase(make({ maxRate: 0.5, v: 3 }).phases[0]!, layer), [layer])).toEqual(
        new Set([layer]),
      )
  })

  it("the baseline never drops channels", () => {
    const w = watchedState({ net: tiny.cnn() })
    runSteps(make({ baseline: true }).phases[0]!, w.state, 3)
    for (const c of w.calls) {
      expect(c.options.channelDrop).toBeUndefined()
      expect(c.masks.size).toBe(0)
    }
    w.dispose()
  })
})
