/**
 * `retort watermark <run-dir> --model student [--split test] [--queries N] [--permutations B]`: the output-watermark
 * detector (recipe 19, `src/probes/Watermark.ts`) on a trained model of a run, with the key the
 * run's pipeline served its teacher with. Prints the score, the p-value and the verdict, and
 * writes `<run-dir>/probes/watermark-<model>-<split>.json` (with the spectrum).
 *
 * @example
 * ```ts
 * import { Command } from "effect/cli"
 * import { watermarkCommand } from "./src/cli/watermark.js"
 * const retort = Command.make("retort").pipe(Command.withSubcommands([watermarkCommand]))
 * ```
 *
 * @since 0.1.0
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Console, Effect, Layer, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { Data } from "../data/Data.js"
import * as WatermarkProbe from "../probes/Watermark.js"
import * as Flags from "./flags.js"

/**
 * The `watermark` command.
 *
 * @example
 * ```ts
 * import { Command } from "effect/cli"
 * import { watermarkCommand } from "./src/cli/watermark.js"
 * const cli = Command.make("retort").pipe(Command.withSubcommands([watermarkCommand]))
 * // retort watermark runs/watermark --model student --split test
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const watermarkCommand = Command.make(
  "watermark",
  {
    run: Argument.String("run").pipe(
      Argument.withDescription(
        "a run directory (with pipeline.json and checkpoint.bin) whose pipeline serves a watermark",
      ),
    ),
    model: Flag.String("model").pipe(Flag.withDescription("the suspect model of the run")),
    split: Flag.Literals("split", ["train", "test"] as const).pipe(
      Flag.withDescription("where the query images come from (default test)"),
      Flag.withDefault("test" as const),
    ),
    queries: Flag.Int("queries").pipe(
      Flag.withDescription("how many query images (default: the whole split)"),
      Flag.optional,
    ),
    permutations: Flag.Int("permutations").pipe(
      Flag.withDescription(
        "shuffles for the permutation p-value beside the closed-form one (default 999; 0: none)",
      ),
      Flag.withDefault(999),
    ),
    data: Flags.runData,
    dataDir: Flags.dataDir,
    noDownload: Flags.noDownload,
    backend: Flags.backend,
    noNative: Flags.noNative,
  },
  (o) =>
    Effect.gen(function* () {
      const found = yield* Effect.scoped(
        WatermarkProbe.detectRun(o.run, o.model, {
          split: o.split,
          download: !o.noDownload,
          permutations: o.permutations,
          ...(Option.isSome(o.queries) ? { queries: o.queries.value } : {}),
          ...(Option.isSome(o.data) ? { source: o.data.value } : {}),
          ...(Option.isSome(o.dataDir) ? { dataDir: o.dataDir.value } : {}),
        }),
      ).pipe(Effect.provide(Layer.mergeAll(Flags.backendLayer(o), Data.layer)))
      const dir = join(o.run, "probes")
      mkdirSync(dir, { recursive: true })
      const file = join(dir, `watermark-${o.model}-${o.split}.json`)
      writeFileSync(file, `${JSON.stringify(found, null, 2)}\n`)
      yield* Console.log(
        `${o.model}: watermark ${found.pValue < 0.01 ? "DETECTED" : "not detected"} — score ${found.score.toFixed(2)} (power at k over the mean of ${found.comparisons} other frequencies), p = ${found.pValue.toExponential(2)}${found.permutationPValue !== undefined ? ` (permutation p = ${found.permutationPValue.toExponential(2)}, ${found.permutations} shuffles)` : ""}, ${found.queries} ${o.split} queries`,
      )
      yield* Console.log(`wrote ${file}`)
    }),
).pipe(
  Command.withDescription(
    "detect a run's output watermark in a trained model: retort watermark runs/watermark --model student",
  ),
)
