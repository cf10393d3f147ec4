/**
 * Loss landscape and domain generalisation (the domain half of recipe 10): one backbone with one
 * regulariser, trained by plain ERM on Rotated Fashion-MNIST's training domains (0°–60°, DomainBed's
 * convention) and evaluated on the held-out 75° domain. The experiment `landscape-dg` trains every
 * {@link configurations} entry, measures the sharpness of each minimum on its training images
 * (the top Hessian eigenvalue and Keskar's ε-sharpness, `src/probes/Sharpness.ts`) and asks
 * whether flatter minima go with better held-out-domain accuracy (Spearman's ρ over the
 * configurations).
 *
 * @example
 * ```ts
 * import * as LandscapeDg from "./pipelines/landscape-dg.js"
 * const p = LandscapeDg.make({ configuration: "cnn-augment", seed: 2 })
 * p.name // "landscape-dg-cnn-augment"
 * ```
 *
 * @since 0.1.0
 */
import { Augment, Domain, Loss, Optimizer, Phase, Pipeline, Step } from "../dsl/index.js"
import { cnn, mlp } from "./common.js"

/**
 * The configurations compared: two backbones (the W1 MLP and the W2 CNN, the CNN also with batch
 * norm) and, on them, the usual regularisers — dropout, label smoothing, L2 weight decay, a
 * larger learning rate, and augmentation by small rotations and shifts.
 */
export const configurations = {
  mlp: { backbone: "mlp", note: "W1 MLP 784-256-256-10" },
  "mlp-dropout": { backbone: "mlp", dropout: 0.3, note: "W1 MLP, dropout 0.3" },
  cnn: { backbone: "cnn", note: "W2 CNN" },
  "cnn-dropout": { backbone: "cnn", dropout: 0.3, note: "W2 CNN, dropout 0.3" },
  "cnn-bn": { backbone: "cnn", batchNorm: true, note: "W2 CNN with batch norm" },
  "cnn-smoothing": { backbone: "cnn", smoothing: 0.1, note: "W2 CNN, label smoothing 0.1" },
  "cnn-wd": { backbone: "cnn", weightDecay: 1e-3, note: "W2 CNN, L2 weight decay 1e-3" },
  "cnn-lr3e-3": { backbone: "cnn", lr: 3e-3, note: "W2 CNN, Adam at 3e-3" },
  "cnn-augment": { backbone: "cnn", augment: true, note: "W2 CNN, rotations ±15° and shifts ±2 px" },
} as const satisfies Readonly<
  Record<
    string,
    {
      readonly backbone: "mlp" | "cnn"
      readonly dropout?: number
      readonly batchNorm?: boolean
      readonly smoothing?: number
      readonly weightDecay?: number
      readonly lr?: number
      readonly augment?: boolean
      readonly note: string
    }
  >
>

/** The name of one of the {@link configurations}. */
export type Configuration = keyof typeof configurations

export interface Options {
  readonly configuration?: Configuration
  readonly seed?: number
  readonly epochs?: number
  /** Training images of the training domains (default all). */
  readonly limit?: number
  /** The held-out domain ids (default `[5]`: 75°). */
  readonly heldOut?: ReadonlyArray<number>
  readonly batchSize?: number
  readonly source?: "mnist" | "fashion-mnist" | "fashion-or-mnist"
}

/**
 * The pipeline of one configuration: model `net`, one phase `train` of plain ERM on the training
 * domains, evaluated (accuracy, NLL) on the held-out domain's test images and on the training
 * domains' test images; the last epoch's weights are kept (no selection, so the probed minimum is
 * the trained one).
 */
export const make = (o: Options = {}) => {
  const name = o.configuration ?? "cnn"
  const c: (typeof configurations)[Configuration] = configurations[name]
  const domains = Domain.rotated()
  const heldOut = o.heldOut ?? [5]
  const train = Domain.others(domains, heldOut)
  const model =
    c.backbone === "mlp"
      ? mlp("dropout" in c ? { dropout: c.dropout } : {})
      : cnn({
          ...("dropout" in c ? { dropout: c.dropout } : {}),
          ...("batchNorm" in c ? { batchNorm: c.batchNorm } : {}),
        })
  const begin =
    "augment" in c && c.augment
      ? Step.start.pipe(Step.augment(Augment.rotate({ degrees: 15 }), Augment.translate({ max: 2 })))
      : Step.start
  return Pipeline.make({
    name: `landscape-dg-${name}`,
    description: `loss landscape vs domain generalisation: ${c.note}, ERM on the rotated training domains, held-out ${heldOut.map((d) => `${domains.angles[d]}°`).join(", ")}`,
    seed: o.seed ?? 1,
    data: Pipeline.data(o.source ?? "fashion-or-mnist", { domains }),
    models: { net: model },
    phases: [
      Phase.make({
        name: "train",
        epochs: o.epochs ?? 3,
        batchSize: o.batchSize ?? 64,
        data: { domains: train, ...(o.limit !== undefined ? { limit: o.limit } : {}) },
        step: begin.pipe(
          Step.forward("net", { as: "o" }),
          Step.loss({
            ce: Loss.crossEntropy({ logits: "o", ...("smoothing" in c ? { smoothing: c.smoothing } : {}) }),
          }),
          Step.optimize(
            "net",
            Optimizer.adam({
              lr: "lr" in c ? c.lr : 1e-3,
              ...("weightDecay" in c ? { weightDecay: c.weightDecay } : {}),
            }),
          ),
        ),
        evaluate: Phase.evaluate({
          models: ["net"],
          splits: [
            { split: "test", domains: heldOut },
            { split: "test", domains: train },
          ],
          metrics: ["accuracy", "nll"],
        }),
      }),
    ],
  })
}

export default make()
