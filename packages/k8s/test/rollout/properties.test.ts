/**
 * Every "never" of k8s.deploy.failed-rollout and k8s.rollbackDeployment, property-tested:
 * never a rollback without a last-good revision (guardrail and plans), never a rollback of a
 * paused Deployment, never an action on false attribution, and a rollback patch that never goes
 * out without its preconditions or touches anything but the template and the annotations.
 */
import { assert, describe, it } from "@effect/vitest"
import { Fact, type Plan, type Signal } from "@byteport/core"
import { Effect as E } from "effect"
import fc from "fast-check"
import * as RollbackDeployment from "../../src/actions/rollbackDeployment"
import * as RolloutFacts from "../../src/probes/rolloutFacts"
import * as Remediator from "../../src/remediators/rollout"
import * as Targets from "../../src/targets/Targets"

const runs = { numRuns: 300 }
const T0 = Date.parse("2026-01-01T00:10:00Z")
const target = Targets.workload({ cluster: "prod", namespace: "default", kind: "Deployment", name: "api" })
const signal: Signal.Signal = { type: "k8s.deploy.rollout_stuck", target, observedAt: T0, evidence: {} }
const hasAct = (p: Plan.Plan) => JSON.stringify(p.root).includes(`"_tag":"Act"`)

const tpl = (image: string) => ({ metadata: { labels: { app: "api" } }, spec: { containers: [{ name: "api", image }] } })

/** A random Deployment with a random rollout history: revisions, images (some identical), replicas and which were seen Available. */
const world = fc.record({
  revisions: fc.uniqueArray(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 5 }),
  images: fc.array(fc.constantFrom("a:1", "a:2", "a:3"), { minLength: 5, maxLength: 5 }),
  replicas: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 5, maxLength: 5 }),
  seen: fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 6 }),
  paused: fc.boolean()
}).map((w) => {
  const sorted = [...w.revisions].sort((a, b) => a - b)
  const current = sorted[sorted.length - 1]!
  const rsList = sorted.map((rev, i) => {
    const t = tpl(w.images[i]!)
    return {
      metadata: {
        name: `api-h${rev}`,
        creationTimestamp: new Date(T0 - (current - rev) * 600_000).toISOString(),
        labels: { "pod-template-hash": `h${rev}` },
        annotations: { [RollbackDeployment.REVISION]: String(rev), "kubernetes.io/change-cause": `commit ${rev.toString(16).padStart(7, "a")}` },
        ownerReferences: [{ kind: "Deployment", name: "api", uid: "u" }]
      },
      spec: { replicas: w.replicas[i]!, template: { ...t, metadata: { labels: { app: "api", "pod-template-hash": `h${rev}` } } } },
      status: { replicas: w.replicas[i]!, readyReplicas: w.replicas[i]!, availableReplicas: w.replicas[i]! }
    }
  })
  const d = {
    metadata: { name: "api", namespace: "default", uid: "u", resourceVersion: "42", generation: 1, labels: { app: "api" }, annotations: { [RollbackDeployment.REVISION]: String(current) } },
    spec: { replicas: 3, paused: w.paused, template: tpl(w.images[sorted.length - 1]!) },
    status: { observedGeneration: 1, replicas: 3, readyReplicas: 0, availableReplicas: 0, updatedReplicas: 3, conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" }] }
  }
  return { d, rsList, seen: new Set(w.seen), paused: w.paused }
})

const factsOf = (w: { d: any; rsList: any; seen: ReadonlySet<number> }, attribution: Partial<RolloutFacts.AttributionFacts> = {}): Fact.Facts<RolloutFacts.RolloutFacts> => {
  const c = RolloutFacts.clusterFacts({ deployment: w.d, replicaSets: w.rsList, pods: [], services: [], events: [] }, w.seen, null, T0)
  const none = { requests: 0, errors: 0, errorRatio: null, p95Seconds: null }
  return {
    deployment: Fact.known(c.deployment),
    history: Fact.known(c.history),
    attribution: Fact.known({ ...c.attribution, ...attribution }),
    services: Fact.known(c.services),
    traffic: Fact.known({ baseline: none, current: none }),
    canary: Fact.known(null)
  }
}
const classes = fc.constantFrom("rollout_stuck", "readiness_never_ready", "deploy_5xx_spike", "canary_slo_burn", "deploy_health_regression")
const classified = (c: string) => ({ _tag: "Classified" as const, class: c, confidence: 0.9, reasons: ["r"], evidence: {} })

describe("never, property-tested", () => {
  it("never without a last-good revision: the guardrail denies exactly the params without one", () => {
    const ctxOf = (params: any) => ({ action: { kind: RollbackDeployment.KIND, target, params, idempotencyKey: "k", precondition: {}, timeout: 1, description: "" } }) as any
    fc.assert(
      fc.property(fc.record({ toRevision: fc.oneof(fc.integer({ min: -2, max: 12 }), fc.double(), fc.constant(null), fc.string()), fromRevision: fc.oneof(fc.integer({ min: -2, max: 12 }), fc.constant(undefined)) }), (params) => {
        const r = E.runSync(RollbackDeployment.neverWithoutLastGood.check(ctxOf(params)) as E.Effect<any>)
        const ok = typeof params.toRevision === "number" && Number.isInteger(params.toRevision) && params.toRevision >= 1 &&
          typeof params.fromRevision === "number" && params.toRevision < params.fromRevision
        assert.strictEqual(r._tag === "Pass", ok)
      }),
      runs
    )
  })

  it("never without a last-good revision: a plan rolls back only to an older revision whose template differs, else escalates", () => {
    fc.assert(
      fc.property(world, classes, (w, c) => {
        const f = factsOf({ ...w, d: { ...w.d, spec: { ...w.d.spec, paused: false } } })
        const h = Fact.value(f.history)!
        const p = Remediator.plan(classified(c), f, signal)
        if (h.lastGood === null) return assert.isFalse(hasAct(p))
        const a = (p.root as any).action
        assert.strictEqual(a.kind, RollbackDeployment.KIND)
        assert.isTrue(a.params.toRevision < a.params.fromRevision)
        assert.strictEqual(a.params.toRevision, h.lastGood.revision)
        const rs = w.rsList.find((r: any) => Number(r.metadata.annotations[RollbackDeployment.REVISION]) === a.params.toRevision)
        assert.isFalse(RollbackDeployment.equalIgnoreHash(rs!.spec.template, w.d.spec.template))
        assert.isTrue(RollbackDeployment.hasLastGood(a.params))
      }),
      runs
    )
  })

  it("never roll back (or resume) a paused Deployment", () => {
    fc.assert(
      fc.property(world, classes, (w, c) => {
        const p = Remediator.plan(classified(c), factsOf({ ...w, d: { ...w.d, spec: { ...w.d.spec, paused: true } } }), signal)
        assert.isFalse(hasAct(p))
        assert.strictEqual((p.root as any)._tag, "Escalate")
        assert.match((p.root as any).reason, /paused/)
      }),
      runs
    )
  })

  it("never act on false attribution", () => {
    fc.assert(
      fc.property(world, (w) => {
        assert.isFalse(hasAct(Remediator.plan(classified("do_not_rollback"), factsOf(w), signal)))
      }),
      runs
    )
  })

  it("never a rollback patch without its preconditions, nor one that touches more than the template and the annotations", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 12 }),
        fc.uniqueArray(fc.constantFrom("api", "sidecar", "init", "gone"), { maxLength: 4 }),
        (rv, failing) => {
          const d = {
            metadata: { name: "api", annotations: { [RollbackDeployment.REVISION]: "2", "kubernetes.io/change-cause": "x" } },
            spec: { template: { spec: { initContainers: [{ name: "init", image: "i:2" }], containers: [{ name: "sidecar", image: "s:2" }, { name: "api", image: "a:2" }] } } }
          }
          const rs = { metadata: { annotations: { [RollbackDeployment.REVISION]: "1", "kubernetes.io/change-cause": "y" } }, spec: { template: { metadata: { labels: { "pod-template-hash": "h1", app: "api" } }, spec: { containers: [{ name: "api", image: "a:1" }] } } } }
          const images = failing.map((c) => ({ container: c, image: `${c[0]}:2` }))
          const p = RollbackDeployment.buildPatch(d, rs, { resourceVersion: rv, failingImages: images })
          if (failing.includes("gone")) return assert.isTrue("problem" in p)
          assert.isTrue(!("problem" in p) && p.type === "json")
          const ops = (p as any).ops as Array<any>
          assert.deepStrictEqual(ops[0], { op: "test", path: "/metadata/resourceVersion", value: rv })
          const tests = ops.filter((o) => o.op === "test")
          assert.strictEqual(tests.length, 1 + failing.length)
          assert.isTrue(ops.slice(0, tests.length).every((o) => o.op === "test"), "every test comes before any change")
          assert.deepStrictEqual(ops.filter((o) => o.op !== "test").map((o) => `${o.op} ${o.path}`), ["replace /spec/template", "replace /metadata/annotations"])
          assert.notProperty(ops.find((o) => o.path === "/spec/template").value.metadata.labels, "pod-template-hash")
        }
      ),
      runs
    )
  })
})
