/**
 * k8s.node.pressure-drain: a reviewed golden plan per class, from `kubectl get node -o json`
 * recordings (`fixtures/pressure-drain/<class>/node.json`, the signal in `meta.json`), read
 * through the runbook's own facts (`nodeState`, `clusterState`), and the detector's 60 s NotReady
 * threshold on both sides from the recordings' lastTransitionTime.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { type Classification, Fact, Plan, type Signal } from "@byteport/core"
import { expectPlan } from "@byteport/core/testing"
import type { V1Node } from "@kubernetes/client-node"
import * as NodeClassifier from "../../src/classifiers/nodePressure"
import * as NodeConditions from "../../src/detectors/nodeConditions"
import * as Remediator from "../../src/remediators/nodePressure"

const root = path.join(import.meta.dirname, "../../fixtures/pressure-drain")
const CLASSES = ["node_not_ready", "memory_pressure", "disk_pressure", "pid_pressure"] as const
const read = (dir: string, f: string) => JSON.parse(fs.readFileSync(path.join(root, dir, f), "utf8"))
const nodeOf = (dir: string): V1Node => read(dir, "node.json")
const meta = (dir: string): { readonly now: string; readonly signal?: Signal.Signal } => read(dir, "meta.json")
const factsOf = (n: V1Node): Fact.Facts<NodeClassifier.PressureFacts> => ({
  node: Fact.known(NodeClassifier.nodeState(n)),
  cluster: Fact.known(NodeClassifier.clusterState([n]))
})

describe("k8s.node.pressure-drain: golden plans from kubectl recordings", () => {
  it("there is a recording of every class, and the classes are the classifier's", () => {
    assert.deepStrictEqual(NodeClassifier.rules.map((r) => r.class), [...CLASSES])
    for (const cls of CLASSES) assert.isTrue(fs.existsSync(path.join(root, cls, "node.json")), cls)
  })

  for (const cls of CLASSES) {
    it(`${cls}: detected, classified from the recording, and the plan is the golden one`, () => {
      const n = nodeOf(cls)
      const m = meta(cls)
      // the detector signals this recording with the signal type the recording's meta names
      const d = NodeConditions.evaluate([n], Date.parse(m.now), new Set())
      assert.deepStrictEqual(d.map((x) => x.type), [m.signal!.type])
      const facts = factsOf(n)
      assert.deepStrictEqual(Fact.unknownKeys(facts), [])
      const c = NodeClassifier.classify()(facts)
      assert.strictEqual(c._tag === "Classified" ? c.class : c._tag, cls)
      const plan = Remediator.plan(c as Classification.Classified, facts, m.signal!)
      assert.deepStrictEqual(Plan.fromJson(Plan.toJson(plan)), plan)
      assert.deepStrictEqual(Plan.actions(plan.root).map((a) => a.action.kind), ["k8s.cordonNode", "k8s.drainNode", "k8s.uncordonNode"])
      expectPlan(plan, path.join(root, cls, "plan.golden"))
    })
  }

  it("NotReady threshold: 59 s is no signal, 60 s is one (from the recordings' lastTransitionTime)", () => {
    const at = (dir: string) => NodeConditions.evaluate([nodeOf(dir)], Date.parse(meta(dir).now), new Set())
    assert.deepStrictEqual(at("near-miss-59s"), [])
    assert.deepStrictEqual(at("near-miss-60s").map((x) => [x.type, x.node, x.status]), [["k8s.node.not_ready", "node-8", "False"]])
    // both are node_not_ready for the classifier: the threshold is the detector's alone
    for (const dir of ["near-miss-59s", "near-miss-60s"]) {
      const c = NodeClassifier.classify()(factsOf(nodeOf(dir)))
      assert.strictEqual(c._tag === "Classified" ? c.class : c._tag, "node_not_ready")
    }
  })
})
