/**
 * The `k8s.rollbackDeployment` action kind: `kubectl rollout undo deployment/<name>
 * --to-revision=<N>`, done the way kubectl does it — a JSON patch replacing `spec.template` with
 * the template of revision N's ReplicaSet (minus its `pod-template-hash` label) and the
 * Deployment's annotations with that ReplicaSet's (kubectl's skip list kept) — but conditional:
 * the patch starts with a `test` on the Deployment's resourceVersion (the one the plan was built
 * from) and a `test` on every failing image, so a Deployment changed since the plan is never
 * rolled back (422/409 → the action fails, no retry).
 *
 * One implementation, shared by `k8s.deploy.failed-rollout` and the pod-family runbooks.
 *
 * Target: a `k8s.workload` TargetRef of a Deployment (a container suffix is ignored: a rollback
 * rolls back the whole workload, and the runbook leases the workload).
 *
 * Action-kind guardrails (every runbook and hand-off using this kind gets them):
 * - `rollback_per_workload` — at most `max` (default 1) rollbacks per workload per `window`
 *   (default 1 hour), counted in the GuardrailStore under {@link budgetKey}
 *   (`k8s.rollback:<workload>`, shared with `k8s.pinImageDigest`), so the budget holds across
 *   runbooks, agents and restarts;
 * - `never_without_last_good` — `Guardrail.never`: no rollback without a last-good revision
 *   (`toRevision` a positive integer below `fromRevision`, never the current revision);
 * - `never_paused_deployment` — a paused Deployment is never rolled back (nor resumed): read live,
 *   an unreadable Deployment is denied too.
 *
 * Failure (any refused request, a missing revision, an identical template, a paused Deployment)
 * is an `ActionFailed` at once: the executor escalates, the handler never retries.
 *
 * In dry_run the patch is sent with `dryRun=All` and nothing else is written. In auto, a
 * `RolledBack` Event is recorded on the Deployment and the handler watches the rollout (polls
 * the Deployment every 2 s) until it completes or `rolloutTimeoutSeconds` (300) pass; an
 * incomplete rollout is not a failure (verification decides).
 *
 * `observe`: applied when the Deployment's template equals revision `toRevision`'s template (its
 * ReplicaSet is current again), not applied while it still holds the failing images.
 *
 * @example
 * ```ts
 * const registry = ActionRegistry.layer({ handlers: [RollbackDeployment.make()] })
 * const step = Plan.act(RollbackDeployment.action({ target, toRevision: 1, fromRevision: 2,
 *   resourceVersion: "4711", failingImages: [{ container: "api", image: "shop/api:1.5.0" }] }))
 * ```
 *
 * @since 0.3.0
 */
import { Action, ActionHandler, Guardrail, Settings, TargetRef } from "@byteport/core"
import { Clock, Config, type Duration, Effect, Schema } from "effect"
import * as EventRecorder from "../events/EventRecorder"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import * as KubePatch from "../KubePatch"
import * as Targets from "../targets/Targets"

/** The action kind. */
export const KIND = "k8s.rollbackDeployment"

/** The ReplicaSet/Deployment revision annotation. */
export const REVISION = "deployment.kubernetes.io/revision"

/** The label the Deployment controller adds to each ReplicaSet's template. */
export const POD_TEMPLATE_HASH = "pod-template-hash"

/** Annotations kubectl never copies from a ReplicaSet back onto the Deployment in a rollback. */
export const ANNOTATIONS_TO_SKIP: ReadonlyArray<string> = [
  "kubectl.kubernetes.io/last-applied-configuration",
  REVISION,
  "deployment.kubernetes.io/revision-history",
  "deployment.kubernetes.io/desired-replicas",
  "deployment.kubernetes.io/max-replicas",
  "deprecated.deployment.rollback.to"
]

const Image = Schema.Struct({ container: Schema.String, image: Schema.String })

/** The action's params. */
export const Params = Schema.Struct({
  /** The last-good revision to restore (`--to-revision`). */
  toRevision: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  /** The failing (current) revision. */
  fromRevision: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  /** The Deployment's resourceVersion when the plan was made (the patch's first `test`). */
  resourceVersion: Schema.String.check(Schema.isNonEmpty()),
  /** The failing revision's images (each becomes a `test` of the patch). */
  failingImages: Schema.Array(Image),
  /** The suspect commit SHA (from the change cause; "unknown" when none). */
  sha: Schema.optionalKey(Schema.String),
  /** Why (goes into the Event message). */
  reason: Schema.optionalKey(Schema.String)
})

/** The action's params. */
export type Params = typeof Params.Type

/** Options of the handler and its guardrails. */
export interface RollbackOptions {
  /** Rollbacks allowed per workload per window (default 1). */
  readonly max?: number | undefined
  /** The window (default 1 hour). */
  readonly window?: Duration.Input | undefined
  /** How long the handler watches the rollout after the patch (default 300 s). */
  readonly rolloutTimeoutSeconds?: number | undefined
  /** The interval of that watch (default 2 s). */
  readonly pollSeconds?: number | undefined
}

/** The defaults: the seed's 1 rollback per deployment per hour. */
export const defaults = { max: 1, window: "1 hour", rolloutTimeoutSeconds: 300, pollSeconds: 2 } as const

/**
 * The options from configuration: `BYTEPORT_ROLLBACKS_PER_HOUR` (1) and
 * `BYTEPORT_ROLLBACK_ROLLOUT_TIMEOUT_SECONDS` (300), both positive; anything else is a ConfigError.
 */
export const fromConfig: Effect.Effect<RollbackOptions, Config.ConfigError> = Effect.gen(function*() {
  return {
    max: yield* Settings.positiveInt("BYTEPORT_ROLLBACKS_PER_HOUR").pipe(Config.withDefault(defaults.max)),
    window: defaults.window,
    rolloutTimeoutSeconds: yield* Settings.positiveNumber("BYTEPORT_ROLLBACK_ROLLOUT_TIMEOUT_SECONDS").pipe(Config.withDefault(defaults.rolloutTimeoutSeconds))
  }
})

/**
 * The rollback budget key of a target: `k8s.rollback:<workload key>`, the workload without its
 * container. `k8s.pinImageDigest` counts against the same key.
 */
export const budgetKey = (target: TargetRef.TargetRef): string => {
  const t = Targets.parseSync(target)
  return `k8s.rollback:${t instanceof Targets.InvalidTargetRef || t._tag !== "Workload" ? TargetRef.key(target) : TargetRef.key(Targets.toTargetRef(Targets.withoutContainer(t)))}`
}

/** "max N rollbacks per workload per window", keyed on {@link budgetKey}. */
export const rateLimit = (options: RollbackOptions = {}) =>
  Guardrail.rateLimit({
    name: "rollback_per_workload",
    key: (ctx) => budgetKey(ctx.action.target),
    max: options.max ?? defaults.max,
    window: options.window ?? defaults.window
  })

/**
 * Whether an action's params name a last-good revision: a positive integer `toRevision` below a
 * positive integer `fromRevision` (a rollback never targets the current revision or a newer one).
 */
export const hasLastGood = (params: unknown): boolean => {
  if (params === null || typeof params !== "object") return false
  const p = params as { readonly toRevision?: unknown; readonly fromRevision?: unknown }
  const ok = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 1
  return ok(p.toRevision) && ok(p.fromRevision) && p.toRevision < p.fromRevision
}

/** `never` roll back without a last-good revision. */
export const neverWithoutLastGood: Guardrail.Guardrail<never> = Guardrail.never(
  (ctx) => ctx.action.kind === KIND && !hasLastGood(ctx.action.params),
  (ctx) => `never_without_last_good: ${KIND} needs a last-good revision older than the failing one (got toRevision ${JSON.stringify((ctx.action.params as { toRevision?: unknown }).toRevision ?? null)}, fromRevision ${JSON.stringify((ctx.action.params as { fromRevision?: unknown }).fromRevision ?? null)})`,
  { name: "never_without_last_good" }
)

/** The Deployment of a `k8s.workload` target. */
const deploymentOf = (target: TargetRef.TargetRef): Effect.Effect<Targets.Workload, Targets.InvalidTargetRef> =>
  Effect.flatMap(Targets.parseWorkload(target), (w) =>
    w.kind === "Deployment"
      ? Effect.succeed(Targets.withoutContainer(w))
      : Effect.fail(new Targets.InvalidTargetRef({ kind: target.kind, ref: target.ref, message: `${KIND} rolls back Deployments only, not a ${w.kind}` })))

/** Never roll back (or resume) a paused Deployment: read live; unreadable → Deny. */
export const neverPaused: Guardrail.Guardrail<Kube> = Guardrail.make<Kube>({
  name: "never_paused_deployment",
  recheckOnResume: true,
  check: (ctx) =>
    Effect.gen(function*() {
      const w = yield* Effect.result(deploymentOf(ctx.action.target))
      if (w._tag === "Failure") return Guardrail.deny(`never_paused_deployment: ${w.failure.message}`)
      const { namespace, name } = w.success
      const kube = yield* Kube
      return yield* kube.getDeployment(namespace, name).pipe(
        Effect.map((d) =>
          d.spec?.paused === true
            ? Guardrail.deny(`never_paused_deployment: Deployment ${namespace}/${name} is paused (someone paused it on purpose: BytePort neither rolls it back nor resumes it)`)
            : Guardrail.pass
        ),
        Effect.catch((e: KubeError) => Effect.succeed(Guardrail.deny(`never_paused_deployment: could not read Deployment ${namespace}/${name} to rule out a pause (${e._tag}: ${e.message})`)))
      )
    })
})

/** A JSON value, for template comparison. */
type J = unknown

const canonical = (v: J): J => {
  if (Array.isArray(v)) return v.map(canonical)
  if (v !== null && typeof v === "object") {
    const out: Record<string, J> = {}
    for (const k of Object.keys(v as object).sort()) {
      const x = (v as Record<string, J>)[k]
      if (x !== undefined) out[k] = canonical(x)
    }
    return out
  }
  return v
}

/** A pod template without the controller's `pod-template-hash` label (an empty label map dropped). */
export const withoutHash = (template: unknown): Record<string, unknown> => {
  const t = JSON.parse(JSON.stringify(template ?? {})) as { metadata?: { labels?: Record<string, string> } } & Record<string, unknown>
  if (t.metadata?.labels) {
    delete t.metadata.labels[POD_TEMPLATE_HASH]
    if (Object.keys(t.metadata.labels).length === 0) delete t.metadata.labels
  }
  return t
}

/** Whether two pod templates are equal ignoring `pod-template-hash` (kubectl's `equalIgnoreHash`). */
export const equalIgnoreHash = (a: unknown, b: unknown): boolean => JSON.stringify(canonical(withoutHash(a))) === JSON.stringify(canonical(withoutHash(b)))

/** The parts of a ReplicaSet the patch needs. */
export interface ReplicaSetLike {
  readonly metadata?: { readonly name?: string; readonly annotations?: { readonly [k: string]: string } | undefined; readonly ownerReferences?: ReadonlyArray<{ readonly uid?: string; readonly kind?: string; readonly name?: string }> | undefined } | undefined
  readonly spec?: { readonly template?: unknown } | undefined
}

/** The parts of a Deployment the patch needs. */
export interface DeploymentLike {
  readonly metadata?: { readonly name?: string; readonly uid?: string; readonly resourceVersion?: string; readonly annotations?: { readonly [k: string]: string } | undefined } | undefined
  readonly spec?: { readonly template?: { readonly spec?: { readonly containers?: ReadonlyArray<{ readonly name: string; readonly image?: string }>; readonly initContainers?: ReadonlyArray<{ readonly name: string; readonly image?: string }> } } } | undefined
}

/** Annotations kubectl writes onto the Deployment in a rollback: the Deployment's skipped ones kept, the ReplicaSet's others copied. */
export const rollbackAnnotations = (deployment: DeploymentLike, rs: ReplicaSetLike): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const k of ANNOTATIONS_TO_SKIP) {
    const v = deployment.metadata?.annotations?.[k]
    if (v !== undefined) out[k] = v
  }
  for (const [k, v] of Object.entries(rs.metadata?.annotations ?? {})) if (!ANNOTATIONS_TO_SKIP.includes(k)) out[k] = v
  return out
}

/**
 * The rollback patch: `test` the resourceVersion, `test` each failing image at its container's
 * index in the current template (a failing image no container runs any more is a conflict: the
 * Deployment changed), then replace `/spec/template` and `/metadata/annotations` as kubectl does.
 * Returns a reason instead when the patch cannot be built.
 */
export const buildPatch = (
  deployment: DeploymentLike,
  rs: ReplicaSetLike,
  params: Pick<Params, "resourceVersion" | "failingImages">
): KubePatch.KubePatch | { readonly problem: string } => {
  const tests: Array<KubePatch.TestOp> = []
  const spec = deployment.spec?.template?.spec
  for (const f of params.failingImages) {
    const ci = (spec?.containers ?? []).findIndex((c) => c.name === f.container)
    const ii = (spec?.initContainers ?? []).findIndex((c) => c.name === f.container)
    if (ci >= 0) tests.push(KubePatch.test(`/spec/template/spec/containers/${ci}/image`, f.image))
    else if (ii >= 0) tests.push(KubePatch.test(`/spec/template/spec/initContainers/${ii}/image`, f.image))
    else return { problem: `the Deployment has no container ${f.container} any more (the failing image ${f.image} is gone)` }
  }
  const annotations = rollbackAnnotations(deployment, rs)
  return KubePatch.json(
    KubePatch.testResourceVersion(params.resourceVersion),
    ...tests,
    { op: "replace", path: "/spec/template", value: withoutHash(rs.spec?.template) },
    { op: "replace", path: "/metadata/annotations", value: annotations }
  )
}

/** The ReplicaSets a Deployment owns (by controller uid when known, else by name), revision → ReplicaSet. */
export const ownedByRevision = <RS extends ReplicaSetLike>(deployment: DeploymentLike, rsList: ReadonlyArray<RS>): Map<number, RS> => {
  const out = new Map<number, RS>()
  for (const rs of rsList) {
    const owned = (rs.metadata?.ownerReferences ?? []).some((o) =>
      o.kind === "Deployment" && (deployment.metadata?.uid ? o.uid === deployment.metadata.uid : o.name === deployment.metadata?.name)
    )
    const rev = Number(rs.metadata?.annotations?.[REVISION])
    if (owned && Number.isInteger(rev) && rev >= 1) out.set(rev, rs)
  }
  return out
}

const failed = (message: string, conflict = false, cause?: unknown) =>
  new ActionHandler.ActionFailed({ kind: KIND, message, ...(conflict ? { conflict } : {}), ...(cause !== undefined ? { cause } : {}) })

/** Builds a `k8s.rollbackDeployment` Action (the plan's step). */
export const action = (o: {
  readonly target: TargetRef.TargetRef
  readonly toRevision: number
  readonly fromRevision: number
  readonly resourceVersion: string
  readonly failingImages: ReadonlyArray<{ readonly container: string; readonly image: string }>
  readonly sha?: string | undefined
  readonly reason?: string | undefined
  readonly timeoutMs?: number | undefined
}): Action.Action => {
  const t = Targets.parseSync(o.target)
  const target = t instanceof Targets.InvalidTargetRef || t._tag !== "Workload" ? o.target : Targets.toTargetRef(Targets.withoutContainer(t))
  const name = t instanceof Targets.InvalidTargetRef || t._tag !== "Workload" ? o.target.ref : `deployment/${t.name} -n ${t.namespace}`
  return Action.make({
    kind: KIND,
    target,
    params: {
      toRevision: o.toRevision,
      fromRevision: o.fromRevision,
      resourceVersion: o.resourceVersion,
      failingImages: o.failingImages.map((f) => ({ container: f.container, image: f.image })),
      ...(o.sha !== undefined ? { sha: o.sha } : {}),
      ...(o.reason !== undefined ? { reason: o.reason } : {})
    },
    precondition: { resourceVersion: o.resourceVersion },
    timeoutMs: o.timeoutMs ?? 360_000,
    description: `kubectl rollout undo ${name} --to-revision=${o.toRevision} (from revision ${o.fromRevision}${o.sha ? `, suspect commit ${o.sha}` : ""})`
  })
}

/** Builds the handler (guardrails configurable; defaults: 1 rollback per workload per hour). */
export const make = (options: RollbackOptions = {}): ActionHandler.ActionHandler<Kube | EventRecorder.EventRecorder> =>
  ActionHandler.make<Params, Kube | EventRecorder.EventRecorder>({
    kind: KIND,
    params: Params,
    guardrails: [neverWithoutLastGood, neverPaused, rateLimit(options)],
    apply: (params, ctx) =>
      applyRollback(params, ctx, options).pipe(
        // every failure names the suspect commit: the escalation carries it
        Effect.mapError((e) => new ActionHandler.ActionFailed({ ...e, kind: KIND, message: `${e.message} (suspect commit ${params.sha ?? "unknown"})` }))
      ),
    observe: (params, ctx) => observeRollback(params, ctx)
  })

/** The handler with the default guardrails. */
export const handler = make()

const applyRollback = (params: Params, ctx: ActionHandler.ApplyContext, options: RollbackOptions) =>
      Effect.gen(function*(): Effect.fn.Return<ActionHandler.HandlerResult, ActionHandler.ActionFailed, Kube | EventRecorder.EventRecorder> {
        const kube = yield* Kube
        const w = yield* deploymentOf(ctx.action.target).pipe(Effect.mapError((e) => failed(e.message)))
        const what = `Deployment ${w.namespace}/${w.name}`
        if (!hasLastGood(params)) return yield* failed(`no last-good revision for ${what} (toRevision ${params.toRevision}, fromRevision ${params.fromRevision})`)
        const d = yield* kube.getDeployment(w.namespace, w.name).pipe(Effect.mapError((e) => failed(`read ${what}: ${e._tag}: ${e.message}`, false, e)))
        // defence in depth: the guardrail denies this already; a paused Deployment is never resumed either
        if (d.spec?.paused === true) return yield* failed(`${what} is paused: BytePort neither rolls it back nor resumes it`)
        const rsList = yield* kube.listReplicaSets({ namespace: w.namespace }).pipe(Effect.mapError((e) => failed(`list ReplicaSets of ${what}: ${e._tag}: ${e.message}`, false, e)))
        const byRevision = ownedByRevision(d as DeploymentLike, rsList as ReadonlyArray<ReplicaSetLike>)
        const rs = byRevision.get(params.toRevision)
        if (!rs) return yield* failed(`${what} has no ReplicaSet of revision ${params.toRevision} (history: ${[...byRevision.keys()].sort((a, b) => a - b).join(", ") || "none"}): no last-good revision to roll back to`)
        if (equalIgnoreHash(rs.spec?.template, d.spec?.template)) return yield* failed(`${what}: revision ${params.toRevision}'s template is the current template: nothing to roll back to`)
        const patch = buildPatch(d as DeploymentLike, rs, params)
        if ("problem" in patch) return yield* failed(`${what} changed since the plan: ${patch.problem}`, true)
        const patched = yield* kube.patch("Deployment", { namespace: w.namespace, name: w.name }, patch, { dryRun: ctx.dryRun }).pipe(
          Effect.mapError((e) =>
            e._tag === "KubeConflict" || e._tag === "KubeInvalid"
              ? failed(`${what} changed since the plan (resourceVersion ${params.resourceVersion} or the failing images no longer hold): ${e.message}`, true, e)
              : failed(`rollback patch of ${what}: ${e._tag}: ${e.message}`, false, e)
          )
        )
        const sha = params.sha ?? "unknown"
        if (ctx.dryRun) {
          return {
            detail: `would roll ${what} back to revision ${params.toRevision} (server-side dry run accepted the patch)`,
            result: { dryRun: true, toRevision: params.toRevision, fromRevision: params.fromRevision, precondition: params.resourceVersion, sha }
          }
        }
        yield* EventRecorder.recordEvent(
          { ...patched, kind: patched.kind ?? "Deployment", apiVersion: patched.apiVersion ?? "apps/v1" },
          "RolledBack",
          `BytePort rolled back from revision ${params.fromRevision} to ${params.toRevision} (incident ${ctx.incidentId}, suspect commit ${sha})${params.reason ? `: ${params.reason}` : ""}`,
          { action: "Rollback" }
        )
        // watch the rollout (kubectl rollout status): incomplete is not a failure, verification decides
        const generation = patched.metadata?.generation ?? 0
        const start = yield* Clock.currentTimeMillis
        const timeout = (options.rolloutTimeoutSeconds ?? defaults.rolloutTimeoutSeconds) * 1000
        let rollout = "unknown"
        for (;;) {
          const cur = yield* Effect.result(kube.getDeployment(w.namespace, w.name))
          if (cur._tag === "Success") {
            const want = cur.success.spec?.replicas ?? 1
            const st = cur.success.status
            if ((st?.observedGeneration ?? 0) >= generation && (st?.updatedReplicas ?? 0) >= want && (st?.readyReplicas ?? 0) >= want && (st?.replicas ?? 0) === want) {
              rollout = "complete"
              break
            }
            rollout = `not complete after ${Math.round(timeout / 1000)}s (${st?.updatedReplicas ?? 0}/${want} updated, ${st?.readyReplicas ?? 0} ready)`
          }
          if ((yield* Clock.currentTimeMillis) - start >= timeout) break
          yield* Effect.sleep(`${options.pollSeconds ?? defaults.pollSeconds} seconds`)
        }
        return {
          detail: `rolled ${what} back from revision ${params.fromRevision} to ${params.toRevision}; rollout ${rollout}`,
          result: {
            toRevision: params.toRevision,
            fromRevision: params.fromRevision,
            precondition: params.resourceVersion,
            resourceVersion: patched.metadata?.resourceVersion ?? "",
            generation,
            rollout,
            sha
          }
        }
      })

const observeRollback = (params: Params, ctx: ActionHandler.ObserveContext) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const w = yield* deploymentOf(ctx.action.target)
        const d = yield* kube.getDeployment(w.namespace, w.name)
        const rs = ownedByRevision(d as DeploymentLike, (yield* kube.listReplicaSets({ namespace: w.namespace })) as ReadonlyArray<ReplicaSetLike>).get(params.toRevision)
        const what = `Deployment ${w.namespace}/${w.name}`
        if (rs && equalIgnoreHash(rs.spec?.template, d.spec?.template)) return ActionHandler.applied(`${what} runs the template of revision ${params.toRevision} again`)
        const images = new Map((d.spec?.template?.spec?.containers ?? []).map((c) => [c.name, c.image]))
        if (params.failingImages.length > 0 && params.failingImages.every((f) => images.get(f.container) === f.image)) {
          return ActionHandler.notApplied(`${what} still runs the failing images (${params.failingImages.map((f) => f.image).join(", ")})`)
        }
        return ActionHandler.unknown(`${what} runs neither revision ${params.toRevision}'s template nor the failing images`)
      })
