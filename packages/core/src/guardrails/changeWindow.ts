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
  readonly contains: (now: number) => boolean
}

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

const compile = (spec: WindowSpec, zone: DateTime.TimeZone, zoneLabel: string): Compiled | string => {
  if (typeof spec === "string") {
    const parsed = Cron.parse(spec, zone)
    if (Result.isFailure(parsed)) return `invalid cron expression ${show(spec)}: ${parsed.failure.message}`
    const cron = parsed.success
    const unit = cron.seconds.size === 0 || (cron.seconds.size === 1 && cron.seconds.has(0)) ? 60_000 : 1_000
    return { label: `cron "${spec}" (${zoneLabel})`, contains: (now) => Cron.match(cron, now - (((now % unit) + unit) % unit)) }
  }
  if (typeof spec !== "object" || spec === null) return `a window must be a cron string, a daily window or a date range (got ${show(spec)})`
  if (isDateRange(spec)) {
    const start = toEpoch(spec.start)
    const end = toEpoch(spec.end)
    if (!Number.isFinite(start) || !Number.isFinite(end)) return `invalid date range ${show(spec)}`
    if (end <= start) return `date range ends before it starts ${show(spec)}`
    return {
      label: `${new Date(start).toISOString()} – ${new Date(end).toISOString()}`,
      contains: (now) => now >= start && now < end
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
  return {
    label,
    contains: (now) => {
      const p = DateTime.toParts(DateTime.makeZonedUnsafe(now, { timeZone: zone }))
      const t = ((p.hour * 60 + p.minute) * 60 + p.second) * 1000 + p.millisecond
      if (fromMs < toMs) return dayIdx.has(p.weekDay) && t >= fromMs && t < toMs
      // runs past midnight: the evening part belongs to today, the morning part to yesterday's window
      return (dayIdx.has(p.weekDay) && t >= fromMs) || (dayIdx.has((p.weekDay + 6) % 7) && t < toMs)
    }
  }
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
        if (frozen) return Guardrail.deny(`${name}: ${at} is inside the freeze window ${frozen.label}`)
        if (allow.length > 0 && !allow.some((w) => w.contains(ctx.now))) {
          return Guardrail.deny(`${name}: ${at} is outside the allowed windows: ${allow.map((w) => w.label).join("; ")}`)
        }
        return Guardrail.pass
      })
  })
}
