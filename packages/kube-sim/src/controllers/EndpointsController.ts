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
    for (const svc of sorted(ctx.store.list(R.services))) {
      const spec = (svc["spec"] ?? {}) as Json
      const sel = spec["selector"] as Record<string, string> | undefined
      if (!sel || Object.keys(sel).length === 0 || spec["type"] === "ExternalName") continue
      const ns = svc.metadata.namespace ?? "default"
      const name = svc.metadata.name
      live.add(`${ns}/${name}`)
      const servicePorts = (spec["ports"] ?? []) as Array<Json>
      const publishNotReady = spec["publishNotReadyAddresses"] === true
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
