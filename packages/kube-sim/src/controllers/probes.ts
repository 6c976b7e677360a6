/**
 * Probe timing, computed analytically from the probe settings and the application's
 * start-up time: when a container becomes ready, when a liveness or startup probe kills it,
 * and how many probes failed by a given instant.
 */
import type { Json } from "./util"

/** Normalised probe settings (Kubernetes defaults applied). */
export interface ProbeTiming {
  readonly initialDelayMs: number
  readonly periodMs: number
  readonly timeoutMs: number
  readonly failureThreshold: number
  readonly successThreshold: number
  readonly spec: Json
}

/** Read a probe from a container spec with the API defaults. */
export const probeTiming = (p: Json | undefined): ProbeTiming | undefined => {
  if (!p) return undefined
  return {
    initialDelayMs: ((p["initialDelaySeconds"] as number | undefined) ?? 0) * 1000,
    periodMs: Math.max(1, (p["periodSeconds"] as number | undefined) ?? 10) * 1000,
    timeoutMs: Math.max(1, (p["timeoutSeconds"] as number | undefined) ?? 1) * 1000,
    failureThreshold: Math.max(1, (p["failureThreshold"] as number | undefined) ?? 3),
    successThreshold: Math.max(1, (p["successThreshold"] as number | undefined) ?? 1),
    spec: p
  }
}

/** How the application answers probes. */
export interface AppHealth {
  /** When the app starts answering (epoch ms). */
  readonly upAt: number
  /** Health endpoint latency, ms. */
  readonly latencyMs: number
  /** Readiness endpoint answers 503 forever. */
  readonly neverReady: boolean
}

/** Tick time k of a probe for a container started at `start`. */
export const tickAt = (p: ProbeTiming, start: number, k: number): number => start + p.initialDelayMs + k * p.periodMs

/** First tick index whose time is ≥ t. */
export const firstTickAtOrAfter = (p: ProbeTiming, start: number, t: number): number =>
  Math.max(0, Math.ceil((t - start - p.initialDelayMs) / p.periodMs))

/** Does a tick at time t fail (liveness/startup semantics)? */
const livenessFails = (p: ProbeTiming, h: AppHealth, t: number): boolean => t < h.upAt || h.latencyMs > p.timeoutMs

/**
 * When a liveness-style probe (liveness or startup) reaches failureThreshold consecutive
 * failures, counting only ticks at or after `gate`. Undefined if it never does.
 */
export const killTime = (p: ProbeTiming, start: number, gate: number, h: AppHealth): number | undefined => {
  const k0 = firstTickAtOrAfter(p, start, gate)
  const kf = k0 + p.failureThreshold - 1
  const t = tickAt(p, start, kf)
  // failures are a prefix of ticks (before upAt) or every tick (latency above timeout)
  return livenessFails(p, h, t) ? t : undefined
}

/** When a startup probe first succeeds (undefined when it never does). */
export const startupSuccess = (p: ProbeTiming, start: number, h: AppHealth): number | undefined => {
  if (h.latencyMs > p.timeoutMs) return undefined
  return tickAt(p, start, firstTickAtOrAfter(p, start, h.upAt))
}

/** When readiness turns true (undefined when never). */
export const readyTime = (p: ProbeTiming, start: number, gate: number, h: AppHealth): number | undefined => {
  if (h.neverReady || h.latencyMs > p.timeoutMs) return undefined
  const k = firstTickAtOrAfter(p, start, Math.max(gate, h.upAt))
  return tickAt(p, start, k + p.successThreshold - 1)
}

/** Number of failed ticks in [gate, until] and the time of the first one. */
export const failuresUntil = (
  p: ProbeTiming,
  start: number,
  gate: number,
  h: AppHealth,
  until: number,
  readiness: boolean
): { count: number; first?: number; last?: number } => {
  const k0 = firstTickAtOrAfter(p, start, gate)
  const t0 = tickAt(p, start, k0)
  if (t0 > until) return { count: 0 }
  const alwaysFails = h.latencyMs > p.timeoutMs || (readiness && h.neverReady)
  const failEnd = alwaysFails ? until : Math.min(until, h.upAt - 1)
  if (failEnd < t0) return { count: 0 }
  const kLast = Math.floor((failEnd - start - p.initialDelayMs) / p.periodMs)
  const count = kLast - k0 + 1
  return count > 0 ? { count, first: t0, last: tickAt(p, start, kLast) } : { count: 0 }
}

/** The probe failure message a kubelet prints for this probe and this failure. */
export const probeFailureMessage = (p: ProbeTiming, podIP: string, h: AppHealth, t: number, readiness: boolean): string => {
  const spec = p.spec
  const timedOut = h.latencyMs > p.timeoutMs
  const refused = t < h.upAt
  if (spec["httpGet"]) {
    const g = spec["httpGet"] as Json
    const port = g["port"]
    const path = (g["path"] as string | undefined) ?? "/"
    const scheme = String(g["scheme"] ?? "HTTP").toLowerCase()
    const url = `${scheme}://${podIP}:${port}${path}`
    if (refused) return `Get "${url}": dial tcp ${podIP}:${port}: connect: connection refused`
    if (timedOut) return `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`
    return readiness ? "HTTP probe failed with statuscode: 503" : "HTTP probe failed with statuscode: 500"
  }
  if (spec["tcpSocket"]) {
    const port = (spec["tcpSocket"] as Json)["port"]
    if (timedOut) return `dial tcp ${podIP}:${port}: i/o timeout`
    return `dial tcp ${podIP}:${port}: connect: connection refused`
  }
  if (spec["grpc"]) {
    const port = (spec["grpc"] as Json)["port"]
    if (timedOut) return `timeout: failed to connect service "${podIP}:${port}" within ${p.timeoutMs / 1000}s: context deadline exceeded`
    return `timeout: failed to connect service "${podIP}:${port}" within ${p.timeoutMs / 1000}s: context deadline exceeded`
  }
  const cmd = ((spec["exec"] as Json | undefined)?.["command"] ?? []) as Array<string>
  if (timedOut) return `command "${cmd.join(" ")}" timed out`
  return `command "${cmd.join(" ")}" exited with 1`
}
