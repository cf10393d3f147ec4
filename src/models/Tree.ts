/**
 * Parameter trees: nested records of tensors, addressed by `/`-separated paths
 * (`block0/conv1/kernel`). A built model's trainable parameters and its non-trainable state
 * (batch-norm running statistics) are trees; an EMA or SWA copy is a tree of the same shape.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Tree from "./src/models/Tree.js"
 * const t: Tree.Tree<tf.Tensor> = { dense0: { kernel: tf.zeros([4, 2]), bias: tf.zeros([2]) } }
 * Object.keys(Tree.flatten(t)) // ["dense0/kernel", "dense0/bias"]
 * Tree.size(t) // 10
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"

/**
 * A nested record whose leaves are tensors (or variables).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Tree from "./src/models/Tree.js"
 * const t: Tree.Tree<tf.Variable> = { head: { kernel: tf.variable(tf.zeros([3, 2])) } }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Tree<A extends tf.Tensor = tf.Tensor> = { readonly [name: string]: A | Tree<A> }

const isLeaf = (u: unknown): u is tf.Tensor => u instanceof tf.Tensor

/**
 * The leaves keyed by their path, in depth-first insertion order (the order of `paramCount`,
 * of exports and checkpoints).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Tree from "./src/models/Tree.js"
 * Tree.flatten({ a: { b: tf.scalar(1) }, c: tf.scalar(2) }) // { "a/b": …, c: … }
 * ```
 *
 * @since 0.1.0
 * @category conversions
 */
export const flatten = <A extends tf.Tensor>(tree: Tree<A>): Record<string, A> => {
  const out: Record<string, A> = {}
  const go = (t: Tree<A>, prefix: string) => {
    for (const [k, v] of Object.entries(t)) {
      const path = prefix === "" ? k : `${prefix}/${k}`
      if (isLeaf(v)) out[path] = v
      else go(v, path)
    }
  }
  go(tree, "")
  return out
}

/**
 * The inverse of {@link flatten}: builds the nested tree from `path → tensor`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Tree from "./src/models/Tree.js"
 * const t = Tree.unflatten({ "dense0/kernel": tf.zeros([2, 2]) })
 * Tree.get(t, "dense0/kernel").shape // [2, 2]
 * ```
 *
 * @since 0.1.0
 * @category conversions
 */
export const unflatten = <A extends tf.Tensor>(flat: Readonly<Record<string, A>>): Tree<A> => {
  const root: Record<string, unknown> = {}
  for (const [path, value] of Object.entries(flat)) {
    const parts = path.split("/")
    let node = root
    for (const part of parts.slice(0, -1)) {
      const next = node[part]
      if (next === undefined) node = node[part] = {}
      else if (isLeaf(next)) throw new Error(`Tree.unflatten: "${path}" goes through the leaf "${part}"`)
      else node = next as Record<string, unknown>
    }
    node[parts.at(-1)!] = value
  }
  return root as Tree<A>
}

/**
 * The leaf at `path`; throws when there is none (a programming error, not a user error).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Tree from "./src/models/Tree.js"
 * Tree.get({ head: { bias: tf.zeros([10]) } }, "head/bias").shape // [10]
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const get = <A extends tf.Tensor>(tree: Tree<A>, path: string): A => {
  let node: A | Tree<A> | undefined = tree
  for (const part of path.split("/")) {
    if (node === undefined || isLeaf(node)) break
    node = (node as Tree<A>)[part]
  }
  if (node === undefined || !isLeaf(node)) throw new Error(`no parameter "${path}"`)
  return node
}

/**
 * The sub-tree at `path` (`undefined` when absent or a leaf).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Tree from "./src/models/Tree.js"
 * Tree.subtree({ block0: { conv0: { kernel: tf.zeros([1]) } } }, "block0/conv0") // { kernel: … }
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const subtree = <A extends tf.Tensor>(tree: Tree<A>, path: string): Tree<A> | undefined => {
  let node: A | Tree<A> | undefined = tree
  for (const part of path.split("/")) {
    if (node === undefined || isLeaf(node)) return undefined
    node = (node as Tree<A>)[part]
  }
  return node === undefined || isLeaf(node) ? undefined : node
}

/**
 * A tree of the same shape with `f` applied to every leaf (with its path).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Tree from "./src/models/Tree.js"
 * const halves = Tree.map({ w: tf.ones([2]) }, (t) => tf.mul(t, 0.5))
 * ```
 *
 * @since 0.1.0
 * @category mapping
 */
export const map = <A extends tf.Tensor, B extends tf.Tensor>(
  tree: Tree<A>,
  f: (leaf: A, path: string) => B,
): Tree<B> => {
  const go = (t: Tree<A>, prefix: string): Tree<B> => {
    const out: Record<string, B | Tree<B>> = {}
    for (const [k, v] of Object.entries(t)) {
      const path = prefix === "" ? k : `${prefix}/${k}`
      out[k] = isLeaf(v) ? f(v, path) : go(v, path)
    }
    return out
  }
  return go(tree, "")
}

/**
 * Fresh variables holding copies of the leaves (an EMA/SWA copy, or a separate batch-norm state).
 * `trainable` defaults to each source variable's own flag (true for plain tensors).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Tree from "./src/models/Tree.js"
 * const ema = Tree.clone({ w: tf.variable(tf.ones([2])) }, false)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const clone = <A extends tf.Tensor>(tree: Tree<A>, trainable?: boolean): Tree<tf.Variable> =>
  map(tree, (t) =>
    tf.tidy(() => tf.variable(tf.clone(t), trainable ?? (t instanceof tf.Variable ? t.trainable : true))),
  )

/**
 * Assigns every leaf of `source` to the variable at the same path in `target` (both trees
 * must have the same paths and shapes).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Tree from "./src/models/Tree.js"
 * const v = { w: tf.variable(tf.zeros([2])) }
 * Tree.assign(v, { w: tf.ones([2]) })
 * ```
 *
 * @since 0.1.0
 * @category mutations
 */
export const assign = (target: Tree<tf.Variable>, source: Tree<tf.Tensor>): void => {
  const src = flatten(source)
  for (const [path, v] of Object.entries(flatten(target))) {
    const s = src[path]
    if (s === undefined) throw new Error(`Tree.assign: no "${path}" in the source tree`)
    v.assign(s)
  }
}

/**
 * Disposes every leaf (variables are unregistered).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Tree from "./src/models/Tree.js"
 * Tree.dispose({ w: tf.variable(tf.zeros([2])) })
 * ```
 *
 * @since 0.1.0
 * @category destructors
 */
export const dispose = (tree: Tree): void => {
  for (const t of Object.values(flatten(tree))) t.dispose()
}

/**
 * The number of scalars in all leaves (the parameter count of a parameter tree).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core"
 * import * as Tree from "./src/models/Tree.js"
 * Tree.size({ k: tf.zeros([784, 256]), b: tf.zeros([256]) }) // 200960
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const size = (tree: Tree): number => {
  let n = 0
  for (const t of Object.values(flatten(tree))) n += t.size
  return n
}
