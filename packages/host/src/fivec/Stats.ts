/**
 * The statistics `host.memory.five-class` classifies with: a memory history (usage samples with
 * the request rate when known), its climb, span, p99 and the usage ↔ rps correlation.
 *
 * @since 0.1.0
 */

/** One memory sample of a service. */
export interface Sample {
  /** Epoch ms. */
  readonly at: number
  /** Memory in use (cgroup usage or RSS), bytes. */
  readonly bytes: number
  /** Requests per second at that time, when a source knows it. */
  readonly rps?: number | undefined
}

/** What the classifier reads of a history. */
export interface Summary {
  readonly samples: number
  /** Last − first sample time, ms. */
  readonly spanMs: number
  /** Mean of the last quarter − mean of the first quarter (by time), bytes. */
  readonly riseBytes: number
  /** Least-squares slope, bytes per hour. */
  readonly slopeBytesPerHour: number
  /** 99th percentile (nearest rank) of the samples, bytes. */
  readonly p99Bytes: number
  /** Pearson correlation of bytes and rps over the samples that have rps; undefined with fewer than 4 or no variance. */
  readonly rpsCorrelation: number | undefined
}

const mean = (xs: ReadonlyArray<number>): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)

/** Nearest-rank percentile. */
export const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  if (xs.length === 0) return 0
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

/** Pearson correlation; undefined when it cannot be told. */
export const correlation = (xs: ReadonlyArray<number>, ys: ReadonlyArray<number>): number | undefined => {
  if (xs.length < 4 || xs.length !== ys.length) return undefined
  const mx = mean(xs)
  const my = mean(ys)
  let sxy = 0
  let sxx = 0
  let syy = 0
  for (let i = 0; i < xs.length; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my)
    sxx += (xs[i]! - mx) ** 2
    syy += (ys[i]! - my) ** 2
  }
  if (sxx === 0 || syy === 0) return undefined
  return sxy / Math.sqrt(sxx * syy)
}

/** Summarises a history (sorted by time here). */
export const summarize = (history: ReadonlyArray<Sample>): Summary => {
  const h = [...history].sort((a, b) => a.at - b.at)
  if (h.length === 0) return { samples: 0, spanMs: 0, riseBytes: 0, slopeBytesPerHour: 0, p99Bytes: 0, rpsCorrelation: undefined }
  const first = h[0]!.at
  const spanMs = h[h.length - 1]!.at - first
  const q = Math.max(1, Math.floor(h.length / 4))
  const riseBytes = mean(h.slice(-q).map((s) => s.bytes)) - mean(h.slice(0, q).map((s) => s.bytes))
  const ts = h.map((s) => (s.at - first) / 3_600_000)
  const bs = h.map((s) => s.bytes)
  const mt = mean(ts)
  const mb = mean(bs)
  let num = 0
  let den = 0
  for (let i = 0; i < h.length; i++) {
    num += (ts[i]! - mt) * (bs[i]! - mb)
    den += (ts[i]! - mt) ** 2
  }
  const withRps = h.filter((s) => typeof s.rps === "number" && Number.isFinite(s.rps))
  return {
    samples: h.length,
    spanMs,
    riseBytes,
    slopeBytesPerHour: den === 0 ? 0 : num / den,
    p99Bytes: percentile(bs, 99),
    rpsCorrelation: correlation(withRps.map((s) => s.bytes), withRps.map((s) => s.rps!))
  }
}

/** An in-memory history per service, kept for `keepMs` (the detector records, the diagnoser reads). */
export interface Recorder {
  readonly record: (unit: string, sample: Sample) => void
  readonly history: (unit: string) => ReadonlyArray<Sample>
}

/** A recorder keeping `keepMs` (default 3 h) per unit. */
export const recorder = (keepMs = 3 * 3_600_000): Recorder => {
  const byUnit = new Map<string, Array<Sample>>()
  return {
    record: (unit, sample) => {
      const list = byUnit.get(unit) ?? []
      list.push(sample)
      while (list.length > 0 && list[0]!.at < sample.at - keepMs) list.shift()
      byUnit.set(unit, list)
    },
    history: (unit) => [...(byUnit.get(unit) ?? [])]
  }
}
