/**
 * Shared set-up for the model tests: the cpu backend (the reference backend; deterministic),
 * gradients registered, and small helpers.
 */
import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-core/dist/register_all_gradients.js"
import "@tensorflow/tfjs-backend-cpu"
import { Effect } from "effect"
import type * as Model from "../../../dsl/Model.js"
import * as Models from "../../../src/models/index.js"

/** Selects the cpu backend (call in `beforeAll`). */
export const init = async (): Promise<void> => {
  tf.env().set("IS_TEST", false)
  await tf.setBackend("cpu")
}

/** Builds or throws. */
export const build = (
  model: Model.Model,
  seed = 1,
  options: Partial<Models.BuildOptions> = {},
): Models.Built => Effect.runSync(Models.build(model, { seed, ...options }))

/** A seeded batch of images in [0, 1]. */
export const images = (shape: [number, number, number, number], seed = 3): tf.Tensor4D =>
  tf.randomUniform(shape, 0, 1, "float32", seed)

/** The values of a tensor as a plain array. */
export const values = (t: tf.Tensor): Array<number> => Array.from(t.dataSync())

/** Max absolute difference. */
export const maxDiff = (a: tf.Tensor, b: tf.Tensor): number =>
  tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!)

/** Cross-entropy summed over every head of a forward. */
export const lossOf = (f: Models.Forward, labels: ReadonlyArray<number>, classes = 10): tf.Scalar => {
  const y = tf.oneHot([...labels], classes)
  let total = tf.scalar(0)
  for (const logits of Object.values(f.heads)) total = tf.add(total, tf.losses.softmaxCrossEntropy(y, logits))
  return total
}
