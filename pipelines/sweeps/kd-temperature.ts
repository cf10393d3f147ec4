/**
 * A sweep over the distillation temperature of the KD recipe: T ∈ {1, 2, 4, 8} × seeds 1–3,
 * ranked by the student's accuracy on 5,000 held-out validation images (the test split is
 * reported beside it, never used to choose). The teacher trains 1 epoch, the student 3 epochs on
 * the first 5,000 training images (where distillation pays).
 *
 * `npx retort sweep pipelines/sweeps/kd-temperature.ts` (the JSON form:
 * `pipelines/sweeps/kd-temperature.json`, which names `../json/kd.json` as its base … see below).
 *
 * @example
 * ```ts
 * import sweep from "./pipelines/sweeps/kd-temperature.js"
 * sweep.axes.length // 1
 * ```
 *
 * @since 0.1.0
 */
import * as Sweep from "../../dsl/Sweep.js"
import * as Kd from "../kd.js"

const recipe = Kd.make({ teacherEpochs: 1, studentEpochs: 3, limit: 5000 })

/** The KD recipe with 5,000 validation images held out, and the student measured on them. */
export const base = {
  ...recipe,
  data: { ...recipe.data, validation: 5000 },
  phases: recipe.phases.map((p) =>
    p.name === "distil"
      ? {
          ...p,
          evaluate: { ...p.evaluate, splits: [{ split: "validation" as const }, { split: "test" as const }] },
        }
      : p,
  ),
}

export default Sweep.make({
  name: "kd-temperature",
  description: "KD temperature T ∈ {1, 2, 4, 8}, 3 seeds each, ranked by validation accuracy",
  pipeline: base,
  axes: [Sweep.values("phases[1].step.stages[2].terms.kd.temperature", [1, 2, 4, 8])],
  seeds: [1, 2, 3],
  metric: { model: "student", phase: "distil" },
})
