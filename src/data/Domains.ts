/**
 * Builds the synthetic domains a pipeline declares (`Pipeline.Data.domains`, see `dsl/Domain.ts`)
 * from a loaded data set, and selects samples by domain.
 *
 * Rotated MNIST / Fashion-MNIST follow DomainBed: within each split the images are dealt by a
 * seeded permutation into `angles.length` disjoint, equally sized subsets (rank `r` of the
 * permutation goes to domain `r mod D`), and every image of domain `d` is rotated by
 * `angles[d]` degrees counter-clockwise about the image centre (bilinear, zero fill). Labels
 * are unchanged. The result carries a domain id per sample for every split.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Domain from "../../dsl/Domain.js"
 * import * as Domains from "./Domains.js"
 * const s = { x: new Float32Array(6 * 4), y: Int32Array.of(0, 1, 2, 0, 1, 2), n: 6 }
 * const ds = { name: "tiny", classes: 3, shape: [2, 2, 1] as const, train: s, test: s }
 * const built = Effect.runSync(Domains.build(ds, Domain.rotated([0, 90]), 1))
 * const held = Domains.select(built.dataset.test, built.domains.test, [1]) // the 90° half
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import type * as Domain from "../../dsl/Domain.js"
import * as Image from "../augment/Image.js"
import { DataError } from "../errors.js"
import * as Dataset from "./Dataset.js"
import * as Rng from "./Rng.js"

/**
 * A data set with a domain id per sample of each split.
 *
 * @since 0.1.0
 * @category models
 */
export interface Labelled {
  readonly dataset: Dataset.Dataset
  readonly spec: Domain.Domains
  readonly domains: {
    readonly train: Int32Array
    readonly validation: Int32Array
    readonly test: Int32Array
  }
}

/**
 * A split together with the domain id of each of its samples.
 *
 * @since 0.1.0
 * @category models
 */
export interface Selected {
  readonly split: Dataset.Split
  readonly domains: Int32Array
}

/**
 * Deals `n` samples into `count` disjoint, balanced domains with a seeded permutation: the
 * sample at rank `r` of the permutation gets domain `r mod count`.
 *
 * @example
 * ```ts
 * import * as Domains from "./Domains.js"
 * const d = Domains.assign(12, 6, 1) // each of 0…5 twice
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const assign = (n: number, count: number, seed: number): Int32Array => {
  const perm = Rng.permutation(n, seed)
  const out = new Int32Array(n)
  for (let r = 0; r < n; r++) out[perm[r]!] = r % count
  return out
}

const CHUNK = 1024

/**
 * Rotates every image of `split` by the angle (degrees, counter-clockwise) of its domain.
 *
 * @example
 * ```ts
 * import * as Domains from "./Domains.js"
 * const s = { x: new Float32Array(2 * 9), y: Int32Array.of(0, 1), n: 2 }
 * const r = Domains.rotate(s, Int32Array.of(0, 1), [0, 90], [3, 3, 1])
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const rotate = (
  split: Dataset.Split,
  domains: Int32Array,
  angles: ReadonlyArray<number>,
  shape: Dataset.Shape,
): Dataset.Split => {
  const [h, w, c] = shape
  const size = h * w * c
  const x = new Float32Array(split.x.length)
  x.set(split.x.subarray(0, split.n * size))
  for (let i = 0; i < split.n; i += CHUNK) {
    const k = Math.min(CHUNK, split.n - i)
    const theta = new Float32Array(k)
    let any = false
    for (let j = 0; j < k; j++) {
      theta[j] = (angles[domains[i + j]!]! * Math.PI) / 180
      if (theta[j] !== 0) any = true
    }
    if (!any) continue
    const out = tf.tidy(() => {
      const imgs = tf.tensor4d(split.x.subarray(i * size, (i + k) * size), [k, h, w, c])
      return Image.warp(imgs, Image.rotation(tf.tensor1d(theta), h, w), "bilinear")
    })
    x.set(out.dataSync() as Float32Array, i * size)
    out.dispose()
  }
  return { x, y: split.y, n: split.n }
}

/**
 * Builds the declared domains on every split of `dataset` (the permutation of each split is
 * drawn from `seed`). Fails with a {@link DataError} for a data set of variable shape.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Domain from "../../dsl/Domain.js"
 * import * as Domains from "./Domains.js"
 * const s = { x: new Float32Array(4 * 4), y: Int32Array.of(0, 1, 0, 1), n: 4 }
 * const ds = { name: "tiny", classes: 2, shape: [2, 2, 1] as const, train: s, test: s }
 * const built = Effect.runSync(Domains.build(ds, Domain.rotated([0, 45]), 7))
 * built.domains.train // two samples of each domain
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const build = (
  dataset: Dataset.Dataset,
  spec: Domain.Domains,
  seed: number,
): Effect.Effect<Labelled, DataError> =>
  Effect.try({
    try: () => {
      const D = spec.angles.length
      const one = (split: Dataset.Split | undefined, salt: string) => {
        if (!split || split.n === 0) return { split, domains: new Int32Array(0) }
        const domains = assign(split.n, D, Rng.derive(seed, "domains", salt) >>> 0)
        return { split: rotate(split, domains, spec.angles, dataset.shape), domains }
      }
      const train = one(dataset.train, "train")
      const validation = one(dataset.validation, "validation")
      const test = one(dataset.test, "test")
      const out: Dataset.Dataset = {
        ...dataset,
        train: train.split!,
        test: test.split!,
        ...(validation.split !== undefined ? { validation: validation.split } : {}),
      }
      return {
        dataset: out,
        spec,
        domains: { train: train.domains, validation: validation.domains, test: test.domains },
      }
    },
    catch: (cause) =>
      new DataError({ message: `could not build the domains of ${dataset.name}: ${String(cause)}`, cause }),
  })

/**
 * The samples of `split` whose domain is in `ids` (copied, in order), with their domain ids.
 *
 * @example
 * ```ts
 * import * as Domains from "./Domains.js"
 * const s = { x: Float32Array.of(1, 2, 3), y: Int32Array.of(0, 1, 2), n: 3 }
 * Domains.select(s, Int32Array.of(0, 1, 0), [0]).split.y // Int32Array [0, 2]
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const select = (split: Dataset.Split, domains: Int32Array, ids: ReadonlyArray<number>): Selected => {
  const keep = new Set(ids)
  const idx: Array<number> = []
  for (let i = 0; i < split.n; i++) if (keep.has(domains[i]!)) idx.push(i)
  return { split: Dataset.take(split, idx), domains: Int32Array.from(idx, (i) => domains[i]!) }
}

/**
 * The domain ids of a data split (`train`, `validation`, `test`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Domain from "../../dsl/Domain.js"
 * import * as Domains from "./Domains.js"
 * const s = { x: new Float32Array(4), y: Int32Array.of(0, 1, 0, 1), n: 4 }
 * const ds = { name: "tiny", classes: 2, shape: [1, 1, 1] as const, train: s, test: s }
 * Domains.of(Effect.runSync(Domains.build(ds, Domain.rotated([0, 45]), 7)), "test").length // 4
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const of = (labelled: Labelled, split: "train" | "validation" | "test"): Int32Array =>
  labelled.domains[split]
