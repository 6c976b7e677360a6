/**
 * Conditional termination and cancellation of PostgreSQL backends: the primitive the remediation
 * actions use.
 *
 * A session is signalled only if, at the moment of the signal, it is still the session it was
 * chosen as: the same `pid` **and** `backend_start` (pids are reused), the same `state`, and,
 * when given, the same `xact_start` (the same transaction) and `query_start` (the same
 * statement). The superuser check, the protected application names and users, and those
 * conditions are all evaluated in the one statement that sends the signal:
 *
 * ```sql
 * SELECT pg_terminate_backend(a.pid, $timeout) FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid
 *  WHERE a.pid = $1 AND a.backend_start = $2 AND a.state = $3 AND NOT r.rolsuper AND <not protected> ...
 * ```
 *
 * A session that committed between the read and the kill no longer matches (its state is `idle`,
 * or its `xact_start` changed) and survives. The statement reads a fresh activity snapshot, so
 * the remaining window is the microseconds between that snapshot and the signal.
 *
 * **Row-lock safety** (`noRowLocks`, off by default; `db.connections.saturation` turns it on):
 * "never a session whose open transaction holds row locks", checked in the same statement —
 * the session has no transaction id (`backend_xid IS NULL`: writes and `SELECT … FOR
 * UPDATE/SHARE` take one, a plain `SELECT` does not, as on PostgreSQL 15) and it appears in no
 * backend's `pg_blocking_pids()`. A session failing either is refused with `holds_row_locks`.
 *
 * Protected sessions are matched by application_name (case-insensitive prefix) and user, never
 * by client address. The caller's own session is never signalled.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type { DbError } from "../DbError"
import { NullableString } from "../internal/schemas"
import { Postgres } from "../Postgres"
import { US } from "../probes/PgActivity"

/** Application names never signalled by default (case-insensitive prefixes): the seed's allowlist. */
export const DEFAULT_PROTECTED_APPLICATIONS: ReadonlyArray<string> = ["pgbouncer", "admin-proxy", "pgadmin"]
/** Users never signalled by default. */
export const DEFAULT_PROTECTED_USERS: ReadonlyArray<string> = ["pgbouncer"]

/**
 * What the session must still be for the signal to be sent. Timestamps are exact microseconds
 * since the epoch, as text (`PgActivity.PgSession.backend_start_us`): a JS Date keeps only
 * milliseconds and would never equal the server's value.
 */
export interface Target {
  readonly pid: number
  readonly backendStartUs: string
  /** The `state` it was chosen in, e.g. `idle in transaction` or `active`. */
  readonly state: string
  /** The transaction it was chosen in (recommended for idle-in-transaction kills). */
  readonly xactStartUs?: string | null
  /** The statement it was chosen for (recommended for long-running query cancels). */
  readonly queryStartUs?: string | null
}

/** Guard options. */
export interface Options {
  /** Case-insensitive application_name prefixes never signalled (default {@link DEFAULT_PROTECTED_APPLICATIONS}). */
  readonly protectedApplications?: ReadonlyArray<string>
  /** Users never signalled (default {@link DEFAULT_PROTECTED_USERS}). */
  readonly protectedUsers?: ReadonlyArray<string>
  /** For terminate: how long the server waits for the backend to exit (ms, default 5 000; 0 = do not wait). */
  readonly waitMillis?: number
  /**
   * Refuse a session whose open transaction may hold row locks: one with a transaction id
   * (`backend_xid`) or one another backend waits for (`pg_blocking_pids`). Checked in the
   * statement that signals (default false).
   */
  readonly noRowLocks?: boolean
}

/** Why a signal was not sent. */
export type Refusal = "gone" | "changed" | "superuser" | "protected_application" | "protected_user" | "own_session" | "not_client_backend" | "holds_row_locks" | "signal_failed"

/** The result of a conditional signal. */
export type Result =
  | { readonly _tag: "Signalled"; readonly pid: number; readonly signal: "terminate" | "cancel" }
  | { readonly _tag: "Refused"; readonly pid: number; readonly reason: Refusal }

const Signalled = Schema.Struct({ pid: Schema.Number, ok: Schema.NullOr(Schema.Boolean) })

const Explain = Schema.Struct({
  pid: Schema.Number,
  backend_start_ok: Schema.Boolean,
  state: NullableString,
  xact_ok: Schema.Boolean,
  query_ok: Schema.Boolean,
  rolsuper: Schema.NullOr(Schema.Boolean),
  application_name: Schema.String,
  usename: NullableString,
  own: Schema.Boolean,
  backend_type: NullableString,
  has_xid: Schema.Boolean,
  blocks_others: Schema.Boolean
})

const CONDITIONS = `
   a.pid = $1 AND ${US("a.backend_start")} = $2::text AND a.state = $3
   AND ($4::text IS NULL OR ${US("a.xact_start")} = $4::text)
   AND ($5::text IS NULL OR ${US("a.query_start")} = $5::text)
   AND a.backend_type = 'client backend'
   AND a.pid <> pg_backend_pid()
   AND r.rolsuper IS FALSE
   AND NOT EXISTS (SELECT 1 FROM unnest($6::text[]) p(prefix)
                    WHERE p.prefix <> '' AND lower(coalesce(a.application_name, '')) LIKE lower(replace(replace(replace(p.prefix, '\\', '\\\\'), '%', '\\%'), '_', '\\_')) || '%')
   AND NOT (coalesce(a.usename, '') = ANY($7::text[]))
   AND ($8::boolean IS NOT TRUE OR (
         a.backend_xid IS NULL
         AND NOT EXISTS (SELECT 1 FROM pg_stat_activity b WHERE b.pid <> a.pid AND a.pid = ANY(pg_blocking_pids(b.pid)))))`

const params = (target: Target, options: Options) => [
  target.pid,
  target.backendStartUs,
  target.state,
  target.xactStartUs ?? null,
  target.queryStartUs ?? null,
  [...(options.protectedApplications ?? DEFAULT_PROTECTED_APPLICATIONS)],
  [...(options.protectedUsers ?? DEFAULT_PROTECTED_USERS)],
  options.noRowLocks === true
]

// After a refusal: why did the session not match? (Informational; the decision was already made.)
const explain = (target: Target, options: Options): Effect.Effect<Refusal, DbError, Postgres> =>
  Postgres.use((db) =>
    db.queryAs(
      Explain,
      `SELECT a.pid, ${US("a.backend_start")} = $2::text AS backend_start_ok, a.state,
              ($3::text IS NULL OR ${US("a.xact_start")} IS NOT DISTINCT FROM $3::text) AS xact_ok,
              ($4::text IS NULL OR ${US("a.query_start")} IS NOT DISTINCT FROM $4::text) AS query_ok,
              r.rolsuper, coalesce(a.application_name, '') AS application_name, a.usename,
              a.pid = pg_backend_pid() AS own, a.backend_type,
              a.backend_xid IS NOT NULL AS has_xid,
              EXISTS (SELECT 1 FROM pg_stat_activity b WHERE b.pid <> a.pid AND a.pid = ANY(pg_blocking_pids(b.pid))) AS blocks_others
         FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
        WHERE a.pid = $1`,
      [target.pid, target.backendStartUs, target.xactStartUs ?? null, target.queryStartUs ?? null]
    )
  ).pipe(Effect.map((rows): Refusal => {
    const row = rows[0]
    if (row === undefined || !row.backend_start_ok) return "gone"
    if (row.own) return "own_session"
    if (row.backend_type !== "client backend") return "not_client_backend"
    if (row.rolsuper !== false) return "superuser"
    const app = row.application_name.toLowerCase()
    if ((options.protectedApplications ?? DEFAULT_PROTECTED_APPLICATIONS).some((p) => p !== "" && app.startsWith(p.toLowerCase()))) {
      return "protected_application"
    }
    if ((options.protectedUsers ?? DEFAULT_PROTECTED_USERS).includes(row.usename ?? "")) return "protected_user"
    if (row.state !== target.state || !row.xact_ok || !row.query_ok) return "changed"
    if (options.noRowLocks === true && (row.has_xid || row.blocks_others)) return "holds_row_locks"
    return "signal_failed"
  }))

const signal = (kind: "terminate" | "cancel") => (target: Target, options: Options = {}): Effect.Effect<Result, DbError, Postgres> =>
  Effect.gen(function*() {
    const db = yield* Postgres
    const wait = Math.max(0, Math.floor(options.waitMillis ?? 5_000))
    const call = kind === "terminate" ? `pg_terminate_backend(a.pid, ${wait})` : "pg_cancel_backend(a.pid)"
    const rows = yield* db.queryAs(
      Signalled,
      `SELECT a.pid, ${call} AS ok FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid WHERE ${CONDITIONS}`,
      params(target, options)
    )
    if (rows.some((r) => r.ok === true)) return { _tag: "Signalled", pid: target.pid, signal: kind } as const
    const reason = yield* explain(target, options)
    return { _tag: "Refused", pid: target.pid, reason } as const
  })

/**
 * `pg_terminate_backend` on the target if, in the same statement, it still matches (see module
 * docs). Waits up to `waitMillis` for the backend to exit.
 */
export const terminate: (target: Target, options?: Options) => Effect.Effect<Result, DbError, Postgres> = signal("terminate")

/** `pg_cancel_backend` on the target if, in the same statement, it still matches (see module docs). */
export const cancel: (target: Target, options?: Options) => Effect.Effect<Result, DbError, Postgres> = signal("cancel")

/** The {@link Target} of a probed session: its pid, backend_start, state, xact_start and query_start. */
export const targetOf = (session: {
  readonly pid: number
  readonly backend_start_us: string | null
  readonly state: string | null
  readonly xact_start_us: string | null
  readonly query_start_us: string | null
}): Target | undefined =>
  session.backend_start_us === null || session.state === null
    ? undefined
    : {
      pid: session.pid,
      backendStartUs: session.backend_start_us,
      state: session.state,
      xactStartUs: session.xact_start_us,
      queryStartUs: session.query_start_us
    }
