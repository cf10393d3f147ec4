import * as tf from "@tensorflow/tfjs-core"
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Workloads from "../../../bench/gpu/workloads.js"
import { type BackendService, make } from "../../../src/backend/Backend.js"
import * as Loader from "../../../src/backend/loader.js"
import * as WebGpu from "../../../src/backend/webgpu/WebGpu.js"

// Runs on whatever adapter Dawn finds: a real GPU, or Mesa's software GL ES (llvmpipe) on CI
// (apt-get install libegl-dev libegl-mesa0 libgl1-mesa-dri). Without any adapter these
// tests are skipped and say why; nothing else depends on them.
const probe = await Effect.runPromise(Effect.result(WebGpu.probe(Loader.dynamicImport)))
const skip = probe._tag === "Failure"
const because =
  probe._tag === "Failure" ? ` [skipped: ${probe.failure.message}]` : ` [${probe.success.label}]`

interface Trace {
  readonly losses: ReadonlyArray<number>
  readonly weights: ReadonlyArray<Float32Array | Int32Array | Uint8Array>
}

const trace = async (
  backend: BackendService,
  name: Workloads.Name,
  batch: number,
  steps: number,
): Promise<Trace> => {
  const w = Workloads.make(name, { batch, seed: 5 })
  const losses: Array<number> = []
  for (let i = 0; i < steps; i++) {
    const loss = w.step()
    losses.push(await backend.readScalar(loss))
    loss.dispose()
  }
  const weights = await Promise.all(w.trainable.map((v) => backend.read(v)))
  w.dispose()
  return { losses, weights }
}

const cases = [
  { name: "W1", batch: 16, steps: 3 },
  { name: "W3", batch: 8, steps: 3 },
  { name: "W2", batch: 2, steps: 2 },
] as const

const expectClose = (gpu: Trace, cpu: Trace) => {
  expect(gpu.losses.length).toBe(cpu.losses.length)
  for (const [i, l] of gpu.losses.entries()) {
    expect(Math.abs(l - cpu.losses[i]!)).toBeLessThan(1e-4 * Math.max(1, cpu.losses[i]!))
  }
  let max = 0
  let sum = 0
  let n = 0
  gpu.weights.forEach((g, i) => {
    const c = cpu.weights[i]!
    expect(g.length).toBe(c.length)
    for (let j = 0; j < g.length; j++) {
      const d = Math.abs(g[j]! - c[j]!)
      max = Math.max(max, d)
      sum += d
      n++
    }
  })
  // Adam divides by √v: where a gradient is ~0 its float noise can move a weight by up to lr per
  // step, so the bound on the largest difference is a few lr; on average they agree to ~1e-9.
  expect(max).toBeLessThan(3e-3)
  expect(sum / n).toBeLessThan(1e-6)
}

describe.skipIf(skip)(`webgpu backend${because}`, () => {
  const reference = new Map<string, Trace>()
  let scope: Scope.Closeable
  let backend: BackendService

  beforeAll(async () => {
    for (const c of cases) {
      const cpu = await Effect.runPromise(
        Effect.scoped(
          Effect.flatMap(make({ kind: "cpu" }), (b) =>
            Effect.promise(() => trace(b, c.name, c.batch, c.steps)),
          ),
        ),
      )
      reference.set(c.name, cpu)
    }
    scope = await Effect.runPromise(Scope.make())
    backend = await Effect.runPromise(Scope.provide(scope)(make({ kind: "webgpu" })))
  })

  afterAll(async () => {
    if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
    expect(tf.getBackend()).not.toBe("webgpu")
    expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBeUndefined()
  })

  it("initialises on an adapter and reports it", () => {
    expect(backend.kind).toBe("webgpu")
    expect(tf.getBackend()).toBe("webgpu")
    expect(backend.syncReads).toBe(false)
    expect(backend.info.adapter).toBe(backend.info.webgpu?.label)
    expect(backend.info.packageVersions["@tensorflow/tfjs-backend-webgpu"]).toBe("4.22.0")
    expect(backend.info.packageVersions.webgpu).toMatch(/^0\.6\./)
  })

  for (const c of cases) {
    it(`${c.name} trains ${c.steps} steps (batch ${c.batch}) and matches the cpu backend`, async () => {
      const gpu = await trace(backend, c.name, c.batch, c.steps)
      expectClose(gpu, reference.get(c.name)!)
    })
  }

  it("fails the next read when the device reported an error", async () => {
    const device = (tf.backend() as unknown as { device: { createBuffer: (d: object) => unknown } }).device
    device.createBuffer({ size: 4, usage: 0 }) // invalid usage: a validation error, reported asynchronously
    const x = tf.scalar(1)
    await expect(backend.read(x)).rejects.toThrow(/the GPU reported 1 error/)
    expect(await backend.readScalar(x)).toBe(1) // errors are reported once
    x.dispose()
  })

  it("issues W1 steps without reading back, then one asynchronous read", async () => {
    const steps = 10
    const bufferProto = (
      globalThis as unknown as { GPUBuffer: { prototype: { mapAsync: (...a: Array<unknown>) => unknown } } }
    ).GPUBuffer.prototype
    const original = bufferProto.mapAsync
    let maps = 0
    bufferProto.mapAsync = function (this: unknown, ...args: Array<unknown>) {
      maps++
      return original.apply(this, args)
    }
    try {
      const w = Workloads.make("W1", { batch: 16, seed: 9 })
      w.step().dispose() // compile the pipelines first
      await backend.read(w.trainable[0]!)
      const before = tf.memory().numTensors
      maps = 0
      const t0 = performance.now()
      let last: tf.Scalar | undefined
      for (let i = 0; i < steps; i++) {
        last?.dispose()
        last = w.step()
      }
      const issued = performance.now() - t0
      const mapsWhileIssuing = maps
      const loss = await backend.readScalar(last!)
      const total = performance.now() - t0
      last!.dispose()
      expect(mapsWhileIssuing).toBe(0)
      expect(maps).toBeGreaterThan(0)
      expect(Number.isFinite(loss)).toBe(true)
      expect(tf.memory().numTensors).toBe(before)
      console.log(
        `webgpu W1 batch 16 on ${backend.info.adapter}: ${steps} steps issued in ${issued.toFixed(0)} ms, ` +
          `read back after ${total.toFixed(0)} ms (${(total / steps).toFixed(1)} ms/step)`,
      )
      w.dispose()
    } finally {
      bufferProto.mapAsync = original
    }
  })
})

describe("webgpu availability", () => {
  it(`is probed without side effects [${probe._tag === "Success" ? probe.success.label : "no adapter"}]`, () => {
    expect(tf.findBackendFactory("webgpu") === null || tf.getBackend() !== "webgpu").toBe(true)
    if (probe._tag === "Success") {
      expect(["vulkan", "opengles", "opengl", "metal", "d3d12", "d3d11"]).toContain(probe.success.backend)
      expect(probe.success.label).toContain(probe.success.backend)
    } else {
      expect(probe.failure.message).toMatch(/adapter|install|binding/)
    }
  })

  it("refuses a software adapter when allowSoftware is false", async () => {
    const result = await Effect.runPromise(
      Effect.result(WebGpu.probe(Loader.dynamicImport, { allowSoftware: false })),
    )
    if (result._tag === "Success") expect(result.success.software).toBe(false)
    else expect(result.failure.message).toContain("no hardware WebGPU adapter found")
  })
})
