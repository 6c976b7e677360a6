/**
 * kubectl against the controllers in real time (rollout status/undo, a drain that meets the PDB
 * until replacements are ready). A file of its own so it runs beside the other kubectl files:
 * kubectl's fixed 5 s eviction retry dominates its time.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { VirtualClock } from "../../src/clock/VirtualClock"
import { installer } from "../../src/controllers/Controllers"
import { KubeSim, Keys } from "../../src/index"
import type { KubeSimInstance } from "../../src/index"
import { kubectlAvailable, runner } from "./kubectl"

const dr = kubectlAvailable() ? describe : describe.skip

dr("kubectl rollout (needs the controllers)", () => {
  let sim: KubeSimInstance
  let dir: string
  let k: ReturnType<typeof runner>
  let stopRealtime: (() => void) | undefined
  beforeAll(async () => {
    const clock = new VirtualClock(Date.now())
    sim = await KubeSim.start({
      seed: 5,
      now: () => clock.now(),
      install: [installer({ clock, onReady: (c) => (stopRealtime = c.runRealtime(20, 50)) })]
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
      spec: { replicas: 2, selector: { matchLabels: { app: "api" } }, template: { metadata: { labels: { app: "api" } }, spec: { terminationGracePeriodSeconds: 5, containers: [{ name: "app", image: "a:1" }] } } }
    }))
    assert.strictEqual((await k.run(["apply", "--validate=false", "-f", file])).code, 0)
    assert.strictEqual((await k.run(["rollout", "status", "deployment/api", "--timeout=60s"], 90_000)).code, 0)
    const onNode1 = sim.store.list(Keys.pods, { labelSelector: "app=api", fieldSelector: "spec.nodeName=node-1" })
    assert.strictEqual(onNode1.length, 2)
    sim.store.create(Keys.poddisruptionbudgets, {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name: "api-pdb", namespace: "default" },
      spec: { minAvailable: 1, selector: { matchLabels: { app: "api" } } }
    })
    assert.strictEqual((await k.run(["uncordon", "node-2"])).code, 0)
    sim.recorder.clear()
    const r = await k.run(["drain", "node-1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=100s"], 120_000)
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, "node/node-1 drained")
    // evictions were refused while replacements were not ready yet
    assert.isAtLeast(sim.recorder.count({ method: "POST", pathPrefix: "/api/v1/namespaces/default/pods/api-", status: 429 }), 1)
    const evictions = sim.recorder.requests({ method: "POST", pathPrefix: "/api/v1/namespaces/default/pods/" }).map((q) => `${q.path.split("/")[6]}:${q.status}`)
    assert.strictEqual(sim.recorder.count({ method: "POST", pathPrefix: "/api/v1/namespaces/default/pods/api-", status: 201 }), 2, evictions.join(" "))
    const api = sim.store.list(Keys.pods, { labelSelector: "app=api" }).filter((p) => !p.metadata.deletionTimestamp)
    assert.isTrue(api.every((p) => (p["spec"] as any).nodeName === "node-2"))
  }, 150_000)
})
