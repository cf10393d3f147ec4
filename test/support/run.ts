/**
 * Running a pipeline in a test and reading its typed failure: `runner(data)` gives a function that
 * runs on the cpu backend into a fresh temporary directory, with events kept in memory and
 * checkpoints only at phase ends unless the options say otherwise.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Cause, Effect, Exit, Option } from "effect"
import type { Pipeline } from "../../dsl/index.js"
import type * as Dataset from "../../src/data/Dataset.js"
import type * as Event from "../../src/report/Event.js"
import { Reporter } from "../../src/report/Reporter.js"
import { type RunOptions, run } from "../../src/runtime/Run.js"

/** A fresh temporary directory for runs. */
export const tmp = (): string => mkdtempSync(join(tmpdir(), "retort-run-"))

/** Run pipelines on `data` (cpu backend, a new directory each, events appended to `events`). */
export const runner =
  (data: Dataset.Dataset) =>
  (p: Pipeline.Pipeline, options: RunOptions = {}, events: Array<Event.Event> = []) =>
    Effect.runPromiseExit(
      run(p, {
        backend: "cpu",
        data,
        outDir: tmp(),
        reporter: Reporter.memory(events),
        checkpointEvery: 0,
        ...options,
      }),
    )

/** The typed error a run failed with, if it failed. */
export const failure = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined
