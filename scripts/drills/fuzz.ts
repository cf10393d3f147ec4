/**
 * The long fuzzing drill: `count` mutated pipeline files (seeded; see `mutations.ts`) through the
 * in-process decoder, then a sample of them through the real `retort validate`.
 *
 * ```sh
 * npx tsx scripts/drills/fuzz.ts [--count 10000] [--validate-sample 200] [--seed 1] [--json OUT]
 *   [--budget-ms 5000] [--max-growth-mb 256] [--max-rss-mb 2048] [--kill-after-s 60] [--jobs 2]
 *   [--only INDEX] [--keep DIR]
 * ```
 *
 * Each file is decoded with the decoder of its format (`Codec.fromJson` / `Codec.fromYaml`, from
 * the text `readFileSync(file, "utf8")` would give) and checked: no exception escapes, the call
 * returns within the budget (5 s), a rejection is a `ValidationError` whose issues each carry a
 * path string and a message (and none is the decoder's last guard against an internal error), an
 * accepted file is a pipeline that encodes and decodes back and holds no
 * `__proto__`/`constructor`/`prototype` key, and `Object.prototype`, `Array.prototype`,
 * `Function.prototype`, `String.prototype` and `globalThis` have no new or changed keys
 * afterwards. Memory is bounded: a watchdog thread samples the resident set every 10 ms, and no
 * single decode may grow it by more than `--max-growth-mb`, the whole run (generating the files
 * included) stays under `--max-rss-mb`, and the heap after a full collection at the end is within
 * 64 MiB of the heap before the first file (nothing leaks). The watchdog also kills the process,
 * naming the file, if one decode runs past `--kill-after-s` (a hang would otherwise stop the
 * drill forever).
 *
 * Then `--validate-sample` files, spread over the kinds of mutation, are written to a temporary
 * folder and run through `node bin/retort.js validate FILE` (`--jobs` at a time), with a timeout
 * of the budget plus twice the CLI's start-up time (measured first, on a valid recipe, `--jobs` at
 * a time; a file that times out is run once more, since start-up varies on a busy machine, and
 * fails on a second timeout): the exit code is 0 or 1 (the documented failure status) and agrees with the
 * in-process decoder, nothing looks like a stack trace or a Node warning, a rejection names a
 * path for each problem, and the output stays under 256 KiB.
 *
 * Prints a table per kind and the totals; exits 1 if any check failed. `--only INDEX` runs one
 * file (reproducing a failure the report names) and `--keep DIR` keeps the files written.
 *
 * @example
 * ```ts
 * import { fuzz } from "./scripts/drills/fuzz.js"
 * const report = await fuzz({ count: 200, validateSample: 0, seed: 1 })
 * if (!report.ok) console.error(report.failures)
 * ```
 *
 * @since 0.1.0
 */
import { spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { parseArgs } from "node:util"
import v8 from "node:v8"
import vm from "node:vm"
import { Worker } from "node:worker_threads"
import { Result } from "effect"
import fc from "fast-check"
import { Codec, Issue } from "../../dsl/index.js"
import * as Mutations from "./mutations.js"

const root = resolve(import.meta.dirname, "..", "..")

/**
 * Options of {@link fuzz}; every one has a default.
 *
 * @example
 * ```ts
 * import type { Options } from "./scripts/drills/fuzz.js"
 * const quick: Options = { count: 500, validateSample: 20, seed: 7 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Mutated files to decode in-process (10,000). */
  readonly count?: number
  /** Of those, how many to run through `retort validate` (200; 0 skips the CLI). */
  readonly validateSample?: number
  /** The seed; file `i` is the same for the same seed and `i` (1). */
  readonly seed?: number
  /** Write the report as JSON to this file. */
  readonly json?: string
  /** The time one decode may take (5,000 ms). */
  readonly budgetMs?: number
  /** The watchdog kills the process when one decode has run this long (60 s). */
  readonly killAfterMs?: number
  /** Fail when one decode grows the resident set by more than this (256 MiB). */
  readonly maxGrowthMb?: number
  /** Fail when the process's resident set ever exceeds this (2,048 MiB; generating the files counts too). */
  readonly maxRssMb?: number
  /** Fail when the heap after the run (after a full collection) exceeds the heap before by this (64 MiB). */
  readonly maxRetainedMb?: number
  /** CLI processes at a time (2). */
  readonly jobs?: number
  /** Run only file `only` (to reproduce a failure). */
  readonly only?: number
  /** Keep the files written for the CLI in this folder (else a temporary one is removed). */
  readonly keep?: string
  /** Relative weights of the kinds of mutation (1 each). */
  readonly weights?: Partial<Record<Mutations.Kind, number>>
  /** Progress lines (stderr by default). */
  readonly log?: (line: string) => void
}

/**
 * A check that failed on one file.
 *
 * @since 0.1.0
 * @category models
 */
export interface Failure {
  readonly index: number
  readonly kind: Mutations.Kind
  readonly format: Mutations.Format
  readonly note: string
  readonly check:
    | "exception"
    | "timeout"
    | "untyped"
    | "no-path"
    | "internal-error"
    | "prototype"
    | "accepted-unsound"
    | "memory"
    | "cli-exit"
    | "cli-timeout"
    | "cli-disagrees"
    | "cli-stack"
    | "cli-noise"
    | "cli-no-path"
    | "cli-output"
  readonly detail: string
}

/**
 * What one file did in-process.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome {
  readonly status: "accepted" | "rejected" | "exception"
  readonly ms: number
  readonly issues: number
  readonly failures: ReadonlyArray<Pick<Failure, "check" | "detail">>
}

/**
 * Figures per kind of mutation.
 *
 * @since 0.1.0
 * @category models
 */
export interface KindStats {
  readonly kind: Mutations.Kind
  files: number
  rejected: number
  accepted: number
  exceptions: number
  maxMs: number
  maxBytes: number
  failures: number
}

/**
 * The drill's report.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly ok: boolean
  readonly command: string
  readonly seed: number
  readonly count: number
  readonly wallSeconds: number
  readonly decode: {
    readonly files: number
    readonly rejected: number
    readonly accepted: number
    readonly exceptions: number
    readonly overBudget: number
    readonly withoutPath: number
    readonly prototypeChanged: number
    readonly maxMs: number
    readonly p99Ms: number
    readonly p50Ms: number
    readonly slowest: ReadonlyArray<{
      readonly index: number
      readonly kind: string
      readonly note: string
      readonly ms: number
    }>
    readonly totalBytes: number
    readonly maxBytes: number
  }
  readonly memory: {
    readonly peakRssMb: number
    readonly peakHeapMb: number
    readonly maxFileRssGrowthMb: number
    readonly retainedHeapMb: number | null
    readonly limits: { readonly rssMb: number; readonly growthMb: number; readonly retainedMb: number }
  }
  readonly kinds: ReadonlyArray<KindStats>
  readonly cli: {
    readonly files: number
    readonly startupMs: { readonly median: number; readonly max: number }
    readonly timeoutMs: number
    readonly exitCodes: Readonly<Record<string, number>>
    readonly maxMs: number
    readonly maxMsOverStartup: number
    readonly maxOutputBytes: number
    readonly largestOutput: { readonly index: number; readonly kind: string; readonly bytes: number }
    readonly timeoutsRetried: ReadonlyArray<number>
    readonly slowest: ReadonlyArray<{
      readonly index: number
      readonly kind: string
      readonly bytes: number
      readonly ms: number
    }>
    readonly wallSeconds: number
  } | null
  readonly failures: ReadonlyArray<Failure>
}

// ---------------------------------------------------------------------------------------------
// Checks

const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"])

/** Own keys (and what they hold) of the objects a decoder could pollute. */
const watched: ReadonlyArray<readonly [string, object]> = [
  ["Object.prototype", Object.prototype],
  ["Array.prototype", Array.prototype],
  ["Function.prototype", Function.prototype],
  ["String.prototype", String.prototype],
  ["globalThis", globalThis],
]
type Snapshot = ReadonlyArray<ReadonlyMap<PropertyKey, unknown>>
const snapshot = (): Snapshot =>
  watched.map(([, o]) => {
    const m = new Map<PropertyKey, unknown>()
    for (const k of Reflect.ownKeys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, k)
      m.set(k, d && "value" in d ? d.value : d?.get)
    }
    return m
  })
const changes = (before: Snapshot): ReadonlyArray<string> => {
  const after = snapshot()
  const out: Array<string> = []
  watched.forEach(([name], i) => {
    const a = after[i]!
    const b = before[i]!
    // Effect registers its own globals lazily, on first use (`~effect/…`): code, not the file
    for (const [k, v] of a)
      if (!b.has(k)) {
        if (!(name === "globalThis" && String(k).startsWith("~effect/")))
          out.push(`${name}.${String(k)} added`)
      } else if (b.get(k) !== v && name !== "globalThis") out.push(`${name}.${String(k)} changed`)
    for (const k of b.keys()) if (!a.has(k)) out.push(`${name}.${String(k)} removed`)
  })
  return out
}

/** The path to the first own `__proto__`/`constructor`/`prototype` key in a value. */
const hostileKey = (value: unknown): string | undefined => {
  const stack: Array<{ v: unknown; at: string }> = [{ v: value, at: "" }]
  while (stack.length > 0) {
    const { v, at } = stack.pop()!
    if (typeof v !== "object" || v === null) continue
    for (const k of Object.keys(v)) {
      if (FORBIDDEN.has(k)) return `${at}.${k}`
      stack.push({ v: (v as Record<string, unknown>)[k], at: `${at}.${k}` })
    }
  }
  return undefined
}

const describeError = (e: unknown): string => {
  if (e instanceof Error) {
    const frame = e.stack?.split("\n").find((l) => /^\s+at /.test(l))
    return `${e.name}: ${e.message.slice(0, 300)}${frame ? ` (${frame.trim()})` : ""}`
  }
  return String(e).slice(0, 300)
}

/**
 * Decode one file's text with the decoder of its format and check the result (see the module's
 * description). Never throws.
 *
 * @example
 * ```ts
 * import { checkText } from "./scripts/drills/fuzz.js"
 * const o = checkText("{ not json", "json")
 * o.status // "rejected"
 * o.failures // []
 * ```
 *
 * @since 0.1.0
 * @category checks
 */
export const checkText = (text: string, format: Mutations.Format, budgetMs = 5_000): Outcome => {
  const failures: Array<Pick<Failure, "check" | "detail">> = []
  const before = snapshot()
  const started = performance.now()
  let r: Result.Result<unknown, unknown> | undefined
  let thrown: unknown
  let threw = false
  try {
    r = format === "json" ? Codec.fromJson(text) : Codec.fromYaml(text)
  } catch (e) {
    threw = true
    thrown = e
  }
  const ms = performance.now() - started
  if (ms > budgetMs) failures.push({ check: "timeout", detail: `${ms.toFixed(0)} ms` })
  let status: Outcome["status"] = "exception"
  let issues = 0
  if (threw) failures.push({ check: "exception", detail: describeError(thrown) })
  else if (!Result.isResult(r))
    failures.push({ check: "untyped", detail: `returned ${typeof r}, not a Result` })
  else if (Result.isFailure(r)) {
    status = "rejected"
    const e = r.failure
    if (!(e instanceof Issue.ValidationError) || e._tag !== "ValidationError")
      failures.push({ check: "untyped", detail: `failed with ${describeError(e)}` })
    else {
      issues = e.issues.length
      if (issues === 0) failures.push({ check: "no-path", detail: "a ValidationError without issues" })
      const bad = e.issues.find(
        (i) => typeof i.path !== "string" || typeof i.message !== "string" || i.message.trim() === "",
      )
      if (bad) failures.push({ check: "no-path", detail: `issue ${JSON.stringify(bad).slice(0, 300)}` })
      // the decoder's last guards turn a thrown error into an issue: still a bug to report
      const guarded = e.issues.find((i) => /^could not be (decoded|validated): /.test(String(i.message)))
      if (guarded) failures.push({ check: "internal-error", detail: guarded.message.slice(0, 300) })
    }
  } else {
    status = "accepted"
    const p = r.success as { _tag?: unknown }
    try {
      if (p?._tag !== "Pipeline") throw new Error(`decoded a ${String(p?._tag)}, not a Pipeline`)
      const key = hostileKey(p)
      if (key !== undefined) throw new Error(`the decoded pipeline holds the key ${key}`)
      // what it accepts it can write out and read back (as a value: an input near the text
      // limit may pass it once written out indented)
      const back = Codec.decode(JSON.parse(Codec.toJson(r.success as never)))
      if (Result.isFailure(back))
        throw new Error(`its own encoding does not decode: ${back.failure.message.slice(0, 300)}`)
    } catch (e) {
      failures.push({ check: "accepted-unsound", detail: describeError(e) })
    }
  }
  const changed = changes(before)
  if (changed.length > 0) failures.push({ check: "prototype", detail: changed.join(", ") })
  return { status, ms, issues, failures }
}

// ---------------------------------------------------------------------------------------------
// Generation

/** The seed of file `index`: a 32-bit mix of the run's seed and the index. */
const fileSeed = (seed: number, index: number) => {
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) | 0
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d)
  h ^= h >>> 15
  return h | 0
}

/**
 * File `index` of a run with `seed` (the same file every time).
 *
 * @example
 * ```ts
 * import { fileAt } from "./scripts/drills/fuzz.js"
 * import * as Mutations from "./scripts/drills/mutations.js"
 * const arb = Mutations.mutant(Mutations.loadRecipes())
 * const m = fileAt(arb, 1, 42)
 * ```
 *
 * @since 0.1.0
 * @category generation
 */
export const fileAt = (arb: fc.Arbitrary<Mutations.Mutant>, seed: number, index: number): Mutations.Mutant =>
  fc.sample(arb, { seed: fileSeed(seed, index), numRuns: 1 })[0]!

// ---------------------------------------------------------------------------------------------
// Memory and hangs: a watchdog thread

const watchdogSource = `
const { workerData } = require("node:worker_threads")
const fs = require("node:fs")
const s = new Float64Array(workerData.stats)
const stop = new Int32Array(workerData.stop)
for (;;) {
  const rss = process.memoryUsage.rss()
  if (rss > s[0]) s[0] = rss
  if (rss > s[1]) s[1] = rss
  if (s[2] >= 0 && Date.now() - s[3] > workerData.killAfterMs) {
    const kind = workerData.kinds[s[4]]
    fs.writeSync(2, "\\nfuzz: file #" + s[2] + " (" + kind + ") has been decoding for " +
      Math.round((Date.now() - s[3]) / 1000) + " s: a hang. Killing the process.\\n" +
      "reproduce: npx tsx scripts/drills/fuzz.ts --seed " + workerData.seed + " --only " + s[2] +
      " --validate-sample 0 --keep /tmp/fuzz-hang\\n")
    process.kill(process.pid, "SIGKILL")
  }
  if (Atomics.wait(stop, 0, 0, 10) !== "timed-out") break
}
`

interface Watchdog {
  readonly start: (index: number, kind: number) => void
  readonly end: () => number
  readonly peak: () => number
  readonly close: () => Promise<void>
}

const watchdog = (seed: number, killAfterMs: number): Watchdog => {
  const stats = new SharedArrayBuffer(8 * 5)
  const stop = new SharedArrayBuffer(4)
  const s = new Float64Array(stats)
  s[2] = -1
  const worker = new Worker(watchdogSource, {
    eval: true,
    workerData: { stats, stop, killAfterMs, seed, kinds: Mutations.kinds },
  })
  worker.unref()
  return {
    start: (index, kind) => {
      s[0] = process.memoryUsage.rss()
      s[4] = kind
      s[3] = Date.now()
      s[2] = index
    },
    end: () => {
      s[2] = -1
      return Math.max(s[0]!, process.memoryUsage.rss())
    },
    peak: () => Math.max(s[1]!, process.memoryUsage.rss()),
    close: async () => {
      Atomics.store(new Int32Array(stop), 0, 1)
      Atomics.notify(new Int32Array(stop), 0)
      await worker.terminate()
    },
  }
}

/** A full garbage collection, when V8 lets us have one (for the retained-heap figure). */
const collector = (): (() => void) | undefined => {
  try {
    v8.setFlagsFromString("--expose-gc")
    const gc = vm.runInNewContext("gc") as unknown
    return typeof gc === "function" ? (gc as () => void) : undefined
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// The CLI

interface CliResult {
  readonly code: number | null
  readonly signal: string | null
  readonly ms: number
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
}

const runCli = (file: string, timeoutMs: number): Promise<CliResult> =>
  new Promise((done) => {
    const started = performance.now()
    const child = spawn(process.execPath, [join(root, "bin", "retort.js"), "validate", file], {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    })
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill("SIGKILL")
    }, timeoutMs)
    child.stdout.on("data", (b: Buffer) => out.push(b))
    child.stderr.on("data", (b: Buffer) => err.push(b))
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      done({
        code,
        signal,
        ms: performance.now() - started,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        timedOut,
      })
    })
  })

/** What `retort validate` may print for one file (it printed 49 MB for 190,000 copies of one mistake). */
const MAX_OUTPUT = 256 * 1024

/** Lines of a stack trace (`    at f (file:1:2)`), or what Node prints for crashes and warnings. */
const STACK = /^\s+at (?:\S.*:\d+:\d+\)?|\S+ \(|<anonymous>|new \S|async \S)/m
const NOISE =
  /\(node:\d+\) \w*Warning|FATAL ERROR|Uncaught|node:internal\/|--trace-warnings|Error: .*\n\s+at /

/**
 * Check what `retort validate` printed for a file that the decoder accepted (or not).
 *
 * @example
 * ```ts
 * import { checkCli } from "./scripts/drills/fuzz.js"
 * checkCli({ code: 1, stdout: "", stderr: "retort: invalid pipeline (1 problem):\n  - <root>: malformed JSON\n" }, false)
 * // []
 * ```
 *
 * @since 0.1.0
 * @category checks
 */
export const checkCli = (
  r: { readonly code: number | null; readonly stdout: string; readonly stderr: string },
  accepted: boolean,
): ReadonlyArray<Pick<Failure, "check" | "detail">> => {
  const failures: Array<Pick<Failure, "check" | "detail">> = []
  const all = `${r.stdout}\n${r.stderr}`
  if (r.code !== 0 && r.code !== 1) failures.push({ check: "cli-exit", detail: `exit code ${r.code}` })
  else if ((r.code === 0) !== accepted)
    failures.push({
      check: "cli-disagrees",
      detail: `exit ${r.code}, but the decoder ${accepted ? "accepted" : "rejected"} it`,
    })
  const stack = STACK.exec(all)
  if (stack) failures.push({ check: "cli-stack", detail: stack[0].trim().slice(0, 200) })
  const noise = NOISE.exec(all)
  if (noise) failures.push({ check: "cli-noise", detail: noise[0].trim().slice(0, 200) })
  if (all.length > MAX_OUTPUT)
    failures.push({ check: "cli-output", detail: `${all.length} characters of output (limit ${MAX_OUTPUT})` })
  if (r.code === 1) {
    const header = /invalid pipeline \((\d+) problems?\):/.exec(r.stderr)
    const lines = r.stderr.split("\n").filter((l) => /^ {2}- .*?: /.test(l))
    if (!header || lines.length === 0)
      failures.push({ check: "cli-no-path", detail: r.stderr.slice(0, 200) || "(no output)" })
  } else if (r.code === 0 && !/: valid pipeline "/.test(r.stdout))
    failures.push({ check: "cli-exit", detail: `exit 0 without "valid pipeline": ${r.stdout.slice(0, 200)}` })
  return failures
}

/** `n` of the indices, spread over the kinds (round robin, evenly spaced within a kind). */
const spread = (byKind: ReadonlyMap<Mutations.Kind, ReadonlyArray<number>>, n: number): Array<number> => {
  const lists = [...byKind.values()].filter((l) => l.length > 0)
  const take = new Map(lists.map((l) => [l, 0]))
  const out: Array<number> = []
  const total = lists.reduce((a, l) => a + l.length, 0)
  while (out.length < Math.min(n, total))
    for (const l of lists) {
      if (out.length >= n) break
      const k = take.get(l)!
      if (k < l.length) {
        take.set(l, k + 1)
        out.push(l[Math.floor(((k * 0.618034) % 1) * l.length)]!)
      }
    }
  return [...new Set(out)].sort((a, b) => a - b)
}

const pool = async <A>(items: ReadonlyArray<A>, jobs: number, f: (a: A) => Promise<void>) => {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.max(1, jobs) }, async () => {
      while (next < items.length) await f(items[next++]!)
    }),
  )
}

const quantile = (xs: Float64Array, q: number) => {
  if (xs.length === 0) return 0
  const sorted = Float64Array.from(xs).sort()
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
}

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10

// ---------------------------------------------------------------------------------------------

/**
 * Run the drill and resolve with its report (it never exits the process; the command line does,
 * with status 1 when `report.ok` is false).
 *
 * @example
 * ```ts
 * import { fuzz } from "./scripts/drills/fuzz.js"
 * const r = await fuzz({ count: 10_000, validateSample: 200, seed: 1, json: "fuzz.json" })
 * console.log(r.decode.maxMs, r.memory.peakRssMb)
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const fuzz = async (options: Options = {}): Promise<Report> => {
  const count = options.count ?? 10_000
  const seed = options.seed ?? 1
  const budgetMs = options.budgetMs ?? 5_000
  const limitMb = options.maxRssMb ?? 2_048
  const growthMb = options.maxGrowthMb ?? 256
  const retainedMb = options.maxRetainedMb ?? 64
  const sampleSize = options.validateSample ?? 200
  const log = options.log ?? ((l: string) => process.stderr.write(`${l}\n`))
  const started = performance.now()
  const recipes = Mutations.loadRecipes()
  const arb = Mutations.mutant(recipes, options.weights)
  const indices = options.only !== undefined ? [options.only] : Array.from({ length: count }, (_, i) => i)
  const failures: Array<Failure> = []
  const kinds = new Map<Mutations.Kind, KindStats>(
    Mutations.kinds.map((kind) => [
      kind,
      { kind, files: 0, rejected: 0, accepted: 0, exceptions: 0, maxMs: 0, maxBytes: 0, failures: 0 },
    ]),
  )
  const byKind = new Map<Mutations.Kind, Array<number>>(Mutations.kinds.map((k) => [k, []]))
  const status = new Map<number, Outcome["status"]>()
  const times = new Float64Array(indices.length)
  // the ten slowest files, slowest first
  let slowest: Array<{ index: number; kind: string; note: string; ms: number }> = []
  let totalBytes = 0
  let maxBytes = 0
  let peakHeap = 0
  let maxGrowth = 0
  const tally = {
    rejected: 0,
    accepted: 0,
    exceptions: 0,
    overBudget: 0,
    withoutPath: 0,
    prototypeChanged: 0,
  }

  // warm up (compile the decoders) on the recipes themselves
  for (const r of recipes) {
    Codec.fromJson(r.json)
    Codec.fromYaml(r.yaml)
  }
  const gc = collector()
  gc?.()
  const heapBase = process.memoryUsage().heapUsed
  const dog = watchdog(seed, options.killAfterMs ?? 60_000)
  let rssFailed = false
  try {
    for (let n = 0; n < indices.length; n++) {
      const index = indices[n]!
      const m = fileAt(arb, seed, index)
      const text = Mutations.text(m)
      const size = Buffer.byteLength(text)
      if (options.only !== undefined) {
        log(`file #${index}: ${m.kind} (${m.format}), ${size} bytes: ${m.note}`)
        if (options.keep) {
          mkdirSync(options.keep, { recursive: true })
          const file = join(options.keep, `${index}-${m.kind}.${m.format}`)
          writeFileSync(file, Mutations.bytes(m))
          log(`written to ${file}`)
        }
      }
      const before = process.memoryUsage.rss()
      dog.start(index, Mutations.kinds.indexOf(m.kind))
      const o = checkText(text, m.format, budgetMs)
      const peakRss = dog.end()
      maxGrowth = Math.max(maxGrowth, peakRss - before)
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)
      times[n] = o.ms
      status.set(index, o.status)
      byKind.get(m.kind)!.push(index)
      totalBytes += size
      maxBytes = Math.max(maxBytes, size)
      const k = kinds.get(m.kind)!
      k.files++
      k.maxMs = Math.max(k.maxMs, o.ms)
      k.maxBytes = Math.max(k.maxBytes, size)
      const counter =
        o.status === "accepted" ? "accepted" : o.status === "rejected" ? "rejected" : "exceptions"
      k[counter]++
      tally[counter]++
      if (slowest.length < 10 || o.ms > slowest.at(-1)!.ms)
        slowest = [...slowest, { index, kind: m.kind, note: m.note.slice(0, 200), ms: o.ms }]
          .sort((a, b) => b.ms - a.ms)
          .slice(0, 10)
      for (const f of o.failures) {
        k.failures++
        if (f.check === "timeout") tally.overBudget++
        if (f.check === "no-path" || f.check === "untyped") tally.withoutPath++
        if (f.check === "prototype") tally.prototypeChanged++
        failures.push({ index, kind: m.kind, format: m.format, note: m.note.slice(0, 200), ...f })
      }
      const memory =
        peakRss - before > growthMb * 2 ** 20
          ? `one decode grew the resident set by ${mb(peakRss - before)} MiB (limit ${growthMb} MiB)`
          : !rssFailed && peakRss > limitMb * 2 ** 20
            ? `the resident set reached ${mb(peakRss)} MiB (limit ${limitMb} MiB)`
            : undefined
      if (memory !== undefined) {
        rssFailed ||= peakRss > limitMb * 2 ** 20
        k.failures++
        failures.push({
          index,
          kind: m.kind,
          format: m.format,
          note: m.note.slice(0, 200),
          check: "memory",
          detail: memory,
        })
      }
      if ((n + 1) % 1000 === 0)
        log(
          `  ${n + 1}/${indices.length} files, ${failures.length} failures, max ${(slowest[0]?.ms ?? 0).toFixed(0)} ms, rss ${mb(dog.peak())} MiB`,
        )
    }
  } finally {
    await dog.close()
  }
  gc?.()
  const retained = gc ? mb(process.memoryUsage().heapUsed - heapBase) : null
  if (retained !== null && retained > retainedMb)
    failures.push({
      index: -1,
      kind: "empty",
      format: "json",
      note: "the whole run",
      check: "memory",
      detail: `${retained} MiB more heap after the run than before it (limit ${retainedMb} MiB): a leak`,
    })
  const peakRssMb = mb(Math.max(dog.peak(), process.resourceUsage().maxRSS * 1024))

  // ----- the CLI on a sample
  let cli: Report["cli"] = null
  if (sampleSize > 0) {
    const cliStarted = performance.now()
    const chosen = options.only !== undefined ? [options.only] : spread(byKind, sampleSize)
    const dir = options.keep ?? mkdtempSync(join(tmpdir(), "retort-fuzz-"))
    mkdirSync(dir, { recursive: true })
    try {
      // start-up: `retort validate` on a valid recipe (its decode takes milliseconds), three rounds
      // of `jobs` processes at a time, as the sample runs
      const jobs = Math.max(1, options.jobs ?? 2)
      const startups: Array<number> = []
      for (let round = 0; round < 3; round++)
        for (const r of await Promise.all(
          Array.from({ length: jobs }, () => runCli(join(root, "pipelines", "json", "kd.json"), 120_000)),
        )) {
          if (r.code !== 0)
            throw new Error(`retort validate on a valid recipe failed: ${r.stderr.slice(0, 500)}`)
          startups.push(r.ms)
        }
      startups.sort((a, b) => a - b)
      const startup = {
        median: Math.round(startups[Math.floor(startups.length / 2)]!),
        max: Math.round(startups.at(-1)!),
      }
      const timeoutMs = budgetMs + 2 * startup.max
      log(
        `retort validate: start-up ${startup.median} ms (max ${startup.max}); timeout per file ${timeoutMs} ms`,
      )
      const files = chosen.map((index) => {
        const m = fileAt(arb, seed, index)
        const file = join(dir, `${String(index).padStart(5, "0")}-${m.kind}.${m.format}`)
        writeFileSync(file, Mutations.bytes(m))
        return { index, m, file }
      })
      const exitCodes: Record<string, number> = {}
      let maxMs = 0
      let maxOutput = { index: -1, kind: "", bytes: 0 }
      const retried: Array<number> = []
      const slowestCli: Array<{ index: number; kind: string; bytes: number; ms: number }> = []
      let done = 0
      await pool(files, jobs, async ({ index, m, file }) => {
        let r = await runCli(file, timeoutMs)
        if (r.timedOut) {
          // the machine may be busy (start-up varies): a file fails on two timeouts in a row
          retried.push(index)
          log(`  retort validate: #${index} timed out after ${Math.round(r.ms)} ms; once more`)
          r = await runCli(file, timeoutMs)
        }
        const code = r.timedOut ? "timeout" : r.code === null ? `signal ${r.signal}` : String(r.code)
        exitCodes[code] = (exitCodes[code] ?? 0) + 1
        maxMs = Math.max(maxMs, r.ms)
        slowestCli.push({ index, kind: m.kind, bytes: Mutations.bytes(m).length, ms: Math.round(r.ms) })
        slowestCli.sort((a, b) => b.ms - a.ms).splice(5)
        if (r.stdout.length + r.stderr.length > maxOutput.bytes)
          maxOutput = { index, kind: m.kind, bytes: r.stdout.length + r.stderr.length }
        const found: Array<Pick<Failure, "check" | "detail">> = r.timedOut
          ? [{ check: "cli-timeout", detail: `no answer within ${timeoutMs} ms` }]
          : [...checkCli(r, status.get(index) === "accepted")]
        for (const f of found) {
          kinds.get(m.kind)!.failures++
          failures.push({
            index,
            kind: m.kind,
            format: m.format,
            note: `${m.note.slice(0, 160)} [${file}]`,
            ...f,
          })
        }
        if (++done % 50 === 0) log(`  retort validate: ${done}/${files.length}`)
      })
      cli = {
        files: files.length,
        startupMs: startup,
        timeoutMs,
        exitCodes,
        maxMs: Math.round(maxMs),
        maxMsOverStartup: Math.max(0, Math.round(maxMs - startup.median)),
        maxOutputBytes: maxOutput.bytes,
        largestOutput: maxOutput,
        timeoutsRetried: retried,
        slowest: slowestCli,
        wallSeconds: Math.round((performance.now() - cliStarted) / 100) / 10,
      }
    } finally {
      if (!options.keep) rmSync(dir, { recursive: true, force: true })
    }
  }

  const report: Report = {
    ok: failures.length === 0,
    command: `npx tsx scripts/drills/fuzz.ts --count ${count} --validate-sample ${sampleSize} --seed ${seed}`,
    seed,
    count: indices.length,
    wallSeconds: Math.round((performance.now() - started) / 100) / 10,
    decode: {
      files: indices.length,
      ...tally,
      maxMs: Math.round((slowest[0]?.ms ?? 0) * 10) / 10,
      p99Ms: Math.round(quantile(times, 0.99) * 10) / 10,
      p50Ms: Math.round(quantile(times, 0.5) * 100) / 100,
      slowest: slowest.map((x) => ({ ...x, ms: Math.round(x.ms * 10) / 10 })),
      totalBytes,
      maxBytes,
    },
    memory: {
      peakRssMb,
      peakHeapMb: mb(peakHeap),
      maxFileRssGrowthMb: mb(maxGrowth),
      retainedHeapMb: retained,
      limits: { rssMb: limitMb, growthMb, retainedMb },
    },
    kinds: [...kinds.values()],
    cli,
    failures,
  }
  if (options.json) writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`)
  return report
}

/**
 * The report as text: a table per kind of mutation, the totals, and the failures.
 *
 * @example
 * ```ts
 * import { fuzz, summary } from "./scripts/drills/fuzz.js"
 * console.log(summary(await fuzz({ count: 100, validateSample: 0 })))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const summary = (r: Report): string => {
  const rows = [
    ["kind", "files", "rejected", "accepted", "exceptions", "max ms", "max bytes", "failures"],
    ...r.kinds.map((k) => [
      k.kind,
      k.files,
      k.rejected,
      k.accepted,
      k.exceptions,
      k.maxMs.toFixed(1),
      k.maxBytes,
      k.failures,
    ]),
    [
      "total",
      r.decode.files,
      r.decode.rejected,
      r.decode.accepted,
      r.decode.exceptions,
      r.decode.maxMs.toFixed(1),
      r.decode.maxBytes,
      r.failures.length,
    ],
  ].map((row) => row.map(String))
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  const table = rows
    .map(
      (row, j) =>
        row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ") +
        (j === 0 ? `\n${widths.map((w) => "-".repeat(w)).join("  ")}` : ""),
    )
    .join("\n")
  const d = r.decode
  const lines = [
    table,
    "",
    `decoded ${d.files} files (${mb(d.totalBytes)} MiB) in-process: ${d.rejected} rejected, ${d.accepted} accepted, ` +
      `${d.exceptions} exceptions, ${d.overBudget} over the budget, ${d.withoutPath} rejections without a path, ` +
      `${d.prototypeChanged} with prototypes changed`,
    `time per file: max ${d.maxMs} ms, p99 ${d.p99Ms} ms, median ${d.p50Ms} ms; the slowest:`,
    ...d.slowest.slice(0, 5).map((x) => `  ${x.ms} ms  #${x.index} ${x.kind}: ${x.note.slice(0, 100)}`),
    `memory: peak RSS ${r.memory.peakRssMb} MiB (limit ${r.memory.limits.rssMb}), peak heap ${r.memory.peakHeapMb} MiB, ` +
      `largest growth in one decode ${r.memory.maxFileRssGrowthMb} MiB (limit ${r.memory.limits.growthMb}), ` +
      `heap retained after the run ${r.memory.retainedHeapMb ?? "?"} MiB (limit ${r.memory.limits.retainedMb})`,
  ]
  if (r.cli)
    lines.push(
      `retort validate on ${r.cli.files} files: exit codes ${JSON.stringify(r.cli.exitCodes)}, ` +
        `start-up ${r.cli.startupMs.median} ms (max ${r.cli.startupMs.max}), max ${r.cli.maxMs} ms per file ` +
        `(${r.cli.maxMsOverStartup} ms over start-up), timeout ${r.cli.timeoutMs} ms, largest output ${r.cli.maxOutputBytes} bytes (#${r.cli.largestOutput.index}, ${r.cli.largestOutput.kind}), ` +
        `${r.cli.timeoutsRetried.length} timeouts retried${r.cli.timeoutsRetried.length > 0 ? ` (#${r.cli.timeoutsRetried.join(", #")})` : ""}, ${r.cli.wallSeconds} s; the slowest:`,
      ...r.cli.slowest.map((x) => `  ${x.ms} ms  #${x.index} ${x.kind} (${x.bytes} bytes)`),
    )
  lines.push(`wall time ${r.wallSeconds} s; seed ${r.seed}`)
  if (r.failures.length > 0) {
    lines.push("", `${r.failures.length} FAILED CHECKS (first 30):`)
    for (const f of r.failures.slice(0, 30))
      lines.push(`  #${f.index} ${f.kind} (${f.format}) ${f.check}: ${f.detail}\n      ${f.note}`)
    lines.push(
      `reproduce one: npx tsx scripts/drills/fuzz.ts --seed ${r.seed} --only INDEX --keep /tmp/fuzz-file`,
    )
  } else lines.push("all checks passed")
  return lines.join("\n")
}

const cli = async () => {
  const { values } = parseArgs({
    options: {
      count: { type: "string" },
      "validate-sample": { type: "string" },
      seed: { type: "string" },
      json: { type: "string" },
      "budget-ms": { type: "string" },
      "kill-after-s": { type: "string" },
      "max-rss-mb": { type: "string" },
      "max-growth-mb": { type: "string" },
      jobs: { type: "string" },
      only: { type: "string" },
      keep: { type: "string" },
    },
  })
  const int = (name: keyof typeof values) => {
    const v = values[name]
    if (v === undefined) return undefined
    const n = Number(v)
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: not a non-negative integer: ${v}`)
    return n
  }
  const kill = int("kill-after-s")
  const report = await fuzz({
    ...(int("count") !== undefined ? { count: int("count")! } : {}),
    ...(int("validate-sample") !== undefined ? { validateSample: int("validate-sample")! } : {}),
    ...(int("seed") !== undefined ? { seed: int("seed")! } : {}),
    ...(int("budget-ms") !== undefined ? { budgetMs: int("budget-ms")! } : {}),
    ...(kill !== undefined ? { killAfterMs: kill * 1000 } : {}),
    ...(int("max-rss-mb") !== undefined ? { maxRssMb: int("max-rss-mb")! } : {}),
    ...(int("max-growth-mb") !== undefined ? { maxGrowthMb: int("max-growth-mb")! } : {}),
    ...(int("jobs") !== undefined ? { jobs: int("jobs")! } : {}),
    ...(int("only") !== undefined ? { only: int("only")! } : {}),
    ...(values.json !== undefined ? { json: values.json } : {}),
    ...(values.keep !== undefined ? { keep: values.keep } : {}),
  })
  console.log(summary(report))
  return report.ok ? 0 : 1
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href)
  cli().then(
    (code) => {
      process.exitCode = code
    },
    (e) => {
      console.error(`fuzz: ${e instanceof Error ? e.message : String(e)}`)
      process.exitCode = 2
    },
  )
