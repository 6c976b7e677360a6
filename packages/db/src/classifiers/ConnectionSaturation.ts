/**
 * The classifier of `db.connections.saturation`: connection leak vs load-driven saturation.
 *
 * | order | class | rule (defaults) | confidence |
 * |---|---|---|---|
 * | 1 | connection_leak | sessions idle in transaction (aborted too) for more than 30 s since `state_change` are **more than 50 %** of the idle sessions (`idle` + `idle in transaction` + `idle in transaction (aborted)`) | 0.85 |
 * | 2 | load_driven_saturation | otherwise (the detector already saw the ratio over 80 %) | 0.75 |
 *
 * The seed gives no confidences: these are this runbook's (≥ 0.70, RUNBOOKS.md). The class
 * names are the seed's words ("connection leaks" vs "load-driven saturation").
 *
 * @since 0.1.0
 */
import { Classifier } from "@byteport/core"
import type { SaturationFacts } from "../diagnosers/SaturationDiagnoser"
import * as PgActivity from "../probes/PgActivity"

/** The classes, in order. */
export const CLASSES = ["connection_leak", "load_driven_saturation"] as const

/** One of the classes. */
export type SaturationClass = typeof CLASSES[number]

/** This runbook's confidences (the seed gives none). */
export const CONFIDENCES: Readonly<Record<SaturationClass, number>> = { connection_leak: 0.85, load_driven_saturation: 0.75 }

/** Thresholds. */
export interface Thresholds {
  /** Idle in transaction longer than this counts as a leak (default 30 s). */
  readonly idleInTxMs: number
  /** Share of the idle sessions that must be stale idle-in-transaction, strictly exceeded (default 0.5). */
  readonly leakShare: number
}

/** The seed's thresholds. */
export const DEFAULT_THRESHOLDS: Thresholds = { idleInTxMs: 30_000, leakShare: 0.5 }

/** The leak share of a set of sessions. */
export interface LeakShare {
  /** Sessions idle in transaction longer than the threshold. */
  readonly stale: number
  /** idle + idle in transaction + idle in transaction (aborted). */
  readonly idle: number
  /** `stale / idle` (0 when nothing is idle). */
  readonly share: number
}

const IDLE = new Set(["idle", "idle in transaction", "idle in transaction (aborted)"])

/** Pure: the leak share. */
export const leakShareOf = (sessions: ReadonlyArray<PgActivity.PgSession>, idleInTxMs: number = DEFAULT_THRESHOLDS.idleInTxMs): LeakShare => {
  const stale = PgActivity.idleInTransactionOf(sessions, idleInTxMs).length
  const idle = sessions.filter((s) => s.state !== null && IDLE.has(s.state)).length
  return { stale, idle, share: idle === 0 ? 0 : stale / idle }
}

/** The rules. */
export const rules = (overrides: Partial<Thresholds> = {}): ReadonlyArray<Classifier.Rule<SaturationFacts>> => {
  const t = { ...DEFAULT_THRESHOLDS, ...overrides }
  const rule = Classifier.rule<SaturationFacts>()
  return [
    rule({
      class: "connection_leak",
      confidence: CONFIDENCES.connection_leak,
      needs: ["sessions"],
      when: ({ sessions }) => {
        const l = leakShareOf(sessions, t.idleInTxMs)
        return {
          matched: l.stale > 0 && l.share > t.leakShare,
          reasons: [`${l.stale} of ${l.idle} idle session(s) idle in transaction for more than ${t.idleInTxMs / 1000} s (${(l.share * 100).toFixed(1)}%, leak above ${(t.leakShare * 100).toFixed(0)}%)`],
          evidence: { stale: l.stale, idle: l.idle, share: l.share }
        }
      }
    }),
    rule({
      class: "load_driven_saturation",
      confidence: CONFIDENCES.load_driven_saturation,
      needs: ["utilization"],
      when: ({ utilization }) => ({
        matched: true,
        reasons: [`${utilization.clientBackends}/${utilization.maxConnections} client backends (${(utilization.ratio * 100).toFixed(1)}%) without a leak`],
        evidence: { ratio: utilization.ratio, clientBackends: utilization.clientBackends, maxConnections: utilization.maxConnections }
      })
    })
  ]
}

/** The classifier: first match, minimum confidence 0.70. */
export const classifier = (overrides: Partial<Thresholds> = {}): Classifier.Classifier<SaturationFacts> =>
  Classifier.firstMatch(rules(overrides), { minConfidence: 0.7 })
