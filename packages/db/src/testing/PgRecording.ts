/**
 * Recorded PostgreSQL (and pgbouncer) incidents, decoded as psql exports them, into the facts the
 * `db.pool.six-class` diagnoser produces, so a user's recording replays through the real
 * classifier and remediator.
 *
 * | export | what it becomes |
 * |---|---|
 * | `SELECT * FROM pg_stat_activity` (PostgreSQL 14–17 columns; older ones without `query_id` / `leader_pid` too) | `sessions`: the `client backend` rows (`autovacuum launcher`, `walwriter`, … left out) as `PgActivity.PgSession`; ages from the capture time; one export per sample builds the idle-in-transaction trend |
 * | `SELECT * FROM pg_roles` | `rolsuper`, joined on `usesysid = oid` (else on `usename = rolname`) |
 * | `SELECT pid, pg_blocking_pids(pid) FROM pg_stat_activity` (optional `waitstart` column: `min(pg_locks.waitstart)` of the pid's ungranted locks) | `blocking_pids` (and `lock_wait_ms`) for lock-chain resolution |
 * | `SELECT * FROM pg_settings` | utilization: client backends over `max_connections − superuser_reserved_connections − reserved_connections` (`reserved_connections`: PostgreSQL 16+, slots only `pg_use_reserved_connections` roles may take) |
 * | postgres_exporter `pg_stat_activity_count` as Prometheus `query_range` returns it (`series`) | the connection history: with the last export as its newest sample, the idle-in-transaction trend is decided as the diagnoser decides it from its history (`ConnectionHistory.leakTrend` over the samples since the deploy marker, else the last 15 minutes; at least 4 samples, else the exports decide) |
 * | pgbouncer `SHOW POOLS` + `SHOW CONFIG` (optional `SHOW DATABASES`) | `pgbouncer`: the pools (the admin `pgbouncer` pool left out), sized by `SHOW DATABASES.pool_size`, else `default_pool_size` |
 *
 * **Missing parts.** `pg_stat_activity` is required. Without `pg_settings` the utilization is an
 * Unknown fact; without `SHOW POOLS` the pgbouncer fact is Unknown unless the recording says
 * there is no pgbouncer (`pgbouncer: "absent"`, then `null`). Without `pg_roles` nobody can tell
 * a superuser: every session counts as one (`rolsuper: true`), so no plan ever names it. Without
 * `pg_blocking_pids` (and no `blocking_pids` column in the activity export) every session reads
 * as blocked by nobody; a session in a `Lock` wait then has an unknown own time and is never
 * acted on for it. Without `waitstart` a waiter's lock wait is unknown (the same).
 *
 * **Capture time.** `capturedAt` (ms since the epoch) when given, else the latest timestamp in the
 * export (usually the exporting session's own `query_start`): ages are then lower bounds.
 *
 * @since 0.1.0
 */
import { Fact } from "@byteport/core"
import { ConnectionHistory, type PgActivity, PgBouncerStats, PoolDiagnoser, PoolSettings, Utilization } from "@byteport/db"
import { Effect } from "effect"
import * as fs from "node:fs"
import { DecodeError, instant, type Instant, read, row, type Table } from "./Table"

/** An export: a file path, or a table already parsed (`Table.parse`). */
export type Source = string | Table

const load = (s: Source): Effect.Effect<Table, DecodeError> => (typeof s === "string" ? read(s) : Effect.succeed(s))

/** The state an export's rows decode in. */
interface Lookup {
  readonly superuserByOid: ReadonlyMap<string, boolean>
  readonly superuserByName: ReadonlyMap<string, boolean>
  readonly blocking: ReadonlyMap<number, { readonly pids: ReadonlyArray<number>; readonly waitstart: Instant | null }>
}

const TIMESTAMPS = ["backend_start", "xact_start", "query_start", "state_change"] as const

/** Pure (throws DecodeError): `pg_roles` rows → superuser by oid and by name. */
const rolesOf = (t: Table) => {
  const byOid = new Map<string, boolean>()
  const byName = new Map<string, boolean>()
  for (let i = 0; i < t.rows.length; i++) {
    const r = row(t, i)
    const name = r.string("rolname")
    const sup = r.boolOrNull("rolsuper")
    if (sup === null) throw r.fail("rolsuper", "missing (null)")
    byName.set(name, sup)
    const oid = r.stringOrNull("oid")
    if (oid !== null) byOid.set(oid, sup)
  }
  return { byOid, byName }
}

const timestampAt = (r: ReturnType<typeof row>, column: string): Instant | null => {
  const v = r.stringOrNull(column)
  if (v === null || v === "") return null
  const t = instant(v)
  if (t === null) throw r.fail(column, `expected a timestamp with time zone, got ${JSON.stringify(v)}`)
  return t
}

/** Pure (throws DecodeError): `pg_blocking_pids` rows → blockers (and wait start) by pid. */
const blockingOf = (t: Table) => {
  const out = new Map<number, { pids: ReadonlyArray<number>; waitstart: Instant | null }>()
  const column = t.columns.includes("pg_blocking_pids") ? "pg_blocking_pids" : "blocking_pids"
  if (t.rows.length > 0 && !t.columns.includes(column)) throw new DecodeError({ file: t.file, row: null, column, message: `${t.file}: no pg_blocking_pids (or blocking_pids) column` })
  for (let i = 0; i < t.rows.length; i++) {
    const r = row(t, i)
    out.set(r.int("pid"), { pids: r.intArray(column), waitstart: r.has("waitstart") ? timestampAt(r, "waitstart") : null })
  }
  return out
}

/** Pure (throws DecodeError): the latest timestamp of an activity export (its capture time when none is given). */
const latestOf = (t: Table): number => {
  checkActivity(t)
  let latest = -Infinity
  for (let i = 0; i < t.rows.length; i++) {
    const r = row(t, i)
    for (const c of TIMESTAMPS) {
      const ts = timestampAt(r, c)
      if (ts !== null && ts.ms > latest) latest = ts.ms
    }
  }
  if (latest === -Infinity) throw new DecodeError({ file: t.file, row: null, column: null, message: `${t.file}: no timestamp to take the capture time from; pass capturedAt` })
  return latest
}

/** Is this an export row of a client backend? (`backend_type`, PostgreSQL 10+; without it: a row with a user.) */
const isClient = (r: ReturnType<typeof row>): boolean =>
  r.has("backend_type") ? r.stringOrNull("backend_type") === "client backend" : r.stringOrNull("usename") !== null

/** Pure (throws DecodeError): is this table a pg_stat_activity export? */
const checkActivity = (t: Table): void => {
  if (t.rows.length === 0) return
  for (const c of ["pid", "state", "query_start", "state_change"]) {
    if (!t.columns.includes(c)) throw new DecodeError({ file: t.file, row: null, column: c, message: `${t.file}: not a pg_stat_activity export (no ${c} column)` })
  }
}

/** Pure (throws DecodeError): the client-backend rows of a `pg_stat_activity` export as sessions. */
const sessionsOf = (t: Table, capturedAt: number, lookup: Lookup): ReadonlyArray<PgActivity.PgSession> => {
  checkActivity(t)
  const out: Array<PgActivity.PgSession> = []
  for (let i = 0; i < t.rows.length; i++) {
    const r = row(t, i)
    if (!isClient(r)) continue
    const pid = r.int("pid")
    const [backendStart, xactStart, queryStart, stateChange] = TIMESTAMPS.map((c) => timestampAt(r, c))
    const age = (ts: Instant | null | undefined) => (ts === null || ts === undefined ? null : Math.max(0, capturedAt - ts.ms))
    const usename = r.stringOrNull("usename")
    const oid = r.stringOrNull("usesysid")
    const sup = (oid === null ? undefined : lookup.superuserByOid.get(oid)) ?? (usename === null ? undefined : lookup.superuserByName.get(usename))
    const fromColumn = r.has("blocking_pids") ? { pids: r.intArray("blocking_pids"), waitstart: r.has("waitstart") ? timestampAt(r, "waitstart") : null } : undefined
    const blocked = lookup.blocking.get(pid) ?? fromColumn
    const addr = r.stringOrNull("client_addr")
    out.push({
      pid,
      usename,
      rolsuper: sup ?? true,
      datname: r.stringOrNull("datname"),
      application_name: r.stringOrNull("application_name") ?? "",
      client_addr: addr === null ? null : addr.replace(/\/(32|128)$/, ""),
      backend_start: backendStart === null || backendStart === undefined ? null : new Date(backendStart.ms),
      xact_start: xactStart === null || xactStart === undefined ? null : new Date(xactStart.ms),
      query_start: queryStart === null || queryStart === undefined ? null : new Date(queryStart.ms),
      state_change: stateChange === null || stateChange === undefined ? null : new Date(stateChange.ms),
      state: r.stringOrNull("state"),
      wait_event_type: r.stringOrNull("wait_event_type"),
      wait_event: r.stringOrNull("wait_event"),
      query: r.stringOrNull("query") ?? "",
      query_id: r.stringOrNull("query_id"),
      blocking_pids: blocked?.pids ?? [],
      backend_start_us: backendStart?.us ?? null,
      xact_start_us: xactStart?.us ?? null,
      query_start_us: queryStart?.us ?? null,
      xact_age_ms: age(xactStart),
      query_age_ms: age(queryStart),
      state_age_ms: age(stateChange),
      lock_wait_ms: blocked === undefined || blocked.waitstart === null || blocked.pids.length === 0 ? null : age(blocked.waitstart)
    })
  }
  return out.sort((a, b) => a.pid - b.pid)
}

/** Pure (throws DecodeError): `pg_settings` rows → name → setting. */
const settingsOf = (t: Table): ReadonlyMap<string, string> => {
  const out = new Map<string, string>()
  for (let i = 0; i < t.rows.length; i++) {
    const r = row(t, i)
    out.set(r.string("name"), r.stringOrNull("setting") ?? "")
  }
  return out
}

const intSetting = (t: Table, settings: ReadonlyMap<string, string>, name: string, fallback?: number): number => {
  const v = settings.get(name)
  if (v === undefined) {
    if (fallback !== undefined) return fallback
    throw new DecodeError({ file: t.file, row: null, column: "setting", message: `${t.file}: no ${name} row` })
  }
  if (!/^\d+$/.test(v)) throw new DecodeError({ file: t.file, row: null, column: "setting", message: `${t.file}: ${name} = ${JSON.stringify(v)} is not an integer` })
  return Number(v)
}

/** Pure (throws DecodeError): `SHOW POOLS` (+ `SHOW CONFIG`, `SHOW DATABASES`) → the pools' utilization. */
const poolsOf = (pools: Table, config: Table | undefined, databases: Table | undefined): ReadonlyArray<Utilization.PgBouncerPoolUtilization> => {
  const rows: Array<PgBouncerStats.PoolRow> = []
  for (let i = 0; i < pools.rows.length; i++) {
    const r = row(pools, i)
    const database = r.string("database")
    if (database === PgBouncerStats.ADMIN_DATABASE) continue
    const opt = (c: string) => (r.has(c) ? r.intOrNull(c) ?? undefined : undefined)
    rows.push({
      database,
      user: r.string("user"),
      cl_active: r.int("cl_active"),
      cl_waiting: r.int("cl_waiting"),
      sv_active: r.int("sv_active"),
      sv_idle: r.int("sv_idle"),
      sv_used: r.int("sv_used"),
      sv_tested: opt("sv_tested"),
      sv_login: opt("sv_login"),
      maxwait: opt("maxwait"),
      maxwait_us: opt("maxwait_us"),
      pool_mode: r.has("pool_mode") ? r.stringOrNull("pool_mode") : undefined
    })
  }
  const sizes = new Map<string, number>()
  if (databases !== undefined) {
    for (let i = 0; i < databases.rows.length; i++) {
      const r = row(databases, i)
      sizes.set(r.string("name"), r.int("pool_size"))
    }
  }
  let fallback: number | undefined
  if (config !== undefined) {
    for (let i = 0; i < config.rows.length; i++) {
      const r = row(config, i)
      if (r.string("key") === "default_pool_size") {
        const v = r.stringOrNull("value")
        if (v === null || !/^\d+$/.test(v)) throw r.fail("value", `default_pool_size = ${JSON.stringify(v)} is not an integer`)
        fallback = Number(v)
      }
    }
  }
  const dbs = [...new Set(rows.map((p) => p.database))].map((name) => {
    const size = sizes.get(name) ?? fallback
    if (size === undefined) {
      throw new DecodeError({ file: pools.file, row: null, column: null, message: `${pools.file}: no pool size for ${name}: record SHOW CONFIG (default_pool_size) or SHOW DATABASES` })
    }
    return { name, pool_size: size }
  })
  return Utilization.pgbouncerOf(rows, dbs)
}

/** What a recording is made of (see module docs). */
export interface Recording {
  /** `SELECT * FROM pg_stat_activity`: one export, or several (oldest first) for the idle-in-transaction trend. */
  readonly activity: Source | ReadonlyArray<Source>
  /** When the (last) activity export was taken (ms since the epoch); several exports need one each. */
  readonly capturedAt?: number | ReadonlyArray<number>
  readonly roles?: Source
  readonly blocking?: Source
  readonly settings?: Source
  readonly pools?: Source
  readonly config?: Source
  readonly databases?: Source
  /** `"absent"`: there is no pgbouncer in front of the database (the fact is `null`, not Unknown). */
  readonly pgbouncer?: "absent"
  /** The deploy marker, if the recording has one (default none: `null`). */
  readonly lastDeploy?: PoolDiagnoser.DeployMarker | null
  /** The application's environment (pool settings), if recorded (default none: `null`). */
  readonly appEnv?: Readonly<Record<string, string | undefined>>
  /** postgres_exporter `pg_stat_activity_count` from Prometheus `query_range`: a file path, or the parsed body. */
  readonly series?: string | { readonly data?: unknown }
  /** The database whose series count (default: every series). */
  readonly datname?: string
}

/** The look-back window of the history when no deploy marker is known (the diagnoser's default). */
const LOOKBACK_MS = 15 * 60_000

const seriesOf = (series: string | { readonly data?: unknown }): Effect.Effect<unknown, DecodeError> =>
  typeof series !== "string" ? Effect.succeed(series) : Effect.try({
    try: () => JSON.parse(fs.readFileSync(series, "utf8")) as unknown,
    catch: (e) => new DecodeError({ file: series, row: null, column: null, message: `${series}: not a Prometheus query_range body: ${(e as Error).message}` })
  })

/** Pure: the history trend of a recording (as `PoolDiagnoser.historyTrend` decides it), or undefined with too few samples. */
const historyTrendOf = (
  samples: ReadonlyArray<ConnectionHistory.Sample>,
  current: ConnectionHistory.Sample,
  deploy: PoolDiagnoser.DeployMarker | null
): PoolDiagnoser.Trend | undefined => {
  const since = deploy !== null && deploy.at <= current.at ? deploy.at : current.at - LOOKBACK_MS
  const t = ConnectionHistory.leakTrend(ConnectionHistory.merge(samples, [current]), since)
  if (t === undefined || t.samples < 4) return undefined
  return {
    samples: t.series.values,
    sampledAt: t.to,
    rising: t.series.rising,
    source: "history",
    application: t.series.application,
    slopePerMinute: Math.round(t.series.slopePerMinute * 1000) / 1000,
    since
  }
}

const attempt = <A>(f: () => A): Effect.Effect<A, DecodeError> =>
  Effect.try({ try: f, catch: (e) => (e instanceof DecodeError ? e : new DecodeError({ file: "?", row: null, column: null, message: String(e) })) })

/** Decodes the sessions of one `pg_stat_activity` export (with optional `pg_roles` and `pg_blocking_pids` exports). */
export const sessions = (
  activity: Source,
  options: { readonly capturedAt?: number; readonly roles?: Source; readonly blocking?: Source } = {}
): Effect.Effect<ReadonlyArray<PgActivity.PgSession>, DecodeError> =>
  Effect.gen(function*() {
    const t = yield* load(activity)
    const roles = options.roles === undefined ? undefined : yield* load(options.roles)
    const blocking = options.blocking === undefined ? undefined : yield* load(options.blocking)
    return yield* attempt(() => {
      const r = roles === undefined ? { byOid: new Map<string, boolean>(), byName: new Map<string, boolean>() } : rolesOf(roles)
      return sessionsOf(t, options.capturedAt ?? latestOf(t), {
        superuserByOid: r.byOid,
        superuserByName: r.byName,
        blocking: blocking === undefined ? new Map() : blockingOf(blocking)
      })
    })
  })

/** Decodes the pgbouncer pools of a `SHOW POOLS` export (pool sizes from `SHOW CONFIG` / `SHOW DATABASES`). */
export const pools = (
  showPools: Source,
  options: { readonly config?: Source; readonly databases?: Source } = {}
): Effect.Effect<ReadonlyArray<Utilization.PgBouncerPoolUtilization>, DecodeError> =>
  Effect.gen(function*() {
    const p = yield* load(showPools)
    const c = options.config === undefined ? undefined : yield* load(options.config)
    const d = options.databases === undefined ? undefined : yield* load(options.databases)
    return yield* attempt(() => poolsOf(p, c, d))
  })

/** Decodes a whole recording into the diagnoser's facts (see module docs for what missing parts become). */
export const facts = (recording: Recording): Effect.Effect<Fact.Facts<PoolDiagnoser.PoolFacts>, DecodeError> =>
  Effect.gen(function*() {
    const exports = Array.isArray(recording.activity) ? (recording.activity as ReadonlyArray<Source>) : [recording.activity as Source]
    if (exports.length === 0) return yield* new DecodeError({ file: "?", row: null, column: null, message: "a recording needs at least one pg_stat_activity export" })
    const times = recording.capturedAt === undefined ? [] : typeof recording.capturedAt === "number" ? [recording.capturedAt] : recording.capturedAt
    if (times.length > 0 && times.length !== exports.length) {
      return yield* new DecodeError({ file: "?", row: null, column: null, message: `${exports.length} activity exports but ${times.length} capture times` })
    }
    const tables = yield* Effect.forEach(exports, load)
    const roles = recording.roles === undefined ? undefined : yield* load(recording.roles)
    const blocking = recording.blocking === undefined ? undefined : yield* load(recording.blocking)
    const settings = recording.settings === undefined ? undefined : yield* load(recording.settings)
    const body = recording.series === undefined ? undefined : yield* seriesOf(recording.series)
    if (body !== undefined && (body as { readonly data?: { readonly resultType?: unknown } } | null)?.data?.resultType !== "matrix") {
      return yield* new DecodeError({ file: typeof recording.series === "string" ? recording.series : "series", row: null, column: null, message: "not a Prometheus query_range body (data.resultType matrix)" })
    }
    const bouncer = recording.pools === undefined
      ? undefined
      : yield* pools(recording.pools, {
        ...(recording.config !== undefined ? { config: recording.config } : {}),
        ...(recording.databases !== undefined ? { databases: recording.databases } : {})
      })
    return yield* attempt((): Fact.Facts<PoolDiagnoser.PoolFacts> => {
      const r = roles === undefined ? { byOid: new Map<string, boolean>(), byName: new Map<string, boolean>() } : rolesOf(roles)
      const lookup = (last: boolean): Lookup => ({
        superuserByOid: r.byOid,
        superuserByName: r.byName,
        blocking: last && blocking !== undefined ? blockingOf(blocking) : new Map()
      })
      const at = tables.map((t, i) => times[i] ?? latestOf(t))
      const snapshots = tables.map((t, i) => sessionsOf(t, at[i]!, lookup(i === tables.length - 1)))
      const last = snapshots.at(-1)!
      const lastTable = tables.at(-1)!
      const clients = lastTable.rows.filter((_, i) => isClient(row(lastTable, i))).length
      const idleInTx = snapshots.map((s) => s.filter((x) => x.state === "idle in transaction" || x.state === "idle in transaction (aborted)").length)
      let utilization: Fact.Fact<PoolDiagnoser.PoolUtilization>
      if (settings === undefined) utilization = Fact.unknown("utilization", "pg_settings not recorded")
      else {
        const s = settingsOf(settings)
        const reserved = intSetting(settings, s, "superuser_reserved_connections", 3) + intSetting(settings, s, "reserved_connections", 0)
        const u = Utilization.postgresOf(clients, intSetting(settings, s, "max_connections"), reserved)
        utilization = Fact.known({ engine: "postgres", ratio: u.ratio, clientBackends: u.clientBackends, available: u.available })
      }
      const fromHistory = body === undefined ? undefined : historyTrendOf(
        ConnectionHistory.fromQueryRange(body, recording.datname !== undefined ? { datname: recording.datname } : {}),
        ConnectionHistory.sampleOf(recording.datname === undefined ? last : last.filter((x) => x.datname === recording.datname), at.at(-1)!),
        recording.lastDeploy ?? null
      )
      return {
        utilization,
        sessions: Fact.known(last),
        idleInTxTrend: Fact.known(fromHistory ?? PoolDiagnoser.trendOf(idleInTx, at.at(-1)!)),
        lastDeploy: Fact.known(recording.lastDeploy ?? null),
        pgbouncer: bouncer !== undefined
          ? Fact.known({ waiting: bouncer.reduce((n, p) => n + p.clientsWaiting, 0), pools: bouncer })
          : recording.pgbouncer === "absent"
          ? Fact.known(null)
          : Fact.unknown("pgbouncer", "SHOW POOLS not recorded"),
        poolSettings: Fact.known(recording.appEnv === undefined ? null : PoolSettings.fromEnv(recording.appEnv))
      }
    })
  })

/** Re-exported for callers that only need the session shape. */
export type PgSession = PgActivity.PgSession
