/**
 * The structured postmortem of `db.pool.six-class`: the statements behind the incident grouped
 * by query fingerprint (count, total and longest duration, states, applications) and the
 * permanent fix recommended for the class. The result is a JSON object for core's
 * `IncidentReport.postmortem`; `Report.toMarkdown` renders its lists of flat rows as tables.
 *
 * Pool sizes are computed, never guessed:
 *
 * | quantity | formula |
 * |---|---|
 * | capacity `C` | `max_connections − superuser_reserved_connections` (the facts' `utilization.available`) |
 * | budget `B` | `floor(C × (1 − headroom))`, headroom 20 %: room for migrations, admin and the agent itself |
 * | app pool per process (no pgbouncer) | `floor(B / processes)` |
 * | pgbouncer `default_pool_size` | `min(floor(B / pools), current + ceil(waiting / pools))`, at least current + 1 while clients wait |
 * | `max_connections` when the peak `P` exceeds `B` | `ceil(P / (1 − headroom)) + reserved` (a restart; only with pgbouncer in front is it not needed) |
 * | batch role cap (fan-out) | `max(2, floor(B × 10 %))` connections, through a dedicated pgbouncer transaction pool of that size |
 *
 * @since 0.1.0
 */
import type { Classification, Json } from "@byteport/core"
import type { PoolFacts } from "../diagnosers/PoolDiagnoser"
import type * as PgActivity from "../probes/PgActivity"
import { fingerprint, fingerprintId } from "./Fingerprint"
import type { Dialect } from "./Fingerprint"

// ------------------------------------------------------------------------------- fingerprints

/** One statement seen in a session, with how long it has been running (or held its transaction). */
export interface QuerySample {
  readonly query: string | null
  readonly durationMs: number | null
  readonly state?: string | null
  readonly application?: string | null
}

/** Statements that share a fingerprint. */
export interface FingerprintGroup {
  readonly fingerprint: string
  readonly id: string
  readonly count: number
  readonly totalMs: number
  readonly maxMs: number
  /** Sessions per state (`active`, `idle in transaction`, …). */
  readonly states: Readonly<Record<string, number>>
  /** Applications that ran it, sorted. */
  readonly applications: ReadonlyArray<string>
}

/**
 * A session's statement as a sample. The duration is what matters for the pool: for an active
 * session, how long the statement has run (`query_age_ms`); idle in transaction, how long the
 * transaction has held its connection (`xact_age_ms`); idle, how long the last statement took
 * (`state_change − query_start`).
 */
export const sampleOfSession = (s: PgActivity.PgSession): QuerySample => {
  const state = s.state
  const durationMs = state === "active"
    ? s.query_age_ms
    : state !== null && state.startsWith("idle in transaction")
    ? s.xact_age_ms
    : s.state_change !== null && s.query_start !== null
    ? Math.max(0, s.state_change.getTime() - s.query_start.getTime())
    : null
  return { query: s.query, durationMs, state, application: s.application_name }
}

/** Options of {@link group}. */
export interface GroupOptions {
  readonly dialect?: Dialect
  /** Keep only the first `limit` groups (default 20). */
  readonly limit?: number
}

/**
 * Groups samples by fingerprint: most frequent first, then the largest total duration, then
 * the fingerprint text. Empty statements (a session that never ran one) are left out.
 */
export const group = (samples: ReadonlyArray<QuerySample>, options: GroupOptions = {}): ReadonlyArray<FingerprintGroup> => {
  const groups = new Map<string, { count: number; totalMs: number; maxMs: number; states: Record<string, number>; apps: Set<string> }>()
  for (const s of samples) {
    if (s.query === null || s.query.trim() === "") continue
    const fp = fingerprint(s.query, { dialect: options.dialect ?? "postgres" })
    if (fp === "") continue
    const g = groups.get(fp) ?? { count: 0, totalMs: 0, maxMs: 0, states: {}, apps: new Set<string>() }
    const d = s.durationMs !== null && Number.isFinite(s.durationMs) ? Math.max(0, s.durationMs) : 0
    g.count++
    g.totalMs += d
    g.maxMs = Math.max(g.maxMs, d)
    const state = s.state ?? "unknown"
    g.states[state] = (g.states[state] ?? 0) + 1
    if (s.application !== undefined && s.application !== null && s.application !== "") g.apps.add(s.application)
    groups.set(fp, g)
  }
  return [...groups.entries()]
    .map(([fp, g]): FingerprintGroup => ({
      fingerprint: fp,
      id: fingerprintId(fp),
      count: g.count,
      totalMs: Math.round(g.totalMs),
      maxMs: Math.round(g.maxMs),
      states: g.states,
      applications: [...g.apps].sort()
    }))
    .sort((a, b) => b.count - a.count || b.totalMs - a.totalMs || (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0))
    .slice(0, options.limit ?? 20)
}

/** Groups as flat rows (one table in the Markdown postmortem). */
export const groupRows = (groups: ReadonlyArray<FingerprintGroup>): ReadonlyArray<{ readonly [k: string]: Json.Json }> =>
  groups.map((g) => ({
    fingerprint: g.fingerprint,
    id: g.id,
    count: g.count,
    total_ms: g.totalMs,
    max_ms: g.maxMs,
    states: Object.entries(g.states).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}: ${v}`).join(", "),
    applications: g.applications.join(", ")
  }))

// ------------------------------------------------------------------------------- permanent fix

/** What the recommendations are computed from. Every field is optional: what is missing is said so. */
export interface FixFacts {
  /** `max_connections − superuser_reserved_connections`. */
  readonly capacity?: number
  readonly superuserReserved?: number
  /** Client backends at the peak the diagnosis saw. */
  readonly observedPeak?: number
  /** pgbouncer in front of the database: its pools, their current size and the clients waiting; `null` = none. */
  readonly pgbouncer?: { readonly pools: number; readonly poolSize: number; readonly waiting: number } | null
  /** Application processes sharing the database (replicas × workers). */
  readonly processes?: number
  /** The application pool size per process now (Hikari / SQLAlchemy / pgx). */
  readonly appPoolPerProcess?: number
  /** The deploy marker's revision. */
  readonly lastDeploySha?: string | null
  /** The role and database the application connects as (for `ALTER ROLE … SET`). */
  readonly role?: string | null
  readonly database?: string | null
  /** The application holding the most connections, and how many. */
  readonly topApplication?: { readonly name: string; readonly connections: number; readonly role?: string | null } | null
  /** Thresholds the classification used (defaults 30 s and 120 s). */
  readonly idleInTxMs?: number
  readonly queryBudgetMs?: number
  /** The fingerprint groups, to name the statements to fix. */
  readonly groups?: ReadonlyArray<FingerprintGroup>
}

/** One setting to change. */
export interface SettingChange {
  readonly system: "postgresql" | "pgbouncer" | "application"
  readonly setting: string
  readonly value: string
  /** Where it applies (`role app`, `database appdb`, `pgbouncer.ini [pgbouncer]`, `per process`). */
  readonly scope: string
  readonly reason: string
}

/** The permanent fix for one incident. */
export interface PermanentFix {
  readonly class: string | null
  readonly summary: string
  readonly settings: ReadonlyArray<SettingChange>
  readonly actions: ReadonlyArray<string>
  /** The computed quantities behind the numbers (capacity, budget, peak …). */
  readonly computed: Readonly<Record<string, number>>
}

/** Share of capacity kept free by the recommended sizes (20 %). */
export const HEADROOM = 0.2
/** Share of the budget a batch role may hold (10 %). */
export const BATCH_SHARE = 0.1

const seconds = (ms: number) => `${Math.max(1, Math.round(ms / 1000))}s`

const scopeOf = (facts: FixFacts): string =>
  facts.role !== undefined && facts.role !== null && facts.role !== ""
    ? `role ${facts.role}`
    : facts.database !== undefined && facts.database !== null && facts.database !== ""
    ? `database ${facts.database}`
    : "database"

const statementsIn = (facts: FixFacts, state: (s: string) => boolean, n = 3): string => {
  const picked = (facts.groups ?? []).filter((g) => Object.keys(g.states).some(state)).slice(0, n)
  return picked.length === 0 ? "" : ` (top fingerprints: ${picked.map((g) => `${g.id} \`${g.fingerprint.slice(0, 80)}\``).join("; ")})`
}

const isIdleInTx = (s: string) => s.startsWith("idle in transaction")

/**
 * The permanent fix recommended for a classification (see the module docs for the formulas).
 * Unclassified and Indeterminate results get no setting, only the advice to investigate.
 */
export const permanentFix = (classification: Classification.Classification, facts: FixFacts): PermanentFix => {
  const computed: Record<string, number> = {}
  const C = facts.capacity
  const B = C === undefined ? undefined : Math.floor(C * (1 - HEADROOM))
  if (C !== undefined) computed.capacity = C
  if (B !== undefined) computed.budget = B
  if (facts.observedPeak !== undefined) computed.observed_peak = facts.observedPeak
  const scope = scopeOf(facts)
  const settings: Array<SettingChange> = []
  const actions: Array<string> = []
  const idleTimeout = seconds(Math.max(60_000, 2 * (facts.idleInTxMs ?? 30_000)))

  const missing = (what: string) => actions.push(`measure ${what}: the pool sizes cannot be computed without it`)

  const poolSizing = () => {
    if (C === undefined || B === undefined) return missing("max_connections and superuser_reserved_connections")
    const peak = facts.observedPeak
    if (facts.pgbouncer !== undefined && facts.pgbouncer !== null) {
      const { poolSize, pools, waiting } = facts.pgbouncer
      const perPool = Math.max(1, Math.floor(B / Math.max(1, pools)))
      const wanted = Math.max(poolSize + (waiting > 0 ? 1 : 0), poolSize + Math.ceil(waiting / Math.max(1, pools)))
      const size = Math.min(perPool, wanted)
      computed.pgbouncer_pool_ceiling = perPool
      computed.pgbouncer_pool_size = size
      if (size > poolSize) {
        settings.push({
          system: "pgbouncer",
          setting: "default_pool_size",
          value: String(size),
          scope: "pgbouncer.ini [pgbouncer]",
          reason: `${waiting} client(s) waited on ${pools} pool(s) of ${poolSize}; ${pools} × ${size} stays within the budget of ${B} of ${C} server connections`
        })
      } else {
        actions.push(`pgbouncer pools are already at the ceiling ${perPool} (${pools} pool(s) within ${B} of ${C} connections): reduce the work per transaction or raise max_connections`)
      }
      settings.push({ system: "pgbouncer", setting: "pool_mode", value: "transaction", scope: "pgbouncer.ini [pgbouncer]", reason: "a server connection is held only for the length of a transaction" })
    } else {
      const processes = facts.processes
      if (processes !== undefined && processes > 0) {
        const per = Math.max(1, Math.floor(B / processes))
        computed.app_pool_per_process = per
        settings.push({
          system: "application",
          setting: "maximum pool size",
          value: String(per),
          scope: "per process (Hikari maximumPoolSize / SQLAlchemy pool_size + max_overflow / pgx pool_max_conns)",
          reason: `${processes} process(es) × ${per} ≤ budget ${B} (capacity ${C} − ${Math.round(HEADROOM * 100)}% headroom)${
            facts.appPoolPerProcess !== undefined ? `; now ${facts.appPoolPerProcess} per process` : ""
          }`
        })
      } else missing("the number of application processes (replicas × workers)")
      actions.push(`put pgbouncer (pool_mode = transaction, default_pool_size ≤ ${B}) in front of the database so that client connections stop mapping 1:1 to server backends`)
    }
    if (peak !== undefined && peak > B) {
      const reserved = facts.superuserReserved ?? 3
      const maxConnections = Math.ceil(peak / (1 - HEADROOM)) + reserved
      computed.max_connections = maxConnections
      settings.push({
        system: "postgresql",
        setting: "max_connections",
        value: String(maxConnections),
        scope: "postgresql.conf (restart)",
        reason: `the observed peak of ${peak} client backends exceeds the budget ${B}; ${maxConnections} keeps ${Math.round(HEADROOM * 100)}% headroom plus ${reserved} reserved`
      })
    }
  }

  if (classification._tag !== "Classified") {
    return {
      class: null,
      summary: classification._tag === "Indeterminate"
        ? `no permanent fix: the diagnosis is incomplete (missing ${classification.missing.join(", ")})`
        : "no permanent fix: no class matched; investigate by hand",
      settings: [],
      actions: ["review the query fingerprints below and the application's pool settings"],
      computed
    }
  }

  let summary: string
  switch (classification.class) {
    case "leak_after_deploy": {
      const sha = facts.lastDeploySha ?? "the last release"
      summary = `restart + fix the connection leak in release ${sha}`
      actions.push(
        `restart the deployment running ${sha} to drain the leaked connections`,
        `fix the connection leak in release ${sha}: a code path that opens a transaction or checks out a connection without returning it${statementsIn(facts, isIdleInTx)}`,
        `roll back to the previous release if the fix is not ready`
      )
      settings.push({ system: "postgresql", setting: "idle_in_transaction_session_timeout", value: idleTimeout, scope, reason: "a safety net: a leaked transaction is ended by the server instead of pinning a connection" })
      break
    }
    case "idle_in_tx_backlog": {
      summary = `end abandoned transactions server-side (idle_in_transaction_session_timeout = '${idleTimeout}') and fix the code that leaves them open`
      settings.push({
        system: "postgresql",
        setting: "idle_in_transaction_session_timeout",
        value: idleTimeout,
        scope,
        reason: `sessions sat idle in transaction beyond ${seconds(facts.idleInTxMs ?? 30_000)}; the server then ends them itself`
      })
      actions.push(`commit or roll back in a finally block on every path that begins a transaction${statementsIn(facts, isIdleInTx)}`)
      break
    }
    case "long_running_query": {
      const budget = seconds(facts.queryBudgetMs ?? 120_000)
      summary = `bound statements with statement_timeout = '${budget}' and fix the slow statements`
      settings.push({ system: "postgresql", setting: "statement_timeout", value: budget, scope, reason: "statements over the budget held connections the pool needed" })
      actions.push(`EXPLAIN (ANALYZE, BUFFERS) the slow statements and add the missing indexes or rewrite them${statementsIn(facts, (s) => s === "active")}`)
      break
    }
    case "missing_pgbouncer": {
      summary = facts.pgbouncer === null || facts.pgbouncer === undefined
        ? "put pgbouncer in transaction pooling in front of the database"
        : "raise pgbouncer's pool within the database's capacity (transaction pooling)"
      poolSizing()
      break
    }
    case "runaway_cron_fanout": {
      const app = facts.topApplication
      const cap = B === undefined ? undefined : Math.max(2, Math.floor(B * BATCH_SHARE))
      summary = `route ${app?.name ?? "the batch job"} through its own small pgbouncer transaction pool and cap its concurrency`
      if (cap === undefined) missing("max_connections and superuser_reserved_connections")
      else {
        computed.batch_cap = cap
        settings.push({
          system: "pgbouncer",
          setting: "pool_size",
          value: String(cap),
          scope: `pgbouncer.ini [databases] entry for ${app?.name ?? "the batch job"} (pool_mode = transaction)`,
          reason: `${app?.name ?? "one application"} held ${app?.connections ?? "many"} connections; ${cap} is ${Math.round(BATCH_SHARE * 100)}% of the budget ${B}`
        })
        const role = app?.role ?? null
        if (role !== null && role !== "") {
          settings.push({ system: "postgresql", setting: "CONNECTION LIMIT", value: String(cap), scope: `role ${role}`, reason: "a hard server-side cap on the batch role" })
        }
        actions.push(`limit the job's worker concurrency to ${cap} and stagger the schedule so runs do not overlap`)
      }
      break
    }
    case "undersized_pool": {
      summary = "size the pools from the database's capacity and the observed peak"
      poolSizing()
      break
    }
    default:
      summary = `no permanent fix is known for class ${classification.class}`
  }
  return { class: classification.class, summary, settings, actions, computed }
}

/** The facts a permanent fix needs, from the six-class diagnosis. */
export const fixFactsOf = (
  facts: PoolFacts,
  extra: Partial<FixFacts> & { readonly superuserReserved?: number } = {}
): FixFacts => {
  const byApp = new Map<string, { n: number; role: string | null }>()
  const roles = new Map<string, number>()
  const databases = new Map<string, number>()
  for (const s of facts.sessions) {
    const a = byApp.get(s.application_name) ?? { n: 0, role: s.usename }
    a.n++
    byApp.set(s.application_name, a)
    if (s.usename !== null) roles.set(s.usename, (roles.get(s.usename) ?? 0) + 1)
    if (s.datname !== null) databases.set(s.datname, (databases.get(s.datname) ?? 0) + 1)
  }
  const top = <K>(m: Map<K, number>): K | null => {
    let best: K | null = null
    let n = -1
    for (const [k, v] of m) if (v > n) [best, n] = [k, v]
    return best
  }
  const topApp = [...byApp.entries()].sort((a, b) => b[1].n - a[1].n)[0]
  const perProcess = facts.poolSettings === null ? [] : Object.values(facts.poolSettings.maxConnectionsPerProcess)
  const pools = facts.pgbouncer?.pools ?? []
  return {
    capacity: facts.utilization.available,
    observedPeak: facts.utilization.clientBackends,
    pgbouncer: facts.pgbouncer === null
      ? null
      : {
        pools: pools.length,
        poolSize: pools.reduce((m, p) => Math.max(m, p.poolSize), 0),
        waiting: facts.pgbouncer.waiting
      },
    ...(perProcess.length > 0 ? { appPoolPerProcess: Math.max(...perProcess) } : {}),
    lastDeploySha: facts.lastDeploy?.sha ?? null,
    role: top(roles),
    database: top(databases),
    topApplication: topApp === undefined ? null : { name: topApp[0], connections: topApp[1].n, role: topApp[1].role },
    ...extra,
    groups: extra.groups ?? group(facts.sessions.map(sampleOfSession))
  }
}

// ------------------------------------------------------------------------------- the report part

/** Options of {@link make}. */
export interface PostmortemOptions extends GroupOptions {
  /** Overrides and additions to the facts derived from the diagnosis (processes, reserved …). */
  readonly facts?: Partial<FixFacts>
}

/**
 * The postmortem object for `IncidentReport.postmortem`: the classification, the permanent fix
 * (settings as a table, actions as a list, computed quantities) and the query fingerprints (a
 * table of flat rows). Contains no statement text beyond fingerprints (literals never survive).
 */
export const fromFix = (
  classification: Classification.Classification,
  fix: PermanentFix,
  groups: ReadonlyArray<FingerprintGroup>
): { readonly [k: string]: Json.Json } => ({
  class: fix.class,
  confidence: classification._tag === "Classified" ? classification.confidence : null,
  summary: fix.summary,
  permanent_fix: {
    settings: fix.settings.map((s) => ({ ...s })),
    actions: [...fix.actions],
    computed: { ...fix.computed }
  },
  query_fingerprints: groupRows(groups)
})

/** The postmortem of a six-class incident from its diagnosis and classification. */
export const make = (
  classification: Classification.Classification,
  facts: PoolFacts,
  options: PostmortemOptions = {}
): { readonly [k: string]: Json.Json } => {
  const groups = group(facts.sessions.map(sampleOfSession), options)
  const fixFacts = fixFactsOf(facts, { groups, ...options.facts })
  return fromFix(classification, permanentFix(classification, fixFacts), groups)
}
