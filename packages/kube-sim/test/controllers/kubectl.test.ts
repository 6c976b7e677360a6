import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Scenario, startSim, type Sim } from "../../src/scenario/index"
import { kubectlAvailable, runner } from "../kubectl/kubectl"

const enabled = kubectlAvailable()

describe.runIf(enabled)("kubectl against the controllers", () => {
  let sim: Sim
  let k: ReturnType<typeof runner>
  const kubeconfig = join(tmpdir(), `kube-sim-controllers-${process.pid}.kubeconfig`)
  beforeAll(async () => {
    sim = await startSim({ now: "2026-01-01T00:00:00Z", scenario: Scenario.cluster().with(Scenario.crashloop.badImageTag({ name: "api" })).build() })
    sim.advance("1m")
    sim.api.writeKubeconfig(kubeconfig)
    k = runner(kubeconfig)
  })
  afterAll(async () => {
    k.cleanup()
    rmSync(kubeconfig, { force: true })
    await sim.close()
  })

  it("get pods shows ImagePullBackOff; rollout history shows change-causes; top reads metrics.k8s.io", async () => {
    const pods = await k.run(["get", "pods"])
    assert.strictEqual(pods.code, 0, pods.stderr)
    assert.match(pods.stdout, /api-\w+-\w+\s+0\/1\s+ImagePullBackOff\s+0/)
    assert.strictEqual((pods.stdout.match(/1\/1\s+Running/g) ?? []).length, 2)
    const hist = await k.run(["rollout", "history", "deployment/api"])
    assert.match(hist.stdout, /1\s+deploy api 1\.4\.2 \(commit 3f9c2ab\)/)
    assert.match(hist.stdout, /2\s+deploy api 1\.4\.3-rc0 \(commit 9d1e77c\)/)
    const top = await k.run(["top", "pods"])
    assert.strictEqual(top.code, 0, top.stderr)
    assert.match(top.stdout, /api-\w+-\w+\s+\d+m\s+64Mi/)
    const nodes = await k.run(["top", "nodes"])
    assert.match(nodes.stdout, /node-1\s+\d+m\s+\d+%\s+\d+Mi/)
  })

  it("rollout undo re-adopts revision 1 and rollout status completes", async () => {
    const undo = await k.run(["rollout", "undo", "deployment/api"])
    assert.strictEqual(undo.code, 0, undo.stderr)
    assert.include(undo.stdout, "deployment.apps/api rolled back")
    await new Promise((r) => setTimeout(r, 5))
    sim.advance("2m")
    const status = await k.run(["rollout", "status", "deployment/api", "--timeout=10s"])
    assert.strictEqual(status.code, 0, status.stderr)
    assert.include(status.stdout, 'deployment "api" successfully rolled out')
    const hist = await k.run(["rollout", "history", "deployment/api"])
    assert.match(hist.stdout, /3\s+deploy api 1\.4\.2 \(commit 3f9c2ab\)/)
    const pods = await k.run(["get", "pods", "-o", "name"])
    assert.strictEqual(pods.stdout.trim().split("\n").length, 2)
  })
})
