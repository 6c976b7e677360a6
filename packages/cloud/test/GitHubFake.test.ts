import { Octokit } from "@octokit/rest"
import { RequestError } from "@octokit/request-error"
import * as Crypto from "node:crypto"
import { afterEach, assert, describe, it } from "vitest"
import { GitHubFake } from "@byteport/cloud/testing"

const REPO = "acme/shop"
const deploy: GitHubFake.Behaviour = {
  jobs: [{ name: "deploy", steps: [{ name: "Set up job" }, { name: "Run tests", conclusion: "failure", log: "FAIL src/cart.test.ts\n  1 failing" }] }],
  durationMs: 100
}

let clock = 1_800_000_000_000
const fakes: Array<GitHubFake.GitHubFake> = []
const setup = async (options: GitHubFake.Options = {}) => {
  const fake = await GitHubFake.start({ now: () => clock, ...options })
  fakes.push(fake)
  fake.addRepo(REPO)
  fake.addWorkflow(REPO, { path: ".github/workflows/deploy.yml", name: "Deploy", behaviour: deploy })
  fake.addWorkflow(REPO, { path: ".github/workflows/rollback.yml", name: "Rollback", behaviour: { jobs: [{ name: "rollback", steps: [{ name: "Roll back" }] }], durationMs: 500 } })
  const octokit = new Octokit({ auth: "test-token", baseUrl: fake.url, request: { retries: 0 } })
  return { fake, octokit }
}
afterEach(async () => {
  for (const f of fakes.splice(0)) await f.close()
})

describe("GitHubFake with the real @octokit/rest", () => {
  it("runs: a push creates a run that is queued, runs and completes with its jobs' conclusion", async () => {
    const { fake, octokit } = await setup()
    fake.setBehaviour(REPO, "deploy.yml", { ...deploy, queuedMs: 50 })
    const { runIds } = fake.push(REPO, { branch: "main", message: "feat: cart", actor: "alice", workflows: ["deploy.yml"] })
    const get = () => octokit.rest.actions.getWorkflowRun({ owner: "acme", repo: "shop", run_id: runIds[0]! })
    assert.strictEqual((await get()).data.status, "queued")
    assert.isNull((await get()).data.conclusion)
    clock += 60
    assert.strictEqual((await get()).data.status, "in_progress")
    clock += 200
    const done = (await get()).data
    assert.strictEqual(done.status, "completed")
    assert.strictEqual(done.conclusion, "failure")
    assert.strictEqual(done.head_branch, "main")
    assert.strictEqual(done.actor?.login, "alice")
    assert.strictEqual(done.event, "push")
    assert.strictEqual(done.path, ".github/workflows/deploy.yml")
    assert.strictEqual(done.head_commit?.message, "feat: cart")
  })

  it("runs: filters and Link pagination (octokit.paginate follows rel=next)", async () => {
    const { fake, octokit } = await setup()
    for (let i = 0; i < 7; i++) {
      fake.push(REPO, { branch: i % 2 === 0 ? "main" : "dev", actor: i < 3 ? "alice" : "bob", workflows: ["deploy.yml"] })
      clock += 1000
    }
    const page1 = await octokit.rest.actions.listWorkflowRunsForRepo({ owner: "acme", repo: "shop", per_page: 3 })
    assert.strictEqual(page1.data.total_count, 7)
    assert.strictEqual(page1.data.workflow_runs.length, 3)
    assert.match(page1.headers.link ?? "", /rel="next"/)
    assert.match(page1.headers.link ?? "", /rel="last"/)
    const all = await octokit.paginate(octokit.rest.actions.listWorkflowRunsForRepo, { owner: "acme", repo: "shop", per_page: 3 })
    assert.strictEqual(all.length, 7)
    assert.strictEqual(new Set(all.map((r) => r.id)).size, 7)
    const main = await octokit.rest.actions.listWorkflowRuns({ owner: "acme", repo: "shop", workflow_id: "deploy.yml", branch: "main" })
    assert.strictEqual(main.data.total_count, 4)
    const bob = await octokit.rest.actions.listWorkflowRunsForRepo({ owner: "acme", repo: "shop", actor: "bob", status: "failure" })
    assert.strictEqual(bob.data.total_count, 4)
    const none = await octokit.rest.actions.listWorkflowRunsForRepo({ owner: "acme", repo: "shop", status: "success" })
    assert.strictEqual(none.data.total_count, 0)
    const created = await octokit.rest.actions.listWorkflowRunsForRepo({ owner: "acme", repo: "shop", created: `>=${new Date(clock - 2500).toISOString()}` })
    assert.strictEqual(created.data.total_count, 2)
  })

  it("jobs, steps and the job log (302 to a one-time plain-text URL)", async () => {
    const { fake, octokit } = await setup()
    const { runIds } = fake.push(REPO, { branch: "main", workflows: ["deploy.yml"] })
    clock += 1000
    const jobs = await octokit.rest.actions.listJobsForWorkflowRun({ owner: "acme", repo: "shop", run_id: runIds[0]!, filter: "latest" })
    const job = jobs.data.jobs[0]!
    assert.strictEqual(job.conclusion, "failure")
    assert.deepStrictEqual(job.steps?.map((s) => [s.name, s.conclusion]), [["Set up job", "success"], ["Run tests", "failure"]])
    const log = await octokit.rest.actions.downloadJobLogsForWorkflowRun({ owner: "acme", repo: "shop", job_id: job.id })
    assert.match(String(log.data), /1 failing/)
    assert.match(String(log.data), /##\[error\]Process completed with exit code 1\./)
    const first = fake.requests.find((r) => r.path.endsWith(`/jobs/${job.id}/logs`))!
    assert.strictEqual(first.status, 302)
  })

  it("workflow_dispatch: 204, or 200 with the run's details when return_run_details is true; the run later completes", async () => {
    const { fake, octokit } = await setup()
    const r204 = await octokit.request("POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", {
      owner: "acme",
      repo: "shop",
      workflow_id: "rollback.yml",
      ref: "main",
      inputs: { triggered_by: "byteport-agent", failed_run_id: "1" }
    })
    assert.strictEqual(r204.status, 204)
    const r200 = await octokit.request("POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", {
      owner: "acme",
      repo: "shop",
      workflow_id: "rollback.yml",
      ref: "main",
      inputs: { triggered_by: "byteport-agent", failed_run_id: "2" },
      return_run_details: true
    })
    assert.strictEqual(r200.status, 200)
    const runId = (r200.data as unknown as { workflow_run_id: number }).workflow_run_id
    assert.deepStrictEqual(fake.inputsOf(REPO, runId), { triggered_by: "byteport-agent", failed_run_id: "2" })
    const dispatched = await octokit.rest.actions.listWorkflowRunsForRepo({ owner: "acme", repo: "shop", event: "workflow_dispatch" })
    assert.strictEqual(dispatched.data.total_count, 2)
    assert.strictEqual((await octokit.rest.actions.getWorkflowRun({ owner: "acme", repo: "shop", run_id: runId })).data.status, "in_progress")
    clock += 600
    const done = (await octokit.rest.actions.getWorkflowRun({ owner: "acme", repo: "shop", run_id: runId })).data
    assert.deepStrictEqual([done.status, done.conclusion, done.event], ["completed", "success", "workflow_dispatch"])
    const bad = await octokit.request("POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", { owner: "acme", repo: "shop", workflow_id: "rollback.yml", ref: "nope" }).catch((e: unknown) => e)
    assert.instanceOf(bad, RequestError)
    assert.strictEqual((bad as RequestError).status, 422)
  })

  it("commits, commit comments, refs and pulls", async () => {
    const { fake, octokit } = await setup()
    const { sha } = fake.push(REPO, { branch: "main", message: "fix: totals", author: "carol", workflows: [] })
    const c = await octokit.rest.repos.getCommit({ owner: "acme", repo: "shop", ref: sha })
    assert.strictEqual(c.data.commit.message, "fix: totals")
    assert.strictEqual(c.data.author?.login, "carol")
    assert.strictEqual(c.data.parents.length, 1)
    const list = await octokit.rest.repos.listCommits({ owner: "acme", repo: "shop", sha: "main" })
    assert.strictEqual(list.data.length, 2)
    await octokit.rest.repos.createCommitComment({ owner: "acme", repo: "shop", commit_sha: sha, body: "@carol rolled back" })
    const comments = await octokit.rest.repos.listCommentsForCommit({ owner: "acme", repo: "shop", commit_sha: sha })
    assert.deepStrictEqual(comments.data.map((x) => x.body), ["@carol rolled back"])
    const ref = await octokit.rest.git.getRef({ owner: "acme", repo: "shop", ref: "heads/main" })
    assert.strictEqual(ref.data.object.sha, sha)
    const parent = c.data.parents[0]!.sha
    await octokit.rest.git.createRef({ owner: "acme", repo: "shop", ref: "refs/heads/revert-1", sha: parent })
    const ff = await octokit.rest.git.updateRef({ owner: "acme", repo: "shop", ref: "heads/main", sha: parent }).catch((e: unknown) => e)
    assert.strictEqual((ff as RequestError).status, 422)
    await octokit.rest.git.updateRef({ owner: "acme", repo: "shop", ref: "heads/main", sha: parent, force: true })
    const pr = await octokit.rest.pulls.create({ owner: "acme", repo: "shop", head: "revert-1", base: "main", title: "Revert" })
    assert.strictEqual(pr.data.number, 1)
    const open = await octokit.rest.pulls.list({ owner: "acme", repo: "shop" })
    assert.deepStrictEqual(open.data.map((p) => p.title), ["Revert"])
  })

  it("ETag / If-None-Match → 304 that does not count against the rate limit", async () => {
    const { fake, octokit } = await setup()
    fake.push(REPO, { branch: "main", workflows: ["deploy.yml"] })
    const first = await octokit.rest.actions.listWorkflowRunsForRepo({ owner: "acme", repo: "shop" })
    const etag = first.headers.etag!
    const remaining = Number(first.headers["x-ratelimit-remaining"])
    assert.strictEqual(Number(first.headers["x-ratelimit-limit"]), 5000)
    const again = await octokit.rest.actions.listWorkflowRunsForRepo({ owner: "acme", repo: "shop", headers: { "if-none-match": etag } }).catch((e: unknown) => e)
    assert.instanceOf(again, RequestError)
    assert.strictEqual((again as RequestError).status, 304)
    assert.strictEqual(Number((again as RequestError).response?.headers["x-ratelimit-remaining"]), remaining)
    fake.push(REPO, { branch: "main", workflows: ["deploy.yml"] })
    const changed = await octokit.rest.actions.listWorkflowRunsForRepo({ owner: "acme", repo: "shop", headers: { "if-none-match": etag } })
    assert.strictEqual(changed.status, 200)
    assert.notStrictEqual(changed.headers.etag, etag)
    assert.strictEqual(Number(changed.headers["x-ratelimit-remaining"]), remaining - 1)
  })

  it("rate limits: primary (403, remaining 0) and injected secondary 403/429 with retry-after", async () => {
    const { fake, octokit } = await setup()
    fake.fail({ status: 429, retryAfter: 30, path: "/actions/runs" })
    const e429 = (await octokit.rest.actions.listWorkflowRunsForRepo({ owner: "acme", repo: "shop" }).catch((e: unknown) => e)) as RequestError
    assert.strictEqual(e429.status, 429)
    assert.strictEqual(e429.response?.headers["retry-after"], "30")
    assert.strictEqual((await octokit.rest.actions.listWorkflowRunsForRepo({ owner: "acme", repo: "shop" })).status, 200)
    fake.setRemaining(0)
    const e403 = (await octokit.rest.actions.listWorkflowRunsForRepo({ owner: "acme", repo: "shop" }).catch((e: unknown) => e)) as RequestError
    assert.strictEqual(e403.status, 403)
    assert.strictEqual(e403.response?.headers["x-ratelimit-remaining"], "0")
    assert.match(e403.message, /API rate limit exceeded/)
  })

  it("permissions: a read-only token gets 403 with X-Accepted-GitHub-Permissions on dispatch; an unknown token 401", async () => {
    const { fake } = await setup({ tokens: { "ro-token": { login: "bot", permissions: { actions: "read" } } } })
    const ro = new Octokit({ auth: "ro-token", baseUrl: fake.url, request: { retries: 0 } })
    assert.strictEqual((await ro.rest.actions.listWorkflowRunsForRepo({ owner: "acme", repo: "shop" })).status, 200)
    const denied = (await ro.rest.actions.createWorkflowDispatch({ owner: "acme", repo: "shop", workflow_id: "rollback.yml", ref: "main" }).catch((e: unknown) => e)) as RequestError
    assert.strictEqual(denied.status, 403)
    assert.strictEqual(denied.response?.headers["x-accepted-github-permissions"], "actions=write")
    assert.strictEqual(fake.runs(REPO).length, 0)
    const anon = new Octokit({ auth: "wrong", baseUrl: fake.url, request: { retries: 0 } })
    const e401 = (await anon.rest.actions.listWorkflowRunsForRepo({ owner: "acme", repo: "shop" }).catch((e: unknown) => e)) as RequestError
    assert.strictEqual(e401.status, 401)
  })

  it("request log and a signed workflow_run webhook delivery", async () => {
    const { fake, octokit } = await setup()
    const { runIds } = fake.push(REPO, { branch: "main", workflows: ["deploy.yml"] })
    await octokit.rest.actions.getWorkflowRun({ owner: "acme", repo: "shop", run_id: runIds[0]! })
    assert.deepStrictEqual(fake.requests.map((r) => [r.method, r.path, r.status]), [["GET", `/repos/acme/shop/actions/runs/${runIds[0]}`, 200]])
    assert.strictEqual(fake.writes.length, 0)
    clock += 1000
    const d = fake.webhookDelivery(REPO, runIds[0]!, "s3cret")
    const expected = `sha256=${Crypto.createHmac("sha256", "s3cret").update(d.body).digest("hex")}`
    assert.strictEqual(d.headers["x-hub-signature-256"], expected)
    const payload = JSON.parse(d.body) as { action: string; workflow_run: { conclusion: string; id: number } }
    assert.deepStrictEqual([payload.action, payload.workflow_run.conclusion, payload.workflow_run.id], ["completed", "failure", runIds[0]])
  })
})
