/**
 * k8s.crashloop.exit-code — "Detects Kubernetes pods in crashloop and classifies the exit code
 * (OOMKilled, missing binary, image auth, config error) before safely restarting with back-off
 * guard."
 *
 * - **Detect** (the shared pod watch; no polling): CrashLoopBackOff, CreateContainerConfigError,
 *   ErrImagePull/ImagePullBackOff (`CrashLoopDetector`, `ConfigErrorDetector`, `ImagePullDetector`).
 * - **Diagnose**: the pod and the container at fault (`subject`), its owning workload (`owner`),
 *   and the ConfigMaps, Secrets, pull secrets and ServiceAccount it depends on, with their
 *   resourceVersions (`refs`, `PodRefs`; never a Secret value). Each fact fails alone.
 * - **Classify**: `classifiers/exitCode.ts` (seed order, kubelet/runtime reasons above exit
 *   codes, ≥ 0.70).
 * - **Remediate**: `remediators/exitCode.ts`: OOMKilled → the `oom.observed` hand-off; the other
 *   classes → wait until the cause is verified gone, then one `k8s.restartPod`.
 * - **Guardrails** (runbook level, on its restarts; the kind adds never-Ready/bare and 3 per pod
 *   per hour): `Guardrail.backoff` 30 s × 2^N, cap 300 s between restarts of one workload, and
 *   at most 3 restarts per workload per hour — the 4th is denied and the incident escalates.
 * - **Verify**: `PodVerifiers.restarted` — the replacement pod started, Ready for max(2× its
 *   longest pre-crash run, 2 min), restartCount stable; retried once at 15 s.
 *
 * @since 0.3.0
 */
import { type Classification, Detector, Diagnoser, Fact, Guardrail, Runbook, Settings, type Signal, TargetRef } from "@byteport/core"
import { Config, type Duration, Effect } from "effect"
import * as RestartPod from "../actions/restartPod"
import * as Classifier from "../classifiers/exitCode"
import type { ExitCodeFacts } from "../classifiers/exitCode"
import * as ConfigErrorDetector from "../detectors/configError"
import * as CrashLoopDetector from "../detectors/crashLoop"
import * as ImagePullDetector from "../detectors/imagePull"
import { PodSignalTypes } from "../detectors/podSignals"
import { Kube } from "../Kube"
import * as PodProbe from "../probes/podFacts"
import * as PodRefs from "../probes/podRefs"
import * as Remediator from "../remediators/exitCode"
import * as Targets from "../targets/Targets"
import * as PodVerifiers from "../verifiers/pod"
import { Ids, Family, precedenceOf } from "./families"

/** The runbook id. */
export const ID = Ids.crashloopExitCode

/** The restart guardrails' settings. */
export interface RestartGuard {
  /** Backoff base between restarts of one workload (seconds, default 30). */
  readonly backoffBaseSeconds: number
  /** Backoff cap (seconds, default 300). */
  readonly backoffCapSeconds: number
  /** Restarts per workload per hour (default 3): the next one escalates. */
  readonly restartsPerHour: number
}

/** The defaults: 30 s × 2^N, cap 300 s; 3 per workload per hour. */
export const restartDefaults: RestartGuard = { backoffBaseSeconds: 30, backoffCapSeconds: 300, restartsPerHour: 3 }

/** Everything configurable. */
export interface Options {
  readonly thresholds?: Classifier.Thresholds
  readonly remediation?: Remediator.ExitCodeRemediation
  readonly restart?: RestartGuard
  readonly verify?: PodVerifiers.PodVerifySettings
  /** Limit the watch to one namespace. */
  readonly namespace?: string
  /** Per-probe timeout (default 10 s). */
  readonly probeTimeout?: Duration.Input
  /** The mode when BYTEPORT_MODE_K8S_CRASHLOOP_EXIT_CODE / BYTEPORT_MODE say nothing (default dry_run). */
  readonly defaultMode?: "observe" | "dry_run" | "auto"
}

/** The signal types it owns. */
export const signals: ReadonlyArray<string> = [PodSignalTypes.crashLoopBackOff, PodSignalTypes.configError, PodSignalTypes.imagePull]

const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined)

/** The pod and container a signal is about. */
export const subjectOf = (signal: Signal.Signal): Effect.Effect<{ readonly namespace: string; readonly pod: string; readonly container: string | undefined }, Error> => {
  const ev = signal.evidence
  const pod = str(ev["pod"])
  const namespace = str(ev["namespace"])
  if (!pod || !namespace) return Effect.fail(new Error("the signal names no pod (evidence.pod / evidence.namespace)"))
  const w = Targets.parseSync(signal.target)
  return Effect.succeed({ namespace, pod, container: str(ev["container"]) ?? (w instanceof Targets.InvalidTargetRef || w._tag !== "Workload" ? undefined : w.container) })
}

/** The diagnoser: subject, owner and refs, each failing alone. */
export const diagnose = (timeout: Duration.Input = "10 seconds"): Diagnoser.Diagnoser<ExitCodeFacts, Kube> =>
  Diagnoser.make<ExitCodeFacts, Kube>({
    subject: Diagnoser.probe("describe pod", (signal) =>
      Effect.gen(function*() {
        const s = yield* subjectOf(signal)
        const pod = yield* PodProbe.getPodWire(s.namespace, s.pod)
        return { pod, container: PodProbe.containerName(pod, s.container) }
      })),
    owner: Diagnoser.probe("owning workload", (signal) =>
      Effect.gen(function*() {
        const s = yield* subjectOf(signal)
        return yield* PodProbe.ownerWorkload(yield* PodProbe.getPodWire(s.namespace, s.pod))
      })),
    refs: Diagnoser.probe("configmaps, secrets and pull secrets", (signal) =>
      Effect.gen(function*() {
        const s = yield* subjectOf(signal)
        const pod = yield* PodProbe.getPodWire(s.namespace, s.pod)
        return yield* PodRefs.probe(s.namespace, pod, PodProbe.containerName(pod, s.container))
      }))
  }, { timeout })

/** The workload a guardrail context's incident is about (its signal's target without the container). */
export const workloadKey = (ctx: Guardrail.GuardrailContext): string => {
  const t = Targets.parseSync(ctx.signal.target)
  return t instanceof Targets.InvalidTargetRef || t._tag !== "Workload" ? TargetRef.key(ctx.signal.target) : TargetRef.key(Targets.toTargetRef(Targets.withoutContainer(t)))
}

/** The runbook-level restart guardrails: backoff and the hourly cap per workload. */
export const restartGuardrails = (g: RestartGuard = restartDefaults): ReadonlyArray<Guardrail.Guardrail<never>> => [
  Guardrail.when(
    Guardrail.isKind(RestartPod.KIND),
    Guardrail.backoff({
      name: `restart_backoff(${g.backoffBaseSeconds}s×2^N, cap ${g.backoffCapSeconds}s)`,
      key: (ctx) => `k8s.exit-code.restart:${workloadKey(ctx)}`,
      base: `${g.backoffBaseSeconds} seconds`,
      cap: `${g.backoffCapSeconds} seconds`,
      resetAfter: "1 hour"
    })
  ),
  Guardrail.when(
    Guardrail.isKind(RestartPod.KIND),
    Guardrail.rateLimit({ name: `restarts_per_workload(${g.restartsPerHour}/1h)`, key: (ctx) => `k8s.exit-code.restarts:${workloadKey(ctx)}`, max: g.restartsPerHour, window: "1 hour" })
  )
]

/** Suggested next steps. */
export const nextSteps = (c: Classification.Classification, facts: Fact.Facts<ExitCodeFacts>): ReadonlyArray<string> => {
  const s = Fact.value(facts.subject)
  const where = s ? `${s.pod.metadata.namespace ?? "default"}/${s.pod.metadata.name} container ${s.container}` : "the pod"
  if (c._tag !== "Classified") return [`inspect ${where}: kubectl describe pod, kubectl logs --previous`]
  switch (c.class) {
    case "missing_binary":
      return [`check the command of ${where} against the image's contents (exit 127 / StartError: executable not found)`]
    case "image_auth":
      return [`give ${where} a pull secret with valid credentials for its registry (imagePullSecrets on the pod or its ServiceAccount)`]
    case "config_error":
      return [`create or fix the ConfigMap/Secret ${where} reads; BytePort restarts the pod once it is there`]
    default:
      return [`see the OOM runbook's incident for ${where}`]
  }
}

/** The restart verifier's subject from the applied restart. */
const restartSubject = (ctx: { readonly facts: Fact.Facts<ExitCodeFacts>; readonly applied: ReadonlyArray<{ readonly kind: string; readonly params: { readonly [k: string]: unknown } }> }): PodVerifiers.Subject | undefined => {
  const s = Fact.value(ctx.facts.subject)
  const owner = Fact.value(ctx.facts.owner)
  const restart = [...ctx.applied].reverse().find((a) => a.kind === RestartPod.KIND)
  if (!s || !owner) return undefined
  return {
    namespace: s.pod.metadata.namespace ?? "default",
    workload: { kind: owner.kind, name: owner.name },
    container: s.container,
    replacedUid: restart ? str(restart.params["uid"]) ?? null : null,
    // no restart applied: the kubelet started the container in place, so the pod itself is verified
    ...(restart ? {} : { onlyUid: s.pod.metadata.uid ?? "" }),
    longestRunMs: Classifier.longestPreCrashRunMs(s.pod, s.container)
  }
}

/** Builds the runbook. */
export const make = (o: Options = {}): Runbook.Runbook<ExitCodeFacts, Kube> => {
  const verify = PodVerifiers.restarted<ExitCodeFacts>(restartSubject, o.verify)
  return Runbook.make<ExitCodeFacts, Kube>({
    id: ID,
    family: Family.crashloop,
    description: "Detects pods in crash loop, classifies the exit code (OOMKilled, missing binary, image auth, config error) and restarts them once the cause is gone, with a back-off guard",
    signals,
    precedence: precedenceOf(ID),
    detector: Detector.merge(ID, [
      CrashLoopDetector.make({ namespace: o.namespace, name: `${ID}.crash-loop` }),
      ConfigErrorDetector.make({ namespace: o.namespace, name: `${ID}.config-error` }),
      ImagePullDetector.make({ namespace: o.namespace, name: `${ID}.image-pull` })
    ]),
    diagnose: diagnose(o.probeTimeout),
    classify: Classifier.classify(o.thresholds),
    remediate: (c, facts, signal) => Remediator.plan(c, facts, signal, o.remediation),
    verify: { missing_binary: verify, image_auth: verify, config_error: verify },
    verifySchedule: PodVerifiers.schedule(o.verify),
    guardrails: restartGuardrails(o.restart),
    nextSteps,
    defaultMode: o.defaultMode ?? "dry_run",
    leaseTtl: "30 minutes",
    cooldown: "1 minute"
  })
}

const positiveInt = (key: string, dflt: number) => Settings.positiveInt(key).pipe(Config.withDefault(dflt))

/**
 * The runbook from configuration: `BYTEPORT_EXIT_CODE_MIN_CONFIDENCE` (0.70),
 * `BYTEPORT_EXIT_CODE_WAIT_MINUTES` (10), `BYTEPORT_EXIT_CODE_RESTART_BACKOFF_SECONDS` (30),
 * `BYTEPORT_EXIT_CODE_RESTART_BACKOFF_CAP_SECONDS` (300), `BYTEPORT_EXIT_CODE_RESTARTS_PER_HOUR` (3),
 * `BYTEPORT_POD_VERIFY_MIN_HOLD_SECONDS` (120). The mode is core's `BYTEPORT_MODE_K8S_CRASHLOOP_EXIT_CODE`.
 */
export const fromConfig = (o: Options = {}): Effect.Effect<Runbook.Runbook<ExitCodeFacts, Kube>, Config.ConfigError> =>
  Effect.gen(function*() {
    return make({
      ...o,
      thresholds: yield* Classifier.thresholdsConfig,
      remediation: { ...Remediator.defaults, waitMinutes: yield* positiveInt("BYTEPORT_EXIT_CODE_WAIT_MINUTES", Remediator.defaults.waitMinutes) },
      restart: {
        backoffBaseSeconds: yield* positiveInt("BYTEPORT_EXIT_CODE_RESTART_BACKOFF_SECONDS", restartDefaults.backoffBaseSeconds),
        backoffCapSeconds: yield* positiveInt("BYTEPORT_EXIT_CODE_RESTART_BACKOFF_CAP_SECONDS", restartDefaults.backoffCapSeconds),
        restartsPerHour: yield* positiveInt("BYTEPORT_EXIT_CODE_RESTARTS_PER_HOUR", restartDefaults.restartsPerHour)
      },
      verify: { ...PodVerifiers.defaults, minHoldSeconds: yield* positiveInt("BYTEPORT_POD_VERIFY_MIN_HOLD_SECONDS", PodVerifiers.defaults.minHoldSeconds) }
    })
  })
