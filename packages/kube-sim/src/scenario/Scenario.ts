/**
 * The scenario namespace: `Scenario.cluster({ nodes: 3 }).with(Scenario.oom.leak({ name: "api" })).build()`
 * or `Scenario.scenario({ nodes: 3, workloads: [Scenario.oom.undersizedLimit()] })`.
 */
export { cluster, scenario, loadScenario, applyScenario } from "./apply"
export { oom, crashloop, pending, node, rollout } from "./catalogue"
export type { BaseOptions, NotReadyCause } from "./catalogue"
