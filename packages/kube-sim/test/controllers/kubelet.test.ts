import { afterEach, assert, describe, it } from "@effect/vitest"
import { Scenario } from "../../src/scenario/index"
import { R } from "../../src/controllers/util"
import { cs, eventsWith, harness, podsOf, ready, smp, type Harness } from "./helpers"

let h: Harness | undefined
afterEach(async () => {
  await h?.sim.close()
  h = undefined
})

describe("kubelet: crash loops", () => {
  it("CrashLoopBackOff back-off runs 10s, 20s, 40s, 1m20s, 2m40s, then 5m0s, with the real waiting message", async () => {
    h = await harness({ scenario: Scenario.cluster({ nodes: 1 }).with(Scenario.crashloop.missingEnv({ name: "api", replicas: 1 })).pipe((s) => ({ ...s, warmup: "1s" })).build() })
    const starts: Array<number> = []
    const messages: Array<string> = []
    // every status the kubelet writes reaches the listener (advance stops at each back-off expiry),
    // so one long advance sees what a 1 s sampling loop saw, without a thousand settles
    const unsubscribe = h.sim.api.store.subscribe((key, event) => {
      if (key.resource !== R.pods.resource || event.object.metadata.labels?.["app"] !== "api") return
      const st = (event.object["status"] as any)?.containerStatuses?.[0]
      const w = st?.state?.waiting
      if (w?.reason === "CrashLoopBackOff" && messages[messages.length - 1] !== w.message) messages.push(w.message)
      const last = st?.lastState?.terminated?.startedAt
      if (last && !starts.includes(Date.parse(last))) starts.push(Date.parse(last))
    })
    try {
      h.sim.advance("1000s")
    } finally {
      unsubscribe()
    }
    const pod = (await podsOf(h, "api"))[0]!
    const uid = pod.metadata!.uid!
    const name = pod.metadata!.name!
    const backoffs = messages.map((m) => /^back-off (\S+) restarting failed container=api pod=(\S+)$/.exec(m)).map((m) => [m![1], m![2]])
    assert.deepStrictEqual(backoffs.map((b) => b[0]), ["10s", "20s", "40s", "1m20s", "2m40s", "5m0s"])
    assert.strictEqual(backoffs[0]![1], `${name}_default(${uid})`)
    // gaps between container starts: first restart immediate, then the back-off (+ the 0.5 s the app lives)
    const gaps = starts.slice(1).map((t, i) => Math.round((t - starts[i]!) / 1000))
    // (timestamps have second precision; the immediate first restart shares its second with the first start)
    const expected = [10, 20, 40, 80, 160, 300, 300]
    assert.isAtLeast(gaps.length, expected.length)
    expected.forEach((g, i) => assert.approximately(gaps[i]!, g, 1.5, `gap ${i}: ${JSON.stringify(gaps)}`))
    const st = cs(pod)
    assert.strictEqual(st.lastState!.terminated!.exitCode, 1)
    assert.strictEqual(st.lastState!.terminated!.reason, "Error")
    const backoffEvents = await eventsWith(h, "BackOff")
    assert.strictEqual(backoffEvents[0]!.message, `Back-off restarting failed container api in pod ${name}_default(${uid})`)
    assert.isAtLeast(backoffEvents[0]!.count!, 5)
    assert.strictEqual(backoffEvents[0]!.source!.component, "kubelet")
    const prev = await h.core.readNamespacedPodLog({ name, namespace: "default", container: "api", previous: true })
    assert.include(prev, "FATAL: required environment variable DATABASE_URL is not set")
  })

  it("back-off resets after a container ran more than 10 minutes", async () => {
    h = await harness({ scenario: Scenario.cluster({ nodes: 1 }).with({ workloads: [{ name: "job", replicas: 1, behaviour: { exitAfterSeconds: 660, exitCode: 3 } }] }).pipe((s) => ({ ...s, warmup: "1s" })).build() })
    h.sim.advance("35m")
    const pod = (await podsOf(h, "job"))[0]!
    assert.strictEqual(cs(pod).restartCount, 3)
    assert.strictEqual(cs(pod).lastState!.terminated!.exitCode, 3)
    assert.lengthOf(await eventsWith(h, "BackOff"), 0, "no CrashLoopBackOff between long runs")
  })
})

describe("kubelet: probes", () => {
  it("a liveness probe tighter than start-up kills the slow starter; a loosened probe (strategic merge patch) lets it run", async () => {
    h = await harness({ scenario: Scenario.cluster().with(Scenario.crashloop.probeMisconfigured({ name: "api", startupSeconds: 45 })).build() })
    h.sim.advance("3m")
    const pods = await podsOf(h, "api")
    for (const p of pods) {
      assert.isAtLeast(cs(p).restartCount, 2)
      assert.deepInclude(cs(p).lastState!.terminated!, { exitCode: 137, reason: "Error" })
      assert.isFalse(ready(p))
    }
    const killing = await eventsWith(h, "Killing")
    assert.isTrue(killing.some((e) => e.message === "Container api failed liveness probe, will be restarted"))
    const unhealthy = await eventsWith(h, "Unhealthy")
    const ip = pods[0]!.status!.podIP!
    assert.isTrue(unhealthy.some((e) => e.message === `Liveness probe failed: Get "http://${ip}:8080/healthz": dial tcp ${ip}:8080: connect: connection refused`), JSON.stringify(unhealthy.map((e) => e.message)))
    await h.apps.patchNamespacedDeployment({ name: "api", namespace: "default", body: { spec: { template: { spec: { containers: [{ name: "api", livenessProbe: { initialDelaySeconds: 60 } }] } } } } }, smp)
    h.sim.advance("5m")
    const after = await podsOf(h, "api")
    assert.strictEqual(after.length, 2)
    for (const p of after) {
      assert.strictEqual(p.spec!.containers[0]!.livenessProbe!.initialDelaySeconds, 60)
      assert.strictEqual(p.spec!.containers[0]!.livenessProbe!.periodSeconds, 5, "SMP kept the other probe fields")
      assert.strictEqual(cs(p).restartCount, 0)
      assert.isTrue(ready(p))
    }
  })

  it("readiness follows initialDelaySeconds/periodSeconds and the app's start-up time", async () => {
    h = await harness({
      scenario: Scenario.cluster({ nodes: 1 }).with({ workloads: [{ name: "web", replicas: 1, behaviour: { startupSeconds: 12 }, readinessProbe: { httpGet: { path: "/ready", port: 8080 }, initialDelaySeconds: 5, periodSeconds: 5 } }] }).pipe((s) => ({ ...s, warmup: "0s" })).build()
    })
    const store = h.sim.api.store
    let readyAt: number | undefined
    let started: number | undefined
    for (let i = 0; i < 40 && readyAt === undefined; i++) {
      h.sim.advance("1s")
      const p = store.list(R.pods)[0]!
      const st = (p["status"] as any).containerStatuses?.[0]
      if (!started && st?.state?.running) started = Date.parse(st.state.running.startedAt)
      if ((p["status"] as any).conditions?.some((c: any) => c.type === "Ready" && c.status === "True")) readyAt = h.sim.now()
    }
    // probes at start+5, +10, +15: the app answers from +12, so the third probe succeeds
    const d = readyAt! - started!
    assert.isTrue(d >= 15_000 && d < 17_000, `ready ${d} ms after start`)
  })
})

describe("kubelet: graceful deletion", () => {
  it("DELETE sets deletionTimestamp; the pod goes after its grace period and the ReplicaSet replaces it", async () => {
    h = await harness({ scenario: Scenario.cluster().with({ workloads: [{ name: "web", replicas: 2 }] }).build() })
    const [p] = await podsOf(h, "web")
    await h.core.deleteNamespacedPod({ name: p!.metadata!.name!, namespace: "default" })
    h.sim.settle()
    const terminating = await h.core.readNamespacedPod({ name: p!.metadata!.name!, namespace: "default" })
    assert.isDefined(terminating.metadata!.deletionTimestamp)
    assert.strictEqual(terminating.metadata!.deletionGracePeriodSeconds, 30)
    assert.isTrue((await eventsWith(h, "Killing")).some((e) => e.message === "Stopping container web" && e.involvedObject.name === p!.metadata!.name))
    assert.strictEqual((await podsOf(h, "web")).length, 3, "a replacement is created while the old pod terminates")
    h.sim.advance("29s")
    assert.isTrue((await podsOf(h, "web")).some((x) => x.metadata!.name === p!.metadata!.name))
    h.sim.advance("2s")
    const left = await podsOf(h, "web")
    assert.strictEqual(left.length, 2)
    assert.isFalse(left.some((x) => x.metadata!.name === p!.metadata!.name))
  })
})
