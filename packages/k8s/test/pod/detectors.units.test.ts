import { assert, describe, it } from "@effect/vitest"
import * as CrashLoop from "../../src/detectors/crashLoop"
import * as ConfigError from "../../src/detectors/configError"
import * as Evicted from "../../src/detectors/evicted"
import * as ImagePull from "../../src/detectors/imagePull"
import * as InitFailure from "../../src/detectors/initFailure"
import * as Pending from "../../src/detectors/pending"
import { decodeEvidence, Episodes, PodSignalTypes } from "../../src/detectors/podSignals"
import { Effect } from "effect"
import * as Restarts from "../../src/detectors/restarts"
import { cs, iso, pod, T0, terminated, waiting } from "./pods"

const MIN = 60_000

describe("restart loop: ≥3 restarts in 10 minutes, each side of the threshold", () => {
  const at = (restartCount: number, finishedAt: number) => pod({ status: { phase: "Running", containerStatuses: [cs("app", { restartCount, lastState: terminated(1, "Error", finishedAt) })] } })
  const run = (restartTimes: ReadonlyArray<number>, now: number, settings: { restarts: number; windowMinutes: number } = Restarts.defaults) => {
    const h = new Map<string, Restarts.History>()
    Restarts.observe(at(0, T0), T0, h, settings)
    let out: ReadonlyArray<Restarts.Loop> = []
    restartTimes.forEach((t, i) => {
      const o = Restarts.observe(at(i + 1, t), Math.max(t, i === restartTimes.length - 1 ? now : t), h, settings)
      out = [...out, ...o]
    })
    return out
  }
  it("3 restarts within 10 minutes (the oldest exactly 10 min old) → one signal", () => {
    const got = run([T0 + 1 * MIN, T0 + 5 * MIN, T0 + 11 * MIN], T0 + 11 * MIN)
    assert.strictEqual(got.length, 1)
    assert.strictEqual(got[0]!.restarts, 3)
    assert.strictEqual(got[0]!.lastReason, "Error")
  })
  it("3 restarts spanning 10 min + 1 ms → no signal", () => {
    assert.strictEqual(run([T0 + 1 * MIN, T0 + 5 * MIN, T0 + 11 * MIN + 1], T0 + 11 * MIN + 1).length, 0)
  })
  it("2 restarts → no signal; the threshold and window are configurable", () => {
    assert.strictEqual(run([T0 + MIN, T0 + 2 * MIN], T0 + 2 * MIN).length, 0)
    assert.strictEqual(run([T0 + MIN, T0 + 2 * MIN], T0 + 2 * MIN, { restarts: 2, windowMinutes: 10 }).length, 1)
    assert.strictEqual(run([T0 + MIN, T0 + 5 * MIN, T0 + 9 * MIN], T0 + 9 * MIN, { restarts: 3, windowMinutes: 5 }).length, 0)
  })
  it("restarts before the first sighting never count; one signal per crossing, re-armed below the threshold", () => {
    const h = new Map<string, Restarts.History>()
    assert.strictEqual(Restarts.observe(at(40, T0), T0, h).length, 0, "a pod seen with 40 restarts is history")
    assert.strictEqual(Restarts.observe(at(41, T0 + MIN), T0 + MIN, h).length, 0)
    assert.strictEqual(Restarts.observe(at(42, T0 + 2 * MIN), T0 + 2 * MIN, h).length, 0)
    assert.strictEqual(Restarts.observe(at(43, T0 + 3 * MIN), T0 + 3 * MIN, h).length, 1)
    assert.strictEqual(Restarts.observe(at(44, T0 + 4 * MIN), T0 + 4 * MIN, h).length, 0, "still looping: no second signal")
    assert.strictEqual(Restarts.observe(at(44, T0 + 4 * MIN), T0 + 30 * MIN, h).length, 0, "quiet: re-armed")
    Restarts.observe(at(45, T0 + 31 * MIN), T0 + 31 * MIN, h)
    Restarts.observe(at(46, T0 + 32 * MIN), T0 + 32 * MIN, h)
    assert.strictEqual(Restarts.observe(at(47, T0 + 33 * MIN), T0 + 33 * MIN, h).length, 1, "a new loop is a new signal")
  })
})

describe("Pending > 5 minutes, each side of the threshold, and the ignored pods", () => {
  const unscheduled = (o: Parameters<typeof pod>[0] = {}) =>
    pod({ ...o, status: { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes are available: 3 Insufficient memory.", lastTransitionTime: iso(T0) }], ...o.status } })
  const none = { autoscalerAwaited: false, surge: false }
  it("4:59.999 → Young; 5:00 → Overdue (inclusive)", () => {
    assert.strictEqual(Pending.stateOf(unscheduled(), T0 + 5 * MIN - 1, none)._tag, "Young")
    const s = Pending.stateOf(unscheduled(), T0 + 5 * MIN, none)
    assert.strictEqual(s._tag, "Overdue")
    if (s._tag === "Overdue") {
      assert.strictEqual(s.reason, "Unschedulable")
      assert.match(s.message ?? "", /Insufficient memory/)
    }
    assert.strictEqual(Pending.stateOf(unscheduled(), T0 + 3 * MIN, none, { pendingMinutes: 2 })._tag, "Overdue")
  })
  it("counts from the PodScheduled=False transition, else from creation", () => {
    const p = pod({ created: T0, status: { phase: "Pending" } })
    assert.strictEqual(Pending.pendingSince(p), T0)
  })
  it("gated, nominated, autoscaler-awaited and surge pods are ignored", () => {
    assert.deepStrictEqual(Pending.stateOf(unscheduled({ spec: { schedulingGates: [{ name: "example.com/quota" }] } }), T0 + 60 * MIN, none), { _tag: "Ignored", why: "gated" })
    assert.deepStrictEqual(Pending.stateOf(pod({ status: { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "SchedulingGated" }] } }), T0 + 60 * MIN, none), { _tag: "Ignored", why: "gated" })
    assert.deepStrictEqual(Pending.stateOf(unscheduled({ status: { phase: "Pending", nominatedNodeName: "node-2" } }), T0 + 60 * MIN, none), { _tag: "Ignored", why: "nominated" })
    assert.deepStrictEqual(Pending.stateOf(unscheduled(), T0 + 60 * MIN, { autoscalerAwaited: true, surge: false }), { _tag: "Ignored", why: "autoscaler-awaited" })
    assert.deepStrictEqual(Pending.stateOf(unscheduled(), T0 + 60 * MIN, { autoscalerAwaited: false, surge: true }), { _tag: "Ignored", why: "surge" })
  })
  it("scheduled pods (a node, or Running) are not Pending", () => {
    assert.strictEqual(Pending.stateOf(pod({ node: "node-1", status: { phase: "Pending" } }), T0 + 60 * MIN, none)._tag, "NotPending")
    assert.strictEqual(Pending.stateOf(pod({ status: { phase: "Running" } }), T0 + 60 * MIN, none)._tag, "NotPending")
  })
  it("a surge pod: another ReplicaSet of the same Deployment still has pods", () => {
    const rs = (name: string, replicas: number) => ({ metadata: { name, ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "api", uid: "d", controller: true }] }, status: { replicas } }) as any
    const p = unscheduled({ owner: { kind: "ReplicaSet", name: "api-new" } })
    assert.isTrue(Pending.isSurge(p, [rs("api-new", 1), rs("api-old", 3)]))
    assert.isFalse(Pending.isSurge(p, [rs("api-new", 1), rs("api-old", 0)]))
    assert.isFalse(Pending.isSurge(unscheduled(), [rs("api-old", 3)]), "a bare pod is never a surge pod")
  })
})

describe("waiting-reason detectors report once per episode", () => {
  it("CrashLoopBackOff: once until the container is Ready again; init containers are not crash-loop signals", () => {
    const e = new Episodes()
    const loop = pod({ status: { containerStatuses: [cs("app", { restartCount: 3, state: waiting("CrashLoopBackOff") })], initContainerStatuses: [cs("init", { state: waiting("CrashLoopBackOff") })] } })
    assert.deepStrictEqual(CrashLoop.scan(loop, e).map((x) => x.container), ["app"])
    assert.strictEqual(CrashLoop.scan(loop, e).length, 0)
    CrashLoop.scan(pod({ status: { containerStatuses: [cs("app", { ready: true, state: { running: {} } })] } }), e)
    assert.strictEqual(CrashLoop.scan(loop, e).length, 1, "a recovered container re-arms")
  })
  it("a sidecar-only crash loop is the sidecar's signal, not the app's", () => {
    const e = new Episodes()
    const p = pod({ spec: { containers: [{ name: "app" }, { name: "proxy" }] }, status: { containerStatuses: [cs("app", { ready: true, state: { running: {} } }), cs("proxy", { restartCount: 4, state: waiting("CrashLoopBackOff"), lastState: terminated(1, "Error") })] } })
    assert.deepStrictEqual(CrashLoop.scan(p, e).map((x) => x.container), ["proxy"])
  })
  it("ErrImagePull ↔ ImagePullBackOff is one episode; a new image is a new one", () => {
    const reported = new Map<string, string>()
    const p = (reason: string, image: string) => pod({ spec: { containers: [{ name: "app", image }] }, status: { containerStatuses: [cs("app", { state: waiting(reason, "x") })] } })
    assert.strictEqual(ImagePull.scan(p("ErrImagePull", "api:2"), reported).length, 1)
    assert.strictEqual(ImagePull.scan(p("ImagePullBackOff", "api:2"), reported).length, 0)
    assert.strictEqual(ImagePull.scan(p("ErrImagePull", "api:2"), reported).length, 0)
    const next = ImagePull.scan(p("ErrImagePull", "api:3"), reported)
    assert.deepStrictEqual(next.map((w) => w.image), ["api:3"])
  })
  it("CreateContainerConfigError: once until the container starts", () => {
    const e = new Episodes()
    const p = pod({ status: { containerStatuses: [cs("app", { state: waiting("CreateContainerConfigError", 'configmap "api-config" not found') })] } })
    assert.strictEqual(ConfigError.scan(p, e).length, 1)
    assert.strictEqual(ConfigError.scan(p, e).length, 0)
    ConfigError.scan(pod({ status: { containerStatuses: [cs("app", { state: { running: {} } })] } }), e)
    assert.strictEqual(ConfigError.scan(p, e).length, 1)
  })
})

describe("Init:* failures as kubectl prints them", () => {
  const withInit = (...statuses: ReadonlyArray<ReturnType<typeof cs>>) => pod({ status: { phase: "Pending", initContainerStatuses: [...statuses] } })
  it("Init:Error, Init:CrashLoopBackOff, Init:ExitCode, Init:OOMKilled", () => {
    assert.strictEqual(InitFailure.initFailureOf(withInit(cs("migrate", { state: terminated(1, "Error") })))?.status, "Init:Error")
    const loop = InitFailure.initFailureOf(withInit(cs("migrate", { restartCount: 3, state: waiting("CrashLoopBackOff"), lastState: terminated(1, "Error") })))
    assert.deepStrictEqual([loop?.status, loop?.exitCode, loop?.reason], ["Init:CrashLoopBackOff", 1, "Error"])
    assert.strictEqual(InitFailure.initFailureOf(withInit(cs("migrate", { state: { terminated: { exitCode: 3, reason: "" } } })))?.status, "Init:ExitCode:3")
    assert.strictEqual(InitFailure.initFailureOf(withInit(cs("migrate", { state: terminated(137, "OOMKilled") })))?.status, "Init:OOMKilled")
  })
  it("progress, completion, and pull/config waits are no init failure", () => {
    assert.isUndefined(InitFailure.initFailureOf(withInit(cs("migrate", { state: { running: {} } }))))
    assert.isUndefined(InitFailure.initFailureOf(withInit(cs("a", { state: terminated(0, "Completed") }), cs("b", { state: waiting("PodInitializing") }))))
    assert.isUndefined(InitFailure.initFailureOf(withInit(cs("migrate", { state: waiting("ImagePullBackOff") }))))
    assert.isUndefined(InitFailure.initFailureOf(withInit(cs("migrate", { state: waiting("CreateContainerConfigError") }))))
    assert.strictEqual(InitFailure.initFailureOf(withInit(cs("a", { state: terminated(0, "Completed") }), cs("b", { state: terminated(2, "Error") })))?.container, "b")
  })
})

describe("Evicted", () => {
  it("phase Failed with reason Evicted only", () => {
    assert.isTrue(Evicted.isEvicted(pod({ status: { phase: "Failed", reason: "Evicted" } })))
    assert.isFalse(Evicted.isEvicted(pod({ status: { phase: "Failed", reason: "DeadlineExceeded" } })))
    assert.isFalse(Evicted.isEvicted(pod({ status: { phase: "Running" } })))
  })
})

describe("evidence schemas", () => {
  it.effect("a signal's evidence decodes against its type's schema; a bad field is named", () =>
    Effect.gen(function*() {
      const ok = { namespace: "default", pod: "api-1", container: "app", node: null, restarts: 3, windowMinutes: 10, restartCount: 7, lastReason: "Error", lastExitCode: 1 }
      assert.deepStrictEqual(yield* decodeEvidence(PodSignalTypes.restartLoop, ok), ok)
      const bad = yield* Effect.flip(decodeEvidence(PodSignalTypes.restartLoop, { ...ok, restarts: "3" }))
      assert.match(String(bad), /restarts/)
    }))
})
