/**
 * `Sum` over leading axes for the wasm backend: the bias gradient reduces `[N, C]` or
 * `[N, H, W, C]` over everything but the channels, which stock wasm does by transposing the
 * whole tensor first (~55 ms on the reference CNN). Here it is one pass with float64
 * accumulators (native or typed-array JS); other reductions use the stock kernel.
 *
 * @example
 * ```ts
 * import * as Reduce from "./Reduce.js"
 * Reduce.sum.kernelName // "Sum"
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Override from "./Override.js"
import * as Wasm from "./Wasm.js"

/**
 * `out[j] = Σ_i x[i·inner + j]`, accumulated in float64 (exported for tests and benchmarks).
 *
 * @example
 * ```ts
 * import * as Reduce from "./Reduce.js"
 * const out = new Float32Array(2)
 * Reduce.sumOuter(new Float32Array([1, 2, 3, 4]), out, 2, 2)
 * out // Float32Array [4, 6]
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export function sumOuter(x: Float32Array, out: Float32Array, outer: number, inner: number): void {
  const acc = new Float64Array(inner)
  for (let i = 0; i < outer; i++) {
    const row = i * inner
    for (let j = 0; j < inner; j++) acc[j] = acc[j]! + x[row + j]!
  }
  for (let j = 0; j < inner; j++) out[j] = acc[j]!
}

/**
 * The number of leading axes reduced, when `axes` are exactly `0..k-1` with `0 < k < rank`.
 */
function leadingAxes(axes: ReadonlyArray<number>, rank: number): number | undefined {
  const sorted = [...new Set(axes)].sort((a, b) => a - b)
  if (sorted.length === 0 || sorted.length >= rank) return undefined
  for (let i = 0; i < sorted.length; i++) if (sorted[i] !== i) return undefined
  return sorted.length
}

/**
 * `Sum` override.
 *
 * @example
 * ```ts
 * import * as Reduce from "./Reduce.js"
 * Reduce.sum.kernelName // "Sum"
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const sum: Override.Override = {
  kernelName: tf.Sum,
  make: (ctx) => (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo }
    const attrs = args.attrs ?? {}
    const original = Override.original(ctx, tf.Sum)
    if (x.dtype !== "float32") return original.kernelFunc(args)
    const axes = tf.util.parseAxisParam(attrs.axis as number | Array<number>, x.shape)
    const k = leadingAxes(axes, x.shape.length)
    if (k === undefined) return original.kernelFunc(args)
    const outer = tf.util.sizeFromShape(x.shape.slice(0, k))
    const innerShape = x.shape.slice(k)
    const inner = tf.util.sizeFromShape(innerShape)
    const outShape =
      attrs.keepDims === true ? [...x.shape.slice(0, k).map(() => 1), ...innerShape] : innerShape
    const backend = Wasm.backendOf(args.backend)
    const out = backend.makeOutput(outShape, "float32")
    if (inner === 0) return out
    const native = ctx.native()
    if (native !== undefined) {
      native.sumOuter(backend.wasm.HEAPU8, Wasm.offset(backend, x), Wasm.offset(backend, out), outer, inner)
    } else {
      sumOuter(Wasm.f32(backend, x), Wasm.f32(backend, out), outer, inner)
    }
    return out
  },
}
