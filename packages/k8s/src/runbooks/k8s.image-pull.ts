/**
 * k8s.image-pull — "Detects Kubernetes pods failing to pull their container image
 * (ErrImagePull, ImagePullBackOff) and surfaces the root cause — auth failure, bad tag, or
 * network misconfiguration — with specific remediation steps."
 *
 * - **Detect**: `ImagePullDetector` on the shared pod watch (ErrImagePull, ImagePullBackOff,
 *   InvalidImageName, ErrImageNeverPull; once per container and image); the detector also holds
 *   the Deployment, ReplicaSet and Event watches open so the probe reads them from the cache.
 * - **Diagnose**: one read of the pod, its Events, the pull secrets it would be offered (the
 *   pod's, else its ServiceAccount's: `auths` keys only, values dropped at once), the Deployment
 *   and its ReplicaSets, the namespace's pods and the node count; then the pure
 *   `ImagePullClassifier.factsFrom`.
 * - **Classify**: `ImagePullClassifier` (auth_failure, bad_tag, network_misconfiguration;
 *   "pull access denied" decided from the secrets and the previous tag, never the message alone).
 * - **Remediate**: nothing is written: every class escalates with its steps.
 *
 * @since 0.3.0
 */
import type { V1Secret } from "@kubernetes/client-node"
import { Detector, type Diagnoser, Fact, Runbook, type Signal } from "@byteport/core"
import type { Config } from "effect"
import { Duration, Effect, Option } from "effect"
import * as ImagePullClassifier from "../classifiers/imagePull"
import type { ImagePullFacts } from "../classifiers/imagePull"
import * as ImagePullDetector from "../detectors/imagePull"
import { PodSignalTypes } from "../detectors/podSignals"
import * as Informers from "../informers/Informers"
import * as K8sDetector from "../informers/K8sDetector"
import * as Resource from "../informers/Resource"
import { Kube } from "../Kube"
import * as Families from "./families"
import * as Pending from "./k8s.pending"
import type { KubeError } from "../KubeError"
import * as PodEvents from "../probes/events"
import type * as PullSecrets from "../probes/pullSecrets"

/** The runbook id. */
export const ID = ImagePullClassifier.ID

/** The family. */
export const FAMILY = Families.Family.imagePull

/** Everything configurable. */
export interface Options {
  readonly namespace?: string | undefined
  /** Per-class confidence overrides. */
  readonly confidences?: Readonly<Record<string, number>> | undefined
  /** Read timeout of the diagnosis (default 10 s). */
  readonly probeTimeout?: Duration.Input | undefined
  /** The mode when BYTEPORT_MODE_K8S_IMAGE_PULL / BYTEPORT_MODE say nothing (default dry_run). */
  readonly defaultMode?: "observe" | "dry_run" | "auto" | undefined
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined)

/** The pod and container a signal is about (from its evidence). */
export const subjectOf = (signal: Signal.Signal): Effect.Effect<{ readonly namespace: string; readonly pod: string; readonly container: string }, Error> => {
  const ns = str(signal.evidence["namespace"])
  const pod = str(signal.evidence["pod"])
  const container = str(signal.evidence["container"])
  return ns && pod && container ? Effect.succeed({ namespace: ns, pod, container }) : Effect.fail(new Error("the signal names no pod container (evidence.namespace/pod/container)"))
}

const orNull = <A>(e: Effect.Effect<A, KubeError, Kube>): Effect.Effect<A | null, KubeError, Kube> =>
  e.pipe(Effect.map((a): A | null => a), Effect.catchTag("KubeNotFound", () => Effect.succeed(null)))

/** Only what the facts read of a Secret: its type and data (the caller keeps nothing else, and only `auths` keys of the data). */
const secretShape = (s: V1Secret): PullSecrets.SecretLike => ({ type: s.type, data: s.data })

/** Reads everything the facts are computed from. */
export const readObjects = (namespace: string, name: string, container: string): Effect.Effect<ImagePullClassifier.Objects, KubeError | Error, Kube> =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const podV = yield* Informers.getOr(Resource.pods, namespace, name, kube.getPod(namespace, name))
    const pod = Resource.toWire(Resource.pods, podV) as unknown as ImagePullClassifier.ObjPod
    const events = yield* PodEvents.forPod({ namespace, name, uid: pod.metadata.uid })
    const sa = (pod.spec.imagePullSecrets ?? []).length > 0
      ? null
      : yield* orNull(kube.read(`get ServiceAccount ${namespace}/${pod.spec.serviceAccountName ?? "default"}`, (a) => a.core.readNamespacedServiceAccount({ namespace, name: pod.spec.serviceAccountName ?? "default" })))
    const offered = ImagePullClassifier.offeredSecretNames(pod, sa)
    const secrets = new Map<string, PullSecrets.SecretLike | null>()
    for (const s of offered.names) {
      // a secret BytePort may not read stays "not read": the classifier never guesses from it
      const r = yield* Effect.result(orNull(kube.read(`get Secret ${namespace}/${s}`, (a) => a.core.readNamespacedSecret({ namespace, name: s }))))
      if (r._tag === "Success") secrets.set(s, r.success === null ? null : secretShape(r.success))
    }
    const rss = (yield* Informers.listOr(Resource.replicaSets, { namespace }, kube.listReplicaSets({ namespace }))).map((r) => Resource.toWire(Resource.replicaSets, r))
    const depName = ImagePullClassifier.deploymentNameOf(pod, rss as never)
    const deployment = depName
      ? yield* Effect.result(Informers.getOr(Resource.deployments, namespace, depName, kube.getDeployment(namespace, depName)))
      : undefined
    const pods = (yield* Informers.listOr(Resource.pods, { namespace }, kube.listPods({ namespace }))).map((p) => Resource.toWire(Resource.pods, p) as unknown as ImagePullClassifier.ObjPod)
    const nodes = yield* Informers.listOr(Resource.nodes, {}, kube.listNodes())
    return {
      pod,
      container,
      events,
      secrets,
      serviceAccount: sa === null ? null : { imagePullSecrets: sa.imagePullSecrets?.map((x) => ({ name: x.name })) },
      deployment: deployment === undefined || deployment._tag === "Failure" ? null : Resource.toWire(Resource.deployments, deployment.success) as never,
      replicaSets: rss as never,
      pods,
      nodes: nodes.length
    }
  })

const allUnknown = (reason: string): Fact.Facts<ImagePullFacts> => {
  const u = Fact.unknown("describe pod", reason)
  return { pod: u, failure: u, credentials: u, previous: u, spread: u }
}

/** The diagnoser: one read (timed out as a whole), then the pure facts. */
export const diagnose = (o: Options = {}): Diagnoser.Diagnoser<ImagePullFacts, Kube> => (signal) =>
  Effect.gen(function*() {
    const s = yield* Effect.result(subjectOf(signal))
    if (s._tag === "Failure") return allUnknown(s.failure.message)
    const read = yield* Effect.result(readObjects(s.success.namespace, s.success.pod, s.success.container).pipe(
      Effect.timeoutOption(o.probeTimeout ?? Duration.seconds(10))
    ))
    if (read._tag === "Failure") return allUnknown(read.failure.message)
    if (Option.isNone(read.success)) return allUnknown(`timed out after ${Duration.format(Duration.fromInputUnsafe(o.probeTimeout ?? Duration.seconds(10)))}`)
    return ImagePullClassifier.factsFrom(read.success.value)
  })

/** Builds the runbook. */
export const make = (o: Options = {}): Runbook.Runbook<ImagePullFacts, Kube> =>
  Runbook.make<ImagePullFacts, Kube>({
    id: ID,
    family: FAMILY,
    description: "Detects pods failing to pull their image (ErrImagePull, ImagePullBackOff) and surfaces the root cause — auth failure, bad tag or network misconfiguration — with specific steps; writes nothing",
    signals: [PodSignalTypes.imagePull],
    precedence: Families.precedenceOf(Families.Ids.imagePull),
    detector: Detector.merge(ID, [
      ImagePullDetector.make({ namespace: o.namespace, name: "k8s.image-pull.detector" }),
      K8sDetector.holding(`${ID}.cache`, [Resource.deployments, Resource.replicaSets, Resource.events], { namespace: o.namespace })
    ]),
    diagnose: diagnose(o),
    classify: ImagePullClassifier.classify(o.confidences ? { confidences: o.confidences } : {}),
    remediate: (c, facts, signal) => Effect.succeed(ImagePullClassifier.plan(c, facts, signal)),
    nextSteps: ImagePullClassifier.nextSteps,
    defaultMode: o.defaultMode ?? "dry_run",
    leaseTtl: "10 minutes",
    cooldown: "5 minutes"
  })

/**
 * The runbook from configuration: `BYTEPORT_IMAGE_PULL_CONFIDENCE_<CLASS>` (a ratio) overrides a
 * class's confidence; anything else is a ConfigError naming its key. The mode is core's
 * `BYTEPORT_MODE_K8S_IMAGE_PULL`.
 */
export const fromConfig = (o: Options = {}): Effect.Effect<Runbook.Runbook<ImagePullFacts, Kube>, Config.ConfigError> =>
  Effect.gen(function*() {
    const confidences = { ...(yield* Pending.confidencesConfig("BYTEPORT_IMAGE_PULL_CONFIDENCE_", ImagePullClassifier.CLASSES)), ...o.confidences }
    return make({ ...o, confidences })
  })
