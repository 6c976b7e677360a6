/**
 * Admission validation for writes arriving over HTTP (422 Invalid with field causes, in the
 * apiserver's wording). Controllers writing through the store are trusted and skip it.
 */
import { deepEqual } from "../store/equal"
import type { ResourceType } from "../store/registry"
import { fromStructured, matchesLabels } from "../store/selectors"
import type { StructuredSelector } from "../store/selectors"
import type { KubeObject } from "../store/types"
import type { FieldError } from "./status"
import { badRequest, invalid } from "./status"
import { validateCrd } from "./crds"
import { validateIngress } from "./ingress"

const goType = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "object" ? "object" : typeof v === "boolean" ? "bool" : typeof v

/**
 * Decoding checks the apiserver's JSON decoder makes on metadata (400 BadRequest with the Go
 * decoder's text): labels/annotations are string maps, finalizers a string list.
 */
export const checkDecodable = (obj: KubeObject): void => {
  const meta = obj.metadata as Record<string, unknown>
  for (const f of ["labels", "annotations"]) {
    const v = meta[f]
    if (v === undefined || v === null) continue
    if (!isObj(v)) throw badRequest(`json: cannot unmarshal ${goType(v)} into Go struct field ObjectMeta.metadata.${f} of type map[string]string`)
    for (const x of Object.values(v)) {
      if (typeof x !== "string") throw badRequest(`json: cannot unmarshal ${goType(x)} into Go struct field ObjectMeta.metadata.${f} of type string`)
    }
  }
  const fin = meta["finalizers"]
  if (fin !== undefined && fin !== null && (!Array.isArray(fin) || fin.some((x) => typeof x !== "string"))) {
    throw badRequest(`json: cannot unmarshal ${goType(fin)} into Go struct field ObjectMeta.metadata.finalizers of type []string`)
  }
  if (meta["name"] !== undefined && typeof meta["name"] !== "string") {
    throw badRequest(`json: cannot unmarshal ${goType(meta["name"])} into Go struct field ObjectMeta.metadata.name of type string`)
  }
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v)

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

const goMap = (m: Record<string, string>): string =>
  `map[string]string{${Object.entries(m).map(([k, v]) => `"${k}":"${v}"`).join(", ")}}`

const validateName = (type: ResourceType, name: string, errs: Array<FieldError>): void => {
  const labelOnly = type.kind === "Namespace" || type.kind === "Service"
  const re = labelOnly ? DNS1123_LABEL : DNS1123_SUBDOMAIN
  if (name.length > (labelOnly ? 63 : 253) || !re.test(name)) {
    const what = labelOnly
      ? `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`
      : `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`
    errs.push({ field: "metadata.name", type: "FieldValueInvalid", detail: `Invalid value: "${name}": ${what}` })
  }
}

const validatePodSpec = (spec: unknown, prefix: string, errs: Array<FieldError>): void => {
  if (!isObj(spec)) {
    errs.push({ field: `${prefix}.containers`, type: "FieldValueRequired", detail: "Required value" })
    return
  }
  const cs = spec["containers"]
  if (!Array.isArray(cs) || cs.length === 0) {
    errs.push({ field: `${prefix}.containers`, type: "FieldValueRequired", detail: "Required value" })
    return
  }
  const names = new Set<string>()
  cs.forEach((c, i) => {
    const c0 = isObj(c) ? c : {}
    const name = c0["name"]
    if (typeof name !== "string" || name === "") {
      errs.push({ field: `${prefix}.containers[${i}].name`, type: "FieldValueRequired", detail: "Required value" })
    } else if (names.has(name)) {
      errs.push({ field: `${prefix}.containers[${i}].name`, type: "FieldValueDuplicate", detail: `Duplicate value: "${name}"` })
    } else names.add(name)
    if (typeof c0["image"] !== "string" || c0["image"] === "") {
      errs.push({ field: `${prefix}.containers[${i}].image`, type: "FieldValueRequired", detail: "Required value" })
    }
  })
}

const validateWorkload = (obj: KubeObject, errs: Array<FieldError>): void => {
  const spec = isObj(obj["spec"]) ? obj["spec"] : {}
  const replicas = spec["replicas"]
  if (typeof replicas === "number" && replicas < 0) {
    errs.push({ field: "spec.replicas", type: "FieldValueInvalid", detail: `Invalid value: ${replicas}: must be greater than or equal to 0` })
  }
  const selector = spec["selector"]
  if (!isObj(selector) || (Object.keys(selector["matchLabels"] ?? {}).length === 0 && !Array.isArray(selector["matchExpressions"]))) {
    errs.push({ field: "spec.selector", type: "FieldValueRequired", detail: "Required value" })
  } else {
    const template = isObj(spec["template"]) ? spec["template"] : {}
    const meta = isObj(template["metadata"]) ? template["metadata"] : {}
    const labels = (isObj(meta["labels"]) ? meta["labels"] : {}) as Record<string, string>
    if (!matchesLabels(fromStructured(selector as StructuredSelector), labels)) {
      errs.push({
        field: "spec.template.metadata.labels",
        type: "FieldValueInvalid",
        detail: `Invalid value: ${goMap(labels)}: \`selector\` does not match template \`labels\``
      })
    }
  }
  validatePodSpec((isObj(spec["template"]) ? spec["template"] : {})["spec"], "spec.template.spec", errs)
}

const validateIntOrPercent = (v: unknown, field: string, errs: Array<FieldError>): void => {
  if (v === undefined) return
  if (typeof v === "number" ? v < 0 : typeof v !== "string" || !/^\d+%$/.test(v)) {
    errs.push({ field, type: "FieldValueInvalid", detail: `Invalid value: ${JSON.stringify(v)}: must be a non-negative integer or percentage` })
  }
}

const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/

/**
 * MicroTime fields (`eventTime`) must carry exactly six fractional digits: the apiserver parses
 * them with Go's RFC3339Micro layout (a JavaScript Date's millisecond ISO string fails).
 */
const checkMicroTime = (obj: KubeObject): void => {
  const v = obj["eventTime"]
  if (v === undefined || v === null) return
  if (typeof v !== "string" || !MICRO_TIME.test(v)) {
    const text = String(v)
    const frac = /(\.\d*)?(Z|[+-]\d{2}:\d{2})?$/.exec(text)?.[0] ?? text
    throw badRequest(
      `Event in version "v1" cannot be handled as a Event: parsing time "${text}" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "${frac}" as ".000000"`
    )
  }
}

const validateNewEvent = (obj: KubeObject, errs: Array<FieldError>): void => {
  if (obj["eventTime"] === undefined || obj["eventTime"] === null) errs.push({ field: "eventTime", type: "FieldValueRequired", detail: "Required value" })
  for (const f of ["reportingController", "reportingInstance", "action", "reason"]) {
    if (typeof obj[f] !== "string" || obj[f] === "") errs.push({ field: f, type: "FieldValueRequired", detail: "Required value" })
  }
  const t = obj["type"]
  if (t !== "Normal" && t !== "Warning") {
    errs.push({ field: "type", type: "FieldValueNotSupported", detail: `Unsupported value: ${JSON.stringify(t ?? "")}: supported values: "Normal", "Warning"` })
  }
  if (typeof obj["note"] === "string" && Buffer.byteLength(obj["note"]) > 1024) {
    errs.push({ field: "note", type: "FieldValueInvalid", detail: "Too long: may not be more than 1024 bytes" })
  }
}

/** Validates an object for create or update; throws an ApiError 422 when invalid. */
export const validate = (type: ResourceType, obj: KubeObject, old?: KubeObject): void => {
  checkDecodable(obj)
  const errs: Array<FieldError> = []
  const name = obj.metadata?.name ?? ""
  if (!old) validateName(type, name, errs)
  for (const [k, v] of Object.entries(obj.metadata?.labels ?? {})) {
    if (typeof v !== "string" || v.length > 63 || !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v)) {
      errs.push({ field: `metadata.labels`, type: "FieldValueInvalid", detail: `Invalid value: "${String(v)}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character` })
    }
    if (!/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(k)) {
      errs.push({ field: "metadata.labels", type: "FieldValueInvalid", detail: `Invalid value: "${k}": name part must consist of alphanumeric characters, '-', '_' or '.'` })
    }
  }
  switch (type.custom ? "" : type.kind) {
    case "CustomResourceDefinition":
      validateCrd(obj, old, errs)
      break
    case "Ingress":
      validateIngress(obj, errs)
      break
    case "Event":
      checkMicroTime(obj)
      if (type.group === "events.k8s.io") validateNewEvent(obj, errs)
      break
    case "Pod":
      validatePodSpec(obj["spec"], "spec", errs)
      if (old && errs.length === 0) validatePodUpdate(obj, old, errs)
      break
    case "Deployment":
    case "ReplicaSet":
    case "StatefulSet":
    case "DaemonSet":
      validateWorkload(obj, errs)
      if (old && isObj(old["spec"]) && isObj(obj["spec"]) && !deepEqual(old["spec"]["selector"], obj["spec"]["selector"])) {
        errs.push({ field: "spec.selector", type: "FieldValueInvalid", detail: `Invalid value: ${JSON.stringify(obj["spec"]["selector"])}: field is immutable` })
      }
      break
    case "Service":
      if (old) validateServiceUpdate(obj, old, errs)
      break
    case "PodDisruptionBudget": {
      const spec = isObj(obj["spec"]) ? obj["spec"] : {}
      if (spec["minAvailable"] !== undefined && spec["maxUnavailable"] !== undefined) {
        errs.push({ field: "spec", type: "FieldValueInvalid", detail: `Invalid value: ${JSON.stringify(spec)}: minAvailable and maxUnavailable cannot be both set` })
      }
      validateIntOrPercent(spec["minAvailable"], "spec.minAvailable", errs)
      validateIntOrPercent(spec["maxUnavailable"], "spec.maxUnavailable", errs)
      break
    }
    case "HorizontalPodAutoscaler": {
      const spec = isObj(obj["spec"]) ? obj["spec"] : {}
      const max = spec["maxReplicas"]
      const min = spec["minReplicas"] ?? 1
      if (typeof max !== "number" || max < 1) {
        errs.push({ field: "spec.maxReplicas", type: "FieldValueInvalid", detail: `Invalid value: ${JSON.stringify(max ?? 0)}: must be greater than or equal to 1` })
      } else if (typeof min === "number" && min > max) {
        errs.push({ field: "spec.maxReplicas", type: "FieldValueInvalid", detail: `Invalid value: ${max}: must be greater than or equal to \`minReplicas\`` })
      }
      break
    }
  }
  if (errs.length > 0) throw invalid(type, name, errs)
}

/** A Service keeps its cluster IP for life (an update may omit it: the store carries it over). */
const validateServiceUpdate = (obj: KubeObject, old: KubeObject, errs: Array<FieldError>): void => {
  const spec = isObj(obj["spec"]) ? obj["spec"] : {}
  const oldSpec = isObj(old["spec"]) ? old["spec"] : {}
  const was = oldSpec["clusterIP"]
  if (typeof was !== "string" || spec["type"] === "ExternalName") return
  const ips = Array.isArray(spec["clusterIPs"]) ? spec["clusterIPs"] : undefined
  const now = spec["clusterIP"] !== undefined && spec["clusterIP"] !== "" ? spec["clusterIP"] : ips?.[0]
  if (now !== undefined && now !== "" && now !== was) {
    errs.push({ field: "spec.clusterIPs[0]", type: "FieldValueInvalid", detail: `Invalid value: []string{"${String(now)}"}: may not change once set` })
  }
}

const POD_UPDATE_FORBIDDEN =
  "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

const validatePodUpdate = (obj: KubeObject, old: KubeObject, errs: Array<FieldError>): void => {
  const strip = (spec: unknown): unknown => {
    if (!isObj(spec)) return spec
    const s: Obj = { ...spec }
    delete s["activeDeadlineSeconds"]
    delete s["tolerations"]
    for (const k of ["containers", "initContainers"]) {
      if (Array.isArray(s[k])) s[k] = (s[k] as Array<unknown>).map((c) => (isObj(c) ? { ...c, image: "" } : c))
    }
    return s
  }
  if (!deepEqual(strip(obj["spec"]), strip(old["spec"]))) {
    errs.push({ field: "spec", type: "FieldValueForbidden", detail: POD_UPDATE_FORBIDDEN })
  }
}
