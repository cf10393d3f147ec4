/**
 * Export every recipe of `pipelines/` to `pipelines/json/<name>.json` (and YAML beside it), so
 * that the JSON form stays in the repository next to its TypeScript source. Run with
 * `npm run export-pipelines`; a test checks that the files are current and decode back equal.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Codec } from "../dsl/index.js"
import { recipes } from "../pipelines/index.js"

const dir = join(import.meta.dirname, "..", "pipelines", "json")
mkdirSync(dir, { recursive: true })
for (const [name, p] of Object.entries(recipes)) {
  writeFileSync(join(dir, `${name}.json`), Codec.toJson(p))
  writeFileSync(join(dir, `${name}.yaml`), Codec.toYaml(p))
  console.log(`pipelines/json/${name}.json`)
}
