/**
 * `cloud.flux.suspend`: stops Flux from re-applying over a rollback: `spec.suspend: true` on a
 * Kustomization (kustomize.toolkit.fluxcd.io/v1) or HelmRelease (helm.toolkit.fluxcd.io/v2),
 * annotated `byteport.io/frozen-by: <incident id>`, through the Kubernetes API. Idempotent: an
 * object this incident suspended is left alone; one already suspended by someone else is not
 * touched (nor annotated: no unfreeze resumes what a human suspended). dry_run sends the patch
 * with `dryRun=All`; `observe` only reads. `action(...)`'s undo is `cloud.unfreeze` (gated on the
 * revert, when given).
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, TargetRef } from "@byteport/core"
import { Effect, Schema } from "effect"
import { FluxKube } from "../gitops/FluxKube"
import * as R from "../gitops/Resources"
import * as Unfreeze from "./Unfreeze"

/** The action kind. */
export const KIND = "cloud.flux.suspend"

/** The params. */
export const Params = Schema.Struct({
  kind: Schema.Literals(["Kustomization", "HelmRelease"]),
  /** Optional: the object's apiVersion (only the v1 Kustomization and v2 HelmRelease are addressed). */
  apiVersion: Schema.optionalKey(Schema.String),
  namespace: Schema.String,
  name: Schema.String
})
/** The params. */
export type Params = typeof Params.Type

const typeOf = (p: Params) => (p.kind === "HelmRelease" ? R.HelmRelease : R.Kustomization)

/** Builds the action (undo: `cloud.unfreeze` of the same object). */
export const action = (p: Params, o: { readonly incidentId: string; readonly revert?: Unfreeze.Revert }): Action.Action =>
  Action.make({
    kind: KIND,
    target: TargetRef.make(`flux.${p.kind.toLowerCase()}`, `${p.namespace}/${p.name}`),
    params: { ...p },
    idempotencyKey: `${KIND}:${p.kind}:${p.namespace}/${p.name}:${o.incidentId}`,
    timeoutMs: 30_000,
    description: `suspend Flux ${p.kind} ${p.namespace}/${p.name} (spec.suspend=true, annotated ${R.FROZEN_BY})`,
    undo: Unfreeze.action({ system: "flux", name: p.name, namespace: p.namespace, fluxKind: p.kind, frozenBy: o.incidentId, ...(o.revert !== undefined ? { revert: o.revert } : {}) })
  })

/** The handler. */
export const make = (): ActionHandler.ActionHandler<FluxKube> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const kube = yield* FluxKube
        const fail = (message: string) => new ActionHandler.ActionFailed({ kind: KIND, message })
        const cur = yield* kube.get(typeOf(p), p.namespace, p.name).pipe(Effect.mapError((e) => fail(`cannot read ${p.kind} ${p.namespace}/${p.name}: ${e.message}`)))
        const by = R.str(R.obj(R.obj(cur["metadata"])["annotations"])[R.FROZEN_BY])
        const suspended = R.obj(cur["spec"])["suspend"] === true
        if (suspended && by === ctx.incidentId) return { detail: `${p.kind} ${p.namespace}/${p.name} is already suspended by ${ctx.incidentId}`, result: { suspended: true, changed: false } }
        if (suspended) return { detail: `${p.kind} ${p.namespace}/${p.name} is suspended already (not by BytePort): left as it is`, result: { suspended: true, changed: false } }
        const patch = { metadata: { annotations: { [R.FROZEN_BY]: ctx.incidentId } }, spec: { suspend: true } }
        yield* kube.patch(typeOf(p), p.namespace, p.name, patch, { dryRun: ctx.dryRun }).pipe(Effect.mapError((e) => fail(`the API refused the suspend of ${p.namespace}/${p.name} (${e.status}): ${e.message}`)))
        return ctx.dryRun
          ? { detail: `would suspend ${p.kind} ${p.namespace}/${p.name} (dryRun=All accepted)`, result: { dryRun: true } }
          : { detail: `suspended ${p.kind} ${p.namespace}/${p.name}, annotated ${R.FROZEN_BY}=${ctx.incidentId}`, result: { suspended: true, changed: true } }
      }).pipe(Effect.map(R.handlerResult)),
    observe: (p, ctx) =>
      Effect.gen(function*() {
        const cur = yield* (yield* FluxKube).get(typeOf(p), p.namespace, p.name)
        const by = R.str(R.obj(R.obj(cur["metadata"])["annotations"])[R.FROZEN_BY])
        if (R.obj(cur["spec"])["suspend"] === true && by === ctx.incidentId) return ActionHandler.applied(`${p.name} suspended by ${ctx.incidentId}`)
        if (R.obj(cur["spec"])["suspend"] !== true) return ActionHandler.notApplied(`${p.name} is not suspended`)
        return ActionHandler.unknown(`${p.name} is suspended by ${by ?? "someone else"}`)
      })
  })
