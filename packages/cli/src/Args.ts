/**
 * Argument parsing of the `byteport` command line: positionals and `--flag value` options,
 * durations such as `30m`, and the usage error every command raises on bad input.
 *
 * @since 0.1.0
 */
import { Duration } from "effect"

/** A usage error: the command line is malformed (each command documents its exit code for it). */
export class Usage extends Error {}

/** Parses `30m`, `2h`, `90s`, `1d`, `500ms` or an Effect duration ("30 minutes"). */
export const parseTtl = (text: string): Duration.Duration => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim())
  if (m) {
    const n = Number(m[1])
    const unit = { ms: "millis", s: "seconds", m: "minutes", h: "hours", d: "days" }[m[2] as "ms" | "s" | "m" | "h" | "d"]
    return Duration.fromInputUnsafe(`${n} ${unit}` as Duration.Input)
  }
  const d = Duration.fromInput(text as Duration.Input)
  if (d._tag === "None" || Duration.toMillis(d.value) <= 0) throw new Usage(`--ttl ${text}: expected a duration like 30m, 2h or 90s`)
  return d.value
}

/** The parsed command line: positionals, `--flag value` options and bare `--switch`es. */
export interface Parsed {
  readonly positionals: Array<string>
  readonly flags: Map<string, string>
  readonly switches: Set<string>
}

/**
 * Splits argv into positionals and `--flag value` options; the names in `switches` take no value
 * (`--json`). A flag given without a value is a usage error.
 */
export const parseArgs = (argv: ReadonlyArray<string>, switches: ReadonlyArray<string> = []): Parsed => {
  const positionals: Array<string> = []
  const flags = new Map<string, string>()
  const on = new Set<string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a.startsWith("--")) {
      const eq = a.indexOf("=")
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2)
      if (switches.includes(name) && eq < 0) {
        on.add(name)
        continue
      }
      if (eq > 0) flags.set(name, a.slice(eq + 1))
      else {
        const v = argv[i + 1]
        if (v === undefined || v.startsWith("--")) throw new Usage(`${a} needs a value`)
        flags.set(name, v)
        i++
      }
    } else positionals.push(a)
  }
  return { positionals, flags, switches: on }
}

/** Fails with a usage error naming the first option outside `allowed`. */
export const onlyFlags = (parsed: Parsed, allowed: ReadonlyArray<string>): void => {
  for (const k of parsed.flags.keys()) if (!allowed.includes(k)) throw new Usage(`unknown option --${k}`)
}
