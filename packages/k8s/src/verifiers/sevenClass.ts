/**
 * The verifier of `k8s.crashloop.seven-class` (issue §4), chosen by the action that was applied,
 * every check held for `windowSeconds` (120, polled every 30 s) and retried once at 15 s after a
 * failing poll (core escalates a double failure):
 *
 * - every kind: a pod counts only when Ready for 2× the longest pre-crash run of the container
 *   and at least `minReadySeconds` (120); every pod of the workload must count;
 * - `k8s.rollbackDeployment`, `k8s.pinImageDigest`: readyReplicas == spec.replicas, all updated, observedGeneration
 *   caught up;
 * - `k8s.patchMemoryLimit`: `OomVerifiers.memoryBump` (the new limit, working set < 80%, 0
 *   OOMKilled since, no cascading evictions);
 * - `k8s.loosenProbe`: 0 liveness/startup kills of the container since the action;
 * - `k8s.restoreConfigMap`, `k8s.restartPod`: the container started and its restartCount stable across the window.
 *
 * @since 0.4.0
 */
import { type Action, Fact, type Verdict, Verifier } from "@byteport/core"
import type { V1Deployment, V1Pod, V1StatefulSet } from "@kubernetes/client-node"
import { Clock, Duration, Effect } from "effect"
import type { SevenClassFacts } from "../classifiers/sevenClass"
import { Kube } from "../Kube"
import * as Targets from "../targets/Targets"
import * as OomVerifiers from "./oom"
import * as PodVerifier from "./pod"

type Check = Verdict.CheckResult

/** Verification settings. */
export interface VerifySettings {
  /** The hold window (seconds, default 120) and its poll (seconds, default 30). */
  readonly windowSeconds: number
  readonly pollSeconds: number
  /** A pod counts only when Ready this long at least (seconds, default 120) and 2× its longest pre-crash run. */
  readonly minReadySeconds: number
  /** The first poll's delay after the action: the rollout and the pods' first Ready minutes (seconds, default 300). */
  readonly settleSeconds: number
}

/** The defaults. */
export const defaults: VerifySettings = { windowSeconds: 120, pollSeconds: 30, minReadySeconds: 120, settleSeconds: 300 }

/**
 * The window starts `settleSeconds` (300) after the action (the rollout, then `minReadySeconds`
 * Ready before a replacement pod can count), holds for `windowSeconds` polled every `pollSeconds`, and is retried once 15 s after
 * a failing poll.
 */
export const schedule = (s: VerifySettings = defaults): Verifier.VerifySchedule =>
  Verifier.hold(
    { offsets: [s.settleSeconds * 1000, s.settleSeconds * 1000 + 15_000], description: `first poll ${s.settleSeconds} s after the action, then retry once at 15 s` },
    { every: Duration.seconds(s.pollSeconds), for: Duration.seconds(s.windowSeconds) }
  )

const ms = (t: unknown): number | null => {
  if (t instanceof Date) return t.getTime()
  if (typeof t === "string") {
    const v = Date.parse(t)
    return Number.isFinite(v) ? v : null
  }
  return null
}

/** The longest run (ms) of a container before a crash, from a pod's termination states. */
export const longestRunMs = (pods: ReadonlyArray<V1Pod>, container: string): number =>
  Math.max(0, ...pods.flatMap((p) =>
    [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])].filter((c) => c.name === container).flatMap((c) =>
      [c.lastState?.terminated, c.state?.terminated].flatMap((t) => {
        const a = ms(t?.startedAt)
        const b = ms(t?.finishedAt)
        return a !== null && b !== null ? [b - a] : []
      })
    )
  ))

/** How long a pod has been Ready (ms), or null when it is not Ready. */
export const readyForMs = (p: V1Pod, now: number): number | null => {
  if (!(p.status?.conditions ?? []).some((x) => x.type === "Ready" && x.status === "True")) return null
  const since = PodVerifier.readySince(p)
  return since === undefined ? 0 : Math.max(0, now - since)
}

/** The pods of a Deployment/StatefulSet/DaemonSet (not terminating or finished) and the workload. */
export const workloadPods = (namespace: string, kind: string, name: string) =>
  Effect.map(PodVerifier.workloadAndPods(namespace, { kind, name }), ({ workload, pods }) =>
    ({ workload: workload as V1Deployment | V1StatefulSet, pods })) // seven-class acts on Deployments and StatefulSets

/** The "a pod counts" check: Ready for ≥ max(minReady, 2× the longest pre-crash run). */
export const podsCount = (pods: ReadonlyArray<V1Pod>, container: string, now: number, longestRun: number, s: VerifySettings): Check => {
  const need = PodVerifier.requiredHoldMs(longestRun, { runFactor: 2, minHoldSeconds: s.minReadySeconds })
  const short = pods.filter((p) => {
    const r = readyForMs(p, now)
    return r === null || r < need
  })
  return {
    name: `every pod Ready for ≥ ${Math.round(need / 1000)} s (2× the longest pre-crash run, ≥ ${s.minReadySeconds} s)`,
    ok: pods.length > 0 && short.length === 0,
    detail: pods.length === 0 ? "no pods" : `${pods.length - short.length}/${pods.length} count${short.length ? `; not yet: ${short.map((p) => p.metadata?.name).join(", ")}` : ""}`,
    observed: { pods: pods.length, counting: pods.length - short.length, needMs: need, container }
  }
}

const last = (applied: ReadonlyArray<Action.Action>) => applied[applied.length - 1]

const ownerOf = (ctx: Verifier.VerifyContext<SevenClassFacts>) => {
  const o = Fact.value(ctx.facts.owner)
  if (o) return o
  const t = Targets.parseSync(ctx.signal.target)
  return t instanceof Targets.InvalidTargetRef || t._tag !== "Workload" ? null : { kind: t.kind, name: t.name, namespace: t.namespace }
}

const killsSince = (namespace: string, pods: ReadonlyArray<string>, container: string, since: number) =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const events = yield* kube.listEvents({ namespace })
    return events.filter((e) => {
      const at = ms(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp)
      return e.reason === "Killing" && at !== null && at >= since && new RegExp(`^Container ${container} failed (liveness|startup) probe`).test(e.message ?? "") &&
        (pods.includes(e.involvedObject.name ?? "") || (e.involvedObject.name ?? "").length === 0)
    }).map((e) => `${e.involvedObject.name}: ${e.message}`)
  })

/** The verifier: dispatches on the applied action's kind. */
export const verify = (s: VerifySettings = defaults): Verifier.Verifier<SevenClassFacts, Kube> => {
  const bump = OomVerifiers.memoryBump() as unknown as Verifier.Verifier<SevenClassFacts, Kube>
  const held = Verifier.fromChecks<SevenClassFacts, Kube>((ctx) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const a = last(ctx.applied)
      const owner = ownerOf(ctx)
      const container = Fact.value(ctx.facts.container) ?? ""
      if (!a) return [{ name: "an action was applied", ok: false, detail: "nothing was applied" }] as ReadonlyArray<Check>
      if (!owner) return [{ name: "the workload is known", ok: false, detail: "no owning workload" }] as ReadonlyArray<Check>
      const { workload, pods } = yield* workloadPods(owner.namespace, owner.kind, owner.name)
      const pod = Fact.value(ctx.facts.pod)
      const before = pod ? [pod as unknown as V1Pod] : []
      const checks: Array<Check> = [podsCount(pods, container, now, longestRunMs(before, container), s)]
      if (a.kind === "k8s.rollbackDeployment" || a.kind === "k8s.pinImageDigest") {
        const want = workload.spec?.replicas ?? 1
        const st = workload.status
        checks.push({
          name: "readyReplicas == replicas",
          ok: (st?.readyReplicas ?? 0) === want && (st?.updatedReplicas ?? 0) === want && (st?.replicas ?? 0) === want && (st?.observedGeneration ?? 0) >= (workload.metadata?.generation ?? 0),
          detail: `${st?.readyReplicas ?? 0}/${want} ready, ${st?.updatedReplicas ?? 0} updated, ${st?.replicas ?? 0} total`,
          observed: { ready: st?.readyReplicas ?? 0, replicas: want }
        })
      } else if (a.kind === "k8s.loosenProbe") {
        const kills = yield* killsSince(owner.namespace, pods.map((p) => p.metadata?.name ?? ""), container, ctx.since)
        checks.push({ name: "0 liveness kills since the action", ok: kills.length === 0, detail: kills.length ? kills.join("; ") : "none", observed: { kills: kills.length } })
      } else if (a.kind === "k8s.restoreConfigMap" || a.kind === "k8s.restartPod") {
        const bad = pods.filter((p) => {
          const cs = (p.status?.containerStatuses ?? []).find((c) => c.name === container)
          const t = ms(cs?.lastState?.terminated?.finishedAt)
          return cs?.started !== true || (t !== null && t >= ctx.since)
        })
        checks.push({ name: "started, restartCount stable", ok: pods.length > 0 && bad.length === 0, detail: bad.length ? `not started or restarted since the restore: ${bad.map((p) => p.metadata?.name).join(", ")}` : `${pods.length} started, no restart since the restore` })
      }
      return checks
    }).pipe(Effect.catch((e) => Effect.succeed([{ name: "workload readable", ok: false, detail: String(e) }] as ReadonlyArray<Check>)))
  )
  return (ctx) =>
    Effect.gen(function*() {
      const a = last(ctx.applied)
      if (a?.kind !== "k8s.patchMemoryLimit") return yield* held(ctx)
      const b = yield* bump(ctx)
      const h = yield* held(ctx)
      if (b._tag !== "Recovered") return b
      return h._tag === "Recovered" ? { ...h, checks: [...b.checks, ...h.checks] } : h
    })
}
