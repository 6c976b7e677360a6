/**
 * kubectl cross-check against the in-process server (no controllers): Tables, watch, every patch
 * type, apply, scale, label/annotate/wait, cordon, logs, and a drain that retries on a PDB's 429.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { KubeSim, Keys } from "../../src/index"
import type { KubeObject, KubeSimInstance } from "../../src/index"
import { kubectlAvailable, runner } from "./kubectl"

const d = kubectlAvailable() ? describe : describe.skip

const owner = (rs: KubeObject) => [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: rs.metadata.name, uid: rs.metadata.uid!, controller: true, blockOwnerDeletion: true }]

const readyStatus = { phase: "Running", conditions: [{ type: "Ready", status: "True" }], containerStatuses: [{ name: "app", ready: true, restartCount: 0, image: "a:1", imageID: "", state: { running: { startedAt: "2026-11-28T08:00:00Z" } } }] }

const seedPods = (sim: KubeSimInstance, rs: KubeObject, names: ReadonlyArray<string>, node: string) => {
  for (const name of names) {
    sim.store.create(Keys.pods, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: "default", labels: { app: "web" }, ownerReferences: owner(rs) },
      spec: { nodeName: node, containers: [{ name: "app", image: "a:1" }] }
    })
    sim.store.mutate(Keys.pods, "default", name, (p) => {
      p["status"] = readyStatus
    })
  }
}

d("kubectl cross-check (in-process server)", () => {
  let sim: KubeSimInstance
  let dir: string
  let k: ReturnType<typeof runner>
  let rs: KubeObject

  beforeAll(async () => {
    sim = await KubeSim.start({ seed: 3 })
    dir = mkdtempSync(join(tmpdir(), "kube-sim-kubectl-"))
    const kubeconfig = join(dir, "config")
    sim.writeKubeconfig(kubeconfig)
    k = runner(kubeconfig)
    for (const n of ["node-1", "node-2"]) {
      sim.store.create(Keys.nodes, {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: n, labels: { "kubernetes.io/hostname": n } },
        status: { conditions: [{ type: "Ready", status: "True" }], nodeInfo: { kubeletVersion: "v1.32.0" } }
      })
    }
    sim.store.create(Keys.deployments, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "default" },
      spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "a:1" }] } } }
    })
    rs = sim.store.create(Keys.replicasets, {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: { name: "web-abc", namespace: "default", labels: { app: "web" } },
      spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "a:1" }] } } }
    })
    seedPods(sim, rs, ["web-1", "web-2"], "node-1")
  })
  afterAll(async () => {
    k?.cleanup()
    rmSync(dir, { recursive: true, force: true })
    await sim?.close()
  })

  it("get: Table columns, -o json, -o wide", async () => {
    const r = await k.run(["get", "pods"])
    assert.strictEqual(r.code, 0, r.stderr)
    const lines = r.stdout.trim().split("\n")
    assert.match(lines[0]!, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/)
    assert.match(lines[1]!, /^web-1\s+1\/1\s+Running\s+0\s+/)
    const wide = await k.run(["get", "pods", "-o", "wide"])
    assert.match(wide.stdout.split("\n")[1]!, /node-1/)
    const json = await k.run(["get", "deployment", "web", "-o", "json"])
    assert.strictEqual(JSON.parse(json.stdout).spec.replicas, 2)
    const ns = await k.run(["get", "namespace", "default"])
    assert.match(ns.stdout.split("\n")[1]!, /^default\s+Active\s+/)
    sim.store.create(Keys.horizontalpodautoscalers, {
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: { name: "web", namespace: "default" },
      spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, minReplicas: 2, maxReplicas: 6, metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }] },
      status: { currentReplicas: 2, desiredReplicas: 2, currentMetrics: [{ type: "Resource", resource: { name: "cpu", current: { averageUtilization: 85 } } }] }
    })
    const hpa = await k.run(["get", "hpa"])
    assert.strictEqual(hpa.code, 0, hpa.stderr)
    assert.match(hpa.stdout.split("\n")[1]!, /^web\s+Deployment\/web\s+cpu: 85%\/70%\s+2\s+6\s+2\s+/)
    const missing = await k.run(["get", "pod", "nope"])
    assert.notStrictEqual(missing.code, 0)
    assert.include(missing.stderr, 'pods "nope" not found')
  })

  it("get -w streams Table rows for watch events", async () => {
    const watching = k.run(["get", "pods", "-w"], 30_000)
    const start = Date.now()
    while (sim.openWatches === 0) {
      if (Date.now() - start > 20_000) throw new Error("kubectl never watched")
      await new Promise((r) => setTimeout(r, 20))
    }
    // the store write reaches the open stream synchronously; ending the stream afterwards lets
    // kubectl print the row and exit without waiting for a request timeout
    sim.store.create(Keys.pods, { apiVersion: "v1", kind: "Pod", metadata: { name: "watched", namespace: "default" }, spec: { containers: [{ name: "app", image: "a:1" }] } })
    assert.strictEqual(sim.faults.dropWatches(), 1)
    const r = await watching
    assert.match(r.stdout, /^watched\s+0\/1\s+Pending\s+0\s+\d+s$/m)
    sim.store.delete(Keys.pods, "default", "watched")
  })

  it("patch: strategic merge by default, merge and json types, a failing json test", async () => {
    sim.recorder.clear()
    const r = await k.run(["patch", "deployment", "web", "-p", JSON.stringify({ spec: { template: { spec: { containers: [{ name: "app", image: "a:2" }] } } } })])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, "deployment.apps/web patched")
    assert.strictEqual(sim.recorder.requests({ method: "PATCH" })[0]!.contentType, "application/strategic-merge-patch+json")
    const dep = sim.store.get(Keys.deployments, "default", "web")!
    assert.strictEqual((dep["spec"] as any).template.spec.containers[0].image, "a:2")
    const m = await k.run(["patch", "deployment", "web", "--type", "merge", "-p", '{"metadata":{"labels":{"team":"sre"}}}'])
    assert.strictEqual(m.code, 0, m.stderr)
    const j = await k.run(["patch", "deployment", "web", "--type", "json", "-p", '[{"op":"test","path":"/spec/replicas","value":9}]'])
    assert.notStrictEqual(j.code, 0)
    assert.include(j.stderr, "testing value /spec/replicas failed")
    const noop = await k.run(["patch", "deployment", "web", "--type", "merge", "-p", '{"metadata":{"labels":{"team":"sre"}}}'])
    assert.include(noop.stdout, "(no change)")
  })

  it("apply --validate=false (client-side) and --server-side", async () => {
    const file = join(dir, "cm.yaml")
    writeFileSync(file, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: '1'\n")
    const r = await k.run(["apply", "--validate=false", "-f", file])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, "configmap/settings created")
    writeFileSync(file, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: '2'\n")
    const s = await k.run(["apply", "--server-side", "--validate=false", "-f", file])
    assert.strictEqual(s.code, 0, s.stderr)
    assert.strictEqual((sim.store.get(Keys.configmaps, "default", "settings")!["data"] as any).a, "2")
  })

  it("scale uses the scale subresource", async () => {
    sim.recorder.clear()
    const r = await k.run(["scale", "deployment", "web", "--replicas=3"])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual((sim.store.get(Keys.deployments, "default", "web")!["spec"] as any).replicas, 3)
    assert.isAtLeast(sim.recorder.count({ pathPrefix: "/apis/apps/v1/namespaces/default/deployments/web/scale" }), 1)
    await k.run(["scale", "deployment", "web", "--replicas=2"])
  })

  it("label, annotate, wait, rollout restart, get events, delete", async () => {
    assert.strictEqual((await k.run(["label", "pod", "web-1", "tier=frontend"])).code, 0)
    assert.strictEqual(sim.store.get(Keys.pods, "default", "web-1")!.metadata.labels!["tier"], "frontend")
    assert.strictEqual((await k.run(["annotate", "deployment", "web", "byteport.io/owner=sre"])).code, 0)
    assert.strictEqual(sim.store.get(Keys.deployments, "default", "web")!.metadata.annotations!["byteport.io/owner"], "sre")
    const wait = await k.run(["wait", "--for=condition=Ready", "pod/web-1", "--timeout=10s"])
    assert.strictEqual(wait.code, 0, wait.stderr)
    assert.include(wait.stdout, "pod/web-1 condition met")
    sim.recorder.clear()
    const restart = await k.run(["rollout", "restart", "deployment/web"])
    assert.strictEqual(restart.code, 0, restart.stderr)
    const tpl = (sim.store.get(Keys.deployments, "default", "web")!["spec"] as any).template
    assert.isString(tpl.metadata.annotations["kubectl.kubernetes.io/restartedAt"])
    assert.strictEqual(sim.recorder.requests({ method: "PATCH" })[0]!.contentType, "application/strategic-merge-patch+json")
    sim.store.create(Keys.events, {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: "web-1.oom", namespace: "default" },
      involvedObject: { kind: "Pod", namespace: "default", name: "web-1" },
      reason: "OOMKilling",
      message: "Memory cgroup out of memory",
      type: "Warning",
      lastTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, "Z")
    })
    const ev = await k.run(["get", "events", "--field-selector", "reason=OOMKilling"])
    assert.strictEqual(ev.code, 0, ev.stderr)
    assert.match(ev.stdout, /Warning\s+OOMKilling\s+pod\/web-1\s+Memory cgroup out of memory/)
    sim.store.create(Keys.configmaps, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "doomed", namespace: "default" } })
    const del = await k.run(["delete", "configmap", "doomed"])
    assert.strictEqual(del.code, 0, del.stderr)
    assert.include(del.stdout, 'configmap "doomed" deleted')
    assert.isUndefined(sim.store.get(Keys.configmaps, "default", "doomed"))
  })

  it("cordon and uncordon", async () => {
    const r = await k.run(["cordon", "node-2"])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, "node/node-2 cordoned")
    const g = await k.run(["get", "node", "node-2"])
    assert.include(g.stdout, "Ready,SchedulingDisabled")
    await k.run(["uncordon", "node-2"])
    assert.isUndefined((sim.store.get(Keys.nodes, undefined, "node-2")!["spec"] as any).unschedulable)
  })

  it("logs, --previous and the real error for a missing previous container", async () => {
    sim.logs.append("default", "web-1", "app", "booting")
    sim.logs.rotate("default", "web-1", "app")
    sim.logs.append("default", "web-1", "app", "serving")
    const r = await k.run(["logs", "web-1"])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(r.stdout, "serving\n")
    assert.strictEqual((await k.run(["logs", "web-1", "--previous"])).stdout, "booting\n")
    const bad = await k.run(["logs", "web-2", "--previous"])
    assert.notStrictEqual(bad.code, 0)
    assert.include(bad.stderr, 'previous terminated container "app" in pod "web-2" not found')
  })

  it("describe shows the defaulted probe fields and the Service's allocated cluster IP", async () => {
    sim.store.create(Keys.pods, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "probed", namespace: "default", labels: { app: "probed" } },
      spec: { containers: [{ name: "app", image: "a:1", ports: [{ name: "http", containerPort: 8080 }], readinessProbe: { httpGet: { port: 8080, path: "/ready" } }, livenessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 5 } }] }
    })
    const svc = sim.store.create(Keys.services, { apiVersion: "v1", kind: "Service", metadata: { name: "probed", namespace: "default" }, spec: { selector: { app: "probed" }, ports: [{ port: 80, targetPort: "http" }] } })
    const ip = (svc["spec"] as { clusterIP: string }).clusterIP
    try {
      const pod = await k.run(["describe", "pod", "probed"])
      assert.strictEqual(pod.code, 0, pod.stderr)
      assert.match(pod.stdout, /Readiness:\s+http-get http:\/\/:8080\/ready delay=0s timeout=1s period=10s #success=1 #failure=3/)
      assert.match(pod.stdout, /Liveness:\s+tcp-socket :8080 delay=0s timeout=1s period=5s #success=1 #failure=3/)
      const described = await k.run(["describe", "service", "probed"])
      assert.strictEqual(described.code, 0, described.stderr)
      assert.match(described.stdout, new RegExp(`^IP:\\s+${ip.replaceAll(".", "\\.")}$`, "m"))
      assert.match(described.stdout, /^Type:\s+ClusterIP$/m)
      const row = (await k.run(["get", "service", "probed", "--no-headers"])).stdout.trim().split(/\s+/)
      assert.deepStrictEqual(row.slice(0, 5), ["probed", "ClusterIP", ip, "<none>", "80/TCP"])
    } finally {
      sim.store.delete(Keys.pods, "default", "probed")
      sim.store.delete(Keys.services, "default", "probed")
    }
  })

  it("drain retries on the PDB's 429 and succeeds once other pods become ready", async () => {
    sim.store.create(Keys.poddisruptionbudgets, {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name: "web-pdb", namespace: "default" },
      spec: { minAvailable: 2, selector: { matchLabels: { app: "web" } } }
    })
    sim.recorder.clear()
    const drain = k.run(["drain", "node-1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s"], 90_000)
    const start = Date.now()
    while (sim.recorder.count({ pathPrefix: "/api/v1/namespaces/default/pods/", status: 429 }) === 0) {
      if (Date.now() - start > 20_000) throw new Error("drain never hit the PDB")
      await new Promise((r) => setTimeout(r, 50))
    }
    assert.isTrue((sim.store.get(Keys.nodes, undefined, "node-1")!["spec"] as any).unschedulable)
    // replacements become ready elsewhere: now the budget allows the evictions
    seedPods(sim, rs, ["web-3", "web-4"], "node-2")
    const r = await drain
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, "node/node-1 drained")
    assert.include(r.stderr + r.stdout, "Cannot evict pod as it would violate the pod's disruption budget")
    assert.deepStrictEqual(sim.store.list(Keys.pods, { fieldSelector: "spec.nodeName=node-1" }), [])
    assert.isAtLeast(sim.recorder.count({ method: "POST", pathPrefix: "/api/v1/namespaces/default/pods/", status: 201 }), 2)
  }, 120_000)
})
