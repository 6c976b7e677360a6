/**
 * The `k8s.rolloutRestart` action handler: `kubectl rollout restart`, done the same way — a
 * strategic-merge patch of `spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]`
 * — but conditional on the workload's resourceVersion (the one the plan was built from, when
 * the action carries it in `params.resourceVersion`, else the one just read).
 *
 * Target: a `k8s.workload` TargetRef of a Deployment, StatefulSet or DaemonSet (a container
 * suffix is ignored: a restart restarts the whole workload).
 *
 * Action-kind guardrails (every runbook and hand-off using this kind gets them):
 * - `rollout_restart_per_workload` — at most `max` (default 1) restarts per workload per
 *   `window` (default 30 minutes), counted in the GuardrailStore (shared across agents);
 * - `never_protected_workload` — never for a workload annotated `byteport.io/protected: "true"`
 *   (read from the live object; if it cannot be read the restart is denied, since protection could
 *   not be ruled out).
 *
 * In dry_run the patch is sent with `dryRun=All` (the apiserver proves it would accept it) and no
 * Event is recorded. In auto, a `RolloutRestarted` Event is recorded on the workload.
 *
 * `observe`: a pod-template `restartedAt` at or after the moment the step's budget was acquired
 * is applied (the restart happened after it); otherwise not applied. An unreadable workload is
 * unknown.
 *
 * @since 0.1.0
 */
import { ActionHandler, Guardrail, TargetRef } from "@byteport/core"
import { Clock, type Duration, Effect, Schema } from "effect"
import * as EventRecorder from "../events/EventRecorder"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import * as KubePatch from "../KubePatch"
import * as Targets from "../targets/Targets"

/** The action kind. */
export const KIND = "k8s.rolloutRestart"

/** The pod-template annotation kubectl uses for restarts. */
export const RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"

/** The annotation that opts a workload out of every BytePort restart. */
export const PROTECTED = "byteport.io/protected"

/** The action's params. */
export const Params = Schema.Struct({
  /** The workload's resourceVersion when the plan was made (the patch precondition); omitted: the current one. */
  resourceVersion: Schema.optionalKey(Schema.String),
  /** Why (goes into the Event message). */
  reason: Schema.optionalKey(Schema.String)
})

/** The action's params. */
export type Params = typeof Params.Type

/** The kinds that can be rollout-restarted. */
export type RestartableKind = "Deployment" | "StatefulSet" | "DaemonSet"

const restartable = (k: string): k is RestartableKind => k === "Deployment" || k === "StatefulSet" || k === "DaemonSet"

interface WorkloadObject {
  readonly apiVersion?: string | undefined
  readonly kind?: string | undefined
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly uid?: string; readonly resourceVersion?: string; readonly annotations?: { readonly [k: string]: string } } | undefined
}

/** Reads the workload a `k8s.workload` target names (Deployment, StatefulSet or DaemonSet). */
export const readWorkload = (w: Targets.Workload): Effect.Effect<WorkloadObject, KubeError, Kube> =>
  Effect.flatMap(Kube, (kube): Effect.Effect<WorkloadObject, KubeError> => {
    switch (w.kind) {
      case "StatefulSet":
        return kube.getStatefulSet(w.namespace, w.name)
      case "DaemonSet":
        return kube.getDaemonSet(w.namespace, w.name)
      default:
        return kube.getDeployment(w.namespace, w.name)
    }
  })

/** The budget key of a target's restarts: the workload without its container. */
export const budgetKey = (target: TargetRef.TargetRef): string => {
  const t = Targets.parseSync(target)
  return `${KIND}:${t instanceof Targets.InvalidTargetRef || t._tag !== "Workload" ? TargetRef.key(target) : TargetRef.key(Targets.toTargetRef(Targets.withoutContainer(t)))}`
}

/** Options of the handler's guardrails. */
export interface RolloutRestartOptions {
  /** Restarts allowed per workload per window (default 1). */
  readonly max?: number | undefined
  /** The window (default 30 minutes). */
  readonly window?: Duration.Input | undefined
}

/** "max N restarts per workload per window", keyed on the workload without its container. */
export const rateLimit = (options: RolloutRestartOptions = {}) =>
  Guardrail.rateLimit({
    name: "rollout_restart_per_workload",
    key: (ctx) => budgetKey(ctx.action.target),
    max: options.max ?? 1,
    window: options.window ?? "30 minutes"
  })

/** Never restart a workload annotated `byteport.io/protected: "true"` (read live; unreadable → Deny). */
export const neverProtected: Guardrail.Guardrail<Kube> = Guardrail.make<Kube>({
  name: "never_protected_workload",
  recheckOnResume: true,
  check: (ctx) =>
    Effect.gen(function*() {
      const t = Targets.parseSync(ctx.action.target)
      if (t instanceof Targets.InvalidTargetRef) return Guardrail.deny(`never_protected_workload: ${t.message}`)
      if (t._tag !== "Workload") return Guardrail.deny(`never_protected_workload: ${KIND} needs a ${Targets.WORKLOAD} target`)
      return yield* readWorkload(t).pipe(
        Effect.map((obj) =>
          obj.metadata?.annotations?.[PROTECTED] === "true"
            ? Guardrail.deny(`never_protected_workload: ${t.kind} ${t.namespace}/${t.name} is annotated ${PROTECTED}: "true"`)
            : Guardrail.pass
        ),
        Effect.catch((e) => Effect.succeed(Guardrail.deny(`never_protected_workload: could not read ${t.kind} ${t.namespace}/${t.name} to rule out protection (${e._tag}: ${e.message})`)))
      )
    })
})

const failed = (message: string, conflict = false, cause?: unknown) =>
  new ActionHandler.ActionFailed({ kind: KIND, message, ...(conflict ? { conflict } : {}), ...(cause !== undefined ? { cause } : {}) })

/** Builds the handler (guardrails configurable; defaults: 1 restart per workload per 30 min, never protected workloads). */
export const make = (options: RolloutRestartOptions = {}): ActionHandler.ActionHandler<Kube | EventRecorder.EventRecorder> =>
  ActionHandler.make<Params, Kube | EventRecorder.EventRecorder>({
    kind: KIND,
    params: Params,
    guardrails: [neverProtected, rateLimit(options)],
    apply: (params, ctx) =>
      Effect.gen(function*(): Effect.fn.Return<ActionHandler.HandlerResult, ActionHandler.ActionFailed, Kube | EventRecorder.EventRecorder> {
        const kube = yield* Kube
        const parsed = yield* Targets.parseWorkload(ctx.action.target).pipe(Effect.mapError((e) => failed(e.message)))
        const w = Targets.withoutContainer(parsed)
        if (!restartable(w.kind)) return yield* failed(`cannot rollout-restart a ${w.kind} (only Deployment, StatefulSet, DaemonSet)`)
        const current = yield* readWorkload(w).pipe(Effect.mapError((e) => failed(`read ${w.kind} ${w.namespace}/${w.name}: ${e.message}`, false, e)))
        // defence in depth: the guardrail already denies this, but the handler never trusts it alone
        if (current.metadata?.annotations?.[PROTECTED] === "true") return yield* failed(`${w.kind} ${w.namespace}/${w.name} is protected (${PROTECTED})`)
        const rv = params.resourceVersion ?? current.metadata?.resourceVersion
        if (rv === undefined) return yield* failed(`${w.kind} ${w.namespace}/${w.name} has no resourceVersion`)
        const restartedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
        const patch = KubePatch.strategic(rv, { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: restartedAt } } } } })
        const patched = yield* kube.patch(w.kind, { namespace: w.namespace, name: w.name }, patch, { dryRun: ctx.dryRun }).pipe(
          Effect.mapError((e) =>
            failed(
              e._tag === "KubeConflict"
                ? `${w.kind} ${w.namespace}/${w.name} changed since the plan (resourceVersion ${rv}): ${e.message}`
                : `patch ${w.kind} ${w.namespace}/${w.name}: ${e._tag}: ${e.message}`,
              e._tag === "KubeConflict",
              e
            )
          )
        )
        const what = `${w.kind} ${w.namespace}/${w.name}`
        if (ctx.dryRun) {
          return { detail: `would rollout-restart ${what} (server-side dry run accepted the patch)`, result: { dryRun: true, restartedAt, precondition: rv } }
        }
        yield* EventRecorder.recordEvent(
          { ...current, kind: current.kind ?? w.kind, apiVersion: current.apiVersion ?? "apps/v1", metadata: { ...current.metadata, resourceVersion: patched.metadata?.resourceVersion ?? rv } },
          "RolloutRestarted",
          `BytePort restarted the rollout (incident ${ctx.incidentId})${params.reason ? `: ${params.reason}` : ""}`,
          { action: "RolloutRestart" }
        )
        return {
          detail: `rollout-restarted ${what} at ${restartedAt}`,
          result: { restartedAt, precondition: rv, resourceVersion: patched.metadata?.resourceVersion ?? "", generation: patched.metadata?.generation ?? 0 }
        }
      }),
    observe: (_params, ctx) =>
      Effect.gen(function*() {
        const w = Targets.withoutContainer(yield* Targets.parseWorkload(ctx.action.target))
        const obj = (yield* readWorkload(w)) as WorkloadObject & { readonly spec?: { readonly template?: { readonly metadata?: { readonly annotations?: { readonly [k: string]: string } } } } }
        const at = obj.spec?.template?.metadata?.annotations?.[RESTARTED_AT]
        const ms = at === undefined ? Number.NaN : Date.parse(at)
        const what = `${w.kind} ${w.namespace}/${w.name} ${RESTARTED_AT} is ${at ?? "unset"}`
        return ms >= ctx.since
          ? ActionHandler.applied(`${what} (restarted after the step was acquired at ${new Date(ctx.since).toISOString()})`)
          : ActionHandler.notApplied(`${what} (not restarted since ${new Date(ctx.since).toISOString()})`)
      })
  })

/** The handler with the default guardrails. */
export const handler = make()
