/** Raw `mysql2` connections for building scenarios in tests. */
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

/** Opens a connection. */
export const openConnection = async (url: string): Promise<RawConnection> => {
  const conn = await mysql.createConnection(url)
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
