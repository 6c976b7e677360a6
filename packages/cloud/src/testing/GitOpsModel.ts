/**
 * A GitOps reconciler model for kube-sim: an installer that registers the CRDs of Argo CD
 * (`Application`, `ApplicationSet`, argoproj.io/v1alpha1) and Flux (`GitRepository`
 * source.toolkit.fluxcd.io/v1, `Kustomization` kustomize.toolkit.fluxcd.io/v1, `HelmRelease`
 * helm.toolkit.fluxcd.io/v2) and reconciles them on kube-sim's clock the way their controllers
 * do, from a Git repository served by the `GitHubFake` (refs and commits over its REST API; the
 * manifests of a commit are the files of its tree, registered with `Manifests`).
 *
 * What it does:
 * - Argo CD `Application`: every `interval` (Argo CD's `timeout.reconciliation`, default 180 s)
 *   and at once when its spec changes, resolves `spec.source.targetRevision` (default `HEAD`) of
 *   `repoURL`, compares the manifests at `path` with the live objects (`status.sync`: Synced /
 *   OutOfSync, `revision`, `comparedTo`) and, when automated sync is on (`automated` present,
 *   `enabled` not false), syncs: a revision not yet synced (`operationState.syncResult.revision`)
 *   is applied, and with `selfHeal` live drift is put back; `prune` deletes what left Git. Each
 *   sync appends `status.history[] {id, revision, deployedAt, deployStartedAt, source,
 *   initiatedBy}` (ids increasing, `revisionHistoryLimit` default 10) and sets `operationState`.
 *   `rollback(id)` (the API's rollback) applies a history entry's revision and is refused while
 *   automated sync is on, as Argo CD refuses it. `status.health.status` is assessed on every pass
 *   from the live Deployments the app applied (`deploymentHealth`: Healthy, Progressing, Degraded
 *   on `ProgressDeadlineExceeded`, Missing), the worst of them.
 * - `ApplicationSet` (list generators, `{{param}}` / `{{.param}}` templates): creates its
 *   Applications (ownerReferences kind ApplicationSet) and re-applies their spec from the template
 *   on every pass (the controller watches its Applications), except the paths in
 *   `spec.ignoreApplicationDifferences[].jsonPointers`; `syncPolicy.applicationsSync:
 *   create-only` never updates.
 * - App of apps: an Application's manifests may hold Applications; a sync re-applies their spec.
 * - Flux `GitRepository`: every `spec.interval` resolves `spec.ref` (`commit`, `tag`, `branch`,
 *   default the repository's default branch) into `status.artifact.revision`
 *   (`main@sha1:<sha>`); `suspend: true` stops it.
 * - Flux `Kustomization`: every `spec.interval`, at once on a spec change or a new source
 *   revision, applies the source artifact's manifests at `spec.path` (drift corrected on every
 *   run, as kustomize-controller's server-side apply does), `status.lastAppliedRevision`,
 *   `lastAttemptedRevision`, `inventory.entries`, Ready (with `wait: true` or `healthChecks`: from
 *   the applied Deployments' health, see {@link deploymentHealth}); `prune` deletes what left the inventory;
 *   `suspend: true` stops every apply.
 * - Flux `HelmRelease`: a chart from a GitRepository (`spec.chart.spec.chart` is the path) is
 *   upgraded when the source revision changes (chart version `0.1.0+<sha12>`, `status.history[]`
 *   snapshots newest first, `lastAttemptedRevision`); with `driftDetection.mode: enabled` drift
 *   is put back every interval; `suspend: true` stops it.
 *
 * Left out: three-way merges (an apply replaces `spec` and `data`; drift is a desired field that
 * differs live, so a field added live and absent from Git is not drift), Argo CD projects and
 * RBAC (the API fake checks a token only), sync waves, hooks and
 * phases, health of kinds other than Deployment (they count as Healthy), multiple sources, Helm/Kustomize
 * rendering (a path's manifests are given objects), Git webhooks (changes are seen at the next
 * interval), other ApplicationSet generators, the asynchronous `operation` field (a rollback is
 * applied at once), Flux dependsOn, health checks, post-build substitution, OCI and Helm
 * repositories, Helm values and rollbacks by Helm itself, notification events.
 *
 * @since 0.1.0
 */
import * as Crypto from "node:crypto"
import * as R from "../gitops/Resources"

type Obj = R.Obj

/** A resource key of kube-sim's store (group, version, plural). */
export interface ResourceKey {
  readonly group: string
  readonly version: string
  readonly resource: string
}

/** An object of kube-sim's store. */
export interface SimObject {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; [key: string]: unknown }
  [key: string]: unknown
}

/** The part of kube-sim's store the model uses (structurally kube-sim's `MemoryStore`: no dependency on `@byteport/kube-sim`). */
export interface SimStore {
  get(key: ResourceKey, namespace: string | undefined, name: string): SimObject | undefined
  create(key: ResourceKey, input: SimObject): SimObject
  update(key: ResourceKey, input: SimObject): SimObject
  mutate(key: ResourceKey, namespace: string | undefined, name: string, f: (obj: SimObject) => void): SimObject | undefined
  delete(key: ResourceKey, namespace: string | undefined, name: string): SimObject | undefined
  scan(key: ResourceKey): ReadonlyArray<{ readonly obj: SimObject }>
  subscribe(listener: (key: ResourceKey, event: { readonly type: string; readonly object: SimObject }) => void): () => void
}

/** What a kube-sim installer receives (the part the model uses). */
export interface InstallContext {
  readonly store: SimStore
  /** kube-sim's clock (epoch ms). */
  readonly now: () => number
}

/** A kube-sim installer (pass it in `KubeSim.start({ install: [...] })`). */
export type Installer = (ctx: InstallContext) => () => void

/** A resolved revision: the commit and its tree. */
export interface Resolved {
  readonly sha: string
  readonly tree: string
  /** The branch the ref named (undefined for a sha or tag). */
  readonly branch?: string | undefined
}

/** Where the model reads Git: refs to commits, and a tree's manifests at a path. */
export interface GitSource {
  readonly resolve: (repoURL: string, ref: string) => Promise<Resolved | undefined>
  readonly files: (tree: string, path: string) => ReadonlyArray<Obj> | undefined
}

/** The manifests of each tree: a tree sha → path → objects. */
export interface Manifests {
  readonly put: (tree: string, files: Readonly<Record<string, ReadonlyArray<Obj>>>) => void
  readonly get: (tree: string, path: string) => ReadonlyArray<Obj> | undefined
  readonly all: (tree: string) => Readonly<Record<string, ReadonlyArray<Obj>>>
}

const normPath = (p: string) => p.replace(/^\.\//, "").replace(/^\/+|\/+$/g, "") || "."

/** An empty manifest registry. */
export const manifests = (): Manifests => {
  const trees = new Map<string, Record<string, ReadonlyArray<Obj>>>()
  return {
    put: (tree, files) => {
      const m: Record<string, ReadonlyArray<Obj>> = {}
      for (const [p, objs] of Object.entries(files)) m[normPath(p)] = structuredClone(objs)
      trees.set(tree, m)
    },
    get: (tree, path) => {
      const objs = trees.get(tree)?.[normPath(path)]
      return objs === undefined ? undefined : structuredClone(objs)
    },
    all: (tree) => ({ ...(trees.get(tree) ?? {}) })
  }
}

/** Options of {@link gitHubSource}. */
export interface GitHubSourceOptions {
  /** The GitHub API root (the fake's `url`). */
  readonly url: string
  /** A token the fake accepts (contents: read). */
  readonly token: string
  readonly manifests: Manifests
}

const ghGet = async (o: { url: string; token: string }, path: string): Promise<Obj | undefined> => {
  const r = await fetch(`${o.url}${path}`, { headers: { authorization: `token ${o.token}`, accept: "application/vnd.github+json" } })
  if (r.status !== 200) return undefined
  return R.obj(await r.json())
}

/** A Git source over the GitHub REST API (the `GitHubFake`): `GET /repos/{o}/{r}` and `GET …/commits/{ref}`. */
export const gitHubSource = (o: GitHubSourceOptions): GitSource => ({
  resolve: async (repoURL, ref) => {
    const repo = R.githubRepoOf(repoURL)
    if (repo === undefined) return undefined
    let name = ref
    if (name === "" || name === "HEAD") {
      const info = await ghGet(o, `/repos/${repo}`)
      name = R.str(info?.["default_branch"]) ?? "main"
    }
    const c = await ghGet(o, `/repos/${repo}/commits/${encodeURIComponent(name)}`)
    const sha = R.str(c?.["sha"])
    const tree = R.str(R.obj(R.obj(c?.["commit"])["tree"])["sha"])
    if (sha === undefined || tree === undefined) return undefined
    return { sha, tree, branch: /^[0-9a-f]{7,40}$/.test(name) ? undefined : name }
  },
  files: (tree, path) => o.manifests.get(tree, path)
})

/** Something with the GitHubFake's `url` and `push` (the fake itself). */
export interface GitHost {
  readonly url: string
  readonly push: (fullName: string, options: { readonly branch: string; readonly message?: string; readonly author?: string; readonly workflows?: ReadonlyArray<string> }) => { readonly sha: string }
}

/**
 * Commits manifests to a branch of a fake repository: a push (one commit) whose tree holds the
 * parent's files with `files` replacing theirs; returns the commit and tree.
 */
export const commit = async (
  host: GitHost,
  m: Manifests,
  o: { readonly repo: string; readonly branch: string; readonly files: Readonly<Record<string, ReadonlyArray<Obj>>>; readonly message?: string; readonly author?: string; readonly token?: string }
): Promise<{ readonly sha: string; readonly tree: string }> => {
  const auth = { url: host.url, token: o.token ?? "test-token" }
  const parent = await ghGet(auth, `/repos/${o.repo}/commits/${encodeURIComponent(o.branch)}`)
  const parentTree = R.str(R.obj(R.obj(parent?.["commit"])["tree"])["sha"])
  const { sha } = host.push(o.repo, { branch: o.branch, workflows: [], ...(o.message !== undefined ? { message: o.message } : {}), ...(o.author !== undefined ? { author: o.author } : {}) })
  const c = await ghGet(auth, `/repos/${o.repo}/commits/${sha}`)
  const tree = R.str(R.obj(R.obj(c?.["commit"])["tree"])["sha"])
  if (tree === undefined) throw new Error(`GitOpsModel.commit: cannot read commit ${sha} of ${o.repo}`)
  m.put(tree, { ...(parentTree !== undefined ? m.all(parentTree) : {}), ...o.files })
  return { sha, tree }
}

/** A Deployment manifest with one container (the image a revision deploys). */
export const deployment = (name: string, image: string, namespace?: string, o: { readonly neverReady?: boolean; readonly progressDeadlineSeconds?: number } = {}): Obj => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, ...(namespace !== undefined ? { namespace } : {}), labels: { app: name } },
  spec: {
    replicas: 1,
    ...(o.progressDeadlineSeconds !== undefined ? { progressDeadlineSeconds: o.progressDeadlineSeconds } : {}),
    selector: { matchLabels: { app: name } },
    template: {
      // kube-sim's container behaviour: pods of a neverReady revision never pass readiness
      metadata: { labels: { app: name }, ...(o.neverReady ? { annotations: { "kube-sim.byteport.io/behavior": JSON.stringify({ "*": { neverReady: true } }) } } : {}) },
      spec: { containers: [{ name, image }] }
    }
  }
})

/** Argo CD's health statuses the model assesses (worst last). */
export type Health = "Healthy" | "Progressing" | "Missing" | "Degraded"

const HEALTH_ORDER: ReadonlyArray<Health> = ["Healthy", "Progressing", "Missing", "Degraded"]

/**
 * The health of a live Deployment as Argo CD's gitops-engine assesses it: absent → Missing; the
 * controller has not observed the latest generation → Progressing; `Progressing` condition
 * `ProgressDeadlineExceeded` → Degraded; fewer updated or available replicas than wanted, or old
 * replicas left → Progressing; else Healthy.
 */
export const deploymentHealth = (d: Obj | undefined): Health => {
  if (d === undefined) return "Missing"
  const spec = R.obj(d["spec"])
  const st = R.obj(d["status"])
  const gen = R.obj(d["metadata"])["generation"]
  const observed = st["observedGeneration"]
  if (typeof gen === "number" && (typeof observed !== "number" || observed < gen)) return "Progressing"
  if (R.arr(st["conditions"]).map(R.obj).some((c) => c["type"] === "Progressing" && c["reason"] === "ProgressDeadlineExceeded")) return "Degraded"
  const n = (v: unknown) => (typeof v === "number" ? v : 0)
  const wanted = typeof spec["replicas"] === "number" ? spec["replicas"] : 1
  if (n(st["updatedReplicas"]) < wanted || n(st["replicas"]) > n(st["updatedReplicas"]) || n(st["availableReplicas"]) < n(st["updatedReplicas"])) return "Progressing"
  return "Healthy"
}

/** The worst of several healths (an application's health is its worst resource's). */
export const worstHealth = (hs: ReadonlyArray<Health>): Health => hs.reduce<Health>((w, h) => (HEALTH_ORDER.indexOf(h) > HEALTH_ORDER.indexOf(w) ? h : w), "Healthy")

/** Options of {@link make}. */
export interface Options {
  readonly git: GitSource
  /** Argo CD's reconciliation interval (`timeout.reconciliation`), ms (default 180 000). */
  readonly argoIntervalMs?: number
  /** How often (real ms) the model checks what is due on kube-sim's clock (default 20). */
  readonly resyncMillis?: number
}

/** A running model. */
export interface GitOpsModel {
  /** The kube-sim installer. */
  readonly install: Installer
  /** Resolves once a pass started after the call has finished and none is queued (so clock moves are seen). */
  readonly idle: () => Promise<void>
  /** Argo CD's rollback of an Application to a history id (what the API's rollback does). */
  readonly rollback: (namespace: string, name: string, o: { readonly id: number; readonly prune?: boolean; readonly dryRun?: boolean }) => Promise<Obj>
  /** Syncs an Application to its target revision now (the API's sync). */
  readonly sync: (namespace: string, name: string, o?: { readonly revision?: string; readonly prune?: boolean; readonly dryRun?: boolean }) => Promise<Obj>
  /** Applies the model's installed store (throws before `install` ran). */
  readonly store: () => SimStore
  /** kube-sim's clock. */
  readonly now: () => number
  /** Every apply the model made (kind, namespace/name, by whom, at), in order. */
  readonly applies: ReadonlyArray<{ readonly by: string; readonly kind: string; readonly name: string; readonly revision: string; readonly at: number }>
}

/** An error the model's operations raise (the Argo CD API fake maps `code` to gRPC codes). */
export class GitOpsError extends Error {
  constructor(readonly code: "NotFound" | "FailedPrecondition" | "InvalidArgument", message: string) {
    super(message)
  }
}

const CRD_KEY: ResourceKey = { group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions" }
const keyOf = (t: R.ResourceType): ResourceKey => ({ group: t.group, version: t.version, resource: t.plural })

const crd = (t: R.ResourceType, o: { short: ReadonlyArray<string>; categories: ReadonlyArray<string>; columns: ReadonlyArray<Obj>; namespaced?: boolean }): SimObject => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${t.plural}.${t.group}`, labels: { "app.kubernetes.io/part-of": t.group.startsWith("argoproj") ? "argocd" : "flux" } },
  spec: {
    group: t.group,
    scope: o.namespaced === false ? "Cluster" : "Namespaced",
    names: { plural: t.plural, singular: t.kind.toLowerCase(), kind: t.kind, listKind: `${t.kind}List`, shortNames: [...o.short], categories: [...o.categories] },
    versions: [{
      name: t.version,
      served: true,
      storage: true,
      schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
      subresources: { status: {} },
      additionalPrinterColumns: [...o.columns]
    }]
  }
})

const AGE = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
const READY = { name: "Ready", type: "string", jsonPath: ".status.conditions[?(@.type==\"Ready\")].status" }
const STATUS = { name: "Status", type: "string", jsonPath: ".status.conditions[?(@.type==\"Ready\")].message" }

/** The CRDs the model registers (Argo CD's and Flux's names, short names and printer columns). */
export const crds = (): ReadonlyArray<SimObject> => [
  crd(R.Application, {
    short: ["app", "apps"], categories: [],
    columns: [{ name: "Sync Status", type: "string", jsonPath: ".status.sync.status" }, { name: "Health Status", type: "string", jsonPath: ".status.health.status" }, { name: "Revision", type: "string", jsonPath: ".status.sync.revision", priority: 10 }, { name: "Project", type: "string", jsonPath: ".spec.project", priority: 10 }]
  }),
  crd(R.ApplicationSet, { short: ["appset", "appsets"], categories: [], columns: [] }),
  crd(R.GitRepository, { short: ["gitrepo"], categories: ["flux"], columns: [{ name: "URL", type: "string", jsonPath: ".spec.url" }, AGE, READY, STATUS] }),
  crd(R.Kustomization, { short: ["ks"], categories: ["flux"], columns: [AGE, READY, STATUS] }),
  crd(R.HelmRelease, { short: ["hr"], categories: ["flux"], columns: [AGE, READY, STATUS] })
]

const BUILTIN: Record<string, ResourceKey> = {
  "apps/v1/Deployment": { group: "apps", version: "v1", resource: "deployments" },
  "apps/v1/StatefulSet": { group: "apps", version: "v1", resource: "statefulsets" },
  "apps/v1/DaemonSet": { group: "apps", version: "v1", resource: "daemonsets" },
  "v1/Service": { group: "", version: "v1", resource: "services" },
  "v1/ConfigMap": { group: "", version: "v1", resource: "configmaps" },
  "v1/Secret": { group: "", version: "v1", resource: "secrets" },
  "v1/ServiceAccount": { group: "", version: "v1", resource: "serviceaccounts" }
}

/** Whether every field of `want` is in `have` (arrays element-wise, same length). */
const subset = (want: unknown, have: unknown): boolean => {
  if (Array.isArray(want)) return Array.isArray(have) && want.length === have.length && want.every((w, i) => subset(w, have[i]))
  if (typeof want === "object" && want !== null) {
    if (typeof have !== "object" || have === null || Array.isArray(have)) return false
    return Object.entries(want).every(([k, v]) => subset(v, (have as Obj)[k]))
  }
  return want === have
}

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z")

/** JSON-pointer get/set on plain objects (for `ignoreApplicationDifferences`). */
const pointerGet = (o: unknown, ptr: string): { found: boolean; value?: unknown } => {
  let cur: unknown = o
  for (const part of ptr.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))) {
    if (typeof cur !== "object" || cur === null || !(part in (cur as Obj))) return { found: false }
    cur = (cur as Obj)[part]
  }
  return { found: true, value: cur }
}
const pointerSet = (o: Obj, ptr: string, v: { found: boolean; value?: unknown }) => {
  const parts = ptr.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
  let cur: Obj = o
  for (const part of parts.slice(0, -1)) {
    if (typeof cur[part] !== "object" || cur[part] === null) cur[part] = {}
    cur = cur[part] as Obj
  }
  const last = parts[parts.length - 1]!
  if (v.found) cur[last] = structuredClone(v.value)
  else delete cur[last]
}

const render = (template: unknown, params: Obj): unknown =>
  JSON.parse(JSON.stringify(template).replace(/\{\{\s*\.?([A-Za-z0-9_.-]+)\s*\}\}/g, (all, k: string) => {
    const v = k.split(".").reduce<unknown>((acc, p) => R.obj(acc)[p], params)
    return typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v).replace(/["\\]/g, "\\$&") : all
  }))

/** Makes the model (install it with `KubeSim.start({ install: [model.install] })`). */
export const make = (options: Options): GitOpsModel => {
  const argoInterval = options.argoIntervalMs ?? 180_000
  let ctxRef: InstallContext | undefined
  let running = false
  let queued = false
  let waiters: Array<() => void> = []
  const applies: Array<{ by: string; kind: string; name: string; revision: string; at: number }> = []
  let kick: () => void = () => undefined
  let stopped = false
  const ctx = () => {
    if (ctxRef === undefined) throw new Error("GitOpsModel: not installed (pass model.install to KubeSim.start)")
    return ctxRef
  }

  // per object: when it last reconciled, the spec it reconciled, what it applied (prune)
  const last = new Map<string, { at: number; spec: string; sourceRevision?: string }>()
  const owned = new Map<string, Set<string>>()
  const trees = new Map<string, string>()

  const idOf = (t: R.ResourceType, o: SimObject) => `${t.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}/${String(o.metadata["uid"] ?? "")}`
  const due = (id: string, spec: unknown, intervalMs: number, sourceRevision?: string): boolean => {
    const l = last.get(id)
    if (l === undefined) return true
    if (l.spec !== JSON.stringify(spec ?? null)) return true
    if (sourceRevision !== undefined && l.sourceRevision !== sourceRevision) return true
    return ctx().now() >= l.at + intervalMs
  }
  const mark = (id: string, spec: unknown, sourceRevision?: string) =>
    last.set(id, { at: ctx().now(), spec: JSON.stringify(spec ?? null), ...(sourceRevision !== undefined ? { sourceRevision } : {}) })

  const keyForKind = (apiVersion: string, kind: string): ResourceKey | undefined => {
    const b = BUILTIN[`${apiVersion}/${kind}`]
    if (b) return b
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion]
    for (const t of [R.Application, R.ApplicationSet, R.GitRepository, R.Kustomization, R.HelmRelease]) if (t.group === group && t.kind === kind) return keyOf(t)
    for (const e of ctx().store.scan(CRD_KEY)) {
      const spec = R.obj(e.obj["spec"])
      if (spec["group"] === group && R.obj(spec["names"])["kind"] === kind) return { group: group!, version: version!, resource: String(R.obj(spec["names"])["plural"]) }
    }
    return undefined
  }
  const ref = (o: Obj, ns: string) => {
    const meta = R.obj(o["metadata"])
    return { apiVersion: String(o["apiVersion"]), kind: String(o["kind"]), name: String(meta["name"]), namespace: R.str(meta["namespace"]) ?? ns }
  }
  const refId = (r: { apiVersion: string; kind: string; name: string; namespace: string }) => `${r.apiVersion}|${r.kind}|${r.namespace}|${r.name}`

  /** Applies one desired object (labels/annotations merged, spec/data replaced, status kept). */
  const apply = (by: string, revision: string, desired: Obj, ns: string, extra: { labels?: Record<string, string>; annotations?: Record<string, string> }) => {
    const store = ctx().store
    const r = ref(desired, ns)
    const key = keyForKind(r.apiVersion, r.kind)
    if (key === undefined) throw new Error(`no resource type for ${r.apiVersion} ${r.kind}`)
    const meta = R.obj(desired["metadata"])
    const labels = { ...(R.obj(meta["labels"]) as Record<string, string>), ...(extra.labels ?? {}) }
    const annotations = { ...(R.obj(meta["annotations"]) as Record<string, string>), ...(extra.annotations ?? {}) }
    const cur = store.get(key, r.namespace, r.name)
    if (cur === undefined) {
      const { status: _status, ...body } = desired
      store.create(key, { ...body, apiVersion: r.apiVersion, kind: r.kind, metadata: { ...meta, name: r.name, namespace: r.namespace, labels, annotations } } as SimObject)
    } else {
      const next: SimObject = { ...cur, metadata: { ...cur.metadata, labels: { ...R.obj(cur.metadata["labels"]), ...labels }, annotations: { ...R.obj(cur.metadata["annotations"]), ...annotations } } }
      for (const [k, v] of Object.entries(desired)) if (k !== "metadata" && k !== "status" && k !== "apiVersion" && k !== "kind") next[k] = structuredClone(v)
      delete next.metadata["resourceVersion"]
      store.update(key, next)
    }
    applies.push({ by, kind: r.kind, name: `${r.namespace}/${r.name}`, revision, at: ctx().now() })
    return r
  }
  const matches = (desired: ReadonlyArray<Obj>, ns: string): boolean =>
    desired.every((d) => {
      const r = ref(d, ns)
      const key = keyForKind(r.apiVersion, r.kind)
      const live = key ? ctx().store.get(key, r.namespace, r.name) : undefined
      if (live === undefined) return false
      return Object.entries(d).every(([k, v]) => k === "metadata" || k === "status" || k === "apiVersion" || k === "kind" || subset(v, live[k]))
    })
  /** The health of what `owner` applied (its Deployments; other kinds count as Healthy). */
  const healthOfOwned = (owner: string): Health =>
    worstHealth([...(owned.get(owner) ?? [])].flatMap((id) => {
      const [apiVersion, kind, namespace, name] = id.split("|") as [string, string, string, string]
      if (kind !== "Deployment") return []
      const key = keyForKind(apiVersion, kind)
      return key ? [deploymentHealth(ctx().store.get(key, namespace, name) as Obj | undefined)] : []
    }))
  const applyAll = (owner: string, by: string, revision: string, desired: ReadonlyArray<Obj>, ns: string, prune: boolean, extra: (o: Obj) => { labels?: Record<string, string>; annotations?: Record<string, string> }) => {
    const now = new Set<string>()
    for (const d of desired) now.add(refId(apply(by, revision, d, ns, extra(d))))
    const before = owned.get(owner) ?? new Set<string>()
    if (prune) {
      for (const id of before) {
        if (now.has(id)) continue
        const [apiVersion, kind, namespace, name] = id.split("|") as [string, string, string, string]
        const key = keyForKind(apiVersion, kind)
        if (key) ctx().store.delete(key, namespace, name)
      }
      owned.set(owner, now)
    } else owned.set(owner, new Set([...before, ...now]))
    return [...now]
  }

  // --- Argo CD -------------------------------------------------------------------------------

  const APPS = keyOf(R.Application)
  const setAppStatus = (ns: string, name: string, f: (s: Obj) => Obj) =>
    ctx().store.mutate(APPS, ns, name, (x) => {
      x["status"] = f(structuredClone(R.obj(x["status"])))
    })

  const argoSync = async (app: SimObject, o: { revision: string; source: Obj; prune: boolean; initiatedBy: Obj; rollback: boolean; target?: string }): Promise<void> => {
    const ns = app.metadata.namespace ?? "argocd"
    const spec = R.obj(app["spec"])
    const dest = R.obj(spec["destination"])
    const destNs = R.str(dest["namespace"]) ?? "default"
    const resolved = await options.git.resolve(String(o.source["repoURL"] ?? ""), o.revision)
    if (resolved === undefined) throw new GitOpsError("InvalidArgument", `unable to resolve '${o.revision}' to a commit SHA`)
    const desired = options.git.files(resolved.tree, String(o.source["path"] ?? ".")) ?? []
    const started = ctx().now()
    const ids = applyAll(`app:${ns}/${app.metadata.name}`, `argocd:${app.metadata.name}`, resolved.sha, desired, destNs, o.prune, (d) => {
      const r = ref(d, destNs)
      const [g] = r.apiVersion.includes("/") ? r.apiVersion.split("/") : [""]
      return { annotations: { "argocd.argoproj.io/tracking-id": `${app.metadata.name}:${g}/${r.kind}:${r.namespace}/${r.name}` } }
    })
    setAppStatus(ns, app.metadata.name, (s) => {
      const history = [...R.historyOf({ status: s })]
      const nextId = history.reduce((m, h) => Math.max(m, h.id), -1) + 1
      const limit = typeof spec["revisionHistoryLimit"] === "number" ? spec["revisionHistoryLimit"] : 10
      const entry = { id: nextId, revision: resolved.sha, deployedAt: iso(ctx().now()), deployStartedAt: iso(started), source: structuredClone(o.source), initiatedBy: o.initiatedBy }
      const hist = [...R.arr(s["history"]), entry].slice(-Math.max(1, limit))
      const target = o.target ?? R.str(R.obj(s["sync"])["revision"])
      return {
        ...s,
        history: hist,
        operationState: {
          operation: { sync: { revision: resolved.sha, prune: o.prune, syncStrategy: { hook: {} } }, initiatedBy: o.initiatedBy, retry: {} },
          phase: "Succeeded",
          message: "successfully synced (all tasks run)",
          syncResult: { revision: resolved.sha, source: structuredClone(o.source), resources: ids.map((id) => { const [av, kind, namespace, name] = id.split("|"); return { group: av!.includes("/") ? av!.split("/")[0] : "", version: av!.split("/").pop(), kind, namespace, name, status: "Synced", message: `${String(kind).toLowerCase()} configured`, syncPhase: "Sync", hookPhase: "Running" } }) },
          startedAt: iso(started),
          finishedAt: iso(ctx().now())
        },
        sync: { ...R.obj(s["sync"]), status: target === resolved.sha ? "Synced" : "OutOfSync" },
        health: { status: healthOfOwned(`app:${ns}/${app.metadata.name}`) },
        reconciledAt: iso(ctx().now())
      }
    })
  }

  const reconcileApp = async (app: SimObject): Promise<void> => {
    const ns = app.metadata.namespace ?? "argocd"
    const spec = R.obj(app["spec"])
    const source = R.obj(spec["source"])
    const dest = R.obj(spec["destination"])
    const destNs = R.str(dest["namespace"]) ?? "default"
    const target = R.str(source["targetRevision"]) ?? "HEAD"
    const resolved = await options.git.resolve(String(source["repoURL"] ?? ""), target)
    if (resolved === undefined) {
      setAppStatus(ns, app.metadata.name, (s) => ({ ...s, sync: { status: "Unknown", comparedTo: { source, destination: dest } }, conditions: [{ type: "ComparisonError", message: `Failed to load target state: unable to resolve '${target}' to a commit SHA`, lastTransitionTime: iso(ctx().now()) }], reconciledAt: iso(ctx().now()) }))
      return
    }
    const desired = options.git.files(resolved.tree, String(source["path"] ?? "."))
    if (desired === undefined) {
      setAppStatus(ns, app.metadata.name, (s) => ({ ...s, sync: { status: "Unknown", revision: resolved.sha, comparedTo: { source, destination: dest } }, conditions: [{ type: "ComparisonError", message: `Failed to load target state: ${String(source["path"])}: app path does not exist`, lastTransitionTime: iso(ctx().now()) }], reconciledAt: iso(ctx().now()) }))
      return
    }
    const inSync = matches(desired, destNs)
    setAppStatus(ns, app.metadata.name, (s) => {
      const { conditions: _c, ...rest } = s
      return { ...rest, sync: { status: inSync ? "Synced" : "OutOfSync", revision: resolved.sha, comparedTo: { source, destination: dest } }, health: { status: healthOfOwned(`app:${ns}/${app.metadata.name}`) }, sourceType: "Directory", reconciledAt: iso(ctx().now()) }
    })
    if (!R.autoSyncOn(app)) return
    const automated = R.obj(R.obj(spec["syncPolicy"])["automated"])
    const fresh = ctx().store.get(APPS, ns, app.metadata.name)
    const lastSynced = R.str(R.obj(R.obj(R.obj(fresh?.["status"])["operationState"])["syncResult"])["revision"])
    if (lastSynced !== resolved.sha || (automated["selfHeal"] === true && !inSync)) {
      await argoSync(fresh ?? app, { revision: resolved.sha, source, prune: automated["prune"] === true, initiatedBy: { automated: true }, rollback: false, target: resolved.sha })
    }
  }

  const appSets = () => {
    const store = ctx().store
    for (const e of store.scan(keyOf(R.ApplicationSet))) {
      const set = e.obj
      const spec = R.obj(set["spec"])
      const ns = set.metadata.namespace ?? "argocd"
      const elements = R.arr(spec["generators"]).flatMap((g) => R.arr(R.obj(R.obj(g)["list"])["elements"]).map(R.obj))
      const ignored = R.arr(spec["ignoreApplicationDifferences"]).flatMap((d) => R.arr(R.obj(d)["jsonPointers"]).map(String))
      const createOnly = R.obj(spec["syncPolicy"])["applicationsSync"] === "create-only"
      for (const el of elements) {
        const t = R.obj(render(spec["template"], el))
        const meta = R.obj(t["metadata"])
        const name = R.str(meta["name"])
        if (name === undefined) continue
        const cur = store.get(APPS, ns, name)
        const ownerRef = { apiVersion: R.apiVersion(R.ApplicationSet), kind: "ApplicationSet", name: set.metadata.name, uid: String(set.metadata["uid"] ?? ""), controller: true, blockOwnerDeletion: true }
        if (cur === undefined) {
          store.create(APPS, { apiVersion: R.apiVersion(R.Application), kind: "Application", metadata: { ...meta, name, namespace: ns, ownerReferences: [ownerRef] }, spec: R.obj(t["spec"]) })
          continue
        }
        if (R.applicationSetOwner(cur) !== set.metadata.name || createOnly) continue
        const want: Obj = { spec: structuredClone(R.obj(t["spec"])) }
        for (const p of ignored) if (p.startsWith("/spec")) pointerSet(want, p, pointerGet({ spec: cur["spec"] }, p))
        if (JSON.stringify(want["spec"]) !== JSON.stringify(cur["spec"])) {
          store.update(APPS, { ...cur, metadata: { ...cur.metadata, resourceVersion: undefined }, spec: want["spec"] } as SimObject)
        }
      }
    }
  }

  // --- Flux ----------------------------------------------------------------------------------

  const GITREPOS = keyOf(R.GitRepository)
  const readyCond = (status: "True" | "False" | "Unknown", reason: string, message: string, generation: unknown, prev: Obj) => {
    const was = R.arr(prev["conditions"]).map(R.obj).find((c) => c["type"] === "Ready")
    return [{ type: "Ready", status, reason, message, observedGeneration: generation, lastTransitionTime: was && was["status"] === status ? was["lastTransitionTime"] : iso(ctx().now()) }]
  }
  /**
   * A Kustomization's Ready after an apply: with `spec.wait: true` or `spec.healthChecks`, from the
   * applied Deployments' health (Degraded → False `HealthCheckFailed`, Progressing or Missing →
   * Unknown `Progressing`); else True on the apply, as kustomize-controller does.
   */
  const fluxReady = (spec: Obj, owner: string, revision: string, generation: unknown, prev: Obj) => {
    const checks = spec["wait"] === true || R.arr(spec["healthChecks"]).length > 0
    const h = checks ? healthOfOwned(owner) : "Healthy"
    if (h === "Degraded") return readyCond("False", "HealthCheckFailed", `health check failed after applying revision ${revision}: a Deployment exceeded its progress deadline`, generation, prev)
    if (h !== "Healthy") return readyCond("Unknown", "Progressing", `Reconciliation in progress: waiting for the applied Deployments (${h})`, generation, prev)
    return readyCond("True", "ReconciliationSucceeded", `Applied revision: ${revision}`, generation, prev)
  }

  const reconcileGitRepository = async (g: SimObject) => {
    const spec = R.obj(g["spec"])
    const r = R.obj(spec["ref"])
    const name = R.str(r["commit"]) ?? R.str(r["tag"]) ?? R.str(r["branch"]) ?? "HEAD"
    const resolved = await options.git.resolve(String(spec["url"] ?? ""), name)
    const ns = g.metadata.namespace ?? "flux-system"
    ctx().store.mutate(GITREPOS, ns, g.metadata.name, (x) => {
      const s = R.obj(x["status"])
      if (resolved === undefined) {
        x["status"] = { ...s, observedGeneration: x.metadata["generation"], conditions: readyCond("False", "GitOperationFailed", `failed to checkout and determine revision: unable to resolve '${name}'`, x.metadata["generation"], s) }
        return
      }
      trees.set(resolved.sha, resolved.tree)
      const revision = resolved.branch !== undefined ? R.fluxRevision(resolved.branch, resolved.sha) : `sha1:${resolved.sha}`
      const same = R.str(R.obj(s["artifact"])["revision"]) === revision
      x["status"] = {
        ...s,
        observedGeneration: x.metadata["generation"],
        artifact: same ? s["artifact"] : {
          digest: `sha256:${Crypto.createHash("sha256").update(resolved.tree).digest("hex")}`,
          lastUpdateTime: iso(ctx().now()),
          path: `gitrepository/${ns}/${g.metadata.name}/${resolved.sha}.tar.gz`,
          revision,
          size: 1024,
          url: `http://source-controller.flux-system.svc.cluster.local./gitrepository/${ns}/${g.metadata.name}/${resolved.sha}.tar.gz`
        },
        conditions: readyCond("True", "Succeeded", `stored artifact for revision '${revision}'`, x.metadata["generation"], s)
      }
    })
  }

  /** The artifact of a Flux object's GitRepository source: revision, sha, tree. */
  const sourceOf = async (o: SimObject, sourceRef: Obj): Promise<{ revision: string; sha: string; tree: string } | { error: string }> => {
    const ns = R.str(sourceRef["namespace"]) ?? o.metadata.namespace ?? "flux-system"
    const name = String(sourceRef["name"] ?? "")
    if ((sourceRef["kind"] ?? "GitRepository") !== "GitRepository") return { error: `source kind ${String(sourceRef["kind"])} is not modelled` }
    const g = ctx().store.get(GITREPOS, ns, name)
    if (g === undefined) return { error: `GitRepository.source.toolkit.fluxcd.io "${name}" not found` }
    const revision = R.str(R.obj(R.obj(g["status"])["artifact"])["revision"])
    const sha = R.shaOfFluxRevision(revision)
    if (revision === undefined || sha === undefined) return { error: `Source artifact not found, retrying in 30s` }
    let tree = trees.get(sha)
    if (tree === undefined) {
      const resolved = await options.git.resolve(String(R.obj(g["spec"])["url"] ?? ""), sha)
      if (resolved === undefined) return { error: `cannot read revision ${revision}` }
      tree = resolved.tree
      trees.set(sha, tree)
    }
    return { revision, sha, tree }
  }

  const KS = keyOf(R.Kustomization)
  const reconcileKustomization = async (k: SimObject) => {
    const spec = R.obj(k["spec"])
    const ns = k.metadata.namespace ?? "flux-system"
    const src = await sourceOf(k, R.obj(spec["sourceRef"]))
    if ("error" in src) {
      ctx().store.mutate(KS, ns, k.metadata.name, (x) => {
        const s = R.obj(x["status"])
        x["status"] = { ...s, observedGeneration: x.metadata["generation"], conditions: readyCond("False", "ArtifactFailed", src.error, x.metadata["generation"], s) }
      })
      return
    }
    const desired = options.git.files(src.tree, String(spec["path"] ?? "./")) ?? []
    const target = R.str(spec["targetNamespace"]) ?? ns
    const ids = applyAll(`ks:${ns}/${k.metadata.name}`, `flux:kustomization/${k.metadata.name}`, src.sha, desired, target, spec["prune"] === true, () => ({
      labels: { "kustomize.toolkit.fluxcd.io/name": k.metadata.name, "kustomize.toolkit.fluxcd.io/namespace": ns }
    }))
    ctx().store.mutate(KS, ns, k.metadata.name, (x) => {
      const s = R.obj(x["status"])
      x["status"] = {
        ...s,
        observedGeneration: x.metadata["generation"],
        lastAppliedRevision: src.revision,
        lastAttemptedRevision: src.revision,
        lastHandledReconcileAt: iso(ctx().now()),
        inventory: { entries: ids.map((id) => { const [av, kind, namespace, name] = id.split("|"); const grp = av!.includes("/") ? av!.split("/")[0] : ""; return { id: `${namespace}_${name}_${grp}_${kind}`, v: av!.split("/").pop() } }) },
        conditions: fluxReady(spec, `ks:${ns}/${k.metadata.name}`, src.revision, x.metadata["generation"], s)
      }
    })
  }

  const HR = keyOf(R.HelmRelease)
  const reconcileHelmRelease = async (h: SimObject) => {
    const spec = R.obj(h["spec"])
    const ns = h.metadata.namespace ?? "flux-system"
    const chart = R.obj(R.obj(spec["chart"])["spec"])
    const src = await sourceOf(h, R.obj(chart["sourceRef"]))
    if ("error" in src) {
      ctx().store.mutate(HR, ns, h.metadata.name, (x) => {
        const s = R.obj(x["status"])
        x["status"] = { ...s, observedGeneration: x.metadata["generation"], conditions: readyCond("False", "ArtifactFailed", src.error, x.metadata["generation"], s) }
      })
      return
    }
    const status = R.obj(h["status"])
    const chartVersion = `0.1.0+${src.sha.slice(0, 12)}`
    const desired = options.git.files(src.tree, String(chart["chart"] ?? ".")) ?? []
    const target = R.str(spec["targetNamespace"]) ?? ns
    const release = R.str(spec["releaseName"]) ?? (R.str(spec["targetNamespace"]) !== undefined ? `${target}-${h.metadata.name}` : h.metadata.name)
    const upgrade = R.str(status["lastAttemptedRevision"]) !== chartVersion
    const drift = R.obj(spec["driftDetection"])["mode"] === "enabled" && !matches(desired, target)
    if (!upgrade && !drift) return
    applyAll(`hr:${ns}/${h.metadata.name}`, `flux:helmrelease/${h.metadata.name}`, src.sha, desired, target, true, () => ({
      labels: { "helm.toolkit.fluxcd.io/name": h.metadata.name, "helm.toolkit.fluxcd.io/namespace": ns, "app.kubernetes.io/managed-by": "Helm" },
      annotations: { "meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": target }
    }))
    if (!upgrade) return
    ctx().store.mutate(HR, ns, h.metadata.name, (x) => {
      const s = R.obj(x["status"])
      const history = R.arr(s["history"]).map(R.obj)
      const version = (typeof history[0]?.["version"] === "number" ? (history[0]["version"] as number) : 0) + 1
      const snapshot = {
        name: release, namespace: target, version, chartName: String(chart["chart"] ?? "").split("/").pop(), chartVersion, appVersion: src.sha.slice(0, 12),
        configDigest: `sha256:${Crypto.createHash("sha256").update(JSON.stringify(spec["values"] ?? {})).digest("hex")}`,
        digest: `sha256:${Crypto.createHash("sha256").update(`${src.tree}${version}`).digest("hex")}`,
        firstDeployed: iso(ctx().now()), lastDeployed: iso(ctx().now()), status: "deployed"
      }
      x["status"] = {
        ...s,
        observedGeneration: x.metadata["generation"],
        lastAttemptedGeneration: x.metadata["generation"],
        lastAttemptedRevision: chartVersion,
        lastAttemptedConfigDigest: snapshot.configDigest,
        lastAttemptedReleaseAction: version === 1 ? "install" : "upgrade",
        history: [snapshot, ...history.map((p) => ({ ...p, status: "superseded" }))].slice(0, 5),
        conditions: readyCond("True", version === 1 ? "InstallSucceeded" : "UpgradeSucceeded", `Helm ${version === 1 ? "install" : "upgrade"} succeeded for release ${target}/${release}.v${version} with chart ${snapshot.chartName}@${chartVersion}`, x.metadata["generation"], s)
      }
    })
  }

  // --- the loop ------------------------------------------------------------------------------

  const pass = async () => {
    const store = ctx().store
    appSets()
    const each = async (t: R.ResourceType, interval: (o: SimObject) => number, run: (o: SimObject) => Promise<void>, sourceRevision?: (o: SimObject) => string | undefined) => {
      for (const e of store.scan(keyOf(t))) {
        const o = e.obj
        if (o.metadata["deletionTimestamp"] !== undefined) continue
        const id = idOf(t, o)
        const rev = sourceRevision?.(o)
        if (!due(id, o["spec"], interval(o), rev)) continue
        mark(id, o["spec"], rev)
        if (R.obj(o["spec"])["suspend"] === true) continue
        try {
          await run(o)
        } catch (err) {
          if (!stopped) console.error(`GitOpsModel: reconcile of ${id} failed`, err)
        }
      }
    }
    const fluxInterval = (o: SimObject) => R.durationMs(R.obj(o["spec"])["interval"]) ?? 60_000
    const fluxSourceRevision = (o: SimObject, sourceRef: Obj) => {
      const g = store.get(GITREPOS, R.str(sourceRef["namespace"]) ?? o.metadata.namespace ?? "flux-system", String(sourceRef["name"] ?? ""))
      return R.str(R.obj(R.obj(g?.["status"])["artifact"])["revision"])
    }
    await each(R.Application, () => argoInterval, reconcileApp)
    // health follows the live resources on every pass (Argo CD watches them), not only on a reconcile
    for (const e of store.scan(APPS)) {
      const ns = e.obj.metadata.namespace ?? "argocd"
      const cur = R.str(R.obj(R.obj(e.obj["status"])["health"])["status"])
      if (cur === null) continue
      const h = healthOfOwned(`app:${ns}/${e.obj.metadata.name}`)
      if (h !== cur) setAppStatus(ns, e.obj.metadata.name, (st) => ({ ...st, health: { status: h } }))
    }
    await each(R.GitRepository, fluxInterval, reconcileGitRepository)
    await each(R.Kustomization, fluxInterval, reconcileKustomization, (o) => fluxSourceRevision(o, R.obj(R.obj(o["spec"])["sourceRef"])))
    await each(R.HelmRelease, fluxInterval, reconcileHelmRelease, (o) => fluxSourceRevision(o, R.obj(R.obj(R.obj(R.obj(o["spec"])["chart"])["spec"])["sourceRef"])))
  }

  const loop = async () => {
    if (running) return
    running = true
    try {
      while (queued) {
        queued = false
        const served = waiters
        waiters = []
        try {
          await pass()
        } catch (err) {
          if (!stopped) console.error("GitOpsModel: pass failed", err)
        }
        for (const w of served) w()
      }
    } finally {
      running = false
    }
  }

  const install: Installer = (c) => {
    ctxRef = c
    for (const d of crds()) if (c.store.get(CRD_KEY, undefined, d.metadata.name) === undefined) c.store.create(CRD_KEY, d)
    stopped = false
    kick = () => {
      if (stopped) return
      queued = true
      setImmediate(() => void loop())
    }
    const GROUPS = new Set([R.Application.group, R.GitRepository.group, R.Kustomization.group, R.HelmRelease.group])
    const unsubscribe = c.store.subscribe((k) => {
      if (GROUPS.has(k.group)) kick()
    })
    const timer = setInterval(kick, options.resyncMillis ?? 20)
    timer.unref()
    kick()
    return () => {
      stopped = true
      clearInterval(timer)
      unsubscribe()
      for (const w of waiters.splice(0)) w()
    }
  }

  const getApp = (namespace: string, name: string): SimObject => {
    const app = ctx().store.get(APPS, namespace, name)
    if (app === undefined) throw new GitOpsError("NotFound", `applications.argoproj.io "${name}" not found`)
    return app
  }

  return {
    install,
    now: () => ctx().now(),
    store: () => ctx().store,
    get applies() {
      return [...applies]
    },
    idle: () =>
      new Promise<void>((resolve) => {
        waiters.push(resolve)
        kick()
      }),
    rollback: async (namespace, name, o) => {
      const app = getApp(namespace, name)
      if (R.autoSyncOn(app)) throw new GitOpsError("FailedPrecondition", "rollback cannot be initiated when auto-sync is enabled")
      const entry = R.historyOf(app).find((h) => h.id === o.id)
      if (entry === undefined) throw new GitOpsError("NotFound", `application ${name} does not have deployment with id ${o.id}`)
      if (o.dryRun === true) return structuredClone(app) as Obj
      const source = entry.source ?? R.obj(R.obj(app["spec"])["source"])
      await argoSync(app, { revision: entry.revision, source, prune: o.prune === true, initiatedBy: { username: "admin" }, rollback: true })
      return structuredClone(getApp(namespace, name)) as Obj
    },
    sync: async (namespace, name, o = {}) => {
      const app = getApp(namespace, name)
      const source = R.obj(R.obj(app["spec"])["source"])
      const revision = o.revision ?? R.str(source["targetRevision"]) ?? "HEAD"
      if (o.dryRun === true) return structuredClone(app) as Obj
      const resolved = await options.git.resolve(String(source["repoURL"] ?? ""), R.str(source["targetRevision"]) ?? "HEAD")
      await argoSync(app, { revision, source, prune: o.prune === true, initiatedBy: { username: "admin" }, rollback: false, ...(resolved ? { target: resolved.sha } : {}) })
      return structuredClone(getApp(namespace, name)) as Obj
    }
  }
}
