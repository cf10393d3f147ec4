/**
 * Pipelines to and from JSON and YAML. Decoding checks structure (Effect Schema) and meaning
 * ({@link Validate}) and reports **all** problems at once (up to 100, then how many more), each
 * with its JSON path and a plain sentence. A pipeline written in TypeScript and the same pipeline
 * decoded from its JSON are equal values. A file is data: hostile input (deep nesting, huge
 * texts and arrays, prototype keys, YAML bombs and tags) is refused with a typed error, never
 * thrown.
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
import * as Sweep from "./Sweep.js"
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

/**
 * No pipeline holds anywhere near this many values (the largest recipe has about 600); more is
 * refused before decoding. It bounds what a few YAML aliases of a big node can expand to.
 */
const MAX_VALUES = 200_000

/**
 * No pipeline file is anywhere near this long (the largest recipe is under 10 KB): longer text
 * is refused before it is parsed, which bounds the time and memory a file can cost: 2 MiB of
 * JSON, 128 KiB of YAML (which parses at about 200 KB/s when dense with flow collections).
 */
const MAX_TEXT = { JSON: 2_097_152, YAML: 131_072 } as const

/** At most this many problems of one kind are listed before decoding is refused. */
const MAX_LISTED = 20

/** Keys that would reach an object's prototype: never a pipeline field or name. */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"])

/** Quoted text in messages and keys in paths are cut to this many characters. */
const MAX_SHOWN = 200

const clip = (s: string, n = MAX_SHOWN): string =>
  s.length > n ? `${s.slice(0, n)}… (${s.length} characters)` : s

/** What a value that is neither plain data nor an array is (a YAML `!!timestamp` is a Date …). */
const kindOf = (value: object): string | undefined => {
  if (Array.isArray(value)) return undefined
  const proto = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) return undefined
  return (proto as { constructor?: { name?: unknown } }).constructor?.name === undefined
    ? "an object with a prototype"
    : `a ${String((proto as { constructor: { name: unknown } }).constructor.name)}`
}

/**
 * What decoding refuses to look at (iterative: deep input cannot overflow it): values nested more
 * than {@link MAX_DEPTH} levels, more than {@link MAX_VALUES} values in all, `__proto__` /
 * `constructor` / `prototype` keys, and objects that are not plain data (a YAML `!!binary`,
 * `!!timestamp`, `!!set` or `!!omap` value; decoding would take a Date or a Map for an empty
 * record).
 */
const refusals = (input: unknown): ReadonlyArray<Issue.Issue> => {
  const issues: Array<Issue.Issue> = []
  let listed = 0
  // a frame knows its parent and key: paths are built only for what is reported
  type Frame = { value: unknown; parent: Frame | undefined; key: string | number; depth: number }
  const pathTo = (f: Frame, last?: string): Array<string | number> => {
    const out: Array<string | number> = last === undefined ? [] : [last]
    for (let g: Frame | undefined = f; g?.parent !== undefined; g = g.parent) out.push(g.key)
    return out.reverse()
  }
  const stack: Array<Frame> = [{ value: input, parent: undefined, key: "", depth: 0 }]
  // values are counted as they are found, so a huge array is refused before it is walked
  let values = 1
  const tooMany = () => [
    { path: "", message: `more than ${MAX_VALUES} values (no pipeline has): refused before decoding` },
  ]
  while (stack.length > 0) {
    const frame = stack.pop()!
    const { value, depth } = frame
    if (typeof value !== "object" || value === null) continue
    if (depth >= MAX_DEPTH)
      return [
        {
          path: Issue.path(
            pathTo(frame)
              .slice(0, 8)
              .map((k) => (typeof k === "string" ? clip(k, 40) : k)),
          ),
          message: `nested more than ${MAX_DEPTH} levels deep (no pipeline is): refused before decoding`,
        },
      ]
    const kind = kindOf(value)
    if (kind !== undefined) {
      if (listed++ < MAX_LISTED)
        issues.push({
          path: pathOf(pathTo(frame)),
          message: `${kind} is not pipeline data (a YAML tag such as !!binary, !!timestamp, !!set or !!omap makes one)`,
        })
      continue
    }
    if (Array.isArray(value)) {
      if ((values += value.length) > MAX_VALUES) return tooMany()
      for (let i = value.length - 1; i >= 0; i--)
        stack.push({ value: value[i], parent: frame, key: i, depth: depth + 1 })
    } else {
      const keys = Object.keys(value)
      if ((values += keys.length) > MAX_VALUES) return tooMany()
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!
        if (FORBIDDEN_KEYS.has(k)) {
          if (listed++ < MAX_LISTED)
            issues.push({
              path: pathOf(pathTo(frame, k)),
              message: `"${k}" is not a pipeline field or name (it would reach an object's prototype)`,
            })
          continue
        }
        stack.push({ value: (value as Record<string, unknown>)[k], parent: frame, key: k, depth: depth + 1 })
      }
    }
  }
  return issues
}

/** A path for a message, with over-long keys cut. */
const pathOf = (segments: ReadonlyArray<string | number>): string =>
  Issue.path(segments.map((k) => (typeof k === "string" ? clip(k) : k)))

/**
 * At most this many problems are listed, and the rest counted: a file of 190,000 copies of one
 * mistake printed 49 MB of them.
 */
const MAX_ISSUES = 100

/** Messages and paths cut to a readable length (a huge name is quoted in full nowhere), and at most {@link MAX_ISSUES} of them. */
const clipped = (issues: ReadonlyArray<Issue.Issue>): ReadonlyArray<Issue.Issue> => {
  const shown = issues
    .slice(0, MAX_ISSUES)
    .map((i) =>
      i.message.length > 4 * MAX_SHOWN || i.path.length > 4 * MAX_SHOWN
        ? { path: clip(i.path, 4 * MAX_SHOWN), message: clip(i.message, 4 * MAX_SHOWN) }
        : i,
    )
  return issues.length > MAX_ISSUES
    ? [
        ...shown,
        {
          path: "",
          message: `… and ${issues.length - MAX_ISSUES} more problems (the first ${MAX_ISSUES} are listed)`,
        },
      ]
    : shown
}

const refuse = (message: string) =>
  Result.fail(new Issue.ValidationError({ issues: [{ path: "", message }] }))

/** Refuse text longer than {@link MAX_TEXT} before parsing it. */
const tooLong = (text: string, format: keyof typeof MAX_TEXT) =>
  text.length > MAX_TEXT[format]
    ? refuse(
        `${format} text of ${text.length} characters: more than ${MAX_TEXT[format]} (no pipeline file is near that long): refused before parsing`,
      )
    : undefined

/**
 * Decode and validate an unknown value (parsed JSON or YAML) as a pipeline. Before decoding, a
 * value nested more than 100 levels deep, one of more than 200,000 values in all, a
 * `__proto__`/`constructor`/`prototype` key anywhere, or an object that is not plain data (a
 * Date, a Map …) is refused with its path. It never throws.
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
  const refused = refusals(input)
  if (refused.length > 0) return Result.fail(new Issue.ValidationError({ issues: refused }))
  let r: ReturnType<ReturnType<typeof Schema.decodeUnknownResult<typeof Pipeline.schema>>>
  try {
    r = Schema.decodeUnknownResult(Pipeline.schema)(input, { errors: "all" })
  } catch (e) {
    // a last guard: decoding never throws at the caller
    return refuse(`could not be decoded: ${clip(e instanceof Error ? e.message : String(e))}`)
  }
  if (Result.isFailure(r))
    return Result.fail(new Issue.ValidationError({ issues: clipped(schemaIssues(r.failure, input)) }))
  let issues: ReadonlyArray<Issue.Issue>
  try {
    issues = Validate.pipeline(r.success)
  } catch (e) {
    // likewise: a validator bug is reported, not thrown
    return refuse(`could not be validated: ${clip(e instanceof Error ? e.message : String(e))}`)
  }
  return issues.length > 0
    ? Result.fail(new Issue.ValidationError({ issues: clipped(issues) }))
    : Result.succeed(r.success)
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

/** JSON text → a value, with the guards of {@link fromJson}, decoded by `decodeAs`. */
const jsonWith = <A>(
  text: string,
  decodeAs: (value: unknown) => Result.Result<A, Issue.ValidationError>,
): Result.Result<A, Issue.ValidationError> => {
  const long = tooLong(text, "JSON")
  if (long) return long
  // a byte-order mark (some editors write one) is not part of the JSON
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e)
    const pos = /position (\d+)/.exec(msg)
    let where = ""
    if (pos) {
      const before = body.slice(0, Number(pos[1]))
      const line = before.split("\n").length
      where = ` at line ${line}, column ${Number(pos[1]) - before.lastIndexOf("\n")}`
    }
    return refuse(`malformed JSON${where}: ${clip(msg)}`)
  }
  const twice = duplicateKeys(body)
  if (twice.length > 0)
    return Result.fail(
      new Issue.ValidationError({
        issues: twice.map((d) => ({
          path: pathOf(d.path),
          message: `the key "${clip(d.key)}" is written twice in one object (JSON would keep only the last): write it once`,
        })),
      }),
    )
  return decodeAs(parsed)
}

/**
 * Parse and decode JSON text. Syntax errors are reported with their line and column; a key
 * written twice in one object is refused (with its path) rather than silently overwritten; a
 * leading byte-order mark is ignored; text over 2 MiB is refused before it is parsed.
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
export const fromJson = (text: string): Result.Result<Pipeline.Pipeline, Issue.ValidationError> =>
  jsonWith(text, decode)

/**
 * Keys written twice in one object of JSON text (which `JSON.parse` has accepted), with their
 * paths: `JSON.parse` silently keeps the last, where YAML refuses the file. One pass over the
 * text, strings skipped.
 */
const duplicateKeys = (
  text: string,
): ReadonlyArray<{ path: ReadonlyArray<string | number>; key: string }> => {
  const out: Array<{ path: ReadonlyArray<string | number>; key: string }> = []
  // one frame per open object (its keys so far) or array; `at` is the current key or index
  const stack: Array<{ keys: Set<string> | undefined; at: string | number; expectKey: boolean }> = []
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      let j = i + 1
      while (j < text.length) {
        const d = text.charCodeAt(j)
        if (d === 0x5c) j += 2
        else if (d === 0x22) break
        else j++
      }
      const top = stack.at(-1)
      if (top?.keys !== undefined && top.expectKey) {
        const raw = text.slice(i + 1, j)
        const key = raw.includes("\\") ? (JSON.parse(text.slice(i, j + 1)) as string) : raw
        if (top.keys.has(key) && out.length < MAX_LISTED)
          out.push({ path: [...stack.slice(0, -1).map((f) => f.at), key], key })
        top.keys.add(key)
        top.at = key
        top.expectKey = false
      }
      i = j
    } else if (c === 0x7b) stack.push({ keys: new Set(), at: "", expectKey: true })
    else if (c === 0x5b) stack.push({ keys: undefined, at: 0, expectKey: false })
    else if (c === 0x7d || c === 0x5d) stack.pop()
    else if (c === 0x2c) {
      const top = stack.at(-1)
      if (top?.keys !== undefined) top.expectKey = true
      else if (top !== undefined) top.at = (top.at as number) + 1
    }
  }
  return out
}

/** A thrown error's message; a stack overflow in the YAML parser is deep nesting. */
const thrownMessage = (e: unknown): string => {
  const msg = e instanceof Error ? e.message : String(e)
  return /call stack/i.test(msg) ? "nested too deeply to parse (no pipeline is)" : clip(msg)
}

/** Line and column (1-based) of an offset. */
const lineCol = (text: string, offset: number): string => {
  const before = text.slice(0, offset)
  return `line ${before.split("\n").length}, column ${offset - before.lastIndexOf("\n")}`
}

/** The JSON path of a node from the ancestors `YAML.visit` passes. */
const yamlPath = (ancestors: ReadonlyArray<unknown>, node: unknown): Array<string | number> => {
  const out: Array<string | number> = []
  for (let i = 0; i < ancestors.length; i++) {
    const a = ancestors[i]
    const next = i + 1 < ancestors.length ? ancestors[i + 1] : node
    if (YAML.isPair(a) && next === a.value) out.push(YAML.isScalar(a.key) ? String(a.key.value) : "?")
    else if (YAML.isSeq(a)) out.push(a.items.indexOf(next as never))
  }
  return out
}

/**
 * Keys a pipeline cannot have: a collection or an alias as a key (toJS would make a string such
 * as "[object Object]" of it, with a warning on stderr), and a key written twice in one mapping.
 */
const yamlKeyProblems = (doc: YAML.Document, text: string): ReadonlyArray<Issue.Issue> => {
  const out: Array<Issue.Issue> = []
  YAML.visit(doc, {
    Map: (_, map, ancestors) => {
      const seen = new Set<string>()
      for (const pair of map.items) {
        const key = pair.key as unknown
        const where = () => (YAML.isNode(key) && key.range ? ` at ${lineCol(text, key.range[0])}` : "")
        if (key !== null && !YAML.isScalar(key))
          out.push({
            path: pathOf(yamlPath(ancestors, map)),
            message: `unsupported YAML${where()}: a key that is ${YAML.isAlias(key) ? "an alias" : "a collection"} (keys are names)`,
          })
        else {
          const name = String(YAML.isScalar(key) ? key.value : key)
          if (seen.has(name))
            out.push({
              path: pathOf([...yamlPath(ancestors, map), name]),
              message: `malformed YAML${where()}: the key "${clip(name)}" is written twice in one mapping: write it once`,
            })
          seen.add(name)
        }
        if (out.length >= MAX_LISTED) return YAML.visit.BREAK
      }
      return undefined
    },
  })
  return out
}

/** YAML text → a value, with the guards of {@link fromYaml}, decoded by `decodeAs`. */
const yamlWith = <A>(
  text: string,
  decodeAs: (value: unknown) => Result.Result<A, Issue.ValidationError>,
): Result.Result<A, Issue.ValidationError> => {
  const long = tooLong(text, "YAML")
  if (long) return long
  let value: unknown
  try {
    // Warnings are not printed: the ones that matter are errors below. Keys are checked for
    // uniqueness below, and positions computed for the errors reported only: yaml's own key
    // check and its pretty errors (a scan of the whole line per error) are quadratic.
    const doc = YAML.parseDocument(text, { logLevel: "error", uniqueKeys: false, prettyErrors: false })
    const problems = [
      ...doc.errors.map((e) => ({ e, what: "malformed YAML" })),
      ...doc.warnings
        .filter((w) => w.code === "TAG_RESOLVE_FAILED")
        .map((e) => ({ e, what: "unsupported YAML" })),
    ]
    if (problems.length > 0) {
      const messages = problems.slice(0, 5 * MAX_LISTED).map(({ e, what }) => {
        const where = e.pos[0] >= 0 ? ` at ${lineCol(text, e.pos[0])}` : ""
        const first = (e.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "")
        const plain =
          e.code === "TAG_RESOLVE_FAILED" ? " (a pipeline file is plain data: no custom tags)" : ""
        return `${what}${where}: ${thrownMessage(new Error(first))}${plain}`
      })
      return Result.fail(
        new Issue.ValidationError({
          issues: [...new Set(messages)].slice(0, MAX_LISTED).map((message) => ({ path: "", message })),
        }),
      )
    }
    const keys = yamlKeyProblems(doc, text)
    if (keys.length > 0) return Result.fail(new Issue.ValidationError({ issues: keys }))
    // yaml's own limit on alias expansion stops "billion laughs" documents; it throws
    value = doc.toJS({ maxAliasCount: 100 })
  } catch (e) {
    return refuse(`malformed YAML: ${thrownMessage(e)}`)
  }
  return decodeAs(value)
}

/**
 * Parse and decode YAML text. Syntax errors are reported with their line and column. YAML that
 * plain data does not need is refused: tags the parser does not know (`!!js/function`, `!foo`),
 * keys that are collections or aliases, a key written twice in one mapping (with its path), text
 * over 128 KiB (before it is parsed), and (see {@link decode}) values a tag turns into
 * something other than plain data (`!!binary`, `!!timestamp`, `!!set` under `%YAML 1.1`).
 * Alias expansion is limited (a "billion laughs" document is refused).
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
export const fromYaml = (text: string): Result.Result<Pipeline.Pipeline, Issue.ValidationError> =>
  yamlWith(text, decode)

/**
 * Decode an unknown value (parsed JSON or YAML) as a sweep (`dsl/Sweep.ts`), with the guards a
 * pipeline gets (depth, size, prototype keys, plain data) and, for an inline pipeline, the
 * pipeline's own checks. Never throws.
 *
 * @example
 * ```ts
 * import { Codec } from "retort/dsl"
 * Codec.decodeSweep({ _tag: "Sweep" }) // Failure listing the missing fields
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeSweep = (input: unknown): Result.Result<Sweep.Sweep, Issue.ValidationError> => {
  const refused = refusals(input)
  if (refused.length > 0) return Result.fail(new Issue.ValidationError({ subject: "sweep", issues: refused }))
  const r = Result.mapError(
    Sweep.decode(input),
    (e) => new Issue.ValidationError({ subject: "sweep", issues: clipped(e.issues) }),
  )
  if (Result.isFailure(r) || typeof r.success.pipeline === "string") return r
  const inner = Validate.pipeline(r.success.pipeline)
  return inner.length > 0
    ? Result.fail(
        new Issue.ValidationError({
          issues: clipped(inner.map((i) => ({ path: `pipeline.${i.path}`, message: i.message }))),
        }),
      )
    : r
}

/**
 * Parse and decode a sweep written as JSON, with the same text guards as {@link fromJson}.
 *
 * @example
 * ```ts
 * import { Codec } from "retort/dsl"
 * const r = Codec.sweepFromJson('{"_tag": "Sweep"}') // Failure listing the missing fields
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const sweepFromJson = (text: string): Result.Result<Sweep.Sweep, Issue.ValidationError> =>
  asSweep(jsonWith(text, decodeSweep))

/**
 * Parse and decode a sweep written as YAML, with the same text guards as {@link fromYaml}.
 *
 * @example
 * ```ts
 * import { Codec } from "retort/dsl"
 * const r = Codec.sweepFromYaml("_tag: Sweep\nname: lr")
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const sweepFromYaml = (text: string): Result.Result<Sweep.Sweep, Issue.ValidationError> =>
  asSweep(yamlWith(text, decodeSweep))

/** Problems found in a sweep file are reported as the sweep's ("invalid sweep"). */
const asSweep = <A>(r: Result.Result<A, Issue.ValidationError>): Result.Result<A, Issue.ValidationError> =>
  Result.mapError(r, (e) =>
    e.subject === "sweep" ? e : new Issue.ValidationError({ subject: "sweep", issues: e.issues }),
  )

/**
 * Encode a sweep as JSON text (2-space indented).
 *
 * @example
 * ```ts
 * import { Codec } from "retort/dsl"
 * declare const s: import("retort/dsl").Sweep.Sweep
 * const text = Codec.sweepToJson(s)
 * ```
 *
 * @since 0.1.0
 * @category encoding
 */
export const sweepToJson = (s: Sweep.Sweep): string => `${JSON.stringify(Sweep.encode(s), null, 2)}\n`
