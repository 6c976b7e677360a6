/**
 * tls.expiry.threshold without servers: a reviewed golden plan per renewal path (cert_manager,
 * aws_acm, certbot by http-01 and by dns-01, a failed pre-check) from the chains recorded for
 * seven-class and the short Pebble (`fixtures/seven-class/<class>/`, `fixtures/chains/short_lived/`); near misses at 14 d and 7 d ± 1 min
 * under TestClock (severity, the detector's thresholds, the classification); CAA (RFC 8659) tree
 * climbing and issue / issuewild; the zone_owned, acm_cnames and names_resolve probes; snapshot
 * diffs; the escalation routing by severity (warning → OpsChannel, critical → Pager); the
 * never-rule "a failed pre-check → escalate with no action" property-tested.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Catalog, type Classification, type Escalation, Fact, Notifier, Plan, Signal, Sink } from "@byteport/core"
import { expectPlan } from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Acm, Caa, Certificate, CertificateSignals, PreRenewal, SevenClassRunbook, Snapshot, ThresholdRunbook } from "../src/index"
import type { DnsProvider } from "../src/index"
import * as Pki from "./pki"
import { serve } from "./server"
import * as Recorded from "./support/recorded"

const seven = path.join(import.meta.dirname, "../fixtures/seven-class")
const golden = path.join(import.meta.dirname, "../fixtures/threshold")
const DAY = 86_400_000

/** The recorded chain of a seven-class class, or one of `fixtures/chains/` (`chains/<name>`). */
const leafOf = (cls: string) => (cls.startsWith("chains/") ? Recorded.chain(cls.slice(7)) : Recorded.sevenClass(cls)).leaf

const nginx = { kind: "nginx" as const, conf: "/etc/nginx/nginx.conf", pidFile: "/run/nginx.pid" }
const options: ThresholdRunbook.Options = {
  endpoints: [],
  certbot: { configDir: "/etc/letsencrypt" },
  account: { directoryUrl: "https://acme-v02.api.letsencrypt.org/directory", email: "ops@example.com" }
}
const ok = (probe: PreRenewal.Probe): PreRenewal.Result => ({ probe, ok: true, detail: "ok" })

type Path = "cert_manager" | "aws_acm" | "certbot_http01" | "certbot_dns01"
const recorded: Record<Path, string> = { cert_manager: "cert_manager", aws_acm: "cloud_managed", certbot_http01: "chains/short_lived", certbot_dns01: "acme_dns01" }

const factsFor = (p: Path, overrides: Partial<ThresholdRunbook.Facts> = {}): Fact.Facts<ThresholdRunbook.Facts> => {
  const leaf = leafOf(recorded[p])
  const name = leaf.dnsNames[0]!.replace("*.", "")
  const servername = leaf.dnsNames.find((n) => !n.startsWith("*.")) ?? name
  const base: ThresholdRunbook.Endpoint = { host: "203.0.113.10", port: 443, servername, server: nginx, files: { cert: `/etc/nginx/tls/${name}.pem`, key: `/etc/nginx/tls/${name}.key` } }
  const acm: Acm.Facts = {
    arn: "arn:aws:acm:eu-west-1:123456789012:certificate/0e4c6f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6", type: "AMAZON_ISSUED", status: "ISSUED",
    domainName: name, sans: leaf.dnsNames, serial: leaf.serial, notAfter: leaf.notAfter, renewalEligibility: "ELIGIBLE", renewalStatus: "PENDING_AUTO_RENEWAL",
    validation: [{ domain: name, name: `_3f2a.${name}.`, value: "_9c1d.acm-validations.aws." }], inUseBy: []
  }
  const v: ThresholdRunbook.Facts = {
    endpoint: p === "certbot_http01" ? { ...base, webroot: "/var/www/acme", certbot: { name } } : p === "certbot_dns01" ? { ...base, dnsProvider: "route53", certbot: { name } } : base,
    leaf,
    severity: "warning",
    certManager: p === "cert_manager" ? { namespace: "shop", name: "app-tls", revision: 3, dnsNames: leaf.dnsNames } : null,
    acm: p === "aws_acm" ? acm : null,
    certbot: p.startsWith("certbot") ? { name, live: `/etc/letsencrypt/live/${name}` } : null,
    checks: p === "aws_acm" ? [ok("acm_cnames"), ok("caa")] : p === "certbot_http01" ? [ok("names_resolve"), ok("caa")] : p === "certbot_dns01" ? [ok("zone_owned"), ok("caa")] : [ok("caa")],
    snapshot: { at: 0, files: {}, extra: {} },
    ...overrides
  }
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, Fact.known(x)])) as unknown as Fact.Facts<ThresholdRunbook.Facts>
}

const classOf = (c: Classification.Classification) => (c._tag === "Classified" ? c.class : c._tag)
const planOf = (facts: Fact.Facts<ThresholdRunbook.Facts>) => {
  const c = ThresholdRunbook.classify()(facts)
  assert.strictEqual(c._tag, "Classified", JSON.stringify(c))
  return ThresholdRunbook.plan(c as Classification.Classified, facts, options)
}
const kinds = (p: Plan.Plan) => Plan.actions(p.root).map((a) => a.action.kind)

const EXPECTED: Record<Path, { readonly cls: string; readonly kinds: ReadonlyArray<string> }> = {
  cert_manager: { cls: "cert_manager", kinds: ["tls.certManager.renew"] },
  aws_acm: { cls: "aws_acm", kinds: ["tls.acm.restoreValidation"] },
  certbot_http01: { cls: "certbot", kinds: ["tls.renew", "tls.nginx.installCertificate"] },
  certbot_dns01: { cls: "certbot", kinds: ["tls.renew", "tls.nginx.installCertificate"] }
}

describe("tls.expiry.threshold: golden plans", () => {
  it("three paths in first-match order, each ≥ 0.70", () => {
    assert.deepStrictEqual(ThresholdRunbook.rules().map((r) => r.class), [...ThresholdRunbook.CLASSES])
    for (const r of ThresholdRunbook.rules()) assert.isAtLeast(r.confidence as number, 0.7)
  })

  for (const p of Object.keys(EXPECTED) as ReadonlyArray<Path>) {
    it(`${p}: classified, and the plan is the golden one`, () => {
      const facts = factsFor(p)
      const c = ThresholdRunbook.classify()(facts)
      assert.strictEqual(classOf(c), EXPECTED[p].cls)
      const plan = ThresholdRunbook.plan(c as Classification.Classified, facts, options)
      assert.deepStrictEqual(Plan.fromJson(Plan.toJson(plan)), plan)
      assert.deepStrictEqual(kinds(plan), EXPECTED[p].kinds)
      expectPlan(plan, path.join(golden, p, "plan.golden"))
    })
  }

  it("certbot: renews the lineage by --cert-name into its live dir, which the install takes, with the restore as undo", () => {
    const plan = planOf(factsFor("certbot_http01"))
    const [renew, install] = Plan.actions(plan.root).map((a) => a.action)
    const params = renew!.params as { renewer: string; name: string; outDir: string; challenge: unknown }
    assert.strictEqual(params.renewer, "certbot")
    assert.strictEqual(params.outDir, `/etc/letsencrypt/live/${params.name}`)
    assert.deepStrictEqual((install!.params as { source: unknown }).source, { cert: `${params.outDir}/fullchain.pem`, key: `${params.outDir}/privkey.pem` })
    assert.strictEqual(install!.undo?.kind, "tls.nginx.restoreCertificate")
    const dns = Plan.actions(planOf(factsFor("certbot_dns01")).root)[0]!.action
    assert.deepStrictEqual((dns.params as { challenge: unknown }).challenge, { type: "dns-01", provider: "route53" })
  })

  it("a failed pre-check: escalated with the probe's detail, no action (golden)", () => {
    const facts = factsFor("certbot_http01", { checks: [{ probe: "names_resolve", ok: false, detail: "shop.example.com → 192.0.2.7" }, ok("caa")] })
    const plan = planOf(facts)
    assert.deepStrictEqual(kinds(plan), [])
    assert.strictEqual(plan.root._tag, "Escalate")
    assert.match(plan.root._tag === "Escalate" ? plan.root.reason : "", /names_resolve: shop\.example\.com → 192\.0\.2\.7/)
    expectPlan(plan, path.join(golden, "precheck_failed", "plan.golden"))
  })

  it("IMPORTED ACM certificates escalate (renew where issued); PRIVATE ones RenewCertificate", () => {
    const acm = Fact.value(factsFor("aws_acm").acm)!
    assert.deepStrictEqual(kinds(planOf(factsFor("aws_acm", { acm: { ...acm, type: "IMPORTED" } }))), [])
    assert.deepStrictEqual(kinds(planOf(factsFor("aws_acm", { acm: { ...acm, type: "PRIVATE", validation: [] } }))), ["tls.acm.renewCertificate"])
  })

  it("property: any failed check → escalate, no action, whatever the path", () => {
    const probes: ReadonlyArray<PreRenewal.Probe> = ["names_resolve", "zone_owned", "caa", "acm_cnames", "txt_visible"]
    fc.assert(fc.property(
      fc.constantFrom<Path>("cert_manager", "aws_acm", "certbot_http01", "certbot_dns01"),
      fc.array(fc.record({ probe: fc.constantFrom(...probes), ok: fc.boolean(), detail: fc.string() }), { minLength: 1, maxLength: 5 }),
      fc.constantFrom<ThresholdRunbook.Severity>("warning", "critical"),
      (p, checks, severity) => {
        const plan = planOf(factsFor(p, { checks, severity }))
        if (checks.some((c) => !c.ok)) {
          assert.deepStrictEqual(kinds(plan), [])
          assert.strictEqual(plan.root._tag, "Escalate")
        } else {
          assert.deepStrictEqual(kinds(plan), EXPECTED[p].kinds)
        }
      }
    ), { numRuns: 200 })
  })
})

describe("tls.expiry.threshold: the runbook", () => {
  it("family tls, the expiring signal, dry_run by default, off by default beside seven-class, on when enabled", () => {
    const rb = ThresholdRunbook.make({ endpoints: [] })
    assert.strictEqual(rb.id, "tls.expiry.threshold")
    assert.strictEqual(rb.family, "tls")
    assert.deepStrictEqual([...rb.signals], ["tls.cert_expiring_soon"])
    assert.strictEqual(rb.defaultMode, "dry_run")
    for (const cls of ThresholdRunbook.CLASSES) assert.isDefined(rb.verify(cls))
    const sc = SevenClassRunbook.make({ endpoints: [] })
    const byDefault = Catalog.make([rb as never, sc as never])
    assert.isFalse(byDefault.entries.find((e) => e.runbook.id === rb.id)!.enabled)
    assert.isTrue(byDefault.entries.find((e) => e.runbook.id === sc.id)!.enabled)
    const enabled = Catalog.make([rb as never, sc as never], { enable: [rb.id] })
    assert.isTrue(enabled.entries.find((e) => e.runbook.id === rb.id)!.enabled)
  })
})

describe("tls.expiry.threshold: near misses at 14 d and 7 d ± 1 min (TestClock)", () => {
  const notAfter = Date.UTC(2027, 0, 31, 12, 0, 0)
  const MIN = 60_000
  const cases: ReadonlyArray<readonly [string, number, ThresholdRunbook.Severity | null, number | undefined]> = [
    ["14 d + 1 min", 14 * DAY + MIN, null, undefined],
    ["14 d − 1 min", 14 * DAY - MIN, "warning", 14],
    ["7 d + 1 min", 7 * DAY + MIN, "warning", 14],
    ["7 d − 1 min", 7 * DAY - MIN, "critical", 7]
  ]
  for (const [label, left, severity, fires] of cases) {
    it.effect(`${label}: severity ${severity ?? "none"}, the detector fires ${fires ?? "nothing"}`, () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(notAfter - left)
        const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
        assert.strictEqual(ThresholdRunbook.severityOf(notAfter, now), severity)
        const t = CertificateSignals.expiryThreshold(notAfter, now, [ThresholdRunbook.DEFAULT_WARNING_DAYS, ThresholdRunbook.DEFAULT_CRITICAL_DAYS], [])
        assert.strictEqual(t.fires, fires)
        const c = ThresholdRunbook.classify()(factsFor("certbot_http01", { severity }))
        assert.strictEqual(classOf(c), severity === null ? "Unclassified" : "certbot")
      }))
  }
  it("an expired certificate is critical; configurable thresholds", () => {
    assert.strictEqual(ThresholdRunbook.severityOf(notAfter, notAfter + MIN), "critical")
    assert.strictEqual(ThresholdRunbook.severityOf(notAfter, notAfter - 5 * DAY, { criticalDays: 4 }), "warning")
    assert.strictEqual(ThresholdRunbook.severityOf(notAfter, notAfter - 20 * DAY, { warningDays: 21 }), "warning")
  })
})

describe("tls.expiry.threshold: the detector and the diagnosis on a served certificate at the edges (TestClock)", () => {
  it.effect("14 d / 7 d ± 1 min: the detector fires 14 then 7, the diagnosed severity and class follow", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const notAfter = Math.floor(pki.now / 1000) * 1000 + 60 * DAY
      const leaf = yield* pki.leaf({ names: ["app.test"], issuer: pki.intermediate, notAfter })
      const server = yield* serve({ cert: leaf.cert + pki.intermediate.cert, key: leaf.key })
      const endpoint: ThresholdRunbook.Endpoint = {
        host: "127.0.0.1", port: server.port, servername: "app.test", server: nginx, webroot: "/var/www/acme",
        files: { cert: "/etc/letsencrypt/live/app.test/fullchain.pem", key: "/etc/letsencrypt/live/app.test/privkey.pem" }
      }
      const resolver: Caa.Resolver = { addresses: async () => ["127.0.0.1"], caa: async () => [] }
      const o: ThresholdRunbook.Options = { endpoints: [endpoint], ca: [pki.root.cert], resolver }
      const memory = new Map<string, ReadonlyArray<number>>()
      const at = (t: number) =>
        Effect.gen(function*() {
          yield* TestClock.setTime(t)
          const signals = yield* CertificateSignals.pollOnce({ host: endpoint.host, port: endpoint.port, servername: endpoint.servername, ca: [pki.root.cert], thresholdDays: [14, 7] }, memory)
          const signal = Signal.make({ type: CertificateSignals.SIGNAL_EXPIRING_SOON, target: CertificateSignals.targetOf(endpoint), observedAt: t, source: "test", evidence: {} })
          const facts = yield* ThresholdRunbook.diagnose(o)(signal)
          return { fired: signals.filter((x) => x.type === CertificateSignals.SIGNAL_EXPIRING_SOON).map((x) => x.evidence["thresholdDays"]), severity: Fact.value(facts.severity), cls: classOf(ThresholdRunbook.classify()(facts)), facts }
        })
      const MIN = 60_000
      const a = yield* at(notAfter - 14 * DAY - MIN)
      assert.deepStrictEqual([a.fired, a.severity, a.cls], [[], null, "Unclassified"])
      const b = yield* at(notAfter - 14 * DAY + MIN)
      assert.deepStrictEqual([b.fired, b.severity, b.cls], [[14], "warning", "certbot"])
      assert.deepStrictEqual(Fact.value(b.facts.checks)!.map((c) => [c.probe, c.ok]), [["names_resolve", true], ["caa", true]])
      assert.strictEqual(Fact.value(b.facts.snapshot)!.served !== undefined && "chain" in Fact.value(b.facts.snapshot)!.served! ? (Fact.value(b.facts.snapshot)!.served as { chain: ReadonlyArray<{ fingerprint256: string }> }).chain[0]!.fingerprint256 : "", Fact.value(b.facts.leaf)!.fingerprint256)
      const c = yield* at(notAfter - 7 * DAY - MIN)
      assert.deepStrictEqual([c.fired, c.severity, c.cls], [[], "warning", "certbot"])
      const d = yield* at(notAfter - 7 * DAY + MIN)
      assert.deepStrictEqual([d.fired, d.severity, d.cls], [[7], "critical", "certbot"])
    }).pipe(Effect.scoped))
})

describe("CAA (RFC 8659)", () => {
  const resolverOf = (zone: Record<string, ReadonlyArray<Caa.Record>>): Caa.Resolver & { asked: Array<string> } => {
    const asked: Array<string> = []
    return { asked, addresses: async () => [], caa: async (n) => (asked.push(n), zone[n] ?? []) }
  }
  const issue = (value: string, flags = 0): Caa.Record => ({ flags, tag: "issue", value })
  const wild = (value: string): Caa.Record => ({ flags: 0, tag: "issuewild", value })
  const run = (r: Caa.Resolver, name: string, ids: ReadonlyArray<string> = ["letsencrypt.org"]) => Effect.runPromise(Caa.check(r, name, ids))

  it("climbs from the name to its parents and stops at the first non-empty RRset", async () => {
    const r = resolverOf({ "example.com": [issue("letsencrypt.org")], "shop.example.com": [] })
    const d = await run(r, "a.shop.example.com")
    assert.deepStrictEqual(r.asked, ["a.shop.example.com", "shop.example.com", "example.com"])
    assert.isTrue(d.permitted)
    assert.strictEqual(d.relevantAt, "example.com")
    const closer = resolverOf({ "shop.example.com": [issue("sectigo.com")], "example.com": [issue("letsencrypt.org")] })
    const denied = await run(closer, "shop.example.com")
    assert.isFalse(denied.permitted, "the closest RRset wins over a permissive parent")
    assert.deepStrictEqual(closer.asked, ["shop.example.com"])
  })

  it("no CAA anywhere: permitted; only iodef: not restricted; `;` names no CA", async () => {
    assert.isTrue((await run(resolverOf({}), "shop.example.com")).permitted)
    assert.isTrue((await run(resolverOf({ "example.com": [{ flags: 0, tag: "iodef", value: "mailto:sec@example.com" }] }), "shop.example.com")).permitted)
    assert.isFalse((await run(resolverOf({ "example.com": [issue(";")] }), "shop.example.com")).permitted)
  })

  it("issuewild governs wildcards when present, else issue; issuewild never restricts a plain name", async () => {
    const zone = { "example.com": [issue("letsencrypt.org"), wild(";")] }
    assert.isFalse((await run(resolverOf(zone), "*.example.com")).permitted)
    assert.isTrue((await run(resolverOf(zone), "www.example.com")).permitted)
    assert.isTrue((await run(resolverOf({ "example.com": [issue("letsencrypt.org")] }), "*.example.com")).permitted)
    const r = resolverOf({ "example.com": [wild("letsencrypt.org")] })
    assert.isTrue((await run(r, "*.example.com")).permitted)
    assert.deepStrictEqual(r.asked, ["example.com"], "a wildcard's search starts at its base domain")
  })

  it("parameters, case and trailing dots; an unknown critical tag forbids; a DNS error fails", async () => {
    assert.isTrue((await run(resolverOf({ "example.com": [issue("LetsEncrypt.org.; validationmethods=dns-01")] }), "example.com")).permitted)
    assert.isFalse((await run(resolverOf({ "example.com": [issue("letsencrypt.org"), { flags: 128, tag: "tbs", value: "x" }] }), "example.com")).permitted)
    assert.isTrue((await run(resolverOf({ "example.com": [issue("letsencrypt.org"), { flags: 0, tag: "tbs", value: "x" }] }), "example.com")).permitted)
    const broken: Caa.Resolver = { addresses: async () => [], caa: async () => Promise.reject(Object.assign(new Error("timeout"), { code: "ETIMEOUT" })) }
    const r = await Effect.runPromise(PreRenewal.caa(broken, ["example.com"], ["letsencrypt.org"]))
    assert.isFalse(r.ok)
    assert.match(r.detail, /ETIMEOUT/)
  })

  it("climb and issuerOf are pure", () => {
    assert.deepStrictEqual(Caa.climb("*.A.Example.COM."), ["a.example.com", "example.com", "com"])
    assert.strictEqual(Caa.issuerOf(" letsencrypt.org ; accounturi=x"), "letsencrypt.org")
    assert.strictEqual(Caa.issuerOf(";"), "")
  })
})

describe("pre-renewal probes", () => {
  const zones: ReadonlyArray<DnsProvider.Zone> = [{ id: "Z1", name: "example.com" }]
  const provider: DnsProvider.DnsProvider = {
    kind: "route53",
    listZones: Effect.succeed(zones),
    getTxt: () => Effect.succeed([]),
    addTxt: () => Effect.die("no write in a check"),
    removeTxt: () => Effect.die("no write in a check")
  }

  it("zone_owned: a label boundary (notexample.com is not in example.com); never writes", async () => {
    assert.isTrue((await Effect.runPromise(PreRenewal.zoneOwned(provider, ["shop.example.com", "*.example.com"]))).ok)
    const r = await Effect.runPromise(PreRenewal.zoneOwned(provider, ["shop.notexample.com"]))
    assert.isFalse(r.ok)
    assert.match(r.detail, /notexample\.com/)
  })

  it("acm_cnames: every validation CNAME present, else the missing ones named", async () => {
    const records = new Map([["_a.shop.example.com.", "_x.acm-validations.aws."]])
    const dns: Acm.ValidationDns = { getCname: (n) => Effect.succeed(records.get(n)), upsertCname: () => Effect.die("no write in a check") }
    const facts = { arn: "arn:x", validation: [{ domain: "shop.example.com", name: "_a.shop.example.com.", value: "_x.acm-validations.aws." }] }
    assert.isTrue((await Effect.runPromise(PreRenewal.acmCnames(facts, dns))).ok)
    const missing = await Effect.runPromise(PreRenewal.acmCnames({ ...facts, validation: [...facts.validation, { domain: "www.shop.example.com", name: "_b.www.shop.example.com.", value: "_y.acm-validations.aws." }] }, dns))
    assert.isFalse(missing.ok)
    assert.match(missing.detail, /_b\.www\.shop\.example\.com/)
  })

  it("names_resolve: every name to one of the endpoint's addresses; wildcards skipped; no record fails", async () => {
    const a: Record<string, ReadonlyArray<string>> = { "shop.example.com": ["203.0.113.10"], "www.example.com": ["192.0.2.7"], "lb.example.com": ["203.0.113.10"] }
    const r: Caa.Resolver = { addresses: async (n) => a[n] ?? [], caa: async () => [] }
    assert.isTrue((await Effect.runPromise(PreRenewal.namesResolve(r, ["shop.example.com", "*.example.com"], ["203.0.113.10"]))).ok)
    assert.isTrue((await Effect.runPromise(PreRenewal.namesResolve(r, ["shop.example.com"], ["lb.example.com"]))).ok, "a host name is resolved too")
    const wrong = await Effect.runPromise(PreRenewal.namesResolve(r, ["shop.example.com", "www.example.com", "gone.example.com"], ["203.0.113.10"]))
    assert.isFalse(wrong.ok)
    assert.match(wrong.detail, /www\.example\.com → 192\.0\.2\.7/)
    assert.match(wrong.detail, /gone\.example\.com: no A\/AAAA record/)
  })
})

describe("snapshots", () => {
  it("the diff names what changed: leaf, notAfter, file hashes; unchanged fields are left out", () => {
    const served = (fp: string, notAfter: string) => ({ chain: [{ subject: "shop", issuer: "R11", serial: "01", fingerprint256: fp, notAfter }], notAfter, sans: ["shop.example.com"], chainValid: true, staple: "none" })
    const pre: Snapshot.Snapshot = { at: 0, served: served("AA", "2027-01-01T00:00:00.000Z"), files: { "/etc/nginx/tls/shop.pem": "h1", "/etc/nginx/nginx.conf": "c1" }, extra: {} }
    const post: Snapshot.Snapshot = { at: 1, served: served("BB", "2027-04-01T00:00:00.000Z"), files: { "/etc/nginx/tls/shop.pem": "h2", "/etc/nginx/nginx.conf": "c1" }, extra: {} }
    const d = Snapshot.diff(pre, post)
    assert.deepStrictEqual(d.map((c) => c.field), ["file:/etc/nginx/tls/shop.pem", "served.chain", "served.leaf", "served.notAfter"])
    assert.deepStrictEqual(d.find((c) => c.field === "served.leaf"), { field: "served.leaf", before: "AA", after: "BB" })
    assert.deepStrictEqual(Snapshot.diff(pre, pre), [])
  })
})

describe("escalations by severity: warning → OpsChannel, critical → Pager", () => {
  const escalation = (severity: Escalation.Severity, certificate: ThresholdRunbook.Severity | undefined, runbook = ThresholdRunbook.ID): Escalation.Escalation => ({
    incidentId: `inc-${severity}-${certificate}`,
    runbook,
    reason: "the plan failed",
    severity,
    signal: Signal.make({ type: CertificateSignals.SIGNAL_EXPIRING_SOON, target: CertificateSignals.targetOf({ host: "127.0.0.1", port: 443, servername: "shop.example.com" }), observedAt: 0, source: "test", evidence: { thresholdDays: 14 } }),
    facts: certificate === undefined ? {} : { severity: { _tag: "Known", value: certificate } },
    decisions: [], outcomes: [], verdicts: [], nextSteps: [], proposals: [], attachments: [], at: 0
  })

  it.effect("routes by the certificate's severity, leaves other runbooks and info to core", () =>
    Effect.gen(function*() {
      const ops = yield* Sink.memory("ops")
      const pager = yield* Sink.memory("pager")
      const layer = ThresholdRunbook.notifier().pipe(Layer.provide(Layer.merge(Sink.layerOpsChannel(ops), Sink.layerPager(pager))))
      yield* Effect.provide(Effect.gen(function*() {
        const n = yield* Notifier.Notifier
        // core escalates a failed plan as critical: a 14-day (warning) certificate still goes to the ops channel
        yield* n.escalate(escalation("critical", "warning"))
        yield* n.escalate(escalation("warning", "critical"))
        // no severity fact: the signal's threshold (14 days) decides
        yield* n.escalate(escalation("critical", undefined))
        yield* n.escalate(escalation("info", "critical"))
        yield* n.escalate(escalation("warning", "warning", "tls.expiry.seven-class"))
      }), layer)
      const ids = (m: ReadonlyArray<{ kind: string }>) => m.flatMap((x) => (x.kind === "escalation" ? [(x as unknown as { escalation: Escalation.Escalation }).escalation] : []))
      const toOps = ids(yield* ops.messages)
      const toPager = ids(yield* pager.messages)
      assert.deepStrictEqual(toOps.map((e) => [e.incidentId, e.severity]), [["inc-critical-warning", "warning"], ["inc-critical-undefined", "warning"], ["inc-info-critical", "info"]])
      assert.deepStrictEqual(toPager.map((e) => [e.incidentId, e.severity, e.runbook]), [["inc-warning-critical", "critical", ThresholdRunbook.ID], ["inc-warning-warning", "warning", "tls.expiry.seven-class"]])
    }))
})
