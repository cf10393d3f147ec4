/**
 * The shape of one Retort kernel override: a kernel name and a factory that, given the wasm
 * kernel it replaces and access to the native addon, builds the replacement `kernelFunc`.
 * The mode (native or pure) is read at call time, so re-registration switches paths.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import type * as Override from "./Override.js"
 * const identity: Override.Override = {
 *   kernelName: "Identity",
 *   make: (ctx) => (args) => ctx.original!.kernelFunc(args),
 * }
 * ```
 *
 * @since 0.1.0
 */
import type * as tf from "@tensorflow/tfjs-core"
import type * as Native from "./Native.js"

/**
 * What an override may use: the replaced wasm kernel (absent when stock wasm has none), any
 * stock wasm kernel by name (the original even where Retort overrides it), and the native addon
 * when the native path is enabled.
 *
 * @example
 * ```ts
 * import type * as Override from "./Override.js"
 * const ctx: Override.Context = { original: undefined, stock: () => undefined, native: () => undefined }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly original: tf.KernelConfig | undefined
  readonly stock: (kernelName: string) => tf.KernelConfig | undefined
  readonly native: () => Native.Addon | undefined
}

/**
 * A kernel override for the "wasm" backend.
 *
 * @example
 * ```ts
 * import type * as Override from "./Override.js"
 * const names = (os: ReadonlyArray<Override.Override>) => os.map((o) => o.kernelName)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Override {
  readonly kernelName: string
  readonly make: (ctx: Context) => tf.KernelFunc
}

/**
 * A stock wasm kernel by name, or an error naming it when stock wasm has none.
 *
 * @example
 * ```ts
 * import * as Override from "./Override.js"
 * // Override.stock(ctx, "BatchMatMul").kernelFunc(args)
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export function stock(ctx: Context, name: string): tf.KernelConfig {
  const config = ctx.stock(name)
  if (config === undefined) throw new Error(`retort kernels: wasm has no ${name} kernel`)
  return config
}

/**
 * The original kernel, or an error naming it when stock wasm has none.
 *
 * @example
 * ```ts
 * import * as Override from "./Override.js"
 * // Override.original(ctx, "BatchMatMul").kernelFunc(args)
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export function original(ctx: Context, name: string): tf.KernelConfig {
  if (ctx.original === undefined)
    throw new Error(`retort kernels: wasm has no ${name} kernel to fall back to`)
  return ctx.original
}
