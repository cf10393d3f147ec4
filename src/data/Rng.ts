/**
 * Seeded randomness for data handling: shuffles, permutations and hold-out splits.
 *
 * The generator is `xoroshiro128+` from the well-known `pure-rand` package, drawn through its
 * unbiased `uniformInt`. Independent streams for independent uses (epoch 3's shuffle, the
 * validation split, …) come from {@link derive}, which hashes a seed and any number of salts
 * with MurmurHash3 (x86, 32-bit) into a fresh 32-bit seed. Everything here is deterministic: the
 * same seed and salts give the same numbers on every platform.
 *
 * @example
 * ```ts
 * import { Rng } from "retort"
 * const order = Rng.permutation(10, Rng.derive(42, "epoch", 0))
 * ```
 *
 * @since 0.1.0
 */
import { uniformInt } from "pure-rand/distribution/uniformInt"
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus"
import type { RandomGenerator } from "pure-rand/types/RandomGenerator"

/**
 * A mutable pseudo-random generator (`pure-rand`'s interface): `next()` returns a uniform 32-bit
 * signed integer and advances the state.
 *
 * @since 0.1.0
 * @category models
 */
export type Generator = RandomGenerator

const C1 = 0xcc9e2d51
const C2 = 0x1b873593

const mixWord = (h: number, word: number): number => {
  let k = Math.imul(word | 0, C1)
  k = (k << 15) | (k >>> 17)
  k = Math.imul(k, C2)
  h ^= k
  h = (h << 13) | (h >>> 19)
  return (Math.imul(h, 5) + 0xe6546b64) | 0
}

const fmix32 = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h | 0
}

/**
 * Hashes a seed and salts (numbers or strings) into a new 32-bit seed with MurmurHash3. Use it
 * to split one run seed into independent streams: `derive(seed, "shuffle", epoch)`. Numbers
 * are taken as integers (up to 2^53, both halves are hashed); strings by their UTF-16 units.
 *
 * @example
 * ```ts
 * import { Rng } from "retort"
 * Rng.derive(42, "epoch", 3) === Rng.derive(42, "epoch", 3) // true
 * ```
 *
 * @since 0.1.0
 * @category seeds
 */
export const derive = (seed: number, ...salt: ReadonlyArray<number | string>): number => {
  let h = 0x52455452 // "RETR"
  let words = 0
  const addNumber = (v: number) => {
    const int = Number.isFinite(v) ? Math.trunc(v) : 0
    const lo = int % 0x100000000
    const hi = Math.floor(int / 0x100000000)
    h = mixWord(h, lo)
    h = mixWord(h, hi)
    words += 2
  }
  addNumber(seed)
  for (const s of salt) {
    if (typeof s === "number") {
      addNumber(s)
    } else {
      h = mixWord(h, 0x5354 ^ s.length) // tag strings so "a",1 and 97 differ
      words++
      for (let i = 0; i < s.length; i++) {
        h = mixWord(h, s.charCodeAt(i))
        words++
      }
    }
  }
  return fmix32(h ^ (words * 4))
}

/**
 * A fresh `xoroshiro128+` generator seeded with the 32-bit value of `seed`.
 *
 * @example
 * ```ts
 * import { Rng } from "retort"
 * const g = Rng.make(7)
 * const roll = Rng.int(g, 1, 6)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (seed: number): Generator => xoroshiro128plus(seed | 0)

/**
 * A uniform integer in `[from, to]` (both included), without modulo bias.
 *
 * @example
 * ```ts
 * import { Rng } from "retort"
 * Rng.int(Rng.make(1), 0, 9)
 * ```
 *
 * @since 0.1.0
 * @category draws
 */
export const int = (generator: Generator, from: number, to: number): number => uniformInt(generator, from, to)

/**
 * Shuffles `array` in place with the Fisher–Yates algorithm and returns it.
 *
 * @example
 * ```ts
 * import { Rng } from "retort"
 * Rng.shuffle(Int32Array.of(1, 2, 3, 4), Rng.make(3))
 * ```
 *
 * @since 0.1.0
 * @category draws
 */
export const shuffle = <T extends { [i: number]: number; readonly length: number }>(
  array: T,
  generator: Generator,
): T => {
  for (let i = array.length - 1; i > 0; i--) {
    const j = uniformInt(generator, 0, i)
    const t = array[i]!
    array[i] = array[j]!
    array[j] = t
  }
  return array
}

/**
 * The identity permutation `0 … n-1`.
 *
 * @example
 * ```ts
 * import { Rng } from "retort"
 * Rng.identity(3) // Int32Array [0, 1, 2]
 * ```
 *
 * @since 0.1.0
 * @category draws
 */
export const identity = (n: number): Int32Array => {
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) out[i] = i
  return out
}

/**
 * A uniformly random permutation of `0 … n-1`, determined by `seed`.
 *
 * @example
 * ```ts
 * import { Rng } from "retort"
 * Rng.permutation(5, 42) // same result on every call
 * ```
 *
 * @since 0.1.0
 * @category draws
 */
export const permutation = (n: number, seed: number): Int32Array => shuffle(identity(n), make(seed))
