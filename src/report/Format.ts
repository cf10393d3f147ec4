/**
 * Short, fixed-width-friendly renderings of numbers, durations and rates for terminal output and
 * plot labels.
 *
 * @example
 * ```ts
 * import * as Format from "./Format.js"
 * Format.number(0.97123) // "0.9712"
 * Format.duration(125) // "2m05s"
 * Format.rate(5320) // "5.32k"
 * ```
 *
 * @since 0.1.0
 */

/**
 * A number in at most ~9 characters: integers as they are (below 10⁶), four significant digits
 * otherwise (trailing zeros dropped), exponent notation for very large or very small magnitudes;
 * `NaN`, `inf`, `-inf`.
 *
 * @example
 * ```ts
 * import * as Format from "./Format.js"
 * Format.number(1234) // "1234"
 * Format.number(0.000012345) // "1.23e-5"
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const number = (x: number): string => {
  if (Number.isNaN(x)) return "NaN"
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf"
  const a = Math.abs(x)
  if (Number.isInteger(x) && a < 1e6) return String(x)
  if (a >= 1e5 || a < 1e-3) return trimZeros(x.toExponential(2)).replace("e+", "e")
  return trimZeros(x.toPrecision(4))
}

/** "0.9700" → "0.97", "1.50e-4" → "1.5e-4", "12.00" → "12". */
const trimZeros = (s: string): string => {
  const [mantissa, exponent] = s.split("e") as [string, string | undefined]
  const m = mantissa.includes(".") ? mantissa.replace(/0+$/, "").replace(/\.$/, "") : mantissa
  return exponent === undefined ? m : `${m}e${exponent}`
}

/**
 * Seconds as `0.4s`, `12s`, `3m05s`, `1h02m`; `?` when unknown (not finite or negative).
 *
 * @example
 * ```ts
 * import * as Format from "./Format.js"
 * Format.duration(3725) // "1h02m"
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const duration = (seconds: number): string => {
  if (!Number.isFinite(seconds) || seconds < 0) return "?"
  if (seconds < 10) return `${seconds.toFixed(1)}s`
  const s = Math.round(seconds)
  if (s < 60) return `${s}s`
  const pad = (n: number) => String(n).padStart(2, "0")
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`
  return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`
}

/**
 * A throughput with an SI suffix: `950`, `5.32k`, `1.20M`.
 *
 * @example
 * ```ts
 * import * as Format from "./Format.js"
 * Format.rate(1_200_000) // "1.20M"
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const rate = (x: number): string => {
  if (!Number.isFinite(x)) return "?"
  const a = Math.abs(x)
  if (a >= 1e6) return `${(x / 1e6).toPrecision(3)}M`
  if (a >= 1e3) return `${(x / 1e3).toPrecision(3)}k`
  return a >= 100 ? x.toFixed(0) : x.toPrecision(3)
}
