/**
 * Verification of k8s.node.not-ready (the seed's Verify line), held over a window: every poll
 * (every 30 s for 5 minutes, from the last applied action) must see
 *
 * - the node Ready (it had 5 minutes to get there: the plan's `k8s.node.healthy` wait);
 * - no new eviction Event on the node since the fix;
 * - no PodDisruptionBudget violated (currentHealthy ≥ desiredHealthy) in the namespaces the node's
 *   pods live in;
 * - the pods rescheduled Running/Ready: the Deployments and StatefulSets of the drained pods have
 *   every replica Ready; without a drain, every pod on the node is Running and Ready.
 *
 * A failing poll ends the window; one retry window 15 s later; core escalates a double failure.
 * Also here: the plan's checks `k8s.node.healthy` (Ready, no pressure, network available) and
 * `k8s.node.memory-below` (`free -b` through the NodeShell: used share below `ratio`; no shell →
 * not met, so the plan replaces or escalates rather than guessing).
 *
 * @since 0.2.0
 */
import type { V1Node, V1Pod } from "@kubernetes/client-node"
import { Check, Verifier, type Verdict } from "@byteport/core"
import { Duration, Effect, Option } from "effect"
import type { NodeNotReadyFacts } from "../classifiers/nodeNotReady"
import { Kube } from "../Kube"
import { memoryUsedRatio, resolveShell } from "../probes/nodeHost"
import { CheckKinds } from "../remediators/nodeNotReady"

type CheckResult = Verdict.CheckResult

/** Settings of the verification. */
export interface VerifySettings {
  /** Hold the checks this long, seconds (default 300: "no new eviction events for 5 min"). */
  readonly windowSeconds: number
  /** Poll every, seconds (default 30). */
  readonly pollSeconds: number
  /** The retry window starts this long after a failing poll, seconds (default 15). */
  readonly retrySeconds: number
}

/** The seed's defaults. */
export const defaults: VerifySettings = { windowSeconds: 300, pollSeconds: 30, retrySeconds: 15 }

/** The schedule: held for `windowSeconds`, polled every `pollSeconds`, retried once after `retrySeconds`. */
export const schedule = (s: VerifySettings = defaults): Verifier.VerifySchedule =>
  Verifier.hold(Verifier.retryOnce(Duration.seconds(s.retrySeconds)), { every: Duration.seconds(s.pollSeconds), for: Duration.seconds(s.windowSeconds) })

const PRESSURE = ["MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"] as const
const cond = (n: V1Node, t: string) => n.status?.conditions?.find((c) => c.type === t)?.status
const isReady = (p: V1Pod) => (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")
const at = (v: unknown): number => (v instanceof Date ? v.getTime() : typeof v === "string" ? Date.parse(v) : NaN)

/** Node Ready and free of pressure (and of NetworkUnavailable). */
export const nodeHealthy = (n: V1Node): CheckResult => {
  const ready = cond(n, "Ready") === "True"
  const pressured = PRESSURE.filter((t) => cond(n, t) === "True")
  return {
    name: "node Ready and pressure-free",
    ok: ready && pressured.length === 0,
    detail: `Ready=${cond(n, "Ready") ?? "?"}${pressured.length ? `, ${pressured.join(", ")} True` : ""}`
  }
}

/** The checks of the plans (register them with the handlers: `ActionRegistry.layer({ handlers, checks })`). */
export const checks = (): ReadonlyArray<Check.Check<Kube>> => [
  Check.make(CheckKinds.healthy, (ref) =>
    Check.safely(
      "node Ready and pressure-free",
      Effect.flatMap(Kube, (kube) => Effect.map(kube.getNode(String(ref.params["node"])), nodeHealthy))
    )),
  Check.make(CheckKinds.memoryBelow, (ref) =>
    Check.safely(
      "node memory below the replacement threshold",
      Effect.gen(function*() {
        const node = String(ref.params["node"])
        const ratio = Number(ref.params["ratio"])
        const shell = yield* resolveShell(node)
        if (Option.isNone(shell)) return { name: "node memory", ok: false, detail: `no NodeShell reaches ${node}: memory unknown` }
        const used = yield* memoryUsedRatio(shell.value)
        return { name: "node memory", ok: used < ratio, detail: `${Math.round(used * 100)}% used (threshold ${Math.round(ratio * 100)}%)`, observed: { usedRatio: used } }
      })
    ))
]

const drainedPods = (ctx: Verifier.VerifyContext<unknown>): ReadonlyArray<string> =>
  ctx.outcomes.filter((o) => o.kind === "k8s.drainNode" && o.status === "applied").flatMap((o) => {
    const ev = o.result?.["evicted"]
    return Array.isArray(ev) ? ev.filter((x): x is string => typeof x === "string") : []
  })

/** The verifier. */
export const verify = (): Verifier.Verifier<NodeNotReadyFacts, Kube> =>
  Verifier.fromChecks((ctx) =>
    Effect.gen(function*() {
      const kube = yield* Kube
      const name = String(ctx.signal.evidence["node"] ?? ctx.signal.target.ref.split("/").pop())
      const node = yield* kube.getNode(name)
      const out: Array<CheckResult> = [{ ...nodeHealthy(node), name: "node Ready" , ok: cond(node, "Ready") === "True" }]
      const events = yield* kube.listEvents({ fieldSelector: "reason=Evicted" })
      const evictions = events.filter((e) => {
        const t = at(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp)
        return t >= ctx.since && (e.source?.host === name || e.reportingInstance === name)
      })
      out.push({ name: "no new evictions on the node", ok: evictions.length === 0, detail: evictions.length ? evictions.map((e) => `${e.involvedObject.namespace}/${e.involvedObject.name}`).join(", ") : "none", observed: { evictions: evictions.length } })
      const drained = drainedPods(ctx as Verifier.VerifyContext<unknown>)
      const onNode = (yield* kube.listPods({ fieldSelector: `spec.nodeName=${name}` })).filter((p) => p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed")
      const namespaces = new Set([...drained.map((d) => d.split("/")[0]!), ...onNode.map((p) => p.metadata?.namespace ?? "default")])
      const violated: Array<string> = []
      for (const ns of namespaces) {
        for (const pdb of yield* kube.listPdbs({ namespace: ns })) {
          const st = pdb.status
          if (st && (st.currentHealthy ?? 0) < (st.desiredHealthy ?? 0)) violated.push(`${ns}/${pdb.metadata?.name} (${st.currentHealthy}/${st.desiredHealthy} healthy)`)
        }
      }
      out.push({ name: "no PodDisruptionBudget violated", ok: violated.length === 0, detail: violated.length ? violated.join(", ") : `none in ${[...namespaces].join(", ") || "no namespace"}` })
      if (drained.length > 0) {
        const short: Array<string> = []
        for (const ns of new Set(drained.map((d) => d.split("/")[0]!))) {
          for (const d of yield* kube.listDeployments({ namespace: ns })) {
            const want = d.spec?.replicas ?? 1
            if ((d.status?.readyReplicas ?? 0) < want) short.push(`deployment ${ns}/${d.metadata?.name} ${d.status?.readyReplicas ?? 0}/${want}`)
          }
          for (const s of yield* kube.listStatefulSets({ namespace: ns })) {
            const want = s.spec?.replicas ?? 1
            if ((s.status?.readyReplicas ?? 0) < want) short.push(`statefulset ${ns}/${s.metadata?.name} ${s.status?.readyReplicas ?? 0}/${want}`)
          }
        }
        out.push({ name: "pods rescheduled Running/Ready", ok: short.length === 0, detail: short.length ? short.join(", ") : `${drained.length} drained pod(s) replaced and Ready` })
      } else {
        const bad = onNode.filter((p) => p.status?.phase !== "Running" || !isReady(p))
        out.push({ name: "pods on the node Running/Ready", ok: bad.length === 0, detail: bad.length ? bad.map((p) => `${p.metadata?.namespace}/${p.metadata?.name} ${p.status?.phase}`).join(", ") : `${onNode.length} Running and Ready` })
      }
      return out
    })
  )
