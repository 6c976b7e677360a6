/**
 * `Runbook.run`: the loop that consumes a runbook's detector stream and its hand-offs. It ends
 * only when interrupted (or, for a finite source with hand-offs off, when every element is
 * handled): a malformed element is recorded and skipped, a failing detector is reported and
 * restarted with backoff, a failing callback is logged.
 *
 * @since 0.1.0
 */
import { Clock, Effect, FiberSet, Stream } from "effect"
import * as AgentId from "../AgentId"
import type * as Backoff from "../Backoff"
import { GuardrailStore } from "../GuardrailStore"
import { IncidentBus } from "../IncidentBus"
import * as S from "../Signal"
import * as T from "../TargetRef"
import type { Any, HandleResult, MalformedSignal, Runbook, Services } from "./Definition"
import { isAwaitingApproval, owns } from "./Definition"
import { handle } from "./Handle"
import { follow, resume, type AwaitApprovalOptions } from "./Resume"
import { heldIncident, leaseKeyOf } from "./State"
import { audit, decodeElement, guarded, isInterruption, safeCauseText, supervise } from "./Supervise"

/** Options of `Runbook.run`. */
export interface RunOptions {
  /** How many incidents run at once (default 4). */
  readonly concurrency?: number
  /** Also take hand-off signals of the types this runbook owns from the IncidentBus (default true). */
  readonly handOffs?: boolean
  /** Resume this runbook's open incidents first (default true). */
  readonly resumeOpen?: boolean
  /** Called with every result (for the demo and tests). A callback that fails or dies is logged; the loop goes on. */
  readonly onResult?: (result: HandleResult) => Effect.Effect<void>
  /** Called with every malformed detector element. */
  readonly onMalformed?: (error: MalformedSignal) => Effect.Effect<void>
  /**
   * Paused incidents: wait for their approval and resume them (default, polling every 5 s), or
   * `false` to leave them paused for someone else to resume. Results are reported as they come:
   * the pause, then the final report.
   */
  readonly approvals?: AwaitApprovalOptions | false
  /** How a failing detector is restarted (default 1 s × 2^N, cap 60 s; the count resets once an element flows). */
  readonly detectorBackoff?: Backoff.Options
}

/**
 * Resumes the open incidents of `runbooks` (at agent start): another live agent's incident (its
 * lease on the target is unexpired) is left to it; an expired lease (its agent died) is taken
 * over by the resume, and our own is renewed. Each result goes to `report`. An open incident
 * whose runbook is not in `runbooks` is audited (`incident.unowned`) when `reportUnowned` is set.
 * Never fails: an unreadable store or a failing resume is audited.
 */
export const resumeOpenIncidents = <R>(
  runbooks: ReadonlyArray<Any<R>>,
  report: (runbook: Any<R>, result: HandleResult) => Effect.Effect<void, never, R | Services>,
  options: { readonly reportUnowned?: boolean } = {}
): Effect.Effect<void, never, R | Services> =>
  guarded("resuming open incidents", Effect.gen(function*() {
    const store = yield* GuardrailStore
    const listed = yield* Effect.result(store.listIncidents())
    if (listed._tag === "Failure") {
      yield* audit("incident.resume_failed", { error: listed.failure.message })
      return
    }
    const agent = yield* AgentId.current
    for (const inc of listed.success) {
      const runbook = runbooks.find((rb) => rb.id === inc.runbook)
      if (!runbook) {
        if (options.reportUnowned) yield* audit("incident.unowned", { runbook: inc.runbook, incidentId: inc.incidentId, target: inc.targetKey })
        continue
      }
      const lease = yield* store.getLease(leaseKeyOf(inc.targetKey)).pipe(Effect.orElseSucceed(() => undefined))
      const now = yield* Clock.currentTimeMillis
      // Ours: held under our token for it, or a lease a hand-off parent of ours passed to it (the
      // holder stays the parent's token, the lease names the child).
      const ours = lease !== undefined &&
        (lease.holder === AgentId.holder(agent, inc.incidentId) || (heldIncident(lease) === inc.incidentId && lease.holder.endsWith(`@${agent}`)))
      if (lease && lease.expiresAt > now && !ours) {
        yield* audit("incident.held", { runbook: runbook.id, incidentId: inc.incidentId, heldBy: heldIncident(lease), holder: lease.holder })
        continue
      }
      const r = yield* Effect.result(resume(runbook as unknown as Runbook<unknown, R>, inc.incidentId))
      if (r._tag === "Success") yield* report(runbook, r.success)
      else yield* audit("incident.resume_failed", { runbook: runbook.id, incidentId: inc.incidentId, error: r.failure.message })
    }
  }))

/** An element of the merged source: where it came from and the raw value. */
interface Element {
  readonly from: string
  readonly bus: boolean
  readonly raw: unknown
}

/**
 * Consumes the runbook's detector stream (and its hand-offs): decodes each element under a
 * handler that also catches defects (a malformed one is recorded as a typed `MalformedSignal`
 * and skipped), de-duplicates targets already in flight in this process (leases de-duplicate
 * across processes and modes), handles incidents with bounded concurrency. A detector that
 * fails or dies is reported (`detector.failed` audit and a warning log) and restarted with
 * backoff; the loop ends only when interrupted — or when its every source has ended (a finite
 * detector with `handOffs: false`), which is audited (`detector.ended`). An interrupted
 * incident resumes from its journal.
 */
export const run = <F, R>(
  runbook: Runbook<F, R>,
  options: RunOptions = {}
): Effect.Effect<void, never, R | Services> =>
  Effect.scoped(Effect.gen(function*() {
    const bus = yield* IncidentBus
    const userOnResult = options.onResult ?? (() => Effect.void)
    const onResult = (r: HandleResult) => guarded("onResult", userOnResult(r))
    const waiters = yield* FiberSet.make<void, never>()
    // Reports a result; a pause is followed (in its own fiber) until it is decided.
    const settle = (r: HandleResult) => follow(runbook, r, onResult, options.approvals === false ? {} : options.approvals ?? {})
    const report = (r: HandleResult): Effect.Effect<void, never, R | Services> =>
      isAwaitingApproval(r) && options.approvals !== false ? Effect.asVoid(FiberSet.run(waiters, settle(r))) : onResult(r)
    if (options.resumeOpen ?? true) yield* resumeOpenIncidents([runbook], (_, r) => report(r))
    const inFlight = new Set<string>()
    const name = runbook.detector?.name ?? "detector"
    const detector: Stream.Stream<Element, never, R | Services> = runbook.detector
      ? supervise(Stream.suspend(() => runbook.detector!.signals), { name, runbook: runbook.id, backoff: options.detectorBackoff }).pipe(
        Stream.map((raw): Element => ({ from: name, bus: false, raw }))
      )
      : Stream.empty
    const handOffs: Stream.Stream<Element, never, R | Services> = (options.handOffs ?? true)
      ? supervise(bus.signals, { name: "bus", runbook: runbook.id, backoff: options.detectorBackoff }).pipe(
        Stream.map((raw): Element => ({ from: "bus", bus: true, raw }))
      )
      : Stream.empty
    // Decodes one element; never fails or dies (undefined: skipped).
    const decode = (el: Element): Effect.Effect<S.Signal | undefined, never, R | Services> =>
      decodeElement(el.from, el.raw).pipe(
        Effect.map((s): S.Signal | undefined => (el.bus && !owns(runbook, s) ? undefined : s)),
        Effect.catch((err) =>
          Effect.as(
            Effect.andThen(
              audit("signal.malformed", { runbook: runbook.id, detector: err.detector, error: err.message }),
              options.onMalformed ? guarded("onMalformed", options.onMalformed(err)) : Effect.void
            ),
            undefined
          )
        ),
        Effect.catchCause((cause) =>
          isInterruption(cause)
            ? Effect.failCause(cause as never)
            : Effect.as(audit("signal.malformed", { runbook: runbook.id, detector: el.from, error: safeCauseText(cause) }), undefined)
        )
      )
    const incident = (s: S.Signal): Effect.Effect<void, never, R | Services> =>
      guarded(
        `runbook ${runbook.id}: incident on ${T.key(s.target)}`,
        handle(runbook, s).pipe(Effect.flatMap(report)),
        (error) => audit("incident.failed", { runbook: runbook.id, target: T.key(s.target), error })
      ).pipe(Effect.ensuring(Effect.sync(() => inFlight.delete(T.key(s.target)))))
    const consume = Stream.merge(detector, handOffs).pipe(
      Stream.mapEffect(decode),
      Stream.filter((s): s is S.Signal => s !== undefined),
      Stream.filter((s) => {
        const k = T.key(s.target)
        if (inFlight.has(k)) return false
        inFlight.add(k)
        return true
      }),
      Stream.mapEffect(incident, { concurrency: options.concurrency ?? 4, unordered: true }),
      Stream.runDrain
    )
    yield* loopUntilInterrupted(consume, { runbook: runbook.id })
    yield* FiberSet.awaitEmpty(waiters)
  }))

/**
 * Runs `consume` and, should it fail or die anyway (every element and callback is already
 * guarded: this is the last line), reports it (`run.loop_failed`) and starts it again after a
 * short backoff. Returns when `consume` ends normally; interruption passes through.
 * Internal (shared with `Catalog.run`).
 */
export const loopUntilInterrupted = <R>(
  consume: Effect.Effect<void, unknown, R>,
  ref: Record<string, unknown>
): Effect.Effect<void, never, R | Services> => {
  let attempt = 0
  const loop: Effect.Effect<void, never, R | Services> = Effect.suspend(() => consume).pipe(
    Effect.catchCause((cause) => {
      if (isInterruption(cause)) return Effect.failCause(cause as never)
      attempt++
      const delayMs = Math.min(60_000, 1_000 * 2 ** Math.min(attempt - 1, 6))
      return audit("run.loop_failed", { ...ref, attempt, restartInMs: delayMs, cause: safeCauseText(cause) }).pipe(
        Effect.andThen(Effect.sleep(delayMs)),
        Effect.andThen(Effect.suspend(() => loop))
      )
    })
  )
  return loop
}
