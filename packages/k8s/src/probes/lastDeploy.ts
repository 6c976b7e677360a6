/**
 * The last rollout of a Deployment: its current revision (`deployment.kubernetes.io/revision`),
 * when the ReplicaSet of that revision was created, and its change cause. A rollout less than
 * `regressionWindowMinutes` (default 30) before the signal is a deploy-regression candidate.
 *
 * Also the rollout history (`history`: one revision per owned ReplicaSet, with its change cause
 * and the commit SHA in it, `shaOf`) and the current-vs-previous ReplicaSet template diff
 * (`templateDiff` / `diffProbe`: the changed fields, containers and env compared by name, and the
 * image changes), shared by k8s.deploy.failed-rollout and the pod-family runbooks.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import type { DeployFacts } from "../classifiers/oom"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import * as Informers from "../informers/Informers"
import { deployments, replicaSets } from "../informers/Resource"
import type * as Wire from "./wire"

const REVISION = "deployment.kubernetes.io/revision"
const CHANGE_CAUSE = "kubernetes.io/change-cause"

/** The deploy facts from a Deployment and its ReplicaSets, at `now`. */
export const deployFactsFrom = (
  deployment: Wire.Workload,
  rsList: ReadonlyArray<Wire.ReplicaSet>,
  now: number,
  regressionWindowMinutes = 30
): DeployFacts | null => {
  const revision = deployment.metadata.annotations?.[REVISION]
  if (revision === undefined) return null
  const rs = rsList.find(
    (r) => r.metadata.annotations?.[REVISION] === revision && r.metadata.ownerReferences?.some((o) => o.kind === "Deployment" && o.name === deployment.metadata.name)
  )
  const at = rs?.metadata.creationTimestamp ?? deployment.metadata.creationTimestamp
  if (at === undefined || at === null) return null
  const minutesAgo = Math.max(0, Math.round(((now - Date.parse(at)) / 60_000) * 10) / 10)
  return {
    revision,
    at,
    minutesAgo,
    changeCause: rs?.metadata.annotations?.[CHANGE_CAUSE] ?? deployment.metadata.annotations?.[CHANGE_CAUSE] ?? null,
    regressionCandidate: minutesAgo < regressionWindowMinutes
  }
}

/**
 * Reads the Deployment and its ReplicaSets (other workload kinds have no revision here: null),
 * from the shared watches' caches when open, else from the API.
 */
export const probe = (
  namespace: string,
  workload: { readonly kind: string; readonly name: string } | null,
  regressionWindowMinutes = 30
): Effect.Effect<DeployFacts | null, KubeError, Kube> =>
  Effect.gen(function*() {
    if (!workload || workload.kind !== "Deployment") return null
    const kube = yield* Kube
    const now = yield* Clock.currentTimeMillis
    const d = (yield* Informers.getOr(deployments, namespace, workload.name, kube.getDeployment(namespace, workload.name))) as unknown as Wire.Workload
    const rs = (yield* ownedReplicaSets(namespace, d as unknown as SelectorOwner)) as unknown as ReadonlyArray<Wire.ReplicaSet>
    return deployFactsFrom(d, rs, now, regressionWindowMinutes)
  })

/** A Deployment's `spec.selector`, as much of it as selecting its ReplicaSets needs. */
export interface SelectorOwner {
  readonly spec?: {
    readonly selector?: {
      readonly matchLabels?: { readonly [k: string]: string } | null | undefined
      readonly matchExpressions?: ReadonlyArray<{ readonly key: string; readonly operator: string; readonly values?: ReadonlyArray<string> | null | undefined }> | null | undefined
    } | null | undefined
  } | null | undefined
}

/**
 * A Deployment's `spec.selector` as a label selector string (`app=web,tier in (a,b)`), or
 * undefined when it has none or one that cannot be written as a string (then the caller lists
 * the namespace and filters by owner, as before).
 */
export const selectorString = (deployment: SelectorOwner): string | undefined => {
  const sel = deployment.spec?.selector
  if (!sel || typeof sel !== "object") return undefined
  const parts: Array<string> = []
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    if (typeof v !== "string") return undefined
    parts.push(`${k}=${v}`)
  }
  for (const e of Array.isArray(sel.matchExpressions) ? sel.matchExpressions : []) {
    const values = Array.isArray(e?.values) ? e.values : []
    switch (e?.operator) {
      case "In":
        parts.push(`${e.key} in (${values.join(",")})`)
        break
      case "NotIn":
        parts.push(`${e.key} notin (${values.join(",")})`)
        break
      case "Exists":
        parts.push(e.key)
        break
      case "DoesNotExist":
        parts.push(`!${e.key}`)
        break
      default:
        return undefined
    }
  }
  return parts.length > 0 ? parts.join(",") : undefined
}

/**
 * The ReplicaSets a Deployment may own: those its selector matches (a ReplicaSet a Deployment
 * owns carries the template's labels, which the selector matches), read from the shared cache
 * when the ReplicaSets are watched, else one list request carrying the labelSelector — never the
 * namespace's every ReplicaSet on each incident. Ownership is still checked by the callers.
 */
const ownedReplicaSets = (namespace: string, deployment: SelectorOwner): Effect.Effect<ReadonlyArray<unknown>, KubeError, Kube> =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const labelSelector = selectorString(deployment)
    const options = labelSelector === undefined ? { namespace } : { namespace, labelSelector }
    return yield* Informers.listOr(replicaSets, options, kube.listReplicaSets(options))
  })

/** A ReplicaSet as the rollout history reads it (wire JSON or client-node objects). */
export interface HistoryReplicaSet {
  readonly metadata?: {
    readonly name?: string
    readonly uid?: string
    readonly creationTimestamp?: string | Date | null | undefined
    readonly annotations?: { readonly [k: string]: string } | undefined
    readonly labels?: { readonly [k: string]: string } | undefined
    readonly ownerReferences?: ReadonlyArray<{ readonly kind?: string; readonly name?: string; readonly uid?: string }> | undefined
  } | undefined
  readonly spec?: { readonly replicas?: number | undefined; readonly template?: unknown } | undefined
  readonly status?: { readonly replicas?: number | undefined; readonly readyReplicas?: number | undefined; readonly availableReplicas?: number | undefined } | undefined
}

/** A Deployment as the rollout history reads it. */
export interface HistoryDeployment {
  readonly metadata?: {
    readonly name?: string
    readonly uid?: string
    readonly annotations?: { readonly [k: string]: string } | undefined
  } | undefined
  readonly spec?: { readonly template?: unknown } | undefined
}

/** One revision of a Deployment (one ReplicaSet), as `kubectl rollout history` lists it. */
export interface Revision {
  readonly revision: number
  readonly replicaSet: string
  /** The ReplicaSet's creationTimestamp (ISO), i.e. when this revision's rollout started. */
  readonly createdAt: string | null
  readonly changeCause: string | null
  /** The commit SHA from the change cause (7–40 hex digits), else "unknown" — never invented. */
  readonly sha: string
  readonly images: ReadonlyArray<{ readonly container: string; readonly image: string }>
  readonly podTemplateHash: string | null
  /** spec.replicas of the ReplicaSet. */
  readonly desired: number
  readonly replicas: number
  readonly readyReplicas: number
  readonly availableReplicas: number
}

/** One changed field between two pod templates. */
export interface TemplateChange {
  /** `metadata.annotations.x`, `spec.containers[api].image`, `spec.containers[api].env[LOG_LEVEL].value` … */
  readonly path: string
  readonly before: unknown
  readonly after: unknown
}

/** The current and previous revisions and what changed between their templates. */
export interface TemplateDiff {
  readonly current: Revision | null
  readonly previous: Revision | null
  /** Previous → current, `pod-template-hash` ignored; empty when either is missing or they are equal. */
  readonly changes: ReadonlyArray<TemplateChange>
  /** Containers (and init containers) whose image changed. */
  readonly imageChanges: ReadonlyArray<{ readonly container: string; readonly before: string | null; readonly after: string | null }>
}

const SHA = /(?<![0-9A-Za-z])([0-9a-fA-F]{7,40})(?![0-9A-Za-z])/g

/**
 * The commit SHA in a change cause: a run of 7–40 hex digits standing alone (`commit 3f9c2ab`,
 * `sha=3f9c2ab…`), preferring one with a letter (a version like `20260101` is rarely a commit);
 * "unknown" when there is none. Never invented, never shortened or padded.
 */
export const shaOf = (changeCause: string | null | undefined): string => {
  if (!changeCause) return "unknown"
  const found = [...changeCause.matchAll(SHA)].map((m) => m[1]!)
  return found.find((s) => /[a-fA-F]/.test(s)) ?? found[0] ?? "unknown"
}

const iso = (t: string | Date | null | undefined): string | null => (t === null || t === undefined ? null : typeof t === "string" ? t : t.toISOString())

const imagesOf = (template: unknown): Array<{ container: string; image: string }> => {
  const spec = (template as { spec?: { containers?: ReadonlyArray<{ name: string; image?: string }>; initContainers?: ReadonlyArray<{ name: string; image?: string }> } } | undefined)?.spec
  // a retyped list (a number, an object) reads as no containers, never throws
  const list = (v: unknown): ReadonlyArray<{ name: string; image?: string }> => (Array.isArray(v) ? v : [])
  return [...list(spec?.initContainers), ...list(spec?.containers)].filter((c) => typeof c?.image === "string" && typeof c.name === "string").map((c) => ({ container: c.name, image: c.image! }))
}

/**
 * The revisions of a Deployment, oldest first: one per ReplicaSet it owns (by uid when the
 * Deployment's is known, else by name) carrying a revision annotation.
 */
export const history = (deployment: HistoryDeployment, rsList: ReadonlyArray<HistoryReplicaSet>): ReadonlyArray<Revision> =>
  rsList
    .filter((rs) => (rs.metadata?.ownerReferences ?? []).some((o) => o.kind === "Deployment" && (deployment.metadata?.uid && o.uid ? o.uid === deployment.metadata.uid : o.name === deployment.metadata?.name)))
    .flatMap((rs): Array<Revision> => {
      const revision = Number(rs.metadata?.annotations?.[REVISION])
      if (!Number.isInteger(revision) || revision < 1) return []
      const changeCause = rs.metadata?.annotations?.[CHANGE_CAUSE] ?? null
      return [{
        revision,
        replicaSet: rs.metadata?.name ?? "",
        createdAt: iso(rs.metadata?.creationTimestamp),
        changeCause,
        sha: shaOf(changeCause),
        images: imagesOf(rs.spec?.template),
        podTemplateHash: rs.metadata?.labels?.["pod-template-hash"] ?? null,
        desired: rs.spec?.replicas ?? 0,
        replicas: rs.status?.replicas ?? 0,
        readyReplicas: rs.status?.readyReplicas ?? 0,
        availableReplicas: rs.status?.availableReplicas ?? 0
      }]
    })
    .sort((a, b) => a.revision - b.revision)

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v)
const named = (v: unknown): v is ReadonlyArray<{ readonly name: string }> =>
  Array.isArray(v) && v.length > 0 && v.every((x) => isObj(x) && typeof x["name"] === "string")

/** Template values nested deeper than this are reported whole at that path (the diff recurses no further). */
const MAX_DIFF_DEPTH = 64

/** What a value deeper than `MAX_DIFF_DEPTH` is reported as (never the value itself: it could be 10,000 levels deep, which the apiserver accepts and JSON.stringify cannot print). */
const TOO_DEEP = `(nested deeper than ${MAX_DIFF_DEPTH} levels)`

/** JSON equality without recursion (`undefined` members ignored, dates by their JSON text), so no nesting depth overflows the stack. */
const same = (a: unknown, b: unknown): boolean => {
  const norm = (v: unknown) => (v !== null && typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function" ? (v as { toJSON: () => unknown }).toJSON() : v)
  const keys = (o: object) => Object.keys(o).filter((k) => (o as Record<string, unknown>)[k] !== undefined)
  const stack: Array<readonly [unknown, unknown]> = [[a, b]]
  while (stack.length > 0) {
    const [x0, y0] = stack.pop()!
    const x = norm(x0)
    const y = norm(y0)
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue
    if (x === null || y === null || typeof x !== "object" || typeof y !== "object" || Array.isArray(x) !== Array.isArray(y)) return false
    const kx = keys(x)
    const ky = keys(y)
    if (kx.length !== ky.length) return false
    for (const k of kx) {
      if (!Object.prototype.hasOwnProperty.call(y, k)) return false
      stack.push([(x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]])
    }
  }
  return true
}

/** Whether a value is nested deeper than `limit` levels (iterative: no nesting depth overflows the stack). */
export const deeperThan = (v: unknown, limit: number): boolean => {
  const stack: Array<readonly [unknown, number]> = [[v, 0]]
  while (stack.length > 0) {
    const [x, d] = stack.pop()!
    if (x === null || typeof x !== "object") continue
    if (d >= limit) return true
    for (const y of Object.values(x)) stack.push([y, d + 1])
  }
  return false
}

const reported = (v: unknown, depth: number): unknown => (v === undefined ? null : deeperThan(v, MAX_DIFF_DEPTH - depth) ? TOO_DEEP : v)

const diffInto = (out: Array<TemplateChange>, path: string, before: unknown, after: unknown, depth = 0): void => {
  if (same(before, after)) return
  if (depth >= MAX_DIFF_DEPTH) return void out.push({ path, before: reported(before, depth), after: reported(after, depth) })
  if (isObj(before) && isObj(after)) {
    for (const k of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) diffInto(out, path ? `${path}.${k}` : k, before[k], after[k], depth + 1)
    return
  }
  // lists of named items (containers, env, volumes, ports) are compared by name, as the API merges them
  if ((named(before) || before === undefined) && (named(after) || after === undefined) && (before !== undefined || after !== undefined)) {
    const b = new Map((before ?? []).map((x) => [x.name, x] as const))
    const a = new Map((after ?? []).map((x) => [x.name, x] as const))
    for (const n of [...new Set([...b.keys(), ...a.keys()])]) diffInto(out, `${path}[${n}]`, b.get(n), a.get(n), depth + 1)
    return
  }
  out.push({ path, before: reported(before, depth), after: reported(after, depth) })
}

/** What changed from pod template `before` to `after`, ignoring `pod-template-hash`. */
export const templateChanges = (before: unknown, after: unknown): ReadonlyArray<TemplateChange> => {
  // a shallow copy down to the labels (no JSON round trip: a value nested 10,000 levels deep overflows JSON.stringify)
  const strip = (t: unknown): unknown => {
    if (!isObj(t)) return t ?? {}
    const meta = t["metadata"]
    if (!isObj(meta) || !isObj(meta["labels"])) return t
    const { ["pod-template-hash"]: _hash, ...labels } = meta["labels"]
    return { ...t, metadata: { ...meta, labels } }
  }
  const out: Array<TemplateChange> = []
  diffInto(out, "", strip(before), strip(after))
  return out
}

/**
 * The current-vs-previous ReplicaSet template diff of a Deployment: the current revision (the
 * Deployment's revision annotation, else the newest), the one before it, and what changed.
 */
export const templateDiff = (deployment: HistoryDeployment, rsList: ReadonlyArray<HistoryReplicaSet>): TemplateDiff => {
  const revs = history(deployment, rsList)
  const annotated = Number(deployment.metadata?.annotations?.[REVISION])
  const current = revs.find((r) => r.revision === annotated) ?? revs[revs.length - 1] ?? null
  const previous = current ? [...revs].reverse().find((r) => r.revision < current.revision) ?? null : null
  const tpl = (r: Revision | null) => (r ? rsList.find((x) => x.metadata?.name === r.replicaSet)?.spec?.template : undefined)
  const changes = current && previous ? templateChanges(tpl(previous), tpl(current)) : []
  const before = new Map((previous?.images ?? []).map((i) => [i.container, i.image]))
  const after = new Map((current?.images ?? []).map((i) => [i.container, i.image]))
  const imageChanges = current && previous
    ? [...new Set([...before.keys(), ...after.keys()])].filter((c) => before.get(c) !== after.get(c)).map((c) => ({ container: c, before: before.get(c) ?? null, after: after.get(c) ?? null }))
    : []
  return { current, previous, changes, imageChanges }
}

/** Reads a Deployment's current-vs-previous template diff (from the shared watches' caches when open). */
export const diffProbe = (namespace: string, name: string): Effect.Effect<TemplateDiff, KubeError, Kube> =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const d = (yield* Informers.getOr(deployments, namespace, name, kube.getDeployment(namespace, name))) as unknown as HistoryDeployment
    const rs = (yield* ownedReplicaSets(namespace, d as SelectorOwner)) as unknown as ReadonlyArray<HistoryReplicaSet>
    return templateDiff(d, rs)
  })
