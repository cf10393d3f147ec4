/**
 * The distributed execution engine for sweeps, on Effect Cluster over PostgreSQL.
 *
 * Every run of a sweep is one entity of the cluster: a `RetortSweepRun` whose id is
 * `<sweep>/<id>`, with one persisted RPC, `Run`. Submitting a sweep sends one `Run` message per
 * run; Effect Cluster writes each message to PostgreSQL (`SqlMessageStorage`) before anything
 * else happens, deduplicated by the message's primary key (`<sweep>/<id>`), so submitting the same
 * run twice stores it once. Runner processes (`runner`) join the cluster through `SqlRunnerStorage`
 * (runner registry and shard locks in the same database) and talk to each other over TCP
 * (`NodeClusterSocket`). Each run id hashes to one of the cluster's shards, each shard is held by
 * one live runner, and that runner reads the shard's unprocessed messages and executes them. A
 * runner that dies stops renewing its shard locks; the survivors take its shards over and, because
 * the messages are still unprocessed in storage, execute its runs again.
 *
 * Results land in our own table, `retort_sweep_outcomes`, whose primary key is `(sweep, id)`: an
 * outcome is written with `INSERT … ON CONFLICT DO NOTHING`, and a run whose outcome is already
 * there is not executed again. Execution is therefore at-least-once (a run cut off by a dead
 * runner starts again elsewhere) and the recorded outcome exactly-once. `follow` and `outcomes`
 * only read that table, so a submitter can die and come back at any time.
 *
 * See docs/scale-out.md for what is durable, what is lost when each piece dies, and the timings.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Cluster from "./src/sweep/Cluster.js"
 * const db = "postgres://retort@db.lab:5432/retort"
 * // on each host:
 * const host = Cluster.runner({ db, execute: (work) => Effect.succeed({ id: work.id }) })
 * // on the submitting machine:
 * const work = [{ sweep: "kd-grid", id: "t2-a0.5", payload: { temperature: 2, alpha: 0.5 } }]
 * const sweep = Effect.gen(function* () {
 *   yield* Cluster.submit({ db, sweep: "kd-grid", work })
 *   return yield* Cluster.follow({ db, sweep: "kd-grid", ids: work.map((w) => w.id) })
 * })
 * ```
 *
 * @since 0.1.0
 */
import { hostname } from "node:os"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as PgClient from "@effect/sql-pg/PgClient"
import {
  Cause,
  Data,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  Redacted,
  Schedule,
  Schema,
  Semaphore,
} from "effect"
import {
  ClusterSchema,
  Entity,
  MessageRetention,
  RunnerAddress,
  RunnerStorage,
  ShardingConfig,
  SqlRunnerStorage,
} from "effect/cluster"
import { Rpc } from "effect/rpc"
import { SqlClient } from "effect/sql"

// -------------------------------------------------------------------------------------------------
// models
// -------------------------------------------------------------------------------------------------

/**
 * One run of a sweep: its sweep, its id (unique within the sweep) and what the executor needs
 * (JSON-serialisable).
 *
 * @example
 * ```ts
 * import * as Cluster from "./src/sweep/Cluster.js"
 * const w: Cluster.Work = { sweep: "kd-grid", id: "seed-1", payload: { seed: 1, alpha: 0.5 } }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Work {
  readonly sweep: string
  readonly id: string
  readonly payload: unknown
}

/**
 * The recorded result of one run: `ok` with the executor's value (JSON), or not `ok` with the
 * error's message; which runner produced it (`host:port`) and when it finished (ISO time, that
 * runner's clock).
 *
 * @example
 * ```ts
 * import * as Cluster from "./src/sweep/Cluster.js"
 * const o: Cluster.Outcome = {
 *   sweep: "kd-grid", id: "seed-1", ok: true, value: { accuracy: 0.91 },
 *   runner: "gpu-2:34431", finishedAt: "2026-12-03T12:00:00.000Z",
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome {
  readonly sweep: string
  readonly id: string
  readonly ok: boolean
  readonly value: unknown
  readonly runner: string
  readonly finishedAt: string
}

/**
 * The run itself, injected by the caller: may take minutes, must honour interruption (a runner
 * that loses a run's shard, or is shut down, interrupts it so that another runner can take it), and
 * should be deterministic in `work.payload` — a run cut off by a dead runner is executed again.
 * Its value must be JSON-serialisable; a failure (or defect) is recorded as an outcome with
 * `ok: false`, not retried.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Cluster from "./src/sweep/Cluster.js"
 * const execute: Cluster.Executor = (work) =>
 *   Effect.succeed({ id: work.id, score: 0.5 }).pipe(Effect.delay("1 second"))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Executor = (work: Work) => Effect.Effect<unknown, unknown>

/**
 * Anything that went wrong talking to the database or the cluster (unreachable or refused
 * database, a port already taken, a `follow` that timed out), with what was being done.
 *
 * @example
 * ```ts
 * import * as Cluster from "./src/sweep/Cluster.js"
 * const e = new Cluster.ClusterError({ message: "cannot reach the database postgres://db/retort" })
 * e._tag // "ClusterError"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ClusterError extends Data.TaggedError("ClusterError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * A runner that is registered in the database, as `host:port`, and whether the cluster considers
 * it healthy.
 *
 * @example
 * ```ts
 * import * as Cluster from "./src/sweep/Cluster.js"
 * const r: Cluster.RunnerInfo = { address: "gpu-2:34431", healthy: true }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RunnerInfo {
  readonly address: string
  readonly healthy: boolean
}

// -------------------------------------------------------------------------------------------------
// timings
// -------------------------------------------------------------------------------------------------

/**
 * The `ShardingConfig` settings this engine changes from Effect Cluster's defaults, chosen so that
 * a killed runner's runs move to the survivors within about ten seconds:
 *
 * - `shardLockExpiration` (8 s; Effect: 35 s): a runner's heartbeat (written with every lock
 *   refresh) older than this drops it from the runner list, and its shards are reassigned. It also
 *   sets PostgreSQL's `idle_session_timeout` on the session holding the advisory locks, which
 *   bounds how long a frozen (not dead) runner keeps them. A runner whose own lock refreshes keep
 *   failing this long gives up its shards.
 * - `shardLockRefreshInterval` (2 s): how often locks and heartbeat are renewed (at most a third of
 *   the expiration).
 * - `runnerHealthCheckInterval` (3 s; Effect: 1 min): how often the health-check singleton pings
 *   the other runners; an unreachable one is marked unhealthy and loses its shards at once (within
 *   about 3 s of pinging), without waiting for the heartbeat to expire. It cannot see the death of
 *   the runner it runs on — then the expiration above applies.
 * - `refreshAssignmentsInterval` (1 s; Effect: 3 s): how often each runner re-reads the runner list
 *   and recomputes shard assignments.
 * - `entityMessagePollInterval` (1 s; Effect: 10 s): how often runners poll storage for messages
 *   nobody notified them about (a submitter notifies the owning runner directly when it knows it).
 * - `entityTerminationTimeout` (10 s): how long a stopping runner waits for its entities; runs are
 *   interrupted at once anyway (`InterruptOnTermination`), so this only bounds clean-up.
 *
 * Pass `sharding` to {@link runner} to change them; keep `shardsPerGroup` the same on every runner.
 *
 * @example
 * ```ts
 * import * as Cluster from "./src/sweep/Cluster.js"
 * Cluster.timings.shardLockExpiration // "8 seconds"
 * ```
 *
 * @since 0.1.0
 * @category configuration
 */
export const timings = {
  shardLockRefreshInterval: "2 seconds",
  shardLockExpiration: "8 seconds",
  runnerHealthCheckInterval: "3 seconds",
  refreshAssignmentsInterval: "1 second",
  entityMessagePollInterval: "1 second",
  entityTerminationTimeout: "10 seconds",
  sendRetryInterval: "200 millis",
} as const satisfies Partial<ShardingConfig.ShardingConfig["Service"]>

/**
 * The cluster's `ShardingConfig` overrides a caller may pass (see {@link timings}).
 *
 * @example
 * ```ts
 * import * as Cluster from "./src/sweep/Cluster.js"
 * const faster: Cluster.Sharding = { shardLockExpiration: "5 seconds", shardLockRefreshInterval: "1 second" }
 * ```
 *
 * @since 0.1.0
 * @category configuration
 */
export type Sharding = Partial<ShardingConfig.ShardingConfig["Service"]>

// -------------------------------------------------------------------------------------------------
// the entity
// -------------------------------------------------------------------------------------------------

/**
 * The persisted RPC of a run: its payload travels as JSON text and its reply is the recorded
 * outcome (JSON text). The primary key `<sweep>/<id>` makes a second send of the same run a
 * duplicate that storage keeps only once; `InterruptOnTermination` lets a stopping runner hand
 * its running runs over at once instead of waiting for them.
 *
 * @example
 * ```ts
 * import * as Cluster from "./src/sweep/Cluster.js"
 * Cluster.Run._tag // "Run"
 * ```
 *
 * @since 0.1.0
 * @category entity
 */
export const Run = Rpc.make("Run", {
  payload: { sweep: Schema.String, id: Schema.String, payload: Schema.String },
  success: Schema.String,
  primaryKey: ({ sweep, id }) => `${sweep}/${id}`,
})
  .annotate(ClusterSchema.Persisted, true)
  .annotate(ClusterSchema.InterruptOnTermination, true)

/**
 * The cluster entity of one run, addressed as `<sweep>/<id>`.
 *
 * @example
 * ```ts
 * import * as Cluster from "./src/sweep/Cluster.js"
 * Cluster.SweepRun.type // "RetortSweepRun"
 * ```
 *
 * @since 0.1.0
 * @category entity
 */
export const SweepRun = Entity.make("RetortSweepRun", [Run])

/**
 * The entity id of a run.
 *
 * @example
 * ```ts
 * import * as Cluster from "./src/sweep/Cluster.js"
 * Cluster.entityId("kd-grid", "seed-1") // "kd-grid/seed-1"
 * ```
 *
 * @since 0.1.0
 * @category entity
 */
export const entityId = (sweep: string, id: string): string => `${sweep}/${id}`

// -------------------------------------------------------------------------------------------------
// database
// -------------------------------------------------------------------------------------------------

/** An error's message followed by those of its causes (`SqlError` → `ECONNREFUSED`, …). */
const describe = (e: unknown): string => {
  if (e instanceof Error) {
    const parts: Array<string> = []
    let at: unknown = e
    for (let depth = 0; at instanceof Error && depth < 6; depth++) {
      const tag = (at as { _tag?: unknown })._tag
      const text = at.message || (typeof tag === "string" ? tag : at.name)
      if (text && !parts.some((p) => p.includes(text))) parts.push(text)
      at = (at as { cause?: unknown }).cause
    }
    return parts.join(": ")
  }
  if (typeof e === "string") return e
  try {
    return JSON.stringify(e) ?? String(e)
  } catch {
    return String(e)
  }
}

/** The URL without its password, for messages. */
const redact = (db: string): string => {
  try {
    const u = new URL(db)
    if (u.password) u.password = "***"
    return u.toString()
  } catch {
    return db
  }
}

const wrap =
  (what: string) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, ClusterError, R> =>
    Effect.catchCause(self, (cause) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
      const e = Cause.squash(cause)
      if (e instanceof ClusterError) return Effect.fail(e)
      return Effect.fail(new ClusterError({ message: `${what}: ${describe(e)}`, cause: e }))
    })

const pg = (db: string) =>
  PgClient.layer({
    url: Redacted.make(db),
    connectTimeout: Duration.seconds(5),
    acquireTimeout: Duration.seconds(15),
    applicationName: "retort-sweep",
  })

/**
 * Our two tables, created once under an advisory lock (several runners may start together):
 * the submitted work and the outcomes, both keyed by `(sweep, id)`.
 */
const ensureSchema = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.withTransaction(
    Effect.gen(function* () {
      yield* sql`SELECT pg_advisory_xact_lock(hashtext('retort_sweep_schema'))`
      yield* sql`CREATE TABLE IF NOT EXISTS retort_sweep_work (
        sweep TEXT NOT NULL,
        id TEXT NOT NULL,
        payload JSON NOT NULL,
        submitted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (sweep, id)
      )`
      yield* sql`CREATE TABLE IF NOT EXISTS retort_sweep_outcomes (
        sweep TEXT NOT NULL,
        id TEXT NOT NULL,
        ok BOOLEAN NOT NULL,
        value JSON NOT NULL,
        runner TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (sweep, id)
      )`
    }),
  )
})

interface OutcomeRow {
  readonly sweep: string
  readonly id: string
  readonly ok: boolean
  readonly value: string
  readonly runner: string
  readonly finished_at: string
}

const fromRow = (r: OutcomeRow): Outcome => ({
  sweep: r.sweep,
  id: r.id,
  ok: r.ok,
  value: JSON.parse(r.value),
  runner: r.runner,
  finishedAt: r.finished_at,
})

const selectOutcomes = (sweep: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql<OutcomeRow>`SELECT sweep, id, ok, value::text AS value, runner, finished_at
        FROM retort_sweep_outcomes WHERE sweep = ${sweep} ORDER BY recorded_at, id`,
  )

const selectOutcome = (sweep: string, id: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql<OutcomeRow>`SELECT sweep, id, ok, value::text AS value, runner, finished_at
        FROM retort_sweep_outcomes WHERE sweep = ${sweep} AND id = ${id}`,
  ).pipe(Effect.map((rows) => (rows[0] ? fromRow(rows[0]) : undefined)))

/** Writes an outcome unless one is there already; gives the one that is recorded. */
const record = (o: Outcome) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO retort_sweep_outcomes (sweep, id, ok, value, runner, finished_at)
      VALUES (${o.sweep}, ${o.id}, ${o.ok}, ${JSON.stringify(o.value ?? null)}::json, ${o.runner}, ${o.finishedAt})
      ON CONFLICT (sweep, id) DO NOTHING`
    return (yield* selectOutcome(o.sweep, o.id)) ?? o
  })

/** Transient database trouble inside a runner: retried for about a minute, then a defect. */
const persistently = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  self.pipe(Effect.retry({ schedule: Schedule.exponential("200 millis", 2), times: 8 }), Effect.orDie)

// -------------------------------------------------------------------------------------------------
// runner
// -------------------------------------------------------------------------------------------------

const isLoopback = (host: string) => host === "localhost" || host.startsWith("127.") || host === "::1"

const addressOf = (a: { readonly host: string; readonly port: number }) =>
  Option.some(RunnerAddress.RunnerAddress.make(a))

/** The `ShardingConfig` of a runner (or, with `runnerAddress` none, of a client). */
const shardingFor = (
  address: { readonly host: string; readonly port: number; readonly listenHost: string } | undefined,
  overrides: Sharding | undefined,
): Sharding => ({
  ...timings,
  ...(address
    ? {
        runnerAddress: addressOf({ host: address.host, port: address.port }),
        runnerListenAddress: addressOf({ host: address.listenHost, port: address.port }),
      }
    : {}),
  ...overrides,
})

const errorMessage = (cause: Cause.Cause<unknown>): string =>
  Cause.hasInterruptsOnly(cause) ? "the run interrupted itself" : describe(Cause.squash(cause))

/**
 * The handlers of one runner: a run whose outcome is recorded is answered from the table;
 * otherwise it waits for one of the runner's `concurrency` slots, runs, and records its outcome.
 */
const handlersFor = (execute: Executor, slots: Semaphore.Semaphore) =>
  Effect.gen(function* () {
    const address = yield* Entity.CurrentRunnerAddress
    const runnerName = `${address.host}:${address.port}`
    const sqlClient = yield* SqlClient.SqlClient
    const withSql = Effect.provideService(SqlClient.SqlClient, sqlClient)
    return SweepRun.of({
      Run: (envelope) => {
        const { sweep, id, payload } = envelope.payload
        const once = Effect.gen(function* () {
          const done = yield* persistently(withSql(selectOutcome(sweep, id)))
          if (done) return done
          const work: Work = { sweep, id, payload: JSON.parse(payload) }
          // In a child fiber: when this handler is interrupted (its shard moves, the runner
          // stops) the run is interrupted with it and nothing is recorded, so that the next owner
          // runs it; a run that ends by interrupting itself is an ordinary failure.
          const fiber = yield* Effect.forkChild(Effect.suspend(() => execute(work)))
          const exit = yield* Fiber.await(fiber)
          const outcome: Outcome = {
            sweep,
            id,
            ok: Exit.isSuccess(exit),
            value: Exit.isSuccess(exit) ? toJson(exit.value) : errorMessage(exit.cause),
            runner: runnerName,
            finishedAt: new Date().toISOString(),
          }
          return yield* persistently(withSql(record(outcome)))
        })
        return slots
          .withPermits(1)(once)
          .pipe(Effect.map((o) => JSON.stringify(o)))
      },
    })
  })

/** The executor's value as JSON (a value JSON cannot hold becomes its description). */
const toJson = (value: unknown): unknown => {
  try {
    const text = JSON.stringify(value)
    return text === undefined ? null : JSON.parse(text)
  } catch (e) {
    return `unserialisable result: ${describe(e)}`
  }
}

/**
 * A runner process: joins the cluster recorded in the database `db`, listens on `port` (default
 * 34431) for the other runners, and executes the runs of the shards it holds — at most
 * `concurrency` (default 1) at a time — until interrupted, when it hands its shards over. `host`
 * (default: this machine's name) is the address the other runners and submitters use to reach it;
 * it listens on `listenHost`, by default `host` itself when that is a loopback address and all
 * interfaces otherwise. The runner-to-runner port has no authentication: keep it on a trusted
 * network.
 *
 * Processed messages are deleted from Effect Cluster's tables `retention` (default 7 days) after
 * they finished; the outcomes stay. `sharding` overrides the {@link timings}.
 *
 * Fails with `ClusterError` only while starting (database unreachable, port taken); afterwards it
 * rides out database outages the way Effect Cluster does (see docs/scale-out.md).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Cluster from "./src/sweep/Cluster.js"
 * const program = Cluster.runner({
 *   db: "postgres://retort@db.lab:5432/retort",
 *   host: "gpu-2",
 *   port: 34431,
 *   concurrency: 1,
 *   execute: (work) => Effect.succeed({ id: work.id }),
 * })
 * ```
 *
 * @since 0.1.0
 * @category runner
 */
export const runner = (options: {
  readonly db: string
  readonly host?: string
  readonly port?: number
  readonly listenHost?: string
  readonly execute: Executor
  readonly concurrency?: number
  readonly retention?: Duration.Input
  readonly sharding?: Sharding
}): Effect.Effect<never, ClusterError> =>
  Effect.gen(function* () {
    const host = options.host ?? hostname()
    const port = options.port ?? 34431
    const listenHost = options.listenHost ?? (isLoopback(host) ? host : "0.0.0.0")
    const concurrency = Math.max(1, Math.floor(options.concurrency ?? 1))
    yield* wrap(`cannot prepare the database ${redact(options.db)}`)(ensureSchema)
    const slots = yield* Semaphore.make(concurrency)
    const entity = SweepRun.toLayer(handlersFor(options.execute, slots), {
      // one run per entity; idle entities leave memory after a minute
      maxIdleTime: "1 minute",
    })
    // Effect Cluster keeps every processed message to answer duplicates; forget them after
    // `retention` (a later duplicate is then answered from retort_sweep_outcomes, not re-run)
    const retention = MessageRetention.make({ entity: SweepRun, retention: options.retention ?? "7 days" })
    const cluster = NodeClusterSocket.layer({
      storage: "sql",
      shardingConfig: shardingFor({ host, port, listenHost }, options.sharding),
    })
    return yield* wrap(`runner ${host}:${port} could not start`)(
      Layer.launch(Layer.mergeAll(entity, retention).pipe(Layer.provide(cluster))),
    )
  }).pipe(Effect.provide(pg(options.db)), wrap(`runner on ${redact(options.db)}`))

// -------------------------------------------------------------------------------------------------
// submitter
// -------------------------------------------------------------------------------------------------

/** A client-only member of the cluster: it can send to entities but holds no shards. */
const clientOnly = (overrides: Sharding | undefined) =>
  NodeClusterSocket.layer({
    clientOnly: true,
    storage: "sql",
    shardingConfig: shardingFor(undefined, overrides),
  })

/**
 * Persists a sweep's work durably and returns: each run is recorded in `retort_sweep_work` and
 * sent to its entity as a persisted, fire-and-forget message (stored in PostgreSQL before this
 * returns; the runner holding its shard is notified when known, otherwise it finds the message on
 * its next poll). Idempotent: a run already submitted (same sweep and id) is neither stored nor
 * run again — the first submission's payload wins. Needs no runner to be up.
 *
 * @example
 * ```ts
 * import * as Cluster from "./src/sweep/Cluster.js"
 * const program = Cluster.submit({
 *   db: "postgres://retort@db.lab:5432/retort",
 *   sweep: "kd-grid",
 *   work: [{ sweep: "kd-grid", id: "seed-1", payload: { seed: 1 } }],
 * })
 * ```
 *
 * @since 0.1.0
 * @category submitter
 */
export const submit = (options: {
  readonly db: string
  readonly sweep: string
  readonly work: ReadonlyArray<Work>
  readonly sharding?: Sharding
}): Effect.Effect<void, ClusterError> =>
  Effect.gen(function* () {
    const bad = options.work.find((w) => w.sweep !== options.sweep)
    if (bad) {
      return yield* new ClusterError({
        message: `work ${bad.id} belongs to sweep ${bad.sweep}, not ${options.sweep}`,
      })
    }
    const ids = new Set<string>()
    for (const w of options.work) {
      if (ids.has(w.id)) return yield* new ClusterError({ message: `work id ${w.id} appears twice` })
      ids.add(w.id)
    }
    yield* wrap(`cannot prepare the database ${redact(options.db)}`)(ensureSchema)
    const sql = yield* SqlClient.SqlClient
    const payloads = options.work.map((w) => {
      const text = JSON.stringify(w.payload ?? null)
      return { work: w, text }
    })
    yield* wrap("cannot record the work")(
      Effect.forEach(
        payloads,
        ({ work, text }) =>
          sql`INSERT INTO retort_sweep_work (sweep, id, payload) VALUES (${work.sweep}, ${work.id}, ${text}::json)
            ON CONFLICT (sweep, id) DO NOTHING`,
        { discard: true },
      ),
    )
    yield* wrap("cannot send the work to the cluster")(
      Effect.gen(function* () {
        const client = yield* SweepRun.client
        yield* Effect.forEach(
          payloads,
          ({ work, text }) =>
            client(entityId(work.sweep, work.id)).Run(
              { sweep: work.sweep, id: work.id, payload: text },
              { discard: true },
            ),
          { discard: true, concurrency: 8 },
        )
      }).pipe(Effect.provide(clientOnly(options.sharding))),
    )
  }).pipe(Effect.provide(pg(options.db)), wrap(`submit to ${redact(options.db)}`))

/**
 * The outcomes recorded so far for a sweep, oldest first.
 *
 * @example
 * ```ts
 * import * as Cluster from "./src/sweep/Cluster.js"
 * const program = Cluster.outcomes({ db: "postgres://retort@db.lab:5432/retort", sweep: "kd-grid" })
 * ```
 *
 * @since 0.1.0
 * @category submitter
 */
export const outcomes = (options: {
  readonly db: string
  readonly sweep: string
}): Effect.Effect<ReadonlyArray<Outcome>, ClusterError> =>
  Effect.gen(function* () {
    yield* ensureSchema
    return (yield* selectOutcomes(options.sweep)).map(fromRow)
  }).pipe(Effect.provide(pg(options.db)), wrap(`cannot read outcomes from ${redact(options.db)}`))

/**
 * Follows a sweep until every id has an outcome, calling `onProgress` with all outcomes so far
 * each time new ones land (every `interval`, default 500 ms), and returns them in the order of
 * `ids` (default: every id submitted for the sweep). Reads only the database, so it is safe to call
 * again after the submitter died; it does not need `submit` to have run in the same process.
 * Fails with `ClusterError` after `timeout` (default: never) or when the database stays
 * unreachable for about 15 s.
 *
 * @example
 * ```ts
 * import * as Cluster from "./src/sweep/Cluster.js"
 * const program = Cluster.follow({
 *   db: "postgres://retort@db.lab:5432/retort",
 *   sweep: "kd-grid",
 *   ids: ["seed-1", "seed-2"],
 *   onProgress: (done) => console.log(`${done.length}/2`),
 *   timeout: "2 hours",
 * })
 * ```
 *
 * @since 0.1.0
 * @category submitter
 */
export const follow = (options: {
  readonly db: string
  readonly sweep: string
  readonly ids?: ReadonlyArray<string>
  readonly onProgress?: (done: ReadonlyArray<Outcome>) => void
  readonly timeout?: Duration.Input
  readonly interval?: Duration.Input
}): Effect.Effect<ReadonlyArray<Outcome>, ClusterError> =>
  Effect.gen(function* () {
    yield* wrap(`cannot prepare the database ${redact(options.db)}`)(ensureSchema)
    const sql = yield* SqlClient.SqlClient
    const ids =
      options.ids ??
      (yield* wrap("cannot read the submitted work")(
        sql<{
          id: string
        }>`SELECT id FROM retort_sweep_work WHERE sweep = ${options.sweep} ORDER BY submitted_at, id`,
      )).map((r) => r.id)
    const wanted = new Set(ids)
    const interval = options.interval ?? "500 millis"
    let seen = -1
    const poll: Effect.Effect<ReadonlyArray<Outcome> | undefined, ClusterError> = Effect.gen(function* () {
      const rows = yield* selectOutcomes(options.sweep).pipe(
        Effect.retry({ schedule: Schedule.spaced("1 second"), times: 15 }),
        wrap(`cannot read outcomes of ${options.sweep}`),
        Effect.provideService(SqlClient.SqlClient, sql),
      )
      const done = rows.map(fromRow).filter((o) => wanted.has(o.id))
      if (done.length !== seen) {
        seen = done.length
        options.onProgress?.(done)
      }
      if (done.length < wanted.size) return undefined
      const byId = new Map(done.map((o) => [o.id, o]))
      return ids.map((id) => byId.get(id)!)
    })
    const loop: Effect.Effect<ReadonlyArray<Outcome>, ClusterError> = Effect.flatMap(poll, (r) =>
      r ? Effect.succeed(r) : Effect.andThen(Effect.sleep(interval), loop),
    )
    if (options.timeout === undefined) return yield* loop
    const timeout = options.timeout
    return yield* Effect.timeoutOrElse(loop, {
      duration: timeout,
      orElse: () =>
        Effect.fail(
          new ClusterError({
            message: `sweep ${options.sweep}: ${Math.max(seen, 0)}/${wanted.size} runs done after ${Duration.format(Duration.fromInputUnsafe(timeout))}`,
          }),
        ),
    })
  }).pipe(Effect.provide(pg(options.db)), wrap(`follow on ${redact(options.db)}`))

/**
 * The runners registered in the database whose heartbeat is recent (within the shard lock
 * expiration), read through Effect Cluster's `RunnerStorage`.
 *
 * @example
 * ```ts
 * import * as Cluster from "./src/sweep/Cluster.js"
 * const program = Cluster.runners({ db: "postgres://retort@db.lab:5432/retort" })
 * ```
 *
 * @since 0.1.0
 * @category submitter
 */
export const runners = (options: {
  readonly db: string
  readonly sharding?: Sharding
}): Effect.Effect<ReadonlyArray<RunnerInfo>, ClusterError> =>
  Effect.gen(function* () {
    const storage = yield* RunnerStorage.RunnerStorage
    const list = yield* storage.getRunners
    return list.map(([r, healthy]) => ({ address: `${r.address.host}:${r.address.port}`, healthy }))
  }).pipe(
    Effect.provide(
      Layer.orDie(SqlRunnerStorage.layer).pipe(
        Layer.provide(ShardingConfig.layer(shardingFor(undefined, options.sharding))),
        Layer.provide(pg(options.db)),
      ),
    ),
    wrap(`cannot list the runners on ${redact(options.db)}`),
  )
