/**
 * The acme-client renewer against real Pebbles: http-01 by the shared nginx's webroot (Pebble
 * validates on nginx's http port), http-01 standalone and a wrong key authorization against a
 * private Pebble whose http-01 port the test owns, dns-01 with a missing TXT (the CA decides),
 * and a rate-limiting proxy before Pebble (429 rateLimited + Retry-After: no sleep, no order
 * forwarded, the instant kept ± 1 s). Refusals before any order: a wildcard over http-01.
 */
import { X509Certificate, createPrivateKey } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { assert, it } from "@effect/vitest"
import { Effect, Exit, Redacted } from "effect"
import { AcmeClientRenewer, Certificate, Chain, DnsProvider, Files, Renewer } from "../src/index"
import { DnsFakes } from "../src/testing/index"
import { freePort, privatePebble, rateLimitProxy } from "./support/pebble"
import { describeWithServices, tmp } from "./support/services"

const failureOf = (exit: Exit.Exit<unknown, unknown>): Record<string, unknown> => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const json = JSON.parse(JSON.stringify(exit)) as { cause?: { failures?: Array<{ error?: Record<string, unknown> }> } }
  const err = Exit.isFailure(exit) ? (exit.cause as unknown as { reasons?: Array<{ error?: unknown }> }).reasons?.[0]?.error : undefined
  return (err ?? json.cause?.failures?.[0]?.error ?? {}) as Record<string, unknown>
}

describeWithServices(["pebble", "nginx"], "acme-client renewer against the real Pebble", (env) => {
  const ca = env.BYTEPORT_TEST_PEBBLE_TLS_CA ?? ""
  const directoryUrl = env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? ""
  const webroot = env.BYTEPORT_TEST_NGINX_WEBROOT ?? ""
  const root = () => Certificate.parsePemBundle(fs.readFileSync(env.BYTEPORT_TEST_PEBBLE_ROOT ?? "", "utf8"))
  const unique = (label: string) => `${label}-${process.pid}-${Date.now().toString(36)}.byteport.test`

  it.live("http-01 webroot (nginx serves it): files, modes, chain to Pebble's root, key policy, token removed", () =>
    Effect.gen(function*() {
      const renewer = AcmeClientRenewer.make()
      const names = [unique("web"), unique("www")]
      const challengeDir = path.join(webroot, ".well-known", "acme-challenge")
      const filesBefore = fs.existsSync(challengeDir) ? fs.readdirSync(challengeDir).sort() : []
      const outDir = path.join(tmp("byteport-acme-"), "out")
      assert.match(renewer.describe({ domains: names, challenge: { type: "http-01", mode: "webroot", webroot }, account: { directoryUrl } }), /http-01 webroot/)
      const renewed = yield* renewer.renew({
        domains: names,
        challenge: { type: "http-01", mode: "webroot", webroot },
        account: { directoryUrl, caBundle: ca, email: "ops@byteport.test" },
        keyPolicy: { type: "rsa", bits: 2048 },
        outDir
      })
      const files = renewed.files!
      assert.strictEqual(path.dirname(files.key), outDir)
      assert.strictEqual(fs.statSync(files.key).mode & 0o777, 0o600)
      assert.strictEqual(fs.statSync(outDir).mode & 0o777, 0o700)
      assert.isTrue(yield* Files.keyMatches(files.cert, files.key))
      assert.strictEqual(createPrivateKey(fs.readFileSync(files.key)).asymmetricKeyType, "rsa")
      const chain = Certificate.parsePemBundle(fs.readFileSync(files.fullchain, "utf8"))
      assert.strictEqual(chain.length, 2)
      assert.strictEqual(fs.readFileSync(files.fullchain, "utf8"), `${fs.readFileSync(files.cert, "utf8")}${fs.readFileSync(files.chain, "utf8")}`)
      assert.isTrue(Chain.verify({ served: chain, roots: root(), name: names[1]!, now: Date.now() }).valid)
      const leaf = new X509Certificate(fs.readFileSync(files.cert))
      assert.strictEqual(renewed.fingerprint256, leaf.fingerprint256)
      assert.strictEqual(renewed.notAfter, Date.parse(leaf.validTo))
      assert.deepStrictEqual([...renewed.challenges].sort((a, b) => a.domain.localeCompare(b.domain)), names.map((domain) => ({ domain, type: "http-01" })).sort((a, b) => a.domain.localeCompare(b.domain)))
      assert.match(renewed.orderUrl ?? "", /^https:\/\/127\.0\.0\.1:\d+\/my-order\//)
      // the key never prints
      assert.notInclude(String(renewed.pems?.key), "PRIVATE KEY")
      assert.include(Redacted.value(renewed.pems!.key!), "PRIVATE KEY")
      // the challenge files are gone
      assert.deepStrictEqual(fs.readdirSync(challengeDir).sort(), filesBefore)

      // reuse: the same key again, a new certificate
      const again = yield* renewer.renew({
        domains: names.slice(0, 1),
        challenge: { type: "http-01", mode: "webroot", webroot },
        account: { directoryUrl, caBundle: ca },
        keyPolicy: { type: "reuse", keyPath: files.key },
        outDir: path.join(outDir, "again")
      })
      assert.notStrictEqual(again.serial, renewed.serial)
      assert.isTrue(yield* Files.keyMatches(again.files!.cert, files.key))
      assert.strictEqual(createPrivateKey(fs.readFileSync(again.files!.key)).asymmetricKeyType, "rsa")
    }))

  it.live("refused before any order: a wildcard over http-01, no directory, dns-01 without a provider", () =>
    Effect.gen(function*() {
      const renewer = AcmeClientRenewer.make()
      const wildcard = failureOf(yield* Effect.exit(renewer.renew({ domains: ["*.x.byteport.test"], challenge: { type: "http-01", mode: "webroot", webroot }, account: { directoryUrl, caBundle: ca } })))
      assert.strictEqual(wildcard._tag, "RenewerMisconfigured")
      assert.match(String(wildcard.message), /wildcards never use http-01/)
      assert.strictEqual(failureOf(yield* Effect.exit(renewer.renew({ domains: ["a.byteport.test"], challenge: { type: "http-01", mode: "webroot", webroot } })))._tag, "RenewerMisconfigured")
      assert.strictEqual(failureOf(yield* Effect.exit(renewer.renew({ domains: ["a.byteport.test"], challenge: { type: "dns-01" }, account: { directoryUrl, caBundle: ca } })))._tag, "RenewerMisconfigured")
      assert.strictEqual(failureOf(yield* Effect.exit(renewer.renew({ domains: [], challenge: { type: "dns-01" }, account: { directoryUrl, caBundle: ca } })))._tag, "RenewerMisconfigured")
    }))

  it.live("http-01 standalone: the renewer's own server on the CA's http port", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const pebble = yield* privatePebble(env, port)
      const name = unique("standalone")
      const renewed = yield* AcmeClientRenewer.make().renew({
        domains: [name],
        challenge: { type: "http-01", mode: "standalone", port, address: "127.0.0.1" },
        account: { directoryUrl: pebble.directoryUrl, caBundle: ca }
      })
      const chain = Certificate.parsePemBundle(renewed.pems!.fullchain)
      assert.isTrue(Chain.verify({ served: chain, roots: Certificate.parsePemBundle(pebble.root), name, now: Date.now() }).valid)
      assert.deepStrictEqual(renewed.challenges, [{ domain: name, type: "http-01" }])
      // the standalone server is gone: the port is free again
      const again = yield* Effect.promise(() => new Promise<boolean>((r) => { const s = http.createServer(); s.once("error", () => r(false)); s.listen(port, "127.0.0.1", () => s.close(() => r(true))) }))
      assert.isTrue(again)
    }))

  it.live("a wrong key authorization → AcmeChallengeFailed wrong_key_authorization (the CA's verdict)", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const pebble = yield* privatePebble(env, port)
      const root = tmp("byteport-webroot-")
      // a web server that serves the webroot's challenge files with one byte changed
      let served = 0
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<http.Server>((resolve) => {
          const s = http.createServer((req, res) => {
            const file = path.join(root, req.url ?? "/")
            if (!file.startsWith(root) || !fs.existsSync(file)) return void res.writeHead(404).end()
            served++
            res.writeHead(200).end(`${fs.readFileSync(file, "utf8")}x`)
          })
          s.listen(port, "127.0.0.1", () => resolve(s))
        })),
        (s) => Effect.promise(() => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()) }))
      )
      const name = unique("wrongkey")
      const error = failureOf(yield* Effect.exit(AcmeClientRenewer.make().renew({
        domains: [name],
        challenge: { type: "http-01", mode: "webroot", webroot: root },
        account: { directoryUrl: pebble.directoryUrl, caBundle: ca }
      })))
      assert.strictEqual(error._tag, "AcmeChallengeFailed", JSON.stringify(error))
      assert.strictEqual(error.reason, "wrong_key_authorization")
      assert.strictEqual(error.domain, name)
      assert.strictEqual(error.challengeType, "http-01")
      assert.strictEqual(error.problemType, "urn:ietf:params:acme:error:unauthorized")
      assert.isAtLeast(served, 1, "Pebble fetched the file for real")
      assert.deepStrictEqual(fs.readdirSync(path.join(root, ".well-known", "acme-challenge")), [], "cleaned up after the failure")
    }))

  it.live("dns-01 with the TXT missing at the CA → AcmeChallengeFailed missing_txt", () =>
    Effect.gen(function*() {
      const apex = unique("missingtxt")
      const fake = yield* DnsFakes.cloudflare({ zones: [{ name: apex }] }) // not fed to challtestsrv: the CA sees nothing
      const provider = (yield* Effect.promise(() => import("../src/dns/Cloudflare"))).make({ apiToken: Redacted.make("test-token"), baseUrl: fake.url })
      const error = failureOf(yield* Effect.exit(AcmeClientRenewer.make({ skipTxtVisibilityCheck: true }).renew({
        domains: [apex],
        challenge: { type: "dns-01", provider },
        account: { directoryUrl, caBundle: ca }
      })))
      assert.strictEqual(error._tag, "AcmeChallengeFailed", JSON.stringify(error))
      assert.strictEqual(error.reason, "missing_txt")
      assert.strictEqual(error.challengeType, "dns-01")
      assert.strictEqual(fake.writes().filter((w) => w.method === "POST").length, 1, "the record was written through the API")
      assert.strictEqual(fake.live().size, 0, "and removed after the failure")
      // with the visibility check (default), the renewer never answers a challenge whose TXT it cannot see
      const invisible = failureOf(yield* Effect.exit(AcmeClientRenewer.make({ dnsNameservers: [env.BYTEPORT_TEST_PEBBLE_DNS ?? ""], dnsTimeoutMillis: 300 }).renew({
        domains: [apex],
        challenge: { type: "dns-01", provider },
        account: { directoryUrl, caBundle: ca }
      })))
      assert.strictEqual(invisible._tag, "DnsNotVisible")
      assert.strictEqual(DnsProvider.challengeName(apex), invisible.name)
    }))

  it.live("a proxy answering rateLimited + Retry-After: AcmeRateLimited at once, no order reached Pebble, the instant ± 1 s", () =>
    Effect.gen(function*() {
      let retryAfter: string | undefined = "3600"
      const proxy = yield* rateLimitProxy(env, directoryUrl, () => retryAfter)
      const renewer = AcmeClientRenewer.make()
      const request: Renewer.RenewRequest = { domains: [unique("limited")], challenge: { type: "http-01", mode: "webroot", webroot }, account: { directoryUrl: proxy.directoryUrl, caBundle: ca } }
      const started = Date.now()
      const error = failureOf(yield* Effect.exit(renewer.renew(request)))
      const ended = Date.now()
      assert.strictEqual(error._tag, "AcmeRateLimited", JSON.stringify(error))
      assert.isBelow(ended - started, 5_000, "acme-client's own 429 retry (sleeping Retry-After) is off")
      const at = Number(error.retryAfter)
      assert.isAtLeast(at, started + 3_600_000 - 1_000)
      assert.isAtMost(at, ended + 3_600_000 + 1_000)
      assert.match(String(error.url), /\/order-plz$/)
      assert.include(proxy.log.received, "POST /order-plz")
      assert.notInclude(proxy.log.forwarded, "POST /order-plz", "no order reached Pebble")
      assert.strictEqual(proxy.log.received.filter((l) => l === "POST /order-plz").length, 1, "asked once, not retried")

      // an HTTP-date Retry-After
      const date = new Date(Math.ceil((Date.now() + 7_200_000) / 1000) * 1000)
      retryAfter = date.toUTCString()
      const dated = failureOf(yield* Effect.exit(renewer.renew(request)))
      assert.strictEqual(dated.retryAfter, date.getTime())

      // the limit lifted: the same renewer orders through the proxy
      retryAfter = undefined
      const renewed = yield* renewer.renew(request)
      assert.include(proxy.log.forwarded, "POST /order-plz")
      assert.match(renewed.orderUrl ?? "", new RegExp(`^${new URL(proxy.directoryUrl).origin.replace(/\./g, "\\.")}/my-order/`))
    }))
})
