import { Effect, Stream } from "effect"
import { describe, expect, it } from "vitest"
import * as Dataset from "../../../src/data/Dataset.js"
import { DataError } from "../../../src/errors.js"

const run = <A>(effect: Effect.Effect<A, DataError>) => Effect.runSync(effect)
const failure = (effect: Effect.Effect<unknown, DataError>) => Effect.runSync(Effect.flip(effect))

/** n images of shape [2, 2, 1]; image i is filled with i/n, label i mod 3. */
const arrays = (n: number) => {
  const x = new Float32Array(n * 4)
  const y = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    x.fill(i / n, 4 * i, 4 * i + 4)
    y[i] = i % 3
  }
  return { x, y }
}

const tiny = (n: number) =>
  run(Dataset.fromArrays({ ...arrays(n), shape: [2, 2, 1], classes: 3, name: "tiny" }))

describe("Dataset.fromArrays", () => {
  it("keeps Float32Array images without copying and builds an empty test split by default", () => {
    const a = arrays(6)
    const ds = run(Dataset.fromArrays({ ...a, shape: [2, 2, 1], classes: 3 }))
    expect(ds.train.x).toBe(a.x)
    expect(ds.train.n).toBe(6)
    expect(ds.test.n).toBe(0)
    expect(ds.name).toBe("arrays")
  })

  it("scales bytes by 1/255 and converts plain label arrays", () => {
    const ds = run(
      Dataset.fromArrays({
        x: Uint8Array.of(0, 255, 51, 102),
        y: [1, 0],
        test: { x: [0.5, 0.25], y: [1] },
        shape: [1, 2, 1],
        classes: 2,
        classNames: ["no", "yes"],
      }),
    )
    expect(Array.from(ds.train.x)).toEqual([0, 1, 0.2, 0.4].map(Math.fround))
    expect(ds.train.y).toBeInstanceOf(Int32Array)
    expect(ds.test.n).toBe(1)
    expect(ds.classNames).toEqual(["no", "yes"])
  })

  it("rejects inconsistent sizes, bad labels, out-of-range pixels and bad shapes", () => {
    const shape = [2, 2, 1] as const
    expect(
      failure(Dataset.fromArrays({ x: new Float32Array(7), y: [0], shape, classes: 3 })).message,
    ).toMatch(/not a multiple of the image size 4/)
    expect(
      failure(Dataset.fromArrays({ x: new Float32Array(8), y: [0], shape, classes: 3 })).message,
    ).toMatch(/1 labels for 2 images/)
    expect(
      failure(Dataset.fromArrays({ x: new Float32Array(4), y: [3], shape, classes: 3 })).message,
    ).toMatch(/outside \[0, 3\)/)
    expect(
      failure(Dataset.fromArrays({ x: new Float32Array(4), y: [0.5], shape, classes: 3 })).message,
    ).toMatch(/not an integer/)
    const bright = failure(Dataset.fromArrays({ x: [0, 0, 2, 0], y: [0], shape, classes: 3 }))
    expect(bright.message).toMatch(/x\[2\] = 2 is outside \[0, 1\]/)
    expect(bright.hint).toMatch(/Uint8Array/)
    expect(
      failure(Dataset.fromArrays({ x: [0, 0, Number.NaN, 0], y: [0], shape, classes: 3 })).message,
    ).toMatch(/NaN/)
    expect(failure(Dataset.fromArrays({ x: [], y: [], shape: [0, 2, 1], classes: 3 })).message).toMatch(
      /shape/,
    )
    expect(failure(Dataset.fromArrays({ x: [], y: [], shape, classes: 0 })).message).toMatch(/classes/)
    expect(
      failure(Dataset.fromArrays({ x: [], y: [], shape, classes: 3, classNames: ["a"] })).message,
    ).toMatch(/classNames/)
  })
})

describe("Dataset.fromBatches / collect", () => {
  const batches = [
    { x: [0, 0.1, 0.2, 0.3], y: [0] },
    { x: Uint8Array.of(255, 255, 255, 255, 0, 0, 0, 0), y: Int32Array.of(2, 1) },
  ]
  const check = (split: Dataset.Split) => {
    expect(split.n).toBe(3)
    expect(Array.from(split.y)).toEqual([0, 2, 1])
    expect(Array.from(split.x.subarray(4, 8))).toEqual([1, 1, 1, 1])
  }

  it("collects an Iterable, an AsyncIterable and an Effect Stream", async () => {
    check(run(Dataset.collect(batches, [2, 2, 1], 3)))
    async function* gen() {
      for (const b of batches) yield b
    }
    check(await Effect.runPromise(Dataset.collect(gen(), [2, 2, 1], 3)))
    check(await Effect.runPromise(Dataset.collect(Stream.fromIterable(batches), [2, 2, 1], 3)))
    const ds = await Effect.runPromise(
      Dataset.fromBatches({ train: Stream.fromIterable(batches), test: gen(), shape: [2, 2, 1], classes: 3 }),
    )
    check(ds.train)
    check(ds.test)
  })

  it("turns source errors and bad batches into DataError", async () => {
    async function* broken() {
      yield batches[0]!
      throw new Error("disk on fire")
    }
    const e1 = await Effect.runPromise(Effect.flip(Dataset.collect(broken(), [2, 2, 1], 3)))
    expect(e1.message).toMatch(/disk on fire/)
    const e2 = await Effect.runPromise(
      Effect.flip(Dataset.collect(Stream.fail("stream broke"), [2, 2, 1], 3)),
    )
    expect(e2).toBeInstanceOf(DataError)
    expect(e2.message).toMatch(/stream broke/)
    const e3 = await Effect.runPromise(
      Effect.flip(Dataset.collect([{ x: [0, 0, 0, 0], y: [0, 1] }], [2, 2, 1], 3)),
    )
    expect(e3.message).toMatch(/batch 0.*2 labels for 1 images/)
  })
})

describe("Dataset.subset and split", () => {
  it("subset(n) takes the first n images as views; subset(indices) copies in order", () => {
    const ds = tiny(10)
    const first = run(Dataset.subset(ds.train, 4))
    expect(first.n).toBe(4)
    expect(first.x.buffer).toBe(ds.train.x.buffer)
    expect(Array.from(first.y)).toEqual([0, 1, 2, 0])
    const picked = run(Dataset.subset(ds.train, [9, 2]))
    expect(Array.from(picked.y)).toEqual([0, 2])
    expect(picked.x[0]).toBe(Math.fround(0.9))
    const piped = run(Dataset.subset(3)(ds.train))
    expect(piped.n).toBe(3)
    expect(failure(Dataset.subset(ds.train, 11)).message).toMatch(/first 11 of 10/)
    expect(failure(Dataset.subset(ds.train, [0, 10])).message).toMatch(/index 10/)
  })

  it("split holds out a seeded validation set by count or fraction, disjoint and order-preserving", () => {
    const ds = tiny(100)
    const a = run(Dataset.split(ds, { validation: 0.1, seed: 7 }))
    const b = run(Dataset.split(ds, { validation: 10, seed: 7 }))
    expect(a.validation!.n).toBe(10)
    expect(a.train.n).toBe(90)
    expect(Array.from(a.validation!.x)).toEqual(Array.from(b.validation!.x))
    const ids = (s: Dataset.Split) => Array.from({ length: s.n }, (_, i) => Math.round(s.x[4 * i]! * 100))
    const held = ids(a.validation!)
    const kept = ids(a.train)
    expect([...held, ...kept].sort((p, q) => p - q)).toEqual(Array.from({ length: 100 }, (_, i) => i))
    expect(held).toEqual([...held].sort((p, q) => p - q))
    expect(kept).toEqual([...kept].sort((p, q) => p - q))
    // labels follow their images
    for (let i = 0; i < a.validation!.n; i++) expect(a.validation!.y[i]).toBe(held[i]! % 3)
    const c = run(Dataset.split(ds, { validation: 10, seed: 8 }))
    expect(ids(c.validation!)).not.toEqual(held)
    expect(a.test).toBe(ds.test)
    expect(failure(Dataset.split(ds, { validation: 100, seed: 1 })).message).toMatch(/validation must be/)
    expect(failure(Dataset.split(ds, { validation: 0, seed: 1 })).message).toMatch(/validation must be/)
    expect(run(Dataset.make(a)).validation!.n).toBe(10)
  })

  it("classCounts and checkClasses", () => {
    const ds = tiny(7)
    expect(Array.from(Dataset.classCounts(ds.train, 3))).toEqual([3, 2, 2])
    run(Dataset.checkClasses(ds, 3))
    const wrong = failure(Dataset.checkClasses(ds, 10))
    expect(wrong.message).toMatch(/has 3 classes but 10 are expected/)
    const only0 = run(
      Dataset.fromArrays({
        x: new Float32Array(8),
        y: [0, 0],
        shape: [2, 2, 1],
        classes: 3,
        classNames: ["a", "b", "c"],
      }),
    )
    expect(failure(Dataset.checkClasses(only0, 3)).message).toMatch(/no images of classes b, c/)
  })

  it("concat joins splits", () => {
    const ds = tiny(5)
    const parts = [run(Dataset.subset(ds.train, [0, 1])), run(Dataset.subset(ds.train, [2, 3, 4]))]
    const whole = Dataset.concat(parts)
    expect(Array.from(whole.x)).toEqual(Array.from(ds.train.x))
    expect(Array.from(whole.y)).toEqual(Array.from(ds.train.y))
  })
})
