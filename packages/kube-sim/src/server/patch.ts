/**
 * Patch engines with the apiserver's semantics and error texts:
 * RFC 6902 JSON Patch (all ops incl. `test`), RFC 7386 merge patch, and strategic merge patch
 * (lists merged by their merge keys, `$patch: replace|delete|merge`, `$deleteFromPrimitiveList/…`,
 * `$setElementOrder/…` and `$retainKeys` accepted).
 *
 * JSON Patch is written here rather than taken from a library so that failures carry the same
 * messages the apiserver's Go implementation produces (callers assert on them).
 */
import { clone, deepEqual } from "../store/equal"

type Json = unknown
type Obj = Record<string, unknown>

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v)

/** A patch that is malformed (400 BadRequest). */
export class PatchDecodeError extends Error {
  constructor(message: string) {
    super(message)
    this.name = "PatchDecodeError"
  }
}

/** A well-formed patch that cannot be applied (422 Invalid, like the apiserver). */
export class PatchApplyError extends Error {
  constructor(message: string) {
    super(message)
    this.name = "PatchApplyError"
  }
}

// ---------------------------------------------------------------- RFC 6902

interface Op {
  op: string
  path: string
  from?: string
  value?: Json
}

const unescape = (s: string): string => s.replace(/~1/g, "/").replace(/~0/g, "~")

const pointer = (path: string): Array<string> => {
  if (path === "") return []
  if (!path.startsWith("/")) throw new PatchApplyError(`invalid JSON Pointer: ${path}`)
  return path.slice(1).split("/").map(unescape)
}

/** Decodes a JSON Patch document; an object body gives the apiserver's 400 text. */
export const decodeJsonPatch = (body: Json): Array<Op> => {
  if (!Array.isArray(body)) {
    const t = body === null ? "null" : isObj(body) ? "object" : typeof body === "string" ? "string" : typeof body === "number" ? "number" : "bool"
    throw new PatchDecodeError(`json: cannot unmarshal ${t} into Go value of type jsonpatch.Patch`)
  }
  return body.map((op) => {
    if (!isObj(op)) throw new PatchDecodeError("json: cannot unmarshal non-object into Go value of type jsonpatch.Operation")
    return op as unknown as Op
  })
}

const parentOf = (doc: Json, segs: Array<string>, path: string, opName: string): { parent: Obj | Array<Json>; last: string } => {
  let cur: Json = doc
  for (let i = 0; i < segs.length - 1; i++) {
    const s = segs[i]!
    if (Array.isArray(cur)) {
      const idx = Number(s)
      if (!/^\d+$/.test(s) || idx >= cur.length) throw new PatchApplyError(`${opName} operation does not apply: doc is missing path: "${path}": missing value`)
      cur = cur[idx]
    } else if (isObj(cur) && s in cur) cur = cur[s]
    else throw new PatchApplyError(`${opName} operation does not apply: doc is missing path: "${path}": missing value`)
  }
  if (!Array.isArray(cur) && !isObj(cur)) {
    throw new PatchApplyError(`${opName} operation does not apply: doc is missing path: "${path}": missing value`)
  }
  return { parent: cur, last: segs[segs.length - 1]! }
}

const getAt = (doc: Json, path: string, opName: string): Json => {
  const segs = pointer(path)
  if (segs.length === 0) return doc
  const { last, parent } = parentOf(doc, segs, path, opName)
  if (Array.isArray(parent)) {
    const idx = Number(last)
    if (!/^\d+$/.test(last) || idx >= parent.length) throw new PatchApplyError(`${opName} operation does not apply: doc is missing path: "${path}": missing value`)
    return parent[idx]
  }
  if (!(last in parent)) throw new PatchApplyError(`${opName} operation does not apply: doc is missing path: "${path}": missing value`)
  return parent[last]
}

const removeAt = (doc: Json, path: string, opName: string): Json => {
  const segs = pointer(path)
  const { last, parent } = parentOf(doc, segs, path, opName)
  if (Array.isArray(parent)) {
    const idx = Number(last)
    if (!/^\d+$/.test(last) || idx >= parent.length) throw new PatchApplyError(`${opName} operation does not apply: doc is missing path: "${path}": missing value`)
    return parent.splice(idx, 1)[0]
  }
  if (!(last in parent)) throw new PatchApplyError(`${opName} operation does not apply: doc is missing key: ${path}: missing value`)
  const v = parent[last]
  delete parent[last]
  return v
}

const addAt = (doc: Json, path: string, value: Json, opName: string): Json => {
  const segs = pointer(path)
  if (segs.length === 0) return value
  const { last, parent } = parentOf(doc, segs, path, opName)
  if (Array.isArray(parent)) {
    if (last === "-") parent.push(value)
    else {
      const idx = Number(last)
      if (!/^\d+$/.test(last) || idx > parent.length) throw new PatchApplyError(`${opName} operation does not apply: doc is missing path: "${path}": missing value`)
      parent.splice(idx, 0, value)
    }
  } else parent[last] = value
  return doc
}

const replaceAt = (doc: Json, path: string, value: Json): Json => {
  const segs = pointer(path)
  if (segs.length === 0) return value
  const { last, parent } = parentOf(doc, segs, path, "replace")
  if (Array.isArray(parent)) {
    const idx = Number(last)
    if (!/^\d+$/.test(last) || idx >= parent.length) throw new PatchApplyError(`replace operation does not apply: doc is missing key: ${path}: missing value`)
    parent[idx] = value
  } else {
    if (!(last in parent)) throw new PatchApplyError(`replace operation does not apply: doc is missing key: ${path}: missing value`)
    parent[last] = value
  }
  return doc
}

/** Applies an RFC 6902 patch to a copy of `doc`. */
export const applyJsonPatch = (doc: Json, body: Json): Json => {
  const ops = decodeJsonPatch(body)
  let out = clone(doc)
  for (const op of ops) {
    if (typeof op.path !== "string") throw new PatchApplyError(`${op.op} operation does not apply: missing path`)
    switch (op.op) {
      case "add":
        out = addAt(out, op.path, clone(op.value), "add")
        break
      case "remove":
        removeAt(out, op.path, "remove")
        break
      case "replace":
        out = replaceAt(out, op.path, clone(op.value))
        break
      case "move": {
        if (typeof op.from !== "string") throw new PatchApplyError("move operation does not apply: missing from")
        const v = removeAt(out, op.from, "move")
        out = addAt(out, op.path, v, "move")
        break
      }
      case "copy": {
        if (typeof op.from !== "string") throw new PatchApplyError("copy operation does not apply: missing from")
        out = addAt(out, op.path, clone(getAt(out, op.from, "copy")), "copy")
        break
      }
      case "test": {
        let actual: Json
        try {
          actual = getAt(out, op.path, "test")
        } catch {
          actual = undefined
        }
        const expected = op.value === undefined ? null : op.value
        if (!deepEqual(actual === undefined ? null : actual, expected)) {
          throw new PatchApplyError(`testing value ${op.path} failed: test failed`)
        }
        break
      }
      default:
        throw new PatchApplyError(`Unexpected kind: ${String(op.op)}`)
    }
  }
  return out
}

// ---------------------------------------------------------------- RFC 7386

/** Applies an RFC 7386 JSON merge patch. */
export const applyMergePatch = (target: Json, patch: Json): Json => {
  if (!isObj(patch)) return clone(patch)
  const out: Obj = isObj(target) ? clone(target) : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = applyMergePatch(out[k], v)
  }
  return out
}

// ---------------------------------------------------------------- strategic merge patch

/**
 * Merge keys by field name (the apiserver's `x-kubernetes-patch-merge-key`), context-aware where
 * the same field name has different keys (`ports` in a Service vs a container).
 */
const mergeKeyFor = (field: string, path: ReadonlyArray<string>, kind: string): string | undefined => {
  switch (field) {
    case "containers":
    case "initContainers":
    case "ephemeralContainers":
    case "env":
    case "volumes":
    case "imagePullSecrets":
    case "resourceClaims":
    case "schedulingGates":
      return "name"
    case "volumeMounts":
      return "mountPath"
    case "volumeDevices":
      return "devicePath"
    case "ports":
      return kind === "Service" && path.length === 1 && path[0] === "spec" ? "port" : "containerPort"
    case "conditions":
      return "type"
    case "ownerReferences":
      return "uid"
    case "hostAliases":
      return "ip"
    case "topologySpreadConstraints":
      return "topologyKey"
    case "addresses":
      return path[path.length - 1] === "status" ? "type" : undefined
    case "taints":
    case "tolerations":
    case "envFrom":
      return undefined
    default:
      return undefined
  }
}

/** Primitive lists merged as sets (patchStrategy: merge). */
const MERGED_PRIMITIVE_LISTS = new Set(["finalizers"])

const mergeList = (
  cur: Array<Json>,
  patch: Array<Json>,
  field: string,
  path: ReadonlyArray<string>,
  kind: string,
  deleteFromPrimitive: Array<Json> | undefined
): Array<Json> => {
  if (patch.some((e) => isObj(e) && e["$patch"] === "replace")) {
    return patch.filter((e) => !(isObj(e) && e["$patch"] === "replace")).map((e) => stripDirectives(e))
  }
  const key = mergeKeyFor(field, path, kind)
  if (key && patch.every(isObj)) {
    const out = cur.map((x) => clone(x))
    for (const p of patch as Array<Obj>) {
      const idx = out.findIndex((c) => isObj(c) && c[key] === p[key])
      if (p["$patch"] === "delete") {
        if (idx >= 0) out.splice(idx, 1)
        continue
      }
      if (idx >= 0) out[idx] = smpMerge(out[idx], p, [...path, field], kind)
      else out.push(stripDirectives(p))
    }
    return out
  }
  if (MERGED_PRIMITIVE_LISTS.has(field) && patch.every((x) => !isObj(x))) {
    const out = cur.filter((x) => !(deleteFromPrimitive ?? []).some((d) => deepEqual(d, x)))
    for (const p of patch) if (!out.some((x) => deepEqual(x, p))) out.push(p)
    return out
  }
  const replaced = patch.map((e) => stripDirectives(e))
  return deleteFromPrimitive ? replaced.filter((x) => !deleteFromPrimitive.some((d) => deepEqual(d, x))) : replaced
}

const stripDirectives = (v: Json): Json => {
  if (Array.isArray(v)) return v.map(stripDirectives)
  if (!isObj(v)) return v
  const out: Obj = {}
  for (const [k, x] of Object.entries(v)) {
    if (k.startsWith("$")) continue
    if (x === null) continue
    out[k] = stripDirectives(x)
  }
  return out
}

const smpMerge = (cur: Json, patch: Json, path: ReadonlyArray<string>, kind: string): Json => {
  if (!isObj(patch)) return clone(patch)
  const directive = patch["$patch"]
  if (directive === "delete") return undefined
  if (directive === "replace") return stripDirectives(patch)
  const out: Obj = isObj(cur) ? clone(cur) : {}
  const retainKeys = Array.isArray(patch["$retainKeys"]) ? (patch["$retainKeys"] as Array<string>) : undefined
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$")) continue
    if (v === null) {
      delete out[k]
      continue
    }
    if (Array.isArray(v)) {
      const existing = Array.isArray(out[k]) ? (out[k] as Array<Json>) : []
      const del = patch[`$deleteFromPrimitiveList/${k}`]
      out[k] = mergeList(existing, v, k, path, kind, Array.isArray(del) ? del : undefined)
      continue
    }
    if (isObj(v)) {
      const merged = smpMerge(out[k], v, [...path, k], kind)
      if (merged === undefined) delete out[k]
      else out[k] = merged
      continue
    }
    out[k] = v
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const field = k.slice("$deleteFromPrimitiveList/".length)
      if (patch[field] === undefined && Array.isArray(out[field]) && Array.isArray(v)) {
        out[field] = (out[field] as Array<Json>).filter((x) => !(v as Array<Json>).some((d) => deepEqual(d, x)))
      }
    }
  }
  if (retainKeys) for (const k of Object.keys(out)) if (!retainKeys.includes(k)) delete out[k]
  return out
}

/** Applies a strategic merge patch (`kind` selects context-specific merge keys). */
export const applyStrategicMergePatch = (target: Json, patch: Json, kind: string): Json => {
  if (!isObj(patch)) throw new PatchDecodeError("json: cannot unmarshal array into Go value of type map[string]interface {}")
  const r = smpMerge(target, patch, [], kind)
  return r === undefined ? {} : r
}
