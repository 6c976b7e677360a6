/**
 * The pod-family action kinds end to end on kube-sim through the real client-node and the
 * executor (genuine permits): each kind's effect is read from cluster state, dry_run writes
 * only with dryRun=All, and each kind's guardrails deny what they must.
 */
import { assert, describe, it } from "@effect/vitest"
import { TimedUndo } from "@byteport/core"
import { CoreV1Api } from "@kubernetes/client-node"
import { Effect, Option } from "effect"
import * as ConfigMapSnapshots from "../../src/actions/configMapSnapshots"
import * as LoosenProbe from "../../src/actions/loosenProbe"
import * as PinImageDigest from "../../src/actions/pinImageDigest"
import * as RestartPod from "../../src/actions/restartPod"
import * as RestoreConfigMap from "../../src/actions/restoreConfigMap"
import * as SetDebugLogging from "../../src/actions/setDebugLogging"
import * as Kube from "../../src/Kube"
import * as KubePatch from "../../src/KubePatch"
import * as Targets from "../../src/targets/Targets"
import { action, mutations, observe, podsOf, ready, restarts, run, services, world } from "./world"

const IMAGE = "registry.example.com/shop/web:1.0.0"
const container = (name: string) => Targets.workload({ cluster: "kube-sim", namespace: "default", kind: "Deployment", name, container: name })

describe("pod-family actions on kube-sim", () => {
  it.live("k8s.loosenProbe (timeout): liveness timeoutSeconds doubled from the baseline, handler kept, no more liveness kills; 1 per 24 h", () =>
    Effect.gen(function*() {
      const sim = yield* world({
        workloads: [{ name: "web", replicas: 1, image: IMAGE, port: 8080, behaviour: { probeLatencyMs: 1500 }, livenessProbe: { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3 } }]
      })
      sim.advance("3m")
      assert.isAbove(restarts(sim, "web"), 0, "the 1 s timeout kills the slow health endpoint")
      yield* Effect.gen(function*() {
        const kube = yield* Kube.Kube
        const d = yield* kube.getDeployment("default", "web")
        const c = d.spec!.template.spec!.containers[0]!
        const params = LoosenProbe.paramsFor(c, "timeoutSeconds", { baseline: 1, reason: "liveness timeouts" })!
        assert.deepInclude(params, { from: 1, to: 2 })
        const loosen = action({ kind: LoosenProbe.KIND, target: container("web"), precondition: { resourceVersion: d.metadata!.resourceVersion! }, params, description: "loosen web liveness timeout" })
        // dry_run: validated with dryRun=All only
        const before = mutations(sim).real.length
        const dry = yield* run(loosen, { mode: "dry_run", baseline: { livenessTimeoutSeconds: 1 } })
        assert.strictEqual(dry.outcomes[0]!.status, "dry_run", dry.detail)
        assert.strictEqual(mutations(sim).real.length, before)
        assert.isAbove(mutations(sim).dryRun.length, 0)
        assert.strictEqual((yield* kube.getDeployment("default", "web")).spec!.template.spec!.containers[0]!.livenessProbe!.timeoutSeconds, 1)
        // auto
        assert.strictEqual(yield* observe(loosen), "NotApplied")
        const r = yield* run(loosen, { baseline: { livenessTimeoutSeconds: 1 } })
        assert.strictEqual(r.status, "completed", r.detail)
        assert.strictEqual(yield* observe(loosen), "Applied")
        const after = (yield* kube.getDeployment("default", "web")).spec!.template.spec!.containers[0]!
        assert.strictEqual(after.livenessProbe!.timeoutSeconds, 2)
        assert.deepStrictEqual(after.livenessProbe!.httpGet, c.livenessProbe!.httpGet)
        assert.strictEqual(after.livenessProbe!.periodSeconds, 10)
        const events = (yield* kube.listEvents({ namespace: "default" })).filter((e) => e.reason === "ProbeLoosened")
        assert.strictEqual(events.length, 1)
        // the new pods are not killed any more
        sim.advance("1m")
        const settled = restarts(sim, "web")
        sim.advance("10m")
        assert.strictEqual(restarts(sim, "web"), settled, "no liveness kills after the loosening")
        assert.isTrue(podsOf(sim, "web").every(ready))
        // a second loosening within 24 h is denied (the baseline would allow 2 → 4)
        const again = LoosenProbe.paramsFor(after, "timeoutSeconds", { baseline: 2, reason: "again" })!
        const denied = yield* run(action({ kind: LoosenProbe.KIND, target: container("web"), params: again, description: "again" }), { baseline: { livenessTimeoutSeconds: 2 } })
        assert.strictEqual(denied.status, "denied")
        assert.match(denied.detail, /probe_loosenings_per_workload_container/)
        // compounding is denied by the lease baseline (1 s → at most 2 s)
        const compound = yield* run(action({ kind: LoosenProbe.KIND, target: container("web"), params: again, description: "compound" }), { baseline: { livenessTimeoutSeconds: 1 } })
        assert.strictEqual(compound.status, "denied")
        assert.match(compound.detail, /2× baseline/)
      }).pipe(Effect.provide(services(sim)))
    }).pipe(Effect.scoped), 60_000)

  it.live("k8s.loosenProbe (startup): a same-handler startupProbe with 2× the budget lets a slow starter reach Ready", () =>
    Effect.gen(function*() {
      const sim = yield* world({
        workloads: [{ name: "api", replicas: 1, image: IMAGE, port: 8080, behaviour: { startupSeconds: 30 }, livenessProbe: { httpGet: { path: "/healthz", port: 8080 }, initialDelaySeconds: 5, periodSeconds: 5, timeoutSeconds: 1, failureThreshold: 3 } }]
      })
      sim.advance("3m")
      assert.isAbove(restarts(sim, "api"), 0, "killed before first Ready (budget 20 s, start-up 30 s)")
      yield* Effect.gen(function*() {
        const kube = yield* Kube.Kube
        const d = yield* kube.getDeployment("default", "api")
        const c = d.spec!.template.spec!.containers[0]!
        const params = LoosenProbe.paramsFor(c, "startupBudgetSeconds", { baseline: 20, reason: "killed before first Ready" })!
        assert.deepInclude(params, { from: 20, to: 40 })
        const startup = action({ kind: LoosenProbe.KIND, target: container("api"), params, description: "add startup probe" })
        assert.strictEqual(yield* observe(startup), "NotApplied")
        const r = yield* run(startup, { baseline: { startupBudgetSeconds: 20 } })
        assert.strictEqual(r.status, "completed", r.detail)
        assert.strictEqual(yield* observe(startup), "Applied")
        const after = (yield* kube.getDeployment("default", "api")).spec!.template.spec!.containers[0]!
        assert.deepStrictEqual(after.startupProbe!.httpGet, c.livenessProbe!.httpGet, "the startupProbe calls the liveness handler")
        assert.deepStrictEqual(after.livenessProbe, c.livenessProbe, "the liveness probe is untouched")
        sim.advance("2m")
        const settled = restarts(sim, "api")
        sim.advance("10m")
        assert.strictEqual(restarts(sim, "api"), settled)
        assert.isTrue(podsOf(sim, "api").length > 0 && podsOf(sim, "api").every(ready))
      }).pipe(Effect.provide(services(sim)))
    }).pipe(Effect.scoped), 60_000)

  it.live("k8s.restartPod: deletes the not-Ready pod (uid precondition) once its dependency is fixed; never a Ready or replaced pod", () =>
    Effect.gen(function*() {
      const sim = yield* world({
        workloads: [
          { name: "postgres", replicas: 0, image: "registry.example.com/infra/postgres:16", port: 5432, service: { port: 5432 }, readinessProbe: { tcpSocket: { port: 5432 }, periodSeconds: 5 } },
          { name: "api", replicas: 1, image: IMAGE, port: 8080, behaviour: { dependsOn: ["postgres"] } }
        ]
      })
      sim.advance("5m")
      yield* Effect.gen(function*() {
        const kube = yield* Kube.Kube
        const pod = podsOf(sim, "api")[0]
        assert.isFalse(ready(pod), "the api pod crash-loops on connection refused")
        const pg = yield* kube.getDeployment("default", "postgres")
        yield* kube.patch("Deployment", { namespace: "default", name: "postgres" }, KubePatch.strategic(pg.metadata!.resourceVersion!, { spec: { replicas: 1 } }))
        sim.advance("30s")
        assert.isTrue(podsOf(sim, "postgres").every(ready))
        const podTarget = Targets.pod({ cluster: "kube-sim", namespace: "default", name: pod.metadata.name })
        const restart = action({ kind: RestartPod.KIND, target: podTarget, params: { uid: pod.metadata.uid, reason: "dependency healthy again" }, description: "restart api pod" })
        const dry = yield* run(restart, { mode: "dry_run" })
        assert.strictEqual(dry.outcomes[0]!.status, "dry_run", dry.detail)
        assert.strictEqual(podsOf(sim, "api")[0]!.metadata.uid, pod.metadata.uid)
        assert.strictEqual(yield* observe(restart), "NotApplied")
        const r = yield* run(restart)
        assert.strictEqual(r.status, "completed", r.detail)
        assert.strictEqual(yield* observe(restart), "Applied")
        sim.advance("30s")
        const now = podsOf(sim, "api")
        assert.isFalse(now.some((p) => p.metadata.uid === pod.metadata.uid), "the old pod is gone")
        assert.isTrue(now.length === 1 && ready(now[0]), "its replacement starts at once, no back-off")
        // a replaced pod (the planned uid is gone) and a Ready pod are never deleted
        const stale = yield* run(action({ kind: RestartPod.KIND, target: Targets.pod({ cluster: "kube-sim", namespace: "default", name: now[0].metadata.name }), params: { uid: pod.metadata.uid, reason: "x" }, description: "stale" }))
        assert.strictEqual(stale.status, "denied")
        const readyPod = podsOf(sim, "postgres")[0]
        const denied = yield* run(action({ kind: RestartPod.KIND, target: Targets.pod({ cluster: "kube-sim", namespace: "default", name: readyPod.metadata.name }), params: { uid: readyPod.metadata.uid, reason: "x" }, description: "ready" }))
        assert.strictEqual(denied.status, "denied")
        assert.match(denied.detail, /is Ready/)
        assert.strictEqual(podsOf(sim, "postgres")[0]!.metadata.uid, readyPod.metadata.uid)
      }).pipe(Effect.provide(services(sim)))
    }).pipe(Effect.scoped), 60_000)

  it.live("k8s.restoreConfigMap: only from BytePort's snapshot (off by default), exact data, create-only, labelled; the pod starts", () =>
    Effect.gen(function*() {
      const sim = yield* world({
        workloads: [{ name: "api", replicas: 1, image: IMAGE, port: 8080, env: [{ name: "FEATURE_FLAGS", valueFrom: { configMapKeyRef: { name: "api-config", key: "flags" } } }] }],
        objects: [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "api-config", namespace: "default", labels: { team: "shop" } }, data: { flags: "beta=on\nx=1" }, binaryData: { blob: "AAEC" } }]
      })
      const restore = action({ kind: RestoreConfigMap.KIND, target: container("api"), params: { namespace: "default", name: "api-config", reason: "deleted" }, description: "restore api-config" })
      const deleted = Effect.gen(function*() {
        const kube = yield* Kube.Kube
        const core = kube.kubeConfig.makeApiClient(CoreV1Api)
        yield* Effect.promise(() => core.deleteNamespacedConfigMap({ namespace: "default", name: "api-config" }))
        const pod = podsOf(sim, "api")[0]
        yield* kube.deletePod("default", pod.metadata.name, { uid: pod.metadata.uid })
        sim.advance("1m")
        assert.isFalse(podsOf(sim, "api").some(ready), "the replacement cannot start without its ConfigMap")
      })
      // snapshots off (the default): nothing is taken, the restore is denied
      yield* Effect.gen(function*() {
        const snaps = yield* ConfigMapSnapshots.ConfigMapSnapshots
        assert.deepStrictEqual(yield* snaps.take("default", "api-config"), { _tag: "Disabled" })
      }).pipe(Effect.provide(services(sim)))
      yield* Effect.gen(function*() {
        const snaps = yield* ConfigMapSnapshots.ConfigMapSnapshots
        const taken = yield* snaps.take("default", "api-config")
        assert.strictEqual(taken._tag, "Taken")
        const kube = yield* Kube.Kube
        // Secrets are never referenced for a snapshot
        assert.deepStrictEqual(ConfigMapSnapshots.referencedBy({ spec: { containers: [{ name: "a", env: [{ name: "P", valueFrom: { secretKeyRef: { name: "db", key: "p" } } }], envFrom: [{ secretRef: { name: "s" } }] }] } }), [])
        assert.deepStrictEqual(ConfigMapSnapshots.referencedBy((yield* kube.getDeployment("default", "api")).spec!.template), ["api-config"])
      }).pipe(Effect.provide(services(sim, { snapshots: true })))
      yield* deleted.pipe(Effect.provide(services(sim)))
      const off = yield* run(restore).pipe(Effect.provide(services(sim)))
      assert.strictEqual(off.status, "denied")
      assert.match(off.detail, /snapshots are off/)
      yield* Effect.gen(function*() {
        const kube = yield* Kube.Kube
        const get = kube.read("get", (a) => a.core.readNamespacedConfigMap({ namespace: "default", name: "api-config" })).pipe(Effect.option)
        const dry = yield* run(restore, { mode: "dry_run" })
        assert.strictEqual(dry.outcomes[0]!.status, "dry_run", dry.detail)
        assert.isTrue(Option.isNone(yield* get))
        assert.strictEqual(yield* observe(restore), "NotApplied")
        const r = yield* run(restore)
        assert.strictEqual(r.status, "completed", r.detail)
        assert.strictEqual(yield* observe(restore), "Applied")
        const cm = Option.getOrThrow(yield* get)
        assert.deepStrictEqual(cm.data, { flags: "beta=on\nx=1" })
        assert.deepStrictEqual(cm.binaryData, { blob: "AAEC" })
        assert.strictEqual(cm.metadata!.labels!["team"], "shop")
        assert.match(cm.metadata!.labels![RestoreConfigMap.RESTORED_FROM]!, /^byteport\.byteport-snap-default\.api-config/)
        sim.advance("2m")
        assert.isTrue(podsOf(sim, "api").length === 1 && ready(podsOf(sim, "api")[0]), "the pod starts with the restored ConfigMap")
        // create-only: an existing ConfigMap is never overwritten (and a missing snapshot is denied)
        const again = yield* run(action({ ...restore, idempotencyKey: "again", description: "again" }))
        assert.strictEqual(again.status, "failed")
        assert.match(again.detail, /never overwritten/)
        const none = yield* run(action({ kind: RestoreConfigMap.KIND, target: container("api"), params: { namespace: "default", name: "never-snapshotted", reason: "x" }, description: "x" }))
        assert.strictEqual(none.status, "denied")
        assert.match(none.detail, /no snapshot/)
      }).pipe(Effect.provide(services(sim, { snapshots: true })))
    }).pipe(Effect.scoped), 60_000)

  it.live("k8s.setDebugLogging: only the declared way, undone by the timed undo; undeclared: a ChangeProposal, and the kind denies", () =>
    Effect.gen(function*() {
      const sim = yield* world({
        workloads: [
          { name: "web", replicas: 1, image: IMAGE, port: 8080, env: [{ name: "LOG_LEVEL", value: "info" }], annotations: { [SetDebugLogging.ANNOTATION]: "env:LOG_LEVEL=debug" } },
          { name: "plain", replicas: 1, image: IMAGE, port: 8080, env: [{ name: "LOG_LEVEL", value: "info" }] }
        ]
      })
      yield* Effect.gen(function*() {
        const kube = yield* Kube.Kube
        const level = (name: string) => Effect.map(kube.getDeployment("default", name), (d) => d.spec!.template.spec!.containers[0]!.env?.find((e) => e.name === "LOG_LEVEL")?.value)
        const step = SetDebugLogging.step(container("web"), yield* kube.getDeployment("default", "web"), "web", { reason: "crash loop", ttlSeconds: 1 })
        assert.strictEqual(step._tag, "Act")
        if (step._tag !== "Act") return
        const dry = yield* run(step.action, { mode: "dry_run" })
        assert.strictEqual(dry.outcomes[0]!.status, "dry_run", dry.detail)
        assert.strictEqual(yield* level("web"), "info")
        assert.strictEqual((yield* TimedUndo.pending).length, 0)
        assert.strictEqual(yield* observe(step.action), "NotApplied")
        const r = yield* run(step.action)
        assert.strictEqual(r.status, "completed", r.detail)
        assert.strictEqual(yield* level("web"), "debug")
        assert.strictEqual(yield* observe(step.action), "Applied")
        const pending = yield* TimedUndo.pending
        assert.strictEqual(pending.length, 1)
        assert.strictEqual(pending[0]!.action.params["undo"], true)
        assert.deepStrictEqual(yield* TimedUndo.runDue(), []) // not due yet
        yield* Effect.sleep("1100 millis")
        const undone = yield* TimedUndo.runDue()
        assert.strictEqual(undone[0]!.status, "completed", undone[0]!.detail)
        assert.strictEqual(yield* level("web"), "info")
        assert.strictEqual(yield* observe(pending[0]!.action), "Applied")
        assert.strictEqual(yield* observe(step.action), "NotApplied")
        const reasons = (yield* kube.listEvents({ namespace: "default" })).map((e) => e.reason)
        assert.includeMembers(reasons, ["DebugLoggingEnabled", "DebugLoggingRestored"])
        // undeclared: a proposal, and a hand-made action is denied by the kind
        const plain = yield* kube.getDeployment("default", "plain")
        assert.strictEqual(SetDebugLogging.step(container("plain"), plain, "plain", { reason: "x" })._tag, "Propose")
        const forced = action({ kind: SetDebugLogging.KIND, target: container("plain"), params: { container: "plain", env: "LOG_LEVEL", value: "debug", previous: "info", reason: "x" }, description: "forced" })
        const denied = yield* run(forced)
        assert.strictEqual(denied.status, "denied")
        assert.match(denied.detail, /never_undeclared_debug_logging/)
        assert.strictEqual(yield* level("plain"), "info")
      }).pipe(Effect.provide(services(sim)))
    }).pipe(Effect.scoped), 60_000)

  it.live("k8s.pinImageDigest: image → repo@sha256 of the last good imageID, pods run it; shares the 1/h rollback budget", () =>
    Effect.gen(function*() {
      const sim = yield* world({ workloads: [{ name: "web", replicas: 2, image: IMAGE, port: 8080 }] })
      yield* Effect.gen(function*() {
        const imageID: string = podsOf(sim, "web")[0].status.containerStatuses[0].imageID
        const pinned = PinImageDigest.pinnedReference(IMAGE, imageID)!
        assert.match(pinned, /^registry\.example\.com\/shop\/web@sha256:[a-f0-9]{64}$/)
        const pin = action({ kind: PinImageDigest.KIND, target: container("web"), params: { container: "web", fromImage: IMAGE, toImage: pinned, reason: "tag re-pushed" }, description: "pin web" })
        const dry = yield* run(pin, { mode: "dry_run" })
        assert.strictEqual(dry.outcomes[0]!.status, "dry_run", dry.detail)
        assert.strictEqual(yield* observe(pin), "NotApplied")
        const r = yield* run(pin)
        assert.strictEqual(r.status, "completed", r.detail)
        assert.strictEqual(yield* observe(pin), "Applied")
        sim.advance("2m")
        const pods = podsOf(sim, "web")
        assert.strictEqual(pods.length, 2)
        assert.isTrue(pods.every((p) => ready(p) && p.spec.containers[0].image === pinned))
        // the rollback budget (k8s.rollback:<workload>) is spent: any rollback or pin within the hour is denied
        assert.strictEqual(PinImageDigest.rollbackBudgetKey(container("web")), PinImageDigest.rollbackBudgetKey(Targets.workload({ cluster: "kube-sim", namespace: "default", kind: "Deployment", name: "web" })))
        const back = yield* run(action({ kind: PinImageDigest.KIND, target: container("web"), params: { container: "web", fromImage: pinned, toImage: pinned.replace(/.$/, "0"), reason: "x" }, description: "again" }))
        assert.strictEqual(back.status, "denied")
        assert.match(back.detail, /rollbacks_per_workload/)
        // another repository is never pinned
        const other = yield* run(action({ kind: PinImageDigest.KIND, target: container("web"), params: { container: "web", fromImage: pinned, toImage: `evil.example.com/web@sha256:${"a".repeat(64)}`, reason: "x" }, description: "other" }))
        assert.strictEqual(other.status, "denied")
        assert.match(other.detail, /never_pin_other_repository/)
      }).pipe(Effect.provide(services(sim)))
    }).pipe(Effect.scoped), 60_000)
})
