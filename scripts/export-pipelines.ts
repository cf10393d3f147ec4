/**
 * Export every recipe of `pipelines/` to `pipelines/json/<name>.json` (and YAML beside it), so
 * that the JSON form stays in the repository next to its TypeScript source. Run with
 * `npm run export-pipelines`; a test checks that the files are current and decode back equal.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as YAML from "yaml"
import { Codec } from "../dsl/index.js"
import * as Sweep from "../dsl/Sweep.js"
import { recipes } from "../pipelines/index.js"
import kdTemperature from "../pipelines/sweeps/kd-temperature.js"
import tunedBaseline from "../pipelines/sweeps/tuned-baseline.js"

const dir = join(import.meta.dirname, "..", "pipelines", "json")
mkdirSync(dir, { recursive: true })
for (const [name, p] of Object.entries(recipes)) {
  writeFileSync(join(dir, `${name}.json`), Codec.toJson(p))
  writeFileSync(join(dir, `${name}.yaml`), Codec.toYaml(p))
  console.log(`pipelines/json/${name}.json`)
}

// the example sweeps, with their base pipeline inline
const sweeps = join(import.meta.dirname, "..", "pipelines", "sweeps")
for (const [name, s] of Object.entries({
  "kd-temperature": kdTemperature,
  "tuned-baseline": tunedBaseline,
})) {
  writeFileSync(join(sweeps, `${name}.json`), Codec.sweepToJson(s))
  writeFileSync(join(sweeps, `${name}.yaml`), YAML.stringify(Sweep.encode(s)))
  console.log(`pipelines/sweeps/${name}.json`)
}
