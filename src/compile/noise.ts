/**
 * The noise a `Step.noise` stage writes (data-free distillation): `[batch, dim]`, standard normal
 * or uniform on `[−1, 1]`, from a seed — the step compiler passes one derived from the step's
 * seed and the stage's index, so a run is reproducible and two noise stages draw independently.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Noise from "./src/compile/noise.js"
 * const z = tf.tidy(() => Noise.sample({ _tag: "Noise", as: "z", dim: 8, distribution: "normal" }, 4, 7).shape) // [4, 8]
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import type * as Step from "../../dsl/Step.js"

/**
 * Noise `[size, stage.dim]` for a seed (the same seed gives the same noise).
 *
 * @example
 * ```ts
 * import * as Noise from "./src/compile/noise.js"
 * const z = Noise.sample({ _tag: "Noise", as: "z", dim: 2, distribution: "uniform" }, 3, 1)
 * z.dispose()
 * ```
 *
 * @since 0.1.0
 * @category sampling
 */
export const sample = (stage: Step.Noise, size: number, seed: number): tf.Tensor2D =>
  stage.distribution === "normal"
    ? tf.randomNormal([size, stage.dim], 0, 1, "float32", seed)
    : tf.randomUniform([size, stage.dim], -1, 1, "float32", seed)
