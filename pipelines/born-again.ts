/**
 * Born-again networks (Furlanello et al., 2018): generation k+1, of the same architecture,
 * is distilled from generation k; the ensemble of generations is evaluated too.
 *
 * Generation 0 trains on labels. Each later generation starts fresh and minimises
 * L = (1−α)·CE(s, y) + α·T²·KL(t ‖ s) against the frozen previous generation (pure KD with α = 1,
 * T = 1 as in the PyTorch reference runs of this recipe).
 */
import { Loss, type Model, Phase, Pipeline, Step } from "../dsl/index.js"
import { adam, cnn } from "./common.js"

export interface Options {
  readonly seed?: number
  readonly generations?: number
  readonly epochs?: number
  readonly alpha?: number
  readonly temperature?: number
}

export const make = (o: Options = {}) => {
  const k = o.generations ?? 3
  const epochs = o.epochs ?? 3
  const alpha = o.alpha ?? 1
  const T = o.temperature ?? 1
  const gen = (i: number) => `gen${i}`
  const models: Record<string, Model.Model> = {}
  for (let i = 0; i <= k; i++) models[gen(i)] = cnn()
  const all = Array.from({ length: k + 1 }, (_, i) => gen(i))
  return Pipeline.make({
    name: "born-again",
    description: `born-again networks: ${k} generations of the W2 CNN, each distilled from the previous`,
    seed: o.seed ?? 1,
    data: Pipeline.data("fashion-or-mnist"),
    models,
    phases: [
      Phase.make({
        name: gen(0),
        epochs,
        step: Step.start.pipe(
          Step.forward(gen(0), { as: "s" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "s" }) }),
          Step.optimize(gen(0), adam),
        ),
      }),
      ...Pipeline.generations(k, (i) =>
        Phase.make({
          name: gen(i),
          epochs,
          init: { [gen(i)]: Phase.fresh },
          step: Step.start.pipe(
            Step.forward(gen(i - 1), { as: "t", mode: "frozen" }),
            Step.forward(gen(i), { as: "s" }),
            Step.loss(
              {
                ce: Loss.crossEntropy({ logits: "s" }),
                kd: Loss.kl({ teacher: "t", student: "s", temperature: T }),
              },
              { weights: { ce: 1 - alpha, kd: alpha } },
            ),
            Step.optimize(gen(i), adam),
          ),
          evaluate: Phase.evaluate({
            models: [gen(i)],
            targets: i === k ? [Phase.ensemble("ensemble", all)] : [],
            metrics: ["accuracy", "nll", "ece", "agreement"],
            reference: gen(i - 1),
          }),
        }),
      ),
    ],
  })
}

export default make()
