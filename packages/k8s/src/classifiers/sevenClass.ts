/**
 * k8s.crashloop.seven-class: the facts and the first-match classifier over the seed's seven
 * classes, in the seed's order. Every rule has a documented confidence; the kubelet's and the
 * runtime's reasons (OOMKilled, ErrImagePull, Init:*, probe kills, CreateContainerConfigError,
 * Evicted) rank above the one log pattern (a panic or stack trace in the previous log):
 *
 * | class | rule | confidence |
 * |---|---|---|
 * | oom_at_startup | last termination reason `OOMKilled` after ≤ `startupSeconds` (120) of run time | 0.92 |
 * | bad_image_or_tag | waiting ErrImagePull / ImagePullBackOff / InvalidImageName and the runtime says not found, invalid name or no matching platform (never auth or network) | 0.90 |
 * | failed_init_container | an init container terminated non-zero (`Init:Error`, `Init:CrashLoopBackOff`) | 0.88 |
 * | probe_misconfigured | the kubelet killed the container for failed liveness/startup probes and the termination is not OOMKilled | 0.85 |
 * | missing_configmap_or_secret | CreateContainerConfigError naming a ConfigMap or Secret (or its key) | 0.93 |
 * | app_panic_on_boot | a non-zero exit after ≤ `startupSeconds` whose previous log shows a panic / uncaught exception / stack trace | 0.78 |
 * | node_pressure_eviction | the kubelet evicted the pod under node pressure (reason Evicted) | 0.90 |
 *
 * Below `minConfidence` (0.70) a match is Unclassified; a rule whose facts are Unknown (the
 * events for a probe kill, the previous log for a panic) is Indeterminate. Both escalate.
 *
 * @since 0.4.0
 */
import { Classification, Fact } from "@byteport/core"
import type * as Messages from "../probes/messages"
import type * as PodWire from "../probes/podWire"
import * as Wire from "../probes/wire"
import type * as RolloutFacts from "../probes/rolloutFacts"
import type { PodFixtureFacts } from "../probes/podFixtureFacts"

/** The seven classes, in the seed's order. */
export const CLASSES = [
  "oom_at_startup",
  "bad_image_or_tag",
  "failed_init_container",
  "probe_misconfigured",
  "missing_configmap_or_secret",
  "app_panic_on_boot",
  "node_pressure_eviction"
] as const

/** A class. */
export type SevenClass = typeof CLASSES[number]

/** The confidence of each rule. */
export const CONFIDENCE: { readonly [K in SevenClass]: number } = {
  oom_at_startup: 0.92,
  bad_image_or_tag: 0.90,
  failed_init_container: 0.88,
  probe_misconfigured: 0.85,
  missing_configmap_or_secret: 0.93,
  app_panic_on_boot: 0.78,
  node_pressure_eviction: 0.90
}

/** The workload that owns the pod. */
export interface OwnerFacts {
  readonly kind: string
  readonly name: string
  readonly namespace: string
  readonly resourceVersion: string
  readonly paused: boolean
}

/** The ConfigMaps and Secrets a revision's template references, and which of them exist now. */
export interface ObjectRefs {
  readonly configMaps: ReadonlyArray<string>
  readonly secrets: ReadonlyArray<string>
  readonly missing: ReadonlyArray<string>
}

/** Facts of the pod's node. */
export interface NodeFacts {
  readonly name: string
  /** The node conditions under pressure now (`MemoryPressure`, `DiskPressure`, `PIDPressure`). */
  readonly pressure: ReadonlyArray<string>
  /** The node's allocatable memory (bytes), for the bump's "≤ 80% of node allocatable" ceiling. */
  readonly allocatableMemoryBytes: number | null
}

/** The facts the classifier and the plans read. */
export interface SevenClassFacts extends PodFixtureFacts {
  /** The container at fault (an init container for failed_init_container). */
  readonly container: string
  /** The container's memory limit (bytes), null when unset. */
  readonly memoryLimitBytes: number | null
  /** The owning workload; null for a bare pod. */
  readonly owner: OwnerFacts | null
  /** The Deployment's rollout history (null for other owners). */
  readonly history: RolloutFacts.HistoryFacts | null
  /** The last-good revision's ConfigMap/Secret references and which are missing now (null without a last-good revision). */
  readonly lastGoodObjects: ObjectRefs | null
  /** Whether BytePort holds a snapshot of the missing ConfigMap (false when snapshots are off). */
  readonly snapshot: boolean
  readonly node: NodeFacts | null
}

/** The classifier's thresholds. */
export interface Thresholds {
  /** Below this the match is Unclassified (default 0.70). */
  readonly minConfidence: number
  /** A termination within this many seconds of the start counts as "at startup" (default 120). */
  readonly startupSeconds: number
}

/** The defaults. */
export const defaults: Thresholds = { minConfidence: 0.70, startupSeconds: 120 }

/** A panic, an uncaught exception or a stack trace in a log (Go, Rust, JVM, Python, Node, .NET). */
export const PANIC = /^panic: |\bgoroutine \d+ \[running\]|thread '[^']*' panicked at|Exception in thread "main"|^Traceback \(most recent call last\)|^\s+at [\w$.<>]+\(.*\)$|Unhandled exception|UnhandledPromiseRejection|^\s*(?:Uncaught )?\w*Error: .*\n?\s+at |FATAL ERROR:|^fatal error: /m

/** Migration init containers (by name, image or command): never rolled back automatically. */
export const MIGRATION = /migrat|flyway|liquibase|alembic|schema|db-?init|sqitch|knex|prisma/i

/** The first panic line of a log, or undefined. */
export const panicLine = (lines: ReadonlyArray<string>): string | undefined => {
  const i = lines.findIndex((l) => PANIC.test(l))
  return i < 0 ? undefined : lines[i]
}

/** The init container of a pod that terminated non-zero (last or current state), if any. */
export const failedInit = (pod: PodWire.Pod): { readonly name: string; readonly exitCode: number; readonly waiting: string | null } | undefined => {
  for (const cs of pod.status?.initContainerStatuses ?? []) {
    if (Wire.isSidecar(pod, cs.name)) continue // a native sidecar is long-running: its crashes are not init failures
    const t = cs.state?.terminated ?? cs.lastState?.terminated
    if (t !== undefined && t.exitCode !== undefined && t.exitCode !== 0) return { name: cs.name, exitCode: t.exitCode, waiting: cs.state?.waiting?.reason ?? null }
  }
  return undefined
}

/** The memory limit of a container, from the pod spec. */
export const containerOf = (pod: PodWire.Pod, name: string) =>
  [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c) => c.name === name)

/** Whether the pod was evicted by the kubelet under node pressure. */
export const evicted = (pod: PodWire.Pod): boolean => pod.status?.phase === "Failed" && pod.status.reason === "Evicted"

/** Whether a termination is an OOM at startup. */
export const oomAtStartup = (t: Messages.Termination | null, startupSeconds: number): boolean =>
  t?.reason === "OOMKilled" && (t.ranMs === null || t.ranMs <= startupSeconds * 1000)

const BAD_IMAGE: ReadonlySet<string> = new Set(["not_found", "invalid_name", "platform"])
const PULL_WAITING: ReadonlySet<string> = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName"])

/** The classifier: the seed's first match over the facts. */
export const classify = (t: Thresholds = defaults) => (facts: Fact.Facts<SevenClassFacts>): Classification.Classification => {
  const pod = Fact.value(facts.pod)
  const container = Fact.value(facts.container)
  if (!pod || !container) return Classification.indeterminate("describe pod", Fact.unknownKeys(facts).filter((k) => k === "pod" || k === "container"), ["the pod could not be read"])
  const term = Fact.value(facts.termination) ?? null
  const waiting = Fact.value(facts.waiting) ?? null
  const out = (cls: SevenClass, reasons: ReadonlyArray<string>): Classification.Classification =>
    CONFIDENCE[cls] < t.minConfidence
      ? Classification.unclassified([`${cls} matched with confidence ${CONFIDENCE[cls]}, below ${t.minConfidence}`, ...reasons])
      : Classification.classified(cls, CONFIDENCE[cls], reasons)
  const where = `${pod.metadata.namespace ?? "default"}/${pod.metadata.name} container ${container}`

  // 1. oom_at_startup: the kubelet's OOMKilled within the start-up window
  if (oomAtStartup(term, t.startupSeconds)) {
    return out("oom_at_startup", [`${where} was OOMKilled (exit ${term!.exitCode ?? "?"}) after ${term!.ranMs === null ? "an unknown run time" : `${Math.round(term!.ranMs / 1000)} s`} (≤ ${t.startupSeconds} s: at start-up)`])
  }
  // 2. bad_image_or_tag: the runtime says the reference does not exist (never auth or network)
  if (waiting !== null && PULL_WAITING.has(waiting.reason)) {
    const pull = Fact.value(facts.imagePull) ?? null
    if (pull !== null && BAD_IMAGE.has(pull.cause)) {
      return out("bad_image_or_tag", [`${where} waits in ${waiting.reason}: ${pull.cause} (${pull.reference ?? "image"})`])
    }
  }
  // 3. failed_init_container
  const init = failedInit(pod)
  if (init !== undefined) {
    return out("failed_init_container", [`init container ${init.name} of ${pod.metadata.name} exited ${init.exitCode}${init.waiting ? ` (${init.waiting})` : ""}`])
  }
  // 4. probe_misconfigured: the kubelet's probe kills, not an OOM
  const killedBy137 = term !== null && (term.exitCode === 137 || term.exitCode === 143) && term.reason !== "OOMKilled"
  const probes = facts.probeFailures
  if (probes._tag === "Known") {
    const kills = probes.value.filter((p) => p.kill && (p.probe === "Liveness" || p.probe === "Startup") && (p.container === null || p.container === container))
    if (kills.length > 0 && term?.reason !== "OOMKilled") {
      const failures = probes.value.filter((p) => !p.kill && (p.probe === "Liveness" || p.probe === "Startup"))
      const last = failures.at(-1)
      return out("probe_misconfigured", [`the kubelet killed ${where} ${kills.length}× for failed ${kills[0]!.probe.toLowerCase()} probes${last ? ` (last: ${last.failure}${last.statusCode ? ` ${last.statusCode}` : ""})` : ""}`])
    }
  } else if (killedBy137) {
    return Classification.indeterminate("probe_misconfigured", ["probeFailures"], [`${where} exited ${term!.exitCode} without OOMKilled; the Events that would show probe kills are unknown`])
  }
  // 5. missing_configmap_or_secret
  if (waiting?.reason === "CreateContainerConfigError") {
    const ce = Fact.value(facts.configError) ?? null
    if (ce !== null) return out("missing_configmap_or_secret", [`${where}: CreateContainerConfigError: ${ce.kind} ${ce.name}${ce.key ? ` (key ${ce.key})` : ""} not found`])
  }
  // 6. app_panic_on_boot: a log pattern, so below every kubelet reason
  if (term !== null && term.exitCode !== null && term.exitCode !== 0 && !killedBy137 && (term.ranMs === null || term.ranMs <= t.startupSeconds * 1000)) {
    const log = facts.previousLog
    if (log._tag === "Unknown") {
      return Classification.indeterminate("app_panic_on_boot", ["previousLog"], [`${where} exited ${term.exitCode} at start-up; its previous log is unknown (${log.reason})`])
    }
    const line = panicLine(log.value.lines)
    if (line !== undefined) return out("app_panic_on_boot", [`${where} exited ${term.exitCode} after ${term.ranMs === null ? "?" : Math.round(term.ranMs / 1000)} s; previous log: ${line.trim()}`])
  }
  // 7. node_pressure_eviction
  if (evicted(pod)) {
    return out("node_pressure_eviction", [`${pod.metadata.name} was evicted from ${pod.spec.nodeName ?? "its node"}: ${pod.status?.message ?? "Evicted"}`])
  }
  return Classification.unclassified([`${where} matches none of the seven classes${term ? ` (last exit ${term.exitCode ?? "?"} ${term.reason ?? ""})` : ""}${waiting ? ` (waiting ${waiting.reason})` : ""}`])
}
