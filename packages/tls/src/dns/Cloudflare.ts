/**
 * Cloudflare (API v4) as a {@link DnsProvider.DnsProvider}, with `fetch`: zones from
 * `GET /zones` (or configured), TXT records from `GET /zones/:id/dns_records?type=TXT&name=`,
 * one record per value (`POST`, `DELETE /zones/:id/dns_records/:record`). Changes apply at once
 * (the API answers after the edge has the record). Token: `Authorization: Bearer` (never logged).
 *
 * @since 0.1.0
 */
import { Effect, Redacted } from "effect"
import * as DnsProvider from "./DnsProvider"

/** Options of {@link make}. */
export interface Options {
  /** An API token with Zone:DNS:Edit. */
  readonly apiToken: Redacted.Redacted<string>
  /** Default `https://api.cloudflare.com/client/v4`. */
  readonly baseUrl?: string
  /** The owned zones, when configured (then `GET /zones` is never called). */
  readonly zones?: ReadonlyArray<DnsProvider.Zone>
  /** `fetch` to use (default the global one). */
  readonly fetch?: typeof globalThis.fetch
}

interface Envelope<A> {
  readonly success: boolean
  readonly errors?: ReadonlyArray<{ readonly code?: number; readonly message?: string }>
  readonly result: A
  readonly result_info?: { readonly page?: number; readonly total_pages?: number }
}

interface DnsRecord {
  readonly id: string
  readonly type: string
  readonly name: string
  readonly content: string
}

/** Cloudflare returns TXT content quoted (`"value"`) or bare, depending on the record's age. */
const unquote = (content: string): string => /^".*"$/s.test(content) ? content.slice(1, -1) : content

/** Cloudflare v4. */
export const make = (options: Options): DnsProvider.DnsProvider => {
  const base = (options.baseUrl ?? "https://api.cloudflare.com/client/v4").replace(/\/+$/, "")
  const doFetch = options.fetch ?? globalThis.fetch
  const api = <A>(method: string, path: string, body?: unknown) =>
    Effect.gen(function*() {
      const res = yield* Effect.tryPromise({
        try: () =>
          doFetch(`${base}${path}`, {
            method,
            headers: { authorization: `Bearer ${Redacted.value(options.apiToken)}`, "content-type": "application/json" },
            ...(body === undefined ? {} : { body: JSON.stringify(body) })
          }),
        catch: (e) => new DnsProvider.DnsProviderError({ provider: "cloudflare", message: `cloudflare ${method} ${path}: ${e instanceof Error ? e.message : String(e)}` })
      })
      const json = (yield* Effect.promise(() => res.json().catch(() => undefined))) as Envelope<A> | undefined
      if (!res.ok || json === undefined || json.success !== true) {
        const errors = (json?.errors ?? []).map((e) => `${e.code ?? ""} ${e.message ?? ""}`.trim()).join("; ")
        return yield* new DnsProvider.DnsProviderError({ provider: "cloudflare", status: res.status, message: `cloudflare ${method} ${path}: HTTP ${res.status}${errors === "" ? "" : ` (${errors})`}` })
      }
      return json
    })

  const listZones: Effect.Effect<ReadonlyArray<DnsProvider.Zone>, DnsProvider.DnsError> = options.zones !== undefined
    ? Effect.succeed(options.zones.map((z) => ({ id: z.id, name: DnsProvider.normalize(z.name) })))
    : Effect.gen(function*() {
      const zones: Array<DnsProvider.Zone> = []
      for (let page = 1; page <= 100; page++) {
        const r = yield* api<ReadonlyArray<{ readonly id: string; readonly name: string }>>("GET", `/zones?per_page=50&page=${page}`)
        for (const z of r.result) zones.push({ id: z.id, name: DnsProvider.normalize(z.name) })
        if ((r.result_info?.total_pages ?? 1) <= page) break
      }
      return zones
    })

  const records = (zone: DnsProvider.Zone, name: string) =>
    Effect.map(
      api<ReadonlyArray<DnsRecord>>("GET", `/zones/${encodeURIComponent(zone.id)}/dns_records?type=TXT&name=${encodeURIComponent(name)}&per_page=100`),
      (r) => r.result.filter((rec) => rec.type === "TXT" && DnsProvider.normalize(rec.name) === name)
    )

  return {
    kind: "cloudflare",
    listZones,
    getTxt: (zone, name) => Effect.map(records(zone, DnsProvider.normalize(name)), (rs) => rs.map((r) => unquote(r.content))),
    addTxt: (zone, name, value, ttl) =>
      Effect.gen(function*() {
        const n = DnsProvider.normalize(name)
        const existing = yield* records(zone, n)
        if (existing.some((r) => unquote(r.content) === value)) return
        yield* api("POST", `/zones/${encodeURIComponent(zone.id)}/dns_records`, { type: "TXT", name: n, content: `"${value}"`, ttl })
      }),
    removeTxt: (zone, name, value) =>
      Effect.gen(function*() {
        const n = DnsProvider.normalize(name)
        for (const r of yield* records(zone, n)) {
          if (unquote(r.content) === value) yield* api("DELETE", `/zones/${encodeURIComponent(zone.id)}/dns_records/${encodeURIComponent(r.id)}`)
        }
      })
  }
}
