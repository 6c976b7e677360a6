/**
 * The GitOps reconciler model on kube-sim, reading the GitHubFake's repository: Argo CD
 * Applications sync the tracked revision and, with selfHeal, put a hand-made rollback back within
 * one interval (the reason a rollback must freeze first); a frozen Application keeps a rollback
 * for 10 intervals; an ApplicationSet re-applies its Applications' spec (a freeze is reverted)
 * unless it ignores /spec/syncPolicy; Flux re-applies every interval unless suspended; a
 * HelmRelease upgrades on a new revision.
 */
import { afterEach, assert, describe, it } from "vitest"
import { ApiextensionsV1Api } from "@kubernetes/client-node"
import * as R from "../../src/gitops/Resources"
import { ARGO_INTERVAL, application, fluxObjects, REPO_URL, start, until } from "./world"
import type { World } from "./world"

let world: World | undefined
afterEach(async () => {
  await world?.close()
  world = undefined
})

const appSpec = async (w: World, name: string) => R.obj((await w.get(R.Application, "argocd", name))["spec"])
/** Read, change, replace; re-read on a conflict (the model writes the Application's health concurrently, as Argo CD does). */
const patchApp = async (w: World, name: string, f: (app: R.Obj) => void) => {
  for (let i = 0; ; i++) {
    const app = await w.get(R.Application, "argocd", name)
    f(app)
    try {
      await w.custom.replaceNamespacedCustomObject({ group: R.Application.group, version: R.Application.version, plural: R.Application.plural, namespace: "argocd", name, body: app })
      return
    } catch (e) {
      if (i >= 20 || !String(e).includes("409")) throw e
    }
  }
}

describe("GitOps reconciler model: Argo CD", () => {
  it("registers the CRDs; syncs the tracked revision, records history, and re-applies a hand-made rollback within one interval (selfHeal)", async () => {
    const w = (world = await start())
    const names = (await w.kc.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition()).items.map((c) => c.metadata!.name).sort()
    for (const n of ["applications.argoproj.io", "applicationsets.argoproj.io", "gitrepositories.source.toolkit.fluxcd.io", "helmreleases.helm.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io"]) assert.include(names, n)

    await w.create(R.Application, "argocd", application("shop"))
    await until(async () => (await w.image()) === "shop:1", "the first sync")
    const v2 = await w.release("shop:2")
    await w.advance(ARGO_INTERVAL - 1000)
    assert.strictEqual(await w.image(), "shop:1", "a new commit is not seen before the interval")
    await w.advance(1000)
    assert.strictEqual(await w.image(), "shop:2")
    const app = await w.get(R.Application, "argocd", "shop")
    assert.deepStrictEqual(R.historyOf(app).map((h) => h.id), [0, 1])
    assert.strictEqual(R.historyOf(app)[1]!.revision, v2)
    assert.strictEqual(R.obj(R.obj(app["status"])["sync"])["status"], "Synced")
    assert.strictEqual(R.appliedRevisionOfApplication(app), v2)

    // the test that shows the freeze is needed: a rollback that bypasses Argo CD is undone in one interval
    await w.setImage("shop:1")
    assert.strictEqual(await w.image(), "shop:1")
    await w.advance(ARGO_INTERVAL)
    assert.strictEqual(await w.image(), "shop:2", "selfHeal re-applied the tracked revision within one interval")
    // and Argo CD refuses its own rollback while auto-sync is on
    const refused = await w.model.rollback("argocd", "shop", { id: 0 }).then(() => "ran", (e: Error) => e.message)
    assert.strictEqual(refused, "rollback cannot be initiated when auto-sync is enabled")
  })

  it("a rollback by history id with automated.enabled=false survives 10 intervals; re-enabling syncs the tracked revision again", async () => {
    const w = (world = await start())
    await w.create(R.Application, "argocd", application("shop"))
    await until(async () => (await w.image()) === "shop:1", "the first sync")
    const v2 = await w.release("shop:2")
    await w.advance(ARGO_INTERVAL)
    assert.strictEqual(await w.image(), "shop:2")
    await patchApp(w, "shop", (app) => {
      R.obj(R.obj(R.obj(app["spec"])["syncPolicy"])["automated"])["enabled"] = false
    })
    await w.model.idle()
    const rolled = await w.model.rollback("argocd", "shop", { id: 0 })
    assert.strictEqual(await w.image(), "shop:1")
    assert.deepStrictEqual(R.historyOf(rolled).map((h) => h.id), [0, 1, 2])
    for (let i = 0; i < 10; i++) {
      await w.advance(ARGO_INTERVAL)
      assert.strictEqual(await w.image(), "shop:1", `interval ${i + 1}`)
    }
    const app = await w.get(R.Application, "argocd", "shop")
    assert.strictEqual(R.obj(R.obj(app["status"])["sync"])["status"], "OutOfSync")
    assert.strictEqual(R.obj(R.obj(app["status"])["sync"])["revision"], v2)
    // unfreezing without a revert in Git puts the bad revision back at once (spec change → reconcile)
    await patchApp(w, "shop", (a) => {
      delete R.obj(R.obj(R.obj(a["spec"])["syncPolicy"])["automated"])["enabled"]
    })
    await w.model.idle()
    assert.strictEqual(await w.image(), "shop:2")
  })

  it("the older shape: without `automated` nothing syncs, and a new commit only marks the app OutOfSync", async () => {
    const w = (world = await start())
    await w.create(R.Application, "argocd", application("shop", null))
    await w.model.idle()
    assert.isUndefined(await w.image(), "manual sync policy: nothing applied")
    const app = await w.get(R.Application, "argocd", "shop")
    assert.strictEqual(R.obj(R.obj(app["status"])["sync"])["status"], "OutOfSync")
    await w.model.sync("argocd", "shop")
    assert.strictEqual(await w.image(), "shop:1")
    await w.release("shop:2")
    await w.advance(ARGO_INTERVAL)
    assert.strictEqual(await w.image(), "shop:1")
    assert.strictEqual(R.obj(R.obj((await w.get(R.Application, "argocd", "shop"))["status"])["sync"])["status"], "OutOfSync")
  })

  it("an ApplicationSet re-applies its Applications' spec (a freeze is reverted), unless it ignores /spec/syncPolicy", async () => {
    const w = (world = await start())
    const appSet = (ignore: boolean) => ({
      metadata: { name: `shop-${ignore ? "b" : "a"}`, namespace: "argocd" },
      spec: {
        generators: [{ list: { elements: [{ env: ignore ? "canary" : "prod" }] } }],
        template: {
          metadata: { name: "shop-{{env}}" },
          spec: { project: "default", source: { repoURL: REPO_URL, targetRevision: "main", path: "deploy" }, destination: { server: "https://kubernetes.default.svc", namespace: "{{env}}" }, syncPolicy: { automated: { prune: true, selfHeal: true } } }
        },
        ...(ignore ? { ignoreApplicationDifferences: [{ jsonPointers: ["/spec/syncPolicy"] }] } : {})
      }
    })
    await w.sim.store.create({ group: "", version: "v1", resource: "namespaces" }, { apiVersion: "v1", kind: "Namespace", metadata: { name: "prod" } })
    await w.sim.store.create({ group: "", version: "v1", resource: "namespaces" }, { apiVersion: "v1", kind: "Namespace", metadata: { name: "canary" } })
    await w.create(R.ApplicationSet, "argocd", appSet(false))
    await w.create(R.ApplicationSet, "argocd", appSet(true))
    await until(async () => (await w.image("shop", "prod")) === "shop:1" && (await w.image("shop", "canary")) === "shop:1", "the generated apps' first sync")
    const prod = await w.get(R.Application, "argocd", "shop-prod")
    assert.strictEqual(R.applicationSetOwner(prod), "shop-a")
    for (const name of ["shop-prod", "shop-canary"]) {
      await patchApp(w, name, (app) => {
        R.obj(R.obj(R.obj(app["spec"])["syncPolicy"])["automated"])["enabled"] = false
      })
    }
    await w.model.idle()
    await w.model.idle()
    assert.isTrue(R.autoSyncOn({ spec: await appSpec(w, "shop-prod") }), "the ApplicationSet put automated sync back")
    assert.isFalse(R.autoSyncOn({ spec: await appSpec(w, "shop-canary") }), "ignoreApplicationDifferences keeps the freeze")
  })
})

describe("GitOps reconciler model: Flux", () => {
  it("a Kustomization re-applies the tracked revision within one interval; suspended, a rollback survives 10 intervals", async () => {
    const w = (world = await start())
    const f = fluxObjects()
    await w.create(R.GitRepository, "flux-system", f.gitRepository)
    await w.create(R.Kustomization, "flux-system", f.kustomization)
    await until(async () => (await w.image()) === "shop:1", "the first apply")
    const v2 = await w.release("shop:2")
    await w.advance(60_000)
    assert.strictEqual(await w.image(), "shop:2", "a new source revision is applied at once")
    const ks = await w.get(R.Kustomization, "flux-system", "shop")
    assert.strictEqual(R.obj(ks["status"])["lastAppliedRevision"], `main@sha1:${v2}`)
    assert.strictEqual(R.appliedRevisionOfFlux(ks), v2)
    assert.deepStrictEqual(R.arr(R.obj(R.obj(ks["status"])["inventory"])["entries"]), [{ id: "shop_shop_apps_Deployment", v: "v1" }])

    await w.setImage("shop:1")
    await w.advance(5 * 60_000)
    assert.strictEqual(await w.image(), "shop:2", "drift corrected within one interval")

    const k = await w.get(R.Kustomization, "flux-system", "shop")
    R.obj(k["spec"])["suspend"] = true
    await w.custom.replaceNamespacedCustomObject({ group: R.Kustomization.group, version: R.Kustomization.version, plural: R.Kustomization.plural, namespace: "flux-system", name: "shop", body: k })
    await w.setImage("shop:1")
    for (let i = 0; i < 10; i++) {
      await w.advance(5 * 60_000)
      assert.strictEqual(await w.image(), "shop:1", `interval ${i + 1}`)
    }
  })

  it("a HelmRelease upgrades on a new source revision (history, lastAttemptedRevision) and not while suspended", async () => {
    const w = (world = await start())
    const v1 = await w.release("shop:1", { path: "charts/shop" })
    await w.create(R.GitRepository, "flux-system", fluxObjects().gitRepository)
    await w.create(R.HelmRelease, "flux-system", {
      metadata: { name: "shop", namespace: "flux-system" },
      spec: { interval: "5m", targetNamespace: "shop", chart: { spec: { chart: "./charts/shop", reconcileStrategy: "Revision", sourceRef: { kind: "GitRepository", name: "shop" } } } }
    })
    await until(async () => (await w.image()) === "shop:1", "the install")
    let hr = await w.get(R.HelmRelease, "flux-system", "shop")
    assert.strictEqual(R.obj(hr["status"])["lastAttemptedRevision"], `0.1.0+${v1.slice(0, 12)}`)
    const v2 = await w.release("shop:2", { path: "charts/shop" })
    await w.advance(60_000)
    assert.strictEqual(await w.image(), "shop:2")
    hr = await w.get(R.HelmRelease, "flux-system", "shop")
    assert.deepStrictEqual(R.arr(R.obj(hr["status"])["history"]).map((h) => R.obj(h)["version"]), [2, 1])
    assert.strictEqual(R.appliedRevisionOfFlux(hr), v2.slice(0, 12))
    R.obj(hr["spec"])["suspend"] = true
    await w.custom.replaceNamespacedCustomObject({ group: R.HelmRelease.group, version: R.HelmRelease.version, plural: R.HelmRelease.plural, namespace: "flux-system", name: "shop", body: hr })
    await w.release("shop:3", { path: "charts/shop" })
    for (let i = 0; i < 3; i++) await w.advance(5 * 60_000)
    assert.strictEqual(await w.image(), "shop:2")
  })
})
