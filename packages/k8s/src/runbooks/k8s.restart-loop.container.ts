/**
 * k8s.restart-loop.container — "Breaks container restart loops by diagnosing root cause from
 * logs, exit codes, and image SHA — then applying the correct class-specific fix: escalate on
 * config/secret errors, chain on dependency failures, bump memory on OOM, rollback on port-bind
 * or image-pull failures."
 *
 * - **Detect**: ≥3 restarts in 10 min, CrashLoopBackOff, ErrImagePull/ImagePullBackOff,
 *   CreateContainerConfigError (the shared pod watch).
 * - **Diagnose**: k8s.crashloop.seven-class's facts (pod, Events, redacted previous log, owner,
 *   rollout history, last good) plus the workload's other pods and the digest each runs.
 * - **Classify** / **Remediate**: `classifiers/restartLoop.ts`, `remediators/restartLoop.ts`.
 * - **Verify**: `verifiers/sevenClass.ts` (held; rollback/pin: readyReplicas == replicas;
 *   restart: started and restartCount stable; bump: `OomVerifiers.memoryBump`).
 *
 * Family `k8s.crashloop`, precedence 33. Default mode dry_run.
 *
 * @since 0.4.0
 */
import { type ActionHandler, type Check, Detector, Diagnoser, Fact, Runbook } from "@byteport/core"
import { type Duration, Effect } from "effect"
import type * as ConfigMapSnapshots from "../actions/configMapSnapshots"
import type * as HeapProfiler from "../actions/heapProfiler"
import * as PinImageDigest from "../actions/pinImageDigest"
import * as RestartPod from "../actions/restartPod"
import * as RestartLoop from "../classifiers/restartLoop"
import type { RestartLoopFacts, Sibling } from "../classifiers/restartLoop"
import * as ConfigError from "../detectors/configError"
import * as CrashLoop from "../detectors/crashLoop"
import * as ImagePull from "../detectors/imagePull"
import { PodSignalTypes } from "../detectors/podSignals"
import * as Restarts from "../detectors/restarts"
import type * as EventRecorder from "../events/EventRecorder"
import * as Informers from "../informers/Informers"
import * as K8sDetector from "../informers/K8sDetector"
import * as Resource from "../informers/Resource"
import { Kube } from "../Kube"
import * as Dependency from "../probes/dependency"
import * as ImageIds from "../probes/imageIds"
import type * as PodWire from "../probes/podWire"
import * as Remediator from "../remediators/restartLoop"
import * as SevenClassVerifier from "../verifiers/sevenClass"
import * as Families from "./families"
import * as SevenClassRunbook from "./k8s.crashloop.seven-class"

/** The runbook id. */
export const ID = Families.Ids.restartLoopContainer

/** The signal types it answers. */
export const SIGNALS: ReadonlyArray<string> = [PodSignalTypes.restartLoop, PodSignalTypes.crashLoopBackOff, PodSignalTypes.imagePull, PodSignalTypes.configError]

/** Everything configurable. */
export interface Options {
  readonly thresholds?: RestartLoop.Thresholds | undefined
  readonly remediation?: Remediator.Remediation | undefined
  readonly verify?: SevenClassVerifier.VerifySettings | undefined
  readonly namespace?: string | undefined
  readonly probeTimeout?: Duration.Input | undefined
  readonly defaultMode?: "observe" | "dry_run" | "auto" | undefined
}

const isReady = (p: PodWire.Pod) => (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")

/** The workload's pods (owned by any of its revisions' ReplicaSets) and what `container` runs in each. */
export const siblingsOf = (pods: ReadonlyArray<PodWire.Pod>, replicaSets: ReadonlyArray<string>, container: string): ReadonlyArray<Sibling> =>
  pods
    .filter((p) => !(p.metadata as { deletionTimestamp?: unknown }).deletionTimestamp && (p.metadata.ownerReferences ?? []).some((o) => o.kind === "ReplicaSet" && replicaSets.includes(o.name)))
    .map((p) => {
      const id = ImageIds.imageIdsOf(p).find((i) => i.container === container && !i.init)
      return { pod: p.metadata.name, ready: isReady(p), image: id?.image ?? null, imageID: id?.imageID ?? null, digest: id?.digest ?? null }
    })

/** The diagnoser: seven-class's facts plus the siblings. */
export const diagnose = (o: Options = {}): Diagnoser.Diagnoser<RestartLoopFacts, Kube> => (signal) =>
  Effect.gen(function*() {
    const base = yield* SevenClassRunbook.diagnose({ probeTimeout: o.probeTimeout })(signal)
    const h = Fact.value(base.history)
    const pod = Fact.value(base.pod)
    const container = Fact.value(base.container)
    const siblings: Fact.Fact<ReadonlyArray<Sibling>> = !pod || !container
      ? Fact.unknown("workload pods", "the pod is unknown")
      : !h
      ? Fact.known([])
      : yield* Diagnoser.runProbe(Diagnoser.probe("workload pods", () =>
        Effect.gen(function*() {
          const kube = yield* Kube
          const ns = pod.metadata.namespace ?? "default"
          const pods = (yield* Informers.listOr(Resource.pods, { namespace: ns }, kube.listPods({ namespace: ns }))) as unknown as ReadonlyArray<PodWire.Pod>
          return siblingsOf(JSON.parse(JSON.stringify(pods)) as ReadonlyArray<PodWire.Pod>, h.revisions.map((r) => r.replicaSet), container)
        })), signal, o.probeTimeout ?? "10 seconds")
    return { ...base, siblings }
  })

/** The handlers its plans use: seven-class's plus `k8s.restartPod` and `k8s.pinImageDigest`. */
export const handlers = (): ReadonlyArray<ActionHandler.ActionHandler<Kube | EventRecorder.EventRecorder | HeapProfiler.HeapProfiler | ConfigMapSnapshots.ConfigMapSnapshots>> => [
  ...SevenClassRunbook.handlers(),
  RestartPod.make(),
  PinImageDigest.make()
]

/** The checks its plans reference (`k8s.dependencyHealthy`, the confirmation before the dependency restart). */
export const checks = (): ReadonlyArray<Check.Check<Kube>> => [Dependency.check()]

/** Builds the runbook. */
export const make = (o: Options = {}): Runbook.Runbook<RestartLoopFacts, Kube> => {
  const ns = { namespace: o.namespace }
  const remediation = o.remediation ?? Remediator.defaults
  return Runbook.make<RestartLoopFacts, Kube>({
    id: ID,
    family: Families.Family.crashloop,
    description: "Breaks container restart loops from logs, exit codes and image SHA: escalates config/secret errors, chains dependency failures, bumps memory on OOM, rolls back or pins the digest on port-bind and image-pull failures",
    signals: SIGNALS,
    precedence: Families.precedenceOf(ID),
    detector: Detector.merge(ID, [
      Restarts.make(ns),
      CrashLoop.make(ns),
      ImagePull.make(ns),
      ConfigError.make(ns),
      K8sDetector.holding(`${ID}.cache`, [Resource.deployments, Resource.replicaSets, Resource.events], ns)
    ]),
    diagnose: diagnose(o),
    classify: RestartLoop.classify(o.thresholds ?? RestartLoop.defaults),
    remediate: (c, facts, signal) => Effect.succeed(Remediator.plan(c, facts, signal, remediation)),
    verify: SevenClassVerifier.verify(o.verify) as never,
    verifySchedule: SevenClassVerifier.schedule(o.verify),
    baseline: (facts) => ({ memoryLimitBytes: Fact.value(facts.memoryLimitBytes) ?? null }),
    defaultMode: o.defaultMode ?? "dry_run",
    leaseTtl: "30 minutes",
    cooldown: "5 minutes"
  })
}
