/**
 * The fit check is total: a node or pod object with a retyped list or map (a string where the API
 * has an array, a null element, a number for labels) reads that field as empty, never throws — the
 * fuzzing (seed 279289995: `nodes.json` with a taint list retyped to "") found the throw.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Pending from "../../src/classifiers/pending"
import * as Fit from "../../src/probes/fit"

const node = (patch: Record<string, unknown>): Fit.FitNode =>
  ({
    metadata: { name: "node-1", labels: { "kubernetes.io/os": "linux" } },
    spec: {},
    status: { conditions: [{ type: "Ready", status: "True" }], allocatable: { cpu: "2", memory: "4Gi", pods: "110" } },
    ...patch
  }) as unknown as Fit.FitNode

const spec = { containers: [{ resources: { requests: { cpu: "500m", memory: "256Mi" } } }] } as unknown as Fit.FitPodSpec

describe("Fit on retyped fields", () => {
  it("the well-formed node fits (the baseline the cases below are judged against)", () => {
    const [f] = Fit.checkAll(spec, [node({})], [])
    assert.deepStrictEqual(f, { node: "node-1", candidate: true, notCandidate: null, reasons: [] })
  })

  const cases: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
    ["taints retyped to a string", { spec: { taints: "" } }],
    ["a null taint", { spec: { taints: [null] } }],
    ["labels retyped to a number", { metadata: { name: "node-1", labels: 7 } }],
    ["allocatable retyped to a list", { status: { conditions: [{ type: "Ready", status: "True" }], allocatable: ["x"] } }],
    ["conditions retyped to a string", { status: { conditions: "Ready", allocatable: { cpu: "2" } } }],
    ["metadata null", { metadata: null }]
  ]
  for (const [name, patch] of cases) {
    it(`${name}: no throw, a NodeFit for the node`, () => {
      const fits = Fit.checkAll(spec, [node(patch)], [])
      assert.strictEqual(fits.length, 1)
    })
  }

  it("a null node and a null pod in the lists are skipped; a pod spec with retyped containers requests nothing but a pod slot", () => {
    const fits = Fit.checkAll({ containers: "app" } as unknown as Fit.FitPodSpec, [null as unknown as Fit.FitNode, node({})], [null as never])
    assert.deepStrictEqual(fits.map((f) => [f.node, f.reasons.length]), [["node-1", 0]])
    assert.deepStrictEqual(Fit.podRequests({ containers: [null], initContainers: 3 } as unknown as Fit.FitPodSpec), { pods: 1 })
  })

  it("a retyped taint list reads as no taint; a real NoSchedule taint still excludes", () => {
    const tainted = node({ spec: { taints: [{ key: "dedicated", value: "db", effect: "NoSchedule" }] } })
    assert.deepStrictEqual(Fit.checkAll(spec, [tainted], [])[0]!.reasons.map((r) => r.category), ["taint"])
    assert.deepStrictEqual(Fit.checkAll(spec, [node({ spec: { taints: "" } })], [])[0]!.reasons, [])
  })
})

describe("k8s.pending facts on an object the API never serves", () => {
  it("a null volume (fuzz seed 279289995): every fact Unknown naming the malformed input, the classifier Indeterminate", () => {
    const facts = Pending.factsFrom({
      pod: { metadata: { name: "web-1", namespace: "shop" }, spec: { volumes: [null], containers: [{ name: "web" }] }, status: { phase: "Pending" } },
      events: [],
      nodes: [node({})],
      pods: [],
      claims: [],
      configMaps: [],
      secrets: [],
      deployment: null,
      replicaSets: []
    })
    assert.deepStrictEqual(Object.values(facts).map((f) => f._tag), ["Unknown", "Unknown", "Unknown", "Unknown", "Unknown", "Unknown"])
    assert.include((facts.storage as { reason: string }).reason, "malformed object")
    assert.strictEqual(Pending.classify()(facts)._tag, "Indeterminate")
  })
})
