/**
 * Pre/post snapshots of a certificate endpoint, and their diff: what the handshake served (chain,
 * notAfter, SANs, the OCSP staple), the SHA-256 of the files the server reads (certificate, key,
 * configuration) and, where the certificate lives elsewhere, its ACM facts or its cert-manager
 * Certificate's revision. The `tls.expiry.threshold` runbook takes one at diagnosis and one when
 * the incident closes, and reports both with the diff. Read-only; files are hashed, never copied,
 * so no key material is ever part of a snapshot.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import type { Json } from "@byteport/core"
import { Clock, Effect } from "effect"
import * as Inspection from "../Inspection"

/** A snapshot (JSON). */
export interface Snapshot {
  readonly at: number
  /** The handshake's view; undefined when no endpoint was configured, `{ error }` when it failed. */
  readonly served?: {
    /** Leaf first, then the rest of the served chain. */
    readonly chain: ReadonlyArray<{ readonly subject: string; readonly issuer: string; readonly serial: string; readonly fingerprint256: string; readonly notAfter: string }>
    readonly notAfter: string
    readonly sans: ReadonlyArray<string>
    readonly chainValid: boolean
    /** `good`, `none` (no staple), or `bad: <problems>`. */
    readonly staple: string
  } | { readonly error: string }
  /** SHA-256 (hex) of each file; null when unreadable. */
  readonly files: Readonly<Record<string, string | null>>
  /** Anything else the path knows (ACM NotAfter, cert-manager revision …). */
  readonly extra: Readonly<Record<string, Json.Json>>
}

/** What to snapshot. */
export interface Input {
  readonly endpoint?: Inspection.Options
  /** Certificate, key and configuration files (hashed). */
  readonly files?: ReadonlyArray<string>
  readonly extra?: Effect.Effect<Readonly<Record<string, Json.Json>>>
}

/** SHA-256 (hex) of a file, null when it cannot be read. */
export const hashFile = (path: string): string | null => {
  try {
    return createHash("sha256").update(fs.readFileSync(path)).digest("hex")
  } catch {
    return null
  }
}

const iso = (ms: number) => new Date(ms).toISOString()

/** Pure: the `served` part of a snapshot from an inspection. */
export const servedOf = (i: Inspection.Inspection): NonNullable<Snapshot["served"]> => ({
  chain: [i.leaf, ...i.chain].map((c) => ({ subject: c.subjectCN ?? "", issuer: c.issuerCN ?? c.issuerO ?? "", serial: c.serial, fingerprint256: c.fingerprint256, notAfter: iso(c.notAfter) })),
  notAfter: iso(i.leaf.notAfter),
  sans: [...i.leaf.dnsNames, ...i.leaf.ipAddresses],
  chainValid: i.verdict.valid,
  staple: i.stapleCheck === undefined ? "none" : i.stapleCheck.good ? "good" : `bad: ${i.stapleCheck.problems.join(", ")}`
})

/** Takes a snapshot (never fails: what cannot be read is recorded as such). */
export const take = (input: Input): Effect.Effect<Snapshot> =>
  Effect.gen(function*() {
    const at = yield* Clock.currentTimeMillis
    const served = input.endpoint === undefined
      ? undefined
      : yield* Inspection.inspect(input.endpoint).pipe(
        Effect.map(servedOf),
        Effect.catch((e) => Effect.succeed({ error: e.message }))
      )
    const files = Object.fromEntries((input.files ?? []).map((f) => [f, hashFile(f)]))
    const extra = input.extra === undefined ? {} : yield* input.extra
    return { at, ...(served !== undefined ? { served } : {}), files, extra }
  })

/** One changed field. */
export interface Change {
  readonly field: string
  readonly before: Json.Json
  readonly after: Json.Json
}

const flatten = (s: Snapshot): Record<string, Json.Json> => {
  const out: Record<string, Json.Json> = {}
  const served = s.served
  if (served !== undefined && "error" in served) out["served.error"] = served.error
  else if (served !== undefined) {
    out["served.leaf"] = served.chain[0]?.fingerprint256 ?? null
    out["served.chain"] = served.chain.map((c) => c.fingerprint256).join(" > ")
    out["served.notAfter"] = served.notAfter
    out["served.sans"] = [...served.sans].sort().join(", ")
    out["served.chainValid"] = served.chainValid
    out["served.staple"] = served.staple
  }
  for (const [f, h] of Object.entries(s.files)) out[`file:${f}`] = h
  for (const [k, v] of Object.entries(s.extra)) out[k] = v
  return out
}

/** Pure: the fields that differ between two snapshots (a field present on one side only counts, as null on the other). */
export const diff = (before: Snapshot, after: Snapshot): ReadonlyArray<Change> => {
  const a = flatten(before)
  const b = flatten(after)
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
  return keys.flatMap((field) => {
    const x = a[field] ?? null
    const y = b[field] ?? null
    return JSON.stringify(x) === JSON.stringify(y) ? [] : [{ field, before: x, after: y }]
  })
}
