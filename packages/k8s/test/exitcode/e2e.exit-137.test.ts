/**
 * k8s.oom.exit-137 end to end on kube-sim (the real client-node, virtual time): the bump with
 * debug logging in one patch cures the OOM kills; OnDelete StatefulSets are rolled one pod at a
 * time (the OOM-killed pod first, then highest ordinal first; a failure midway escalates); a hand-off from the exit-code runbook is handled; a liveness kill (137, Error) and a
 * heap ceiling above the bumped limit write nothing; observe and dry_run write only dryRun=All.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Classification, Executor, Plan, Runbook, TimedUndo } from "@byteport/core"
import * as Targets from "../../src/targets/Targets"
import { Effect } from "effect"
import * as OomExit137 from "../../src/runbooks/k8s.oom.exit-137"
import * as ExitCodeRemediator from "../../src/remediators/exitCode"
import { advance, firstSignal, mutations, podsOf, ready, runWithSim, Scenario, services, sim } from "./harness"

const DEPLOY = { group: "apps", version: "v1", resource: "deployments" }
const STS = { group: "apps", version: "v1", resource: "statefulsets" }
const oomKillsAfter = (s: any, app: string, since: number) =>
  podsOf(s, app).flatMap((p: any) => (p.status?.containerStatuses ?? []).flatMap((c: any) => [c.lastState?.terminated, c.state?.terminated]))
    .filter((t: any) => t?.reason === "OOMKilled" && Date.parse(t.finishedAt) >= since).length

const declared = { annotations: { "byteport.io/debug-logging": "env:LOG_LEVEL=debug" }, env: [{ name: "LOG_LEVEL", value: "info" }] }

/** An OOM-killing StatefulSet `db` with `replicas` pods and the update strategy, 8 min in, and the runbook. */
const oomStatefulSet = (replicas: number, strategy: "OnDelete" | "RollingUpdate") =>
  Effect.gen(function*() {
    const s = yield* sim(Scenario.cluster({ nodes: Math.max(2, replicas) }).with(Scenario.oom.undersizedLimit({ name: "db", replicas, workload: { kind: "StatefulSet" } })).build())
    if (strategy === "OnDelete") {
      const sts: any = s.api.store.get(STS, "default", "db")
      s.api.store.update(STS, { ...sts, spec: { ...sts.spec, updateStrategy: { type: "OnDelete" } } })
    }
    s.advance("8m")
    return { s, runbook: OomExit137.make({ probeTimeout: "2 minutes" }) }
  })

describe("k8s.oom.exit-137 e2e", () => {
  it.effect("OOMKilled: ×1.5 and LOG_LEVEL=debug in one patch (one rollout), held verification, no OOM kills after; the debug env has a timed undo", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(Scenario.oom.undersizedLimit({ name: "api", replicas: 1, workload: declared })).build())
      s.advance("8m")
      const gen0 = (s.api.store.get(DEPLOY, "default", "api") as any).metadata.generation
      const runbook = OomExit137.make({ probeTimeout: "2 minutes" })
      const { report, undos } = yield* runWithSim(s, Effect.gen(function*() {
        const report: any = yield* Runbook.handle(runbook, yield* firstSignal(runbook, (x) => x.type === "k8s.pod.oom_killed"), { mode: "auto" })
        return { report, undos: yield* TimedUndo.pending }
      }).pipe(Effect.provide(services(s))), { step: "2 seconds" })
      assert.strictEqual(report.classification?.class, "oom_killed")
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation ?? report.verdicts?.at(-1)))
      const d: any = s.api.store.get(DEPLOY, "default", "api")
      const c = d.spec.template.spec.containers[0]
      assert.strictEqual(c.resources.limits.memory, "768Mi")
      assert.deepStrictEqual(c.env.find((e: any) => e.name === "LOG_LEVEL"), { name: "LOG_LEVEL", value: "debug" })
      assert.strictEqual(d.metadata.generation, gen0 + 1, "memory and debug logging changed in one patch")
      assert.strictEqual(mutations(s).real.filter((r) => r.method === "PATCH").length, 1)
      assert.strictEqual(undos.length, 1)
      assert.strictEqual(undos[0]!.action.kind, "k8s.setDebugLogging")
      assert.strictEqual(undos[0]!.action.params["previous"], "info")
      const t0 = s.now()
      yield* advance(s, "15 minutes")
      assert.strictEqual(oomKillsAfter(s, "api", t0), 0, "no OOM kills under the new limit")
      assert.isTrue(podsOf(s, "api").every(ready))
    }).pipe(Effect.scoped), 120_000)

  it.effect("oom.observed from k8s.crashloop.exit-code: the workload's OOM-killed pod is found and bumped; no declared switch → a ChangeProposal", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(Scenario.oom.undersizedLimit({ name: "api", replicas: 2 })).build())
      s.advance("8m")
      const runbook = OomExit137.make({ probeTimeout: "2 minutes" })
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        const crash = yield* firstSignal(runbook, (x) => x.type === "k8s.pod.oom_killed")
        const handOff = yield* ExitCodeRemediator.oomObserved(crash, {
          subject: { pod: podsOf(s, "api").find((p: any) => p.metadata.name === crash.evidence["pod"]), container: "api" },
          owner: null,
          refs: []
        }, s.now())
        assert.strictEqual(handOff.type, "oom.observed")
        return yield* Runbook.handle(runbook, handOff, { mode: "auto" })
      }).pipe(Effect.provide(services(s))), { step: "2 seconds" })
      assert.strictEqual(report.classification?.class, "oom_killed")
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation ?? report.verdicts?.at(-1)))
      assert.isTrue(report.outcomes.some((o: any) => o.status === "proposed" || o.kind === "proposal"), JSON.stringify(report.outcomes.map((o: any) => [o.kind, o.status])))
      const c = (s.api.store.get(DEPLOY, "default", "api") as any).spec.template.spec.containers[0]
      assert.strictEqual(c.resources.limits.memory, "768Mi")
      assert.isUndefined((c.env ?? []).find((e: any) => e.name === "LOG_LEVEL"), "undeclared: debug logging is proposed, never set")
    }).pipe(Effect.scoped), 120_000)

  it.effect("OnDelete StatefulSet: the patch does not roll the pods, so the OOM-killed pod is restarted — one pod, then the held check", () =>
    Effect.gen(function*() {
      const { s, runbook } = yield* oomStatefulSet(1, "OnDelete")
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook, (x) => x.type === "k8s.pod.oom_killed"), { mode: "auto" })
      }).pipe(Effect.provide(services(s))), { step: "2 seconds" })
      assert.strictEqual(report.classification?.class, "oom_killed")
      const kinds = report.outcomes.filter((o: any) => o.status === "applied").map((o: any) => o.kind)
      assert.deepStrictEqual(kinds, ["k8s.patchMemoryLimit", "k8s.restartPod"])
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation ?? report.verdicts?.at(-1)))
      assert.strictEqual(mutations(s).real.filter((r) => r.method === "DELETE").length, 1, "one pod restarted")
      assert.strictEqual(podsOf(s, "db")[0].spec.containers[0].resources.limits.memory, "768Mi")
    }).pipe(Effect.scoped), 120_000)

  it.effect("OnDelete StatefulSet with 3 replicas: one bump, then the pods rolled one at a time — the OOM-killed pod first, then highest ordinal first, each deleted only after the previous replacement is Ready with the new limit", () =>
    Effect.gen(function*() {
      const { s, runbook } = yield* oomStatefulSet(3, "OnDelete")
      const uids = new Map(podsOf(s, "db").map((p: any) => [p.metadata.name, p.metadata.uid]))
      assert.strictEqual(uids.size, 3)
      let killed = ""
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        const signal = yield* firstSignal(runbook, (x) => x.type === "k8s.pod.oom_killed")
        killed = String(signal.evidence["pod"])
        return yield* Runbook.handle(runbook, signal, { mode: "auto" })
      }).pipe(Effect.provide(services(s))), { step: "2 seconds" })
      assert.strictEqual(report.classification?.class, "oom_killed")
      const rest = [...uids.keys()].filter((n) => n !== killed).sort().reverse()
      const order = [killed, ...rest]
      assert.deepStrictEqual(OomExit137.rollOrder({ kind: "StatefulSet", name: "db", updateStrategy: "OnDelete", debug: null, debugPrevious: null, pods: [...uids.keys()].sort() }, killed), order)
      const kinds = report.outcomes.filter((o: any) => o.status === "applied").map((o: any) => o.kind)
      assert.deepStrictEqual(kinds, ["k8s.patchMemoryLimit", "k8s.restartPod", "k8s.restartPod", "k8s.restartPod"], JSON.stringify(report.outcomes.map((o: any) => [o.kind, o.status, o.detail])))
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation ?? report.verdicts?.at(-1)))
      assert.strictEqual(mutations(s).real.filter((r) => r.method === "PATCH" && r.path.includes("/statefulsets/") && r.status < 300).length, 1, "the template is bumped once")
      // the recorder: three pod DELETEs, strictly in the roll order, each with its pod's uid precondition
      const deletes = mutations(s).real.filter((r) => r.method === "DELETE")
      assert.deepStrictEqual(deletes.map((d) => d.path.split("/").at(-1)), order)
      deletes.forEach((d, i) => assert.include(d.body, uids.get(order[i]!)!))
      // cluster state: every pod replaced, Ready, on the new limit; each replacement created only after the previous one was Ready
      const now = new Map(podsOf(s, "db").map((p: any) => [p.metadata.name, p]))
      const readyAt = (p: any) => Date.parse(p.status.conditions.find((c: any) => c.type === "Ready").lastTransitionTime)
      order.forEach((name, i) => {
        const p = now.get(name)
        assert.notStrictEqual(p.metadata.uid, uids.get(name), `${name} replaced`)
        assert.isTrue(ready(p), `${name} Ready`)
        assert.strictEqual(p.spec.containers[0].resources.limits.memory, "768Mi")
        if (i > 0) assert.isAtLeast(Date.parse(p.metadata.creationTimestamp), readyAt(now.get(order[i - 1]!)), `${name} deleted only after ${order[i - 1]} was Ready again`)
      })
      assert.strictEqual(oomKillsAfter(s, "db", Date.parse(now.get(killed).metadata.creationTimestamp)), 0)
    }).pipe(Effect.scoped), 120_000)

  it.effect("OnDelete StatefulSet with 3 replicas, a failure midway: the next pod's delete fails, the roll stops and escalates naming the pods still on the previous limit", () =>
    Effect.gen(function*() {
      const { s, runbook } = yield* oomStatefulSet(3, "OnDelete")
      const uids = new Map(podsOf(s, "db").map((p: any) => [p.metadata.name, p.metadata.uid]))
      let killed = ""
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        const signal = yield* firstSignal(runbook, (x) => x.type === "k8s.pod.oom_killed")
        killed = String(signal.evidence["pod"])
        const rest = [...uids.keys()].filter((n) => n !== killed).sort().reverse()
        // the apiserver refuses to delete the second pod of the roll (the highest remaining ordinal)
        s.api.faults.error({ method: "DELETE", resource: "pods", pathPattern: new RegExp(`/pods/${rest[0]}$`), status: 500 })
        return yield* Runbook.handle(runbook, signal, { mode: "auto" })
      }).pipe(Effect.provide(services(s))), { step: "2 seconds" })
      const rest = [...uids.keys()].filter((n) => n !== killed).sort().reverse()
      assert.strictEqual(report.status, "escalated")
      const reason: string = report.escalation.reason
      assert.match(reason, new RegExp(`stopped at ${rest[0]}`))
      assert.include(reason, `${rest[0]}, ${rest[1]} still run the previous limit 512Mi`)
      assert.notInclude(reason.split("stopped at")[1]!.replace(`${rest[0]}, ${rest[1]}`, ""), killed, "the rolled pod is not named as stale")
      assert.deepStrictEqual(report.escalation.nextSteps.slice(0, 2), [`kubectl delete pod -n default ${rest[0]}`, `kubectl delete pod -n default ${rest[1]} (after ${rest[0]} is Ready again)`])
      // cluster state: the OOM-killed pod rolled, the other two untouched on the previous limit; no third DELETE was tried
      const deletes = mutations(s).real.filter((r) => r.method === "DELETE" && r.status < 300)
      assert.deepStrictEqual(deletes.map((d) => d.path.split("/").at(-1)), [killed])
      assert.isFalse(mutations(s).real.some((r) => r.method === "DELETE" && r.path.endsWith(`/${rest[1]}`)), `${rest[1]} never deleted`)
      const now = new Map(podsOf(s, "db").map((p: any) => [p.metadata.name, p]))
      assert.strictEqual(now.get(killed).spec.containers[0].resources.limits.memory, "768Mi")
      for (const p of rest) {
        assert.strictEqual(now.get(p).metadata.uid, uids.get(p), `${p} untouched`)
        assert.strictEqual(now.get(p).spec.containers[0].resources.limits.memory, "512Mi")
      }
    }).pipe(Effect.scoped), 120_000)

  it.effect("near miss: a RollingUpdate StatefulSet with 3 replicas rolls its pods itself: no restart, no deletion escalation", () =>
    Effect.gen(function*() {
      const { s, runbook } = yield* oomStatefulSet(3, "RollingUpdate")
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook, (x) => x.type === "k8s.pod.oom_killed"), { mode: "auto" })
      }).pipe(Effect.provide(services(s))), { step: "2 seconds" })
      assert.strictEqual(report.classification?.class, "oom_killed")
      assert.deepStrictEqual(report.outcomes.filter((o: any) => o.status === "applied").map((o: any) => o.kind), ["k8s.patchMemoryLimit"])
      assert.isUndefined(report.plan.root.steps?.find((x: any) => x._tag === "Escalate"))
      assert.notMatch(report.escalation?.reason ?? "", /need(s)? deletion/)
      assert.strictEqual(mutations(s).real.filter((r) => r.method === "DELETE").length, 0)
    }).pipe(Effect.scoped), 120_000)

  it.effect("exit 137 with reason Error (liveness kills) escalates and writes nothing", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(Scenario.crashloop.probeMisconfigured({ name: "api", replicas: 1 })).build())
      s.advance("6m")
      const runbook = OomExit137.make({ probeTimeout: "2 minutes" })
      const before = mutations(s).real.length
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook), { mode: "auto" })
      }).pipe(Effect.provide(services(s))))
      const pod: any = report.facts.pod
      assert.strictEqual(pod?.value?.lastTermination?.exitCode, 137)
      assert.strictEqual(pod?.value?.lastTermination?.reason, "Error")
      assert.strictEqual(report.classification?._tag, "Unclassified")
      assert.strictEqual(report.status, "escalated")
      assert.strictEqual(mutations(s).real.length - before, 0)
    }).pipe(Effect.scoped), 60_000)

  it.effect("heap ceiling above the bumped limit: no bump, the heap ChangeProposal, escalated, nothing written", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(Scenario.oom.runtimeHeapFlag({ name: "api", replicas: 1, runtime: "jvm", limit: "1Gi", heap: "2Gi" })).build())
      s.advance("10m")
      const runbook = OomExit137.make({ probeTimeout: "2 minutes" })
      const before = mutations(s).real.length
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook, (x) => x.type === "k8s.pod.oom_killed"), { mode: "auto" })
      }).pipe(Effect.provide(services(s))))
      assert.strictEqual(report.classification?.class, "heap_above_limit")
      assert.strictEqual(report.status, "escalated")
      assert.isFalse(report.outcomes.some((o: any) => o.kind === "k8s.patchMemoryLimit"))
      assert.match(JSON.stringify(report.plan), /-Xmx768m/)
      assert.strictEqual(mutations(s).real.length - before, 0)
    }).pipe(Effect.scoped), 60_000)

  for (const mode of ["observe", "dry_run"] as const) {
    it.effect(`${mode}: writes only with dryRun=All (dry_run) or not at all (observe)`, () =>
      Effect.gen(function*() {
        const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(Scenario.oom.undersizedLimit({ name: "api", replicas: 1, workload: declared })).build())
        s.advance("8m")
        const runbook = OomExit137.make({ probeTimeout: "2 minutes" })
        const before = mutations(s)
        const report: any = yield* runWithSim(s, Effect.gen(function*() {
          return yield* Runbook.handle(runbook, yield* firstSignal(runbook, (x) => x.type === "k8s.pod.oom_killed"), { mode })
        }).pipe(Effect.provide(services(s))))
        assert.strictEqual(report.classification?.class, "oom_killed")
        const after = mutations(s)
        assert.strictEqual(after.real.length - before.real.length, 0, "no real write")
        const dry = after.dryRun.length - before.dryRun.length
        if (mode === "observe") assert.strictEqual(dry, 0)
        else assert.isAtLeast(dry, 1, "the patch was validated with dryRun=All")
        assert.strictEqual((s.api.store.get(DEPLOY, "default", "api") as any).spec.template.spec.containers[0].resources.limits.memory, "512Mi")
      }).pipe(Effect.scoped), 60_000)
  }

  it.effect("the debug logging of the bump is undone when its TTL runs out (the journaled timed undo restores LOG_LEVEL=info, the limit stays)", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(Scenario.oom.undersizedLimit({ name: "api", replicas: 1, workload: declared })).build())
      s.advance("8m")
      const runbook = OomExit137.make({ settings: { ...OomExit137.defaults, debugTtlSeconds: 600 }, probeTimeout: "2 minutes" })
      const { report, early, late } = yield* runWithSim(s, Effect.gen(function*() {
        const report: any = yield* Runbook.handle(runbook, yield* firstSignal(runbook, (x) => x.type === "k8s.pod.oom_killed"), { mode: "auto" })
        const early = yield* TimedUndo.runDue()
        yield* Effect.sleep("10 minutes")
        const late = yield* TimedUndo.runDue()
        return { report, early, late }
      }).pipe(Effect.provide(services(s))), { step: "2 seconds", max: "40 minutes" })
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation))
      assert.strictEqual(early.length, 0, "not due before its TTL")
      assert.strictEqual(late.length, 1)
      assert.strictEqual(late[0]!.status, "completed", JSON.stringify(late))
      const c = (s.api.store.get(DEPLOY, "default", "api") as any).spec.template.spec.containers[0]
      assert.deepStrictEqual(c.env.find((e: any) => e.name === "LOG_LEVEL"), { name: "LOG_LEVEL", value: "info" })
      assert.strictEqual(c.resources.limits.memory, "768Mi", "only the debug switch is undone")
    }).pipe(Effect.scoped), 120_000)

  it.effect("never_undeclared_debug_logging: a bump carrying debug logging for a workload that does not declare it is denied before any write", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(Scenario.oom.undersizedLimit({ name: "api", replicas: 1 })).build())
      s.advance("2m")
      const d: any = s.api.store.get(DEPLOY, "default", "api")
      const bump = Action.make({
        kind: "k8s.patchMemoryLimit",
        target: Targets.workload({ cluster: "kube-sim", namespace: "default", kind: "Deployment", name: "api", container: "api" }),
        params: { namespace: "default", workloadKind: "Deployment", workloadName: "api", container: "api", fromBytes: 512 * 2 ** 20, toBytes: 768 * 2 ** 20, nodeAllocatableBytes: 8 * 2 ** 30, reason: "test", debugLogging: { env: "LOG_LEVEL", value: "debug", previous: null } },
        precondition: { resourceVersion: d.metadata.resourceVersion },
        description: "bump with undeclared debug logging"
      })
      const before = mutations(s).real.length
      const r = yield* runWithSim(s, Executor.execute({
        incidentId: "inc-undeclared", runbook: "test", mode: "auto",
        signal: { type: "t", target: bump.target, observedAt: s.now(), evidence: {} },
        classification: Classification.classified("oom_killed", 0.95, []), facts: {},
        plan: Plan.make("test", "oom_killed", "x", Plan.act(bump)), baseline: {}, guardrails: []
      }).pipe(Effect.provide(services(s))))
      assert.isTrue(r.decisions.some((x) => x.decision === "deny" && x.guardrail === "never_undeclared_debug_logging"), JSON.stringify(r.decisions))
      assert.strictEqual(mutations(s).real.length - before, 0)
      assert.strictEqual((s.api.store.get(DEPLOY, "default", "api") as any).spec.template.spec.containers[0].resources.limits.memory, "512Mi")
    }).pipe(Effect.scoped), 60_000)
})
