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
 * | `leases` | (key, holder, acquired_at, expires_at, data json) | one transaction under `pg_advisory_xact_lock(<schema>.lease, hashtext(key))` |
 * | `incidents` | the index: runbook, target, opened_at, last_type, closed, last_seq | `UPDATE … SET last_seq = last_seq + 1 RETURNING` holds the row lock until the entry is written |
 * | `journal` | (incident_id, seq, at, type, step_path, data json), append-only | inserted in the same transaction as the index update |
 *
 * Values are stored as `json` (not `jsonb`), so a value reads back with its members in the
 * order written. Times are `double precision` epoch ms, exact for every finite JS number.
 *
 * Every pooled client and the pool have an `error` listener: a backend terminated by
 * `pg_terminate_backend` or a server restart never crashes the process. A read that met a dead
 * connection is retried once on a fresh one; a write is retried only when the failure came
 * before its COMMIT was sent. Every failure is a `StoreError` whose message passes through
 * `scrub`: no password and no DSN ever appears in it.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import { GuardrailStore, Settings } from "@byteport/core"
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
type LeaseResult = GuardrailStore.LeaseResult
type NewJournalEntry = GuardrailStore.NewJournalEntry
type Versioned = GuardrailStore.Versioned
type WindowRequest = GuardrailStore.WindowRequest
type WindowResult = GuardrailStore.WindowResult
type Json = Versioned["value"]
type JsonObject = LeaseInfo["data"]

/** An input that is not acceptable (becomes a StoreError "invalid input: …"). */
class InvalidInput extends Error {}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/

const isFiniteNumber = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n)

const requireKey = (key: unknown, what = "key"): void => {
  if (typeof key !== "string" || key.length === 0) throw new InvalidInput(`${what} must be a non-empty string`)
}

/**
 * Checks that `value` is JSON (no undefined in arrays, no non-finite numbers, no functions,
 * symbols, bigints, class instances or cycles) and returns its text. Object members that are
 * `undefined` are dropped, as `JSON.stringify` does.
 */
export const jsonText = (value: unknown, path = "$"): string => {
  const seen = new Set<unknown>()
  const check = (v: unknown, p: string): void => {
    if (v === null || typeof v === "string" || typeof v === "boolean") return
    if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new InvalidInput(`${p} is not a finite number (${String(v)})`)
      return
    }
    if (typeof v !== "object") throw new InvalidInput(`${p} is not JSON (a ${typeof v})`)
    if (seen.has(v)) throw new InvalidInput(`${p} is a cycle`)
    seen.add(v)
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        if (item === undefined) throw new InvalidInput(`${p}[${i}] is undefined`)
        check(item, `${p}[${i}]`)
      })
    } else {
      const proto = Object.getPrototypeOf(v)
      if (proto !== Object.prototype && proto !== null) throw new InvalidInput(`${p} is not a plain object`)
      for (const k of Object.keys(v)) {
        const member = (v as Record<string, unknown>)[k]
        if (member !== undefined) check(member, `${p}.${k}`)
      }
    }
    seen.delete(v)
  }
  check(value, path)
  // -0 is stored as 0, like the other stores.
  return JSON.stringify(value, (_k, v: unknown) => (Object.is(v, -0) ? 0 : v))
}

const jsonObjectText = (value: unknown, path: string): string => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new InvalidInput(`${path} is not a JSON object`)
  return jsonText(value, path)
}

/** Checks a window request; returns the weight. */
const validateWindowRequest = (request: WindowRequest): number => {
  requireKey(request.key)
  if (!Number.isInteger(request.max) || request.max < 0) throw new InvalidInput(`max must be an integer >= 0 (got ${request.max})`)
  if (!isFiniteNumber(request.windowMs) || request.windowMs <= 0) throw new InvalidInput(`windowMs must be > 0 (got ${request.windowMs})`)
  if (!isFiniteNumber(request.now)) throw new InvalidInput(`now must be a finite epoch ms (got ${request.now})`)
  const weight = request.weight ?? 1
  if (!Number.isInteger(weight) || weight < 1) throw new InvalidInput(`weight must be an integer >= 1 (got ${weight})`)
  return weight
}

/** The window decision over the live units (oldest first), exactly as the embedded stores decide. */
export const decideWindow = (
  live: ReadonlyArray<{ readonly at: number; readonly weight: number }>,
  request: { readonly max: number; readonly windowMs: number; readonly now: number; readonly weight: number }
): { readonly fits: true; readonly count: number } | { readonly fits: false; readonly count: number; readonly retryAfterMs: number } => {
  const { max, now, weight, windowMs } = request
  const count = live.reduce((n, e) => n + e.weight, 0)
  if (count + weight <= max) return { fits: true, count: count + weight }
  if (weight > max) return { fits: false, count, retryAfterMs: windowMs }
  let remaining = count
  for (const e of live) {
    remaining -= e.weight
    if (remaining + weight <= max) return { fits: false, count, retryAfterMs: Math.max(1, e.at + windowMs - now) }
  }
  return { fits: false, count, retryAfterMs: windowMs }
}

const ENTRY_TYPES: ReadonlySet<string> = new Set<JournalEntryType>([
  "opened", "diagnosed", "classified", "planned", "awaiting_approval", "approved", "intent",
  "acquired", "applied", "failed", "denied", "step", "verdict", "escalated", "closed"
])

const byOpening = (a: IncidentIndexEntry, b: IncidentIndexEntry): number =>
  a.openedAt - b.openedAt || (a.incidentId < b.incidentId ? -1 : a.incidentId > b.incidentId ? 1 : 0)

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
  `CREATE TABLE IF NOT EXISTS ${schema}.incidents (
    incident_id text PRIMARY KEY, runbook text NOT NULL, target_key text NOT NULL,
    opened_at double precision NOT NULL, last_type text NOT NULL, closed boolean NOT NULL, last_seq integer NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS incidents_open ON ${schema}.incidents (opened_at) WHERE NOT closed`,
  `CREATE TABLE IF NOT EXISTS ${schema}.journal (
    incident_id text NOT NULL, seq integer NOT NULL, at double precision NOT NULL, type text NOT NULL,
    step_path text, data json NOT NULL, PRIMARY KEY (incident_id, seq))`
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
    const raw = cause instanceof Error ? cause.message : String(cause)
    const code = (cause as { code?: unknown } | null)?.code
    const message = scrub(`${raw}${typeof code === "string" ? ` (${code})` : ""}`, secrets)
    // The driver's error object may carry connection parameters: keep only a scrubbed copy.
    return fail(operation, message, new Error(message))
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
  const lockWindow = `SELECT pg_advisory_xact_lock(hashtext('${S}.window'), hashtext($1))`
  const lockLease = `SELECT pg_advisory_xact_lock(hashtext('${S}.lease'), hashtext($1))`

  // Schema and tables, serialized across agents (concurrent CREATE … IF NOT EXISTS can collide).
  yield* run("connect", async (tx) => {
    await tx.q(`SELECT pg_advisory_xact_lock(hashtext('byteport.store.ddl'), hashtext($1))`, [S])
    for (const statement of ddl(S)) await tx.q(statement)
  }, { transaction: true })

  const num = (u: unknown): number => (typeof u === "number" ? u : Number(u))

  const leaseOf = (row: Record<string, unknown>): LeaseInfo => ({
    key: String(row.key),
    holder: String(row.holder),
    acquiredAt: num(row.acquired_at),
    expiresAt: num(row.expires_at),
    data: row.data as JsonObject
  })

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
    const acquire = run("acquireWindow", async (tx) => {
      const { key, max, now, windowMs } = request
      await tx.q(lockWindow, [key])
      await tx.q(`DELETE FROM ${S}.windows WHERE key = $1 AND $2::float8 - at >= $3::float8`, [key, now, windowMs])
      const rows = (await tx.q(`SELECT at, weight FROM ${S}.windows WHERE key = $1 ORDER BY at`, [key])).rows
      const live = rows.map((r) => ({ at: num(r.at), weight: num(r.weight) }))
      const decision = decideWindow(live, { max, now, windowMs, weight })
      if (!decision.fits) return { _tag: "Exhausted", count: decision.count, retryAfterMs: decision.retryAfterMs } as const
      const token = randomUUID()
      await tx.q(`INSERT INTO ${S}.windows (key, token, at, weight, window_ms) VALUES ($1, $2, $3, $4, $5)`, [
        key, token, now, weight, windowMs
      ])
      return { _tag: "Acquired", token, count: decision.count } as const
    }, { transaction: true, validate: () => (weight = validateWindowRequest(request)) })
    return Effect.tap(acquire, () =>
      gcEvery > 0 && ++acquires % gcEvery === 0 ? Effect.ignore(gc(request.now)) : Effect.void)
  }

  const peekWindow = (key: string, windowMs: number, now: number) =>
    run("peekWindow", async (tx) => {
      const r = (await tx.q(
        `SELECT coalesce(sum(weight), 0)::int AS count, min(at) AS oldest FROM ${S}.windows WHERE key = $1 AND $2::float8 - at < $3::float8`,
        [key, now, windowMs]
      )).rows[0]!
      const count = num(r.count)
      return count === 0 ? { count: 0 } : { count, oldestAt: num(r.oldest) }
    }, {
      transaction: false,
      validate: () => {
        requireKey(key)
        if (!isFiniteNumber(windowMs) || windowMs <= 0) throw new InvalidInput(`windowMs must be > 0 (got ${windowMs})`)
        if (!isFiniteNumber(now)) throw new InvalidInput(`now must be a finite epoch ms (got ${now})`)
      }
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

  const compareAndSet = (key: string, expectedVersion: number, value: Json) => {
    let text = ""
    return run("compareAndSet", async (tx) => {
      const r = expectedVersion === 0
        ? await tx.q(`INSERT INTO ${S}.kv (key, value, version) VALUES ($1, $2::json, 1) ON CONFLICT (key) DO NOTHING`, [key, text])
        : await tx.q(`UPDATE ${S}.kv SET value = $2::json, version = version + 1 WHERE key = $1 AND version = $3`, [
          key, text, expectedVersion
        ])
      return r.rowCount === 1
    }, {
      // A lost connection after a CAS write cannot tell whether it landed: no automatic retry
      // past the statement (the caller re-reads and retries with the version it sees).
      transaction: true,
      validate: () => {
        requireKey(key)
        if (!Number.isInteger(expectedVersion) || expectedVersion < 0) {
          throw new InvalidInput(`expectedVersion must be an integer >= 0 (got ${expectedVersion})`)
        }
        text = jsonText(value, "value")
      }
    })
  }

  const acquireLease: GuardrailStoreShape["acquireLease"] = (request) => {
    let data: string | undefined
    return run("acquireLease", async (tx): Promise<LeaseResult> => {
      const { holder, key, now, ttlMs } = request
      await tx.q(lockLease, [key])
      const row = (await tx.q(`SELECT key, holder, acquired_at, expires_at, data FROM ${S}.leases WHERE key = $1`, [key])).rows[0]
      const current = row === undefined ? undefined : leaseOf(row)
      const expired = current === undefined || current.expiresAt <= now
      if (!expired && current.holder !== holder) return { _tag: "Held", lease: current }
      const renew = !expired && current.holder === holder
      const out = (await tx.q(
        `INSERT INTO ${S}.leases (key, holder, acquired_at, expires_at, data) VALUES ($1, $2, $3, $4, coalesce($5::json, '{}'::json))
         ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at,
           expires_at = excluded.expires_at, data = excluded.data
         RETURNING key, holder, acquired_at, expires_at, data`,
        [key, holder, renew ? current.acquiredAt : now, now + ttlMs, data ?? (renew ? JSON.stringify(current.data) : null)]
      )).rows[0]!
      return { _tag: "Acquired", lease: leaseOf(out) }
    }, {
      transaction: true,
      validate: () => {
        requireKey(request.key)
        requireKey(request.holder, "holder")
        if (!isFiniteNumber(request.ttlMs) || request.ttlMs <= 0) throw new InvalidInput(`ttlMs must be > 0 (got ${request.ttlMs})`)
        if (!isFiniteNumber(request.now)) throw new InvalidInput(`now must be a finite epoch ms (got ${request.now})`)
        data = request.data === undefined ? undefined : jsonObjectText(request.data, "data")
      }
    })
  }

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
      const row = (await tx.q(`SELECT key, holder, acquired_at, expires_at, data FROM ${S}.leases WHERE key = $1`, [key])).rows[0]
      return row === undefined ? undefined : leaseOf(row)
    }, { transaction: false, validate: () => requireKey(key) })

  const appendJournal = (entry: NewJournalEntry) => {
    let data = ""
    let opened: { readonly runbook: string; readonly targetKey: string } | undefined
    return run("appendJournal", async (tx): Promise<JournalEntry> => {
      const { at, incidentId, type } = entry
      let seq: number
      if (type === "opened") {
        const r = await tx.q(
          `INSERT INTO ${S}.incidents (incident_id, runbook, target_key, opened_at, last_type, closed, last_seq)
           VALUES ($1, $2, $3, $4, 'opened', false, 1) ON CONFLICT (incident_id) DO NOTHING`,
          [incidentId, opened!.runbook, opened!.targetKey, at]
        )
        if (r.rowCount !== 1) throw new InvalidInput(`incident ${incidentId} is already opened`)
        seq = 1
      } else {
        // The row lock taken here serializes appends to one incident until COMMIT.
        const r = await tx.q(
          `UPDATE ${S}.incidents SET last_seq = last_seq + 1, last_type = $2, closed = closed OR $3
           WHERE incident_id = $1 RETURNING last_seq`,
          [incidentId, type, type === "closed"]
        )
        const row = r.rows[0]
        if (row === undefined) throw new InvalidInput(`the first journal entry of incident ${incidentId} must be "opened" (got "${type}")`)
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
        requireKey(entry.incidentId, "incidentId")
        if (!ENTRY_TYPES.has(entry.type)) throw new InvalidInput(`unknown journal entry type ${JSON.stringify(entry.type)}`)
        if (!isFiniteNumber(entry.at)) throw new InvalidInput(`at must be a finite epoch ms (got ${entry.at})`)
        if (entry.stepPath !== undefined && typeof entry.stepPath !== "string") throw new InvalidInput("stepPath must be a string")
        data = jsonObjectText(entry.data, "data")
        if (entry.type === "opened") {
          const d = entry.data
          if (typeof d.runbook !== "string" || typeof d.targetKey !== "string") {
            throw new InvalidInput(`the "opened" entry of incident ${entry.incidentId} needs string data.runbook and data.targetKey`)
          }
          opened = { runbook: d.runbook, targetKey: d.targetKey }
        }
      }
    })
  }

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
      )).rows.map(indexOf).sort(byOpening), { transaction: false })

  const gc = (now: number): Effect.Effect<number, StoreErrorT> =>
    run("gc", async (tx) =>
      (await tx.q(
        `DELETE FROM ${S}.windows WHERE (key, token) IN (
           SELECT key, token FROM ${S}.windows WHERE at + window_ms <= $1::float8 LIMIT 10000 FOR UPDATE SKIP LOCKED)`,
        [now]
      )).rowCount ?? 0, {
      transaction: false,
      validate: () => {
        if (!isFiniteNumber(now)) throw new InvalidInput(`now must be a finite epoch ms (got ${now})`)
      }
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
 * (`byteport`), `BYTEPORT_STORE_PG_POOL_MAX` (8).
 */
export const layerConfig = Layer.effect(
  GuardrailStore.GuardrailStore,
  Effect.gen(function*() {
    const config = yield* Config.all({
      url: Config.Redacted("BYTEPORT_STORE_PG_URL"),
      schema: Config.String("BYTEPORT_STORE_SCHEMA").pipe(Config.withDefault("byteport")),
      poolMax: Settings.positiveInt("BYTEPORT_STORE_PG_POOL_MAX").pipe(Config.withDefault(8))
    })
    return yield* make(config)
  })
)
