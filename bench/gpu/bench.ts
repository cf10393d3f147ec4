/**
 * Times the reference workloads W1–W3 (bench/gpu/workloads.ts) on one Retort backend and prints
 * one JSON object per line, in the same shape as the PyTorch peer (bench/gpu/torch_peer.py), so
 * the two can be put side by side. Built into gpu-bundle/bench.mjs by bench/gpu/build-bundle.sh.
 *
 * Usage: tsx bench/gpu/bench.ts [--backend webgpu|wasm|cpu|tensorflow|tensorflow-gpu|auto]
 *          [--only W1,W2,W3] [--batch 128] [--seconds 4] [--read-every 10] [--require-hardware]
 *
 * The loss is read back asynchronously every `--read-every` steps (as Retort's interpreter does
 * with its metrics) and once at the end, so ms/step includes all GPU work.
 *
 * @example
 * ```sh
 * npx tsx bench/gpu/bench.ts --backend webgpu --only W1 --batch 32 --seconds 2
 * ```
 *
 * @since 0.1.0
 */
import * as tf from "@tensorflow/tfjs-core"
import { Cause, Effect } from "effect"
import { type BackendService, formatBackend, make } from "../../src/backend/Backend.js"
import type { ModuleLoader } from "../../src/backend/loader.js"
import * as Workloads from "./workloads.js"

interface Args {
  readonly backend: string
  readonly only: ReadonlyArray<Workloads.Name>
  readonly batch: number
  readonly seconds: number
  readonly readEvery: number
  readonly warmup: number
  readonly minSteps: number
  readonly requireHardware: boolean
}

const parse = (argv: ReadonlyArray<string>): Args => {
  const value = (flag: string, fallback: string): string => {
    const at = argv.indexOf(flag)
    return at >= 0 && at + 1 < argv.length ? argv[at + 1]! : fallback
  }
  const only = value("--only", "W1,W2,W3").split(",")
  for (const name of only) {
    if (!(Workloads.names as ReadonlyArray<string>).includes(name))
      throw new Error(`unknown workload ${name}`)
  }
  return {
    backend: value("--backend", "webgpu"),
    only: only as ReadonlyArray<Workloads.Name>,
    batch: Number(value("--batch", "128")),
    seconds: Number(value("--seconds", "4")),
    readEvery: Math.max(1, Number(value("--read-every", "10"))),
    warmup: Number(value("--warmup", "3")),
    minSteps: Number(value("--min-steps", "5")),
    requireHardware: argv.includes("--require-hardware"),
  }
}

// Literal specifiers, so that esbuild bundles tfjs-backend-webgpu into gpu-bundle/bench.mjs;
// "webgpu" (Dawn's binary) stays external and is found in gpu-bundle/node_modules.
const loader: ModuleLoader = (specifier) =>
  specifier === "@tensorflow/tfjs-backend-webgpu"
    ? import("@tensorflow/tfjs-backend-webgpu")
    : import(specifier)

const measure = async (backend: BackendService, name: Workloads.Name, args: Args) => {
  const w = Workloads.make(name, { batch: args.batch, seed: 1 })
  const t0 = performance.now()
  let loss = w.step()
  let value = await backend.readScalar(loss)
  loss.dispose()
  const firstStepMs = performance.now() - t0
  for (let i = 1; i < args.warmup; i++) w.step().dispose()
  if (args.warmup > 1) await backend.read(w.trainable[0]!)
  let steps = 0
  const start = performance.now()
  while (steps < args.minSteps || performance.now() - start < args.seconds * 1000) {
    loss = w.step()
    steps++
    if (steps % args.readEvery === 0) value = await backend.readScalar(loss)
    loss.dispose()
  }
  // Wait for the last step: its updated weights are ready only when all its kernels ran.
  await backend.read(w.trainable[w.trainable.length - 1]!)
  const ms = (performance.now() - start) / steps
  w.dispose()
  return {
    workload: name,
    ms_per_step: Math.round(ms * 1000) / 1000,
    img_per_s: Math.round(((args.batch * 1000) / ms) * 10) / 10,
    steps,
    batch: args.batch,
    first_step_ms: Math.round(firstStepMs),
    loss: Math.round(value * 1e4) / 1e4,
    backend: backend.kind,
    adapter: backend.info.adapter ?? backend.name,
    tensors: tf.memory().numTensors,
  }
}

const main = async () => {
  const args = parse(process.argv.slice(2))
  const program = Effect.scoped(
    Effect.gen(function* () {
      const backend = yield* make({
        kind: args.backend,
        loader,
        ...(args.requireHardware ? { webgpu: { allowSoftware: false } } : {}),
      })
      process.stderr.write(`${formatBackend(backend)}\n`)
      for (const name of args.only) {
        const row = yield* Effect.promise(() => measure(backend, name, args))
        process.stdout.write(`${JSON.stringify(row)}\n`)
      }
    }),
  )
  const exit = await Effect.runPromiseExit(program)
  if (exit._tag === "Failure") {
    const error = Cause.squash(exit.cause)
    process.stderr.write(
      `bench failed: ${error instanceof Error ? error.message : Cause.pretty(exit.cause)}\n`,
    )
    process.exitCode = 1
  }
}

await main()
