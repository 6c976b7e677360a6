/**
 * Recorded MongoDB incidents, decoded from `currentOp` output as mongosh prints it with
 * `EJSON.stringify` (MongoDB Extended JSON v2: `{"$numberLong": "…"}`, `{"$date": …}`,
 * `{"$binary": …}` / `{"$uuid": …}` session ids; relaxed or canonical), into the operations
 * `MongoActivity.currentOp` reads and the facts of `db.pool.multi-engine`, so a recording replays
 * through the real classifier and remediator.
 *
 * | export | what it becomes |
 * |---|---|
 * | `EJSON.stringify(db.currentOp({ $all: true, idleSessions: true }))` (the command's reply: `{ inprog: [...], ok: 1 }`), or the `$currentOp` aggregation's documents as an array | `MongoActivity.MongoOp` per entry (`opid`, `active`, `secs_running` / `microsecs_running`, `op`, `ns`, `client`, `appName`, `connectionId`, `lsid`, `transaction.timeInactiveMicros`, `effectiveUsers`, `command` shape) — `MongoActivity.decodeOp`, the probe's own decoder |
 * | `EJSON.stringify(db.serverStatus())` (at least `connections`) | the utilization: (`connections.current` − BytePort's own) / (`current` + `available`), as `MongoActivity.utilization` |
 *
 * **Checked.** Each `inprog` entry must be a document; `opid`, `connectionId`, `secs_running`,
 * `microsecs_running` and the transaction's micros must be numbers (plain or `$numberLong`),
 * `active` / `waitingForLock` booleans, `lsid.id` a UUID / binary: otherwise a {@link DecodeError}
 * names the file, the entry (row, 1-based) and the field path (column). `locks`, `waitingForLock`
 * and `currentOpTime` are checked, not used (the rules read no lock modes).
 *
 * **Missing parts.** Without `serverStatus` the utilization (and the ceiling) is an Unknown fact.
 *
 * @since 0.1.0
 */
import { Fact } from "@byteport/core"
import { Mongo, MongoActivity, MultiEngineFacts } from "@byteport/db"
import { Effect } from "effect"
import { BSON, type Document } from "mongodb"
import * as fs from "node:fs"
import { DecodeError } from "./Table"

/** An export: a file path, or the text / value already read. */
export type Source = string | { readonly text: string; readonly file?: string } | { readonly value: unknown; readonly file?: string }

/** What a recording is made of (see module docs). */
export interface Recording {
  /** `EJSON.stringify(db.currentOp({ $all: true, idleSessions: true }))`, or `$currentOp` documents as an array. */
  readonly currentOp: Source
  /** `EJSON.stringify(db.serverStatus())`. */
  readonly serverStatus?: Source
  /** BytePort's own appName prefix (default `Mongo.DEFAULT_APP_NAME`): its connections are not counted. */
  readonly ownAppName?: string
  /** The application's driver `maxPoolSize`, when known (for the ChangeProposal). */
  readonly maxPoolSize?: number
  /** When the recording was taken (ms since the epoch; default the newest `currentOpTime`, else 0). */
  readonly capturedAt?: number
}

/** A decoded recording. */
export interface Decoded {
  readonly ops: ReadonlyArray<MongoActivity.MongoOp>
  readonly status: MongoActivity.ServerStatus | null
  readonly utilization: MongoActivity.MongoUtilization | null
  readonly capturedAt: number
}

const fail = (file: string, message: string, row: number | null = null, column: string | null = null) =>
  new DecodeError({ file, row, column, message: `${file}${row === null ? "" : ` entry ${row}`}${column === null ? "" : ` field ${column}`}: ${message}` })

/** Pure (throws): Extended JSON text → value (BSON types: Long, Date, UUID / Binary, Timestamp). */
const ejson = (file: string, text: string): unknown => {
  try {
    // relaxed: plain numbers stay numbers, $numberLong becomes a number when it fits (a Long otherwise)
    return BSON.EJSON.parse(text, { relaxed: true })
  } catch (e) {
    throw fail(file, `not Extended JSON (EJSON.stringify): ${(e as Error).message}`)
  }
}

const loadValue = (s: Source, what: string): Effect.Effect<{ readonly file: string; readonly value: unknown }, DecodeError> =>
  Effect.try({
    try: () => {
      if (typeof s === "string") {
        let text: string
        try {
          text = fs.readFileSync(s, "utf8")
        } catch (e) {
          throw fail(s, `cannot read: ${(e as Error).message}`)
        }
        return { file: s, value: ejson(s, text) }
      }
      if ("text" in s) return { file: s.file ?? what, value: ejson(s.file ?? what, s.text) }
      return { file: s.file ?? what, value: s.value }
    },
    catch: (e) => (e instanceof DecodeError ? e : fail(what, String(e)))
  })

const isDoc = (v: unknown): v is Document => v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date) && !("_bsontype" in v)
const isNumberish = (v: unknown): boolean =>
  (typeof v === "number" && Number.isFinite(v)) || typeof v === "bigint" ||
  (v !== null && typeof v === "object" && "_bsontype" in v && ["Long", "Int32", "Double", "Decimal128"].includes(String((v as { _bsontype: unknown })._bsontype)))

/** Pure (throws): the checks of one `inprog` entry (see module docs). */
const checkEntry = (file: string, row: number, o: unknown): Document => {
  if (!isDoc(o)) throw fail(file, `expected a document, got ${JSON.stringify(o)}`, row)
  const num = (path: string, v: unknown) => {
    if (v !== undefined && !isNumberish(v)) throw fail(file, `expected a number, got ${JSON.stringify(v)}`, row, path)
  }
  const bool = (path: string, v: unknown) => {
    if (v !== undefined && typeof v !== "boolean") throw fail(file, `expected a boolean, got ${JSON.stringify(v)}`, row, path)
  }
  for (const k of ["opid", "connectionId", "secs_running", "microsecs_running"]) num(k, o[k])
  bool("active", o["active"])
  bool("waitingForLock", o["waitingForLock"])
  for (const k of ["type", "op", "ns", "client", "appName", "desc"]) {
    if (o[k] !== undefined && typeof o[k] !== "string") throw fail(file, `expected a string, got ${JSON.stringify(o[k])}`, row, k)
  }
  const lsid = o["lsid"]
  if (lsid !== undefined) {
    const inner = (lsid as { id?: unknown } | null)?.id
    if (inner === null || typeof inner !== "object" || !("buffer" in inner)) throw fail(file, "expected a UUID / binary session id", row, "lsid.id")
  }
  const txn = o["transaction"]
  if (txn !== undefined) {
    if (!isDoc(txn)) throw fail(file, "expected a document", row, "transaction")
    for (const k of ["timeOpenMicros", "timeActiveMicros", "timeInactiveMicros"]) num(`transaction.${k}`, txn[k])
    const p = txn["parameters"]
    if (p !== undefined && isDoc(p)) num("transaction.parameters.txnNumber", p["txnNumber"])
  }
  if (o["locks"] !== undefined && !isDoc(o["locks"])) throw fail(file, "expected a document", row, "locks")
  if (o["currentOpTime"] !== undefined && typeof o["currentOpTime"] !== "string" && !(o["currentOpTime"] instanceof Date)) {
    throw fail(file, `expected a time, got ${JSON.stringify(o["currentOpTime"])}`, row, "currentOpTime")
  }
  return o
}

/** Pure (throws): the `inprog` entries of a currentOp reply (or an array of `$currentOp` documents). */
const entriesOf = (file: string, v: unknown): ReadonlyArray<Document> => {
  const inprog = Array.isArray(v) ? v : isDoc(v) ? v["inprog"] : undefined
  if (!Array.isArray(inprog)) throw fail(file, "not a currentOp reply (no inprog array) nor an array of $currentOp documents", null, "inprog")
  return inprog.map((o, i) => checkEntry(file, i + 1, o))
}

const timeOf = (o: Document): number | undefined => {
  const t = o["currentOpTime"]
  const ms = t instanceof Date ? t.getTime() : typeof t === "string" ? Date.parse(t) : NaN
  return Number.isNaN(ms) ? undefined : ms
}

/** Decodes a recording (see module docs). */
export const decode = (recording: Recording): Effect.Effect<Decoded, DecodeError> =>
  Effect.gen(function*() {
    const cur = yield* loadValue(recording.currentOp, "currentOp")
    const st = recording.serverStatus === undefined ? undefined : yield* loadValue(recording.serverStatus, "serverStatus")
    return yield* Effect.try({
      try: (): Decoded => {
        const entries = entriesOf(cur.file, cur.value)
        const ops = entries.map((o) => MongoActivity.decodeOp(o))
        let status: MongoActivity.ServerStatus | null = null
        if (st !== undefined) {
          if (!isDoc(st.value)) throw fail(st.file, "expected the serverStatus document")
          const s = MongoActivity.decodeServerStatus(st.value)
          if (!("current" in s)) throw fail(st.file, s.message, null, "connections")
          status = s
        }
        const app = recording.ownAppName ?? Mongo.DEFAULT_APP_NAME
        const own = new Set(ops.filter((o) => o.type === "op" && MongoActivity.isOwn(o, app) && o.connectionId !== undefined).map((o) => o.connectionId)).size
        const times = entries.map(timeOf).filter((t): t is number => t !== undefined)
        return {
          ops,
          status,
          utilization: status === null ? null : { current: status.current, own, max: status.max, ratio: status.max > 0 ? Math.max(0, status.current - own) / status.max : 0 },
          capturedAt: recording.capturedAt ?? (times.length > 0 ? Math.max(...times) : 0)
        }
      },
      catch: (e) => (e instanceof DecodeError ? e : fail(cur.file, String(e)))
    })
  })

/** The operations, as `MongoActivity.currentOp` reads them. */
export const ops = (recording: Pick<Recording, "currentOp">): Effect.Effect<ReadonlyArray<MongoActivity.MongoOp>, DecodeError> =>
  Effect.map(decode(recording), (d) => d.ops)

/** The facts of `db.pool.multi-engine` on MongoDB (as `MultiEngineFacts.mongodb` produces them at its first poll: a one-sample trend). */
export const multiEngineFacts = (recording: Recording): Effect.Effect<Fact.Facts<MultiEngineFacts.MultiEngineFacts>, DecodeError> =>
  Effect.map(decode(recording), (d): Fact.Facts<MultiEngineFacts.MultiEngineFacts> => {
    const sessions = MultiEngineFacts.fromMongo(d.ops, recording.ownAppName ?? Mongo.DEFAULT_APP_NAME)
    const u = d.utilization
    if (u === null) {
      const why = "serverStatus not recorded"
      return { engine: Fact.known("mongodb" as const), utilization: Fact.unknown("utilization", why), sessions: Fact.known(sessions), trend: Fact.known([]), ceiling: Fact.unknown("ceiling", why) } as Fact.Facts<MultiEngineFacts.MultiEngineFacts>
    }
    return {
      engine: Fact.known("mongodb" as const),
      utilization: Fact.known({ ratio: u.ratio, connections: u.current - u.own, max: u.max }),
      sessions: Fact.known(sessions),
      trend: Fact.known([MultiEngineFacts.sampleOf(sessions, d.capturedAt, null)]),
      ceiling: Fact.known<MultiEngineFacts.Ceiling>({ kind: "mongodb", maxIncomingConnections: u.max, maxPoolSize: recording.maxPoolSize ?? null })
    }
  })
