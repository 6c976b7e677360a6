/**
 * The certbot renewer against the real Pebbles: a lineage certbot got from the short Pebble
 * (5 days) renewed with `renew --cert-name` against the renewal Pebble (`--server`,
 * REQUESTS_CA_BUNDLE); dns-01 for a wildcard through `--manual-auth-hook` / `--manual-cleanup-hook`
 * running the shipped Node hook against a DNS fake (Pebble validates via challtestsrv); a
 * rate-limiting proxy (Retry-After from certbot's log); argv for the DNS plugins (not installed
 * here) and for acme.sh (not installable here: argv unit tests only).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Route53Client } from "@aws-sdk/client-route-53"
import { Shell } from "@byteport/core/shell"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { AcmeShRenewer, CertbotRenewer, Certificate, Chain, DnsHook, Files, Renewer, Route53 } from "../src/index"
import { DnsFakes } from "../src/testing/index"
import * as http from "node:http"
import { execFileSync } from "node:child_process"
import { freePort, privatePebble, rateLimitProxy } from "./support/pebble"
import { certbot, describeWithServices, tmp } from "./support/services"

const base: Renewer.RenewRequest = { domains: ["example.com", "www.example.com"], account: { directoryUrl: "https://acme.example/dir", caBundle: "/ca.pem" } }
const opts: CertbotRenewer.Options = { configDir: "/c", workDir: "/w", logsDir: "/l" }

const endsWith = (argv: ReadonlyArray<string>, tail: ReadonlyArray<string>) => assert.deepStrictEqual(argv.slice(-tail.length), [...tail])

describe("certbot argv", () => {
  it("renew --cert-name with --server and webroot; certonly with -d per name", () => {
    assert.deepStrictEqual(
      CertbotRenewer.argv({ ...base, challenge: { type: "http-01", mode: "webroot", webroot: "/srv/www" } }, opts, "renew"),
      ["certbot", "renew", "--cert-name", "example.com", "--non-interactive", "--config-dir", "/c", "--work-dir", "/w", "--logs-dir", "/l", "--no-random-sleep-on-renew", "--force-renewal",
        "--server", "https://acme.example/dir", "--agree-tos", "--register-unsafely-without-email", "--key-type", "ecdsa", "--elliptic-curve", "secp256r1",
        "--preferred-challenges", "http-01", "--webroot", "-w", "/srv/www"]
    )
    const certonly = CertbotRenewer.argv({ ...base, name: "shop", account: { directoryUrl: "https://acme.example/dir", email: "ops@example.com" }, keyPolicy: { type: "rsa", bits: 3072 }, challenge: { type: "http-01", mode: "standalone", port: 8080, address: "127.0.0.1" } }, { ...opts, force: false }, "certonly")
    assert.deepStrictEqual(certonly.slice(0, 3), ["certbot", "certonly", "--cert-name"])
    assert.strictEqual(certonly[3], "shop")
    assert.includeDeepMembers([...certonly], ["-d", "example.com", "www.example.com", "-m", "ops@example.com", "--rsa-key-size", "3072", "--standalone", "--http-01-port", "8080", "--http-01-address", "127.0.0.1"])
    assert.notInclude([...certonly], "--force-renewal")
    assert.include([...CertbotRenewer.argv({ ...base, keyPolicy: { type: "reuse", keyPath: "/k" } }, opts, "renew")], "--reuse-key")
    assert.strictEqual(CertbotRenewer.certName({ domains: ["*.example.com", "example.com"] }), "example.com")
  })
  it("dns-01: the plugins (--dns-google, not --dns-gcp) and the manual hooks", () => {
    const plugin = (p: Renewer.DnsPlugin, credentials?: string) =>
      CertbotRenewer.argv({ ...base, challenge: { type: "dns-01", plugin: p, propagationSeconds: 30, ...(credentials === undefined ? {} : { credentials }) } }, opts, "renew")
    endsWith(plugin("route53"), ["--dns-route53", "--dns-route53-propagation-seconds", "30"])
    assert.notInclude([...plugin("route53", "/ignored")], "--dns-route53-credentials")
    endsWith(plugin("cloudflare", "/etc/cf.ini"), ["--dns-cloudflare", "--dns-cloudflare-credentials", "/etc/cf.ini", "--dns-cloudflare-propagation-seconds", "30"])
    const google = plugin("google", "/etc/sa.json")
    endsWith(google, ["--dns-google", "--dns-google-credentials", "/etc/sa.json", "--dns-google-propagation-seconds", "30"])
    assert.isFalse(google.some((a) => a.includes("gcp")))
    const hooked = CertbotRenewer.argv({ ...base, challenge: { type: "dns-01", provider: Route53.make({ zones: [] }) } }, opts, "renew", { node: "/usr/bin/node", script: "/w/it's.mjs" })
    endsWith(hooked, ["--manual", "--preferred-challenges", "dns", "--manual-auth-hook", "/usr/bin/node '/w/it'\\''s.mjs' present", "--manual-cleanup-hook", "/usr/bin/node '/w/it'\\''s.mjs' cleanup"])
  })
  it("classify: rate limit with Retry-After from the log, wrong key authorization, missing TXT, other", () => {
    const now = Date.UTC(2026, 11, 7)
    const limited = CertbotRenewer.classify(base, `An unexpected error occurred:\nurn:ietf:params:acme:error:rateLimited ... {'Retry-After': '3600', 'Content-Type': 'application/problem+json'}`, 1, now)
    assert.strictEqual(limited._tag, "AcmeRateLimited")
    assert.strictEqual((limited as Renewer.AcmeRateLimited).retryAfter, now + 3_600_000)
    const key = CertbotRenewer.classify(base, "Certbot failed to authenticate some domains\n  Domain: www.example.com\n  Type:   unauthorized\n  Detail: 127.0.0.1: The key authorization file from the server did not match this challenge", 1, now)
    assert.strictEqual(key._tag, "AcmeChallengeFailed")
    assert.strictEqual((key as Renewer.AcmeChallengeFailed).reason, "wrong_key_authorization")
    assert.strictEqual((key as Renewer.AcmeChallengeFailed).domain, "www.example.com")
    const txt = CertbotRenewer.classify(base, "  Domain: example.com\n  Type:   unauthorized\n  Detail: No TXT records found for DNS query for _acme-challenge.example.com", 1, now)
    assert.strictEqual((txt as Renewer.AcmeChallengeFailed).reason, "missing_txt")
    const other = CertbotRenewer.classify(base, "something else\n-----BEGIN PRIVATE KEY-----", 1, now)
    assert.strictEqual(other._tag, "RenewFailed")
    assert.notInclude(JSON.stringify(other), "PRIVATE KEY")
  })
})

describe("acme.sh argv (acme.sh cannot be installed on the test machines: argv only)", () => {
  it("--renew -d with --force and --ecc; --issue with --dns dns_aws|dns_cf|dns_gcloud, -w, --standalone", () => {
    assert.deepStrictEqual(AcmeShRenewer.argv(base, { home: "/h" }, "renew"), ["acme.sh", "--renew", "-d", "example.com", "--home", "/h", "--server", "https://acme.example/dir", "--force", "--ecc"])
    assert.deepStrictEqual(AcmeShRenewer.argv({ ...base, keyPolicy: { type: "rsa" } }, { force: false }, "renew"), ["acme.sh", "--renew", "-d", "example.com", "--server", "https://acme.example/dir"])
    for (const [plugin, api] of [["route53", "dns_aws"], ["cloudflare", "dns_cf"], ["google", "dns_gcloud"]] as const) {
      const a = AcmeShRenewer.argv({ ...base, challenge: { type: "dns-01", plugin } }, {}, "issue")
      assert.deepStrictEqual(a.slice(0, 6), ["acme.sh", "--issue", "-d", "example.com", "-d", "www.example.com"])
      endsWith(a, ["--dns", api])
      assert.include([...a], "ec-256")
    }
    endsWith(AcmeShRenewer.argv({ ...base, challenge: { type: "http-01", mode: "webroot", webroot: "/srv" } }, {}, "issue"), ["-w", "/srv"])
    endsWith(AcmeShRenewer.argv({ ...base, challenge: { type: "http-01", mode: "standalone", port: 8080 } }, {}, "issue"), ["--standalone", "--httpport", "8080"])
    assert.strictEqual(AcmeShRenewer.lineageDir("/h", base), "/h/example.com_ecc")
  })
  it.effect("refuses a BytePort DnsProvider and a wildcard over http-01 before running anything", () =>
    Effect.gen(function*() {
      const r = AcmeShRenewer.make({ acmeSh: "/nonexistent/acme.sh" })
      const dns = yield* Effect.exit(r.renew({ ...base, challenge: { type: "dns-01", provider: Route53.make({ zones: [] }) } }).pipe(Effect.provide(Shell.layerLocal)))
      assert.match(JSON.stringify(dns), /RenewerMisconfigured/)
      const wild = yield* Effect.exit(r.renew({ domains: ["*.example.com"], challenge: { type: "http-01", mode: "webroot", webroot: "/srv" } }).pipe(Effect.provide(Shell.layerLocal)))
      assert.match(JSON.stringify(wild), /wildcards never use http-01/)
    }))
})

describeWithServices(["pebble", "nginx", "certbot"], "certbot renewer against the real Pebbles", (env) => {
  const ca = env.BYTEPORT_TEST_PEBBLE_TLS_CA ?? ""
  const directoryUrl = env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? ""
  const webroot = env.BYTEPORT_TEST_NGINX_WEBROOT ?? ""
  const roots = () => Certificate.parsePemBundle(fs.readFileSync(env.BYTEPORT_TEST_PEBBLE_ROOT ?? "", "utf8"))
  const unique = (label: string) => `${label}-${process.pid}-${Date.now().toString(36)}.byteport.test`

  it.live("renew --cert-name: a 5-day lineage from the short Pebble renewed against the renewal Pebble (--server)", () =>
    Effect.gen(function*() {
      const name = unique("certbot")
      const issued = yield* certbot(env, { directory: env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "", name })
      const configDir = path.dirname(path.dirname(issued.live))
      const root = path.dirname(configDir)
      const before = Certificate.fromX509(Certificate.parsePemBundle(fs.readFileSync(issued.cert, "utf8"))[0]!)
      const renewer = CertbotRenewer.make({ certbot: env.BYTEPORT_TEST_CERTBOT ?? "certbot", configDir, workDir: `${root}/work`, logsDir: `${root}/logs` })
      const request: Renewer.RenewRequest = { domains: [name], name, challenge: { type: "http-01", mode: "webroot", webroot }, account: { directoryUrl, caBundle: ca } }
      assert.match(renewer.describe(request), /^certbot renew --cert-name /)
      const renewed = yield* renewer.renew(request).pipe(Effect.provide(Shell.layerLocal))
      assert.strictEqual(renewed.files?.fullchain, issued.fullchain, "the lineage's live files")
      assert.notStrictEqual(renewed.serial, before.serial)
      assert.isAbove(renewed.notAfter - renewed.notBefore, 30 * 86_400_000, "the renewal CA's long validity, not 5 days")
      const chain = Certificate.parsePemBundle(renewed.pems!.fullchain)
      assert.isTrue(Chain.verify({ served: chain, roots: roots(), name, now: Date.now() }).valid)
      assert.isTrue(yield* Files.keyMatches(issued.cert, issued.key))
      // the renewal conf now names the renewal CA
      assert.include(fs.readFileSync(path.join(configDir, "renewal", `${name}.conf`), "utf8"), directoryUrl)
    }), 60_000)

  it.live("dns-01 wildcard by --manual-auth-hook / --manual-cleanup-hook through the Route53 fake; unowned zone: certbot never runs", () =>
    Effect.gen(function*() {
      const apex = unique("hook")
      const fake = yield* DnsFakes.route53({ zones: [{ name: apex }], challtestsrv: env.BYTEPORT_TEST_CHALLTESTSRV_URL ?? "" })
      const provider = Route53.make({
        route53: new Route53Client({ region: "us-east-1", endpoint: fake.url, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" }, maxAttempts: 1 }),
        pollIntervalMillis: 20
      })
      const dir = tmp("byteport-certbot-dns-")
      const renewer = CertbotRenewer.make({
        certbot: env.BYTEPORT_TEST_CERTBOT ?? "certbot", configDir: `${dir}/config`, workDir: `${dir}/work`, logsDir: `${dir}/logs`,
        dnsVisible: { nameservers: [env.BYTEPORT_TEST_PEBBLE_DNS ?? ""], timeoutMillis: 10_000 }
      })
      const renewed = yield* renewer.renew({ domains: [`*.${apex}`, apex], challenge: { type: "dns-01", provider }, account: { directoryUrl, caBundle: ca } }).pipe(Effect.provide(Shell.layerLocal))
      assert.deepStrictEqual([...renewed.domains].sort(), [`*.${apex}`, apex].sort())
      assert.isTrue(Chain.verify({ served: Certificate.parsePemBundle(renewed.pems!.fullchain), roots: roots(), name: `x.${apex}`, now: Date.now() }).valid)
      const upserts = fake.writes().filter((w) => w.body.includes("<Action>UPSERT</Action>")).length
      assert.isAtLeast(upserts, 2, "both values went through the Route53 API")
      assert.isFalse(fake.live().has(`_acme-challenge.${apex}`), "the cleanup hook removed them")
      assert.isTrue(fs.existsSync(path.join(dir, "work", "byteport-hooks", "byteport-dns-hook.mjs")))
      assert.include(DnsHook.SCRIPT, "BYTEPORT_DNS_HOOK_TOKEN")

      const other = yield* DnsFakes.route53({ zones: [{ name: "example.com" }] })
      const refused = yield* Effect.exit(renewer.renew({
        domains: ["*.notexample.com"],
        challenge: { type: "dns-01", provider: Route53.make({ route53: new Route53Client({ region: "us-east-1", endpoint: other.url, credentials: { accessKeyId: "a", secretAccessKey: "b" } }) }) },
        account: { directoryUrl, caBundle: ca }
      }).pipe(Effect.provide(Shell.layerLocal)))
      assert.match(JSON.stringify(refused), /DnsZoneNotOwned/)
      assert.deepStrictEqual(other.writes(), [])
      assert.isFalse(fs.existsSync(path.join(dir, "config", "live", "notexample.com")))
    }), 60_000)

  it.live("a rate-limiting proxy before Pebble: AcmeRateLimited with the Retry-After certbot logged", () =>
    Effect.gen(function*() {
      const proxy = yield* rateLimitProxy(env, directoryUrl, () => "7200")
      const dir = tmp("byteport-certbot-rl-")
      const renewer = CertbotRenewer.make({ certbot: env.BYTEPORT_TEST_CERTBOT ?? "certbot", configDir: `${dir}/config`, workDir: `${dir}/work`, logsDir: `${dir}/logs` })
      const started = Date.now()
      const exit = yield* Effect.exit(renewer.renew({ domains: [unique("certbot-rl")], challenge: { type: "http-01", mode: "webroot", webroot }, account: { directoryUrl: proxy.directoryUrl, caBundle: ca } }).pipe(Effect.provide(Shell.layerLocal)))
      assert.isTrue(Exit.isFailure(exit))
      const json = JSON.stringify(exit)
      assert.match(json, /AcmeRateLimited/)
      const retryAfter = Number(/"retryAfter":(\d+)/.exec(json)?.[1])
      assert.isAtLeast(retryAfter, started + 7_200_000 - 1_000)
      assert.isAtMost(retryAfter, Date.now() + 7_200_000 + 1_000)
      assert.notInclude(proxy.log.forwarded, "POST /order-plz")
    }), 60_000)

  it.live("http-01 standalone on a private Pebble's port; a wrong key authorization classified from certbot's real output", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const pebble = yield* privatePebble(env, port)
      const dir = tmp("byteport-certbot-sa-")
      const renewer = CertbotRenewer.make({ certbot: env.BYTEPORT_TEST_CERTBOT ?? "certbot", configDir: `${dir}/config`, workDir: `${dir}/work`, logsDir: `${dir}/logs` })
      const name = unique("certbot-sa")
      const renewed = yield* renewer.renew({ domains: [name], challenge: { type: "http-01", mode: "standalone", port, address: "127.0.0.1" }, account: { directoryUrl: pebble.directoryUrl, caBundle: ca } }).pipe(Effect.provide(Shell.layerLocal))
      assert.isTrue(Chain.verify({ served: Certificate.parsePemBundle(renewed.pems!.fullchain), roots: Certificate.parsePemBundle(pebble.root), name, now: Date.now() }).valid)

      // a web server on the CA's port serving the webroot's files with one byte changed
      const webrootDir = tmp("byteport-certbot-wr-")
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<http.Server>((resolve) => {
          const s = http.createServer((req, res) => {
            const file = path.join(webrootDir, req.url ?? "/")
            if (!file.startsWith(webrootDir) || !fs.existsSync(file)) return void res.writeHead(404).end()
            res.writeHead(200).end(`${fs.readFileSync(file, "utf8")}x`)
          })
          s.listen(port, "127.0.0.1", () => resolve(s))
        })),
        (s) => Effect.promise(() => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()) }))
      )
      const wrong = unique("certbot-wrong")
      const exit = yield* Effect.exit(renewer.renew({ domains: [wrong], challenge: { type: "http-01", mode: "webroot", webroot: webrootDir }, account: { directoryUrl: pebble.directoryUrl, caBundle: ca } }).pipe(Effect.provide(Shell.layerLocal)))
      const json = JSON.stringify(exit)
      assert.match(json, /"_tag":"AcmeChallengeFailed"/, json.slice(0, 2000))
      assert.match(json, /"reason":"wrong_key_authorization"/)
      assert.include(json, `"domain":"${wrong}"`)
    }), 60_000)
})

const acmeShPath = (() => {
  try {
    return execFileSync("sh", ["-c", "command -v acme.sh"], { encoding: "utf8" }).trim() || undefined
  } catch {
    return undefined
  }
})()
// acme.sh is not installable on the test machines (no Debian package, no npm package): the real
// run happens only where it is on PATH, and is skipped with this message elsewhere, CI included.
;(acmeShPath === undefined ? describe.skip : describe)(`acme.sh against the real Pebble${acmeShPath === undefined ? " [skipped: acme.sh is not on PATH; argv unit tests above]" : ""}`, () => {
  it.live("--issue then --renew -d (webroot)", () =>
    Effect.gen(function*() {
      const home = tmp("byteport-acmesh-")
      const renewer = AcmeShRenewer.make({ acmeSh: acmeShPath ?? "acme.sh", home })
      const env = process.env
      const request: Renewer.RenewRequest = {
        domains: [`acmesh-${process.pid}.byteport.test`],
        challenge: { type: "http-01", mode: "webroot", webroot: env.BYTEPORT_TEST_NGINX_WEBROOT ?? "" },
        account: { directoryUrl: env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "", caBundle: env.BYTEPORT_TEST_PEBBLE_TLS_CA ?? "" }
      }
      const first = yield* renewer.renew(request).pipe(Effect.provide(Shell.layerLocal))
      const second = yield* renewer.renew(request).pipe(Effect.provide(Shell.layerLocal))
      assert.notStrictEqual(first.serial, second.serial)
    }))
})
