/**
 * The documentation's code compiles: every TypeScript block of README.md and docs/*.md and every `@example` of
 * the public modules (dsl/, src/, pipelines/) is written out as its own module and type-checked
 * with the project's settings, so an example that drifts from the API fails the tests.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { describe, expect, it } from "vitest"

const root = join(import.meta.dirname, "..")
const out = join(root, ".doc-examples")

const walk = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? walk(p) : p.endsWith(".ts") && !p.endsWith(".d.ts") ? [p] : []
  })

/** The ```ts blocks of a markdown file. */
const markdownBlocks = (file: string) =>
  [...readFileSync(file, "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!)

/** The ```ts blocks inside the `@example` tags of a source file's doc comments. */
const exampleBlocks = (file: string) =>
  [...readFileSync(file, "utf8").matchAll(/@example\s*\n\s*\*\s*```ts\n([\s\S]*?)\n\s*\*\s*```/g)].map((m) =>
    m[1]!
      .split("\n")
      .map((l) => l.replace(/^\s*\* ?/, ""))
      .join("\n"),
  )

/**
 * Relative imports as seen from `.doc-examples/`: examples write them from the repository root
 * (`./dsl/Model.js`) or from their own file's folder (`./Event.js`); whichever exists is used.
 */
const relocate = (code: string, from: string) =>
  code.replace(/(from |import\()"(\.\.?\/[^"]+)"/g, (_, lead: string, spec: string) => {
    const ts = (p: string) => p.replace(/\.js$/, ".ts")
    // a file an earlier block of the same document defined (`// file: my-kd.ts`)
    if (existsSync(ts(join(out, spec)))) return `${lead}"${spec}"`
    const fromRoot = join(root, spec)
    const target = existsSync(ts(fromRoot)) ? fromRoot : join(dirname(from), spec)
    return `${lead}"${relative(out, target)}"`
  })

describe("documentation examples", () => {
  it("every README/docs TypeScript block and every @example type-checks", () => {
    rmSync(out, { recursive: true, force: true })
    mkdirSync(out, { recursive: true })
    const sources = ["dsl", "src", "pipelines"].flatMap((d) => walk(join(root, d)))
    const docs = readdirSync(join(root, "docs"))
      .filter((f) => f.endsWith(".md"))
      .map((f) => join(root, "docs", f))
      .concat(join(root, "README.md"))
    const files: Array<string> = []
    const emit = (from: string, blocks: ReadonlyArray<string>) =>
      blocks.forEach((code, i) => {
        const named = /^\/\/ file: ([\w-]+\.ts)\n/.exec(code)?.[1]
        const name = named ?? `${relative(root, from).replace(/[/.]/g, "_")}_${i}.ts`
        writeFileSync(
          join(out, name),
          `// from ${relative(root, from)}\n${relocate(code, from)}\nexport {}\n`,
        )
        files.push(name)
      })
    for (const f of sources) emit(f, exampleBlocks(f))
    for (const f of docs) emit(f, markdownBlocks(f))
    expect(files.length).toBeGreaterThan(500)
    const base = JSON.parse(readFileSync(join(root, "tsconfig.json"), "utf8"))
    writeFileSync(
      join(out, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          ...base.compilerOptions,
          noEmit: true,
          // the package's own name, as a user imports it, resolves to the sources (not dist/)
          paths: {
            retort: ["../src/index.ts"],
            "retort/dsl": ["../dsl/index.ts"],
            "retort/pipelines": ["../pipelines/index.ts"],
            "retort/pipelines/*": ["../pipelines/*.ts"],
          },
        },
        include: ["*.ts"],
      }),
    )
    let report = ""
    try {
      execFileSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", out], {
        cwd: root,
        encoding: "utf8",
        stdio: "pipe",
      })
    } catch (e) {
      report = String((e as { stdout?: string }).stdout ?? e)
    }
    // each error line names the generated file, whose first line names the source
    const failing = [...new Set([...report.matchAll(/^\.doc-examples\/([^(]+)\(/gm)].map((m) => m[1]!))]
    const where = failing.map((f) => readFileSync(join(out, f), "utf8").split("\n")[0]!.slice(8))
    expect({ failing: where, report: report.slice(0, 4000) }).toEqual({ failing: [], report: "" })
  }, 300_000)
})
