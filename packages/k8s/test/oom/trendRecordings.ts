/**
 * Seeded, deterministic working-set recordings in Prometheus `query_range` shape (what a user
 * exports with `curl /api/v1/query_range`), for the growth test: leaks that fill the limit in a
 * given time and true plateaus near the limit, sampled at any step, with or without noise.
 *
 * The container is simulated at a 5 s tick and sampled at the recording's step, as Prometheus
 * samples a gauge: a leak climbs from its start level to the limit and is OOM-killed there, comes
 * back after a crash-loop back-off and climbs again; a plateau ramps up to its level and holds it,
 * killed now and then by an allocation burst between two samples.
 */
import { Schema } from "effect"
import { QueryResponse, type Series } from "../../src/metrics/Prometheus"

/** mulberry32: a small seeded PRNG. */
const rng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const gauss = (r: () => number) => Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r())

/** What to record. */
export interface Recording {
  readonly kind: "leak" | "plateau"
  /** The memory limit, bytes. */
  readonly limitBytes: number
  /** Leak: time from a fresh start to the limit, seconds. */
  readonly fillSeconds?: number
  /** Plateau: the level as a share of the limit (the recording's peak lands on it when noisy). */
  readonly level?: number
  /** Plateau: mean seconds between OOM kills (0 = never killed). */
  readonly killEverySeconds?: number
  /** Sampling step, seconds. */
  readonly stepSeconds: number
  /** Recorded duration, seconds. */
  readonly durationSeconds: number
  /**
   * Noise: `traffic` — the working set follows a varying request rate (AR(1), 2 min correlation,
   * sd 2% of the limit) that is recorded beside it; `allocator` — GC/allocator jitter of the same
   * size that the (equally varying) request rate does not explain; `none`.
   */
  readonly noise: "none" | "traffic" | "allocator"
  readonly seed: number
}

/** The recorded responses: working set (one series, pod `app-0`) and request rate. */
export const record = (o: Recording): { readonly memory: unknown; readonly rps: unknown } => {
  const r = rng(o.seed)
  const tick = 5
  const L = o.limitBytes
  const start0 = 1_767_225_600 // 2026-01-01T00:00:00Z
  const tau = 120
  const phi = Math.exp(-tick / tau)
  let traffic = 0 // AR(1), unit variance
  let jitter = 0
  let age = 0
  let down = 0 // seconds left of the crash-loop back-off
  let backoff = 10
  const startLevel = 0.3
  const sigma = o.noise === "none" ? 0 : 0.02
  // a plateau's level is its peak when noisy: hold the mean below it by ~3 sd
  const plateauMean = (o.level ?? 0.9) - (o.noise === "none" ? 0 : 3 * sigma)
  const memory: Array<[number, number, boolean]> = []
  const rps: Array<[number, string]> = []
  for (let t = 0; t <= o.durationSeconds; t += tick) {
    traffic = phi * traffic + Math.sqrt(1 - phi * phi) * gauss(r)
    jitter = phi * jitter + Math.sqrt(1 - phi * phi) * gauss(r)
    const sampled = t % o.stepSeconds === 0
    if (sampled) rps.push([start0 + t, (100 * (1 + 0.2 * traffic)).toFixed(3)])
    if (down > 0) {
      down -= tick
      continue
    }
    age += tick
    const noise = o.noise === "traffic" ? sigma * traffic : o.noise === "allocator" ? sigma * jitter : 0
    let share: number
    if (o.kind === "leak") {
      share = startLevel + (1 - startLevel) * (age / o.fillSeconds!) + noise
    } else {
      const ramp = Math.min(1, age / 90)
      share = startLevel + (plateauMean - startLevel) * ramp + noise * ramp
    }
    const killed = share >= 1 || (o.kind === "plateau" && (o.killEverySeconds ?? 0) > 0 && age > 300 && r() < tick / o.killEverySeconds!)
    if (killed) {
      age = 0
      down = backoff
      backoff = Math.min(300, backoff * 2)
      continue
    }
    if (age > 600) backoff = 10
    if (sampled) memory.push([start0 + t, Math.min(share, 0.999) * L, o.kind === "plateau" && age >= 90])
  }
  // a plateau's recorded peak is its level exactly (whatever the step caught of the noise)
  const settled = memory.filter((m) => m[2])
  const shift = o.kind === "plateau" && settled.length ? (o.level ?? 0.9) * L - Math.max(...settled.map((m) => m[1])) : 0
  const values: Array<[number, string]> = memory.map(([t, v, s]) => [t, String(Math.ceil(s ? v + shift : v))])
  const matrix = (metric: Record<string, string>, values: Array<[number, string]>) => ({ status: "success", data: { resultType: "matrix", result: [{ metric, values }] } })
  return { memory: matrix({ pod: "app-0", container: "app" }, values), rps: matrix({}, rps) }
}

/** A recorded `query_range` response (JSON) → series, as the probe and fixtures read it. */
export const seriesOf = (json: unknown): ReadonlyArray<Series> => {
  const r = Schema.decodeUnknownSync(QueryResponse)(json)
  if (r.status !== "success" || r.data.resultType !== "matrix") throw new Error("not a matrix")
  return r.data.result.map((s) => ({ labels: s.metric, points: s.values.map(([t, v]) => [Math.round(t * 1000), Number(v)] as const) }))
}
