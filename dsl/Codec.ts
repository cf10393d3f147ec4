/**
 * Pipelines to and from JSON and YAML. Decoding checks structure (Effect Schema) and meaning
 * ({@link Validate}) and reports **all** problems at once, each with its JSON path and a plain
 * sentence. A pipeline written in TypeScript and the same pipeline decoded from its JSON are
 * equal values.
 *
 * @example
 * ```ts
 * import { Codec } from "retort/dsl"
 * import { Result } from "effect"
 * declare const pipeline: import("retort/dsl").Pipeline.Pipeline
 * const json = Codec.toJson(pipeline)
 * const back = Codec.fromJson(json)
 * if (Result.isSuccess(back)) console.log(back.success.name)
 * else console.error(back.failure.message)
 * ```
 *
 * @since 0.1.0
 */
import { Result, Schema, SchemaIssue } from "effect"
import * as YAML from "yaml"
import * as Issue from "./Issue.js"
import * as Pipeline from "./Pipeline.js"
import * as Validate from "./Validate.js"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const at = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let cur: unknown = input
  for (const k of path) {
    if (typeof cur !== "object" || cur === null) return undefined
    cur = (cur as Record<PropertyKey, unknown>)[k]
  }
  return cur
}

const tagsIn = (message: string): ReadonlyArray<string> =>
  [...message.matchAll(/"_tag": "([^"]+)"/g)].map((m) => m[1]!).filter((t, i, a) => a.indexOf(t) === i)

/** Turn a schema failure into plain issues, naming unknown `_tag`s with the valid ones. */
const schemaIssues = (error: Schema.SchemaError, input: unknown): ReadonlyArray<Issue.Issue> =>
  formatter(error.issue).issues.map((i) => {
    const segs = (i.path ?? []).map((p) =>
      typeof p === "object" && p !== null && "key" in p ? p.key : p,
    ) as Array<string | number>
    const here = at(input, segs)
    let message = i.message
    if (message.startsWith("Expected {") && typeof here === "object" && here !== null && "_tag" in here) {
      const valid = tagsIn(message)
      const tag = (here as { _tag: unknown })._tag
      message = valid.includes(String(tag))
        ? `malformed ${String(tag)}: ${message}`
        : `unknown kind ${JSON.stringify(tag)} (expected one of ${valid.join(", ")})`
    } else if (message === "Missing key") message = "is required"
    return { path: Issue.path(segs), message }
  })

/** No pipeline is nested anywhere near this deep; deeper input is refused before decoding. */
const MAX_DEPTH = 100

/** The path to the first value nested deeper than `max` levels (iterative: deep input cannot overflow it). */
const tooDeep = (input: unknown, max: number): ReadonlyArray<string | number> | undefined => {
  const stack: Array<{ value: unknown; path: ReadonlyArray<string | number> }> = [{ value: input, path: [] }]
  while (stack.length > 0) {
    const { value, path } = stack.pop()!
    if (typeof value !== "object" || value === null) continue
    if (path.length >= max) return path
    if (Array.isArray(value))
      for (let i = 0; i < value.length; i++) stack.push({ value: value[i], path: [...path, i] })
    else for (const [k, v] of Object.entries(value)) stack.push({ value: v, path: [...path, k] })
  }
  return undefined
}

/**
 * Decode and validate an unknown value (parsed JSON or YAML) as a pipeline.
 *
 * @example
 * ```ts
 * import { Codec } from "retort/dsl"
 * const r = Codec.decode({ _tag: "Pipeline" }) // Failure with every missing field listed
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (input: unknown): Result.Result<Pipeline.Pipeline, Issue.ValidationError> => {
  const deep = tooDeep(input, MAX_DEPTH)
  if (deep !== undefined)
    return Result.fail(
      new Issue.ValidationError({
        issues: [
          {
            path: Issue.path(deep.slice(0, 8)),
            message: `nested more than ${MAX_DEPTH} levels deep (no pipeline is): refused before decoding`,
          },
        ],
      }),
    )
  let r: ReturnType<ReturnType<typeof Schema.decodeUnknownResult<typeof Pipeline.schema>>>
  try {
    r = Schema.decodeUnknownResult(Pipeline.schema)(input, { errors: "all" })
  } catch (e) {
    // a last guard: decoding never throws at the caller
    return Result.fail(
      new Issue.ValidationError({
        issues: [
          { path: "", message: `could not be decoded: ${e instanceof Error ? e.message : String(e)}` },
        ],
      }),
    )
  }
  if (Result.isFailure(r))
    return Result.fail(new Issue.ValidationError({ issues: schemaIssues(r.failure, input) }))
  const issues = Validate.pipeline(r.success)
  return issues.length > 0 ? Result.fail(new Issue.ValidationError({ issues })) : Result.succeed(r.success)
}

/**
 * Validate a pipeline value built in TypeScript (same checks as {@link decode}).
 *
 * @example
 * ```ts
 * import { Codec } from "retort/dsl"
 * declare const p: import("retort/dsl").Pipeline.Pipeline
 * const checked = Codec.validate(p)
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const validate = (p: Pipeline.Pipeline): Result.Result<Pipeline.Pipeline, Issue.ValidationError> => {
  const issues = Validate.pipeline(p)
  return issues.length > 0 ? Result.fail(new Issue.ValidationError({ issues })) : Result.succeed(p)
}

/**
 * Encode a pipeline as plain JSON-compatible data.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (p: Pipeline.Pipeline): unknown => Schema.encodeSync(Pipeline.schema)(p)

/**
 * Encode a pipeline as JSON text (2-space indented).
 *
 * @example
 * ```ts
 * import { Codec } from "retort/dsl"
 * declare const p: import("retort/dsl").Pipeline.Pipeline
 * const text = Codec.toJson(p)
 * ```
 *
 * @since 0.1.0
 * @category encoding
 */
export const toJson = (p: Pipeline.Pipeline): string => `${JSON.stringify(encode(p), null, 2)}\n`

/**
 * Encode a pipeline as YAML text.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toYaml = (p: Pipeline.Pipeline): string => YAML.stringify(encode(p))

/**
 * Parse and decode JSON text. Syntax errors are reported with their line and column.
 *
 * @example
 * ```ts
 * import { Codec } from "retort/dsl"
 * const r = Codec.fromJson("{ not json")
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromJson = (text: string): Result.Result<Pipeline.Pipeline, Issue.ValidationError> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e)
    const pos = /position (\d+)/.exec(msg)
    let where = ""
    if (pos) {
      const before = text.slice(0, Number(pos[1]))
      const line = before.split("\n").length
      where = ` at line ${line}, column ${Number(pos[1]) - before.lastIndexOf("\n")}`
    }
    return Result.fail(
      new Issue.ValidationError({ issues: [{ path: "", message: `malformed JSON${where}: ${msg}` }] }),
    )
  }
  return decode(parsed)
}

/**
 * Parse and decode YAML text. Syntax errors are reported with their line and column.
 *
 * @example
 * ```ts
 * import { Codec } from "retort/dsl"
 * const r = Codec.fromYaml("_tag: Pipeline\nname: [unclosed")
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromYaml = (text: string): Result.Result<Pipeline.Pipeline, Issue.ValidationError> => {
  const doc = YAML.parseDocument(text)
  if (doc.errors.length > 0)
    return Result.fail(
      new Issue.ValidationError({
        issues: doc.errors.map((e) => ({
          path: "",
          message: `malformed YAML${e.linePos ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : ""}: ${e.message.split("\n")[0]}`,
        })),
      }),
    )
  let value: unknown
  try {
    // yaml's own limit on alias expansion stops "billion laughs" documents; it throws
    value = doc.toJS({ maxAliasCount: 100 })
  } catch (e) {
    return Result.fail(
      new Issue.ValidationError({
        issues: [{ path: "", message: `malformed YAML: ${e instanceof Error ? e.message : String(e)}` }],
      }),
    )
  }
  return decode(value)
}
