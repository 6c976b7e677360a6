/**
 * The classifier of `db.replica.lag`, in the seed's order ("distinguishing between network
 * latency, disk I/O saturation, and long-running queries on the primary"), first match:
 *
 * | order | class | rule | confidence |
 * |---|---|---|---|
 * | 1 | network_latency | the replica has not **received** most of the backlog (primary − received ≥ received − replayed, and > 0), or its walreceiver is not streaming; no long-running writer on the primary explains the WAL volume. Evidence: `reply_time` age, write/flush lag, last message age | 0.85 |
 * | 2 | disk_io_saturation | the WAL **arrived** and replay trails (received − replayed > primary − received); replay not paused; the startup process waited on `IO/*` (e.g. `IO/WALRead`, `IO/DataFileRead`) in at least half of the looks and never on `Lock`. `/proc/pressure/io` is reported as corroboration (it only sees the agent's host) | 0.80 |
 * | 3 | long_running_queries_on_primary (standby queries block replay) | the startup process waits on `Lock` and standby sessions hold that lock (matched by lock tag in `pg_locks`; `pg_blocking_pids(startup)` is `{}` on PostgreSQL 15), or it waits on a snapshot / tablespace / buffer-pin conflict (`IPC/RecoveryConflictSnapshot` …) and standby sessions hold a snapshot older than the lag. The replica's query conflicts with what the primary's statement (an ALTER, a VACUUM, page pruning) replays; `max_standby_streaming_delay = -1` lets it block replay forever (the 30 s default cancels it instead) | 0.90 |
 * | 4 | long_running_queries_on_primary (a primary statement floods WAL) | a statement on the primary has been writing for longer than the budget (default 60 s) while the replica trails, replay not blocked by a conflicting standby query | 0.75 |
 *
 * Nothing matched (e.g. replay paused on purpose, `IPC/RecoveryPause`) → Unclassified: the
 * runbook escalates with the facts. The seed gives no confidences: these are this runbook's
 * (≥ 0.70, RUNBOOKS.md). The class names are the seed's words.
 *
 * @since 0.1.0
 */
import { Classifier } from "@byteport/core"
import type { ReplicaLagFacts } from "../diagnosers/ReplicaLagDiagnoser"
import type * as PgActivity from "../probes/PgActivity"

/** The classes, in the seed's order. */
export const CLASSES = ["network_latency", "disk_io_saturation", "long_running_queries_on_primary"] as const

/** One of the classes. */
export type ReplicaLagClass = typeof CLASSES[number]

/** The causes behind `long_running_queries_on_primary` (in the evidence as `cause`). */
export type LongRunningCause = "standby_queries_block_replay" | "primary_statement_floods_wal"

/** This runbook's confidences per rule (the seed gives none). */
export const CONFIDENCES = {
  network_latency: 0.85,
  disk_io_saturation: 0.8,
  standby_queries_block_replay: 0.9,
  primary_statement_floods_wal: 0.75
} as const

/** Thresholds. */
export interface Thresholds {
  /** Share of the startup looks on `IO/*` needed for disk_io_saturation (default 0.5). */
  readonly ioWaitShare: number
}

/** The defaults. */
export const DEFAULT_THRESHOLDS: Thresholds = { ioWaitShare: 0.5 }

/** Allowance for clock and poll skew when comparing a snapshot holder's transaction age with the lag (ms). */
export const SNAPSHOT_AGE_SLACK_MS = 1_000

/**
 * Pure: the standby sessions blocking replay: the holders of the lock the startup process waits
 * on (when it waits on `Lock`), and, when it waits on a snapshot / tablespace / buffer-pin
 * conflict, the snapshot holders whose transaction is older than the lag (less 1 s for skew):
 * they took their snapshot before replay stalled. Longest transaction first, no duplicates.
 */
export const replayBlockersOf = (f: Pick<ReplicaLagFacts, "lag" | "startup" | "blockers" | "snapshotBlockers">): ReadonlyArray<PgActivity.PgSession> => {
  const out: Array<PgActivity.PgSession> = []
  if (f.startup.lock > 0) out.push(...f.blockers)
  if (f.startup.conflict > 0) {
    for (const b of f.snapshotBlockers) {
      const age = b.xact_age_ms ?? b.query_age_ms ?? 0
      if (age >= f.lag.lagMs - SNAPSHOT_AGE_SLACK_MS && !out.some((o) => o.pid === b.pid)) out.push(b)
    }
  }
  return out.sort((a, b) => (b.xact_age_ms ?? b.query_age_ms ?? 0) - (a.xact_age_ms ?? a.query_age_ms ?? 0))
}

const mb = (b: number) => `${(b / (1024 * 1024)).toFixed(2)} MB`
const s = (ms: number | null | undefined) => (ms === null || ms === undefined ? "?" : `${(ms / 1000).toFixed(1)} s`)

/** The rules, in order. */
export const rules = (overrides: Partial<Thresholds> = {}): ReadonlyArray<Classifier.Rule<ReplicaLagFacts>> => {
  const t = { ...DEFAULT_THRESHOLDS, ...overrides }
  const rule = Classifier.rule<ReplicaLagFacts>()
  return [
    rule({
      class: "network_latency",
      confidence: CONFIDENCES.network_latency,
      needs: ["lag", "receiver", "standby", "primaryWriters"],
      when: ({ lag, receiver, standby, primaryWriters }) => {
        const notStreaming = receiver === null || receiver.status !== "streaming"
        const behindReceive = lag.unreceivedBytes > 0 && lag.unreceivedBytes >= lag.unreplayedBytes
        return {
          matched: (notStreaming || behindReceive) && primaryWriters.length === 0,
          reasons: [
            notStreaming
              ? `the walreceiver is ${receiver === null ? "not running" : receiver.status}`
              : `${mb(lag.unreceivedBytes)} of WAL not yet received (${mb(lag.unreplayedBytes)} received but not replayed): the network does not keep up, replay does`,
            `last message from the primary ${s(receiver?.last_msg_age_ms)} ago; standby reply ${s(standby?.reply_age_ms)} ago; write lag ${s(standby?.write_lag_ms)}, flush lag ${s(standby?.flush_lag_ms)}`
          ],
          evidence: {
            cause: "network",
            unreceivedBytes: lag.unreceivedBytes,
            unreplayedBytes: lag.unreplayedBytes,
            receiverStatus: receiver?.status ?? null,
            lastMessageAgeMs: receiver?.last_msg_age_ms ?? null,
            replyAgeMs: standby?.reply_age_ms ?? null,
            writeLagMs: standby?.write_lag_ms ?? null,
            flushLagMs: standby?.flush_lag_ms ?? null
          }
        }
      }
    }),
    rule({
      class: "disk_io_saturation",
      confidence: CONFIDENCES.disk_io_saturation,
      needs: ["lag", "startup", "replayPaused", "ioPressure"],
      when: ({ lag, startup, replayPaused, ioPressure }) => {
        const trails = lag.unreplayedBytes > 0 && lag.unreplayedBytes > lag.unreceivedBytes
        const ioShare = startup.samples === 0 ? 0 : startup.io / startup.samples
        return {
          matched: trails && !replayPaused && startup.lock === 0 && startup.conflict === 0 && startup.samples > 0 && ioShare >= t.ioWaitShare,
          reasons: [
            `${mb(lag.unreplayedBytes)} of WAL received but not replayed (${mb(lag.unreceivedBytes)} not received): replay trails`,
            `the startup process (pid ${startup.pid ?? "?"}) waited on I/O in ${startup.io} of ${startup.samples} looks: ${JSON.stringify(startup.counts)}`,
            ioPressure === null ? "/proc/pressure/io not readable" : `/proc/pressure/io some avg10 ${ioPressure.someAvg10}%, full avg10 ${ioPressure.fullAvg10}%`
          ],
          evidence: { cause: "disk_io", unreplayedBytes: lag.unreplayedBytes, startupWaits: startup.counts, ioShare, ioPressure }
        }
      }
    }),
    rule({
      class: "long_running_queries_on_primary",
      confidence: CONFIDENCES.standby_queries_block_replay,
      needs: ["lag", "startup", "blockers", "snapshotBlockers", "settings", "conflicts"],
      when: ({ lag, startup, blockers: lockHolders, snapshotBlockers, settings }) => {
        const blockers = replayBlockersOf({ lag, startup, blockers: lockHolders, snapshotBlockers })
        return {
        matched: (startup.lock > 0 || startup.conflict > 0) && blockers.length > 0,
        reasons: [
          `the startup process (pid ${startup.pid ?? "?"}) waits on a conflicting standby query in ${startup.lock + startup.conflict} of ${startup.samples} looks (${JSON.stringify(startup.counts)}); ${blockers.length} standby session(s) block it: ${blockers.map((b) => `${b.pid} (${JSON.stringify(b.application_name)}, ${b.state}, transaction ${s(b.xact_age_ms)})`).join(", ")}`,
          `${mb(lag.unreplayedBytes)} received but not replayed; max_standby_streaming_delay = ${settings.max_standby_streaming_delay}, hot_standby_feedback = ${settings.hot_standby_feedback}`
        ],
        evidence: {
          cause: "standby_queries_block_replay",
          blockers: blockers.map((b) => b.pid),
          unreplayedBytes: lag.unreplayedBytes,
          maxStandbyStreamingDelay: settings.max_standby_streaming_delay,
          hotStandbyFeedback: settings.hot_standby_feedback
        }
      }
      }
    }),
    rule({
      class: "long_running_queries_on_primary",
      confidence: CONFIDENCES.primary_statement_floods_wal,
      needs: ["lag", "startup", "primaryWriters", "replayPaused"],
      when: ({ lag, startup, primaryWriters, replayPaused }) => ({
        matched: primaryWriters.length > 0 && !replayPaused && startup.lock === 0 && startup.conflict === 0 && lag.unreceivedBytes + lag.unreplayedBytes > 0,
        reasons: [
          `${primaryWriters.length} statement(s) on the primary writing for longer than the budget: ${primaryWriters.map((w) => `${w.pid} (${JSON.stringify(w.application_name)}, ${s(w.query_age_ms)})`).join(", ")}`,
          `the replica trails by ${mb(lag.unreceivedBytes + lag.unreplayedBytes)} (${mb(lag.unreceivedBytes)} not received, ${mb(lag.unreplayedBytes)} not replayed)`
        ],
        evidence: { cause: "primary_statement_floods_wal", writers: primaryWriters.map((w) => w.pid), unreceivedBytes: lag.unreceivedBytes, unreplayedBytes: lag.unreplayedBytes }
      })
    })
  ]
}

/** The classifier: first match, minimum confidence 0.70. */
export const classifier = (overrides: Partial<Thresholds> = {}): Classifier.Classifier<ReplicaLagFacts> =>
  Classifier.firstMatch(rules(overrides), { minConfidence: 0.7 })
