import { afterEach, assert, describe, it } from "@effect/vitest"
import { Scenario } from "../../src/scenario/index"
import { cs, eventsWith, harness, podsOf, ready, type Harness } from "../controllers/helpers"

let h: Harness | undefined
afterEach(async () => {
  await h?.sim.close()
  h = undefined
})

const start = async (...parts: Array<Parameters<ReturnType<typeof Scenario.cluster>["with"]>[0]>) => {
  let b = Scenario.cluster()
  for (const p of parts) b = b.with(p)
  h = await harness({ scenario: b.build() })
  return h
}

const dockerconfigjson = (auths: Record<string, { username: string; password: string }>) =>
  Buffer.from(JSON.stringify({ auths: Object.fromEntries(Object.entries(auths).map(([k, v]) => [k, { ...v, auth: Buffer.from(`${v.username}:${v.password}`).toString("base64") }])) })).toString("base64")

describe("kubelet image pulls through the registry", () => {
  it("stale pull secret: 401 from the token server, ImagePullBackOff with the kubelet 1.32 message; fixing the secret lets the next pull run the digest", async () => {
    const h = await start(Scenario.crashloop.imagePullAuth({ name: "api", pullSecret: "stale" }))
    const img = "private.registry.example.com/team/api:2.0.0"
    const err = 'rpc error: code = Unknown desc = failed to pull and unpack image "private.registry.example.com/team/api:2.0.0": failed to resolve reference "private.registry.example.com/team/api:2.0.0": failed to authorize: failed to fetch oauth token: unexpected status from GET request to https://private.registry.example.com/token?scope=repository%3Ateam%2Fapi%3Apull&service=private.registry.example.com: 401 Unauthorized'
    h.sim.advance("3s")
    const p = (await podsOf(h, "api"))[0]!
    assert.deepStrictEqual(cs(p).state!.waiting, { reason: "ImagePullBackOff", message: `Back-off pulling image "${img}": ErrImagePull: ${err}` })
    assert.strictEqual(cs(p).imageID, "")
    const failed = (await eventsWith(h, "Failed")).map((e) => e.message)
    assert.include(failed, `Failed to pull image "${img}": ${err}`)
    assert.include(failed, "Error: ErrImagePull")
    // rotate the secret to the registry's current password (client-node replace)
    const sec = await h.core.readNamespacedSecret({ name: "regcred", namespace: "default" })
    sec.data = { ".dockerconfigjson": dockerconfigjson({ "private.registry.example.com": { username: "ci-puller", password: "s3cr3t-2026-12" } }) }
    await h.core.replaceNamespacedSecret({ name: "regcred", namespace: "default", body: sec })
    h.sim.advance("2m")
    const pods = await podsOf(h, "api")
    assert.isTrue(pods.every(ready))
    const digest = h.sim.registry.resolve(img)!
    for (const x of pods) assert.strictEqual(cs(x).imageID, `private.registry.example.com/team/api@${digest}`)
  })

  it("pull secrets reach the kubelet through the pod's ServiceAccount, under an https://…/v1/-style key", async () => {
    const h = await start(Scenario.crashloop.imagePullAuth({ name: "api", pullSecret: "valid", via: "serviceAccount", authKey: "https://private.registry.example.com/v1/" }))
    h.sim.advance("1m")
    const pods = await podsOf(h, "api")
    assert.strictEqual(pods.length, 2)
    assert.isTrue(pods.every(ready))
    assert.isUndefined(pods[0]!.spec!.imagePullSecrets)
  })

  it("Docker Hub: anonymous → 'pull access denied'; a missing named secret warns; a secret under https://index.docker.io/v1/ pulls docker.io images", async () => {
    const h = await start({ workloads: [{ name: "hub", image: "acme/private:1.0", replicas: 1, imagePullSecrets: ["hub-cred"] }], registryUsers: { "docker.io/acme/private": [{ username: "acme", password: "hub-token" }] } })
    h.sim.advance("2s")
    let p = (await podsOf(h, "hub"))[0]!
    assert.include(cs(p).state!.waiting!.message!, "pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed")
    const warn = await eventsWith(h, "FailedToRetrieveImagePullSecret")
    assert.strictEqual(warn[0]!.message, "Unable to retrieve some image pull secrets (hub-cred); attempting to pull the image may not succeed.")
    assert.strictEqual(warn[0]!.type, "Warning")
    await h.core.createNamespacedSecret({ namespace: "default", body: { metadata: { name: "hub-cred" }, type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": dockerconfigjson({ "https://index.docker.io/v1/": { username: "acme", password: "hub-token" } }) } } })
    h.sim.advance("1m")
    p = (await podsOf(h, "hub"))[0]!
    assert.isTrue(ready(p))
    assert.match(cs(p).imageID!, /^docker\.io\/acme\/private@sha256:[0-9a-f]{64}$/)
    assert.isTrue((await eventsWith(h, "Pulling")).some((e) => e.message === 'Pulling image "acme/private:1.0"'))
  })

  it("re-pushed tag: pods created after the push run the new digest and crash; the old digest stays pullable and pinning it restores Ready pods", async () => {
    const h = await start(Scenario.crashloop.repushedTag({ name: "api", after: "1m" }))
    const img = "registry.example.com/shop/api:1.4.2"
    // the scenario ran its warm-up, the push and the rollout restart
    const [first, second] = h.sim.registry.history(img)
    assert.isString(first)
    assert.notStrictEqual(first, second)
    h.sim.advance("3m")
    const pods = await podsOf(h, "api")
    const fresh = pods.filter((p) => cs(p).imageID === `registry.example.com/shop/api@${second}`)
    assert.isAtLeast(fresh.length, 1)
    for (const p of fresh) {
      assert.isFalse(ready(p))
      assert.isAtLeast(cs(p).restartCount!, 1)
    }
    // the old ReplicaSet's pods keep the old digest and stay Ready (maxUnavailable rounds down)
    assert.strictEqual(pods.filter((p) => ready(p) && cs(p).imageID === `registry.example.com/shop/api@${first}`).length, 2)
    // pin the last good digest
    await h.apps.patchNamespacedDeployment({ name: "api", namespace: "default", body: [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: `registry.example.com/shop/api@${first}` }] })
    h.sim.advance("3m")
    const after = (await podsOf(h, "api")).filter((p) => !p.metadata!.deletionTimestamp)
    assert.strictEqual(after.length, 2)
    for (const p of after) {
      assert.isTrue(ready(p))
      assert.strictEqual(cs(p).imageID, `registry.example.com/shop/api@${first}`)
    }
  })

  it("IfNotPresent keeps the node's cached digest after a re-push; Always pulls the new one", async () => {
    h = await harness({ scenario: Scenario.cluster({ nodes: 1 }).with({ workloads: [{ name: "web", image: "registry.example.com/shop/web:3.1", replicas: 1, imagePullPolicy: "IfNotPresent" }] }).build() })
    const img = "registry.example.com/shop/web:3.1"
    const first = h.sim.registry.resolve(img)!
    const second = h.sim.setImage(img, "push")!
    assert.notStrictEqual(second, first)
    let p = (await podsOf(h, "web"))[0]!
    assert.strictEqual(cs(p).imageID, `registry.example.com/shop/web@${first}`)
    await h.core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: "default", gracePeriodSeconds: 0 })
    h.sim.advance("1m")
    p = (await podsOf(h, "web")).find((x) => !x.metadata!.deletionTimestamp)!
    assert.isTrue(ready(p))
    assert.strictEqual(cs(p).imageID, `registry.example.com/shop/web@${first}`)
    assert.isTrue((await eventsWith(h, "Pulled")).some((e) => e.message === `Container image "${img}" already present on machine` && e.involvedObject!.name === p.metadata!.name))
    await h.apps.patchNamespacedDeployment({ name: "web", namespace: "default", body: [{ op: "replace", path: "/spec/template/spec/containers/0/imagePullPolicy", value: "Always" }] })
    h.sim.advance("2m")
    const pods = (await podsOf(h, "web")).filter((x) => !x.metadata!.deletionTimestamp)
    assert.strictEqual(pods.length, 1)
    assert.strictEqual(cs(pods[0]!).imageID, `registry.example.com/shop/web@${second}`)
  })

  it("platform mismatch: containerd's 'no match for platform' on amd64 nodes, Docker Engine's 'no matching manifest for linux/amd64'", async () => {
    const h = await start(Scenario.crashloop.platformMismatch({ name: "api" }))
    const img = "registry.example.com/shop/api:1.5.0-arm64"
    h.sim.advance("1m")
    const failed = (await eventsWith(h, "Failed")).map((e) => e.message)
    assert.include(failed, `Failed to pull image "${img}": rpc error: code = NotFound desc = failed to pull and unpack image "${img}": no match for platform in manifest: not found`)
    // the same on a node running Docker Engine through cri-dockerd
    for (const n of (await h.core.listNode()).items) {
      h.sim.controllers.store.mutate({ group: "", version: "v1", resource: "nodes" }, undefined, n.metadata!.name!, (o) => {
        ;((o["status"] as Record<string, any>)["nodeInfo"] as Record<string, unknown>)["containerRuntimeVersion"] = "docker://24.0.7"
      })
    }
    h.sim.setImage("registry.example.com/shop/api:1.4.2", "notFound")
    await h.apps.patchNamespacedDeployment({ name: "api", namespace: "default", body: [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: "registry.example.com/shop/api:1.6.0" }] })
    h.sim.setImage("registry.example.com/shop/api:1.6.0", "notFound")
    h.sim.advance("1m")
    const docker = (await eventsWith(h, "Failed")).map((e) => e.message)
    assert.include(docker, 'Failed to pull image "registry.example.com/shop/api:1.6.0": rpc error: code = Unknown desc = Error response from daemon: manifest for registry.example.com/shop/api:1.6.0 not found: manifest unknown: manifest unknown')
  })

  it("unreachable registry: the pull fails after the 30 s dial timeout, then backs off 10 s, 20 s … as the kubelet does", async () => {
    const h = await start(Scenario.crashloop.registryUnreachable({ name: "api", replicas: 1 }))
    // the warm-up (2 min) ran: pulls at 0 s, 40 s (30 + 10), 90 s (70 + 20); the third just timed out
    let p = (await podsOf(h, "api"))[0]!
    assert.strictEqual(cs(p).state!.waiting!.reason, "ErrImagePull")
    assert.match(cs(p).state!.waiting!.message!, /^rpc error: code = Unknown desc = failed to pull and unpack image "registry\.internal\.example\.com\/team\/api:2\.0\.0": .*dial tcp [\d.]+:443: i\/o timeout$/)
    h.sim.advance("2s")
    p = (await podsOf(h, "api"))[0]!
    assert.strictEqual(cs(p).state!.waiting!.reason, "ImagePullBackOff")
    assert.match(cs(p).state!.waiting!.message!, /^Back-off pulling image "registry\.internal\.example\.com\/team\/api:2\.0\.0": ErrImagePull: rpc error: code = Unknown desc = .*dial tcp [\d.]+:443: i\/o timeout$/)
    const pulling = (await eventsWith(h, "Pulling"))[0]!
    const failed = (await eventsWith(h, "Failed")).find((e) => e.message!.includes("i/o timeout"))!
    assert.strictEqual(new Date(failed.firstTimestamp!).getTime() - new Date(pulling.firstTimestamp!).getTime(), 30_000)
    assert.strictEqual(pulling.count, 3)
    // the registry comes back: the next attempt pulls
    h.sim.setImage("registry.internal.example.com/team/api:2.0.0", "ok")
    h.sim.advance("10m")
    p = (await podsOf(h, "api"))[0]!
    assert.isTrue(ready(p))
    assert.strictEqual(cs(p).imageID, `registry.internal.example.com/team/api@${h.sim.registry.resolve("registry.internal.example.com/team/api:2.0.0")}`)
  })
})
