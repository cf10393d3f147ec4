/**
 * `retort probe <run-dir> --model student [--kind interpolate|slice|sharpness] …`: loss-landscape
 * and sharpness probes of a trained model of a run (see `src/probes`). Writes
 * `<run-dir>/probes/<name>.json`, `.svg` and `.png`, and prints a one-line summary.
 *
 * @example
 * ```ts
 * import { Command } from "effect/cli"
 * import { probeCommand } from "./src/cli/probe.js"
 * const retort = Command.make("retort").pipe(Command.withSubcommands([probeCommand]))
 * ```
 *
 * @since 0.1.0
 */
import { Console, Effect, Layer, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { Data } from "../data/Data.js"
import { ValidationError } from "../errors.js"
import * as Probe from "../probes/Probe.js"
import * as Flags from "./flags.js"

const optionalInt = (name: string, description: string) =>
  Flag.Int(name).pipe(Flag.withDescription(description), Flag.optional)
const optionalNumber = (name: string, description: string) =>
  Flag.Finite(name).pipe(Flag.withDescription(description), Flag.optional)

/** `"-0.5,1.5"` → `[-0.5, 1.5]` */
const parseRange = (text: string): Effect.Effect<readonly [number, number], ValidationError> => {
  const parts = text.split(",").map((s) => Number(s.trim()))
  return parts.length === 2 && parts.every(Number.isFinite) && parts[0]! < parts[1]!
    ? Effect.succeed([parts[0]!, parts[1]!] as const)
    : Effect.fail(
        new ValidationError({
          issues: [{ path: "--alpha-range", message: `expected "lo,hi" with lo < hi, got "${text}"` }],
        }),
      )
}

const some = <K extends string, A>(key: K, o: Option.Option<A>): { [P in K]?: A } =>
  (Option.isSome(o) ? { [key]: o.value } : {}) as { [P in K]?: A }

/**
 * The `probe` command. Not yet in `retort`'s command list by itself: add it to
 * `Command.withSubcommands([...])` in `src/cli/main.ts`.
 *
 * @example
 * ```ts
 * import { Command } from "effect/cli"
 * import { probeCommand } from "./src/cli/probe.js"
 * const cli = Command.make("retort").pipe(Command.withSubcommands([probeCommand]))
 * // retort probe runs/kd --model student --kind sharpness --samples 1000 --backend wasm
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const probeCommand = Command.make(
  "probe",
  {
    run: Argument.String("run").pipe(
      Argument.withDescription("a run directory (with pipeline.json and checkpoint.bin)"),
    ),
    model: Flag.String("model").pipe(
      Flag.withDescription("the model of the run to probe (an EMA/SWA average too)"),
    ),
    kind: Flag.Literals("kind", ["interpolate", "slice", "sharpness"] as const).pipe(
      Flag.withDescription(
        "interpolate (1-D line), slice (2-D filter-normalised plane) or sharpness (default slice)",
      ),
      Flag.withDefault("slice" as const),
    ),
    with: Flag.String("with").pipe(
      Flag.withDescription(
        "interpolate: the point at α = 0 — init (default), another model of the run, or a run directory / checkpoint.bin (path#model for another name)",
      ),
      Flag.optional,
    ),
    samples: Flag.Int("samples").pipe(
      Flag.withDescription("samples to evaluate on (default 1000)"),
      Flag.withDefault(1000),
    ),
    split: Flag.Literals("split", ["train", "validation", "test"] as const).pipe(
      Flag.withDescription("which split the samples come from (default train)"),
      Flag.withDefault("train" as const),
    ),
    batchSize: optionalInt("batch-size", "evaluation batch size (default 500)"),
    sampleSeed: optionalInt("sample-seed", "seed of the sample selection (default 0)"),
    head: Flag.String("head").pipe(
      Flag.withDescription("output head to probe (default logits)"),
      Flag.optional,
    ),
    seed: optionalInt("seed", "seed of the random directions / power-iteration start (default 0)"),
    points: optionalInt("points", "interpolate: number of α values (default 21)"),
    alphaRange: Flag.String("alpha-range").pipe(
      Flag.withDescription('interpolate: α range "lo,hi" (default -0.5,1.5; write --alpha-range=-0.5,1.5)'),
      Flag.optional,
    ),
    steps: optionalInt("steps", "slice: grid points per axis (default 11)"),
    range: optionalNumber("range", "slice: half-width of the grid in direction units (default 1)"),
    normalization: Flag.Literals("normalization", ["filter", "layer", "none"] as const).pipe(
      Flag.withDescription("slice: how random directions are scaled to the weights (default filter)"),
      Flag.optional,
    ),
    method: Flag.Literals("method", ["hessian", "epsilon", "both"] as const).pipe(
      Flag.withDescription("sharpness: top Hessian eigenvalue, ε-ball loss rise, or both (default both)"),
      Flag.optional,
    ),
    iterations: optionalInt("iterations", "sharpness: power iterations at most (default 20)"),
    epsilon: optionalNumber("epsilon", "sharpness: ε-ball radius relative to ‖θ‖ (default 0.001)"),
    ascentSteps: optionalInt("ascent-steps", "sharpness: gradient-ascent steps in the ε-ball (default 5)"),
    name: Flag.String("name").pipe(
      Flag.withDescription("output file name under <run>/probes (default by kind)"),
      Flag.optional,
    ),
    noPng: Flag.Boolean("no-png").pipe(
      Flag.withDescription("write JSON and SVG only"),
      Flag.withDefault(false),
    ),
    data: Flags.runData,
    dataDir: Flags.dataDir,
    noDownload: Flags.noDownload,
    backend: Flags.backend,
    noNative: Flags.noNative,
  },
  (o) =>
    Effect.gen(function* () {
      const alphaRange = Option.isSome(o.alphaRange) ? yield* parseRange(o.alphaRange.value) : undefined
      const outcome = yield* Probe.probe(o.run, {
        model: o.model,
        kind: o.kind,
        samples: o.samples,
        split: o.split,
        download: !o.noDownload,
        png: !o.noPng,
        ...(alphaRange ? { alphaRange } : {}),
        ...some("with", o.with),
        ...some("batchSize", o.batchSize),
        ...some("sampleSeed", o.sampleSeed),
        ...some("head", o.head),
        ...some("seed", o.seed),
        ...some("points", o.points),
        ...some("steps", o.steps),
        ...some("range", o.range),
        ...some("normalization", o.normalization),
        ...some("method", o.method),
        ...some("iterations", o.iterations),
        ...some("epsilon", o.epsilon),
        ...some("ascentSteps", o.ascentSteps),
        ...some("name", o.name),
        ...some("source", o.data),
        ...some("dataDir", o.dataDir),
      }).pipe(Effect.provide(Layer.mergeAll(Flags.backendLayer(o), Data.layer)))
      if (outcome.note) yield* Console.error(`note: ${outcome.note}`)
      yield* Console.log(outcome.summary)
      if (outcome.files.length > 0) yield* Console.log(`wrote ${outcome.files.join(", ")}`)
    }),
).pipe(
  Command.withDescription(
    "loss-landscape and sharpness probes of a trained model: retort probe runs/kd --model student --kind sharpness",
  ),
)
