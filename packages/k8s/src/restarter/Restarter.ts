/**
 * The Restarter: rollout restarts requested by other runbooks through the IncidentBus.
 *
 * Another package (which never imports `@byteport/k8s`) asks for a restart by publishing a
 * hand-off Signal with a plan step `Plan.handOff(signal, reason)`. The signal type and its
 * evidence Schema live in core (`HandOffs.RolloutRestartRequested`), shared by both sides:
 *
 * ```ts
 * {
 *   type: "k8s.rollout-restart.requested",
 *   target: { kind: "k8s.workload", ref: "<cluster>/<namespace>/<Deployment|StatefulSet|DaemonSet>/<name>" },
 *   observedAt: <epoch ms>,
 *   evidence: { reason: "connection leak since the 14:02 deploy" }   // reason is optional
 * }
 * ```
 *
 * The runbook `k8s.handoff.rollout-restart` owns that signal type. It reads the workload, plans
 * one `k8s.rolloutRestart` action conditional on the resourceVersion it read, and verifies that
 * the controller observed the new template (the restart took effect). The action kind's own
 * guardrails apply (max 1 restart per workload per 30 min; never `byteport.io/protected: "true"`),
 * so a second request within the window is denied and escalated, whoever asks.
 *
 * @since 0.1.0
 */
import { Action, Classifier, Diagnoser, Fact, HandOffs, Plan, Runbook, type Signal, Verifier } from "@byteport/core"
import { type Duration, Effect } from "effect"
import * as RolloutRestart from "../actions/rolloutRestart"
import type { EventRecorder } from "../events/EventRecorder"
import type { Kube } from "../Kube"
import * as Targets from "../targets/Targets"

/** The hand-off signal type this runbook owns (`HandOffs.RolloutRestartRequested.type`, defined in core). */
export const SIGNAL_TYPE = HandOffs.RolloutRestartRequested.type

/** The runbook id. */
export const RUNBOOK_ID = "k8s.handoff.rollout-restart"

/** What the runbook knows about the workload. */
export interface Facts {
  readonly workload: {
    readonly kind: string
    readonly namespace: string
    readonly name: string
    readonly resourceVersion: string
    readonly generation: number
    readonly protected: boolean
  }
  /** The request's evidence, decoded with its core Schema (bad evidence is an Unknown fact). */
  readonly request: HandOffs.Evidence<typeof HandOffs.RolloutRestartRequested>
}

/** Builds a restart request (for callers that may import this package; others build the same JSON). */
export const request = (
  workload: Omit<Targets.Workload, "_tag" | "container">,
  options: { readonly reason?: string; readonly observedAt?: number; readonly parent?: Signal.Signal["parent"] } = {}
): Signal.Signal => ({
  type: SIGNAL_TYPE,
  target: Targets.workload(workload),
  observedAt: options.observedAt ?? Date.now(),
  evidence: options.reason !== undefined ? { reason: options.reason } : {},
  ...(options.parent !== undefined ? { parent: options.parent } : {})
})

const workloadProbe = Diagnoser.probe("workload", (signal: Signal.Signal) =>
  Effect.gen(function*() {
    const w = Targets.withoutContainer(yield* Targets.parseWorkload(signal.target))
    const obj = (yield* RolloutRestart.readWorkload(w)) as { metadata?: { resourceVersion?: string; generation?: number; annotations?: Record<string, string> } }
    return {
      kind: w.kind,
      namespace: w.namespace,
      name: w.name,
      resourceVersion: obj.metadata?.resourceVersion ?? "",
      generation: obj.metadata?.generation ?? 0,
      protected: obj.metadata?.annotations?.[RolloutRestart.PROTECTED] === "true"
    }
  }))

/** Options of the runbook. */
export interface RunbookOptions {
  /** The mode when configuration says nothing (default `dry_run`; `BYTEPORT_MODE_K8S_HANDOFF_ROLLOUT_RESTART` overrides). */
  readonly defaultMode?: Runbook.Runbook["defaultMode"]
  /** When to verify after the restart (default: every 15 s up to 90 s). */
  readonly verifySchedule?: Verifier.VerifySchedule
  /** How long the workload stays leased after an incident (default 1 minute): requests meanwhile are duplicates. */
  readonly cooldown?: Duration.Input
}

/** The `k8s.handoff.rollout-restart` runbook. */
export const runbook = (options: RunbookOptions = {}): Runbook.Runbook<Facts, Kube | EventRecorder> =>
  Runbook.make<Facts, Kube | EventRecorder>({
    id: RUNBOOK_ID,
    family: "k8s.handoff",
    description: "Rollout restart of a workload, requested by another runbook through the IncidentBus",
    signals: [SIGNAL_TYPE],
    // only k8s.workload targets: other platforms' restarters own the same request for theirs
    targetKinds: [Targets.WORKLOAD],
    precedence: 50,
    diagnose: Diagnoser.make<Facts, Kube>({ workload: workloadProbe, request: HandOffs.probe(HandOffs.RolloutRestartRequested) }),
    classify: Classifier.firstMatch([
      Classifier.rule<Facts>()({
        class: "restart_requested",
        confidence: 1,
        needs: ["workload", "request"],
        when: (f) => ({
          matched: f.workload.kind === "Deployment" || f.workload.kind === "StatefulSet" || f.workload.kind === "DaemonSet",
          reasons: [`${f.workload.kind} ${f.workload.namespace}/${f.workload.name} can be rollout-restarted`]
        })
      })
    ]),
    remediate: (_c, facts, signal) =>
      Effect.sync(() => {
        const w = Fact.value(facts.workload)!
        const reason = Fact.value(facts.request)?.reason
        const requested = Targets.parseSync(signal.target)
        const cluster = requested instanceof Targets.InvalidTargetRef ? "default" : requested.cluster
        const target = Targets.workload({ cluster, namespace: w.namespace, kind: w.kind as Targets.WorkloadKind, name: w.name })
        return Plan.make(
          RUNBOOK_ID,
          "restart_requested",
          `rollout restart ${w.kind} ${w.namespace}/${w.name}`,
          Plan.act(
            Action.make({
              kind: RolloutRestart.KIND,
              target,
              params: { resourceVersion: w.resourceVersion, ...(reason !== undefined ? { reason } : {}) },
              precondition: { resourceVersion: w.resourceVersion },
              description: `rollout restart ${w.kind} ${w.namespace}/${w.name}${reason ? ` (${reason})` : ""}`
            })
          )
        )
      }),
    verify: Verifier.fromChecks<Facts, Kube>((ctx) =>
      Effect.gen(function*() {
        const w = Fact.value(ctx.facts.workload)!
        const obj = (yield* RolloutRestart.readWorkload({ _tag: "Workload", cluster: "", namespace: w.namespace, kind: w.kind as Targets.WorkloadKind, name: w.name })) as {
          metadata?: { generation?: number }
          spec?: { template?: { metadata?: { annotations?: Record<string, string> } } }
          status?: { observedGeneration?: number }
        }
        const restartedAt = obj.spec?.template?.metadata?.annotations?.[RolloutRestart.RESTARTED_AT]
        const applied = ctx.outcomes.flatMap((o) => (o.status === "applied" && o.kind === RolloutRestart.KIND ? [String(o.result?.["restartedAt"] ?? "")] : []))
        const generation = obj.metadata?.generation ?? 0
        const observed = obj.status?.observedGeneration ?? 0
        return [
          { name: "template restarted", ok: restartedAt !== undefined && applied.includes(restartedAt), detail: `restartedAt=${restartedAt ?? "none"}` },
          { name: "controller observed the new template", ok: observed >= generation, detail: `observedGeneration ${observed} / generation ${generation}` }
        ]
      })
    ),
    verifySchedule: options.verifySchedule ?? Verifier.every("15 seconds", "90 seconds"),
    nextSteps: (c) =>
      c._tag === "Classified" ? ["check the rollout: kubectl rollout status", "find why the requesting runbook needed a restart"] : ["the target is not a restartable workload"],
    defaultMode: options.defaultMode ?? "dry_run",
    cooldown: options.cooldown ?? "1 minute"
  })
