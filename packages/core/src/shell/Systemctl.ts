/**
 * Parsers for `systemctl show` (key=value properties; several units are separated by a blank
 * line) and `systemctl list-units` (`--output=json`, or the plain table with or without its
 * header and legend).
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import * as P from "./ParseError"

/** The properties of one unit, as `systemctl show` printed them, with the common ones typed. */
export interface UnitProperties {
  /** Every property, raw (`ActiveState` → `active`). */
  readonly properties: Readonly<Record<string, string>>
  /** `Id`, when shown. */
  readonly id: string | undefined
  /** `LoadState` (`loaded`, `not-found`, `masked` …). */
  readonly loadState: string | undefined
  /** `ActiveState` (`active`, `inactive`, `failed`, `activating` …). */
  readonly activeState: string | undefined
  /** `SubState` (`running`, `exited`, `dead`, `auto-restart` …). */
  readonly subState: string | undefined
  /** `MainPID`; undefined when 0 or not shown. */
  readonly mainPid: number | undefined
  /** `NRestarts`, when shown. */
  readonly restarts: number | undefined
  /** `Result` (`success`, `exit-code`, `oom-kill` …). */
  readonly result: string | undefined
}

const SHOW = "systemctl show"

const toUnit = (properties: Record<string, string>): UnitProperties => {
  const pid = properties["MainPID"] !== undefined ? P.int(properties["MainPID"]) : undefined
  return {
    properties,
    id: properties["Id"],
    loadState: properties["LoadState"],
    activeState: properties["ActiveState"],
    subState: properties["SubState"],
    mainPid: pid === 0 ? undefined : pid,
    restarts: properties["NRestarts"] !== undefined ? P.int(properties["NRestarts"]) : undefined,
    result: properties["Result"]
  }
}

/**
 * Parses `systemctl show [unit…]`: one block of `Key=Value` lines per unit, blocks separated by
 * blank lines. A value may contain `=`; a line without `=` or with an empty key fails naming the
 * line. Empty output fails (systemctl always prints properties, even for an unknown unit).
 */
export const parseShow = (text: string): Effect.Effect<ReadonlyArray<UnitProperties>, P.ParseError> =>
  Effect.suspend(() => {
    const units: Array<UnitProperties> = []
    let current: Record<string, string> | undefined
    for (const { n, text: line } of P.lines(text)) {
      if (line.trim() === "") {
        if (current !== undefined) units.push(toUnit(current))
        current = undefined
        continue
      }
      const eq = line.indexOf("=")
      if (eq <= 0) return Effect.fail(P.at(SHOW, n, line, eq === 0 ? "empty property name" : "expected Key=Value"))
      const key = line.slice(0, eq)
      if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(key)) return Effect.fail(P.at(SHOW, n, line, "malformed property name"))
      current ??= {}
      current[key] = line.slice(eq + 1)
    }
    if (current !== undefined) units.push(toUnit(current))
    if (units.length === 0) return Effect.fail(P.at(SHOW, 0, "", "empty output"))
    return Effect.succeed(units)
  })

/** Parses `systemctl show` for exactly one unit. */
export const parseShowOne = (text: string): Effect.Effect<UnitProperties, P.ParseError> =>
  Effect.flatMap(parseShow(text), (units) =>
    units.length === 1 ? Effect.succeed(units[0]!) : Effect.fail(P.at(SHOW, 0, "", `expected one unit, got ${units.length}`)))

/** One row of `systemctl list-units`. */
export interface Unit {
  readonly unit: string
  /** `loaded`, `not-found`, `masked` … */
  readonly load: string
  /** `active`, `inactive`, `failed` … */
  readonly active: string
  /** `running`, `exited`, `failed`, `dead` … */
  readonly sub: string
  readonly description: string
}

const LIST = "systemctl list-units"

const parseListJson = (text: string): Effect.Effect<ReadonlyArray<Unit>, P.ParseError> =>
  Effect.flatMap(P.json(LIST, text), (doc) => {
    if (!Array.isArray(doc)) return Effect.fail(P.at(LIST, 1, text.split("\n")[0] ?? "", "expected a JSON array", ""))
    const units: Array<Unit> = []
    for (let i = 0; i < doc.length; i++) {
      const row: unknown = doc[i]
      if (typeof row !== "object" || row === null) return Effect.fail(P.at(LIST, 0, "", "expected an object", `[${i}]`))
      const r = row as Record<string, unknown>
      for (const key of ["unit", "load", "active", "sub"] as const) {
        if (typeof r[key] !== "string") return Effect.fail(P.at(LIST, 0, "", "expected a string", `[${i}].${key}`))
      }
      if (r["description"] !== undefined && typeof r["description"] !== "string") {
        return Effect.fail(P.at(LIST, 0, "", "expected a string", `[${i}].description`))
      }
      units.push({
        unit: r["unit"] as string,
        load: r["load"] as string,
        active: r["active"] as string,
        sub: r["sub"] as string,
        description: (r["description"] as string | undefined) ?? ""
      })
    }
    return Effect.succeed(units)
  })

const ROW = /^(?:[●*×]\s*)?(\S+)\s+(\S+)\s+(\S+)\s+(\S+)(?:\s+(.*))?$/

const parseListPlain = (text: string): Effect.Effect<ReadonlyArray<Unit>, P.ParseError> =>
  Effect.suspend(() => {
    const units: Array<Unit> = []
    const all = P.lines(text)
    let i = 0
    while (i < all.length && all[i]!.text.trim() === "") i++
    if (i < all.length && /^\s*UNIT\s+LOAD\s+ACTIVE\s+SUB\b/.test(all[i]!.text)) i++
    for (; i < all.length; i++) {
      const { n, text: line } = all[i]!
      const t = line.trim()
      if (t === "") break // the legend follows a blank line
      if (/^\d+ (loaded )?units? listed\.?$/.test(t) || t === "0 loaded units listed.") break
      const m = ROW.exec(t)
      if (m === null) return Effect.fail(P.at(LIST, n, line, "expected UNIT LOAD ACTIVE SUB DESCRIPTION"))
      units.push({ unit: m[1]!, load: m[2]!, active: m[3]!, sub: m[4]!, description: m[5] ?? "" })
    }
    return Effect.succeed(units)
  })

/**
 * Parses `systemctl list-units`: `--output=json` (a JSON array of `{unit, load, active, sub,
 * description}`), or the plain table (`--plain`, with or without `--no-legend`; the failed-unit
 * marker `●` is dropped). Empty output or a header alone is an empty list.
 */
export const parseListUnits = (text: string): Effect.Effect<ReadonlyArray<Unit>, P.ParseError> =>
  text.trimStart().startsWith("[") ? parseListJson(text) : parseListPlain(text)

// ---------------------------------------------------------------------------------------------
// is-active / is-failed / show with their exit codes

/** What a command's result needs for the exit-code-aware parsers (a `Shell.Result` fits). */
export interface Outcome {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

/** A fact systemctl answered, or Unknown (no systemd, no bus, an unexpected answer): never a guess. */
export type Check<A> =
  | { readonly _tag: "Known"; readonly value: A }
  | { readonly _tag: "Unknown"; readonly reason: string }

/** A Known fact. */
export const known = <A>(value: A): Check<A> => ({ _tag: "Known", value })
/** An Unknown fact, with why. */
export const unknown = <A = never>(reason: string): Check<A> => ({ _tag: "Unknown", reason })

/** The answer of `systemctl is-active` / `is-failed` for one unit. */
export interface UnitState {
  /** The ActiveState systemctl printed (`active`, `inactive`, `failed`, `activating` …). */
  readonly state: string
  /** `is-active`: the unit is active (exit 0). `is-failed`: the unit is failed (exit 0). */
  readonly yes: boolean
}

const NO_SYSTEMD: ReadonlyArray<RegExp> = [
  /System has not been booted with systemd/i,
  /Failed to connect to (the )?bus/i,
  /Failed to get D-Bus connection/i,
  /systemctl: (command )?not found/i,
  /executable file not found/i
]

const STATES: ReadonlySet<string> = new Set(["active", "reloading", "inactive", "failed", "activating", "deactivating", "maintenance", "refreshing"])

/** Unknown when systemctl says there is no systemd (a container, WSL, a non-systemd init) or no bus; else undefined. */
export const noSystemd = (o: Outcome): string | undefined => {
  const text = `${o.stderr}\n${o.stdout}`
  const hit = NO_SYSTEMD.find((r) => r.test(text))
  if (hit === undefined) return undefined
  const line = text.split("\n").find((l) => hit.test(l)) ?? ""
  return `systemctl cannot answer: ${line.trim()}`
}

const stateLine = (parser: string, o: Outcome): Effect.Effect<string | Check<never>, P.ParseError> => {
  const why = noSystemd(o)
  if (why !== undefined) return Effect.succeed(unknown(why))
  const all = P.lines(o.stdout).filter((l) => l.text.trim() !== "")
  if (all.length === 0) return Effect.succeed(unknown(`${parser}: no output (exit ${o.exitCode})${o.stderr.trim() ? `: ${o.stderr.trim().split("\n")[0]}` : ""}`))
  if (all.length > 1) return Effect.fail(P.at(parser, all[1]!.n, all[1]!.text, "expected one state line (ask for one unit)"))
  const s = all[0]!.text.trim()
  if (s === "unknown") return Effect.succeed(unknown(`${parser}: systemd answered 'unknown'`))
  if (!STATES.has(s)) return Effect.fail(P.at(parser, all[0]!.n, all[0]!.text, "expected a unit state (active, inactive, failed …)"))
  return Effect.succeed(s)
}

/**
 * Reads `systemctl is-active <unit>`: exit 0 and `active` (or `reloading`) → active; exit 3 (any
 * non-zero) and a state → not active (a unit that does not exist prints `inactive`). "System has
 * not been booted with systemd", no D-Bus, no systemctl, no output or `unknown` → Unknown. An exit
 * code that contradicts the state, or output that is not a state, fails with a ParseError.
 */
export const parseIsActive = (o: Outcome): Effect.Effect<Check<UnitState>, P.ParseError> =>
  Effect.flatMap(stateLine("systemctl is-active", o), (s) => {
    if (typeof s !== "string") return Effect.succeed(s)
    const active = s === "active" || s === "reloading" || s === "refreshing"
    if ((o.exitCode === 0) !== active) {
      return Effect.fail(P.at("systemctl is-active", 1, s, `exit code ${o.exitCode} contradicts the state`))
    }
    return Effect.succeed(known({ state: s, yes: active }))
  })

/**
 * Reads `systemctl is-failed <unit>`: exit 0 and `failed` → failed; exit 1 (any non-zero) and
 * another state → not failed. No systemd, no output or `unknown` → Unknown; a contradiction fails.
 */
export const parseIsFailed = (o: Outcome): Effect.Effect<Check<UnitState>, P.ParseError> =>
  Effect.flatMap(stateLine("systemctl is-failed", o), (s) => {
    if (typeof s !== "string") return Effect.succeed(s)
    const failed = s === "failed"
    if ((o.exitCode === 0) !== failed) {
      return Effect.fail(P.at("systemctl is-failed", 1, s, `exit code ${o.exitCode} contradicts the state`))
    }
    return Effect.succeed(known({ state: s, yes: failed }))
  })

/** Whether a unit exists: systemctl shows `LoadState=not-found` for a unit it does not know. */
export const exists = (u: UnitProperties): boolean => u.loadState !== undefined && u.loadState !== "not-found"

/**
 * Reads `systemctl show -p LoadState,ActiveState,NRestarts <unit>` (any properties, one unit):
 * Known(the unit), Known(undefined) when `LoadState=not-found` (no such unit: never "inactive"),
 * Unknown when there is no systemd or systemctl exited non-zero. Malformed output fails.
 */
export const parseUnit = (o: Outcome): Effect.Effect<Check<UnitProperties | undefined>, P.ParseError> => {
  const why = noSystemd(o)
  if (why !== undefined) return Effect.succeed(unknown(why))
  if (o.exitCode !== 0) return Effect.succeed(unknown(`systemctl show exited ${o.exitCode}${o.stderr.trim() ? `: ${o.stderr.trim().split("\n")[0]}` : ""}`))
  return Effect.map(parseShowOne(o.stdout), (u) => (exists(u) ? known(u) : known(undefined)))
}
