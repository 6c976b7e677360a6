/**
 * tls.expiry.end-to-end on kube-sim (the cert-manager controller model issuing for real from
 * Pebble, the test ingress controller serving Secrets over TLS):
 * - cert_manager_managed: the 5-day certificate of a cert-manager Certificate (short Pebble) is
 *   signalled; diagnosis finds the Certificate of the served Secret; the plan force-renews it as
 *   `cmctl renew` does (Issuing=True, ManuallyTriggered); cert-manager issues from the default
 *   Pebble (the ClusterIssuer now points there), the new leaf is served and verified.
 * - acme_renewable behind a plain ingress Secret: certbot renews from the default Pebble, the
 *   Secret is written with a resourceVersion precondition (`IngressSecret`), the controller serves
 *   the new leaf.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { type IncidentReport, Runbook, Verifier } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import * as Testing from "@byteport/core/testing"
import { NetworkingV1Api } from "@kubernetes/client-node"
import { afterEach, assert, it } from "vitest"
import { Effect, Layer } from "effect"
import { CertbotRenewer, CertManager, CertificateSignals, EndToEndRunbook, IngressSecret, Inspection, RenewAction } from "../src/index"
import * as R from "../src/certmanager/Resources"
import * as IngressController from "../src/testing/ingress"
import { certificate, clusterIssuer, startWorld, until } from "./support/kube"
import type { CertManagerWorld } from "./support/kube"
import { certbot, describeWithServices, tmp } from "./support/services"

describeWithServices(["pebble", "nginx", "certbot"], "tls.expiry.end-to-end on kube-sim (cert-manager model, ingress controller, real Pebble)", (env) => {
  let world: CertManagerWorld | undefined
  afterEach(async () => {
    await world?.close()
    world = undefined
  })
  const ca = () => [env.BYTEPORT_TEST_PEBBLE_SHORT_ROOT ?? "", env.BYTEPORT_TEST_PEBBLE_ROOT ?? ""].map((f) => fs.readFileSync(f, "utf8"))
  const ingress = (w: CertManagerWorld, host: string, secretName: string) =>
    w.kc.makeApiClient(NetworkingV1Api).createNamespacedIngress({
      namespace: "default",
      body: { metadata: { name: secretName }, spec: { tls: [{ hosts: [host], secretName }], rules: [{ host, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "shop", port: { number: 80 } } } }] } }] } }
    })
  const classOf = (r: IncidentReport.IncidentReport) => (r.classification?._tag === "Classified" ? r.classification.class : r.classification?._tag)

  it("cert_manager_managed: force-renewed as cmctl renew does, issued from the default Pebble, served and verified", async () => {
    const w = (world = await startWorld(env))
    const domain = `e2e-cm-${process.pid}.byteport.test`
    const ref = { namespace: "default", name: "shop" }
    const getCert = async () => (await w.custom.getNamespacedCustomObject({ group: R.GROUP, version: R.VERSION, plural: "certificates", ...ref })) as R.Certificate
    await w.custom.createClusterCustomObject({ group: R.GROUP, version: R.VERSION, plural: "clusterissuers", body: clusterIssuer("pebble", env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "") })
    await w.custom.createNamespacedCustomObject({ group: R.GROUP, version: R.VERSION, plural: "certificates", namespace: "default", body: certificate({ name: "shop", secretName: "shop-tls", dnsNames: [domain], issuer: "pebble", renewBefore: "48h" }) })
    const first = await until(async () => {
      const c = await getCert()
      return R.isReady(c) && c.status?.revision === 1 ? c : undefined
    }, 20_000, "the first issuance")
    await ingress(w, domain, "shop-tls")
    // the renewal CA from now on; cert-manager would renew only at renewalTime (3 days away)
    const issuer = (await w.custom.getClusterCustomObject({ group: R.GROUP, version: R.VERSION, plural: "clusterissuers", name: "pebble" })) as { spec: { acme: { server: string } } }
    issuer.spec.acme.server = env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? ""
    await w.custom.replaceClusterCustomObject({ group: R.GROUP, version: R.VERSION, plural: "clusterissuers", name: "pebble", body: { ...issuer, metadata: { name: "pebble" } } })
    await w.model.idle()
    const orders = w.model.orders()
    const controller = await IngressController.start({ kubeConfig: w.kc })
    try {
      const endpoint = { host: controller.host, port: controller.port, servername: domain }
      const before = await Effect.runPromise(Inspection.inspect({ ...endpoint, ca: ca() }))
      const signal = (await Effect.runPromise(CertificateSignals.pollOnce({ ...endpoint, ca: ca() }))).find((s) => s.type === CertificateSignals.SIGNAL_EXPIRING_SOON)!
      assert.strictEqual(signal.evidence["thresholdDays"], 7)
      const rb = EndToEndRunbook.make({
        endpoints: [{ ...endpoint, secret: { namespace: "default", name: "shop-tls" }, expectStaple: false }],
        kubeConfig: w.kc,
        ca: ca(),
        verifySchedule: Verifier.retryOnce("3 seconds"),
        cooldown: "0 seconds"
      })
      const r = (await Effect.runPromise(Runbook.handle(rb, signal, { mode: "auto" }).pipe(
        Effect.provide(Testing.layer({ handlers: CertManager.handlers(w.kc) })),
        Effect.provide(Shell.layerLocal)
      ))) as IncidentReport.IncidentReport
      assert.strictEqual(classOf(r), "cert_manager_managed")
      assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation ?? r.outcomes))
      assert.deepStrictEqual(r.outcomes.map((o) => [o.kind, o.status]), [["tls.certManager.renew", "applied"]])
      const now = await getCert()
      assert.strictEqual(now.metadata.uid, first.metadata.uid, "the same Certificate (renewed, not re-created)")
      assert.strictEqual(now.status?.revision, 2)
      const after = await Effect.runPromise(Inspection.inspect({ ...endpoint, ca: ca() }))
      assert.notStrictEqual(after.leaf.fingerprint256, before.leaf.fingerprint256)
      assert.isAbove(after.leaf.notAfter, Date.now() + 30 * 86_400_000)
      assert.strictEqual(w.model.orders(), orders + 1)
    } finally {
      await controller.close()
    }
  }, 60_000)

  it("acme_renewable behind a plain ingress Secret: certbot renews, the Secret is written (resourceVersion precondition), the controller serves the new leaf", async () => {
    const w = (world = await startWorld(env))
    const domain = `e2e-ing-${process.pid}.byteport.test`
    const issued = await Effect.runPromise(certbot(env, { directory: env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "", name: domain }).pipe(Effect.provide(Shell.layerLocal)))
    await w.core.createNamespacedSecret({
      namespace: "default",
      body: { metadata: { name: "plain-tls" }, type: "kubernetes.io/tls", data: { "tls.crt": fs.readFileSync(issued.fullchain).toString("base64"), "tls.key": fs.readFileSync(issued.key).toString("base64") } }
    })
    await ingress(w, domain, "plain-tls")
    const controller = await IngressController.start({ kubeConfig: w.kc })
    try {
      const endpoint = { host: controller.host, port: controller.port, servername: domain }
      const before = await Effect.runPromise(Inspection.inspect({ ...endpoint, ca: ca() }))
      const signal = (await Effect.runPromise(CertificateSignals.pollOnce({ ...endpoint, ca: ca() }))).find((s) => s.type === CertificateSignals.SIGNAL_EXPIRING_SOON)!
      const configDir = path.dirname(path.dirname(issued.live))
      const base = path.dirname(configDir)
      const renewer = EndToEndRunbook.staged(CertbotRenewer.make({ configDir, workDir: `${base}/work`, logsDir: `${base}/logs` }))
      const backups = tmp("byteport-e2e-ing-backups-")
      const rb = EndToEndRunbook.make({
        endpoints: [{ ...endpoint, secret: { namespace: "default", name: "plain-tls" }, webroot: env.BYTEPORT_TEST_NGINX_WEBROOT ?? "", expectStaple: false }],
        kubeConfig: w.kc,
        ca: ca(),
        caFiles: [env.BYTEPORT_TEST_PEBBLE_SHORT_ROOT ?? "", env.BYTEPORT_TEST_PEBBLE_ROOT ?? ""],
        account: { directoryUrl: env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "", caBundle: env.BYTEPORT_TEST_PEBBLE_TLS_CA ?? "" },
        stagingRoot: tmp("byteport-e2e-ing-staging-"),
        backupRoot: backups,
        verifySchedule: Verifier.retryOnce("3 seconds"),
        cooldown: "0 seconds"
      })
      const layer = Layer.merge(Testing.layer({ handlers: [...IngressSecret.handlers(w.kc), RenewAction.handler({ certbot: renewer })] }), Shell.layerLocal)
      const r = (await Effect.runPromise(Runbook.handle(rb, signal, { mode: "auto" }).pipe(Effect.provide(layer), Effect.provide(Shell.layerLocal)))) as IncidentReport.IncidentReport
      assert.strictEqual(classOf(r), "acme_renewable")
      assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation ?? r.outcomes))
      assert.deepStrictEqual(r.outcomes.map((o) => [o.kind, o.status]), [["tls.renew", "applied"], ["tls.kubernetes.installSecret", "applied"]])
      const after = await Effect.runPromise(Inspection.inspect({ ...endpoint, ca: ca() }))
      assert.notStrictEqual(after.leaf.fingerprint256, before.leaf.fingerprint256)
      assert.isAbove(after.leaf.notAfter, Date.now() + 30 * 86_400_000)
      assert.strictEqual(fs.readdirSync(backups).length, 1, "the Secret's old pair was backed up")
    } finally {
      await controller.close()
    }
  }, 90_000)
})
