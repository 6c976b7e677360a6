/**
 * tls.expiry.end-to-end: a reviewed golden plan per class from the recorded chains
 * (`fixtures/seven-class/<chain>/chain.pem`; goldens in `fixtures/end-to-end/<class>/plan.golden`),
 * read through the runbook's own facts; near misses at every edge (Retry-After ± 1 s under
 * TestClock, a wildcard without a DNS-01 provider, `notexample.com` outside `example.com`, an
 * issuer off the ACME list in a certbot live dir, an acme.sh home, envoy); the never-rules
 * property-tested (pinned, rate limited, unowned zone → no action; a wildcard never by http-01);
 * the catalog default (off) and the staging wrapper.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Catalog, type Classification, Fact, Plan, Signal } from "@byteport/core"
import { expectPlan } from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Effect, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { AcmeShRenewer, CertbotRenewer, Certificate, CertificateSignals, Chain, DnsProvider, EndToEnd, EndToEndRunbook, RenewAction, RenewalSignals, Renewer, SevenClassRunbook } from "../src/index"
import * as Pki from "./pki"
import { serve } from "./server"
import { freePort } from "./support/pebble"
import * as Arb from "./support/arbitraries"
import * as Recorded from "./support/recorded"
import { tmp } from "./support/services"

const chains = path.join(import.meta.dirname, "../fixtures/seven-class")
const goldens = path.join(import.meta.dirname, "../fixtures/end-to-end")
const CLASSES = EndToEnd.CLASSES

/** The recorded chain each class is read from. */
const CHAIN_OF: Record<EndToEnd.EndToEndClass, string> = {
  acme_rate_limited: "acme_rate_limited",
  cert_manager_managed: "cert_manager",
  wildcard_dns01_required: "acme_dns01",
  acme_renewable: "acme_http01",
  internal_ca: "internal_ca",
  commercial_ca_manual: "commercial_ca"
}

const chainOf = (cls: EndToEnd.EndToEndClass) => Recorded.sevenClass(CHAIN_OF[cls])

const nginx = { kind: "nginx" as const, conf: "/etc/nginx/nginx.conf", pidFile: "/run/nginx.pid" }
const options: EndToEndRunbook.Options = {
  endpoints: [],
  account: { directoryUrl: "https://acme-v02.api.letsencrypt.org/directory", email: "ops@example.com" },
  internalCas: [{ name: "Example Corp", organization: "Example Corp" }],
  stagingRoot: "/var/lib/byteport/cert-staging",
  backupRoot: "/var/lib/byteport/cert-backups"
}

type Values = { -readonly [K in keyof EndToEndRunbook.Facts]: EndToEndRunbook.Facts[K] }

const factsFor = (cls: EndToEnd.EndToEndClass, overrides: Partial<Values> = {}): Fact.Facts<EndToEndRunbook.Facts> => {
  const recorded = chainOf(cls)
  const leaf = recorded.leaf
  const bare = leaf.dnsNames[0]!.replace("*.", "")
  const servername = leaf.dnsNames.find((n) => !n.startsWith("*.")) ?? `www.${bare}`
  const files = { cert: `/etc/nginx/tls/${bare}.pem`, key: `/etc/nginx/tls/${bare}.key` }
  let endpoint: EndToEndRunbook.Endpoint = { host: "203.0.113.10", port: 443, servername, server: nginx, files }
  if (cls === "acme_renewable") endpoint = { ...endpoint, webroot: "/var/www/acme" }
  if (cls === "wildcard_dns01_required") endpoint = { ...endpoint, dnsProvider: "route53" }
  if (cls === "cert_manager_managed") endpoint = { host: "203.0.113.10", port: 443, servername, secret: { namespace: "shop", name: "app-tls" } }
  const verdict = Recorded.verdictOf(recorded, servername)
  const v: Values = {
    endpoint,
    leaf,
    publicChain: verdict.valid && cls !== "internal_ca",
    certPath: endpoint.files?.cert ?? null,
    rateLimit: cls === "acme_rate_limited" ? { domain: bare, retryAfter: leaf.notBefore + 3_600_000 } : null,
    certManager: cls === "cert_manager_managed" ? { namespace: "shop", name: "app-tls", uid: "5f0c0c5e-8d7a-4c1e-9d2b-1f6a0e2b7c11", revision: 3 } : null,
    dnsProvider: endpoint.dnsProvider ?? null,
    pinned: false,
    diagnosis: {
      subjectCN: leaf.subjectCN ?? null, issuerO: leaf.issuerO ?? null, issuerCN: leaf.issuerCN ?? null, notAfter: new Date(leaf.notAfter).toISOString(),
      sans: leaf.dnsNames, chainValid: verdict.valid, chainProblems: [], chainLength: recorded.served.length, staple: "none", certFile: endpoint.files?.cert ?? null, process: "nginx (pid 812)"
    },
    zone: endpoint.dnsProvider !== undefined ? { provider: "route53", owned: { [`_acme-challenge.${bare}`]: bare }, unowned: [], zones: [bare] } : null,
    secretVersion: null,
    ...overrides
  }
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, Fact.known(x)])) as unknown as Fact.Facts<EndToEndRunbook.Facts>
}

const classified = (facts: Fact.Facts<EndToEndRunbook.Facts>, o: EndToEnd.Options = options): Classification.Classification => EndToEnd.classify(o)(facts)
const classOf = (c: Classification.Classification) => (c._tag === "Classified" ? c.class : c._tag)
const planOf = (facts: Fact.Facts<EndToEndRunbook.Facts>, o: EndToEndRunbook.Options = options) => {
  const c = classified(facts, o)
  assert.strictEqual(c._tag, "Classified", JSON.stringify(c))
  return EndToEndRunbook.plan(c as Classification.Classified, facts, o)
}
const kinds = (p: Plan.Plan) => Plan.actions(p.root).map((a) => a.action.kind)
const escalation = (p: Plan.Plan) => (p.root._tag === "Escalate" ? p.root.reason : "")

const EXPECTED_ACTIONS: Record<EndToEnd.EndToEndClass, ReadonlyArray<string>> = {
  acme_rate_limited: [],
  cert_manager_managed: ["tls.certManager.renew"],
  wildcard_dns01_required: ["tls.renew", "tls.nginx.installCertificate"],
  acme_renewable: ["tls.renew", "tls.nginx.installCertificate"],
  internal_ca: [],
  commercial_ca_manual: []
}

describe("tls.expiry.end-to-end: golden plans from recorded chains", () => {
  it("the seed's first-match order after the rate-limit guard, each at ≥ 0.70", () => {
    assert.deepStrictEqual([...new Set(EndToEnd.rules().map((r) => r.class))], [...CLASSES])
    assert.deepStrictEqual(CLASSES.slice(1), ["cert_manager_managed", "wildcard_dns01_required", "acme_renewable", "internal_ca", "commercial_ca_manual"])
    for (const r of EndToEnd.rules()) assert.isAtLeast(r.confidence as number, 0.7, r.class)
  })

  for (const cls of CLASSES) {
    it(`${cls}: classified from the recorded chain, and the plan is the golden one`, () => {
      const facts = factsFor(cls)
      const c = classified(facts)
      assert.strictEqual(classOf(c), cls)
      assert.strictEqual(c._tag === "Classified" ? c.confidence : 0, EndToEnd.CONFIDENCE[cls])
      const plan = EndToEndRunbook.plan(c as Classification.Classified, facts, options)
      assert.deepStrictEqual(Plan.fromJson(Plan.toJson(plan)), plan)
      assert.deepStrictEqual(kinds(plan), EXPECTED_ACTIONS[cls])
      expectPlan(plan, path.join(goldens, cls, "plan.golden"))
    })
  }

  it("renewal: certbot by default into its own staging dir, http-01 by the webroot; the install takes it from there with its restore as undo and the configured backup root", () => {
    const plan = planOf(factsFor("acme_renewable"))
    const [renew, install] = Plan.actions(plan.root).map((a) => a.action)
    const p = renew!.params as { renewer: string; outDir: string; challenge: unknown; name?: string }
    assert.strictEqual(p.renewer, "certbot")
    assert.isUndefined(p.name)
    assert.deepStrictEqual(p.challenge, { type: "http-01", mode: "webroot", webroot: "/var/www/acme" })
    const ip = install!.params as { source: unknown; backupRoot: string }
    assert.deepStrictEqual(ip.source, { cert: `${p.outDir}/fullchain.pem`, key: `${p.outDir}/privkey.pem` })
    assert.strictEqual(ip.backupRoot, "/var/lib/byteport/cert-backups")
    assert.strictEqual(install!.undo?.kind, "tls.nginx.restoreCertificate")
  })

  it("wildcard: dns-01 through the configured provider, never http-01", () => {
    const plan = planOf(factsFor("wildcard_dns01_required"))
    const renew = Plan.actions(plan.root)[0]!.action
    assert.deepStrictEqual((renew.params as { challenge: unknown }).challenge, { type: "dns-01", provider: "route53" })
    assert.include((renew.params as { domains: Array<string> }).domains, "*.example.com")
  })

  it("a certbot live file keeps its lineage name; an acme.sh home picks acme.sh; a fallback renewer becomes a Fallback step", () => {
    const live = "/etc/letsencrypt/live/shop-lineage/fullchain.pem"
    const e = (factsFor("acme_renewable").endpoint as Fact.Known<EndToEndRunbook.Endpoint>).value
    const byCertbot = planOf(factsFor("acme_renewable", { certPath: live, endpoint: { ...e, files: { cert: live, key: "/etc/letsencrypt/live/shop-lineage/privkey.pem" } } }))
    assert.strictEqual((Plan.actions(byCertbot.root)[0]!.action.params as { name?: string }).name, "shop-lineage")
    const home = "/root/.acme.sh/shop.example.com_ecc/fullchain.cer"
    const byAcmeSh = planOf(factsFor("acme_renewable", { certPath: home }))
    assert.strictEqual((Plan.actions(byAcmeSh.root)[0]!.action.params as { renewer: string }).renewer, "acme.sh")
    const withFallback = planOf(factsFor("acme_renewable"), { ...options, fallbackRenewer: "acme.sh" })
    assert.strictEqual(withFallback.root._tag, "Seq")
    const first = withFallback.root._tag === "Seq" ? withFallback.root.steps[0]! : withFallback.root
    assert.strictEqual(first._tag, "Fallback")
    assert.deepStrictEqual(Plan.actions(withFallback.root).map((a) => (a.action.params as { renewer?: string }).renewer ?? a.action.kind), ["certbot", "acme.sh", "tls.nginx.installCertificate"])
  })

  it("dns-01 by the clients' own plugins: certbot --dns-route53, acme.sh --dns dns_aws (the zone still checked through the provider); acme-client writes through the provider", () => {
    const e = (factsFor("wildcard_dns01_required").endpoint as Fact.Known<EndToEndRunbook.Endpoint>).value
    const facts = factsFor("wildcard_dns01_required", { endpoint: { ...e, dnsPlugin: { plugin: "route53", propagationSeconds: 30 } } })
    const plan = planOf(facts, { ...options, fallbackRenewer: "acme.sh" })
    const renews = Plan.actions(plan.root).filter((a) => a.action.kind === RenewAction.KIND).map((a) => a.action.params as RenewAction.Params)
    assert.deepStrictEqual(renews.map((p) => [p.renewer, p.challenge]), [
      ["certbot", { type: "dns-01", plugin: "route53", propagationSeconds: 30 }],
      ["acme.sh", { type: "dns-01", plugin: "route53", propagationSeconds: 30 }]
    ])
    const request = RenewAction.requestOf(renews[0]!, {})
    assert.notStrictEqual(typeof request, "string")
    const r = request as Renewer.RenewRequest
    const certbotArgv = CertbotRenewer.argv(r, {}, "certonly")
    assert.includeMembers([...certbotArgv], ["--dns-route53", "--dns-route53-propagation-seconds", "30"])
    assert.include(AcmeShRenewer.argv(r, {}, "issue").join(" "), "--dns dns_aws")
    const byAcmeClient = planOf(facts, { ...options, renewer: "acme-client" })
    assert.deepStrictEqual((Plan.actions(byAcmeClient.root)[0]!.action.params as RenewAction.Params).challenge, { type: "dns-01", provider: "route53" })
    // an unowned zone refuses the plugin route too
    const unowned = factsFor("wildcard_dns01_required", { endpoint: { ...e, dnsPlugin: { plugin: "route53" } }, zone: { provider: "route53", owned: {}, unowned: ["_acme-challenge.example.com"], zones: ["example.org"] } })
    assert.deepStrictEqual(kinds(planOf(unowned)), [])
  })

  it("a plain ingress Secret is reloaded by the Secret write (resourceVersion precondition); envoy / traefik escalate before any order", () => {
    const e = (factsFor("acme_renewable").endpoint as Fact.Known<EndToEndRunbook.Endpoint>).value
    const { server: _s, files: _f, ...bare } = e
    const ingress = planOf(factsFor("acme_renewable", { endpoint: { ...bare, secret: { namespace: "web", name: "shop-tls" } }, secretVersion: "4711" }))
    assert.deepStrictEqual(kinds(ingress), ["tls.renew", "tls.kubernetes.installSecret"])
    assert.deepStrictEqual(Plan.actions(ingress.root)[1]!.action.precondition, { resourceVersion: "4711", servedFingerprint: (factsFor("acme_renewable").leaf as Fact.Known<Certificate.Certificate>).value.fingerprint256 })
    for (const serves of ["envoy", "traefik"] as const) {
      const p = planOf(factsFor("acme_renewable", { endpoint: { ...e, serves } }))
      assert.deepStrictEqual(kinds(p), [])
      assert.match(escalation(p), new RegExp(`served by ${serves}`))
    }
    const nothing = planOf(factsFor("acme_renewable", { endpoint: bare }))
    assert.deepStrictEqual(kinds(nothing), [])
  })

  it("envoy / traefik with their configuration: renewed, then the file-SDS rename / the file-provider rewrite (undo: the previous files back)", () => {
    const e = (factsFor("acme_renewable").endpoint as Fact.Known<EndToEndRunbook.Endpoint>).value
    const envoy = planOf(factsFor("acme_renewable", { endpoint: { ...e, serves: "envoy", envoy: { sdsPath: "/etc/envoy/sds/server.json", secretName: "server_cert" } } }))
    assert.deepStrictEqual(kinds(envoy), ["tls.renew", "tls.envoy.installCertificate"])
    assert.strictEqual(Plan.actions(envoy.root)[1]!.action.undo?.kind, "tls.envoy.restoreCertificate")
    assert.match(envoy.summary, /envoy \(file SDS\)/)
    const traefik = planOf(factsFor("acme_renewable", { endpoint: { ...e, serves: "traefik", traefik: { dynamicConfig: "/etc/traefik/dynamic.yml", certFile: "/etc/traefik/shop.crt", keyFile: "/etc/traefik/shop.key" } } }))
    assert.deepStrictEqual(kinds(traefik), ["tls.renew", "tls.traefik.installCertificate"])
    assert.strictEqual(Plan.actions(traefik.root)[1]!.action.undo?.kind, "tls.traefik.restoreCertificate")
    // the other proxy's configuration does not count
    const wrong = planOf(factsFor("acme_renewable", { endpoint: { ...e, serves: "traefik", envoy: { sdsPath: "/etc/envoy/sds/server.json", secretName: "server_cert" } } }))
    assert.deepStrictEqual(kinds(wrong), [])
    assert.match(escalation(wrong), /served by traefik/)
    // not configured as `serves`: the process diagnosis saw listening decides (never nginx's install for an envoy port)
    const diag = (factsFor("acme_renewable").diagnosis as Fact.Known<EndToEndRunbook.Diagnosis>).value
    const seen = (process: string, endpoint: EndToEndRunbook.Endpoint) => planOf(factsFor("acme_renewable", { endpoint, diagnosis: { ...diag, process } }))
    assert.deepStrictEqual(kinds(seen("envoy (pid 4242)", e)), [])
    assert.match(escalation(seen("traefik (pid 7)", e)), /served by traefik/)
    assert.deepStrictEqual(kinds(seen("envoy (pid 4242)", { ...e, envoy: { sdsPath: "/etc/envoy/sds/server.json", secretName: "server_cert" } })), ["tls.renew", "tls.envoy.installCertificate"])
    assert.deepStrictEqual(kinds(seen("nginx (pid 812)", e)), ["tls.renew", "tls.nginx.installCertificate"])
  })
})

describe("tls.expiry.end-to-end: the runbook", () => {
  it.effect("verify at the edge under TestClock: notAfter = now + 30 d + 1 min Recovered (handshake first), − 1 min NotRecovered on notAfter", () =>
    Effect.gen(function*() {
      const DAY = 86_400_000
      const pki = yield* Pki.make
      const notAfter = Math.floor((pki.now + 200 * DAY) / 1000) * 1000
      const issued = yield* pki.leaf({ names: ["edge.test"], issuer: pki.intermediate, notAfter })
      const { port } = yield* serve({ cert: issued.cert + pki.intermediate.cert, key: issued.key })
      const endpoint: EndToEndRunbook.Endpoint = { host: "127.0.0.1", port, servername: "edge.test", expectStaple: false }
      const facts = factsFor("acme_renewable", { endpoint })
      const c = classified(facts) as Classification.Classified
      const ctx = {
        incidentId: "inc-edge", signal: Signal.make({ type: "tls.cert_expiring_soon", target: CertificateSignals.targetOf(endpoint), observedAt: 0, source: "test", evidence: {} }),
        facts, classification: c, plan: EndToEndRunbook.plan(c, facts, options), outcomes: [], applied: [], since: 0, attempt: 1
      }
      const verify = EndToEndRunbook.verify({ ...options, ca: [pki.root.cert] })
      yield* TestClock.setTime(notAfter - 30 * DAY - 60_000)
      const ok = yield* verify(ctx)
      assert.strictEqual(ok._tag, "Recovered", JSON.stringify(ok))
      assert.deepStrictEqual(ok.checks.map((x) => x.name), ["handshake", "new leaf", "notAfter > now + 30 d", "chain valid", "OCSP staple"])
      yield* TestClock.setTime(notAfter - 30 * DAY + 60_000)
      const late = yield* verify(ctx)
      assert.strictEqual(late._tag, "NotRecovered")
      assert.deepStrictEqual(late.checks.filter((x) => !x.ok).map((x) => x.name), ["notAfter > now + 30 d"])
    }).pipe(Effect.scoped), 20_000)


  it.live("verify: no handshake is NotRecovered on the `handshake` check (so core rolls back), never Inconclusive", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(() => freePort())
      const endpoint: EndToEndRunbook.Endpoint = { host: "127.0.0.1", port, servername: "shop.example.com" }
      const facts = factsFor("acme_renewable", { endpoint })
      const c = classified(facts) as Classification.Classified
      const v = yield* EndToEndRunbook.verify(options)({
        incidentId: "inc-1", signal: Signal.make({ type: "tls.cert_expiring_soon", target: CertificateSignals.targetOf(endpoint), observedAt: 0, source: "test", evidence: {} }),
        facts, classification: c, plan: EndToEndRunbook.plan(c, facts, options), outcomes: [], applied: [], since: 0, attempt: 1
      })
      assert.strictEqual(v._tag, "NotRecovered")
      assert.deepStrictEqual(v.checks.map((x) => [x.name, x.ok]), [["handshake", false]])
      assert.match(v.checks[0]!.detail, /refused/)
    }))


  it("family tls, off by default next to seven-class, on by Catalog enable", () => {
    const rb = EndToEndRunbook.make({ endpoints: [] })
    const seven = SevenClassRunbook.make({ endpoints: [] })
    assert.strictEqual(rb.id, "tls.expiry.end-to-end")
    assert.strictEqual(rb.family, "tls")
    assert.strictEqual(rb.defaultMode, "dry_run")
    assert.deepStrictEqual([...rb.signals].sort(), ["tls.cert_expired", "tls.cert_expiring_soon"])
    assert.isDefined(rb.verify("acme_renewable"))
    assert.isDefined(rb.verify("wildcard_dns01_required"))
    assert.isDefined(rb.verify("cert_manager_managed"))
    assert.isUndefined(rb.verify("commercial_ca_manual"))
    const byDefault = Catalog.make([seven as never, rb as never])
    assert.isFalse(byDefault.entries.find((e) => e.runbook.id === rb.id)!.enabled)
    assert.isTrue(byDefault.entries.find((e) => e.runbook.id === seven.id)!.enabled)
    const enabled = Catalog.make([seven as never, rb as never], { enable: [rb.id] })
    assert.isTrue(enabled.entries.find((e) => e.runbook.id === rb.id)!.enabled)
  })
})

describe("tls.expiry.end-to-end: near misses", () => {
  const limitedAt = (now: number, retryAfter: number) =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const memory = new Map([[RenewalSignals.rateLimitKey("shop.example.com"), { domain: "shop.example.com", retryAfter, url: undefined }]])
      const limit = yield* RenewalSignals.inForce(["shop.example.com", "www.shop.example.com"], memory)
      return classified(factsFor("acme_renewable", { rateLimit: limit === undefined ? null : { domain: limit.domain, retryAfter: limit.retryAfter } }))
    })

  it.effect("Retry-After − 1 s: acme_rate_limited (no order); at it and + 1 s: acme_renewable again", () =>
    Effect.gen(function*() {
      const retryAfter = Date.UTC(2026, 11, 7, 12, 0, 0)
      assert.strictEqual(classOf(yield* limitedAt(retryAfter - 1000, retryAfter)), "acme_rate_limited")
      assert.strictEqual(classOf(yield* limitedAt(retryAfter, retryAfter)), "acme_renewable")
      assert.strictEqual(classOf(yield* limitedAt(retryAfter + 1000, retryAfter)), "acme_renewable")
    }))

  it("a rate limit wins over cert-manager, a wildcard and the CA classes", () => {
    for (const cls of ["cert_manager_managed", "wildcard_dns01_required", "internal_ca", "commercial_ca_manual"] as const) {
      assert.strictEqual(classOf(classified(factsFor(cls, { rateLimit: { domain: "x.example.com", retryAfter: 1 } }))), "acme_rate_limited", cls)
    }
  })

  it("cert-manager wins over a wildcard with a provider (first match)", () => {
    const cm = (factsFor("cert_manager_managed").certManager as Fact.Known<EndToEnd.Facts["certManager"]>).value
    assert.strictEqual(classOf(classified(factsFor("wildcard_dns01_required", { certManager: cm }))), "cert_manager_managed")
  })

  it("a wildcard without a DNS-01 provider: acme_renewable, escalated at once, no action", () => {
    const facts = factsFor("wildcard_dns01_required", { dnsProvider: null, zone: null })
    const plan = planOf(facts)
    assert.strictEqual(plan.class, "acme_renewable")
    assert.deepStrictEqual(kinds(plan), [])
    assert.match(escalation(plan), /no DNS-01 provider/)
  })

  it("zone ownership on a label boundary: notexample.com is not in example.com → refused, no order, no record", () =>
    Effect.gen(function*() {
      const listed: Array<string> = []
      const provider: DnsProvider.DnsProvider = {
        kind: "route53",
        listZones: Effect.sync(() => { listed.push("list"); return [{ id: "Z1", name: "example.com" }] }),
        getTxt: () => Effect.die("no read"),
        addTxt: () => Effect.die("no write"),
        removeTxt: () => Effect.die("no write")
      }
      const inZone = yield* EndToEndRunbook.zoneCheck("route53", provider, ["*.example.com", "example.com"])
      assert.deepStrictEqual(inZone.unowned, [])
      assert.deepStrictEqual(inZone.owned, { "_acme-challenge.example.com": "example.com" })
      const outside = yield* EndToEndRunbook.zoneCheck("route53", provider, ["*.notexample.com"])
      assert.deepStrictEqual(outside.unowned, ["_acme-challenge.notexample.com"])
      const plan = planOf(factsFor("wildcard_dns01_required", { zone: outside }))
      assert.deepStrictEqual(kinds(plan), [])
      assert.match(escalation(plan), /refused: route53 owns no zone containing _acme-challenge\.notexample\.com/)
      // zones unknown (the provider failed): escalate too, never order blind
      const unknown = { ...factsFor("wildcard_dns01_required"), zone: Fact.unknown("DNS zones", "HTTP 500") }
      assert.deepStrictEqual(kinds(planOf(unknown)), [])
      assert.strictEqual(listed.length, 2)
    }).pipe(Effect.runSync))

  it("issuer off the ACME list but the file is in a certbot live dir: acme_renewable (0.85); in archive/: commercial_ca_manual", () => {
    const live = classified(factsFor("commercial_ca_manual", { certPath: "/etc/letsencrypt/live/bank.example.com/fullchain.pem" }))
    assert.strictEqual(classOf(live), "acme_renewable")
    assert.strictEqual(live._tag === "Classified" ? live.confidence : 0, 0.85)
    const archive = classified(factsFor("commercial_ca_manual", { certPath: "/etc/letsencrypt/archive/bank.example.com/fullchain1.pem" }))
    assert.strictEqual(classOf(archive), "commercial_ca_manual")
  })

  it("no public chain and no known issuer: Unclassified; the internal CA only when configured; an unknown handshake is Indeterminate", () => {
    assert.strictEqual(classified(factsFor("commercial_ca_manual", { publicChain: false }))._tag, "Unclassified")
    assert.strictEqual(classOf(classified(factsFor("internal_ca"))), "internal_ca")
    assert.strictEqual(classified(factsFor("internal_ca"), { ...options, internalCas: [] })._tag, "Unclassified")
    assert.strictEqual(classified({ ...factsFor("acme_renewable"), leaf: Fact.unknown("handshake", "ECONNREFUSED") })._tag, "Indeterminate")
  })

  it("internal and commercial CAs escalate with what a CSR needs", () => {
    for (const cls of ["internal_ca", "commercial_ca_manual"] as const) {
      const plan = planOf(factsFor(cls))
      assert.strictEqual(plan.root._tag, "Escalate")
      assert.match(plan.root._tag === "Escalate" ? plan.root.nextSteps.join(" ") : "", /a CSR for CN=.* with SANs /)
    }
  })
})

describe("tls.expiry.end-to-end: never-rules (property)", () => {
  it("pinned or rate limited: no action, whatever the class; an unowned zone: no renewal; a wildcard is never renewed by http-01", () => {
    fc.assert(fc.property(
      fc.constantFrom(...CLASSES),
      Arb.provider,
      fc.boolean(),
      fc.boolean(),
      fc.boolean(),
      Arb.webroot,
      (cls, provider, pinned, limited, unowned, webroot) => {
        const base = factsFor(cls) as unknown as Record<string, Fact.Known<unknown>>
        const endpoint = { ...(base["endpoint"]!.value as EndToEndRunbook.Endpoint), ...(webroot !== undefined ? { webroot } : {}), ...(provider !== null ? { dnsProvider: provider } : {}) }
        const zone = provider === null ? null : { provider, owned: {}, unowned: unowned ? ["_acme-challenge.example.com"] : [], zones: ["example.org"] }
        const facts = factsFor(cls, { dnsProvider: provider, endpoint, zone, pinned, ...(limited ? { rateLimit: { domain: "x", retryAfter: 1 } } : {}) })
        const c = classified(facts)
        if (c._tag !== "Classified") return true
        const plan = EndToEndRunbook.plan(c, facts, options)
        const renews = Plan.actions(plan.root).filter((a) => a.action.kind === RenewAction.KIND)
        if (pinned || limited) return kinds(plan).length === 0 && plan.root._tag === "Escalate"
        // an unowned zone: no ACME order of ours (cert-manager's issuer solves with its own DNS credentials)
        if (provider !== null && unowned && renews.length > 0) return false
        const leaf = (facts.leaf as Fact.Known<Certificate.Certificate>).value
        if (leaf.dnsNames.some((n) => n.startsWith("*."))) {
          // a wildcard without a DNS-01 provider is never renewed (escalated); with one, only by dns-01
          if (provider === null && renews.length > 0) return false
          return renews.every((a) => (a.action.params as { challenge: { type: string } }).challenge.type === "dns-01")
        }
        return true
      }
    ), { numRuns: 300 })
  })

  it("a commercial or internal CA: escalated with what a CSR needs, never an order or a write, whatever the issuer names and the endpoint's renewal options", () => {
    fc.assert(fc.property(
      fc.constantFrom("internal_ca", "commercial_ca_manual") as fc.Arbitrary<"internal_ca" | "commercial_ca_manual">,
      Arb.manualCa,
      (cls, { issuer, provider, webroot }) => {
        const base = factsFor(cls) as unknown as Record<string, Fact.Known<unknown>>
        const leaf = Arb.withIssuer(base["leaf"]!.value as Certificate.Certificate, cls === "internal_ca", issuer)
        const endpoint = { ...(base["endpoint"]!.value as EndToEndRunbook.Endpoint), ...(webroot !== undefined ? { webroot } : {}), ...(provider !== null ? { dnsProvider: provider } : {}) }
        const facts = factsFor(cls, { leaf, endpoint, dnsProvider: provider })
        const c = classified(facts)
        if (classOf(c) !== cls) return false
        const plan = EndToEndRunbook.plan(c as Classification.Classified, facts, options)
        return kinds(plan).length === 0 && plan.root._tag === "Escalate" && /a CSR for CN=/.test(plan.root.nextSteps.join(" "))
      }
    ), { numRuns: 200 })
  })
})

describe("staged", () => {
  it.effect("a renewer keeping its own lineage is staged into outDir (key 0600, dir 0700); PEM-only renewers too", () =>
    Effect.gen(function*() {
      const dir = tmp("byteport-e2e-staged-")
      const live = path.join(dir, "live")
      fs.mkdirSync(live)
      const pki = chainOf("acme_renewable").served
      const fullchain = pki.map((c) => c.toString()).join("\n")
      for (const [f, text] of [["cert.pem", pki[0]!.toString()], ["chain.pem", pki[1]!.toString()], ["fullchain.pem", fullchain], ["privkey.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"]] as const) {
        fs.writeFileSync(path.join(live, f), text)
      }
      const leaf = Certificate.fromX509(pki[0]!)
      const renewed = (files: boolean): Renewer.Renewed => ({
        renewer: "certbot",
        domains: leaf.dnsNames,
        ...(files
          ? { files: { cert: path.join(live, "cert.pem"), chain: path.join(live, "chain.pem"), fullchain: path.join(live, "fullchain.pem"), key: path.join(live, "privkey.pem") } }
          : { pems: { cert: pki[0]!.toString(), chain: pki[1]!.toString(), fullchain, key: Redacted.make("-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n") } }),
        serial: leaf.serial, fingerprint256: leaf.fingerprint256, notBefore: leaf.notBefore, notAfter: leaf.notAfter, challenges: []
      })
      for (const files of [true, false]) {
        const inner: Renewer.Renewer = { kind: "certbot", challenges: ["http-01"], describe: () => "x", renew: () => Effect.succeed(renewed(files)) }
        const out = path.join(dir, `staged-${files}`, "shop.example.com-1")
        const r = yield* EndToEndRunbook.staged(inner).renew({ domains: leaf.dnsNames, outDir: out })
        assert.strictEqual(r.files?.fullchain, path.join(out, "fullchain.pem"))
        assert.strictEqual(fs.readFileSync(path.join(out, "fullchain.pem"), "utf8"), fullchain)
        assert.include(fs.readFileSync(path.join(out, "privkey.pem"), "utf8"), files ? "AAAA" : "BBBB")
        assert.strictEqual(fs.statSync(path.join(out, "privkey.pem")).mode & 0o777, 0o600)
        assert.strictEqual(fs.statSync(out).mode & 0o777, 0o700)
      }
    }))
})
