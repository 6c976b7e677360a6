/**
 * tls.expiry.end-to-end, wildcard_dns01_required end to end: nginx serves a 5-day wildcard
 * certificate the short Pebble issued by dns-01; the runbook checks the zone is owned (the
 * provider's zone list), renews against the default Pebble by dns-01 through each DNS fake of
 * @byteport/tls/testing (Route53, Cloudflare, Cloud DNS; acme-client, and certbot's manual hooks
 * through Route53) — the fake feeds pebble-challtestsrv and Pebble validates the TXT for real —
 * then backs up, swaps, reloads nginx and verifies. An unowned zone is refused in diagnosis: no
 * ACME order (the renewer never runs, Pebble's log has no new order) and no write in any fake's log.
 */
import { X509Certificate } from "node:crypto"
import * as fs from "node:fs"
import { Route53Client } from "@aws-sdk/client-route-53"
import { type IncidentReport, Runbook, Verifier } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import * as Testing from "@byteport/core/testing"
import { assert, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { AcmeClientRenewer, Backup, CertbotRenewer, CertificateSignals, CloudDns, Cloudflare, EndToEndRunbook, Inspection, InstallCertificate, Nginx, RenewAction, Route53 } from "../src/index"
import type { DnsProvider, Renewer } from "../src/index"
import { DnsFakes } from "../src/testing/index"
import { describeWithServices, tmp } from "./support/services"

const token = "test-token"
const providerOf = {
  route53: (fake: DnsFakes.DnsFake) =>
    Route53.make({ route53: new Route53Client({ region: "us-east-1", endpoint: fake.url, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" }, maxAttempts: 1 }), pollIntervalMillis: 20 }),
  cloudflare: (fake: DnsFakes.DnsFake) => Cloudflare.make({ apiToken: Redacted.make(token), baseUrl: fake.url }),
  clouddns: (fake: DnsFakes.DnsFake) => CloudDns.make({ project: "byteport-test", accessToken: Redacted.make(token), baseUrl: fake.url, pollIntervalMillis: 20 })
}
const fakeOf = { route53: DnsFakes.route53, cloudflare: DnsFakes.cloudflare, clouddns: DnsFakes.cloudDns }
type Kind = keyof typeof fakeOf

describeWithServices(["pebble", "nginx", "certbot"], "tls.expiry.end-to-end: a wildcard through each DNS fake (dns-01, real Pebble, nginx)", (env) => {
  const challtestsrv = env.BYTEPORT_TEST_CHALLTESTSRV_URL ?? ""
  const dns = env.BYTEPORT_TEST_PEBBLE_DNS ?? ""
  const caBundle = env.BYTEPORT_TEST_PEBBLE_TLS_CA ?? ""
  const rootFiles = [env.BYTEPORT_TEST_PEBBLE_ROOT ?? "", env.BYTEPORT_TEST_PEBBLE_SHORT_ROOT ?? ""]
  const roots = () => rootFiles.map((f) => fs.readFileSync(f, "utf8"))
  const server = { kind: "nginx" as const, conf: env.BYTEPORT_TEST_NGINX_CONF ?? "", errorLog: env.BYTEPORT_TEST_NGINX_ERROR_LOG ?? "", pidFile: env.BYTEPORT_TEST_NGINX_PID_FILE ?? "" }
  const target = { cert: env.BYTEPORT_TEST_NGINX_CERT ?? "", key: env.BYTEPORT_TEST_NGINX_KEY ?? "" }
  const acmeClient = () => AcmeClientRenewer.make({ dnsNameservers: [dns], dnsTimeoutMillis: 10_000 })
  let seq = 0
  const apexOf = (what: string) => `wild-${what}-${process.pid}-${++seq}.byteport.test`

  const put = (cert: string | Buffer, key: string | Buffer) =>
    Effect.gen(function*() {
      yield* Effect.orDie(Backup.swap([{ path: target.key, content: key }, { path: target.cert, content: cert }]))
      yield* Effect.orDie(Nginx.make(server).reload)
    })

  /** nginx serves a 5-day wildcard certificate for `*.apex` from the short Pebble (dns-01 through `issuer`); put back afterwards. */
  const withShortWildcard = <A, E, R>(apex: string, issuer: DnsProvider.DnsProvider, test: (old: string) => Effect.Effect<A, E, R>) =>
    Effect.gen(function*() {
      const saved = { cert: fs.readFileSync(target.cert), key: fs.readFileSync(target.key) }
      return yield* Effect.gen(function*() {
        const out = tmp("byteport-e2e-wild-")
        const renewed = yield* Effect.orDie(acmeClient().renew({
          domains: [`*.${apex}`], challenge: { type: "dns-01", provider: issuer }, account: { directoryUrl: env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "", caBundle }, outDir: out
        }))
        yield* put(fs.readFileSync(renewed.files!.fullchain), fs.readFileSync(renewed.files!.key))
        const fp = new X509Certificate(fs.readFileSync(renewed.files!.fullchain)).fingerprint256
        assert.isTrue((yield* InstallCertificate.awaitServed(endpointOf(apex), fp, 10_000)).served)
        return yield* test(fp)
      }).pipe(Effect.ensuring(Effect.gen(function*() {
        if (fs.readFileSync(target.cert).equals(saved.cert)) return
        yield* put(saved.cert, saved.key)
      })), Effect.provide(Shell.layerLocal))
    })

  const endpointOf = (apex: string) => ({ host: "127.0.0.1", port: Number(env.BYTEPORT_TEST_NGINX_TLS_PORT), servername: `app.${apex}` })

  const run = (apex: string, providerName: string, provider: DnsProvider.DnsProvider, renewerKind: "acme-client" | "certbot", mode: "auto" | "dry_run" = "auto") =>
    Effect.gen(function*() {
      const calls: Array<Renewer.RenewRequest> = []
      const dir = tmp("byteport-e2e-wild-certbot-")
      const real: Renewer.Renewer<Shell.Shell> = renewerKind === "acme-client"
        ? acmeClient()
        : EndToEndRunbook.staged(CertbotRenewer.make({
          certbot: env.BYTEPORT_TEST_CERTBOT ?? "certbot", configDir: `${dir}/config`, workDir: `${dir}/work`, logsDir: `${dir}/logs`,
          dnsVisible: { nameservers: [dns], timeoutMillis: 10_000 }
        }))
      const renewer: Renewer.Renewer<Shell.Shell> = { ...real, renew: (r) => Effect.suspend(() => { calls.push(r); return real.renew(r) }) }
      const backups = tmp("byteport-e2e-wild-backups-")
      const options: EndToEndRunbook.Options = {
        endpoints: [{ ...endpointOf(apex), server, files: target, dnsProvider: providerName, expectStaple: false }],
        providers: { [providerName]: provider },
        ca: roots(), caFiles: rootFiles, renewer: renewerKind,
        account: { directoryUrl: env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "", caBundle },
        stagingRoot: tmp("byteport-e2e-wild-staging-"), backupRoot: backups,
        verifySchedule: Verifier.once("0 seconds"), cooldown: "0 seconds"
      }
      const layer = Layer.merge(
        Testing.layer({ handlers: [...InstallCertificate.handlers(), RenewAction.handler({ [renewerKind]: renewer }, { [providerName]: provider })] }),
        Shell.layerLocal
      )
      const signals = yield* CertificateSignals.pollOnce({ ...endpointOf(apex), ca: roots() })
      const signal = signals.find((x) => x.type === CertificateSignals.SIGNAL_EXPIRING_SOON)
      assert.isDefined(signal, JSON.stringify(signals.map((x) => x.type)))
      const r = yield* Effect.provide(Runbook.handle(EndToEndRunbook.make(options), signal!, { mode }), layer)
      if (!("status" in r)) return assert.fail(`awaiting approval: ${r.reason}`)
      return { report: r as IncidentReport.IncidentReport, calls, backups }
    })

  const classOf = (r: IncidentReport.IncidentReport) => (r.classification?._tag === "Classified" ? r.classification.class : r.classification?._tag)

  const cases: ReadonlyArray<readonly [Kind, "acme-client" | "certbot"]> = [["route53", "acme-client"], ["cloudflare", "acme-client"], ["clouddns", "acme-client"], ["route53", "certbot"]]
  for (const [kind, renewerKind] of cases) {
    it.live(`${kind} (${renewerKind}): wildcard_dns01_required → zone owned → renewed by dns-01 from the default Pebble, installed, verified; records cleaned up`, () =>
      Effect.gen(function*() {
        const apex = apexOf(kind)
        const fake = yield* fakeOf[kind]({ zones: [{ name: apex }], challtestsrv, token })
        const provider = providerOf[kind](fake)
        return yield* withShortWildcard(apex, provider, (old) =>
          Effect.gen(function*() {
            const writesBefore = fake.writes().length
            const { report: r, calls, backups } = yield* run(apex, kind, provider, renewerKind)
            assert.strictEqual(classOf(r), "wildcard_dns01_required")
            assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation ?? r.outcomes))
            assert.deepStrictEqual(r.outcomes.map((o) => [o.kind, o.status]), [["tls.renew", "applied"], ["tls.nginx.installCertificate", "applied"]])
            assert.strictEqual(calls.length, 1)
            assert.strictEqual(calls[0]!.challenge?.type, "dns-01")
            assert.isAbove(fake.writes().length, writesBefore, "the TXT went through the provider's API")
            assert.isFalse(fake.live().has(`_acme-challenge.${apex}`), "cleaned up")
            const leaf = (yield* Inspection.inspect({ ...endpointOf(apex), ca: roots() })).leaf
            assert.notStrictEqual(leaf.fingerprint256, old)
            assert.deepStrictEqual([...leaf.dnsNames], [`*.${apex}`])
            assert.isAbove(leaf.notAfter, Date.now() + 30 * 86_400_000)
            // the wildcard's backup directory: `*` encoded, a UTC timestamp, 0700
            const dirs = fs.readdirSync(backups)
            assert.strictEqual(dirs.length, 1)
            assert.match(dirs[0]!, new RegExp(`^_wildcard_\\.${apex.replace(/\./g, "\\.")}-\\d{8}T\\d{6}\\.\\d{3}Z$`))
            assert.strictEqual(fs.statSync(`${backups}/${dirs[0]}`).mode & 0o777, 0o700)
          }))
      }), 180_000)
  }

  it.live("dry_run with an owned zone: classified and planned, but no ACME order, no DNS record, no file", () =>
    Effect.gen(function*() {
      const apex = apexOf("dry")
      const fake = yield* fakeOf.cloudflare({ zones: [{ name: apex }], challtestsrv, token })
      const provider = providerOf.cloudflare(fake)
      return yield* withShortWildcard(apex, provider, (old) =>
        Effect.gen(function*() {
          const writes = fake.writes().length
          const pebbleLog = fs.statSync(env.BYTEPORT_TEST_PEBBLE_LOG ?? "").size
          const { report: r, calls, backups } = yield* run(apex, "cloudflare", provider, "acme-client", "dry_run")
          assert.strictEqual(classOf(r), "wildcard_dns01_required")
          assert.deepStrictEqual(r.plan === undefined ? [] : r.outcomes.map((o) => o.kind), ["tls.renew", "tls.nginx.installCertificate"])
          assert.strictEqual(calls.length, 0)
          assert.strictEqual(fake.writes().length, writes, "no DNS record")
          assert.deepStrictEqual(fs.readdirSync(backups), [])
          assert.notMatch(fs.readFileSync(env.BYTEPORT_TEST_PEBBLE_LOG ?? "", "utf8").slice(pebbleLog), /order/i)
          assert.strictEqual((yield* Inspection.inspect({ ...endpointOf(apex), ca: roots() })).leaf.fingerprint256, old)
        }))
    }), 180_000)

  it.live("unowned zone: refused in diagnosis, no ACME order (Pebble's log), no write in any fake's log, in auto and dry_run", () =>
    Effect.gen(function*() {
      const apex = apexOf("unowned")
      const issuer = yield* DnsFakes.route53({ zones: [{ name: apex }], challtestsrv, token })
      return yield* withShortWildcard(apex, providerOf.route53(issuer), (old) =>
        Effect.gen(function*() {
          for (const kind of ["route53", "cloudflare", "clouddns"] as const) {
            // the account owns `not<apex>` and `<apex-parent>.other`: neither contains _acme-challenge.<apex>
            const fake = yield* fakeOf[kind]({ zones: [{ name: `not${apex}` }, { name: "byteport.other" }], challtestsrv, token })
            for (const mode of ["auto", "dry_run"] as const) {
              const pebbleLog = fs.statSync(env.BYTEPORT_TEST_PEBBLE_LOG ?? "").size
              const { report: r, calls, backups } = yield* run(apex, kind, providerOf[kind](fake), "acme-client", mode)
              assert.strictEqual(classOf(r), "wildcard_dns01_required")
              assert.deepStrictEqual(r.outcomes.map((o) => [o.kind, o.status]), [["escalate", "escalated"]], kind)
              assert.match(r.outcomes[0]!.detail ?? "", /refused: .* owns no zone containing _acme-challenge\./)
              assert.strictEqual(calls.length, 0)
              assert.deepStrictEqual(fake.writes(), [], `${kind} ${mode}: no write`)
              assert.deepStrictEqual(fs.readdirSync(backups), [])
              assert.notMatch(fs.readFileSync(env.BYTEPORT_TEST_PEBBLE_LOG ?? "", "utf8").slice(pebbleLog), /order/i)
            }
          }
          assert.strictEqual((yield* Inspection.inspect({ ...endpointOf(apex), ca: roots() })).leaf.fingerprint256, old)
        }))
    }), 180_000)
})
