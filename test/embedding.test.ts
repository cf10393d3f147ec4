/**
 * Retort as a user gets it: the package is built and packed exactly as `npm pack` would (npm's own
 * file list, `tsconfig.build.json`), installed from the tarball into a fresh `type: module` project,
 * and used from there with plain Node — the library (`retort`, `retort/dsl`,
 * `retort/pipelines/kd`) with a custom model and a custom data stream on the wasm and cpu
 * backends, its declarations from a TypeScript consumer, and the `retort` bin.
 *
 * The build goes to a staging copy, never to this checkout's `dist/` (which `bin/retort.js` would
 * otherwise prefer over the sources). One install serves every assertion. Set
 * `RETORT_KEEP_EMBED=1` to keep the temporary directory for inspection.
 */
import { type SpawnSyncReturns, spawnSync } from "node:child_process"
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const fixtures = join(root, "test", "fixtures", "embed")
const rootPackage = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  readonly dependencies: Readonly<Record<string, string>>
}
const tsc = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin", "tsc")

/** The environment for child processes, without what `npm test` injects about this package. */
const childEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_(package|lifecycle|command|execpath|node_execpath)/i.test(k)) continue
    if (/^npm_config_(prefix|local_prefix|global|workspace)/i.test(k)) continue
    env[k] = v
  }
  // the installed copy must find (or not find) the native addon on its own
  delete env.RETORT_NATIVE
  delete env.RETORT_NATIVE_PATH
  return env
}

const exec = (
  command: string,
  args: ReadonlyArray<string>,
  cwd: string,
  timeout = 300_000,
): SpawnSyncReturns<string> =>
  spawnSync(command, args, { cwd, env: childEnv(), encoding: "utf8", timeout, maxBuffer: 64 * 1024 * 1024 })

/** Run and demand success; the failure message carries the command's output. */
const ok = (command: string, args: ReadonlyArray<string>, cwd: string, timeout?: number): string => {
  const r = exec(command, args, cwd, timeout)
  if (r.status !== 0)
    throw new Error(
      `${command} ${args.join(" ")} (in ${cwd}) exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`,
    )
  return r.stdout
}

/** The JSON lines a fixture script printed (tfjs may print banners around them). */
const jsonLines = (stdout: string): Array<any> =>
  stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l))

interface PackedFile {
  readonly path: string
}

let work = ""
let app = ""
let packed: ReadonlyArray<string> = []

/** Run `f` with the installed tsx moved out of reach: proof that nothing needs it at run time. */
const withoutTsx = <A>(f: () => A): A => {
  const tsx = join(app, "node_modules", "tsx")
  const hidden = join(app, "node_modules", ".tsx-hidden")
  renameSync(tsx, hidden)
  try {
    return f()
  } finally {
    renameSync(hidden, tsx)
  }
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "retort-embed-"))
  const stage = join(work, "package")
  // 1. npm's own list of what the package holds (the `files` field), copied to a staging folder.
  const dry = JSON.parse(ok("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], root)) as Array<{
    files: Array<PackedFile>
  }>
  for (const f of dry[0]!.files)
    if (!f.path.startsWith("dist/")) cpSync(join(root, f.path), join(stage, f.path))
  // 2. The build `prepack` runs, into the staging folder. Type errors are `npm run typecheck`'s to
  //    report (tsc still emits); a build that emits nothing fails here.
  const build = exec(
    process.execPath,
    [tsc, "-p", join(root, "tsconfig.build.json"), "--outDir", join(stage, "dist")],
    root,
  )
  if (build.status !== 0 && !(build.status === 2 && existsSync(join(stage, "dist", "src", "index.js"))))
    throw new Error(`the build failed (${build.status ?? build.signal}):\n${build.stdout}\n${build.stderr}`)
  // 3. The tarball.
  const pack = JSON.parse(
    ok("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], stage),
  ) as Array<{
    filename: string
    files: Array<PackedFile>
  }>
  packed = pack[0]!.files.map((f) => f.path)
  const tarball = join(work, pack[0]!.filename)
  // 4. A user's project depending on it (and on the libraries a program embedding Retort imports itself).
  app = join(work, "app")
  mkdirSync(app)
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify(
      {
        name: "retort-embedding-app",
        private: true,
        type: "module",
        dependencies: {
          retort: `file:${tarball}`,
          effect: rootPackage.dependencies.effect,
          "@tensorflow/tfjs-core": rootPackage.dependencies["@tensorflow/tfjs-core"],
        },
      },
      null,
      2,
    ),
  )
  for (const [from, to] of [
    ["embed.mjs", "embed.mjs"],
    ["load.mjs", "load.mjs"],
    ["tiny.json", "tiny.json"],
    ["invalid.json", "invalid.json"],
    ["tiny.ts.txt", "tiny.ts"],
    ["consumer.ts.txt", "consumer.ts"],
    ["tsconfig.consumer.json", "tsconfig.json"],
  ] as const)
    cpSync(join(fixtures, from), join(app, to))
  ok("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], app, 540_000)
}, 600_000)

afterAll(() => {
  if (work !== "" && process.env.RETORT_KEEP_EMBED === undefined)
    rmSync(work, { recursive: true, force: true })
})

describe("the packed package", { timeout: 300_000 }, () => {
  it("holds the ESM build with declarations, the bin and the JSON/YAML recipes — no sources or tests", () => {
    for (const f of [
      "package.json",
      "bin/retort.js",
      "dist/src/index.js",
      "dist/src/index.d.ts",
      "dist/src/cli/main.js",
      "dist/dsl/index.js",
      "dist/dsl/index.d.ts",
      "dist/pipelines/kd.js",
      "dist/pipelines/kd.d.ts",
      "dist/pipelines/index.js",
      "pipelines/json/kd.json",
      "pipelines/json/kd.yaml",
      "native/binding.gyp",
      "scripts/build-native.sh",
    ])
      expect(packed).toContain(f)
    expect(packed.filter((f) => /^(src|dsl|test|bench|experiments|scratch)\//.test(f))).toEqual([])
    expect(packed.filter((f) => f.endsWith(".map") || f.endsWith(".test.js"))).toEqual([])
    expect(existsSync(join(app, "node_modules", "retort", "dist", "src", "index.js"))).toBe(true)
  })

  it("runs a pipeline with a custom model and a custom data stream from plain Node, on wasm and cpu", () => {
    const out = join(app, "runs")
    const lines = withoutTsx(() => jsonLines(ok(process.execPath, ["embed.mjs", out, "wasm", "cpu"], app)))
    expect(lines.map((l) => l.backend)).toEqual(["wasm", "cpu"])
    for (const line of lines) {
      const accuracy = line.phases[0].metrics["test/net/accuracy"]
      expect(Number.isFinite(accuracy)).toBe(true)
      // 20 Adam steps on a linearly separable task: far above chance, on both backends
      expect(accuracy).toBeGreaterThan(0.9)
      expect(line.gradients).toBe(true)
      expect(line.kd).toEqual({ name: "kd", phases: 3 })
      expect(line.dir).toBe(join(out, `embed-${line.backend}`))
      for (const f of ["events.jsonl", "checkpoint.bin", "pipeline.json"])
        expect(existsSync(join(line.dir, f))).toBe(true)
      const events = readFileSync(join(line.dir, "events.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
      expect(events.some((e) => e._tag === "RunFinished")).toBe(true)
    }
    // the backends agree on the same seeded run
    expect(lines[0].phases[0].metrics["test/net/nll"]).toBeCloseTo(
      lines[1].phases[0].metrics["test/net/nll"],
      4,
    )
  })

  it("type-checks a TypeScript program against its declarations (exports' types conditions)", () => {
    const r = exec(process.execPath, [tsc, "-p", "tsconfig.json"], app)
    expect(r.stdout + r.stderr).toBe("")
    expect(r.status).toBe(0)
  })

  it("the installed bin validates JSON and TypeScript pipelines, and reports problems with their paths", () => {
    const bin = join(app, "node_modules", ".bin", "retort")
    const recipe = join(app, "node_modules", "retort", "pipelines", "json", "kd.json")
    const [kd, invalid] = withoutTsx(() => [
      exec(bin, ["validate", recipe], app),
      exec(bin, ["validate", "invalid.json"], app),
    ])
    expect(kd.stdout).toContain('valid pipeline "kd" (3 phases, 3 models)')
    expect(kd.status).toBe(0)
    expect(invalid.status).toBe(1)
    expect(invalid.stderr).toContain("invalid pipeline (2 problems)")
    expect(invalid.stderr).toContain(
      'phases[0].step.stages[1].terms.ce.logits: reads "t", which no earlier stage writes',
    )
    expect(invalid.stderr).toContain(
      "phases[0].step.stages[2].optimizer.lr: a learning rate must be >= 0, got -1",
    )
    // .ts pipeline files are the one thing that loads through tsx
    expect(ok(bin, ["validate", "tiny.ts"], app)).toContain('valid pipeline "tiny" (1 phases, 1 models)')
  })

  it("the installed bin trains on the bundled MNIST, and exports a LayersModel that stock tfjs-layers loads", () => {
    const bin = join(app, "node_modules", ".bin", "retort")
    const loaded = withoutTsx(() => {
      const trained = ok(bin, ["run", "tiny.json", "--backend", "wasm", "--out", "cli-runs", "--quiet"], app)
      expect(trained).toContain("test/net/accuracy")
      for (const f of ["events.jsonl", "checkpoint.bin", "pipeline.json"])
        expect(existsSync(join(app, "cli-runs", "tiny", f))).toBe(true)
      expect(ok(bin, ["export", join("cli-runs", "tiny"), "--model", "net"], app)).toContain("model.json")
      return jsonLines(ok(process.execPath, ["load.mjs", join("cli-runs", "tiny", "export", "net")], app))
    })
    expect(loaded).toHaveLength(1)
    expect(loaded[0].input).toEqual([null, 28, 28, 1])
    expect(loaded[0].output).toEqual([2, 10])
    expect(loaded[0].logits.every(Number.isFinite)).toBe(true)
  })
})
