/**
 * The recorded fixture chains (fixtures/record.sh: handshakes with the real nginx / haproxy /
 * caddy serving Pebble-issued certificates; fixtures/README.md) are what the goldens read: each
 * says how it was recorded, verifies to the root it was recorded with, and the edge cases carry
 * exactly their problem — a certificate for another name, a leaf without its intermediate, the
 * short Pebble's 5-day leaf expiring at notAfter to the millisecond — through the chain verdict
 * and the certificate signals (TestClock-free: `inspectedAt` is the instant under test).
 */
import { assert, describe, it } from "@effect/vitest"
import { Certificate, CertificateSignals, Chain, RenewalPath, SevenClass } from "../src/index"
import type { Inspection } from "../src/index"
import * as Recorded from "./support/recorded"

const DAY = 86_400_000
const FROM_SERVERS = ["acme_http01", "acme_dns01", "acme_rate_limited", "cert_manager", "internal_ca"] as const
const OPENSSL_MADE = ["cloud_managed", "commercial_ca"] as const

const inspectionOf = (r: Recorded.Recorded, servername: string, at: number): Inspection.Inspection => ({
  host: "127.0.0.1", port: 443, servername, inspectedAt: at, leaf: r.leaf, chain: r.served.slice(1).map(Certificate.fromX509),
  verdict: Recorded.verdictOf(r, servername, at), staple: undefined, stapleCheck: undefined, protocol: "TLSv1.3"
})
const typesOf = (r: Recorded.Recorded, servername: string, at: number) =>
  CertificateSignals.signalsOf(inspectionOf(r, servername, at), { host: "127.0.0.1", port: 443, servername }, []).signals.map((s) => s.type)

describe("recorded chains (fixtures/record.sh)", () => {
  for (const cls of FROM_SERVERS) {
    it(`${cls}: recorded from a real server by a handshake, and verifies to its recorded root for the SNI name`, () => {
      const r = Recorded.sevenClass(cls)
      assert.isDefined(r.meta, "recorded.json")
      assert.include(["nginx", "haproxy", "caddy"], r.meta!.server)
      assert.isTrue(r.leaf.dnsNames.some((n) => Chain.nameMatches(r.served[0]!, r.meta!.servername)), r.meta!.servername)
      const v = Recorded.verdictOf(r, r.meta!.servername)
      assert.deepStrictEqual(v.problems, [])
      // the served chain is leaf + intermediate (Pebble) or leaf + its internal root: never the leaf alone
      assert.strictEqual(r.served.length, 2)
      if (cls !== "internal_ca") assert.strictEqual(RenewalPath.acmeIssuerOf(r.leaf)?.name, "Pebble")
      else assert.isUndefined(RenewalPath.acmeIssuerOf(r.leaf))
    })
  }

  it("the openssl-made chains (no server here can produce them) carry no recorded.json", () => {
    for (const cls of OPENSSL_MADE) assert.isUndefined(Recorded.sevenClass(cls).meta, cls)
    assert.deepStrictEqual([...FROM_SERVERS, ...OPENSSL_MADE].sort(), [...SevenClass.CLASSES].sort())
  })

  it("wrong_name: a Pebble certificate for other.example.net served to SNI shop.example.com → name_mismatch only; chain_invalid signal", () => {
    const r = Recorded.chain("wrong_name")
    assert.strictEqual(r.meta?.servername, "shop.example.com")
    assert.deepStrictEqual(Recorded.verdictOf(r, "shop.example.com").problems.map((p) => p.kind), ["name_mismatch"])
    assert.deepStrictEqual(Recorded.verdictOf(r, "other.example.net").problems, [])
    assert.deepStrictEqual(typesOf(r, "shop.example.com", r.leaf.notBefore + 60_000), [CertificateSignals.SIGNAL_CHAIN_INVALID])
  })

  it("incomplete: nginx serving the leaf without its intermediate → incomplete (no AIA fetching), even with the right root", () => {
    const r = Recorded.chain("incomplete")
    assert.strictEqual(r.served.length, 1)
    const v = Recorded.verdictOf(r, "shop.example.com")
    assert.deepStrictEqual(v.problems.map((p) => p.kind), ["incomplete"])
    assert.deepStrictEqual(typesOf(r, "shop.example.com", r.leaf.notBefore + 60_000), [CertificateSignals.SIGNAL_CHAIN_INVALID])
  })

  it("short_lived: the short Pebble's leaf lives 5 days and names the OCSP responder; 7 and 1 days fire, cert_expired exactly from notAfter", () => {
    const r = Recorded.chain("short_lived")
    assert.strictEqual(r.meta?.ca, "pebble-short")
    assert.isAtLeast(r.leaf.notAfter - r.leaf.notBefore, 5 * DAY - 1_000)
    assert.isAtMost(r.leaf.notAfter - r.leaf.notBefore, 5 * DAY)
    assert.match(r.leaf.ocspUrl ?? "", /^http:\/\/127\.0\.0\.1:\d+\/$/)
    const at = (t: number) => typesOf(r, "shop.example.com", t)
    // first seen one minute after issuance: 5 days left → the 7-day threshold only
    assert.deepStrictEqual(at(r.leaf.notBefore + 60_000), [CertificateSignals.SIGNAL_EXPIRING_SOON])
    assert.strictEqual(CertificateSignals.expiryThreshold(r.leaf.notAfter, r.leaf.notBefore + 60_000, CertificateSignals.DEFAULT_THRESHOLD_DAYS, []).fires, 7)
    assert.strictEqual(CertificateSignals.expiryThreshold(r.leaf.notAfter, r.leaf.notAfter - DAY - 60_000, CertificateSignals.DEFAULT_THRESHOLD_DAYS, [7]).fires, undefined)
    assert.strictEqual(CertificateSignals.expiryThreshold(r.leaf.notAfter, r.leaf.notAfter - DAY + 60_000, CertificateSignals.DEFAULT_THRESHOLD_DAYS, [7]).fires, 1)
    // notAfter − 1 ms: not expired, the chain valid; notAfter: expired and the chain invalid (expired)
    assert.deepStrictEqual(Recorded.verdictOf(r, "shop.example.com", r.leaf.notAfter - 1).problems, [])
    assert.deepStrictEqual(Recorded.verdictOf(r, "shop.example.com", r.leaf.notAfter).problems.map((p) => p.kind), ["expired"])
    assert.notInclude(CertificateSignals.signalsOf(inspectionOf(r, "shop.example.com", r.leaf.notAfter - 1), { host: "127.0.0.1", port: 443, servername: "shop.example.com" }, [7, 1]).signals.map((s) => s.type), CertificateSignals.SIGNAL_EXPIRED)
    assert.includeMembers(at(r.leaf.notAfter), [CertificateSignals.SIGNAL_EXPIRED, CertificateSignals.SIGNAL_CHAIN_INVALID])
  })
})
