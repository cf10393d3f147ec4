import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

// dsl/ is a pure description: it may import only `effect`, `yaml` (a pure parser) and other
// dsl/ modules — never TensorFlow.js, Node built-ins or the runtime in src/.
const dir = join(import.meta.dirname, "..", "..", "dsl")
const allowed = (spec: string) =>
  spec === "effect" || spec.startsWith("effect/") || spec === "yaml" || /^\.\/[\w-]+\.js$/.test(spec)

describe("dsl/ purity", () => {
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts"))
  it("has modules to check", () => expect(files.length).toBeGreaterThan(5))
  for (const f of files) {
    it(`${f} imports only effect, yaml and dsl/`, () => {
      const src = readFileSync(join(dir, f), "utf8").replace(/\/\*[\s\S]*?\*\//g, "")
      const specs = [...src.matchAll(/(?:^|\n)\s*(?:import|export)[^"'`]*?from\s+["']([^"']+)["']/g)].map(
        (m) => m[1]!,
      )
      const dynamic = [...src.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!)
      const required = [...src.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!)
      expect([...specs, ...dynamic, ...required].filter((s) => !allowed(s))).toEqual([])
    })
  }
})
