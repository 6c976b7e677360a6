/**
 * The cert-manager renewer and its two action kinds against the controller model on kube-sim,
 * issuing from the real short Pebble: `tls.certManager.renew` writes Issuing=True
 * ManuallyTriggered as `cmctl renew` does and the next revision is issued (observe before/after,
 * dry_run writes nothing, a stale revision is a conflict); the `Renewer` returns the Secret's new
 * chain with the key redacted; `tls.certManager.recreateCertificate` deletes and re-creates a
 * Certificate stuck in its failure back-off, the Secret (even one the Certificate owned) is never
 * deleted and keeps the old certificate until the new Certificate's issuance replaces it.
 */
import { Exit, Effect, Redacted } from "effect"
import { afterEach, assert, it } from "vitest"
import * as CertManager from "../src/certmanager/CertManager"
import * as R from "../src/certmanager/Resources"
import * as Certificate from "../src/Certificate"
import * as fs from "node:fs"
import { NetworkingV1Api } from "@kubernetes/client-node"
import * as Verify from "../src/reloaders/Verify"
import * as IngressController from "../src/testing/ingress"
import { observe, runHandler } from "./support/actions"
import { certificate, clusterIssuer, startWorld, until } from "./support/kube"
import type { CertManagerWorld } from "./support/kube"
import { describeWithServices } from "./support/services"

describeWithServices(["pebble"], "cert-manager renewer and action kinds (kube-sim model, real Pebble)", (env) => {
  let world: CertManagerWorld | undefined
  afterEach(async () => {
    await world?.close()
    world = undefined
  })
  const DAY = 86_400_000
  const domain = `cmr-${process.pid}.byteport.test`
  const ref = { namespace: "default", name: "shop" }
  const getCert = async (w: CertManagerWorld) =>
    (await w.custom.getNamespacedCustomObject({ group: R.GROUP, version: R.VERSION, plural: "certificates", ...ref })) as R.Certificate
  const secretLeaf = async (w: CertManagerWorld) => {
    const s = await w.core.readNamespacedSecret({ name: "shop-tls", namespace: "default" })
    return { secret: s, leaf: Certificate.fromX509(Certificate.parsePemBundle(Buffer.from(s.data!["tls.crt"]!, "base64").toString())[0]!) }
  }
  const issued = async (w: CertManagerWorld, issuerUrl: string) => {
    await w.custom.createClusterCustomObject({ group: R.GROUP, version: R.VERSION, plural: "clusterissuers", body: clusterIssuer("pebble-short", issuerUrl) })
    await w.custom.createNamespacedCustomObject({ group: R.GROUP, version: R.VERSION, plural: "certificates", namespace: "default", body: certificate({ name: "shop", secretName: "shop-tls", dnsNames: [domain], issuer: "pebble-short", renewBefore: "48h" }) })
    return until(async () => {
      const c = await getCert(w)
      return R.isReady(c) && c.status?.revision === 1 ? c : undefined
    }, 20_000, "the first issuance")
  }
  /** Records every Issuing=True the model's store sees (and, when asked, moves the clock back to real time at the first). */
  const watchIssuing = (w: CertManagerWorld, rewind: boolean) => {
    const seen: Array<R.Condition> = []
    const stop = w.sim.store.subscribe((k, ev) => {
      if (k.resource !== "certificates") return
      const c = R.condition(ev.object as unknown as R.Certificate, "Issuing")
      if (c?.status !== "True" || seen.some((s) => s.lastTransitionTime === c.lastTransitionTime && s.reason === c.reason)) return
      seen.push(c)
      if (rewind) w.advance(-(w.now() - Date.now()))
    })
    return { seen, stop }
  }

  it("tls.certManager.renew: observe, dry_run (nothing written), Issuing=True ManuallyTriggered, the next revision, a stale plan is a conflict", async () => {
    const w = (world = await startWorld(env))
    const first = await issued(w, env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "")
    const before = await secretLeaf(w)
    // the Secret is a cert-manager Certificate's (the cert_manager_managed fact); another is not
    const managed = await Effect.runPromise(CertManager.certificateOfSecret(w.kc, "default", "shop-tls"))
    assert.deepStrictEqual(managed, { namespace: "default", name: "shop", uid: first.metadata.uid!, revision: 1, issuerRef: first.spec.issuerRef })
    await w.core.createNamespacedSecret({ namespace: "default", body: { metadata: { name: "plain-tls" }, type: "kubernetes.io/tls", data: before.secret.data! } })
    assert.isUndefined(await Effect.runPromise(CertManager.certificateOfSecret(w.kc, "default", "plain-tls")))
    assert.isUndefined(await Effect.runPromise(CertManager.certificateOfSecret(w.kc, "kube-system", "shop-tls")))
    const [renew] = CertManager.handlers(w.kc)
    const action = CertManager.renewAction({ ...ref, revision: 1, timeoutMillis: 20_000 })
    assert.strictEqual(action.kind, "tls.certManager.renew")
    assert.strictEqual((await Effect.runPromise(observe(renew!, action)))._tag, "NotApplied")

    const dry = await Effect.runPromise(runHandler(renew!, action, "dry_run"))
    assert.isTrue(Exit.isSuccess(dry), String(dry))
    await w.model.idle()
    const afterDry = await getCert(w)
    assert.strictEqual(afterDry.metadata.resourceVersion, first.metadata.resourceVersion)
    assert.isUndefined(R.condition(afterDry, "Issuing"))
    assert.strictEqual(w.model.orders(), 1)

    const issuing = watchIssuing(w, false)
    const run = await Effect.runPromise(runHandler(renew!, action, "auto"))
    issuing.stop()
    assert.isTrue(Exit.isSuccess(run), String(run))
    assert.deepStrictEqual(issuing.seen.map((c) => [c.reason, c.message]), [[R.MANUALLY_TRIGGERED, R.MANUALLY_TRIGGERED_MESSAGE]])
    const after = await secretLeaf(w)
    assert.notStrictEqual(after.leaf.serial, before.leaf.serial)
    assert.strictEqual(after.secret.metadata!.uid, before.secret.metadata!.uid)
    const c = await getCert(w)
    assert.strictEqual(c.status!.revision, 2)
    assert.isUndefined(R.condition(c, "Issuing"))
    if (Exit.isSuccess(run)) assert.strictEqual(run.value.result["after"], after.leaf.fingerprint256)
    assert.strictEqual((await Effect.runPromise(observe(renew!, action)))._tag, "Applied")

    // planned from revision 1, the Certificate is at 2: refused as a conflict, nothing written
    const stale = await Effect.runPromise(runHandler(renew!, action, "auto"))
    assert.isTrue(Exit.isFailure(stale))
    assert.match(JSON.stringify(stale), /"conflict":true/)
    assert.include(String(stale), "planned from 1")
    assert.strictEqual(w.model.orders(), 2)
  })

  it("the cert-manager Renewer returns the new chain, the key redacted", async () => {
    const w = (world = await startWorld(env))
    await issued(w, env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "")
    const before = await secretLeaf(w)
    const renewer = CertManager.renewer(w.kc)
    assert.strictEqual(renewer.kind, "cert-manager")
    const renewed = await Effect.runPromise(renewer.renew({ domains: [domain], name: "default/shop", timeoutMillis: 20_000 }))
    assert.deepStrictEqual(renewed.domains, [domain])
    assert.notStrictEqual(renewed.serial, before.leaf.serial)
    assert.strictEqual(renewed.serial, (await secretLeaf(w)).leaf.serial)
    assert.include(renewed.pems!.fullchain, renewed.pems!.cert.trim())
    assert.isTrue(Redacted.isRedacted(renewed.pems!.key))
    assert.notInclude(JSON.stringify(renewed), "PRIVATE KEY")
    assert.include(Redacted.value(renewed.pems!.key!), "PRIVATE KEY")
    const bad = await Effect.runPromise(Effect.exit(renewer.renew({ domains: [domain], name: "shop" })))
    assert.include(String(bad), "RenewerMisconfigured")
  })

  it("tls.certManager.recreateCertificate: a Certificate stuck in back-off is re-created from its spec; its Secret (owned or not) is kept and served until the new issuance", async () => {
    const w = (world = await startWorld(env))
    const first = await issued(w, env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "")
    const old = await secretLeaf(w)
    // the CA becomes unreachable, the renewal comes due and fails: back-off for an hour
    const issuer = (await w.custom.getClusterCustomObject({ group: R.GROUP, version: R.VERSION, plural: "clusterissuers", name: "pebble-short" })) as { spec: { acme: { server: string } } }
    issuer.spec.acme.server = "https://127.0.0.1:9/dir"
    await w.custom.replaceClusterCustomObject({ group: R.GROUP, version: R.VERSION, plural: "clusterissuers", name: "pebble-short", body: issuer })
    w.advance(Date.parse(first.status!.renewalTime!) + 60_000 - w.now())
    await until(async () => ((await getCert(w)).status?.failedIssuanceAttempts === 1 ? true : undefined), 20_000, "the failed renewal")
    issuer.spec.acme.server = env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? ""
    await w.custom.replaceClusterCustomObject({ group: R.GROUP, version: R.VERSION, plural: "clusterissuers", name: "pebble-short", body: { ...issuer, metadata: { name: "pebble-short" } } })
    await w.model.idle()
    await w.model.idle()
    assert.strictEqual(w.model.orders(), 1)
    // as with --enable-certificate-owner-ref: the Secret is owned by the Certificate
    w.sim.store.mutate({ group: "", version: "v1", resource: "secrets" }, "default", "shop-tls", (s) => {
      s.metadata.ownerReferences = [{ apiVersion: R.API_VERSION, kind: "Certificate", name: "shop", uid: first.metadata.uid!, controller: true, blockOwnerDeletion: true }]
    })

    const [, recreate] = CertManager.handlers(w.kc)
    const action = CertManager.recreateAction({ ...ref, uid: first.metadata.uid!, timeoutMillis: 20_000 })
    assert.strictEqual((await Effect.runPromise(observe(recreate!, action)))._tag, "NotApplied")
    const dry = await Effect.runPromise(runHandler(recreate!, action, "dry_run"))
    assert.isTrue(Exit.isSuccess(dry), String(dry))
    assert.strictEqual((await getCert(w)).metadata.uid, first.metadata.uid)
    assert.lengthOf((await secretLeaf(w)).secret.metadata!.ownerReferences ?? [], 1)

    // while the Certificate is gone and re-created, the Secret is never deleted and keeps the old leaf
    const secretEvents: Array<string> = []
    let atDeletion: string | undefined
    const stopSecrets = w.sim.store.subscribe((k, ev) => {
      if (k.resource === "certificates" && ev.type === "DELETED") {
        // what an ingress controller reads at the moment the Certificate is gone
        const crt = (w.sim.store.get({ group: "", version: "v1", resource: "secrets" }, "default", "shop-tls") as unknown as { data?: Record<string, string> } | undefined)?.data?.["tls.crt"]
        atDeletion = crt === undefined ? "none" : Certificate.fromX509(Certificate.parsePemBundle(Buffer.from(crt, "base64").toString())[0]!).serial
      }
      if (k.resource !== "secrets" || ev.object.metadata.name !== "shop-tls") return
      const crt = (ev.object as unknown as { data?: Record<string, string> }).data?.["tls.crt"]
      const leaf = crt === undefined ? undefined : Certificate.fromX509(Certificate.parsePemBundle(Buffer.from(crt, "base64").toString())[0]!)
      secretEvents.push(`${ev.type}:${leaf?.serial === old.leaf.serial ? "old" : "new"}`)
    })
    const issuing = watchIssuing(w, true)
    const run = await Effect.runPromise(runHandler(recreate!, action, "auto"))
    issuing.stop()
    stopSecrets()
    assert.isTrue(Exit.isSuccess(run), String(run))
    const now = await getCert(w)
    assert.notStrictEqual(now.metadata.uid, first.metadata.uid)
    assert.deepStrictEqual(now.spec, first.spec)
    assert.strictEqual(now.metadata.labels!["app"], "shop")
    assert.strictEqual(issuing.seen[0]?.reason, "Renewing")
    const after = await secretLeaf(w)
    assert.strictEqual(after.secret.metadata!.uid, old.secret.metadata!.uid)
    assert.lengthOf(after.secret.metadata!.ownerReferences ?? [], 0)
    assert.notStrictEqual(after.leaf.serial, old.leaf.serial)
    // released (old leaf kept), then replaced by the new issuance; never deleted
    assert.deepStrictEqual(secretEvents, ["MODIFIED:old", "MODIFIED:new"])
    assert.strictEqual(atDeletion, old.leaf.serial)
    assert.strictEqual(w.model.orders(), 2)
    assert.strictEqual((await Effect.runPromise(observe(recreate!, action)))._tag, "Applied")
    // planned from the old uid: now a conflict
    const again = await Effect.runPromise(runHandler(recreate!, action, "auto"))
    assert.match(JSON.stringify(again), /"conflict":true/)
  })

  it("end to end: the ingress controller serves the Secret cert-manager wrote; after tls.certManager.renew Verify sees the new leaf", async () => {
    const w = (world = await startWorld(env))
    await issued(w, env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "")
    await w.kc.makeApiClient(NetworkingV1Api).createNamespacedIngress({
      namespace: "default",
      body: {
        metadata: { name: "shop", annotations: { "cert-manager.io/cluster-issuer": "pebble-short" } },
        spec: { tls: [{ hosts: [domain], secretName: "shop-tls" }], rules: [{ host: domain, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "shop", port: { number: 80 } } } }] } }] }
      }
    })
    const controller = await IngressController.start({ kubeConfig: w.kc })
    try {
      const ca = [fs.readFileSync(env.BYTEPORT_TEST_PEBBLE_SHORT_ROOT ?? "", "utf8")]
      const endpoint = { host: controller.host, port: controller.port, servername: domain }
      const before = await Effect.runPromise(Verify.endpoint({ ...endpoint, ca, minValidityMillis: DAY, expectStaple: false }))
      assert.isTrue(before.ok, JSON.stringify(before.problems))
      assert.strictEqual(before.inspection.leaf.serial, (await secretLeaf(w)).leaf.serial)
      const [renew] = CertManager.handlers(w.kc)
      const run = await Effect.runPromise(runHandler(renew!, CertManager.renewAction({ ...ref, revision: 1, timeoutMillis: 20_000 }), "auto"))
      assert.isTrue(Exit.isSuccess(run), String(run))
      const after = await Effect.runPromise(Verify.endpoint({ ...endpoint, ca, minValidityMillis: DAY, expectStaple: false, oldFingerprint: before.inspection.leaf.fingerprint256 }))
      assert.isTrue(after.ok, JSON.stringify(after.problems))
      assert.strictEqual(after.inspection.leaf.serial, (await secretLeaf(w)).leaf.serial)
      // (the test controller staples nothing, as ingress-nginx without enable-ocsp)
      // the default 30 days is not met by the 5-day Pebble certificate: Verify says so
      const strict = await Effect.runPromise(Verify.endpoint({ ...endpoint, ca, expectStaple: false }))
      assert.deepStrictEqual(strict.problems, ["expires_too_soon"])
    } finally {
      await controller.close()
    }
  })
})
