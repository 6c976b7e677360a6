/**
 * The seven renewal classes of `tls.expiry.seven-class`. The seed names the classes (acme_http01,
 * acme_dns01, cert_manager, acme_rate_limited, cloud_managed, commercial_ca, internal_ca) and gives
 * neither an order nor confidences; these are ours, each ≥ 0.70, first match wins:
 *
 * | order | class | confidence | matches when |
 * |---|---|---|---|
 * | 1 | `acme_rate_limited` | 0.95 | the CA's rate limit is in force for one of the names (now < Retry-After, kept in the store) — first, so no other class can order |
 * | 2 | `cert_manager` | 0.93 | the served Secret is a cert-manager Certificate's |
 * | 3 | `cloud_managed` | 0.90 | the endpoint's certificate is an ACM certificate (a configured ARN) |
 * | 4 | `acme_dns01` | 0.88 | ACME (issuer on the ACME list, or a certbot / acme.sh file) and a wildcard SAN, or dns-01 configured for the endpoint |
 * | 5 | `acme_http01` | 0.88 | ACME, no wildcard |
 * | 6 | `internal_ca` | 0.85 | the issuer is on the configured internal-CA list (issuer O or CN) or the leaf is self-issued |
 * | 7 | `commercial_ca` | 0.80 | a valid chain to a public root from an issuer not on the ACME list |
 *
 * Anything else is Unclassified (escalate). Pinned certificates, a wildcard without a DNS-01
 * provider and the CA classes escalate in the remediation, with no write.
 *
 * @since 0.1.0
 */
import { Classifier } from "@byteport/core"
import type * as Acm from "../acm/Acm"
import type * as Certificate from "../Certificate"
import * as RenewalPath from "./RenewalPath"

/** The seven classes, in first-match order. */
export const CLASSES = ["acme_rate_limited", "cert_manager", "cloud_managed", "acme_dns01", "acme_http01", "internal_ca", "commercial_ca"] as const

/** A class of the seven. */
export type SevenClass = (typeof CLASSES)[number]

/** Our confidences (documented in the module table). */
export const CONFIDENCE: { readonly [K in SevenClass]: number } = {
  acme_rate_limited: 0.95,
  cert_manager: 0.93,
  cloud_managed: 0.9,
  acme_dns01: 0.88,
  acme_http01: 0.88,
  internal_ca: 0.85,
  commercial_ca: 0.8
}

/** An internal CA, recognised by issuer O (exact, case-insensitive) and/or a pattern of issuer CN. */
export interface InternalCa {
  readonly name: string
  readonly organization?: string
  readonly commonName?: RegExp
}

/** The facts the rules read. */
export interface Facts {
  /** The served leaf. */
  readonly leaf: Certificate.Certificate
  /** Whether the served chain verifies to the public roots (Node's bundled roots). */
  readonly publicChain: boolean
  /** The certificate file the server reads (null: none known). */
  readonly certPath: string | null
  /** The rate limit in force for one of the names (null: none). */
  readonly rateLimit: { readonly domain: string; readonly retryAfter: number } | null
  /** The cert-manager Certificate whose Secret is served (null: not cert-manager's). */
  readonly certManager: { readonly namespace: string; readonly name: string; readonly uid: string } | null
  /** The ACM certificate of the endpoint (null: none configured). */
  readonly cloud: { readonly arn: string; readonly type: Acm.CertificateType; readonly notAfter: number; readonly domainName: string } | null
  /** The DNS-01 provider configured for the names (null: none). */
  readonly dnsProvider: string | null
}

/** Rule options. */
export interface Options extends RenewalPath.Options {
  /** Internal CAs (default none: only self-issued leaves are internal). */
  readonly internalCas?: ReadonlyArray<InternalCa>
}

/** The internal CA of a leaf on `list`, if any. */
export const internalCaOf = (leaf: Pick<Certificate.Certificate, "issuerO" | "issuerCN">, list: ReadonlyArray<InternalCa>): InternalCa | undefined =>
  list.find((i) =>
    (i.organization !== undefined || i.commonName !== undefined) &&
    (i.organization === undefined || (leaf.issuerO ?? "").toLowerCase() === i.organization.toLowerCase()) &&
    (i.commonName === undefined || i.commonName.test(leaf.issuerCN ?? ""))
  )

/** Whether an ACME client renews this certificate: the issuer is on the ACME list, or its file is a certbot / acme.sh file. */
export const acmeOf = (leaf: Certificate.Certificate, certPath: string | null, options: Options): string | undefined => {
  const issuer = RenewalPath.acmeIssuerOf(leaf, options.acmeIssuers)
  if (issuer !== undefined) return `issuer ${issuer.name}`
  const dir = certPath === null ? undefined : RenewalPath.acmeClientDirOf(certPath, options)
  return dir === undefined ? undefined : `${certPath} is managed by ${dir.client}`
}

/** The rules in first-match order. */
export const rules = (options: Options = {}): ReadonlyArray<Classifier.Rule<Facts>> => {
  const rule = Classifier.rule<Facts>()
  return [
    rule({
      class: "acme_rate_limited",
      confidence: CONFIDENCE.acme_rate_limited,
      needs: ["rateLimit"],
      description: "the CA's rate limit is in force for a name",
      when: (f) => ({
        matched: f.rateLimit !== null,
        reasons: [f.rateLimit === null ? "no rate limit in force" : `rate-limited for ${f.rateLimit.domain} until ${new Date(f.rateLimit.retryAfter).toISOString()}`],
        evidence: { rateLimit: f.rateLimit }
      })
    }),
    rule({
      class: "cert_manager",
      confidence: CONFIDENCE.cert_manager,
      needs: ["certManager"],
      description: "the served Secret is a cert-manager Certificate's",
      when: (f) => ({
        matched: f.certManager !== null,
        reasons: [f.certManager === null ? "not a cert-manager Secret" : `Certificate ${f.certManager.namespace}/${f.certManager.name}`],
        evidence: { certificate: f.certManager === null ? null : `${f.certManager.namespace}/${f.certManager.name}` }
      })
    }),
    rule({
      class: "cloud_managed",
      confidence: CONFIDENCE.cloud_managed,
      needs: ["cloud"],
      description: "an ACM certificate",
      when: (f) => ({ matched: f.cloud !== null, reasons: [f.cloud === null ? "no cloud certificate" : `ACM ${f.cloud.type} ${f.cloud.arn}`], evidence: { arn: f.cloud?.arn ?? null } })
    }),
    rule({
      class: "acme_dns01",
      confidence: CONFIDENCE.acme_dns01,
      needs: ["leaf", "certPath", "dnsProvider"],
      description: "an ACME certificate with a wildcard name, or dns-01 configured",
      when: (f) => {
        const acme = acmeOf(f.leaf, f.certPath, options)
        const wildcards = RenewalPath.wildcardNames(f.leaf)
        return {
          matched: acme !== undefined && (wildcards.length > 0 || f.dnsProvider !== null),
          reasons: [`${acme ?? "not ACME"}; wildcards: ${wildcards.join(", ") || "none"}; DNS-01 provider: ${f.dnsProvider ?? "none"}`],
          evidence: { acme: acme ?? null, wildcards, dnsProvider: f.dnsProvider }
        }
      }
    }),
    rule({
      class: "acme_http01",
      confidence: CONFIDENCE.acme_http01,
      needs: ["leaf", "certPath"],
      description: "an ACME certificate without wildcard names",
      when: (f) => {
        const acme = acmeOf(f.leaf, f.certPath, options)
        return { matched: acme !== undefined && RenewalPath.wildcardNames(f.leaf).length === 0, reasons: [acme ?? "not ACME"], evidence: { acme: acme ?? null } }
      }
    }),
    rule({
      class: "internal_ca",
      confidence: CONFIDENCE.internal_ca,
      needs: ["leaf"],
      description: "an internal CA (configured list) or a self-issued leaf",
      when: (f) => {
        const ca = internalCaOf(f.leaf, options.internalCas ?? [])
        return {
          matched: ca !== undefined || f.leaf.selfIssued,
          reasons: [ca !== undefined ? `issuer is the internal CA ${ca.name}` : f.leaf.selfIssued ? "the leaf is self-issued" : "not an internal CA"],
          evidence: { internalCa: ca?.name ?? null, selfIssued: f.leaf.selfIssued }
        }
      }
    }),
    rule({
      class: "commercial_ca",
      confidence: CONFIDENCE.commercial_ca,
      needs: ["leaf", "publicChain"],
      description: "a public, non-ACME issuer",
      when: (f) => ({
        matched: f.publicChain && RenewalPath.acmeIssuerOf(f.leaf, options.acmeIssuers) === undefined,
        reasons: [`issuer ${f.leaf.issuerO ?? "?"} / ${f.leaf.issuerCN ?? "?"}; public chain: ${f.publicChain}`],
        evidence: { issuerO: f.leaf.issuerO ?? null, issuerCN: f.leaf.issuerCN ?? null }
      })
    })
  ]
}

/** The classifier (first match, floor 0.70; `confidences` overrides per class). */
export const classify = (options: Options & { readonly confidences?: Readonly<Record<string, number>> } = {}): Classifier.Classifier<Facts> =>
  Classifier.firstMatch(rules(options), { minConfidence: 0.7, ...(options.confidences !== undefined ? { confidences: options.confidences } : {}) })
