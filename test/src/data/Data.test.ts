import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import { Effect, Layer, Stream } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { Data, make as makeData, type Service } from "../../../src/data/Data.js"
import * as DataSpec from "../../../src/data/DataSpec.js"
import * as Dataset from "../../../src/data/Dataset.js"
import * as FashionMnist from "../../../src/data/FashionMnist.js"
import * as Idx from "../../../src/data/Idx.js"
import * as Mnist from "../../../src/data/Mnist.js"

const root = mkdtempSync(join(tmpdir(), "retort-data-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** Settings that never see this machine's real caches, system data sets or network. */
const isolated = (env: Record<string, string> = {}) =>
  Data.layerWith({
    env,
    cacheDir: join(root, "cache"),
    systemDirs: [],
    report: () => {},
    expectedCounts: { train: 20, test: 10 },
  })

/** One service instance for most tests, so the embedded digits are parsed once. */
const shared = Layer.succeed(
  Data,
  makeData({ env: {}, cacheDir: join(root, "cache"), systemDirs: [], report: () => {} }),
)

const withData = <A, E>(f: (data: Service) => Effect.Effect<A, E>, layer: Layer.Layer<Data> = shared) =>
  Effect.runPromise(Effect.provide(Data.use(f), layer))

describe("Mnist (embedded digits)", () => {
  it("loads 8,000 train / 2,000 test 28×28 digits, stratified 80/20, deterministic and interleaved", async () => {
    const ds = await Effect.runPromise(Mnist.load())
    expect(ds.name).toBe("mnist")
    expect(ds.shape).toEqual([28, 28, 1])
    expect(ds.classes).toBe(10)
    expect(ds.train.n).toBe(8000)
    expect(ds.test.n).toBe(2000)
    expect(ds.train.x.length).toBe(8000 * 784)
    const perDigit = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    expect(Array.from(Dataset.classCounts(ds.train, 10))).toEqual(perDigit.map((c) => Math.round(0.8 * c)))
    expect(Array.from(Dataset.classCounts(ds.test, 10))).toEqual(perDigit.map((c) => c - Math.round(0.8 * c)))
    // interleaved: the first 500 training images contain every digit
    expect(Array.from(Dataset.classCounts({ ...ds.train, n: 500 }, 10)).every((c) => c > 20)).toBe(true)
    Effect.runSync(Dataset.make(ds)) // sizes, labels and pixel range are valid
    Effect.runSync(Dataset.checkClasses(ds, 10))
    const again = await withData((data) => data.load(DataSpec.mnist()))
    expect(Array.from(again.train.y.subarray(0, 50))).toEqual(Array.from(ds.train.y.subarray(0, 50)))
    expect(again.test.x.subarray(0, 784 * 3)).toEqual(ds.test.x.subarray(0, 784 * 3))
  })
})

describe("Data service", () => {
  it("loads mnist through the layer and shares it between loads", async () => {
    const [a, b] = await withData((data) =>
      Effect.all([data.load(DataSpec.mnist()), data.load({ _tag: "Mnist" })]),
    )
    expect(a.train.n).toBe(8000)
    expect(b).toBe(a)
  })

  it("loads user arrays and batch streams", async () => {
    const arrays = await withData((data) =>
      data.load(
        DataSpec.arrays({ x: new Float32Array(8), y: [0, 1], shape: [2, 2, 1], classes: 2, name: "mine" }),
      ),
    )
    expect(arrays.name).toBe("mine")
    expect(arrays.train.n).toBe(2)
    const streamed = await withData((data) =>
      data.load(
        DataSpec.batches({
          train: Stream.make({ x: [0, 1], y: [1] }, { x: [1, 0], y: [0] }),
          shape: [1, 2, 1],
          classes: 2,
        }),
      ),
    )
    expect(streamed.train.n).toBe(2)
    const bad = await withData((data) =>
      Effect.flip(data.load(DataSpec.arrays({ x: [2], y: [0], shape: [1, 1, 1], classes: 1 }))),
    )
    expect(bad.message).toMatch(/outside \[0, 1\]/)
  })

  it("loads Fashion-MNIST from $RETORT_DATA, and fails with a hint when it is missing and download is off", async () => {
    const dir = join(root, "fashion")
    mkdirSync(dir, { recursive: true })
    const images = (n: number) =>
      gzipSync(Idx.encode({ type: "uint8", dims: [n, 28, 28], data: new Uint8Array(n * 784).fill(255) }))
    const labels = (n: number) =>
      gzipSync(
        Idx.encode({ type: "uint8", dims: [n], data: Uint8Array.from({ length: n }, (_, i) => i % 10) }),
      )
    writeFileSync(join(dir, `${FashionMnist.files.trainImages}.gz`), images(20))
    writeFileSync(join(dir, `${FashionMnist.files.trainLabels}.gz`), labels(20))
    writeFileSync(join(dir, `${FashionMnist.files.testImages}.gz`), images(10))
    writeFileSync(join(dir, `${FashionMnist.files.testLabels}.gz`), labels(10))
    const ds = await withData(
      (data) => data.load(DataSpec.fashionMnist({ download: false })),
      isolated({ RETORT_DATA: dir }),
    )
    expect(ds.name).toBe("fashion-mnist")
    expect(ds.train.n).toBe(20)
    expect(ds.train.x[0]).toBe(1)
    const found = await withData(
      (data) => data.fashionOrMnist({ download: false }),
      isolated({ RETORT_DATA: dir }),
    )
    expect(found.dataset.name).toBe("fashion-mnist")
    expect(found.note).toBeUndefined()

    const missing = await withData(
      (data) => Effect.flip(data.load(DataSpec.fashionMnist({ download: false }))),
      isolated(),
    )
    expect(missing.hint).toMatch(/dataset-fashion-mnist/)
  })

  it("fashionOrMnist falls back to mnist with a note when Fashion-MNIST cannot be had", async () => {
    const [offline, unreachable] = await withData((data) =>
      Effect.all([
        data.fashionOrMnist({ download: false }),
        data.fashionOrMnist({ baseUrl: "http://127.0.0.1:9/" }),
      ]),
    )
    expect(offline.dataset.name).toBe("mnist")
    expect(offline.note).toMatch(/using the embedded MNIST digits/)
    expect(offline.note).toMatch(/apt-get install dataset-fashion-mnist/)
    expect(unreachable.dataset.name).toBe("mnist")
    expect(unreachable.note).toMatch(/ECONNREFUSED|failed/)
  })
})
