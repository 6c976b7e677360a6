/**
 * k8s.pending: facts, classifier and plans.
 *
 * **Facts** (pure, from what `kubectl get -o json` shows; live probe and recorded fixtures go
 * through {@link factsFrom}):
 * - `pod`: the Pending pod, whether it is bound to a node, its effective requests, waiting reasons;
 * - `scheduling`: the latest FailedScheduling message parsed (`Scheduling.parse`);
 * - `fits`: BytePort's own fit check (`Fit.checkAll`) of the pod on every node: cordoned and
 *   NotReady nodes are no candidates; every candidate with each reason it is excluded;
 * - `storage`: the pod's PersistentVolumeClaims (missing, Pending, Lost, Bound);
 * - `dependencies`: ConfigMaps and Secrets the pod mounts or reads that do not exist, and the
 *   kubelet's FailedMount message;
 * - `template`: for a Deployment, the current-vs-previous template diff restricted to scheduling
 *   fields, and the fit check of the previous template (null for other owners).
 *
 * **Classes** (first match, seed order, ≥ 0.70). A class matches only when its reasons exclude
 * every remaining (candidate) node; otherwise the pod is Unclassified and escalates with the
 * per-node breakdown:
 *
 * | class | rule | confidence |
 * |---|---|---|
 * | resource_exhaustion | unscheduled; every candidate node lacks a requested resource | 0.85 |
 * | storage_constraints | unscheduled; a PersistentVolumeClaim of the pod is missing, Pending or Lost | 0.85 |
 * | affinity_conflict | unscheduled; every candidate node has an untolerated taint or fails the nodeSelector / required node affinity | 0.85 |
 * | missing_dependencies | a ConfigMap or Secret the pod mounts or reads does not exist (FailedMount, stuck in ContainerCreating) | 0.82 |
 *
 * **Plans.** A workaround is viable only when it touches just the pod's workload or BytePort's
 * snapshots, has an undo, weakens no constraint and passes the fit check:
 * - missing ConfigMap → `k8s.restoreConfigMap` from BytePort's snapshot (opt-in), falling back
 *   to an escalation when there is none; a missing Secret → escalate (never touched);
 * - a Deployment whose last rollout changed placement fields (nodeSelector, affinity,
 *   tolerations, topology spread, nodeName), did not raise a request (rolling back would lower
 *   it), is not paused, and whose previous template fits a candidate node → `k8s.rollbackDeployment`
 *   to the previous revision;
 * - everything else — lowering requests, relaxing affinity, adding tolerations, evicting other
 *   pods, touching storage — is a ChangeProposal, never applied.
 *
 * @since 0.3.0
 */
import { Action, type Classification, Classifier, Fact, Plan, type Signal, type TargetRef } from "@byteport/core"
import * as RestoreConfigMap from "../actions/restoreConfigMap"
import * as RollbackDeployment from "../actions/rollbackDeployment"
import type { PodEvent } from "../probes/events"
import * as Fit from "../probes/fit"
import * as LastDeploy from "../probes/lastDeploy"
import * as Scheduling from "../probes/scheduling"
import * as Quantity from "../Quantity"
import * as Targets from "../targets/Targets"
import { deploymentNameOf } from "./imagePull"

/** The runbook id. */
export const ID = "k8s.pending"

/** The classes, in the seed's order. */
export const CLASSES = ["resource_exhaustion", "storage_constraints", "affinity_conflict", "missing_dependencies"] as const

/** A class. */
export type PendingClass = typeof CLASSES[number]

/** The Pending pod. */
export interface PendingPod {
  readonly namespace: string
  readonly name: string
  readonly uid: string | null
  /** The node it is bound to (null: unscheduled). */
  readonly node: string | null
  readonly phase: string
  readonly workload: { readonly kind: string; readonly name: string } | null
  /** Effective requests, formatted (`cpu: 100m`, `memory: 16Gi`). */
  readonly requests: { readonly [k: string]: string }
  readonly waiting: ReadonlyArray<{ readonly container: string; readonly reason: string; readonly message: string | null }>
}

/** A claim of the pod. */
export interface Claim {
  readonly name: string
  readonly exists: boolean
  readonly phase: string | null
  readonly storageClass: string | null
}

/** The pod's storage. */
export interface Storage {
  readonly claims: ReadonlyArray<Claim>
  /** Claims that block scheduling (missing, Pending, Lost). */
  readonly blocking: ReadonlyArray<string>
}

/** Missing ConfigMaps and Secrets. */
export interface Dependencies {
  readonly missing: ReadonlyArray<{ readonly kind: "ConfigMap" | "Secret"; readonly name: string; readonly via: "volume" | "env" }>
  /** The latest FailedMount message. */
  readonly failedMount: string | null
}

/** The Deployment's last change to scheduling fields. */
export interface TemplateFacts {
  readonly kind: "Deployment"
  readonly namespace: string
  readonly name: string
  readonly resourceVersion: string | null
  readonly paused: boolean
  readonly currentRevision: number | null
  readonly previousRevision: number | null
  /** Changed placement fields (nodeSelector, affinity, tolerations, topologySpreadConstraints, nodeName). */
  readonly placementChanges: ReadonlyArray<LastDeploy.TemplateChange>
  /** Changed requests/limits. */
  readonly requestChanges: ReadonlyArray<LastDeploy.TemplateChange>
  /** The previous template's fit on every node (null: no previous template). */
  readonly previousFits: ReadonlyArray<Fit.NodeFit> | null
  readonly images: ReadonlyArray<{ readonly container: string; readonly image: string }>
}

/** The facts. */
export interface PendingFacts {
  readonly pod: PendingPod
  readonly scheduling: Scheduling.FailedScheduling | null
  readonly fits: ReadonlyArray<Fit.NodeFit>
  readonly storage: Storage
  readonly dependencies: Dependencies
  readonly template: TemplateFacts | null
}

// wire JSON as read: only the named fields are looked at (the public types say `unknown`)
type Json = any

/** What the facts are computed from (wire JSON as `kubectl get -o json` prints it). */
export interface Objects {
  /** The Pod. */
  readonly pod: unknown
  readonly events: ReadonlyArray<PodEvent>
  readonly nodes: ReadonlyArray<Fit.FitNode>
  /** Every pod bound to a node (their requests count). */
  readonly pods: ReadonlyArray<unknown>
  /** The namespace's PersistentVolumeClaims. */
  readonly claims: ReadonlyArray<unknown>
  /** The namespace's ConfigMap and Secret names (names only). */
  readonly configMaps: ReadonlyArray<string>
  readonly secrets: ReadonlyArray<string>
  /** The pod's Deployment (null: none, or unreadable). */
  readonly deployment: unknown
  readonly replicaSets: ReadonlyArray<unknown>
}

const PLACEMENT = /^spec\.(nodeSelector|affinity|tolerations|topologySpreadConstraints|nodeName)(\.|\[|$)/
const REQUESTS = /^spec\.(initContainers|containers)\[[^\]]+\]\.resources(\.|$)/

const fmtRequests = (spec: Fit.FitPodSpec | undefined): Record<string, string> => {
  const r = Fit.podRequests(spec)
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(r)) {
    if (k === "pods") continue
    out[k] = k === "cpu" ? `${Math.round(v * 1000)}m` : k === "memory" ? `${Math.round(v / 2 ** 20)}Mi` : String(v)
  }
  return out
}

/** The ConfigMaps and Secrets a pod spec needs (volumes, projected sources, env, envFrom; optional ones skipped). */
export const referenced = (podSpec: unknown): ReadonlyArray<{ readonly kind: "ConfigMap" | "Secret"; readonly name: string; readonly via: "volume" | "env" }> => {
  const spec = podSpec as Json
  const out = new Map<string, { kind: "ConfigMap" | "Secret"; name: string; via: "volume" | "env" }>()
  const add = (kind: "ConfigMap" | "Secret", name: unknown, via: "volume" | "env", optional: unknown) => {
    if (typeof name === "string" && name !== "" && optional !== true && !out.has(`${kind}/${name}`)) out.set(`${kind}/${name}`, { kind, name, via })
  }
  for (const v of spec?.volumes ?? []) {
    add("ConfigMap", v.configMap?.name, "volume", v.configMap?.optional)
    add("Secret", v.secret?.secretName, "volume", v.secret?.optional)
    for (const s of v.projected?.sources ?? []) {
      add("ConfigMap", s.configMap?.name, "volume", s.configMap?.optional)
      add("Secret", s.secret?.name, "volume", s.secret?.optional)
    }
  }
  for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
    for (const e of c.env ?? []) {
      add("ConfigMap", e.valueFrom?.configMapKeyRef?.name, "env", e.valueFrom?.configMapKeyRef?.optional)
      add("Secret", e.valueFrom?.secretKeyRef?.name, "env", e.valueFrom?.secretKeyRef?.optional)
    }
    for (const e of c.envFrom ?? []) {
      add("ConfigMap", e.configMapRef?.name, "env", e.configMapRef?.optional)
      add("Secret", e.secretRef?.name, "env", e.secretRef?.optional)
    }
  }
  return [...out.values()]
}

/**
 * The facts from the objects (pure). Objects the API server would never serve (a retyped field, a
 * null where it holds an object: a hand-edited fixture, a broken proxy) make every fact Unknown,
 * naming the malformed input, so the classifier is Indeterminate and the incident escalates —
 * never a throw.
 */
export const factsFrom = (objects: Objects): Fact.Facts<PendingFacts> => {
  try {
    return factsOf(objects)
  } catch (e) {
    if (!(e instanceof TypeError || e instanceof RangeError)) throw e
    const why = `malformed object: ${e.message}`
    return {
      pod: Fact.unknown("pod", why),
      scheduling: Fact.unknown("scheduling", why),
      fits: Fact.unknown("fits", why),
      storage: Fact.unknown("storage", why),
      dependencies: Fact.unknown("dependencies", why),
      template: Fact.unknown("deployment template", why)
    }
  }
}

const factsOf = (objects: Objects): Fact.Facts<PendingFacts> => {
  const o = objects as { readonly [K in keyof Objects]: K extends "events" | "configMaps" | "secrets" | "nodes" ? Objects[K] : K extends "pods" | "claims" | "replicaSets" ? ReadonlyArray<Json> : Json }
  const p = o.pod
  const ns: string = p.metadata?.namespace ?? "default"
  const owner = (p.metadata?.ownerReferences ?? []).find((x: Json) => x.controller === true)
  const dep = deploymentNameOf(p, o.replicaSets)
  const statuses = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]
  const pod: PendingPod = {
    namespace: ns,
    name: p.metadata?.name ?? "",
    uid: p.metadata?.uid ?? null,
    node: p.spec?.nodeName || null,
    phase: p.status?.phase ?? "Pending",
    workload: dep ? { kind: "Deployment", name: dep } : owner ? { kind: owner.kind, name: owner.name } : null,
    requests: fmtRequests(p.spec),
    waiting: statuses.flatMap((s: Json) => (s.state?.waiting?.reason ? [{ container: s.name, reason: s.state.waiting.reason, message: s.state.waiting.message ?? null }] : []))
  }
  const latest = (reason: string) => o.events.filter((e) => e.reason === reason).at(-1)
  const fs = latest("FailedScheduling")
  const fits = Fit.checkAll(p.spec ?? {}, o.nodes, o.pods, { uid: p.metadata?.uid, name: p.metadata?.name })
  const claimNames: Array<string> = (Array.isArray(p.spec?.volumes) ? p.spec.volumes : []).flatMap((v: Json) => (v.persistentVolumeClaim?.claimName ? [v.persistentVolumeClaim.claimName] : []))
  const claims: Array<Claim> = claimNames.map((name) => {
    const c = o.claims.find((x) => x.metadata?.name === name)
    return { name, exists: c !== undefined, phase: c?.status?.phase ?? null, storageClass: c?.spec?.storageClassName ?? null }
  })
  const cms = new Set(o.configMaps)
  const secrets = new Set(o.secrets)
  const missing = referenced(p.spec).filter((r) => !(r.kind === "ConfigMap" ? cms : secrets).has(r.name))
  let template: TemplateFacts | null = null
  if (dep && o.deployment) {
    const d = o.deployment
    const diff = LastDeploy.templateDiff(d, o.replicaSets)
    const changes = diff.changes
    const prevRs = diff.previous ? o.replicaSets.find((r) => r.metadata?.name === diff.previous!.replicaSet) : undefined
    template = {
      kind: "Deployment",
      namespace: ns,
      name: dep,
      resourceVersion: d.metadata?.resourceVersion ?? null,
      paused: d.spec?.paused === true,
      currentRevision: diff.current?.revision ?? null,
      previousRevision: diff.previous?.revision ?? null,
      placementChanges: changes.filter((c) => PLACEMENT.test(c.path)),
      requestChanges: changes.filter((c) => REQUESTS.test(c.path)),
      previousFits: prevRs?.spec?.template?.spec ? Fit.checkAll(prevRs.spec.template.spec, o.nodes, o.pods.filter((x) => !(x.metadata?.uid && x.metadata.uid === p.metadata?.uid))) : null,
      images: diff.current?.images ?? []
    }
  }
  return {
    pod: Fact.known(pod),
    scheduling: Fact.known(fs ? Scheduling.parse(fs.message) ?? null : null),
    fits: Fact.known(fits),
    storage: Fact.known({ claims, blocking: claims.filter((c) => !c.exists || c.phase === "Pending" || c.phase === "Lost").map((c) => c.name) }),
    dependencies: Fact.known({ missing, failedMount: latest("FailedMount")?.message ?? null }),
    template: o.deployment === null && dep ? Fact.unknown("deployment template", `Deployment ${ns}/${dep} could not be read`) : Fact.known(template)
  }
}

/** Per-rule confidences. */
export const confidences = { resource_exhaustion: 0.85, storage_constraints: 0.85, affinity_conflict: 0.85, missing_dependencies: 0.82 } as const

const CLASS_OF: Record<Fit.Category, PendingClass> = { resources: "resource_exhaustion", taint: "affinity_conflict", affinity: "affinity_conflict" }

/** Per node: why it is no candidate, or what excludes it (or that it fits). */
export const breakdown = (fits: ReadonlyArray<Fit.NodeFit>): ReadonlyArray<string> =>
  fits.map((f) => `${f.node}: ${!f.candidate ? `${f.notCandidate === "cordoned" ? "cordoned" : "NotReady"} (no candidate)` : f.reasons.length === 0 ? "fits" : f.reasons.map((r) => r.detail).join("; ")}`)

/** Whether every candidate node is excluded by a reason of `cls` (false when there is no candidate). */
export const excludesAll = (fits: ReadonlyArray<Fit.NodeFit>, cls: PendingClass): boolean => {
  const cands = fits.filter((f) => f.candidate)
  return cands.length > 0 && cands.every((f) => f.reasons.some((r) => CLASS_OF[r.category] === cls))
}

const rule = Classifier.rule<PendingFacts>()
const nodesRule = (cls: "resource_exhaustion" | "affinity_conflict") =>
  rule({
    class: cls,
    confidence: confidences[cls],
    needs: ["pod", "fits", "scheduling"],
    when: (f) => {
      const matched = f.pod.node === null && excludesAll(f.fits, cls)
      return {
        matched,
        reasons: matched ? [`every candidate node is excluded by ${cls === "resource_exhaustion" ? "insufficient resources" : "taints or node affinity/selector"}`, ...breakdown(f.fits)] : [],
        evidence: { nodes: breakdown(f.fits), scheduler: f.scheduling?.message ?? null }
      }
    }
  })

/** The rules, in the seed's order. */
export const rules: ReadonlyArray<Classifier.Rule<PendingFacts>> = [
  nodesRule("resource_exhaustion"),
  rule({
    class: "storage_constraints",
    confidence: confidences.storage_constraints,
    needs: ["pod", "storage"],
    when: (f) => {
      const matched = f.pod.node === null && f.storage.blocking.length > 0
      return {
        matched,
        reasons: matched ? f.storage.claims.filter((c) => f.storage.blocking.includes(c.name)).map((c) => `PersistentVolumeClaim ${c.name} ${c.exists ? `is ${c.phase} (storageClass ${c.storageClass ?? "none"})` : "does not exist"}: no node can take the pod`) : []
      }
    }
  }),
  nodesRule("affinity_conflict"),
  rule({
    class: "missing_dependencies",
    confidence: confidences.missing_dependencies,
    needs: ["pod", "dependencies"],
    when: (f) => {
      const matched = f.dependencies.missing.length > 0
      return {
        matched,
        reasons: matched ? [...f.dependencies.missing.map((m) => `${m.kind} ${m.name} (${m.via}) does not exist`), ...(f.dependencies.failedMount ? [`kubelet: ${f.dependencies.failedMount}`] : [])] : []
      }
    }
  })
]

/** The classifier. */
export const classify = (options: Classifier.FirstMatchOptions = {}): Classifier.Classifier<PendingFacts> => Classifier.firstMatch(rules, options)

/** The steps a human follows. */
export const nextSteps = (c: Classification.Classification, facts: Fact.Facts<PendingFacts>): ReadonlyArray<string> => {
  const pod = Fact.value(facts.pod)
  const fits = Fact.value(facts.fits)
  const s = Fact.value(facts.scheduling)
  const out: Array<string> = []
  if (pod) out.push(`pod ${pod.namespace}/${pod.name}${pod.workload ? ` (${pod.workload.kind} ${pod.workload.name})` : ""} requests ${Object.entries(pod.requests).map(([k, v]) => `${k} ${v}`).join(", ") || "nothing"}`)
  if (fits) out.push(`per node: ${breakdown(fits).join(" | ")}`)
  if (s) out.push(`scheduler: ${s.message}`)
  if (c._tag !== "Classified") {
    if (fits && fits.every((f) => !f.candidate)) out.push("no node is a candidate (all cordoned or NotReady): bring a node back first")
    else if (fits && Fit.fitsSomewhere(fits)) out.push("BytePort's fit check admits a node the scheduler rejects: look for reasons it does not model (host ports, topology spread, volume limits, pod affinity)")
    else out.push("the nodes are excluded for different reasons: no single fix places the pod; decide which constraint to change")
    if (Fact.unknownKeys(facts).length) out.push(`restore the probes that failed (${Fact.unknownKeys(facts).join(", ")})`)
  }
  return out
}

const placementFix = (t: TemplateFacts | null): { readonly ok: boolean; readonly why: string } => {
  if (!t) return { ok: false, why: "the pod's owner is not a Deployment BytePort can roll back" }
  if (t.placementChanges.length === 0) return { ok: false, why: `revision ${t.currentRevision ?? "?"} changed no placement field` }
  if (t.paused) return { ok: false, why: "the Deployment is paused" }
  // a rollback that would lower a request (the failing revision raised it) weakens nothing it may: a human decides
  const lowered = t.requestChanges.filter((c) => /\.requests\./.test(c.path) && (Quantity.parse(c.after as string) ?? 0) > (Quantity.parse(c.before as string) ?? 0))
  if (lowered.length > 0) return { ok: false, why: `rolling back would lower ${lowered.map((c) => c.path).join(", ")}: BytePort never lowers requests` }
  if (t.previousRevision === null || t.currentRevision === null || t.resourceVersion === null) return { ok: false, why: "no previous revision" }
  if (!t.previousFits || !Fit.fitsSomewhere(t.previousFits)) return { ok: false, why: `revision ${t.previousRevision}'s template does not fit any candidate node either` }
  return { ok: true, why: `revision ${t.currentRevision} changed ${t.placementChanges.map((c) => c.path).join(", ")}; revision ${t.previousRevision}'s template fits ${t.previousFits.filter((f) => f.candidate && f.reasons.length === 0).map((f) => f.node).join(", ")}` }
}

const proposal = (target: TargetRef.TargetRef, title: string, lines: ReadonlyArray<string>) =>
  Plan.propose({ title, body: lines.map((l) => `- ${l}`).join("\n"), target })

/** The plan for a classification. */
export const plan = (c: Classification.Classified, facts: Fact.Facts<PendingFacts>, signal: Signal.Signal): Plan.Plan => {
  const cls = c.class as PendingClass
  const pod = Fact.value(facts.pod)
  const fits = Fact.value(facts.fits) ?? []
  const t = Fact.value(facts.template) ?? null
  const where = pod ? `${pod.namespace}/${pod.name}` : signal.target.ref
  const target = Targets.withParent(signal.target)
  const workloadTarget = target.parent ?? signal.target
  const context = [...breakdown(fits), ...(Fact.value(facts.scheduling) ? [`scheduler: ${Fact.value(facts.scheduling)!.message}`] : [])]
  if (cls === "missing_dependencies") {
    const deps = Fact.value(facts.dependencies)!
    const secrets = deps.missing.filter((m) => m.kind === "Secret")
    const cms = deps.missing.filter((m) => m.kind === "ConfigMap")
    if (secrets.length > 0 || cms.length === 0) {
      return Plan.make(ID, cls, `${where}: missing ${deps.missing.map((m) => `${m.kind} ${m.name}`).join(", ")}; Secrets are never touched: escalate`, Plan.escalate(
        `${where} waits for ${deps.missing.map((m) => `${m.kind} ${m.name}`).join(", ")}, which do not exist; BytePort never creates or copies Secrets`,
        [`re-create ${secrets.map((m) => `Secret ${m.name}`).join(", ")} from your secret store`, ...(deps.failedMount ? [`kubelet: ${deps.failedMount}`] : [])]
      ))
    }
    const restores = cms.map((m) =>
      Plan.act(Action.make({
        kind: RestoreConfigMap.KIND,
        target: workloadTarget,
        params: { namespace: pod?.namespace ?? "default", name: m.name, reason: `${ID} missing_dependencies: ${where} needs ConfigMap ${m.name}, which does not exist` },
        description: `re-create ConfigMap ${pod?.namespace ?? "default"}/${m.name} from BytePort's snapshot (create only)`
      }))
    )
    return Plan.make(ID, cls, `${where}: restore ${cms.map((m) => `ConfigMap ${m.name}`).join(", ")} from BytePort's snapshot (create only); no snapshot → escalate`, Plan.fallback(
      restores.length === 1 ? restores[0]! : Plan.seq(...restores),
      Plan.escalate(`${where} waits for ${cms.map((m) => `ConfigMap ${m.name}`).join(", ")}; BytePort has no snapshot to restore from (snapshots are opt-in: BYTEPORT_CONFIGMAP_SNAPSHOTS)`, [
        `re-create ${cms.map((m) => `ConfigMap ${m.name}`).join(", ")} from your manifests (kubectl apply -f …)`,
        ...(deps.failedMount ? [`kubelet: ${deps.failedMount}`] : [])
      ])
    ))
  }
  if (cls === "resource_exhaustion" || cls === "affinity_conflict") {
    const fix = placementFix(t)
    if (fix.ok && t) {
      return Plan.make(ID, cls, `kubectl rollout undo deployment/${t.name} -n ${t.namespace} --to-revision=${t.previousRevision}\n${fix.why}`, Plan.act(RollbackDeployment.action({
        target: workloadTarget,
        toRevision: t.previousRevision!,
        fromRevision: t.currentRevision!,
        resourceVersion: t.resourceVersion!,
        failingImages: t.images,
        reason: `${cls}: ${fix.why}`
      })))
    }
    const title = cls === "resource_exhaustion"
      ? `${pod?.workload?.name ?? where}: no node has room for the pod's requests`
      : `${pod?.workload?.name ?? where}: no node satisfies the pod's taints/affinity`
    const lines = cls === "resource_exhaustion"
      ? [
        `requests ${pod ? Object.entries(pod.requests).map(([k, v]) => `${k} ${v}`).join(", ") : "unknown"} do not fit any candidate node`,
        ...(t && t.requestChanges.length > 0 ? [`revision ${t.currentRevision} changed ${t.requestChanges.map((x) => `${x.path} ${JSON.stringify(x.before)} → ${JSON.stringify(x.after)}`).join(", ")}: review that change`] : []),
        "options for a human: add node capacity (or raise the cluster autoscaler's limits), or lower the requests after checking real usage",
        "BytePort never lowers requests or evicts other pods",
        ...context
      ]
      : [
        `not rolled back: ${fix.why}`,
        "options for a human: label or add nodes that match, or change the nodeSelector/affinity/tolerations in the manifest",
        "BytePort never relaxes affinity or adds tolerations",
        ...context
      ]
    return Plan.make(ID, cls, `${where}: ${title}; change proposed, nothing written`, proposal(workloadTarget, title, lines))
  }
  // storage_constraints
  const st = Fact.value(facts.storage)!
  const title = `${pod?.workload?.name ?? where}: PersistentVolumeClaim ${st.blocking.join(", ")} cannot be bound`
  return Plan.make(ID, cls, `${where}: ${title}; change proposed, nothing written`, proposal(workloadTarget, title, [
    ...st.claims.filter((x) => st.blocking.includes(x.name)).map((x) => `${x.name}: ${x.exists ? `${x.phase} (storageClass ${x.storageClass ?? "none"})` : "does not exist"}`),
    "options for a human: create a matching PersistentVolume, fix the storageClass or its provisioner, or create the claim",
    "BytePort never creates, binds or deletes storage",
    ...context
  ]))
}
