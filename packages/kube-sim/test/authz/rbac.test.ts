/**
 * Authorization by RBAC: a ServiceAccount token gets exactly what its bindings allow — Role vs
 * ClusterRole, RoleBinding vs ClusterRoleBinding, resourceNames, subresources, groups — and a
 * refused request is the apiserver's 403 Status, through the real client-node and kubectl.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as k8s from "@kubernetes/client-node"
import { KubeSim } from "../../src/index"
import { kubectlAvailable, runner } from "../kubectl/kubectl"

const ADMIN = "admin-token"

const setup = async () => {
  const sim = await KubeSim.start({ authorization: true, token: ADMIN })
  const admin = new k8s.KubeConfig()
  admin.loadFromString(sim.kubeconfig({ token: ADMIN }))
  const core = admin.makeApiClient(k8s.CoreV1Api)
  const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api)
  for (const ns of ["shop", "other"]) await core.createNamespace({ body: { metadata: { name: ns } } })
  for (const ns of ["shop", "other"]) {
    for (const name of ["api", "web"]) {
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name }, data: { a: "1" } } })
    }
  }
  const token = sim.serviceAccountToken("byteport", "agent")
  const as = new k8s.KubeConfig()
  as.loadFromString(sim.kubeconfig({ token }))
  return { sim, core, rbac, token, sa: as.makeApiClient(k8s.CoreV1Api), apps: as.makeApiClient(k8s.AppsV1Api) }
}

const statusOf = async (p: Promise<unknown>): Promise<{ code: number; body: any }> => {
  try {
    await p
    return { code: 200, body: undefined }
  } catch (e: any) {
    return { code: e.code ?? 0, body: typeof e.body === "string" ? JSON.parse(e.body) : e.body }
  }
}

const USER = "system:serviceaccount:byteport:agent"

describe("kube-sim: RBAC authorization", () => {
  it("no binding: 403 with the apiserver's Status body; unknown token 401; admin token and discovery pass", async () => {
    const { sim, sa } = await setup()
    try {
      const r = await statusOf(sa.listNamespacedConfigMap({ namespace: "shop" }))
      assert.strictEqual(r.code, 403)
      assert.deepStrictEqual(r.body, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `configmaps is forbidden: User "${USER}" cannot list resource "configmaps" in API group "" in the namespace "shop"`,
        reason: "Forbidden",
        details: { kind: "configmaps" },
        code: 403
      })
      const cluster = await statusOf(sa.listPodForAllNamespaces())
      assert.strictEqual(cluster.code, 403)
      assert.include(cluster.body.message, "at the cluster scope")
      const bad = new k8s.KubeConfig()
      bad.loadFromString(sim.kubeconfig({ token: "nope" }))
      assert.strictEqual((await statusOf(bad.makeApiClient(k8s.CoreV1Api).listNamespacedConfigMap({ namespace: "shop" }))).code, 401)
      // discovery is open to every authenticated user
      const res = await fetch(`${sim.url}/apis`, { headers: { authorization: `Bearer ${sim.serviceAccountToken("byteport", "agent")}` } })
      assert.strictEqual(res.status, 200)
      assert.isAtLeast(sim.recorder.count({ status: 403 }), 2)
    } finally {
      await sim.close()
    }
  })

  it("a Role bound in one namespace: allowed there, 403 elsewhere and cluster-wide", async () => {
    const { sim, rbac, sa } = await setup()
    try {
      await rbac.createNamespacedRole({ namespace: "shop", body: { metadata: { name: "read-cm" }, rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] }] } })
      await rbac.createNamespacedRoleBinding({
        namespace: "shop",
        body: { metadata: { name: "agent-read-cm" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "read-cm" }, subjects: [{ kind: "ServiceAccount", name: "agent", namespace: "byteport" }] }
      })
      const list = await sa.listNamespacedConfigMap({ namespace: "shop" })
      assert.deepStrictEqual(list.items.map((c) => c.metadata?.name).sort(), ["api", "web"])
      assert.strictEqual((await statusOf(sa.listNamespacedConfigMap({ namespace: "other" }))).code, 403)
      assert.strictEqual((await statusOf(sa.listConfigMapForAllNamespaces())).code, 403)
      // the verbs are exact: get/list/watch do not allow a patch or a delete
      const del = await statusOf(sa.deleteNamespacedConfigMap({ namespace: "shop", name: "api" }))
      assert.strictEqual(del.code, 403)
      assert.strictEqual(del.body.message, `configmaps "api" is forbidden: User "${USER}" cannot delete resource "configmaps" in API group "" in the namespace "shop"`)
    } finally {
      await sim.close()
    }
  })

  it("resourceNames: only the named object; list and create are never allowed by such a rule", async () => {
    const { sim, rbac, sa } = await setup()
    try {
      await rbac.createNamespacedRole({ namespace: "shop", body: { metadata: { name: "only-api" }, rules: [{ apiGroups: [""], resources: ["configmaps"], resourceNames: ["api"], verbs: ["get", "patch", "list", "create"] }] } })
      await rbac.createNamespacedRoleBinding({
        namespace: "shop",
        body: { metadata: { name: "b" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "only-api" }, subjects: [{ kind: "ServiceAccount", name: "agent", namespace: "byteport" }] }
      })
      assert.strictEqual((await sa.readNamespacedConfigMap({ namespace: "shop", name: "api" })).metadata?.name, "api")
      assert.strictEqual((await statusOf(sa.readNamespacedConfigMap({ namespace: "shop", name: "web" }))).code, 403)
      assert.strictEqual((await statusOf(sa.listNamespacedConfigMap({ namespace: "shop" }))).code, 403)
      assert.strictEqual((await statusOf(sa.createNamespacedConfigMap({ namespace: "shop", body: { metadata: { name: "api2" } } }))).code, 403)
    } finally {
      await sim.close()
    }
  })

  it("subresources: pods does not grant pods/log; pods/log and */scale do", async () => {
    const { sim, rbac, core, sa, apps } = await setup()
    try {
      await core.createNamespacedPod({ namespace: "shop", body: { metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "busybox" }] } } })
      const admin = new k8s.KubeConfig()
      admin.loadFromString(sim.kubeconfig({ token: ADMIN }))
      await admin.makeApiClient(k8s.AppsV1Api).createNamespacedDeployment({
        namespace: "shop",
        body: { metadata: { name: "api" }, spec: { replicas: 1, selector: { matchLabels: { app: "api" } }, template: { metadata: { labels: { app: "api" } }, spec: { containers: [{ name: "c", image: "busybox" }] } } } }
      })
      await rbac.createNamespacedRole({ namespace: "shop", body: { metadata: { name: "pods" }, rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }] } })
      const bind = (name: string, role: string) =>
        rbac.createNamespacedRoleBinding({
          namespace: "shop",
          body: { metadata: { name }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role }, subjects: [{ kind: "ServiceAccount", name: "agent", namespace: "byteport" }] }
        })
      await bind("b1", "pods")
      assert.strictEqual((await sa.readNamespacedPod({ namespace: "shop", name: "p" })).metadata?.name, "p")
      const log = await statusOf(sa.readNamespacedPodLog({ namespace: "shop", name: "p" }))
      assert.strictEqual(log.code, 403)
      assert.include(log.body.message, `cannot get resource "pods/log"`)
      await rbac.createNamespacedRole({ namespace: "shop", body: { metadata: { name: "logs-scale" }, rules: [{ apiGroups: [""], resources: ["pods/log"], verbs: ["get"] }, { apiGroups: ["apps"], resources: ["*/scale"], verbs: ["get"] }] } })
      await bind("b2", "logs-scale")
      assert.notStrictEqual((await statusOf(sa.readNamespacedPodLog({ namespace: "shop", name: "p" }))).code, 403)
      assert.strictEqual((await apps.readNamespacedDeploymentScale({ namespace: "shop", name: "api" })).spec?.replicas, 1)
      // */scale is not the deployment itself
      assert.strictEqual((await statusOf(apps.readNamespacedDeployment({ namespace: "shop", name: "api" }))).code, 403)
    } finally {
      await sim.close()
    }
  })

  it("ClusterRoleBinding grants everywhere and cluster-scoped resources; a RoleBinding to a ClusterRole only in its namespace; Group subjects", async () => {
    const { sim, rbac, sa } = await setup()
    try {
      await rbac.createClusterRole({ body: { metadata: { name: "nodes-read" }, rules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["list"] }] } })
      await rbac.createClusterRoleBinding({
        body: { metadata: { name: "agent-nodes" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "nodes-read" }, subjects: [{ kind: "ServiceAccount", name: "agent", namespace: "byteport" }] }
      })
      assert.isArray((await sa.listNode()).items)
      await rbac.createClusterRole({ body: { metadata: { name: "cm-read" }, rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["list"] }] } })
      await rbac.createNamespacedRoleBinding({
        namespace: "other",
        body: { metadata: { name: "grp" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cm-read" }, subjects: [{ kind: "Group", name: "system:serviceaccounts:byteport", apiGroup: "rbac.authorization.k8s.io" }] }
      })
      assert.strictEqual((await sa.listNamespacedConfigMap({ namespace: "other" })).items.length, 2)
      assert.strictEqual((await statusOf(sa.listNamespacedConfigMap({ namespace: "shop" }))).code, 403)
      // another ServiceAccount's binding does not apply
      await rbac.createClusterRoleBinding({
        body: { metadata: { name: "someone-else" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cm-read" }, subjects: [{ kind: "ServiceAccount", name: "other", namespace: "byteport" }] }
      })
      assert.strictEqual((await statusOf(sa.listConfigMapForAllNamespaces())).code, 403)
    } finally {
      await sim.close()
    }
  })
})

const d = kubectlAvailable() ? describe : describe.skip

d("kube-sim: RBAC through kubectl (TLS, ServiceAccount token)", () => {
  it("kubectl prints the apiserver's Forbidden error; an allowed read succeeds", async () => {
    const sim = await KubeSim.start({ authorization: true, token: ADMIN, tls: true, namespaces: ["default", "shop"] })
    const dir = mkdtempSync(join(tmpdir(), "kube-sim-rbac-"))
    try {
      const token = sim.serviceAccountToken("byteport", "agent")
      sim.writeKubeconfig(join(dir, "admin"), { token: ADMIN })
      sim.writeKubeconfig(join(dir, "sa"), { token })
      const admin = runner(join(dir, "admin"))
      const k = runner(join(dir, "sa"))
      try {
        const yaml = [
          "apiVersion: rbac.authorization.k8s.io/v1",
          "kind: Role",
          "metadata: {name: read-pods, namespace: shop}",
          "rules: [{apiGroups: [\"\"], resources: [pods], verbs: [list]}]",
          "---",
          "apiVersion: rbac.authorization.k8s.io/v1",
          "kind: RoleBinding",
          "metadata: {name: agent, namespace: shop}",
          "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-pods}",
          "subjects: [{kind: ServiceAccount, name: agent, namespace: byteport}]"
        ].join("\n")
        writeFileSync(join(dir, "rbac.yaml"), yaml)
        const applied = await admin.run(["apply", "--validate=false", "-f", join(dir, "rbac.yaml")])
        assert.strictEqual(applied.code, 0, applied.stderr)
        const ok = await k.run(["get", "pods", "-n", "shop"])
        assert.strictEqual(ok.code, 0, ok.stderr)
        const no = await k.run(["get", "pods", "-n", "default"])
        assert.notStrictEqual(no.code, 0)
        assert.include(no.stderr, `Error from server (Forbidden): pods is forbidden: User "${USER}" cannot list resource "pods" in API group "" in the namespace "default"`)
      } finally {
        admin.cleanup()
        k.cleanup()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
      await sim.close()
    }
  })
})
