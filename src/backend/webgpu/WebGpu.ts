/**
 * TensorFlow.js on WebGPU in Node, through Dawn's Node bindings (the npm package `webgpu`) and
 * `@tensorflow/tfjs-backend-webgpu`.
 *
 * Node has no `navigator.gpu`; this module installs one from `webgpu`'s `create([...])`, chooses
 * an adapter (a real GPU over Vulkan first, then OpenGL ES in WebGPU's `compatibility` feature
 * level, software renderers such as Mesa's llvmpipe last), requests a device with the adapter's
 * full limits, and registers tfjs's `"webgpu"` backend on that device. Everything is undone when
 * the surrounding scope closes (the Dawn instance otherwise keeps Node alive).
 *
 * Reads on this backend are asynchronous only (`await tensor.data()`): `dataSync` needs an
 * `OffscreenCanvas`, which Node lacks.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Loader from "../loader.js"
 * import * as WebGpu from "./WebGpu.js"
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const session = yield* WebGpu.acquire(Loader.dynamicImport)
 *     console.log(session.adapter.label, tf.getBackend())
 *   }),
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, type Scope } from "effect"
import { BackendError } from "../../errors.js"
import type { ModuleLoader } from "../loader.js"
import * as Loader from "../loader.js"

/**
 * The npm command that installs the WebGPU path.
 *
 * @example
 * ```ts
 * import * as WebGpu from "./WebGpu.js"
 * console.log(WebGpu.install) // npm install webgpu @tensorflow/tfjs-backend-webgpu
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const install = "npm install webgpu @tensorflow/tfjs-backend-webgpu"

/**
 * A Dawn backend: which native graphics API Dawn drives.
 *
 * @example
 * ```ts
 * import type * as WebGpu from "./WebGpu.js"
 * const order: ReadonlyArray<WebGpu.DawnBackend> = ["vulkan", "opengles"]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type DawnBackend = "vulkan" | "opengles" | "opengl" | "d3d12" | "d3d11" | "metal" | "null"

/**
 * How to choose the adapter.
 *
 * - `backends`: the Dawn backends to try, in order (default `["vulkan", "opengles"]`; on macOS
 *   `["metal"]`, on Windows `["d3d12", "vulkan"]`).
 * - `powerPreference`: passed to `requestAdapter` (default `"high-performance"`).
 * - `allowSoftware`: accept a software renderer (llvmpipe, lavapipe, SwiftShader) when no real GPU
 *   is found (default `true`); `false` makes that case a `BackendError`.
 * - `dawnOptions`: extra strings for `create([...])`, e.g. `"enable-dawn-features=allow_unsafe_apis"`.
 *
 * @example
 * ```ts
 * import type * as WebGpu from "./WebGpu.js"
 * const options: WebGpu.Options = { backends: ["vulkan"], allowSoftware: false }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly backends?: ReadonlyArray<DawnBackend>
  readonly powerPreference?: "high-performance" | "low-power"
  readonly allowSoftware?: boolean
  readonly dawnOptions?: ReadonlyArray<string>
}

/**
 * The adapter that was chosen: through which Dawn backend, at which feature level, whether it is
 * a software renderer, what the driver says it is, and a one-line `label` for reports.
 *
 * @example
 * ```ts
 * import type * as WebGpu from "./WebGpu.js"
 * const show = (a: WebGpu.AdapterReport) => `${a.label}${a.software ? " (slow: no real GPU)" : ""}`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface AdapterReport {
  readonly backend: DawnBackend
  readonly featureLevel: "core" | "compatibility"
  readonly software: boolean
  readonly vendor: string
  readonly architecture: string
  readonly device: string
  readonly description: string
  readonly label: string
  /** What was tried before this adapter and why it was not taken. */
  readonly skipped: ReadonlyArray<string>
}

/**
 * A live WebGPU device registered as tfjs's `"webgpu"` backend, valid until the scope closes.
 *
 * `takeErrors()` returns (and clears) the validation / out-of-memory errors the device reported
 * since the last call, and whether the device was lost: a WebGPU error does not throw, it leaves
 * garbage in a buffer, so callers check this at their read-back points.
 *
 * @example
 * ```ts
 * import type * as WebGpu from "./WebGpu.js"
 * const check = (s: WebGpu.Session) => s.takeErrors().length === 0
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Session {
  readonly adapter: AdapterReport
  readonly packageVersions: Readonly<Record<string, string>>
  readonly takeErrors: () => ReadonlyArray<string>
}

// Minimal structural views of Dawn's objects (the `webgpu` package is optional, so its types are too).
interface DawnModule {
  readonly create: (options: Array<string>) => Gpu
  readonly globals: Record<string, unknown>
}
interface Gpu {
  requestAdapter(options?: Record<string, unknown>): Promise<Adapter | null>
}
interface AdapterInfo {
  readonly vendor?: string
  readonly architecture?: string
  readonly device?: string
  readonly description?: string
  readonly isFallbackAdapter?: boolean
}
interface Adapter {
  readonly info: AdapterInfo
  readonly features: { has(name: string): boolean }
  readonly limits: Record<string, number>
  readonly featureLevel?: string
  readonly isFallbackAdapter?: boolean
  requestDevice(descriptor?: Record<string, unknown>): Promise<Device>
}
interface Device {
  readonly lost: Promise<{ readonly reason?: string; readonly message?: string }>
  destroy(): void
  addEventListener?(
    type: "uncapturederror",
    listener: (event: { error?: { message?: string } }) => void,
  ): void
  onuncapturederror?: ((event: { error?: { message?: string } }) => void) | null
}
interface WebGpuBackendModule {
  readonly WebGPUBackend: new (device: Device, adapterInfo: AdapterInfo) => tf.KernelBackend
}

const softwareRenderer = /llvmpipe|lavapipe|softpipe|swiftshader|software rasterizer/i

const defaultBackends = (): ReadonlyArray<DawnBackend> =>
  process.platform === "darwin"
    ? ["metal"]
    : process.platform === "win32"
      ? ["d3d12", "vulkan"]
      : ["vulkan", "opengles"]

// Limits tfjs-backend-webgpu asks for, plus the storage-buffer count: compatibility mode defaults
// it to 4, too few for fused kernels (matmul + bias + activation + output).
const requestedLimits = [
  "maxComputeWorkgroupStorageSize",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupSizeX",
  "maxComputeInvocationsPerWorkgroup",
  "maxStorageBuffersPerShaderStage",
] as const

interface Candidate {
  readonly gpu: Gpu
  readonly adapter: Adapter
  readonly report: AdapterReport
}

const loadModule = async <A>(loader: ModuleLoader, specifier: string): Promise<A> => {
  try {
    return (await loader(specifier)) as A
  } catch (cause) {
    throw Loader.isModuleNotFound(cause, specifier)
      ? new BackendError({
          backend: "webgpu",
          message: `the webgpu backend needs the optional package "${specifier}", which is not installed. Install it with: ${install}`,
          install,
          cause,
        })
      : new BackendError({
          backend: "webgpu",
          message: `"${specifier}" is installed but its native binding failed to load: ${describeCause(cause)}`,
          cause,
        })
  }
}

/**
 * A short, printable reason from anything thrown.
 *
 * @example
 * ```ts
 * import * as WebGpu from "./WebGpu.js"
 * WebGpu.describeCause(new Error("boom")) // "boom"
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const describeCause = (cause: unknown): string =>
  cause instanceof Error ? cause.message.split("\n")[0]! : String(cause)

const ensureEglPlatform = (backend: DawnBackend): void => {
  // Mesa's EGL otherwise looks for an X11/Wayland display, which headless machines lack.
  if ((backend === "opengles" || backend === "opengl") && process.env.EGL_PLATFORM === undefined) {
    process.env.EGL_PLATFORM = "surfaceless"
  }
}

const report = (
  adapter: Adapter,
  backend: DawnBackend,
  featureLevel: AdapterReport["featureLevel"],
  skipped: ReadonlyArray<string>,
): AdapterReport => {
  const info = adapter.info
  const vendor = info.vendor ?? ""
  const architecture = info.architecture ?? ""
  const device = (info.device ?? "").replace(/-+$/, "")
  const description = info.description ?? ""
  const software =
    info.isFallbackAdapter === true ||
    adapter.isFallbackAdapter === true ||
    softwareRenderer.test(`${vendor} ${architecture} ${device} ${description}`)
  const name = [device, description].filter((s) => s.length > 0).join(" — ") || vendor || "unknown adapter"
  return {
    backend,
    featureLevel,
    software,
    vendor,
    architecture,
    device,
    description,
    label: `${name} (${backend}, ${featureLevel}${software ? ", software" : ""})`,
    skipped,
  }
}

const chooseAdapter = async (dawn: DawnModule, options: Options): Promise<Candidate> => {
  const backends = options.backends ?? defaultBackends()
  const powerPreference = options.powerPreference ?? "high-performance"
  const skipped: Array<string> = []
  let software: Candidate | undefined
  for (const backend of backends) {
    ensureEglPlatform(backend)
    const gpu = dawn.create([`backend=${backend}`, ...(options.dawnOptions ?? [])])
    // GL ES can only offer the compatibility feature level; other backends try core first.
    const levels: ReadonlyArray<AdapterReport["featureLevel"]> =
      backend === "opengles" || backend === "opengl" ? ["compatibility"] : ["core", "compatibility"]
    let found: Candidate | undefined
    for (const featureLevel of levels) {
      let adapter: Adapter | null = null
      try {
        adapter = await gpu.requestAdapter({ powerPreference, featureLevel })
      } catch (cause) {
        skipped.push(`${backend}/${featureLevel}: ${describeCause(cause)}`)
      }
      if (adapter !== null) {
        found = { gpu, adapter, report: report(adapter, backend, featureLevel, [...skipped]) }
        break
      }
      skipped.push(`${backend}/${featureLevel}: no adapter`)
    }
    if (found === undefined) continue
    if (!found.report.software) return found
    skipped.push(`${backend}: only a software renderer (${found.report.device || found.report.description})`)
    software ??= found
  }
  if (software !== undefined && options.allowSoftware !== false) {
    return { ...software, report: { ...software.report, skipped } }
  }
  throw new BackendError({
    backend: "webgpu",
    message:
      `no ${options.allowSoftware === false ? "hardware " : ""}WebGPU adapter found (tried ${backends.join(", ")}: ${skipped.join("; ")}). ` +
      "A GPU needs its Vulkan driver and loader (Debian: libvulkan1 plus the vendor's ICD, e.g. the NVIDIA driver); " +
      "without a GPU, Mesa's software GL ES works: apt-get install libegl-dev libegl-mesa0 libgl1-mesa-dri " +
      "(Dawn opens the unversioned libEGL.so, which only libegl-dev provides)",
  })
}

type Restore = () => void

const installNavigator = (gpu: Gpu, globals: Record<string, unknown>): Restore => {
  const g = globalThis as Record<string, unknown>
  const added: Array<string> = []
  for (const [key, value] of Object.entries(globals)) {
    if (!(key in g)) {
      Object.defineProperty(g, key, { value, configurable: true, writable: true })
      added.push(key)
    }
  }
  const existing = g.navigator as Record<string, unknown> | undefined
  let restoreNavigator: Restore
  if (existing === undefined) {
    Object.defineProperty(g, "navigator", { value: { gpu }, configurable: true, writable: true })
    restoreNavigator = () => {
      delete g.navigator
    }
  } else {
    const previous = Object.getOwnPropertyDescriptor(existing, "gpu")
    Object.defineProperty(existing, "gpu", { value: gpu, configurable: true, writable: true })
    restoreNavigator = () => {
      if (previous === undefined) delete existing.gpu
      else Object.defineProperty(existing, "gpu", previous)
    }
  }
  return () => {
    restoreNavigator()
    for (const key of added) delete g[key]
  }
}

const messageOf = (event: { error?: { message?: string } }): string =>
  event.error?.message?.split("\n")[0] ?? "unknown WebGPU error"

interface Acquired {
  readonly session: Session
  readonly release: () => void
}

const acquireAsync = async (loader: ModuleLoader, options: Options): Promise<Acquired> => {
  const dawn = await loadModule<DawnModule>(loader, "webgpu")
  if (typeof dawn.create !== "function") {
    throw new BackendError({
      backend: "webgpu",
      message: `the "webgpu" module loaded but has no create() function (expected Dawn's Node bindings, webgpu@0.6)`,
    })
  }
  const chosen = await chooseAdapter(dawn, options)
  const restore = installNavigator(chosen.gpu, dawn.globals ?? {})
  let device: Device | undefined
  try {
    // tfjs-backend-webgpu registers its kernels on import (and a backend factory, which we replace:
    // it asks for an adapter without a feature level, so it finds none on GL ES).
    const backendModule = await loadModule<WebGpuBackendModule>(loader, "@tensorflow/tfjs-backend-webgpu")
    const limits = chosen.adapter.limits
    const requiredLimits: Record<string, number> = {}
    for (const key of requestedLimits) {
      const value = limits[key]
      if (typeof value === "number") requiredLimits[key] = value
    }
    const requiredFeatures = chosen.adapter.features.has("timestamp-query") ? ["timestamp-query"] : []
    device = await chosen.adapter.requestDevice({ requiredLimits, requiredFeatures })
    const errors: Array<string> = []
    const onError = (event: { error?: { message?: string } }) => {
      if (errors.length < 100) errors.push(messageOf(event))
    }
    if (typeof device.addEventListener === "function") device.addEventListener("uncapturederror", onError)
    else device.onuncapturederror = onError
    let released = false
    void device.lost.then((info) => {
      if (!released) errors.push(`device lost (${info.reason ?? "unknown"}): ${info.message ?? ""}`)
    })
    const live = device
    if (tf.findBackendFactory("webgpu") !== null) tf.removeBackend("webgpu")
    tf.registerBackend("webgpu", () => new backendModule.WebGPUBackend(live, chosen.adapter.info), 3)
    const ok = await tf.setBackend("webgpu")
    if (!ok) {
      throw new BackendError({
        backend: "webgpu",
        message: `tfjs could not initialise its webgpu backend on ${chosen.report.label}`,
      })
    }
    const packageVersions: Record<string, string> = {}
    for (const pkg of ["webgpu", "@tensorflow/tfjs-backend-webgpu"]) {
      const version = Loader.packageVersion(pkg)
      if (version !== undefined) packageVersions[pkg] = version
    }
    return {
      session: {
        adapter: chosen.report,
        packageVersions,
        takeErrors: () => errors.splice(0, errors.length),
      },
      release: () => {
        released = true
        if (tf.findBackendFactory("webgpu") !== null) tf.removeBackend("webgpu")
        live.destroy()
        restore()
      },
    }
  } catch (error) {
    if (tf.findBackendFactory("webgpu") !== null) tf.removeBackend("webgpu")
    device?.destroy()
    restore()
    throw error
  }
}

const toBackendError = (cause: unknown): BackendError =>
  cause instanceof BackendError
    ? cause
    : new BackendError({
        backend: "webgpu",
        message: `WebGPU initialisation failed: ${describeCause(cause)}`,
        cause,
      })

/**
 * Installs `navigator.gpu`, chooses an adapter, creates the device and makes tfjs's `"webgpu"`
 * backend current on it; releases all of it (backend, device, `navigator.gpu`) when the scope
 * closes. Fails with a `BackendError` naming the packages to install, the binding that did not
 * load, or the adapters that were tried.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Loader from "../loader.js"
 * import * as WebGpu from "./WebGpu.js"
 * const label = Effect.scoped(Effect.map(WebGpu.acquire(Loader.dynamicImport), (s) => s.adapter.label))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const acquire = (
  loader: ModuleLoader,
  options: Options = {},
): Effect.Effect<Session, BackendError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({ try: () => acquireAsync(loader, options), catch: toBackendError }),
    (acquired) => Effect.sync(acquired.release),
  ).pipe(Effect.map((acquired) => acquired.session))

/**
 * Which adapter {@link acquire} would choose, without creating a device or touching tfjs: for a
 * `doctor` command, or to skip GPU tests on machines without any adapter.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Loader from "../loader.js"
 * import * as WebGpu from "./WebGpu.js"
 * const adapter = await Effect.runPromise(Effect.result(WebGpu.probe(Loader.dynamicImport)))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const probe = (
  loader: ModuleLoader,
  options: Options = {},
): Effect.Effect<AdapterReport, BackendError> =>
  Effect.tryPromise({
    try: async () => {
      const dawn = await loadModule<DawnModule>(loader, "webgpu")
      return (await chooseAdapter(dawn, options)).report
    },
    catch: toBackendError,
  })
