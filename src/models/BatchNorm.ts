/**
 * Batch-norm statistics for averaged weights. Running means and variances collected while
 * training belong to the weights that produced them; for an SWA average (or any other weights)
 * they must be recomputed by a pass over training data — what `torch.optim.swa_utils.update_bn`
 * does.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Models from "./src/models/index.js"
 * const built = Effect.runSync(Models.build(Model.cnn({ conv: [{ filters: 8 }], dense: [], classes: 10, batchNorm: true }), { seed: 1 }))
 * Models.recomputeBatchNorm(built, built.params, [tf.randomUniform([32, 28, 28, 1])])
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import type { Built } from "./Built.js"
import * as Tree from "./Tree.js"

/**
 * Recomputes the batch-norm running statistics of `params` as the exact average of the
 * per-batch statistics over `batches` (a cumulative mean, like PyTorch's `update_bn`), with
 * dropout and drop-path off. Writes into `state` (default: the built model's own; pass a copy,
 * e.g. `Tree.clone(built.state, false)`, to keep the live model's statistics). Returns the
 * number of batches seen; a model without batch norm is left untouched (returns 0). The batches
 * stay owned by the caller.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Models from "./src/models/index.js"
 * const built = Effect.runSync(Models.build(Model.resnet({ stem: { filters: 8 }, blocks: [{ filters: 8 }], batchNorm: true, classes: 10 }), { seed: 1 }))
 * const swaState = Models.Tree.clone(built.state, false)
 * Models.recomputeBatchNorm(built, built.params, [tf.randomUniform([16, 28, 28, 1])], swaState) // 1
 * ```
 *
 * @since 0.1.0
 * @category batch norm
 */
export const recomputeBatchNorm = (
  built: Built,
  params: Tree.Tree,
  batches: Iterable<tf.Tensor>,
  state: Tree.Tree<tf.Variable> = built.state,
): number => {
  if (Tree.size(state) === 0) return 0
  let seen = 0
  for (const x of batches) {
    const momentum = 1 / (seen + 1)
    tf.tidy(() => {
      built.apply(params, x, {
        train: true,
        seed: 0,
        dropout: 0,
        dropPath: 0,
        updateStats: true,
        statsMomentum: momentum,
        state,
      })
    })
    seen++
  }
  return seen
}
