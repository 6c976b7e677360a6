/**
 * Route53 as a {@link DnsProvider.DnsProvider}, through `@aws-sdk/client-route-53`: zones from
 * `ListHostedZones` (or configured), the TXT set read with `ListResourceRecordSets`, written with
 * `ChangeResourceRecordSets` (UPSERT of the whole set; DELETE of the exact set when the last value
 * goes), then `GetChange` polled from PENDING until INSYNC.
 *
 * @since 0.1.0
 */
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListHostedZonesCommand,
  ListResourceRecordSetsCommand,
  Route53Client
} from "@aws-sdk/client-route-53"
import type { Route53ClientConfig } from "@aws-sdk/client-route-53"
import { Effect } from "effect"
import * as DnsProvider from "./DnsProvider"

/** Options of {@link make}. */
export interface Options {
  /** The SDK client's configuration (region, credentials, `endpoint` …); default region `us-east-1`. */
  readonly client?: Route53ClientConfig
  /** An existing client (wins over `client`). */
  readonly route53?: Route53Client
  /** The owned zones, when configured (then `ListHostedZones` is never called). */
  readonly zones?: ReadonlyArray<DnsProvider.Zone>
  /** GetChange poll interval (default 2 s) and budget (default 120 s), real time. */
  readonly pollIntervalMillis?: number
  readonly syncTimeoutMillis?: number
}

const quote = (value: string): string => `"${value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"")}"`
/** A Route53 TXT value without its quotes (chunks joined). */
export const unquote = (value: string): string => {
  const chunks = [...value.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => (m[1] ?? "").replace(/\\(.)/g, "$1"))
  return chunks.length > 0 ? chunks.join("") : value
}
const bareId = (id: string): string => id.replace(/^\/(hostedzone|change)\//, "")

/** Route53. */
export const make = (options: Options = {}): DnsProvider.DnsProvider => {
  const client = options.route53 ?? new Route53Client({ region: "us-east-1", ...options.client })
  const call = <A>(what: string, f: () => Promise<A>) =>
    Effect.tryPromise({
      try: f,
      catch: (e) => {
        const err = e as { readonly name?: string; readonly message?: string; readonly $metadata?: { readonly httpStatusCode?: number } }
        const status = err.$metadata?.httpStatusCode
        return new DnsProvider.DnsProviderError({
          provider: "route53",
          message: `route53 ${what}: ${err.name ?? "Error"}: ${err.message ?? String(e)}`,
          ...(status === undefined ? {} : { status })
        })
      }
    })

  const listZones: Effect.Effect<ReadonlyArray<DnsProvider.Zone>, DnsProvider.DnsError> = options.zones !== undefined
    ? Effect.succeed(options.zones.map((z) => ({ id: bareId(z.id), name: DnsProvider.normalize(z.name) })))
    : Effect.gen(function*() {
      const zones: Array<DnsProvider.Zone> = []
      let marker: string | undefined
      for (let page = 0; page < 100; page++) {
        const r = yield* call("ListHostedZones", () => client.send(new ListHostedZonesCommand(marker === undefined ? {} : { Marker: marker })))
        for (const z of r.HostedZones ?? []) {
          if (z.Id !== undefined && z.Name !== undefined) zones.push({ id: bareId(z.Id), name: DnsProvider.normalize(z.Name) })
        }
        if (r.IsTruncated !== true || r.NextMarker === undefined) break
        marker = r.NextMarker
      }
      return zones
    })

  const current = (zone: DnsProvider.Zone, name: string) =>
    Effect.gen(function*() {
      const r = yield* call("ListResourceRecordSets", () =>
        client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone.id, StartRecordName: `${name}.`, StartRecordType: "TXT", MaxItems: 1 })))
      const set = (r.ResourceRecordSets ?? []).find((s) => s.Type === "TXT" && DnsProvider.normalize(s.Name ?? "") === name)
      return set === undefined ? undefined : { ttl: set.TTL ?? 60, values: (set.ResourceRecords ?? []).map((rr) => unquote(rr.Value ?? "")) }
    })

  const waitInSync = (changeId: string) =>
    Effect.gen(function*() {
      const deadline = Date.now() + (options.syncTimeoutMillis ?? 120_000)
      for (;;) {
        const r = yield* call("GetChange", () => client.send(new GetChangeCommand({ Id: changeId })))
        if (r.ChangeInfo?.Status === "INSYNC") return
        if (Date.now() > deadline) {
          return yield* new DnsProvider.DnsProviderError({ provider: "route53", message: `route53 change ${changeId} still ${r.ChangeInfo?.Status ?? "unknown"} after ${options.syncTimeoutMillis ?? 120_000} ms` })
        }
        yield* Effect.promise(() => new Promise((res) => setTimeout(res, options.pollIntervalMillis ?? 2_000)))
      }
    })

  const change = (zone: DnsProvider.Zone, action: "UPSERT" | "DELETE", name: string, ttl: number, values: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const r = yield* call("ChangeResourceRecordSets", () =>
        client.send(
          new ChangeResourceRecordSetsCommand({
            HostedZoneId: zone.id,
            ChangeBatch: {
              Comment: "byteport dns-01",
              Changes: [{ Action: action, ResourceRecordSet: { Name: `${name}.`, Type: "TXT", TTL: ttl, ResourceRecords: values.map((v) => ({ Value: quote(v) })) } }]
            }
          })
        ))
      const id = r.ChangeInfo?.Id
      if (id !== undefined) yield* waitInSync(bareId(id))
    })

  return {
    kind: "route53",
    listZones,
    getTxt: (zone, name) => Effect.map(current(zone, DnsProvider.normalize(name)), (s) => s?.values ?? []),
    addTxt: (zone, name, value, ttl) =>
      Effect.gen(function*() {
        const n = DnsProvider.normalize(name)
        const set = yield* current(zone, n)
        if (set?.values.includes(value) === true) return
        yield* change(zone, "UPSERT", n, set?.ttl ?? ttl, [...(set?.values ?? []), value])
      }),
    removeTxt: (zone, name, value) =>
      Effect.gen(function*() {
        const n = DnsProvider.normalize(name)
        const set = yield* current(zone, n)
        if (set === undefined || !set.values.includes(value)) return
        const rest = set.values.filter((v) => v !== value)
        // DELETE must name the exact set Route53 holds
        yield* rest.length === 0 ? change(zone, "DELETE", n, set.ttl, set.values) : change(zone, "UPSERT", n, set.ttl, rest)
      })
  }
}
