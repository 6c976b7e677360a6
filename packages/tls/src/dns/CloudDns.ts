/**
 * Google Cloud DNS (API v1) as a {@link DnsProvider.DnsProvider}, with `fetch`: zones from
 * `GET projects/:p/managedZones` (or configured; the zone id is the managed zone's `name`), the
 * TXT rrset from `GET …/rrsets?name=&type=TXT`, written by a change (`POST …/changes` with the old
 * rrset in `deletions` and the new one in `additions`, so a concurrent edit fails instead of being
 * lost), then `GET …/changes/:id` polled until `done`. The OAuth access token is supplied by the
 * caller (metadata server, workload identity, `gcloud auth print-access-token` …): BytePort does
 * not mint it.
 *
 * @since 0.1.0
 */
import { Effect, Redacted } from "effect"
import * as DnsProvider from "./DnsProvider"

/** Options of {@link make}. */
export interface Options {
  readonly project: string
  /** The access token, or an effect that yields a fresh one per request. */
  readonly accessToken: Redacted.Redacted<string> | Effect.Effect<Redacted.Redacted<string>, DnsProvider.DnsProviderError>
  /** Default `https://dns.googleapis.com/dns/v1`. */
  readonly baseUrl?: string
  /** The owned zones (`id` = managed zone name), when configured (then `managedZones` is never listed). */
  readonly zones?: ReadonlyArray<DnsProvider.Zone>
  /** Change poll interval (default 1 s) and budget (default 120 s), real time. */
  readonly pollIntervalMillis?: number
  readonly syncTimeoutMillis?: number
  readonly fetch?: typeof globalThis.fetch
}

interface RRSet {
  readonly kind?: string
  readonly name: string
  readonly type: string
  readonly ttl: number
  readonly rrdatas: ReadonlyArray<string>
}

const quote = (value: string): string => `"${value}"`
const unquote = (value: string): string => {
  const chunks = [...value.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? "")
  return chunks.length > 0 ? chunks.join("") : value
}

/** Cloud DNS v1. */
export const make = (options: Options): DnsProvider.DnsProvider => {
  const base = `${(options.baseUrl ?? "https://dns.googleapis.com/dns/v1").replace(/\/+$/, "")}/projects/${encodeURIComponent(options.project)}`
  const doFetch = options.fetch ?? globalThis.fetch
  const token = Redacted.isRedacted(options.accessToken)
    ? Effect.succeed(options.accessToken as Redacted.Redacted<string>)
    : options.accessToken as Effect.Effect<Redacted.Redacted<string>, DnsProvider.DnsProviderError>
  const api = <A>(method: string, path: string, body?: unknown) =>
    Effect.gen(function*() {
      const t = yield* token
      const res = yield* Effect.tryPromise({
        try: () =>
          doFetch(`${base}${path}`, {
            method,
            headers: { authorization: `Bearer ${Redacted.value(t)}`, "content-type": "application/json" },
            ...(body === undefined ? {} : { body: JSON.stringify(body) })
          }),
        catch: (e) => new DnsProvider.DnsProviderError({ provider: "clouddns", message: `clouddns ${method} ${path}: ${e instanceof Error ? e.message : String(e)}` })
      })
      const json = (yield* Effect.promise(() => res.json().catch(() => undefined))) as (A & { readonly error?: { readonly message?: string } }) | undefined
      if (!res.ok || json === undefined) {
        return yield* new DnsProvider.DnsProviderError({ provider: "clouddns", status: res.status, message: `clouddns ${method} ${path}: HTTP ${res.status}${json?.error?.message === undefined ? "" : ` (${json.error.message})`}` })
      }
      return json as A
    })

  const listZones: Effect.Effect<ReadonlyArray<DnsProvider.Zone>, DnsProvider.DnsError> = options.zones !== undefined
    ? Effect.succeed(options.zones.map((z) => ({ id: z.id, name: DnsProvider.normalize(z.name) })))
    : Effect.gen(function*() {
      const zones: Array<DnsProvider.Zone> = []
      let pageToken: string | undefined
      for (let page = 0; page < 100; page++) {
        const r = yield* api<{ readonly managedZones?: ReadonlyArray<{ readonly name: string; readonly dnsName: string }>; readonly nextPageToken?: string }>(
          "GET",
          `/managedZones${pageToken === undefined ? "" : `?pageToken=${encodeURIComponent(pageToken)}`}`
        )
        for (const z of r.managedZones ?? []) zones.push({ id: z.name, name: DnsProvider.normalize(z.dnsName) })
        if (r.nextPageToken === undefined) break
        pageToken = r.nextPageToken
      }
      return zones
    })

  const current = (zone: DnsProvider.Zone, name: string) =>
    Effect.map(
      api<{ readonly rrsets?: ReadonlyArray<RRSet> }>("GET", `/managedZones/${encodeURIComponent(zone.id)}/rrsets?name=${encodeURIComponent(`${name}.`)}&type=TXT`),
      (r) => (r.rrsets ?? []).find((s) => s.type === "TXT" && DnsProvider.normalize(s.name) === name)
    )

  const change = (zone: DnsProvider.Zone, deletions: ReadonlyArray<RRSet>, additions: ReadonlyArray<RRSet>) =>
    Effect.gen(function*() {
      const path = `/managedZones/${encodeURIComponent(zone.id)}/changes`
      let c = yield* api<{ readonly id: string; readonly status: string }>("POST", path, { kind: "dns#change", deletions, additions })
      const deadline = Date.now() + (options.syncTimeoutMillis ?? 120_000)
      while (c.status !== "done") {
        if (Date.now() > deadline) {
          return yield* new DnsProvider.DnsProviderError({ provider: "clouddns", message: `clouddns change ${c.id} still ${c.status} after ${options.syncTimeoutMillis ?? 120_000} ms` })
        }
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, options.pollIntervalMillis ?? 1_000)))
        c = yield* api<{ readonly id: string; readonly status: string }>("GET", `${path}/${encodeURIComponent(c.id)}`)
      }
    })

  const rrset = (name: string, ttl: number, values: ReadonlyArray<string>): RRSet => ({ kind: "dns#resourceRecordSet", name: `${name}.`, type: "TXT", ttl, rrdatas: values.map(quote) })

  return {
    kind: "clouddns",
    listZones,
    getTxt: (zone, name) => Effect.map(current(zone, DnsProvider.normalize(name)), (s) => (s?.rrdatas ?? []).map(unquote)),
    addTxt: (zone, name, value, ttl) =>
      Effect.gen(function*() {
        const n = DnsProvider.normalize(name)
        const old = yield* current(zone, n)
        const values = (old?.rrdatas ?? []).map(unquote)
        if (values.includes(value)) return
        yield* change(zone, old === undefined ? [] : [old], [rrset(n, old?.ttl ?? ttl, [...values, value])])
      }),
    removeTxt: (zone, name, value) =>
      Effect.gen(function*() {
        const n = DnsProvider.normalize(name)
        const old = yield* current(zone, n)
        if (old === undefined) return
        const rest = old.rrdatas.map(unquote).filter((v) => v !== value)
        if (rest.length === old.rrdatas.length) return
        yield* change(zone, [old], rest.length === 0 ? [] : [rrset(n, old.ttl, rest)])
      })
  }
}
