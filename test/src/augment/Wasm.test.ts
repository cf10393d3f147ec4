/**
 * Every augmentation and corruption runs on the wasm backend (it has every kernel used) and
 * agrees with the cpu backend: randomness is generated in JavaScript from the seed, so both
 * backends see the same draws.
 */
import { createRequire } from "node:module"
import * as path from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-backend-cpu"
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm"
import { beforeAll, describe, expect, it } from "vitest"
import * as Augment from "../../../dsl/Augment.js"
import * as Image from "../../../src/augment/Image.js"
import * as Augmentation from "../../../src/augment/index.js"
import { clock0, distinctTargets, maxDiff, randomImages, strong } from "./fixtures.js"

beforeAll(async () => {
  const require = createRequire(import.meta.url)
  setWasmPaths(
    `${path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm"))}/`,
  )
  expect(await tf.setBackend("wasm")).toBe(true)
})

const onBackend = async <A>(name: string, f: () => A): Promise<A> => {
  await tf.setBackend(name)
  return f()
}

const extra: ReadonlyArray<Augment.Augment> = [
  Augment.flipX({ p: 0.5 }),
  Augment.randomErasing({ area: [0.1, 0.3], fill: "zero", p: 0.7 }),
  Augment.mixup({ alpha: 0.3, p: 0.5 }),
  Augment.cutmix({ alpha: 0.5, p: 0.5 }),
  ...Augment.randAugmentOps.map((op) => Augment.randAugment({ n: 1, magnitude: 0.8, ops: [op] })),
]

describe("augmentations on wasm", () => {
  it("every augmentation runs on wasm and matches cpu", async () => {
    const xs = await onBackend("cpu", () => randomImages(6, 10, 9, 3).arraySync())
    for (const a of [...strong, ...extra]) {
      const compute = () =>
        tf.tidy(() => {
          const x = tf.tensor4d(xs)
          const y = distinctTargets(6, 8)
          const out = Augmentation.apply([a], { x, y }, { clock: clock0, seed: 12 })
          return [out.x.arraySync(), out.y.arraySync()] as const
        })
      const [cx, cy] = await onBackend("cpu", compute)
      const [wx, wy] = await onBackend("wasm", compute)
      expect(tf.getBackend()).toBe("wasm")
      expect(maxDiff(tf.tensor(wx), tf.tensor(cx)), Augment.describe(a)).toBeLessThan(1e-4)
      expect(maxDiff(tf.tensor(wy), tf.tensor(cy)), Augment.describe(a)).toBeLessThan(1e-5)
    }
  })

  it("every corruption runs on wasm and matches cpu", async () => {
    const xs = await onBackend("cpu", () => randomImages(4, 10, 10, 1).arraySync())
    for (const kind of Augment.corruptionKinds) {
      const c = Augment.corruption(kind, 4)
      const compute = () => tf.tidy(() => Augmentation.corrupt(c, tf.tensor4d(xs), 3).arraySync())
      const cpu = await onBackend("cpu", compute)
      const wasm = await onBackend("wasm", compute)
      expect(maxDiff(tf.tensor(wasm), tf.tensor(cpu)), kind).toBeLessThan(1e-4)
    }
  })

  it("the batched Transform kernel on wasm equals the per-sample warp", async () => {
    await tf.setBackend("wasm")
    tf.tidy(() => {
      const x = randomImages(5, 8, 7, 2)
      const m = Image.rotation(tf.tensor1d([0.3, -0.5, 0.1, 1, 2]), 8, 7)
      for (const interpolation of ["nearest", "bilinear"] as const)
        expect(
          maxDiff(Image.warp(x, m, interpolation), Image.warpPerSample(x, m, interpolation)),
        ).toBeLessThan(1e-6)
    })
  })

  it("does not leak tensors on wasm", async () => {
    await tf.setBackend("wasm")
    const x = randomImages(4, 8, 8, 1)
    const y = distinctTargets(4)
    const all = [...strong, ...extra]
    const once = () => {
      const out = Augmentation.apply(all, { x, y }, { clock: clock0, seed: 1 })
      tf.dispose([out.x, out.y])
    }
    once()
    const before = tf.memory().numTensors
    for (let i = 0; i < 10; i++) once()
    expect(tf.memory().numTensors).toBe(before)
  })
})
