/**
 * deploy.webhook.rollback end to end on the GitOps world: kube-sim with the GitOps reconciler
 * model, the Argo CD API fake and the GitHub fake (the Git the reconciler applies). The receiver
 * takes an Argo CD notification; the runbook re-reads the Application, freezes it, rolls it back
 * to the history id of the last revision that ran for the soak, and the rollback survives 10
 * reconcile intervals. A Flux error event suspends the Kustomization and hands off the regression.
 */
import { afterEach, assert, describe, it } from "vitest"
import { FileStore, type IncidentReport, Runbook, type Signal } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect, Layer, Redacted, Stream } from "effect"
import * as Crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DeployWebhookRollback, DeployWebhooks, GitOpsHandlers, GitOpsResources as R, SpinnakerGate } from "@byteport/cloud"
import { rig, type Rig } from "../gitops/support"
import { ARGO_INTERVAL, application, fluxObjects, until } from "../gitops/world"

let current: Rig | undefined
afterEach(async () => {
  const dir = current ? stores.get(current) : undefined
  await current?.close()
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  current = undefined
})

const RECEIVER: DeployWebhooks.Options = {
  argocd: { _tag: "Basic", username: "argocd", password: Redacted.make("argo-pass") },
  flux: { secret: Redacted.make("flux-secret") }
}

/** Runs `f` with a receiver; returns its result and the signals it emitted. */
const withReceiver = <A>(r: Rig, f: (rx: DeployWebhooks.Receiver) => Promise<A>) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const rx = yield* DeployWebhooks.make(RECEIVER)
    const got: Array<Signal.Signal> = []
    yield* Effect.forkScoped(Stream.runForEach(rx.signals, (s) => Effect.sync(() => void got.push(s))))
    const a = yield* Effect.promise(() => f(rx))
    yield* Effect.promise(() => new Promise((res) => setTimeout(res, 30)))
    return { a, got }
  })).pipe(Effect.provide(services(r))))

/** One store per test (a FileStore directory): the receiver's journal and the incidents share it. */
const stores = new Map<Rig, string>()
const storeOf = (r: Rig) => {
  let dir = stores.get(r)
  if (dir === undefined) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "byteport-webhook-gitops-"))
    stores.set(r, dir)
  }
  return FileStore.layer({ directory: dir })
}

const services = (r: Rig) =>
  Testing.layer<GitOpsHandlers.Services | SpinnakerGate.SpinnakerGate>({ handlers: [...DeployWebhookRollback.handlers(), ...GitOpsHandlers.handlers()], store: storeOf(r) }).pipe(
    Layer.provideMerge(Layer.mergeAll(r.layer, SpinnakerGate.layer({ baseUrl: "http://127.0.0.1:9" })))
  )

const handle = (r: Rig, s: Signal.Signal, mode: "auto" | "dry_run" = "auto") =>
  Effect.runPromise(Effect.gen(function*() {
    const rb = DeployWebhookRollback.make({ verifyEvery: "20 millis", verifyUpTo: "3 seconds" })
    const out = yield* Runbook.handle(rb, s, { mode })
    if (Runbook.isAwaitingApproval(out)) return yield* Effect.die("unexpected approval")
    return out as IncidentReport.IncidentReport
  }).pipe(Effect.provide(services(r))))

/** An Application synced to shop:1, 15 minutes later shop:2, whose sync then fails. */
const argoFailed = async (r: Rig) => {
  await r.w.create(R.Application, "argocd", application("shop"))
  await until(async () => (await r.w.image()) === "shop:1", "the first sync")
  const good = R.historyOf(await r.w.get(R.Application, "argocd", "shop"))[0]!.revision
  await r.w.advance(15 * 60_000)
  const bad = await r.w.release("shop:2")
  await r.w.advance(ARGO_INTERVAL)
  assert.strictEqual(await r.w.image(), "shop:2")
  // the sync of shop:2 failed (the model has no health assessment: the operation is marked Failed, as argocd-server reports it)
  const app = await r.w.get(R.Application, "argocd", "shop")
  const status = R.obj(app["status"])
  const op = R.obj(status["operationState"])
  await r.w.custom.replaceNamespacedCustomObjectStatus({
    group: R.Application.group, version: R.Application.version, plural: R.Application.plural, namespace: "argocd", name: "shop",
    body: { ...app, status: { ...status, operationState: { ...op, phase: "Failed", message: "one or more objects failed to apply" } } }
  })
  return { good, bad, app: await r.w.get(R.Application, "argocd", "shop") }
}

const basic = `Basic ${Buffer.from("argocd:argo-pass").toString("base64")}`

describe("deploy.webhook.rollback e2e: Argo CD on the GitOps model (auto)", () => {
  it("on-sync-failed → freeze, roll back to the last history entry that ran 10 min; the rollback survives 10 intervals; the author's commit gets a comment", async () => {
    const r = (current = await rig())
    const { good, bad, app } = await argoFailed(r)
    const { a: res, got } = await withReceiver(r, (rx) =>
      fetch(`${rx.url}/argocd`, { method: "POST", headers: { authorization: basic }, body: JSON.stringify({ trigger: "on-sync-failed", app }) }).then((x) => x.status))
    assert.strictEqual(res, 202)
    assert.strictEqual(got.length, 1)
    const report = await handle(r, got[0]!)
    assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation ?? report.outcomes))
    assert.strictEqual(await r.w.image(), "shop:1")
    const after = await r.w.get(R.Application, "argocd", "shop")
    assert.isFalse(R.autoSyncOn(after))
    assert.strictEqual(R.obj(R.obj(after["metadata"])["annotations"])[R.FROZEN_BY], report.incidentId)
    assert.deepStrictEqual(r.argo.writes.map((w) => `${w.method} ${w.path}`), ["PATCH /api/v1/applications/shop", "POST /api/v1/applications/shop/rollback"])
    for (let i = 0; i < 10; i++) await r.w.advance(ARGO_INTERVAL)
    assert.strictEqual(await r.w.image(), "shop:1", "the frozen app stays rolled back")
    assert.strictEqual(R.historyOf(await r.w.get(R.Application, "argocd", "shop")).at(-1)!.revision, good)
    const comments = r.w.github.comments("acme/shop")
    assert.strictEqual(comments.length, 1)
    assert.strictEqual(comments[0]!.sha, bad)
  })

  it("dry_run: nothing written to Argo CD, the app keeps auto-sync and the bad revision", async () => {
    const r = (current = await rig())
    const { app } = await argoFailed(r)
    const { got } = await withReceiver(r, (rx) => fetch(`${rx.url}/argocd`, { method: "POST", headers: { authorization: basic }, body: JSON.stringify({ trigger: "on-sync-failed", app }) }))
    const report = await handle(r, got[0]!, "dry_run")
    assert.strictEqual(report.status, "dry_run")
    assert.deepStrictEqual(r.argo.writes, [])
    assert.isTrue(R.autoSyncOn(await r.w.get(R.Application, "argocd", "shop")))
    assert.strictEqual(await r.w.image(), "shop:2")
  })

  it("a stale notification (the app was healthy again on a newer sync): the source disagrees, no write", async () => {
    const r = (current = await rig())
    await r.w.create(R.Application, "argocd", application("shop"))
    await until(async () => (await r.w.image()) === "shop:1", "the first sync")
    const app = await r.w.get(R.Application, "argocd", "shop")
    const forged = { trigger: "on-sync-failed", app: { ...app, status: { ...R.obj(app["status"]), operationState: { ...R.obj(R.obj(app["status"])["operationState"]), phase: "Failed" } } } }
    const { got } = await withReceiver(r, (rx) => fetch(`${rx.url}/argocd`, { method: "POST", headers: { authorization: basic }, body: JSON.stringify(forged) }))
    const report = await handle(r, got[0]!)
    assert.strictEqual(report.status, "escalated")
    assert.match(report.escalation?.reason ?? "", /does not confirm the failure/)
    assert.deepStrictEqual(r.argo.writes, [])
  })
})

describe("deploy.webhook.rollback e2e: Flux on the GitOps model (auto)", () => {
  it("a HealthCheckFailed event → the Kustomization suspended (annotated), the regression handed off; no re-apply while suspended", async () => {
    const r = (current = await rig())
    const f = fluxObjects()
    await r.w.create(R.GitRepository, "flux-system", f.gitRepository)
    await r.w.create(R.Kustomization, "flux-system", f.kustomization)
    await until(async () => (await r.w.image()) === "shop:1", "the first apply")
    const good = R.shaOfFluxRevision(R.str(R.obj(R.obj((await r.w.get(R.Kustomization, "flux-system", "shop"))["status"]))["lastAppliedRevision"]))!
    // the journal sees the good revision healthy (Flux's ReconciliationSucceeded), then 15 minutes pass
    const okEvent = JSON.stringify({ involvedObject: { kind: "Kustomization", namespace: "flux-system", name: "shop", apiVersion: "kustomize.toolkit.fluxcd.io/v1" }, severity: "info", timestamp: new Date(r.w.now()).toISOString(), message: "Reconciliation finished", reason: "ReconciliationSucceeded", metadata: { revision: `main@sha1:${good}` }, reportingController: "kustomize-controller" })
    await r.w.advance(15 * 60_000)
    const bad = await r.w.release("shop:2")
    await r.w.advance(10 * 60_000)
    assert.strictEqual(await r.w.image(), "shop:2")
    // the model has no health checks: Ready=False as kustomize-controller sets it when one fails
    const k = await r.w.get(R.Kustomization, "flux-system", "shop")
    const ks = R.obj(k["status"])
    await r.w.custom.replaceNamespacedCustomObjectStatus({
      group: R.Kustomization.group, version: R.Kustomization.version, plural: R.Kustomization.plural, namespace: "flux-system", name: "shop",
      body: { ...k, status: { ...ks, lastAttemptedRevision: `main@sha1:${bad}`, conditions: [{ type: "Ready", status: "False", reason: "HealthCheckFailed", message: "timeout waiting for: [Deployment/shop/shop status: 'InProgress']", lastTransitionTime: new Date(r.w.now()).toISOString() }] } }
    })
    const errEvent = JSON.stringify({ involvedObject: { kind: "Kustomization", namespace: "flux-system", name: "shop", apiVersion: "kustomize.toolkit.fluxcd.io/v1" }, severity: "error", timestamp: new Date(r.w.now()).toISOString(), message: "Health check failed", reason: "HealthCheckFailed", metadata: { revision: `main@sha1:${bad}` }, reportingController: "kustomize-controller" })
    const sig = (b: string) => `sha256=${Crypto.createHmac("sha256", "flux-secret").update(b).digest("hex")}`
    const { a: outcomes, got } = await withReceiver(r, async (rx) => {
      const one = await fetch(`${rx.url}/flux`, { method: "POST", headers: { "x-signature": sig(okEvent) }, body: okEvent })
      const two = await fetch(`${rx.url}/flux`, { method: "POST", headers: { "x-signature": sig(errEvent) }, body: errEvent })
      return [one.status, two.status]
    })
    assert.deepStrictEqual(outcomes, [202, 202])
    assert.strictEqual(got.length, 1)
    const report = await handle(r, got[0]!)
    assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation ?? report.outcomes))
    const kAfter = await r.w.get(R.Kustomization, "flux-system", "shop")
    assert.strictEqual(R.obj(kAfter["spec"])["suspend"], true)
    assert.strictEqual(R.obj(R.obj(kAfter["metadata"])["annotations"])[R.FROZEN_BY], report.incidentId)
    const handOff = report.outcomes.find((o) => o.kind === "handoff")
    assert.isDefined(handOff)
    // suspended: a newer commit is not applied
    await r.w.release("shop:3")
    for (let i = 0; i < 3; i++) await r.w.advance(10 * 60_000)
    assert.strictEqual(await r.w.image(), "shop:2")
  })
})
