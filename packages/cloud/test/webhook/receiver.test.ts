import { assert, describe, it } from "@effect/vitest"
import { FileStore, Notifier, type Signal } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect, Layer, Redacted, Stream } from "effect"
import * as Crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DeployEvents, DeployJournal, DeployWebhooks } from "@byteport/cloud"

const here = path.dirname(new URL(import.meta.url).pathname)
const payload = (name: string): string => fs.readFileSync(path.join(here, "fixtures", "payloads", `${name}.json`), "utf8")
const hmac = (secret: string, body: string) => `sha256=${Crypto.createHmac("sha256", secret).update(body).digest("hex")}`
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`

const OPTIONS: DeployWebhooks.Options = {
  github: { secret: Redacted.make("gh-secret") },
  flux: { secret: Redacted.make("flux-secret") },
  argocd: { _tag: "Basic", username: "argocd", password: Redacted.make("argo-pass") },
  spinnaker: { _tag: "Header", name: "X-Byteport-Token", value: Redacted.make("spin-token") }
}

describe("DeployEvents: the documented payloads decode", () => {
  it("GitHub workflow_run failure: the workflow on its branch, the head SHA, the run to re-read", () => {
    const d = DeployEvents.decode("github", { "x-github-event": "workflow_run" }, JSON.parse(payload("github-workflow_run-failure")))
    assert.strictEqual(d._tag, "Event")
    if (d._tag !== "Event") return
    assert.deepStrictEqual([d.event.outcome, d.event.target.kind, d.event.target.ref, d.event.revision], ["failed", "github.workflow", "acme/shop:.github/workflows/deploy.yml@main", "acb5820ced9479c074f688cc328bf03f341a511d"])
    assert.deepStrictEqual(d.event.source, { platform: "github", kind: "workflow_run", repo: "acme/shop", runId: 30433642, workflowPath: ".github/workflows/deploy.yml", branch: "main" })
    assert.strictEqual(d.event.at, Date.parse("2026-12-07T20:03:12Z"))
  })
  it("GitHub workflow_run: timed_out fails, success is journaled, cancelled and in-progress are ignored", () => {
    const base = JSON.parse(payload("github-workflow_run-failure")) as { workflow_run: Record<string, unknown>; action: string }
    const with_ = (conclusion: string | null, action = "completed") => DeployEvents.github("workflow_run", { ...base, action, workflow_run: { ...base.workflow_run, conclusion } })
    assert.strictEqual(with_("timed_out")._tag === "Event" && (with_("timed_out") as { event: DeployEvents.DeployEvent }).event.outcome, "failed")
    assert.strictEqual((with_("success") as { event: DeployEvents.DeployEvent }).event.outcome, "succeeded")
    assert.strictEqual(with_("cancelled")._tag, "Ignored")
    assert.strictEqual(with_("startup_failure")._tag, "Ignored")
    assert.strictEqual(with_(null, "in_progress")._tag, "Ignored")
  })
  it("GitHub deployment_status failure naming a Kubernetes Deployment targets the workload; without it, the environment", () => {
    const body = JSON.parse(payload("github-deployment_status-failure")) as { deployment: Record<string, unknown>; deployment_status: Record<string, unknown> }
    const d = DeployEvents.github("deployment_status", body)
    assert.strictEqual(d._tag === "Event" ? d.event.target.ref : undefined, "prod/shop/Deployment/checkout")
    const env = DeployEvents.github("deployment_status", { ...body, deployment: { ...body.deployment, payload: {} } })
    assert.deepStrictEqual(env._tag === "Event" ? [env.event.target.kind, env.event.target.ref] : [], ["github.environment", "acme/shop:production"])
    const error = DeployEvents.github("deployment_status", { ...body, deployment_status: { ...body.deployment_status, state: "error" } })
    assert.strictEqual(error._tag === "Event" ? error.event.outcome : undefined, "failed")
    assert.strictEqual(DeployEvents.github("deployment_status", { ...body, deployment_status: { ...body.deployment_status, state: "in_progress" } })._tag, "Ignored")
  })
  it("Argo CD on-sync-failed with the Application: the app, the synced revision, the finish time", () => {
    const d = DeployEvents.decode("argocd", {}, JSON.parse(payload("argocd-on-sync-failed")))
    assert.deepStrictEqual(d._tag === "Event" ? [d.event.outcome, d.event.target.ref, d.event.revision, d.event.at] : [], ["failed", "argocd/checkout", "acb5820ced9479c074f688cc328bf03f341a511d", Date.parse("2026-12-07T20:02:10Z")])
    const ok = DeployEvents.argocd({ trigger: "on-deployed", app: "checkout", revision: "abc", phase: "Succeeded", healthStatus: "Healthy" })
    assert.strictEqual(ok._tag === "Event" ? ok.event.outcome : undefined, "succeeded")
    assert.strictEqual(DeployEvents.argocd({ trigger: "on-sync-running", app: "checkout", phase: "Running" })._tag, "Ignored")
  })
  it("Flux error event: the Kustomization, the commit from main@sha1:<sha>", () => {
    const d = DeployEvents.decode("flux", {}, JSON.parse(payload("flux-kustomization-error")))
    assert.deepStrictEqual(d._tag === "Event" ? [d.event.outcome, d.event.target.ref, d.event.revision] : [], ["failed", "flux-system/Kustomization/checkout", "acb5820ced9479c074f688cc328bf03f341a511d"])
    assert.strictEqual(DeployEvents.fluxRevision("6.3.0@sha256:0123abcd"), "6.3.0")
    assert.strictEqual(DeployEvents.fluxRevision("sha1:0123abcd"), "0123abcd")
    assert.strictEqual(DeployEvents.flux({ involvedObject: { kind: "Kustomization", namespace: "flux-system", name: "x" }, severity: "info", reason: "Progressing" })._tag, "Ignored")
  })
  it("Spinnaker echo orca:pipeline:failed: the pipeline, the execution, the revision parameter", () => {
    const d = DeployEvents.decode("spinnaker", {}, JSON.parse(payload("spinnaker-orca-pipeline-failed")))
    assert.deepStrictEqual(d._tag === "Event" ? [d.event.outcome, d.event.target.ref, d.event.revision, d.event.source] : [], ["failed", "shop/Deploy", "acb5820ced9479c074f688cc328bf03f341a511d", { platform: "spinnaker", application: "shop", pipeline: "Deploy", executionId: "01JEQ8Z6V4M3K2J1H0G9F8E7D6" }])
  })
})

const withReceiver = <A, E, R>(f: (rx: DeployWebhooks.Receiver, received: Array<Signal.Signal>) => Effect.Effect<A, E, R>, options: DeployWebhooks.Options = OPTIONS) =>
  Effect.scoped(Effect.gen(function*() {
    const rx = yield* DeployWebhooks.make(options)
    const received: Array<Signal.Signal> = []
    yield* Effect.forkScoped(Stream.runForEach(rx.signals, (s) => Effect.sync(() => void received.push(s))))
    return yield* f(rx, received)
  }))

const post = (url: string, body: string, headers: Record<string, string>) =>
  Effect.promise(async () => {
    const res = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } })
    return { status: res.status, json: (await res.json()) as { outcome: string; reason: string } }
  })

const settle = Effect.promise(() => new Promise((r) => setTimeout(r, 20)))

describe("DeployWebhooks: authenticity on the raw bytes, dedup, journal", () => {
  it.live("each platform's credential: right → 202, wrong or missing → 401 and audited; no signal", () =>
    withReceiver((rx, received) =>
      Effect.gen(function*() {
        const gh = payload("github-workflow_run-failure")
        const flux = payload("flux-kustomization-error")
        const argo = payload("argocd-on-sync-failed")
        const spin = payload("spinnaker-orca-pipeline-failed")
        const bad = [
          yield* post(`${rx.url}/github`, gh, { "x-github-event": "workflow_run", "x-hub-signature-256": hmac("wrong", gh) }),
          yield* post(`${rx.url}/github`, gh, { "x-github-event": "workflow_run" }),
          // a signature over other bytes (the same JSON re-serialised) is not the raw body's
          yield* post(`${rx.url}/github`, gh, { "x-github-event": "workflow_run", "x-hub-signature-256": hmac("gh-secret", JSON.stringify(JSON.parse(gh))) }),
          yield* post(`${rx.url}/flux`, flux, { "x-signature": hmac("gh-secret", flux) }),
          yield* post(`${rx.url}/argocd`, argo, { authorization: basic("argocd", "nope") }),
          yield* post(`${rx.url}/argocd`, argo, {}),
          yield* post(`${rx.url}/spinnaker`, spin, { "x-byteport-token": "spin-tokem" })
        ]
        assert.deepStrictEqual(bad.map((r) => r.status), [401, 401, 401, 401, 401, 401, 401])
        yield* settle
        assert.strictEqual(received.length, 0)
        const audit = (yield* Effect.flatMap(Effect.service(Notifier.NotifierRecording), (r) => r.get)).audit.filter((a) => a.event === "webhook.rejected")
        assert.deepStrictEqual(audit.map((a) => a.data["platform"]), ["github", "github", "github", "flux", "argocd", "argocd", "spinnaker"])
        const good = [
          yield* post(`${rx.url}/github`, gh, { "x-github-event": "workflow_run", "x-hub-signature-256": hmac("gh-secret", gh), "x-github-delivery": "d-1" }),
          yield* post(`${rx.url}/flux`, flux, { "x-signature": hmac("flux-secret", flux) }),
          yield* post(`${rx.url}/argocd`, argo, { authorization: basic("argocd", "argo-pass") }),
          yield* post(`${rx.url}/spinnaker`, spin, { "x-byteport-token": "spin-token" })
        ]
        assert.deepStrictEqual(good.map((r) => [r.status, r.json.outcome]), [[202, "accepted"], [202, "accepted"], [202, "accepted"], [202, "accepted"]])
        yield* settle
        assert.deepStrictEqual(received.map((s) => s.target.kind), ["github.workflow", "flux.object", "argocd.application", "spinnaker.pipeline"])
        assert.isTrue(received.every((s) => s.type === DeployEvents.SIGNAL_TYPE))
      })).pipe(Effect.provide(Testing.layer())))

  it.live("a platform without credentials is not served (404); GET is 405", () =>
    withReceiver((rx) =>
      Effect.gen(function*() {
        const r = yield* post(`${rx.url}/spinnaker`, payload("spinnaker-orca-pipeline-failed"), {})
        assert.strictEqual(r.status, 404)
        const get = yield* Effect.promise(() => fetch(`${rx.url}/github`))
        assert.strictEqual(get.status, 405)
      }), { github: OPTIONS.github! }).pipe(Effect.provide(Testing.layer())))

  it.live("duplicate delivery: the same X-GitHub-Delivery, the same body, or a second event of one failure → one signal", () =>
    withReceiver((rx, received) =>
      Effect.gen(function*() {
        const gh = payload("github-workflow_run-failure")
        const h = (id: string) => ({ "x-github-event": "workflow_run", "x-hub-signature-256": hmac("gh-secret", gh), "x-github-delivery": id })
        const a = yield* post(`${rx.url}/github`, gh, h("72d3162e-cc78-11e3-81ab-4c9367dc0958"))
        const b = yield* post(`${rx.url}/github`, gh, h("72d3162e-cc78-11e3-81ab-4c9367dc0958"))
        // a redelivery GitHub gives a new id: the run was claimed
        const c = yield* post(`${rx.url}/github`, gh, h("8f1c3a22-cc78-11e3-81ab-4c9367dc0958"))
        const spin = payload("spinnaker-orca-pipeline-failed")
        const d = yield* post(`${rx.url}/spinnaker`, spin, { "x-byteport-token": "spin-token" })
        const e = yield* post(`${rx.url}/spinnaker`, spin, { "x-byteport-token": "spin-token" })
        assert.deepStrictEqual([a, b, c, d, e].map((r) => r.json.outcome), ["accepted", "duplicate", "duplicate", "accepted", "duplicate"])
        yield* settle
        assert.strictEqual(received.length, 2)
      })).pipe(Effect.provide(Testing.layer())))

  it.live("dedup is once ever: a restarted receiver on the same FileStore takes no second signal", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "byteport-webhook-"))
      const store = FileStore.layer({ directory: dir })
      const flux = payload("flux-kustomization-error")
      const once = withReceiver((rx, received) =>
        Effect.gen(function*() {
          const r = yield* post(`${rx.url}/flux`, flux, { "x-signature": hmac("flux-secret", flux) })
          yield* settle
          return [r.json.outcome, received.length] as const
        }))
      const first = yield* once.pipe(Effect.provide(Testing.layer({ store })))
      const second = yield* once.pipe(Effect.provide(Testing.layer({ store })))
      assert.deepStrictEqual([first, second], [["accepted", 1], ["duplicate", 0]])
      fs.rmSync(dir, { recursive: true, force: true })
    }))

  it.live("every authenticated event feeds the deploy journal: succeeded → healthy, failed → failed", () =>
    withReceiver((rx) =>
      Effect.gen(function*() {
        const ok = JSON.stringify({ trigger: "on-deployed", app: { metadata: { name: "checkout", namespace: "argocd" }, status: { sync: { revision: "1111111" }, health: { status: "Healthy" }, operationState: { phase: "Succeeded", finishedAt: "2026-12-07T18:00:00Z" } } } })
        const r1 = yield* post(`${rx.url}/argocd`, ok, { authorization: basic("argocd", "argo-pass") })
        assert.strictEqual(r1.json.outcome, "recorded")
        yield* post(`${rx.url}/argocd`, payload("argocd-on-sync-failed"), { authorization: basic("argocd", "argo-pass") })
        const entries = yield* DeployJournal.read({ kind: "argocd.application", ref: "argocd/checkout" })
        assert.deepStrictEqual(entries.map((e) => [e.revision, e.healthyAt !== null, e.failedAt !== null]), [["1111111", true, false], ["acb5820ced9479c074f688cc328bf03f341a511d", false, true]])
      })).pipe(Effect.provide(Testing.layer())))
})

describe("DeployJournal: the soak", () => {
  const at = (m: number, s = 0) => m * 60_000 + s * 1000
  const journal = (healthyFor: number): ReadonlyArray<DeployJournal.Entry> => [
    { revision: "good", deployedAt: 0, healthyAt: at(1), failedAt: null },
    { revision: "bad", deployedAt: at(1) + healthyFor, healthyAt: null, failedAt: at(2) + healthyFor }
  ]
  it("healthy 10:00 before the next deploy → the rollback target; 9:59 → none (near miss)", () => {
    assert.strictEqual(DeployJournal.lastGood(journal(at(10)), "bad", at(60))?.revision, "good")
    assert.isUndefined(DeployJournal.lastGood(journal(at(9, 59)), "bad", at(60)))
  })
  it("a revision that failed, or never was healthy, is never a target; the soak is configurable", () => {
    const j: ReadonlyArray<DeployJournal.Entry> = [
      { revision: "a", deployedAt: 0, healthyAt: 10, failedAt: null },
      { revision: "b", deployedAt: at(20), healthyAt: at(21), failedAt: at(40) },
      { revision: "c", deployedAt: at(50), healthyAt: null, failedAt: null },
      { revision: "d", deployedAt: at(60), healthyAt: null, failedAt: at(61) }
    ]
    assert.strictEqual(DeployJournal.lastGood(j, "d", at(70))?.revision, "a")
    assert.isUndefined(DeployJournal.lastGood(j, "d", at(70), at(21)))
  })
  it.effect("record: append, first healthy kept, failure marked (compare-and-set)", () =>
    Effect.gen(function*() {
      const t = { kind: "flux.object", ref: "flux-system/Kustomization/x" }
      yield* DeployJournal.record(t, "a", "succeeded", 100)
      yield* DeployJournal.record(t, "a", "succeeded", 200)
      yield* DeployJournal.record(t, "b", "failed", 300)
      assert.deepStrictEqual(yield* DeployJournal.read(t), [
        { revision: "a", deployedAt: 100, healthyAt: 100, failedAt: null },
        { revision: "b", deployedAt: 300, healthyAt: null, failedAt: 300 }
      ])
    }).pipe(Effect.provide(Layer.mergeAll(Testing.layer()))))
})
