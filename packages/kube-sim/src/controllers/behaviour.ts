/**
 * Container behaviour: what the simulated application does once its container starts.
 * Behaviour comes from pod annotations (so it travels with the pod template and survives
 * template patches) and from simulator-level overrides keyed by workload and container.
 */
import type { MemoryModel } from "./memory"
import { validateMemoryModel } from "./memory"

/** Annotation holding a JSON map container name (or "*") → ContainerBehaviour. */
export const BEHAVIOUR_ANNOTATION = "kube-sim.byteport.io/behavior"
/** Annotation holding a JSON MemoryModel, or a map container name (or "*") → MemoryModel. */
export const MEMORY_ANNOTATION = "kube-sim.byteport.io/memory"

/** CPU demand: base cores plus cores per request/s per pod. */
export interface CpuModel {
  readonly baseCores?: number
  readonly coresPerRps?: number
}

/** What one container's application does. Every field is optional; defaults describe a healthy app. */
export interface ContainerBehaviour {
  /** Seconds from process start until the app answers probes (default 2). */
  readonly startupSeconds?: number
  /** Memory demand (default steady 64Mi). */
  readonly memory?: MemoryModel
  /** CPU demand. */
  readonly cpu?: CpuModel
  /** Time the health endpoint takes to answer, ms (default 5). Above a probe's timeoutSeconds the probe fails. */
  readonly probeLatencyMs?: number
  /** The readiness endpoint always answers 503. */
  readonly neverReady?: boolean
  /** Env vars the app needs; when one is missing it exits 1 at boot with a log line naming it. */
  readonly requiredEnv?: ReadonlyArray<string>
  /** Executables absent from the image: a command naming one fails to start (128 StartError, or 127 through a shell). */
  readonly missingBinaries?: ReadonlyArray<string>
  /** The app panics during boot (exit 2, Go panic trace in the logs). */
  readonly panicOnBoot?: boolean | { readonly afterSeconds?: number; readonly message?: string }
  /** The app exits on its own after this many seconds with `exitCode` (default 1). */
  readonly exitAfterSeconds?: number
  /** Exit code for `exitAfterSeconds` (0 completes an init container or a Job-like container). */
  readonly exitCode?: number
  /** Services (names in the pod's namespace, or ns/name) the app connects to at boot; exits 1 with "connection refused" until they have ready endpoints. */
  readonly dependsOn?: ReadonlyArray<string>
  /** Port the app binds (default: the first containerPort). */
  readonly listenPort?: number
  /** Something else on the pod's network namespace already holds the port. */
  readonly portInUse?: boolean
  /** Init containers: seconds until they exit 0 (default 1). */
  readonly completeAfterSeconds?: number
  /** Lines the app logs at start-up. */
  readonly logs?: ReadonlyArray<string>
  /** Share of HTTP requests answered 5xx (default 0.001). */
  readonly errorRatio?: number
  /** 95th-percentile request latency in seconds (default 0.12). */
  readonly latencyP95Seconds?: number
  /** Ephemeral storage written by the container, bytes (node disk pressure). */
  readonly diskBytes?: number
  /** Processes the container runs (node PID pressure). */
  readonly pids?: number
}

/** The image registry's answer for an image reference, or `push` (re-push the tag: a new digest). See registry/ImageRegistry. */
export type { ImageChange as PullOutcome } from "../registry/ImageRegistry"

/** Parse one behaviour map annotation; invalid JSON yields an error string. */
export const parseBehaviourAnnotation = (raw: string | undefined): Record<string, ContainerBehaviour> | string => {
  if (raw === undefined) return {}
  try {
    const v = JSON.parse(raw) as unknown
    if (v === null || typeof v !== "object" || Array.isArray(v)) return `${BEHAVIOUR_ANNOTATION} must be a JSON object`
    for (const [name, b] of Object.entries(v as Record<string, unknown>)) {
      const err = validateBehaviour(b)
      if (err) return `${BEHAVIOUR_ANNOTATION}[${name}]: ${err}`
    }
    return v as Record<string, ContainerBehaviour>
  } catch (e) {
    return `${BEHAVIOUR_ANNOTATION}: invalid JSON: ${(e as Error).message}`
  }
}

/** Parse the memory annotation: a single model (applies to every container) or a map. */
export const parseMemoryAnnotation = (raw: string | undefined): Record<string, MemoryModel> | string => {
  if (raw === undefined) return {}
  try {
    const v = JSON.parse(raw) as Record<string, unknown>
    if (v === null || typeof v !== "object") return `${MEMORY_ANNOTATION} must be a JSON object`
    if (typeof v["kind"] === "string") {
      const err = validateMemoryModel(v)
      return err ? `${MEMORY_ANNOTATION}: ${err}` : { "*": v as unknown as MemoryModel }
    }
    for (const [name, m] of Object.entries(v)) {
      const err = validateMemoryModel(m)
      if (err) return `${MEMORY_ANNOTATION}[${name}]: ${err}`
    }
    return v as unknown as Record<string, MemoryModel>
  } catch (e) {
    return `${MEMORY_ANNOTATION}: invalid JSON: ${(e as Error).message}`
  }
}

/** Validate a behaviour value; returns an error message or undefined. */
export const validateBehaviour = (b: unknown): string | undefined => {
  if (b === null || typeof b !== "object" || Array.isArray(b)) return "behaviour must be an object"
  const o = b as Record<string, unknown>
  for (const f of ["startupSeconds", "probeLatencyMs", "exitAfterSeconds", "exitCode", "listenPort", "completeAfterSeconds", "errorRatio", "latencyP95Seconds", "diskBytes", "pids"]) {
    if (o[f] !== undefined && (typeof o[f] !== "number" || !Number.isFinite(o[f]))) return `${f} must be a number`
  }
  for (const f of ["requiredEnv", "missingBinaries", "dependsOn", "logs"]) {
    if (o[f] !== undefined && (!Array.isArray(o[f]) || (o[f] as Array<unknown>).some((x) => typeof x !== "string"))) return `${f} must be an array of strings`
  }
  if (o["memory"] !== undefined) return validateMemoryModel(o["memory"])
  return undefined
}

/** Merge behaviour layers left to right (later wins, field by field). */
export const mergeBehaviour = (...layers: Array<ContainerBehaviour | undefined>): ContainerBehaviour => {
  const out: Record<string, unknown> = {}
  for (const l of layers) if (l) for (const [k, v] of Object.entries(l)) if (v !== undefined) out[k] = v
  return out as ContainerBehaviour
}
