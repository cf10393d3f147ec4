/**
 * Hostile pipeline files, fast version (the long one is `scripts/drills/fuzz.ts`, 10,000 files):
 * the recipes' JSON mutated by fast-check (keys deleted or duplicated, values replaced by wrong
 * types, NaN/Infinity/huge/negative numbers, `__proto__` / `constructor` / `prototype` keys,
 * deep nesting, huge strings and arrays), then as text (bytes flipped, cut, garbage), and
 * hand-written YAML attacks (an alias bomb, custom tags). Through `Codec.fromJson` /
 * `Codec.fromYaml`: never an exception (only a typed failure or a pipeline), every rejection with
 * issues carrying a path string, no input over a second, and `Object.prototype` untouched. Then a
 * sample of the drill's own mutations with the drill's checks, and one regression case per defect
 * the drill found.
 */
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it, vi } from "vitest"
import { Codec } from "../../dsl/index.js"
import { checkText } from "../../scripts/drills/fuzz.js"
import * as Mutations from "../../scripts/drills/mutations.js"

const all = Mutations.loadRecipes()
const recipes = all.map((r) => r.value as unknown)
const { deepText, mutate, nasty, paths } = Mutations

type Issues = { readonly issues: ReadonlyArray<{ readonly path: string; readonly message: string }> }

const check = (run: () => Result.Result<unknown, Issues>) => {
  const started = performance.now()
  let r: Result.Result<unknown, Issues>
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
  return r
}

const messages = (
  r: Result.Result<unknown, { readonly issues: ReadonlyArray<{ path: string; message: string }> }>,
) => (Result.isFailure(r) ? r.failure.issues.map((i) => `${i.path}: ${i.message}`) : [])

const recipe = (name: string) => structuredClone(all.find((r) => r.name === name)!.value) as any
const yamlOf = (name: string) => all.find((r) => r.name === name)!.yaml
const jsonOf = (name: string) => all.find((r) => r.name === name)!.json

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
          const at = paths(recipe)
          const path = at[p % at.length]!
          const mutated = mutate(recipe, path, kind as "delete", value)
          check(() => Codec.decode(mutated))
          // JSON.stringify itself overflows on 10,000 levels: write that text by hand
          const text =
            kind === "deep"
              ? (JSON.stringify(mutate(recipe, path, "replace", "__DEEP__")) ?? "null").replace(
                  '"__DEEP__"',
                  deepText(10_000),
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
      expect(Result.isFailure(check(() => Codec.fromYaml(text)))).toBe(true)
  })

  it("the drill's mutations (every kind), with the drill's checks", () => {
    // the huge kinds cost most of the time: fewer of them here, all of them in the drill
    const arb = Mutations.mutant(all, { "huge-array": 0.3, "huge-string": 0.3 })
    const seen = new Set<string>()
    fc.assert(
      fc.property(arb, (m) => {
        seen.add(m.kind)
        const o = checkText(Mutations.text(m), m.format)
        expect(o.failures, `${m.kind}: ${m.note}`).toEqual([])
      }),
      { numRuns: 250, seed: 3 },
    )
    expect(seen.size).toBeGreaterThanOrEqual(Mutations.kinds.length - 2)
  })
})

describe("defects the fuzzing drill found", () => {
  it("a model name every object inherits (constructor, toString) is unknown, not a crash", () => {
    for (const [key, from] of [
      ["student", "constructor"],
      ["student", "toString"],
      ["toString", "teacher"],
      ["valueOf", "student"],
    ] as const) {
      const p = recipe("kd")
      p.phases[1].init = { [key]: { _tag: "Copy", from } }
      const r = check(() => Codec.decode(p))
      expect(messages(r).join("\n")).toMatch(/unknown model "(constructor|toString|valueOf)"/)
    }
  })

  it("a feature hint on a tap named like an inherited property is checked, not a crash", () => {
    const p = recipe("kd")
    const stages = p.phases[0].step.stages
    stages[0].taps = ["constructor"]
    stages[1].terms.hint = {
      _tag: "Hint",
      student: "o.constructor",
      teacher: "o.constructor",
      projection: false,
      normalize: false,
    }
    const r = check(() => Codec.decode(p))
    expect(messages(r).join("\n")).toMatch(/has no tap "constructor"/)
  })

  it("__proto__, constructor and prototype keys are refused with their paths", () => {
    const text = jsonOf("kd").replace(
      '"models": {',
      '"models": {\n    "__proto__": { "_tag": "Mlp", "hidden": [8], "classes": 10 },',
    )
    expect(messages(check(() => Codec.fromJson(text)))).toContainEqual(
      expect.stringMatching(/^models\.__proto__: /),
    )
    const p = recipe("kd")
    p.models.constructor = p.models.student
    p.phases[0].prototype = 1
    const is = messages(check(() => Codec.decode(p)))
    expect(is).toContainEqual(
      expect.stringMatching(/^models\.constructor: "constructor" is not a pipeline field/),
    )
    expect(is).toContainEqual(expect.stringMatching(/^phases\[0\]\.prototype: /))
  })

  it("a key written twice in JSON text is refused with its path (it silently kept the last)", () => {
    const text = jsonOf("kd").replace('"epochs": 3,', '"epochs": 3,\n      "epochs": 300,')
    expect(messages(check(() => Codec.fromJson(text)))).toEqual([
      'phases[0].epochs: the key "epochs" is written twice in one object (JSON would keep only the last): write it once',
    ])
    // escapes name the same key; strings holding braces or quotes are not keys
    const escaped = '{"a\\u0062": 1, "ab": 2, "s": "{\\"ab\\": 1, \\"ab\\": 2}"}'
    expect(messages(check(() => Codec.fromJson(escaped)))).toContainEqual(
      expect.stringMatching(/^ab: the key "ab"/),
    )
    expect(messages(check(() => Codec.fromJson(escaped)))).toHaveLength(1)
  })

  it("a JSON file that starts with a byte-order mark decodes (it was malformed JSON)", () => {
    expect(Result.isSuccess(check(() => Codec.fromJson(`\uFEFF${jsonOf("kd")}`)))).toBe(true)
  })

  it("YAML nested past the parser's stack is a typed failure (the parser threw)", () => {
    const text = yamlOf("byot").replace("      - filters: 32\n", `      - ${"- ".repeat(50_000)}1\n`)
    expect(messages(check(() => Codec.fromYaml(text))).join("\n")).toMatch(/malformed YAML/)
  })

  it("values a YAML 1.1 tag makes (a Date, bytes, a Map) are refused, not read as empty records", () => {
    const text = `%YAML 1.1\n---\n${yamlOf("kd").replace("    init: {}\n", "    init: !!timestamp 2001-12-14\n")}`
    expect(messages(check(() => Codec.fromYaml(text)))).toContainEqual(
      expect.stringMatching(/^phases\[0\]\.init: a Date is not pipeline data/),
    )
    const binary = `%YAML 1.1\n---\n${yamlOf("kd").replace("name: kd", "name: !!binary aGk=")}`
    expect(messages(check(() => Codec.fromYaml(binary)))).toContainEqual(
      expect.stringMatching(/^name: a \w+ is not/),
    )
  })

  it("tags YAML does not know are refused (they were read as plain strings)", () => {
    for (const tag of ["!foo", "!!js/function"]) {
      const text = yamlOf("kd").replace("_tag: Pipeline", `_tag: ${tag} Pipeline`)
      expect(messages(check(() => Codec.fromYaml(text))).join("\n")).toMatch(/Unresolved tag.*no custom tags/)
    }
  })

  it("a collection as a YAML key is refused, with no warning printed", () => {
    const warn = vi.spyOn(process, "emitWarning")
    try {
      const text = yamlOf("kd").replace("  teacher:\n", "  ? [a, b]\n  : 1\n  teacher:\n")
      expect(messages(check(() => Codec.fromYaml(text))).join("\n")).toMatch(/a key that is a collection/)
      expect(warn).not.toHaveBeenCalled()
    } finally {
      warn.mockRestore()
    }
  })

  it("a YAML key written twice is still refused, with its path", () => {
    const text = yamlOf("kd").replace("    epochs: 3\n", "    epochs: 3\n    epochs: 300\n")
    expect(messages(check(() => Codec.fromYaml(text))).join("\n")).toMatch(
      /^phases\[0\]\.epochs: .*line \d+.*"epochs" is written twice/,
    )
  })

  it("one YAML mapping with 12,000 keys takes linear time (yaml's unique-key check was quadratic)", () => {
    const text = Array.from({ length: 12_000 }, (_, i) => `k${i}: 1`).join("\n")
    const started = performance.now()
    expect(Result.isFailure(Codec.fromYaml(text))).toBe(true)
    expect(performance.now() - started).toBeLessThan(1_500)
  })

  it("YAML with 40,000 errors takes linear time (each pretty error scanned the whole line)", () => {
    const started = performance.now()
    const r = Codec.fromYaml('"a"'.repeat(40_000))
    expect(performance.now() - started).toBeLessThan(3_000)
    expect(messages(r).length).toBeLessThanOrEqual(20)
  })

  it("text over the limit is refused before it is parsed (a 2 MB YAML array took 10 s)", () => {
    const yaml = `${yamlOf("kd")}x: [${new Array(1_000_000).fill("1").join(",")}]\n`
    expect(messages(check(() => Codec.fromYaml(yaml)))).toEqual([
      expect.stringMatching(/^: YAML text of \d+ characters: more than 131072 .*refused before parsing/),
    ])
    const json = `{"x": "${"y".repeat(2_100_000)}"}`
    expect(messages(check(() => Codec.fromJson(json)))).toEqual([
      expect.stringMatching(/^: JSON text of \d+ characters: more than 2097152 /),
    ])
  })

  it("a million values are refused before they are walked (a million-layer MLP was valid)", () => {
    const p = recipe("kd")
    p.models.student.hidden = new Array(1_000_000).fill(1)
    const started = performance.now()
    expect(messages(check(() => Codec.decode(p)))).toEqual([
      ": more than 200000 values (no pipeline has): refused before decoding",
    ])
    expect(performance.now() - started).toBeLessThan(500)
  })

  it("20,000 copies of one mistake: 100 problems listed, the rest counted (190,000 printed 49 MB)", () => {
    const p = recipe("kd")
    p.phases[0].step.stages = new Array(20_000).fill(1)
    const is = messages(check(() => Codec.decode(p)))
    expect(is).toHaveLength(101)
    expect(is.at(-1)).toBe(": … and 19900 more problems (the first 100 are listed)")
  })

  it("a few YAML aliases of a big node are refused by the value count", () => {
    const text = [
      `a: &a [${new Array(20_000).fill("1").join(",")}]`,
      `b: [${new Array(20).fill("*a").join(",")}]`,
    ].join("\n")
    expect(messages(check(() => Codec.fromYaml(text)))).toEqual([
      expect.stringMatching(/more than 200000 values/),
    ])
  })

  it("a ViT a billion blocks deep is refused at once (listing its taps never ended)", () => {
    const p = recipe("deit")
    p.models.student.depth = 1e9
    expect(messages(check(() => Codec.decode(p)))).toContainEqual(
      "models.student: 1000000000 layers: at most 1000 (no model that can be built has that many)",
    )
  })

  it("problems quote names cut short and list at most 12 of the known ones (messages grew quadratically)", () => {
    const p = recipe("kd")
    for (let i = 0; i < 50; i++) p.models[`m${i}`] = { _tag: "Mlp", hidden: [], classes: 10 }
    p.phases[0].step.stages[0].model = "n".repeat(100_000)
    const is = messages(check(() => Codec.decode(p)))
    const unknown = is.find((m) => m.includes("unknown model"))!
    expect(unknown).toMatch(/… \(100000 characters\)/)
    expect(unknown).toMatch(/… \(53 in all\)/)
    expect(Math.max(...is.map((m) => m.length))).toBeLessThan(1_000)
  })

  it("1,000 forwards of a 1,000-layer model, each with a wrong tap: short messages, quickly", () => {
    const p = recipe("kd")
    p.models.student.hidden = new Array(1_000).fill(1)
    p.phases[1].step.stages = Array.from({ length: 1_000 }, () => ({
      _tag: "Forward",
      model: "student",
      as: ["o"],
      mode: "train",
      input: "x",
      taps: ["nope"],
      heads: [],
    }))
    const started = performance.now()
    const is = messages(Codec.decode(p))
    expect(performance.now() - started).toBeLessThan(1_500)
    const wrong = is.filter((m) => m.includes('has no tap "nope"'))
    // the first 100 problems are listed, then how many more
    expect(wrong).toHaveLength(100)
    expect(is.at(-1)).toMatch(/^: … and \d+ more problems \(the first 100 are listed\)$/)
    // each names a few taps and how many there are, not all 1,000 (9 MB of messages before)
    expect(wrong[0]).toMatch(/\(taps: hidden0, hidden1, .*… \(1000 in all\)\)$/)
    expect(is.join("\n").length).toBeLessThan(300_000)
  })
})
