/**
 * The node-replacement remediation step, shared by the node runbooks (k8s.node.not-ready's
 * hardware and memory classes reuse it): a `k8s.requestNodeReplacement` action (its guardrails:
 * the `BYTEPORT_AUTO_REPLACE_NODES` opt-in, providerID, no control plane, 1 in flight and 2 per
 * 24 h per cluster) followed by core's `HandOffs.NodeReplacementRequested` hand-off, awaited. Put
 * it after the drain: the evidence says the node is cordoned and drained. A hand-off nobody owns
 * escalates (the Catalog reports it back to the awaiting parent); a denied or failed reservation
 * escalates with the reason (`stepOrEscalate`).
 *
 * @example
 * ```ts
 * const replace = NodeReplacement.stepOrEscalate({ node: "node-2", cluster: "prod", reason: "MCE", observedAt: signal.observedAt })
 * Plan.make("k8s.node.not-ready", "hardware_cloud_failure", "…", Plan.seq(cordon, drain, replace))
 * ```
 *
 * @since 0.2.0
 */
import { Action, HandOffs, Plan, type Signal } from "@byteport/core"
import { Duration } from "effect"
import * as RequestNodeReplacement from "../actions/requestNodeReplacement"
import * as Targets from "../targets/Targets"

/** Options of the step. */
export interface StepOptions {
  readonly node: string
  readonly cluster: string
  readonly reason: string
  /** When the need was seen (the incident signal's `observedAt`). */
  readonly observedAt: number
  /** How long the parent waits for the child's report (default 30 minutes). */
  readonly await?: Duration.Input
  /** The parent's runbook id, as the hand-off signal's source. */
  readonly source?: string
  /** The node's `spec.providerID`, passed in the evidence so the cloud finds the instance. */
  readonly providerID?: string | null | undefined
}

/** The hand-off signal (evidence: reason, cordoned, drained, providerID when known). */
export const signal = (o: StepOptions): Signal.Signal => ({
  type: HandOffs.NodeReplacementRequested.type,
  target: Targets.node({ cluster: o.cluster, name: o.node }),
  observedAt: o.observedAt,
  evidence: { reason: o.reason, cordoned: true, drained: true, ...(o.providerID ? { providerID: o.providerID } : {}) },
  ...(o.source !== undefined ? { source: o.source } : {})
})

/** The reservation action. */
export const reserve = (o: StepOptions): Action.Action =>
  Action.make({
    kind: RequestNodeReplacement.KIND,
    target: Targets.node({ cluster: o.cluster, name: o.node }),
    params: { node: o.node, reason: o.reason },
    timeoutMs: 30_000,
    description: `reserve a replacement of node ${o.node} (opt-in ${RequestNodeReplacement.FLAG}, providerID, 1 in flight and 2 per 24 h per cluster)`
  })

/** Reserve, then hand off and await the child's report. */
export const step = (o: StepOptions): Plan.Step =>
  Plan.seq(
    Plan.act(reserve(o)),
    Plan.handOff(signal(o), { await: o.await ?? "30 minutes", reason: `replace node ${o.node}: ${o.reason}` })
  )

/** `step`, or an escalation naming why no replacement was requested (denied or failed reservation). */
export const stepOrEscalate = (o: StepOptions, nextSteps: ReadonlyArray<string> = []): Plan.Step =>
  Plan.fallback(
    step(o),
    Plan.escalate(`node ${o.node} needs a replacement (${o.reason}); BytePort did not request one (opt-in off, no providerID, control plane, or the cluster's replacement budget is spent): it stays cordoned`, [
      `replace node ${o.node} by hand, or set ${RequestNodeReplacement.FLAG}=true`,
      ...nextSteps
    ]),
    { on: ["denied", "failed"] }
  )
