/**
 * Shared pieces of the recipes: the project's reference architectures (W1 MLP,
 * W2 CNN, W4 ResNet) and small step fragments every recipe uses.
 *
 * @since 0.1.0
 */
import { Loss, Model, Optimizer, Phase, Step } from "../dsl/index.js"

/** W1: MLP 784-256-256-10, ReLU. */
export const mlp = (options: { readonly dropout?: number } = {}) =>
  Model.mlp({ hidden: [256, 256], classes: 10, ...options })

/** W2: conv3×3×32 → pool → conv3×3×64 → pool → dense 128 → dense 10. */
export const cnn = (options: { readonly dropout?: number; readonly batchNorm?: boolean } = {}) =>
  Model.cnn({ conv: [{ filters: 32 }, { filters: 64 }], dense: [128], classes: 10, ...options })

/** A smaller CNN student (conv 8 → conv 16 → dense 32). */
export const smallCnn = () => Model.cnn({ conv: [{ filters: 8 }, { filters: 16 }], dense: [32], classes: 10 })

/** W4: stem conv3×3 stride 2 → 14×14×32, 4 residual blocks of two conv3×3×32, drop-path 0.1 … 0.3. */
export const resnet = (
  options: { readonly exits?: ReadonlyArray<Model.Exit>; readonly batchNorm?: boolean } = {},
) =>
  Model.resnet({
    stem: { filters: 32, stride: 2 },
    blocks: [{ filters: 32 }, { filters: 32 }, { filters: 32 }, { filters: 32 }],
    dropPath: [0.1, 0.16, 0.23, 0.3],
    classes: 10,
    ...options,
  })

/** Adam at 1e-3, the reference optimiser. */
export const adam = Optimizer.adam({ lr: 1e-3 })

/** Train one model on labels alone with cross-entropy. */
export const supervised = (
  model: string,
  options: {
    readonly name?: string
    readonly epochs: number
    readonly limit?: number
    readonly optimizer?: Optimizer.Optimizer
  },
) =>
  Phase.make({
    name: options.name ?? model,
    epochs: options.epochs,
    ...(options.limit !== undefined ? { data: { limit: options.limit } } : {}),
    step: Step.start.pipe(
      Step.forward(model, { as: "o" }),
      Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
      Step.optimize(model, options.optimizer ?? adam),
    ),
    evaluate: Phase.evaluate({ models: [model] }),
  })

/**
 * Vanilla KD's step (Hinton et al.): a frozen `teacher` and `student` on the batch,
 * `(1 − α)·CE(s, y) + α·T²·KL(t ‖ s)`, Adam 1e-3 on the student.
 */
export const kdStep = (
  teacher: string,
  student: string,
  options: { readonly temperature: number; readonly alpha: number },
) =>
  Step.start.pipe(
    Step.forward(teacher, { as: "t", mode: "frozen" }),
    Step.forward(student, { as: "s" }),
    Step.loss(
      {
        ce: Loss.crossEntropy({ logits: "s" }),
        kd: Loss.kl({ teacher: "t", student: "s", temperature: options.temperature }),
      },
      { weights: { ce: 1 - options.alpha, kd: options.alpha } },
    ),
    Step.optimize(student, adam),
  )
