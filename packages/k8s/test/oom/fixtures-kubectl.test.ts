/**
 * Issue 9 item 5 (k8s): recordings decode as kubectl prints them. `OomFixture.decode` needs only
 * `pod.json` and `meta.json`; a missing optional file (PodMetrics of a crash-looping pod, a
 * Prometheus series, the owner, …) becomes an Unknown fact instead of a FixtureError; `null`
 * timestamps and `managedFields` decode. Each case is a copy of a shipped fixture with files
 * removed or rewritten the way kubectl writes them.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { type Classification, Fact } from "@byteport/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as OomClassifier from "../../src/classifiers/oom"
import * as OomFixture from "../../src/probes/oomFixture"
import * as Remediator from "../../src/remediators/oom"

const shipped = (name: string) => path.join(import.meta.dirname, "../../fixtures/oom", name)
const classOf = (c: Classification.Classification) => (c._tag === "Classified" ? c.class : c._tag)

const made: Array<string> = []
afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true })
})

/** A temporary copy of a shipped fixture, with files removed and JSON files rewritten. */
const variant = (from: string, o: { readonly drop?: ReadonlyArray<string>; readonly edit?: Record<string, (x: any) => void> } = {}) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `oom-${from}-`))
  made.push(dir)
  for (const f of fs.readdirSync(shipped(from))) {
    if (o.drop?.includes(f)) continue
    const text = fs.readFileSync(path.join(shipped(from), f), "utf8")
    const edit = o.edit?.[f]
    if (!edit) {
      fs.writeFileSync(path.join(dir, f), text)
      continue
    }
    const x = JSON.parse(text)
    edit(x)
    fs.writeFileSync(path.join(dir, f), JSON.stringify(x, null, 2))
  }
  return dir
}

const managedFields = [{ manager: "kubelet", operation: "Update", apiVersion: "v1", time: "2026-01-01T00:05:30Z", fieldsType: "FieldsV1", fieldsV1: { "f:status": { "f:containerStatuses": {} } }, subresource: "status" }]

describe("OomFixture.decode on kubectl-shaped recordings", () => {
  it.effect("only pod.json and meta.json: every other fact Unknown (named after the missing file), no FixtureError", () =>
    Effect.gen(function*() {
      const dir = variant("undersized_limit", { drop: ["node.json", "deployment.json", "replicasets.json", "hpas.json", "podmetrics.json", "prometheus-memory.json", "prometheus-rps.json", "plan.golden"] })
      const facts = yield* OomFixture.decode(dir)
      assert.deepStrictEqual(Fact.unknownKeys(facts).sort(), ["hpa", "lastDeploy", "node", "owner", "trend", "workingSet"])
      assert.match((facts.trend as Fact.Unknown).reason, /prometheus-memory\.json, prometheus-rps\.json missing/)
      assert.match((facts.owner as Fact.Unknown).reason, /deployment\.json missing/)
      const pod = Fact.value(facts.pod)!
      assert.strictEqual(pod.memoryLimitBytes, 512 * 2 ** 20)
      assert.strictEqual(pod.lastTermination?.reason, "OOMKilled")
      assert.strictEqual(classOf(OomClassifier.classify()(facts)), "Indeterminate", "escalated, never a bump")
      // the signal of such a recording still names the workload (from the pod's ReplicaSet owner)
      const signal = yield* OomFixture.signal(dir)
      assert.match(signal.target.ref, /\/default\/Deployment\/api\/api$/)
    }))

  it.effect("no PodMetrics (a crash-looping pod metrics-server has no sample of): the working set from the recorded Prometheus series; the class holds", () =>
    Effect.gen(function*() {
      const facts = yield* OomFixture.decode(variant("undersized_limit", { drop: ["podmetrics.json"] }))
      assert.strictEqual(facts.workingSet._tag, "Known")
      assert.isAbove(Fact.value(facts.workingSet)!.bytes!, 0)
      assert.strictEqual(classOf(OomClassifier.classify()(facts)), "undersized_limit")
    }))

  for (const file of ["prometheus-memory.json", "prometheus-rps.json"]) {
    it.effect(`no ${file}: trend Unknown → Indeterminate (never a bump)`, () =>
      Effect.gen(function*() {
        const facts = yield* OomFixture.decode(variant("undersized_limit", { drop: [file] }))
        assert.deepStrictEqual(Fact.unknownKeys(facts), ["trend"])
        assert.strictEqual(classOf(OomClassifier.classify()(facts)), "Indeterminate")
      }))
  }

  it.effect("no deployment.json (owner deleted or not readable): owner, hpa and last deploy Unknown; the pod's facts classify; the plan escalates instead of patching", () =>
    Effect.gen(function*() {
      const dir = variant("undersized_limit", { drop: ["deployment.json"] })
      const facts = yield* OomFixture.decode(dir)
      assert.deepStrictEqual(Fact.unknownKeys(facts).sort(), ["hpa", "lastDeploy", "owner"])
      const c = OomClassifier.classify()(facts)
      assert.strictEqual(classOf(c), "undersized_limit")
      const plan = JSON.stringify(Remediator.plan(c as Classification.Classified, facts, yield* OomFixture.signal(dir)))
      assert.notInclude(plan, "k8s.patchMemoryLimit")
      assert.include(plan, "the owning workload is unknown")
    }))

  it.effect("managedFields and kubectl's nulls (startedAt/finishedAt of an evicted container, lastProbeTime, creationTimestamp) decode", () =>
    Effect.gen(function*() {
      const dir = variant("node_pressure", {
        drop: ["podmetrics.json"],
        edit: {
          "pod.json": (p) => {
            p.metadata.managedFields = managedFields
            p.status.phase = "Failed"
            p.status.reason = "Evicted"
            p.status.message = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 91340Ki."
            p.status.containerStatuses[0].state = { terminated: { exitCode: 137, reason: "ContainerStatusUnknown", message: "The container could not be located when the pod was terminated", startedAt: null, finishedAt: null } }
            p.status.containerStatuses[0].lastState = {}
          },
          "node.json": (n) => {
            n.metadata.managedFields = managedFields
            for (const c of n.status.conditions) if (c.type === "MemoryPressure") c.lastHeartbeatTime = null
          },
          "deployment.json": (d) => {
            d.metadata.managedFields = managedFields
            d.spec.template = { metadata: { creationTimestamp: null, labels: { app: "api" } }, spec: d.spec.template?.spec ?? {} }
          }
        }
      })
      const facts = yield* OomFixture.decode(dir)
      const pod = Fact.value(facts.pod)!
      assert.deepStrictEqual(pod.lastTermination, { reason: "ContainerStatusUnknown", exitCode: 137, finishedAt: null })
      assert.isTrue(Fact.value(facts.node)!.memoryPressure)
      assert.strictEqual(classOf(OomClassifier.classify()(facts)), "node_pressure")
    }))

  it.effect("a present but malformed optional file is still a FixtureError naming it", () =>
    Effect.gen(function*() {
      const dir = variant("undersized_limit", { edit: { "hpas.json": (h) => (h.items = [{ metadata: { name: "x" }, spec: { scaleTargetRef: { kind: "Deployment", name: "api" }, maxReplicas: "three" } }]) } })
      const e = yield* Effect.flip(OomFixture.decode(dir))
      assert.match(e.message, /hpas\.json/)
    }))
})
