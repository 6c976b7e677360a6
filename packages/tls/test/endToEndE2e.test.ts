/**
 * tls.expiry.end-to-end end to end, auto mode, on the real servers of scripts/services.sh: nginx,
 * haproxy (USR2 and runtime API) and Caddy serve a 5-day certificate certbot got from the short
 * Pebble; the detector signals it (7 days); the runbook classifies acme_renewable, renews with
 * certbot (`renew --cert-name`, the lineage's own config dir) against the default Pebble, stages
 * the lineage's files, backs up, swaps, reloads and verifies. The real failure: renewing against
 * the short Pebble gives 5 days again, verification fails, core runs the install's undo, the
 * backup is served again, and the incident escalates. Also: a mismatched key is refused before the
 * swap; a failing `nginx -t` reloads nothing; a proxy before Pebble answering rateLimited +
 * Retry-After → the next incident is acme_rate_limited with no order; dry_run and observe make no
 * order and write nothing.
 */
import { generateKeyPairSync, X509Certificate } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { type IncidentReport, Plan, Runbook, type Signal, Verifier } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import * as Testing from "@byteport/core/testing"
import { assert, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { AcmeClientRenewer, Backup, CertbotRenewer, CertificateSignals, Discover, EndToEndRunbook, Inspection, InstallCertificate, RenewAction, RenewalSignals } from "../src/index"
import type { Renewer } from "../src/index"
import { rateLimitProxy } from "./support/pebble"
import { certbot, describeWithServices, type Issued, tmp } from "./support/services"

const fingerprintOf = (file: string) => new X509Certificate(fs.readFileSync(file)).fingerprint256

describeWithServices(["pebble", "ocsp", "nginx", "haproxy", "caddy", "certbot"], "tls.expiry.end-to-end end to end (certbot + Pebble; nginx, haproxy, caddy)", (env) => {
  let seq = 0
  const uniqueName = (what: string) => `e2e-${what}-${process.pid}-${++seq}.byteport.test`
  const rootFiles = [env.BYTEPORT_TEST_PEBBLE_ROOT ?? "", env.BYTEPORT_TEST_PEBBLE_SHORT_ROOT ?? ""]
  const roots = () => rootFiles.map((f) => fs.readFileSync(f, "utf8"))
  const webroot = env.BYTEPORT_TEST_NGINX_WEBROOT ?? ""

  interface Srv {
    readonly spec: InstallCertificate.ServerSpec
    readonly target: { readonly cert: string; readonly key?: string }
    readonly endpoint: { readonly host: string; readonly port: number; readonly servername: string }
  }
  const nginx = (): Srv => ({
    spec: { kind: "nginx", conf: env.BYTEPORT_TEST_NGINX_CONF ?? "", errorLog: env.BYTEPORT_TEST_NGINX_ERROR_LOG ?? "", pidFile: env.BYTEPORT_TEST_NGINX_PID_FILE ?? "" },
    target: { cert: env.BYTEPORT_TEST_NGINX_CERT ?? "", key: env.BYTEPORT_TEST_NGINX_KEY ?? "" },
    endpoint: { host: "127.0.0.1", port: Number(env.BYTEPORT_TEST_NGINX_TLS_PORT), servername: uniqueName("nginx") }
  })
  const haproxy = (reloadBy: "usr2" | "runtime-api"): Srv => ({
    spec: {
      kind: "haproxy", cfg: env.BYTEPORT_TEST_HAPROXY_CFG ?? "", masterSocket: env.BYTEPORT_TEST_HAPROXY_MASTER_SOCK ?? "", reloadBy,
      pidFile: env.BYTEPORT_TEST_HAPROXY_PID_FILE ?? "", adminSocket: env.BYTEPORT_TEST_HAPROXY_ADMIN_SOCK ?? ""
    },
    target: { cert: env.BYTEPORT_TEST_HAPROXY_PEM ?? "" },
    endpoint: { host: "127.0.0.1", port: Number(env.BYTEPORT_TEST_HAPROXY_TLS_PORT), servername: uniqueName("haproxy") }
  })
  const caddy = (): Srv => ({
    spec: { kind: "caddy", adminUrl: env.BYTEPORT_TEST_CADDY_ADMIN_URL ?? "", caddyfile: env.BYTEPORT_TEST_CADDY_CADDYFILE ?? "" },
    target: { cert: env.BYTEPORT_TEST_CADDY_CERT ?? "", key: env.BYTEPORT_TEST_CADDY_KEY ?? "" },
    endpoint: { host: "127.0.0.1", port: Number(env.BYTEPORT_TEST_CADDY_TLS_PORT), servername: env.BYTEPORT_TEST_CADDY_SERVERNAME ?? "" }
  })

  /** Writes cert + key where the server reads them and reloads it. */
  const put = (srv: Srv, cert: Buffer | string, key: Buffer | string) =>
    Effect.gen(function*() {
      const files: Array<Backup.SwapFile> = srv.target.key !== undefined
        ? [{ path: srv.target.key, content: key }, { path: srv.target.cert, content: cert }]
        : [{ path: srv.target.cert, content: `${String(cert).replace(/\n*$/, "\n")}${String(key).replace(/\n*$/, "\n")}` }]
      yield* Effect.orDie(Backup.swap(files))
      yield* Effect.orDie(InstallCertificate.serverOf(srv.spec, srv.target.cert).reload)
    })

  /** The server serves a fresh 5-day certificate certbot got from the short Pebble; everything is put back afterwards. */
  const withShortCert = <A, E, R>(srv: Srv, test: (issued: Issued, served: string) => Effect.Effect<A, E, R>) =>
    Effect.gen(function*() {
      const saved = [srv.target.cert, ...(srv.target.key !== undefined ? [srv.target.key] : [])].map((f) => [f, fs.readFileSync(f)] as const)
      return yield* Effect.gen(function*() {
        const issued = yield* certbot(env, { directory: env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "", name: srv.endpoint.servername })
        yield* put(srv, fs.readFileSync(issued.fullchain), fs.readFileSync(issued.key))
        const fp = fingerprintOf(issued.fullchain)
        const seen = yield* InstallCertificate.awaitServed(srv.endpoint, fp, 10_000)
        assert.isTrue(seen.served, "the short certificate is served")
        return yield* test(issued, fp)
      }).pipe(Effect.ensuring(Effect.gen(function*() {
        if (saved.every(([f, b]) => fs.readFileSync(f).equals(b))) return
        yield* Effect.orDie(Backup.swap(saved.map(([p, content]) => ({ path: p, content }))))
        yield* Effect.orDie(InstallCertificate.serverOf(srv.spec, srv.target.cert).reload)
      })), Effect.provide(Shell.layerLocal))
    })

  const counting = <R>(real: Renewer.Renewer<R>, after?: (r: Renewer.RenewRequest) => void) => {
    const calls: Array<Renewer.RenewRequest> = []
    const renewer: Renewer.Renewer<R> = {
      ...real,
      renew: (r) => Effect.suspend(() => { calls.push(r); return real.renew(r) }).pipe(Effect.tap(() => Effect.sync(() => after?.(r))))
    }
    return { calls, renewer }
  }

  const setup = (srv: Srv, directoryUrl: string, issued: Issued, extra: { readonly after?: (r: Renewer.RenewRequest) => void; readonly locate?: boolean } = {}) => {
    const configDir = path.dirname(path.dirname(issued.live))
    const base = path.dirname(configDir)
    const { calls, renewer } = counting(EndToEndRunbook.staged(CertbotRenewer.make({ configDir, workDir: `${base}/work`, logsDir: `${base}/logs` })), extra.after)
    const staging = tmp("byteport-e2e-staging-")
    const backups = tmp("byteport-e2e-backups-")
    const options: EndToEndRunbook.Options = {
      // locate: no files configured, the diagnosis finds them in the server's configuration
      endpoints: [{ ...srv.endpoint, server: srv.spec, ...(extra.locate === true ? {} : { files: srv.target }), webroot, expectStaple: false }],
      ca: roots(),
      caFiles: rootFiles,
      account: { directoryUrl, caBundle: env.BYTEPORT_TEST_PEBBLE_TLS_CA ?? "" },
      stagingRoot: staging,
      backupRoot: backups,
      verifySchedule: Verifier.once("0 seconds"),
      cooldown: "0 seconds"
    }
    const layer = Layer.merge(Testing.layer({ handlers: [...InstallCertificate.handlers(), RenewAction.handler({ certbot: renewer })] }), Shell.layerLocal)
    return { calls, options, staging, backups, layer }
  }

  const handle = (options: EndToEndRunbook.Options, srv: Srv, mode: "auto" | "dry_run" | "observe", given?: Signal.Signal) =>
    Effect.gen(function*() {
      const signals = given !== undefined ? [given] : yield* CertificateSignals.pollOnce({ ...srv.endpoint, ca: roots() })
      const signal = signals.find((x) => x.type === CertificateSignals.SIGNAL_EXPIRING_SOON)
      assert.isDefined(signal, JSON.stringify(signals.map((x) => x.type)))
      assert.strictEqual(signal!.evidence["thresholdDays"], 7)
      const r = yield* Runbook.handle(EndToEndRunbook.make(options), signal!, { mode })
      if (!("status" in r)) return assert.fail(`awaiting approval: ${r.reason}`)
      return Object.assign(r as IncidentReport.IncidentReport, { signal: signal! })
    })

  const classOf = (r: IncidentReport.IncidentReport) => {
    const c = r.classification
    return c === undefined ? "none" : c._tag === "Classified" ? c.class : c._tag
  }
  const served = (srv: Srv) => Effect.map(Inspection.inspect({ ...srv.endpoint, ca: roots() }), (i) => i.leaf)
  const statuses = (r: IncidentReport.IncidentReport) => r.outcomes.map((o) => [o.kind, o.status])

  const renewsAndServes = (srv: () => Srv, reloadDetail?: RegExp) => () => {
    const s0 = srv()
    return withShortCert(s0, (issued, old) =>
      Effect.gen(function*() {
        const s = setup(s0, env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "", issued, { locate: true })
        const r = yield* Effect.provide(handle(s.options, s0, "auto"), s.layer)
        assert.strictEqual(classOf(r), "acme_renewable")
        assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation ?? r.outcomes))
        // the files the server reads, located from its configuration
        assert.deepStrictEqual((Plan.actions(r.plan!.root)[1]!.action.params as { target: unknown }).target, { ...s0.target })
        assert.deepStrictEqual(statuses(r), [["tls.renew", "applied"], [InstallCertificate.installKind(s0.spec.kind), "applied"]])
        assert.strictEqual(s.calls.length, 1)
        assert.strictEqual(s.calls[0]!.account?.directoryUrl, env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL)
        // certbot renewed its lineage (renew --cert-name), the runbook staged it
        const renewedLeaf = fingerprintOf(issued.cert)
        assert.notStrictEqual(renewedLeaf, old)
        const leaf = yield* served(s0)
        assert.strictEqual(leaf.fingerprint256, renewedLeaf)
        assert.isAbove(leaf.notAfter, Date.now() + 30 * 86_400_000)
        if (reloadDetail !== undefined) assert.match(r.outcomes[1]!.detail ?? "", reloadDetail)
        // the backup: under the configured root, 0700 dir, 0600 files, a manifest naming the files
        const [dir] = fs.readdirSync(s.backups)
        assert.isDefined(dir)
        assert.strictEqual(fs.statSync(path.join(s.backups, dir!)).mode & 0o777, 0o700)
        const manifest = path.join(s.backups, dir!, "manifest.json")
        assert.strictEqual(fs.statSync(manifest).mode & 0o777, 0o600)
        assert.include(fs.readFileSync(manifest, "utf8"), s0.target.cert)
        assert.notInclude(JSON.stringify(r), "PRIVATE KEY")
      }))
  }

  it.live("nginx (files located by `nginx -T`): 5-day certificate from the short Pebble → certbot renews from the default Pebble, backed up, swapped, reloaded, verified", renewsAndServes(nginx), 180_000)
  it.live("haproxy by USR2: renewed, swapped, the master re-executes, verified", renewsAndServes(() => haproxy("usr2"), /USR2/), 180_000)
  it.live("haproxy by the runtime API: set ssl cert + commit, the file on disk too, verified", renewsAndServes(() => haproxy("runtime-api"), /runtime API/), 180_000)
  it.live("caddy: renewed, swapped, forced reload, verified", renewsAndServes(caddy), 180_000)

  it.live("renewing against the short Pebble gives 5 days again: verification fails, the backup is served again, escalation", () => {
    const srv = nginx()
    return withShortCert(srv, (issued, old) =>
      Effect.gen(function*() {
        const s = setup(srv, env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "", issued)
        const r = yield* Effect.provide(handle(s.options, srv, "auto"), s.layer)
        assert.notStrictEqual(r.status, "recovered")
        assert.isDefined(r.escalation)
        assert.strictEqual(s.calls.length, 1)
        assert.deepInclude(statuses(r), ["tls.nginx.installCertificate", "applied"])
        assert.deepInclude(statuses(r), ["tls.nginx.restoreCertificate", "applied"], JSON.stringify(statuses(r)))
        assert.strictEqual((yield* served(srv)).fingerprint256, old)
        const failed = r.verdicts.flatMap((v) => ("checks" in v ? v.checks : [])).filter((c) => !c.ok).map((c) => c.name)
        assert.include(failed, "notAfter > now + 30 d")
        assert.notInclude(failed, "handshake")
      }))
  }, 180_000)

  it.live("a mismatched key is refused before the swap: no backup, no write, the old leaf still served", () => {
    const srv = nginx()
    return withShortCert(srv, (issued, old) =>
      Effect.gen(function*() {
        const before = fs.readFileSync(srv.target.key!)
        const s = setup(srv, env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "", issued, {
          after: (r) => {
            const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" })
            fs.writeFileSync(path.join(r.outDir!, "privkey.pem"), other, { mode: 0o600 })
          }
        })
        const r = yield* Effect.provide(handle(s.options, srv, "auto"), s.layer)
        assert.notStrictEqual(r.status, "recovered")
        assert.isDefined(r.escalation)
        assert.deepStrictEqual(statuses(r).slice(0, 2), [["tls.renew", "applied"], ["tls.nginx.installCertificate", "failed"]])
        assert.match(r.outcomes[1]!.detail ?? "", /key/i)
        assert.deepStrictEqual(fs.readdirSync(s.backups), [], "refused before the backup")
        assert.isTrue(fs.readFileSync(srv.target.key!).equals(before))
        assert.strictEqual((yield* served(srv)).fingerprint256, old)
        assert.notInclude(JSON.stringify(r), "PRIVATE KEY")
      }))
  }, 180_000)

  it.live("a failing `nginx -t` reloads nothing: files restored, same master and workers, the old leaf served", () => {
    const srv = nginx()
    const conf = env.BYTEPORT_TEST_NGINX_CONF ?? ""
    const original = fs.readFileSync(conf)
    return withShortCert(srv, (issued, old) =>
      Effect.gen(function*() {
        const s = setup(srv, env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "", issued, {
          // the configuration breaks between planning and the install (a bad edit by someone else)
          after: () => fs.appendFileSync(conf, "\nbyteport_invalid_directive on;\n")
        })
        const pids = () => Discover.listening(srv.endpoint.port).processes.map((p) => p.pid).sort()
        const before = { pids: pids(), cert: fs.readFileSync(srv.target.cert) }
        const r = yield* Effect.provide(handle(s.options, srv, "auto"), s.layer).pipe(Effect.ensuring(Effect.sync(() => fs.writeFileSync(conf, original))))
        assert.notStrictEqual(r.status, "recovered")
        assert.deepStrictEqual(statuses(r).slice(0, 2), [["tls.renew", "applied"], ["tls.nginx.installCertificate", "failed"]])
        assert.match(r.outcomes[1]!.detail ?? "", /nginx -t|byteport_invalid_directive/)
        assert.match(r.outcomes[1]!.detail ?? "", /nothing reloaded/)
        assert.deepStrictEqual(pids(), before.pids, "no new worker generation")
        assert.isTrue(fs.readFileSync(srv.target.cert).equals(before.cert), "the files are restored")
        assert.strictEqual((yield* served(srv)).fingerprint256, old)
      }))
  }, 180_000)

  it.live("a proxy before Pebble answers rateLimited: the failed renewal keeps Retry-After; the next incident is acme_rate_limited and orders nothing", () => {
    const srv = nginx()
    return withShortCert(srv, (_issued, old) =>
      Effect.gen(function*() {
        const proxy = yield* rateLimitProxy(env, env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "", () => "3600")
        const signals = yield* RenewalSignals.make
        const { calls, renewer } = counting(signals.observe(AcmeClientRenewer.make()))
        const options: EndToEndRunbook.Options = {
          endpoints: [{ ...srv.endpoint, server: srv.spec, files: srv.target, webroot, expectStaple: false }],
          ca: roots(), caFiles: rootFiles, renewer: "acme-client",
          account: { directoryUrl: proxy.directoryUrl, caBundle: env.BYTEPORT_TEST_PEBBLE_TLS_CA ?? "" },
          stagingRoot: tmp("byteport-e2e-staging-"), backupRoot: tmp("byteport-e2e-backups-"),
          renewalSignals: signals, verifySchedule: Verifier.once("0 seconds"), cooldown: "0 seconds"
        }
        const layer = Layer.merge(Testing.layer({ handlers: [...InstallCertificate.handlers(), RenewAction.handler({ "acme-client": renewer })] }), Shell.layerLocal)
        yield* Effect.provide(Effect.gen(function*() {
          const first = yield* handle(options, srv, "auto")
          assert.strictEqual(classOf(first), "acme_renewable")
          assert.notStrictEqual(first.status, "recovered")
          assert.isDefined(first.escalation)
          assert.notInclude(proxy.log.forwarded, "POST /order-plz", "no order reached Pebble")
          const limit = yield* signals.inForce([srv.endpoint.servername])
          assert.isAtLeast(limit!.retryAfter, Date.now() + 3_590_000)
          const received = proxy.log.received.length
          const second = yield* handle(options, srv, "auto", first.signal)
          assert.strictEqual(classOf(second), "acme_rate_limited")
          assert.deepStrictEqual(statuses(second), [["escalate", "escalated"]])
          assert.match(second.outcomes[0]!.detail ?? "", /no order before then/)
          assert.strictEqual(proxy.log.received.length, received, "not even a directory request before Retry-After")
          assert.strictEqual(calls.length, 1)
        }), layer)
        assert.strictEqual((yield* served(srv)).fingerprint256, old)
      }))
  }, 180_000)

  for (const mode of ["dry_run", "observe"] as const) {
    it.live(`${mode}: classified, but no ACME order, no staged file, no backup, nothing reloaded`, () => {
      const srv = nginx()
      return withShortCert(srv, (issued, old) =>
        Effect.gen(function*() {
          const s = setup(srv, env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "", issued)
          const lineage = fs.readFileSync(issued.cert)
          const pebbleLog = fs.statSync(env.BYTEPORT_TEST_PEBBLE_LOG ?? "").size
          const before = fs.readFileSync(srv.target.cert)
          const r = yield* Effect.provide(handle(s.options, srv, mode), s.layer)
          assert.strictEqual(classOf(r), "acme_renewable")
          assert.strictEqual(s.calls.length, 0)
          assert.deepStrictEqual(fs.readdirSync(s.staging), [])
          assert.deepStrictEqual(fs.readdirSync(s.backups), [])
          assert.isTrue(fs.readFileSync(srv.target.cert).equals(before))
          assert.isTrue(fs.readFileSync(issued.cert).equals(lineage), "certbot's lineage untouched")
          const logged = fs.readFileSync(env.BYTEPORT_TEST_PEBBLE_LOG ?? "", "utf8").slice(pebbleLog)
          assert.notMatch(logged, /order/i, "no ACME order in Pebble's log")
          assert.strictEqual((yield* served(srv)).fingerprint256, old)
        }))
    }, 180_000)
  }
})
