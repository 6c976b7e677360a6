/**
 * A Runbook composes the roles — Detector, Diagnoser, Classifier, Remediator, Verifier — with
 * runbook-level guardrails and escalation rules. `Runbook.handle` runs one incident and always
 * ends in an IncidentReport (any failure becomes an escalation inside it) or AwaitingApproval;
 * `Runbook.resume` continues a paused or interrupted incident from its journal; `Runbook.run`
 * consumes the detector stream with per-target leases, de-duplication, bounded concurrency and
 * clean interruption.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import { Clock, Config, Duration, Effect, FiberSet, Schema, Stream } from "effect"
import type { Action } from "./Action"
import { ActionRegistry, bindGuardrail } from "./ActionRegistry"
import * as AgentId from "./AgentId"
import { ApprovalChannel } from "./approval/Channel"
import * as ApprovalRecord from "./guardrails/approvalRecord"
import * as C from "./Classification"
import type { Detector } from "./Detector"
import type { Diagnoser } from "./Diagnoser"
import type { Classifier } from "./Classifier"
import type { DecisionRecord } from "./Decision"
import type { Attachment, Escalation, Severity } from "./Escalation"
import * as Executor from "./Executor"
import * as Fact from "./Fact"
import type { Guardrail } from "./Guardrail"
import { GuardrailStore, type JournalEntry, type LeaseInfo, type StoreError } from "./GuardrailStore"
import { IncidentBus } from "./IncidentBus"
import { causeText } from "./internal/cause"
import * as Journal from "./internal/journal"
import { toJson } from "./internal/journal"
import type { IncidentReport, Mode, Status, TimelineEntry } from "./IncidentReport"
import type { JsonObject } from "./Json"
import { Notifier } from "./Notifier"
import type { Outcome } from "./Outcome"
import * as P from "./Plan"
import * as S from "./Signal"
import * as T from "./TargetRef"
import type { Verdict } from "./Verdict"
import * as V from "./Verifier"

/** Builds the plan for a classified incident. */
export type Remediator<F, R = never> = (
  classification: C.Classified,
  facts: Fact.Facts<F>,
  signal: S.Signal
) => Effect.Effect<P.Plan, never, R>

/** A runbook definition. */
export interface Runbook<F = any, R = never> {
  /** Stable id ("k8s.oom.six-signal"): the config key, file name, fixtures folder and docs heading. */
  readonly id: string
  /** The family it belongs to ("k8s.oom"); a catalog enables one runbook per family by default. */
  readonly family: string
  readonly description: string
  /** The signal types this runbook owns (the catalog routes them here). */
  readonly signals: ReadonlyArray<string>
  /** Lower is more specific: ranked first when several runbooks own a target's signals. */
  readonly precedence: number
  readonly detector?: Detector<unknown, R> | undefined
  readonly diagnose: Diagnoser<F, R>
  readonly classify: Classifier<F>
  readonly remediate: Remediator<F, R>
  /** The verifier for a class (undefined: nothing to verify for that class). */
  readonly verify: (cls: string) => V.Verifier<F, R> | undefined
  readonly verifySchedule: (cls: string) => V.VerifySchedule
  /** Runbook-level guardrails (confidence, opt-ins …), applied to every action of its plans. */
  readonly guardrails: ReadonlyArray<Guardrail<R>>
  /** The target's baseline, taken when its lease is first acquired (ceilings are measured from it). */
  readonly baseline: (facts: Fact.Facts<F>) => JsonObject
  /** Suggested next steps for a human, per classification. */
  readonly nextSteps: (classification: C.Classification, facts: Fact.Facts<F>) => ReadonlyArray<string>
  /** Whether an escalation of this classification also opens a ticket. */
  readonly ticket: (classification: C.Classification) => boolean
  /** A postmortem section for the report (query fingerprints, permanent-fix advice …). */
  readonly postmortem?: ((input: PostmortemInput<F>) => Effect.Effect<JsonObject, never, R>) | undefined
  /** The mode when configuration says nothing (default dry_run). */
  readonly defaultMode: Mode
  /** How long the per-target lease is held (plan to verify) and the cooldown after it. */
  readonly leaseTtl: Duration.Duration
  readonly cooldown: Duration.Duration
  /** How long an approval request waits before it escalates. */
  readonly approvalTimeout: Duration.Duration
}

/** What a postmortem builder sees. */
export interface PostmortemInput<F> {
  readonly signal: S.Signal
  readonly facts: Fact.Facts<F>
  readonly classification: C.Classification
  readonly outcomes: ReadonlyArray<Outcome>
  readonly verdicts: ReadonlyArray<Verdict>
}

/** Options of `Runbook.make` (everything but id, family, signals, diagnose, classify and remediate has a default). */
export interface MakeOptions<F, R> {
  readonly id: string
  readonly family?: string
  readonly description?: string
  readonly signals: ReadonlyArray<string>
  readonly precedence?: number
  readonly detector?: Detector<unknown, R>
  readonly diagnose: Diagnoser<F, R>
  readonly classify: Classifier<F>
  readonly remediate: Remediator<F, R>
  /** One verifier for every class, or one per class. */
  readonly verify?: V.Verifier<F, R> | { readonly [cls: string]: V.Verifier<F, R> | undefined }
  /** One schedule for every class, or one per class (default: check, then retry once at 15 s). */
  readonly verifySchedule?: V.VerifySchedule | { readonly [cls: string]: V.VerifySchedule | undefined }
  readonly guardrails?: ReadonlyArray<Guardrail<R>>
  readonly baseline?: (facts: Fact.Facts<F>) => JsonObject
  readonly nextSteps?: (classification: C.Classification, facts: Fact.Facts<F>) => ReadonlyArray<string>
  readonly ticket?: (classification: C.Classification) => boolean
  readonly postmortem?: (input: PostmortemInput<F>) => Effect.Effect<JsonObject, never, R>
  readonly defaultMode?: Mode
  readonly leaseTtl?: Duration.Input
  readonly cooldown?: Duration.Input
  readonly approvalTimeout?: Duration.Input
}

/** Builds a runbook. */
export const make = <F, R = never>(o: MakeOptions<F, R>): Runbook<F, R> => {
  const isVerifier = (v: unknown): v is V.Verifier<F, R> => typeof v === "function"
  const isSchedule = (s: unknown): s is V.VerifySchedule => typeof s === "object" && s !== null && "offsets" in s
  return {
    id: o.id,
    family: o.family ?? o.id.split(".").slice(0, 2).join("."),
    description: o.description ?? o.id,
    signals: o.signals,
    precedence: o.precedence ?? 100,
    detector: o.detector,
    diagnose: o.diagnose,
    classify: o.classify,
    remediate: o.remediate,
    verify: (cls) => (o.verify === undefined ? undefined : isVerifier(o.verify) ? o.verify : o.verify[cls]),
    verifySchedule: (cls) =>
      o.verifySchedule === undefined
        ? V.schedules.retryOnceAt15s
        : isSchedule(o.verifySchedule)
        ? o.verifySchedule
        : o.verifySchedule[cls] ?? V.schedules.retryOnceAt15s,
    guardrails: o.guardrails ?? [],
    baseline: o.baseline ?? (() => ({})),
    nextSteps: o.nextSteps ?? (() => []),
    ticket: o.ticket ?? (() => false),
    postmortem: o.postmortem,
    defaultMode: o.defaultMode ?? "dry_run",
    leaseTtl: Duration.fromInputUnsafe(o.leaseTtl ?? "30 minutes"),
    cooldown: Duration.fromInputUnsafe(o.cooldown ?? "5 minutes"),
    approvalTimeout: Duration.fromInputUnsafe(o.approvalTimeout ?? "30 minutes")
  }
}

/** An incident paused for a human approval bound to `planDigest`. */
export interface AwaitingApproval {
  readonly _tag: "AwaitingApproval"
  readonly incidentId: string
  readonly runbook: string
  readonly plan: P.Plan
  readonly planDigest: string
  readonly reason: string
  readonly expiresAt: number
}

/** What `handle` and `resume` return. */
export type HandleResult = IncidentReport | AwaitingApproval

/** Whether a result is a pause for approval. */
export const isAwaitingApproval = (r: HandleResult): r is AwaitingApproval => "_tag" in r && r._tag === "AwaitingApproval"

/** The services every runbook needs besides its own. */
export type Services = GuardrailStore | ActionRegistry | IncidentBus | Notifier

/** The environment-variable suffix of a runbook id: `k8s.oom.six-signal` → `K8S_OOM_SIX_SIGNAL`. */
export const configSuffix = (id: string): string => id.toUpperCase().replace(/[^A-Z0-9]+/g, "_")

const readOption = (key: string) =>
  Effect.result(Effect.gen(function*() {
    return yield* Config.option(Config.String(key))
  }))

const modes: ReadonlyArray<Mode> = ["observe", "dry_run", "auto"]

/**
 * The runbook's mode, from configuration: `BYTEPORT_MODE_<ID>` (e.g. `BYTEPORT_MODE_K8S_OOM_SIX_SIGNAL=auto`),
 * else `BYTEPORT_MODE`, else the runbook's default. An invalid value falls back to `observe`, the safest mode.
 */
export const modeFor = (runbook: Runbook<any, any>): Effect.Effect<{ readonly mode: Mode; readonly warning?: string }> =>
  Effect.gen(function*() {
    for (const key of [`BYTEPORT_MODE_${configSuffix(runbook.id)}`, "BYTEPORT_MODE"]) {
      const raw = yield* readOption(key)
      if (raw._tag === "Failure") return { mode: "observe" as Mode, warning: `${key} could not be read: running in observe` }
      if (raw.success._tag === "None") continue
      const value = raw.success.value.trim()
      if ((modes as ReadonlyArray<string>).includes(value)) return { mode: value as Mode }
      return { mode: "observe" as Mode, warning: `${key}=${value} is not observe, dry_run or auto: running in observe` }
    }
    return { mode: runbook.defaultMode }
  })

const newIncidentId = (now: number): string => `inc_${now.toString(36)}_${randomBytes(4).toString("hex")}`

const factsJson = (facts: Fact.Facts<any>): Fact.FactsJson =>
  Object.fromEntries(
    Object.entries(facts as Record<string, Fact.Fact<unknown>>).map(([k, f]) => [
      k,
      f._tag === "Known" ? { _tag: "Known" as const, value: toJson(f.value) } : { _tag: "Unknown" as const, probe: f.probe, reason: f.reason }
    ])
  )

/** The mutable record of one incident run, turned into a report at the end. */
interface State<F> {
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
  proposals: Array<import("./ChangeProposal").ChangeProposal>
  children: Array<string>
  timeline: Array<TimelineEntry>
  escalation?: Escalation | undefined
  postmortem?: JsonObject | undefined
  startedAt: number
}

const leaseKey = (target: T.TargetRef) => leaseKeyOf(T.key(target))
const leaseKeyOf = (targetKey: string) => `target:${targetKey}`
/** The incident a lease is held for (older leases named only the incident as holder). */
const heldIncident = (lease: LeaseInfo): string =>
  typeof lease.data["incidentId"] === "string" ? lease.data["incidentId"] : lease.holder
const baselineKey = (target: T.TargetRef) => `baseline:${T.key(target)}`

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

const journalAppend = (st: State<any>, type: JournalEntry["type"], data: JsonObject, stepPath?: string) =>
  Effect.gen(function*() {
    if (st.mode !== "auto") return
    const store = yield* GuardrailStore
    const at = yield* Clock.currentTimeMillis
    yield* Journal.append(store, { incidentId: st.incidentId, at, type, stepPath, data })
  })

const mark = (st: State<any>, phase: TimelineEntry["phase"], message: string) =>
  Effect.map(Clock.currentTimeMillis, (at) => void st.timeline.push({ at, phase, message }))

/** What an interrupted incident had reached. */
interface ResumePoint {
  readonly entries: ReadonlyArray<JournalEntry>
  readonly plan?: P.Plan | undefined
  readonly awaiting?: { readonly planDigest: string; readonly expiresAt: number; readonly reason: string } | undefined
  /** The journaled plan read back redacted: the rebuilt plan must have this digest for its steps to resume. */
  readonly expectDigest?: string | undefined
}

const runIncident = <F, R>(
  runbook: Runbook<F, R>,
  st: State<F>,
  resume: ResumePoint | undefined
): Effect.Effect<HandleResult, never, R | Services> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore
    const notifier = yield* Notifier
    const target = st.signal.target
    const auto = st.mode === "auto"

    // 1. Lease on the target (auto only: observe and dry_run write nothing).
    if (auto) {
      const now = yield* Clock.currentTimeMillis
      const agent = yield* AgentId.current
      const lease = yield* store.acquireLease({
        key: leaseKey(target),
        holder: AgentId.holder(agent, st.incidentId),
        ttlMs: Duration.toMillis(runbook.leaseTtl),
        now,
        data: { runbook: runbook.id, incidentId: st.incidentId, agent }
      })
      if (lease._tag === "Held") {
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
    if (auto) {
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
    if (cls._tag !== "Classified") {
      return yield* escalate(runbook, st, cls._tag === "Indeterminate" ? `indeterminate: ${cls.reasons.join("; ")}` : `unclassified: ${cls.reasons.join("; ")}`, "warning")
    }

    // 5. Plan.
    const plan = resume?.plan && !resume.awaiting ? resume.plan : yield* runbook.remediate(cls, st.facts, st.signal)
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
      guardrails: bound,
      resumeFrom: resume?.entries
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
      if (d.decision !== "allow") st.timeline.push({ at: d.at, phase: "guardrails", message: `${d.actionKind}: ${d.decision} by ${d.guardrail}: ${d.reason}` })
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
      const denials = res.decisions.filter((d) => d.decision === "deny").map((d) => `${d.actionKind} denied by ${d.guardrail}: ${d.reason}`)
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

    // 8. Verify.
    if (res.applied.length === 0) {
      if (res.proposals.length > 0) {
        return yield* escalate(runbook, st, `change proposed for review: ${res.proposals.map((p) => p.title).join("; ")}`, "info", [], "proposed")
      }
      if (res.handoffs.length > 0) {
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
      const status = res.handoffs.length > 0 ? "handed_off" : "recovered"
      if (rejected.length > 0) return yield* escalate(runbook, st, rejectedText, "warning", rejectedSteps, status)
      return yield* finish(runbook, st, status)
    }
    const schedule = runbook.verifySchedule(cls.class)
    const since = res.lastAppliedAt ?? (yield* Clock.currentTimeMillis)
    yield* mark(st, "verify", `verifying (${schedule.description}) from ${new Date(since).toISOString()}`)
    const verdicts = yield* V.runSchedule(verifier, schedule, {
      incidentId: st.incidentId,
      signal: st.signal,
      facts: st.facts,
      classification: cls,
      plan,
      outcomes: st.outcomes,
      applied: res.applied,
      since
    })
    st.verdicts.push(...verdicts)
    for (const v of verdicts) {
      yield* journalAppend(st, "verdict", { verdict: toJson(v) })
      yield* Effect.sync(() =>
        st.timeline.push({ at: v.at, phase: "verify", message: v._tag === "Recovered" ? "recovered" : `${v._tag}: ${v.reason}` })
      )
    }
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
  }).pipe(
    Effect.catchCause((cause) =>
      // Any failure (a store error, a defect in user code) becomes an escalation, never a crash.
      escalate(runbook, st, `runbook failed: ${causeText(cause)}`, "critical").pipe(
        Effect.catchCause(() => Effect.succeed(fallbackReport(runbook, st, causeText(cause))))
      )
    )
  )

const bindGuardrails = <R>(gs: ReadonlyArray<Guardrail<R>>) =>
  Effect.map(Effect.context<R>(), (ctx) => gs.map((g) => bindGuardrail(g, ctx)))

/** Runs the undo actions of what was applied, in reverse order (their own guardrails apply). */
const undo = <F, R>(
  runbook: Runbook<F, R>,
  st: State<F>,
  applied: ReadonlyArray<Action>,
  cls: C.Classification,
  baseline: JsonObject
) =>
  Effect.gen(function*() {
    const undos = [...applied].reverse().flatMap((a) => (a.undo ? [a.undo] : []))
    if (undos.length === 0) return
    yield* mark(st, "act", `undoing ${undos.length} action(s)`)
    const plan = P.make(runbook.id, "undo", `undo ${undos.length} action(s)`, P.seq(...undos.map(P.act)))
    // Same incident (its journal is open), own root path: undo steps never collide with the plan's.
    const res = yield* Executor.execute({
      incidentId: st.incidentId,
      runbook: runbook.id,
      mode: "auto",
      signal: st.signal,
      classification: cls,
      facts: factsJson(st.facts),
      plan,
      baseline,
      guardrails: [],
      rootPath: "undo"
    })
    st.decisions.push(...res.decisions)
    st.outcomes.push(...res.outcomes)
    for (const o of res.outcomes) {
      st.timeline.push({ at: o.at, phase: "act", message: `undo ${o.kind}: ${o.status} — ${o.detail}` })
    }
  })

const attachmentsOf = (outcomes: ReadonlyArray<Outcome>): Array<Attachment> =>
  outcomes.flatMap((o) => {
    const a = o.result?.["attachments"]
    return Array.isArray(a) ? (a as unknown as Array<Attachment>) : []
  })

const escalate = <F, R>(
  runbook: Runbook<F, R>,
  st: State<F>,
  reason: string,
  severity: Severity,
  extraSteps: ReadonlyArray<string> = [],
  status: Status = "escalated"
): Effect.Effect<HandleResult, never, R | Services> =>
  Effect.gen(function*() {
    const notifier = yield* Notifier
    const at = yield* Clock.currentTimeMillis
    const classification = st.classification
    const nextSteps = [...extraSteps, ...(classification ? runbook.nextSteps(classification, st.facts) : [])]
    // observe and dry_run never page: what would have escalated goes to the ops channel (info).
    const auto = st.mode === "auto"
    const escalation: Escalation = {
      incidentId: st.incidentId,
      runbook: runbook.id,
      reason: auto ? reason : `[${st.mode}] ${reason}`,
      severity: auto ? severity : "info",
      signal: st.signal,
      facts: factsJson(st.facts),
      ...(classification ? { classification } : {}),
      ...(st.plan ? { plan: st.plan } : {}),
      decisions: st.decisions,
      outcomes: st.outcomes,
      verdicts: st.verdicts,
      nextSteps: nextSteps.length ? nextSteps : ["investigate the target and decide on a fix"],
      proposals: st.proposals,
      attachments: attachmentsOf(st.outcomes),
      at
    }
    st.escalation = escalation
    yield* mark(st, "escalate", `${escalation.severity}: ${escalation.reason}`)
    yield* journalAppend(st, "escalated", { reason, severity }).pipe(Effect.ignore)
    yield* notifier.escalate(escalation)
    if (auto && classification && runbook.ticket(classification)) yield* notifier.ticket(escalation)
    return yield* finish(runbook, st, status)
  })

const finish = <F, R>(
  runbook: Runbook<F, R>,
  st: State<F>,
  status: Status | "duplicate",
  extra: { readonly heldBy?: string } = {}
): Effect.Effect<IncidentReport, never, R | Services> =>
  Effect.gen(function*() {
    const notifier = yield* Notifier
    const endedAt = yield* Clock.currentTimeMillis
    if (runbook.postmortem && st.classification && status !== "duplicate") {
      st.postmortem = yield* runbook.postmortem({
        signal: st.signal,
        facts: st.facts,
        classification: st.classification,
        outcomes: st.outcomes,
        verdicts: st.verdicts
      })
    }
    if (status !== "duplicate") yield* mark(st, "close", `closed: ${status}`)
    const report: IncidentReport = {
      incidentId: st.incidentId,
      runbook: runbook.id,
      mode: st.mode,
      status: status === "duplicate" ? "duplicate" : status,
      ...(st.signal.parent ? { parent: st.signal.parent } : {}),
      signal: st.signal,
      facts: factsJson(st.facts),
      ...(st.classification ? { classification: st.classification } : {}),
      ...(st.plan ? { plan: st.plan, planDigest: st.planDigest! } : {}),
      decisions: st.decisions,
      outcomes: st.outcomes,
      verdicts: st.verdicts,
      proposals: st.proposals,
      ...(st.escalation ? { escalation: st.escalation } : {}),
      children: st.children,
      timeline: [...st.timeline].sort((a, b) => a.at - b.at),
      ...(st.postmortem ? { postmortem: st.postmortem } : {}),
      ...(extra.heldBy ? { duplicateOf: extra.heldBy } : {}),
      startedAt: st.startedAt,
      endedAt
    }
    if (status !== "duplicate" && st.mode === "auto") {
      const store = yield* GuardrailStore
      yield* journalAppend(st, "closed", { status, report: toJson(report) }).pipe(Effect.ignore)
      // Keep the target leased through the cooldown.
      const agent = yield* AgentId.current
      yield* store.acquireLease({
        key: leaseKey(st.signal.target),
        holder: AgentId.holder(agent, st.incidentId),
        ttlMs: Duration.toMillis(runbook.cooldown),
        now: endedAt,
        data: { runbook: runbook.id, incidentId: st.incidentId, agent, cooldown: true }
      }).pipe(Effect.ignore)
    }
    yield* notifier.report(report)
    return report
  })

const fallbackReport = (runbook: Runbook<any, any>, st: State<any>, why: string): IncidentReport => ({
  incidentId: st.incidentId,
  runbook: runbook.id,
  mode: st.mode,
  status: "escalated",
  signal: st.signal,
  facts: {},
  decisions: st.decisions,
  outcomes: st.outcomes,
  verdicts: st.verdicts,
  proposals: st.proposals,
  children: [],
  timeline: [...st.timeline, { at: Date.now(), phase: "escalate", message: `escalation could not be delivered: ${why}` }],
  startedAt: st.startedAt,
  endedAt: Date.now()
})

/**
 * Continues an incident from its journal: a paused one re-diagnoses and asks again if its plan
 * changed (or escalates when the approval timed out); an interrupted one resumes at its next
 * unfinished step without re-acting and without spending budget twice; a closed one returns
 * its recorded report.
 */
export const resume = <F, R>(
  runbook: Runbook<F, R>,
  incidentId: string
): Effect.Effect<HandleResult, IncidentNotFound, R | Services> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore
    const entries = yield* store.readJournal(incidentId).pipe(
      Effect.mapError((e) => new IncidentNotFound({ incidentId, message: `journal unreadable: ${e.message}` }))
    )
    const opened = entries.find((e) => e.type === "opened")
    if (!opened) return yield* new IncidentNotFound({ incidentId, message: `no journal for incident ${incidentId}` })
    if (opened.data["runbook"] !== runbook.id) {
      return yield* new IncidentNotFound({ incidentId, message: `incident ${incidentId} belongs to runbook ${String(opened.data["runbook"])}` })
    }
    const closed = entries.find((e) => e.type === "closed")
    if (closed) return closed.data["report"] as unknown as IncidentReport
    const signal = yield* S.decode(opened.data["signal"]).pipe(
      Effect.mapError((e) => new IncidentNotFound({ incidentId, message: `journaled signal is invalid: ${e.message}` }))
    )
    const plannedEntries = entries.filter((e) => e.type === "planned")
    const planned = plannedEntries[plannedEntries.length - 1]
    const awaitingEntries = entries.filter((e) => e.type === "awaiting_approval")
    const lastAwaiting = awaitingEntries[awaitingEntries.length - 1]
    const now = yield* Clock.currentTimeMillis
    const classified = [...entries].reverse().find((e) => e.type === "classified")
    const st: State<F> = {
      incidentId,
      mode: "auto",
      signal,
      facts: {} as Fact.Facts<F>,
      classification: classified ? (classified.data["classification"] as unknown as C.Classification) : undefined,
      decisions: [],
      outcomes: [],
      verdicts: [],
      proposals: [],
      children: [],
      timeline: [{ at: opened.at, phase: "detect", message: `${signal.type} on ${signal.target.kind} ${signal.target.ref}` }],
      startedAt: opened.at
    }
    for (const e of entries) {
      if (e.type === "awaiting_approval") {
        st.timeline.push({ at: e.at, phase: "approval", message: `paused for approval of plan ${String(e.data["planDigest"]).slice(0, 12)}: ${String(e.data["reason"] ?? "")}` })
      }
      if (e.type === "approved") {
        st.timeline.push({ at: e.at, phase: "approval", message: `plan ${String(e.data["planDigest"]).slice(0, 12)} approved by ${String(e.data["approver"])}` })
      }
    }
    const stepStarted = entries.some((e) => e.stepPath !== undefined && planned !== undefined && e.seq > planned.seq)
    const awaiting = lastAwaiting && (!planned || lastAwaiting.seq > planned.seq) && !stepStarted
      ? {
        planDigest: String(lastAwaiting.data["planDigest"]),
        expiresAt: Number(lastAwaiting.data["expiresAt"]),
        reason: String(lastAwaiting.data["reason"])
      }
      : undefined
    // The journal is redacted: a plan that carried a secret reads back changed (its digest no
    // longer matches the journaled one). Such a plan is rebuilt from a fresh diagnosis and its
    // steps resume only if the rebuilt plan has the journaled digest.
    const journaledDigest = planned ? String(planned.data["digest"]) : undefined
    const readBack = planned ? yield* Effect.option(Effect.try(() => P.fromJson(JSON.stringify(planned.data["plan"])))) : undefined
    const plan = readBack?._tag === "Some" && P.digest(readBack.value) === journaledDigest ? readBack.value : undefined
    const rebuild = planned !== undefined && plan === undefined && !awaiting ? journaledDigest : undefined
    return yield* runIncident(runbook, st, { entries, plan: awaiting ? undefined : plan, awaiting, expectDigest: rebuild })
  })

/** Options of `awaitApproval`. */
export interface AwaitApprovalOptions {
  /** How often the store is polled for an approval (default 5 s). */
  readonly pollEvery?: Duration.Input
}

/**
 * Waits until a paused incident is approved for its plan digest (the record the `approval`
 * guardrail reads), or until its request expires, then resumes it: an approved plan runs, a
 * plan that changed meanwhile pauses again (a new AwaitingApproval), an expired request escalates.
 */
export const awaitApproval = <F, R>(
  runbook: Runbook<F, R>,
  paused: AwaitingApproval,
  options: AwaitApprovalOptions = {}
): Effect.Effect<HandleResult, IncidentNotFound | StoreError, R | Services> =>
  Effect.gen(function*() {
    const every = Duration.toMillis(Duration.fromInputUnsafe(options.pollEvery ?? "5 seconds"))
    while (true) {
      const now = yield* Clock.currentTimeMillis
      if (now > paused.expiresAt) break
      const found = yield* ApprovalRecord.read(paused.incidentId)
      if (found._tag === "Found" && found.record.planDigest === paused.planDigest && found.record.expiresAt > now) break
      yield* Effect.sleep(Duration.millis(Math.max(1, Math.min(every, paused.expiresAt - now + 1))))
    }
    return yield* resume(runbook, paused.incidentId)
  })

/**
 * Reports a result with `onResult`; when it is a pause, waits for its decision (`awaitApproval`)
 * and reports what follows, until the incident ends. A resume that fails is audited.
 */
export const follow = <F, R>(
  runbook: Runbook<F, R>,
  result: HandleResult,
  onResult: (result: HandleResult) => Effect.Effect<void>,
  options: AwaitApprovalOptions = {}
): Effect.Effect<void, never, R | Services> =>
  Effect.gen(function*() {
    yield* onResult(result)
    if (!isAwaitingApproval(result)) return
    const next = yield* Effect.result(awaitApproval(runbook, result, options))
    if (next._tag === "Failure") {
      const notifier = yield* Notifier
      yield* notifier.audit("approval.resume_failed", { runbook: runbook.id, incidentId: result.incidentId, error: next.failure.message })
      return
    }
    yield* follow(runbook, next.success, onResult, options)
  })

/** No resumable incident with that id (or it belongs to another runbook). */
export class IncidentNotFound extends Schema.TaggedError<IncidentNotFound>()("IncidentNotFound", {
  incidentId: Schema.String,
  message: Schema.String
}) {}

/** A detector element that is not a valid Signal. */
export class MalformedSignal extends Schema.TaggedError<MalformedSignal>()("MalformedSignal", {
  detector: Schema.String,
  message: Schema.String
}) {}

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

