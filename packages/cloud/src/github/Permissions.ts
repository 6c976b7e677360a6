/**
 * `Permissions`: the start-up check of the GitHub token. Detection needs Actions: read and
 * Contents: read (the seed); the rollback dispatch needs write access to Actions — the seed calls
 * it "Workflows: write", GitHub's fine-grained token permission for `workflow_dispatch` is
 * "Actions: write" (a classic token: `repo`, or `public_repo` + `workflow`). Reads are probed
 * directly; write access is read from the repository's `permissions` (push) when GitHub reports
 * it, else reported unknown. A 403 reports GitHub's `X-Accepted-GitHub-Permissions` header.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { GitHub } from "./GitHub"

/** One probed permission. */
export interface PermissionResult {
  readonly permission: string
  readonly status: "ok" | "missing" | "unknown"
  readonly detail: string
  /** `X-Accepted-GitHub-Permissions` of a 403. */
  readonly accepted?: string
}

/** The report of a check. */
export interface Report {
  readonly repo: string
  readonly ok: boolean
  readonly results: ReadonlyArray<PermissionResult>
}

/** Checks the token's permissions on a repository (`rollback`: also the dispatch's write access). */
export const check = (repo: string, options: { readonly workflow: string; readonly rollback: boolean }): Effect.Effect<Report, never, GitHub> =>
  Effect.gen(function*() {
    const gh = yield* GitHub
    const results: Array<PermissionResult> = []
    const probe = (permission: string, eff: Effect.Effect<unknown, import("./GitHub").GitHubError>) =>
      Effect.gen(function*() {
        const r = yield* Effect.result(eff)
        if (r._tag === "Success") return void results.push({ permission, status: "ok", detail: "readable" })
        const e = r.failure
        results.push({
          permission,
          status: e.status === 403 || e.status === 404 ? "missing" : "unknown",
          detail: `${e.status}: ${e.message}`,
          ...(e.acceptedPermissions !== undefined ? { accepted: e.acceptedPermissions } : {})
        })
      })
    yield* probe("Actions: read", gh.listWorkflowRuns(repo, options.workflow, { per_page: 1 }))
    yield* probe("Contents: read", gh.request("GET", `/repos/${repo}/commits`, { query: { per_page: 1 } }))
    if (options.rollback) {
      const info = yield* Effect.result(gh.getRepo(repo))
      const permission = "Actions: write (seed: Workflows: write)"
      if (info._tag === "Failure") {
        results.push({ permission, status: "unknown", detail: `${info.failure.status}: ${info.failure.message}`, ...(info.failure.acceptedPermissions ? { accepted: info.failure.acceptedPermissions } : {}) })
      } else if (info.success.permissions === undefined) {
        results.push({ permission, status: "unknown", detail: "GitHub did not report the token's permissions; a 403 on dispatch will name them" })
      } else {
        results.push({ permission, status: info.success.permissions.push ? "ok" : "missing", detail: `repository permissions: push=${info.success.permissions.push}` })
      }
    }
    return { repo, ok: results.every((r) => r.status !== "missing"), results }
  })
