/**
 * The facts of `k8s.deploy.failed-rollout`, each from its own probe (a failed probe is an Unknown
 * fact, never a guess):
 *
 * - `deployment`: the Deployment's state (`kubectl get deployment -o json`): generation,
 *   replicas ready vs total, paused, the Available/Progressing conditions, its selector.
 * - `history`: the revisions from its ReplicaSets (`kubectl rollout history`), the current and
 *   previous revision and their template diff, the rollout start (the new ReplicaSet's
 *   creationTimestamp), the suspect commit SHA from `kubernetes.io/change-cause` (7–40 hex digits,
 *   else "unknown"), and the last-good revision: the newest older revision BytePort saw fully
 *   Available (the {@link RolloutLedger}), else the older ReplicaSet being scaled down if it was
 *   Ready at rollout start (all its pods Ready since before it); none when the Deployment is at
 *   revision 1, its history was pruned, or the candidate's template equals the current one.
 * - `attribution`: Warning events on this workload's pods (of any of its ReplicaSets) or on its
 *   downstream Services that began more than 5 minutes before the rollout start and were still
 *   being seen within 2 minutes of it (an ongoing regression, not a pod's start-up), and the error
 *   ratio of the old revision in the 5 minutes that ended 5 minutes before it (best effort);
 *   readiness-probe failures of the new revision's pods.
 * - `services`: the downstream Services (their selector selects the pod template's labels).
 * - `traffic`: per-revision HTTP numbers (`Metrics.httpStats`): the old revisions over the
 *   `baselineMinutes` before the rollout start, the new revision over the last `windowMinutes`.
 * - `canary`: for a canary Deployment (label `track=canary`), its error budget burn against the
 *   stable Deployments of the same `app`; null for other Deployments.
 *
 * Events are read in both shapes (core/v1 `involvedObject`/`firstTimestamp`, events.k8s.io
 * `regarding`/`deprecatedFirstTimestamp`/`eventTime`).
 *
 * @since 0.3.0
 */
import { Clock, Effect } from "effect"
import { REVISION } from "../actions/rollbackDeployment"
import * as RollbackDeployment from "../actions/rollbackDeployment"
import * as Informers from "../informers/Informers"
import { deployments, events as eventsResource, pods as podsResource, replicaSets } from "../informers/Resource"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import { type HttpStats, Metrics, MetricsUnsupported } from "../metrics/Metrics"
import * as LastDeploy from "./lastDeploy"
import type { RolloutLedger } from "./rolloutLedger"

/** Thresholds and windows (every number in the seed and the issue is a default). */
export interface RolloutSettings {
  /** Warnings older than this before the rollout start mean the regression predates it (minutes, 5). */
  readonly falseAttributionMinutes: number
  /** … when they were still being seen this close to the rollout start, or after it (seconds, 120): a warning that stopped long before (a pod's start-up readiness failures) is no ongoing regression. */
  readonly ongoingSeconds: number
  /** The pre-rollout baseline window (minutes, 10). */
  readonly baselineMinutes: number
  /** The post-rollout window of the new revision (minutes, 5). */
  readonly windowMinutes: number
  /** A new revision not Ready this long after the rollout start is readiness_never_ready (seconds, 120). */
  readonly readinessGraceSeconds: number
  /** The canary label (`track`) and value (`canary`). */
  readonly canaryLabel: string
  readonly canaryValue: string
  /** The label naming the application across stable and canary Deployments (`app`). */
  readonly appLabel: string
}

/** The defaults. */
export const defaults: RolloutSettings = {
  falseAttributionMinutes: 5,
  ongoingSeconds: 120,
  baselineMinutes: 10,
  windowMinutes: 5,
  readinessGraceSeconds: 120,
  canaryLabel: "track",
  canaryValue: "canary",
  appLabel: "app"
}

/** The Deployment's state. */
export interface DeploymentState {
  readonly namespace: string
  readonly name: string
  readonly uid: string | null
  readonly resourceVersion: string
  readonly generation: number
  readonly observedGeneration: number
  readonly replicas: number
  readonly readyReplicas: number
  readonly availableReplicas: number
  readonly updatedReplicas: number
  readonly paused: boolean
  readonly available: "True" | "False" | "Unknown" | null
  readonly progressing: { readonly status: string; readonly reason: string | null } | null
  readonly labels: Readonly<Record<string, string>>
  readonly templateLabels: Readonly<Record<string, string>>
}

/** The last-good revision and why it was chosen. */
export interface LastGood {
  readonly revision: number
  readonly replicaSet: string
  readonly rule: "seen-available" | "scaled-down-ready-at-rollout-start"
  readonly sha: string
  readonly changeCause: string | null
  /** Pods the rollback creates (the last-good ReplicaSet scaled up to spec.replicas) and deletes (the failing ReplicaSet's). */
  readonly churn: { readonly create: number; readonly delete: number }
  /** A duration estimate of the rollback rollout in seconds (rolling batches × a pod's start-to-Ready time). */
  readonly estimatedSeconds: number
}

/** The rollback rollout's estimate: batches of maxSurge (RollingUpdate, default 25%) or one batch (Recreate), each a readiness delay + period + 10 s start. */
export const estimateSeconds = (d: DeploymentObject, template: unknown, create: number): number => {
  // read as the wire may hold it: a retyped or null field reads as absent (its default), never throws
  const spec = rec(d.spec)
  const strategy = rec(spec?.["strategy"])
  const replicas = Math.max(1, num(spec?.["replicas"]) ?? 1)
  const surgeField = rec(strategy?.["rollingUpdate"])?.["maxSurge"]
  const surgeRaw: number | string = num(surgeField) ?? str(surgeField) ?? "25%"
  const surge = str(strategy?.["type"]) === "Recreate"
    ? replicas
    : typeof surgeRaw === "number" ? surgeRaw : /^\d+%$/.test(surgeRaw) ? Math.ceil((replicas * Number(surgeRaw.slice(0, -1))) / 100) : Number(surgeRaw) || 1
  const probes = records(rec(rec(template)?.["spec"])?.["containers"]).map((c) => rec(c["readinessProbe"]))
  const perPod = probes.reduce((m, p) => Math.max(m, (num(p?.["initialDelaySeconds"]) ?? 0) + (num(p?.["periodSeconds"]) ?? 10) * (num(p?.["successThreshold"]) ?? 1)), 0) + 10
  const seconds = Math.ceil(Math.max(1, create) / Math.max(1, surge)) * perPod
  return Number.isFinite(seconds) ? seconds : 0
}

/** The rollout history facts. */
export interface HistoryFacts {
  readonly revisions: ReadonlyArray<LastDeploy.Revision>
  readonly current: LastDeploy.Revision | null
  readonly previous: LastDeploy.Revision | null
  /** Epoch ms: the new ReplicaSet's creationTimestamp. */
  readonly rolloutStart: number | null
  /** Seconds since the rollout start when the facts were read (null without a start). */
  readonly ageSeconds: number | null
  /** The suspect commit SHA ("unknown" when the change cause names none). */
  readonly sha: string
  readonly lastGood: LastGood | null
  /** Why there is no last-good revision (null when there is one). */
  readonly noLastGood: string | null
  readonly changes: ReadonlyArray<LastDeploy.TemplateChange>
  /** The current revision's images (the rollback patch tests them). */
  readonly failingImages: ReadonlyArray<{ readonly container: string; readonly image: string }>
}

/** One Warning event. */
export interface WarningEvent {
  readonly object: string
  readonly reason: string
  readonly message: string
  /** Epoch ms of its first occurrence. */
  readonly firstAt: number
  /** Epoch ms of its last occurrence. */
  readonly lastAt: number
  readonly count: number
}

/** The false-attribution and readiness facts. */
export interface AttributionFacts {
  /** Warnings on this workload's pods or Services that began more than `falseAttributionMinutes` before the rollout start. */
  readonly predatingWarnings: ReadonlyArray<WarningEvent>
  /** The old revisions' error ratio in the window that ended `falseAttributionMinutes` before the rollout start (null: no traffic or unreadable). */
  readonly errorRatioBeforeRollout: number | null
  /** Readiness-probe failures (Unhealthy "Readiness probe failed") on the new revision's pods. */
  readonly readinessFailures: number
}

/** Per-revision HTTP traffic. */
export interface TrafficFacts {
  /** The old revisions over the baseline window before the rollout start. */
  readonly baseline: HttpStats
  /** The new revision over the last window. */
  readonly current: HttpStats
}

/** A canary's error budget burn against its stable Deployments. */
export interface CanaryFacts {
  readonly stable: ReadonlyArray<string>
  readonly canary: HttpStats
  readonly baseline: HttpStats
  /** errorRatio / (1 − SLO target); null without traffic. */
  readonly canaryBurn: number | null
  readonly baselineBurn: number | null
}

/** Every fact of the runbook. */
export interface RolloutFacts {
  readonly deployment: DeploymentState
  readonly history: HistoryFacts
  readonly attribution: AttributionFacts
  readonly services: ReadonlyArray<string>
  readonly traffic: TrafficFacts
  readonly canary: CanaryFacts | null
}

/** A Deployment as these facts read it (wire JSON, `kubectl get -o json` with its nulls, or client-node objects). */
export interface DeploymentObject extends LastDeploy.HistoryDeployment {
  readonly metadata?: LastDeploy.HistoryDeployment["metadata"] & {
    readonly namespace?: string
    readonly resourceVersion?: string
    readonly generation?: number
    readonly labels?: { readonly [k: string]: string } | undefined
  }
  readonly spec?: {
    readonly replicas?: number | undefined
    readonly paused?: boolean | null | undefined
    readonly strategy?: { readonly type?: string | undefined; readonly rollingUpdate?: { readonly maxSurge?: number | string | null | undefined } | null | undefined } | null | undefined
    readonly template?: { readonly metadata?: { readonly labels?: { readonly [k: string]: string } | null } | null } | undefined
  } | undefined
  readonly status?: {
    readonly observedGeneration?: number | undefined
    readonly replicas?: number | undefined
    readonly readyReplicas?: number | undefined
    readonly availableReplicas?: number | undefined
    readonly updatedReplicas?: number | undefined
    readonly conditions?: ReadonlyArray<{ readonly type: string; readonly status: string; readonly reason?: string | null | undefined }> | null | undefined
  } | undefined
}

/** An Event in either API shape. */
export interface EventObject {
  readonly type?: string | null
  readonly reason?: string | null
  readonly message?: string | null
  readonly note?: string | null
  readonly count?: number | null
  readonly firstTimestamp?: string | Date | null
  readonly lastTimestamp?: string | Date | null
  readonly eventTime?: string | Date | null
  readonly deprecatedFirstTimestamp?: string | Date | null
  readonly deprecatedCount?: number | null
  readonly deprecatedLastTimestamp?: string | Date | null
  readonly series?: { readonly lastObservedTime?: string | Date | null } | null
  readonly metadata?: { readonly creationTimestamp?: string | Date | null } | null
  readonly involvedObject?: { readonly kind?: string; readonly name?: string } | null
  readonly regarding?: { readonly kind?: string; readonly name?: string } | null
}

/** A Service (its selector). */
export interface ServiceObject {
  readonly metadata?: { readonly name?: string } | undefined
  readonly spec?: { readonly selector?: { readonly [k: string]: string } | null } | null | undefined
}

/** A Pod (its name, ReplicaSet and Ready condition). */
export interface PodObject {
  readonly metadata?: { readonly name?: string; readonly labels?: { readonly [k: string]: string } | null } | undefined
  readonly status?: { readonly conditions?: ReadonlyArray<{ readonly type: string; readonly status: string; readonly lastTransitionTime?: string | Date | null }> | null } | null | undefined
}

// Readers of the objects as the wire may hold them (client-node types them, nothing decodes them): a
// field of another JSON type (a retyped field), a null, or a list element that is no object reads as
// absent, never throws.
const isRecord = (v: unknown): v is Readonly<Record<string, unknown>> => v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date)
const rec = (v: unknown): Readonly<Record<string, unknown>> | undefined => (isRecord(v) ? v : undefined)
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined)
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined)
const time = (v: unknown): string | Date | undefined => (typeof v === "string" || (v instanceof Date && Number.isFinite(v.getTime())) ? v : undefined)
const records = (v: unknown): ReadonlyArray<Readonly<Record<string, unknown>>> => (Array.isArray(v) ? v.filter(isRecord) : [])
const strings = (v: unknown): Record<string, string> | undefined =>
  isRecord(v) ? Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === "string")) : undefined
const ref = (v: unknown) => {
  const r = rec(v)
  return r && { kind: str(r["kind"]), name: str(r["name"]) }
}
/** A condition without a string type is dropped; one whose status is no string reads as "Unknown". */
const conditions = (v: unknown) =>
  records(v).flatMap((c) => {
    const type = str(c["type"])
    return type === undefined ? [] : [{ type, status: str(c["status"]) ?? "Unknown", reason: str(c["reason"]) ?? null, lastTransitionTime: time(c["lastTransitionTime"]) ?? null }]
  })

/**
 * Decoders of the objects these facts read (a Deployment, ReplicaSet, Pod, Service or Event as the
 * apiserver, kubectl or client-node hold it): only the fields read, each of its type or absent; a
 * retyped or null field reads as absent (a condition's status as "Unknown"), a list that is no
 * array as empty, a list element that is no object is dropped. Pod templates are kept whole (they
 * are diffed as data). Total: never throws.
 */
export const Decode = {
  /** A Deployment. */
  deployment: (v: unknown): DeploymentObject => {
    const d = rec(v)
    const m = rec(d?.["metadata"])
    const spec = rec(d?.["spec"])
    const status = rec(d?.["status"])
    const strategy = rec(spec?.["strategy"])
    const rolling = rec(strategy?.["rollingUpdate"])
    const template = rec(spec?.["template"])
    return {
      metadata: m && { name: str(m["name"]), uid: str(m["uid"]), namespace: str(m["namespace"]), resourceVersion: str(m["resourceVersion"]), generation: num(m["generation"]), labels: strings(m["labels"]), annotations: strings(m["annotations"]) },
      spec: spec && {
        replicas: num(spec["replicas"]),
        paused: typeof spec["paused"] === "boolean" ? spec["paused"] : undefined,
        strategy: strategy && { type: str(strategy["type"]), rollingUpdate: rolling && { maxSurge: num(rolling["maxSurge"]) ?? str(rolling["maxSurge"]) } },
        template
      },
      status: status && {
        observedGeneration: num(status["observedGeneration"]),
        replicas: num(status["replicas"]),
        readyReplicas: num(status["readyReplicas"]),
        availableReplicas: num(status["availableReplicas"]),
        updatedReplicas: num(status["updatedReplicas"]),
        conditions: conditions(status["conditions"])
      }
    } as DeploymentObject
  },
  /** A ReplicaSet. */
  replicaSet: (v: unknown): LastDeploy.HistoryReplicaSet => {
    const r = rec(v)
    const m = rec(r?.["metadata"])
    const spec = rec(r?.["spec"])
    const status = rec(r?.["status"])
    return {
      metadata: m && {
        name: str(m["name"]),
        uid: str(m["uid"]),
        creationTimestamp: time(m["creationTimestamp"]) ?? null,
        annotations: strings(m["annotations"]),
        labels: strings(m["labels"]),
        ownerReferences: records(m["ownerReferences"]).map((o) => ({ kind: str(o["kind"]), name: str(o["name"]), uid: str(o["uid"]) }))
      },
      spec: spec && { replicas: num(spec["replicas"]), template: rec(spec["template"]) },
      status: status && { replicas: num(status["replicas"]), readyReplicas: num(status["readyReplicas"]), availableReplicas: num(status["availableReplicas"]) }
    }
  },
  /** A Pod. */
  pod: (v: unknown): PodObject => {
    const p = rec(v)
    const m = rec(p?.["metadata"])
    const status = rec(p?.["status"])
    return { metadata: m && { name: str(m["name"]), labels: strings(m["labels"]) ?? null }, status: status && { conditions: conditions(status["conditions"]) } }
  },
  /** A Service. */
  service: (v: unknown): ServiceObject => {
    const s = rec(v)
    const m = rec(s?.["metadata"])
    const spec = rec(s?.["spec"])
    return { metadata: m && { name: str(m["name"]) }, spec: spec && { selector: strings(spec["selector"]) ?? null } }
  },
  /** An Event (either API shape). */
  event: (v: unknown): EventObject => {
    const e = rec(v)
    const m = rec(e?.["metadata"])
    const at = (k: string) => time(e?.[k]) ?? null
    const count = (k: string) => num(e?.[k]) ?? null
    return {
      type: str(e?.["type"]) ?? null,
      reason: str(e?.["reason"]) ?? null,
      message: str(e?.["message"]) ?? null,
      note: str(e?.["note"]) ?? null,
      count: count("count"),
      deprecatedCount: count("deprecatedCount"),
      firstTimestamp: at("firstTimestamp"),
      lastTimestamp: at("lastTimestamp"),
      eventTime: at("eventTime"),
      deprecatedFirstTimestamp: at("deprecatedFirstTimestamp"),
      deprecatedLastTimestamp: at("deprecatedLastTimestamp"),
      series: { lastObservedTime: time(rec(e?.["series"])?.["lastObservedTime"]) ?? null },
      metadata: { creationTimestamp: time(m?.["creationTimestamp"]) ?? null },
      involvedObject: ref(e?.["involvedObject"]) ?? null,
      regarding: ref(e?.["regarding"]) ?? null
    }
  },
  /** A list of objects (a list that is no array reads as empty; an element that is no object is dropped). */
  list: <A>(v: unknown, decode: (x: unknown) => A): ReadonlyArray<A> => records(v).map(decode),
  /** Everything a run of the probes reads. */
  objects: (o: RolloutObjects): RolloutObjects => ({
    deployment: Decode.deployment(o.deployment),
    replicaSets: Decode.list(o.replicaSets, Decode.replicaSet),
    pods: Decode.list(o.pods, Decode.pod),
    services: Decode.list(o.services, Decode.service),
    events: Decode.list(o.events, Decode.event)
  })
}

const ms = (t: string | Date | null | undefined): number | null => {
  if (t === null || t === undefined) return null
  const v = typeof t === "string" ? Date.parse(t) : t.getTime()
  return Number.isFinite(v) ? v : null
}

/** The Deployment's state. */
export const deploymentState = (object: DeploymentObject): DeploymentState => {
  // decoded first: a retyped or null field reads as absent, a condition's status as "Unknown"
  const d = Decode.deployment(object)
  const conds = d.status?.conditions ?? []
  const available = conds.find((c) => c.type === "Available")
  const progressing = conds.find((c) => c.type === "Progressing")
  return {
    namespace: d.metadata?.namespace ?? "default",
    name: d.metadata?.name ?? "",
    uid: d.metadata?.uid ?? null,
    resourceVersion: d.metadata?.resourceVersion ?? "",
    generation: d.metadata?.generation ?? 0,
    observedGeneration: d.status?.observedGeneration ?? 0,
    replicas: d.spec?.replicas ?? 1,
    readyReplicas: d.status?.readyReplicas ?? 0,
    availableReplicas: d.status?.availableReplicas ?? 0,
    updatedReplicas: d.status?.updatedReplicas ?? 0,
    paused: d.spec?.paused === true,
    available: available ? (available.status === "True" || available.status === "False" ? available.status : "Unknown") : null,
    progressing: progressing ? { status: progressing.status, reason: progressing.reason ?? null } : null,
    labels: { ...(d.metadata?.labels ?? {}) },
    templateLabels: Object.fromEntries(Object.entries(strings(rec(rec(d.spec?.template)?.["metadata"])?.["labels"]) ?? {}).filter(([k]) => k !== "pod-template-hash"))
  }
}

const readySince = (p: PodObject): number | null => {
  const c = (p.status?.conditions ?? []).find((x) => x.type === "Ready")
  return c?.status === "True" ? ms(c.lastTransitionTime) ?? Number.NEGATIVE_INFINITY : null
}

/** Templates nested deeper than this are compared without recursion (JSON.stringify overflows near 4,000 levels). */
const TEMPLATE_DEPTH = 2_000

/**
 * The history facts: revisions, current/previous and their diff, rollout start, SHA and the
 * last-good revision (see the module doc for the rules).
 */
export const historyFacts = (
  deployment: DeploymentObject,
  replicaSets: ReadonlyArray<LastDeploy.HistoryReplicaSet>,
  seenAvailable: ReadonlySet<number>,
  podList: ReadonlyArray<PodObject>,
  now: number
): HistoryFacts => {
  // decoded first: a retyped or null field reads as absent, a null list element is dropped
  const d = Decode.deployment(deployment)
  const rsList = Decode.list(replicaSets, Decode.replicaSet)
  const pods = Decode.list(podList, Decode.pod)
  const diff = LastDeploy.templateDiff(d, rsList)
  const revisions = LastDeploy.history(d, rsList)
  const current = diff.current
  const rolloutStart = ms(current?.createdAt ?? null)
  const tplOf = (r: LastDeploy.Revision) => rsList.find((x) => x.metadata?.name === r.replicaSet)?.spec?.template
  const older = current ? revisions.filter((r) => r.revision < current.revision).reverse() : []
  const pick = (r: LastDeploy.Revision, rule: LastGood["rule"]): LastGood => {
    const create = Math.max(0, (d.spec?.replicas ?? 1) - r.readyReplicas)
    return {
      revision: r.revision,
      replicaSet: r.replicaSet,
      rule,
      sha: r.sha,
      changeCause: r.changeCause,
      churn: { create, delete: current?.replicas ?? 0 },
      estimatedSeconds: estimateSeconds(d, tplOf(r), create)
    }
  }
  let lastGood: LastGood | null = null
  let noLastGood: string | null = null
  // equalIgnoreHash round-trips through JSON.stringify, which overflows the stack near 4,000 levels:
  // a template nested deeper than TEMPLATE_DEPTH is compared without recursion (LastDeploy.templateChanges)
  const same = (a: unknown, b: unknown) =>
    LastDeploy.deeperThan(a, TEMPLATE_DEPTH) || LastDeploy.deeperThan(b, TEMPLATE_DEPTH) ? LastDeploy.templateChanges(a, b).length === 0 : RollbackDeployment.equalIgnoreHash(a, b)
  const differs = (r: LastDeploy.Revision) => !same(tplOf(r), d.spec?.template)
  const seen = older.find((r) => seenAvailable.has(r.revision))
  if (!current) noLastGood = "the Deployment has no ReplicaSet of its current revision"
  else if (current.revision === 1 && older.length === 0) noLastGood = "the Deployment is at revision 1: there is no older revision"
  else if (older.length === 0) noLastGood = `no ReplicaSet older than revision ${current.revision} is left (the history was pruned: revisionHistoryLimit)`
  else if (seen && differs(seen)) lastGood = pick(seen, "seen-available")
  else {
    // the ReplicaSet being scaled down: it still has pods, and all of them were Ready before the rollout started
    const scaledDown = older.find((r) => {
      if (r.replicas === 0 || rolloutStart === null) return false
      const own = pods.filter((p) => p.metadata?.labels?.["pod-template-hash"] === r.podTemplateHash || (p.metadata?.name ?? "").startsWith(`${r.replicaSet}-`))
      if (own.length === 0) return r.readyReplicas === r.replicas
      return own.every((p) => {
        const since = readySince(p)
        return since !== null && since <= rolloutStart
      })
    })
    if (scaledDown && differs(scaledDown)) lastGood = pick(scaledDown, "scaled-down-ready-at-rollout-start")
    else if (seen || scaledDown) noLastGood = `revision ${(seen ?? scaledDown)!.revision}'s template is identical to the current one: rolling back changes nothing`
    else noLastGood = `no older revision (${older.map((r) => r.revision).join(", ")}) was seen fully Available, and none being scaled down was Ready at the rollout start`
  }
  return {
    revisions,
    current,
    previous: diff.previous,
    rolloutStart,
    ageSeconds: rolloutStart === null ? null : Math.max(0, Math.round((now - rolloutStart) / 1000)),
    sha: current?.sha ?? "unknown",
    lastGood,
    noLastGood,
    changes: diff.changes,
    failingImages: current?.images ?? []
  }
}

/** The downstream Services of a Deployment: those whose (non-empty) selector selects its pod template's labels. */
export const servicesFor = (state: DeploymentState, services: ReadonlyArray<ServiceObject>): ReadonlyArray<string> =>
  Decode.list(services, Decode.service)
    .filter((s) => {
      const sel = Object.entries(s.spec?.selector ?? {})
      return sel.length > 0 && sel.every(([k, v]) => state.templateLabels[k] === v)
    })
    .map((s) => s.metadata?.name ?? "")
    .sort()

/** An event's kind, name, first time, message and count, in either API shape. */
export const eventView = (event: EventObject): { kind: string; name: string; type: string; reason: string; message: string; firstAt: number | null; lastAt: number | null; count: number } => {
  const e = Decode.event(event)
  const obj = e.involvedObject ?? e.regarding ?? {}
  return {
    kind: obj.kind ?? "",
    name: obj.name ?? "",
    type: e.type ?? "",
    reason: e.reason ?? "",
    message: e.message ?? e.note ?? "",
    firstAt: ms(e.firstTimestamp) ?? ms(e.deprecatedFirstTimestamp) ?? ms(e.eventTime) ?? ms(e.metadata?.creationTimestamp ?? null),
    lastAt: ms(e.lastTimestamp) ?? ms(e.deprecatedLastTimestamp ?? null) ?? ms(e.series?.lastObservedTime ?? null) ?? ms(e.eventTime) ?? ms(e.firstTimestamp) ?? ms(e.metadata?.creationTimestamp ?? null),
    count: e.count ?? e.deprecatedCount ?? 1
  }
}

/**
 * The attribution facts from the namespace's events: Warnings on this workload's pods (named
 * after any of its ReplicaSets) or its Services that began strictly more than
 * `falseAttributionMinutes` before the rollout start, and readiness-probe failures on the new
 * revision's pods (since the rollout start).
 */
export const attributionFacts = (
  history: HistoryFacts,
  services: ReadonlyArray<string>,
  events: ReadonlyArray<EventObject>,
  errorRatioBeforeRollout: number | null,
  s: RolloutSettings = defaults
): AttributionFacts => {
  const start = history.rolloutStart
  const rsNames = history.revisions.map((r) => r.replicaSet).filter((n) => n.length > 0)
  const ours = (kind: string, name: string) =>
    (kind === "Pod" && rsNames.some((rs) => name.startsWith(`${rs}-`))) || (kind === "Service" && services.includes(name))
  const views = records(events).map(eventView)
  const predating = start === null ? [] : views
    .filter((e) =>
      e.type === "Warning" && ours(e.kind, e.name) && e.firstAt !== null && e.firstAt < start - s.falseAttributionMinutes * 60_000 &&
      (e.lastAt ?? e.firstAt) >= start - s.ongoingSeconds * 1000
    )
    .map((e) => ({ object: `${e.kind}/${e.name}`, reason: e.reason, message: e.message, firstAt: e.firstAt!, lastAt: e.lastAt ?? e.firstAt!, count: e.count }))
    .sort((a, b) => a.firstAt - b.firstAt)
  const newRs = history.current?.replicaSet
  const readinessFailures = newRs === undefined ? 0 : views
    .filter((e) => e.kind === "Pod" && e.name.startsWith(`${newRs}-`) && e.reason === "Unhealthy" && /^Readiness probe failed/.test(e.message))
    .reduce((a, e) => a + e.count, 0)
  return { predatingWarnings: predating, errorRatioBeforeRollout, readinessFailures }
}

/** Everything a run of the probes reads, for building facts from `kubectl get -o json` fixtures. */
export interface RolloutObjects {
  readonly deployment: DeploymentObject
  readonly replicaSets: ReadonlyArray<LastDeploy.HistoryReplicaSet>
  readonly pods: ReadonlyArray<PodObject>
  readonly services: ReadonlyArray<ServiceObject>
  readonly events: ReadonlyArray<EventObject>
}

/** The cluster facts (all but traffic and canary) from objects, with the ledger's revisions. */
export const clusterFacts = (
  objects: RolloutObjects,
  seenAvailable: ReadonlySet<number>,
  errorRatioBeforeRollout: number | null,
  now: number,
  s: RolloutSettings = defaults
): Pick<RolloutFacts, "deployment" | "history" | "attribution" | "services"> => {
  // decoded once here (each reader decodes again: decoding is idempotent): total on any object
  const o = Decode.objects(objects)
  const deployment = deploymentState(o.deployment)
  const history = historyFacts(o.deployment, o.replicaSets, seenAvailable, o.pods, now)
  const services = servicesFor(deployment, o.services)
  return { deployment, history, services, attribution: attributionFacts(history, services, o.events, errorRatioBeforeRollout, s) }
}

/** Reads the objects of a Deployment (from the shared watches' caches when open, else the API). */
export const readObjects = (namespace: string, name: string): Effect.Effect<RolloutObjects, KubeError, Kube> =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const deployment = (yield* Informers.getOr(deployments, namespace, name, kube.getDeployment(namespace, name))) as unknown as DeploymentObject
    const rs = (yield* Informers.listOr(replicaSets, { namespace }, kube.listReplicaSets({ namespace }))) as unknown as ReadonlyArray<LastDeploy.HistoryReplicaSet>
    const pods = (yield* Informers.listOr(podsResource, { namespace }, kube.listPods({ namespace }))) as unknown as ReadonlyArray<PodObject>
    const events = (yield* Informers.listOr(eventsResource, { namespace }, kube.listEvents({ namespace }))) as unknown as ReadonlyArray<EventObject>
    const services = (yield* kube.read(`list Services in ${namespace}`, (a) => a.core.listNamespacedService({ namespace }))).items as unknown as ReadonlyArray<ServiceObject>
    return { deployment, replicaSets: rs, pods, services, events }
  })

const statsOf = (namespace: string, prefixes: ReadonlyArray<string>, end: number, seconds: number) =>
  Effect.flatMap(Metrics, (m) =>
    m.httpStats
      ? m.httpStats({ namespace, podPrefixes: prefixes }, { end, seconds: Math.max(1, seconds) })
      : Effect.fail(new MetricsUnsupported({ source: m.source, operation: "httpStats", message: `${m.source} has no per-revision HTTP metrics: configure Prometheus (BYTEPORT_PROMETHEUS_URL)` })))

/** The old revisions' error ratio in the window that ended `falseAttributionMinutes` before the rollout start (null when unreadable or without traffic). */
export const errorRatioBeforeRollout = (namespace: string, history: HistoryFacts, s: RolloutSettings = defaults): Effect.Effect<number | null, never, Metrics> => {
  const start = history.rolloutStart
  const old = history.revisions.filter((r) => r.revision !== history.current?.revision).map((r) => r.replicaSet)
  if (start === null || old.length === 0) return Effect.succeed(null)
  const end = start - s.falseAttributionMinutes * 60_000
  return statsOf(namespace, old, end, s.falseAttributionMinutes * 60).pipe(
    Effect.map((x) => x.errorRatio),
    Effect.orElseSucceed(() => null)
  )
}

/** Per-revision traffic: the old revisions before the rollout start, the new one over the last window. */
export const trafficProbe = (namespace: string, history: HistoryFacts, s: RolloutSettings = defaults) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const start = history.rolloutStart
    if (start === null || !history.current) return yield* Effect.fail(new Error("no current revision: per-revision traffic cannot be scoped"))
    const old = history.revisions.filter((r) => r.revision !== history.current!.revision).map((r) => r.replicaSet)
    const sinceStart = Math.max(1, Math.floor((now - start) / 1000))
    const [baseline, current] = yield* Effect.all([
      statsOf(namespace, old, start, s.baselineMinutes * 60),
      statsOf(namespace, [history.current.replicaSet], now, Math.min(s.windowMinutes * 60, sinceStart))
    ], { concurrency: 2 })
    return { baseline, current } satisfies TrafficFacts
  })

/** The SLO target a burn rate is measured against (99.9%). */
export const DEFAULT_SLO_TARGET = 0.999

/** A canary's burn against the stable Deployments of the same app (null for a Deployment that is no canary). */
export const canaryProbe = (state: DeploymentState, s: RolloutSettings = defaults, sloTarget = DEFAULT_SLO_TARGET) =>
  Effect.gen(function*() {
    if (state.labels[s.canaryLabel] !== s.canaryValue && state.templateLabels[s.canaryLabel] !== s.canaryValue) return null
    const kube = yield* Kube
    const app = state.templateLabels[s.appLabel] ?? state.labels[s.appLabel]
    if (app === undefined) return yield* Effect.fail(new Error(`the canary ${state.name} has no ${s.appLabel} label: its stable Deployments cannot be found`))
    const all = (yield* Informers.listOr(deployments, { namespace: state.namespace }, kube.listDeployments({ namespace: state.namespace }))) as unknown as ReadonlyArray<DeploymentObject>
    const stable = all.map(deploymentState).filter((x) => x.name !== state.name && (x.templateLabels[s.appLabel] ?? x.labels[s.appLabel]) === app && x.templateLabels[s.canaryLabel] !== s.canaryValue && x.labels[s.canaryLabel] !== s.canaryValue)
    if (stable.length === 0) return yield* Effect.fail(new Error(`no stable Deployment of ${s.appLabel}=${app} next to the canary ${state.name}`))
    const rsAll = (yield* Informers.listOr(replicaSets, { namespace: state.namespace }, kube.listReplicaSets({ namespace: state.namespace }))) as unknown as ReadonlyArray<LastDeploy.HistoryReplicaSet>
    const prefixesOf = (name: string) => rsAll.filter((r) => (r.metadata?.ownerReferences ?? []).some((o) => o.kind === "Deployment" && o.name === name)).map((r) => r.metadata?.name ?? "").filter((n) => n.length > 0)
    const now = yield* Clock.currentTimeMillis
    const seconds = s.windowMinutes * 60
    const [canary, baseline] = yield* Effect.all([
      statsOf(state.namespace, prefixesOf(state.name), now, seconds),
      statsOf(state.namespace, stable.flatMap((x) => prefixesOf(x.name)), now, seconds)
    ], { concurrency: 2 })
    const burn = (x: HttpStats) => (x.errorRatio === null ? null : x.errorRatio / (1 - sloTarget))
    return { stable: stable.map((x) => x.name), canary, baseline, canaryBurn: burn(canary), baselineBurn: burn(baseline) } satisfies CanaryFacts
  })

/** The revision annotation (re-exported for fixtures). */
export { REVISION }
