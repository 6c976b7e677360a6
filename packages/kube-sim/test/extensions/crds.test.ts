import { rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { ApiextensionsV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, Watch } from "@kubernetes/client-node"
import type { KubeConfig } from "@kubernetes/client-node"
import type { KubeSimInstance } from "../../src/index"
import { Keys } from "../../src/index"
import { apiError, startSim } from "../api/helpers"
import { harness } from "../controllers/helpers"
import { kubectlAvailable, runner } from "../kubectl/kubectl"

let sim: KubeSimInstance | undefined
afterEach(async () => {
  await sim?.close()
  sim = undefined
})

const certificateCrd = (extra: { versions?: Array<Record<string, unknown>> } = {}) => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "certificates.cert-manager.io" },
  spec: {
    group: "cert-manager.io",
    scope: "Namespaced",
    names: { plural: "certificates", singular: "certificate", kind: "Certificate", listKind: "CertificateList", shortNames: ["cert", "certs"], categories: ["cert-manager"] },
    versions: extra.versions ?? [
      {
        name: "v1",
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
          { name: "Secret", type: "string", jsonPath: ".spec.secretName" },
          { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
        ]
      }
    ]
  }
})

const start = async (): Promise<{ kc: KubeConfig; ext: ApiextensionsV1Api; co: CustomObjectsApi }> => {
  const s = await startSim()
  sim = s.sim
  return { kc: s.kc, ext: s.kc.makeApiClient(ApiextensionsV1Api), co: s.kc.makeApiClient(CustomObjectsApi) }
}

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch)
const smp = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch)

describe("CustomResourceDefinitions (apiextensions.k8s.io/v1)", () => {
  it("a created CRD is Established and its resources appear in discovery", async () => {
    const { ext } = await start()
    const crd = await ext.createCustomResourceDefinition({ body: certificateCrd() as never })
    assert.strictEqual(crd.metadata!.generation, 1)
    const read = await ext.readCustomResourceDefinition({ name: "certificates.cert-manager.io" })
    const conds = Object.fromEntries(read.status!.conditions!.map((c) => [c.type, [c.status, c.reason]]))
    assert.deepStrictEqual(conds, { NamesAccepted: ["True", "NoConflicts"], Established: ["True", "InitialNamesAccepted"] })
    assert.deepStrictEqual(read.status!.storedVersions, ["v1"])
    assert.strictEqual(read.status!.acceptedNames!.kind, "Certificate")
    const groups = await (await fetch(`${sim!.url}/apis`)).json() as { groups: Array<{ name: string; preferredVersion: { groupVersion: string } }> }
    assert.deepInclude(groups.groups.map((g) => [g.name, g.preferredVersion.groupVersion]), ["cert-manager.io", "cert-manager.io/v1"])
    const list = await (await fetch(`${sim!.url}/apis/cert-manager.io/v1`)).json() as { resources: Array<Record<string, unknown>> }
    assert.deepStrictEqual(list.resources.map((r) => r["name"]), ["certificates", "certificates/status"])
    assert.deepInclude(list.resources[0]!, { kind: "Certificate", namespaced: true, singularName: "certificate", shortNames: ["cert", "certs"], categories: ["cert-manager"] })
  })

  it("custom resources: create, list, watch, status subresource, merge patch, 415 for strategic merge patch, delete", async () => {
    const { kc, ext, co } = await start()
    await ext.createCustomResourceDefinition({ body: certificateCrd() as never })
    const ref = { group: "cert-manager.io", version: "v1", namespace: "default", plural: "certificates" }
    const events: Array<string> = []
    const w = await new Watch(kc).watch("/apis/cert-manager.io/v1/namespaces/default/certificates", {}, (type, obj: any) => events.push(`${type} ${obj.metadata.name} ${obj.status?.conditions?.[0]?.status ?? "-"}`), () => {})
    await new Promise((r) => setTimeout(r, 50))
    const created = await co.createNamespacedCustomObject({ ...ref, body: { apiVersion: "cert-manager.io/v1", kind: "Certificate", metadata: { name: "web" }, spec: { secretName: "web-tls", dnsNames: ["web.example.com"] }, status: { ignored: true } } }) as any
    assert.isUndefined(created.status, "status is ignored on create with a status subresource")
    assert.strictEqual(created.metadata.generation, 1)
    // the main resource ignores status; the status subresource ignores spec
    await co.patchNamespacedCustomObjectStatus({ ...ref, name: "web", body: { status: { conditions: [{ type: "Ready", status: "True" }] }, spec: { secretName: "ignored" } } }, mergePatch)
    let cur = await co.getNamespacedCustomObject({ ...ref, name: "web" }) as any
    assert.strictEqual(cur.status.conditions[0].status, "True")
    assert.strictEqual(cur.spec.secretName, "web-tls")
    assert.strictEqual(cur.metadata.generation, 1)
    await co.patchNamespacedCustomObject({ ...ref, name: "web", body: { spec: { renewBefore: "360h" }, status: { conditions: [] } } }, mergePatch)
    cur = await co.getNamespacedCustomObject({ ...ref, name: "web" }) as any
    assert.strictEqual(cur.spec.renewBefore, "360h")
    assert.strictEqual(cur.status.conditions[0].status, "True")
    assert.strictEqual(cur.metadata.generation, 2)
    const e415 = await apiError(() => co.patchNamespacedCustomObject({ ...ref, name: "web", body: { spec: { x: 1 } } }, smp))
    assert.strictEqual(e415.code, 415)
    assert.strictEqual(e415.body.message, "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
    const list = await co.listNamespacedCustomObject(ref) as any
    assert.strictEqual(list.kind, "CertificateList")
    assert.deepStrictEqual(list.items.map((i: any) => i.metadata.name), ["web"])
    await co.deleteNamespacedCustomObject({ ...ref, name: "web" })
    await new Promise((r) => setTimeout(r, 100))
    w.abort()
    assert.deepStrictEqual(events, ["ADDED web -", "MODIFIED web True", "MODIFIED web True", "DELETED web True"])
    // an unknown kind in the same group is a 404
    assert.strictEqual((await apiError(() => co.listNamespacedCustomObject({ ...ref, plural: "issuers" }))).code, 404)
  })

  it("versions share the storage version (conversion None); deleting the CRD removes its resources and its API", async () => {
    const { ext, co } = await start()
    const schema = { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } }
    await ext.createCustomResourceDefinition({
      body: certificateCrd({ versions: [{ name: "v1alpha1", served: true, storage: false, schema }, { name: "v1", served: true, storage: true, schema, subresources: { status: {} } }] }) as never
    })
    await co.createNamespacedCustomObject({ group: "cert-manager.io", version: "v1alpha1", namespace: "default", plural: "certificates", body: { apiVersion: "cert-manager.io/v1alpha1", kind: "Certificate", metadata: { name: "old" }, spec: { secretName: "a" } } })
    const asV1 = await co.getNamespacedCustomObject({ group: "cert-manager.io", version: "v1", namespace: "default", plural: "certificates", name: "old" }) as any
    assert.strictEqual(asV1.apiVersion, "cert-manager.io/v1")
    assert.strictEqual(asV1.spec.secretName, "a")
    const groups = await (await fetch(`${sim!.url}/apis/cert-manager.io`)).json() as any
    assert.deepStrictEqual(groups.versions.map((v: any) => v.version), ["v1", "v1alpha1"])
    assert.strictEqual(groups.preferredVersion.version, "v1")
    await ext.deleteCustomResourceDefinition({ name: "certificates.cert-manager.io" })
    assert.strictEqual((await fetch(`${sim!.url}/apis/cert-manager.io/v1/namespaces/default/certificates`)).status, 404)
    // re-created: the old resources are gone
    await ext.createCustomResourceDefinition({ body: certificateCrd() as never })
    assert.deepStrictEqual(((await co.listNamespacedCustomObject({ group: "cert-manager.io", version: "v1", namespace: "default", plural: "certificates" })) as any).items, [])
  })

  it("invalid CRDs are 422 with the apiextensions field errors", async () => {
    const { ext } = await start()
    const bad = certificateCrd()
    bad.metadata.name = "certs.cert-manager.io"
    const e = await apiError(() => ext.createCustomResourceDefinition({ body: bad as never }))
    assert.strictEqual(e.code, 422)
    assert.strictEqual(e.body.message, 'CustomResourceDefinition.apiextensions.k8s.io "certs.cert-manager.io" is invalid: metadata.name: Invalid value: "certs.cert-manager.io": must be spec.names.plural+"."+spec.group')
    const noStorage = certificateCrd({ versions: [{ name: "v1", served: true, storage: false, schema: { openAPIV3Schema: { type: "object" } } }] })
    assert.include((await apiError(() => ext.createCustomResourceDefinition({ body: noStorage as never }))).body.message, "must have exactly one version marked as storage version")
    const scope = { ...certificateCrd(), spec: { ...certificateCrd().spec, scope: "Global" } }
    assert.include((await apiError(() => ext.createCustomResourceDefinition({ body: scope as never }))).body.message, 'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"')
  })

  it("with the controllers (startSim): CRDs created in-process through the store are discovered and listed", async () => {
    const h = await harness()
    try {
      h.sim.api.store.create(Keys.customresourcedefinitions, certificateCrd() as never)
      h.sim.api.store.create({ group: "cert-manager.io", version: "v1", resource: "certificates" }, { apiVersion: "cert-manager.io/v1", kind: "Certificate", metadata: { name: "web", namespace: "default" }, spec: { secretName: "web-tls" } })
      const groups = await (await fetch(`${h.sim.url}/apis`)).json() as { groups: Array<{ name: string }> }
      const names = groups.groups.map((g) => g.name)
      assert.include(names, "cert-manager.io")
      assert.include(names, "metrics.k8s.io")
      const list = await h.kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: "cert-manager.io", version: "v1", namespace: "default", plural: "certificates" }) as any
      assert.deepStrictEqual(list.items.map((i: any) => i.spec.secretName), ["web-tls"])
      const crd = await h.kc.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: "certificates.cert-manager.io" })
      assert.strictEqual(crd.status!.conditions!.find((c) => c.type === "Established")!.status, "True")
    } finally {
      await h.sim.close()
    }
  })

  it("two simulators in one process do not share CRDs", async () => {
    const { ext } = await start()
    await ext.createCustomResourceDefinition({ body: certificateCrd() as never })
    const other = await startSim()
    try {
      assert.strictEqual((await fetch(`${other.sim.url}/apis/cert-manager.io/v1`)).status, 404)
    } finally {
      await other.sim.close()
    }
  })

  it.runIf(kubectlAvailable())("kubectl apply and get work on CRDs and custom resources (printer columns, short names)", async () => {
    await start()
    const kubeconfig = join(tmpdir(), `kube-sim-crd-${process.pid}.kubeconfig`)
    const crdFile = join(tmpdir(), `kube-sim-crd-${process.pid}.json`)
    const crFile = join(tmpdir(), `kube-sim-cr-${process.pid}.yaml`)
    sim!.writeKubeconfig(kubeconfig)
    writeFileSync(crdFile, JSON.stringify(certificateCrd()))
    const k = runner(kubeconfig)
    try {
      let r = await k.run(["apply", "--validate=false", "-f", crdFile])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.match(r.stdout, /customresourcedefinition\.apiextensions\.k8s\.io\/certificates\.cert-manager\.io created/)
      writeFileSync(crFile, "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: web\nspec:\n  secretName: web-tls\n")
      r = await k.run(["apply", "--validate=false", "-f", crFile])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.match(r.stdout, /certificate\.cert-manager\.io\/web created/)
      writeFileSync(crFile, "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: web\nspec:\n  secretName: web-tls-2\n")
      r = await k.run(["apply", "--validate=false", "-f", crFile])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.match(r.stdout, /certificate\.cert-manager\.io\/web configured/)
      r = await k.run(["get", "certs"])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.match(r.stdout, /NAME\s+READY\s+SECRET\s+AGE/)
      assert.match(r.stdout, /web\s+<none>\s+web-tls-2\s+\d+s/)
      r = await k.run(["get", "crd"])
      assert.match(r.stdout, /NAME\s+CREATED AT\n+certificates\.cert-manager\.io\s+\d{4}-/)
      r = await k.run(["get", "certificate", "web", "-o", "jsonpath={.spec.secretName}"])
      assert.strictEqual(r.stdout, "web-tls-2")
    } finally {
      k.cleanup()
      for (const f of [kubeconfig, crdFile, crFile]) rmSync(f, { force: true })
    }
  })
})
