/**
 * The dependency a crash-looping container could not reach, and whether it is healthy now.
 *
 * - `fromLog` (pure): the last line of the previous log that reports a failed connection —
 *   `dial tcp 10.96.0.12:5432: connect: connection refused`, `dial tcp: lookup postgres.shop.svc…:
 *   no such host`, `connect ECONNREFUSED 10.96.0.12:5432`, `could not connect to server: Connection
 *   refused … "postgres" (10.96.0.12), port 5432` — as `{ host, port, failure }`.
 * - `resolve` (pure): which Service that host is (`name`, `name.ns`, `name.ns.svc[.cluster.local]`
 *   or its clusterIP) and how many ready endpoints its EndpointSlices list (`conditions.ready`,
 *   unset counts as ready, as kube-proxy reads it).
 * - `probe`: `fromLog` + `resolve` against the live Services and EndpointSlices.
 * - `healthy` / `check`: core `Check` kind `k8s.dependencyHealthy` — ready EndpointSlice endpoints
 *   for an in-cluster Service, else a TCP connect to `host:port` (an external dependency, or a
 *   Service without a selector). Plans reference it in `WaitFor`.
 *
 * @since 0.3.0
 */
import { Check, type Plan, type TargetRef, type Verdict } from "@byteport/core"
import { Effect } from "effect"
import * as net from "node:net"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"

type CheckResult = Verdict.CheckResult

/** How the connection failed. */
export type Failure = "refused" | "dns" | "timeout" | "reset"

/** A failed connection from the log. */
export interface LogDependency {
  /** The host as written (a name or an IP). */
  readonly host: string
  readonly port: number | null
  readonly failure: Failure
  /** The log line (already redacted). */
  readonly line: string
}

/** The Service a dependency resolved to, with its ready endpoints. */
export interface ServiceState {
  readonly namespace: string
  readonly name: string
  /** Whether the Service selects pods (EndpointSlices are managed from its selector). */
  readonly selector: boolean
  readonly clusterIP: string | null
  /** Ready endpoints over the Service's EndpointSlices. */
  readonly readyEndpoints: number
  /** All endpoints listed. */
  readonly endpoints: number
}

/** What the runbook knows about the dependency. */
export interface DependencyFacts extends LogDependency {
  /** The Service it resolved to; null: not a Service of the cluster (an external host). */
  readonly service: ServiceState | null
}

const failureOf = (line: string): Failure | undefined =>
  /connection refused|ECONNREFUSED/i.test(line)
    ? "refused"
    : /no such host|ENOTFOUND|EAI_AGAIN|Name or service not known|could not translate host name/i.test(line)
    ? "dns"
    : /i\/o timeout|ETIMEDOUT|timed out|context deadline exceeded/i.test(line)
    ? "timeout"
    : /connection reset|ECONNRESET/i.test(line)
    ? "reset"
    : undefined

/** Parses one log line reporting a failed connection (undefined: not such a line). */
export const parseLine = (line: string): LogDependency | undefined => {
  const failure = failureOf(line)
  if (failure === undefined) return undefined
  const lookup = /lookup ([A-Za-z0-9.-]+)(?: on [^:]+:\d+)?: (?:no such host|server misbehaving|i\/o timeout)/.exec(line)
  if (lookup) {
    const port = /(?:failed to connect to|connect to) [^:\s]+:(\d+)/.exec(line)?.[1]
    return { host: lookup[1]!, port: port ? Number(port) : null, failure, line }
  }
  const dial = /dial tcp (\[?[0-9A-Za-z.:-]+?\]?):(\d+)/.exec(line) ?? /(?:ECONNREFUSED|ETIMEDOUT|ECONNRESET) (\[?[0-9A-Za-z.:-]+?\]?):(\d+)/.exec(line)
  if (dial) return { host: dial[1]!.replace(/^\[|\]$/g, ""), port: Number(dial[2]), failure, line }
  const pg = /server (?:at )?"([^"]+)"(?: \(([0-9.]+)\))?,? port (\d+)/.exec(line)
  if (pg) return { host: pg[1]!, port: Number(pg[3]), failure, line }
  const hostPort = /(?:to|connect to|connecting to) ([A-Za-z0-9.-]+):(\d+)/.exec(line)
  if (hostPort) return { host: hostPort[1]!, port: Number(hostPort[2]), failure, line }
  return undefined
}

/** The last failed connection the log reports (undefined: none). */
export const fromLog = (lines: ReadonlyArray<string>): LogDependency | undefined => {
  for (let i = lines.length - 1; i >= 0; i--) {
    const d = parseLine(lines[i]!)
    if (d !== undefined) return d
  }
  return undefined
}

/** The fields of a Service this module reads. */
export interface ServiceLike {
  readonly metadata?: { readonly name?: string | undefined; readonly namespace?: string | undefined } | undefined
  readonly spec?: { readonly clusterIP?: string | undefined; readonly selector?: Readonly<Record<string, string>> | undefined } | undefined
}

/** The fields of an EndpointSlice this module reads. */
export interface EndpointSliceLike {
  readonly metadata?: { readonly labels?: Readonly<Record<string, string>> | undefined; readonly namespace?: string | undefined } | undefined
  readonly endpoints?: ReadonlyArray<{ readonly conditions?: { readonly ready?: boolean | null | undefined } | null | undefined }> | null | undefined
}

/** The label linking an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name"

/** The Service name and namespace a host names, in `namespace` (undefined: an IP or another domain). */
export const serviceName = (host: string, namespace: string): { readonly name: string; readonly namespace: string } | undefined => {
  if (/^[0-9.]+$/.test(host) || host.includes(":")) return undefined
  const parts = host.split(".")
  if (parts.length === 1) return { name: parts[0]!, namespace }
  if (parts.length === 2) return { name: parts[0]!, namespace: parts[1]! }
  if (parts[2] === "svc") return { name: parts[0]!, namespace: parts[1]! }
  return undefined
}

/** Ready and total endpoints of a Service's EndpointSlices. */
export const endpointsOf = (slices: ReadonlyArray<EndpointSliceLike>, service: { readonly name: string; readonly namespace: string }) => {
  let ready = 0
  let total = 0
  for (const s of slices) {
    if (s.metadata?.labels?.[SERVICE_NAME_LABEL] !== service.name || (s.metadata?.namespace ?? service.namespace) !== service.namespace) continue
    for (const e of s.endpoints ?? []) {
      total++
      if (e.conditions?.ready !== false) ready++
    }
  }
  return { ready, total }
}

/** Resolves a logged dependency against the cluster's Services and EndpointSlices (pure). */
export const resolve = (
  dep: LogDependency,
  namespace: string,
  services: ReadonlyArray<ServiceLike>,
  slices: ReadonlyArray<EndpointSliceLike>
): DependencyFacts => {
  const byName = serviceName(dep.host, namespace)
  const svc = services.find((s) =>
    byName
      ? s.metadata?.name === byName.name && (s.metadata?.namespace ?? namespace) === byName.namespace
      : s.spec?.clusterIP === dep.host
  )
  if (!svc) return { ...dep, service: null }
  const id = { name: svc.metadata?.name ?? "", namespace: svc.metadata?.namespace ?? namespace }
  const e = endpointsOf(slices, id)
  const cip = svc.spec?.clusterIP
  return {
    ...dep,
    service: {
      ...id,
      selector: Object.keys(svc.spec?.selector ?? {}).length > 0,
      clusterIP: cip && cip !== "None" ? cip : null,
      readyEndpoints: e.ready,
      endpoints: e.total
    }
  }
}

/** Services and EndpointSlices of the namespaces a dependency may live in, read live. */
const readServices = (namespaces: ReadonlyArray<string>): Effect.Effect<{ services: ReadonlyArray<ServiceLike>; slices: ReadonlyArray<EndpointSliceLike> }, KubeError, Kube> =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const services: Array<ServiceLike> = []
    const slices: Array<EndpointSliceLike> = []
    for (const namespace of [...new Set(namespaces)]) {
      services.push(...(yield* kube.read("list services", (a) => a.core.listNamespacedService({ namespace }))).items as ReadonlyArray<ServiceLike>)
      slices.push(...(yield* kube.read("list endpointslices", (a) => a.discovery.listNamespacedEndpointSlice({ namespace }))).items as ReadonlyArray<EndpointSliceLike>)
    }
    return { services, slices }
  })

/** The dependency of a logged failed connection, resolved live (null: the log shows none). */
export const probe = (namespace: string, lines: ReadonlyArray<string>): Effect.Effect<DependencyFacts | null, KubeError, Kube> =>
  Effect.gen(function*() {
    const dep = fromLog(lines)
    if (dep === undefined) return null
    const other = serviceName(dep.host, namespace)?.namespace
    const { services, slices } = yield* readServices(other ? [namespace, other] : [namespace])
    return resolve(dep, namespace, services, slices)
  })

/** The check kind. */
export const CHECK_KIND = "k8s.dependencyHealthy"

/** A TCP connect to `host:port` within `timeoutMs`: ok when it connects. */
export const tcpConnect = (host: string, port: number, timeoutMs = 3_000): Effect.Effect<CheckResult> =>
  Effect.callback<CheckResult>((resume) => {
    const name = `TCP connect ${host}:${port}`
    const socket = net.connect({ host, port })
    const done = (r: CheckResult) => {
      socket.destroy()
      resume(Effect.succeed(r))
    }
    socket.setTimeout(timeoutMs, () => done({ name, ok: false, detail: `no connection within ${timeoutMs} ms` }))
    socket.once("connect", () => done({ name, ok: true, detail: "connected" }))
    socket.once("error", (e) => done({ name, ok: false, detail: e.message }))
    return Effect.sync(() => socket.destroy())
  })

/** The params of a `k8s.dependencyHealthy` CheckRef. */
export interface CheckParams {
  readonly namespace: string
  /** The Service, when the dependency is one. */
  readonly service: string | null
  readonly host: string
  readonly port: number | null
}

/** Whether the dependency is healthy now: ready EndpointSlice endpoints of its Service, else a TCP connect. */
export const healthy = (p: CheckParams, options: { readonly tcpTimeoutMs?: number } = {}): Effect.Effect<CheckResult, never, Kube> =>
  Check.safely(
    `dependency ${p.service ?? p.host} healthy`,
    Effect.gen(function*() {
      if (p.service !== null) {
        const { services, slices } = yield* readServices([p.namespace])
        const svc = services.find((s) => s.metadata?.name === p.service)
        if (svc && Object.keys(svc.spec?.selector ?? {}).length > 0) {
          const e = endpointsOf(slices, { name: p.service, namespace: p.namespace })
          return {
            name: `service ${p.namespace}/${p.service} has ready endpoints`,
            ok: e.ready > 0,
            detail: `${e.ready} ready of ${e.total} endpoints (EndpointSlices)`,
            observed: { readyEndpoints: e.ready, endpoints: e.total }
          }
        }
      }
      if (p.port === null) return { name: `dependency ${p.host} healthy`, ok: false, detail: "no Service with a selector and no port to connect to" }
      return yield* tcpConnect(p.host, p.port, options.tcpTimeoutMs)
    })
  )

/** The `k8s.dependencyHealthy` Check (register it with the action handlers). */
export const check = (options: { readonly tcpTimeoutMs?: number } = {}): Check.Check<Kube> =>
  Check.make<Kube>(CHECK_KIND, (ref) => {
    const p = ref.params as unknown as CheckParams
    return healthy({ namespace: String(p.namespace), service: typeof p.service === "string" ? p.service : null, host: String(p.host), port: typeof p.port === "number" ? p.port : null }, options)
  })

/** The CheckRef a plan waits on. */
export const checkRef = (target: TargetRef.TargetRef, dep: DependencyFacts, namespace: string): Plan.CheckRef => ({
  kind: CHECK_KIND,
  target,
  params: {
    namespace: dep.service?.namespace ?? namespace,
    service: dep.service?.name ?? null,
    host: dep.host,
    port: dep.port
  },
  description: dep.service ? `service ${dep.service.namespace}/${dep.service.name} has ready endpoints` : `${dep.host}:${dep.port ?? "?"} accepts TCP connections`
})
