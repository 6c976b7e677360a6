/**
 * A loopback **fake** MongoDB server for tests: it speaks the MongoDB wire protocol (the
 * OP_QUERY handshake, then OP_MSG) well enough for the official `mongodb` driver and BytePort's
 * probes and kills. It is a fake, not MongoDB: no storage engine, no query language beyond
 * top-level equality, no authentication, no replication, no OP_COMPRESSED.
 *
 * What it models (the parts `db.pool.multi-engine` reads and acts on):
 *
 * - `hello` / `isMaster` (a single-member replica set primary, so the driver allows
 *   transactions; connect with `directConnection=true`, as {@link MongoFake.url} does), `ping`,
 *   `buildInfo`, `listDatabases`, `endSessions`;
 * - `serverStatus`: `connections.current` counts each open TCP connection (the driver's monitor
 *   included), `available` = maximum − current, `totalCreated`; `transactions` counters;
 * - past `maxConnections` a new connection is accepted and closed at once, as mongod does when
 *   `net.maxIncomingConnections` is reached ("connection refused because too many open connections");
 * - `insert`, `find` (top-level equality; `$where: "sleep(<ms>)"` makes a long-running operation
 *   that runs until the time passes or it is killed), `commitTransaction`, `abortTransaction`:
 *   a transaction starts with `startTransaction: true` on a session (`lsid`, `txnNumber`) and
 *   stays open, idle, until committed, aborted or killed;
 * - `currentOp` with `$all` (idle connections too) and `idleSessions` (default true: sessions
 *   idle inside a transaction, type `idleSession`, with `transaction.timeOpenMicros` /
 *   `timeInactiveMicros`), and `killOp` / `killSessions` (the killed op fails with code 11601
 *   `Interrupted`; a killed session's transaction is aborted, its next use fails with code 251
 *   `NoSuchTransaction`).
 *
 * Time comes from `now` (default `Date.now`), so tests move it instead of sleeping; a
 * `sleep(<ms>)` operation ends when `now` passes its end (checked every 20 ms) or when killed.
 *
 * @since 0.1.0
 */
import { BSON, type Document } from "mongodb"
import * as net from "node:net"

const OP_REPLY = 1
const OP_QUERY = 2004
const OP_MSG = 2013

/** Options of {@link start}. */
export interface Options {
  /** Maximum incoming connections (mongod's `net.maxIncomingConnections`); default 100. */
  readonly maxConnections?: number
  /** Milliseconds since the epoch; default `Date.now`. */
  readonly now?: () => number
  /** The version `buildInfo` and `serverStatus` report (default `7.0.0-byteport-fake`). */
  readonly version?: string
}

/** An operation the fake is running (a `find` with `$where: "sleep(ms)"`, or any command in flight). */
interface Op {
  readonly opid: number
  readonly conn: Conn
  readonly startedAt: number
  readonly endsAt: number
  readonly command: Document
  readonly ns: string
  readonly lsid: string | undefined
  kill: (() => void) | undefined
}

interface Txn {
  readonly txnNumber: number
  readonly startedAt: number
  lastActiveAt: number
  active: boolean
}

interface Session {
  readonly id: string
  readonly lsid: Document
  txn: Txn | undefined
  /** Transactions killed or aborted, by number (their next use answers NoSuchTransaction). */
  readonly dead: Set<number>
  lastUseAt: number
  conn: Conn | undefined
}

interface Conn {
  readonly id: number
  readonly socket: net.Socket
  readonly client: string
  appName: string | undefined
  op: Op | undefined
}

/** A running fake. */
export interface MongoFake {
  /** The port it listens on (127.0.0.1). */
  readonly port: number
  /** `mongodb://127.0.0.1:<port>/?directConnection=true` (plus `appName` when given). */
  readonly url: (appName?: string) => string
  /** Open TCP connections, as serverStatus counts them. */
  readonly connections: () => number
  /** Connections refused past the maximum. */
  readonly refused: () => number
  /** Operations killed (by killOp or killSessions), by opid. */
  readonly killedOps: () => ReadonlyArray<number>
  /** Sessions killed by killSessions (lsid as hex). */
  readonly killedSessions: () => ReadonlyArray<string>
  /** The maximum can be changed at run time (a raised `maxIncomingConnections`). */
  readonly setMaxConnections: (n: number) => void
  /** Documents of a collection (`db.coll`). */
  readonly collection: (ns: string) => ReadonlyArray<Document>
  /** Closes the server and every connection. */
  readonly close: () => Promise<void>
}

const lsidKey = (lsid: unknown): string | undefined => {
  const id = (lsid as { id?: { buffer?: Uint8Array } } | undefined)?.id
  return id?.buffer !== undefined ? Buffer.from(id.buffer).toString("hex") : undefined
}

const num = (v: unknown): number | undefined =>
  typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : v !== null && typeof v === "object" && "toNumber" in v && typeof (v as { toNumber: unknown }).toNumber === "function" ? (v as { toNumber: () => number }).toNumber() : undefined

const cstring = (buf: Buffer, at: number): [string, number] => {
  const end = buf.indexOf(0, at)
  return [buf.toString("utf8", at, end), end + 1]
}

const matches = (doc: Document, filter: Document): boolean =>
  Object.entries(filter).every(([k, v]) => k.startsWith("$") || JSON.stringify(doc[k]) === JSON.stringify(v))

/** Starts a fake on 127.0.0.1 (an ephemeral port unless `port` is given). */
export const start = (options: Options & { readonly port?: number } = {}): Promise<MongoFake> => {
  const now = options.now ?? Date.now
  const version = options.version ?? "7.0.0-byteport-fake"
  let max = options.maxConnections ?? 100
  let nextConn = 1
  let nextOp = 1
  let totalCreated = 0
  let refused = 0
  const conns = new Map<number, Conn>()
  const sessions = new Map<string, Session>()
  const data = new Map<string, Array<Document>>()
  const killedOps: Array<number> = []
  const killedSessions: Array<string> = []
  const startedAt = now()
  let port = 0

  const error = (code: number, codeName: string, errmsg: string, extra: Document = {}): Document => ({ ok: 0, errmsg, code, codeName, ...extra })

  const sessionOf = (cmd: Document, conn: Conn): Session | undefined => {
    const key = lsidKey(cmd["lsid"])
    if (key === undefined) return undefined
    let s = sessions.get(key)
    if (s === undefined) {
      s = { id: key, lsid: cmd["lsid"] as Document, txn: undefined, dead: new Set(), lastUseAt: now(), conn }
      sessions.set(key, s)
    }
    s.lastUseAt = now()
    s.conn = conn
    return s
  }

  const killSession = (s: Session) => {
    if (s.txn !== undefined) s.dead.add(s.txn.txnNumber)
    s.txn = undefined
    for (const c of conns.values()) if (c.op !== undefined && c.op.lsid === s.id) killOp(c.op.opid)
    killedSessions.push(s.id)
  }

  const killOp = (opid: number): boolean => {
    for (const c of conns.values()) {
      if (c.op?.opid === opid) {
        killedOps.push(opid)
        c.op.kill?.()
        return true
      }
    }
    return false
  }

  const currentOp = (cmd: Document): Document => {
    const all = cmd["$all"] === true || cmd["$all"] === 1
    const idleSessions = cmd["idleSessions"] !== false
    const t = now()
    const inprog: Array<Document> = []
    const txnDoc = (s: Session | undefined) =>
      s?.txn === undefined ? {} : {
        transaction: {
          parameters: { txnNumber: s.txn.txnNumber, autocommit: false },
          timeOpenMicros: (t - s.txn.startedAt) * 1000,
          timeActiveMicros: s.txn.active ? (t - s.txn.lastActiveAt) * 1000 : 0,
          timeInactiveMicros: s.txn.active ? 0 : (t - s.txn.lastActiveAt) * 1000
        }
      }
    for (const c of conns.values()) {
      const base = { client: c.client, connectionId: c.id, desc: `conn${c.id}`, ...(c.appName !== undefined ? { appName: c.appName } : {}) }
      if (c.op !== undefined) {
        const s = c.op.lsid !== undefined ? sessions.get(c.op.lsid) : undefined
        const running = t - c.op.startedAt
        inprog.push({
          type: "op",
          ...base,
          active: true,
          opid: c.op.opid,
          op: c.op.command["find"] !== undefined ? "query" : "command",
          ns: c.op.ns,
          command: c.op.command,
          secs_running: Math.floor(running / 1000),
          microsecs_running: running * 1000,
          ...(s !== undefined ? { lsid: s.lsid } : {}),
          ...txnDoc(s)
        })
      } else if (all) {
        inprog.push({ type: "op", ...base, active: false, currentOpTime: new Date(t).toISOString() })
      }
    }
    if (idleSessions) {
      for (const s of sessions.values()) {
        if (s.txn === undefined || s.txn.active) continue
        inprog.push({
          type: "idleSession",
          active: false,
          lsid: s.lsid,
          ...(s.conn !== undefined ? { client: s.conn.client, connectionId: s.conn.id, ...(s.conn.appName !== undefined ? { appName: s.conn.appName } : {}) } : {}),
          ...txnDoc(s)
        })
      }
    }
    return { inprog, ok: 1 }
  }

  /** Runs a command; long operations resolve later. */
  const run = (cmd: Document, db: string, conn: Conn): Document | Promise<Document> => {
    const name = Object.keys(cmd)[0] ?? ""
    const lower = name.toLowerCase()
    const session = sessionOf(cmd, conn)
    if (lower === "hello" || lower === "ismaster") {
      const client = cmd["client"] as { application?: { name?: string } } | undefined
      if (client?.application?.name !== undefined) conn.appName = client.application.name
      const me = `127.0.0.1:${port}`
      return {
        helloOk: true,
        ismaster: true,
        isWritablePrimary: true,
        setName: "byteport-fake",
        setVersion: 1,
        hosts: [me],
        primary: me,
        me,
        maxBsonObjectSize: 16 * 1024 * 1024,
        maxMessageSizeBytes: 48_000_000,
        maxWriteBatchSize: 100_000,
        localTime: new Date(now()),
        logicalSessionTimeoutMinutes: 30,
        connectionId: conn.id,
        minWireVersion: 0,
        maxWireVersion: 21,
        readOnly: false,
        ok: 1
      }
    }
    if (lower === "ping") return { ok: 1 }
    if (lower === "buildinfo") return { version, versionArray: version.split(/[.-]/).slice(0, 3).map(Number).concat(0), gitVersion: "fake", bits: 64, maxBsonObjectSize: 16 * 1024 * 1024, ok: 1 }
    if (lower === "listdatabases") {
      const names = new Set(["admin", ...[...data.keys()].map((ns) => ns.split(".")[0]!)])
      return { databases: [...names].map((n) => ({ name: n, sizeOnDisk: 0, empty: false })), totalSize: 0, ok: 1 }
    }
    if (lower === "serverstatus") {
      const open = [...sessions.values()].filter((s) => s.txn !== undefined)
      const active = [...conns.values()].filter((c) => c.op !== undefined).length
      return {
        host: `127.0.0.1:${port}`,
        version,
        process: "mongod",
        uptime: Math.floor((now() - startedAt) / 1000),
        localTime: new Date(now()),
        connections: { current: conns.size, available: Math.max(0, max - conns.size), totalCreated, active },
        transactions: { currentOpen: open.length, currentActive: open.filter((s) => s.txn!.active).length, currentInactive: open.filter((s) => !s.txn!.active).length },
        ok: 1
      }
    }
    if (lower === "currentop") return currentOp(cmd)
    if (lower === "killop") {
      const op = num(cmd["op"])
      if (op !== undefined) killOp(op)
      return { info: "attempting to kill op", ok: 1 }
    }
    if (lower === "killsessions") {
      const ids = (cmd[name] as ReadonlyArray<Document> | undefined) ?? []
      for (const lsid of ids) {
        const s = sessions.get(lsidKey(lsid) ?? "")
        if (s !== undefined) killSession(s)
      }
      return { ok: 1 }
    }
    if (lower === "endsessions") {
      for (const lsid of (cmd[name] as ReadonlyArray<Document> | undefined) ?? []) {
        const key = lsidKey(lsid)
        const s = key !== undefined ? sessions.get(key) : undefined
        if (s !== undefined && s.txn === undefined) sessions.delete(s.id)
      }
      return { ok: 1 }
    }
    // transactions
    const txnNumber = num(cmd["txnNumber"])
    if (session !== undefined && txnNumber !== undefined && cmd["autocommit"] === false) {
      if (session.dead.has(txnNumber)) return error(251, "NoSuchTransaction", `Transaction with { txnNumber: ${txnNumber} } has been aborted.`, { errorLabels: ["TransientTransactionError"] })
      if (cmd["startTransaction"] === true) session.txn = { txnNumber, startedAt: now(), lastActiveAt: now(), active: false }
      if (session.txn === undefined || session.txn.txnNumber !== txnNumber) return error(251, "NoSuchTransaction", `Given transaction number ${txnNumber} does not match any in-progress transactions.`)
      if (lower === "committransaction" || lower === "aborttransaction") {
        session.txn = undefined
        return { ok: 1 }
      }
    } else if (lower === "committransaction" || lower === "aborttransaction") {
      return error(251, "NoSuchTransaction", "no transaction in progress")
    }
    const txn = session?.txn
    const done = <A>(r: A): A => {
      if (txn !== undefined && session?.txn === txn) {
        txn.active = false
        txn.lastActiveAt = now()
      }
      return r
    }
    if (txn !== undefined) txn.active = true
    if (lower === "insert") {
      const ns = `${db}.${String(cmd[name])}`
      const docs = (cmd["documents"] as Array<Document> | undefined) ?? []
      const coll = data.get(ns) ?? []
      coll.push(...docs)
      data.set(ns, coll)
      return done({ n: docs.length, ok: 1 })
    }
    if (lower === "find") {
      const ns = `${db}.${String(cmd[name])}`
      const filter = (cmd["filter"] as Document | undefined) ?? {}
      const result = { cursor: { id: BSON.Long.fromNumber(0), ns, firstBatch: (data.get(ns) ?? []).filter((d) => matches(d, filter)) }, ok: 1 }
      const sleep = typeof filter["$where"] === "string" ? /^\s*sleep\((\d+)\)\s*$/.exec(filter["$where"]) : null
      if (sleep === null) return done(result)
      const op: Op = { opid: nextOp++, conn, startedAt: now(), endsAt: now() + Number(sleep[1]), command: cmd, ns, lsid: session?.id, kill: undefined }
      conn.op = op
      return new Promise<Document>((resolve) => {
        const timer = setInterval(() => {
          if (now() >= op.endsAt) finish(result)
        }, 20)
        const finish = (r: Document) => {
          clearInterval(timer)
          if (conn.op === op) conn.op = undefined
          resolve(done(r))
        }
        op.kill = () => finish(error(11601, "Interrupted", "operation was interrupted"))
      })
    }
    return done(error(59, "CommandNotFound", `no such command: '${name}'`))
  }

  const replyMsg = (conn: Conn, requestId: number, body: Document) => {
    const doc = BSON.serialize(body)
    const header = Buffer.alloc(16 + 4 + 1)
    header.writeInt32LE(16 + 4 + 1 + doc.length, 0)
    header.writeInt32LE(nextOp++, 4)
    header.writeInt32LE(requestId, 8)
    header.writeInt32LE(OP_MSG, 12)
    header.writeUInt32LE(0, 16)
    header.writeUInt8(0, 20)
    if (!conn.socket.destroyed) conn.socket.write(Buffer.concat([header, doc]))
  }

  const replyLegacy = (conn: Conn, requestId: number, body: Document) => {
    const doc = BSON.serialize(body)
    const header = Buffer.alloc(16 + 20)
    header.writeInt32LE(36 + doc.length, 0)
    header.writeInt32LE(nextOp++, 4)
    header.writeInt32LE(requestId, 8)
    header.writeInt32LE(OP_REPLY, 12)
    header.writeInt32LE(0, 16) // responseFlags
    header.writeBigInt64LE(0n, 20) // cursorID
    header.writeInt32LE(0, 28) // startingFrom
    header.writeInt32LE(1, 32) // numberReturned
    if (!conn.socket.destroyed) conn.socket.write(Buffer.concat([header, doc]))
  }

  const handle = (conn: Conn, msg: Buffer) => {
    const requestId = msg.readInt32LE(4)
    const opCode = msg.readInt32LE(12)
    if (opCode === OP_QUERY) {
      const [collection, at] = cstring(msg, 20)
      const query = BSON.deserialize(msg.subarray(at + 8), { promoteLongs: false }) as Document
      const cmd = (query["$query"] as Document | undefined) ?? query
      const db = collection.split(".")[0] ?? "admin"
      void Promise.resolve(run(cmd, db, conn)).then((r) => replyLegacy(conn, requestId, r))
      return
    }
    if (opCode === OP_MSG) {
      let at = 20
      const end = (msg.readUInt32LE(16) & 1) === 1 ? msg.length - 4 : msg.length
      let body: Document = {}
      const sequences: Record<string, Array<Document>> = {}
      while (at < end) {
        const kind = msg.readUInt8(at)
        at += 1
        if (kind === 0) {
          const size = msg.readInt32LE(at)
          body = BSON.deserialize(msg.subarray(at, at + size), { promoteLongs: false }) as Document
          at += size
        } else {
          const size = msg.readInt32LE(at)
          const [id, docsAt] = cstring(msg, at + 4)
          const docs: Array<Document> = []
          let d = docsAt
          while (d < at + size) {
            const len = msg.readInt32LE(d)
            docs.push(BSON.deserialize(msg.subarray(d, d + len)) as Document)
            d += len
          }
          sequences[id] = docs
          at += size
        }
      }
      const cmd = { ...body, ...sequences }
      const db = typeof body["$db"] === "string" ? body["$db"] : "admin"
      void Promise.resolve(run(cmd, db, conn)).then((r) => replyMsg(conn, requestId, r))
      return
    }
    conn.socket.destroy()
  }

  const server = net.createServer((socket) => {
    if (conns.size >= max) {
      // mongod: "connection refused because too many open connections" — accepted, then closed
      refused++
      socket.destroy()
      return
    }
    totalCreated++
    const conn: Conn = { id: nextConn++, socket, client: `${socket.remoteAddress ?? "127.0.0.1"}:${socket.remotePort ?? 0}`.replace(/^::ffff:/, ""), appName: undefined, op: undefined }
    conns.set(conn.id, conn)
    let pending = Buffer.alloc(0)
    socket.on("data", (chunk) => {
      pending = Buffer.concat([pending, chunk])
      while (pending.length >= 4) {
        const len = pending.readInt32LE(0)
        if (pending.length < len) break
        const msg = pending.subarray(0, len)
        pending = pending.subarray(len)
        try {
          handle(conn, msg)
        } catch {
          socket.destroy()
        }
      }
    })
    const gone = () => {
      conn.op?.kill?.()
      conns.delete(conn.id)
    }
    socket.on("close", gone)
    socket.on("error", gone)
  })

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      port = (server.address() as net.AddressInfo).port
      resolve({
        port,
        url: (appName) => `mongodb://127.0.0.1:${port}/?directConnection=true${appName !== undefined ? `&appName=${encodeURIComponent(appName)}` : ""}`,
        connections: () => conns.size,
        refused: () => refused,
        killedOps: () => [...killedOps],
        killedSessions: () => [...killedSessions],
        setMaxConnections: (n) => {
          max = n
        },
        collection: (ns) => [...(data.get(ns) ?? [])],
        close: () =>
          new Promise<void>((done) => {
            for (const c of conns.values()) {
              c.op?.kill?.()
              c.socket.destroy()
            }
            server.close(() => done())
          })
      })
    })
  })
}
