/**
 * tls.expiry.seven-class, class cert_manager, end to end in auto mode: kube-sim with the
 * cert-manager controller model issuing for real from Pebble, a test ingress controller serving
 * the Secret over TLS. The 5-day certificate from the short Pebble is signalled (7 days); the
 * diagnosis finds the Certificate that owns the served Secret; the plan deletes and re-creates it
 * from its spec (the ClusterIssuer, fixed, now points at the default Pebble), keeping the Secret; the new
 * leaf is served and verified. The renewal is due while cert-manager is in back-off after a failed
 * issuance (the issuer was broken, then fixed): the case delete-and-re-create exists for.
 */
import { Verifier } from "@byteport/core"
import { assert, it } from "vitest"
import { Effect } from "effect"
import * as Inspection from "../src/Inspection"
import * as SevenClassRunbook from "../src/runbooks/tls.expiry.seven-class"
import { getShop, handle, issueBehindIngress, servedScene, setIssuerServer, until, worldPerTest } from "./support/kube"
import { describeWithServices } from "./support/services"

describeWithServices(["pebble"], "tls.expiry.seven-class: cert_manager end to end (kube-sim model, real Pebble)", (env) => {
  const worlds = worldPerTest(env)
  const domain = `seven-cm-${process.pid}.byteport.test`

  it("5-day certificate → Certificate deleted and re-created from its spec, Secret kept, the new leaf served and verified", async () => {
    const w = await worlds.start()
    const first = await issueBehindIngress(w, { domain, server: env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "" })
    // the renewal falls due while the issuer is broken: cert-manager fails and backs off (1 h)
    await setIssuerServer(w, "pebble", "https://127.0.0.1:9/dir")
    w.advance(Date.parse(first.status!.renewalTime!) + 60_000 - w.now())
    await until(async () => ((await getShop(w)).status?.failedIssuanceAttempts ?? 0) >= 1 ? true : undefined, 20_000, "a failed renewal")
    // fixed, but the back-off holds the Certificate: the runbook re-creates it (no back-off), issued from the renewal CA
    await setIssuerServer(w, "pebble", env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "")
    await w.model.idle()
    const orders = w.model.orders()
    const { controller, ca, endpoint, before, signal } = await servedScene(env, w, domain)
    try {
      const rb = SevenClassRunbook.make({
        endpoints: [{ ...endpoint, secret: { namespace: "default", name: "shop-tls" }, expectStaple: false }],
        kubeConfig: w.kc,
        ca,
        verifySchedule: Verifier.retryOnce("3 seconds"),
        cooldown: "0 seconds"
      })
      const r = await handle(w, rb, signal, "auto")
      const c = r.classification
      assert.strictEqual(c?._tag === "Classified" ? c.class : c?._tag, "cert_manager")
      assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation ?? r.outcomes))
      assert.deepStrictEqual(r.outcomes.map((o) => [o.kind, o.status]), [["tls.certManager.recreateCertificate", "applied"]])
      const now = await getShop(w)
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
