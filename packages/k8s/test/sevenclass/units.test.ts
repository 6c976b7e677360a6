/**
 * k8s.crashloop.seven-class units: near-misses on each side of the rules, Indeterminate and
 * below-threshold escalations, configuration, and property tests of every "never".
 */
import { assert, describe, it } from "@effect/vitest"
import { Fact, Plan } from "@byteport/core"
import { Effect } from "effect"
import * as fc from "fast-check"
import * as SevenClass from "../../src/classifiers/sevenClass"
import type { SevenClassFacts } from "../../src/classifiers/sevenClass"
import * as Messages from "../../src/probes/messages"
import * as Remediator from "../../src/remediators/sevenClass"
import * as Runbook from "../../src/runbooks/k8s.crashloop.seven-class"
import * as SevenClassFixture from "../../src/testing/sevenClassFixture"
import * as SevenClassVerifier from "../../src/verifiers/sevenClass"
import * as FiveBranchVerifier from "../../src/verifiers/fiveBranch"
import * as PodVerifiers from "../../src/verifiers/pod"
import { ConfigProvider } from "effect"

type Facts = Fact.Facts<SevenClassFacts>
const load = (cls: string) => Effect.flatMap(SevenClassFixture.recorded(cls), SevenClassFixture.decode)
const cls = (facts: Facts, t = SevenClass.defaults) => {
  const c = SevenClass.classify(t)(facts)
  return c._tag === "Classified" ? c.class : c._tag
}
const term = (t: { exitCode: number; reason: string; ranSeconds: number }) =>
  Fact.known(Messages.termination({ exitCode: t.exitCode, reason: t.reason, startedAt: "2026-01-01T00:00:00Z", finishedAt: new Date(Date.parse("2026-01-01T00:00:00Z") + t.ranSeconds * 1000).toISOString() }))

describe("seven-class classifier: near-misses", () => {
  it.effect("OOMKilled at 120 s is oom_at_startup; at 121 s it is not (and never a bump from this runbook)", () =>
    Effect.gen(function*() {
      const { facts } = yield* load("oom_at_startup")
      assert.strictEqual(cls({ ...facts, termination: term({ exitCode: 137, reason: "OOMKilled", ranSeconds: 120 }) }), "oom_at_startup")
      assert.strictEqual(cls({ ...facts, termination: term({ exitCode: 137, reason: "OOMKilled", ranSeconds: 121 }) }), "Unclassified")
    }))

  it.effect("exit 137 with reason Error after liveness kills is probe_misconfigured, not an OOM", () =>
    Effect.gen(function*() {
      const { facts } = yield* load("probe_misconfigured")
      const f = { ...facts, termination: term({ exitCode: 137, reason: "Error", ranSeconds: 20 }) }
      assert.strictEqual(cls(f), "probe_misconfigured")
      // the same kill without the Events that show the probe: Indeterminate, never a guess
      assert.strictEqual(cls({ ...f, probeFailures: Fact.unknown("pod events", "forbidden") }), "Indeterminate")
    }))

  it.effect("a panic needs its log: an unknown previous log is Indeterminate; a clean log is Unclassified; exit 126 with a stack is still a panic", () =>
    Effect.gen(function*() {
      const { facts } = yield* load("app_panic_on_boot")
      assert.strictEqual(cls(facts), "app_panic_on_boot")
      assert.strictEqual(cls({ ...facts, previousLog: Fact.unknown("previous container log", "no previous instance") }), "Indeterminate")
      assert.strictEqual(cls({ ...facts, previousLog: Fact.known({ container: "api", lines: ["listening on :8080", "shutting down"], truncated: false, redactions: 0 }) }), "Unclassified")
      // ran longer than the start-up window: not "on boot"
      assert.strictEqual(cls({ ...facts, termination: term({ exitCode: 2, reason: "Error", ranSeconds: 600 }) }), "Unclassified")
    }))

  it.effect("auth and network pull failures are not bad_image_or_tag (the image-pull runbook owns them)", () =>
    Effect.gen(function*() {
      const { facts } = yield* load("bad_image_or_tag")
      for (const m of ["failed to authorize: 401 Unauthorized", "dial tcp: lookup registry.internal on 10.96.0.10:53: no such host", "pull access denied, repository does not exist or may require authorization"]) {
        assert.strictEqual(cls({ ...facts, imagePull: Fact.known(Messages.imagePull(m)) }), "Unclassified", m)
      }
      assert.strictEqual(cls({ ...facts, imagePull: Fact.known(Messages.imagePull("no match for platform in manifest: not found")) }), "bad_image_or_tag")
    }))

  it.effect("a match below minConfidence escalates Unclassified; the pod unknown is Indeterminate", () =>
    Effect.gen(function*() {
      const { facts } = yield* load("app_panic_on_boot")
      assert.strictEqual(cls(facts, { ...SevenClass.defaults, minConfidence: 0.80 }), "Unclassified")
      assert.strictEqual(cls(facts, { ...SevenClass.defaults, minConfidence: 0.78 }), "app_panic_on_boot")
      assert.strictEqual(cls({ ...facts, pod: Fact.unknown("describe pod", "gone") }), "Indeterminate")
    }))

  it.effect("kubelet reasons outrank the log pattern: a CreateContainerConfigError with a panicking old log is missing_configmap_or_secret", () =>
    Effect.gen(function*() {
      const { facts } = yield* load("missing_configmap_or_secret")
      const panic = Fact.known({ container: "api", lines: ["panic: boom", "goroutine 1 [running]:"], truncated: false, redactions: 0 })
      assert.strictEqual(cls({ ...facts, previousLog: panic, termination: term({ exitCode: 2, reason: "Error", ranSeconds: 1 }) }), "missing_configmap_or_secret")
    }))

  it("the confidences are the documented ones, in the seed's order, all ≥ 0.70; log patterns below kubelet reasons", () => {
    assert.deepStrictEqual([...SevenClass.CLASSES], ["oom_at_startup", "bad_image_or_tag", "failed_init_container", "probe_misconfigured", "missing_configmap_or_secret", "app_panic_on_boot", "node_pressure_eviction"])
    for (const c of SevenClass.CLASSES) assert.isAtLeast(SevenClass.CONFIDENCE[c], 0.70)
    for (const c of SevenClass.CLASSES) if (c !== "app_panic_on_boot") assert.isAbove(SevenClass.CONFIDENCE[c], SevenClass.CONFIDENCE.app_panic_on_boot)
  })
})

describe("seven-class plans", () => {
  it.effect("failed init that is no migration: rollback only when the current revision changed it", () =>
    Effect.gen(function*() {
      const { facts, signal } = yield* load("failed_init_container")
      const bad = yield* load("bad_image_or_tag")
      const pod = Fact.value(facts.pod)!
      const renamed = { ...pod, spec: { ...pod.spec, initContainers: pod.spec.initContainers!.map((c) => ({ ...c, name: "wait-for-cache", command: ["/bin/wait", "cache:6379"], image: "registry.example.com/infra/wait:1" })) }, status: { ...pod.status, initContainerStatuses: pod.status!.initContainerStatuses!.map((s) => ({ ...s, name: "wait-for-cache" })) } }
      const h = Fact.value(bad.facts.history)!
      const changed = { ...h, changes: [{ path: "spec.initContainers[wait-for-cache].image", before: "a", after: "b" }] }
      const c = SevenClass.classify()({ ...facts, pod: Fact.known(renamed) })
      assert.strictEqual(c._tag === "Classified" && c.class, "failed_init_container")
      const withChange = Remediator.plan(c as any, { ...facts, pod: Fact.known(renamed), history: Fact.known(changed) }, signal)
      assert.deepStrictEqual(Plan.actions(withChange.root).map((a) => a.action.kind), ["k8s.rollbackDeployment"])
      const unchanged = Remediator.plan(c as any, { ...facts, pod: Fact.known(renamed), history: Fact.known({ ...h, changes: [] }) }, signal)
      assert.deepStrictEqual(Plan.actions(unchanged.root), [])
    }))

  it.effect("a ConfigMap with a snapshot is restored; a Secret never is; with changed references and the old objects present: rollback", () =>
    Effect.gen(function*() {
      const { facts, signal } = yield* load("missing_configmap_or_secret")
      const c = SevenClass.classify()(facts) as any
      assert.deepStrictEqual(Plan.actions(Remediator.plan(c, { ...facts, snapshot: Fact.known(true) }, signal).root).map((a) => a.action.kind), ["k8s.restoreConfigMap"])
      const secret = { ...facts, snapshot: Fact.known(true), configError: Fact.known({ kind: "Secret" as const, name: "db", namespace: null, key: null }) }
      assert.deepStrictEqual(Plan.actions(Remediator.plan(c, secret, signal).root), [])
      const bad = yield* load("bad_image_or_tag")
      const h = Fact.value(bad.facts.history)!
      const refs = { ...secret, history: Fact.known({ ...h, changes: [{ path: "spec.containers[api].env[DB_PASSWORD].valueFrom.secretKeyRef.name", before: "db-old", after: "db" }] }), lastGoodObjects: Fact.known({ configMaps: [], secrets: ["db-old"], missing: [] }) }
      assert.deepStrictEqual(Plan.actions(Remediator.plan(c, refs, signal).root).map((a) => a.action.kind), ["k8s.rollbackDeployment"])
      const gone = { ...refs, lastGoodObjects: Fact.known({ configMaps: [], secrets: ["db-old"], missing: ["Secret/db-old"] }) }
      assert.deepStrictEqual(Plan.actions(Remediator.plan(c, gone, signal).root), [])
    }))

  it.effect("a probe handler answering 404 is a wrong handler: escalate; timeouts loosen timeoutSeconds", () =>
    Effect.gen(function*() {
      const { facts, signal } = yield* load("probe_misconfigured")
      const c = SevenClass.classify()(facts) as any
      const fail = (detail: string) => Messages.probe(`Liveness probe failed: ${detail}`)!
      const with404 = { ...facts, probeFailures: Fact.known([...Fact.value(facts.probeFailures)!, fail("HTTP probe failed with statuscode: 404")]) }
      assert.deepStrictEqual(Plan.actions(Remediator.plan(c, with404, signal).root), [])
      const timeout = { ...facts, probeFailures: Fact.known([...Fact.value(facts.probeFailures)!, fail('Get "http://10.0.0.1:8080/healthz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)')]) }
      const p = Plan.actions(Remediator.plan(c, timeout, signal).root)[0]!.action.params as { field: string; from: number; to: number }
      assert.deepStrictEqual([p.field, p.from, p.to], ["timeoutSeconds", 1, 2])
    }))

  it.effect("app_panic_on_boot after an old rollout (> imageChangeMinutes): escalate with the redacted stack", () =>
    Effect.gen(function*() {
      const { facts, signal } = yield* load("app_panic_on_boot")
      const c = SevenClass.classify()(facts) as any
      const old = { ...facts, history: Fact.known({ ...Fact.value(facts.history)!, ageSeconds: 3601 }) }
      const p = Remediator.plan(c, old, signal)
      assert.deepStrictEqual(Plan.actions(p.root), [])
      assert.match(JSON.stringify(p.root), /redacted stack/)
      assert.match(JSON.stringify(p.root), /panic: runtime error/)
    }))

  it("the verifier's schedule is PodVerifiers' (one held attempt from the action, retried once at 15 s), as five-branch's", () => {
    const s = SevenClassVerifier.schedule()
    assert.deepStrictEqual(s.offsets, PodVerifiers.schedule().offsets)
    assert.deepStrictEqual(s.offsets, FiveBranchVerifier.schedule.offsets)
    assert.deepStrictEqual([s.offsets[0], s.offsets.length], [0, 2])
    assert.strictEqual(s.offsets[1]! - s.offsets[0]!, 15_000)
    assert.isUndefined(s.hold, "the hold is inside the verifier (per pod), not a fixed window")
  })

  it.effect("fromConfig reads BYTEPORT_SEVEN_CLASS_*; an invalid value is a ConfigError", () =>
    Effect.gen(function*() {
      const rb = yield* Runbook.fromConfig().pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ BYTEPORT_SEVEN_CLASS_MIN_CONFIDENCE: "0.8" }))))
      assert.strictEqual(rb.id, "k8s.crashloop.seven-class")
      assert.strictEqual(rb.precedence, 31)
      const bad = yield* Effect.result(Runbook.fromConfig().pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ BYTEPORT_SEVEN_CLASS_BUMP_FACTOR: "-1" })))))
      assert.strictEqual(bad._tag, "Failure")
    }))
})

describe("seven-class: every never, property-tested over the recorded facts", () => {
  const MUTATING = new Set(["k8s.patchMemoryLimit", "k8s.rollbackDeployment", "k8s.loosenProbe", "k8s.restoreConfigMap"])
  it.effect("never a delete, never a Secret restore, never a bare pod, never a bump for a heap-flag misconfiguration, never a rollback without a last-good revision", () =>
    Effect.gen(function*() {
      const bases: Array<{ facts: Facts; signal: any }> = []
      for (const c of SevenClass.CLASSES) bases.push(yield* load(c))
      fc.assert(fc.property(
        fc.integer({ min: 0, max: bases.length - 1 }),
        fc.record({ bare: fc.boolean(), paused: fc.boolean(), noLastGood: fc.boolean(), snapshot: fc.boolean(), secret: fc.boolean(), heapMi: fc.option(fc.integer({ min: 64, max: 4096 })), changedImage: fc.boolean() }),
        (i, m) => {
          const { facts, signal } = bases[i]!
          const owner = Fact.value(facts.owner)
          const h = Fact.value(facts.history)
          const pod = Fact.value(facts.pod)!
          const heapEnv = m.heapMi === null ? [] : [{ name: "JAVA_TOOL_OPTIONS", value: `-Xmx${m.heapMi}m` }]
          const f: Facts = {
            ...facts,
            pod: Fact.known({ ...pod, spec: { ...pod.spec, containers: pod.spec.containers.map((c) => ({ ...c, env: [...(c.env ?? []), ...heapEnv] })) } }),
            owner: Fact.known(m.bare ? null : owner ? { ...owner, paused: m.paused } : null),
            history: Fact.known(h ? { ...h, lastGood: m.noLastGood ? null : h.lastGood, changes: m.changedImage ? [{ path: `spec.containers[${Fact.value(facts.container)}].image`, before: "a", after: "b" }] : h.changes } : null),
            snapshot: Fact.known(m.snapshot),
            ...(m.secret ? { configError: Fact.known({ kind: "Secret" as const, name: "db", namespace: null, key: null }) } : {})
          }
          const c = SevenClass.classify()(f)
          if (c._tag !== "Classified") return true
          const plan = Remediator.plan(c, f, signal)
          const acts = Plan.actions(plan.root).map((a) => a.action)
          for (const a of acts) {
            assert.isTrue(MUTATING.has(a.kind), `only the four kinds: ${a.kind}`)
            assert.notMatch(a.kind, /delete|evict|drain|prune/i)
            assert.notMatch(JSON.stringify(a.params), /PersistentVolume/)
          }
          if (m.bare && c.class !== "node_pressure_eviction") assert.deepStrictEqual(acts, [], "a bare pod is never patched")
          if (m.secret) assert.isFalse(acts.some((a) => a.kind === "k8s.restoreConfigMap"), "Secrets are never restored")
          const limit = Fact.value(f.memoryLimitBytes)
          if (m.heapMi !== null && limit !== null && limit !== undefined && m.heapMi * 2 ** 20 >= limit) assert.isFalse(acts.some((a) => a.kind === "k8s.patchMemoryLimit"), "never a bump for a heap ceiling ≥ the limit")
          for (const a of acts.filter((x) => x.kind === "k8s.rollbackDeployment")) {
            assert.isFalse(m.noLastGood || m.paused, "a rollback needs a last-good revision and an unpaused Deployment")
            const p = a.params as { toRevision: number; fromRevision: number }
            assert.isBelow(p.toRevision, p.fromRevision)
          }
          if (c.class === "failed_init_container" && SevenClass.MIGRATION.test(JSON.stringify(pod.spec.initContainers ?? []))) assert.deepStrictEqual(acts, [], "migration inits escalate")
          if (c.class === "node_pressure_eviction") assert.deepStrictEqual(acts, [], "an eviction touches no workload")
          return true
        }
      ), { numRuns: 300 })
    }))
})
