/**
 * One interface for every way BytePort renews a certificate: acme-client (in process), certbot,
 * acme.sh, cert-manager and ACM. A `Renewer` takes a {@link RenewRequest} — the names, the
 * challenge (http-01 by webroot or standalone, dns-01 through a {@link DnsProvider.DnsProvider}
 * or a client's own DNS plugin), the ACME account and CA directory, the key policy — and returns
 * a {@link Renewed}: where the certificate, chain and key now are (paths; PEMs for renewers
 * that keep nothing on disk, the key always `Redacted`), the ACME order URL, and the new leaf's
 * facts (serial, fingerprint, notAfter).
 *
 * Errors are typed ({@link RenewError}): a CA rate limit (`urn:ietf:params:acme:error:rateLimited`)
 * with its Retry-After, a failed challenge (wrong key authorization, missing TXT …), a DNS zone
 * the provider does not own (refused before any write), a misconfiguration (a wildcard with
 * http-01, no directory), and any other failure. Messages never carry key material.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { Effect, Redacted, Schema } from "effect"
import * as Certificate from "../Certificate"
import type * as DnsProvider from "../dns/DnsProvider"

/** The ACME challenge types BytePort answers. Wildcards need `dns-01`. */
export type ChallengeType = "http-01" | "dns-01"

/** http-01 by writing `<webroot>/.well-known/acme-challenge/<token>` (a web server already serves it). */
export interface Http01Webroot {
  readonly type: "http-01"
  readonly mode: "webroot"
  /** The document root the web server on port 80 (the CA's httpPort) serves. */
  readonly webroot: string
}

/** http-01 by a server of the renewer's own on `port` (nothing else may listen there). */
export interface Http01Standalone {
  readonly type: "http-01"
  readonly mode: "standalone"
  /** Default 80. */
  readonly port?: number
  /** Default `0.0.0.0` (certbot: `--http-01-address`). */
  readonly address?: string
}

/** The DNS plugins of certbot (`--dns-route53`, `--dns-cloudflare`, `--dns-google`) and acme.sh (`dns_aws`, `dns_cf`, `dns_gcloud`). */
export type DnsPlugin = "route53" | "cloudflare" | "google"

/**
 * dns-01: `_acme-challenge.<name>` TXT records written through `provider` (BytePort's own
 * clients: Route53, Cloudflare v4, Cloud DNS v1), or, for certbot / acme.sh, the client's own
 * DNS `plugin` (with `credentials`, a file path the plugin reads).
 */
export interface Dns01 {
  readonly type: "dns-01"
  readonly provider?: DnsProvider.DnsProvider
  readonly plugin?: DnsPlugin
  /** The plugin's credentials file (certbot `--dns-cloudflare-credentials`, `--dns-google-credentials`); never read by BytePort. */
  readonly credentials?: string
  /** Seconds certbot's plugin waits for propagation (`--dns-<plugin>-propagation-seconds`). */
  readonly propagationSeconds?: number
}

/** How the names are proven. */
export type Challenge = Http01Webroot | Http01Standalone | Dns01

/** The ACME account and CA. */
export interface Account {
  /** The ACME directory (`https://acme-v02.api.letsencrypt.org/directory`; Pebble's `/dir` in tests). */
  readonly directoryUrl: string
  /** Contact e-mail; none registers without one. */
  readonly email?: string
  /** A PEM file with the account key (acme-client); default: a new key per renewer instance. */
  readonly accountKeyPath?: string
  /** A PEM bundle trusted for the directory's own HTTPS (Pebble's listener CA in tests; `REQUESTS_CA_BUNDLE` for certbot). */
  readonly caBundle?: string
}

/** The new key, or the old one kept. */
export type KeyPolicy =
  | { readonly type: "ecdsa"; readonly curve?: "P-256" | "P-384" }
  | { readonly type: "rsa"; readonly bits?: 2048 | 3072 | 4096 }
  | { readonly type: "reuse"; readonly keyPath: string }

/** What to renew. */
export interface RenewRequest {
  /** The names, primary first (the CN); `*.example.com` needs dns-01. */
  readonly domains: ReadonlyArray<string>
  /** How to prove them; renewers whose CA validates by itself (cert-manager, ACM) ignore it. */
  readonly challenge?: Challenge
  /** The ACME account and directory; required by the ACME renewers (acme-client, certbot, acme.sh). */
  readonly account?: Account
  /** Default `{ type: "ecdsa", curve: "P-256" }`. */
  readonly keyPolicy?: KeyPolicy
  /** The renewer's own name for the certificate: certbot's `--cert-name`, a cert-manager Certificate `namespace/name`, an ACM ARN. */
  readonly name?: string
  /** Where file-based renewers write `cert.pem`, `chain.pem`, `fullchain.pem`, `privkey.pem` (0600). */
  readonly outDir?: string
  /** Give up after this long (acme-client default 120 s; certbot / acme.sh: their `timeoutMillis`, default 300 s). */
  readonly timeoutMillis?: number
}

/** Files written by a renewer (the key file is 0600). */
export interface RenewedFiles {
  readonly cert: string
  readonly chain: string
  readonly fullchain: string
  readonly key: string
}

/** PEMs of a renewer that keeps nothing on disk; the key is `Redacted` (it never prints). */
export interface RenewedPems {
  readonly cert: string
  readonly chain: string
  readonly fullchain: string
  readonly key?: Redacted.Redacted<string>
}

/** What a renewal produced. */
export interface Renewed {
  /** `acme-client`, `certbot`, `acme.sh`, `cert-manager`, `acm`. */
  readonly renewer: string
  readonly domains: ReadonlyArray<string>
  readonly files?: RenewedFiles
  readonly pems?: RenewedPems
  /** The ACME order URL, when the renewer saw one. */
  readonly orderUrl?: string
  /** The new leaf. */
  readonly serial: string
  readonly fingerprint256: string
  readonly notBefore: number
  readonly notAfter: number
  /** The challenge types used, per name. */
  readonly challenges: ReadonlyArray<{ readonly domain: string; readonly type: ChallengeType }>
}

/** A renewer. `R` is what it needs (certbot: core's `Shell`; cert-manager: a Kubernetes client …). */
export interface Renewer<R = never> {
  /** `acme-client`, `certbot`, `acme.sh`, `cert-manager`, `acm`. */
  readonly kind: string
  /** The challenge types it can answer. */
  readonly challenges: ReadonlyArray<ChallengeType>
  /** One sentence of what `renew(request)` would do (plans and dry_run); no order, no write. */
  readonly describe: (request: RenewRequest) => string
  /** Renews: orders, answers the challenges, writes the files; fails typed. */
  readonly renew: (request: RenewRequest) => Effect.Effect<Renewed, RenewError, R>
}

/** The ACME problem type of a rate limit. */
export const RATE_LIMITED = "urn:ietf:params:acme:error:rateLimited"

/**
 * The CA refused with `urn:ietf:params:acme:error:rateLimited`. `retryAfter` is the instant
 * (epoch ms) from the Retry-After header (seconds or HTTP date), when the CA sent one.
 */
export class AcmeRateLimited extends Schema.TaggedError<AcmeRateLimited>()("AcmeRateLimited", {
  renewer: Schema.String,
  domains: Schema.Array(Schema.String),
  message: Schema.String,
  /** The CA's URL that answered (new-order, new-account …). */
  url: Schema.optional(Schema.String),
  retryAfter: Schema.optional(Schema.Number),
  /** True when the limit was not answered now but kept from an earlier answer (the renewer did not run). */
  fromStore: Schema.optional(Schema.Boolean)
}) {}

/** Why a challenge failed. */
export type ChallengeFailure = "wrong_key_authorization" | "missing_txt" | "connection" | "other"

/** A challenge of `domain` was not validated by the CA (or not presented). */
export class AcmeChallengeFailed extends Schema.TaggedError<AcmeChallengeFailed>()("AcmeChallengeFailed", {
  renewer: Schema.String,
  domain: Schema.String,
  challengeType: Schema.String,
  reason: Schema.Literals(["wrong_key_authorization", "missing_txt", "connection", "other"]),
  message: Schema.String,
  /** The ACME problem type (`urn:ietf:params:acme:error:unauthorized` …). */
  problemType: Schema.optional(Schema.String)
}) {}

/** The request cannot be served as configured (a wildcard with http-01, no directory, no provider …); nothing was written. */
export class RenewerMisconfigured extends Schema.TaggedError<RenewerMisconfigured>()("RenewerMisconfigured", {
  renewer: Schema.String,
  message: Schema.String
}) {}

/** Any other failure: an ACME problem, a client exiting non-zero. `output` is a redacted tail. */
export class RenewFailed extends Schema.TaggedError<RenewFailed>()("RenewFailed", {
  renewer: Schema.String,
  message: Schema.String,
  problemType: Schema.optional(Schema.String),
  output: Schema.optional(Schema.String)
}) {}

/** Any error of a renewal (including the DNS provider's). */
export type RenewError = AcmeRateLimited | AcmeChallengeFailed | RenewerMisconfigured | RenewFailed | DnsProvider.DnsError

/** True when a name is a wildcard (`*.example.com`). */
export const isWildcard = (name: string): boolean => name.startsWith("*.")

/**
 * Checks a request before anything is written: at least one name, a wildcard only with dns-01,
 * the challenge type supported. Returns the reason it is refused, or undefined.
 */
export const refusal = (request: RenewRequest, supported: ReadonlyArray<ChallengeType>): string | undefined => {
  if (request.domains.length === 0) return "no domain to renew"
  const type = request.challenge?.type
  if (type !== undefined && !supported.includes(type)) return `challenge ${type} is not supported here (${supported.join(", ")})`
  if (type === "http-01" && request.domains.some(isWildcard)) {
    return `wildcards never use http-01: ${request.domains.filter(isWildcard).join(", ")} need dns-01`
  }
  return undefined
}

/** Parses a Retry-After header (delta seconds or an HTTP date) into an instant (epoch ms), relative to `now`. */
export const parseRetryAfter = (header: string | undefined | null, now: number): number | undefined => {
  if (header === undefined || header === null || header.trim() === "") return undefined
  const t = header.trim()
  if (/^\d+$/.test(t)) return now + Number(t) * 1000
  const d = Date.parse(t)
  return Number.isNaN(d) ? undefined : d
}

/**
 * Reads what a client renewer (certbot, acme.sh) wrote — `cert`, `chain`, `fullchain`, `key` — and
 * describes the new leaf. `where` (the lineage directory) names the place in errors; the key is
 * kept `Redacted`.
 */
export const readRenewed = (
  kind: string,
  where: string,
  files: RenewedFiles,
  challenges: Renewed["challenges"]
): Effect.Effect<Renewed, RenewFailed> =>
  Effect.gen(function*() {
    const read = yield* Effect.try({
      try: () => ({ cert: fs.readFileSync(files.cert, "utf8"), chain: fs.readFileSync(files.chain, "utf8"), fullchain: fs.readFileSync(files.fullchain, "utf8"), key: fs.readFileSync(files.key, "utf8") }),
      catch: (e) => new RenewFailed({ renewer: kind, message: `${kind} succeeded but ${where} is unreadable: ${e instanceof Error ? e.message : String(e)}` })
    })
    const x = Certificate.parsePemBundle(read.cert)[0]
    if (x === undefined) return yield* new RenewFailed({ renewer: kind, message: `no certificate in ${files.cert}` })
    const leaf = Certificate.fromX509(x)
    return {
      renewer: kind,
      domains: [...leaf.dnsNames],
      files,
      pems: { cert: read.cert, chain: read.chain, fullchain: read.fullchain, key: Redacted.make(read.key) },
      serial: leaf.serial,
      fingerprint256: leaf.fingerprint256,
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
      challenges
    } satisfies Renewed
  })
