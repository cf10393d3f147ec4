/**
 * The typed errors of Retort. Every failure a user can cause — a malformed pipeline, a shape
 * mismatch, a missing backend or data set — surfaces as one of these, before training starts.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DataError } from "retort"
 * const program = Effect.fail(new DataError({ message: "no Fashion-MNIST found", hint: "apt-get install dataset-fashion-mnist" }))
 * ```
 *
 * @since 0.1.0
 */
import { Data } from "effect"

export {
  /**
   * One problem found in a pipeline (path + sentence); defined in the DSL so that descriptions
   * can be validated without the runtime.
   *
   * @since 0.1.0
   */
  type Issue,
  /**
   * A pipeline that does not make sense, with every problem found.
   *
   * @since 0.1.0
   */
  ValidationError,
} from "../dsl/Issue.js"

/**
 * Two tensors that should agree in shape do not (a teacher and student with different class
 * counts, a hint between taps of different widths without a projection, data of the wrong size).
 *
 * @since 0.1.0
 * @category errors
 */
export class ShapeError extends Data.TaggedError("ShapeError")<{
  readonly path: string
  readonly message: string
}> {}

/**
 * A backend could not be selected or initialised. `install` names the npm package to install
 * when the backend is missing.
 *
 * @since 0.1.0
 * @category errors
 */
export class BackendError extends Data.TaggedError("BackendError")<{
  readonly backend: string
  readonly message: string
  readonly install?: string
  readonly cause?: unknown
}> {}

/**
 * A data set could not be found, downloaded, verified or parsed. `hint` says how to get it.
 *
 * @since 0.1.0
 * @category errors
 */
export class DataError extends Data.TaggedError("DataError")<{
  readonly message: string
  readonly hint?: string
  readonly cause?: unknown
}> {}

/**
 * Training went wrong at run time: a NaN/Inf loss, an interrupted run. The last good
 * checkpoint is named when one exists.
 *
 * @since 0.1.0
 * @category errors
 */
export class TrainingError extends Data.TaggedError("TrainingError")<{
  readonly message: string
  readonly checkpoint?: string
  readonly cause?: unknown
}> {}

/**
 * Reading or writing a run directory, checkpoint or export failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class IoError extends Data.TaggedError("IoError")<{
  readonly path: string
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * A file-system error as a short sentence, its code first understood: "the disk is full
 * (ENOSPC)", "the file system is read-only (EROFS)", "permission denied (EACCES)" …; any other
 * error as its text.
 *
 * @example
 * ```ts
 * import { describeFsError } from "./src/errors.js"
 * describeFsError(Object.assign(new Error("nope"), { code: "ENOSPC" })) // "the disk is full (ENOSPC)"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const describeFsError = (cause: unknown): string => {
  const code = (cause as { code?: string } | undefined)?.code
  const what: Record<string, string> = {
    ENOSPC: "the disk is full",
    EDQUOT: "the disk quota is exceeded",
    EROFS: "the file system is read-only",
    EACCES: "permission denied",
    EPERM: "operation not permitted",
  }
  return code !== undefined && what[code] !== undefined ? `${what[code]} (${code})` : String(cause)
}
