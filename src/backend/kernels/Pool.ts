/**
 * `MaxPoolGrad` for the wasm backend (stock wasm's takes ~130 ms on the reference CNN). Each
 * `dy` goes to the first maximum of its window in row-major order, as in tfjs-cpu. Native
 * path in C; pure path a typed-array loop over the wasm heap.
 *
 * @example
 * ```ts
 * import * as Pool from "./Pool.js"
 * Pool.maxPoolGrad.kernelName // "MaxPoolGrad"
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import type * as Native from "./Native.js"
import * as Override from "./Override.js"
import * as Wasm from "./Wasm.js"

function geometry(info: tf.backend_util.Conv2DInfo): Native.PoolGeometry {
  return [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
  ]
}

/**
 * The pure-JS max-pool backward pass on typed arrays (exported for tests and benchmarks).
 *
 * @example
 * ```ts
 * import * as Pool from "./Pool.js"
 * const dx = new Float32Array(4)
 * Pool.maxPoolBackward(new Float32Array([1, 3, 2, 0]), new Float32Array([5]), dx, [1, 2, 2, 1, 1, 1, 2, 2, 2, 2, 1, 1, 0, 0])
 * dx[1] // 5
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export function maxPoolBackward(
  x: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  g: Native.PoolGeometry,
): void {
  const [n, h, w, ch, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl] = g
  dx.fill(0)
  const taps = new Int32Array(kh * kw)
  for (let b = 0; b < n; b++) {
    const xb = b * h * w * ch
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        // The window's in-bounds taps, in row-major order (ties go to the first).
        let count = 0
        for (let i = 0; i < kh; i++) {
          const iy = oy * sh + i * dh - pt
          if (iy < 0 || iy >= h) continue
          for (let j = 0; j < kw; j++) {
            const ix = ox * sw + j * dw - pl
            if (ix >= 0 && ix < w) taps[count++] = xb + (iy * w + ix) * ch
          }
        }
        if (count === 0) continue
        const gb = ((b * oh + oy) * ow + ox) * ch
        for (let q = 0; q < ch; q++) {
          // As tfjs-cpu: strictly greater than -∞, so an all -∞ (or NaN) window routes nothing.
          let at = -1
          let best = Number.NEGATIVE_INFINITY
          for (let t = 0; t < count; t++) {
            const k = taps[t]! + q
            const v = x[k]!
            if (v > best) {
              best = v
              at = k
            }
          }
          if (at >= 0) dx[at] = dx[at]! + dy[gb + q]!
        }
      }
    }
  }
}

// The pooling geometry of a MaxPool/MaxPoolGrad call from its input shape and attributes.
function poolInfo(shape: ReadonlyArray<number>, attrs: tf.NamedAttrMap): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(
    shape as [number, number, number, number],
    attrs.filterSize as [number, number] | number,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as "same" | "valid" | number | tf.backend_util.ExplicitPadding,
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
  )
}

/**
 * `MaxPoolGrad` override.
 *
 * @example
 * ```ts
 * import * as Pool from "./Pool.js"
 * Pool.maxPoolGrad.kernelName // "MaxPoolGrad"
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const maxPoolGrad: Override.Override = {
  kernelName: tf.MaxPoolGrad,
  make: (ctx) => (args) => {
    const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo }
    const attrs = args.attrs ?? {}
    if (dy.dtype !== "float32" || input.dtype !== "float32") {
      return Override.original(ctx, tf.MaxPoolGrad).kernelFunc(args)
    }
    const backend = Wasm.backendOf(args.backend)
    const info = poolInfo(input.shape, attrs)
    const out = backend.makeOutput([...input.shape], "float32")
    const native = ctx.native()
    if (native !== undefined) {
      native.maxPoolGrad(
        backend.wasm.HEAPU8,
        Wasm.offset(backend, input),
        Wasm.offset(backend, dy),
        Wasm.offset(backend, out),
        ...geometry(info),
      )
    } else {
      maxPoolBackward(Wasm.f32(backend, input), Wasm.f32(backend, dy), Wasm.f32(backend, out), geometry(info))
    }
    return out
  },
}

/**
 * `MaxPool` (float32) on the native addon, its images split over the kernel threads; the stock
 * wasm kernel otherwise. Same values as tfjs-cpu (the largest in-bounds value of each window).
 *
 * @example
 * ```ts
 * import { maxPool } from "./Pool.js"
 * maxPool.kernelName // "MaxPool"
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const maxPool: Override.Override = {
  kernelName: tf.MaxPool,
  make: (ctx) => (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo }
    const attrs = args.attrs ?? {}
    const native = ctx.native()
    if (native === undefined || x.dtype !== "float32" || x.shape.length !== 4) {
      return Override.original(ctx, tf.MaxPool).kernelFunc(args)
    }
    const backend = Wasm.backendOf(args.backend)
    const info = poolInfo(x.shape, attrs)
    const out = backend.makeOutput(
      [info.batchSize, info.outHeight, info.outWidth, info.outChannels],
      "float32",
    )
    native.maxPool(backend.wasm.HEAPU8, Wasm.offset(backend, x), Wasm.offset(backend, out), ...geometry(info))
    return out
  },
}
