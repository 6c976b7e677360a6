/**
 * `SentryHandOff`: the plan of `deploy.sentry.classify`, which acts only by hand-off:
 * `deploy_correlation` → a *deployment regression* hand-off (`HandOffs.DeploymentRegression`:
 * the first release, the one before, the deploy time, the symptom) to the runbook that owns the
 * target's deployments; `oom` → *OOM observed* (`HandOffs.OomObserved`: container, count, last
 * seen); `db_connection`, `upstream_5xx` and `unknown` → escalate with a structured summary
 * (issue, title, project, first seen, count, first release, top frame, link). The hand-off target
 * is configured per project (`targets`), default `sentry.project` `org/project`.
 *
 * @since 0.1.0
 */
import { type Classification, type Fact, HandOffs, Plan, type Signal, TargetRef } from "@byteport/core"
import { Effect } from "effect"
import { PROJECT_KIND } from "../detectors/SentryIssues"
import type { SentryFacts } from "../classifiers/SentryErrorClass"

/** The runbook id (the plan's `runbook`). */
export const RUNBOOK_ID = "deploy.sentry.classify"

/** Options of {@link make}. */
export interface Options {
  /** The hand-off target of each project (slug → target: a `k8s.workload`, a `render.service` …). */
  readonly targets?: Readonly<Record<string, TargetRef.TargetRef>>
  /** The container named in *OOM observed*, per project (default the project slug). */
  readonly containers?: Readonly<Record<string, string>>
}

/** The structured summary of an issue (one line per field). */
export const summaryOf = (cls: string, f: Fact.Facts<SentryFacts>): ReadonlyArray<string> => {
  const i = f.issue._tag === "Known" ? f.issue.value : undefined
  const e = f.event._tag === "Known" ? f.event.value : undefined
  const top = e?.exceptions[e.exceptions.length - 1]
  const frame = top?.frames[top.frames.length - 1]
  const d = f.deploy._tag === "Known" ? f.deploy.value : undefined
  return [
    `class: ${cls}`,
    `issue: ${i ? `${i.shortId} (${i.id}) "${i.title}"` : "(unknown)"}`,
    `project: ${i ? `${i.org}/${i.project}` : "(unknown)"}`,
    `first seen: ${i ? new Date(i.firstSeen).toISOString() : "(unknown)"}, events: ${i?.count ?? "?"}, level: ${i?.level ?? "?"}, platform: ${i?.platform ?? "?"}`,
    `first release: ${i?.firstRelease ?? "(none)"}${d ? ` deployed to ${d.environment} at ${new Date(d.deployedAt).toISOString()}` : ""}`,
    `exception: ${top ? `${top.type ?? "?"}: ${top.value ?? ""}` : "(none)"}${frame ? ` at ${frame}` : ""}`,
    `link: ${i?.permalink ?? "(none)"}`
  ]
}

/** The remediator. */
export const make = (options: Options = {}) =>
(classification: Classification.Classified, facts: Fact.Facts<SentryFacts>, signal: Signal.Signal): Effect.Effect<Plan.Plan> =>
  Effect.gen(function*() {
    const cls = classification.class
    const summary = summaryOf(cls, facts)
    const i = facts.issue._tag === "Known" ? facts.issue.value : undefined
    const escalate = (why: string) => Plan.make(RUNBOOK_ID, cls, `escalate: ${cls}${i ? ` ${i.shortId}` : ""}`, Plan.escalate(`${cls}${i ? ` in ${i.org}/${i.project}: ${i.title}` : ""}: ${why}`, summary))
    if (!i) return escalate("the issue could not be read")
    const target = options.targets?.[i.project] ?? TargetRef.make(PROJECT_KIND, `${i.org}/${i.project}`)
    if (cls === "deploy_correlation") {
      const d = facts.deploy._tag === "Known" ? facts.deploy.value : null
      if (d === null) return escalate("no deploy of its first release")
      const minutes = ((i.firstSeen - d.deployedAt) / 60_000).toFixed(1)
      const s = yield* HandOffs.signal(HandOffs.DeploymentRegression, {
        target,
        observedAt: signal.observedAt,
        source: RUNBOOK_ID,
        evidence: {
          revision: d.release,
          ...(d.previousRelease !== null ? { previousRevision: d.previousRelease } : {}),
          deployedAt: d.deployedAt,
          symptom: `Sentry ${i.shortId} "${i.title}" first seen ${minutes} min after the deploy (${i.count} events)`
        }
      })
      return Plan.make(RUNBOOK_ID, cls, `hand off deployment regression of ${d.release} (${i.shortId}) to ${target.kind} ${target.ref}`, Plan.handOff(s, `${i.shortId} started with release ${d.release}`))
    }
    if (cls === "oom") {
      const s = yield* HandOffs.signal(HandOffs.OomObserved, {
        target,
        observedAt: signal.observedAt,
        source: RUNBOOK_ID,
        evidence: { container: options.containers?.[i.project] ?? i.project, count: Math.max(1, i.count), lastAt: i.lastSeen }
      })
      return Plan.make(RUNBOOK_ID, cls, `hand off OOM observed (${i.shortId}, ${i.count} events) to ${target.kind} ${target.ref}`, Plan.handOff(s, `${i.shortId}: out of memory`))
    }
    if (cls === "db_connection") return escalate("the database is unreachable or its connections are exhausted: check the database and the pool (a db runbook acts on it)")
    if (cls === "upstream_5xx") return escalate("an upstream service answers 5xx: check that dependency")
    return escalate("a novel error (no known pattern)")
  }).pipe(Effect.catchTag("InvalidHandOff", (e) => Effect.succeed(Plan.make(RUNBOOK_ID, classification.class, `escalate: ${classification.class}`, Plan.escalate(`the hand-off could not be built: ${e.message}`, summaryOf(classification.class, facts))))))
