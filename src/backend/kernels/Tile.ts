/**
 * `Tile` (and so `tf.broadcastTo`) for the wasm backend: stock wasm maps every output element
 * back to its source index (~95 ms to broadcast `[256, 1, 1, 32]` to `[256, 14, 14, 32]`).
 * Here trailing dimensions that are not repeated are copied as one contiguous block (native
 * `memcpy`, or a typed-array loop on the pure path).
 *
 * @example
 * ```ts
 * import * as Tile from "./Tile.js"
 * const out = new Float32Array(4)
 * Tile.tileInto(new Float32Array([1, 2]), [1, 2], [2, 1], out) // out = [1, 2, 1, 2]
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Override from "./Override.js"
import * as Wasm from "./Wasm.js"

/**
 * `out = tile(x, reps)` on typed arrays (row-major, `x` of `shape`).
 *
 * @example
 * ```ts
 * import * as Tile from "./Tile.js"
 * const out = new Float32Array(6)
 * Tile.tileInto(new Float32Array([1, 2, 3]), [3], [2], out) // [1, 2, 3, 1, 2, 3]
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export function tileInto(
  x: Float32Array,
  shape: ReadonlyArray<number>,
  reps: ReadonlyArray<number>,
  out: Float32Array,
): void {
  const r = shape.length
  const outShape = shape.map((d, i) => d * reps[i]!)
  let k = r
  let block = 1
  while (k > 0 && reps[k - 1] === 1) block *= shape[--k]!
  const stride = new Array<number>(k)
  let acc = block
  for (let i = k - 1; i >= 0; i--) {
    stride[i] = acc
    acc *= shape[i]!
  }
  const idx = new Array<number>(k).fill(0)
  const positions = block === 0 ? 0 : out.length / block
  for (let p = 0, d = 0; p < positions; p++) {
    let s = 0
    for (let i = 0; i < k; i++) s += (idx[i]! % shape[i]!) * stride[i]!
    for (let q = 0; q < block; q++) out[d++] = x[s + q]!
    for (let i = k - 1; i >= 0; i--) {
      idx[i] = idx[i]! + 1
      if (idx[i]! < outShape[i]!) break
      idx[i] = 0
    }
  }
}

/**
 * `Tile` override (float32; other dtypes use the stock kernel).
 *
 * @example
 * ```ts
 * import * as Tile from "./Tile.js"
 * Tile.tile.kernelName // "Tile"
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const tile: Override.Override = {
  kernelName: tf.Tile,
  make: (ctx) => (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo }
    const reps = (args.attrs?.reps ?? []) as Array<number>
    if (x.dtype !== "float32" || reps.length !== x.shape.length || x.shape.length > 8) {
      return Override.original(ctx, tf.Tile).kernelFunc(args)
    }
    const backend = Wasm.backendOf(args.backend)
    const out = backend.makeOutput(
      x.shape.map((d, i) => d * reps[i]!),
      "float32",
    )
    if (tf.util.sizeFromShape(out.shape) === 0) return out
    const native = ctx.native()
    if (native !== undefined) {
      native.tile(
        backend.wasm.HEAPU8,
        Wasm.offset(backend, x),
        Wasm.offset(backend, out),
        x.shape.length,
        ...x.shape,
        ...reps,
      )
    } else {
      tileInto(Wasm.f32(backend, x), x.shape, reps, Wasm.f32(backend, out))
    }
    return out
  },
}
