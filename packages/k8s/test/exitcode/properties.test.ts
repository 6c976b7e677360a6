/** Every "never" of k8s.crashloop.exit-code and k8s.oom.exit-137, property-tested. */
import { assert, describe, it } from "@effect/vitest"
import { Action, Classification, Fact, MemoryStore, Plan, TargetRef } from "@byteport/core"
import { Effect } from "effect"
import * as fc from "fast-check"
import * as Classifier from "../../src/classifiers/exitCode"
import type { ExitCodeFacts } from "../../src/classifiers/exitCode"
import type { PodFacts } from "../../src/classifiers/oom"
import * as Remediator from "../../src/remediators/exitCode"
import * as ExitCode from "../../src/runbooks/k8s.crashloop.exit-code"
import * as Exit137 from "../../src/runbooks/k8s.oom.exit-137"
import { cs, iso, pod, T0 } from "../pod/pods"

const REASONS = ["OOMKilled", "Error", "StartError", "ContainerCannotRun", "Completed", "ContainerStatusUnknown"]
const WAITING = ["CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError", "ContainerCreating"]
const MESSAGES = [
  "", 'secret "db" not found', "couldn't find key password in Secret default/db", "failed to fetch oauth token: 401 Unauthorized",
  "pull access denied, repository does not exist or may require authorization", 'exec: "/app/server": executable file not found in $PATH', "i/o timeout"
]
const refArb = fc.record({
  kind: fc.constantFrom("ConfigMap" as const, "Secret" as const, "ServiceAccount" as const),
  name: fc.constantFrom("db", "cfg", "regcred", "default"),
  key: fc.option(fc.constantFrom("password", "v"), { nil: null }),
  use: fc.constantFrom("env" as const, "envFrom" as const, "volume" as const, "imagePullSecret" as const, "serviceAccount" as const),
  resourceVersion: fc.option(fc.constantFrom("1", "7"), { nil: null }),
  hasKey: fc.option(fc.boolean(), { nil: null })
})
const caseArb = fc.record({
  exitCode: fc.integer({ min: 0, max: 255 }),
  reason: fc.constantFrom(...REASONS),
  waiting: fc.option(fc.constantFrom(...WAITING), { nil: undefined }),
  message: fc.constantFrom(...MESSAGES),
  sidecar: fc.boolean(),
  owner: fc.constantFrom("Deployment", "StatefulSet", "Pod", null),
  refs: fc.array(refArb, { maxLength: 4 })
})

const stepsOf = (s: Plan.Step): ReadonlyArray<Plan.Step> => {
  switch (s._tag) {
    case "Seq":
    case "Until":
      return [s, ...s.steps.flatMap(stepsOf)]
    case "Fallback":
      return [s, ...stepsOf(s.primary), ...stepsOf(s.otherwise)]
    default:
      return [s]
  }
}
const acts = (p: Plan.Plan) => stepsOf(p.root).flatMap((s) => (s._tag === "Act" ? [s.action] : []))

describe("k8s.crashloop.exit-code never", () => {
  it.effect("bumps memory, restarts a bare pod, or restarts before a WaitFor on the cause being gone", () =>
    Effect.promise(() =>
      fc.assert(fc.asyncProperty(caseArb, async (x) => {
        const spec = x.sidecar ? { containers: [{ name: "app" }, { name: "proxy" }] } : undefined
        const statuses = [cs("app", { restartCount: 3, state: x.waiting ? { waiting: { reason: x.waiting, message: x.message } } : { running: {} }, lastState: { terminated: { exitCode: x.exitCode, reason: x.reason, message: x.message } } })]
        const p = pod({ owner: { kind: "ReplicaSet", name: "api-1" }, ...(spec ? { spec } : {}), status: { containerStatuses: x.sidecar ? [cs("app", { ready: true, state: { running: {} } }), { ...statuses[statuses.length - 1]!, name: "proxy" }] : statuses } })
        const container = x.sidecar ? "proxy" : "app"
        const facts: Fact.Facts<ExitCodeFacts> = {
          subject: Fact.known({ pod: p, container }),
          owner: Fact.known(x.owner === null ? null : { kind: x.owner, name: "api", resourceVersion: "1" }),
          refs: Fact.known(x.refs)
        }
        const c = Classifier.classify()(facts)
        if (x.sidecar) assert.notStrictEqual(c._tag, "Classified", "a sidecar-only crash never classifies")
        if (x.waiting === undefined && x.exitCode === 126) assert.notStrictEqual(c._tag === "Classified" && c.class, "missing_binary")
        if (c._tag !== "Classified") return
        const target = TargetRef.make("k8s.workload", `prod/default/${x.owner ?? "Pod"}/${x.owner === "Pod" || x.owner === null ? "api-1" : "api"}/${container}`)
        const plan = await Effect.runPromise(Remediator.plan(c, facts, { type: "k8s.pod.crash_loop_back_off", target, observedAt: T0, evidence: { pod: "api-1", namespace: "default", container } }))
        const kinds = acts(plan).map((a) => a.kind)
        assert.isFalse(kinds.some((k) => k !== "k8s.restartPod"), `only restarts, never ${kinds.join(", ")}`)
        if (x.owner === null || x.owner === "Pod") assert.strictEqual(kinds.length, 0, "a bare pod is never restarted")
        if (kinds.length > 0) {
          const root = plan.root
          assert.strictEqual(root._tag, "Seq")
          const first = (root as Extract<Plan.Step, { _tag: "Seq" }>).steps[0]!
          assert.isTrue(first._tag === "WaitFor" && first.check.kind === Remediator.CAUSE_GONE, "the restart waits for the cause to be gone")
        }
        if (c.class === "oom_killed") assert.strictEqual(plan.root._tag, "HandOff")
      })).then(() => undefined)))

  it.effect("restarts a workload more than 3 times an hour or sooner than its back-off", () =>
    Effect.promise(() =>
      fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 600 }), { minLength: 1, maxLength: 12 }), async (gaps) => {
        const gs = ExitCode.restartGuardrails()
        const passed: Array<number> = []
        await Effect.runPromise(Effect.gen(function*() {
          let now = 0
          for (const gap of gaps) {
            now += gap * 1000
            const action = Action.make({ kind: "k8s.restartPod", target: TargetRef.make("k8s.pod", `prod/shop/api-${now}`), params: { uid: String(now), reason: "p" }, description: "r" })
            const ctx = {
              incidentId: `i${now}`, runbook: ExitCode.ID, mode: "auto" as const, facts: {}, planDigest: "d", stepPath: "0", now, baseline: {}, action,
              signal: { type: "t", target: TargetRef.make("k8s.workload", "prod/shop/Deployment/api/app"), observedAt: now, evidence: {} },
              classification: Classification.classified("config_error", 0.9, []),
              plan: Plan.make(ExitCode.ID, "config_error", "x", Plan.act(action))
            }
            let ok = true
            for (const g of gs) if ((yield* g.acquire(ctx)).result._tag !== "Pass") ok = false
            if (ok) passed.push(now)
          }
        }).pipe(Effect.provide(MemoryStore.layer)))
        for (let i = 0; i < passed.length; i++) {
          assert.isAtMost(passed.filter((t) => t > passed[i]! - 3_600_000 && t <= passed[i]!).length, 3)
          if (i > 0) assert.isAtLeast(passed[i]! - passed[i - 1]!, 30_000)
        }
      }), { numRuns: 60 }).then(() => undefined)))
})

describe("k8s.oom.exit-137 never", () => {
  const podFacts = (reason: string, exitCode: number, env: ReadonlyArray<{ name: string; value: string }>): PodFacts => ({
    namespace: "default", pod: "api-1", container: "app", node: "n1", restartCount: 2, memoryLimitBytes: 512 * 2 ** 20, memoryRequestBytes: null,
    lastTermination: { reason, exitCode, finishedAt: iso(T0) }, ready: false, workload: null, env
  })
  it("bumps a kill the OOM killer did not make, or a limit below the runtime's heap ceiling", () =>
    fc.assert(fc.property(
      fc.constantFrom(...REASONS),
      fc.integer({ min: 0, max: 255 }),
      fc.option(fc.integer({ min: 64, max: 4096 }), { nil: null }),
      fc.constantFrom("Deployment", "StatefulSet", "Pod", null),
      (reason, exitCode, heapMi, owner) => {
        const env = heapMi === null ? [] : [{ name: "JAVA_TOOL_OPTIONS", value: `-Xmx${heapMi}m` }]
        const p = podFacts(reason, exitCode, env)
        const facts: Fact.Facts<Exit137.Exit137Facts> = {
          pod: Fact.known(p), podUid: Fact.known("uid-1"),
          owner: Fact.known(owner === null ? null : { kind: owner, name: "api", resourceVersion: "1" }),
          workload: Fact.known(null),
          runtimeHeap: Fact.known(heapMi === null ? null : { runtime: "jvm" as const, variable: "JAVA_TOOL_OPTIONS", setting: `-Xmx${heapMi}m`, heapBytes: heapMi * 2 ** 20 }),
          node: Fact.known({ name: "n1", resourceVersion: "1", unschedulable: false, memoryPressure: false, allocatableMemoryBytes: 8 * 2 ** 30 })
        }
        const c = Exit137.classify()(facts)
        if (c._tag !== "Classified") return
        const plan = Exit137.plan(c, facts, { type: "k8s.pod.oom_killed", target: TargetRef.make("k8s.workload", `prod/default/${owner ?? "Pod"}/api/app`), observedAt: T0, evidence: {} })
        const bumps = acts(plan).filter((a) => a.kind === "k8s.patchMemoryLimit")
        if (bumps.length === 0) return
        assert.strictEqual(reason, "OOMKilled", "only OOMKilled kills are bumped")
        assert.isTrue(owner === "Deployment" || owner === "StatefulSet", "only Deployments and StatefulSets are patched")
        const to = bumps[0]!.params["toBytes"] as number
        assert.isTrue(heapMi === null || heapMi * 2 ** 20 <= to, "never a bump below the heap ceiling")
        assert.isAtMost(to, 2 * 512 * 2 ** 20)
      }
    ), { numRuns: 300 }))
})
