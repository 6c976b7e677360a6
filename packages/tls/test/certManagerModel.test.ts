/**
 * The cert-manager controller model on kube-sim, issuing for real from the short Pebble (5-day
 * certificates, dns-01 through challtestsrv): CRDs served with discovery; a Certificate gets its
 * kubernetes.io/tls Secret, a CertificateRequest, revision/notAfter/renewalTime and Ready; the
 * renewal happens at renewalTime (renewBefore) and not a minute before; a failed issuance backs
 * off for an hour (lastFailureTime, failedIssuanceAttempts) even once the issuer is fixed; a
 * namespaced Issuer answers http-01 through nginx's webroot (solver selected by dnsNames), and a
 * wildcard never takes http-01.
 */
import * as fs from "node:fs"
import { afterEach, assert, it } from "vitest"
import { ApiextensionsV1Api } from "@kubernetes/client-node"
import * as Certificate from "../src/Certificate"
import * as Chain from "../src/Chain"
import * as R from "../src/certmanager/Resources"
import { describeWithServices } from "./support/services"
import { certificate, clusterIssuer, startWorld, until } from "./support/kube"
import type { CertManagerWorld } from "./support/kube"

const co = (plural: string, namespace: string, name: string) => ({ group: R.GROUP, version: R.VERSION, plural, namespace, name })

describeWithServices(["pebble"], "cert-manager controller model (kube-sim, real Pebble)", (env) => {
  let world: CertManagerWorld | undefined
  afterEach(async () => {
    await world?.close()
    world = undefined
  })
  const name = `cm-${process.pid}.byteport.test`
  const getCert = async (w: CertManagerWorld, n = "shop") => (await w.custom.getNamespacedCustomObject(co("certificates", "default", n))) as R.Certificate
  const leafOf = async (w: CertManagerWorld, secret = "shop-tls") => {
    const s = await w.core.readNamespacedSecret({ name: secret, namespace: "default" })
    return { secret: s, chain: Certificate.parsePemBundle(Buffer.from(s.data!["tls.crt"]!, "base64").toString()) }
  }

  it("registers the four CRDs, issues into the Secret, renews at renewalTime (renewBefore) and not before", async () => {
    const w = (world = await startWorld(env))
    const ext = w.kc.makeApiClient(ApiextensionsV1Api)
    const names = (await ext.listCustomResourceDefinition()).items.map((c) => c.metadata!.name).sort()
    assert.deepStrictEqual(names, ["certificaterequests.cert-manager.io", "certificates.cert-manager.io", "clusterissuers.cert-manager.io", "issuers.cert-manager.io"])

    await w.custom.createClusterCustomObject({ group: R.GROUP, version: R.VERSION, plural: "clusterissuers", body: clusterIssuer("pebble-short", env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "") })
    await w.custom.createNamespacedCustomObject({ group: R.GROUP, version: R.VERSION, plural: "certificates", namespace: "default", body: certificate({ name: "shop", secretName: "shop-tls", dnsNames: [name], issuer: "pebble-short", renewBefore: "48h" }) })
    const ready = await until(async () => {
      const c = await getCert(w)
      return R.isReady(c) && c.status?.revision === 1 ? c : undefined
    }, 20_000, "the first issuance")
    const first = await leafOf(w)
    assert.strictEqual(first.secret.type, "kubernetes.io/tls")
    assert.strictEqual(first.secret.metadata!.annotations![R.Annotations.certificateName], "shop")
    assert.strictEqual(first.secret.metadata!.annotations![R.Annotations.issuerKind], "ClusterIssuer")
    assert.isUndefined(first.secret.metadata!.ownerReferences)
    const leaf = Certificate.fromX509(first.chain[0]!)
    assert.deepStrictEqual(leaf.dnsNames, [name])
    assert.strictEqual(leaf.notAfter - leaf.notBefore + 1000, Number(env.BYTEPORT_TEST_PEBBLE_SHORT_VALIDITY_S) * 1000)
    const roots = Certificate.parsePemBundle(fs.readFileSync(env.BYTEPORT_TEST_PEBBLE_SHORT_ROOT ?? "", "utf8"))
    assert.isTrue(Chain.verify({ served: first.chain, roots, name, now: Date.now() }).valid)
    // status: notAfter from the certificate, renewalTime = notAfter − 48 h
    assert.strictEqual(Date.parse(ready.status!.notAfter!), Math.floor(leaf.notAfter / 1000) * 1000)
    assert.strictEqual(Date.parse(ready.status!.renewalTime!), Date.parse(ready.status!.notAfter!) - 48 * 3_600_000)
    assert.isUndefined(R.condition(ready, "Issuing"))
    const cr = (await w.custom.getNamespacedCustomObject(co("certificaterequests", "default", "shop-1"))) as { status: { conditions: Array<R.Condition>; certificate: string } }
    assert.deepStrictEqual(cr.status.conditions.map((c) => [c.type, c.status, c.reason]), [["Approved", "True", "cert-manager.io"], ["Ready", "True", "Issued"]])
    assert.include(Buffer.from(cr.status.certificate, "base64").toString(), "BEGIN CERTIFICATE")
    assert.strictEqual(w.model.orders(), 1)

    // one minute before renewalTime: nothing happens
    const renewal = Date.parse(ready.status!.renewalTime!)
    w.advance(renewal - 60_000 - w.now())
    await w.model.idle()
    await w.model.idle()
    assert.strictEqual((await getCert(w)).status!.revision, 1)
    assert.strictEqual(w.model.orders(), 1)
    // one minute after: renewed in place (same Secret, new serial, revision 2). Pebble dates the
    // new certificate by real time, so the clock goes back once the renewal is under way.
    let seen: R.Condition | undefined
    const stop = w.sim.store.subscribe((k, ev) => {
      if (k.resource !== "certificates" || seen !== undefined) return
      const issuing = R.condition(ev.object as unknown as R.Certificate, "Issuing")
      if (issuing?.status !== "True") return
      seen = issuing
      w.advance(-(w.now() - Date.now()))
    })
    w.advance(120_000)
    const renewed = await until(async () => {
      const c = await getCert(w)
      return c.status?.revision === 2 && R.isReady(c) ? c : undefined
    }, 20_000, "the renewal")
    stop()
    const second = await leafOf(w)
    assert.strictEqual(second.secret.metadata!.uid, first.secret.metadata!.uid)
    assert.notStrictEqual(second.secret.metadata!.resourceVersion, first.secret.metadata!.resourceVersion)
    assert.notStrictEqual(Certificate.fromX509(second.chain[0]!).serial, leaf.serial)
    assert.strictEqual(seen?.status, "True")
    assert.strictEqual(seen?.reason, "Renewing")
    assert.match(seen?.message ?? "", /^Renewing certificate as renewal was scheduled at /)
    assert.strictEqual(Date.parse(renewed.status!.notAfter!), Math.floor(Certificate.fromX509(second.chain[0]!).notAfter / 1000) * 1000)
    assert.strictEqual(w.model.orders(), 2)
  })

  it("a failed issuance sets Issuing=False Failed and backs off for an hour, even once the issuer is fixed", async () => {
    const w = (world = await startWorld(env))
    // nothing listens on port 9 (discard): the ACME directory cannot be read
    await w.custom.createClusterCustomObject({ group: R.GROUP, version: R.VERSION, plural: "clusterissuers", body: clusterIssuer("pebble-short", "https://127.0.0.1:9/dir") })
    await w.custom.createNamespacedCustomObject({ group: R.GROUP, version: R.VERSION, plural: "certificates", namespace: "default", body: certificate({ name: "shop", secretName: "shop-tls", dnsNames: [name], issuer: "pebble-short" }) })
    const failed = await until(async () => {
      const c = await getCert(w)
      return c.status?.failedIssuanceAttempts === 1 ? c : undefined
    }, 20_000, "the failure")
    const issuing = R.condition(failed, "Issuing")!
    assert.strictEqual(issuing.status, "False")
    assert.strictEqual(issuing.reason, "Failed")
    assert.isDefined(failed.status!.lastFailureTime)
    await w.core.readNamespacedSecret({ name: "shop-tls", namespace: "default" }).then(() => assert.fail("no Secret expected"), () => undefined)
    // fixed issuer: still backing off
    const issuer = (await w.custom.getClusterCustomObject({ group: R.GROUP, version: R.VERSION, plural: "clusterissuers", name: "pebble-short" })) as { spec: { acme: { server: string } } }
    issuer.spec.acme.server = env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? ""
    await w.custom.replaceClusterCustomObject({ group: R.GROUP, version: R.VERSION, plural: "clusterissuers", name: "pebble-short", body: issuer })
    w.advance(3_600_000 - 120_000)
    await w.model.idle()
    await w.model.idle()
    assert.strictEqual(w.model.orders(), 0)
    assert.strictEqual((await getCert(w)).status!.failedIssuanceAttempts, 1)
    // past the hour: issued
    w.advance(180_000)
    const ok = await until(async () => {
      const c = await getCert(w)
      return R.isReady(c) && c.status?.revision === 1 ? c : undefined
    }, 20_000, "the issuance after the back-off")
    assert.isUndefined(ok.status!.failedIssuanceAttempts)
    assert.isUndefined(ok.status!.lastFailureTime)
  })
})

describeWithServices(["pebble", "nginx"], "cert-manager controller model: http-01 through nginx's webroot", (env) => {
  let world: CertManagerWorld | undefined
  afterEach(async () => {
    await world?.close()
    world = undefined
  })

  it("a namespaced Issuer with an http01 solver (selector by dnsNames) issues; a wildcard never takes http-01", async () => {
    const w = (world = await startWorld(env))
    const name = `cm-http-${process.pid}.byteport.test`
    await w.custom.createNamespacedCustomObject({
      group: R.GROUP, version: R.VERSION, plural: "issuers", namespace: "default",
      body: {
        apiVersion: R.API_VERSION, kind: "Issuer", metadata: { name: "pebble" },
        spec: { acme: { server: env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL, privateKeySecretRef: { name: "pebble-account" }, solvers: [{ selector: { dnsNames: [name] }, http01: { ingress: { ingressClassName: "nginx" } } }] } }
      }
    })
    const cert = (n: string, names: Array<string>) => ({
      apiVersion: R.API_VERSION, kind: "Certificate", metadata: { name: n, namespace: "default" },
      spec: { secretName: `${n}-tls`, dnsNames: names, issuerRef: { name: "pebble" } }
    })
    await w.custom.createNamespacedCustomObject({ group: R.GROUP, version: R.VERSION, plural: "certificates", namespace: "default", body: cert("web", [name]) })
    await w.custom.createNamespacedCustomObject({ group: R.GROUP, version: R.VERSION, plural: "certificates", namespace: "default", body: cert("wild", [`*.${name}`]) })
    const web = await until(async () => {
      const c = (await w.custom.getNamespacedCustomObject(co("certificates", "default", "web"))) as R.Certificate
      return R.isReady(c) ? c : undefined
    }, 20_000, "the http-01 issuance")
    assert.strictEqual(web.status!.revision, 1)
    const s = await w.core.readNamespacedSecret({ name: "web-tls", namespace: "default" })
    const chain = Certificate.parsePemBundle(Buffer.from(s.data!["tls.crt"]!, "base64").toString())
    assert.isTrue(Chain.verify({ served: chain, roots: Certificate.parsePemBundle(fs.readFileSync(env.BYTEPORT_TEST_PEBBLE_ROOT ?? "", "utf8")), name, now: Date.now() }).valid)
    // the account key Secret the Issuer names was created in its namespace
    assert.isDefined((await w.core.readNamespacedSecret({ name: "pebble-account", namespace: "default" })).data?.["tls.key"])
    const wild = await until(async () => {
      const c = (await w.custom.getNamespacedCustomObject(co("certificates", "default", "wild"))) as R.Certificate
      return c.status?.failedIssuanceAttempts === 1 ? c : undefined
    }, 20_000, "the wildcard's failure")
    assert.include(R.condition(wild, "Issuing")?.message ?? "", "no solver of pebble matches")
  })
})
