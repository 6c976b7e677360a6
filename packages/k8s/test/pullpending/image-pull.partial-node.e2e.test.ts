/**
 * k8s.image-pull end to end on kube-sim (the real client, auto mode) with a node-scoped pull
 * fault: the registry is unreachable from one node only (its DNS, routes, proxy or firewall;
 * `sim.registry.setReachable(host, false, { nodes })`), so the pods there sit in ImagePullBackOff
 * while the same image runs on the other nodes. The runbook classifies it as
 * network_misconfiguration, names the failing node against the ones that pulled, and writes
 * nothing. Near miss: the registry unreachable from every node is the cluster-wide reading.
 */
import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { Effect } from "effect"
import * as ImagePull from "../../src/runbooks/k8s.image-pull"
import { firstSignal, podsOf, ready, runWithSim, Scenario, services, sim, type Sim, writes } from "./harness"

const HOST = "registry.internal.example.com"
const IMG = `${HOST}/team/api:2.0.0`

const workload = () => Scenario.cluster({ nodes: 3 }).with({ workloads: [{ name: "api", replicas: 3, image: IMG, readinessProbe: { httpGet: { path: "/ready", port: 8080 }, periodSeconds: 5 } } as any] }).build()

const DEPLOY = { group: "apps", version: "v1", resource: "deployments" }
const IMG2 = `${HOST}/team/api:2.1.0`

/**
 * The workload Ready on 3 nodes (each node holds 2.0.0), then the registry unreachable from
 * node-1 and a rollout to 2.1.0: node-1 cannot pull the new image, the other nodes do.
 */
const faultyNode = () =>
  Effect.gen(function*() {
    const s = yield* sim(workload())
    s.advance("1m")
    const bad = "node-1"
    assert.deepStrictEqual([...new Set(podsOf(s, "api").map((p: any) => p.spec.nodeName as string))].sort(), ["node-1", "node-2", "node-3"], "one pod a node")
    s.registry.setReachable(HOST, false, { nodes: [bad] })
    const d: any = s.api.store.get(DEPLOY, "default", "api")
    // maxSurge 100%: the three 2.1.0 pods start at once (one a node), so one stuck pull does not stall the others
    s.api.store.update(DEPLOY, { ...d, spec: { ...d.spec, strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "100%", maxUnavailable: 0 } }, template: { ...d.spec.template, spec: { ...d.spec.template.spec, containers: [{ ...d.spec.template.spec.containers[0], image: IMG2 }] } } } })
    const next = () => podsOf(s, "api").filter((p: any) => p.spec.containers[0].image === IMG2)
    assert.isTrue(s.advanceUntil(() => next().some((p: any) => p.spec.nodeName === bad) && next().filter((p: any) => p.spec.nodeName !== bad && ready(p)).length === 2, "10m", "5s"), "2.1.0 runs on the two other nodes")
    const nodes = [...new Set(next().map((p: any) => p.spec.nodeName as string))].sort()
    assert.include(nodes, bad, "a 2.1.0 pod landed on the faulty node")
    return { s, bad, nodes, next }
  })

const handle = (s: Sim, pred: (x: any) => boolean) =>
  Effect.gen(function*() {
    const rb = ImagePull.make({ probeTimeout: "60 seconds" })
    const before = writes(s).length
    const report: any = yield* runWithSim(s, Effect.gen(function*() {
      return yield* Runbook.handle(rb, yield* firstSignal(rb, pred), { mode: "auto" })
    }).pipe(Effect.provide(services(s))), { max: "20 minutes" })
    assert.strictEqual(writes(s).length, before, "nothing written")
    return { report, steps: (report.escalation?.nextSteps ?? []) as Array<string>, text: JSON.stringify(report) }
  })

describe("kube-sim: a pull fault on some nodes only", () => {
  it.effect("the registry unreachable from one node: its pods fail to pull (i/o timeout), the others run the image; reachable again, it pulls", () =>
    Effect.gen(function*() {
      const { s, bad, nodes, next } = yield* faultyNode()
      s.advance("1m")
      const on = (n: string) => next().filter((p: any) => p.spec.nodeName === n)
      const failing = next().filter((p: any) => p.status.containerStatuses?.[0]?.state?.waiting?.reason === "ImagePullBackOff" || p.status.containerStatuses?.[0]?.state?.waiting?.reason === "ErrImagePull")
      assert.isAbove(failing.length, 0)
      for (const p of failing) {
        assert.strictEqual(p.spec.nodeName, bad)
        assert.match(p.status.containerStatuses[0].state.waiting.message, /dial tcp [0-9.]+:443: i\/o timeout/)
      }
      assert.deepStrictEqual(nodes, ["node-1", "node-2", "node-3"])
      for (const n of nodes.filter((n) => n !== bad)) {
        assert.strictEqual(on(n).length, 1)
        for (const p of on(n)) assert.isTrue(ready(p), `${p.metadata.name} on ${n} runs`)
      }
      s.registry.setReachable(HOST, true, { nodes: [bad] })
      assert.isTrue(s.advanceUntil(() => next().length === 3 && next().every(ready), "15m", "5s"), "the rollout completes once node-1 reaches the registry")
    }).pipe(Effect.scoped), 60_000)
})

describe("k8s.image-pull e2e: partial-node pull failure", () => {
  it.effect("network_misconfiguration, one node: the escalation names the failing node against the nodes that pulled; nothing written", () =>
    Effect.gen(function*() {
      const { s, bad, nodes } = yield* faultyNode()
      const { report, steps } = yield* handle(s, (x) => x.type === "k8s.pod.image_pull_failed")
      assert.strictEqual(report.classification.class, "network_misconfiguration", JSON.stringify(report.classification))
      assert.strictEqual(report.status, "escalated")
      const spread = report.facts.spread.value
      assert.deepStrictEqual(spread.failingNodes, [bad])
      assert.deepStrictEqual(spread.pulledNodes, nodes.filter((n) => n !== bad))
      const scope = steps.find((x) => x.startsWith("one node's problem"))
      assert.isDefined(scope, JSON.stringify(steps))
      assert.include(scope!, `${bad} cannot pull it while ${nodes.filter((n) => n !== bad).join(", ")} did`)
      assert.isTrue(steps.some((x) => /timeout/i.test(x)), "the timeout steps")
    }).pipe(Effect.scoped), 120_000)

  it.effect("near miss: the registry unreachable from every node is the cluster-wide reading, not one node's", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.crashloop.registryUnreachable({ name: "api", replicas: 3 })).build())
      const { report, steps } = yield* handle(s, (x) => x.type === "k8s.pod.image_pull_failed")
      assert.strictEqual(report.classification.class, "network_misconfiguration")
      assert.deepStrictEqual(report.facts.spread.value.pulledNodes, [])
      assert.isUndefined(steps.find((x) => x.startsWith("one node's problem")), JSON.stringify(steps))
      assert.isDefined(steps.find((x) => x.startsWith("all nodes that tried fail")), JSON.stringify(steps))
    }).pipe(Effect.scoped), 120_000)

  it.effect("network_misconfiguration, all nodes: the node-scoped fault listing every node reads \"all nodes that tried fail\", never one node's", () =>
    Effect.gen(function*() {
      const s = yield* sim(workload())
      s.advance("1m")
      const all = ["node-1", "node-2", "node-3"]
      s.registry.setReachable(HOST, false, { nodes: all })
      const d: any = s.api.store.get(DEPLOY, "default", "api")
      s.api.store.update(DEPLOY, { ...d, spec: { ...d.spec, strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "100%", maxUnavailable: 0 } }, template: { ...d.spec.template, spec: { ...d.spec.template.spec, containers: [{ ...d.spec.template.spec.containers[0], image: IMG2 }] } } } })
      const next = () => podsOf(s, "api").filter((p: any) => p.spec.containers[0].image === IMG2)
      assert.isTrue(s.advanceUntil(() => next().length === 3, "10m", "5s"), "the three 2.1.0 pods exist")
      s.advance("1m")
      assert.isTrue(next().every((p: any) => !ready(p)), "no node pulls 2.1.0")
      const { report, steps } = yield* handle(s, (x) => x.type === "k8s.pod.image_pull_failed" && String(x.evidence?.image ?? "").endsWith(":2.1.0"))
      assert.strictEqual(report.classification.class, "network_misconfiguration", JSON.stringify(report.classification))
      const spread = report.facts.spread.value
      assert.deepStrictEqual(spread.pulledNodes, [])
      assert.isAtLeast(spread.failingNodes.length, 1)
      assert.isUndefined(steps.find((x) => x.startsWith("one node's problem")), JSON.stringify(steps))
      assert.isDefined(steps.find((x) => x.startsWith("all nodes that tried fail")), JSON.stringify(steps))
    }).pipe(Effect.scoped), 120_000)
})
