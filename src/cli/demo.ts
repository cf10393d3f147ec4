/**
 * `npm run demo`: the main job. Fashion-MNIST (falling back to the embedded MNIST digits with a
 * printed note): train the W2 CNN teacher, distil the W1 MLP student from it, and train the same
 * MLP on labels alone; print the three test accuracies and the run directory.
 *
 * The students see the first 5,000 training images — the setting where distillation pays
 * (+1.1 points in the PyTorch reference runs) — while the teacher trains on all of them.
 *
 * @since 0.1.0
 */
import { Console, Effect } from "effect"
import { make } from "../../pipelines/kd.js"
import { run } from "../runtime/Run.js"

/** Epochs of the demo, chosen to finish in about 10 minutes on 2 cores on the default backend. */
export const demoSettings = {
  full: { teacherEpochs: 2, studentEpochs: 15, limit: 5000 },
  quick: { teacherEpochs: 1, studentEpochs: 1, limit: 1000, maxSteps: 30 },
} as const

/**
 * Run the demo.
 *
 * @since 0.1.0
 * @category running
 */
export const demo = (o: {
  readonly backend: string
  readonly out: string
  readonly quick: boolean
  readonly quiet: boolean
  readonly noNative: boolean
  /** Threads for the native kernels (default: every core). */
  readonly threads?: number
  /** Directory with Fashion-MNIST IDX files. */
  readonly dataDir?: string
  /** Never download data (local Fashion-MNIST, else the embedded MNIST digits). */
  readonly noDownload?: boolean
  /** Stops the run after a checkpoint (Ctrl-C). */
  readonly signal?: AbortSignal
}) =>
  Effect.gen(function* () {
    const s = o.quick ? demoSettings.quick : demoSettings.full
    const base = make({ teacherEpochs: s.teacherEpochs, studentEpochs: s.studentEpochs, limit: s.limit })
    // Evaluate the students every 5 epochs (and at the end), not after each of their short epochs.
    const pipeline = {
      ...base,
      phases: base.phases.map((ph) =>
        ph.name === "teacher" ? ph : { ...ph, evaluate: { ...ph.evaluate, every: 5 } },
      ),
    }
    yield* Console.log(
      `Retort demo: CNN teacher (${s.teacherEpochs} epoch${s.teacherEpochs > 1 ? "s" : ""}, all training images) → MLP student by distillation, and the same MLP on labels alone (${s.studentEpochs} epochs each on the first ${s.limit} images)`,
    )
    const result = yield* run(pipeline, {
      backend: o.backend,
      outDir: o.out,
      name: o.quick ? "demo-quick" : "demo",
      quiet: o.quiet,
      ...(o.noNative ? { native: false } : {}),
      ...(o.threads !== undefined ? { threads: o.threads } : {}),
      ...("maxSteps" in s ? { maxSteps: s.maxSteps } : {}),
      ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
      ...(o.noDownload ? { download: false } : {}),
      ...(o.signal !== undefined ? { signal: o.signal } : {}),
    })
    const acc = (phase: string, model: string) =>
      result.phases.find((p) => p.phase === phase)?.metrics[`test/${model}/accuracy`] ?? Number.NaN
    const pct = (v: number) => `${(100 * v).toFixed(2)} %`
    yield* Console.log(
      [
        "",
        `data: ${result.dataset.name} · backend: ${result.backend} · ${result.seconds.toFixed(0)} s`,
        `  teacher (CNN)                 test accuracy ${pct(acc("teacher", "teacher"))}`,
        `  student (MLP, distilled)      test accuracy ${pct(acc("distil", "student"))}`,
        `  baseline (MLP, labels alone)  test accuracy ${pct(acc("baseline", "baseline"))}`,
        `run directory: ${result.dir} (events.jsonl, loss.svg, eval.svg, checkpoint.bin)`,
      ].join("\n"),
    )
  })
