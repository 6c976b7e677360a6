/**
 * `WorkflowRuns`: failed deploy-workflow runs as Signals, by conditional polling of the GitHub
 * Actions API (`If-None-Match` with the last ETag: an unchanged list is a `304` that costs no rate
 * limit). Each run is claimed in the GuardrailStore (`compareAndSet` on its run id) before it is
 * emitted, so a run is emitted once, ever: across polls, restarts and agent replicas, and
 * whichever of the poller and the webhook receiver sees it first. A rate limit (403/429 with
 * `retry-after`, or the primary limit at 0) pauses polling until GitHub's reset.
 *
 * @since 0.1.0
 */
import { Detector, GuardrailStore, type Signal, TargetRef } from "@byteport/core"
import { Clock, Effect, Schedule, Stream } from "effect"
import { GitHub, type WorkflowRun } from "../github/GitHub"

/** The signal type. */
export const SIGNAL_TYPE = "github.workflow_run.failed"

/** The target kind: a workflow on a branch (`owner/name:.github/workflows/deploy.yml@main`). */
export const TARGET_KIND = "github.workflow"

/** The conclusions that count as failed by default. */
export const DEFAULT_CONCLUSIONS: ReadonlyArray<string> = ["failure", "timed_out", "startup_failure"]

/** The target of a run. */
export const targetOf = (repo: string, workflowPath: string, branch: string | null): TargetRef.TargetRef =>
  TargetRef.make(TARGET_KIND, `${repo}:${workflowPath}@${branch ?? "(no branch)"}`)

/** The store key that claims a run (the dedup key). */
export const claimKey = (repo: string, runId: number): string => `deploy.github-actions:run:${repo.toLowerCase()}:${runId}`

/** Claims a run: true the first time ever (in this store), false after. */
export const claim = (repo: string, runId: number, via: string): Effect.Effect<boolean, GuardrailStore.StoreError, GuardrailStore.GuardrailStore> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore.GuardrailStore
    const at = yield* Clock.currentTimeMillis
    return yield* store.compareAndSet(claimKey(repo, runId), 0, { via, at })
  })

/** The signal of a failed run. */
export const signalOf = (repo: string, run: Pick<WorkflowRun, "id" | "path" | "head_branch" | "conclusion" | "html_url">, via: "poll" | "webhook", observedAt: number): Signal.Signal => {
  const path = run.path.replace(/@.*$/, "")
  return {
    type: SIGNAL_TYPE,
    target: targetOf(repo, path, run.head_branch),
    observedAt,
    evidence: { repo, runId: run.id, workflowPath: path, branch: run.head_branch, conclusion: run.conclusion, url: run.html_url, via },
    source: `github-actions/${via}`
  }
}

/** Whether a workflow path is one of the watched workflows (a file name or a path). */
export const watched = (workflows: ReadonlyArray<string>, path: string): boolean =>
  workflows.some((w) => path === w || path.endsWith(`/${w.replace(/^\.?\/*/, "")}`))

/** Options of {@link make}. */
export interface Options {
  /** `owner/name`. */
  readonly repo: string
  /** The deploy workflows (file names `deploy.yml` or paths `.github/workflows/deploy.yml`). */
  readonly workflows: ReadonlyArray<string>
  /** Only these branches (default all). */
  readonly branches?: ReadonlyArray<string>
  /** The conclusions that count as failed (default failure, timed_out, startup_failure). */
  readonly conclusions?: ReadonlyArray<string>
  /** Ignore runs created longer ago than this, ms (default 24 h). */
  readonly lookbackMs?: number
  /** Poll schedule (default every 60 s). */
  readonly schedule?: Schedule.Schedule<unknown>
  /** Runs read per workflow and poll (default 30). */
  readonly perPage?: number
}

/**
 * A poller's state: until when it is paused (a rate limit) and the ETag of the run list it last
 * processed completely, per workflow (a `304` for that list is skipped; a list whose runs could
 * not all be claimed — a store error — is processed again).
 */
export interface PollState {
  pausedUntil: number
  processed?: Map<string, string>
}

/** One poll: the newly failed runs, claimed. */
export const pollOnce = (options: Options, state: PollState): Effect.Effect<ReadonlyArray<Signal.Signal>, never, GitHub | GuardrailStore.GuardrailStore> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    if (now < state.pausedUntil) return []
    const gh = yield* GitHub
    const conclusions = options.conclusions ?? DEFAULT_CONCLUSIONS
    const out: Array<Signal.Signal> = []
    for (const wf of options.workflows) {
      const file = wf.split("/").pop()!
      const page = yield* Effect.result(gh.listWorkflowRuns(options.repo, file, { status: "completed", per_page: options.perPage ?? 30 }, { conditional: true }))
      if (page._tag === "Failure") {
        const e = page.failure
        if (e.retryAfterMs !== undefined) state.pausedUntil = now + e.retryAfterMs
        yield* Effect.logWarning(`deploy.github-actions: polling ${options.repo} ${file} failed: ${e.status} ${e.message}`)
        if (e.retryAfterMs !== undefined) break
        continue
      }
      const processed = state.processed ?? (state.processed = new Map())
      const etag = page.success.etag
      if (page.success.notModified && etag !== undefined && processed.get(file) === etag) continue
      let complete = true
      for (const run of page.success.runs) {
        if (run.status !== "completed" || run.conclusion === null || !conclusions.includes(run.conclusion)) continue
        if (options.branches && (run.head_branch === null || !options.branches.includes(run.head_branch))) continue
        if (now - Date.parse(run.created_at) > (options.lookbackMs ?? 86_400_000)) continue
        const fresh = yield* claim(options.repo, run.id, "poll").pipe(
          Effect.catch((e) => Effect.as(Effect.logWarning(`deploy.github-actions: claiming run ${run.id} failed: ${e.message}`), undefined))
        )
        if (fresh === undefined) complete = false
        if (fresh === true) out.push(signalOf(options.repo, run, "poll", now))
      }
      if (complete && etag !== undefined) processed.set(file, etag)
      else processed.delete(file)
    }
    return out
  })

/** The polling detector. */
export const make = (options: Options): Detector.Detector<never, GitHub | GuardrailStore.GuardrailStore> => {
  const state: PollState = { pausedUntil: 0 }
  return Detector.poll("github-actions.poll", {
    schedule: options.schedule ?? Schedule.spaced("60 seconds"),
    poll: pollOnce(options, state)
  })
}

/** A detector that first runs `before` once (the start-up permission check), then `detector`. */
export const startingWith = <E, R, R2>(before: Effect.Effect<unknown, never, R2>, detector: Detector.Detector<E, R>): Detector.Detector<E, R | R2> =>
  Detector.fromStream(detector.name, Stream.concat(Stream.drain(Stream.fromEffect(before)), detector.signals))
