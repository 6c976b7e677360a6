/**
 * Time series the simulated world is driven by (request rate per workload), as piecewise
 * linear points on the virtual clock.
 */

/** One point: seconds (relative to when the series was set) → value. */
export type SeriesPoint = readonly [seconds: number, value: number]

/** A piecewise-linear series anchored at an absolute time; holds its end values outside its range. */
export class Series {
  /** Absolute points (epoch ms, value), sorted. */
  readonly points: ReadonlyArray<readonly [number, number]>

  /** Anchor relative points at `anchorMs`. A plain number is a constant series. */
  constructor(points: ReadonlyArray<SeriesPoint> | number, anchorMs: number) {
    const pts = typeof points === "number" ? [[0, points] as const] : points
    if (pts.length === 0) throw new RangeError("a series needs at least one point")
    for (const [s, v] of pts) {
      if (!Number.isFinite(s) || !Number.isFinite(v) || v < 0) throw new RangeError(`invalid series point [${s}, ${v}]`)
    }
    this.points = [...pts].map(([s, v]) => [anchorMs + s * 1000, v] as const).sort((a, b) => a[0] - b[0])
  }

  /** Value at absolute time `t`. */
  at(t: number): number {
    const p = this.points
    if (t <= p[0]![0]) return p[0]![1]
    for (let i = 1; i < p.length; i++) {
      const [t1, v1] = p[i]!
      if (t <= t1) {
        const [t0, v0] = p[i - 1]!
        return v0 + ((v1 - v0) * (t - t0)) / (t1 - t0)
      }
    }
    return p[p.length - 1]![1]
  }

  /** Breakpoints within (from, to]. */
  breakpoints(from: number, to: number): Array<number> {
    return this.points.map(([t]) => t).filter((t) => t > from && t <= to)
  }
}
