/**
 * A parameter tree seen as one vector: its leaves in a fixed order (the order of
 * `Tree.flatten`), with the linear algebra the probes need — `θ + a·d`, dot products, norms —
 * done leaf by leaf. All operations are synchronous and allocate tensors (call them inside
 * `tf.tidy`, or `dispose` the result); none mutates its arguments.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Vector from "./src/probes/Vector.js"
 * const v = Vector.fromTree({ w: tf.ones([2, 2]), b: tf.zeros([2]) })
 * const n = tf.tidy(() => Vector.norm(v).dataSync()[0]) // 2
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Tree from "../models/Tree.js"

/**
 * Parameter paths (`dense0/kernel`, …) and one tensor per path, aligned.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Vector from "./src/probes/Vector.js"
 * const v: Vector.Vector = { paths: ["w"], tensors: [tf.ones([3])] }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Vector {
  readonly paths: ReadonlyArray<string>
  readonly tensors: ReadonlyArray<tf.Tensor>
}

/**
 * The leaves of a tree as a vector (the tensors are the tree's own, not copies).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Vector from "./src/probes/Vector.js"
 * Vector.fromTree({ head: { kernel: tf.zeros([4, 3]) } }).paths // ["head/kernel"]
 * ```
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromTree = (tree: Tree.Tree): Vector => {
  const flat = Tree.flatten(tree)
  const paths = Object.keys(flat)
  return { paths, tensors: paths.map((p) => flat[p]!) }
}

/**
 * The vector as a tree (for `built.apply`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Vector from "./src/probes/Vector.js"
 * const tree = Vector.toTree({ paths: ["head/bias"], tensors: [tf.zeros([3])] }) // { head: { bias } }
 * ```
 *
 * @since 0.1.0
 * @category conversions
 */
export const toTree = (v: Vector): Tree.Tree =>
  Tree.unflatten(Object.fromEntries(v.paths.map((p, i) => [p, v.tensors[i]!])))

/**
 * A vector with the same paths and new tensors.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Vector from "./src/probes/Vector.js"
 * const v = Vector.fromTree({ w: tf.ones([2]) })
 * const doubled = Vector.map(v, (t) => tf.mul(t, 2))
 * ```
 *
 * @since 0.1.0
 * @category mapping
 */
export const map = (v: Vector, f: (t: tf.Tensor, i: number, path: string) => tf.Tensor): Vector => ({
  paths: v.paths,
  tensors: v.tensors.map((t, i) => f(t, i, v.paths[i]!)),
})

/**
 * Checks that two vectors have the same paths and shapes; throws an `Error` naming the first
 * difference (callers turn it into a typed error).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Vector from "./src/probes/Vector.js"
 * Vector.checkSame(Vector.fromTree({ w: tf.ones([2]) }), Vector.fromTree({ w: tf.zeros([2]) }))
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const checkSame = (a: Vector, b: Vector): void => {
  const other = new Map(b.paths.map((p, i) => [p, b.tensors[i]!]))
  if (a.paths.length !== b.paths.length)
    throw new Error(`the parameter trees differ: ${a.paths.length} vs ${b.paths.length} tensors`)
  a.paths.forEach((p, i) => {
    const t = other.get(p)
    if (t === undefined) throw new Error(`the parameter trees differ: "${p}" is missing from the second`)
    const s = a.tensors[i]!.shape
    if (s.join("x") !== t.shape.join("x"))
      throw new Error(`the parameter trees differ: "${p}" is [${s.join(", ")}] vs [${t.shape.join(", ")}]`)
  })
}

/** `b`'s tensors in `a`'s order (paths may be in another order). */
const aligned = (a: Vector, b: Vector): ReadonlyArray<tf.Tensor> => {
  if (a.paths === b.paths) return b.tensors
  const other = new Map(b.paths.map((p, i) => [p, b.tensors[i]!]))
  return a.paths.map((p) => other.get(p)!)
}

/**
 * `Σᵢ cᵢ·vᵢ` leaf by leaf (the paths of the first vector; the others must have the same paths
 * and shapes, in any order).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Vector from "./src/probes/Vector.js"
 * const a = Vector.fromTree({ w: tf.ones([2]) })
 * const b = Vector.fromTree({ w: tf.zeros([2]) })
 * const mid = Vector.combine([[0.5, a], [0.5, b]]) // w = [0.5, 0.5]
 * ```
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const combine = (terms: ReadonlyArray<readonly [number, Vector]>): Vector => {
  const first = terms[0]
  if (first === undefined) throw new Error("Vector.combine needs at least one term")
  const base = first[1]
  const tensors = terms.map(([, v]) => aligned(base, v))
  return {
    paths: base.paths,
    tensors: base.paths.map((_, i) => tf.addN(terms.map(([c], k) => tf.mul(tensors[k]![i]!, c)))),
  }
}

/**
 * `a + c·d` leaf by leaf.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Vector from "./src/probes/Vector.js"
 * const theta = Vector.fromTree({ w: tf.ones([2]) })
 * const moved = Vector.axpy(theta, 0.1, theta) // w = [1.1, 1.1]
 * ```
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const axpy = (a: Vector, c: number, d: Vector): Vector => {
  const ds = aligned(a, d)
  return map(a, (t, i) => tf.add(t, tf.mul(ds[i]!, c)))
}

/**
 * The inner product `Σ aᵢ·bᵢ` over every leaf, as a scalar tensor.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Vector from "./src/probes/Vector.js"
 * const v = Vector.fromTree({ w: tf.ones([3]) })
 * tf.tidy(() => Vector.dot(v, v).dataSync()[0]) // 3
 * ```
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const dot = (a: Vector, b: Vector): tf.Scalar =>
  tf.tidy(() => {
    const bs = aligned(a, b)
    return tf.addN(a.tensors.map((t, i) => tf.sum(tf.mul(t, bs[i]!)))) as tf.Scalar
  })

/**
 * The Euclidean norm over every leaf, as a scalar tensor.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Vector from "./src/probes/Vector.js"
 * tf.tidy(() => Vector.norm(Vector.fromTree({ w: tf.tensor1d([3, 4]) })).dataSync()[0]) // 5
 * ```
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const norm = (v: Vector): tf.Scalar => tf.tidy(() => tf.sqrt(dot(v, v)))

/**
 * `v / ‖v‖` (a zero vector stays zero).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Vector from "./src/probes/Vector.js"
 * const unit = Vector.normalize(Vector.fromTree({ w: tf.tensor1d([3, 4]) })) // w = [0.6, 0.8]
 * ```
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const normalize = (v: Vector): Vector => {
  const inv = tf.tidy(() => tf.div(1, tf.maximum(norm(v), 1e-30)))
  const out = map(v, (t) => tf.mul(t, inv))
  inv.dispose()
  return out
}

/**
 * Runs `f` inside `tf.tidy` and returns its vector: the intermediate tensors are freed, the
 * vector's tensors survive (tracked by the enclosing tidy, if any, like any tensor a tidy
 * returns).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Vector from "./src/probes/Vector.js"
 * const theta = Vector.fromTree({ w: tf.ones([2]) })
 * const moved = Vector.tidy(() => Vector.axpy(theta, 2, Vector.map(theta, (t) => tf.square(t))))
 * ```
 *
 * @since 0.1.0
 * @category memory
 */
export const tidy = (f: () => Vector): Vector => {
  let paths: ReadonlyArray<string> = []
  const tensors = tf.tidy(() => {
    const v = f()
    paths = v.paths
    return [...v.tensors]
  })
  return { paths, tensors }
}

/**
 * Keeps every tensor of the vector past the enclosing `tf.tidy`; returns the vector.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Vector from "./src/probes/Vector.js"
 * const kept = tf.tidy(() => Vector.keep(Vector.fromTree({ w: tf.ones([2]) })).tensors.length)
 * ```
 *
 * @since 0.1.0
 * @category memory
 */
export const keep = (v: Vector): Vector => {
  for (const t of v.tensors) tf.keep(t)
  return v
}

/**
 * Disposes every tensor of the vector (never call it on a vector made by {@link fromTree} of
 * live model parameters).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Vector from "./src/probes/Vector.js"
 * Vector.dispose({ paths: ["w"], tensors: [tf.ones([2])] })
 * ```
 *
 * @since 0.1.0
 * @category memory
 */
export const dispose = (v: Vector): void => {
  for (const t of v.tensors) t.dispose()
}

/**
 * Number of scalars in all tensors.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Vector from "./src/probes/Vector.js"
 * Vector.size(Vector.fromTree({ w: tf.ones([4, 3]), b: tf.ones([3]) })) // 15
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const size = (v: Vector): number => v.tensors.reduce((n, t) => n + t.size, 0)
