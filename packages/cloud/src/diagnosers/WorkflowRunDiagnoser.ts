/**
 * `WorkflowRunDiagnoser`: the facts of a failed GitHub Actions run, re-read from the API (a
 * webhook payload only names the run): the run, its latest attempt's jobs and steps, the tail of
 * the first failed job's log (redacted), and the newest earlier successful run of the same
 * workflow and branch.
 *
 * @since 0.1.0
 */
import { Diagnoser, Fact, Redactor, type Signal } from "@byteport/core"
import { Effect, Schema } from "effect"
import { GitHub, Job, WorkflowRun } from "../github/GitHub"

/** The run, as the classifier and the plan see it. */
export interface RunFacts {
  readonly id: number
  readonly repo: string
  readonly workflowId: number
  /** `.github/workflows/deploy.yml` */
  readonly workflowPath: string
  readonly name: string | null
  readonly branch: string | null
  readonly sha: string
  readonly event: string
  readonly status: string | null
  readonly conclusion: string | null
  /** The login of the run's actor (null when GitHub reports none). */
  readonly actor: string | null
  readonly url: string
  readonly createdAt: string
}

/** A job with its steps. */
export interface JobFacts {
  readonly id: number
  readonly name: string
  readonly conclusion: string | null
  /** null when no runner picked it up or the runner was lost. */
  readonly runnerName: string | null
  readonly steps: ReadonlyArray<{ readonly name: string; readonly conclusion: string | null }>
}

/** The tail of the first failed job's log (redacted). `jobId` null: no job failed. */
export interface FailedLog {
  readonly jobId: number | null
  readonly jobName: string | null
  readonly tail: string
}

/** The newest successful run of the same workflow and branch before the failed one. */
export interface PreviousRun {
  readonly id: number
  readonly sha: string
  readonly url: string
  readonly createdAt: string
}

/** The facts of `deploy.github-actions`. */
export interface WorkflowRunFacts {
  readonly run: RunFacts
  readonly jobs: ReadonlyArray<JobFacts>
  readonly failedLog: FailedLog
  readonly previousSuccess: PreviousRun | null
}

/** What the signal's evidence must name. */
export interface RunRef {
  readonly repo: string
  readonly runId: number
}

/** Reads the run reference from a signal's evidence (`repo`, `runId`). */
export const runRefOf = (signal: Signal.Signal): RunRef => {
  const repo = signal.evidence["repo"]
  const runId = signal.evidence["runId"]
  if (typeof repo !== "string" || !/^[^/\s]+\/[^/\s]+$/.test(repo)) throw new Error("signal evidence has no repo (owner/name)")
  if (typeof runId !== "number" || !Number.isSafeInteger(runId)) throw new Error("signal evidence has no runId")
  return { repo, runId }
}

/** Options of {@link make}. */
export interface Options {
  /** Log lines kept from the end of the failed job's log (default 100). */
  readonly logTailLines?: number
  /** The redactor for the log tail (default core's). */
  readonly redactor?: Redactor.Shape
  /** Successful runs looked at per page when searching the previous success (default 30). */
  readonly historyPageSize?: number
}

/** The default number of log lines kept. */
export const DEFAULT_LOG_TAIL_LINES = 100

const TIMESTAMP = /^\d{4}-\d\d-\d\dT[\d:.]+Z /

/** The last `n` lines of a log, timestamps stripped, redacted. */
export const tail = (log: string, n: number, redactor: Redactor.Shape = Redactor.defaultRedactor): string =>
  redactor.redactString(
    log.split(/\r?\n/).filter((l) => l.length > 0).slice(-n).map((l) => l.replace(TIMESTAMP, "")).join("\n")
  )

/** The run's facts from the API's run object. */
export const toRunFacts = (repo: string, r: WorkflowRun): RunFacts => ({
  id: r.id,
  repo,
  workflowId: r.workflow_id,
  workflowPath: r.path.replace(/@.*$/, ""),
  name: r.name,
  branch: r.head_branch,
  sha: r.head_sha,
  event: r.event,
  status: r.status,
  conclusion: r.conclusion,
  actor: r.actor?.login ?? r.triggering_actor?.login ?? null,
  url: r.html_url,
  createdAt: r.created_at
})

/** A job's facts from the API's job object. */
export const toJobFacts = (j: Job): JobFacts => ({
  id: j.id,
  name: j.name,
  conclusion: j.conclusion,
  runnerName: j.runner_name,
  steps: (j.steps ?? []).map((s) => ({ name: s.name, conclusion: s.conclusion }))
})

/** The first failed (or timed-out) job. */
export const firstFailedJob = (jobs: ReadonlyArray<JobFacts>): JobFacts | undefined => jobs.find((j) => j.conclusion === "failure" || j.conclusion === "timed_out")

/** The newest successful run of the same branch created before `run`, among `runs`. */
export const previousSuccessOf = (run: RunFacts, runs: ReadonlyArray<WorkflowRun>): PreviousRun | null => {
  const prev = runs
    .filter((r) => r.id !== run.id && r.conclusion === "success" && r.head_branch === run.branch && Date.parse(r.created_at) <= Date.parse(run.createdAt))
    .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id)[0]
  return prev ? { id: prev.id, sha: prev.head_sha, url: prev.html_url, createdAt: prev.created_at } : null
}

/**
 * A recording of what the diagnoser reads, as the API returns it: the run, the jobs list
 * response, the failed job's log text and the workflow's successful runs list response.
 */
export const Recording = Schema.Struct({
  repo: Schema.String,
  run: WorkflowRun,
  jobs: Schema.Struct({ total_count: Schema.Number, jobs: Schema.Array(Job) }),
  log: Schema.String,
  previousRuns: Schema.Struct({ total_count: Schema.Number, workflow_runs: Schema.Array(WorkflowRun) })
})
/** A recording. */
export type Recording = typeof Recording.Type

/** The facts of a recording (for classifier tests and golden plans), as the diagnoser would compute them. */
export const factsOf = (rec: Recording, options: Options = {}): Fact.Facts<WorkflowRunFacts> => {
  const run = toRunFacts(rec.repo, rec.run)
  const jobs = rec.jobs.jobs.map(toJobFacts)
  const failed = firstFailedJob(jobs)
  return {
    run: Fact.known(run),
    jobs: Fact.known(jobs),
    failedLog: Fact.known(failed ? { jobId: failed.id, jobName: failed.name, tail: tail(rec.log, options.logTailLines ?? DEFAULT_LOG_TAIL_LINES, options.redactor) } : { jobId: null, jobName: null, tail: "" }),
    previousSuccess: Fact.known(run.branch === null ? null : previousSuccessOf(run, rec.previousRuns.workflow_runs))
  }
}

/** The diagnoser. */
export const make = (options: Options = {}): Diagnoser.Diagnoser<WorkflowRunFacts, GitHub> => {
  const first = Diagnoser.make<{ readonly run: RunFacts; readonly jobs: ReadonlyArray<JobFacts> }, GitHub>({
    run: Diagnoser.probe("github.run", (signal) =>
      Effect.gen(function*() {
        const ref = yield* Effect.try(() => runRefOf(signal))
        return toRunFacts(ref.repo, yield* (yield* GitHub).getRun(ref.repo, ref.runId))
      })),
    jobs: Diagnoser.probe("github.jobs", (signal) =>
      Effect.gen(function*() {
        const ref = yield* Effect.try(() => runRefOf(signal))
        return (yield* (yield* GitHub).listJobs(ref.repo, ref.runId)).map(toJobFacts)
      }))
  })
  return Diagnoser.andThen(first, (facts) =>
    Diagnoser.make<{ readonly failedLog: FailedLog; readonly previousSuccess: PreviousRun | null }, GitHub>({
      failedLog: Diagnoser.probe("github.job_log", (signal) =>
        Effect.gen(function*() {
          if (facts.jobs._tag !== "Known") return yield* Effect.fail(new Error("jobs unknown"))
          const failed = firstFailedJob(facts.jobs.value)
          if (!failed) return { jobId: null, jobName: null, tail: "" }
          const ref = yield* Effect.try(() => runRefOf(signal))
          const log = yield* (yield* GitHub).jobLog(ref.repo, failed.id)
          return { jobId: failed.id, jobName: failed.name, tail: tail(log, options.logTailLines ?? DEFAULT_LOG_TAIL_LINES, options.redactor) }
        })),
      previousSuccess: Diagnoser.probe("github.previous_success", () =>
        Effect.gen(function*() {
          if (facts.run._tag !== "Known") return yield* Effect.fail(new Error("run unknown"))
          const run = facts.run.value
          if (run.branch === null) return null
          const { runs } = yield* (yield* GitHub).listWorkflowRuns(run.repo, String(run.workflowId), {
            branch: run.branch,
            status: "success",
            per_page: options.historyPageSize ?? 30
          })
          return previousSuccessOf(run, runs)
        }))
    }))
}
