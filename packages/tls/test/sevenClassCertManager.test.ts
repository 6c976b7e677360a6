/**
 * tls.expiry.seven-class, class cert_manager, end to end in auto mode: kube-sim with the
 * cert-manager controller model issuing for real from Pebble, a test ingress controller serving
 * the Secret over TLS. The 5-day certificate from the short Pebble is signalled (7 days); the
 * diagnosis finds the Certificate that owns the served Secret; the plan deletes and re-creates it
 * from its spec (the ClusterIssuer, fixed, now points at the default Pebble), keeping the Secret; the new
 * leaf is served and verified. The renewal is due while cert-manager is in back-off after a failed
 * issuance (the issuer was broken, then fixed): the case delete-and-re-create exists for.
 */
import * as fs from "node:fs"
import { type IncidentReport, Runbook, Verifier } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { NetworkingV1Api } from "@kubernetes/client-node"
import { afterEach, assert, it } from "vitest"
import { Effect } from "effect"
import * as CertManager from "../src/certmanager/CertManager"
import * as R from "../src/certmanager/Resources"
import * as CertificateSignals from "../src/detectors/CertificateSignals"
import * as Inspection from "../src/Inspection"
import * as SevenClassRunbook from "../src/runbooks/tls.expiry.seven-class"
import * as IngressController from "../src/testing/ingress"
import { certificate, clusterIssuer, startWorld, until } from "./support/kube"
import type { CertManagerWorld } from "./support/kube"
import { describeWithServices } from "./support/services"

describeWithServices(["pebble"], "tls.expiry.seven-class: cert_manager end to end (kube-sim model, real Pebble)", (env) => {
  let world: CertManagerWorld | undefined
  afterEach(async () => {
    await world?.close()
    world = undefined
  })
  const domain = `seven-cm-${process.pid}.byteport.test`
  const ref = { namespace: "default", name: "shop" }
  const getCert = async (w: CertManagerWorld) =>
    (await w.custom.getNamespacedCustomObject({ group: R.GROUP, version: R.VERSION, plural: "certificates", ...ref })) as R.Certificate

  it("5-day certificate → Certificate deleted and re-created from its spec, Secret kept, the new leaf served and verified", async () => {
    const w = (world = await startWorld(env))
    await w.custom.createClusterCustomObject({ group: R.GROUP, version: R.VERSION, plural: "clusterissuers", body: clusterIssuer("pebble", env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "") })
    await w.custom.createNamespacedCustomObject({ group: R.GROUP, version: R.VERSION, plural: "certificates", namespace: "default", body: certificate({ name: "shop", secretName: "shop-tls", dnsNames: [domain], issuer: "pebble", renewBefore: "48h" }) })
    const first = await until(async () => {
      const c = await getCert(w)
      return R.isReady(c) && c.status?.revision === 1 ? c : undefined
    }, 20_000, "the first issuance")
    await w.kc.makeApiClient(NetworkingV1Api).createNamespacedIngress({
      namespace: "default",
      body: { metadata: { name: "shop" }, spec: { tls: [{ hosts: [domain], secretName: "shop-tls" }], rules: [{ host: domain, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "shop", port: { number: 80 } } } }] } }] } }
    })
    // the renewal falls due while the issuer is broken: cert-manager fails and backs off (1 h)
    const setServer = async (server: string) => {
      const issuer = (await w.custom.getClusterCustomObject({ group: R.GROUP, version: R.VERSION, plural: "clusterissuers", name: "pebble" })) as { spec: { acme: { server: string } } }
      issuer.spec.acme.server = server
      await w.custom.replaceClusterCustomObject({ group: R.GROUP, version: R.VERSION, plural: "clusterissuers", name: "pebble", body: { ...issuer, metadata: { name: "pebble" } } })
    }
    await setServer("https://127.0.0.1:9/dir")
    w.advance(Date.parse(first.status!.renewalTime!) + 60_000 - w.now())
    await until(async () => ((await getCert(w)).status?.failedIssuanceAttempts ?? 0) >= 1 ? true : undefined, 20_000, "a failed renewal")
    // fixed, but the back-off holds the Certificate: the runbook re-creates it (no back-off), issued from the renewal CA
    await setServer(env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "")
    await w.model.idle()
    const orders = w.model.orders()
    const controller = await IngressController.start({ kubeConfig: w.kc })
    try {
      const ca = [env.BYTEPORT_TEST_PEBBLE_SHORT_ROOT ?? "", env.BYTEPORT_TEST_PEBBLE_ROOT ?? ""].map((f) => fs.readFileSync(f, "utf8"))
      const endpoint = { host: controller.host, port: controller.port, servername: domain }
      const before = await Effect.runPromise(Inspection.inspect({ ...endpoint, ca }))
      const signals = await Effect.runPromise(CertificateSignals.pollOnce({ ...endpoint, ca }))
      const signal = signals.find((s) => s.type === CertificateSignals.SIGNAL_EXPIRING_SOON)!
      assert.strictEqual(signal.evidence["thresholdDays"], 7)
      const rb = SevenClassRunbook.make({
        endpoints: [{ ...endpoint, secret: { namespace: "default", name: "shop-tls" }, expectStaple: false }],
        kubeConfig: w.kc,
        ca,
        verifySchedule: Verifier.retryOnce("3 seconds"),
        cooldown: "0 seconds"
      })
      const r = (await Effect.runPromise(Runbook.handle(rb, signal, { mode: "auto" }).pipe(
        Effect.provide(Testing.layer({ handlers: CertManager.handlers(w.kc) }))
      ))) as IncidentReport.IncidentReport
      const c = r.classification
      assert.strictEqual(c?._tag === "Classified" ? c.class : c?._tag, "cert_manager")
      assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation ?? r.outcomes))
      assert.deepStrictEqual(r.outcomes.map((o) => [o.kind, o.status]), [["tls.certManager.recreateCertificate", "applied"]])
      const now = await getCert(w)
      assert.notStrictEqual(now.metadata.uid, first.metadata.uid)
      assert.strictEqual(now.spec.secretName, "shop-tls")
      const after = await Effect.runPromise(Inspection.inspect({ ...endpoint, ca }))
      assert.notStrictEqual(after.leaf.fingerprint256, before.leaf.fingerprint256)
      assert.isAbove(after.leaf.notAfter, Date.now() + 30 * 86_400_000)
      assert.strictEqual(w.model.orders(), orders + 1, "one order, by the re-created Certificate")
    } finally {
      await controller.close()
    }
  }, 60_000)
})
