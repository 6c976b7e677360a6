/**
 * The Executor interprets a Plan. It checks every step's guardrails (runbook-level and
 * action-kind) before the first write, so a plan that would be denied half-way is refused
 * before it starts; then, per step and just before it runs, it acquires the step's budget
 * atomically, releases it if a later guardrail of the step denies, and only then mints the
 * Permit the handler needs. `dry_run` checks (read-only), mints dry-run permits that only let
 * handlers validate, spends no budget and writes nothing to the store.
 *
 * In `auto` every step is journaled (intent → acquired → applied | failed | denied), so an
 * interrupted incident resumes at its next unfinished step: an applied step is never re-run,
 * and an acquired one is not acquired twice (no false rate-limit denial after a restart).
 *
 * What an earlier run did is read from the store, never from the caller: in `auto` the executor
 * reads the incident's journal by its id and takes the step entries journaled after the plan
 * (the `planned` entry with this plan's digest), each bound to the digest of the action at its
 * path. A step acquired but not journaled as applied is never re-run blindly: the handler's
 * `observe` decides — applied is journaled without a second mutation; not applied re-checks the
 * `never` and approval guardrails (`recheckOnResume`) and re-runs with a fresh permit; unknown,
 * or no `observe`, escalates "interrupted, outcome unknown". A handler the registry hands out
 * that was not built by `ActionHandler.make` is denied.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Duration, Effect } from "effect"
import * as A from "./Action"
import * as ActionHandler from "./ActionHandler"
import { ActionRegistry } from "./ActionRegistry"
import type { ChangeProposal } from "./ChangeProposal"
import type { Classification } from "./Classification"
import type { DecisionRecord } from "./Decision"
import type { FactsJson } from "./Fact"
import { type Acquisition, denialDetail, type Guardrail, type GuardrailContext, type GuardrailResult, reasonWithoutName } from "./Guardrail"
import { type Epoch, GuardrailStore, type JournalEntry, staleEpochOf } from "./GuardrailStore"
import { IncidentBus } from "./IncidentBus"
import { causeText } from "./internal/cause"
import * as HandOff from "./internal/handOff"
import { isMade } from "./internal/handlers"
import * as Journal from "./internal/journal"
import * as Simulated from "./internal/simulatedStore"
import * as TimedUndoStore from "./internal/timedUndo"
import type { JsonObject } from "./Json"
import { Leadership } from "./Leadership"
import type { Outcome, OutcomeStatus } from "./Outcome"
import * as Permit from "./Permit"
import * as P from "./Plan"
import type { Signal } from "./Signal"
import * as TargetRef from "./TargetRef"
import type { CheckResult } from "./Verdict"

/** What the executor needs to run one plan. */
export interface ExecuteInput {
  readonly incidentId: string
  readonly runbook: string
  readonly mode: "dry_run" | "auto"
  readonly signal: Signal
  readonly classification: Classification
  readonly facts: FactsJson
  readonly plan: P.Plan
  readonly baseline: JsonObject
  /** Runbook-level guardrails (their requirements already bound). */
  readonly guardrails: ReadonlyArray<Guardrail<never>>
  /** How long a minted permit stays valid beyond the action's timeout (default 60 s). */
  readonly permitGraceMs?: number
  /** When set, only the pre-check runs (used to decide about approval without acting). */
  readonly checkOnly?: boolean
  /**
   * The root step's path (default "0"). A second plan of the same incident (the undo plan) uses
   * its own root ("undo") so its journal entries never collide with the main plan's.
   */
  readonly rootPath?: string
}

/** How a plan run ended. */
export type ExecuteStatus = "completed" | "denied" | "awaiting_approval" | "failed" | "escalated"

/** Everything the run produced. */
export interface ExecuteResult {
  readonly status: ExecuteStatus
  readonly planDigest: string
  readonly decisions: ReadonlyArray<DecisionRecord>
  readonly outcomes: ReadonlyArray<Outcome>
  readonly proposals: ReadonlyArray<ChangeProposal>
  readonly handoffs: ReadonlyArray<Signal>
  readonly escalations: ReadonlyArray<{ readonly reason: string; readonly nextSteps: ReadonlyArray<string> }>
  readonly applied: ReadonlyArray<A.Action>
  readonly lastAppliedAt?: number | undefined
  /** Why approval is needed (status awaiting_approval). */
  readonly approvalReason?: string | undefined
}

type StepResult = "ok" | "failed" | "denied" | "check_failed" | "escalated"

type PreDecision =
  | { readonly _tag: "Allow" }
  | { readonly _tag: "Deny"; readonly guardrail: string; readonly reason: string; readonly retryAfterMs?: number | undefined }
  | { readonly _tag: "NeedsApproval"; readonly guardrail: string; readonly reason: string }

/** Collects every CheckRef in a step tree. */
const checksOf = (step: P.Step): Array<P.CheckRef> => {
  switch (step._tag) {
    case "Seq":
      return step.steps.flatMap(checksOf)
    case "Until":
      return [step.check, ...step.steps.flatMap(checksOf)]
    case "WaitFor":
      return [step.check]
    case "Fallback":
      return [...(step.check ? [step.check] : []), ...checksOf(step.primary), ...checksOf(step.otherwise)]
    default:
      return []
  }
}

/**
 * The step entries of an earlier run of this plan in an incident's journal: those after the
 * first `planned` entry with the plan's digest, under the plan's root path. An Act step's
 * entries count only when they name the digest of the action at their path (an `acquired`
 * entry must; older entries without one are kept, as they only prevent acting again).
 */
const priorSteps = (
  journal: ReadonlyArray<JournalEntry>,
  planDigest: string,
  plan: P.Plan,
  rootPath: string
): ReadonlyArray<JournalEntry> => {
  const start = journal.findIndex((e) => e.type === "planned" && e.data["digest"] === planDigest)
  if (start < 0) return []
  const actions = new Map(P.actions(plan.root, rootPath).map(({ action, path }) => [path, A.digest(action)]))
  const under = (path: string) => path === rootPath || path.startsWith(`${rootPath}.`)
  return journal.slice(start + 1).filter((e) => {
    if (e.stepPath === undefined || !under(e.stepPath)) return false
    const expected = actions.get(e.stepPath)
    if (expected === undefined) return true
    const named = e.data["actionDigest"]
    return named === expected || (named === undefined && e.type !== "acquired")
  })
}

/** Runs a plan. Never fails: every problem becomes a decision, an outcome or a status. */
export const execute = (
  input: ExecuteInput
): Effect.Effect<ExecuteResult, never, GuardrailStore | ActionRegistry | IncidentBus> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore
    const registry = yield* ActionRegistry
    const bus = yield* IncidentBus
    const planDigest = P.digest(input.plan)
    const auto = input.mode === "auto"
    const decisions: Array<DecisionRecord> = []
    const outcomes: Array<Outcome> = []
    const proposals: Array<ChangeProposal> = []
    const handoffs: Array<Signal> = []
    const escalations: Array<{ reason: string; nextSteps: ReadonlyArray<string> }> = []
    const applied: Array<A.Action> = []
    let lastAppliedAt: number | undefined
    let permitSeq = 0

    // What an earlier, interrupted run already did: read from the store, never from the caller.
    const done = new Map<string, JournalEntry>() // applied | failed | denied | step
    const acquired = new Map<string, JournalEntry>()
    const rootPath = input.rootPath ?? "0"
    // A journal that cannot be read denies every step: never act without knowing what already ran.
    let journalUnreadable: string | undefined
    if (auto) {
      const read = yield* Effect.result(store.readJournal(input.incidentId))
      if (read._tag === "Failure") journalUnreadable = read.failure.message
      const journal = read._tag === "Success" ? read.success : []
      for (const e of priorSteps(journal, planDigest, input.plan, rootPath)) {
        if (e.type === "acquired") acquired.set(e.stepPath!, e)
        if (e.type === "applied" || e.type === "failed" || e.type === "denied" || e.type === "step") done.set(e.stepPath!, e)
      }
    }

    const now = Clock.currentTimeMillis
    const journalAt = (type: JournalEntry["type"], stepPath: string | undefined, data: JsonObject) =>
      Effect.flatMap(now, (at) =>
        auto ? Effect.asVoid(Journal.append(store, { incidentId: input.incidentId, at, type, stepPath, data })) : Effect.void
      )

    // With leader election (the Leadership service), only the leader starts a step, and its
    // guardrail acquires carry its term's epoch (fenced in the store).
    const leadership = yield* Effect.serviceOption(Leadership)
    let epoch: Epoch | undefined
    /** Whether this agent may start a step now (always without leader election); sets `epoch`. */
    const leads = Effect.gen(function*() {
      if (leadership._tag === "None") return true
      const term = yield* leadership.value.epoch
      epoch = term._tag === "Some" ? term.value : undefined
      return term._tag === "Some"
    })
    /**
     * Stops the run before a step: this agent does not lead (any more). Nothing more is written:
     * the incident stays open, as after a crash, for the leader to resume.
     */
    const stopNotLeading = (path: string, why: string) =>
      Effect.logWarning(`executor: incident ${input.incidentId}: step ${path} not started, not the leader: ${why}`).pipe(
        Effect.andThen(Effect.interrupt)
      )

    const ctxFor = (action: A.Action, stepPath: string, at: number): GuardrailContext => ({
      incidentId: input.incidentId,
      runbook: input.runbook,
      mode: input.mode,
      signal: input.signal,
      classification: input.classification,
      facts: input.facts,
      plan: input.plan,
      planDigest,
      // Fleets: an action's target is in its incident's cluster unless it names its own.
      action: input.signal.target.cluster === undefined || action.target.cluster !== undefined
        ? action
        : { ...action, target: TargetRef.inCluster(action.target, input.signal.target.cluster) },
      stepPath,
      now: at,
      baseline: input.baseline,
      ...(epoch !== undefined ? { epoch } : {})
    })

    const guardrailsFor = (action: A.Action): ReadonlyArray<Guardrail<never>> => [
      ...input.guardrails,
      ...(registry.handler(action.kind)?.guardrails ?? [])
    ]

    const record = (r: Omit<DecisionRecord, "at">) => Effect.map(now, (at) => void decisions.push({ ...r, at }))
    // A guardrail's acquire; one that fails (a store error, a defect) denies ("could not decide").
    const acquireOrDeny = (g: Guardrail<never>, ctx: GuardrailContext): Effect.Effect<Acquisition, never, GuardrailStore> =>
      g.acquire(ctx).pipe(
        Effect.catchCause((cause) =>
          Effect.succeed<Acquisition>({
            result: { _tag: "Deny", reason: `guardrail could not decide: ${causeText(cause)}` },
            release: Effect.void
          })
        )
      )
    // The decision record of an acquire that did not pass.
    const recordAcquireDeny = (action: A.Action, path: string, guardrail: string, reason: string, retryAfterMs: number | undefined) =>
      record({
        stepPath: path,
        actionKind: action.kind,
        idempotencyKey: action.idempotencyKey,
        phase: "acquire",
        decision: "deny",
        guardrail,
        reason,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {})
      })
    const outcome = (o: Omit<Outcome, "at">) => Effect.map(now, (at) => void outcomes.push({ ...o, at }))
    const acquiredDecision = (action: A.Action, path: string, permitId: string, reason?: string) =>
      record({
        stepPath: path,
        actionKind: action.kind,
        idempotencyKey: action.idempotencyKey,
        phase: "acquire",
        decision: "allow",
        ...(reason !== undefined ? { reason } : {}),
        permitId
      })

    // ---- 1. Pre-check: every action step, read-only, before the first write ----
    const pre = new Map<string, PreDecision>()
    const missingChecks = checksOf(input.plan.root).filter((c) => registry.check(c.kind) === undefined)
    for (const { path, action } of P.actions(input.plan.root, rootPath)) {
      if (done.has(path) || acquired.has(path)) {
        pre.set(path, { _tag: "Allow" })
        continue
      }
      const at = yield* now
      let decision: PreDecision = { _tag: "Allow" }
      if (journalUnreadable !== undefined) {
        decision = { _tag: "Deny", guardrail: "journal", reason: `the incident journal could not be read: ${journalUnreadable}` }
      } else if (!registry.handler(action.kind)) {
        decision = { _tag: "Deny", guardrail: "registry", reason: `no handler registered for action kind ${action.kind}` }
      } else if (!isMade(registry.handler(action.kind))) {
        decision = { _tag: "Deny", guardrail: "registry", reason: `the handler of ${action.kind} was not built by ActionHandler.make` }
      } else {
        let approval: PreDecision | undefined
        for (const g of guardrailsFor(action)) {
          const res: GuardrailResult = yield* g.check(ctxFor(action, path, at)).pipe(
            Effect.catchCause((cause) =>
              Effect.succeed<GuardrailResult>({ _tag: "Deny", reason: `guardrail could not decide: ${causeText(cause)}` })
            )
          )
          if (res._tag === "Deny") {
            decision = { _tag: "Deny", guardrail: g.name, reason: reasonWithoutName(g.name, res.reason), retryAfterMs: res.retryAfterMs }
            break
          }
          if (res._tag === "NeedsApproval" && !approval) approval = { _tag: "NeedsApproval", guardrail: g.name, reason: reasonWithoutName(g.name, res.reason) }
        }
        if (decision._tag === "Allow" && approval) decision = approval
      }
      pre.set(path, decision)
      yield* record({
        stepPath: path,
        actionKind: action.kind,
        idempotencyKey: action.idempotencyKey,
        phase: "check",
        decision: decision._tag === "Allow" ? "allow" : decision._tag === "Deny" ? "deny" : "needs_approval",
        ...(decision._tag !== "Allow" ? { guardrail: decision.guardrail, reason: decision.reason } : {}),
        ...(decision._tag === "Deny" && decision.retryAfterMs !== undefined ? { retryAfterMs: decision.retryAfterMs } : {})
      })
    }

    // ---- 1b. dry_run: what auto would deny (the plan's own consumption, simulated read-only) ----
    // Steps are walked as auto would walk them, every allowed action assumed to succeed: each
    // takes its budget from a simulated store (internal/simulatedStore) over the real one, so a
    // step past a cap is marked as auto would deny it; nothing is written to the real store.
    if (!auto && !input.checkOnly) {
      const sim = Simulated.simulate(store)
      const simAct = (action: A.Action, path: string): Effect.Effect<"ok" | "denied"> =>
        Effect.gen(function*() {
          const d = pre.get(path)
          if (d !== undefined && d._tag === "Deny") return "denied" as const
          const ctx = ctxFor(action, path, yield* now)
          const taken: Array<Acquisition> = []
          for (const g of guardrailsFor(action)) {
            const acq = yield* acquireOrDeny(g, ctx)
            if (acq.result._tag === "Deny") {
              yield* Effect.forEach([...taken, acq], (a) => Effect.ignore(a.release), { discard: true })
              const reason = `auto would deny: ${acq.result.reason}`
              pre.set(path, { _tag: "Deny", guardrail: g.name, reason, retryAfterMs: acq.result.retryAfterMs })
              yield* recordAcquireDeny(action, path, g.name, reason, acq.result.retryAfterMs)
              return "denied" as const
            }
            taken.push(acq)
          }
          return "ok" as const
        }).pipe(Effect.provideService(GuardrailStore, sim), Effect.catchCause(() => Effect.succeed("ok" as const)))
      const simWalk = (step: P.Step, path: string): Effect.Effect<"ok" | "denied" | "escalated"> =>
        Effect.gen(function*() {
          switch (step._tag) {
            case "Act":
              return yield* simAct(step.action, path)
            case "Seq":
            case "Until": {
              for (let i = 0; i < step.steps.length; i++) {
                const r = yield* simWalk(step.steps[i]!, `${path}.${i}`)
                if (r !== "ok") return r
              }
              return "ok" as const
            }
            case "Fallback": {
              const r = yield* simWalk(step.primary, `${path}.p`)
              return r === "denied" && step.on.includes("denied") ? yield* simWalk(step.otherwise, `${path}.o`) : r
            }
            case "Escalate":
              return "escalated" as const
            default:
              return "ok" as const
          }
        })
      yield* simWalk(input.plan.root, rootPath)
    }

    type Feas = "allow" | "deny" | "approval"
    const combine = (fs: ReadonlyArray<Feas>): Feas => (fs.includes("deny") ? "deny" : fs.includes("approval") ? "approval" : "allow")
    const feasible = (step: P.Step, path: string): Feas => {
      switch (step._tag) {
        case "Act": {
          const d = pre.get(path)
          return !d || d._tag === "Allow" ? "allow" : d._tag === "Deny" ? "deny" : "approval"
        }
        case "Seq":
        case "Until":
          return combine(step.steps.map((s, i) => feasible(s, `${path}.${i}`)))
        case "Fallback": {
          const p = feasible(step.primary, `${path}.p`)
          if (p === "deny" && step.on.includes("denied")) return feasible(step.otherwise, `${path}.o`)
          return p
        }
        default:
          return "allow"
      }
    }
    const overall: Feas = missingChecks.length > 0 ? "deny" : feasible(input.plan.root, rootPath)
    const result = (status: ExecuteStatus, extra: Partial<ExecuteResult> = {}): ExecuteResult => ({
      status,
      planDigest,
      decisions,
      outcomes,
      proposals,
      handoffs,
      escalations,
      applied,
      lastAppliedAt,
      ...extra
    })
    if (missingChecks.length > 0) {
      const at = yield* now
      decisions.push({
        stepPath: rootPath,
        actionKind: "check",
        idempotencyKey: missingChecks.map((c) => c.kind).join(","),
        phase: "check",
        decision: "deny",
        guardrail: "registry",
        reason: `no check registered for kind ${missingChecks.map((c) => c.kind).join(", ")}`,
        at
      })
    }
    if (auto && overall === "deny") return result("denied")
    if (auto && overall === "approval") {
      const reasons = [...pre.values()].flatMap((d) => (d._tag === "NeedsApproval" ? [d.reason] : []))
      return result("awaiting_approval", { approvalReason: reasons.join("; ") })
    }
    if (input.checkOnly) return result(overall === "allow" ? "completed" : overall === "deny" ? "denied" : "awaiting_approval")

    // ---- 2. Walk the tree ----
    const runCheck = (ref: P.CheckRef): Effect.Effect<CheckResult> =>
      Effect.gen(function*() {
        const c = registry.check(ref.kind)
        if (!c) return { name: ref.description, ok: false, detail: `no check registered for kind ${ref.kind}` }
        return yield* c.run(ref, { incidentId: input.incidentId, since: lastAppliedAt ?? (yield* now) })
      })

    const releaseAll = (acqs: ReadonlyArray<Acquisition>) =>
      Effect.forEach(acqs, (a) => Effect.ignore(a.release), { discard: true }).pipe(Effect.provideService(GuardrailStore, store))

    const act = (action: A.Action, path: string): Effect.Effect<StepResult> =>
      Effect.gen(function*() {
        const base = { stepPath: path, kind: action.kind, target: action.target, idempotencyKey: action.idempotencyKey }
        const prior = done.get(path)
        if (prior) {
          const status = prior.type === "applied" ? "applied" : prior.type === "denied" ? "denied" : "failed"
          if (status === "applied") {
            applied.push(action)
            lastAppliedAt = Math.max(lastAppliedAt ?? 0, prior.at)
          }
          outcomes.push({ ...base, status, detail: `${String(prior.data["detail"] ?? status)} (before resume)`, at: prior.at })
          return status === "applied" ? "ok" : status === "denied" ? "denied" : "failed"
        }
        const d = pre.get(path) ?? { _tag: "Allow" as const }
        if (d._tag === "Deny") {
          yield* outcome({ ...base, status: "denied", detail: denialDetail(d.guardrail, d.reason) })
          return "denied"
        }
        if (d._tag === "NeedsApproval") {
          // Only reachable in dry_run (auto stops before the walk).
          yield* outcome({ ...base, status: "skipped", detail: `would wait for approval: ${d.reason}` })
          return "ok"
        }
        const handler = registry.handler(action.kind)!
        const actionDigest = A.digest(action)
        if (!isMade(handler)) {
          yield* outcome({ ...base, status: "denied", detail: `registry: the handler of ${action.kind} was not built by ActionHandler.make` })
          return "denied"
        }
        if (!auto) {
          const at = yield* now
          const permit = Permit.mint(actionDigest, input.incidentId, at + action.timeout + (input.permitGraceMs ?? 60_000), "dry_run", `${input.incidentId}/${path}/dry-${++permitSeq}`)
          const r = yield* Effect.exit(handler.run(action, permit).pipe(Effect.timeout(Duration.millis(action.timeout))))
          if (r._tag === "Success") {
            yield* outcome({ ...base, status: "dry_run", detail: r.value.detail, result: r.value.result })
            return "ok"
          }
          yield* outcome({ ...base, status: "failed", detail: `dry run rejected: ${causeText(r.cause)}` })
          return "failed"
        }
        // auto: only the leader starts a step (with leader election)
        if (!(yield* leads)) return yield* stopNotLeading(path, "this agent does not lead now")
        // auto: intent → acquire → permit → run → applied | failed
        let permitId: string
        if (!acquired.has(path)) {
          yield* journalAt("intent", path, { kind: action.kind, idempotencyKey: action.idempotencyKey, actionDigest })
          const at = yield* now
          const ctx = ctxFor(action, path, at)
          const taken: Array<Acquisition> = []
          for (const g of guardrailsFor(action)) {
            const fenced = yield* Effect.exit(g.acquire(ctx))
            const stale = fenced._tag === "Failure" ? staleEpochOf(Cause.squash(fenced.cause)) : undefined
            if (stale !== undefined && leadership._tag === "Some") {
              // A newer leader wrote: step down, give back what this step took, act no more.
              yield* releaseAll(taken)
              const why = `the store refused epoch ${stale.epoch} of ${stale.scope} (a newer leader's is ${stale.highest}) at guardrail ${g.name}`
              yield* leadership.value.stepDown(why)
              return yield* stopNotLeading(path, why)
            }
            // a guardrail that fails (a store error, a defect) denies ("could not decide")
            const acq: Acquisition = fenced._tag === "Success"
              ? fenced.value
              : { result: { _tag: "Deny", reason: `guardrail could not decide: ${causeText(fenced.cause)}` }, release: Effect.void }
            if (acq.result._tag !== "Pass") {
              yield* releaseAll([...taken, acq])
              const own = reasonWithoutName(g.name, acq.result.reason)
              const reason = acq.result._tag === "Deny" ? own : `approval required: ${own}`
              yield* recordAcquireDeny(action, path, g.name, reason, acq.result._tag === "Deny" ? acq.result.retryAfterMs : undefined)
              yield* journalAt("denied", path, { guardrail: g.name, reason, detail: denialDetail(g.name, reason), actionDigest })
              yield* outcome({ ...base, status: "denied", detail: denialDetail(g.name, reason) })
              return "denied"
            }
            taken.push(acq)
          }
          permitId = `${input.incidentId}/${path}/${++permitSeq}`
          yield* journalAt("acquired", path, { permitId, actionDigest })
          yield* acquiredDecision(action, path, permitId)
        } else {
          // Acquired before the restart, not journaled as applied: never re-act blindly.
          const since = acquired.get(path)!.at
          const seen: ActionHandler.Observation = handler.observe
            ? yield* handler.observe(action, { incidentId: input.incidentId, since })
            : ActionHandler.unknown(`the ${action.kind} handler declares no observe`)
          if (seen._tag === "Applied") {
            const end = yield* now
            const detail = `observed applied after the restart: ${seen.detail}`
            yield* record({ stepPath: path, actionKind: action.kind, idempotencyKey: action.idempotencyKey, phase: "acquire", decision: "allow", reason: `budget acquired before the restart; ${detail}` })
            yield* journalAt("applied", path, { detail, result: { observed: true }, actionDigest })
            applied.push(action)
            lastAppliedAt = end
            outcomes.push({ ...base, status: "applied", detail, result: { observed: true }, at: end })
            return "ok"
          }
          if (seen._tag === "Unknown") {
            const reason = `${action.kind} (${action.description}) was interrupted, outcome unknown: ${seen.detail}`
            escalations.push({
              reason,
              nextSteps: [`check whether "${action.description}" took effect on ${action.target.kind} ${action.target.ref}, then finish or undo it by hand`]
            })
            yield* outcome({ ...base, status: "escalated", detail: `interrupted, outcome unknown: ${seen.detail}` })
            return "escalated"
          }
          // Not applied: the prohibitions and approvals are checked again before it runs.
          const at = yield* now
          for (const g of guardrailsFor(action).filter((g) => g.recheckOnResume === true)) {
            const res: GuardrailResult = yield* g.check(ctxFor(action, path, at)).pipe(
              Effect.catchCause((cause) => Effect.succeed<GuardrailResult>({ _tag: "Deny", reason: `guardrail could not decide: ${causeText(cause)}` }))
            )
            if (res._tag === "Pass") continue
            const own = reasonWithoutName(g.name, res.reason)
            const reason = res._tag === "Deny" ? own : `approval no longer holds: ${own}`
            yield* record({ stepPath: path, actionKind: action.kind, idempotencyKey: action.idempotencyKey, phase: "check", decision: res._tag === "Deny" ? "deny" : "needs_approval", guardrail: g.name, reason })
            yield* journalAt("denied", path, { guardrail: g.name, reason, detail: `${denialDetail(g.name, reason)} (on resume)`, actionDigest })
            yield* outcome({ ...base, status: "denied", detail: `${denialDetail(g.name, reason)} (on resume; ${seen.detail})` })
            return "denied"
          }
          permitId = `${input.incidentId}/${path}/resumed-${++permitSeq}`
          yield* acquiredDecision(action, path, permitId, `budget acquired before the restart; observed not applied: ${seen.detail}`)
        }
        const at = yield* now
        // A change with a TTL: its undo is journaled before the change is made (so a restart never loses it).
        const undo = handler.timedUndo?.(action)
        const undoId = `${input.incidentId}/${path}`
        if (undo) {
          yield* TimedUndoStore.schedule(store, { id: undoId, dueAt: at + undo.afterMs, action: undo.action, incidentId: input.incidentId, runbook: input.runbook, stepPath: path, scheduledAt: at, attempts: 0 })
        }
        const permit = Permit.mint(actionDigest, input.incidentId, at + action.timeout + (input.permitGraceMs ?? 60_000), "auto", permitId)
        const r = yield* Effect.exit(handler.run(action, permit).pipe(Effect.timeout(Duration.millis(action.timeout))))
        const end = yield* now
        if (undo && r._tag !== "Success") {
          // Cancelled only when the change is seen not to have happened (a timeout may have applied it).
          const seen = handler.observe ? yield* handler.observe(action, { incidentId: input.incidentId, since: at }) : ActionHandler.unknown("no observe")
          if (seen._tag === "NotApplied") yield* TimedUndoStore.cancel(store, undoId)
        }
        if (r._tag === "Success") {
          yield* journalAt("applied", path, { detail: r.value.detail, result: r.value.result, actionDigest })
          applied.push(action)
          lastAppliedAt = end
          outcomes.push({ ...base, status: "applied", detail: r.value.detail, result: r.value.result, at: end })
          return "ok"
        }
        const why = causeText(r.cause)
        yield* journalAt("failed", path, { detail: why, actionDigest })
        outcomes.push({ ...base, status: "failed", detail: why, at: end })
        return "failed"
      }).pipe(
        Effect.provideService(GuardrailStore, store),
        Effect.catchCause((cause) =>
          // not the leader (stopNotLeading): the run stops here, nothing more written
          Cause.hasInterruptsOnly(cause) ? Effect.interrupt : Effect.gen(function*() {
            // A journal write failed: never act without a journal.
            yield* outcome({
              stepPath: path,
              kind: action.kind,
              target: action.target,
              idempotencyKey: action.idempotencyKey,
              status: "failed",
              detail: `not run: ${causeText(cause)}`
            })
            return "failed" as const
          })
        )
      )

    const stepDone = (path: string, status: string) => Effect.ignore(journalAt("step", path, { status }))

    const walk = (step: P.Step, path: string): Effect.Effect<StepResult> =>
      Effect.gen(function*() {
        switch (step._tag) {
          case "Act":
            return yield* act(step.action, path)
          case "Seq": {
            for (let i = 0; i < step.steps.length; i++) {
              const r = yield* walk(step.steps[i]!, `${path}.${i}`)
              if (r !== "ok") return r
            }
            return "ok"
          }
          case "Fallback": {
            let r = yield* walk(step.primary, `${path}.p`)
            if (r === "ok" && step.on.includes("check") && step.check) {
              const c = yield* runCheck(step.check)
              yield* outcome({
                stepPath: `${path}.check`,
                kind: `check:${step.check.kind}`,
                target: step.check.target,
                status: c.ok ? "check_passed" : "check_failed",
                detail: `${step.check.description}: ${c.detail}`
              })
              if (!c.ok) r = "check_failed"
            }
            const on: ReadonlyArray<StepResult> = step.on.map((o) => (o === "check" ? "check_failed" : o))
            return on.includes(r) ? yield* walk(step.otherwise, `${path}.o`) : r
          }
          case "Until": {
            const checkNow = Effect.gen(function*() {
              const c = yield* runCheck(step.check)
              if (c.ok) {
                yield* outcome({
                  stepPath: path,
                  kind: `check:${step.check.kind}`,
                  target: step.check.target,
                  status: "check_passed",
                  detail: `${step.check.description}: ${c.detail}`
                })
              }
              return c
            })
            for (let i = 0; i < step.steps.length; i++) {
              if ((yield* checkNow).ok) return "ok"
              const r = yield* walk(step.steps[i]!, `${path}.${i}`)
              if (r !== "ok") return r
            }
            const last = yield* checkNow
            if (last.ok) return "ok"
            yield* outcome({
              stepPath: path,
              kind: `check:${step.check.kind}`,
              target: step.check.target,
              status: "check_failed",
              detail: `${step.check.description} still not met after every step: ${last.detail}`
            })
            return "check_failed"
          }
          case "WaitFor": {
            if (done.has(path)) return "ok"
            const base = { stepPath: path, kind: `wait:${step.check.kind}`, target: step.check.target }
            if (!auto) {
              const c = yield* runCheck(step.check)
              yield* outcome({ ...base, status: "dry_run", detail: `would wait up to ${Math.round(step.timeout / 1000)}s for ${step.check.description} (now: ${c.detail})` })
              return "ok"
            }
            const start = yield* now
            while (true) {
              const c = yield* runCheck(step.check)
              if (c.ok) {
                yield* outcome({ ...base, status: "check_passed", detail: `${step.check.description}: ${c.detail}` })
                yield* stepDone(path, "check_passed")
                return "ok"
              }
              const t = yield* now
              if (t - start >= step.timeout) {
                yield* outcome({ ...base, status: "check_failed", detail: `gave up after ${Math.round(step.timeout / 1000)}s: ${c.detail}` })
                return "failed"
              }
              yield* Effect.sleep(Duration.millis(Math.min(step.interval, step.timeout - (t - start))))
            }
          }
          case "HandOff": {
            // Publish, pass the lease on the same target, await the child's report: see internal/handOff.
            const h = yield* HandOff.runStep({ step, path, incidentId: input.incidentId, runbook: input.runbook, parentSignal: input.signal, auto }).pipe(
              Effect.provideService(GuardrailStore, store),
              Effect.provideService(IncidentBus, bus)
            )
            if (h.handoff) handoffs.push(h.handoff)
            if (h.escalation) escalations.push(h.escalation)
            if (h.childAt !== undefined) lastAppliedAt = Math.max(lastAppliedAt ?? 0, h.childAt)
            yield* outcome(h.outcome)
            return h.result
          }
          case "Propose": {
            proposals.push(step.proposal)
            yield* outcome({ stepPath: path, kind: "propose", target: step.proposal.target, status: "proposed", detail: step.proposal.title })
            return "ok"
          }
          case "Escalate": {
            escalations.push({ reason: step.reason, nextSteps: step.nextSteps })
            yield* outcome({ stepPath: path, kind: "escalate", target: input.signal.target, status: "escalated", detail: step.reason })
            return "escalated"
          }
        }
      })

    const r = yield* walk(input.plan.root, rootPath)
    const status: ExecuteStatus = r === "ok" ? "completed" : r === "denied" ? "denied" : r === "escalated" ? "escalated" : "failed"
    return result(status)
  })

/** The statuses an outcome of an Act step can have. */
export type ActStatus = Extract<OutcomeStatus, "applied" | "dry_run" | "failed" | "denied" | "skipped">
