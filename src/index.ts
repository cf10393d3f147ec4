/**
 * Retort's runtime: run pipelines described with `retort/dsl`, and the services behind it —
 * backends, data, models, metrics, reporting and checkpoints.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { run } from "retort"
 * import { Loss, Model, Optimizer, Phase, Pipeline, Step } from "retort/dsl"
 *
 * const pipeline = Pipeline.make({
 *   name: "plain",
 *   data: Pipeline.data("mnist"),
 *   models: { net: Model.mlp({ hidden: [128], classes: 10 }) },
 *   phases: [
 *     Phase.make({
 *       name: "train",
 *       epochs: 1,
 *       step: Step.start.pipe(
 *         Step.forward("net", { as: "o" }),
 *         Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
 *         Step.optimize("net", Optimizer.adam({ lr: 1e-3 })),
 *       ),
 *     }),
 *   ],
 * })
 * const result = await Effect.runPromise(run(pipeline, { backend: "wasm" }))
 * console.log(result.phases)
 * ```
 *
 * @since 0.1.0
 */
export * from "../dsl/index.js"
export * as Augmentation from "./augment/index.js"
export {
  availableBackends,
  Backend,
  type BackendService,
  describeBackend,
  formatBackend,
} from "./backend/Backend.js"
export { ensureGradients } from "./backend/gradients.js"
export { type KernelReport, kernelReport, registerWasmKernels } from "./backend/kernels/index.js"
export { applyOverrides, loadPipeline } from "./cli/load.js"
export * as Losses from "./compile/losses.js"
export * as Optimizers from "./compile/optimizers.js"
export type { ModelSlot, TrainState } from "./compile/state.js"
export {
  type CompiledStep,
  cacheableForwards,
  compile as compileStep,
  type StepContext,
  type StepResult,
  type TeacherCache as StepTeacherCache,
} from "./compile/step.js"
export * from "./data/index.js"
export { BackendError, DataError, IoError, ShapeError, TrainingError, ValidationError } from "./errors.js"
export * from "./metrics/index.js"
export * as Models from "./models/index.js"
export * as Probes from "./probes/index.js"
export * from "./report/index.js"
export * as Checkpoint from "./runtime/Checkpoint.js"
export * as DataSource from "./runtime/DataSource.js"
export * as Deploy from "./runtime/Deploy.js"
export * as FewShotRun from "./runtime/FewShot.js"
export {
  Interrupted,
  layer as runLayer,
  type PhaseResult,
  type RunError,
  type RunOptions,
  type RunResult,
  run,
  runWith,
} from "./runtime/Run.js"
export * as Seeds from "./runtime/Seeds.js"
export * as TeacherCache from "./runtime/TeacherCache.js"
export * as Cluster from "./sweep/Cluster.js"
export * as Sweeps from "./sweep/Sweep.js"
