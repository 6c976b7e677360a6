import { assert, describe, it } from "@effect/vitest"
import { FileStore, Runbook } from "@byteport/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { GitHubActions, WorkflowRuns } from "@byteport/cloud"
import type { GitHubFake } from "@byteport/cloud/testing"
import * as H from "./harness"

const ENABLED = { rollbackEnabled: "true" }

const withFake = <A, E, R>(f: (fake: GitHubFake.GitHubFake) => Effect.Effect<A, E, R>, o: Parameters<typeof H.fakeRepo>[0] = {}) =>
  Effect.acquireUseRelease(Effect.promise(() => H.fakeRepo(o)), f, (fake) => Effect.promise(() => fake.close()))

describe("deploy.github-actions on the GitHub fake (auto)", () => {
  for (const cls of ["test_failure", "build_failure", "deploy_step_failure", "infra_timeout"] as const) {
    it.live(`${cls}: classified, rollback dispatched with the seed's inputs, the rollback run verified`, () =>
      withFake((fake) =>
        Effect.gen(function*() {
          const failed = H.failDeploy(fake, cls)
          const { signals, reports } = yield* H.pollAndHandle(GitHubActions.make(H.options()), "auto")
          assert.strictEqual(signals.length, 1)
          assert.strictEqual(signals[0]!.evidence["runId"], failed)
          const r = reports[0]!
          assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : undefined, cls)
          assert.strictEqual(r.status, "recovered")
          const dispatched = fake.runs(H.REPO).filter((x) => x["event"] === "workflow_dispatch")
          assert.strictEqual(dispatched.length, 1)
          assert.strictEqual(dispatched[0]!["path"], ".github/workflows/rollback.yml")
          assert.strictEqual(dispatched[0]!["head_branch"], "main")
          assert.deepStrictEqual(fake.inputsOf(H.REPO, dispatched[0]!["id"] as number), { triggered_by: "byteport-agent", failed_run_id: String(failed) })
          assert.deepStrictEqual(fake.writes.map((w) => [w.method, w.path, (w.body as { return_run_details?: boolean }).return_run_details]), [["POST", "/repos/acme/shop/actions/workflows/rollback.yml/dispatches", true]])
          assert.strictEqual(dispatched[0]!["conclusion"], "success")
        }).pipe(Effect.provide(H.layer(fake, { env: ENABLED })))
      ))
  }

  it.live("rollbackEnabled unset (default false): escalation only, with class, branch, actor and run URL; no write", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const failed = H.failDeploy(fake, "test_failure", "alice")
        const { reports } = yield* H.pollAndHandle(GitHubActions.make(H.options()), "auto")
        assert.strictEqual(reports[0]!.status, "escalated")
        assert.strictEqual(fake.writes.length, 0)
        const got = yield* H.recorded
        const esc = got.escalations[0]!
        assert.match(esc.reason, /rollbackEnabled/)
        assert.includeMembers([...esc.nextSteps], ["class: test_failure", "branch: main", "actor: alice", `run: https://github.com/acme/shop/actions/runs/${failed}`])
      }).pipe(Effect.provide(H.layer(fake)))
    ))

  it.live("no previous success of the workflow on the branch: escalation, no write", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        H.failDeploy(fake, "deploy_step_failure")
        const { reports } = yield* H.pollAndHandle(GitHubActions.make(H.options()), "auto")
        assert.strictEqual(reports[0]!.status, "escalated")
        assert.match(reports[0]!.escalation?.reason ?? "", /no previous successful run of \.github\/workflows\/deploy\.yml on main/)
        assert.match(reports[0]!.escalation?.reason ?? "", /deploy_step_failure .* on main of acme\/shop, actor alice, run https:\/\/github\.com/)
        assert.strictEqual(fake.writes.length, 0)
      }).pipe(Effect.provide(H.layer(fake, { env: ENABLED }))), { previousSuccess: false }))

  for (const mode of ["observe", "dry_run"] as const) {
    it.live(`${mode}: no write request reaches GitHub (the fake's log)`, () =>
      withFake((fake) =>
        Effect.gen(function*() {
          H.failDeploy(fake, "test_failure")
          const { reports } = yield* H.pollAndHandle(GitHubActions.make(H.options()), mode)
          assert.strictEqual(reports[0]!.status, mode === "observe" ? "observed" : "dry_run")
          assert.deepStrictEqual(fake.writes, [])
          assert.isTrue(fake.requests.every((r) => r.method === "GET"))
        }).pipe(Effect.provide(H.layer(fake, { env: ENABLED })))
      ))
  }

  it.live("the rollback run fails: NotRecovered, escalated", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        H.failDeploy(fake, "build_failure")
        const { reports } = yield* H.pollAndHandle(GitHubActions.make(H.options({ verifyUpTo: "400 millis" })), "auto")
        assert.strictEqual(reports[0]!.status, "escalated")
        assert.isTrue(reports[0]!.verdicts.some((v) => v._tag === "NotRecovered"))
        assert.strictEqual(fake.writes.length, 1)
      }).pipe(Effect.provide(H.layer(fake, { env: ENABLED }))), { rollbackBehaviour: { jobs: [{ name: "rollback", steps: [{ name: "Roll back", conclusion: "failure" }] }], durationMs: 30 } }))

  it.live("a GitHub that answers 204: the rollback run is found among workflow_dispatch runs and verified", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        H.failDeploy(fake, "test_failure")
        const { reports } = yield* H.pollAndHandle(GitHubActions.make(H.options()), "auto")
        assert.strictEqual(reports[0]!.status, "recovered")
        const dispatch = fake.requests.find((r) => r.method === "POST")!
        assert.strictEqual(dispatch.status, 204)
      }).pipe(Effect.provide(H.layer(fake, { env: ENABLED }))), { returnRunDetails: false }))

  it.live("a token without Actions: write: the dispatch fails naming X-Accepted-GitHub-Permissions, escalated", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        H.failDeploy(fake, "test_failure")
        const { reports } = yield* H.pollAndHandle(GitHubActions.make(H.options()), "auto")
        assert.strictEqual(reports[0]!.status, "escalated")
        const failed = reports[0]!.outcomes.find((o) => o.status === "failed")
        assert.match(failed?.detail ?? "", /actions=write/)
        assert.strictEqual(fake.runs(H.REPO).filter((x) => x["event"] === "workflow_dispatch").length, 0)
        const report = yield* GitHubActions.permissionCheck(H.options())
        assert.isFalse(report.ok)
        assert.deepStrictEqual(report.results.map((r) => [r.permission, r.status]), [["Actions: read", "ok"], ["Contents: read", "ok"], ["Actions: write (seed: Workflows: write)", "missing"]])
      }).pipe(Effect.provide(H.layer(fake, { env: ENABLED, token: "ro" }))), { tokens: { ro: { login: "bot", permissions: { actions: "read", contents: "read" } } } }))

  it.live("a run_id is acted on once, across a restart (FileStore): not re-emitted, and a re-handled signal is denied", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "byteport-gha-"))
        const failed = H.failDeploy(fake, "deploy_step_failure")
        const first = yield* H.pollAndHandle(GitHubActions.make(H.options({ cooldown: "0 seconds" })), "auto").pipe(
          Effect.provide(H.layer(fake, { env: ENABLED, store: FileStore.layer({ directory: dir }) }))
        )
        assert.strictEqual(first.reports[0]!.status, "recovered")
        // a new agent process: a new client (no ETag cache), a new store handle on the same directory
        const second = yield* Effect.gen(function*() {
          const again = yield* H.pollAndHandle(GitHubActions.make(H.options()), "auto")
          assert.strictEqual(again.signals.length, 0)
          const forced = yield* Runbook.handle(GitHubActions.make(H.options({ cooldown: "0 seconds" })), WorkflowRuns.signalOf(H.REPO, { id: failed, path: ".github/workflows/deploy.yml", head_branch: "main", conclusion: "failure", html_url: "" }, "webhook", Date.now()), { mode: "auto" })
          return forced
        }).pipe(Effect.provide(H.layer(fake, { env: ENABLED, store: FileStore.layer({ directory: dir }) })))
        if (Runbook.isAwaitingApproval(second)) return assert.fail("unexpected approval")
        assert.strictEqual(second.status, "escalated")
        assert.match(second.escalation?.reason ?? "", /once_per_failed_run/)
        assert.strictEqual(fake.writes.length, 1)
        fs.rmSync(dir, { recursive: true, force: true })
      })
    ))
})
