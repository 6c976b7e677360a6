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
 * @since 0.1.0
 */
import { Diagnoser } from "@byteport/core"
import type { Signal } from "@byteport/core"
import { Clock, Duration, Effect, Option } from "effect"
import { PgBouncer } from "../PgBouncer"
import type { Postgres } from "../Postgres"
import * as PgActivity from "../probes/PgActivity"
import * as PoolSettings from "../probes/PoolSettings"
import * as Utilization from "../Utilization"

/** A deploy marker: which revision went out, and when (ms since the epoch). */
export interface DeployMarker {
  readonly sha: string
  readonly at: number
}

/** The idle-in-transaction session count, sampled a few times. */
export interface Trend {
  readonly samples: ReadonlyArray<number>
  /** When the last sample was taken (ms since the epoch). */
  readonly sampledAt: number
  /** The last sample is above the first and no sample fell below its predecessor. */
  readonly rising: boolean
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
}

/** Pure: a trend from samples. */
export const trendOf = (samples: ReadonlyArray<number>, sampledAt: number): Trend => ({
  samples,
  sampledAt,
  rising: samples.length >= 2 && (samples.at(-1) ?? 0) > (samples[0] ?? 0) && samples.every((s, i) => i === 0 || s >= (samples[i - 1] ?? 0))
})

const idleInTxCount = Effect.map(
  PgActivity.sessions,
  (rows) => rows.filter((s) => s.state === "idle in transaction" || s.state === "idle in transaction (aborted)").length
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

/** The diagnoser. */
export const make = (options: Options = {}): Diagnoser.Diagnoser<PoolFacts, Postgres> => {
  const samples = Math.max(2, options.trendSamples ?? 3)
  const interval = options.trendInterval ?? "1 second"
  return Diagnoser.make<PoolFacts, Postgres>({
    utilization: Diagnoser.probe("utilization", () => Utilization.postgres),
    sessions: Diagnoser.probe("pg_stat_activity", () => PgActivity.sessions),
    idleInTxTrend: Diagnoser.probe("idle_in_tx_trend", () =>
      Effect.gen(function*() {
        const out: Array<number> = []
        for (let i = 0; i < samples; i++) {
          if (i > 0) yield* Effect.sleep(interval)
          out.push(yield* idleInTxCount)
        }
        return trendOf(out, yield* Clock.currentTimeMillis)
      })),
    lastDeploy: Diagnoser.probe("last_deploy", (signal) =>
      options.lastDeploy === undefined ? Effect.succeed(deployFromEvidence(signal)) : options.lastDeploy(signal)),
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
}
