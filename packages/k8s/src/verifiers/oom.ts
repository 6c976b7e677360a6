/**
 * The verifiers of k8s.oom.six-signal, one per kind of fix (core `Verifier.fromChecks`), and
 * their `schedule`: the checks are held for 5 minutes, polled every 30 s ("0 OOMKill events in
 * last 5 min"); a failing poll ends the window, then one retry window 15 s later; core escalates
 * when both fail:
 *
 * - `memoryBump` (a `k8s.patchMemoryLimit` was applied): the workload's pods are Ready and run
 *   the new limit; every pod's working set (metrics-server) is below `healthyRatio` (0.80) of the
 *   new limit; 0 OOMKilled terminations since the action (`ctx.since`); no pod evictions on the
 *   pod's node since the action (no cascade).
 * - `scaleOut` (a `k8s.raiseHpaMinReplicas` was applied): at least the new minimum of replicas
 *   are Ready, and the average working set per pod is below the peak seen at diagnosis.
 * - `drain` (a `k8s.drainNode` was applied): the node is cordoned, no evictable pod is left on
 *   it, and the workload's replicas are Ready again (rescheduled elsewhere).
 *
 * `forApplied` picks the verifier from the actions that ran (traffic_spike may have scaled out
 * or, through its Fallback, bumped the limit).
 *
 * @since 0.1.0
 */
import type { V1Pod } from "@kubernetes/client-node"
import { type Action, Fact, type Verdict, Verifier } from "@byteport/core"
import { Duration, Effect } from "effect"
import type { OomFacts } from "../classifiers/oom"
import { Kube } from "../Kube"
import * as Quantity from "../Quantity"

type Check = Verdict.CheckResult

/** Settings of the checks. */
export interface VerifySettings {
  /** The working set must be below this share of the new limit (BYTEPORT_OOM_VERIFY_WORKING_SET_RATIO, 0.80). */
  readonly healthyRatio: number
  /** Hold the checks this long, in seconds (BYTEPORT_OOM_VERIFY_WINDOW_SECONDS, 300: "0 OOMKill events in last 5 min"). */
  readonly windowSeconds?: number
  /** Poll this often within the window, in seconds (BYTEPORT_OOM_VERIFY_POLL_SECONDS, 30). */
  readonly pollSeconds?: number
}

/** The seed's defaults: working set below 80% of the new limit, checks held for 5 minutes, polled every 30 s. */
export const defaults: VerifySettings = { healthyRatio: 0.8, windowSeconds: 300, pollSeconds: 30 }

/**
 * The verification schedule: every check held for `windowSeconds`, polled every `pollSeconds`; a
 * failing poll ends the window at once; then the seed's "retry once at 15 s" (a fresh window 15 s
 * after the failure); core escalates when that fails too. Throws a RangeError for a poll interval
 * that is not positive or a window shorter than it (`fromConfig` reports those as a ConfigError).
 */
export const schedule = (s: VerifySettings = defaults): Verifier.VerifySchedule =>
  Verifier.hold(Verifier.schedules.retryOnceAt15s, {
    every: Duration.seconds(s.pollSeconds ?? defaults.pollSeconds!),
    for: Duration.seconds(s.windowSeconds ?? defaults.windowSeconds!)
  })

const ready = (p: V1Pod) => (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")

const workloadPods = (namespace: string, kind: string, name: string) =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const w = kind === "StatefulSet" ? yield* kube.getStatefulSet(namespace, name) : yield* kube.getDeployment(namespace, name)
    const labels = w.spec?.selector.matchLabels ?? {}
    const selector = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",")
    const pods = (yield* kube.listPods({ namespace, labelSelector: selector })).filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase !== "Failed" && p.status?.phase !== "Succeeded")
    return { workload: w, pods }
  })

/** OOMKilled terminations of `container` in `pods` that finished at or after `since`. */
export const oomKillsSince = (pods: ReadonlyArray<V1Pod>, container: string, since: number): ReadonlyArray<string> =>
  pods.flatMap((p) =>
    (p.status?.containerStatuses ?? [])
      .filter((c) => c.name === container)
      .flatMap((c) => [c.lastState?.terminated, c.state?.terminated])
      .filter((t) => t?.reason === "OOMKilled" && t.finishedAt !== undefined && new Date(t.finishedAt).getTime() >= since)
      .map((t) => `${p.metadata?.name} at ${new Date(t!.finishedAt!).toISOString()}`)
  )

const evictionsSince = (node: string | null, since: number) =>
  Effect.gen(function*() {
    if (node === null) return [] as ReadonlyArray<string>
    const kube = yield* Kube
    const events = yield* kube.listEvents({ fieldSelector: "reason=Evicted" })
    return events
      .filter((e) => {
        const at = (e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp) as unknown
        const t = at instanceof Date ? at.getTime() : typeof at === "string" ? Date.parse(at) : NaN
        return t >= since && (e.source?.host === node || e.reportingInstance === node)
      })
      .map((e) => `${e.involvedObject.namespace}/${e.involvedObject.name}`)
  })

const findApplied = (applied: ReadonlyArray<Action.Action>, kind: string) => [...applied].reverse().find((a) => a.kind === kind)

/** Verifies a memory-limit bump (reads only the `pod` fact, so k8s.oom.exit-137 shares it). */
export const memoryBump = (s: VerifySettings = defaults): Verifier.Verifier<Pick<OomFacts, "pod">, Kube> =>
  Verifier.fromChecks((ctx) =>
    Effect.gen(function*() {
      const kube = yield* Kube
      const a = findApplied(ctx.applied, "k8s.patchMemoryLimit")
      if (!a) return [{ name: "bump applied", ok: false, detail: "no k8s.patchMemoryLimit was applied" }] as ReadonlyArray<Check>
      const p = a.params as { namespace: string; workloadKind: string; workloadName: string; container: string; toBytes: number }
      const { pods } = yield* workloadPods(p.namespace, p.workloadKind, p.workloadName)
      const limit = Quantity.formatBytes(p.toBytes)
      const stale = pods.filter((x) => x.spec?.containers.find((c) => c.name === p.container)?.resources?.limits?.["memory"] !== limit)
      const notReady = pods.filter((x) => !ready(x))
      const checks: Array<Check> = [{
        name: "pods Ready with the new limit",
        ok: pods.length > 0 && notReady.length === 0 && stale.length === 0,
        detail: pods.length === 0 ? "no pods" : `${pods.length - notReady.length}/${pods.length} Ready, ${stale.length} still on the old limit`,
        observed: { pods: pods.length, notReady: notReady.length, staleLimit: stale.length }
      }]
      const metrics = yield* kube.podMetrics(p.namespace)
      const ws = pods.map((x) => {
        const m = metrics.items.find((i) => i.metadata.name === x.metadata?.name)
        const b = Quantity.parse(m?.containers.find((c) => c.name === p.container)?.usage.memory)
        return { pod: x.metadata?.name ?? "", bytes: b ?? null }
      })
      const high = ws.filter((w) => w.bytes === null || w.bytes >= p.toBytes * s.healthyRatio)
      checks.push({
        name: `working set < ${Math.round(s.healthyRatio * 100)}% of the new limit`,
        ok: ws.length > 0 && high.length === 0,
        detail: ws.map((w) => `${w.pod}: ${w.bytes === null ? "no sample" : `${Math.round((w.bytes / p.toBytes) * 100)}%`}`).join(", ") || "no pods",
        observed: { limitBytes: p.toBytes, workingSet: ws.map((w) => w.bytes) }
      })
      const kills = oomKillsSince(pods, p.container, ctx.since)
      checks.push({ name: "0 OOMKilled since the action", ok: kills.length === 0, detail: kills.length ? kills.join(", ") : "none", observed: { oomKills: kills.length } })
      const node = Fact.value(ctx.facts.pod)?.node ?? null
      const ev = yield* evictionsSince(node, ctx.since)
      checks.push({ name: "no cascading evictions on the node", ok: ev.length === 0, detail: ev.length ? `${ev.length} evicted on ${node}: ${ev.join(", ")}` : `none on ${node ?? "the node"}`, observed: { evictions: ev.length } })
      return checks
    })
  )

/** Verifies an HPA scale-out. */
export const scaleOut = (): Verifier.Verifier<OomFacts, Kube> =>
  Verifier.fromChecks((ctx) =>
    Effect.gen(function*() {
      const kube = yield* Kube
      const a = findApplied(ctx.applied, "k8s.raiseHpaMinReplicas")
      const pod = Fact.value(ctx.facts.pod)
      if (!a || !pod?.workload) return [{ name: "scale-out applied", ok: false, detail: "no k8s.raiseHpaMinReplicas was applied" }] as ReadonlyArray<Check>
      const want = Number(a.params["toMinReplicas"])
      const { pods } = yield* workloadPods(pod.namespace, pod.workload.kind, pod.workload.name)
      const readyPods = pods.filter(ready)
      const metrics = yield* kube.podMetrics(pod.namespace)
      const ws = readyPods.map((x) => Quantity.parse(metrics.items.find((i) => i.metadata.name === x.metadata?.name)?.containers.find((c) => c.name === pod.container)?.usage.memory) ?? 0)
      const avg = ws.length ? ws.reduce((s, b) => s + b, 0) / ws.length : NaN
      const peak = Fact.value(ctx.facts.trend)?.peakBytes ?? Fact.value(ctx.facts.workingSet)?.bytes ?? null
      const out: ReadonlyArray<Check> = [
        { name: "replicas Ready", ok: readyPods.length >= want, detail: `${readyPods.length} Ready of at least ${want}`, observed: { ready: readyPods.length, want } },
        {
          name: "working set per pod falling",
          ok: Number.isFinite(avg) && peak !== null && avg < peak,
          detail: `average ${Number.isFinite(avg) ? Quantity.humanBytes(avg) : "n/a"} per pod vs ${peak === null ? "unknown" : Quantity.humanBytes(peak)} at diagnosis`,
          observed: { averageBytes: Number.isFinite(avg) ? Math.round(avg) : null, peakBytes: peak }
        }
      ]
      return out
    })
  )

/** Verifies a cordon + drain. */
export const drain = (): Verifier.Verifier<OomFacts, Kube> =>
  Verifier.fromChecks((ctx) =>
    Effect.gen(function*() {
      const kube = yield* Kube
      const a = findApplied(ctx.applied, "k8s.drainNode")
      if (!a) return [{ name: "drain applied", ok: false, detail: "no k8s.drainNode was applied" }] as ReadonlyArray<Check>
      const nodeName = String(a.params["node"])
      const node = yield* kube.getNode(nodeName)
      const left = (yield* kube.listPods({ fieldSelector: `spec.nodeName=${nodeName}` })).filter((p) =>
        !p.metadata?.annotations?.["kubernetes.io/config.mirror"] &&
        !p.metadata?.ownerReferences?.some((o) => o.kind === "DaemonSet") &&
        p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed"
      )
      const checks: Array<Check> = [
        { name: "node cordoned", ok: node.spec?.unschedulable === true, detail: `spec.unschedulable=${node.spec?.unschedulable === true}` },
        { name: "no evictable pods left on the node", ok: left.length === 0, detail: left.length ? left.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`).join(", ") : "none" }
      ]
      const pod = Fact.value(ctx.facts.pod)
      if (pod?.workload) {
        const { workload, pods } = yield* workloadPods(pod.namespace, pod.workload.kind, pod.workload.name)
        const want = workload.spec?.replicas ?? 1
        const readyElsewhere = pods.filter((p) => ready(p) && p.spec?.nodeName !== nodeName)
        checks.push({ name: "pods rescheduled and Ready", ok: readyElsewhere.length >= want, detail: `${readyElsewhere.length}/${want} Ready on other nodes`, observed: { ready: readyElsewhere.length, want } })
      }
      return checks
    })
  )

/** Picks the verifier from what was applied. */
export const forApplied = (s: VerifySettings = defaults): Verifier.Verifier<OomFacts, Kube> => (ctx) => {
  const kinds = new Set(ctx.applied.map((a) => a.kind))
  if (kinds.has("k8s.drainNode")) return drain()(ctx)
  if (kinds.has("k8s.raiseHpaMinReplicas")) return scaleOut()(ctx)
  return memoryBump(s)(ctx)
}
