/**
 * Make sure tfjs's gradient functions are registered. tfjs-core registers them only from its ESM
 * build (`register_all_gradients`), which plain Node cannot import (it uses directory imports);
 * tfjs-layers' CommonJS bundle registers the same gradients into tfjs's global registry. Imported
 * for its effect by the step compiler, so compiled steps can always differentiate.
 *
 * @since 0.1.0
 */
import { createRequire } from "node:module"
import * as tf from "@tensorflow/tfjs-core"

/**
 * Register the gradients if they are not registered yet (idempotent, synchronous).
 *
 * @example
 * ```ts
 * import { ensureGradients } from "retort"
 * ensureGradients()
 * ```
 *
 * @since 0.1.0
 * @category setup
 */
export const ensureGradients = (): void => {
  if (tf.getGradient("Relu") !== undefined && tf.getGradient("Conv2D") !== undefined) return
  createRequire(import.meta.url)("@tensorflow/tfjs-layers")
}

ensureGradients()
