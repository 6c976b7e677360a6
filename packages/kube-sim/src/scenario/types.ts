/**
 * The serialisable scenario description: nodes, workloads (with their container behaviour and
 * memory models), extra objects, the simulated world (image registry, request rates, node host
 * state) and timed steps (rollouts, node faults) applied after a warm-up.
 */
import type { KubeObject } from "../store/types"
import type { ContainerBehaviour, PullOutcome } from "../controllers/behaviour"
import type { PushOptions, RegistryUser } from "../registry/ImageRegistry"
import type { MemoryModel } from "../controllers/memory"
import type { NodeHostState } from "../controllers/context"
import type { SeriesPoint } from "../controllers/series"

/** One node. */
export interface NodeSpec {
  readonly name?: string
  readonly cpu?: string
  readonly memory?: string
  readonly pods?: number
  readonly ephemeralStorage?: string
  readonly labels?: Record<string, string>
  readonly taints?: ReadonlyArray<{ key: string; value?: string; effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute" }>
  readonly unschedulable?: boolean
}

/** An extra container (sidecar or init container) of a workload. */
export interface ContainerSpec {
  readonly name: string
  readonly image?: string
  readonly command?: ReadonlyArray<string>
  readonly args?: ReadonlyArray<string>
  readonly env?: ReadonlyArray<Record<string, unknown>>
  readonly ports?: ReadonlyArray<number>
  readonly behaviour?: ContainerBehaviour
  readonly resources?: Record<string, unknown>
}

/** A workload: a Deployment (default), StatefulSet or DaemonSet with one main container. */
export interface WorkloadSpec {
  readonly kind?: "Deployment" | "StatefulSet" | "DaemonSet"
  readonly name: string
  readonly namespace?: string
  readonly replicas?: number
  readonly image?: string
  readonly container?: string
  readonly command?: ReadonlyArray<string>
  readonly args?: ReadonlyArray<string>
  readonly env?: ReadonlyArray<Record<string, unknown>>
  readonly envFrom?: ReadonlyArray<Record<string, unknown>>
  readonly port?: number
  readonly memoryLimit?: string
  readonly memoryRequest?: string
  readonly cpuRequest?: string
  readonly cpuLimit?: string
  readonly readinessProbe?: Record<string, unknown>
  readonly livenessProbe?: Record<string, unknown>
  readonly startupProbe?: Record<string, unknown>
  /** Behaviour of the main container (written to the pod template annotation). */
  readonly behaviour?: ContainerBehaviour
  /** Memory model of the main container (shorthand for behaviour.memory). */
  readonly memory?: MemoryModel
  readonly sidecars?: ReadonlyArray<ContainerSpec>
  readonly initContainers?: ReadonlyArray<ContainerSpec>
  readonly volumes?: ReadonlyArray<Record<string, unknown>>
  readonly volumeMounts?: ReadonlyArray<Record<string, unknown>>
  readonly nodeSelector?: Record<string, string>
  readonly affinity?: Record<string, unknown>
  readonly tolerations?: ReadonlyArray<Record<string, unknown>>
  readonly labels?: Record<string, string>
  readonly annotations?: Record<string, string>
  readonly changeCause?: string
  readonly strategy?: Record<string, unknown>
  readonly progressDeadlineSeconds?: number
  readonly minReadySeconds?: number
  readonly hostNetwork?: boolean
  readonly priorityClassName?: string
  /** imagePullPolicy of the main container (default: the apiserver's, from the tag). */
  readonly imagePullPolicy?: "Always" | "IfNotPresent" | "Never"
  /** Pull secret names of the pod template (`spec.imagePullSecrets`). */
  readonly imagePullSecrets?: ReadonlyArray<string>
  /** The pod template's ServiceAccount (its `imagePullSecrets` apply when the pod names none). */
  readonly serviceAccountName?: string
  /** Create a ClusterIP Service selecting the workload (port defaults to the container port). */
  readonly service?: boolean | { readonly name?: string; readonly port?: number }
  /** Create a PodDisruptionBudget. */
  readonly pdb?: { readonly minAvailable?: number | string; readonly maxUnavailable?: number | string }
  /** Create an autoscaling/v2 HPA (cpu utilisation target and/or a requests-per-second Pods metric). */
  readonly hpa?: { readonly min?: number; readonly max: number; readonly cpuUtilization?: number; readonly rpsPerPod?: number }
  /** Total request rate of the workload: constant or [seconds from scenario start, rps] points. */
  readonly requestRate?: number | ReadonlyArray<SeriesPoint>
}

/** A timed change applied after the warm-up (and after the previous step). */
export type ScenarioStep =
  | { readonly after?: string; readonly action: "rollout"; readonly namespace?: string; readonly workload: string; readonly image?: string; readonly env?: ReadonlyArray<Record<string, unknown>>; readonly behaviour?: ContainerBehaviour; readonly changeCause?: string; readonly memoryLimit?: string }
  | { readonly after?: string; readonly action: "nodeHost"; readonly node: string; readonly host: Partial<NodeHostState> }
  | { readonly after?: string; readonly action: "nodeCondition"; readonly node: string; readonly type: "Ready" | "MemoryPressure" | "DiskPressure" | "PIDPressure" | "NetworkUnavailable"; readonly status: "True" | "False" | "Unknown" }
  | { readonly after?: string; readonly action: "requestRate"; readonly namespace?: string; readonly workload: string; readonly series: number | ReadonlyArray<SeriesPoint> }
  | { readonly after?: string; readonly action: "image"; readonly image: string; readonly outcome: PullOutcome; readonly push?: PushOptions }
  | { readonly after?: string; readonly action: "wait" }

/** What an incident scenario is meant to reproduce (for tests and docs). */
export interface IncidentInfo {
  /** Runbook ids that should detect it. */
  readonly runbooks: ReadonlyArray<string>
  /** The class the runbook should assign (each runbook's own name where `classes` has none). */
  readonly class: string
  /**
   * The class per runbook id where a runbook names the same failure differently from `class`
   * (the seed's names: k8s.image-pull's `bad_tag` is seven-class's `bad_image_or_tag` and
   * five-branch's `image_pull_failure`); `"unclassified"`: that runbook escalates without a class.
   */
  readonly classes?: Readonly<Record<string, string>>
  /** The object at the centre of the incident. */
  readonly target: { readonly kind: string; readonly namespace?: string; readonly name: string }
  /** One sentence. */
  readonly description: string
}

/** The class `runbook` should assign to an incident: its entry in `classes`, else `class`. */
export const incidentClass = (incident: IncidentInfo, runbook: string): string => incident.classes?.[runbook] ?? incident.class

/** A reusable piece of a scenario (what the catalogue builders return). */
export interface ScenarioPart {
  readonly workloads?: ReadonlyArray<WorkloadSpec>
  readonly objects?: ReadonlyArray<KubeObject>
  readonly images?: Record<string, PullOutcome>
  /** Registry scopes (`host` or `host/repository`) that require one of these users to pull. */
  readonly registryUsers?: Record<string, ReadonlyArray<RegistryUser>>
  readonly hosts?: Record<string, Partial<NodeHostState>>
  readonly nodeTaints?: NodeSpec["taints"]
  readonly steps?: ReadonlyArray<ScenarioStep>
  readonly incident?: IncidentInfo
}

/** A full scenario. */
export interface ScenarioSpec {
  readonly name?: string
  readonly seed?: number
  /** Start of virtual time (RFC 3339). */
  readonly start?: string
  /** Node count (named node-1 … node-N) or explicit nodes. */
  readonly nodes?: number | ReadonlyArray<NodeSpec>
  /** Defaults of every node (cpu "4", memory "8Gi", pods 110, ephemeralStorage "100Gi"). */
  readonly nodeDefaults?: Omit<NodeSpec, "name">
  readonly namespaces?: ReadonlyArray<string>
  /** Warm-up before the steps run (default "2m"). */
  readonly warmup?: string
  readonly workloads?: ReadonlyArray<WorkloadSpec | ScenarioPart>
  readonly objects?: ReadonlyArray<KubeObject>
  readonly images?: Record<string, PullOutcome>
  /** Registry scopes (`host` or `host/repository`) that require one of these users to pull. */
  readonly registryUsers?: Record<string, ReadonlyArray<RegistryUser>>
  readonly hosts?: Record<string, Partial<NodeHostState>>
  readonly steps?: ReadonlyArray<ScenarioStep>
  readonly incidents?: ReadonlyArray<IncidentInfo>
}
