/**
 * The verifier of `k8s.crashloop.seven-class` and `k8s.restart-loop.container` (issue §4), chosen
 * by the action that was applied, on `PodVerifiers`' one hold loop (verifiers/pod.ts, shared with
 * five-branch and exit-code): polled every `pollSeconds` (30) from the action until every check
 * passes, a replacement pod that was Ready loses it (the attempt ends at once), or `settleSeconds`
 * (300) plus the required hold have passed; retried once at 15 s (core escalates a double failure):
 *
 * - every kind: a pod counts only when Ready for 2× the longest pre-crash run of the container
 *   and at least `minReadySeconds` (120), with no termination since it turned Ready; every pod of
 *   the workload must count;
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
import { Clock, Effect } from "effect"
import type { SevenClassFacts } from "../classifiers/sevenClass"
import { Kube } from "../Kube"
import * as Targets from "../targets/Targets"
import * as OomVerifiers from "./oom"
import * as PodVerifier from "./pod"

type Check = Verdict.CheckResult

/** Verification settings. */
export interface VerifySettings {
  /** The poll interval (seconds, default 30). */
  readonly pollSeconds: number
  /** A pod counts only when Ready this long at least (seconds, default 120) and 2× its longest pre-crash run. */
  readonly minReadySeconds: number
  /** How long after the action the pods may take to become Ready before the hold must be met (seconds, default 300). */
  readonly settleSeconds: number
}

/** The defaults. */
export const defaults: VerifySettings = { pollSeconds: 30, minReadySeconds: 120, settleSeconds: 300 }

/** The schedule: `PodVerifiers.schedule` — one held verification from the action, retried once at 15 s. */
export const schedule = (s: VerifySettings = defaults): Verifier.VerifySchedule =>
  PodVerifier.schedule({ ...PodVerifier.defaults, minHoldSeconds: s.minReadySeconds, pollSeconds: s.pollSeconds })

const ms = (t: unknown): number | null => {
  const v = PodVerifier.epochMs(t)
  return Number.isFinite(v) ? v : null
}

/** The longest run (ms) of a container before a crash, from a pod's termination states (`PodVerifiers.longestRunMs`). */
export const longestRunMs: (pods: ReadonlyArray<V1Pod>, container: string) => number = PodVerifier.longestRunMs

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

/** The "a pod counts" check: held Ready for ≥ max(minReady, 2× the longest pre-crash run) (`PodVerifiers.heldCheck`). */
export const podsCount = (pods: ReadonlyArray<V1Pod>, _container: string, now: number, longestRun: number, s: VerifySettings): Check =>
  PodVerifier.heldCheck(pods, now, PodVerifier.requiredHoldMs(longestRun, { runFactor: 2, minHoldSeconds: s.minReadySeconds }), { runFactor: 2, minHoldSeconds: s.minReadySeconds })

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

/** The verifier: dispatches on the applied action's kind; `PodVerifiers.holdLoop` polls until held. */
export const verify = (s: VerifySettings = defaults): Verifier.Verifier<SevenClassFacts, Kube> => {
  const bump = OomVerifiers.memoryBump() as unknown as Verifier.Verifier<SevenClassFacts, Kube>
  return (ctx) =>
    Effect.gen(function*() {
      const a = last(ctx.applied)
      const owner = ownerOf(ctx)
      const container = Fact.value(ctx.facts.container) ?? ""
      const at = yield* Clock.currentTimeMillis
      if (!a) return { _tag: "NotRecovered", reason: "nothing was applied", checks: [{ name: "an action was applied", ok: false, detail: "nothing was applied" }], at } as Verdict.Verdict
      if (!owner) return { _tag: "NotRecovered", reason: "no owning workload", checks: [{ name: "the workload is known", ok: false, detail: "no owning workload" }], at } as Verdict.Verdict
      const pod = Fact.value(ctx.facts.pod)
      const longest = longestRunMs(pod ? [pod as unknown as V1Pod] : [], container)
      const required = PodVerifier.requiredHoldMs(longest, { runFactor: 2, minHoldSeconds: s.minReadySeconds })
      const lostReady = PodVerifier.readyTracker(ctx.since)
      const held = yield* PodVerifier.holdLoop((now) =>
        Effect.gen(function*() {
          const { workload, pods } = yield* workloadPods(owner.namespace, owner.kind, owner.name)
          const checks: Array<Check> = [podsCount(pods, container, now, longest, s)]
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
          const lost = lostReady(pods)
          return { checks, hardFail: lost.length > 0 ? `${lost.join(", ")} lost Ready after the fix` : undefined }
        }), { deadline: ctx.since + s.settleSeconds * 1000 + required, pollSeconds: s.pollSeconds })
      if (a.kind !== "k8s.patchMemoryLimit" || held._tag !== "Recovered") return held
      const b = yield* bump(ctx)
      return b._tag === "Recovered" ? { ...held, checks: [...b.checks, ...held.checks] } : b
    })
}
