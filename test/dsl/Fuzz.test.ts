/**
 * Hostile pipeline files, fast version: the recipes' JSON mutated by fast-check (keys deleted or
 * duplicated, values replaced by wrong types, NaN/Infinity/huge/negative numbers, `__proto__` /
 * `constructor` / `prototype` keys, deep nesting, huge strings and arrays), then as text (bytes
 * flipped, cut, garbage), and hand-written YAML attacks (an alias bomb, custom tags). Through
 * `Codec.fromJson` / `Codec.fromYaml`: never an exception (only a typed failure or a pipeline),
 * every rejection with issues carrying a path string, no input over a second, and
 * `Object.prototype` untouched.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Codec } from "../../dsl/index.js"

const dir = join(import.meta.dirname, "../../pipelines/json")
const recipes = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as unknown)

type Json = null | boolean | number | string | Array<Json> | { [k: string]: Json }

/** All paths to values inside a JSON value. */
const paths = (v: unknown, at: Array<string | number> = []): Array<Array<string | number>> => {
  const out: Array<Array<string | number>> = [at]
  if (Array.isArray(v)) for (let i = 0; i < v.length; i++) out.push(...paths(v[i], [...at, i]))
  else if (typeof v === "object" && v !== null)
    for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]))
  return out
}

const nasty: Array<unknown> = [
  Number.NaN,
  Number.POSITIVE_INFINITY,
  -1,
  -1e308,
  1e308,
  2 ** 53 + 1,
  0,
  "",
  "x".repeat(100_000),
  Array.from({ length: 100_000 }, () => 1),
  null,
  true,
  {},
  [],
  { _tag: "Nope" },
  JSON.parse('{"__proto__": {"polluted": 1}}'),
  { constructor: { prototype: { polluted: 1 } } },
]
const deep = (n: number): unknown => {
  let v: unknown = 1
  for (let i = 0; i < n; i++) v = [v]
  return v
}

/** Applies a mutation at a path of a deep copy. */
const mutate = (
  root: unknown,
  path: ReadonlyArray<string | number>,
  kind: "delete" | "replace" | "duplicate" | "proto" | "deep",
  value: unknown,
) => {
  const copy = structuredClone(root) as Json
  if (path.length === 0) return kind === "replace" ? value : copy
  let cur = copy as Record<string | number, unknown>
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>
  const last = path.at(-1)!
  if (kind === "delete") {
    if (Array.isArray(cur)) cur.splice(Number(last), 1)
    else delete cur[last]
  } else if (kind === "replace") cur[last] = value
  else if (kind === "duplicate") {
    if (Array.isArray(cur)) cur.push(structuredClone(cur[last]))
    else cur[`${String(last)}`] = structuredClone(cur[last])
  } else if (kind === "proto") {
    Object.defineProperty(cur, "__proto__", { value: { polluted: 1 }, enumerable: true })
    Object.defineProperty(cur, "constructor", { value: { prototype: { polluted: 1 } }, enumerable: true })
  } else cur[last] = deep(10_000)
  return copy
}

const check = (run: () => Result.Result<unknown, { readonly issues: ReadonlyArray<{ path: string }> }>) => {
  const started = performance.now()
  let r: Result.Result<unknown, { readonly issues: ReadonlyArray<{ path: string }> }>
  try {
    r = run()
  } catch (e) {
    throw new Error(`the decoder threw: ${String(e)}`)
  }
  expect(performance.now() - started).toBeLessThan(1000)
  if (Result.isFailure(r)) {
    expect(r.failure.issues.length).toBeGreaterThan(0)
    for (const i of r.failure.issues) expect(typeof i.path).toBe("string")
  }
  expect(({} as Record<string, unknown>).polluted).toBeUndefined()
}

describe("fuzzed pipeline files", () => {
  it("mutated JSON values: typed failures or pipelines, never an exception", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: recipes.length - 1 }),
        fc.nat(),
        fc.constantFrom("delete", "replace", "duplicate", "proto", "deep"),
        fc.constantFrom(...nasty),
        (r, p, kind, value) => {
          const recipe = recipes[r]
          const all = paths(recipe)
          const at = all[p % all.length]!
          const mutated = mutate(recipe, at, kind as "delete", value)
          check(() => Codec.decode(mutated))
          // JSON.stringify itself overflows on 10,000 levels: write that text by hand
          const text =
            kind === "deep"
              ? (JSON.stringify(mutate(recipe, at, "replace", "__DEEP__")) ?? "null").replace(
                  '"__DEEP__"',
                  `${"[".repeat(10_000)}1${"]".repeat(10_000)}`,
                )
              : (JSON.stringify(mutated) ?? "null")
          check(() => Codec.fromJson(text))
        },
      ),
      { numRuns: 400, seed: 7 },
    )
  })

  it("mutated text: flipped bytes, cuts, garbage, as JSON and as YAML", () => {
    const texts = recipes.map((r) => JSON.stringify(r))
    fc.assert(
      fc.property(
        fc.nat({ max: texts.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat(),
        (t, flips, cut) => {
          const bytes = Buffer.from(texts[t]!)
          for (const [at, b] of flips) bytes[at % bytes.length] = b
          const text = bytes.subarray(0, cut % (bytes.length + 1)).toString("latin1")
          check(() => Codec.fromJson(text))
          check(() => Codec.fromYaml(text))
        },
      ),
      { numRuns: 300, seed: 11 },
    )
  })

  it("YAML attacks: an alias bomb and custom tags are rejected, not executed", () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x"]',
      "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]",
      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]",
      "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]",
      "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]",
      "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]",
    ].join("\n")
    const r = Codec.fromYaml(bomb)
    expect(Result.isFailure(r) && r.failure.message).toMatch(/malformed YAML: .*alias/i)
    for (const text of ["!!js/function 'function () { return 1 }'", "_tag: !foo Pipeline", "[".repeat(5000)])
      check(() => Codec.fromYaml(text))
  })
})
