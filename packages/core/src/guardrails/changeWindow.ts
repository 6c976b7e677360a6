/**
 * `changeWindow`: act only inside allowed windows (business hours, a maintenance window) and
 * never inside freeze windows (a release freeze, a holiday).
 *
 * @since 0.1.0
 */
import { Cron, DateTime, Effect, Option, Result } from "effect"
import * as Guardrail from "../Guardrail"
import { misconfigured, show } from "./internal"

/** A day of the week. */
export type Weekday = "sun" | "mon" | "tue" | "wed" | "thu" | "fri" | "sat"

const weekdays: ReadonlyArray<Weekday> = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

/**
 * A daily window in the guardrail's time zone: from `from` (inclusive) to `to` (exclusive), both
 * `"HH:MM"` (`"24:00"` allowed as `to`). When `to` is not after `from` the window runs past
 * midnight, and `days` names the day it starts on. `days` defaults to every day.
 */
export interface DailyWindow {
  readonly days?: ReadonlyArray<Weekday> | undefined
  readonly from: string
  readonly to: string
}

/** An absolute range, `start` inclusive, `end` exclusive (ISO strings, epoch ms or Dates). */
export interface DateRange {
  readonly start: string | number | Date
  readonly end: string | number | Date
}

/**
 * A window: a cron expression (5 or 6 fields; the window is every minute — or second, for a
 * 6-field expression with a seconds restriction — the expression matches, e.g. `"* 9-16 * * 1-5"`
 * is Monday–Friday 09:00–16:59), a `DailyWindow` or a `DateRange`.
 */
export type WindowSpec = string | DailyWindow | DateRange

/** Options of `changeWindow`. */
export interface ChangeWindowOptions {
  /** Name in decision records; default `change_window`. */
  readonly name?: string | undefined
  /** When given, actions are allowed only inside one of these windows. */
  readonly allow?: WindowSpec | ReadonlyArray<WindowSpec> | undefined
  /** Freeze windows: actions are denied inside any of them (this wins over `allow`). */
  readonly deny?: WindowSpec | ReadonlyArray<WindowSpec> | undefined
  /** IANA time zone (or offset like `"+02:00"`) for cron expressions and daily windows; default `"UTC"`. */
  readonly timeZone?: string | undefined
}

interface Compiled {
  readonly label: string
  /** Whether the window holds at `t`. */
  readonly contains: (t: number) => boolean
  /** The next instant after `t` at which the window begins (for a window not holding at `t`). */
  readonly nextStart: (t: number) => number | undefined
  /** For a window holding at `t`: the first instant after `t` at which it no longer holds. */
  readonly endAfter: (t: number) => number | undefined
}

/** How far ahead the next allowed time (`retryAfterMs`) is searched for. */
const searchHorizonMs = 15 * 24 * 3_600_000
const DAY_MS = 86_400_000

const parseClock = (s: string, allow24: boolean): number | undefined => {
  const m = /^(\d{1,2}):(\d{2})$/.exec(s.trim())
  if (!m) return undefined
  const h = Number(m[1])
  const min = Number(m[2])
  if (min > 59) return undefined
  if (h === 24 && min === 0 && allow24) return 24 * 60
  if (h > 23) return undefined
  return h * 60 + min
}

const toEpoch = (x: string | number | Date): number => (x instanceof Date ? x.getTime() : typeof x === "number" ? x : Date.parse(x))

const isDateRange = (w: DailyWindow | DateRange): w is DateRange => "start" in w || "end" in w

/** The instant of a local wall-clock time (`minutes` after local midnight of the day `dayUtc` names) in `zone`. */
const localToEpoch = (zone: DateTime.TimeZone, dayUtc: number, minutes: number): number => {
  const d = new Date(dayUtc + minutes * 60_000)
  return DateTime.toEpochMillis(
    DateTime.makeZonedUnsafe(
      { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes() },
      { timeZone: zone, adjustForTimeZone: true }
    )
  )
}

const compile = (spec: WindowSpec, zone: DateTime.TimeZone, zoneLabel: string): Compiled | string => {
  if (typeof spec === "string") {
    const parsed = Cron.parse(spec, zone)
    if (Result.isFailure(parsed)) return `invalid cron expression ${show(spec)}: ${parsed.failure.message}`
    const cron = parsed.success
    const unit = cron.seconds.size === 0 || (cron.seconds.size === 1 && cron.seconds.has(0)) ? 60_000 : 1_000
    const floor = (t: number) => t - (((t % unit) + unit) % unit)
    const contains = (t: number) => Cron.match(cron, floor(t))
    return {
      label: `cron "${spec}" (${zoneLabel})`,
      contains,
      nextStart: (t) => {
        try {
          return Cron.next(cron, t).getTime()
        } catch {
          return undefined // an expression that never matches (e.g. February 30th)
        }
      },
      endAfter: (t) => {
        // a run of matching minutes (or seconds) ends at the first one that does not match
        const limit = t + searchHorizonMs
        for (let u = floor(t) + unit, n = 0; u <= limit && n < 100_000; u += unit, n++) if (!contains(u)) return u
        return undefined
      }
    }
  }
  if (typeof spec !== "object" || spec === null) return `a window must be a cron string, a daily window or a date range (got ${show(spec)})`
  if (isDateRange(spec)) {
    const start = toEpoch(spec.start)
    const end = toEpoch(spec.end)
    if (!Number.isFinite(start) || !Number.isFinite(end)) return `invalid date range ${show(spec)}`
    if (end <= start) return `date range ends before it starts ${show(spec)}`
    const contains = (t: number) => t >= start && t < end
    return {
      label: `${new Date(start).toISOString()} – ${new Date(end).toISOString()}`,
      contains,
      nextStart: (t) => (start > t ? start : undefined),
      endAfter: (t) => (contains(t) ? end : undefined)
    }
  }
  const from = parseClock(spec.from, false)
  const to = parseClock(spec.to, true)
  if (from === undefined || to === undefined) return `daily window needs "HH:MM" times (got from ${show(spec.from)}, to ${show(spec.to)})`
  const days = spec.days ?? weekdays
  const dayIdx = new Set<number>()
  for (const d of days) {
    const i = weekdays.indexOf(d)
    if (i < 0) return `unknown weekday ${show(d)} (use ${weekdays.join(", ")})`
    dayIdx.add(i)
  }
  const fromMs = from * 60_000
  const toMs = to * 60_000
  const label = `${spec.days ? days.join(",") + " " : "daily "}${spec.from}–${spec.to} (${zoneLabel})`
  /** The window's occurrences as instants [start, end), from the local day before `t` to the horizon. */
  const occurrences = (t: number): Array<readonly [number, number]> => {
    const p = DateTime.toParts(DateTime.makeZonedUnsafe(t, { timeZone: zone }))
    const today = Date.UTC(p.year, p.month - 1, p.day)
    const out: Array<readonly [number, number]> = []
    for (let k = -1; k <= searchHorizonMs / DAY_MS + 1; k++) {
      const day = today + k * DAY_MS
      if (!dayIdx.has(new Date(day).getUTCDay())) continue
      const s = localToEpoch(zone, day, from)
      const e = from < to ? localToEpoch(zone, day, to) : localToEpoch(zone, day + DAY_MS, to)
      out.push([s, e])
    }
    return out
  }
  return {
    label,
    contains: (now) => {
      const p = DateTime.toParts(DateTime.makeZonedUnsafe(now, { timeZone: zone }))
      const t = ((p.hour * 60 + p.minute) * 60 + p.second) * 1000 + p.millisecond
      if (fromMs < toMs) return dayIdx.has(p.weekDay) && t >= fromMs && t < toMs
      // runs past midnight: the evening part belongs to today, the morning part to yesterday's window
      return (dayIdx.has(p.weekDay) && t >= fromMs) || (dayIdx.has((p.weekDay + 6) % 7) && t < toMs)
    },
    nextStart: (t) => occurrences(t).find(([s]) => s > t)?.[0],
    endAfter: (t) => occurrences(t).find(([s, e]) => s <= t && t < e)?.[1]
  }
}

/**
 * The first instant after `now` at which the windows allow acting, or `undefined` if none within
 * the horizon. Acting can only become allowed where an allowed window begins or a freeze window
 * ends, so only those instants are tried.
 */
const nextAllowed = (now: number, allow: ReadonlyArray<Compiled>, deny: ReadonlyArray<Compiled>): number | undefined => {
  const allowed = (t: number) => !deny.some((w) => w.contains(t)) && (allow.length === 0 || allow.some((w) => w.contains(t)))
  const horizon = now + searchHorizonMs
  let t = now
  for (let i = 0; i < 10_000; i++) {
    let next = Infinity
    for (const w of allow) {
      if (w.contains(t)) continue
      const c = w.nextStart(t)
      if (c !== undefined && c > t && c < next) next = c
    }
    for (const w of deny) {
      if (!w.contains(t)) continue
      const c = w.endAfter(t)
      if (c !== undefined && c > t && c < next) next = c
    }
    if (!(next <= horizon)) return undefined
    if (allowed(next)) return next
    t = next
  }
  return undefined
}

const asList = (x: WindowSpec | ReadonlyArray<WindowSpec> | undefined): ReadonlyArray<WindowSpec> =>
  x === undefined ? [] : Array.isArray(x) ? (x as ReadonlyArray<WindowSpec>) : [x as WindowSpec]

/**
 * Denies inside any `deny` (freeze) window and, when `allow` is given, outside every allowed
 * window. Time is `ctx.now` (virtual under TestClock). Windows are evaluated in `timeZone`
 * (default UTC), daylight-saving aware. Invalid windows give a guardrail that denies every action.
 *
 * @example
 * ```ts
 * import { Guardrail } from "@byteport/core"
 * const businessHours = Guardrail.changeWindow({
 *   allow: { days: ["mon", "tue", "wed", "thu", "fri"], from: "09:00", to: "17:00" },
 *   deny: [{ start: "2026-12-20T00:00:00Z", end: "2027-01-04T00:00:00Z" }], // year-end freeze
 *   timeZone: "Europe/Berlin"
 * })
 * const nightly = Guardrail.changeWindow({ allow: "* 2-3 * * *" }) // 02:00–03:59 UTC
 * ```
 */
export const changeWindow = (options: ChangeWindowOptions): Guardrail.Guardrail<never> => {
  const name = options.name ?? "change_window"
  const zoneLabel = options.timeZone ?? "UTC"
  const zone = DateTime.zoneFromString(zoneLabel)
  if (Option.isNone(zone)) return misconfigured(name, `unknown time zone ${show(zoneLabel)}`)
  const allowSpecs = asList(options.allow)
  const denySpecs = asList(options.deny)
  if (options.allow !== undefined && allowSpecs.length === 0) return misconfigured(name, "allow is empty: no action could ever run")
  const allow: Array<Compiled> = []
  const deny: Array<Compiled> = []
  for (const [specs, into] of [[allowSpecs, allow], [denySpecs, deny]] as const) {
    for (const spec of specs) {
      const c = compile(spec, zone.value, zoneLabel)
      if (typeof c === "string") return misconfigured(name, c)
      into.push(c)
    }
  }
  return Guardrail.make({
    name,
    check: (ctx) =>
      Effect.sync(() => {
        const at = new Date(ctx.now).toISOString()
        const frozen = deny.find((w) => w.contains(ctx.now))
        const outside = allow.length > 0 && !allow.some((w) => w.contains(ctx.now))
        if (!frozen && !outside) return Guardrail.pass
        const next = nextAllowed(ctx.now, allow, deny)
        const when = next === undefined ? "; no allowed time in the next 15 days" : `; next allowed at ${new Date(next).toISOString()}`
        const retryAfterMs = next === undefined ? undefined : next - ctx.now
        return frozen
          ? Guardrail.deny(`${name}: ${at} is inside the freeze window ${frozen.label}${when}`, retryAfterMs)
          : Guardrail.deny(`${name}: ${at} is outside the allowed windows: ${allow.map((w) => w.label).join("; ")}${when}`, retryAfterMs)
      })
  })
}
