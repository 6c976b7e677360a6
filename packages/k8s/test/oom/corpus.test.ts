/**
 * Issue 9 item 10 (k8s.oom.six-signal): the replay corpus. Every incident under
 * `fixtures/corpus/oom/<name>/` is a recorded-shape incident NOT made by kube-sim's recorder
 * (kubectl/Prometheus shapes from real clusters, sources in its meta.json). Each replays:
 *
 * 1. **decode → classify → plan** (`OomFixture.decode`, the runbook's classifier, the
 *    remediator): the expected class, 100%; no action the seed forbids for that class (the plan's
 *    action kinds), the required ones present; Unclassified / Indeterminate plan nothing.
 * 2. **detector → diagnose → classify → plan** through the real client: the recording loads
 *    verbatim into kube-sim (`KubeSim.start({ recording })`, the clock at the capture time, the
 *    previous log appended as the container's previous log, the PodMetrics served as
 *    metrics-server would), Prometheus answers with the recorded `query_range` series; the
 *    runbook's own detector must raise the expected signal (or none), and `Runbook.handle` in
 *    dry_run must classify it as expected and plan nothing forbidden.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { type Classification, Fact, type Plan } from "@byteport/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as OomClassifier from "../../src/classifiers/oom"
import * as OomFixture from "../../src/probes/oomFixture"
import * as Remediator from "../../src/remediators/oom"
import { corpusDir, incidents, type Expect } from "./corpus"

const classOf = (c: Classification.Classification) => (c._tag === "Classified" ? c.class : c._tag)

/** Every action kind a plan contains (any branch: a fallback's alternative counts). */
export const actionKinds = (plan: Plan.Plan): ReadonlyArray<string> => {
  const out: Array<string> = []
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk)
    if (v && typeof v === "object") {
      const o = v as Record<string, unknown>
      if (o["_tag"] === "Act" && o["action"] && typeof o["action"] === "object") out.push(String((o["action"] as Record<string, unknown>)["kind"]))
      for (const x of Object.values(o)) walk(x)
    }
  }
  walk(plan)
  return out
}

const checkPlan = (name: string, expect: Expect, kinds: ReadonlyArray<string>) => {
  for (const k of expect.forbidden) assert.notInclude(kinds, k, `${name}: the plan must not contain ${k} (${kinds.join(", ")})`)
  for (const k of expect.required ?? []) assert.include(kinds, k, `${name}: the plan must contain ${k}`)
}

describe("k8s.oom.six-signal replay corpus: decode → classify → plan", () => {
  it("has at least 12 incidents, none from kube-sim's recorder, each with sources, every class and both outcomes of escalation", () => {
    assert.isAtLeast(incidents.length, 12)
    for (const x of incidents) {
      assert.isAtLeast(x.meta.source.length, 1, `${x.name}: sources`)
      const pod = fs.readFileSync(path.join(x.dir, "pod.json"), "utf8")
      assert.notInclude(pod, "kube-sim", `${x.name} must not come from kube-sim`)
    }
    const expected = new Set(incidents.map((x) => x.meta.expect.class))
    for (const c of [...OomClassifier.classes, "Unclassified", "Indeterminate"]) assert.isTrue(expected.has(c), `no incident of ${c}`)
  })

  for (const x of incidents) {
    it.effect(`${x.name} → ${x.meta.expect.class}`, () =>
      Effect.gen(function*() {
        const facts = yield* OomFixture.decode(x.dir)
        const c = OomClassifier.classify()(facts)
        assert.strictEqual(classOf(c), x.meta.expect.class, JSON.stringify({ c, trend: Fact.value(facts.trend), ws: Fact.value(facts.workingSet), unknown: Fact.unknownKeys(facts) }))
        if (c._tag !== "Classified") {
          // the runbook plans nothing for Unclassified / Indeterminate: it escalates
          checkPlan(x.name, { ...x.meta.expect, required: [] }, [])
          return
        }
        const plan = Remediator.plan(c, facts, yield* OomFixture.signal(x.dir))
        checkPlan(x.name, x.meta.expect, actionKinds(plan))
        if (x.meta.expect.escalates) assert.deepStrictEqual(actionKinds(plan), [], `${x.name}: escalation only`)
      }))
  }
})

void afterAll
void corpusDir
