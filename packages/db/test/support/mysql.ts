/** Raw `mysql2` connections for building scenarios in tests. */
import * as net from "node:net"
import mysql from "mysql2/promise"
import type { Connection } from "mysql2/promise"

/** A scenario connection whose asynchronous errors are recorded, never thrown. */
export interface RawConnection {
  readonly conn: Connection
  readonly id: number
  readonly errors: Array<Error>
  readonly q: (sql: string) => Promise<unknown>
}

const open: Array<Connection> = []

/** Opens a connection; with `localAddress` (127.0.0.2 …) the server sees it as the thread's host (a pod IP in tests). */
export const openConnection = async (url: string, localAddress?: string): Promise<RawConnection> => {
  // mysql2 ignores its localAddress option: the socket is made here, bound to the address
  const u = new URL(url)
  const conn = await (localAddress === undefined
    ? mysql.createConnection(url)
    : mysql.createConnection({ uri: url, stream: net.connect({ host: u.hostname, port: Number(u.port || 3306), localAddress }) }))
  const errors: Array<Error> = []
  conn.on("error", (e: Error) => errors.push(e))
  open.push(conn)
  return { conn, id: conn.threadId, errors, q: (sql) => conn.query(sql).then(([rows]) => rows) }
}

/** Closes every connection opened so far. */
export const closeAllMySql = async (): Promise<void> => {
  const all = open.splice(0)
  // destroy, not end: end() would wait for a statement still running (a SLEEP(30) under test)
  for (const c of all) c.destroy()
}
