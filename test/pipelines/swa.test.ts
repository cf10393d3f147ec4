import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import swa, { make } from "../../pipelines/swa.js"
import * as Models from "../../src/models/index.js"
import {
  data,
  expectFiniteLosses,
  maxDiff,
  observe,
  ofTag,
  paramsOf,
  shrink,
  type Tensors,
  tiny,
  useWasm,
  valid,
} from "./support.js"

const net = () => tiny.cnn({ batchNorm: true })

/** A model's parameters (or state) from a snapshot as a tree of fresh variables. */
const treeOf = (t: Tensors, model: string, kind: "params" | "state", like: Models.Tree.Tree) =>
  Models.Tree.unflatten(
    Object.fromEntries(
      [...paramsOf(t, model, kind)].map(([k, v]) => [
        k,
        tf.variable(tf.tensor(v, Models.Tree.get(like, k).shape), false),
      ]),
    ),
  )

describe("swa recipe", () => {
  beforeAll(useWasm)

  it("validates, constant and cyclical", () => {
    valid(swa)
    valid(make({ schedule: "cyclical", swaLr: 0.05, epochs: 2, swaEpochs: 4 }))
  })

  it("SWA is the mean of the per-epoch weights, EMA follows its decay, and the average's batch-norm statistics are recomputed", async () => {
    const perEpoch = 4 // 64 images, batches of 16
    const o = await observe(valid(shrink(make({ epochs: 1, swaEpochs: 3 }), { net: net() })), {
      snapshots: true,
    })
    expectFiniteLosses(o.events)
    expect(o.phases.map((p) => p.phase)).toEqual(["train", "swa"])
    const m = o.phases[1]!.metrics
    for (const t of ["net", "net_swa", "net_ema"]) expect(Number.isFinite(m[`test/${t}/accuracy`])).toBe(true)
    // evaluated after every epoch
    expect(ofTag(o.events, "EvalResult").filter((e) => e.phase === "swa")).toHaveLength(3)

    const snaps = o.snapshots.filter((s) => s.phase === "swa")
    expect(snaps.map((s) => s.step)).toEqual(Array.from({ length: 3 * perEpoch }, (_, i) => i + 1))
    const at = (step: number) => snaps.find((s) => s.step === step)!.tensors

    // SWA: after epoch e, the mean of the model's weights at the ends of epochs 1..e
    const ends = [1, 2, 3].map((e) => paramsOf(at(e * perEpoch), "net"))
    for (let e = 1; e <= 3; e++) {
      const mean = new Map(
        [...ends[0]!.keys()].map((k) => [
          k,
          ends[0]!.get(k)!.map((_, i) => ends.slice(0, e).reduce((a, p) => a + p.get(k)![i]!, 0) / e),
        ]),
      )
      expect(maxDiff(paramsOf(at(e * perEpoch), "net_swa"), mean)).toBeLessThan(1e-6)
      // and it does not change within an epoch
      if (e < 3)
        expect(
          maxDiff(paramsOf(at(e * perEpoch + 1), "net_swa"), paramsOf(at(e * perEpoch), "net_swa")),
        ).toBe(0)
    }

    // EMA: a copy at the first step, then ema ← 0.999·ema + 0.001·net at every step
    expect(maxDiff(paramsOf(at(1), "net_ema"), paramsOf(at(1), "net"))).toBe(0)
    for (let s = 2; s <= 3 * perEpoch; s++) {
      const prev = paramsOf(at(s - 1), "net_ema")
      const cur = paramsOf(at(s), "net")
      const expected = new Map(
        [...prev].map(([k, v]) => [k, v.map((x, i) => 0.999 * x + 0.001 * cur.get(k)![i]!)]),
      )
      expect(maxDiff(paramsOf(at(s), "net_ema"), expected)).toBeLessThan(1e-6)
    }

    // batch norm: at the end, the average's statistics are those of its own weights on the training data
    const final = at(3 * perEpoch)
    const swaState = paramsOf(final, "net_swa", "state")
    expect(swaState.size).toBeGreaterThan(0)
    expect(maxDiff(swaState, paramsOf(final, "net", "state"))).toBeGreaterThan(1e-4)
    const built = Effect.runSync(Models.build(net(), { seed: 1 }))
    const params = treeOf(final, "net_swa", "params", built.params)
    const state = treeOf(final, "net", "state", built.state) // any start: the recomputation replaces it
    const x = tf.tensor4d(data.train.x, [data.train.n, 28, 28, 1])
    Models.recomputeBatchNorm(built, params, [x], state)
    const recomputed = new Map(
      Object.entries(Models.Tree.flatten(state)).map(([k, v]) => [k, v.dataSync() as Float32Array]),
    )
    expect(maxDiff(swaState, recomputed)).toBeLessThan(1e-5)
    x.dispose()
    Models.Tree.dispose(params)
    Models.Tree.dispose(state)
    built.dispose()
  })
  /*
   * With one step per epoch every step closes an epoch: the epoch count comes from the runner's
   * epoch index, not from rounding the fractional clock (which once skipped the first epoch).
   */
  it("with one step per epoch, SWA still averages the weights of every epoch end", async () => {
    const o = await observe(
      valid(shrink(make({ epochs: 1, swaEpochs: 3 }), { net: net() }, { batchSize: 64 })),
      {
        snapshots: true,
      },
    )
    const snaps = o.snapshots.filter((s) => s.phase === "swa")
    expect(snaps.map((s) => s.step)).toEqual([1, 2, 3])
    const ends = snaps.map((s) => paramsOf(s.tensors, "net"))
    const mean = new Map(
      [...ends[0]!.keys()].map((k) => [
        k,
        ends[0]!.get(k)!.map((_, i) => ends.reduce((a, p) => a + p.get(k)![i]!, 0) / 3),
      ]),
    )
    expect(maxDiff(paramsOf(snaps[2]!.tensors, "net_swa"), mean)).toBeLessThan(1e-6)
  })
})
