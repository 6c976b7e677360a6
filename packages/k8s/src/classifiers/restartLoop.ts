/**
 * k8s.restart-loop.container: "Breaks container restart loops by diagnosing root cause from
 * logs, exit codes, and image SHA — then applying the correct class-specific fix: escalate on
 * config/secret errors, chain on dependency failures, bump memory on OOM, rollback on port-bind
 * or image-pull failures."
 *
 * Classes in the seed's order; the kubelet's and runtime's reasons are checked before the log
 * patterns (so an OOMKilled container whose log says "connection refused" is an OOM):
 *
 * | class | rule | confidence |
 * |---|---|---|
 * | config_or_secret | CreateContainerConfigError (kubelet) | 0.93 |
 * | | exit 78 (EX_CONFIG) | 0.85 |
 * | | previous log: a required variable / configuration / secret error (log) | 0.76 |
 * | dependency_failure | previous log: connection refused, no such host, i/o timeout to another host (log) | 0.80 |
 * | oom | last termination OOMKilled (kubelet) | 0.92 |
 * | port_bind | previous log: address already in use / EADDRINUSE (log) | 0.85 |
 * | image_pull | ErrImagePull / ImagePullBackOff / InvalidImageName (kubelet) | 0.90 |
 * | | re-pushed tag: the container runs another digest of the same image reference than a Ready pod of the workload (image SHA) | 0.88 |
 *
 * Below `minConfidence` (0.70) → Unclassified; the previous log Unknown where only a log pattern
 * could decide → Indeterminate; both escalate.
 *
 * @since 0.4.0
 */
import { Classification, Fact } from "@byteport/core"
import * as Messages from "../probes/messages"
import type { SevenClassFacts } from "./sevenClass"

/** The classes, in the seed's order. */
export const CLASSES = ["config_or_secret", "dependency_failure", "oom", "port_bind", "image_pull"] as const

/** A class. */
export type RestartLoopClass = typeof CLASSES[number]

/** The confidence of each rule. */
export const CONFIDENCE = {
  configErrorReason: 0.93,
  exitConfig: 0.85,
  configLog: 0.76,
  dependencyLog: 0.80,
  oomKilled: 0.92,
  portBindLog: 0.85,
  pullReason: 0.90,
  rePushedTag: 0.88
} as const

/** Another pod of the workload and what its container runs. */
export interface Sibling {
  readonly pod: string
  readonly ready: boolean
  readonly image: string | null
  readonly imageID: string | null
  readonly digest: string | null
}

/** The facts: the seven-class facts plus the workload's other pods. */
export interface RestartLoopFacts extends SevenClassFacts {
  /** The workload's pods (all revisions) and what the container runs in each. */
  readonly siblings: ReadonlyArray<Sibling>
}

/** The thresholds. */
export interface Thresholds {
  readonly minConfidence: number
}

/** The defaults. */
export const defaults: Thresholds = { minConfidence: 0.70 }

/** A configuration or secret error in a log line. */
export const CONFIG_LOG = /required (?:environment )?variable \S+ is not set|environment variable \S+ (?:is )?(?:not set|missing|required)|invalid configuration|missing required (?:config|setting|secret)|config(?:uration)? (?:file )?not found|secret \S+ not found/i
/** A dependency failure in a log line (the address it names). */
export const DEPENDENCY_LOG = /(?:dial tcp (?:lookup )?(\S+?)(?: on \S+)?:? .*(?:connection refused|no such host|i\/o timeout))|ECONNREFUSED (\S+)|could not connect to (?:server|database|host) (\S+)/i
/** A port already bound in a log line. */
export const PORT_BIND_LOG = /address already in use|EADDRINUSE|port is already allocated/i

/** The first log line matching `re`. */
export const lineOf = (lines: ReadonlyArray<string>, re: RegExp): string | undefined => lines.find((l) => re.test(l))

/** The dependency a log line names: `{ host, port }` from `dial tcp 10.96.0.12:5432` / `failed to connect to postgres`. */
export const dependencyOf = (line: string): { readonly name: string; readonly endpoint: string | null } => {
  const named = /failed to connect to ([\w.-]+)/.exec(line)?.[1]
  const addr = /dial tcp (?:lookup )?([\w.-]+(?::\d+)?)/.exec(line)?.[1] ?? /ECONNREFUSED (\S+)/.exec(line)?.[1] ?? null
  return { name: named ?? addr?.split(":")[0]?.split(".")[0] ?? "unknown", endpoint: addr }
}

/** The Ready sibling running the same image reference at another digest (a re-pushed tag), if any. */
export const rePushed = (facts: Fact.Facts<RestartLoopFacts>): { readonly image: string; readonly from: string; readonly lastGood: Sibling } | undefined => {
  const container = Fact.value(facts.container)
  const mine = (Fact.value(facts.imageIds) ?? []).find((i) => i.container === container)
  if (!mine?.image || !mine.digest) return undefined
  const good = (Fact.value(facts.siblings) ?? []).find((s) => s.ready && s.image === mine.image && s.digest !== null && s.digest !== mine.digest)
  return good ? { image: mine.image, from: mine.digest, lastGood: good } : undefined
}

const PULL_WAITING: ReadonlySet<string> = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName"])

/** The classifier. */
export const classify = (t: Thresholds = defaults) => (facts: Fact.Facts<RestartLoopFacts>): Classification.Classification => {
  const pod = Fact.value(facts.pod)
  const container = Fact.value(facts.container)
  if (!pod || !container) return Classification.indeterminate("describe pod", ["pod"], ["the pod could not be read"])
  const where = `${pod.metadata.namespace ?? "default"}/${pod.metadata.name} container ${container}`
  const out = (cls: RestartLoopClass, confidence: number, reasons: ReadonlyArray<string>) =>
    confidence < t.minConfidence
      ? Classification.unclassified([`${cls} matched with confidence ${confidence}, below ${t.minConfidence}`, ...reasons])
      : Classification.classified(cls, confidence, reasons)
  const term = Fact.value(facts.termination) ?? null
  const waiting = Fact.value(facts.waiting) ?? null
  // kubelet and runtime reasons first (seed order among them)
  if (waiting?.reason === "CreateContainerConfigError") {
    const ce = Fact.value(facts.configError) ?? null
    return out("config_or_secret", CONFIDENCE.configErrorReason, [`${where}: CreateContainerConfigError${ce ? `: ${ce.kind} ${ce.name}${ce.key ? ` key ${ce.key}` : ""} not found` : ""}`])
  }
  if (term?.exitCode === 78) return out("config_or_secret", CONFIDENCE.exitConfig, [`${where} exited 78 (EX_CONFIG)`])
  if (term?.reason === "OOMKilled") return out("oom", CONFIDENCE.oomKilled, [`${where} was OOMKilled (exit ${term.exitCode ?? "?"})`])
  if (waiting !== null && PULL_WAITING.has(waiting.reason)) {
    const pull = Fact.value(facts.imagePull) ?? null
    return out("image_pull", CONFIDENCE.pullReason, [`${where} waits in ${waiting.reason}${pull ? `: ${pull.cause} (${pull.reference ?? "image"})` : ""}`])
  }
  const rp = rePushed(facts)
  if (rp && term !== null && term.exitCode !== 0) {
    return out("image_pull", CONFIDENCE.rePushedTag, [`${where} runs ${rp.image} at ${rp.from}; Ready pod ${rp.lastGood.pod} runs it at ${rp.lastGood.digest}: the tag was re-pushed`])
  }
  // log patterns
  if (term === null || term.exitCode === 0 || Messages.exitMeaning(term.exitCode, term.reason) === "sigkill") {
    return Classification.unclassified([`${where}: no failed termination to diagnose${term ? ` (exit ${term.exitCode ?? "?"} ${term.reason ?? ""})` : ""}`])
  }
  const log = facts.previousLog
  if (log._tag === "Unknown") return Classification.indeterminate("previous log", ["previousLog"], [`${where} exited ${term.exitCode}; its previous log is unknown (${log.reason})`])
  const lines = log.value.lines
  const cfg = lineOf(lines, CONFIG_LOG)
  if (cfg) return out("config_or_secret", CONFIDENCE.configLog, [`${where} exited ${term.exitCode}: ${cfg.trim()}`])
  const dep = lineOf(lines, DEPENDENCY_LOG)
  if (dep) return out("dependency_failure", CONFIDENCE.dependencyLog, [`${where} exited ${term.exitCode}: ${dep.trim()}`])
  const bind = lineOf(lines, PORT_BIND_LOG)
  if (bind) return out("port_bind", CONFIDENCE.portBindLog, [`${where} exited ${term.exitCode}: ${bind.trim()}`])
  return Classification.unclassified([`${where} exited ${term.exitCode} (${term.reason ?? "no reason"}); nothing in its previous log matches a class`])
}
