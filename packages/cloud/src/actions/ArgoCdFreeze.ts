/**
 * `cloud.argocd.freeze`: stops Argo CD from re-applying the tracked revision over a rollback.
 * Argo CD ≥ 3.1: `spec.syncPolicy.automated.enabled: false` (shape `enabled`); older servers have
 * no `enabled` field, so the freeze removes `automated` and keeps it in the
 * `byteport.io/frozen-automated` annotation for the undo (shape `remove`). Either way the
 * Application is annotated `byteport.io/frozen-by: <incident id>`.
 *
 * - Idempotent: an Application this incident already froze is left alone; one whose automated
 *   sync is already off (manual, or frozen by someone else) is not touched (and not annotated,
 *   so no unfreeze ever turns on what a human turned off).
 * - Refused (conflict) for an Application owned by an ApplicationSet unless `appSetIgnoresSyncPolicy`:
 *   the ApplicationSet controller would revert the freeze at once; the revert belongs in Git
 *   (`GitWriter`).
 * - dry_run and `observe` only read (`GET`); Argo CD has no server-side dry run for patches.
 * - `action(...)`'s undo is `cloud.unfreeze` for the same Application.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, TargetRef } from "@byteport/core"
import { Effect, Schema } from "effect"
import { ArgoCd } from "../gitops/ArgoCd"
import * as R from "../gitops/Resources"
import * as Unfreeze from "./Unfreeze"

/** The action kind. */
export const KIND = "cloud.argocd.freeze"

/** The params. */
export const Params = Schema.Struct({
  /** The Application's name. */
  app: Schema.String,
  /** Its namespace when not the Argo CD server's own (`appNamespace`). */
  appNamespace: Schema.optionalKey(Schema.String),
  /** Same as `appNamespace` (null: the server's own). */
  namespace: Schema.optionalKey(Schema.NullOr(Schema.String)),
  /** `enabled` (Argo CD ≥ 3.1; the default) or `remove` (older: drop `automated`, the undo restores it). */
  shape: Schema.optionalKey(Schema.Literals(["enabled", "remove"])),
  /** The Application is ApplicationSet-owned but its ApplicationSet ignores `/spec/syncPolicy` (the freeze holds). */
  appSetIgnoresSyncPolicy: Schema.optionalKey(Schema.Boolean)
})
/** The params. */
export type Params = typeof Params.Type

/** The Application's namespace of params naming it `appNamespace` or `namespace`. */
export const appNamespaceOf = (p: { readonly appNamespace?: string; readonly namespace?: string | null }): string | undefined => p.appNamespace ?? p.namespace ?? undefined

/** The target of an Argo CD Application. */
export const target = (app: string, appNamespace?: string): TargetRef.TargetRef => TargetRef.make("argocd.application", appNamespace !== undefined ? `${appNamespace}/${app}` : app)

/**
 * Builds the action; its undo is `cloud.unfreeze` of the same Application, gated on `revert`
 * (the revert commit the tracked revision must contain first) when given.
 */
export const action = (p: Params, o: { readonly incidentId: string; readonly revert?: Unfreeze.Revert }): Action.Action => {
  const ns = appNamespaceOf(p)
  return Action.make({
    kind: KIND,
    target: target(p.app, ns),
    params: { ...p },
    idempotencyKey: `${KIND}:${ns ?? ""}/${p.app}:${o.incidentId}`,
    timeoutMs: 30_000,
    description: p.shape !== "remove"
      ? `freeze Argo CD Application ${p.app}: spec.syncPolicy.automated.enabled=false (annotated ${R.FROZEN_BY})`
      : `freeze Argo CD Application ${p.app}: remove spec.syncPolicy.automated, kept for the undo (annotated ${R.FROZEN_BY})`,
    undo: Unfreeze.action({ system: "argocd", name: p.app, ...(ns !== undefined ? { namespace: ns } : {}), frozenBy: o.incidentId, ...(o.revert !== undefined ? { revert: o.revert } : {}) })
  })
}

/** The merge patch of a freeze (what the handler sends). */
export const freezePatch = (app: R.Obj, shape: "enabled" | "remove", incidentId: string): R.Obj => {
  const automated = R.obj(R.obj(app["spec"])["syncPolicy"])["automated"]
  return shape === "enabled"
    ? { metadata: { annotations: { [R.FROZEN_BY]: incidentId } }, spec: { syncPolicy: { automated: { enabled: false } } } }
    : { metadata: { annotations: { [R.FROZEN_BY]: incidentId, [R.FROZEN_AUTOMATED]: JSON.stringify(automated ?? {}) } }, spec: { syncPolicy: { automated: null } } }
}

const frozenBy = (app: R.Obj) => R.str(R.obj(R.obj(app["metadata"])["annotations"])[R.FROZEN_BY])

/** The handler. */
export const make = (): ActionHandler.ActionHandler<ArgoCd> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const argo = yield* ArgoCd
        const ns = appNamespaceOf(p)
        const shape = p.shape ?? "enabled"
        const fail = (message: string, conflict = false) => new ActionHandler.ActionFailed({ kind: KIND, message, ...(conflict ? { conflict } : {}) })
        const app = yield* argo.get(p.app, ns).pipe(Effect.mapError((e) => fail(`cannot read Application ${p.app}: ${e.message}`)))
        if (frozenBy(app) === ctx.incidentId && !R.autoSyncOn(app)) {
          return { detail: `Application ${p.app} is already frozen by ${ctx.incidentId}`, result: { frozen: true, changed: false } }
        }
        if (!R.autoSyncOn(app)) {
          return { detail: `Application ${p.app} has automated sync off already: nothing re-applies over the rollback (left as it is)`, result: { frozen: false, changed: false } }
        }
        const owner = R.applicationSetOwner(app)
        if (owner !== undefined && p.appSetIgnoresSyncPolicy !== true) {
          return yield* fail(`Application ${p.app} is owned by ApplicationSet ${owner}, whose controller would revert the freeze: revert in Git instead`, true)
        }
        const patch = freezePatch(app, shape, ctx.incidentId)
        if (ctx.dryRun) return { detail: `would merge-patch Application ${p.app}: ${JSON.stringify(patch)}`, result: { dryRun: true } }
        const out = yield* argo.patch(p.app, patch, "merge", ns).pipe(Effect.mapError((e) => fail(`Argo CD refused the freeze of ${p.app} (${e.status}): ${e.message}`)))
        if (R.autoSyncOn(out)) return yield* fail(`Application ${p.app} still has automated sync on after the patch (an Argo CD older than 3.1 ignores "enabled": use shape "remove")`)
        return { detail: `froze Application ${p.app} (${shape === "enabled" ? "automated.enabled=false" : "automated removed"}), annotated ${R.FROZEN_BY}=${ctx.incidentId}`, result: { frozen: true, changed: true } }
      }).pipe(Effect.map(R.handlerResult)),
    observe: (p, ctx) =>
      Effect.gen(function*() {
        const app = yield* (yield* ArgoCd).get(p.app, appNamespaceOf(p))
        if (!R.autoSyncOn(app) && frozenBy(app) === ctx.incidentId) return ActionHandler.applied(`Application ${p.app} frozen by ${ctx.incidentId}`)
        if (R.autoSyncOn(app)) return ActionHandler.notApplied(`Application ${p.app} has automated sync on`)
        return ActionHandler.unknown(`Application ${p.app} has automated sync off, annotated ${frozenBy(app) ?? "by no one"}`)
      })
  })
