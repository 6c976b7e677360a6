/**
 * Recorded replication polls, as psql exports them, replayed through `db.replica.lag`'s lag
 * tracker and detector hold: "would it have fired, and when?"
 *
 * One export, one row per poll, the columns named as below (CSV from `psql --csv`, or JSON from
 * `json_agg`). Record it with a loop over both servers, e.g. every second:
 *
 * ```sh
 * while sleep 1; do
 *   p=$(psql -XAt "$PRIMARY" -c "SELECT now(), pg_current_wal_lsn()")       # at|primary_lsn
 *   r=$(psql -XAt "$REPLICA" -c "SELECT pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()")
 *   echo "${p%%|*},${p##*|},${r%%|*},${r##*|}"
 * done   # under the header  at,primary_lsn,receive_lsn,replay_lsn
 * ```
 *
 * | column | meaning |
 * |---|---|
 * | `at` | timestamptz when the primary's LSN was read (the poll's time) |
 * | `primary_lsn` | `pg_current_wal_lsn()` on the primary |
 * | `receive_lsn` | `pg_last_wal_receive_lsn()` on the replica (empty = NULL) |
 * | `replay_lsn` | `pg_last_wal_replay_lsn()` on the replica (empty = NULL) |
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { ReplicaLag, ReplicaLagDetector } from "@byteport/db"
import { DecodeError, instant, read, row, type Table } from "./Table"

/** An export: a file path or a parsed table. */
export type Source = string | Table

/** Pure (throws {@link DecodeError}): the polls of an export, in row order. */
export const samplesOf = (t: Table): ReadonlyArray<ReplicaLag.Sample> =>
  t.rows.map((_, i) => {
    const r = row(t, i)
    const atText = r.string("at")
    const at = instant(atText)
    if (at === null) throw r.fail("at", `not a timestamptz: ${JSON.stringify(atText)}`)
    const lsn = (c: string, nullable: boolean) => {
      const v = nullable ? r.stringOrNull(c) : r.string(c)
      if (v !== null) {
        try {
          ReplicaLag.lsnToBigInt(v)
        } catch {
          throw r.fail(c, `not an LSN: ${JSON.stringify(v)}`)
        }
      }
      return v
    }
    return { at: at.ms, primaryLsn: lsn("primary_lsn", false)!, receiveLsn: lsn("receive_lsn", true), replayLsn: lsn("replay_lsn", true) }
  })

/** The polls of an export. */
export const samples = (source: Source): Effect.Effect<ReadonlyArray<ReplicaLag.Sample>, DecodeError> =>
  Effect.flatMap(typeof source === "string" ? read(source) : Effect.succeed(source), (t) =>
    Effect.try({ try: () => samplesOf(t), catch: (e) => (e instanceof DecodeError ? e : new DecodeError({ file: t.file, row: null, column: null, message: String(e) })) }))

/** One replayed poll: its lag, how long the lag has been held over the threshold, whether the detector fires. */
export interface Replayed {
  readonly lag: ReplicaLag.Lag
  readonly heldMs: number
  readonly fires: boolean
}

/** Pure: replays polls through a fresh tracker and the detector's hold (thresholds default to the seed's 30 s / 60 s). */
export const replay = (
  polls: ReadonlyArray<ReplicaLag.Sample>,
  options: { readonly thresholdMs?: number; readonly holdMs?: number } = {}
): ReadonlyArray<Replayed> => {
  const tracker = ReplicaLag.makeTracker()
  let state: ReplicaLagDetector.HoldState = { overSince: undefined }
  return polls.map((p) => {
    const lag = tracker.record(p)
    const next = ReplicaLagDetector.step(state, lag, options.thresholdMs, options.holdMs)
    state = next.state
    return { lag, heldMs: next.heldMs, fires: next.fires }
  })
}
