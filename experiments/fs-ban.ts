/**
 * The FS-BAN experiment (recipe 3): a born-again generation distilled at a temperature learned by
 * a look-ahead meta-update, against the same generation at the best fixed temperature — chosen
 * first by a sweep over T ∈ {1, 2, 4, 8} on validation accuracy (never the test split) — each
 * with and without mutual regularisation (the teacher trained with the student).
 */
import * as Sweep from "../dsl/Sweep.js"
import * as FsBan from "../pipelines/fs-ban.js"
import type { PhaseResult } from "../src/runtime/Run.js"
import type { Arm, Experiment } from "./lib.js"

/** The settings of every run (the recipe's defaults, written out). */
export const settings = { teacherEpochs: 10, studentEpochs: 10, limit: 5000, validation: 5000 } as const

/** The fixed temperatures the sweep chooses from. */
export const temperatures = [1, 2, 4, 8] as const

const at = (ps: ReadonlyArray<PhaseResult>, phase: string, key: string) =>
  ps.find((p) => p.phase === phase)?.metrics[key] ?? Number.NaN

/** gen1's test and validation accuracy, gen0's after gen1 (it moves under mutual regularisation), and T at the end. */
export const metrics = (ps: ReadonlyArray<PhaseResult>): Readonly<Record<string, number>> => ({
  accuracy: at(ps, "gen1", "test/gen1/accuracy"),
  validation: at(ps, "gen1", "validation/gen1/accuracy"),
  "teacher-accuracy": at(ps, "gen0", "test/gen0/accuracy"),
  "teacher-after": at(ps, "gen1", "test/gen0/accuracy"),
  // only a learned temperature has a final value
  ...(Number.isFinite(at(ps, "gen1", "learned/T")) ? { "final-T": at(ps, "gen1", "learned/T") } : {}),
})

const arm = (name: string, options: FsBan.Options): Arm => ({
  name,
  pipeline: (seed) => FsBan.make({ ...settings, ...options, seed }),
  metrics,
})

/** The sweep that chooses the fixed temperature: frozen teacher, T ∈ {1, 2, 4, 8}, 3 seeds, gen1's validation accuracy. */
export const sweep = Sweep.make({
  name: "fs-ban-temperature",
  description:
    "FS-BAN with a fixed temperature: T ∈ {1, 2, 4, 8}, 3 seeds each, ranked by gen1's validation accuracy",
  pipeline: FsBan.make({ ...settings, temperature: 4 }),
  axes: [Sweep.values(FsBan.temperaturePath, [...temperatures])],
  seeds: [1, 2, 3],
  metric: { model: "gen1", phase: "gen1" },
})

export const experiment: Experiment = {
  name: "fs-ban",
  title:
    "FS-BAN: a meta-learned distillation temperature vs the best fixed one, with and without mutual regularisation",
  claim:
    "a temperature learned by a meta-update is at least as good as the best fixed temperature for born-again distillation (Zhao et al., 2023, FS-BAN).",
  setting: `Fashion-MNIST, the first ${settings.limit.toLocaleString("en")} training images (${settings.validation.toLocaleString("en")} others held out for validation). gen0: the W1 MLP on labels, ${settings.teacherEpochs} epochs; gen1: a fresh W1 MLP, ${settings.studentEpochs} epochs on L = CE(s, y) + 0.8·½[T²KL(t‖s) + T²KL(s‖t)] (FS-BAN's loss), Adam 1e-3, batch 128. *learned*: T starts at 4 (T = 0.5 + softplus(u)) and follows a look-ahead meta-update every step: a virtual SGD step (rate 0.1) of gen1 on the first half of the batch, then the gradient of gen1's cross-entropy on the other half after that step with respect to T (its mixed second-derivative term by a central finite difference, DARTS-style), applied by Adam 0.02 to u; gen1's own update uses the whole batch. *fixed*: T chosen by the sweep ${sweep.name} over T ∈ {${temperatures.join(", ")}} on gen1's validation accuracy (3 seeds each), frozen teacher. *-mutual*: gen0 is trained with gen1 on the same loss (its only gradient is the symmetric KL's), as the reference does; with a learned T the virtual step moves both. teacher-accuracy: gen0 before gen1; teacher-after: gen0 after gen1's phase; final-T: T at the end.`,
  budget:
    "about 12 minutes on a quiet 2-core machine (12 sweep runs and 12 arm runs, ~20–60 s each; the look-ahead costs about 3 extra gradient passes per step)",
  seeds: [1, 2, 3],
  arms: [
    arm("learned", { temperature: "learned" }),
    arm("learned-mutual", { temperature: "learned", mutual: true }),
  ],
  tune: {
    sweep,
    arms: ({ variant }) => {
      const T = Number(variant.overrides[FsBan.temperaturePath])
      return [arm("fixed", { temperature: T }), arm("fixed-mutual", { temperature: T, mutual: true })]
    },
  },
  kind: "atLeast",
  method: ["learned", "accuracy"],
  baseline: ["fixed", "accuracy"],
}
