/**
 * CAA (RFC 8659): may a CA issue for a name? The relevant RRset is found by climbing the tree —
 * the name's own CAA records, else its parent's, up to the top-level domain; the first non-empty
 * RRset is the relevant one, and an empty tree permits any CA. In the relevant RRset:
 *   - a wildcard (`*.example.com`) is checked against `issuewild` when the set has any, else
 *     against `issue`; any other name against `issue`;
 *   - when the set holds no such property at all (only `iodef`, or tags this code does not know),
 *     CAA does not restrict issuance;
 *   - an unknown tag with the critical flag (128) forbids issuance;
 *   - a property value is `issuer-domain-name [; parameters]`; an empty issuer (`;`) names no CA.
 * Issuer domain names compare case-insensitively, without a trailing dot.
 *
 * The DNS is read through a {@link Resolver} (injectable: tests use a loopback DNS server).
 *
 * @since 0.1.0
 */
import { Resolver as DnsResolver } from "node:dns/promises"
import { Effect } from "effect"

/** One CAA record. */
export interface Record {
  /** The flags byte (128: critical). */
  readonly flags: number
  readonly tag: string
  readonly value: string
}

/** The DNS lookups the probes need (addresses and CAA). Answers for names with no data are empty. */
export interface Resolver {
  /** A and AAAA addresses of a name. */
  readonly addresses: (name: string) => Promise<ReadonlyArray<string>>
  /** The CAA records at exactly this name (no climbing). */
  readonly caa: (name: string) => Promise<ReadonlyArray<Record>>
}

const NO_DATA = new Set(["ENODATA", "ENOTFOUND", "NOTFOUND", "ENONAME"])
const orEmpty = <A>(p: Promise<ReadonlyArray<A>>): Promise<ReadonlyArray<A>> =>
  p.catch((e: NodeJS.ErrnoException) => {
    if (NO_DATA.has(e?.code ?? "")) return []
    throw e
  })

/** A resolver over node's `dns/promises` (`nameservers` as `host:port`; default the system's). */
export const system = (options: { readonly nameservers?: ReadonlyArray<string>; readonly timeoutMillis?: number } = {}): Resolver => {
  const r = new DnsResolver({ timeout: options.timeoutMillis ?? 2_000, tries: 2 })
  if (options.nameservers !== undefined && options.nameservers.length > 0) r.setServers([...options.nameservers])
  return {
    addresses: async (name) => [...(await orEmpty(r.resolve4(name))), ...(await orEmpty(r.resolve6(name)))],
    caa: async (name) =>
      (await orEmpty(r.resolveCaa(name))).flatMap((rec) => {
        const { critical, ...props } = rec as unknown as { critical: number } & { [tag: string]: string }
        return Object.entries(props).map(([tag, value]) => ({ flags: critical, tag: tag.toLowerCase(), value: String(value) }))
      })
  }
}

const norm = (s: string) => s.trim().toLowerCase().replace(/\.+$/, "")

/** The names the climb visits: the name (a wildcard's `*.` dropped), then each parent down to the TLD. */
export const climb = (name: string): ReadonlyArray<string> => {
  const labels = norm(name).replace(/^\*\./, "").split(".").filter((l) => l !== "")
  return labels.map((_, i) => labels.slice(i).join("."))
}

/** The issuer domain name of an `issue` / `issuewild` value (`""` for `;`: no CA). */
export const issuerOf = (value: string): string => norm(value.split(";")[0] ?? "")

/** The verdict for one name. */
export interface Decision {
  readonly name: string
  readonly permitted: boolean
  /** Where the relevant RRset was found (undefined: nowhere in the tree). */
  readonly relevantAt: string | undefined
  readonly records: ReadonlyArray<Record>
  readonly reason: string
}

/** Pure: does the relevant RRset (found at `at`) permit one of `identities` to issue for `name`? */
export const decide = (name: string, at: string | undefined, records: ReadonlyArray<Record>, identities: ReadonlyArray<string>): Decision => {
  const base = { name, relevantAt: at, records }
  if (at === undefined || records.length === 0) return { ...base, permitted: true, reason: "no CAA records in the tree" }
  const critical = records.find((r) => (r.flags & 128) !== 0 && !["issue", "issuewild", "iodef", "contactemail", "contactphone", "issuemail", "issuevmc"].includes(r.tag.toLowerCase()))
  if (critical !== undefined) return { ...base, permitted: false, reason: `CAA at ${at} has the unknown critical tag ${critical.tag}` }
  const wildcard = norm(name).startsWith("*.")
  const wild = records.filter((r) => r.tag.toLowerCase() === "issuewild")
  const issue = records.filter((r) => r.tag.toLowerCase() === "issue")
  const relevant = wildcard && wild.length > 0 ? wild : issue
  const tag = wildcard && wild.length > 0 ? "issuewild" : "issue"
  if (relevant.length === 0) return { ...base, permitted: true, reason: `CAA at ${at} has no ${tag} property: not restricted` }
  const ids = identities.map(norm)
  const allowed = relevant.map((r) => issuerOf(r.value)).filter((i) => i !== "")
  const match = allowed.find((i) => ids.includes(i))
  return match !== undefined
    ? { ...base, permitted: true, reason: `CAA ${tag} at ${at} permits ${match}` }
    : { ...base, permitted: false, reason: `CAA ${tag} at ${at} permits ${allowed.length > 0 ? allowed.join(", ") : "no CA"}, not ${ids.join(" / ") || "(no CA identity configured)"}` }
}

/** Finds the relevant RRset by climbing the tree and decides (a DNS error fails: unknown is not permitted). */
export const check = (resolver: Resolver, name: string, identities: ReadonlyArray<string>): Effect.Effect<Decision, Error> =>
  Effect.gen(function*() {
    for (const at of climb(name)) {
      const records = yield* Effect.tryPromise({ try: () => resolver.caa(at), catch: (e) => new Error(`CAA lookup of ${at} failed: ${(e as NodeJS.ErrnoException)?.code ?? String(e)}`) })
      if (records.length > 0) return decide(name, at, records, identities)
    }
    return decide(name, undefined, [], identities)
  })
