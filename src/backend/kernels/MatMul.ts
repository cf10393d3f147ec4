/**
 * `BatchMatMul` and `_FusedMatMul` for the wasm backend. Stock wasm uses XNNPACK only for
 * untransposed, batch-1 products and otherwise a scalar loop (~1 GFLOP/s); backprop always
 * multiplies by transposes. Native path: the addon's packed sgemm with transpose flags, bias and ReLU
 * fused into the epilogue. Pure path: transposes are materialised with the wasm `Transpose`
 * kernel and the untransposed XNNPACK path is called.
 *
 * @example
 * ```ts
 * import * as MatMul from "./MatMul.js"
 * console.log(MatMul.batchMatMul.kernelName) // "BatchMatMul"
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Epilogue from "./Epilogue.js"
import * as Override from "./Override.js"
import * as Wasm from "./Wasm.js"

interface Dims {
  readonly batchA: number
  readonly batchB: number
  readonly batch: number
  readonly m: number
  readonly n: number
  readonly k: number
  readonly outShape: Array<number>
}

function dims(a: tf.TensorInfo, b: tf.TensorInfo, transA: boolean, transB: boolean): Dims {
  const ra = a.shape.length
  const rb = b.shape.length
  const k = transA ? a.shape[ra - 2]! : a.shape[ra - 1]!
  const kb = transB ? b.shape[rb - 1]! : b.shape[rb - 2]!
  const m = transA ? a.shape[ra - 1]! : a.shape[ra - 2]!
  const n = transB ? b.shape[rb - 2]! : b.shape[rb - 1]!
  tf.util.assert(
    k === kb,
    () =>
      `Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transA} and transposeB=${transB} must match.`,
  )
  const outerA = a.shape.slice(0, -2)
  const outerB = b.shape.slice(0, -2)
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB)
  const batchA = tf.util.sizeFromShape(outerA)
  const batchB = tf.util.sizeFromShape(outerB)
  return { batchA, batchB, batch: tf.util.sizeFromShape(outer), m, n, k, outShape: [...outer, m, n] }
}

/**
 * Flat batch broadcasting the addon supports: each side has the whole batch or a single matrix
 * (not e.g. `[3, 1]` against `[1, 3]`, whose flat batch sizes agree but do not line up).
 */
function nativeBatchOk(d: Dims): boolean {
  return (d.batchA === d.batch || d.batchA === 1) && (d.batchB === d.batch || d.batchB === 1)
}

function nativeGemm(
  backend: Wasm.Backend,
  native: NonNullable<ReturnType<Override.Context["native"]>>,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  d: Dims,
  transA: boolean,
  transB: boolean,
  bias: tf.TensorInfo | undefined,
  mode: number,
  act: number,
): tf.TensorInfo {
  const out = backend.makeOutput(d.outShape, "float32")
  const aStride = d.batchA === 1 ? 0 : d.m * d.k
  const bStride = d.batchB === 1 ? 0 : d.k * d.n
  native.gemm(
    backend.wasm.HEAPU8,
    d.batch,
    d.m,
    d.n,
    d.k,
    transA ? 1 : 0,
    transB ? 1 : 0,
    Wasm.offset(backend, a),
    aStride,
    Wasm.offset(backend, b),
    bStride,
    Wasm.offset(backend, out),
    bias === undefined ? 0 : Wasm.offset(backend, bias),
    mode,
    act,
  )
  return out
}

/**
 * Calls the stock kernel with transposes materialised, so that it takes XNNPACK's fast path.
 * `inputs`/`attrs` are the kernel's own; `a`, `b` are replaced.
 */
function untransposed(
  original: tf.KernelConfig,
  backend: Wasm.Backend,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transA: boolean,
  transB: boolean,
): tf.TensorInfo {
  const swapLast = (t: tf.TensorInfo): tf.TensorInfo => {
    const r = t.shape.length
    const batch = tf.util.sizeFromShape(t.shape.slice(0, -2))
    const t3 = Wasm.view(t, [batch, t.shape[r - 2]!, t.shape[r - 1]!])
    const tt = Wasm.transpose(backend, t3, [0, 2, 1])
    return Wasm.view(tt, [...t.shape.slice(0, -2), t.shape[r - 1]!, t.shape[r - 2]!])
  }
  const at = transA ? swapLast(a) : undefined
  const bt = transB ? swapLast(b) : undefined
  try {
    return Wasm.call(
      original,
      backend,
      { ...inputs, a: at ?? a, b: bt ?? b },
      { ...attrs, transposeA: false, transposeB: false },
    )
  } finally {
    Wasm.release(backend, at, bt)
  }
}

/**
 * `BatchMatMul` override.
 *
 * @example
 * ```ts
 * import * as MatMul from "./MatMul.js"
 * MatMul.batchMatMul.kernelName // "BatchMatMul"
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const batchMatMul: Override.Override = {
  kernelName: tf.BatchMatMul,
  make: (ctx) => (args) => {
    const backend = Wasm.backendOf(args.backend)
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo }
    const transA = args.attrs?.transposeA === true
    const transB = args.attrs?.transposeB === true
    const original = Override.original(ctx, tf.BatchMatMul)
    const attrs = args.attrs ?? {}
    if (a.dtype !== "float32" || b.dtype !== "float32") return original.kernelFunc(args)
    const d = dims(a, b, transA, transB)
    const native = ctx.native()
    if (native !== undefined && nativeBatchOk(d)) {
      return nativeGemm(backend, native, a, b, d, transA, transB, undefined, 0, 0)
    }
    if (!transA && !transB) return original.kernelFunc(args)
    return untransposed(original, backend, args.inputs, attrs, a, b, transA, transB)
  },
}

/**
 * `_FusedMatMul` override (bias and activation fused; used by `tf.fused.matMul` and layers).
 *
 * @example
 * ```ts
 * import * as MatMul from "./MatMul.js"
 * MatMul.fusedMatMul.kernelName // "_FusedMatMul"
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const fusedMatMul: Override.Override = {
  kernelName: tf._FusedMatMul,
  make: (ctx) => (args) => {
    const backend = Wasm.backendOf(args.backend)
    const { a, b, bias } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo }
    const transA = args.attrs?.transposeA === true
    const transB = args.attrs?.transposeB === true
    const original = Override.original(ctx, tf._FusedMatMul)
    const attrs = args.attrs ?? {}
    if (a.dtype !== "float32" || b.dtype !== "float32") return original.kernelFunc(args)
    const d = dims(a, b, transA, transB)
    const native = ctx.native()
    const { activation, leakyreluAlpha } = attrs
    const prelu = args.inputs.preluActivationWeights
    if (native !== undefined && nativeBatchOk(d)) {
      const mode = Epilogue.biasMode(bias, d.n)
      // With a bias the epilogue cannot fuse, the activation has to wait for the bias too.
      const act = mode === undefined ? undefined : Epilogue.activationCode(activation)
      let y = nativeGemm(
        backend,
        native,
        a,
        b,
        d,
        transA,
        transB,
        mode === undefined ? undefined : bias,
        mode ?? 0,
        act ?? 0,
      )
      if (mode === undefined && bias !== undefined) y = Epilogue.addBias(backend, y, bias)
      if (act === undefined) y = Epilogue.activate(backend, y, activation, prelu, leakyreluAlpha)
      return y
    }
    if (Epilogue.stockBias(bias, d.n)) {
      if (!transA && !transB) return original.kernelFunc(args)
      return untransposed(original, backend, args.inputs, attrs, a, b, transA, transB)
    }
    // Stock wasm reads only rank-1, per-column biases: product first, then bias, then activation.
    const linear = { ...attrs, activation: "linear" }
    let y =
      !transA && !transB
        ? Wasm.call(original, backend, { a, b }, linear)
        : untransposed(original, backend, { a, b }, linear, a, b, transA, transB)
    if (bias !== undefined) y = Epilogue.addBias(backend, y, bias)
    return Epilogue.activate(backend, y, activation, prelu, leakyreluAlpha)
  },
}
