import { assert, describe, it } from "@effect/vitest"
import { GuardrailStore, Runbook, Signal } from "@byteport/core"
import { Effect, Fiber, Redacted, Schedule, Stream } from "effect"
import * as Crypto from "node:crypto"
import { GitHubActions, WorkflowRuns, WorkflowRunWebhook } from "@byteport/cloud"
import type { GitHubFake } from "@byteport/cloud/testing"
import * as H from "./harness"

const withFake = <A, E, R>(f: (fake: GitHubFake.GitHubFake) => Effect.Effect<A, E, R>, o: Parameters<typeof H.fakeRepo>[0] = {}) =>
  Effect.acquireUseRelease(Effect.promise(() => H.fakeRepo(o)), f, (fake) => Effect.promise(() => fake.close()))

const POLL = { repo: H.REPO, workflows: ["deploy.yml"] }
const SECRET = Redacted.make("It's a Secret to Everybody")

describe("WorkflowRuns: conditional polling", () => {
  it.live("emits a failed run once; an unchanged list is a 304 (If-None-Match), which costs no rate limit", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const state = { pausedUntil: 0 }
        const failed = H.failDeploy(fake, "test_failure")
        const first = yield* WorkflowRuns.pollOnce(POLL, state)
        assert.deepStrictEqual(first.map((s) => s.evidence["runId"]), [failed])
        assert.strictEqual(first[0]!.target.ref, "acme/shop:.github/workflows/deploy.yml@main")
        const second = yield* WorkflowRuns.pollOnce(POLL, state)
        assert.deepStrictEqual(second, [])
        const last = fake.requests.at(-1)!
        assert.strictEqual(last.status, 304)
        // a new success changes the list (200) but emits nothing; a new failure is emitted, the old one is not again
        fake.setBehaviour(H.REPO, "deploy.yml", H.behaviours.success)
        fake.push(H.REPO, { branch: "main", workflows: ["deploy.yml"] })
        assert.deepStrictEqual(yield* WorkflowRuns.pollOnce(POLL, state), [])
        const next = H.failDeploy(fake, "build_failure")
        assert.deepStrictEqual((yield* WorkflowRuns.pollOnce(POLL, state)).map((s) => s.evidence["runId"]), [next])
      }).pipe(Effect.provide(H.layer(fake)))
    ))

  it.live("a 429 with retry-after pauses polling until it passes (no request meanwhile)", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const state = { pausedUntil: 0 }
        H.failDeploy(fake, "test_failure")
        fake.fail({ status: 429, retryAfter: 60, path: "/runs" })
        assert.deepStrictEqual(yield* WorkflowRuns.pollOnce(POLL, state), [])
        assert.isAtLeast(state.pausedUntil, Date.now() + 55_000)
        const before = fake.requests.length
        assert.deepStrictEqual(yield* WorkflowRuns.pollOnce(POLL, state), [])
        assert.strictEqual(fake.requests.length, before)
        state.pausedUntil = 0
        assert.strictEqual((yield* WorkflowRuns.pollOnce(POLL, state)).length, 1)
      }).pipe(Effect.provide(H.layer(fake)))
    ))

  it.live("branch filter; a run claimed by the webhook is not emitted; pollers sharing a client (and its ETag cache) each see every run once", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const failed = H.failDeploy(fake, "test_failure")
        assert.isTrue(yield* WorkflowRuns.claim(H.REPO, failed, "webhook"))
        assert.deepStrictEqual(yield* WorkflowRuns.pollOnce(POLL, { pausedUntil: 0 }), [])
        const other = H.failDeploy(fake, "build_failure")
        assert.deepStrictEqual(yield* WorkflowRuns.pollOnce({ ...POLL, branches: ["release"] }, { pausedUntil: 0 }), [])
        assert.deepStrictEqual((yield* WorkflowRuns.pollOnce(POLL, { pausedUntil: 0 })).map((s) => s.evidence["runId"]), [other])
        const store = yield* GuardrailStore.GuardrailStore
        assert.strictEqual((yield* store.get(WorkflowRuns.claimKey(H.REPO, other)))?.version, 1)
      }).pipe(Effect.provide(H.layer(fake)))
    ))
})

describe("WorkflowRunWebhook", () => {
  it("verifySignature: HMAC-SHA256 of the raw bytes, in constant time; a re-serialized body does not verify", () => {
    const raw = Buffer.from('{"action":"completed","n":1.0}')
    const good = `sha256=${Crypto.createHmac("sha256", Redacted.value(SECRET)).update(raw).digest("hex")}`
    assert.isTrue(WorkflowRunWebhook.verifySignature(raw, good, SECRET))
    assert.isFalse(WorkflowRunWebhook.verifySignature(Buffer.from(JSON.stringify(JSON.parse(raw.toString()))), good, SECRET))
    assert.isFalse(WorkflowRunWebhook.verifySignature(raw, good.replace("sha256=", "sha1="), SECRET))
    assert.isFalse(WorkflowRunWebhook.verifySignature(raw, good.slice(0, -1), SECRET))
    assert.isFalse(WorkflowRunWebhook.verifySignature(raw, undefined, SECRET))
    assert.isFalse(WorkflowRunWebhook.verifySignature(raw, good, Redacted.make("other")))
  })

  it.live("a signed delivery opens one incident; a redelivery is a duplicate; a bad signature is 401 and audited", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const receiver = yield* WorkflowRunWebhook.make({ secret: SECRET, repo: H.REPO, workflows: ["deploy.yml"] })
        const collected = yield* Effect.forkChild(Stream.runCollect(Stream.take(receiver.detector.signals, 1)))
        const failed = H.failDeploy(fake, "deploy_step_failure")
        const d = fake.webhookDelivery(H.REPO, failed, Redacted.value(SECRET))
        const post = (headers: Record<string, string>, body: string) =>
          Effect.promise(() => fetch(receiver.url, { method: "POST", headers, body }).then(async (r) => ({ status: r.status, body: (await r.json()) as { outcome: string } })))
        const bad = yield* post({ ...d.headers, "x-hub-signature-256": `sha256=${"0".repeat(64)}` }, d.body)
        assert.deepStrictEqual([bad.status, bad.body.outcome], [401, "rejected"])
        const ok = yield* post(d.headers, d.body)
        assert.deepStrictEqual([ok.status, ok.body.outcome], [202, "accepted"])
        const again = yield* post({ ...d.headers, "x-github-delivery": Crypto.randomUUID() }, d.body)
        assert.deepStrictEqual([again.status, again.body.outcome], [200, "duplicate"])
        const signals = yield* Effect.forEach(yield* Fiber.join(collected), (s) => Signal.decode(s))
        assert.deepStrictEqual(signals.map((s) => [s.evidence["runId"], s.evidence["via"]]), [[failed, "webhook"]])
        const audit = (yield* H.recorded).audit.filter((a) => a.event === "webhook.rejected")
        assert.strictEqual(audit.length, 1)
        // the poller does not emit it again
        assert.deepStrictEqual(yield* WorkflowRuns.pollOnce(POLL, { pausedUntil: 0 }), [])
      }).pipe(Effect.scoped, Effect.provide(H.layer(fake)))
    ))

  it.live("a forged (validly signed, false) payload: the run is re-read from the API, which shows success: no rollback", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const receiver = yield* WorkflowRunWebhook.make({ secret: SECRET, repo: H.REPO, workflows: ["deploy.yml"] })
        const collected = yield* Effect.forkChild(Stream.runCollect(Stream.take(receiver.detector.signals, 1)))
        const { runIds } = fake.push(H.REPO, { branch: "main", workflows: ["deploy.yml"] })
        const real = JSON.parse(fake.webhookDelivery(H.REPO, runIds[0]!, "x").body) as { workflow_run: Record<string, unknown> }
        real.workflow_run["conclusion"] = "failure"
        const body = JSON.stringify(real)
        const sig = `sha256=${Crypto.createHmac("sha256", Redacted.value(SECRET)).update(body).digest("hex")}`
        const res = yield* Effect.promise(() => fetch(receiver.url, { method: "POST", headers: { "x-github-event": "workflow_run", "x-hub-signature-256": sig, "content-type": "application/json" }, body }))
        assert.strictEqual(res.status, 202)
        const [raw] = yield* Fiber.join(collected)
        const signal = yield* Signal.decode(raw)
        const report = yield* Runbook.handle(GitHubActions.make(H.options()), signal, { mode: "auto" })
        if (Runbook.isAwaitingApproval(report)) return assert.fail("unexpected approval")
        assert.strictEqual(report.status, "escalated")
        assert.strictEqual(report.classification?._tag, "Unclassified")
        assert.deepStrictEqual(fake.writes, [])
      }).pipe(Effect.scoped, Effect.provide(H.layer(fake, { env: { rollbackEnabled: "true" } })))
    ))
})

describe("deploy.github-actions detector and start-up permission check", () => {
  it.live("the runbook's detector audits the permission check first, then emits the failed run", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const failed = H.failDeploy(fake, "test_failure")
        const rb = GitHubActions.make(H.options({ poll: { schedule: Schedule.spaced("10 millis") } }))
        const got = yield* Stream.runCollect(Stream.take(rb.detector!.signals, 1))
        const [signal] = yield* Effect.forEach(got, (s) => Signal.decode(s))
        assert.strictEqual(signal!.evidence["runId"], failed)
        const audit = (yield* H.recorded).audit.filter((a) => a.event === "github.permissions")
        assert.strictEqual(audit.length, 1)
        assert.strictEqual(audit[0]!.data["ok"], true)
      }).pipe(Effect.provide(H.layer(fake)))
    ))

  it.live("a token without Actions: read: the check reports it missing with X-Accepted-GitHub-Permissions", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const report = yield* GitHubActions.permissionCheck(H.options())
        assert.isFalse(report.ok)
        const actions = report.results.find((r) => r.permission === "Actions: read")!
        assert.deepStrictEqual([actions.status, actions.accepted], ["missing", "actions=read"])
        assert.strictEqual(report.results.find((r) => r.permission === "Contents: read")!.status, "ok")
      }).pipe(Effect.provide(H.layer(fake, { token: "noactions" }))), { tokens: { noactions: { login: "bot", permissions: { actions: "none", contents: "read" } } } }))
})
