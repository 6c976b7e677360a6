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
