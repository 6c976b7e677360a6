/**
 * `k8s.pinImageDigest`: sets one container's image to `repo@sha256:…`, the digest its last
 * good pods ran (their `imageID`), when a tag was re-pushed under it. Strategic merge,
 * conditional on the workload's resourceVersion; the live image must still be the planned
 * `fromImage` (else a conflict); `dryRun=All` in dry_run; an `ImageDigestPinned` Event otherwise.
 * `observe`: image at `toImage` → applied, at `fromImage` → not applied, else unknown.
 *
 * Guardrails (on the kind):
 * - `never_pin_other_repository` — `toImage` must be `fromImage`'s repository at a `sha256:` digest;
 * - the rollback budget, shared with `k8s.rollbackDeployment`: `rateLimit` on the key
 *   `k8s.rollback:<workload>` (the workload target without its container), 1 per hour.
 *
 * @since 0.3.0
 */
import { ActionHandler, Guardrail, TargetRef } from "@byteport/core"
import { Effect, Schema } from "effect"
import type { EventRecorder } from "../events/EventRecorder"
import type { Kube } from "../Kube"
import * as Targets from "../targets/Targets"
import * as W from "./podWorkload"

/** The action kind. */
export const KIND = "k8s.pinImageDigest"

/** The params. */
export const Params = Schema.Struct({
  container: Schema.String,
  fromImage: Schema.String,
  toImage: Schema.String,
  reason: Schema.String
})

/** The params. */
export type Params = typeof Params.Type

/** The repository of an image reference (`registry/repo` without tag or digest). */
export const repositoryOf = (image: string): string => {
  const noDigest = image.split("@")[0]!
  const slash = noDigest.lastIndexOf("/")
  const colon = noDigest.lastIndexOf(":")
  return colon > slash ? noDigest.slice(0, colon) : noDigest
}

/** The `sha256:` digest in an imageID (`docker-pullable://repo@sha256:…`, `repo@sha256:…`, `sha256:…`), if any. */
export const digestOf = (imageID: string): string | undefined => /(sha256:[a-f0-9]{64})\s*$/.exec(imageID)?.[1]

/** `repo@sha256:…` of the image's repository at the digest of the last good imageID (undefined: no digest in it). */
export const pinnedReference = (image: string, lastGoodImageID: string): string | undefined => {
  const d = digestOf(lastGoodImageID)
  return d === undefined ? undefined : `${repositoryOf(image)}@${d}`
}

/** The rollback budget key of a target: `k8s.rollback:<workload>` (the workload without its container). */
export const rollbackBudgetKey = (target: TargetRef.TargetRef): string => {
  const t = Targets.parseSync(target)
  return `k8s.rollback:${t instanceof Targets.InvalidTargetRef || t._tag !== "Workload" ? TargetRef.key(target) : TargetRef.key(Targets.toTargetRef(Targets.withoutContainer(t)))}`
}

/** The rollback budget: 1 per workload per hour, shared with `k8s.rollbackDeployment`. */
export const rollbackBudget = (options: { readonly max?: number | undefined } = {}) =>
  Guardrail.rateLimit({ name: `rollbacks_per_workload(${options.max ?? 1}/1h)`, key: (c) => rollbackBudgetKey(c.action.target), max: options.max ?? 1, window: "1 hour" })

/** Never a digest of another repository, never something that is not a digest. */
export const neverOtherRepository = Guardrail.never(
  (c) => {
    const from = String(c.action.params["fromImage"] ?? "")
    const to = String(c.action.params["toImage"] ?? "")
    return !/@sha256:[a-f0-9]{64}$/.test(to) || repositoryOf(to) !== repositoryOf(from)
  },
  (c) => `never_pin_other_repository: ${String(c.action.params["toImage"])} is not ${repositoryOf(String(c.action.params["fromImage"] ?? ""))}@sha256:<digest>`,
  { name: "never_pin_other_repository" }
)

/** The handler. */
export const make = (options: { readonly rollbacksPerHour?: number | undefined } = {}): ActionHandler.ActionHandler<Kube | EventRecorder> =>
  ActionHandler.make<Params, Kube | EventRecorder>({
    kind: KIND,
    params: Params,
    guardrails: [neverOtherRepository, rollbackBudget({ max: options.rollbacksPerHour })],
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const t = yield* W.containerTarget(KIND, ctx.action.target, p.container)
        const live = yield* W.readOrFail(KIND, t)
        const c = W.containerOf(live, t.container)
        if (c === undefined) return yield* W.failed(KIND, `${t.kind} ${t.namespace}/${t.name} has no container ${t.container}`)
        if (c.image !== p.fromImage) return yield* W.failed(KIND, `container ${t.container} image is ${c.image}, not the planned ${p.fromImage}`, { conflict: true })
        const body = { spec: { template: { spec: { containers: [{ name: t.container, image: p.toImage }] } } } }
        const patched = yield* W.patch(KIND, t, W.preconditionOf(ctx.action.precondition, live), body, ctx.dryRun)
        const what = `${t.kind} ${t.namespace}/${t.name} container ${t.container} image ${p.fromImage} → ${p.toImage}`
        yield* W.event(t, patched, "ImageDigestPinned", `BytePort pinned ${what} (${p.reason}; incident ${ctx.incidentId})`, ctx.dryRun)
        return {
          detail: ctx.dryRun ? `would pin ${what} (validated by the apiserver with dryRun=All)` : `pinned ${what}`,
          result: { fromImage: p.fromImage, toImage: p.toImage, dryRun: ctx.dryRun, resourceVersion: patched.metadata?.resourceVersion ?? "" }
        }
      }),
    observe: (p, ctx) =>
      Effect.gen(function*() {
        const t = yield* W.containerTarget(KIND, ctx.action.target, p.container)
        const image = W.containerOf(yield* W.read(t), t.container)?.image
        const what = `container ${t.container} of ${t.kind} ${t.namespace}/${t.name} image is ${image ?? "unset"}`
        return image === p.toImage ? ActionHandler.applied(what) : image === p.fromImage ? ActionHandler.notApplied(what) : ActionHandler.unknown(what)
      })
  })

/** The handler with the default guardrails. */
export const handler = make()
