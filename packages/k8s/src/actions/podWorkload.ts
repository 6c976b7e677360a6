/**
 * What the pod-family action kinds (`k8s.loosenProbe`, `k8s.setDebugLogging`,
 * `k8s.pinImageDigest`) share: the workload and container of a `k8s.workload` target, reading
 * the pod-template workload, one container's spec, a conditional strategic-merge patch whose
 * failures are typed `ActionFailed` (a 409 is a `conflict`), and the Event on the workload.
 *
 * @since 0.3.0
 */
import { ActionHandler } from "@byteport/core"
import type { V1Container, V1DaemonSet, V1Deployment, V1StatefulSet } from "@kubernetes/client-node"
import { Effect } from "effect"
import * as EventRecorder from "../events/EventRecorder"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import * as KubePatch from "../KubePatch"
import * as Targets from "../targets/Targets"

/** The workload kinds with a pod template BytePort patches. */
export type TemplateKind = "Deployment" | "StatefulSet" | "DaemonSet"

/** A pod-template workload object. */
export type TemplateWorkload = V1Deployment | V1StatefulSet | V1DaemonSet

/** The workload and container an action targets. */
export interface ContainerTarget {
  readonly kind: TemplateKind
  readonly namespace: string
  readonly name: string
  readonly container: string
  /** The workload target without its container (the workload lease and rollback budget key). */
  readonly workload: Targets.Workload
}

/** `ActionFailed` of a kind. */
export const failed = (kind: string, message: string, options: { readonly conflict?: boolean; readonly cause?: unknown } = {}) =>
  new ActionHandler.ActionFailed({ kind, message, ...(options.conflict ? { conflict: true } : {}), ...(options.cause !== undefined ? { cause: options.cause } : {}) })

/**
 * The workload and container of a `k8s.workload` target (the container from the target, else
 * `container`). Bare pods, ReplicaSets, Jobs and CronJobs are refused: BytePort never patches them.
 */
export const containerTarget = (kind: string, target: Parameters<typeof Targets.parseWorkload>[0], container?: string): Effect.Effect<ContainerTarget, ActionHandler.ActionFailed> =>
  Effect.gen(function*() {
    const w = yield* Targets.parseWorkload(target).pipe(Effect.mapError((e) => failed(kind, e.message)))
    if (w.kind !== "Deployment" && w.kind !== "StatefulSet" && w.kind !== "DaemonSet") {
      return yield* failed(kind, `${kind} patches only a Deployment, StatefulSet or DaemonSet template, not a ${w.kind} (${w.namespace}/${w.name})`)
    }
    const c = w.container ?? container
    if (c === undefined) return yield* failed(kind, `${kind} needs a container (in the target or the params)`)
    return { kind: w.kind, namespace: w.namespace, name: w.name, container: c, workload: Targets.withoutContainer(w) }
  })

/** Reads the workload. */
export const read = (t: { readonly kind: TemplateKind; readonly namespace: string; readonly name: string }): Effect.Effect<TemplateWorkload, KubeError, Kube> =>
  Effect.flatMap(Kube, (k): Effect.Effect<TemplateWorkload, KubeError> =>
    t.kind === "StatefulSet" ? k.getStatefulSet(t.namespace, t.name) : t.kind === "DaemonSet" ? k.getDaemonSet(t.namespace, t.name) : k.getDeployment(t.namespace, t.name))

/** One container of the workload's pod template. */
export const containerOf = (w: TemplateWorkload, name: string): V1Container | undefined => w.spec?.template.spec?.containers.find((c) => c.name === name)

/** Reads the workload as a typed `ActionFailed`. */
export const readOrFail = (kind: string, t: ContainerTarget) =>
  read(t).pipe(Effect.mapError((e) => failed(kind, `read ${t.kind} ${t.namespace}/${t.name}: ${e._tag}: ${e.message}`, { cause: e })))

/** Sends a strategic-merge patch conditional on `resourceVersion` (dryRun=All in dry_run). */
export const patch = (kind: string, t: ContainerTarget, resourceVersion: string, body: KubePatch.PatchBody, dryRun: boolean) =>
  Effect.flatMap(Kube, (k) =>
    k.patch(t.kind, { namespace: t.namespace, name: t.name }, KubePatch.strategic(resourceVersion, body), { dryRun }).pipe(
      Effect.mapError((e) =>
        failed(
          kind,
          e._tag === "KubeConflict" ? `${t.kind} ${t.namespace}/${t.name} changed since the plan (resourceVersion ${resourceVersion}): ${e.message}` : `patch ${t.kind} ${t.namespace}/${t.name}: ${e._tag}: ${e.message}`,
          { conflict: e._tag === "KubeConflict", cause: e }
        )
      )
    ))

/** Records an Event on the workload (nothing in dry_run). */
export const event = (t: ContainerTarget, obj: TemplateWorkload, reason: string, message: string, dryRun: boolean) =>
  EventRecorder.recordEvent({ ...obj, kind: t.kind, apiVersion: "apps/v1" }, reason, message, { dryRun, action: reason })

/** The planned resourceVersion (`precondition.resourceVersion`), else the one just read. */
export const preconditionOf = (precondition: { readonly [k: string]: unknown }, live: TemplateWorkload): string =>
  typeof precondition["resourceVersion"] === "string" && precondition["resourceVersion"].length > 0 ? precondition["resourceVersion"] : live.metadata?.resourceVersion ?? ""
