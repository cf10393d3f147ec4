/**
 * A labelled image data set held in memory: a train and a test split (and, after
 * {@link split}, a validation split) of images `x` — `Float32Array`, `n·h·w·c` values in
 * `[0, 1]`, row-major, channels last — and integer class labels `y`.
 *
 * Built by the loaders (`Mnist`, `FashionMnist`), from user arrays ({@link fromArrays}) or from
 * batches arriving as an `Iterable`, `AsyncIterable` or Effect `Stream` ({@link fromBatches}).
 * Every constructor validates sizes, labels and pixel range and fails with a `DataError`.
 *
 * @example
 * ```ts
 * import { Dataset } from "retort"
 * import { Effect } from "effect"
 * const ds = Effect.runSync(Dataset.fromArrays({
 *   x: new Float32Array(4 * 2 * 2), y: [0, 1, 0, 1], shape: [2, 2, 1], classes: 2,
 * }))
 * ```
 *
 * @since 0.1.0
 */
import { Effect, Stream } from "effect"
import { dual } from "effect/Function"
import { DataError } from "../errors.js"
import * as Rng from "./Rng.js"

/**
 * Image shape `[height, width, channels]`.
 *
 * @since 0.1.0
 * @category models
 */
export type Shape = readonly [h: number, w: number, c: number]

/**
 * One split of a data set: `n` images in `x` (`n·h·w·c` floats in `[0, 1]`) and their labels in
 * `y` (`n` integers in `[0, classes)`). Treat the arrays as read-only.
 *
 * @since 0.1.0
 * @category models
 */
export interface Split {
  readonly x: Float32Array
  readonly y: Int32Array
  readonly n: number
}

/**
 * A labelled image data set.
 *
 * @since 0.1.0
 * @category models
 */
export interface Dataset {
  readonly name: string
  readonly classes: number
  readonly shape: Shape
  readonly classNames?: ReadonlyArray<string>
  readonly train: Split
  /** Present after {@link split}: images held out of `train` for model selection. */
  readonly validation?: Split
  readonly test: Split
}

/**
 * Images and labels as the user has them: images as floats in `[0, 1]`, or as bytes
 * (`Uint8Array` / `Uint8ClampedArray`, scaled by 1/255); labels as integers.
 *
 * @since 0.1.0
 * @category models
 */
export interface Arrays {
  readonly x: Float32Array | Float64Array | Uint8Array | Uint8ClampedArray | ArrayLike<number>
  readonly y: Int32Array | Uint8Array | ArrayLike<number>
}

/**
 * Number of values in one image: `h·w·c`.
 *
 * @example
 * ```ts
 * import { Dataset } from "retort"
 * Dataset.sampleSize([28, 28, 1]) // 784
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const sampleSize = (shape: Shape): number => shape[0] * shape[1] * shape[2]

/**
 * A split with no images.
 *
 * @example
 * ```ts
 * import { Dataset } from "retort"
 * Dataset.empty.n // 0
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty: Split = { x: new Float32Array(0), y: new Int32Array(0), n: 0 }

const error = (message: string, hint?: string) =>
  new DataError(hint === undefined ? { message } : { message, hint })

const checkShape = (shape: Shape, classes: number, classNames: ReadonlyArray<string> | undefined) => {
  if (shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    return error(`shape must be [height, width, channels] of positive integers, got [${shape.join(", ")}]`)
  }
  if (!Number.isInteger(classes) || classes < 1) {
    return error(`classes must be a positive integer, got ${classes}`)
  }
  if (classNames !== undefined && classNames.length !== classes) {
    return error(`classNames has ${classNames.length} names for ${classes} classes`)
  }
  return undefined
}

/**
 * Checks one split against a shape and class count: sizes agree, labels are integers in
 * `[0, classes)`, pixels are finite and in `[0, 1]`. Returns the first problem found.
 *
 * @example
 * ```ts
 * import { Dataset } from "retort"
 * import { Effect } from "effect"
 * Effect.runSync(Dataset.validateSplit({ x: new Float32Array(4), y: Int32Array.of(1), n: 1 }, [2, 2, 1], 2, "train"))
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const validateSplit = (
  split: Split,
  shape: Shape,
  classes: number,
  name = "split",
): Effect.Effect<Split, DataError> =>
  Effect.suspend(() => {
    const size = sampleSize(shape)
    if (!Number.isInteger(split.n) || split.n < 0)
      return Effect.fail(error(`${name}: n must be a count, got ${split.n}`))
    if (split.x.length !== split.n * size) {
      return Effect.fail(
        error(
          `${name}: x has ${split.x.length} values; ${split.n} images of shape [${shape.join(", ")}] need ${split.n * size}`,
        ),
      )
    }
    if (split.y.length !== split.n) {
      return Effect.fail(error(`${name}: y has ${split.y.length} labels for ${split.n} images`))
    }
    for (let i = 0; i < split.n; i++) {
      const label = split.y[i]!
      if (label < 0 || label >= classes) {
        return Effect.fail(error(`${name}: label y[${i}] = ${label} is outside [0, ${classes})`))
      }
    }
    const x = split.x
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!
      // written so that NaN fails too
      if (!(v >= 0 && v <= 1)) {
        return Effect.fail(
          error(
            `${name}: pixel x[${i}] = ${v} is outside [0, 1]`,
            "scale images to [0, 1] (pass bytes as a Uint8Array to have them divided by 255)",
          ),
        )
      }
    }
    return Effect.succeed(split)
  })

/**
 * Builds a data set from ready splits, validating every split.
 *
 * @example
 * ```ts
 * import { Dataset } from "retort"
 * import { Effect } from "effect"
 * const ds = Effect.runSync(Dataset.make({
 *   name: "tiny", classes: 2, shape: [1, 1, 1],
 *   train: { x: Float32Array.of(0, 1), y: Int32Array.of(0, 1), n: 2 }, test: Dataset.empty,
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (dataset: Dataset): Effect.Effect<Dataset, DataError> =>
  Effect.gen(function* () {
    const problem = checkShape(dataset.shape, dataset.classes, dataset.classNames)
    if (problem) return yield* Effect.fail(problem)
    yield* validateSplit(dataset.train, dataset.shape, dataset.classes, `${dataset.name}.train`)
    if (dataset.validation) {
      yield* validateSplit(dataset.validation, dataset.shape, dataset.classes, `${dataset.name}.validation`)
    }
    yield* validateSplit(dataset.test, dataset.shape, dataset.classes, `${dataset.name}.test`)
    return dataset
  })

/** Converts user arrays to a split without validating values (sizes are checked later). */
const toSplit = (arrays: Arrays, size: number, name: string): Split | DataError => {
  const { x: xs, y: ys } = arrays
  if (xs.length % size !== 0) {
    return error(`${name}: x has ${xs.length} values, not a multiple of the image size ${size}`)
  }
  const n = xs.length / size
  let x: Float32Array
  if (xs instanceof Float32Array) {
    x = xs
  } else if (xs instanceof Uint8Array || xs instanceof Uint8ClampedArray) {
    x = bytesToFloats(xs)
  } else {
    x = Float32Array.from(xs)
  }
  let y: Int32Array
  if (ys instanceof Int32Array) {
    y = ys
  } else {
    y = new Int32Array(ys.length)
    for (let i = 0; i < ys.length; i++) {
      const v = ys[i]!
      if (!Number.isInteger(v)) return error(`${name}: label y[${i}] = ${v} is not an integer`)
      y[i] = v
    }
  }
  return { x, y, n }
}

/**
 * Converts 8-bit pixels to floats in `[0, 1]` (divided by 255).
 *
 * @example
 * ```ts
 * import { Dataset } from "retort"
 * Dataset.bytesToFloats(Uint8Array.of(0, 255)) // Float32Array [0, 1]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const bytesToFloats = (bytes: ArrayLike<number>): Float32Array => {
  const out = new Float32Array(bytes.length)
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! / 255
  return out
}

/**
 * Builds a data set from in-memory arrays. `x`/`y` become the train split; `test`, when given,
 * the test split (otherwise the test split is empty — hold data out with {@link split}).
 * `Float32Array` images are used as they are (no copy); bytes are divided by 255.
 *
 * @example
 * ```ts
 * import { Dataset } from "retort"
 * import { Effect } from "effect"
 * const ds = Effect.runSync(Dataset.fromArrays({
 *   x: Uint8Array.of(0, 255, 128, 7), y: [1, 0], shape: [1, 2, 1], classes: 2,
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromArrays = (options: {
  readonly name?: string
  readonly x: Arrays["x"]
  readonly y: Arrays["y"]
  readonly test?: Arrays
  readonly shape: Shape
  readonly classes: number
  readonly classNames?: ReadonlyArray<string>
}): Effect.Effect<Dataset, DataError> =>
  Effect.suspend(() => {
    const name = options.name ?? "arrays"
    const problem = checkShape(options.shape, options.classes, options.classNames)
    if (problem) return Effect.fail(problem)
    const size = sampleSize(options.shape)
    const train = toSplit(options, size, `${name}.train`)
    if (train instanceof DataError) return Effect.fail(train)
    const test = options.test ? toSplit(options.test, size, `${name}.test`) : empty
    if (test instanceof DataError) return Effect.fail(test)
    return make({
      name,
      classes: options.classes,
      shape: options.shape,
      ...(options.classNames ? { classNames: options.classNames } : {}),
      train,
      test,
    })
  })

/**
 * Where batches can come from: a synchronous or asynchronous iterable, or an Effect `Stream`.
 *
 * @since 0.1.0
 * @category models
 */
export type Batches = Iterable<Arrays> | AsyncIterable<Arrays> | Stream.Stream<Arrays, unknown>

/**
 * Collects batches (each `{ x, y }` holding any number of images) into one contiguous split.
 * Errors raised by the source become a `DataError`.
 *
 * @example
 * ```ts
 * import { Dataset } from "retort"
 * import { Effect, Stream } from "effect"
 * const split = Effect.runPromise(Dataset.collect(
 *   Stream.make({ x: [0, 1], y: [1] }, { x: [1, 0], y: [0] }), [1, 2, 1], 2,
 * ))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const collect = (
  source: Batches,
  shape: Shape,
  classes: number,
  name = "batches",
): Effect.Effect<Split, DataError> =>
  Effect.gen(function* () {
    const problem = checkShape(shape, classes, undefined)
    if (problem) return yield* Effect.fail(problem)
    const size = sampleSize(shape)
    const parts: Array<Split> = []
    let index = 0
    const add = (batch: Arrays): Effect.Effect<void, DataError> => {
      const part = toSplit(batch, size, `${name}[batch ${index++}]`)
      if (part instanceof DataError) return Effect.fail(part)
      if (part.y.length !== part.n) {
        return Effect.fail(error(`${name}[batch ${index - 1}]: ${part.y.length} labels for ${part.n} images`))
      }
      parts.push(part)
      return Effect.void
    }
    const sourceError = (cause: unknown) =>
      new DataError({
        message: `${name}: the batch source failed: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause,
      })
    if (Stream.isStream(source)) {
      yield* Stream.runForEach(source as Stream.Stream<Arrays, unknown>, add).pipe(
        Effect.mapError((e) => (e instanceof DataError ? e : sourceError(e))),
      )
    } else if (Symbol.asyncIterator in source) {
      const iterator = source[Symbol.asyncIterator]()
      while (true) {
        const step = yield* Effect.tryPromise({ try: () => iterator.next(), catch: sourceError })
        if (step.done) break
        yield* add(step.value)
      }
    } else {
      const iterator = source[Symbol.iterator]()
      while (true) {
        const step = yield* Effect.try({ try: () => iterator.next(), catch: sourceError })
        if (step.done) break
        yield* add(step.value)
      }
    }
    const split = concat(parts)
    return yield* validateSplit(split, shape, classes, name)
  })

/**
 * Concatenates splits (of the same image size) into one.
 *
 * @example
 * ```ts
 * import { Dataset } from "retort"
 * const both = Dataset.concat([Dataset.empty, Dataset.empty])
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const concat = (splits: ReadonlyArray<Split>): Split => {
  if (splits.length === 1) return splits[0]!
  let n = 0
  let values = 0
  for (const s of splits) {
    n += s.n
    values += s.x.length
  }
  const x = new Float32Array(values)
  const y = new Int32Array(n)
  let at = 0
  let row = 0
  for (const s of splits) {
    x.set(s.x, at)
    y.set(s.y, row)
    at += s.x.length
    row += s.n
  }
  return { x, y, n }
}

/**
 * Builds a data set from batch sources for train and (optionally) test.
 *
 * @example
 * ```ts
 * import { Dataset } from "retort"
 * import { Effect } from "effect"
 * async function* batches() { yield { x: [0, 1], y: [1] } }
 * const ds = Effect.runPromise(Dataset.fromBatches({ train: batches(), shape: [1, 2, 1], classes: 2 }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromBatches = (options: {
  readonly name?: string
  readonly train: Batches
  readonly test?: Batches
  readonly shape: Shape
  readonly classes: number
  readonly classNames?: ReadonlyArray<string>
}): Effect.Effect<Dataset, DataError> =>
  Effect.gen(function* () {
    const name = options.name ?? "batches"
    const problem = checkShape(options.shape, options.classes, options.classNames)
    if (problem) return yield* Effect.fail(problem)
    const train = yield* collect(options.train, options.shape, options.classes, `${name}.train`)
    const test = options.test
      ? yield* collect(options.test, options.shape, options.classes, `${name}.test`)
      : empty
    return {
      name,
      classes: options.classes,
      shape: options.shape,
      ...(options.classNames ? { classNames: options.classNames } : {}),
      train,
      test,
    }
  })

/**
 * The images at `indices`, copied into a new split, in the order given.
 *
 * @example
 * ```ts
 * import { Dataset } from "retort"
 * const s = { x: Float32Array.of(0.1, 0.2, 0.3), y: Int32Array.of(0, 1, 2), n: 3 }
 * Dataset.take(s, [2, 0]).y // Int32Array [2, 0]
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const take = (split: Split, indices: ArrayLike<number>): Split => {
  const size = split.n === 0 ? 0 : split.x.length / split.n
  const n = indices.length
  const x = new Float32Array(n * size)
  const y = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const j = indices[i]!
    x.set(split.x.subarray(j * size, (j + 1) * size), i * size)
    y[i] = split.y[j]!
  }
  return { x, y, n }
}

/**
 * A smaller split: the first `n` images (views, no copy) — "students see only the first 5,000
 * training images" — or the images at the given indices (copied, in that order). Fails when `n`
 * exceeds the split or an index is out of range.
 *
 * @example
 * ```ts
 * import { Dataset } from "retort"
 * import { Effect } from "effect"
 * const s = { x: Float32Array.of(0.1, 0.2, 0.3), y: Int32Array.of(0, 1, 2), n: 3 }
 * Effect.runSync(Dataset.subset(s, 2)).n // 2
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const subset: {
  (selection: number | ArrayLike<number>): (split: Split) => Effect.Effect<Split, DataError>
  (split: Split, selection: number | ArrayLike<number>): Effect.Effect<Split, DataError>
} = dual(
  2,
  (split: Split, selection: number | ArrayLike<number>): Effect.Effect<Split, DataError> =>
    Effect.suspend(() => {
      if (typeof selection === "number") {
        if (!Number.isInteger(selection) || selection < 0 || selection > split.n) {
          return Effect.fail(error(`subset: cannot take the first ${selection} of ${split.n} images`))
        }
        const size = split.n === 0 ? 0 : split.x.length / split.n
        return Effect.succeed({
          x: split.x.subarray(0, selection * size),
          y: split.y.subarray(0, selection),
          n: selection,
        })
      }
      for (let i = 0; i < selection.length; i++) {
        const j = selection[i]!
        if (!Number.isInteger(j) || j < 0 || j >= split.n) {
          return Effect.fail(error(`subset: index ${j} (at ${i}) is outside [0, ${split.n})`))
        }
      }
      return Effect.succeed(take(split, selection))
    }),
)

/**
 * Holds out a validation split from `train`, chosen by a seeded shuffle: `validation` is a count
 * (`5000`) or a fraction in `(0, 1)` (`0.1`, rounded to the nearest image). Both resulting splits
 * keep the original order of their images. The test split is untouched. Fails when the count is
 * not in `[1, train.n - 1]`.
 *
 * @example
 * ```ts
 * import { Dataset } from "retort"
 * import { Effect } from "effect"
 * const ds = Effect.runSync(Dataset.fromArrays({ x: new Float32Array(10), y: [0, 1, 0, 1, 0, 1, 0, 1, 0, 1], shape: [1, 1, 1], classes: 2 }))
 * const held = Effect.runSync(Dataset.split(ds, { validation: 0.2, seed: 1 }))
 * held.validation?.n // 2
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const split: {
  (options: {
    readonly validation: number
    readonly seed: number
  }): (dataset: Dataset) => Effect.Effect<Dataset, DataError>
  (
    dataset: Dataset,
    options: { readonly validation: number; readonly seed: number },
  ): Effect.Effect<Dataset, DataError>
} = dual(
  2,
  (
    dataset: Dataset,
    options: { readonly validation: number; readonly seed: number },
  ): Effect.Effect<Dataset, DataError> =>
    Effect.suspend(() => {
      const n = dataset.train.n
      const v = options.validation
      const count = v > 0 && v < 1 ? Math.round(v * n) : v
      if (!Number.isInteger(count) || count < 1 || count >= n) {
        return Effect.fail(
          error(
            `split: validation must be a count in [1, ${n - 1}] or a fraction in (0, 1) of the ${n} training images, got ${v}`,
          ),
        )
      }
      const order = Rng.permutation(n, Rng.derive(options.seed, "validation"))
      const held = order.subarray(0, count).sort()
      const kept = order.subarray(count).sort()
      return Effect.succeed({
        ...dataset,
        train: take(dataset.train, kept),
        validation: take(dataset.train, held),
      })
    }),
)

/**
 * How many images of each class a split holds (index = class).
 *
 * @example
 * ```ts
 * import { Dataset } from "retort"
 * Dataset.classCounts({ x: new Float32Array(3), y: Int32Array.of(0, 2, 2), n: 3 }, 3) // Int32Array [1, 0, 2]
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const classCounts = (split: Split, classes: number): Int32Array => {
  const counts = new Int32Array(classes)
  for (let i = 0; i < split.n; i++) {
    const c = split.y[i]!
    if (c >= 0 && c < classes) counts[c]!++
  }
  return counts
}

/**
 * Checks that a data set has the number of classes a model expects and that its training split
 * has at least one image of every class. Fails with a `DataError` naming the mismatch or the
 * missing classes.
 *
 * @example
 * ```ts
 * import { Dataset } from "retort"
 * import { Effect } from "effect"
 * declare const ds: Dataset.Dataset
 * const ok = Dataset.checkClasses(ds, 10)
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const checkClasses = (dataset: Dataset, classes: number): Effect.Effect<Dataset, DataError> =>
  Effect.suspend(() => {
    if (dataset.classes !== classes) {
      return Effect.fail(
        error(
          `${dataset.name} has ${dataset.classes} classes but ${classes} are expected`,
          "make the model's output width equal to the data set's class count",
        ),
      )
    }
    const counts = classCounts(dataset.train, dataset.classes)
    const missing: Array<string> = []
    counts.forEach((c, i) => {
      if (c === 0) missing.push(dataset.classNames?.[i] ?? String(i))
    })
    if (missing.length > 0) {
      return Effect.fail(
        error(
          `${dataset.name}.train has no images of class${missing.length > 1 ? "es" : ""} ${missing.join(", ")}`,
        ),
      )
    }
    return Effect.succeed(dataset)
  })

/**
 * The mean and standard deviation of each channel over a split's pixels (population std, in
 * float64), as a per-channel normalisation `{ mean, std }`; a channel with no variation gets
 * std 1 (so normalising never divides by zero).
 *
 * @example
 * ```ts
 * import { Dataset } from "retort"
 * const s = { x: Float32Array.of(0, 1, 0.5, 1, 1, 1), y: Int32Array.of(0, 1, 0), n: 3 }
 * Dataset.channelStats(s, 2) // { mean: [0.5, 1], std: [0.408…, 1] }
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const channelStats = (
  split: Split,
  channels: number,
): { readonly mean: ReadonlyArray<number>; readonly std: ReadonlyArray<number> } => {
  const sum = new Float64Array(channels)
  const sq = new Float64Array(channels)
  const x = split.x
  for (let i = 0; i < x.length; i += channels)
    for (let c = 0; c < channels; c++) {
      const v = x[i + c]!
      sum[c]! += v
      sq[c]! += v * v
    }
  const count = x.length / channels
  const mean = Array.from(sum, (s) => (count > 0 ? s / count : 0))
  const std = Array.from(sq, (q, c) => {
    const variance = count > 0 ? q / count - mean[c]! ** 2 : 0
    return variance > 1e-12 ? Math.sqrt(variance) : 1
  })
  return { mean, std }
}
