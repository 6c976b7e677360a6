/**
 * The "never"s of k8s.crashloop.five-branch as properties over generated facts (the recorded
 * facts with the container's termination, waiting state, readiness, liveness events, log and
 * dependency varied): config_error_missing_env never acts; dependency_not_ready never changes the
 * workload (its only action is one restartPod of a pod, after the WaitFor); a bare pod is never
 * acted on; only the four kinds are ever planned; an OOM is never a liveness kill and a liveness
 * kill never an OOM; below the floor nothing acts.
 */
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Fact, type Plan, type Signal } from "@byteport/core"
import { Effect } from "effect"
import * as fc from "fast-check"
import * as FiveBranch from "../../src/classifiers/fiveBranch"
import * as Remediator from "../../src/remediators/fiveBranch"
import * as FiveBranchFixture from "../../src/testing/fiveBranchFixture"

type Facts = Fact.Facts<FiveBranch.FiveBranchFacts>
const root = path.join(import.meta.dirname, "../../fixtures/five-branch")

const acts = (s: Plan.Step): Array<{ kind: string; target: string }> => {
  switch (s._tag) {
    case "Act":
      return [{ kind: s.action.kind, target: s.action.target.kind }]
    case "Seq":
    case "Until":
      return s.steps.flatMap(acts)
    case "Fallback":
      return [...acts(s.primary), ...acts(s.otherwise)]
    default:
      return []
  }
}

const KINDS = new Set(["k8s.rollbackDeployment", "k8s.loosenProbe", "k8s.patchMemoryLimit", "k8s.restartPod"])

const variant = fc.record({
  base: fc.constantFrom(...FiveBranch.CLASSES),
  reason: fc.constantFrom("OOMKilled", "Error", "Completed", "StartError", null),
  exitCode: fc.constantFrom(0, 1, 2, 78, 127, 137, 143, null),
  ranMs: fc.option(fc.integer({ min: 0, max: 900_000 }), { nil: null }),
  ready: fc.constantFrom(true, false, null),
  waiting: fc.constantFrom(null, "CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError"),
  kills: fc.boolean(),
  readyEndpoints: fc.integer({ min: 0, max: 3 }),
  envLine: fc.boolean(),
  bare: fc.boolean(),
  floor: fc.constantFrom(0.7, 0.95)
})

describe("k8s.crashloop.five-branch never-properties", () => {
  it.effect("over generated facts", () =>
    Effect.gen(function*() {
      const recorded = new Map<string, { facts: Facts; signal: Signal.Signal }>()
      for (const cls of FiveBranch.CLASSES) recorded.set(cls, yield* FiveBranchFixture.decode(path.join(root, cls)))
      const seen = new Set<string>()
      fc.assert(
        fc.property(variant, (v) => {
          const { facts: f0, signal: s0 } = recorded.get(v.base)!
          const c0 = Fact.value(f0.container)!
          const container: FiveBranch.ContainerFacts = {
            ...c0,
            termination: { ...(c0.termination ?? { message: null, finishedAt: null, startedAt: null, signal: null, meaning: "other" }), reason: v.reason, exitCode: v.exitCode, ranMs: v.ranMs } as FiveBranch.ContainerFacts["termination"],
            readyInLastRun: v.ready,
            waiting: v.waiting === null ? null : { reason: v.waiting, message: v.waiting === "CreateContainerConfigError" ? "couldn't find key url in Secret default/db" : "rpc error: code = NotFound desc = failed to pull and unpack image" }
          }
          const events = (Fact.value(f0.events) ?? []).filter((e) => v.kills || !/liveness probe/.test(e.message))
          const log = Fact.value(f0.previousLog)
          const dep = Fact.value(f0.dependency)
          const facts: Facts = {
            ...f0,
            container: Fact.known(container),
            events: Fact.known(events),
            previousLog: log ? Fact.known({ ...log, lines: v.envLine ? [...log.lines, "FATAL: required environment variable DATABASE_URL is not set"] : log.lines.filter((l) => !/environment variable/.test(l)) }) : f0.previousLog,
            dependency: dep && dep.service ? Fact.known({ ...dep, service: { ...dep.service, readyEndpoints: v.readyEndpoints } }) : f0.dependency
          }
          const signal: Signal.Signal = v.bare ? { ...s0, target: { kind: "k8s.workload", ref: "kube-sim/default/Pod/api-0/api" } } : s0
          const c = FiveBranch.classify({ ...FiveBranch.defaults, minConfidence: v.floor })(facts)
          const plan = Remediator.plan(c, facts, signal)
          seen.add(c._tag === "Classified" ? c.class : c._tag)
          const planned = acts(plan.root)
          // only the four kinds, ever
          for (const a of planned) assert.isTrue(KINDS.has(a.kind), a.kind)
          if (c._tag !== "Classified") assert.deepStrictEqual(planned, [], "nothing acts below the floor or unclassified")
          if (c._tag === "Classified" && c.class === "config_error_missing_env") assert.deepStrictEqual(planned, [], "missing env: escalate only")
          if (c._tag === "Classified" && c.class === "dependency_not_ready") {
            assert.isTrue(planned.every((a) => a.kind === "k8s.restartPod" && a.target === "k8s.pod"), JSON.stringify(planned))
            assert.isAtMost(planned.length, 1)
            if (planned.length) assert.strictEqual(((plan.root as any).primary.steps[0])._tag, "WaitFor", "the restart only after the wait")
          }
          if (v.bare) assert.deepStrictEqual(planned, [], "a bare pod is never acted on")
          if (c._tag === "Classified" && c.class === "oom_at_startup") assert.strictEqual(v.reason, "OOMKilled")
          if (c._tag === "Classified" && c.class === "liveness_probe_misconfigured") assert.notStrictEqual(v.reason, "OOMKilled")
          if (c._tag === "Classified" && c.class === "dependency_not_ready" && dep?.service) assert.strictEqual(v.readyEndpoints, 0, "never with ready endpoints")
          for (const a of acts(plan.root)) if (a.kind === "k8s.patchMemoryLimit") assert.strictEqual(c._tag === "Classified" && c.class, "oom_at_startup")
        }),
        { numRuns: 1500, seed: 20261207 }
      )
      // not vacuous: every class and the escalations were generated
      for (const k of [...FiveBranch.CLASSES, "Unclassified"]) assert.isTrue(seen.has(k), `${k} never generated: ${[...seen].join(", ")}`)
    }))
})
