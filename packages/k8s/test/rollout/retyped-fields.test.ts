/**
 * `rolloutFacts.clusterFacts` reads client-node's typed objects, which nothing decodes: a field of
 * another JSON type (a retyped field) or a `null` list element must read as absent (a condition's
 * status as "Unknown"), never throw a `TypeError` (found by `BYTEPORT_FUZZ_SHAPE=any` on the
 * rollout family, docs/reliability.md). Mutations of the recorded fixtures (fixtures/rollout).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Fact, Plan } from "@byteport/core"
import * as RolloutClassifier from "../../src/classifiers/rollout"
import * as Remediator from "../../src/remediators/rollout"
import * as RolloutFacts from "../../src/probes/rolloutFacts"

const root = path.join(import.meta.dirname, "../../fixtures/rollout")

/** The recorded objects of a class (parsed afresh: each test mutates its own copy). */
const recorded = (cls: string) => {
  const read = (f: string) => JSON.parse(fs.readFileSync(path.join(root, cls, f), "utf8"))
  return {
    meta: read("meta.json"),
    metrics: read("metrics.json"),
    objects: { deployment: read("deployment.json"), replicaSets: read("replicasets.json").items, pods: read("pods.json").items, services: read("services.json").items, events: read("events.json").items }
  }
}

const cluster = (r: ReturnType<typeof recorded>) => RolloutFacts.clusterFacts(r.objects, new Set(r.meta.seenAvailable), r.metrics.errorRatioBeforeRollout, r.meta.now)

const factsOf = (r: ReturnType<typeof recorded>): Fact.Facts<RolloutFacts.RolloutFacts> => {
  const c = cluster(r)
  return {
    deployment: Fact.known(c.deployment),
    history: Fact.known(c.history),
    attribution: Fact.known(c.attribution),
    services: Fact.known(c.services),
    traffic: r.metrics.traffic ? Fact.known(r.metrics.traffic) : Fact.unknown("per-revision traffic", "not recorded"),
    canary: Fact.known(r.metrics.canary)
  }
}

const classify = (r: ReturnType<typeof recorded>) => RolloutClassifier.classify()(factsOf(r))

const classOf = (c: ReturnType<typeof classify>) => (c._tag === "Classified" ? c.class : c._tag)

describe("k8s.deploy.failed-rollout: clusterFacts on retyped fields and null list elements", () => {
  for (const cls of RolloutClassifier.CLASSES) {
    it(`${cls}: a null element in every list it reads is skipped (the same facts, the same class)`, () => {
      const r = recorded(cls)
      const m = recorded(cls)
      const o = m.objects
      o.deployment.status.conditions.unshift(null)
      for (const rs of o.replicaSets) rs.metadata.ownerReferences.unshift(null)
      for (const p of o.pods) if (p.status?.conditions) p.status.conditions.push(null)
      m.objects = { ...o, replicaSets: [null, ...o.replicaSets], pods: [...o.pods, null], services: [null, ...o.services], events: [null, ...o.events, null] }
      assert.deepStrictEqual(cluster(m), cluster(r))
      assert.strictEqual(classOf(classify(m)), cls)
    })
  }

  it("a retyped timestamp, count, label map or condition status reads as absent / Unknown", () => {
    const r = recorded("rollout_stuck")
    const o = r.objects
    // 100-fold mutation of a timestamp (an array where a string was): the event's next timestamp is read
    const e = o.events.find((x: any) => x.firstTimestamp !== null)
    e.firstTimestamp = Array(100).fill(e.firstTimestamp)
    e.count = "4"
    o.deployment.metadata.labels = 42
    o.deployment.status.replicas = { n: 2 }
    const c = cluster(r)
    assert.deepStrictEqual(c.deployment.labels, {})
    assert.strictEqual(c.deployment.replicas, 2)
    const view = RolloutFacts.eventView(e)
    assert.strictEqual(view.count, 1)
    assert.isNotNull(view.firstAt)
    assert.strictEqual(classOf(classify(r)), "rollout_stuck")
    // the Progressing condition's status retyped: Unknown, so no ProgressDeadlineExceeded is read from it
    o.deployment.status.conditions.find((x: any) => x.type === "Progressing").status = false
    o.deployment.status.conditions.find((x: any) => x.type === "Available").status = 0
    const u = cluster(r)
    assert.deepStrictEqual(u.deployment.progressing, { status: "Unknown", reason: "ProgressDeadlineExceeded" })
    assert.strictEqual(u.deployment.available, "Unknown")
    // no longer rollout_stuck: what is left to act on is the new revision's recorded readiness failures
    assert.strictEqual(classOf(classify(r)), "readiness_never_ready")
  })

  it("retyped annotations and owner references read as absent: no revision, so the plan escalates instead of rolling back", () => {
    const r = recorded("deploy_5xx_spike")
    r.objects = { ...r.objects, replicaSets: r.objects.replicaSets.map((rs: any) => ({ ...rs, metadata: { ...rs.metadata, annotations: "revision 2", ownerReferences: { kind: "Deployment" } } })) }
    const c = cluster(r)
    assert.deepStrictEqual(c.history.revisions, [])
    assert.isNull(c.history.current)
    assert.isNull(c.history.lastGood)
    const facts = factsOf(r)
    const k = RolloutClassifier.classify()(facts)
    assert.strictEqual(classOf(k), "deploy_5xx_spike")
    const plan = Remediator.plan(k as any, facts, r.meta.signal)
    assert.deepStrictEqual(Plan.actions(plan.root), [])
    assert.include(plan.summary, "rollout state unknown")
    assert.strictEqual(plan.root._tag, "Escalate")
  })

  it("a template nested 5,000 levels deep is compared without overflowing the stack (BYTEPORT_FUZZ_SEED=5)", () => {
    const r = recorded("deploy_5xx_spike")
    let deep: unknown = "x"
    for (let i = 0; i < 5_000; i++) deep = { a: deep }
    for (const rs of r.objects.replicaSets) rs.spec.template.metadata.annotations = { deep }
    const c = cluster(r)
    assert.isNotNull(c.history.current)
    assert.strictEqual(classOf(classify(r)), "deploy_5xx_spike")
  })
})
