/**
 * tls.expiry.end-to-end — "End-to-end autonomous TLS certificate expiry recovery: diagnose served
 * cert via openssl s_client …, classify renewal path …, renew via certbot/acme.sh (http-01 or
 * dns-01 via Route53/Cloudflare/GCP) or cert-manager force-renew, hot-reload the serving process
 * …, then verify new notAfter > now + 30d + chain valid + handshake succeeds. Backs up cert+key
 * before every swap; rolls back and escalates on verification failure. Refuses if DNS zone not
 * owned."
 *
 * Composed from the package's parts, nothing rebuilt:
 * - **Detect**: `CertificateSignals.detector` per configured endpoint (expiring at 30/14/7/1 days,
 *   expired).
 * - **Diagnose** (s_client-style): `Inspection.inspect` (SNI, `requestOCSP`): issuer O/CN,
 *   notAfter, SANs, chain verdict, staple; the certificate file (configured, or located from the
 *   server's configuration: {@link locateFiles}) and the process listening on the port
 *   (`Discover.listening`); the cert-manager Certificate of the served Secret; the owned DNS
 *   zone of every name when dns-01 is configured (the provider's zone list: read-only); the rate
 *   limit in force; pinning.
 * - **Classify**: `classifiers/EndToEnd` (the seed's first-match order, a rate limit first).
 * - **Remediate** ({@link plan}): acme_renewable / wildcard_dns01_required → `tls.renew` (certbot
 *   by default, acme-client or acme.sh by configuration, `fallbackRenewer` as a Fallback step)
 *   into a staging dir, then the reloader's install (nginx, haproxy, caddy:
 *   `InstallCertificate`; a plain Kubernetes ingress Secret: `IngressSecret`), which backs up
 *   cert, key and config to the backup root, checks key and chain, swaps, reloads and rolls back a
 *   reload that fails; cert_manager_managed → `tls.certManager.renew` (as `cmctl renew`).
 *   Escalate at once, no write: pinned, rate limited (until Retry-After), a wildcard without a
 *   DNS-01 provider, an unowned DNS zone (refused before any ACME order or record), internal and
 *   commercial CAs (with what a CSR needs), envoy or traefik without their configuration
 *   (`envoy`: file SDS, `EnvoySds`; `traefik`: file provider, `TraefikFile`).
 * - **Verify**: handshake, the served leaf is new, notAfter > now + 30 d, chain valid, staple good
 *   when expected. NotRecovered makes core run the install's undo (restore the backup, reload, the
 *   old fingerprint served again) and escalate with both.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { type Classification, type Json, Detector, Diagnoser, Fact, Plan, Runbook, TargetRef, Verdict, Verifier } from "@byteport/core"
import type { Shell } from "@byteport/core/shell"
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node"
import { type Duration, Effect, Redacted } from "effect"
import * as CertManager from "../certmanager/CertManager"
import type * as Certificate from "../Certificate"
import * as EndToEnd from "../classifiers/EndToEnd"
import * as RenewalPath from "../classifiers/RenewalPath"
import * as CertificateSignals from "../detectors/CertificateSignals"
import * as DnsProvider from "../dns/DnsProvider"
import * as Inspection from "../Inspection"
import * as IngressSecret from "../kubernetes/IngressSecret"
import * as InstallCertificate from "../reloaders/InstallCertificate"
import * as EnvoySds from "../reloaders/EnvoySds"
import * as TraefikFile from "../reloaders/TraefikFile"
import type * as RenewalSignals from "../renewers/RenewalSignals"
import * as Renewer from "../renewers/Renewer"
import * as Caddy from "../servers/Caddy"
import * as Discover from "../servers/Discover"
import * as RenewAction from "./RenewAction"
import * as SevenClassRunbook from "./tls.expiry.seven-class"

/** The runbook id. */
export const ID = "tls.expiry.end-to-end"

/** The signals this runbook handles. */
export const SIGNALS: ReadonlyArray<string> = [CertificateSignals.SIGNAL_EXPIRING_SOON, CertificateSignals.SIGNAL_EXPIRED]

/** Servers the seed names for which this package has no reloader: the runbook escalates before any order. */
export type UnsupportedServer = "envoy" | "traefik"

/** One endpoint (seven-class's, plus a server without a reloader here). */
export interface Endpoint extends SevenClassRunbook.Endpoint {
  /** The endpoint is served by envoy or traefik: reloaded through `envoy` / `traefik` below when configured, else escalated (never renewed blind). */
  readonly serves?: UnsupportedServer
  /**
   * dns-01 by certbot's / acme.sh's own DNS plugin (`--dns-route53` / `--dns-cloudflare` /
   * `--dns-google`; `--dns dns_aws|dns_cf|dns_gcloud`) with its credentials file. The zone is still
   * checked through `dnsProvider` first (read-only); acme-client always writes through the provider.
   */
  readonly dnsPlugin?: { readonly plugin: Renewer.DnsPlugin; readonly credentials?: string; readonly propagationSeconds?: number }
}

/** Everything configurable. */
export interface Options extends EndToEnd.Options {
  readonly endpoints: ReadonlyArray<Endpoint>
  /** The cluster of the endpoints' `secret`s (cert-manager, ingress Secrets). */
  readonly kubeConfig?: KubeConfig
  /** Trusted roots (PEM strings) for inspection and verification (default Node's roots). */
  readonly ca?: ReadonlyArray<string>
  /** PEM files of those roots, for the install's chain check. */
  readonly caFiles?: ReadonlyArray<string>
  /** The ACME renewer kind (default: `acme.sh` for a file in an acme.sh home, else `certbot`). */
  readonly renewer?: string
  /** A second renewer tried when the first fails (the seed's "acme.sh --renew as fallback"). */
  readonly fallbackRenewer?: string
  /** The ACME directory and account. */
  readonly account?: { readonly directoryUrl: string; readonly email?: string; readonly caBundle?: string }
  /** The DNS-01 providers by name (the names endpoints' `dnsProvider` use): diagnosis lists their zones (read-only). */
  readonly providers?: Readonly<Record<string, DnsProvider.DnsProvider>>
  /** Where renewals are staged (default `/var/lib/byteport/cert-staging`). */
  readonly stagingRoot?: string
  /** Backup root (default `/var/lib/byteport/cert-backups`). */
  readonly backupRoot?: string
  /** Pinned certificates: domains, or SHA-256 fingerprints of the leaf. */
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
  /** The mode when BYTEPORT_MODE_TLS_EXPIRY_END_TO_END / BYTEPORT_MODE say nothing (default dry_run). */
  readonly defaultMode?: "observe" | "dry_run" | "auto"
}

/** The owned zones of the names, when dns-01 is configured. */
export interface ZoneCheck {
  /** The configured provider's name. */
  readonly provider: string
  /** Challenge name → owned zone. */
  readonly owned: Readonly<Record<string, string>>
  /** Challenge names in no owned zone (non-empty: refuse). */
  readonly unowned: ReadonlyArray<string>
  /** The zones the account owns. */
  readonly zones: ReadonlyArray<string>
}

/** What `openssl s_client -servername … -status -showcerts` would show, plus the files and process. */
export interface Diagnosis {
  readonly subjectCN: string | null
  readonly issuerO: string | null
  readonly issuerCN: string | null
  readonly notAfter: string
  readonly sans: ReadonlyArray<string>
  readonly chainValid: boolean
  readonly chainProblems: ReadonlyArray<string>
  readonly chainLength: number
  /** `good`, `bad: …` or `none`. */
  readonly staple: string
  /** The certificate file the server reads (configured), and the listening process (`comm`, pid). */
  readonly certFile: string | null
  readonly process: string | null
}

/** The facts: the classes' facts plus the endpoint, the diagnosis and the checks the plan needs. */
export interface Facts extends EndToEnd.Facts {
  readonly endpoint: Endpoint
  readonly pinned: boolean
  readonly diagnosis: Diagnosis
  /** null: no DNS-01 provider configured for the endpoint. */
  readonly zone: ZoneCheck | null
  /** The resourceVersion of the endpoint's (non-cert-manager) Secret, for the ingress reloader (null: none). */
  readonly secretVersion: string | null
}

/** The owned zone of every name's `_acme-challenge` record (read-only: the provider's zone list). */
export const zoneCheck = (providerName: string, provider: DnsProvider.DnsProvider, domains: ReadonlyArray<string>): Effect.Effect<ZoneCheck, DnsProvider.DnsError> =>
  Effect.map(provider.listZones, (zones) => {
    const owned: Record<string, string> = {}
    const unowned: Array<string> = []
    for (const d of domains) {
      const name = DnsProvider.challengeName(d)
      const zone = DnsProvider.findZone(zones, name)
      if (zone === undefined) unowned.push(name)
      else owned[name] = zone.name
    }
    return { provider: providerName, owned, unowned: [...new Set(unowned)], zones: zones.map((z) => z.name) }
  })

const processOf = (port: number): string | null => {
  try {
    const main = Discover.listening(port).main
    return main === undefined ? null : `${main.comm} (pid ${main.pid})`
  } catch {
    return null
  }
}

/** Pure: the s_client-style summary of an inspection. */
export const diagnosisOf = (i: Inspection.Inspection, certFile: string | null, process: string | null): Diagnosis => ({
  subjectCN: i.leaf.subjectCN ?? null,
  issuerO: i.leaf.issuerO ?? null,
  issuerCN: i.leaf.issuerCN ?? null,
  notAfter: new Date(i.leaf.notAfter).toISOString(),
  sans: [...i.leaf.dnsNames, ...i.leaf.ipAddresses],
  chainValid: i.verdict.valid,
  chainProblems: i.verdict.problems.map((p) => p.kind),
  chainLength: 1 + i.chain.length,
  staple: i.stapleCheck === undefined ? "none" : i.stapleCheck.good ? "good" : `bad: ${i.stapleCheck.problems.join(", ")}`,
  certFile,
  process
})

const secretVersionOf = (kc: KubeConfig, namespace: string, name: string) =>
  Effect.tryPromise({
    try: () => kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace, name }),
    catch: (e) => new Error(`get Secret ${namespace}/${name}: ${e instanceof Error ? e.message : String(e)}`)
  }).pipe(Effect.map((s) => s.metadata?.resourceVersion ?? null))

/** nginx's `server_name _` / `default_server` sites answer any name. */
const nginxMatches = (site: Discover.NginxSite, port: number, servername: string): boolean =>
  site.listen.some((l) => new RegExp(`(^|:)${port}(\\s|$)`).test(l)) &&
  (site.serverNames.includes(servername) || site.serverNames.includes("_") || site.serverNames.some((n) => n.startsWith("*.") && servername.endsWith(n.slice(1))))

/**
 * The certificate files the endpoint's server reads, located on disk from its configuration
 * (`nginx -T`: the site listening on the port for the name; haproxy: the `bind … ssl crt` on the
 * port, a PEM file; Caddy: the Caddyfile's manual `tls <cert> <key>`), when not configured.
 */
export const locateFiles = (server: InstallCertificate.ServerSpec, port: number, servername: string): Effect.Effect<{ readonly cert: string; readonly key?: string } | undefined, never, Shell.Shell> => {
  switch (server.kind) {
    case "nginx":
      return Discover.nginxSitesOf(server).pipe(
        Effect.map((sites) => {
          const site = sites.find((s) => s.certificate !== undefined && nginxMatches(s, port, servername))
          return site === undefined ? undefined : { cert: site.certificate!, ...(site.certificateKey !== undefined ? { key: site.certificateKey } : {}) }
        }),
        Effect.orElseSucceed(() => undefined)
      )
    case "haproxy":
      return Discover.haproxyBindsOf(server.cfg).pipe(
        Effect.map((binds) => {
          const crt = binds.find((b) => b.address.endsWith(`:${port}`))?.crt[0]
          return crt === undefined || !crt.endsWith(".pem") ? undefined : { cert: crt }
        }),
        Effect.orElseSucceed(() => undefined)
      )
    case "caddy":
      return Effect.sync(() => {
        try {
          return Caddy.manualCertificates(fs.readFileSync(server.caddyfile, "utf8"))[0]
        } catch {
          return undefined
        }
      })
  }
}

/** The diagnoser (see the module docs). */
export const diagnose = (o: Options): Diagnoser.Diagnoser<Facts, Shell.Shell> => (signal) =>
  Effect.gen(function*() {
    const configured = SevenClassRunbook.endpointOf(signal, o.endpoints) as Endpoint | undefined
    const located = configured?.server !== undefined && configured.files === undefined
      ? yield* locateFiles(configured.server, configured.port, configured.servername)
      : undefined
    const endpoint: Endpoint | undefined = configured === undefined || located === undefined ? configured : { ...configured, files: located }
    if (endpoint === undefined) {
      const u = Fact.unknown("endpoint", `no configured endpoint for ${TargetRef.key(signal.target)}`)
      return { endpoint: u, leaf: u, publicChain: u, certPath: u, rateLimit: u, certManager: u, dnsProvider: u, pinned: u, diagnosis: u, zone: u, secretVersion: u }
    }
    const inspected = yield* Effect.result(Inspection.inspect({ host: endpoint.host, port: endpoint.port, servername: endpoint.servername, ...(o.ca !== undefined ? { ca: o.ca } : {}) }))
    const secret = endpoint.secret
    const kc = o.kubeConfig
    const managed: Fact.Fact<CertManager.ManagedBy | null> = secret === undefined || kc === undefined
      ? Fact.known(null)
      : yield* CertManager.certificateOfSecret(kc, secret.namespace, secret.name).pipe(
        Effect.map((m) => Fact.known(m ?? null)),
        Effect.catch((e) => Effect.succeed(Fact.unknown("cert-manager Certificate of the Secret", e.message)))
      )
    const certManager: Fact.Fact<EndToEnd.Facts["certManager"]> = endpoint.certManager !== undefined
      ? Fact.known({ ...endpoint.certManager, revision: Fact.value(managed)?.revision ?? 0 })
      : managed._tag === "Known"
      ? Fact.known(managed.value === null ? null : { namespace: managed.value.namespace, name: managed.value.name, uid: managed.value.uid, revision: managed.value.revision })
      : managed
    const secretVersion: Fact.Fact<string | null> = secret === undefined || kc === undefined || Fact.value(managed) !== null
      ? Fact.known(null)
      : yield* secretVersionOf(kc, secret.namespace, secret.name).pipe(
        Effect.map((v) => Fact.known(v)),
        Effect.catch((e) => Effect.succeed(Fact.unknown("the ingress Secret", e.message)))
      )
    const facts = {
      endpoint: Fact.known(endpoint),
      certPath: Fact.known(endpoint.files?.cert ?? null),
      certManager,
      dnsProvider: Fact.known(endpoint.dnsProvider ?? null),
      secretVersion
    }
    if (inspected._tag === "Failure") {
      const u = Fact.unknown("handshake", inspected.failure.message)
      return { ...facts, leaf: u, publicChain: u, rateLimit: u, pinned: u, diagnosis: u, zone: u }
    }
    const leaf = inspected.success.leaf
    const domains = leaf.dnsNames.length > 0 ? leaf.dnsNames : [endpoint.servername]
    const limit = o.renewalSignals === undefined ? undefined : yield* o.renewalSignals.inForce(domains)
    const providerName = endpoint.dnsProvider
    const provider = providerName === undefined ? undefined : o.providers?.[providerName]
    const zone: Fact.Fact<ZoneCheck | null> = providerName === undefined
      ? Fact.known(null)
      : provider === undefined
      ? Fact.unknown("DNS zones", `no DNS provider named ${providerName} is configured`)
      : yield* zoneCheck(providerName, provider, domains).pipe(
        Effect.map((z) => Fact.known(z)),
        Effect.catch((e) => Effect.succeed(Fact.unknown("DNS zones", e.message)))
      )
    return {
      ...facts,
      leaf: Fact.known(leaf),
      publicChain: Fact.known(inspected.success.verdict.valid),
      rateLimit: Fact.known(limit === undefined ? null : { domain: limit.domain, retryAfter: limit.retryAfter }),
      pinned: Fact.known(SevenClassRunbook.isPinned(leaf, o.pinned)),
      diagnosis: Fact.known(diagnosisOf(inspected.success, endpoint.files?.cert ?? null, processOf(endpoint.port))),
      zone
    }
  })

/** The renewer kind for a certificate file: the configured one, else acme.sh for an acme.sh home, else certbot. */
export const renewerOf = (certPath: string | null, o: Options): string =>
  o.renewer ?? (certPath !== null && RenewalPath.acmeClientDirOf(certPath, o)?.client === "acme.sh" ? "acme.sh" : "certbot")

/** The staging dir of a renewal. */
export const stagingDirOf = (o: Pick<Options, "stagingRoot">, name: string, serial: string): string =>
  `${(o.stagingRoot ?? "/var/lib/byteport/cert-staging").replace(/\/+$/, "")}/${name.replace("*", "_wildcard_")}-${serial}`

/** The escalations shared with seven-class (unknown certificate, pinned, rate limited, the CA classes): its plan, under this runbook's id and class. */
const sharedPlan = (c: Classification.Classified, facts: Fact.Facts<Facts>, o: Options): Plan.Plan => {
  const seven = EndToEnd.SHARED.find(([, here]) => here === c.class)?.[0] ?? "internal_ca"
  const p = SevenClassRunbook.plan({ ...c, class: seven }, { ...facts, cloud: Fact.known(null) }, o)
  return Plan.make(ID, c.class, p.summary, p.root)
}

/** Pure: the plan for a classification (see the module docs). */
export const plan = (c: Classification.Classified, facts: Fact.Facts<Facts>, o: Options): Plan.Plan => {
  const make = (summary: string, step: Plan.Step) => Plan.make(ID, c.class, summary, step)
  const leaf = Fact.value(facts.leaf)
  const endpoint = Fact.value(facts.endpoint)
  const cls = c.class as EndToEnd.EndToEndClass
  if (leaf === undefined || endpoint === undefined || Fact.value(facts.pinned) === true || cls === "acme_rate_limited" || cls === "internal_ca" || cls === "commercial_ca_manual") {
    return sharedPlan(c, facts, o)
  }
  const names = leaf.dnsNames.length > 0 ? leaf.dnsNames : [endpoint.servername]
  switch (cls) {
    case "cert_manager_managed": {
      const cm = Fact.value(facts.certManager)
      if (cm === null || cm === undefined) return make("no cert-manager Certificate", Plan.escalate("the cert-manager Certificate is unknown"))
      return make(`force-renew the cert-manager Certificate ${cm.namespace}/${cm.name} (cmctl renew)`, Plan.act(CertManager.renewAction({ namespace: cm.namespace, name: cm.name, revision: cm.revision })))
    }
    case "wildcard_dns01_required":
    case "acme_renewable": {
      const provider = Fact.value(facts.dnsProvider) ?? null
      const wildcards = names.filter(Renewer.isWildcard)
      if (wildcards.length > 0 && provider === null) {
        return make(`wildcard ${wildcards.join(", ")} without a DNS-01 provider`, Plan.escalate(`${wildcards.join(", ")} needs dns-01 and no DNS-01 provider is configured (wildcards never use http-01)`, [
          "configure a DNS-01 provider (Route53, Cloudflare, Cloud DNS) for the zone"
        ]))
      }
      if (provider !== null) {
        const zone = facts.zone
        if (zone === undefined || zone._tag !== "Known" || zone.value === null) {
          return make(`the DNS zones of ${names.join(", ")} are unknown`, Plan.escalate(`cannot tell whether ${provider} owns the zones of ${names.join(", ")}${zone?._tag === "Unknown" ? ` (${zone.reason})` : ""}: no ACME order, no record`))
        }
        if (zone.value.unowned.length > 0) {
          return make(`DNS zone not owned: ${zone.value.unowned.join(", ")}`, Plan.escalate(`refused: ${provider} owns no zone containing ${zone.value.unowned.join(", ")} (owned: ${zone.value.zones.join(", ") || "none"}); no ACME order, no record`, [
            "renew where the zone is hosted, or configure the provider account that owns it"
          ]))
        }
      }
      // the serving process: configured, else what diagnosis saw listening on the port (`envoy (pid 42)`)
      const serves = endpoint.serves ?? /^(envoy|traefik)\b/.exec(Fact.value(facts.diagnosis)?.process ?? "")?.[1] as UnsupportedServer | undefined
      const proxyConfigured = serves === "envoy" ? endpoint.envoy !== undefined : serves === "traefik" ? endpoint.traefik !== undefined : false
      if (serves !== undefined && !proxyConfigured) {
        return make(`no reloader for ${serves}`, Plan.escalate(`${endpoint.servername} is served by ${serves}, and no ${serves === "envoy" ? "file-based SDS resource (endpoint.envoy)" : "file-provider dynamic configuration (endpoint.traefik)"} is configured to reload it: nothing renewed`, [
          serves === "envoy"
            ? "configure endpoint.envoy (sdsPath, secretName), or renew, write the new files for envoy's file-based SDS and atomically rename the watched resource"
            : "configure endpoint.traefik (dynamicConfig or directory, certFile, keyFile), or renew, swap the files and rewrite traefik's dynamic configuration so its file provider reloads"
        ]))
      }
      if (o.account === undefined) return make(`ACME renewal of ${names.join(", ")} not configured`, Plan.escalate(`${endpoint.servername}: no ACME account configured`))
      const certPath = Fact.value(facts.certPath) ?? null
      const outDir = stagingDirOf(o, names[0]!, leaf.serial)
      const source = { cert: `${outDir}/fullchain.pem`, key: `${outDir}/privkey.pem` }
      const addr = { host: endpoint.host, port: endpoint.port, servername: endpoint.servername }
      const secretVersion = Fact.value(facts.secretVersion) ?? null
      const optional = {
        ...(o.caFiles !== undefined ? { caFiles: o.caFiles } : {}),
        ...(o.backupRoot !== undefined ? { backupRoot: o.backupRoot } : {})
      }
      const proxy = { domain: names[0]!, source, servername: endpoint.servername, ...optional }
      const install = serves === "envoy" && endpoint.envoy !== undefined
        ? EnvoySds.action({ ...endpoint.envoy, ...proxy })
        : serves === "traefik" && endpoint.traefik !== undefined
        ? TraefikFile.action({ ...endpoint.traefik, ...proxy })
        : endpoint.server !== undefined && endpoint.files !== undefined
        ? InstallCertificate.action({
          server: endpoint.server,
          domain: names[0]!,
          source,
          target: { cert: endpoint.files.cert, ...(endpoint.files.key !== undefined ? { key: endpoint.files.key } : {}) },
          endpoint: addr,
          servedFingerprint: leaf.fingerprint256,
          ...optional
        })
        : endpoint.secret !== undefined && secretVersion !== null
        ? IngressSecret.action({ namespace: endpoint.secret.namespace, secretName: endpoint.secret.name, domain: names[0]!, source, endpoint: addr, resourceVersion: secretVersion, servedFingerprint: leaf.fingerprint256, ...optional })
        : undefined
      if (install === undefined) {
        return make(`no reloader configured for ${endpoint.servername}`, Plan.escalate(`${endpoint.servername}: no server (nginx, haproxy, caddy) with its files, nor an ingress Secret, is configured: nothing renewed`))
      }
      const certbotDir = certPath === null ? undefined : RenewalPath.acmeClientDirOf(certPath, o)
      const renew = (renewer: string) =>
        RenewAction.action({
          renewer,
          domains: names,
          challenge: provider === null
            ? endpoint.webroot !== undefined ? { type: "http-01", mode: "webroot", webroot: endpoint.webroot } : { type: "http-01", mode: "standalone" }
            : endpoint.dnsPlugin !== undefined && (renewer === "certbot" || renewer === "acme.sh")
            ? { type: "dns-01", ...endpoint.dnsPlugin }
            : { type: "dns-01", provider },
          outDir,
          directoryUrl: o.account!.directoryUrl,
          ...(o.account!.email !== undefined ? { email: o.account!.email } : {}),
          ...(o.account!.caBundle !== undefined ? { caBundle: o.account!.caBundle } : {}),
          ...(certbotDir?.client === "certbot" && renewer === "certbot" ? { name: certbotDir.certName } : {}),
          notAfter: leaf.notAfter
        })
      const primary = renewerOf(certPath, o)
      const renewStep = o.fallbackRenewer !== undefined && o.fallbackRenewer !== primary
        ? Plan.fallback(Plan.act(renew(primary)), Plan.act(renew(o.fallbackRenewer)))
        : Plan.act(renew(primary))
      const reloader = serves === "envoy" ? "envoy (file SDS)" : serves === "traefik" ? "traefik (file provider)" : endpoint.server !== undefined && endpoint.files !== undefined ? endpoint.server.kind : "the ingress Secret"
      return make(
        `renew ${names.join(", ")} with ${primary}${o.fallbackRenewer !== undefined && o.fallbackRenewer !== primary ? ` (else ${o.fallbackRenewer})` : ""} by ${provider !== null ? `dns-01 (${provider})` : "http-01"}, back up, install into ${reloader} and reload`,
        Plan.seq(renewStep, Plan.act(install))
      )
    }
  }
}

/**
 * The verifier: seven-class's (`Verify.endpoint`: new leaf, notAfter > now + 30 d, chain valid,
 * staple when expected) with the seed's `handshake` check first: no handshake is NotRecovered
 * (rollback), not Inconclusive.
 */
export const verify = (o: Options): Verifier.Verifier<Facts> => {
  const seven = SevenClassRunbook.verify(o)
  return (ctx) =>
    Effect.map(seven({ ...ctx, facts: { ...ctx.facts, cloud: Fact.known(null) } }), (v): Verdict.Verdict => {
      const endpoint = Fact.value(ctx.facts.endpoint)
      if (v._tag === "Inconclusive" && v.reason.startsWith(NO_HANDSHAKE)) {
        return Verdict.fromChecks([{ name: "handshake", ok: false, detail: v.reason.slice(NO_HANDSHAKE.length) }], v.at)
      }
      if (v.checks.length === 0 || endpoint === undefined) return v
      return Verdict.fromChecks([{ name: "handshake", ok: true, detail: `${endpoint.servername}@${endpoint.host}:${endpoint.port}` }, ...v.checks], v.at)
    })
}

/** How seven-class's verifier reports a failed handshake. */
const NO_HANDSHAKE = "no handshake: "

/**
 * Wraps a renewer so the renewal lands in `request.outDir` (`cert.pem`, `chain.pem`,
 * `fullchain.pem`, `privkey.pem` 0600, dir 0700) even when the renewer keeps its own lineage
 * (certbot's live dir, acme.sh's home): the install step takes the files from there.
 */
export const staged = <R>(renewer: Renewer.Renewer<R>): Renewer.Renewer<R> => ({
  ...renewer,
  renew: (request) =>
    Effect.flatMap(renewer.renew(request), (renewed) => {
      const out = request.outDir
      if (out === undefined || renewed.files?.fullchain === nodePath.join(out, "fullchain.pem")) return Effect.succeed(renewed)
      return Effect.try({
        try: () => {
          const read = (p: string | undefined) => (p === undefined ? undefined : fs.readFileSync(p, "utf8"))
          const pem = {
            cert: read(renewed.files?.cert) ?? renewed.pems?.cert,
            chain: read(renewed.files?.chain) ?? renewed.pems?.chain,
            fullchain: read(renewed.files?.fullchain) ?? renewed.pems?.fullchain,
            key: read(renewed.files?.key) ?? (renewed.pems?.key === undefined ? undefined : Redacted.value(renewed.pems.key))
          }
          if (pem.fullchain === undefined || pem.key === undefined) throw new Error(`${renewed.renewer} returned no certificate or key to stage`)
          fs.mkdirSync(out, { recursive: true, mode: 0o700 })
          const files = { cert: nodePath.join(out, "cert.pem"), chain: nodePath.join(out, "chain.pem"), fullchain: nodePath.join(out, "fullchain.pem"), key: nodePath.join(out, "privkey.pem") }
          fs.writeFileSync(files.key, pem.key, { mode: 0o600 })
          fs.writeFileSync(files.fullchain, pem.fullchain, { mode: 0o644 })
          if (pem.cert !== undefined) fs.writeFileSync(files.cert, pem.cert, { mode: 0o644 })
          if (pem.chain !== undefined) fs.writeFileSync(files.chain, pem.chain, { mode: 0o644 })
          return { ...renewed, files }
        },
        catch: (e) => new Renewer.RenewFailed({ renewer: renewed.renewer, message: `staging into ${out} failed: ${e instanceof Error ? e.message : String(e)}` })
      })
    })
})

/** Builds the runbook (off by default in the catalog: enable it with `Catalog.make`'s `enable`; `family: "tls"`). */
export const make = (o: Options): Runbook.Runbook<Facts, Shell.Shell> => {
  const detectors: Array<Detector.Detector<unknown>> = o.endpoints.map((e) =>
    CertificateSignals.detector({ host: e.host, port: e.port, servername: e.servername, ...(o.ca !== undefined ? { ca: o.ca } : {}), ...(e.expectStaple !== undefined ? { expectStaple: e.expectStaple } : {}) })
  )
  const v = verify(o)
  return Runbook.make<Facts, Shell.Shell>({
    id: ID,
    family: "tls",
    description: "End-to-end autonomous TLS certificate expiry recovery: s_client-style diagnosis, first-match renewal path, certbot / acme.sh / cert-manager renewal with backup, hot reload and verification; rollback and escalation on failure",
    signals: SIGNALS,
    precedence: 30,
    detector: Detector.merge(ID, detectors),
    diagnose: diagnose(o),
    classify: EndToEnd.classify(o),
    remediate: (c, facts) => Effect.succeed(plan(c, facts, o)),
    verify: { acme_renewable: v, wildcard_dns01_required: v, cert_manager_managed: v },
    verifySchedule: o.verifySchedule ?? Verifier.schedules.retryOnceAt15s,
    baseline: (facts) => {
      const leaf: Certificate.Certificate | undefined = Fact.value(facts.leaf)
      return leaf === undefined ? {} as Json.JsonObject : { fingerprint256: leaf.fingerprint256, serial: leaf.serial, notAfter: leaf.notAfter }
    },
    nextSteps: (c) => (c._tag === "Classified" ? [] : ["inspect the endpoint by hand (openssl s_client -servername <name> -connect <host>:<port> -status -showcerts)"]),
    defaultMode: o.defaultMode ?? "dry_run",
    leaseTtl: "30 minutes",
    cooldown: o.cooldown ?? "10 minutes"
  })
}

