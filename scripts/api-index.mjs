// Generates docs/api.md: every public export of Retort's entry points (retort, retort/dsl,
// retort/pipelines/*), one line each with its kind and the first sentence of its doc comment.
// Usage: node scripts/api-index.mjs "$(pwd)" > docs/api.md   (an absolute repo root; uses the repo's own typescript)
import { execFileSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"

const root = process.argv[2]
const ts = createRequire(join(root, "package.json"))("typescript")
const config = ts.getParsedCommandLineOfConfigFile(
  join(root, "tsconfig.build.json"),
  {},
  { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
)
const program = ts.createProgram(config.fileNames, { ...config.options, noEmit: true })
const checker = program.getTypeChecker()

const resolve = (s) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s)
const isModule = (s) =>
  (s.flags & ts.SymbolFlags.ValueModule) !== 0 && s.declarations?.some((d) => ts.isSourceFile(d))
const firstSentence = (text) => {
  const flat = text.replace(/\s+/g, " ").trim()
  const m = /^(.*?[.!?])(\s|$)/.exec(flat.replace(/\{@link ([^}]+)\}/g, "`$1`"))
  const s = (m ? m[1] : flat.replace(/\{@link ([^}]+)\}/g, "`$1`")).trim()
  return s.length > 190 ? `${s.slice(0, 187)}…` : s
}
const doc = (s) => firstSentence(ts.displayPartsToString(s.getDocumentationComment(checker)))
const moduleDoc = (s) => {
  const sf = s.declarations.find((d) => ts.isSourceFile(d))
  const first = sf.statements[0]
  const jsdoc = first && ts.getJSDocCommentsAndTags(first).find((d) => ts.isJSDoc(d))
  const c = jsdoc?.comment
  const part = (p) =>
    p.kind === ts.SyntaxKind.JSDocLink ||
    p.kind === ts.SyntaxKind.JSDocLinkCode ||
    p.kind === ts.SyntaxKind.JSDocLinkPlain
      ? `\`${p.name ? p.name.getText() : ""}${p.text ? p.text : ""}\``
      : p.text
  return c ? firstSentence(typeof c === "string" ? c : c.map(part).join("")) : ""
}
const kind = (s) => {
  const f = s.flags
  if (f & ts.SymbolFlags.Class) return "class"
  if (f & ts.SymbolFlags.Function) return "function"
  if (f & ts.SymbolFlags.Interface) return "interface"
  if (f & ts.SymbolFlags.TypeAlias) return "type"
  if (f & ts.SymbolFlags.Enum) return "enum"
  if (f & ts.SymbolFlags.Variable) {
    const d = s.valueDeclaration
    const t = d && checker.getTypeOfSymbolAtLocation(s, d)
    return t && t.getCallSignatures().length > 0 ? "function" : "const"
  }
  return "value"
}
const exportsOf = (file) => {
  const sf = program.getSourceFile(join(root, file))
  return checker
    .getExportsOfModule(checker.getSymbolAtLocation(sf))
    .sort((a, b) => a.name.localeCompare(b.name))
}
const lines = []
const entry = (name, s) => {
  const r = resolve(s)
  const d = doc(r) || doc(s)
  return `- \`${name}\` *${kind(r)}*${d ? ` — ${d}` : ""}`
}
const namespace = (prefix, s, depth) => {
  const r = resolve(s)
  const heading = "#".repeat(Math.min(depth, 4))
  lines.push("", `${heading} \`${prefix}\``, "")
  const md = moduleDoc(r)
  if (md) lines.push(md, "")
  const members = checker.getExportsOfModule(r).sort((a, b) => a.name.localeCompare(b.name))
  const nested = []
  for (const m of members) {
    if (isModule(resolve(m))) nested.push(m)
    else lines.push(entry(`${prefix}.${m.name}`, m))
  }
  for (const m of nested) namespace(`${prefix}.${m.name}`, m, depth + 1)
}
const section = (title, intro, file, skip = new Set()) => {
  lines.push("", `## ${title}`, "", intro)
  const all = exportsOf(file).filter((s) => !skip.has(s.name))
  const plain = all.filter((s) => !isModule(resolve(s)))
  const spaces = all.filter((s) => isModule(resolve(s)))
  if (plain.length > 0) lines.push("", ...plain.map((s) => entry(s.name, s)))
  for (const s of spaces) namespace(s.name, s, 3)
}

lines.push(
  "# Retort — API index",
  "",
  "Every public export, one line each: its kind and the first sentence of its documentation",
  "(the full comment, with a runnable example, is in the source and in the `.d.ts` files).",
  "Generated from the sources by reading the entry points with the TypeScript compiler; the",
  "guide (`docs/guide.md`) shows how the pieces fit together.",
  "",
  "| import | source |",
  "|---|---|",
  "| `retort/dsl` | `dsl/index.ts` |",
  "| `retort` | `src/index.ts` (re-exports all of `retort/dsl` too) |",
  "| `retort/pipelines`, `retort/pipelines/<name>` | `pipelines/` |",
  "| `retort/pipelines/json/<name>.json` / `.yaml` | `pipelines/json/` |",
)
section(
  "`retort/dsl`",
  "Pure descriptions: no TensorFlow.js, no I/O. Every node is tagged, immutable data with a codec.",
  "dsl/index.ts",
)
const dslNames = new Set(exportsOf("dsl/index.ts").map((s) => s.name))
section(
  "`retort`",
  "The runtime: running pipelines, and the services and modules behind it. (The `retort/dsl` namespaces above are re-exported here and not repeated.)",
  "src/index.ts",
  dslNames,
)
lines.push(
  "",
  "## `retort/pipelines`",
  "",
  "The recipes (`docs/methods.md` explains them). Each `retort/pipelines/<name>` module default-exports the pipeline with its defaults; most also export `make(options)` and an `Options` interface.",
  "",
)
lines.push(
  entry(
    "recipes",
    exportsOf("pipelines/index.ts").find((s) => s.name === "recipes"),
  ),
)
for (const f of readdirSync(join(root, "pipelines"))
  .filter((f) => f.endsWith(".ts") && f !== "index.ts" && f !== "common.ts")
  .sort()) {
  const name = f.replace(/\.ts$/, "")
  const sf = program.getSourceFile(join(root, "pipelines", f))
  const sym = checker.getSymbolAtLocation(sf)
  const names = checker
    .getExportsOfModule(sym)
    .map((s) => s.name)
    .filter((n) => n !== "default")
  lines.push(
    `- \`retort/pipelines/${name}\` — ${moduleDoc(sym)}${names.length ? ` Exports: ${names.map((n) => `\`${n}\``).join(", ")}.` : ""}`,
  )
}
// The command line, from its own --help output.
const help = (args) =>
  execFileSync(
    process.execPath,
    [
      join(root, "node_modules", "tsx", "dist", "cli.mjs"),
      join(root, "src", "cli", "main.ts"),
      ...args,
      "--help",
    ],
    {
      cwd: root,
      encoding: "utf8",
    },
  )
const sectionOf = (text, name) => {
  const m = new RegExp(`^${name}\\n([\\s\\S]*?)(?:\\n\\n[A-Z][A-Z ]+\\n|(?![\\s\\S]))`, "m").exec(text)
  return m ? m[1] : ""
}
lines.push("", "## The `retort` command", "")
for (const line of sectionOf(help([]), "SUBCOMMANDS").split("\n")) {
  const m = /^\s+(\S+)\s+(.*)$/.exec(line)
  if (!m) continue
  const sub = help([m[1]])
  const usage = sectionOf(sub, "USAGE").trim().replace(" [flags]", "")
  const flags = [...sectionOf(sub, "FLAGS").matchAll(/^\s+(--[a-z-]+)/gm)].map((f) => `\`${f[1]}\``)
  lines.push(`- \`${usage}\` — ${m[2]}.${flags.length ? ` Flags: ${flags.join(", ")}.` : ""}`)
}
lines.push("")
process.stdout.write(lines.join("\n"))
