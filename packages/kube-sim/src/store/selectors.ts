/**
 * Label and field selectors with the apiserver's syntax.
 * Label: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma = AND.
 * Field: `a.b=v`, `a.b==v`, `a.b!=v`, comma = AND.
 */
import type { KubeObject } from "./types"

/** One parsed label requirement. */
export interface LabelRequirement {
  readonly key: string
  readonly op: "=" | "!=" | "in" | "notin" | "exists" | "!"
  readonly values: ReadonlyArray<string>
}

/** A selector syntax error (the HTTP layer answers 400 BadRequest). */
export class SelectorError extends Error {
  constructor(message: string) {
    super(message)
    this.name = "SelectorError"
  }
}

const splitTopLevel = (s: string): Array<string> => {
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

const KEY_RE = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/

const checkKey = (k: string, whole: string): string => {
  if (!KEY_RE.test(k)) throw new SelectorError(`unable to parse requirement: invalid label key "${k}" in "${whole}"`)
  return k
}

/** Parses a label selector string. */
export const parseLabelSelector = (selector: string): Array<LabelRequirement> =>
  splitTopLevel(selector).map((part): LabelRequirement => {
    let m = /^([^\s!=()]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part)
    if (m) {
      return {
        key: checkKey(m[1]!, part),
        op: m[2] as "in" | "notin",
        values: m[3]!.split(",").map((v) => v.trim()).filter((v) => v.length > 0)
      }
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part)
    if (m) return { key: checkKey(m[1]!, part), op: m[2] === "!=" ? "!=" : "=", values: [m[3]!] }
    m = /^!\s*(\S+)$/.exec(part)
    if (m) return { key: checkKey(m[1]!, part), op: "!", values: [] }
    if (/^\S+$/.test(part)) return { key: checkKey(part, part), op: "exists", values: [] }
    throw new SelectorError(`unable to parse requirement: "${part}"`)
  })

/** Whether `labels` satisfy every requirement. */
export const matchesLabels = (reqs: ReadonlyArray<LabelRequirement>, labels: Record<string, string> | undefined): boolean => {
  const l = labels ?? {}
  for (const r of reqs) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key)
    const v = l[r.key]
    switch (r.op) {
      case "=":
        if (!has || v !== r.values[0]) return false
        break
      case "!=":
        if (has && v === r.values[0]) return false
        break
      case "in":
        if (!has || !r.values.includes(v!)) return false
        break
      case "notin":
        if (has && r.values.includes(v!)) return false
        break
      case "exists":
        if (!has) return false
        break
      case "!":
        if (has) return false
        break
    }
  }
  return true
}

/** A structured LabelSelector (matchLabels + matchExpressions) as PDBs, Deployments and HPAs carry it. */
export interface StructuredSelector {
  matchLabels?: Record<string, string>
  matchExpressions?: Array<{ key: string; operator: string; values?: Array<string> }>
}

/** Converts a structured selector to requirements (`undefined` selector matches nothing, `{}` everything). */
export const fromStructured = (sel: StructuredSelector): Array<LabelRequirement> => {
  const out: Array<LabelRequirement> = []
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) out.push({ key: k, op: "=", values: [v] })
  for (const e of sel.matchExpressions ?? []) {
    const op = e.operator === "In" ? "in" : e.operator === "NotIn" ? "notin" : e.operator === "Exists" ? "exists" : "!"
    out.push({ key: e.key, op, values: e.values ?? [] })
  }
  return out
}

/** Formats a structured selector as a label-selector string (as the Scale subresource serves it). */
export const formatStructured = (sel: StructuredSelector): string => {
  const parts: Array<string> = []
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) parts.push(`${k}=${v}`)
  for (const e of sel.matchExpressions ?? []) {
    const vs = (e.values ?? []).join(",")
    if (e.operator === "In") parts.push(`${e.key} in (${vs})`)
    else if (e.operator === "NotIn") parts.push(`${e.key} notin (${vs})`)
    else if (e.operator === "Exists") parts.push(e.key)
    else parts.push(`!${e.key}`)
  }
  return parts.join(",")
}

/** One parsed field requirement. */
export interface FieldRequirement {
  readonly field: string
  readonly op: "=" | "!="
  readonly value: string
}

/** Parses a field selector string. */
export const parseFieldSelector = (selector: string): Array<FieldRequirement> =>
  splitTopLevel(selector).map((part) => {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part)
    if (!m) throw new SelectorError(`invalid selector: '${selector}'; can't understand '${part}'`)
    return { field: m[1]!.trim(), op: m[2] === "!=" ? "!=" : "=", value: m[3]!.trim() }
  })

/** Reads a dotted field path as the string the apiserver compares against ("" when absent). */
export const fieldValue = (obj: KubeObject, path: string): string => {
  let cur: unknown = obj
  for (const seg of path.split(".")) {
    if (cur === null || typeof cur !== "object") return ""
    cur = (cur as Record<string, unknown>)[seg]
  }
  if (cur === undefined || cur === null) return ""
  return typeof cur === "object" ? JSON.stringify(cur) : String(cur)
}

/** Whether `obj` satisfies every field requirement. */
export const matchesFields = (reqs: ReadonlyArray<FieldRequirement>, obj: KubeObject): boolean => {
  for (const r of reqs) {
    const v = fieldValue(obj, r.field)
    if (r.op === "=" ? v !== r.value : v === r.value) return false
  }
  return true
}
