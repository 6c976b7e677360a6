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
/** NodeShell: node name → core Shell (user-supplied; none: node facts Unknown). */
export * as NodeShell from "./node/NodeShell"
/** Parsers of node-tool output core lacks (file-nr, crictl images, systemctl is-active answers, kernel findings). */
export * as NodeParse from "./node/parseNode"
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
