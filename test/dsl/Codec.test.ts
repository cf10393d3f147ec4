import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { Codec, Validate } from "../../dsl/index.js"
import { recipes } from "../../pipelines/index.js"

const jsonDir = join(import.meta.dirname, "..", "..", "pipelines", "json")

describe("recipes", () => {
  for (const [name, p] of Object.entries(recipes)) {
    it(`${name} is valid`, () => {
      expect(Validate.pipeline(p)).toEqual([])
    })
    it(`${name} round-trips through JSON and YAML to an equal value`, () => {
      const json = Result.getOrThrow(Codec.fromJson(Codec.toJson(p)))
      expect(json).toEqual(p)
      const yaml = Result.getOrThrow(Codec.fromYaml(Codec.toYaml(p)))
      expect(yaml).toEqual(p)
    })
    it(`pipelines/json/${name}.json is current and decodes to the TypeScript recipe`, () => {
      const text = readFileSync(join(jsonDir, `${name}.json`), "utf8")
      expect(text).toBe(Codec.toJson(p))
      expect(Result.getOrThrow(Codec.fromJson(text))).toEqual(p)
      const yaml = readFileSync(join(jsonDir, `${name}.yaml`), "utf8")
      expect(Result.getOrThrow(Codec.fromYaml(yaml))).toEqual(p)
    })
  }
  it("a decoded step is pipeable like a constructed one", () => {
    const p = Result.getOrThrow(Codec.fromJson(Codec.toJson(recipes.kd!)))
    expect(typeof p.phases[0]!.step.pipe).toBe("function")
  })
})

describe("malformed input", () => {
  const issues = (
    r: Result.Result<unknown, { readonly issues: ReadonlyArray<{ path: string; message: string }> }>,
  ) => (Result.isFailure(r) ? r.failure.issues : [])

  it("reports malformed JSON with its position", () => {
    const is = issues(Codec.fromJson('{\n  "_tag": "Pipeline",\n  oops\n}'))
    expect(is).toHaveLength(1)
    expect(is[0]!.message).toMatch(/malformed JSON at line 3/)
  })

  it("reports malformed YAML with its position", () => {
    const is = issues(Codec.fromYaml("_tag: Pipeline\nname: [unclosed\n"))
    expect(is.length).toBeGreaterThan(0)
    expect(is[0]!.message).toMatch(/malformed YAML at line/)
  })

  it("reports every structural problem at once, with paths", () => {
    const bad = JSON.parse(Codec.toJson(recipes.kd!))
    bad.seed = "one"
    bad.models.teacher._tag = "Transformer"
    bad.phases[1].step.stages[2].terms.kd.temperature = "hot"
    delete bad.phases[0].name
    const is = issues(Codec.decode(bad))
    const byPath = Object.fromEntries(is.map((i) => [i.path, i.message]))
    expect(byPath.seed).toMatch(/number/)
    expect(byPath["models.teacher"]).toMatch(/unknown kind "Transformer" \(expected one of Mlp, Cnn/)
    expect(Object.keys(byPath)).toContain("phases[0].name")
    expect(Object.keys(byPath).some((p) => p.startsWith("phases[1].step.stages[2].terms.kd"))).toBe(true)
    expect(is.length).toBeGreaterThanOrEqual(4)
  })
})
