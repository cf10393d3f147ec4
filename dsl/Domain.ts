/**
 * Domains for domain generalisation (DG): a domain label per sample, and the standard synthetic
 * DG benchmarks built from the data at hand. `Domain.rotated()` is DomainBed's Rotated MNIST /
 * Rotated Fashion-MNIST: each split's images are dealt (seeded, balanced) into disjoint subsets,
 * one per angle, and every image of subset d is rotated by `angles[d]` degrees. Domain ids are
 * the indices into `angles`. A phase trains on some domains (`Phase.DataSlice.domains`), an
 * evaluation split can keep only some (`Phase.EvalSplit.domains`) and `perDomain` reports the
 * accuracy of each — together leave-one-domain-out training with model selection on a
 * training-domain validation split.
 *
 * @example
 * ```ts
 * import { Domain, Pipeline } from "retort/dsl"
 * const data = Pipeline.data("mnist", { validation: 6000, domains: Domain.rotated() })
 * const train = Domain.others(Domain.rotated(), [5]) // [0, 1, 2, 3, 4]: 75° is held out
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Issue from "./Issue.js"

/**
 * DomainBed's Rotated MNIST angles, in degrees.
 *
 * @example
 * ```ts
 * import { Domain } from "retort/dsl"
 * Domain.DOMAINBED_ANGLES // [0, 15, 30, 45, 60, 75]
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const DOMAINBED_ANGLES: ReadonlyArray<number> = [0, 15, 30, 45, 60, 75]

/**
 * Rotated domains: domain d is a disjoint subset of each split, rotated by `angles[d]` degrees
 * (counter-clockwise, bilinear, zero fill).
 *
 * @since 0.1.0
 * @category models
 */
export interface Rotated {
  readonly _tag: "Rotated"
  readonly angles: ReadonlyArray<number>
}

/**
 * A domain construction (one kind today: {@link Rotated}).
 *
 * @since 0.1.0
 * @category models
 */
export type Domains = Rotated

/**
 * Rotated domains (default: DomainBed's 0°, 15°, 30°, 45°, 60°, 75°).
 *
 * @example
 * ```ts
 * import { Domain } from "retort/dsl"
 * const rmnist = Domain.rotated()
 * const three = Domain.rotated([0, 30, 60])
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const rotated = (angles: ReadonlyArray<number> = DOMAINBED_ANGLES): Rotated => ({
  _tag: "Rotated",
  angles: [...angles],
})

/**
 * How many domains a construction has.
 *
 * @example
 * ```ts
 * import { Domain } from "retort/dsl"
 * Domain.count(Domain.rotated()) // 6
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const count = (d: Domains): number => d.angles.length

/**
 * The name of domain `i` (`"rot75"`), used in metric keys (`test/net/rot75/accuracy`).
 *
 * @example
 * ```ts
 * import { Domain } from "retort/dsl"
 * Domain.name(Domain.rotated(), 5) // "rot75"
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const name = (d: Domains, i: number): string => `rot${d.angles[i]}`

/**
 * The domain ids not in `heldOut`: the training domains of a leave-out split.
 *
 * @example
 * ```ts
 * import { Domain } from "retort/dsl"
 * Domain.others(Domain.rotated(), [0]) // [1, 2, 3, 4, 5]
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const others = (d: Domains, heldOut: ReadonlyArray<number>): ReadonlyArray<number> =>
  d.angles.map((_, i) => i).filter((i) => !heldOut.includes(i))

/**
 * Schema of a domain construction.
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema: Schema.Codec<Domains> = Schema.Struct({
  _tag: Schema.Literal("Rotated"),
  angles: Schema.Array(Schema.Finite),
})

/**
 * Checks a domain construction: 2 to 64 distinct finite angles in [−360, 360].
 *
 * @example
 * ```ts
 * import { Domain } from "retort/dsl"
 * Domain.check(Domain.rotated([0, 0]), ["data", "domains"]) // one issue: listed twice
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const check = (d: Domains, path: ReadonlyArray<string | number>): ReadonlyArray<Issue.Issue> => {
  const out: Array<Issue.Issue> = []
  const add = (p: ReadonlyArray<string | number>, message: string) =>
    out.push({ path: Issue.path(p), message })
  if (d.angles.length < 2 || d.angles.length > 64)
    add([...path, "angles"], `give 2 to 64 angles, got ${d.angles.length}`)
  const seen = new Set<number>()
  d.angles.forEach((a, i) => {
    if (!Number.isFinite(a) || Math.abs(a) > 360)
      add([...path, "angles", i], `must be in [-360, 360], got ${a}`)
    else if (seen.has(a)) add([...path, "angles", i], `angle ${a} is listed twice`)
    seen.add(a)
  })
  return out
}

/**
 * Checks a list of domain ids against a construction (or their absence when there is none).
 *
 * @example
 * ```ts
 * import { Domain } from "retort/dsl"
 * Domain.checkIds([0, 6], Domain.rotated(), ["phases", 0, "data", "domains"]) // 6 out of range
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const checkIds = (
  ids: ReadonlyArray<number>,
  d: Domains | undefined,
  path: ReadonlyArray<string | number>,
): ReadonlyArray<Issue.Issue> => {
  const out: Array<Issue.Issue> = []
  const add = (p: ReadonlyArray<string | number>, message: string) =>
    out.push({ path: Issue.path(p), message })
  if (d === undefined) {
    add(path, "the data declares no domains (set data.domains, e.g. Domain.rotated())")
    return out
  }
  if (ids.length === 0) add(path, "the domain list is empty: name at least one domain")
  const seen = new Set<number>()
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= d.angles.length)
      add(
        [...path, i],
        `domain ${id} does not exist: the data has ${d.angles.length} domains (0–${d.angles.length - 1})`,
      )
    else if (seen.has(id)) add([...path, i], `domain ${id} is listed twice`)
    seen.add(id)
  })
  return out
}
