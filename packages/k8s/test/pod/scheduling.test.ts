import { assert, describe, it } from "@effect/vitest"
import * as Scheduling from "../../src/probes/scheduling"

// FailedScheduling messages as the scheduler (pkg/scheduler/framework, preemption) writes them.
describe("Scheduling.parse: FailedScheduling", () => {
  it("mixed reasons with node counts and the preemption suffix", () => {
    const m = "0/5 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient memory, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling."
    const f = Scheduling.parse(m)!
    assert.strictEqual(f.available, 0)
    assert.strictEqual(f.total, 5)
    assert.deepStrictEqual(f.reasons.map((r) => [r.count, r.category]), [[1, "taint"], [2, "resources"], [2, "affinity"]])
    assert.strictEqual(f.reasons[0]!.taint, "node-role.kubernetes.io/control-plane")
    assert.strictEqual(f.reasons[1]!.resource, "memory")
    assert.deepStrictEqual(f.preemption?.reasons.map((r) => [r.count, r.reason]), [[2, "No preemption victims found for incoming pod"], [3, "Preemption is not helpful for scheduling"]])
    assert.deepStrictEqual(Scheduling.byCategory(f), { taint: 1, resources: 2, affinity: 2 })
  })

  it("cordoned and NotReady nodes are their own categories", () => {
    const f = Scheduling.parse("0/4 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 1 node(s) were unschedulable, 2 Insufficient cpu. preemption: 0/4 nodes are available: 2 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.")!
    assert.deepStrictEqual(Scheduling.byCategory(f), { not_ready: 1, unschedulable: 1, resources: 2 })
    const t = Scheduling.parse("0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unschedulable: }, 2 node(s) had untolerated taint {dedicated: gpu}.")!
    assert.deepStrictEqual(Scheduling.byCategory(t), { unschedulable: 1, taint: 2 })
    assert.strictEqual(t.preemption, null)
  })

  it("storage, topology, ports and counts-less reasons", () => {
    const f = Scheduling.parse("0/6 nodes are available: 1 node(s) didn't match pod topology spread constraints, 2 node(s) had volume node affinity conflict, 3 node(s) didn't have free ports for the requested pod ports.")!
    assert.deepStrictEqual(f.reasons.map((r) => r.category), ["topology", "storage", "ports"])
    const pvc = Scheduling.parse('0/3 nodes are available: persistentvolumeclaim "data" not found. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.')!
    assert.deepStrictEqual(pvc.reasons, [{ count: null, reason: 'persistentvolumeclaim "data" not found', category: "storage", resource: null, taint: null }])
    assert.strictEqual(pvc.preemption?.reasons[0]?.count, 3)
    const unbound = Scheduling.parse("0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")!
    assert.strictEqual(unbound.reasons[0]!.category, "storage")
  })

  it("a taint whose value holds a comma does not split the reason", () => {
    const f = Scheduling.parse("0/2 nodes are available: 2 node(s) had untolerated taint {team: a, b}.")!
    assert.strictEqual(f.reasons.length, 1)
    assert.strictEqual(f.reasons[0]!.count, 2)
  })

  it("no nodes at all, and non-scheduler messages", () => {
    assert.deepStrictEqual(Scheduling.parse("no nodes available to schedule pods")?.total, 0)
    assert.isUndefined(Scheduling.parse("Successfully assigned default/api to node-1"))
  })
})
