/**
 * The mutable record of one incident run and the helpers every stage shares (journal writes,
 * timeline marks, lease and baseline keys). Internal: not part of the package's exports.
 *
 * @since 0.1.0
 * @internal
 */
import { randomBytes } from "node:crypto"
import { Clock, Effect } from "effect"
import { bindGuardrail } from "../ActionRegistry"
import * as C from "../Classification"
import type { DecisionRecord } from "../Decision"
import type { Attachment, Escalation } from "../Escalation"
import * as Fact from "../Fact"
import type { Guardrail } from "../Guardrail"
import { GuardrailStore, type JournalEntry, type LeaseInfo } from "../GuardrailStore"
import * as Journal from "../internal/journal"
import { toJson } from "../internal/journal"
import type { Mode, TimelineEntry } from "../IncidentReport"
import type { JsonObject } from "../Json"
import type { Outcome } from "../Outcome"
import * as P from "../Plan"
import * as S from "../Signal"
import * as T from "../TargetRef"
import type { Verdict } from "../Verdict"

/** A fresh incident id: time in base 36 plus 4 random bytes. */
export const newIncidentId = (now: number): string => `inc_${now.toString(36)}_${randomBytes(4).toString("hex")}`

/** Facts as JSON for the journal and the report (Unknown keeps its reason). */
export const factsJson = (facts: Fact.Facts<any>): Fact.FactsJson =>
  Object.fromEntries(
    Object.entries(facts as Record<string, Fact.Fact<unknown>>).map(([k, f]) => [
      k,
      f._tag === "Known" ? { _tag: "Known" as const, value: toJson(f.value) } : { _tag: "Unknown" as const, probe: f.probe, reason: f.reason }
    ])
  )

/** The mutable record of one incident run, turned into a report at the end. */
export interface State<F> {
  incidentId: string
  mode: Mode
  signal: S.Signal
  facts: Fact.Facts<F>
  classification?: C.Classification | undefined
  plan?: P.Plan | undefined
  planDigest?: string | undefined
  decisions: Array<DecisionRecord>
  outcomes: Array<Outcome>
  verdicts: Array<Verdict>
  proposals: Array<import("../ChangeProposal").ChangeProposal>
  children: Array<string>
  timeline: Array<TimelineEntry>
  escalation?: Escalation | undefined
  postmortem?: JsonObject | undefined
  startedAt: number
  /** The lease holder a hand-off child adopted from its parent (the lease passed without a gap). */
  leaseHolder?: string | undefined
  /** Why the store could not be reached when the incident began (`store unreachable: …`): it then observes only, writes nothing and starts no step. */
  storeDown?: string | undefined
}

/** Whether a store failure means the store cannot be reached (`store unreachable: …`, as PgStore reports it). */
export const storeUnreachable = (error: unknown): string | undefined => {
  const message = (error as { readonly _tag?: unknown; readonly message?: unknown } | null)?.message
  return (error as { readonly _tag?: unknown } | null)?._tag === "StoreError" && typeof message === "string" && message.startsWith("store unreachable")
    ? message
    : undefined
}

/** The lease key that serialises incidents on one target. */
export const leaseKey = (target: T.TargetRef) => leaseKeyOf(T.key(target))
/** The lease keys of a target's ancestors, nearest first: its lease excludes theirs (hierarchical leases). */
export const leaseParents = (target: T.TargetRef): Array<string> => T.ancestors(target).map(leaseKey)
/** The lease key for a target key already rendered by `TargetRef.key`. */
export const leaseKeyOf = (targetKey: string) => `target:${targetKey}`
/** The incident a lease is held for (older leases named only the incident as holder). */
export const heldIncident = (lease: LeaseInfo): string =>
  typeof lease.data["incidentId"] === "string" ? lease.data["incidentId"] : lease.holder
/** The store key of a target's pre-action baseline. */
export const baselineKey = (target: T.TargetRef) => `baseline:${T.key(target)}`

/** Appends one entry to the incident's journal at the current clock time. */
export const journalAppend = (st: State<any>, type: JournalEntry["type"], data: JsonObject, stepPath?: string) =>
  Effect.gen(function*() {
    if (st.mode !== "auto" || st.storeDown !== undefined) return
    const store = yield* GuardrailStore
    const at = yield* Clock.currentTimeMillis
    yield* Journal.append(store, { incidentId: st.incidentId, at, type, stepPath, data })
  })

/** Adds one line to the incident's timeline at the current clock time. */
export const mark = (st: State<any>, phase: TimelineEntry["phase"], message: string) =>
  Effect.map(Clock.currentTimeMillis, (at) => void st.timeline.push({ at, phase, message }))

/** What an interrupted incident had reached. */
export interface ResumePoint {
  readonly entries: ReadonlyArray<JournalEntry>
  readonly plan?: P.Plan | undefined
  readonly awaiting?: { readonly planDigest: string; readonly expiresAt: number; readonly reason: string } | undefined
  /** The journaled plan the pause asked approval for (its digest is `awaiting.planDigest`), when it reads back intact. */
  readonly awaitingPlan?: P.Plan | undefined
  /** The journaled plan read back redacted: the rebuilt plan must have this digest for its steps to resume. */
  readonly expectDigest?: string | undefined
}

/** Binds runbook guardrails to the current context so evaluation needs no further services. */
export const bindGuardrails = <R>(gs: ReadonlyArray<Guardrail<R>>) =>
  Effect.map(Effect.context<R>(), (ctx) => gs.map((g) => bindGuardrail(g, ctx)))

/** The attachments (logs, snapshots) the outcomes carry, for the escalation bundle. */
export const attachmentsOf = (outcomes: ReadonlyArray<Outcome>): Array<Attachment> =>
  outcomes.flatMap((o) => {
    const a = o.result?.["attachments"]
    return Array.isArray(a) ? (a as unknown as Array<Attachment>) : []
  })
