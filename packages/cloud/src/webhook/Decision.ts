/**
 * `WebhookRollback`: the decision parts of `deploy.webhook.rollback` — facts, diagnoser,
 * classifier, the rollback target, the plan per platform, the gates and the verifier.
 *
 * - **Facts**: what the payload reported (`reported`), what the source says now (`source`,
 *   re-derived by `DeploySources.inspect`), the target's `DeployJournal` and the time read.
 * - **Classify**: the source unreadable → Indeterminate; the source does not confirm the failure
 *   → Unclassified (a forged or stale payload: escalate, never act); else the platform's class
 *   (`github_workflow`, `github_deployment`, `argocd`, `flux`, `spinnaker`, `kubernetes`), 0.90.
 * - **Target**: the newest earlier revision the journal saw healthy for the soak (default 10
 *   min); else the controller's previous entry if it ran that long; else escalate.
 * - **Plan**: GitHub → the rollback workflow (`github.dispatchWorkflow`); Argo CD → freeze
 *   (`cloud.argocd.freeze`), then roll back to the history id (`cloud.argocd.rollback`), an
 *   ApplicationSet-owned one → a Git revert (`cloud.git.revert`, `gitRevert`) or escalate; Flux →
 *   suspend (`cloud.flux.suspend`), then a revert commit (`gitRevert`) or an awaited `deployment.regression` hand-off; Spinnaker → its rollback
 *   pipeline; a Kubernetes Deployment → an awaited `deployment.regression` hand-off. Then the
 *   author is told (`deploy.notifyAuthor`: commit comment and ops channel, never the pager).
 * - **Gates** (guardrails on the rollback and freeze actions): 1 per target per hour
 *   (`Guardrail.rateLimit`), false attribution (the failed revision is not the target's newest
 *   deploy, or not the payload's), another deploy of the target running.
 *
 * @since 0.3.0
 */
import { Action, Classification, Diagnoser, Fact, Guardrail, HandOffs, Plan, type Signal, TargetRef, Verdict, type Verifier } from "@byteport/core"
import { Clock, type Duration, Effect } from "effect"
import * as Crypto from "node:crypto"
import * as ArgoCdFreeze from "../actions/ArgoCdFreeze"
import * as ArgoCdRollback from "../actions/ArgoCdRollback"
import * as DispatchWorkflow from "../actions/DispatchWorkflow"
import * as FluxSuspend from "../actions/FluxSuspend"
import * as GitWriter from "../actions/GitWriter"
import * as RollbackRunSucceeded from "../verifiers/RollbackRunSucceeded"
import * as Actions from "./Actions"
import * as DeployJournal from "./DeployJournal"
import * as Events from "./Events"
import { SpinnakerGate } from "./SpinnakerGate"
import * as Sources from "./Sources"

/** The runbook id. */
export const RUNBOOK_ID = "deploy.webhook.rollback"

/** What the payload reported (the signal's evidence). */
export interface Reported {
  readonly platform: Events.Platform
  readonly event: string
  readonly revision: string | null
  readonly source: Events.SourceRef
  readonly at: number | null
  readonly detail: string
  readonly failureKey: string
}

/** The facts. */
export interface WebhookFacts {
  readonly reported: Reported
  readonly source: Sources.SourceState
  readonly journal: ReadonlyArray<DeployJournal.Entry>
  /** When the facts were read (epoch ms): the soak is measured up to here. */
  readonly readAt: number
}

/** The classes, one per platform. */
export type Class = "github_workflow" | "github_deployment" | "argocd" | "flux" | "spinnaker" | "kubernetes"

/** The default confidence of every class (documented; the seed gives none). */
export const DEFAULT_CONFIDENCE = 0.9

/** The reported failure of a signal. */
export const reportedOf = (signal: Signal.Signal): Reported => {
  const e = signal.evidence as Record<string, unknown>
  const platform = e["platform"]
  if (platform !== "github" && platform !== "argocd" && platform !== "flux" && platform !== "spinnaker") throw new Error(`not a deploy webhook signal (platform ${String(platform)})`)
  return {
    platform,
    event: String(e["event"] ?? ""),
    revision: typeof e["revision"] === "string" ? e["revision"] : null,
    source: e["source"] as Events.SourceRef,
    at: typeof e["at"] === "number" ? e["at"] : null,
    detail: String(e["detail"] ?? ""),
    failureKey: String(e["failureKey"] ?? "")
  }
}

/** The diagnoser: the payload, the source re-read, the journal. */
export const diagnoser = (): Diagnoser.Diagnoser<WebhookFacts, import("@byteport/core").GuardrailStore.GuardrailStore> =>
  Diagnoser.make({
    reported: Diagnoser.probe("payload", (s) => Effect.try(() => reportedOf(s))),
    source: Diagnoser.probe("source", (s) => Effect.flatMap(Effect.try(() => reportedOf(s)), (r) => Sources.inspect(r.source))),
    journal: Diagnoser.probe("deploy_journal", (s) => DeployJournal.read(s.target)),
    readAt: Diagnoser.probe("clock", () => Clock.currentTimeMillis)
  })

/** A recorded incident: the facts as JSON (fixtures for golden plans). */
export interface Recording extends WebhookFacts {
  readonly target: TargetRef.TargetRef
}

/** The facts of a recording, all Known. */
export const factsOf = (rec: Recording): Fact.Facts<WebhookFacts> => ({
  reported: Fact.known(rec.reported),
  source: Fact.known(rec.source),
  journal: Fact.known(rec.journal),
  readAt: Fact.known(rec.readAt)
})

/** The signal of a recording. */
export const signalOf = (rec: Recording): Signal.Signal => ({
  type: Events.SIGNAL_TYPE,
  target: rec.target,
  observedAt: rec.readAt,
  evidence: JSON.parse(JSON.stringify({ ...rec.reported, delivery: "recorded" })) as Record<string, never>,
  source: `webhook/${rec.reported.platform}`
})

/** The class of a reported failure. */
export const classOf = (r: Reported): Class =>
  r.platform === "github"
    ? r.source.platform === "github" && r.source.kind === "deployment_status" ? (r.source.workload ? "kubernetes" : "github_deployment") : "github_workflow"
    : r.platform

/** The classifier. */
export const classifier = (o: { readonly confidence?: number } = {}) => (facts: Fact.Facts<WebhookFacts>): Classification.Classification => {
  if (facts.reported._tag !== "Known") return Classification.indeterminate("payload", ["reported"], [facts.reported.reason])
  if (facts.source._tag !== "Known") return Classification.indeterminate("source", ["source"], [`the source could not be re-read: ${facts.source.reason}`])
  const r = facts.reported.value
  const s = facts.source.value
  if (!s.failed) return Classification.unclassified([`the source does not confirm the failure (${s.status}); the payload (${r.detail}) is forged or stale: no rollback`])
  return Classification.classified(classOf(r), o.confidence ?? DEFAULT_CONFIDENCE, [`${r.detail}`, `confirmed by the source: ${s.status}`], {
    platform: r.platform,
    revision: s.revision,
    reported: r.revision
  })
}

/** The chosen rollback target. */
export interface RollbackTarget {
  readonly revision: string
  readonly via: "journal" | "controller"
  /** The controller's history id of that revision, when it has one. */
  readonly historyId: string | null
  readonly why: string
}

const fmtMs = (ms: number) => `${Math.floor(ms / 60_000)}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, "0")}s`

/**
 * The rollback target: the newest revision deployed before the failed one that the journal saw
 * healthy for at least `soakMs`; else the controller's previous entry if it ran that long; else
 * undefined (escalate).
 */
export const chooseTarget = (facts: WebhookFacts, soakMs: number = DeployJournal.DEFAULT_SOAK_MS): RollbackTarget | undefined => {
  const failed = facts.source.revision
  const newestId = (rev: string) => [...facts.source.history].filter((h) => h.revision === rev).sort((a, b) => b.deployedAt - a.deployedAt)[0]?.id ?? null
  const good = DeployJournal.lastGood(facts.journal, failed, facts.readAt, soakMs)
  if (good) {
    return { revision: good.revision, via: "journal", historyId: newestId(good.revision), why: `the journal saw ${good.revision.slice(0, 12)} healthy for ${fmtMs(DeployJournal.healthyFor(facts.journal, good, facts.readAt))} (soak ${fmtMs(soakMs)})` }
  }
  const failedAt = facts.source.history.filter((h) => h.revision === failed).sort((a, b) => a.deployedAt - b.deployedAt)[0]?.deployedAt ??
    facts.journal.find((e) => e.revision === failed)?.deployedAt ?? facts.reported.at ?? facts.readAt
  const prev = facts.source.history.filter((h) => h.revision !== failed && h.deployedAt < failedAt).sort((a, b) => b.deployedAt - a.deployedAt)[0]
  if (prev) {
    // it ran until the next entry replaced it, or until the failed deploy, whichever came first
    const ran = Math.min(prev.endedAt ?? failedAt, failedAt) - prev.deployedAt
    if (ran >= soakMs) return { revision: prev.revision, via: "controller", historyId: prev.id, why: `the controller's previous entry ${prev.id} (${prev.revision.slice(0, 12)}) ran ${fmtMs(ran)} (soak ${fmtMs(soakMs)})` }
  }
  return undefined
}

/** Options of the remediator. */
export interface RemediateOptions {
  /** The soak (default 10 minutes), ms. */
  readonly soakMs?: number
  /** GitHub: the rollback workflow (default `rollback.yml`). */
  readonly rollbackWorkflowFile?: string
  /** Spinnaker: the rollback pipeline's name (default `Rollback`). */
  readonly spinnakerRollbackPipeline?: string
  /** How long an awaited hand-off waits (default 10 minutes). */
  readonly handOffAwait?: Duration.Input
  /**
   * The revert commit (`GitWriter`, `cloud.git.revert`): Flux's revert after the suspend, and the
   * way out for an ApplicationSet-owned Application (no in-cluster freeze). `repo` is needed for
   * Flux (Argo CD's comes from `spec.source.repoURL`); `branch` defaults to the tracked one
   * (`main`); `direct: true` commits to the branch instead of opening a pull request (GitWriter
   * allows it only with `BYTEPORT_GITOPS_DIRECT_REVERT=true`).
   * Without it: Flux hands off a `deployment.regression`, an ApplicationSet-owned app escalates.
   */
  readonly gitRevert?: { readonly repo?: string; readonly branch?: string; readonly direct?: boolean }
  /** The Argo CD server's own namespace (default `argocd`): Applications there are named without `appNamespace`. */
  readonly argocdNamespace?: string
  /** Argo CD's freeze shape: `enabled` (≥ 3.1, default) or `remove` (older). */
  readonly argocdFreezeShape?: "enabled" | "remove"
}

/** Action kinds the plan names (their handlers ship with the GitOps actions). */
export const Kinds = {
  argocdFreeze: "cloud.argocd.freeze",
  argocdRollback: "cloud.argocd.rollback",
  fluxSuspend: "cloud.flux.suspend",
  gitRevert: "cloud.git.revert"
} as const

/** The kinds the gates apply to: what rolls back or freezes (never the notification). */
export const GATED_KINDS: ReadonlyArray<string> = [DispatchWorkflow.KIND, Actions.TRIGGER_KIND, Kinds.argocdFreeze, Kinds.argocdRollback, Kinds.fluxSuspend, Kinds.gitRevert]

/**
 * The id the freeze and revert actions are keyed by (their idempotency): stable per failure, so a
 * re-planned incident builds the same actions. The freeze annotation itself is the incident's id.
 */
export const freezeId = (r: Reported): string => `dwr-${Crypto.createHash("sha256").update(r.failureKey).digest("hex").slice(0, 16)}`

/** Drops a builder's undo: the unfreeze is by hand (the escalation says how) or `cloud.unfreeze` once the revert is applied. */
const noUndo = (a: Action.Action): Action.Action => {
  const { undo: _undo, ...rest } = a
  return rest
}

/** What was frozen and how to unfreeze it (the escalation's next steps). */
export const unfreezeSteps = (facts: WebhookFacts | undefined): ReadonlyArray<string> => {
  if (!facts) return []
  const d = facts.source.details
  if (facts.reported.platform === "argocd") {
    const app = String(d["app"] ?? "")
    const ns = String(d["namespace"] ?? "argocd")
    return [
      `frozen: Argo CD Application ${ns}/${app} (spec.syncPolicy.automated.enabled=false, annotation byteport.io/frozen-by=<incident id>)`,
      `unfreeze once the tracked revision (${String(d["targetRevision"] ?? "HEAD")}) contains the revert: kubectl -n ${ns} patch application ${app} --type merge -p '{"spec":{"syncPolicy":{"automated":{"enabled":true}}}}' && kubectl -n ${ns} annotate application ${app} byteport.io/frozen-by-`
    ]
  }
  if (facts.reported.platform === "flux") {
    const kind = String(d["kind"] ?? "Kustomization")
    return [
      `frozen: Flux ${kind} ${String(d["namespace"])}/${String(d["name"])} (spec.suspend=true, annotation byteport.io/frozen-by=<incident id>)`,
      `unfreeze once the source revision contains the revert: flux resume ${kind.toLowerCase()} ${String(d["name"])} -n ${String(d["namespace"])} && kubectl -n ${String(d["namespace"])} annotate ${kind.toLowerCase()} ${String(d["name"])} byteport.io/frozen-by-`
    ]
  }
  return []
}

const authorText = (facts: WebhookFacts, target: RollbackTarget | undefined, what: string): string =>
  `BytePort ${what}: ${facts.reported.detail} — the source confirms it (${facts.source.status}).${target ? ` Rolled back to ${target.revision.slice(0, 12)} (${target.why}).` : ""} Fix forward with a new commit; the rolled-back revision stays until then.`

/** The remediator. */
export const remediator = (o: RemediateOptions = {}) =>
(classification: Classification.Classified, facts: Fact.Facts<WebhookFacts>, signal: Signal.Signal): Effect.Effect<Plan.Plan> =>
  Effect.sync(() => {
    const cls = classification.class as Class
    const f: WebhookFacts | undefined = facts.reported._tag === "Known" && facts.source._tag === "Known" && facts.journal._tag === "Known" && facts.readAt._tag === "Known"
      ? { reported: facts.reported.value, source: facts.source.value, journal: facts.journal.value, readAt: facts.readAt.value }
      : undefined
    const plan = (summary: string, root: Plan.Step): Plan.Plan => ({ runbook: RUNBOOK_ID, class: cls, summary, root })
    if (!f) return plan("escalate: facts missing", Plan.escalate("a fact needed for the rollback is unknown", ["re-deliver the webhook once the source is readable"]))
    const s = f.source
    const failed = s.revision ?? "(unknown)"
    const soakMs = o.soakMs ?? DeployJournal.DEFAULT_SOAK_MS
    const target = chooseTarget(f, soakMs)
    const attribution = {
      failedRevision: failed,
      reportedRevision: f.reported.revision ?? "",
      newestRevision: s.newest ?? "",
      otherDeploysRunning: s.running.join("; ")
    }
    const notify = Plan.act(Actions.notify(signal.target, {
      repo: s.author.repo,
      sha: s.author.sha,
      login: s.author.login,
      text: authorText(f, target, `rolled back a failed deploy of ${signal.target.ref}`)
    }))
    const escalate = (why: string, more: ReadonlyArray<string> = []) =>
      plan(`escalate: ${why}`, Plan.escalate(`${f.reported.detail}: ${why}`, [...more, `failed revision: ${failed}`, ...unfreezeSteps(f)]))
    if (cls === "kubernetes") {
      const src = f.reported.source
      const w = src.platform === "github" && src.kind === "deployment_status" ? src.workload : undefined
      if (!w) return escalate("no Kubernetes workload named")
      const deployedAt = f.journal.find((e) => e.revision === failed)?.deployedAt ?? f.reported.at ?? f.readAt
      const handOff = Plan.handOff({
        type: HandOffs.DeploymentRegression.type,
        target: TargetRef.make(Events.TargetKinds.k8sWorkload, `${w.cluster}/${w.namespace}/Deployment/${w.name}`),
        observedAt: f.readAt,
        evidence: {
          revision: failed,
          ...(target ? { previousRevision: target.revision } : {}),
          deployedAt,
          symptom: f.reported.detail
        },
        source: RUNBOOK_ID
      }, { await: o.handOffAwait ?? "10 minutes", reason: `deployment regression of Deployment ${w.namespace}/${w.name}: its runbook's guards decide` })
      return plan(`hand off deployment regression of ${w.namespace}/${w.name} (${failed.slice(0, 12)}) and await it`, Plan.seq(handOff, notify))
    }
    if (!target) return escalate(`no earlier revision was healthy for the soak (${fmtMs(soakMs)}) in the deploy journal or the controller's history`, ["roll back by hand to a known-good revision"])
    const pre = { ...attribution, rollbackTo: target.revision, via: target.via }
    switch (cls) {
      case "github_workflow":
      case "github_deployment": {
        const src = f.reported.source
        if (src.platform !== "github") return escalate("not a GitHub source")
        const ref = src.kind === "workflow_run" ? src.branch : src.ref
        if (ref === null) return escalate("no branch or ref to dispatch the rollback workflow on")
        const failedId = src.kind === "workflow_run" ? src.runId : src.deploymentId
        const workflow = o.rollbackWorkflowFile ?? "rollback.yml"
        const inputs: Record<string, string> = src.kind === "workflow_run"
          ? { triggered_by: "byteport-agent", failed_run_id: String(failedId), revision: target.revision }
          : { triggered_by: "byteport-agent", failed_deployment_id: String(failedId), environment: src.environment, revision: target.revision }
        const act = DispatchWorkflow.action(signal.target, { repo: src.repo, workflow, ref, inputs, returnRunDetails: true, failedRunId: failedId }, pre)
        return plan(`roll back ${signal.target.ref} to ${target.revision.slice(0, 12)} by ${workflow} on ${ref} (${target.why})`, Plan.seq(Plan.act(act), notify))
      }
      case "argocd": {
        const app = String(s.details["app"] ?? "")
        const ns = s.details["namespace"] === null || s.details["namespace"] === undefined ? null : String(s.details["namespace"])
        const appNamespace = ns !== null && ns !== (o.argocdNamespace ?? "argocd") ? { appNamespace: ns } : {}
        const id = freezeId(f.reported)
        if (s.details["applicationSet"] !== null && s.details["applicationSet"] !== undefined) {
          const repo = s.author.repo
          if (o.gitRevert && repo !== null) {
            const revert = GitWriter.action({ repo, branch: o.gitRevert.branch ?? String(s.details["targetRevision"] ?? "main"), bad: failed, good: target.revision, direct: o.gitRevert.direct ?? false }, { incidentId: id })
            return plan(`application ${app} is owned by ApplicationSet ${String(s.details["applicationSet"])}: revert ${failed.slice(0, 12)} to ${target.revision.slice(0, 12)} in Git (no in-cluster freeze; ${target.why})`, Plan.seq(Plan.act({ ...revert, precondition: { ...revert.precondition, ...pre } }), notify))
          }
          return escalate(`application ${app} is owned by ApplicationSet ${String(s.details["applicationSet"])}: an in-cluster freeze would be reverted`, [`revert ${failed} in Git (the ApplicationSet's source), or configure gitRevert`])
        }
        if (target.historyId === null) return escalate(`revision ${target.revision} has no Argo CD history entry to roll back to`)
        const freeze = noUndo(ArgoCdFreeze.action({ app, ...appNamespace, shape: o.argocdFreezeShape ?? "enabled" }, { incidentId: id }))
        const rollback = ArgoCdRollback.action({ app, ...appNamespace, id: Number(target.historyId), revision: target.revision }, { incidentId: id })
        return plan(`freeze Argo CD application ${app}, roll back to history ${target.historyId} (${target.revision.slice(0, 12)}; ${target.why})`, Plan.seq(Plan.act({ ...freeze, precondition: pre }), Plan.act({ ...rollback, precondition: { ...rollback.precondition, ...pre } }), notify))
      }
      case "flux": {
        const d = s.details
        const kind = d["kind"] === "HelmRelease" ? "HelmRelease" : "Kustomization"
        const ref = { apiVersion: String(d["apiVersion"]), kind, namespace: String(d["namespace"]), name: String(d["name"]) }
        const id = freezeId(f.reported)
        const suspend = noUndo(FluxSuspend.action({ kind, namespace: ref.namespace, name: ref.name }, { incidentId: id }))
        const revert = o.gitRevert?.repo !== undefined
          ? GitWriter.action({ repo: o.gitRevert.repo, branch: o.gitRevert.branch ?? "main", bad: failed, good: target.revision, direct: o.gitRevert.direct ?? false }, { incidentId: id })
          : undefined
        const deployedAt = f.journal.find((e) => e.revision === failed)?.deployedAt ?? f.reported.at ?? f.readAt
        const next = revert
          ? Plan.act(revert)
          : Plan.handOff({
            type: HandOffs.DeploymentRegression.type,
            target: signal.target,
            observedAt: f.readAt,
            evidence: { revision: failed, previousRevision: target.revision, deployedAt, symptom: f.reported.detail },
            source: RUNBOOK_ID
          }, { await: o.handOffAwait ?? "10 minutes", reason: `deployment regression of Flux ${ref.kind} ${ref.namespace}/${ref.name}: revert ${failed.slice(0, 12)} to ${target.revision.slice(0, 12)} (the owner's guards decide; the object stays suspended)` })
        return plan(`suspend Flux ${ref.kind} ${ref.namespace}/${ref.name}, then ${revert ? "commit the revert" : "hand off the deployment regression and await it"} (back to ${target.revision.slice(0, 12)}; ${target.why})`, Plan.seq(Plan.act({ ...suspend, precondition: pre }), next, notify))
      }
      case "spinnaker": {
        const application = String(s.details["application"])
        const pipeline = o.spinnakerRollbackPipeline ?? "Rollback"
        const act = Actions.trigger(signal.target, { application, pipeline, parameters: { revision: target.revision, failedExecutionId: String(s.details["executionId"]) }, user: "byteport-agent" }, pre)
        return plan(`run ${pipeline} of ${application} back to ${target.revision.slice(0, 12)} (${target.why})`, Plan.seq(Plan.act(act), notify))
      }
    }
  })

/**
 * The one action of each plan that counts as its rollback: the dispatch, the pipeline run, the
 * Argo CD rollback, the Flux suspend (its revert or hand-off follows it), or the Git revert of an
 * ApplicationSet-owned Application (its only write).
 */
export const rateLimited = (kind: string, targetKind: string): boolean =>
  kind === DispatchWorkflow.KIND || kind === Actions.TRIGGER_KIND || kind === Kinds.argocdRollback || kind === Kinds.fluxSuspend ||
  (kind === Kinds.gitRevert && targetKind === Events.TargetKinds.argocdApplication)

/** Gate: at most `max` (default 1) rollbacks per target per `window` (default 1 hour), in the store. */
export const rollbackRateLimit = (o: { readonly max?: number; readonly window?: Duration.Input } = {}): Guardrail.Guardrail<never> =>
  Guardrail.when(
    (ctx) => rateLimited(ctx.action.kind, ctx.signal.target.kind),
    Guardrail.rateLimit({ name: "rollback_per_target_per_hour", key: (ctx) => `deploy.webhook.rollback:${TargetRef.key(ctx.signal.target)}`, max: o.max ?? 1, window: o.window ?? "1 hour" })
  )

const gated = (kind: string) => GATED_KINDS.includes(kind)

/** Gate: the failed revision is the target's newest deploy and the payload's (else the failure is attributed to the wrong deploy). */
export const falseAttribution: Guardrail.Guardrail<never> = (() => {
  const decide = (ctx: Guardrail.GuardrailContext): Guardrail.GuardrailResult => {
    if (!gated(ctx.action.kind)) return Guardrail.pass
    const p = ctx.action.precondition
    const failed = String(p["failedRevision"] ?? "")
    const reported = String(p["reportedRevision"] ?? "")
    const newest = String(p["newestRevision"] ?? "")
    if (reported !== "" && reported !== failed) return Guardrail.deny(`false_attribution: the payload names ${reported.slice(0, 12)}, the source's failed deploy is ${failed.slice(0, 12)}`)
    if (newest !== "" && newest !== failed) return Guardrail.deny(`false_attribution: ${failed.slice(0, 12)} is not the newest deploy of the target (${newest.slice(0, 12)} is)`)
    return Guardrail.pass
  }
  return { name: "false_attribution", check: (ctx) => Effect.succeed(decide(ctx)), acquire: (ctx) => Effect.succeed({ result: decide(ctx), release: Effect.void }), recheckOnResume: true }
})()

/** Gate: no other deploy of the target is running. */
export const noDeployRunning: Guardrail.Guardrail<never> = (() => {
  const decide = (ctx: Guardrail.GuardrailContext): Guardrail.GuardrailResult => {
    if (!gated(ctx.action.kind)) return Guardrail.pass
    const running = String(ctx.action.precondition["otherDeploysRunning"] ?? "")
    return running === "" ? Guardrail.pass : Guardrail.deny(`deploy_in_progress: ${running}`)
  }
  return { name: "deploy_in_progress", check: (ctx) => Effect.succeed(decide(ctx)), acquire: (ctx) => Effect.succeed({ result: decide(ctx), release: Effect.void }), recheckOnResume: true }
})()

/** The verifier: the rollback run / execution succeeded, the source runs the target revision, or the awaited hand-off recovered. */
export const verifier = (): Verifier.Verifier<WebhookFacts, never> => (ctx) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const cls = Classification.className(ctx.classification)
    const rollbackTo = ctx.applied.map((a) => a.precondition["rollbackTo"]).find((x) => typeof x === "string") as string | undefined
    if (cls === "kubernetes") {
      const child = HandOffs.childResults(ctx.outcomes)[0]
      if (!child) return Verdict.inconclusive("the deployment-regression hand-off has not reported back", now)
      return Verdict.fromChecks([{ name: "handoff_recovered", ok: child.status === "recovered", detail: `${child.runbook ?? "no runbook"}: ${child.status}${child.reason ? ` (${child.reason})` : ""}`, observed: { status: child.status } }], now)
    }
    if (cls === "github_workflow" || cls === "github_deployment") return yield* (RollbackRunSucceeded.make() as unknown as Verifier.Verifier<WebhookFacts, never>)(ctx)
    if (cls === "spinnaker") {
      const outcome = ctx.outcomes.find((o) => o.kind === Actions.TRIGGER_KIND && o.status === "applied")
      const id = outcome?.result?.["executionId"]
      if (typeof id !== "string") return Verdict.inconclusive("no rollback execution was started", now)
      const gate = yield* Effect.serviceOption(SpinnakerGate)
      if (gate._tag === "None") return Verdict.inconclusive("no Spinnaker Gate client", now)
      const x = yield* gate.value.execution(id)
      const check = { name: "rollback_execution_succeeded", ok: x.status === "SUCCEEDED", detail: `execution ${x.id} of ${x.name}: ${x.status}`, observed: { status: x.status } }
      if (x.status === "RUNNING" || x.status === "NOT_STARTED") return Verdict.inconclusive(`rollback execution ${x.id} is ${x.status}`, now, [check])
      return Verdict.fromChecks([check], now)
    }
    const r = reportedOf(ctx.signal)
    const s = yield* Sources.inspect(r.source)
    if (cls === "flux") {
      // Flux: the freeze holds (the object stays suspended until the revert is applied); a handed-off
      // regression is verified by its owner's report (recovered), as the Kubernetes Deployment path is.
      const suspended = { name: "flux_suspended", ok: s.details["suspended"] === true, detail: s.status, observed: { suspended: s.details["suspended"] ?? null } }
      if (!ctx.outcomes.some((o) => o.kind === "handoff")) return Verdict.fromChecks([suspended], now)
      const child = HandOffs.childResults(ctx.outcomes)[0]
      if (!child) return Verdict.inconclusive("the deployment-regression hand-off has not reported back", now, [suspended])
      return Verdict.fromChecks([suspended, { name: "handoff_recovered", ok: child.status === "recovered", detail: `${child.runbook ?? "no runbook"}: ${child.status}${child.reason ? ` (${child.reason})` : ""}`, observed: { status: child.status } }], now)
    }
    // Argo CD: the application runs the target revision, no longer reports a failure, and its
    // health (assessed from the live resources) is Healthy: Progressing keeps polling, Degraded fails.
    const health = typeof s.details["health"] === "string" ? s.details["health"] : null
    const checks: ReadonlyArray<Verdict.CheckResult> = [
      { name: "source_runs_target", ok: !s.failed && (rollbackTo === undefined || s.newest === rollbackTo), detail: `${s.status} (target ${rollbackTo ?? "?"})`, observed: { newest: s.newest, failed: s.failed } },
      { name: "application_healthy", ok: health === null || health === "Healthy", detail: `health ${health ?? "not reported"}`, observed: { health } }
    ]
    if (health === "Progressing" || health === "Missing") return Verdict.inconclusive(`application health is ${health}`, now, checks)
    return Verdict.fromChecks(checks, now)
  }).pipe(Effect.catchCause((cause) => Effect.map(Clock.currentTimeMillis, (now) => Verdict.inconclusive(`could not verify: ${String(cause)}`, now))))
