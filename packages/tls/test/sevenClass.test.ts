/**
 * tls.expiry.seven-class: a reviewed golden plan per class from recorded chains
 * (`fixtures/seven-class/<class>/chain.pem`: recorded from the real servers by `fixtures/record.sh`,
 * two openssl-made: fixtures/README.md), read through the runbook's
 * own facts; near misses at every edge (Retry-After ± 1 s under TestClock, a wildcard without a
 * DNS-01 provider, an issuer off the ACME list in a certbot live dir, no public chain); the
 * never-rules property-tested (pinned → escalate with no action; a wildcard never by http-01; a
 * rate limit in force → no order); `tls.renew` in dry_run makes no order and writes nothing.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Action, Catalog, type Classification, Fact, Plan, Signal } from "@byteport/core"
import { expectPlan } from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Effect, Exit } from "effect"
import { TestClock } from "effect/testing"
import { Certificate, CertificateSignals, Chain, RenewAction, RenewalSignals, Renewer, SevenClass, SevenClassRunbook } from "../src/index"
import { runHandler } from "./support/actions"
import * as Arb from "./support/arbitraries"
import * as Recorded from "./support/recorded"

const root = path.join(import.meta.dirname, "../fixtures/seven-class")
const CLASSES = SevenClass.CLASSES


const nginx = { kind: "nginx" as const, conf: "/etc/nginx/nginx.conf", pidFile: "/run/nginx.pid" }
const options: SevenClassRunbook.Options = {
  endpoints: [],
  account: { directoryUrl: "https://acme-v02.api.letsencrypt.org/directory", email: "ops@example.com" },
  internalCas: [{ name: "Example Corp", organization: "Example Corp" }],
  stagingRoot: "/var/lib/byteport/cert-staging"
}

/** Per class: the endpoint's configuration and the rate limit the store holds. */
const setup = (cls: string, leaf: Certificate.Certificate): { endpoint: SevenClassRunbook.Endpoint; rateLimit: SevenClass.Facts["rateLimit"]; certPath: string | null } => {
  const name = leaf.dnsNames[0]!.replace("*.", "")
  const base = { host: "203.0.113.10", port: 443, servername: leaf.dnsNames.find((n) => !n.startsWith("*."))!, server: nginx, files: { cert: `/etc/nginx/tls/${name}.pem`, key: `/etc/nginx/tls/${name}.key` } }
  switch (cls) {
    case "acme_http01":
      return { endpoint: { ...base, webroot: "/var/www/acme" }, rateLimit: null, certPath: base.files.cert }
    case "acme_dns01":
      return { endpoint: { ...base, dnsProvider: "route53" }, rateLimit: null, certPath: base.files.cert }
    case "acme_rate_limited":
      return { endpoint: base, rateLimit: { domain: name, retryAfter: leaf.notBefore + 3_600_000 }, certPath: base.files.cert }
    case "cert_manager":
      return { endpoint: { ...base, certManager: { namespace: "shop", name: "app-tls", uid: "5f0c0c5e-8d7a-4c1e-9d2b-1f6a0e2b7c11" } }, rateLimit: null, certPath: null }
    case "cloud_managed":
      return {
        endpoint: { ...base, acm: { arn: "arn:aws:acm:eu-west-1:123456789012:certificate/0e4c6f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6", type: "AMAZON_ISSUED", notAfter: leaf.notAfter, domainName: name } },
        rateLimit: null,
        certPath: null
      }
    default:
      return { endpoint: base, rateLimit: null, certPath: base.files.cert }
  }
}

const factsFor = (cls: string, overrides: Partial<{ [K in keyof SevenClassRunbook.Facts]: SevenClassRunbook.Facts[K] }> = {}): Fact.Facts<SevenClassRunbook.Facts> => {
  const recorded = Recorded.sevenClass(cls)
  const leaf = recorded.leaf
  const s = setup(cls, leaf)
  const verdict = Recorded.verdictOf(recorded, s.endpoint.servername)
  const v: SevenClassRunbook.Facts = {
    endpoint: s.endpoint,
    leaf,
    // the recorded chains end in their own root; only the commercial and ACME issuers are public
    publicChain: verdict.valid && cls !== "internal_ca",
    certPath: s.certPath,
    rateLimit: s.rateLimit,
    certManager: s.endpoint.certManager ?? null,
    cloud: s.endpoint.acm ?? null,
    dnsProvider: s.endpoint.dnsProvider ?? null,
    pinned: false,
    ...overrides
  }
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, Fact.known(x)])) as unknown as Fact.Facts<SevenClassRunbook.Facts>
}

const classified = (facts: Fact.Facts<SevenClassRunbook.Facts>, o: SevenClass.Options = options): Classification.Classification => SevenClass.classify(o)(facts)
const planOf = (facts: Fact.Facts<SevenClassRunbook.Facts>, o: SevenClassRunbook.Options = options) => {
  const c = classified(facts, o)
  assert.strictEqual(c._tag, "Classified", JSON.stringify(c))
  return SevenClassRunbook.plan(c as Classification.Classified, facts, o)
}
const kinds = (p: Plan.Plan) => Plan.actions(p.root).map((a) => a.action.kind)

const EXPECTED_ACTIONS: Record<string, ReadonlyArray<string>> = {
  acme_rate_limited: [],
  cert_manager: ["tls.certManager.recreateCertificate"],
  cloud_managed: ["tls.acm.restoreValidation"],
  acme_dns01: ["tls.renew", "tls.nginx.installCertificate"],
  acme_http01: ["tls.renew", "tls.nginx.installCertificate"],
  internal_ca: [],
  commercial_ca: []
}

describe("tls.expiry.seven-class: golden plans from recorded chains", () => {
  it("seven classes in first-match order, each at ≥ 0.70, the rate limit first", () => {
    assert.deepStrictEqual(SevenClass.rules().map((r) => r.class), [...CLASSES])
    assert.strictEqual(CLASSES[0], "acme_rate_limited")
    for (const r of SevenClass.rules()) assert.isAtLeast(r.confidence as number, 0.7, r.class)
    for (const cls of CLASSES) assert.isTrue(fs.existsSync(path.join(root, cls, "chain.pem")), cls)
  })

  for (const cls of CLASSES) {
    it(`${cls}: classified from the recorded chain, and the plan is the golden one`, () => {
      const facts = factsFor(cls)
      const c = classified(facts)
      assert.strictEqual(c._tag === "Classified" ? c.class : c._tag, cls)
      assert.strictEqual(c._tag === "Classified" ? c.confidence : 0, SevenClass.CONFIDENCE[cls])
      const plan = SevenClassRunbook.plan(c as Classification.Classified, facts, options)
      assert.deepStrictEqual(Plan.fromJson(Plan.toJson(plan)), plan)
      assert.deepStrictEqual(kinds(plan), EXPECTED_ACTIONS[cls])
      expectPlan(plan, path.join(root, cls, "plan.golden"))
    })
  }

  it("ACME plans: the renewal stages into its own dir, the install takes it from there, with the restore as undo", () => {
    const plan = planOf(factsFor("acme_http01"))
    const [renew, install] = Plan.actions(plan.root).map((a) => a.action)
    const outDir = (renew!.params as { outDir: string }).outDir
    assert.deepStrictEqual((install!.params as { source: unknown }).source, { cert: `${outDir}/fullchain.pem`, key: `${outDir}/privkey.pem` })
    assert.strictEqual(install!.undo?.kind, "tls.nginx.restoreCertificate")
    assert.deepStrictEqual((renew!.params as { challenge: unknown }).challenge, { type: "http-01", mode: "webroot", webroot: "/var/www/acme" })
  })

  it("envoy (file SDS) / traefik (file provider) configured instead of a server: their install, with its undo; neither configured: escalate", () => {
    const e = (factsFor("acme_http01").endpoint as Fact.Known<SevenClassRunbook.Endpoint>).value
    const { server: _s, files: _f, ...bare } = e
    const envoy = planOf(factsFor("acme_http01", { endpoint: { ...bare, envoy: { sdsPath: "/etc/envoy/sds/server.json", secretName: "server_cert" } } }))
    assert.deepStrictEqual(kinds(envoy), ["tls.renew", "tls.envoy.installCertificate"])
    const [renew, install] = Plan.actions(envoy.root).map((a) => a.action)
    const outDir = (renew!.params as { outDir: string }).outDir
    assert.deepStrictEqual((install!.params as { source: unknown }).source, { cert: `${outDir}/fullchain.pem`, key: `${outDir}/privkey.pem` })
    assert.strictEqual(install!.undo?.kind, "tls.envoy.restoreCertificate")
    const traefik = planOf(factsFor("acme_http01", { endpoint: { ...bare, traefik: { dynamicConfig: "/etc/traefik/dynamic.yml", certFile: "/etc/traefik/shop.crt", keyFile: "/etc/traefik/shop.key" } } }))
    assert.deepStrictEqual(kinds(traefik), ["tls.renew", "tls.traefik.installCertificate"])
    assert.strictEqual(Plan.actions(traefik.root)[1]!.action.undo?.kind, "tls.traefik.restoreCertificate")
    const nothing = planOf(factsFor("acme_http01", { endpoint: bare }))
    assert.deepStrictEqual(kinds(nothing), [])
  })

  it("the signal's endpoint is the configured one (tls-endpoint target; a renewal signal by its name)", () => {
    const e = factsFor("acme_http01").endpoint as Fact.Known<SevenClassRunbook.Endpoint>
    const target = CertificateSignals.targetOf(e.value)
    const signal = Signal.make({ type: CertificateSignals.SIGNAL_EXPIRING_SOON, target, observedAt: 0, source: "test", evidence: {} })
    assert.strictEqual(SevenClassRunbook.endpointOf(signal, [e.value]), e.value)
    const limited = new Renewer.AcmeRateLimited({ renewer: "acme-client", domains: [e.value.servername], message: "rateLimited", retryAfter: 1 })
    const renewal = RenewalSignals.signalOf(limited, { domains: [e.value.servername] }, 0)
    assert.strictEqual(renewal?.type, CertificateSignals.SIGNAL_RENEWAL_RATE_LIMIT_HIT)
    assert.strictEqual(SevenClassRunbook.endpointOf(renewal!, [e.value]), e.value)
    assert.isUndefined(SevenClassRunbook.endpointOf({ ...signal, target: { ...target, ref: `other.example.com@203.0.113.10:443` } }, [e.value]))
  })
})

describe("tls.expiry.seven-class: the runbook", () => {
  it("family tls, the six signals, on by default in a Catalog (the family's first), off when disabled", () => {
    const rb = SevenClassRunbook.make({ endpoints: [] })
    assert.strictEqual(rb.id, "tls.expiry.seven-class")
    assert.strictEqual(rb.family, "tls")
    assert.deepStrictEqual([...rb.signals].sort(), [
      "tls.acme_challenge_failure", "tls.cert_chain_invalid", "tls.cert_expired", "tls.cert_expiring_soon", "tls.ocsp_stapling_failure", "tls.renewal_rate_limit_hit"
    ])
    assert.strictEqual(rb.defaultMode, "dry_run")
    assert.isDefined(rb.verify("acme_http01"))
    assert.isUndefined(rb.verify("internal_ca"))
    const on = Catalog.make([rb as never])
    assert.isTrue(on.entries[0]!.enabled)
    assert.isFalse(Catalog.make([rb as never], { disable: [rb.id] }).entries[0]!.enabled)
  })
})

describe("tls.expiry.seven-class: near misses", () => {
  const limitedAt = (now: number, retryAfter: number) =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const memory = new Map([[RenewalSignals.rateLimitKey("shop.example.com"), { domain: "shop.example.com", retryAfter, url: undefined }]])
      const limit = yield* RenewalSignals.inForce(["shop.example.com", "www.shop.example.com"], memory)
      return classified(factsFor("acme_http01", { rateLimit: limit === undefined ? null : { domain: limit.domain, retryAfter: limit.retryAfter } }))
    })

  it.effect("Retry-After − 1 s: acme_rate_limited and no order; + 1 s: acme_http01 again", () =>
    Effect.gen(function*() {
      const retryAfter = Date.UTC(2026, 11, 7, 12, 0, 0)
      const before = yield* limitedAt(retryAfter - 1000, retryAfter)
      assert.strictEqual(Classification_class(before), "acme_rate_limited")
      const after = yield* limitedAt(retryAfter + 1000, retryAfter)
      assert.strictEqual(Classification_class(after), "acme_http01")
      const atEdge = yield* limitedAt(retryAfter, retryAfter)
      assert.strictEqual(Classification_class(atEdge), "acme_http01")
    }))

  it("a rate limit wins over every other class (cert-manager, ACM, wildcard)", () => {
    for (const cls of ["cert_manager", "cloud_managed", "acme_dns01", "internal_ca"]) {
      const c = classified(factsFor(cls, { rateLimit: { domain: "x.example.com", retryAfter: 1 } }))
      assert.strictEqual(Classification_class(c), "acme_rate_limited", cls)
    }
  })

  it("a wildcard without a DNS-01 provider: acme_dns01, escalated at once, no action", () => {
    const facts = factsFor("acme_dns01", { dnsProvider: null })
    const plan = planOf(facts)
    assert.strictEqual(plan.class, "acme_dns01")
    assert.deepStrictEqual(kinds(plan), [])
    assert.strictEqual(plan.root._tag, "Escalate")
    assert.match(plan.root._tag === "Escalate" ? plan.root.reason : "", /no DNS-01 provider/)
  })

  it("issuer off the ACME list but the file is in a certbot live dir: ACME; elsewhere: commercial", () => {
    const live = classified(factsFor("commercial_ca", { certPath: "/etc/letsencrypt/live/bank.example.com/fullchain.pem" }))
    assert.strictEqual(Classification_class(live), "acme_http01")
    const notLive = classified(factsFor("commercial_ca", { certPath: "/etc/letsencrypt/archive/bank.example.com/fullchain1.pem" }))
    assert.strictEqual(Classification_class(notLive), "commercial_ca")
  })

  it("no public chain and no known issuer: Unclassified (escalate); the internal CA only when configured", () => {
    assert.strictEqual(classified(factsFor("commercial_ca", { publicChain: false }))._tag, "Unclassified")
    assert.strictEqual(Classification_class(classified(factsFor("internal_ca"))), "internal_ca")
    assert.strictEqual(classified(factsFor("internal_ca"), { ...options, internalCas: [] })._tag, "Unclassified")
  })

  it("an unknown handshake is Indeterminate, never a renewal", () => {
    const facts = { ...factsFor("acme_http01"), leaf: Fact.unknown("handshake", "ECONNREFUSED") }
    assert.strictEqual(classified(facts)._tag, "Indeterminate")
  })

  it("internal and commercial CAs escalate with what a CSR needs", () => {
    for (const cls of ["internal_ca", "commercial_ca"]) {
      const plan = planOf(factsFor(cls))
      assert.strictEqual(plan.root._tag, "Escalate")
      assert.match(plan.root._tag === "Escalate" ? plan.root.nextSteps.join(" ") : "", /a CSR for CN=.* with SANs /)
    }
  })
})

describe("tls.expiry.seven-class: never-rules (property)", () => {
  it("a pinned certificate escalates with no action, whatever the class", () => {
    fc.assert(fc.property(fc.constantFrom(...CLASSES), (cls) => {
      const plan = planOf(factsFor(cls, { pinned: true }))
      return kinds(plan).length === 0 && plan.root._tag === "Escalate"
    }))
  })

  it("a wildcard is never renewed by http-01; a rate limit in force never orders", () => {
    fc.assert(fc.property(
      fc.constantFrom(...CLASSES),
      Arb.provider,
      fc.boolean(),
      Arb.webroot,
      (cls, provider, limited, webroot) => {
        const base = factsFor(cls) as unknown as Record<string, Fact.Known<unknown>>
        const endpoint = { ...(base["endpoint"]!.value as SevenClassRunbook.Endpoint), ...(webroot !== undefined ? { webroot } : {}) }
        const facts = factsFor(cls, { dnsProvider: provider, endpoint, ...(limited ? { rateLimit: { domain: "x", retryAfter: 1 } } : {}) })
        const c = classified(facts)
        if (c._tag !== "Classified") return true
        const plan = SevenClassRunbook.plan(c, facts, options)
        const renews = Plan.actions(plan.root).filter((a) => a.action.kind === RenewAction.KIND)
        if (limited) return kinds(plan).length === 0
        const leaf = (facts.leaf as Fact.Known<Certificate.Certificate>).value
        if (leaf.dnsNames.some((n) => n.startsWith("*."))) {
          // a wildcard without a DNS-01 provider is never renewed (escalated); with one, only by dns-01
          if (provider === null && renews.length > 0) return false
          return renews.every((a) => (a.action.params as { challenge: { type: string } }).challenge.type === "dns-01")
        }
        return true
      }
    ))
  })
})

describe("tls.expiry.seven-class: commercial and internal CAs (property)", () => {
  it("escalated with no action, whatever the issuer names and the endpoint's renewal options", () => {
    fc.assert(fc.property(
      fc.constantFrom("internal_ca", "commercial_ca"),
      Arb.manualCa,
      (cls, { issuer, provider, webroot }) => {
        const base = factsFor(cls) as unknown as Record<string, Fact.Known<unknown>>
        const leaf = Arb.withIssuer(base["leaf"]!.value as Certificate.Certificate, cls === "internal_ca", issuer)
        const endpoint = { ...(base["endpoint"]!.value as SevenClassRunbook.Endpoint), ...(webroot !== undefined ? { webroot } : {}) }
        const facts = factsFor(cls, { leaf, endpoint, dnsProvider: provider })
        const c = classified(facts)
        if (c._tag !== "Classified" || c.class !== cls) return false
        const plan = SevenClassRunbook.plan(c, facts, options)
        return kinds(plan).length === 0 && plan.root._tag === "Escalate"
      }
    ), { numRuns: 200 })
  })
})

describe("tls.renew", () => {
  const counting = () => {
    const calls: Array<Renewer.RenewRequest> = []
    const renewer: Renewer.Renewer = {
      kind: "acme-client",
      challenges: ["http-01", "dns-01"],
      describe: (r) => `order ${r.domains.join(", ")}`,
      renew: (r) => Effect.sync(() => {
        calls.push(r)
        throw new Error("not in this test")
      })
    }
    return { calls, renewer }
  }

  it.effect("dry_run: no order, no file; a wildcard by http-01 is refused before the renewer", () =>
    Effect.gen(function*() {
      const { calls, renewer } = counting()
      const handler = RenewAction.handler({ "acme-client": renewer }) as never
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tls-renew-"))
      const outDir = path.join(dir, "staged")
      const action = RenewAction.action({ renewer: "acme-client", domains: ["shop.example.com"], challenge: { type: "http-01", mode: "webroot", webroot: dir }, outDir, directoryUrl: "https://127.0.0.1:1/dir", notAfter: 0 })
      const dry = yield* runHandler(handler, action, "dry_run")
      assert.isTrue(Exit.isSuccess(dry))
      assert.strictEqual(calls.length, 0)
      assert.isFalse(fs.existsSync(outDir))
      const wildcard = RenewAction.action({ renewer: "acme-client", domains: ["*.example.com"], challenge: { type: "http-01", mode: "standalone" }, outDir, directoryUrl: "https://127.0.0.1:1/dir", notAfter: 0 })
      const refused = yield* runHandler(handler, wildcard, "auto")
      assert.isTrue(Exit.isFailure(refused))
      assert.strictEqual(calls.length, 0)
      const unknownProvider = RenewAction.action({ renewer: "acme-client", domains: ["*.example.com"], challenge: { type: "dns-01", provider: "route53" }, outDir, directoryUrl: "https://127.0.0.1:1/dir", notAfter: 0 })
      assert.isTrue(Exit.isFailure(yield* runHandler(handler, unknownProvider, "auto")))
      assert.strictEqual(calls.length, 0)
      assert.strictEqual(Action.make(action).kind, "tls.renew")
    }))
})

const Classification_class = (c: Classification.Classification) => (c._tag === "Classified" ? c.class : c._tag)
