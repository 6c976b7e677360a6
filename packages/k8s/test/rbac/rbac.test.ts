/**
 * `Rbac`: union and rendering of declared permissions, and the generator against an authorizer:
 * for random declarations and random requests, what `Rbac.allows` says equals what kube-sim's
 * RBAC authorizer answers when the rendered manifests are applied and a ServiceAccount token
 * bound only to them makes the request (403 or not).
 */
import { assert, describe, it } from "@effect/vitest"
import * as k8s from "@kubernetes/client-node"
import fc from "fast-check"
import { KubeSim } from "../../../kube-sim/src/index"
import * as Rbac from "../../src/rbac/Rbac"

describe("Rbac.union", () => {
  it("merges overlapping declarations into one rule per scope, group, names and verbs; order and duplicates do not matter", () => {
    const a = [Rbac.rule("", ["pods"], ["watch", "get"]), Rbac.rule("apps", ["deployments"], ["patch"])]
    const b = [Rbac.rule("", ["pods", "pods"], ["list", "get"]), Rbac.rule("", ["nodes"], ["get", "list", "watch"]), Rbac.rule("apps", ["deployments"], ["get"])]
    const u = Rbac.union(a, b)
    assert.deepStrictEqual(u, [
      { apiGroups: [""], resources: ["nodes", "pods"], verbs: ["get", "list", "watch"], scope: "cluster" },
      { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "patch"], scope: "cluster" }
    ])
    assert.deepStrictEqual(Rbac.union(b, a), u)
    assert.deepStrictEqual(Rbac.union(u, u), u)
  })

  it("keeps scopes and resourceNames apart", () => {
    const u = Rbac.union([
      Rbac.rule("coordination.k8s.io", ["leases"], ["get", "create", "update"], { scope: "agent-namespace" }),
      Rbac.rule("coordination.k8s.io", ["leases"], ["get"]),
      Rbac.rule("", ["configmaps"], ["get"], { resourceNames: ["b", "a", "a"] })
    ])
    assert.deepStrictEqual(u, [
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"], scope: "agent-namespace" },
      { apiGroups: [""], resources: ["configmaps"], verbs: ["get"], resourceNames: ["a", "b"], scope: "cluster" },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get"], scope: "cluster" }
    ])
  })
})

describe("Rbac.manifests", () => {
  it("a ClusterRole + binding for cluster rules, a Role + binding in the agent's namespace for its own; empty sides left out", () => {
    const perms = [Rbac.rule("", ["pods"], ["get"]), Rbac.rule("coordination.k8s.io", ["leases"], ["get", "create"], { scope: "agent-namespace" })]
    const m = Rbac.manifests(perms, { namespace: "ops", serviceAccount: "agent" })
    assert.deepStrictEqual(m.map((o) => [o.kind, o.metadata["name"], o.metadata["namespace"]]), [
      ["ClusterRole", "byteport-agent", undefined],
      ["ClusterRoleBinding", "byteport-agent", undefined],
      ["Role", "byteport-agent", "ops"],
      ["RoleBinding", "byteport-agent", "ops"]
    ])
    assert.deepStrictEqual((m[1] as any).subjects, [{ kind: "ServiceAccount", name: "agent", namespace: "ops" }])
    assert.deepStrictEqual(Rbac.manifests([Rbac.rule("", ["pods"], ["get"])]).map((o) => o.kind), ["ClusterRole", "ClusterRoleBinding"])
    const yaml = Rbac.toYaml(m)
    assert.strictEqual(yaml.split("\n---\n").length, 4)
    assert.include(yaml, "kind: ClusterRole\n")
  })
})

// --- the generator against kube-sim's authorizer ---------------------------------------------

interface Res {
  readonly group: string
  readonly version: string
  readonly resource: string
  readonly subresource?: string
  readonly namespaced: boolean
}

const RESOURCES: ReadonlyArray<Res> = [
  { group: "", version: "v1", resource: "pods", namespaced: true },
  { group: "", version: "v1", resource: "pods", subresource: "log", namespaced: true },
  { group: "", version: "v1", resource: "configmaps", namespaced: true },
  { group: "", version: "v1", resource: "nodes", namespaced: false },
  { group: "apps", version: "v1", resource: "deployments", namespaced: true },
  { group: "apps", version: "v1", resource: "deployments", subresource: "scale", namespaced: true },
  { group: "coordination.k8s.io", version: "v1", resource: "leases", namespaced: true }
]
const VERBS: ReadonlyArray<Rbac.Verb> = ["get", "list", "watch", "create", "patch", "delete"]
const NAMESPACES = ["byteport", "shop"]
const NAMES = ["a", "b"]

const resName = (r: Res) => (r.subresource ? `${r.resource}/${r.subresource}` : r.resource)

const ruleArb = fc.record({
  res: fc.constantFrom(...RESOURCES),
  verbs: fc.subarray([...VERBS], { minLength: 1 }),
  names: fc.option(fc.subarray(NAMES, { minLength: 1 }), { nil: undefined }),
  scope: fc.constantFrom<Rbac.Scope>("cluster", "agent-namespace")
}).map(({ res, verbs, names, scope }) =>
  Rbac.rule(res.group, [resName(res)], verbs, { scope: res.namespaced ? scope : "cluster", ...(names ? { resourceNames: names } : {}) })
)

const requestArb = fc.record({
  res: fc.constantFrom(...RESOURCES),
  verb: fc.constantFrom(...VERBS),
  namespace: fc.constantFrom(...NAMESPACES),
  name: fc.constantFrom(...NAMES)
}).filter(({ res, verb }) => !(res.subresource === "log" && verb !== "get") && !(res.subresource === "scale" && !["get", "patch"].includes(verb)))

const send = async (sim: KubeSim.KubeSim, token: string, r: fc.Arbitrary<any> extends never ? never : { res: Res; verb: Rbac.Verb; namespace: string; name: string }): Promise<number> => {
  const base = r.res.group === "" ? `/api/${r.res.version}` : `/apis/${r.res.group}/${r.res.version}`
  const ns = r.res.namespaced ? `/namespaces/${r.namespace}` : ""
  const collection = `${sim.url}${base}${ns}/${r.res.resource}`
  const named = ["get", "patch", "delete"].includes(r.verb) || r.res.subresource !== undefined
  const url = named ? `${collection}/${r.name}${r.res.subresource ? `/${r.res.subresource}` : ""}` : collection
  const method = { get: "GET", list: "GET", watch: "GET", create: "POST", patch: "PATCH", delete: "DELETE", update: "PUT", deletecollection: "DELETE" }[r.verb]
  const headers: Record<string, string> = { authorization: `Bearer ${token}` }
  let body: string | undefined
  if (r.verb === "create") {
    headers["content-type"] = "application/json"
    body = JSON.stringify({ apiVersion: r.res.group === "" ? "v1" : `${r.res.group}/${r.res.version}`, kind: "Unknown", metadata: { generateName: "x-" } })
  }
  if (r.verb === "patch") {
    headers["content-type"] = "application/merge-patch+json"
    body = "{}"
  }
  const ac = new AbortController()
  const res = await fetch(r.verb === "watch" ? `${url}?watch=1&timeoutSeconds=1` : url, { method, headers, ...(body !== undefined ? { body } : {}), signal: ac.signal })
  ac.abort()
  return res.status
}

describe("Rbac against kube-sim's RBAC authorizer", () => {
  it("for random declarations and requests, Rbac.allows agrees with the authorizer applying the rendered manifests", async () => {
    const sim = await KubeSim.start({ authorization: true, token: "admin", namespaces: ["default", ...NAMESPACES] })
    const admin = new k8s.KubeConfig()
    admin.loadFromString(sim.kubeconfig({ token: "admin" }))
    const objects = k8s.KubernetesObjectApi.makeApiClient(admin)
    let run = 0
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(ruleArb, { minLength: 1, maxLength: 4 }), fc.array(requestArb, { minLength: 4, maxLength: 8 }), async (rules, requests) => {
          run++
          const sa = `agent-${run}`
          const perms = Rbac.union(rules)
          for (const m of Rbac.manifests(perms, { namespace: "byteport", serviceAccount: sa, name: `agent-${run}` })) {
            await objects.create(m as k8s.KubernetesObject)
          }
          const token = sim.serviceAccountToken("byteport", sa)
          for (const r of requests) {
            const expected = Rbac.allows(perms, { verb: r.verb, group: r.res.group, resource: r.res.resource, subresource: r.res.subresource, namespace: r.res.namespaced ? r.namespace : undefined, name: ["get", "patch", "delete"].includes(r.verb) || r.res.subresource ? r.name : undefined }, "byteport")
            const status = await send(sim, token, r)
            assert.strictEqual(status !== 403, expected, `${r.verb} ${resName(r.res)} ns=${r.namespace} name=${r.name} with ${JSON.stringify(perms)}: status ${status}`)
          }
        }),
        { numRuns: Number(process.env["RBAC_RUNS"] ?? 40), seed: 4242 }
      )
      assert.isAtLeast(sim.recorder.count({ status: 403 }), 1)
    } finally {
      await sim.close()
    }
  }, 120_000)
})
