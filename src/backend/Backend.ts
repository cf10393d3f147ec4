/**
 * The `Backend` service: which TensorFlow.js backend executes Retort's tensors, initialised once
 * per run before any training starts.
 *
 * | kind             | package                               | notes                                        |
 * |------------------|---------------------------------------|----------------------------------------------|
 * | `wasm` (default) | `@tensorflow/tfjs-backend-wasm`       | + Retort's kernel overrides (`kernels/`)      |
 * | `cpu`            | `@tensorflow/tfjs-backend-cpu`        | pure JS, slow; reference for tests           |
 * | `tensorflow`     | `@tensorflow/tfjs-node` (optional)    | libtensorflow on the CPU                     |
 * | `tensorflow-gpu` | `@tensorflow/tfjs-node-gpu` (optional)| libtensorflow on CUDA                        |
 * | `webgpu`         | `webgpu` + `@tensorflow/tfjs-backend-webgpu` (optional) | Dawn: Vulkan / GL ES |
 * | `auto`           | tensorflow-gpu, then tensorflow, else wasm | whichever loads first                   |
 *
 * A backend whose package is missing fails with a `BackendError` carrying the exact `npm install`
 * command; a package that is present but whose native binding does not load fails with a different
 * message that includes the underlying cause.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Backend, describeBackend } from "./Backend.js"
 * const program = Effect.gen(function* () {
 *   const backend = yield* Backend
 *   const x = backend.tf.tensor1d([1, 2, 3])
 *   console.log(yield* describeBackend, yield* Effect.promise(() => backend.read(x)))
 * })
 * Effect.runPromise(Effect.provide(program, Backend.layer({ kind: "wasm" })))
 * ```
 *
 * @since 0.1.0
 */
import * as tfCpu from "@tensorflow/tfjs-backend-cpu"
import * as tfWasm from "@tensorflow/tfjs-backend-wasm"
import * as tf from "@tensorflow/tfjs-core"
import { Context, Effect, Layer, type Scope } from "effect"
import { BackendError } from "../errors.js"
import { type KernelReport, registerWasmKernels } from "./kernels/index.js"
import * as Loader from "./loader.js"
import * as WebGpu from "./webgpu/WebGpu.js"

/**
 * Every backend kind that can be asked for.
 *
 * @example
 * ```ts
 * import { kinds } from "./Backend.js"
 * console.log(kinds.join(", "))
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const kinds = ["auto", "wasm", "cpu", "tensorflow", "tensorflow-gpu", "webgpu"] as const

/**
 * A backend kind: see the table in the module documentation.
 *
 * @example
 * ```ts
 * import type { Kind } from "./Backend.js"
 * const kind: Kind = "webgpu"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = (typeof kinds)[number]

/**
 * The backend kind actually in use (`auto` resolved).
 *
 * @example
 * ```ts
 * import type { ResolvedKind } from "./Backend.js"
 * const kind: ResolvedKind = "wasm"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ResolvedKind = Exclude<Kind, "auto">

/**
 * Whether `u` names a backend kind.
 *
 * @example
 * ```ts
 * import { isKind } from "./Backend.js"
 * isKind("wasm") // true
 * isKind("webgl") // false
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isKind = (u: unknown): u is Kind =>
  typeof u === "string" && (kinds as ReadonlyArray<string>).includes(u)

/**
 * Options of {@link Backend.layer}.
 *
 * - `kind`: default `"wasm"`. A string that is not a {@link Kind} fails with the list of kinds.
 * - `native`, `threads`: passed to the wasm kernel overrides (`native: false` forces the pure
 *   wasm/JS kernels); `kernels: false` skips the overrides altogether (stock tfjs-wasm).
 * - `loader`: how optional packages are imported (default: dynamic `import()`).
 * - `webgpu`: adapter choice for the `webgpu` kind.
 * - `wasmPath`: directory holding tfjs-wasm's `.wasm` files (default: beside its entry point).
 *
 * @example
 * ```ts
 * import type { Options } from "./Backend.js"
 * const options: Options = { kind: "wasm", native: false }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly kind?: Kind | (string & {})
  readonly native?: boolean
  readonly threads?: number
  readonly kernels?: boolean
  readonly loader?: Loader.ModuleLoader
  readonly webgpu?: WebGpu.Options
  readonly wasmPath?: string
}

/**
 * What was initialised: package versions, the wasm kernel report, the WebGPU adapter, whether
 * libtensorflow found a CUDA device, and notes (e.g. why `auto` passed a backend over).
 *
 * @example
 * ```ts
 * import type { Info } from "./Backend.js"
 * const native = (info: Info) => info.kernels?.native === true
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Info {
  readonly requested: Kind
  readonly packageVersions: Readonly<Record<string, string>>
  readonly kernels?: KernelReport
  readonly adapter?: string
  readonly webgpu?: WebGpu.AdapterReport
  readonly gpuDevice?: boolean
  readonly notes: ReadonlyArray<string>
}

/**
 * The service a {@link Backend} layer provides.
 *
 * - `kind`: the resolved kind; `name`: `tf.getBackend()`.
 * - `tf`: the tfjs-core namespace, with this backend active and gradients registered.
 * - `read(t)`: asynchronous read-back (`await t.data()`); the only read that works on every
 *   backend (`dataSync` throws on webgpu). Rejects with a `BackendError` when the GPU reported
 *   errors since the previous read, since its results would then be garbage.
 * - `readScalar(t)`: the first element of `t` as a number.
 * - `syncReads`: whether `dataSync`/`arraySync` work on this backend.
 *
 * @example
 * ```ts
 * import type { BackendService } from "./Backend.js"
 * const loss = async (b: BackendService, t: import("@tensorflow/tfjs-core").Tensor) => b.readScalar(t)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface BackendService {
  readonly kind: ResolvedKind
  readonly name: string
  readonly tf: typeof tf
  readonly info: Info
  readonly read: (tensor: tf.Tensor) => Promise<Float32Array | Int32Array | Uint8Array>
  readonly readScalar: (tensor: tf.Tensor) => Promise<number>
  readonly syncReads: boolean
}

interface NodePackage {
  readonly specifier: string
  readonly install: string
  readonly needs: string
}

const nodePackages: Record<"tensorflow" | "tensorflow-gpu", NodePackage> = {
  tensorflow: {
    specifier: "@tensorflow/tfjs-node",
    install: "npm install @tensorflow/tfjs-node",
    needs: "its install script downloads libtensorflow 2.9.1 (CPU) from storage.googleapis.com",
  },
  "tensorflow-gpu": {
    specifier: "@tensorflow/tfjs-node-gpu",
    install: "npm install @tensorflow/tfjs-node-gpu",
    needs:
      "its install script downloads libtensorflow 2.9.1 with GPU support, which needs an NVIDIA GPU with " +
      "driver >= 450.x, CUDA Toolkit 11.2 and cuDNN SDK 8.1.0 " +
      "(see https://github.com/tensorflow/tfjs/tree/master/tfjs-node#installing)",
  },
}

const validKinds = kinds.map((k) => `"${k}"`).join(", ")

const messageOf = (cause: unknown): string =>
  cause instanceof Error ? cause.message.split("\n")[0]! : String(cause)

const tfjsCoreVersion = (): Record<string, string> => ({ "@tensorflow/tfjs-core": tf.version_core })

const ensureGradients = async (): Promise<void> => {
  if (tf.getGradient("Relu") !== undefined) return
  try {
    await import("@tensorflow/tfjs-core/dist/register_all_gradients.js")
  } catch (first) {
    // Plain Node (tsx) cannot import tfjs-core's ESM build (it uses directory imports);
    // tfjs-layers' CommonJS bundle registers the same gradients into the shared registry.
    const layers = "@tensorflow/tfjs-layers"
    try {
      await import(layers)
    } catch {
      throw new BackendError({
        backend: tf.getBackend() ?? "none",
        message: `could not register tfjs gradients: ${messageOf(first)}`,
        cause: first,
      })
    }
  }
  if (tf.getGradient("Relu") === undefined) {
    throw new BackendError({
      backend: tf.getBackend() ?? "none",
      message: "tfjs gradients are not registered",
    })
  }
}

/** Makes `name` the active tfjs backend, returning the error its factory threw (if any). */
const activate = async (name: string): Promise<{ readonly ok: boolean; readonly cause?: unknown }> => {
  const engine = tf.engine()
  const entry = engine.registryFactory[name]
  if (entry === undefined) return { ok: false, cause: new Error(`no "${name}" backend is registered`) }
  let cause: unknown
  const original = entry.factory
  engine.registryFactory[name] = {
    priority: entry.priority,
    factory: () => {
      try {
        const made = original()
        return made instanceof Promise
          ? made.catch((e: unknown) => {
              cause = e
              throw e
            })
          : made
      } catch (e) {
        cause = e
        throw e
      }
    },
  }
  try {
    const ok = await tf.setBackend(name)
    return ok ? { ok } : { ok, cause }
  } catch (e) {
    return { ok: false, cause: e }
  } finally {
    const current = engine.registryFactory[name]
    if (current !== undefined)
      engine.registryFactory[name] = { priority: current.priority, factory: original }
  }
}

let wasmPathSet = false

const initWasm = async (options: Options, requested: Kind, notes: ReadonlyArray<string>): Promise<Init> => {
  if (!wasmPathSet) {
    const dir = options.wasmPath ?? Loader.entryDirectory("@tensorflow/tfjs-backend-wasm")
    if (dir === undefined) {
      throw new BackendError({
        backend: "wasm",
        message: "cannot locate @tensorflow/tfjs-backend-wasm's .wasm files",
        install: "npm install @tensorflow/tfjs-backend-wasm",
      })
    }
    try {
      tfWasm.setWasmPaths(dir.endsWith("/") ? dir : `${dir}/`)
      wasmPathSet = true
    } catch {
      // Already initialised by someone else with their own paths: keep them.
      wasmPathSet = true
    }
  }
  const { ok, cause } = await activate("wasm")
  if (!ok) {
    throw new BackendError({
      backend: "wasm",
      message: `the wasm backend failed to initialise: ${messageOf(cause)}`,
      cause,
    })
  }
  let kernels: KernelReport | undefined
  if (options.kernels !== false) {
    try {
      kernels = registerWasmKernels({
        ...(options.native !== undefined ? { native: options.native } : {}),
        ...(options.threads !== undefined ? { threads: options.threads } : {}),
      })
    } catch (cause) {
      throw new BackendError({
        backend: "wasm",
        message: `registering Retort's wasm kernels failed: ${messageOf(cause)}`,
        cause,
      })
    }
  }
  return {
    kind: "wasm",
    info: {
      requested,
      packageVersions: { ...tfjsCoreVersion(), "@tensorflow/tfjs-backend-wasm": tfWasm.version_wasm },
      ...(kernels !== undefined ? { kernels } : {}),
      notes,
    },
  }
}

const initCpu = async (requested: Kind, notes: ReadonlyArray<string>): Promise<Init> => {
  const { ok, cause } = await activate("cpu")
  if (!ok) {
    throw new BackendError({ backend: "cpu", message: `the cpu backend failed: ${messageOf(cause)}`, cause })
  }
  return {
    kind: "cpu",
    info: {
      requested,
      packageVersions: { ...tfjsCoreVersion(), "@tensorflow/tfjs-backend-cpu": tfCpu.version_cpu },
      notes,
    },
  }
}

const initNode = async (
  kind: "tensorflow" | "tensorflow-gpu",
  loader: Loader.ModuleLoader,
  requested: Kind,
  notes: ReadonlyArray<string>,
): Promise<Init> => {
  const pkg = nodePackages[kind]
  try {
    await loader(pkg.specifier)
  } catch (cause) {
    // Not installed: the import says so, or (with the default loader, whose error text depends on
    // the runtime — Node, a bundler, vitest) the package does not resolve at all.
    const missing =
      Loader.isModuleNotFound(cause, pkg.specifier) ||
      (loader === Loader.dynamicImport && !Loader.isInstalled(pkg.specifier))
    if (missing) {
      throw new BackendError({
        backend: kind,
        message:
          `backend "${kind}" needs the optional package ${pkg.specifier}, which is not installed. ` +
          `Install it with: ${pkg.install} (${pkg.needs}).`,
        install: pkg.install,
        cause,
      })
    }
    throw new BackendError({
      backend: kind,
      message:
        `${pkg.specifier} is installed but its native binding failed to load: ${messageOf(cause)}. ` +
        `Try \`npm rebuild ${pkg.specifier}\`${kind === "tensorflow-gpu" ? "; check that the CUDA 11.2 and cuDNN 8.1 libraries are on the library path (LD_LIBRARY_PATH)" : ""}.`,
      cause,
    })
  }
  const { ok, cause } = await activate("tensorflow")
  if (!ok) {
    throw new BackendError({
      backend: kind,
      message:
        `${pkg.specifier} loaded but its "tensorflow" backend failed to initialise (its native binding did not load): ${messageOf(cause)}. ` +
        `It must share @tensorflow/tfjs-core ${tf.version_core} with Retort.`,
      cause,
    })
  }
  const backend = tf.backend() as { isUsingGpuDevice?: unknown }
  const gpuDevice = typeof backend.isUsingGpuDevice === "boolean" ? backend.isUsingGpuDevice : undefined
  const version = Loader.packageVersion(pkg.specifier)
  return {
    kind,
    info: {
      requested,
      packageVersions: { ...tfjsCoreVersion(), ...(version ? { [pkg.specifier]: version } : {}) },
      ...(gpuDevice !== undefined ? { gpuDevice } : {}),
      notes:
        kind === "tensorflow-gpu" && gpuDevice === false
          ? [...notes, "libtensorflow found no CUDA device: running on the CPU"]
          : notes,
    },
  }
}

interface Init {
  readonly kind: ResolvedKind
  readonly info: Info
  readonly errors?: () => ReadonlyArray<string>
}

const toBackendError =
  (backend: string) =>
  (cause: unknown): BackendError =>
    cause instanceof BackendError
      ? cause
      : new BackendError({ backend, message: `initialising ${backend} failed: ${messageOf(cause)}`, cause })

const fromPromise = (backend: string, f: () => Promise<Init>): Effect.Effect<Init, BackendError> =>
  Effect.tryPromise({ try: f, catch: toBackendError(backend) })

const initAuto = (options: Options, loader: Loader.ModuleLoader): Effect.Effect<Init, BackendError> =>
  fromPromise("auto", async () => {
    const notes: Array<string> = []
    for (const kind of ["tensorflow-gpu", "tensorflow"] as const) {
      try {
        return await initNode(kind, loader, "auto", notes)
      } catch (error) {
        const pkg = nodePackages[kind].specifier
        notes.push(
          error instanceof BackendError && error.install !== undefined
            ? `${pkg}: not installed`
            : `${pkg}: ${error instanceof Error ? error.message : String(error)}`,
        )
      }
    }
    return initWasm(options, "auto", notes)
  })

const initWebGpu = (
  options: Options,
  loader: Loader.ModuleLoader,
): Effect.Effect<Init, BackendError, Scope.Scope> =>
  Effect.map(
    WebGpu.acquire(loader, options.webgpu),
    (session): Init => ({
      kind: "webgpu",
      info: {
        requested: "webgpu",
        packageVersions: { ...tfjsCoreVersion(), ...session.packageVersions },
        adapter: session.adapter.label,
        webgpu: session.adapter,
        notes: session.adapter.skipped,
      },
      errors: session.takeErrors,
    }),
  )

/**
 * Initialises tfjs with the requested backend (see {@link Options}) and returns the service; the
 * resources it holds (a WebGPU device) are released with the scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { make } from "./Backend.js"
 * const name = Effect.runPromise(Effect.scoped(Effect.map(make({ kind: "cpu" }), (b) => b.name)))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<BackendService, BackendError, Scope.Scope> =>
  Effect.gen(function* () {
    // Production mode: no console banners ("install our node backend…") and no debug checks.
    tf.env().set("PROD", true)
    const requested = options.kind ?? "wasm"
    if (!isKind(requested)) {
      return yield* Effect.fail(
        new BackendError({
          backend: String(requested),
          message: `unknown backend "${String(requested)}"; valid kinds are ${validKinds}`,
        }),
      )
    }
    const loader = options.loader ?? Loader.dynamicImport
    yield* Effect.tryPromise({ try: ensureGradients, catch: toBackendError(requested) })
    const init: Init =
      requested === "webgpu"
        ? yield* initWebGpu(options, loader)
        : requested === "auto"
          ? yield* initAuto(options, loader)
          : requested === "wasm"
            ? yield* fromPromise("wasm", () => initWasm(options, "wasm", []))
            : requested === "cpu"
              ? yield* fromPromise("cpu", () => initCpu("cpu", []))
              : yield* fromPromise(requested, () => initNode(requested, loader, requested, []))
    const takeErrors = init.errors
    const read = async (tensor: tf.Tensor): Promise<Float32Array | Int32Array | Uint8Array> => {
      const data = (await tensor.data()) as Float32Array | Int32Array | Uint8Array
      const errors = takeErrors?.() ?? []
      if (errors.length > 0) {
        throw new BackendError({
          backend: init.kind,
          message: `the GPU reported ${errors.length} error(s); results are invalid: ${errors.slice(0, 3).join(" | ")}`,
        })
      }
      return data
    }
    const service: BackendService = {
      kind: init.kind,
      name: tf.getBackend(),
      tf,
      info: init.info,
      read,
      readScalar: async (tensor) => {
        const data = await read(tensor)
        if (data.length === 0) throw new RangeError("readScalar of an empty tensor")
        return data[0]!
      },
      syncReads: init.kind !== "webgpu",
    }
    return service
  })

/**
 * The TensorFlow.js backend in use. Build it with {@link Backend.layer}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Backend } from "./Backend.js"
 * const kind = Effect.runPromise(Effect.provide(Backend.useSync((b) => b.kind), Backend.layer()))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Backend extends Context.Service<Backend, BackendService>()("retort/Backend") {
  /**
   * A layer that initialises tfjs with the requested backend (default `wasm`), failing with a
   * `BackendError` before anything else runs.
   *
   * @example
   * ```ts
   * import { Backend } from "./Backend.js"
   * const layer = Backend.layer({ kind: "auto" })
   * ```
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (options: Options = {}): Layer.Layer<Backend, BackendError> =>
    Layer.effect(Backend, make(options))
}

/**
 * A printable, multi-line summary of a backend service: which backend, package versions, native
 * kernels or not (and why), threads, adapter, and notes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { formatBackend, make } from "./Backend.js"
 * Effect.runPromise(Effect.scoped(Effect.map(make({ kind: "cpu" }), formatBackend))).then(console.log)
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatBackend = (service: BackendService): string => {
  const { info } = service
  const lines = [
    `backend:  ${service.kind}${info.requested !== service.kind ? ` (requested ${info.requested})` : ""} — tfjs "${service.name}"`,
    `packages: ${Object.entries(info.packageVersions)
      .map(([name, version]) => `${name}@${version}`)
      .join(", ")}`,
  ]
  if (service.kind === "wasm") {
    const k = info.kernels
    lines.push(
      k === undefined
        ? "kernels:  stock tfjs-wasm (Retort's overrides disabled)"
        : `kernels:  ${k.native ? `native (${k.build?.match(/sgemm ([^;]+)/)?.[0] ?? "Retort's C++ addon"})` : `wasm/JS only${k.nativeReason ? ` — ${k.nativeReason}` : ""}`}; ` +
            `${k.overridden.length} override(s)${k.overridden.length > 0 ? `: ${k.overridden.join(", ")}` : ""}`,
      `threads:  ${k?.threads ?? 1}`,
    )
  }
  if (info.adapter !== undefined) lines.push(`adapter:  ${info.adapter}`)
  if (info.gpuDevice !== undefined) lines.push(`cuda:     ${info.gpuDevice ? "yes" : "no (CPU)"}`)
  if (!service.syncReads) lines.push("reads:    asynchronous only")
  for (const note of info.notes) lines.push(`note:     ${note}`)
  return lines.join("\n")
}

/**
 * {@link formatBackend} of the current {@link Backend}: what a `doctor` command prints.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Backend, describeBackend } from "./Backend.js"
 * Effect.runPromise(Effect.provide(describeBackend, Backend.layer())).then(console.log)
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const describeBackend: Effect.Effect<string, never, Backend> = Backend.useSync(formatBackend)

/**
 * Which backends could be used here, without initialising any: installed or not (and the npm
 * command when not). Cheap: resolves packages, loads nothing.
 *
 * @example
 * ```ts
 * import { availableBackends } from "./Backend.js"
 * for (const b of availableBackends()) console.log(b.kind, b.installed ? "installed" : b.install)
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const availableBackends = (): ReadonlyArray<{
  readonly kind: ResolvedKind
  readonly installed: boolean
  readonly install?: string
}> => [
  { kind: "wasm", installed: true },
  { kind: "cpu", installed: true },
  ...(["tensorflow", "tensorflow-gpu"] as const).map((kind) =>
    Loader.isInstalled(nodePackages[kind].specifier)
      ? { kind, installed: true }
      : { kind, installed: false, install: nodePackages[kind].install },
  ),
  Loader.isInstalled("webgpu") && Loader.isInstalled("@tensorflow/tfjs-backend-webgpu")
    ? { kind: "webgpu", installed: true }
    : { kind: "webgpu", installed: false, install: WebGpu.install },
]
