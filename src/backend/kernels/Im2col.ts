/**
 * im2col / col2im on typed arrays (NHWC input, HWIO filter order), for the pure-JS
 * convolution path: a convolution becomes one matrix product on stock wasm's XNNPACK path.
 * Row `r = (n, oy, ox)` of the im2col matrix holds the input window of output pixel `r`, in
 * the filter's `(kh, kw, cin)` order, zeros where the window leaves the (padded) input.
 *
 * @example
 * ```ts
 * import * as Im2col from "./Im2col.js"
 * const g: Im2col.Geometry = [1, 2, 2, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0]
 * const col = new Float32Array(4)
 * Im2col.im2col(new Float32Array([1, 2, 3, 4]), col, g) // col = [1, 2, 3, 4]
 * ```
 *
 * @since 0.1.0
 */

/**
 * `[n, h, w, cin, kh, kw, cout, oh, ow, strideH, strideW, dilationH, dilationW, padTop, padLeft]`
 * (the same order as the native addon's convolution geometry).
 *
 * @example
 * ```ts
 * import type * as Im2col from "./Im2col.js"
 * const g: Im2col.Geometry = [1, 5, 5, 1, 3, 3, 2, 5, 5, 1, 1, 1, 1, 1, 1]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Geometry = readonly [
  n: number,
  h: number,
  w: number,
  cin: number,
  kh: number,
  kw: number,
  cout: number,
  oh: number,
  ow: number,
  sh: number,
  sw: number,
  dh: number,
  dw: number,
  pt: number,
  pl: number,
]

/**
 * Writes the im2col matrix of `x` (`[n·oh·ow, kh·kw·cin]`, row-major) into `col`.
 *
 * @example
 * ```ts
 * import * as Im2col from "./Im2col.js"
 * const col = new Float32Array(9)
 * Im2col.im2col(new Float32Array([5]), col, [1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1])
 * col[4] // 5, the centre tap; the rest is padding
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export function im2col(x: Float32Array, col: Float32Array, g: Geometry): void {
  const [n, h, w, cin, kh, kw, , oh, ow, sh, sw, dh, dw, pt, pl] = g
  let d = 0
  for (let b = 0; b < n; b++) {
    const xb = b * h * w * cin
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let i = 0; i < kh; i++) {
          const iy = oy * sh + i * dh - pt
          if (iy < 0 || iy >= h) {
            col.fill(0, d, d + kw * cin)
            d += kw * cin
            continue
          }
          const xr = xb + iy * w * cin
          for (let j = 0; j < kw; j++) {
            const ix = ox * sw + j * dw - pl
            if (ix < 0 || ix >= w) {
              col.fill(0, d, d + cin)
              d += cin
              continue
            }
            const s = xr + ix * cin
            for (let q = 0; q < cin; q++) col[d++] = x[s + q]!
          }
        }
      }
    }
  }
}

/**
 * Writes the *transposed* im2col matrix (`[kh·kw·cin, n·oh·ow]`) into `colT`, row by row, so
 * that `colTᵀ`-products need no transposition afterwards.
 *
 * @example
 * ```ts
 * import * as Im2col from "./Im2col.js"
 * const colT = new Float32Array(4)
 * Im2col.im2colT(new Float32Array([1, 2, 3, 4]), colT, [1, 2, 2, 1, 1, 1, 1, 2, 2, 1, 1, 1, 1, 0, 0])
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export function im2colT(x: Float32Array, colT: Float32Array, g: Geometry): void {
  const [n, h, w, cin, kh, kw, , oh, ow, sh, sw, dh, dw, pt, pl] = g
  const rows = n * oh * ow
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let q = 0; q < cin; q++) {
        let d = ((i * kw + j) * cin + q) * rows
        for (let b = 0; b < n; b++) {
          const xb = b * h * w * cin + q
          for (let oy = 0; oy < oh; oy++) {
            const iy = oy * sh + i * dh - pt
            if (iy < 0 || iy >= h) {
              colT.fill(0, d, d + ow)
              d += ow
              continue
            }
            const xr = xb + iy * w * cin
            for (let ox = 0; ox < ow; ox++) {
              const ix = ox * sw + j * dw - pl
              colT[d++] = ix < 0 || ix >= w ? 0 : x[xr + ix * cin]!
            }
          }
        }
      }
    }
  }
}

/**
 * Scatter-adds an im2col-shaped matrix back into `dx` (which it zeroes first): the input
 * gradient from the gradient of the im2col matrix.
 *
 * @example
 * ```ts
 * import * as Im2col from "./Im2col.js"
 * const dx = new Float32Array(1)
 * Im2col.col2im(new Float32Array(9).fill(1), dx, [1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1])
 * dx[0] // 1: only the centre tap touches the input
 * ```
 *
 * @since 0.1.0
 * @category kernels
 */
export function col2im(col: Float32Array, dx: Float32Array, g: Geometry): void {
  const [n, h, w, cin, kh, kw, , oh, ow, sh, sw, dh, dw, pt, pl] = g
  dx.fill(0)
  let s = 0
  for (let b = 0; b < n; b++) {
    const xb = b * h * w * cin
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let i = 0; i < kh; i++) {
          const iy = oy * sh + i * dh - pt
          if (iy < 0 || iy >= h) {
            s += kw * cin
            continue
          }
          const xr = xb + iy * w * cin
          for (let j = 0; j < kw; j++) {
            const ix = ox * sw + j * dw - pl
            if (ix < 0 || ix >= w) {
              s += cin
              continue
            }
            const t = xr + ix * cin
            for (let q = 0; q < cin; q++) dx[t + q] = dx[t + q]! + col[s++]!
          }
        }
      }
    }
  }
}
