/**
 * Broadcasting `Add`, `Sub`, `Multiply`, `RealDiv` for the wasm backend. Stock wasm handles
 * equal shapes well but walks broadcasts index by index (a conv bias add takes ~4× an
 * elementwise add). The native path covers the two broadcasts training is made of — a suffix
 * (bias `[C]` over `[N, H, W, C]`) and a prefix (a per-sample mask `[N, 1, 1, 1]`) — in one
 * pass; every other case, and the pure path, is stock wasm.
 *
 * @example
 * ```ts
 * import * as Binary from "./Binary.js"
 * Binary.pattern([128, 14, 14, 32], [32]) // { smallFirst: false, inner: 32, prefix: false }
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Override from "./Override.js"
import * as Wasm from "./Wasm.js"

/**
 * How the smaller operand broadcasts over the full-size one: along a suffix (`small[i % inner]`)
 * or a prefix (`small[i / inner]`); `smallFirst` when it is the left operand. `undefined` when
 * neither operand has the output's size, shapes are equal, or the broadcast is another kind.
 *
 * @example
 * ```ts
 * import * as Binary from "./Binary.js"
 * Binary.pattern([8, 1, 1, 1], [8, 5, 5, 3]) // { smallFirst: true, inner: 75, prefix: true }
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export function pattern(
  a: ReadonlyArray<number>,
  b: ReadonlyArray<number>,
): { readonly smallFirst: boolean; readonly inner: number; readonly prefix: boolean } | undefined {
  const out = tf.backend_util.assertAndGetBroadcastShape([...a], [...b])
  const total = tf.util.sizeFromShape(out)
  const sa = tf.util.sizeFromShape([...a])
  const sb = tf.util.sizeFromShape([...b])
  if (total === 0 || sa === sb) return undefined
  const smallFirst = sa < sb
  const small = smallFirst ? a : b
  if ((smallFirst ? sb : sa) !== total) return undefined
  const r = out.length
  const s = [...Array<number>(r - small.length).fill(1), ...small]
  // Suffix: leading ones, then the output's trailing dims.
  let k = 0
  while (k < r && s[k] === 1) k++
  let suffix = true
  for (let i = k; i < r; i++) if (s[i] !== out[i]) suffix = false
  const size = tf.util.sizeFromShape(s)
  // A scalar is a prefix broadcast over everything (one constant, one long loop).
  if (suffix)
    return size === 1
      ? { smallFirst, inner: total, prefix: true }
      : { smallFirst, inner: size, prefix: false }
  // Prefix: the output's leading dims, then ones.
  let j = r
  while (j > 0 && s[j - 1] === 1) j--
  for (let i = 0; i < j; i++) if (s[i] !== out[i]) return undefined
  return { smallFirst, inner: tf.util.sizeFromShape(out.slice(j)), prefix: true }
}

/** Elements from which two same-shape operands go to the native kernel (when it has threads). */
const SAME_SHAPE_NATIVE = 1 << 16

function make(kernelName: string, op: number): Override.Override {
  return {
    kernelName,
    make: (ctx) => (args) => {
      const native = ctx.native()
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo }
      const original = Override.original(ctx, kernelName)
      if (native === undefined || a.dtype !== "float32" || b.dtype !== "float32")
        return original.kernelFunc(args)
      // Equal shapes: the stock kernel, unless the tensors are big enough for the native kernel's
      // threads to pay (the same IEEE operation either way).
      const same = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i])
      const total = tf.util.sizeFromShape(a.shape)
      const p = same
        ? total >= SAME_SHAPE_NATIVE && native.getThreads() > 1
          ? { smallFirst: false, inner: total, prefix: false }
          : undefined
        : pattern(a.shape, b.shape)
      if (p === undefined) return original.kernelFunc(args)
      const backend = Wasm.backendOf(args.backend)
      const out = backend.makeOutput(tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape), "float32")
      const [big, small] = p.smallFirst ? [b, a] : [a, b]
      native.broadcast(
        backend.wasm.HEAPU8,
        op,
        Wasm.offset(backend, big),
        Wasm.offset(backend, small),
        Wasm.offset(backend, out),
        tf.util.sizeFromShape(out.shape),
        p.inner,
        p.prefix ? 1 : 0,
        p.smallFirst ? 1 : 0,
      )
      return out
    },
  }
}

/**
 * `Add` override.
 *
 * @example
 * ```ts
 * import * as Binary from "./Binary.js"
 * Binary.add.kernelName // "Add"
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const add: Override.Override = make(tf.Add, 0)

/**
 * `Sub` override.
 *
 * @example
 * ```ts
 * import * as Binary from "./Binary.js"
 * Binary.sub.kernelName // "Sub"
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const sub: Override.Override = make(tf.Sub, 1)

/**
 * `Multiply` override.
 *
 * @example
 * ```ts
 * import * as Binary from "./Binary.js"
 * Binary.multiply.kernelName // "Multiply"
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const multiply: Override.Override = make(tf.Multiply, 2)

/**
 * `RealDiv` override.
 *
 * @example
 * ```ts
 * import * as Binary from "./Binary.js"
 * Binary.realDiv.kernelName // "RealDiv"
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const realDiv: Override.Override = make(tf.RealDiv, 3)
