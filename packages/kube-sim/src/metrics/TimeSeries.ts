/**
 * The simulator's time-series database: the series the kubelet (cAdvisor), kube-state-metrics
 * and the applications would expose, sampled on the virtual clock at a scrape interval.
 */

/** Labels of one series (including `__name__`). */
export type Labels = Record<string, string>

/** One stored series. */
export interface StoredSeries {
  readonly labels: Labels
  readonly points: Array<[number, number]>
}

/** Canonical key of a label set. */
export const labelsKey = (l: Labels): string =>
  Object.keys(l).sort().map((k) => `${k}=${JSON.stringify(l[k])}`).join(",")

/** An append-only, time-bounded series store. */
export class TimeSeriesDB {
  private readonly series = new Map<string, StoredSeries>()
  private readonly byName = new Map<string, Set<string>>()

  /** Build with a retention (ms). */
  constructor(readonly retentionMs: number = 24 * 3_600_000) {}

  /** Append a sample. */
  add(labels: Labels, t: number, v: number): void {
    const k = labelsKey(labels)
    let s = this.series.get(k)
    if (!s) {
      s = { labels: { ...labels }, points: [] }
      this.series.set(k, s)
      const name = labels["__name__"] ?? ""
      const set = this.byName.get(name) ?? new Set()
      set.add(k)
      this.byName.set(name, set)
    }
    const last = s.points[s.points.length - 1]
    if (last && last[0] === t) last[1] = v
    else s.points.push([t, v])
    const cutoff = t - this.retentionMs
    while (s.points.length && s.points[0]![0] < cutoff) s.points.shift()
  }

  /** Series with a given metric name (all when name is undefined). */
  select(name: string | undefined): Array<StoredSeries> {
    if (name === undefined) return [...this.series.values()]
    return [...(this.byName.get(name) ?? [])].map((k) => this.series.get(k)!).filter(Boolean)
  }

  /** Every metric name. */
  names(): Array<string> {
    return [...this.byName.keys()].sort()
  }
}
