/**
 * Label and field selectors evaluated on the client, over wire JSON: what a shared watch
 * (`Informers`) uses to give each subscriber the view a dedicated, server-filtered watch would
 * have given it.
 *
 * - Label selectors: the full syntax (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`,
 *   `a`, `!a`), requirements separated by commas.
 * - Field selectors: `path=value`, `path==value`, `path!=value` over the object's dotted path
 *   (`metadata.name`, `spec.nodeName`, `involvedObject.kind`, `reason` …); a missing field is
 *   the empty string and booleans/numbers compare as text, as on the apiserver.
 *
 * A selector that does not parse is an `InvalidSelector`.
 *
 * @example
 * ```ts
 * import { Selectors } from "@byteport/k8s"
 * const sel = Selectors.make({ namespace: "shop", labelSelector: "app in (web,api)", fieldSelector: "spec.nodeName=node-1" })
 * if (sel instanceof Selectors.InvalidSelector) throw sel
 * sel.matches(pod) // true when the pod is in shop, labelled app=web or app=api, on node-1
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A selector that does not parse. */
export class InvalidSelector extends Schema.TaggedError<InvalidSelector>()("InvalidSelector", {
  selector: Schema.String,
  message: Schema.String
}) {}

/** What a selector is evaluated on: any object with metadata (wire JSON). */
export interface Selectable {
  readonly metadata?: {
    readonly name?: string | undefined
    readonly namespace?: string | undefined
    readonly labels?: Readonly<Record<string, string>> | undefined
  } | undefined
}

type LabelRequirement =
  | { readonly op: "eq" | "neq"; readonly key: string; readonly value: string }
  | { readonly op: "in" | "notin"; readonly key: string; readonly values: ReadonlyArray<string> }
  | { readonly op: "exists" | "notexists"; readonly key: string }

type FieldRequirement = { readonly op: "eq" | "neq"; readonly path: ReadonlyArray<string>; readonly value: string }

/** Splits on commas outside parentheses. */
const splitTop = (s: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  let depth = 0
  let cur = ""
  for (const ch of s) {
    if (ch === "(") depth++
    if (ch === ")") depth--
    if (ch === "," && depth === 0) {
      out.push(cur)
      cur = ""
    } else cur += ch
  }
  out.push(cur)
  return out.map((x) => x.trim()).filter((x) => x.length > 0)
}

const KEY = /^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$/

/** Parses a label selector; an empty or absent one matches everything. */
export const parseLabelSelector = (selector: string | undefined): ReadonlyArray<LabelRequirement> | InvalidSelector => {
  if (selector === undefined || selector.trim() === "") return []
  const out: Array<LabelRequirement> = []
  for (const part of splitTop(selector)) {
    const set = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part)
    if (set) {
      const values = set[3]!.split(",").map((v) => v.trim()).filter((v) => v.length > 0)
      if (!KEY.test(set[1]!)) return new InvalidSelector({ selector, message: `invalid label key "${set[1]}"` })
      out.push({ op: set[2] as "in" | "notin", key: set[1]!, values })
      continue
    }
    const cmp = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part)
    if (cmp) {
      if (!KEY.test(cmp[1]!)) return new InvalidSelector({ selector, message: `invalid label key "${cmp[1]}"` })
      out.push({ op: cmp[2] === "!=" ? "neq" : "eq", key: cmp[1]!, value: cmp[3]! })
      continue
    }
    const exists = /^(!?)\s*([^=!\s()]+)$/.exec(part)
    if (exists && KEY.test(exists[2]!)) {
      out.push({ op: exists[1] === "!" ? "notexists" : "exists", key: exists[2]! })
      continue
    }
    return new InvalidSelector({ selector, message: `cannot parse requirement "${part}"` })
  }
  return out
}

/** Parses a field selector; an empty or absent one matches everything. */
export const parseFieldSelector = (selector: string | undefined): ReadonlyArray<FieldRequirement> | InvalidSelector => {
  if (selector === undefined || selector.trim() === "") return []
  const out: Array<FieldRequirement> = []
  for (const part of splitTop(selector)) {
    const m = /^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/.exec(part)
    if (!m) return new InvalidSelector({ selector, message: `cannot parse requirement "${part}"` })
    out.push({ op: m[2] === "!=" ? "neq" : "eq", path: m[1]!.split("."), value: m[3]!.trim() })
  }
  return out
}

const fieldValue = (obj: unknown, path: ReadonlyArray<string>): string => {
  let cur: unknown = obj
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return ""
    cur = (cur as Record<string, unknown>)[p]
  }
  if (cur === undefined || cur === null) return ""
  return typeof cur === "string" ? cur : typeof cur === "number" || typeof cur === "boolean" ? String(cur) : ""
}

const labelMatches = (labels: Readonly<Record<string, string>>, r: LabelRequirement): boolean => {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key)
  const v = has ? labels[r.key] : undefined
  switch (r.op) {
    case "eq":
      return v === r.value
    case "neq":
      return v !== r.value
    case "in":
      return v !== undefined && r.values.includes(v)
    case "notin":
      return v === undefined || !r.values.includes(v)
    case "exists":
      return has
    case "notexists":
      return !has
  }
}

/** A compiled selector. */
export interface Selector {
  /** The namespace it is limited to (undefined: all). */
  readonly namespace: string | undefined
  /** Whether an object (wire JSON) is selected. */
  readonly matches: (obj: Selectable) => boolean
}

/** Options of `make`: a namespace (ignored for cluster-scoped objects, which have none), a label and a field selector. */
export interface SelectorOptions {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  readonly fieldSelector?: string | undefined
}

/** Compiles a namespace plus label and field selectors. */
export const make = (options: SelectorOptions): Selector | InvalidSelector => {
  const labels = parseLabelSelector(options.labelSelector)
  if (labels instanceof InvalidSelector) return labels
  const fields = parseFieldSelector(options.fieldSelector)
  if (fields instanceof InvalidSelector) return fields
  const namespace = options.namespace
  return {
    namespace,
    matches: (obj) => {
      const ns = obj.metadata?.namespace
      // cluster-scoped objects (nodes) have no namespace: a namespace filter does not apply to them
      if (namespace !== undefined && ns !== undefined && ns !== "" && ns !== namespace) return false
      const l = obj.metadata?.labels ?? {}
      for (const r of labels) if (!labelMatches(l, r)) return false
      for (const r of fields) {
        const v = fieldValue(obj, r.path)
        if (r.op === "eq" ? v !== r.value : v === r.value) return false
      }
      return true
    }
  }
}

/** Compiles like `make`, throwing the `InvalidSelector` (for selectors written in code). */
export const makeUnsafe = (options: SelectorOptions): Selector => {
  const s = make(options)
  if (s instanceof InvalidSelector) throw s
  return s
}
