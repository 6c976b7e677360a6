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
  /** Postings: `label\u0000value` → the keys of the series carrying that label value. */
  private readonly byLabel = new Map<string, Set<string>>()
  /** How many stored series selections have handed out so far (a test's witness that queries use the index). */
  examined = 0

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
      for (const [l, v] of Object.entries(labels)) {
        const pk = `${l}\u0000${v}`
        const posting = this.byLabel.get(pk) ?? new Set()
        posting.add(k)
        this.byLabel.set(pk, posting)
      }
    }
    const last = s.points[s.points.length - 1]
    if (last && last[0] === t) last[1] = v
    else if (!last || last[0] < t) s.points.push([t, v])
    else {
      // a late sample keeps the points in time order (queries binary-search them)
      const i = s.points.findIndex((p) => p[0] >= t)
      if (s.points[i]![0] === t) s.points[i]![1] = v
      else s.points.splice(i, 0, [t, v])
    }
    const cutoff = t - this.retentionMs
    while (s.points.length && s.points[0]![0] < cutoff) s.points.shift()
  }

  /** Series with a given metric name (all when name is undefined). */
  select(name: string | undefined): Array<StoredSeries> {
    const out = name === undefined ? [...this.series.values()] : [...(this.byName.get(name) ?? [])].map((k) => this.series.get(k)!).filter(Boolean)
    this.examined += out.length
    return out
  }

  /**
   * Series with a metric name (any when undefined) carrying every `label = value` of `equal`,
   * through the label index: only the smallest matching posting list is walked, never every
   * series of the name. Other matchers (`!=`, regexes) are the caller's to apply.
   */
  selectWhere(name: string | undefined, equal: ReadonlyArray<readonly [string, string]>): Array<StoredSeries> {
    const postings: Array<Set<string>> = []
    if (name !== undefined) postings.push(this.byName.get(name) ?? new Set())
    for (const [l, v] of equal) postings.push(this.byLabel.get(`${l}\u0000${v}`) ?? new Set())
    if (postings.length === 0) return this.select(undefined)
    postings.sort((a, b) => a.size - b.size)
    const [smallest, ...rest] = postings
    const out: Array<StoredSeries> = []
    for (const k of smallest!) {
      if (rest.every((p) => p.has(k))) {
        const s = this.series.get(k)
        if (s) out.push(s)
      }
    }
    this.examined += out.length
    return out
  }

  /** How many series are stored. */
  get size(): number {
    return this.series.size
  }

  /** Every metric name. */
  names(): Array<string> {
    return [...this.byName.keys()].sort()
  }
}
