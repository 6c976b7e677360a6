/**
 * tls.expiry.seven-class — "Detects TLS certificate expiry across 6 signals …, classifies the
 * renewal approach across 7 classes …, and autonomously renews via certbot, cert-manager CRD
 * delete-and-reissue, or cloud API — then hot-reloads … and verifies chain validity plus OCSP
 * staple. Escalates immediately for pinned certs, wildcard certs without a configured DNS-01
 * provider, rate-limited domains, and commercial/internal CAs."
 *
 * - **Detect**: `CertificateSignals.detector` per configured endpoint (expiring at 30/14/7/1 days,
 *   expired, chain invalid, OCSP stapling failure) and, when given, the renewal signals
 *   (`RenewalSignals`: acme_challenge_failure, renewal_rate_limit_hit).
 * - **Diagnose**: a real handshake (`Inspection`), the endpoint's configuration (certificate file,
 *   cert-manager Certificate, ACM certificate, DNS-01 provider) and the rate limit in force.
 * - **Classify**: `classifiers/SevenClass` (ours per rule, ≥ 0.70, the rate limit first).
 * - **Remediate** ({@link plan}): ACME → `tls.renew` (the Renewer into a staging dir) then
 *   `tls.<server>.installCertificate` (backup → key/chain checks → swap → reload; its undo
 *   restores the backup); cert_manager → `tls.certManager.recreateCertificate` (the Secret kept);
 *   cloud_managed → the ACM action by type; escalate at once, no write: pinned, a wildcard without
 *   a DNS-01 provider, rate limited (until Retry-After), internal and commercial CAs (with what a
 *   CSR needs).
 * - **Verify**: `Verify.endpoint` — the served leaf is new, notAfter > now + 30 d, chain valid,
 *   staple good when expected; a failed verdict makes core run the install's undo and escalate.
 *
 * @since 0.1.0
 */
import { type Classification, type Json, Detector, Diagnoser, Fact, Plan, Runbook, type Signal, TargetRef, Verdict, Verifier } from "@byteport/core"
import type { KubeConfig } from "@kubernetes/client-node"
import { Clock, type Duration, Effect } from "effect"
import * as Acm from "../acm/Acm"
import * as CertManager from "../certmanager/CertManager"
import type * as Certificate from "../Certificate"
import * as SevenClass from "../classifiers/SevenClass"
import * as CertificateSignals from "../detectors/CertificateSignals"
import * as Inspection from "../Inspection"
import * as InstallCertificate from "../reloaders/InstallCertificate"
import * as EnvoySds from "../reloaders/EnvoySds"
import * as TraefikFile from "../reloaders/TraefikFile"
import * as Verify from "../reloaders/Verify"
import type * as RenewalSignals from "../renewers/RenewalSignals"
import * as RenewAction from "./RenewAction"

/** The runbook id. */
export const ID = "tls.expiry.seven-class"

/** The signals this runbook handles. */
export const SIGNALS: ReadonlyArray<string> = [
  CertificateSignals.SIGNAL_EXPIRING_SOON,
  CertificateSignals.SIGNAL_EXPIRED,
  CertificateSignals.SIGNAL_CHAIN_INVALID,
  CertificateSignals.SIGNAL_OCSP_STAPLING_FAILURE,
  CertificateSignals.SIGNAL_ACME_CHALLENGE_FAILURE,
  CertificateSignals.SIGNAL_RENEWAL_RATE_LIMIT_HIT
]

/** One endpoint the runbook watches and may renew. */
export interface Endpoint {
  readonly host: string
  readonly port: number
  readonly servername: string
  /** The server that serves it and the files it reads (needed for ACME renewals). */
  readonly server?: InstallCertificate.ServerSpec
  readonly files?: { readonly cert: string; readonly key?: string }
  /** The cert-manager Certificate whose Secret the endpoint serves (given; else looked up from `secret`). */
  readonly certManager?: { readonly namespace: string; readonly name: string; readonly uid: string }
  /** The kubernetes.io/tls Secret the endpoint serves: with `kubeConfig`, diagnosis asks whether a cert-manager Certificate owns it. */
  readonly secret?: { readonly namespace: string; readonly name: string }
  /** The ACM certificate of the endpoint. */
  readonly acm?: Pick<Acm.Facts, "arn" | "type" | "notAfter" | "domainName">
  /** The DNS-01 provider's name (a key of the renew handler's providers). */
  readonly dnsProvider?: string
  /** http-01 webroot (default: standalone on port 80). */
  readonly webroot?: string
  /** Expect a good OCSP staple (signals and verification). */
  readonly expectStaple?: boolean
  /** envoy serves it: its file-based SDS resource (the install renames a new resource over it). */
  readonly envoy?: EnvoySds.Config
  /** traefik serves it: its file provider's dynamic configuration and the files it names. */
  readonly traefik?: TraefikFile.Config
}

/** Everything configurable. */
export interface Options extends SevenClass.Options {
  readonly endpoints: ReadonlyArray<Endpoint>
  /** The cluster of the endpoints' `secret`s. */
  readonly kubeConfig?: KubeConfig
  /** Trusted roots (PEM strings) for inspection and verification (default Node's roots). */
  readonly ca?: ReadonlyArray<string>
  /** PEM files of those roots, for the install's chain check. */
  readonly caFiles?: ReadonlyArray<string>
  /** The ACME renewer kind (default `acme-client`). */
  readonly renewer?: string
  /** The ACME directory and account. */
  readonly account?: { readonly directoryUrl: string; readonly email?: string; readonly caBundle?: string }
  /** Where renewals are staged (default `/var/lib/byteport/cert-staging`). */
  readonly stagingRoot?: string
  /** Backup root (default `/var/lib/byteport/cert-backups`). */
  readonly backupRoot?: string
  /** Pinned certificates: domains, or SHA-256 SPKI hashes / fingerprints of the leaf. */
  readonly pinned?: { readonly domains?: ReadonlyArray<string>; readonly fingerprints?: ReadonlyArray<string> }
  /** The renewal signals (their rate-limit memory is the one classification reads). */
  readonly renewalSignals?: RenewalSignals.RenewalSignals
  /** Verification minimum validity (default 30 days). */
  readonly minValidityMillis?: number
  /** How long a missing staple is retried after the reload (default 10 s). */
  readonly stapleTimeoutMillis?: number
  readonly confidences?: Readonly<Record<string, number>>
  /** When the verification runs (default: once, retried once after 15 s). */
  readonly verifySchedule?: Verifier.VerifySchedule
  /** How long the endpoint stays leased after an incident (default 10 minutes). */
  readonly cooldown?: Duration.Input
  /** The mode when BYTEPORT_MODE_TLS_EXPIRY_SEVEN_CLASS / BYTEPORT_MODE say nothing (default dry_run). */
  readonly defaultMode?: "observe" | "dry_run" | "auto"
}

/** The facts: the seven-class facts plus the endpoint and pinning. */
export interface Facts extends SevenClass.Facts {
  readonly endpoint: Endpoint
  readonly pinned: boolean
}

const endpointKey = (e: Pick<Endpoint, "host" | "port" | "servername">) => `${e.servername}@${e.host}:${e.port}`

/** The endpoint a signal is about: its `tls-endpoint` target, or, for a renewal signal (`tls-certificate`), the endpoint serving that name. */
export const endpointOf = (signal: Signal.Signal, endpoints: ReadonlyArray<Endpoint>): Endpoint | undefined =>
  signal.target.kind === "tls-endpoint"
    ? endpoints.find((e) => endpointKey(e) === signal.target.ref)
    : endpoints.find((e) => e.servername === signal.target.ref)

/** Whether the leaf is pinned (a configured domain, or its fingerprint). */
export const isPinned = (leaf: Certificate.Certificate, pinned: Options["pinned"]): boolean =>
  (pinned?.domains ?? []).some((d) => leaf.dnsNames.includes(d) || leaf.subjectCN === d) ||
  (pinned?.fingerprints ?? []).some((f) => f.toUpperCase() === leaf.fingerprint256.toUpperCase())

/** The diagnoser: a handshake, then the endpoint's configuration and the rate limit in force. */
export const diagnose = (o: Options): Diagnoser.Diagnoser<Facts> => (signal) =>
  Effect.gen(function*() {
    const endpoint = endpointOf(signal, o.endpoints)
    if (endpoint === undefined) {
      const u = Fact.unknown("endpoint", `no configured endpoint for ${TargetRef.key(signal.target)}`)
      return { endpoint: u, leaf: u, publicChain: u, certPath: u, rateLimit: u, certManager: u, cloud: u, dnsProvider: u, pinned: u }
    }
    const inspected = yield* Effect.result(Inspection.inspect({ host: endpoint.host, port: endpoint.port, servername: endpoint.servername, ...(o.ca !== undefined ? { ca: o.ca } : {}) }))
    const secret = endpoint.secret
    const certManager: Fact.Fact<SevenClass.Facts["certManager"]> = endpoint.certManager !== undefined
      ? Fact.known(endpoint.certManager)
      : secret === undefined || o.kubeConfig === undefined
      ? Fact.known(null)
      : yield* CertManager.certificateOfSecret(o.kubeConfig, secret.namespace, secret.name).pipe(
        Effect.map((m): Fact.Fact<SevenClass.Facts["certManager"]> => Fact.known(m === undefined ? null : { namespace: m.namespace, name: m.name, uid: m.uid })),
        Effect.catch((e) => Effect.succeed(Fact.unknown("cert-manager Certificate of the Secret", e.message)))
      )
    const facts = {
      endpoint: Fact.known(endpoint),
      certPath: Fact.known(endpoint.files?.cert ?? null),
      certManager,
      cloud: Fact.known(endpoint.acm ?? null),
      dnsProvider: Fact.known(endpoint.dnsProvider ?? null)
    }
    if (inspected._tag === "Failure") {
      const u = Fact.unknown("handshake", inspected.failure.message)
      return { ...facts, leaf: u, publicChain: u, rateLimit: u, pinned: u }
    }
    const leaf = inspected.success.leaf
    const domains = leaf.dnsNames.length > 0 ? leaf.dnsNames : [endpoint.servername]
    const limit = o.renewalSignals === undefined ? undefined : yield* o.renewalSignals.inForce(domains)
    return {
      ...facts,
      leaf: Fact.known(leaf),
      publicChain: Fact.known(inspected.success.verdict.valid),
      rateLimit: Fact.known(limit === undefined ? null : { domain: limit.domain, retryAfter: limit.retryAfter }),
      pinned: Fact.known(isPinned(leaf, o.pinned))
    }
  })

/** What a CSR for this certificate needs (the escalation's next step for the CA classes). */
export const csrNeeds = (leaf: Certificate.Certificate) =>
  `a CSR for CN=${leaf.subjectCN ?? leaf.dnsNames[0] ?? "?"} with SANs ${[...leaf.dnsNames, ...leaf.ipAddresses].join(", ") || "none"} (new key, ECDSA P-256 or RSA 2048+), submitted to ${leaf.issuerO ?? leaf.issuerCN ?? "the issuing CA"}`

/** Pure: the plan for a classification (see the module docs). */
export const plan = (c: Classification.Classified, facts: Fact.Facts<Facts>, o: Options): Plan.Plan => {
  const make = (summary: string, step: Plan.Step) => Plan.make(ID, c.class, summary, step)
  const leaf = Fact.value(facts.leaf)
  const endpoint = Fact.value(facts.endpoint)
  if (leaf === undefined || endpoint === undefined) return make("the served certificate is unknown", Plan.escalate("the served certificate could not be read"))
  const names = leaf.dnsNames.length > 0 ? leaf.dnsNames : [endpoint.servername]
  if (Fact.value(facts.pinned) === true) {
    return make(`${names.join(", ")} is pinned`, Plan.escalate(`the certificate of ${endpoint.servername} is pinned (${leaf.fingerprint256}): clients would reject a new key or chain`, [
      "renew it with the pin holders: publish the new pin first, then rotate"
    ]))
  }
  const cls = c.class as SevenClass.SevenClass
  switch (cls) {
    case "acme_rate_limited": {
      const limit = Fact.value(facts.rateLimit)
      const until = limit === null || limit === undefined ? "?" : new Date(limit.retryAfter).toISOString()
      return make(`rate limited until ${until}`, Plan.escalate(`the ACME CA rate-limited ${limit?.domain ?? names[0]} until ${until}: no order before then`, [
        `renew after ${until}`,
        "check for a renewal loop or duplicate certificates for these names"
      ]))
    }
    case "cert_manager": {
      const cm = Fact.value(facts.certManager)
      if (cm === null || cm === undefined) return make("no cert-manager Certificate", Plan.escalate("the cert-manager Certificate is unknown"))
      return make(`re-create the cert-manager Certificate ${cm.namespace}/${cm.name}`, Plan.act(CertManager.recreateAction(cm)))
    }
    case "cloud_managed": {
      const acm = Fact.value(facts.cloud)
      if (acm === null || acm === undefined) return make("no ACM certificate", Plan.escalate("the ACM certificate is unknown"))
      if (acm.type === "IMPORTED") {
        return make(`ACM imported ${acm.arn}`, Plan.escalate(`${acm.arn} is IMPORTED: renew it where it was issued and re-import it to the same ARN`, [csrNeeds(leaf)]))
      }
      return make(`ACM ${acm.type} ${acm.arn}`, Plan.act(Acm.action({ facts: acm })))
    }
    case "internal_ca":
      return make(`internal CA ${leaf.issuerCN ?? "?"}`, Plan.escalate(`${endpoint.servername} is issued by an internal CA (${leaf.issuerO ?? ""} ${leaf.issuerCN ?? ""}): renewal needs that CA's operators`, [csrNeeds(leaf)]))
    case "commercial_ca":
      return make(`commercial CA ${leaf.issuerO ?? "?"}`, Plan.escalate(`${endpoint.servername} is issued by the commercial CA ${leaf.issuerO ?? leaf.issuerCN ?? "?"}: renewal is ordered by hand`, [csrNeeds(leaf)]))
    case "acme_dns01":
    case "acme_http01": {
      const provider = Fact.value(facts.dnsProvider) ?? null
      if (cls === "acme_dns01" && provider === null) {
        return make(`wildcard ${names.join(", ")} without a DNS-01 provider`, Plan.escalate(`${names.join(", ")} needs dns-01 and no DNS-01 provider is configured (wildcards never use http-01)`, [
          "configure a DNS-01 provider (Route53, Cloudflare, Cloud DNS) for the zone"
        ]))
      }
      const viaFile = endpoint.server !== undefined && endpoint.files !== undefined
      if (o.account === undefined || (!viaFile && endpoint.envoy === undefined && endpoint.traefik === undefined)) {
        return make(`ACME renewal of ${names.join(", ")} not configured`, Plan.escalate(`${endpoint.servername}: no ACME account or no server/files configured for the endpoint`))
      }
      // a served leaf whose validity does not parse (a damaged DER date): no order is bound to it
      if (!Number.isFinite(leaf.notBefore) || !Number.isFinite(leaf.notAfter)) {
        return make(`the validity of ${names.join(", ")} is unreadable`, Plan.escalate(`${endpoint.servername}: the served leaf's validity cannot be read: no renewal is ordered against it`))
      }
      const outDir = `${(o.stagingRoot ?? "/var/lib/byteport/cert-staging").replace(/\/+$/, "")}/${names[0]!.replace("*", "_wildcard_")}-${leaf.serial}`
      const renew = RenewAction.action({
        renewer: o.renewer ?? "acme-client",
        domains: names,
        challenge: cls === "acme_dns01" && provider !== null
          ? { type: "dns-01", provider }
          : endpoint.webroot !== undefined ? { type: "http-01", mode: "webroot", webroot: endpoint.webroot } : { type: "http-01", mode: "standalone" },
        outDir,
        directoryUrl: o.account.directoryUrl,
        ...(o.account.email !== undefined ? { email: o.account.email } : {}),
        ...(o.account.caBundle !== undefined ? { caBundle: o.account.caBundle } : {}),
        notAfter: leaf.notAfter
      })
      const source = { cert: `${outDir}/fullchain.pem`, key: `${outDir}/privkey.pem` }
      const proxy = { domain: names[0]!, source, servername: endpoint.servername, ...(o.caFiles !== undefined ? { caFiles: o.caFiles } : {}), ...(o.backupRoot !== undefined ? { backupRoot: o.backupRoot } : {}) }
      const install = !viaFile && endpoint.envoy !== undefined ? EnvoySds.action({ ...endpoint.envoy, ...proxy })
        : !viaFile && endpoint.traefik !== undefined ? TraefikFile.action({ ...endpoint.traefik, ...proxy })
        : InstallCertificate.action({
        server: endpoint.server!,
        domain: names[0]!,
        source: { cert: `${outDir}/fullchain.pem`, key: `${outDir}/privkey.pem` },
        target: { cert: endpoint.files!.cert, ...(endpoint.files!.key !== undefined ? { key: endpoint.files!.key } : {}) },
        endpoint: { host: endpoint.host, port: endpoint.port, servername: endpoint.servername },
        servedFingerprint: leaf.fingerprint256,
        ...(o.caFiles !== undefined ? { caFiles: o.caFiles } : {}),
        ...(o.backupRoot !== undefined ? { backupRoot: o.backupRoot } : {})
      })
      return make(`renew ${names.join(", ")} by ${cls === "acme_dns01" ? "dns-01" : "http-01"}, install into ${viaFile ? endpoint.server!.kind : endpoint.envoy !== undefined ? "envoy (file SDS)" : "traefik (file provider)"} and reload`, Plan.seq(Plan.act(renew), Plan.act(install)))
    }
  }
}

/** The verifier: `Verify.endpoint` against the fingerprint served before the change. */
export const verify = (o: Options): Verifier.Verifier<Facts> => (ctx) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const endpoint = Fact.value(ctx.facts.endpoint)
    const leaf = Fact.value(ctx.facts.leaf)
    if (endpoint === undefined || leaf === undefined) return Verdict.inconclusive("the endpoint or the old certificate is unknown", now)
    const r = yield* Effect.result(Verify.endpoint({
      host: endpoint.host,
      port: endpoint.port,
      servername: endpoint.servername,
      oldFingerprint: leaf.fingerprint256,
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      ...(o.minValidityMillis !== undefined ? { minValidityMillis: o.minValidityMillis } : {}),
      ...(endpoint.expectStaple !== undefined ? { expectStaple: endpoint.expectStaple } : {}),
      ...(o.stapleTimeoutMillis !== undefined ? { stapleTimeoutMillis: o.stapleTimeoutMillis } : {})
    }))
    if (r._tag === "Failure") return Verdict.inconclusive(`no handshake: ${r.failure.message}`, now)
    const v = r.success
    const served = v.inspection.leaf
    const check = (name: string, ok: boolean, detail: string) => ({ name, ok, detail })
    return Verdict.fromChecks([
      check("new leaf", !v.problems.includes("not_new"), `served ${served.fingerprint256}, before ${leaf.fingerprint256}`),
      check("notAfter > now + 30 d", !v.problems.includes("expires_too_soon"), `notAfter ${new Date(served.notAfter).toISOString()}`),
      check("chain valid", !v.problems.includes("chain_invalid"), v.inspection.verdict.problems.map((p) => p.kind).join(", ") || "valid"),
      check("OCSP staple", !v.problems.includes("staple_missing") && !v.problems.includes("staple_bad"), v.stapleExpected ? (v.problems.find((p) => p.startsWith("staple")) ?? "good") : "not expected")
    ], now)
  })

/** Builds the runbook (on by default in the catalog, `family: "tls"`). */
export const make = (o: Options): Runbook.Runbook<Facts> => {
  const detectors: Array<Detector.Detector<unknown>> = o.endpoints.map((e) =>
    CertificateSignals.detector({ host: e.host, port: e.port, servername: e.servername, ...(o.ca !== undefined ? { ca: o.ca } : {}), ...(e.expectStaple !== undefined ? { expectStaple: e.expectStaple } : {}) })
  )
  if (o.renewalSignals !== undefined) detectors.push(o.renewalSignals.detector)
  const classify = SevenClass.classify(o)
  return Runbook.make<Facts>({
    id: ID,
    family: "tls",
    description: "Detects TLS certificate expiry across 6 signals, classifies the renewal approach across 7 classes, renews (ACME, cert-manager, ACM), hot-reloads and verifies chain and OCSP staple; escalates pinned, wildcard without DNS-01, rate-limited, commercial/internal CA",
    signals: SIGNALS,
    precedence: 10,
    detector: Detector.merge(ID, detectors),
    diagnose: diagnose(o),
    classify,
    remediate: (c, facts) => Effect.succeed(plan(c, facts, o)),
    verify: { acme_http01: verify(o), acme_dns01: verify(o), cert_manager: verify(o), cloud_managed: verify(o) },
    verifySchedule: o.verifySchedule ?? Verifier.schedules.retryOnceAt15s,
    baseline: (facts) => {
      const leaf = Fact.value(facts.leaf)
      return leaf === undefined ? {} as Json.JsonObject : { fingerprint256: leaf.fingerprint256, serial: leaf.serial, notAfter: leaf.notAfter }
    },
    nextSteps: (c) => (c._tag === "Classified" ? [] : ["inspect the endpoint by hand (openssl s_client -servername <name> -connect <host>:<port>)"]),
    defaultMode: o.defaultMode ?? "dry_run",
    leaseTtl: "30 minutes",
    cooldown: o.cooldown ?? "10 minutes"
  })
}
