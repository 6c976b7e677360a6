/**
 * The world of the db.replica.lag end-to-end tests: the agent's connections to the real primary
 * and its streaming replica (scripts/services.sh, service pgreplica), the kill handlers routed
 * by target (`PgTargets`), raw superuser sessions to build causes, and a loopback TCP fault
 * proxy the replica's walreceiver can be pointed at (pause, delay).
 */
import { TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Layer, Redacted } from "effect"
import * as net from "node:net"
import pg from "pg"
import * as PgCancelBackend from "../../src/actions/PgCancelBackend"
import * as PgTerminateBackend from "../../src/actions/PgTerminateBackend"
import * as Postgres from "../../src/Postgres"
import * as ReplicaLag from "../../src/probes/ReplicaLag"
import * as ReplicaLagRunbook from "../../src/runbooks/db.replica.lag"
import * as PgTargets from "../../src/sessions/PgTargets"

/** Test env record. */
export type Env = Readonly<Record<string, string>>

/** Targets of their own per test (their own kill budget). */
export const targets = (label: string) => {
  const id = `${label}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`
  return { primary: TargetRef.make("database", `test/primary-${id}`), replica: TargetRef.make("database", `test/replica-${id}`) }
}

/** The agent's connections (byteport_agent: pg_monitor + pg_signal_backend) to both servers. */
export const agentLayers = (env: Env) =>
  Layer.mergeAll(
    Postgres.layer({ url: Redacted.make(env.BYTEPORT_TEST_PG_AGENT_URL ?? ""), poolMax: 3 }),
    ReplicaLag.replicaLayer({ url: Redacted.make(env.BYTEPORT_TEST_PG_REPLICA_AGENT_URL ?? ""), poolMax: 3 })
  )

/** Core's test layer with the kill handlers; kills on `replica` run on the replica's connection. */
export const world = (env: Env, replica: TargetRef.TargetRef, cap = 20) => {
  const deps = Layer.mergeAll(PgTargets.layerFrom(replica, ReplicaLag.PgReplica)).pipe(Layer.provideMerge(agentLayers(env)))
  return Testing.layer<any>({
    handlers: [PgTerminateBackend.make({ killsPerMinuteCap: cap }), PgCancelBackend.make({ killsPerMinuteCap: cap, graceMillis: 1_000 })] as any,
    checks: ReplicaLagRunbook.checks() as any
  }).pipe(Layer.provideMerge(deps as Layer.Layer<Postgres.Postgres | ReplicaLag.PgReplica, any>))
}

/** The same handlers with no route: every kill runs on the primary's connection. */
export const unrouted = (env: Env) =>
  Testing.layer<any>({ handlers: [PgTerminateBackend.make({ killsPerMinuteCap: 20 })] as any, checks: ReplicaLagRunbook.checks() as any }).pipe(
    Layer.provideMerge(agentLayers(env) as Layer.Layer<Postgres.Postgres | ReplicaLag.PgReplica, any>)
  )

/** A raw client (errors recorded, never thrown). */
export interface Raw {
  readonly client: pg.Client
  readonly pid: number
  readonly errors: Array<Error>
  readonly q: (text: string, values?: ReadonlyArray<unknown>) => Promise<pg.QueryResult>
}

const opened: Array<pg.Client> = []

/** Opens a raw session. */
export const raw = async (url: string, applicationName: string): Promise<Raw> => {
  const client = new pg.Client({ connectionString: url, application_name: applicationName })
  const errors: Array<Error> = []
  client.on("error", (e) => errors.push(e))
  await client.connect()
  opened.push(client)
  const pid = (await client.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number
  return { client, pid, errors, q: (text, values) => (values === undefined ? client.query(text) : client.query(text, values as Array<unknown>)) }
}

/** Closes every raw session. */
export const closeRaw = async (): Promise<void> => {
  await Promise.all(opened.splice(0).map((c) => c.end().catch(() => undefined)))
}

/** One superuser statement on a server. */
export const su = async (url: string, text: string): Promise<pg.QueryResult> => {
  const c = new pg.Client({ connectionString: url, application_name: "bp-replica-test-admin" })
  await c.connect()
  try {
    return await c.query(text)
  } finally {
    await c.end()
  }
}

/** Polls until `check` holds. */
export const eventually = async (check: () => Promise<boolean>, timeoutMs = 10_000, what = "condition"): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Whether the replica has replayed everything the primary wrote (up to now). */
export const caughtUp = async (env: Env): Promise<boolean> => {
  const p = (await su(env.BYTEPORT_TEST_PG_SUPER_URL ?? "", "SELECT pg_current_wal_lsn()::text AS l")).rows[0].l as string
  const r = (await su(env.BYTEPORT_TEST_PG_REPLICA_SUPER_URL ?? "", "SELECT pg_last_wal_replay_lsn()::text AS l")).rows[0].l as string | null
  return r !== null && ReplicaLag.lsnToBigInt(r) >= ReplicaLag.lsnToBigInt(p)
}

/** Whether table `t` (and its rows up to `minRows`) is visible on the replica. */
export const onReplica = async (env: Env, t: string, minRows = 1): Promise<boolean> => {
  const url = env.BYTEPORT_TEST_PG_REPLICA_SUPER_URL ?? ""
  if ((await su(url, `SELECT to_regclass('${t}') IS NOT NULL AS ok`)).rows[0].ok !== true) return false
  return ((await su(url, `SELECT count(*)::int AS n FROM ${t}`)).rows[0].n as number) >= minRows
}

/** Sets a replica setting (ALTER SYSTEM + reload); `null` resets it. */
export const setReplica = async (env: Env, name: string, value: string | null): Promise<void> => {
  const url = env.BYTEPORT_TEST_PG_REPLICA_SUPER_URL ?? ""
  await su(url, value === null ? `ALTER SYSTEM RESET ${name}` : `ALTER SYSTEM SET ${name} = '${value.replace(/'/g, "''")}'`)
  await su(url, "SELECT pg_reload_conf()")
}

/**
 * A loopback TCP proxy in front of the primary, for the replica's walreceiver: `pause()` stops
 * forwarding (bytes queue in the kernel and here), `resume()` flushes them.
 */
export const faultProxy = async (targetPort: number) => {
  let paused = false
  let rate: number | undefined // bytes per second from the primary, when throttled
  const pending: Array<() => void> = []
  const throttled: Array<{ readonly to: net.Socket; chunk: Buffer }> = []
  const sockets = new Set<net.Socket>()
  const tick = setInterval(() => {
    if (rate === undefined || paused) return
    let budget = rate / 20
    while (budget > 0 && throttled.length > 0) {
      const head = throttled[0]!
      const n = Math.min(budget, head.chunk.length)
      head.to.write(head.chunk.subarray(0, n))
      head.chunk = head.chunk.subarray(n)
      budget -= n
      if (head.chunk.length === 0) throttled.shift()
    }
  }, 50)
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1")
    sockets.add(client)
    sockets.add(upstream)
    const pipe = (from: net.Socket, to: net.Socket, fromPrimary: boolean) =>
      from.on("data", (chunk) => {
        if (fromPrimary && (rate !== undefined || throttled.length > 0)) {
          throttled.push({ to, chunk })
          return
        }
        const send = () => to.write(chunk)
        if (paused) pending.push(send)
        else send()
      })
    pipe(client, upstream, false)
    pipe(upstream, client, true)
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on("error", end).on("close", end)
    upstream.on("error", end).on("close", end)
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    pause: () => {
      paused = true
    },
    resume: () => {
      paused = false
      for (const send of pending.splice(0)) send()
    },
    /** Caps what the primary sends at `bytesPerSecond` (undefined: no cap; the queue still drains in order). */
    throttle: (bytesPerSecond: number | undefined) => {
      rate = bytesPerSecond ?? Number.MAX_SAFE_INTEGER
    },
    close: async () => {
      clearInterval(tick)
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    }
  }
}
