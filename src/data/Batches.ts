/**
 * Mini-batches over a split: a seeded shuffle per epoch, cut into batches of a given size.
 *
 * The order of epoch `e` depends only on `(seed, e)` — not on earlier epochs or batch sizes — so
 * the same seed and epoch always give the same order, and a run resumed at a
 * {@link Position} `{ epoch, batchIndex }` continues with exactly the batches it would have seen.
 * The batch size may change at epoch boundaries (pass a function of the epoch). Each epoch
 * visits every image exactly once (with `dropLast`, the last incomplete batch is skipped).
 *
 * Everything is synchronous and cheap (a permutation of 60,000 indices takes about a
 * millisecond), so it fits inside a synchronous training loop. {@link gather} assembles a
 * batch's typed arrays and can write into caller-owned buffers for reuse.
 *
 * @example
 * ```ts
 * import { Batches } from "retort"
 * declare const train: import("retort").Dataset.Split
 * for (const batch of Batches.iterate(train, { batchSize: 128, seed: 42, epochs: 2 })) {
 *   // batch.x: Float32Array (n·h·w·c), batch.y: Int32Array, batch.position: { epoch, batchIndex }
 * }
 * ```
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { DataError } from "../errors.js"
import type { Split } from "./Dataset.js"
import * as Rng from "./Rng.js"

/**
 * Where a run is: the next batch to train on is batch `batchIndex` of epoch `epoch`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Position {
  readonly epoch: number
  readonly batchIndex: number
}

/**
 * How one epoch is ordered and cut. `shuffle` defaults to `true`, `dropLast` to `false`.
 *
 * @since 0.1.0
 * @category models
 */
export interface EpochOptions {
  readonly batchSize: number
  readonly seed: number
  readonly epoch: number
  readonly shuffle?: boolean
  readonly dropLast?: boolean
}

/**
 * How a run iterates: `batchSize` is a number or a function of the epoch (the batch size may
 * change at epoch boundaries); `from` is where to start (default `{ epoch: 0, batchIndex: 0 }`);
 * `epochs` is the epoch to stop before (default: never stop).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly batchSize: number | ((epoch: number) => number)
  readonly seed: number
  readonly shuffle?: boolean
  readonly dropLast?: boolean
  readonly from?: Position
  readonly epochs?: number
}

/**
 * One assembled batch: images, labels, the indices they came from (into the split) and its
 * position.
 *
 * @since 0.1.0
 * @category models
 */
export interface Batch {
  readonly x: Float32Array
  readonly y: Int32Array
  readonly n: number
  readonly indices: Int32Array
  readonly position: Position
}

const invalid = (message: string) => new DataError({ message: `batches: ${message}` })

const checkBatchSize = (batchSize: number, epoch: number) => {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw invalid(`batch size must be a positive integer, got ${batchSize} for epoch ${epoch}`)
  }
}

const checkEpoch = (epoch: number) => {
  if (!Number.isInteger(epoch) || epoch < 0)
    throw invalid(`epoch must be a non-negative integer, got ${epoch}`)
}

/**
 * The order in which epoch `epoch` visits the `n` images: a permutation seeded by
 * `derive(seed, "epoch", epoch)`, or `0 … n-1` when `shuffle` is `false`.
 *
 * @example
 * ```ts
 * import { Batches } from "retort"
 * Batches.order(5, { seed: 1, epoch: 0 }) // the same Int32Array every time
 * ```
 *
 * @since 0.1.0
 * @category planning
 */
export const order = (
  n: number,
  options: { readonly seed: number; readonly epoch: number; readonly shuffle?: boolean },
): Int32Array => {
  checkEpoch(options.epoch)
  return options.shuffle === false
    ? Rng.identity(n)
    : Rng.permutation(n, Rng.derive(options.seed, "epoch", options.epoch))
}

/**
 * Number of batches in an epoch of `n` images.
 *
 * @example
 * ```ts
 * import { Batches } from "retort"
 * Batches.count(10, 4) // 3
 * Batches.count(10, 4, true) // 2
 * ```
 *
 * @since 0.1.0
 * @category planning
 */
export const count = (n: number, batchSize: number, dropLast = false): number => {
  checkBatchSize(batchSize, 0)
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize)
}

/**
 * The batches of one epoch as arrays of indices into the split (views on one permutation).
 * Throws a `DataError` for a batch size or epoch that is not a valid integer (use {@link check}
 * to validate options up front as a typed error).
 *
 * @example
 * ```ts
 * import { Batches } from "retort"
 * const plan = Batches.plan(10, { batchSize: 4, seed: 7, epoch: 0 })
 * plan.length // 3; plan[2].length === 2
 * ```
 *
 * @since 0.1.0
 * @category planning
 */
export const plan = (n: number, options: EpochOptions): ReadonlyArray<Int32Array> => {
  checkBatchSize(options.batchSize, options.epoch)
  const perm = order(n, options)
  const batches = count(n, options.batchSize, options.dropLast)
  const out: Array<Int32Array> = []
  for (let b = 0; b < batches; b++) {
    out.push(perm.subarray(b * options.batchSize, Math.min(n, (b + 1) * options.batchSize)))
  }
  return out
}

/**
 * Assembles the images and labels at `indices` into contiguous typed arrays. Pass `out` buffers
 * (at least `indices.length` images long) to reuse memory across batches; the returned arrays
 * are then views on them — do not reuse a buffer while a tensor made from it is still alive.
 *
 * @example
 * ```ts
 * import { Batches } from "retort"
 * const split = { x: Float32Array.of(0.1, 0.2, 0.3), y: Int32Array.of(0, 1, 2), n: 3 }
 * Batches.gather(split, Int32Array.of(2, 0)).y // Int32Array [2, 0]
 * ```
 *
 * @since 0.1.0
 * @category assembling
 */
export const gather = (
  split: Split,
  indices: ArrayLike<number>,
  out?: { readonly x: Float32Array; readonly y: Int32Array },
): { readonly x: Float32Array; readonly y: Int32Array; readonly n: number } => {
  const size = split.n === 0 ? 0 : split.x.length / split.n
  const n = indices.length
  if (out && (out.x.length < n * size || out.y.length < n)) {
    throw invalid(`gather: output buffers hold fewer than ${n} images`)
  }
  const x = out ? out.x.subarray(0, n * size) : new Float32Array(n * size)
  const y = out ? out.y.subarray(0, n) : new Int32Array(n)
  const src = split.x
  const labels = split.y
  for (let i = 0; i < n; i++) {
    const j = indices[i]!
    x.set(src.subarray(j * size, j * size + size), i * size)
    y[i] = labels[j]!
  }
  return { x, y, n }
}

const sizeAt = (options: Options, epoch: number): number => {
  const size = typeof options.batchSize === "function" ? options.batchSize(epoch) : options.batchSize
  checkBatchSize(size, epoch)
  return size
}

/**
 * Validates iteration options against a split as a typed error: positive integer batch sizes
 * (for every epoch up to `epochs`, or the starting epoch), a valid starting position, and at least
 * one batch per epoch.
 *
 * @example
 * ```ts
 * import { Batches } from "retort"
 * import { Effect } from "effect"
 * declare const train: import("retort").Dataset.Split
 * const ok = Batches.check(train, { batchSize: 128, seed: 0, epochs: 10 })
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const check = (split: Split, options: Options): Effect.Effect<void, DataError> =>
  Effect.try({
    try: () => {
      const from = options.from ?? { epoch: 0, batchIndex: 0 }
      checkEpoch(from.epoch)
      if (!Number.isInteger(from.batchIndex) || from.batchIndex < 0) {
        throw invalid(`batchIndex must be a non-negative integer, got ${from.batchIndex}`)
      }
      const last = options.epochs === undefined ? from.epoch : Math.max(from.epoch, options.epochs - 1)
      if (options.epochs !== undefined && (!Number.isInteger(options.epochs) || options.epochs < 0)) {
        throw invalid(`epochs must be a non-negative integer, got ${options.epochs}`)
      }
      for (let e = from.epoch; e <= last; e++) {
        const size = sizeAt(options, e)
        if (count(split.n, size, options.dropLast) === 0) {
          throw invalid(
            `epoch ${e} has no batches: ${split.n} images with batch size ${size}${options.dropLast ? " and dropLast" : ""}`,
          )
        }
      }
    },
    catch: (e) => (e instanceof DataError ? e : invalid(String(e))),
  })

/**
 * The position after `position` in an epoch of `batches` batches.
 *
 * @example
 * ```ts
 * import { Batches } from "retort"
 * Batches.next({ epoch: 0, batchIndex: 2 }, 3) // { epoch: 1, batchIndex: 0 }
 * ```
 *
 * @since 0.1.0
 * @category planning
 */
export const next = (position: Position, batches: number): Position =>
  position.batchIndex + 1 >= batches
    ? { epoch: position.epoch + 1, batchIndex: 0 }
    : { epoch: position.epoch, batchIndex: position.batchIndex + 1 }

/**
 * Iterates batches from `options.from` (default the very start) until `options.epochs` (default
 * forever), assembling fresh arrays for each batch. A `batchIndex` beyond the end of its epoch
 * continues at the next epoch. Throws a `DataError` for invalid sizes (see {@link check}).
 *
 * @example
 * ```ts
 * import { Batches } from "retort"
 * declare const train: import("retort").Dataset.Split
 * const rest = Batches.iterate(train, { batchSize: 64, seed: 1, from: { epoch: 3, batchIndex: 17 }, epochs: 5 })
 * ```
 *
 * @since 0.1.0
 * @category iterating
 */
export function* iterate(split: Split, options: Options): Generator<Batch, void, undefined> {
  const from = options.from ?? { epoch: 0, batchIndex: 0 }
  let start = from.batchIndex
  for (let epoch = from.epoch; options.epochs === undefined || epoch < options.epochs; epoch++) {
    const batchSize = sizeAt(options, epoch)
    const batches = plan(split.n, {
      batchSize,
      seed: options.seed,
      epoch,
      ...(options.shuffle === undefined ? {} : { shuffle: options.shuffle }),
      ...(options.dropLast === undefined ? {} : { dropLast: options.dropLast }),
    })
    if (batches.length === 0)
      throw invalid(`epoch ${epoch} has no batches (${split.n} images, batch ${batchSize})`)
    for (let b = start; b < batches.length; b++) {
      const indices = batches[b]!
      const { x, y, n } = gather(split, indices)
      yield { x, y, n, indices, position: { epoch, batchIndex: b } }
    }
    start = 0
  }
}
