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

/**
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
