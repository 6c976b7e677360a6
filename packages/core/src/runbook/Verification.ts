/**
 * Verification of an applied plan and the verdict it ends on. Internal.
 *
 * @since 0.1.0
 * @internal
 */
import { Clock, Duration, Effect } from "effect"
import * as C from "../Classification"
import * as Executor from "../Executor"
import * as HandOffs from "../HandOffs"
import { toJson } from "../internal/journal"
import type { JsonObject } from "../Json"
import * as P from "../Plan"
import * as T from "../TargetRef"
import type * as Verdict from "../Verdict"
import * as V from "../Verifier"
import type { StoreError } from "../GuardrailStore"
import type { HandleResult, Runbook, Services } from "./Definition"
import { escalate, finish, undo } from "./Close"
import { journalAppend, mark, type State } from "./State"

/** The timeline line of one poll: as before for plain checks; window and poll named for a hold window. */
const pollMessage = (v: Verdict.Verdict): string => {
  const what = v._tag === "Recovered" ? "recovered" : `${v._tag}: ${v.reason}`
  const w = v.poll?.window
  if (!w || !v.poll) return what
  return `window ${v.poll.attempt}, poll ${v.poll.poll}/${V.windowOffsets(w).length} (+${v.poll.offsetMs === 0 ? "0s" : Duration.format(Duration.millis(v.poll.offsetMs))}): ${what}`
}

/**
 * Verification of an applied plan and the verdict it ends on: the verifier's schedule runs from
 * the last applied action; Recovered closes the incident, NotRecovered undoes what declared an
 * undo and escalates, Inconclusive escalates. Denied actions of a completed plan are escalated
 * by name after verification. Internal.
 */
export const verifyAndClose = <F, R>(
  runbook: Runbook<F, R>,
  st: State<F>,
  cls: C.Classified,
  plan: P.Plan,
  res: Executor.ExecuteResult,
  baseline: JsonObject
): Effect.Effect<HandleResult, StoreError, R | Services> =>
  Effect.gen(function*() {
    // Awaited hand-offs reported back: the parent verifies (its verifier sees the children's verdicts).
    const children = HandOffs.childResults(res.outcomes)
    const fireAndForget = res.handoffs.length > children.length
    if (res.applied.length === 0) {
      if (res.proposals.length > 0) {
        return yield* escalate(runbook, st, `change proposed for review: ${res.proposals.map((p) => p.title).join("; ")}`, "info", [], "proposed")
      }
      if (res.handoffs.length > 0 && fireAndForget) {
        st.children.push(...res.handoffs.map((h) => `${h.type}:${T.key(h.target)}`))
        return yield* finish(runbook, st, "handed_off")
      }
    }
    if (res.handoffs.length > 0) st.children.push(...res.handoffs.map((h) => `${h.type}:${T.key(h.target)}`))
    // Actions a guardrail rejected inside a plan that still completed (a Fallback on "denied", e.g.
    // the excess over a per-minute cap): the incident is verified as usual, then escalated naming
    // them. The status stays what verification says; `report.escalation` carries the rejections.
    // A denial inside a Fallback's primary whose alternative ran (`<f>.p…` denied, `<f>.o…` ran) is not one.
    const replaced = (path: string) =>
      path.split(".").some((seg, i, segs) => {
        if (seg !== "p") return false
        const alt = `${segs.slice(0, i).join(".")}.o`
        return res.outcomes.some((o) => o.stepPath === alt || o.stepPath.startsWith(`${alt}.`))
      })
    const rejected = res.outcomes.filter((o) => o.status === "denied" && !replaced(o.stepPath))
    const rejectedText = rejected.length === 0
      ? ""
      : `${rejected.length} action(s) rejected by guardrails: ${rejected.map((o) => `${o.kind} on ${o.target.ref} (${o.idempotencyKey ?? o.stepPath}): ${o.detail}`).join("; ")}`
    const rejectedSteps = rejected.length === 0 ? [] : ["decide by hand about the rejected actions named in the reason"]
    const verifier = runbook.verify(cls.class)
    if (!verifier) {
      const unrecovered = children.filter((c) => c.status !== "recovered")
      if (unrecovered.length > 0) {
        const what = unrecovered.map((c) => `${c.signalType} on ${c.target.kind} ${c.target.ref}: child incident ${c.incidentId ?? "(none)"} ended ${c.status}${c.reason ? ` (${c.reason})` : ""}`)
        return yield* escalate(runbook, st, `awaited hand-off did not recover: ${what.join("; ")}${rejected.length > 0 ? `; ${rejectedText}` : ""}`, "warning", rejectedSteps)
      }
      const status = fireAndForget ? "handed_off" : "recovered"
      if (rejected.length > 0) return yield* escalate(runbook, st, rejectedText, "warning", rejectedSteps, status)
      return yield* finish(runbook, st, status)
    }
    const schedule = runbook.verifySchedule(cls.class)
    const since = res.lastAppliedAt ?? (yield* Clock.currentTimeMillis)
    yield* mark(st, "verify", `verifying (${schedule.description}) from ${new Date(since).toISOString()}`)
    // Every poll is journaled and put on the timeline as it is taken: a hold window lasts minutes.
    const verdicts = yield* V.runSchedule(verifier, schedule, {
      incidentId: st.incidentId,
      signal: st.signal,
      facts: st.facts,
      classification: cls,
      plan,
      outcomes: st.outcomes,
      applied: res.applied,
      since
    }, (v) =>
      Effect.gen(function*() {
        st.verdicts.push(v)
        yield* journalAppend(st, "verdict", { verdict: toJson(v) })
        yield* Effect.sync(() => st.timeline.push({ at: v.at, phase: "verify", message: pollMessage(v) }))
      }))
    const last = verdicts[verdicts.length - 1]
    const andRejected = rejected.length === 0 ? "" : `; ${rejectedText}`
    if (last && last._tag === "Recovered") {
      if (rejected.length > 0) return yield* escalate(runbook, st, `recovered; ${rejectedText}`, "warning", rejectedSteps, "recovered")
      return yield* finish(runbook, st, "recovered")
    }
    if (last && last._tag === "NotRecovered") {
      yield* undo(runbook, st, res.applied, cls, baseline)
      return yield* escalate(runbook, st, `not recovered after ${verdicts.length} checks: ${last.reason}${andRejected}`, "critical", rejectedSteps)
    }
    return yield* escalate(runbook, st, `verification inconclusive: ${last?._tag === "Inconclusive" ? last.reason : "no verdict"}${andRejected}`, "critical", rejectedSteps)
  })
