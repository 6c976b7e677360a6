/**
 * The scheduler's FailedScheduling message, parsed: `0/5 nodes are available: 1 node(s) had
 * untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient memory, 2 node(s)
 * didn't match Pod's node affinity/selector. preemption: 0/5 nodes are available: 2 No
 * preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling.` gives
 * the available and total node counts, each reason with its node count and category, and the
 * `preemption:` suffix parsed the same way. Reasons without a count (`persistentvolumeclaim
 * "data" not found`, `pod has unbound immediate PersistentVolumeClaims`) have count null.
 *
 * @since 0.1.0
 */

/** What a reason says about the nodes it excludes. */
export type ReasonCategory =
  | "resources"
  | "taint"
  | "not_ready"
  | "unschedulable"
  | "affinity"
  | "topology"
  | "storage"
  | "ports"
  | "preemption"
  | "other"

/** One reason and the number of nodes it excludes. */
export interface Reason {
  readonly count: number | null
  readonly reason: string
  readonly category: ReasonCategory
  /** For `Insufficient <resource>`: the resource (`cpu`, `memory`, `nvidia.com/gpu` …). */
  readonly resource: string | null
  /** For a taint: its key (`node.kubernetes.io/not-ready`). */
  readonly taint: string | null
}

/** A `0/N nodes are available: …` clause. */
export interface Availability {
  readonly available: number
  readonly total: number
  readonly reasons: ReadonlyArray<Reason>
}

/** A parsed FailedScheduling message. */
export interface FailedScheduling extends Availability {
  /** The `preemption:` suffix, when present. */
  readonly preemption: Availability | null
  /** The whole message. */
  readonly message: string
}

const NOT_READY_TAINTS = new Set(["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable", "node.kubernetes.io/network-unavailable"])
const UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"

/** The category of a reason. */
export const categorize = (reason: string): { readonly category: ReasonCategory; readonly resource: string | null; readonly taint: string | null } => {
  const insufficient = /^Insufficient (\S+)/.exec(reason)
  if (insufficient) return { category: "resources", resource: insufficient[1]!, taint: null }
  if (/^Too many pods/.test(reason)) return { category: "resources", resource: "pods", taint: null }
  const taint = /had (?:untolerated )?taints? \{([^:}]+)/.exec(reason)
  if (taint) {
    const key = taint[1]!.trim()
    return { category: NOT_READY_TAINTS.has(key) ? "not_ready" : key === UNSCHEDULABLE_TAINT ? "unschedulable" : "taint", resource: null, taint: key }
  }
  if (/were unschedulable|node\(s\) were unschedulable/.test(reason)) return { category: "unschedulable", resource: null, taint: null }
  if (/not ready|NotReady/i.test(reason)) return { category: "not_ready", resource: null, taint: null }
  if (/topology spread constraints/.test(reason)) return { category: "topology", resource: null, taint: null }
  if (/volume|PersistentVolumeClaim|persistentvolumeclaim|storageclass|max volume count|CSINode/i.test(reason)) return { category: "storage", resource: null, taint: null }
  if (/affinity|selector|anti-affinity/i.test(reason)) return { category: "affinity", resource: null, taint: null }
  if (/free ports/.test(reason)) return { category: "ports", resource: null, taint: null }
  if (/Preemption is not helpful|No preemption victims/.test(reason)) return { category: "preemption", resource: null, taint: null }
  return { category: "other", resource: null, taint: null }
}

/** Splits `a, 2 b {x: y}, 3 c` at the commas that start a new counted reason (never inside braces). */
const splitReasons = (s: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  let depth = 0
  let cur = ""
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!
    if (ch === "{" || ch === "[" || ch === "(") depth++
    if (ch === "}" || ch === "]" || ch === ")") depth = Math.max(0, depth - 1)
    if (ch === "," && depth === 0 && /^ \d+ /.test(s.slice(i + 1))) {
      out.push(cur.trim())
      cur = ""
      continue
    }
    cur += ch
  }
  if (cur.trim() !== "") out.push(cur.trim())
  return out
}

const parseReason = (text: string): Reason => {
  const m = /^(\d+) ([\s\S]+)$/.exec(text)
  const reason = (m ? m[2]! : text).trim()
  return { count: m ? Number(m[1]) : null, reason, ...categorize(reason) }
}

const clause = (s: string): Availability | undefined => {
  const m = /^\s*(\d+)\/(\d+) nodes are available(?:: ([\s\S]*))?$/.exec(s)
  if (!m) return undefined
  const body = (m[3] ?? "").trim().replace(/\.$/, "")
  return { available: Number(m[1]), total: Number(m[2]), reasons: body === "" ? [] : splitReasons(body).map(parseReason) }
}

/** Parses a FailedScheduling message; `undefined` when it is not one (`no nodes available to schedule pods` gives 0/0). */
export const parse = (message: string): FailedScheduling | undefined => {
  const text = message.trim()
  if (/^no nodes available to schedule pods/.test(text)) return { available: 0, total: 0, reasons: [], preemption: null, message }
  const at = text.indexOf(" preemption: ")
  const main = clause(at >= 0 ? text.slice(0, at) : text)
  if (!main) return undefined
  const preemption = at >= 0 ? clause(text.slice(at + " preemption: ".length).replace(/\.$/, "")) ?? null : null
  return { ...main, preemption, message }
}

/** The nodes each category excludes (summing counts; reasons without a count are left out). */
export const byCategory = (f: Availability): Partial<Record<ReasonCategory, number>> => {
  const out: Partial<Record<ReasonCategory, number>> = {}
  for (const r of f.reasons) if (r.count !== null) out[r.category] = (out[r.category] ?? 0) + r.count
  return out
}
