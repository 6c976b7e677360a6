import { assert, describe, it } from "@effect/vitest"
import { Catalog } from "@byteport/core"
import * as NodePressureDrain from "../../src/runbooks/k8s.node.pressure-drain"
import * as NodeNotReady from "../../src/runbooks/k8s.node.not-ready"
import * as NotReadyDetector from "../../src/detectors/nodeNotReady"

describe("k8s.node family precedence", () => {
  it("a NotReady node goes to k8s.node.not-ready before k8s.node.pressure-drain, whatever the declaration order; the user may reorder", () => {
    const notReady = NodeNotReady.make()
    const drain = NodePressureDrain.make()
    assert.strictEqual(notReady.family, "k8s.node")
    assert.strictEqual(drain.family, "k8s.node")
    assert.include(drain.signals, NotReadyDetector.SIGNAL)
    for (const order of [[notReady, drain], [drain, notReady]]) {
      const owners = Catalog.owners(Catalog.make(order as never), NotReadyDetector.SIGNAL)
      assert.deepStrictEqual(owners.map((r) => r.id), ["k8s.node.not-ready"], "the family default: only the first of the family is enabled")
    }
    const both = Catalog.owners(Catalog.make([drain, notReady] as never, { enable: ["k8s.node.not-ready", "k8s.node.pressure-drain"] }), NotReadyDetector.SIGNAL)
    assert.deepStrictEqual(both.map((r) => r.id), ["k8s.node.not-ready", "k8s.node.pressure-drain"])
    const reordered = Catalog.owners(Catalog.make([notReady, drain] as never, { enable: ["k8s.node.not-ready", "k8s.node.pressure-drain"], order: ["k8s.node.pressure-drain"] }), NotReadyDetector.SIGNAL)
    assert.strictEqual(reordered[0]!.id, "k8s.node.pressure-drain")
  })
})
