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

/** Our confidences (documented in the module table; the shared rules keep seven-class's); acme_renewable by a client dir is 0.85. */
export const CONFIDENCE: { readonly [K in EndToEndClass]: number } = {
  acme_rate_limited: SevenClass.CONFIDENCE.acme_rate_limited,
  cert_manager_managed: SevenClass.CONFIDENCE.cert_manager,
  wildcard_dns01_required: RenewalPath.CONFIDENCE.wildcard_dns01_required,
  acme_renewable: RenewalPath.CONFIDENCE.acme_renewable_issuer,
  internal_ca: SevenClass.CONFIDENCE.internal_ca,
  commercial_ca_manual: SevenClass.CONFIDENCE.commercial_ca
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

/** Seven-class's classes whose rules this runbook shares, under the seed's names here. */
export const SHARED: ReadonlyArray<readonly [SevenClass.SevenClass, EndToEndClass]> = [
  ["acme_rate_limited", "acme_rate_limited"],
  ["cert_manager", "cert_manager_managed"],
  ["internal_ca", "internal_ca"],
  ["commercial_ca", "commercial_ca_manual"]
]

/** The rules in first-match order: seven-class's rate limit and cert-manager rules, `RenewalPath`'s, then seven-class's CA rules. */
export const rules = (options: Options = {}): ReadonlyArray<Classifier.Rule<Facts>> => {
  const seven = SevenClass.rules(options)
  // each shared rule needs only facts these Facts have too (rateLimit, certManager, leaf, publicChain)
  const shared = (cls: SevenClass.SevenClass): Classifier.Rule<Facts> => {
    const r = seven.find((x) => x.class === cls)! as unknown as Classifier.Rule<Facts>
    return { ...r, class: SHARED.find(([from]) => from === cls)![1] }
  }
  const [wildcard, ...acme] = RenewalPath.rules(options)
  return [shared("acme_rate_limited"), shared("cert_manager"), wildcard!, ...acme, shared("internal_ca"), shared("commercial_ca")]
}

/** The classifier (first match, floor 0.70; `confidences` overrides per class). */
export const classify = (options: Options & { readonly confidences?: Readonly<Record<string, number>> } = {}): Classifier.Classifier<Facts> =>
  Classifier.firstMatch(rules(options), { minConfidence: 0.7, ...(options.confidences !== undefined ? { confidences: options.confidences } : {}) })
