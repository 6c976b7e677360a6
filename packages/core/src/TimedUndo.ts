/**
 * Timed undos: changes that must not outlive a TTL (debug logging switched on for 24 h) are
 * undone by BytePort itself, also across agent restarts. A handler declares `timedUndo`
 * (`ActionHandler.make`); before the change is made the Executor journals the undo in the
 * GuardrailStore (`byteport:timed-undo`, compare-and-swap, shared by every agent on the store)
 * and cancels it if the change fails and its `observe` sees it not made. `TimedUndo.runDue` runs the due undos through the
 * Executor (guardrails, a genuine permit and a journal of their own: incident
 * `timed-undo:<incident>/<step>`), and `TimedUndo.loop` does that whenever one falls due;
 * `Catalog.run` (so `Agent.run`) runs the loop.
 *
 * One agent runs a given undo: it first takes the lease `timed-undo:<id>`. A denied or failed
 * undo is retried (`retryAfter`, default 15 min) up to `maxAttempts` (default 3), then dropped
 * with an `escalated` journal entry and a `timed-undo.abandoned` audit event naming it. An undo
 * interrupted half-way resumes from its journal like any incident (the handler's `observe`).
 *
 * @example
 * ```ts
 * import { TimedUndo } from "@byteport/core"
 * // pending undos of the store, and run the due ones now
 * const pending = TimedUndo.pending
 * const ran = TimedUndo.runDue()
 * ```
 *
 * @since 0.3.0
 */
import { Clock, Duration, Effect } from "effect"
import { ActionRegistry } from "./ActionRegistry"
import * as AgentId from "./AgentId"
import * as Classification from "./Classification"
import * as Executor from "./Executor"
import { GuardrailStore, type StoreError } from "./GuardrailStore"
import { IncidentBus } from "./IncidentBus"
import * as Internal from "./internal/timedUndo"
import * as Journal from "./internal/journal"
import { Notifier } from "./Notifier"
import * as P from "./Plan"
import * as TargetRef from "./TargetRef"

/** One pending undo (see the module doc). */
export type Entry = Internal.Entry

/** The store key of the pending undos. */
export const STORE_KEY = Internal.KEY

/** The runbook name the undo incidents are journaled under. */
export const RUNBOOK = "byteport.timed-undo"

/** Options of `runDue` and `loop`. */
export interface Options {
  /** Delay before a denied or failed undo is tried again (default 15 minutes). */
  readonly retryAfter?: Duration.Input | undefined
  /** Attempts before an undo is abandoned (default 3). */
  readonly maxAttempts?: number | undefined
  /** How long the lease on one undo is held while it runs (default 10 minutes). */
  readonly leaseTtl?: Duration.Input | undefined
}

/** Options of `loop`. */
export interface LoopOptions extends Options {
  /** Re-read the store at least this often, for undos other agents scheduled (default 30 minutes). */
  readonly rescanEvery?: Duration.Input | undefined
}

/** What one undo run came to. */
export interface RunResult {
  readonly id: string
  readonly incidentId: string
  readonly status: Executor.ExecuteStatus | "held" | "abandoned"
  readonly detail: string
}

/** The undos pending in the store. */
export const pending: Effect.Effect<ReadonlyArray<Entry>, StoreError, GuardrailStore> = Effect.flatMap(GuardrailStore, (s) =>
  Effect.map(Internal.read(s), (r) => r.entries))

/** The incident id an undo runs under. */
export const incidentIdOf = (entry: Entry): string => `timed-undo:${entry.id}`

const ms = (d: Duration.Input | undefined, dflt: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(d ?? dflt))

const runOne = (entry: Entry, options: Options) =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore
    const notifier = yield* Notifier
    const agent = yield* AgentId.current
    const incidentId = incidentIdOf(entry)
    const now = yield* Clock.currentTimeMillis
    const lease = yield* store.acquireLease({ key: `timed-undo:${entry.id}`, holder: AgentId.holder(agent, incidentId), ttlMs: ms(options.leaseTtl, "10 minutes"), now })
    if (lease._tag === "Held") return { id: entry.id, incidentId, status: "held", detail: `another agent runs it (${lease.lease.holder})` } satisfies RunResult
    // Another agent may have run it between our read and our lease: only a still-pending, still-due entry runs.
    const still = (yield* Internal.read(store)).entries.find((e) => e.id === entry.id)
    if (still === undefined || still.dueAt > now || still.attempts !== entry.attempts) {
      yield* store.releaseLease(`timed-undo:${entry.id}`, AgentId.holder(agent, incidentId))
      return { id: entry.id, incidentId, status: "held", detail: "already run or rescheduled by another agent" } satisfies RunResult
    }
    const journal = yield* store.readJournal(incidentId)
    if (journal.length === 0) {
      yield* Journal.append(store, { incidentId, at: now, type: "opened", data: { runbook: RUNBOOK, targetKey: TargetRef.key(entry.action.target), undoOf: entry.id } })
    }
    const plan = P.make(RUNBOOK, "timed_undo", `undo of ${entry.incidentId} step ${entry.stepPath}: ${entry.action.description}`, P.act(entry.action))
    const r = yield* Executor.execute({
      incidentId,
      runbook: RUNBOOK,
      mode: "auto",
      signal: { type: "byteport.timed-undo.due", target: entry.action.target, observedAt: now, evidence: { undoOf: entry.id, scheduledAt: entry.scheduledAt, dueAt: entry.dueAt } },
      classification: Classification.classified("timed_undo", 1, [`the change of ${entry.incidentId} step ${entry.stepPath} reached its TTL`]),
      facts: {},
      plan,
      baseline: {},
      guardrails: []
    })
    const detail = r.outcomes.map((o) => `${o.status}: ${o.detail}`).join("; ")
    const end = yield* Clock.currentTimeMillis
    let status: RunResult["status"] = r.status
    if (r.status === "completed") {
      yield* Internal.cancel(store, entry.id)
      yield* Journal.append(store, { incidentId, at: end, type: "closed", data: { status: "undone", detail } })
    } else {
      const attempts = entry.attempts + 1
      if (attempts >= (options.maxAttempts ?? 3)) {
        status = "abandoned"
        yield* Internal.cancel(store, entry.id)
        yield* Journal.append(store, { incidentId, at: end, type: "escalated", data: { reason: `timed undo abandoned after ${attempts} attempts: ${detail}` } })
        yield* Journal.append(store, { incidentId, at: end, type: "closed", data: { status: "abandoned", detail } })
        yield* notifier.audit("timed-undo.abandoned", { id: entry.id, action: entry.action.description, target: TargetRef.key(entry.action.target), detail })
      } else {
        const retryAt = end + ms(options.retryAfter, "15 minutes")
        yield* Internal.update(store, (es) => [es.map((e) => (e.id === entry.id ? { ...e, attempts, dueAt: retryAt } : e)), undefined])
      }
    }
    yield* store.releaseLease(`timed-undo:${entry.id}`, AgentId.holder(agent, incidentId))
    return { id: entry.id, incidentId, status, detail } satisfies RunResult
  })

/** Runs every undo due now (each under its lease, through the Executor); returns what each came to. */
export const runDue = (options: Options = {}): Effect.Effect<ReadonlyArray<RunResult>, StoreError, GuardrailStore | ActionRegistry | IncidentBus | Notifier> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const due = (yield* pending).filter((e) => e.dueAt <= now).sort((a, b) => a.dueAt - b.dueAt)
    const out: Array<RunResult> = []
    for (const e of due) out.push(yield* runOne(e, options))
    return out
  })

/**
 * Runs the undos as they fall due, forever: sleeps (on the Effect Clock) until the earliest
 * pending one, waking when this process schedules another and re-reading the store at least
 * every `rescanEvery`. A store failure is logged and retried at the next wake-up.
 */
export const loop = (options: LoopOptions = {}): Effect.Effect<never, never, GuardrailStore | ActionRegistry | IncidentBus | Notifier> =>
  Effect.gen(function*() {
    const rescan = ms(options.rescanEvery, "30 minutes")
    let woken = false
    let wake: (() => void) | undefined
    const listener = () => {
      woken = true
      wake?.()
    }
    Internal.listeners.add(listener)
    yield* Effect.addFinalizer(() => Effect.sync(() => void Internal.listeners.delete(listener)))
    for (;;) {
      woken = false
      const next = yield* Effect.gen(function*() {
        yield* runDue(options)
        const es = yield* pending
        return es.reduce((m, e) => Math.min(m, e.dueAt), Number.POSITIVE_INFINITY)
      }).pipe(Effect.catchCause((cause) => Effect.as(Effect.logWarning("timed undo: run failed, retried at the next wake-up", cause), Number.POSITIVE_INFINITY)))
      if (woken) continue
      const now = yield* Clock.currentTimeMillis
      const sleepMs = Math.max(0, Math.min(next - now, rescan))
      yield* Effect.raceFirst(
        Effect.sleep(Duration.millis(sleepMs)),
        Effect.callback<void>((resume) => {
          wake = () => resume(Effect.void)
          if (woken) resume(Effect.void)
          return Effect.sync(() => {
            wake = undefined
          })
        })
      )
    }
  }).pipe(Effect.scoped)
