/**
 * Gradient overrides, active only while the backend is "wasm" (elsewhere the original gradient
 * runs unchanged):
 *
 * - `Mean`, `Sum` (global average pooling, loss reductions): tfjs-core computes both as
 *   `dy · ones(x.shape)`, and `ones` builds a full-size JS array and uploads it (~50 ms for a
 *   `[256, 14, 14, 32]` GAP input on wasm). Here: `dy` (scaled for `Mean`) broadcast with
 *   `Tile` — the same values, one pass.
 * - `Relu`, while the native path is on: `RetortReluGrad` (one pass) instead of
 *   `Step` + `Cast` + `Multiply`.
 *
 * @example
 * ```ts
 * import * as Gradients from "./Gradients.js"
 * Gradients.register() // ["Mean", "Sum", "Relu"]
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import * as ReluGrad from "./ReluGrad.js"

function expanded(
  x: tf.Tensor,
  dy: tf.Tensor,
  axis: unknown,
): { readonly dy: tf.Tensor; readonly size: number } {
  const axes = tf.util.parseAxisParam(axis as number | Array<number>, x.shape)
  const shape = x.shape.slice()
  for (const a of axes) shape[a] = 1
  const size = tf.util.sizeFromShape(axes.map((a) => x.shape[a]!))
  return { dy: tf.reshape(dy, shape), size }
}

const originals = new Map<string, tf.GradConfig>()

type GradFunc = tf.GradConfig["gradFunc"]

/** Replaces `kernelName`'s gradient by `fast` (when it returns one), keeping the original. */
function override(kernelName: string, fast: (original: GradFunc) => GradFunc): boolean {
  const original = tf.getGradient(kernelName)
  if (original === undefined || (original as { retort?: boolean }).retort === true) return false
  originals.set(kernelName, original)
  const config: tf.GradConfig & { retort: boolean } = {
    kernelName,
    inputsToSave: original.inputsToSave ?? ["x"],
    retort: true,
    gradFunc: fast(original.gradFunc),
  }
  if (original.outputsToSave !== undefined) config.outputsToSave = original.outputsToSave
  tf.registerGradient(config)
  return true
}

const reduction =
  (scale: boolean) =>
  (original: GradFunc): GradFunc =>
  (dy, saved, attrs) => {
    if (tf.getBackend() !== "wasm") return original(dy, saved, attrs)
    const [x] = saved as [tf.Tensor]
    const e = expanded(x, dy as tf.Tensor, attrs.axis)
    return { x: () => tf.broadcastTo(scale ? tf.div(e.dy, e.size) : e.dy, x.shape) }
  }

/**
 * Registers the gradient overrides (idempotent); returns the kernel names whose gradient is
 * Retort's. `native` says whether the native path is on (the fused ReLU gradient pays only
 * there).
 *
 * @example
 * ```ts
 * import * as Gradients from "./Gradients.js"
 * Gradients.register()
 * ```
 *
 * @since 0.1.0
 * @category registration
 */
export function register(native: () => boolean = () => false): ReadonlyArray<string> {
  override(tf.Mean, reduction(true))
  override(tf.Sum, reduction(false))
  override(tf.Relu, (original) => (dy, saved, attrs) => {
    if (tf.getBackend() !== "wasm" || !native() || tf.getKernel(ReluGrad.kernelName, "wasm") === undefined) {
      return original(dy, saved, attrs)
    }
    const [x] = saved as [tf.Tensor]
    if (x.dtype !== "float32") return original(dy, saved, attrs)
    return { x: () => tf.engine().runKernel(ReluGrad.kernelName, { dy: dy as tf.Tensor, x }) as tf.Tensor }
  })
  if (tf.getGradient(ReluGrad.kernelName) === undefined) tf.registerGradient(ReluGrad.gradient)
  return [tf.Mean, tf.Sum, tf.Relu].filter(
    (k) => (tf.getGradient(k) as { retort?: boolean } | undefined)?.retort === true,
  )
}

/**
 * Restores the gradients {@link register} replaced.
 *
 * @example
 * ```ts
 * import * as Gradients from "./Gradients.js"
 * Gradients.unregister()
 * ```
 *
 * @since 0.1.0
 * @category registration
 */
export function unregister(): void {
  for (const [kernelName, original] of originals) {
    if ((tf.getGradient(kernelName) as { retort?: boolean } | undefined)?.retort === true) {
      tf.unregisterGradient(kernelName)
      tf.registerGradient(original)
    }
  }
  originals.clear()
}
