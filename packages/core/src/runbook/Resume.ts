/**
 * `Runbook.resume`, `awaitApproval` and `follow`: continue an incident from its journal.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect } from "effect"
import * as ApprovalRecord from "../guardrails/approvalRecord"
import * as C from "../Classification"
import * as Fact from "../Fact"
import { GuardrailStore, type JournalEntry, type StoreError } from "../GuardrailStore"
import type { IncidentReport, Mode } from "../IncidentReport"
import { Notifier } from "../Notifier"
import * as P from "../Plan"
import * as S from "../Signal"
import type { AwaitingApproval, HandleResult, Runbook, Services } from "./Definition"
import { IncidentNotFound, isAwaitingApproval, modeFor } from "./Definition"
import { escalate } from "./Close"
import { runIncident } from "./Incident"
import type { State } from "./State"

/** Options of `resume`. */
export interface ResumeOptions {
  /** The mode to resume in (default: the runbook's current mode from configuration, like `handle`). */
  readonly mode?: Mode | undefined
}

/** The Act steps of a plan that its journal does not record as applied, failed or denied. */
const unfinishedSteps = (plan: P.Plan, digest: string, entries: ReadonlyArray<JournalEntry>): number => {
  const start = entries.findIndex((e) => e.type === "planned" && e.data["digest"] === digest)
  const finished = new Set(
    (start < 0 ? [] : entries.slice(start + 1))
      .filter((e) => e.type === "applied" || e.type === "failed" || e.type === "denied")
      .map((e) => e.stepPath)
  )
  return P.actions(plan.root, "0").filter(({ path }) => !finished.has(path)).length
}

/**
 * Continues an incident from its journal: a paused one re-diagnoses and asks again if its plan
 * changed (or escalates when the approval timed out); an interrupted one resumes at its next
 * unfinished step without re-acting and without spending budget twice; a closed one returns
 * its recorded report.
 */
export const resume = <F, R>(
  runbook: Runbook<F, R>,
  incidentId: string,
  options: ResumeOptions = {}
): Effect.Effect<HandleResult, IncidentNotFound, R | Services> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore
    const entries = yield* store.readJournal(incidentId).pipe(
      Effect.mapError((e) => new IncidentNotFound({ incidentId, message: `journal unreadable: ${e.message}` }))
    )
    const opened = entries.find((e) => e.type === "opened")
    if (!opened) return yield* new IncidentNotFound({ incidentId, message: `no journal for incident ${incidentId}` })
    if (opened.data["runbook"] !== runbook.id) {
      return yield* new IncidentNotFound({ incidentId, message: `incident ${incidentId} belongs to runbook ${String(opened.data["runbook"])}` })
    }
    const closed = entries.find((e) => e.type === "closed")
    if (closed) return closed.data["report"] as unknown as IncidentReport
    const signal = yield* S.decode(opened.data["signal"]).pipe(
      Effect.mapError((e) => new IncidentNotFound({ incidentId, message: `journaled signal is invalid: ${e.message}` }))
    )
    const plannedEntries = entries.filter((e) => e.type === "planned")
    const planned = plannedEntries[plannedEntries.length - 1]
    const awaitingEntries = entries.filter((e) => e.type === "awaiting_approval")
    const lastAwaiting = awaitingEntries[awaitingEntries.length - 1]
    const now = yield* Clock.currentTimeMillis
    const classified = [...entries].reverse().find((e) => e.type === "classified")
    const st: State<F> = {
      incidentId,
      mode: "auto",
      signal,
      facts: {} as Fact.Facts<F>,
      classification: classified ? (classified.data["classification"] as unknown as C.Classification) : undefined,
      decisions: [],
      outcomes: [],
      verdicts: [],
      proposals: [],
      children: [],
      timeline: [{ at: opened.at, phase: "detect", message: `${signal.type} on ${signal.target.kind} ${signal.target.ref}` }],
      startedAt: opened.at
    }
    for (const e of entries) {
      if (e.type === "awaiting_approval") {
        st.timeline.push({ at: e.at, phase: "approval", message: `paused for approval of plan ${String(e.data["planDigest"]).slice(0, 12)}: ${String(e.data["reason"] ?? "")}` })
      }
      if (e.type === "approved") {
        st.timeline.push({ at: e.at, phase: "approval", message: `plan ${String(e.data["planDigest"]).slice(0, 12)} approved by ${String(e.data["approver"])}` })
      }
    }
    const stepStarted = entries.some((e) => e.stepPath !== undefined && planned !== undefined && e.seq > planned.seq)
    const awaiting = lastAwaiting && (!planned || lastAwaiting.seq > planned.seq) && !stepStarted
      ? {
        planDigest: String(lastAwaiting.data["planDigest"]),
        expiresAt: Number(lastAwaiting.data["expiresAt"]),
        reason: String(lastAwaiting.data["reason"])
      }
      : undefined
    // The journal is redacted: a plan that carried a secret reads back changed (its digest no
    // longer matches the journaled one). Such a plan is rebuilt from a fresh diagnosis and its
    // steps resume only if the rebuilt plan has the journaled digest.
    const journaledDigest = planned ? String(planned.data["digest"]) : undefined
    const readBack = planned ? yield* Effect.option(Effect.try(() => P.fromJson(JSON.stringify(planned.data["plan"])))) : undefined
    const plan = readBack?._tag === "Some" && P.digest(readBack.value) === journaledDigest ? readBack.value : undefined
    const rebuild = planned !== undefined && plan === undefined && !awaiting ? journaledDigest : undefined

    // The current mode, not the one the incident opened in: a lowered mode never acts.
    const notifier = yield* Notifier
    const resolved = options.mode ? { mode: options.mode } : yield* modeFor(runbook)
    if (resolved.warning) yield* notifier.audit("config.invalid_mode", { runbook: runbook.id, warning: resolved.warning })
    if (resolved.mode !== "auto") {
      // The incident was opened in auto: it is closed (journal, cooldown lease) as such, and escalated.
      const diagnosed = [...entries].reverse().find((e) => e.type === "diagnosed")
      if (diagnosed) st.facts = diagnosed.data["facts"] as unknown as Fact.Facts<F>
      if (plan) {
        st.plan = plan
        st.planDigest = P.digest(plan)
      }
      const unfinished = plan ? unfinishedSteps(plan, P.digest(plan), entries) : 0
      st.timeline.push({ at: now, phase: "resume", message: `resumed from the journal (${entries.length} entries) in mode ${resolved.mode}` })
      return yield* escalate(
        runbook,
        st,
        `mode lowered to ${resolved.mode}, ${unfinished} step${unfinished === 1 ? "" : "s"} unfinished: the interrupted incident was not continued`,
        "warning",
        [
          plan
            ? "check what the interrupted plan already applied (see the journal and the outcomes) and finish or undo it by hand"
            : "the incident was interrupted before its plan was made: handle the target by hand if it still needs it"
        ]
      )
    }
    const awaitingPlan = awaiting && plan && P.digest(plan) === awaiting.planDigest ? plan : undefined
    return yield* runIncident(runbook, st, { entries, plan: awaiting ? undefined : plan, awaiting, awaitingPlan, expectDigest: rebuild })
  })

/** Options of `awaitApproval`. */
export interface AwaitApprovalOptions {
  /** How often the store is polled for an approval (default 5 s). */
  readonly pollEvery?: Duration.Input
}

/**
 * Waits until a paused incident is approved for its plan digest (the record the `approval`
 * guardrail reads), or until its request expires, then resumes it: an approved plan runs, a
 * plan that changed meanwhile pauses again (a new AwaitingApproval), an expired request escalates.
 */
export const awaitApproval = <F, R>(
  runbook: Runbook<F, R>,
  paused: AwaitingApproval,
  options: AwaitApprovalOptions = {}
): Effect.Effect<HandleResult, IncidentNotFound | StoreError, R | Services> =>
  Effect.gen(function*() {
    const every = Duration.toMillis(Duration.fromInputUnsafe(options.pollEvery ?? "5 seconds"))
    while (true) {
      const now = yield* Clock.currentTimeMillis
      if (now > paused.expiresAt) break
      const found = yield* ApprovalRecord.read(paused.incidentId)
      if (found._tag === "Found" && found.record.planDigest === paused.planDigest && found.record.expiresAt > now) break
      yield* Effect.sleep(Duration.millis(Math.max(1, Math.min(every, paused.expiresAt - now + 1))))
    }
    return yield* resume(runbook, paused.incidentId)
  })

/**
 * Reports a result with `onResult`; when it is a pause, waits for its decision (`awaitApproval`)
 * and reports what follows, until the incident ends. A resume that fails is audited.
 */
export const follow = <F, R>(
  runbook: Runbook<F, R>,
  result: HandleResult,
  onResult: (result: HandleResult) => Effect.Effect<void>,
  options: AwaitApprovalOptions = {}
): Effect.Effect<void, never, R | Services> =>
  Effect.gen(function*() {
    yield* onResult(result)
    if (!isAwaitingApproval(result)) return
    const next = yield* Effect.result(awaitApproval(runbook, result, options))
    if (next._tag === "Failure") {
      const notifier = yield* Notifier
      yield* notifier.audit("approval.resume_failed", { runbook: runbook.id, incidentId: result.incidentId, error: next.failure.message })
      return
    }
    yield* follow(runbook, next.success, onResult, options)
  })
