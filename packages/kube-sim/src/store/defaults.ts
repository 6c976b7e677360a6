/**
 * Defaulting the apiserver applies on every write, so templates read back the way a real cluster
 * serves them (SDK code that diffs templates then behaves as in production).
 */
import type { KubeObject } from "./types"

type Obj = Record<string, unknown>

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v)

const setDefault = (o: Obj, k: string, v: unknown): void => {
  if (o[k] === undefined) o[k] = v
}

/** Probe defaults (`kubectl describe` shows them: timeout=1s period=10s #success=1 #failure=3). */
const defaultProbe = (probe: unknown): void => {
  if (!isObj(probe)) return
  setDefault(probe, "timeoutSeconds", 1)
  setDefault(probe, "periodSeconds", 10)
  setDefault(probe, "successThreshold", 1)
  setDefault(probe, "failureThreshold", 3)
  const http = probe["httpGet"]
  if (isObj(http)) {
    setDefault(http, "path", "/")
    setDefault(http, "scheme", "HTTP")
  }
}

const defaultContainer = (c: unknown): void => {
  if (!isObj(c)) return
  const image = typeof c["image"] === "string" ? c["image"] : ""
  const tagged = /:[^/]+$/.test(image) && !image.endsWith(":latest")
  setDefault(c, "imagePullPolicy", tagged || image.includes("@") ? "IfNotPresent" : "Always")
  setDefault(c, "terminationMessagePath", "/dev/termination-log")
  setDefault(c, "terminationMessagePolicy", "File")
  setDefault(c, "resources", {})
  if (Array.isArray(c["ports"])) for (const p of c["ports"]) if (isObj(p)) setDefault(p, "protocol", "TCP")
  for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) defaultProbe(c[probe])
}

/** Pod spec defaults (also used for templates). */
export const defaultPodSpec = (spec: unknown): void => {
  if (!isObj(spec)) return
  setDefault(spec, "restartPolicy", "Always")
  setDefault(spec, "terminationGracePeriodSeconds", 30)
  setDefault(spec, "dnsPolicy", "ClusterFirst")
  setDefault(spec, "securityContext", {})
  setDefault(spec, "schedulerName", "default-scheduler")
  for (const list of ["containers", "initContainers"]) {
    const cs = spec[list]
    if (Array.isArray(cs)) cs.forEach(defaultContainer)
  }
}

const defaultTemplate = (spec: Obj): void => {
  const t = spec["template"]
  if (isObj(t)) defaultPodSpec(t["spec"])
}

/** Applies the defaults for `obj`'s kind in place. */
export const applyDefaults = (obj: KubeObject): void => {
  const spec = obj["spec"]
  switch (obj.kind) {
    case "Pod":
      defaultPodSpec(spec)
      if (!isObj(obj["status"])) obj["status"] = {}
      setDefault(obj["status"] as Obj, "phase", "Pending")
      setDefault(obj["status"] as Obj, "qosClass", "BestEffort")
      break
    case "Namespace":
      if (!isObj(obj["spec"])) obj["spec"] = { finalizers: ["kubernetes"] }
      if (!isObj(obj["status"])) obj["status"] = {}
      setDefault(obj["status"] as Obj, "phase", "Active")
      obj.metadata.labels = { ...obj.metadata.labels, "kubernetes.io/metadata.name": obj.metadata.name }
      break
    case "Deployment":
      if (!isObj(spec)) break
      setDefault(spec, "replicas", 1)
      setDefault(spec, "revisionHistoryLimit", 10)
      setDefault(spec, "progressDeadlineSeconds", 600)
      setDefault(spec, "strategy", { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } })
      if (isObj(spec["strategy"]) && spec["strategy"]["type"] === "RollingUpdate") {
        setDefault(spec["strategy"], "rollingUpdate", { maxUnavailable: "25%", maxSurge: "25%" })
      }
      defaultTemplate(spec)
      break
    case "ReplicaSet":
    case "StatefulSet":
    case "DaemonSet":
      if (!isObj(spec)) break
      if (obj.kind !== "DaemonSet") setDefault(spec, "replicas", 1)
      if (obj.kind !== "ReplicaSet") setDefault(spec, "revisionHistoryLimit", 10)
      defaultTemplate(spec)
      break
    case "Job":
      if (isObj(spec)) defaultTemplate(spec)
      break
    case "Service":
      if (!isObj(spec)) break
      setDefault(spec, "type", "ClusterIP")
      setDefault(spec, "sessionAffinity", "None")
      if (Array.isArray(spec["ports"])) {
        for (const p of spec["ports"]) {
          if (isObj(p)) {
            setDefault(p, "protocol", "TCP")
            setDefault(p, "targetPort", p["port"])
          }
        }
      }
      break
    case "Secret":
      setDefault(obj, "type", "Opaque")
      break
    case "Node":
      if (!isObj(obj["spec"])) obj["spec"] = {}
      break
  }
}
