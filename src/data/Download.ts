/**
 * Downloading a file safely: streamed over `http:`/`https:` (redirects followed), hashed while it
 * arrives, verified against the expected size and checksums, and written atomically — into a
 * temporary file in the destination's directory, renamed into place only after verification.
 * On any failure or interruption the temporary file is removed, so nothing half-written is ever
 * left behind. Progress is reported as events; {@link consoleReporter} draws a bar on a TTY and
 * prints plain lines otherwise.
 *
 * @example
 * ```ts
 * import { Download } from "retort"
 * const get = Download.file("http://127.0.0.1:8080/labels.gz", "/tmp/labels.gz", {
 *   expected: { sha256: "…" },
 * })
 * ```
 *
 * @since 0.1.0
 */
import { createHash, randomBytes } from "node:crypto"
import { createWriteStream } from "node:fs"
import { mkdir, rename, rm } from "node:fs/promises"
import * as http from "node:http"
import * as https from "node:https"
import { basename, dirname, join } from "node:path"
import { Effect } from "effect"
import { DataError } from "../errors.js"

/**
 * What the downloaded bytes must match. Hex digests, lower or upper case.
 *
 * @since 0.1.0
 * @category models
 */
export interface Expected {
  readonly size?: number
  readonly sha256?: string
  readonly md5?: string
}

/**
 * Progress of a download, for a reporter.
 *
 * @since 0.1.0
 * @category models
 */
export type Event =
  | {
      readonly _tag: "Start"
      readonly url: string
      readonly file: string
      readonly total: number | undefined
    }
  | {
      readonly _tag: "Progress"
      readonly url: string
      readonly file: string
      readonly received: number
      readonly total: number | undefined
    }
  | { readonly _tag: "Done"; readonly url: string; readonly file: string; readonly bytes: number }

/**
 * Download options. `timeoutMs` (default 30 s) bounds connecting and every silence while
 * receiving; `maxRedirects` defaults to 5.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly expected?: Expected
  readonly report?: (event: Event) => void
  readonly timeoutMs?: number
  readonly maxRedirects?: number
}

const describe = (cause: unknown): string => {
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code
    return code && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message
  }
  return String(cause)
}

class HttpStatus extends Error {
  constructor(
    readonly status: number,
    readonly url: string,
  ) {
    super(`HTTP ${status} for ${url}`)
  }
}

class Mismatch extends Error {}

const request = (url: string, signal: AbortSignal, timeoutMs: number): Promise<http.IncomingMessage> =>
  new Promise((resolve, reject) => {
    const parsed = new URL(url)
    const client = parsed.protocol === "https:" ? https : parsed.protocol === "http:" ? http : undefined
    if (!client) {
      reject(new Error(`unsupported protocol ${parsed.protocol} in ${url}`))
      return
    }
    const req = client.get(parsed, { signal, timeout: timeoutMs }, resolve)
    req.on("timeout", () => req.destroy(new Error(`no answer from ${parsed.host} within ${timeoutMs} ms`)))
    req.on("error", reject)
  })

const open = async (
  url: string,
  signal: AbortSignal,
  timeoutMs: number,
  redirects: number,
): Promise<{ response: http.IncomingMessage; url: string }> => {
  const response = await request(url, signal, timeoutMs)
  const status = response.statusCode ?? 0
  if (status >= 300 && status < 400 && response.headers.location) {
    response.resume()
    if (redirects <= 0) throw new Error(`too many redirects fetching ${url}`)
    return open(new URL(response.headers.location, url).toString(), signal, timeoutMs, redirects - 1)
  }
  if (status !== 200) {
    response.resume()
    throw new HttpStatus(status, url)
  }
  return { response, url }
}

const run = async (url: string, dest: string, options: Options, signal: AbortSignal): Promise<void> => {
  const timeoutMs = options.timeoutMs ?? 30_000
  const report = options.report ?? (() => {})
  const file = basename(dest)
  const dir = dirname(dest)
  await mkdir(dir, { recursive: true })
  const temp = join(dir, `.${file}.${process.pid}.${randomBytes(6).toString("hex")}.part`)
  const sink = createWriteStream(temp, { flags: "wx" })
  const sinkClosed = new Promise<void>((resolve) => sink.once("close", () => resolve()))
  let renamed = false
  try {
    await new Promise<void>((resolve, reject) => {
      sink.once("open", () => resolve())
      sink.once("error", reject)
    })
    const { response } = await open(url, signal, timeoutMs, options.maxRedirects ?? 5)
    const header = Number(response.headers["content-length"])
    const total = Number.isFinite(header) && header > 0 ? header : options.expected?.size
    report({ _tag: "Start", url, file, total })
    const sha256 = createHash("sha256")
    const md5 = createHash("md5")
    let received = 0
    let stalled: Error | undefined
    response.setTimeout(timeoutMs, () => {
      stalled = new Error(`the transfer stalled for ${timeoutMs} ms after ${received} bytes`)
      response.destroy(stalled)
    })
    await new Promise<void>((resolve, reject) => {
      let ended = false
      response.on("data", (chunk: Buffer) => {
        received += chunk.length
        sha256.update(chunk)
        md5.update(chunk)
        if (!sink.write(chunk)) {
          response.pause()
          sink.once("drain", () => response.resume())
        }
        report({ _tag: "Progress", url, file, received, total })
      })
      response.once("end", () => {
        ended = true
        if (!response.complete) reject(new Error(`the connection closed after ${received} bytes`))
        else sink.end(() => resolve())
      })
      response.once("error", (error) => reject(stalled ?? error))
      response.once("close", () => {
        if (!ended) reject(stalled ?? new Error(`the connection closed after ${received} bytes`))
      })
      sink.once("error", reject)
    })
    await sinkClosed
    const expected = options.expected ?? {}
    if (expected.size !== undefined && received !== expected.size) {
      throw new Mismatch(`size mismatch for ${file}: expected ${expected.size} bytes, received ${received}`)
    }
    const gotSha = sha256.digest("hex")
    if (expected.sha256 !== undefined && gotSha !== expected.sha256.toLowerCase()) {
      throw new Mismatch(
        `SHA-256 mismatch for ${file}: expected ${expected.sha256.toLowerCase()}, got ${gotSha}`,
      )
    }
    const gotMd5 = md5.digest("hex")
    if (expected.md5 !== undefined && gotMd5 !== expected.md5.toLowerCase()) {
      throw new Mismatch(`MD5 mismatch for ${file}: expected ${expected.md5.toLowerCase()}, got ${gotMd5}`)
    }
    await rename(temp, dest)
    renamed = true
    report({ _tag: "Done", url, file, bytes: received })
  } finally {
    if (!renamed) {
      sink.destroy()
      await sinkClosed
      await rm(temp, { force: true })
    }
  }
}

/**
 * Downloads `url` to `dest` (creating its directory), verifying `options.expected`. Fails with a
 * `DataError`: on an HTTP status other than 200 (after redirects), a network error or timeout,
 * or a size/checksum mismatch. `dest` only appears when the bytes verified; interrupting the
 * effect aborts the transfer and removes the temporary file before it completes.
 *
 * @example
 * ```ts
 * import { Download } from "retort"
 * import { Effect } from "effect"
 * const program = Download.file("https://example.org/data.gz", "/tmp/data.gz", {
 *   expected: { md5: "bb300cfdad3c16e7a12a480ee83cd310" },
 *   report: Download.consoleReporter(),
 * })
 * ```
 *
 * @since 0.1.0
 * @category downloading
 */
export const file = (url: string, dest: string, options: Options = {}): Effect.Effect<void, DataError> =>
  Effect.callback<void, DataError>((resume, signal) => {
    const done = run(url, dest, options, signal).then(
      () => resume(Effect.void),
      (cause: unknown) =>
        resume(
          Effect.fail(
            new DataError({
              message:
                cause instanceof Mismatch
                  ? `${cause.message} (downloaded from ${url}); the file was discarded`
                  : cause instanceof HttpStatus
                    ? `download failed: the server answered HTTP ${cause.status} for ${cause.url}`
                    : `download of ${url} failed: ${describe(cause)}`,
              ...(cause instanceof Mismatch
                ? { hint: "the download was corrupted or the server sent a different file; try again" }
                : {}),
              cause,
            }),
          ),
        ),
    )
    return Effect.promise(() => done)
  })

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`

/**
 * A reporter writing to a stream (default `process.stderr`): on a TTY, one redrawn progress bar
 * per file; otherwise one line when a file starts and one when it is done.
 *
 * @example
 * ```ts
 * import { Download } from "retort"
 * const report = Download.consoleReporter(process.stdout)
 * ```
 *
 * @since 0.1.0
 * @category reporting
 */
export const consoleReporter = (
  stream: { write(text: string): unknown; readonly isTTY?: boolean } = process.stderr,
): ((event: Event) => void) => {
  let lastDraw = 0
  return (event) => {
    switch (event._tag) {
      case "Start":
        stream.write(
          stream.isTTY
            ? ""
            : `downloading ${event.file}${event.total ? ` (${mb(event.total)})` : ""} from ${event.url}\n`,
        )
        return
      case "Progress": {
        if (!stream.isTTY) return
        const now = Date.now()
        if (now - lastDraw < 100 && event.received !== event.total) return
        lastDraw = now
        const width = 30
        if (event.total) {
          const fraction = Math.min(1, event.received / event.total)
          const filled = Math.round(fraction * width)
          stream.write(
            `\r${event.file} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${mb(event.received)}/${mb(event.total)}`,
          )
        } else {
          stream.write(`\r${event.file} ${mb(event.received)}`)
        }
        return
      }
      case "Done":
        stream.write(
          stream.isTTY
            ? `\r\x1b[2K${event.file} ${mb(event.bytes)} done\n`
            : `  done: ${event.file} (${mb(event.bytes)})\n`,
        )
        return
    }
  }
}
