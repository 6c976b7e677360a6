/**
 * `k8s.recreateCniPod`: deletes the node's CNI DaemonSet pod (flannel, calico, cilium, weave —
 * recognised by its DaemonSet owner and labels, configurable) so its DaemonSet recreates it and the
 * network plugin re-initialises. The delete carries the pod's uid as precondition: a pod that was
 * already recreated is never deleted again (conflict). dry_run sends the delete with `dryRun=All`.
 * auto: waits (Effect clock, every 2 s, up to `readyTimeoutSeconds`, default 120) for the
 * replacement pod on the node to be Ready and records a `CniPodRecreated` Event on the Node.
 *
 * Guardrails (on the kind):
 * - `never_delete_volumes` — never delete PersistentVolumes/PVCs;
 * - `cni_recreates_per_node` — 1 per node per 30 minutes;
 * - `cni_one_node_at_a_time` — 1 per cluster per `oneAtATimeWindow` (2 minutes) in the
 *   GuardrailStore (atomic across agents);
 * - `cni_no_other_node_settling` — no other node's pod of the same DaemonSet may be not Ready or
 *   terminating (read live: a recreation elsewhere is still settling; unreadable → Deny).
 *
 * `observe`: the planned uid gone from the node → applied; still there, not terminating → not applied.
 *
 * @since 0.2.0
 */
import type { V1Pod } from "@kubernetes/client-node"
import { ActionHandler, Guardrail } from "@byteport/core"
import { Clock, type Duration, Effect, Schema } from "effect"
import type { EventRecorder } from "../events/EventRecorder"
import { Kube } from "../Kube"
import { neverDeleteVolumes } from "./deleteEvictedPods"
import { nodeEvent, readNode } from "./restartNodeUnit"

/** The action kind. */
export const KIND = "k8s.recreateCniPod"

/** How one CNI plugin's node pods are recognised: owned by a DaemonSet with one of these names, or carrying one of these label sets. */
export interface CniPlugin {
  readonly plugin: string
  readonly daemonSets: ReadonlyArray<string>
  readonly labels: ReadonlyArray<Readonly<Record<string, string>>>
}

/** flannel, calico, cilium and weave as their manifests deploy them. */
export const defaultPlugins: ReadonlyArray<CniPlugin> = [
  { plugin: "flannel", daemonSets: ["kube-flannel-ds", "kube-flannel-ds-amd64", "flannel"], labels: [{ app: "flannel" }, { "k8s-app": "flannel" }] },
  { plugin: "calico", daemonSets: ["calico-node"], labels: [{ "k8s-app": "calico-node" }] },
  { plugin: "cilium", daemonSets: ["cilium"], labels: [{ "k8s-app": "cilium" }] },
  { plugin: "weave", daemonSets: ["weave-net"], labels: [{ name: "weave-net" }] }
]

/** The node's CNI pod. */
export interface CniPod {
  readonly plugin: string
  readonly namespace: string
  readonly pod: string
  readonly uid: string
  readonly daemonSet: string
  readonly ready: boolean
}

const isReady = (p: V1Pod) => (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")
const dsOwner = (p: V1Pod) => p.metadata?.ownerReferences?.find((o) => o.kind === "DaemonSet" && o.controller === true)

/** Which plugin a pod runs, if any: a DaemonSet-owned pod whose owner name or labels match. */
export const pluginOf = (pod: V1Pod, plugins: ReadonlyArray<CniPlugin> = defaultPlugins): CniPlugin | undefined => {
  const owner = dsOwner(pod)
  if (!owner) return undefined
  const labels = pod.metadata?.labels ?? {}
  return plugins.find((pl) => pl.daemonSets.includes(owner.name) || pl.labels.some((sel) => Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels[k] === v)))
}

/** The CNI pod among a node's pods (the first live one of a known plugin), or null. */
export const findCniPod = (pods: ReadonlyArray<V1Pod>, plugins: ReadonlyArray<CniPlugin> = defaultPlugins): CniPod | null => {
  for (const p of pods) {
    if (p.metadata?.deletionTimestamp) continue
    const pl = pluginOf(p, plugins)
    if (!pl || !p.metadata?.uid) continue
    return { plugin: pl.plugin, namespace: p.metadata.namespace ?? "default", pod: p.metadata.name ?? "", uid: p.metadata.uid, daemonSet: dsOwner(p)!.name, ready: isReady(p) }
  }
  return null
}

/** The params. */
export const Params = Schema.Struct({
  node: Schema.String,
  plugin: Schema.String,
  namespace: Schema.String,
  pod: Schema.String,
  uid: Schema.String,
  daemonSet: Schema.String,
  reason: Schema.String,
  readyTimeoutSeconds: Schema.optionalKey(Schema.Number)
})

/** Options of the guardrails. */
export interface RecreateCniOptions {
  /** Per node: at most `perNodeMax` (1) per `perNodeWindow` (30 minutes). */
  readonly perNodeMax?: number | undefined
  readonly perNodeWindow?: Duration.Input | undefined
  /** Cluster-wide: one recreation per this window (2 minutes). */
  readonly oneAtATimeWindow?: Duration.Input | undefined
}

const clusterOf = (ref: string) => ref.split("/")[0] ?? "default"

/** No other node's pod of the same DaemonSet is settling (not Ready or terminating); unreadable → Deny. */
export const noOtherSettling: Guardrail.Guardrail<Kube> = Guardrail.make<Kube>({
  name: "cni_no_other_node_settling",
  check: (ctx) =>
    Effect.gen(function*() {
      const kube = yield* Kube
      const ns = String(ctx.action.params["namespace"] ?? "")
      const ds = String(ctx.action.params["daemonSet"] ?? "")
      const node = String(ctx.action.params["node"] ?? "")
      const pods = yield* kube.listPods({ namespace: ns })
      const settling = pods.filter((p) => dsOwner(p)?.name === ds && p.spec?.nodeName !== node && (p.metadata?.deletionTimestamp || !isReady(p)))
      return settling.length === 0
        ? Guardrail.pass
        : Guardrail.deny(`cni_no_other_node_settling: ${ds} pod(s) on other nodes are still settling: ${settling.map((p) => `${p.metadata?.name} on ${p.spec?.nodeName}`).join(", ")}`)
    }).pipe(Effect.catch((e) => Effect.succeed(Guardrail.deny(`cni_no_other_node_settling: could not list the CNI pods (${e.message})`))))
})

/** The guardrails of the kind. */
export const guardrails = (o: RecreateCniOptions = {}): ReadonlyArray<Guardrail.Guardrail<Kube>> => [
  neverDeleteVolumes,
  Guardrail.rateLimit({ name: "cni_recreates_per_node", key: Guardrail.keys.perTargetKind("k8s.cni-recreate"), max: o.perNodeMax ?? 1, window: o.perNodeWindow ?? "30 minutes" }),
  Guardrail.rateLimit({ name: "cni_one_node_at_a_time", key: (ctx) => `k8s.cni-recreate:cluster:${clusterOf(ctx.action.target.ref)}`, max: 1, window: o.oneAtATimeWindow ?? "2 minutes" }),
  noOtherSettling
]

const ActionFailed = ActionHandler.ActionFailed

/** The handler. */
export const make = (o: RecreateCniOptions = {}): ActionHandler.ActionHandler<Kube | EventRecorder> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    guardrails: guardrails(o),
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const fail = (message: string, conflict = false) => new ActionFailed({ kind: KIND, message, conflict })
        const current = yield* kube.getPod(p.namespace, p.pod).pipe(Effect.mapError((e) => fail(`${p.namespace}/${p.pod}: ${e.message}`, e._tag === "KubeNotFound")))
        if (current.metadata?.uid !== p.uid) return yield* fail(`${p.namespace}/${p.pod} is not the planned pod (uid ${current.metadata?.uid}, planned ${p.uid})`, true)
        yield* kube.deletePod(p.namespace, p.pod, { uid: p.uid }, { dryRun: ctx.dryRun }).pipe(Effect.mapError((e) => fail(e.message, e._tag === "KubeConflict")))
        const node = yield* readNode(KIND, p.node)
        if (ctx.dryRun) {
          return { detail: `would delete ${p.plugin} pod ${p.namespace}/${p.pod} on node ${p.node} (validated with dryRun=All)`, result: { node: p.node, pod: p.pod, uid: p.uid, replacement: null, dryRun: true } }
        }
        const start = yield* Clock.currentTimeMillis
        const timeout = (p.readyTimeoutSeconds ?? 120) * 1000
        let replacement: string | null = null
        for (;;) {
          const pods = yield* kube.listPods({ namespace: p.namespace, fieldSelector: `spec.nodeName=${p.node}` }).pipe(Effect.orElseSucceed(() => [] as ReadonlyArray<V1Pod>))
          const fresh = pods.find((x) => dsOwner(x)?.name === p.daemonSet && x.metadata?.uid !== p.uid && !x.metadata?.deletionTimestamp && isReady(x))
          if (fresh) {
            replacement = fresh.metadata?.name ?? null
            break
          }
          if ((yield* Clock.currentTimeMillis) - start >= timeout) break
          yield* Effect.sleep("2 seconds")
        }
        yield* nodeEvent(node, "CniPodRecreated", `BytePort recreated ${p.plugin} pod ${p.namespace}/${p.pod} on node ${p.node}: ${p.reason} (incident ${ctx.incidentId})`, { type: "Warning" })
        return {
          detail: `deleted ${p.plugin} pod ${p.namespace}/${p.pod} on node ${p.node}; ${replacement ? `replacement ${replacement} Ready` : `no Ready replacement within ${timeout / 1000}s`}`,
          result: { node: p.node, pod: p.pod, uid: p.uid, replacement, dryRun: false }
        }
      }),
    observe: (p) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const pods = yield* kube.listPods({ namespace: p.namespace, fieldSelector: `spec.nodeName=${p.node}` })
        const same = pods.find((x) => x.metadata?.uid === p.uid)
        if (!same || same.metadata?.deletionTimestamp) return ActionHandler.applied(`${p.namespace}/${p.pod} (uid ${p.uid}) is gone or terminating`)
        return ActionHandler.notApplied(`${p.namespace}/${p.pod} (uid ${p.uid}) still runs on ${p.node}`)
      })
  })
