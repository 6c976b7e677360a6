import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { DiscoveryV1Api, Watch } from "@kubernetes/client-node"
import type { V1EndpointSlice } from "@kubernetes/client-node"
import { Scenario } from "../../src/scenario/index"
import { harness, podsOf, ready, type Harness } from "../controllers/helpers"
import { kubectlAvailable, runner } from "../kubectl/kubectl"

let h: Harness | undefined
afterEach(async () => {
  await h?.sim.close()
  h = undefined
})

const slicesOf = async (h: Harness, service: string): Promise<Array<V1EndpointSlice>> =>
  (await h.kc.makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: "default", labelSelector: `kubernetes.io/service-name=${service}` })).items

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v))

const addresses = (s: ReadonlyArray<V1EndpointSlice>, cond?: "ready" | "terminating") =>
  s.flatMap((x) => x.endpoints ?? []).filter((e) => cond === undefined || e.conditions?.[cond] === true).flatMap((e) => e.addresses).sort()

describe("EndpointSlices (discovery.k8s.io/v1) follow the Service's pods", () => {
  it("one slice per Service with ready endpoints, ports resolved, labels and owner as the real controller writes them", async () => {
    h = await harness({ scenario: Scenario.cluster().with({ workloads: [{ name: "web", replicas: 2, labels: { tier: "front" }, service: { port: 80 } }] }).build() })
    const slices = await slicesOf(h, "web")
    assert.strictEqual(slices.length, 1)
    const s = slices[0]!
    const svc = await h.core.readNamespacedService({ name: "web", namespace: "default" })
    assert.match(s.metadata!.name!, /^web-[a-z0-9]{5}$/)
    assert.strictEqual(s.addressType, "IPv4")
    assert.strictEqual(s.metadata!.labels!["endpointslice.kubernetes.io/managed-by"], "endpointslice-controller.k8s.io")
    assert.deepInclude(s.metadata!.ownerReferences![0]!, { kind: "Service", name: "web", uid: svc.metadata!.uid!, controller: true, blockOwnerDeletion: true })
    const pods = await podsOf(h, "web")
    assert.deepStrictEqual(addresses(slices, "ready"), pods.map((p) => p.status!.podIP!).sort())
    assert.deepStrictEqual(plain(s.ports), [{ name: "http", port: 8080, protocol: "TCP" }])
    const ep = s.endpoints!.find((e) => e.targetRef!.name === pods[0]!.metadata!.name)!
    assert.deepStrictEqual(plain(ep.conditions), { ready: true, serving: true, terminating: false })
    assert.strictEqual(ep.nodeName, pods[0]!.spec!.nodeName)
    assert.strictEqual(ep.targetRef!.uid, pods[0]!.metadata!.uid)
    // the v1 Endpoints object agrees
    const eps = await h.core.readNamespacedEndpoints({ name: "web", namespace: "default" })
    assert.deepStrictEqual(eps.subsets![0]!.addresses!.map((a) => a.ip).sort(), addresses(slices, "ready"))
  })

  it("a watch sees not-ready, terminating and removed endpoints; scaled to zero leaves the empty placeholder; the Service's deletion removes its slices", async () => {
    h = await harness({ scenario: Scenario.cluster().with(Scenario.crashloop.dependencyNotReady({ name: "api", dependency: "postgres" })).build() })
    // the dependency has 0 replicas: its slice is the placeholder
    let pg = await slicesOf(h, "postgres")
    assert.strictEqual(pg.length, 1)
    assert.deepStrictEqual(pg[0]!.endpoints, [])
    assert.isUndefined(pg[0]!.ports)
    const seen: Array<{ type: string; ready: Array<string> }> = []
    const w = await new Watch(h.kc).watch("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", { labelSelector: "kubernetes.io/service-name=postgres" }, (type, obj: V1EndpointSlice) => {
      seen.push({ type, ready: addresses([obj], "ready") })
    }, () => {})
    await new Promise((r) => setTimeout(r, 50))
    h.sim.makeDependencyReady({ service: "postgres" })
    h.sim.advance("1m")
    pg = await slicesOf(h, "postgres")
    const pods = await podsOf(h, "postgres")
    assert.strictEqual(pods.length, 1)
    assert.isTrue(ready(pods[0]!))
    assert.deepStrictEqual(addresses(pg, "ready"), [pods[0]!.status!.podIP!])
    assert.deepStrictEqual(plain(pg[0]!.ports), [{ name: "http", port: 5432, protocol: "TCP" }])
    // delete the pod: while it terminates its endpoint stays, not ready, terminating
    await h.core.deleteNamespacedPod({ name: pods[0]!.metadata!.name!, namespace: "default" })
    await new Promise((r) => setImmediate(r))
    h.sim.settle()
    pg = await slicesOf(h, "postgres")
    const old = pg.flatMap((s) => s.endpoints ?? []).find((e) => e.targetRef!.name === pods[0]!.metadata!.name)!
    assert.deepInclude(old.conditions!, { ready: false, terminating: true })
    h.sim.advance("2m")
    pg = await slicesOf(h, "postgres")
    assert.notInclude(pg.flatMap((s) => s.endpoints ?? []).map((e) => e.targetRef!.name), pods[0]!.metadata!.name)
    await new Promise((r) => setTimeout(r, 100))
    assert.isTrue(seen.some((e) => e.type === "MODIFIED" && e.ready.length === 1), JSON.stringify(seen))
    w.abort()
    await h.core.deleteNamespacedService({ name: "postgres", namespace: "default" })
    await new Promise((r) => setImmediate(r))
    h.sim.settle()
    assert.deepStrictEqual(await slicesOf(h, "postgres"), [])
  })

  it("pods resolving a named targetPort differently get separate slices; more than 100 endpoints split", async () => {
    h = await harness({ scenario: Scenario.cluster().with({ workloads: [{ name: "a", replicas: 1, labels: { svc: "shared" }, port: 8080, service: false }, { name: "b", replicas: 1, labels: { svc: "shared" }, port: 9090, service: false }] }).build() })
    await h.core.createNamespacedService({ namespace: "default", body: { metadata: { name: "shared" }, spec: { selector: { svc: "shared" }, ports: [{ name: "web", port: 80, targetPort: "http" }] } } })
    await new Promise((r) => setImmediate(r))
    h.sim.settle()
    const slices = await slicesOf(h, "shared")
    assert.deepStrictEqual(slices.map((s) => s.ports![0]!.port).sort(), [8080, 9090])
    for (const s of slices) assert.strictEqual(s.ports![0]!.name, "web")
    // an unnamed service port gives name ""
    await h.core.createNamespacedService({ namespace: "default", body: { metadata: { name: "bare" }, spec: { selector: { app: "b" }, ports: [{ port: 81, targetPort: 9090 }] } } })
    await new Promise((r) => setImmediate(r))
    h.sim.settle()
    assert.deepStrictEqual(plain((await slicesOf(h, "bare"))[0]!.ports), [{ name: "", port: 9090, protocol: "TCP" }])
    // 120 pods: two slices of at most 100
    await h.apps.patchNamespacedDeployment({ name: "a", namespace: "default", body: [{ op: "replace", path: "/spec/replicas", value: 120 }] })
    h.sim.advance("2m")
    const big = (await slicesOf(h, "shared")).filter((s) => s.ports![0]!.port === 8080)
    assert.deepStrictEqual(big.map((s) => s.endpoints!.length).sort((x, y) => x - y), [20, 100])
  }, 60_000)

  it.runIf(kubectlAvailable())("kubectl get endpointslices prints ADDRESSTYPE, PORTS and ENDPOINTS", async () => {
    h = await harness({ scenario: Scenario.cluster().with({ workloads: [{ name: "web", replicas: 2, service: true }] }).build() })
    const kubeconfig = join(tmpdir(), `kube-sim-slices-${process.pid}.kubeconfig`)
    h.sim.api.writeKubeconfig(kubeconfig)
    const k = runner(kubeconfig)
    try {
      const out = await k.run(["get", "endpointslices", "-l", "kubernetes.io/service-name=web"])
      assert.strictEqual(out.code, 0, out.stderr)
      const ips = addresses(await slicesOf(h, "web"))
      assert.match(out.stdout, /NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE/)
      assert.match(out.stdout, new RegExp(`web-[a-z0-9]{5}\\s+IPv4\\s+8080\\s+(${ips.join(",")}|${[...ips].reverse().join(",")})`))
      const json = await k.run(["get", "endpointslice", "-o", "json", "-l", "kubernetes.io/service-name=web"])
      assert.strictEqual(JSON.parse(json.stdout).items[0].kind, "EndpointSlice")
    } finally {
      k.cleanup()
      rmSync(kubeconfig, { force: true })
    }
  })
})
