/**
 * The plans of `k8s.deploy.failed-rollout`:
 *
 * - do_not_rollback → escalate: the regression predates the rollout (false attribution); the
 *   cluster is not touched.
 * - every other class → one `k8s.rollbackDeployment` to the last-good revision: the plan's
 *   summary is the seed's rollback plan (`kubectl rollout undo deployment/<name> -n <ns>
 *   --to-revision=N`, expected pod churn, estimated duration, the suspect commit SHA and the
 *   tripwire "rollback fails → escalate, no retry"), posted to the ops channel in dry_run.
 *   No last-good revision (revision 1, pruned history, identical template) or a paused
 *   Deployment → escalate with the diagnosis and the SHA, nothing written.
 *
 * @since 0.3.0
 */
import { type Classification, Fact, Plan, type Signal } from "@byteport/core"
import * as RollbackDeployment from "../actions/rollbackDeployment"
import type { RolloutClass } from "../classifiers/rollout"
import type { RolloutFacts } from "../probes/rolloutFacts"
import * as Targets from "../targets/Targets"

/** The runbook id the plans belong to. */
export const RUNBOOK_ID = "k8s.deploy.failed-rollout"

/** The tripwire every rollback plan states. */
export const TRIPWIRE = "rollback fails → escalate at once with the diagnostic bundle and the suspect SHA, no retry"

const duration = (s: number) => (s >= 60 ? `~${Math.ceil(s / 60)} min` : `~${s} s`)

/** The `kubectl rollout undo` command line the plan stands for. */
export const undoCommand = (namespace: string, name: string, revision: number): string => `kubectl rollout undo deployment/${name} -n ${namespace} --to-revision=${revision}`

/** The plan for a classification. */
export const plan = (classification: Classification.Classified, facts: Fact.Facts<RolloutFacts>, signal: Signal.Signal): Plan.Plan => {
  const cls = classification.class as RolloutClass
  const d = Fact.value(facts.deployment)
  const h = Fact.value(facts.history)
  const sha = h?.sha ?? "unknown"
  const where = d ? `Deployment ${d.namespace}/${d.name}` : signal.target.ref
  const bundle = [
    `suspect commit ${sha}${h?.current?.changeCause ? ` (${h.current.changeCause})` : ""}`,
    ...(h?.current ? [`failing revision ${h.current.revision} (ReplicaSet ${h.current.replicaSet}, ${h.current.readyReplicas}/${h.current.replicas} ready)`] : []),
    ...(h && h.changes.length > 0 ? [`template changes: ${h.changes.slice(0, 6).map((c) => c.path).join(", ")}`] : [])
  ]
  if (cls === "do_not_rollback") {
    return Plan.make(RUNBOOK_ID, cls, `${where}: the regression predates the rollout; no rollback`, Plan.escalate(
      `false attribution on ${where}: ${classification.reasons.join("; ")} (suspect commit ${sha})`,
      [...bundle, "look at the dependencies and the Warning events that began before the rollout"]
    ))
  }
  if (!d || !h || !h.current) {
    return Plan.make(RUNBOOK_ID, cls, `${where}: rollout state unknown`, Plan.escalate(`${where}: the Deployment or its rollout history could not be read (suspect commit ${sha})`, bundle))
  }
  if (d.paused) {
    return Plan.make(RUNBOOK_ID, cls, `${where} is paused: no rollback`, Plan.escalate(`${where} is paused (rollout paused by someone on purpose): BytePort neither rolls it back nor resumes it (suspect commit ${sha})`, bundle))
  }
  const lg = h.lastGood
  if (!lg) {
    return Plan.make(RUNBOOK_ID, cls, `${where}: no last-good revision; escalate`, Plan.escalate(`${where}: no rollback target can be safely determined: ${h.noLastGood ?? "no last-good revision"} (suspect commit ${sha})`, bundle))
  }
  const cmd = undoCommand(d.namespace, d.name, lg.revision)
  const summary = [
    `${cmd}`,
    `roll ${where} back from revision ${h.current.revision} (suspect commit ${sha}) to revision ${lg.revision} (${lg.changeCause ?? "no change cause"}; last good: ${lg.rule === "seen-available" ? "seen fully Available by BytePort" : "Ready when the rollout started"})`,
    `expected pod churn: ${lg.churn.create} pod(s) created on ReplicaSet ${lg.replicaSet}, ${lg.churn.delete} deleted from ${h.current.replicaSet}`,
    `estimated duration: ${duration(lg.estimatedSeconds)}`,
    `tripwire: ${TRIPWIRE}`
  ].join("\n")
  const target = Targets.withParent(signal.target)
  return Plan.make(RUNBOOK_ID, cls, summary, Plan.act(RollbackDeployment.action({
    target: target.parent ?? target,
    toRevision: lg.revision,
    fromRevision: h.current.revision,
    resourceVersion: d.resourceVersion,
    failingImages: h.failingImages,
    sha,
    reason: `${cls}: ${classification.reasons[0] ?? ""}`.trim()
  })))
}
