/**
 * The classifier of k8s.oom.six-signal: the seed's first-match table, in the seed's order (never
 * sorted by confidence), with its predicates and confidences:
 *
 * 1. `runtime_misconfig` (0.93): the configured heap ceiling (-Xmx, GOMEMLIMIT,
 *    --max-old-space-size) is larger than the container's memory limit.
 * 2. `node_pressure` (0.88): the node reports MemoryPressure and the pod is healthy — its own
 *    working set is below 70% of its memory limit (a well-behaved victim, not the culprit) — or
 *    has no memory limit at all (only node pressure can end it: the node facts decide).
 * 3. `genuine_memory_leak` (0.85): RSS rising across 3+ restarts with no traffic correlation.
 * 4. `traffic_spike` (0.86): RSS correlates with the request rate.
 * 5. `undersized_limit` (0.84): an RSS plateau at ≥85% of the limit, with no trend.
 *
 * "Rising" and "plateau" are the memory trend's growth test (probes/memoryTrend.ts, docs/oom.md
 * "The growth test"): significance of the within-lifetime slope relative to the limit, at any
 * sampling step. A trend that is neither (too few samples, noise too large) matches neither rule:
 * a slow leak is never read as a plateau, so never bumped.
 *
 * A match below the minimum confidence (0.70) is Unclassified (escalate); a rule reached before
 * any match that needs an Unknown fact (Prometheus unreachable …) makes the result Indeterminate
 * (escalate, never a bump). An exit 137 without reason OOMKilled (a liveness or external kill)
 * and no other memory evidence is not an OOM: Unclassified.
 *
 * @since 0.1.0
 */
import { Classification, Classifier, Fact, Settings } from "@byteport/core"
import { Config, Effect } from "effect"
import { humanBytes } from "../Quantity"
import type { RuntimeHeap } from "../probes/runtimeHeap"

/** The container under investigation, as `kubectl describe pod` shows it. */
export interface PodFacts {
  readonly namespace: string
  readonly pod: string
  readonly container: string
  readonly node: string | null
  readonly restartCount: number
  readonly memoryLimitBytes: number | null
  readonly memoryRequestBytes: number | null
  /** The last termination (`lastState.terminated`, or `state.terminated`). */
  readonly lastTermination: { readonly reason: string | null; readonly exitCode: number | null; readonly finishedAt: string | null } | null
  readonly ready: boolean
  /** The owning workload (Deployment, StatefulSet …) with its resourceVersion, for conditional patches. */
  readonly workload: { readonly kind: string; readonly name: string; readonly resourceVersion: string } | null
  /** The container's env with secret-like values already dropped (only names and literal values). */
  readonly env: ReadonlyArray<{ readonly name: string; readonly value?: string | undefined }>
  /** True when the container is a native sidecar (an init container with `restartPolicy: Always`). */
  readonly sidecar?: boolean | undefined
}

/** The node the pod runs on. */
export interface NodeFacts {
  readonly name: string
  readonly resourceVersion: string
  readonly unschedulable: boolean
  readonly memoryPressure: boolean
  readonly allocatableMemoryBytes: number | null
}

/** The current working set from metrics-server. */
export interface WorkingSetFacts {
  /** Null when metrics-server has no sample for the container (not running). */
  readonly bytes: number | null
}

/** The memory trend from Prometheus (working set, restarts and request rate over the lookback window). */
export interface TrendFacts {
  /** Restarts observed in the window. */
  readonly restarts: number
  /** The working set climbs within every lifetime (restarts start it again from scratch): significant growth, no lifetime levelling off. */
  readonly risingAcrossRestarts: boolean
  /** Working-set slope over the window, bytes per minute (within-lifetime Theil–Sen). */
  readonly slopeBytesPerMinute: number
  /** Shown level: no significant rise, and not even the slope's confidence bound carries 2% of the limit over a lifetime. False when undecided. */
  readonly plateau: boolean
  /** The highest working set in the window. */
  readonly peakBytes: number
  /** Pearson correlation of working set with request rate; null when there is no request-rate series. */
  readonly rpsCorrelation: number | null
}

/** The workload's HorizontalPodAutoscaler, if any. */
export interface HpaFacts {
  readonly name: string
  readonly minReplicas: number
  readonly maxReplicas: number
  readonly currentReplicas: number
  readonly resourceVersion: string
}

/** The last rollout of the workload. */
export interface DeployFacts {
  readonly revision: string
  readonly at: string
  readonly minutesAgo: number
  readonly changeCause: string | null
  /** Deployed less than 30 minutes before the signal: a deploy-regression candidate. */
  readonly regressionCandidate: boolean
}

/** An OOM marker found in the previous container's logs. */
export interface OomMarker {
  readonly runtime: "jvm" | "go" | "node" | "python"
  readonly line: string
}

/** Everything the k8s.oom.six-signal diagnoser learns. */
export interface OomFacts {
  readonly pod: PodFacts
  readonly runtimeHeap: RuntimeHeap | null
  readonly node: NodeFacts | null
  readonly workingSet: WorkingSetFacts
  readonly trend: TrendFacts
  readonly hpa: HpaFacts | null
  readonly lastDeploy: DeployFacts | null
  readonly oomMarkers: ReadonlyArray<OomMarker>
  /**
   * The owning workload as its own fact (null: a bare pod). It fails alone: an owner that cannot
   * be read (deleted, RBAC) is Unknown here while the pod's memory facts stay Known, and then
   * `pod.workload` is null. Absent when not probed (older recordings).
   */
  readonly owner?: PodFacts["workload"]
}

/** The classes, in the seed's order. */
export const classes = ["runtime_misconfig", "node_pressure", "genuine_memory_leak", "traffic_spike", "undersized_limit"] as const

/** One of the classes. */
export type OomClass = (typeof classes)[number]

/** Thresholds of the rules (every number in the seed is a default). */
export interface OomThresholds {
  /** node_pressure: the pod is healthy when its working set is below this share of its limit. Default 0.70. */
  readonly healthyWorkingSetRatio: number
  /** genuine_memory_leak: restarts the rising RSS must span. Default 3. */
  readonly leakMinRestarts: number
  /** traffic_spike at or above, "no traffic correlation" below. Default 0.7. */
  readonly trafficCorrelation: number
  /** undersized_limit: the plateau is at or above this share of the limit. Default 0.85. */
  readonly plateauRatio: number
  /** Matches below are escalated. Default 0.70. */
  readonly minConfidence: number
  /** The seed's confidences, overridable per class. */
  readonly confidences: Readonly<Record<OomClass, number>>
}

/** The seed's defaults. */
export const defaults: OomThresholds = {
  healthyWorkingSetRatio: 0.7,
  leakMinRestarts: 3,
  trafficCorrelation: 0.7,
  plateauRatio: 0.85,
  minConfidence: 0.7,
  confidences: {
    runtime_misconfig: 0.93,
    node_pressure: 0.88,
    genuine_memory_leak: 0.85,
    traffic_spike: 0.86,
    undersized_limit: 0.84
  }
}

const rule = Classifier.rule<OomFacts>()

/** The rules, in the seed's order. */
export const rules = (t: OomThresholds = defaults): ReadonlyArray<Classifier.Rule<OomFacts>> => [
  rule({
    class: "runtime_misconfig",
    confidence: t.confidences.runtime_misconfig,
    needs: ["pod", "runtimeHeap"],
    when: ({ pod, runtimeHeap }) => {
      const limit = pod.memoryLimitBytes
      const matched = runtimeHeap !== null && limit !== null && runtimeHeap.heapBytes > limit
      return {
        matched,
        reasons: matched
          ? [`${runtimeHeap!.setting} (${runtimeHeap!.variable}) allows a ${humanBytes(runtimeHeap!.heapBytes)} heap, above the ${humanBytes(limit!)} container limit`]
          : [],
        evidence: matched ? { setting: runtimeHeap!.setting, variable: runtimeHeap!.variable, heapBytes: runtimeHeap!.heapBytes, limitBytes: limit! } : {}
      }
    }
  }),
  rule({
    class: "node_pressure",
    confidence: t.confidences.node_pressure,
    needs: ["pod", "node", "workingSet"],
    when: ({ pod, node, workingSet }) => {
      const limit = pod.memoryLimitBytes
      const ratio = limit && workingSet.bytes !== null ? workingSet.bytes / limit : undefined
      // a container without a memory limit has no OOM of its own: only the node's memory (kernel
      // OOM or the kubelet's eviction) ends it, so the node facts decide
      const unlimited = limit === null
      const matched = node !== null && node.memoryPressure && (unlimited || (ratio !== undefined && ratio < t.healthyWorkingSetRatio))
      return {
        matched,
        reasons: matched
          ? [unlimited
            ? `node ${node!.name} reports MemoryPressure and the pod has no memory limit of its own (only node pressure can end it)`
            : `node ${node!.name} reports MemoryPressure while the pod uses ${(ratio! * 100).toFixed(0)}% of its limit (healthy: below ${(t.healthyWorkingSetRatio * 100).toFixed(0)}%)`]
          : [],
        evidence: matched ? { node: node!.name, workingSetBytes: workingSet.bytes, limitBytes: limit, ratio: ratio ?? null } : {}
      }
    }
  }),
  rule({
    class: "genuine_memory_leak",
    confidence: t.confidences.genuine_memory_leak,
    needs: ["trend"],
    when: ({ trend }) => {
      const uncorrelated = trend.rpsCorrelation === null || trend.rpsCorrelation < t.trafficCorrelation
      const matched = trend.risingAcrossRestarts && trend.restarts >= t.leakMinRestarts && uncorrelated
      return {
        matched,
        reasons: matched
          ? [`working set rises across ${trend.restarts} restarts with no traffic correlation (r=${trend.rpsCorrelation === null ? "n/a" : trend.rpsCorrelation.toFixed(2)})`]
          : [],
        evidence: matched ? { restarts: trend.restarts, rpsCorrelation: trend.rpsCorrelation, slopeBytesPerMinute: trend.slopeBytesPerMinute } : {}
      }
    }
  }),
  rule({
    class: "traffic_spike",
    confidence: t.confidences.traffic_spike,
    needs: ["trend"],
    when: ({ trend }) => {
      const matched = trend.rpsCorrelation !== null && trend.rpsCorrelation >= t.trafficCorrelation
      return {
        matched,
        reasons: matched ? [`working set follows the request rate (r=${trend.rpsCorrelation!.toFixed(2)})`] : [],
        evidence: matched ? { rpsCorrelation: trend.rpsCorrelation!, peakBytes: trend.peakBytes } : {}
      }
    }
  }),
  rule({
    class: "undersized_limit",
    confidence: t.confidences.undersized_limit,
    needs: ["pod", "trend"],
    when: ({ pod, trend }) => {
      const limit = pod.memoryLimitBytes
      const ratio = limit ? trend.peakBytes / limit : undefined
      const matched = trend.plateau && ratio !== undefined && ratio >= t.plateauRatio
      return {
        matched,
        reasons: matched ? [`working set plateaus at ${(ratio! * 100).toFixed(0)}% of the ${humanBytes(limit!)} limit with no trend`] : [],
        evidence: matched ? { peakBytes: trend.peakBytes, limitBytes: limit!, ratio: ratio! } : {}
      }
    }
  })
]

/**
 * Whether the facts show an OOM at all: an OOMKilled termination, node MemoryPressure, a
 * runtime OOM marker in the previous logs, or a working set at the limit. An exit 137 alone
 * (a liveness-probe or external SIGKILL) is not one.
 */
export const oomEvidence = (facts: Fact.Facts<OomFacts>): { readonly oom: boolean; readonly why: string } => {
  const pod = Fact.value(facts.pod)
  const node = Fact.value(facts.node)
  const markers = Fact.value(facts.oomMarkers) ?? []
  const ws = Fact.value(facts.workingSet)
  if (pod?.lastTermination?.reason === "OOMKilled") return { oom: true, why: "last termination reason OOMKilled" }
  if (node?.memoryPressure) return { oom: true, why: `node ${node.name} reports MemoryPressure` }
  if (markers.length > 0) return { oom: true, why: `${markers[0]!.runtime} OOM marker in previous logs` }
  if (ws && ws.bytes !== null && pod?.memoryLimitBytes && ws.bytes >= pod.memoryLimitBytes * 0.95) return { oom: true, why: "working set at the memory limit" }
  const t = pod?.lastTermination
  return {
    oom: false,
    why: t?.exitCode === 137
      ? `exit code 137 without reason OOMKilled (reason ${t.reason ?? "none"}): a liveness-probe or external kill, not an OOM`
      : "no OOMKilled termination, memory pressure, OOM marker or working set at the limit"
  }
}

/** The k8s.oom.six-signal classifier. */
export const classify = (t: OomThresholds = defaults): Classifier.Classifier<OomFacts> => {
  const firstMatch = Classifier.firstMatch(rules(t), { minConfidence: t.minConfidence })
  return (facts) => {
    const evidence = oomEvidence(facts)
    // Only a known pod can tell us it was not an OOM; with the pod Unknown the rules decide (Indeterminate).
    if (!evidence.oom && facts.pod._tag === "Known") return Classification.unclassified([evidence.why])
    return firstMatch(facts)
  }
}

const num = (key: string, dflt: number) => Settings.probability(key).pipe(Config.withDefault(dflt))
const count = (key: string, dflt: number) => Settings.positiveInt(key).pipe(Config.withDefault(dflt))

/**
 * The thresholds from configuration (every key optional, defaults from the seed):
 * `BYTEPORT_OOM_HEALTHY_RATIO` (0.70), `BYTEPORT_OOM_LEAK_MIN_RESTARTS` (3),
 * `BYTEPORT_OOM_TRAFFIC_CORRELATION` (0.70), `BYTEPORT_OOM_PLATEAU_RATIO` (0.85),
 * `BYTEPORT_OOM_MIN_CONFIDENCE` (0.70) and one confidence per class:
 * `BYTEPORT_OOM_CONFIDENCE_RUNTIME_MISCONFIG` (0.93), `…_NODE_PRESSURE` (0.88),
 * `…_GENUINE_MEMORY_LEAK` (0.85), `…_TRAFFIC_SPIKE` (0.86), `…_UNDERSIZED_LIMIT` (0.84).
 */
export const thresholdsConfig: Effect.Effect<OomThresholds, Config.ConfigError> = Effect.gen(function*() {
  const confidences = {} as Record<OomClass, number>
  for (const c of classes) confidences[c] = yield* num(`BYTEPORT_OOM_CONFIDENCE_${c.toUpperCase()}`, defaults.confidences[c])
  return {
    healthyWorkingSetRatio: yield* num("BYTEPORT_OOM_HEALTHY_RATIO", defaults.healthyWorkingSetRatio),
    leakMinRestarts: yield* count("BYTEPORT_OOM_LEAK_MIN_RESTARTS", defaults.leakMinRestarts),
    trafficCorrelation: yield* num("BYTEPORT_OOM_TRAFFIC_CORRELATION", defaults.trafficCorrelation),
    plateauRatio: yield* num("BYTEPORT_OOM_PLATEAU_RATIO", defaults.plateauRatio),
    minConfidence: yield* num("BYTEPORT_OOM_MIN_CONFIDENCE", defaults.minConfidence),
    confidences
  }
})
