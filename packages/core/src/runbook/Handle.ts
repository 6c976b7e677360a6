/**
 * `Runbook.handle`: runs one new incident end to end.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import * as Fact from "../Fact"
import type { IncidentReport, Mode } from "../IncidentReport"
import { Notifier } from "../Notifier"
import * as S from "../Signal"
import type { HandleResult, Runbook, Services } from "./Definition"
import { modeFor } from "./Definition"
import { runIncident } from "./Incident"
import { newIncidentId, type State } from "./State"

/** Runs one incident end to end. Always succeeds, with an IncidentReport or AwaitingApproval. */
export const handle = <F, R>(
  runbook: Runbook<F, R>,
  signal: S.Signal,
  options: { readonly incidentId?: string; readonly mode?: Mode } = {}
): Effect.Effect<HandleResult, never, R | Services> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const notifier = yield* Notifier
    const resolved = options.mode ? { mode: options.mode } : yield* modeFor(runbook)
    if (resolved.warning) yield* notifier.audit("config.invalid_mode", { runbook: runbook.id, warning: resolved.warning })
    const incidentId = options.incidentId ?? newIncidentId(now)
    const st: State<F> = {
      incidentId,
      mode: resolved.mode,
      signal,
      facts: {} as Fact.Facts<F>,
      decisions: [],
      outcomes: [],
      verdicts: [],
      proposals: [],
      children: [],
      timeline: [{ at: signal.observedAt, phase: "detect", message: `${signal.type} on ${signal.target.kind} ${signal.target.ref}` }],
      startedAt: now
    }
    return yield* runIncident(runbook, st, undefined)
  }).pipe(Effect.withSpan("byteport.runbook.handle", { attributes: { runbook: runbook.id } }))
