/**
 * The renewal classes of `tls.expiry.end-to-end`, in the seed's first-match order
 * (cert_manager_managed, wildcard_dns01_required, acme_renewable, internal_ca /
 * commercial_ca_manual), preceded by one guard of ours: a CA rate limit in force (issue item 10:
 * rate-limited domains escalate at once until Retry-After, so no other class may order). The seed
 * gives no confidences; these are ours, each ≥ 0.70:
 *
 * | order | class | confidence | matches when |
 * |---|---|---|---|
 * | 0 | `acme_rate_limited` | 0.95 | the CA's rate limit is in force for one of the names (now < Retry-After, kept in the store) |
 * | 1 | `cert_manager_managed` | 0.93 | the served Secret is a cert-manager Certificate's ("k8s env"), or the endpoint names its Certificate |
 * | 2 | `wildcard_dns01_required` | 0.90 | a SAN is `*.…` and a DNS-01 provider is configured for the endpoint (`RenewalPath`) |
 * | 3 | `acme_renewable` | 0.90 | the issuer is on the ACME list (Let's Encrypt, ZeroSSL, Pebble in tests; configurable) |
 * | 3′ | `acme_renewable` | 0.85 | the certificate file is in a certbot live dir or an acme.sh home |
 * | 4 | `internal_ca` | 0.85 | the issuer is on the configured internal-CA list, or the leaf is self-issued |
 * | 5 | `commercial_ca_manual` | 0.80 | the served chain verifies to a public root and the issuer is not on the ACME list |
 *
 * Anything else is Unclassified (escalate). A wildcard without a DNS-01 provider is never
 * wildcard_dns01_required; when it is ACME it lands in acme_renewable, whose plan escalates (never
 * http-01).
 *
 * @since 0.1.0
 */
import { Classifier } from "@byteport/core"
import * as RenewalPath from "./RenewalPath"
import * as SevenClass from "./SevenClass"

/** The classes, in first-match order. */
export const CLASSES = ["acme_rate_limited", "cert_manager_managed", "wildcard_dns01_required", "acme_renewable", "internal_ca", "commercial_ca_manual"] as const

/** A class of `tls.expiry.end-to-end`. */
export type EndToEndClass = (typeof CLASSES)[number]

/** Our confidences (documented in the module table); acme_renewable by a client dir is 0.85. */
export const CONFIDENCE: { readonly [K in EndToEndClass]: number } = {
  acme_rate_limited: 0.95,
  cert_manager_managed: 0.93,
  wildcard_dns01_required: RenewalPath.CONFIDENCE.wildcard_dns01_required,
  acme_renewable: RenewalPath.CONFIDENCE.acme_renewable_issuer,
  internal_ca: 0.85,
  commercial_ca_manual: 0.8
}

/** The facts the rules read. */
export interface Facts extends RenewalPath.Facts {
  /** Whether the served chain verifies to the public roots (Node's bundled roots). */
  readonly publicChain: boolean
  /** The rate limit in force for one of the names (null: none). */
  readonly rateLimit: { readonly domain: string; readonly retryAfter: number } | null
  /** The cert-manager Certificate whose Secret is served (null: not cert-manager's). */
  readonly certManager: { readonly namespace: string; readonly name: string; readonly uid: string; readonly revision: number } | null
}

/** Rule options: the ACME list, certbot / acme.sh dirs, internal CAs. */
export type Options = SevenClass.Options

/** The rules in first-match order. */
export const rules = (options: Options = {}): ReadonlyArray<Classifier.Rule<Facts>> => {
  const rule = Classifier.rule<Facts>()
  const [wildcard, ...acme] = RenewalPath.rules(options)
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
      class: "cert_manager_managed",
      confidence: CONFIDENCE.cert_manager_managed,
      needs: ["certManager"],
      description: "the served Secret is a cert-manager Certificate's",
      when: (f) => ({
        matched: f.certManager !== null,
        reasons: [f.certManager === null ? "not a cert-manager Secret" : `Certificate ${f.certManager.namespace}/${f.certManager.name}`],
        evidence: { certificate: f.certManager === null ? null : `${f.certManager.namespace}/${f.certManager.name}` }
      })
    }),
    wildcard!,
    ...acme,
    rule({
      class: "internal_ca",
      confidence: CONFIDENCE.internal_ca,
      needs: ["leaf"],
      description: "an internal CA (configured list) or a self-issued leaf",
      when: (f) => {
        const ca = SevenClass.internalCaOf(f.leaf, options.internalCas ?? [])
        return {
          matched: ca !== undefined || f.leaf.selfIssued,
          reasons: [ca !== undefined ? `issuer is the internal CA ${ca.name}` : f.leaf.selfIssued ? "the leaf is self-issued" : "not an internal CA"],
          evidence: { internalCa: ca?.name ?? null, selfIssued: f.leaf.selfIssued }
        }
      }
    }),
    rule({
      class: "commercial_ca_manual",
      confidence: CONFIDENCE.commercial_ca_manual,
      needs: ["leaf", "publicChain"],
      description: "a public, non-ACME issuer: renewal is ordered by hand",
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
