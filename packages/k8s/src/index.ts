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
