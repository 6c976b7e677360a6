/**
 * tls.expiry.threshold, path cert_manager, end to end in auto mode: kube-sim with the cert-manager
 * controller model issuing for real from Pebble, the test ingress controller serving the Secret
 * over TLS. A 5-day certificate from the short Pebble (renewBefore 48h: cert-manager itself would
 * wait) is signalled at 7 days (critical); the diagnosis finds the Certificate of the served
 * Secret and checks CAA through challtestsrv; the plan force-renews it as `cmctl renew` does
 * (Issuing=True, ManuallyTriggered); the model issues from the default Pebble (the ClusterIssuer
 * now points there); the new leaf is served and verified; the snapshots show the new revision.
 */
import { Verifier } from "@byteport/core"
import { Effect } from "effect"
import { assert, it } from "vitest"
import * as Inspection from "../src/Inspection"
import * as Caa from "../src/probes/Caa"
import * as ThresholdRunbook from "../src/runbooks/tls.expiry.threshold"
import { getShop, handle, issueBehindIngress, servedScene, setIssuerServer, worldPerTest } from "./support/kube"
import { describeWithServices } from "./support/services"

describeWithServices(["pebble"], "tls.expiry.threshold: cert_manager end to end (kube-sim model, real Pebble)", (env) => {
  const worlds = worldPerTest(env)
  const domain = `threshold-cm-${process.pid}.byteport.test`

  it("5-day certificate (critical) → force-renewed as cmctl renew, one new revision from the default Pebble, served and verified", async () => {
    const w = await worlds.start()
    const first = await issueBehindIngress(w, { domain, server: env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "" })
    // the renewal CA from now on
    await setIssuerServer(w, "pebble", env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "")
    await w.model.idle()
    const orders = w.model.orders()
    const { controller, ca, endpoint, before, signal } = await servedScene(env, w, domain, [14, 7])
    try {
      const rb = ThresholdRunbook.make({
        endpoints: [{ ...endpoint, secret: { namespace: "default", name: "shop-tls" }, expectStaple: false }],
        kubeConfig: w.kc,
        ca,
        resolver: Caa.system({ nameservers: [env.BYTEPORT_TEST_PEBBLE_DNS ?? ""] }),
        verifySchedule: Verifier.retryOnce("3 seconds"),
        cooldown: "0 seconds"
      })
      // dry_run first: the plan, the Issuing condition sent with dryRun=All, no order, no new revision
      const dry = await handle(w, rb, signal, "dry_run")
      assert.strictEqual(dry.classification?._tag === "Classified" ? dry.classification.class : "", "cert_manager")
      assert.deepStrictEqual(dry.outcomes.map((o) => o.kind), ["tls.certManager.renew"])
      await w.model.idle()
      assert.strictEqual(w.model.orders(), orders, "dry_run orders nothing")
      assert.strictEqual((await getShop(w)).status?.revision, 1)
      const r = await handle(w, rb, signal, "auto")
      const c = r.classification
      assert.strictEqual(c?._tag === "Classified" ? c.class : c?._tag, "cert_manager")
      assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation ?? r.outcomes))
      assert.deepStrictEqual(r.outcomes.map((o) => [o.kind, o.status]), [["tls.certManager.renew", "applied"]])
      const checks = (r.facts["checks"] as unknown as { value: ReadonlyArray<{ probe: string; ok: boolean }> }).value
      assert.deepStrictEqual(checks.map((x) => [x.probe, x.ok]), [["caa", true]])
      const now = await getShop(w)
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
