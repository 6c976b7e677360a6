/**
 * `Runbook.run`: the loop that consumes a runbook's detector stream and its hand-offs.
 *
 * @since 0.1.0
 */
import { Clock, Effect, FiberSet, Stream } from "effect"
import * as AgentId from "../AgentId"
import { GuardrailStore } from "../GuardrailStore"
import { IncidentBus } from "../IncidentBus"
import { causeText } from "../internal/cause"
import { Notifier } from "../Notifier"
import * as S from "../Signal"
import * as T from "../TargetRef"
import type { HandleResult, Runbook, Services } from "./Definition"
import { isAwaitingApproval, MalformedSignal } from "./Definition"
import { handle } from "./Handle"
import { follow, resume, type AwaitApprovalOptions } from "./Resume"
import { heldIncident, leaseKeyOf } from "./State"

/** Options of `Runbook.run`. */
export interface RunOptions {
  /** How many incidents run at once (default 4). */
  readonly concurrency?: number
  /** Also take hand-off signals of the types this runbook owns from the IncidentBus (default true). */
  readonly handOffs?: boolean
  /** Resume this runbook's open incidents first (default true). */
  readonly resumeOpen?: boolean
  /** Called with every result (for the demo and tests). */
  readonly onResult?: (result: HandleResult) => Effect.Effect<void>
  /** Called with every malformed detector element. */
  readonly onMalformed?: (error: MalformedSignal) => Effect.Effect<void>
  /**
   * Paused incidents: wait for their approval and resume them (default, polling every 5 s), or
   * `false` to leave them paused for someone else to resume. Results are reported as they come:
   * the pause, then the final report.
   */
  readonly approvals?: AwaitApprovalOptions | false
}

/**
 * Consumes the runbook's detector stream (and its hand-offs): decodes each element (a malformed
 * one is recorded as a typed error and skipped), de-duplicates targets already in flight in this
 * process (leases de-duplicate across processes), handles incidents with bounded concurrency,
 * and stops cleanly when interrupted (an interrupted incident resumes from its journal).
 */
export const run = <F, R>(
  runbook: Runbook<F, R>,
  options: RunOptions = {}
): Effect.Effect<void, never, R | Services> =>
  Effect.scoped(Effect.gen(function*() {
    const bus = yield* IncidentBus
    const notifier = yield* Notifier
    const store = yield* GuardrailStore
    const onResult = options.onResult ?? (() => Effect.void)
    const waiters = yield* FiberSet.make<void, never>()
    // Reports a result; a pause is followed (in its own fiber) until it is decided.
    const settle = (r: HandleResult) => follow(runbook, r, onResult, options.approvals === false ? {} : options.approvals ?? {})
    const report = (r: HandleResult): Effect.Effect<void, never, R | Services> =>
      isAwaitingApproval(r) && options.approvals !== false ? Effect.asVoid(FiberSet.run(waiters, settle(r))) : onResult(r)
    if (options.resumeOpen ?? true) {
      const open = yield* store.listIncidents().pipe(Effect.orElseSucceed(() => []))
      const agent = yield* AgentId.current
      for (const inc of open.filter((i) => i.runbook === runbook.id)) {
        // Another live agent's incident (its lease on the target is unexpired) is left to it; an
        // expired lease (its agent died) is taken over by the resume, and our own is renewed.
        const lease = yield* store.getLease(leaseKeyOf(inc.targetKey)).pipe(Effect.orElseSucceed(() => undefined))
        const now = yield* Clock.currentTimeMillis
        if (lease && lease.expiresAt > now && lease.holder !== AgentId.holder(agent, inc.incidentId)) {
          yield* notifier.audit("incident.held", { runbook: runbook.id, incidentId: inc.incidentId, heldBy: heldIncident(lease), holder: lease.holder })
          continue
        }
        const r = yield* Effect.result(resume(runbook, inc.incidentId))
        if (r._tag === "Success") yield* report(r.success)
      }
    }
    const inFlight = new Set<string>()
    const detector = runbook.detector?.signals ?? Stream.empty
    const handOffs = (options.handOffs ?? true)
      ? bus.signals.pipe(Stream.filter((s) => runbook.signals.includes(s.type)))
      : Stream.empty
    const source = Stream.merge(
      detector.pipe(Stream.catchCause((cause) => Stream.fromEffect(Effect.as(notifier.audit("detector.failed", { runbook: runbook.id, cause: causeText(cause) }), undefined as unknown)).pipe(Stream.drain))),
      handOffs
    )
    yield* source.pipe(
      Stream.mapEffect((raw) =>
        S.decode(raw).pipe(
          Effect.map((s) => s as S.Signal | undefined),
          Effect.catch((e) => {
            const err = new MalformedSignal({ detector: runbook.detector?.name ?? "bus", message: e.message })
            return Effect.as(
              Effect.andThen(notifier.audit("signal.malformed", { runbook: runbook.id, error: err.message }), options.onMalformed?.(err) ?? Effect.void),
              undefined
            )
          })
        )
      ),
      Stream.filter((s): s is S.Signal => s !== undefined),
      Stream.filter((s) => {
        const k = T.key(s.target)
        if (inFlight.has(k)) return false
        inFlight.add(k)
        return true
      }),
      Stream.mapEffect(
        (s) =>
          handle(runbook, s).pipe(
            Effect.tap(report),
            Effect.ensuring(Effect.sync(() => inFlight.delete(T.key(s.target))))
          ),
        { concurrency: options.concurrency ?? 4, unordered: true }
      ),
      Stream.runDrain
    )
    yield* FiberSet.awaitEmpty(waiters)
  }))
