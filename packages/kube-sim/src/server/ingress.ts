/**
 * networking.k8s.io/v1 Ingress admission: the DefaultIngressClass plugin (a new Ingress without
 * `spec.ingressClassName` gets the IngressClass annotated `ingressclass.kubernetes.io/is-default-class:
 * "true"`) and the apiserver's validation of rules, paths and backends. kube-sim runs no ingress
 * controller: `status.loadBalancer` is whatever a test's controller writes through the status
 * subresource.
 */
import type { KubeObject } from "../store/types"
import type { FieldError } from "./status"

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v)
const o = (v: unknown): Obj => (isObj(v) ? v : {})
const arr = (v: unknown): Array<Obj> => (Array.isArray(v) ? v.filter(isObj) : [])

/** The annotation marking the default IngressClass. */
export const DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"

/** The class the DefaultIngressClass admission plugin gives a new Ingress (undefined: none or ambiguous-free none). */
export const defaultClass = (classes: ReadonlyArray<KubeObject>): string | undefined => {
  const defaults = classes.filter((c) => c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === "true")
  // with several defaults the newest wins (the plugin's behaviour since 1.28)
  defaults.sort((a, b) => String(b.metadata.creationTimestamp ?? "").localeCompare(String(a.metadata.creationTimestamp ?? "")))
  return defaults[0]?.metadata.name
}

const PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]

const validateBackend = (b: Obj, field: string, errs: Array<FieldError>): void => {
  const svc = b["service"]
  const res = b["resource"]
  if (isObj(svc) && isObj(res)) {
    errs.push({ field, type: "FieldValueInvalid", detail: `Invalid value: "": cannot set both resource and service backends` })
    return
  }
  if (isObj(res)) return
  if (!isObj(svc)) {
    errs.push({ field, type: "FieldValueInvalid", detail: `Invalid value: "": resource or service backend is required` })
    return
  }
  if (typeof svc["name"] !== "string" || svc["name"] === "") errs.push({ field: `${field}.service.name`, type: "FieldValueRequired", detail: "Required value" })
  const port = o(svc["port"])
  const hasName = typeof port["name"] === "string" && port["name"] !== ""
  const hasNumber = typeof port["number"] === "number" && port["number"] !== 0
  if (hasName && hasNumber) errs.push({ field: `${field}.service.port`, type: "FieldValueInvalid", detail: "Invalid value: \"\": cannot set both port name & port number" })
  else if (!hasName && !hasNumber) errs.push({ field: `${field}.service.port`, type: "FieldValueInvalid", detail: "Invalid value: \"\": port name or number is required" })
  else if (hasNumber && ((port["number"] as number) < 1 || (port["number"] as number) > 65535)) {
    errs.push({ field: `${field}.service.port.number`, type: "FieldValueInvalid", detail: `Invalid value: ${String(port["number"])}: must be between 1 and 65535, inclusive` })
  }
}

/** The apiserver's Ingress validation. */
export const validateIngress = (ing: KubeObject, errs: Array<FieldError>): void => {
  const spec = o(ing["spec"])
  const rules = arr(spec["rules"])
  if (rules.length === 0 && !isObj(spec["defaultBackend"])) {
    errs.push({ field: "spec", type: "FieldValueInvalid", detail: `Invalid value: ${JSON.stringify(spec)}: either \`defaultBackend\` or \`rules\` must be specified` })
  }
  if (isObj(spec["defaultBackend"])) validateBackend(spec["defaultBackend"], "spec.defaultBackend", errs)
  rules.forEach((r, i) => {
    const host = r["host"]
    if (typeof host === "string" && host !== "" && !/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(host)) {
      errs.push({ field: `spec.rules[${i}].host`, type: "FieldValueInvalid", detail: `Invalid value: "${host}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')` })
    }
    const http = r["http"]
    if (http === undefined) return
    const paths = arr(o(http)["paths"])
    if (paths.length === 0) errs.push({ field: `spec.rules[${i}].http.paths`, type: "FieldValueRequired", detail: "Required value" })
    paths.forEach((p, j) => {
      const field = `spec.rules[${i}].http.paths[${j}]`
      const pt = p["pathType"]
      if (pt === undefined || pt === "") errs.push({ field: `${field}.pathType`, type: "FieldValueRequired", detail: "Required value: pathType must be specified" })
      else if (typeof pt !== "string" || !PATH_TYPES.includes(pt)) errs.push({ field: `${field}.pathType`, type: "FieldValueNotSupported", detail: `Unsupported value: "${String(pt)}": supported values: "Exact", "ImplementationSpecific", "Prefix"` })
      const path = p["path"]
      if ((pt === "Exact" || pt === "Prefix") && (typeof path !== "string" || !path.startsWith("/"))) {
        errs.push({ field: `${field}.path`, type: "FieldValueInvalid", detail: `Invalid value: "${String(path ?? "")}": must be an absolute path` })
      }
      validateBackend(o(p["backend"]), `${field}.backend`, errs)
    })
  })
  arr(spec["tls"]).forEach((t, i) => {
    if (t["secretName"] !== undefined && typeof t["secretName"] !== "string") errs.push({ field: `spec.tls[${i}].secretName`, type: "FieldValueInvalid", detail: "Invalid value: must be a string" })
  })
}
