/**
 * How hand-offs keep their promises (internal: not part of the package's exports map).
 *
 * - Parent side (`runStep`, the executor's `HandOff` step): publishes the child signal with its
 *   hand-off id (`<incident id>/<step path>`); on the parent's own target it first marks its
 *   lease `passTo: <id>`, so the child can take the lease over without a gap; an awaited
 *   hand-off journals an `intent` with its deadline and waits for the child's report (from the
 *   bus, or from the child's journal after a restart), then journals the step with the child's
 *   result; a timeout escalates.
 * - Child side (`claim`): claims the hand-off id once in the store (a second delivery is a
 *   duplicate) and adopts the parent's lease holder when the lease was passed to it: renewing
 *   a lease under its own holder is atomic, so the target is never free in between.
 *
 * @since 0.2.0
 * @internal
 */
import { Clock, Duration, Effect, Option, Schema } from "effect"
import { GuardrailStore, type JournalEntry, type StoreError } from "../GuardrailStore"
import * as HandOffs from "../HandOffs"
import { IncidentBus } from "../IncidentBus"
import type { JsonObject } from "../Json"
import type { Outcome } from "../Outcome"
import type * as P from "../Plan"
import type { Signal } from "../Signal"
import * as T from "../TargetRef"
import { causeText } from "./cause"
import * as Journal from "./journal"

/** The store key under which a child claims a hand-off id. */
export const claimKey = (handOff: string) => `handoff:${handOff}`

const leaseKeyOf = (target: T.TargetRef) => `target:${T.key(target)}`
const heldIncident = (data: JsonObject, holder: string): string => typeof data["incidentId"] === "string" ? data["incidentId"] : holder

/** Whether the incident's outcomes passed its lease to a child that has not reported back (its close must not renew it). */
export const leasePassed = (outcomes: ReadonlyArray<Outcome>): boolean =>
  outcomes.some((o) => o.kind === "handoff" && o.result?.["leasePassed"] === true)

/** What the child's claim found. */
export type Claim =
  | { readonly _tag: "Own"; readonly holder?: string | undefined; readonly passedFrom?: string | undefined }
  | { readonly _tag: "ClaimedBy"; readonly incidentId: string }

/**
 * Claims a hand-off for a child incident (auto mode): the first incident to claim the id owns
 * it; any other is a duplicate delivery. When the parent passed its lease to this hand-off,
 * returns the parent's lease holder: the child renews the lease under it (atomically, no gap).
 * A resumed child finds its own claim and the holder it adopted.
 */
export const claim = (
  signal: Signal,
  incidentId: string,
  runbook: string
): Effect.Effect<Claim, StoreError, GuardrailStore> =>
  Effect.gen(function*() {
    const link = signal.parent
    if (link?.handOff === undefined) return { _tag: "Own" }
    const store = yield* GuardrailStore
    const key = claimKey(link.handOff)
    const first = yield* store.compareAndSet(key, 0, { incidentId, runbook })
    if (!first) {
      const current = yield* store.get(key)
      const value = (current?.value ?? {}) as JsonObject
      if (value["incidentId"] !== incidentId) return { _tag: "ClaimedBy", incidentId: String(value["incidentId"] ?? "?") }
      return typeof value["holder"] === "string" ? { _tag: "Own", holder: value["holder"], passedFrom: link.incidentId } : { _tag: "Own" }
    }
    const lease = yield* store.getLease(leaseKeyOf(signal.target))
    const now = yield* Clock.currentTimeMillis
    if (
      lease !== undefined && lease.expiresAt > now && lease.data["passTo"] === link.handOff &&
      heldIncident(lease.data, lease.holder) === link.incidentId
    ) {
      yield* store.compareAndSet(key, 1, { incidentId, runbook, holder: lease.holder })
      return { _tag: "Own", holder: lease.holder, passedFrom: link.incidentId }
    }
    return { _tag: "Own" }
  })

/** Marks the parent's live lease on `target` as passed to hand-off `id` (same expiry); false when the parent does not hold it. */
const markPass = (incidentId: string, target: T.TargetRef, id: string) =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore
    const now = yield* Clock.currentTimeMillis
    const key = leaseKeyOf(target)
    const lease = yield* store.getLease(key)
    if (lease === undefined || lease.expiresAt <= now || heldIncident(lease.data, lease.holder) !== incidentId) return false
    const r = yield* store.acquireLease({ key, holder: lease.holder, ttlMs: lease.expiresAt - now, now, data: { ...lease.data, passTo: id } })
    return r._tag === "Acquired"
  })

const decodeChildOption = Schema.decodeUnknownOption(HandOffs.ChildResult)
const decodeChild = (u: unknown): HandOffs.ChildResult | undefined => Option.getOrUndefined(decodeChildOption(u))

/** The child's result as its journal recorded it (after a restart the bus has forgotten it). */
export const storedChildResult = (handOff: string): Effect.Effect<HandOffs.ChildResult | undefined, never, GuardrailStore> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore
    const claimed = yield* store.get(claimKey(handOff))
    const childId = (claimed?.value as JsonObject | undefined)?.["incidentId"]
    if (typeof childId !== "string") return undefined
    const entries = yield* store.readJournal(childId)
    const closed = entries.find((e) => e.type === "closed")
    const report = closed?.data["report"] as JsonObject | undefined
    if (report === undefined) return undefined
    const verdicts = Array.isArray(report["verdicts"]) ? report["verdicts"] : []
    const escalation = report["escalation"] as JsonObject | undefined
    return decodeChild({
      handOff,
      signalType: (report["signal"] as JsonObject | undefined)?.["type"],
      target: (report["signal"] as JsonObject | undefined)?.["target"],
      incidentId: childId,
      runbook: report["runbook"],
      status: report["status"],
      ...(verdicts.length > 0 ? { verdict: verdicts[verdicts.length - 1] } : {}),
      ...(escalation ? { reason: escalation["reason"] } : {}),
      at: report["endedAt"]
    })
  }).pipe(Effect.catch(() => Effect.succeed(undefined)))

/** What the HandOff step produced, for the executor to record. */
export interface StepResult {
  readonly result: "ok" | "escalated"
  readonly outcome: Omit<Outcome, "at">
  readonly handoff?: Signal | undefined
  readonly escalation?: { readonly reason: string; readonly nextSteps: ReadonlyArray<string> } | undefined
  /** When the awaited child ended (the parent's verification window starts there). */
  readonly childAt?: number | undefined
}

const fmt = (ms: number) => Duration.format(Duration.millis(ms))

/** Runs one HandOff step of a plan (see the module doc). Never fails. */
export const runStep = (args: {
  readonly step: Extract<P.Step, { readonly _tag: "HandOff" }>
  readonly path: string
  readonly incidentId: string
  readonly runbook: string
  readonly parentSignal: Signal
  readonly auto: boolean
  /** How often the store is polled for an awaited child's result (default 5 s). */
  readonly pollMs?: number
}): Effect.Effect<StepResult, never, GuardrailStore | IncidentBus> => {
  const { step, path, incidentId } = args
  const id = `${incidentId}/${path}`
  const child: Signal = {
    ...step.signal,
    parent: { incidentId, runbook: args.runbook, hop: (args.parentSignal.parent?.hop ?? 0) + 1, handOff: id }
  }
  const where = `${child.type} on ${child.target.kind} ${child.target.ref}`
  const base = { stepPath: path, kind: "handoff", target: child.target }
  const awaitMs = step.await
  const byHand = [`handle ${child.type} on ${child.target.ref} by hand`]
  const handedOff = (leasePassed: boolean): StepResult => ({
    result: "ok",
    handoff: child,
    outcome: { ...base, status: "handed_off", detail: `${child.type} → ${child.target.kind} ${child.target.ref}: ${step.reason}`, result: { handOff: id, leasePassed } }
  })
  const reported = (c: HandOffs.ChildResult, note = ""): StepResult => ({
    result: "ok",
    handoff: child,
    childAt: c.at,
    outcome: {
      ...base,
      status: "handed_off",
      detail: `${child.type} → ${child.target.kind} ${child.target.ref}: child incident ${c.incidentId ?? "(none)"} ended ${c.status}${c.reason ? ` (${c.reason})` : ""}${note}`,
      result: { handOff: id, child: c as unknown as JsonObject }
    }
  })
  const timedOut = (leasePassed: boolean, note = ""): StepResult => ({
    result: "escalated",
    handoff: child,
    escalation: { reason: `awaited hand-off ${where} timed out after ${fmt(awaitMs ?? 0)}: no report from the child incident`, nextSteps: byHand },
    outcome: { ...base, status: "escalated", detail: `no report within ${fmt(awaitMs ?? 0)}${note}`, result: { handOff: id, leasePassed } }
  })
  const refused = (why: string): StepResult => ({
    result: "escalated",
    escalation: { reason: `hand-off refused: ${why}`, nextSteps: byHand },
    outcome: { ...base, status: "escalated", detail: why }
  })
  if (!args.auto) {
    return Effect.succeed({
      result: "ok",
      outcome: {
        ...base,
        status: "dry_run",
        detail: `would hand off ${child.type}${awaitMs !== undefined ? ` and await the child's report up to ${fmt(awaitMs)}` : ""}: ${step.reason}`
      }
    })
  }
  return Effect.gen(function*() {
    const store = yield* GuardrailStore
    const bus = yield* IncidentBus
    const journal = (type: JournalEntry["type"], data: JsonObject) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) => Journal.append(store, { incidentId, at, type, stepPath: path, data }))
    const mine = (yield* store.readJournal(incidentId)).filter((e) => e.stepPath === path)
    const done = mine.find((e) => e.type === "step")
    if (done) {
      // Finished before a restart: rebuild its outcome, never publish twice.
      const r = (done.data["result"] ?? {}) as JsonObject
      const c = decodeChild(r["child"])
      switch (done.data["status"]) {
        case "child_reported":
          if (c) return reported(c, " (before resume)")
          break
        case "timed_out":
          return timedOut(r["leasePassed"] === true, " (before resume)")
        case "refused":
          return refused(String(done.data["detail"] ?? "refused"))
      }
      return handedOff(r["leasePassed"] === true)
    }
    const intent = mine.find((e) => e.type === "intent")
    let leasePassed: boolean
    let deadline: number | undefined
    if (intent) {
      // Published before a restart: wait on, until the journaled deadline.
      leasePassed = intent.data["leasePassed"] === true
      deadline = typeof intent.data["deadline"] === "number" ? intent.data["deadline"] : undefined
    } else {
      leasePassed = T.equals(child.target, args.parentSignal.target)
        ? yield* markPass(incidentId, child.target, id)
        : false
      const published = yield* Effect.exit(bus.publish(child))
      if (published._tag === "Failure") {
        const why = causeText(published.cause)
        yield* journal("step", { status: "refused", detail: why })
        return refused(why)
      }
      const now = yield* Clock.currentTimeMillis
      deadline = awaitMs !== undefined ? now + awaitMs : undefined
      yield* journal("intent", {
        handOff: id,
        signalType: child.type,
        targetKey: T.key(child.target),
        leasePassed,
        ...(deadline !== undefined ? { deadline } : {})
      })
    }
    if (awaitMs === undefined || deadline === undefined) {
      const r = handedOff(leasePassed)
      yield* journal("step", { status: "handed_off", result: r.outcome.result ?? {} })
      return r
    }
    // Await the child's report: from the bus (same process) or its journal (after a restart).
    const pollMs = args.pollMs ?? 5_000
    const fromStore = Effect.gen(function*() {
      while (true) {
        const c = yield* storedChildResult(id)
        if (c) return c
        yield* Effect.sleep(Duration.millis(pollMs))
      }
    })
    const now = yield* Clock.currentTimeMillis
    const remaining = deadline - now
    const got = remaining > 0
      ? yield* Effect.raceFirst(bus.awaitReport(id), fromStore).pipe(Effect.timeoutOption(Duration.millis(remaining)))
      : Option.fromUndefinedOr(yield* storedChildResult(id))
    if (got._tag === "Some") {
      const r = reported(got.value)
      yield* journal("step", { status: "child_reported", result: r.outcome.result ?? {} })
      return r
    }
    const r = timedOut(leasePassed)
    yield* journal("step", { status: "timed_out", result: r.outcome.result ?? {} })
    return r
  }).pipe(
    Effect.catchCause((cause) => Effect.succeed(refused(`the hand-off step could not run: ${causeText(cause)}`)))
  )
}
