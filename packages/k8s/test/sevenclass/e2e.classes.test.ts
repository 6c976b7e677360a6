/**
 * k8s.crashloop.seven-class end to end on kube-sim (the real client, virtual time): each class
 * enabled alone, auto mode, the effect read from cluster state; escalate-only classes mutate
 * nothing; observe and dry_run write only with dryRun=All.
 */
import { assert, describe, it } from "@effect/vitest"
import { CoreV1Api } from "@kubernetes/client-node"
import { Effect } from "effect"
import * as ConfigMapSnapshots from "../../src/actions/configMapSnapshots"
import * as Kube from "../../src/Kube"
import { deploymentOf, handleFirst, mutations, podsOf, ready, Scenario, sevenServices, sim, type Sim } from "./harness"

const c3 = () => Scenario.cluster({ nodes: 3 })
const apiPod = (type: string) => (x: any) => x.type === type && String(x.evidence?.pod ?? "").startsWith("api-")
const CRASH = "k8s.pod.crash_loop_back_off"
const writes = (s: Sim) => mutations(s).real.filter((r) => !r.path.includes("/events"))

const assertRecovered = (report: any, cls: string) => {
  if (report.status !== "recovered") console.log(JSON.stringify({ plan: report.plan, outcomes: report.outcomes, decisions: report.decisions, escalation: report.escalation }, null, 1).slice(0, 4000))
  assert.strictEqual(report.classification?.class, cls, JSON.stringify(report.classification))
  assert.strictEqual(report.status, "recovered", JSON.stringify(report.verdicts?.at(-1) ?? report.outcomes))
}
const assertAllReady = (s: Sim, app = "api") => {
  const d = deploymentOf(s, app)
  assert.strictEqual(d.status.readyReplicas, d.spec.replicas)
  const pods = podsOf(s, app)
  assert.isAbove(pods.length, 0)
  for (const p of pods) assert.isTrue(ready(p), `${p.metadata.name} Ready`)
}

describe("k8s.crashloop.seven-class e2e: each class alone, auto", () => {
  it.effect("oom_at_startup: limit ×1.5 through the Deployment; no start-up OOMs after, held", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.oomAtStartup({ name: "api", workload: { memory: { kind: "plateau", plateauBytes: Math.round(256 * 2 ** 20 * 1.15), rampSeconds: 8 } } as any })).build())
      const report = yield* handleFirst(s, apiPod(CRASH))
      assertRecovered(report, "oom_at_startup")
      assert.strictEqual(deploymentOf(s).spec.template.spec.containers[0].resources.limits.memory, "384Mi")
      assertAllReady(s)
      for (const p of podsOf(s)) assert.strictEqual(p.status.containerStatuses[0].state.running !== undefined, true)
      assert.isTrue(report.verdicts.at(-1).checks.some((c: any) => c.name === "0 OOMKilled since the action" && c.ok))
    }).pipe(Effect.scoped), 120_000)

  it.effect("bad_image_or_tag: rolled back to revision 1 (1.4.2); readyReplicas == replicas", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.badImageTag({ name: "api" })).build())
      const report = yield* handleFirst(s, apiPod("k8s.pod.image_pull_failed"))
      assertRecovered(report, "bad_image_or_tag")
      assert.strictEqual(deploymentOf(s).spec.template.spec.containers[0].image, "registry.example.com/shop/api:1.4.2")
      assertAllReady(s)
      assert.isTrue(report.verdicts.at(-1).checks.some((c: any) => c.name === "readyReplicas == replicas" && c.ok))
    }).pipe(Effect.scoped), 120_000)

  it.effect("app_panic_on_boot: the new image panics: rolled back, pods Ready for ≥ 2× their pre-crash run", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.panicOnBoot({ name: "api" })).build())
      const report = yield* handleFirst(s, (x) => apiPod(CRASH)(x) && x.evidence.lastExitCode === 2)
      assertRecovered(report, "app_panic_on_boot")
      assert.strictEqual(deploymentOf(s).spec.template.spec.containers[0].image, "registry.example.com/shop/api:1.4.2")
      assertAllReady(s)
      assert.match(report.plan.summary, /suspect commit c0ffee1/)
    }).pipe(Effect.scoped), 120_000)

  it.effect("probe_misconfigured: a startup budget from the liveness handler; 0 liveness kills after", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.probeMisconfigured({ name: "api", startupSeconds: 30 })).build())
      const report = yield* handleFirst(s, apiPod(CRASH))
      assertRecovered(report, "probe_misconfigured")
      const c = deploymentOf(s).spec.template.spec.containers[0]
      assert.deepStrictEqual(c.startupProbe.httpGet, c.livenessProbe.httpGet, "the same handler")
      assertAllReady(s)
      assert.isTrue(report.verdicts.at(-1).checks.some((x: any) => x.name === "0 liveness kills since the action" && x.ok))
    }).pipe(Effect.scoped), 120_000)

  it.effect("missing_configmap_or_secret: re-created from BytePort's snapshot; the pod starts and stays", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3, namespaces: ["default", "byteport"] } as any).with(Scenario.crashloop.missingConfigMap({ name: "api", replicas: 1 })).with({
        objects: [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "api-config", namespace: "default" }, data: { flags: "beta=on" } }]
      }).build())
      const prepare = Effect.gen(function*() {
        const snaps = yield* ConfigMapSnapshots.ConfigMapSnapshots
        assert.strictEqual((yield* snaps.take("default", "api-config"))._tag, "Taken")
        const kube = yield* Kube.Kube
        yield* Effect.promise(() => kube.kubeConfig.makeApiClient(CoreV1Api).deleteNamespacedConfigMap({ namespace: "default", name: "api-config" }))
        const pod = podsOf(s)[0]
        yield* kube.deletePod("default", pod.metadata.name, { uid: pod.metadata.uid })
      }).pipe(Effect.orDie, Effect.provide(sevenServices(s, { snapshots: true })))
      const report = yield* handleFirst(s, apiPod("k8s.pod.create_container_config_error"), { snapshots: true, before: prepare as any })
      assertRecovered(report, "missing_configmap_or_secret")
      const cm = s.api.store.get({ group: "", version: "v1", resource: "configmaps" }, "default", "api-config") as any
      assert.deepStrictEqual(cm.data, { flags: "beta=on" })
      assert.isDefined(cm.metadata.labels["byteport.io/restored-from"])
      assertAllReady(s)
    }).pipe(Effect.scoped), 120_000)

  it.effect("missing_configmap_or_secret after a rollout to a ConfigMap that does not exist: no snapshot, the old revision's ConfigMap exists: rolled back", () =>
    Effect.gen(function*() {
      const ref = (name: string) => [{ name: "FEATURE_FLAGS", valueFrom: { configMapKeyRef: { name, key: "flags" } } }]
      const s = yield* sim(c3().with({
        workloads: [{ name: "api", replicas: 2, image: "registry.example.com/shop/api:1.4.2", port: 8080, env: ref("api-config-v1") }],
        objects: [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "api-config-v1", namespace: "default" }, data: { flags: "beta=on" } }],
        steps: [{ after: "3m", action: "rollout", namespace: "default", workload: "api", env: ref("api-config-v2"), changeCause: "deploy api config v2 (commit 7a7a7a7)" }]
      } as any).build())
      const report = yield* handleFirst(s, apiPod("k8s.pod.create_container_config_error"))
      assertRecovered(report, "missing_configmap_or_secret")
      assert.strictEqual(deploymentOf(s).spec.template.spec.containers[0].env[0].valueFrom.configMapKeyRef.name, "api-config-v1")
      assert.isUndefined(s.api.store.get({ group: "", version: "v1", resource: "configmaps" }, "default", "api-config-v2"), "nothing invented")
      assertAllReady(s)
    }).pipe(Effect.scoped), 120_000)

  it.effect("failed_init_container (a migration) escalates and mutates nothing", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.failedInit({ name: "api" })).build())
      const report = yield* handleFirst(s, (x) => x.type === "k8s.pod.init_failed")
      assert.strictEqual(report.classification.class, "failed_init_container")
      assert.strictEqual(report.status, "escalated")
      assert.match(JSON.stringify(report.outcomes), /database migration/)
      assert.deepStrictEqual(writes(s), [])
    }).pipe(Effect.scoped), 120_000)

  it.effect("a missing Secret escalates and mutates nothing (Secrets are never restored, BytePort never invents data)", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.missingSecret({ name: "api" })).build())
      const report = yield* handleFirst(s, apiPod("k8s.pod.create_container_config_error"), { snapshots: true })
      assert.strictEqual(report.classification.class, "missing_configmap_or_secret")
      assert.strictEqual(report.status, "escalated")
      assert.match(JSON.stringify(report.outcomes), /Secrets are never restored/)
      assert.deepStrictEqual(writes(s), [])
    }).pipe(Effect.scoped), 120_000)

  it.effect("node_pressure_eviction: the node's MemoryPressure is handed off; no workload is touched", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.node.memoryPressure({ node: "node-2" })).build())
      const report = yield* handleFirst(s, (x) => x.type === "k8s.pod.evicted")
      assert.strictEqual(report.classification.class, "node_pressure_eviction")
      const plan = report.plan
      assert.strictEqual(plan.root._tag, "HandOff")
      assert.strictEqual(plan.root.signal.type, "k8s.node.memory_pressure")
      assert.strictEqual(plan.root.signal.target.ref.endsWith("/node-2"), true)
      assert.deepStrictEqual(writes(s), [])
    }).pipe(Effect.scoped), 120_000)
})

describe("k8s.crashloop.seven-class e2e: observe and dry_run", () => {
  for (const mode of ["observe", "dry_run"] as const) {
    it.effect(`${mode}: a bad tag writes ${mode === "dry_run" ? "only with dryRun=All" : "nothing"}; the Deployment keeps the bad image`, () =>
      Effect.gen(function*() {
        const s = yield* sim(c3().with(Scenario.crashloop.badImageTag({ name: "api" })).build())
        const report = yield* handleFirst(s, apiPod("k8s.pod.image_pull_failed"), { mode })
        assert.strictEqual(report.classification.class, "bad_image_or_tag")
        assert.deepStrictEqual(writes(s), [])
        const dry = mutations(s).dryRun.filter((r) => r.path.endsWith("/deployments/api"))
        assert.strictEqual(dry.length, mode === "dry_run" ? 1 : 0)
        assert.strictEqual(deploymentOf(s).spec.template.spec.containers[0].image, "registry.example.com/shop/api:1.4.3-rc0")
      }).pipe(Effect.scoped), 120_000)
  }
})
