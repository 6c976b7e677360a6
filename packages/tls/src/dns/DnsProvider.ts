/**
 * DNS-01 through a DNS provider's API: one `DnsProvider` interface (list the zones the account
 * owns, add or remove one TXT value, each change waited for on the provider's side), and the
 * operations every renewer uses on it:
 *   - {@link findZone}: the owned zone of a name = the longest zone name that is a suffix of it on
 *     a label boundary (`notexample.com` is not in `example.com`);
 *   - {@link upsertTxt} / {@link deleteTxt}: refuse a name in no owned zone with
 *     {@link DnsZoneNotOwned} before any write, then add or remove the value (other values of the
 *     same name are kept: a wildcard and its apex share `_acme-challenge.<apex>`);
 *   - {@link waitVisible}: until the value is answered by the given nameservers (real DNS queries).
 *
 * Providers: Route53 (`Route53.make`), Cloudflare v4 (`Cloudflare.make`), Cloud DNS v1
 * (`CloudDns.make`).
 *
 * @since 0.1.0
 */
import { Resolver } from "node:dns/promises"
import { Effect, Schema } from "effect"

/** A zone the provider's account owns. `name` is lowercase without the trailing dot. */
export interface Zone {
  readonly id: string
  readonly name: string
}

/** One DNS provider. Names are absolute, lowercase, without the trailing dot. */
export interface DnsProvider {
  /** `route53`, `cloudflare`, `clouddns`. */
  readonly kind: string
  /** The zones the account owns (public and private as the API lists them). */
  readonly listZones: Effect.Effect<ReadonlyArray<Zone>, DnsError>
  /** The TXT values of `name` in `zone` (unquoted). */
  readonly getTxt: (zone: Zone, name: string) => Effect.Effect<ReadonlyArray<string>, DnsError>
  /** Adds `value` to the TXT set of `name` (kept values stay), then waits until the provider applied it (Route53: GetChange INSYNC). */
  readonly addTxt: (zone: Zone, name: string, value: string, ttl: number) => Effect.Effect<void, DnsError>
  /** Removes `value` from the TXT set of `name` (the record goes when it was the last). */
  readonly removeTxt: (zone: Zone, name: string, value: string) => Effect.Effect<void, DnsError>
}

/** No zone of the provider's account contains the name: nothing was written. */
export class DnsZoneNotOwned extends Schema.TaggedError<DnsZoneNotOwned>()("DnsZoneNotOwned", {
  provider: Schema.String,
  name: Schema.String,
  message: Schema.String,
  /** The zones the account does own. */
  zones: Schema.Array(Schema.String)
}) {}

/** The provider's API failed (HTTP status, API error code). Messages never carry credentials. */
export class DnsProviderError extends Schema.TaggedError<DnsProviderError>()("DnsProviderError", {
  provider: Schema.String,
  message: Schema.String,
  status: Schema.optional(Schema.Number)
}) {}

/** The TXT value was not visible at the nameservers in time. */
export class DnsNotVisible extends Schema.TaggedError<DnsNotVisible>()("DnsNotVisible", {
  name: Schema.String,
  message: Schema.String,
  nameservers: Schema.Array(Schema.String)
}) {}

/** Any DNS-01 error. */
export type DnsError = DnsZoneNotOwned | DnsProviderError | DnsNotVisible

/** Lowercase, no trailing dot. */
export const normalize = (name: string): string => name.trim().toLowerCase().replace(/\.+$/, "")

/** True when `name` is `zone` or below it on a label boundary (`a.example.com` in `example.com`; `notexample.com` is not). */
export const inZone = (name: string, zone: string): boolean => {
  const n = normalize(name)
  const z = normalize(zone)
  return z !== "" && (n === z || n.endsWith(`.${z}`))
}

/** The owned zone of `name`: the longest zone name that contains it on a label boundary. */
export const findZone = (zones: ReadonlyArray<Zone>, name: string): Zone | undefined => {
  let best: Zone | undefined
  for (const z of zones) {
    if (inZone(name, z.name) && (best === undefined || normalize(z.name).length > normalize(best.name).length)) best = z
  }
  return best
}

/** The dns-01 record name of a domain: `_acme-challenge.<domain>` (a wildcard's `*.` dropped). */
export const challengeName = (domain: string): string => `_acme-challenge.${normalize(domain).replace(/^\*\./, "")}`

/** The owned zone of `name`, or {@link DnsZoneNotOwned} (nothing is written either way). */
export const zoneOf = (provider: DnsProvider, name: string) =>
  Effect.gen(function*() {
    const zones = yield* provider.listZones
    const zone = findZone(zones, name)
    if (zone === undefined) {
      return yield* new DnsZoneNotOwned({
        provider: provider.kind,
        name: normalize(name),
        zones: zones.map((z) => z.name),
        message: `${provider.kind}: no owned zone contains ${normalize(name)} (owned: ${zones.map((z) => z.name).join(", ") || "none"}); nothing was written`
      })
    }
    return zone
  })

/** Adds a TXT value after checking the zone is owned (refused before any write otherwise). */
export const upsertTxt = (provider: DnsProvider, name: string, value: string, options: { readonly ttl?: number } = {}) =>
  Effect.gen(function*() {
    const zone = yield* zoneOf(provider, name)
    yield* provider.addTxt(zone, normalize(name), value, options.ttl ?? 60)
    return zone
  })

/** Removes a TXT value (the zone checked the same way). */
export const deleteTxt = (provider: DnsProvider, name: string, value: string) =>
  Effect.gen(function*() {
    const zone = yield* zoneOf(provider, name)
    yield* provider.removeTxt(zone, normalize(name), value)
  })

/** Options of {@link waitVisible}. */
export interface VisibleOptions {
  /** `host:port` nameservers to ask (default: the system's). */
  readonly nameservers?: ReadonlyArray<string>
  /** Default 60 s (real time). */
  readonly timeoutMillis?: number
  /** Default 250 ms. */
  readonly intervalMillis?: number
}

/** Waits until every nameserver answers `value` among the TXT records of `name`. */
export const waitVisible = (name: string, value: string, options: VisibleOptions = {}) =>
  Effect.gen(function*() {
    const servers = options.nameservers ?? []
    const resolver = new Resolver({ timeout: 2_000, tries: 1 })
    if (servers.length > 0) resolver.setServers([...servers])
    const deadline = Date.now() + (options.timeoutMillis ?? 60_000)
    for (;;) {
      const records = yield* Effect.promise(() => resolver.resolveTxt(normalize(name)).catch((): Array<Array<string>> => []))
      if (records.some((chunks) => chunks.join("") === value)) return
      if (Date.now() > deadline) {
        return yield* new DnsNotVisible({
          name: normalize(name),
          nameservers: [...servers],
          message: `TXT ${normalize(name)} not visible at ${servers.join(", ") || "the system resolvers"} after ${options.timeoutMillis ?? 60_000} ms`
        })
      }
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, options.intervalMillis ?? 250)))
    }
  })
