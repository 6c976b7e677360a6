/**
 * The endpoints controller: one v1 Endpoints object per Service with a selector, listing ready
 * pod IPs under `addresses` and the others under `notReadyAddresses`.
 */
import type { SimContext } from "./context"
import { isPodReady } from "./context"
import { R, mapSelectorMatches, mutateIfChanged, sorted, type Json } from "./util"

/** The endpoints controller. */
export class EndpointsController {
  /** Build over the shared context. */
  constructor(private readonly ctx: SimContext) {}

  /** Reconcile every Service. */
  reconcile(): void {
    const ctx = this.ctx
    for (const svc of sorted(ctx.store.list(R.services))) {
      const spec = (svc["spec"] ?? {}) as Json
      const sel = spec["selector"] as Record<string, string> | undefined
      if (!sel || Object.keys(sel).length === 0) continue
      const ns = svc.metadata.namespace
      const pods = sorted(ctx.store.list(R.pods, { namespace: ns ?? "default" })).filter((p) => mapSelectorMatches(sel, p.metadata.labels) && !p.metadata.deletionTimestamp && ((p["status"] as Json | undefined)?.["podIP"]))
      const addr = (p: (typeof pods)[number]) => ({
        ip: (p["status"] as Json)["podIP"],
        nodeName: (p["spec"] as Json)["nodeName"],
        targetRef: { kind: "Pod", namespace: p.metadata.namespace, name: p.metadata.name, uid: p.metadata.uid }
      })
      const ready = pods.filter(isPodReady).map(addr)
      const notReady = pods.filter((p) => !isPodReady(p) && ((p["status"] as Json)["phase"] === "Running" || (p["status"] as Json)["phase"] === "Pending")).map(addr)
      const ports = ((spec["ports"] ?? []) as Array<Json>).map((p) => {
        const o: Json = { port: typeof p["targetPort"] === "number" ? p["targetPort"] : p["port"], protocol: p["protocol"] ?? "TCP" }
        if (p["name"]) o["name"] = p["name"]
        return o
      })
      const subsets: Array<Json> = []
      if (ready.length || notReady.length) {
        const s: Json = {}
        if (ready.length) s["addresses"] = ready
        if (notReady.length) s["notReadyAddresses"] = notReady
        s["ports"] = ports
        subsets.push(s)
      }
      const existing = ctx.store.get(R.endpoints, ns, svc.metadata.name)
      if (!existing) {
        ctx.store.create(R.endpoints, { apiVersion: "v1", kind: "Endpoints", metadata: { name: svc.metadata.name, namespace: ns ?? "default", labels: { ...(svc.metadata.labels ?? {}) } }, subsets })
      } else {
        mutateIfChanged(ctx.store, R.endpoints, ns, svc.metadata.name, (o) => {
          if (subsets.length) o["subsets"] = subsets
          else delete o["subsets"]
        })
      }
    }
  }
}
