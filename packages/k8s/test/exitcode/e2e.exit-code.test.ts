/**
 * k8s.crashloop.exit-code end to end on kube-sim (the real client-node, auto mode, virtual time):
 * each class enabled alone, the effect read from cluster state.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Classification, HandOffs, Plan, Runbook, TargetRef } from "@byteport/core"
import { Effect, Fiber } from "effect"
import * as ExitCodeRemediator from "../../src/remediators/exitCode"
import * as ExitCode from "../../src/runbooks/k8s.crashloop.exit-code"
import * as OomExit137 from "../../src/runbooks/k8s.oom.exit-137"
import { firstSignal, mutations, podsOf, ready, runWithSim, Scenario, services, sim } from "./harness"

const SECRETS = { group: "", version: "v1", resource: "secrets" }
const b64 = (s: string) => Buffer.from(s).toString("base64")
const secret = (name: string, value: string) => ({ apiVersion: "v1", kind: "Secret", metadata: { name, namespace: "default" }, type: "Opaque", data: { v: b64(value) } })

/** A workload that reads CFG from Secret `cfg` and exits 78 (EX_CONFIG) at boot until its config is fixed. */
const exit78 = () =>
  Scenario.cluster({ nodes: 2 }).with({
    workloads: [{ name: "cfg", replicas: 1, image: "registry.example.com/shop/cfg:1.0.0", env: [{ name: "CFG", valueFrom: { secretKeyRef: { name: "cfg", key: "v" } } }], readinessProbe: { httpGet: { path: "/ready", port: 8080 }, periodSeconds: 5 }, behaviour: { exitAfterSeconds: 2, exitCode: 78 } }],
    objects: [secret("cfg", "mode=broken") as any]
  }).build()

describe("k8s.crashloop.exit-code e2e", () => {
  it.effect("config_error (exit 78): a restart right after the Secret fix beats the kubelet's 5-minute back-off", () =>
    Effect.gen(function*() {
      const s = yield* sim(exit78())
      s.advance("12m") // the back-off is at its 5-minute cap now
      const before = podsOf(s, "cfg")[0]
      assert.isAtLeast(before.status.containerStatuses[0].restartCount, 5, "restarted often enough for the 5-minute back-off cap")
      const runbook = ExitCode.make({ probeTimeout: "2 minutes" })
      let fixedAt = 0
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        const signal = yield* firstSignal(runbook, (x) => x.evidence.pod === before.metadata.name)
        // the fix lands a minute into the incident: the Secret is updated and the app accepts it
        yield* Effect.forkChild(Effect.gen(function*() {
          yield* Effect.sleep("60 seconds")
          const cur: any = s.api.store.get(SECRETS, "default", "cfg")
          s.api.store.update(SECRETS, { ...cur, data: { v: b64("mode=good") } })
          s.setBehaviour({ workload: "cfg" }, { exitAfterSeconds: 1e9, exitCode: 0 }) // runs for good from its next start
          fixedAt = s.now()
        }))
        return yield* Runbook.handle(runbook, signal, { mode: "auto" })
      }).pipe(Effect.provide(services(s))), { max: "30 minutes" })
      assert.strictEqual(report.classification?.class, "config_error", JSON.stringify(report.classification))
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation ?? report.verdicts?.at(-1)))
      const restart = report.outcomes.find((o: any) => o.kind === "k8s.restartPod")
      assert.strictEqual(restart?.status, "applied")
      const after = podsOf(s, "cfg")
      assert.strictEqual(after.length, 1)
      assert.notStrictEqual(after[0].metadata.uid, before.metadata.uid, "the crashing pod was replaced")
      assert.isTrue(ready(after[0]))
      const readyAt = Date.parse(after[0].status.conditions.find((c: any) => c.type === "Ready").lastTransitionTime)
      assert.isBelow(readyAt - fixedAt, 60_000, "Ready within a minute of the fix, well inside the 5-minute back-off")
      const deletes = mutations(s).real.filter((r) => r.method === "DELETE")
      assert.strictEqual(deletes.length, 1)
    }).pipe(Effect.scoped), 120_000)

  it.effect("image_auth: the rotated pull secret is fixed, the restart pulls at once instead of after the image back-off", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(Scenario.crashloop.imagePullAuth({ name: "api", replicas: 1, pullSecret: "stale" })).build())
      s.advance("6m") // the pull back-off is at its 300 s cap
      const before = podsOf(s, "api")[0]
      assert.strictEqual(before.status.containerStatuses[0].state.waiting?.reason, "ImagePullBackOff")
      const runbook = ExitCode.make({ probeTimeout: "2 minutes" })
      let fixedAt = 0
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        const signal = yield* firstSignal(runbook, (x) => x.type === "k8s.pod.image_pull_failed")
        yield* Effect.forkChild(Effect.gen(function*() {
          yield* Effect.sleep("45 seconds")
          const cur: any = s.api.store.get(SECRETS, "default", "regcred")
          const auth = { auths: { "private.registry.example.com": { username: "ci-puller", password: "s3cr3t-2026-12", auth: b64("ci-puller:s3cr3t-2026-12") } } }
          s.api.store.update(SECRETS, { ...cur, data: { ".dockerconfigjson": b64(JSON.stringify(auth)) } })
          fixedAt = s.now()
        }))
        return yield* Runbook.handle(runbook, signal, { mode: "auto" })
      }).pipe(Effect.provide(services(s))), { max: "30 minutes" })
      assert.strictEqual(report.classification?.class, "image_auth", JSON.stringify(report.classification))
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation ?? report.verdicts?.at(-1)))
      const after = podsOf(s, "api")
      assert.notStrictEqual(after[0].metadata.uid, before.metadata.uid)
      const readyAt = Date.parse(after[0].status.conditions.find((c: any) => c.type === "Ready").lastTransitionTime)
      assert.isBelow(readyAt - fixedAt, 90_000, "running within 90 s of the fix, not after the 300 s pull back-off")
    }).pipe(Effect.scoped), 120_000)

  it.effect("config_error (CreateContainerConfigError): the Secret appears, the kubelet starts the container itself: no restart, recovered", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(Scenario.crashloop.missingSecret({ name: "api", replicas: 1 })).build())
      s.advance("3m")
      const before = podsOf(s, "api")[0]
      const runbook = ExitCode.make({ probeTimeout: "2 minutes" })
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        const signal = yield* firstSignal(runbook, (x) => x.type === "k8s.pod.create_container_config_error")
        yield* Effect.forkChild(Effect.gen(function*() {
          yield* Effect.sleep("40 seconds")
          s.api.store.create(SECRETS, secret("db-credentials", "pw") as any)
          const cur: any = s.api.store.get(SECRETS, "default", "db-credentials")
          s.api.store.update(SECRETS, { ...cur, data: { password: b64("pw") } })
        }))
        return yield* Runbook.handle(runbook, signal, { mode: "auto" })
      }).pipe(Effect.provide(services(s))), { max: "30 minutes" })
      assert.strictEqual(report.classification?.class, "config_error")
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation ?? report.verdicts?.at(-1)))
      assert.isFalse(report.outcomes.some((o: any) => o.kind === "k8s.restartPod" && o.status === "applied"), "no restart was needed")
      assert.isTrue(report.outcomes.some((o: any) => o.kind === "check:k8s.exitcode.noRestartNeeded" && o.status === "check_passed"))
      assert.strictEqual(podsOf(s, "api")[0].metadata.uid, before.metadata.uid)
      assert.strictEqual(mutations(s).real.filter((r) => r.method === "DELETE").length, 0)
    }).pipe(Effect.scoped), 120_000)

  it.effect("config_error never fixed: the cause is never verified gone, so nothing is restarted and the incident escalates", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(Scenario.crashloop.missingSecret({ name: "api", replicas: 1 })).build())
      s.advance("3m")
      const runbook = ExitCode.make({ probeTimeout: "2 minutes" })
      const before = mutations(s).real.length
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook, (x) => x.type === "k8s.pod.create_container_config_error"), { mode: "auto" })
      }).pipe(Effect.provide(services(s))), { max: "30 minutes", step: "5 seconds" })
      assert.strictEqual(report.classification?.class, "config_error")
      assert.strictEqual(report.status, "escalated")
      assert.isFalse(report.outcomes.some((o: any) => o.kind === "k8s.restartPod"))
      assert.strictEqual(mutations(s).real.length - before, 0, "nothing written")
    }).pipe(Effect.scoped), 120_000)

  it.effect("missing_binary (StartError) with nothing BytePort could watch: escalates, mutates nothing", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(Scenario.crashloop.missingBinary({ name: "api", replicas: 1 })).build())
      s.advance("3m")
      const runbook = ExitCode.make({ probeTimeout: "2 minutes" })
      const before = mutations(s).real.length
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook), { mode: "auto" })
      }).pipe(Effect.provide(services(s))))
      assert.strictEqual(report.classification?.class, "missing_binary")
      assert.strictEqual(report.classification?.confidence, 0.92)
      assert.strictEqual(report.status, "escalated")
      assert.match(report.escalation.reason, /lacks the executable/)
      assert.strictEqual(mutations(s).real.length - before, 0)
    }).pipe(Effect.scoped), 60_000)

  it.effect("oom_killed: handed to the OOM runbooks (oom.observed); with none running the hand-off escalates and nothing is written", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(Scenario.oom.undersizedLimit({ name: "api", replicas: 1 })).build())
      s.advance("12m")
      const runbook = ExitCode.make({ remediation: { ...ExitCodeRemediator.defaults, handOffAwaitMinutes: 2 }, probeTimeout: "2 minutes" })
      const before = mutations(s).real.length
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook), { mode: "auto" })
      }).pipe(Effect.provide(services(s))))
      assert.strictEqual(report.classification?.class, "oom_killed")
      assert.deepStrictEqual(report.plan.root._tag, "HandOff")
      assert.strictEqual(report.plan.root.signal.type, "oom.observed")
      assert.strictEqual(report.plan.root.signal.evidence.container, "api")
      assert.strictEqual(report.plan.root.signal.evidence.limitBytes, 512 * 2 ** 20)
      assert.notStrictEqual(report.status, "recovered")
      assert.isFalse(report.outcomes.some((o: any) => o.kind === "k8s.patchMemoryLimit" || o.kind === "k8s.restartPod"))
      assert.strictEqual(mutations(s).real.length - before, 0)
    }).pipe(Effect.scoped), 60_000)

  it.effect("oom_killed with k8s.oom.exit-137 on the bus: the awaited hand-off is bumped by the OOM runbook and the crash-loop incident recovers with it", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(Scenario.oom.undersizedLimit({ name: "api", replicas: 1 })).build())
      s.advance("12m")
      const runbook = ExitCode.make({ probeTimeout: "2 minutes" })
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        // the OOM runbook consumes hand-offs from the bus only (its own detector off, so the hand-off is what it handles)
        const owner = { ...OomExit137.make({ defaultMode: "auto", probeTimeout: "2 minutes" }), detector: undefined }
        const loop = yield* Effect.forkChild(Runbook.run(owner, { resumeOpen: false }))
        yield* Effect.yieldNow
        const report: any = yield* Runbook.handle(runbook, yield* firstSignal(runbook), { mode: "auto" })
        yield* Fiber.interrupt(loop)
        return report
      }).pipe(Effect.provide(services(s))), { step: "2 seconds", max: "40 minutes" })
      assert.strictEqual(report.classification?.class, "oom_killed")
      const child = HandOffs.childResults(report.outcomes)[0]
      assert.strictEqual(child?.runbook, "k8s.oom.exit-137")
      assert.strictEqual(child?.signalType, "oom.observed")
      assert.strictEqual(child?.status, "recovered", JSON.stringify(child))
      assert.strictEqual(child?.verdict?._tag, "Recovered")
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation))
      assert.isFalse(report.outcomes.some((o: any) => o.kind === "k8s.patchMemoryLimit"), "the crash-loop runbook itself never bumps")
      const d: any = s.api.store.get({ group: "apps", version: "v1", resource: "deployments" }, "default", "api")
      assert.strictEqual(d.spec.template.spec.containers[0].resources.limits.memory, "768Mi")
    }).pipe(Effect.scoped), 120_000)

  it.effect("dry_run: the restart is validated with dryRun=All, the pod stays", () =>
    Effect.gen(function*() {
      const s = yield* sim(exit78())
      s.advance("12m")
      const before = podsOf(s, "cfg")[0]
      const runbook = ExitCode.make({ probeTimeout: "2 minutes" })
      const m0 = mutations(s)
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        const signal = yield* firstSignal(runbook, (x) => x.evidence.pod === before.metadata.name)
        yield* Effect.forkChild(Effect.gen(function*() {
          yield* Effect.sleep("30 seconds")
          const cur: any = s.api.store.get(SECRETS, "default", "cfg")
          s.api.store.update(SECRETS, { ...cur, data: { v: b64("mode=good") } })
        }))
        return yield* Runbook.handle(runbook, signal, { mode: "dry_run" })
      }).pipe(Effect.provide(services(s))), { max: "30 minutes" })
      assert.strictEqual(report.classification?.class, "config_error")
      const m1 = mutations(s)
      assert.strictEqual(m1.real.length - m0.real.length, 0, "no real write")
      assert.isTrue(m1.dryRun.slice(m0.dryRun.length).some((r) => r.method === "DELETE"), "the delete was sent with dryRun=All")
      assert.strictEqual(podsOf(s, "cfg")[0].metadata.uid, before.metadata.uid)
    }).pipe(Effect.scoped), 120_000)

  it.effect("missing_binary (exit 127 through a shell): the mounted start script is fixed, the pod restarts at once and runs", () =>
    Effect.gen(function*() {
      const CMS = { group: "", version: "v1", resource: "configmaps" }
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(Scenario.crashloop.missingBinary({
        name: "api", replicas: 1, viaShell: true,
        workload: { volumes: [{ name: "scripts", configMap: { name: "api-scripts" } }], volumeMounts: [{ name: "scripts", mountPath: "/scripts" }] }
      })).with({ objects: [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "api-scripts", namespace: "default" }, data: { "start.sh": "exec /app/server" } } as any] }).build())
      s.advance("8m")
      const before = podsOf(s, "api")[0]
      assert.strictEqual(before.status.containerStatuses[0].lastState.terminated.exitCode, 127)
      const runbook = ExitCode.make({ probeTimeout: "2 minutes" })
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        const signal = yield* firstSignal(runbook, (x) => x.evidence.pod === before.metadata.name)
        yield* Effect.forkChild(Effect.gen(function*() {
          yield* Effect.sleep("30 seconds")
          const cur: any = s.api.store.get(CMS, "default", "api-scripts")
          s.api.store.update(CMS, { ...cur, data: { "start.sh": "exec /app/server-v2" } })
          s.setBehaviour({ workload: "api" }, { missingBinaries: [] }) // the fixed script finds its binary
        }))
        return yield* Runbook.handle(runbook, signal, { mode: "auto" })
      }).pipe(Effect.provide(services(s))), { max: "30 minutes" })
      assert.strictEqual(report.classification?.class, "missing_binary")
      assert.strictEqual(report.classification?.confidence, 0.85)
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation ?? report.verdicts?.at(-1)))
      assert.strictEqual(report.outcomes.find((o: any) => o.kind === "k8s.restartPod")?.status, "applied")
      const after = podsOf(s, "api")[0]
      assert.notStrictEqual(after.metadata.uid, before.metadata.uid)
      assert.isTrue(ready(after))
      assert.strictEqual(after.status.containerStatuses[0].restartCount, 0)
    }).pipe(Effect.scoped), 120_000)

  it.effect("the 4th restart of a workload within the hour is denied: the incident escalates and the pod is left alone", () =>
    Effect.gen(function*() {
      const s = yield* sim(exit78())
      s.advance("12m")
      const before = podsOf(s, "cfg")[0]
      const runbook = ExitCode.make({ probeTimeout: "2 minutes" })
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        const signal = yield* firstSignal(runbook, (x) => x.evidence.pod === before.metadata.name)
        // three restarts of this workload already in the last hour (this runbook's budget, any pod)
        const now = s.now()
        for (const [i, ago] of [50, 40, 25].entries()) {
          const action = Action.make({ kind: "k8s.restartPod", target: TargetRef.make("k8s.pod", `kube-sim/default/cfg-old-${i}`), params: { uid: `old-${i}`, reason: "earlier" }, description: "earlier restart" })
          const at = now - ago * 60_000
          for (const g of ExitCode.restartGuardrails()) {
            const r = yield* g.acquire({ incidentId: `old-${i}`, runbook: ExitCode.ID, mode: "auto", signal: { ...signal, observedAt: at }, classification: Classification.classified("config_error", 0.78, []), facts: {}, plan: Plan.make(ExitCode.ID, "config_error", "x", Plan.act(action)), planDigest: "d", action, stepPath: "0", now: at, baseline: {} })
            assert.strictEqual(r.result._tag, "Pass")
          }
        }
        yield* Effect.forkChild(Effect.gen(function*() {
          yield* Effect.sleep("30 seconds")
          const cur: any = s.api.store.get(SECRETS, "default", "cfg")
          s.api.store.update(SECRETS, { ...cur, data: { v: b64("mode=good") } })
        }))
        return yield* Runbook.handle(runbook, signal, { mode: "auto" })
      }).pipe(Effect.provide(services(s))), { max: "30 minutes" })
      assert.strictEqual(report.classification?.class, "config_error")
      assert.strictEqual(report.status, "escalated")
      assert.match(JSON.stringify(report), /restarts_per_workload\(3\/1h\)/)
      assert.isFalse(report.outcomes.some((o: any) => o.kind === "k8s.restartPod" && o.status === "applied"))
      assert.strictEqual(podsOf(s, "cfg")[0].metadata.uid, before.metadata.uid)
      assert.strictEqual(mutations(s).real.filter((r) => r.method === "DELETE").length, 0)
    }).pipe(Effect.scoped), 120_000)

  it.effect("sidecar-only crash (the proxy's binary is missing, the app runs Ready): escalates, the pod is never restarted", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with({
        workloads: [{ name: "web", replicas: 1, image: "registry.example.com/shop/web:1.0.0", sidecars: [{ name: "proxy", image: "registry.example.com/shop/proxy:1.0.0", command: ["/bin/sh", "-c", "exec envoy -c /etc/envoy.yaml"], behaviour: { missingBinaries: ["envoy"] } }] }]
      }).build())
      s.advance("4m")
      const before = podsOf(s, "web")[0]
      const runbook = ExitCode.make({ probeTimeout: "2 minutes" })
      const m0 = mutations(s).real.length
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook, (x) => x.evidence.container === "proxy"), { mode: "auto" })
      }).pipe(Effect.provide(services(s))))
      assert.strictEqual(report.classification?._tag, "Unclassified")
      assert.match(report.classification.reasons[0], /sidecar-only/)
      assert.strictEqual(report.status, "escalated")
      assert.strictEqual(mutations(s).real.length - m0, 0)
      assert.strictEqual(podsOf(s, "web")[0].metadata.uid, before.metadata.uid)
    }).pipe(Effect.scoped), 60_000)

  it.effect("observe: classified and reported, nothing is sent (not even dryRun=All)", () =>
    Effect.gen(function*() {
      const s = yield* sim(exit78())
      s.advance("12m")
      const before = podsOf(s, "cfg")[0]
      const runbook = ExitCode.make({ probeTimeout: "2 minutes" })
      const m0 = mutations(s)
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook, (x) => x.evidence.pod === before.metadata.name), { mode: "observe" })
      }).pipe(Effect.provide(services(s))), { max: "30 minutes" })
      assert.strictEqual(report.classification?.class, "config_error")
      assert.isTrue(report.plan === undefined || report.plan.root._tag === "Seq", Object.keys(report).join(","))
      assert.notStrictEqual(report.status, "recovered")
      const m1 = mutations(s)
      assert.strictEqual(m1.real.length - m0.real.length, 0)
      assert.strictEqual(m1.dryRun.length - m0.dryRun.length, 0)
      assert.strictEqual(podsOf(s, "cfg")[0].metadata.uid, before.metadata.uid)
    }).pipe(Effect.scoped), 60_000)
})
