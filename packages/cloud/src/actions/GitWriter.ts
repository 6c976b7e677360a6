/**
 * `GitWriter` — action kind `cloud.git.revert`: puts the last good revision back in Git, where a
 * freeze would itself be reverted (an ApplicationSet-owned Application, an app of apps whose Git
 * holds the spec) or where the rollback must outlive the freeze. Through GitHub's Git data API:
 * a commit on top of the tracked branch's head whose tree is the good revision's (what `git
 * revert --no-commit good..head` makes), its message ending with the `Byteport-Incident: <id>`
 * trailer (what `cloud.unfreeze` looks for). By default it opens a pull request from the branch
 * `byteport/revert-<incident id>` into the tracked branch; straight to the tracked branch
 * (a fast-forward `PATCH` of the ref) only with `direct: true`, and then only when
 * `BYTEPORT_GITOPS_DIRECT_REVERT=true` (the action-kind guardrail `directOptIn`, default false).
 *
 * Preconditions: the tracked branch's head is still `bad` (it moved: conflict, nothing written).
 * Idempotent: the revert branch already there (pull request mode) or the head already carrying
 * the trailer (direct) is done. dry_run and `observe` only read. Token: Contents: write and Pull
 * requests: write (classic: `repo`).
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, Guardrail, TargetRef } from "@byteport/core"
import { Effect, Schema } from "effect"
import { GitHub, type GitHubError } from "../github/GitHub"
import * as R from "../gitops/Resources"
import * as Revisions from "../gitops/Revisions"

/** The action kind. */
export const KIND = "cloud.git.revert"

/** The params. */
export const Params = Schema.Struct({
  /** `owner/name`. */
  repo: Schema.String,
  /** The tracked branch. */
  branch: Schema.String,
  /** The revision to undo (the branch's head when planned). */
  bad: Schema.String,
  /** The revision whose tree is put back. */
  good: Schema.String,
  /** Commit to the tracked branch itself instead of opening a pull request. */
  direct: Schema.Boolean
})
/** The params. */
export type Params = typeof Params.Type

/** The flag allowing a revert straight to the tracked branch (default false: pull requests only). */
export const DIRECT_FLAG = "BYTEPORT_GITOPS_DIRECT_REVERT"

/** Action-kind guardrail: `direct: true` is denied unless `BYTEPORT_GITOPS_DIRECT_REVERT=true`; a pull request always passes. */
export const directOptIn: Guardrail.Guardrail<never> = (() => {
  const optIn = Guardrail.requireOptIn(DIRECT_FLAG, { name: "opt_in(direct revert)", what: "a revert committed straight to the tracked branch" })
  return Guardrail.make<never>({
    name: "opt_in(direct revert)",
    check: (ctx) => (ctx.action.params["direct"] === true ? optIn.check(ctx) : Effect.succeed(Guardrail.pass))
  })
})()

/** The revert branch of an incident. */
export const revertBranch = (incidentId: string): string => `byteport/revert-${incidentId.replace(/[^A-Za-z0-9._-]+/g, "-")}`

/** Builds the action. */
export const action = (p: Params, o: { readonly incidentId: string }): Action.Action =>
  Action.make({
    kind: KIND,
    target: TargetRef.make("git.branch", `${p.repo}@${p.branch}`),
    params: { ...p },
    precondition: { head: p.bad },
    idempotencyKey: `${KIND}:${p.repo}:${p.branch}:${o.incidentId}`,
    timeoutMs: 60_000,
    description: p.direct
      ? `commit a revert of ${p.bad.slice(0, 7)} (tree of ${p.good.slice(0, 7)}) straight to ${p.repo}@${p.branch}`
      : `open a pull request reverting ${p.bad.slice(0, 7)} to ${p.good.slice(0, 7)} into ${p.repo}@${p.branch}`
  })

/** The revert commit's message. */
export const message = (p: Params, incidentId: string): string =>
  `Revert to ${p.good.slice(0, 7)}: roll back ${p.bad.slice(0, 7)}\n\nThis reverts the changes of ${p.good}..${p.bad} (BytePort incident ${incidentId}).\n\n${Revisions.trailer(incidentId)}`

const hasTrailer = (commit: R.Obj, incidentId: string) =>
  (R.str(R.obj(commit["commit"])["message"]) ?? R.str(commit["message"]) ?? "").split("\n").some((l) => l.trim() === Revisions.trailer(incidentId))

/** The handler. */
export const make = (): ActionHandler.ActionHandler<GitHub> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    guardrails: [directOptIn],
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const gh = yield* GitHub
        const fail = (what: string, conflict = false) => (e?: GitHubError) =>
          new ActionHandler.ActionFailed({ kind: KIND, message: e ? `${what} (${e.status}): ${e.message}${e.acceptedPermissions ? ` — the token needs ${e.acceptedPermissions}` : ""}` : what, ...(conflict ? { conflict } : {}) })
        const rb = revertBranch(ctx.incidentId)
        const refSha = (branch: string) =>
          gh.request("GET", `/repos/${p.repo}/git/ref/heads/${branch}`).pipe(
            Effect.map((r) => R.str(R.obj(R.obj(r.body)["object"])["sha"])),
            Effect.catchIf((e) => e.status === 404, () => Effect.succeed(undefined))
          )
        if (!p.direct) {
          const existing = yield* refSha(rb).pipe(Effect.mapError(fail(`cannot read ${rb}`)))
          if (existing !== undefined) {
            const pulls = yield* gh.request("GET", `/repos/${p.repo}/pulls`, { query: { state: "all", head: `${p.repo.split("/")[0]}:${rb}`, per_page: 100 } }).pipe(Effect.mapError(fail("cannot list pull requests")))
            const pr = R.arr(pulls.body).map(R.obj).find((x) => R.obj(x["head"])["ref"] === rb)
            return { detail: `the revert branch ${rb} exists already${pr ? ` (pull request #${String(pr["number"])})` : ""}`, result: { revertSha: existing, changed: false, ...(pr ? { pullNumber: Number(pr["number"]) } : {}) } }
          }
        }
        const head = yield* refSha(p.branch).pipe(Effect.mapError(fail(`cannot read ${p.branch}`)))
        if (head === undefined) return yield* fail(`${p.repo} has no branch ${p.branch}`)()
        if (head !== p.bad) {
          const c = yield* gh.request("GET", `/repos/${p.repo}/commits/${head}`).pipe(Effect.mapError(fail(`cannot read ${head}`)))
          if (p.direct && hasTrailer(R.obj(c.body), ctx.incidentId)) return { detail: `${p.branch} already carries the revert of ${ctx.incidentId}`, result: { revertSha: head, changed: false } }
          return yield* fail(`${p.branch} moved to ${head.slice(0, 12)} since the plan (expected ${p.bad.slice(0, 12)}): nothing written`, true)()
        }
        const good = yield* gh.request("GET", `/repos/${p.repo}/git/commits/${p.good}`).pipe(Effect.mapError(fail(`cannot read the good revision ${p.good.slice(0, 12)}`)))
        const tree = R.str(R.obj(R.obj(good.body)["tree"])["sha"])
        if (tree === undefined) return yield* fail(`the good revision ${p.good.slice(0, 12)} has no tree`)()
        if (ctx.dryRun) {
          return { detail: p.direct ? `would commit a revert to tree ${tree.slice(0, 12)} on ${p.branch}` : `would open a pull request ${rb} → ${p.branch} reverting to tree ${tree.slice(0, 12)}`, result: { dryRun: true } }
        }
        const created = yield* gh.request("POST", `/repos/${p.repo}/git/commits`, { body: { message: message(p, ctx.incidentId), tree, parents: [head] } }).pipe(Effect.mapError(fail("GitHub refused the revert commit")))
        const revertSha = R.str(R.obj(created.body)["sha"])
        if (revertSha === undefined) return yield* fail("GitHub returned no commit sha")()
        if (p.direct) {
          yield* gh.request("PATCH", `/repos/${p.repo}/git/refs/heads/${p.branch}`, { body: { sha: revertSha, force: false } }).pipe(Effect.mapError(fail(`GitHub refused to move ${p.branch}`, true)))
          return { detail: `committed revert ${revertSha.slice(0, 12)} to ${p.repo}@${p.branch}`, result: { revertSha, changed: true } }
        }
        yield* gh.request("POST", `/repos/${p.repo}/git/refs`, { body: { ref: `refs/heads/${rb}`, sha: revertSha } }).pipe(Effect.mapError(fail(`GitHub refused the branch ${rb}`)))
        const pr = yield* gh.request("POST", `/repos/${p.repo}/pulls`, {
          body: {
            title: `Revert ${p.bad.slice(0, 7)}: roll back to ${p.good.slice(0, 7)} (BytePort ${ctx.incidentId})`,
            head: rb,
            base: p.branch,
            body: `BytePort rolled back ${p.repo}@${p.branch} from ${p.bad} to ${p.good} and froze the reconciler (incident ${ctx.incidentId}).\n\nMerging this puts the good revision back in Git; the reconciler is unfrozen once the revision it applies contains this revert.`
          }
        }).pipe(Effect.mapError(fail("GitHub refused the pull request")))
        const b = R.obj(pr.body)
        return { detail: `opened pull request #${String(b["number"])} (${rb} → ${p.branch}) with revert ${revertSha.slice(0, 12)}`, result: { revertSha, changed: true, pullNumber: Number(b["number"]), url: R.str(b["html_url"]) ?? "" } }
      }).pipe(Effect.map(R.handlerResult)),
    observe: (p, ctx) =>
      Effect.gen(function*() {
        const gh = yield* GitHub
        if (!p.direct) {
          const r = yield* gh.request("GET", `/repos/${p.repo}/git/ref/heads/${revertBranch(ctx.incidentId)}`).pipe(Effect.option)
          return r._tag === "Some" ? ActionHandler.applied(`the revert branch ${revertBranch(ctx.incidentId)} exists`) : ActionHandler.notApplied(`no revert branch ${revertBranch(ctx.incidentId)}`)
        }
        const c = yield* gh.request("GET", `/repos/${p.repo}/commits/${encodeURIComponent(p.branch)}`)
        if (hasTrailer(R.obj(c.body), ctx.incidentId)) return ActionHandler.applied(`${p.branch} carries the revert of ${ctx.incidentId}`)
        return R.str(R.obj(c.body)["sha"]) === p.bad ? ActionHandler.notApplied(`${p.branch} is still at ${p.bad.slice(0, 12)}`) : ActionHandler.unknown(`${p.branch} moved`)
      })
  })
