/**
 * The Kubernetes ingress reloader against kube-sim and the test ingress controller (a real
 * `node:tls` server serving each Ingress host's Secret): `tls.kubernetes.installSecret` writes the
 * new pair with a resourceVersion precondition and the handshake (Verify) sees the new leaf;
 * observe, dry_run (nothing persisted, no backup), the backup's modes, the undo, a stale plan and
 * a concurrent writer are typed conflicts that overwrite nothing, a mismatched key is refused
 * before any write, and a controller that never picks the Secret up gets the old pair back.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { KubeSim } from "@byteport/kube-sim"
import type { KubeSimInstance } from "@byteport/kube-sim"
import { CoreV1Api, KubeConfig, NetworkingV1Api } from "@kubernetes/client-node"
import { Effect, Exit } from "effect"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import * as CertManager from "../src/certmanager/CertManager"
import * as Certificate from "../src/Certificate"
import * as Inspection from "../src/Inspection"
import * as IngressSecret from "../src/kubernetes/IngressSecret"
import * as Verify from "../src/reloaders/Verify"
import * as IngressController from "../src/testing/ingress"
import * as PKI from "./pki"
import { observe, runHandler } from "./support/actions"
import { tmp } from "./support/services"

const DAY = 86_400_000
const host = "shop.ingress.byteport.test"

describe("k8s ingress reloader (kube-sim, test ingress controller over node:tls)", () => {
  let sim: KubeSimInstance
  let kc: KubeConfig
  let core: CoreV1Api
  let controller: IngressController.IngressController
  let lazy: IngressController.IngressController
  let pki: Effect.Success<typeof PKI.make>
  const files: Record<string, { cert: string; key: string; fingerprint: string; pem: string; keyPem: string }> = {}
  const dir = tmp("byteport-ingress-")

  const issue = (name: string, keyOf?: string) =>
    Effect.gen(function*() {
      const leaf = yield* pki.leaf({ names: [host], issuer: pki.intermediate, notAfter: pki.now + 90 * DAY })
      const pem = leaf.cert + pki.intermediate.cert
      const cert = path.join(dir, `${name}.pem`)
      fs.writeFileSync(cert, pem)
      const keyPem = keyOf !== undefined ? files[keyOf]!.keyPem : leaf.key
      const key = path.join(dir, `${name}.key`)
      fs.writeFileSync(key, keyPem, { mode: 0o600 })
      files[name] = { cert, key, pem, keyPem, fingerprint: Certificate.parsePemBundle(pem)[0]!.fingerprint256 }
    })

  const secret = () => core.readNamespacedSecret({ namespace: "default", name: "shop-tls" })
  const servedBy = (c: IngressController.IngressController) =>
    Effect.runPromise(Inspection.inspect({ host: c.host, port: c.port, servername: host, ca: [pki.root.cert] })).then((i) => i.leaf.fingerprint256)
  const endpoint = () => ({ host: controller.host, port: controller.port, servername: host })
  const backups = (root: string) => (fs.existsSync(root) ? fs.readdirSync(root) : [])

  beforeAll(async () => {
    pki = await Effect.runPromise(PKI.make)
    await Effect.runPromise(Effect.gen(function*() {
      yield* issue("a")
      yield* issue("b")
      yield* issue("c")
      yield* issue("mismatch", "a")
    }))
    sim = await KubeSim.start({ seed: 7 })
    kc = new KubeConfig()
    kc.loadFromString(sim.kubeconfig())
    core = kc.makeApiClient(CoreV1Api)
    await core.createNamespacedSecret({
      namespace: "default",
      body: { metadata: { name: "shop-tls" }, type: "kubernetes.io/tls", data: { "tls.crt": Buffer.from(files.a!.pem).toString("base64"), "tls.key": Buffer.from(files.a!.keyPem).toString("base64") } }
    })
    await kc.makeApiClient(NetworkingV1Api).createNamespacedIngress({
      namespace: "default",
      body: {
        metadata: { name: "shop" },
        spec: {
          tls: [{ hosts: [host], secretName: "shop-tls" }],
          rules: [{ host, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "shop", port: { number: 80 } } } }] } }]
        }
      }
    })
    controller = await IngressController.start({ kubeConfig: kc })
    // a controller that never syncs again (its cache outlives the test): the rollback case
    lazy = await IngressController.start({ kubeConfig: kc, syncMillis: 3_600_000 })
  })
  afterAll(async () => {
    await controller?.close()
    await lazy?.close()
    await sim?.close()
  })

  it("serves the Secret an Ingress names for the SNI host, and publishes its address", async () => {
    assert.strictEqual(await servedBy(controller), files.a!.fingerprint)
    const ing = await kc.makeApiClient(NetworkingV1Api).readNamespacedIngress({ namespace: "default", name: "shop" })
    assert.strictEqual(ing.status?.loadBalancer?.ingress?.[0]?.ip, "127.0.0.1")
    const unknown = await Effect.runPromise(Effect.exit(Inspection.inspect({ host: controller.host, port: controller.port, servername: "other.byteport.test" })))
    assert.isTrue(Exit.isFailure(unknown))
    // no cert-manager in this cluster (its CRDs are not served): the Secret is nobody's
    assert.isUndefined(await Effect.runPromise(CertManager.certificateOfSecret(kc, "default", "shop-tls")))
  })

  it("installSecret: observe, dry_run writes nothing, the new leaf served (Verify), backup 0700/0600, conflicts overwrite nothing, undo", async () => {
    const root = path.join(dir, "backups")
    const [install, restore] = IngressSecret.handlers(kc)
    const before = await secret()
    const action = IngressSecret.action({
      namespace: "default", secretName: "shop-tls", domain: host, source: { cert: files.b!.cert, key: files.b!.key }, endpoint: endpoint(),
      resourceVersion: before.metadata!.resourceVersion!, servedFingerprint: files.a!.fingerprint, caFiles: [pki.root.certPath], backupRoot: root, verifyTimeoutMillis: 5_000
    })
    assert.strictEqual(action.kind, "tls.kubernetes.installSecret")
    assert.strictEqual(action.undo?.kind, "tls.kubernetes.restoreSecret")
    assert.strictEqual((await Effect.runPromise(observe(install!, action)))._tag, "NotApplied")

    const dry = await Effect.runPromise(runHandler(install!, action, "dry_run"))
    assert.isTrue(Exit.isSuccess(dry), String(dry))
    assert.strictEqual((await secret()).metadata!.resourceVersion, before.metadata!.resourceVersion)
    assert.deepStrictEqual(backups(root), [])
    assert.strictEqual(await servedBy(controller), files.a!.fingerprint)

    const run = await Effect.runPromise(runHandler(install!, action, "auto"))
    assert.isTrue(Exit.isSuccess(run), String(run))
    const v = await Effect.runPromise(Verify.endpoint({ ...endpoint(), ca: [pki.root.cert], oldFingerprint: files.a!.fingerprint }))
    assert.isTrue(v.ok, JSON.stringify(v.problems))
    assert.strictEqual(v.inspection.leaf.fingerprint256, files.b!.fingerprint)
    assert.strictEqual((await Effect.runPromise(observe(install!, action)))._tag, "Applied")
    const [b] = backups(root)
    assert.isDefined(b)
    assert.strictEqual(fs.statSync(path.join(root, b!)).mode & 0o777, 0o700)
    for (const f of fs.readdirSync(path.join(root, b!))) assert.strictEqual(fs.statSync(path.join(root, b!, f)).mode & 0o777, 0o600, f)
    assert.strictEqual(fs.readFileSync(path.join(root, b!, "tls.crt"), "utf8"), files.a!.pem)
    // no key material in the outcome
    assert.notInclude(JSON.stringify(run), "PRIVATE KEY")

    // planned from the old resourceVersion: a conflict, nothing written, no backup
    const stale = IngressSecret.action({
      namespace: "default", secretName: "shop-tls", domain: host, source: { cert: files.c!.cert, key: files.c!.key }, endpoint: endpoint(),
      resourceVersion: before.metadata!.resourceVersion!, servedFingerprint: files.a!.fingerprint, caFiles: [pki.root.certPath], backupRoot: root
    })
    const conflict = await Effect.runPromise(runHandler(install!, stale, "auto"))
    assert.match(JSON.stringify(conflict), /"conflict":true/)
    assert.lengthOf(backups(root), 1)
    assert.strictEqual(await servedBy(controller), files.b!.fingerprint)

    // a writer between read and write: the API server refuses the conditioned replace (409), typed
    const cur = await secret()
    const race = await Effect.runPromise(Effect.exit(IngressSecret.replacePair(kc, {
      namespace: "default", name: "shop-tls", resourceVersion: String(Number(cur.metadata!.resourceVersion) - 1), secret: cur, cert: files.c!.pem, key: files.c!.keyPem
    })))
    assert.isTrue(Exit.isFailure(race))
    if (Exit.isFailure(race)) assert.match(JSON.stringify(race.cause), /SecretConflict/)
    assert.strictEqual((await secret()).metadata!.resourceVersion, cur.metadata!.resourceVersion)
    assert.strictEqual(await servedBy(controller), files.b!.fingerprint)

    // the undo: the backup back, the old leaf served again
    const undone = await Effect.runPromise(runHandler(restore!, action.undo!, "auto"))
    assert.isTrue(Exit.isSuccess(undone), String(undone))
    assert.strictEqual(await servedBy(controller), files.a!.fingerprint)
    assert.strictEqual((await Effect.runPromise(observe(restore!, action.undo!)))._tag, "Applied")
  })

  it("a mismatched key is refused before any write; a controller that never serves the new leaf gets the old pair back", async () => {
    const root = path.join(dir, "backups-2")
    const [install] = IngressSecret.handlers(kc)
    const before = await secret()
    const served = await servedBy(controller)
    const bad = IngressSecret.action({
      namespace: "default", secretName: "shop-tls", domain: host, source: { cert: files.mismatch!.cert, key: files.mismatch!.key }, endpoint: endpoint(),
      resourceVersion: before.metadata!.resourceVersion!, servedFingerprint: served, caFiles: [pki.root.certPath], backupRoot: root
    })
    const refused = await Effect.runPromise(runHandler(install!, bad, "auto"))
    assert.include(String(refused), "does not match")
    assert.strictEqual((await secret()).metadata!.resourceVersion, before.metadata!.resourceVersion)
    assert.deepStrictEqual(backups(root), [])

    const lazyServed = await servedBy(lazy)
    const never = IngressSecret.action({
      namespace: "default", secretName: "shop-tls", domain: host, source: { cert: files.c!.cert, key: files.c!.key },
      endpoint: { host: lazy.host, port: lazy.port, servername: host },
      resourceVersion: before.metadata!.resourceVersion!, servedFingerprint: lazyServed, caFiles: [pki.root.certPath], backupRoot: root, verifyTimeoutMillis: 500
    })
    const failed = await Effect.runPromise(runHandler(install!, never, "auto"))
    assert.isTrue(Exit.isFailure(failed))
    assert.include(String(failed), "rolled back")
    const after = await secret()
    assert.strictEqual(Buffer.from(after.data!["tls.crt"]!, "base64").toString(), Buffer.from(before.data!["tls.crt"]!, "base64").toString())
  })
})
