import * as tf from "@tensorflow/tfjs-core"
import { Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { Codec, Loss, Model, Step } from "../../dsl/index.js"
import tstRecipe, { make } from "../../pipelines/tst.js"
import * as Losses from "../../src/compile/losses.js"
import * as Augmenter from "../../src/models/Augmenter.js"
import {
  expectFiniteLosses,
  maxDiff,
  observe,
  ofTag,
  paramsOf,
  shrink,
  tiny,
  useWasm,
  valid,
} from "./support.js"

/** An augmenter with its logits set by hand. */
const withLogits = (
  ops: ReadonlyArray<Model.AugmenterOp>,
  magnitude: ReadonlyArray<number>,
  probability: ReadonlyArray<number>,
) => {
  const built = Augmenter.build(Model.augmenter({ ops }), 1)
  const p = built.params as Record<string, tf.Variable>
  p.magnitude!.assign(tf.tensor1d([...magnitude]))
  p.probability!.assign(tf.tensor1d([...probability]))
  return built
}
const image = () =>
  tf.tensor4d(
    Float32Array.from({ length: 2 * 4 * 4 }, (_, i) => (i % 16) / 16),
    [2, 4, 4, 1],
  )

describe("the TST augmenter", () => {
  beforeAll(useWasm)

  it("applies each op exactly when its gate is open, and is the identity when it is shut", () => {
    const x = image()
    const xs = x.arraySync() as Array<Array<Array<Array<number>>>>
    // brightness: x + 0.5·tanh(a)
    const a = Math.atanh(0.4)
    const bright = withLogits(["brightness"], [a], [30]).apply(
      withLogits(["brightness"], [a], [30]).params,
      x,
      { train: true, seed: 3 },
    )
    expect(
      maxDiff(
        new Map([["x", bright.logits.dataSync() as Float32Array]]),
        new Map([["x", Float32Array.from(x.dataSync(), (v) => v + 0.2)]]),
      ),
    ).toBeLessThan(1e-5)
    const shut = withLogits(["brightness"], [a], [-30])
    expect(
      maxDiff(
        new Map([
          ["x", shut.apply(shut.params, x, { train: true, seed: 3 }).logits.dataSync() as Float32Array],
        ]),
        new Map([["x", x.dataSync() as Float32Array]]),
      ),
    ).toBeLessThan(1e-6)
    // translateX by d = 3·tanh(a) = 1.5: the mean of the shifts by 1 and by 2 columns (zero fill)
    const t = withLogits(["translateX"], [Math.atanh(0.5)], [30])
    const out = t.apply(t.params, x, { train: true, seed: 3 }).logits.arraySync() as unknown as Array<
      Array<Array<Array<number>>>
    >
    for (let b = 0; b < 2; b++)
      for (let r = 0; r < 4; r++)
        for (let c = 0; c < 4; c++) {
          const at = (k: number) => (c - k >= 0 ? xs[b]![r]![c - k]![0]! : 0)
          expect(out[b]![r]![c]![0]!).toBeCloseTo(0.5 * at(1) + 0.5 * at(2), 5)
        }
    // contrast: x̄ + (1 + 0.8·tanh(a))·(x − x̄) per image
    const k = withLogits(["contrast"], [Math.atanh(0.5)], [30])
    const ko = k.apply(k.params, x, { train: true, seed: 3 }).logits.arraySync() as unknown as Array<
      Array<Array<Array<number>>>
    >
    const mean = xs[0]!.flat(2).reduce((s, v) => s + v, 0) / 16
    expect(ko[0]![1]![2]![0]!).toBeCloseTo(mean + 1.4 * (xs[0]![1]![2]![0]! - mean), 5)
  })

  it("its magnitudes and probabilities get gradients (a fractional shift's matches a finite difference)", () => {
    const x = image()
    const built = withLogits(["translateY", "brightness"], [0.3, 0.2], [0, 0])
    const p = built.params as Record<string, tf.Variable>
    const f = () =>
      tf.sum(tf.square(built.apply(built.params, x, { train: true, seed: 9 }).logits)) as tf.Scalar
    const { grads } = tf.variableGrads(f, [p.magnitude!, p.probability!])
    const gm = grads[p.magnitude!.name]!.dataSync()
    const gp = grads[p.probability!.name]!.dataSync()
    expect(Math.abs(gm[0]!)).toBeGreaterThan(1e-4)
    expect(Math.abs(gp[0]!)).toBeGreaterThan(1e-6)
    // the same seed gives the same gates: a central difference in the shift's magnitude
    const h = 1e-3
    const at = (v: number) => {
      p.magnitude!.assign(tf.tensor1d([v, 0.2]))
      return f().dataSync()[0]!
    }
    const fd = (at(0.3 + h) - at(0.3 - h)) / (2 * h)
    expect(Math.abs(gm[0]! - fd)).toBeLessThan(0.02 * Math.abs(fd) + 1e-3)
  })

  it("validates its ops and gate temperature", () => {
    expect(Model.check(Model.augmenter({ ops: [] })).map((i) => i.message)).toEqual([
      "an augmenter needs at least one op",
    ])
    expect(Model.check(Model.augmenter({ ops: ["noise", "noise"] })).map((i) => i.path)).toEqual(["ops[1]"])
    expect(Model.check(Model.augmenter({ temperature: 0 })).map((i) => i.path)).toEqual(["temperature"])
    expect(Model.describe(Model.augmenter({ ops: ["noise"] }))).toBe(
      "augmenter 28×28×1 [noise], relaxed-Bernoulli gates τ=0.05",
    )
  })
})

describe("Loss.tst", () => {
  beforeAll(useWasm)
  it("is −log p_t(y) − log(1 − p_s(y)), low where the teacher is right and the student wrong", () => {
    const t = tf.tensor2d([
      [2, 0, -1],
      [0, 1, 0],
    ])
    const s = tf.tensor2d([
      [-1, 1, 0.5],
      [0.2, 0.1, 0],
    ])
    const y = tf.cast(tf.oneHot(tf.tensor1d([0, 1], "int32"), 3), "float32") as tf.Tensor2D
    const ctx: Losses.LossContext = {
      get: (r) => (Loss.refName(r) === "t" ? t : s),
      y,
      hyper: () => 0,
      projection: () => {
        throw new Error("no projection")
      },
    }
    const got = Losses.compute(Loss.tst({ teacher: "t", student: "s" }), ctx, "tst").dataSync()[0]!
    const sm = (v: ReadonlyArray<number>) => {
      const e = v.map(Math.exp)
      const z = e.reduce((a, b) => a + b, 0)
      return e.map((x) => x / z)
    }
    const want =
      (-Math.log(sm([2, 0, -1])[0]!) -
        Math.log(1 - sm([-1, 1, 0.5])[0]!) +
        -Math.log(sm([0, 1, 0])[1]!) -
        Math.log(1 - sm([0.2, 0.1, 0])[1]!)) /
      2
    expect(got).toBeCloseTo(want, 5)
  })
})

describe("tst recipe", () => {
  beforeAll(useWasm)

  it("validates and round-trips; the step updates the augmenter, then the student on original and augmented images", () => {
    valid(tstRecipe)
    const back = Codec.fromJson(Codec.toJson(tstRecipe))
    expect(Result.isSuccess(back) && back.success).toEqual(tstRecipe)
    const d = Step.describe(tstRecipe.phases[1]!.step).join("\n")
    expect(d).toMatch(/forward teacher \(eval\) → ta/)
    expect(d).toMatch(/optimize augmenter on lossG/)
    expect(d).toMatch(/0\.45·kl\(tb ‖ sb, T=4\) \[kdAug\]/)
  })

  it("trains end to end: the augmenter and the TST student learn, the teacher does not; KD never touches the augmenter", async () => {
    const p = shrink(make({ teacherEpochs: 1, studentEpochs: 2, limit: 64 }), {
      teacher: tiny.cnn(),
      tstStudent: tiny.mlp(),
      kdStudent: tiny.mlp(),
      randomStudent: tiny.mlp(),
    })
    const o = await observe(valid(p), { snapshots: true })
    expectFiniteLosses(o.events)
    expect(
      ofTag(o.events, "StepMetrics").some(
        (s) => s.phase === "tst" && Number.isFinite(s.terms["lossG.tst"] ?? s.terms.tst ?? Number.NaN),
      ),
    ).toBe(true)
    const tst = o.snapshots.filter((s) => s.phase === "tst")
    const kd = o.snapshots.filter((s) => s.phase === "kd")
    const first = tst[0]!.tensors
    const last = tst.at(-1)!.tensors
    expect(maxDiff(paramsOf(first, "augmenter"), paramsOf(last, "augmenter"))).toBeGreaterThan(1e-6)
    expect(maxDiff(paramsOf(first, "tstStudent"), paramsOf(last, "tstStudent"))).toBeGreaterThan(1e-6)
    expect(maxDiff(paramsOf(first, "teacher"), paramsOf(last, "teacher"))).toBe(0)
    expect(maxDiff(paramsOf(kd[0]!.tensors, "augmenter"), paramsOf(kd.at(-1)!.tensors, "augmenter"))).toBe(0)
    // the control: its augmenter keeps its random start (not the identity), its student learns
    const random = o.snapshots.filter((s) => s.phase === "random-aug")
    const start = paramsOf(random[0]!.tensors, "randomAugmenter").get("magnitude")!
    expect(Math.max(...start.map(Math.abs))).toBeGreaterThan(0.05)
    expect(
      maxDiff(
        paramsOf(random[0]!.tensors, "randomAugmenter"),
        paramsOf(random.at(-1)!.tensors, "randomAugmenter"),
      ),
    ).toBe(0)
    expect(
      maxDiff(
        paramsOf(random[0]!.tensors, "randomStudent"),
        paramsOf(random.at(-1)!.tensors, "randomStudent"),
      ),
    ).toBeGreaterThan(1e-6)
    expect(make({ control: false }).phases.map((ph) => ph.name)).toEqual(["teacher", "tst", "kd"])
    expect(
      o.phases.find((ph) => ph.phase === "tst")!.metrics["test/tstStudent/accuracy"],
    ).toBeGreaterThanOrEqual(0)
  }, 60_000)
})
