/**
 * 2-D convolutions for the wasm backend (NHWC, float32), all lowered to one matrix product:
 *
 * - `Conv2D`, `FusedConv2D`: `im2col(x) · W` (+ bias, activation).
 * - `Conv2DBackpropFilter` (stock wasm has none): `im2col(x)ᵀ · dy`.
 * - `Conv2DBackpropInput` (a scalar loop in stock wasm): `col2im(dy · Wᵀ)`.
 *
 * Native path: the addon does im2col/col2im and its own sgemm in cache-sized chunks (direct
 * loops for short rows, e.g. single-channel inputs), bias and ReLU fused. Pure path:
 * im2col/col2im in typed-array JS on the wasm heap and the product on stock wasm's XNNPACK
 * matmul. Stock wasm's own XNNPACK convolution corrupts memory or returns zeros for some small
 * geometries (tensorflow/tfjs#7605, #5904, #8405), so the pure forward pass uses it only for
 * geometries {@link stockSafe} admits (it is ~2× faster than im2col there).
 *
 * @example
 * ```ts
 * import * as Conv from "./Conv.js"
 * Conv.conv2DBackpropFilter.kernelName // "Conv2DBackpropFilter"
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Epilogue from "./Epilogue.js"
import * as Im2col from "./Im2col.js"
import type * as Native from "./Native.js"
import * as Override from "./Override.js"
import * as Wasm from "./Wasm.js"

type Shape4 = [number, number, number, number]

function geometry(info: tf.backend_util.Conv2DInfo): Native.ConvGeometry {
  return [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.filterHeight,
    info.filterWidth,
    info.outChannels,
    info.outHeight,
    info.outWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
  ]
}

function channelsLast(dataFormat: unknown): boolean {
  return dataFormat === undefined || dataFormat === "NHWC"
}

function convInfo(
  xShape: ReadonlyArray<number>,
  filterShape: ReadonlyArray<number>,
  attrs: tf.NamedAttrMap,
  dilations: unknown,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    [...xShape] as Shape4,
    [...filterShape] as Shape4,
    attrs.strides as [number, number] | number,
    (dilations ?? 1) as [number, number] | number,
    attrs.pad as "same" | "valid" | number | tf.backend_util.ExplicitPadding,
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
    false,
    "channelsLast",
  )
}

const rowsOf = (info: tf.backend_util.Conv2DInfo): number => info.batchSize * info.outHeight * info.outWidth
const depthOf = (info: tf.backend_util.Conv2DInfo): number =>
  info.filterHeight * info.filterWidth * info.inChannels

/** 1×1, stride 1, unpadded: the input already is its im2col matrix. */
function pointwise(info: tf.backend_util.Conv2DInfo): boolean {
  return (
    info.filterHeight === 1 &&
    info.filterWidth === 1 &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    info.outHeight === info.inHeight &&
    info.outWidth === info.inWidth
  )
}

/**
 * Whether stock wasm's XNNPACK convolution is trusted with this geometry: "same"/"valid"
 * padding, no dilation, the input at least as large as the filter and strides no larger than
 * it. (A randomised scan of such geometries against tfjs-cpu found no mismatch; the known
 * failures all fall outside.)
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Conv from "./Conv.js"
 * Conv.stockSafe(tf.backend_util.computeConv2DInfo([1, 28, 28, 1], [3, 3, 1, 8], 1, 1, "same"), "same") // true
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export function stockSafe(info: tf.backend_util.Conv2DInfo, pad: unknown): boolean {
  return (
    (pad === "same" || pad === "valid") &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    info.inHeight >= info.filterHeight &&
    info.inWidth >= info.filterWidth &&
    info.strideHeight <= info.filterHeight &&
    info.strideWidth <= info.filterWidth
  )
}

/** The im2col matrix of `x` as a heap tensor `[rows, K]` (a view of `x` when pointwise). */
function im2colTensor(
  backend: Wasm.Backend,
  x: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const shape = [rowsOf(info), depthOf(info)]
  if (pointwise(info)) return Wasm.view(x, shape)
  const col = backend.makeOutput(shape, "float32")
  Im2col.im2col(Wasm.f32(backend, x), Wasm.f32(backend, col), geometry(info))
  return col
}

function nativeForward(
  backend: Wasm.Backend,
  native: Native.Addon,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  mode: number,
  act: number,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const out = backend.makeOutput([...info.outShape], "float32")
  native.conv2d(
    backend.wasm.HEAPU8,
    Wasm.offset(backend, x),
    Wasm.offset(backend, filter),
    Wasm.offset(backend, out),
    bias === undefined ? 0 : Wasm.offset(backend, bias),
    mode,
    act,
    ...geometry(info),
  )
  return out
}

/**
 * Pure forward: `im2col(x) · W` on XNNPACK through stock `_FusedMatMul` (which fuses a rank-1
 * per-channel bias and every tfjs activation); other biases are added afterwards.
 */
function pureForward(
  ctx: Override.Context,
  backend: Wasm.Backend,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  prelu: tf.TensorInfo | undefined,
  attrs: tf.NamedAttrMap,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const col = im2colTensor(backend, x, info)
  const w = Wasm.view(filter, [depthOf(info), info.outChannels])
  const fusable = Epilogue.stockBias(bias, info.outChannels)
  const inputs: tf.NamedTensorInfoMap = {
    a: Wasm.view(col, [1, ...col.shape]),
    b: Wasm.view(w, [1, ...w.shape]),
  }
  if (fusable && bias !== undefined) inputs.bias = bias
  if (fusable && prelu !== undefined) inputs.preluActivationWeights = prelu
  let y: tf.TensorInfo
  try {
    y = Wasm.call(Override.stock(ctx, tf._FusedMatMul), backend, inputs, {
      transposeA: false,
      transposeB: false,
      activation: fusable ? (attrs.activation ?? "linear") : "linear",
      leakyreluAlpha: attrs.leakyreluAlpha ?? 0.2,
    })
  } finally {
    if (col.dataId !== x.dataId) Wasm.release(backend, col)
  }
  if (!fusable) {
    if (bias !== undefined) y = Epilogue.addBias(backend, y, bias)
    y = Epilogue.activate(backend, y, attrs.activation, prelu, attrs.leakyreluAlpha)
  }
  return Wasm.view(y, info.outShape)
}

/**
 * `Conv2D` override: native im2col + sgemm, else im2col + XNNPACK matmul.
 *
 * @example
 * ```ts
 * import * as Conv from "./Conv.js"
 * Conv.conv2D.kernelName // "Conv2D"
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const conv2D: Override.Override = {
  kernelName: tf.Conv2D,
  make: (ctx) => (args) => {
    const attrs = args.attrs ?? {}
    const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo }
    if (!channelsLast(attrs.dataFormat) || x.dtype !== "float32" || filter.dtype !== "float32") {
      return Override.original(ctx, tf.Conv2D).kernelFunc(args)
    }
    const backend = Wasm.backendOf(args.backend)
    const info = convInfo(x.shape, filter.shape, attrs, attrs.dilations)
    const native = ctx.native()
    if (native !== undefined) return nativeForward(backend, native, x, filter, undefined, 0, 0, info)
    if (stockSafe(info, attrs.pad)) return Override.original(ctx, tf.Conv2D).kernelFunc(args)
    return pureForward(ctx, backend, x, filter, undefined, undefined, { activation: "linear" }, info)
  },
}

/**
 * `FusedConv2D` override (bias + activation; natively a per-channel or scalar bias and ReLU are
 * fused, anything else is applied after the product with stock wasm kernels).
 *
 * @example
 * ```ts
 * import * as Conv from "./Conv.js"
 * Conv.fusedConv2D.kernelName // "FusedConv2D"
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const fusedConv2D: Override.Override = {
  kernelName: tf.FusedConv2D,
  make: (ctx) => (args) => {
    const attrs = args.attrs ?? {}
    const {
      x,
      filter,
      bias,
      preluActivationWeights: prelu,
    } = args.inputs as {
      x: tf.TensorInfo
      filter: tf.TensorInfo
      bias?: tf.TensorInfo
      preluActivationWeights?: tf.TensorInfo
    }
    if (!channelsLast(attrs.dataFormat) || x.dtype !== "float32" || filter.dtype !== "float32") {
      return Override.original(ctx, tf.FusedConv2D).kernelFunc(args)
    }
    const backend = Wasm.backendOf(args.backend)
    const info = convInfo(x.shape, filter.shape, attrs, attrs.dilations)
    const native = ctx.native()
    if (native === undefined) {
      if (stockSafe(info, attrs.pad) && Epilogue.stockBias(bias, info.outChannels)) {
        return Override.original(ctx, tf.FusedConv2D).kernelFunc(args)
      }
      return pureForward(ctx, backend, x, filter, bias, prelu, attrs, info)
    }
    const mode = Epilogue.biasMode(bias, info.outChannels)
    // With a bias the epilogue cannot fuse, the activation has to wait for the bias too.
    const act = mode === undefined ? undefined : Epilogue.activationCode(attrs.activation)
    let y = nativeForward(
      backend,
      native,
      x,
      filter,
      mode === undefined ? undefined : bias,
      mode ?? 0,
      act ?? 0,
      info,
    )
    if (mode === undefined && bias !== undefined) y = Epilogue.addBias(backend, y, bias)
    if (act === undefined) y = Epilogue.activate(backend, y, attrs.activation, prelu, attrs.leakyreluAlpha)
    return y
  },
}

/** Pure dW = im2col(x)ᵀ · dy: the transposed im2col is written directly, the product is XNNPACK's. */
function pureBackpropFilter(
  ctx: Override.Context,
  backend: Wasm.Backend,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const rows = rowsOf(info)
  const depth = depthOf(info)
  const colT = backend.makeOutput([1, depth, rows], "float32")
  Im2col.im2colT(Wasm.f32(backend, x), Wasm.f32(backend, colT), geometry(info))
  try {
    const dw = Wasm.call(
      Override.stock(ctx, tf.BatchMatMul),
      backend,
      { a: colT, b: Wasm.view(dy, [1, rows, info.outChannels]) },
      { transposeA: false, transposeB: false },
    )
    return Wasm.view(dw, info.filterShape)
  } finally {
    Wasm.release(backend, colT)
  }
}

/**
 * `Conv2DBackpropFilter` (missing from stock wasm).
 *
 * @example
 * ```ts
 * import * as Conv from "./Conv.js"
 * Conv.conv2DBackpropFilter.kernelName // "Conv2DBackpropFilter"
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const conv2DBackpropFilter: Override.Override = {
  kernelName: tf.Conv2DBackpropFilter,
  make: (ctx) => (args) => {
    const attrs = args.attrs ?? {}
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo }
    if (!channelsLast(attrs.dataFormat) || x.dtype !== "float32" || dy.dtype !== "float32") {
      throw new Error("retort kernels: Conv2DBackpropFilter on wasm supports float32 NHWC only")
    }
    const backend = Wasm.backendOf(args.backend)
    const info = convInfo(x.shape, attrs.filterShape as Shape4, attrs, 1)
    const native = ctx.native()
    if (native === undefined) return pureBackpropFilter(ctx, backend, x, dy, info)
    const out = backend.makeOutput([...info.filterShape], "float32")
    native.conv2dBackpropFilter(
      backend.wasm.HEAPU8,
      Wasm.offset(backend, x),
      Wasm.offset(backend, dy),
      Wasm.offset(backend, out),
      ...geometry(info),
    )
    return out
  },
}

/** Pure dx = col2im(dy · Wᵀ): the product on XNNPACK (Wᵀ materialised, it is small), col2im in JS. */
function pureBackpropInput(
  ctx: Override.Context,
  backend: Wasm.Backend,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const rows = rowsOf(info)
  const depth = depthOf(info)
  const wt = Wasm.transpose(backend, Wasm.view(filter, [depth, info.outChannels]), [1, 0])
  let dcol: tf.TensorInfo | undefined
  try {
    dcol = Wasm.call(
      Override.stock(ctx, tf.BatchMatMul),
      backend,
      { a: Wasm.view(dy, [1, rows, info.outChannels]), b: Wasm.view(wt, [1, info.outChannels, depth]) },
      { transposeA: false, transposeB: false },
    )
    if (pointwise(info)) {
      const out = dcol
      dcol = undefined
      return Wasm.view(out, info.inShape)
    }
    const dx = backend.makeOutput([...info.inShape], "float32")
    Im2col.col2im(Wasm.f32(backend, dcol), Wasm.f32(backend, dx), geometry(info))
    return dx
  } finally {
    Wasm.release(backend, wt, dcol)
  }
}

/**
 * `Conv2DBackpropInput` override.
 *
 * @example
 * ```ts
 * import * as Conv from "./Conv.js"
 * Conv.conv2DBackpropInput.kernelName // "Conv2DBackpropInput"
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export const conv2DBackpropInput: Override.Override = {
  kernelName: tf.Conv2DBackpropInput,
  make: (ctx) => (args) => {
    const attrs = args.attrs ?? {}
    const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo }
    if (!channelsLast(attrs.dataFormat) || dy.dtype !== "float32" || filter.dtype !== "float32") {
      return Override.original(ctx, tf.Conv2DBackpropInput).kernelFunc(args)
    }
    const backend = Wasm.backendOf(args.backend)
    const info = convInfo(attrs.inputShape as Shape4, filter.shape, attrs, 1)
    const native = ctx.native()
    if (native === undefined) return pureBackpropInput(ctx, backend, dy, filter, info)
    const out = backend.makeOutput([...info.inShape], "float32")
    native.conv2dBackpropInput(
      backend.wasm.HEAPU8,
      Wasm.offset(backend, dy),
      Wasm.offset(backend, filter),
      Wasm.offset(backend, out),
      ...geometry(info),
    )
    return out
  },
}
