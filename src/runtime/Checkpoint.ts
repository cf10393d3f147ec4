/**
 * Checkpoints: everything needed to continue a run exactly — parameters and batch-norm state of
 * every model (averaged copies, learned projections and learned hyper-parameters included), optimiser states, the data
 * position and clock, and the pipeline itself. Randomness in Retort is derived from the pipeline
 * seed and the position, so the position *is* the RNG state.
 *
 * One file, `checkpoint.bin`: a magic line, a little-endian uint32 header length, a JSON header,
 * then the float32 tensors. Written atomically (a temporary file in the same directory, flushed,
 * then `rename`), so a crash never leaves a half-written checkpoint. The header records the
 * payload's byte count and SHA-256, and {@link load} checks both (and the header's structure):
 * a truncated, bit-flipped, empty or foreign file is refused with a sentence naming it, never
 * silently read as zeros.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Checkpoint } from "retort"
 * const snapshot = Effect.runPromise(Checkpoint.load("runs/kd/checkpoint.bin"))
 * ```
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs"
import { dirname } from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import type { TrainState } from "../compile/state.js"
import { describeFsError, IoError } from "../errors.js"
import * as Models from "../models/index.js"
import type * as Select from "./Select.js"

const MAGIC = "RETORT-CHECKPOINT-1\n"

/**
 * Where a run stands: the next step to take is batch `batchIndex` of epoch `epoch` of phase
 * `phase`; `step` optimiser steps of that phase are done.
 *
 * @since 0.1.0
 * @category models
 */
export interface Position {
  readonly phase: number
  readonly epoch: number
  readonly batchIndex: number
  readonly step: number
}

/**
 * The JSON header of a checkpoint.
 *
 * @since 0.1.0
 * @category models
 */
export interface Header {
  readonly version: 1
  readonly pipeline: unknown
  readonly options: Readonly<Record<string, unknown>>
  readonly position: Position
  /** Results of phases already finished (for the final summary of a resumed run). */
  readonly finished: ReadonlyArray<{
    readonly phase: string
    readonly metrics: Readonly<Record<string, number>>
  }>
  readonly averages: Readonly<Record<string, number>>
  readonly optimizers: Readonly<
    Record<string, { readonly step: number; readonly slots: Readonly<Record<string, number>> }>
  >
  readonly tensors: ReadonlyArray<{
    readonly key: string
    readonly shape: ReadonlyArray<number>
    readonly offset: number
  }>
  /** The tensors' bytes: how many, and their SHA-256 (absent in checkpoints written before it was added). */
  readonly payload?: { readonly bytes: number; readonly sha256: string }
  /** A model selection in progress (its kept weights are the `select/…` tensors). */
  readonly selection?: Select.Saved
}

/**
 * A checkpoint in memory: header plus tensor values by key.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly header: Header
  readonly tensors: ReadonlyMap<
    string,
    { readonly shape: ReadonlyArray<number>; readonly values: Float32Array }
  >
}

/**
 * Read the whole training state back from the backend (asynchronously) into a snapshot.
 *
 * @since 0.1.0
 * @category constructors
 */
export const capture = async (
  state: TrainState,
  meta: Omit<Header, "version" | "tensors" | "averages" | "optimizers">,
  /** More tensors by key (e.g. a selection's kept weights, `Select.save`). */
  extra: ReadonlyMap<string, tf.Tensor> = new Map(),
): Promise<Snapshot> => {
  const tensors = new Map<string, { shape: ReadonlyArray<number>; values: Float32Array }>()
  const put = async (key: string, v: tf.Tensor) => {
    tensors.set(key, { shape: v.shape, values: Float32Array.from(await v.data()) })
  }
  const averages: Record<string, number> = {}
  for (const [name, slot] of state.models) {
    for (const [p, v] of Object.entries(Models.Tree.flatten(slot.params)))
      await put(`model/${name}/params/${p}`, v)
    for (const [p, v] of Object.entries(Models.Tree.flatten(slot.state)))
      await put(`model/${name}/state/${p}`, v)
    if (slot.average) averages[name] = slot.average.count
  }
  for (const [name, slot] of state.learned) await put(`learned/${name}`, slot.variable)
  for (const [key, t] of extra) await put(key, t)
  for (const [key, p] of state.projections) {
    await put(`projection/${key}/kernel`, p.kernel)
    await put(`projection/${key}/bias`, p.bias)
  }
  for (const [key, p] of state.prototypes) {
    await put(`prototype/${key}/sum`, p.sum)
    await put(`prototype/${key}/count`, p.count)
  }
  const optimizers: Record<string, { step: number; slots: Record<string, number> }> = {}
  for (const [key, st] of state.optimizers) {
    const slots: Record<string, number> = {}
    for (const [path, list] of Object.entries(st.slots)) {
      slots[path] = list.length
      for (let i = 0; i < list.length; i++) await put(`optimizer/${key}/${path}/${i}`, list[i]!)
    }
    optimizers[key] = { step: st.step, slots }
  }
  return { header: { version: 1, ...meta, averages, optimizers, tensors: [] }, tensors }
}

/** `writeSync` may write less than asked (a disk filling up): write until all of it is written. */
const writeAll = (fd: number, bytes: Uint8Array) => {
  let done = 0
  while (done < bytes.byteLength) {
    const n = writeSync(fd, bytes, done, bytes.byteLength - done)
    if (n <= 0) throw Object.assign(new Error("no progress writing the checkpoint"), { code: "ENOSPC" })
    done += n
  }
}

/**
 * Write a snapshot atomically to `path`.
 *
 * @since 0.1.0
 * @category io
 */
export const save = (path: string, snapshot: Snapshot): Effect.Effect<void, IoError> =>
  Effect.try({
    try: () => {
      let offset = 0
      const entries = [...snapshot.tensors.entries()]
      const hash = createHash("sha256")
      const index = entries.map(([key, t]) => {
        const e = { key, shape: t.shape, offset }
        offset += t.values.length * 4
        hash.update(new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength))
        return e
      })
      const header = Buffer.from(
        JSON.stringify({
          ...snapshot.header,
          tensors: index,
          payload: { bytes: offset, sha256: hash.digest("hex") },
        }),
      )
      const len = Buffer.alloc(4)
      len.writeUInt32LE(header.length)
      const tmp = `${path}.tmp-${process.pid}`
      const fd = openSync(tmp, "w")
      try {
        writeAll(fd, Buffer.from(MAGIC))
        writeAll(fd, len)
        writeAll(fd, header)
        for (const [, t] of entries)
          writeAll(fd, new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength))
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
      renameSync(tmp, path)
      // the rename itself reaches the disk only with the directory's entry
      try {
        const dfd = openSync(dirname(path), "r")
        try {
          fsyncSync(dfd)
        } finally {
          closeSync(dfd)
        }
      } catch {}
    },
    catch: (cause) => {
      try {
        rmSync(`${path}.tmp-${process.pid}`, { force: true })
      } catch {}
      return new IoError({
        path,
        message: `could not write the checkpoint: ${describeFsError(cause)}; the previous checkpoint, if any, was left as it was`,
        cause,
      })
    },
  })

/**
 * Read a checkpoint file.
 *
 * @since 0.1.0
 * @category io
 */
export const load = (path: string): Effect.Effect<Snapshot, IoError> =>
  Effect.try({
    try: () => {
      const buf = readFileSync(path)
      if (buf.length === 0) throw new Error("the file is empty")
      if (buf.length < MAGIC.length + 4 || buf.subarray(0, MAGIC.length).toString() !== MAGIC)
        throw new Error("not a Retort checkpoint (its first bytes are not a checkpoint's)")
      const len = buf.readUInt32LE(MAGIC.length)
      const start = MAGIC.length + 4
      if (buf.length < start + len)
        throw new Error(`the file is truncated: ${buf.length} bytes, its header alone needs ${start + len}`)
      let header: Header
      try {
        header = JSON.parse(buf.subarray(start, start + len).toString()) as Header
      } catch (e) {
        throw new Error(`its header is damaged (${e instanceof Error ? e.message : String(e)})`)
      }
      if (
        typeof header !== "object" ||
        header === null ||
        !Array.isArray(header.tensors) ||
        typeof header.position !== "object" ||
        header.position === null
      )
        throw new Error("its header is damaged (not a checkpoint header)")
      const data = start + len
      let expected = 0
      for (const t of header.tensors) {
        const n = Array.isArray(t.shape)
          ? (t.shape as ReadonlyArray<number>).reduce((a: number, b: number) => a * b, 1)
          : Number.NaN
        if (!Number.isInteger(n) || n < 0 || t.offset !== expected)
          throw new Error(`its header is damaged (tensor ${String(t.key)})`)
        expected += n * 4
      }
      const got = buf.length - data
      if (got < expected)
        throw new Error(`the file is truncated: ${got} bytes of tensors, ${expected} expected`)
      if (got > expected) throw new Error(`the file has ${got - expected} bytes more than its tensors`)
      if (header.payload !== undefined) {
        const sha = createHash("sha256").update(buf.subarray(data)).digest("hex")
        if (header.payload.bytes !== expected || sha !== header.payload.sha256)
          throw new Error("its checksum does not match: the file is damaged")
      }
      const tensors = new Map<string, { shape: ReadonlyArray<number>; values: Float32Array }>()
      for (const t of header.tensors) {
        const n = (t.shape as ReadonlyArray<number>).reduce((a: number, b: number) => a * b, 1)
        const bytes = buf.subarray(data + t.offset, data + t.offset + n * 4)
        const values = new Float32Array(n)
        new Uint8Array(values.buffer).set(bytes)
        tensors.set(t.key, { shape: t.shape, values })
      }
      return { header, tensors }
    },
    catch: (cause) => {
      const missing = (cause as NodeJS.ErrnoException).code === "ENOENT"
      return new IoError({
        path,
        message: missing
          ? `there is no checkpoint ${path} (the run has not written one yet)`
          : `cannot resume from ${path}: ${cause instanceof Error ? cause.message : String(cause)}; nothing was read from it`,
        cause,
      })
    },
  })

/**
 * Write a snapshot's tensors into an existing training state (models must already be built with
 * the same architectures). Optimiser states are recreated from the snapshot.
 *
 * @since 0.1.0
 * @category io
 */
export const restore = (state: TrainState, snapshot: Snapshot): void => {
  const get = (key: string) => {
    const t = snapshot.tensors.get(key)
    if (!t) throw new Error(`checkpoint has no tensor ${key}`)
    return t
  }
  for (const [name, slot] of state.models) {
    for (const [p, v] of Object.entries(Models.Tree.flatten(slot.params)))
      v.assign(tf.tensor(get(`model/${name}/params/${p}`).values, v.shape, "float32"))
    for (const [p, v] of Object.entries(Models.Tree.flatten(slot.state)))
      v.assign(tf.tensor(get(`model/${name}/state/${p}`).values, v.shape, "float32"))
    if (slot.average) slot.average.count = snapshot.header.averages[name] ?? 0
  }
  for (const [name, slot] of state.learned)
    slot.variable.assign(tf.tensor(get(`learned/${name}`).values, slot.variable.shape, "float32"))
  for (const [key, p] of state.projections) {
    p.kernel.assign(tf.tensor(get(`projection/${key}/kernel`).values, p.kernel.shape, "float32"))
    p.bias.assign(tf.tensor(get(`projection/${key}/bias`).values, p.bias.shape, "float32"))
  }
  for (const [key, p] of state.prototypes) {
    p.sum.assign(tf.tensor(get(`prototype/${key}/sum`).values, p.sum.shape, "float32"))
    p.count.assign(tf.tensor(get(`prototype/${key}/count`).values, p.count.shape, "float32"))
  }
  for (const [key, o] of Object.entries(snapshot.header.optimizers)) {
    const existing = state.optimizers.get(key)
    if (existing) for (const list of Object.values(existing.slots)) for (const v of list) v.dispose()
    const slots: Record<string, tf.Variable[]> = {}
    for (const [path, count] of Object.entries(o.slots))
      slots[path] = Array.from({ length: count }, (_, i) => {
        const t = get(`optimizer/${key}/${path}/${i}`)
        return tf.variable(tf.tensor(t.values, [...t.shape], "float32"), false)
      })
    state.optimizers.set(key, { slots, step: o.step })
  }
}
