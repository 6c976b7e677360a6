/**
 * One incident from lease to verdict: lease the target, diagnose, take the baseline, classify,
 * plan, execute (check every step, acquire just before each), then verify. Shared by `handle`
 * (a new incident) and `resume` (an interrupted or paused one). Internal.
 *
 * @since 0.1.0
 * @internal
 */
import { Cause, Clock, Duration, Effect, Option } from "effect"
import * as AgentId from "../AgentId"
import { ApprovalChannel } from "../approval/Channel"
import * as Executor from "../Executor"
import * as Fact from "../Fact"
import { denialDetail } from "../Guardrail"
import { GuardrailStore, staleEpochOf } from "../GuardrailStore"
import { Leadership } from "../Leadership"
import { causeText } from "../internal/cause"
import * as HandOff from "../internal/handOff"
import { toJson } from "../internal/journal"
import * as ApprovalRecord from "../guardrails/approvalRecord"
import * as Json from "../Json"
import type { JsonObject } from "../Json"
import { Notifier } from "../Notifier"
import * as P from "../Plan"
import * as T from "../TargetRef"
import type { HandleResult, Runbook, Services } from "./Definition"
import { escalate, fallbackReport, finish, undo } from "./Close"
import { bindGuardrails, factsJson, heldIncident, journalAppend, leaseKey, leaseParents, baselineKey, mark, type ResumePoint, type State, storeUnreachable } from "./State"
import { verifyAndClose } from "./Verification"

/** Runs one incident from diagnosis (or a resume point) to its close: diagnose, classify, plan, guard, execute, verify. */
export const runIncident = <F, R>(
  runbook: Runbook<F, R>,
  st: State<F>,
  resume: ResumePoint | undefined
): Effect.Effect<HandleResult, never, R | Services> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore
    const notifier = yield* Notifier
    const target = st.signal.target
    const auto = st.mode === "auto"

    // 1. Lease on the target, in every mode: observe and dry_run write nothing to the target and
    // spend no budget, but a lease in the store is not a write to the target — it de-duplicates
    // them too (one incident per target per cooldown; later signals are `duplicate` of it).
    // Only auto journals the incident.
    {
      const now = yield* Clock.currentTimeMillis
      const agent = yield* AgentId.current
      // A hand-off child claims its hand-off once and takes over a lease its parent passed to it.
      const claimed = yield* HandOff.claim(st.signal, st.incidentId, runbook.id)
      if (claimed._tag === "ClaimedBy") {
        yield* mark(st, "close", `hand-off already taken by incident ${claimed.incidentId}`)
        return yield* finish(runbook, st, "duplicate", { heldBy: claimed.incidentId, reportBack: false })
      }
      st.leaseHolder = claimed.holder
      // with leader election the target lease carries the leader's epoch (a newer leader's takes it over)
      const leadership = yield* Effect.serviceOption(Leadership)
      const epoch = leadership._tag === "Some" ? Option.getOrUndefined(yield* leadership.value.epoch) : undefined
      const leased = yield* Effect.result(store.acquireLease({
        ...(epoch !== undefined ? { epoch } : {}),
        key: leaseKey(target),
        holder: st.leaseHolder ?? AgentId.holder(agent, st.incidentId),
        ttlMs: Duration.toMillis(runbook.leaseTtl),
        now,
        parents: leaseParents(target),
        data: { runbook: runbook.id, incidentId: st.incidentId, agent, ...(claimed.passedFrom ? { passedFrom: claimed.passedFrom } : {}) }
      }))
      // Store unreachable: fail closed. Observe continues (diagnose, classify, report) without a
      // lease or journal; no step starts and the escalation says why.
      st.storeDown = leased._tag === "Failure" ? storeUnreachable(leased.failure) : undefined
      if (leased._tag === "Failure" && st.storeDown === undefined) return yield* leased.failure
      if (st.storeDown !== undefined) yield* mark(st, "diagnose", `${st.storeDown}: observing only, no step starts`)
      const lease = leased._tag === "Success" ? leased.success : undefined
      if (lease?._tag === "Held") {
        const heldBy = heldIncident(lease.lease)
        const by = typeof lease.lease.data["agent"] === "string" ? ` (agent ${lease.lease.data["agent"]})` : ""
        yield* mark(st, "close", `target is held by incident ${heldBy}${by} until ${new Date(lease.lease.expiresAt).toISOString()}`)
        return yield* finish(runbook, st, "duplicate", { heldBy })
      }
      if (!resume) {
        yield* journalAppend(st, "opened", {
          runbook: runbook.id,
          targetKey: T.key(target),
          signal: toJson(st.signal),
          mode: st.mode
        })
      } else {
        yield* mark(st, "resume", `resumed from the journal (${resume.entries.length} entries)`)
      }
    }

    // 2. Diagnose (a resumed incident with a plan keeps its recorded facts).
    const recordedFacts = resume?.plan ? resume.entries.find((e) => e.type === "diagnosed")?.data["facts"] : undefined
    if (recordedFacts && !resume?.awaiting) {
      st.facts = recordedFacts as unknown as Fact.Facts<F>
    } else {
      st.facts = yield* runbook.diagnose(st.signal)
      const unknown = Fact.unknownKeys(st.facts)
      yield* mark(
        st,
        "diagnose",
        `${Object.keys(st.facts as object).length} facts` + (unknown.length ? `; unknown: ${unknown.join(", ")}` : "")
      )
      yield* journalAppend(st, "diagnosed", { facts: factsJson(st.facts) as unknown as JsonObject })
    }

    // 3. Baseline for ceilings (first lease-holder's view of the target, kept across incidents).
    let baseline: JsonObject = {}
    if (auto && st.storeDown === undefined) {
      const now = yield* Clock.currentTimeMillis
      const key = baselineKey(target)
      const existing = yield* store.get(key)
      const current = existing?.value as { baseline: JsonObject; expiresAt: number } | undefined
      if (current && current.expiresAt > now) baseline = current.baseline
      else {
        baseline = toJson(runbook.baseline(st.facts)) ?? {}
        const expiresAt = now + Duration.toMillis(runbook.leaseTtl) + Duration.toMillis(runbook.cooldown)
        const ok = yield* store.compareAndSet(key, existing?.version ?? 0, { baseline, expiresAt })
        if (!ok) {
          const again = yield* store.get(key)
          baseline = ((again?.value as any)?.baseline ?? baseline) as JsonObject
        }
      }
    } else {
      baseline = toJson(runbook.baseline(st.facts)) ?? {}
    }

    // 4. Classify (pure).
    if (!(resume?.plan && !resume.awaiting && st.classification)) {
      st.classification = runbook.classify(st.facts)
    }
    const cls = st.classification!
    yield* mark(
      st,
      "classify",
      cls._tag === "Classified"
        ? `${cls.class} (confidence ${cls.confidence.toFixed(2)})`
        : cls._tag === "Indeterminate"
        ? `indeterminate: ${cls.reasons[0] ?? ""}`
        : `unclassified: ${cls.reasons[0] ?? ""}`
    )
    yield* journalAppend(st, "classified", { classification: toJson(cls) })

    if (st.mode === "observe") return yield* finish(runbook, st, "observed")
    if (st.storeDown !== undefined) {
      return yield* escalate(runbook, st, `${st.storeDown}; no step started (fail closed)`, "critical", [
        "restore the connection to the GuardrailStore; the next signal on this target runs normally"
      ])
    }
    if (cls._tag !== "Classified") {
      return yield* escalate(runbook, st, cls._tag === "Indeterminate" ? `indeterminate: ${cls.reasons.join("; ")}` : `unclassified: ${cls.reasons.join("; ")}`, "warning")
    }

    // 5. Plan.
    let plan = resume?.plan && !resume.awaiting ? resume.plan : yield* runbook.remediate(cls, st.facts, st.signal)
    const invalidPlan = P.problem(plan)
    if (invalidPlan) return yield* escalate(runbook, st, `the plan cannot be encoded: ${invalidPlan.message}`, "warning")
    // A resumed pause: approval binds to the plan it was asked for. When the fresh diagnosis plans
    // the same actions and only their concurrency tokens moved (a precondition such as the
    // workload's resourceVersion, which a status update bumps, and the idempotency key derived
    // from it), the journaled plan stands: its digest is the one approved, and each handler
    // checks its precondition against the live object when it applies.
    if (resume?.awaiting && resume.awaitingPlan && P.digest(plan) !== resume.awaiting.planDigest && intentDigest(plan) === intentDigest(resume.awaitingPlan)) {
      plan = resume.awaitingPlan
      yield* mark(st, "approval", `the fresh diagnosis plans the same actions (only their preconditions moved): the journaled plan ${resume.awaiting.planDigest.slice(0, 12)} stands`)
    }
    st.plan = plan
    st.planDigest = P.digest(plan)
    yield* mark(st, "plan", plan.summary)
    if (resume?.expectDigest !== undefined && resume.expectDigest !== st.planDigest) {
      return yield* escalate(
        runbook,
        st,
        `cannot resume: the journaled plan ${resume.expectDigest.slice(0, 12)} was redacted (it carried a secret) and the plan rebuilt from a fresh diagnosis differs (${st.planDigest.slice(0, 12)})`,
        "warning",
        ["check what the interrupted plan already applied (see the journal) and finish it by hand"]
      )
    }
    if (!(resume?.plan && !resume.awaiting)) yield* journalAppend(st, "planned", { plan: toJson(plan), digest: st.planDigest })

    // 6. Approval bookkeeping for a resumed pause.
    if (resume?.awaiting) {
      const now = yield* Clock.currentTimeMillis
      if (resume.awaiting.planDigest !== st.planDigest) {
        // Approved, but the fresh diagnosis plans something else: the approval is never carried
        // over to the new plan, and the approved one is not run against facts that no longer
        // hold. Nothing is applied; a human decides (the next signal opens a new incident).
        const record = yield* ApprovalRecord.read(st.incidentId)
        if (record._tag === "Found" && record.record.planDigest === resume.awaiting.planDigest && record.record.expiresAt > now) {
          return yield* escalate(
            runbook,
            st,
            `plan changed since approval: plan ${resume.awaiting.planDigest.slice(0, 12)} was approved by ${record.record.approver}, the fresh diagnosis plans ${st.planDigest.slice(0, 12)} (${plan.summary}); nothing was applied`,
            "warning",
            ["compare the approved plan (journal: awaiting_approval) with the new one", "handle the target by hand, or let the next signal open a new incident and approve its plan"]
          )
        }
        yield* mark(st, "approval", "the plan changed since approval was requested: asking again")
      } else if (now > resume.awaiting.expiresAt) {
        return yield* escalate(runbook, st, `approval timed out at ${new Date(resume.awaiting.expiresAt).toISOString()}`, "warning")
      }
    }

    // 7. Execute.
    const bound = yield* bindGuardrails(runbook.guardrails)
    const res = yield* Executor.execute({
      incidentId: st.incidentId,
      runbook: runbook.id,
      mode: st.mode === "auto" ? "auto" : "dry_run",
      signal: st.signal,
      classification: cls,
      facts: factsJson(st.facts),
      plan,
      baseline,
      guardrails: bound
      // No journal entries are passed: the executor reads what an interrupted run did from the store.
    })
    st.decisions.push(...res.decisions)
    st.outcomes.push(...res.outcomes)
    st.proposals.push(...res.proposals)
    if (res.decisions.length > 0) {
      const count = (phase: string, decision: string) => res.decisions.filter((d) => d.phase === phase && d.decision === decision).length
      const parts = [
        `checked ${res.decisions.filter((d) => d.phase === "check").length} step(s): ${count("check", "allow")} allowed, ${count("check", "deny")} denied, ${count("check", "needs_approval")} need approval`,
        ...(res.decisions.some((d) => d.phase === "acquire")
          ? [`acquired ${count("acquire", "allow")}, refused ${count("acquire", "deny")}`]
          : [])
      ]
      st.timeline.push({ at: res.decisions[0]!.at, phase: "guardrails", message: parts.join("; ") })
    }
    for (const d of res.decisions) {
      if (d.decision !== "allow") st.timeline.push({ at: d.at, phase: "guardrails", message: `${d.actionKind}: ${d.decision} by ${denialDetail(d.guardrail, d.reason)}` })
    }
    for (const o of res.outcomes) {
      yield* Effect.sync(() =>
        st.timeline.push({
          at: o.at,
          phase: o.status === "handed_off" ? "handoff" : o.status === "proposed" ? "propose" : "act",
          message: `${o.kind}: ${o.status} — ${o.detail}`
        })
      )
    }

    if (st.mode === "dry_run") {
      yield* notifier.postPlan({
        incidentId: st.incidentId,
        runbook: runbook.id,
        plan,
        planDigest: st.planDigest,
        rendered: P.render(plan),
        decisions: res.decisions,
        outcomes: res.outcomes
      })
      return yield* finish(runbook, st, "dry_run")
    }

    if (res.status === "awaiting_approval") {
      const now = yield* Clock.currentTimeMillis
      const expiresAt = resume?.awaiting && resume.awaiting.planDigest === st.planDigest
        ? resume.awaiting.expiresAt
        : now + Duration.toMillis(runbook.approvalTimeout)
      const reason = res.approvalReason ?? "approval required"
      if (!(resume?.awaiting && resume.awaiting.planDigest === st.planDigest)) {
        yield* journalAppend(st, "awaiting_approval", { planDigest: st.planDigest, expiresAt, reason })
        const channel = yield* Effect.serviceOption(ApprovalChannel)
        const how = channel._tag === "Some"
          ? `\nApprove (${channel.value.name}): ${channel.value.instructions({ incidentId: st.incidentId, runbook: runbook.id, planDigest: st.planDigest, expiresAt })}`
          : ""
        yield* notifier.postPlan({
          incidentId: st.incidentId,
          runbook: runbook.id,
          plan,
          planDigest: st.planDigest,
          rendered: `${P.render(plan)}\n\nApproval needed (${reason}). Approve digest ${st.planDigest} before ${new Date(expiresAt).toISOString()}.${how}`,
          decisions: res.decisions,
          outcomes: res.outcomes
        })
      }
      yield* mark(st, "approval", `waiting for approval of plan ${st.planDigest.slice(0, 12)}: ${reason}`)
      return {
        _tag: "AwaitingApproval" as const,
        incidentId: st.incidentId,
        runbook: runbook.id,
        plan,
        planDigest: st.planDigest,
        reason,
        expiresAt
      }
    }
    if (res.status === "denied") {
      const denials = res.decisions.filter((d) => d.decision === "deny").map((d) => `${d.actionKind} denied by ${denialDetail(d.guardrail, d.reason)}`)
      return yield* escalate(runbook, st, `guardrails denied the plan: ${denials.join("; ")}`, "warning")
    }
    if (res.status === "escalated") {
      const reasons = res.escalations.map((e) => e.reason)
      return yield* escalate(runbook, st, reasons.join("; "), "warning", res.escalations.flatMap((e) => e.nextSteps))
    }
    if (res.status === "failed") {
      yield* undo(runbook, st, res.applied, cls, baseline)
      return yield* escalate(runbook, st, `the plan failed: ${res.outcomes.filter((o) => o.status === "failed" || o.status === "check_failed").map((o) => o.detail).join("; ")}`, "critical")
    }

    return yield* verifyAndClose(runbook, st, cls, plan, res, baseline)
  }).pipe(
    Effect.catchCause((cause) => {
      // Not the leader (the executor stopped before a step): the run stops, the incident stays open.
      if (Cause.hasInterruptsOnly(cause)) return Effect.interrupt
      // A store refused this leader's epoch (a newer leader wrote): step down and stop likewise.
      const stale = staleEpochOf(Cause.squash(cause))
      if (stale !== undefined) {
        return Effect.serviceOption(Leadership).pipe(
          Effect.flatMap((l) => (l._tag === "Some" ? l.value.stepDown(`the store refused epoch ${stale.epoch} of ${stale.scope} (a newer leader's is ${stale.highest})`) : Effect.void)),
          Effect.andThen(Effect.interrupt)
        )
      }
      // Any other failure (a store error, a defect in user code) becomes an escalation, never a crash.
      return escalate(runbook, st, `runbook failed: ${causeText(cause)}`, "critical").pipe(
        Effect.catchCause(() => Effect.succeed(fallbackReport(runbook, st, causeText(cause))))
      )
    })
  )

const isAction = (v: object): boolean => "kind" in v && "params" in v && "idempotencyKey" in v && "precondition" in v

/** Drops each action's concurrency tokens (`precondition`, and the `idempotencyKey` derived from it) from a JSON value. */
const withoutTokens = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(withoutTokens)
    : v !== null && typeof v === "object"
    ? Object.fromEntries(
      Object.entries(v).filter(([k]) => !(isAction(v) && (k === "precondition" || k === "idempotencyKey"))).map(([k, x]) => [k, withoutTokens(x)])
    )
    : v

/** What a plan does, without the concurrency tokens its handlers check at apply: two plans with one intent act alike. */
const intentDigest = (plan: P.Plan): string => Json.digest(withoutTokens(plan))
