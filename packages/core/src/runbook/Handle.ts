/**
 * `Runbook.handle`: runs one new incident end to end. The signal is decoded first: a value that
 * is not a valid Signal (null, no target, a target `{ kind: 1, ref: null }`, a throwing getter …)
 * is never acted on — it is a typed `MalformedSignal`, audited and escalated.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import type { Escalation } from "../Escalation"
import * as Fact from "../Fact"
import type { Mode } from "../IncidentReport"
import { Notifier } from "../Notifier"
import type * as S from "../Signal"
import * as T from "../TargetRef"
import type { HandleResult, MalformedSignal, Runbook, Services } from "./Definition"
import { modeFor } from "./Definition"
import { runIncident } from "./Incident"
import { newIncidentId, type State } from "./State"
import { audit, decodeElement, guarded } from "./Supervise"

/**
 * Runs one incident end to end. Succeeds with an IncidentReport (any failure inside the incident
 * becomes an escalation in it) or AwaitingApproval. Fails only with `MalformedSignal` when
 * `signal` does not decode as a Signal: then nothing runs, the audit records `signal.malformed`
 * and an escalation (to the pager in auto, as info to the ops channel in observe and dry_run)
 * names the reason.
 */
export const handle = <F, R>(
  runbook: Runbook<F, R>,
  signal: S.Signal,
  options: { readonly incidentId?: string; readonly mode?: Mode } = {}
): Effect.Effect<HandleResult, MalformedSignal, R | Services> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const notifier = yield* Notifier
    const resolved = options.mode ? { mode: options.mode } : yield* modeFor(runbook)
    if (resolved.warning) yield* notifier.audit("config.invalid_mode", { runbook: runbook.id, warning: resolved.warning })
    const incidentId = options.incidentId ?? newIncidentId(now)
    const decoded = yield* Effect.result(decodeElement(`Runbook.handle(${runbook.id})`, signal))
    if (decoded._tag === "Failure") {
      yield* rejectMalformed(runbook, decoded.failure, incidentId, resolved.mode, now)
      return yield* decoded.failure
    }
    // Fleets: the target names the agent's cluster (TargetRef.Cluster) unless it names its own.
    const cluster = yield* T.Cluster
    const valid = cluster === undefined ? decoded.success : { ...decoded.success, target: T.inCluster(decoded.success.target, cluster) }
    const st: State<F> = {
      incidentId,
      mode: resolved.mode,
      signal: valid,
      facts: {} as Fact.Facts<F>,
      decisions: [],
      outcomes: [],
      verdicts: [],
      proposals: [],
      children: [],
      timeline: [{ at: valid.observedAt, phase: "detect", message: `${valid.type} on ${valid.target.kind} ${valid.target.ref}` }],
      startedAt: now
    }
    return yield* runIncident(runbook, st, undefined)
  }).pipe(Effect.withSpan("byteport.runbook.handle", { attributes: { runbook: runbook.id } }))

/** Audits and escalates a signal that did not decode (the escalation carries a stand-in signal naming the reason). */
const rejectMalformed = (runbook: Runbook<any, any>, error: MalformedSignal, incidentId: string, mode: Mode, now: number) =>
  Effect.gen(function*() {
    yield* audit("signal.malformed", { runbook: runbook.id, incidentId, detector: error.detector, error: error.message })
    const auto = mode === "auto"
    const escalation: Escalation = {
      incidentId,
      runbook: runbook.id,
      reason: `${auto ? "" : `[${mode}] `}malformed signal refused, nothing was done: ${error.message}`,
      severity: auto ? "warning" : "info",
      signal: { type: "signal.malformed", target: { kind: "unknown", ref: "unknown" }, observedAt: now, evidence: { error: error.message } },
      facts: {},
      decisions: [],
      outcomes: [],
      verdicts: [],
      nextSteps: ["fix the detector or caller that produced this signal (see the reason)"],
      proposals: [],
      attachments: [],
      at: now
    }
    const notifier = yield* Notifier
    yield* guarded("escalating a malformed signal", notifier.escalate(escalation))
  })
