/**
 * The endpoints controller: one v1 Endpoints object per Service with a selector (ExternalName
 * Services have none), named like the Service and carrying its labels (plus
 * `service.kubernetes.io/headless` for `clusterIP: None`). Ready pod IPs go under `addresses`, the
 * others under `notReadyAddresses` (all under `addresses` with `publishNotReadyAddresses`). Each
 * service port resolves per pod: a numeric `targetPort` as is, a named one through the pod's
 * container ports (a pod without that port is left out of that port), and pods with the same
 * resolved ports share a subset, as the apiserver's repacking does. The Endpoints of a Service
 * this controller managed go when the Service goes.
 */
import type { KubeObject } from "../store/types"
import type { SimContext } from "./context"
import { isPodReady } from "./context"
import { R, mapSelectorMatches, mutateIfChanged, sorted, type Json } from "./util"

const HEADLESS_LABEL = "service.kubernetes.io/headless"

/** The container port named `name` in `pod`, if any. */
const namedPort = (pod: KubeObject, name: string, protocol: unknown): number | undefined => {
  for (const c of (((pod["spec"] as Json | undefined)?.["containers"] ?? []) as Array<Json>)) {
    for (const p of ((c["ports"] ?? []) as Array<Json>)) {
      if (p["name"] === name && (p["protocol"] ?? "TCP") === protocol && typeof p["containerPort"] === "number") return p["containerPort"]
    }
  }
  return undefined
}

/** The endpoint ports of `pod` for the service ports (a port the pod cannot serve is left out). */
const podPorts = (pod: KubeObject, servicePorts: Array<Json>): Array<Json> => {
  const out: Array<Json> = []
  for (const sp of servicePorts) {
    const protocol = sp["protocol"] ?? "TCP"
    const target = sp["targetPort"] ?? sp["port"]
    const port = typeof target === "string" ? namedPort(pod, target, protocol) : target
    if (typeof port !== "number") continue
    const o: Json = { port, protocol }
    if (sp["name"]) o["name"] = sp["name"]
    out.push(o)
  }
  return out
}

/** A Service whose endpoints the controllers manage (a selector, not ExternalName), with what both read. */
interface ManagedService {
  readonly svc: KubeObject
  readonly spec: Json
  readonly sel: Record<string, string>
  readonly ns: string
  readonly name: string
  readonly servicePorts: Array<Json>
  readonly publishNotReady: boolean
}

/** The Services whose Endpoints and EndpointSlices are managed, sorted: the walk both controllers make. */
const managedServices = (ctx: SimContext): Array<ManagedService> =>
  sorted(ctx.store.list(R.services)).flatMap((svc) => {
    const spec = (svc["spec"] ?? {}) as Json
    const sel = spec["selector"] as Record<string, string> | undefined
    if (!sel || Object.keys(sel).length === 0 || spec["type"] === "ExternalName") return []
    return [{
      svc,
      spec,
      sel,
      ns: svc.metadata.namespace ?? "default",
      name: svc.metadata.name,
      servicePorts: (spec["ports"] ?? []) as Array<Json>,
      publishNotReady: spec["publishNotReadyAddresses"] === true
    }]
  })

/** The endpoints controller. */
export class EndpointsController {
  /** namespace/name of every Endpoints object this controller wrote. */
  private readonly managed = new Set<string>()

  /** Build over the shared context. */
  constructor(private readonly ctx: SimContext) {}

  /** Reconcile every Service. */
  reconcile(): void {
    const ctx = this.ctx
    const live = new Set<string>()
    for (const { svc, spec, sel, ns, name, servicePorts, publishNotReady } of managedServices(ctx)) {
      live.add(`${ns}/${name}`)
      const pods = sorted(ctx.store.list(R.pods, { namespace: ns })).filter((p) => mapSelectorMatches(sel, p.metadata.labels) && !p.metadata.deletionTimestamp && ((p["status"] as Json | undefined)?.["podIP"]))
      // subsets keyed by the resolved port list, in first-seen order
      const groups = new Map<string, { ports: Array<Json>; ready: Array<Json>; notReady: Array<Json> }>()
      for (const p of pods) {
        const status = p["status"] as Json
        const podSpec = (p["spec"] ?? {}) as Json
        const ready = publishNotReady || isPodReady(p)
        if (!ready && status["phase"] !== "Running" && status["phase"] !== "Pending") continue
        const ports = podPorts(p, servicePorts)
        if (servicePorts.length > 0 && ports.length === 0) continue
        const address: Json = { ip: status["podIP"] }
        if (typeof podSpec["hostname"] === "string" && podSpec["hostname"] !== "" && podSpec["subdomain"] === name) address["hostname"] = podSpec["hostname"]
        address["nodeName"] = podSpec["nodeName"]
        address["targetRef"] = { kind: "Pod", namespace: p.metadata.namespace, name: p.metadata.name, uid: p.metadata.uid }
        const k = JSON.stringify(ports)
        let g = groups.get(k)
        if (!g) groups.set(k, (g = { ports, ready: [], notReady: [] }))
        ;(ready ? g.ready : g.notReady).push(address)
      }
      const subsets: Array<Json> = []
      for (const g of groups.values()) {
        const s: Json = {}
        if (g.ready.length) s["addresses"] = g.ready
        if (g.notReady.length) s["notReadyAddresses"] = g.notReady
        if (g.ports.length) s["ports"] = g.ports
        subsets.push(s)
      }
      const labels: Record<string, string> = { ...(svc.metadata.labels ?? {}) }
      if (spec["clusterIP"] === "None") labels[HEADLESS_LABEL] = ""
      else delete labels[HEADLESS_LABEL]
      const existing = ctx.store.get(R.endpoints, ns, name)
      if (!existing) {
        ctx.store.create(R.endpoints, { apiVersion: "v1", kind: "Endpoints", metadata: { name, namespace: ns, labels }, subsets })
      } else {
        mutateIfChanged(ctx.store, R.endpoints, ns, name, (o) => {
          ;(o["metadata"] as Json)["labels"] = labels
          if (subsets.length) o["subsets"] = subsets
          else delete o["subsets"]
        })
      }
      this.managed.add(`${ns}/${name}`)
    }
    for (const key of [...this.managed]) {
      if (live.has(key)) continue
      const [ns, name] = key.split("/") as [string, string]
      if (!ctx.store.get(R.services, ns, name)) ctx.store.delete(R.endpoints, ns, name)
      this.managed.delete(key)
    }
  }
}

/** `kubernetes.io/service-name`: the Service an EndpointSlice belongs to. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name"
/** `endpointslice.kubernetes.io/managed-by`: who manages an EndpointSlice. */
export const MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
/** The value of MANAGED_BY_LABEL on the slices the EndpointSlice controller writes. */
export const MANAGED_BY = "endpointslice-controller.k8s.io"
/** The most endpoints one slice holds (`--max-endpoints-per-slice`, default 100). */
export const MAX_ENDPOINTS_PER_SLICE = 100
const ZONE_LABEL = "topology.kubernetes.io/zone"

/** The EndpointSlice ports of `pod` for the service ports (`name` "" when the service port has none). */
const slicePorts = (pod: KubeObject, servicePorts: Array<Json>): Array<Json> => {
  const out: Array<Json> = []
  for (const sp of servicePorts) {
    const protocol = sp["protocol"] ?? "TCP"
    const target = sp["targetPort"] ?? sp["port"]
    const port = typeof target === "string" ? namedPort(pod, target, protocol) : target
    if (typeof port !== "number") continue
    const o: Json = { name: typeof sp["name"] === "string" ? sp["name"] : "", port, protocol }
    if (typeof sp["appProtocol"] === "string") o["appProtocol"] = sp["appProtocol"]
    out.push(o)
  }
  return out
}

/**
 * The EndpointSlice controller (discovery.k8s.io/v1): for every Service with a selector, slices
 * named `<service>-<suffix>` (labels `kubernetes.io/service-name` and
 * `endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`, the Service's labels,
 * `service.kubernetes.io/headless` for `clusterIP: None`; owned by the Service) hold one endpoint
 * per pod with an IP that is not Succeeded/Failed: `conditions.ready` = Ready and not terminating
 * (always true with `publishNotReadyAddresses`), `serving` = Ready, `terminating` = being deleted;
 * `nodeName`, the node's zone, `targetRef` and, for a pod whose subdomain is the Service, its
 * hostname. Pods resolving to the same ports share slices of at most 100 endpoints; a Service
 * without endpoints keeps one empty slice, as the real controller's placeholder. Slices of a gone
 * Service are deleted.
 */
export class EndpointSliceController {
  /** Build over the shared context. */
  constructor(private readonly ctx: SimContext) {}

  /** Reconcile every Service's slices. */
  reconcile(): void {
    const ctx = this.ctx
    const live = new Set<string>()
    const nodeZone = new Map<string, string | undefined>()
    const zoneOf = (node: unknown): string | undefined => {
      if (typeof node !== "string" || node === "") return undefined
      if (!nodeZone.has(node)) nodeZone.set(node, ctx.store.get(R.nodes, undefined, node)?.metadata.labels?.[ZONE_LABEL])
      return nodeZone.get(node)
    }
    for (const { svc, spec, sel, ns, name, servicePorts, publishNotReady } of managedServices(ctx)) {
      live.add(`${ns}/${name}`)
      const groups = new Map<string, { ports: Array<Json>; endpoints: Array<Json> }>()
      for (const p of sorted(ctx.store.list(R.pods, { namespace: ns }))) {
        if (!mapSelectorMatches(sel, p.metadata.labels)) continue
        const status = (p["status"] ?? {}) as Json
        const podSpec = (p["spec"] ?? {}) as Json
        if (!status["podIP"] || status["phase"] === "Succeeded" || status["phase"] === "Failed") continue
        const serving = isPodReady(p)
        const terminating = p.metadata.deletionTimestamp !== undefined
        const ep: Json = {
          addresses: [status["podIP"]],
          conditions: { ready: publishNotReady || (serving && !terminating), serving, terminating }
        }
        if (typeof podSpec["hostname"] === "string" && podSpec["hostname"] !== "" && podSpec["subdomain"] === name) ep["hostname"] = podSpec["hostname"]
        ep["targetRef"] = { kind: "Pod", namespace: p.metadata.namespace, name: p.metadata.name, uid: p.metadata.uid }
        if (typeof podSpec["nodeName"] === "string" && podSpec["nodeName"] !== "") ep["nodeName"] = podSpec["nodeName"]
        const zone = zoneOf(podSpec["nodeName"])
        if (zone) ep["zone"] = zone
        const ports = slicePorts(p, servicePorts)
        const k = JSON.stringify(ports)
        let g = groups.get(k)
        if (!g) groups.set(k, (g = { ports, endpoints: [] }))
        g.endpoints.push(ep)
      }
      // desired slices: per port set, chunks of MAX_ENDPOINTS_PER_SLICE; one empty placeholder at least
      const desired: Array<{ ports: Array<Json> | undefined; endpoints: Array<Json> }> = []
      for (const g of groups.values()) {
        for (let i = 0; i < g.endpoints.length; i += MAX_ENDPOINTS_PER_SLICE) desired.push({ ports: g.ports, endpoints: g.endpoints.slice(i, i + MAX_ENDPOINTS_PER_SLICE) })
      }
      if (desired.length === 0) desired.push({ ports: undefined, endpoints: [] })
      const labels: Record<string, string> = {}
      for (const [k, v] of Object.entries(svc.metadata.labels ?? {})) if (k !== SERVICE_NAME_LABEL && k !== MANAGED_BY_LABEL) labels[k] = v
      if (spec["clusterIP"] === "None") labels[HEADLESS_LABEL] = ""
      else delete labels[HEADLESS_LABEL]
      labels[SERVICE_NAME_LABEL] = name
      labels[MANAGED_BY_LABEL] = MANAGED_BY
      const existing = sorted(ctx.store.list(R.endpointslices, { namespace: ns })).filter((s) => s.metadata.labels?.[SERVICE_NAME_LABEL] === name && s.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY)
      // reuse slices with the same ports first, then any left over, then create
      const unused = [...existing]
      const take = (ports: Array<Json> | undefined): KubeObject | undefined => {
        const key = JSON.stringify(ports ?? null)
        const i = unused.findIndex((s) => JSON.stringify(s["ports"] ?? null) === key)
        return i >= 0 ? unused.splice(i, 1)[0] : undefined
      }
      const plan = desired.map((d) => ({ d, slice: take(d.ports) }))
      for (const item of plan) if (!item.slice) item.slice = unused.shift()
      const owner = { apiVersion: "v1", kind: "Service", name, uid: svc.metadata.uid!, controller: true, blockOwnerDeletion: true }
      for (const { d, slice } of plan) {
        const body = (o: Json) => {
          const meta = o["metadata"] as Json
          meta["labels"] = labels
          meta["ownerReferences"] = [owner]
          o["addressType"] = "IPv4"
          o["endpoints"] = d.endpoints
          if (d.ports) o["ports"] = d.ports
          else delete o["ports"]
        }
        if (slice) mutateIfChanged(ctx.store, R.endpointslices, ns, slice.metadata.name, body)
        else {
          const o: Json = { apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice", metadata: { generateName: `${name}-`, namespace: ns } }
          body(o)
          ctx.store.create(R.endpointslices, o as KubeObject)
        }
      }
      for (const s of unused) ctx.store.delete(R.endpointslices, ns, s.metadata.name)
    }
    for (const s of ctx.store.list(R.endpointslices)) {
      if (s.metadata.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY) continue
      const svc = s.metadata.labels?.[SERVICE_NAME_LABEL]
      const ns = s.metadata.namespace ?? "default"
      if (svc !== undefined && !live.has(`${ns}/${svc}`) && !s.metadata.deletionTimestamp) ctx.store.delete(R.endpointslices, ns, s.metadata.name)
    }
  }
}
