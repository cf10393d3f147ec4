/**
 * Retort's description language: pure, serialisable values for every part of a training run.
 * Nothing here imports TensorFlow.js, Node built-ins or the runtime.
 *
 * @example
 * ```ts
 * import { Loss, Model, Optimizer, Phase, Pipeline, Ramp, Step } from "retort/dsl"
 * const p = Pipeline.make({
 *   name: "plain",
 *   models: { net: Model.mlp({ hidden: [128], classes: 10 }) },
 *   phases: [
 *     Phase.make({
 *       name: "train",
 *       epochs: 1,
 *       step: Step.start.pipe(
 *         Step.forward("net", { as: "o" }),
 *         Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
 *         Step.optimize("net", Optimizer.adam({ lr: Ramp.cosine({ from: 1e-3, to: 0 }) })),
 *       ),
 *     }),
 *   ],
 * })
 * ```
 *
 * @since 0.1.0
 */
export * as Augment from "./Augment.js"
export * as Codec from "./Codec.js"
export * as Compute from "./Compute.js"
export * as Domain from "./Domain.js"
export * as Episodic from "./Episodic.js"
export * as FewShot from "./FewShot.js"
export * as Issue from "./Issue.js"
export * as Learned from "./Learned.js"
export * as Loss from "./Loss.js"
export * as Model from "./Model.js"
export * as Optimizer from "./Optimizer.js"
export * as Phase from "./Phase.js"
export * as Pipeline from "./Pipeline.js"
export * as Ramp from "./Ramp.js"
export * as Step from "./Step.js"
export * as Sweep from "./Sweep.js"
export * as Tta from "./Tta.js"
export * as Validate from "./Validate.js"
export * as Watermark from "./Watermark.js"
