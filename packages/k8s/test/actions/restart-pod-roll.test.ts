/**
 * `k8s.restartPod`'s refusal with and without an OnDelete roll (`roll` param, k8s.oom.exit-137):
 * a Ready pod is deleted only when it is a StatefulSet's pod still on another memory limit and no
 * rolled sibling is down; without `roll` a Ready pod is never deleted. A property pins that no
 * combination lets a Ready pod go without a roll, or a pod that already runs the roll's limit.
 */
import type { V1Pod } from "@kubernetes/client-node"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as RestartPod from "../../src/actions/restartPod"

const pod = (o: { readonly ready: boolean; readonly owner?: "StatefulSet" | "ReplicaSet" | null; readonly limit?: string; readonly uid?: string; readonly sidecar?: boolean }): V1Pod => ({
  metadata: {
    name: "db-2",
    namespace: "default",
    uid: o.uid ?? "u-2",
    ...(o.owner === null ? {} : { ownerReferences: [{ apiVersion: "apps/v1", kind: o.owner ?? "StatefulSet", name: "db", uid: "s", controller: true }] })
  },
  spec: {
    containers: [{ name: "db", ...(o.limit && !o.sidecar ? { resources: { limits: { memory: o.limit } } } : {}) }],
    ...(o.sidecar ? { initContainers: [{ name: "shipper", restartPolicy: "Always", ...(o.limit ? { resources: { limits: { memory: o.limit } } } : {}) }] } : {})
  },
  status: { conditions: [{ type: "Ready", status: o.ready ? "True" : "False" }] }
})

const roll = { container: "db", limitBytes: 768 * 2 ** 20 }

describe("k8s.restartPod refusal with an OnDelete roll", () => {
  it("a Ready pod: refused without roll; with roll only a StatefulSet pod on another limit while no rolled sibling is down", () => {
    assert.match(RestartPod.refusal(pod({ ready: true, limit: "512Mi" }), "u-2")!, /is Ready/)
    assert.isUndefined(RestartPod.refusal(pod({ ready: true, limit: "512Mi" }), "u-2", roll))
    assert.match(RestartPod.refusal(pod({ ready: true, limit: "768Mi" }), "u-2", roll)!, /already runs the limit 768Mi/)
    assert.match(RestartPod.refusal(pod({ ready: true, limit: "512Mi", owner: "ReplicaSet" }), "u-2", roll)!, /only OnDelete StatefulSet pods/)
    assert.match(RestartPod.refusal(pod({ ready: true, limit: "512Mi" }), "u-2", roll, ["db-0"])!, /db-0 of its StatefulSet is not: one pod at a time/)
    assert.match(RestartPod.refusal(pod({ ready: true, limit: "512Mi", uid: "other" }), "u-2", roll)!, /not the planned u-2/)
    assert.match(RestartPod.refusal(pod({ ready: true, limit: "512Mi", owner: null }), "u-2", roll)!, /no controller/)
  })

  it("a not-Ready pod is restarted as before, with or without roll", () => {
    assert.isUndefined(RestartPod.refusal(pod({ ready: false, limit: "512Mi" }), "u-2"))
    assert.isUndefined(RestartPod.refusal(pod({ ready: false, limit: "768Mi" }), "u-2", roll))
  })

  it("a native sidecar's limit is read from initContainers", () => {
    assert.strictEqual(RestartPod.memoryLimitOf(pod({ ready: true, limit: "768Mi", sidecar: true }), "shipper"), roll.limitBytes)
    assert.match(RestartPod.refusal(pod({ ready: true, limit: "768Mi", sidecar: true }), "u-2", { ...roll, container: "shipper" })!, /already runs/)
    assert.isUndefined(RestartPod.refusal(pod({ ready: true, limit: "512Mi", sidecar: true }), "u-2", { ...roll, container: "shipper" }))
  })

  it("property: a Ready pod goes only with a roll, as a StatefulSet's pod, on another limit, with no rolled sibling down", () => {
    fc.assert(fc.property(
      fc.boolean(), fc.constantFrom<"StatefulSet" | "ReplicaSet" | null>("StatefulSet", "ReplicaSet", null), fc.constantFrom("512Mi", "768Mi", undefined), fc.boolean(), fc.boolean(), fc.boolean(),
      (ready, owner, limit, withRoll, siblingDown, sameUid) => {
        const p = pod({ ready, owner, ...(limit ? { limit } : {}), uid: sameUid ? "u-2" : "u-x" })
        const why = RestartPod.refusal(p, "u-2", withRoll ? roll : undefined, siblingDown ? ["db-0"] : [])
        const allowed = why === undefined
        if (!allowed) return
        assert.isTrue(sameUid && owner !== null)
        if (ready) {
          assert.isTrue(withRoll && owner === "StatefulSet" && limit !== "768Mi" && !siblingDown)
        }
      }
    ))
  })
})
