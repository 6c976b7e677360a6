import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { NetworkingV1Api, PatchStrategy, setHeaderOptions, Watch } from "@kubernetes/client-node"
import type { V1Ingress } from "@kubernetes/client-node"
import type { KubeSimInstance } from "../../src/index"
import { apiError, startSim } from "../api/helpers"
import { kubectlAvailable, runner } from "../kubectl/kubectl"

let sim: KubeSimInstance | undefined
afterEach(async () => {
  await sim?.close()
  sim = undefined
})

const ingress = (name: string, extra: Record<string, unknown> = {}): V1Ingress => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "Ingress",
  metadata: { name },
  spec: {
    tls: [{ hosts: ["shop.example.com"], secretName: "shop-tls" }],
    rules: [{ host: "shop.example.com", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "web", port: { number: 80 } } } }] } }],
    ...extra
  } as never
})

describe("Ingress (networking.k8s.io/v1)", () => {
  it("create/list/watch; the default IngressClass is admitted; status only through the status subresource", async () => {
    const s = await startSim()
    sim = s.sim
    const net = s.kc.makeApiClient(NetworkingV1Api)
    await net.createIngressClass({ body: { metadata: { name: "nginx", annotations: { "ingressclass.kubernetes.io/is-default-class": "true" } }, spec: { controller: "k8s.io/ingress-nginx" } } })
    const seen: Array<string> = []
    const w = await new Watch(s.kc).watch("/apis/networking.k8s.io/v1/namespaces/default/ingresses", {}, (type, obj: V1Ingress) => seen.push(`${type} ${obj.metadata!.name} ${obj.status?.loadBalancer?.ingress?.[0]?.ip ?? "-"}`), () => {})
    await new Promise((r) => setTimeout(r, 50))
    const created = await net.createNamespacedIngress({ namespace: "default", body: { ...ingress("shop"), status: { loadBalancer: { ingress: [{ ip: "1.2.3.4" }] } } } })
    assert.strictEqual(created.spec!.ingressClassName, "nginx")
    assert.isUndefined(created.status?.loadBalancer?.ingress)
    await net.patchNamespacedIngressStatus({ name: "shop", namespace: "default", body: { status: { loadBalancer: { ingress: [{ ip: "10.0.0.10" }] } } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch))
    const read = await net.readNamespacedIngress({ name: "shop", namespace: "default" })
    assert.strictEqual(read.status!.loadBalancer!.ingress![0]!.ip, "10.0.0.10")
    assert.strictEqual(read.spec!.tls![0]!.secretName, "shop-tls")
    // an explicit class is kept
    const other = await net.createNamespacedIngress({ namespace: "default", body: ingress("internal", { ingressClassName: "traefik" }) })
    assert.strictEqual(other.spec!.ingressClassName, "traefik")
    assert.deepStrictEqual((await net.listNamespacedIngress({ namespace: "default" })).items.map((i) => i.metadata!.name), ["internal", "shop"])
    await new Promise((r) => setTimeout(r, 100))
    w.abort()
    assert.deepStrictEqual(seen, ["ADDED shop -", "MODIFIED shop 10.0.0.10", "ADDED internal -"])
  })

  it("validation: pathType, absolute paths and backends as the apiserver words them", async () => {
    const s = await startSim()
    sim = s.sim
    const net = s.kc.makeApiClient(NetworkingV1Api)
    const noType = ingress("a", { rules: [{ host: "a.example.com", http: { paths: [{ path: "/", backend: { service: { name: "web", port: { number: 80 } } } }] } }] })
    let e = await apiError(() => net.createNamespacedIngress({ namespace: "default", body: noType }))
    assert.strictEqual(e.code, 422)
    assert.strictEqual(e.body.message, 'Ingress.networking.k8s.io "a" is invalid: spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified')
    const relative = ingress("b", { rules: [{ http: { paths: [{ path: "api", pathType: "Prefix", backend: { service: { name: "web", port: { number: 80 } } } }] } }] })
    e = await apiError(() => net.createNamespacedIngress({ namespace: "default", body: relative }))
    assert.include(e.body.message, 'spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path')
    const noPort = ingress("c", { rules: [{ http: { paths: [{ path: "/", pathType: "Exact", backend: { service: { name: "web", port: {} } } }] } }] })
    e = await apiError(() => net.createNamespacedIngress({ namespace: "default", body: noPort }))
    assert.include(e.body.message, "spec.rules[0].http.paths[0].backend.service.port: Invalid value: \"\": port name or number is required")
    const empty = { apiVersion: "networking.k8s.io/v1", kind: "Ingress", metadata: { name: "d" }, spec: {} }
    e = await apiError(() => net.createNamespacedIngress({ namespace: "default", body: empty }))
    assert.include(e.body.message, "either `defaultBackend` or `rules` must be specified")
  })

  it.runIf(kubectlAvailable())("kubectl get ingress prints CLASS, HOSTS, ADDRESS and PORTS", async () => {
    const s = await startSim()
    sim = s.sim
    const net = s.kc.makeApiClient(NetworkingV1Api)
    await net.createNamespacedIngress({ namespace: "default", body: ingress("shop", { ingressClassName: "nginx" }) })
    await net.patchNamespacedIngressStatus({ name: "shop", namespace: "default", body: { status: { loadBalancer: { ingress: [{ ip: "10.0.0.10" }] } } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch))
    const kubeconfig = join(tmpdir(), `kube-sim-ing-${process.pid}.kubeconfig`)
    sim.writeKubeconfig(kubeconfig)
    const k = runner(kubeconfig)
    try {
      const r = await k.run(["get", "ing"])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.match(r.stdout, /NAME\s+CLASS\s+HOSTS\s+ADDRESS\s+PORTS\s+AGE/)
      assert.match(r.stdout, /shop\s+nginx\s+shop\.example\.com\s+10\.0\.0\.10\s+80, 443\s+\d+s/)
    } finally {
      k.cleanup()
      rmSync(kubeconfig, { force: true })
    }
  })
})
