/**
 * k8s.crashloop.five-branch units: each side of every threshold and the near misses, from the
 * recorded facts with one thing changed; the plans per branch; the dependency parser and check.
 */
import * as net from "node:net"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Fact, type Signal } from "@byteport/core"
import { ConfigProvider, Effect } from "effect"
import * as FiveBranch from "../../src/classifiers/fiveBranch"
import * as Dependency from "../../src/probes/dependency"
import * as Remediator from "../../src/remediators/fiveBranch"
import * as Runbook5 from "../../src/runbooks/k8s.crashloop.five-branch"
import * as FiveBranchFixture from "../../src/testing/fiveBranchFixture"
import * as FiveBranchVerifier from "../../src/verifiers/fiveBranch"

type Facts = Fact.Facts<FiveBranch.FiveBranchFacts>
const root = path.join(import.meta.dirname, "../../fixtures/five-branch")
const load = (cls: string) => FiveBranchFixture.decode(path.join(root, cls))
const classOf = (facts: Facts, t = FiveBranch.defaults) => {
  const c = FiveBranch.classify(t)(facts)
  return c._tag === "Classified" ? c.class : c._tag
}
const withContainer = (facts: Facts, f: (c: FiveBranch.ContainerFacts) => FiveBranch.ContainerFacts): Facts => ({ ...facts, container: Fact.known(f(Fact.value(facts.container)!)) })
const term = (c: FiveBranch.ContainerFacts, t: Partial<NonNullable<FiveBranch.ContainerFacts["termination"]>>) => ({ ...c, termination: { ...c.termination!, ...t } })

describe("five-branch classifier: thresholds and near misses", () => {
  it.effect("exit 137 reason Error after liveness kills is a liveness kill, never an OOM; reason OOMKilled is oom_at_startup", () =>
    Effect.gen(function*() {
      const { facts } = yield* load("liveness_probe_misconfigured")
      const c = Fact.value(facts.container)!
      assert.deepInclude(c.termination!, { exitCode: 137, reason: "Error" })
      assert.strictEqual(classOf(facts), "liveness_probe_misconfigured")
      assert.strictEqual(classOf(withContainer(facts, (x) => term(x, { reason: "OOMKilled" }))), "oom_at_startup")
    }))

  it.effect("oom_at_startup: OOMKilled after 120 s of a run that was Ready matches; 121 s does not; 121 s before first Ready does", () =>
    Effect.gen(function*() {
      const { facts } = yield* load("oom_at_startup")
      const at = (ranMs: number, ready: boolean | null) => classOf(withContainer(facts, (x) => ({ ...term(x, { ranMs }), readyInLastRun: ready })))
      assert.strictEqual(at(120_000, true), "oom_at_startup")
      assert.strictEqual(at(121_000, true), "Unclassified")
      assert.strictEqual(at(121_000, null), "Unclassified")
      assert.strictEqual(at(121_000, false), "oom_at_startup")
      assert.strictEqual(classOf(withContainer(facts, (x) => ({ ...term(x, { ranMs: 121_000 }), readyInLastRun: true })), { ...FiveBranch.defaults, oomStartupSeconds: 180 }), "oom_at_startup", "the window is configurable")
    }))

  it.effect("connection refused to a Service with ready endpoints is not dependency_not_ready (escalates)", () =>
    Effect.gen(function*() {
      const { facts, signal } = yield* load("dependency_not_ready")
      const d = Fact.value(facts.dependency)!
      assert.strictEqual(d.service?.readyEndpoints, 0)
      assert.strictEqual(classOf(facts), "dependency_not_ready")
      const up: Facts = { ...facts, dependency: Fact.known({ ...d, service: { ...d.service!, readyEndpoints: 1, endpoints: 1 } }) }
      assert.strictEqual(classOf(up), "Unclassified")
      const plan = Remediator.plan(FiveBranch.classify()(up), up, signal)
      assert.strictEqual(plan.root._tag, "Escalate")
    }))

  it.effect("a DNS failure for a Service that does not exist is not 'not ready'; an external host is (0.72)", () =>
    Effect.gen(function*() {
      const { facts } = yield* load("dependency_not_ready")
      const d = Fact.value(facts.dependency)!
      const missing: Facts = { ...facts, dependency: Fact.known({ ...d, host: "postgres.default.svc.cluster.local", failure: "dns", service: null }) }
      assert.strictEqual(classOf(missing), "Unclassified")
      const external: Facts = { ...facts, dependency: Fact.known({ ...d, host: "db.example.com", port: 5432, service: null }) }
      const c = FiveBranch.classify()(external)
      assert.isTrue(c._tag === "Classified" && c.class === "dependency_not_ready" && c.confidence === 0.72)
      assert.strictEqual(classOf(external, { ...FiveBranch.defaults, minConfidence: 0.75 }), "Unclassified", "below the floor: escalate")
    }))

  it.effect("an Unknown previous log makes the log rules Indeterminate (escalate, no action)", () =>
    Effect.gen(function*() {
      const { facts, signal } = yield* load("config_error_missing_env")
      const gone: Facts = { ...facts, previousLog: Fact.unknown("previous container log", "the pod is gone"), dependency: Fact.unknown("dependency", "needs the previous log") }
      const c = FiveBranch.classify()(gone)
      assert.strictEqual(c._tag, "Indeterminate")
      assert.strictEqual(Remediator.plan(c, gone, signal).root._tag, "Escalate")
    }))

  it.effect("kubelet reasons rank above log patterns: CreateContainerConfigError for an env key is config_error_missing_env (0.92) naming variable and source; a volume-only ConfigMap is not", () =>
    Effect.gen(function*() {
      const { facts, signal } = yield* load("config_error_missing_env")
      const withRef = withContainer(facts, (x) => ({
        ...x,
        waiting: { reason: "CreateContainerConfigError", message: "couldn't find key url in Secret default/db" },
        env: [{ variable: "DATABASE_URL", source: "Secret db key url" }]
      }))
      const c = FiveBranch.classify()(withRef)
      assert.isTrue(c._tag === "Classified" && c.class === "config_error_missing_env" && c.confidence === 0.92)
      const plan = Remediator.plan(c, withRef, signal)
      assert.strictEqual(plan.root._tag, "Escalate")
      assert.include(JSON.stringify(plan.root), "DATABASE_URL (Secret db key url)")
      // the same error for a ConfigMap mounted as a volume (no env var behind it) is not this class
      const volume: Facts = { ...withContainer(withRef, (x) => ({ ...x, env: [] })), previousLog: Fact.known({ container: "api", lines: [], truncated: false, redactions: 0 }), dependency: Fact.known(null) }
      assert.strictEqual(classOf(volume), "Unclassified")
    }))

  it("the missing variable from the log, in the shapes apps print it", () => {
    for (const [line, v] of [
      ["FATAL: required environment variable DATABASE_URL is not set", "DATABASE_URL"],
      ["Error: missing required env var: REDIS_HOST", "REDIS_HOST"],
      ["KeyError: 'API_TOKEN'", "API_TOKEN"],
      ["panic: env STRIPE_KEY must be set", "STRIPE_KEY"]
    ] as const) assert.strictEqual(FiveBranch.missingEnvInLog([line])?.variable, v, line)
    assert.isUndefined(FiveBranch.missingEnvInLog(["listening on :8080"]))
  })
})

describe("five-branch plans", () => {
  it.effect("liveness: 404 or refused after Ready → ChangeProposal (never a loosening); timeout after Ready → timeoutSeconds ×2", () =>
    Effect.gen(function*() {
      const { facts, signal } = yield* load("liveness_probe_misconfigured")
      const base = FiveBranch.classify()(facts)
      assert.strictEqual(base._tag, "Classified")
      const withEv = (ev: Record<string, unknown>) => ({ ...(base as any), evidence: { ...(base as any).evidence, ...ev } })
      const p404 = Remediator.plan(withEv({ failure: "status", statusCode: 404, beforeFirstReady: false }), facts, signal)
      assert.strictEqual(p404.root._tag, "Propose")
      assert.include((p404.root as any).proposal.body, "HTTP 404")
      assert.strictEqual(Remediator.plan(withEv({ failure: "refused", beforeFirstReady: false }), facts, signal).root._tag, "Propose")
      const t = Remediator.plan(withEv({ failure: "timeout", beforeFirstReady: false }), facts, signal)
      assert.strictEqual(t.root._tag, "Act")
      assert.deepInclude((t.root as any).action.params, { field: "timeoutSeconds", from: 1, to: 2 })
      assert.strictEqual(Remediator.plan(withEv({ failure: "exec", beforeFirstReady: false }), facts, signal).root._tag, "Escalate")
    }))

  it.effect("image_pull_failure: rollback only when the rollout changed the image and the old revision ran", () =>
    Effect.gen(function*() {
      const { facts, signal } = yield* load("image_pull_failure")
      const c = FiveBranch.classify()(facts)
      assert.strictEqual(Remediator.plan(c, facts, signal).root._tag, "Act")
      const r = Fact.value(facts.rollout)!
      const neverRan: Facts = { ...facts, rollout: Fact.known({ ...r, previous: { ...r.previous!, readyReplicas: 0, availableReplicas: 0 } }) }
      const p1 = Remediator.plan(c, neverRan, signal)
      assert.strictEqual(p1.root._tag, "Escalate")
      assert.match((p1.root as any).reason, /no Ready replicas/)
      const noChange: Facts = { ...facts, rollout: Fact.known({ ...r, imageChanges: [] }) }
      assert.match((Remediator.plan(c, noChange, signal).root as any).reason, /not changed by the last rollout/)
    }))

  it.effect("a bare pod is never patched or restarted: escalate", () =>
    Effect.gen(function*() {
      const { facts, signal } = yield* load("oom_at_startup")
      const bare: Signal.Signal = { ...signal, target: { kind: "k8s.workload", ref: "kube-sim/default/Pod/api-0/api" } }
      const p = Remediator.plan(FiveBranch.classify()(facts), facts, bare)
      assert.strictEqual(p.root._tag, "Escalate")
      assert.match((p.root as any).reason, /bare pod/)
    }))
})

describe("dependency probe and check", () => {
  it("parses the failed connections apps log", () => {
    assert.deepInclude(Dependency.parseLine("failed to connect to postgres: dial tcp 10.96.0.12:5432: connect: connection refused")!, { host: "10.96.0.12", port: 5432, failure: "refused" })
    assert.deepInclude(Dependency.parseLine("failed to connect to redis: dial tcp: lookup redis.cache.svc.cluster.local on 10.96.0.10:53: no such host")!, { host: "redis.cache.svc.cluster.local", failure: "dns" })
    assert.deepInclude(Dependency.parseLine("Error: connect ECONNREFUSED 10.96.3.4:6379")!, { host: "10.96.3.4", port: 6379, failure: "refused" })
    assert.isUndefined(Dependency.parseLine("listening on :8080"))
    assert.deepStrictEqual(Dependency.serviceName("redis.cache.svc.cluster.local", "default"), { name: "redis", namespace: "cache" })
    assert.isUndefined(Dependency.serviceName("db.example.com", "default"))
  })

  it.effect("the TCP fallback: a listening port passes, a closed one fails", () =>
    Effect.gen(function*() {
      const server = net.createServer((s) => s.end())
      yield* Effect.promise(() => new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r())))
      const port = (server.address() as net.AddressInfo).port
      try {
        assert.isTrue((yield* Dependency.tcpConnect("127.0.0.1", port)).ok)
      } finally {
        yield* Effect.promise(() => new Promise<void>((r) => server.close(() => r())))
      }
      assert.isFalse((yield* Dependency.tcpConnect("127.0.0.1", port)).ok)
    }))
})

describe("five-branch configuration", () => {
  it.effect("every number is configurable; an invalid value is a ConfigError naming the key", () =>
    Effect.gen(function*() {
      const rb = yield* Runbook5.fromConfig().pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ BYTEPORT_FIVE_BRANCH_OOM_STARTUP_SECONDS: "90", BYTEPORT_FIVE_BRANCH_BUMP_FACTOR: "1.25" }))))
      assert.strictEqual(rb.id, "k8s.crashloop.five-branch")
      const e = yield* Effect.flip(Runbook5.fromConfig().pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ BYTEPORT_FIVE_BRANCH_MIN_CONFIDENCE: "1.5" })))))
      assert.include(String(e), "BYTEPORT_FIVE_BRANCH_MIN_CONFIDENCE")
    }))
})

describe("five-branch verifier: the held window", () => {
  const at = Date.parse("2026-01-01T01:00:00Z")
  const pod = (readyForMs: number, terminatedAgoMs?: number): any => ({
    status: {
      conditions: [{ type: "Ready", status: "True", lastTransitionTime: new Date(at - readyForMs) }],
      containerStatuses: [{ name: "api", lastState: terminatedAgoMs === undefined ? {} : { terminated: { finishedAt: new Date(at - terminatedAgoMs) } } }]
    }
  })
  it("a pod counts once Ready for max(2× its longest pre-crash run, 120 s), with no termination since", () => {
    const s = FiveBranchVerifier.defaults
    assert.strictEqual(FiveBranchVerifier.holdMs(s, null), 120_000)
    assert.strictEqual(FiveBranchVerifier.holdMs(s, 50_000), 120_000)
    assert.strictEqual(FiveBranchVerifier.holdMs(s, 90_000), 180_000)
    assert.isFalse(FiveBranchVerifier.isHeld(pod(119_000), at, 120_000))
    assert.isTrue(FiveBranchVerifier.isHeld(pod(120_000), at, 120_000))
    assert.isFalse(FiveBranchVerifier.isHeld(pod(300_000, 10_000), at, 120_000), "a crash after it turned Ready resets it")
    assert.isTrue(FiveBranchVerifier.isHeld(pod(300_000, 400_000), at, 120_000), "crashes before it turned Ready do not")
    assert.isFalse(FiveBranchVerifier.isHeld({ status: { conditions: [{ type: "Ready", status: "False" }] } } as any, at, 0))
  })
})
