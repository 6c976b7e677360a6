/**
 * `SentryIssueDiagnoser`: the facts of a Sentry issue, re-read from Sentry (a webhook or poll
 * only names the issue): the issue (first seen, count, first release), its latest event's
 * exceptions (type, value, module, frames) and breadcrumbs (HTTP status codes), and the deploy
 * of its first release (the newest finished one, optionally of one environment) with the
 * release before it.
 *
 * @since 0.1.0
 */
import { Diagnoser, Fact, type Signal } from "@byteport/core"
import { Effect, Schema } from "effect"
import type { BreadcrumbFacts, DeployFacts, EventFacts, ExceptionFacts, IssueFacts, SentryFacts } from "../classifiers/SentryErrorClass"
import { Breadcrumb, Deploy, Event, ExceptionValue, Issue, ReleaseSummary, Sentry } from "../sentry/Sentry"

/** What a signal's evidence names. */
export interface IssueRef {
  readonly org: string
  readonly project: string
  readonly issueId: string
}

/** Reads the issue reference from a signal's evidence. */
export const refOf = (signal: Signal.Signal): IssueRef => {
  const { org, project, issueId } = signal.evidence as Record<string, unknown>
  if (typeof org !== "string" || org.length === 0) throw new Error("signal evidence has no org")
  if (typeof project !== "string" || project.length === 0) throw new Error("signal evidence has no project")
  if (typeof issueId !== "string" || !/^\d+$/.test(issueId)) throw new Error("signal evidence has no issueId")
  return { org, project, issueId }
}

/** The issue's facts. */
export const toIssueFacts = (org: string, i: Issue): IssueFacts => ({
  id: i.id,
  shortId: i.shortId,
  title: i.title,
  culprit: i.culprit ?? null,
  level: i.level ?? null,
  platform: i.platform ?? null,
  org,
  project: i.project.slug,
  firstSeen: Date.parse(i.firstSeen),
  lastSeen: Date.parse(i.lastSeen),
  count: Number(i.count),
  permalink: i.permalink ?? null,
  firstRelease: i.firstRelease?.version ?? null
})

const decodeExceptions = Schema.decodeUnknownOption(Schema.Struct({ values: Schema.Array(ExceptionValue) }))
const decodeBreadcrumbs = Schema.decodeUnknownOption(Schema.Struct({ values: Schema.Array(Breadcrumb) }))

/** The event's facts (entries of unknown shape are skipped). */
export const toEventFacts = (e: Event): EventFacts => {
  const exceptions: Array<ExceptionFacts> = []
  const breadcrumbs: Array<BreadcrumbFacts> = []
  for (const entry of e.entries) {
    if (entry.type === "exception") {
      const d = decodeExceptions(entry.data)
      if (d._tag === "Some") {
        for (const x of d.value.values) {
          exceptions.push({
            type: x.type ?? null,
            value: x.value ?? null,
            module: x.module ?? null,
            frames: (x.stacktrace?.frames ?? []).map((f) => `${f.module ?? f.filename ?? "?"}${f.function ? `.${f.function}` : ""}`)
          })
        }
      }
    } else if (entry.type === "breadcrumbs") {
      const d = decodeBreadcrumbs(entry.data)
      if (d._tag === "Some") {
        for (const b of d.value.values) {
          const data = b.data ?? {}
          const code = data["status_code"]
          breadcrumbs.push({
            category: b.category ?? null,
            message: b.message ?? null,
            method: typeof data["method"] === "string" ? data["method"] : null,
            url: typeof data["url"] === "string" ? data["url"] : null,
            statusCode: typeof code === "number" ? code : typeof code === "string" && /^\d{3}$/.test(code) ? Number(code) : null
          })
        }
      }
    }
  }
  return { exceptions, breadcrumbs, message: e.message ?? null }
}

/** The deploy facts of a first release: its newest deploy (of `environment` when given) and the release before it. */
export const deployOf = (
  firstRelease: string | null,
  deploys: ReadonlyArray<Deploy>,
  releases: ReadonlyArray<typeof ReleaseSummary.Type>,
  environment?: string
): DeployFacts | null => {
  if (firstRelease === null) return null
  const d = deploys.filter((x) => environment === undefined || x.environment === environment).sort((a, b) => Date.parse(b.dateFinished) - Date.parse(a.dateFinished))[0]
  if (!d) return null
  const i = releases.findIndex((r) => r.version === firstRelease)
  return { release: firstRelease, environment: d.environment, deployedAt: Date.parse(d.dateFinished), previousRelease: i >= 0 ? releases[i + 1]?.version ?? null : null }
}

/**
 * A recording of what the diagnoser reads, as Sentry returns it: the organization, the issue,
 * its latest event, the deploys of its first release and the project's releases (newest first).
 */
export const Recording = Schema.Struct({
  org: Schema.String,
  issue: Issue,
  event: Event,
  deploys: Schema.Array(Deploy),
  releases: Schema.Array(ReleaseSummary)
})
/** A recording. */
export type Recording = typeof Recording.Type

/** The facts of a recording, as the diagnoser computes them. */
export const factsOf = (rec: Recording, options: Options = {}): Fact.Facts<SentryFacts> => {
  const issue = toIssueFacts(rec.org, rec.issue)
  return {
    issue: Fact.known(issue),
    event: Fact.known(toEventFacts(rec.event)),
    deploy: Fact.known(deployOf(issue.firstRelease, rec.deploys, rec.releases, options.environment))
  }
}

/** Options of {@link make}. */
export interface Options {
  /** Only deploys to this environment count (default: any). */
  readonly environment?: string
}

/** The diagnoser. */
export const make = (options: Options = {}): Diagnoser.Diagnoser<SentryFacts, Sentry> => {
  const first = Diagnoser.make<{ readonly issue: IssueFacts; readonly event: EventFacts }, Sentry>({
    issue: Diagnoser.probe("sentry.issue", (signal) =>
      Effect.gen(function*() {
        const ref = yield* Effect.try(() => refOf(signal))
        return toIssueFacts(ref.org, yield* (yield* Sentry).getIssue(ref.org, ref.issueId))
      })),
    event: Diagnoser.probe("sentry.latest_event", (signal) =>
      Effect.gen(function*() {
        const ref = yield* Effect.try(() => refOf(signal))
        return toEventFacts(yield* (yield* Sentry).latestEvent(ref.org, ref.issueId))
      }))
  })
  return Diagnoser.andThen(first, (facts: Fact.Facts<{ readonly issue: IssueFacts; readonly event: EventFacts }>) =>
    Diagnoser.make<{ readonly deploy: DeployFacts | null }, Sentry>({
      deploy: Diagnoser.probe("sentry.release_deploys", () =>
        Effect.gen(function*() {
          if (facts.issue._tag !== "Known") return yield* Effect.fail(new Error("issue unknown"))
          const issue = facts.issue.value
          if (issue.firstRelease === null) return null
          const sentry = yield* Sentry
          const deploys = yield* sentry.releaseDeploys(issue.org, issue.firstRelease)
          if (deployOf(issue.firstRelease, deploys, [], options.environment) === null) return null
          return deployOf(issue.firstRelease, deploys, yield* sentry.listReleases(issue.org, issue.project), options.environment)
        }))
    }))
}
