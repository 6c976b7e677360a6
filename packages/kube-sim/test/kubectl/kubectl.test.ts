import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { KubeSim, Keys } from "../../src/index"
import type { Installer, KubeObject, KubeSimInstance } from "../../src/index"
import { kubectlAvailable, runner } from "./kubectl"

const enabled = kubectlAvailable()
const d = enabled ? describe : describe.skip

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

interface ControllersModule {
  installer: (o: { clock?: unknown; onReady?: (c: { runRealtime(speed?: number, tickMs?: number): () => void }) => void }) => Installer
}
interface ClockModule {
  VirtualClock: new (start?: number) => { now(): number }
}
const loadControllers = async (): Promise<{ controllers: ControllersModule; clock: ClockModule } | undefined> => {
  try {
    const cPath = "../../src/controllers/Controllers"
    const kPath = "../../src/clock/VirtualClock"
    const controllers = (await import(/* @vite-ignore */ cPath)) as ControllersModule
    const clock = (await import(/* @vite-ignore */ kPath)) as ClockModule
    return typeof controllers.installer === "function" && typeof clock.VirtualClock === "function" ? { controllers, clock } : undefined
  } catch {
    return undefined
  }
}
const ctl = enabled ? await loadControllers() : undefined
if (enabled && !ctl) console.warn("kube-sim kubectl rollout tests skipped: the controllers module (src/controllers/Controllers) is not available")
const dr = enabled && ctl ? describe : describe.skip

dr("kubectl rollout (needs the controllers)", () => {
  let sim: KubeSimInstance
  let dir: string
  let k: ReturnType<typeof runner>
  let stopRealtime: (() => void) | undefined
  beforeAll(async () => {
    const clock = new ctl!.clock.VirtualClock(Date.now())
    sim = await KubeSim.start({
      seed: 5,
      now: () => clock.now(),
      install: [ctl!.controllers.installer({ clock, onReady: (c) => (stopRealtime = c.runRealtime(20, 50)) })]
    })
    dir = mkdtempSync(join(tmpdir(), "kube-sim-kubectl-"))
    sim.writeKubeconfig(join(dir, "config"))
    k = runner(join(dir, "config"))
    sim.store.create(Keys.nodes, {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "node-1", labels: { "kubernetes.io/hostname": "node-1" } },
      status: { conditions: [{ type: "Ready", status: "True" }], allocatable: { cpu: "8", memory: "32Gi", pods: "110" }, capacity: { cpu: "8", memory: "32Gi", pods: "110" } }
    })
  })
  afterAll(async () => {
    stopRealtime?.()
    k?.cleanup()
    rmSync(dir, { recursive: true, force: true })
    await sim?.close()
  })
  it("rollout status waits for the deployment; undo returns to the previous template", async () => {
    const file = join(dir, "web.yaml")
    writeFileSync(file, JSON.stringify({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "default" },
      spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "a:1" }] } } }
    }))
    assert.strictEqual((await k.run(["apply", "--validate=false", "-f", file])).code, 0)
    const st = await k.run(["rollout", "status", "deployment/web", "--timeout=60s"], 90_000)
    assert.strictEqual(st.code, 0, st.stderr)
    assert.include(st.stdout, 'deployment "web" successfully rolled out')
    assert.strictEqual((await k.run(["set", "image", "deployment/web", "app=a:2"])).code, 0)
    assert.strictEqual((await k.run(["rollout", "status", "deployment/web", "--timeout=60s"], 90_000)).code, 0)
    const hist = await k.run(["rollout", "history", "deployment/web"])
    assert.match(hist.stdout, /^1\s/m)
    assert.match(hist.stdout, /^2\s/m)
    const undo = await k.run(["rollout", "undo", "deployment/web"])
    assert.strictEqual(undo.code, 0, undo.stderr)
    assert.include(undo.stdout, "deployment.apps/web rolled back")
    assert.strictEqual((await k.run(["rollout", "status", "deployment/web", "--timeout=60s"], 90_000)).code, 0)
    const after = await k.run(["rollout", "history", "deployment/web"])
    assert.match(after.stdout, /^3\s/m)
    assert.strictEqual((sim.store.get(Keys.deployments, "default", "web")!["spec"] as any).template.spec.containers[0].image, "a:1")
  }, 120_000)
  it("drain with controllers: evictions meet the PDB until replacements become ready elsewhere", async () => {
    sim.store.create(Keys.nodes, {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "node-2", labels: { "kubernetes.io/hostname": "node-2" } },
      spec: { unschedulable: true },
      status: { conditions: [{ type: "Ready", status: "True" }], allocatable: { cpu: "8", memory: "32Gi", pods: "110" }, capacity: { cpu: "8", memory: "32Gi", pods: "110" } }
    })
    const file = join(dir, "api.yaml")
    writeFileSync(file, JSON.stringify({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "api", namespace: "default" },
      spec: { replicas: 3, selector: { matchLabels: { app: "api" } }, template: { metadata: { labels: { app: "api" } }, spec: { terminationGracePeriodSeconds: 5, containers: [{ name: "app", image: "a:1" }] } } }
    }))
    assert.strictEqual((await k.run(["apply", "--validate=false", "-f", file])).code, 0)
    assert.strictEqual((await k.run(["rollout", "status", "deployment/api", "--timeout=60s"], 90_000)).code, 0)
    const onNode1 = sim.store.list(Keys.pods, { labelSelector: "app=api", fieldSelector: "spec.nodeName=node-1" })
    assert.strictEqual(onNode1.length, 3)
    sim.store.create(Keys.poddisruptionbudgets, {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name: "api-pdb", namespace: "default" },
      spec: { minAvailable: 2, selector: { matchLabels: { app: "api" } } }
    })
    assert.strictEqual((await k.run(["uncordon", "node-2"])).code, 0)
    sim.recorder.clear()
    const r = await k.run(["drain", "node-1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=100s"], 120_000)
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, "node/node-1 drained")
    // evictions were refused while replacements were not ready yet
    assert.isAtLeast(sim.recorder.count({ method: "POST", pathPrefix: "/api/v1/namespaces/default/pods/api-", status: 429 }), 1)
    const evictions = sim.recorder.requests({ method: "POST", pathPrefix: "/api/v1/namespaces/default/pods/" }).map((q) => `${q.path.split("/")[6]}:${q.status}`)
    assert.strictEqual(sim.recorder.count({ method: "POST", pathPrefix: "/api/v1/namespaces/default/pods/api-", status: 201 }), 3, evictions.join(" "))
    const api = sim.store.list(Keys.pods, { labelSelector: "app=api" }).filter((p) => !p.metadata.deletionTimestamp)
    assert.isTrue(api.every((p) => (p["spec"] as any).nodeName === "node-2"))
  }, 150_000)
})

d("kubectl over TLS with a bearer token", () => {
  it("sends the token over https; a wrong token is Unauthorized", async () => {
    const sim = await KubeSim.start({ tls: true, token: "s3cret" })
    const dir = mkdtempSync(join(tmpdir(), "kube-sim-tls-"))
    try {
      sim.writeKubeconfig(join(dir, "good"))
      sim.writeKubeconfig(join(dir, "bad"), { token: "wrong" })
      const good = runner(join(dir, "good"))
      const bad = runner(join(dir, "bad"))
      try {
        const ok = await good.run(["get", "namespaces", "-o", "name"])
        assert.strictEqual(ok.code, 0, ok.stderr)
        assert.include(ok.stdout, "namespace/default")
        const denied = await bad.run(["get", "namespaces"])
        assert.notStrictEqual(denied.code, 0)
        assert.include(denied.stderr, "error: You must be logged in to the server")
        assert.isAtLeast(sim.recorder.count({ status: 401 }), 1)
      } finally {
        good.cleanup()
        bad.cleanup()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
      await sim.close()
    }
  })
})

const serveCli = async (args: ReadonlyArray<string>): Promise<{ child: ReturnType<typeof spawn>; url: string }> => {
  const cli = resolve(import.meta.dirname, "../../src/cli.ts")
  const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", cli, "serve", ...args], { stdio: ["ignore", "pipe", "pipe"] })
  const ready = await new Promise<{ url: string }>((res, rej) => {
    let out = ""
    let err = ""
    const t = setTimeout(() => rej(new Error(`CLI not ready: ${out} ${err}`)), 30_000)
    child.stderr!.on("data", (c: Buffer) => (err += c.toString()))
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString()
      const m = /kube-sim ready (\{.*\})/.exec(out)
      if (m) {
        clearTimeout(t)
        res(JSON.parse(m[1]!))
      }
    })
    child.on("exit", (code) => rej(new Error(`CLI exited ${code}: ${out} ${err}`)))
  })
  return { child, url: ready.url }
}

const stopCli = async (child: ReturnType<typeof spawn>): Promise<number | null> => {
  if (child.exitCode !== null) return child.exitCode
  const exit = new Promise<number | null>((res) => child.on("exit", (code) => res(code)))
  child.kill("SIGTERM")
  return exit
}

const scenarioAvailable = enabled && ctl !== undefined
const ds = scenarioAvailable ? describe : describe.skip

ds("kube-sim serve --scenario (CLI with controllers) and kubectl", () => {
  it("serves the scenario's cluster; pods become ready in real time", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kube-sim-cli-"))
    const file = join(dir, "scenario.yaml")
    writeFileSync(file, ["name: cli", "nodes: 2", "workloads:", "  - name: web", "    replicas: 2", "    image: registry.local/web:1.0", ""].join("\n"))
    const kubeconfig = join(dir, "config")
    const { child } = await serveCli(["--scenario", file, "--speed", "20", "--kubeconfig", kubeconfig])
    const k = runner(kubeconfig)
    try {
      const nodes = await k.run(["get", "nodes", "-o", "name"])
      assert.strictEqual(nodes.code, 0, nodes.stderr)
      assert.strictEqual(nodes.stdout.trim().split("\n").length, 2)
      const st = await k.run(["rollout", "status", "deployment/web", "--timeout=60s"], 90_000)
      assert.strictEqual(st.code, 0, st.stderr)
      const pods = await k.run(["get", "pods", "-l", "app=web"])
      assert.strictEqual(pods.stdout.trim().split("\n").filter((l) => /\s1\/1\s+Running\s/.test(l)).length, 2, pods.stdout)
      assert.strictEqual(await stopCli(child), 0)
    } finally {
      k.cleanup()
      await stopCli(child)
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)

  it("reports a bad scenario file with exit code 2", async () => {
    const cli = resolve(import.meta.dirname, "../../src/cli.ts")
    const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", cli, "serve", "--scenario", "/nonexistent/scenario.yaml"], { stdio: ["ignore", "pipe", "pipe"] })
    let err = ""
    child.stderr.on("data", (c: Buffer) => (err += c.toString()))
    const code = await new Promise<number | null>((res) => child.on("exit", (c) => res(c)))
    assert.strictEqual(code, 2)
    assert.include(err, "cannot load scenario /nonexistent/scenario.yaml")
  }, 60_000)
})

d("kube-sim serve (CLI) with kubectl", () => {
  it("serves until SIGTERM and writes a working kubeconfig", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kube-sim-cli-"))
    const kubeconfig = join(dir, "config")
    const cli = resolve(import.meta.dirname, "../../src/cli.ts")
    const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", cli, "serve", "--port", "0", "--kubeconfig", kubeconfig, "--tls", "--token", "cli-token"], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    try {
      const ready = await new Promise<{ url: string; port: number }>((res, rej) => {
        let out = ""
        const t = setTimeout(() => rej(new Error(`CLI not ready: ${out}`)), 30_000)
        child.stdout.on("data", (c: Buffer) => {
          out += c.toString()
          const m = /kube-sim ready (\{.*\})/.exec(out)
          if (m) {
            clearTimeout(t)
            res(JSON.parse(m[1]!))
          }
        })
        child.on("exit", (code) => rej(new Error(`CLI exited ${code}: ${out}`)))
      })
      assert.match(ready.url, /^https:\/\/127\.0\.0\.1:\d+$/)
      const k = runner(kubeconfig)
      try {
        const r = await k.run(["get", "namespaces", "-o", "name"])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.include(r.stdout.split("\n"), "namespace/default")
        const c = await k.run(["create", "configmap", "from-cli", "--from-literal=a=1"])
        // typed generators send protobuf: the server answers 415 like the contract says
        assert.notStrictEqual(c.code, 0)
        assert.include(c.stderr, "the body of the request was in an unknown format")
      } finally {
        k.cleanup()
      }
      const exit = new Promise<number | null>((res) => child.on("exit", (code) => res(code)))
      child.kill("SIGTERM")
      assert.strictEqual(await exit, 0)
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL")
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
