/**
 * Fault injection for the API server: added latency, error responses (409/429/500/503…) at a
 * seeded rate (optionally per path/verb/resource, optionally a limited number of times),
 * dropped watch connections, a forced 410 on the next watch, and "applied, then the connection
 * dropped before the response" (`dropAfterApply`: the request is served — a mutation is
 * stored and recorded with the status it would have had — and the socket is destroyed instead
 * of answering, so the client sees a reset and cannot tell whether it applied).
 * (An apiserver restart is `KubeSim.restart()`; seeded schedules of all of them: `Schedule`.)
 */
import { seeded } from "../store/random"

/** Which requests a rule applies to. All given fields must match. */
export interface FaultMatch {
  /** HTTP method, e.g. "PATCH". */
  readonly method?: string
  /** Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection. */
  readonly verb?: string
  /** Path prefix, e.g. "/apis/apps/v1/namespaces/default/deployments". */
  readonly pathPrefix?: string
  /** Path regular expression. */
  readonly pathPattern?: RegExp
  /** Plural resource, e.g. "pods". */
  readonly resource?: string
  /** Subresource, e.g. "eviction", "status", "scale", "log". */
  readonly subresource?: string
}

/** An error-injection rule. */
export interface ErrorFault extends FaultMatch {
  /** HTTP status to answer with (409, 429, 500, 503, 504 …). */
  readonly status: number
  /** Probability 0..1 (seeded RNG); default 1. */
  readonly rate?: number
  /** Apply at most this many times; default unlimited. */
  readonly times?: number
  /** Retry-After seconds for 429/503 (default 1). */
  readonly retryAfterSeconds?: number
  /** Override the Status message. */
  readonly message?: string
  /** For 403: the user named in the RBAC message (default `system:serviceaccount:default:default`). */
  readonly user?: string
}

/** A latency rule. */
export interface LatencyFault extends FaultMatch {
  /** Added delay in milliseconds (real time). */
  readonly ms: number
  readonly rate?: number
  readonly times?: number
}

/** An "applied, then the connection dropped before the response" rule (ambiguous failures). */
export interface DropAfterApplyFault extends FaultMatch {
  /** Probability 0..1 (seeded RNG); default 1. */
  readonly rate?: number
  /** Apply at most this many times; default unlimited. */
  readonly times?: number
}

/** What the request looks like to the fault engine. */
export interface FaultRequest {
  readonly method: string
  readonly verb: string
  readonly path: string
  readonly resource: string | undefined
  readonly subresource: string | undefined
}

/** The decision for one request. */
export interface FaultDecision {
  readonly delayMs: number
  readonly error: ErrorFault | undefined
  /** Serve the request, then destroy the connection instead of answering (`dropAfterApply`). */
  readonly dropResponse: boolean
}

/** A handle to remove a rule. */
export interface FaultHandle {
  /** Removes the rule. */
  remove(): void
  /** How many times it fired. */
  readonly hits: number
}

/** The fault-injection API. */
export interface Faults {
  /** Answer matching requests with an error status. */
  error(rule: ErrorFault): FaultHandle
  /** Delay matching requests. */
  latency(rule: LatencyFault): FaultHandle
  /** Serve matching requests (a mutation is applied), then drop the connection before the response. */
  dropAfterApply(rule: DropAfterApplyFault): FaultHandle
  /** Closes every open watch connection now (`abrupt` destroys the socket instead of ending the stream). */
  dropWatches(options?: { abrupt?: boolean }): number
  /** The next `count` watches (default 1) get 410 Gone: an ERROR event (or HTTP 410 with `http: true`). */
  expireNextWatch(options?: { count?: number; http?: boolean }): void
  /** Drops the watch replay history: every watch resuming from an older resourceVersion gets 410. */
  compactHistory(): void
  /** Removes every rule and pending watch expiry. */
  clear(): void
  /** Decides for one request (called by the server). */
  decide(req: FaultRequest): FaultDecision
  /** Consumes a pending forced watch expiry (called by the server). */
  takeWatchExpiry(): "event" | "http" | undefined
  /** Wired by the server: closes the open watches. */
  onDropWatches: (abrupt: boolean) => number
  /** Wired by the server: compacts the store history. */
  onCompact: () => void
}

interface Rule<R> {
  rule: R
  hits: number
}

const matchRule = (m: FaultMatch, r: FaultRequest): boolean =>
  (m.method === undefined || m.method.toUpperCase() === r.method) &&
  (m.verb === undefined || m.verb === r.verb) &&
  (m.pathPrefix === undefined || r.path.startsWith(m.pathPrefix)) &&
  (m.pathPattern === undefined || m.pathPattern.test(r.path)) &&
  (m.resource === undefined || m.resource === r.resource) &&
  (m.subresource === undefined || m.subresource === r.subresource)

/** Creates a fault engine with a seeded RNG. */
export const make = (seed = 1): Faults => {
  const random = seeded(seed ^ 0x5eed)
  const errors: Array<Rule<ErrorFault>> = []
  const latencies: Array<Rule<LatencyFault>> = []
  const drops: Array<Rule<DropAfterApplyFault>> = []
  const expiries: Array<"event" | "http"> = []
  const handle = <R>(list: Array<Rule<R>>, entry: Rule<R>): FaultHandle => {
    list.push(entry)
    return {
      remove: () => {
        const i = list.indexOf(entry)
        if (i >= 0) list.splice(i, 1)
      },
      get hits() {
        return entry.hits
      }
    }
  }
  const fire = <R extends { rate?: number; times?: number }>(e: Rule<R>): boolean => {
    if (e.rule.times !== undefined && e.hits >= e.rule.times) return false
    const rate = e.rule.rate ?? 1
    if (rate < 1 && random() >= rate) return false
    e.hits++
    return true
  }
  const faults: Faults = {
    error: (rule) => handle(errors, { rule, hits: 0 }),
    latency: (rule) => handle(latencies, { rule, hits: 0 }),
    dropAfterApply: (rule) => handle(drops, { rule, hits: 0 }),
    dropWatches: (options = {}) => faults.onDropWatches(options.abrupt ?? false),
    expireNextWatch: (options = {}) => {
      for (let i = 0; i < (options.count ?? 1); i++) expiries.push(options.http ? "http" : "event")
    },
    compactHistory: () => faults.onCompact(),
    clear: () => {
      errors.length = 0
      latencies.length = 0
      drops.length = 0
      expiries.length = 0
    },
    decide: (req) => {
      let delayMs = 0
      for (const l of latencies) if (matchRule(l.rule, req) && fire(l)) delayMs += l.rule.ms
      let error: ErrorFault | undefined
      for (const e of errors) {
        if (matchRule(e.rule, req) && fire(e)) {
          error = e.rule
          break
        }
      }
      // an error answer is not applied: only a request that is served can be dropped after applying
      const dropResponse = error === undefined && drops.some((d) => matchRule(d.rule, req) && fire(d))
      return { delayMs, error, dropResponse }
    },
    takeWatchExpiry: () => expiries.shift(),
    onDropWatches: () => 0,
    onCompact: () => {}
  }
  return faults
}
