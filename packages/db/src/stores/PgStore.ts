/**
 * A PostgreSQL GuardrailStore, shared by every agent replica that reaches one database: counted
 * sliding windows, compare-and-swap values, leases with expiry and the incident journal, with
 * the same semantics as core's MemoryStore and FileStore (and the same contract suite).
 *
 * Tables live in one schema (`BYTEPORT_STORE_SCHEMA`, default `byteport`) and are created
 * idempotently (under an advisory lock, so several agents starting at once do not race on the
 * catalog):
 *
 * | table | rows | atomicity |
 * |---|---|---|
 * | `windows` | (key, token, at, weight, window_ms) per unit taken | one transaction under `pg_advisory_xact_lock(<schema>.window, hashtext(key))`: prune, count, insert if it fits |
 * | `kv` | (key, value json, version) | `UPDATE … WHERE version = $n`, or `INSERT … ON CONFLICT DO NOTHING` for version 0 |
 * | `leases` | (key, holder, acquired_at, expires_at, data json, parents text[]) | one transaction under `pg_advisory_xact_lock(<schema>.lease, hashtext(k))` for the key and each parent, taken in hash order: a parent and its children share a lock (hierarchical leases) |
 * | `incidents` | the index: runbook, target, opened_at, last_type, closed, last_seq | `UPDATE … SET last_seq = last_seq + 1 RETURNING` holds the row lock until the entry is written |
 * | `journal` | (incident_id, seq, at, type, step_path, data json), append-only | inserted in the same transaction as the index update |
 * | `fences` | (scope, epoch): the highest fencing epoch seen per scope | a request with an `epoch` first upserts `greatest(epoch, $n)` (the row lock serializes the scope's fenced writes until COMMIT) and rolls back as stale when the row is higher |
 *
 * A window acquire with a `token` the window already holds takes nothing (the `(key, token)` row
 * is found under the key's lock), so it is also safe to retry after a lost COMMIT.
 *
 * Values are stored as `json` (not `jsonb`), so a value reads back with its members in the
 * order written. Times are `double precision` epoch ms, exact for every finite JS number.
 *
 * Windows run on the database's clock by default (`clock`): an agent whose clock is off by
 * minutes neither frees budget early nor holds it late.
 *
 * The rules (validation, window and lease decisions, journal checks) are core's `StoreRules`;
 * every value, lease data and journal entry is redacted (`StoreRules.redactJson`) before it
 * reaches a row.
 *
 * Every pooled client and the pool have an `error` listener: a backend terminated by
 * `pg_terminate_backend` or a server restart never crashes the process. A read that met a dead
 * connection is retried once on a fresh one; a write is retried only when the failure came
 * before its COMMIT was sent. Every failure is a `StoreError` whose message passes through
 * `scrub`: no password and no DSN ever appears in it. A database that cannot be reached gives
 * `store unreachable: <code>` (no host, no port): the agent then starts no write step.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import { GuardrailStore, Settings, StoreRules } from "@byteport/core"
import type { Redactor } from "@byteport/core"
import { Config, Effect, Layer, Redacted, Semaphore } from "effect"
import pg from "pg"
import { scrub } from "../DbError"
import * as Dsn from "../Dsn"
import { scopedPool } from "../internal/pool"

/** Settings of a {@link make | PgStore}. */
export interface PgStoreConfig {
  /** `postgres://user:password@host:port/database`; the user needs CREATE on the database (or an existing schema). */
  readonly url: Redacted.Redacted<string>
  /** The schema holding the tables (default `byteport`): lower-case letters, digits and `_`. */
  readonly schema?: string
  /** Connections in the pool (default 8). Concurrent operations beyond it queue in the process. */
  readonly poolMax?: number
  /** `application_name` of the store's sessions (default `byteport-store`). */
  readonly applicationName?: string
  /** Server-side `statement_timeout` (it also bounds lock waits) and client backstop, in ms (default 10 000). */
  readonly statementTimeoutMillis?: number
  /** Connect timeout in ms (default 10 000). */
  readonly connectTimeoutMillis?: number
  /**
   * After every `gcEvery` window acquires (default 256; 0 = never) the store deletes units of any
   * key that slid out of their window ({@link PgStoreShape.gc}), so keys that are never used again
   * do not accumulate rows.
   */
  readonly gcEvery?: number
  /** The redactor every written value, lease data and journal entry passes (default: the caller's `Redactor` service, else the default rules). */
  readonly redactor?: Redactor.Shape
  /**
   * Whose clock places window units (default `"database"`): the database's (`clock_timestamp()`
   * read under the window's lock), so agents whose clocks disagree (a host 10 minutes off) share
   * exact windows; or the `"caller"`'s `now` (deterministic tests with synthetic times). Every
   * agent on one schema must use the same clock. Times a window answers with (`peekWindow`'s
   * `oldestAt`) are shifted into the caller's frame.
   */
  readonly clock?: "database" | "caller"
}

/** A PgStore: the GuardrailStore plus maintenance. */
export interface PgStoreShape extends GuardrailStoreShape {
  /** The schema the tables live in. */
  readonly schema: string
  /**
   * Deletes window units that have slid out of the window they were taken with
   * (`at + window_ms <= now`), at most 10 000 per call; returns how many. Rows another
   * transaction holds are skipped (`FOR UPDATE SKIP LOCKED`), so it never waits on an acquire.
   */
  readonly gc: (now: number) => Effect.Effect<number, GuardrailStore.StoreError>
  /** How many asynchronous connection errors were absorbed (terminated backends, lost sockets). */
  readonly backgroundErrors: Effect.Effect<number>
}

type StoreErrorT = GuardrailStore.StoreError
type GuardrailStoreShape = GuardrailStore.GuardrailStoreShape
type IncidentIndexEntry = GuardrailStore.IncidentIndexEntry
type JournalEntry = GuardrailStore.JournalEntry
type JournalEntryType = GuardrailStore.JournalEntryType
type LeaseInfo = GuardrailStore.LeaseInfo
type LeaseRequest = GuardrailStore.LeaseRequest
type LeaseResult = GuardrailStore.LeaseResult
type NewJournalEntry = GuardrailStore.NewJournalEntry
type Versioned = GuardrailStore.Versioned
type WindowRequest = GuardrailStore.WindowRequest
type WindowResult = GuardrailStore.WindowResult
type Json = Versioned["value"]
type JsonObject = LeaseInfo["data"]

const { InvalidInput, requireKey, requireTime } = StoreRules

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/

/** Node / pg errors that mean the connection is gone (the statement may not have run). */
const isConnectionError = (cause: unknown): boolean => {
  const e = (cause ?? {}) as { code?: unknown; message?: unknown; severity?: unknown }
  const code = typeof e.code === "string" ? e.code : undefined
  if (code !== undefined && e.severity === "ERROR") return false
  if (code !== undefined && (code.startsWith("08") || code.startsWith("57P") || ["ECONNRESET", "EPIPE", "ECONNREFUSED"].includes(code))) {
    return true
  }
  const message = typeof e.message === "string" ? e.message : ""
  return code === undefined && /Connection terminated|not queryable|Client has encountered a connection error|socket|ended/i.test(message)
}

/**
 * When `cause` means the database cannot be reached (refused, reset, timed out, terminated), the
 * message every such StoreError carries: `store unreachable: <code>` — never a host, port or
 * DSN. Core's incident loop recognises the prefix: it starts no write step and says why.
 */
const unreachable = (cause: unknown): string | undefined => {
  const e = (cause ?? {}) as { code?: unknown; message?: unknown }
  const code = typeof e.code === "string" ? e.code : undefined
  const message = typeof e.message === "string" ? e.message : ""
  if (code !== undefined && ["ENOTFOUND", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"].includes(code)) return `store unreachable: ${code}`
  if (/timeout exceeded when trying to connect|Connection terminated due to connection timeout/i.test(message)) return "store unreachable: connect timeout"
  if (!isConnectionError(cause)) return undefined
  return `store unreachable: ${code ?? "connection lost"}`
}

/** The DDL, for one schema (already validated as an identifier). */
export const ddl = (schema: string): ReadonlyArray<string> => [
  `CREATE SCHEMA IF NOT EXISTS ${schema}`,
  `CREATE TABLE IF NOT EXISTS ${schema}.windows (
    key text NOT NULL, token text NOT NULL, at double precision NOT NULL, weight integer NOT NULL,
    window_ms double precision NOT NULL, PRIMARY KEY (key, token))`,
  `CREATE INDEX IF NOT EXISTS windows_key_at ON ${schema}.windows (key, at)`,
  `CREATE TABLE IF NOT EXISTS ${schema}.kv (key text PRIMARY KEY, value json NOT NULL, version bigint NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ${schema}.leases (
    key text PRIMARY KEY, holder text NOT NULL, acquired_at double precision NOT NULL,
    expires_at double precision NOT NULL, data json NOT NULL)`,
  `ALTER TABLE ${schema}.leases ADD COLUMN IF NOT EXISTS parents text[] NOT NULL DEFAULT '{}'`,
  `CREATE INDEX IF NOT EXISTS leases_parents ON ${schema}.leases USING gin (parents)`,
  `ALTER TABLE ${schema}.leases ADD COLUMN IF NOT EXISTS epoch json`,
  `CREATE TABLE IF NOT EXISTS ${schema}.incidents (
    incident_id text PRIMARY KEY, runbook text NOT NULL, target_key text NOT NULL,
    opened_at double precision NOT NULL, last_type text NOT NULL, closed boolean NOT NULL, last_seq integer NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS incidents_open ON ${schema}.incidents (opened_at) WHERE NOT closed`,
  `CREATE TABLE IF NOT EXISTS ${schema}.journal (
    incident_id text NOT NULL, seq integer NOT NULL, at double precision NOT NULL, type text NOT NULL,
    step_path text, data json NOT NULL, PRIMARY KEY (incident_id, seq))`,
  `CREATE TABLE IF NOT EXISTS ${schema}.fences (scope text PRIMARY KEY, epoch bigint NOT NULL)`
]

/**
 * Opens the pool and creates the schema and tables if needed; the pool closes with the scope.
 * Fails with a StoreError (operation `connect`) when the URL or schema is invalid or the
 * database cannot be reached.
 */
export const make = Effect.fn("PgStore.make")(function*(config: PgStoreConfig) {
  const schema = config.schema ?? "byteport"
  const name = `postgres:${schema}`
  const fail = (operation: string, message: string, cause?: unknown) =>
    new GuardrailStore.StoreError({ store: name, operation, message, ...(cause === undefined ? {} : { cause }) })
  if (!IDENT.test(schema)) {
    return yield* Effect.fail(fail("connect", `invalid schema name ${JSON.stringify(schema)} (lower-case letters, digits and _, at most 63)`))
  }
  const dsn = yield* Dsn.parse(config.url).pipe(Effect.mapError((e) => fail("connect", e.message)))
  const password = Redacted.value(dsn.password)
  const secrets = [password, Redacted.value(config.url)]
  const statementTimeoutMillis = config.statementTimeoutMillis ?? 10_000
  const poolMax = Math.max(1, config.poolMax ?? 8)
  let backgroundErrors = 0
  const onBackgroundError = () => {
    backgroundErrors++
  }

  const pool = yield* scopedPool({
    host: dsn.host,
    port: dsn.port,
    user: dsn.user,
    password,
    database: dsn.database,
    max: poolMax,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: config.connectTimeoutMillis ?? 10_000,
    statement_timeout: statementTimeoutMillis,
    query_timeout: statementTimeoutMillis + 2_000,
    application_name: config.applicationName ?? dsn.params.application_name ?? "byteport-store"
  }, onBackgroundError)
  // The pool never queues: callers wait here (no connect timeout while queued behind others).
  const permits = yield* Semaphore.make(poolMax)

  const toStoreError = (operation: string, cause: unknown): StoreErrorT => {
    if (cause instanceof InvalidInput) return fail(operation, `invalid input: ${cause.message}`)
    if (cause instanceof GuardrailStore.StaleEpoch) return fail(operation, StoreRules.staleEpochMessage(cause), cause)
    const down = unreachable(cause)
    if (down !== undefined) return fail(operation, down, new Error(down))
    const raw = cause instanceof Error ? cause.message : String(cause)
    const code = (cause as { code?: unknown } | null)?.code
    const message = scrub(`${raw}${typeof code === "string" ? ` (${code})` : ""}`, secrets)
    // The driver's error object may carry connection parameters: keep only a scrubbed copy.
    return fail(operation, message, new Error(message))
  }

  /**
   * Window units whose acquire failed after its INSERT was sent (the connection died around the
   * COMMIT): the caller saw a failure and never acted, so the unit — if it landed — is refunded
   * on the next connection (also with a caller's token: the executor records the step as
   * denied, never retries it, and a later incident takes its own token).
   */
  const orphans: Array<{ readonly key: string; readonly token: string }> = []
  const dropOrphans = async (client: pg.PoolClient) => {
    const batch = orphans.splice(0)
    try {
      for (const o of batch) await client.query(`DELETE FROM ${schema}.windows WHERE key = $1 AND token = $2`, [o.key, o.token])
    } catch (e) {
      orphans.push(...batch)
      throw e
    }
  }

  interface Tx {
    readonly q: (text: string, params?: ReadonlyArray<unknown>) => Promise<pg.QueryResult>
    commitSent: boolean
  }

  /**
   * Runs `body` on one connection. With `transaction`, inside BEGIN … COMMIT (ROLLBACK on
   * failure). A connection error is retried once on a fresh connection when the operation is
   * idempotent or failed before its COMMIT was sent.
   */
  const run = <A>(
    operation: string,
    body: (tx: Tx) => Promise<A>,
    options: { readonly transaction: boolean; readonly validate?: () => void }
  ): Effect.Effect<A, StoreErrorT> => {
    const attempt = async (): Promise<A> => {
      const client = await pool.connect()
      let broken = false
      if (orphans.length > 0) await dropOrphans(client)
      const tx: Tx = {
        q: (text, params) => client.query(text, params === undefined ? undefined : [...params]),
        commitSent: false
      }
      try {
        if (!options.transaction) return await body(tx)
        await client.query("BEGIN")
        try {
          const out = await body(tx)
          tx.commitSent = true
          await client.query("COMMIT")
          return out
        } catch (e) {
          if (!tx.commitSent) await client.query("ROLLBACK").catch(() => undefined)
          throw e
        }
      } catch (e) {
        broken = isConnectionError(e)
        if (broken) (e as { commitSent?: boolean }).commitSent = tx.commitSent
        throw e
      } finally {
        client.release(broken ? true : undefined)
      }
    }
    const once = Effect.tryPromise({ try: attempt, catch: (cause) => cause })
    return Effect.suspend(() => {
      try {
        options.validate?.()
      } catch (cause) {
        return Effect.fail(toStoreError(operation, cause))
      }
      return permits.withPermits(1)(
        once.pipe(
          Effect.catch((cause) =>
            isConnectionError(cause) && (cause as { commitSent?: boolean }).commitSent !== true
              ? once
              : Effect.fail(cause)
          )
        )
      )
    }).pipe(Effect.mapError((cause) => toStoreError(operation, cause)))
  }

  const S = schema
  const databaseClock = (config.clock ?? "database") === "database"
  /** The window clock: the database's (epoch ms, whole) or the caller's `now`. */
  const clockNow = async (tx: Tx, callerNow: number): Promise<number> =>
    databaseClock ? num((await tx.q(`SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::float8 AS t`)).rows[0]!.t) : callerNow
  const lockWindow = `SELECT pg_advisory_xact_lock(hashtext('${S}.window'), hashtext($1))`
  const lockLease = `SELECT pg_advisory_xact_lock(hashtext('${S}.lease'), $1::int)`

  // Schema and tables, serialized across agents (concurrent CREATE … IF NOT EXISTS can collide).
  yield* run("connect", async (tx) => {
    await tx.q(`SELECT pg_advisory_xact_lock(hashtext('byteport.store.ddl'), hashtext($1))`, [S])
    for (const statement of ddl(S)) await tx.q(statement)
  }, { transaction: true })

  const num = (u: unknown): number => (typeof u === "number" ? u : Number(u))

  /**
   * Fences a transaction (first, before any other lock): raises the scope's highest epoch, or
   * throws StaleEpoch (the transaction rolls back) when it is already higher.
   */
  const fence = async (tx: Tx, epoch: GuardrailStore.Epoch | undefined): Promise<void> => {
    if (epoch === undefined) return
    const row = (await tx.q(
      `INSERT INTO ${S}.fences (scope, epoch) VALUES ($1, $2) ON CONFLICT (scope) DO UPDATE SET epoch = greatest(${S}.fences.epoch, excluded.epoch) RETURNING epoch`,
      [epoch.scope, epoch.value]
    )).rows[0]!
    const highest = num(row.epoch)
    if (highest > epoch.value) throw StoreRules.staleEpoch(epoch, highest)
  }

  const leaseOf = (row: Record<string, unknown>): LeaseInfo => {
    const parents = Array.isArray(row.parents) ? row.parents.map(String) : []
    return {
      key: String(row.key),
      holder: String(row.holder),
      acquiredAt: num(row.acquired_at),
      expiresAt: num(row.expires_at),
      data: row.data as JsonObject,
      ...(parents.length > 0 ? { parents } : {}),
      ...(row.epoch !== null && row.epoch !== undefined ? { epoch: row.epoch as GuardrailStore.Epoch } : {})
    }
  }
  const LEASE_COLUMNS = "key, holder, acquired_at, expires_at, data, parents, epoch"
  const redactor = StoreRules.redactorFor(config.redactor)

  const entryOf = (row: Record<string, unknown>): JournalEntry => ({
    incidentId: String(row.incident_id),
    seq: num(row.seq),
    at: num(row.at),
    type: row.type as JournalEntryType,
    ...(row.step_path === null || row.step_path === undefined ? {} : { stepPath: String(row.step_path) }),
    data: row.data as JsonObject
  })

  const indexOf = (row: Record<string, unknown>): IncidentIndexEntry => ({
    incidentId: String(row.incident_id),
    runbook: String(row.runbook),
    targetKey: String(row.target_key),
    openedAt: num(row.opened_at),
    lastType: row.last_type as JournalEntryType,
    closed: row.closed === true
  })

  const gcEvery = Math.max(0, config.gcEvery ?? 256)
  let acquires = 0

  const acquireWindow = (request: WindowRequest): Effect.Effect<WindowResult, StoreErrorT> => {
    let weight = 1
    let sent: { readonly key: string; readonly token: string } | undefined
    const acquire = run("acquireWindow", async (tx) => {
      const { key, max, windowMs } = request
      await fence(tx, request.epoch)
      await tx.q(lockWindow, [key])
      const now = await clockNow(tx, request.now)
      await tx.q(`DELETE FROM ${S}.windows WHERE key = $1 AND $2::float8 - at >= $3::float8`, [key, now, windowMs])
      const rows = (await tx.q(`SELECT at, weight, token FROM ${S}.windows WHERE key = $1 ORDER BY at`, [key])).rows
      const live = rows.map((r) => ({ t: num(r.at), w: num(r.weight), token: String(r.token) }))
      const held = StoreRules.heldWindow(live, request)
      if (held !== undefined) return held
      const decision = StoreRules.decideWindow(live, { max, now, windowMs, weight })
      if (!decision.fits) return { _tag: "Exhausted", count: decision.count, retryAfterMs: decision.retryAfterMs } as const
      const token = request.token ?? randomUUID()
      sent = { key, token }
      await tx.q(`INSERT INTO ${S}.windows (key, token, at, weight, window_ms) VALUES ($1, $2, $3, $4, $5)`, [
        key, token, now, weight, windowMs
      ])
      return { _tag: "Acquired", token, count: decision.count } as const
    }, { transaction: true, validate: () => (weight = StoreRules.validateWindowRequest(request)) })
    return Effect.tap(acquire.pipe(Effect.tapError(() => Effect.sync(() => {
      if (sent !== undefined) orphans.push(sent)
    }))), () =>
      gcEvery > 0 && ++acquires % gcEvery === 0 ? Effect.ignore(gc(request.now)) : Effect.void)
  }

  const peekWindow = (key: string, windowMs: number, callerNow: number, token?: string) =>
    run("peekWindow", async (tx): Promise<GuardrailStore.WindowPeek> => {
      const now = await clockNow(tx, callerNow)
      const r = (await tx.q(
        `SELECT coalesce(sum(weight), 0)::int AS count, min(at) AS oldest, coalesce(bool_or(token = $4), false) AS held
         FROM ${S}.windows WHERE key = $1 AND $2::float8 - at < $3::float8`,
        [key, now, windowMs, token ?? null]
      )).rows[0]!
      const count = num(r.count)
      const held = token === undefined ? {} : { held: r.held === true }
      // oldestAt in the caller's frame: its distance from now is what the caller computes with.
      return count === 0 ? { count: 0, ...held } : { count, oldestAt: num(r.oldest) - now + callerNow, ...held }
    }, {
      transaction: false,
      validate: () => StoreRules.validatePeek(key, windowMs, callerNow, token)
    })

  const releaseWindow = (key: string, token: string) =>
    run("releaseWindow", async (tx) => {
      await tx.q(`DELETE FROM ${S}.windows WHERE key = $1 AND token = $2`, [key, token])
    }, {
      transaction: false,
      validate: () => {
        requireKey(key)
        requireKey(token, "token")
      }
    })

  const get = (key: string) =>
    run("get", async (tx): Promise<Versioned | undefined> => {
      const row = (await tx.q(`SELECT value, version FROM ${S}.kv WHERE key = $1`, [key])).rows[0]
      return row === undefined ? undefined : { value: row.value as Json, version: num(row.version) }
    }, { transaction: false, validate: () => requireKey(key) })

  const compareAndSet = (key: string, expectedVersion: number, value: Json, options?: GuardrailStore.CompareAndSetOptions) =>
    Effect.flatMap(redactor, (r) => {
      let text = ""
      return run("compareAndSet", async (tx) => {
        await fence(tx, options?.epoch)
        const res = expectedVersion === 0
          ? await tx.q(`INSERT INTO ${S}.kv (key, value, version) VALUES ($1, $2::json, 1) ON CONFLICT (key) DO NOTHING`, [key, text])
          : await tx.q(`UPDATE ${S}.kv SET value = $2::json, version = version + 1 WHERE key = $1 AND version = $3`, [
            key, text, expectedVersion
          ])
        return res.rowCount === 1
      }, {
        // A lost connection after a CAS write cannot tell whether it landed: no automatic retry
        // past the statement (the caller re-reads and retries with the version it sees).
        transaction: true,
        validate: () => {
          StoreRules.validateCompareAndSet(key, expectedVersion)
          StoreRules.validateEpoch(options?.epoch)
          text = JSON.stringify(StoreRules.redactJson(r, StoreRules.copyJson(value, "value")))
        }
      })
    })

  /**
   * Leases: one transaction under the advisory locks of the key and of every parent (taken in
   * one global order, so two acquires never deadlock). Any two leases that exclude each other
   * share at least one of those locks, so the check below and the write are atomic.
   */
  const acquireLease = (request: LeaseRequest): Effect.Effect<LeaseResult, StoreErrorT> =>
    Effect.flatMap(redactor, (r) => {
      let checked: StoreRules.CheckedLeaseRequest = request
      return run("acquireLease", async (tx): Promise<LeaseResult> => {
        const { holder, key } = checked
        await fence(tx, checked.epoch)
        // A renewal without parents keeps the ones it has: lock those too.
        let parents: ReadonlyArray<string> = checked.parents ?? []
        if (checked.parents === undefined) {
          const own = (await tx.q(`SELECT holder, parents FROM ${S}.leases WHERE key = $1`, [key])).rows[0]
          parents = own !== undefined && own.holder === holder && Array.isArray(own.parents) ? own.parents.map(String) : []
        }
        const family = [key, ...parents]
        const locks = (await tx.q(`SELECT DISTINCT hashtext(k) AS h FROM unnest($1::text[]) AS k ORDER BY h`, [family])).rows
        for (const l of locks) await tx.q(lockLease, [l.h])
        const rows = (await tx.q(
          `SELECT ${LEASE_COLUMNS} FROM ${S}.leases WHERE key = ANY($1::text[]) OR parents @> ARRAY[$2]::text[]`,
          [family, key]
        )).rows.map(leaseOf)
        const decision = StoreRules.decideLease(checked, rows.find((l) => l.key === key), rows)
        if (decision._tag === "Held") return decision
        const lease = decision.lease
        const out = (await tx.q(
          `INSERT INTO ${S}.leases (key, holder, acquired_at, expires_at, data, parents, epoch) VALUES ($1, $2, $3, $4, $5::json, $6::text[], $7::json)
           ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at,
             expires_at = excluded.expires_at, data = excluded.data, parents = excluded.parents, epoch = excluded.epoch
           RETURNING ${LEASE_COLUMNS}`,
          [key, holder, lease.acquiredAt, lease.expiresAt, JSON.stringify(lease.data), [...(lease.parents ?? [])], lease.epoch === undefined ? null : JSON.stringify(lease.epoch)]
        )).rows[0]!
        return { _tag: "Acquired", lease: leaseOf(out) }
      }, {
        transaction: true,
        validate: () => {
          checked = StoreRules.validateLeaseRequest(request)
          if (checked.data !== undefined) checked = { ...checked, data: StoreRules.redactJsonObject(r, checked.data) }
        }
      })
    })

  const releaseLease = (key: string, holder: string) =>
    run("releaseLease", async (tx) => {
      await tx.q(`DELETE FROM ${S}.leases WHERE key = $1 AND holder = $2`, [key, holder])
    }, {
      transaction: false,
      validate: () => {
        requireKey(key)
        requireKey(holder, "holder")
      }
    })

  const getLease = (key: string) =>
    run("getLease", async (tx) => {
      const row = (await tx.q(`SELECT ${LEASE_COLUMNS} FROM ${S}.leases WHERE key = $1`, [key])).rows[0]
      return row === undefined ? undefined : leaseOf(row)
    }, { transaction: false, validate: () => requireKey(key) })

  const appendJournal = (entry: NewJournalEntry) =>
    Effect.flatMap(redactor, (r) => {
      let data = ""
      let opened: { readonly runbook: string; readonly targetKey: string } | undefined
      return run("appendJournal", async (tx): Promise<JournalEntry> => {
        const { at, incidentId, type } = entry
        let seq: number
        if (type === "opened") {
          const res = await tx.q(
            `INSERT INTO ${S}.incidents (incident_id, runbook, target_key, opened_at, last_type, closed, last_seq)
             VALUES ($1, $2, $3, $4, 'opened', false, 1) ON CONFLICT (incident_id) DO NOTHING`,
            [incidentId, opened!.runbook, opened!.targetKey, at]
          )
          if (res.rowCount !== 1) throw StoreRules.alreadyOpened(incidentId)
          seq = 1
        } else {
          // The row lock taken here serializes appends to one incident until COMMIT.
          const res = await tx.q(
            `UPDATE ${S}.incidents SET last_seq = last_seq + 1, last_type = $2, closed = closed OR $3
             WHERE incident_id = $1 RETURNING last_seq`,
            [incidentId, type, type === "closed"]
          )
          const row = res.rows[0]
          if (row === undefined) throw StoreRules.notOpened(entry)
          seq = num(row.last_seq)
        }
        const out = (await tx.q(
          `INSERT INTO ${S}.journal (incident_id, seq, at, type, step_path, data) VALUES ($1, $2, $3, $4, $5, $6::json)
           RETURNING incident_id, seq, at, type, step_path, data`,
          [incidentId, seq, at, type, entry.stepPath ?? null, data]
        )).rows[0]!
        return entryOf(out)
      }, {
        transaction: true,
        validate: () => {
          const redacted = StoreRules.redactJsonObject(r, StoreRules.validateJournalEntry(entry))
          data = JSON.stringify(redacted)
          if (entry.type === "opened") opened = { runbook: String(redacted.runbook), targetKey: String(redacted.targetKey) }
        }
      })
    })

  const readJournal = (incidentId: string) =>
    run("readJournal", async (tx) =>
      (await tx.q(
        `SELECT incident_id, seq, at, type, step_path, data FROM ${S}.journal WHERE incident_id = $1 ORDER BY seq`,
        [incidentId]
      )).rows.map(entryOf), { transaction: false, validate: () => requireKey(incidentId, "incidentId") })

  const listIncidents = (options?: { readonly all?: boolean }) =>
    run("listIncidents", async (tx) =>
      (await tx.q(
        `SELECT incident_id, runbook, target_key, opened_at, last_type, closed FROM ${S}.incidents WHERE $1 OR NOT closed`,
        [options?.all === true]
      )).rows.map(indexOf).sort(StoreRules.byOpening), { transaction: false })

  const gc = (callerNow: number): Effect.Effect<number, StoreErrorT> =>
    run("gc", async (tx) =>
      (await tx.q(
        `DELETE FROM ${S}.windows WHERE (key, token) IN (
           SELECT key, token FROM ${S}.windows WHERE at + window_ms <= $1::float8 LIMIT 10000 FOR UPDATE SKIP LOCKED)`,
        [await clockNow(tx, callerNow)]
      )).rowCount ?? 0, {
      transaction: false,
      validate: () => requireTime(callerNow)
    })

  const store: PgStoreShape = {
    name,
    schema,
    acquireWindow,
    peekWindow,
    releaseWindow,
    get,
    compareAndSet,
    acquireLease,
    releaseLease,
    getLease,
    appendJournal,
    readJournal,
    listIncidents,
    gc,
    backgroundErrors: Effect.sync(() => backgroundErrors)
  }
  return store
})

/** A layer from explicit settings (the pool closes with the layer's scope). */
export const layer = (config: PgStoreConfig): Layer.Layer<GuardrailStore.GuardrailStore, GuardrailStore.StoreError> =>
  Layer.effect(GuardrailStore.GuardrailStore, make(config))

/**
 * A layer from configuration: `BYTEPORT_STORE_PG_URL` (redacted), `BYTEPORT_STORE_SCHEMA`
 * (`byteport`), `BYTEPORT_STORE_PG_POOL_MAX` (8), `BYTEPORT_STORE_PG_CLOCK` (`database`, or `caller`).
 */
export const layerConfig = Layer.effect(
  GuardrailStore.GuardrailStore,
  Effect.gen(function*() {
    const config = yield* Config.all({
      url: Config.Redacted("BYTEPORT_STORE_PG_URL"),
      schema: Config.String("BYTEPORT_STORE_SCHEMA").pipe(Config.withDefault("byteport")),
      poolMax: Settings.positiveInt("BYTEPORT_STORE_PG_POOL_MAX").pipe(Config.withDefault(8)),
      clock: Config.Literals(["database", "caller"], "BYTEPORT_STORE_PG_CLOCK").pipe(Config.withDefault("database" as const))
    })
    return yield* make(config)
  })
)
