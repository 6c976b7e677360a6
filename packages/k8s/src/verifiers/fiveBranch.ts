/**
 * The verifiers of `k8s.crashloop.five-branch` (issue 11 §4). A pod counts as recovered only once
 * it has been Ready, without a termination since, for `holdFactor` (2) × its longest pre-crash
 * run and at least `minHoldSeconds` (120): the verifier polls every `pollSeconds` (15) from the
 * last applied action until every pod of the workload is held Ready and the class's checks pass,
 * or `settleSeconds` (600) plus the hold have passed (NotRecovered with the last checks); a
 * replacement pod that was Ready and lost it ends the attempt at once. The schedule retries once
 * at 15 s; core escalates a double failure. The hold loop, the held-pod check and the schedule
 * are `PodVerifiers`' (verifiers/pod.ts), shared with seven-class, restart-loop and exit-code.
 *
 * Per fix, besides the held pods:
 * - rollback: the Deployment's readyReplicas == spec.replicas;
 * - loosen: 0 liveness kills (`Killing` … `failed liveness probe`) of the workload's pods since
 *   the action;
 * - bump: `OomVerifiers.memoryBump` once the pods are held (Ready on the new limit, working set
 *   < 80% of it, 0 OOMKilled since the action, no evictions on the node);
 * - hold: the dependency is healthy (the plan's `k8s.dependencyHealthy` check) and the pods Ready.
 *
 * @since 0.3.0
 */
import { Fact, type Verdict, Verifier } from "@byteport/core"
import type { V1Deployment, V1Pod, V1StatefulSet } from "@kubernetes/client-node"
import { Clock, Effect } from "effect"
import type { FiveBranchFacts } from "../classifiers/fiveBranch"
import type { OomFacts } from "../classifiers/oom"
import { Kube } from "../Kube"
import * as Dependency from "../probes/dependency"
import * as OomVerifiers from "./oom"
import * as PodVerifier from "./pod"

type Check = Verdict.CheckResult

/** Settings. */
export interface VerifySettings {
  /** A pod must be Ready for this multiple of its longest pre-crash run (2). */
  readonly holdFactor: number
  /** … and at least this long (120 s). */
  readonly minHoldSeconds: number
  /** How long after the action pods may take to become Ready (600 s). */
  readonly settleSeconds: number
  /** Poll interval (15 s). */
  readonly pollSeconds: number
}

/** The defaults. */
export const defaults: VerifySettings = { holdFactor: 2, minHoldSeconds: 120, settleSeconds: 600, pollSeconds: 15 }

/** The schedule: `PodVerifiers.schedule` — one held verification from the action, retried once at 15 s. */
export const schedule: Verifier.VerifySchedule = PodVerifier.schedule()

/** The hold (ms) for a longest pre-crash run. */
export const holdMs = (s: VerifySettings, longestRunMs: number | null): number =>
  PodVerifier.requiredHoldMs(longestRunMs, { runFactor: s.holdFactor, minHoldSeconds: s.minHoldSeconds })

/** Whether a pod is held: Ready for `hold` ms at `now` with no container terminated since (`PodVerifiers.isHeld`). */
export const isHeld: (p: V1Pod, now: number, hold: number) => boolean = PodVerifier.isHeld

const workloadPods = (namespace: string, kind: string, name: string) =>
  Effect.map(PodVerifier.workloadAndPods(namespace, { kind, name }), ({ workload, pods }) => {
    const w = workload as V1Deployment | V1StatefulSet // five-branch acts on Deployments and StatefulSets
    return { workload: w, pods, want: w.spec?.replicas ?? 1 }
  })

/** What a fix checks besides the held pods. */
export type Fix = "rollback" | "loosen" | "bump" | "hold"

const livenessKillsSince = (namespace: string, pods: ReadonlyArray<V1Pod>, since: number) =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const names = new Set(pods.map((p) => p.metadata?.name))
    const events = yield* kube.listEvents({ namespace, fieldSelector: "reason=Killing" })
    return events.filter((e) => {
      const at = PodVerifier.epochMs(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp)
      return names.has(e.involvedObject.name) && /failed liveness probe/.test(e.message ?? "") && at >= since
    }).reduce((a, e) => a + Math.max(1, e.count ?? 1), 0)
  })

/** The verifier of one fix. */
export const verifier = (fix: Fix, s: VerifySettings = defaults): Verifier.Verifier<FiveBranchFacts, Kube> => (ctx) =>
  Effect.gen(function*() {
    const pod = Fact.value(ctx.facts.pod)
    const ran = Fact.value(ctx.facts.container)?.termination?.ranMs ?? null
    const hold = holdMs(s, ran)
    const at = () => Clock.currentTimeMillis
    if (!pod?.workload) return { _tag: "NotRecovered", reason: "no workload to verify", checks: [], at: yield* at() } as Verdict.Verdict
    const w = pod.workload
    const lostReady = PodVerifier.readyTracker(ctx.since)
    return yield* PodVerifier.holdLoop((now) =>
      Effect.gen(function*() {
        const { workload, pods, want } = yield* workloadPods(pod.namespace, w.kind, w.name)
        const checks: Array<Check> = [PodVerifier.heldCheck(pods, now, hold, { want, runFactor: s.holdFactor, minHoldSeconds: s.minHoldSeconds })]
        if (fix === "rollback") {
          const ready = workload.status?.readyReplicas ?? 0
          checks.push({ name: "readyReplicas == replicas", ok: ready === want && (workload.status?.updatedReplicas ?? 0) === want, detail: `${ready}/${want} ready`, observed: { readyReplicas: ready, replicas: want } })
        }
        if (fix === "loosen") {
          const kills = yield* livenessKillsSince(pod.namespace, pods, ctx.since)
          checks.push({ name: "0 liveness kills since the action", ok: kills === 0, detail: `${kills} liveness kill(s)`, observed: { kills } })
        }
        if (fix === "hold") {
          const waited = ctx.plan.root._tag === "Fallback" && ctx.plan.root.primary._tag === "Seq" ? ctx.plan.root.primary.steps.find((x) => x._tag === "WaitFor") : undefined
          const p = waited?._tag === "WaitFor" ? waited.check.params : undefined
          const dep = p
            ? yield* Dependency.healthy({ namespace: String(p["namespace"]), service: typeof p["service"] === "string" ? p["service"] : null, host: String(p["host"]), port: typeof p["port"] === "number" ? p["port"] : null })
            : { name: "dependency healthy", ok: false, detail: "the plan waits on no dependency" }
          checks.push(dep)
        }
        const lost = lostReady(pods)
        return { checks, hardFail: lost.length > 0 ? `${lost.join(", ")} lost Ready after the fix` : undefined }
      }), { deadline: ctx.since + s.settleSeconds * 1000 + hold, pollSeconds: s.pollSeconds }).pipe(
        Effect.flatMap((v) => {
          if (v._tag !== "Recovered" || fix !== "bump") return Effect.succeed(v)
          return Effect.map(OomVerifiers.memoryBump()({ ...ctx, facts: ctx.facts as unknown as Fact.Facts<OomFacts> }), (bump): Verdict.Verdict => (bump._tag === "Recovered" ? { ...bump, checks: [...v.checks, ...bump.checks] } : bump))
        })
      )
  })
