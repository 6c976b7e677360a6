/**
 * kube-sim: a Kubernetes API simulator on 127.0.0.1 for testing with the real client-node and
 * kubectl. The API-server half: store, HTTP server, faults, recorder; controllers plug in
 * through `KubeSim.start({ install })`.
 */
/** The facade: `KubeSim.start(options)`. */
export * as KubeSim from "./KubeSim"
/** Facade types. */
export type { Disposable, InstallContext, Installer, KubeSim as KubeSimInstance, StartOptions } from "./KubeSim"
/** Store, registry, selectors, pod logs and the store contract types. */
export * from "./store/index"
/** Fault injection. */
export * as Faults from "./faults/Faults"
/** Fault rule types. */
export type { DropAfterApplyFault, ErrorFault, FaultHandle, FaultMatch, LatencyFault } from "./faults/Faults"
/** Seeded fault schedules (410, 429, 500s, dropped watches, restarts, dropped-after-apply) played over virtual time. */
export * as FaultSchedule from "./faults/Schedule"
/** The request recorder. */
export * as Recorder from "./recorder/Recorder"
/** Recorder types. */
export type { RecordedRequest, RequestFilter } from "./recorder/Recorder"
/** An extra HTTP route (metrics.k8s.io, Prometheus API …). */
export type { ExtraRoute } from "./server/Server"
/** The patch engines (JSON patch, merge patch, strategic merge patch). */
export * as Patch from "./server/patch"
/** apiserver Status bodies and errors. */
export * as Status from "./server/status"
/** Controllers, virtual clock, scenarios and metrics: `startSim`, `scenario`, `loadScenario`, `applyScenario` … (docs/scenarios.md). */
export * from "./scenario/index"
/** The simulated image registries (`sim.registry`), image references and the kubelet's pull-secret keyring. */
export * from "./registry/index"
/** CustomResourceDefinition support: the types a CRD serves, version order. */
export * as Crds from "./server/crds"
