/**
 * Every augmentation and corruption runs on the WebGPU backend (its kernels exist there) and
 * agrees with the cpu backend. Skipped where no WebGPU adapter is available (software renderers
 * such as Mesa's llvmpipe count as adapters). Reads are asynchronous on this backend.
 */
import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-backend-cpu"
import { Effect, Result } from "effect"
import { describe, expect, it } from "vitest"
import * as Augment from "../../../dsl/Augment.js"
import * as Augmentation from "../../../src/augment/index.js"
import * as Loader from "../../../src/backend/loader.js"
import * as WebGpu from "../../../src/backend/webgpu/WebGpu.js"
import { clock0, distinctTargets, randomImages, strong } from "./fixtures.js"

const adapter = await Effect.runPromise(Effect.result(WebGpu.probe(Loader.dynamicImport)))

const augmentations: ReadonlyArray<Augment.Augment> = [
  ...strong,
  Augment.flipX({ p: 0.5 }),
  Augment.mixup({ alpha: 0.3, p: 0.5 }),
  ...Augment.randAugmentOps.map((op) => Augment.randAugment({ n: 1, magnitude: 0.8, ops: [op] })),
]

describe.skipIf(Result.isFailure(adapter))("augmentations on webgpu", () => {
  it("every augmentation and corruption runs on webgpu and matches cpu", async () => {
    await tf.setBackend("cpu")
    const xs = randomImages(6, 10, 9, 3).arraySync()
    const batch = () => ({ x: tf.tensor4d(xs), y: distinctTargets(6, 8) })
    const options = { clock: clock0, seed: 12 }
    const expected = augmentations.map((a) =>
      tf.tidy(() => {
        const out = Augmentation.apply([a], batch(), options)
        return [out.x.arraySync(), out.y.arraySync()] as const
      }),
    )
    const corruptions = Augment.corruptionKinds.map((k) => Augment.corruption(k, 4))
    const expectedCorrupt = corruptions.map((c) =>
      tf.tidy(() => Augmentation.corrupt(c, tf.tensor4d(xs), 3).arraySync()),
    )
    const distance = async (a: tf.Tensor, b: ReadonlyArray<unknown>) => {
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, tf.tensor(b as Array<number>)))))
      const v = (await d.data())[0]!
      d.dispose()
      return v
    }
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          yield* WebGpu.acquire(Loader.dynamicImport)
          expect(tf.getBackend()).toBe("webgpu")
          yield* Effect.promise(async () => {
            for (const [i, a] of augmentations.entries()) {
              const out = tf.tidy(() => Augmentation.apply([a], batch(), options))
              expect(await distance(out.x, expected[i]![0]), Augment.describe(a)).toBeLessThan(1e-4)
              expect(await distance(out.y, expected[i]![1]), Augment.describe(a)).toBeLessThan(1e-5)
              tf.dispose([out.x, out.y])
            }
            for (const [i, c] of corruptions.entries()) {
              const x = tf.tensor4d(xs)
              const out = Augmentation.corrupt(c, x, 3)
              expect(await distance(out, expectedCorrupt[i]!), Augment.name(c)).toBeLessThan(1e-4)
              tf.dispose([x, out])
            }
          })
        }),
      ),
    )
  })
})
