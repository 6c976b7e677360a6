/**
 * Kubernetes resource quantities ("512Mi", "1.5Gi", "250m", "1e3") to numbers and back.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A quantity string that could not be parsed. */
export class InvalidQuantity extends Schema.TaggedError<InvalidQuantity>()("InvalidQuantity", {
  quantity: Schema.String,
  message: Schema.String
}) {}

const binary: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 }
const decimal: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 }

/** Parses a quantity to a number of base units (bytes for memory, cores for cpu); undefined when invalid. */
export const parse = (q: string | number | undefined | null): number | undefined => {
  if (q === undefined || q === null) return undefined
  if (typeof q === "number") return Number.isFinite(q) ? q : undefined
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/.exec(q.trim())
  if (!m) return undefined
  const n = Number(m[1]) * (m[2] ? Number(`1${m[2]}`) : 1)
  const suffix = m[3] ?? ""
  const factor = binary[suffix] ?? decimal[suffix]
  const v = factor === undefined ? undefined : n * factor
  // "1e999", 400 digits or "9e300Ei" overflow to Infinity: not a quantity the API holds
  return v !== undefined && Number.isFinite(v) ? v : undefined
}

/** Parses a quantity or fails with InvalidQuantity. */
export const parseOrFail = (q: string): number => {
  const n = parse(q)
  if (n === undefined) throw new InvalidQuantity({ quantity: q, message: `not a Kubernetes quantity: ${JSON.stringify(q)}` })
  return n
}

/** Formats bytes as the largest whole binary unit that divides them ("768Mi"), else plain bytes. */
export const formatBytes = (bytes: number): string => {
  const b = Math.round(bytes)
  for (const [suffix, f] of [["Gi", 2 ** 30], ["Mi", 2 ** 20], ["Ki", 2 ** 10]] as const) {
    if (b >= f && b % f === 0) return `${b / f}${suffix}`
  }
  return String(b)
}

/** Rounds bytes up to a whole MiB (limits are set in Mi). */
export const roundUpToMi = (bytes: number): number => Math.ceil(bytes / 2 ** 20) * 2 ** 20

/** Human-readable bytes for messages ("1.5 GiB"). */
export const humanBytes = (bytes: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let v = bytes
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`
}
