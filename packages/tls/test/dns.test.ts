/**
 * DNS-01 providers: findZone on label boundaries (property-tested), the three real clients
 * (Route53 through @aws-sdk/client-route-53, Cloudflare v4 and Cloud DNS v1 through fetch) against
 * the loopback fakes of @byteport/tls/testing in their wire shapes (request logs asserted), an
 * unowned zone refused before any write (the fake's log is empty), and, with the real Pebble, a
 * wildcard certificate through each fake: the fake feeds pebble-challtestsrv and Pebble validates
 * the TXT for real.
 */
import * as fs from "node:fs"
import { Route53Client } from "@aws-sdk/client-route-53"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Redacted } from "effect"
import * as fc from "fast-check"
import { AcmeClientRenewer, Certificate, Chain, CloudDns, Cloudflare, DnsProvider, Files, Route53 } from "../src/index"
import { DnsFakes } from "../src/testing/index"
import { describeWithServices, tmp } from "./support/services"

const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" }
const token = "test-token"

/** A provider for each fake. */
const providers = {
  route53: (fake: DnsFakes.DnsFake, configured?: boolean) =>
    Route53.make({
      route53: new Route53Client({ region: "us-east-1", endpoint: fake.url, credentials, maxAttempts: 1 }),
      pollIntervalMillis: 20,
      ...(configured === true ? { zones: fake.zones } : {})
    }),
  cloudflare: (fake: DnsFakes.DnsFake, configured?: boolean) =>
    Cloudflare.make({ apiToken: Redacted.make(token), baseUrl: fake.url, ...(configured === true ? { zones: fake.zones } : {}) }),
  clouddns: (fake: DnsFakes.DnsFake, configured?: boolean) =>
    CloudDns.make({ project: "byteport-test", accessToken: Redacted.make(token), baseUrl: fake.url, pollIntervalMillis: 20, ...(configured === true ? { zones: fake.zones } : {}) })
}
const fakes = { route53: DnsFakes.route53, cloudflare: DnsFakes.cloudflare, clouddns: DnsFakes.cloudDns }
type Kind = keyof typeof fakes
const kinds: ReadonlyArray<Kind> = ["route53", "cloudflare", "clouddns"]

describe("findZone", () => {
  const zones = [{ id: "a", name: "example.com" }, { id: "b", name: "sub.example.com" }, { id: "c", name: "example.org." }]
  it("longest suffix on a label boundary", () => {
    assert.strictEqual(DnsProvider.findZone(zones, "_acme-challenge.www.example.com")?.id, "a")
    assert.strictEqual(DnsProvider.findZone(zones, "_acme-challenge.x.sub.example.com")?.id, "b")
    assert.strictEqual(DnsProvider.findZone(zones, "sub.example.com.")?.id, "b")
    assert.strictEqual(DnsProvider.findZone(zones, "EXAMPLE.ORG")?.id, "c")
    // near misses: not on a label boundary
    assert.isUndefined(DnsProvider.findZone(zones, "notexample.com"))
    assert.isUndefined(DnsProvider.findZone(zones, "_acme-challenge.notexample.com"))
    assert.strictEqual(DnsProvider.findZone(zones, "xsub.example.com")?.id, "a")
    assert.isUndefined(DnsProvider.findZone(zones, "com"))
    assert.isUndefined(DnsProvider.findZone([{ id: "root", name: "" }], "example.com"), "an empty zone name owns nothing")
  })
  it("challengeName drops a wildcard", () => {
    assert.strictEqual(DnsProvider.challengeName("*.Example.com."), "_acme-challenge.example.com")
    assert.strictEqual(DnsProvider.challengeName("www.example.com"), "_acme-challenge.www.example.com")
  })
  it("property: the zone found contains the name on a label boundary and no longer owned zone does", () => {
    const label = fc.stringMatching(/^[a-z0-9]{1,6}$/)
    const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join("."))
    fc.assert(fc.property(fc.array(domain, { maxLength: 6 }), domain, fc.array(label, { maxLength: 3 }), (zoneNames, zoneOrName, prefix) => {
      const zs = zoneNames.map((n, i) => ({ id: String(i), name: n }))
      const name = [...prefix, zoneOrName].join(".")
      const found = DnsProvider.findZone(zs, name)
      const containing = zs.filter((z) => name === z.name || name.endsWith(`.${z.name}`))
      if (found === undefined) return containing.length === 0
      return (name === found.name || name.endsWith(`.${found.name}`)) && containing.every((z) => z.name.length <= found.name.length) &&
        // `x<zone>` (no dot) is never in the zone
        !DnsProvider.inZone(`x${found.name}`, found.name)
    }), { numRuns: 300 })
  })
})

describe("providers against the fakes (no challtestsrv)", () => {
  for (const kind of kinds) {
    it.live(`${kind}: upsert keeps other values, delete removes one, the last delete removes the set`, () =>
      Effect.gen(function*() {
        const fake = yield* fakes[kind]({ zones: [{ name: "example.com" }, { name: "sub.example.com" }], token })
        const p = providers[kind](fake)
        const name = "_acme-challenge.www.sub.example.com"
        const zone = yield* DnsProvider.upsertTxt(p, name, "value-1")
        assert.strictEqual(zone.name, "sub.example.com", "the longest owned suffix")
        yield* DnsProvider.upsertTxt(p, name, "value-2")
        yield* DnsProvider.upsertTxt(p, name, "value-2") // idempotent
        assert.deepStrictEqual([...(yield* p.getTxt(zone, name))].sort(), ["value-1", "value-2"])
        assert.deepStrictEqual([...(fake.live().get(name) ?? [])].sort(), ["value-1", "value-2"])
        yield* DnsProvider.deleteTxt(p, name, "value-1")
        assert.deepStrictEqual(yield* p.getTxt(zone, name), ["value-2"])
        yield* DnsProvider.deleteTxt(p, name, "value-2")
        assert.deepStrictEqual(yield* p.getTxt(zone, name), [])
        assert.isFalse(fake.live().has(name))
        // the wire: the SDK / fetch requests the real APIs take
        const paths = fake.log().map((r) => `${r.method} ${r.path.replace(/\?.*$/, "")}`)
        if (kind === "route53") {
          assert.include(paths, "GET /2013-04-01/hostedzone")
          assert.isTrue(paths.some((x) => /^POST \/2013-04-01\/hostedzone\/Z[^/]+\/rrset\/?$/.test(x)), paths.join("\n"))
          assert.isTrue(paths.some((x) => /^GET \/2013-04-01\/change\/C\d+$/.test(x)))
          const writes = fake.writes()
          assert.match(writes[0]!.body, /<Action>UPSERT<\/Action>/)
          assert.match(writes[writes.length - 1]!.body, /<Action>DELETE<\/Action>/)
          // PENDING first, then INSYNC: each change was polled twice
          assert.strictEqual(paths.filter((x) => x.startsWith("GET /2013-04-01/change/")).length, writes.length * 2)
        } else if (kind === "cloudflare") {
          assert.include(paths, "GET /client/v4/zones")
          assert.strictEqual(fake.writes().filter((w) => w.method === "POST").length, 2)
          assert.strictEqual(fake.writes().filter((w) => w.method === "DELETE").length, 2)
          assert.deepStrictEqual(JSON.parse(fake.writes()[0]!.body), { type: "TXT", name, content: "\"value-1\"", ttl: 60 })
        } else {
          assert.include(paths, "GET /dns/v1/projects/byteport-test/managedZones")
          const posts = fake.writes().map((w) => JSON.parse(w.body) as { additions: Array<unknown>; deletions: Array<unknown> })
          assert.strictEqual(posts.length, 4)
          assert.deepStrictEqual(posts[0]!.deletions, [], "the first change adds only")
          assert.strictEqual(posts[1]!.deletions.length, 1, "later changes delete the old set they replace")
          assert.deepStrictEqual(posts[3]!.additions, [], "the last change deletes only")
        }
      }))

    it.live(`${kind}: no owned zone → DnsZoneNotOwned before any write (configured zones: the log is empty)`, () =>
      Effect.gen(function*() {
        const fake = yield* fakes[kind]({ zones: [{ name: "example.com" }], token })
        for (const name of ["_acme-challenge.notexample.com", "_acme-challenge.example.org", "_acme-challenge.example.com.evil.net"]) {
          const configured = yield* Effect.exit(DnsProvider.upsertTxt(providers[kind](fake, true), name, "v"))
          assert.isTrue(Exit.isFailure(configured))
          assert.match(JSON.stringify(configured), /DnsZoneNotOwned/)
          assert.deepStrictEqual(fake.log(), [], "configured zones: not a single request")
        }
        const listed = yield* Effect.exit(DnsProvider.upsertTxt(providers[kind](fake), "_acme-challenge.notexample.com", "v"))
        assert.match(JSON.stringify(listed), /DnsZoneNotOwned/)
        assert.deepStrictEqual(fake.writes(), [], "listed zones: the zone list only, no write")
        assert.isAbove(fake.log().length, 0)
      }))

    it.live(`${kind}: bad credentials are a DnsProviderError naming no secret`, () =>
      Effect.gen(function*() {
        const fake = yield* fakes[kind]({ zones: [{ name: "example.com" }], token: "another-token" })
        const p = kind === "route53"
          ? Route53.make({ route53: new Route53Client({ region: "us-east-1", endpoint: fake.url, credentials, maxAttempts: 1 }), pollIntervalMillis: 20 })
          : providers[kind](fake)
        const exit = yield* Effect.exit(DnsProvider.upsertTxt(p, "_acme-challenge.example.com", "v"))
        if (kind === "route53") {
          assert.isTrue(Exit.isSuccess(exit), "the Route53 fake checks the signature's presence only")
          return
        }
        assert.match(JSON.stringify(exit), /DnsProviderError/)
        assert.notInclude(JSON.stringify(exit), token)
        assert.deepStrictEqual(fake.writes(), [])
      }))
  }

  it.live("route53: a DELETE that does not match the set is refused (InvalidChangeBatch)", () =>
    Effect.gen(function*() {
      const fake = yield* DnsFakes.route53({ zones: [{ name: "example.com" }] })
      const client = new Route53Client({ region: "us-east-1", endpoint: fake.url, credentials, maxAttempts: 1 })
      const { ChangeResourceRecordSetsCommand } = yield* Effect.promise(() => import("@aws-sdk/client-route-53"))
      const zoneId = fake.zones[0]!.id
      const put = (Action: "UPSERT" | "DELETE", values: Array<string>) =>
        Effect.tryPromise(() =>
          client.send(new ChangeResourceRecordSetsCommand({
            HostedZoneId: `/hostedzone/${zoneId}`,
            ChangeBatch: { Changes: [{ Action, ResourceRecordSet: { Name: "_acme-challenge.example.com.", Type: "TXT", TTL: 60, ResourceRecords: values.map((v) => ({ Value: `"${v}"` })) } }] }
          }))
        )
      yield* put("UPSERT", ["a", "b"])
      const bad = yield* Effect.exit(put("DELETE", ["a"]))
      assert.match(String(Exit.isFailure(bad) ? JSON.stringify(bad) : ""), /InvalidChangeBatch|do not match/)
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(put("DELETE", ["a", "b"]))))
    }))
})

describeWithServices(["pebble"], "a wildcard through each DNS fake, validated by the real Pebble", (env) => {
  const ca = env.BYTEPORT_TEST_PEBBLE_TLS_CA ?? ""
  const directoryUrl = env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? ""
  const challtestsrv = env.BYTEPORT_TEST_CHALLTESTSRV_URL ?? ""
  const dnsServer = env.BYTEPORT_TEST_PEBBLE_DNS ?? ""
  const renewer = AcmeClientRenewer.make({ dnsNameservers: [dnsServer], dnsTimeoutMillis: 10_000 })

  for (const kind of kinds) {
    it.live(`${kind}: *.zone and the apex (two TXT values on one name), chain to Pebble's root, records cleaned up`, () =>
      Effect.gen(function*() {
        const apex = `${kind}-${process.pid}-${Date.now().toString(36)}.byteport.test`
        const fake = yield* fakes[kind]({ zones: [{ name: apex }], challtestsrv, token })
        const outDir = tmp("byteport-wild-")
        const renewed = yield* renewer.renew({
          domains: [`*.${apex}`, apex],
          challenge: { type: "dns-01", provider: providers[kind](fake) },
          account: { directoryUrl, caBundle: ca },
          outDir
        })
        assert.deepStrictEqual([...renewed.challenges.map((c) => c.type)], ["dns-01", "dns-01"])
        const chain = Certificate.parsePemBundle(fs.readFileSync(renewed.files!.fullchain, "utf8"))
        const leaf = Certificate.fromX509(chain[0]!)
        assert.deepStrictEqual([...leaf.dnsNames].sort(), [`*.${apex}`, apex].sort())
        const roots = Certificate.parsePemBundle(fs.readFileSync(env.BYTEPORT_TEST_PEBBLE_ROOT ?? "", "utf8"))
        assert.isTrue(Chain.verify({ served: chain, roots, name: `www.${apex}`, now: Date.now() }).valid)
        assert.isTrue(yield* Files.keyMatches(renewed.files!.cert, renewed.files!.key))
        assert.strictEqual(fs.statSync(renewed.files!.key).mode & 0o777, 0o600)
        // both values were written to the one name, then removed
        const name = `_acme-challenge.${apex}`
        const adds = fake.writes().filter((w) => w.method === "POST" && w.body.includes(kind === "route53" ? "UPSERT" : "")).length
        assert.isAtLeast(adds, 2)
        assert.isFalse(fake.live().has(name), "cleaned up")
        assert.match(renewed.orderUrl ?? "", /^https:\/\/127\.0\.0\.1:\d+\/my-order\//)
      }))
  }

  it.live("unowned zone: no order, no write in any fake's log", () =>
    Effect.gen(function*() {
      for (const kind of kinds) {
        const fake = yield* fakes[kind]({ zones: [{ name: "example.com" }], challtestsrv, token })
        const exit = yield* Effect.exit(renewer.renew({
          domains: ["*.notexample.com"],
          challenge: { type: "dns-01", provider: providers[kind](fake) },
          account: { directoryUrl, caBundle: ca }
        }))
        assert.isTrue(Exit.isFailure(exit))
        assert.match(JSON.stringify(exit), /DnsZoneNotOwned/)
        assert.deepStrictEqual(fake.writes(), [], kind)
      }
    }))
})
