/**
 * One workload (W1–W4) as a Retort pipeline: the recipe's step compiled by the interpreter and
 * run on one fixed batch, timed like `bench/kernels/worker.ts` times the hand-written tfjs loop
 * (median ms/step, the loss read back every step). Prints one JSON line.
 *
 *   npx tsx bench/retort-worker.ts --workload W3 [--native | --pure] [--threads 1] [--seconds 4] [--profile]
 *
 * @since 0.1.0
 */
import { parseArgs } from "node:util"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Scope } from "effect"
import { Loss, Optimizer, Phase, Step } from "../dsl/index.js"
import { cnn, mlp, resnet } from "../pipelines/common.js"
import { make as makeBackend } from "../src/backend/Backend.js"
import * as State from "../src/compile/state.js"
import * as CompiledStep from "../src/compile/step.js"
import * as Models from "../src/models/index.js"
import * as TeacherCache from "../src/runtime/TeacherCache.js"
import * as Workloads from "./kernels/workloads.js"

const { values } = parseArgs({
  options: {
    workload: { type: "string", default: "W1" },
    seconds: { type: "string", default: "4" },
    threads: { type: "string" },
    pure: { type: "boolean", default: false },
    warmup: { type: "string", default: "3" },
    steps: { type: "string" },
    compare: { type: "boolean", default: false },
    cache: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
  },
})
const name = values.workload
const scope = Effect.runSync(Scope.make())
const backend = await Effect.runPromise(
  Scope.provide(scope)(
    makeBackend({
      kind: "wasm",
      native: !values.pure,
      ...(values.threads !== undefined ? { threads: Number(values.threads) } : {}),
    }),
  ),
)

const adam = Optimizer.adam({ lr: 1e-3 })
const state = State.empty()
const add = (n: string, m: Parameters<typeof Models.build>[0], seed: number) => {
  const built = Effect.runSync(Models.build(m, { seed }))
  state.models.set(n, { name: n, built, params: built.params, state: built.state })
}
let step: Step.Step<"x" | "y", string>
if (name === "W1" || name === "W2") {
  add("net", name === "W1" ? mlp() : cnn(), 1)
  step = Step.start.pipe(
    Step.forward("net", { as: "o" }),
    Step.loss({ ce: Loss.crossEntropy({ logits: "o" }) }),
    Step.optimize("net", adam),
  )
} else if (name === "W3") {
  add("teacher", cnn(), 2)
  add("student", mlp(), 1)
  step = Step.start.pipe(
    Step.forward("teacher", { as: "t", mode: "frozen" }),
    Step.forward("student", { as: "s" }),
    Step.loss(
      { ce: Loss.crossEntropy({ logits: "s" }), kd: Loss.kl({ teacher: "t", student: "s", temperature: 4 }) },
      { weights: { ce: 0.1, kd: 0.9 } },
    ),
    Step.optimize("student", adam),
  )
} else {
  add("net", resnet(), 1)
  step = Step.start.pipe(
    Step.forward("net", { as: ["o1", "o2"] }),
    Step.loss(
      {
        y1: Loss.bce({ logits: "o1" }),
        y2: Loss.bce({ logits: "o2" }),
        m12: Loss.bce({ logits: "o1", teacher: Loss.detach("o2") }),
        m21: Loss.bce({ logits: "o2", teacher: Loss.detach("o1") }),
      },
      { weights: { y1: 0.25, y2: 0.25, m12: 0.25, m21: 0.25 } },
    ),
    Step.optimize("net", adam),
  )
}
const phase = Phase.make({ name, steps: 1, step })
// --cache (W3): the teacher-output cache of the real runner, built over 1,280 training images;
// each step reads its batch's rows instead of running the frozen teacher.
const CACHED = 1280
let cacheBuildMs: number | undefined
let cache: CompiledStep.TeacherCache | undefined
if (values.cache) {
  const train = {
    x: Float32Array.from(tf.randomUniform([CACHED * 784], 0, 1, "float32", 5).dataSync()),
    y: new Int32Array(CACHED),
    n: CACHED,
  }
  // warm the teacher's kernels first, so that the build is timed like a later epoch would be
  const teacher = state.models.get("teacher")!
  tf.tidy(() =>
    teacher.built.apply(teacher.params, tf.zeros([500, 28, 28, 1]), { train: false }).logits.dataSync(),
  )
  const t = performance.now()
  const made = await Effect.runPromise(TeacherCache.make(phase, state, train, [28, 28, 1], 10))
  cacheBuildMs = performance.now() - t
  cache = made?.cache
  if (cache === undefined) throw new Error("the W3 step has no cacheable forward")
}
const compiled = CompiledStep.compile(phase, 0, state, 10, cache)
const x = tf.randomNormal([128, 28, 28, 1], 0, 1, "float32", 1) as tf.Tensor4D
const labels = tf.tidy(() =>
  tf.cast(tf.mul(tf.randomUniform([128], 0, 1, "float32", 8), 10), "int32"),
) as tf.Tensor1D
let i = 0
const indices = (k: number) => Int32Array.from({ length: 128 }, (_, j) => (k * 128 + j) % CACHED)
const one = () => {
  const r = compiled.run(
    { x, labels, indices: indices(i) },
    { clock: { step: i, epoch: 0, progress: 0 }, seed: ++i, endOfEpoch: false, metrics: true },
  )
  const loss = r.losses.loss!.dataSync()[0]!
  for (const t of new Set(Object.values(r.losses))) t.dispose()
  return loss
}
for (let k = 0; k < Number(values.warmup); k++) one()

// --compare: the hand-written tfjs loop of the same workload in the same process, interleaved with
// the pipeline step by step, so that both see the same machine load (the fairest ratio). It uses
// the same fused Adam kernel as the interpreter (unless RETORT_FUSED_ADAM=0), so that the ratio is
// what the interpreter itself costs.
if (values.compare) {
  const hand = Workloads.make(name as Workloads.Name, 1, { fusedAdam: process.env.RETORT_FUSED_ADAM !== "0" })
  const two = () => {
    const l = hand.step()
    const v = l.dataSync()[0]!
    l.dispose()
    return v
  }
  for (let k = 0; k < Number(values.warmup); k++) two()
  const a: Array<number> = []
  const b: Array<number> = []
  const t1 = performance.now()
  while (a.length < 5 || performance.now() - t1 < Number(values.seconds) * 2000) {
    let s = performance.now()
    one()
    a.push(performance.now() - s)
    s = performance.now()
    two()
    b.push(performance.now() - s)
  }
  const med = (xs: Array<number>) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!
  console.log(
    JSON.stringify({
      workload: name,
      mode: "compare",
      retort_ms: Math.round(med(a) * 1000) / 1000,
      hand_ms: Math.round(med(b) * 1000) / 1000,
      ratio: Math.round((med(a) / med(b)) * 1000) / 1000,
      steps: a.length,
    }),
  )
  process.exit(0)
}

// --profile: where a step's time goes, per tfjs kernel (tf.profile over 5 steps), as one JSON line
// of { kernel: [ms per step, calls per step] } sorted by time, plus the step's wall time.
if (values.profile) {
  const steps = 5
  const t = performance.now()
  const info = await tf.profile(() => {
    for (let k = 0; k < steps; k++) one()
  })
  const wall = (performance.now() - t) / steps
  const by = new Map<string, [number, number]>()
  // The multiply-adds of the dense kernels (products and convolutions; element-wise work is not
  // counted), from each call's shapes: 2 FLOP per multiply-add.
  const size = (s: ReadonlyArray<number> | undefined) => (s ?? []).reduce((a, b) => a * b, 1)
  let flops = 0
  for (const k of info.kernels) {
    const ins = k.inputShapes as ReadonlyArray<ReadonlyArray<number>>
    const out = (k.outputShapes as ReadonlyArray<ReadonlyArray<number>>)[0]
    if (k.name === "Conv2D" || k.name === "FusedConv2D") {
      const f = ins[1]!
      flops += 2 * size(out) * f[0]! * f[1]! * f[2]!
    } else if (k.name === "Conv2DBackpropFilter") {
      const f = out!
      flops += 2 * size(ins[1]) * f[0]! * f[1]! * f[2]!
    } else if (k.name === "Conv2DBackpropInput") {
      const f = ins[1]!
      flops += 2 * size(ins[0]) * f[0]! * f[1]! * f[2]!
    } else if (k.name === "BatchMatMul" || k.name === "_FusedMatMul") {
      const o = out!
      const m = o[o.length - 2]!
      const batch = size(o) / (m * o[o.length - 1]!)
      const a = ins[0]!
      flops += 2 * size(o) * (size(a) / (batch * m))
    }
  }
  for (const k of info.kernels) {
    const [ms, n] = by.get(k.name) ?? [0, 0]
    by.set(k.name, [ms + (typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0) / steps, n + 1 / steps])
  }
  const kernels = Object.fromEntries(
    [...by.entries()]
      .sort((a, b) => b[1][0] - a[1][0])
      .map(([k, [ms, n]]) => [k, [Math.round(ms * 100) / 100, Math.round(n)]]),
  )
  const inKernels = [...by.values()].reduce((a, [ms]) => a + ms, 0)
  console.log(
    JSON.stringify({
      workload: name,
      mode: "profile",
      wall_ms: Math.round(wall * 10) / 10,
      kernels_ms: Math.round(inKernels * 10) / 10,
      gflop_per_step: Math.round((flops / steps / 1e9) * 1e4) / 1e4,
      kernels,
    }),
  )
  process.exit(0)
}

const tensorsBefore = tf.memory().numTensors
let peakRss = process.memoryUsage().rss
const times: Array<number> = []
const t0 = performance.now()
let loss = Number.NaN
// --steps N: exactly N steps (memory checks); otherwise as many as fit in --seconds.
const enough = () =>
  values.steps !== undefined
    ? times.length >= Number(values.steps)
    : times.length >= 5 && performance.now() - t0 >= Number(values.seconds) * 1000
while (!enough()) {
  const s = performance.now()
  loss = one()
  times.push(performance.now() - s)
  if (times.length % 50 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss)
}
peakRss = Math.max(peakRss, process.memoryUsage().rss)
times.sort((a, b) => a - b)
console.log(
  JSON.stringify({
    workload: name,
    mode: values.pure ? "retort-pure" : "retort",
    threads: backend.info.kernels?.threads ?? 1,
    native: backend.info.kernels?.native ?? false,
    ms_per_step: Math.round(times[Math.floor(times.length / 2)]! * 1000) / 1000,
    steps: times.length,
    loss,
    tensors_before: tensorsBefore,
    tensors_after: tf.memory().numTensors,
    peak_rss_mib: Math.round(peakRss / 2 ** 20),
    ...(cacheBuildMs !== undefined
      ? { cache_build_ms: Math.round(cacheBuildMs), cached_samples: CACHED }
      : {}),
  }),
)
await Effect.runPromise(Scope.close(scope, { _tag: "Success", value: undefined } as never))
process.exit(0)
