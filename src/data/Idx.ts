/**
 * The IDX file format (LeCun's MNIST format, also used by Fashion-MNIST, KMNIST, EMNIST):
 * a 4-byte magic number `0x00 0x00 <type> <rank>`, `rank` big-endian uint32 dimensions, then the
 * data in row-major order, multi-byte values big-endian. Files are often gzipped; {@link read}
 * detects and inflates gzip by its magic bytes.
 *
 * @example
 * ```ts
 * import { Idx } from "retort"
 * import { Effect } from "effect"
 * const bytes = Idx.encode({ type: "uint8", dims: [2, 2], data: Uint8Array.of(0, 1, 2, 3) })
 * const idx = Effect.runSync(Idx.parse(bytes)) // { type: "uint8", dims: [2, 2], data: … }
 * ```
 *
 * @since 0.1.0
 */
import { readFile } from "node:fs/promises"
import { gunzip } from "node:zlib"
import { Effect } from "effect"
import { DataError } from "../errors.js"

/**
 * The element types IDX can hold, by name.
 *
 * @since 0.1.0
 * @category models
 */
export type Type = "uint8" | "int8" | "int16" | "int32" | "float32" | "float64"

/**
 * The typed array used for each element type.
 *
 * @since 0.1.0
 * @category models
 */
export interface Arrays {
  readonly uint8: Uint8Array
  readonly int8: Int8Array
  readonly int16: Int16Array
  readonly int32: Int32Array
  readonly float32: Float32Array
  readonly float64: Float64Array
}

/**
 * A decoded IDX tensor: element type, dimensions and data (native byte order).
 *
 * @since 0.1.0
 * @category models
 */
export type Tensor = {
  readonly [T in Type]: { readonly type: T; readonly dims: ReadonlyArray<number>; readonly data: Arrays[T] }
}[Type]

const CODES: Record<Type, number> = {
  uint8: 0x08,
  int8: 0x09,
  int16: 0x0b,
  int32: 0x0c,
  float32: 0x0d,
  float64: 0x0e,
}

const BYTES: Record<Type, number> = { uint8: 1, int8: 1, int16: 2, int32: 4, float32: 4, float64: 8 }

const TYPE_OF_CODE = new Map<number, Type>(Object.entries(CODES).map(([t, c]) => [c, t as Type]))

const fail = (message: string, name?: string) =>
  Effect.fail(
    new DataError({
      message: name === undefined ? `invalid IDX data: ${message}` : `invalid IDX file ${name}: ${message}`,
      hint: "the file may be truncated or not an IDX file; delete it and fetch it again",
    }),
  )

/**
 * Decodes IDX bytes (not gzipped; see {@link read} for files). Fails with a `DataError` on a bad
 * magic number, an unknown element type, or a size that does not match the dimensions. `uint8`
 * and `int8` data are views on `bytes`, not copies. `name` only labels error messages.
 *
 * @example
 * ```ts
 * import { Idx } from "retort"
 * import { Effect } from "effect"
 * const t = Effect.runSync(Idx.parse(Uint8Array.of(0, 0, 8, 1, 0, 0, 0, 2, 7, 9)))
 * t.dims // [2]
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const parse = (bytes: Uint8Array, name?: string): Effect.Effect<Tensor, DataError> =>
  Effect.suspend(() => {
    if (bytes.length < 4)
      return fail(`only ${bytes.length} bytes, shorter than the 4-byte magic number`, name)
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) return fail("the data is gzipped; inflate it first", name)
    if (bytes[0] !== 0 || bytes[1] !== 0) {
      return fail(`bad magic number 0x${hex(bytes, 4)} (expected 0x0000 then type and rank)`, name)
    }
    const type = TYPE_OF_CODE.get(bytes[2]!)
    if (type === undefined)
      return fail(`unknown element type 0x${bytes[2]!.toString(16).padStart(2, "0")}`, name)
    const rank = bytes[3]!
    const header = 4 + 4 * rank
    if (bytes.length < header)
      return fail(`header of rank ${rank} needs ${header} bytes, have ${bytes.length}`, name)
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const dims: Array<number> = []
    let count = 1
    for (let i = 0; i < rank; i++) {
      const d = view.getUint32(4 + 4 * i, false)
      dims.push(d)
      count *= d
    }
    const expected = header + count * BYTES[type]
    if (bytes.length !== expected) {
      return fail(
        `dimensions [${dims.join(", ")}] of ${type} need ${expected} bytes, the data has ${bytes.length}`,
        name,
      )
    }
    return Effect.succeed(decodeBody(type, dims, bytes, header, count))
  })

const hex = (bytes: Uint8Array, n: number) =>
  Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, "0")).join("")

const decodeBody = (
  type: Type,
  dims: ReadonlyArray<number>,
  bytes: Uint8Array,
  at: number,
  n: number,
): Tensor => {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, n * BYTES[type])
  switch (type) {
    case "uint8":
      return { type, dims, data: bytes.subarray(at, at + n) }
    case "int8":
      return { type, dims, data: new Int8Array(bytes.buffer, bytes.byteOffset + at, n) }
    case "int16": {
      const data = new Int16Array(n)
      for (let i = 0; i < n; i++) data[i] = view.getInt16(2 * i, false)
      return { type, dims, data }
    }
    case "int32": {
      const data = new Int32Array(n)
      for (let i = 0; i < n; i++) data[i] = view.getInt32(4 * i, false)
      return { type, dims, data }
    }
    case "float32": {
      const data = new Float32Array(n)
      for (let i = 0; i < n; i++) data[i] = view.getFloat32(4 * i, false)
      return { type, dims, data }
    }
    case "float64": {
      const data = new Float64Array(n)
      for (let i = 0; i < n; i++) data[i] = view.getFloat64(8 * i, false)
      return { type, dims, data }
    }
  }
}

/**
 * Encodes a tensor as IDX bytes (the inverse of {@link parse}). Useful to write data sets in the
 * format other tools read, and to generate test files.
 *
 * @example
 * ```ts
 * import { Idx } from "retort"
 * const labels = Idx.encode({ type: "uint8", dims: [3], data: Uint8Array.of(1, 2, 3) })
 * ```
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (tensor: Tensor): Uint8Array => {
  const { type, dims, data } = tensor
  const count = dims.reduce((a, b) => a * b, 1)
  if (data.length !== count) {
    throw new DataError({
      message: `IDX encode: dimensions [${dims.join(", ")}] need ${count} values, got ${data.length}`,
    })
  }
  if (dims.length > 255) throw new DataError({ message: "IDX encode: rank above 255" })
  const header = 4 + 4 * dims.length
  const out = new Uint8Array(header + count * BYTES[type])
  const view = new DataView(out.buffer)
  out[2] = CODES[type]
  out[3] = dims.length
  dims.forEach((d, i) => {
    view.setUint32(4 + 4 * i, d, false)
  })
  switch (type) {
    case "uint8":
      out.set(tensor.data, header)
      break
    case "int8":
      out.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, count), header)
      break
    case "int16":
      for (let i = 0; i < count; i++) view.setInt16(header + 2 * i, tensor.data[i]!, false)
      break
    case "int32":
      for (let i = 0; i < count; i++) view.setInt32(header + 4 * i, tensor.data[i]!, false)
      break
    case "float32":
      for (let i = 0; i < count; i++) view.setFloat32(header + 4 * i, tensor.data[i]!, false)
      break
    case "float64":
      for (let i = 0; i < count; i++) view.setFloat64(header + 8 * i, tensor.data[i]!, false)
      break
  }
  return out
}

/**
 * Whether `bytes` start with the gzip magic number `1f 8b`.
 *
 * @example
 * ```ts
 * import { Idx } from "retort"
 * Idx.isGzip(Uint8Array.of(0x1f, 0x8b, 8)) // true
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const isGzip = (bytes: Uint8Array): boolean =>
  bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b

/**
 * Reads an IDX file from disk, gzipped or not (detected by content, not by name), and decodes
 * it. Fails with a `DataError` when the file cannot be read, inflated or decoded.
 *
 * @example
 * ```ts
 * import { Idx } from "retort"
 * const labels = Idx.read("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const read = (path: string): Effect.Effect<Tensor, DataError> =>
  Effect.tryPromise({
    try: async () => {
      const raw = new Uint8Array(await readFile(path))
      return isGzip(raw) ? await inflate(raw) : raw
    },
    catch: (cause) =>
      new DataError({
        message: `cannot read IDX file ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
        hint: "check that the file exists, is readable and, if gzipped, is complete",
        cause,
      }),
  }).pipe(Effect.flatMap((bytes) => parse(bytes, path)))

const inflate = (bytes: Uint8Array): Promise<Uint8Array> =>
  new Promise((resolve, reject) =>
    gunzip(bytes, (error, out) =>
      error ? reject(error) : resolve(new Uint8Array(out.buffer, out.byteOffset, out.length)),
    ),
  )
