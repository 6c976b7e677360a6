/**
 * The plans of k8s.oom.six-signal, one per class, as the seed's Remediate line says:
 *
 * - undersized_limit → patch the Deployment/StatefulSet memory limit ×1.5 (configurable); the
 *   action kind's guardrails keep it ≤2× the baseline, ≤80% of node allocatable and to 1 bump
 *   per pod per 24 h;
 * - traffic_spike → raise the HPA's minReplicas (within maxReplicas, annotated with the reason),
 *   falling back to the limit bump when there is no HPA or it is at max — one Fallback step;
 * - node_pressure → cordon the node, then a PDB-aware drain that ignores DaemonSets, then the
 *   node guardrails' `k8s.uncordonNode` once the node has been Ready and pressure-free for the
 *   healthy delay (5 min; not recovered within 30 min → it stays cordoned and escalates), so the
 *   cordon never keeps the cluster's BytePort cordon slot (the steps of k8s.node.pressure-drain);
 * - runtime_misconfig → a ChangeProposal with the -Xmx / GOMEMLIMIT / NODE_OPTIONS fix as PR
 *   text, never applied;
 * - genuine_memory_leak → capture a heap profile and escalate (a ticket is opened); never a bump.
 *
 * @since 0.1.0
 */
import { Action, type ChangeProposal, type Classification, Fact, Plan, type Signal, TargetRef } from "@byteport/core"
import type { OomClass, OomFacts, PodFacts } from "../classifiers/oom"
import { formatBytes, humanBytes, roundUpToMi } from "../Quantity"
import type { RuntimeHeap } from "../probes/runtimeHeap"
import * as NodePressure from "./nodePressure"

/** The runbook id the plans belong to. */
export const RUNBOOK_ID = "k8s.oom.six-signal"

/** Remediation settings (every number in the seed is a default). */
export interface OomRemediation {
  /** The memory-limit bump factor. Default 1.5. */
  readonly bumpFactor: number
  /** HPA scale-out: new minReplicas = ceil(current × this), within maxReplicas. Default 1.5. */
  readonly scaleOutFactor: number
  /** A drain's overall timeout in seconds. Default 300. */
  readonly drainTimeoutSeconds: number
  /** node_pressure: how long the node must be Ready and pressure-free before the uncordon (seconds, default 300). */
  readonly healthyDelaySeconds?: number | undefined
  /** node_pressure: not recovered within this → it stays cordoned and the incident escalates (seconds, default 1800). */
  readonly recoveryTimeoutSeconds?: number | undefined
  /** node_pressure: how often the uncordon polls the node (seconds, default 15). */
  readonly pollSeconds?: number | undefined
}

/** The defaults. */
export const defaults: OomRemediation = { bumpFactor: 1.5, scaleOutFactor: 1.5, drainTimeoutSeconds: 300 }

/** The node_pressure steps' settings (the node guardrails' defaults where `settings` says nothing). */
export const pressureSettings = (settings: OomRemediation): NodePressure.PressureRemediation => ({
  drainTimeoutSeconds: settings.drainTimeoutSeconds,
  deleteEmptyDirData: false,
  healthyDelaySeconds: settings.healthyDelaySeconds ?? NodePressure.defaults.healthyDelaySeconds,
  recoveryTimeoutSeconds: settings.recoveryTimeoutSeconds ?? NodePressure.defaults.recoveryTimeoutSeconds,
  pollSeconds: settings.pollSeconds ?? NodePressure.defaults.pollSeconds
})

/** The cluster name of a Kubernetes TargetRef (its first segment). */
export const clusterOf = (target: TargetRef.TargetRef): string => target.ref.split("/")[0] ?? "default"

/** The TargetRef of a node (`k8s.node`, `<cluster>/<name>`), in the cluster of `signal`. */
export const nodeTarget = (name: string, cluster = "default"): TargetRef.TargetRef => TargetRef.make("k8s.node", `${cluster}/${name}`)

/** The action kinds these plans use (each has a handler with its guardrails in `actions/`). */
export const ActionKinds = {
  patchMemoryLimit: "k8s.patchMemoryLimit",
  raiseHpaMinReplicas: "k8s.raiseHpaMinReplicas",
  cordonNode: "k8s.cordonNode",
  drainNode: "k8s.drainNode",
  uncordonNode: "k8s.uncordonNode",
  captureHeapProfile: "k8s.captureHeapProfile"
} as const

/** The memory-limit bump for a container: ×factor, rounded up to a whole MiB. */
export const bumpAction = (signal: Signal.Signal, pod: PodFacts, factor: number, reason: string, nodeAllocatableBytes: number | null = null): Action.Action => {
  const from = pod.memoryLimitBytes ?? 0
  const to = roundUpToMi(from * factor)
  const workload = pod.workload
  return Action.make({
    kind: ActionKinds.patchMemoryLimit,
    target: signal.target,
    params: {
      namespace: pod.namespace,
      workloadKind: workload?.kind ?? "Pod",
      workloadName: workload?.name ?? pod.pod,
      container: pod.container,
      fromBytes: from,
      toBytes: to,
      nodeAllocatableBytes,
      reason,
      ...(pod.sidecar ? { initContainer: true } : {})
    },
    precondition: { resourceVersion: workload?.resourceVersion ?? "" },
    timeoutMs: 180_000,
    description: `raise the memory limit of ${workload ? `${workload.kind.toLowerCase()}/${workload.name}` : `pod/${pod.pod}`} container ${pod.container} from ${formatBytes(from)} to ${formatBytes(to)} (×${factor})`
  })
}

/** The PR text that fixes a heap ceiling larger than the container limit. */
export const heapProposal = (signal: Signal.Signal, pod: PodFacts, heap: RuntimeHeap): ChangeProposal.ChangeProposal => {
  const limit = pod.memoryLimitBytes ?? 0
  const mi = (b: number) => Math.floor(b / 2 ** 20)
  const fix = heap.runtime === "jvm"
    ? { setting: `-Xmx${mi(limit * 0.75)}m`, note: "75% of the container limit leaves room for metaspace, threads and off-heap buffers; or use -XX:MaxRAMPercentage=75.0 and drop -Xmx" }
    : heap.runtime === "go"
    ? { setting: `GOMEMLIMIT=${mi(limit * 0.9)}MiB`, note: "90% of the container limit: the Go GC works harder before the kernel OOM-kills the process" }
    : { setting: `--max-old-space-size=${mi(limit * 0.75)}`, note: "75% of the container limit leaves room for V8's new space, buffers and native memory" }
  const where = `${pod.workload ? `${pod.workload.kind}/${pod.workload.name}` : `Pod/${pod.pod}`} (namespace ${pod.namespace}), container ${pod.container}`
  return {
    title: `Fix ${heap.runtime === "jvm" ? "JVM -Xmx" : heap.runtime === "go" ? "GOMEMLIMIT" : "NODE_OPTIONS --max-old-space-size"} above the memory limit of ${pod.workload?.name ?? pod.pod}`,
    body: [
      `## What happened`,
      ``,
      `${where} is OOM-killed: its runtime may grow its heap to ${humanBytes(heap.heapBytes)} (\`${heap.setting}\` in \`${heap.variable}\`), but the container's memory limit is ${humanBytes(limit)}. The kernel kills the container before the runtime's own memory management reacts.`,
      ``,
      `## Change`,
      ``,
      `In \`${heap.variable}\`, replace \`${heap.setting}\` with \`${fix.setting}\`.`,
      ``,
      `${fix.note}.`,
      ``,
      `Raising the container limit instead only hides the mismatch: the heap ceiling must stay below the limit.`,
      ``,
      `_Proposed by BytePort (${RUNBOOK_ID}); never applied automatically._`
    ].join("\n"),
    target: signal.target,
    files: [{ path: `${pod.namespace}/${pod.workload?.name ?? pod.pod}: env ${heap.variable}`, description: `replace ${heap.setting} with ${fix.setting}`, before: heap.setting, after: fix.setting }]
  }
}

/** Builds the plan for a classification (the classifier only yields these classes). */
export const plan = (
  classification: Classification.Classified,
  facts: Fact.Facts<OomFacts>,
  signal: Signal.Signal,
  settings: OomRemediation = defaults
): Plan.Plan => {
  const cls = classification.class as OomClass
  const pod = Fact.value(facts.pod)!
  const workloadName = pod.workload?.name ?? pod.pod
  const allocatable = Fact.value(facts.node)?.allocatableMemoryBytes ?? null
  const bumpable = pod.workload !== null && (pod.workload.kind === "Deployment" || pod.workload.kind === "StatefulSet")
  const noWorkload = `${pod.namespace}/${pod.pod} is not managed by a Deployment or StatefulSet (${pod.workload ? pod.workload.kind : "bare pod"}): its limit cannot be raised by a patch that survives a restart`
  // the owner is its own fact: when it could not be read, nothing that patches or scales it is planned
  const owner = facts.owner
  if (owner?._tag === "Unknown" && (cls === "undersized_limit" || cls === "traffic_spike")) {
    return Plan.make(RUNBOOK_ID, cls, "escalate: the owning workload is unknown", Plan.escalate(`the owner of ${pod.namespace}/${pod.pod} could not be read (${owner.reason}): no limit patch or scale-out without it`))
  }
  switch (cls) {
    case "undersized_limit":
      if (!bumpable) return Plan.make(RUNBOOK_ID, cls, "escalate: no workload to patch", Plan.escalate(noWorkload))
      return Plan.make(
        RUNBOOK_ID,
        cls,
        `bump the memory limit of ${workloadName}/${pod.container} ×${settings.bumpFactor}`,
        Plan.act(bumpAction(signal, pod, settings.bumpFactor, "undersized_limit: working set plateaus near the limit", allocatable))
      )
    case "traffic_spike": {
      // replica counts the apiserver never returns (not int32: Infinity, NaN, fractions) read as no HPA
      const read = Fact.value(facts.hpa) ?? null
      const hpa = read !== null && [read.minReplicas, read.maxReplicas, read.currentReplicas].every(Number.isSafeInteger) ? read : null
      const to = hpa ? Math.min(hpa.maxReplicas, Math.max(hpa.minReplicas + 1, Math.ceil(hpa.currentReplicas * settings.scaleOutFactor))) : 0
      const scaleOut = Action.make({
        kind: ActionKinds.raiseHpaMinReplicas,
        target: signal.target,
        params: {
          namespace: pod.namespace,
          hpa: hpa?.name ?? null,
          fromMinReplicas: hpa?.minReplicas ?? 0,
          toMinReplicas: to,
          maxReplicas: hpa?.maxReplicas ?? 0,
          currentReplicas: hpa?.currentReplicas ?? 0,
          reason: "traffic_spike: working set follows the request rate"
        },
        precondition: { resourceVersion: hpa?.resourceVersion ?? "" },
        timeoutMs: 180_000,
        description: hpa
          ? `scale out ${workloadName} through HPA ${hpa.name}: minReplicas ${hpa.minReplicas} → ${to} (max ${hpa.maxReplicas})`
          : `scale out ${workloadName} through its HPA (none found)`
      })
      return Plan.make(
        RUNBOOK_ID,
        cls,
        `scale out ${workloadName} through its HPA, else bump its memory limit`,
        Plan.fallback(Plan.act(scaleOut), bumpable ? Plan.act(bumpAction(signal, pod, settings.bumpFactor, "traffic_spike: no HPA headroom", allocatable)) : Plan.escalate(noWorkload), {
          on: ["denied", "failed"]
        })
      )
    }
    case "node_pressure": {
      const node = Fact.value(facts.node)!
      const p = pressureSettings(settings)
      const { cordon, drain, uncordon } = NodePressure.cordonDrainSteps(node.name, clusterOf(signal.target), "node_pressure: MemoryPressure", p, node.resourceVersion)
      return Plan.make(RUNBOOK_ID, cls, `cordon, drain and (once healthy for ${p.healthyDelaySeconds}s) uncordon node ${node.name}`, Plan.seq(cordon, drain, uncordon))
    }
    case "runtime_misconfig": {
      const heap = Fact.value(facts.runtimeHeap)!
      return Plan.make(RUNBOOK_ID, cls, `propose a ${heap.runtime} heap setting below the container limit`, Plan.propose(heapProposal(signal, pod, heap)))
    }
    case "genuine_memory_leak": {
      const capture = Action.make({
        kind: ActionKinds.captureHeapProfile,
        target: signal.target,
        params: { namespace: pod.namespace, pod: pod.pod, container: pod.container, runtime: Fact.value(facts.runtimeHeap)?.runtime ?? null },
        timeoutMs: 120_000,
        description: `capture a heap profile of ${pod.namespace}/${pod.pod} container ${pod.container}`
      })
      const reason = `genuine memory leak in ${workloadName}/${pod.container}: memory rises across restarts regardless of traffic; a bigger limit would only delay the next OOM`
      const next = [
        "analyse the attached heap profile (or capture one) for the growing allocation",
        `check the changes deployed to ${workloadName} recently`,
        "roll back if a recent deploy introduced the leak; otherwise fix and redeploy"
      ]
      return Plan.make(
        RUNBOOK_ID,
        cls,
        `capture a heap profile and escalate (never bump a leak)`,
        Plan.fallback(
          Plan.seq(Plan.act(capture), Plan.escalate(reason, next)),
          Plan.escalate(`${reason} (heap profile not captured)`, next),
          { on: ["failed", "denied"] }
        )
      )
    }
  }
}
