/**
 * The diagnosis of a PostgreSQL pool-exhaustion signal: PostgreSQL utilization, every client
 * session (`pg_stat_activity` + `rolsuper`), the idle-in-transaction trend over a few samples,
 * pgbouncer's pools when a PgBouncer service is provided, the last deploy marker, and the
 * application pool settings (Hikari / SQLAlchemy / pgx) when an env record is supplied. Each
 * probe runs concurrently with its own timeout; a failed probe becomes an Unknown fact.
 *
 * Facts that are *absent* rather than unknown are `null`: no pgbouncer in front of the database,
 * no deploy source configured, no env record supplied.
 *
 * The idle-in-transaction trend comes from the connection history (`ConnectionHistory`: the
 * detector's polls in the GuardrailStore, plus optional Prometheus series) over the samples since
 * the last deploy, when there are enough of them; otherwise from a few samples taken now. The
 * last deploy comes from `options.lastDeploy`, the signal's evidence, or the `DeployMarkers`
 * service, in that order.
 *
 * @since 0.1.0
 */
import { Diagnoser, GuardrailStore } from "@byteport/core"
import type { Signal } from "@byteport/core"
import { Clock, Duration, Effect, Option } from "effect"
import * as ConnectionHistory from "../history/ConnectionHistory"
import { DeployMarkers } from "../history/DeployMarkers"
import { PgBouncer } from "../PgBouncer"
import { Postgres as PostgresService } from "../Postgres"
import type { Postgres } from "../Postgres"
import * as PgActivity from "../probes/PgActivity"
import * as PoolSettings from "../probes/PoolSettings"
import * as Utilization from "../Utilization"

/** A deploy marker: which revision went out, and when (ms since the epoch); optionally the workload rolled out and its application_name. */
export interface DeployMarker {
  readonly sha: string
  readonly at: number
  readonly workload?: string | undefined
  readonly application?: string | undefined
}

/** The idle-in-transaction session count, sampled a few times. */
export interface Trend {
  readonly samples: ReadonlyArray<number>
  /** When the last sample was taken (ms since the epoch). */
  readonly sampledAt: number
  /**
   * Short samples: the last sample is above the first and no sample fell below its predecessor.
   * History: the `ConnectionHistory.leakTrend` verdict (Kendall tau, Theil–Sen rise).
   */
  readonly rising: boolean
  /** `history` when decided from the connection history, absent for the short samples. */
  readonly source?: "history" | undefined
  /** The application whose idle-in-transaction sessions decided (`*`: all together); history only. */
  readonly application?: string | undefined
  /** Theil–Sen slope in sessions per minute; history only. */
  readonly slopePerMinute?: number | undefined
  /** When the history window starts (the deploy marker, else the look-back); history only. */
  readonly since?: number | undefined
}

/**
 * Connection utilization as the classifier sees it, for either engine: PostgreSQL client
 * backends over `max_connections - superuser_reserved_connections`, or MySQL
 * `Threads_connected` over `max_connections`.
 */
export interface PoolUtilization {
  readonly engine: string
  readonly ratio: number
  readonly clientBackends: number
  readonly available: number
}

/** The facts of the `db.pool.six-class` classifier. */
export interface PoolFacts {
  readonly utilization: PoolUtilization
  readonly sessions: ReadonlyArray<PgActivity.PgSession>
  readonly idleInTxTrend: Trend
  readonly lastDeploy: DeployMarker | null
  readonly pgbouncer: { readonly waiting: number; readonly pools: ReadonlyArray<Utilization.PgBouncerPoolUtilization> } | null
  readonly poolSettings: PoolSettings.PoolSettings | null
}

/** Diagnoser options. */
export interface Options {
  /** Trend samples (default 3) and the spacing between them (default 1 second). */
  readonly trendSamples?: number
  readonly trendInterval?: Duration.Input
  /** Where the last deploy comes from. Default: the signal's `evidence.lastDeploy` ({ sha, at }), else null. */
  readonly lastDeploy?: (signal: Signal.Signal) => Effect.Effect<DeployMarker | null, unknown>
  /** The application's environment (for pool settings). Default: none (null). */
  readonly appEnv?: (signal: Signal.Signal) => Effect.Effect<Readonly<Record<string, string | undefined>> | null, unknown>
  /** Per-probe timeout (default 10 seconds). */
  readonly timeout?: Duration.Input
  /**
   * The connection history (see `ConnectionHistory`): used when a GuardrailStore is provided,
   * unless `false`. The trend is then decided over the samples since the deploy marker (else
   * `lookback`, default 15 minutes) once there are `trend.minSamples` (4) of them; fewer, and the
   * short samples decide as before.
   */
  readonly history?: false | HistoryOptions
}

/** Options of the connection history in the diagnosis. */
export interface HistoryOptions {
  /** The window when no deploy marker is known (default 15 minutes). */
  readonly lookback?: Duration.Input
  /** Extra samples, e.g. postgres_exporter series from Prometheus (`ConnectionHistory.fromQueryRange`). */
  readonly series?: (signal: Signal.Signal) => Effect.Effect<ReadonlyArray<ConnectionHistory.Sample>, unknown>
  /** Thresholds of the rising test. */
  readonly trend?: ConnectionHistory.TrendOptions
  /** Record the diagnosis' own read in the history (default true). */
  readonly record?: boolean
}

/** Pure: a trend from samples. */
export const trendOf = (samples: ReadonlyArray<number>, sampledAt: number): Trend => ({
  samples,
  sampledAt,
  rising: samples.length >= 2 && (samples.at(-1) ?? 0) > (samples[0] ?? 0) && samples.every((s, i) => i === 0 || s >= (samples[i - 1] ?? 0))
})

const isIdleInTx = (s: PgActivity.PgSession) => s.state === "idle in transaction" || s.state === "idle in transaction (aborted)"

/**
 * SQL of a later trend sample: the idle-in-transaction client backends counted by the server
 * (one row), never a second full `pg_stat_activity` + `pg_blocking_pids` read.
 */
export const IDLE_IN_TX_COUNT_SQL =
  "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND state IN ('idle in transaction', 'idle in transaction (aborted)')"

const idleInTxCount: Effect.Effect<number, unknown, Postgres> = PostgresService.use((db) =>
  Effect.map(db.query(IDLE_IN_TX_COUNT_SQL), (rows) => Number((rows[0] as { n?: unknown } | undefined)?.n ?? 0))
)


/** Reads a `{ sha, at }` deploy marker from a signal's evidence. */
export const deployFromEvidence = (signal: Signal.Signal): DeployMarker | null => {
  const d = signal.evidence.lastDeploy
  if (d !== null && typeof d === "object" && !Array.isArray(d)) {
    const rec = d as { readonly [k: string]: unknown }
    if (typeof rec.sha === "string" && typeof rec.at === "number") return { sha: rec.sha, at: rec.at }
  }
  return null
}

/**
 * The last deploy: `options.lastDeploy` when given, else the signal's evidence, else the
 * `DeployMarkers` service when one is provided, else null.
 */
export const lastDeployOf = (options: Options) => (signal: Signal.Signal): Effect.Effect<DeployMarker | null, unknown> =>
  options.lastDeploy !== undefined ? options.lastDeploy(signal) : Effect.gen(function*() {
    const fromEvidence = deployFromEvidence(signal)
    if (fromEvidence !== null) return fromEvidence
    const markers = yield* Effect.serviceOption(DeployMarkers)
    if (Option.isNone(markers)) return null
    const m = yield* markers.value.last(signal)
    return m === null ? null : { sha: m.sha, at: m.at, ...(m.workload !== undefined ? { workload: m.workload } : {}), ...(m.application !== undefined ? { application: m.application } : {}) }
  })

/**
 * The trend from the connection history (undefined: no GuardrailStore, history disabled, or too
 * few samples in the window). Records the current read unless `record: false`.
 */
export const historyTrend = (
  options: Options,
  signal: Signal.Signal,
  sessions: Effect.Effect<ReadonlyArray<PgActivity.PgSession>, unknown, Postgres> = PgActivity.sessions
): Effect.Effect<Trend | undefined, unknown, Postgres> =>
  Effect.gen(function*() {
    if (options.history === false) return undefined
    const h = options.history ?? {}
    const store = yield* Effect.serviceOption(GuardrailStore.GuardrailStore)
    if (Option.isNone(store)) return undefined
    const now = yield* Clock.currentTimeMillis
    const current = ConnectionHistory.sampleOf(yield* sessions, now)
    // An unreadable history or series leaves what remains (at worst the short samples decide).
    const stored = yield* ConnectionHistory.read(signal.target).pipe(
      Effect.provideService(GuardrailStore.GuardrailStore, store.value),
      Effect.orElseSucceed((): ReadonlyArray<ConnectionHistory.Sample> => [])
    )
    if (h.record ?? true) {
      yield* ConnectionHistory.record(signal.target, current).pipe(Effect.provideService(GuardrailStore.GuardrailStore, store.value), Effect.ignore)
    }
    const series = h.series === undefined ? [] : yield* h.series(signal).pipe(Effect.orElseSucceed((): ReadonlyArray<ConnectionHistory.Sample> => []))
    // A deploy source that fails leaves the look-back window (the lastDeploy fact says Unknown on its own).
    const deploy = yield* lastDeployOf(options)(signal).pipe(Effect.orElseSucceed(() => null))
    const since = deploy !== null && deploy.at <= now ? deploy.at : now - Duration.toMillis(Duration.fromInputUnsafe(h.lookback ?? "15 minutes"))
    const all = ConnectionHistory.merge(ConnectionHistory.merge(stored, series), [current])
    const t = ConnectionHistory.leakTrend(all, since, h.trend)
    if (t === undefined || t.samples < (h.trend?.minSamples ?? 4)) return undefined
    return {
      samples: t.series.values,
      sampledAt: t.to,
      rising: t.series.rising,
      source: "history" as const,
      application: t.series.application,
      slopePerMinute: Math.round(t.series.slopePerMinute * 1000) / 1000,
      since
    }
  })

/** The diagnoser. */
export const make = (options: Options = {}): Diagnoser.Diagnoser<PoolFacts, Postgres> => {
  const samples = Math.max(2, options.trendSamples ?? 3)
  const interval = options.trendInterval ?? "1 second"
  // One full session read per diagnosis: the `pg_stat_activity` + `pg_blocking_pids` rows the
  // sessions fact, the history's current sample and the trend's first sample all derive from.
  const diagnoser = (read: Effect.Effect<ReadonlyArray<PgActivity.PgSession>, unknown, Postgres>) =>
    Diagnoser.make<PoolFacts, Postgres>({
      utilization: Diagnoser.probe("utilization", () => Utilization.postgres),
      sessions: Diagnoser.probe("pg_stat_activity", () => read),
      idleInTxTrend: Diagnoser.probe("idle_in_tx_trend", (signal) =>
        Effect.gen(function*() {
          const fromHistory = yield* historyTrend(options, signal, read)
          if (fromHistory !== undefined) return fromHistory
          // the first sample is the diagnosis's one session read; later ones a server-side count
          const out: Array<number> = [(yield* read).filter(isIdleInTx).length]
          for (let i = 1; i < samples; i++) {
            yield* Effect.sleep(interval)
            out.push(yield* idleInTxCount)
          }
          return trendOf(out, yield* Clock.currentTimeMillis)
        })),
      lastDeploy: Diagnoser.probe("last_deploy", lastDeployOf(options)),
      pgbouncer: Diagnoser.probe("pgbouncer", () =>
        Effect.gen(function*() {
          const bouncer = yield* Effect.serviceOption(PgBouncer)
          if (Option.isNone(bouncer)) return null
          const pools = yield* Utilization.pgbouncer.pipe(Effect.provideService(PgBouncer, bouncer.value))
          return { waiting: pools.reduce((n, p) => n + p.clientsWaiting, 0), pools }
        })),
      poolSettings: Diagnoser.probe("pool_settings", (signal) =>
        options.appEnv === undefined
          ? Effect.succeed(null)
          : Effect.map(options.appEnv(signal), (env) => (env === null ? null : PoolSettings.fromEnv(env))))
    }, { timeout: options.timeout ?? "10 seconds" })
  return (signal): ReturnType<Diagnoser.Diagnoser<PoolFacts, Postgres>> => Effect.flatMap(Effect.cached(PgActivity.sessions), (read) => diagnoser(read)(signal))
}
