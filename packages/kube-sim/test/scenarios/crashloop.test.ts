import { afterEach, assert, describe, it } from "@effect/vitest"
import { Scenario } from "../../src/scenario/index"
import { cs, eventsWith, harness, podsOf, ready, type Harness } from "../controllers/helpers"

let h: Harness | undefined
afterEach(async () => {
  await h?.sim.close()
  h = undefined
})

const start = async (part: ReturnType<typeof Scenario.crashloop.missingEnv>) => {
  h = await harness({ scenario: Scenario.cluster().with(part).build() })
  return h
}

describe("crash-loop family", () => {
  it("missing configmap, then missing key, then running (CreateContainerConfigError with the real messages)", async () => {
    const h = await start(Scenario.crashloop.missingConfigMap({ name: "api", configMap: "api-config", key: "flags" }))
    let p = (await podsOf(h, "api"))[0]!
    assert.deepStrictEqual(cs(p).state!.waiting, { reason: "CreateContainerConfigError", message: 'configmap "api-config" not found' })
    assert.strictEqual(p.status!.phase, "Pending")
    assert.isTrue((await eventsWith(h, "Failed")).some((e) => e.message === 'Error: configmap "api-config" not found'))
    await h.core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "api-config" }, data: { other: "x" } } })
    h.sim.advance("5s")
    p = (await podsOf(h, "api"))[0]!
    assert.strictEqual(cs(p).state!.waiting!.message, "couldn't find key flags in ConfigMap default/api-config")
    await h.core.replaceNamespacedConfigMap({ name: "api-config", namespace: "default", body: { metadata: { name: "api-config" }, data: { flags: "a,b" } } })
    h.sim.advance("30s")
    for (const x of await podsOf(h, "api")) assert.isTrue(ready(x))
  })

  it("missing secret", async () => {
    const h = await start(Scenario.crashloop.missingSecret({ name: "api", secret: "db-credentials" }))
    const p = (await podsOf(h, "api"))[0]!
    assert.deepStrictEqual(cs(p).state!.waiting, { reason: "CreateContainerConfigError", message: 'secret "db-credentials" not found' })
  })

  it("bad image tag: ErrImagePull/ImagePullBackOff on the new revision; rollback by template patch restores ready pods", async () => {
    const h = await start(Scenario.crashloop.badImageTag({ name: "api", badTag: "1.4.3-rc0" }))
    h.sim.advance("1m")
    const bad = (await podsOf(h, "api")).filter((p) => p.spec!.containers[0]!.image!.endsWith(":1.4.3-rc0"))
    assert.isAtLeast(bad.length, 1)
    const w = cs(bad[0]!).state!.waiting!
    assert.oneOf(w.reason, ["ErrImagePull", "ImagePullBackOff"])
    assert.strictEqual(bad[0]!.status!.phase, "Pending")
    const failed = await eventsWith(h, "Failed")
    const img = "registry.example.com/shop/api:1.4.3-rc0"
    assert.isTrue(failed.some((e) => e.message === `Failed to pull image "${img}": rpc error: code = NotFound desc = failed to pull and unpack image "${img}": failed to resolve reference "${img}": ${img}: not found`))
    assert.isTrue(failed.some((e) => e.message === "Error: ImagePullBackOff"))
    assert.isTrue((await eventsWith(h, "BackOff")).some((e) => e.message === `Back-off pulling image "${img}"`))
    // the old revision keeps serving (maxUnavailable rounds down to 0)
    assert.strictEqual((await podsOf(h, "api")).filter(ready).length, 2)
    // `kubectl rollout undo`: patch the template with revision 1's template
    const rss = await h.apps.listNamespacedReplicaSet({ namespace: "default", labelSelector: "app=api" })
    const rev1 = rss.items.find((r) => r.metadata!.annotations!["deployment.kubernetes.io/revision"] === "1")!
    const tpl = structuredClone(rev1.spec!.template!) as any
    delete tpl.metadata.labels["pod-template-hash"]
    await h.apps.patchNamespacedDeployment({ name: "api", namespace: "default", body: [{ op: "replace", path: "/spec/template", value: tpl }] })
    h.sim.advance("2m")
    const after = await podsOf(h, "api")
    assert.strictEqual(after.length, 2)
    assert.isTrue(after.every((p) => ready(p) && p.spec!.containers[0]!.image!.endsWith(":1.4.2")))
    const rs1 = await h.apps.readNamespacedReplicaSet({ name: rev1.metadata!.name!, namespace: "default" })
    assert.strictEqual(rs1.metadata!.annotations!["deployment.kubernetes.io/revision"], "3")
    assert.strictEqual(rs1.metadata!.annotations!["deployment.kubernetes.io/revision-history"], "1")
    assert.strictEqual(rs1.status!.readyReplicas, 2)
  })

  it("image pull auth failure and unreachable registry have their own messages", async () => {
    const h = await start(Scenario.crashloop.imagePullAuth({ name: "api", image: "private.registry.example.com/team/api:2.0.0" }))
    h.sim.advance("20s")
    const msgs = (await eventsWith(h, "Failed")).map((e) => e.message!)
    // no pull secret: the private registry's token server refuses an anonymous token
    assert.isTrue(msgs.some((m) => m.includes("failed to fetch anonymous token") && m.includes("401 Unauthorized")))
    await h.sim.close()
    const h2 = await start(Scenario.crashloop.registryUnreachable({ name: "api", image: "registry.internal.example.com/team/api:2.0.0" }))
    h2.sim.advance("1m")
    const m2 = (await eventsWith(h2, "Failed")).map((e) => e.message!)
    assert.isTrue(m2.some((m) => /dial tcp [\d.]+:443: i\/o timeout/.test(m) && m.includes('Head "https://registry.internal.example.com/v2/team/api/manifests/2.0.0"')))
  })

  it("missing binary: 128 StartError, or 127 through a shell", async () => {
    const h = await start(Scenario.crashloop.missingBinary({ name: "api", binary: "/app/server" }))
    h.sim.advance("30s")
    const t = cs((await podsOf(h, "api"))[0]!).lastState!.terminated!
    assert.strictEqual(t.exitCode, 128)
    assert.strictEqual(t.reason, "StartError")
    assert.include(t.message!, 'exec: "/app/server": executable file not found in $PATH')
    await h.sim.close()
    const h2 = await start(Scenario.crashloop.missingBinary({ name: "api", binary: "/app/server", viaShell: true }))
    h2.sim.advance("30s")
    const p = (await podsOf(h2, "api"))[0]!
    assert.deepInclude(cs(p).lastState!.terminated!, { exitCode: 127, reason: "Error" })
    assert.include(await h2.core.readNamespacedPodLog({ name: p.metadata!.name!, namespace: "default", container: "api", previous: true }), "/bin/sh: 1: /app/server: not found")
  })

  it("failed init container: Init:CrashLoopBackOff semantics, pod Pending, Initialized=False", async () => {
    const h = await start(Scenario.crashloop.failedInit({ name: "api", init: "migrate" }))
    h.sim.advance("2m")
    const p = (await podsOf(h, "api"))[0]!
    assert.strictEqual(p.status!.phase, "Pending")
    const init = p.status!.initContainerStatuses![0]!
    assert.strictEqual(init.state!.waiting!.reason, "CrashLoopBackOff")
    assert.deepInclude(init.lastState!.terminated!, { exitCode: 1, reason: "Error" })
    assert.deepInclude(p.status!.conditions!.find((c) => c.type === "Initialized"), { status: "False", reason: "ContainersNotInitialized", message: "containers with incomplete status: [migrate]" })
    assert.strictEqual(cs(p).state!.waiting!.reason, "PodInitializing")
    assert.include(await h.core.readNamespacedPodLog({ name: p.metadata!.name!, namespace: "default", container: "migrate", previous: true }), "migration 0042_add_index failed")
  })

  it("panic on boot after a rollout: exit 2 and the panic in the previous logs", async () => {
    const h = await start(Scenario.crashloop.panicOnBoot({ name: "api" }))
    h.sim.advance("1m")
    const p = (await podsOf(h, "api")).find((x) => x.spec!.containers[0]!.image!.endsWith(":1.5.0"))!
    assert.deepInclude(cs(p).lastState!.terminated!, { exitCode: 2, reason: "Error" })
    const logs = await h.core.readNamespacedPodLog({ name: p.metadata!.name!, namespace: "default", container: "api", previous: true })
    assert.include(logs, "panic: runtime error: invalid memory address or nil pointer dereference")
    assert.include(logs, "goroutine 1 [running]:")
  })

  it("port already bound by a sidecar: exit 1 with bind: address already in use", async () => {
    const h = await start(Scenario.crashloop.portInUse({ name: "api" }))
    h.sim.advance("30s")
    const p = (await podsOf(h, "api"))[0]!
    const app = p.status!.containerStatuses!.find((c) => c.name === "api")!
    assert.deepInclude(app.lastState!.terminated!, { exitCode: 1, reason: "Error" })
    assert.isTrue(p.status!.containerStatuses!.find((c) => c.name === "metrics-proxy")!.ready)
    assert.include(await h.core.readNamespacedPodLog({ name: p.metadata!.name!, namespace: "default", container: "api", previous: true }), "bind: address already in use")
  })

  it("dependency not ready: connection refused until the dependency has ready endpoints, then runs", async () => {
    const h = await start(Scenario.crashloop.dependencyNotReady({ name: "api", dependency: "postgres" }))
    h.sim.advance("1m")
    const p = (await podsOf(h, "api"))[0]!
    assert.isAtLeast(cs(p).restartCount, 1)
    assert.include(await h.core.readNamespacedPodLog({ name: p.metadata!.name!, namespace: "default", container: "api", previous: true }), "connect: connection refused")
    const ep = await h.core.readNamespacedEndpoints({ name: "postgres", namespace: "default" })
    assert.isUndefined(ep.subsets?.[0]?.addresses)
    h.sim.makeDependencyReady({ service: "postgres" })
    h.sim.advance("6m")
    const ep2 = await h.core.readNamespacedEndpoints({ name: "postgres", namespace: "default" })
    assert.strictEqual(ep2.subsets![0]!.addresses!.length, 1)
    const pods = await podsOf(h, "api")
    assert.isTrue(pods.every(ready))
    const counts = pods.map((x) => cs(x).restartCount)
    h.sim.advance("10m")
    assert.deepStrictEqual((await podsOf(h, "api")).map((x) => cs(x).restartCount), counts, "no more restarts")
  })

  it("OOM at start-up", async () => {
    const h = await start(Scenario.crashloop.oomAtStartup({ name: "api" }))
    h.sim.advance("1m")
    const t = cs((await podsOf(h, "api"))[0]!).lastState!.terminated!
    assert.deepInclude(t, { exitCode: 137, reason: "OOMKilled" })
    assert.isBelow(t.finishedAt!.getTime() - t.startedAt!.getTime(), 10_000)
  })
})
