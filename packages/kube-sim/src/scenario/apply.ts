/**
 * Loading, validating and applying scenarios: `loadScenario(fileOrObject)` (JSON or YAML),
 * `applyScenario(controllers, scenario)` (creates nodes, workloads and world state through the
 * store, warms up on the virtual clock and runs the timed steps), and the `scenario()` /
 * `cluster()` builders.
 */
import { readFileSync } from "node:fs"
import { parse as parseYaml } from "yaml"
import type { KubeObject } from "../store/types"
import type { Controllers } from "../controllers/Controllers"
import { BEHAVIOUR_ANNOTATION, validateBehaviour, type ContainerBehaviour } from "../controllers/behaviour"
import { validateMemoryModel } from "../controllers/memory"
import { parseDuration } from "../clock/VirtualClock"
import { tryQuantity } from "../controllers/quantity"
import { R, type Json } from "../controllers/util"
import { Series } from "../controllers/series"
import type { ContainerSpec, IncidentInfo, NodeSpec, ScenarioPart, ScenarioSpec, ScenarioStep, WorkloadSpec } from "./types"

/** A scenario that does not validate; `path` names the offending field. */
export class ScenarioError extends Error {
  /** JSON path of the bad field, e.g. `workloads[1].memory.kind`. */
  readonly path: string
  /** Build the error. */
  constructor(path: string, message: string) {
    super(`scenario ${path}: ${message}`)
    this.name = "ScenarioError"
    this.path = path
  }
}

const isPart = (w: WorkloadSpec | ScenarioPart): w is ScenarioPart => !("name" in w)

/** A scenario with its parts flattened. */
export interface NormalisedScenario extends Omit<ScenarioSpec, "workloads"> {
  readonly workloads: ReadonlyArray<WorkloadSpec>
  readonly objects: ReadonlyArray<KubeObject>
  readonly steps: ReadonlyArray<ScenarioStep>
  readonly incidents: ReadonlyArray<IncidentInfo>
  readonly nodeTaints: NonNullable<NodeSpec["taints"]>
}

/** Flatten the parts of a scenario into one spec. */
export const normalise = (spec: ScenarioSpec): NormalisedScenario => {
  const workloads: Array<WorkloadSpec> = []
  const objects: Array<KubeObject> = [...(spec.objects ?? [])]
  const steps: Array<ScenarioStep> = []
  const incidents: Array<IncidentInfo> = [...(spec.incidents ?? [])]
  const images = { ...(spec.images ?? {}) }
  const registryUsers = { ...(spec.registryUsers ?? {}) }
  const hosts: Record<string, Json> = { ...(spec.hosts ?? {}) }
  const taints: Array<NonNullable<NodeSpec["taints"]>[number]> = []
  for (const w of spec.workloads ?? []) {
    if (!isPart(w)) {
      workloads.push(w)
      continue
    }
    workloads.push(...(w.workloads ?? []))
    objects.push(...(w.objects ?? []))
    steps.push(...(w.steps ?? []))
    if (w.incident) incidents.push(w.incident)
    Object.assign(images, w.images ?? {})
    Object.assign(registryUsers, w.registryUsers ?? {})
    for (const [n, h] of Object.entries(w.hosts ?? {})) hosts[n] = { ...(hosts[n] ?? {}), ...h }
    taints.push(...(w.nodeTaints ?? []))
  }
  steps.push(...(spec.steps ?? []))
  return { ...spec, workloads, objects, steps, incidents, images, registryUsers, hosts, nodeTaints: taints }
}

const checkQuantity = (path: string, v: unknown): void => {
  if (v !== undefined && tryQuantity(v) === undefined) throw new ScenarioError(path, `invalid quantity ${JSON.stringify(v)}`)
}

const checkDuration = (path: string, v: unknown): void => {
  if (v === undefined) return
  try {
    parseDuration(v as string)
  } catch {
    throw new ScenarioError(path, `invalid duration ${JSON.stringify(v)} (use e.g. "30s", "5m", "1h")`)
  }
}

/** Validate a scenario (throws ScenarioError naming the bad field). */
export const validateScenario = (input: unknown): ScenarioSpec => {
  if (input === null || typeof input !== "object" || Array.isArray(input)) throw new ScenarioError("$", "must be an object")
  const s = input as ScenarioSpec
  if (s.nodes !== undefined) {
    if (typeof s.nodes === "number") {
      if (!Number.isInteger(s.nodes) || s.nodes < 0 || s.nodes > 500) throw new ScenarioError("nodes", "must be an integer between 0 and 500")
    } else if (!Array.isArray(s.nodes)) throw new ScenarioError("nodes", "must be a number or an array of nodes")
    else s.nodes.forEach((n, i) => {
      checkQuantity(`nodes[${i}].cpu`, n.cpu)
      checkQuantity(`nodes[${i}].memory`, n.memory)
    })
  }
  checkDuration("warmup", s.warmup)
  if (s.start !== undefined && !Number.isFinite(Date.parse(s.start))) throw new ScenarioError("start", `invalid timestamp ${JSON.stringify(s.start)}`)
  const seen = new Set<string>()
  const checkBehaviour = (path: string, b: ContainerBehaviour | undefined) => {
    if (b === undefined) return
    const err = validateBehaviour(b)
    if (err) throw new ScenarioError(path, err)
  }
  const checkContainers = (path: string, cs: ReadonlyArray<ContainerSpec> | undefined) => {
    if (cs === undefined) return
    if (!Array.isArray(cs)) throw new ScenarioError(path, "must be an array")
    cs.forEach((c, i) => {
      if (typeof c.name !== "string" || !c.name) throw new ScenarioError(`${path}[${i}].name`, "required")
      checkBehaviour(`${path}[${i}].behaviour`, c.behaviour)
    })
  }
  const checkWorkload = (path: string, w: WorkloadSpec) => {
    if (typeof w.name !== "string" || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(w.name)) throw new ScenarioError(`${path}.name`, `invalid name ${JSON.stringify(w.name)} (a DNS-1123 label)`)
    const k = `${w.namespace ?? "default"}/${w.name}`
    if (seen.has(k)) throw new ScenarioError(`${path}.name`, `duplicate workload ${k}`)
    seen.add(k)
    if (w.kind !== undefined && !["Deployment", "StatefulSet", "DaemonSet"].includes(w.kind)) throw new ScenarioError(`${path}.kind`, `unsupported kind ${JSON.stringify(w.kind)}`)
    for (const f of ["memoryLimit", "memoryRequest", "cpuRequest", "cpuLimit"] as const) checkQuantity(`${path}.${f}`, w[f])
    if (w.memory !== undefined) {
      const err = validateMemoryModel(w.memory)
      if (err) throw new ScenarioError(`${path}.memory`, err)
    }
    checkBehaviour(`${path}.behaviour`, w.behaviour)
    checkContainers(`${path}.sidecars`, w.sidecars)
    checkContainers(`${path}.initContainers`, w.initContainers)
    if (w.hpa && (typeof w.hpa.max !== "number" || w.hpa.max < (w.hpa.min ?? 1))) throw new ScenarioError(`${path}.hpa.max`, "must be a number ≥ min")
  }
  ;(s.workloads ?? []).forEach((w, i) => {
    if (w === null || typeof w !== "object") throw new ScenarioError(`workloads[${i}]`, "must be an object")
    if (isPart(w)) (w.workloads ?? []).forEach((x, j) => checkWorkload(`workloads[${i}].workloads[${j}]`, x))
    else checkWorkload(`workloads[${i}]`, w)
  })
  const steps = normalise(s).steps
  steps.forEach((st, i) => {
    checkDuration(`steps[${i}].after`, st.after)
    if (!["rollout", "nodeHost", "nodeCondition", "requestRate", "image", "wait"].includes(st.action)) throw new ScenarioError(`steps[${i}].action`, `unknown action ${JSON.stringify(st.action)}`)
  })
  checkDuration("runFor", (s as { runFor?: string }).runFor)
  return s
}

/** Load a scenario from a JSON/YAML file path, a JSON/YAML string or an object, validated. */
export const loadScenario = (fileOrObject: string | ScenarioSpec | Record<string, unknown>): ScenarioSpec => {
  if (typeof fileOrObject !== "string") return validateScenario(fileOrObject)
  const text = /^\s*[{[]/.test(fileOrObject) || fileOrObject.includes("\n") ? fileOrObject : readFileSync(fileOrObject, "utf8")
  let parsed: unknown
  try {
    parsed = /^\s*[{[]/.test(text) ? JSON.parse(text) : parseYaml(text)
  } catch (e) {
    throw new ScenarioError("$", `cannot parse: ${(e as Error).message}`)
  }
  return validateScenario(parsed)
}

// ------------------------------------------------------------------ objects

const nodeObject = (spec: ScenarioSpec, n: NodeSpec, i: number, extraTaints: NonNullable<NodeSpec["taints"]>): KubeObject => {
  const d = spec.nodeDefaults ?? {}
  const name = n.name ?? `node-${i + 1}`
  const cpu = n.cpu ?? d.cpu ?? "4"
  const memory = n.memory ?? d.memory ?? "8Gi"
  const pods = String(n.pods ?? d.pods ?? 110)
  const storage = n.ephemeralStorage ?? d.ephemeralStorage ?? "100Gi"
  const taints = [...(d.taints ?? []), ...(n.taints ?? []), ...extraTaints]
  const nodeSpec: Json = { podCIDR: `10.244.${i + 1}.0/24`, podCIDRs: [`10.244.${i + 1}.0/24`], providerID: `kube-sim://${name}` }
  if (taints.length) nodeSpec["taints"] = taints
  if (n.unschedulable ?? d.unschedulable) nodeSpec["unschedulable"] = true
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": "sim.large",
        "topology.kubernetes.io/zone": `zone-${String.fromCharCode(97 + (i % 3))}`,
        ...(d.labels ?? {}),
        ...(n.labels ?? {})
      }
    },
    spec: nodeSpec,
    status: {
      capacity: { cpu, memory, pods, "ephemeral-storage": storage },
      allocatable: { cpu, memory, pods, "ephemeral-storage": storage },
      addresses: [{ type: "InternalIP", address: `10.0.0.${10 + i}` }, { type: "Hostname", address: name }],
      nodeInfo: {
        kubeletVersion: "v1.32.0",
        kubeProxyVersion: "v1.32.0",
        containerRuntimeVersion: "containerd://1.7.22",
        osImage: "Ubuntu 24.04.1 LTS",
        kernelVersion: "6.8.0-45-generic",
        operatingSystem: "linux",
        architecture: "amd64",
        machineID: `machine-${name}`,
        systemUUID: `uuid-${name}`,
        bootID: `boot-${name}`
      },
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } }
    }
  }
}

const containerOf = (c: ContainerSpec, ns: string): Json => {
  const o: Json = { name: c.name, image: c.image ?? `registry.example.com/${ns}/${c.name}:1.0.0` }
  if (c.command) o["command"] = [...c.command]
  if (c.args) o["args"] = [...c.args]
  if (c.env) o["env"] = [...c.env]
  if (c.ports) o["ports"] = c.ports.map((p) => ({ containerPort: p }))
  if (c.resources) o["resources"] = c.resources
  return o
}

/** The behaviour annotation a workload's pod template carries. */
export const behaviourAnnotation = (w: WorkloadSpec): string | undefined => {
  const map: Record<string, ContainerBehaviour> = {}
  const main = w.container ?? w.name
  const b: ContainerBehaviour = { ...(w.behaviour ?? {}), ...(w.memory ? { memory: w.memory } : {}) }
  if (Object.keys(b).length) map[main] = b
  for (const c of [...(w.sidecars ?? []), ...(w.initContainers ?? [])]) if (c.behaviour) map[c.name] = c.behaviour
  return Object.keys(map).length ? JSON.stringify(map) : undefined
}

/** The Kubernetes objects a workload spec stands for (workload, Service, PDB, HPA). */
export const workloadObjects = (w: WorkloadSpec): Array<KubeObject> => {
  const ns = w.namespace ?? "default"
  const kind = w.kind ?? "Deployment"
  const labels = { app: w.name, ...(w.labels ?? {}) }
  const port = w.port ?? 8080
  const resources: Json = {}
  const limits: Json = {}
  const requests: Json = {}
  if (w.memoryLimit) limits["memory"] = w.memoryLimit
  if (w.cpuLimit) limits["cpu"] = w.cpuLimit
  if (w.memoryRequest ?? w.memoryLimit) requests["memory"] = w.memoryRequest ?? w.memoryLimit
  if (w.cpuRequest) requests["cpu"] = w.cpuRequest
  if (Object.keys(limits).length) resources["limits"] = limits
  if (Object.keys(requests).length) resources["requests"] = requests
  const main: Json = {
    name: w.container ?? w.name,
    image: w.image ?? `registry.example.com/${ns}/${w.name}:1.0.0`,
    ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
    resources
  }
  if (w.command) main["command"] = [...w.command]
  if (w.args) main["args"] = [...w.args]
  if (w.env) main["env"] = [...w.env]
  if (w.envFrom) main["envFrom"] = [...w.envFrom]
  if (w.readinessProbe) main["readinessProbe"] = w.readinessProbe
  if (w.livenessProbe) main["livenessProbe"] = w.livenessProbe
  if (w.startupProbe) main["startupProbe"] = w.startupProbe
  if (w.volumeMounts) main["volumeMounts"] = [...w.volumeMounts]
  if (w.imagePullPolicy) main["imagePullPolicy"] = w.imagePullPolicy
  const podSpec: Json = { containers: [...(w.sidecars ?? []).map((c) => containerOf(c, ns)), main] }
  if (w.initContainers) podSpec["initContainers"] = w.initContainers.map((c) => containerOf(c, ns))
  if (w.volumes) podSpec["volumes"] = [...w.volumes]
  if (w.nodeSelector) podSpec["nodeSelector"] = { ...w.nodeSelector }
  if (w.affinity) podSpec["affinity"] = w.affinity
  if (w.tolerations) podSpec["tolerations"] = [...w.tolerations]
  if (w.hostNetwork) podSpec["hostNetwork"] = true
  if (w.priorityClassName) podSpec["priorityClassName"] = w.priorityClassName
  if (w.imagePullSecrets) podSpec["imagePullSecrets"] = w.imagePullSecrets.map((name) => ({ name }))
  if (w.serviceAccountName) podSpec["serviceAccountName"] = w.serviceAccountName
  const tplAnn: Record<string, string> = {}
  const ba = behaviourAnnotation(w)
  if (ba) tplAnn[BEHAVIOUR_ANNOTATION] = ba
  const template: Json = { metadata: { labels, ...(Object.keys(tplAnn).length ? { annotations: tplAnn } : {}) }, spec: podSpec }
  const metaAnn: Record<string, string> = { ...(w.annotations ?? {}) }
  if (w.changeCause) metaAnn["kubernetes.io/change-cause"] = w.changeCause
  const spec: Json = { selector: { matchLabels: labels }, template }
  if (kind !== "DaemonSet") spec["replicas"] = w.replicas ?? 2
  if (kind === "Deployment") {
    if (w.strategy) spec["strategy"] = w.strategy
    if (w.progressDeadlineSeconds !== undefined) spec["progressDeadlineSeconds"] = w.progressDeadlineSeconds
    if (w.minReadySeconds !== undefined) spec["minReadySeconds"] = w.minReadySeconds
  }
  if (kind === "StatefulSet") spec["serviceName"] = w.name
  const out: Array<KubeObject> = [{
    apiVersion: "apps/v1",
    kind,
    metadata: { name: w.name, namespace: ns, labels: { ...labels }, ...(Object.keys(metaAnn).length ? { annotations: metaAnn } : {}) },
    spec
  }]
  if (w.service) {
    const s = typeof w.service === "object" ? w.service : {}
    out.push({ apiVersion: "v1", kind: "Service", metadata: { name: s.name ?? w.name, namespace: ns, labels: { app: w.name } }, spec: { selector: { app: w.name }, ports: [{ name: "http", port: s.port ?? 80, targetPort: port, protocol: "TCP" }] } })
  }
  if (w.pdb) {
    const pdbSpec: Json = { selector: { matchLabels: labels } }
    if (w.pdb.minAvailable !== undefined) pdbSpec["minAvailable"] = w.pdb.minAvailable
    if (w.pdb.maxUnavailable !== undefined) pdbSpec["maxUnavailable"] = w.pdb.maxUnavailable
    out.push({ apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: `${w.name}-pdb`, namespace: ns }, spec: pdbSpec })
  }
  if (w.hpa) {
    const metrics: Array<Json> = []
    if (w.hpa.rpsPerPod !== undefined) metrics.push({ type: "Pods", pods: { metric: { name: "http_requests_per_second" }, target: { type: "AverageValue", averageValue: String(w.hpa.rpsPerPod) } } })
    if (w.hpa.cpuUtilization !== undefined || metrics.length === 0) metrics.push({ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: w.hpa.cpuUtilization ?? 80 } } })
    out.push({ apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", metadata: { name: w.name, namespace: ns }, spec: { scaleTargetRef: { apiVersion: "apps/v1", kind, name: w.name }, minReplicas: w.hpa.min ?? 1, maxReplicas: w.hpa.max, metrics } })
  }
  return out
}

const keyOf = (o: KubeObject) => {
  switch (o.kind) {
    case "Deployment": return R.deployments
    case "StatefulSet": return R.statefulsets
    case "DaemonSet": return R.daemonsets
    case "Service": return R.services
    case "PodDisruptionBudget": return R.pdbs
    case "HorizontalPodAutoscaler": return R.hpas
    case "ConfigMap": return R.configmaps
    case "Secret": return R.secrets
    case "ServiceAccount": return R.serviceaccounts
    case "PersistentVolumeClaim": return R.pvcs
    case "PersistentVolume": return R.pvs
    case "Namespace": return R.namespaces
    case "Pod": return R.pods
    case "Node": return R.nodes
    default: throw new ScenarioError("objects", `unsupported kind ${JSON.stringify(o.kind)}`)
  }
}

/** Apply one timed step. */
export const applyStep = (c: Controllers, st: ScenarioStep): void => {
  const store = c.store
  switch (st.action) {
    case "wait": return
    case "image":
      if (st.outcome === "push" && st.push) {
        c.registry.push(st.image, st.push)
        c.settle()
      } else c.setImage(st.image, st.outcome)
      return
    case "nodeHost": {
      const patch = { ...st.host }
      if (patch.network === "down" && patch.networkDownAt === undefined) patch.networkDownAt = c.now()
      c.setNodeHost(st.node, patch)
      return
    }
    case "nodeCondition": c.setNodeCondition(st.node, st.type, st.status); return
    case "requestRate": c.setRequestRate({ namespace: st.namespace ?? "default", workload: st.workload }, st.series); return
    case "rollout": {
      const ns = st.namespace ?? "default"
      const d = store.get(R.deployments, ns, st.workload)
      if (!d) throw new ScenarioError("steps", `deployment ${ns}/${st.workload} not found`)
      store.mutate(R.deployments, ns, st.workload, (o) => {
        if (st.changeCause) o.metadata.annotations = { ...o.metadata.annotations, "kubernetes.io/change-cause": st.changeCause }
        const tpl = (o["spec"] as Json)["template"] as Json
        const containers = ((tpl["spec"] as Json)["containers"] ?? []) as Array<Json>
        const main = containers.find((x) => x["name"] === st.workload) ?? containers[containers.length - 1]
        if (!main) return
        if (st.image) main["image"] = st.image
        if (st.env) main["env"] = [...st.env]
        if (st.memoryLimit) main["resources"] = { ...((main["resources"] ?? {}) as Json), limits: { ...(((main["resources"] as Json | undefined)?.["limits"] ?? {}) as Json), memory: st.memoryLimit } }
        if (st.behaviour) {
          const meta = ((tpl["metadata"] ??= {}) as Json)
          const ann = ((meta["annotations"] ??= {}) as Record<string, string>)
          const cur = ann[BEHAVIOUR_ANNOTATION] ? (JSON.parse(ann[BEHAVIOUR_ANNOTATION]) as Record<string, ContainerBehaviour>) : {}
          cur[String(main["name"])] = { ...(cur[String(main["name"])] ?? {}), ...st.behaviour }
          ann[BEHAVIOUR_ANNOTATION] = JSON.stringify(cur)
        }
      })
      c.settle()
      return
    }
  }
}

/** Apply a scenario to running controllers: world state, objects, warm-up, steps, then `runFor`. */
export const applyScenario = (c: Controllers, input: ScenarioSpec): { incidents: ReadonlyArray<IncidentInfo> } => {
  const spec = normalise(validateScenario(input))
  const store = c.store
  for (const ns of ["default", ...(spec.namespaces ?? []), ...spec.workloads.map((w) => w.namespace ?? "default")]) {
    if (!store.get(R.namespaces, undefined, ns)) store.create(R.namespaces, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } })
  }
  const nodes: ReadonlyArray<NodeSpec> = typeof spec.nodes === "number" || spec.nodes === undefined
    ? Array.from({ length: typeof spec.nodes === "number" ? spec.nodes : 3 }, () => ({}))
    : spec.nodes
  nodes.forEach((n, i) => {
    const obj = nodeObject(spec, n, i, spec.nodeTaints)
    if (!store.get(R.nodes, undefined, obj.metadata.name)) store.create(R.nodes, obj)
  })
  for (const [scope, users] of Object.entries(spec.registryUsers ?? {})) c.registry.requireAuth(scope, users)
  for (const [image, outcome] of Object.entries(spec.images ?? {})) c.setImage(image, outcome)
  for (const [node, h] of Object.entries(spec.hosts ?? {})) {
    const host = c.ctx.host(node)
    Object.assign(host, h)
    if (host.network === "down" && host.networkDownAt === undefined) host.networkDownAt = c.now()
  }
  for (const o of spec.objects) {
    const key = keyOf(o)
    if (!store.get(key, o.metadata.namespace ?? (key === R.nodes || key === R.namespaces || key === R.pvs ? undefined : "default"), o.metadata.name)) store.create(key, o)
  }
  for (const w of spec.workloads) {
    for (const o of workloadObjects(w)) {
      const key = keyOf(o)
      if (!store.get(key, o.metadata.namespace, o.metadata.name)) store.create(key, o)
    }
    if (w.requestRate !== undefined) c.ctx.requestRates.set(`${w.namespace ?? "default"}/${w.name}`, new Series(w.requestRate, c.now()))
  }
  c.settle()
  c.advance(spec.warmup ?? "2m")
  for (const st of spec.steps) {
    if (st.after) c.advance(st.after)
    applyStep(c, st)
  }
  const runFor = (spec as { runFor?: string }).runFor
  if (runFor) c.advance(runFor)
  return { incidents: spec.incidents }
}


/** A scenario builder: `cluster({ nodes: 3 }).with(part, …).build()`. */
export interface ScenarioBuilder {
  /** Add parts or workloads. */
  with(...parts: Array<WorkloadSpec | ScenarioPart>): ScenarioBuilder
  /** Apply functions to the spec (e.g. to override fields) or add parts, in order. */
  pipe(...steps: Array<((s: ScenarioSpec) => ScenarioSpec) | WorkloadSpec | ScenarioPart>): ScenarioBuilder
  /** The serialisable spec. */
  build(): ScenarioSpec
}

/** Start a scenario from cluster settings. */
export const cluster = (base: Omit<ScenarioSpec, "workloads"> & { workloads?: ScenarioSpec["workloads"] } = {}): ScenarioBuilder => {
  const make = (spec: ScenarioSpec): ScenarioBuilder => ({
    with: (...parts) => make({ ...spec, workloads: [...(spec.workloads ?? []), ...parts] }),
    pipe: (...steps) => make(steps.reduce<ScenarioSpec>((s, f) => (typeof f === "function" ? f(s) : { ...s, workloads: [...(s.workloads ?? []), f] }), spec)),
    build: () => validateScenario(spec)
  })
  return make({ nodes: 3, ...base })
}

/** A scenario from a plain description (validated). */
export const scenario = (spec: ScenarioSpec): ScenarioSpec => validateScenario({ nodes: 3, ...spec })
