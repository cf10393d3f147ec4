import { createHash } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gunzipSync, gzipSync } from "node:zlib"
import { Effect, Fiber } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Download from "../../../src/data/Download.js"
import * as FashionMnist from "../../../src/data/FashionMnist.js"
import * as Idx from "../../../src/data/Idx.js"
import { DataError } from "../../../src/errors.js"

const TRAIN = 20
const TEST = 10
const counts = { train: TRAIN, test: TEST }
const root = mkdtempSync(join(tmpdir(), "retort-fashion-"))
let dirCounter = 0
const freshDir = (label: string) => {
  const d = join(root, `${label}-${dirCounter++}`)
  mkdirSync(d, { recursive: true })
  return d
}

/** Deterministic small IDX files in the Fashion-MNIST layout (gzipped). */
const images = (n: number, offset: number) => {
  const data = new Uint8Array(n * 784)
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + offset) % 256
  return gzipSync(Idx.encode({ type: "uint8", dims: [n, 28, 28], data }))
}
const labels = (n: number) =>
  gzipSync(Idx.encode({ type: "uint8", dims: [n], data: Uint8Array.from({ length: n }, (_, i) => i % 10) }))
const payload: Record<FashionMnist.Part, Buffer> = {
  trainImages: images(TRAIN, 1),
  trainLabels: labels(TRAIN),
  testImages: images(TEST, 2),
  testLabels: labels(TEST),
}
const table = Object.fromEntries(
  Object.entries(payload).map(([part, bytes]) => [
    part,
    {
      size: bytes.length,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      md5: createHash("md5").update(bytes).digest("hex"),
    },
  ]),
) as Record<FashionMnist.Part, Download.Expected>

const writeSet = (dir: string, gz: boolean, only?: ReadonlyArray<FashionMnist.Part>) => {
  for (const part of only ?? (Object.keys(payload) as Array<FashionMnist.Part>)) {
    const bytes = payload[part]
    const name = FashionMnist.files[part]
    writeFileSync(join(dir, gz ? `${name}.gz` : name), gz ? bytes : gunzipSync(bytes))
  }
}

// --- a local HTTP server ---------------------------------------------------------------------
type Mode = "ok" | "corrupt" | "404" | "stall"
let mode: Mode = "ok"
const hits: Array<string> = []
const server = http.createServer((req, res) => {
  hits.push(req.url ?? "")
  const name = (req.url ?? "").split("/").pop() ?? ""
  const part = (Object.keys(FashionMnist.files) as Array<FashionMnist.Part>).find(
    (p) => `${FashionMnist.files[p]}.gz` === name,
  )
  if (req.url === "/moved/" + name) {
    res.writeHead(302, { location: `/data/${name}` })
    res.end()
    return
  }
  if (!part || mode === "404") {
    res.writeHead(404)
    res.end("not here")
    return
  }
  const bytes = payload[part]
  if (mode === "stall") {
    res.writeHead(200, { "content-length": bytes.length })
    res.write(bytes.subarray(0, 10))
    return // never ends
  }
  const body = mode === "corrupt" ? Buffer.from(bytes).fill(7, 50, 60) : bytes
  res.writeHead(200, { "content-length": body.length })
  res.end(body)
})
let base = ""
let closedBase = ""

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/data/`
  // a port with nobody listening: bind, read the port, close
  const probe = http.createServer()
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve))
  closedBase = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/`
  await new Promise<void>((resolve) => probe.close(() => resolve()))
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  rmSync(root, { recursive: true, force: true })
})

const quiet = { report: () => {}, systemDirs: [] as Array<string>, expectedCounts: counts }
const failure = (effect: Effect.Effect<unknown, DataError>) => Effect.runPromise(Effect.flip(effect))

describe("FashionMnist: locating local files", () => {
  it("searches dataDir, RETORT_DATA, the user cache and system dirs in order", () => {
    const dirs = FashionMnist.searchDirs({
      dataDir: "/a",
      env: { RETORT_DATA: "/b", XDG_CACHE_HOME: "/c" },
      systemDirs: ["/d"],
    })
    expect(dirs).toEqual([
      "/a",
      "/a/fashion-mnist",
      "/b",
      "/b/fashion-mnist",
      "/c/retort",
      "/c/retort/fashion-mnist",
      "/d",
      "/d/fashion-mnist",
    ])
    expect(FashionMnist.cacheRoot({ HOME: "/home/u" })).toBe("/home/u/.cache/retort")
    expect(FashionMnist.searchDirs({ env: {} })).toContain(FashionMnist.systemDir)
  })

  it("finds gzipped files in $RETORT_DATA/fashion-mnist and loads them", async () => {
    const data = freshDir("env")
    const sub = join(data, "fashion-mnist")
    mkdirSync(sub)
    writeSet(sub, true)
    const cache = freshDir("cache")
    const ds = await Effect.runPromise(
      FashionMnist.load({ ...quiet, env: { RETORT_DATA: data }, cacheDir: cache, download: false }),
    )
    expect(ds.name).toBe("fashion-mnist")
    expect(ds.shape).toEqual([28, 28, 1])
    expect(ds.classes).toBe(10)
    expect(ds.classNames?.[9]).toBe("Ankle boot")
    expect(ds.train.n).toBe(TRAIN)
    expect(ds.test.n).toBe(TEST)
    expect(ds.train.x.length).toBe(TRAIN * 784)
    expect(ds.train.x[0]).toBe(Math.fround(1 / 255))
    expect(Array.from(ds.test.y)).toEqual(Array.from({ length: TEST }, (_, i) => i % 10))
  })

  it("accepts uncompressed files, and dataDir wins over RETORT_DATA", async () => {
    const explicit = freshDir("explicit")
    writeSet(explicit, false)
    const where = await Effect.runPromise(
      FashionMnist.locate({ ...quiet, dataDir: explicit, env: { RETORT_DATA: "/nonexistent" } }),
    )
    expect(where.found?.dir).toBe(explicit)
    expect(where.found?.trainImages).toBe(join(explicit, "train-images-idx3-ubyte"))
    const ds = await Effect.runPromise(FashionMnist.read(where.found!, counts))
    expect(ds.train.n).toBe(TRAIN)
  })

  it("offline with nothing found: a DataError with a hint (incomplete sets are named)", async () => {
    const partial = freshDir("partial")
    writeSet(partial, true, ["trainImages"])
    const e = await failure(
      FashionMnist.load({
        ...quiet,
        dataDir: partial,
        env: {},
        cacheDir: freshDir("cache"),
        download: false,
      }),
    )
    expect(e).toBeInstanceOf(DataError)
    expect(e.message).toMatch(/not found/)
    expect(e.message).toMatch(/incomplete sets in .*partial/)
    expect(e.hint).toMatch(/apt-get install dataset-fashion-mnist/)
    expect(e.hint).toMatch(/RETORT_DATA/)
    expect(e.hint).toMatch(/fashion-mnist\.s3-website/)
  })

  it("rejects files that are not Fashion-MNIST-shaped", async () => {
    const dir = freshDir("wrong")
    writeSet(dir, true)
    const e = await failure(
      FashionMnist.load({ ...quiet, dataDir: dir, expectedCounts: { train: 21, test: 10 } }),
    )
    expect(e.message).toMatch(/expects 21 images/)
    expect(e.hint).toMatch(/not Fashion-MNIST or are damaged/)
  })
})

describe("FashionMnist: downloading", () => {
  const env = {}
  it("downloads, verifies and caches the four files atomically, then loads them", async () => {
    mode = "ok"
    hits.length = 0
    const cache = freshDir("dl")
    const events: Array<Download.Event["_tag"]> = []
    const ds = await Effect.runPromise(
      FashionMnist.load({
        ...quiet,
        env,
        cacheDir: cache,
        baseUrl: base,
        checksums: table,
        report: (e) => events.push(e._tag),
      }),
    )
    expect(ds.train.n).toBe(TRAIN)
    expect(readdirSync(join(cache, "fashion-mnist")).sort()).toEqual([
      "t10k-images-idx3-ubyte.gz",
      "t10k-labels-idx1-ubyte.gz",
      "train-images-idx3-ubyte.gz",
      "train-labels-idx1-ubyte.gz",
    ])
    expect(events.filter((t) => t === "Start")).toHaveLength(4)
    expect(events.filter((t) => t === "Done")).toHaveLength(4)
    expect(hits).toHaveLength(4)
    // a second load finds the cache and does not download
    await Effect.runPromise(
      FashionMnist.load({ ...quiet, env, cacheDir: cache, baseUrl: base, checksums: table }),
    )
    expect(hits).toHaveLength(4)
  })

  it("a corrupted file fails the checksum and leaves nothing in the cache", async () => {
    mode = "corrupt"
    const cache = freshDir("corrupt")
    const e = await failure(
      FashionMnist.load({ ...quiet, env, cacheDir: cache, baseUrl: base, checksums: table }),
    )
    expect(e.message).toMatch(/SHA-256 mismatch for train-images-idx3-ubyte\.gz/)
    expect(e.message).toMatch(/discarded/)
    expect(e.hint).toMatch(/try again/)
    const dir = join(cache, "fashion-mnist")
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([])
  })

  it("MD5 and size are checked too", async () => {
    mode = "ok"
    const cache = freshDir("md5")
    const badMd5 = { ...table, trainImages: { md5: "0".repeat(32) } }
    const e = await failure(
      FashionMnist.download({ ...quiet, env, cacheDir: cache, baseUrl: base, checksums: badMd5 }),
    )
    expect(e.message).toMatch(/MD5 mismatch/)
    const badSize = { ...table, trainImages: { size: 5 } }
    const e2 = await failure(
      FashionMnist.download({ ...quiet, env, cacheDir: cache, baseUrl: base, checksums: badSize }),
    )
    expect(e2.message).toMatch(/size mismatch/)
    expect(readdirSync(join(cache, "fashion-mnist"))).toEqual([])
  })

  it("a 404 is a clear error", async () => {
    mode = "404"
    const cache = freshDir("404")
    const e = await failure(
      FashionMnist.load({ ...quiet, env, cacheDir: cache, baseUrl: base, checksums: table }),
    )
    expect(e.message).toMatch(/HTTP 404 for http:\/\/127\.0\.0\.1:\d+\/data\/train-images-idx3-ubyte\.gz/)
    expect(e.hint).toMatch(/dataset-fashion-mnist/)
    expect(readdirSync(join(cache, "fashion-mnist"))).toEqual([])
  })

  it("offline (connection refused): the error carries the hint", async () => {
    const e = await failure(
      FashionMnist.load({
        ...quiet,
        env,
        cacheDir: freshDir("offline"),
        baseUrl: closedBase,
        checksums: table,
      }),
    )
    expect(e.message).toMatch(/ECONNREFUSED/)
    expect(e.hint).toMatch(/apt-get install dataset-fashion-mnist/)
    expect(e.hint).toMatch(/RETORT_DATA/)
  })

  it("follows redirects", async () => {
    mode = "ok"
    const cache = freshDir("redirect")
    await Effect.runPromise(
      Download.file(`${base.replace("/data/", "/moved/")}t10k-labels-idx1-ubyte.gz`, join(cache, "l.gz"), {
        expected: table.testLabels,
      }),
    )
    expect(readdirSync(cache)).toEqual(["l.gz"])
  })

  it("a stalled transfer times out, and an interrupted one leaves no temporary file", async () => {
    mode = "stall"
    const cache = freshDir("stall")
    const e = await failure(
      Download.file(`${base}t10k-labels-idx1-ubyte.gz`, join(cache, "x.gz"), { timeoutMs: 200 }),
    )
    expect(e.message).toMatch(/stalled for 200 ms after 10 bytes/)
    expect(readdirSync(cache)).toEqual([])
    const fiber = Effect.runFork(Download.file(`${base}t10k-labels-idx1-ubyte.gz`, join(cache, "y.gz")))
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(readdirSync(cache).some((f) => f.endsWith(".part"))).toBe(true)
    await Effect.runPromise(Fiber.interrupt(fiber))
    expect(readdirSync(cache)).toEqual([])
    mode = "ok"
  })

  it("the console reporter draws a bar on a TTY and plain lines otherwise", () => {
    const out: Array<string> = []
    const plain = Download.consoleReporter({ write: (s: string) => out.push(s), isTTY: false })
    plain({ _tag: "Start", url: "u", file: "f.gz", total: 2_000_000 })
    plain({ _tag: "Progress", url: "u", file: "f.gz", received: 1_000_000, total: 2_000_000 })
    plain({ _tag: "Done", url: "u", file: "f.gz", bytes: 2_000_000 })
    expect(out.join("")).toBe("downloading f.gz (2.0 MB) from u\n  done: f.gz (2.0 MB)\n")
    const tty: Array<string> = []
    const bar = Download.consoleReporter({ write: (s: string) => tty.push(s), isTTY: true })
    bar({ _tag: "Progress", url: "u", file: "f.gz", received: 1_000_000, total: 2_000_000 })
    expect(tty.join("")).toMatch(/\rf\.gz \[#{15}\.{15}\] {2}50% 1\.0 MB\/2\.0 MB/)
  })
})

const system = join(FashionMnist.systemDir, "train-images-idx3-ubyte.gz")
describe.skipIf(!existsSync(system))("FashionMnist from Debian's dataset-fashion-mnist", () => {
  it("loads 60,000 + 10,000 images with 6,000 + 1,000 per class", async () => {
    const ds = await Effect.runPromise(
      FashionMnist.load({ env: {}, cacheDir: "/nonexistent-retort-cache", download: false }),
    )
    expect(ds.train.n).toBe(60000)
    expect(ds.test.n).toBe(10000)
    expect(ds.train.x.length).toBe(60000 * 784)
    const perClass = new Int32Array(10)
    for (const label of ds.train.y) perClass[label]!++
    expect(Array.from(perClass)).toEqual(new Array(10).fill(6000))
  })
})
