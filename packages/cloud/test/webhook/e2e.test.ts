import { assert, describe, it } from "@effect/vitest"
import { Action, ActionHandler, Catalog, Classification, Diagnoser, HandOffs, type IncidentReport, Plan, Runbook, Sink, type Signal, Verdict } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Clock, Context, Effect, Fiber, Layer, Redacted, Schema, Stream } from "effect"
import * as Crypto from "node:crypto"
import { DeployWebhookRollback, DeployWebhooks, GitHub, SpinnakerGate } from "@byteport/cloud"
import { type GitHubFake, SpinnakerFake } from "@byteport/cloud/testing"
import * as H from "../github-actions/harness"

const SECRET = "gh-secret"
const SPIN_TOKEN = "spin-token"
const RECEIVER: DeployWebhooks.Options = {
  github: { secret: Redacted.make(SECRET) },
  spinnaker: { _tag: "Header", name: "X-Byteport-Token", value: Redacted.make(SPIN_TOKEN) }
}
const RB = (o: DeployWebhookRollback.Options = {}) => DeployWebhookRollback.make({ verifyEvery: "20 millis", verifyUpTo: "3 seconds", ...o })

/** The GitHub fake, its clock 30 minutes behind until `now()` is moved: the good deploy is 30 minutes old. */
const withGitHub = <A, E, R>(f: (fake: GitHubFake.GitHubFake, clock: { offset: number }) => Effect.Effect<A, E, R>) => {
  const clock = { offset: 30 * 60_000 }
  return Effect.acquireUseRelease(Effect.promise(() => H.fakeRepo({ now: () => Date.now() - clock.offset })), (fake) => f(fake, clock), (fake) => Effect.promise(() => fake.close()))
}

const withSpinnaker = <A, E, R>(f: (fake: SpinnakerFake.SpinnakerFake) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(Effect.promise(() => SpinnakerFake.start()), f, (fake) => Effect.promise(() => fake.close()))

class OpsLog extends Context.Service<OpsLog, Sink.MemorySink>()("test/OpsLog") {}

/** The test services with extra handlers. */
const layerWith = (gh: GitHubFake.GitHubFake, extra: ReadonlyArray<ActionHandler.ActionHandler<never>>) =>
  Layer.mergeAll(
    Testing.layer<GitHub.GitHub | SpinnakerGate.SpinnakerGate>({ handlers: [...DeployWebhookRollback.handlers(), ...extra] }),
    Layer.effectContext(Effect.map(Sink.memory("ops"), (ops) => Context.make(Sink.OpsChannel, ops).pipe(Context.add(OpsLog, ops))))
  ).pipe(
    Layer.provideMerge(Layer.mergeAll(
      GitHub.layer({ baseUrl: gh.url, token: Redacted.make("test-token") }),
      SpinnakerGate.layer({ baseUrl: "http://127.0.0.1:9" })
    ))
  )

/** The test services: memory store and notifier, the runbook's handlers, an ops channel (recorded), the clients (a dead endpoint when absent). */
const layer = (gh: GitHubFake.GitHubFake | undefined, spin: SpinnakerFake.SpinnakerFake | undefined) =>
  Layer.mergeAll(
    Testing.layer({ handlers: DeployWebhookRollback.handlers() }),
    Layer.effectContext(Effect.map(Sink.memory("ops"), (ops) => Context.make(Sink.OpsChannel, ops).pipe(Context.add(OpsLog, ops))))
  ).pipe(
    Layer.provideMerge(Layer.mergeAll(
      GitHub.layer({ baseUrl: gh?.url ?? "http://127.0.0.1:9", token: Redacted.make("test-token") }),
      SpinnakerGate.layer({ baseUrl: spin?.url ?? "http://127.0.0.1:9" })
    ))
  )

const post = (url: string, body: string, headers: Record<string, string>) =>
  Effect.promise(async () => {
    const res = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } })
    return { status: res.status, json: (await res.json()) as { outcome: string; reason: string } }
  })

/** Delivers a GitHub webhook (as the fake builds it, optionally altered and re-signed). */
const deliverGitHub = (rx: DeployWebhooks.Receiver, fake: GitHubFake.GitHubFake, runId: number, alter?: (body: Record<string, unknown>) => void) => {
  const d = fake.webhookDelivery(H.REPO, runId, SECRET)
  let body = d.body
  const headers = { ...d.headers }
  if (alter) {
    const b = JSON.parse(body) as Record<string, unknown>
    alter(b)
    body = JSON.stringify(b)
    headers["X-Hub-Signature-256"] = `sha256=${Crypto.createHmac("sha256", SECRET).update(body).digest("hex")}`
    headers["X-GitHub-Delivery"] = Crypto.randomUUID()
  }
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]))
  return post(`${rx.url}/github`, body, lower)
}

/** Starts the receiver and collects its signals. */
const receiver = Effect.gen(function*() {
  const rx = yield* DeployWebhooks.make(RECEIVER)
  const got: Array<Signal.Signal> = []
  yield* Effect.forkScoped(Stream.runForEach(rx.signals, (s) => Effect.sync(() => void got.push(s))))
  return { rx, got }
})

const settle = Effect.promise(() => new Promise((r) => setTimeout(r, 30)))

const handle = (rb: ReturnType<typeof RB>, s: Signal.Signal, mode: "observe" | "dry_run" | "auto") =>
  Effect.flatMap(Runbook.handle(rb, s, { mode }), (r) => (Runbook.isAwaitingApproval(r) ? Effect.die("unexpected approval") : Effect.succeed(r as IncidentReport.IncidentReport)))

const goodRun = (fake: GitHubFake.GitHubFake) => fake.runs(H.REPO).find((r) => r["conclusion"] === "success" && r["event"] === "push")!

describe("deploy.webhook.rollback e2e: GitHub workflow_run on the GitHub fake (auto)", () => {
  it.live("a failed deploy run → the rollback workflow dispatched to the last good SHA, verified; the author told by commit comment and ops channel", () =>
    withGitHub((fake, clock) =>
      Effect.scoped(Effect.gen(function*() {
        const { rx, got } = yield* receiver
        const good = goodRun(fake)
        assert.strictEqual((yield* deliverGitHub(rx, fake, good["id"] as number)).json.outcome, "recorded")
        clock.offset = 0
        const failed = H.failDeploy(fake, "deploy_step_failure", "alice")
        const badSha = fake.run(H.REPO, failed)["head_sha"] as string
        assert.strictEqual((yield* deliverGitHub(rx, fake, failed)).json.outcome, "accepted")
        yield* settle
        assert.strictEqual(got.length, 1)
        const report = yield* handle(RB(), got[0]!, "auto")
        assert.strictEqual(report.status, "recovered")
        const dispatched = fake.runs(H.REPO).filter((r) => r["event"] === "workflow_dispatch")
        assert.strictEqual(dispatched.length, 1)
        assert.deepStrictEqual(fake.inputsOf(H.REPO, dispatched[0]!["id"] as number), { triggered_by: "byteport-agent", failed_run_id: String(failed), revision: good["head_sha"] as string })
        assert.strictEqual(dispatched[0]!["conclusion"], "success")
        const comments = fake.comments(H.REPO)
        assert.strictEqual(comments.length, 1)
        assert.strictEqual(comments[0]!.sha, badSha)
        assert.match(comments[0]!.body, /^@alice BytePort rolled back/)
        const ops = yield* Effect.flatMap(Effect.service(OpsLog), (o) => o.messages)
        assert.isTrue(ops.some((m) => m.kind === "notice" && m.text.startsWith("@alice")))
        assert.deepStrictEqual(fake.writes.map((w) => `${w.method} ${w.path}`), [
          "POST /repos/acme/shop/actions/workflows/rollback.yml/dispatches",
          `POST /repos/acme/shop/commits/${badSha}/comments`
        ])
      })).pipe(Effect.provide(layer(fake, undefined)))
    ))

  it.live("a second failure of the target within the hour: the rollback is denied (1 per target per hour), no second dispatch", () =>
    withGitHub((fake, clock) =>
      Effect.scoped(Effect.gen(function*() {
        const { rx, got } = yield* receiver
        clock.offset = 0
        const first = H.failDeploy(fake, "deploy_step_failure")
        yield* deliverGitHub(rx, fake, first)
        yield* settle
        const r1 = yield* handle(RB({ cooldown: "0 seconds" }), got[0]!, "auto")
        assert.strictEqual(r1.status, "recovered")
        const second = H.failDeploy(fake, "test_failure", "carol")
        yield* deliverGitHub(rx, fake, second)
        yield* settle
        assert.strictEqual(got.length, 2)
        const r2 = yield* handle(RB({ cooldown: "0 seconds" }), got[1]!, "auto")
        assert.strictEqual(r2.status, "escalated")
        assert.match(r2.escalation?.reason ?? "", /rollback_per_target_per_hour/)
        assert.strictEqual(fake.runs(H.REPO).filter((r) => r["event"] === "workflow_dispatch").length, 1)
      })).pipe(Effect.provide(layer(fake, undefined)))
    ))

  it.live("a forged payload (authentic signature, a run that succeeded said to have failed): the source disagrees → escalated, no write", () =>
    withGitHub((fake) =>
      Effect.scoped(Effect.gen(function*() {
        const { rx, got } = yield* receiver
        const good = goodRun(fake)
        const r = yield* deliverGitHub(rx, fake, good["id"] as number, (b) => {
          ;(b["workflow_run"] as Record<string, unknown>)["conclusion"] = "failure"
        })
        assert.strictEqual(r.json.outcome, "accepted")
        yield* settle
        const report = yield* handle(RB(), got[0]!, "auto")
        assert.strictEqual(report.status, "escalated")
        assert.match(report.escalation?.reason ?? "", /does not confirm the failure/)
        assert.deepStrictEqual(fake.writes, [])
      })).pipe(Effect.provide(layer(fake, undefined)))
    ))

  it.live("a bad signature: 401, no signal, no incident, nothing written", () =>
    withGitHub((fake, clock) =>
      Effect.scoped(Effect.gen(function*() {
        const { rx, got } = yield* receiver
        clock.offset = 0
        const failed = H.failDeploy(fake, "build_failure")
        const d = fake.webhookDelivery(H.REPO, failed, "not-the-secret")
        const r = yield* post(`${rx.url}/github`, d.body, Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [k.toLowerCase(), v])))
        assert.strictEqual(r.status, 401)
        yield* settle
        assert.strictEqual(got.length, 0)
        assert.deepStrictEqual(fake.writes, [])
      })).pipe(Effect.provide(layer(fake, undefined)))
    ))

  for (const mode of ["observe", "dry_run"] as const) {
    it.live(`${mode}: no write reaches GitHub (the fake's log)`, () =>
      withGitHub((fake, clock) =>
        Effect.scoped(Effect.gen(function*() {
          const { rx, got } = yield* receiver
          clock.offset = 0
          yield* deliverGitHub(rx, fake, H.failDeploy(fake, "deploy_step_failure"))
          yield* settle
          const report = yield* handle(RB(), got[0]!, mode)
          assert.strictEqual(report.status, mode === "observe" ? "observed" : "dry_run")
          assert.deepStrictEqual(fake.writes, [])
          assert.isTrue(fake.requests.every((x) => x.method === "GET"))
        })).pipe(Effect.provide(layer(fake, undefined)))
      ))
  }

  it.live("Catalog.run with the receiver as a source: a duplicate delivery opens one incident, one dispatch", () =>
    withGitHub((fake, clock) =>
      Effect.scoped(Effect.gen(function*() {
        const rx = yield* DeployWebhooks.make(RECEIVER)
        const results: Array<Runbook.HandleResult> = []
        const catalog = Catalog.make([DeployWebhookRollback.make({ defaultMode: "auto", verifyEvery: "20 millis", verifyUpTo: "3 seconds" })], { settle: "10 millis" })
        const fiber = yield* Effect.forkScoped(Catalog.run(catalog, { sources: [rx.signals], onResult: (r) => Effect.sync(() => void results.push(r)), resumeOpen: false, timedUndo: false }))
        clock.offset = 0
        const failed = H.failDeploy(fake, "deploy_step_failure")
        const d = fake.webhookDelivery(H.REPO, failed, SECRET)
        const headers = Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [k.toLowerCase(), v]))
        const a = yield* post(`${rx.url}/github`, d.body, headers)
        const b = yield* post(`${rx.url}/github`, d.body, headers)
        assert.deepStrictEqual([a.json.outcome, b.json.outcome], ["accepted", "duplicate"])
        for (let i = 0; i < 200 && results.length === 0; i++) yield* settle
        yield* settle
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(results.length, 1)
        assert.strictEqual((results[0] as IncidentReport.IncidentReport).status, "recovered")
        assert.strictEqual(fake.runs(H.REPO).filter((r) => r["event"] === "workflow_dispatch").length, 1)
      })).pipe(Effect.provide(layer(fake, undefined)))
    ))
})

describe("deploy.webhook.rollback e2e: GitHub deployment_status on the GitHub fake (auto)", () => {
  it.live("a failed production deployment → the rollback workflow on its ref with the last good SHA (the deployment 30 min before), verified", () =>
    withGitHub((fake, clock) =>
      Effect.scoped(Effect.gen(function*() {
        const { rx, got } = yield* receiver
        const good = goodRun(fake)["head_sha"] as string
        fake.deploy(H.REPO, { sha: good, environment: "production", creator: "bob", state: "success" })
        clock.offset = 0
        const { sha: bad } = fake.push(H.REPO, { branch: "main", message: "checkout: totals in cents", author: "alice", workflows: [] })
        const dep = fake.deploy(H.REPO, { sha: bad, environment: "production", creator: "alice", state: "in_progress" })
        fake.setDeploymentState(H.REPO, dep, "failure", "readiness probe failed")
        const d = fake.deploymentStatusDelivery(H.REPO, dep, SECRET)
        assert.strictEqual((yield* post(`${rx.url}/github`, d.body, d.headers)).json.outcome, "accepted")
        yield* settle
        assert.deepStrictEqual(got.map((s) => [s.target.kind, s.target.ref]), [["github.environment", "acme/shop:production"]])
        const report = yield* handle(RB(), got[0]!, "auto")
        assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation))
        const dispatched = fake.runs(H.REPO).filter((r) => r["event"] === "workflow_dispatch")
        assert.strictEqual(dispatched.length, 1)
        assert.deepStrictEqual(fake.inputsOf(H.REPO, dispatched[0]!["id"] as number), { triggered_by: "byteport-agent", failed_deployment_id: String(dep), environment: "production", revision: good })
        assert.deepStrictEqual(fake.comments(H.REPO).map((c) => c.sha), [bad])
      })).pipe(Effect.provide(layer(fake, undefined)))
    ))

  it.live("a deployment_status whose deployment later succeeded (stale): the source disagrees, no write", () =>
    withGitHub((fake, clock) =>
      Effect.scoped(Effect.gen(function*() {
        const { rx, got } = yield* receiver
        clock.offset = 0
        const { sha } = fake.push(H.REPO, { branch: "main", author: "alice", workflows: [] })
        const dep = fake.deploy(H.REPO, { sha, environment: "production", creator: "alice", state: "failure" })
        const d = fake.deploymentStatusDelivery(H.REPO, dep, SECRET)
        fake.setDeploymentState(H.REPO, dep, "success")
        yield* post(`${rx.url}/github`, d.body, d.headers)
        yield* settle
        const report = yield* handle(RB(), got[0]!, "auto")
        assert.strictEqual(report.status, "escalated")
        assert.match(report.escalation?.reason ?? "", /does not confirm the failure/)
        assert.deepStrictEqual(fake.writes, [])
      })).pipe(Effect.provide(layer(fake, undefined)))
    ))
})

/** A stand-in for the Kubernetes runbook that owns `deployment.regression` (its guards decide): it undoes the rollout. */
const undone: Array<string> = []
const regressionRunbook = Runbook.make<{ readonly request: HandOffs.Evidence<typeof HandOffs.DeploymentRegression> }, never>({
  id: "test.k8s.deployment-regression",
  family: "test.k8s",
  signals: [HandOffs.DeploymentRegression.type],
  diagnose: Diagnoser.make({ request: HandOffs.probe(HandOffs.DeploymentRegression) }),
  classify: (f) => (f.request._tag === "Known" ? Classification.classified("regression", 0.9) : Classification.unclassified(["bad evidence"])),
  remediate: (_c, f, s) => Effect.succeed({ runbook: "test.k8s.deployment-regression", class: "regression", summary: "undo the rollout", root: Plan.act(Action.make({ kind: "test.rolloutUndo", target: s.target, params: { to: f.request._tag === "Known" ? f.request.value.previousRevision ?? "" : "" }, description: "kubectl rollout undo" })) }),
  verify: () => Effect.map(Clock.currentTimeMillis, (now) => Verdict.fromChecks([{ name: "rolled_back", ok: undone.length > 0, detail: undone.join(",") }], now)),
  defaultMode: "auto",
  cooldown: "0 seconds"
})
const undoHandler = ActionHandler.make({
  kind: "test.rolloutUndo",
  params: Schema.Struct({ to: Schema.String }),
  apply: (p, ctx) => Effect.sync(() => {
    if (!ctx.dryRun) undone.push(p.to)
    return { detail: `undone to ${p.to}`, result: {} }
  })
})

describe("deploy.webhook.rollback e2e: a Kubernetes Deployment (deployment_status naming it)", () => {
  it.live("the deployment-regression hand-off is awaited: the workload's runbook acts, the parent verifies its child recovered; the author is told", () =>
    withGitHub((fake, clock) =>
      Effect.scoped(Effect.gen(function*() {
        const rx = yield* DeployWebhooks.make(RECEIVER)
        const results: Array<Runbook.HandleResult> = []
        const catalog = Catalog.make<DeployWebhookRollback.Services>([DeployWebhookRollback.make({ defaultMode: "auto", verifyEvery: "20 millis", verifyUpTo: "3 seconds" }), regressionRunbook], { settle: "10 millis" })
        yield* Effect.forkScoped(Catalog.run(catalog, { sources: [rx.signals], onResult: (r) => Effect.sync(() => void results.push(r)), resumeOpen: false, timedUndo: false }))
        const good = goodRun(fake)["head_sha"] as string
        fake.deploy(H.REPO, { sha: good, environment: "production", creator: "bob", state: "success", payload: { kubernetes: { cluster: "prod", namespace: "shop", deployment: "checkout" } } })
        clock.offset = 0
        const { sha: bad } = fake.push(H.REPO, { branch: "main", author: "alice", workflows: [] })
        const dep = fake.deploy(H.REPO, { sha: bad, environment: "production", creator: "alice", state: "failure", payload: { kubernetes: { cluster: "prod", namespace: "shop", deployment: "checkout" } } })
        const d = fake.deploymentStatusDelivery(H.REPO, dep, SECRET)
        assert.strictEqual((yield* post(`${rx.url}/github`, d.body, d.headers)).json.outcome, "accepted")
        for (let i = 0; i < 300 && !results.some((r) => (r as IncidentReport.IncidentReport).runbook === DeployWebhookRollback.ID); i++) yield* settle
        const parent = results.find((r) => (r as IncidentReport.IncidentReport).runbook === DeployWebhookRollback.ID) as IncidentReport.IncidentReport
        const child = results.find((r) => (r as IncidentReport.IncidentReport).runbook === regressionRunbook.id) as IncidentReport.IncidentReport
        assert.strictEqual(child?.status, "recovered")
        assert.deepStrictEqual(child.signal.target, { kind: "k8s.workload", ref: "prod/shop/Deployment/checkout" })
        assert.strictEqual(parent.status, "recovered", JSON.stringify(parent.escalation))
        assert.deepStrictEqual(undone, [good])
        assert.strictEqual(fake.runs(H.REPO).filter((r) => r["event"] === "workflow_dispatch").length, 0, "cloud never rolls back a Deployment itself")
        assert.deepStrictEqual(fake.comments(H.REPO).map((c) => c.sha), [bad])
      })).pipe(Effect.provide(layerWith(fake, [undoHandler])))
    ))
})

describe("deploy.webhook.rollback e2e: Spinnaker on the Gate fake (auto)", () => {
  const setup = (fake: SpinnakerFake.SpinnakerFake) => {
    fake.addPipeline("shop", { name: "Deploy" })
    fake.addPipeline("shop", { name: "Rollback" })
    fake.execute("shop", "Deploy", { parameters: { revision: "1111111111111111111111111111111111111111" }, user: "bob", at: Date.now() - 40 * 60_000 })
    return fake.execute("shop", "Deploy", { parameters: { revision: "2222222222222222222222222222222222222222" }, user: "alice", at: Date.now() - 2 * 60_000, outcome: "TERMINAL" })
  }

  it.live("orca:pipeline:failed → the Rollback pipeline run with the last good revision; the app runs it again", () =>
    withSpinnaker((spin) =>
      Effect.scoped(Effect.gen(function*() {
        const { rx, got } = yield* receiver
        const bad = setup(spin)
        assert.strictEqual(spin.deployed("shop"), "1111111111111111111111111111111111111111")
        const r = yield* post(`${rx.url}/spinnaker`, JSON.stringify(spin.echo(bad)), { "x-byteport-token": SPIN_TOKEN })
        assert.strictEqual(r.json.outcome, "accepted")
        yield* settle
        const report = yield* handle(RB(), got[0]!, "auto")
        assert.strictEqual(report.status, "recovered")
        assert.deepStrictEqual(spin.writes.map((w) => `${w.method} ${w.path}`), ["POST /pipelines/shop/Rollback"])
        const rollback = spin.executions("shop")[0]!
        assert.deepStrictEqual([rollback["name"], rollback["status"], (rollback["trigger"] as { parameters: unknown }).parameters], ["Rollback", "SUCCEEDED", { revision: "1111111111111111111111111111111111111111", failedExecutionId: bad }])
        assert.strictEqual(spin.deployed("shop"), "1111111111111111111111111111111111111111")
        const ops = yield* Effect.flatMap(Effect.service(OpsLog), (o) => o.messages)
        assert.isTrue(ops.some((m) => m.kind === "notice" && m.text.startsWith("@alice")))
      })).pipe(Effect.provide(layer(undefined, spin)))
    ))

  it.live("another deploy of the application running (a manual Rollback run): denied (deploy_in_progress), no trigger", () =>
    withSpinnaker((spin) =>
      Effect.scoped(Effect.gen(function*() {
        const { rx, got } = yield* receiver
        const bad = setup(spin)
        spin.execute("shop", "Rollback", { parameters: { revision: "3333333333333333333333333333333333333333" }, at: Date.now() - 60_000, durationMs: 3_600_000 })
        yield* post(`${rx.url}/spinnaker`, JSON.stringify(spin.echo(bad)), { "x-byteport-token": SPIN_TOKEN })
        yield* settle
        const report = yield* handle(RB(), got[0]!, "auto")
        assert.strictEqual(report.status, "escalated")
        assert.match(report.escalation?.reason ?? "", /deploy_in_progress: execution \S+ of Rollback is RUNNING/)
        assert.notMatch(report.escalation?.reason ?? "", /false_attribution/)
        assert.deepStrictEqual(spin.writes, [])
      })).pipe(Effect.provide(layer(undefined, spin)))
    ))

  it.live("a forged echo (the execution succeeded): escalated, no trigger; a wrong token: 401", () =>
    withSpinnaker((spin) =>
      Effect.scoped(Effect.gen(function*() {
        const { rx, got } = yield* receiver
        setup(spin)
        const goodId = spin.executions("shop").find((e) => e["status"] === "SUCCEEDED")!["id"] as string
        const forged = spin.echo(goodId) as { details: Record<string, unknown> }
        forged.details["type"] = "orca:pipeline:failed"
        const denied = yield* post(`${rx.url}/spinnaker`, JSON.stringify(forged), { "x-byteport-token": "guess" })
        assert.strictEqual(denied.status, 401)
        yield* post(`${rx.url}/spinnaker`, JSON.stringify(forged), { "x-byteport-token": SPIN_TOKEN })
        yield* settle
        assert.strictEqual(got.length, 1)
        const report = yield* handle(RB(), got[0]!, "auto")
        assert.strictEqual(report.status, "escalated")
        assert.deepStrictEqual(spin.writes, [])
      })).pipe(Effect.provide(layer(undefined, spin)))
    ))
})
