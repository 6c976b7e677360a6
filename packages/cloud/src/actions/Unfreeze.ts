/**
 * `cloud.unfreeze`: lets Argo CD or Flux reconcile again after a freeze, and only when that is
 * safe. With a `revert` (the commit that undoes the bad change in Git), it runs only once the
 * revision the reconciler will apply contains it (by sha, or by `GitWriter`'s `Byteport-Incident`
 * trailer): for Argo CD the Application's target revision
 * (`status.sync.revision`, refreshed every interval even while frozen), for Flux the source
 * GitRepository's `status.artifact.revision`; before that it fails as a conflict and changes
 * nothing (the never-rule). Without a `revert` (the undo of a freeze whose plan did not go on)
 * it restores the reconciler as it was.
 *
 * It only undoes what `frozenBy` froze: an object not annotated `byteport.io/frozen-by` (never
 * frozen, or already unfrozen) is left alone and counts as done; one frozen by another incident
 * is a conflict. Argo CD: `automated.enabled` removed (null counts as on), or, for the older
 * shape, `automated` put back from `byteport.io/frozen-automated`. Flux: `spec.suspend` removed.
 * dry_run: Argo CD only reads; Flux sends the patch with `dryRun=All`.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, TargetRef } from "@byteport/core"
import { Effect, Schema } from "effect"
import { GitHub } from "../github/GitHub"
import { ArgoCd } from "../gitops/ArgoCd"
import { FluxKube } from "../gitops/FluxKube"
import * as R from "../gitops/Resources"
import * as Revisions from "../gitops/Revisions"

/** The action kind. */
export const KIND = "cloud.unfreeze"

/** The revert the tracked revision must contain before the unfreeze runs. */
export const Revert = Schema.Struct({
  /** `owner/name` of the repository. */
  repo: Schema.String,
  /** The revert commit's sha; absent: the commit carrying `GitWriter`'s `Byteport-Incident: <frozenBy>` trailer. */
  sha: Schema.optionalKey(Schema.String)
})
/** The revert the tracked revision must contain before the unfreeze runs. */
export type Revert = typeof Revert.Type

/** The params. */
export const Params = Schema.Struct({
  system: Schema.Literals(["argocd", "flux"]),
  name: Schema.String,
  /** Argo CD: the Application's namespace when not the server's own; Flux: the object's namespace (default `flux-system`). */
  namespace: Schema.optionalKey(Schema.String),
  /** Flux: `Kustomization` (default) or `HelmRelease`. */
  fluxKind: Schema.optionalKey(Schema.Literals(["Kustomization", "HelmRelease"])),
  /** The incident whose freeze this undoes (the `byteport.io/frozen-by` value). */
  frozenBy: Schema.String,
  revert: Schema.optionalKey(Revert)
})
/** The params. */
export type Params = typeof Params.Type

/** Builds the action. */
export const action = (p: Params): Action.Action =>
  Action.make({
    kind: KIND,
    target: TargetRef.make(p.system === "argocd" ? "argocd.application" : `flux.${(p.fluxKind ?? "Kustomization").toLowerCase()}`, p.namespace !== undefined ? `${p.namespace}/${p.name}` : p.name),
    params: { ...p, ...(p.revert !== undefined ? { revert: { ...p.revert } } : {}) },
    idempotencyKey: `${KIND}:${p.system}:${p.namespace ?? ""}/${p.name}:${p.frozenBy}`,
    timeoutMs: 30_000,
    description: `unfreeze ${p.system === "argocd" ? "Argo CD Application" : `Flux ${p.fluxKind ?? "Kustomization"}`} ${p.name}${p.revert !== undefined ? ` once its tracked revision contains the revert ${p.revert.sha !== undefined ? p.revert.sha.slice(0, 7) : `of ${p.frozenBy}`}` : ""}`
  })

const fluxType = (p: Params) => (p.fluxKind === "HelmRelease" ? R.HelmRelease : R.Kustomization)
const annotations = (o: R.Obj) => R.obj(R.obj(o["metadata"])["annotations"])

/** The revision a Flux object's source GitRepository serves (what it applies when resumed). */
const fluxTracked = (o: R.Obj, namespace: string) =>
  Effect.gen(function*() {
    const kube = yield* FluxKube
    const spec = R.obj(o["spec"])
    const ref = R.obj(spec["sourceRef"] ?? R.obj(R.obj(spec["chart"])["spec"])["sourceRef"])
    const repo = yield* kube.get(R.GitRepository, R.str(ref["namespace"]) ?? namespace, String(ref["name"] ?? ""))
    return R.shaOfFluxRevision(R.str(R.obj(R.obj(repo["status"])["artifact"])["revision"]))
  })

/** The handler. */
export const make = (): ActionHandler.ActionHandler<ArgoCd | FluxKube | GitHub> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const fail = (message: string, conflict = false) => new ActionHandler.ActionFailed({ kind: KIND, message, ...(conflict ? { conflict } : {}) })
        const ns = p.namespace ?? "flux-system"
        const obj = p.system === "argocd"
          ? yield* (yield* ArgoCd).get(p.name, p.namespace).pipe(Effect.mapError((e) => fail(`cannot read Application ${p.name}: ${e.message}`)))
          : yield* (yield* FluxKube).get(fluxType(p), ns, p.name).pipe(Effect.mapError((e) => fail(`cannot read ${fluxType(p).kind} ${ns}/${p.name}: ${e.message}`)))
        const by = R.str(annotations(obj)[R.FROZEN_BY])
        if (by === undefined) return { detail: `${p.name} is not frozen (nothing to undo)`, result: { changed: false } }
        if (by !== p.frozenBy) return yield* fail(`${p.name} is frozen by ${by}, not ${p.frozenBy}: left frozen`, true)
        if (p.revert !== undefined) {
          const tracked = p.system === "argocd"
            ? R.str(R.obj(R.obj(obj["status"])["sync"])["revision"])
            : yield* fluxTracked(obj, ns).pipe(Effect.mapError((e) => fail(`cannot read the source of ${p.name}: ${e.message}`)))
          if (tracked === undefined) return yield* fail(`the tracked revision of ${p.name} is unknown: left frozen`, true)
          const wanted: Revisions.Wanted = p.revert.sha !== undefined ? { sha: p.revert.sha } : { incidentId: p.frozenBy }
          const ok = yield* Revisions.contains(p.revert.repo, tracked, wanted).pipe(Effect.mapError((e) => fail(`cannot compare revisions in ${p.revert!.repo}: ${e.message}`)))
          if (!ok) return yield* fail(`the tracked revision ${tracked.slice(0, 12)} of ${p.name} does not contain the revert ${p.revert.sha !== undefined ? p.revert.sha.slice(0, 12) : `of ${p.frozenBy}`} yet: left frozen`, true)
        }
        if (p.system === "argocd") {
          const saved = R.str(annotations(obj)[R.FROZEN_AUTOMATED])
          const automated = saved !== undefined ? (JSON.parse(saved) as unknown) : { enabled: null }
          const patch = { metadata: { annotations: { [R.FROZEN_BY]: null, ...(saved !== undefined ? { [R.FROZEN_AUTOMATED]: null } : {}) } }, spec: { syncPolicy: { automated } } }
          if (ctx.dryRun) return { detail: `would merge-patch Application ${p.name}: ${JSON.stringify(patch)}`, result: { dryRun: true } }
          yield* (yield* ArgoCd).patch(p.name, patch, "merge", p.namespace).pipe(Effect.mapError((e) => fail(`Argo CD refused the unfreeze of ${p.name} (${e.status}): ${e.message}`)))
          return { detail: `unfroze Application ${p.name} (automated sync ${saved !== undefined ? "restored" : "re-enabled"})`, result: { changed: true } }
        }
        const patch = { metadata: { annotations: { [R.FROZEN_BY]: null } }, spec: { suspend: null } }
        yield* (yield* FluxKube).patch(fluxType(p), ns, p.name, patch, { dryRun: ctx.dryRun }).pipe(Effect.mapError((e) => fail(`the API refused the resume of ${p.name} (${e.status}): ${e.message}`)))
        return ctx.dryRun
          ? { detail: `would resume ${fluxType(p).kind} ${ns}/${p.name} (dryRun=All accepted)`, result: { dryRun: true } }
          : { detail: `resumed ${fluxType(p).kind} ${ns}/${p.name}`, result: { changed: true } }
      }).pipe(Effect.map(R.handlerResult)),
    observe: (p) =>
      Effect.gen(function*() {
        const obj = p.system === "argocd" ? yield* (yield* ArgoCd).get(p.name, p.namespace) : yield* (yield* FluxKube).get(fluxType(p), p.namespace ?? "flux-system", p.name)
        const by = R.str(annotations(obj)[R.FROZEN_BY])
        const running = p.system === "argocd" ? R.autoSyncOn(obj) : R.obj(obj["spec"])["suspend"] !== true
        if (by === undefined && running) return ActionHandler.applied(`${p.name} reconciles`)
        if (by === p.frozenBy) return ActionHandler.notApplied(`${p.name} is frozen by ${by}`)
        return ActionHandler.unknown(`${p.name}: frozen by ${by ?? "no one"}, reconciling ${running}`)
      })
  })
