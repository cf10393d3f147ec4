/**
 * A throw-away PostgreSQL server for tests: `initdb` into a fresh temporary folder (trust
 * authentication, no fsync), `postgres` on a free port of 127.0.0.1, ready once it accepts
 * connections; `stop()` shuts it down and removes the folder. When the binaries are missing or the
 * server cannot start, `start()` says why instead, so a test file can skip with that message.
 *
 * The binaries are looked up in `RETORT_PG_BIN`, then `/usr/lib/postgresql/<newest>/bin` (Debian,
 * Ubuntu), then `pg_config --bindir`, then `PATH`. PostgreSQL refuses to run as root, so when the
 * tests run as root (as CI does) the server runs as the `postgres` user through `runuser` (or `su`),
 * and the temporary folder is handed to that user.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** A running server. */
export interface Postgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string
  readonly port: number
  /** The URL of another database on the same server (see {@link Postgres.createDatabase}). */
  readonly urlOf: (database: string) => string
  /** Creates a database and returns its URL. */
  readonly createDatabase: (name: string) => string
  /** Runs SQL through `psql` and returns its unaligned, tuples-only output. */
  readonly psql: (sql: string, database?: string) => string
  /** Fast shutdown (then SIGKILL after 5 s) and removal of the data folder. Safe to call twice. */
  readonly stop: () => Promise<void>
  /**
   * Sends a signal to the server and all its processes — `SIGSTOP` freezes the database (every
   * connection hangs), `SIGCONT` thaws it — for drills of a database that stalls.
   */
  readonly signal: (signal: NodeJS.Signals) => void
}

/** What {@link start} gives: a server, or why there is none. */
export type Started =
  | { readonly _tag: "Started"; readonly server: Postgres }
  | { readonly _tag: "Unavailable"; readonly reason: string }

const has = (file: string) => existsSync(file)

/** The folder holding `initdb` and `postgres`, or undefined. */
export const binDir = (): string | undefined => {
  const candidates: Array<string> = []
  if (process.env.RETORT_PG_BIN) candidates.push(process.env.RETORT_PG_BIN)
  const debian = "/usr/lib/postgresql"
  if (has(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
    for (const v of versions) candidates.push(join(debian, v, "bin"))
  }
  try {
    candidates.push(execFileSync("pg_config", ["--bindir"], { encoding: "utf8", stdio: "pipe" }).trim())
  } catch {
    // no pg_config
  }
  for (const dir of (process.env.PATH ?? "").split(":")) if (dir) candidates.push(dir)
  return candidates.find((d) => has(join(d, "initdb")) && has(join(d, "postgres")))
}

/** A port of 127.0.0.1 that nothing listens on right now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const uidOf = (user: string): { uid: number; gid: number } | undefined => {
  try {
    const uid = Number(execFileSync("id", ["-u", user], { encoding: "utf8", stdio: "pipe" }).trim())
    const gid = Number(execFileSync("id", ["-g", user], { encoding: "utf8", stdio: "pipe" }).trim())
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined
  } catch {
    return undefined
  }
}

/** How to run a binary as the server's user: directly, or through runuser/su when we are root. */
const runAs = (
  user: string | undefined,
): ((file: string, args: ReadonlyArray<string>) => [string, Array<string>]) => {
  if (user === undefined) return (file, args) => [file, [...args]]
  const runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].find(has)
  if (runuser) return (file, args) => [runuser, ["-u", user, "--", file, ...args]]
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
  return (file, args) => ["su", [user, "-s", "/bin/sh", "-c", [file, ...args].map(quote).join(" ")]]
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Starts a server. Never throws: a missing binary, a refused `initdb` or a server that does not
 * become ready within `timeoutMs` gives `Unavailable` with the reason (and cleans up).
 */
export const start = async (options?: { readonly timeoutMs?: number }): Promise<Started> => {
  const bin = binDir()
  if (!bin) return { _tag: "Unavailable", reason: "PostgreSQL binaries (initdb, postgres) not found" }
  const root = process.getuid?.() === 0
  const owner = root ? uidOf("postgres") : undefined
  if (root && !owner)
    return { _tag: "Unavailable", reason: "running as root and there is no 'postgres' user" }
  const as = runAs(root ? "postgres" : undefined)
  let dir: string
  try {
    dir = mkdtempSync(join(tmpdir(), "retort-pg-"))
  } catch (e) {
    return { _tag: "Unavailable", reason: `cannot create a temporary folder: ${(e as Error).message}` }
  }
  const data = join(dir, "data")
  let child: ChildProcess | undefined
  const cleanup = () => rmSync(dir, { recursive: true, force: true })
  try {
    if (owner) {
      chownSync(dir, owner.uid, owner.gid)
      chmodSync(dir, 0o700)
    }
    const [initdb, initArgs] = as(join(bin, "initdb"), [
      "-D",
      data,
      "-U",
      "postgres",
      "-A",
      "trust",
      "-E",
      "UTF8",
      "--no-locale",
      "--no-sync",
    ])
    try {
      execFileSync(initdb, initArgs, { stdio: "pipe", timeout: 60_000 })
    } catch (e) {
      cleanup()
      const err = e as { stderr?: Buffer; message: string }
      return { _tag: "Unavailable", reason: `initdb failed: ${err.stderr?.toString().trim() || err.message}` }
    }
    const timeoutMs = options?.timeoutMs ?? 30_000
    let lastError = ""
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort()
      const [postgres, args] = as(join(bin, "postgres"), [
        "-D",
        data,
        "-p",
        String(port),
        "-k",
        dir,
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "max_connections=200",
        "-c",
        "shared_buffers=32MB",
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
      ])
      let log = ""
      child = spawn(postgres, args, { stdio: ["ignore", "pipe", "pipe"] })
      child.stdout?.on("data", (d: Buffer) => {
        log += d.toString()
      })
      child.stderr?.on("data", (d: Buffer) => {
        log += d.toString()
      })
      const exited = new Promise<void>((resolve) => child?.once("exit", () => resolve()))
      let done = false
      void exited.then(() => {
        done = true
      })
      const deadline = Date.now() + timeoutMs
      while (!done && Date.now() < deadline && !/ready to accept connections/.test(log)) await sleep(50)
      if (!done && /ready to accept connections/.test(log)) {
        const server = makeServer(bin, dir, data, port, child, exited)
        return { _tag: "Started", server }
      }
      lastError = log.trim().split("\n").slice(-3).join(" | ") || "no output"
      if (!done) {
        child.kill("SIGKILL")
        killPostmaster(data)
        await exited
      }
      if (!/could not bind|Address already in use/i.test(log)) break
    }
    cleanup()
    return { _tag: "Unavailable", reason: `postgres did not start: ${lastError}` }
  } catch (e) {
    child?.kill("SIGKILL")
    killPostmaster(data)
    cleanup()
    return { _tag: "Unavailable", reason: `postgres did not start: ${(e as Error).message}` }
  }
}

/** The postmaster's pid from its pid file (the child may be runuser, not postgres itself). */
const postmasterPid = (data: string): number | undefined => {
  try {
    const pid = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0])
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

const killPostmaster = (data: string, signal: NodeJS.Signals = "SIGKILL") => {
  const pid = postmasterPid(data)
  if (pid !== undefined && alive(pid)) {
    try {
      process.kill(pid, signal)
    } catch {
      // already gone
    }
  }
}

const makeServer = (
  bin: string,
  dir: string,
  data: string,
  port: number,
  child: ChildProcess,
  exited: Promise<void>,
): Postgres => {
  const urlOf = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`
  const pid = postmasterPid(data)
  let stopped = false
  // a test runner that dies without calling stop() must not leave the server behind
  const onExit = () => {
    if (!stopped) {
      killPostmaster(data)
      rmSync(dir, { recursive: true, force: true })
    }
  }
  process.once("exit", onExit)
  const psql = (sql: string, database = "postgres") => {
    const args = [
      "-X",
      "-q",
      "-A",
      "-t",
      "-v",
      "ON_ERROR_STOP=1",
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-U",
      "postgres",
      "-d",
      database,
      "-c",
      sql,
    ]
    return execFileSync(join(bin, "psql"), args, { encoding: "utf8", stdio: "pipe", timeout: 30_000 }).trim()
  }
  const server: Postgres = {
    url: urlOf("postgres"),
    port,
    urlOf,
    psql,
    createDatabase: (name) => {
      psql(`CREATE DATABASE "${name.replace(/"/g, '""')}"`)
      return urlOf(name)
    },
    signal: (signal) => {
      if (pid === undefined) return
      let children: Array<number> = []
      try {
        children = execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8", stdio: "pipe" })
          .trim()
          .split("\n")
          .filter((l) => l !== "")
          .map(Number)
      } catch {
        // pgrep finds none (or is missing)
      }
      for (const p of [pid, ...children]) {
        try {
          process.kill(p, signal)
        } catch {
          // gone
        }
      }
    },
    stop: async () => {
      if (stopped) return
      stopped = true
      process.removeListener("exit", onExit)
      if (pid !== undefined && alive(pid)) {
        server.signal("SIGCONT") // a frozen server could not shut down
        try {
          process.kill(pid, "SIGINT") // fast shutdown
        } catch {
          // gone
        }
        const deadline = Date.now() + 5_000
        while (alive(pid) && Date.now() < deadline) await sleep(50)
        if (alive(pid)) process.kill(pid, "SIGKILL")
      }
      child.kill("SIGKILL")
      await Promise.race([exited, sleep(2_000)])
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return server
}
