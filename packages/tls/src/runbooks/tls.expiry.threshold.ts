/**
 * tls.expiry.threshold — "Detects SSL/TLS certificates expiring within 14 days (warning) or 7 days
 * (critical) and triggers automated renewal via cert-manager, AWS ACM, or certbot — with pre/post
 * snapshots and DNS validation checks."
 *
 * Composed from the package's parts (`family: "tls"`, off by default in a `Catalog`: enable it with
 * `Catalog.make(runbooks, { enable: ["tls.expiry.threshold"] })`):
 * - **Detect**: `CertificateSignals.detector` per endpoint with thresholds 14 and 7 days
 *   (`warningDays`, `criticalDays`): `tls.cert_expiring_soon`, once per threshold and serial.
 * - **Diagnose**: a real handshake (`Inspection`), the renewal path (the cert-manager Certificate of
 *   the served Secret, the ACM certificate by `DescribeCertificate`, the certbot lineage), the
 *   severity (notAfter − now at the Effect Clock: ≤ 7 d critical, ≤ 14 d warning), the pre-renewal
 *   checks (`PreRenewal`: names resolve to the endpoint for http-01, the DNS zone owned for dns-01,
 *   CAA permits the CA, the ACM validation CNAMEs present) and the pre-snapshot (`Snapshot`).
 * - **Classify** (first match, ours, ≥ 0.70): `cert_manager` 0.93, `aws_acm` 0.90, `certbot` 0.88.
 * - **Remediate** ({@link plan}): a failed pre-check → escalate, no action; cert_manager →
 *   `tls.certManager.renew` (as `cmctl renew`); aws_acm → the ACM action by type (IMPORTED
 *   escalates: renew where issued); certbot → `tls.renew` by certbot (`renew --cert-name`) then
 *   `tls.<server>.installCertificate` from the lineage's live dir (backup → key/chain checks →
 *   swap → reload; undo restores the backup). TXT visibility before answering a dns-01 challenge
 *   is the renewers' own wait (`DnsProvider.waitVisible`, the `txt_visible` probe).
 * - **Verify**: `Verify.endpoint` (new leaf, notAfter > now + 30 d, chain, staple when expected);
 *   ACM: `DescribeCertificate` shows NotAfter moved and > now + 30 d. A failed verdict runs the
 *   install's undo (the backup served again) and escalates.
 * - **Report**: the postmortem holds the pre- and post-snapshots and their diff.
 * - **Escalate**: {@link notifier} routes this runbook's escalations by the certificate's
 *   severity — warning → `OpsChannel`, critical → `Pager`.
 *
 * @since 0.1.0
 */
import type { ACMClient } from "@aws-sdk/client-acm"
import { type Classification, Classifier, Detector, type Escalation, Fact, type Json, Notifier, Plan, Runbook, type Signal, Sink, SinkMessage, TargetRef, Verdict, Verifier } from "@byteport/core"
import { Cause, Clock, Effect, Layer } from "effect"
import * as Acm from "../acm/Acm"
import * as CertManager from "../certmanager/CertManager"
import type * as Certificate from "../Certificate"
import * as RenewalPath from "../classifiers/RenewalPath"
import * as CertificateSignals from "../detectors/CertificateSignals"
import type * as DnsProvider from "../dns/DnsProvider"
import * as Inspection from "../Inspection"
import * as Caa from "../probes/Caa"
import * as PreRenewal from "../probes/PreRenewal"
import * as Snapshot from "../probes/Snapshot"
import * as InstallCertificate from "../reloaders/InstallCertificate"
import * as RenewAction from "./RenewAction"
import * as SevenClassRunbook from "./tls.expiry.seven-class"

/** The runbook id. */
export const ID = "tls.expiry.threshold"

/** The signal this runbook handles. */
export const SIGNALS: ReadonlyArray<string> = [CertificateSignals.SIGNAL_EXPIRING_SOON]

/** The seed's thresholds, in days. */
export const DEFAULT_WARNING_DAYS = 14
/** The seed's thresholds, in days. */
export const DEFAULT_CRITICAL_DAYS = 7

/** The renewal paths, in first-match order. */
export const CLASSES = ["cert_manager", "aws_acm", "certbot"] as const
/** A renewal path. */
export type ThresholdClass = (typeof CLASSES)[number]

/** Confidences (the seed gives none; ours). */
export const CONFIDENCE: { readonly [K in ThresholdClass]: number } = { cert_manager: 0.93, aws_acm: 0.9, certbot: 0.88 }

/** The CAA issuer domain names checked by default: Let's Encrypt for ACME, Amazon's four for ACM. */
export const DEFAULT_CAA_IDENTITIES = {
  acme: ["letsencrypt.org"],
  acm: ["amazon.com", "amazontrust.com", "awstrust.com", "amazonaws.com"]
} as const

/** How urgent the certificate is. */
export type Severity = "warning" | "critical"

const DAY = 86_400_000

/**
 * One endpoint the runbook watches and may renew: seven-class's endpoint (address, server and
 * files, the served Secret, DNS-01 provider name, webroot, staple) plus the certbot lineage, the
 * addresses the names must resolve to, and the cert-manager / ACM references.
 */
export interface Endpoint extends Pick<SevenClassRunbook.Endpoint, "host" | "port" | "servername" | "server" | "files" | "secret" | "dnsProvider" | "webroot" | "expectStaple"> {
  /** The certbot lineage (`--cert-name`); else found from `files.cert` when it is in `<configDir>/live/<name>/`. */
  readonly certbot?: { readonly name: string }
  /** The addresses the names must resolve to for http-01 (default `[host]`). */
  readonly addresses?: ReadonlyArray<string>
  /** The cert-manager Certificate (given; else the one of `secret`, looked up with `kubeConfig`). */
  readonly certManager?: { readonly namespace: string; readonly name: string }
  /** The ACM certificate of the endpoint (described with `acm.client`). */
  readonly acm?: { readonly arn: string }
}

/**
 * Everything configurable; shared with seven-class: `kubeConfig`, `ca` / `caFiles` (trusted roots),
 * `account` (the ACME directory certbot renews against; default the lineage's own server),
 * `backupRoot`, `minValidityMillis`, `stapleTimeoutMillis`, `confidences`, `verifySchedule`,
 * `cooldown` (default 10 minutes) and `defaultMode` (when BYTEPORT_MODE_TLS_EXPIRY_THRESHOLD /
 * BYTEPORT_MODE say nothing; default dry_run).
 */
export interface Options extends Pick<SevenClassRunbook.Options, "kubeConfig" | "ca" | "caFiles" | "account" | "backupRoot" | "minValidityMillis" | "stapleTimeoutMillis" | "confidences" | "verifySchedule" | "cooldown" | "defaultMode"> {
  readonly endpoints: ReadonlyArray<Endpoint>
  /** Days before notAfter: warning (default 14) and critical (default 7). */
  readonly warningDays?: number
  readonly criticalDays?: number
  /** ACM: the client, and the zone API the validation CNAMEs are read through. */
  readonly acm?: { readonly client: ACMClient; readonly dns?: Acm.ValidationDns }
  /** certbot's `--config-dir` (default `/etc/letsencrypt`): where the lineage's live dir is. */
  readonly certbot?: { readonly configDir?: string }
  /** DNS-01 providers by name (the zone_owned check; the same names as the renew handler's). */
  readonly dnsProviders?: Readonly<Record<string, DnsProvider.DnsProvider>>
  /** DNS lookups of the checks (default the system's resolvers). */
  readonly resolver?: Caa.Resolver
  /** The CAA issuer domain names of the CAs (default {@link DEFAULT_CAA_IDENTITIES}). */
  readonly caaIdentities?: { readonly acme?: ReadonlyArray<string>; readonly acm?: ReadonlyArray<string> }
}

/** The facts. */
export interface Facts {
  readonly endpoint: Endpoint
  /** The served leaf. */
  readonly leaf: Certificate.Certificate
  /** The certificate's severity now (null: not within the warning threshold). */
  readonly severity: Severity | null
  readonly certManager: { readonly namespace: string; readonly name: string; readonly revision: number; readonly dnsNames: ReadonlyArray<string> } | null
  readonly acm: Acm.Facts | null
  readonly certbot: { readonly name: string; readonly live: string } | null
  /** The pre-renewal checks of the path that applies. */
  readonly checks: ReadonlyArray<PreRenewal.Result>
  /** The pre-snapshot. */
  readonly snapshot: Snapshot.Snapshot
}

const keyOf = (e: Pick<Endpoint, "host" | "port" | "servername">) => TargetRef.key(CertificateSignals.targetOf(e))

/** The endpoint a signal is about (its `tls-endpoint` target). */
export const endpointOf = (signal: Signal.Signal, endpoints: ReadonlyArray<Endpoint>): Endpoint | undefined =>
  endpoints.find((e) => keyOf(e) === TargetRef.key(signal.target))

/** Pure: the severity at `now` (≤ criticalDays: critical, ≤ warningDays: warning, an expired certificate is critical). */
export const severityOf = (notAfter: number, now: number, o: Pick<Options, "warningDays" | "criticalDays"> = {}): Severity | null => {
  const left = notAfter - now
  if (left <= (o.criticalDays ?? DEFAULT_CRITICAL_DAYS) * DAY) return "critical"
  if (left <= (o.warningDays ?? DEFAULT_WARNING_DAYS) * DAY) return "warning"
  return null
}

const certbotOf = (e: Endpoint, o: Options): Facts["certbot"] => {
  const configDir = (o.certbot?.configDir ?? "/etc/letsencrypt").replace(/\/+$/, "")
  const name = e.certbot?.name ?? (() => {
    const d = e.files?.cert === undefined ? undefined : RenewalPath.acmeClientDirOf(e.files.cert, { certbotConfigDir: configDir })
    return d?.client === "certbot" ? d.certName : undefined
  })()
  return name === undefined ? null : { name, live: `${configDir}/live/${name}` }
}

/** The path that applies (first match), for the checks and the snapshot. */
const pathOf = (f: Pick<Facts, "certManager" | "acm" | "certbot">): ThresholdClass | undefined =>
  f.certManager !== null ? "cert_manager" : f.acm !== null ? "aws_acm" : f.certbot !== null ? "certbot" : undefined

/** The pre-renewal checks of a path (read-only). */
export const checksFor = (
  cls: ThresholdClass,
  f: Pick<Facts, "endpoint" | "acm" | "certManager">,
  names: ReadonlyArray<string>,
  o: Options
): Effect.Effect<ReadonlyArray<PreRenewal.Result>> =>
  Effect.gen(function*() {
    const resolver = o.resolver ?? Caa.system()
    const out: Array<PreRenewal.Result> = []
    if (cls === "aws_acm" && f.acm !== null) {
      if (f.acm.type === "AMAZON_ISSUED" && f.acm.validation.length > 0) {
        out.push(o.acm?.dns === undefined
          ? { probe: "acm_cnames", ok: false, detail: `no ValidationDns configured to read the validation CNAMEs of ${f.acm.arn}` }
          : yield* PreRenewal.acmCnames(f.acm, o.acm.dns))
      }
      out.push(yield* PreRenewal.caa(resolver, names, o.caaIdentities?.acm ?? DEFAULT_CAA_IDENTITIES.acm))
      return out
    }
    if (cls === "certbot") {
      const providerName = f.endpoint.dnsProvider
      if (providerName !== undefined) {
        const provider = o.dnsProviders?.[providerName]
        out.push(provider === undefined
          ? { probe: "zone_owned", ok: false, detail: `no DNS provider named ${providerName} is configured` }
          : yield* PreRenewal.zoneOwned(provider, names))
      } else {
        out.push(yield* PreRenewal.namesResolve(resolver, names, f.endpoint.addresses ?? [f.endpoint.host]))
      }
    }
    out.push(yield* PreRenewal.caa(resolver, names, o.caaIdentities?.acme ?? DEFAULT_CAA_IDENTITIES.acme))
    return out
  })

/** The diagnoser: handshake, renewal path, severity, pre-renewal checks, pre-snapshot. */
export const diagnose = (o: Options) => (signal: Signal.Signal): Effect.Effect<Fact.Facts<Facts>> =>
  Effect.gen(function*() {
    const endpoint = endpointOf(signal, o.endpoints)
    if (endpoint === undefined) {
      const u = Fact.unknown("endpoint", `no configured endpoint for ${TargetRef.key(signal.target)}`)
      return { endpoint: u, leaf: u, severity: u, certManager: u, acm: u, certbot: u, checks: u, snapshot: u }
    }
    const now = yield* Clock.currentTimeMillis
    const inspected = yield* Effect.result(Inspection.inspect({ host: endpoint.host, port: endpoint.port, servername: endpoint.servername, ...(o.ca !== undefined ? { ca: o.ca } : {}) }))
    const certManager: Fact.Fact<Facts["certManager"]> = yield* Effect.gen(function*() {
      if (o.kubeConfig === undefined || (endpoint.certManager === undefined && endpoint.secret === undefined)) return Fact.known(null)
      const kc = o.kubeConfig
      const ref = endpoint.certManager ?? (yield* Effect.map(CertManager.certificateOfSecret(kc, endpoint.secret!.namespace, endpoint.secret!.name), (m) => m === undefined ? undefined : { namespace: m.namespace, name: m.name }))
      if (ref === undefined) return Fact.known(null)
      const c = yield* CertManager.get(kc, ref)
      return Fact.known(c === undefined ? null : { namespace: ref.namespace, name: ref.name, revision: c.status?.revision ?? 0, dnsNames: [...(c.spec.dnsNames ?? [])] })
    }).pipe(Effect.catch((e) => Effect.succeed(Fact.unknown("cert-manager Certificate", e.message))))
    const acm: Fact.Fact<Facts["acm"]> = endpoint.acm === undefined
      ? Fact.known(null)
      : o.acm === undefined
      ? Fact.unknown("ACM certificate", "no ACM client configured")
      : yield* Acm.describe(o.acm.client, endpoint.acm.arn).pipe(
        Effect.map((f) => Fact.known<Facts["acm"]>(f)),
        Effect.catch((e) => Effect.succeed(Fact.unknown("ACM certificate", e.message)))
      )
    const certbot = Fact.known(certbotOf(endpoint, o))
    const leaf = inspected._tag === "Success" ? inspected.success.leaf : undefined
    const acmValue = Fact.value(acm) ?? null
    const notAfter = leaf?.notAfter ?? acmValue?.notAfter
    const names = leaf !== undefined && leaf.dnsNames.length > 0
      ? leaf.dnsNames
      : acmValue !== null ? [acmValue.domainName, ...acmValue.sans.filter((s) => s !== acmValue.domainName)] : [endpoint.servername]
    const known = { certManager: Fact.value(certManager) ?? null, acm: acmValue, certbot: Fact.value(certbot) ?? null }
    const cls = pathOf(known)
    const checks = cls === undefined ? [] : yield* checksFor(cls, { endpoint, ...known }, cls === "cert_manager" && known.certManager!.dnsNames.length > 0 ? known.certManager!.dnsNames : names, o)
    const files = [endpoint.files?.cert, endpoint.files?.key, endpoint.server === undefined ? undefined : InstallCertificate.configOf(endpoint.server)].filter((f): f is string => f !== undefined)
    const snapshot: Snapshot.Snapshot = {
      at: now,
      ...(inspected._tag === "Success" ? { served: Snapshot.servedOf(inspected.success) } : { served: { error: inspected.failure.message } }),
      files: Object.fromEntries(files.map((f) => [f, Snapshot.hashFile(f)])),
      extra: extraOf(known)
    }
    return {
      endpoint: Fact.known(endpoint),
      leaf: leaf === undefined ? Fact.unknown("handshake", inspected._tag === "Failure" ? inspected.failure.message : "no leaf") : Fact.known(leaf),
      severity: notAfter === undefined ? Fact.unknown("notAfter", "neither a handshake nor ACM gave the certificate's notAfter") : Fact.known(severityOf(notAfter, now, o)),
      certManager,
      acm,
      certbot,
      checks: Fact.known(checks),
      snapshot: Fact.known(snapshot)
    }
  })

const extraOf = (f: Pick<Facts, "certManager" | "acm">): Record<string, Json.Json> => ({
  ...(f.acm !== null ? { "acm.notAfter": new Date(f.acm.notAfter).toISOString(), "acm.serial": f.acm.serial ?? null, "acm.status": f.acm.status } : {}),
  ...(f.certManager !== null ? { "certManager.revision": f.certManager.revision } : {})
})

/** The rules (first match, ours, ≥ 0.70). A path matches only while the certificate is within the warning threshold. */
export const rules = (): ReadonlyArray<Classifier.Rule<Facts>> => {
  const rule = Classifier.rule<Facts>()
  const due = (f: Pick<Facts, "severity">) => (f.severity === null ? "not within the warning threshold" : `${f.severity}`)
  return [
    rule({
      class: "cert_manager",
      confidence: CONFIDENCE.cert_manager,
      needs: ["severity", "certManager"],
      description: "the served Secret is a cert-manager Certificate's",
      when: (f) => ({
        matched: f.severity !== null && f.certManager !== null,
        reasons: [due(f), f.certManager === null ? "not a cert-manager Secret" : `Certificate ${f.certManager.namespace}/${f.certManager.name}`],
        evidence: { severity: f.severity, certificate: f.certManager === null ? null : `${f.certManager.namespace}/${f.certManager.name}` }
      })
    }),
    rule({
      class: "aws_acm",
      confidence: CONFIDENCE.aws_acm,
      needs: ["severity", "acm"],
      description: "an ACM certificate is configured for the endpoint",
      when: (f) => ({
        matched: f.severity !== null && f.acm !== null,
        reasons: [due(f), f.acm === null ? "no ACM certificate" : `ACM ${f.acm.type} ${f.acm.arn}`],
        evidence: { severity: f.severity, arn: f.acm?.arn ?? null }
      })
    }),
    rule({
      class: "certbot",
      confidence: CONFIDENCE.certbot,
      needs: ["severity", "certbot"],
      description: "a certbot lineage holds the certificate",
      when: (f) => ({
        matched: f.severity !== null && f.certbot !== null,
        reasons: [due(f), f.certbot === null ? "no certbot lineage" : `certbot lineage ${f.certbot.name}`],
        evidence: { severity: f.severity, lineage: f.certbot?.name ?? null }
      })
    })
  ]
}

/** The classifier (first match, floor 0.70; `confidences` overrides per class). */
export const classify = (o: Pick<Options, "confidences"> = {}): Classifier.Classifier<Facts> =>
  Classifier.firstMatch(rules(), { minConfidence: 0.7, ...(o.confidences !== undefined ? { confidences: o.confidences } : {}) })

/** Pure: the plan for a classification (see the module docs). */
export const plan = (c: Classification.Classified, facts: Fact.Facts<Facts>, o: Options): Plan.Plan => {
  const make = (summary: string, step: Plan.Step) => Plan.make(ID, c.class, summary, step)
  const endpoint = Fact.value(facts.endpoint)
  const severity = Fact.value(facts.severity) ?? null
  if (endpoint === undefined) return make("the endpoint is unknown", Plan.escalate("the endpoint of the signal is not configured"))
  const failed = (Fact.value(facts.checks) ?? []).filter((r) => !r.ok)
  if (failed.length > 0) {
    return make(`${severity ?? "?"}: pre-renewal checks failed for ${endpoint.servername}`, Plan.escalate(
      `${endpoint.servername} (${severity ?? "?"}): pre-renewal checks failed, nothing renewed: ${failed.map((r) => `${r.probe}: ${r.detail}`).join("; ")}`,
      failed.map((r) => nextStepOf(r.probe))
    ))
  }
  const cls = c.class as ThresholdClass
  switch (cls) {
    case "cert_manager": {
      const cm = Fact.value(facts.certManager)
      if (cm === null || cm === undefined) return make("no cert-manager Certificate", Plan.escalate("the cert-manager Certificate is unknown"))
      return make(`${severity}: force-renew the cert-manager Certificate ${cm.namespace}/${cm.name}`, Plan.act(CertManager.renewAction({ namespace: cm.namespace, name: cm.name, revision: cm.revision })))
    }
    case "aws_acm": {
      const acm = Fact.value(facts.acm)
      if (acm === null || acm === undefined) return make("no ACM certificate", Plan.escalate("the ACM certificate is unknown"))
      if (acm.type === "IMPORTED") {
        return make(`${severity}: ACM imported ${acm.arn}`, Plan.escalate(`${acm.arn} is IMPORTED: renew it where it was issued and re-import it to the same ARN`, [
          `renew ${acm.domainName} with its CA, then ImportCertificate with CertificateArn ${acm.arn}`
        ]))
      }
      return make(`${severity}: ACM ${acm.type} ${acm.arn}`, Plan.act(Acm.action({ facts: acm })))
    }
    case "certbot": {
      const lineage = Fact.value(facts.certbot)
      const leaf = Fact.value(facts.leaf)
      if (lineage === null || lineage === undefined || leaf === undefined) return make("no certbot lineage", Plan.escalate("the certbot lineage or the served certificate is unknown"))
      if (endpoint.server === undefined || endpoint.files === undefined) {
        return make(`certbot renewal of ${endpoint.servername} not configured`, Plan.escalate(`${endpoint.servername}: no server/files configured for the endpoint`))
      }
      const names = leaf.dnsNames.length > 0 ? leaf.dnsNames : [endpoint.servername]
      if (names.some((n) => n.startsWith("*.")) && endpoint.dnsProvider === undefined) {
        return make(`wildcard ${names.join(", ")} without a DNS-01 provider`, Plan.escalate(`${names.join(", ")} needs dns-01 and no DNS-01 provider is configured (wildcards never use http-01)`))
      }
      const renew = RenewAction.action({
        renewer: "certbot",
        name: lineage.name,
        domains: names,
        challenge: endpoint.dnsProvider !== undefined
          ? { type: "dns-01", provider: endpoint.dnsProvider }
          : endpoint.webroot !== undefined ? { type: "http-01", mode: "webroot", webroot: endpoint.webroot } : { type: "http-01", mode: "standalone" },
        outDir: lineage.live,
        ...(o.account !== undefined ? { directoryUrl: o.account.directoryUrl } : {}),
        ...(o.account?.email !== undefined ? { email: o.account.email } : {}),
        ...(o.account?.caBundle !== undefined ? { caBundle: o.account.caBundle } : {}),
        notAfter: leaf.notAfter
      })
      const install = InstallCertificate.action({
        server: endpoint.server,
        domain: names[0]!,
        source: { cert: `${lineage.live}/fullchain.pem`, key: `${lineage.live}/privkey.pem` },
        target: { cert: endpoint.files.cert, ...(endpoint.files.key !== undefined ? { key: endpoint.files.key } : {}) },
        endpoint: { host: endpoint.host, port: endpoint.port, servername: endpoint.servername },
        servedFingerprint: leaf.fingerprint256,
        ...(o.caFiles !== undefined ? { caFiles: o.caFiles } : {}),
        ...(o.backupRoot !== undefined ? { backupRoot: o.backupRoot } : {})
      })
      return make(`${severity}: certbot renew ${lineage.name} (${names.join(", ")}), install into ${endpoint.server.kind} and reload`, Plan.seq(Plan.act(renew), Plan.act(install)))
    }
  }
}

const nextStepOf = (probe: PreRenewal.Probe): string => {
  switch (probe) {
    case "names_resolve":
      return "point the names' A/AAAA records at the endpoint (http-01 is validated there), or configure a DNS-01 provider"
    case "zone_owned":
      return "configure a DNS-01 provider whose account owns the zone of the names"
    case "caa":
      return "add a CAA issue (issuewild for wildcards) record for the CA at the relevant name, or renew with a CA the CAA records permit"
    case "acm_cnames":
      return "restore the ACM validation CNAMEs (DomainValidationOptions[].ResourceRecord) in the zone; ACM renews only while they resolve"
    case "txt_visible":
      return "check the dns-01 TXT record at the authoritative nameservers"
  }
}

/** The verifier of the ACM path: NotAfter moved past the planned one and > now + minValidity. */
export const verifyAcm = (o: Options): Verifier.Verifier<Facts> => (ctx) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const before = Fact.value(ctx.facts.acm)
    if (before === null || before === undefined || o.acm === undefined) return Verdict.inconclusive("no ACM certificate", now)
    const after = yield* Effect.result(Acm.describe(o.acm.client, before.arn))
    if (after._tag === "Failure") return Verdict.inconclusive(after.failure.message, now)
    const min = o.minValidityMillis ?? 30 * DAY
    return Verdict.fromChecks([
      { name: "NotAfter moved", ok: after.success.notAfter > before.notAfter, detail: `${new Date(before.notAfter).toISOString()} → ${new Date(after.success.notAfter).toISOString()}` },
      { name: "notAfter > now + 30 d", ok: after.success.notAfter > now + min, detail: `NotAfter ${new Date(after.success.notAfter).toISOString()}` }
    ], now)
  })

/** The verifier of the served paths: seven-class's (`Verify.endpoint` against the fingerprint served before). */
export const verifyEndpoint = (o: Options): Verifier.Verifier<Facts> => {
  const v = SevenClassRunbook.verify({
    endpoints: [],
    ...(o.ca !== undefined ? { ca: o.ca } : {}),
    ...(o.minValidityMillis !== undefined ? { minValidityMillis: o.minValidityMillis } : {}),
    ...(o.stapleTimeoutMillis !== undefined ? { stapleTimeoutMillis: o.stapleTimeoutMillis } : {})
  })
  // it reads `endpoint` (host, port, servername, expectStaple) and `leaf`, which these facts share
  return (ctx) => v(ctx as never)
}

/** The post-snapshot and the diff against the pre-snapshot (the report's postmortem). */
export const snapshots = (o: Options) => (facts: Fact.Facts<Facts>): Effect.Effect<Json.JsonObject> =>
  Effect.gen(function*() {
    const pre = Fact.value(facts.snapshot)
    const endpoint = Fact.value(facts.endpoint)
    if (pre === undefined || endpoint === undefined) return { snapshots: "none: the endpoint was unknown" }
    const acm = Fact.value(facts.acm) ?? null
    const cm = Fact.value(facts.certManager) ?? null
    const extra: Effect.Effect<Record<string, Json.Json>> = Effect.gen(function*() {
      const a = acm !== null && o.acm !== undefined ? yield* Effect.option(Acm.describe(o.acm.client, acm.arn)) : undefined
      const c = cm !== null && o.kubeConfig !== undefined ? yield* Effect.option(CertManager.get(o.kubeConfig, cm)) : undefined
      return extraOf({
        acm: a?._tag === "Some" ? a.value : null,
        certManager: c?._tag === "Some" && c.value !== undefined ? { ...cm!, revision: c.value.status?.revision ?? 0 } : null
      })
    })
    const post = yield* Snapshot.take({
      endpoint: { host: endpoint.host, port: endpoint.port, servername: endpoint.servername, ...(o.ca !== undefined ? { ca: o.ca } : {}) },
      files: Object.keys(pre.files),
      extra
    })
    return { pre, post, diff: Snapshot.diff(pre, post) } as unknown as Json.JsonObject
  })

/**
 * The severity an escalation of this runbook goes out with: the certificate's (the `severity`
 * fact), else the signal's threshold (≤ criticalDays: critical), else what core decided.
 */
export const escalationSeverity = (e: Escalation.Escalation, o: Pick<Options, "criticalDays"> = {}): Escalation.Severity => {
  const fact = e.facts["severity"]
  if (fact?._tag === "Known" && (fact.value === "warning" || fact.value === "critical")) return fact.value
  const days = e.signal.evidence["thresholdDays"]
  if (typeof days === "number") return days <= (o.criticalDays ?? DEFAULT_CRITICAL_DAYS) ? "critical" : "warning"
  return e.severity
}

/**
 * A Notifier over core's (`Notifier.fromSinks`) that routes this runbook's escalations in auto mode
 * by the certificate's severity ({@link escalationSeverity}): warning → `OpsChannel`, critical →
 * `Pager` (the ops channel when no pager is configured). observe / dry_run escalations (severity
 * info) and every other runbook's go through core's routing unchanged.
 */
export const notifier = (o: Pick<Options, "criticalDays"> = {}): Layer.Layer<Notifier.Notifier, never, Sink.OpsChannel> =>
  Layer.effect(
    Notifier.Notifier,
    Effect.gen(function*() {
      const inner = yield* Notifier.Notifier
      const ops = yield* Sink.OpsChannel
      const pager = yield* Effect.serviceOption(Sink.Pager)
      return Notifier.Notifier.of({
        ...inner,
        escalate: (e) => {
          if (e.runbook !== ID || e.severity === "info") return inner.escalate(e)
          const severity = escalationSeverity(e, o)
          const routed = { ...e, severity }
          const sink = severity === "critical" && pager._tag === "Some" ? pager.value : ops
          return Effect.andThen(
            Effect.suspend(() => sink.post(SinkMessage.escalation(routed))).pipe(
              Effect.catchCause((cause) => Effect.logWarning(`notifier: sink ${sink.name} could not take an escalation: ${Cause.pretty(cause)}`))
            ),
            inner.audit("escalated", { incidentId: e.incidentId, runbook: e.runbook, severity, sink: sink.name, reason: e.reason })
          )
        }
      })
    })
  ).pipe(Layer.provide(Notifier.fromSinks))

/** Builds the runbook (`family: "tls"`, off by default in a Catalog). */
export const make = (o: Options): Runbook.Runbook<Facts> => {
  const thresholdDays = [o.warningDays ?? DEFAULT_WARNING_DAYS, o.criticalDays ?? DEFAULT_CRITICAL_DAYS]
  const detectors: Array<Detector.Detector<unknown>> = o.endpoints.map((e) =>
    CertificateSignals.detector({
      host: e.host,
      port: e.port,
      servername: e.servername,
      thresholdDays,
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      ...(e.expectStaple !== undefined ? { expectStaple: e.expectStaple } : {})
    })
  )
  const post = snapshots(o)
  return Runbook.make<Facts>({
    id: ID,
    family: "tls",
    description: "Detects SSL/TLS certificates expiring within 14 days (warning) or 7 days (critical) and renews them via cert-manager, AWS ACM or certbot, with pre/post snapshots and DNS validation checks",
    signals: SIGNALS,
    precedence: 20,
    detector: Detector.merge(ID, detectors),
    diagnose: diagnose(o),
    classify: classify(o),
    remediate: (c, facts) => Effect.succeed(plan(c, facts, o)),
    verify: { cert_manager: verifyEndpoint(o), aws_acm: verifyAcm(o), certbot: verifyEndpoint(o) },
    verifySchedule: o.verifySchedule ?? Verifier.schedules.retryOnceAt15s,
    baseline: (facts) => {
      const leaf = Fact.value(facts.leaf)
      return leaf === undefined ? {} as Json.JsonObject : { fingerprint256: leaf.fingerprint256, serial: leaf.serial, notAfter: leaf.notAfter }
    },
    postmortem: (input) => post(input.facts),
    nextSteps: (c) => (c._tag === "Classified" ? [] : ["inspect the endpoint by hand (openssl s_client -servername <name> -connect <host>:<port>) and renew where it was issued"]),
    defaultMode: o.defaultMode ?? "dry_run",
    leaseTtl: "30 minutes",
    cooldown: o.cooldown ?? "10 minutes"
  })
}
