/**
 * Recorded MySQL / MariaDB incidents, decoded as the `mariadb` (or `mysql`) command-line client
 * exports them with `--batch` (tab-separated, a header row, `NULL` literals; `Table` parses
 * `.tsv` files so), into the rows the probes read and the facts of `db.pool.six-class`,
 * `db.connections.saturation` and `db.pool.multi-engine`, so a recording replays through the real
 * classifiers and remediators. MariaDB's client has no JSON output (`--json` belongs to MySQL
 * Shell, not the `mysql` / `mariadb` client): JSON arrays of rows (`Table`'s JSON) decode too.
 *
 * | export | what it becomes |
 * |---|---|
 * | `SELECT * FROM information_schema.PROCESSLIST` (MariaDB: `TIME_MS`, `QUERY_ID`; MySQL: `TIME` only) | the threads as `MySqlActivity.MySqlSession` (what `MySqlActivity.sessions` reads): `Daemon` / `Binlog Dump` threads and the exporting thread itself (its statement reads PROCESSLIST) left out, as the probe leaves out its own connection |
 * | `SELECT * FROM information_schema.INNODB_TRX` | each thread's open transaction (`trx_id`, `trx_state`, `trx_started`, rows locked / modified), joined on `trx_mysql_thread_id` |
 * | `SELECT * FROM information_schema.INNODB_LOCK_WAITS` (MySQL 8: `SELECT * FROM performance_schema.data_lock_waits`) | lock waits (waiting → blocking thread, via INNODB_TRX), `blocking_pids` / `lock_wait_ms`, and the blockers among the row-lock holders |
 * | `SELECT * FROM information_schema.USER_PRIVILEGES` | superusers (SUPER / CONNECTION ADMIN), as `MySqlActivity.privilegesOf` |
 * | `SHOW GLOBAL STATUS LIKE 'Threads_connected'`, `SHOW GLOBAL VARIABLES` (`max_connections`) | the utilization: `Threads_connected / max_connections` (six-class, multi-engine); (`Threads_connected` − own) / `max_connections` (saturation) |
 * | `SELECT NOW(6) AS now, UNIX_TIMESTAMP(NOW(6)) AS unix_timestamp` | the capture time, and the session time zone the client printed `trx_started` in |
 *
 * **Missing parts.** PROCESSLIST is required. Without INNODB_TRX every thread is outside a
 * transaction. Without USER_PRIVILEGES nobody can tell a superuser: every user counts as one
 * (never named in a plan), as the probe does when it cannot read the grants. Without
 * INNODB_LOCK_WAITS no thread is blocked or blocks. Without the status / variables exports the
 * utilization is an Unknown fact.
 *
 * **Capture time.** `capturedAt` (ms since the epoch) when given, else the clock export's
 * `unix_timestamp`; without either, `trx_started` cannot be placed in time (no time zone is
 * printed) and decoding fails. With `capturedAt` but no clock export, local times read as UTC. Ages come from the exports' own counters (`TIME_MS`, else `TIME`).
 *
 * @since 0.1.0
 */
import { Fact } from "@byteport/core"
import { MultiEngineFacts, MySqlActivity, MySqlKill, MySqlPoolDiagnoser, type PgActivity, PoolDiagnoser, type SaturationDiagnoser, Utilization } from "@byteport/db"
import { Effect } from "effect"
import { DecodeError, instant, read, row, type Row, type Table } from "./Table"

/** An export: a file path, or a table already parsed (`Table.parse`). */
export type Source = string | Table

const load = (s: Source): Effect.Effect<Table, DecodeError> => (typeof s === "string" ? read(s) : Effect.succeed(s))

/** What a recording is made of (see module docs). */
export interface Recording {
  /** `SELECT * FROM information_schema.PROCESSLIST`. */
  readonly processlist: Source
  /** `SELECT * FROM information_schema.INNODB_TRX`. */
  readonly innodbTrx?: Source
  /** `SELECT * FROM information_schema.INNODB_LOCK_WAITS` (MariaDB, MySQL 5.7); MySQL 8: `SELECT * FROM performance_schema.data_lock_waits`. */
  readonly lockWaits?: Source
  /** `SELECT * FROM information_schema.USER_PRIVILEGES`. */
  readonly privileges?: Source
  /** `SHOW GLOBAL STATUS` (at least `Threads_connected`). */
  readonly status?: Source
  /** `SHOW GLOBAL VARIABLES` (at least `max_connections`). */
  readonly variables?: Source
  /** `SELECT NOW(6) AS now, UNIX_TIMESTAMP(NOW(6)) AS unix_timestamp`. */
  readonly clock?: Source
  /** When the exports were taken (ms since the epoch); default the clock export's. */
  readonly capturedAt?: number
  /** BytePort's own user: its threads are not counted in the saturation reading (default none). */
  readonly ownUser?: string
  /**
   * Connections of `Threads_connected` that are the exporting client's own (default 1: the client
   * that ran `SHOW GLOBAL STATUS` counts itself), subtracted in the saturation reading.
   */
  readonly exporterConnections?: number
}

/** A decoded recording. */
export interface Decoded {
  /** ms since the epoch. */
  readonly capturedAt: number
  /** The threads, as `MySqlActivity.sessions` reads them (id order). */
  readonly threads: ReadonlyArray<MySqlActivity.MySqlSession>
  readonly privileges: MySqlActivity.Privileges
  readonly lockWaits: ReadonlyArray<MySqlPoolDiagnoser.LockWait>
  /** Thread ids whose open transaction holds row locks (`MySqlKill.holdsRowLocks` over INNODB_TRX + INNODB_LOCK_WAITS). */
  readonly rowLockHolders: ReadonlyArray<number>
  /** The threads in the PostgreSQL session shape (`MySqlPoolDiagnoser.asPgSession`). */
  readonly sessions: ReadonlyArray<PgActivity.PgSession>
  /** `Threads_connected` and `max_connections`, when recorded. */
  readonly threadsConnected: number | null
  readonly maxConnections: number | null
  /** Threads not counted in the saturation reading (the exporter's, `ownUser`'s). */
  readonly own: number
}

const attempt = <A>(f: () => A): Effect.Effect<A, DecodeError> =>
  Effect.try({ try: f, catch: (e) => (e instanceof DecodeError ? e : new DecodeError({ file: "?", row: null, column: null, message: String(e) })) })

const numberOrNull = (r: Row, column: string): number | null => {
  const v = r.stringOrNull(column)
  if (v === null || v === "") return null
  if (!/^\s*-?\d+(\.\d+)?\s*$/.test(v)) throw r.fail(column, `expected a number, got ${JSON.stringify(v)}`)
  return Number(v)
}

const need = (t: Table, columns: ReadonlyArray<string>, what: string): void => {
  if (t.rows.length === 0) return
  for (const c of columns) if (!t.columns.includes(c)) throw new DecodeError({ file: t.file, row: null, column: c, message: `${t.file}: not a ${what} export (no ${c} column)` })
}

/** Pure (throws): a `SHOW GLOBAL STATUS` / `SHOW GLOBAL VARIABLES` export → name (lower case) → value. */
const variablesOf = (t: Table): ReadonlyMap<string, string> => {
  need(t, ["Variable_name", "Value"], "SHOW GLOBAL STATUS / VARIABLES")
  const out = new Map<string, string>()
  for (let i = 0; i < t.rows.length; i++) {
    const r = row(t, i)
    out.set(r.string("Variable_name").toLowerCase(), r.stringOrNull("Value") ?? "")
  }
  return out
}

const intVariable = (t: Table, vars: ReadonlyMap<string, string>, name: string): number => {
  const v = vars.get(name.toLowerCase())
  if (v === undefined) throw new DecodeError({ file: t.file, row: null, column: "Value", message: `${t.file}: no ${name} row` })
  if (!/^\d+$/.test(v)) throw new DecodeError({ file: t.file, row: null, column: "Value", message: `${t.file}: ${name} = ${JSON.stringify(v)} is not an integer` })
  return Number(v)
}

/** Pure (throws): the capture time and the offset (ms) of the session time zone the client printed local times in. */
const clockOf = (t: Table | undefined, capturedAt: number | undefined): { readonly at: number; readonly zoneOffsetMs: number } => {
  if (t === undefined || t.rows.length === 0) {
    if (capturedAt === undefined) throw new DecodeError({ file: t?.file ?? "?", row: null, column: null, message: "no capture time: record the clock export (SELECT NOW(6) AS now, UNIX_TIMESTAMP(NOW(6)) AS unix_timestamp) or pass capturedAt" })
    return { at: capturedAt, zoneOffsetMs: 0 }
  }
  need(t, ["now", "unix_timestamp"], "clock")
  const r = row(t, 0)
  const unix = numberOrNull(r, "unix_timestamp")
  if (unix === null) throw r.fail("unix_timestamp", "missing (null)")
  const local = instant(`${r.string("now")}Z`)
  if (local === null) throw r.fail("now", `expected a DATETIME, got ${JSON.stringify(r.string("now"))}`)
  // NOW(6) and UNIX_TIMESTAMP(NOW(6)) are one instant: their difference is the zone offset (whole seconds)
  return { at: capturedAt ?? Math.round(unix * 1000), zoneOffsetMs: Math.round((local.ms - unix * 1000) / 1000) * 1000 }
}

/** Pure (throws): a local DATETIME as the client printed it → ms since the epoch. */
const localTime = (r: Row, column: string, zoneOffsetMs: number): number | null => {
  const v = r.stringOrNull(column)
  if (v === null || v === "") return null
  const t = instant(`${v}Z`)
  if (t === null) throw r.fail(column, `expected a DATETIME, got ${JSON.stringify(v)}`)
  return t.ms - zoneOffsetMs
}

interface Trx {
  readonly threadId: number
  readonly trxId: string
  readonly state: string | null
  readonly startedMs: number | null
  readonly waitStartedMs: number | null
  readonly rowsLocked: number
  readonly rowsModified: number
  readonly tablesLocked: number | null
}

/** Pure (throws): INNODB_TRX rows by thread id. */
const trxOf = (t: Table | undefined, zoneOffsetMs: number): ReadonlyMap<number, Trx> => {
  const out = new Map<number, Trx>()
  if (t === undefined) return out
  need(t, ["trx_id", "trx_mysql_thread_id", "trx_state", "trx_started", "trx_rows_locked", "trx_rows_modified"], "INNODB_TRX")
  for (let i = 0; i < t.rows.length; i++) {
    const r = row(t, i)
    const threadId = r.int("trx_mysql_thread_id")
    out.set(threadId, {
      threadId,
      trxId: r.string("trx_id"),
      state: r.stringOrNull("trx_state"),
      startedMs: localTime(r, "trx_started", zoneOffsetMs),
      waitStartedMs: r.has("trx_wait_started") ? localTime(r, "trx_wait_started", zoneOffsetMs) : null,
      rowsLocked: r.int("trx_rows_locked"),
      rowsModified: r.int("trx_rows_modified"),
      tablesLocked: r.has("trx_tables_locked") ? r.intOrNull("trx_tables_locked") : null
    })
  }
  return out
}

/** Pure (throws): INNODB_LOCK_WAITS rows (MySQL 8: `performance_schema.data_lock_waits`) → (requesting, blocking) transaction ids. */
const waitPairsOf = (t: Table | undefined): ReadonlyArray<{ readonly requesting: string; readonly blocking: string }> => {
  if (t === undefined) return []
  const mysql8 = t.columns.includes("REQUESTING_ENGINE_TRANSACTION_ID")
  const [requesting, blocking] = mysql8 ? ["REQUESTING_ENGINE_TRANSACTION_ID", "BLOCKING_ENGINE_TRANSACTION_ID"] : ["requesting_trx_id", "blocking_trx_id"]
  need(t, [requesting, blocking], mysql8 ? "performance_schema.data_lock_waits" : "INNODB_LOCK_WAITS")
  return t.rows.map((_, i) => {
    const r = row(t, i)
    return { requesting: r.string(requesting), blocking: r.string(blocking) }
  })
}

/** Is this PROCESSLIST row the export's own statement (it reads PROCESSLIST)? */
const isExporter = (r: Row): boolean =>
  r.stringOrNull("COMMAND") === "Query" && /\binformation_schema\s*\.\s*`?processlist\b/i.test(r.stringOrNull("INFO") ?? "")

/** Pure (throws): the PROCESSLIST threads with their transactions, as `MySqlActivity.sessions` reads them. */
const threadsOf = (t: Table, trx: ReadonlyMap<number, Trx>, at: number): ReadonlyArray<MySqlActivity.MySqlSession> => {
  need(t, ["ID", "USER", "HOST", "DB", "COMMAND", "TIME", "STATE", "INFO"], "information_schema.PROCESSLIST")
  const out: Array<MySqlActivity.MySqlSession> = []
  for (let i = 0; i < t.rows.length; i++) {
    const r = row(t, i)
    const command = r.string("COMMAND")
    if (command === "Daemon" || command === "Binlog Dump" || command === "Binlog Dump GTID" || isExporter(r)) continue
    const id = r.int("ID")
    const timeS = r.int("TIME")
    const commandMs = r.has("TIME_MS") ? numberOrNull(r, "TIME_MS") ?? timeS * 1000 : timeS * 1000
    const x = trx.get(id)
    out.push({
      id,
      user: r.stringOrNull("USER"),
      host: r.stringOrNull("HOST"),
      db: r.stringOrNull("DB"),
      command,
      time_s: timeS,
      state: r.stringOrNull("STATE"),
      info: r.stringOrNull("INFO"),
      command_ms: commandMs,
      command_started_ms: Math.round(at - commandMs),
      query_id: r.has("QUERY_ID") ? r.stringOrNull("QUERY_ID") : null,
      trx_id: x?.trxId ?? null,
      trx_state: x?.state ?? null,
      trx_started: x?.startedMs == null ? null : new Date(x.startedMs),
      trx_age_s: x?.startedMs == null ? null : Math.floor((at - x.startedMs) / 1000),
      trx_rows_locked: x?.rowsLocked ?? null,
      trx_tables_locked: x?.tablesLocked ?? null
    })
  }
  return out.sort((a, b) => a.id - b.id)
}

/** Pure (throws): USER_PRIVILEGES rows → privileges. */
const privilegesFrom = (t: Table | undefined): MySqlActivity.Privileges => {
  if (t === undefined) return { superusers: new Set(), visible: new Set() }
  need(t, ["GRANTEE", "PRIVILEGE_TYPE"], "information_schema.USER_PRIVILEGES")
  return MySqlActivity.privilegesOf(t.rows.map((_, i) => {
    const r = row(t, i)
    return { grantee: r.string("GRANTEE"), privilege_type: r.string("PRIVILEGE_TYPE") }
  }))
}

/** Pure: row-lock holders: INNODB_TRX rows `MySqlKill.holdsRowLocks` refuses (rows locked or modified, or blocking a lock wait). */
export const rowLockHoldersOf = (
  trx: ReadonlyArray<{ readonly threadId: number; readonly trxId: string; readonly rowsLocked: number; readonly rowsModified: number }>,
  waits: ReadonlyArray<{ readonly blocking: string }>
): ReadonlyArray<number> => {
  const blocking = new Set(waits.map((w) => w.blocking))
  return trx.filter((t) => MySqlKill.holdsRowLocks({ rows_locked: t.rowsLocked, rows_modified: t.rowsModified, blocks: blocking.has(t.trxId) ? 1 : 0 }))
    .map((t) => t.threadId).sort((a, b) => a - b)
}

/** Decodes a recording (see module docs). */
export const decode = (recording: Recording): Effect.Effect<Decoded, DecodeError> =>
  Effect.gen(function*() {
    const opt = (s: Source | undefined) => (s === undefined ? Effect.succeed(undefined) : load(s))
    const processlist = yield* load(recording.processlist)
    const innodbTrx = yield* opt(recording.innodbTrx)
    const lockWaits = yield* opt(recording.lockWaits)
    const privileges = yield* opt(recording.privileges)
    const status = yield* opt(recording.status)
    const variables = yield* opt(recording.variables)
    const clock = yield* opt(recording.clock)
    return yield* attempt((): Decoded => {
      const { at, zoneOffsetMs } = clockOf(clock, recording.capturedAt)
      const trx = trxOf(innodbTrx, zoneOffsetMs)
      const threads = threadsOf(processlist, trx, at)
      const byTrx = new Map([...trx.values()].map((x) => [x.trxId, x]))
      const pairs = waitPairsOf(lockWaits)
      const waits: Array<MySqlPoolDiagnoser.LockWait> = []
      for (const p of pairs) {
        const w = byTrx.get(p.requesting)
        const b = byTrx.get(p.blocking)
        if (w === undefined || b === undefined) continue // a transaction that ended between the two exports
        waits.push({ waiting_id: w.threadId, blocking_id: b.threadId, wait_ms: w.waitStartedMs === null ? null : Math.max(0, at - w.waitStartedMs) })
      }
      const privs = privilegesFrom(privileges)
      const byWaiter = MySqlPoolDiagnoser.waitsByConnection(waits)
      const threadsConnected = status === undefined ? null : intVariable(status, variablesOf(status), "Threads_connected")
      const maxConnections = variables === undefined ? null : intVariable(variables, variablesOf(variables), "max_connections")
      const ownThreads = recording.ownUser === undefined ? 0 : threads.filter((t) => t.user === recording.ownUser).length
      return {
        capturedAt: at,
        threads,
        privileges: privs,
        lockWaits: waits,
        rowLockHolders: rowLockHoldersOf([...trx.values()], pairs),
        sessions: threads.map((t) => MySqlPoolDiagnoser.asPgSession(t, privs, byWaiter)),
        threadsConnected,
        maxConnections,
        own: (recording.exporterConnections ?? 1) + ownThreads
      }
    })
  })

/** As `Utilization.mysql`: `Threads_connected / max_connections` (1 when max is 0). */
const ratioOf = (threads: number, max: number): number => (max === 0 ? 1 : threads / max)

const utilizationUnknown = (d: Decoded): string | undefined =>
  d.threadsConnected === null ? "SHOW GLOBAL STATUS (Threads_connected) not recorded" : d.maxConnections === null ? "SHOW GLOBAL VARIABLES (max_connections) not recorded" : undefined

/** The facts of `db.pool.six-class` (as `MySqlPoolDiagnoser` produces them; one export: a flat trend). */
export const facts = (recording: Recording): Effect.Effect<Fact.Facts<PoolDiagnoser.PoolFacts>, DecodeError> =>
  Effect.map(decode(recording), (d): Fact.Facts<PoolDiagnoser.PoolFacts> => {
    const missing = utilizationUnknown(d)
    return {
      utilization: missing !== undefined
        ? Fact.unknown("utilization", missing)
        : Fact.known({ engine: "mysql", ratio: ratioOf(d.threadsConnected!, d.maxConnections!), clientBackends: d.threadsConnected!, available: d.maxConnections! }),
      sessions: Fact.known(d.sessions),
      idleInTxTrend: Fact.known(PoolDiagnoser.trendOf([d.threads.filter(MySqlActivity.isSleepingInTransaction).length], d.capturedAt)),
      lastDeploy: Fact.known(null),
      pgbouncer: Fact.known(null),
      poolSettings: Fact.known(null)
    }
  })

/** The facts of `db.connections.saturation` on MySQL (as `SaturationDiagnoser.mysql` produces them). */
export const saturationFacts = (recording: Recording): Effect.Effect<Fact.Facts<SaturationDiagnoser.SaturationFacts>, DecodeError> =>
  Effect.map(decode(recording), (d): Fact.Facts<SaturationDiagnoser.SaturationFacts> => {
    const missing = utilizationUnknown(d)
    const counts = new Map<string, PgActivity.WaitEventCount>()
    for (const t of d.threads) {
      const key = `${t.command}|${t.state ?? ""}`
      counts.set(key, { wait_event_type: t.command, wait_event: t.state ?? "", count: (counts.get(key)?.count ?? 0) + 1 })
    }
    return {
      utilization: missing !== undefined ? Fact.unknown("utilization", missing) : Fact.known(Utilization.mysqlConnectionsOf(d.threadsConnected!, d.own, d.maxConnections!)),
      sessions: Fact.known(d.sessions),
      waitEvents: Fact.known([...counts.values()].sort((a, b) => b.count - a.count).slice(0, 5)),
      rowLockHolders: Fact.known(d.rowLockHolders)
    }
  })

/** The facts of `db.pool.multi-engine` on MySQL (as `MultiEngineFacts.mysql` produces them at its first poll: a one-sample trend). */
export const multiEngineFacts = (recording: Recording): Effect.Effect<Fact.Facts<MultiEngineFacts.MultiEngineFacts>, DecodeError> =>
  Effect.map(decode(recording), (d): Fact.Facts<MultiEngineFacts.MultiEngineFacts> => {
    const missing = utilizationUnknown(d)
    const sessions = d.sessions.map((s) => MultiEngineFacts.fromSql("mysql", s))
    if (missing !== undefined) {
      const u = Fact.unknown("utilization", missing)
      return { engine: Fact.known("mysql" as const), utilization: u, sessions: Fact.known(sessions), trend: Fact.known([]), ceiling: Fact.unknown("ceiling", missing) } as Fact.Facts<MultiEngineFacts.MultiEngineFacts>
    }
    const max = d.maxConnections!
    return {
      engine: Fact.known("mysql" as const),
      utilization: Fact.known({ ratio: ratioOf(d.threadsConnected!, max), connections: d.threadsConnected!, max }),
      sessions: Fact.known(sessions),
      trend: Fact.known([MultiEngineFacts.sampleOf(sessions, d.capturedAt, null)]),
      ceiling: Fact.known<MultiEngineFacts.Ceiling>({ kind: "max_connections", engine: "mysql", value: max })
    }
  })
