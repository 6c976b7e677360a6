/**
 * tls.expiry.threshold, path cert_manager, end to end in auto mode: kube-sim with the cert-manager
 * controller model issuing for real from Pebble, the test ingress controller serving the Secret
 * over TLS. A 5-day certificate from the short Pebble (renewBefore 48h: cert-manager itself would
 * wait) is signalled at 7 days (critical); the diagnosis finds the Certificate of the served
 * Secret and checks CAA through challtestsrv; the plan force-renews it as `cmctl renew` does
 * (Issuing=True, ManuallyTriggered); the model issues from the default Pebble (the ClusterIssuer
 * now points there); the new leaf is served and verified; the snapshots show the new revision.
 */
import * as fs from "node:fs"
import { type IncidentReport, Runbook, Verifier } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect } from "effect"
import { afterEach, assert, it } from "vitest"
import * as CertManager from "../src/certmanager/CertManager"
import * as R from "../src/certmanager/Resources"
import * as CertificateSignals from "../src/detectors/CertificateSignals"
import * as Inspection from "../src/Inspection"
import * as Caa from "../src/probes/Caa"
import * as ThresholdRunbook from "../src/runbooks/tls.expiry.threshold"
import * as IngressController from "../src/testing/ingress"
import { issueBehindIngress, setIssuerServer, startWorld } from "./support/kube"
import type { CertManagerWorld } from "./support/kube"
import { describeWithServices } from "./support/services"

describeWithServices(["pebble"], "tls.expiry.threshold: cert_manager end to end (kube-sim model, real Pebble)", (env) => {
  let world: CertManagerWorld | undefined
  afterEach(async () => {
    await world?.close()
    world = undefined
  })
  const domain = `threshold-cm-${process.pid}.byteport.test`
  const ref = { namespace: "default", name: "shop" }
  const getCert = async (w: CertManagerWorld) =>
    (await w.custom.getNamespacedCustomObject({ group: R.GROUP, version: R.VERSION, plural: "certificates", ...ref })) as R.Certificate

  it("5-day certificate (critical) → force-renewed as cmctl renew, one new revision from the default Pebble, served and verified", async () => {
    const w = (world = await startWorld(env))
    const first = await issueBehindIngress(w, { domain, server: env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "" })
    // the renewal CA from now on
    await setIssuerServer(w, "pebble", env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "")
    await w.model.idle()
    const orders = w.model.orders()
    const controller = await IngressController.start({ kubeConfig: w.kc })
    try {
      const ca = [env.BYTEPORT_TEST_PEBBLE_SHORT_ROOT ?? "", env.BYTEPORT_TEST_PEBBLE_ROOT ?? ""].map((f) => fs.readFileSync(f, "utf8"))
      const endpoint = { host: controller.host, port: controller.port, servername: domain }
      const before = await Effect.runPromise(Inspection.inspect({ ...endpoint, ca }))
      const signals = await Effect.runPromise(CertificateSignals.pollOnce({ ...endpoint, ca, thresholdDays: [14, 7] }))
      const signal = signals.find((s) => s.type === CertificateSignals.SIGNAL_EXPIRING_SOON)!
      assert.strictEqual(signal.evidence["thresholdDays"], 7)
      const rb = ThresholdRunbook.make({
        endpoints: [{ ...endpoint, secret: { namespace: "default", name: "shop-tls" }, expectStaple: false }],
        kubeConfig: w.kc,
        ca,
        resolver: Caa.system({ nameservers: [env.BYTEPORT_TEST_PEBBLE_DNS ?? ""] }),
        verifySchedule: Verifier.retryOnce("3 seconds"),
        cooldown: "0 seconds"
      })
      // dry_run first: the plan, the Issuing condition sent with dryRun=All, no order, no new revision
      const dry = (await Effect.runPromise(Runbook.handle(rb, signal, { mode: "dry_run" }).pipe(
        Effect.provide(Testing.layer({ handlers: CertManager.handlers(w.kc) }))
      ))) as IncidentReport.IncidentReport
      assert.strictEqual(dry.classification?._tag === "Classified" ? dry.classification.class : "", "cert_manager")
      assert.deepStrictEqual(dry.outcomes.map((o) => o.kind), ["tls.certManager.renew"])
      await w.model.idle()
      assert.strictEqual(w.model.orders(), orders, "dry_run orders nothing")
      assert.strictEqual((await getCert(w)).status?.revision, 1)
      const r = (await Effect.runPromise(Runbook.handle(rb, signal, { mode: "auto" }).pipe(
        Effect.provide(Testing.layer({ handlers: CertManager.handlers(w.kc) }))
      ))) as IncidentReport.IncidentReport
      const c = r.classification
      assert.strictEqual(c?._tag === "Classified" ? c.class : c?._tag, "cert_manager")
      assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation ?? r.outcomes))
      assert.deepStrictEqual(r.outcomes.map((o) => [o.kind, o.status]), [["tls.certManager.renew", "applied"]])
      const checks = (r.facts["checks"] as unknown as { value: ReadonlyArray<{ probe: string; ok: boolean }> }).value
      assert.deepStrictEqual(checks.map((x) => [x.probe, x.ok]), [["caa", true]])
      const now = await getCert(w)
      assert.strictEqual(now.metadata.uid, first.metadata.uid, "renewed in place, not re-created")
      assert.strictEqual(now.status?.revision, 2)
      const after = await Effect.runPromise(Inspection.inspect({ ...endpoint, ca }))
      assert.notStrictEqual(after.leaf.fingerprint256, before.leaf.fingerprint256)
      assert.isAbove(after.leaf.notAfter, Date.now() + 30 * 86_400_000)
      assert.strictEqual(w.model.orders(), orders + 1, "one order")
      const pm = r.postmortem as { diff: Array<{ field: string; before: unknown; after: unknown }> }
      assert.deepInclude(pm.diff, { field: "certManager.revision", before: 1, after: 2 })
      assert.include(pm.diff.map((d) => d.field), "served.leaf")
    } finally {
      await controller.close()
    }
  }, 90_000)
})
