import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Schema } from "effect"
import { Guardrail, TargetRef } from "@byteport/core"

const web = TargetRef.make("k8s.workload", "shop/Deployment/web")

describe("TargetRef.cluster (fleets)", () => {
  it("keeps the single-cluster key unchanged and prefixes the cluster otherwise", () => {
    expect(TargetRef.key(web)).toBe("k8s.workload:shop/Deployment/web")
    expect(TargetRef.key({ ...web, cluster: "eu-1" })).toBe("@eu-1/k8s.workload:shop/Deployment/web")
    expect(TargetRef.key({ ...web, cluster: "eu-1" })).not.toBe(TargetRef.key({ ...web, cluster: "us-1" }))
  })

  it("compares the cluster in equals", () => {
    expect(TargetRef.equals({ ...web, cluster: "eu-1" }, { ...web, cluster: "eu-1" })).toBe(true)
    expect(TargetRef.equals({ ...web, cluster: "eu-1" }, { ...web, cluster: "us-1" })).toBe(false)
    expect(TargetRef.equals({ ...web, cluster: "eu-1" }, web)).toBe(false)
  })

  it("inCluster places a target and its ancestors, keeping a cluster already named", () => {
    const app = TargetRef.make("k8s.container", "shop/Deployment/web/app", web)
    const placed = TargetRef.inCluster(app, "eu-1")
    expect(placed.cluster).toBe("eu-1")
    expect(placed.parent?.cluster).toBe("eu-1")
    expect(TargetRef.ancestors(placed).map(TargetRef.key)).toEqual(["@eu-1/k8s.workload:shop/Deployment/web"])
    expect(TargetRef.inCluster({ ...web, cluster: "us-1" }, "eu-1").cluster).toBe("us-1")
    expect(TargetRef.inCluster(web, undefined)).toBe(web)
  })

  it("decodes a valid cluster name and refuses an invalid one", () => {
    const decode = Schema.decodeUnknownExit(TargetRef.TargetRef)
    expect(decode({ kind: "k8s.node", ref: "n1", cluster: "prod.eu-1" })._tag).toBe("Success")
    for (const bad of ["", "Prod", "eu/1", "-eu", "a b"]) {
      expect(decode({ kind: "k8s.node", ref: "n1", cluster: bad })._tag).toBe("Failure")
    }
  })

  it("per-target keys differ across clusters, fleet-wide keys do not, perCluster names the cluster", () => {
    const ctx = (cluster?: string) =>
      ({
        incidentId: "i1",
        runbook: "rb",
        action: { kind: "k8s.node.replace", target: { kind: "k8s.node", ref: "n1", ...(cluster ? { cluster } : {}) } },
        signal: { type: "t", target: { kind: "k8s.node", ref: "n1" }, observedAt: 0, evidence: {} }
      }) as unknown as Guardrail.GuardrailContext
    const perTarget = Guardrail.keys.perTarget("replace")
    expect(perTarget(ctx())).toBe("replace:k8s.node:n1")
    expect(perTarget(ctx("a"))).not.toBe(perTarget(ctx("b")))
    expect(Guardrail.keys.perKind("fleet")(ctx("a"))).toBe(Guardrail.keys.perKind("fleet")(ctx("b")))
    expect(Guardrail.keys.perCluster("nodes")(ctx("a"))).toBe("nodes:@a")
    expect(Guardrail.keys.perCluster("nodes")(ctx())).toBe("nodes")
  })
})

describe("TargetRef.layerConfig (BYTEPORT_CLUSTER)", () => {
  const read = (env: Record<string, string>) =>
    Effect.runSync(Effect.exit(Effect.provide(Effect.service(TargetRef.Cluster), TargetRef.layerConfig.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))))))

  it("names the agent's cluster, none when unset, and refuses an invalid name", () => {
    const set = read({ BYTEPORT_CLUSTER: "eu-1" })
    expect(set._tag === "Success" && set.value).toBe("eu-1")
    const unset = read({})
    expect(unset._tag === "Success" && unset.value).toBe(undefined)
    expect(read({ BYTEPORT_CLUSTER: "EU/1" })._tag).toBe("Failure")
  })
})
