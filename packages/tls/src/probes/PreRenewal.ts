/**
 * The read-only checks made before a renewal (the `tls.expiry.threshold` runbook makes them at
 * diagnosis; any failed check escalates with no write). Each probe answers a {@link Result} and
 * never fails: an error while checking is a failed check (unknown is not safe).
 *
 * | probe | passes when |
 * |---|---|
 * | `names_resolve` | (http-01) every name resolves (A/AAAA) to one of the endpoint's addresses: the CA will reach the server that answers the challenge |
 * | `zone_owned` | (dns-01) the provider owns a zone of every `_acme-challenge` name (`DnsProvider.zoneOf`: longest suffix on a label boundary) |
 * | `caa` | CAA (RFC 8659, tree climbing, `issue` / `issuewild`) permits the CA for every name |
 * | `acm_cnames` | every validation CNAME of an AMAZON_ISSUED ACM certificate is in the DNS (`Acm.missingValidation`) |
 * | `txt_visible` | a TXT value is answered by the nameservers (`DnsProvider.waitVisible`): the dns-01 renewers (acme-client, certbot's hook) wait for it before answering the challenge |
 *
 * @since 0.1.0
 */
import * as net from "node:net"
import { Effect } from "effect"
import * as Acm from "../acm/Acm"
import * as DnsProvider from "../dns/DnsProvider"
import * as Caa from "./Caa"

/** Probe names. */
export type Probe = "names_resolve" | "zone_owned" | "caa" | "acm_cnames" | "txt_visible"

/** One check's answer. */
export interface Result {
  readonly probe: Probe
  readonly ok: boolean
  readonly detail: string
}

const result = (probe: Probe, ok: boolean, detail: string): Result => ({ probe, ok, detail })
const errText = (e: unknown) => (e instanceof Error ? e.message : typeof e === "object" && e !== null && "message" in e ? String((e as { message: unknown }).message) : String(e))

/**
 * `names_resolve`: each name's A/AAAA answers include one of `addresses` (the endpoint's public
 * addresses; a host name among them is resolved too). Wildcards are skipped (never http-01).
 */
export const namesResolve = (resolver: Caa.Resolver, names: ReadonlyArray<string>, addresses: ReadonlyArray<string>): Effect.Effect<Result> =>
  Effect.gen(function*() {
    const expected = new Set<string>()
    for (const a of addresses) {
      if (net.isIP(a) !== 0) expected.add(a)
      else for (const x of yield* Effect.promise(() => resolver.addresses(a).catch(() => [] as ReadonlyArray<string>))) expected.add(x)
    }
    const wrong: Array<string> = []
    for (const name of names.filter((n) => !n.startsWith("*."))) {
      const got = yield* Effect.promise(() => resolver.addresses(name).then((a) => ({ a }), (e: unknown) => ({ e: errText(e) })))
      if ("e" in got) wrong.push(`${name}: lookup failed (${got.e})`)
      else if (got.a.length === 0) wrong.push(`${name}: no A/AAAA record`)
      else if (!got.a.some((x) => expected.has(x))) wrong.push(`${name} → ${got.a.join(", ")}`)
    }
    return wrong.length === 0
      ? result("names_resolve", true, `${names.join(", ")} resolve to ${[...expected].join(", ")}`)
      : result("names_resolve", false, `not resolving to the endpoint (${[...expected].join(", ") || "no address"}): ${wrong.join("; ")}`)
  })

/** `zone_owned`: the provider owns a zone of every name's `_acme-challenge` record (read-only). */
export const zoneOwned = (provider: DnsProvider.DnsProvider, names: ReadonlyArray<string>): Effect.Effect<Result> =>
  Effect.gen(function*() {
    const zones: Array<string> = []
    for (const name of names) {
      const z = yield* Effect.result(DnsProvider.zoneOf(provider, DnsProvider.challengeName(name)))
      if (z._tag === "Failure") return result("zone_owned", false, `${provider.kind}: ${errText(z.failure)}`)
      zones.push(`${name} in ${z.success.name}`)
    }
    return result("zone_owned", true, `${provider.kind}: ${zones.join(", ")}`)
  })

/** `caa`: CAA permits one of `identities` (the CA's issuer domain names) for every name. */
export const caa = (resolver: Caa.Resolver, names: ReadonlyArray<string>, identities: ReadonlyArray<string>): Effect.Effect<Result> =>
  Effect.gen(function*() {
    const decisions: Array<Caa.Decision> = []
    for (const name of names) {
      const d = yield* Effect.result(Caa.check(resolver, name, identities))
      if (d._tag === "Failure") return result("caa", false, `${name}: ${d.failure.message}`)
      decisions.push(d.success)
    }
    const refused = decisions.filter((d) => !d.permitted)
    return refused.length === 0
      ? result("caa", true, decisions.map((d) => `${d.name}: ${d.reason}`).join("; "))
      : result("caa", false, refused.map((d) => `${d.name}: ${d.reason}`).join("; "))
  })

/** `acm_cnames`: every validation CNAME is in place (read-only). */
export const acmCnames = (facts: Pick<Acm.Facts, "validation" | "arn">, dns: Acm.ValidationDns): Effect.Effect<Result> =>
  Effect.map(Effect.result(Acm.missingValidation(facts, dns)), (r) =>
    r._tag === "Failure"
      ? result("acm_cnames", false, `${facts.arn}: ${r.failure.message}`)
      : r.success.length === 0
      ? result("acm_cnames", true, `${facts.validation.length} validation CNAME(s) of ${facts.arn} in place`)
      : result("acm_cnames", false, `${facts.arn}: missing validation CNAME(s) ${r.success.map((v) => `${v.name} → ${v.value}`).join(", ")}`))

/** `txt_visible`: the TXT value is answered by the nameservers within the budget (`DnsProvider.waitVisible`). */
export const txtVisible = (name: string, value: string, options: DnsProvider.VisibleOptions = {}): Effect.Effect<Result> =>
  Effect.map(Effect.result(DnsProvider.waitVisible(name, value, options)), (r) =>
    r._tag === "Failure" ? result("txt_visible", false, r.failure.message) : result("txt_visible", true, `TXT ${DnsProvider.normalize(name)} visible`))
