/**
 * How an incident ends: `finish` (the report, the journal's `closed`, the cooldown lease),
 * `escalate` (the bundle to the pager or, in observe and dry_run, the ops channel) and `undo`
 * (the declared undo steps of what was applied). Internal.
 *
 * @since 0.1.0
 * @internal
 */
import { Clock, Duration, Effect } from "effect"
import type { Action } from "../Action"
import * as AgentId from "../AgentId"
import * as C from "../Classification"
import type { Escalation, Severity } from "../Escalation"
import * as Executor from "../Executor"
import { GuardrailStore } from "../GuardrailStore"
import * as HandOffs from "../HandOffs"
import { IncidentBus } from "../IncidentBus"
import * as HandOff from "../internal/handOff"
import { toJson } from "../internal/journal"
import type { IncidentReport, Status } from "../IncidentReport"
import type { JsonObject } from "../Json"
import { Notifier } from "../Notifier"
import * as P from "../Plan"
import * as Telemetry from "../Telemetry"
import type { HandleResult, Runbook, Services } from "./Definition"
import { attachmentsOf, factsJson, journalAppend, leaseKey, mark, type State } from "./State"

/** Runs the undo actions of what was applied, in reverse order (their own guardrails apply). */
export const undo = <F, R>(
  runbook: Runbook<F, R>,
  st: State<F>,
  applied: ReadonlyArray<Action>,
  cls: C.Classification,
  baseline: JsonObject
) =>
  Effect.gen(function*() {
    const undos = [...applied].reverse().flatMap((a) => (a.undo ? [a.undo] : []))
    if (undos.length === 0) return
    yield* mark(st, "act", `undoing ${undos.length} action(s)`)
    const plan = P.make(runbook.id, "undo", `undo ${undos.length} action(s)`, P.seq(...undos.map(P.act)))
    // Same incident (its journal is open), own root path: undo steps never collide with the plan's.
    const res = yield* Executor.execute({
      incidentId: st.incidentId,
      runbook: runbook.id,
      mode: "auto",
      signal: st.signal,
      classification: cls,
      facts: factsJson(st.facts),
      plan,
      baseline,
      guardrails: [],
      rootPath: "undo"
    })
    st.decisions.push(...res.decisions)
    st.outcomes.push(...res.outcomes)
    for (const o of res.outcomes) {
      st.timeline.push({ at: o.at, phase: "act", message: `undo ${o.kind}: ${o.status} — ${o.detail}` })
    }
  })

/** Escalates the incident with its bundle (facts, plan, outcomes, timeline) and closes it Escalated. */
export const escalate = <F, R>(
  runbook: Runbook<F, R>,
  st: State<F>,
  reason: string,
  severity: Severity,
  extraSteps: ReadonlyArray<string> = [],
  status: Status = "escalated"
): Effect.Effect<HandleResult, never, R | Services> =>
  Effect.gen(function*() {
    const notifier = yield* Notifier
    const at = yield* Clock.currentTimeMillis
    const classification = st.classification
    const nextSteps = [...extraSteps, ...(classification ? runbook.nextSteps(classification, st.facts) : [])]
    // observe and dry_run never page: what would have escalated goes to the ops channel (info).
    const auto = st.mode === "auto"
    const escalation: Escalation = {
      incidentId: st.incidentId,
      runbook: runbook.id,
      reason: auto ? reason : `[${st.mode}] ${reason}`,
      severity: auto ? severity : "info",
      signal: st.signal,
      facts: factsJson(st.facts),
      ...(classification ? { classification } : {}),
      ...(st.plan ? { plan: st.plan } : {}),
      decisions: st.decisions,
      outcomes: st.outcomes,
      verdicts: st.verdicts,
      nextSteps: nextSteps.length ? nextSteps : ["investigate the target and decide on a fix"],
      proposals: st.proposals,
      attachments: attachmentsOf(st.outcomes),
      at
    }
    st.escalation = escalation
    yield* mark(st, "escalate", `${escalation.severity}: ${escalation.reason}`)
    yield* journalAppend(st, "escalated", { reason, severity }).pipe(Effect.ignore)
    yield* notifier.escalate(escalation)
    if (auto && classification && runbook.ticket(classification)) yield* notifier.ticket(escalation)
    return yield* finish(runbook, st, status)
  })

/** Closes the incident: releases the lease, records the cooldown, writes the report and the close entry. */
export const finish = <F, R>(
  runbook: Runbook<F, R>,
  st: State<F>,
  status: Status | "duplicate",
  extra: { readonly heldBy?: string; readonly reportBack?: boolean } = {}
): Effect.Effect<IncidentReport, never, R | Services> =>
  Effect.gen(function*() {
    const notifier = yield* Notifier
    const endedAt = yield* Clock.currentTimeMillis
    if (runbook.postmortem && st.classification && status !== "duplicate") {
      st.postmortem = yield* runbook.postmortem({
        signal: st.signal,
        facts: st.facts,
        classification: st.classification,
        outcomes: st.outcomes,
        verdicts: st.verdicts
      })
    }
    if (status !== "duplicate") yield* mark(st, "close", `closed: ${status}`)
    const report: IncidentReport = {
      incidentId: st.incidentId,
      runbook: runbook.id,
      mode: st.mode,
      status: status === "duplicate" ? "duplicate" : status,
      ...(st.signal.parent ? { parent: st.signal.parent } : {}),
      signal: st.signal,
      facts: factsJson(st.facts),
      ...(st.classification ? { classification: st.classification } : {}),
      ...(st.plan ? { plan: st.plan, planDigest: st.planDigest! } : {}),
      decisions: st.decisions,
      outcomes: st.outcomes,
      verdicts: st.verdicts,
      proposals: st.proposals,
      ...(st.escalation ? { escalation: st.escalation } : {}),
      children: st.children,
      timeline: [...st.timeline].sort((a, b) => a.at - b.at),
      ...(st.postmortem ? { postmortem: st.postmortem } : {}),
      ...(extra.heldBy ? { duplicateOf: extra.heldBy } : {}),
      startedAt: st.startedAt,
      endedAt
    }
    if (status !== "duplicate") {
      const store = yield* GuardrailStore
      yield* journalAppend(st, "closed", { status, report: toJson(report) }).pipe(Effect.ignore)
      // Keep the target leased through the cooldown, in every mode (observe and dry_run de-duplicate
      // too); a zero cooldown releases the lease at once.
      const agent = yield* AgentId.current
      // (Not a lease passed to a hand-off child that has not reported back: it is the child's now.)
      if (HandOff.leasePassed(st.outcomes)) {
        // the child holds it
      } else if (Duration.toMillis(runbook.cooldown) <= 0) {
        yield* store.releaseLease(leaseKey(st.signal.target), st.leaseHolder ?? AgentId.holder(agent, st.incidentId)).pipe(Effect.ignore)
      } else yield* store.acquireLease({
        key: leaseKey(st.signal.target),
        holder: st.leaseHolder ?? AgentId.holder(agent, st.incidentId),
        ttlMs: Duration.toMillis(runbook.cooldown),
        now: endedAt,
        data: { runbook: runbook.id, incidentId: st.incidentId, agent, cooldown: true }
      }).pipe(Effect.ignore)
    }
    yield* Telemetry.recordIncident(report)
    yield* notifier.report(report)
    // A child raised by a hand-off reports back to a parent that may await it.
    const child = HandOffs.resultOf(report)
    if (child && extra.reportBack !== false) yield* (yield* IncidentBus).reportBack(child)
    return report
  })

/** The report for an incident whose own close failed: names the reason so nothing is lost. */
export const fallbackReport = (runbook: Runbook<any, any>, st: State<any>, why: string): IncidentReport => ({
  incidentId: st.incidentId,
  runbook: runbook.id,
  mode: st.mode,
  status: "escalated",
  signal: st.signal,
  facts: {},
  decisions: st.decisions,
  outcomes: st.outcomes,
  verdicts: st.verdicts,
  proposals: st.proposals,
  children: [],
  timeline: [...st.timeline, { at: Date.now(), phase: "escalate", message: `escalation could not be delivered: ${why}` }],
  startedAt: st.startedAt,
  endedAt: Date.now()
})
