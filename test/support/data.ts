import type * as Dataset from "../../src/data/Dataset.js"

/**
 * A small synthetic data set that is learnable in a few steps: each class lights a different
 * horizontal band of a 28×28 image, plus seeded noise. Deterministic.
 */
export const synthetic = (
  options: { train?: number; test?: number; classes?: number; seed?: number } = {},
): Dataset.Dataset => {
  const classes = options.classes ?? 10
  let s = (options.seed ?? 1) >>> 0
  const rand = () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
  const make = (n: number) => {
    const x = new Float32Array(n * 784)
    const y = new Int32Array(n)
    for (let i = 0; i < n; i++) {
      const k = Math.floor(rand() * classes)
      y[i] = k
      const band = Math.floor((k * 28) / classes)
      for (let p = 0; p < 784; p++) {
        const row = Math.floor(p / 28)
        const on = row >= band && row < band + Math.max(2, Math.floor(28 / classes))
        x[i * 784 + p] = Math.min(1, Math.max(0, (on ? 0.8 : 0.1) + (rand() - 0.5) * 0.3))
      }
    }
    return { x, y, n }
  }
  return {
    name: "synthetic",
    classes,
    shape: [28, 28, 1],
    train: make(options.train ?? 256),
    test: make(options.test ?? 128),
  }
}
