/**
 * One run per run directory: a run takes `<dir>/run.lock` (created exclusively, holding its
 * process id, host and start time) before it writes anything there, and removes it when it ends.
 * A second run on the same directory while the first is alive fails at once with a message that
 * names the holder; a lock left by a process that no longer exists (killed with `kill -9`, or a
 * crashed machine) is taken over, with a note. Checkpoints of two runs can therefore never
 * interleave.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as RunLock from "./src/runtime/RunLock.js"
 * const program = Effect.scoped(Effect.gen(function* () {
 *   const taken = yield* RunLock.acquire("runs/kd")
 *   // … write checkpoints …
 *   return taken.stale
 * }))
 * ```
 *
 * @since 0.1.0
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { Effect, type Scope } from "effect"
import { IoError } from "../errors.js"

/**
 * What a lock file holds.
 *
 * @example
 * ```ts
 * import * as RunLock from "./src/runtime/RunLock.js"
 * const h: RunLock.Holder = { pid: 4242, host: "box", started: "2026-12-03T12:00:00.000Z" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Holder {
  readonly pid: number
  readonly host: string
  readonly started: string
}

/**
 * The lock file of a run directory.
 *
 * @example
 * ```ts
 * import * as RunLock from "./src/runtime/RunLock.js"
 * RunLock.file("runs/kd") // "runs/kd/run.lock"
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const file = (dir: string): string => join(dir, "run.lock")

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: it exists but belongs to someone else
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

const read = (path: string): Holder | undefined => {
  try {
    const h = JSON.parse(readFileSync(path, "utf8")) as Holder
    return typeof h.pid === "number" && typeof h.host === "string" ? h : undefined
  } catch {
    return undefined
  }
}

const create = (path: string, holder: Holder): boolean => {
  try {
    const fd = openSync(path, "wx")
    try {
      writeSync(fd, `${JSON.stringify(holder)}\n`)
    } finally {
      closeSync(fd)
    }
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false
    throw e
  }
}

/**
 * Takes the lock of `dir` for the current scope (released when it closes). Fails with an
 * `IoError` when a live process on this host holds it (or one on another host — a shared
 * file system — which cannot be checked: remove the file by hand if that run is gone). `stale`
 * describes a dead holder whose lock was taken over.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as RunLock from "./src/runtime/RunLock.js"
 * const r = Effect.scoped(RunLock.acquire("runs/kd"))
 * ```
 *
 * @since 0.1.0
 * @category locking
 */
export const acquire = (
  dir: string,
): Effect.Effect<{ readonly stale: Holder | undefined }, IoError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const path = file(dir)
        const me: Holder = { pid: process.pid, host: hostname(), started: new Date().toISOString() }
        let stale: Holder | undefined
        for (let attempt = 0; attempt < 3; attempt++) {
          if (create(path, me)) return { stale }
          const holder = read(path)
          if (holder !== undefined && (holder.host !== me.host || alive(holder.pid)))
            throw new IoError({
              path,
              message:
                `the run directory ${dir} is in use by process ${holder.pid} on ${holder.host} (started ${holder.started}); ` +
                "wait for it to finish, or give this run another --name or --out" +
                (holder.host !== me.host ? ` (if that run is gone, delete ${path})` : ""),
            })
          // a dead holder, or a torn file: take it over
          stale = holder
          rmSync(path, { force: true })
        }
        throw new IoError({ path, message: `could not take the lock ${path}: another run keeps taking it` })
      },
      catch: (cause) =>
        cause instanceof IoError
          ? cause
          : new IoError({ path: file(dir), message: `could not take the lock: ${String(cause)}`, cause }),
    }),
    () =>
      Effect.sync(() => {
        const path = file(dir)
        if (read(path)?.pid === process.pid) rmSync(path, { force: true })
      }),
  )
