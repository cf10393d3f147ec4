/**
 * Cyclical training (Smith, "cyclical focal loss" / lnsmith54 CFL): hyper-parameters follow an
 * easy → hard → easy shape over training. Weight decay, the softmax temperature of distillation
 * and the gradient-clipping norm each ride `Ramp.easyHardEasy`; `which` selects them one at a
 * time or together, against constants (`which: []`).
 */
import { Loss, Optimizer, Phase, Pipeline, Ramp, Step } from "../dsl/index.js"
import { cnn, mlp, supervised } from "./common.js"

export type Knob = "weightDecay" | "temperature" | "clip"

export interface Options {
  readonly seed?: number
  readonly which?: ReadonlyArray<Knob>
  readonly teacherEpochs?: number
  readonly studentEpochs?: number
  readonly limit?: number
}

export const make = (o: Options = {}) => {
  const which = new Set(o.which ?? ["weightDecay", "temperature", "clip"])
  // easy = small weight decay, soft (high) temperature, loose clipping; hard = the opposite.
  const weightDecay = which.has("weightDecay") ? Ramp.easyHardEasy({ low: 1e-5, high: 5e-4 }) : 1e-4
  const temperature = which.has("temperature") ? Ramp.easyHardEasy({ low: 8, high: 2 }) : 4
  const clipNorm = which.has("clip") ? Ramp.easyHardEasy({ low: 10, high: 1 }) : 5
  const label = which.size === 0 ? "constant" : [...which].join("+")
  return Pipeline.make({
    name: `cyclical-${label}`,
    description: `cyclical training (${label}): easy→hard→easy weight decay / temperature / clipping`,
    seed: o.seed ?? 1,
    data: Pipeline.data("fashion-or-mnist"),
    models: { teacher: cnn(), student: mlp() },
    phases: [
      supervised("teacher", { epochs: o.teacherEpochs ?? 3 }),
      Phase.make({
        name: "distil",
        epochs: o.studentEpochs ?? 5,
        ...(o.limit !== undefined ? { data: { limit: o.limit } } : {}),
        step: Step.start.pipe(
          Step.forward("teacher", { as: "t", mode: "frozen" }),
          Step.forward("student", { as: "s" }),
          Step.loss(
            {
              ce: Loss.crossEntropy({ logits: "s" }),
              kd: Loss.kl({ teacher: "t", student: "s", temperature }),
            },
            { weights: { ce: 0.1, kd: 0.9 } },
          ),
          Step.optimize("student", Optimizer.adamw({ lr: 1e-3, weightDecay, clipNorm })),
        ),
      }),
    ],
  })
}

export default make()
