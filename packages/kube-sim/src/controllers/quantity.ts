/**
 * Kubernetes resource quantities ("500m", "1Gi", "2e3", "128974848") parsed to numbers and
 * formatted back the way the API and kubectl show them.
 */

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 }
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 }

/** A quantity string that does not parse. */
export class QuantityError extends Error {
  /** The offending input. */
  readonly input: string
  /** Build the error for `input`. */
  constructor(input: string) {
    super(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': ${JSON.stringify(input)}`)
    this.input = input
  }
}

/** Parse a quantity to its numeric value in base units (bytes, cores, …). */
export const parseQuantity = (q: string | number): number => {
  if (typeof q === "number") return q
  const m = /^([+-]?[0-9]*\.?[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$/.exec(q.trim())
  if (!m) throw new QuantityError(q)
  const n = Number(m[1])
  const suf = m[2] ?? ""
  if (suf in BINARY) return n * BINARY[suf]!
  if (suf in DECIMAL) return n * DECIMAL[suf]!
  if (/^[eE]/.test(suf)) return n * 10 ** Number(suf.slice(1))
  throw new QuantityError(q)
}

/** Parsed strings (quantities repeat across every pod of a workload), bounded. */
const parsed = new Map<string, number | undefined>()

/** Parse, returning undefined for absent or invalid input. */
export const tryQuantity = (q: unknown): number | undefined => {
  if (typeof q === "number") return q
  if (typeof q !== "string") return undefined
  if (parsed.has(q)) return parsed.get(q)
  let v: number | undefined
  try {
    v = parseQuantity(q)
  } catch {
    v = undefined
  }
  if (parsed.size >= 4096) parsed.clear()
  parsed.set(q, v)
  return v
}

/** Format bytes the way metrics-server does (Ki granularity). */
export const formatBytesKi = (bytes: number): string => `${Math.max(0, Math.round(bytes / 1024))}Ki`

/** Format bytes with the largest exact binary suffix ("1536Mi", "2Gi"). */
export const formatBytes = (bytes: number): string => {
  const b = Math.round(bytes)
  for (const [suf, mul] of [["Gi", 2 ** 30], ["Mi", 2 ** 20], ["Ki", 2 ** 10]] as const) {
    if (b !== 0 && b % mul === 0) return `${b / mul}${suf}`
  }
  return String(b)
}

/** Format cores as nanocores ("12345678n"), as metrics-server does. */
export const formatNanoCores = (cores: number): string => `${Math.max(0, Math.round(cores * 1e9))}n`

/** Format cores as millicores ("250m") or whole cores. */
export const formatMilli = (cores: number): string => {
  const m = Math.round(cores * 1000)
  return m % 1000 === 0 ? String(m / 1000) : `${m}m`
}

/** Resolve an intOrString ("25%" or 2) against a total, rounding up or down. */
export const intOrPercent = (v: unknown, total: number, roundUp: boolean, dflt: string | number): number => {
  const value = v === undefined || v === null ? dflt : v
  if (typeof value === "number") return value
  const m = /^(\d+)%$/.exec(String(value))
  if (m) {
    const x = (Number(m[1]) * total) / 100
    return roundUp ? Math.ceil(x) : Math.floor(x)
  }
  const n = Number(value)
  return Number.isFinite(n) ? n : 0
}
