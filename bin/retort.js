#!/usr/bin/env node
// The `retort` command. In a checkout (src/ present) it runs the TypeScript sources through tsx,
// so a stale dist/ never shadows them; in an installed package (no src/) it runs the build.
import { existsSync } from "node:fs"

const source = new URL("../src/cli/main.ts", import.meta.url)
const dist = new URL("../dist/src/cli/main.js", import.meta.url)
const load = existsSync(source)
  ? async () => (await import("tsx/esm/api")).tsImport(source.href, import.meta.url)
  : () => import(dist.href)
const { main } = await load()
process.exitCode = await main(process.argv.slice(2))
