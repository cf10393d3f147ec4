/**
 * Functional models: build a `dsl/Model` description into seeded variables and a synchronous
 * `apply`, recompute batch-norm statistics, export to the TF.js LayersModel format.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import { Effect } from "effect"
 * import * as Model from "./dsl/Model.js"
 * import * as Models from "./src/models/index.js"
 * const built = Effect.runSync(Models.build(Model.mlp({ hidden: [256, 256], classes: 10 }), { seed: 1 }))
 * const logits = tf.tidy(() => built.apply(built.params, tf.zeros([1, 28, 28, 1]), { train: false }).logits)
 * ```
 *
 * @since 0.1.0
 */
export * from "./BatchNorm.js"
export * from "./Build.js"
export type * from "./Built.js"
export * as Cnn from "./Cnn.js"
export * from "./EarlyExit.js"
export * from "./Export.js"
export * as Generator from "./Generator.js"
export * as Graph from "./Graph.js"
export * as Layers from "./Layers.js"
export * as Loaded from "./Loaded.js"
export * as Mlp from "./Mlp.js"
export * as Ops from "./Ops.js"
export * as Predict from "./Predict.js"
export * as ResNet from "./ResNet.js"
export * as Tree from "./Tree.js"
export * as Vit from "./Vit.js"
