/**
 * The GitOps resources BytePort freezes and rolls back, in their real CRD shapes: Argo CD
 * `Application` and `ApplicationSet` (argoproj.io/v1alpha1), Flux `GitRepository`
 * (source.toolkit.fluxcd.io/v1), `Kustomization` (kustomize.toolkit.fluxcd.io/v1) and
 * `HelmRelease` (helm.toolkit.fluxcd.io/v2); their groups, plurals, the freeze annotation and
 * the readers of the fields the actions decide on.
 *
 * @since 0.1.0
 */
import type { Json } from "@byteport/core"

/** A JSON object as the API returns it. */
export type Obj = Record<string, unknown>

/** The annotation every freeze sets (value: the incident id), removed by the unfreeze. */
export const FROZEN_BY = "byteport.io/frozen-by"
/** The annotation keeping what a freeze removed (the older Argo CD shape: the whole `automated` block, JSON). */
export const FROZEN_AUTOMATED = "byteport.io/frozen-automated"

/** A custom resource type: its API group, version, plural and kind. */
export interface ResourceType {
  readonly group: string
  readonly version: string
  readonly plural: string
  readonly kind: string
}

/** Argo CD `Application`. */
export const Application: ResourceType = { group: "argoproj.io", version: "v1alpha1", plural: "applications", kind: "Application" }
/** Argo CD `ApplicationSet`. */
export const ApplicationSet: ResourceType = { group: "argoproj.io", version: "v1alpha1", plural: "applicationsets", kind: "ApplicationSet" }
/** Flux `GitRepository`. */
export const GitRepository: ResourceType = { group: "source.toolkit.fluxcd.io", version: "v1", plural: "gitrepositories", kind: "GitRepository" }
/** Flux `Kustomization`. */
export const Kustomization: ResourceType = { group: "kustomize.toolkit.fluxcd.io", version: "v1", plural: "kustomizations", kind: "Kustomization" }
/** Flux `HelmRelease`. */
export const HelmRelease: ResourceType = { group: "helm.toolkit.fluxcd.io", version: "v2", plural: "helmreleases", kind: "HelmRelease" }

/** `group/version` of a type. */
export const apiVersion = (t: ResourceType): string => `${t.group}/${t.version}`

/** The object part of a value (`{}` for anything else). */
export const obj = (v: unknown): Obj => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {})
/** The array part of a value (`[]` for anything else). */
export const arr = (v: unknown): ReadonlyArray<unknown> => (Array.isArray(v) ? v : [])
/** A string field, or undefined. */
export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined)

/** One entry of an Application's `status.history` (Argo CD's `RevisionHistory`). */
export interface HistoryEntry {
  readonly id: number
  readonly revision: string
  readonly deployedAt: string
  readonly deployStartedAt?: string
  readonly source?: Obj
}

/** An Application's `status.history`, oldest first. */
export const historyOf = (app: Obj): ReadonlyArray<HistoryEntry> =>
  arr(obj(app["status"])["history"]).map(obj).filter((h) => typeof h["id"] === "number" || typeof h["id"] === "string").map((h) => ({
    id: Number(h["id"]),
    revision: String(h["revision"] ?? ""),
    deployedAt: String(h["deployedAt"] ?? ""),
    ...(typeof h["deployStartedAt"] === "string" ? { deployStartedAt: h["deployStartedAt"] } : {}),
    ...(h["source"] !== undefined ? { source: obj(h["source"]) } : {})
  }))

/** Whether an Application's automated sync is on: `automated` present and `enabled` not false (null counts as on). */
export const autoSyncOn = (app: Obj): boolean => {
  const policy = obj(obj(app["spec"])["syncPolicy"])
  if (!("automated" in policy) || policy["automated"] === null) return false
  return obj(policy["automated"])["enabled"] !== false
}

/** The revision an Application last applied (`status.operationState.syncResult.revision`, else `status.sync.revision`). */
export const appliedRevisionOfApplication = (app: Obj): string | undefined => {
  const status = obj(app["status"])
  return str(obj(obj(status["operationState"])["syncResult"])["revision"]) ?? str(obj(status["sync"])["revision"])
}

/** The commit sha of a Flux revision (`main@sha1:<sha>`, `sha1:<sha>`, or a bare sha). */
export const shaOfFluxRevision = (revision: string | undefined): string | undefined => {
  if (revision === undefined) return undefined
  const m = /(?:sha1:|sha256:)?([0-9a-f]{7,64})$/.exec(revision)
  return m ? m[1] : undefined
}

/** A Flux revision string for a branch and commit (`main@sha1:<sha>`). */
export const fluxRevision = (branch: string, sha: string): string => `${branch}@sha1:${sha}`

/** The commit a Flux Kustomization (`status.lastAppliedRevision`) or HelmRelease (`status.lastAttemptedRevision`'s build metadata, else `history[0].chartVersion`) last applied. */
export const appliedRevisionOfFlux = (o: Obj): string | undefined => {
  const status = obj(o["status"])
  const k = str(status["lastAppliedRevision"])
  if (k !== undefined) return shaOfFluxRevision(k)
  const h = str(status["lastAttemptedRevision"]) ?? str(obj(arr(status["history"])[0])["chartVersion"])
  const m = h !== undefined ? /\+([0-9a-f]{7,40})$/.exec(h) : null
  return m ? m[1] : undefined
}

/** Whether an object is owned by an ApplicationSet (an ownerReference of kind `ApplicationSet`). */
export const applicationSetOwner = (o: Obj): string | undefined =>
  str(arr(obj(o["metadata"])["ownerReferences"]).map(obj).find((r) => r["kind"] === "ApplicationSet")?.["name"])

/** `owner/name` of a GitHub repository URL (`https://github.com/acme/shop.git`, `git@github.com:acme/shop.git`), else undefined. */
export const githubRepoOf = (repoURL: string): string | undefined => {
  const m = /github\.com[/:]([^/]+)\/([^/]+?)(?:\.git)?\/?$/.exec(repoURL) ?? /^(?:https?:\/\/[^/]+\/)?([^/:]+)\/([^/]+?)(?:\.git)?\/?$/.exec(repoURL)
  return m ? `${m[1]}/${m[2]}` : undefined
}

/** A Go duration (`5m`, `1h30m`, `30s`) in ms, or undefined. */
export const durationMs = (d: unknown): number | undefined => {
  if (typeof d !== "string" || d.length === 0) return undefined
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g
  let total = 0
  let seen = 0
  for (let m = re.exec(d); m !== null; m = re.exec(d)) {
    seen += m[0].length
    total += Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "s" ? 1000 : m[2] === "m" ? 60_000 : 3_600_000)
  }
  return seen === d.length ? total : undefined
}

/** A handler's result as the executor records it: JSON only (`undefined` members dropped). */
export const handlerResult = (r: { readonly detail: string; readonly result: object }): { readonly detail: string; readonly result: Json.JsonObject } => ({
  detail: r.detail,
  result: JSON.parse(JSON.stringify(r.result)) as Json.JsonObject
})
