/**
 * The verifier of a `k8s.rollbackDeployment` (the seed's Verify line): observedGeneration ≥ the
 * patched generation; Available=True and Progressing=True; readyReplicas == spec.replicas; the
 * failure signal clear (the failing template gone, no ProgressDeadlineExceeded, and for the
 * traffic classes the now-current revision's 5xx ratio below the spike bar and its p95 below
 * 1.5× the pre-rollout one). Held for 5 minutes (a poll every 30 s, the first one 30 s after the
 * rollout completed), retried once 60 s after a failing poll; core escalates a double failure with
 * the bundle.
 *
 * @since 0.3.0
 */
import { Fact, type Verdict, Verifier } from "@byteport/core"
import { Clock, Effect } from "effect"
import * as RollbackDeployment from "../actions/rollbackDeployment"
import { Kube } from "../Kube"
import { Metrics } from "../metrics/Metrics"
import * as LastDeploy from "../probes/lastDeploy"
import * as RolloutFacts from "../probes/rolloutFacts"

type Check = Verdict.CheckResult

/** Verification settings. */
export interface VerifySettings {
  /** The hold window (seconds, 300) and its poll (seconds, 30). */
  readonly windowSeconds: number
  readonly pollSeconds: number
  /** The retry after a failing poll (seconds, 60). */
  readonly retrySeconds: number
  /** The 5xx bar of the traffic classes (0.01) and the p95 factor (1.5). */
  readonly maxErrorRatio: number
  readonly p95Factor: number
}

/** The seed's defaults. */
export const defaults: VerifySettings = { windowSeconds: 300, pollSeconds: 30, retrySeconds: 60, maxErrorRatio: 0.01, p95Factor: 1.5 }

/**
 * Held for the window (the first poll one poll interval after the rollout completed, so the
 * restored revision has served traffic to measure), retried once `retrySeconds` after a failing poll.
 */
export const schedule = (s: VerifySettings = defaults): Verifier.VerifySchedule =>
  Verifier.hold(
    { offsets: [s.pollSeconds * 1000, (s.pollSeconds + s.retrySeconds) * 1000], description: `check after ${s.pollSeconds} s, then retry once ${s.retrySeconds} s after a failing poll` },
    { every: `${s.pollSeconds} seconds`, for: `${s.windowSeconds} seconds` }
  )

const TRAFFIC = new Set(["deploy_5xx_spike", "deploy_health_regression", "canary_slo_burn"])

/** The rollback verifier. */
export const rollback = (s: VerifySettings = defaults): Verifier.Verifier<RolloutFacts.RolloutFacts, Kube | Metrics> =>
  Verifier.fromChecks((ctx) =>
    Effect.gen(function*() {
      const kube = yield* Kube
      const a = [...ctx.applied].reverse().find((x) => x.kind === RollbackDeployment.KIND)
      const o = [...ctx.outcomes].reverse().find((x) => x.kind === RollbackDeployment.KIND && x.status === "applied")
      const d0 = Fact.value(ctx.facts.deployment)
      if (!a || !d0) return [{ name: "rollback applied", ok: false, detail: "no k8s.rollbackDeployment was applied" }] as ReadonlyArray<Check>
      const generation = Number((o?.result as { generation?: unknown } | undefined)?.generation ?? 0)
      const d = (yield* kube.getDeployment(d0.namespace, d0.name)) as unknown as RolloutFacts.DeploymentObject
      const st = RolloutFacts.deploymentState(d)
      const checks: Array<Check> = [
        { name: "observedGeneration ≥ the patched generation", ok: st.observedGeneration >= generation, detail: `${st.observedGeneration} ≥ ${generation}`, observed: { observedGeneration: st.observedGeneration, generation } },
        {
          name: "Available=True and Progressing=True",
          ok: st.available === "True" && st.progressing?.status === "True",
          detail: `Available=${st.available ?? "absent"}, Progressing=${st.progressing?.status ?? "absent"}${st.progressing?.reason ? ` (${st.progressing.reason})` : ""}`
        },
        { name: "readyReplicas == spec.replicas", ok: st.readyReplicas === st.replicas, detail: `${st.readyReplicas}/${st.replicas}`, observed: { readyReplicas: st.readyReplicas, replicas: st.replicas } }
      ]
      const p = a.params as { failingImages?: ReadonlyArray<{ container: string; image: string }> }
      const rs = (yield* kube.listReplicaSets({ namespace: d0.namespace })) as unknown as ReadonlyArray<LastDeploy.HistoryReplicaSet>
      const diff = LastDeploy.templateDiff(d, rs)
      const images = new Map((diff.current?.images ?? []).map((i) => [i.container, i.image]))
      const stillFailing = (p.failingImages ?? []).length > 0 && (p.failingImages ?? []).every((f) => images.get(f.container) === f.image)
      const deadline = st.progressing?.reason === "ProgressDeadlineExceeded"
      checks.push({ name: "failure signal clear", ok: !stillFailing && !deadline, detail: stillFailing ? "the failing images are still the template's" : deadline ? "ProgressDeadlineExceeded" : `revision ${diff.current?.revision ?? "?"} (${diff.current?.replicaSet ?? "?"}) serving` })
      const cls = ctx.classification._tag === "Classified" ? ctx.classification.class : ""
      if (TRAFFIC.has(cls) && diff.current) {
        const metrics = yield* Metrics
        const now = yield* Clock.currentTimeMillis
        const baseline = Fact.value(ctx.facts.traffic)?.baseline ?? null
        if (!metrics.httpStats) return [...checks, { name: "new 5xx / p95 clear", ok: false, detail: `${metrics.source} has no per-revision HTTP metrics` }]
        const cur = yield* metrics.httpStats({ namespace: d0.namespace, podPrefixes: [diff.current.replicaSet] }, { end: now, seconds: Math.max(30, Math.min(s.pollSeconds * 2, 120)) })
        const errOk = cur.errorRatio !== null && cur.errorRatio < s.maxErrorRatio
        const p95Ok = cur.p95Seconds === null || baseline?.p95Seconds === null || baseline?.p95Seconds === undefined || cur.p95Seconds < s.p95Factor * baseline.p95Seconds
        checks.push({
          name: "5xx and p95 back to baseline",
          ok: errOk && p95Ok,
          detail: `5xx ${cur.errorRatio === null ? "no traffic" : `${(cur.errorRatio * 100).toFixed(2)}%`} (< ${(s.maxErrorRatio * 100).toFixed(2)}%), p95 ${cur.p95Seconds?.toFixed(3) ?? "n/a"} s (baseline ${baseline?.p95Seconds?.toFixed(3) ?? "n/a"} s)`,
          observed: { errorRatio: cur.errorRatio, p95Seconds: cur.p95Seconds }
        })
      }
      return checks
    })
  )
