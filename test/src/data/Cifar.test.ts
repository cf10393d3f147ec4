import { createHash } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gunzipSync, gzipSync } from "node:zlib"
import { Effect } from "effect"
import { create as tarCreate } from "tar"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Cifar from "../../../src/data/Cifar.js"
import type * as Download from "../../../src/data/Download.js"
import type { DataError } from "../../../src/errors.js"

const root = mkdtempSync(join(tmpdir(), "retort-cifar-"))
let dirCounter = 0
const freshDir = (label: string) => {
  const d = join(root, `${label}-${dirCounter++}`)
  mkdirSync(d, { recursive: true })
  return d
}

// --- small files in the exact binary format ----------------------------------------------------
/** A seeded LCG (Numerical Recipes constants), so the fixtures are the same on every run. */
const lcg = (seed: number) => {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s >>> 24
  }
}

const BATCH = 4 // records per CIFAR-10 training batch
const C10 = { train: 5 * BATCH, test: 6 }
const C100 = { train: 7, test: 3 }
const cifar10Names = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
]
const fineNames = Array.from({ length: 100 }, (_, i) => `fine_${i}`)
const coarseNames = Array.from({ length: 20 }, (_, i) => `coarse_${i}`)

/** `n` records: label bytes from `labels(i)`, then 3072 seeded pixel bytes. */
const records = (n: number, labels: (i: number) => ReadonlyArray<number>, seed: number) => {
  const next = lcg(seed)
  const head = labels(0).length
  const out = Buffer.alloc(n * (head + 3072))
  for (let i = 0; i < n; i++) {
    const at = i * (head + 3072)
    labels(i).forEach((l, k) => {
      out[at + k] = l
    })
    for (let p = 0; p < 3072; p++) out[at + head + p] = next()
  }
  return out
}

/**
 * A hand-made first record: label 7; pixel (row h, column w) has R = h + w, G = 100 + h,
 * B = 200 + w — written plane by plane as the format stores it.
 */
const handMade = () => {
  const r = Buffer.alloc(3073)
  r[0] = 7
  for (let h = 0; h < 32; h++) {
    for (let w = 0; w < 32; w++) {
      r[1 + h * 32 + w] = h + w
      r[1 + 1024 + h * 32 + w] = 100 + h
      r[1 + 2048 + h * 32 + w] = 200 + w
    }
  }
  return r
}

const c10Label = (i: number) => [(i * 3) % 10]
const c10Files: Record<string, Buffer> = {
  "data_batch_1.bin": Buffer.concat([handMade(), records(BATCH - 1, (i) => c10Label(i + 1), 1)]),
  "data_batch_2.bin": records(BATCH, (i) => c10Label(i + BATCH), 2),
  "data_batch_3.bin": records(BATCH, (i) => c10Label(i + 2 * BATCH), 3),
  "data_batch_4.bin": records(BATCH, (i) => c10Label(i + 3 * BATCH), 4),
  "data_batch_5.bin": records(BATCH, (i) => c10Label(i + 4 * BATCH), 5),
  "test_batch.bin": records(C10.test, (i) => [9 - i], 6),
  "batches.meta.txt": Buffer.from(`${cifar10Names.join("\n")}\n\n`),
}
const c100Files: Record<string, Buffer> = {
  "train.bin": records(C100.train, (i) => [(i * 7) % 20, (i * 13 + 50) % 100], 7),
  "test.bin": records(C100.test, (i) => [19 - i, 99 - i], 8),
  "fine_label_names.txt": Buffer.from(`${fineNames.join("\n")}\n`),
  "coarse_label_names.txt": Buffer.from(`${coarseNames.join("\r\n")}\r\n`),
}

/** Writes the extracted folder `<dir>/<folder>/…` and returns its path. */
const writeFolder = (
  variant: Cifar.Variant,
  dir: string,
  contents = variant === "cifar10" ? c10Files : c100Files,
) => {
  const folder = join(dir, Cifar.folders[variant])
  mkdirSync(folder, { recursive: true })
  for (const [name, bytes] of Object.entries(contents)) writeFileSync(join(folder, name), bytes)
  return folder
}

/** A real `.tar.gz` (node-tar) of the extracted folder, as the official archive is laid out. */
const pack = (variant: Cifar.Variant, contents?: Record<string, Buffer>): Buffer => {
  const staging = freshDir(`pack-${variant}`)
  writeFolder(variant, staging, contents)
  const file = join(staging, Cifar.archives[variant])
  tarCreate({ gzip: true, cwd: staging, file, sync: true, portable: true }, [Cifar.folders[variant]])
  return readFileSync(file)
}

const archive: Record<Cifar.Variant, Buffer> = { cifar10: pack("cifar10"), cifar100: pack("cifar100") }
const expectedOf = (bytes: Buffer): Download.Expected => ({
  size: bytes.length,
  sha256: createHash("sha256").update(bytes).digest("hex"),
  md5: createHash("md5").update(bytes).digest("hex"),
})
const table: Record<Cifar.Variant, Download.Expected> = {
  cifar10: expectedOf(archive.cifar10),
  cifar100: expectedOf(archive.cifar100),
}

// --- a local HTTP server ---------------------------------------------------------------------
type Mode = "ok" | "corrupt" | "404" | "truncate"
let mode: Mode = "ok"
const hits: Array<string> = []
const server = http.createServer((req, res) => {
  hits.push(req.url ?? "")
  const name = (req.url ?? "").split("/").pop() ?? ""
  const variant = (Object.keys(Cifar.archives) as Array<Cifar.Variant>).find(
    (v) => Cifar.archives[v] === name,
  )
  if (!variant || mode === "404") {
    res.writeHead(404)
    res.end("not here")
    return
  }
  const bytes = archive[variant]
  if (mode === "truncate") {
    res.writeHead(200, { "content-length": bytes.length })
    res.write(bytes.subarray(0, bytes.length >> 1), () => req.socket.destroy())
    return
  }
  const body = mode === "corrupt" ? Buffer.from(bytes).fill(7, 100, 120) : bytes
  res.writeHead(200, { "content-length": body.length })
  res.end(body)
})
let base = ""

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/kriz/`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  rmSync(root, { recursive: true, force: true })
})

const failure = (effect: Effect.Effect<unknown, DataError>) => Effect.runPromise(Effect.flip(effect))
/** Options that reach only the local server and never the real cache. */
const opts = (variant: Cifar.Variant, extra: Partial<Cifar.Options> = {}): Cifar.Options => ({
  variant,
  env: {},
  cacheDir: freshDir("cache"),
  baseUrl: base,
  checksums: table,
  report: () => {},
  expectedCounts: variant === "cifar10" ? C10 : C100,
  ...extra,
})
const listing = (dir: string) => (existsSync(dir) ? readdirSync(dir) : [])

/** Independent reference: value of pixel (h, w, c) of record r in a file, from the planar bytes. */
const planar = (file: Buffer, head: number, r: number, h: number, w: number, c: number) =>
  file[r * (head + 3072) + head + c * 1024 + h * 32 + w]! / 255

describe("Cifar: download and read", () => {
  it("downloads CIFAR-10 into the cache, verifies it, and decodes every value exactly", async () => {
    mode = "ok"
    hits.length = 0
    const o = opts("cifar10")
    const events: Array<Download.Event["_tag"]> = []
    const ds = await Effect.runPromise(Cifar.load({ ...o, report: (e) => events.push(e._tag) }))
    expect(hits).toEqual(["/kriz/cifar-10-binary.tar.gz"])
    expect(events[0]).toBe("Start")
    expect(events.at(-1)).toBe("Done")
    expect(readdirSync(join(o.cacheDir!, "cifar10"))).toEqual(["cifar-10-binary.tar.gz"])
    expect(ds.name).toBe("cifar10")
    expect(ds.shape).toEqual([32, 32, 3])
    expect(ds.classes).toBe(10)
    expect(ds.classNames).toEqual(cifar10Names)
    expect(ds.train.n).toBe(C10.train)
    expect(ds.test.n).toBe(C10.test)
    expect(ds.train.x.length).toBe(C10.train * 3072)
    // the hand-made record, pixel by pixel: NHWC, R G B interleaved
    expect(ds.train.y[0]).toBe(7)
    expect(Array.from(ds.train.x.subarray(0, 6))).toEqual(
      [0, 100, 200, 1, 100, 201].map((v) => Math.fround(v / 255)),
    )
    for (let h = 0; h < 32; h++) {
      for (let w = 0; w < 32; w++) {
        const o3 = (h * 32 + w) * 3
        expect([ds.train.x[o3], ds.train.x[o3 + 1], ds.train.x[o3 + 2]]).toEqual(
          [h + w, 100 + h, 200 + w].map((v) => Math.fround(v / 255)),
        )
      }
    }
    // every record of every batch, against the planar bytes, in batch order
    const batches = Cifar.files.cifar10.train.map((f) => c10Files[f]!)
    let mismatches = 0
    for (let i = 0; i < C10.train; i++) {
      const file = batches[Math.floor(i / BATCH)]!
      const r = i % BATCH
      expect(ds.train.y[i]).toBe(file[r * 3073])
      for (let h = 0; h < 32; h++)
        for (let w = 0; w < 32; w++)
          for (let c = 0; c < 3; c++)
            if (ds.train.x[i * 3072 + (h * 32 + w) * 3 + c] !== Math.fround(planar(file, 1, r, h, w, c)))
              mismatches++
    }
    expect(mismatches).toBe(0)
    expect(Array.from(ds.train.y)).toEqual([
      7,
      ...Array.from({ length: C10.train - 1 }, (_, i) => c10Label(i + 1)[0]),
    ])
    expect(Array.from(ds.test.y)).toEqual([9, 8, 7, 6, 5, 4])
    const t = c10Files["test_batch.bin"]!
    expect(ds.test.x[5 * 3072 + (31 * 32 + 30) * 3 + 2]).toBe(Math.fround(planar(t, 1, 5, 31, 30, 2)))

    // a second load uses the cache: no new request
    const again = await Effect.runPromise(Cifar.load(o))
    expect(hits).toHaveLength(1)
    expect(Array.from(again.test.y)).toEqual(Array.from(ds.test.y))
    expect(again.train.x).toEqual(ds.train.x)
  })

  it("CIFAR-100: fine labels by default, coarse on request, class names from their files", async () => {
    mode = "ok"
    hits.length = 0
    const o = opts("cifar100")
    const fine = await Effect.runPromise(Cifar.load(o))
    expect(hits).toHaveLength(1)
    expect(fine.name).toBe("cifar100")
    expect(fine.classes).toBe(100)
    expect(fine.classNames).toEqual(fineNames)
    expect(Array.from(fine.train.y)).toEqual(
      Array.from({ length: C100.train }, (_, i) => (i * 13 + 50) % 100),
    )
    expect(Array.from(fine.test.y)).toEqual([99, 98, 97])
    const coarse = await Effect.runPromise(Cifar.load({ ...o, labels: "coarse" }))
    expect(hits).toHaveLength(1)
    expect(coarse.name).toBe("cifar100-coarse")
    expect(coarse.classes).toBe(20)
    expect(coarse.classNames).toEqual(coarseNames)
    expect(Array.from(coarse.train.y)).toEqual(Array.from({ length: C100.train }, (_, i) => (i * 7) % 20))
    expect(Array.from(coarse.test.y)).toEqual([19, 18, 17])
    // two label bytes: pixels start at offset 2
    const f = c100Files["test.bin"]!
    for (const [r, h, w, c] of [
      [0, 0, 0, 0],
      [1, 5, 17, 1],
      [2, 31, 31, 2],
    ] as const) {
      expect(fine.test.x[r * 3072 + (h * 32 + w) * 3 + c]).toBe(Math.fround(planar(f, 2, r, h, w, c)))
    }
    expect(coarse.train.x).toEqual(fine.train.x)
  })

  it("a corrupted download fails the checksum and leaves no file in the cache", async () => {
    mode = "corrupt"
    const o = opts("cifar10")
    const e = await failure(Cifar.load(o))
    expect(e.message).toMatch(/^CIFAR-10: SHA-256 mismatch for cifar-10-binary\.tar\.gz/)
    expect(e.message).toMatch(/discarded/)
    expect(e.hint).toMatch(/try again/)
    expect(listing(join(o.cacheDir!, "cifar10"))).toEqual([])
    mode = "ok"
  })

  it("a truncated transfer fails and leaves neither the archive nor a .part file", async () => {
    mode = "truncate"
    const o = opts("cifar100")
    const e = await failure(Cifar.load(o))
    expect(e.message).toMatch(/cifar-100-binary\.tar\.gz failed: .*(closed|aborted|ECONNRESET)/)
    expect(listing(join(o.cacheDir!, "cifar100"))).toEqual([])
    mode = "ok"
  })

  it("HTTP 404 is a clear error with the hint", async () => {
    mode = "404"
    const o = opts("cifar10")
    const e = await failure(Cifar.load(o))
    expect(e.message).toMatch(/HTTP 404 for http:\/\/127\.0\.0\.1:\d+\/kriz\/cifar-10-binary\.tar\.gz/)
    expect(e.hint).toContain("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz")
    expect(listing(join(o.cacheDir!, "cifar10"))).toEqual([])
    mode = "ok"
  })
})

describe("Cifar: local copies first", () => {
  it("searches path, $RETORT_DATA, then the cache (each with /<variant>)", () => {
    expect(
      Cifar.searchDirs({ variant: "cifar100", path: "/a", env: { RETORT_DATA: "/b", XDG_CACHE_HOME: "/c" } }),
    ).toEqual(["/a", "/a/cifar100", "/b", "/b/cifar100", "/c/retort/cifar100"])
    expect(Cifar.searchDirs({ variant: "cifar10", env: { HOME: "/home/u" } })).toEqual([
      "/home/u/.cache/retort/cifar10",
    ])
  })

  it("an extracted folder given by path (the folder, or a dir holding it) loads without a request", async () => {
    hits.length = 0
    const dir = freshDir("folder")
    const folder = writeFolder("cifar10", dir)
    for (const path of [folder, dir]) {
      const where = await Effect.runPromise(Cifar.locate(opts("cifar10", { path })))
      expect(where.found).toEqual({ _tag: "Folder", variant: "cifar10", dir: folder })
      const ds = await Effect.runPromise(Cifar.load(opts("cifar10", { path })))
      expect(ds.train.y[0]).toBe(7)
      expect(ds.train.x[3]).toBe(Math.fround(1 / 255))
    }
    expect(hits).toEqual([])
  })

  it("an archive given by path, or found in $RETORT_DATA, loads without a request; path wins", async () => {
    hits.length = 0
    const file = join(freshDir("archive"), "my-copy.tar.gz")
    writeFileSync(file, archive.cifar100)
    const ds = await Effect.runPromise(Cifar.load(opts("cifar100", { path: file, labels: "coarse" })))
    expect(Array.from(ds.test.y)).toEqual([19, 18, 17])
    const data = freshDir("data")
    mkdirSync(join(data, "cifar10"))
    writeFileSync(join(data, "cifar10", Cifar.archives.cifar10), archive.cifar10)
    const env = { RETORT_DATA: data }
    const where = await Effect.runPromise(Cifar.locate(opts("cifar10", { env })))
    expect(where.found).toEqual({
      _tag: "Archive",
      variant: "cifar10",
      archive: join(data, "cifar10", Cifar.archives.cifar10),
    })
    expect((await Effect.runPromise(Cifar.load(opts("cifar10", { env })))).train.n).toBe(C10.train)
    // path before RETORT_DATA
    const folder = writeFolder("cifar10", freshDir("first"))
    const first = await Effect.runPromise(Cifar.locate(opts("cifar10", { env, path: folder })))
    expect(first.found).toEqual({ _tag: "Folder", variant: "cifar10", dir: folder })
    expect(hits).toEqual([])
  })

  it("download: false with nothing local fails with where it looked and a hint", async () => {
    hits.length = 0
    const partial = freshDir("partial")
    const folder = writeFolder("cifar10", partial, { "data_batch_1.bin": c10Files["data_batch_1.bin"]! })
    const o = opts("cifar10", { path: partial, download: false })
    const e = await failure(Cifar.load(o))
    expect(e.message).toContain("CIFAR-10 not found in")
    expect(e.message).toContain(partial)
    expect(e.message).toContain(join(o.cacheDir!, "cifar10"))
    expect(e.message).toContain(`incomplete cifar-10-batches-bin folders: ${folder}`)
    expect(e.message).toMatch(/downloading is off/)
    expect(e.hint).toMatch(/RETORT_DATA/)
    expect(e.hint).toContain("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz")
    expect(hits).toEqual([])
  })
})

describe("Cifar: malformed data", () => {
  const local = (
    variant: Cifar.Variant,
    contents: Record<string, Buffer>,
    extra: Partial<Cifar.Options> = {},
  ) => opts(variant, { path: writeFolder(variant, freshDir("bad"), contents), download: false, ...extra })

  it("a record count different from expectedCounts names the files", async () => {
    const e = await failure(
      Cifar.load(local("cifar10", c10Files, { expectedCounts: { train: 21, test: 6 } })),
    )
    expect(e.message).toMatch(
      /^data_batch_1\.bin, data_batch_2\.bin, data_batch_3\.bin, data_batch_4\.bin, data_batch_5\.bin in \/.*\/cifar-10-batches-bin hold 20 records; CIFAR-10 train expects 21$/,
    )
    const e2 = await failure(
      Cifar.load(local("cifar100", c100Files, { expectedCounts: { train: 7, test: 4 } })),
    )
    expect(e2.message).toMatch(/cifar-100-binary\/test\.bin holds 3 records; CIFAR-100 test expects 4/)
    // the real counts by default
    const { expectedCounts: _, ...defaults } = local("cifar10", c10Files)
    const e3 = await failure(Cifar.load(defaults))
    expect(e3.message).toMatch(/expects 50000/)
  })

  it("a size that is not a whole number of records names the file", async () => {
    const short = { ...c10Files, "test_batch.bin": c10Files["test_batch.bin"]!.subarray(0, 3073 * 6 - 1) }
    const e = await failure(Cifar.load(local("cifar10", short)))
    expect(e.message).toMatch(
      /cifar-10-batches-bin\/test_batch\.bin holds 18437 bytes, not a whole number of 3073-byte CIFAR-10 records/,
    )
    expect(e.hint).toMatch(/damaged/)
  })

  it("a label out of range names the file and the record", async () => {
    const bad = Buffer.from(c10Files["data_batch_3.bin"]!)
    bad[2 * 3073] = 10
    const e = await failure(Cifar.load(local("cifar10", { ...c10Files, "data_batch_3.bin": bad })))
    expect(e.message).toMatch(/data_batch_3\.bin: label 10 of record 2 is not in 0 … 9/)
    const bad100 = Buffer.from(c100Files["train.bin"]!)
    bad100[3074 + 1] = 100
    const e2 = await failure(
      Cifar.load(local("cifar100", { ...c100Files, "train.bin": bad100 }, { labels: "coarse" })),
    )
    expect(e2.message).toMatch(/train\.bin: fine label 100 of record 1 is not in 0 … 99/)
  })

  it("a wrong number of class names names the file; coarse labels are CIFAR-100 only", async () => {
    const e = await failure(
      Cifar.load(local("cifar10", { ...c10Files, "batches.meta.txt": Buffer.from("cat\ndog\n") })),
    )
    expect(e.message).toMatch(/batches\.meta\.txt lists 2 class names; CIFAR-10 has 10/)
    const e2 = await failure(Cifar.load(local("cifar10", c10Files, { labels: "coarse" })))
    expect(e2.message).toMatch(/only to CIFAR-100/)
  })

  it("an archive missing members, a corrupt gzip, and a truncated archive are named", async () => {
    hits.length = 0
    const dir = freshDir("archives")
    const { "test_batch.bin": _, ...withoutTest } = c10Files
    const missing = join(dir, "missing.tar.gz")
    writeFileSync(missing, pack("cifar10", withoutTest))
    const e = await failure(Cifar.load(opts("cifar10", { path: missing, download: false })))
    expect(e.message).toBe(
      `${missing} lacks cifar-10-batches-bin/test_batch.bin; it is not the CIFAR-10 binary archive (cifar-10-binary.tar.gz)`,
    )
    // the CIFAR-100 archive given for CIFAR-10
    const other = join(dir, "other.tar.gz")
    writeFileSync(other, archive.cifar100)
    expect((await failure(Cifar.load(opts("cifar10", { path: other })))).message).toMatch(
      /lacks cifar-10-batches-bin\/data_batch_1\.bin/,
    )
    const garbage = join(dir, "garbage.tar.gz")
    writeFileSync(garbage, Buffer.from(Array.from({ length: 5000 }, lcg(9))))
    const e2 = await failure(Cifar.load(opts("cifar10", { path: garbage })))
    expect(e2.message).toMatch(
      new RegExp(`^${garbage.replace(/[.]/g, "\\.")} is not a valid gzip file \\(.*header`),
    )
    expect(e2.hint).toMatch(/delete .*garbage\.tar\.gz and download it again/)
    const cut = join(dir, "cut.tar.gz")
    writeFileSync(cut, archive.cifar10.subarray(0, archive.cifar10.length >> 1))
    const e3 = await failure(Cifar.load(opts("cifar10", { path: cut })))
    expect(e3.message).toMatch(/cut\.tar\.gz is not a valid gzip file \(unexpected end of file\)/)
    // gzip intact, tar inside damaged
    const notTar = join(dir, "not-tar.tar.gz")
    writeFileSync(notTar, gzipSync(Buffer.alloc(2048, 65)))
    const e4 = await failure(Cifar.load(opts("cifar10", { path: notTar })))
    expect(e4.message).toMatch(/not-tar\.tar\.gz is not a valid tar archive/)
    // gzip intact, tar cut in the middle of a member
    const half = join(dir, "half.tar.gz")
    const tarBytes = gunzipSync(archive.cifar10)
    writeFileSync(half, gzipSync(tarBytes.subarray(0, 512 * Math.floor(tarBytes.length / 1024))))
    const e5 = await failure(Cifar.load(opts("cifar10", { path: half })))
    expect(e5.message).toMatch(/half\.tar\.gz is not a valid tar archive \(.*[Tt]runcated/)
    expect(hits).toEqual([])
  })
})
