/**
 * Classification facts and rules of the renewal path that need no server: is the issuer an ACME
 * CA (a configurable list: Let's Encrypt, ZeroSSL, Pebble in tests), does the certificate live in
 * a certbot live directory or an acme.sh home, is it a wildcard. The rules follow the seed's
 * first-match order for `tls.expiry.end-to-end` (the seed gives no confidences; these are ours,
 * each ≥ 0.70):
 *
 * | order | class | confidence | matches when |
 * |---|---|---|---|
 * | 1 | `wildcard_dns01_required` | 0.90 | a SAN is `*.…` and a DNS-01 provider is configured (without one: no match here; the runbook escalates, never http-01) |
 * | 2 | `acme_renewable` | 0.90 | the issuer is on the ACME list |
 * | 3 | `acme_renewable` | 0.85 | the certificate file is in a certbot live dir or an acme.sh home (an ACME client manages it, whatever the issuer says) |
 *
 * `cert_manager_managed` (needs the cluster) and `internal_ca` / `commercial_ca_manual` (need the
 * configured internal roots) come in a later increment.
 *
 * @since 0.1.0
 */
import { Classifier } from "@byteport/core"
import type * as Certificate from "../Certificate"

/** An ACME CA, recognised by its issuer O and/or a pattern of its issuer CN. */
export interface AcmeIssuer {
  /** A display name ("Let's Encrypt"). */
  readonly name: string
  /** Issuer O, exact (case-insensitive). */
  readonly organization?: string
  /** Issuer CN pattern. */
  readonly commonName?: RegExp
}

/** The default ACME list: Let's Encrypt, ZeroSSL and Pebble (test CA; its intermediate is "Pebble Intermediate CA <hex>"). */
export const DEFAULT_ACME_ISSUERS: ReadonlyArray<AcmeIssuer> = [
  { name: "Let's Encrypt", organization: "Let's Encrypt" },
  { name: "ZeroSSL", organization: "ZeroSSL" },
  { name: "Pebble", commonName: /^Pebble Intermediate CA\b/ }
]

/** The ACME issuer of a certificate on `list`, if any (every given criterion must match). */
export const acmeIssuerOf = (
  cert: Pick<Certificate.Certificate, "issuerO" | "issuerCN">,
  list: ReadonlyArray<AcmeIssuer> = DEFAULT_ACME_ISSUERS
): AcmeIssuer | undefined =>
  list.find((i) =>
    (i.organization !== undefined || i.commonName !== undefined) &&
    (i.organization === undefined || (cert.issuerO ?? "").toLowerCase() === i.organization.toLowerCase()) &&
    (i.commonName === undefined || i.commonName.test(cert.issuerCN ?? ""))
  )

/** Where an ACME client keeps a certificate file. */
export type AcmeClientDir =
  | { readonly client: "certbot"; readonly configDir: string; readonly certName: string }
  | { readonly client: "acme.sh"; readonly home: string; readonly domain: string; readonly ecc: boolean }

/**
 * Recognises a certbot live file (`<configDir>/live/<cert-name>/{cert,chain,fullchain,privkey}.pem`,
 * configDir default `/etc/letsencrypt`) or an acme.sh file (`<home>/<domain>[_ecc]/<file>`, where
 * home is a directory named `.acme.sh`, or `acmeShHome`). Pure: looks at the path only.
 */
export const acmeClientDirOf = (
  path: string,
  options: { readonly certbotConfigDir?: string; readonly acmeShHome?: string } = {}
): AcmeClientDir | undefined => {
  const configDir = (options.certbotConfigDir ?? "/etc/letsencrypt").replace(/\/+$/, "")
  const live = `${configDir}/live/`
  if (path.startsWith(live)) {
    const m = /^([^/]+)\/(cert|chain|fullchain|privkey)\.pem$/.exec(path.slice(live.length))
    if (m?.[1] !== undefined && m[1] !== "." && m[1] !== "..") return { client: "certbot", configDir, certName: m[1] }
  }
  const home = options.acmeShHome?.replace(/\/+$/, "")
  const rest = home !== undefined
    ? (path.startsWith(`${home}/`) ? { home, tail: path.slice(home.length + 1) } : undefined)
    : (() => {
      const i = path.lastIndexOf("/.acme.sh/")
      return i < 0 ? undefined : { home: path.slice(0, i + 9), tail: path.slice(i + 10) }
    })()
  if (rest !== undefined) {
    const m = /^([^/]+)\/[^/]+$/.exec(rest.tail)
    if (m?.[1] !== undefined && m[1] !== "." && m[1] !== "..") {
      const ecc = m[1].endsWith("_ecc")
      return { client: "acme.sh", home: rest.home, domain: ecc ? m[1].slice(0, -4) : m[1], ecc }
    }
  }
  return undefined
}

/** The wildcard names (`*.example.com`) among a certificate's DNS SANs. */
export const wildcardNames = (cert: Pick<Certificate.Certificate, "dnsNames">): ReadonlyArray<string> => cert.dnsNames.filter((n) => n.startsWith("*."))

/** The facts these rules read. */
export interface Facts {
  /** The served leaf. */
  readonly leaf: Certificate.Certificate
  /** The certificate file the server uses (null when none was found on disk). */
  readonly certPath: string | null
  /** The configured DNS-01 provider for the name's zone (null when none). */
  readonly dnsProvider: string | null
}

/** Rule options. */
export interface Options {
  /** The ACME list (default {@link DEFAULT_ACME_ISSUERS}). */
  readonly acmeIssuers?: ReadonlyArray<AcmeIssuer>
  /** certbot's config dir (default `/etc/letsencrypt`). */
  readonly certbotConfigDir?: string
  /** acme.sh's home (default: any directory named `.acme.sh`). */
  readonly acmeShHome?: string
}

/** The confidences of the rules (documented in the table above). */
export const CONFIDENCE = {
  wildcard_dns01_required: 0.9,
  acme_renewable_issuer: 0.9,
  acme_renewable_client_dir: 0.85
} as const

/** The rules, in the seed's first-match order. */
export const rules = (options: Options = {}): ReadonlyArray<Classifier.Rule<Facts>> => {
  const rule = Classifier.rule<Facts>()
  return [
    rule({
      class: "wildcard_dns01_required",
      confidence: CONFIDENCE.wildcard_dns01_required,
      needs: ["leaf", "dnsProvider"],
      description: "a wildcard certificate with a configured DNS-01 provider",
      when: (f) => {
        const wildcards = wildcardNames(f.leaf)
        return { matched: wildcards.length > 0 && f.dnsProvider !== null, reasons: [`wildcard ${wildcards.join(", ")}; DNS-01 provider ${f.dnsProvider}`], evidence: { wildcards, dnsProvider: f.dnsProvider } }
      }
    }),
    rule({
      class: "acme_renewable",
      confidence: CONFIDENCE.acme_renewable_issuer,
      needs: ["leaf"],
      description: "the issuer is on the ACME list",
      when: (f) => {
        const issuer = acmeIssuerOf(f.leaf, options.acmeIssuers)
        return { matched: issuer !== undefined, reasons: [`issuer ${f.leaf.issuerO ?? "?"} / ${f.leaf.issuerCN ?? "?"} is ${issuer?.name ?? "not on the ACME list"}`], evidence: { acmeIssuer: issuer?.name ?? null } }
      }
    }),
    rule({
      class: "acme_renewable",
      confidence: CONFIDENCE.acme_renewable_client_dir,
      needs: ["certPath"],
      description: "the certificate is in a certbot live dir or an acme.sh home",
      when: (f) => {
        const dir = f.certPath === null ? undefined : acmeClientDirOf(f.certPath, options)
        return { matched: dir !== undefined, reasons: [dir === undefined ? "no ACME client directory" : `${f.certPath} is managed by ${dir.client}`], evidence: { acmeClient: dir?.client ?? null } }
      }
    })
  ]
}
