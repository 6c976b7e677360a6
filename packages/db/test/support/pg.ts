/** Raw `pg` sessions for building scenarios (idle in transaction, pg_sleep, locks) in tests. */
import * as net from "node:net"
import pg from "pg"

/** A scenario session: a raw client whose asynchronous errors are recorded, never thrown. */
export interface RawSession {
  readonly client: pg.Client
  readonly pid: number
  readonly errors: Array<Error>
  readonly q: (text: string, values?: ReadonlyArray<unknown>) => Promise<pg.QueryResult>
}

const open: Array<pg.Client> = []

/**
 * Opens a session with the given application_name; with `localAddress` (a loopback address such
 * as 127.0.0.2) the server sees it as the session's `client_addr` — a pod IP in tests.
 */
export const openSession = async (url: string, applicationName: string, localAddress?: string): Promise<RawSession> => {
  const client = new pg.Client({
    connectionString: url,
    application_name: applicationName,
    ...(localAddress === undefined ? {} : {
      stream: () => {
        const socket = new net.Socket()
        const connect = socket.connect.bind(socket) as (options: net.TcpSocketConnectOpts) => net.Socket
        ;(socket as unknown as { connect: (port: number, host: string) => net.Socket }).connect = (port, host) => connect({ port, host, localAddress })
        return socket
      }
    })
  })
  const errors: Array<Error> = []
  client.on("error", (e) => errors.push(e))
  await client.connect()
  open.push(client)
  const r = await client.query("SELECT pg_backend_pid() AS pid")
  return {
    client,
    pid: r.rows[0].pid as number,
    errors,
    q: (text, values) => (values === undefined ? client.query(text) : client.query(text, values as Array<unknown>))
  }
}

/** Closes every session opened so far. */
export const closeAll = async (): Promise<void> => {
  const all = open.splice(0)
  await Promise.all(all.map((c) => c.end().catch(() => undefined)))
}

/** A unique application_name prefix for one test (concurrent runs never see each other's sessions). */
export const uniqueName = (label: string): string => `bp-${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export const eventually = async (
  check: () => Promise<boolean>,
  timeoutMs = 5_000,
  what = "condition",
  intervalMs = 25
): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}
