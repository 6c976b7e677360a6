/**
 * The verifier of k8s.node.pressure-drain, held over a window (core `Verifier.hold`: polled every
 * 30 s for 5 minutes, then one retry window 15 s after a failing poll; core escalates when both
 * fail):
 *
 * - the node is Ready and free of Memory/Disk/PID pressure (the uncordon only ran after it had
 *   been so for the healthy delay) and schedulable again;
 * - the drained pods are Ready elsewhere: every workload whose pods were evicted (their
 *   ReplicaSet or StatefulSet) has all its replicas Ready;
 * - no PodDisruptionBudget is violated (currentHealthy ≥ desiredHealthy for every budget).
 *
 * @since 0.2.0
 */
import { type Action, type Verdict, Verifier } from "@byteport/core"
import { Duration, Effect } from "effect"
import type { PressureFacts } from "../classifiers/nodePressure"
import * as NodeGuards from "../guardrails/nodeGuards"
import { Kube } from "../Kube"

type Check = Verdict.CheckResult

/** Settings of the verification window. */
export interface VerifySettings {
  /** Hold the checks this long (seconds, 300). */
  readonly windowSeconds: number
  /** Poll this often within the window (seconds, 30). */
  readonly pollSeconds: number
}

/** The defaults. */
export const defaults: VerifySettings = { windowSeconds: 300, pollSeconds: 30 }

/** The schedule: held for `windowSeconds`, polled every `pollSeconds`, then retry once at 15 s. */
export const schedule = (s: VerifySettings = defaults): Verifier.VerifySchedule =>
  Verifier.hold(Verifier.schedules.retryOnceAt15s, { every: Duration.seconds(s.pollSeconds), for: Duration.seconds(s.windowSeconds) })

const lastApplied = (applied: ReadonlyArray<Action.Action>, kind: string) => [...applied].reverse().find((a) => a.kind === kind)

/** The checks. */
export const verify = (): Verifier.Verifier<PressureFacts, Kube> =>
  Verifier.fromChecks((ctx) =>
    Effect.gen(function*() {
      const kube = yield* Kube
      const drain = lastApplied(ctx.applied, "k8s.drainNode")
      const nodeName = String((drain ?? lastApplied(ctx.applied, "k8s.cordonNode"))?.params["node"] ?? ctx.signal.evidence["node"] ?? "")
      const node = yield* kube.getNode(nodeName)
      const pressure = NodeGuards.PRESSURE_CONDITIONS.filter((t) => NodeGuards.condition(node, t) === "True")
      const checks: Array<Check> = [{
        name: "node Ready and pressure-free",
        ok: NodeGuards.isReady(node) && pressure.length === 0,
        detail: `Ready=${NodeGuards.condition(node, "Ready") ?? "absent"}${pressure.length ? `, ${pressure.join(", ")}` : ", no pressure"}`
      }, {
        name: "node schedulable again",
        ok: !NodeGuards.isCordoned(node),
        detail: NodeGuards.isCordoned(node) ? `still cordoned${NodeGuards.cordonedBy(node) ? ` by ${NodeGuards.cordonedBy(node)}` : ""}` : "uncordoned"
      }]
      const outcome = ctx.outcomes.find((o) => o.kind === "k8s.drainNode" && o.status === "applied")
      const owners = (outcome?.result?.["evictedOwners"] as ReadonlyArray<string> | undefined) ?? []
      const short: Array<string> = []
      for (const owner of owners) {
        const [ns, kind, name] = owner.split("/") as [string, string, string]
        if (kind === "ReplicaSet") {
          const rs = yield* Effect.result(kube.getReplicaSet(ns, name))
          if (rs._tag === "Failure") {
            if (rs.failure._tag === "KubeNotFound") continue // replaced by a newer revision
            return yield* Effect.fail(rs.failure)
          }
          const want = rs.success.spec?.replicas ?? 0
          const ready = rs.success.status?.readyReplicas ?? 0
          if (ready < want) short.push(`${owner} ${ready}/${want}`)
        } else if (kind === "StatefulSet") {
          const ss = yield* kube.getStatefulSet(ns, name)
          const want = ss.spec?.replicas ?? 0
          const ready = ss.status?.readyReplicas ?? 0
          if (ready < want) short.push(`${owner} ${ready}/${want}`)
        }
      }
      checks.push({ name: "drained pods Ready elsewhere", ok: short.length === 0, detail: short.length ? `not yet: ${short.join(", ")}` : `${owners.length} workload(s) fully Ready`, observed: { workloads: owners.length, short: short.length } })
      const pdbs = yield* kube.listPdbs()
      const violated = pdbs.filter((b) => (b.status?.currentHealthy ?? 0) < (b.status?.desiredHealthy ?? 0)).map((b) => `${b.metadata?.namespace}/${b.metadata?.name} ${b.status?.currentHealthy ?? 0}/${b.status?.desiredHealthy ?? 0}`)
      checks.push({ name: "no PodDisruptionBudget violated", ok: violated.length === 0, detail: violated.length ? violated.join(", ") : `${pdbs.length} budget(s) healthy` })
      return checks
    })
  )
