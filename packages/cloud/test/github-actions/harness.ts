import { type IncidentReport, Notifier, Runbook, type Signal } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { ConfigProvider, Effect, Layer, Redacted } from "effect"
import { GitHub, GitHubActions, type WorkflowRunDiagnoser, WorkflowRuns } from "@byteport/cloud"
import { GitHubFake } from "@byteport/cloud/testing"

export const REPO = "acme/shop"

export const behaviours = {
  success: { jobs: [{ name: "deploy", steps: [{ name: "Set up job" }, { name: "Run tests" }, { name: "Deploy to production" }] }], durationMs: 0 },
  test_failure: { jobs: [{ name: "deploy", steps: [{ name: "Set up job" }, { name: "Run tests", conclusion: "failure", log: "FAIL src/cart.test.ts\n  ● cart › totals\n\n  1 failing" }] }], durationMs: 0 },
  build_failure: { jobs: [{ name: "deploy", steps: [{ name: "Set up job" }, { name: "Build", conclusion: "failure", log: "src/cart.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'." }] }], durationMs: 0 },
  deploy_step_failure: { jobs: [{ name: "deploy", steps: [{ name: "Set up job" }, { name: "Run tests" }, { name: "Deploy to production", conclusion: "failure", log: "Error: UPGRADE FAILED: timed out waiting for the condition" }] }], durationMs: 0 },
  infra_timeout: { jobs: [{ name: "deploy", steps: [{ name: "Set up job" }], runnerLost: true }], durationMs: 0 }
} satisfies Record<string, GitHubFake.Behaviour>

export type Case = keyof typeof behaviours

/** A fake with the deploy and rollback workflows and a first successful deploy on main. */
export const fakeRepo = async (options: GitHubFake.Options & { readonly rollbackBehaviour?: GitHubFake.Behaviour; readonly previousSuccess?: boolean } = {}) => {
  const fake = await GitHubFake.start(options)
  fake.addRepo(REPO)
  fake.addWorkflow(REPO, { path: ".github/workflows/deploy.yml", name: "Deploy", behaviour: behaviours.success })
  fake.addWorkflow(REPO, { path: ".github/workflows/rollback.yml", name: "Rollback", behaviour: options.rollbackBehaviour ?? { jobs: [{ name: "rollback", steps: [{ name: "Roll back" }] }], durationMs: 60 } })
  if (options.previousSuccess !== false) fake.push(REPO, { branch: "main", message: "feat: good", author: "bob", workflows: ["deploy.yml"] })
  return fake
}

/** Pushes a failing deploy; returns its run id. */
export const failDeploy = (fake: GitHubFake.GitHubFake, cls: Case, actor = "alice"): number => {
  fake.setBehaviour(REPO, "deploy.yml", behaviours[cls])
  const { runIds } = fake.push(REPO, { branch: "main", message: `change (${cls})`, author: actor, workflows: ["deploy.yml"] })
  return runIds[0]!
}

export const options = (o: Partial<GitHubActions.Options> = {}): GitHubActions.Options => ({
  repo: REPO,
  workflows: ["deploy.yml"],
  verifyEvery: "20 millis",
  verifyUpTo: "3 seconds",
  ...o
})

export const githubLayer = (fake: GitHubFake.GitHubFake, token = "test-token") => GitHub.layer({ baseUrl: fake.url, token: Redacted.make(token) })

/** The test services: a store (memory unless given), the handlers over the fake, config. */
export const layer = (fake: GitHubFake.GitHubFake, o: { readonly env?: Record<string, string>; readonly store?: Testing.LayerOptions<never>["store"]; readonly token?: string } = {}) =>
  Layer.mergeAll(
    Testing.layer({ handlers: GitHubActions.handlers(), ...(o.store ? { store: o.store } : {}) }),
    githubLayer(fake, o.token)
  ).pipe(
    Layer.provideMerge(githubLayer(fake, o.token)),
    Layer.provideMerge(ConfigProvider.layer(ConfigProvider.fromEnvRecord(o.env ?? {})))
  )

/** Polls once and handles every signal. */
export const pollAndHandle = (
  rb: Runbook.Runbook<WorkflowRunDiagnoser.WorkflowRunFacts, GitHubActions.Services>,
  mode: "observe" | "dry_run" | "auto"
): Effect.Effect<{ readonly signals: ReadonlyArray<Signal.Signal>; readonly reports: ReadonlyArray<IncidentReport.IncidentReport> }, Runbook.MalformedSignal, GitHubActions.Services | Runbook.Services> =>
  Effect.gen(function*() {
    const signals = yield* WorkflowRuns.pollOnce({ repo: REPO, workflows: ["deploy.yml"] }, { pausedUntil: 0 })
    const reports: Array<IncidentReport.IncidentReport> = []
    for (const s of signals) {
      const r = yield* Runbook.handle(rb, s, { mode })
      if (Runbook.isAwaitingApproval(r)) throw new Error("unexpected approval")
      reports.push(r)
    }
    return { signals, reports }
  })

export const recorded = Effect.flatMap(Effect.service(Notifier.NotifierRecording), (r) => r.get)
