/**
 * `meta.k8s.io/v1` Table rendering for `kubectl get` (columns like the apiserver's printers for
 * pods, deployments, replicasets, nodes, PDBs, HPAs, events; NAME/AGE for the rest).
 */
import type { ResourceType } from "../store/registry"
import type { KubeObject } from "../store/types"

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v)
const o = (v: unknown): Obj => (isObj(v) ? v : {})
const arr = (v: unknown): Array<Obj> => (Array.isArray(v) ? v.filter(isObj) : [])

/** Human duration like kubectl's (`5s`, `3m`, `2h`, `4d`). */
export const age = (from: string | undefined, now: number): string => {
  if (!from) return "<unknown>"
  const s = Math.max(0, Math.floor((now - Date.parse(from)) / 1000))
  if (s < 120) return `${s}s`
  if (s < 3600 * 2) return `${Math.floor(s / 60)}m`
  if (s < 86400 * 2) return `${Math.floor(s / 3600)}h`
  return `${Math.floor(s / 86400)}d`
}

interface Col {
  name: string
  type: string
  priority?: number
  cell: (obj: KubeObject, now: number) => unknown
}

const NAME: Col = { name: "Name", type: "string", cell: (x) => x.metadata.name }
const AGE: Col = { name: "Age", type: "string", cell: (x, now) => age(x.metadata.creationTimestamp, now) }

const podStatus = (p: KubeObject): string => {
  if (p.metadata.deletionTimestamp) return "Terminating"
  const st = o(p["status"])
  let reason = String(st["reason"] ?? st["phase"] ?? "Pending")
  for (const cs of arr(st["containerStatuses"])) {
    const state = o(cs["state"])
    if (isObj(state["waiting"]) && state["waiting"]["reason"]) reason = String(state["waiting"]["reason"])
    else if (isObj(state["terminated"]) && state["terminated"]["reason"]) reason = String(state["terminated"]["reason"])
  }
  return reason
}

const COLUMNS: Record<string, Array<Col>> = {
  Pod: [
    NAME,
    {
      name: "Ready",
      type: "string",
      cell: (p) => {
        const cs = arr(o(p["status"])["containerStatuses"])
        const total = arr(o(p["spec"])["containers"]).length
        return `${cs.filter((c) => c["ready"] === true).length}/${total}`
      }
    },
    { name: "Status", type: "string", cell: podStatus },
    { name: "Restarts", type: "string", cell: (p) => String(arr(o(p["status"])["containerStatuses"]).reduce((n, c) => n + (Number(c["restartCount"]) || 0), 0)) },
    AGE,
    { name: "IP", type: "string", priority: 1, cell: (p) => String(o(p["status"])["podIP"] ?? "<none>") },
    { name: "Node", type: "string", priority: 1, cell: (p) => String(o(p["spec"])["nodeName"] ?? "<none>") }
  ],
  Deployment: [
    NAME,
    { name: "Ready", type: "string", cell: (d) => `${Number(o(d["status"])["readyReplicas"] ?? 0)}/${Number(o(d["spec"])["replicas"] ?? 0)}` },
    { name: "Up-to-date", type: "integer", cell: (d) => Number(o(d["status"])["updatedReplicas"] ?? 0) },
    { name: "Available", type: "integer", cell: (d) => Number(o(d["status"])["availableReplicas"] ?? 0) },
    AGE
  ],
  ReplicaSet: [
    NAME,
    { name: "Desired", type: "integer", cell: (d) => Number(o(d["spec"])["replicas"] ?? 0) },
    { name: "Current", type: "integer", cell: (d) => Number(o(d["status"])["replicas"] ?? 0) },
    { name: "Ready", type: "integer", cell: (d) => Number(o(d["status"])["readyReplicas"] ?? 0) },
    AGE
  ],
  Node: [
    NAME,
    {
      name: "Status",
      type: "string",
      cell: (n) => {
        const ready = arr(o(n["status"])["conditions"]).find((c) => c["type"] === "Ready")
        const s = ready?.["status"] === "True" ? "Ready" : ready?.["status"] === "False" ? "NotReady" : "Unknown"
        return o(n["spec"])["unschedulable"] === true ? `${s},SchedulingDisabled` : s
      }
    },
    {
      name: "Roles",
      type: "string",
      cell: (n) => {
        const roles = Object.keys(n.metadata.labels ?? {}).filter((k) => k.startsWith("node-role.kubernetes.io/")).map((k) => k.slice(24))
        return roles.length ? roles.join(",") : "<none>"
      }
    },
    AGE,
    { name: "Version", type: "string", cell: (n) => String(o(o(n["status"])["nodeInfo"])["kubeletVersion"] ?? "") }
  ],
  PodDisruptionBudget: [
    NAME,
    { name: "Min Available", type: "string", cell: (p) => String(o(p["spec"])["minAvailable"] ?? "N/A") },
    { name: "Max Unavailable", type: "string", cell: (p) => String(o(p["spec"])["maxUnavailable"] ?? "N/A") },
    { name: "Allowed Disruptions", type: "integer", cell: (p) => Number(o(p["status"])["disruptionsAllowed"] ?? 0) },
    AGE
  ],
  Namespace: [NAME, { name: "Status", type: "string", cell: (n) => String(o(n["status"])["phase"] ?? "Active") }, AGE],
  StatefulSet: [
    NAME,
    { name: "Ready", type: "string", cell: (d) => `${Number(o(d["status"])["readyReplicas"] ?? 0)}/${Number(o(d["spec"])["replicas"] ?? 0)}` },
    AGE
  ],
  DaemonSet: [
    NAME,
    { name: "Desired", type: "integer", cell: (d) => Number(o(d["status"])["desiredNumberScheduled"] ?? 0) },
    { name: "Current", type: "integer", cell: (d) => Number(o(d["status"])["currentNumberScheduled"] ?? 0) },
    { name: "Ready", type: "integer", cell: (d) => Number(o(d["status"])["numberReady"] ?? 0) },
    { name: "Up-to-date", type: "integer", cell: (d) => Number(o(d["status"])["updatedNumberScheduled"] ?? 0) },
    { name: "Available", type: "integer", cell: (d) => Number(o(d["status"])["numberAvailable"] ?? 0) },
    AGE
  ],
  Service: [
    NAME,
    { name: "Type", type: "string", cell: (x) => String(o(x["spec"])["type"] ?? "ClusterIP") },
    { name: "Cluster-IP", type: "string", cell: (x) => String(o(x["spec"])["clusterIP"] ?? "<none>") },
    { name: "External-IP", type: "string", cell: () => "<none>" },
    {
      name: "Port(s)",
      type: "string",
      cell: (x) => arr(o(x["spec"])["ports"]).map((p) => `${String(p["port"])}${p["nodePort"] ? `:${String(p["nodePort"])}` : ""}/${String(p["protocol"] ?? "TCP")}`).join(",") || "<none>"
    },
    AGE
  ],
  HorizontalPodAutoscaler: [
    NAME,
    { name: "Reference", type: "string", cell: (h) => { const r = o(o(h["spec"])["scaleTargetRef"]); return `${String(r["kind"] ?? "")}/${String(r["name"] ?? "")}` } },
    {
      name: "Targets",
      type: "string",
      cell: (h) => {
        const cur = arr(o(h["status"])["currentMetrics"])
        return arr(o(h["spec"])["metrics"]).map((m, i) => {
          const target = o(o(m["resource"])["target"])
          const c = o(o(cur[i]?.["resource"])["current"])
          const want = target["averageUtilization"] !== undefined ? `${String(target["averageUtilization"])}%` : String(target["averageValue"] ?? target["value"] ?? "")
          const have = c["averageUtilization"] !== undefined ? `${String(c["averageUtilization"])}%` : c["averageValue"] !== undefined ? String(c["averageValue"]) : "<unknown>"
          return `${o(m["resource"])["name"] ? `${String(o(m["resource"])["name"])}: ` : ""}${have}/${want}`
        }).join(", ") || "<none>"
      }
    },
    { name: "MinPods", type: "integer", cell: (h) => Number(o(h["spec"])["minReplicas"] ?? 1) },
    { name: "MaxPods", type: "integer", cell: (h) => Number(o(h["spec"])["maxReplicas"] ?? 0) },
    { name: "Replicas", type: "integer", cell: (h) => Number(o(h["status"])["currentReplicas"] ?? 0) },
    AGE
  ],
  Event: [
    { name: "Last Seen", type: "string", cell: (e, now) => age(String(e["lastTimestamp"] ?? e["eventTime"] ?? e.metadata.creationTimestamp), now) },
    { name: "Type", type: "string", cell: (e) => String(e["type"] ?? "") },
    { name: "Reason", type: "string", cell: (e) => String(e["reason"] ?? "") },
    { name: "Object", type: "string", cell: (e) => { const i = o(e["involvedObject"] ?? e["regarding"]); return `${String(i["kind"] ?? "").toLowerCase()}/${String(i["name"] ?? "")}` } },
    { name: "Message", type: "string", cell: (e) => String(e["message"] ?? e["note"] ?? "") }
  ],
  EndpointSlice: [
    NAME,
    { name: "AddressType", type: "string", cell: (x) => String(x["addressType"] ?? "") },
    { name: "Ports", type: "string", cell: (x) => { const ps = arr(x["ports"]); return ps.length ? ps.map((p) => String(p["port"] ?? "")).join(",") : "<unset>" } },
    {
      name: "Endpoints",
      type: "string",
      cell: (x) => {
        const addrs = arr(x["endpoints"]).flatMap((e) => (Array.isArray(e["addresses"]) ? e["addresses"].map(String) : []))
        if (addrs.length === 0) return "<unset>"
        return addrs.length > 3 ? `${addrs.slice(0, 3).join(",")} + ${addrs.length - 3} more...` : addrs.join(",")
      }
    },
    AGE
  ],
  Ingress: [
    NAME,
    { name: "Class", type: "string", cell: (x) => String(o(x["spec"])["ingressClassName"] ?? "<none>") },
    { name: "Hosts", type: "string", cell: (x) => { const hs = arr(o(x["spec"])["rules"]).map((r) => String(r["host"] ?? "")).filter((h) => h !== ""); return hs.length ? hs.join(",") : "*" } },
    { name: "Address", type: "string", cell: (x) => arr(o(o(x["status"])["loadBalancer"])["ingress"]).map((i) => String(i["ip"] ?? i["hostname"] ?? "")).join(",") },
    { name: "Ports", type: "string", cell: (x) => (arr(o(x["spec"])["tls"]).length ? "80, 443" : "80") },
    AGE
  ],
  IngressClass: [NAME, { name: "Controller", type: "string", cell: (x) => String(o(x["spec"])["controller"] ?? "") }, { name: "Parameters", type: "string", cell: () => "<none>" }, AGE],
  CustomResourceDefinition: [NAME, { name: "Created At", type: "date", cell: (x) => x.metadata.creationTimestamp ?? "" }]
}

/** Evaluates the JSONPath subset CRDs use in `additionalPrinterColumns` (`.a.b`, `[0]`, `[?(@.k=="v")]`). */
export const jsonPathValue = (obj: unknown, path: string): unknown => {
  let cur: unknown = obj
  const re = /\.([A-Za-z0-9_-]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_-]+)\s*==\s*["']([^"']*)["']\)\]/g
  let m: RegExpExecArray | null
  while ((m = re.exec(path)) !== null) {
    if (cur === undefined || cur === null) return undefined
    if (m[1] !== undefined) cur = isObj(cur) ? cur[m[1]] : undefined
    else if (m[2] !== undefined) cur = Array.isArray(cur) ? cur[Number(m[2])] : undefined
    else cur = Array.isArray(cur) ? cur.find((x) => isObj(x) && String(x[m![3]!]) === m![4]) : undefined
  }
  return cur
}

const printerColumns = (type: ResourceType): Array<Col> | undefined => {
  if (!type.printerColumns) return undefined
  const cols: Array<Col> = [NAME]
  for (const c of type.printerColumns) {
    cols.push({
      name: c.name,
      type: c.type,
      ...(c.priority ? { priority: c.priority } : {}),
      cell: (x, now) => {
        const v = jsonPathValue(x, c.jsonPath)
        if (v === undefined || v === null) return c.type === "date" ? "<unknown>" : "<none>"
        if (c.type === "date") return age(String(v), now)
        return typeof v === "object" ? JSON.stringify(v) : v
      }
    })
  }
  if (!type.printerColumns.some((c) => c.jsonPath === ".metadata.creationTimestamp")) cols.push(AGE)
  return cols
}

/** Renders objects as a Table (rows carry PartialObjectMetadata). */
export const render = (
  type: ResourceType,
  objs: ReadonlyArray<KubeObject>,
  listMeta: Record<string, unknown>,
  now: number,
  options: { headers?: boolean } = {}
) => {
  const cols = printerColumns(type) ?? COLUMNS[type.kind] ?? [NAME, AGE]
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: listMeta,
    // watches send the column definitions with the first object only, like the apiserver
    columnDefinitions: options.headers === false ? [] : cols.map((c) => ({ name: c.name, type: c.type, format: c.name === "Name" ? "name" : "", description: c.name, priority: c.priority ?? 0 })),
    rows: objs.map((x) => ({
      cells: cols.map((c) => c.cell(x, now)),
      object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: x.metadata }
    }))
  }
}
