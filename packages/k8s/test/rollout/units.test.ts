import { assert, describe, it } from "@effect/vitest"
import { Fact, type Plan } from "@byteport/core"
import * as RollbackDeployment from "../../src/actions/rollbackDeployment"
import * as RolloutClassifier from "../../src/classifiers/rollout"
import * as LastDeploy from "../../src/probes/lastDeploy"
import * as RolloutFacts from "../../src/probes/rolloutFacts"
import * as RolloutLedger from "../../src/probes/rolloutLedger"
import * as Remediator from "../../src/remediators/rollout"
import * as Targets from "../../src/targets/Targets"

const T0 = Date.parse("2026-01-01T00:10:00Z")
const iso = (ms: number) => new Date(ms).toISOString()

const template = (image: string, extra: Record<string, unknown> = {}) => ({
  metadata: { labels: { app: "api" } },
  spec: { containers: [{ name: "api", image, readinessProbe: { httpGet: { path: "/ready", port: 8080 }, periodSeconds: 5 }, ...extra }] }
})
const rs = (name: string, revision: number, tpl: any, o: { created?: number; replicas?: number; ready?: number; cause?: string | null } = {}) => ({
  metadata: {
    name,
    namespace: "default",
    creationTimestamp: iso(o.created ?? T0),
    labels: { app: "api", "pod-template-hash": name.split("-").pop()! },
    annotations: { [RollbackDeployment.REVISION]: String(revision), ...(o.cause === null ? {} : { "kubernetes.io/change-cause": o.cause ?? `deploy api (commit ${revision === 1 ? "3f9c2ab" : "5e5e5e5"})` }) },
    ownerReferences: [{ kind: "Deployment", name: "api", uid: "d-uid" }]
  },
  spec: { replicas: o.replicas ?? 0, template: { ...tpl, metadata: { labels: { ...tpl.metadata.labels, "pod-template-hash": name.split("-").pop()! } } } },
  status: { replicas: o.replicas ?? 0, readyReplicas: o.ready ?? o.replicas ?? 0, availableReplicas: o.ready ?? o.replicas ?? 0 }
})
const deployment = (revision: number, tpl: any, o: { paused?: boolean; progressing?: { status: string; reason: string }; ready?: number } = {}) => ({
  metadata: { name: "api", namespace: "default", uid: "d-uid", resourceVersion: "4711", generation: 2, labels: { app: "api" }, annotations: { [RollbackDeployment.REVISION]: String(revision) } },
  spec: { replicas: 3, paused: o.paused ?? null, template: tpl, strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } } },
  status: {
    observedGeneration: 2,
    replicas: 3,
    readyReplicas: o.ready ?? 3,
    availableReplicas: o.ready ?? 3,
    updatedReplicas: 3,
    conditions: [{ type: "Available", status: "True", reason: "MinimumReplicasAvailable" }, { type: "Progressing", status: o.progressing?.status ?? "True", reason: o.progressing?.reason ?? "NewReplicaSetAvailable" }]
  }
})

const good = template("shop/api:1.4.2")
const bad = template("shop/api:1.5.0")
const rsOld = rs("api-aaa11", 1, good, { created: T0 - 3_600_000, replicas: 0 })
const rsNew = rs("api-bbb22", 2, bad, { created: T0, replicas: 3, ready: 3 })
const warning = (object: { kind: string; name: string }, firstAt: number, lastAt = T0) => ({
  type: "Warning",
  reason: "Unhealthy",
  message: "Readiness probe failed: HTTP probe failed with statuscode: 503",
  involvedObject: object,
  firstTimestamp: iso(firstAt),
  lastTimestamp: iso(lastAt),
  count: 4
})
const stats = (errorRatio: number | null, p95Seconds: number | null = 0.12) => ({ requests: errorRatio === null ? 0 : 10_000, errors: errorRatio === null ? 0 : 10_000 * errorRatio, errorRatio, p95Seconds })

/** Facts for the classifier: cluster facts from objects, plus traffic and canary. */
const facts = (o: {
  deployment?: any
  replicaSets?: ReadonlyArray<any>
  events?: ReadonlyArray<any>
  services?: ReadonlyArray<any>
  seen?: ReadonlyArray<number>
  traffic?: RolloutFacts.TrafficFacts
  canary?: RolloutFacts.CanaryFacts | null
  now?: number
  errorsBefore?: number | null
}): Fact.Facts<RolloutFacts.RolloutFacts> => {
  const c = RolloutFacts.clusterFacts(
    { deployment: o.deployment ?? deployment(2, bad), replicaSets: o.replicaSets ?? [rsOld, rsNew], pods: [], services: o.services ?? [{ metadata: { name: "api" }, spec: { selector: { app: "api" } } }], events: o.events ?? [] },
    new Set(o.seen ?? [1]),
    o.errorsBefore ?? null,
    o.now ?? T0 + 300_000
  )
  return {
    deployment: Fact.known(c.deployment),
    history: Fact.known(c.history),
    attribution: Fact.known(c.attribution),
    services: Fact.known(c.services),
    traffic: Fact.known(o.traffic ?? { baseline: stats(0.002), current: stats(0.002) }),
    canary: Fact.known(o.canary ?? null)
  }
}
const classify = RolloutClassifier.classify()
const cls = (f: Fact.Facts<RolloutFacts.RolloutFacts>) => {
  const c = classify(f)
  return c._tag === "Classified" ? `${c.class}@${c.confidence}` : c._tag
}

describe("k8s.deploy.failed-rollout: classifier (seed order, confidences, near misses)", () => {
  it("do_not_rollback: a Warning on this workload's pod that began 5:01 before the rollout start (0.85); 4:59 is not enough", () => {
    const pod = { kind: "Pod", name: "api-aaa11-x7k2p" }
    const spike = { baseline: stats(0.002), current: stats(0.25) }
    assert.strictEqual(cls(facts({ events: [warning(pod, T0 - 301_000)], traffic: spike })), "do_not_rollback@0.85")
    assert.strictEqual(cls(facts({ events: [warning(pod, T0 - 299_000)], traffic: spike })), "deploy_5xx_spike@0.9")
    // exactly 5:00 is not "more than 5 minutes"
    assert.strictEqual(cls(facts({ events: [warning(pod, T0 - 300_000)], traffic: spike })), "deploy_5xx_spike@0.9")
  })

  it("do_not_rollback: a Warning on a downstream Service counts; another Deployment's pods and Services never do", () => {
    const spike = { baseline: stats(0.002), current: stats(0.25) }
    assert.strictEqual(cls(facts({ events: [warning({ kind: "Service", name: "api" }, T0 - 600_000)], traffic: spike })), "do_not_rollback@0.85")
    const other = [warning({ kind: "Pod", name: "payments-6c9d8-abcde" }, T0 - 600_000), warning({ kind: "Service", name: "payments" }, T0 - 600_000)]
    assert.strictEqual(cls(facts({ events: other, traffic: spike })), "deploy_5xx_spike@0.9")
    // a name that merely starts like ours ("api-aaa11x-…" is not a pod of ReplicaSet api-aaa11)
    assert.strictEqual(cls(facts({ events: [warning({ kind: "Pod", name: "api-aaa11x-abcde" }, T0 - 600_000)], traffic: spike })), "deploy_5xx_spike@0.9")
  })

  it("do_not_rollback: a start-up Warning that stopped long before the rollout is no ongoing regression", () => {
    const spike = { baseline: stats(0.002), current: stats(0.25) }
    const startup = warning({ kind: "Pod", name: "api-aaa11-x7k2p" }, T0 - 3_000_000, T0 - 2_990_000)
    assert.strictEqual(cls(facts({ events: [startup], traffic: spike })), "deploy_5xx_spike@0.9")
  })

  it("do_not_rollback: the old revision already failed ≥1% of requests 5+ minutes before the rollout", () => {
    assert.strictEqual(cls(facts({ errorsBefore: 0.15, traffic: { baseline: stats(0.15), current: stats(0.15) } })), "do_not_rollback@0.85")
    assert.strictEqual(cls(facts({ errorsBefore: 0.009, traffic: { baseline: stats(0.002), current: stats(0.25) } })), "deploy_5xx_spike@0.9")
  })

  it("events.k8s.io shape (regarding, deprecatedFirstTimestamp, note) is read too", () => {
    const e = { type: "Warning", reason: "BackOff", note: "Back-off restarting failed container", regarding: { kind: "Pod", name: "api-aaa11-x7k2p" }, deprecatedFirstTimestamp: iso(T0 - 400_000), deprecatedLastTimestamp: iso(T0), deprecatedCount: 9 }
    const f = facts({ events: [e] })
    assert.strictEqual(cls(f), "do_not_rollback@0.85")
    assert.strictEqual(Fact.value(f.attribution)!.predatingWarnings[0]!.count, 9)
  })

  it("rollout_stuck: ProgressDeadlineExceeded with 0 ready on the new ReplicaSet (0.91); 1 ready is not stuck", () => {
    const d = deployment(2, bad, { progressing: { status: "False", reason: "ProgressDeadlineExceeded" }, ready: 0 })
    const stuck = rs("api-bbb22", 2, bad, { created: T0, replicas: 3, ready: 0 })
    assert.strictEqual(cls(facts({ deployment: d, replicaSets: [rsOld, stuck] })), "rollout_stuck@0.91")
    const one = rs("api-bbb22", 2, bad, { created: T0, replicas: 3, ready: 1 })
    assert.notStrictEqual(cls(facts({ deployment: d, replicaSets: [rsOld, one] })), "rollout_stuck@0.91")
  })

  it("readiness_never_ready: readiness failures on the new ReplicaSet's pods and not ready after 120 s (0.88); 119 s is too early", () => {
    const notReady = rs("api-bbb22", 2, bad, { created: T0, replicas: 3, ready: 1 })
    const ev = [{ ...warning({ kind: "Pod", name: "api-bbb22-q1w2e" }, T0 + 20_000), message: "Readiness probe failed: HTTP probe failed with statuscode: 500" }]
    assert.strictEqual(cls(facts({ replicaSets: [rsOld, notReady], events: ev, now: T0 + 120_000 })), "readiness_never_ready@0.88")
    assert.notStrictEqual(cls(facts({ replicaSets: [rsOld, notReady], events: ev, now: T0 + 119_000 })), "readiness_never_ready@0.88")
    // failures on the old ReplicaSet's pods are not the new revision's
    const old = [{ ...warning({ kind: "Pod", name: "api-aaa11-q1w2e" }, T0 + 20_000), message: "Readiness probe failed: x" }]
    assert.notStrictEqual(cls(facts({ replicaSets: [rsOld, notReady], events: old, now: T0 + 200_000 })), "readiness_never_ready@0.88")
  })

  it("deploy_5xx_spike: > 5× the pre-rollout ratio and ≥ 1% (0.90); each side of both bars", () => {
    assert.strictEqual(cls(facts({ traffic: { baseline: stats(0.002), current: stats(0.0101) } })), "deploy_5xx_spike@0.9")
    // 5× exactly is not more than 5× (but still ≥ 2×: a health regression)
    assert.strictEqual(cls(facts({ traffic: { baseline: stats(0.002), current: stats(0.01) } })), "deploy_health_regression@0.86")
    // > 5× but below 1%
    assert.strictEqual(cls(facts({ traffic: { baseline: stats(0.001), current: stats(0.009) } })), "deploy_health_regression@0.86")
    // no pre-rollout traffic: no comparison, no spike
    assert.notStrictEqual(cls(facts({ traffic: { baseline: stats(null, null), current: stats(0.3) } })), "deploy_5xx_spike@0.9")
  })

  it("canary_slo_burn: burn > 2× the stable Deployments' and > 1 (0.87)", () => {
    const canary = (c: number, b: number): RolloutFacts.CanaryFacts => ({ stable: ["api"], canary: stats(c), baseline: stats(b), canaryBurn: c / 0.001, baselineBurn: b / 0.001 })
    assert.strictEqual(cls(facts({ canary: canary(0.08, 0.001) })), "canary_slo_burn@0.87")
    assert.strictEqual(cls(facts({ canary: canary(0.0019, 0.001) })), "Unclassified")
    // burning faster than stable but within the budget
    assert.strictEqual(cls(facts({ canary: canary(0.0009, 0.0001) })), "Unclassified")
  })

  it("deploy_health_regression: errors ≥ 2× or p95 ≥ 1.5× (0.86); just below both is nothing", () => {
    assert.strictEqual(cls(facts({ traffic: { baseline: stats(0.002, 0.12), current: stats(0.004, 0.12) } })), "deploy_health_regression@0.86")
    assert.strictEqual(cls(facts({ traffic: { baseline: stats(0.002, 0.12), current: stats(0.002, 0.18) } })), "deploy_health_regression@0.86")
    assert.strictEqual(cls(facts({ traffic: { baseline: stats(0.002, 0.12), current: stats(0.0039, 0.179) } })), "Unclassified")
  })

  it("an Unknown fact reached before a match is Indeterminate (never a rollback on a guess)", () => {
    const f = { ...facts({}), traffic: Fact.unknown("per-revision traffic", "Prometheus unreachable") }
    const c = classify(f)
    assert.strictEqual(c._tag, "Indeterminate")
    // … but a class decided before the traffic rule still matches
    const d = deployment(2, bad, { progressing: { status: "False", reason: "ProgressDeadlineExceeded" }, ready: 0 })
    const g = { ...facts({ deployment: d, replicaSets: [rsOld, rs("api-bbb22", 2, bad, { created: T0, replicas: 3, ready: 0 })] }), traffic: Fact.unknown("per-revision traffic", "down") }
    assert.strictEqual(cls(g), "rollout_stuck@0.91")
  })

  it("the classes are the seed's, in its order, with its confidences", () => {
    assert.deepStrictEqual(RolloutClassifier.rules().map((r) => `${r.class}:${r.confidence}`), [
      "do_not_rollback:0.85",
      "rollout_stuck:0.91",
      "readiness_never_ready:0.88",
      "deploy_5xx_spike:0.9",
      "canary_slo_burn:0.87",
      "deploy_health_regression:0.86"
    ])
  })
})

describe("k8s.deploy.failed-rollout: history, SHA, template diff, last good", () => {
  it("SHA: 7–40 hex digits from the change cause, else unknown, never invented", () => {
    assert.strictEqual(LastDeploy.shaOf("deploy api 1.5.0 (commit 5e5e5e5)"), "5e5e5e5")
    assert.strictEqual(LastDeploy.shaOf("sha=0123456789abcdef0123456789abcdef01234567"), "0123456789abcdef0123456789abcdef01234567")
    assert.strictEqual(LastDeploy.shaOf("deploy 1.5.0 build 20260101 commit deadbeefcafe"), "deadbeefcafe")
    assert.strictEqual(LastDeploy.shaOf("commit abc12"), "unknown")
    assert.strictEqual(LastDeploy.shaOf("0123456789abcdef0123456789abcdef012345678"), "unknown") // 41 digits
    assert.strictEqual(LastDeploy.shaOf("kubectl set image deployment/api api=shop/api:1.5.0"), "unknown")
    assert.strictEqual(LastDeploy.shaOf(null), "unknown")
  })

  it("the current-vs-previous template diff names the changed fields (containers and env by name), pod-template-hash ignored", () => {
    const before = template("shop/api:1.4.2", { env: [{ name: "MODE", value: "a" }, { name: "KEEP", value: "x" }] })
    const after = template("shop/api:1.5.0", { env: [{ name: "MODE", value: "b" }, { name: "KEEP", value: "x" }, { name: "NEW", value: "1" }] })
    const d = LastDeploy.templateDiff(deployment(2, after), [rs("api-aaa11", 1, before), rs("api-bbb22", 2, after, { replicas: 3 })])
    assert.strictEqual(d.current?.revision, 2)
    assert.strictEqual(d.previous?.revision, 1)
    assert.deepStrictEqual(d.changes.map((c) => c.path), ["spec.containers[api].env[MODE].value", "spec.containers[api].env[NEW]", "spec.containers[api].image"])
    assert.deepStrictEqual(d.imageChanges, [{ container: "api", before: "shop/api:1.4.2", after: "shop/api:1.5.0" }])
  })

  it("last good: the newest older revision BytePort saw fully Available", () => {
    const rs0 = rs("api-ccc00", 1, template("shop/api:1.4.0"), { created: T0 - 7_200_000 })
    const rs1 = rs("api-aaa11", 2, good, { created: T0 - 3_600_000 })
    const rs2 = rs("api-bbb22", 3, bad, { created: T0, replicas: 3 })
    const h = RolloutFacts.historyFacts(deployment(3, bad), [rs0, rs1, rs2], new Set([1, 2]), [], T0)
    assert.deepStrictEqual([h.lastGood?.revision, h.lastGood?.rule], [2, "seen-available"])
    const only1 = RolloutFacts.historyFacts(deployment(3, bad), [rs0, rs1, rs2], new Set([1]), [], T0)
    assert.strictEqual(only1.lastGood?.revision, 1)
  })

  it("last good: else the ReplicaSet being scaled down when its pods were Ready before the rollout start", () => {
    const scaling = rs("api-aaa11", 1, good, { created: T0 - 3_600_000, replicas: 2, ready: 2 })
    const pod = (name: string, readyAt: number) => ({ metadata: { name, labels: { "pod-template-hash": "aaa11" } }, status: { conditions: [{ type: "Ready", status: "True", lastTransitionTime: iso(readyAt) }] } })
    const h = RolloutFacts.historyFacts(deployment(2, bad), [scaling, rsNew], new Set(), [pod("api-aaa11-1", T0 - 600_000), pod("api-aaa11-2", T0 - 500_000)], T0 + 60_000)
    assert.deepStrictEqual([h.lastGood?.revision, h.lastGood?.rule], [1, "scaled-down-ready-at-rollout-start"])
    // a pod of it became Ready only after the rollout started: not known good
    const late = RolloutFacts.historyFacts(deployment(2, bad), [scaling, rsNew], new Set(), [pod("api-aaa11-1", T0 - 600_000), pod("api-aaa11-2", T0 + 10_000)], T0 + 60_000)
    assert.isNull(late.lastGood)
  })

  it("no last good: revision 1, pruned history, identical template, never seen and scaled to 0", () => {
    const first = RolloutFacts.historyFacts(deployment(1, good), [rs("api-aaa11", 1, good, { replicas: 3 })], new Set([1]), [], T0)
    assert.isNull(first.lastGood)
    assert.match(first.noLastGood!, /revision 1/)
    const pruned = RolloutFacts.historyFacts(deployment(7, bad), [rs("api-bbb22", 7, bad, { replicas: 3 })], new Set([5, 6]), [], T0)
    assert.isNull(pruned.lastGood)
    assert.match(pruned.noLastGood!, /pruned/)
    const same = RolloutFacts.historyFacts(deployment(2, bad), [rs("api-aaa11", 1, bad), rsNew], new Set([1]), [], T0)
    assert.isNull(same.lastGood)
    assert.match(same.noLastGood!, /identical/)
    const never = RolloutFacts.historyFacts(deployment(2, bad), [rsOld, rsNew], new Set(), [], T0)
    assert.isNull(never.lastGood)
    assert.match(never.noLastGood!, /seen fully Available/)
  })

  it("the ledger records a revision only when fully Available", () => {
    const l = RolloutLedger.make()
    const d = deployment(2, bad)
    assert.isTrue(l.observe(d))
    assert.isFalse(l.observe({ ...deployment(3, bad), status: { ...d.status, readyReplicas: 2 } }))
    assert.isFalse(l.observe({ ...deployment(4, bad), metadata: { ...deployment(4, bad).metadata, generation: 3 } }))
    assert.deepStrictEqual([...l.seenAvailable("default", "api")], [2])
  })

  it("downstream Services by selector overlap (an empty selector selects nothing)", () => {
    const st = RolloutFacts.deploymentState(deployment(2, bad) as any)
    const svcs: Array<any> = [
      { metadata: { name: "api" }, spec: { selector: { app: "api" } } },
      { metadata: { name: "api-canary" }, spec: { selector: { app: "api", track: "canary" } } },
      { metadata: { name: "headless" }, spec: { selector: {} } },
      { metadata: { name: "external" }, spec: { selector: null } }
    ]
    assert.deepStrictEqual(RolloutFacts.servicesFor(st, svcs), ["api"])
  })
})

describe("k8s.rollbackDeployment: the patch", () => {
  it("a JSON patch: test resourceVersion, test each failing image at its index, replace the template (no hash) and the annotations as kubectl does", () => {
    const d = {
      ...deployment(2, template("shop/api:1.5.0")),
      metadata: { ...deployment(2, bad).metadata, annotations: { [RollbackDeployment.REVISION]: "2", "kubernetes.io/change-cause": "bad", "kubectl.kubernetes.io/last-applied-configuration": "{}" } }
    }
    d.spec.template.spec.containers.unshift({ name: "sidecar", image: "envoy:1" } as any)
    const p = RollbackDeployment.buildPatch(d as any, rsOld as any, { resourceVersion: "4711", failingImages: [{ container: "api", image: "shop/api:1.5.0" }] })
    assert.isFalse("problem" in p)
    const ops = (p as any).ops
    assert.deepStrictEqual(ops[0], { op: "test", path: "/metadata/resourceVersion", value: "4711" })
    assert.deepStrictEqual(ops[1], { op: "test", path: "/spec/template/spec/containers/1/image", value: "shop/api:1.5.0" })
    assert.deepStrictEqual(ops[2].path, "/spec/template")
    assert.isUndefined(ops[2].value.metadata.labels["pod-template-hash"])
    assert.strictEqual(ops[2].value.spec.containers[0].image, "shop/api:1.4.2")
    assert.deepStrictEqual(ops[3], {
      op: "replace",
      path: "/metadata/annotations",
      value: { [RollbackDeployment.REVISION]: "2", "kubectl.kubernetes.io/last-applied-configuration": "{}", "kubernetes.io/change-cause": "deploy api (commit 3f9c2ab)" }
    })
    // a failing image no container runs any more: the Deployment changed since the plan
    const gone = RollbackDeployment.buildPatch(d as any, rsOld as any, { resourceVersion: "4711", failingImages: [{ container: "worker", image: "x" }] })
    assert.isTrue("problem" in gone)
  })

  it("the budget key is the workload without its container, shared with k8s.pinImageDigest", () => {
    const c = Targets.workload({ cluster: "prod", namespace: "shop", kind: "Deployment", name: "api", container: "api" })
    const w = Targets.workload({ cluster: "prod", namespace: "shop", kind: "Deployment", name: "api" })
    assert.strictEqual(RollbackDeployment.budgetKey(c), "k8s.rollback:k8s.workload:prod/shop/Deployment/api")
    assert.strictEqual(RollbackDeployment.budgetKey(c), RollbackDeployment.budgetKey(w))
  })
})

describe("k8s.deploy.failed-rollout: plans", () => {
  const signal = { type: "k8s.deploy.deploy_5xx_spike", target: Targets.workload({ cluster: "prod", namespace: "default", kind: "Deployment", name: "api" }), observedAt: T0, evidence: {} }
  const classified = (c: string) => ({ _tag: "Classified" as const, class: c, confidence: 0.9, reasons: ["x"], evidence: {} })
  const acts = (p: Plan.Plan) => JSON.stringify(p.root).includes("k8s.rollbackDeployment")

  it("a rollback plan states the undo command, the churn, the duration, the SHA and the tripwire", () => {
    const p = Remediator.plan(classified("deploy_5xx_spike"), facts({ traffic: { baseline: stats(0.002), current: stats(0.25) } }), signal)
    assert.include(p.summary, "kubectl rollout undo deployment/api -n default --to-revision=1")
    assert.include(p.summary, "expected pod churn: 3 pod(s) created on ReplicaSet api-aaa11, 3 deleted from api-bbb22")
    assert.match(p.summary, /estimated duration: ~\d+ s/)
    assert.include(p.summary, "suspect commit 5e5e5e5")
    assert.include(p.summary, "tripwire: rollback fails → escalate")
    const a = (p.root as any).action
    assert.strictEqual(a.kind, RollbackDeployment.KIND)
    assert.deepStrictEqual([a.params.toRevision, a.params.fromRevision, a.params.resourceVersion], [1, 2, "4711"])
  })

  it("do_not_rollback, paused, and no last good: escalate, no action", () => {
    assert.isFalse(acts(Remediator.plan(classified("do_not_rollback"), facts({}), signal)))
    const paused = Remediator.plan(classified("rollout_stuck"), facts({ deployment: deployment(2, bad, { paused: true }) }), signal)
    assert.isFalse(acts(paused))
    assert.match(JSON.stringify(paused.root), /paused/)
    const none = Remediator.plan(classified("deploy_5xx_spike"), facts({ seen: [] }), signal)
    assert.isFalse(acts(none))
    assert.match(JSON.stringify(none.root), /no rollback target/)
    assert.match(JSON.stringify(none.root), /5e5e5e5/)
  })
})
