/**
 * The classifier of `k8s.crashloop.exit-code`: "Detects Kubernetes pods in crashloop and
 * classifies the exit code (OOMKilled, missing binary, image auth, config error) before safely
 * restarting with back-off guard."
 *
 * Classes in the seed's order, first match; the kubelet's and the runtime's reasons rank above
 * bare exit codes (confidences, all configurable):
 *
 * | class | rule | confidence |
 * |---|---|---|
 * | `oom_killed` | last termination reason `OOMKilled` (the kubelet's) | 0.95 |
 * | `missing_binary` | reason `StartError`/`ContainerCannotRun` with "executable file not found" / "no such file or directory" | 0.92 |
 * | `missing_binary` | exit 127 (a shell's "not found") | 0.85 |
 * | `image_auth` | waiting `ErrImagePull`/`ImagePullBackOff` whose runtime message is an authentication failure (401/403, "unauthorized") | 0.90 |
 * | `config_error` | waiting `CreateContainerConfigError` (a missing ConfigMap, Secret or key) | 0.93 |
 * | `config_error` | exit 78 (`EX_CONFIG`) | 0.78 |
 *
 * Never a class: exit 126 (the binary exists but is not executable: a near miss of
 * missing_binary), exit 137 without `OOMKilled` (a liveness or external kill), "pull access
 * denied" (a missing repository answers so too: the image-pull runbook decides it from the pull
 * secrets), and a crash of a sidecar while the pod's main container runs (restarting the pod
 * would take the healthy app down with it). Below `minConfidence` (0.70) → Unclassified; the
 * pod unreadable → Indeterminate. Both escalate.
 *
 * @since 0.3.0
 */
import { Classification, Fact, Settings } from "@byteport/core"
import { Config, Effect } from "effect"
import * as Messages from "../probes/messages"
import type * as PodWire from "../probes/podWire"
import * as Wire from "../probes/wire"

/** The classes, in the seed's order. */
export const Classes = ["oom_killed", "missing_binary", "image_auth", "config_error"] as const

/** A class of the runbook. */
export type ExitCodeClass = typeof Classes[number]

/** A ConfigMap, Secret or ServiceAccount the container depends on, as read at diagnosis. */
export interface Ref {
  readonly kind: "ConfigMap" | "Secret" | "ServiceAccount"
  readonly name: string
  /** The key the container reads (null: the whole object). */
  readonly key: string | null
  /** Why the container needs it: `env`, `envFrom`, `volume`, `imagePullSecret`, `serviceAccount`. */
  readonly use: "env" | "envFrom" | "volume" | "imagePullSecret" | "serviceAccount"
  /** Its resourceVersion when read (null: it did not exist). */
  readonly resourceVersion: string | null
  /** Whether `key` was present (null: not read, or no key). */
  readonly hasKey: boolean | null
}

/** The pod the incident is about and the container at fault. */
export interface PodSubject {
  readonly pod: PodWire.Pod
  readonly container: string
}

/** The owning workload (null: a bare pod). */
export interface Owner {
  readonly kind: string
  readonly name: string
  readonly resourceVersion: string
}

/** What the classifier reads. */
export interface ExitCodeFacts {
  readonly subject: PodSubject
  readonly owner: Owner | null
  /** The ConfigMaps, Secrets and pull-secret sources of the container, with their state. */
  readonly refs: ReadonlyArray<Ref>
}

/** The confidences per rule. */
export interface Confidences {
  readonly oomKilled: number
  readonly missingBinaryRuntime: number
  readonly missingBinaryExit127: number
  readonly imageAuth: number
  readonly configErrorKubelet: number
  readonly configErrorExit78: number
}

/** Classifier settings. */
export interface Thresholds {
  /** Below this → Unclassified (default 0.70, `BYTEPORT_EXIT_CODE_MIN_CONFIDENCE`). */
  readonly minConfidence: number
  readonly confidences: Confidences
}

/** The defaults. */
export const defaults: Thresholds = {
  minConfidence: 0.7,
  confidences: { oomKilled: 0.95, missingBinaryRuntime: 0.92, missingBinaryExit127: 0.85, imageAuth: 0.9, configErrorKubelet: 0.93, configErrorExit78: 0.78 }
}

/** The thresholds from configuration: `BYTEPORT_EXIT_CODE_MIN_CONFIDENCE` (a ratio, default 0.70). */
export const thresholdsConfig: Effect.Effect<Thresholds, Config.ConfigError> = Effect.gen(function*() {
  const minConfidence = yield* Settings.ratio("BYTEPORT_EXIT_CODE_MIN_CONFIDENCE").pipe(Config.withDefault(defaults.minConfidence))
  return { ...defaults, minConfidence }
})

const PULL_WAITING: ReadonlySet<string> = new Set(["ErrImagePull", "ImagePullBackOff"])

/** The container's status (main or init). */
export const statusOf = (pod: PodWire.Pod, container: string): PodWire.ContainerStatus | undefined =>
  [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])].find((c) => c.name === container)

/** The container's last termination (lastState, else state), parsed. */
export const lastTermination = (pod: PodWire.Pod, container: string): Messages.Termination | null => {
  const cs = statusOf(pod, container)
  const t = cs?.lastState?.terminated ?? cs?.state?.terminated
  return t ? Messages.termination(t) : null
}

/**
 * The pod's main container: the `kubectl.kubernetes.io/default-container` annotation; else the
 * container named after the app (`app.kubernetes.io/name` or `app` label, or the workload's name
 * from a `<deployment>-<hash>` ReplicaSet owner) — sidecar injectors put theirs first or last; else
 * the first container.
 */
export const mainContainer = (pod: PodWire.Pod): string | undefined => {
  const names = pod.spec.containers.map((c) => c.name)
  const annotated = pod.metadata.annotations?.["kubectl.kubernetes.io/default-container"]
  if (annotated !== undefined && names.includes(annotated)) return annotated
  const labels = pod.metadata.labels ?? {}
  const owner = pod.metadata.ownerReferences?.find((o) => o.controller === true)
  const hash = labels["pod-template-hash"]
  const workload = owner?.kind === "ReplicaSet" && hash && owner.name.endsWith(`-${hash}`) ? owner.name.slice(0, -hash.length - 1) : owner?.name
  for (const n of [labels["app.kubernetes.io/name"], labels["app"], workload]) if (n !== undefined && names.includes(n)) return n
  return names[0]
}

/**
 * A sidecar-only crash: the container at fault is not the pod's main container, and the main
 * container runs (started, no restart pending).
 */
export const sidecarOnly = (pod: PodWire.Pod, container: string): boolean => {
  const main = mainContainer(pod)
  if (main === undefined || main === container) return false
  // a native sidecar (init container with restartPolicy: Always) runs beside the main container
  if (!Wire.isSidecar(pod, container) && (pod.spec.containers.length < 2 || !pod.spec.containers.some((c) => c.name === container))) return false
  const m = statusOf(pod, main)
  return m?.state?.running !== undefined && m.ready === true
}

/** The longest run of the container that ended in a crash (ms), from its last termination; null when unknown. */
export const longestPreCrashRunMs = (pod: PodWire.Pod, container: string): number | null => {
  const cs = statusOf(pod, container)
  // a container that never started reports startedAt 1970-01-01 (StartError): no run at all
  const started = (t: { readonly startedAt?: string | null | undefined }) => t.startedAt != null && Date.parse(t.startedAt) > 0
  const runs = [cs?.lastState?.terminated, cs?.state?.terminated].flatMap((t) => (t && started(t) ? [Messages.termination(t).ranMs] : [])).filter((x): x is number => x !== null && x >= 0)
  return runs.length === 0 ? null : Math.max(...runs)
}

/** The classification from the facts (first match in the seed's order). */
export const classify = (t: Thresholds = defaults) => (facts: Fact.Facts<ExitCodeFacts>): Classification.Classification => {
  const subject = Fact.value(facts.subject)
  if (subject === undefined) return Classification.indeterminate("exit code", ["subject"], ["the pod could not be read"])
  const { pod, container } = subject
  const c = t.confidences
  const cs = statusOf(pod, container)
  if (cs === undefined) return Classification.unclassified([`pod ${pod.metadata.name} has no status for container ${container}`])
  if (sidecarOnly(pod, container)) {
    return Classification.unclassified([`sidecar-only crash: ${container} fails while the main container ${mainContainer(pod)} runs Ready; restarting the pod would take the app down`])
  }
  const term = lastTermination(pod, container)
  const waiting = cs.state?.waiting
  const candidates: Array<{ cls: ExitCodeClass; confidence: number; reason: string }> = []
  if (term?.reason === "OOMKilled") candidates.push({ cls: "oom_killed", confidence: c.oomKilled, reason: `last termination: OOMKilled (exit ${term.exitCode ?? "?"})` })
  if (term !== null && term.meaning === "not_found") {
    const runtime = term.reason === "StartError" || term.reason === "ContainerCannotRun"
    candidates.push({
      cls: "missing_binary",
      confidence: runtime ? c.missingBinaryRuntime : c.missingBinaryExit127,
      reason: runtime ? `the runtime could not start the container (${term.reason}): ${term.message ?? "executable not found"}` : `exit 127: the command was not found${term.message ? ` (${term.message})` : ""}`
    })
  }
  if (waiting?.reason !== undefined && PULL_WAITING.has(waiting.reason)) {
    const pull = Messages.imagePull(waiting.message ?? "")
    if (pull.cause === "unauthorized") candidates.push({ cls: "image_auth", confidence: c.imageAuth, reason: `${waiting.reason}: the registry refused the credentials (${pull.registry ?? "registry unknown"})` })
  }
  if (waiting?.reason === "CreateContainerConfigError") {
    candidates.push({ cls: "config_error", confidence: c.configErrorKubelet, reason: `CreateContainerConfigError: ${waiting.message ?? "(no message)"}` })
  } else if (term?.exitCode === 78) {
    candidates.push({ cls: "config_error", confidence: c.configErrorExit78, reason: "exit 78 (EX_CONFIG): the app rejected its configuration" })
  }
  const first = Classes.map((cls) => candidates.find((x) => x.cls === cls)).find((x) => x !== undefined)
  if (first === undefined) {
    const why = term === null
      ? `no termination and waiting reason ${waiting?.reason ?? "none"}`
      : term.exitCode === 126
      ? "exit 126: the binary exists but is not executable (not a missing binary)"
      : term.exitCode === 137
      ? `exit 137 with reason ${term.reason ?? "none"}: a SIGKILL that is not the OOM killer's`
      : `exit ${term.exitCode ?? "?"} (${term.reason ?? "no reason"}) matches no class`
    return Classification.unclassified([why])
  }
  if (first.confidence < t.minConfidence) return Classification.unclassified([`${first.cls} at ${first.confidence} is below ${t.minConfidence}: ${first.reason}`])
  return Classification.classified(first.cls, first.confidence, [first.reason], { container, pod: pod.metadata.name })
}
