import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import * as Idx from "../../../src/data/Idx.js"
import { DataError } from "../../../src/errors.js"

const dir = mkdtempSync(join(tmpdir(), "retort-idx-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const fails = (effect: Effect.Effect<unknown, DataError>): DataError => {
  const error = Effect.runSync(Effect.flip(effect))
  expect(error).toBeInstanceOf(DataError)
  return error
}

describe("Idx", () => {
  it("parses a hand-written uint8 file (MNIST label layout)", () => {
    const bytes = Uint8Array.of(0, 0, 0x08, 1, 0, 0, 0, 3, 7, 2, 9)
    const t = Effect.runSync(Idx.parse(bytes))
    expect(t.type).toBe("uint8")
    expect(t.dims).toEqual([3])
    expect(Array.from(t.data)).toEqual([7, 2, 9])
  })

  it("reads big-endian dimensions and multi-byte values", () => {
    // int16 [2, 2] = 1, -2, 258, -32768
    const bytes = Uint8Array.of(0, 0, 0x0b, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0xff, 0xfe, 1, 2, 0x80, 0)
    const t = Effect.runSync(Idx.parse(bytes))
    expect(t.type).toBe("int16")
    expect(t.dims).toEqual([2, 2])
    expect(Array.from(t.data)).toEqual([1, -2, 258, -32768])
  })

  it("round-trips every element type through encode/parse", () => {
    const cases: ReadonlyArray<Idx.Tensor> = [
      { type: "uint8", dims: [2, 3], data: Uint8Array.of(0, 1, 2, 253, 254, 255) },
      { type: "int8", dims: [4], data: Int8Array.of(-128, -1, 0, 127) },
      { type: "int16", dims: [3], data: Int16Array.of(-300, 0, 300) },
      { type: "int32", dims: [1, 3], data: Int32Array.of(-70000, 5, 2147483647) },
      { type: "float32", dims: [2], data: Float32Array.of(0.5, -1.25) },
      { type: "float64", dims: [2, 1, 1], data: Float64Array.of(Math.PI, -1e-300) },
    ]
    for (const c of cases) {
      const back = Effect.runSync(Idx.parse(Idx.encode(c)))
      expect(back.type).toBe(c.type)
      expect(back.dims).toEqual(c.dims)
      expect(Array.from(back.data)).toEqual(Array.from(c.data))
    }
  })

  it("rejects a bad magic number, unknown type, truncation and gzip with DataError", () => {
    expect(fails(Idx.parse(Uint8Array.of(1, 0, 8, 1, 0, 0, 0, 0))).message).toMatch(/bad magic number/)
    expect(fails(Idx.parse(Uint8Array.of(0, 0, 0x07, 1, 0, 0, 0, 0))).message).toMatch(
      /unknown element type 0x07/,
    )
    expect(fails(Idx.parse(Uint8Array.of(0, 0, 8, 1, 0, 0, 0, 3, 1, 2))).message).toMatch(
      /need 11 bytes, the data has 10/,
    )
    expect(fails(Idx.parse(Uint8Array.of(0, 0, 8, 2, 0, 0))).message).toMatch(/header of rank 2/)
    expect(fails(Idx.parse(Uint8Array.of(0, 0))).message).toMatch(/shorter than the 4-byte magic/)
    expect(fails(Idx.parse(Uint8Array.of(0x1f, 0x8b, 8, 0))).message).toMatch(/gzipped/)
    const e = fails(Idx.parse(Uint8Array.of(1, 2, 3, 4), "x.idx"))
    expect(e.message).toMatch(/x\.idx/)
    expect(e.hint).toBeDefined()
  })

  it("reads plain and gzipped files by content, and reports unreadable files", async () => {
    const tensor: Idx.Tensor = { type: "uint8", dims: [2, 2, 2], data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) }
    const bytes = Idx.encode(tensor)
    writeFileSync(join(dir, "plain-idx3-ubyte"), bytes)
    writeFileSync(join(dir, "zipped.gz"), gzipSync(bytes))
    writeFileSync(join(dir, "broken.gz"), gzipSync(bytes).subarray(0, 12))
    for (const name of ["plain-idx3-ubyte", "zipped.gz"]) {
      const t = await Effect.runPromise(Idx.read(join(dir, name)))
      expect(t.dims).toEqual([2, 2, 2])
      expect(Array.from(t.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    }
    const broken = await Effect.runPromise(Effect.flip(Idx.read(join(dir, "broken.gz"))))
    expect(broken).toBeInstanceOf(DataError)
    expect(broken.message).toMatch(/broken\.gz/)
    const missing = await Effect.runPromise(Effect.flip(Idx.read(join(dir, "nope"))))
    expect(missing.message).toMatch(/cannot read IDX file .*nope/)
  })

  it("encode refuses data that does not match its dimensions", () => {
    expect(() => Idx.encode({ type: "uint8", dims: [3], data: Uint8Array.of(1, 2) })).toThrow(DataError)
  })
})
