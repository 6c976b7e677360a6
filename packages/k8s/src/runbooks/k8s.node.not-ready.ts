/**
 * k8s.node.not-ready — "Detect: poll NodeCondition transitions via kubectl; pull kubelet systemd
 * status (systemctl is-active/is-failed); read recent kernel messages (journalctl -k) for
 * OOM/hardware errors" (family `k8s.node`, ranked before k8s.node.pressure-drain).
 *
 * - **Detect**: `detectors/nodeNotReady.ts` — Ready False/Unknown ≥ 60 s (node informer), then
 *   kubelet is-active/is-failed and the kernel log through the node's Shell.
 * - **Diagnose** (concurrent, each probe with a timeout): describe node (conditions, allocatable
 *   vs capacity, taints, events), kubelet unit, kernel log, kubelet journal (30 min, 200 lines),
 *   containerd/crio unit, `df -B1`, `df -i`, file-nr, `crictl images`, and the node's CNI pod.
 *   Without a `NodeShell`, or when a command fails, is refused or times out, the host facts are
 *   Unknown: the classifier is Indeterminate and the incident escalates — never a restart on a guess.
 * - **Classify**: `classifiers/nodeNotReady.ts` (the seed's order and confidences).
 * - **Remediate**: `remediators/nodeNotReady.ts`, cordon first; the guardrails live on the action
 *   kinds (`actions/restartNodeUnit.ts`, `pruneNodeImages.ts`, `deleteEvictedPods.ts`,
 *   `recreateCniPod.ts`, and the existing cordon/drain).
 * - **Verify**: `verifiers/nodeNotReady.ts`, held 5 minutes (every 30 s), retried once at 15 s;
 *   core escalates a double failure.
 *
 * @example
 * ```ts
 * const runbook = yield* NodeNotReady.fromConfig()
 * const registry = ActionRegistry.layer({ handlers: NodeNotReady.handlers(), checks: NodeNotReady.checks() })
 * // provide NodeShell.layer((node) => mySshShell(node)) to the registry and the runbook
 * ```
 *
 * @since 0.2.0
 */
import type { V1Pod } from "@kubernetes/client-node"
import { type ActionHandler, type Check, Classification, Detector, Diagnoser, Fact, Runbook, Settings, type Signal } from "@byteport/core"
import type { Shell } from "@byteport/core/shell"
import { Config, ConfigProvider, type Duration, Effect } from "effect"
import * as DeleteEvictedPods from "../actions/deleteEvictedPods"
import * as NodeActions from "../actions/node"
import * as RequestNodeReplacement from "../actions/requestNodeReplacement"
import * as PruneNodeImages from "../actions/pruneNodeImages"
import * as RecreateCniPod from "../actions/recreateCniPod"
import * as RestartNodeUnit from "../actions/restartNodeUnit"
import { type ActionSettings, defaults as actionDefaults } from "../actions/settings"
import * as Classifier from "../classifiers/nodeNotReady"
import * as NotReadyDetector from "../detectors/nodeNotReady"
import type { EventRecorder } from "../events/EventRecorder"
import { Kube } from "../Kube"
import * as NodeDescribe from "../probes/nodeDescribe"
import * as NodeHost from "../probes/nodeHost"
import * as Remediator from "../remediators/nodeNotReady"
import * as Verifiers from "../verifiers/nodeNotReady"
import * as NodeGuards from "../guardrails/nodeGuards"

/** The runbook id. */
export const ID = "k8s.node.not-ready"

/** The facts of the runbook: the classifier's plus the node's CNI pod. */
export type Facts = Remediator.PlanFacts

/** Everything configurable. */
export interface Options {
  readonly thresholds?: Classifier.NodeNotReadyThresholds
  readonly remediation?: Remediator.NodeRemediation
  readonly verify?: Verifiers.VerifySettings
  readonly host?: NodeHost.HostProbeOptions
  /** Ready False/Unknown this long before a signal (default 60 s, `BYTEPORT_NODE_NOT_READY_SECONDS`). */
  readonly notReadySeconds?: number
  /** The CNI plugins recognised on a node (default flannel, calico, cilium, weave). */
  readonly cniPlugins?: ReadonlyArray<RecreateCniPod.CniPlugin>
  /** Per-probe timeout (default 15 s). */
  readonly probeTimeout?: Duration.Input
  /** The mode when BYTEPORT_MODE_K8S_NODE_NOT_READY / BYTEPORT_MODE say nothing (default dry_run). */
  readonly defaultMode?: "observe" | "dry_run" | "auto"
}

/** The node a signal is about (`evidence.node`, else the target's last segment). */
export const nodeOf = (signal: Signal.Signal): string => {
  const n = signal.evidence["node"]
  return typeof n === "string" && n.length > 0 ? n : signal.target.ref.split("/").pop() ?? ""
}

/** The node's CNI pod (null: none), from the pods on the node. */
export const cniPodProbe = (node: string, plugins: ReadonlyArray<RecreateCniPod.CniPlugin> = RecreateCniPod.defaultPlugins) =>
  Effect.flatMap(Kube, (kube) => Effect.map(kube.listPods({ fieldSelector: `spec.nodeName=${node}` }), (pods) => RecreateCniPod.findCniPod(pods as ReadonlyArray<V1Pod>, plugins)))

/** Where the diagnoser's probes get the node, its Shell and its CNI pod. */
export interface Sources<R> {
  readonly node: (signal: Signal.Signal) => Effect.Effect<Classifier.NodeDescription, unknown, R>
  readonly shell: (signal: Signal.Signal) => Effect.Effect<Shell.ShellShape, unknown, R>
  readonly cniPod: (signal: Signal.Signal) => Effect.Effect<Remediator.CniPodFacts, unknown, R>
}

/** The diagnoser over any sources (the live cluster, or a recording): every probe concurrent, each with a timeout. */
export const diagnoseWith = <R>(src: Sources<R>, o: Options = {}): Diagnoser.Diagnoser<Facts, R> => {
  const h = o.host ?? {}
  const host = <A>(name: string, f: (shell: Shell.ShellShape) => Effect.Effect<A, unknown>) =>
    Diagnoser.probe<A, R>(name, (signal) => Effect.flatMap(src.shell(signal), f))
  return Diagnoser.make<Facts, R>({
    node: Diagnoser.probe("describe node", src.node),
    kubelet: host("kubelet unit (systemctl is-active/is-failed/show)", (sh) => NodeHost.kubelet(sh, h)),
    kernel: host("kernel log (journalctl -k)", (sh) => NodeHost.kernel(sh, h)),
    kubeletJournal: host("kubelet journal (30 min, 200 lines)", (sh) => NodeHost.kubeletJournal(sh, h)),
    runtime: host("container runtime unit (containerd/crio)", (sh) => NodeHost.runtime(sh, h)),
    disk: host("disk usage (df -P -B1)", (sh) => NodeHost.disk(sh, h)),
    inodes: host("inodes (df -P -i)", (sh) => NodeHost.inodes(sh, h)),
    fileNr: host("file handles (/proc/sys/fs/file-nr)", (sh) => NodeHost.fileNr(sh, h)),
    images: host("image usage (crictl images)", (sh) => NodeHost.images(sh, h)),
    cniPod: Diagnoser.probe("CNI pod on the node", src.cniPod)
  }, { timeout: o.probeTimeout ?? "15 seconds" })
}

/** The k8s.node.not-ready diagnoser on the live cluster: Kube for the node and its pods, `NodeShell` (when provided) for the host. */
export const diagnose = (o: Options = {}): Diagnoser.Diagnoser<Facts, Kube> =>
  diagnoseWith<Kube>({
    node: (signal) => NodeDescribe.probe(nodeOf(signal)),
    shell: (signal) => NodeHost.shellFor(nodeOf(signal)),
    cniPod: (signal) => cniPodProbe(nodeOf(signal), o.cniPlugins)
  }, o)

/** A recording: `kubectl get node -o json` (and its Events), a Shell answering the node's commands (none: Unknown), the CNI pod. */
export interface Recording {
  readonly node: NodeDescribe.NodeJson
  readonly events?: ReadonlyArray<NodeDescribe.NodeEventJson>
  readonly shell: Shell.ShellShape | undefined
  readonly cniPod: Remediator.CniPodFacts
}

/** The diagnoser over a recording (golden tests, `replay`): no cluster, no node reached. */
export const diagnoseRecorded = (rec: Recording, o: Options = {}): Diagnoser.Diagnoser<Facts> =>
  diagnoseWith<never>({
    node: () => Effect.succeed(NodeDescribe.describe(rec.node, rec.events ?? [])),
    shell: () => (rec.shell ? Effect.succeed(rec.shell) : Effect.fail(new NodeHost.HostCommandFailed(`no NodeShell reaches node ${rec.node.metadata.name}: node facts are Unknown`))),
    cniPod: () => Effect.succeed(rec.cniPod)
  }, o)

/** The four node action kinds of this runbook (with `NodeActions.handlers()` for cordon, drain, uncordon and replacement: `handlers()` does). */
export const nodeHandlers = (): ReadonlyArray<ActionHandler.ActionHandler<Kube | EventRecorder>> => [
  RestartNodeUnit.make(),
  PruneNodeImages.make(),
  DeleteEvictedPods.make(),
  RecreateCniPod.make()
]

/** Every handler the plans use: the node handlers (cordon, drain, uncordon, replacement reservation, with their guards) and the four node kinds. */
export const handlers = (
  guards: NodeGuards.NodeGuardSettings = NodeGuards.defaults,
  s: ActionSettings = actionDefaults
): ReadonlyArray<ActionHandler.ActionHandler<Kube | EventRecorder>> => [
  ...NodeActions.handlers(guards, s),
  ...nodeHandlers()
]

/** The checks the plans use (`k8s.node.healthy`, `k8s.node.memory-below`). */
export const checks = (): ReadonlyArray<Check.Check<Kube>> => Verifiers.checks()

/** Suggested next steps. */
export const nextSteps = (c: Classification.Classification, facts: Fact.Facts<Facts>): ReadonlyArray<string> => {
  const node = Fact.value(facts.node)?.name ?? "the node"
  const steps = [...Remediator.nextStepsFor(Classification.className(c), node)]
  const unknown = Fact.unknownKeys(facts)
  if (unknown.length) steps.push(`node facts unknown (${unknown.join(", ")}): provide a NodeShell that reaches ${node}, or check it by hand`)
  return steps
}

/** Builds the runbook. */
export const make = (o: Options = {}): Runbook.Runbook<Facts, Kube> => {
  const remediation = o.remediation ?? Remediator.defaults
  return Runbook.make<Facts, Kube>({
    id: ID,
    family: "k8s.node",
    description: "Detects NotReady nodes, classifies the cause across 7 classes from kubelet, runtime, kernel, disk and CNI facts, cordons and repairs in place (kubelet/runtime restart, image prune, CNI pod recreation), escalates hardware failures",
    signals: [NotReadyDetector.SIGNAL],
    precedence: 20,
    detector: Detector.merge(ID, [NotReadyDetector.make({ notReadySeconds: o.notReadySeconds })]),
    diagnose: diagnose(o),
    classify: Classifier.classify(o.thresholds),
    remediate: (c, facts, signal) => Effect.succeed(Remediator.plan(c, facts, signal, remediation)),
    verify: Verifiers.verify(),
    verifySchedule: Verifiers.schedule(o.verify),
    nextSteps,
    ticket: (c) => c._tag === "Classified" && c.class === "hardware_cloud_failure",
    defaultMode: o.defaultMode ?? "dry_run",
    leaseTtl: "1 hour",
    cooldown: "10 minutes"
  })
}

const positiveInt = (key: string, dflt: number) => Settings.positiveInt(key).pipe(Config.withDefault(dflt))
const positive = (key: string, dflt: number) => Settings.positiveNumber(key).pipe(Config.withDefault(dflt))

/**
 * The runbook from configuration: the classifier's `BYTEPORT_NODE_NOT_READY_*` thresholds (see
 * `classifiers/nodeNotReady.ts`), `BYTEPORT_NODE_NOT_READY_SECONDS` (60),
 * `BYTEPORT_AUTO_REPLACE_NODES` (false; a non-boolean fails at start), the uncordon's
 * `BYTEPORT_NODE_HEALTHY_DELAY_SECONDS` (300) and `BYTEPORT_NODE_RECOVERY_TIMEOUT_SECONDS` (1800),
 * `BYTEPORT_NODE_NOT_READY_MEMORY_REPLACE_RATIO` (0.95), `BYTEPORT_NODE_NOT_READY_DRAIN_TIMEOUT_SECONDS`
 * (300), `BYTEPORT_NODE_NOT_READY_READY_TIMEOUT_SECONDS` (300),
 * `BYTEPORT_NODE_NOT_READY_VERIFY_WINDOW_SECONDS` (300), `…_VERIFY_POLL_SECONDS` (30),
 * `…_VERIFY_RETRY_SECONDS` (15). The mode is core's `BYTEPORT_MODE_K8S_NODE_NOT_READY`.
 */
export const fromConfig = (o: Options = {}): Effect.Effect<Runbook.Runbook<Facts, Kube>, Config.ConfigError> =>
  Effect.gen(function*() {
    const verify = {
      windowSeconds: yield* positiveInt("BYTEPORT_NODE_NOT_READY_VERIFY_WINDOW_SECONDS", Verifiers.defaults.windowSeconds),
      pollSeconds: yield* positiveInt("BYTEPORT_NODE_NOT_READY_VERIFY_POLL_SECONDS", Verifiers.defaults.pollSeconds),
      retrySeconds: yield* positiveInt("BYTEPORT_NODE_NOT_READY_VERIFY_RETRY_SECONDS", Verifiers.defaults.retrySeconds)
    }
    if (verify.windowSeconds < verify.pollSeconds) {
      return yield* Effect.fail(
        new Config.ConfigError(
          new ConfigProvider.SourceError({
            message: `BYTEPORT_NODE_NOT_READY_VERIFY_WINDOW_SECONDS (${verify.windowSeconds}) must be at least BYTEPORT_NODE_NOT_READY_VERIFY_POLL_SECONDS (${verify.pollSeconds})`
          })
        )
      )
    }
    const guards = yield* NodeGuards.fromConfig
    return make({
      ...o,
      thresholds: yield* Classifier.thresholdsConfig,
      notReadySeconds: yield* positive("BYTEPORT_NODE_NOT_READY_SECONDS", 60),
      remediation: {
        ...Remediator.defaults,
        ...o.remediation,
        autoReplaceNodes: yield* RequestNodeReplacement.autoReplaceConfig,
        healthyDelaySeconds: guards.healthyDelaySeconds,
        recoveryTimeoutSeconds: guards.recoveryTimeoutSeconds,
        memoryReplaceRatio: yield* Settings.ratio("BYTEPORT_NODE_NOT_READY_MEMORY_REPLACE_RATIO").pipe(Config.withDefault(Remediator.defaults.memoryReplaceRatio)),
        drainTimeoutSeconds: yield* positive("BYTEPORT_NODE_NOT_READY_DRAIN_TIMEOUT_SECONDS", Remediator.defaults.drainTimeoutSeconds),
        readyTimeoutSeconds: yield* positive("BYTEPORT_NODE_NOT_READY_READY_TIMEOUT_SECONDS", Remediator.defaults.readyTimeoutSeconds)
      },
      verify
    })
  })
