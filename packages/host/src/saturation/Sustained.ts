/**
 * A sustained-threshold window: a value strictly over `threshold` in **every** sample for
 * `windowMs` continuous milliseconds fires; one sample at or under the threshold resets the
 * window. An interval sample (CPU) covers the interval since the previous one (CPU busy is a delta between two
 * readings), so the window starts at the reading before the first sample over the threshold.
 * With readings every second: 89 s over does not fire, 90 s does; 85 % (not over 85 %) resets,
 * 86 % counts.
 *
 * @since 0.1.0
 */

/** The state between samples. */
export interface State {
  /** When the previous reading was taken (undefined before the first). */
  readonly lastAt: number | undefined
  /** When the current run over the threshold started (undefined: no run). */
  readonly since: number | undefined
}

/** The initial state. */
export const initial: State = { lastAt: undefined, since: undefined }

/** What one sample did. */
export interface Step {
  readonly state: State
  /** The run has lasted at least the window (fires on every sample from then on, while over). */
  readonly sustained: boolean
  /** How long the current run has lasted, ms (0 when none). */
  readonly forMs: number
}

/**
 * Pure: one sample (`value` over the interval ending `at`). The first reading only starts the
 * clock (there is no interval before it) unless `value` is given for it. `instant`: the value is a
 * reading at `at` (memory used), not an interval, so a run starts at its first reading over.
 */
export const step = (state: State, at: number, value: number | undefined, threshold: number, windowMs: number, instant = false): Step => {
  if (value === undefined) return { state: { lastAt: at, since: undefined }, sustained: false, forMs: 0 }
  if (!(value > threshold)) return { state: { lastAt: at, since: undefined }, sustained: false, forMs: 0 }
  const since = state.since ?? (instant ? at : state.lastAt ?? at)
  const forMs = at - since
  return { state: { lastAt: at, since }, sustained: forMs >= windowMs, forMs }
}
