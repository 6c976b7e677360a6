/**
 * @byteport/k8s — BytePort for Kubernetes: the Kube service over @kubernetes/client-node,
 * informer detectors, workload targets, Kubernetes Events, the Lease GuardrailStore, metrics,
 * the Restarter, and the Kubernetes runbooks.
 *
 * @since 0.1.0
 */

/** The Kube service (typed API access, layers from kubeconfig / in-cluster). */
export * as Kube from "./Kube"
/** Typed Kubernetes API errors decoded from Status bodies. */
export * as KubeError from "./KubeError"
/** Patches with an explicit content type and a precondition. */
export * as KubePatch from "./KubePatch"
/** Watchable resources for informers. */
export * as Resource from "./informers/Resource"
/** Supervised informers as Streams. */
export * as Informer from "./informers/Informer"
/** Shared informers: one list+watch per kind per cluster, a cache for probes. */
export * as Informers from "./informers/Informers"
/** Label and field selectors evaluated on the client. */
export * as Selectors from "./informers/Selectors"
/** Informer-based core Detectors. */
export * as K8sDetector from "./informers/K8sDetector"
/** Kubernetes TargetRefs: workloads, pods, nodes. */
export * as Targets from "./targets/Targets"
/** Resolving a pod to its workload (ReplicaSet → Deployment, Job → CronJob …). */
export * as TargetResolver from "./targets/resolve"
/** Kubernetes Events on the objects BytePort acts on. */
export * as EventRecorder from "./events/EventRecorder"
/** A GuardrailStore on coordination.k8s.io/v1 Leases. */
export * as LeaseStore from "./stores/LeaseStore"
/** The Prometheus HTTP API client (BYTEPORT_PROMETHEUS_URL). */
export * as Prometheus from "./metrics/Prometheus"
/** The Metrics service: Prometheus or metrics-server. */
export * as Metrics from "./metrics/Metrics"
/** The `k8s.rolloutRestart` action handler and its guardrails. */
export * as RolloutRestart from "./actions/rolloutRestart"
/** Rollout restarts requested through the IncidentBus (`k8s.handoff.rollout-restart`). */
export * as Restarter from "./restarter/Restarter"
/** Kubernetes resource quantities ("512Mi") to numbers and back. */
export * as Quantity from "./Quantity"
/** k8s.oom.six-signal: facts, thresholds and the seed's first-match classifier. */
export * as OomClassifier from "./classifiers/oom"
/** k8s.oom.six-signal: the per-class plans. */
export * as OomRemediator from "./remediators/oom"
/** Signal types of the OOM detectors and pod → Signal. */
export * as OomSignals from "./detectors/signals"
/** Signal: containers terminated with reason OOMKilled (pod informer). */
export * as OomKilledDetector from "./detectors/oomKilled"
/** Signal: node MemoryPressure (node informer). */
export * as MemoryPressureDetector from "./detectors/memoryPressure"
/** Signal: restart growth (pod informer). */
export * as RestartGrowthDetector from "./detectors/restartGrowth"
/** Signal: metrics-server working set at a share of the limit (poll). */
export * as WorkingSetHighDetector from "./detectors/workingSetHigh"
/** Signal: runtime OOM markers (JVM, V8, Go, Python) in the log of a non-OOMKilled termination (pod informer). */
export * as RuntimeOomMarkerDetector from "./detectors/runtimeOomMarker"
/** Wire-JSON schemas of the objects the OOM probes read. */
export * as OomWire from "./probes/wire"
/** Probe: describe pod → PodFacts (secret-like env dropped). */
export * as PodFactsProbe from "./probes/podFacts"
/** Probe: the pod's node → NodeFacts. */
export * as NodeFactsProbe from "./probes/nodeFacts"
/** Probe: metrics-server working set vs limit. */
export * as WorkingSetProbe from "./probes/workingSet"
/** Probe: HPA discovery. */
export * as HpaProbe from "./probes/hpa"
/** Probe: last deploy (revision, time, regression candidate). */
export * as LastDeployProbe from "./probes/lastDeploy"
/** Probe: JVM/Go/Node OOM markers in previous logs. */
export * as OomMarkersProbe from "./probes/oomMarkers"
/** Probe: runtime heap ceilings from env (-Xmx, GOMEMLIMIT, --max-old-space-size). */
export * as RuntimeHeap from "./probes/runtimeHeap"
/** Probe: the Prometheus memory trend (runs, slope, plateau, RPS correlation). */
export * as MemoryTrend from "./probes/memoryTrend"
/** Settings of the OOM action kinds (BYTEPORT_OOM_*). */
export * as OomActionSettings from "./actions/settings"
/** The five OOM action handlers. */
export * as OomActions from "./actions/oom"
/** `k8s.patchMemoryLimit` and its guardrails. */
export * as PatchMemoryLimit from "./actions/patchMemoryLimit"
/** `k8s.raiseHpaMinReplicas` and its guardrail. */
export * as RaiseHpaMinReplicas from "./actions/raiseHpaMinReplicas"
/** `k8s.cordonNode`. */
export * as CordonNode from "./actions/cordonNode"
/** `k8s.drainNode` (PDB-aware, DaemonSets ignored). */
export * as DrainNode from "./actions/drainNode"
/** `k8s.captureHeapProfile`. */
export * as CaptureHeapProfile from "./actions/captureHeapProfile"
/** Heap profilers (pprof over HTTP; "not captured: why" otherwise). */
export * as HeapProfiler from "./actions/heapProfiler"
/** Verifiers of the OOM fixes. */
export * as OomVerifiers from "./verifiers/oom"
/** The k8s.oom.six-signal runbook. */
export * as OomSixSignal from "./runbooks/k8s.oom.six-signal"
/** What the pod-family action kinds share (container targets, conditional template patches). */
export * as PodWorkload from "./actions/podWorkload"
/** `k8s.loosenProbe`: doubles the failing part of a liveness budget (never changes a handler). */
export * as LoosenProbe from "./actions/loosenProbe"
/** `k8s.restartPod`: deletes one not-Ready controlled pod (uid precondition). */
export * as RestartPod from "./actions/restartPod"
/** ConfigMap snapshots in BytePort's namespace (opt-in). */
export * as ConfigMapSnapshots from "./actions/configMapSnapshots"
/** `k8s.restoreConfigMap`: re-creates a deleted ConfigMap from its snapshot (create only). */
export * as RestoreConfigMap from "./actions/restoreConfigMap"
/** `k8s.setDebugLogging`: declared debug logging with a journaled timed undo. */
export * as SetDebugLogging from "./actions/setDebugLogging"
/** `k8s.pinImageDigest`: image → repo@sha256 of the last good imageID (rollback budget). */
export * as PinImageDigest from "./actions/pinImageDigest"
/** "Never delete PersistentVolumes", enforced in the registry for every handler. */
export * as NeverDeleteVolumes from "./guardrails/neverDeleteVolumes"
/** NodeShell: node name → the Shell of its host (`none`, `layer`, `fromShell`, `viaExec` through a hostPID DaemonSet pod). */
export * as NodeShell from "./node/NodeShell"
/** The pod runbook families, their ids and catalog precedence (`k8s.oom`, `k8s.image-pull`/`k8s.pending`, `k8s.crashloop`). */
export * as Families from "./runbooks/families"
/** Which target an action kind leases (container or workload) and `never_touch_bare_pod`. */
export * as Leases from "./targets/leases"
/** Signal types and evidence schemas of the pod-family detectors. */
export * as PodSignals from "./detectors/podSignals"
/** Signal: CrashLoopBackOff (pod informer). */
export * as CrashLoopDetector from "./detectors/crashLoop"
/** Signal: ≥3 restarts in 10 minutes (pod informer, configurable). */
export * as RestartLoopDetector from "./detectors/restarts"
/** Signal: ErrImagePull / ImagePullBackOff (pod informer). */
export * as ImagePullDetector from "./detectors/imagePull"
/** Signal: CreateContainerConfigError (pod informer). */
export * as ConfigErrorDetector from "./detectors/configError"
/** Signal: Init:* failures (pod informer). */
export * as InitFailureDetector from "./detectors/initFailure"
/** Signal: kubelet evictions (pod informer). */
export * as EvictedDetector from "./detectors/evicted"
/** Signal: unscheduled pods Pending > 5 minutes (pod, Event and ReplicaSet informers). */
export * as PendingDetector from "./detectors/pending"
/** Wire-JSON schema of a Pod as the pod-family probes read it. */
export * as PodWire from "./probes/podWire"
/** Events about a pod in core/v1 and events.k8s.io/v1 shapes, normalised. */
export * as PodEvents from "./probes/events"
/** Parsers of kubelet and runtime messages (back-off, probes, exit codes, config errors, pulls). */
export * as PodMessages from "./probes/messages"
/** The scheduler's FailedScheduling message: per-reason node counts and the preemption suffix. */
export * as Scheduling from "./probes/scheduling"
/** Redacted previous container logs (Unknown when gone). */
export * as PodLogs from "./probes/podLogs"
/** Image IDs per container and restart; re-pushed tags; digest pins. */
export * as ImageIds from "./probes/imageIds"
/** Node guardrails: BytePort cordon slots per cluster, max unavailable nodes, control plane, foreign cordons. */
export * as NodeGuards from "./guardrails/nodeGuards"
/** `k8s.uncordonNode`: only a node BytePort still owns, after the healthy delay. */
export * as UncordonNode from "./actions/uncordonNode"
/** `k8s.requestNodeReplacement`: the guarded reservation before a node-replacement hand-off. */
export * as RequestNodeReplacement from "./actions/requestNodeReplacement"
/** The node action handlers (cordon, drain, uncordon, replacement reservation). */
export * as NodeActions from "./actions/node"
/** The node-replacement remediation step (reservation + awaited hand-off), shared by the node runbooks. */
export * as NodeReplacement from "./remediators/nodeReplacement"
/** Signals: node NotReady, MemoryPressure, DiskPressure, PIDPressure (node informer; storms collapsed). */
export * as NodeConditionsDetector from "./detectors/nodeConditions"
/** k8s.node.pressure-drain: facts and classifier. */
export * as NodePressureClassifier from "./classifiers/nodePressure"
/** k8s.node.pressure-drain: cordon → drain → uncordon plan. */
export * as NodePressureRemediator from "./remediators/nodePressure"
/** k8s.node.pressure-drain: the held verifier. */
export * as NodePressureVerifier from "./verifiers/nodePressure"
/** The k8s.node.pressure-drain runbook. */
export * as NodePressureDrain from "./runbooks/k8s.node.pressure-drain"
/** `k8s.rollbackDeployment`: `rollout undo --to-revision=N` as a conditional JSON patch (1 per workload per hour, never without a last-good revision, never paused). */
export * as RollbackDeployment from "./actions/rollbackDeployment"
/** What BytePort saw of each Deployment's rollouts (revisions seen fully Available). */
export * as RolloutLedger from "./probes/rolloutLedger"
/** Facts of k8s.deploy.failed-rollout: history, last-good, template diff, attribution, per-revision traffic, canary burn. */
export * as RolloutFacts from "./probes/rolloutFacts"
/** The 5 failed-rollout signals (rollout_stuck, readiness, 5xx, health regression, canary burn). */
export * as RolloutDetector from "./detectors/rollout"
/** The failed-rollout classifier (seed order and confidences). */
export * as RolloutClassifier from "./classifiers/rollout"
/** The failed-rollout plans (rollback or escalate). */
export * as RolloutRemediator from "./remediators/rollout"
/** The rollback verifier (held 5 min, retried once at 60 s). */
export * as RolloutVerifier from "./verifiers/rollout"
/** The k8s.deploy.failed-rollout runbook. */
export * as FailedRollout from "./runbooks/k8s.deploy.failed-rollout"
/** Which pull secrets the kubelet would offer for an image (keyring matching, `auths` keys only). */
export * as PullSecrets from "./probes/pullSecrets"
/** BytePort's scheduling fit check (requests, taints, selectors, required node affinity, cordons). */
export * as Fit from "./probes/fit"
/** Signal: a bound pod stuck in ContainerCreating (pod informer). */
export * as StuckCreatingDetector from "./detectors/stuckCreating"
/** k8s.image-pull: facts, classifier (auth_failure, bad_tag, network_misconfiguration) and escalation plans. */
export * as ImagePullClassifier from "./classifiers/imagePull"
/** The k8s.image-pull runbook. */
export * as ImagePull from "./runbooks/k8s.image-pull"
/** k8s.pending: facts, classifier (resource_exhaustion, storage_constraints, affinity_conflict, missing_dependencies) and plans. */
export * as PendingClassifier from "./classifiers/pending"
/** The k8s.pending runbook. */
export * as Pending from "./runbooks/k8s.pending"
/** k8s.crashloop.five-branch: the runbook. */
export * as CrashloopFiveBranch from "./runbooks/k8s.crashloop.five-branch"
/** k8s.crashloop.five-branch: facts and classifier. */
export * as FiveBranchClassifier from "./classifiers/fiveBranch"
/** k8s.crashloop.five-branch: plans. */
export * as FiveBranchRemediator from "./remediators/fiveBranch"
/** k8s.crashloop.five-branch: verifiers (pods held Ready). */
export * as FiveBranchVerifier from "./verifiers/fiveBranch"
/** The dependency of a failed connection and the `k8s.dependencyHealthy` check. */
export * as DependencyProbe from "./probes/dependency"
/** k8s.crashloop.exit-code: the classifier (OOMKilled, missing binary, image auth, config error). */
export * as ExitCodeClassifier from "./classifiers/exitCode"
/** k8s.crashloop.exit-code: hand-off and restart-once-the-cause-is-gone plans, and the `k8s.exitcode.causeGone` check. */
export * as ExitCodeRemediator from "./remediators/exitCode"
/** The ConfigMaps, Secrets and pull-secret sources a container depends on, with their state. */
export * as PodRefs from "./probes/podRefs"
/** The shared pod verifier: Ready for max(2× the longest pre-crash run, 2 min), restartCount stable. */
export * as PodVerifiers from "./verifiers/pod"
/** The k8s.crashloop.exit-code runbook. */
export * as CrashloopExitCode from "./runbooks/k8s.crashloop.exit-code"
/** The k8s.oom.exit-137 runbook. */
export * as OomExit137 from "./runbooks/k8s.oom.exit-137"
/** The subject of core's `oom.observed` hand-off: the workload's pod with the latest OOMKilled termination. */
export * as OomObserved from "./probes/oomObserved"
/** k8s.node.not-ready: facts, thresholds and the seed's first-match classifier. */
export * as NodeNotReadyClassifier from "./classifiers/nodeNotReady"
/** k8s.node.not-ready: the per-class plans (cordon first). */
export * as NodeNotReadyRemediator from "./remediators/nodeNotReady"
/** k8s.node.not-ready: the held verification and the plans' node checks. */
export * as NodeNotReadyVerifiers from "./verifiers/nodeNotReady"
/** Signal: Ready False/Unknown ≥ 60 s, with kubelet and kernel evidence. */
export * as NodeNotReadyDetector from "./detectors/nodeNotReady"
/** Probe: describe node → NodeDescription. */
export * as NodeDescribeProbe from "./probes/nodeDescribe"
/** Probes of a node's host through its Shell (units, journals, df, file-nr, images). */
export * as NodeHostProbe from "./probes/nodeHost"
/** `k8s.restartNodeUnit` (kubelet/containerd/crio, 1 per unit per node per hour). */
export * as RestartNodeUnit from "./actions/restartNodeUnit"
/** `k8s.pruneNodeImages` (crictl rmi --prune; docker image prune). */
export * as PruneNodeImages from "./actions/pruneNodeImages"
/** `k8s.deleteEvictedPods` (uid preconditions; never PersistentVolumes/PVCs). */
export * as DeleteEvictedPods from "./actions/deleteEvictedPods"
/** `k8s.recreateCniPod` (flannel/calico/cilium/weave; 1 per node per 30 min, one node at a time). */
export * as RecreateCniPod from "./actions/recreateCniPod"
/** The k8s.node.not-ready runbook. */
export * as NodeNotReady from "./runbooks/k8s.node.not-ready"
/** k8s.crashloop.seven-class: facts, confidences and the seed-order classifier. */
export * as SevenClassClassifier from "./classifiers/sevenClass"
/** k8s.crashloop.seven-class: the per-class plans (bump, rollback, loosen, restore, hand-off, escalate). */
export * as SevenClassRemediator from "./remediators/sevenClass"
/** k8s.crashloop.seven-class: the held verifier (pods count after 2× their longest pre-crash run). */
export * as SevenClassVerifier from "./verifiers/sevenClass"
/** The k8s.crashloop.seven-class runbook. */
export * as CrashloopSevenClass from "./runbooks/k8s.crashloop.seven-class"
/** k8s.restart-loop.container: facts, confidences and the classifier (kubelet reasons, then log patterns, image SHA). */
export * as RestartLoopClassifier from "./classifiers/restartLoop"
/** k8s.restart-loop.container: the plans (escalate, awaited dependency hand-off + one restart, bump, rollback, digest pin). */
export * as RestartLoopRemediator from "./remediators/restartLoop"
/** The k8s.restart-loop.container runbook. */
export * as RestartLoopContainer from "./runbooks/k8s.restart-loop.container"
/** Core AnnotationSource over the API server: live annotations of objects, client address → Pod → owning workload. */
export * as K8sAnnotations from "./annotations/K8sAnnotations"
/** The default catalog of the k8s runbooks (families, precedence, enabled defaults) and how to extend it. */
export * as K8sCatalog from "./catalog"
/** Leader election on a coordination.k8s.io Lease (client-go semantics: lease 15 s, renew deadline 10 s, retry 2 s). */
export * as LeaderElection from "./leader/LeaderElection"
/** Least-privilege RBAC from declared permissions: union, manifests (ClusterRole/Role and bindings), YAML. */
export * as Rbac from "./rbac/Rbac"
