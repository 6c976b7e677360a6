/**
 * The controllers half of kube-sim, in one import: the scenario API (typed builders, loading,
 * applying), `startSim`, the controllers, the virtual clock and the metrics routes.
 */
export * as Scenario from "./Scenario"
export type { ContainerSpec, IncidentInfo, NodeSpec, ScenarioPart, ScenarioSpec, ScenarioStep, WorkloadSpec } from "./types"
export { incidentClass } from "./types"
export { applyScenario, loadScenario, scenario, cluster, ScenarioError, validateScenario } from "./apply"
export { scenarioStartOptions, startSim } from "./startSim"
export type { Sim, SimOptions } from "./startSim"
export { Controllers, install, installer, SettleError } from "../controllers/Controllers"
export type { ContainerTarget, ControllersOptions } from "../controllers/Controllers"
export type { ContainerBehaviour, PullOutcome } from "../controllers/behaviour"
export { BEHAVIOUR_ANNOTATION, MEMORY_ANNOTATION } from "../controllers/behaviour"
export type { MemoryModel } from "../controllers/memory"
export type { NodeHostState } from "../controllers/context"
export { VirtualClock, parseDuration } from "../clock/VirtualClock"
export { Rng } from "../clock/Rng"
export { Sampler } from "../metrics/Sampler"
export { METRICS_API_GROUP, METRICS_RESOURCE_LIST, metricsApiRoute, prometheusRoute, simControlRoute } from "../metrics/routes"
export { PromQLError } from "../metrics/PromQL"
/** The simulated host shell of a node (`sim.nodeShell(node)`) and what pods/exec runs. */
export * as SimNodeShell from "../node/NodeShell"
/** pods/exec over WebSocket: backends, outcomes, the channel protocols. */
export * as Exec from "../server/exec"
