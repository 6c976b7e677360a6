/**
 * MongoDB probes: `serverStatus` (connections, transactions) and `currentOp` with `$all` (idle
 * connections too) and `idleSessions` (sessions idle inside a transaction), decoded.
 *
 * The utilization of a mongod is `connections.current / (current + available)` — the
 * denominator is `net.maxIncomingConnections` as the server applies it. BytePort's own
 * connections (appName `byteport…`, see `Mongo.appName`) are subtracted from the numerator when
 * `currentOp` names them.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Document } from "mongodb"
import { DbDecodeError, type DbError } from "../DbError"
import { Mongo } from "./Mongo"

/** `serverStatus` decoded. */
export interface ServerStatus {
  readonly current: number
  readonly available: number
  /** current + available: the server's connection ceiling. */
  readonly max: number
  readonly totalCreated: number
  /** Connections running an operation now (`connections.active`, 4.0.7+), when reported. */
  readonly active: number | undefined
  readonly transactionsOpen: number | undefined
  readonly transactionsInactive: number | undefined
  readonly version: string | undefined
}

/** One `currentOp` entry. */
export interface MongoOp {
  /** `op` (a connection, running or idle) or `idleSession` (a session idle inside a transaction). */
  readonly type: "op" | "idleSession" | "idleConnection" | "idleCursor"
  /** The operation id (for `killOp`), when an operation is running. */
  readonly opid: number | undefined
  readonly active: boolean
  /** How long the operation has run, in seconds. */
  readonly secsRunning: number
  /** `ip:port` of the client. */
  readonly client: string | undefined
  readonly appName: string | undefined
  readonly connectionId: number | undefined
  /** The session id as hex (`lsid.id`), for `killSessions`. */
  readonly lsid: string | undefined
  /** Inside a multi-document transaction. */
  readonly inTransaction: boolean
  /** The transaction's number (`transaction.parameters.txnNumber`), when in one. */
  readonly txnNumber: number | undefined
  /** The authenticated user (`effectiveUsers[0].user`), when reported. */
  readonly user: string | undefined
  /** Seconds the transaction has been open / idle (`timeOpenMicros`, `timeInactiveMicros`). */
  readonly txnOpenSecs: number
  readonly txnIdleSecs: number
  readonly ns: string | undefined
  /** The command's name (`find`, `aggregate` …); the command's values are not kept. */
  readonly commandName: string | undefined
  /** The command shape, values replaced by `?`, for fingerprints. */
  readonly commandShape: string | undefined
}

const numOf = (v: unknown): number | undefined =>
  typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : v !== null && typeof v === "object" && "toNumber" in v ? (v as { toNumber: () => number }).toNumber() : undefined

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined)

/** `serverStatus` → {@link ServerStatus}. */
export const decodeServerStatus = (doc: Document): ServerStatus | DbDecodeError => {
  const c = doc["connections"] as Document | undefined
  const current = numOf(c?.["current"])
  const available = numOf(c?.["available"])
  if (current === undefined || available === undefined) return new DbDecodeError({ engine: "mongodb", message: "serverStatus: connections.current / connections.available missing" })
  const t = doc["transactions"] as Document | undefined
  return {
    current,
    available,
    max: current + available,
    totalCreated: numOf(c?.["totalCreated"]) ?? current,
    active: numOf(c?.["active"]),
    transactionsOpen: numOf(t?.["currentOpen"]),
    transactionsInactive: numOf(t?.["currentInactive"]),
    version: str(doc["version"])
  }
}

/** A command's shape: keys kept, values replaced by `?` (no literal reaches a report). */
export const shapeOf = (v: unknown, depth = 0): unknown => {
  if (depth > 4) return "?"
  if (Array.isArray(v)) return v.length === 0 ? [] : [shapeOf(v[0], depth + 1)]
  if (v !== null && typeof v === "object" && !(v instanceof Date) && !("_bsontype" in v)) {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) if (k !== "lsid" && k !== "$clusterTime" && k !== "$db" && k !== "txnNumber") out[k] = shapeOf(x, depth + 1)
    return out
  }
  return "?"
}

const hex = (lsid: unknown): string | undefined => {
  const id = (lsid as { id?: { buffer?: Uint8Array } } | undefined)?.id
  return id?.buffer !== undefined ? Buffer.from(id.buffer).toString("hex") : undefined
}

/** One `inprog` entry → {@link MongoOp}. */
export const decodeOp = (o: Document): MongoOp => {
  const txn = o["transaction"] as Document | undefined
  const cmd = o["command"] as Document | undefined
  const commandName = cmd !== undefined ? Object.keys(cmd)[0] : undefined
  const type = str(o["type"])
  const micros = numOf(o["microsecs_running"])
  return {
    type: type === "idleSession" || type === "idleConnection" || type === "idleCursor" ? type : "op",
    opid: numOf(o["opid"]),
    active: o["active"] === true,
    secsRunning: micros !== undefined ? micros / 1e6 : numOf(o["secs_running"]) ?? 0,
    client: str(o["client"]) ?? str(o["client_s"]),
    appName: str(o["appName"]),
    connectionId: numOf(o["connectionId"]),
    lsid: hex(o["lsid"]),
    inTransaction: txn !== undefined,
    txnNumber: numOf((txn?.["parameters"] as Document | undefined)?.["txnNumber"]),
    user: str(((o["effectiveUsers"] as Array<Document> | undefined) ?? [])[0]?.["user"]),
    txnOpenSecs: (numOf(txn?.["timeOpenMicros"]) ?? 0) / 1e6,
    txnIdleSecs: (numOf(txn?.["timeInactiveMicros"]) ?? 0) / 1e6,
    ns: str(o["ns"]),
    commandName,
    commandShape: cmd !== undefined ? JSON.stringify(shapeOf(cmd)) : undefined
  }
}

/** Reads `serverStatus` (connections and transactions only). */
export const serverStatus: Effect.Effect<ServerStatus, DbError, Mongo> = Effect.gen(function*() {
  const mongo = yield* Mongo
  const doc = yield* mongo.command({ serverStatus: 1, repl: 0, metrics: 0, locks: 0, wiredTiger: 0 })
  const s = decodeServerStatus(doc)
  return s instanceof DbDecodeError ? yield* Effect.fail(s) : s
})

/** Reads `currentOp` with `$all: true` and `idleSessions: true`: every connection, running or idle, and idle sessions in a transaction. */
export const currentOp: Effect.Effect<ReadonlyArray<MongoOp>, DbError, Mongo> = Effect.gen(function*() {
  const mongo = yield* Mongo
  const doc = yield* mongo.command({ currentOp: 1, $all: true, idleSessions: true })
  const inprog = doc["inprog"]
  if (!Array.isArray(inprog)) return yield* Effect.fail(new DbDecodeError({ engine: "mongodb", message: "currentOp: inprog missing" }))
  return (inprog as Array<Document>).map(decodeOp)
})

/** BytePort's own: appName starting with the service's appName. */
export const isOwn = (op: MongoOp, appName: string): boolean => op.appName !== undefined && op.appName.startsWith(appName)

/** The utilization of one reading: (current − own) / max. */
export interface MongoUtilization {
  readonly current: number
  readonly own: number
  readonly max: number
  readonly ratio: number
}

/** Utilization from serverStatus and currentOp (own connections not counted). */
export const utilization: Effect.Effect<MongoUtilization, DbError, Mongo> = Effect.gen(function*() {
  const mongo = yield* Mongo
  const status = yield* serverStatus
  const ops = yield* currentOp
  const own = new Set(ops.filter((o) => o.type === "op" && isOwn(o, mongo.appName) && o.connectionId !== undefined).map((o) => o.connectionId)).size
  const clients = Math.max(0, status.current - own)
  return { current: status.current, own, max: status.max, ratio: status.max > 0 ? clients / status.max : 0 }
})
