/**
 * The sweep the sweep tests run: a small MLP on the MNIST digits (30 steps, 500 validation
 * images), four learning rates × three seeds = 12 runs.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { join } from "node:path"
import { Effect } from "effect"
import { Loss, Model, Optimizer, Phase, Pipeline, Step } from "../../dsl/index.js"
import * as Sweep from "../../dsl/Sweep.js"
import { Reporter } from "../../src/report/Reporter.js"
import { run } from "../../src/runtime/Run.js"
import * as Seeds from "../../src/runtime/Seeds.js"
import * as Cluster from "../../src/sweep/Cluster.js"
import type * as Sweeps from "../../src/sweep/Sweep.js"
import * as Postgres from "./postgres.js"

const repo = join(import.meta.dirname, "../..")

export const sweepPipeline = Pipeline.make({
  name: "tiny",
  data: Pipeline.data("mnist", { validation: 500 }),
  models: { net: Model.mlp({ hidden: [16], classes: 10 }) },
  phases: [
    Phase.make({
      name: "train",
      steps: 30,
      batchSize: 32,
      step: Step.start.pipe(
        Step.forward("net", { as: "o" }),
        Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
        Step.optimize("net", Optimizer.adam({ lr: 1e-3 })),
      ),
      evaluate: Phase.evaluate({
        models: ["net"],
        splits: [{ split: "validation" }, { split: "test", limit: 300 }],
      }),
    }),
  ],
})

export const sweep = Sweep.make({
  name: "tiny-lr",
  pipeline: sweepPipeline,
  axes: [Sweep.values("phases[0].step.stages[2].optimizer.lr", [3e-4, 1e-3, 3e-3, 1e-2])],
  seeds: [1, 2, 3],
  metric: { model: "net" },
})

/**
 * Starts `k` `retort runner` processes (cpu backend) on the sweep cluster in `db`, each with its
 * own directory under `root`, and resolves once all of them are registered.
 */
export const startRunners = async (db: string, k: number, root: string): Promise<Array<ChildProcess>> => {
  const runners: Array<ChildProcess> = []
  for (let i = 0; i < k; i++) {
    const port = await Postgres.freePort()
    const args = ["runner", "--db", db, "--host", "127.0.0.1", "--port", String(port), "--backend", "cpu"]
    runners.push(
      spawn(process.execPath, ["bin/retort.js", ...args, "--dir", join(root, `runner${i}`)], {
        cwd: repo,
        stdio: ["ignore", "ignore", "pipe"],
      }),
    )
  }
  const until = Date.now() + 60_000
  while ((await Effect.runPromise(Cluster.runners({ db }).pipe(Effect.orElseSucceed(() => [])))).length < k) {
    if (Date.now() > until) {
      for (const r of runners) r.kill("SIGKILL")
      throw new Error(`the ${k} runners did not register`)
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  return runners
}

/** The final metrics of every run of a plan, each run made again in this process (cpu backend). */
export const inProcess = async (
  plan: Sweeps.Plan,
  root: string,
): Promise<Record<string, Record<string, number>>> => {
  const out: Record<string, Record<string, number>> = {}
  for (const spec of plan.runs) {
    const v = plan.variants.find((x) => x.variant.index === spec.variant)!.pipeline
    const r = await Effect.runPromise(
      run(v, {
        backend: "cpu",
        seed: spec.seed,
        outDir: join(root, "plain"),
        name: spec.id,
        reporter: Reporter.quiet,
      }),
    )
    out[spec.id] = Seeds.finalMetrics(r.phases)
  }
  return out
}
