/**
 * Key builders for counted guardrails (`rateLimit`, `perMinuteCap`, `cooldown`, `backoff`).
 * A key names the budget: two guardrails that build the same key share it, across runbooks,
 * hand-offs and agent replicas (the store is shared). Keys are built from the action's
 * `TargetRef` (`kind:ref`, `@<cluster>/kind:ref` in a fleet), its action kind, the runbook or the incident.
 *
 * @example
 * ```ts
 * import { Guardrail } from "@byteport/core"
 * // "1 bump/pod/24h": one budget per target, whatever runbook bumps it
 * Guardrail.rateLimit({ key: Guardrail.keys.perTarget("memory-bump"), max: 1, window: "24 hours" })
 * ```
 *
 * @since 0.1.0
 */
import type { GuardrailContext } from "../Guardrail"
import * as TargetRef from "../TargetRef"

/** A function that builds a store key from the decision context. */
export type KeyFn = (ctx: GuardrailContext) => string

/** One budget per target: `<prefix>:<target kind>:<target ref>`. */
export const perTarget = (prefix: string): KeyFn => (ctx) => `${prefix}:${TargetRef.key(ctx.action.target)}`

/** One budget per target and action kind: `<prefix>:<action kind>:<target kind>:<target ref>`. */
export const perTargetKind = (prefix: string): KeyFn => (ctx) => `${prefix}:${ctx.action.kind}:${TargetRef.key(ctx.action.target)}`

/** One budget per action kind, across all targets: `<prefix>:<action kind>`. */
export const perKind = (prefix: string): KeyFn => (ctx) => `${prefix}:${ctx.action.kind}`

/** One budget per runbook: `<prefix>:<runbook>`. */
export const perRunbook = (prefix: string): KeyFn => (ctx) => `${prefix}:${ctx.runbook}`

/** One budget per runbook and target: `<prefix>:<runbook>:<target kind>:<target ref>`. */
export const perRunbookTarget = (prefix: string): KeyFn => (ctx) => `${prefix}:${ctx.runbook}:${TargetRef.key(ctx.action.target)}`

/** One budget per incident: `<prefix>:<incident id>`. */
export const perIncident = (prefix: string): KeyFn => (ctx) => `${prefix}:${ctx.incidentId}`

/** One budget for everything that uses this key: `<prefix>`. */
export const global = (prefix: string): KeyFn => () => prefix

/**
 * One budget per cluster (fleets): `<prefix>:@<cluster>` for a target that names its cluster,
 * `<prefix>` otherwise. A key without the cluster (`perKind`, `global`) is one budget across
 * every cluster sharing the store ("10 node replacements per hour across the fleet").
 */
export const perCluster = (prefix: string): KeyFn => (ctx) => {
  const cluster = ctx.action.target.cluster ?? ctx.signal.target.cluster
  return cluster === undefined ? prefix : `${prefix}:@${cluster}`
}
