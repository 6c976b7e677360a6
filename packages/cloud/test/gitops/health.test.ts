/**
 * The GitOps model's health assessment on kube-sim: an Argo CD Application's `status.health` and a
 * Flux Kustomization's Ready (with `wait: true`) follow the live Deployment the revision applied —
 * Healthy once rolled out, Progressing while not, Degraded once its progress deadline passed.
 */
import { afterEach, assert, describe, it } from "vitest"
import { GitOpsModel } from "@byteport/cloud/testing"
import * as R from "../../src/gitops/Resources"
import { ARGO_INTERVAL, application, fluxObjects, start, until, type World } from "./world"

let w: World | undefined
afterEach(async () => {
  await w?.close()
  w = undefined
})

const appHealth = async (world: World) => R.str(R.obj(R.obj((await world.get(R.Application, "argocd", "shop"))["status"])["health"])["status"])
const ready = async (world: World) => R.arr(R.obj((await world.get(R.Kustomization, "flux-system", "shop"))["status"])["conditions"]).map(R.obj).find((c) => c["type"] === "Ready")

/** Advances virtual time in steps until `probe` holds (the Deployment controller and the model both run on it). */
const advanceUntil = async (world: World, probe: () => Promise<boolean>, what: string, stepMs = 30_000, steps = 40) => {
  for (let i = 0; i < steps; i++) {
    if (await probe()) return
    await world.advance(stepMs)
    await new Promise((r) => setTimeout(r, 20))
  }
  assert.fail(`never: ${what}`)
}

describe("GitOpsModel health", () => {
  it("deploymentHealth: Missing, Progressing (generation not observed, replicas not updated/available), Degraded (ProgressDeadlineExceeded), Healthy", () => {
    const d = (status: Record<string, unknown>, generation = 2) => ({ metadata: { generation }, spec: { replicas: 2 }, status })
    assert.strictEqual(GitOpsModel.deploymentHealth(undefined), "Missing")
    assert.strictEqual(GitOpsModel.deploymentHealth(d({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 })), "Progressing")
    assert.strictEqual(GitOpsModel.deploymentHealth(d({ observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2 })), "Progressing")
    assert.strictEqual(GitOpsModel.deploymentHealth(d({ observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 1 })), "Progressing")
    assert.strictEqual(GitOpsModel.deploymentHealth(d({ observedGeneration: 2, replicas: 2, updatedReplicas: 1, availableReplicas: 1, conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" }] })), "Degraded")
    assert.strictEqual(GitOpsModel.deploymentHealth(d({ observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 })), "Healthy")
    assert.strictEqual(GitOpsModel.worstHealth(["Healthy", "Progressing", "Degraded", "Missing"]), "Degraded")
  })

  it("Argo CD: Healthy once shop:1 is rolled out; a never-ready shop:2 is Progressing, then Degraded past its deadline", async () => {
    w = await start()
    await w.create(R.Application, "argocd", application("shop"))
    await until(async () => (await w!.image()) === "shop:1", "the first sync")
    await advanceUntil(w, async () => (await appHealth(w!)) === "Healthy", "shop:1 Healthy")
    await w.release("shop:2", { neverReady: true })
    await w.advance(ARGO_INTERVAL)
    assert.strictEqual(await w.image(), "shop:2")
    assert.strictEqual(await appHealth(w), "Progressing")
    await advanceUntil(w, async () => (await appHealth(w!)) === "Degraded", "shop:2 Degraded")
  })

  it("Flux with wait: true: Ready=True once shop:1 is rolled out; a never-ready shop:2 → Ready=False HealthCheckFailed; without wait Ready=True on apply", async () => {
    w = await start()
    const f = fluxObjects()
    await w.create(R.GitRepository, "flux-system", f.gitRepository)
    await w.create(R.Kustomization, "flux-system", { ...f.kustomization, spec: { ...f.kustomization.spec, wait: true } })
    await until(async () => (await w!.image()) === "shop:1", "the first apply")
    await advanceUntil(w, async () => (await ready(w!))?.["status"] === "True", "Ready=True", 60_000)
    await w.release("shop:2", { neverReady: true })
    await advanceUntil(w, async () => (await ready(w!))?.["reason"] === "HealthCheckFailed", "Ready=False HealthCheckFailed", 60_000)
    assert.strictEqual((await ready(w))?.["status"], "False")
  })
})
