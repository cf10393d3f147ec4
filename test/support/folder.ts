/**
 * A small image folder for end-to-end tests: `classes` sub-folders of 32×32 RGB PNGs whose
 * colour and stripe direction depend on the class (learnable in a few steps), plus noise.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import sharp from "sharp"

/** Deterministic uniform numbers in [0, 1). */
const lcg = (seed: number) => {
  let s = seed >>> 0 || 1
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

export const classNames = ["apple", "berry", "cloud", "dune"] as const

/** The pixels (RGB bytes) of image `i` of class `c`. */
export const pixels = (c: number, i: number, size = 32): Buffer => {
  const rand = lcg(1 + c * 1000 + i)
  const base = [
    [200, 40, 40],
    [120, 30, 160],
    [210, 210, 230],
    [200, 170, 90],
  ][c % 4]!
  const out = Buffer.alloc(size * size * 3)
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const stripe = (c % 2 === 0 ? x : y) % 8 < 4 ? 30 : -30
      for (let k = 0; k < 3; k++) {
        const v = base[k]! + stripe + (rand() - 0.5) * 60
        out[(y * size + x) * 3 + k] = Math.max(0, Math.min(255, Math.round(v)))
      }
    }
  return out
}

/** Writes `root/<class>/<i>.png` for `perClass` images of each of `classes` classes. */
export const makeFolder = async (
  root: string,
  options: { readonly classes?: number; readonly perClass?: number; readonly size?: number } = {},
): Promise<string> => {
  const k = options.classes ?? 3
  const n = options.perClass ?? 20
  const size = options.size ?? 32
  for (let c = 0; c < k; c++) {
    const dir = join(root, classNames[c]!)
    mkdirSync(dir, { recursive: true })
    for (let i = 0; i < n; i++)
      await sharp(pixels(c, i, size), { raw: { width: size, height: size, channels: 3 } })
        .png()
        .toFile(join(dir, `${String(i).padStart(3, "0")}.png`))
  }
  return root
}

/** A file that is not an image, named like one. */
export const corrupt = (path: string): void => writeFileSync(path, Buffer.from("this is not a PNG at all"))
