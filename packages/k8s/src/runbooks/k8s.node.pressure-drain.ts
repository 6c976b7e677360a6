/**
 * k8s.node.pressure-drain — "Detects Kubernetes nodes entering NotReady, MemoryPressure,
 * DiskPressure, or PIDPressure state and coordinates a safe node drain — cordoning the node,
 * allowing graceful pod termination, and restoring schedulability once the node recovers."
 *
 * - **Detect**: `detectors/nodeConditions.ts` (node informer; NotReady ≥ 60 s; a node storm is
 *   one signal).
 * - **Diagnose**: the node (conditions, cordon and its owner, control plane, providerID) and the
 *   cluster's unavailable nodes; no node commands.
 * - **Classify**: `classifiers/nodePressure.ts` (node_not_ready, memory_pressure, disk_pressure,
 *   pid_pressure, in the seed's order).
 * - **Remediate**: cordon → graceful drain → uncordon once Ready and pressure-free for the healthy
 *   delay (`remediators/nodePressure.ts`); the guardrails live on the node action kinds.
 * - **Verify**: `verifiers/nodePressure.ts`, held for 5 minutes.
 *
 * Family `k8s.node` (k8s.node.not-ready ranks first and is the family's default). MemoryPressure
 * is also k8s.oom.six-signal's signal: its precedence (10) outranks this runbook's (40), so with
 * both enabled the OOM runbook handles MemoryPressure and this one NotReady, DiskPressure and
 * PIDPressure.
 *
 * @since 0.2.0
 */
import { type Classification, Detector, Diagnoser, Fact, Runbook, Settings } from "@byteport/core"
import { Config, Duration, Effect } from "effect"
import * as NodeClassifier from "../classifiers/nodePressure"
import type { PressureFacts } from "../classifiers/nodePressure"
import * as NodeConditions from "../detectors/nodeConditions"
import { NodeSignalTypes } from "../detectors/nodeConditions"
import * as NodeGuards from "../guardrails/nodeGuards"
import { Kube } from "../Kube"
import * as Remediator from "../remediators/nodePressure"
import * as NodeVerifier from "../verifiers/nodePressure"

/** The runbook id. */
export const ID = "k8s.node.pressure-drain"

/** Its precedence: after k8s.oom.six-signal (10), so the OOM runbook keeps MemoryPressure. */
export const PRECEDENCE = 40

/** Everything configurable. */
export interface Options {
  readonly remediation?: Remediator.PressureRemediation
  readonly verify?: NodeVerifier.VerifySettings
  readonly detector?: NodeConditions.Options
  /** Per-probe timeout (default 10 s). */
  readonly probeTimeout?: Duration.Input
  /** The mode when BYTEPORT_MODE_K8S_NODE_PRESSURE_DRAIN / BYTEPORT_MODE say nothing (default dry_run). */
  readonly defaultMode?: "observe" | "dry_run" | "auto"
  /** Override the precedence (default 40). */
  readonly precedence?: number
}

/** The node a signal names (`evidence.node`, else the target's last segment). */
export const nodeOf = (signal: { readonly evidence: Record<string, unknown>; readonly target: { readonly ref: string } }): string =>
  typeof signal.evidence["node"] === "string" ? signal.evidence["node"] : signal.target.ref.split("/").pop()!

/** The diagnoser: the node and the cluster's unavailable nodes, concurrently, each with a timeout. */
export const diagnose = (o: Options = {}): Diagnoser.Diagnoser<PressureFacts, Kube> =>
  Diagnoser.make<PressureFacts, Kube>({
    node: Diagnoser.probe("describe node", (signal) => Effect.flatMap(Kube, (k) => Effect.map(k.getNode(nodeOf(signal)), NodeClassifier.nodeState))),
    cluster: Diagnoser.probe("cluster nodes", () => Effect.flatMap(Kube, (k) => Effect.map(k.listNodes(), NodeClassifier.clusterState)))
  }, { timeout: o.probeTimeout ?? "10 seconds" })

/** Suggested next steps. */
export const nextSteps = (c: Classification.Classification, facts: Fact.Facts<PressureFacts>): ReadonlyArray<string> => {
  const node = Fact.value(facts.node)
  const cluster = Fact.value(facts.cluster)
  const steps: Array<string> = []
  if (cluster && cluster.unavailable.length > 1) steps.push(`several nodes are unavailable (${cluster.unavailable.join(", ")}): look for a common cause (network, cloud zone, a bad rollout of node config)`)
  if (node) {
    steps.push(`kubectl describe node ${node.name}; check the kubelet and the container runtime on it`)
    if (node.cordoned) steps.push(`${node.name} is cordoned${node.cordonedBy ? ` by BytePort incident ${node.cordonedBy}` : ""}: uncordon it by hand once it is healthy (kubectl uncordon ${node.name})`)
  }
  if (c._tag !== "Classified") steps.push("the node showed no NotReady or pressure condition at diagnosis: check whether it flapped")
  return steps
}

/** Builds the runbook. */
export const make = (o: Options = {}): Runbook.Runbook<PressureFacts, Kube> => {
  const remediation = o.remediation ?? Remediator.defaults
  return Runbook.make<PressureFacts, Kube>({
    id: ID,
    family: "k8s.node",
    description: "Detects nodes in NotReady, MemoryPressure, DiskPressure or PIDPressure; cordons, drains gracefully and uncordons once the node has recovered",
    signals: [NodeSignalTypes.notReady, NodeSignalTypes.memoryPressure, NodeSignalTypes.diskPressure, NodeSignalTypes.pidPressure],
    precedence: o.precedence ?? PRECEDENCE,
    detector: Detector.merge(ID, [NodeConditions.make({ name: "k8s.node.pressure-drain.conditions", ...o.detector })]),
    diagnose: diagnose(o),
    classify: NodeClassifier.classify(),
    remediate: (c, facts, signal) => Effect.succeed(Remediator.plan(c, facts, signal, remediation)),
    verify: NodeVerifier.verify(),
    verifySchedule: NodeVerifier.schedule(o.verify),
    nextSteps,
    defaultMode: o.defaultMode ?? "dry_run",
    // cordon + drain (300 s) + recovery (30 min) + verification (5 min), with room to spare
    leaseTtl: Duration.seconds(remediation.drainTimeoutSeconds + remediation.recoveryTimeoutSeconds + remediation.healthyDelaySeconds + 1800),
    cooldown: "5 minutes",
    config: [NodeGuards.fromConfig, configOf]
  })
}

const configOf = Effect.gen(function*() {
  const guards = yield* NodeGuards.fromConfig
  return {
    drainTimeoutSeconds: yield* Settings.positiveNumber("BYTEPORT_NODE_DRAIN_TIMEOUT_SECONDS").pipe(Config.withDefault(Remediator.defaults.drainTimeoutSeconds)),
    deleteEmptyDirData: yield* Settings.boolean("BYTEPORT_NODE_DRAIN_DELETE_EMPTYDIR_DATA").pipe(Config.withDefault(false)),
    healthyDelaySeconds: guards.healthyDelaySeconds,
    recoveryTimeoutSeconds: guards.recoveryTimeoutSeconds,
    pollSeconds: guards.pollSeconds
  } satisfies Remediator.PressureRemediation
})

/**
 * The runbook from configuration: `BYTEPORT_NODE_DRAIN_TIMEOUT_SECONDS` (300),
 * `BYTEPORT_NODE_DRAIN_DELETE_EMPTYDIR_DATA` (false), `BYTEPORT_NODE_HEALTHY_DELAY_SECONDS` (300),
 * `BYTEPORT_NODE_RECOVERY_TIMEOUT_SECONDS` (1800), `BYTEPORT_MAX_UNAVAILABLE_NODES` ("10%", also
 * the detector's storm threshold). The action kinds read `BYTEPORT_MAX_CORDONED_NODES` through
 * `NodeGuards.fromConfig` (give its result to `NodeActions.handlers`). The mode is core's
 * `BYTEPORT_MODE_K8S_NODE_PRESSURE_DRAIN`.
 */
export const fromConfig = (o: Options = {}): Effect.Effect<Runbook.Runbook<PressureFacts, Kube>, Config.ConfigError> =>
  Effect.gen(function*() {
    const guards = yield* NodeGuards.fromConfig
    return make({ ...o, remediation: yield* configOf, detector: { maxUnavailableNodes: guards.maxUnavailableNodes, ...o.detector } })
  })
