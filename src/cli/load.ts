/**
 * Loading pipelines for the CLI: TypeScript/JavaScript modules (their default export, or an
 * export named `pipeline`), JSON and YAML files; and `--set path=value` overrides applied to the
 * encoded pipeline before it is validated.
 *
 * @since 0.1.0
 */
import { existsSync, readFileSync } from "node:fs"
import { extname, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { Effect, Result } from "effect"
import * as Codec from "../../dsl/Codec.js"
import type * as Pipeline from "../../dsl/Pipeline.js"
import { IoError, ValidationError } from "../errors.js"

const isPipeline = (u: unknown): u is Pipeline.Pipeline =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "Pipeline"

/**
 * Load a pipeline file. `.ts`/`.mts` modules are imported through tsx, so they run without a
 * build step.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { loadPipeline } from "retort"
 * const p = await Effect.runPromise(loadPipeline("pipelines/kd.ts"))
 * ```
 *
 * @since 0.1.0
 * @category loading
 */
export const loadPipeline = (
  file: string,
  overrides: Readonly<Record<string, string>> = {},
): Effect.Effect<Pipeline.Pipeline, ValidationError | IoError> =>
  Effect.gen(function* () {
    const path = resolve(file)
    if (!existsSync(path))
      return yield* Effect.fail(new IoError({ path, message: `no such pipeline file: ${file}` }))
    const ext = extname(path).toLowerCase()
    let result: Result.Result<Pipeline.Pipeline, ValidationError>
    if (ext === ".json" || ext === ".yaml" || ext === ".yml") {
      const text = yield* Effect.try({
        try: () => readFileSync(path, "utf8"),
        catch: (cause) => new IoError({ path, message: `cannot read ${file}: ${String(cause)}`, cause }),
      })
      result = ext === ".json" ? Codec.fromJson(text) : Codec.fromYaml(text)
      if (Result.isFailure(result) || Object.keys(overrides).length === 0)
        return yield* Effect.fromResult(result)
      return yield* Effect.fromResult(applyOverrides(result.success, overrides))
    }
    const mod = yield* Effect.tryPromise({
      try: async () => {
        if (ext === ".ts" || ext === ".mts" || ext === ".cts") {
          const { tsImport } = await import("tsx/esm/api")
          return (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>
        }
        return (await import(pathToFileURL(path).href)) as Record<string, unknown>
      },
      catch: (cause) =>
        new IoError({
          path,
          message: `cannot load ${file}: ${cause instanceof Error ? cause.message : String(cause)}`,
          cause,
        }),
    })
    const candidate = [
      mod.default,
      mod.pipeline,
      (mod.default as Record<string, unknown> | undefined)?.default,
    ].find(isPipeline)
    if (!candidate)
      return yield* Effect.fail(
        new ValidationError({
          issues: [
            { path: "", message: `${file} exports no pipeline (export one as default or as "pipeline")` },
          ],
        }),
      )
    return yield* Effect.fromResult(
      Object.keys(overrides).length === 0 ? Codec.validate(candidate) : applyOverrides(candidate, overrides),
    )
  })

/** Keys that would reach an object's prototype: never a pipeline field. */
const forbidden = new Set(["__proto__", "constructor", "prototype"])

/** Split `phases[1].epochs` / `phases.1.epochs` into segments. */
const segments = (path: string): Array<string | number> =>
  path
    .replace(/\[(\d+)\]/g, ".$1")
    .split(".")
    .filter((s) => s !== "")
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s))

/**
 * Apply `path=value` overrides (values parsed as JSON when they can be, else taken as strings)
 * to a pipeline's encoded form, then decode and validate it again.
 *
 * @example
 * ```ts
 * import { applyOverrides } from "retort"
 * declare const p: import("retort/dsl").Pipeline.Pipeline
 * const shorter = applyOverrides(p, { "phases[0].epochs": "1", seed: "7" })
 * ```
 *
 * @since 0.1.0
 * @category loading
 */
export const applyOverrides = (
  pipeline: Pipeline.Pipeline,
  overrides: Readonly<Record<string, string>>,
): Result.Result<Pipeline.Pipeline, ValidationError> => {
  const encoded = JSON.parse(JSON.stringify(Codec.encode(pipeline)))
  const issues: Array<{ path: string; message: string }> = []
  for (const [path, raw] of Object.entries(overrides)) {
    const segs = segments(path)
    let value: unknown
    try {
      value = JSON.parse(raw)
    } catch {
      value = raw
    }
    if (segs.some((s) => typeof s === "string" && forbidden.has(s))) {
      issues.push({
        path,
        message: `--set ${path}: "__proto__", "constructor" and "prototype" are not pipeline fields`,
      })
      continue
    }
    let cur: Record<string | number, unknown> = encoded
    let ok = segs.length > 0
    // walk own properties only: a path never reaches a prototype
    for (let i = 0; ok && i < segs.length - 1; i++) {
      const next = Object.hasOwn(cur, segs[i]!) ? cur[segs[i]!] : undefined
      if (typeof next !== "object" || next === null) ok = false
      else cur = next as Record<string | number, unknown>
    }
    if (!ok) issues.push({ path, message: `--set ${path}: no such place in the pipeline` })
    else cur[segs.at(-1)!] = value
  }
  if (issues.length > 0) return Result.fail(new ValidationError({ issues }))
  return Codec.decode(encoded)
}
