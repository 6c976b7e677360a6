/**
 * The GitOps action kinds against kube-sim + the GitOps model + the Argo CD API fake + the GitHub
 * fake: freeze then rollback keeps the rollback for 10 intervals; the unfreeze (the freeze's undo)
 * refuses until the tracked revision contains the revert, then lets the reconciler apply the revert
 * (the rollback stays); the older freeze shape restores `automated`; an ApplicationSet-owned app
 * is never frozen in-cluster, GitWriter reverts in Git; Flux suspend holds a rollback and resumes
 * onto the revert; idempotent re-runs write nothing; dry_run and observe write nothing but
 * dryRun requests.
 */
import { afterEach, assert, describe, it } from "vitest"
import { Action, type Guardrail, TargetRef } from "@byteport/core"
import { ConfigProvider, Effect } from "effect"
import * as ArgoCdFreeze from "../../src/actions/ArgoCdFreeze"
import * as ArgoCdRollback from "../../src/actions/ArgoCdRollback"
import * as FluxSuspend from "../../src/actions/FluxSuspend"
import * as GitWriter from "../../src/actions/GitWriter"
import * as Unfreeze from "../../src/actions/Unfreeze"
import * as R from "../../src/gitops/Resources"
import { failure, ok, rig } from "./support"
import type { Rig } from "./support"
import { ARGO_INTERVAL, application, fluxObjects, REPO, REPO_URL, until } from "./world"

let current: Rig | undefined
afterEach(async () => {
  await current?.close()
  current = undefined
})

const INC = "inc-gitops-1"

/** An Argo CD app synced to shop:1 then shop:2 (the bad one); returns the two shas. */
const argoAtBad = async (r: Rig, name = "shop") => {
  await r.w.create(R.Application, "argocd", application(name))
  await until(async () => (await r.w.image()) === "shop:1", "the first sync")
  const good = R.historyOf(await r.w.get(R.Application, "argocd", name))[0]!.revision
  const bad = await r.w.release("shop:2")
  await r.w.advance(ARGO_INTERVAL)
  assert.strictEqual(await r.w.image(), "shop:2")
  return { good, bad }
}

const mergePull = async (r: Rig, n: number) => {
  const res = await fetch(`${r.w.github.url}/repos/${REPO}/pulls/${n}/merge`, { method: "PUT", headers: { authorization: "token test-token" }, body: "{}" })
  assert.strictEqual(res.status, 200)
}

describe("GitOps actions: Argo CD", () => {
  it("freeze → rollback survives 10 intervals; unfreeze waits for the revert PR to be merged and seen, then the app applies the revert", async () => {
    const r = (current = await rig())
    const { good, bad } = await argoAtBad(r)
    const freeze = ArgoCdFreeze.action({ app: "shop", shape: "enabled" }, { incidentId: INC, revert: { repo: REPO } })
    assert.strictEqual(freeze.undo?.kind, Unfreeze.KIND)
    const frozen = ok(await r.run(freeze, "auto", INC))
    assert.strictEqual(frozen.result["changed"], true)
    const app = await r.w.get(R.Application, "argocd", "shop")
    assert.isFalse(R.autoSyncOn(app))
    assert.strictEqual(R.obj(R.obj(app["metadata"])["annotations"])[R.FROZEN_BY], INC)
    assert.strictEqual(R.obj(R.obj(R.obj(app["spec"])["syncPolicy"])["automated"])["selfHeal"], true, "only enabled changes")

    ok(await r.run(ArgoCdRollback.action({ app: "shop", id: 0, revision: good }, { incidentId: INC }), "auto", INC))
    assert.strictEqual(await r.w.image(), "shop:1")
    for (let i = 0; i < 10; i++) {
      await r.w.advance(ARGO_INTERVAL)
      assert.strictEqual(await r.w.image(), "shop:1", `interval ${i + 1}`)
    }

    // never-rule: no unfreeze before the revert is in the tracked revision
    const early = failure(await r.run(freeze.undo!, "auto", INC))
    assert.isTrue(early?.conflict)
    assert.match(early!.message, /does not contain the revert/)
    assert.isFalse(R.autoSyncOn(await r.w.get(R.Application, "argocd", "shop")))

    const pr = ok(await r.run(GitWriter.action({ repo: REPO, branch: "main", bad, good, direct: false }, { incidentId: INC }), "auto", INC))
    assert.strictEqual(pr.result["pullNumber"], 1)
    const again = ok(await r.run(GitWriter.action({ repo: REPO, branch: "main", bad, good, direct: false }, { incidentId: INC }), "auto", INC))
    assert.strictEqual(again.result["changed"], false, "the revert branch exists: nothing written twice")
    assert.strictEqual(r.w.github.writes.filter((x) => x.path.endsWith("/pulls")).length, 1)
    assert.isTrue(failure(await r.run(freeze.undo!, "auto", INC))?.conflict, "the PR is open, not merged: still frozen")

    await mergePull(r, 1)
    assert.isTrue(failure(await r.run(freeze.undo!, "auto", INC))?.conflict, "merged, but Argo CD has not refreshed the target revision yet")
    await r.w.advance(ARGO_INTERVAL)
    ok(await r.run(freeze.undo!, "auto", INC))
    await r.w.model.idle()
    const after = await r.w.get(R.Application, "argocd", "shop")
    assert.isTrue(R.autoSyncOn(after))
    assert.notProperty(R.obj(R.obj(after["metadata"])["annotations"]), R.FROZEN_BY)
    assert.strictEqual(await r.w.image(), "shop:1", "the reconciler applied the revert (the good tree)")
    await r.w.advance(ARGO_INTERVAL)
    assert.strictEqual(await r.w.image(), "shop:1")
    assert.strictEqual(R.obj(R.obj(after["status"])["sync"])["status"], "Synced")
    // idempotent: unfreezing again changes nothing
    assert.strictEqual(ok(await r.run(freeze.undo!, "auto", INC)).result["changed"], false)
  })

  it("the older shape removes `automated` and the undo restores it exactly; a second freeze writes nothing; a foreign freeze is not undone", async () => {
    const r = (current = await rig({ argoVersion: "v2.13.4+1234567" }))
    await argoAtBad(r)
    const before = R.obj(R.obj(R.obj(await r.w.get(R.Application, "argocd", "shop"))["spec"])["syncPolicy"])["automated"]
    const freeze = ArgoCdFreeze.action({ app: "shop", shape: "remove" }, { incidentId: INC })
    ok(await r.run(freeze, "auto", INC))
    assert.notProperty(R.obj(R.obj(R.obj(await r.w.get(R.Application, "argocd", "shop"))["spec"])["syncPolicy"]), "automated")
    assert.strictEqual(ok(await r.run(freeze, "auto", INC)).result["changed"], false)
    assert.strictEqual(r.argo.writes.length, 1)
    const foreign = failure(await r.run(Unfreeze.action({ system: "argocd", name: "shop", frozenBy: "inc-other" }), "auto", "inc-other"))
    assert.isTrue(foreign?.conflict)
    ok(await r.run(freeze.undo!, "auto", INC))
    const app = await r.w.get(R.Application, "argocd", "shop")
    assert.deepStrictEqual(R.obj(R.obj(app["spec"])["syncPolicy"])["automated"], before)
    assert.notProperty(R.obj(R.obj(app["metadata"])["annotations"]), R.FROZEN_AUTOMATED)
  })

  it("rollback refuses while auto-sync is on (conflict) and is idempotent once applied", async () => {
    const r = (current = await rig())
    const { good } = await argoAtBad(r)
    const rb = ArgoCdRollback.action({ app: "shop", id: 0, revision: good }, { incidentId: INC })
    const refused = failure(await r.run(rb, "auto", INC))
    assert.isTrue(refused?.conflict)
    assert.match(refused!.message, /freeze it first/)
    assert.strictEqual(await r.w.image(), "shop:2")
    ok(await r.run(ArgoCdFreeze.action({ app: "shop", shape: "enabled" }, { incidentId: INC }), "auto", INC))
    ok(await r.run(rb, "auto", INC))
    assert.strictEqual(ok(await r.run(rb, "auto", INC)).result["changed"], false)
    assert.strictEqual(r.argo.writes.filter((x) => x.path.endsWith("/rollback")).length, 1)
  })

  it("ApplicationSet-owned: the freeze is refused (no in-cluster write); GitWriter commits the revert and the app applies it", async () => {
    const r = (current = await rig())
    await r.w.create(R.ApplicationSet, "argocd", {
      metadata: { name: "shop", namespace: "argocd" },
      spec: {
        generators: [{ list: { elements: [{ env: "shop" }] } }],
        template: { metadata: { name: "{{env}}" }, spec: { project: "default", source: { repoURL: REPO_URL, targetRevision: "main", path: "deploy" }, destination: { server: "https://kubernetes.default.svc", namespace: "{{env}}" }, syncPolicy: { automated: { prune: true, selfHeal: true } } } }
      }
    })
    await until(async () => (await r.w.image()) === "shop:1", "the generated app's first sync")
    const good = R.historyOf(await r.w.get(R.Application, "argocd", "shop"))[0]!.revision
    const bad = await r.w.release("shop:2")
    await r.w.advance(ARGO_INTERVAL)
    assert.strictEqual(await r.w.image(), "shop:2")
    const refused = failure(await r.run(ArgoCdFreeze.action({ app: "shop", shape: "enabled" }, { incidentId: INC }), "auto", INC))
    assert.isTrue(refused?.conflict)
    assert.match(refused!.message, /owned by ApplicationSet shop/)
    assert.deepStrictEqual(r.argo.writes, [])

    const revert = ok(await r.run(GitWriter.action({ repo: REPO, branch: "main", bad, good, direct: true }, { incidentId: INC }), "auto", INC))
    const head = (await (await fetch(`${r.w.github.url}/repos/${REPO}/commits/main`, { headers: { authorization: "token test-token" } })).json()) as { sha: string; parents: Array<{ sha: string }>; commit: { message: string; tree: { sha: string } } }
    assert.strictEqual(head.sha, revert.result["revertSha"])
    assert.deepStrictEqual(head.parents.map((p) => p.sha), [bad])
    assert.match(head.commit.message, /Byteport-Incident: inc-gitops-1$/)
    await r.w.advance(ARGO_INTERVAL)
    assert.strictEqual(await r.w.image(), "shop:1", "the app applied the revert from Git")
    assert.deepStrictEqual(r.argo.writes, [], "no in-cluster freeze")
    assert.strictEqual(ok(await r.run(GitWriter.action({ repo: REPO, branch: "main", bad, good, direct: true }, { incidentId: INC }), "auto", INC)).result["changed"], false)
    const moved = failure(await r.run(GitWriter.action({ repo: REPO, branch: "main", bad, good, direct: true }, { incidentId: "inc-other" }), "auto", "inc-other"))
    assert.isTrue(moved?.conflict, "the branch moved since that plan: nothing written")
  })

  it("params as a planner writes them without the builders (namespace, no shape, no revision) run the same way", async () => {
    const r = (current = await rig())
    await argoAtBad(r)
    const t = TargetRef.make("argocd.application", "argocd/shop")
    ok(await r.run(Action.make({ kind: ArgoCdFreeze.KIND, target: t, params: { app: "shop", namespace: "argocd" }, description: "freeze" }), "auto", INC))
    assert.isFalse(R.autoSyncOn(await r.w.get(R.Application, "argocd", "shop")))
    ok(await r.run(Action.make({ kind: ArgoCdRollback.KIND, target: t, params: { app: "shop", namespace: "argocd", id: 0 }, description: "rollback" }), "auto", INC))
    assert.strictEqual(await r.w.image(), "shop:1")
    assert.deepStrictEqual(r.argo.writes.map((x) => x.query["appNamespace"] ?? (x.body as { appNamespace?: string }).appNamespace), ["argocd", "argocd"])
  })

  it("dry_run and observe send no write but Argo CD's dryRun rollback; GitWriter dry_run writes nothing", async () => {
    const r = (current = await rig())
    const { good, bad } = await argoAtBad(r)
    const ghWrites = r.w.github.writes.length
    const freeze = ArgoCdFreeze.action({ app: "shop", shape: "enabled" }, { incidentId: INC, revert: { repo: REPO } })
    assert.strictEqual(ok(await r.run(freeze, "dry_run", INC)).result["dryRun"], true)
    assert.strictEqual((await r.observe(freeze, INC))._tag, "NotApplied")
    assert.strictEqual(ok(await r.run(GitWriter.action({ repo: REPO, branch: "main", bad, good, direct: false }, { incidentId: INC }), "dry_run", INC)).result["dryRun"], true)
    assert.strictEqual((await r.observe(GitWriter.action({ repo: REPO, branch: "main", bad, good, direct: false }, { incidentId: INC }), INC))._tag, "NotApplied")
    assert.deepStrictEqual(r.argo.writes, [])
    // once frozen (for real), the rollback's dry run is Argo CD's own dryRun
    ok(await r.run(freeze, "auto", INC))
    const rb = ArgoCdRollback.action({ app: "shop", id: 0, revision: good }, { incidentId: INC })
    assert.strictEqual(ok(await r.run(rb, "dry_run", INC)).result["dryRun"], true)
    assert.strictEqual((await r.observe(rb, INC))._tag, "NotApplied")
    assert.strictEqual(await r.w.image(), "shop:2")
    const afterFreeze = r.argo.writes.slice(1)
    assert.deepStrictEqual(afterFreeze.map((x) => [x.method, x.path, (x.body as { dryRun?: boolean }).dryRun]), [["POST", "/api/v1/applications/shop/rollback", true]])
    assert.strictEqual((await r.observe(freeze, INC))._tag, "Applied")
    assert.strictEqual(r.w.github.writes.length, ghWrites)
  })
})

describe("GitWriter: direct to the tracked branch only when configured", () => {
  it("directOptIn denies direct: true unless BYTEPORT_GITOPS_DIRECT_REVERT=true; a pull request always passes", async () => {
    const check = (direct: boolean, env: Record<string, string>) =>
      Effect.runPromise(
        GitWriter.directOptIn.check({ action: GitWriter.action({ repo: REPO, branch: "main", bad: "b".repeat(40), good: "a".repeat(40), direct }, { incidentId: INC }) } as unknown as Guardrail.GuardrailContext).pipe(
          Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
        ) as Effect.Effect<Guardrail.GuardrailResult, unknown, never>
      )
    assert.strictEqual((await check(true, {}))._tag, "Deny")
    assert.strictEqual((await check(true, { BYTEPORT_GITOPS_DIRECT_REVERT: "false" }))._tag, "Deny")
    assert.strictEqual((await check(true, { BYTEPORT_GITOPS_DIRECT_REVERT: "true" }))._tag, "Pass")
    assert.strictEqual((await check(false, {}))._tag, "Pass")
    assert.include(GitWriter.make().guardrails.map((g) => g.name), "opt_in(direct revert)")
  })
})

describe("GitOps actions: Flux", () => {
  it("suspend holds a rollback for 10 intervals; unfreeze waits for the revert, then the Kustomization applies it; dry_run sends only dryRun=All", async () => {
    const r = (current = await rig())
    const f = fluxObjects()
    await r.w.create(R.GitRepository, "flux-system", f.gitRepository)
    await r.w.create(R.Kustomization, "flux-system", f.kustomization)
    await until(async () => (await r.w.image()) === "shop:1", "the first apply")
    const good = R.shaOfFluxRevision(R.str(R.obj((await r.w.get(R.Kustomization, "flux-system", "shop"))["status"])["lastAppliedRevision"]))!
    const bad = await r.w.release("shop:2")
    await r.w.advance(60_000)
    assert.strictEqual(await r.w.image(), "shop:2")

    const suspend = FluxSuspend.action({ kind: "Kustomization", namespace: "flux-system", name: "shop" }, { incidentId: INC, revert: { repo: REPO } })
    const seq0 = Math.max(0, ...r.w.sim.recorder.requests().map((x) => x.seq))
    assert.strictEqual(ok(await r.run(suspend, "dry_run", INC)).result["dryRun"], true)
    assert.strictEqual((await r.observe(suspend, INC))._tag, "NotApplied")
    assert.deepStrictEqual(r.kubeWrites(seq0).map((x) => [x.method, x.dryRun]), [["PATCH", true]])
    assert.notStrictEqual(R.obj((await r.w.get(R.Kustomization, "flux-system", "shop"))["spec"])["suspend"], true)

    ok(await r.run(suspend, "auto", INC))
    assert.strictEqual(ok(await r.run(suspend, "auto", INC)).result["changed"], false)
    assert.strictEqual((await r.observe(suspend, INC))._tag, "Applied")
    await r.w.setImage("shop:1")
    for (let i = 0; i < 10; i++) {
      await r.w.advance(5 * 60_000)
      assert.strictEqual(await r.w.image(), "shop:1", `interval ${i + 1}`)
    }
    assert.isTrue(failure(await r.run(suspend.undo!, "auto", INC))?.conflict, "no revert yet: stays suspended")
    ok(await r.run(GitWriter.action({ repo: REPO, branch: "main", bad, good, direct: true }, { incidentId: INC }), "auto", INC))
    assert.isTrue(failure(await r.run(suspend.undo!, "auto", INC))?.conflict, "the GitRepository has not fetched it yet")
    await r.w.advance(60_000)
    const seq1 = Math.max(0, ...r.w.sim.recorder.requests().map((x) => x.seq))
    assert.strictEqual(ok(await r.run(suspend.undo!, "dry_run", INC)).result["dryRun"], true)
    assert.deepStrictEqual(r.kubeWrites(seq1).map((x) => [x.method, x.dryRun]), [["PATCH", true]])
    ok(await r.run(suspend.undo!, "auto", INC))
    await r.w.model.idle()
    const ks = await r.w.get(R.Kustomization, "flux-system", "shop")
    assert.notProperty(R.obj(ks["spec"]), "suspend")
    assert.strictEqual(await r.w.image(), "shop:1", "resumed onto the revert")
    await r.w.advance(5 * 60_000)
    assert.strictEqual(await r.w.image(), "shop:1")
  })

  it("a HelmRelease: suspended, a new bad revision is not upgraded; the unfreeze reads the chart's GitRepository and waits for the revert", async () => {
    const r = (current = await rig())
    const good = await r.w.release("shop:1", { path: "charts/shop" })
    await r.w.create(R.GitRepository, "flux-system", fluxObjects().gitRepository)
    await r.w.create(R.HelmRelease, "flux-system", {
      metadata: { name: "shop", namespace: "flux-system" },
      spec: { interval: "5m", targetNamespace: "shop", chart: { spec: { chart: "./charts/shop", sourceRef: { kind: "GitRepository", name: "shop" } } } }
    })
    await until(async () => (await r.w.image()) === "shop:1", "the install")
    const suspend = FluxSuspend.action({ kind: "HelmRelease", namespace: "flux-system", name: "shop" }, { incidentId: INC, revert: { repo: REPO } })
    ok(await r.run(suspend, "auto", INC))
    const bad = await r.w.release("shop:2", { path: "charts/shop" })
    for (let i = 0; i < 3; i++) await r.w.advance(5 * 60_000)
    assert.strictEqual(await r.w.image(), "shop:1", "suspended: no upgrade")
    assert.isTrue(failure(await r.run(suspend.undo!, "auto", INC))?.conflict)
    ok(await r.run(GitWriter.action({ repo: REPO, branch: "main", bad, good, direct: true }, { incidentId: INC }), "auto", INC))
    await r.w.advance(60_000)
    ok(await r.run(suspend.undo!, "auto", INC))
    await r.w.model.idle()
    await r.w.advance(5 * 60_000)
    assert.strictEqual(await r.w.image(), "shop:1", "resumed onto the revert, not the bad revision")
    const hr = await r.w.get(R.HelmRelease, "flux-system", "shop")
    assert.notProperty(R.obj(hr["spec"]), "suspend")
    assert.strictEqual(R.appliedRevisionOfFlux(hr), R.str(R.obj((await (await fetch(`${r.w.github.url}/repos/${REPO}/commits/main`, { headers: { authorization: "token test-token" } })).json()) as R.Obj)["sha"])!.slice(0, 12))
  })

  it("a Kustomization suspended by someone else is neither annotated nor resumed", async () => {
    const r = (current = await rig())
    const f = fluxObjects({ suspend: true })
    await r.w.create(R.GitRepository, "flux-system", f.gitRepository)
    await r.w.create(R.Kustomization, "flux-system", f.kustomization)
    await r.w.model.idle()
    const suspend = FluxSuspend.action({ kind: "Kustomization", namespace: "flux-system", name: "shop" }, { incidentId: INC })
    assert.strictEqual(ok(await r.run(suspend, "auto", INC)).result["changed"], false)
    assert.strictEqual(ok(await r.run(suspend.undo!, "auto", INC)).result["changed"], false)
    const ks = await r.w.get(R.Kustomization, "flux-system", "shop")
    assert.strictEqual(R.obj(ks["spec"])["suspend"], true)
    assert.notProperty(R.obj(R.obj(ks["metadata"])["annotations"]), R.FROZEN_BY)
  })
})
