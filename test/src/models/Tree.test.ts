import * as tf from "@tensorflow/tfjs-core"
import { beforeAll, describe, expect, it } from "vitest"
import * as Tree from "../../../src/models/Tree.js"
import { init, values } from "./setup.js"

beforeAll(init)

describe("Tree", () => {
  it("flatten and unflatten are inverse, paths in depth-first order", () => {
    const t = {
      stem: { kernel: tf.zeros([3, 3, 1, 2]), bias: tf.zeros([2]) },
      block0: { conv0: { kernel: tf.ones([1]) } },
      head: { kernel: tf.ones([2, 2]) },
    }
    const flat = Tree.flatten(t)
    expect(Object.keys(flat)).toEqual(["stem/kernel", "stem/bias", "block0/conv0/kernel", "head/kernel"])
    expect(Tree.unflatten(flat)).toEqual(t)
    expect(Tree.size(t)).toBe(18 + 2 + 1 + 4)
    expect(Tree.get(t, "block0/conv0/kernel")).toBe(t.block0.conv0.kernel)
    expect(Tree.subtree(t, "block0")).toBe(t.block0)
    expect(Tree.subtree(t, "stem/kernel")).toBeUndefined()
    expect(() => Tree.get(t, "block0/conv1/kernel")).toThrow(/no parameter "block0\/conv1\/kernel"/)
    expect(() => Tree.unflatten({ a: tf.ones([1]), "a/b": tf.ones([1]) })).toThrow(/goes through the leaf/)
    tf.dispose(Object.values(flat))
  })

  it("clone makes independent variables; assign copies values back; map keeps the shape", () => {
    const src = { w: tf.variable(tf.tensor1d([1, 2])), n: { b: tf.variable(tf.tensor1d([3]), false) } }
    const copy = Tree.clone(src)
    expect((Tree.get(copy, "n/b") as tf.Variable).trainable).toBe(false)
    expect((Tree.get(copy, "w") as tf.Variable).trainable).toBe(true)
    expect((Tree.get(Tree.clone(src, false), "w") as tf.Variable).trainable).toBe(false)
    src.w.assign(tf.tensor1d([9, 9]))
    expect(values(Tree.get(copy, "w"))).toEqual([1, 2])
    Tree.assign(
      copy,
      Tree.map(src, (t) => tf.mul(t, 2)),
    )
    expect(values(Tree.get(copy, "w"))).toEqual([18, 18])
    expect(values(Tree.get(copy, "n/b"))).toEqual([6])
    expect(() => Tree.assign(copy, { w: tf.ones([2]) })).toThrow(/no "n\/b"/)
    const before = tf.memory().numTensors
    Tree.dispose(copy)
    expect(tf.memory().numTensors).toBe(before - 2)
  })
})
