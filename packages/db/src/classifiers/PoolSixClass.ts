/**
 * The classifier of `db.pool.six-class` ("Detects database connection pool exhaustion across
 * Postgres, MySQL, and pgbouncer"): first match, in the seed's order, confidence ≥ 0.70.
 *
 * | order | class | rule (defaults) | confidence |
 * |---|---|---|---|
 * | 1 | leak_after_deploy | a deploy marker within `deployWindowMs` (1 h) before the samples, a rising idle-in-transaction trend, and a session it left behind: ≥ 1 idle in transaction for longer than 30 s | 0.88 |
 * | 2 | idle_in_tx_backlog | ≥ 3 sessions idle in transaction for longer than 30 s | 0.91 |
 * | 3 | long_running_query | ≥ 2 statements over the 120 s budget, or 1 over 10 min (waiters in a lock chain count; the reasons and evidence name the chains' roots and waiters) | 0.85 |
 * | 4 | missing_pgbouncer | pgbouncer present and clients waiting > 0 | 0.80 |
 * | 5 | runaway_cron_fanout | one application_name that looks like batch work (`cron|job|worker|batch|scheduler`) holds ≥ 15 connections | 0.82 |
 * | 6 | undersized_pool | utilization ≥ 85 % with none of the causes above | 0.75 |
 *
 * The 30 s and 120 s thresholds, the missing_pgbouncer reading and the batch-name pattern are
 * the catalog's rulings where the seed is silent. Every number is an option.
 *
 * **A leak leaves sessions behind** (ruling, from the replay corpus' `deploy-recent-transaction-churn`):
 * a busy service always has sessions idle in transaction for a few milliseconds between two
 * statements, so three samples a second apart can read 1 → 2 → 4 after any deploy. That is
 * transaction churn, not a leak, and its plan (terminate the old sessions, restart the
 * deployment) would restart a healthy service with nothing to terminate. leak_after_deploy
 * therefore also needs what the seed's plan for it acts on first ("terminate old idle-in-tx
 * sessions"): at least one session idle in transaction past `idleInTxMs`.
 *
 * @since 0.1.0
 */
import { Classifier } from "@byteport/core"
import type { PoolFacts } from "../diagnosers/PoolDiagnoser"
import * as PgActivity from "../probes/PgActivity"
import * as LockChain from "../sessions/LockChain"

/** The six classes, in the seed's order. */
export const CLASSES = [
  "leak_after_deploy",
  "idle_in_tx_backlog",
  "long_running_query",
  "missing_pgbouncer",
  "runaway_cron_fanout",
  "undersized_pool"
] as const

/** One of the six classes. */
export type PoolClass = typeof CLASSES[number]

/** The seed's confidences. */
export const CONFIDENCES: Readonly<Record<PoolClass, number>> = {
  leak_after_deploy: 0.88,
  idle_in_tx_backlog: 0.91,
  long_running_query: 0.85,
  missing_pgbouncer: 0.8,
  runaway_cron_fanout: 0.82,
  undersized_pool: 0.75
}

/** Thresholds (all overridable). */
export interface Thresholds {
  readonly idleInTxMs: number
  readonly idleInTxMinSessions: number
  readonly queryBudgetMs: number
  readonly longQueriesMin: number
  readonly veryLongQueryMs: number
  readonly fanoutMinConnections: number
  readonly fanoutPattern: RegExp
  readonly undersizedRatio: number
  readonly deployWindowMs: number
}

/** The defaults. */
export const DEFAULT_THRESHOLDS: Thresholds = {
  idleInTxMs: 30_000,
  idleInTxMinSessions: 3,
  queryBudgetMs: 120_000,
  longQueriesMin: 2,
  veryLongQueryMs: 600_000,
  fanoutMinConnections: 15,
  fanoutPattern: /cron|job|worker|batch|scheduler/i,
  undersizedRatio: 0.85,
  deployWindowMs: 3_600_000
}

const fingerprint = (s: PgActivity.PgSession) => s.query_id ?? (s.query ?? "").slice(0, 120)

/**
 * Pure: the long_running_query rule on the running times of the statements already over the
 * budget: ≥ `longQueriesMin` of them, or one over `veryLongQueryMs` (shared with `db.pool.multi-engine`).
 */
export const longQueries = (
  overBudgetMs: ReadonlyArray<number>,
  t: Pick<Thresholds, "longQueriesMin" | "veryLongQueryMs">
): { readonly matched: boolean; readonly veryLong: number } => {
  const veryLong = overBudgetMs.filter((ms) => ms > t.veryLongQueryMs).length
  return { matched: overBudgetMs.length >= t.longQueriesMin || veryLong >= 1, veryLong }
}

/** The rules, in the seed's order. */
export const rules = (overrides: Partial<Thresholds> = {}): ReadonlyArray<Classifier.Rule<PoolFacts>> => {
  const t = { ...DEFAULT_THRESHOLDS, ...overrides }
  const rule = Classifier.rule<PoolFacts>()
  return [
    rule({
      class: "leak_after_deploy",
      confidence: CONFIDENCES.leak_after_deploy,
      needs: ["lastDeploy", "idleInTxTrend", "sessions"],
      when: ({ idleInTxTrend, lastDeploy, sessions }) => {
        const recent = lastDeploy !== null && lastDeploy.at <= idleInTxTrend.sampledAt &&
          idleInTxTrend.sampledAt - lastDeploy.at <= t.deployWindowMs
        // A leak leaves sessions behind: a rise of sessions that never stay idle is churn (module docs).
        const left = PgActivity.idleInTransactionOf(sessions, t.idleInTxMs).length
        return {
          matched: recent && idleInTxTrend.rising && left >= 1,
          reasons: lastDeploy === null ? [] : [
            `deploy ${lastDeploy.sha} ${Math.round((idleInTxTrend.sampledAt - lastDeploy.at) / 1000)} s before the samples`,
            `idle-in-transaction sessions ${idleInTxTrend.rising ? "rising" : "not rising"}${idleInTxTrend.application !== undefined && idleInTxTrend.application !== "*" ? ` (application ${JSON.stringify(idleInTxTrend.application)})` : ""}: ${idleInTxTrend.samples.join(" → ")}`,
            `${left} session(s) idle in transaction for more than ${t.idleInTxMs / 1000} s${left >= 1 ? "" : " (none left behind: transaction churn, not a leak)"}`
          ],
          evidence: { deploySha: lastDeploy?.sha ?? null, idleInTxSamples: [...idleInTxTrend.samples] }
        }
      }
    }),
    rule({
      class: "idle_in_tx_backlog",
      confidence: CONFIDENCES.idle_in_tx_backlog,
      needs: ["sessions"],
      when: ({ sessions }) => {
        const old = PgActivity.idleInTransactionOf(sessions, t.idleInTxMs)
        return {
          matched: old.length >= t.idleInTxMinSessions,
          reasons: [`${old.length} session(s) idle in transaction for more than ${t.idleInTxMs / 1000} s`],
          evidence: { pids: old.map((s) => s.pid), applications: [...new Set(old.map((s) => s.application_name))] }
        }
      }
    }),
    rule({
      class: "long_running_query",
      confidence: CONFIDENCES.long_running_query,
      needs: ["sessions"],
      when: ({ sessions }) => {
        const long = PgActivity.longRunningOf(sessions, t.queryBudgetMs)
        const verdict = longQueries(long.map((s) => s.query_age_ms ?? 0), t)
        // The class counts every statement over budget (the seed's numbers); the chains only say
        // which of them wait, for the report and the plan (sessions/LockChain).
        const chains = LockChain.resolve(sessions, { budgetMs: t.queryBudgetMs, idleInTxMs: t.idleInTxMs })
        const waiting = chains.leftAlone.length
        return {
          matched: verdict.matched,
          reasons: [
            `${long.length} statement(s) over the ${t.queryBudgetMs / 1000} s budget, ${verdict.veryLong} over ${t.veryLongQueryMs / 60_000} min`,
            ...(chains.chains.length === 0 && chains.cycles.length === 0
              ? []
              : [`${waiting} over budget only wait on a lock; ${LockChain.describe(chains).join("; ")}`])
          ],
          evidence: {
            pids: long.map((s) => s.pid),
            fingerprints: [...new Set(long.map(fingerprint))],
            ...(chains.chains.length === 0 && chains.cycles.length === 0 ? {} : {
              rootBlockers: chains.chains.map((c) => c.root),
              waiters: chains.leftAlone.map((w) => w.session.pid),
              cycles: chains.cycles.map((c) => [...c])
            })
          }
        }
      }
    }),
    rule({
      class: "missing_pgbouncer",
      confidence: CONFIDENCES.missing_pgbouncer,
      needs: ["pgbouncer"],
      when: ({ pgbouncer }) => ({
        matched: pgbouncer !== null && pgbouncer.waiting > 0,
        reasons: pgbouncer === null ? ["no pgbouncer in front of the database"] : [`${pgbouncer.waiting} pgbouncer client(s) waiting`],
        evidence: { waiting: pgbouncer?.waiting ?? 0 }
      })
    }),
    rule({
      class: "runaway_cron_fanout",
      confidence: CONFIDENCES.runaway_cron_fanout,
      needs: ["sessions"],
      when: ({ sessions }) => {
        const counts = PgActivity.breakdownOf(sessions).byApplication
        const offenders = Object.entries(counts)
          .filter(([name, n]) => n >= t.fanoutMinConnections && t.fanoutPattern.test(name))
          .sort((a, b) => b[1] - a[1])
        return {
          matched: offenders.length > 0,
          reasons: offenders.map(([name, n]) => `application ${JSON.stringify(name)} holds ${n} connections`),
          evidence: { applications: Object.fromEntries(offenders) }
        }
      }
    }),
    rule({
      class: "undersized_pool",
      confidence: CONFIDENCES.undersized_pool,
      needs: ["utilization"],
      when: ({ utilization }) => ({
        matched: utilization.ratio >= t.undersizedRatio,
        reasons: [`utilization ${(utilization.ratio * 100).toFixed(1)}% (${utilization.clientBackends}/${utilization.available}) with no dominant cause`],
        evidence: { ratio: utilization.ratio, clientBackends: utilization.clientBackends, available: utilization.available }
      })
    })
  ]
}

/** The classifier: first match in the seed's order, minimum confidence 0.70. */
export const classifier = (
  overrides: Partial<Thresholds> = {},
  options: Classifier.FirstMatchOptions = {}
): Classifier.Classifier<PoolFacts> => Classifier.firstMatch(rules(overrides), { minConfidence: 0.7, ...options })
