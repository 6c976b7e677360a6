/**
 * Records the fixtures of test/github-actions/fixtures from the GitHub fake (GitHub's documented
 * JSON, its nulls included): `npx tsx --conditions=@byteport/source packages/cloud/test/github-actions/record-fixtures.ts`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { GitHubFake } from "@byteport/cloud/testing"

const here = path.dirname(new URL(import.meta.url).pathname)
const REPO = "acme/shop"
let clock = Date.parse("2026-11-03T02:10:00Z")

const cases: Record<string, { behaviour: GitHubFake.Behaviour; previous: boolean }> = {
  test_failure: { previous: true, behaviour: { jobs: [{ name: "deploy", steps: [{ name: "Set up job" }, { name: "Checkout" }, { name: "Run tests", conclusion: "failure", log: "> shop@1.4.0 test\n> vitest run\n\n FAIL  src/cart.test.ts > cart > totals\nAssertionError: expected 41.99 to be 42\n Test Files  1 failed | 12 passed (13)\n      Tests  1 failed | 230 passed (231)" }, { name: "Deploy to production" }] }] } },
  test_failure_by_log: { previous: true, behaviour: { jobs: [{ name: "deploy", steps: [{ name: "Set up job" }, { name: "Verify", conclusion: "failure", log: "  cart\n    1) totals\n\n  0 passing (2s)\n  1 failing" }] }] } },
  build_failure: { previous: true, behaviour: { jobs: [{ name: "deploy", steps: [{ name: "Set up job" }, { name: "Build", conclusion: "failure", log: "> tsc -b\nsrc/cart.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.\nnpm ERR! code 2" }] }] } },
  deploy_step_failure: { previous: true, behaviour: { jobs: [{ name: "deploy", steps: [{ name: "Set up job" }, { name: "Run tests" }, { name: "Deploy to production", conclusion: "failure", log: "helm upgrade --install shop ./chart --wait\nError: UPGRADE FAILED: timed out waiting for the condition\nexport GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789" }] }] } },
  infra_timeout_runner_lost: { previous: true, behaviour: { jobs: [{ name: "deploy", steps: [{ name: "Set up job" }, { name: "Run tests" }], runnerLost: true }] } },
  infra_timeout_timed_out: { previous: true, behaviour: { conclusion: "timed_out", jobs: [{ name: "deploy", steps: [{ name: "Set up job" }], conclusion: "timed_out" }] } },
  near_miss_unmatched_step: { previous: true, behaviour: { jobs: [{ name: "deploy", steps: [{ name: "Set up job" }, { name: "Notify Slack", conclusion: "failure", log: "curl: (6) Could not resolve host: hooks.slack.com" }] }] } },
  near_miss_cancelled: { previous: true, behaviour: { jobs: [{ name: "deploy", steps: [{ name: "Set up job" }, { name: "Run tests", conclusion: "cancelled" }], conclusion: "cancelled" }] } },
  near_miss_no_previous_success: { previous: false, behaviour: { jobs: [{ name: "deploy", steps: [{ name: "Set up job" }, { name: "Run tests", conclusion: "failure", log: "1 failing" }] }] } }
}

const main = async () => {
  const fake = await GitHubFake.start({ now: () => clock })
  const get = async (p: string) => (await fetch(`${fake.url}${p}`, { headers: { authorization: "token test-token" } })).json()
  for (const [name, c] of Object.entries(cases)) {
    const repo = `acme/${name.replace(/_/g, "-")}`
    fake.addRepo(repo)
    fake.addWorkflow(repo, { path: ".github/workflows/deploy.yml", name: "Deploy", behaviour: { jobs: [{ name: "deploy", steps: [{ name: "Run tests" }] }], durationMs: 240_000 } })
    if (c.previous) {
      fake.push(repo, { branch: "main", message: "feat: coupons", author: "bob", workflows: ["deploy.yml"] })
      clock += 3_600_000
    }
    fake.setBehaviour(repo, "deploy.yml", { durationMs: 300_000, ...c.behaviour })
    const { runIds } = fake.push(repo, { branch: "main", message: "fix: rounding of cart totals", author: "alice", workflows: ["deploy.yml"] })
    clock += 600_000
    const id = runIds[0]!
    const run = await get(`/repos/${repo}/actions/runs/${id}`)
    const jobs = (await get(`/repos/${repo}/actions/runs/${id}/jobs?filter=latest`)) as { jobs: Array<{ id: number; conclusion: string }> }
    const failed = jobs.jobs.find((j) => j.conclusion === "failure" || j.conclusion === "timed_out")
    const log = failed ? await (await fetch(`${fake.url}/repos/${repo}/actions/jobs/${failed.id}/logs`, { headers: { authorization: "token test-token" } })).text() : ""
    const previousRuns = await get(`/repos/${repo}/actions/workflows/deploy.yml/runs?branch=main&status=success`)
    const rec = JSON.parse(JSON.stringify({ repo: REPO, run, jobs, log, previousRuns }).replaceAll(repo, REPO).replaceAll(fake.url, "https://api.github.com"))
    fs.writeFileSync(path.join(here, "fixtures", `${name}.json`), `${JSON.stringify(rec, null, 2)}\n`)
  }
  await fake.close()
}
void main()
