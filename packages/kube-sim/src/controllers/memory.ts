/**
 * Memory demand models. A model describes how much memory a container *wants* at a given
 * time; the kubelet OOM-kills the container when demand exceeds its limit. Every model is
 * piecewise linear in time, so the exact crossing instant is computed, not sampled.
 */
import { tryQuantity } from "./quantity"

/** Constant demand. */
export interface SteadyModel { readonly kind: "steady"; readonly bytes: number | string }
/** Ramp from `startBytes` to `plateauBytes` over `rampSeconds`, then flat (a working set that settles). */
export interface PlateauModel {
  readonly kind: "plateau"
  readonly plateauBytes: number | string
  readonly startBytes?: number | string
  readonly rampSeconds?: number
}
/** A leak: grows linearly for as long as the container runs, whatever the limit. */
export interface LeakModel {
  readonly kind: "leak"
  readonly baseBytes: number | string
  readonly bytesPerMinute: number | string
}
/** Follows the workload's request-rate series: base + bytesPerRps × (requests per second per ready pod). */
export interface TrafficModel {
  readonly kind: "traffic"
  readonly baseBytes: number | string
  readonly bytesPerRps: number | string
}
/**
 * A managed runtime (JVM, Go, Node.js): the heap grows towards the ceiling configured in the
 * container's env (JAVA_TOOL_OPTIONS/JAVA_OPTS -Xmx, GOMEMLIMIT, NODE_OPTIONS
 * --max-old-space-size) plus a fixed non-heap overhead; without a ceiling it uses `defaultHeapBytes`.
 */
export interface RuntimeHeapModel {
  readonly kind: "runtimeHeap"
  readonly overheadBytes: number | string
  readonly defaultHeapBytes: number | string
  readonly heapGrowthBytesPerMinute?: number | string
}
/** Any memory demand model (serialisable JSON). */
export type MemoryModel = SteadyModel | PlateauModel | LeakModel | TrafficModel | RuntimeHeapModel

/** What a model needs to evaluate demand. */
export interface DemandInput {
  /** Container start, epoch ms. */
  readonly startedAt: number
  /** The container's env as name → value (literal values only). */
  readonly env: Record<string, string>
  /** Requests per second per ready pod at an instant (traffic model). */
  readonly rpsAt: (t: number) => number
  /** Times at which the per-pod request rate changes slope (series points). */
  readonly rpsBreakpoints: (from: number, to: number) => Array<number>
}

const q = (v: number | string | undefined, d = 0): number => (v === undefined ? d : tryQuantity(v) ?? d)

/** The heap ceiling a runtime flag in the env sets, in bytes (undefined when none). */
export const heapCeilingFromEnv = (env: Record<string, string>): { bytes: number; source: string } | undefined => {
  for (const name of ["JAVA_TOOL_OPTIONS", "JAVA_OPTS", "JDK_JAVA_OPTIONS"]) {
    const m = /-Xmx(\d+)([kKmMgG]?)/.exec(env[name] ?? "")
    if (m) {
      const mul = { "": 1, k: 1024, m: 2 ** 20, g: 2 ** 30 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"]
      return { bytes: Number(m[1]) * mul, source: `${name}=${env[name]}` }
    }
  }
  const gml = env["GOMEMLIMIT"]
  if (gml) {
    const m = /^(\d+)(B|KiB|MiB|GiB|TiB)?$/.exec(gml)
    if (m) {
      const mul = { B: 1, KiB: 1024, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 }[(m[2] ?? "B") as "B"]
      return { bytes: Number(m[1]) * mul, source: `GOMEMLIMIT=${gml}` }
    }
  }
  const m = /--max-old-space-size=(\d+)/.exec(env["NODE_OPTIONS"] ?? "")
  if (m) return { bytes: Number(m[1]) * 2 ** 20, source: `NODE_OPTIONS=${env["NODE_OPTIONS"]}` }
  return undefined
}

/** A piecewise-linear function of absolute time, as breakpoints (t, v) plus a slope after the last one. */
interface Piecewise {
  readonly points: Array<[number, number]>
  readonly tailSlopePerMs: number
}

const piecewise = (model: MemoryModel, input: DemandInput, from: number, to: number): Piecewise => {
  const s = input.startedAt
  switch (model.kind) {
    case "steady":
      return { points: [[s, q(model.bytes)]], tailSlopePerMs: 0 }
    case "plateau": {
      const ramp = (model.rampSeconds ?? 60) * 1000
      const plateau = q(model.plateauBytes)
      const start = q(model.startBytes, plateau * 0.3)
      return { points: ramp > 0 ? [[s, start], [s + ramp, plateau]] : [[s, plateau]], tailSlopePerMs: 0 }
    }
    case "leak":
      return { points: [[s, q(model.baseBytes)]], tailSlopePerMs: q(model.bytesPerMinute) / 60_000 }
    case "runtimeHeap": {
      const ceiling = heapCeilingFromEnv(input.env)?.bytes ?? q(model.defaultHeapBytes)
      const overhead = q(model.overheadBytes)
      const growth = q(model.heapGrowthBytesPerMinute, ceiling / 10) / 60_000
      const start = overhead + Math.min(ceiling, 64 * 2 ** 20)
      const full = overhead + ceiling
      const reachMs = growth > 0 ? Math.max(0, (full - start) / growth) : 0
      return { points: [[s, start], [s + reachMs, full]], tailSlopePerMs: 0 }
    }
    case "traffic": {
      const base = q(model.baseBytes)
      const per = q(model.bytesPerRps)
      const ts = [Math.max(s, from), ...input.rpsBreakpoints(Math.max(s, from), to).filter((t) => t > Math.max(s, from) && t <= to), to]
      const uniq = [...new Set(ts)].sort((a, b) => a - b)
      return { points: uniq.map((t) => [t, base + per * input.rpsAt(t)] as [number, number]), tailSlopePerMs: 0 }
    }
  }
}

const valueOf = (p: Piecewise, t: number): number => {
  const pts = p.points
  if (pts.length === 0) return 0
  if (t <= pts[0]![0]) return pts[0]![1]
  for (let i = 1; i < pts.length; i++) {
    const [t1, v1] = pts[i]!
    if (t <= t1) {
      const [t0, v0] = pts[i - 1]!
      return t1 === t0 ? v1 : v0 + ((v1 - v0) * (t - t0)) / (t1 - t0)
    }
  }
  const [tl, vl] = pts[pts.length - 1]!
  return vl + p.tailSlopePerMs * (t - tl)
}

/** Memory demand in bytes at time `t`. */
export const demandAt = (model: MemoryModel, input: DemandInput, t: number): number =>
  Math.max(0, valueOf(piecewise(model, input, t, t), t))

/**
 * The first instant in [from, to] at which demand exceeds `limit`, or undefined.
 * Exact for every model (linear interpolation between breakpoints).
 */
export const crossingTime = (model: MemoryModel, input: DemandInput, limit: number, from: number, to: number): number | undefined => {
  const p = piecewise(model, input, from, to)
  const at = (t: number) => valueOf(p, t)
  if (at(from) > limit) return from
  const bps = [...p.points.map(([t]) => t).filter((t) => t > from && t < to), to].sort((a, b) => a - b)
  let prev = from
  for (const t of bps) {
    const v0 = at(prev)
    const v1 = at(t)
    if (v1 > limit) {
      // linear between prev and t: solve v0 + (v1 - v0) * x = limit, then step just past it
      const x = v1 === v0 ? 0 : (limit - v0) / (v1 - v0)
      let c = Math.min(t, Math.floor(prev + x * (t - prev)) + 1)
      // guard against floating-point rounding: the first millisecond strictly above the limit
      while (c < t && at(c) <= limit) c++
      while (c > prev + 1 && at(c - 1) > limit) c--
      return c
    }
    prev = t
  }
  return undefined
}

/** Validate an unknown value as a MemoryModel; returns an error message or undefined. */
export const validateMemoryModel = (m: unknown): string | undefined => {
  if (m === null || typeof m !== "object") return "memory model must be an object"
  const kind = (m as { kind?: unknown }).kind
  const need = (fields: Array<string>) => {
    for (const f of fields) {
      const v = (m as Record<string, unknown>)[f]
      if (v === undefined || tryQuantity(v) === undefined) return `memory model ${String(kind)}: field ${f} must be a quantity`
    }
    return undefined
  }
  switch (kind) {
    case "steady": return need(["bytes"])
    case "plateau": return need(["plateauBytes"])
    case "leak": return need(["baseBytes", "bytesPerMinute"])
    case "traffic": return need(["baseBytes", "bytesPerRps"])
    case "runtimeHeap": return need(["overheadBytes", "defaultHeapBytes"])
    default: return `unknown memory model kind ${JSON.stringify(kind)} (steady, plateau, leak, traffic, runtimeHeap)`
  }
}
