/**
 * Problems found in a pipeline description, each with its JSON path and a plain sentence, and
 * the typed error that carries all of them at once.
 *
 * @example
 * ```ts
 * import { Issue } from "retort/dsl"
 * const e = new Issue.ValidationError({ issues: [{ path: "phases[0].epochs", message: "must be positive" }] })
 * console.log(e.message)
 * ```
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * One problem: where it is (a JSON path such as `phases[1].step.stages[3].terms.kd.temperature`)
 * and what is wrong.
 *
 * @since 0.1.0
 * @category models
 */
export interface Issue {
  readonly path: string
  readonly message: string
}

/**
 * A pipeline that does not make sense. Carries **all** problems found, not only the first.
 *
 * @example
 * ```ts
 * import { Issue } from "retort/dsl"
 * const e = new Issue.ValidationError({ issues: [{ path: "phases[0].epochs", message: "must be positive" }] })
 * e.issues.length // 1
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ValidationError extends Data.TaggedError("ValidationError")<{
  readonly issues: ReadonlyArray<Issue>
  /** What was invalid (default "pipeline"; "sweep" for a sweep file). */
  readonly subject?: string
}> {
  override get message(): string {
    return `invalid ${this.subject ?? "pipeline"} (${this.issues.length} problem${this.issues.length === 1 ? "" : "s"}):\n${this.issues
      .map((i) => `  - ${i.path || "<root>"}: ${i.message}`)
      .join("\n")}`
  }
}

/**
 * Render a path from segments: `["phases", 1, "step"]` → `phases[1].step`.
 *
 * @example
 * ```ts
 * import { Issue } from "retort/dsl"
 * Issue.path(["phases", 1, "step", "stages", 0]) // "phases[1].step.stages[0]"
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const path = (segments: ReadonlyArray<string | number>): string =>
  segments
    .map((s, i) =>
      typeof s === "number"
        ? `[${s}]`
        : /^[A-Za-z_$][\w$]*$/.test(s)
          ? i === 0
            ? s
            : `.${s}`
          : `[${JSON.stringify(s)}]`,
    )
    .join("")
