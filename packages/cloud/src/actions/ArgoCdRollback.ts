/**
 * `cloud.argocd.rollback`: rolls an Argo CD Application back to a `status.history` id
 * (`POST /api/v1/applications/{name}/rollback`). It needs automated sync off (Argo CD refuses
 * otherwise, and the reconciler would re-apply the tracked revision): plan `cloud.argocd.freeze`
 * first. Idempotent: an Application whose last applied revision is already the entry's is left
 * alone. dry_run sends the rollback with `dryRun: true` (Argo CD's own dry run: nothing
 * applied); `observe` only reads. No undo: what puts the tracked revision back is the unfreeze.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler } from "@byteport/core"
import { Effect, Schema } from "effect"
import { ArgoCd } from "../gitops/ArgoCd"
import * as R from "../gitops/Resources"
import { appNamespaceOf, target } from "./ArgoCdFreeze"

/** The action kind. */
export const KIND = "cloud.argocd.rollback"

/** The params. */
export const Params = Schema.Struct({
  app: Schema.String,
  appNamespace: Schema.optionalKey(Schema.String),
  /** Same as `appNamespace` (null: the server's own). */
  namespace: Schema.optionalKey(Schema.NullOr(Schema.String)),
  /** The `status.history[].id` to roll back to. */
  id: Schema.Number,
  /** The revision that history entry deployed (a precondition when given; else read from the entry). */
  revision: Schema.optionalKey(Schema.String),
  prune: Schema.optionalKey(Schema.Boolean)
})
/** The params. */
export type Params = typeof Params.Type

/** Builds the action. */
export const action = (p: Params, o: { readonly incidentId: string }): Action.Action =>
  Action.make({
    kind: KIND,
    target: target(p.app, appNamespaceOf(p)),
    params: { ...p },
    precondition: { historyId: p.id, ...(p.revision !== undefined ? { revision: p.revision } : {}) },
    idempotencyKey: `${KIND}:${appNamespaceOf(p) ?? ""}/${p.app}:${p.id}:${o.incidentId}`,
    timeoutMs: 120_000,
    description: `roll Argo CD Application ${p.app} back to history id ${p.id}${p.revision !== undefined ? ` (revision ${p.revision.slice(0, 12)})` : ""}`
  })

/** The handler. */
export const make = (): ActionHandler.ActionHandler<ArgoCd> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const argo = yield* ArgoCd
        const ns = appNamespaceOf(p)
        const fail = (message: string, conflict = false) => new ActionHandler.ActionFailed({ kind: KIND, message, ...(conflict ? { conflict } : {}) })
        const app = yield* argo.get(p.app, ns).pipe(Effect.mapError((e) => fail(`cannot read Application ${p.app}: ${e.message}`)))
        const entry = R.historyOf(app).find((h) => h.id === p.id)
        if (entry === undefined) return yield* fail(`Application ${p.app} has no history id ${p.id} any more`, true)
        if (p.revision !== undefined && entry.revision !== p.revision) return yield* fail(`history id ${p.id} of ${p.app} is revision ${entry.revision.slice(0, 12)}, not ${p.revision.slice(0, 12)}`, true)
        const revision = entry.revision
        if (R.appliedRevisionOfApplication(app) === revision) {
          return { detail: `Application ${p.app} already runs revision ${revision.slice(0, 12)} (history id ${p.id})`, result: { changed: false } }
        }
        if (R.autoSyncOn(app)) return yield* fail(`Application ${p.app} has automated sync on: freeze it first (Argo CD refuses a rollback, and would re-apply the tracked revision)`, true)
        const out = yield* argo.rollback(p.app, { id: p.id, prune: p.prune ?? false, dryRun: ctx.dryRun, ...(ns !== undefined ? { appNamespace: ns } : {}) }).pipe(
          Effect.mapError((e) => fail(`Argo CD refused the rollback of ${p.app} to ${p.id} (${e.status}): ${e.message}`, e.code === 9))
        )
        if (ctx.dryRun) return { detail: `Argo CD accepted a dry-run rollback of ${p.app} to history id ${p.id}`, result: { dryRun: true } }
        return { detail: `rolled Application ${p.app} back to history id ${p.id} (revision ${revision.slice(0, 12)})`, result: { changed: true, revision: R.appliedRevisionOfApplication(out) ?? revision } }
      }).pipe(Effect.map(R.handlerResult)),
    observe: (p) =>
      Effect.gen(function*() {
        const app = yield* (yield* ArgoCd).get(p.app, appNamespaceOf(p))
        const revision = p.revision ?? R.historyOf(app).find((h) => h.id === p.id)?.revision
        if (revision === undefined) return ActionHandler.unknown(`Application ${p.app} has no history id ${p.id}`)
        return R.appliedRevisionOfApplication(app) === revision
          ? ActionHandler.applied(`Application ${p.app} runs revision ${revision.slice(0, 12)}`)
          : ActionHandler.notApplied(`Application ${p.app} runs ${String(R.appliedRevisionOfApplication(app)).slice(0, 12)}`)
      })
  })
