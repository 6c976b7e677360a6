/**
 * k8s.image-pull end to end on kube-sim (the real client), each class enabled alone in auto mode:
 * the runbook escalates with its steps and writes nothing (no persisted write besides Events and
 * Leases); the platform-mismatch pull is the near miss (Unclassified, escalated).
 */
import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { Effect } from "effect"
import * as ImagePull from "../../src/runbooks/k8s.image-pull"
import { firstSignal, runWithSim, Scenario, services, sim, writes } from "./harness"

const handle = (part: any, mode: "auto" | "dry_run" | "observe" = "auto") =>
  Effect.gen(function*() {
    const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(part).build())
    const rb = ImagePull.make({ probeTimeout: "60 seconds" })
    const before = writes(s).length
    const report: any = yield* runWithSim(s, Effect.gen(function*() {
      const signal = yield* firstSignal(rb, (x) => x.type === "k8s.pod.image_pull_failed")
      return yield* Runbook.handle(rb, signal, { mode })
    }).pipe(Effect.provide(services(s))), { max: "20 minutes" })
    assert.strictEqual(writes(s).length, before, `nothing written: ${JSON.stringify(writes(s).slice(before).map((r) => `${r.method} ${r.path}`))}`)
    return { s, report, text: JSON.stringify(report) }
  })

const steps = (report: any): Array<string> => report.escalation?.nextSteps ?? report.outcomes.find((o: any) => o.kind === "escalate")?.nextSteps ?? []

describe("k8s.image-pull e2e: each class, auto, nothing written", () => {
  it.effect("auth_failure: regcred's credentials for the registry were rotated → escalated naming the secret and its auths entry, no value", () =>
    Effect.gen(function*() {
      const { report, text } = yield* handle(Scenario.crashloop.imagePullAuth({ name: "api", pullSecret: "stale" }))
      assert.strictEqual(report.classification.class, "auth_failure")
      assert.strictEqual(report.classification.confidence, 0.9)
      assert.strictEqual(report.status, "escalated")
      assert.include(text, "regcred (pod): auths entry private.registry.example.com matches private.registry.example.com")
      assert.include(text, "renew them in regcred")
      for (const secret of ["s3cr3t", "ci-puller", Buffer.from("ci-puller:s3cr3t-2026-06").toString("base64")]) assert.notInclude(text, secret, "never a credential value")
    }).pipe(Effect.scoped), 120_000)

  it.effect("auth_failure via the ServiceAccount: the ServiceAccount's pull secret is named as the source", () =>
    Effect.gen(function*() {
      const { report, text } = yield* handle(Scenario.crashloop.imagePullAuth({ name: "api", pullSecret: "stale", via: "serviceAccount" }))
      assert.strictEqual(report.classification.class, "auth_failure")
      assert.include(text, "regcred (ServiceAccount api-puller): auths entry private.registry.example.com matches private.registry.example.com")
    }).pipe(Effect.scoped), 120_000)

  it.effect("bad_tag: the rollout's tag does not exist → reference vs previous tag in the steps", () =>
    Effect.gen(function*() {
      const { report } = yield* handle(Scenario.crashloop.badImageTag({ name: "api" }))
      assert.strictEqual(report.classification.class, "bad_tag")
      assert.strictEqual(report.status, "escalated")
      const text = JSON.stringify(report.outcomes) + JSON.stringify(report.escalation ?? {})
      assert.include(text, "reference registry.example.com/shop/api:1.4.3-rc0 (tag 1.4.3-rc0) vs revision 1: registry.example.com/shop/api:1.4.2 (tag 1.4.2), which ran")
      assert.include(text, "kubectl rollout undo deployment/api -n default --to-revision=1")
    }).pipe(Effect.scoped), 120_000)

  it.effect("network_misconfiguration: the registry times out on every node that tried → timeout steps, all nodes", () =>
    Effect.gen(function*() {
      const { report, text } = yield* handle(Scenario.crashloop.registryUnreachable({ name: "api" }))
      assert.strictEqual(report.classification.class, "network_misconfiguration")
      assert.strictEqual(report.status, "escalated")
      assert.include(text, "timeout: nothing answers on the way to the registry")
      assert.match(text, /all nodes that tried fail \(node-\d, node-\d of 3\)|only node-\d has tried so far/)
    }).pipe(Effect.scoped), 120_000)

  it.effect("near miss: a platform-mismatch pull is none of the three classes → Unclassified, escalated, nothing written", () =>
    Effect.gen(function*() {
      const { report, text } = yield* handle(Scenario.crashloop.platformMismatch({ name: "api" }))
      assert.strictEqual(report.classification._tag, "Unclassified")
      assert.strictEqual(report.status, "escalated")
      assert.include(text, "has no build for the node's platform")
    }).pipe(Effect.scoped), 120_000)

  it.effect("\"pull access denied\" on Docker Hub without credentials is decided from the (absent) pull secrets: auth_failure 0.80", () =>
    Effect.gen(function*() {
      const { report, text } = yield* handle(Scenario.crashloop.imagePullAuth({ name: "api", image: "docker.io/acme/api:2.0.0" }))
      assert.strictEqual(report.classification.class, "auth_failure")
      assert.strictEqual(report.classification.confidence, 0.8)
      assert.include(text, "no pull secret is offered")
    }).pipe(Effect.scoped), 120_000)

  for (const mode of ["observe", "dry_run"] as const) {
    it.effect(`${mode}: nothing written, no dryRun request either (the runbook never writes)`, () =>
      Effect.gen(function*() {
        const { s, report } = yield* handle(Scenario.crashloop.badImageTag({ name: "api" }), mode)
        assert.strictEqual(report.classification.class, "bad_tag")
        assert.strictEqual(s.api.recorder.requests().filter((r) => r.dryRun && !r.path.includes("/events")).length, 0)
      }).pipe(Effect.scoped), 120_000)
  }
})
