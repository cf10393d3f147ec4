/**
 * Which data set to load: a tagged value handed to `Data.load`. The built-in sets are named
 * (`Mnist`, `FashionMnist`); user data comes as arrays (`Arrays`) or as batches from an
 * `Iterable`, `AsyncIterable` or Effect `Stream` (`Batches`).
 *
 * @example
 * ```ts
 * import { DataSpec } from "retort"
 * const specs = [DataSpec.mnist(), DataSpec.fashionMnist({ download: false })]
 * ```
 *
 * @since 0.1.0
 */
import type * as CifarData from "./Cifar.js"
import type * as Dataset from "./Dataset.js"
import type * as ImageFolderData from "./ImageFolder.js"

/**
 * The embedded MNIST digits (8,000 train / 2,000 test), always available offline.
 *
 * @since 0.1.0
 * @category models
 */
export interface Mnist {
  readonly _tag: "Mnist"
}

/**
 * Fashion-MNIST from local IDX files or, when `download` is not `false`, from `baseUrl`
 * (default: the official bucket).
 *
 * @since 0.1.0
 * @category models
 */
export interface FashionMnist {
  readonly _tag: "FashionMnist"
  readonly dataDir?: string
  readonly download?: boolean
  readonly baseUrl?: string
}

/**
 * CIFAR-10 or CIFAR-100 in the standard binary format (see `Cifar.load`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Cifar extends CifarData.Options {
  readonly _tag: "Cifar"
}

/**
 * A folder of images, one sub-folder per class (see `ImageFolder.load`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Folder extends ImageFolderData.Options {
  readonly _tag: "Folder"
}

/**
 * User arrays: train images/labels and optionally a test split (see `Dataset.fromArrays`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Arrays {
  readonly _tag: "Arrays"
  readonly name?: string
  readonly x: Dataset.Arrays["x"]
  readonly y: Dataset.Arrays["y"]
  readonly test?: Dataset.Arrays
  readonly shape: Dataset.Shape
  readonly classes: number
  readonly classNames?: ReadonlyArray<string>
}

/**
 * User batches, collected into memory when loaded (see `Dataset.fromBatches`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Batches {
  readonly _tag: "Batches"
  readonly name?: string
  readonly train: Dataset.Batches
  readonly test?: Dataset.Batches
  readonly shape: Dataset.Shape
  readonly classes: number
  readonly classNames?: ReadonlyArray<string>
}

/**
 * Any data specification.
 *
 * @since 0.1.0
 * @category models
 */
export type DataSpec = Mnist | FashionMnist | Cifar | Folder | Arrays | Batches

/**
 * The embedded MNIST digits.
 *
 * @example
 * ```ts
 * import { DataSpec } from "retort"
 * DataSpec.mnist() // { _tag: "Mnist" }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const mnist = (): Mnist => ({ _tag: "Mnist" })

/**
 * Fashion-MNIST.
 *
 * @example
 * ```ts
 * import { DataSpec } from "retort"
 * DataSpec.fashionMnist({ dataDir: "./data", download: false })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fashionMnist = (options: Omit<FashionMnist, "_tag"> = {}): FashionMnist => ({
  _tag: "FashionMnist",
  ...options,
})

/**
 * User arrays.
 *
 * @example
 * ```ts
 * import { DataSpec } from "retort"
 * DataSpec.arrays({ x: new Float32Array(784 * 2), y: [3, 1], shape: [28, 28, 1], classes: 10 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const arrays = (options: Omit<Arrays, "_tag">): Arrays => ({ _tag: "Arrays", ...options })

/**
 * User batches from an `Iterable`, `AsyncIterable` or Effect `Stream` of `{ x, y }`.
 *
 * @example
 * ```ts
 * import { DataSpec } from "retort"
 * import { Stream } from "effect"
 * DataSpec.batches({ train: Stream.make({ x: [0, 1], y: [1] }), shape: [1, 2, 1], classes: 2 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const batches = (options: Omit<Batches, "_tag">): Batches => ({ _tag: "Batches", ...options })

/**
 * CIFAR-10 or CIFAR-100.
 *
 * @example
 * ```ts
 * import { DataSpec } from "retort"
 * DataSpec.cifar({ variant: "cifar10", path: "./data", download: false })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const cifar = (options: CifarData.Options): Cifar => ({ _tag: "Cifar", ...options })

/**
 * An image folder.
 *
 * @example
 * ```ts
 * import { DataSpec } from "retort"
 * DataSpec.folder({ path: "./data/flowers", size: [32, 32], channels: 3 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const folder = (options: ImageFolderData.Options): Folder => ({ _tag: "Folder", ...options })
