/**
 * The diagnoser of `db.connections.saturation` (PostgreSQL): the seed's reading, every client
 * session, the top wait events (the pre-termination audit) and the sessions whose open
 * transaction may hold row locks (a `backend_xid`, or in some backend's `pg_blocking_pids()`),
 * each as a Fact (a probe that fails is Unknown, never a guess).
 *
 * @since 0.1.0
 */
import { Diagnoser } from "@byteport/core"
import { type Duration, Effect, Schema } from "effect"
import type { DbError } from "../DbError"
import { Postgres } from "../Postgres"
import * as PgActivity from "../probes/PgActivity"
import * as Utilization from "../Utilization"

/** The facts. */
export interface SaturationFacts {
  readonly utilization: Utilization.PostgresConnections
  readonly sessions: ReadonlyArray<PgActivity.PgSession>
  readonly waitEvents: ReadonlyArray<PgActivity.WaitEventCount>
  /** pids of client sessions that may hold row locks (`backend_xid IS NOT NULL`, or blocking another backend). */
  readonly rowLockHolders: ReadonlyArray<number>
}

/** Diagnoser options. */
export interface Options {
  /** Which sessions the runbook may see (default every client session). */
  readonly sessions?: (s: PgActivity.PgSession) => boolean
  /** BytePort's own application_name prefix (default `byteport`). */
  readonly ownApplication?: string
  /** Per-probe timeout (default 10 s). */
  readonly timeout?: Duration.Input
}

const Pid = Schema.Struct({ pid: Schema.Number })

/** pids of client sessions that may hold row locks: a transaction id, or in some backend's `pg_blocking_pids()`. */
export const rowLockHolders: Effect.Effect<ReadonlyArray<number>, DbError, Postgres> = Postgres.use((db) =>
  db.queryAs(
    Pid,
    `SELECT a.pid FROM pg_stat_activity a
      WHERE a.backend_type = 'client backend'
        AND (a.backend_xid IS NOT NULL
             OR EXISTS (SELECT 1 FROM pg_stat_activity b WHERE b.pid <> a.pid AND a.pid = ANY(pg_blocking_pids(b.pid))))
      ORDER BY a.pid`
  ).pipe(Effect.map((rows) => rows.map((r) => r.pid)))
)

/** The diagnoser. */
export const make = (options: Options = {}): Diagnoser.Diagnoser<SaturationFacts, Postgres> =>
  Diagnoser.make<SaturationFacts, Postgres>({
    utilization: Diagnoser.probe("utilization", () => Utilization.postgresConnections(options.ownApplication)),
    sessions: Diagnoser.probe("sessions", () =>
      Effect.map(PgActivity.sessions, (rows) => (options.sessions === undefined ? rows : rows.filter(options.sessions)))),
    waitEvents: Diagnoser.probe("waitEvents", () => PgActivity.topWaitEvents(5)),
    rowLockHolders: Diagnoser.probe("rowLockHolders", () => rowLockHolders)
  }, { timeout: options.timeout ?? "10 seconds" })
