/**
 * A model's logits on a whole split, in evaluation mode: batches of images through `apply`,
 * each read back asynchronously (no `dataSync`), concatenated row by row. What the teacher-output
 * cache fills its table with and what `retort eval` / `retort predict` score.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Predict from "./src/models/Predict.js"
 * declare const built: import("./src/models/Built.js").Built
 * declare const split: import("./src/data/Dataset.js").Split
 * const logits = Effect.runPromise(Predict.logits(built, split, [28, 28, 1]))
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import type * as Dataset from "../data/Dataset.js"
import type { Built } from "./Built.js"
import type * as Tree from "./Tree.js"

/**
 * The logits of `built` (with `params` and `state`, default its own) on every image of `split`
 * (images of `shape`), `split.n × classes` floats, row `i` for image `i`; in batches of `batch`
 * (default 500).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Predict from "./src/models/Predict.js"
 * declare const built: import("./src/models/Built.js").Built
 * declare const split: import("./src/data/Dataset.js").Split
 * const program = Effect.map(Predict.logits(built, split, [32, 32, 3], { batch: 256 }), (l) => l.length)
 * ```
 *
 * @since 0.1.0
 * @category inference
 */
export const logits = (
  built: Built,
  split: Dataset.Split,
  shape: readonly [number, number, number],
  options: {
    readonly params?: Tree.Tree
    readonly state?: Tree.Tree<tf.Variable>
    readonly batch?: number
  } = {},
): Effect.Effect<Float32Array> =>
  Effect.gen(function* () {
    const [h, w, c] = shape
    const size = h * w * c
    const batch = options.batch ?? 500
    const params = options.params ?? built.params
    const state = options.state ?? built.state
    const parts: Array<Float32Array> = []
    let total = 0
    for (let i = 0; i < split.n; i += batch) {
      const k = Math.min(batch, split.n - i)
      const t = tf.tidy(
        () =>
          built.apply(params, tf.tensor4d(split.x.subarray(i * size, (i + k) * size), [k, h, w, c]), {
            train: false,
            state,
          }).logits,
      )
      const values = (yield* Effect.promise(() => t.data())) as Float32Array
      t.dispose()
      parts.push(values)
      total += values.length
    }
    const out = new Float32Array(total)
    let at = 0
    for (const p of parts) {
      out.set(p, at)
      at += p.length
    }
    return out
  })
