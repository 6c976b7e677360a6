import { assert, describe, it } from "@effect/vitest"
import { Classification, Fact, Redactor } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { WorkflowFailure, WorkflowRollback, WorkflowRunDiagnoser, WorkflowRuns } from "@byteport/cloud"

const here = path.dirname(new URL(import.meta.url).pathname)
const load = (name: string) =>
  Testing.loadFixture(WorkflowRunDiagnoser.Recording, path.join(here, "fixtures", `${name}.json`))

const classify = WorkflowFailure.classifier()
const remediate = WorkflowRollback.make()

const planFor = (name: string) =>
  Effect.gen(function*() {
    const rec = yield* load(name)
    const facts = WorkflowRunDiagnoser.factsOf(rec)
    const c = classify(facts)
    const signal = WorkflowRuns.signalOf(rec.repo, rec.run, "poll", 0)
    const plan = c._tag === "Classified" ? yield* remediate(c, facts, signal) : undefined
    return { rec, facts, c, plan }
  })

describe("deploy.github-actions: golden plans from recorded runs", () => {
  const expected: ReadonlyArray<[string, string]> = [
    ["test_failure", "test_failure"],
    ["test_failure_by_log", "test_failure"],
    ["build_failure", "build_failure"],
    ["deploy_step_failure", "deploy_step_failure"],
    ["infra_timeout_runner_lost", "infra_timeout"],
    ["infra_timeout_timed_out", "infra_timeout"],
    ["near_miss_no_previous_success", "test_failure"]
  ]
  for (const [name, cls] of expected) {
    it.effect(`${name} → ${cls}, golden plan`, () =>
      Effect.gen(function*() {
        const { c, plan } = yield* planFor(name)
        assert.strictEqual(Classification.className(c), cls)
        assert.isDefined(plan)
        Testing.expectPlan(plan!, path.join(here, "golden", `${name}.plan.txt`))
      }))
  }

  it.effect("the rollback plan dispatches rollback.yml on the branch with exactly triggered_by and failed_run_id", () =>
    Effect.gen(function*() {
      const { rec, plan } = yield* planFor("deploy_step_failure")
      const root = plan!.root
      assert.strictEqual(root._tag, "Act")
      if (root._tag !== "Act") return
      assert.deepStrictEqual(root.action.params, {
        repo: "acme/shop",
        workflow: "rollback.yml",
        ref: "main",
        inputs: { triggered_by: "byteport-agent", failed_run_id: String(rec.run.id) },
        returnRunDetails: true,
        failedRunId: rec.run.id
      })
    }))

  it.effect("no previous success → the plan escalates with class, branch, actor and run URL", () =>
    Effect.gen(function*() {
      const { rec, plan } = yield* planFor("near_miss_no_previous_success")
      assert.strictEqual(plan!.root._tag, "Escalate")
      const reason = plan!.root._tag === "Escalate" ? plan!.root.reason : ""
      assert.include(reason, "test_failure")
      assert.include(reason, "on main")
      assert.include(reason, "actor alice")
      assert.include(reason, rec.run.html_url)
    }))

  for (const name of ["near_miss_unmatched_step", "near_miss_cancelled"]) {
    it.effect(`${name}: no class (escalate)`, () =>
      Effect.gen(function*() {
        const { c } = yield* planFor(name)
        assert.strictEqual(c._tag, "Unclassified")
      }))
  }

  it.effect("the failed job's log tail is redacted (a token in the log never reaches the facts)", () =>
    Effect.gen(function*() {
      const { rec, facts } = yield* planFor("deploy_step_failure")
      assert.include(rec.log, "ghp_abcdefghijklmnopqrstuvwxyz0123456789")
      const tail = Fact.value(facts.failedLog)!.tail
      assert.notInclude(tail, "ghp_abcdefghijklmnopqrstuvwxyz0123456789")
      assert.include(tail, Redactor.MARKER)
      assert.include(tail, "UPGRADE FAILED")
    }))

  it.effect("a malformed recording fails naming the bad field's path", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(here, ".tmp-"))
      const file = path.join(dir, "bad.json")
      const rec = JSON.parse(fs.readFileSync(path.join(here, "fixtures", "test_failure.json"), "utf8")) as { run: { conclusion: unknown } }
      rec.run.conclusion = 7
      fs.writeFileSync(file, JSON.stringify(rec))
      const err = yield* Effect.flip(Testing.loadFixture(WorkflowRunDiagnoser.Recording, file))
      fs.rmSync(dir, { recursive: true, force: true })
      assert.deepStrictEqual(err.path, ["run", "conclusion"])
    }))
})

const facts = (o: {
  readonly conclusion?: string
  readonly steps?: ReadonlyArray<[string, string]>
  readonly jobConclusion?: string
  readonly runner?: string | null
  readonly log?: string
}): Fact.Facts<WorkflowRunDiagnoser.WorkflowRunFacts> =>
  Testing.facts({
    run: { id: 1, repo: "acme/shop", workflowId: 2, workflowPath: ".github/workflows/deploy.yml", name: "Deploy", branch: "main", sha: "abc", event: "push", status: "completed", conclusion: o.conclusion ?? "failure", actor: "alice", url: "u", createdAt: "2026-11-03T00:00:00Z" },
    jobs: [{ id: 3, name: "deploy", conclusion: o.jobConclusion ?? "failure", runnerName: o.runner === undefined ? "GitHub Actions 7" : o.runner, steps: (o.steps ?? []).map(([name, conclusion]) => ({ name, conclusion })) }],
    failedLog: { jobId: 3, jobName: "deploy", tail: o.log ?? "" },
    previousSuccess: null
  })

describe("WorkflowFailure: the seed's order and near misses", () => {
  const cls = (f: Fact.Facts<WorkflowRunDiagnoser.WorkflowRunFacts>) => Classification.className(classify(f))
  it("a step class needs a step concluded failure: a test step that succeeded does not make test_failure", () => {
    assert.isUndefined(cls(facts({ steps: [["Run tests", "success"], ["Notify", "failure"]] })))
    assert.strictEqual(cls(facts({ steps: [["Run tests", "failure"]] })), "test_failure")
    assert.isUndefined(cls(facts({ steps: [["Run tests", "cancelled"]], log: "1 failing" })))
  })
  it("order: a failed test step wins over a build log; a build step over a deploy log", () => {
    assert.strictEqual(cls(facts({ steps: [["Run tests", "failure"]], log: "npm ERR! code 1" })), "test_failure")
    assert.strictEqual(cls(facts({ steps: [["Build", "failure"]], log: "Error from server (NotFound)" })), "build_failure")
    assert.strictEqual(cls(facts({ steps: [["Step 4", "failure"]], log: "Error from server (Forbidden)" })), "deploy_step_failure")
  })
  it("infra_timeout: timed_out / startup_failure runs, a timed-out job, a lost runner, a runner-loss marker; a plain failure is not", () => {
    assert.strictEqual(cls(facts({ conclusion: "timed_out" })), "infra_timeout")
    assert.strictEqual(cls(facts({ conclusion: "startup_failure", jobConclusion: "failure" })), "infra_timeout")
    assert.strictEqual(cls(facts({ jobConclusion: "timed_out" })), "infra_timeout")
    assert.strictEqual(cls(facts({ runner: null })), "infra_timeout")
    assert.strictEqual(cls(facts({ log: "##[error]The runner has received a shutdown signal." })), "infra_timeout")
    assert.isUndefined(cls(facts({ log: "exit code 1" })))
  })
  it("patterns and confidences are configurable; below 0.70 is unclassified", () => {
    const custom = WorkflowFailure.classifier({ patterns: { testStep: /^QA gate$/ } })
    assert.strictEqual(Classification.className(custom(facts({ steps: [["QA gate", "failure"]] }))), "test_failure")
    const low = WorkflowFailure.classifier({ confidences: { test_failure: 0.6 } })
    assert.strictEqual(low(facts({ steps: [["Run tests", "failure"]] }))._tag, "Unclassified")
  })
  it("an unknown log is Indeterminate (never a guess)", () => {
    const f = { ...facts({ steps: [["Run tests", "failure"]] }), failedLog: Fact.unknown("github.job_log", "410 Gone") }
    assert.strictEqual(classify(f)._tag, "Indeterminate")
  })
})
