import * as tf from "@tensorflow/tfjs-core"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import {
  availableBackends,
  Backend,
  type BackendService,
  describeBackend,
  isKind,
  kinds,
  make,
  type Options,
} from "../../../src/backend/Backend.js"
import { kernelReport } from "../../../src/backend/kernels/index.js"
import * as Loader from "../../../src/backend/loader.js"
import { BackendError } from "../../../src/errors.js"

// Test doubles replace only the module loader: they simulate what Node does when a package is
// absent, or when its native binding throws while the package is evaluated.
const notFound = (specifier: string): Error =>
  Object.assign(
    new Error(`Cannot find package '${specifier}' imported from /work/main/src/backend/loader.ts`),
    {
      code: "ERR_MODULE_NOT_FOUND",
    },
  )

const without =
  (...missing: ReadonlyArray<string>): Loader.ModuleLoader =>
  (specifier) =>
    missing.includes(specifier) ? Promise.reject(notFound(specifier)) : Loader.dynamicImport(specifier)

const dlopenError = () =>
  Object.assign(
    new Error(
      "libtensorflow.so.2: cannot open shared object file: No such file or directory\n    at Module._extensions..node",
    ),
    { code: "ERR_DLOPEN_FAILED" },
  )

const build = (options: Options) => Effect.runPromise(Effect.scoped(Effect.result(make(options))))

const failure = async (options: Options): Promise<BackendError> => {
  const result = await build(options)
  if (result._tag !== "Failure")
    throw new Error(`expected a BackendError, got backend ${result.success.kind}`)
  expect(result.failure).toBeInstanceOf(BackendError)
  return result.failure
}

const success = async (options: Options): Promise<BackendService> => {
  const result = await build(options)
  if (result._tag === "Failure") throw result.failure
  return result.success
}

/** d/dx sum(relu(x·x)) for x = [[1, 2], [3, 4]] is [[7, 11], [9, 13]]. */
const gradientCheck = async (backend: BackendService) => {
  const x = tf.tensor2d([
    [1, 2],
    [3, 4],
  ])
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.relu(tf.matMul(v as tf.Tensor2D, v as tf.Tensor2D))))(x)
  const values = Array.from(await backend.read(g))
  tf.dispose([x, g])
  return values
}

describe("Backend", () => {
  it("defaults to wasm, registers Retort's kernels and computes gradients", async () => {
    const backend = await success({})
    expect(backend.kind).toBe("wasm")
    expect(backend.name).toBe("wasm")
    expect(tf.getBackend()).toBe("wasm")
    expect(backend.info.requested).toBe("wasm")
    expect(backend.info.packageVersions["@tensorflow/tfjs-backend-wasm"]).toBe("4.22.0")
    expect(backend.info.kernels).toBeDefined()
    expect(backend.info.kernels).toEqual(kernelReport())
    expect(backend.syncReads).toBe(true)
    expect(await gradientCheck(backend)).toEqual([7, 11, 9, 13])
    expect(await backend.readScalar(tf.scalar(2.5))).toBe(2.5)
  })

  it("passes native: false to the kernels and skips them with kernels: false", async () => {
    const pure = await success({ kind: "wasm", native: false })
    expect(pure.info.kernels?.native).toBe(false)
    const stock = await success({ kind: "wasm", kernels: false })
    expect(stock.info.kernels).toBeUndefined()
    expect(await gradientCheck(stock)).toEqual([7, 11, 9, 13])
  })

  it("initialises the cpu backend", async () => {
    const backend = await success({ kind: "cpu" })
    expect(backend.kind).toBe("cpu")
    expect(tf.getBackend()).toBe("cpu")
    expect(backend.info.kernels).toBeUndefined()
    expect(await gradientCheck(backend)).toEqual([7, 11, 9, 13])
  })

  it("names the npm package when @tensorflow/tfjs-node is missing", async () => {
    const error = await failure({ kind: "tensorflow", loader: without("@tensorflow/tfjs-node") })
    expect(error.backend).toBe("tensorflow")
    expect(error.install).toBe("npm install @tensorflow/tfjs-node")
    expect(error.message).toContain("Install it with: npm install @tensorflow/tfjs-node ")
  })

  it("names the npm package and the CUDA/cuDNN versions when @tensorflow/tfjs-node-gpu is missing", async () => {
    const error = await failure({ kind: "tensorflow-gpu", loader: without("@tensorflow/tfjs-node-gpu") })
    expect(error.install).toBe("npm install @tensorflow/tfjs-node-gpu")
    expect(error.message).toContain("Install it with: npm install @tensorflow/tfjs-node-gpu")
    expect(error.message).toContain("CUDA Toolkit 11.2")
    expect(error.message).toContain("cuDNN SDK 8.1.0")
  })

  it.skipIf(Loader.isInstalled("@tensorflow/tfjs-node"))(
    "reports the real, uninstalled @tensorflow/tfjs-node through the default loader",
    async () => {
      const error = await failure({ kind: "tensorflow" })
      expect(error.install).toBe("npm install @tensorflow/tfjs-node")
    },
  )

  it("reports a native binding that fails to load, with its cause", async () => {
    const cause = dlopenError()
    const loader: Loader.ModuleLoader = (s) =>
      s === "@tensorflow/tfjs-node-gpu" ? Promise.reject(cause) : Loader.dynamicImport(s)
    const error = await failure({ kind: "tensorflow-gpu", loader })
    expect(error.install).toBeUndefined()
    expect(error.cause).toBe(cause)
    expect(error.message).toContain(
      "@tensorflow/tfjs-node-gpu is installed but its native binding failed to load",
    )
    expect(error.message).toContain("libtensorflow.so.2: cannot open shared object file")
  })

  it("treats a missing dependency of an installed package as a load failure, not as 'not installed'", async () => {
    const loader: Loader.ModuleLoader = (s) =>
      s === "@tensorflow/tfjs-node" ? Promise.reject(notFound("@tensorflow/tfjs")) : Loader.dynamicImport(s)
    const error = await failure({ kind: "tensorflow", loader })
    expect(error.install).toBeUndefined()
    expect(error.message).toContain("failed to load")
  })

  it("reports a module whose backend registration throws, with its cause", async () => {
    const cause = dlopenError()
    // What tfjs-node does on import: register a "tensorflow" backend whose factory opens the binding.
    const loader: Loader.ModuleLoader = async (s) => {
      if (s !== "@tensorflow/tfjs-node") return Loader.dynamicImport(s)
      tf.registerBackend("tensorflow", () => {
        throw cause
      })
      return {}
    }
    try {
      const error = await failure({ kind: "tensorflow", loader })
      expect(error.cause).toBe(cause)
      expect(error.message).toContain('loaded but its "tensorflow" backend failed to initialise')
      expect(error.message).toContain("libtensorflow.so.2")
    } finally {
      tf.removeBackend("tensorflow")
    }
  })

  it("auto falls back to wasm when the node packages are missing, and says why", async () => {
    const backend = await success({
      kind: "auto",
      loader: without("@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"),
    })
    expect(backend.kind).toBe("wasm")
    expect(backend.info.requested).toBe("auto")
    expect(backend.info.notes).toEqual([
      "@tensorflow/tfjs-node-gpu: not installed",
      "@tensorflow/tfjs-node: not installed",
    ])
  })

  it("auto also falls back when a binding fails, keeping the cause in the notes", async () => {
    const loader: Loader.ModuleLoader = (s) =>
      s === "@tensorflow/tfjs-node-gpu"
        ? Promise.reject(dlopenError())
        : s === "@tensorflow/tfjs-node"
          ? Promise.reject(notFound(s))
          : Loader.dynamicImport(s)
    const backend = await success({ kind: "auto", loader })
    expect(backend.kind).toBe("wasm")
    expect(backend.info.notes[0]).toContain("libtensorflow.so.2")
  })

  it("rejects an unknown kind, listing the valid ones", async () => {
    const error = await failure({ kind: "webgl" })
    expect(error.message).toBe(
      'unknown backend "webgl"; valid kinds are "auto", "wasm", "cpu", "tensorflow", "tensorflow-gpu", "webgpu"',
    )
    expect(isKind("webgl")).toBe(false)
    expect(kinds.every(isKind)).toBe(true)
  })

  it("names both npm packages when the webgpu packages are missing", async () => {
    const error = await failure({ kind: "webgpu", loader: without("webgpu") })
    expect(error.install).toBe("npm install webgpu @tensorflow/tfjs-backend-webgpu")
    expect(error.message).toContain("Install it with: npm install webgpu @tensorflow/tfjs-backend-webgpu")
  })

  it("reports Dawn's binding failing to load, with its cause", async () => {
    const cause = Object.assign(
      new Error("/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found"),
      {
        code: "ERR_DLOPEN_FAILED",
      },
    )
    const loader: Loader.ModuleLoader = (s) =>
      s === "webgpu" ? Promise.reject(cause) : Loader.dynamicImport(s)
    const error = await failure({ kind: "webgpu", loader })
    expect(error.cause).toBe(cause)
    expect(error.message).toContain('"webgpu" is installed but its native binding failed to load')
  })

  it("fails the layer before the program runs", async () => {
    let ran = false
    const program = Effect.sync(() => {
      ran = true
    })
    const layer = Backend.layer({ kind: "tensorflow-gpu", loader: without("@tensorflow/tfjs-node-gpu") })
    const result = await Effect.runPromise(Effect.result(Effect.provide(program, layer)))
    expect(result._tag).toBe("Failure")
    expect(ran).toBe(false)
  })

  it("describes the backend for a doctor command", async () => {
    const text = await Effect.runPromise(Effect.provide(describeBackend, Backend.layer({ kind: "wasm" })))
    expect(text).toMatch(/^backend: {2}wasm — tfjs "wasm"$/m)
    expect(text).toContain("@tensorflow/tfjs-backend-wasm@4.22.0")
    expect(text).toMatch(/^kernels: {2}/m)
    expect(text).toMatch(/^threads: {2}\d+$/m)
    const auto = await Effect.runPromise(
      Effect.provide(
        describeBackend,
        Backend.layer({
          kind: "auto",
          loader: without("@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"),
        }),
      ),
    )
    expect(auto).toContain("backend:  wasm (requested auto)")
    expect(auto).toContain("note:     @tensorflow/tfjs-node-gpu: not installed")
  })

  it("provides the service through Layer composition", async () => {
    const layer = Layer.fresh(Backend.layer({ kind: "cpu" }))
    const kind = await Effect.runPromise(
      Effect.provide(
        Backend.useSync((b) => b.kind),
        layer,
      ),
    )
    expect(kind).toBe("cpu")
  })

  it("lists which backends are installed without loading them", () => {
    const available = availableBackends()
    expect(available.map((b) => b.kind)).toEqual(["wasm", "cpu", "tensorflow", "tensorflow-gpu", "webgpu"])
    expect(available.find((b) => b.kind === "wasm")?.installed).toBe(true)
    for (const b of available) if (!b.installed) expect(b.install).toMatch(/^npm install /)
  })
})

describe("Loader", () => {
  it("tells 'this package is missing' from other failures", () => {
    expect(Loader.isModuleNotFound(notFound("@tensorflow/tfjs-node"), "@tensorflow/tfjs-node")).toBe(true)
    expect(Loader.isModuleNotFound(notFound("@tensorflow/tfjs"), "@tensorflow/tfjs-node")).toBe(false)
    expect(Loader.isModuleNotFound(dlopenError(), "@tensorflow/tfjs-node")).toBe(false)
    expect(Loader.isModuleNotFound("nope", "x")).toBe(false)
  })

  it("recognises the error Node really raises for an absent package", async () => {
    const error = await Loader.dynamicImport("@retort/surely-not-installed").catch((e: unknown) => e)
    expect(Loader.isModuleNotFound(error, "@retort/surely-not-installed")).toBe(true)
  })

  it("reads versions and locations of installed packages", () => {
    expect(Loader.packageVersion("@tensorflow/tfjs-core")).toBe("4.22.0")
    expect(Loader.packageVersion("@retort/surely-not-installed")).toBeUndefined()
    expect(Loader.entryDirectory("@tensorflow/tfjs-backend-wasm")).toMatch(/tfjs-backend-wasm\/dist$/)
    expect(Loader.isInstalled("effect")).toBe(true)
  })
})
