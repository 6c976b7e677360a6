/**
 * Apiserver-side defaulting the controllers and kubectl rely on: probe fields, Service cluster IPs
 * (allocated from the service CIDR, deterministic by seed, kept for life, freed on delete), node
 * ports, and Endpoints that agree with the Service — all through @kubernetes/client-node.
 * The cluster IPs are simulator data: the tests never connect to them.
 */
import { AppsV1Api, CoreV1Api } from "@kubernetes/client-node"
import type { V1Service } from "@kubernetes/client-node"
import { afterAll, afterEach, assert, beforeAll, describe, it } from "@effect/vitest"
import type { KubeSimInstance } from "../../src/index"
import { Scenario } from "../../src/scenario/index"
import { harness, type Harness } from "../controllers/helpers"
import { apiError, podManifest, startSim } from "./helpers"

let sim: KubeSimInstance
let core: CoreV1Api
let apps: AppsV1Api

beforeAll(async () => {
  const s = await startSim()
  sim = s.sim
  core = s.kc.makeApiClient(CoreV1Api)
  apps = s.kc.makeApiClient(AppsV1Api)
})
afterAll(() => sim.close())

const inCidr = (ip: string): boolean => {
  const [a, b] = ip.split(".").map(Number)
  return a === 10 && b! >= 96 && b! <= 111 // 10.96.0.0/12
}

const service = (name: string, spec: Record<string, unknown> = {}): V1Service => ({
  metadata: { name },
  spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 as any }], ...spec }
})

describe("probe defaulting", () => {
  it("fills timeoutSeconds, periodSeconds, successThreshold, failureThreshold and httpGet scheme/path; explicit values stay", async () => {
    const pod = podManifest("probed")
    const c = pod.spec.containers[0]! as Record<string, unknown>
    c["readinessProbe"] = { httpGet: { port: 8080 } }
    c["livenessProbe"] = { tcpSocket: { port: 8080 }, periodSeconds: 5, failureThreshold: 6 }
    c["startupProbe"] = { exec: { command: ["true"] }, timeoutSeconds: 4 }
    const created = await core.createNamespacedPod({ namespace: "default", body: pod as any })
    const got = created.spec!.containers[0]!
    assert.deepStrictEqual(
      { ...got.readinessProbe },
      { httpGet: { port: 8080 as any, path: "/", scheme: "HTTP" }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 }
    )
    assert.deepInclude(got.livenessProbe!, { timeoutSeconds: 1, periodSeconds: 5, successThreshold: 1, failureThreshold: 6 })
    assert.deepInclude(got.startupProbe!, { timeoutSeconds: 4, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 })
    assert.isUndefined(got.readinessProbe!.initialDelaySeconds, "initialDelaySeconds has no default")
    // the same defaults on a read, and in workload templates
    const read = await core.readNamespacedPod({ name: "probed", namespace: "default" })
    assert.strictEqual(read.spec!.containers[0]!.readinessProbe!.periodSeconds, 10)
    const d = await apps.createNamespacedDeployment({
      namespace: "default",
      body: {
        metadata: { name: "probed" },
        spec: {
          selector: { matchLabels: { app: "probed" } },
          template: { metadata: { labels: { app: "probed" } }, spec: { containers: [{ name: "app", image: "registry.local/app:1.0", readinessProbe: { httpGet: { port: 8080 as any, path: "/ready" } } }] } }
        }
      }
    })
    assert.deepInclude(d.spec!.template.spec!.containers[0]!.readinessProbe!, { timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 })
    assert.strictEqual(d.spec!.template.spec!.containers[0]!.readinessProbe!.httpGet!.path, "/ready")
  })
})

describe("Service cluster IPs", () => {
  it("allocates a cluster IP from 10.96.0.0/12 with ClusterIP defaults; distinct per Service; never .0, .1 or broadcast", async () => {
    const ips = new Set<string>()
    for (const n of ["alpha", "beta", "gamma", "delta"]) {
      const s = await core.createNamespacedService({ namespace: "default", body: service(n) })
      const spec = s.spec!
      assert.strictEqual(spec.type, "ClusterIP")
      assert.strictEqual(spec.sessionAffinity, "None")
      assert.isTrue(inCidr(spec.clusterIP!), spec.clusterIP)
      assert.notInclude(["10.96.0.0", "10.96.0.1", "10.111.255.255"], spec.clusterIP)
      assert.deepStrictEqual(spec.clusterIPs, [spec.clusterIP])
      assert.deepStrictEqual(spec.ipFamilies, ["IPv4"])
      assert.strictEqual(spec.ipFamilyPolicy, "SingleStack")
      assert.strictEqual(spec.internalTrafficPolicy, "Cluster")
      assert.strictEqual(spec.ports![0]!.protocol, "TCP")
      assert.isUndefined(spec.ports![0]!.nodePort)
      ips.add(spec.clusterIP!)
    }
    assert.strictEqual(ips.size, 4)
    // a field selector on the allocated address finds the one Service
    const one = [...ips][0]!
    const found = await core.listNamespacedService({ namespace: "default", fieldSelector: `spec.clusterIP=${one}` })
    assert.strictEqual(found.items.length, 1)
    assert.strictEqual(found.items[0]!.spec!.clusterIP, one)
  })

  it("is deterministic by seed and independent of creation order; another seed or CIDR gives other addresses", async () => {
    const allocate = async (seed: number, names: Array<string>, serviceCidr?: string) => {
      const s = await startSim({ seed, ...(serviceCidr ? { serviceCidr } : {}) })
      try {
        const c = s.kc.makeApiClient(CoreV1Api)
        for (const n of names) await c.createNamespacedService({ namespace: "default", body: service(n) })
        const list = await c.listNamespacedService({ namespace: "default" })
        return Object.fromEntries(list.items.map((x) => [x.metadata!.name!, x.spec!.clusterIP!]))
      } finally {
        await s.sim.close()
      }
    }
    const names = ["api", "db", "cache", "web", "queue"]
    const a = await allocate(7, names)
    assert.deepStrictEqual(await allocate(7, [...names].reverse()), a)
    assert.notDeepEqual(await allocate(8, names), a)
    const small = await allocate(7, names, "172.20.0.0/24")
    for (const ip of Object.values(small)) assert.match(ip, /^172\.20\.0\.(\d+)$/)
  })

  it("honours a requested address; rejects one outside the range or already held with the apiserver's 422", async () => {
    const s = await core.createNamespacedService({ namespace: "default", body: service("pinned", { clusterIP: "10.96.0.10" }) })
    assert.strictEqual(s.spec!.clusterIP, "10.96.0.10")
    const taken = await apiError(() => core.createNamespacedService({ namespace: "default", body: service("pinned2", { clusterIP: "10.96.0.10" }) }))
    assert.strictEqual(taken.code, 422)
    assert.strictEqual(taken.body.reason, "Invalid")
    assert.strictEqual(
      taken.body.message,
      'Service "pinned2" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP is already allocated'
    )
    assert.strictEqual(taken.body.details.causes[0].field, "spec.clusterIPs")
    const outside = await apiError(() => core.createNamespacedService({ namespace: "default", body: service("outside", { clusterIP: "192.168.1.1" }) }))
    assert.strictEqual(outside.code, 422)
    assert.include(outside.body.message, "the provided IP (192.168.1.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12")
    const garbage = await apiError(() => core.createNamespacedService({ namespace: "default", body: service("garbage", { clusterIP: "ten" }) }))
    assert.strictEqual(garbage.code, 422)
    // nothing was stored for the rejected ones
    assert.strictEqual((await apiError(() => core.readNamespacedService({ name: "pinned2", namespace: "default" }))).code, 404)
  })

  it("keeps the address across updates that omit it, rejects a change, frees it on delete; a dry run holds nothing", async () => {
    const s = await core.createNamespacedService({ namespace: "default", body: service("keep") })
    const ip = s.spec!.clusterIP!
    // PUT without the address: carried over
    const body = { ...s, spec: { ...s.spec!, clusterIP: undefined, clusterIPs: undefined, ports: [{ port: 81, targetPort: 8081 as any }] } } as V1Service
    const put = await core.replaceNamespacedService({ name: "keep", namespace: "default", body })
    assert.strictEqual(put.spec!.clusterIP, ip)
    assert.deepStrictEqual(put.spec!.clusterIPs, [ip])
    assert.strictEqual(put.spec!.ports![0]!.port, 81)
    const change = await apiError(() =>
      core.replaceNamespacedService({ name: "keep", namespace: "default", body: { ...put, spec: { ...put.spec!, clusterIP: "10.96.0.99", clusterIPs: ["10.96.0.99"] } } })
    )
    assert.strictEqual(change.code, 422)
    assert.strictEqual(change.body.message, 'Service "keep" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.96.0.99"}: may not change once set')
    // a dry run with the address of a live Service is refused; a dry run with a free one holds nothing
    const dry = await core.createNamespacedService({ namespace: "default", body: service("dry", { clusterIP: "10.96.0.77" }), dryRun: "All" })
    assert.strictEqual(dry.spec!.clusterIP, "10.96.0.77")
    const real = await core.createNamespacedService({ namespace: "default", body: service("dry", { clusterIP: "10.96.0.77" }) })
    assert.strictEqual(real.spec!.clusterIP, "10.96.0.77")
    // delete frees the address for another Service
    await core.deleteNamespacedService({ name: "keep", namespace: "default" })
    const reuse = await core.createNamespacedService({ namespace: "default", body: service("reuse", { clusterIP: ip }) })
    assert.strictEqual(reuse.spec!.clusterIP, ip)
  })

  it("headless (clusterIP None) and ExternalName Services; NodePort gets node ports in 30000-32767 that stay", async () => {
    const headless = await core.createNamespacedService({ namespace: "default", body: service("hl", { clusterIP: "None" }) })
    assert.strictEqual(headless.spec!.clusterIP, "None")
    assert.deepStrictEqual(headless.spec!.clusterIPs, ["None"])
    const ext = await core.createNamespacedService({ namespace: "default", body: { metadata: { name: "ext" }, spec: { type: "ExternalName", externalName: "db.example.internal" } } })
    assert.isUndefined(ext.spec!.clusterIP)
    const np = await core.createNamespacedService({
      namespace: "default",
      body: service("np", { type: "NodePort", ports: [{ name: "http", port: 80, targetPort: 8080 }, { name: "admin", port: 9000, nodePort: 31000 }] })
    })
    assert.isTrue(inCidr(np.spec!.clusterIP!))
    assert.strictEqual(np.spec!.externalTrafficPolicy, "Cluster")
    const [p0, p1] = np.spec!.ports!
    assert.isAtLeast(p0!.nodePort!, 30000)
    assert.isAtMost(p0!.nodePort!, 32767)
    assert.strictEqual(p1!.nodePort, 31000)
    const again = await apiError(() => core.createNamespacedService({ namespace: "default", body: service("np2", { type: "NodePort", ports: [{ port: 80, nodePort: 31000 }] }) }))
    assert.strictEqual(again.code, 422)
    assert.strictEqual(again.body.message, 'Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: 31000: provided port is already allocated')
    const low = await apiError(() => core.createNamespacedService({ namespace: "default", body: service("np3", { type: "NodePort", ports: [{ port: 80, nodePort: 80 }] }) }))
    assert.include(low.body.message, "provided port is not in the valid range. The range of valid ports is 30000-32767")
    // a strategic merge patch of the selector keeps address and node ports
    const patched = await core.patchNamespacedService({ name: "np", namespace: "default", body: [{ op: "replace", path: "/spec/selector", value: { app: "np", tier: "web" } }] })
    assert.strictEqual(patched.spec!.clusterIP, np.spec!.clusterIP)
    assert.deepStrictEqual(patched.spec!.ports!.map((p) => p.nodePort), [p0!.nodePort, 31000])
    // the Table kubectl prints shows port:nodePort
    const table = (await (await fetch(`${sim.url}/api/v1/namespaces/default/services/np`, { headers: { accept: "application/json;as=Table;v=v1;g=meta.k8s.io" } })).json()) as any
    assert.deepStrictEqual(table.rows[0].cells.slice(1, 5), ["NodePort", np.spec!.clusterIP, "<none>", `80:${p0!.nodePort}/TCP,9000:31000/TCP`])
  })
})

describe("Endpoints agree with the Service", () => {
  let h: Harness | undefined
  afterEach(async () => {
    await h?.sim.close()
    h = undefined
  })

  it("resolve named target ports per pod, mark headless, follow label changes, and go with the Service", async () => {
    h = await harness({ seed: 3, scenario: Scenario.cluster({ nodes: 1 }).build() })
    const pod = (name: string, port?: number) => ({
      metadata: { name, labels: { app: "web" } },
      spec: {
        hostname: name,
        subdomain: "web",
        containers: [{ name: "app", image: "registry.local/app:1.0", ...(port ? { ports: [{ name: "http", containerPort: port }] } : {}) }]
      }
    })
    await h.core.createNamespacedPod({ namespace: "default", body: pod("web-a", 8080) })
    await h.core.createNamespacedPod({ namespace: "default", body: pod("web-b", 9090) })
    await h.core.createNamespacedPod({ namespace: "default", body: pod("web-c") })
    await h.core.createNamespacedService({
      namespace: "default",
      body: { metadata: { name: "web", labels: { team: "a" } }, spec: { clusterIP: "None", selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http" as any }] } }
    })
    h.sim.advance("1m")
    const pods = await h.core.listNamespacedPod({ namespace: "default" })
    const ipOf = Object.fromEntries(pods.items.map((p) => [p.metadata!.name!, p.status!.podIP!]))
    assert.isString(ipOf["web-a"])
    const ep = await h.core.readNamespacedEndpoints({ name: "web", namespace: "default" })
    assert.deepStrictEqual(ep.metadata!.labels, { team: "a", "service.kubernetes.io/headless": "" })
    // web-a serves "http" on 8080, web-b on 9090: two subsets; web-c has no such port and is left out
    const subsets = ep.subsets!.map((s) => ({ ips: (s.addresses ?? []).map((a) => [a.ip, a.hostname]), ports: s.ports!.map((p) => [p.name, p.port]) }))
    assert.sameDeepMembers(subsets, [
      { ips: [[ipOf["web-a"], "web-a"]], ports: [["http", 8080]] },
      { ips: [[ipOf["web-b"], "web-b"]], ports: [["http", 9090]] }
    ])
    // the Service's labels follow onto the Endpoints
    await h.core.patchNamespacedService({ name: "web", namespace: "default", body: [{ op: "replace", path: "/metadata/labels", value: { team: "b" } }] })
    h.sim.settle()
    const ep2 = await h.core.readNamespacedEndpoints({ name: "web", namespace: "default" })
    assert.deepStrictEqual(ep2.metadata!.labels, { team: "b", "service.kubernetes.io/headless": "" })
    // deleting the Service deletes its Endpoints
    await h.core.deleteNamespacedService({ name: "web", namespace: "default" })
    h.sim.settle()
    assert.strictEqual((await apiError(() => h!.core.readNamespacedEndpoints({ name: "web", namespace: "default" }))).code, 404)
  })
})
