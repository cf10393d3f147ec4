import { Schema } from "effect"
import * as fc from "fast-check"
import { describe, expect, expectTypeOf, it } from "vitest"
import * as Model from "../../dsl/Model.js"
import * as Ramp from "../../dsl/Ramp.js"

fc.configureGlobal({ seed: 20240612, numRuns: 200 })

const W1 = Model.mlp({ hidden: [256, 256], classes: 10 })
const W2 = Model.cnn({ conv: [{ filters: 32 }, { filters: 64 }], dense: [128], classes: 10 })
const W4 = Model.resnet({
  stem: { filters: 32, stride: 2 },
  blocks: [{ filters: 32 }, { filters: 32 }, { filters: 32 }, { filters: 32 }],
  dropPath: [0.1, 0.16, 0.23, 0.3],
  classes: 10,
})
const byot = Model.resnet({
  stem: { filters: 16 },
  blocks: [{ filters: 16 }, { filters: 32, stride: 2 }, { filters: 32 }],
  exits: [{ after: "block0", hidden: 32 }, { after: "stem" }],
  batchNorm: true,
  classes: 10,
})
const deit = Model.vit({
  patch: 7,
  dim: 64,
  depth: 4,
  heads: 4,
  classes: 10,
  distillToken: true,
  dropPath: 0.1,
})

const encode = Schema.encodeSync(Model.schema)
const decode = Schema.decodeUnknownSync(Model.schema)
const roundTrip = (m: Model.Model) => decode(JSON.parse(JSON.stringify(encode(m))))

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const size = fc.integer({ min: 1, max: 512 })
const rate: fc.Arbitrary<Ramp.Num> = fc.oneof(
  fc.double({ min: 0, max: 0.9, noNaN: true }).map((x) => (Object.is(x, -0) ? 0 : x)),
  fc
    .record({
      from: fc.double({ min: 0, max: 0.5, noNaN: true }),
      to: fc.double({ min: 0, max: 0.5, noNaN: true }),
    })
    .map((r) => Ramp.linear({ from: r.from + 0, to: r.to + 0 })),
)
const input = fc.option(fc.tuple(size, size, fc.integer({ min: 1, max: 4 })), { nil: undefined })
const opt = <A>(a: fc.Arbitrary<A>) => fc.option(a, { nil: undefined })

const mlpArb = fc
  .record({
    hidden: fc.array(size, { maxLength: 4 }),
    classes: size,
    activation: opt(fc.constantFrom<Model.Activation>("relu", "gelu", "tanh")),
    dropout: opt(rate),
    input,
  })
  .map((o) => Model.mlp(o as Parameters<typeof Model.mlp>[0]))
const cnnArb = fc
  .record({
    conv: fc.array(
      fc.record({ filters: size, kernel: opt(size), pool: opt(fc.integer({ min: 1, max: 3 })) }),
      {
        minLength: 1,
        maxLength: 3,
      },
    ),
    dense: fc.array(size, { maxLength: 2 }),
    classes: size,
    dropout: opt(rate),
    batchNorm: opt(fc.boolean()),
    input,
  })
  .map((o) => Model.cnn(o as Parameters<typeof Model.cnn>[0]))
const resnetArb = fc
  .integer({ min: 1, max: 4 })
  .chain((n) =>
    fc.record({
      stem: fc.record({ filters: size, stride: opt(fc.integer({ min: 1, max: 2 })) }),
      blocks: fc.array(fc.record({ filters: size, stride: opt(fc.integer({ min: 1, max: 2 })) }), {
        minLength: n,
        maxLength: n,
      }),
      classes: size,
      dropPath: opt(fc.oneof(rate, fc.array(rate, { minLength: n, maxLength: n }))),
      batchNorm: opt(fc.boolean()),
      exits: opt(
        fc.array(fc.record({ after: fc.constantFrom("stem", "block0"), hidden: opt(size) }), {
          maxLength: 2,
        }),
      ),
      input,
    }),
  )
  .map((o) => Model.resnet(o as Parameters<typeof Model.resnet>[0]))
const vitArb = fc
  .record({
    patch: size,
    dim: size,
    depth: fc.integer({ min: 1, max: 6 }),
    heads: fc.integer({ min: 1, max: 8 }),
    classes: size,
    mlpRatio: opt(fc.double({ min: 0.5, max: 4, noNaN: true })),
    distillToken: opt(fc.boolean()),
    dropPath: opt(rate),
    input,
  })
  .map((o) => Model.vit(o as Parameters<typeof Model.vit>[0]))
const json: fc.Arbitrary<Schema.Json> = fc.jsonValue() as fc.Arbitrary<Schema.Json>
const customArb = fc
  .record({ name: fc.string({ minLength: 1, maxLength: 8 }), options: opt(fc.dictionary(fc.string(), json)) })
  .map((o) => Model.custom(o.name, o.options))
const floatArb = fc.oneof(mlpArb, cnnArb, resnetArb, vitArb)
const modelArb: fc.Arbitrary<Model.Model> = fc.oneof(
  floatArb,
  customArb,
  fc
    .record({ inner: floatArb, binarizeActivations: opt(fc.boolean()), temperature: opt(rate) })
    .map(({ inner, ...o }) => Model.binary(inner, o as Parameters<typeof Model.binary>[1])),
)

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe("constructors", () => {
  it("keep exactly the given fields, tagged and frozen", () => {
    expect(W1).toEqual({ _tag: "Mlp", hidden: [256, 256], classes: 10 })
    expect(W2).toEqual({ _tag: "Cnn", conv: [{ filters: 32 }, { filters: 64 }], dense: [128], classes: 10 })
    expect(Model.binary(W1)).toEqual({ _tag: "Binary", inner: W1 })
    expect(Model.custom("x")).toEqual({ _tag: "Custom", name: "x" })
    expect(Object.isFrozen(W4)).toBe(true)
    expect(Object.isFrozen(W4.blocks)).toBe(true)
    expect(Object.isFrozen(W4.blocks[0])).toBe(true)
    expect("activation" in W1).toBe(false)
  })

  it("have the precise types", () => {
    expectTypeOf(W1).toEqualTypeOf<Model.Mlp>()
    expectTypeOf(Model.binary(W1)).toEqualTypeOf<Model.Binary>()
    expectTypeOf(Model.schema.Type).toEqualTypeOf<Model.Model>()
    expectTypeOf(Model.heads).returns.toEqualTypeOf<ReadonlyArray<string> | undefined>()
    // @ts-expect-error an unknown activation
    Model.mlp({ hidden: [], classes: 10, activation: "swish" })
    // @ts-expect-error dropout takes a number or a ramp
    Model.mlp({ hidden: [], classes: 10, dropout: "0.1" })
    // @ts-expect-error classes are required
    Model.cnn({ conv: [], dense: [] })
  })
})

describe("codec", () => {
  it("round-trips the reference workloads and recipes through JSON", () => {
    const withRamps = Model.binary(
      Model.mlp({ hidden: [64, 64], classes: 10, dropout: Ramp.cosine({ from: 0, to: 0.3 }) }),
      {
        binarizeActivations: true,
        temperature: Ramp.exponential({ from: 1, rate: 0.9, unit: "epoch" }),
      },
    )
    for (const m of [
      W1,
      W2,
      W4,
      byot,
      deit,
      withRamps,
      Model.custom("lenet", { width: 2, deep: [1, null, "a"] }),
    ]) {
      expect(roundTrip(m)).toEqual(m)
    }
  })

  it("round-trips any model (property)", () => {
    fc.assert(
      fc.property(modelArb, (m) => {
        expect(roundTrip(m)).toEqual(m)
      }),
    )
  })

  it("rejects malformed descriptions", () => {
    const bad = [
      { _tag: "Mlp", hidden: [0], classes: 10 },
      { _tag: "Mlp", hidden: [1.5], classes: 10 },
      { _tag: "Mlp", hidden: [], classes: 10, activation: "swish" },
      { _tag: "Cnn", conv: [{ filters: 8 }], dense: [], classes: 10, input: [28, 28] },
      { _tag: "ResNet", stem: { filters: 8 }, blocks: [], classes: 10, dropPath: "x" },
      { _tag: "Vit", patch: 4, dim: 8, depth: 1, heads: 2 },
      { _tag: "Binary", inner: { _tag: "Nope" } },
      { _tag: "Custom", name: "" },
      { _tag: "Unknown" },
    ]
    for (const b of bad) expect(() => decode(b), JSON.stringify(b)).toThrow()
  })
})

describe("queries", () => {
  it("taps, heads and their shapes for every kind", () => {
    expect(Model.taps(W1)).toEqual(["hidden0", "hidden1"])
    expect(Model.tapShapes(W2)).toEqual({
      conv0: [14, 14, 32],
      conv1: [7, 7, 64],
      flat: [3136],
      dense0: [128],
    })
    expect(Model.taps(W4)).toEqual(["stem", "block0", "block1", "block2", "block3", "pool"])
    expect(Model.tapShapes(W4)?.block3).toEqual([14, 14, 32])
    expect(Model.tapShapes(byot)).toEqual({
      stem: [28, 28, 16],
      block0: [28, 28, 16],
      block1: [14, 14, 32],
      block2: [14, 14, 32],
      pool: [32],
      exit0_features: [32],
      exit1_features: [16],
    })
    expect(Model.heads(byot)).toEqual(["logits", "exit0", "exit1"])
    const qkv = (i: number) => ({
      [`block${i}/q`]: [18, 64],
      [`block${i}/k`]: [18, 64],
      [`block${i}/v`]: [18, 64],
    })
    expect(Model.tapShapes(deit)).toEqual({
      embed: [18, 64],
      ...qkv(0),
      block0: [18, 64],
      ...qkv(1),
      block1: [18, 64],
      ...qkv(2),
      block2: [18, 64],
      ...qkv(3),
      block3: [18, 64],
      cls: [64],
    })
    // forward order: each block's q, k, v before the block's output
    expect(Model.taps(deit)?.slice(0, 5)).toEqual(["embed", "block0/q", "block0/k", "block0/v", "block0"])
    expect(Model.heads(deit)).toEqual(["logits", "dist"])
    expect(Model.heads(Model.vit({ patch: 7, dim: 8, depth: 1, heads: 1, classes: 3 }))).toEqual(["logits"])
    expect(Model.heads(W1)).toEqual(["logits"])
    expect(Model.taps(Model.binary(W2))).toEqual(Model.taps(W2))
    expect(Model.taps(Model.custom("x"))).toBeUndefined()
    expect(Model.heads(Model.custom("x"))).toBeUndefined()
    expect(Model.tapShapes(Model.binary(Model.custom("x")))).toBeUndefined()
  })

  it("classes and input shape (default 28×28×1)", () => {
    expect(Model.classes(W1)).toBe(10)
    expect(Model.classes(Model.binary(Model.cnn({ conv: [{ filters: 1 }], dense: [], classes: 3 })))).toBe(3)
    expect(Model.classes(Model.custom("x"))).toBeUndefined()
    expect(Model.inputShape(W4)).toEqual([28, 28, 1])
    expect(Model.inputShape(Model.mlp({ hidden: [], classes: 2, input: [32, 32, 3] }))).toEqual([32, 32, 3])
    expect(Model.inputShape(Model.custom("x"))).toBeUndefined()
  })

  it("drop-path rates: a list as given, a single maximum spread linearly, ramps scaled", () => {
    expect(Model.dropPathRates(W4)).toEqual([0.1, 0.16, 0.23, 0.3])
    expect(Model.dropPathRates(Model.resnet({ ...W4, dropPath: 0.4 }))).toEqual([
      0.1, 0.2, 0.30000000000000004, 0.4,
    ])
    const ramp = Ramp.linear({ from: 0, to: 0.4 })
    const rates = Model.dropPathRates(
      Model.vit({ patch: 7, dim: 8, depth: 2, heads: 1, classes: 10, dropPath: ramp }),
    )
    expect(rates).toEqual([Ramp.scale(ramp, 0.5), ramp])
    expect(Ramp.evaluate(rates[0]!, { step: 10, epoch: 1, progress: 1 })).toBeCloseTo(0.2)
    expect(Model.dropPathRates(W1)).toEqual([])
    const { dropPath: _, ...noDropPath } = W4
    expect(Model.dropPathRates(Model.resnet(noDropPath))).toEqual([])
  })

  it("stochastic: dropout or drop-path that is not the constant 0", () => {
    expect(Model.stochastic(W1)).toBe(false)
    expect(Model.stochastic(W4)).toBe(true)
    expect(Model.stochastic(Model.mlp({ hidden: [8], classes: 10, dropout: 0 }))).toBe(false)
    expect(
      Model.stochastic(Model.mlp({ hidden: [8], classes: 10, dropout: Ramp.linear({ from: 0, to: 1 }) })),
    ).toBe(true)
    expect(Model.stochastic(Model.resnet({ ...W4, dropPath: [0, 0, 0, 0] }))).toBe(false)
    expect(Model.stochastic(Model.binary(deit))).toBe(true)
    expect(Model.stochastic(Model.custom("x"))).toBe(false)
  })

  it("binarizable counts the layers a binary wrapper binarises", () => {
    expect(Model.binarizable(W1)).toBe(1)
    expect(Model.binarizable(W2)).toBe(2)
    expect(Model.binarizable(W4)).toBe(8)
    expect(Model.binarizable(deit)).toBe(16)
    expect(Model.binarizable(Model.custom("x"))).toBeUndefined()
  })

  it("describe: one line per model", () => {
    expect(Model.describe(W1)).toBe("mlp 784→256→256→10 relu")
    expect(Model.describe(W2)).toBe("cnn 28×28×1 conv3×3×32/2 conv3×3×64/2 dense128 →10")
    expect(Model.describe(W4)).toBe(
      "resnet 28×28×1 stem 32/2 blocks [32, 32, 32, 32] →10, drop-path [0.1, 0.16, 0.23, 0.3]",
    )
    expect(Model.describe(deit)).toBe(
      "vit 28×28×1 patch 7 dim 64 depth 4 heads 4 mlp×2 +dist token →10, drop-path 0.1",
    )
    expect(Model.describe(Model.binary(W1, { binarizeActivations: true, temperature: 0.5 }))).toBe(
      "binary(weights+activations, T=0.5) mlp 784→256→256→10 relu",
    )
    expect(Model.describe(Model.custom("lenet", { width: 2 }))).toBe('custom "lenet" {"width":2}')
    fc.assert(fc.property(modelArb, (m) => !Model.describe(m).includes("\n")))
  })

  it("isModel recognises descriptions by tag", () => {
    expect(Model.isModel(W1)).toBe(true)
    expect(Model.isModel(Ramp.constant(1))).toBe(false)
    expect(Model.isModel(null)).toBe(false)
  })
})

describe("check", () => {
  it("accepts the reference models", () => {
    for (const m of [W1, W2, W4, byot, deit, Model.binary(W2), Model.custom("x")])
      expect(Model.check(m)).toEqual([])
  })

  it("finds every structural problem, with its path", () => {
    const paths = (m: Model.Model) => Model.check(m).map((i) => i.path)
    expect(paths(Model.cnn({ conv: [], dense: [], classes: 10 }))).toEqual(["conv"])
    expect(
      paths(
        Model.cnn({
          conv: [{ filters: 8 }, { filters: 8, pool: 4 }],
          dense: [],
          classes: 10,
          input: [6, 6, 1],
        }),
      ),
    ).toEqual(["conv[1].pool"])
    expect(paths(Model.mlp({ hidden: [8], classes: 10, dropout: 1 }))).toEqual(["dropout"])
    expect(paths(Model.resnet({ ...W4, dropPath: [0.1, 0.2] }))).toEqual(["dropPath"])
    expect(paths(Model.resnet({ ...W4, dropPath: [0.1, 0.2, 0.3, -1] }))).toEqual(["dropPath[3]"])
    expect(paths(Model.resnet({ ...W4, blocks: [] }))).toEqual(["blocks", "dropPath"])
    expect(paths(Model.resnet({ ...W4, exits: [{ after: "block9" }] }))).toEqual(["exits[0].after"])
    expect(paths(Model.vit({ patch: 5, dim: 6, depth: 1, heads: 4, classes: 10, mlpRatio: 0.01 }))).toEqual([
      "patch",
      "heads",
      "mlpRatio",
    ])
    expect(paths(Model.binary(Model.binary(W1)))).toEqual(["inner"])
    expect(paths(Model.binary(Model.custom("x")))).toEqual(["inner"])
    expect(paths(Model.binary(Model.mlp({ hidden: [8], classes: 10 })))).toEqual(["inner"])
    expect(
      paths(Model.binary(Model.mlp({ hidden: [8, 8], classes: 10, dropout: 2 }), { temperature: 0 })),
    ).toEqual(["inner.dropout", "temperature"])
  })

  it("ramps are not checked here (their values are checked by the interpreter)", () => {
    expect(
      Model.check(Model.mlp({ hidden: [8], classes: 10, dropout: Ramp.linear({ from: 0, to: 5 }) })),
    ).toEqual([])
  })
})
