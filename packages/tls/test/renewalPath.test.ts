/** The renewal-path facts and rules, table-tested (pure: no server). */
import { Classifier, Fact } from "@byteport/core"
import { assert, describe, it } from "@effect/vitest"
import { RenewalPath } from "../src/index"
import type { Certificate } from "../src/index"

const cert = (issuerO: string | undefined, issuerCN: string | undefined, dnsNames: ReadonlyArray<string> = ["app.example.com"]): Certificate.Certificate => ({
  subjectCN: dnsNames[0], issuerO, issuerCN, dnsNames, ipAddresses: [], serial: "01", fingerprint256: "AA", notBefore: 0, notAfter: 1, ocspUrl: undefined, isCA: false, selfIssued: false
})

describe("RenewalPath.acmeIssuerOf", () => {
  const table: ReadonlyArray<readonly [string | undefined, string | undefined, string | undefined]> = [
    ["Let's Encrypt", "R11", "Let's Encrypt"],
    ["let's encrypt", "E6", "Let's Encrypt"],
    ["ZeroSSL", "ZeroSSL ECC Domain Secure Site CA", "ZeroSSL"],
    [undefined, "Pebble Intermediate CA 3f1a2b", "Pebble"],
    [undefined, "Pebble Root CA 3f1a2b", undefined], // the root is not the issuing intermediate
    [undefined, "NotPebble Intermediate CA", undefined],
    ["Let's Encrypt Fan Club", "R11", undefined], // exact O, not a prefix
    ["DigiCert Inc", "DigiCert Global G2 TLS RSA SHA256 2020 CA1", undefined],
    [undefined, undefined, undefined]
  ]
  for (const [o, cn, expected] of table) {
    it(`O=${o} CN=${cn} → ${expected}`, () => assert.strictEqual(RenewalPath.acmeIssuerOf(cert(o, cn))?.name, expected))
  }
  it("the list is configurable; an entry with no criterion matches nothing", () => {
    const list = [{ name: "Corp ACME", organization: "Corp" }, { name: "empty" }]
    assert.strictEqual(RenewalPath.acmeIssuerOf(cert("Corp", "x"), list)?.name, "Corp ACME")
    assert.isUndefined(RenewalPath.acmeIssuerOf(cert("Let's Encrypt", "R11"), list))
    assert.isUndefined(RenewalPath.acmeIssuerOf(cert(undefined, undefined), list))
  })
})

describe("RenewalPath.acmeClientDirOf", () => {
  const table: ReadonlyArray<readonly [string, RenewalPath.AcmeClientDir | undefined]> = [
    ["/etc/letsencrypt/live/example.com/fullchain.pem", { client: "certbot", configDir: "/etc/letsencrypt", certName: "example.com" }],
    ["/etc/letsencrypt/live/example.com-0001/privkey.pem", { client: "certbot", configDir: "/etc/letsencrypt", certName: "example.com-0001" }],
    ["/etc/letsencrypt/archive/example.com/fullchain1.pem", undefined], // archive, not live
    ["/etc/letsencrypt/live/example.com/README", undefined],
    ["/etc/letsencrypt/live/fullchain.pem", undefined],
    ["/etc/letsencrypt/live/a/b/fullchain.pem", undefined],
    ["/etc/letsencrypt-old/live/example.com/cert.pem", undefined],
    ["/root/.acme.sh/example.com/fullchain.cer", { client: "acme.sh", home: "/root/.acme.sh", domain: "example.com", ecc: false }],
    ["/root/.acme.sh/example.com_ecc/example.com.key", { client: "acme.sh", home: "/root/.acme.sh", domain: "example.com", ecc: true }],
    ["/root/.acme.sh/account.conf", undefined],
    ["/etc/nginx/ssl/example.com.pem", undefined]
  ]
  for (const [path, expected] of table) {
    it(path, () => assert.deepStrictEqual(RenewalPath.acmeClientDirOf(path), expected))
  }
  it("configured certbot config dir and acme.sh home", () => {
    assert.deepStrictEqual(RenewalPath.acmeClientDirOf("/srv/le/live/x.org/cert.pem", { certbotConfigDir: "/srv/le/" }), { client: "certbot", configDir: "/srv/le", certName: "x.org" })
    assert.isUndefined(RenewalPath.acmeClientDirOf("/etc/letsencrypt/live/x.org/cert.pem", { certbotConfigDir: "/srv/le" }))
    assert.deepStrictEqual(RenewalPath.acmeClientDirOf("/opt/acme/x.org/x.org.cer", { acmeShHome: "/opt/acme" }), { client: "acme.sh", home: "/opt/acme", domain: "x.org", ecc: false })
  })
})

describe("RenewalPath.rules (first match, seed order)", () => {
  const classify = Classifier.firstMatch(RenewalPath.rules())
  const facts = (leaf: Certificate.Certificate, certPath: string | null, dnsProvider: string | null) => ({
    leaf: Fact.known(leaf), certPath: Fact.known(certPath), dnsProvider: Fact.known(dnsProvider)
  })
  const table: ReadonlyArray<readonly [string, ReturnType<typeof facts>, string | undefined, number | undefined]> = [
    ["wildcard + provider", facts(cert("Let's Encrypt", "R11", ["*.example.com", "example.com"]), null, "route53"), "wildcard_dns01_required", 0.9],
    ["wildcard, no provider → not wildcard_dns01_required (ACME issuer still matches)", facts(cert("Let's Encrypt", "R11", ["*.example.com"]), null, null), "acme_renewable", 0.9],
    ["ACME issuer", facts(cert("ZeroSSL", "ZeroSSL RSA Domain Secure Site CA"), null, null), "acme_renewable", 0.9],
    ["certbot live dir, other issuer", facts(cert("DigiCert Inc", "CA1"), "/etc/letsencrypt/live/app/fullchain.pem", null), "acme_renewable", 0.85],
    ["commercial CA, own path", facts(cert("DigiCert Inc", "CA1"), "/etc/nginx/ssl/app.pem", "route53"), undefined, undefined],
    ["nothing on disk", facts(cert("Corp", "Corp Issuing CA"), null, null), undefined, undefined]
  ]
  for (const [name, f, cls, confidence] of table) {
    it(name, () => {
      const c = classify(f)
      if (cls === undefined) assert.strictEqual(c._tag, "Unclassified")
      else {
        assert.strictEqual(c._tag, "Classified")
        if (c._tag === "Classified") {
          assert.strictEqual(c.class, cls)
          assert.strictEqual(c.confidence, confidence)
        }
      }
    })
  }
  it("an unknown DNS provider fact before any match is Indeterminate, never a later class", () => {
    const c = classify({ leaf: Fact.known(cert("Let's Encrypt", "R11")), certPath: Fact.known(null), dnsProvider: Fact.unknown("dns-config", "unreadable") })
    assert.strictEqual(c._tag, "Indeterminate")
  })
  it("every confidence is at least 0.70", () => {
    for (const r of RenewalPath.rules()) assert.isAtLeast(r.confidence as number, 0.7)
  })
})
