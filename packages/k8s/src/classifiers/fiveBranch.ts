/**
 * The classifier of `k8s.crashloop.five-branch`: the seed's five classes in the seed's order,
 * kubelet and runtime reasons ranked above log patterns (first match, ≥ 0.70):
 *
 * | # | class | rule (evidence) | confidence |
 * |---|---|---|---|
 * | 1 | config_error_missing_env | kubelet: CreateContainerConfigError for a ConfigMap/Secret (or key) that backs an env var | 0.92 |
 * | 2 | image_pull_failure | runtime: the container waits in ErrImagePull / ImagePullBackOff / InvalidImageName | 0.93 |
 * | 3 | liveness_probe_misconfigured | kubelet: the last run ended in a liveness kill (`failed liveness probe, will be restarted`, exit 137, reason not OOMKilled) | 0.88 |
 * | 4 | oom_at_startup | runtime: reason OOMKilled before the pod's first Ready in that run, or within `oomStartupSeconds` (120) of its start | 0.90 |
 * | 5 | config_error_missing_env | log: the previous log says a required environment variable is not set, and the process exited on its own | 0.82 |
 * | 6 | dependency_not_ready | log: the previous log's last failed connection (refused, DNS, timeout) goes to a Service with no ready endpoints (0.80), or to a host outside the cluster (0.72) | 0.80 / 0.72 |
 *
 * Near misses, each a test: exit 137 with reason Error after liveness kills is a liveness kill,
 * never an OOM; an OOMKill after 121 s of a run that was Ready is not at startup; connection
 * refused to a Service that has ready endpoints is not dependency_not_ready (the dependency is up:
 * escalate); a DNS failure for a Service that does not exist is not "not ready" either.
 *
 * A rule that needs an Unknown fact before any match makes the result Indeterminate (escalate).
 *
 * @since 0.3.0
 */
import { Classifier } from "@byteport/core"
import type { V1Probe } from "@kubernetes/client-node"
import type { PodFacts } from "./oom"
import type * as Dependency from "../probes/dependency"
import type * as LastDeploy from "../probes/lastDeploy"
import * as Messages from "../probes/messages"
import type * as PodEvents from "../probes/events"
import type * as PodLogs from "../probes/podLogs"
import type * as PodWire from "../probes/podWire"

/** The classes, in the seed's order. */
export const CLASSES = ["config_error_missing_env", "image_pull_failure", "liveness_probe_misconfigured", "oom_at_startup", "dependency_not_ready"] as const

/** A class. */
export type Class = typeof CLASSES[number]

/** Where an env var's value comes from. */
export interface EnvSource {
  readonly variable: string
  /** `literal ""`, `ConfigMap api-config key flags`, `Secret db key url (optional)`, `envFrom ConfigMap api-env`, `not declared` … */
  readonly source: string
}

/** The container at fault, beyond `PodFacts`. */
export interface ContainerFacts {
  readonly uid: string
  readonly container: string
  /** The current waiting state. */
  readonly waiting: { readonly reason: string; readonly message: string | null } | null
  /** The last termination (lastState, else state), parsed. */
  readonly termination: Messages.Termination | null
  /** Whether the pod was Ready during the container's last run (null: cannot tell). */
  readonly readyInLastRun: boolean | null
  readonly livenessProbe: V1Probe | null
  readonly startupProbe: V1Probe | null
  /** The container's env entries and envFrom sources, described (values never kept). */
  readonly env: ReadonlyArray<EnvSource>
  /** envFrom sources (`ConfigMap x`, `Secret y`, with prefix). */
  readonly envFrom: ReadonlyArray<string>
}

/** The node's allocatable memory (the bump's ceiling). */
export interface NodeMemory {
  readonly allocatableMemoryBytes: number | null
}

/** Everything the five-branch runbook diagnoses. */
export interface FiveBranchFacts {
  readonly pod: PodFacts
  readonly container: ContainerFacts
  /** The container's Events (and the pod's), oldest first. */
  readonly events: ReadonlyArray<PodEvents.PodEvent>
  /** The previous container's log, redacted. */
  readonly previousLog: PodLogs.PreviousLog
  /** The Deployment's current-vs-previous revision diff; null: not a Deployment. */
  readonly rollout: LastDeploy.TemplateDiff | null
  readonly node: NodeMemory | null
  /** The dependency of the log's last failed connection; null: the log shows none. */
  readonly dependency: Dependency.DependencyFacts | null
}

/** Thresholds and confidences (all configurable). */
export interface Thresholds {
  readonly minConfidence: number
  /** An OOMKill within this many seconds of the container's start is at startup (120). */
  readonly oomStartupSeconds: number
  readonly confidence: {
    readonly configErrorKubelet: number
    readonly imagePull: number
    readonly liveness: number
    readonly oomAtStartup: number
    readonly configErrorLog: number
    readonly dependencyService: number
    readonly dependencyExternal: number
  }
}

/** The documented defaults. */
export const defaults: Thresholds = {
  minConfidence: 0.7,
  oomStartupSeconds: 120,
  confidence: {
    configErrorKubelet: 0.92,
    imagePull: 0.93,
    liveness: 0.88,
    oomAtStartup: 0.9,
    configErrorLog: 0.82,
    dependencyService: 0.8,
    dependencyExternal: 0.72
  }
}

const PULL_REASONS: ReadonlySet<string> = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName"])

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** Describes where one env entry's value comes from (never the value). */
export const describeEnv = (e: { readonly name: string; readonly value?: string | undefined; readonly valueFrom?: unknown }): EnvSource => {
  const vf = e.valueFrom
  if (isObj(vf)) {
    for (const [k, kind] of [["configMapKeyRef", "ConfigMap"], ["secretKeyRef", "Secret"]] as const) {
      const r = vf[k]
      if (isObj(r)) return { variable: e.name, source: `${kind} ${String(r["name"] ?? "?")} key ${String(r["key"] ?? "?")}${r["optional"] === true ? " (optional)" : ""}` }
    }
    if (isObj(vf["fieldRef"])) return { variable: e.name, source: `fieldRef ${String(vf["fieldRef"]["fieldPath"] ?? "?")}` }
    if (isObj(vf["resourceFieldRef"])) return { variable: e.name, source: `resourceFieldRef ${String(vf["resourceFieldRef"]["resource"] ?? "?")}` }
  }
  return { variable: e.name, source: e.value === undefined || e.value === "" ? `literal "" (empty)` : "literal value" }
}

/** Describes an envFrom entry. */
export const describeEnvFrom = (f: unknown): string | undefined => {
  if (!isObj(f)) return undefined
  const prefix = typeof f["prefix"] === "string" && f["prefix"] ? ` (prefix ${f["prefix"]})` : ""
  if (isObj(f["configMapRef"])) return `envFrom ConfigMap ${String(f["configMapRef"]["name"] ?? "?")}${prefix}${f["configMapRef"]["optional"] === true ? " (optional)" : ""}`
  if (isObj(f["secretRef"])) return `envFrom Secret ${String(f["secretRef"]["name"] ?? "?")}${prefix}${f["secretRef"]["optional"] === true ? " (optional)" : ""}`
  return undefined
}

/** The source of `variable` in a container's env (named precisely, or where it could come from). */
export const sourceOf = (c: Pick<ContainerFacts, "env" | "envFrom">, variable: string): string => {
  const e = c.env.find((x) => x.variable === variable)
  if (e) return e.source
  if (c.envFrom.length > 0) return `not in env; expected from ${c.envFrom.join(", ")}, which has no such key`
  return "not declared in the container spec: no env entry, no envFrom"
}

/**
 * Whether the pod was Ready during the container's last run: the Ready condition turned False at
 * or after that run's start (it was True during the run), or it is True now while the run is the
 * current one. Null when the times are missing.
 */
export const readyInLastRun = (pod: PodWire.Pod, term: Messages.Termination | null): boolean | null => {
  const cond = pod.status?.conditions?.find((c) => c.type === "Ready")
  const started = term?.startedAt ? Date.parse(term.startedAt) : Number.NaN
  const at = cond?.lastTransitionTime ? Date.parse(cond.lastTransitionTime) : Number.NaN
  if (!cond || !Number.isFinite(started) || !Number.isFinite(at)) return null
  if (cond.status === "True") return null
  return at >= started
}

/** The ContainerFacts of a wire pod's container. */
export const containerFacts = (pod: PodWire.Pod, container: string): ContainerFacts => {
  const spec = pod.spec.containers.find((c) => c.name === container)
  const st = pod.status?.containerStatuses?.find((c) => c.name === container)
  const t = st?.lastState?.terminated ?? st?.state?.terminated
  const termination = t !== undefined ? Messages.termination(t) : null
  const w = st?.state?.waiting
  return {
    uid: pod.metadata.uid ?? "",
    container,
    waiting: w?.reason !== undefined ? { reason: w.reason, message: w.message ?? null } : null,
    termination,
    readyInLastRun: readyInLastRun(pod, termination),
    livenessProbe: (spec?.livenessProbe ?? null) as V1Probe | null,
    startupProbe: (spec?.startupProbe ?? null) as V1Probe | null,
    env: (spec?.env ?? []).map(describeEnv),
    envFrom: (spec?.envFrom ?? []).flatMap((f) => describeEnvFrom(f) ?? [])
  }
}

/** The liveness failures and kills of the container in the Events. */
export const livenessEvents = (events: ReadonlyArray<PodEvents.PodEvent>, container: string) => {
  const parsed = events.flatMap((e) => {
    if (e.container !== null && e.container !== container) return []
    const p = Messages.probe(e.message)
    return p && p.probe === "Liveness" && (p.container === null || p.container === container) ? [{ ...p, count: e.count }] : []
  })
  const kills = parsed.filter((p) => p.kill).reduce((a, p) => a + Math.max(1, p.count), 0)
  const failures = parsed.filter((p) => !p.kill)
  return { kills, last: failures.at(-1) ?? null }
}

const period = (p: V1Probe) => p.periodSeconds ?? 10
const threshold = (p: V1Probe) => p.failureThreshold ?? 3
const timeoutOf = (p: V1Probe) => p.timeoutSeconds ?? 1

/** Seconds from a container's start to the liveness probe's first possible kill. */
export const firstKillSeconds = (p: V1Probe): number => (p.initialDelaySeconds ?? 0) + threshold(p) * period(p)

/**
 * Whether the last run was killed before the pod's first Ready: the Ready condition says so, or
 * (when it cannot tell) the run lasted no longer than the liveness budget plus one period.
 */
export const killedBeforeFirstReady = (c: ContainerFacts): boolean => {
  if (c.readyInLastRun !== null) return !c.readyInLastRun
  const l = c.livenessProbe
  const ran = c.termination?.ranMs
  if (!l || ran === null || ran === undefined) return false
  return ran <= (firstKillSeconds(l) + period(l) + timeoutOf(l)) * 1000
}

const ENV_PATTERNS: ReadonlyArray<RegExp> = [
  /(?:required )?env(?:ironment)?(?: variable| var)? "?'?([A-Za-z_][A-Za-z0-9_]*)"?'? (?:is )?(?:not set|unset|missing|empty|required|must be set)/i,
  /missing (?:required )?env(?:ironment)?(?: variable| var)?:? "?'?([A-Za-z_][A-Za-z0-9_]*)/i,
  /"?([A-Z_][A-Z0-9_]*)"? (?:environment variable|env var) (?:is )?(?:not set|missing|required|must be set)/,
  /KeyError: '([A-Z_][A-Z0-9_]*)'/
]

/** The variable a log reports missing (the last such line), with the line. */
export const missingEnvInLog = (lines: ReadonlyArray<string>): { readonly variable: string; readonly line: string } | undefined => {
  for (let i = lines.length - 1; i >= 0; i--) {
    for (const re of ENV_PATTERNS) {
      const m = re.exec(lines[i]!)
      if (m) return { variable: m[1]!, line: lines[i]! }
    }
  }
  return undefined
}

/** The env vars a CreateContainerConfigError's missing object (or key) backs. */
export const envBackedBy = (c: ContainerFacts, e: Messages.ConfigError): ReadonlyArray<EnvSource> => {
  const wanted = `${e.kind} ${e.name} key `
  const direct = c.env.filter((x) => x.source.startsWith(wanted) && (e.key === null || x.source.startsWith(`${wanted}${e.key}`)))
  if (direct.length) return direct
  const from = c.envFrom.filter((f) => f.startsWith(`envFrom ${e.kind} ${e.name}`))
  return e.key === null ? from.map((f) => ({ variable: "(every variable of the source)", source: f })) : []
}

const rule = Classifier.rule<FiveBranchFacts>()

/** The rules, in order (kubelet/runtime reasons, then log patterns). */
export const rules = (t: Thresholds = defaults): ReadonlyArray<Classifier.Rule<FiveBranchFacts>> => [
  rule({
    class: "config_error_missing_env",
    confidence: t.confidence.configErrorKubelet,
    needs: ["container"],
    description: "kubelet: CreateContainerConfigError for an object that backs an env var",
    when: ({ container: c }) => {
      if (c.waiting?.reason !== "CreateContainerConfigError" || c.waiting.message === null) return false
      const e = Messages.configError(c.waiting.message)
      const vars = e ? envBackedBy(c, e) : []
      if (!e || vars.length === 0) return false
      return {
        matched: true,
        reasons: vars.map((v) => `env ${v.variable} comes from ${v.source}: ${c.waiting!.message}`),
        evidence: { variables: vars.map((v) => ({ variable: v.variable, source: v.source })), missing: { kind: e.kind, name: e.name, key: e.key }, via: "kubelet" }
      }
    }
  }),
  rule({
    class: "image_pull_failure",
    confidence: t.confidence.imagePull,
    needs: ["container"],
    description: "runtime: the image cannot be pulled",
    when: ({ container: c }) => {
      if (!c.waiting || !PULL_REASONS.has(c.waiting.reason)) return false
      const pull = Messages.imagePull(c.waiting.message ?? "")
      return { matched: true, reasons: [`${c.waiting.reason}: ${c.waiting.message ?? "(no message)"}`], evidence: { reason: c.waiting.reason, cause: pull.cause, reference: pull.reference } }
    }
  }),
  rule({
    class: "liveness_probe_misconfigured",
    confidence: t.confidence.liveness,
    needs: ["container", "events"],
    description: "kubelet: the last run ended in a liveness kill",
    when: ({ container: c, events }) => {
      const term = c.termination
      if (!term || term.reason === "OOMKilled" || term.exitCode !== 137 || !c.livenessProbe) return false
      const l = livenessEvents(events, c.container)
      if (l.kills === 0) return false
      const before = killedBeforeFirstReady(c)
      return {
        matched: true,
        reasons: [`${l.kills} liveness kill(s); exit 137 reason ${term.reason ?? "none"} (not OOMKilled)`, `last failure: ${l.last?.detail ?? "not recorded"}`, before ? "killed before the pod's first Ready" : "killed after the pod was Ready"],
        evidence: { kills: l.kills, failure: l.last?.failure ?? null, statusCode: l.last?.statusCode ?? null, beforeFirstReady: before, ranMs: term.ranMs }
      }
    }
  }),
  rule({
    class: "oom_at_startup",
    confidence: t.confidence.oomAtStartup,
    needs: ["container"],
    description: "runtime: OOMKilled before first Ready or within the start-up window",
    when: ({ container: c }) => {
      const term = c.termination
      if (term?.reason !== "OOMKilled") return false
      const early = term.ranMs !== null && term.ranMs <= t.oomStartupSeconds * 1000
      const neverReady = c.readyInLastRun === false
      if (!early && !neverReady) return false
      return {
        matched: true,
        reasons: [`OOMKilled after ${term.ranMs === null ? "an unknown time" : `${Math.round(term.ranMs / 1000)} s`}${neverReady ? ", before the pod's first Ready" : ""} (start-up window ${t.oomStartupSeconds} s)`],
        evidence: { ranMs: term.ranMs, readyInLastRun: c.readyInLastRun, windowSeconds: t.oomStartupSeconds }
      }
    }
  }),
  rule({
    class: "config_error_missing_env",
    confidence: t.confidence.configErrorLog,
    needs: ["container", "previousLog"],
    description: "log: a required environment variable is not set",
    when: ({ container: c, previousLog }) => {
      const term = c.termination
      if (!term || term.exitCode === null || term.exitCode === 0 || term.exitCode === 137 || term.reason === "OOMKilled") return false
      const m = missingEnvInLog(previousLog.lines)
      if (!m) return false
      const source = sourceOf(c, m.variable)
      return {
        matched: true,
        reasons: [`the app exits ${term.exitCode}: "${m.line}"`, `${m.variable}: ${source}`],
        evidence: { variables: [{ variable: m.variable, source }], line: m.line, exitCode: term.exitCode, via: "log" }
      }
    }
  }),
  rule({
    class: "dependency_not_ready",
    confidence: (f) => (f.dependency?.service ? t.confidence.dependencyService : t.confidence.dependencyExternal),
    needs: ["container", "previousLog", "dependency"],
    description: "log: the dependency the app connects to is not ready",
    when: ({ container: c, dependency: d }) => {
      const term = c.termination
      if (!d || !term || term.exitCode === 0 || term.reason === "OOMKilled" || term.exitCode === 137) return false
      if (d.failure === "reset") return false
      if (d.service) {
        if (d.service.readyEndpoints > 0) return false
        return {
          matched: true,
          reasons: [`"${d.line}"`, `service ${d.service.namespace}/${d.service.name} has ${d.service.readyEndpoints} ready endpoints (of ${d.service.endpoints})`],
          evidence: { host: d.host, port: d.port, failure: d.failure, service: d.service.name, namespace: d.service.namespace, readyEndpoints: 0 }
        }
      }
      // a cluster-local name that is no Service: the dependency is missing, not "not ready"
      if (!/^[0-9.]+$/.test(d.host) && (!d.host.includes(".") || /\.svc(\.|$)/.test(d.host))) return false
      return { matched: true, reasons: [`"${d.line}"`, `${d.host} is outside the cluster's Services`], evidence: { host: d.host, port: d.port, failure: d.failure, service: null } }
    }
  })
]

/** The classifier. */
export const classify = (t: Thresholds = defaults): Classifier.Classifier<FiveBranchFacts> => Classifier.firstMatch(rules(t), { minConfidence: t.minConfidence })

/** The variables and their sources of a config_error_missing_env classification's evidence. */
export const variablesOf = (evidence: unknown): ReadonlyArray<EnvSource> => {
  const v = isObj(evidence) ? evidence["variables"] : undefined
  return Array.isArray(v) ? v.flatMap((x) => (isObj(x) && typeof x["variable"] === "string" ? [{ variable: x["variable"], source: String(x["source"] ?? "unknown") }] : [])) : []
}

