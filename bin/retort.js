#!/usr/bin/env node
// The `retort` command: runs the compiled CLI when the package is built (dist/), else the
// TypeScript sources through tsx (a dependency), so it works from a clone without a build step.
import { existsSync } from "node:fs"

const dist = new URL("../dist/src/cli/main.js", import.meta.url)
const load = existsSync(dist)
  ? () => import(dist.href)
  : async () => (await import("tsx/esm/api")).tsImport("../src/cli/main.ts", import.meta.url)
const { main } = await load()
process.exitCode = await main(process.argv.slice(2))
