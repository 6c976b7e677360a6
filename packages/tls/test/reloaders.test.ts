/**
 * haproxy and Caddy of scripts/services.sh, with certificates made by openssl (test PKI):
 * `tls.haproxy.installCertificate` (one PEM: chain then key; master CLI `reload`, a new worker)
 * and the runtime API (`set ssl cert` + `commit ssl cert`, no reload);
 * `tls.caddy.installCertificate` (admin API `POST /load`, forced). Each is verified by a new
 * handshake seeing the new serial, observed, dry-run without a write, and undone.
 */
import { X509Certificate } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Shell } from "@byteport/core/shell"
import { assert, it } from "@effect/vitest"
import { Classification, Executor, GuardrailStore, Plan, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect, Exit, Layer } from "effect"
import { Backup, Caddy, Haproxy, Inspection, InstallCertificate } from "../src/index"
import { observe, runHandler } from "./support/actions"
import * as Pki from "./pki"
import { serve } from "./server"
import { describeWithServices, tmp } from "./support/services"

const DAY = 86_400_000

const staged = (pki: { readonly intermediate: Pki.Issued }, leaf: Pki.Issued) => {
  const dir = tmp("byteport-staged-")
  const cert = path.join(dir, "fullchain.pem")
  const key = path.join(dir, "privkey.pem")
  fs.writeFileSync(cert, leaf.cert + pki.intermediate.cert)
  fs.writeFileSync(key, leaf.key, { mode: 0o600 })
  return { cert, key }
}

const servedSerial = (endpoint: InstallCertificate.Endpoint) => Effect.map(Inspection.inspect(endpoint), (i) => i.leaf.serial)

describeWithServices(["haproxy"], "haproxy reloaders", (env) => {
  const endpoint = { host: "127.0.0.1", port: Number(env.BYTEPORT_TEST_HAPROXY_TLS_PORT), servername: "haproxy.byteport.test" }
  const server = { kind: "haproxy" as const, cfg: env.BYTEPORT_TEST_HAPROXY_CFG ?? "", masterSocket: env.BYTEPORT_TEST_HAPROXY_MASTER_SOCK ?? "" }
  const pemPath = env.BYTEPORT_TEST_HAPROXY_PEM ?? ""
  const install = InstallCertificate.makeInstall("haproxy")
  const restore = InstallCertificate.makeRestore("haproxy")

  it.live("install: one PEM (chain, key), master CLI reload, a new worker, the new serial served; dry_run; undo", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const leaf = yield* pki.leaf({ names: [endpoint.servername], issuer: pki.intermediate, notAfter: pki.now + 90 * DAY })
      const source = staged(pki, leaf)
      const before = yield* InstallCertificate.servedFingerprint(endpoint)
      const pemBefore = fs.readFileSync(pemPath)
      const backupRoot = tmp("byteport-cert-backups-")
      const action = InstallCertificate.action({
        server, domain: endpoint.servername, source, target: { cert: pemPath }, endpoint, servedFingerprint: before, caFiles: [pki.root.certPath], backupRoot
      })
      const workers = yield* Haproxy.workers(server.masterSocket)
      assert.isAtLeast(workers.length, 1)

      const dry = yield* runHandler(install, action, "dry_run")
      assert.isTrue(Exit.isSuccess(dry), JSON.stringify(dry))
      if (Exit.isSuccess(dry)) assert.match(dry.value.detail, /haproxy -c: .* is valid$/)
      assert.deepStrictEqual(fs.readFileSync(pemPath), pemBefore)
      assert.deepStrictEqual(fs.readdirSync(backupRoot), [])
      assert.deepStrictEqual(yield* Haproxy.workers(server.masterSocket), workers)

      const done = yield* runHandler(install, action, "auto")
      assert.isTrue(Exit.isSuccess(done), JSON.stringify(done))
      assert.strictEqual(yield* servedSerial(endpoint), new X509Certificate(leaf.cert).serialNumber)
      const after = yield* Haproxy.workers(server.masterSocket)
      assert.isTrue(after.some((p) => !workers.includes(p)), `a new worker (${workers} → ${after})`)
      const pem = fs.readFileSync(pemPath, "utf8")
      assert.match(pem, /^-----BEGIN CERTIFICATE-----[\s\S]+-----BEGIN CERTIFICATE-----[\s\S]+-----BEGIN PRIVATE KEY-----/)
      assert.strictEqual(fs.statSync(pemPath).mode & 0o777, 0o600, "mode kept")
      assert.strictEqual((yield* observe(install, action))._tag, "Applied")

      const undone = yield* runHandler(restore, action.undo!, "auto")
      assert.isTrue(Exit.isSuccess(undone), JSON.stringify(undone))
      assert.strictEqual(yield* InstallCertificate.servedFingerprint(endpoint), before)
      assert.deepStrictEqual(fs.readFileSync(pemPath), pemBefore)
    }), 30_000)

  it.live("reloadBy usr2 (a new worker) and runtime-api (no reload, the file on disk swapped too); each undone", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const before = yield* InstallCertificate.servedFingerprint(endpoint)
      const pemBefore = fs.readFileSync(pemPath)
      for (const reloadBy of ["usr2", "runtime-api"] as const) {
        const leaf = yield* pki.leaf({ names: [endpoint.servername], issuer: pki.intermediate, notAfter: pki.now + 60 * DAY })
        const spec = { ...server, reloadBy, pidFile: env.BYTEPORT_TEST_HAPROXY_PID_FILE ?? "", adminSocket: env.BYTEPORT_TEST_HAPROXY_ADMIN_SOCK ?? "" }
        const action = InstallCertificate.action({
          server: spec, domain: endpoint.servername, source: staged(pki, leaf), target: { cert: pemPath }, endpoint,
          servedFingerprint: before, caFiles: [pki.root.certPath], backupRoot: tmp("byteport-cert-backups-")
        })
        const workers = yield* Haproxy.workers(server.masterSocket)
        const done = yield* runHandler(install, action, "auto")
        assert.isTrue(Exit.isSuccess(done), `${reloadBy}: ${JSON.stringify(done)}`)
        if (Exit.isSuccess(done)) assert.match(String(done.value.result["reload"]), reloadBy === "usr2" ? /^haproxy USR2 to the master: workers/ : /^haproxy runtime API set ssl cert/)
        assert.strictEqual(yield* servedSerial(endpoint), new X509Certificate(leaf.cert).serialNumber, reloadBy)
        const now = yield* Haproxy.workers(server.masterSocket)
        if (reloadBy === "usr2") assert.isTrue(now.some((p) => !workers.includes(p)), "USR2: a new worker")
        else assert.deepStrictEqual(now, workers, "runtime API: no reload")
        assert.notDeepEqual(fs.readFileSync(pemPath), pemBefore, "the file on disk holds the new PEM")
        const undone = yield* runHandler(restore, action.undo!, "auto")
        assert.isTrue(Exit.isSuccess(undone), `${reloadBy} undo: ${JSON.stringify(undone)}`)
        assert.strictEqual(yield* InstallCertificate.servedFingerprint(endpoint), before)
        assert.deepStrictEqual(fs.readFileSync(pemPath), pemBefore)
      }
    }), 30_000)

  it.live("runtime API: set ssl cert + commit ssl cert serves the new certificate with no reload", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const leaf = yield* pki.leaf({ names: [endpoint.servername], issuer: pki.intermediate, notAfter: pki.now + 30 * DAY })
      const workers = yield* Haproxy.workers(server.masterSocket)
      const before = yield* InstallCertificate.servedFingerprint(endpoint)
      const detail = yield* Haproxy.setSslCert(env.BYTEPORT_TEST_HAPROXY_ADMIN_SOCK ?? "", pemPath, leaf.cert + pki.intermediate.cert + leaf.key)
      assert.match(detail, /Success/)
      assert.strictEqual(yield* servedSerial(endpoint), new X509Certificate(leaf.cert).serialNumber)
      assert.deepStrictEqual(yield* Haproxy.workers(server.masterSocket), workers, "no reload")
      // the file on disk is unchanged: a reload serves it again
      yield* Haproxy.make(server).reload.pipe(Effect.provide(Shell.layerLocal))
      assert.strictEqual(yield* InstallCertificate.servedFingerprint(endpoint), before)
      // a payload that is not a certificate is refused
      const bad = yield* Effect.exit(Haproxy.setSslCert(env.BYTEPORT_TEST_HAPROXY_ADMIN_SOCK ?? "", pemPath, "not a pem"))
      assert.isTrue(Exit.isFailure(bad))
    }), 30_000)
})

describeWithServices(["haproxy"], "install through the executor, undo plan, in-handler rollback", (env) => {
  const endpoint = { host: "127.0.0.1", port: Number(env.BYTEPORT_TEST_HAPROXY_TLS_PORT), servername: "haproxy.byteport.test" }
  const server = { kind: "haproxy" as const, cfg: env.BYTEPORT_TEST_HAPROXY_CFG ?? "", masterSocket: env.BYTEPORT_TEST_HAPROXY_MASTER_SOCK ?? "" }
  const pemPath = env.BYTEPORT_TEST_HAPROXY_PEM ?? ""
  const target = TargetRef.make("tls-endpoint", `${endpoint.servername}@127.0.0.1:${endpoint.port}`)
  let seq = 0
  const execute = (plan: Plan.Plan, incidentId: string, rootPath?: string) =>
    Executor.execute({
      incidentId,
      runbook: "tls.reload.test",
      mode: "auto",
      signal: { type: "test", target, observedAt: 0, evidence: {} },
      classification: Classification.classified("test", 0.9, ["test"]),
      facts: {},
      plan,
      baseline: {},
      guardrails: [],
      ...(rootPath !== undefined ? { rootPath } : {})
    })

  it.live("auto through the executor (genuine permit, journaled), then the undo plan serves the old leaf again", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const leaf = yield* pki.leaf({ names: [endpoint.servername], issuer: pki.intermediate, notAfter: pki.now + 90 * DAY })
      const before = yield* InstallCertificate.servedFingerprint(endpoint)
      const action = InstallCertificate.action({
        server, domain: endpoint.servername, source: staged(pki, leaf), target: { cert: pemPath }, endpoint,
        servedFingerprint: before, caFiles: [pki.root.certPath], backupRoot: tmp("byteport-cert-backups-"), ref: target
      })
      const incidentId = `inc-tls-${process.pid}-${++seq}`
      const store = yield* GuardrailStore.GuardrailStore
      yield* Effect.orDie(store.appendJournal({ incidentId, at: 0, type: "opened", data: { runbook: "tls.reload.test", targetKey: TargetRef.key(target) } }))
      const r = yield* execute(Plan.make("tls.reload.test", "test", action.description, Plan.act(action)), incidentId)
      assert.strictEqual(r.status, "completed", JSON.stringify(r.outcomes))
      assert.strictEqual(yield* servedSerial(endpoint), new X509Certificate(leaf.cert).serialNumber)
      const u = yield* execute(Plan.make("tls.reload.test", "undo", "undo", Plan.act(action.undo!)), incidentId, "undo")
      assert.strictEqual(u.status, "completed", JSON.stringify(u.outcomes))
      assert.strictEqual(yield* InstallCertificate.servedFingerprint(endpoint), before)
    }).pipe(Effect.provide(Testing.layer<Shell.Shell>({ handlers: [...InstallCertificate.handlers()] }).pipe(Layer.provideMerge(Shell.layerLocal)))), 30_000)

  it.live("an endpoint that never serves the new leaf: the handler restores, reloads, and fails naming both fingerprints", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const leaf = yield* pki.leaf({ names: [endpoint.servername], issuer: pki.intermediate, notAfter: pki.now + 90 * DAY })
      const other = yield* pki.leaf({ names: [endpoint.servername], issuer: pki.intermediate, notAfter: pki.now + 90 * DAY })
      // a TLS front (think: a load balancer before haproxy) that keeps serving its own certificate
      const front = yield* serve({ cert: other.cert + pki.intermediate.cert, key: other.key })
      const frontEndpoint = { ...endpoint, port: front.port }
      const before = yield* InstallCertificate.servedFingerprint(frontEndpoint)
      const pemBefore = fs.readFileSync(pemPath)
      const workers = yield* Haproxy.workers(server.masterSocket)
      const action = InstallCertificate.action({
        server, domain: endpoint.servername, source: staged(pki, leaf), target: { cert: pemPath }, endpoint: frontEndpoint,
        servedFingerprint: before, caFiles: [pki.root.certPath], backupRoot: tmp("byteport-cert-backups-"), verifyTimeoutMillis: 1_000
      })
      const exit = yield* runHandler(InstallCertificate.makeInstall("haproxy"), action, "auto")
      assert.isTrue(Exit.isFailure(exit))
      const text = JSON.stringify(exit)
      assert.match(text, /not [0-9A-F]{16}; rolled back from .* and reloaded: the old leaf [0-9A-F]{16} is served again/)
      assert.deepStrictEqual(fs.readFileSync(pemPath), pemBefore, "files restored")
      const now = yield* Haproxy.workers(server.masterSocket)
      assert.isTrue(now.some((p) => !workers.includes(p)), "reloaded (twice): a new worker")
      assert.notStrictEqual(yield* servedSerial(endpoint), new X509Certificate(leaf.cert).serialNumber, "haproxy serves the old file again")
    }).pipe(Effect.scoped), 30_000)
})

describeWithServices(["caddy"], "caddy reloader", (env) => {
  const endpoint = { host: "127.0.0.1", port: Number(env.BYTEPORT_TEST_CADDY_TLS_PORT), servername: env.BYTEPORT_TEST_CADDY_SERVERNAME ?? "" }
  const server = { kind: "caddy" as const, adminUrl: env.BYTEPORT_TEST_CADDY_ADMIN_URL ?? "", caddyfile: env.BYTEPORT_TEST_CADDY_CADDYFILE ?? "" }
  const target = { cert: env.BYTEPORT_TEST_CADDY_CERT ?? "", key: env.BYTEPORT_TEST_CADDY_KEY ?? "" }
  const install = InstallCertificate.makeInstall("caddy")
  const restore = InstallCertificate.makeRestore("caddy")

  it.live("install: POST /load forced serves the new serial; the Caddyfile names the swapped files; undo", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(Caddy.manualCertificates(fs.readFileSync(server.caddyfile, "utf8")), [target])
      const pki = yield* Pki.make
      const leaf = yield* pki.leaf({ names: [endpoint.servername], issuer: pki.intermediate, notAfter: pki.now + 90 * DAY })
      const before = yield* InstallCertificate.servedFingerprint(endpoint)
      const certBefore = fs.readFileSync(target.cert)
      const backupRoot = tmp("byteport-cert-backups-")
      const action = InstallCertificate.action({
        server, domain: endpoint.servername, source: staged(pki, leaf), target, endpoint, servedFingerprint: before, caFiles: [pki.root.certPath], backupRoot
      })
      assert.strictEqual((yield* observe(install, action))._tag, "NotApplied")
      const dry = yield* runHandler(install, action, "dry_run")
      assert.isTrue(Exit.isSuccess(dry), JSON.stringify(dry))
      assert.deepStrictEqual(fs.readFileSync(target.cert), certBefore)
      assert.strictEqual(yield* InstallCertificate.servedFingerprint(endpoint), before)

      const done = yield* runHandler(install, action, "auto")
      assert.isTrue(Exit.isSuccess(done), JSON.stringify(done))
      assert.strictEqual(yield* servedSerial(endpoint), new X509Certificate(leaf.cert).serialNumber)
      assert.strictEqual((yield* observe(install, action))._tag, "Applied")

      const undone = yield* runHandler(restore, action.undo!, "auto")
      assert.isTrue(Exit.isSuccess(undone), JSON.stringify(undone))
      assert.strictEqual(yield* InstallCertificate.servedFingerprint(endpoint), before)
    }), 30_000)

  it.live("recorded behaviour: an unforced POST /load of an unchanged Caddyfile keeps the old certificate", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const leaf = yield* pki.leaf({ names: [endpoint.servername], issuer: pki.intermediate, notAfter: pki.now + 90 * DAY })
      const before = yield* InstallCertificate.servedFingerprint(endpoint)
      const cert = fs.readFileSync(target.cert)
      const key = fs.readFileSync(target.key)
      yield* Backup.swap([{ path: target.key, content: leaf.key }, { path: target.cert, content: leaf.cert + pki.intermediate.cert }])
      try {
        const unforced = yield* Effect.promise(() =>
          fetch(new URL("/load", server.adminUrl), { method: "POST", headers: { "content-type": "text/caddyfile" }, body: fs.readFileSync(server.caddyfile, "utf8") }))
        assert.strictEqual(unforced.status, 200)
        assert.strictEqual(yield* InstallCertificate.servedFingerprint(endpoint), before, "Caddy skipped the unchanged config")
        yield* Caddy.make(server).reload.pipe(Effect.provide(Shell.layerLocal))
        assert.strictEqual(yield* servedSerial(endpoint), new X509Certificate(leaf.cert).serialNumber, "the forced load reads the files")
      } finally {
        yield* Backup.swap([{ path: target.key, content: key }, { path: target.cert, content: cert }])
        yield* Caddy.make(server).reload.pipe(Effect.provide(Shell.layerLocal))
      }
      assert.strictEqual(yield* InstallCertificate.servedFingerprint(endpoint), before)
    }), 30_000)

  it.live("a Caddy admin endpoint off loopback is refused", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Caddy.make({ adminUrl: "http://203.0.113.7:2019", caddyfile: server.caddyfile }).reload.pipe(Effect.provide(Shell.layerLocal)))
      assert.isTrue(Exit.isFailure(exit))
      assert.match(JSON.stringify(exit), /must be on loopback/)
    }))
})
