/**
 * k8s.crashloop.exit-code end to end on kube-sim (the real client-node, auto mode, virtual time):
 * each class enabled alone, the effect read from cluster state.
 */
import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { Effect } from "effect"
import * as ExitCode from "../../src/runbooks/k8s.crashloop.exit-code"
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
      const runbook = ExitCode.make()
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
})
