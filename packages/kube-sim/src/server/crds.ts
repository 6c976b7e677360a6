/**
 * CustomResourceDefinitions (apiextensions.k8s.io/v1): a CRD that passes validation is served at
 * once in every version it marks `served` — discovery (`/apis/{group}`, `/apis/{group}/{version}`
 * with kind, scope, short names, categories and the `status` subresource), list/watch, get, create,
 * update, merge/JSON/apply patches, delete, deletecollection, `additionalPrinterColumns` in
 * `kubectl get`, `selectableFields` in field selectors. The versions share one storage (the
 * `storage: true` version) and convert with strategy None (only `apiVersion` changes), as the
 * apiextensions-apiserver does. The CRD's status gets `NamesAccepted` and `Established`,
 * `acceptedNames` and `storedVersions`. Deleting a CRD deletes its custom resources.
 *
 * Left out: OpenAPI schema validation, pruning and defaulting (objects are stored as sent),
 * conversion webhooks, the `scale` subresource, name-conflict detection between CRDs.
 */
import type { HistoryRecord, MemoryStore } from "../store/MemoryStore"
import { Keys, keyString, type ResourceType } from "../store/registry"
import type { KubeObject, ResourceKey } from "../store/types"
import type { FieldError } from "./status"

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v)
const o = (v: unknown): Obj => (isObj(v) ? v : {})
const arr = (v: unknown): Array<Obj> => (Array.isArray(v) ? v.filter(isObj) : [])
const strs = (v: unknown): Array<string> => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [])

/** Kube-aware version order (v1 > v1beta2 > v1beta1 > v1alpha1 > other), as discovery sorts versions. */
export const compareVersions = (a: string, b: string): number => {
  const parse = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v)
    if (!m) return [0, 0, 0, v] as const
    return [1, Number(m[1]), m[2] === undefined ? 3 : m[2] === "beta" ? 2 : 1, Number(m[3] ?? 0)] as const
  }
  const x = parse(a)
  const y = parse(b)
  if (x[0] !== y[0]) return y[0] - x[0]
  if (x[0] === 0) return a.localeCompare(b)
  if (x[2] !== y[2]) return (y[2] as number) - (x[2] as number)
  if (x[1] !== y[1]) return (y[1] as number) - (x[1] as number)
  return (y[3] as number) - (x[3] as number)
}

/** The storage version of a CRD (the one marked `storage: true`). */
export const storageVersion = (crd: KubeObject): string | undefined => arr(o(crd["spec"])["versions"]).find((v) => v["storage"] === true)?.["name"] as string | undefined

/** The resource types a CRD serves (served versions, preferred first). */
export const typesOf = (crd: KubeObject): Array<ResourceType> => {
  const spec = o(crd["spec"])
  const names = o(spec["names"])
  const group = String(spec["group"] ?? "")
  const kind = String(names["kind"] ?? "")
  const storage = storageVersion(crd)
  const versions = arr(spec["versions"]).filter((v) => v["served"] !== false && typeof v["name"] === "string")
  versions.sort((a, b) => compareVersions(String(a["name"]), String(b["name"])))
  return versions.map((v) => {
    const subs = o(v["subresources"])
    const sub = isObj(subs["status"]) ? ["status"] : []
    const cols = arr(v["additionalPrinterColumns"]).map((c) => ({
      name: String(c["name"] ?? ""),
      type: String(c["type"] ?? "string"),
      jsonPath: String(c["jsonPath"] ?? ""),
      ...(typeof c["priority"] === "number" ? { priority: c["priority"] } : {})
    }))
    const version = String(v["name"])
    return {
      group,
      version,
      resource: String(names["plural"] ?? ""),
      singular: String(names["singular"] ?? kind.toLowerCase()),
      kind,
      listKind: String(names["listKind"] ?? `${kind}List`),
      namespaced: spec["scope"] === "Namespaced",
      shortNames: strs(names["shortNames"]),
      subresources: sub,
      selectableFields: arr(v["selectableFields"]).map((f) => String(f["jsonPath"] ?? "").replace(/^\./, "")).filter((f) => f !== ""),
      hasStatus: sub.includes("status"),
      categories: strs(names["categories"]),
      tracksGeneration: true,
      ...(cols.length ? { printerColumns: cols } : {}),
      ...(storage !== undefined && storage !== version ? { storageVersion: storage } : {}),
      custom: true
    }
  })
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

/** apiextensions validation of a CRD (field errors in the apiserver's wording). */
export const validateCrd = (crd: KubeObject, old: KubeObject | undefined, errs: Array<FieldError>): void => {
  const spec = o(crd["spec"])
  const names = o(spec["names"])
  const group = spec["group"]
  const plural = names["plural"]
  if (typeof group !== "string" || group === "") errs.push({ field: "spec.group", type: "FieldValueRequired", detail: "Required value" })
  else if (!group.includes(".")) errs.push({ field: "spec.group", type: "FieldValueInvalid", detail: `Invalid value: "${group}": should be a domain with at least one dot` })
  if (typeof plural !== "string" || plural === "") errs.push({ field: "spec.names.plural", type: "FieldValueRequired", detail: "Required value" })
  else if (!DNS1123_LABEL.test(plural)) errs.push({ field: "spec.names.plural", type: "FieldValueInvalid", detail: `Invalid value: "${plural}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')` })
  if (typeof names["kind"] !== "string" || names["kind"] === "") errs.push({ field: "spec.names.kind", type: "FieldValueRequired", detail: "Required value" })
  if (typeof names["listKind"] === "string" && names["listKind"] === names["kind"]) errs.push({ field: "spec.names.listKind", type: "FieldValueInvalid", detail: `Invalid value: "${names["listKind"]}": kind and listKind may not be the same or parsing become ambiguous` })
  if (spec["scope"] === undefined) errs.push({ field: "spec.scope", type: "FieldValueRequired", detail: "Required value" })
  else if (spec["scope"] !== "Cluster" && spec["scope"] !== "Namespaced") errs.push({ field: "spec.scope", type: "FieldValueNotSupported", detail: `Unsupported value: "${String(spec["scope"])}": supported values: "Cluster", "Namespaced"` })
  if (typeof group === "string" && typeof plural === "string" && crd.metadata.name !== `${plural}.${group}`) {
    errs.push({ field: "metadata.name", type: "FieldValueInvalid", detail: `Invalid value: "${crd.metadata.name}": must be spec.names.plural+"."+spec.group` })
  }
  const versions = arr(spec["versions"])
  if (versions.length === 0) errs.push({ field: "spec.versions", type: "FieldValueInvalid", detail: "Invalid value: []apiextensions.CustomResourceDefinitionVersion(nil): must have exactly one version marked as storage version" })
  else if (versions.filter((v) => v["storage"] === true).length !== 1) {
    errs.push({ field: "spec.versions", type: "FieldValueInvalid", detail: `Invalid value: []apiextensions.CustomResourceDefinitionVersion{...}: must have exactly one version marked as storage version` })
  }
  versions.forEach((v, i) => {
    if (typeof v["name"] !== "string" || !DNS1123_LABEL.test(v["name"])) errs.push({ field: `spec.versions[${i}].name`, type: "FieldValueInvalid", detail: `Invalid value: ${JSON.stringify(v["name"] ?? "")}: must be a valid DNS-1035 label` })
    if (!isObj(o(v["schema"])["openAPIV3Schema"])) errs.push({ field: `spec.versions[${i}].schema.openAPIV3Schema`, type: "FieldValueRequired", detail: "Required value: schemas are required" })
  })
  if (old) {
    const was = o(old["spec"])
    if (was["group"] !== group) errs.push({ field: "spec.group", type: "FieldValueInvalid", detail: `Invalid value: "${String(group)}": field is immutable` })
    if (o(was["names"])["plural"] !== plural) errs.push({ field: "status.storedVersions", type: "FieldValueInvalid", detail: "Invalid value: spec.names.plural: field is immutable" })
    if (was["scope"] !== spec["scope"]) errs.push({ field: "spec.scope", type: "FieldValueInvalid", detail: `Invalid value: "${String(spec["scope"])}": field is immutable` })
  }
}

/** The status the apiextensions controllers give an accepted CRD. */
const statusOf = (crd: KubeObject, now: string): Obj => {
  const prev = o(crd["status"])
  const names = o(o(crd["spec"])["names"])
  const accepted: Obj = { plural: names["plural"], singular: names["singular"] ?? String(names["kind"] ?? "").toLowerCase(), kind: names["kind"], listKind: names["listKind"] ?? `${String(names["kind"] ?? "")}List` }
  if (strs(names["shortNames"]).length) accepted["shortNames"] = strs(names["shortNames"])
  if (strs(names["categories"]).length) accepted["categories"] = strs(names["categories"])
  const cond = (type: string, reason: string, message: string): Obj => {
    const was = arr(prev["conditions"]).find((c) => c["type"] === type && c["status"] === "True")
    return { type, status: "True", lastTransitionTime: was?.["lastTransitionTime"] ?? now, reason, message }
  }
  const stored = strs(prev["storedVersions"])
  const sv = storageVersion(crd)
  if (sv !== undefined && !stored.includes(sv)) stored.push(sv)
  return {
    conditions: [cond("NamesAccepted", "NoConflicts", "no conflicts found"), cond("Established", "InitialNamesAccepted", "the initial names have been accepted")],
    acceptedNames: accepted,
    storedVersions: stored
  }
}

const storageKeyOf = (t: ResourceType): ResourceKey => ({ group: t.group, version: t.storageVersion ?? t.version, resource: t.resource })

/**
 * Serves the CustomResourceDefinitions of `store` (those present now and every later change);
 * returns an unsubscribe.
 */
export const install = (store: MemoryStore): (() => void) => {
  /** CRD name → the keys of the types it serves. */
  const served = new Map<string, Array<ResourceType>>()
  const sync = (crd: KubeObject | undefined, name: string): void => {
    const before = served.get(name) ?? []
    const next = crd && !crd.metadata.deletionTimestamp ? typesOf(crd) : []
    const keep = new Set(next.map((t) => keyString(t)))
    for (const t of before) if (!keep.has(keyString(t))) store.types.remove(t)
    for (const t of next) store.types.add(t)
    if (next.length) served.set(name, next)
    else served.delete(name)
    if (!crd) {
      // the CRD is gone: so are its custom resources
      const storages = new Map(before.map((t) => [keyString(storageKeyOf(t)), storageKeyOf(t)]))
      for (const key of storages.values()) for (const e of store.scan(key)) store.delete(key, e.obj.metadata.namespace, e.obj.metadata.name)
      return
    }
    const status = statusOf(crd, new Date(store.now()).toISOString().replace(/\.\d{3}Z$/, "Z"))
    if (JSON.stringify(crd["status"]) !== JSON.stringify(status)) {
      store.mutate(Keys.customresourcedefinitions, undefined, name, (x) => {
        x["status"] = status
      })
    }
  }
  for (const e of store.scan(Keys.customresourcedefinitions)) sync(e.obj, e.obj.metadata.name)
  return store.subscribeRecords((r: HistoryRecord) => {
    if (r.key.group !== "apiextensions.k8s.io" || r.key.resource !== "customresourcedefinitions") return
    sync(r.type === "DELETED" ? undefined : r.obj, r.obj.metadata.name)
  })
}
