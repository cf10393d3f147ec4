import * as tf from "@tensorflow/tfjs-core"
import { Result } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  Augment,
  Codec,
  Domain,
  Episodic,
  Loss,
  Model,
  Optimizer,
  Phase,
  type Pipeline,
  Step,
  Tta,
} from "../../dsl/index.js"
import multiViewDg, { make } from "../../pipelines/multi-view-dg.js"
import * as CompiledStep from "../../src/compile/step.js"
import * as Rng from "../../src/data/Rng.js"
import type * as Models from "../../src/models/index.js"
import { synthetic } from "../support/data.js"
import {
  batch,
  expectFiniteLosses,
  observe,
  ofTag,
  shrink,
  tiny,
  useWasm,
  valid,
  watchedState,
} from "./support.js"

/** The recipe, tiny: small CNN, small validation split, 2 TTA views. */
const small = (o: Parameters<typeof make>[0] = {}): Pipeline.Pipeline => {
  const p = shrink(make({ epochs: 2, views: 2, ...o }), { net: tiny.cnn() }, { batchSize: 16 })
  return { ...p, data: { ...p.data, validation: 48 } }
}

const issues = (p: Pipeline.Pipeline) => {
  const r = Codec.validate(p)
  return Result.isFailure(r) ? r.failure.issues.map((i) => `${i.path}: ${i.message}`) : []
}

describe("multi-view-dg recipe", () => {
  beforeAll(useWasm)

  it("validates and round-trips, with its ERM baseline", () => {
    valid(multiViewDg)
    expect(valid(make({ mldg: false })).name).toBe("multi-view-dg-erm")
    const ph = multiViewDg.phases[0]!
    expect(ph.data.domains).toEqual([0, 1, 2, 3, 4])
    expect(ph.evaluate.splits.map((s) => s.domains)).toEqual([[0, 1, 2, 3, 4], [5], undefined])
    expect(Step.describe(ph.step).at(-1)).toContain("MLDG")
  })

  it("rejects domain settings that cannot run", () => {
    const base = small()
    const ph = base.phases[0]!
    const noDomains = { ...base, data: { source: base.data.source, validation: 48 } }
    expect(issues(noDomains).join("\n")).toMatch(/phases\[0\]\.data\.domains: the data declares no domains/)
    expect(issues(noDomains).join("\n")).toMatch(
      /episodic: an episodic \(MLDG\) update needs data with domains/,
    )
    expect(issues(noDomains).join("\n")).toMatch(/perDomain: per-domain metrics need data with domains/)
    const bad = { ...base, phases: [{ ...ph, data: { domains: [0, 6, 0] } }] }
    expect(issues(bad)).toEqual([
      "phases[0].data.domains[1]: domain 6 does not exist: the data has 6 domains (0–5)",
      "phases[0].data.domains[2]: domain 0 is listed twice",
    ])
    expect(issues({ ...base, data: { ...base.data, domains: Domain.rotated([0, 0]) } }).join("\n")).toMatch(
      /angle 0 is listed twice/,
    )
    const mix = Tta.make({ views: [[Augment.mixup({ alpha: 1 })]] })
    expect(
      issues({ ...base, phases: [{ ...ph, evaluate: { ...ph.evaluate, tta: mix } }] }).join("\n"),
    ).toMatch(/tta\.views\[0\]\[0\]: Mixup mixes labels/)
    const one = { ...base, phases: [{ ...ph, data: { domains: [2] } }] }
    expect(issues(one).join("\n")).toMatch(/needs at least 2 training domains, the phase has 1/)
  })

  it("trains end to end: held-out, validation, per-domain, TTA metrics and a selected epoch", async () => {
    const o = await observe(valid(small()), { data: synthetic({ train: 240, test: 120 }), evalLimit: 200 })
    expectFiniteLosses(o.events)
    const m = o.phases[0]!.metrics
    for (const k of [
      "validation@d0+1+2+3+4/net/accuracy",
      "test@d5/net/accuracy",
      "test@d5/net/tta/accuracy",
      "test@d5/net/tta/nll",
      "test@d5/net/rot75/accuracy",
      "test/net/accuracy",
      "test/net/tta/accuracy",
      ...Domain.rotated().angles.map((a) => `test/net/rot${a}/accuracy`),
    ])
      expect(Number.isFinite(m[k]), k).toBe(true)
    // the held-out split holds only 75° samples; the validation split none of them
    expect(m["test@d5/net/rot0/accuracy"]).toBeUndefined()
    expect(m["validation@d0+1+2+3+4/net/rot75/accuracy"]).toBeUndefined()
    expect(m["test@d5/net/rot75/accuracy"]).toBe(m["test@d5/net/accuracy"])
    // the phase reports the evaluation with the best training-domain validation accuracy
    const evals = ofTag(o.events, "EvalResult").filter((e) => e.split === "validation@d0+1+2+3+4")
    expect(evals.map((e) => e.epoch)).toEqual([1, 2])
    const best = Math.max(...evals.map((e) => e.metrics["net/accuracy"]!))
    const chosen = evals.find((e) => e.metrics["net/accuracy"] === best)!
    expect(m["selected/epoch"]).toBe(chosen.epoch)
    expect(m["validation@d0+1+2+3+4/net/accuracy"]).toBe(best)
  })

  it("the held-out domain is never seen in training (asserted on every training batch)", async () => {
    // constant images: any rotation ≥ 15° zero-fills the corner pixel, 0° keeps it; hold out 0°
    const n = 180
    const x = new Float32Array(n * 784)
    for (let i = 0; i < n; i++) x.fill(0.2 + (0.8 * i) / n, i * 784, (i + 1) * 784)
    const split = { x, y: Int32Array.from({ length: n }, (_, i) => i % 10), n }
    const data = { name: "flat", classes: 10, shape: [28, 28, 1] as const, train: split, test: split }
    const seen = { train: [] as Array<[number, number]>, eval: [] as Array<[number, number]> }
    const builder: Models.CustomBuilder = (_o, { seed }) => {
      const w = tf.variable(tf.randomNormal([784, 10], 0, 0.01, "float32", seed))
      return {
        params: { w },
        apply: (params, input, opts) => {
          const v = input.dataSync()
          for (let i = 0; i < input.shape[0]; i++)
            (opts.train ? seen.train : seen.eval).push([v[i * 784]!, v[i * 784 + 13 * 28 + 13]!])
          return tf.matMul(tf.reshape(input, [input.shape[0], 784]), params.w as tf.Tensor2D)
        },
      }
    }
    const p = small({ heldOut: [0], epochs: 1 })
    const pipeline = valid({ ...p, models: { net: Model.custom("spy") } })
    const o = await observe(pipeline, { data, models: { spy: builder }, evalLimit: 1000 })
    expectFiniteLosses(o.events)
    expect(seen.train.length).toBeGreaterThan(60)
    // every training image is rotated (corner zero-filled), and its centre still carries its value
    for (const [corner, centre] of seen.train) {
      expect(corner).toBe(0)
      expect(centre).toBeGreaterThan(0.19)
    }
    // evaluation did see 0° images (the held-out split is exactly those)
    const upright = seen.eval.filter(([corner, centre]) => corner > 0 && Math.abs(corner - centre) < 1e-6)
    expect(upright.length).toBeGreaterThan(0)
    expect(o.phases[0]!.metrics["test@d0/net/rot0/accuracy"]).toBe(
      o.phases[0]!.metrics["test@d0/net/accuracy"],
    )
  })

  it("TTA with one identity view equals single-view evaluation", async () => {
    const p = small({ mldg: false, epochs: 1 })
    const ph = p.phases[0]!
    const one = {
      ...p,
      phases: [
        {
          ...ph,
          evaluate: {
            ...ph.evaluate,
            tta: Tta.make({ views: [[]] }),
            metrics: ["accuracy", "nll", "ece"] as const,
          },
        },
      ],
    } as Pipeline.Pipeline
    const o = await observe(valid(one), { data: synthetic({ train: 160, test: 96 }), evalLimit: 200 })
    const m = o.phases[0]!.metrics
    for (const split of ["test", "test@d5", "validation@d0+1+2+3+4"]) {
      expect(m[`${split}/net/tta/accuracy`]).toBe(m[`${split}/net/accuracy`])
      expect(m[`${split}/net/tta/nll`]).toBeCloseTo(m[`${split}/net/nll`]!, 5)
      expect(m[`${split}/net/tta/ece`]).toBeCloseTo(m[`${split}/net/ece`]!, 5)
    }
  })
})

describe("episodic (MLDG) update", () => {
  let w: ReturnType<typeof watchedState>
  beforeAll(async () => {
    await useWasm()
    w = watchedState({ net: Model.mlp({ hidden: [], classes: 10 }) })
  })
  afterAll(() => w.dispose())

  /** Cross-entropy gradient of a linear softmax model on some rows, by hand (float64). */
  const grad = (
    W: Float64Array,
    b: Float64Array,
    X: Float32Array,
    Y: Int32Array,
    rows: ReadonlyArray<number>,
  ) => {
    const gW = new Float64Array(W.length)
    const gb = new Float64Array(10)
    let loss = 0
    for (const r of rows) {
      const z = new Float64Array(10)
      for (let k = 0; k < 10; k++) {
        let s = b[k]!
        for (let i = 0; i < 784; i++) s += X[r * 784 + i]! * W[i * 10 + k]!
        z[k] = s
      }
      const mx = Math.max(...z)
      const e = z.map((v) => Math.exp(v - mx))
      const sum = e.reduce((a, v) => a + v, 0)
      loss += -Math.log(e[Y[r]!]! / sum)
      for (let k = 0; k < 10; k++) {
        const d = (e[k]! / sum - (Y[r] === k ? 1 : 0)) / rows.length
        gb[k]! += d
        for (let i = 0; i < 784; i++) gW[i * 10 + k]! += X[r * 784 + i]! * d
      }
    }
    return { gW, gb, loss: loss / rows.length }
  }

  it("applies ∇L_tr(θ) + β·∇L_te(θ − α·∇L_tr(θ)), the meta-test domain drawn from the step seed", () => {
    const [lr, alpha, beta] = [0.5, 0.3, 0.7]
    const e = Episodic.mldg({ innerLr: alpha, beta })
    const phase = Phase.make({
      name: "mldg",
      steps: 1,
      step: Step.start.pipe(
        Step.forward("net", { as: "o" }),
        Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
        Step.optimize("net", Optimizer.sgd({ lr }), { episodic: e }),
      ),
    })
    const slot = w.state.models.get("net")!
    const params = slot.params as { head: { kernel: tf.Variable; bias: tf.Variable } }
    const W0 = Float64Array.from(params.head.kernel.dataSync())
    const b0 = Float64Array.from(params.head.bias.dataSync())
    const b = batch(12)
    const domains = Int32Array.of(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2)
    const X = b.x.dataSync() as Float32Array
    const Y = b.labels.dataSync() as Int32Array
    const seed = 4242
    const compiled = CompiledStep.compile(phase, 0, w.state, 10)
    const r = compiled.run(
      { ...b, domains },
      { clock: { step: 0, epoch: 0, progress: 0 }, seed, endOfEpoch: false, metrics: true },
    )
    const loss = r.losses.loss!.dataSync()[0]!
    for (const t of new Set(Object.values(r.losses))) t.dispose()
    const W1 = params.head.kernel.dataSync()
    const b1 = params.head.bias.dataSync()
    const expected = (test: number) => {
      const rows = (keep: (d: number) => boolean) => [...domains.keys()].filter((i) => keep(domains[i]!))
      const tr = grad(
        W0,
        b0,
        X,
        Y,
        rows((d) => d !== test),
      )
      const Wp = W0.map((v, i) => v - alpha * tr.gW[i]!)
      const bp = b0.map((v, i) => v - alpha * tr.gb[i]!)
      const te = grad(
        Wp,
        bp,
        X,
        Y,
        rows((d) => d === test),
      )
      return {
        W: W0.map((v, i) => v - lr * (tr.gW[i]! + beta * te.gW[i]!)),
        b: b0.map((v, i) => v - lr * (tr.gb[i]! + beta * te.gb[i]!)),
        loss: tr.loss + beta * te.loss,
      }
    }
    const maxDiff = (a: ArrayLike<number>, c: ArrayLike<number>) => {
      let m = 0
      for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - c[i]!))
      return m
    }
    const fits = [0, 1, 2].map((t) => {
      const x = expected(t)
      return maxDiff(W1, x.W) < 2e-5 && maxDiff(b1, x.b) < 2e-5 && Math.abs(loss - x.loss) < 1e-4
    })
    // exactly one choice of meta-test domain explains the update: the seeded one
    expect(fits.filter(Boolean)).toHaveLength(1)
    const chosen = Episodic.split([0, 1, 2], 1, Rng.derive(seed, "episode", 2) >>> 0).test
    expect(fits.indexOf(true)).toBe(chosen[0])
    // and it is not a plain step on the whole batch
    const plain = grad(W0, b0, X, Y, [...domains.keys()])
    expect(
      maxDiff(
        W1,
        W0.map((v, i) => v - lr * plain.gW[i]!),
      ),
    ).toBeGreaterThan(1e-4)
    b.x.dispose()
    b.labels.dispose()
  })

  it("splits a batch's domains into meta-train and meta-test, seeded; one domain: a plain step", () => {
    const s = Episodic.split([3, 1, 4, 1, 0], 2, 9)
    expect([...s.train, ...s.test].sort()).toEqual([0, 1, 3, 4])
    expect(s.test).toHaveLength(2)
    expect(Episodic.split([3, 1, 4, 1, 0], 2, 9)).toEqual(s)
    expect(Episodic.split([2, 2], 1, 9)).toEqual({ train: [2], test: [] })
    const tests = new Set(Array.from({ length: 40 }, (_, i) => Episodic.split([0, 1, 2, 3], 1, i).test[0]))
    expect(tests.size).toBe(4)
    expect(Episodic.split([0, 1], 5, 1).test).toHaveLength(1)
  })

  it("leaks no tensors over episodic steps", () => {
    const phase = Phase.make({
      name: "mldg",
      steps: 3,
      step: Step.start.pipe(
        Step.forward("net", { as: "o" }),
        Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
        Step.optimize("net", Optimizer.adam({ lr: 1e-3 }), { episodic: Episodic.mldg({ metaTest: 2 }) }),
      ),
    })
    const compiled = CompiledStep.compile(phase, 1, w.state, 10)
    const b = { ...batch(12), domains: Int32Array.of(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3) }
    const step = (i: number) =>
      compiled.run(b, {
        clock: { step: i, epoch: 0, progress: 0 },
        seed: 7 + i,
        endOfEpoch: false,
        metrics: false,
      })
    step(0) // creates the optimiser state
    const before = tf.memory().numTensors
    for (let i = 1; i < 4; i++) step(i)
    expect(tf.memory().numTensors).toBe(before)
    b.x.dispose()
    b.labels.dispose()
  })

  it("fails with a clear error when the batch has no domain labels", () => {
    const phase = Phase.make({
      name: "mldg",
      steps: 1,
      step: Step.start.pipe(
        Step.forward("net", { as: "o" }),
        Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
        Step.optimize("net", Optimizer.sgd({ lr: 0.1 }), { episodic: Episodic.mldg() }),
      ),
    })
    const compiled = CompiledStep.compile(phase, 0, w.state, 10)
    const b = batch(4)
    expect(() =>
      compiled.run(b, {
        clock: { step: 0, epoch: 0, progress: 0 },
        seed: 1,
        endOfEpoch: false,
        metrics: false,
      }),
    ).toThrow(/needs the domain of each sample/)
    b.x.dispose()
    b.labels.dispose()
  })
})
