/**
 * Against the real servers of scripts/services.sh: certbot gets a 5-day certificate from the
 * short Pebble (http-01 through nginx's webroot on Pebble's httpPort); the chain of that real
 * issuance verifies to the Pebble root; `tls.nginx.installCertificate` swaps it into nginx
 * (backup, `nginx -t`, `-s reload`, a new worker generation) and a new handshake (SNI,
 * requestOCSP) sees the new serial, then nginx's own staple from the Node OCSP responder
 * (checked: good, signed by Pebble's intermediate). Also: observe, dry_run writes and reloads
 * nothing, a mismatched key is refused before the swap, a failing `nginx -t` reloads nothing,
 * and the undo restores the old certificate, which is served again.
 */
import { generateKeyPairSync } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Shell } from "@byteport/core/shell"
import { assert, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { Backup, Certificate, Chain, Inspection, InstallCertificate, Nginx, Verify } from "../src/index"
import { observe, runHandler } from "./support/actions"
import { certbot, describeWithServices, eventually, tmp, withNginx } from "./support/services"

describeWithServices(["pebble", "ocsp", "nginx", "certbot"], "nginx with a real Pebble certificate", (env) => {
  const endpoint = { host: "127.0.0.1", port: Number(env.BYTEPORT_TEST_NGINX_TLS_PORT), servername: `nginx-${process.pid}.byteport.test` }
  const server = {
    kind: "nginx" as const,
    conf: env.BYTEPORT_TEST_NGINX_CONF ?? "",
    errorLog: env.BYTEPORT_TEST_NGINX_ERROR_LOG ?? "",
    pidFile: env.BYTEPORT_TEST_NGINX_PID_FILE ?? ""
  }
  const target = { cert: env.BYTEPORT_TEST_NGINX_CERT ?? "", key: env.BYTEPORT_TEST_NGINX_KEY ?? "" }
  const shortRoot = () => fs.readFileSync(env.BYTEPORT_TEST_PEBBLE_SHORT_ROOT ?? "", "utf8")
  const install = InstallCertificate.makeInstall("nginx")
  const restore = InstallCertificate.makeRestore("nginx")
  const master = () => Nginx.masterPid(server.pidFile)!
  /** Whatever a test does, nginx serves its starting certificate again afterwards. */
  const keepNginx = <A, E, R>(test: Effect.Effect<A, E, R>) =>
    withNginx(env, Effect.gen(function*() {
      const cert = fs.readFileSync(target.cert)
      const key = fs.readFileSync(target.key)
      return yield* test.pipe(Effect.ensuring(Effect.gen(function*() {
        if (fs.readFileSync(target.cert).equals(cert) && fs.readFileSync(target.key).equals(key)) return
        yield* Effect.orDie(Backup.swap([{ path: target.key, content: key }, { path: target.cert, content: cert }]))
        yield* Effect.ignore(Nginx.make(server).reload.pipe(Effect.provide(Shell.layerLocal)))
      })))
    }))

  it.live("issue (certbot, short Pebble) → install (backup, -t, reload) → served with a good staple; revoked → no staple; undo", () =>
    keepNginx(Effect.gen(function*() {
      const issued = yield* certbot(env, { directory: env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "", name: endpoint.servername })
      // the real issuance: 5 days, the OCSP URL, a chain that verifies to the Pebble root
      const chain = Certificate.parsePemBundle(fs.readFileSync(issued.fullchain, "utf8"))
      const leaf = Certificate.fromX509(chain[0]!)
      assert.strictEqual(leaf.notAfter - leaf.notBefore + 1000, Number(env.BYTEPORT_TEST_PEBBLE_SHORT_VALIDITY_S) * 1000)
      assert.strictEqual(leaf.ocspUrl, env.BYTEPORT_TEST_OCSP_URL)
      assert.match(leaf.issuerCN ?? "", /^Pebble Intermediate CA/)
      assert.deepStrictEqual(leaf.dnsNames, [endpoint.servername])
      const verdict = Chain.verify({ served: chain, roots: Certificate.parsePemBundle(shortRoot()), name: endpoint.servername, now: Date.now() })
      assert.isTrue(verdict.valid, JSON.stringify(verdict.problems))
      // ... and not to the other Pebble's root
      const other = Chain.verify({ served: chain, roots: Certificate.parsePemBundle(fs.readFileSync(env.BYTEPORT_TEST_PEBBLE_ROOT ?? "", "utf8")), name: endpoint.servername, now: Date.now() })
      assert.isFalse(other.valid)

      const before = yield* InstallCertificate.servedFingerprint(endpoint)
      const backupRoot = tmp("byteport-cert-backups-")
      const action = InstallCertificate.action({
        server, domain: endpoint.servername, source: { cert: issued.fullchain, key: issued.key }, target, endpoint,
        servedFingerprint: before, caFiles: [env.BYTEPORT_TEST_PEBBLE_SHORT_ROOT ?? ""], backupRoot
      })
      assert.strictEqual((yield* observe(install, action))._tag, "NotApplied")

      // dry_run: validates (nginx -t), writes nothing, reloads nothing
      const certBytes = fs.readFileSync(target.cert)
      const workers = Nginx.workerPids(master())
      const dry = yield* runHandler(install, action, "dry_run")
      assert.isTrue(Exit.isSuccess(dry), JSON.stringify(dry))
      if (Exit.isSuccess(dry)) assert.match(dry.value.detail, /^would back up .* nginx -t: .* is valid$/)
      assert.deepStrictEqual(fs.readFileSync(target.cert), certBytes)
      assert.deepStrictEqual(fs.readdirSync(backupRoot), [])
      assert.deepStrictEqual(Nginx.workerPids(master()), workers)

      // auto
      const masterBefore = master()
      const done = yield* runHandler(install, action, "auto")
      assert.isTrue(Exit.isSuccess(done), JSON.stringify(done))
      if (!Exit.isSuccess(done)) return
      assert.strictEqual(master(), masterBefore, "a reload keeps the master")
      assert.notDeepEqual(Nginx.workerPids(master()), workers, "a new worker generation")
      const backupDir = String(done.value.result["backupDir"])
      assert.strictEqual(path.dirname(backupDir), backupRoot)
      const manifest = (yield* Backup.verify(backupDir)).manifest
      assert.deepStrictEqual(manifest.files.map((f) => f.path), [target.cert, target.key, server.conf])
      assert.strictEqual(manifest.notes?.["servedFingerprint"], before)
      assert.strictEqual((yield* observe(install, action))._tag, "Applied")

      // the new serial is served; nginx staples lazily: the staple appears on a later handshake
      const inspected = yield* eventually(
        Effect.map(Inspection.inspect({ ...endpoint, ca: [shortRoot()] }), (i) => (i.stapleCheck !== undefined ? i : undefined)),
        10_000,
        "nginx to staple"
      )
      assert.strictEqual(inspected.leaf.serial, leaf.serial)
      assert.isTrue(inspected.verdict.valid, JSON.stringify(inspected.verdict.problems))
      assert.isTrue(inspected.stapleCheck?.good, JSON.stringify(inspected.stapleCheck))
      assert.strictEqual(inspected.stapleCheck?.certStatus, "good")
      assert.deepStrictEqual(inspected.stapleCheck?.problems, [])
      assert.strictEqual(inspected.staple?.responseStatus, "successful")
      // Verify: new, chain valid, staple good, but a 5-day certificate expires too soon (30 days)
      const verified = yield* Verify.endpoint({ ...endpoint, ca: [shortRoot()], oldFingerprint: before })
      assert.deepStrictEqual(verified.problems, ["expires_too_soon"])
      assert.isTrue(verified.stapleExpected)
      assert.isTrue((yield* Verify.endpoint({ ...endpoint, ca: [shortRoot()], oldFingerprint: before, minValidityMillis: 86_400_000 })).ok)
      assert.deepStrictEqual((yield* Verify.endpoint({ ...endpoint, ca: [shortRoot()], oldFingerprint: inspected.leaf.fingerprint256, minValidityMillis: 0 })).problems, ["not_new"])
      assert.deepStrictEqual((yield* Verify.endpoint({ ...endpoint, minValidityMillis: 0 })).problems, ["chain_invalid"], "Pebble is not in Node's roots")
      const answered = yield* Effect.promise(() => fetch(new URL("/requests", env.BYTEPORT_TEST_OCSP_URL)).then((r) => r.json() as Promise<Record<string, number>>))
      assert.isAtLeast(answered[leaf.serial] ?? answered[`0${leaf.serial}`] ?? 0, 1, "nginx asked the OCSP responder")

      // revoked at the responder: after a reload nginx fetches a fresh response, logs it as revoked
      // and staples nothing (nginx never staples a revoked response: recorded behaviour)
      const revokedLines = () => (fs.readFileSync(server.errorLog, "utf8").match(/certificate status "revoked" in the OCSP response/g) ?? []).length
      const seenBefore = revokedLines()
      const revoked = yield* Effect.promise(() => fetch(new URL(`/revoke?serial=${leaf.serial}`, env.BYTEPORT_TEST_OCSP_URL), { method: "POST" }))
      assert.strictEqual(revoked.status, 200)
      try {
        yield* Nginx.make(server).reload.pipe(Effect.provide(Shell.layerLocal))
        yield* eventually(
          Effect.flatMap(Inspection.inspect({ ...endpoint, ca: [shortRoot()] }), () => Effect.sync(() => (revokedLines() > seenBefore ? true : undefined))),
          10_000,
          "nginx to fetch the revoked response"
        )
        for (let i = 0; i < 3; i++) {
          const bad = yield* Inspection.inspect({ ...endpoint, ca: [shortRoot()] })
          assert.strictEqual(bad.leaf.serial, leaf.serial)
          assert.isUndefined(bad.staple, "no staple once the responder says revoked")
        }
        const v = yield* Verify.endpoint({ ...endpoint, ca: [shortRoot()], minValidityMillis: 0, stapleTimeoutMillis: 500 })
        assert.deepStrictEqual(v.problems, ["staple_missing"])
      } finally {
        yield* Effect.promise(() => fetch(new URL(`/unrevoke?serial=${leaf.serial}`, env.BYTEPORT_TEST_OCSP_URL), { method: "POST" }))
      }

      // undo: the backup comes back, nginx reloads, the old certificate is served again
      const undone = yield* runHandler(restore, action.undo!, "auto")
      assert.isTrue(Exit.isSuccess(undone), JSON.stringify(undone))
      assert.strictEqual(yield* InstallCertificate.servedFingerprint(endpoint), before)
      assert.deepStrictEqual(fs.readFileSync(target.cert), certBytes)
      assert.strictEqual((yield* observe(restore, action.undo!))._tag, "Applied")
    })), 60_000)

  it.live("a mismatched key is refused before the swap; a failing nginx -t reloads nothing; no OCSP URL, no staple", () =>
    keepNginx(Effect.gen(function*() {
      const a = yield* certbot(env, { directory: env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "", name: `a-${endpoint.servername}` })
      const otherKey = path.join(tmp("byteport-otherkey-"), "other.key")
      fs.writeFileSync(otherKey, generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 })
      const before = yield* InstallCertificate.servedFingerprint(endpoint)
      const certBytes = fs.readFileSync(target.cert)
      const backupRoot = tmp("byteport-cert-backups-")
      const common = { server, target, endpoint: { ...endpoint, servername: a.name }, servedFingerprint: before, caFiles: [env.BYTEPORT_TEST_PEBBLE_ROOT ?? ""], backupRoot }
      const workers = Nginx.workerPids(master())

      const mismatched = yield* runHandler(install, InstallCertificate.action({ ...common, domain: a.name, source: { cert: a.fullchain, key: otherKey } }), "auto")
      assert.isTrue(Exit.isFailure(mismatched))
      const text = JSON.stringify(mismatched)
      assert.match(text, /does not match the certificate/)
      assert.notInclude(text, "PRIVATE KEY")
      assert.deepStrictEqual(fs.readdirSync(backupRoot), [], "refused before any backup or write")
      assert.deepStrictEqual(fs.readFileSync(target.cert), certBytes)

      // a configuration nginx -t rejects: nothing is reloaded, the swapped files are restored
      const conf = fs.readFileSync(server.conf, "utf8")
      fs.writeFileSync(server.conf, `${conf}\nthis_is_not_a_directive on;\n`)
      try {
        const broken = yield* runHandler(install, InstallCertificate.action({ ...common, domain: a.name, source: { cert: a.fullchain, key: a.key } }), "auto")
        assert.isTrue(Exit.isFailure(broken))
        assert.match(JSON.stringify(broken), /nginx configuration test.*exited 1.*files restored/)
        assert.deepStrictEqual(fs.readFileSync(target.cert), certBytes)
        assert.deepStrictEqual(Nginx.workerPids(master()), workers, "no reload")
        assert.strictEqual(yield* InstallCertificate.servedFingerprint(endpoint), before)
      } finally {
        fs.writeFileSync(server.conf, conf)
      }

      // the renewal CA names no OCSP responder: nginx serves the certificate and staples nothing
      const action = InstallCertificate.action({ ...common, domain: a.name, source: { cert: a.fullchain, key: a.key } })
      const installed = yield* runHandler(install, action, "auto")
      assert.isTrue(Exit.isSuccess(installed), JSON.stringify(installed))
      for (let i = 0; i < 3; i++) {
        const seen = yield* Inspection.inspect({ ...endpoint, servername: a.name, ca: [fs.readFileSync(env.BYTEPORT_TEST_PEBBLE_ROOT ?? "", "utf8")] })
        assert.isUndefined(seen.leaf.ocspUrl)
        assert.isTrue(seen.verdict.valid, JSON.stringify(seen.verdict.problems))
        assert.isUndefined(seen.staple)
        assert.isUndefined(seen.stapleCheck)
      }
      // a 5-year certificate without an OCSP URL: verified with no staple expected; one demanded is missing
      const renewalRoot = [fs.readFileSync(env.BYTEPORT_TEST_PEBBLE_ROOT ?? "", "utf8")]
      const ok = yield* Verify.endpoint({ ...endpoint, servername: a.name, ca: renewalRoot, oldFingerprint: before })
      assert.isTrue(ok.ok, JSON.stringify(ok.problems))
      assert.isFalse(ok.stapleExpected)
      assert.deepStrictEqual((yield* Verify.endpoint({ ...endpoint, servername: a.name, ca: renewalRoot, expectStaple: true, stapleTimeoutMillis: 300 })).problems, ["staple_missing"])
      // the name is checked: another SNI name makes the chain invalid
      assert.include((yield* Verify.endpoint({ ...endpoint, servername: "other.byteport.test", ca: renewalRoot })).problems, "chain_invalid")
      assert.isTrue(Exit.isSuccess(yield* runHandler(restore, action.undo!, "auto")))
      assert.strictEqual(yield* InstallCertificate.servedFingerprint(endpoint), before)
    })), 60_000)
})
