/**
 * Whether a Git revision contains a commit (is it, or descends from it), read from GitHub's
 * commits API by walking parents (`GET /repos/{o}/{r}/commits/{sha}`), breadth first, up to a
 * bound. The unfreeze decides on it: a reconciler may resume only once the revision it will apply
 * contains the revert. The revert is named by its sha, or by the `Byteport-Incident: <id>`
 * trailer `GitWriter` puts in its message.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { GitHub, type GitHubError } from "../github/GitHub"
import * as R from "./Resources"

/** The trailer `GitWriter` ends a revert commit's message with. */
export const TRAILER = "Byteport-Incident"

/** The trailer line of an incident. */
export const trailer = (incidentId: string): string => `${TRAILER}: ${incidentId}`

/** What the revert is: its sha, or the incident whose trailer it carries. */
export type Wanted = { readonly sha: string } | { readonly incidentId: string }

const sameSha = (a: string, b: string) => a.length >= 7 && b.length >= 7 && (a.startsWith(b) || b.startsWith(a))

/** Whether `revision` is or descends from the wanted commit (sha prefixes of ≥ 7 characters match); false past `maxCommits` commits. */
export const contains = (repo: string, revision: string, wanted: Wanted, maxCommits = 200): Effect.Effect<boolean, GitHubError, GitHub> =>
  Effect.gen(function*() {
    const gh = yield* GitHub
    const seen = new Set<string>()
    const queue = [revision]
    while (queue.length > 0 && seen.size < maxCommits) {
      const sha = queue.shift()!
      if ("sha" in wanted && sameSha(sha, wanted.sha)) return true
      if (seen.has(sha)) continue
      seen.add(sha)
      const r = yield* gh.request("GET", `/repos/${repo}/commits/${encodeURIComponent(sha)}`)
      const body = R.obj(r.body)
      const full = R.str(body["sha"])
      if (full !== undefined) seen.add(full)
      if ("sha" in wanted && full !== undefined && sameSha(full, wanted.sha)) return true
      if ("incidentId" in wanted) {
        const message = R.str(R.obj(body["commit"])["message"]) ?? ""
        if (message.split("\n").some((l) => l.trim() === trailer(wanted.incidentId))) return true
      }
      for (const p of R.arr(body["parents"])) {
        const ps = R.str(R.obj(p)["sha"])
        if (ps !== undefined && !seen.has(ps)) queue.push(ps)
      }
    }
    return false
  })
