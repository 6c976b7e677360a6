/**
 * tls.expiry.seven-class end to end, auto mode, on the real servers of scripts/services.sh:
 * nginx serves a 5-day certificate certbot got from the short Pebble; the detector signals it
 * (7 days); the runbook classifies acme_http01, renews against the default Pebble (acme-client,
 * http-01 by nginx's webroot) into its staging dir, backs up and swaps the files, reloads nginx
 * and verifies the new leaf. The real failure: renewing against the short Pebble gives 5 days
 * again, verification fails, core runs the install's undo, the backup is served again, and the
 * incident escalates. dry_run and observe make no order and write nothing.
 */
import { X509Certificate } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { type IncidentReport, Runbook, type Signal, Verifier } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import * as Testing from "@byteport/core/testing"
import { assert, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { AcmeClientRenewer, Backup, RenewalSignals, CertificateSignals, Inspection, InstallCertificate, Nginx, RenewAction, SevenClassRunbook } from "../src/index"
import type { Renewer } from "../src/index"
import { rateLimitProxy } from "./support/pebble"
import { certbot, describeWithServices, tmp, withNginx } from "./support/services"

describeWithServices(["pebble", "ocsp", "nginx", "certbot"], "tls.expiry.seven-class end to end (nginx + Pebble)", (env) => {
  const servername = `seven-${process.pid}.byteport.test`
  const endpointAddr = { host: "127.0.0.1", port: Number(env.BYTEPORT_TEST_NGINX_TLS_PORT), servername }
  const server = {
    kind: "nginx" as const,
    conf: env.BYTEPORT_TEST_NGINX_CONF ?? "",
    errorLog: env.BYTEPORT_TEST_NGINX_ERROR_LOG ?? "",
    pidFile: env.BYTEPORT_TEST_NGINX_PID_FILE ?? ""
  }
  const target = { cert: env.BYTEPORT_TEST_NGINX_CERT ?? "", key: env.BYTEPORT_TEST_NGINX_KEY ?? "" }
  const rootFiles = [env.BYTEPORT_TEST_PEBBLE_ROOT ?? "", env.BYTEPORT_TEST_PEBBLE_SHORT_ROOT ?? ""]
  const roots = () => rootFiles.map((f) => fs.readFileSync(f, "utf8"))
  const nginxReload = (cert: Buffer, key: Buffer) =>
    Effect.gen(function*() {
      yield* Effect.orDie(Backup.swap([{ path: target.key, content: key }, { path: target.cert, content: cert }]))
      yield* Effect.orDie(Nginx.make(server).reload.pipe(Effect.provide(Shell.layerLocal)))
    })

  /** nginx serves a fresh 5-day certificate from the short Pebble for the test; restored afterwards. */
  const withShortCert = <A, E, R>(test: (served: string) => Effect.Effect<A, E, R>) =>
    withNginx(env, Effect.gen(function*() {
      const cert = fs.readFileSync(target.cert)
      const key = fs.readFileSync(target.key)
      return yield* Effect.gen(function*() {
        const issued = yield* certbot(env, { directory: env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "", name: servername })
        yield* nginxReload(fs.readFileSync(issued.fullchain), fs.readFileSync(issued.key))
        const fp = yield* InstallCertificate.awaitServed(endpointAddr, Inspection_fingerprint(issued.fullchain), 10_000).pipe(Effect.as(Inspection_fingerprint(issued.fullchain)))
        return yield* test(fp)
      }).pipe(Effect.ensuring(Effect.gen(function*() {
        if (fs.readFileSync(target.cert).equals(cert) && fs.readFileSync(target.key).equals(key)) return
        yield* nginxReload(cert, key)
      })), Effect.provide(Shell.layerLocal))
    }))

  const setup = (directoryUrl: string, renewalSignals?: RenewalSignals.RenewalSignals) => {
    const calls: Array<Renewer.RenewRequest> = []
    const acme = AcmeClientRenewer.make()
    const real = renewalSignals === undefined ? acme : renewalSignals.observe(acme)
    const renewer: Renewer.Renewer = { ...real, renew: (r) => Effect.suspend(() => { calls.push(r); return real.renew(r) }) }
    const staging = tmp("byteport-seven-staging-")
    const backups = tmp("byteport-seven-backups-")
    const options: SevenClassRunbook.Options = {
      endpoints: [{ ...endpointAddr, server, files: target, webroot: env.BYTEPORT_TEST_NGINX_WEBROOT ?? "", expectStaple: false }],
      ca: roots(),
      caFiles: rootFiles,
      account: { directoryUrl, caBundle: env.BYTEPORT_TEST_PEBBLE_TLS_CA ?? "" },
      stagingRoot: staging,
      backupRoot: backups,
      verifySchedule: Verifier.once("0 seconds"),
      cooldown: "0 seconds",
      ...(renewalSignals !== undefined ? { renewalSignals } : {})
    }
    const layer = Layer.merge(
      Testing.layer({ handlers: [...InstallCertificate.handlers(), RenewAction.handler({ "acme-client": renewer })] }),
      Shell.layerLocal
    )
    return { calls, options, staging, backups, layer }
  }

  const run = (s: ReturnType<typeof setup>, mode: "auto" | "dry_run" | "observe") => Effect.provide(handleIn(s, mode), s.layer)
  /** One incident, in the services the caller provides (`s.layer`: one store across incidents). */
  const handleIn = (s: ReturnType<typeof setup>, mode: "auto" | "dry_run" | "observe", given?: Signal.Signal) =>
    Effect.gen(function*() {
      const signals = given !== undefined ? [given] : yield* CertificateSignals.pollOnce({ ...endpointAddr, ca: s.options.ca! })
      const signal = signals.find((x) => x.type === CertificateSignals.SIGNAL_EXPIRING_SOON)
      assert.isDefined(signal, JSON.stringify(signals.map((x) => x.type)))
      assert.strictEqual(signal!.evidence["thresholdDays"], 7)
      const r = yield* Runbook.handle(SevenClassRunbook.make(s.options), signal!, { mode })
      if (!("status" in r)) return assert.fail(`awaiting approval: ${r.reason}`)
      return Object.assign(r as IncidentReport.IncidentReport, { signal: signal! })
    })

  const classOf = (r: IncidentReport.IncidentReport) => {
    const c = r.classification
    return c === undefined ? "none" : c._tag === "Classified" ? c.class : c._tag
  }
  const served = () => Effect.map(Inspection.inspect({ ...endpointAddr, ca: roots() }), (i) => i.leaf)

  it.live("5-day certificate from the short Pebble → renewed from the default Pebble, backed up, swapped, reloaded, verified", () =>
    withShortCert((old) =>
      Effect.gen(function*() {
        const s = setup(env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "")
        const r = yield* run(s, "auto")
        assert.strictEqual(classOf(r), "acme_http01")
        assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation ?? r.outcomes))
        assert.deepStrictEqual(r.outcomes.map((o) => [o.kind, o.status]), [["tls.renew", "applied"], ["tls.nginx.installCertificate", "applied"]])
        assert.strictEqual(s.calls.length, 1)
        const leaf = yield* served()
        assert.notStrictEqual(leaf.fingerprint256, old)
        assert.isAbove(leaf.notAfter, Date.now() + 30 * 86_400_000)
        // the backup: 0700 dir, 0600 files, a manifest naming the nginx files
        const [dir] = fs.readdirSync(s.backups)
        assert.isDefined(dir)
        assert.strictEqual(fs.statSync(path.join(s.backups, dir!)).mode & 0o777, 0o700)
        const manifest = path.join(s.backups, dir!, "manifest.json")
        assert.strictEqual(fs.statSync(manifest).mode & 0o777, 0o600)
        assert.include(fs.readFileSync(manifest, "utf8"), target.cert)
        // key material never reaches the report
        assert.notInclude(JSON.stringify(r), "PRIVATE KEY")
      })), 120_000)

  it.live("renewing against the short Pebble gives 5 days again: verification fails, the backup is served again, escalation", () =>
    withShortCert((old) =>
      Effect.gen(function*() {
        const s = setup(env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "")
        const r = yield* run(s, "auto")
        assert.notStrictEqual(r.status, "recovered")
        assert.isDefined(r.escalation)
        assert.strictEqual(s.calls.length, 1)
        const kinds = r.outcomes.map((o) => [o.kind, o.status])
        assert.deepInclude(kinds, ["tls.nginx.restoreCertificate", "applied"], JSON.stringify(kinds))
        const leaf = yield* served()
        assert.strictEqual(leaf.fingerprint256, old)
        const failed = r.verdicts.flatMap((v) => ("checks" in v ? v.checks : [])).filter((c) => !c.ok).map((c) => c.name)
        assert.include(failed, "notAfter > now + 30 d")
      })), 120_000)

  it.live("a proxy before Pebble answers rateLimited: the failed renewal escalates and keeps Retry-After; the next incident is acme_rate_limited and orders nothing", () =>
    withShortCert((old) =>
      Effect.gen(function*() {
        const proxy = yield* rateLimitProxy(env, env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "", () => "3600")
        const signals = yield* RenewalSignals.make
        const s = setup(proxy.directoryUrl, signals)
        yield* Effect.provide(Effect.gen(function*() {
        const first = yield* handleIn(s, "auto")
        assert.strictEqual(classOf(first), "acme_http01")
        assert.notStrictEqual(first.status, "recovered")
        assert.isDefined(first.escalation)
        assert.notInclude(proxy.log.forwarded, "POST /order-plz", "no order reached Pebble")
        const limit = yield* signals.inForce([servername])
        assert.isDefined(limit)
        assert.isAtLeast(limit!.retryAfter, Date.now() + 3_590_000)
        const orders = proxy.log.received.filter((l) => l === "POST /order-plz").length
        // the next incident: the expiring certificate's signal delivered again
        const second = yield* handleIn(s, "auto", first.signal)
        assert.strictEqual(classOf(second), "acme_rate_limited")
        assert.deepStrictEqual(second.outcomes.map((o) => [o.kind, o.status]), [["escalate", "escalated"]])
        assert.match(second.outcomes[0]!.detail ?? "", /rate-limited .* no order before then/)
        assert.isDefined(second.escalation)
        assert.strictEqual(proxy.log.received.filter((l) => l === "POST /order-plz").length, orders, "no order before Retry-After")
        }), s.layer)
        assert.strictEqual((yield* served()).fingerprint256, old)
      })), 120_000)

  for (const mode of ["dry_run", "observe"] as const) {
    it.live(`${mode}: no ACME order, no staged file, no backup, nothing reloaded`, () =>
      withShortCert((old) =>
        Effect.gen(function*() {
          const s = setup(env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "")
          const before = fs.readFileSync(target.cert)
          const r = yield* run(s, mode)
          assert.strictEqual(classOf(r), "acme_http01")
          assert.strictEqual(s.calls.length, 0)
          assert.deepStrictEqual(fs.readdirSync(s.staging), [])
          assert.deepStrictEqual(fs.readdirSync(s.backups), [])
          assert.isTrue(fs.readFileSync(target.cert).equals(before))
          assert.strictEqual((yield* served()).fingerprint256, old)
        })), 120_000)
  }
})

const Inspection_fingerprint = (fullchain: string) => new X509Certificate(fs.readFileSync(fullchain)).fingerprint256
