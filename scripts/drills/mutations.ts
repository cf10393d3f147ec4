/**
 * Hostile pipeline files for the fuzzing drill: fast-check arbitraries that produce the *contents*
 * of a file (a string or raw bytes) from the recipes of `pipelines/json/`, each labelled with the
 * kind of mutation that made it. Value mutations change the recipe's JSON value (deleted and
 * duplicated keys — also duplicate keys in the text —, wrong types, NaN/Infinity/huge/negative
 * numbers, 10,000-level nesting, huge arrays and strings, `__proto__`/`constructor`/`prototype`
 * keys, names such as `toString` that objects inherit) and are written as JSON or YAML; YAML
 * attacks (anchors and aliases, alias bombs, custom tags, merge keys, directives and several
 * documents) start from the recipe's YAML; byte-level ones (garbage, empty files, BOMs and other
 * encodings, truncations, flipped bytes) from either text.
 *
 * `test/dsl/Fuzz.test.ts` (fast) and `scripts/drills/fuzz.ts` (10,000 files) use them.
 *
 * @example
 * ```ts
 * import fc from "fast-check"
 * import * as Mutations from "./scripts/drills/mutations.js"
 * const recipes = Mutations.loadRecipes()
 * const [m] = fc.sample(Mutations.mutant(recipes), { seed: 1, numRuns: 1 })
 * if (m) console.log(m.kind, m.format, Mutations.text(m).length)
 * ```
 *
 * @since 0.1.0
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import fc from "fast-check"
import * as YAML from "yaml"

/**
 * A JSON value.
 *
 * @since 0.1.0
 * @category models
 */
export type Json = null | boolean | number | string | Array<Json> | { [k: string]: Json }

/**
 * A path to a value inside a JSON value: object keys and array indices.
 *
 * @since 0.1.0
 * @category models
 */
export type Path = ReadonlyArray<string | number>

/**
 * Which decoder a file is for: `.json` files go through `Codec.fromJson`, `.yaml` through
 * `Codec.fromYaml`.
 *
 * @since 0.1.0
 * @category models
 */
export type Format = "json" | "yaml"

/**
 * The kinds of mutation, in the order the drill reports them.
 *
 * @example
 * ```ts
 * import * as Mutations from "./scripts/drills/mutations.js"
 * Mutations.kinds.includes("yaml-bomb") // true
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const kinds = [
  "delete-key",
  "duplicate-key",
  "wrong-type",
  "bad-number",
  "deep-nesting",
  "huge-array",
  "huge-string",
  "proto-key",
  "inherited-name",
  "yaml-alias",
  "yaml-bomb",
  "yaml-tag",
  "yaml-merge",
  "yaml-document",
  "garbage",
  "empty",
  "bom",
  "truncate",
  "byte-flip",
] as const

/**
 * One kind of mutation (see {@link kinds}).
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = (typeof kinds)[number]

/**
 * A mutated file: its contents (a string is written as UTF-8), the decoder it is meant for,
 * the kind of mutation and a short note of what was done (for reports).
 *
 * @example
 * ```ts
 * import * as Mutations from "./scripts/drills/mutations.js"
 * const m: Mutations.Mutant = { kind: "empty", format: "json", content: "", note: "empty file" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Mutant {
  readonly kind: Kind
  readonly format: Format
  readonly content: string | Uint8Array
  readonly note: string
}

/**
 * A recipe to mutate: its name, parsed value, JSON and YAML texts, and its paths by what they
 * lead to.
 *
 * @since 0.1.0
 * @category models
 */
export interface Recipe {
  readonly name: string
  readonly value: Json
  readonly json: string
  readonly yaml: string
  readonly paths: {
    readonly all: ReadonlyArray<Path>
    readonly numbers: ReadonlyArray<Path>
    readonly strings: ReadonlyArray<Path>
    readonly objects: ReadonlyArray<Path>
    readonly arrays: ReadonlyArray<Path>
  }
}

/**
 * All paths to values inside a JSON value (the root's is `[]`).
 *
 * @example
 * ```ts
 * import * as Mutations from "./scripts/drills/mutations.js"
 * Mutations.paths({ a: [1] }) // [[], ["a"], ["a", 0]]
 * ```
 *
 * @since 0.1.0
 * @category paths
 */
export const paths = (v: unknown, at: Array<string | number> = []): Array<Array<string | number>> => {
  const out: Array<Array<string | number>> = [at]
  if (Array.isArray(v)) for (let i = 0; i < v.length; i++) out.push(...paths(v[i], [...at, i]))
  else if (typeof v === "object" && v !== null)
    for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]))
  return out
}

/** The value at a path (undefined when there is none). */
const getAt = (root: unknown, path: Path): unknown => {
  let cur = root
  for (const k of path) {
    if (typeof cur !== "object" || cur === null) return undefined
    cur = (cur as Record<string | number, unknown>)[k]
  }
  return cur
}

/** A deep copy with `value` at `path` (the root when the path is empty). */
const setAt = (root: unknown, path: Path, value: unknown): unknown => {
  if (path.length === 0) return value
  const copy = structuredClone(root)
  const parent = getAt(copy, path.slice(0, -1)) as Record<string | number, unknown>
  parent[path.at(-1)!] = value
  return copy
}

/**
 * Load the recipes of a folder (`pipelines/json/` by default): every `.json` file, with the
 * `.yaml` file beside it when there is one.
 *
 * @example
 * ```ts
 * import * as Mutations from "./scripts/drills/mutations.js"
 * const recipes = Mutations.loadRecipes()
 * recipes.map((r) => r.name) // ["born-again", "byot", …]
 * ```
 *
 * @since 0.1.0
 * @category recipes
 */
export const loadRecipes = (
  dir: string = join(import.meta.dirname, "..", "..", "pipelines", "json"),
): ReadonlyArray<Recipe> =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => {
      const name = f.replace(/\.json$/, "")
      const json = readFileSync(join(dir, f), "utf8")
      const value = JSON.parse(json) as Json
      let yaml: string
      try {
        yaml = readFileSync(join(dir, `${name}.yaml`), "utf8")
      } catch {
        yaml = YAML.stringify(value)
      }
      const all = paths(value)
      const of = (test: (v: unknown) => boolean) => all.filter((p) => test(getAt(value, p)))
      return {
        name,
        value,
        json,
        yaml,
        paths: {
          all,
          numbers: of((v) => typeof v === "number"),
          strings: of((v) => typeof v === "string"),
          objects: of((v) => typeof v === "object" && v !== null && !Array.isArray(v)),
          arrays: of(Array.isArray),
        },
      }
    })

// ---------------------------------------------------------------------------------------------
// The fast test's helpers (kept with their original behaviour)

/**
 * Hostile values to put anywhere: non-finite, huge and negative numbers, empty and huge strings
 * and arrays, wrong types, an unknown `_tag`, own `__proto__` and `constructor.prototype` keys.
 *
 * @since 0.1.0
 * @category values
 */
export const nasty: ReadonlyArray<unknown> = [
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

/**
 * `n` nested one-element arrays around `1` (built iteratively).
 *
 * @example
 * ```ts
 * import * as Mutations from "./scripts/drills/mutations.js"
 * Mutations.deep(2) // [[1]]
 * ```
 *
 * @since 0.1.0
 * @category values
 */
export const deep = (n: number): unknown => {
  let v: unknown = 1
  for (let i = 0; i < n; i++) v = [v]
  return v
}

/**
 * The test's value mutations, on a deep copy: `delete` the value at `path`, `replace` it by
 * `value`, `duplicate` it (an array element is appended again), add own `__proto__` and
 * `constructor` keys to its parent (`proto`), or replace it by 10,000 nested arrays (`deep`).
 *
 * @example
 * ```ts
 * import * as Mutations from "./scripts/drills/mutations.js"
 * Mutations.mutate({ a: 1, b: 2 }, ["a"], "delete", undefined) // { b: 2 }
 * ```
 *
 * @since 0.1.0
 * @category values
 */
export const mutate = (
  root: unknown,
  path: ReadonlyArray<string | number>,
  kind: "delete" | "replace" | "duplicate" | "proto" | "deep",
  value: unknown,
): unknown => {
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

/**
 * JSON text of `n` nested arrays around `1`, written by hand (`JSON.stringify` overflows the
 * stack on 10,000 levels).
 *
 * @example
 * ```ts
 * import * as Mutations from "./scripts/drills/mutations.js"
 * Mutations.deepText(3) // "[[[1]]]"
 * ```
 *
 * @since 0.1.0
 * @category values
 */
export const deepText = (n: number, open = "[", close = "]", leaf = "1"): string =>
  `${open.repeat(n)}${leaf}${close.repeat(n)}`

// ---------------------------------------------------------------------------------------------
// Serialisation with raw fragments

/**
 * Text that `JSON.stringify` / `YAML.stringify` cannot write (NaN, 10,000 levels, a key that is
 * already there) goes in as a placeholder string and is spliced in afterwards, per format.
 */
interface Raw {
  readonly json: string
  readonly yaml: string
}

const PLACEHOLDER = /(["']?)@@RAW(\d+)@@\1/g
const placeholder = (raws: Array<Raw>, raw: Raw | string): string => {
  raws.push(typeof raw === "string" ? { json: raw, yaml: raw } : raw)
  return `@@RAW${raws.length - 1}@@`
}

/** JSON or YAML text of a value with its raw fragments spliced in. */
const serialise = (value: unknown, raws: ReadonlyArray<Raw>, format: Format, indent: boolean): string => {
  const text =
    format === "json"
      ? (JSON.stringify(value, null, indent ? 2 : undefined) ?? "null")
      : YAML.stringify(value, { lineWidth: 0, aliasDuplicateObjects: false })
  return raws.length === 0 ? text : text.replace(PLACEHOLDER, (_, _q, i: string) => raws[Number(i)]![format])
}

/** A value mutation: the mutated value (with placeholders) and its raw fragments. */
interface Edit {
  readonly value: unknown
  readonly raws: Array<Raw>
  readonly note: string
}

const pick = <A>(xs: ReadonlyArray<A>, i: number): A => xs[i % xs.length]!

const fmtPath = (p: Path) =>
  p.length === 0 ? "<root>" : p.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join("")

const asMutant =
  (kind: Kind) =>
  ([format, indent, e]: [Format, boolean, Edit]): Mutant => ({
    kind,
    format,
    content: serialise(e.value, e.raws, format, indent),
    note: e.note,
  })

const formatArb: fc.Arbitrary<Format> = fc.constantFrom("json", "yaml")

/** Value mutations: a recipe, a random number for the place, and the kind's own choices. */
const valueMutant = <C>(
  kind: Kind,
  recipes: ReadonlyArray<Recipe>,
  choice: fc.Arbitrary<C>,
  edit: (r: Recipe, at: number, c: C) => Edit,
): fc.Arbitrary<Mutant> =>
  fc
    .tuple(formatArb, fc.boolean(), fc.nat({ max: recipes.length - 1 }), fc.nat(), choice)
    .map(([format, indent, r, at, c]) => asMutant(kind)([format, indent, edit(recipes[r]!, at, c)]))

/** Own keys that reach a prototype, and names every object inherits. */
const protoKeys = ["__proto__", "constructor", "prototype"] as const
const inherited = [
  "toString",
  "constructor",
  "__proto__",
  "hasOwnProperty",
  "valueOf",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "toLocaleString",
  "__defineGetter__",
  "__lookupGetter__",
  "prototype",
  "length",
] as const

/** Non-finite, huge, tiny, negative and non-integer numbers, with their text in each format. */
const badNumbers: ReadonlyArray<{
  readonly label: string
  readonly value: unknown
  readonly raw?: Raw | string
}> = [
  { label: "NaN", value: null, raw: { json: "NaN", yaml: ".nan" } },
  { label: "Infinity", value: null, raw: { json: "1e999", yaml: ".inf" } },
  { label: "-Infinity", value: null, raw: { json: "-1e999", yaml: "-.inf" } },
  { label: "Infinity literal", value: null, raw: { json: "Infinity", yaml: "1e999" } },
  { label: "1e308", value: 1e308 },
  { label: "-1e308", value: -1e308 },
  { label: "MAX_VALUE", value: Number.MAX_VALUE },
  { label: "2^53+1", value: 2 ** 53 + 1 },
  { label: "2^31", value: 2 ** 31 },
  { label: "-2^31-1", value: -(2 ** 31) - 1 },
  { label: "1e21", value: 1e21 },
  { label: "30 digits", value: null, raw: "123456789012345678901234567890" },
  { label: "-1", value: -1 },
  { label: "-0", value: null, raw: "-0" },
  { label: "0", value: 0 },
  { label: "5e-324", value: 5e-324 },
  { label: "1e-300", value: 1e-300 },
  { label: "0.5", value: 0.5 },
  { label: "1.5", value: 1.5 },
  { label: "-1e-9", value: -1e-9 },
  { label: "hex", value: null, raw: { json: "0x10", yaml: "0x7fffffffffffffff" } },
  { label: "string number", value: "1" },
  { label: "string NaN", value: "NaN" },
]

/** Values of every other type (and some that look right but are not). */
const wrongValues: ReadonlyArray<unknown> = [
  "x",
  "",
  "1",
  "true",
  1,
  0,
  -1,
  true,
  false,
  null,
  {},
  [],
  [1, 2, 3],
  ["x"],
  { _tag: "Nope" },
  { _tag: "Pipeline" },
  { _tag: "Mlp", hidden: [], classes: 10 },
  { _tag: 1 },
  { _tag: null },
]

const typeOf = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v)

// ---------------------------------------------------------------------------------------------
// Value mutations

const deleteKey = (recipes: ReadonlyArray<Recipe>) =>
  valueMutant("delete-key", recipes, fc.array(fc.nat(), { minLength: 0, maxLength: 2 }), (r, at, more) => {
    let value: unknown = r.value
    const done: Array<string> = []
    for (const n of [at, ...more]) {
      const all = paths(value).filter((p) => p.length > 0)
      if (all.length === 0) break
      const p = pick(all, n)
      value = mutate(value, p, "delete", undefined)
      done.push(fmtPath(p))
    }
    return { value, raws: [], note: `${r.name}: delete ${done.join(", ")}` }
  })

const duplicateKey = (recipes: ReadonlyArray<Recipe>) =>
  valueMutant(
    "duplicate-key",
    recipes,
    fc.tuple(fc.constantFrom("text-same", "text-other", "text-wrong", "array", "rename"), fc.nat(), fc.nat()),
    (r, at, [how, a, b]) => {
      const raws: Array<Raw> = []
      if (how === "array") {
        const p = pick(r.paths.arrays, at)
        const arr = getAt(r.value, p) as Array<Json>
        const copy = structuredClone(arr)
        if (copy.length > 0) copy.splice(a % (copy.length + 1), 0, structuredClone(pick(copy, b)))
        return {
          value: setAt(r.value, p, copy),
          raws,
          note: `${r.name}: duplicate an element of ${fmtPath(p)}`,
        }
      }
      const objects = r.paths.objects.filter((p) => Object.keys(getAt(r.value, p) as object).length > 0)
      const p = pick(objects, at)
      const obj = structuredClone(getAt(r.value, p)) as Record<string, Json>
      const key = pick(Object.keys(obj), a)
      if (how === "rename") {
        obj[`${key}2`] = structuredClone(obj[key]!)
        return {
          value: setAt(r.value, p, obj),
          raws,
          note: `${r.name}: copy ${fmtPath([...p, key])} as ${key}2`,
        }
      }
      // the same key twice in the text: JSON.parse keeps the last, YAML refuses
      const second =
        how === "text-same"
          ? structuredClone(obj[key]!)
          : how === "text-other"
            ? structuredClone(getAt(r.value, pick(r.paths.all, b)) as Json)
            : (pick(wrongValues, b) as Json)
      obj[placeholder(raws, JSON.stringify(key))] = second
      return {
        value: setAt(r.value, p, obj),
        raws,
        note: `${r.name}: key ${fmtPath([...p, key])} twice in the text (${how})`,
      }
    },
  )

const wrongType = (recipes: ReadonlyArray<Recipe>) =>
  valueMutant(
    "wrong-type",
    recipes,
    fc.tuple(fc.constantFrom("constant", "swap", "wrap", "stringify"), fc.nat()),
    (r, at, [how, n]) => {
      const p = pick(r.paths.all, at)
      const here = getAt(r.value, p)
      let value: unknown
      if (how === "swap") value = structuredClone(getAt(r.value, pick(r.paths.all, n)))
      else if (how === "wrap") value = [here]
      else if (how === "stringify") value = typeof here === "string" ? { value: here } : JSON.stringify(here)
      else {
        const other = wrongValues.filter((v) => typeOf(v) !== typeOf(here))
        value = structuredClone(pick(other, n))
      }
      return { value: setAt(r.value, p, value), raws: [], note: `${r.name}: ${fmtPath(p)} ← ${how}` }
    },
  )

const badNumber = (recipes: ReadonlyArray<Recipe>) =>
  valueMutant(
    "bad-number",
    recipes,
    fc.tuple(fc.nat({ max: badNumbers.length - 1 }), fc.integer({ min: 0, max: 9 })),
    (r, at, [b, anywhere]) => {
      // mostly where a number is; sometimes anywhere
      const p =
        anywhere === 0 || r.paths.numbers.length === 0 ? pick(r.paths.all, at) : pick(r.paths.numbers, at)
      const bad = badNumbers[b]!
      const raws: Array<Raw> = []
      const value = bad.raw === undefined ? bad.value : placeholder(raws, bad.raw)
      return { value: setAt(r.value, p, value), raws, note: `${r.name}: ${fmtPath(p)} ← ${bad.label}` }
    },
  )

const nestings: Record<string, { open: string; close: string; leaf: string }> = {
  arrays: { open: "[", close: "]", leaf: "1" },
  objects: { open: '{"a":', close: "}", leaf: "1" },
  // the schema's own recursion: a binary model of a binary model of …
  binary: { open: '{"_tag":"Binary","inner":', close: "}", leaf: '{"_tag":"Mlp","hidden":[8],"classes":10}' },
  mixed: { open: '[{"a":', close: "}]", leaf: '"x"' },
  ramps: {
    open: '{"_tag":"Linear","from":',
    close: ',"to":0,"start":0,"end":1,"unit":"progress"}',
    leaf: "1",
  },
}

const deepNesting = (recipes: ReadonlyArray<Recipe>) =>
  fc
    .tuple(
      formatArb,
      fc.nat({ max: recipes.length - 1 }),
      fc.nat(),
      fc.constantFrom(...Object.keys(nestings)),
      fc.constantFrom(101, 1_000, 10_000, 10_000, 10_000, 50_000),
      fc.constantFrom("flow", "flow", "flow", "block-dash", "block-indent"),
    )
    .map(([format, r0, at, shape, depth, style]): Mutant => {
      const r = recipes[r0]!
      const p = pick(r.paths.all, at)
      const raws: Array<Raw> = []
      const n = nestings[shape]!
      let yamlText = deepText(depth, n.open, n.close, n.leaf)
      // YAML's block forms: `- - - 1` on one line, or one indented level per line
      if (format === "yaml" && style === "block-dash") yamlText = `${"- ".repeat(depth)}1`
      if (format === "yaml" && style === "block-indent") {
        const levels = Math.min(depth, 1_000)
        yamlText = Array.from({ length: levels }, (_, i) => `${" ".repeat(i)}a:`).join("\n") + " 1"
        return {
          kind: "deep-nesting",
          format,
          content: p.length === 0 ? yamlText : `${r.yaml}\n${yamlText}\n`,
          note: `${r.name}: ${levels} indented YAML levels`,
        }
      }
      const raw = placeholder(raws, { json: deepText(depth, n.open, n.close, n.leaf), yaml: yamlText })
      return {
        kind: "deep-nesting",
        format,
        content: serialise(setAt(r.value, p, raw), raws, format, false),
        note: `${r.name}: ${fmtPath(p)} ← ${depth} levels of ${shape}${format === "yaml" ? ` (${style})` : ""}`,
      }
    })

/** The text of `n` copies of an element, written by joining (cheap even for a million). */
const hugeArrayText = (element: string, n: number) => {
  const parts = new Array<string>(n).fill(element)
  return `[${parts.join(",")}]`
}

const hugeArray = (recipes: ReadonlyArray<Recipe>) =>
  valueMutant(
    "huge-array",
    recipes,
    fc.tuple(
      fc.constantFrom(10_000, 100_000, 100_000, 1_000_000),
      fc.constantFrom("copies", "numbers", "strings", "objects", "nested"),
      fc.integer({ min: 0, max: 3 }),
    ),
    (r, at, [n, what, anywhere]) => {
      const p =
        anywhere === 0 || r.paths.arrays.length === 0 ? pick(r.paths.all, at) : pick(r.paths.arrays, at)
      const here = getAt(r.value, p)
      const element =
        what === "copies" && Array.isArray(here) && here.length > 0
          ? JSON.stringify(here[at % here.length])
          : what === "numbers"
            ? "1"
            : what === "strings"
              ? '"teacher"'
              : what === "objects"
                ? '{"_tag":"Forward","model":"teacher","as":["o"],"mode":"train","input":"x","taps":[],"heads":[]}'
                : "[[[1]]]"
      // at most ~16 MB of text
      const count = Math.max(1, Math.min(n, Math.floor(16_000_000 / (element.length + 1))))
      const raws: Array<Raw> = []
      const value = placeholder(raws, hugeArrayText(element, count))
      return { value: setAt(r.value, p, value), raws, note: `${r.name}: ${fmtPath(p)} ← ${count} × ${what}` }
    },
  )

const hugeUnits = ["x", "é", "→", '"', "\\", "\u0000", "\n", "😀", " ", "\u2028", "ab"] as const

const hugeString = (recipes: ReadonlyArray<Recipe>) =>
  valueMutant(
    "huge-string",
    recipes,
    fc.tuple(
      fc.constantFrom(100_000, 1_000_000, 1_000_000, 4_000_000),
      fc.constantFrom(...hugeUnits),
      fc.constantFrom("value", "value", "key"),
    ),
    (r, at, [n, unit, where]) => {
      const big = unit.repeat(Math.ceil(n / unit.length))
      const raws: Array<Raw> = []
      if (where === "key") {
        const objects = r.paths.objects.filter((p) => Object.keys(getAt(r.value, p) as object).length > 0)
        const p = pick(objects, at)
        const obj = getAt(r.value, p) as Record<string, Json>
        const key = pick(Object.keys(obj), n)
        const renamed: Record<string, Json> = {}
        for (const [k, v] of Object.entries(obj))
          renamed[k === key ? placeholder(raws, JSON.stringify(big)) : k] = v
        return {
          value: setAt(r.value, p, renamed),
          raws,
          note: `${r.name}: key ${fmtPath([...p, key])} renamed to ${n} × ${JSON.stringify(unit)}`,
        }
      }
      const p = r.paths.strings.length > 0 && at % 4 !== 0 ? pick(r.paths.strings, at) : pick(r.paths.all, at)
      return {
        value: setAt(r.value, p, placeholder(raws, JSON.stringify(big))),
        raws,
        note: `${r.name}: ${fmtPath(p)} ← ${n} × ${JSON.stringify(unit)}`,
      }
    },
  )

const protoValues: ReadonlyArray<string> = [
  '{"polluted":1}',
  '{"prototype":{"polluted":1}}',
  '{"__proto__":{"polluted":1}}',
  '{"_tag":"Mlp","hidden":[8],"classes":10}',
  '{"toString":"x","valueOf":1}',
  '"x"',
  "1",
  "null",
  "[]",
]

const protoKey = (recipes: ReadonlyArray<Recipe>) =>
  valueMutant(
    "proto-key",
    recipes,
    fc.tuple(
      fc.constantFrom(...protoKeys),
      fc.nat({ max: protoValues.length - 1 }),
      fc.constantFrom("add", "add", "rename"),
      fc.nat(),
    ),
    (r, at, [key, v, how, n]) => {
      const raws: Array<Raw> = []
      const p = pick(r.paths.objects, at)
      const obj = getAt(r.value, p) as Record<string, Json>
      const keys = Object.keys(obj)
      const out: Record<string, unknown> = {}
      if (how === "rename" && keys.length > 0) {
        const old = pick(keys, n)
        for (const [k, x] of Object.entries(obj))
          out[k === old ? placeholder(raws, JSON.stringify(key)) : k] = x
        return {
          value: setAt(r.value, p, out),
          raws,
          note: `${r.name}: key ${fmtPath([...p, old])} renamed to ${key}`,
        }
      }
      // first or last: JSON.parse and YAML treat an early `__proto__` the same as a late one, or should
      const first = n % 2 === 0
      if (first) out[placeholder(raws, JSON.stringify(key))] = placeholder(raws, protoValues[v]!)
      Object.assign(out, obj)
      if (!first) out[placeholder(raws, JSON.stringify(key))] = placeholder(raws, protoValues[v]!)
      return {
        value: setAt(r.value, p, out),
        raws,
        note: `${r.name}: ${fmtPath(p)}.${key} = ${protoValues[v]}`,
      }
    },
  )

/** Every dot-separated segment of the recipe's strings and keys (model, tap, term names …). */
const tokens = (r: Recipe): ReadonlyArray<string> => {
  const out = new Set<string>()
  for (const p of r.paths.strings) for (const s of String(getAt(r.value, p)).split(".")) if (s) out.add(s)
  for (const p of r.paths.objects) for (const k of Object.keys(getAt(r.value, p) as object)) out.add(k)
  out.delete("_tag")
  return [...out].sort()
}

/** Rename a token everywhere: keys, strings and the segments of dotted references. */
const renameEverywhere = (v: unknown, from: string, to: string): unknown => {
  const seg = (s: string) =>
    s
      .split(".")
      .map((x) => (x === from ? to : x))
      .join(".")
  if (typeof v === "string") return seg(v)
  if (Array.isArray(v)) return v.map((x) => renameEverywhere(x, from, to))
  if (typeof v === "object" && v !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v))
      Object.defineProperty(out, k === "_tag" ? k : seg(k), {
        value: renameEverywhere(x, from, to),
        enumerable: true,
        writable: true,
        configurable: true,
      })
    return out
  }
  return v
}

const inheritedName = (recipes: ReadonlyArray<Recipe>) =>
  valueMutant(
    "inherited-name",
    recipes,
    fc.tuple(
      fc.constantFrom(...inherited),
      fc.constantFrom(
        "rename-everywhere",
        "rename-everywhere",
        "string",
        "init-copy",
        "init-key",
        "tap-hint",
      ),
      fc.nat(),
    ),
    (r, at, [name, how, n]) => {
      const root = r.value as { models?: Record<string, Json>; phases?: Array<Record<string, any>> }
      const models = Object.keys(root.models ?? {})
      const phases = root.phases ?? []
      if (how === "rename-everywhere") {
        const from = pick(tokens(r), at)
        return {
          value: renameEverywhere(r.value, from, name),
          raws: [],
          note: `${r.name}: "${from}" renamed to "${name}" everywhere`,
        }
      }
      if ((how === "init-copy" || how === "init-key") && phases.length > 0) {
        const i = at % phases.length
        const init =
          how === "init-copy"
            ? { [pick(models.length > 0 ? models : ["m"], n)]: { _tag: "Copy", from: name } }
            : {
                [name]:
                  n % 2 === 0
                    ? { _tag: "Copy", from: pick(models.length > 0 ? models : ["m"], n) }
                    : { _tag: "Fresh" },
              }
        const value = setAt(r.value, ["phases", i, "init"], init)
        return { value, raws: [], note: `${r.name}: phases[${i}].init = ${JSON.stringify(init)}` }
      }
      if (how === "tap-hint" && phases.length > 0) {
        // a forward that taps `name` and a hint that compares it with itself
        const i = at % phases.length
        const phase = structuredClone(phases[i]!) as { step: { stages: Array<Record<string, any>> } }
        const stages = phase.step.stages
        const fwd = stages.find((s) => s._tag === "Forward")
        const loss = stages.find((s) => s._tag === "Loss")
        if (fwd && loss) {
          const as = (fwd.as as Array<string>)[0] ?? "o"
          fwd.taps = [...(fwd.taps as Array<string>), name]
          loss.terms = {
            ...loss.terms,
            hint: { _tag: "Hint", student: `${as}.${name}`, teacher: `${as}.${name}` },
          }
          const value = setAt(r.value, ["phases", i], phase)
          return { value, raws: [], note: `${r.name}: phases[${i}] taps "${name}" and hints on it` }
        }
      }
      const p = pick(r.paths.strings, at)
      return { value: setAt(r.value, p, name), raws: [], note: `${r.name}: ${fmtPath(p)} ← "${name}"` }
    },
  )

// ---------------------------------------------------------------------------------------------
// YAML attacks

const yamlOnly = (kind: Kind, note: string, content: string): Mutant => ({
  kind,
  format: "yaml",
  content,
  note,
})

const yaml11 = "%YAML 1.1\n---\n"

/** The nodes of a YAML document of a recipe, in document order. */
const nodesOf = (doc: YAML.Document) => {
  const out: Array<YAML.Node> = []
  YAML.visit(doc, {
    Node(_, node) {
      if (YAML.isScalar(node) || YAML.isMap(node) || YAML.isSeq(node)) out.push(node)
    },
  })
  return out
}

const descendants = (node: YAML.Node): Array<YAML.Node> => {
  const out: Array<YAML.Node> = []
  YAML.visit(node, {
    Node(_, n) {
      if (n !== node && (YAML.isScalar(n) || YAML.isMap(n) || YAML.isSeq(n))) out.push(n)
    },
  })
  return out
}

/** Replace `targets` in a document by aliases of `source`. */
const aliasTo = (doc: YAML.Document, source: YAML.Node, targets: ReadonlySet<YAML.Node>) => {
  YAML.visit(doc, {
    Node(_, node) {
      if (targets.has(node)) return doc.createAlias(source as YAML.Scalar, "a")
      return undefined
    },
  })
}

const safeToString = (doc: YAML.Document, fallback: string) => {
  try {
    return doc.toString({ lineWidth: 0 })
  } catch {
    return fallback
  }
}

const yamlAlias = (recipes: ReadonlyArray<Recipe>) =>
  fc
    .tuple(
      fc.nat({ max: recipes.length - 1 }),
      fc.nat(),
      fc.nat(),
      fc.constantFrom("one", "many", "cycle", "undefined", "forward"),
      fc.integer({ min: 2, max: 150 }),
      fc.boolean(),
    )
    .map(([r0, a, b, how, count, v11]): Mutant => {
      const r = recipes[r0]!
      const doc = new YAML.Document(structuredClone(r.value))
      const nodes = nodesOf(doc)
      const source = pick(nodes, a)
      let note: string
      if (how === "undefined") {
        const lines = r.yaml.split("\n")
        const i = a % lines.length
        lines[i] = lines[i]!.replace(/: .+$/, ": *nope")
        return yamlOnly("yaml-alias", `${r.name}: an alias with no anchor (line ${i + 1})`, lines.join("\n"))
      }
      if (how === "cycle") {
        const inner = descendants(source)
        if (inner.length > 0) {
          aliasTo(doc, source, new Set([pick(inner, b)]))
          note = "an alias inside its own anchor (a cycle)"
        } else {
          aliasTo(doc, pick(nodes, 0), new Set([source]))
          note = "the root aliased inside itself"
        }
      } else if (how === "forward") {
        // the alias before its anchor
        const later = nodes.slice(nodes.indexOf(source) + 1)
        aliasTo(doc, later.length > 0 ? pick(later, b) : source, new Set([source]))
        note = "an alias before its anchor"
      } else {
        const outside = new Set(descendants(source))
        outside.add(source)
        const candidates = nodes.filter((n) => !outside.has(n) && !descendants(n).includes(source))
        const targets = new Set<YAML.Node>()
        const want = how === "one" ? 1 : count
        for (let i = 0; i < want && candidates.length > 0; i++) targets.add(pick(candidates, b + i * 7919))
        aliasTo(doc, source, targets)
        note = `${targets.size} aliases of one node`
      }
      return yamlOnly("yaml-alias", `${r.name}: ${note}`, (v11 ? yaml11 : "") + safeToString(doc, r.yaml))
    })

const yamlBomb = (recipes: ReadonlyArray<Recipe>) =>
  fc
    .tuple(
      fc.nat({ max: recipes.length - 1 }),
      fc.integer({ min: 2, max: 12 }),
      fc.integer({ min: 2, max: 12 }),
      fc.constantFrom("seq", "flow", "map", "merge", "quadratic", "strings"),
      fc.constantFrom("root", "key", "name"),
    )
    .map(([r0, width, levels, form, where]): Mutant => {
      const r = recipes[r0]!
      const lines: Array<string> = []
      if (form === "quadratic") {
        // one big anchor, aliased many times: few aliases, a huge expansion
        lines.push(`a0: &a0 [${new Array<string>(width * 10_000).fill("1").join(",")}]`)
        lines.push(`a1: &a1 [${new Array<string>(levels * 8).fill("*a0").join(",")}]`)
      } else
        for (let l = 0; l < levels; l++) {
          const prev = l === 0 ? (form === "strings" ? '"lol"' : "1") : `*a${l - 1}`
          const items = new Array<string>(width).fill(prev)
          if (form === "map") lines.push(`a${l}: &a${l} {${items.map((x, i) => `k${i}: ${x}`).join(", ")}}`)
          else if (form === "merge")
            lines.push(
              l === 0
                ? `a0: &a0 {${items.map((x, i) => `k${i}: ${x}`).join(", ")}}`
                : `a${l}: &a${l} {<<: [${new Array<string>(width).fill(`*a${l - 1}`).join(", ")}], k${l}: *a${l - 1}}`,
            )
          else if (form === "seq") {
            lines.push(`a${l}: &a${l}`)
            for (const x of items) lines.push(`  - ${x}`)
          } else lines.push(`a${l}: &a${l} [${items.join(", ")}]`)
        }
      const last = form === "quadratic" ? "*a1" : `*a${levels - 1}`
      const bomb = lines.join("\n")
      const prefix = form === "merge" ? yaml11 : ""
      const content =
        where === "root"
          ? `${prefix}${bomb}\n`
          : where === "key"
            ? `${prefix}${r.yaml}${bomb}\n`
            : `${prefix}${bomb}\n${r.yaml.replace(/^name: .*$/m, `name: ${last}`)}`
      return yamlOnly("yaml-bomb", `${r.name}: ${form} bomb ${width}^${levels} at ${where}`, content)
    })

/** Tags a pipeline never needs: code, binary data, dates, sets, unknown local and global tags. */
const tagged: ReadonlyArray<string> = [
  "!!js/function 'function () { globalThis.pwned = 1; return 1 }'",
  '!!js/function "() => process.exit(7)"',
  "!!js/undefined ''",
  "!!js/regexp /x+/g",
  '!!python/object/apply:os.system ["echo pwned"]',
  "!<tag:yaml.org,2002:js/function> 'function () {}'",
  "!foo bar",
  "! plain",
  "!!binary aGVsbG8gd29ybGQ=",
  "!!timestamp 2001-12-14t21:59:43.10-05:00",
  "!!set {a, b}",
  "!!omap [a: 1, b: 2]",
  "!!pairs [a: 1, a: 2]",
  "!!float 1e999",
  "!!int 0x7fffffffffffffff",
  "!!str 1",
  "!!bool yes",
  "!!null ''",
  "!!map {}",
  "!!seq []",
  "!!merge <<",
]
const bareTags = [
  "!!js/function",
  "!foo",
  "!!binary",
  "!!set",
  "!!omap",
  "!!timestamp",
  "!!str",
  "!!map",
  "!e!x",
]

const yamlTag = (recipes: ReadonlyArray<Recipe>) =>
  fc
    .tuple(
      fc.nat({ max: recipes.length - 1 }),
      fc.nat(),
      fc.nat({ max: tagged.length - 1 }),
      fc.nat({ max: bareTags.length - 1 }),
      fc.constantFrom("replace", "replace", "tag-value", "tag-collection"),
      fc.boolean(),
    )
    .map(([r0, at, t, bare, how, v11]): Mutant => {
      const r = recipes[r0]!
      const lines = r.yaml.split("\n")
      const tag = bareTags[bare]!
      const header =
        (v11 ? yaml11 : "") + (tag.startsWith("!e!") ? "%TAG !e! tag:evil.example,2000:\n---\n" : "")
      // `key: value` lines, `- value` lines, and `key:` lines that open a collection
      const scalar = lines.flatMap((l, i) =>
        /^\s*(- )?[\w"]+: \S/.test(l) || /^\s*- [^-\s]/.test(l) ? [i] : [],
      )
      const opener = lines.flatMap((l, i) => (/^\s*(- )?[\w"]+:$/.test(l) ? [i] : []))
      let note: string
      if (how === "tag-collection" && opener.length > 0) {
        const i = pick(opener, at)
        lines[i] = `${lines[i]} ${tag}`
        note = `${tag} on the collection at line ${i + 1}`
      } else if (scalar.length > 0) {
        const i = pick(scalar, at)
        const m = /^(\s*(?:- )?(?:[\w"]+: )?)(.*)$/.exec(lines[i]!)!
        lines[i] = how === "tag-value" ? `${m[1]}${tag} ${m[2]}` : `${m[1]}${tagged[t]}`
        note = `${how === "tag-value" ? tag : tagged[t]} at line ${i + 1}`
      } else note = "no place for a tag"
      const body = lines.join("\n")
      return yamlOnly("yaml-tag", `${r.name}: ${note}${v11 ? " (YAML 1.1)" : ""}`, header + body)
    })

const yamlMerge = (recipes: ReadonlyArray<Recipe>) =>
  fc
    .tuple(
      fc.nat({ max: recipes.length - 1 }),
      fc.nat(),
      fc.nat(),
      fc.constantFrom("merge", "merge", "self", "proto", "scalar", "list"),
      fc.boolean(),
    )
    .map(([r0, a, b, how, v11]): Mutant => {
      const r = recipes[r0]!
      const doc = new YAML.Document(structuredClone(r.value))
      const maps = nodesOf(doc).filter(YAML.isMap)
      const source = pick(maps, a)
      const target = pick(maps, b)
      let note: string
      if (how === "proto") {
        target.items.unshift(doc.createPair("<<", doc.createNode(JSON.parse('{"__proto__":{"polluted":1}}'))))
        note = "<<: {__proto__: {polluted: 1}}"
      } else if (how === "scalar") {
        target.items.unshift(doc.createPair("<<", 1))
        note = "<<: 1"
      } else if (how === "self") {
        target.items.unshift(doc.createPair("<<", doc.createAlias(target, "self")))
        note = "a map merged into itself"
      } else if (how === "list") {
        target.items.unshift(
          doc.createPair("<<", doc.createNode([doc.createAlias(source, "m"), doc.createAlias(source, "m")])),
        )
        note = "<<: [*m, *m]"
      } else {
        target.items.push(doc.createPair("<<", doc.createAlias(source, "m")))
        note = "<<: *m"
      }
      return yamlOnly(
        "yaml-merge",
        `${r.name}: ${note}${v11 ? " (YAML 1.1)" : ""}`,
        (v11 ? yaml11 : "") + safeToString(doc, r.yaml),
      )
    })

const yamlDocument = (recipes: ReadonlyArray<Recipe>) =>
  fc
    .tuple(
      fc.nat({ max: recipes.length - 1 }),
      fc.constantFrom(
        "two-documents",
        "empty-then-recipe",
        "yaml-1.1",
        "yaml-1.3",
        "yaml-2.0",
        "tag-directive",
        "end-marker",
        "comments-only",
        "json-as-yaml",
        "tabs",
        "crlf",
        "cr",
      ),
    )
    .map(([r0, how]): Mutant => {
      const r = recipes[r0]!
      const y = r.yaml
      const content =
        how === "two-documents"
          ? `${y}---\n${y}`
          : how === "empty-then-recipe"
            ? `---\n---\n${y}`
            : how === "yaml-1.1"
              ? yaml11 + y
              : how === "yaml-1.3"
                ? `%YAML 1.3\n---\n${y}`
                : how === "yaml-2.0"
                  ? `%YAML 2.0\n---\n${y}`
                  : how === "tag-directive"
                    ? `%TAG ! tag:evil.example,2000:\n---\n${y.replace(/^_tag: Pipeline$/m, "_tag: !x Pipeline")}`
                    : how === "end-marker"
                      ? `${y}...\n${y}`
                      : how === "comments-only"
                        ? "# a comment\n# another\n"
                        : how === "json-as-yaml"
                          ? r.json
                          : how === "tabs"
                            ? y.replace(/^( {2})+/gm, (s) => "\t".repeat(s.length / 2))
                            : how === "crlf"
                              ? y.replace(/\n/g, "\r\n")
                              : y.replace(/\n/g, "\r")
      return yamlOnly("yaml-document", `${r.name}: ${how}`, content)
    })

// ---------------------------------------------------------------------------------------------
// Bytes

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"))

const baseText = (recipes: ReadonlyArray<Recipe>) =>
  fc.tuple(fc.nat({ max: recipes.length - 1 }), formatArb).map(([r0, format]) => ({
    recipe: recipes[r0]!,
    format,
    text: format === "json" ? recipes[r0]!.json : recipes[r0]!.yaml,
  }))

const garbage = (recipes: ReadonlyArray<Recipe>) =>
  fc.oneof(
    fc.tuple(formatArb, fc.uint8Array({ maxLength: 65_536 })).map(
      ([format, bytes]): Mutant => ({
        kind: "garbage",
        format,
        content: bytes,
        note: `${bytes.length} random bytes`,
      }),
    ),
    fc.tuple(formatArb, fc.string({ unit: "binary", maxLength: 4_096 })).map(
      ([format, s]): Mutant => ({
        kind: "garbage",
        format,
        content: s,
        note: `${s.length} random code points`,
      }),
    ),
    fc
      .tuple(baseText(recipes), fc.uint8Array({ minLength: 1, maxLength: 4_096 }), fc.boolean())
      .map(([b, bytes, before]): Mutant => {
        const text = utf8(b.text)
        const content = before ? Buffer.concat([bytes, text]) : Buffer.concat([text, bytes])
        return {
          kind: "garbage",
          format: b.format,
          content: new Uint8Array(content),
          note: `${b.recipe.name}.${b.format} with ${bytes.length} random bytes ${before ? "before" : "after"}`,
        }
      }),
    fc
      .tuple(
        formatArb,
        fc.constantFrom("{", "[", '"', '{"a":', "- ", "? ", "&a ", "\u0000", "\\", "*", "|"),
        fc.constantFrom(1_000, 100_000),
      )
      .map(
        ([format, unit, n]): Mutant => ({
          kind: "garbage",
          format,
          content: unit.repeat(n),
          note: `${n} × ${JSON.stringify(unit)}`,
        }),
      ),
  )

const empties: ReadonlyArray<string> = [
  "",
  " ",
  "\n",
  "\n\n\n",
  "\t",
  "\r\n",
  "\u0000",
  "null",
  "~",
  "{}",
  "[]",
  "0",
  '""',
  "---",
  "...",
  "---\n...\n",
  "\uFEFF",
  "# nothing",
  "true",
]

const empty = () =>
  fc.tuple(formatArb, fc.nat({ max: empties.length - 1 })).map(
    ([format, i]): Mutant => ({
      kind: "empty",
      format,
      content: empties[i]!,
      note: `${JSON.stringify(empties[i])}`,
    }),
  )

const encodings: Record<string, (text: string) => Uint8Array> = {
  "utf-8 BOM": (t) =>
    new Uint8Array(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(t, "utf8")])),
  "two utf-8 BOMs": (t) => utf8(`\uFEFF\uFEFF${t}`),
  "BOM and blank lines": (t) => utf8(`\uFEFF\n\n${t}`),
  "BOM in the middle": (t) => utf8(t.replace("\n", "\n\uFEFF")),
  "utf-16le BOM": (t) =>
    new Uint8Array(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(t, "utf16le")])),
  "utf-16be BOM": (t) => {
    const le = Buffer.from(t, "utf16le")
    const be = Buffer.alloc(le.length)
    for (let i = 0; i + 1 < le.length; i += 2) {
      be[i] = le[i + 1]!
      be[i + 1] = le[i]!
    }
    return new Uint8Array(Buffer.concat([Buffer.from([0xfe, 0xff]), be]))
  },
  "utf-16le, no BOM": (t) => new Uint8Array(Buffer.from(t, "utf16le")),
  "utf-32le BOM": (t) => {
    const cps = [...t].map((c) => c.codePointAt(0)!)
    const out = Buffer.alloc(4 + cps.length * 4)
    out.writeUInt32LE(0xfeff, 0)
    cps.forEach((c, i) => {
      out.writeUInt32LE(c, 4 + i * 4)
    })
    return new Uint8Array(out)
  },
  latin1: (t) => new Uint8Array(Buffer.from(t, "latin1")),
}

const bom = (recipes: ReadonlyArray<Recipe>) =>
  fc.tuple(baseText(recipes), fc.constantFrom(...Object.keys(encodings))).map(
    ([b, enc]): Mutant => ({
      kind: "bom",
      format: b.format,
      content: encodings[enc]!(b.text),
      note: `${b.recipe.name}.${b.format} as ${enc}`,
    }),
  )

const truncate = (recipes: ReadonlyArray<Recipe>) =>
  fc.tuple(baseText(recipes), fc.nat()).map(([b, cut]): Mutant => {
    const bytes = utf8(b.text)
    const at = cut % (bytes.length + 1)
    return {
      kind: "truncate",
      format: b.format,
      content: bytes.subarray(0, at),
      note: `${b.recipe.name}.${b.format} cut at byte ${at} of ${bytes.length}`,
    }
  })

const byteFlip = (recipes: ReadonlyArray<Recipe>) =>
  fc
    .tuple(
      baseText(recipes),
      fc.array(
        fc.tuple(
          fc.nat(),
          fc.integer({ min: 0, max: 255 }),
          fc.constantFrom("set", "xor", "insert", "delete"),
        ),
        { minLength: 1, maxLength: 16 },
      ),
    )
    .map(([b, edits]): Mutant => {
      const bytes = [...utf8(b.text)]
      for (const [at, v, how] of edits) {
        const i = at % Math.max(1, bytes.length)
        if (how === "set") bytes[i] = v
        else if (how === "xor") bytes[i] = (bytes[i] ?? 0) ^ (v || 1)
        else if (how === "insert") bytes.splice(i, 0, v)
        else bytes.splice(i, 1)
      }
      return {
        kind: "byte-flip",
        format: b.format,
        content: new Uint8Array(bytes),
        note: `${b.recipe.name}.${b.format} with ${edits.length} byte edits`,
      }
    })

// ---------------------------------------------------------------------------------------------

/**
 * One arbitrary per kind of mutation.
 *
 * @example
 * ```ts
 * import fc from "fast-check"
 * import * as Mutations from "./scripts/drills/mutations.js"
 * const bombs = fc.sample(Mutations.arbitraries(Mutations.loadRecipes())["yaml-bomb"], { seed: 3, numRuns: 5 })
 * ```
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const arbitraries = (recipes: ReadonlyArray<Recipe>): Record<Kind, fc.Arbitrary<Mutant>> => ({
  "delete-key": deleteKey(recipes),
  "duplicate-key": duplicateKey(recipes),
  "wrong-type": wrongType(recipes),
  "bad-number": badNumber(recipes),
  "deep-nesting": deepNesting(recipes),
  "huge-array": hugeArray(recipes),
  "huge-string": hugeString(recipes),
  "proto-key": protoKey(recipes),
  "inherited-name": inheritedName(recipes),
  "yaml-alias": yamlAlias(recipes),
  "yaml-bomb": yamlBomb(recipes),
  "yaml-tag": yamlTag(recipes),
  "yaml-merge": yamlMerge(recipes),
  "yaml-document": yamlDocument(recipes),
  garbage: garbage(recipes),
  empty: empty(),
  bom: bom(recipes),
  truncate: truncate(recipes),
  "byte-flip": byteFlip(recipes),
})

/**
 * Any mutated file, every kind equally likely unless `weights` says otherwise (relative weights,
 * 1 by default, to a tenth; 0 leaves a kind out).
 *
 * @example
 * ```ts
 * import fc from "fast-check"
 * import * as Mutations from "./scripts/drills/mutations.js"
 * const small = Mutations.mutant(Mutations.loadRecipes(), { "huge-array": 0, "huge-string": 0 })
 * fc.sample(small, { seed: 1, numRuns: 10 })
 * ```
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const mutant = (
  recipes: ReadonlyArray<Recipe>,
  weights: Partial<Record<Kind, number>> = {},
): fc.Arbitrary<Mutant> => {
  const arbs = arbitraries(recipes)
  const chosen = kinds
    // fast-check wants integer weights: tenths are kept
    .map((k) => ({ arbitrary: arbs[k], weight: Math.round((weights[k] ?? 1) * 10) }))
    .filter((w) => w.weight > 0)
  return fc.oneof(...chosen)
}

/**
 * The file's bytes: a string content is encoded as UTF-8 (lone surrogates become U+FFFD, as
 * they do when the file is written).
 *
 * @example
 * ```ts
 * import * as Mutations from "./scripts/drills/mutations.js"
 * Mutations.bytes({ kind: "empty", format: "json", content: "{}", note: "" }).length // 2
 * ```
 *
 * @since 0.1.0
 * @category files
 */
export const bytes = (m: Mutant): Uint8Array =>
  typeof m.content === "string" ? new Uint8Array(Buffer.from(m.content, "utf8")) : m.content

/**
 * The text a reader of the file sees: its bytes decoded as UTF-8, as `retort validate` reads it
 * (`readFileSync(path, "utf8")`).
 *
 * @example
 * ```ts
 * import * as Mutations from "./scripts/drills/mutations.js"
 * Mutations.text({ kind: "empty", format: "json", content: new Uint8Array([0x7b, 0x7d]), note: "" }) // "{}"
 * ```
 *
 * @since 0.1.0
 * @category files
 */
export const text = (m: Mutant): string => Buffer.from(bytes(m)).toString("utf8")
