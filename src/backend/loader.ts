/**
 * How Retort finds optional backend packages at run time. Every optional package
 * (`@tensorflow/tfjs-node`, `@tensorflow/tfjs-node-gpu`, `webgpu`, `@tensorflow/tfjs-backend-webgpu`)
 * is loaded through a {@link ModuleLoader}, so a missing package or a native binding that fails to
 * load is told apart and reported before any training starts. Tests and bundles may pass their own
 * loader; it only decides *where a module comes from*, never what it computes.
 *
 * @example
 * ```ts
 * import * as Loader from "./loader.js"
 * const mod = await Loader.dynamicImport("node:path")
 * ```
 *
 * @since 0.1.0
 */
import { createRequire } from "node:module"

/**
 * Loads a module by its specifier, like a dynamic `import()`. Rejects when the module cannot be
 * found or its evaluation throws (a native binding that fails to load, for instance).
 *
 * @example
 * ```ts
 * import type { ModuleLoader } from "./loader.js"
 * const loader: ModuleLoader = (specifier) => import(specifier)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ModuleLoader = (specifier: string) => Promise<unknown>

/**
 * The default {@link ModuleLoader}: Node's dynamic `import()`.
 *
 * @example
 * ```ts
 * import * as Loader from "./loader.js"
 * const { join } = (await Loader.dynamicImport("node:path")) as typeof import("node:path")
 * ```
 *
 * @since 0.1.0
 * @category loaders
 */
export const dynamicImport: ModuleLoader = (specifier) => import(specifier)

const notFoundCodes = new Set(["ERR_MODULE_NOT_FOUND", "MODULE_NOT_FOUND"])

/**
 * Whether `error` says that the package `specifier` itself is not installed (as opposed to the
 * package being present but failing to load, or one of *its* dependencies being missing, which
 * are reported with the underlying cause instead).
 *
 * @example
 * ```ts
 * import * as Loader from "./loader.js"
 * const error = await Loader.dynamicImport("@tensorflow/tfjs-node").catch((e: unknown) => e)
 * Loader.isModuleNotFound(error, "@tensorflow/tfjs-node") // true when it is not installed
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isModuleNotFound = (error: unknown, specifier: string): boolean => {
  if (typeof error !== "object" || error === null) return false
  const code = (error as { code?: unknown }).code
  if (typeof code !== "string" || !notFoundCodes.has(code)) return false
  const message = String((error as { message?: unknown }).message ?? "")
  // Node: "Cannot find package '@tensorflow/tfjs-node' imported from …" or
  // "Cannot find module '@tensorflow/tfjs-node'": it must be *this* package that is missing.
  return message.includes(`'${specifier}'`) || message.includes(`"${specifier}"`)
}

const require = createRequire(import.meta.url)

/**
 * Whether `pkg` resolves from Retort's location, without evaluating it (so without side effects
 * such as tfjs-node switching the active backend).
 *
 * @example
 * ```ts
 * import * as Loader from "./loader.js"
 * Loader.isInstalled("@tensorflow/tfjs-core") // true
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isInstalled = (pkg: string): boolean => packageJsonPath(pkg) !== undefined

/**
 * The `version` in `pkg`'s package.json, or `undefined` when it is not installed.
 *
 * @example
 * ```ts
 * import * as Loader from "./loader.js"
 * Loader.packageVersion("@tensorflow/tfjs-core") // "4.22.0"
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const packageVersion = (pkg: string): string | undefined => {
  const path = packageJsonPath(pkg)
  if (path === undefined) return undefined
  try {
    const json = require(path) as { version?: unknown }
    return typeof json.version === "string" ? json.version : undefined
  } catch {
    return undefined
  }
}

/**
 * The directory holding `pkg`'s entry point (for a package that ships data files beside its code,
 * e.g. the `.wasm` binaries of `@tensorflow/tfjs-backend-wasm`), or `undefined` when it is not
 * installed.
 *
 * @example
 * ```ts
 * import * as Loader from "./loader.js"
 * Loader.entryDirectory("@tensorflow/tfjs-backend-wasm") // ".../node_modules/@tensorflow/tfjs-backend-wasm/dist"
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const entryDirectory = (pkg: string): string | undefined => {
  try {
    const entry = require.resolve(pkg)
    return entry.slice(0, Math.max(entry.lastIndexOf("/"), entry.lastIndexOf("\\")))
  } catch {
    return undefined
  }
}

const packageJsonPath = (pkg: string): string | undefined => {
  try {
    return require.resolve(`${pkg}/package.json`)
  } catch {
    // Packages with an "exports" map that hides package.json: walk up from the entry point.
    const dir = entryDirectory(pkg)
    if (dir === undefined) return undefined
    const marker = `/node_modules/${pkg}`
    const at = dir.replaceAll("\\", "/").lastIndexOf(marker)
    return at < 0 ? undefined : `${dir.slice(0, at + marker.length)}/package.json`
  }
}
