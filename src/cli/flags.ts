/**
 * Flags shared by several `retort` commands (run, seeds, demo, probe …), defined once so that
 * their names, defaults and help read the same everywhere.
 *
 * @since 0.1.0
 */
import { Flag } from "effect/cli"
import { Backend } from "../backend/Backend.js"

/**
 * `--backend`: auto | wasm | cpu | tensorflow | tensorflow-gpu | webgpu (default auto).
 *
 * @example
 * ```ts
 * import { Console } from "effect"
 * import { Command } from "effect/cli"
 * import * as Flags from "./src/cli/flags.js"
 * const cmd = Command.make("train", { backend: Flags.backend }, (o) => Console.log(o.backend))
 * ```
 *
 * @since 0.1.0
 */
export const backend = Flag.String("backend").pipe(
  Flag.withDescription("auto | wasm | cpu | tensorflow | tensorflow-gpu | webgpu (default auto)"),
  Flag.withDefault("auto"),
)

/**
 * `--quiet`: no console output.
 *
 * @example
 * ```ts
 * import { Console } from "effect"
 * import { Command } from "effect/cli"
 * import * as Flags from "./src/cli/flags.js"
 * const cmd = Command.make("train", { quiet: Flags.quiet }, (o) => Console.log(o.quiet))
 * ```
 *
 * @since 0.1.0
 */
export const quiet = Flag.Boolean("quiet").pipe(
  Flag.withDescription("no console output"),
  Flag.withDefault(false),
)

/**
 * `--data mnist|fashion-mnist|fashion-or-mnist` for commands that read a finished run (probes,
 * the watermark detector): data to use instead of the run's own, required when the run used
 * custom data.
 *
 * @example
 * ```ts
 * import { Console } from "effect"
 * import { Command } from "effect/cli"
 * import * as Flags from "./src/cli/flags.js"
 * const cmd = Command.make("probe", { data: Flags.runData }, (o) => Console.log(o.data))
 * ```
 *
 * @since 0.1.0
 */
export const runData = Flag.Literals("data", ["mnist", "fashion-mnist", "fashion-or-mnist"] as const).pipe(
  Flag.withDescription("data to use instead of the run's (required when the run used custom data)"),
  Flag.optional,
)

/**
 * `--no-native`: the pure wasm/JS kernels even when the native addon is built.
 *
 * @example
 * ```ts
 * import { Console } from "effect"
 * import { Command } from "effect/cli"
 * import * as Flags from "./src/cli/flags.js"
 * const cmd = Command.make("train", { noNative: Flags.noNative }, (o) => Console.log(o.noNative))
 * ```
 *
 * @since 0.1.0
 */
export const noNative = Flag.Boolean("no-native").pipe(
  Flag.withDescription("do not use the native kernels even when built"),
  Flag.withDefault(false),
)

/**
 * `--threads N`: threads for the native kernels (default: `RETORT_THREADS`, else every core).
 *
 * @example
 * ```ts
 * import { Console, Option } from "effect"
 * import { Command } from "effect/cli"
 * import * as Flags from "./src/cli/flags.js"
 * const cmd = Command.make("train", { threads: Flags.threads }, (o) => Console.log(Option.getOrUndefined(o.threads)))
 * ```
 *
 * @since 0.1.0
 */
export const threads = Flag.Int("threads").pipe(
  Flag.withDescription("threads for the native kernels (default: every core, or RETORT_THREADS)"),
  Flag.optional,
)

/**
 * `--data-dir`: where Fashion-MNIST's IDX files are.
 *
 * @example
 * ```ts
 * import { Console } from "effect"
 * import { Command } from "effect/cli"
 * import * as Flags from "./src/cli/flags.js"
 * const cmd = Command.make("train", { dataDir: Flags.dataDir }, (o) => Console.log(o.dataDir))
 * ```
 *
 * @since 0.1.0
 */
export const dataDir = Flag.String("data-dir").pipe(
  Flag.withDescription("directory with Fashion-MNIST IDX files"),
  Flag.optional,
)

/**
 * `--no-download`: local data only.
 *
 * @example
 * ```ts
 * import { Console } from "effect"
 * import { Command } from "effect/cli"
 * import * as Flags from "./src/cli/flags.js"
 * const cmd = Command.make("train", { noDownload: Flags.noDownload }, (o) => Console.log(o.noDownload))
 * ```
 *
 * @since 0.1.0
 */
export const noDownload = Flag.Boolean("no-download").pipe(
  Flag.withDescription(
    "never download data; use local files (or the MNIST digits where a pipeline allows them)",
  ),
  Flag.withDefault(false),
)

/**
 * `--set path=value` (repeatable): override a pipeline field.
 *
 * @example
 * ```ts
 * import { Console } from "effect"
 * import { Command } from "effect/cli"
 * import * as Flags from "./src/cli/flags.js"
 * const cmd = Command.make("train", { set: Flags.set }, (o) => Console.log(o.set))
 * ```
 *
 * @since 0.1.0
 */
export const set = Flag.KeyValuePair("set").pipe(
  Flag.withDescription("override a field: --set phases[1].epochs=2 (repeatable)"),
  Flag.optional,
)

/**
 * `--max-steps N`: cap every phase.
 *
 * @example
 * ```ts
 * import { Console } from "effect"
 * import { Command } from "effect/cli"
 * import * as Flags from "./src/cli/flags.js"
 * const cmd = Command.make("train", { maxSteps: Flags.maxSteps }, (o) => Console.log(o.maxSteps))
 * ```
 *
 * @since 0.1.0
 */
export const maxSteps = Flag.Int("max-steps").pipe(
  Flag.withDescription("cap every phase at this many steps"),
  Flag.optional,
)

/**
 * The backend layer a command's `--backend` and `--no-native` flags ask for.
 *
 * @example
 * ```ts
 * import * as Flags from "./src/cli/flags.js"
 * const layer = Flags.backendLayer({ backend: "wasm", noNative: false })
 * ```
 *
 * @since 0.1.0
 */
export const backendLayer = (o: { readonly backend: string; readonly noNative: boolean }) =>
  Backend.layer({ kind: o.backend, ...(o.noNative ? { native: false } : {}) })
