/**
 * Shared pieces of the fleet tests: agents in several clusters on ONE PostgreSQL store.
 *
 * - `cutProxy`: a loopback TCP proxy in front of PostgreSQL that a test cuts (every connection
 *   reset, new ones refused) and restores: the store becomes really unreachable, mid-run.
 * - `skewed`: an Effect `Clock` that runs `offsetMs` off the real one (an agent whose host
 *   clock is wrong).
 * - `fleetRunbook`: a small auto runbook whose one action writes to the agent's cluster
 *   (kube-sim, real client-node) and counts there how often it ran (`byteport.io/fleet-acted`).
 */
import { randomUUID } from "node:crypto"
import * as net from "node:net"
import { ActionHandler, Classification, Diagnoser, Guardrail, Plan, Runbook, type Signal, TargetRef } from "@byteport/core"
import { Kube, KubePatch } from "@byteport/k8s"
import { Keys, KubeSim, type KubeSimInstance } from "@byteport/kube-sim"
import { Clock, Duration, Effect, Schema } from "effect"
import pg from "pg"

/** A TCP proxy to 127.0.0.1:`targetPort` that can be cut and restored. */
export const cutProxy = async (targetPort: number) => {
  let cut = false
  let dropAtCommit = false
  let dropAfter: string | undefined
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    if (cut) {
      client.destroy()
      return
    }
    const upstream = net.connect(targetPort, "127.0.0.1")
    sockets.add(client)
    sockets.add(upstream)
    client.on("data", (chunk: Buffer) => {
      // armed: the COMMIT reaches the server, the answer never reaches the client
      if (dropAfter !== undefined && chunk.includes(dropAfter)) {
        dropAfter = undefined
        dropAtCommit = true
      } else if (dropAtCommit && chunk.includes("COMMIT")) {
        dropAtCommit = false
        upstream.end(chunk)
        client.destroy()
        return
      }
      upstream.write(chunk)
    })
    upstream.pipe(client)
    const end = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on("error", end).on("close", end)
    upstream.on("error", end).on("close", end)
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    /** Resets every open connection and refuses new ones. */
    cut: () => {
      cut = true
      for (const s of sockets) s.destroy()
      sockets.clear()
    },
    restore: () => {
      cut = false
    },
    /**
     * The next COMMIT (after a statement containing `after`, when given) is delivered to the
     * server, then the client's connection is reset before any answer.
     */
    dropNextCommitAnswer: (after?: string) => {
      if (after === undefined) dropAtCommit = true
      else dropAfter = after
    },
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy()
      server.close(() => r())
    })
  }
}

/** `url` with its port replaced. */
export const withPort = (url: string, port: number): string => {
  const u = new URL(url)
  u.port = String(port)
  return u.toString()
}

/** A fresh schema name (runs sharing one server never see each other's rows). */
export const freshSchema = (label: string): string => `bp_fleet_${label}_${randomUUID().replace(/-/g, "").slice(0, 10)}`

/** Drops the schemas. */
export const dropSchemas = async (url: string, schemas: ReadonlyArray<string>): Promise<void> => {
  const client = new pg.Client({ connectionString: url })
  client.on("error", () => undefined)
  await client.connect()
  try {
    for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`)
  } finally {
    await client.end()
  }
}

/** Units in a window key right now, read directly from the table (on the database's clock). */
export const windowCount = async (url: string, schema: string, key: string, windowMs: number): Promise<number> => {
  const client = new pg.Client({ connectionString: url })
  client.on("error", () => undefined)
  await client.connect()
  try {
    const r = await client.query(
      `SELECT coalesce(sum(weight), 0)::int AS n FROM ${schema}.windows
       WHERE key = $1 AND floor(extract(epoch FROM clock_timestamp()) * 1000) - at < $2`,
      [key, windowMs]
    )
    return Number(r.rows[0].n)
  } finally {
    await client.end()
  }
}

/** A Clock `offsetMs` off the real one (sleeps are the real clock's). */
export const skewed = (offsetMs: number): Clock.Clock => {
  const base = Clock.Clock.defaultValue()
  return {
    currentTimeMillisUnsafe: () => base.currentTimeMillisUnsafe() + offsetMs,
    currentTimeMillis: Effect.map(base.currentTimeMillis, (t) => t + offsetMs),
    currentTimeNanosUnsafe: () => base.currentTimeNanosUnsafe() + BigInt(offsetMs) * 1_000_000n,
    currentTimeNanos: Effect.map(base.currentTimeNanos, (t) => t + BigInt(offsetMs) * 1_000_000n),
    monotonicTimeNanosUnsafe: () => base.monotonicTimeNanosUnsafe(),
    monotonicTimeNanos: base.monotonicTimeNanos,
    sleep: (d) => base.sleep(d)
  } as Clock.Clock
}

/** The annotation a fleet action increments on the object it acts on (how often it really ran). */
export const ACTED = "byteport.io/fleet-acted"

/** A node with a providerID (a replaceable node) or the Deployment `shop/web`, in one kube-sim. */
export const seedCluster = (s: KubeSimInstance, nodes: number) => {
  for (let i = 1; i <= nodes; i++) {
    s.store.create(Keys.nodes, {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: `node-${i}`, labels: { "kubernetes.io/hostname": `node-${i}` } },
      spec: { providerID: `aws:///eu-west-1a/i-${i}` }
    } as never)
  }
  s.store.create(Keys.deployments, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "default" },
    spec: { replicas: 0, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "registry.local/web:1" }] } } }
  } as never)
}

/** How often the fleet action ran on an object of one kube-sim. */
export const actedOn = (s: KubeSimInstance, kind: "node" | "deployment", name: string): number => {
  const o = kind === "node" ? s.store.get(Keys.nodes, undefined, name) : s.store.get(Keys.deployments, "default", name)
  return Number((o as { metadata?: { annotations?: Record<string, string> } } | undefined)?.metadata?.annotations?.[ACTED] ?? "0")
}

/** Starts a kube-sim (closed with the scope). */
export const sim = (seed: number) => Effect.acquireRelease(Effect.promise(() => KubeSim.start({ seed })), (s) => Effect.promise(() => s.close()))

const Params = Schema.Struct({ kind: Schema.Literals(["Node", "Deployment"]), name: Schema.String })

/**
 * The fleet action: increments `byteport.io/fleet-acted` on the node or Deployment (a real
 * write through the agent's Kube, conditional on the resourceVersion it read).
 */
export const actHandler = (kind: string, guardrails: ReadonlyArray<Guardrail.Guardrail<Kube.Kube>>) =>
  ActionHandler.make<typeof Params.Type, Kube.Kube>({
    kind,
    params: Params,
    guardrails,
    apply: (p) =>
      Effect.gen(function*() {
        const kube = yield* Kube.Kube
        const obj = p.kind === "Node" ? yield* kube.getNode(p.name) : yield* kube.getDeployment("default", p.name)
        const n = Number(obj.metadata?.annotations?.[ACTED] ?? "0") + 1
        yield* kube.patch(p.kind, p.kind === "Node" ? { name: p.name } : { namespace: "default", name: p.name }, KubePatch.merge(obj.metadata!.resourceVersion!, { metadata: { annotations: { [ACTED]: String(n) } } }))
        return { detail: `${p.kind} ${p.name} acted (${n})`, result: { n } }
      }).pipe(Effect.mapError((e) => new ActionHandler.ActionFailed({ kind, message: String((e as { message?: unknown }).message ?? e) })))
  })

/**
 * An auto runbook: every signal on `fleet.node` / `fleet.deployment` targets (refs WITHOUT the
 * cluster: `node-2`, `default/web`) acts once with `actionKind`. Zero cooldown: only the
 * guardrails limit how often it acts.
 */
export const fleetRunbook = (id: string, actionKind: string) =>
  Runbook.make<{ readonly seen: boolean }, Kube.Kube>({
    id,
    family: "test.fleet",
    signals: ["test.fleet"],
    diagnose: Diagnoser.make({ seen: Diagnoser.probe("seen", () => Effect.succeed(true)) }),
    classify: () => Classification.classified("act", 0.95),
    remediate: (_c, _f, signal) => {
      const node = signal.target.kind === "fleet.node"
      return Effect.succeed(
        Plan.make(id, "act", "act once", Plan.act({
          kind: actionKind,
          target: signal.target,
          params: { kind: node ? "Node" : "Deployment", name: node ? signal.target.ref : signal.target.ref.split("/")[1]! },
          precondition: {},
          idempotencyKey: `${id}:${signal.target.ref}:${signal.observedAt}`,
          timeout: 10_000,
          description: `act on ${signal.target.ref}`
        }))
      )
    },
    cooldown: Duration.zero,
    defaultMode: "auto"
  })

/** A signal on a cluster-less target (the agent's `TargetRef.Cluster` places it). */
export const signal = (kind: "fleet.node" | "fleet.deployment", ref: string, observedAt: number): Signal.Signal => ({
  type: "test.fleet",
  target: TargetRef.make(kind, ref),
  observedAt,
  evidence: {}
})
