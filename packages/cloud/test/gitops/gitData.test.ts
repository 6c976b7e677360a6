/**
 * The GitHub fake's Git data endpoints the revert uses, with the real @octokit/rest: a commit on
 * an existing tree (what GitWriter writes), its git commit object, a pull request merged (fast
 * forward, else a merge commit), and the permissions they need.
 */
import { Octokit } from "@octokit/rest"
import { afterEach, assert, it } from "vitest"
import { GitHubFake } from "@byteport/cloud/testing"

const fakes: Array<GitHubFake.GitHubFake> = []
const rejects = async (p: Promise<unknown>, re: RegExp) => {
  const e = await p.then(() => undefined, (x: unknown) => x)
  assert.match(e instanceof Error ? e.message : String(e), re)
}
afterEach(async () => {
  for (const f of fakes.splice(0)) await f.close()
})

it("git commits on a tree, refs, pulls merged (fast-forward and merge commit); contents: write required", async () => {
  const fake = await GitHubFake.start({ tokens: { "test-token": { login: "octocat" }, "read-only": { login: "reader", permissions: { contents: "read" } } } })
  fakes.push(fake)
  fake.addRepo("acme/deploy")
  const good = fake.push("acme/deploy", { branch: "main", message: "v1" }).sha
  const bad = fake.push("acme/deploy", { branch: "main", message: "v2" }).sha
  const gh = new Octokit({ auth: "test-token", baseUrl: fake.url, request: { retries: 0 } })
  const goodCommit = (await gh.rest.git.getCommit({ owner: "acme", repo: "deploy", commit_sha: good })).data
  const revert = (await gh.rest.git.createCommit({ owner: "acme", repo: "deploy", message: "Revert v2", tree: goodCommit.tree.sha, parents: [bad] })).data
  assert.strictEqual(revert.tree.sha, goodCommit.tree.sha)
  assert.deepStrictEqual(revert.parents.map((p) => p.sha), [bad])
  const viaCommits = (await gh.rest.repos.getCommit({ owner: "acme", repo: "deploy", ref: revert.sha })).data
  assert.strictEqual(viaCommits.commit.tree.sha, goodCommit.tree.sha)
  await rejects(gh.rest.git.createCommit({ owner: "acme", repo: "deploy", message: "x", tree: "f".repeat(40), parents: [bad] }), /Tree SHA does not exist/)

  await gh.rest.git.createRef({ owner: "acme", repo: "deploy", ref: "refs/heads/revert", sha: revert.sha })
  const pr = (await gh.rest.pulls.create({ owner: "acme", repo: "deploy", title: "Revert", head: "revert", base: "main" })).data
  const merged = (await gh.rest.pulls.merge({ owner: "acme", repo: "deploy", pull_number: pr.number })).data
  assert.isTrue(merged.merged)
  assert.strictEqual(merged.sha, revert.sha, "a fast-forward")
  assert.strictEqual((await gh.rest.git.getRef({ owner: "acme", repo: "deploy", ref: "heads/main" })).data.object.sha, revert.sha)
  const closed = (await gh.rest.pulls.list({ owner: "acme", repo: "deploy", state: "closed" })).data
  assert.isNotNull(closed[0]!.merged_at)
  await rejects(gh.rest.pulls.merge({ owner: "acme", repo: "deploy", pull_number: pr.number }), /not mergeable/)

  // a base that moved on: a merge commit with both parents and the head's tree
  const side = fake.push("acme/deploy", { branch: "side", message: "side" }).sha
  fake.push("acme/deploy", { branch: "main", message: "v3" })
  const pr2 = (await gh.rest.pulls.create({ owner: "acme", repo: "deploy", title: "side", head: "side", base: "main" })).data
  const m2 = (await gh.rest.pulls.merge({ owner: "acme", repo: "deploy", pull_number: pr2.number })).data
  const mc = (await gh.rest.git.getCommit({ owner: "acme", repo: "deploy", commit_sha: m2.sha })).data
  assert.strictEqual(mc.parents.length, 2)
  assert.strictEqual(mc.parents[1]!.sha, side)

  const reader = new Octokit({ auth: "read-only", baseUrl: fake.url, request: { retries: 0 } })
  const denied = await reader.rest.git.createCommit({ owner: "acme", repo: "deploy", message: "x", tree: goodCommit.tree.sha, parents: [bad] }).then(() => undefined, (e: { status: number; response: { headers: Record<string, string> } }) => e)
  assert.strictEqual(denied?.status, 403)
  assert.strictEqual(denied?.response.headers["x-accepted-github-permissions"], "contents=write")
})
