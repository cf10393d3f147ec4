/**
 * The experiment the kill drill interrupts: a small two-arm, two-seed experiment run through the
 * real harness (`experiments/lib.ts`'s `execute`, what `npm run experiment -- NAME` calls), on
 * the cpu backend. `--resume` continues it; the arm → metric → values it ends with are written to
 * `--result FILE` so the drill can compare an interrupted series with an uninterrupted one.
 *
 * `npx tsx scripts/drills/experiment-target.ts --out DIR --result FILE [--resume] [--steps N]`
 */
import { writeFileSync } from "node:fs"
import { Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../dsl/index.js"
import { type Experiment, execute } from "../../experiments/lib.js"

const flag = (name: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? undefined : process.argv[i + 1]
}
const steps = Number(flag("steps") ?? 300)

const pipeline = (lr: number) => (seed: number) =>
  Pipeline.make({
    name: "drill-experiment",
    seed,
    data: Pipeline.data("mnist"),
    checkpointEvery: 10,
    models: { net: Model.mlp({ hidden: [32], classes: 10 }) },
    phases: ["first", "second"].map((name) =>
      Phase.make({
        name,
        steps,
        batchSize: 32,
        step: Step.start.pipe(
          Step.forward("net", { as: "o" }),
          Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
          Step.optimize("net", Optimizer.adam({ lr })),
        ),
        evaluate: Phase.evaluate({ models: ["net"], splits: [{ split: "test", limit: 200 }] }),
      }),
    ),
  })

const experiment: Experiment = {
  name: "drill",
  title: "kill drill target",
  claim: "none: a target for kill -9",
  budget: "seconds",
  setting: "mnist, an MLP, cpu backend",
  seeds: [1, 2],
  arms: [2e-3, 5e-4].map((lr) => ({
    name: `lr${lr}`,
    pipeline: pipeline(lr),
    metrics: (phases) => ({ accuracy: phases.at(-1)!.metrics["test/net/accuracy"]! }),
  })),
  method: ["lr0.002", "accuracy"],
  baseline: ["lr0.0005", "accuracy"],
}

const out = flag("out")
const result = flag("result")
if (out === undefined || result === undefined) throw new Error("give --out DIR and --result FILE")
const r = await execute(experiment, {
  backend: "cpu",
  outDir: out,
  resume: process.argv.includes("--resume"),
  log: () => {},
})
writeFileSync(result, `${JSON.stringify(r.values)}\n`)
